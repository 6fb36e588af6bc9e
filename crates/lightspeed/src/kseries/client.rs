//! The K-Series API client. One per connection: its pacer is that connection's budget.

use super::wire;
use crate::error::LightspeedError;
use crate::http::{get_json, RetryPolicy};
use crate::kseries::oauth::join;
use crate::pacing::Pacer;
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use url::Url;

#[derive(Clone)]
pub struct KClient {
    http: reqwest::Client,
    base: Url,
    pacer: Arc<Pacer>,
    policy: RetryPolicy,
}

impl KClient {
    pub fn new(http: reqwest::Client, base: Url, policy: RetryPolicy) -> Self {
        KClient {
            http,
            base,
            pacer: Arc::new(Pacer::default()),
            policy,
        }
    }

    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        token: &Secret,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, LightspeedError> {
        let url = join(&self.base, path.trim_start_matches('/'))?;
        get_json(&self.pacer, &self.policy, path, || {
            self.http
                .get(url.clone())
                .bearer_auth(token.expose())
                .query(query)
        })
        .await
    }

    /// Business discovery: `GET /o/op/data/businesses`.
    pub async fn businesses(
        &self,
        token: &Secret,
    ) -> Result<Vec<wire::OpBusiness>, LightspeedError> {
        self.get(token, "/o/op/data/businesses", &[]).await
    }

    /// Businesses with currency and location time zones: `GET /f/data/businesses`.
    pub async fn financial_businesses(
        &self,
        token: &Secret,
    ) -> Result<Vec<wire::FinancialBusiness>, LightspeedError> {
        let page: wire::FinancialBusinesses = self.get(token, "/f/data/businesses", &[]).await?;
        Ok(page.embedded.map(|e| e.business_list).unwrap_or_default())
    }

    /// One page of `GET /f/finance/{blId}/financials/{from}/{to}` with consumers and payments.
    pub async fn financials(
        &self,
        token: &Secret,
        business_location_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page_size: u32,
        next_page_token: Option<&str>,
    ) -> Result<wire::FinancialPage, LightspeedError> {
        let path = format!(
            "/f/finance/{business_location_id}/financials/{}/{}",
            from.format("%Y-%m-%dT%H:%M:%SZ"),
            to.format("%Y-%m-%dT%H:%M:%SZ")
        );
        let mut query = vec![
            ("include", "consumer,payments".to_owned()),
            ("pageSize", page_size.to_string()),
        ];
        if let Some(t) = next_page_token {
            query.push(("nextPageToken", t.to_owned()));
        }
        self.get(token, &path, &query).await
    }

    pub async fn accounting_groups(
        &self,
        token: &Secret,
        business_location_id: &str,
    ) -> Result<Vec<wire::AccountingGroup>, LightspeedError> {
        let body: wire::AccountingGroups = self
            .get(
                token,
                &format!("/f/finance/{business_location_id}/accountingGroups"),
                &[],
            )
            .await?;
        Ok(body.embedded.map(|e| e.list).unwrap_or_default())
    }
}
