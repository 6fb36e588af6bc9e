//! Online orders into the POS, for the ordering module: the provider calls it needs, made with
//! the connection's token (refreshed on a 401) and budget. K-Series pushes try once more on a
//! transport error or 5xx and then report it: the module owns the slower retry schedule, and a
//! resent K order is safe because its reference is unique (a reused one answers 409). X- and
//! R-Series sales have no idempotency key, so their calls are made once; the module looks the
//! sale up by its reference before it sends one again.

use crate::error::EngineError;
use crate::Engine;
use std::time::Duration;
use tillbridge_lightspeed::http::RetryPolicy;
use tillbridge_lightspeed::kseries::wire::{AccountSnapshot, Sale};
use tillbridge_lightspeed::kseries::KClient;
use tillbridge_lightspeed::rseries::RClient;
use tillbridge_lightspeed::xseries::XClient;
use tillbridge_lightspeed::{LightspeedError, Secret};

pub(crate) fn single_attempt() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    }
}

impl Engine {
    fn k_push_client(&self, connection_id: &str) -> Result<KClient, EngineError> {
        Ok(self.k_client(connection_id)?.with_policy(RetryPolicy {
            max_attempts: 2,
            base_backoff: Duration::from_millis(200),
            ..RetryPolicy::default()
        }))
    }

    /// The webhook endpoint id that online orders of a K-Series connection name.
    pub fn k_endpoint_id(&self, connection_id: &str) -> String {
        crate::ingress::kseries::endpoint_id(connection_id)
    }

    /// `POST /o/op/1/order/local` (`local`) or `/toGo`.
    pub async fn k_submit_order(
        &self,
        merchant_id: &str,
        connection_id: &str,
        local: bool,
        body: &serde_json::Value,
    ) -> Result<(), EngineError> {
        let client = self.k_push_client(connection_id)?;
        self.with_token(merchant_id, connection_id, |t| {
            let client = client.clone();
            async move { client.submit_order(&t, local, body).await }
        })
        .await
    }

    /// `POST /o/op/1/pay`.
    pub async fn k_pay(
        &self,
        merchant_id: &str,
        connection_id: &str,
        body: &serde_json::Value,
    ) -> Result<(), EngineError> {
        let client = self.k_push_client(connection_id)?;
        self.with_token(merchant_id, connection_id, |t| {
            let client = client.clone();
            async move { client.pay(&t, body).await }
        })
        .await
    }

    /// An open or closed account by identifier; `None` when the POS has none.
    pub async fn k_account(
        &self,
        merchant_id: &str,
        connection_id: &str,
        business_location_id: &str,
        identifier: &str,
    ) -> Result<Option<AccountSnapshot>, EngineError> {
        let client = self.k_push_client(connection_id)?;
        self.with_token(merchant_id, connection_id, |t| {
            let client = client.clone();
            async move { client.account(&t, business_location_id, identifier).await }
        })
        .await
    }

    /// The closed sale of an online order by its reference; `None` while it is not closed.
    pub async fn k_sale_by_reference(
        &self,
        merchant_id: &str,
        connection_id: &str,
        business_location_id: &str,
        reference: &str,
    ) -> Result<Option<Sale>, EngineError> {
        let client = self.k_push_client(connection_id)?;
        self.with_token(merchant_id, connection_id, |t| {
            let client = client.clone();
            async move {
                client
                    .sale_by_reference(&t, business_location_id, reference)
                    .await
            }
        })
        .await
    }

    /// The payment methods the POS knows at a location, as orders name them: K-Series codes
    /// (e.g. `OOPAYMENT`), X- and R-Series payment type names.
    pub async fn pos_payment_methods(
        &self,
        merchant_id: &str,
        connection_id: &str,
        series: &str,
        pos_location: &str,
    ) -> Result<Vec<String>, EngineError> {
        match series {
            "k" => {
                let client = self.k_client(connection_id)?.with_policy(single_attempt());
                let list = self
                    .with_token(merchant_id, connection_id, |t| {
                        let (client, bl) = (client.clone(), pos_location.to_owned());
                        async move { client.payment_methods(&t, &bl).await }
                    })
                    .await?;
                Ok(list.into_iter().filter_map(|p| p.code).collect())
            }
            "x" => Ok(self
                .x_call(merchant_id, connection_id, |client, t| async move {
                    client.payment_types(&t).await
                })
                .await?
                .into_iter()
                .filter_map(|p| p.name)
                .collect()),
            _ => Ok(self
                .r_call(
                    merchant_id,
                    connection_id,
                    |client, t, account| async move { client.payment_types(&t, &account).await },
                )
                .await?
                .into_iter()
                .map(|(_, name)| name)
                .collect()),
        }
    }

    /// Whether Lightspeed will send this location's order updates to the hub: the K-Series
    /// endpoint exists with the location linked, or the X-Series store has the hub's
    /// `sale.update` subscription. `None` for series without order webhooks (R: polled).
    pub async fn order_webhooks_registered(
        &self,
        merchant_id: &str,
        connection_id: &str,
        series: &str,
        pos_location: &str,
    ) -> Result<Option<bool>, EngineError> {
        match series {
            "k" => {
                let client = self.k_client(connection_id)?.with_policy(single_attempt());
                let endpoint = self.k_endpoint_id(connection_id);
                let linked = self
                    .with_token(merchant_id, connection_id, |t| {
                        let (client, endpoint) = (client.clone(), endpoint.clone());
                        async move { client.webhook_locations(&t, &endpoint).await }
                    })
                    .await;
                match linked {
                    Ok(list) => {
                        Ok(Some(list.iter().any(|l| {
                            l.business_location_id.to_string() == pos_location
                        })))
                    }
                    // No such endpoint.
                    Err(EngineError::Provider(LightspeedError::BadRequest {
                        status: 404, ..
                    })) => Ok(Some(false)),
                    Err(e) => Err(e),
                }
            }
            "x" => {
                let url = self.x_webhook_url(connection_id);
                Ok(Some(
                    self.x_call(merchant_id, connection_id, |client, t| async move {
                        client.webhooks(&t).await
                    })
                    .await?
                    .iter()
                    .any(|w| w.url == url && w.kind == "sale.update" && w.active != Some(false)),
                ))
            }
            _ => Ok(None),
        }
    }

    /// Registers the order webhooks of a connection again (K endpoint and its locations, X
    /// `sale.update`); the outcome is written to the connection's log.
    pub async fn register_order_webhooks(
        &self,
        merchant_id: &str,
        connection_id: &str,
        series: &str,
    ) {
        match series {
            "k" => self.register_k_webhook(merchant_id, connection_id).await,
            "x" => self.subscribe_x_webhooks(merchant_id, connection_id).await,
            _ => {}
        }
    }

    /// Runs `call` with the X-Series client of the connection's store (one attempt per call)
    /// and a fresh token.
    pub async fn x_call<T, F, Fut>(
        &self,
        merchant_id: &str,
        connection_id: &str,
        call: F,
    ) -> Result<T, EngineError>
    where
        F: Fn(XClient, Secret) -> Fut,
        Fut: std::future::Future<Output = Result<T, LightspeedError>>,
    {
        let row = self.connection_row(merchant_id, connection_id).await?;
        let prefix = row.account_id.unwrap_or_default();
        let client = self
            .x_client(connection_id, &prefix)?
            .with_policy(single_attempt());
        self.with_token(merchant_id, connection_id, |t| call(client.clone(), t))
            .await
    }

    /// Runs `call` with the R-Series client (one attempt per call), a fresh token and the
    /// account id.
    pub async fn r_call<T, F, Fut>(
        &self,
        merchant_id: &str,
        connection_id: &str,
        call: F,
    ) -> Result<T, EngineError>
    where
        F: Fn(RClient, Secret, String) -> Fut,
        Fut: std::future::Future<Output = Result<T, LightspeedError>>,
    {
        let row = self.connection_row(merchant_id, connection_id).await?;
        let account = row.account_id.unwrap_or_default();
        let client = self.r_client(connection_id)?.with_policy(single_attempt());
        self.with_token(merchant_id, connection_id, |t| {
            call(client.clone(), t, account.clone())
        })
        .await
    }
}
