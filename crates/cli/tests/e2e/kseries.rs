use crate::common::*;
use crate::on_both_backends;
use serde_json::{json, Value};

async fn sandbox_webhooks(w: &World, sid: &str) -> Vec<Value> {
    w.sb.api
        .get(&format!("/_sandbox/merchants/{sid}/webhooks"))
        .await
        .unwrap()["webhooks"]
        .as_array()
        .unwrap()
        .clone()
}

async fn post_k(w: &World, c: &str, auth: Option<&str>, key: Option<&str>) -> reqwest::StatusCode {
    let mut request = reqwest::Client::new()
        .post(format!("{}webhooks/lightspeed/k/{c}", w.hub.url))
        .header("content-type", "application/json")
        .body(r#"{"status":"CLOSED","type":"ORDER","businessLocationId":1,"ikentooAccountIdentifier":"A1.1"}"#);
    if let Some(a) = auth {
        request = request.header("authorization", a);
    }
    if let Some(k) = key {
        request = request.header("x-lightspeed-idempotency-key", k);
    }
    request.send().await.unwrap().status()
}

on_both_backends!(
    kseries_webhook_endpoint_is_managed_and_verified,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let sm = w.sb.merchant(5, 20).await;
        let sid = sm["id"].as_str().unwrap().to_owned();
        let m = w.merchant().await;
        let c = w.connect(&m, &sm).await;
        assert_test_connection_ok(&w, &m, &c).await;

        // One endpoint for the connection, with Basic credentials, linked to every mapped
        // business location.
        let hooks = sandbox_webhooks(&w, &sid).await;
        assert_eq!(hooks.len(), 1, "{hooks:?}");
        assert_eq!(hooks[0]["id"], format!("tillbridge-{c}"));
        assert_eq!(
            hooks[0]["url"],
            format!("{}webhooks/lightspeed/k/{c}", w.hub.url)
        );
        assert_eq!(hooks[0]["with_basic_auth"], true);
        let conn = w
            .api
            .get(&format!("/api/v1/merchants/{m}/connections/{c}"))
            .await
            .unwrap();
        let mut mapped: Vec<String> = conn["pos_locations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_owned())
            .collect();
        let mut linked: Vec<String> = hooks[0]["business_locations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.to_string())
            .collect();
        mapped.sort();
        linked.sort();
        assert_eq!(linked, mapped);

        // Account notifications arrive with Basic credentials and an idempotency key.
        live_webhooks_match_truth(&w, &sm, &m, &c).await;

        // Wrong, missing or malformed credentials: 401 and nothing stored.
        let before = deliveries(&w, &m, &c).await;
        for auth in [
            None,
            Some("Basic dGlsbGJyaWRnZTp3cm9uZw=="),
            Some("Basic not-base64"),
            Some("Bearer tillbridge"),
        ] {
            assert_eq!(
                post_k(&w, &c, auth, Some("forged-1")).await,
                401,
                "{auth:?}"
            );
        }
        assert_eq!(
            post_k(
                &w,
                "conn_unknown",
                Some("Basic dGlsbGJyaWRnZTp3cm9uZw=="),
                Some("k")
            )
            .await,
            401
        );
        assert_eq!(deliveries(&w, &m, &c).await, before);

        // Reconnecting registers the same endpoint again (a fresh password), and deliveries
        // keep verifying.
        let start = w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/connections/{c}/reconnect"),
                &json!({}),
            )
            .await
            .unwrap();
        let login = &sm["login"];
        let (status, page) = tillbridge::client::consent(
            start["authorize_url"].as_str().unwrap(),
            login["username"].as_str().unwrap(),
            login["password"].as_str().unwrap(),
            "allow",
        )
        .await
        .unwrap();
        assert!(status.is_success(), "{page}");
        assert_eq!(sandbox_webhooks(&w, &sid).await.len(), 1);
        let before = deliveries(&w, &m, &c).await;
        w.sb.api
            .post(
                &format!("/_sandbox/merchants/{sid}/sales"),
                &json!({ "count": 1 }),
            )
            .await
            .unwrap();
        wait_for_deliveries(&w, &m, &c, before + 1).await;

        // Disconnecting removes the endpoint from Lightspeed.
        disconnect(&w, &m, &c).await;
        assert!(sandbox_webhooks(&w, &sid).await.is_empty());
        w.stop().await;
    }
);
