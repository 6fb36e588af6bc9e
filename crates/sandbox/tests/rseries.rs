//! The R-Series dialect as an independent client sees it: OAuth with PKCE and JWT access
//! tokens, form/multipart/JSON token bodies, rotation with delayed revocation, strings
//! everywhere and single children as objects, cursor pages that match the truth, and the
//! leaky bucket's headers and 429s.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected value"
)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use tillbridge_sandbox::{Sandbox, SandboxConfig};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

struct R {
    base: String,
    http: reqwest::Client,
    client_id: String,
    secret: String,
    merchant: Value,
}

async fn start(time_scale: f64, history_days: u32) -> R {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        Sandbox::new(SandboxConfig {
            seed: 9,
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
    let r = clients["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["series"] == "r")
        .unwrap()
        .clone();
    let merchant: Value = http
        .post(format!("{base}/_sandbox/merchants"))
        .json(&json!({ "series": "r", "preset": "shop", "history_days": history_days, "sales_per_day": 20, "locations": 2, "registers_per_location": 1 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    R {
        client_id: r["client_id"].as_str().unwrap().into(),
        secret: r["client_secret"].as_str().unwrap().into(),
        base,
        http,
        merchant,
    }
}

impl R {
    async fn code(&self, challenge: &str) -> String {
        let form = [
            ("response_type", "code"),
            ("client_id", &self.client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "employee:all"),
            ("state", "st"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            (
                "username",
                self.merchant["login"]["username"].as_str().unwrap(),
            ),
            (
                "password",
                self.merchant["login"]["password"].as_str().unwrap(),
            ),
            ("decision", "allow"),
        ];
        let resp = self
            .http
            .post(format!("{}/rseries/auth/oauth/authorize", self.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
        location
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned()
    }

    fn token_url(&self) -> String {
        format!("{}/rseries/auth/oauth/token", self.base)
    }

    async fn tokens(&self) -> Value {
        let verifier = "q".repeat(64);
        let code = self
            .code(&URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())))
            .await;
        let body = json!({ "client_id": self.client_id, "client_secret": self.secret, "code": code, "grant_type": "authorization_code", "code_verifier": verifier });
        self.http
            .post(self.token_url())
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/rseries/API/V3/{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    fn account(&self) -> &str {
        self.merchant["account_id"].as_str().unwrap()
    }
}

#[tokio::test]
async fn oauth_dialect_with_pkce_jwt_and_delayed_revocation() {
    let r = start(1.0, 1).await;
    let verifier = "v".repeat(50);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    // Wrong verifier, then multipart with the right one.
    let code = r.code(&challenge).await;
    let bad = r
        .http
        .post(r.token_url())
        .form(&[
            ("client_id", r.client_id.as_str()),
            ("client_secret", &r.secret),
            ("code", &code),
            ("grant_type", "authorization_code"),
            ("code_verifier", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let code = r.code(&challenge).await;
    let fields = [
        ("client_id", r.client_id.as_str()),
        ("client_secret", &r.secret),
        ("code", &code),
        ("grant_type", "authorization_code"),
        ("code_verifier", &verifier),
    ];
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--XBOUNDARY\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str("--XBOUNDARY--\r\n");
    let resp = r
        .http
        .post(r.token_url())
        .header("content-type", "multipart/form-data; boundary=XBOUNDARY")
        .body(body)
        .send()
        .await
        .unwrap();
    let tokens: Value = resp.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["acct"], r.account());
    assert_eq!(claims["aud"], r.client_id.as_str());

    // Refresh: a new pair; the old refresh token still works until the new access token is used.
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |t: String| {
        let r = &r;
        async move {
            r.http
                .post(r.token_url())
                .form(&[
                    ("client_id", r.client_id.as_str()),
                    ("client_secret", &r.secret),
                    ("refresh_token", &t),
                    ("grant_type", "refresh_token"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let second: Value = refresh(first.clone()).await.json().await.unwrap();
    assert_ne!(second["refresh_token"], tokens["refresh_token"]);
    assert_eq!(
        refresh(first.clone()).await.status(),
        200,
        "not yet revoked"
    );
    let third: Value = refresh(first.clone()).await.json().await.unwrap();
    assert_eq!(
        r.get(third["access_token"].as_str().unwrap(), "Account.json")
            .await
            .status(),
        200
    );
    assert_eq!(
        refresh(first).await.status(),
        400,
        "revoked on first use of its successor"
    );
    // Changing scope on refresh is refused.
    let with_scope = r
        .http
        .post(r.token_url())
        .form(&[
            ("client_id", r.client_id.as_str()),
            ("client_secret", &r.secret),
            ("refresh_token", third["refresh_token"].as_str().unwrap()),
            ("grant_type", "refresh_token"),
            ("scope", "employee:all"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(with_scope.status(), 400);
}

#[tokio::test]
async fn strings_everywhere_and_cursor_pages_match_the_truth() {
    let r = start(100.0, 15).await;
    let token = r.tokens().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let accounts: Value = r.get(&token, "Account.json").await.json().await.unwrap();
    assert!(
        accounts["Account"].is_object(),
        "a single account is an object, not an array"
    );
    let rel =
        "%5B%22SaleLines%22%2C%22SaleLines.Item%22%2C%22Customer%22%2C%22Customer.Contact%22%5D";
    let mut url = format!(
        "{}/rseries/API/V3/Account/{}/Sale.json?load_relations={rel}&sort=timeStamp&limit=100",
        r.base,
        r.account()
    );
    let (mut ids, mut cents, mut single_line, mut empty_emails) =
        (HashSet::new(), 0i64, false, false);
    loop {
        let resp = r.http.get(&url).bearer_auth(&token).send().await.unwrap();
        assert!(resp.headers()["x-ls-api-bucket-level"]
            .to_str()
            .unwrap()
            .contains('/'));
        let page: Value = resp.json().await.unwrap();
        let sales = match &page["Sale"] {
            Value::Array(a) => a.clone(),
            Value::Object(_) => vec![page["Sale"].clone()],
            _ => vec![],
        };
        for s in &sales {
            assert!(
                s["saleID"].is_string() && s["calcTotal"].is_string() && s["completed"] == "true"
            );
            assert!(ids.insert(s["saleID"].as_str().unwrap().to_owned()));
            let lines = match &s["SaleLines"]["SaleLine"] {
                Value::Array(a) => a.clone(),
                Value::Object(_) => {
                    single_line = true;
                    vec![s["SaleLines"]["SaleLine"].clone()]
                }
                _ => vec![],
            };
            if s["voided"] == "false" {
                for l in lines {
                    assert!(l["Item"]["categoryID"].is_string());
                    let v = l["calcTotal"].as_str().unwrap();
                    let neg = v.starts_with('-');
                    let (int, frac) = v
                        .trim_start_matches('-')
                        .split_once('.')
                        .unwrap_or((v.trim_start_matches('-'), ""));
                    let c = int.parse::<i64>().unwrap() * 100
                        + format!("{frac:0<2}").parse::<i64>().unwrap();
                    cents += if neg { -c } else { c };
                }
            }
            if s["Customer"]["Contact"]["Emails"] == "" {
                empty_emails = true;
            }
        }
        let next = page["@attributes"]["next"].as_str().unwrap();
        if next.is_empty() {
            break;
        }
        url = next.to_owned();
    }
    assert!(single_line, "a one-line sale carries its line as an object");
    assert!(empty_emails, "a customer without e-mail has Emails = \"\"");
    let truth: Value = r
        .http
        .get(format!(
            "{}/_sandbox/merchants/{}/truth",
            r.base,
            r.merchant["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ids.len() as u64, truth["orders"].as_u64().unwrap());
    assert_eq!(cents, truth["total_minor"].as_i64().unwrap());
    // timeStamp filter with an operator.
    let later = r
        .get(
            &token,
            &format!(
                "Account/{}/Sale.json?timeStamp=%3E%3D%2C2999-01-01T00%3A00%3A00%2B00%3A00",
                r.account()
            ),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert!(later.get("Sale").is_none() && later["@attributes"]["next"] == "");
}

#[tokio::test]
async fn the_leaky_bucket_overflows_into_429_with_retry_after_seconds() {
    let r = start(1.0, 1).await;
    let token = r.tokens().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut throttled = None;
    for _ in 0..150 {
        let resp = r
            .get(&token, &format!("Account/{}/Shop.json", r.account()))
            .await;
        if resp.status() == 429 {
            throttled = Some(resp);
            break;
        }
    }
    let resp = throttled.expect("90 + 10 per extra register, then 429");
    let kind = resp.headers()["x-ls-api-ratelimit-type"].to_str().unwrap();
    assert!(
        kind == "api-leaky-bucket" || kind == "api-burst-limiter",
        "{kind}"
    );
    assert!(
        resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(
        resp.headers()["x-ls-api-drip-rate"],
        "1.5",
        "1/s + 0.5/s for the second register"
    );
}

#[tokio::test]
async fn wrong_secrets_reused_and_expired_codes_are_refused() {
    // At 600× a 60-second code lives a tenth of a second.
    let r = start(600.0, 1).await;
    let verifier = "w".repeat(64);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let exchange = |code: String, secret: String| {
        let (http, url, client_id, verifier) = (
            r.http.clone(),
            r.token_url(),
            r.client_id.clone(),
            verifier.clone(),
        );
        async move {
            let resp = http
                .post(url)
                .form(&[
                    ("client_id", client_id.as_str()),
                    ("client_secret", &secret),
                    ("code", &code),
                    ("grant_type", "authorization_code"),
                    ("code_verifier", &verifier),
                ])
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = exchange(r.code(&challenge).await, "wrong".into()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    let code = r.code(&challenge).await;
    let (status, body) = exchange(code.clone(), r.secret.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = exchange(code, r.secret.clone()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "codes are single use: {body}"
    );
    let stale = r.code(&challenge).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, body) = exchange(stale, r.secret.clone()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
}
