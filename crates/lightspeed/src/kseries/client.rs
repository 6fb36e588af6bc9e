//! The K-Series API client. One per connection: its pacer is that connection's budget.

use super::wire;
use crate::error::LightspeedError;
use crate::http::{decode, get_json, send, RetryPolicy};
use crate::kseries::oauth::join;
use crate::pacing::Pacer;
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use reqwest::Method;
use std::sync::Arc;
use url::Url;

/// K-Series publishes no rate limit and sends no budget headers. The pacer assumes a bucket of
/// 20 requests draining at five a second (what the sandbox enforces; conservative for a real
/// business) and, as for an announced bucket, keeps one unit of it in reserve, so requests
/// bunched on their way never overdraw the server's: a connection's webhook and catalog calls
/// share the budget with its backfill without a 429. A 429 still widens the gap between requests.
pub const ASSUMED_BUCKET: f64 = 20.0;
/// Requests per second the assumed bucket drains.
pub const ASSUMED_RATE: f64 = 5.0;

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
            pacer: Arc::new(Pacer::default().with_assumed_bucket(ASSUMED_BUCKET, ASSUMED_RATE)),
            policy,
        }
    }

    /// The same client (sharing its pacer, so one budget) with another retry policy.
    pub fn with_policy(&self, policy: RetryPolicy) -> Self {
        KClient {
            policy,
            ..self.clone()
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

    /// The payment methods of a business location (`GET /f/finance/{blId}/paymentMethods`).
    pub async fn payment_methods(
        &self,
        token: &Secret,
        business_location_id: &str,
    ) -> Result<Vec<wire::PaymentMethod>, LightspeedError> {
        let body: wire::PaymentMethods = self
            .get(
                token,
                &format!("/f/finance/{business_location_id}/paymentMethods"),
                &[],
            )
            .await?;
        Ok(body.embedded.map(|e| e.list).unwrap_or_default())
    }

    /// The floor plans of a business location with their tables
    /// (`GET /o/op/data/{blId}/floorplans?expandTables=true`); empty when none are configured
    /// (Lightspeed answers 404).
    pub async fn floor_plans(
        &self,
        token: &Secret,
        business_location_id: &str,
    ) -> Result<Vec<wire::FloorPlan>, LightspeedError> {
        match self
            .get(
                token,
                &format!("/o/op/data/{business_location_id}/floorplans"),
                &[("expandTables", "true".to_owned())],
            )
            .await
        {
            Ok(plans) => Ok(plans),
            Err(LightspeedError::BadRequest { status: 404, .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Sends a JSON body (or none) with `method` and returns the 2xx body.
    async fn call(
        &self,
        token: &Secret,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<String, LightspeedError> {
        let url = join(&self.base, path.trim_start_matches('/'))?;
        send(&self.pacer, &self.policy, path, method.clone(), || {
            crate::http::authorized(&self.http, method.clone(), &url, token, body)
        })
        .await
    }

    /// Registers a webhook endpoint (`PUT /o/wh/1/webhook`), or updates it
    /// (`POST /o/wh/1/webhook`) when one with this endpoint id already exists (409).
    pub async fn register_webhook(
        &self,
        token: &Secret,
        registration: &wire::WebhookRegistration<'_>,
    ) -> Result<(), LightspeedError> {
        let body = serde_json::to_value(registration).map_err(|e| LightspeedError::Malformed {
            path: "/o/wh/1/webhook".into(),
            detail: e.to_string(),
        })?;
        match self
            .call(token, Method::PUT, "/o/wh/1/webhook", Some(&body))
            .await
        {
            Err(LightspeedError::BadRequest { status: 409, .. }) => {
                self.call(token, Method::POST, "/o/wh/1/webhook", Some(&body))
                    .await?;
                Ok(())
            }
            other => other.map(drop),
        }
    }

    /// `DELETE /o/wh/1/webhook/{endpointId}`; an endpoint that is already gone is fine.
    pub async fn delete_webhook(
        &self,
        token: &Secret,
        endpoint_id: &str,
    ) -> Result<(), LightspeedError> {
        let path = format!("/o/wh/1/webhook/{endpoint_id}");
        match self.call(token, Method::DELETE, &path, None).await {
            Err(LightspeedError::BadRequest { status: 404, .. }) => Ok(()),
            other => other.map(drop),
        }
    }

    /// The business locations linked to a webhook endpoint.
    pub async fn webhook_locations(
        &self,
        token: &Secret,
        endpoint_id: &str,
    ) -> Result<Vec<wire::WebhookLocation>, LightspeedError> {
        self.get(
            token,
            &format!("/o/wh/1/webhook/{endpoint_id}/business-locations"),
            &[],
        )
        .await
    }

    /// Links (`link = true`) or unlinks a business location to or from a webhook endpoint.
    pub async fn link_webhook_location(
        &self,
        token: &Secret,
        endpoint_id: &str,
        business_location_id: &str,
        link: bool,
    ) -> Result<(), LightspeedError> {
        let path =
            format!("/o/wh/1/webhook/{endpoint_id}/business-locations/{business_location_id}");
        let method = if link { Method::PUT } else { Method::DELETE };
        self.call(token, method, &path, None).await.map(drop)
    }

    /// The account profiles of a business location (`GET /o/op/data/account-profiles`).
    pub async fn account_profiles(
        &self,
        token: &Secret,
        business_location_id: &str,
    ) -> Result<Vec<wire::AccountProfile>, LightspeedError> {
        let body: wire::AccountProfiles = self
            .get(
                token,
                "/o/op/data/account-profiles",
                &[("businessLocationId", business_location_id.to_owned())],
            )
            .await?;
        Ok(body.account_profile_list)
    }

    /// Every item of every menu of a business location (`/o/op/1/menu/list`, then
    /// `/o/op/2/menu/load/{menuId}?richContent=true` for each, so items carry their allergens,
    /// descriptions and picture); an item on several menus appears once.
    pub async fn menu_items(
        &self,
        token: &Secret,
        business_location_id: &str,
    ) -> Result<Vec<wire::MenuItem>, LightspeedError> {
        let bl = ("businessLocationId", business_location_id.to_owned());
        let menus: Vec<wire::MenuRef> = self
            .get(token, "/o/op/1/menu/list", std::slice::from_ref(&bl))
            .await?;
        let mut items: Vec<wire::MenuItem> = Vec::new();
        for menu in menus {
            let Some(id) = menu.ikentoo_menu_id else {
                continue;
            };
            let tree: serde_json::Value = self
                .get(
                    token,
                    &format!("/o/op/2/menu/load/{id}"),
                    &[bl.clone(), ("richContent", "true".to_owned())],
                )
                .await?;
            for item in wire::menu_items(&tree) {
                if !items.iter().any(|i| i.sku == item.sku) {
                    items.push(item);
                }
            }
        }
        Ok(items)
    }

    /// The availability of `skus` at a business location (`GET /o/op/1/itemAvailability`, 50
    /// SKUs a request). SKUs the answer leaves out are not restricted.
    pub async fn item_availability(
        &self,
        token: &Secret,
        business_location_id: &str,
        skus: &[String],
    ) -> Result<Vec<wire::Availability>, LightspeedError> {
        let mut out = Vec::new();
        for chunk in skus.chunks(50) {
            let mut page = 0;
            loop {
                let mut query = vec![
                    ("businessLocationId", business_location_id.to_owned()),
                    ("page", page.to_string()),
                    ("size", "50".to_owned()),
                ];
                query.extend(chunk.iter().map(|s| ("skus", s.clone())));
                let body: wire::AvailabilityPage =
                    self.get(token, "/o/op/1/itemAvailability", &query).await?;
                out.extend(body.data);
                let pages = body.metadata.and_then(|m| m.total_pages).unwrap_or(1);
                page += 1;
                if page >= pages {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The allergens rich items may name, with their translations: `GET /i/allergens`.
    pub async fn allergens(&self, token: &Secret) -> Result<Vec<wire::Allergen>, LightspeedError> {
        self.get(token, "/i/allergens", &[]).await
    }

    /// The items of a business location with this SKU (`GET /items/v1/items?sku=`): one, or
    /// none when no item has it.
    pub async fn items_by_sku(
        &self,
        token: &Secret,
        business_location_id: &str,
        sku: &str,
    ) -> Result<Vec<wire::Item>, LightspeedError> {
        self.get(
            token,
            "/items/v1/items",
            &[
                ("businessLocationId", business_location_id.to_owned()),
                ("sku", sku.to_owned()),
            ],
        )
        .await
    }

    /// Creates an item (`POST /items/v1/items`, 201). `body` carries `businessLocationId`,
    /// `name`, `accountingGroupId`, `defaultPrice` and optionally `sku`.
    pub async fn create_item(
        &self,
        token: &Secret,
        body: &serde_json::Value,
    ) -> Result<wire::Item, LightspeedError> {
        let path = "/items/v1/items";
        let text = self.call(token, Method::POST, path, Some(body)).await?;
        decode(path, &text)
    }

    /// Replaces an item's fields (`PUT /items/v1/items/{id}`); `body` as for create, with `sku`.
    pub async fn update_item(
        &self,
        token: &Secret,
        id: &str,
        body: &serde_json::Value,
    ) -> Result<wire::Item, LightspeedError> {
        let path = format!("/items/v1/items/{id}");
        let text = self.call(token, Method::PUT, &path, Some(body)).await?;
        decode(&path, &text)
    }

    /// Deletes an item (`DELETE /items/v1/items/{id}`, 204).
    pub async fn delete_item(
        &self,
        token: &Secret,
        business_location_id: &str,
        id: &str,
    ) -> Result<(), LightspeedError> {
        let path = format!("/items/v1/items/{id}?businessLocationId={business_location_id}");
        self.call(token, Method::DELETE, &path, None)
            .await
            .map(drop)
    }

    /// Replaces an item's allergens and descriptions (`PUT /i/richItem/{businessId}/{sku}`).
    pub async fn put_rich_item(
        &self,
        token: &Secret,
        business_id: &str,
        sku: &str,
        allergens: &[String],
        descriptions: &[wire::RichDescription],
    ) -> Result<(), LightspeedError> {
        let body = serde_json::json!({
            "businessId": business_id,
            "sku": sku,
            "allergenCodes": allergens,
            "descriptions": descriptions,
        });
        let path = format!("/i/richItem/{business_id}/{}", encode_segment(sku));
        self.call(token, Method::PUT, &path, Some(&body))
            .await
            .map(drop)
    }

    /// Sets an item's picture (`PATCH /i/richItem/{businessId}/{sku}`, the image in base64).
    pub async fn put_picture(
        &self,
        token: &Secret,
        business_id: &str,
        sku: &str,
        base64: &str,
    ) -> Result<(), LightspeedError> {
        let body = serde_json::json!({ "picture": base64 });
        let path = format!("/i/richItem/{business_id}/{}", encode_segment(sku));
        self.call(token, Method::PATCH, &path, Some(&body))
            .await
            .map(drop)
    }

    /// Removes an item's rich data (`DELETE /i/richItem/{businessId}/{sku}`, 204).
    pub async fn delete_rich_item(
        &self,
        token: &Secret,
        business_id: &str,
        sku: &str,
    ) -> Result<(), LightspeedError> {
        let path = format!("/i/richItem/{business_id}/{}", encode_segment(sku));
        self.call(token, Method::DELETE, &path, None)
            .await
            .map(drop)
    }

    /// Sends an online order: `POST /o/op/1/order/local` (`local`) or `/o/op/1/order/toGo`.
    /// A reused `thirdPartyReference` answers 409, which callers read as "already there".
    pub async fn submit_order(
        &self,
        token: &Secret,
        local: bool,
        body: &serde_json::Value,
    ) -> Result<(), LightspeedError> {
        let path = if local {
            "/o/op/1/order/local"
        } else {
            "/o/op/1/order/toGo"
        };
        self.call(token, Method::POST, path, Some(body))
            .await
            .map(drop)
    }

    /// Applies a payment to an account: `POST /o/op/1/pay`. The outcome arrives by webhook.
    pub async fn pay(
        &self,
        token: &Secret,
        body: &serde_json::Value,
    ) -> Result<(), LightspeedError> {
        self.call(token, Method::POST, "/o/op/1/pay", Some(body))
            .await
            .map(drop)
    }

    /// One account (`GET /o/op/1/order/accounts/{identifier}`); `None` when there is none
    /// (never opened, or voided).
    pub async fn account(
        &self,
        token: &Secret,
        business_location_id: &str,
        identifier: &str,
    ) -> Result<Option<wire::AccountSnapshot>, LightspeedError> {
        match self
            .get(
                token,
                &format!("/o/op/1/order/accounts/{identifier}"),
                &[("businessLocationId", business_location_id.to_owned())],
            )
            .await
        {
            Ok(a) => Ok(Some(a)),
            Err(LightspeedError::BadRequest { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The closed sale of an online order (`GET /f/finance/{bl}/saleByExternalReference` with
    /// `TASK:OO-{bl}-{reference}`); `None` while it is not closed.
    pub async fn sale_by_reference(
        &self,
        token: &Secret,
        business_location_id: &str,
        reference: &str,
    ) -> Result<Option<wire::Sale>, LightspeedError> {
        match self
            .get(
                token,
                &format!("/f/finance/{business_location_id}/saleByExternalReference"),
                &[(
                    "externalReferenceId",
                    format!("TASK:OO-{business_location_id}-{reference}"),
                )],
            )
            .await
        {
            Ok(s) => Ok(Some(s)),
            Err(LightspeedError::BadRequest { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A SKU as one path segment (SKUs may hold `/`, spaces and the like).
fn encode_segment(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
