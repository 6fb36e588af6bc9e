//! The O-Series API client for one account.

use crate::error::LightspeedError;
use crate::http::{get_json, send, RetryPolicy};
use crate::pacing::Pacer;
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use url::Url;

#[derive(Clone)]
pub struct OClient {
    http: reqwest::Client,
    /// `{base}/v1/`.
    base: Url,
    pacer: Arc<Pacer>,
    policy: RetryPolicy,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Me {
    pub restaurant_group: Group,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Group {
    pub id: String,
    pub name: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Category {
    pub id: String,
    pub name: String,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Location {
    pub id: String,
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub currency: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Data<T> {
    pub data: Vec<T>,
}

/// A page of checks, kept as JSON for [`super::map`].
#[derive(Deserialize, Debug, Clone)]
pub struct ChecksPage {
    pub data: Vec<Value>,
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub secret: Secret,
}

impl OClient {
    /// `base` is the O-Series host (the sandbox's `{url}/oseries`).
    pub fn new(
        http: reqwest::Client,
        base: &Url,
        policy: RetryPolicy,
    ) -> Result<Self, LightspeedError> {
        let base =
            Url::parse(&format!("{}/v1/", base.as_str().trim_end_matches('/'))).map_err(|e| {
                LightspeedError::BadRequest {
                    status: 0,
                    path: "base_url".into(),
                    detail: e.to_string(),
                }
            })?;
        Ok(OClient {
            http,
            base,
            pacer: Arc::new(Pacer::default()),
            policy,
        })
    }

    fn url(&self, path: &str) -> Result<Url, LightspeedError> {
        self.base
            .join(path)
            .map_err(|e| LightspeedError::BadRequest {
                status: 0,
                path: path.into(),
                detail: e.to_string(),
            })
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        token: &Secret,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, LightspeedError> {
        let url = self.url(path)?;
        get_json(&self.pacer, &self.policy, &format!("/v1/{path}"), || {
            self.http
                .get(url.clone())
                .bearer_auth(token.expose())
                .query(query)
        })
        .await
    }

    pub async fn me(&self, token: &Secret) -> Result<Me, LightspeedError> {
        self.get(token, "me", &[]).await
    }

    pub async fn locations(&self, token: &Secret) -> Result<Vec<Location>, LightspeedError> {
        Ok(self
            .get::<Data<Location>>(token, "locations", &[])
            .await?
            .data)
    }

    /// The menu categories: `{data: [{id, name}]}`.
    pub async fn menu_categories(&self, token: &Secret) -> Result<Vec<Category>, LightspeedError> {
        Ok(self
            .get::<Data<Category>>(token, "menu/categories", &[])
            .await?
            .data)
    }

    /// Checks changed since `since` (oldest first), or the page after `cursor`.
    pub async fn checks(
        &self,
        token: &Secret,
        since: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<ChecksPage, LightspeedError> {
        let mut query = vec![
            ("updated_since", since.to_rfc3339()),
            ("limit", super::PAGE_LIMIT.to_string()),
        ];
        if let Some(c) = cursor {
            query.push(("cursor", c.to_owned()));
        }
        self.get(token, "checks", &query).await
    }

    /// Subscribes `url` to check events; returns the signing secret.
    pub async fn subscribe(
        &self,
        token: &Secret,
        url: &str,
    ) -> Result<Subscription, LightspeedError> {
        let target = self.url("webhooks")?;
        let body = serde_json::json!({ "url": url, "events": ["check.closed", "check.updated"] });
        let text = send(
            &self.pacer,
            &self.policy,
            "/v1/webhooks",
            Method::POST,
            || {
                self.http
                    .post(target.clone())
                    .bearer_auth(token.expose())
                    .json(&body)
            },
        )
        .await?;
        serde_json::from_str(&text).map_err(|e| LightspeedError::Malformed {
            path: "/v1/webhooks".into(),
            detail: e.to_string(),
        })
    }
}
