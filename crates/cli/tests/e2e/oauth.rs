use crate::common::*;
use crate::on_both_backends;
use base64::Engine as _;
use serde_json::{json, Value};
use tillbridge::client::{authorize, open};
use tillbridge_engine::state::{sign, StatePayload};

async fn connections(w: &World, m: &str) -> Vec<Value> {
    w.api
        .get(&format!("/api/v1/merchants/{m}/connections"))
        .await
        .unwrap()["connections"]
        .as_array()
        .unwrap()
        .clone()
}

fn with_state(callback: &str, state: &str) -> String {
    let mut url = url::Url::parse(callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let value = if k == "state" {
                state.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), value)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

fn state_of(callback: &str) -> String {
    url::Url::parse(callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned()
}

async fn start_and_authorize(w: &World, m: &str, sm: &Value) -> String {
    let start = w
        .api
        .post(
            &format!("/api/v1/merchants/{m}/connections"),
            &json!({ "series": "k" }),
        )
        .await
        .unwrap();
    let url = start["authorize_url"].as_str().unwrap();
    let q: Vec<(String, String)> = url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(
        get("code_challenge").unwrap().len(),
        43,
        "base64url SHA-256"
    );
    assert!(get("redirect_uri").unwrap().ends_with("/oauth/callback"));
    authorize(
        url,
        sm["login"]["username"].as_str().unwrap(),
        sm["login"]["password"].as_str().unwrap(),
        "allow",
    )
    .await
    .unwrap()
}

async fn rejected(callback: &str, needle: &str) {
    let (status, page) = open(callback).await.unwrap();
    assert_eq!(status, 400, "{page}");
    assert!(page.contains(needle), "expected `{needle}` in: {page}");
}

on_both_backends!(
    bad_stale_replayed_and_foreign_state_store_nothing,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let sm = w.sb.merchant(2, 5).await;
        let m = w.merchant().await;
        let callback = start_and_authorize(&w, &m, &sm).await;
        let state = state_of(&callback);

        // Missing, garbled and tampered states.
        rejected(&with_state(&callback, ""), "not valid").await;
        rejected(&with_state(&callback, "garbage"), "not valid").await;
        let (body, sig) = state.split_once('.').unwrap();
        let mut payload: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(body)
                .unwrap(),
        )
        .unwrap();
        payload["m"] = json!("mer_someoneelse");
        let forged = format!(
            "{}.{sig}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        rejected(&with_state(&callback, &forged), "not valid").await;
        // Foreign: well-formed, signed with another installation's key.
        let foreign = sign(
            &[9u8; 32],
            &serde_json::from_value::<StatePayload>(payload.clone()).unwrap(),
        );
        rejected(&with_state(&callback, &foreign), "not valid").await;
        // Stale: correctly signed but issued 11 minutes ago.
        let stale_payload = StatePayload {
            m: m.clone(),
            a: payload["a"].as_str().unwrap().into(),
            t: w.clock.now_ms() - 11 * 60 * 1000,
        };
        let stale = sign(&w.hub.engine.vault().derive("oauth-state"), &stale_payload);
        rejected(&with_state(&callback, &stale), "expired").await;
        assert!(
            connections(&w, &m).await.is_empty(),
            "nothing may be stored for a bad state"
        );

        // The genuine callback still works once; its replay is refused and stores nothing more.
        let (status, page) = open(&callback).await.unwrap();
        assert!(status.is_success() && page.contains("Connected"), "{page}");
        rejected(&callback, "already used").await;
        let list = connections(&w, &m).await;
        assert_eq!(list.len(), 1);
        let events = w
            .api
            .get(&format!(
                "/api/v1/merchants/{m}/events?type=connection.connected"
            ))
            .await
            .unwrap();
        assert_eq!(events["events"].as_array().unwrap().len(), 1);
        w.stop().await;
    }
);

on_both_backends!(expired_verifier_is_refused, |backend| async move {
    let Some(w) = World::start(backend).await else {
        return;
    };
    let sm = w.sb.merchant(2, 5).await;
    let m = w.merchant().await;
    let callback = start_and_authorize(&w, &m, &sm).await;
    w.clock.advance(chrono::Duration::minutes(11));
    rejected(&callback, "expired").await;
    assert!(connections(&w, &m).await.is_empty());
    w.stop().await;
});

on_both_backends!(denied_consent_stores_nothing, |backend| async move {
    let Some(w) = World::start(backend).await else {
        return;
    };
    let sm = w.sb.merchant(2, 5).await;
    let m = w.merchant().await;
    let start = w
        .api
        .post(
            &format!("/api/v1/merchants/{m}/connections"),
            &json!({ "series": "k" }),
        )
        .await
        .unwrap();
    let callback = authorize(
        start["authorize_url"].as_str().unwrap(),
        sm["login"]["username"].as_str().unwrap(),
        sm["login"]["password"].as_str().unwrap(),
        "deny",
    )
    .await
    .unwrap();
    assert!(callback.contains("error=access_denied"), "{callback}");
    rejected(&callback, "did not grant access").await;
    assert!(connections(&w, &m).await.is_empty());
    w.stop().await;
});

on_both_backends!(
    reconnect_and_disconnect_keep_one_record,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let sm = w.sb.merchant(10, 10).await;
        let m = w.merchant().await;
        let c = w.connect(&m, &sm).await;
        assert!(w.drain().await.is_empty());
        let orders = w.summary(&m).await["orders"].clone();

        // Disconnect needs the typed confirmation.
        let (status, body) = w
            .api
            .send(
                reqwest::Method::DELETE,
                &format!("/api/v1/merchants/{m}/connections/{c}"),
                Some(&json!({ "confirm": "yes" })),
            )
            .await
            .unwrap();
        assert_eq!(status, 400, "{body}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Lightspeed"));
        let conn = disconnect(&w, &m, &c).await;
        assert_eq!(conn["status"], "disabled");
        let mut db = w.hub.engine.store().conn().await.unwrap();
        let row = tillbridge_store::connections::get_connection(&mut db, &m, &c)
            .await
            .unwrap()
            .unwrap();
        assert!(
            row.access_token_enc.is_none() && row.refresh_token_enc.is_none(),
            "credentials must be erased"
        );
        drop(db);
        assert_eq!(w.summary(&m).await["orders"], orders, "history is kept");
        let (status, body) = w
            .api
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/merchants/{m}/connections/{c}/sync"),
                Some(&json!({})),
            )
            .await
            .unwrap();
        assert_eq!(
            (status.as_u16(), body["error"]["code"].as_str()),
            (409, Some("connection_disabled"))
        );

        // Reconnect updates the same record and resumes the flow without duplicates.
        let start = w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/connections/{c}/reconnect"),
                &json!({}),
            )
            .await
            .unwrap();
        assert_eq!(start["connection_id"], c.as_str());
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
        assert_eq!(connections(&w, &m).await.len(), 1);
        w.sb.api
            .post(
                &format!("/_sandbox/merchants/{}/sales", sm["id"].as_str().unwrap()),
                &json!({ "count": 3 }),
            )
            .await
            .unwrap();
        assert!(w.drain().await.is_empty());
        assert_matches_truth(&w.summary(&m).await, &w.sb.truth(&sm).await);
        w.stop().await;
    }
);
