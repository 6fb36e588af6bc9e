use crate::common::*;
use crate::on_both_backends;
use serde_json::{json, Value};

/// The store's webhook subscriptions, as the sandbox lists them to the store owner.
async fn store_webhooks(w: &World, sm: &Value) -> Value {
    reqwest::Client::new()
        .get(format!(
            "{}/xseries/{}/api/2.0/webhooks",
            w.sb.url,
            sm["domain_prefix"].as_str().unwrap()
        ))
        .bearer_auth(sm["personal_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

on_both_backends!(
    xseries_backfill_webhooks_and_polling_match_truth,
    |backend| async move {
        let Some(db) = Db::create(backend).await else {
            return;
        };
        // Time scale 60: the 5-minute window lasts 5 seconds, so the backfill meets the limit.
        let sb = start_sandbox(60.0).await;
        let w = World::with(sb, db).await;
        let sm = w.sb.merchant_x(30, 60).await;
        let sid = sm["id"].as_str().unwrap().to_owned();
        let m = w.merchant().await;
        let c = w.connect(&m, &sm).await;
        let conn = w
            .api
            .get(&format!("/api/v1/merchants/{m}/connections/{c}"))
            .await
            .unwrap();
        assert_eq!(
            (conn["status"].as_str(), conn["account_id"].as_str()),
            (Some("connected"), sm["domain_prefix"].as_str())
        );
        assert_test_connection_ok(&w, &m, &c).await;

        let failures = w.drain().await;
        assert!(failures.is_empty(), "{failures:?}");
        let truth = w.sb.truth(&sm).await;
        assert_matches_truth(&w.connection_summary(&m, &c).await, &truth);
        let stats = w.sb.stats().await;
        let requests = stats["requests"]["x"]["requests"].as_u64().unwrap();
        assert_eq!(
            stats["requests"]["x"]["rate_limited"], 0,
            "the backfill kept inside the window: {stats}"
        );
        eprintln!(
            "X-Series backfill: {} orders in {requests} requests ({:.1} per 1,000 orders)",
            truth["orders"],
            requests as f64 * 1000.0 / truth["orders"].as_f64().unwrap()
        );

        // The hub subscribed to sale.update on the store.
        let hooks = store_webhooks(&w, &sm).await;
        let hook_url = hooks["data"][0]["url"]
            .as_str()
            .expect("a webhook subscription")
            .to_owned();
        assert!(
            hook_url.starts_with(w.hub.url.as_str().trim_end_matches('/')),
            "{hook_url}"
        );

        // Live sales, a refund and a void arrive by webhook and trigger a sync before the next poll.
        let new =
            w.sb.api
                .post(
                    &format!("/_sandbox/merchants/{sid}/sales"),
                    &json!({ "count": 3, "customer_email": "Shopper@Example.com" }),
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
        w.sb.api
            .post(
                &format!("/_sandbox/merchants/{sid}/sales"),
                &json!({ "kind": "void", "of": new["sales"][1]["id"] }),
            )
            .await
            .unwrap();
        wait_for_deliveries(&w, &m, &c, 5).await;
        assert!(w.drain().await.is_empty());
        assert_matches_truth(&w.connection_summary(&m, &c).await, &w.sb.truth(&sm).await);

        // A variant sold names its line by its own name, under its family's category.
        let detail =
            w.sb.api
                .get(&format!("/_sandbox/merchants/{sid}"))
                .await
                .unwrap();
        let large = detail["menu"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == "T-Shirt / L")
            .unwrap()
            .clone();
        let sale =
            w.sb.api
                .post(
                    &format!("/_sandbox/merchants/{sid}/sales"),
                    &json!({ "lines": [{ "sku": large["sku"], "quantity": 2 }] }),
                )
                .await
                .unwrap();
        wait_for_deliveries(&w, &m, &c, 6).await;
        assert!(w.drain().await.is_empty());
        let id = sale["sales"][0]["id"].as_str().unwrap();
        let order = crate::loyalty::all_orders(&w, &m)
            .await
            .into_iter()
            .find(|o| o["external_id"] == id)
            .expect("the variant's sale synced");
        let line = &order["lines"][0];
        assert_eq!(
            [
                &line["sku"],
                &line["name"],
                &line["category"],
                &line["quantity"],
                &line["unit_price_minor"]
            ],
            [
                &large["sku"],
                &json!("T-Shirt / L"),
                &json!("Apparel"),
                &json!(2000),
                &json!(2100)
            ],
            "{order}"
        );

        let before = deliveries(&w, &m, &c).await;
        // A forged webhook URL is refused and stores nothing.
        let forged = format!(
            "{}webhooks/lightspeed/x/{c}/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            w.hub.url
        );
        let resp = reqwest::Client::new()
            .post(&forged)
            .form(&[("payload", r#"{"id":"x"}"#)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        assert_eq!(deliveries(&w, &m, &c).await, before);

        // A second channel on the same merchant: each connection matches its own truth, and the
        // merchant's summary is the sum of both.
        let ksm = w.sb.merchant(5, 10).await;
        let kc = w.connect(&m, &ksm).await;
        assert!(w.drain().await.is_empty());
        let k_summary = w.connection_summary(&m, &kc).await;
        assert_matches_truth(&k_summary, &w.sb.truth(&ksm).await);
        let x_summary = w.connection_summary(&m, &c).await;
        assert_matches_truth(&x_summary, &w.sb.truth(&sm).await);
        let all = w.summary(&m).await;
        assert_eq!(
            all["orders"].as_i64().unwrap(),
            k_summary["orders"].as_i64().unwrap() + x_summary["orders"].as_i64().unwrap()
        );

        // Webhooks duplicated, out of order and dropped.
        live_webhooks_match_truth(&w, &sm, &m, &c).await;

        // Disconnecting removes the hub's subscription from the store.
        let conn = disconnect(&w, &m, &c).await;
        assert_eq!(conn["status"], "disabled");
        let hooks = store_webhooks(&w, &sm).await;
        assert_eq!(hooks["data"], json!([]), "{hooks}");
        w.stop().await;
    }
);

on_both_backends!(
    personal_token_connection_switches_to_oauth_keeping_its_data,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let sm = w.sb.merchant_x(5, 20).await;
        let m = w.merchant().await;
        let prefix = sm["domain_prefix"].as_str().unwrap();
        let (status, body) = w
            .api
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/merchants/{m}/connections/personal-token"),
                Some(&json!({ "series": "x", "domain_prefix": prefix, "token": "lsxs_pt_wrong" })),
            )
            .await
            .unwrap();
        assert_eq!(status, 400, "{body}");
        let conn = w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/connections/personal-token"),
                &json!({ "series": "x", "domain_prefix": prefix, "token": sm["personal_token"] }),
            )
            .await
            .unwrap();
        assert_eq!(
            (conn["status"].as_str(), conn["auth_kind"].as_str()),
            (Some("connected"), Some("personal_token"))
        );
        let c = conn["id"].as_str().unwrap().to_owned();
        w.map_all(&m, &conn).await;
        assert!(w.drain().await.is_empty());
        assert_matches_truth(&w.connection_summary(&m, &c).await, &w.sb.truth(&sm).await);
        // Personal tokens are never refreshed, not even by the daily keep-alive.
        w.clock.advance(chrono::Duration::hours(25));
        assert_eq!(w.hub.engine.keep_alive().await.unwrap(), 0);

        // Enable OAuth: the same connection, its data kept.
        let start = w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/connections/{c}/reconnect"),
                &json!({}),
            )
            .await
            .unwrap();
        let (status, page) = tillbridge::client::consent(
            start["authorize_url"].as_str().unwrap(),
            sm["login"]["username"].as_str().unwrap(),
            sm["login"]["password"].as_str().unwrap(),
            "allow",
        )
        .await
        .unwrap();
        assert!(
            status.is_success() && page.contains("Reconnected"),
            "{page}"
        );
        let list = w
            .api
            .get(&format!("/api/v1/merchants/{m}/connections"))
            .await
            .unwrap();
        assert_eq!(list["connections"].as_array().unwrap().len(), 1);
        assert_eq!(list["connections"][0]["auth_kind"], "oauth");
        w.sb.api
            .post(
                &format!("/_sandbox/merchants/{}/sales", sm["id"].as_str().unwrap()),
                &json!({ "count": 2 }),
            )
            .await
            .unwrap();
        w.clock.advance(chrono::Duration::seconds(61));
        assert!(w.drain().await.is_empty());
        assert_matches_truth(&w.connection_summary(&m, &c).await, &w.sb.truth(&sm).await);
        w.stop().await;
    }
);

on_both_backends!(
    a_location_mapped_while_the_account_feed_runs_restarts_it,
    |backend| async move {
        let Some(db) = Db::create(backend).await else {
            return;
        };
        let sb = start_sandbox(60.0).await;
        let w = World::with(sb, db).await;
        // Four pages of sales over two outlets, each request slowed so the feed is mid-run.
        let sm = w.sb.merchant_x(60, 60).await;
        w.sb.fault(json!({ "kind": "latency", "latency_ms": 300, "merchant": sm["id"] }))
            .await;
        let m = w.merchant().await;
        let conn = w.connect_unmapped(&m, &sm).await;
        let c = conn["id"].as_str().unwrap().to_owned();
        let pos = conn["pos_locations"].as_array().unwrap().clone();
        assert_eq!(pos.len(), 2);
        w.map_one(&m, &conn, &pos[0]).await;

        let engine = w.hub.engine.clone();
        let run = tokio::spawn(async move { engine.run_until_idle().await });
        // Once the feed has written a page for the first outlet, the second outlet is mapped.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let view = w
                .api
                .get(&format!("/api/v1/merchants/{m}/connections/{c}"))
                .await
                .unwrap();
            let feed = view["streams"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["kind"] == "orders")
                .cloned()
                .unwrap_or(Value::Null);
            if feed["state"] == "running" && feed["orders_seen"].as_i64().unwrap_or(0) > 0 {
                assert_eq!(
                    feed["phase"], "backfill",
                    "the feed is still mid-run: {feed}"
                );
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the feed never ran: {view}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        w.map_one(&m, &conn, &pos[1]).await;
        run.await.unwrap().unwrap();
        assert!(w.drain().await.is_empty());

        // Both outlets' whole history is there, each sale once.
        assert_matches_truth(&w.connection_summary(&m, &c).await, &w.sb.truth(&sm).await);
        w.stop().await;
    }
);
