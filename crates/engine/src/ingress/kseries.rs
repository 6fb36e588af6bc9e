//! K-Series Order & Pay webhooks. The hub registers one endpoint per connection
//! (`endpointId` = `tillbridge-{connection id}`) pointing at
//! `/webhooks/lightspeed/k/{connection_id}`, with Basic credentials whose password is random,
//! sealed on the connection and rotated on every (re)registration. Deliveries are checked
//! against it in constant time and deduplicated on `X-Lightspeed-Idempotency-Key`.
//! The endpoint's linked business locations follow the connection's location mapping.

use super::{IngressError, Unverified, Verified};
use crate::connections::aad;
use crate::error::EngineError;
use crate::Engine;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::collections::BTreeSet;
use subtle::ConstantTimeEq;
use tillbridge_lightspeed::kseries::wire::WebhookRegistration;
use tillbridge_store::{connections as conns, merchants as merch};

/// The Basic user name the hub registers; only the password is secret.
pub const WEBHOOK_USER: &str = "tillbridge";

/// The endpoint id registered for a connection (case-sensitive on Lightspeed's side).
pub fn endpoint_id(connection_id: &str) -> String {
    format!("tillbridge-{connection_id}")
}

/// A K-Series delivery's credentials and idempotency key, as they arrived.
pub struct KDelivery {
    pub authorization: Option<String>,
    pub idempotency_key: Option<String>,
    pub body: Vec<u8>,
}

impl Engine {
    /// Registers (or re-registers with a fresh password) this connection's webhook endpoint
    /// and links its mapped business locations. Failure is logged, not fatal: polling still
    /// syncs.
    pub(crate) async fn register_k_webhook(&self, merchant_id: &str, connection_id: &str) {
        let result = async {
            let url = format!(
                "{}/webhooks/lightspeed/k/{connection_id}",
                self.config().public_url.as_str().trim_end_matches('/')
            );
            let password = crate::ids::pkce_verifier(48);
            // Sealed before registering: a delivery never arrives for a password we lack.
            let sealed = self.vault().seal(&password, &aad(connection_id, "webhook"));
            let mut c = self.conn().await?;
            conns::set_webhook_secret(&mut c, merchant_id, connection_id, Some(&sealed)).await?;
            drop(c);
            let client = self.k_client(connection_id)?;
            let endpoint = endpoint_id(connection_id);
            self.with_token(merchant_id, connection_id, |t| {
                let (client, url, password, endpoint) = (
                    client.clone(),
                    url.clone(),
                    password.clone(),
                    endpoint.clone(),
                );
                async move {
                    client
                        .register_webhook(
                            &t,
                            &WebhookRegistration {
                                endpoint_id: &endpoint,
                                url: &url,
                                with_basic_auth: true,
                                username: WEBHOOK_USER,
                                password: &password,
                                provide_account: false,
                                expand_transactions: false,
                                expand_payments: false,
                                // Order, payment and account events are always sent;
                                // item availability changes only when asked for.
                                subscribe_to: vec![serde_json::json!({
                                    "name": "SALES_RESTRICTION_UPDATED",
                                    "resource": "item",
                                })],
                            },
                        )
                        .await
                }
            })
            .await?;
            self.link_k_webhook_locations(merchant_id, connection_id)
                .await
        }
        .await;
        self.log_subscription(
            merchant_id,
            connection_id,
            result.map(|_| true),
            "order and account webhooks",
        )
        .await;
    }

    /// Makes the endpoint's linked business locations equal the connection's mapped ones.
    pub(crate) async fn link_k_webhook_locations(
        &self,
        merchant_id: &str,
        connection_id: &str,
    ) -> Result<(), EngineError> {
        let mut c = self.conn().await?;
        let wanted: BTreeSet<String> = merch::list_links(&mut c, merchant_id)
            .await?
            .into_iter()
            .filter(|l| l.connection_id == connection_id)
            .map(|l| l.external_id)
            .collect();
        drop(c);
        let client = self.k_client(connection_id)?;
        let endpoint = endpoint_id(connection_id);
        let linked: BTreeSet<String> = self
            .with_token(merchant_id, connection_id, |t| {
                let (client, endpoint) = (client.clone(), endpoint.clone());
                async move { client.webhook_locations(&t, &endpoint).await }
            })
            .await?
            .into_iter()
            .map(|l| l.business_location_id.to_string())
            .collect();
        let changes = wanted
            .difference(&linked)
            .map(|bl| (bl.clone(), true))
            .chain(linked.difference(&wanted).map(|bl| (bl.clone(), false)));
        for (bl, link) in changes {
            self.with_token(merchant_id, connection_id, |t| {
                let (client, endpoint, bl) = (client.clone(), endpoint.clone(), bl.clone());
                async move { client.link_webhook_location(&t, &endpoint, &bl, link).await }
            })
            .await?;
        }
        Ok(())
    }

    /// Removes the connection's endpoint from Lightspeed (before its credentials are erased).
    pub(crate) async fn delete_k_webhook(
        &self,
        merchant_id: &str,
        connection_id: &str,
    ) -> Result<(), EngineError> {
        let client = self.k_client(connection_id)?;
        let endpoint = endpoint_id(connection_id);
        self.with_token(merchant_id, connection_id, |t| {
            let (client, endpoint) = (client.clone(), endpoint.clone());
            async move { client.delete_webhook(&t, &endpoint).await }
        })
        .await
    }
}

impl Unverified<KDelivery> {
    /// Checks the Basic credentials against the connection's sealed webhook password, in
    /// constant time.
    pub async fn verify_k_basic(
        self,
        engine: &Engine,
    ) -> Result<Verified<KDelivery>, IngressError> {
        let provided = self
            .body
            .authorization
            .as_deref()
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .and_then(|(_, b64)| STANDARD.decode(b64.trim()).ok())
            .ok_or(IngressError::Unauthorized)?;
        let (row, password) = self.connection_secret(engine).await?;
        let expected = format!("{WEBHOOK_USER}:{}", password.expose());
        if !bool::from(provided.ct_eq(expected.as_bytes())) {
            return Err(IngressError::Unauthorized);
        }
        Ok(Verified {
            merchant_id: row.merchant_id,
            connection_id: row.id,
            body: self.body,
        })
    }
}
