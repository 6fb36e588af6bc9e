//! A small JSON client for the hub API and the sandbox control API, plus the browser steps of
//! the OAuth consent flow. The demo uses it, and so do the end-to-end tests.

use anyhow::{bail, Context, Result};
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl ApiClient {
    pub fn new(base: &str, key: Option<&str>) -> Self {
        ApiClient {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            key: key.map(str::to_owned),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The API key this client sends, for requests built by hand.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Sends a request and returns the status and JSON body (whatever the status).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value)> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(k) = &self.key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path} failed"))?;
        let status = resp.status();
        let text = resp.text().await?;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, value))
    }

    /// Sends and requires a 2xx answer.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let (status, value) = self.send(method.clone(), path, body).await?;
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {value}");
        }
        Ok(value)
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::PUT, path, Some(body)).await
    }
}

/// What the merchant's browser does on the consent page: open the authorize URL, sign in and
/// choose `decision` ("allow" or "deny"). Returns where the sandbox redirects the browser
/// (the hub's callback URL with `code` and `state`), without following it.
pub async fn authorize(
    authorize_url: &str,
    username: &str,
    password: &str,
    decision: &str,
) -> Result<String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = http
        .get(authorize_url)
        .send()
        .await
        .context("opening the consent page failed")?;
    if page.status() != StatusCode::OK {
        let status = page.status();
        bail!(
            "the consent page answered {status}: {}",
            page.text().await.unwrap_or_default()
        );
    }
    let html = page.text().await?;
    if !html.contains("name=\"username\"") {
        bail!("the consent page has no sign-in form");
    }
    let url = url::Url::parse(authorize_url)?;
    let mut form: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    form.push(("username".into(), username.into()));
    form.push(("password".into(), password.into()));
    form.push(("decision".into(), decision.into()));
    let mut action = url.clone();
    action.set_query(None);
    let resp = http
        .post(action)
        .form(&form)
        .send()
        .await
        .context("submitting the consent form failed")?;
    if !resp.status().is_redirection() {
        let status = resp.status();
        bail!(
            "the consent form answered {status} instead of a redirect: {}",
            resp.text().await.unwrap_or_default()
        );
    }
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .context("the redirect has no Location")?;
    Ok(location.to_owned())
}

/// Opens a callback URL as the browser would; returns the page's status and HTML.
pub async fn open(url: &str) -> Result<(StatusCode, String)> {
    let resp = reqwest::get(url)
        .await
        .with_context(|| format!("opening {url} failed"))?;
    let status = resp.status();
    Ok((status, resp.text().await?))
}

/// The whole browser round trip: consent page, sign-in, Authorize, back to the hub's callback.
pub async fn consent(
    authorize_url: &str,
    username: &str,
    password: &str,
    decision: &str,
) -> Result<(StatusCode, String)> {
    let callback = authorize(authorize_url, username, password, decision).await?;
    open(&callback).await
}
