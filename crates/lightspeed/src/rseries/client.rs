//! The R-Series API V3 client for one account. Its pacer follows the leaky bucket headers.

use super::wire;
use crate::error::LightspeedError;
use crate::http::{get_json, send, RetryPolicy};
use crate::pacing::Pacer;
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use reqwest::Method;
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

pub use super::wire::{Account, Item, ItemStock, Shop};

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

    /// The same client with another retry policy (one attempt for sales, which have no
    /// idempotency key).
    pub fn with_policy(&self, policy: RetryPolicy) -> Self {
        RClient {
            policy,
            ..self.clone()
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
            .filter_map(wire::shop)
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
            .filter_map(wire::category)
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

    /// The first entity of a filtered list, or `None`.
    async fn first(
        &self,
        token: &Secret,
        account: &str,
        entity: &str,
        query: &[(&str, &str)],
    ) -> Result<Option<Value>, LightspeedError> {
        let mut url = self.url(&format!("Account/{account}/{entity}.json"))?;
        url.query_pairs_mut().extend_pairs(query);
        let page = self.get_url(token, &url).await?;
        Ok(wire::entities(&page, entity).into_iter().next().cloned())
    }

    async fn create(
        &self,
        token: &Secret,
        account: &str,
        entity: &str,
        body: &Value,
    ) -> Result<Value, LightspeedError> {
        self.write(
            token,
            Method::POST,
            &format!("Account/{account}/{entity}.json"),
            &format!("/Account/{{id}}/{entity}.json"),
            entity,
            Some(body),
        )
        .await
    }

    /// Sends a write and returns the entity the answer holds.
    async fn write(
        &self,
        token: &Secret,
        method: Method,
        path: &str,
        label: &str,
        entity: &str,
        body: Option<&Value>,
    ) -> Result<Value, LightspeedError> {
        let url = self.url(path)?;
        let text = send(&self.pacer, &self.policy, label, method.clone(), || {
            crate::http::authorized(&self.http, method.clone(), &url, token, body)
        })
        .await?;
        let page: Value = serde_json::from_str(&text).map_err(|e| LightspeedError::Malformed {
            path: label.to_owned(),
            detail: format!("{e} in {}", crate::http::snippet(&text)),
        })?;
        wire::entities(&page, entity)
            .into_iter()
            .next()
            .cloned()
            .ok_or_else(|| LightspeedError::Malformed {
                path: label.to_owned(),
                detail: format!("the answer holds no {entity}"),
            })
    }

    /// An item as the answer to a write holds it.
    fn written_item(v: &Value, label: &str) -> Result<Item, LightspeedError> {
        wire::item(v).ok_or_else(|| LightspeedError::Malformed {
            path: label.to_owned(),
            detail: "the item has no itemID or SKU".into(),
        })
    }

    /// Creates an item (`POST Item.json` with `description`, `customSku`, `categoryID` and
    /// `Prices.ItemPrice`); returns it as created.
    pub async fn create_item(
        &self,
        token: &Secret,
        account: &str,
        body: &Value,
    ) -> Result<Item, LightspeedError> {
        let v = self.create(token, account, "Item", body).await?;
        Self::written_item(&v, "/Account/{id}/Item.json")
    }

    /// Changes the fields `body` names on item `item_id` (`PUT Item/{itemID}.json`).
    pub async fn update_item(
        &self,
        token: &Secret,
        account: &str,
        item_id: &str,
        body: &Value,
    ) -> Result<Item, LightspeedError> {
        let label = "/Account/{id}/Item/{itemID}.json";
        let v = self
            .write(
                token,
                Method::PUT,
                &format!("Account/{account}/Item/{item_id}.json"),
                label,
                "Item",
                Some(body),
            )
            .await?;
        Self::written_item(&v, label)
    }

    /// Archives item `item_id` (`DELETE Item/{itemID}.json`): it leaves the lists and stays in
    /// past sales.
    pub async fn archive_item(
        &self,
        token: &Secret,
        account: &str,
        item_id: &str,
    ) -> Result<(), LightspeedError> {
        self.write(
            token,
            Method::DELETE,
            &format!("Account/{account}/Item/{item_id}.json"),
            "/Account/{id}/Item/{itemID}.json",
            "Item",
            None,
        )
        .await
        .map(|_| ())
    }

    /// The item that is not archived with this custom SKU, or else this system SKU.
    pub async fn item_by_sku(
        &self,
        token: &Secret,
        account: &str,
        sku: &str,
    ) -> Result<Option<Item>, LightspeedError> {
        let filter = format!("=,{sku}");
        for field in ["customSku", "systemSku"] {
            let found = self
                .first(token, account, "Item", &[(field, filter.as_str())])
                .await?
                .and_then(|v| wire::item(&v))
                .filter(|i| i.sku == sku);
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// Payment type id → name.
    pub async fn payment_types(
        &self,
        token: &Secret,
        account: &str,
    ) -> Result<Vec<(String, String)>, LightspeedError> {
        Ok(self
            .all(token, account, "PaymentType")
            .await?
            .iter()
            .filter_map(wire::payment_type)
            .collect())
    }

    /// Every item that is not archived.
    pub async fn items(&self, token: &Secret, account: &str) -> Result<Vec<Item>, LightspeedError> {
        Ok(self
            .all(token, account, "Item")
            .await?
            .iter()
            .filter_map(wire::item)
            .collect())
    }

    /// The stock of every item at every shop (`ItemShop`), without the all-shops summary
    /// records (`shopID` 0).
    pub async fn item_stock(
        &self,
        token: &Secret,
        account: &str,
    ) -> Result<Vec<ItemStock>, LightspeedError> {
        Ok(self
            .all(token, account, "ItemShop")
            .await?
            .iter()
            .filter_map(wire::item_stock)
            .collect())
    }

    /// The id of a customer whose primary email is `email` (`Contact.email` filter).
    pub async fn customer_by_email(
        &self,
        token: &Secret,
        account: &str,
        email: &str,
    ) -> Result<Option<String>, LightspeedError> {
        let filter = format!("=,{email}");
        Ok(self
            .first(
                token,
                account,
                "Customer",
                &[
                    ("load_relations", "[\"Contact\"]"),
                    ("Contact.email", &filter),
                ],
            )
            .await?
            .and_then(|c| wire::text(&c, "customerID")))
    }

    /// `POST Customer.json`; returns the new customer's id.
    pub async fn create_customer(
        &self,
        token: &Secret,
        account: &str,
        body: &Value,
    ) -> Result<String, LightspeedError> {
        let customer = self.create(token, account, "Customer", body).await?;
        wire::text(&customer, "customerID").ok_or_else(|| LightspeedError::Malformed {
            path: "/Customer.json".into(),
            detail: "the new customer has no customerID".into(),
        })
    }

    /// `POST Sale.json`; returns the sale as created.
    pub async fn create_sale(
        &self,
        token: &Secret,
        account: &str,
        body: &Value,
    ) -> Result<Value, LightspeedError> {
        self.create(token, account, "Sale", body).await
    }

    /// One sale with its payments; `None` when there is none with this id.
    pub async fn sale(
        &self,
        token: &Secret,
        account: &str,
        sale_id: &str,
    ) -> Result<Option<Value>, LightspeedError> {
        let mut url = self.url(&format!("Account/{account}/Sale/{sale_id}.json"))?;
        url.query_pairs_mut()
            .append_pair("load_relations", "[\"SalePayments\"]");
        match self.get_url(token, &url).await {
            Ok(page) => Ok(wire::entities(&page, "Sale").into_iter().next().cloned()),
            Err(LightspeedError::BadRequest { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The sale with this `referenceNumber`, or `None`.
    pub async fn sale_by_reference(
        &self,
        token: &Secret,
        account: &str,
        reference: &str,
    ) -> Result<Option<Value>, LightspeedError> {
        let filter = format!("=,{reference}");
        self.first(
            token,
            account,
            "Sale",
            &[
                ("load_relations", "[\"SalePayments\"]"),
                ("referenceNumber", &filter),
            ],
        )
        .await
    }
}
