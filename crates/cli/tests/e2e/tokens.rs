use crate::common::*;
use crate::on_both_backends;
use serde_json::json;
use tillbridge_engine::{Engine, EngineError};
use tillbridge_store::Store;

on_both_backends!(concurrent_callers_share_one_refresh, |backend| async move {
    let Some(w) = World::start(backend).await else {
        return;
    };
    let sm = w.sb.merchant(2, 5).await;
    let m = w.merchant().await;
    let c = w.connect(&m, &sm).await;
    // A second process on the same database: the lease must serialise across engines.
    let other = Engine::new(
        w.hub.engine.config().clone(),
        Store::connect(&w.db.url).await.unwrap(),
        w.hub.engine.vault().clone(),
        w.clock.clone(),
    )
    .unwrap();
    let before = w.sb.stats().await;
    // 58 minutes later the 60-minute token is inside the 5-minute refresh buffer.
    w.clock.advance(chrono::Duration::minutes(58));
    let mut calls = Vec::new();
    for i in 0..8 {
        let engine = if i % 2 == 0 {
            w.hub.engine.clone()
        } else {
            other.clone()
        };
        let (m, c) = (m.clone(), c.clone());
        calls.push(tokio::spawn(
            async move { engine.access_token(&m, &c).await },
        ));
    }
    let mut tokens = Vec::new();
    for call in calls {
        let (token, _) = call.await.unwrap().expect("every caller gets a token");
        tokens.push(token.expose().to_owned());
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 1, "all callers share the refreshed token");
    let after = w.sb.stats().await;
    assert_eq!(
        after["refreshes"].as_u64().unwrap() - before["refreshes"].as_u64().unwrap(),
        1,
        "exactly one refresh call"
    );
    assert_eq!(
        after["refresh_rejected"], before["refresh_rejected"],
        "no invalid_grant"
    );
    // The refreshed token works.
    w.api
        .post(
            &format!("/api/v1/merchants/{m}/connections/{c}/test"),
            &json!({}),
        )
        .await
        .unwrap();
    other.store().close().await;
    w.stop().await;
});

on_both_backends!(
    revoked_credentials_need_reauth_and_reconnect_resumes,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let sm = w.sb.merchant(5, 10).await;
        let m = w.merchant().await;
        let c = w.connect(&m, &sm).await;
        assert!(w.drain().await.is_empty());
        // The merchant revokes access (password change): access and refresh tokens die.
        w.sb.fault(json!({ "kind": "revoke_tokens", "merchant": sm["id"] }))
            .await;
        w.sb.api
            .post(
                &format!("/_sandbox/merchants/{}/sales", sm["id"].as_str().unwrap()),
                &json!({ "count": 2 }),
            )
            .await
            .unwrap();
        request_sync(&w, &m, &c).await;
        let failures = w.drain().await;
        assert!(
            !failures.is_empty() && failures.iter().all(|f| f.contains("re-authorization")),
            "{failures:?}"
        );
        let conn = w
            .api
            .get(&format!("/api/v1/merchants/{m}/connections/{c}"))
            .await
            .unwrap();
        assert_eq!(conn["status"], "needs_reauth", "{conn}");
        assert!(
            conn["streams"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["state"] == "paused"),
            "{conn}"
        );
        let events = w
            .api
            .get(&format!(
                "/api/v1/merchants/{m}/events?type=connection.needs_reauth"
            ))
            .await
            .unwrap();
        assert_eq!(events["events"].as_array().unwrap().len(), 1);
        assert!(matches!(
            w.hub.engine.access_token(&m, &c).await,
            Err(EngineError::NeedsReauth(_))
        ));
        // Paused streams stay paused.
        assert!(w.drain().await.is_empty());

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
        assert!(status.is_success(), "{page}");
        assert!(w.drain().await.is_empty());
        assert_matches_truth(&w.summary(&m).await, &w.sb.truth(&sm).await);
        w.stop().await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_secrets_are_not_stored_in_plaintext() {
    let w = World::start(Backend::Sqlite).await.unwrap();
    let sm = w.sb.merchant(3, 5).await;
    let m = w.merchant().await;
    let c = w.connect(&m, &sm).await;
    assert!(w.drain().await.is_empty());
    let (access, _) = w.hub.engine.access_token(&m, &c).await.unwrap();
    let mut db = w.hub.engine.store().conn().await.unwrap();
    let row = tillbridge_store::connections::get_connection(&mut db, &m, &c)
        .await
        .unwrap()
        .unwrap();
    drop(db);
    let sealed_refresh = row.refresh_token_enc.clone().unwrap();
    assert!(
        sealed_refresh.starts_with("tbv1:")
            && row
                .access_token_enc
                .as_deref()
                .unwrap()
                .starts_with("tbv1:")
    );
    let refresh = w
        .hub
        .engine
        .vault()
        .open(&sealed_refresh, &format!("connection/{c}/refresh"))
        .unwrap();
    let secrets = [
        access.expose().to_owned(),
        refresh.expose().to_owned(),
        w.sb.client_secret.clone(),
    ];
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(w.db.dir()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(bytes.len() > 10_000, "the database files were read");
    for s in &secrets {
        assert!(s.len() > 20);
        assert!(
            !bytes.windows(s.len()).any(|win| win == s.as_bytes()),
            "a secret was found in plaintext in the database files"
        );
    }
    // API output never carries them either.
    let view = w
        .api
        .get(&format!("/api/v1/merchants/{m}/connections/{c}"))
        .await
        .unwrap()
        .to_string();
    for s in &secrets {
        assert!(!view.contains(s.as_str()));
    }
    w.stop().await;
}

on_both_backends!(
    idle_connections_are_kept_alive_daily,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let sm = w.sb.merchant(1, 5).await;
        let m = w.merchant().await;
        let c = w.connect(&m, &sm).await;
        assert_eq!(
            w.hub.engine.keep_alive().await.unwrap(),
            0,
            "just connected: nothing to do"
        );
        let before = w.sb.stats().await["refreshes"].as_u64().unwrap();
        w.clock.advance(chrono::Duration::hours(25));
        assert_eq!(w.hub.engine.keep_alive().await.unwrap(), 1);
        assert_eq!(
            w.sb.stats().await["refreshes"].as_u64().unwrap(),
            before + 1
        );
        assert_eq!(
            w.hub.engine.keep_alive().await.unwrap(),
            0,
            "refreshed within the day"
        );
        // The rotated refresh token was stored: the connection still works.
        let conn = w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/connections/{c}/test"),
                &json!({}),
            )
            .await
            .unwrap();
        assert_eq!(conn["status"], "connected");
        assert!(conn["last_error"].is_null(), "{conn}");
        w.stop().await;
    }
);
