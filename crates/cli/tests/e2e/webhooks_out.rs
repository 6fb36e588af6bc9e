//! Outbound webhooks to the embedding app: Standard Webhooks signatures checked with an
//! independent HMAC, event-type filters, the retry schedule with `Retry-After`, the attempt
//! log, manual redelivery, secret rotation, disabling after days of failure, and merchant
//! scoping of endpoints.

use crate::common::*;
use crate::on_both_backends;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// What the receiver got, and the answers it gives next (then 200).
#[derive(Default)]
pub(crate) struct Inbox {
    pub(crate) received: Vec<(HeaderMap, String)>,
    answers: VecDeque<(u16, Option<u64>)>,
    always_fail: bool,
}

pub(crate) type Shared = Arc<Mutex<Inbox>>;

pub(crate) async fn receiver() -> (String, Shared) {
    let inbox: Shared = Arc::default();
    let state = inbox.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let state = state.clone();
            async move {
                let mut inbox = state.lock().unwrap();
                inbox.received.push((headers, body));
                let (status, retry_after) = match inbox.answers.pop_front() {
                    Some(a) => a,
                    None if inbox.always_fail => (500, None),
                    None => (200, None),
                };
                let mut out = HeaderMap::new();
                if let Some(s) = retry_after {
                    out.insert("retry-after", s.to_string().parse().unwrap());
                }
                (AxumStatus::from_u16(status).unwrap(), out, "ok")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, inbox)
}

/// Verifies a `webhook-signature` header the way a receiver would, from the spec alone.
pub(crate) fn signed_by(headers: &HeaderMap, body: &str, secret: &str) -> bool {
    let id = headers["webhook-id"].to_str().unwrap();
    let ts = headers["webhook-timestamp"].to_str().unwrap();
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.{body}").as_bytes());
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    headers["webhook-signature"]
        .to_str()
        .unwrap()
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

async fn new_member(w: &World, m: &str, email: &str) {
    w.api
        .post(
            &format!("/api/v1/merchants/{m}/members"),
            &json!({ "email": email }),
        )
        .await
        .unwrap();
    assert!(w.drain().await.is_empty());
}

async fn deliveries(w: &World, endpoint: &str) -> Vec<Value> {
    w.api
        .get(&format!("/api/v1/webhook-endpoints/{endpoint}/deliveries"))
        .await
        .unwrap()["deliveries"]
        .as_array()
        .unwrap()
        .clone()
}

on_both_backends!(
    outbound_webhooks_are_signed_retried_and_disabled,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let m = w.merchant().await;
        let (url, inbox) = receiver().await;

        // Bad input is refused with what to fix.
        for (body, needle) in [
            (json!({"url": "ftp://app.example/hook"}), "http"),
            (
                json!({"url": url, "event_types": ["Loyalty Members"]}),
                "event_types",
            ),
            (json!({"url": url, "merchant_id": "mer_nope"}), "mer_nope"),
        ] {
            let (status, err) = w
                .api
                .send(Method::POST, "/api/v1/webhook-endpoints", Some(&body))
                .await
                .unwrap();
            assert!(status.is_client_error(), "{body}: {status} {err}");
            assert!(
                err["error"]["message"].as_str().unwrap().contains(needle),
                "{err}"
            );
        }
        let created = w
            .api
            .post(
                "/api/v1/webhook-endpoints",
                &json!({"url": url, "merchant_id": m, "event_types": ["loyalty.member_created"]}),
            )
            .await
            .unwrap();
        let endpoint = created["id"].as_str().unwrap().to_owned();
        let secret = created["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"), "{created}");
        let shown = w
            .api
            .get(&format!("/api/v1/webhook-endpoints/{endpoint}"))
            .await
            .unwrap();
        assert!(
            shown.get("secret").is_none(),
            "the secret is shown once: {shown}"
        );

        // An event of the filtered type arrives signed; another type does not.
        new_member(&w, &m, "ada@example.com").await;
        w.api
            .put(
                &format!("/api/v1/merchants/{m}/loyalty/program"),
                &json!({"earning": {"mode": "step", "step_minor": 1000, "reward_minor": 100}}),
            )
            .await
            .unwrap();
        assert!(w.drain().await.is_empty());
        let events = w
            .api
            .get(&format!(
                "/api/v1/merchants/{m}/events?type=loyalty.member_created"
            ))
            .await
            .unwrap();
        let event_id = events["events"][0]["id"].as_str().unwrap().to_owned();
        {
            let inbox = inbox.lock().unwrap();
            assert_eq!(inbox.received.len(), 1);
            let (headers, body) = &inbox.received[0];
            assert_eq!(headers["webhook-id"], event_id.as_str());
            assert!(signed_by(headers, body, &secret), "{headers:?}");
            assert!(!signed_by(headers, &body.replace("ada", "eve"), &secret));
            let body: Value = serde_json::from_str(body).unwrap();
            assert_eq!(body["type"], "loyalty.member_created");
            assert_eq!(body["data"]["merchant_id"], m.as_str());
        }

        // 500, then 429 asking for ten minutes, then 200: retried on schedule, all logged.
        inbox
            .lock()
            .unwrap()
            .answers
            .extend([(500, None), (429, Some(600))]);
        new_member(&w, &m, "bob@example.com").await;
        let all = deliveries(&w, &endpoint).await;
        let pending = all[0].clone();
        assert_eq!(
            (pending["status"].clone(), pending["attempt_count"].clone()),
            (json!("pending"), json!(1)),
            "{all:?}"
        );
        let log = pending["attempts"].as_array().unwrap();
        let wait = pending["next_attempt_at"].as_i64().unwrap() - log[0]["at"].as_i64().unwrap();
        assert!((4_500..=5_500).contains(&wait), "5 s ± 10 %: {pending}");
        assert_eq!(
            w.metric("tillbridge_webhook_deliveries_retrying").await,
            Some(1)
        );
        assert_eq!(
            w.metric("tillbridge_webhook_endpoints_disabled").await,
            Some(0)
        );
        w.clock.advance(chrono::Duration::seconds(6));
        assert!(w.drain().await.is_empty());
        let pending = deliveries(&w, &endpoint).await[0].clone();
        let log = pending["attempts"].as_array().unwrap();
        assert_eq!(log.len(), 2, "{pending}");
        assert!(
            pending["next_attempt_at"].as_i64().unwrap() - log[1]["at"].as_i64().unwrap()
                >= 600_000,
            "Retry-After is honoured: {pending}"
        );
        w.clock.advance(chrono::Duration::minutes(11));
        assert!(w.drain().await.is_empty());
        let done = deliveries(&w, &endpoint).await[0].clone();
        assert_eq!(done["status"], "delivered", "{done}");
        let codes: Vec<i64> = done["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["status_code"].as_i64().unwrap())
            .collect();
        assert_eq!(codes, [500, 429, 200]);
        assert_eq!(inbox.lock().unwrap().received.len(), 4);

        // Sent again by hand: the same message id, so the receiver can tell it is a repeat.
        let first = deliveries(&w, &endpoint).await[1].clone();
        let (status, _) = w
            .api
            .send(
                Method::POST,
                &format!(
                    "/api/v1/webhook-endpoints/{endpoint}/deliveries/{}/redeliver",
                    first["id"].as_str().unwrap()
                ),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::ACCEPTED);
        assert!(w.drain().await.is_empty());
        {
            let inbox = inbox.lock().unwrap();
            assert_eq!(inbox.received.len(), 5);
            assert_eq!(inbox.received[4].0["webhook-id"], event_id.as_str());
        }

        // A rotated secret: both the new and the old one sign for a day.
        let rotated = w
            .api
            .post(
                &format!("/api/v1/webhook-endpoints/{endpoint}/rotate-secret"),
                &json!({}),
            )
            .await
            .unwrap();
        let new_secret = rotated["secret"].as_str().unwrap().to_owned();
        assert_ne!(new_secret, secret);
        new_member(&w, &m, "cy@example.com").await;
        {
            let inbox = inbox.lock().unwrap();
            let (headers, body) = inbox.received.last().unwrap();
            assert!(signed_by(headers, body, &new_secret) && signed_by(headers, body, &secret));
        }
        w.clock.advance(chrono::Duration::hours(25));
        new_member(&w, &m, "dee@example.com").await;
        {
            let inbox = inbox.lock().unwrap();
            let (headers, body) = inbox.received.last().unwrap();
            assert!(signed_by(headers, body, &new_secret) && !signed_by(headers, body, &secret));
        }

        // Failing for five days: disabled, pending deliveries stopped, nothing more sent.
        inbox.lock().unwrap().always_fail = true;
        new_member(&w, &m, "eve@example.com").await;
        w.clock.advance(chrono::Duration::days(5));
        assert!(w.drain().await.is_empty());
        let view = w
            .api
            .get(&format!("/api/v1/webhook-endpoints/{endpoint}"))
            .await
            .unwrap();
        assert_eq!(view["enabled"], false, "{view}");
        assert!(
            view["disabled_reason"].as_str().unwrap().contains("5 days"),
            "{view}"
        );
        assert_eq!(deliveries(&w, &endpoint).await[0]["status"], "failed");
        assert_eq!(
            w.metric("tillbridge_webhook_endpoints_disabled").await,
            Some(1)
        );
        assert_eq!(
            w.metric("tillbridge_webhook_deliveries{status=\"failed\"}")
                .await,
            Some(1)
        );
        assert_eq!(
            w.metric("tillbridge_webhook_deliveries_retrying").await,
            Some(0)
        );
        let sent = inbox.lock().unwrap().received.len();
        new_member(&w, &m, "fay@example.com").await;
        w.clock.advance(chrono::Duration::hours(1));
        assert!(w.drain().await.is_empty());
        assert_eq!(inbox.lock().unwrap().received.len(), sent);
        let view = w
            .api
            .send(
                Method::PATCH,
                &format!("/api/v1/webhook-endpoints/{endpoint}"),
                Some(&json!({"enabled": true})),
            )
            .await
            .unwrap()
            .1;
        assert_eq!(
            (view["enabled"].clone(), view["failing_since"].clone()),
            (json!(true), Value::Null),
            "{view}"
        );
        w.stop().await;
    }
);

on_both_backends!(
    webhook_endpoints_are_scoped_by_merchant,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let (m1, m2) = (w.merchant().await, w.merchant().await);
        let (url, inbox) = receiver().await;
        let theirs = w
            .api
            .post(
                "/api/v1/webhook-endpoints",
                &json!({"url": url, "merchant_id": m1}),
            )
            .await
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // The installation's endpoint hears every merchant.
        w.api
            .post(
                "/api/v1/webhook-endpoints",
                &json!({"url": url, "event_types": ["loyalty.*"]}),
            )
            .await
            .unwrap();
        let key = w
            .api
            .post(
                "/api/v1/api-keys",
                &json!({"name": "m2 app", "merchant_id": m2}),
            )
            .await
            .unwrap();
        let m2_api = tillbridge::client::ApiClient::new(
            w.hub.url.as_str(),
            Some(key["secret"].as_str().unwrap()),
        );
        // A merchant key sees and touches only its merchant's endpoints.
        let (status, _) = m2_api
            .send(
                Method::GET,
                &format!("/api/v1/webhook-endpoints/{theirs}"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = m2_api
            .send(
                Method::DELETE,
                &format!("/api/v1/webhook-endpoints/{theirs}"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = m2_api
            .send(
                Method::POST,
                "/api/v1/webhook-endpoints",
                Some(&json!({"url": url, "merchant_id": m1})),
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND);
        let own = m2_api
            .post("/api/v1/webhook-endpoints", &json!({"url": url}))
            .await
            .unwrap();
        assert_eq!(own["merchant_id"], m2.as_str(), "{own}");
        let listed = m2_api.get("/api/v1/webhook-endpoints").await.unwrap();
        assert_eq!(
            listed["webhook_endpoints"].as_array().unwrap().len(),
            1,
            "{listed}"
        );
        assert_eq!(
            w.api.get("/api/v1/webhook-endpoints").await.unwrap()["webhook_endpoints"]
                .as_array()
                .unwrap()
                .len(),
            3
        );

        // m2's event: its own endpoint and the installation's; m1's endpoint hears nothing.
        new_member(&w, &m2, "zed@example.com").await;
        let merchants: Vec<String> = inbox
            .lock()
            .unwrap()
            .received
            .iter()
            .map(|(_, b)| {
                serde_json::from_str::<Value>(b).unwrap()["data"]["merchant_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(merchants, [m2.clone(), m2.clone()]);
        assert!(deliveries(&w, &theirs).await.is_empty());
        w.stop().await;
    }
);

/// Pages through `GET /api/v1/events` until it is caught up; returns every event in order.
async fn drain_stream(
    api: &tillbridge::client::ApiClient,
    query: &str,
    after: &mut i64,
) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let page = api
            .get(&format!("/api/v1/events?limit=7&after={after}{query}"))
            .await
            .unwrap();
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            assert_eq!(
                page["next_after"], *after,
                "an empty page keeps the position"
            );
            return seen;
        }
        *after = page["next_after"].as_i64().unwrap();
        assert_eq!(Some(*after), events.last().unwrap()["stream_seq"].as_i64());
        seen.extend(events.iter().cloned());
    }
}

on_both_backends!(
    the_event_stream_orders_every_merchants_events_once_while_they_are_written,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let a = w.merchant().await;
        let b = w.merchant().await;
        // Writers keep appending to both merchants while a poller follows the stream.
        let writer = |m: String, api: tillbridge::client::ApiClient| async move {
            for i in 0..40 {
                api.post(
                    &format!("/api/v1/merchants/{m}/members"),
                    &json!({ "email": format!("p{i}@example.com"), "name": format!("P {i}") }),
                )
                .await
                .unwrap();
            }
        };
        let writers = [
            tokio::spawn(writer(a.clone(), w.api.clone())),
            tokio::spawn(writer(b.clone(), w.api.clone())),
        ];
        let mut after = 0;
        let mut seen = Vec::new();
        while !writers.iter().all(|h| h.is_finished()) {
            seen.extend(drain_stream(&w.api, "", &mut after).await);
        }
        for h in writers {
            h.await.unwrap();
        }
        seen.extend(drain_stream(&w.api, "", &mut after).await);

        // Every event of both logs, once, each merchant's in its own order.
        let mut expected = 0;
        for m in [&a, &b] {
            let log = w
                .api
                .get(&format!("/api/v1/merchants/{m}/events?limit=1000"))
                .await
                .unwrap()["events"]
                .as_array()
                .unwrap()
                .clone();
            let ours: Vec<&Value> = seen
                .iter()
                .filter(|e| e["merchant_id"] == m.as_str())
                .collect();
            assert_eq!(
                ours.len(),
                log.len(),
                "every event of {m} is in the stream once"
            );
            for (s, l) in ours.iter().zip(&log) {
                assert_eq!(
                    (&s["seq"], &s["id"], &s["type"]),
                    (&l["seq"], &l["id"], &l["type"])
                );
            }
            expected += log.len();
        }
        assert!(expected >= 80, "{expected}");
        assert_eq!(seen.len(), expected);
        let numbers: Vec<i64> = seen
            .iter()
            .map(|e| e["stream_seq"].as_i64().unwrap())
            .collect();
        assert!(
            numbers.windows(2).all(|p| p[0] < p[1]),
            "stream numbers only grow"
        );

        // One merchant's part of the stream, by filter or by a merchant key.
        let mut after = 0;
        let only_b = drain_stream(&w.api, &format!("&merchant_id={b}"), &mut after).await;
        assert!(only_b.iter().all(|e| e["merchant_id"] == b.as_str()));
        let key = w
            .api
            .post(
                "/api/v1/api-keys",
                &json!({ "name": "b", "merchant_id": b }),
            )
            .await
            .unwrap();
        let scoped = tillbridge::client::ApiClient::new(w.hub.url.as_str(), key["secret"].as_str());
        let mut after = 0;
        assert_eq!(drain_stream(&scoped, "", &mut after).await, only_b);
        let (status, body) = scoped
            .send(
                Method::GET,
                &format!("/api/v1/events?merchant_id={a}"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        // A position past the end is simply caught up; a negative one is refused.
        let page = w
            .api
            .get(&format!(
                "/api/v1/events?after={}",
                numbers[numbers.len() - 1]
            ))
            .await
            .unwrap();
        assert!(page["events"].as_array().unwrap().is_empty());
        let (status, body) = w
            .api
            .send(Method::GET, "/api/v1/events?after=-1", None)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("after"),
            "{body}"
        );
        w.stop().await;
    }
);
