//! The X-Series API 2.0 client for one store. Its pacer keeps to the store's sliding window.

use super::wire;
use crate::error::LightspeedError;
use crate::http::{get_json, send, RetryPolicy};
use crate::pacing::Pacer;
use crate::secret::Secret;
use reqwest::Method;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

#[derive(Clone)]
pub struct XClient {
    http: reqwest::Client,
    /// `https://{prefix}.retail.lightspeed.app/`.
    store: Url,
    pacer: Arc<Pacer>,
    policy: RetryPolicy,
}

impl XClient {
    pub fn new(http: reqwest::Client, store: Url, window: Duration, policy: RetryPolicy) -> Self {
        XClient {
            http,
            store,
            pacer: Arc::new(Pacer::new(Some(window))),
            policy,
        }
    }

    /// The same client with another retry policy (one attempt for sales, which have no
    /// idempotency key).
    pub fn with_policy(&self, policy: RetryPolicy) -> Self {
        XClient {
            policy,
            ..self.clone()
        }
    }

    fn url(&self, path: &str) -> Result<Url, LightspeedError> {
        self.store
            .join(&format!("api/2.0/{path}"))
            .map_err(|e| LightspeedError::BadRequest {
                status: 0,
                path: path.into(),
                detail: e.to_string(),
            })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        token: &Secret,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, LightspeedError> {
        let url = self.url(path)?;
        get_json(
            &self.pacer,
            &self.policy,
            &format!("/api/2.0/{path}"),
            || {
                self.http
                    .get(url.clone())
                    .bearer_auth(token.expose())
                    .query(query)
            },
        )
        .await
    }

    pub async fn outlets(&self, token: &Secret) -> Result<Vec<wire::Outlet>, LightspeedError> {
        Ok(self
            .get::<wire::List<wire::Outlet>>(token, "outlets", &[])
            .await?
            .data)
    }

    pub async fn registers(&self, token: &Secret) -> Result<Vec<wire::Register>, LightspeedError> {
        Ok(self
            .get::<wire::List<wire::Register>>(token, "registers", &[])
            .await?
            .data)
    }

    fn page_query(after: u64) -> Vec<(&'static str, String)> {
        vec![
            ("after", after.to_string()),
            ("page_size", super::PAGE_SIZE.to_string()),
        ]
    }

    pub async fn sales(
        &self,
        token: &Secret,
        after: u64,
    ) -> Result<wire::Page<wire::Sale>, LightspeedError> {
        self.get(token, "sales", &Self::page_query(after)).await
    }

    pub async fn products(
        &self,
        token: &Secret,
        after: u64,
    ) -> Result<wire::Page<wire::Product>, LightspeedError> {
        self.get(token, "products", &Self::page_query(after)).await
    }

    /// A page of inventory records after version `after`.
    pub async fn inventory(
        &self,
        token: &Secret,
        after: u64,
    ) -> Result<wire::Page<wire::InventoryRecord>, LightspeedError> {
        self.get(token, "inventory", &Self::page_query(after)).await
    }

    /// Every product category: `after` is the last category id seen, while `has_next`.
    pub async fn product_categories(
        &self,
        token: &Secret,
    ) -> Result<Vec<wire::CategoryRef>, LightspeedError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut query = vec![("page_size", "1000".to_owned())];
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let page: wire::CategoryPage = self.get(token, "product_categories", &query).await?;
            let last = page.page_info.as_ref().and_then(|p| p.last_seen.clone());
            out.extend(page.data.categories);
            match (page.page_info.is_some_and(|p| p.has_next), last) {
                (true, Some(l)) if after.as_ref() != Some(&l) => after = Some(l),
                _ => return Ok(out),
            }
        }
    }

    pub async fn customers(
        &self,
        token: &Secret,
        after: u64,
    ) -> Result<wire::Page<wire::Customer>, LightspeedError> {
        self.get(token, "customers", &Self::page_query(after)).await
    }

    pub async fn webhooks(&self, token: &Secret) -> Result<Vec<wire::Webhook>, LightspeedError> {
        Ok(self
            .get::<wire::List<wire::Webhook>>(token, "webhooks", &[])
            .await?
            .data)
    }

    /// Removes a webhook subscription; one that is already gone counts as removed.
    pub async fn delete_webhook(&self, token: &Secret, id: &str) -> Result<(), LightspeedError> {
        let target = self.url(&format!("webhooks/{id}"))?;
        let sent = send(
            &self.pacer,
            &self.policy,
            "/api/2.0/webhooks/{id}",
            Method::DELETE,
            || self.http.delete(target.clone()).bearer_auth(token.expose()),
        )
        .await;
        match sent {
            Err(LightspeedError::BadRequest { status: 404, .. }) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Subscribes `url` to `kind` (e.g. `sale.update`).
    pub async fn create_webhook(
        &self,
        token: &Secret,
        url: &str,
        kind: &str,
    ) -> Result<(), LightspeedError> {
        let target = self.url("webhooks")?;
        let body = serde_json::json!({ "url": url, "type": kind, "active": true });
        send(
            &self.pacer,
            &self.policy,
            "/api/2.0/webhooks",
            Method::POST,
            || {
                self.http
                    .post(target.clone())
                    .bearer_auth(token.expose())
                    .json(&body)
            },
        )
        .await?;
        Ok(())
    }

    /// Creates a product (`POST /products`) and returns its id. The answer's `data` lists the
    /// new ids (strings in the example; objects with an `id` are read too).
    pub async fn create_product(
        &self,
        token: &Secret,
        body: &serde_json::Value,
    ) -> Result<Vec<String>, LightspeedError> {
        let label = "/api/2.0/products";
        let created: wire::List<serde_json::Value> =
            self.post(token, self.url("products")?, label, body).await?;
        let ids: Vec<String> = created
            .data
            .iter()
            .filter_map(|v| {
                v.as_str()
                    .or_else(|| v.get("id").and_then(serde_json::Value::as_str))
                    .map(str::to_owned)
            })
            .collect();
        if ids.is_empty() {
            return Err(LightspeedError::Malformed {
                path: label.to_owned(),
                detail: "the answer names no product id".to_owned(),
            });
        }
        Ok(ids)
    }

    /// The store's variant attributes (`GET /variant_attributes`): what a variant family's
    /// products differ by ("Size", "Colour").
    pub async fn variant_attributes(
        &self,
        token: &Secret,
    ) -> Result<Vec<wire::VariantAttribute>, LightspeedError> {
        Ok(self
            .get::<wire::List<wire::VariantAttribute>>(token, "variant_attributes", &[])
            .await?
            .data)
    }

    /// Creates a variant attribute (`POST /variant_attributes`) and returns its id.
    pub async fn create_variant_attribute(
        &self,
        token: &Secret,
        name: &str,
    ) -> Result<String, LightspeedError> {
        let label = "/api/2.0/variant_attributes";
        let created: wire::One<wire::VariantAttribute> = self
            .post(
                token,
                self.url("variant_attributes")?,
                label,
                &serde_json::json!({ "name": name }),
            )
            .await?;
        Ok(created.data.id)
    }

    /// Deletes every product of the variant family product `id` belongs to
    /// (`DELETE /products/{id}/all`).
    pub async fn delete_family(&self, token: &Secret, id: &str) -> Result<(), LightspeedError> {
        let target = self.url(&format!("products/{id}/all"))?;
        send(
            &self.pacer,
            &self.policy,
            "/api/2.0/products/{id}/all",
            Method::DELETE,
            || self.http.delete(target.clone()).bearer_auth(token.expose()),
        )
        .await
        .map(drop)
    }

    /// Deletes a product (`DELETE /products/{id}`).
    pub async fn delete_product(&self, token: &Secret, id: &str) -> Result<(), LightspeedError> {
        let target = self.url(&format!("products/{id}"))?;
        send(
            &self.pacer,
            &self.policy,
            "/api/2.0/products/{id}",
            Method::DELETE,
            || self.http.delete(target.clone()).bearer_auth(token.expose()),
        )
        .await
        .map(drop)
    }

    async fn post<T: DeserializeOwned>(
        &self,
        token: &Secret,
        target: Url,
        label: &str,
        body: &serde_json::Value,
    ) -> Result<T, LightspeedError> {
        let text = send(&self.pacer, &self.policy, label, Method::POST, || {
            self.http
                .post(target.clone())
                .bearer_auth(token.expose())
                .json(body)
        })
        .await?;
        crate::http::decode(label, &text)
    }

    /// The store's taxes (`GET /taxes`; a store has a handful, so one page).
    pub async fn taxes(&self, token: &Secret) -> Result<Vec<wire::Tax>, LightspeedError> {
        Ok(self
            .get::<wire::List<wire::Tax>>(token, "taxes", &[])
            .await?
            .data)
    }

    pub async fn payment_types(
        &self,
        token: &Secret,
    ) -> Result<Vec<wire::PaymentType>, LightspeedError> {
        Ok(self
            .get::<wire::List<wire::PaymentType>>(token, "payment_types", &[])
            .await?
            .data)
    }

    /// Customers whose email is `email` (`GET /search?type=customers&email=`).
    pub async fn customers_by_email(
        &self,
        token: &Secret,
        email: &str,
    ) -> Result<Vec<wire::Customer>, LightspeedError> {
        let query = [
            ("type", "customers".to_owned()),
            ("email", email.to_owned()),
        ];
        Ok(self
            .get::<wire::List<wire::Customer>>(token, "search", &query)
            .await?
            .data)
    }

    /// `POST /customers` with `first_name`, `last_name`, `email`, `phone`.
    pub async fn create_customer(
        &self,
        token: &Secret,
        body: &serde_json::Value,
    ) -> Result<wire::Customer, LightspeedError> {
        let target = self.url("customers")?;
        Ok(self
            .post::<wire::One<wire::Customer>>(token, target, "/api/2.0/customers", body)
            .await?
            .data)
    }

    /// `POST /api/register_sales` (API 0.9): creates a sale; returns its id and status.
    pub async fn create_register_sale(
        &self,
        token: &Secret,
        body: &serde_json::Value,
    ) -> Result<wire::SaleHint, LightspeedError> {
        let target =
            self.store
                .join("api/register_sales")
                .map_err(|e| LightspeedError::BadRequest {
                    status: 0,
                    path: "/api/register_sales".into(),
                    detail: e.to_string(),
                })?;
        Ok(self
            .post::<wire::RegisterSaleCreated>(token, target, "/api/register_sales", body)
            .await?
            .register_sale)
    }

    /// One sale; `None` when the store has none with this id.
    pub async fn sale(
        &self,
        token: &Secret,
        id: &str,
    ) -> Result<Option<wire::Sale>, LightspeedError> {
        match self
            .get::<wire::One<wire::Sale>>(token, &format!("sales/{id}"), &[])
            .await
        {
            Ok(one) => Ok(Some(one.data)),
            Err(LightspeedError::BadRequest { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sales with this invoice number (`GET /search?type=sales&invoice_number=`).
    pub async fn sales_by_invoice(
        &self,
        token: &Secret,
        invoice_number: &str,
    ) -> Result<Vec<wire::Sale>, LightspeedError> {
        let query = [
            ("type", "sales".to_owned()),
            ("invoice_number", invoice_number.to_owned()),
        ];
        Ok(self
            .get::<wire::List<wire::Sale>>(token, "search", &query)
            .await?
            .data)
    }
}
