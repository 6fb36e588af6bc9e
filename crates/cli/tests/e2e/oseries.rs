use crate::common::*;
use crate::on_both_backends;
use serde_json::json;
use std::time::Duration;

on_both_backends!(
    oseries_backfill_signed_webhooks_and_truth,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let sm = w.sb.merchant_o(20, 40).await;
        let sid = sm["id"].as_str().unwrap().to_owned();
        let m = w.merchant().await;
        let c = w.connect(&m, &sm).await;
        let conn = w
            .api
            .get(&format!("/api/v1/merchants/{m}/connections/{c}"))
            .await
            .unwrap();
        assert_eq!(conn["status"], "connected", "{conn}");
        assert_test_connection_ok(&w, &m, &c).await;
        assert!(conn["pos_locations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["timezone"] == "America/New_York"));
        assert!(w.drain().await.is_empty());
        assert_matches_truth(&w.connection_summary(&m, &c).await, &w.sb.truth(&sm).await);

        // A signed check.closed webhook triggers the sync before the next poll.
        let new =
            w.sb.api
                .post(
                    &format!("/_sandbox/merchants/{sid}/sales"),
                    &json!({ "count": 2, "customer_email": "Diner@Example.com" }),
                )
                .await
                .unwrap();
        w.sb.api
            .post(
                &format!("/_sandbox/merchants/{sid}/sales"),
                &json!({ "kind": "void", "of": new["sales"][0]["id"] }),
            )
            .await
            .unwrap();
        for _ in 0..100 {
            if deliveries(&w, &m, &c).await >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            deliveries(&w, &m, &c).await,
            3,
            "two closed checks and one update were delivered"
        );
        assert!(w.drain().await.is_empty());
        let ours = w.connection_summary(&m, &c).await;
        assert_matches_truth(&ours, &w.sb.truth(&sm).await);
        assert!(ours["by_customer"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["email"] == "diner@example.com"));

        // A delivery with a wrong signature is refused and stores nothing.
        let resp = reqwest::Client::new()
            .post(format!("{}webhooks/lightspeed/o/{c}", w.hub.url))
            .header("x-oseries-signature", "sha256=00ff")
            .body(r#"{"id":"forged","event":"check.closed","data":{}}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        assert_eq!(deliveries(&w, &m, &c).await, 3);

        // Webhooks duplicated, out of order and dropped.
        live_webhooks_match_truth(&w, &sm, &m, &c).await;
        w.stop().await;
    }
);
