//! The R-Series API V3 client for one account. Its pacer follows the leaky bucket headers.

use super::wire;
use crate::error::LightspeedError;
use crate::http::{get_json, RetryPolicy};
use crate::pacing::Pacer;
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use url::Url;

#[derive(Clone)]
pub struct RClient {
    http: reqwest::Client,
    /// `https://api.lightspeedapp.com/API/V3/`.
    base: Url,
    pacer: Arc<Pacer>,
    policy: RetryPolicy,
}

pub struct Account {
    pub id: String,
    pub name: Option<String>,
}

pub struct Shop {
    pub id: String,
    pub name: String,
    pub time_zone: Option<String>,
}

impl RClient {
    pub fn new(http: reqwest::Client, base: Url, policy: RetryPolicy) -> Self {
        let base = if base.path().ends_with('/') {
            base
        } else {
            Url::parse(&format!("{base}/")).unwrap_or(base)
        };
        // The sliding window keeps to the one-second burst limiter; the bucket model to the rest.
        RClient {
            http,
            base,
            pacer: Arc::new(Pacer::new(Some(std::time::Duration::from_secs(1)))),
            policy,
        }
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

    /// GETs an absolute URL (a `next` link, taken verbatim).
    pub async fn get_url(&self, token: &Secret, url: &Url) -> Result<Value, LightspeedError> {
        let path = url.path().to_owned();
        get_json(&self.pacer, &self.policy, &path, || {
            self.http.get(url.clone()).bearer_auth(token.expose())
        })
        .await
    }

    pub async fn account(&self, token: &Secret) -> Result<Account, LightspeedError> {
        let page = self.get_url(token, &self.url("Account.json")?).await?;
        let first = wire::entities(&page, "Account")
            .into_iter()
            .next()
            .ok_or_else(|| LightspeedError::Malformed {
                path: "/Account.json".into(),
                detail: "no account is visible to this token".into(),
            })?;
        let id = wire::text(first, "accountID").ok_or_else(|| LightspeedError::Malformed {
            path: "/Account.json".into(),
            detail: "the account has no accountID".into(),
        })?;
        Ok(Account {
            id,
            name: wire::text(first, "name"),
        })
    }

    /// Every entity of a list, following `@attributes.next`.
    async fn all(
        &self,
        token: &Secret,
        account: &str,
        entity: &str,
    ) -> Result<Vec<Value>, LightspeedError> {
        let mut url = self.url(&format!(
            "Account/{account}/{entity}.json?limit={}",
            super::PAGE_LIMIT
        ))?;
        let mut out = Vec::new();
        loop {
            let page = self.get_url(token, &url).await?;
            out.extend(wire::entities(&page, entity).into_iter().cloned());
            match wire::next_url(&page) {
                Some(next) => {
                    url = Url::parse(&next).map_err(|e| LightspeedError::Malformed {
                        path: entity.into(),
                        detail: format!("bad next link: {e}"),
                    })?
                }
                None => return Ok(out),
            }
        }
    }

    pub async fn shops(&self, token: &Secret, account: &str) -> Result<Vec<Shop>, LightspeedError> {
        Ok(self
            .all(token, account, "Shop")
            .await?
            .iter()
            .filter_map(|s| {
                Some(Shop {
                    id: wire::text(s, "shopID")?,
                    name: wire::text(s, "name").unwrap_or_default(),
                    time_zone: wire::text(s, "timeZone"),
                })
            })
            .collect())
    }

    /// Category id → name.
    pub async fn categories(
        &self,
        token: &Secret,
        account: &str,
    ) -> Result<HashMap<String, String>, LightspeedError> {
        Ok(self
            .all(token, account, "Category")
            .await?
            .iter()
            .filter_map(|c| Some((wire::text(c, "categoryID")?, wire::text(c, "name")?)))
            .collect())
    }

    /// The first page of sales changed since `since`, oldest change first, with relations.
    pub fn sales_url(&self, account: &str, since: DateTime<Utc>) -> Result<Url, LightspeedError> {
        let mut url = self.url(&format!("Account/{account}/Sale.json"))?;
        url.query_pairs_mut()
            .append_pair("load_relations", super::SALE_RELATIONS)
            .append_pair("sort", "timeStamp")
            .append_pair("limit", &super::PAGE_LIMIT.to_string())
            .append_pair(
                "timeStamp",
                &format!(">=,{}", since.format("%Y-%m-%dT%H:%M:%S+00:00")),
            );
        Ok(url)
    }
}
