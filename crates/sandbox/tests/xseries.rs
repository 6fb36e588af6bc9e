//! The X-Series dialect as an independent client sees it: the connect flow with
//! `domain_prefix`, form-body client credentials only, version-cursor paging that matches the
//! truth, the sliding-window limit with an HTTP-date `Retry-After`, and form-encoded webhooks.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected value"
)]

use axum::routing::post;
use axum::{Form, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tillbridge_sandbox::{Sandbox, SandboxConfig};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

struct X {
    base: String,
    http: reqwest::Client,
    client_id: String,
    secret: String,
    merchant: Value,
}

async fn start(time_scale: f64, history_days: u32, registers: u32) -> X {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        Sandbox::new(SandboxConfig {
            seed: 5,
            time_scale,
            ..SandboxConfig::default()
        })
        .serve(listener),
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let clients: Value = http
        .get(format!("{base}/_sandbox/clients"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let x = clients["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["series"] == "x")
        .unwrap()
        .clone();
    let merchant: Value = http
        .post(format!("{base}/_sandbox/merchants"))
        .json(&json!({ "series": "x", "preset": "shop", "history_days": history_days, "sales_per_day": 20, "locations": 2, "registers_per_location": registers }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    X {
        client_id: x["client_id"].as_str().unwrap().into(),
        secret: x["client_secret"].as_str().unwrap().into(),
        base,
        http,
        merchant,
    }
}

impl X {
    fn prefix(&self) -> &str {
        self.merchant["domain_prefix"].as_str().unwrap()
    }

    async fn callback(&self, decision: &str) -> url::Url {
        let form = [
            ("response_type", "code"),
            ("client_id", &self.client_id),
            ("redirect_uri", REDIRECT),
            ("state", "state-123456"),
            (
                "username",
                self.merchant["login"]["username"].as_str().unwrap(),
            ),
            (
                "password",
                self.merchant["login"]["password"].as_str().unwrap(),
            ),
            ("decision", decision),
        ];
        let resp = self
            .http
            .post(format!("{}/xseries/connect", self.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_redirection());
        url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap()
    }

    async fn token(&self) -> Value {
        let callback = self.callback("allow").await;
        let q: HashMap<String, String> = callback.query_pairs().into_owned().collect();
        assert_eq!(q["domain_prefix"], self.prefix());
        assert_eq!(q["state"], "state-123456");
        let url = format!("{}/xseries/{}/api/1.0/token", self.base, self.prefix());
        let form = [
            ("code", q["code"].as_str()),
            ("client_id", &self.client_id),
            ("client_secret", &self.secret),
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
        ];
        self.http
            .post(url)
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Every product of the store, deleted ones included.
    async fn products(&self, token: &str) -> Vec<Value> {
        let page: Value = self
            .get(token, "products?page_size=1000")
            .await
            .json()
            .await
            .unwrap();
        page["data"].as_array().unwrap().clone()
    }

    async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(format!(
                "{}/xseries/{}/api/2.0/{path}",
                self.base,
                self.prefix()
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn connect_and_token_dialect() {
    let x = start(1.0, 1, 1).await;
    let denied = x.callback("deny").await;
    assert!(denied.query().unwrap().contains("error=access_denied"));
    let callback = x.callback("allow").await;
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let url = format!("{}/xseries/{}/api/1.0/token", x.base, x.prefix());
    // Query-string parameters are rejected.
    let r = x
        .http
        .post(format!(
            "{url}?code={code}&client_id={}&client_secret={}&grant_type=authorization_code",
            x.client_id, x.secret
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Basic client auth is not how X-Series takes credentials.
    let r = x
        .http
        .post(&url)
        .basic_auth(&x.client_id, Some(&x.secret))
        .form(&[
            ("code", code.as_str()),
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let form = [
        ("code", code.as_str()),
        ("client_id", &x.client_id),
        ("client_secret", &x.secret),
        ("grant_type", "authorization_code"),
        ("redirect_uri", REDIRECT),
    ];
    let tokens: Value = x
        .http
        .post(&url)
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["expires_in"], 86400);
    assert_eq!(tokens["token_type"], "Bearer");
    let r = x.http.post(&url).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 400, "codes are single use");
    // This client does not rotate: a refresh answers without a refresh token, and the old one keeps working.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let form = [
        ("refresh_token", refresh),
        ("client_id", &x.client_id),
        ("client_secret", &x.secret),
        ("grant_type", "refresh_token"),
    ];
    let again: Value = x
        .http
        .post(&url)
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        again["access_token"].is_string() && again.get("refresh_token").is_none(),
        "{again}"
    );
    let twice: Value = x
        .http
        .post(&url)
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(twice["access_token"].is_string());
    // Personal tokens work as bearer tokens.
    let r = x
        .get(x.merchant["personal_token"].as_str().unwrap(), "outlets")
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn version_paging_matches_the_truth() {
    // Time scale 100 keeps this unpaced client inside the sliding window.
    let x = start(100.0, 20, 1).await;
    let token = x.token().await["access_token"].as_str().unwrap().to_owned();
    let mut after = 0u64;
    let mut ids = std::collections::HashSet::new();
    let mut total_10k = 0i64;
    loop {
        let r = x
            .get(&token, &format!("sales?after={after}&page_size=200"))
            .await;
        assert!(
            r.headers().contains_key("x-ratelimit-limit")
                && r.headers().contains_key("x-ratelimit-remaining")
        );
        let page: Value = r.json().await.unwrap();
        let data = page["data"].as_array().unwrap();
        if data.is_empty() {
            break;
        }
        for sale in data {
            assert!(ids.insert(sale["id"].as_str().unwrap().to_owned()));
            assert!(sale["sale_date"].as_str().unwrap().ends_with("+00:00"));
            for line in sale["line_items"].as_array().unwrap() {
                assert!(
                    line.get("category").is_none() && line["product_id"].is_string(),
                    "lines carry no category"
                );
                if line["status"] != "VOIDED" {
                    let v = |k: &str| -> i64 { crate_decimal(&line[k].to_string()) };
                    total_10k += v("price_total") + v("tax_total");
                }
            }
        }
        after = page["version"]["max"].as_u64().unwrap();
    }
    let truth: Value = x
        .http
        .get(format!(
            "{}/_sandbox/merchants/{}/truth",
            x.base,
            x.merchant["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ids.len() as u64, truth["orders"].as_u64().unwrap());
    assert_eq!(total_10k, truth["total_minor"].as_i64().unwrap() * 100);
}

/// A four-decimal JSON number as ten-thousandths.
fn crate_decimal(raw: &str) -> i64 {
    let neg = raw.starts_with('-');
    let raw = raw.trim_start_matches('-');
    let (int, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let frac = format!("{frac:0<4}");
    let v = int.parse::<i64>().unwrap() * 10_000 + frac[..4].parse::<i64>().unwrap();
    if neg {
        -v
    } else {
        v
    }
}

#[tokio::test]
async fn the_sliding_window_answers_429_with_an_http_date() {
    let x = start(1.0, 1, 1).await;
    let token = x.token().await["access_token"].as_str().unwrap().to_owned();
    let registers: usize = x.merchant["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["registers"].as_array().unwrap().len())
        .sum();
    let limit = 300 * registers + 50;
    let mut last = None;
    for _ in 0..=limit {
        let r = x.get(&token, "outlets").await;
        if r.status() == 429 {
            last = Some(r);
            break;
        }
    }
    let r = last.expect("300 × registers + 50 requests per window");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(r.headers()["x-ratelimit-limit"], limit.to_string().as_str());
    let retry = r.headers()["retry-after"].to_str().unwrap().to_owned();
    assert!(
        retry.ends_with(" GMT") && chrono::DateTime::parse_from_rfc2822(&retry).is_ok(),
        "{retry}"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "error": "Too Many Requests", "message": "Rate limiting enforced" })
    );
}

#[tokio::test]
async fn sale_webhooks_are_form_encoded_and_can_be_duplicated() {
    let x = start(1.0, 1, 1).await;
    let token = x.token().await["access_token"].as_str().unwrap().to_owned();
    let received: Arc<Mutex<Vec<HashMap<String, String>>>> = Arc::default();
    let sink = received.clone();
    let app = Router::new().route(
        "/hook",
        post(move |Form(f): Form<HashMap<String, String>>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(f);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let r = x
        .http
        .post(format!(
            "{}/xseries/{}/api/2.0/webhooks",
            x.base,
            x.prefix()
        ))
        .bearer_auth(&token)
        .json(&json!({ "url": hook_url, "type": "sale.update", "active": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = x
        .http
        .post(format!(
            "{}/xseries/{}/api/2.0/webhooks",
            x.base,
            x.prefix()
        ))
        .bearer_auth(&token)
        .json(&json!({ "url": hook_url, "type": "sale.update" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    x.http
        .post(format!("{}/_sandbox/faults", x.base))
        .json(&json!({ "kind": "duplicate_webhooks", "count": 1 }))
        .send()
        .await
        .unwrap();
    let sales: Value = x
        .http
        .post(format!(
            "{}/_sandbox/merchants/{}/sales",
            x.base,
            x.merchant["id"].as_str().unwrap()
        ))
        .json(&json!({ "count": 1 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for _ in 0..50 {
        if received.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "delivered twice under the duplicate fault");
    assert_eq!(got[0]["type"], "sale.update");
    assert_eq!(got[0]["domain_prefix"], x.prefix());
    let payload: Value = serde_json::from_str(&got[0]["payload"]).unwrap();
    assert_eq!(payload["id"], sales["sales"][0]["id"]);
    assert!(payload["register_sale_products"].is_array());
}

#[tokio::test]
async fn wrong_secrets_and_expired_codes_are_refused() {
    // At 3600× a 10-minute code lives a sixth of a second.
    let x = start(3600.0, 1, 1).await;
    let url = format!("{}/xseries/{}/api/1.0/token", x.base, x.prefix());
    let exchange = |code: String, secret: String| {
        let (http, url, client_id) = (x.http.clone(), url.clone(), x.client_id.clone());
        async move {
            let r = http
                .post(url)
                .form(&[
                    ("code", code.as_str()),
                    ("client_id", &client_id),
                    ("client_secret", &secret),
                    ("grant_type", "authorization_code"),
                    ("redirect_uri", REDIRECT),
                ])
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let code = |cb: url::Url| {
        cb.query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned()
    };
    let (status, body) = exchange(code(x.callback("allow").await), "wrong".into()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let stale = code(x.callback("allow").await);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (status, body) = exchange(stale, x.secret.clone()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}

#[tokio::test]
async fn inventory_records_follow_the_stock_the_store_counts() {
    let x = start(100.0, 1, 1).await;
    let token = x.token().await["access_token"].as_str().unwrap().to_owned();
    let outlet = x.merchant["locations"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let detail: Value = x
        .http
        .get(format!(
            "{}/_sandbox/merchants/{}",
            x.base,
            x.merchant["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sku = detail["menu"][0]["sku"].as_str().unwrap().to_owned();
    let inventory = |after: u64| {
        let (x, token) = (&x, &token);
        async move {
            x.get(token, &format!("inventory?after={after}"))
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    // Nothing is counted yet.
    assert_eq!(inventory(0).await["data"], json!([]));
    let set = |count: Value| {
        let x = &x;
        let body = json!({"location": outlet, "sku": sku, "count": count});
        async move {
            let r = x
                .http
                .put(format!(
                    "{}/_sandbox/merchants/{}/availability",
                    x.base,
                    x.merchant["id"].as_str().unwrap()
                ))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
    };
    set(json!(4)).await;
    let page = inventory(0).await;
    let record = &page["data"][0];
    assert_eq!(record["outlet_id"], outlet.as_str(), "{page}");
    assert_eq!(record["inventory_level"], 4, "{page}");
    let product_id = record["product_id"].as_str().unwrap().to_owned();
    let products: Value = x.get(&token, "products").await.json().await.unwrap();
    let product = products["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == product_id.as_str())
        .unwrap();
    assert_eq!(
        (
            product["sku"].as_str().unwrap(),
            product["has_inventory"].clone()
        ),
        (sku.as_str(), json!(true))
    );
    // A change is a new version: paging after the first sees only it.
    let first = page["version"]["max"].as_u64().unwrap();
    set(json!(1)).await;
    let next = inventory(first).await;
    assert_eq!(next["data"].as_array().unwrap().len(), 1, "{next}");
    assert_eq!(next["data"][0]["inventory_level"], 1);
    assert_eq!(
        next["data"][0]["id"], record["id"],
        "the same record, updated"
    );
    // Lifted: no longer counted.
    set(Value::Null).await;
    assert_eq!(inventory(0).await["data"], json!([]));
}

#[tokio::test]
async fn variant_families_share_a_name_and_name_their_parent() {
    let x = start(100.0, 1, 1).await;
    let token = x.token().await["access_token"].as_str().unwrap().to_owned();
    let products = x.products(&token).await;
    let family: Vec<&Value> = products.iter().filter(|p| p["name"] == "T-Shirt").collect();
    let fields = |p: &Value| {
        (
            p["variant_name"].as_str().unwrap().to_owned(),
            p["variant_options"].clone(),
            p["has_variants"].clone(),
            p["variant_count"].clone(),
            p["handle"].clone(),
        )
    };
    let mut seen: Vec<_> = family.iter().map(|p| fields(p)).collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    let expected: Vec<_> = ["L", "M", "S"]
        .iter()
        .map(|size| {
            (
                format!("T-Shirt / {size}"),
                json!([{"name": "Size", "value": size}]),
                json!(true),
                json!(3),
                json!("t-shirt"),
            )
        })
        .collect();
    assert_eq!(seen, expected);
    // One parent (the small one, which the history sells); the others name it.
    let parents: Vec<&&Value> = family
        .iter()
        .filter(|p| p["variant_parent_id"].is_null())
        .collect();
    assert_eq!(parents.len(), 1, "{family:?}");
    let parent = parents[0];
    assert_eq!(parent["variant_name"], "T-Shirt / S");
    for p in family.iter().filter(|p| p["id"] != parent["id"]) {
        assert_eq!(p["variant_parent_id"], parent["id"], "{p}");
        assert_eq!(p["categories"], parent["categories"], "{p}");
        assert_ne!(p["sku"], parent["sku"], "{p}");
    }
    // A product outside any family says so.
    let cap = products.iter().find(|p| p["name"] == "Cap").unwrap();
    assert_eq!(
        (
            cap["has_variants"].clone(),
            cap["variant_parent_id"].clone(),
            cap["variant_name"].clone(),
            cap["variant_count"].clone()
        ),
        (json!(false), Value::Null, Value::Null, json!(0))
    );

    // A sale of the large one names it on its line, at its own price.
    let large = family
        .iter()
        .find(|p| p["variant_name"] == "T-Shirt / L")
        .unwrap();
    let made: Value = x
        .http
        .post(format!(
            "{}/_sandbox/merchants/{}/sales",
            x.base,
            x.merchant["id"].as_str().unwrap()
        ))
        .json(&json!({"lines": [{"sku": large["sku"], "quantity": 2}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(made.to_string().contains("sales"), "{made}");
    let sales: Value = x
        .get(&token, "sales?page_size=1000")
        .await
        .json()
        .await
        .unwrap();
    let sold: Vec<&Value> = sales["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["line_items"].as_array().unwrap())
        .filter(|l| l["product_id"] == large["id"])
        .collect();
    assert_eq!(sold.len(), 1, "the history sells no child variant");
    // Its unit price before any discount, with the 9 % tax, is the large one's 21.00.
    let (price, discount) = (
        sold[0]["price"].as_f64().unwrap(),
        sold[0]["discount"].as_f64().unwrap(),
    );
    let gross_cents = ((price + discount) * 1.09 * 100.0).round();
    assert_eq!(
        (sold[0]["quantity"].clone(), gross_cents),
        (json!(2), 2100.0)
    );
}

#[tokio::test]
async fn variant_families_are_created_with_their_attributes_and_deleted_whole() {
    let x = start(100.0, 1, 1).await;
    let token = x.token().await["access_token"].as_str().unwrap().to_owned();
    let url = |path: &str| format!("{}/xseries/{}/api/2.0/{path}", x.base, x.prefix());
    let post = |path: &str, body: Value| {
        let (x, token, url) = (&x, &token, url(path));
        async move {
            let r = x
                .http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let attributes: Value = x
        .get(&token, "variant_attributes")
        .await
        .json()
        .await
        .unwrap();
    let size = attributes["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "Size")
        .unwrap()["id"]
        .clone();
    let (status, answer) = post("variant_attributes", json!({"name": "size"})).await;
    assert_eq!(
        (status, answer["error"].clone()),
        (422, json!("Unprocessable Entity"))
    );
    let (status, colour) = post("variant_attributes", json!({"name": "Colour"})).await;
    assert_eq!(status, 200, "{colour}");
    let colour = colour["data"]["id"].clone();
    let categories: Value = x
        .get(&token, "product_categories")
        .await
        .json()
        .await
        .unwrap();
    let category = categories["data"]["categories"][0]["id"].clone();
    let def = |attribute: &Value, value: &str| json!({"attribute_id": attribute, "value": value});

    // Refusals name what is wrong and create nothing.
    let before = x.products(&token).await;
    for (variants, says) in [
        (json!([]), "1 to 200"),
        (
            json!([{"variant_definitions": [def(&json!("nope"), "S")]}]),
            "does not exist",
        ),
        (
            json!([{"variant_definitions": [def(&size, "S")]}, {"variant_definitions": [def(&colour, "Red")]}]),
            "same attributes",
        ),
        (
            json!([{"variant_definitions": [def(&size, "S")]}, {"variant_definitions": [def(&size, "S")]}]),
            "repeats",
        ),
    ] {
        let (status, answer) = post(
            "products",
            json!({"name": "Scarf", "product_category_id": category, "variants": variants}),
        )
        .await;
        assert_eq!(status, 422, "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{answer}"
        );
    }
    let after = x.products(&token).await;
    assert_eq!(before, after);

    // A family of two colours by two sizes; the parent comes first.
    let variants: Vec<Value> = [("Red", "S"), ("Red", "M"), ("Blue", "S"), ("Blue", "M")]
        .iter()
        .map(|(c, s)| {
            json!({"sku": format!("SC-{c}-{s}"), "price_including_tax": if *s == "M" { 25 } else { 22 },
                   "variant_definitions": [def(&colour, c), def(&size, s)]})
        })
        .collect();
    let (status, made) = post(
        "products",
        json!({"name": "Scarf", "product_category_id": category, "variants": variants}),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    let ids: Vec<&str> = made["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 4);
    let products = x.products(&token).await;
    let scarves: Vec<&Value> = products.iter().filter(|p| p["name"] == "Scarf").collect();
    assert_eq!(scarves.len(), 4);
    for p in &scarves {
        let parent = if p["id"] == ids[0] {
            Value::Null
        } else {
            json!(ids[0])
        };
        assert_eq!(p["variant_parent_id"], parent, "{p}");
        assert_eq!(p["variant_count"], 4, "{p}");
    }
    let blue_m = scarves.iter().find(|p| p["sku"] == "SC-Blue-M").unwrap();
    assert_eq!(
        (
            blue_m["variant_name"].clone(),
            blue_m["variant_options"].clone(),
            blue_m["price_including_tax"].clone()
        ),
        (
            json!("Scarf / Blue / M"),
            json!([{"name": "Colour", "value": "Blue"}, {"name": "Size", "value": "M"}]),
            json!(25.0)
        )
    );

    // Deleting a child's family deletes every product of it.
    let r = x
        .http
        .delete(url(&format!(
            "products/{}/all",
            blue_m["id"].as_str().unwrap()
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let products = x.products(&token).await;
    let live = products
        .iter()
        .filter(|p| p["name"] == "Scarf" && p["deleted_at"].is_null())
        .count();
    assert_eq!(live, 0);
}
