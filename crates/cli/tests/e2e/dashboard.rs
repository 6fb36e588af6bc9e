//! The dashboard over HTTP: sign-in, sessions and form tokens, merchant scope, connecting a
//! channel through the consent page, Test Connection, and delete with typed confirmation.
//! (The browser suite in `browser/` drives the same pages in Chromium.)

use crate::common::*;
use crate::on_both_backends;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::{json, Value};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A browser without a cookie jar of its own: cookies are kept by hand, redirects not followed.
pub(crate) struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
    /// Every page this browser saw, to look for secrets in.
    pub(crate) seen: String,
}

impl Browser {
    pub(crate) fn new(base: &url::Url) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            base: base.as_str().trim_end_matches('/').to_owned(),
            cookies: Vec::new(),
            seen: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, resp: &reqwest::Response) {
        for raw in resp.headers().get_all(SET_COOKIE) {
            let raw = raw.to_str().unwrap();
            let (pair, _) = raw.split_once(';').unwrap_or((raw, ""));
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !v.is_empty() {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) async fn get(&mut self, path: &str) -> (StatusCode, String, Option<String>) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.read(resp).await
    }

    async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, String, Option<String>) {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.read(resp).await
    }

    async fn read(&mut self, resp: reqwest::Response) -> (StatusCode, String, Option<String>) {
        self.keep(&resp);
        let status = resp.status();
        let location = resp
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = resp.text().await.unwrap();
        self.seen.push_str(&body);
        (status, body, location)
    }

    /// The form token of a page (every form of a page carries the same one).
    fn csrf(page: &str) -> String {
        let at = page.find("name=\"csrf\" value=\"").expect("a form token") + 19;
        page[at..at + page[at..].find('"').unwrap()].to_owned()
    }

    pub(crate) async fn sign_in(
        &mut self,
        email: &str,
        password: &str,
    ) -> (StatusCode, String, Option<String>) {
        let (status, page, _) = self.get("/login").await;
        assert_eq!(status, StatusCode::OK);
        let token = Browser::csrf(&page);
        self.post(
            "/login",
            &[("csrf", &token), ("email", email), ("password", password)],
        )
        .await
    }
}

async fn merchant_named(w: &World, name: &str) -> String {
    let m = w
        .api
        .post(
            "/api/v1/merchants",
            &json!({ "name": name, "timezone": "Europe/Copenhagen", "currency": "DKK" }),
        )
        .await
        .unwrap();
    m["id"].as_str().unwrap().to_owned()
}

async fn connection_status(w: &World, m: &str, c: &str) -> String {
    let v: Value = w
        .api
        .get(&format!("/api/v1/merchants/{m}/connections/{c}"))
        .await
        .unwrap();
    v["status"].as_str().unwrap().to_owned()
}

on_both_backends!(
    dashboard_signs_in_keeps_merchants_apart_and_manages_channels,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let engine = &w.hub.engine;
        let a = merchant_named(&w, "Alpha Café").await;
        let b = merchant_named(&w, "Bravo Bakery").await;
        let sm_b = w.sb.merchant(2, 5).await;
        let conn_b = w.connect(&b, &sm_b).await;
        engine
            .create_user("Admin@Example.com ", PASSWORD, None)
            .await
            .unwrap();
        engine
            .create_user("alpha@example.com", PASSWORD, Some(&a))
            .await
            .unwrap();
        // Bad input is refused with the reason and adds nobody.
        let short = engine
            .create_user("short@example.com", "tooshort", Some(&a))
            .await;
        assert!(short.unwrap_err().to_string().contains("at least 12"));
        let taken = engine
            .create_user("ADMIN@example.com", PASSWORD, None)
            .await;
        assert!(taken.unwrap_err().to_string().contains("already exists"));
        assert_eq!(engine.users(None).await.unwrap().len(), 2);

        // Signed out, every page sends the browser to sign in; forms too.
        let mut anon = Browser::new(&w.hub.url);
        for path in [
            "/",
            &format!("/merchants/{a}/channels"),
            &format!("/merchants/{b}/channels/{conn_b}"),
        ] {
            let (status, _, location) = anon.get(path).await;
            assert!(status.is_redirection(), "{path}: {status}");
            assert_eq!(location.as_deref(), Some("/login"));
        }
        let (status, _, location) = anon
            .post(
                &format!("/merchants/{b}/channels/{conn_b}/delete"),
                &[("confirm", "Lightspeed")],
            )
            .await;
        assert!(status.is_redirection());
        assert_eq!(location.as_deref(), Some("/login"));

        // The sign-in form: its token is required, a wrong password is refused inline.
        let mut alpha = Browser::new(&w.hub.url);
        let (status, page, _) = alpha.get("/login").await;
        assert_eq!(status, StatusCode::OK);
        assert!(alpha.cookie("tb_login").is_some());
        let (status, page2, _) = alpha
            .post(
                "/login",
                &[("email", "alpha@example.com"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{page2}");
        assert!(page2.contains("Reload the page"));
        let token = Browser::csrf(&page);
        let (status, page, _) = alpha
            .post(
                "/login",
                &[
                    ("csrf", &token),
                    ("email", "alpha@example.com"),
                    ("password", "not the password"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(page.contains("The e-mail or the password is wrong."));
        assert!(
            page.contains("value=\"alpha@example.com\""),
            "the e-mail is kept in the form"
        );
        assert!(alpha.cookie("tb_session").is_none());
        let (status, page, _) = alpha
            .post(
                "/login",
                &[
                    ("csrf", &token),
                    ("email", "nobody@example.com"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(page.contains("The e-mail or the password is wrong."));

        // Signed in, a merchant's user lands on their merchant's first-run steps.
        let (status, _, location) = alpha.sign_in("ALPHA@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location.as_deref(), Some("/"));
        let session = alpha.cookie("tb_session").unwrap().to_owned();
        let (_, _, location) = alpha.get("/").await;
        assert_eq!(location, Some(format!("/merchants/{a}/onboarding")));
        let (status, page, _) = alpha.get(&format!("/merchants/{a}/channels")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Sales Channels") && page.contains("Alpha Café"));
        assert!(
            page.contains("Connect Sales Channel"),
            "onboarding is offered with no channel"
        );
        assert!(!page.contains("Bravo Bakery"));
        let alpha_csrf = Browser::csrf(&page);

        // Nothing of merchant B, by any page or form, and B's connection is untouched.
        for path in [
            format!("/merchants/{b}/channels"),
            format!("/merchants/{b}/channels/new"),
            format!("/merchants/{b}/channels/{conn_b}"),
            format!("/merchants/{b}/channels/{conn_b}/settings"),
            format!("/merchants/{b}/channels/{conn_b}/log"),
            format!("/merchants/{a}/channels/{conn_b}"),
        ] {
            let (status, page, _) = alpha.get(&path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert!(!page.contains("Bravo"), "{path}");
        }
        for action in ["test", "sync", "reconnect", "delete"] {
            let (status, _, _) = alpha
                .post(
                    &format!("/merchants/{b}/channels/{conn_b}/{action}"),
                    &[("csrf", &alpha_csrf), ("confirm", "Lightspeed")],
                )
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{action}");
        }
        let (status, _, _) = alpha
            .post(
                &format!("/merchants/{b}/channels/connect"),
                &[("csrf", &alpha_csrf), ("series", "k")],
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(connection_status(&w, &b, &conn_b).await, "connected");
        assert!(
            w.api
                .get(&format!("/api/v1/merchants/{b}/connections"))
                .await
                .unwrap()["connections"]
                .as_array()
                .unwrap()
                .len()
                == 1
        );

        // The administrator sees every merchant and works on B's connection.
        let mut admin = Browser::new(&w.hub.url);
        let (status, _, _) = admin.sign_in("admin@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (status, page, _) = admin.get("/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Alpha Café") && page.contains("Bravo Bakery"));
        let (status, page, _) = admin
            .get(&format!("/merchants/{b}/channels/{conn_b}"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("data-status=\"connected\""));
        let csrf = Browser::csrf(&page);
        // Another session's form token does not do.
        let (status, _, _) = admin
            .post(
                &format!("/merchants/{b}/channels/{conn_b}/test"),
                &[("csrf", &alpha_csrf)],
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, location) = admin
            .post(
                &format!("/merchants/{b}/channels/{conn_b}/test"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, page, _) = admin.get(location.as_deref().unwrap()).await;
        assert!(page.contains("Connection test succeeded."));
        assert!(!page.contains("Last checked</th><td id=\"last-checked\">never"));
        let (status, page, _) = admin
            .get(&format!("/merchants/{b}/channels/{conn_b}/log"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("connection test succeeded"));
        let (status, page, _) = admin
            .get(&format!("/merchants/{b}/channels/{conn_b}/settings"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("id=\"mapping\""));
        // Mapping: an empty pick is refused beside its row; a location of no connection is refused.
        let pos_id = {
            let at = page.find("data-pos-location=\"").unwrap() + 19;
            page[at..at + page[at..].find('"').unwrap()].to_owned()
        };
        let map = format!("/merchants/{b}/channels/{conn_b}/map");
        let (status, page, _) = admin
            .post(
                &map,
                &[
                    ("csrf", &csrf),
                    ("pos_location_id", &pos_id),
                    ("location_id", ""),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains(&format!("id=\"map-{pos_id}-error\"")));
        assert!(page.contains("a mapping cannot be removed, only changed"));
        let (status, page, _) = admin
            .post(
                &map,
                &[
                    ("csrf", &csrf),
                    ("pos_location_id", "elsewhere"),
                    ("location_id", "loc_x"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("`elsewhere` is not a location of this connection"));

        // Delete: a wrong confirmation is refused inline and changes nothing.
        for wrong in ["", "lightspeed", "Lightspeed please"] {
            let (status, page, _) = admin
                .post(
                    &format!("/merchants/{b}/channels/{conn_b}/delete"),
                    &[("csrf", &csrf), ("confirm", wrong)],
                )
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{wrong:?}");
            assert!(page.contains("id=\"confirm-error\""), "{wrong:?}");
            assert_eq!(connection_status(&w, &b, &conn_b).await, "connected");
        }
        let (status, _, location) = admin
            .post(
                &format!("/merchants/{b}/channels/{conn_b}/delete"),
                &[("csrf", &csrf), ("confirm", "Lightspeed")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(connection_status(&w, &b, &conn_b).await, "disabled");
        let (_, page, _) = admin.get(location.as_deref().unwrap()).await;
        assert!(page.contains("Connection deleted."));
        assert!(page.contains("data-status=\"disabled\""));

        // Connecting through the dashboard: the form sends the browser to the consent page,
        // and the callback leads back to the new connection.
        let (_, page, _) = alpha.get(&format!("/merchants/{a}/channels/new")).await;
        for later in ["Shopify", "BigCommerce"] {
            assert!(page.contains(later));
        }
        let sm_a = w.sb.merchant(2, 5).await;
        let (status, _, location) = alpha
            .post(
                &format!("/merchants/{a}/channels/connect"),
                &[("csrf", &alpha_csrf), ("series", "k")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let authorize_url = location.unwrap();
        assert!(
            authorize_url.starts_with(w.sb.url.as_str()),
            "{authorize_url}"
        );
        let callback = tillbridge::client::authorize(
            &authorize_url,
            sm_a["login"]["username"].as_str().unwrap(),
            sm_a["login"]["password"].as_str().unwrap(),
            "allow",
        )
        .await
        .unwrap();
        let (status, page) = tillbridge::client::open(&callback).await.unwrap();
        assert_eq!(status, StatusCode::OK, "{page}");
        let at = page
            .find(&format!("href=\"/merchants/{a}/channels/"))
            .expect("a link back")
            + 6;
        let next = page[at..at + page[at..].find('"').unwrap()].replace("&amp;", "&");
        let (status, page, _) = alpha.get(&next).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Connected. Map your locations"));
        assert!(page.contains("data-status=\"connected\""));
        // Bad series: a clear page, nothing started.
        let (status, page, _) = alpha
            .post(
                &format!("/merchants/{a}/channels/connect"),
                &[("csrf", &alpha_csrf), ("series", "shopify")],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("shopify"));

        // No page showed a secret: the session token, a password, the API key, the sandbox's
        // client secret.
        let secret = w.sb.client_secret.as_str();
        assert!(!secret.is_empty());
        for browser in [&alpha, &admin] {
            for leak in [
                session.as_str(),
                PASSWORD,
                "tbk_",
                secret,
                "access_token",
                "refresh_token",
            ] {
                assert!(!browser.seen.contains(leak), "a page showed {leak}");
            }
        }

        // Signing out ends the session for good.
        let (status, _, location) = alpha.post("/logout", &[("csrf", &alpha_csrf)]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location.as_deref(), Some("/login"));
        alpha.cookies.push(("tb_session".into(), session.clone()));
        let (status, _, location) = alpha.get(&format!("/merchants/{a}/channels")).await;
        assert!(status.is_redirection());
        assert_eq!(location.as_deref(), Some("/login"));
        w.stop().await;
    }
);

on_both_backends!(
    dashboard_members_show_what_the_api_knows,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let m = merchant_named(&w, "Alpha Café").await;
        let other = merchant_named(&w, "Bravo Bakery").await;
        w.api
            .put(
                &format!("/api/v1/merchants/{m}/loyalty/program"),
                &json!({ "earning": { "mode": "step", "step_minor": 1000, "reward_minor": 100 } }),
            )
            .await
            .unwrap();
        w.api
            .post(
                &format!("/api/v1/merchants/{m}/punch-cards"),
                &json!({ "name": "Coffee card", "reward": "a free hot drink", "stamps_required": 10,
                         "categories": [{ "name": "Hot Drinks" }], "mode": "per_item" }),
            )
            .await
            .unwrap();
        let k = w.sb.merchant(1, 2).await;
        let conn = w.connect(&m, &k).await;
        let member = w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/members"),
                &json!({ "email": "Mia@Example.com", "name": "Mia <b>Jensen</b>" }),
            )
            .await
            .unwrap();
        let id = member["id"].as_str().unwrap().to_owned();
        w.api
            .post(
                &format!("/api/v1/merchants/{m}/members"),
                &json!({ "email": "noah@example.com" }),
            )
            .await
            .unwrap();
        sell(
            &w,
            &k,
            json!({ "customer_email": "mia@example.com", "lines": [
            { "sku": crate::loyalty::sku(&k, "Hot Drinks", 0), "quantity": 3 },
            { "sku": crate::loyalty::sku(&k, "Pastry", 0), "quantity": 2 } ] }),
        )
        .await;
        sync(&w, &m, &[&conn]).await;
        let api_member = w
            .api
            .get(&format!("/api/v1/merchants/{m}/members/{id}"))
            .await
            .unwrap();
        let balance = api_member["balance_minor"].as_i64().unwrap();
        assert!(balance > 0, "the sale earned credit: {api_member}");
        let cards = w
            .api
            .get(&format!("/api/v1/merchants/{m}/members/{id}/cards"))
            .await
            .unwrap();
        assert_eq!(cards["cards"][0]["current"], 3, "{cards}");

        engine_user(&w, "staff@alpha.example", Some(&m)).await;
        engine_user(&w, "staff@bravo.example", Some(&other)).await;
        let mut alpha = Browser::new(&w.hub.url);
        alpha.sign_in("staff@alpha.example", PASSWORD).await;
        let (status, page, _) = alpha.get(&format!("/merchants/{m}/members")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("mia@example.com") && page.contains("noah@example.com"));
        // Markup in a stored value is shown as text.
        assert!(!page.contains("<b>Jensen</b>") && page.contains("Mia &lt;b&gt;Jensen&lt;/b&gt;"));
        let (_, page, _) = alpha
            .get(&format!("/merchants/{m}/members?search=noah"))
            .await;
        assert!(page.contains("noah@example.com") && !page.contains("mia@example.com"));
        let (_, page, _) = alpha
            .get(&format!("/merchants/{m}/members?search=nobody"))
            .await;
        assert!(page.contains("No member matches."));
        let (status, page, _) = alpha
            .get(&format!("/merchants/{m}/members?segment=vip"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("`vip` is not a segment"));

        let (status, page, _) = alpha.get(&format!("/merchants/{m}/members/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        let money = tillbridge_model::display_minor(balance, "DKK");
        assert!(
            page.contains(&format!("<td id=\"balance\">{money}</td>")),
            "{money}"
        );
        assert!(page.contains("3 of 10 stamps"));
        assert!(
            page.contains("Lightspeed K-Series (Restaurant)"),
            "the order's channel"
        );
        assert!(page.contains("id=\"ledger\"") && page.contains("earned"));

        // Another merchant's user sees none of it.
        let mut bravo = Browser::new(&w.hub.url);
        bravo.sign_in("staff@bravo.example", PASSWORD).await;
        for path in [
            format!("/merchants/{m}/members"),
            format!("/merchants/{m}/members/{id}"),
            format!("/merchants/{other}/members/{id}"),
        ] {
            let (status, page, _) = bravo.get(&path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert!(!page.contains("mia@example.com"), "{path}");
        }
        w.stop().await;
    }
);

pub(crate) async fn engine_user(w: &World, email: &str, merchant_id: Option<&str>) {
    w.hub
        .engine
        .create_user(email, PASSWORD, merchant_id)
        .await
        .unwrap();
}

/// The value of a form field as the page shows it.
fn field_value(page: &str, id: &str) -> String {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no field {id}"));
    let tag = &page[at..at + page[at..].find('>').unwrap()];
    let v = tag.find("value=\"").map(|i| i + 7);
    v.map(|i| tag[i..i + tag[i..].find('"').unwrap()].to_owned())
        .unwrap_or_default()
}

on_both_backends!(
    dashboard_loyalty_program_saves_what_is_valid_and_refuses_the_rest_inline,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let m = merchant_named(&w, "Alpha Café").await;
        let other = merchant_named(&w, "Bravo Bakery").await;
        let k = w.sb.merchant(1, 2).await;
        let conn = w.connect(&m, &k).await;
        sync(&w, &m, &[&conn]).await;
        let categories = w
            .api
            .get(&format!("/api/v1/merchants/{m}/categories"))
            .await
            .unwrap();
        let hot = categories["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "Hot Drinks")
            .unwrap_or_else(|| panic!("the catalog synced Hot Drinks: {categories}"))
            .clone();
        let hot_value = format!("id:{conn}:{}", hot["external_id"].as_str().unwrap());
        let program_url = format!("/api/v1/merchants/{m}/loyalty/program");

        engine_user(&w, "staff@alpha.example", Some(&m)).await;
        let mut alpha = Browser::new(&w.hub.url);
        alpha.sign_in("staff@alpha.example", PASSWORD).await;
        let (status, page, _) = alpha.get(&format!("/merchants/{m}/loyalty")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("No punch cards yet."));
        let csrf = Browser::csrf(&page);
        let before = w.api.get(&program_url).await.unwrap();

        // Bad amounts come back beside their fields, with what was typed; nothing is saved.
        let earning = format!("/merchants/{m}/loyalty/earning");
        let (status, page, _) = alpha
            .post(
                &earning,
                &[
                    ("csrf", &csrf),
                    ("mode", "proportional"),
                    ("step", "ten"),
                    ("reward", "1.005"),
                    ("tax_basis", "excluding_tax"),
                    ("claim_window_days", "9999"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("id=\"step-error\"") && page.contains("`ten` is not an amount"));
        assert!(page.contains("id=\"reward-error\"") && page.contains("more decimals than DKK"));
        assert!(page.contains("id=\"claim_window_days-error\""));
        assert_eq!(field_value(&page, "step"), "ten", "what was typed stays");
        assert_eq!(w.api.get(&program_url).await.unwrap(), before);

        let (status, _, location) = alpha
            .post(
                &earning,
                &[
                    ("csrf", &csrf),
                    ("mode", "step"),
                    ("step", "10.00"),
                    ("reward", "1"),
                    ("tax_basis", "including_tax"),
                    ("claim_window_days", "14"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(
            location.as_deref(),
            Some(format!("/merchants/{m}/loyalty?done=earning").as_str())
        );
        let program = w.api.get(&program_url).await.unwrap();
        assert_eq!(
            program["earning"],
            json!({ "mode": "step", "step_minor": 1000, "reward_minor": 100 })
        );
        assert_eq!(program["tax_basis"], "including_tax");
        assert_eq!(program["claim_window_days"], 14);
        assert_eq!(
            program["allow_negative_balance"], false,
            "an unticked box is off"
        );
        let (_, page, _) = alpha
            .get(&format!("/merchants/{m}/loyalty?done=earning"))
            .await;
        assert_eq!(field_value(&page, "step"), "10.00");
        assert!(page.contains("Earning rule saved."));

        // Tiers: two with the same spend are refused; then saved in order, ids from names.
        let tiers = format!("/merchants/{m}/loyalty/tiers");
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("tier_id_0", ""),
            ("tier_name_0", "Gold"),
            ("tier_threshold_0", "500.00"),
            ("tier_id_1", ""),
            ("tier_name_1", "Silver"),
            ("tier_threshold_1", "500"),
            ("tier_id_2", ""),
            ("tier_name_2", ""),
            ("tier_threshold_2", ""),
            ("window", "lifetime"),
            ("policy", "never"),
        ];
        let (status, page, _) = alpha.post(&tiers, &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            page.contains("id=\"tier_threshold_1-error\"")
                && page.contains("`Gold` needs the same spend")
        );
        assert_eq!(w.api.get(&program_url).await.unwrap()["tiers"], Value::Null);
        form[6].1 = "100";
        let (status, _, _) = alpha.post(&tiers, &form).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let program = w.api.get(&program_url).await.unwrap();
        assert_eq!(
            program["tiers"],
            json!({ "tiers": [
                { "id": "silver", "name": "Silver", "threshold_minor": 10000 },
                { "id": "gold", "name": "Gold", "threshold_minor": 50000 } ],
                "window": "lifetime", "policy": "never" })
        );
        assert_eq!(
            program["earning"]["step_minor"], 1000,
            "saving tiers keeps the earning rule"
        );

        // A punch card from the category picker.
        let (status, page, _) = alpha
            .get(&format!("/merchants/{m}/loyalty/cards/new"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains(&format!("value=\"{hot_value}\"")),
            "the picker lists the synced Hot Drinks"
        );
        let cards = format!("/merchants/{m}/loyalty/cards");
        let (status, page, _) = alpha
            .post(
                &cards,
                &[
                    ("csrf", &csrf),
                    ("name", ""),
                    ("reward", "a free hot drink"),
                    ("stamps_required", "0"),
                    ("mode", "per_item"),
                    ("category", &hot_value),
                    ("active", "on"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            page.contains("id=\"name-error\"") && page.contains("id=\"stamps_required-error\"")
        );
        assert!(
            page.contains(&format!("value=\"{hot_value}\" checked")),
            "the ticked category stays ticked"
        );
        let (status, _, location) = alpha
            .post(
                &cards,
                &[
                    ("csrf", &csrf),
                    ("name", "Hot Drinks"),
                    ("reward", "a free hot drink"),
                    ("stamps_required", "10"),
                    ("mode", "per_item"),
                    ("max_per_order", "2"),
                    ("category", &hot_value),
                    ("active", "on"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{location:?}");
        let listed = w
            .api
            .get(&format!("/api/v1/merchants/{m}/punch-cards"))
            .await
            .unwrap();
        let card = &listed["punch_cards"][0];
        assert_eq!(card["name"], "Hot Drinks", "{listed}");
        assert_eq!(card["max_per_order"], 2);
        assert_eq!(
            card["categories"],
            json!([{ "connection_id": conn, "id": hot["external_id"], "name": null }])
        );
        let card_id = card["id"].as_str().unwrap().to_owned();

        // The card stamps a sale of its category (capped at 2 per order).
        w.api
            .post(
                &format!("/api/v1/merchants/{m}/members"),
                &json!({ "email": "mia@example.com" }),
            )
            .await
            .unwrap();
        sell(
            &w,
            &k,
            json!({ "customer_email": "mia@example.com", "lines": [
            { "sku": crate::loyalty::sku(&k, "Hot Drinks", 0), "quantity": 3 },
            { "sku": crate::loyalty::sku(&k, "Pastry", 0), "quantity": 2 } ] }),
        )
        .await;
        sync(&w, &m, &[&conn]).await;
        let (_, page, _) = alpha.get(&format!("/merchants/{m}/members")).await;
        let at = page.find("data-member=\"").unwrap() + 13;
        let member_id = &page[at..at + page[at..].find('"').unwrap()];
        let (_, page, _) = alpha
            .get(&format!("/merchants/{m}/members/{member_id}"))
            .await;
        assert!(page.contains("2 of 10 stamps"), "stamped by the new card");

        // Editing keeps the picked category and saves the change.
        let card_page = format!("/merchants/{m}/loyalty/cards/{card_id}");
        let (status, page, _) = alpha.get(&card_page).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(&format!("value=\"{hot_value}\" checked")));
        let (status, _, _) = alpha
            .post(
                &card_page,
                &[
                    ("csrf", &csrf),
                    ("name", "Hot Drinks"),
                    ("reward", "a free hot drink"),
                    ("stamps_required", "8"),
                    ("mode", "per_order"),
                    ("category", &hot_value),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let listed = w
            .api
            .get(&format!("/api/v1/merchants/{m}/punch-cards"))
            .await
            .unwrap();
        let card = &listed["punch_cards"][0];
        assert_eq!(card["stamps_required"], 8);
        assert_eq!(card["mode"], "per_order");
        assert_eq!(card["active"], false, "the unticked Active box pauses it");

        // Another merchant's user can neither see nor change any of it.
        engine_user(&w, "staff@bravo.example", Some(&other)).await;
        let mut bravo = Browser::new(&w.hub.url);
        bravo.sign_in("staff@bravo.example", PASSWORD).await;
        let (_, page, _) = bravo.get(&format!("/merchants/{other}/loyalty")).await;
        let bravo_csrf = Browser::csrf(&page);
        assert!(!page.contains("Hot Drinks"), "Bravo has no cards");
        for path in [format!("/merchants/{m}/loyalty"), card_page.clone()] {
            let (status, _, _) = bravo.get(&path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
        let (status, _, _) = bravo
            .post(
                &card_page,
                &[
                    ("csrf", &bravo_csrf),
                    ("name", "Mine now"),
                    ("reward", "x"),
                    ("stamps_required", "1"),
                    ("mode", "per_item"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = bravo
            .post(
                &format!("/merchants/{other}/loyalty/cards/{card_id}"),
                &[
                    ("csrf", &bravo_csrf),
                    ("name", "Mine now"),
                    ("reward", "x"),
                    ("stamps_required", "1"),
                    ("mode", "per_item"),
                ],
            )
            .await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "a card id of merchant A under B"
        );
        let listed = w
            .api
            .get(&format!("/api/v1/merchants/{m}/punch-cards"))
            .await
            .unwrap();
        assert_eq!(listed["punch_cards"][0]["name"], "Hot Drinks");
        assert!(!alpha.seen.contains(&w.sb.client_secret));
        w.stop().await;
    }
);

/// The texts of a chart's SVG (axis labels, legend), trimmed.
fn svg_texts(page: &str, chart: &str) -> Vec<String> {
    let at = page.find(&format!("id=\"{chart}\"")).unwrap();
    let figure = &page[at..at + page[at..].find("</figure>").unwrap()];
    figure
        .split("<text")
        .skip(1)
        .filter_map(|t| {
            let open = t.find('>')? + 1;
            Some(t[open..t.find("</text>")?].trim().to_owned())
        })
        .collect()
}

on_both_backends!(
    dashboard_insights_show_the_api_figures_as_charts,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let m = merchant_named(&w, "Alpha Café").await;
        let other = merchant_named(&w, "Bravo Bakery").await;
        w.api
            .put(
                &format!("/api/v1/merchants/{m}/loyalty/program"),
                &json!({ "earning": { "mode": "step", "step_minor": 1000, "reward_minor": 100 },
                         "tiers": { "tiers": [{ "id": "gold", "name": "Gold", "threshold_minor": 1 }] } }),
            )
            .await
            .unwrap();
        let k = w.sb.merchant(2, 3).await;
        let conn = w.connect(&m, &k).await;
        for email in ["mia@example.com", "noah@example.com"] {
            w.api
                .post(
                    &format!("/api/v1/merchants/{m}/members"),
                    &json!({ "email": email }),
                )
                .await
                .unwrap();
        }
        for email in ["mia@example.com", "mia@example.com", "noah@example.com"] {
            sell(
                &w,
                &k,
                json!({ "customer_email": email, "lines": [
                { "sku": crate::loyalty::sku(&k, "Hot Drinks", 0), "quantity": 2 } ] }),
            )
            .await;
        }
        sync(&w, &m, &[&conn]).await;
        let api = w
            .api
            .get(&format!(
                "/api/v1/merchants/{m}/loyalty/insights?period=week"
            ))
            .await
            .unwrap();
        let summary = &api["summary"];
        assert_eq!(summary["repeat_members"], 1, "{api}");
        assert_eq!(summary["buying_members"], 2, "{api}");

        engine_user(&w, "staff@alpha.example", Some(&m)).await;
        let mut alpha = Browser::new(&w.hub.url);
        alpha.sign_in("staff@alpha.example", PASSWORD).await;
        let (status, page, _) = alpha
            .get(&format!("/merchants/{m}/insights?period=week"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains(">50.0 %<"),
            "one of two buying members came back"
        );
        let spend = tillbridge_model::display_minor(
            summary["spend_per_member_minor"].as_i64().unwrap(),
            "DKK",
        );
        assert!(page.contains(&spend), "Spend per Member {spend}");
        let ltv = tillbridge_model::display_minor(
            api["lifetime"]["lifetime_value_minor"].as_i64().unwrap(),
            "DKK",
        );
        assert!(page.contains(&ltv), "Lifetime Value {ltv}");
        for chart in [
            "chart-repeat-rate",
            "chart-spend-per-member",
            "chart-spend-per-order",
            "chart-credit",
            "chart-segments",
            "chart-tiers",
        ] {
            let at = page
                .find(&format!("id=\"{chart}\""))
                .unwrap_or_else(|| panic!("no {chart}"));
            let svg = &page[at..at + page[at..].find("</figure>").unwrap()];
            assert!(
                svg.contains("<svg") && svg.contains("role=\"img\""),
                "{chart} is an SVG"
            );
            assert!(
                !svg.contains("style="),
                "{chart}: the page's CSP refuses inline styles"
            );
        }
        // The periods are the x axis: the first week's Monday is labelled.
        let first = api["periods"].as_array().unwrap()[0]["from"]
            .as_str()
            .unwrap()[5..]
            .to_owned();
        let repeat = svg_texts(&page, "chart-repeat-rate");
        assert!(repeat.contains(&first), "{first} in {repeat:?}");
        assert!(repeat.contains(&"0.0 %".to_owned()), "{repeat:?}");
        assert!(svg_texts(&page, "chart-tiers").contains(&"Gold".to_owned()));

        // A bad range is refused on the form.
        let (status, page, _) = alpha
            .get(&format!("/merchants/{m}/insights?period=year"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("id=\"range-error\"") && page.contains("`year` is not a period"));
        let (status, page, _) = alpha
            .get(&format!(
                "/merchants/{m}/insights?from=2026-03-01&to=2026-02-01"
            ))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("is after `to`"));

        engine_user(&w, "staff@bravo.example", Some(&other)).await;
        let mut bravo = Browser::new(&w.hub.url);
        bravo.sign_in("staff@bravo.example", PASSWORD).await;
        let (status, _, _) = bravo.get(&format!("/merchants/{m}/insights")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, page, _) = bravo.get(&format!("/merchants/{other}/insights")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            !page.contains(&spend) && page.contains(">—<"),
            "Bravo has no figures"
        );
        w.stop().await;
    }
);

on_both_backends!(
    dashboard_weekly_balance_maps_a_department_imports_and_approves,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let m = merchant_named(&w, "Alpha Café").await;
        let other = merchant_named(&w, "Bravo Bakery").await;
        let k = w.sb.merchant(3, 4).await;
        let conn = w.connect(&m, &k).await;
        let location = k["locations"][0]["id"].as_str().unwrap().to_owned();
        let day = (chrono::Utc::now() - chrono::Duration::days(2)).date_naive();
        sell(
            &w,
            &k,
            json!({ "at": [format!("{day}T10:00:00Z")], "location_id": location,
                "lines": [{ "sku": crate::loyalty::sku(&k, "Hot Drinks", 0), "quantity": 2 }] }),
        )
        .await;
        sync(&w, &m, &[&conn]).await;

        engine_user(&w, "staff@alpha.example", Some(&m)).await;
        let mut alpha = Browser::new(&w.hub.url);
        alpha.sign_in("staff@alpha.example", PASSWORD).await;
        let (status, page, _) = alpha.get(&format!("/merchants/{m}/labor")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("No departments yet"));
        let csrf = Browser::csrf(&page);

        // Settings: importing needs a channel; a bad time is refused beside its field.
        let settings = format!("/merchants/{m}/labor/settings");
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("connection_id", ""),
            ("enabled", "on"),
            ("schedule_at", "25:00"),
            ("schedule_zone", "Europe/Copenhagen"),
            ("trailing_days", "7"),
            ("vat_basis", "included"),
            ("confirm_at", "05:00"),
        ];
        let (status, page, _) = alpha.post(&settings, &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("id=\"connection_id-error\""));
        form[1].1 = &conn;
        let (status, page, _) = alpha.post(&settings, &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            page.contains("id=\"schedule_at-error\""),
            "beside the field"
        );
        let api_settings = format!("/api/v1/merchants/{m}/labor/settings");
        assert_eq!(
            w.api.get(&api_settings).await.unwrap()["enabled"],
            false,
            "nothing saved"
        );
        form[3].1 = "02:00";
        let (status, _, _) = alpha.post(&settings, &form).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let saved = w.api.get(&api_settings).await.unwrap();
        assert_eq!(saved["enabled"], true);
        assert_eq!(saved["connection_id"], conn.as_str());

        // A department: the POS location from the connection, the field mapping.
        let (_, page, _) = alpha
            .get(&format!("/merchants/{m}/labor/departments/new"))
            .await;
        assert!(
            page.contains(&format!("value=\"{location}\"")),
            "the K location is offered"
        );
        assert!(
            page.contains("Gross Sales − Discounts − Returns"),
            "field definitions"
        );
        let departments = format!("/merchants/{m}/labor/departments");
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("name", "Bar"),
            ("client_number", location.as_str()),
            ("terminals", ""),
            ("timezone", "Europe/Copenhagen"),
            ("business_day_start", "00:00"),
            ("use_net_sales", "on"),
            ("number_net_sales", ""),
            ("name_net_sales", "Omsætning"),
            ("hourly_net_sales", "on"),
            ("use_transactions", "on"),
            ("number_transactions", "200"),
            ("name_transactions", ""),
        ];
        let (status, page, _) = alpha.post(&departments, &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("id=\"number_net_sales-error\""));
        assert!(page.contains("value=\"Omsætning\""), "what was typed stays");
        form[7].1 = "100";
        let (status, _, _) = alpha.post(&departments, &form).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let listed = w
            .api
            .get(&format!("/api/v1/merchants/{m}/labor/departments"))
            .await
            .unwrap();
        let dept = &listed["departments"][0];
        assert_eq!(dept["client_number"], location.as_str(), "{listed}");
        let fields = dept["fields"].as_array().unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0]["number"], "100");
        assert_eq!(fields[0]["name"], "Omsætning");
        assert_eq!(fields[0]["hourly"], true);
        assert_eq!(
            fields[1]["name"], "Transactions",
            "an empty name takes the type's"
        );
        assert_eq!(fields[1]["hourly"], false);
        let dept_id = dept["id"].as_str().unwrap().to_owned();

        // Tools › Import POS: a reversed range is refused; then the import runs.
        let import = format!("/merchants/{m}/labor/import");
        let (_, page, _) = alpha.get(&import).await;
        assert!(page.contains("No imports yet."));
        let (from, until) = (
            (day - chrono::Duration::days(1)).to_string(),
            day.to_string(),
        );
        let (status, page, _) = alpha
            .post(
                &import,
                &[
                    ("csrf", &csrf),
                    ("department", &dept_id),
                    ("from", &until),
                    ("until", &from),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("id=\"from-error\"") && page.contains("is after `until`"));
        let (status, _, _) = alpha
            .post(
                &import,
                &[
                    ("csrf", &csrf),
                    ("department", &dept_id),
                    ("from", &from),
                    ("until", &until),
                    ("overwrite_approved", "on"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(w.drain().await.is_empty());
        let (_, page, _) = alpha.get(&import).await;
        assert!(page.contains("data-state=\"succeeded\""), "the import ran");
        assert!(page.contains("2 of 2 days") && page.contains("overwrites approved"));
        assert!(page.contains("dashboard user staff@alpha.example"));

        // The week grid shows what the API has, with the day's hourly detail.
        let api_day = &w
            .api
            .get(&format!(
                "/api/v1/merchants/{m}/labor/departments/{dept_id}/balance?from={day}&until={day}"
            ))
            .await
            .unwrap()["days"][0];
        let net = api_day["totals"]["net_sales"].as_i64().unwrap();
        assert!(net > 0, "{api_day}");
        let week = format!("/merchants/{m}/labor/departments/{dept_id}/week?week={day}&day={day}");
        let (status, page, _) = alpha.get(&week).await;
        assert_eq!(status, StatusCode::OK);
        let net_text = tillbridge_model::decimal_minor(net, "DKK");
        assert!(page.contains(&format!("<td>{net_text}</td>")), "{net_text}");
        assert!(page.contains("id=\"hourly\"") && page.contains("Imported"));
        let hour = api_day["values"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["field_type"] == "net_sales" && v["hour"].is_i64())
            .unwrap()["hour"]
            .as_i64()
            .unwrap();
        assert!(page.contains(&format!("{hour:02}:00")));

        // Approve the day; the grid shows it.
        let confirm = format!("/merchants/{m}/labor/departments/{dept_id}/days/{day}/confirm");
        let (status, _, location_header) = alpha.post(&confirm, &[("csrf", &csrf)]).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{location_header:?}");
        let approved = w
            .api
            .get(&format!(
                "/api/v1/merchants/{m}/labor/departments/{dept_id}/balance?from={day}&until={day}"
            ))
            .await
            .unwrap();
        assert!(approved["days"][0]["confirmed_at"].is_i64(), "{approved}");
        let (_, page, _) = alpha.get(&week).await;
        assert!(page.contains(">Approved<") && page.contains("Reopen"));

        // Another merchant's user sees and changes none of it.
        engine_user(&w, "staff@bravo.example", Some(&other)).await;
        let mut bravo = Browser::new(&w.hub.url);
        bravo.sign_in("staff@bravo.example", PASSWORD).await;
        let (_, page, _) = bravo.get(&format!("/merchants/{other}/labor")).await;
        let bravo_csrf = Browser::csrf(&page);
        assert!(!page.contains("Bar"));
        for path in [
            format!("/merchants/{m}/labor"),
            week.clone(),
            import.clone(),
        ] {
            let (status, _, _) = bravo.get(&path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
        let reopen = format!("/merchants/{other}/labor/departments/{dept_id}/days/{day}/reopen");
        let (status, _, _) = bravo.post(&reopen, &[("csrf", &bravo_csrf)]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "A's department under B");
        let still = w
            .api
            .get(&format!(
                "/api/v1/merchants/{m}/labor/departments/{dept_id}/balance?from={day}&until={day}"
            ))
            .await
            .unwrap();
        assert!(still["days"][0]["confirmed_at"].is_i64());
        w.stop().await;
    }
);

on_both_backends!(
    dashboard_onboarding_saves_or_skips_each_step,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let m = merchant_named(&w, "Alpha Café").await;
        let other = merchant_named(&w, "Bravo Bakery").await;
        engine_user(&w, "staff@alpha.example", Some(&m)).await;
        let mut alpha = Browser::new(&w.hub.url);
        let (_, _, to) = alpha.sign_in("staff@alpha.example", PASSWORD).await;
        assert_eq!(to.as_deref(), Some("/"));
        let (_, _, to) = alpha.get("/").await;
        let onboarding = format!("/merchants/{m}/onboarding");
        assert_eq!(
            to.as_deref(),
            Some(onboarding.as_str()),
            "a new merchant starts here"
        );
        let (status, page, _) = alpha.get(&onboarding).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("data-step=\"connect_channel\"")
                && page.contains("Nothing is connected yet.")
        );
        let csrf = Browser::csrf(&page);

        // Save & Continue needs a connection; skipping does not.
        let step = |key: &str| format!("/merchants/{m}/onboarding/{key}");
        let (status, page, _) = alpha
            .post(
                &step("connect_channel"),
                &[("csrf", &csrf), ("action", "continue")],
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            page.contains("id=\"onboarding-error\"")
                && page.contains("No sales channel is connected yet")
        );
        let (status, _, to) = alpha
            .post(
                &step("connect_channel"),
                &[("csrf", &csrf), ("action", "skip")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(to.as_deref(), Some(onboarding.as_str()));
        let (_, page, _) = alpha.get(&onboarding).await;
        assert!(
            page.contains("<h2 id=\"step-title\">Loyalty program</h2>"),
            "the next step"
        );
        assert!(page.contains("data-step=\"connect_channel\" data-state=\"skipped\""));

        // The loyalty step continues once the program earns.
        w.api
            .put(
                &format!("/api/v1/merchants/{m}/loyalty/program"),
                &json!({ "earning": { "mode": "step", "step_minor": 1000, "reward_minor": 100 } }),
            )
            .await
            .unwrap();
        let (status, _, _) = alpha
            .post(
                &step("loyalty_program"),
                &[("csrf", &csrf), ("action", "continue")],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, page, _) = alpha.get(&onboarding).await;
        assert!(page.contains("<h2 id=\"step-title\">Weekly balance</h2>"));
        assert!(page.contains("data-step=\"loyalty_program\" data-state=\"done\""));
        let (status, _, _) = alpha
            .post(
                &step("weekly_balance"),
                &[("csrf", &csrf), ("action", "later")],
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "an unknown choice"
        );
        alpha
            .post(
                &step("weekly_balance"),
                &[("csrf", &csrf), ("action", "skip")],
            )
            .await;
        let (_, _, to) = alpha.get(&onboarding).await;
        assert_eq!(
            to.as_deref(),
            Some(format!("/merchants/{m}/channels?done=onboarded").as_str()),
            "every step is saved or skipped"
        );
        let (_, _, to) = alpha.get("/").await;
        assert_eq!(
            to.as_deref(),
            Some(format!("/merchants/{m}/channels").as_str())
        );
        // Any step can be opened again.
        let (status, page, _) = alpha
            .get(&format!("{onboarding}?step=connect_channel"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("<h2 id=\"step-title\">Connect Sales Channel</h2>"));

        // Another merchant's user can neither see nor decide them.
        engine_user(&w, "staff@bravo.example", Some(&other)).await;
        let mut bravo = Browser::new(&w.hub.url);
        bravo.sign_in("staff@bravo.example", PASSWORD).await;
        let (_, page, _) = bravo.get(&format!("/merchants/{other}/onboarding")).await;
        let bravo_csrf = Browser::csrf(&page);
        let (status, _, _) = bravo.get(&onboarding).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = bravo
            .post(
                &step("weekly_balance"),
                &[("csrf", &bravo_csrf), ("action", "skip")],
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        w.stop().await;
    }
);

on_both_backends!(
    dashboard_sign_in_waits_after_five_failures,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        engine_user(&w, "admin@example.com", None).await;
        let mut b = Browser::new(&w.hub.url);
        for _ in 0..5 {
            let (status, page, _) = b.sign_in("Admin@Example.com", "wrong password 123").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert!(page.contains("The e-mail or the password is wrong."));
        }
        // Now even the right password waits, and says how long.
        let (status, page, _) = b.sign_in("admin@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            page.contains("Too many failed sign-ins for this e-mail. Try again in 15 minute(s)")
        );
        assert!(b.cookie("tb_session").is_none());
        // An unknown e-mail is treated the same, so the answers tell nothing about who exists.
        for _ in 0..5 {
            b.sign_in("nobody@example.com", "wrong password 123").await;
        }
        let (status, _, _) = b.sign_in("nobody@example.com", "wrong password 123").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        // Another e-mail is not held back.
        engine_user(&w, "staff@example.com", None).await;
        let (status, _, _) = b.sign_in("staff@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        // An administrator setting a new password lifts the wait.
        w.hub
            .engine
            .set_user_password("admin@example.com", "a brand new password")
            .await
            .unwrap();
        let (status, _, _) = b.sign_in("admin@example.com", "a brand new password").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        w.stop().await;
    }
);

/// The dashboard benchmark runs end to end on a small data set: every page answers and is
/// timed (no timing is asserted).
#[tokio::test]
async fn the_dashboard_benchmark_times_every_page() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    tillbridge::bench_dashboard::dashboard(tillbridge::bench_dashboard::DashboardOptions {
        members: 300,
        sales_per_day: 3,
        requests: 2,
        database_url: None,
        json: Some(json.clone()),
        seed: 3,
    })
    .await
    .unwrap();
    let figures: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(figures["members"], 300);
    assert!(figures["orders"].as_u64().unwrap() >= 365 * 3);
    let pages = figures["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 11, "{figures}");
    assert_eq!(pages[0]["path"], "/login", "the baseline comes first");
    for p in pages {
        assert!(p["median_ms"].as_f64().unwrap() > 0.0, "{p}");
        assert!(p["slowest_ms"].as_f64().unwrap() >= p["median_ms"].as_f64().unwrap());
    }
}

on_both_backends!(
    dashboard_catalog_and_financials_show_what_the_api_knows,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let m = merchant_named(&w, "Alpha Café").await;
        let other = merchant_named(&w, "Bravo Bakery").await;
        let k = w.sb.merchant(3, 6).await;
        let conn = w.connect(&m, &k).await;
        assert!(w.drain().await.is_empty());
        engine_user(&w, "staff@alpha.example", Some(&m)).await;
        engine_user(&w, "staff@bravo.example", Some(&other)).await;
        let mut alpha = Browser::new(&w.hub.url);
        alpha.sign_in("staff@alpha.example", PASSWORD).await;

        // Catalog: every item of every location, with its price.
        let items = catalog(&w, &m, &conn).await;
        assert!(!items.is_empty(), "the catalog is empty");
        let (status, page, _) = alpha.get(&format!("/merchants/{m}/catalog")).await;
        assert_eq!(status, StatusCode::OK);
        let rows = page.matches("data-sku=").count();
        assert_eq!(rows, items.len(), "one row per item and location");
        let mut with_instructions = 0;
        for item in &items {
            let sku = item["sku"].as_str().unwrap();
            assert!(page.contains(&format!("data-sku=\"{sku}\"")), "{sku}");
            let price =
                tillbridge_model::display_minor(item["price_minor"].as_i64().unwrap(), "DKK");
            assert!(page.contains(&price), "{sku}: {price}");
            // The row of this item at its location lists its production instructions.
            let pos = item["pos_location_id"].as_str().unwrap();
            let section = &page[page.find(&format!("data-location=\"{pos}\"")).unwrap()..];
            let row = &section[section.find(&format!("data-sku=\"{sku}\"")).unwrap()..];
            let row = &row[..row.find("</tr>").unwrap()];
            for group in item["instructions"].as_array().unwrap() {
                with_instructions += 1;
                assert!(
                    row.contains(&format!("{}: ", group["name"].as_str().unwrap())),
                    "{row}"
                );
                for i in group["instructions"].as_array().unwrap() {
                    assert!(row.contains(i["name"].as_str().unwrap()), "{row}");
                }
            }
        }
        assert!(
            with_instructions > 0,
            "the café's drinks have production instructions"
        );
        // Financials: the last week by default, each day's total as the API reports it.
        let (status, page, _) = alpha.get(&format!("/merchants/{m}/financials")).await;
        assert_eq!(status, StatusCode::OK);
        let until = field_value(&page, "until");
        let from = field_value(&page, "from");
        let report = w
            .api
            .get(&format!(
                "/api/v1/merchants/{m}/financials?from={from}&until={until}"
            ))
            .await
            .unwrap();
        let locations = report["locations"].as_array().unwrap();
        assert!(!locations.is_empty());
        let mut sold = 0;
        for l in locations {
            let pos = l["pos_location_id"].as_str().unwrap();
            let section = &page[page.find(&format!("data-location=\"{pos}\"")).unwrap()..];
            let days = l["days"].as_array().unwrap();
            assert_eq!(days.len(), 7, "a week");
            for d in days {
                let date = d["business_date"].as_str().unwrap();
                let row = &section[section.find(&format!("data-date=\"{date}\"")).unwrap()..];
                let row = &row[..row.find("</tr>").unwrap()];
                let total =
                    tillbridge_model::display_minor(d["total_minor"].as_i64().unwrap(), "DKK");
                assert!(row.contains(&total), "{pos} {date}: {total} in {row}");
                assert_eq!(row.contains("open"), d["closed"] == false, "{row}");
                sold += d["orders"].as_i64().unwrap();
            }
            let total = tillbridge_model::display_minor(
                l["totals"]["total_minor"].as_i64().unwrap(),
                "DKK",
            );
            let row = &section[section.find("data-date=\"total\"").unwrap()..];
            assert!(row[..row.find("</tr>").unwrap()].contains(&total));
        }
        assert!(sold > 0, "the history's sales are in the week");
        // A range of its own; a date that is not one is refused, saying so.
        let (status, page, _) = alpha
            .get(&format!(
                "/merchants/{m}/financials?from={until}&until={until}"
            ))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page.matches("data-date=\"").count(), 2 * locations.len());
        let (status, page, _) = alpha
            .get(&format!("/merchants/{m}/financials?from=yesterday"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("`yesterday` is not a date"), "{page}");
        let (status, page, _) = alpha
            .get(&format!(
                "/merchants/{m}/financials?from={until}&until={from}"
            ))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("is before"), "{page}");

        // Another merchant's user sees none of it.
        let mut bravo = Browser::new(&w.hub.url);
        bravo.sign_in("staff@bravo.example", PASSWORD).await;
        for path in [
            format!("/merchants/{m}/catalog"),
            format!("/merchants/{m}/financials"),
        ] {
            let (status, _, _) = bravo.get(&path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }

        // An X-Series shop's variant shows what sets it apart in its family.
        let x = w.sb.merchant_x(1, 2).await;
        let xc = w.connect(&m, &x).await;
        assert!(w.drain().await.is_empty());
        let medium = catalog(&w, &m, &xc)
            .await
            .into_iter()
            .find(|i| i["name"] == "T-Shirt / M")
            .unwrap();
        let (_, page, _) = alpha.get(&format!("/merchants/{m}/catalog")).await;
        let pos = medium["pos_location_id"].as_str().unwrap();
        let section = &page[page.find(&format!("data-location=\"{pos}\"")).unwrap()..];
        let row = &section[section
            .find(&format!("data-sku=\"{}\"", medium["sku"].as_str().unwrap()))
            .unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains("T-Shirt / M")
                && row.contains("Size: M")
                && row.contains("variant of T-Shirt"),
            "{row}"
        );
        w.stop().await;
    }
);
