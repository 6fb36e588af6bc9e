//! The K-Series dialect as an independent client sees it: OAuth (Basic client auth only,
//! single-use codes, PKCE, rotating refresh tokens, scaled lifetimes), Financial API paging
//! and errors, throttling, and that the truth equals what the API serves.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected value"
)]

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use tillbridge_sandbox::{Sandbox, SandboxConfig};

struct K {
    base: String,
    /// `/kseries` or `/oseries`: O-Series speaks the K-Series OAuth dialect.
    prefix: &'static str,
    /// A cheap authenticated read of the dialect.
    probe: &'static str,
    http: reqwest::Client,
    client_id: String,
    secret: String,
    merchant: Value,
}

const REDIRECT: &str = "http://127.0.0.1:9/callback";

async fn start(time_scale: f64, history_days: u32) -> K {
    start_series("k", time_scale, history_days).await
}

async fn start_series(series: &str, time_scale: f64, history_days: u32) -> K {
    let config = SandboxConfig {
        seed: 3,
        time_scale,
        ..SandboxConfig::default()
    };
    start_with(series, config, history_days).await
}

async fn start_with(series: &str, config: SandboxConfig, history_days: u32) -> K {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(Sandbox::new(config).serve(listener));
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
    let merchant: Value = http
        .post(format!("{base}/_sandbox/merchants"))
        .json(&json!({ "series": series, "history_days": history_days, "sales_per_day": 30, "locations": 1 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client = clients["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["series"] == series)
        .unwrap();
    let (prefix, probe) = match series {
        "o" => ("/oseries", "/v1/me"),
        _ => ("/kseries", "/o/op/data/businesses"),
    };
    K {
        client_id: client["client_id"].as_str().unwrap().into(),
        secret: client["client_secret"].as_str().unwrap().into(),
        prefix,
        probe,
        base,
        http,
        merchant,
    }
}

impl K {
    /// The token response of a code exchanged for the default scope.
    async fn authorized(&self) -> Value {
        let code = self.code(None).await;
        self.exchange(&code).await
    }

    /// The token response of `code`, exchanged with the client's credentials.
    async fn exchange(&self, code: &str) -> Value {
        let grant = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ];
        self.token(&grant, true).await.1
    }

    /// A GET of the control API (`path` from `/_sandbox`).
    async fn control(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The control API's view of this test's merchant, or of `suffix` under it.
    async fn merchant_control(&self, suffix: &str) -> Value {
        let id = self.merchant["id"].as_str().unwrap();
        self.control(&format!("/_sandbox/merchants/{id}{suffix}"))
            .await
    }

    async fn stats(&self) -> Value {
        self.control("/_sandbox/stats").await
    }

    async fn code(&self, challenge: Option<&str>) -> String {
        let scope = if self.prefix == "/oseries" {
            "checks:read"
        } else {
            "orders-api financial-api items"
        };
        self.code_for(challenge, scope).await
    }

    async fn code_for(&self, challenge: Option<&str>, scope: &str) -> String {
        let mut form = vec![
            ("response_type", "code".to_owned()),
            ("client_id", self.client_id.clone()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("scope", scope.to_owned()),
            ("state", "xyz".to_owned()),
            (
                "username",
                self.merchant["login"]["username"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            (
                "password",
                self.merchant["login"]["password"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            ("decision", "allow".to_owned()),
        ];
        if let Some(c) = challenge {
            form.push(("code_challenge", c.to_owned()));
            form.push(("code_challenge_method", "S256".to_owned()));
        }
        let resp = self
            .http
            .post(format!("{}{}/oauth/authorize", self.base, self.prefix))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_redirection());
        let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
        assert_eq!(
            location
                .query_pairs()
                .find(|(k, _)| k == "state")
                .unwrap()
                .1,
            "xyz"
        );
        location
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned()
    }

    async fn token(&self, form: &[(&str, &str)], basic: bool) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}{}/oauth/token", self.base, self.prefix))
            .form(form);
        if basic {
            req = req.basic_auth(&self.client_id, Some(&self.secret));
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    async fn get(&self, token: &str, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        let resp = self
            .http
            .get(format!("{}{}{path}", self.base, self.prefix))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.json().await.unwrap_or(Value::Null))
    }

    fn bl(&self) -> String {
        self.merchant["locations"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

#[tokio::test]
async fn token_endpoint_takes_basic_auth_only_and_codes_once() {
    for series in ["k", "o"] {
        basic_auth_only_and_codes_once(series).await;
    }
}

async fn basic_auth_only_and_codes_once(series: &str) {
    let k = start_series(series, 1.0, 1).await;
    let code = k.code(None).await;
    let body_creds = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", &k.client_id),
        ("client_secret", &k.secret),
    ];
    let (status, body) = k.token(&body_creds, false).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let (status, tokens) = k.token(&form, true).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["expires_in"], 3600);
    let (status, body) = k.token(&form, true).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "codes are single use"
    );
    // Replaying the code revoked what it issued.
    let (status, _, _) = k
        .get(tokens["access_token"].as_str().unwrap(), k.probe)
        .await;
    assert_eq!(status, 401, "{series}");
}

#[tokio::test]
async fn pkce_is_verified_and_refresh_tokens_rotate() {
    for series in ["k", "o"] {
        pkce_and_rotation(series).await;
    }
}

async fn pkce_and_rotation(series: &str) {
    let k = start_series(series, 1.0, 1).await;
    let verifier = "v".repeat(86);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let code = k.code(Some(&challenge)).await;
    let (status, body) = k
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", "wrong"),
            ],
            true,
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let code = k.code(Some(&challenge)).await;
    let (status, tokens) = k
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
            true,
        )
        .await;
    assert_eq!(status, 200);
    let first = tokens["refresh_token"].as_str().unwrap();
    let (status, rotated) = k
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", first)],
            true,
        )
        .await;
    assert_eq!(status, 200);
    assert_ne!(rotated["refresh_token"], tokens["refresh_token"]);
    let (status, body) = k
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", first)],
            true,
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "a used refresh token is dead"
    );
}

#[tokio::test]
async fn codes_expire() {
    for series in ["k", "o"] {
        // At 3600× a 10-minute code lives a sixth of a second.
        let k = start_series(series, 3600.0, 1).await;
        let code = k.code(None).await;
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        let (status, body) = k
            .token(
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                ],
                true,
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{series}: {body}"
        );
    }
}

#[tokio::test]
async fn lifetimes_follow_the_time_scale() {
    // At 3600× an access token lives one second and a refresh token 5.6 minutes.
    let k = start(3600.0, 1).await;
    let tokens = k.authorized().await;
    assert_eq!(tokens["expires_in"], 1);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(k.get(access, "/o/op/data/businesses").await.0, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let (status, _, body) = k.get(access, "/o/op/data/businesses").await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn financials_page_completely_and_match_the_truth() {
    // Time scale 100 refills the throttle fast enough for this unpaced client.
    let k = start(100.0, 20).await;
    let tokens = k.authorized().await;
    let access = tokens["access_token"].as_str().unwrap();
    let bl = k.bl();
    let (from, to) = ("2000-01-01T00:00:00Z", "2000-12-30T00:00:00Z");
    let (status, _, body) = k
        .get(
            access,
            &format!("/f/finance/{bl}/financials/{from}/2001-12-31T00:00:00Z"),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("365"));
    let (status, _, _) = k
        .get(
            access,
            &format!("/f/finance/{bl}/financials/{from}/{to}?pageSize=1001"),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _, body) = k
        .get(
            access,
            &format!("/f/finance/{bl}/financials/not-a-date/{to}"),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("Invalid date format: not-a-date"))
    );
    let (status, _, _) = k
        .get(
            access,
            "/f/finance/12345/financials/2026-01-01T00:00:00Z/2026-01-02T00:00:00Z",
        )
        .await;
    assert_eq!(status, 403, "another business's location");

    // Follow `_links.nextPage` over the last 20 days with small pages.
    let now = chrono::Utc::now();
    let from = (now - chrono::Duration::days(21))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let to = (now + chrono::Duration::minutes(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let mut url = format!(
        "{}/kseries/f/finance/{bl}/financials/{from}/{to}?include=consumer,payments&pageSize=50",
        k.base
    );
    let mut ids = HashSet::new();
    let mut cents = 0i64;
    let mut pages = 0;
    loop {
        let page: Value = k
            .http
            .get(&url)
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        pages += 1;
        for sale in page["sales"].as_array().unwrap() {
            assert!(
                ids.insert(sale["accountFiscId"].as_str().unwrap().to_owned()),
                "a sale appeared twice"
            );
            assert!(sale["timeofCloseAndPaid"]
                .as_str()
                .unwrap()
                .ends_with("+0000"));
            for line in sale["salesLines"].as_array().unwrap() {
                let amount = line["totalNetAmountWithTax"].as_str().unwrap();
                let (units, frac) = amount.trim_start_matches('-').split_once('.').unwrap();
                let value = units.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap();
                cents += if amount.starts_with('-') {
                    -value
                } else {
                    value
                };
                assert!(
                    line["accountingGroup"]["statisticGroup"]
                        .as_str()
                        .unwrap()
                        .starts_with("[{"),
                    "statisticGroup is a JSON string"
                );
            }
        }
        match page["_links"]["nextPage"]["href"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert!(pages > 5);
    let truth = k
        .merchant_control(&format!("/truth?from={from}&to={to}"))
        .await;
    assert_eq!(ids.len() as u64, truth["orders"].as_u64().unwrap());
    assert_eq!(cents, truth["total_minor"].as_i64().unwrap());

    // V2: at most 100 per page, sorted by timeClosed, nextPageToken without links.
    let (status, _, _) = k
        .get(
            access,
            &format!("/f/v2/business-location/{bl}/sales?from={from}&pageSize=101"),
        )
        .await;
    assert_eq!(status, 400);
    let mut token: Option<String> = None;
    let mut v2 = 0;
    let mut last = String::new();
    loop {
        let path = match &token {
            Some(t) => format!(
                "/f/v2/business-location/{bl}/sales?from={from}&pageSize=100&nextPageToken={t}"
            ),
            None => format!("/f/v2/business-location/{bl}/sales?from={from}&pageSize=100"),
        };
        let (status, _, page) = k.get(access, &path).await;
        assert_eq!(status, 200, "{page}");
        for sale in page["sales"].as_array().unwrap() {
            let closed = sale["timeClosed"].as_str().unwrap().to_owned();
            assert!(closed >= last, "V2 is sorted by timeClosed");
            last = closed;
            v2 += 1;
        }
        match page["nextPageToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(v2, ids.len());
}

/// Cents of a K money string (`"-12.30"`).
fn money_cents(v: &Value) -> i64 {
    let amount = v.as_str().unwrap();
    let (units, frac) = amount.trim_start_matches('-').split_once('.').unwrap();
    let value = units.parse::<i64>().unwrap() * 100 + frac[..2].parse::<i64>().unwrap();
    if amount.starts_with('-') {
        -value
    } else {
        value
    }
}

#[tokio::test]
async fn v2_sales_daily_is_one_business_day_and_matches_the_truth() {
    let k = start(100.0, 10).await;
    let tokens = k.authorized().await;
    let access = tokens["access_token"].as_str().unwrap();
    let bl = k.bl();
    let path = |q: &str| format!("/f/v2/business-location/{bl}/sales-daily{q}");
    for (q, error) in [
        ("", "Required request parameter 'date'"),
        ("?date=12/12/2023", "Invalid date format: 12/12/2023"),
    ] {
        let (status, _, body) = k.get(access, &path(q)).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["error"].as_str().unwrap().contains(error), "{body}");
    }
    // Three days back: the day before gives this day's start.
    let day = chrono::Utc::now().date_naive() - chrono::Duration::days(3);
    let (status, _, before) = k
        .get(
            access,
            &path(&format!("?date={}", day - chrono::Duration::days(1))),
        )
        .await;
    assert_eq!(status, 200, "{before}");
    let (status, _, body) = k
        .get(access, &path(&format!("?date={day}&include=payments")))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dataComplete"], true, "a past day is complete");
    let (begin, end) = (
        before["nextStartOfDayAsIso8601"]
            .as_str()
            .unwrap()
            .to_owned(),
        body["nextStartOfDayAsIso8601"].as_str().unwrap().to_owned(),
    );
    // Sales a second either side of each bound: two of the four are in the day.
    let at = |bound: &str, secs: i64| {
        (chrono::DateTime::parse_from_rfc3339(bound).unwrap() + chrono::Duration::seconds(secs))
            .to_rfc3339()
    };
    let merchant = k.merchant["id"].as_str().unwrap();
    let created = k
        .http
        .post(format!("{}/_sandbox/merchants/{merchant}/sales", k.base))
        .json(&json!({ "at": [at(&begin, -1), at(&begin, 1), at(&end, -1), at(&end, 1)] }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let (_, _, body) = k
        .get(access, &path(&format!("?date={day}&include=payments")))
        .await;
    let sales = body["sales"].as_array().unwrap();
    assert!(!sales.is_empty());
    let mut last = String::new();
    let mut cents = 0;
    for sale in sales {
        let closed = sale["timeClosed"].as_str().unwrap().to_owned();
        assert!(closed >= last, "sorted by timeClosed");
        last = closed;
        cents += sale["salesLines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| money_cents(&l["totalNetAmountWithTax"]))
            .sum::<i64>();
    }
    let truth = k
        .merchant_control(&format!(
            "/truth?from={}&to={}",
            urlencode(&begin),
            urlencode(&end)
        ))
        .await;
    assert_eq!(sales.len() as u64, truth["orders"].as_u64().unwrap());
    let closed: Vec<&str> = sales
        .iter()
        .map(|s| s["timeClosed"].as_str().unwrap())
        .collect();
    let parse = |t: &str| chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.3f%z").unwrap();
    for bound in [at(&begin, 1), at(&end, -1)] {
        let bound = chrono::DateTime::parse_from_rfc3339(&bound).unwrap();
        assert!(
            closed.iter().any(|t| parse(t) == bound),
            "{bound} is in the day"
        );
    }
    for bound in [at(&begin, -1), at(&end, 1)] {
        let bound = chrono::DateTime::parse_from_rfc3339(&bound).unwrap();
        assert!(closed.iter().all(|t| parse(t) != bound), "{bound} is not");
    }
    assert_eq!(cents, truth["total_minor"].as_i64().unwrap());
    // Today is not complete yet.
    let today = chrono::Utc::now().date_naive() + chrono::Duration::days(1);
    let (_, _, body) = k.get(access, &path(&format!("?date={today}"))).await;
    assert_eq!(body["dataComplete"], false, "{body}");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn lightspeed_payments_are_the_card_payments_with_their_fees_and_refunds() {
    let k = start(100.0, 20).await;
    let tokens = k.authorized().await;
    let access = tokens["access_token"].as_str().unwrap();
    let bl = k.bl();
    let now = chrono::Utc::now();
    let from = (now - chrono::Duration::days(30))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let path = |q: &str| format!("/f/v2/business-location/{bl}/lightspeed-payments?{q}");
    for (q, error) in [
        ("", "Required request parameter 'from'"),
        ("from=yesterday", "Invalid date format: yesterday"),
        (
            &format!("from={from}&to=2000-01-01T00:00:00Z") as &str,
            "'from' date cannot be after 'to' date",
        ),
        (&format!("from={from}&status=PAID"), "Invalid status: PAID"),
        (&format!("from={from}&dateType=CLOSED"), "Invalid dateType"),
        (
            &format!("from={from}&sortDirection=UP"),
            "Invalid sortDirection",
        ),
        (
            &format!("from={from}&pageSize=101"),
            "pageSize must be between 1 and 100",
        ),
    ] {
        let (status, _, body) = k.get(access, &path(q)).await;
        assert_eq!(status, 400, "{q}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(error),
            "{q}: {body}"
        );
    }

    // Every page by offset, by creation date.
    let all = |q: String| {
        let k = &k;
        async move {
            let mut out = Vec::new();
            let mut offset = 0;
            loop {
                let (status, _, page) = k
                    .get(access, &path(&format!("{q}&pageSize=40&offset={offset}")))
                    .await;
                assert_eq!(status, 200, "{page}");
                assert_eq!(page["offset"], offset);
                out.extend(page["payments"].as_array().unwrap().iter().cloned());
                match page["nextOffset"].as_u64() {
                    Some(next) => offset = next,
                    None => break,
                }
            }
            out
        }
    };
    let payments = all(format!("from={from}&dateType=CREATED")).await;
    // The same range's card payments, from the sales.
    let mut cards = HashMap::new();
    let mut token: Option<String> = None;
    loop {
        let q = match &token {
            Some(t) => format!("&nextPageToken={t}"),
            None => String::new(),
        };
        let (_, _, page) = k
            .get(
                access,
                &format!(
                    "/f/v2/business-location/{bl}/sales?from={from}&include=payments&pageSize=100{q}"
                ),
            )
            .await;
        for sale in page["sales"].as_array().unwrap() {
            if sale["type"] == "VOID" {
                continue;
            }
            for p in sale["payments"].as_array().unwrap() {
                if p["code"] == "CARD" {
                    let paid = money_cents(&p["netAmountWithTax"]) + money_cents(&p["tip"]);
                    cards.insert(p["uuid"].as_str().unwrap().to_owned(), (sale.clone(), paid));
                }
            }
        }
        match page["nextPageToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert!(cards.len() > 20, "the history has card payments");
    assert_eq!(
        payments.len(),
        cards.len(),
        "one transaction per card payment"
    );
    let mut ids = HashSet::new();
    let mut created = Vec::new();
    let mut statuses = HashMap::<String, usize>::new();
    let mut refunded_sales = 0;
    for p in &payments {
        assert!(ids.insert(p["lightspeedPaymentId"].as_str().unwrap().to_owned()));
        let (sale, paid) = &cards[p["uuid"].as_str().unwrap()];
        assert_eq!(p["accountFiscId"], sale["accountFiscId"]);
        let status = p["status"].as_str().unwrap();
        *statuses.entry(status.to_owned()).or_default() += 1;
        let fee = money_cents(&p["fees"]["value"]);
        if sale["type"] == "REFUND" {
            assert_eq!((status, fee), ("REFUNDED", 0), "{p}");
        } else {
            // 1.75 %, to the cent.
            assert!(
                (fee * 10_000 - paid * 175).abs() <= 5_000,
                "{p} paid {paid}"
            );
            assert!(p["modificationDate"].as_str() >= p["createdDate"].as_str());
            if status != "CAPTURED" {
                refunded_sales += 1;
                assert!(p["modificationDate"].as_str() > p["createdDate"].as_str());
            }
        }
        created.push(p["createdDate"].as_str().unwrap().to_owned());
    }
    assert!(
        created.windows(2).all(|w| w[0] <= w[1]),
        "ascending by creation"
    );
    assert!(
        refunded_sales > 0,
        "refunds show on their sales: {statuses:?}"
    );
    // A status filter and the descending order.
    let captured = all(format!("from={from}&dateType=CREATED&status=CAPTURED")).await;
    assert_eq!(captured.len(), statuses["CAPTURED"]);
    assert!(captured.iter().all(|p| p["status"] == "CAPTURED"));
    let both = all(format!(
        "from={from}&dateType=CREATED&status=CAPTURED&status=REFUNDED"
    ))
    .await;
    assert_eq!(
        both.len(),
        statuses["CAPTURED"] + statuses.get("REFUNDED").copied().unwrap_or(0)
    );
    let down = all(format!("from={from}&dateType=CREATED&sortDirection=DESC")).await;
    let down: Vec<String> = down
        .iter()
        .map(|p| p["createdDate"].as_str().unwrap().to_owned())
        .collect();
    let mut up = created.clone();
    up.reverse();
    assert_eq!(down, up);
}

#[tokio::test]
async fn without_rate_limits_a_burst_goes_through() {
    let config = SandboxConfig {
        seed: 3,
        rate_limits: false,
        ..SandboxConfig::default()
    };
    let k = start_with("k", config, 1).await;
    let tokens = k.authorized().await;
    let access = tokens["access_token"].as_str().unwrap();
    for i in 0..60 {
        let (status, _, _) = k
            .get(access, &format!("/f/finance/{}/tax-rates", k.bl()))
            .await;
        assert_eq!(status, 200, "request {i}");
    }
    let stats = k.stats().await;
    assert_eq!(stats["rate_limited"], 0);
    assert!(stats["requests"]["k"]["requests"].as_u64().unwrap() >= 60);
}

#[tokio::test]
async fn bursts_are_throttled_with_retry_after() {
    let k = start(1.0, 1).await;
    let tokens = k.authorized().await;
    let access = tokens["access_token"].as_str().unwrap();
    let mut throttled = None;
    for _ in 0..40 {
        let (status, headers, _) = k
            .get(access, &format!("/f/finance/{}/tax-rates", k.bl()))
            .await;
        if status == 429 {
            throttled = Some(headers);
            break;
        }
    }
    let headers = throttled.expect("a burst of 40 requests is throttled");
    assert!(
        headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let stats = k.stats().await;
    assert!(stats["rate_limited"].as_u64().unwrap() >= 1);
}

impl K {
    async fn send(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/kseries{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    async fn access_token(&self) -> String {
        self.access_token_for("orders-api financial-api items")
            .await
    }

    async fn access_token_for(&self, scope: &str) -> String {
        let code = self.code_for(None, scope).await;
        let tokens = self.exchange(&code).await;
        tokens["access_token"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn webhook_endpoints_register_link_and_deliver_with_basic_auth() {
    use axum::http::HeaderMap;
    use reqwest::Method;
    let k = start(100.0, 1).await;
    let token = k.access_token().await;

    // A receiver that records what it gets.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(HeaderMap, String)>();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    // Validation, creation, conflict.
    let (status, body) = k
        .send(
            &token,
            Method::PUT,
            "/o/wh/1/webhook",
            Some(json!({ "url": hook_url })),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("endpointId"),
        "{body}"
    );
    let (status, body) = k
        .send(
            &token,
            Method::PUT,
            "/o/wh/1/webhook",
            Some(json!({ "endpointId": "E1", "url": hook_url, "withBasicAuth": true })),
        )
        .await;
    assert_eq!(
        status, 400,
        "credentials are required with Basic auth: {body}"
    );
    let registration = json!({
        "endpointId": "E1", "url": hook_url, "withBasicAuth": true, "username": "u", "password": "p",
        "provideAccount": true,
    });
    let (status, body) = k
        .send(
            &token,
            Method::PUT,
            "/o/wh/1/webhook",
            Some(registration.clone()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("password").is_none(),
        "the password is never echoed"
    );
    let (status, _) = k
        .send(&token, Method::PUT, "/o/wh/1/webhook", Some(registration))
        .await;
    assert_eq!(status, 409);

    // Unknown endpoints: the documented 404 message.
    let (status, body) = k
        .send(&token, Method::GET, "/o/wh/1/webhook/e1", None)
        .await;
    assert_eq!(status, 404, "endpoint ids are case-sensitive");
    assert_eq!(body["message"], "endpoint ID not found for e1");

    // Linking business locations.
    let bl = k.bl();
    let (status, body) = k
        .send(
            &token,
            Method::PUT,
            &format!("/o/wh/1/webhook/E1/business-locations/{bl}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["businessLocationId"].to_string(), bl);
    let (_, linked) = k
        .send(
            &token,
            Method::GET,
            "/o/wh/1/webhook/E1/business-locations",
            None,
        )
        .await;
    assert_eq!(linked.as_array().unwrap().len(), 1);

    // A closed account is delivered with Basic credentials, an idempotency key, string
    // amounts and `+0000` instants.
    let merchant = k.merchant["id"].as_str().unwrap();
    k.http
        .post(format!("{}/_sandbox/merchants/{merchant}/sales", k.base))
        .json(&json!({ "count": 1 }))
        .send()
        .await
        .unwrap();
    let (headers, body) = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("u:p")
    );
    assert_eq!(headers["authorization"], expected.as_str());
    assert!(!headers["x-lightspeed-idempotency-key"].is_empty());
    let note: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (note["status"].as_str(), note["type"].as_str()),
        (Some("CLOSED"), Some("ORDER"))
    );
    assert!(note["account"]["totalAmount"].is_string(), "{note}");
    assert!(note["account"]["closeDate"]
        .as_str()
        .unwrap()
        .ends_with("+0000"));

    // An update without the flags resets them to their defaults.
    let (status, body) = k
        .send(
            &token,
            Method::POST,
            "/o/wh/1/webhook",
            Some(json!({ "endpointId": "E1", "url": hook_url })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["withBasicAuth"].as_bool(),
            body["provideAccount"].as_bool()
        ),
        (Some(false), Some(false))
    );
    let (_, linked) = k
        .send(
            &token,
            Method::GET,
            "/o/wh/1/webhook/E1/business-locations",
            None,
        )
        .await;
    assert_eq!(
        linked.as_array().unwrap().len(),
        1,
        "links survive an update"
    );

    // Unlink, delete, and the update of a deleted endpoint is a 404.
    let (status, _) = k
        .send(
            &token,
            Method::DELETE,
            &format!("/o/wh/1/webhook/E1/business-locations/{bl}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = k
        .send(&token, Method::DELETE, "/o/wh/1/webhook/E1", None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = k
        .send(
            &token,
            Method::POST,
            "/o/wh/1/webhook",
            Some(json!({ "endpointId": "E1", "url": hook_url })),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn floor_plans_list_their_tables() {
    let k = start(100.0, 1).await;
    let token = k.access_token().await;
    let bl = k.bl();
    let (status, _, plans) = k
        .get(
            &token,
            &format!("/o/op/data/{bl}/floorplans?expandTables=true"),
        )
        .await;
    assert_eq!(status, 200, "{plans}");
    let plans = plans.as_array().unwrap();
    assert_eq!(plans.len(), 2);
    let tables: Vec<&Value> = plans
        .iter()
        .flat_map(|p| p["tables"].as_array().unwrap())
        .collect();
    assert_eq!(tables.len(), 18);
    let inactive: Vec<i64> = tables
        .iter()
        .filter(|t| t["active"] == false)
        .map(|t| t["number"].as_i64().unwrap())
        .collect();
    assert_eq!(inactive, [25]);
    assert!(tables
        .iter()
        .all(|t| t["id"].is_string() && t["defaultClientCount"].is_i64()));
    // Without expandTables the plans come bare; one plan's tables by id.
    let (_, _, bare) = k.get(&token, &format!("/o/op/data/{bl}/floorplans")).await;
    assert!(bare[0].get("tables").is_none(), "{bare}");
    let id = plans[1]["id"].as_i64().unwrap();
    let (status, _, terrace) = k
        .get(&token, &format!("/o/op/data/{bl}/floorplans/{id}/tables"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(terrace.as_array().unwrap().len(), 6, "{terrace}");
    let (status, _, missing) = k
        .get(&token, &format!("/o/op/data/{bl}/floorplans/1/tables"))
        .await;
    assert_eq!(status, 404, "{missing}");
    let (status, _, _) = k.get(&token, "/o/op/data/12345/floorplans").await;
    assert_eq!(status, 403, "a business location the token cannot reach");
}

#[tokio::test]
async fn items_api_creates_updates_deletes_and_says_what_is_wrong() {
    use reqwest::Method;
    let k = start(100.0, 1).await;
    let token = k.access_token().await;
    let bl = k.bl();
    let items = format!("/items/v1/items?businessLocationId={bl}");
    let (status, list) = k.send(&token, Method::GET, &items, None).await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap().clone();
    assert!(!list.is_empty());
    let group = list[0]["accountingGroup"]["id"].clone();
    // Paging, and the filters.
    let (_, page) = k
        .send(
            &token,
            Method::GET,
            &format!("{items}&offset=1&amount=2"),
            None,
        )
        .await;
    assert_eq!(page.as_array().unwrap(), &list[1..3]);
    let sku = list[0]["sku"].as_str().unwrap();
    let (_, one) = k
        .send(&token, Method::GET, &format!("{items}&sku={sku}"), None)
        .await;
    assert_eq!(one.as_array().unwrap(), &list[..1]);
    let (status, bad) = k
        .send(&token, Method::GET, &format!("{items}&amount=1001"), None)
        .await;
    assert_eq!(
        (status, bad["status"].as_str()),
        (400, Some("400")),
        "{bad}"
    );
    assert_eq!(bad["apiSubExceptions"][0]["field"], "amount");
    let (status, _) = k.send(&token, Method::GET, "/items/v1/items", None).await;
    assert_eq!(status, 400, "businessLocationId is required");

    // Create: every problem at once, then a good one (201).
    let (status, bad) = k
        .send(
            &token,
            Method::POST,
            "/items/v1/items",
            Some(json!({"businessLocationId": bl, "name": "", "accountingGroupId": 1, "defaultPrice": "1.234", "sku": sku})),
        )
        .await;
    assert_eq!(status, 400, "{bad}");
    let fields: HashSet<&str> = bad["apiSubExceptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        HashSet::from(["name", "accountingGroupId", "defaultPrice", "sku"])
    );
    let (status, created) = k
        .send(
            &token,
            Method::POST,
            "/items/v1/items",
            Some(json!({"businessLocationId": bl, "name": "Cortado", "accountingGroupId": group, "defaultPrice": 3.4})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["prices"][0]["amount"], "3.40");
    let id = created["id"].as_i64().unwrap();
    let new_sku = created["sku"].as_str().unwrap().to_owned();
    assert!(!new_sku.is_empty());
    // It is on the menu, with no rich data yet.
    let (_, menu) = k
        .send(
            &token,
            Method::GET,
            &format!(
                "/o/op/2/menu/load/{}?businessLocationId={bl}&richContent=true",
                bl.parse::<i64>().unwrap() * 100 + 1
            ),
            None,
        )
        .await;
    assert!(
        menu.to_string().contains("\"productName\":\"Cortado\""),
        "{menu}"
    );

    // Update needs the SKU; an unknown id is a 404 in the same error shape.
    let path = format!("/items/v1/items/{id}?businessLocationId={bl}");
    let (status, bad) = k
        .send(
            &token,
            Method::PUT,
            &path,
            Some(json!({"businessLocationId": bl, "name": "Cortado", "accountingGroupId": group, "defaultPrice": "3.60"})),
        )
        .await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(bad["apiSubExceptions"][0]["field"], "sku");
    let (status, updated) = k
        .send(
            &token,
            Method::PUT,
            &path,
            Some(json!({"businessLocationId": bl, "name": "Cortado", "accountingGroupId": group, "defaultPrice": "3.60", "sku": new_sku})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["prices"][0]["amount"], "3.60");
    let (status, missing) = k
        .send(
            &token,
            Method::GET,
            &format!("/items/v1/items/1?businessLocationId={bl}"),
            None,
        )
        .await;
    assert_eq!((status, missing["status"].as_str()), (404, Some("404")));

    // Rich data: allergens and descriptions are checked; the picture is served back.
    let business = k.merchant["business_id"].as_str().unwrap().to_owned();
    let rich = format!("/i/richItem/{business}/{new_sku}");
    let (status, bad) = k
        .send(
            &token,
            Method::PUT,
            &rich,
            Some(json!({"businessId": business, "sku": new_sku, "allergenCodes": ["milk", "glitter"], "descriptions": [{"localeCode": "xx", "description": "?"}]})),
        )
        .await;
    assert_eq!(status, 400, "{bad}");
    assert_eq!(
        bad["apiSubExceptions"].as_array().unwrap().len(),
        2,
        "{bad}"
    );
    let (status, put) = k
        .send(
            &token,
            Method::PUT,
            &rich,
            Some(json!({"businessId": business, "sku": new_sku, "allergenCodes": ["milk"], "descriptions": [{"localeCode": "en", "description": "Espresso cut with warm milk"}]})),
        )
        .await;
    assert_eq!(status, 200, "{put}");
    let (_, listed) = k
        .send(
            &token,
            Method::GET,
            &format!("/i/richItem/{business}"),
            None,
        )
        .await;
    assert_eq!(
        listed["_embedded"]["richItemDtoList"][0]["sku"],
        new_sku.as_str()
    );
    let (status, _) = k.send(&token, Method::GET, "/i/richItem/1/X", None).await;
    assert_eq!(status, 403, "another business");

    // Delete: 204, then it is gone everywhere.
    let (status, _) = k.send(&token, Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    let (status, _) = k.send(&token, Method::DELETE, &path, None).await;
    assert_eq!(status, 404);
    let (_, list) = k.send(&token, Method::GET, &items, None).await;
    assert!(!list.to_string().contains("Cortado"));

    // Without the `items` scope the Items API is closed.
    let narrow = k.access_token_for("orders-api financial-api").await;
    let (status, body) = k.send(&narrow, Method::GET, &items, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
}

#[tokio::test]
async fn aggregated_sales_sum_to_the_truth_and_lookups_answer_or_404() {
    use reqwest::Method;
    let k = start(100.0, 3).await;
    let token = k.access_token().await;
    let bl = k.bl();
    let truth = k.merchant_control("/truth").await;
    let day = truth["financials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["location_id"] == bl.as_str() && d["sales"].as_i64().unwrap() > 0)
        .unwrap()
        .clone();
    let date = day["business_date"].as_str().unwrap();
    let cents = |v: &Value| -> i64 { v.as_str().unwrap().replace('.', "").parse().unwrap() };
    let path =
        format!("/f/finance/{bl}/aggregatedSales?date={date}&groupBy=accountingGroup,deviceId");
    let (status, tree) = k.send(&token, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{tree}");
    assert_eq!(
        cents(&tree["totalAmount"]),
        day["total_minor"].as_i64().unwrap()
    );
    assert_eq!(
        cents(&tree["totalTaxAmount"]),
        day["tax_minor"].as_i64().unwrap()
    );
    assert_eq!(tree["numberOfSales"], day["orders"]);
    // Each accounting group's node holds that group's sum; its children split it by device.
    for group in tree["children"].as_array().unwrap() {
        assert_eq!(group["groupByKey"], "accountingGroup");
        let want = day["by_accounting_group"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == group["groupByValue"])
            .unwrap();
        assert_eq!(
            cents(&group["totalAmount"]),
            want["total_minor"].as_i64().unwrap()
        );
        let children: i64 = group["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                assert_eq!(c["groupByKey"], "deviceId");
                cents(&c["totalAmount"])
            })
            .sum();
        assert_eq!(children, cents(&group["totalAmount"]));
    }
    let (_, flat) = k
        .send(&token, Method::GET, &format!("{path}&flattened=true"), None)
        .await;
    let flat_total: i64 = flat
        .as_array()
        .unwrap()
        .iter()
        .map(|n| cents(&n["totalAmount"]))
        .sum();
    assert_eq!(flat_total, day["total_minor"].as_i64().unwrap());
    for (query, status) in [
        (format!("date={date}"), 400),
        (format!("date={date}&groupBy=weather"), 400),
        (
            format!("date={date}&from=2026-01-01T00:00:00Z&groupBy=staff"),
            400,
        ),
        ("date=31-12-2026&groupBy=staff".to_owned(), 400),
    ] {
        let (got, body) = k
            .send(
                &token,
                Method::GET,
                &format!("/f/finance/{bl}/aggregatedSales?{query}"),
                None,
            )
            .await;
        assert_eq!(got, status, "{query}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
    }

    // Lookups by tag code and by table; availability by POST; a message for the POS.
    let (status, profile) = k
        .send(
            &token,
            Method::GET,
            &format!("/o/op/data/{bl}/account-profiles/tagcode/COLLECT"),
            None,
        )
        .await;
    assert_eq!(
        (status, profile["deliveryMode"].as_str()),
        (200, Some("TAKE_AWAY")),
        "{profile}"
    );
    let (status, _) = k
        .send(
            &token,
            Method::GET,
            &format!("/o/op/data/{bl}/account-profiles/tagcode/NOPE"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = k
        .send(
            &token,
            Method::GET,
            &format!("/o/op/1/order/table/3/getCheck?businessLocationId={bl}"),
            None,
        )
        .await;
    assert_eq!(status, 404, "no open check on table 3: {body}");
    let sku = k.merchant["menu"][0]["sku"].as_str().unwrap().to_owned();
    let (status, page) = k
        .send(
            &token,
            Method::POST,
            "/o/op/1/itemAvailability",
            Some(json!({"businessLocationId": bl.parse::<i64>().unwrap(), "skus": [sku], "size": 100})),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["metadata"]["current"], 0);
    let (status, _) = k
        .send(
            &token,
            Method::POST,
            "/o/op/1/itemAvailability",
            Some(json!({"businessLocationId": bl, "skus": [sku], "size": 101})),
        )
        .await;
    assert_eq!(status, 400, "POST pages hold at most 100");
    let (status, _) = k
        .send(
            &token,
            Method::POST,
            &format!("/o/op/1/printMsg?businessLocationId={bl}"),
            Some(json!({"message": "Table 4 asks for the bill", "alsoToPrinter": true})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = k
        .send(
            &token,
            Method::POST,
            &format!("/o/op/1/printMsg?businessLocationId={bl}"),
            Some(json!({"message": " "})),
        )
        .await;
    assert_eq!(status, 400);
    let detail = k.merchant_control("").await;
    assert_eq!(
        detail["print_messages"][0]["message"],
        "Table 4 asks for the bill"
    );
    assert_eq!(detail["print_messages"].as_array().unwrap().len(), 1);
}

/// The entries of a loaded menu, flattened: (`@type`, entry).
fn menu_entries(menu: &Value) -> Vec<Value> {
    menu["menuEntryGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["menuEntry"].as_array().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn product_modifiers_and_deals_are_priced_sub_items_of_their_line() {
    use reqwest::Method;
    let k = start(100.0, 0).await;
    let token = k.access_token().await;
    let bl = k.bl();
    let menu_id: i64 = bl.parse::<i64>().unwrap() * 100 + 1;
    let (status, menu) = k
        .send(
            &token,
            Method::GET,
            &format!("/o/op/2/menu/load/{menu_id}?businessLocationId={bl}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{menu}");
    let entries = menu_entries(&menu);
    let by_name = |name: &str| {
        entries
            .iter()
            .find(|e| e["productName"] == name)
            .unwrap_or_else(|| panic!("{name} is on the menu"))
            .clone()
    };

    // A hot drink offers the coffee add-ons as a product modifier group, priced; the add-ons
    // are product modifiers of their own; the deal lists its groups with extra prices.
    let cappuccino = by_name("Cappuccino");
    assert_eq!(cappuccino["@type"], "menuItem");
    let groups = cappuccino["menuModifierGroups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{cappuccino}");
    assert_eq!(
        (
            &groups[0]["minimumSelection"],
            &groups[0]["maximumSelection"]
        ),
        (&json!(0), &json!(3))
    );
    let shot = groups[0]["productModifiers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["productName"] == "Extra shot")
        .unwrap()
        .clone();
    assert_eq!(
        (&shot["@type"], &shot["productPrice"]),
        (&json!("menuProductModifier"), &json!("0.80"))
    );
    assert_eq!(by_name("Extra shot")["@type"], "menuProductModifier");
    assert!(
        by_name("Croissant")["menuModifierGroups"]
            .as_array()
            .unwrap()
            .is_empty(),
        "pastries offer no add-ons"
    );
    let deal = by_name("Breakfast Deal");
    assert_eq!(deal["@type"], "menuDeal");
    let deal_groups = deal["menuDealGroups"].as_array().unwrap();
    assert_eq!(deal_groups.len(), 2);
    assert_eq!(deal_groups[0]["mustSelectAnItem"], true);
    let latte = deal_groups[0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["productName"] == "Latte")
        .unwrap();
    assert_eq!(latte["extraPrice"], "0.30");
    let sku = |e: &Value| e["sku"].as_str().unwrap().to_owned();
    let (cappuccino, shot, syrup) = (sku(&cappuccino), sku(&shot), sku(&by_name("Vanilla syrup")));
    let (deal, latte, bun, croissant) = (
        sku(&deal),
        sku(latte),
        sku(&by_name("Cinnamon Bun")),
        sku(&by_name("Croissant")),
    );

    // Orders need a registered endpoint; their outcome is read from the control API.
    let (status, body) = k
        .send(
            &token,
            Method::PUT,
            "/o/wh/1/webhook",
            Some(json!({ "endpointId": "E1", "url": "http://127.0.0.1:9/hook" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let order = |reference: &str, items: Value| {
        json!({
            "businessLocationId": bl.parse::<i64>().unwrap(), "thirdPartyReference": reference,
            "endpointId": "E1", "customerInfo": {"firstName": "Ada"}, "items": items,
        })
    };
    let outcome = |reference: String| {
        let k = &k;
        async move {
            for _ in 0..200 {
                let orders = k.merchant_control("/online-orders").await;
                let found = orders["online_orders"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|o| o["reference"] == reference.as_str())
                    .unwrap()
                    .clone();
                if found["state"] != "pending" {
                    return found;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            panic!("order {reference} was never delivered");
        }
    };

    // Malformed sub-items are refused at once, with the field named.
    let (status, body) = k
        .send(
            &token,
            Method::POST,
            "/o/op/1/order/toGo",
            Some(order("bad-shape", json!([{"sku": cappuccino, "quantity": 1, "subItems": [{"sku": shot, "quantity": 0}]}]))),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["field"], "items[0].subItems[0].quantity");

    // Six shots in stock at the location.
    let merchant = k.merchant["id"].as_str().unwrap().to_owned();
    let resp = k
        .http
        .put(format!(
            "{}/_sandbox/merchants/{merchant}/availability",
            k.base
        ))
        .json(&json!({"location": bl, "sku": shot, "count": 6}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Two coffees with two extra shots each and a syrup; a deal with a latte (+0.30) and a bun
    // (+0.40). Sub-item quantities are per unit of their line.
    let items = json!([
        {"sku": cappuccino, "quantity": 2, "subItems": [{"sku": shot, "quantity": 2}, {"sku": syrup, "quantity": 1}]},
        {"sku": deal, "quantity": 1, "subItems": [{"sku": latte, "quantity": 1}, {"sku": bun, "quantity": 1}]},
    ]);
    let (status, body) = k
        .send(
            &token,
            Method::POST,
            "/o/op/1/order/toGo",
            Some(order("good", items)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let good = outcome("good".into()).await;
    assert_eq!(good["state"], "open", "{good}");
    // 2 × (3.60 + 2 × 0.80 + 0.60) + (5.50 + 0.30 + 0.40)
    assert_eq!(good["total"], "17.80", "{good}");
    let lines = good["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 6, "{good}");
    assert_eq!(
        (&lines[1]["sku"], &lines[1]["quantity"], &lines[1]["parent"]),
        (&json!(shot), &json!(4), &json!(cappuccino))
    );
    assert_eq!(lines[5]["parent"], json!(deal));

    // The open account nests the sub-items under their line.
    let identifier = good["identifier"].as_str().unwrap();
    let (status, account) = k
        .send(
            &token,
            Method::GET,
            &format!("/o/op/1/order/accounts/{identifier}?businessLocationId={bl}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{account}");
    let entries = account["salesEntries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{account}");
    assert_eq!(entries[0]["subLineItems"].as_array().unwrap().len(), 2);
    assert_eq!(entries[0]["subLineItems"][0]["amountWithTax"], "3.20");

    // Closed, it is a sale whose sub-item lines point at their parent line.
    let resp = k
        .http
        .post(format!(
            "{}/_sandbox/merchants/{merchant}/online-orders/good",
            k.base
        ))
        .json(&json!({"action": "close"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, sale) = k
        .send(
            &token,
            Method::GET,
            &format!(
                "/f/finance/{bl}/saleByExternalReference?externalReferenceId=TASK:OO-{bl}-good"
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{sale}");
    let lines = sale["salesLines"].as_array().unwrap();
    let total: i64 = lines
        .iter()
        .map(|l| money_cents(&l["totalNetAmountWithTax"]))
        .sum();
    assert_eq!(total, 1780);
    let parent_of = |sku: &str| {
        let line = lines.iter().find(|l| l["sku"] == sku).unwrap();
        let parent = line["parentLineId"].as_str()?;
        lines
            .iter()
            .find(|l| l["id"] == parent)
            .map(|l| l["sku"].as_str().unwrap().to_owned())
    };
    assert_eq!(parent_of(&shot).as_deref(), Some(cappuccino.as_str()));
    assert_eq!(parent_of(&bun).as_deref(), Some(deal.as_str()));
    assert_eq!(parent_of(&cappuccino), None);

    // What the POS refuses, with its reason: an add-on on its own, an add-on the item does
    // not offer, a deal missing a group, too many add-ons, more add-ons than are left.
    let refused = [
        (
            json!([{"sku": shot, "quantity": 1}]),
            "can only be ordered as a sub-item",
        ),
        (
            json!([{"sku": croissant, "quantity": 1, "subItems": [{"sku": shot, "quantity": 1}]}]),
            "not found for item",
        ),
        (
            json!([{"sku": deal, "quantity": 1, "subItems": [{"sku": latte, "quantity": 1}]}]),
            "At least 1 of Pastry",
        ),
        (
            json!([{"sku": cappuccino, "quantity": 1, "subItems": [{"sku": shot, "quantity": 4}]}]),
            "At most 3 of Coffee add-ons",
        ),
        // Two shots left, after the good order took four of six.
        (
            json!([{"sku": cappuccino, "quantity": 3, "subItems": [{"sku": shot, "quantity": 1}]}]),
            "is not available",
        ),
    ];
    for (n, (items, reason)) in refused.into_iter().enumerate() {
        let reference = format!("refused-{n}");
        let (status, body) = k
            .send(
                &token,
                Method::POST,
                "/o/op/1/order/toGo",
                Some(order(&reference, items)),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let o = outcome(reference).await;
        assert_eq!(o["state"], "failed", "{o}");
        assert!(
            o["reason"].as_str().unwrap_or_default().contains(reason),
            "{o} should say {reason}"
        );
    }
}
