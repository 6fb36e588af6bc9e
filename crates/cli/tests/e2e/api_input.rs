use crate::common::*;
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tillbridge::client::ApiClient;

async fn merchant_count(w: &World) -> usize {
    w.api.get("/api/v1/merchants").await.unwrap()["merchants"]
        .as_array()
        .unwrap()
        .len()
}

async fn raw(
    w: &World,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let (status, answer) = send_raw(w, &method, path, content_type, Some(body)).await;
    (StatusCode::from_u16(status).unwrap(), answer)
}

fn assert_error(status: StatusCode, body: &Value, want: u16, code: &str) {
    assert_eq!(status.as_u16(), want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.len() > 10),
        "a message that says what was wrong: {body}"
    );
}

on_both_backends!(
    bad_input_is_a_clear_4xx_and_writes_nothing,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let m = w.merchant().await;
        let before = merchant_count(&w).await;
        let json_ct = Some("application/json");

        let (s, b) = raw(
            &w,
            Method::POST,
            "/api/v1/merchants",
            json_ct,
            b"{\"name\": \"x\",".to_vec(),
        )
        .await;
        assert_error(s, &b, 400, "invalid_request");
        let (s, b) = raw(
            &w,
            Method::POST,
            "/api/v1/merchants",
            json_ct,
            br#"{"name": 5, "timezone": "UTC", "currency": "EUR"}"#.to_vec(),
        )
        .await;
        assert_error(s, &b, 422, "invalid_body");
        let (s, b) = raw(
            &w,
            Method::POST,
            "/api/v1/merchants",
            json_ct,
            br#"{"name": "x", "timezone": "UTC", "currency": "EUR", "extra": 1}"#.to_vec(),
        )
        .await;
        assert_error(s, &b, 422, "invalid_body");
        let (s, b) = raw(
            &w,
            Method::POST,
            "/api/v1/merchants",
            None,
            br#"{"name": "x", "timezone": "UTC", "currency": "EUR"}"#.to_vec(),
        )
        .await;
        assert_error(s, &b, 415, "unsupported_media_type");
        let (s, b) = raw(
            &w,
            Method::POST,
            "/api/v1/merchants",
            json_ct,
            vec![b' '; 2 * 1024 * 1024],
        )
        .await;
        assert_error(s, &b, 413, "body_too_large");
        let (s, b) = raw(
            &w,
            Method::POST,
            "/api/v1/merchants",
            json_ct,
            vec![b'"', 0xff, 0xfe, b'"'],
        )
        .await;
        assert_eq!(s.as_u16() / 100, 4, "{b}");
        for (body, needle) in [
            (
                json!({ "name": "x", "timezone": "Mars/Olympus", "currency": "EUR" }),
                "IANA",
            ),
            (
                json!({ "name": "x", "timezone": "UTC", "currency": "euro" }),
                "ISO 4217",
            ),
            (
                json!({ "name": "", "timezone": "UTC", "currency": "EUR" }),
                "1 to 200",
            ),
        ] {
            let (s, b) = w
                .api
                .send(Method::POST, "/api/v1/merchants", Some(&body))
                .await
                .unwrap();
            assert_error(s, &b, 400, "invalid_request");
            assert!(
                b["error"]["message"].as_str().unwrap().contains(needle),
                "{b}"
            );
        }
        assert_eq!(
            merchant_count(&w).await,
            before,
            "rejected requests wrote nothing"
        );
        let odd = "Robert'); DROP TABLE merchants; -- ☕";
        let created = w
            .api
            .post(
                "/api/v1/merchants",
                &json!({ "name": odd, "timezone": "UTC", "currency": "eur" }),
            )
            .await
            .unwrap();
        assert_eq!(
            w.api
                .get(&format!(
                    "/api/v1/merchants/{}",
                    created["id"].as_str().unwrap()
                ))
                .await
                .unwrap()["name"],
            odd
        );
        assert_eq!(created["currency"], "EUR");

        // Unknown merchant, location and connection; bad query parameters.
        let (s, b) = w
            .api
            .send(Method::GET, "/api/v1/merchants/mer_nope", None)
            .await
            .unwrap();
        assert_error(s, &b, 404, "not_found");
        let (s, b) = w
            .api
            .send(
                Method::POST,
                "/api/v1/merchants/mer_nope/locations",
                Some(&json!({ "name": "x", "timezone": "UTC" })),
            )
            .await
            .unwrap();
        assert_error(s, &b, 404, "not_found");
        let (s, b) = w
            .api
            .send(
                Method::POST,
                &format!("/api/v1/merchants/{m}/locations"),
                Some(&json!({ "name": "x", "timezone": "UTC", "business_day_start": "25:00" })),
            )
            .await
            .unwrap();
        assert_error(s, &b, 400, "invalid_request");
        let (s, b) = w
            .api
            .send(
                Method::PUT,
                &format!("/api/v1/merchants/{m}/locations/loc_nope/mapping"),
                Some(&json!({ "connection_id": "con_x", "pos_location_id": "1" })),
            )
            .await
            .unwrap();
        assert_error(s, &b, 404, "not_found");
        let (s, b) = w
            .api
            .send(
                Method::POST,
                &format!("/api/v1/merchants/{m}/connections"),
                Some(&json!({ "series": "z" })),
            )
            .await
            .unwrap();
        assert_error(s, &b, 400, "invalid_request");
        let (s, b) = w
            .api
            .send(
                Method::GET,
                &format!("/api/v1/merchants/{m}/orders?from=yesterday"),
                None,
            )
            .await
            .unwrap();
        assert_error(s, &b, 400, "invalid_request");
        let (s, b) = w
            .api
            .send(
                Method::GET,
                &format!("/api/v1/merchants/{m}/orders?limit=-5"),
                None,
            )
            .await
            .unwrap();
        assert_error(s, &b, 400, "invalid_request");
        let (s, b) = w
            .api
            .send(
                Method::GET,
                &format!("/api/v1/merchants/{m}/orders?cursor=%%%"),
                None,
            )
            .await
            .unwrap();
        assert_error(s, &b, 400, "invalid_request");
        let (s, b) = w
            .api
            .send(
                Method::GET,
                &format!("/api/v1/merchants/{m}/locations"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(s, 200, "{b}");
        assert!(
            b["locations"].as_array().unwrap().is_empty(),
            "rejected location requests wrote nothing"
        );

        // Missing or wrong keys.
        let anon = ApiClient::new(w.hub.url.as_str(), None);
        let (s, b) = anon
            .send(Method::GET, "/api/v1/merchants", None)
            .await
            .unwrap();
        assert_error(s, &b, 401, "unauthorized");
        let wrong = ApiClient::new(w.hub.url.as_str(), Some("tbk_not_a_real_key"));
        let (s, b) = wrong
            .send(Method::GET, "/api/v1/merchants", None)
            .await
            .unwrap();
        assert_error(s, &b, 401, "unauthorized");
        w.stop().await;
    }
);

/// What the installation key sees of merchant `m`, to prove that a refused request changed
/// nothing.
async fn snapshot(w: &World, m: &str, member: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in [
        format!("/api/v1/merchants/{m}"),
        format!("/api/v1/merchants/{m}/locations"),
        format!("/api/v1/merchants/{m}/connections"),
        format!("/api/v1/merchants/{m}/members"),
        format!("/api/v1/merchants/{m}/members/{member}"),
        format!("/api/v1/merchants/{m}/members/{member}/ledger"),
        format!("/api/v1/merchants/{m}/punch-cards"),
        format!("/api/v1/merchants/{m}/loyalty/program"),
        format!("/api/v1/merchants/{m}/labor/departments"),
        format!("/api/v1/merchants/{m}/labor/settings"),
        format!("/api/v1/merchants/{m}/labor/imports"),
        format!("/api/v1/merchants/{m}/ordering/settings"),
        format!("/api/v1/merchants/{m}/online-orders"),
        format!("/api/v1/merchants/{m}/events?limit=1000"),
        "/api/v1/webhook-endpoints".to_owned(),
        "/api/v1/api-keys".to_owned(),
    ] {
        seen.push(w.api.get(&path).await.unwrap());
    }
    seen
}

/// A merchant with one of everything, so a route that forgot its checks would find something.
struct Furnished {
    m: String,
    connection: String,
    location: String,
    member: String,
    card: String,
    department: String,
    endpoint: String,
    key: String,
}

impl Furnished {
    async fn new(w: &World) -> Furnished {
        let m = w.merchant().await;
        let sm = w.sb.merchant(2, 3).await;
        let connection = w.connect(&m, &sm).await;
        let id = |v: Value| v["id"].as_str().unwrap().to_owned();
        let location = w
            .api
            .get(&format!("/api/v1/merchants/{m}/locations"))
            .await
            .unwrap()["locations"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let member = id(w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/members"),
                &json!({ "email": "b@example.com", "name": "Bea" }),
            )
            .await
            .unwrap());
        let card = id(w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/punch-cards"),
                &json!({ "name": "Coffee card", "reward": "a coffee", "stamps_required": 5, "categories": [{ "name": "Hot Drinks" }] }),
            )
            .await
            .unwrap());
        let department = id(w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/labor/departments"),
                &json!({ "name": "Bar", "timezone": "Europe/Copenhagen", "client_number": sm["locations"][0]["id"] }),
            )
            .await
            .unwrap());
        let endpoint = id(w
            .api
            .post(
                "/api/v1/webhook-endpoints",
                &json!({ "url": "https://example.com/hook", "merchant_id": m }),
            )
            .await
            .unwrap());
        let key = id(w
            .api
            .post(
                "/api/v1/api-keys",
                &json!({ "name": "b", "merchant_id": m }),
            )
            .await
            .unwrap());
        Furnished {
            m,
            connection,
            location,
            member,
            card,
            department,
            endpoint,
            key,
        }
    }

    /// A documented path with this merchant's ids (made-up ones where it has none).
    fn fill(&self, path: &str) -> String {
        let concrete = path
            .replace("{merchant_id}", &self.m)
            .replace("{connection_id}", &self.connection)
            .replace("{location_id}", &self.location)
            .replace("{member_id}", &self.member)
            .replace("{card_id}", &self.card)
            .replace("{department_id}", &self.department)
            .replace("{endpoint_id}", &self.endpoint)
            .replace("{key_id}", &self.key)
            .replace("{date}", "2026-01-05")
            .replace("{sku}", "H001")
            .replace("{order_id}", "ord_b")
            .replace("{reward_id}", "rwd_b")
            .replace("{broadcast_id}", "brd_b")
            .replace("{import_id}", "imp_b")
            .replace("{delivery_id}", "evt_b");
        assert!(
            !concrete.contains('{'),
            "a path parameter of {path} is not filled in"
        );
        concrete
    }

    /// What the installation key sees of the merchant.
    async fn snapshot(&self, w: &World) -> Vec<Value> {
        snapshot(w, &self.m, &self.member).await
    }
}

async fn openapi(w: &World) -> Value {
    reqwest::get(format!("{}api/openapi.json", w.hub.url))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
}

/// A key of merchant A is refused on every documented route that touches merchant B, with the
/// answer a missing merchant gets, before its body is even read; B is unchanged afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merchant_keys_cannot_reach_another_merchant_on_any_route() {
    let w = World::start(Backend::Sqlite).await.unwrap();
    let a = w.merchant().await;
    let furnished = Furnished::new(&w).await;
    let (b, endpoint) = (furnished.m.clone(), furnished.endpoint.clone());
    let key = w
        .api
        .post(
            "/api/v1/api-keys",
            &json!({ "name": "a only", "merchant_id": a }),
        )
        .await
        .unwrap();
    let scoped = ApiClient::new(w.hub.url.as_str(), key["secret"].as_str());
    assert_eq!(
        scoped.get(&format!("/api/v1/merchants/{a}")).await.unwrap()["id"],
        a.as_str()
    );
    let before = furnished.snapshot(&w).await;

    let doc = openapi(&w).await;
    let mut refused = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let concrete = furnished.fill(path);
        for (method, op) in ops.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            // Valid bodies where the route is not under B's id, so only the scope can refuse.
            let body = op.get("requestBody").map(|_| match path.as_str() {
                "/api/v1/webhook-endpoints" => {
                    json!({ "url": "https://example.com/a", "merchant_id": b })
                }
                "/api/v1/merchants" => {
                    json!({ "name": "x", "timezone": "UTC", "currency": "EUR" })
                }
                "/api/v1/api-keys" => json!({ "name": "x", "merchant_id": b }),
                "/api/v1/webhook-endpoints/{endpoint_id}" => json!({ "enabled": false }),
                _ => json!({ "merchant_id": b }),
            });
            let (status, answer) = scoped
                .send(method.clone(), &concrete, body.as_ref())
                .await
                .unwrap();
            let what = format!("{method} {path}: {answer}");
            if path.starts_with("/api/v1/merchants/{merchant_id}")
                || path.starts_with("/api/v1/webhook-endpoints/{endpoint_id}")
            {
                assert_eq!(status, 404, "{what}");
                assert_eq!(answer["error"]["code"], "not_found", "{what}");
                refused += 1;
            } else if path.starts_with("/api/v1/api-keys") {
                assert_eq!(status, 403, "{what}");
                refused += 1;
            } else if method == Method::POST {
                // Creating a merchant, or an endpoint for B.
                assert!(matches!(status.as_u16(), 403 | 404), "{what}");
                refused += 1;
            } else {
                // The lists answer with A's own things only.
                assert_eq!(status, 200, "{what}");
                let text = answer.to_string();
                assert!(!text.contains(&b) && !text.contains(&endpoint), "{what}");
            }
        }
    }
    assert!(refused > 60, "only {refused} routes were tried");
    assert_eq!(
        before,
        furnished.snapshot(&w).await,
        "the refused requests changed nothing of B"
    );

    // Revoked keys stop working.
    w.api
        .call(
            Method::DELETE,
            &format!("/api/v1/api-keys/{}", key["id"].as_str().unwrap()),
            None,
        )
        .await
        .unwrap();
    let (s, body) = scoped
        .send(Method::GET, &format!("/api/v1/merchants/{a}"), None)
        .await
        .unwrap();
    assert_error(s, &body, 401, "unauthorized");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_every_route() {
    let w = World::start(Backend::Sqlite).await.unwrap();
    let doc = openapi(&w).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut count = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            count += 1;
            let concrete = path
                .replace("{merchant_id}", "mer_x")
                .replace("{connection_id}", "con_x")
                .replace("{location_id}", "loc_x")
                .replace("{order_id}", "ord_x")
                .replace("{key_id}", "key_x");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = op.get("requestBody").map(|_| json!({}));
            let (s, b) = w
                .api
                .send(method.clone(), &concrete, body.as_ref())
                .await
                .unwrap();
            assert_ne!(
                s,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not routed"
            );
            assert_ne!(
                b["error"]["code"], "route_not_found",
                "{method} {path} is documented but not routed"
            );
        }
    }
    assert_eq!(count, tillbridge_server::openapi::OPERATIONS.len());
    // And an undocumented path is not routed.
    let (s, b) = w
        .api
        .send(Method::GET, "/api/v1/nothing-here", None)
        .await
        .unwrap();
    assert_error(s, &b, 404, "route_not_found");
    for (path, want) in [("/healthz", 200), ("/readyz", 200), ("/metrics", 200)] {
        assert_eq!(
            reqwest::get(format!(
                "{}{}",
                w.hub.url.as_str().trim_end_matches('/'),
                path
            ))
            .await
            .unwrap()
            .status()
            .as_u16(),
            want,
            "{path}"
        );
    }
    w.stop().await;
}

/// Text that has broken other systems: quotes, SQL, markup, a right-to-left mark, text outside
/// the Basic Multilingual Plane, and length.
fn hostile_text() -> String {
    format!(
        "'; DROP TABLE merchants; -- \"<script>alert(1)</script> \u{202e} 🧾 {}",
        "x".repeat(5_000)
    )
}

/// Percent-encodes everything but unreserved characters, for a path segment or a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A body with every property of `schema` set from `field`.
fn shaped(schema: &Value, field: &dyn Fn(&Value) -> Value) -> Value {
    let mut body = serde_json::Map::new();
    for (prop, s) in schema["properties"].as_object().into_iter().flatten() {
        body.insert(prop.clone(), field(s));
    }
    Value::Object(body)
}

/// Asserts an answer to bad input: never a server error, and a 4xx says what was wrong.
fn answered_clearly(status: u16, body: &Value, what: &str) {
    assert!(status < 500, "{what}: {status} {body}");
    if status >= 400 {
        assert!(
            body["error"]["code"].is_string()
                && body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.len() > 10),
            "{what}: {status} {body}"
        );
    }
}

async fn send_raw(
    w: &World,
    method: &Method,
    path: &str,
    content_type: Option<&str>,
    body: Option<Vec<u8>>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(
            method.clone(),
            format!("{}{}", w.hub.url.as_str().trim_end_matches('/'), path),
        )
        .bearer_auth(w.api.key().unwrap());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(body) = body {
        req = req.body(body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

on_both_backends!(
    every_route_answers_a_bad_input_corpus_with_a_clear_4xx,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let f = Furnished::new(&w).await;
        let doc = openapi(&w).await;
        let json_ct = Some("application/json");
        let before = f.snapshot(&w).await;
        let mut tried = 0;

        // Bodies that are wrong whatever the route: each a 4xx, and nothing is written.
        for (path, ops) in doc["paths"].as_object().unwrap() {
            let concrete = f.fill(path);
            for (method, op) in ops.as_object().unwrap() {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                if op.get("requestBody").is_none() {
                    continue;
                }
                let schema = &doc["components"]["schemas"][op["requestBody"]["content"]
                    ["application/json"]["schema"]["$ref"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()];
                let nul = shaped(schema, &|s| match s["type"].as_str() {
                    Some("string") => json!("a\u{0}b"),
                    _ => Value::Null,
                });
                let floats = shaped(schema, &|s| match s["type"].as_str() {
                    Some("integer") | Some("number") => json!(1e300),
                    Some("string") => json!(12.5),
                    _ => json!([[]]),
                });
                let props = schema["properties"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                let mut corpus: Vec<(&str, Option<&str>, Vec<u8>)> = vec![
                    ("malformed JSON", json_ct, b"{\"a\":".to_vec()),
                    ("an array", json_ct, b"[]".to_vec()),
                    ("a number", json_ct, b"42".to_vec()),
                    ("null", json_ct, b"null".to_vec()),
                    (
                        "invalid UTF-8",
                        json_ct,
                        vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'],
                    ),
                    (
                        "deep nesting",
                        json_ct,
                        [vec![b'['; 10_000], vec![b']'; 10_000]].concat(),
                    ),
                    (
                        "a form body",
                        Some("application/x-www-form-urlencoded"),
                        b"a=1&b=2".to_vec(),
                    ),
                    ("no content type", None, b"{}".to_vec()),
                    (
                        "2 MiB",
                        json_ct,
                        [b"{\"a\":\"".to_vec(), vec![b'x'; 2 << 20], b"\"}".to_vec()].concat(),
                    ),
                ];
                if props.values().any(|p| p["type"] == "string") {
                    corpus.push(("NUL in text", json_ct, nul.to_string().into_bytes()));
                }
                if !props.is_empty() {
                    corpus.push(("wrong types", json_ct, floats.to_string().into_bytes()));
                }
                if schema["required"].as_array().is_some_and(|r| !r.is_empty()) {
                    corpus.push(("an empty object", json_ct, b"{}".to_vec()));
                }
                for (what, ct, body) in corpus {
                    let (status, answer) = send_raw(&w, &method, &concrete, ct, Some(body)).await;
                    let what = format!("{method} {path} with {what}");
                    answered_clearly(status, &answer, &what);
                    assert!(status >= 400, "{what}: {status} {answer}");
                    tried += 1;
                }
            }
        }
        assert_eq!(before, f.snapshot(&w).await, "bad bodies wrote nothing");

        // Hostile ids in the path and hostile query values: never a server error.
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let params: Vec<&str> = op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                for param in params {
                    for id in [
                        encode(&hostile_text()),
                        "%00".to_owned(),
                        encode("../../etc/passwd"),
                        "-1".to_owned(),
                    ] {
                        let hostile = f.fill(&path.replace(&format!("{{{param}}}"), &id));
                        let (status, answer) = send_raw(&w, &method, &hostile, None, None).await;
                        let what = format!(
                            "{method} {path} with `{param}` = {}",
                            &id[..id.len().min(40)]
                        );
                        answered_clearly(status, &answer, &what);
                        if id == "%00" {
                            assert_eq!(status, 400, "{what}: {answer}");
                        }
                        tried += 1;
                    }
                }
                if method != Method::GET {
                    continue;
                }
                let queries: Vec<&str> = op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|p| p["in"] == "query")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                for q in queries {
                    for value in [
                        "-1".to_owned(),
                        "abc".to_owned(),
                        "99999999999999999999999".to_owned(),
                        "2026-13-45T25:61:00Z".to_owned(),
                        encode(&hostile_text()),
                        encode("100%_\\"),
                        "%00".to_owned(),
                    ] {
                        let url = format!("{}?{q}={value}", f.fill(path));
                        let (status, answer) = send_raw(&w, &method, &url, None, None).await;
                        let what = format!("GET {path} with {q}={}", &value[..value.len().min(40)]);
                        answered_clearly(status, &answer, &what);
                        if value == "%00" {
                            assert_eq!(status, 400, "{what}: {answer}");
                        }
                        tried += 1;
                    }
                }
            }
        }
        assert!(tried > 900, "only {tried} requests were tried");
        w.stop().await;
    }
);
