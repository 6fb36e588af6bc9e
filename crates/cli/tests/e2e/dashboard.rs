//! The dashboard over HTTP: sign-in, sessions and form tokens, merchant scope, connecting a
//! channel through the consent page, Test Connection, and delete with typed confirmation.
//! (The browser suite in `browser/` drives the same pages in Chromium.)

use crate::common::*;
use crate::on_both_backends;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery staple";

/// A browser without a cookie jar of its own: cookies are kept by hand, redirects not followed.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
    /// Every page this browser saw, to look for secrets in.
    seen: String,
}

impl Browser {
    fn new(base: &url::Url) -> Browser {
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

    async fn get(&mut self, path: &str) -> (StatusCode, String, Option<String>) {
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

    async fn sign_in(
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

        // Signed in, a merchant's user lands on their merchant's Sales Channels.
        let (status, _, location) = alpha.sign_in("ALPHA@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(location.as_deref(), Some("/"));
        let session = alpha.cookie("tb_session").unwrap().to_owned();
        let (_, _, location) = alpha.get("/").await;
        assert_eq!(location, Some(format!("/merchants/{a}/channels")));
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
