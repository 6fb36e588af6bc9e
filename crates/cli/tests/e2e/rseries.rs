use crate::common::*;
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(
    rseries_backfill_incremental_and_rotation_match_truth,
    |backend| async move {
        let Some(db) = Db::create(backend).await else {
            return;
        };
        let w = World::with(start_sandbox(1.0).await, db).await;
        let sm = w.sb.merchant_r(20, 40).await;
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
            (Some("connected"), sm["account_id"].as_str())
        );
        assert_eq!(conn["pos_locations"][0]["timezone"], "America/Chicago");
        assert_test_connection_ok(&w, &m, &c).await;

        let failures = w.drain().await;
        assert!(failures.is_empty(), "{failures:?}");
        let truth = w.sb.truth(&sm).await;
        assert_matches_truth(&w.connection_summary(&m, &c).await, &truth);
        let stats = w.sb.stats().await;
        let requests = stats["requests"]["r"]["requests"].as_u64().unwrap();
        assert_eq!(
            stats["requests"]["r"]["rate_limited"], 0,
            "paced inside the bucket and the burst limiter: {stats}"
        );
        eprintln!(
            "R-Series backfill: {} orders in {requests} requests ({:.1} per 1,000 orders)",
            truth["orders"],
            requests as f64 * 1000.0 / truth["orders"].as_f64().unwrap()
        );

        // Live sales, a refund and a void; then a refresh (rotation with delayed revocation) before
        // the incremental sync reads them.
        let new =
            w.sb.api
                .post(
                    &format!("/_sandbox/merchants/{sid}/sales"),
                    &json!({ "count": 4, "customer_email": "R.Shopper@Example.com" }),
                )
                .await
                .unwrap();
        w.sb.api
            .post(
                &format!("/_sandbox/merchants/{sid}/sales"),
                &json!({ "kind": "refund", "of": new["sales"][0]["id"], "line_index": 0 }),
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
        let before = w.sb.stats().await;
        w.clock.advance(chrono::Duration::minutes(58));
        sync(&w, &m, &[&c]).await;
        let after = w.sb.stats().await;
        assert_eq!(
            after["refreshes"].as_u64().unwrap() - before["refreshes"].as_u64().unwrap(),
            1
        );
        let ours = w.connection_summary(&m, &c).await;
        assert_matches_truth(&ours, &w.sb.truth(&sm).await);
        assert!(ours["by_customer"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["email"] == "r.shopper@example.com"));
        w.stop().await;
    }
);
