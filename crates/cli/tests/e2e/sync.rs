use crate::common::*;
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(backfill_and_incremental_match_truth, |backend| async move {
    let Some(w) = World::start(backend).await else {
        return;
    };
    let sm = w.sb.merchant(45, 30).await;
    let m = w.merchant().await;
    let c = w.connect(&m, &sm).await;
    let failures = w.drain().await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_matches_truth(&w.summary(&m).await, &w.sb.truth(&sm).await);

    let conn = w
        .api
        .get(&format!("/api/v1/merchants/{m}/connections/{c}"))
        .await
        .unwrap();
    assert_eq!(conn["status"], "connected");
    for s in conn["streams"].as_array().unwrap() {
        assert_eq!(s["phase"], "incremental", "{s}");
    }

    // Live sales, a refund and a void of an earlier sale, then an incremental sync.
    let sid = sm["id"].as_str().unwrap();
    let new =
        w.sb.api
            .post(
                &format!("/_sandbox/merchants/{sid}/sales"),
                &json!({ "count": 5, "customer_email": "  New.Member@Example.COM " }),
            )
            .await
            .unwrap();
    let first = new["sales"][0]["id"].as_str().unwrap();
    w.sb.api
        .post(
            &format!("/_sandbox/merchants/{sid}/sales"),
            &json!({ "kind": "refund", "of": first, "line_index": 0 }),
        )
        .await
        .unwrap();
    let second = new["sales"][1]["id"].as_str().unwrap();
    w.sb.api
        .post(
            &format!("/_sandbox/merchants/{sid}/sales"),
            &json!({ "kind": "void", "of": second }),
        )
        .await
        .unwrap();
    sync(&w, &m, &[&c]).await;
    let ours = w.summary(&m).await;
    assert_matches_truth(&ours, &w.sb.truth(&sm).await);
    let member = ours["by_customer"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == "new.member@example.com")
        .expect("normalised e-mail");
    assert_eq!(
        member["orders"], 7,
        "5 sales, a refund and a void carry the customer"
    );

    // A re-sync of unchanged data writes nothing and emits no events.
    let before = w
        .api
        .get(&format!(
            "/api/v1/merchants/{m}/events?after=0&limit=1000&type=order.created"
        ))
        .await
        .unwrap();
    sync(&w, &m, &[&c]).await;
    let after = w
        .api
        .get(&format!(
            "/api/v1/merchants/{m}/events?after=0&limit=1000&type=order.created"
        ))
        .await
        .unwrap();
    assert_eq!(
        before["events"].as_array().unwrap().len(),
        after["events"].as_array().unwrap().len()
    );
    assert_eq!(w.summary(&m).await, ours);

    // Keyset paging through the API returns every order exactly once.
    let total = ours["orders"].as_i64().unwrap();
    let mut seen = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cur) => format!("/api/v1/merchants/{m}/orders?limit=500&cursor={cur}"),
            None => format!("/api/v1/merchants/{m}/orders?limit=500"),
        };
        let page = w.api.get(&path).await.unwrap();
        seen += page["orders"].as_array().unwrap().len() as i64;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen, total,
        "keyset paging returns every order exactly once"
    );
    w.stop().await;
});

on_both_backends!(
    rides_out_rate_limit_storms_and_server_errors,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let sm = w.sb.merchant(40, 20).await;
        let m = w.merchant().await;
        let c = w.connect(&m, &sm).await;
        // The counters are the process's; other tests in it may add to them meanwhile.
        let throttled = w
            .metric("tillbridge_lightspeed_throttled_total")
            .await
            .unwrap();
        let lag =
            format!("tillbridge_sync_lag_seconds{{merchant_id=\"{m}\",connection_id=\"{c}\"}}");
        assert_eq!(
            w.metric(&lag).await,
            None,
            "no lag before the first run finished"
        );
        w.sb.fault(json!({ "kind": "rate_limit_storm", "count": 5, "retry_after": 1, "merchant": sm["id"] })).await;
        w.sb.fault(
            json!({ "kind": "server_error", "status": 503, "count": 3, "merchant": sm["id"] }),
        )
        .await;
        let failures = w.drain().await;
        assert!(failures.is_empty(), "{failures:?}");
        assert_matches_truth(&w.summary(&m).await, &w.sb.truth(&sm).await);
        let stats = w.sb.stats().await;
        assert!(
            stats["requests"]["k"]["rate_limited"].as_u64().unwrap() >= 5,
            "{stats}"
        );
        assert!(
            stats["requests"]["k"]["server_errors"].as_u64().unwrap() >= 3,
            "{stats}"
        );
        let now = w
            .metric("tillbridge_lightspeed_throttled_total")
            .await
            .unwrap();
        assert!(now >= throttled + 5, "{throttled} → {now}");
        assert!(
            w.metric("tillbridge_lightspeed_failures_total")
                .await
                .unwrap()
                >= 3
        );
        let lag = w
            .metric(&lag)
            .await
            .expect("the connection's lag once synced");
        assert!((0..60).contains(&lag), "{lag}");
        assert!(w.metric("tillbridge_jobs_due").await.is_some());
        w.stop().await;
    }
);

on_both_backends!(malformed_responses_are_clear_errors, |backend| async move {
    let Some(w) = World::start(backend).await else {
        return;
    };
    let sm = w.sb.merchant(20, 10).await;
    let m = w.merchant().await;
    let c = w.connect(&m, &sm).await;
    w.sb.fault(json!({ "kind": "malformed", "count": 1, "merchant": sm["id"] }))
        .await;
    let failures = w.drain().await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("could not be read"), "{}", failures[0]);
    let conn = w
        .api
        .get(&format!("/api/v1/merchants/{m}/connections/{c}"))
        .await
        .unwrap();
    let log = w
        .api
        .get(&format!("/api/v1/merchants/{m}/connections/{c}/log"))
        .await
        .unwrap();
    // On a slow machine the drain can outlast the 5 s backoff, and the stream then recovers
    // within it; otherwise the connection shows the error.
    let recovered = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["message"] == "sync recovered");
    if !recovered {
        assert_eq!(conn["status"], "error", "{conn}");
        assert!(conn["last_error"]
            .as_str()
            .unwrap()
            .contains("could not be read"));
    }
    assert!(
        log["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["level"] == "error" && e["message"].as_str().unwrap().contains("retrying")),
        "{log}"
    );
    // The failed stream retries after its backoff and recovers.
    w.clock.advance(chrono::Duration::minutes(1));
    assert!(w.drain().await.is_empty());
    assert_matches_truth(&w.summary(&m).await, &w.sb.truth(&sm).await);
    let conn = w
        .api
        .get(&format!("/api/v1/merchants/{m}/connections/{c}"))
        .await
        .unwrap();
    assert_eq!(conn["status"], "connected", "{conn}");
    w.stop().await;
});

on_both_backends!(
    catalog_streams_list_every_series_categories,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let m = w.merchant().await;
        let mut expected = Vec::new();
        for sm in [
            w.sb.merchant(2, 5).await,
            w.sb.merchant_x(2, 5).await,
            w.sb.merchant_r(2, 5).await,
            w.sb.merchant_o(2, 5).await,
        ] {
            let c = w.connect(&m, &sm).await;
            let mut cats: Vec<(String, String, String)> = sm["categories"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| {
                    (
                        c.clone(),
                        k["id"].as_str().unwrap().to_owned(),
                        k["name"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            assert!(!cats.is_empty());
            expected.append(&mut cats);
        }
        assert!(w.drain().await.is_empty());
        let listed = w
            .api
            .get(&format!("/api/v1/merchants/{m}/categories"))
            .await
            .unwrap();
        let mut got: Vec<(String, String, String)> = listed["categories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["connection_id"].as_str().unwrap().to_owned(),
                    k["external_id"].as_str().unwrap().to_owned(),
                    k["name"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        got.sort();
        expected.sort();
        assert_eq!(got, expected);

        // One connection's list, and a clear 404 for a connection that is not the merchant's.
        let one = &expected[0].0;
        let listed = w
            .api
            .get(&format!(
                "/api/v1/merchants/{m}/categories?connection_id={one}"
            ))
            .await
            .unwrap();
        assert!(listed["categories"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| &k["connection_id"] == one));
        let (status, _) = w
            .api
            .send(
                reqwest::Method::GET,
                &format!("/api/v1/merchants/{m}/categories?connection_id=conn_nope"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, 404);

        // Every connection shows its catalog stream caught up.
        let conns = w
            .api
            .get(&format!("/api/v1/merchants/{m}/connections"))
            .await
            .unwrap();
        for conn in conns["connections"].as_array().unwrap() {
            let catalog = conn["streams"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["kind"] == "catalog")
                .expect("a catalog stream");
            assert_eq!(catalog["phase"], "incremental", "{catalog}");
            assert!(catalog["last_error"].is_null(), "{catalog}");
        }
        w.stop().await;
    }
);
