//! Webhook ingress. A request arrives [`Unverified`]; only [`Unverified::verify`] turns it into
//! [`Verified`], and only a verified delivery reaches processing. Deliveries are recorded by
//! their idempotency key (a duplicate is acknowledged and dropped) and then treated as a hint:
//! the connection's streams are made due now, and polling stays on as the backstop.
//!
//! X-Series documents no signature, so each connection gets its own unguessable webhook URL:
//! `/webhooks/lightspeed/x/{connection_id}/{token}`, where the token is an HMAC of the
//! connection id under a key derived from the vault, compared in constant time.

pub mod kseries;

use crate::connections::status;
use crate::error::EngineError;
use crate::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tillbridge_lightspeed::webhook::WebhookEvent;
use tillbridge_store::{catalog, connections as conns, jobs, logs};

/// A delivery whose origin has not been checked yet.
pub struct Unverified<T> {
    pub connection_id: String,
    pub token: String,
    pub body: T,
}

/// A delivery whose token matched its connection. Only [`Unverified::verify`] makes one.
pub struct Verified<T> {
    merchant_id: String,
    connection_id: String,
    body: T,
}

impl<T> Verified<T> {
    pub fn merchant_id(&self) -> &str {
        &self.merchant_id
    }

    pub fn connection_id(&self) -> &str {
        &self.connection_id
    }

    /// Parses the verified body, keeping it verified.
    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Verified<U>, E> {
        Ok(Verified {
            merchant_id: self.merchant_id,
            connection_id: self.connection_id,
            body: f(self.body)?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    #[error("the webhook URL is not valid for any connection")]
    Unauthorized,
    #[error(transparent)]
    Engine(#[from] EngineError),
}

fn mac(engine: &Engine) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(&engine.vault().derive("webhook-url"))
        .expect("HMAC accepts keys of any length")
}

/// The X-Series events the hub subscribes to.
const X_WEBHOOKS: &[&str] = &["sale.update", "product.update", "inventory.update"];

impl Engine {
    /// The path part of a connection's webhook URL.
    pub fn webhook_path(&self, series: &str, connection_id: &str) -> String {
        let mut m = mac(self);
        m.update(connection_id.as_bytes());
        format!(
            "/webhooks/lightspeed/{series}/{connection_id}/{}",
            URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
        )
    }

    /// This hub's webhook URL for an X-Series connection.
    pub(crate) fn x_webhook_url(&self, connection_id: &str) -> String {
        format!(
            "{}{}",
            self.config().public_url.as_str().trim_end_matches('/'),
            self.webhook_path("x", connection_id)
        )
    }

    /// Removes this hub's webhook subscriptions from a disconnected X-Series store.
    pub(crate) async fn unsubscribe_x_webhooks(
        &self,
        merchant_id: &str,
        connection_id: &str,
    ) -> Result<(), EngineError> {
        let url = self.x_webhook_url(connection_id);
        let row = self.connection_row(merchant_id, connection_id).await?;
        let (token, _) = self.access_token(merchant_id, connection_id).await?;
        let client = self.x_client(connection_id, row.account_id.as_deref().unwrap_or_default())?;
        for hook in client
            .webhooks(&token)
            .await?
            .iter()
            .filter(|w| w.url == url)
        {
            client.delete_webhook(&token, &hook.id).await?;
        }
        Ok(())
    }

    /// Subscribes a freshly connected X-Series store's webhooks to this hub: `sale.update` for
    /// the order stream, `product.update` and `inventory.update` for the catalog stream (a
    /// delivery makes the connection's streams due). Failure is logged on the connection, not
    /// fatal: polling still syncs.
    pub(crate) async fn subscribe_x_webhooks(&self, merchant_id: &str, connection_id: &str) {
        let url = self.x_webhook_url(connection_id);
        let result = async {
            let row = self.connection_row(merchant_id, connection_id).await?;
            let (token, _) = self.access_token(merchant_id, connection_id).await?;
            let client =
                self.x_client(connection_id, row.account_id.as_deref().unwrap_or_default())?;
            let existing = client.webhooks(&token).await?;
            let mut made = false;
            for kind in X_WEBHOOKS {
                if !existing.iter().any(|w| w.url == url && w.kind == *kind) {
                    client.create_webhook(&token, &url, kind).await?;
                    made = true;
                }
            }
            Ok::<_, EngineError>(made)
        }
        .await;
        self.log_subscription(
            merchant_id,
            connection_id,
            result,
            &format!("{} webhooks", X_WEBHOOKS.join(", ")),
        )
        .await;
    }
}

impl<T> Unverified<T> {
    /// The connection this delivery is addressed to and its opened webhook secret (a K
    /// endpoint's password, an O subscription's signing key); `Unauthorized` when either is
    /// missing or the secret does not open.
    async fn connection_secret(
        &self,
        engine: &Engine,
    ) -> Result<(conns::ConnectionRow, tillbridge_lightspeed::Secret), IngressError> {
        let mut c = engine.conn().await?;
        let row = conns::get_by_id_for_ingress(&mut c, &self.connection_id)
            .await
            .map_err(EngineError::from)?
            .ok_or(IngressError::Unauthorized)?;
        let sealed = conns::webhook_secret(&mut c, &row.merchant_id, &row.id)
            .await
            .map_err(EngineError::from)?
            .ok_or(IngressError::Unauthorized)?;
        let secret = engine
            .vault()
            .open(&sealed, &crate::connections::aad(&row.id, "webhook"))
            .map_err(|_| IngressError::Unauthorized)?;
        Ok((row, secret))
    }

    pub async fn verify(self, engine: &Engine) -> Result<Verified<T>, IngressError> {
        let sig = URL_SAFE_NO_PAD
            .decode(self.token.as_bytes())
            .map_err(|_| IngressError::Unauthorized)?;
        let mut m = mac(engine);
        m.update(self.connection_id.as_bytes());
        m.verify_slice(&sig)
            .map_err(|_| IngressError::Unauthorized)?;
        let mut c = engine.conn().await?;
        let row = conns::get_by_id_for_ingress(&mut c, &self.connection_id)
            .await
            .map_err(EngineError::from)?
            .ok_or(IngressError::Unauthorized)?;
        Ok(Verified {
            merchant_id: row.merchant_id,
            connection_id: row.id,
            body: self.body,
        })
    }
}

/// What happened to an accepted delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Accepted {
    pub duplicate: bool,
}

impl Engine {
    /// Records an X-Series delivery once and makes the connection's streams due. The detail
    /// is kept only when the sale is an online order, for the ordering module.
    pub async fn accept_x_webhook(
        &self,
        delivery: Verified<WebhookEvent>,
    ) -> Result<Accepted, IngressError> {
        let online = {
            let mut c = self.conn().await.map_err(IngressError::from)?;
            tillbridge_store::ordering::by_pos_reference(
                &mut c,
                delivery.merchant_id(),
                delivery.connection_id(),
                &delivery.body.subject,
            )
            .await
            .map_err(EngineError::from)?
            .is_some()
        };
        let detail = delivery.body.detail.as_ref().filter(|_| online);
        self.record_and_wake(
            delivery.merchant_id(),
            delivery.connection_id(),
            &delivery.body.key,
            &delivery.body.topic,
            &delivery.body.subject,
            detail,
        )
        .await
    }
}

impl Engine {
    /// Subscribes a freshly connected O-Series account's check events and keeps the signing
    /// secret sealed on the connection. Failure is logged, not fatal: polling still syncs.
    pub(crate) async fn subscribe_o_webhooks(&self, merchant_id: &str, connection_id: &str) {
        let url = format!(
            "{}/webhooks/lightspeed/o/{connection_id}",
            self.config().public_url.as_str().trim_end_matches('/')
        );
        let result = async {
            let client = self.o_client(connection_id)?;
            let subscription = self
                .with_token(merchant_id, connection_id, |t| {
                    let (client, url) = (client.clone(), url.clone());
                    async move { client.subscribe(&t, &url).await }
                })
                .await?;
            let sealed = self.vault().seal(
                subscription.secret.expose(),
                &crate::connections::aad(connection_id, "webhook"),
            );
            let mut c = self.conn().await?;
            conns::set_webhook_secret(&mut c, merchant_id, connection_id, Some(&sealed)).await?;
            Ok::<_, EngineError>(())
        }
        .await;
        self.log_subscription(
            merchant_id,
            connection_id,
            result.map(|()| true),
            "check webhooks",
        )
        .await;
    }
}

impl Unverified<Vec<u8>> {
    /// Checks `sha256=<hex HMAC-SHA256(secret, body)>` against the connection's subscription
    /// secret, in constant time.
    pub async fn verify_o_signature(
        self,
        engine: &Engine,
    ) -> Result<Verified<Vec<u8>>, IngressError> {
        let hex = self
            .token
            .strip_prefix("sha256=")
            .ok_or(IngressError::Unauthorized)?;
        let sig = (0..hex.len())
            .step_by(2)
            .map(|i| {
                hex.get(i..i + 2)
                    .and_then(|b| u8::from_str_radix(b, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or(IngressError::Unauthorized)?;
        let (row, secret) = self.connection_secret(engine).await?;
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
            .expect("HMAC accepts keys of any length");
        m.update(&self.body);
        m.verify_slice(&sig)
            .map_err(|_| IngressError::Unauthorized)?;
        Ok(Verified {
            merchant_id: row.merchant_id,
            connection_id: row.id,
            body: self.body,
        })
    }
}

impl Engine {
    /// Records a delivery (O-Series by its id, K-Series by its idempotency key) once and
    /// makes the connection's streams due. K order and payment outcomes keep their detail for
    /// the ordering module by topic (`ORDER.CLOSED`, `PAYMENT.SUCCESS`, …) and subject
    /// (third-party reference or account); an item availability change (`ITEM.RESTRICTED`)
    /// wakes the catalog stream, which reads the new availability.
    pub async fn accept_webhook(
        &self,
        delivery: Verified<WebhookEvent>,
    ) -> Result<Accepted, IngressError> {
        self.record_and_wake(
            delivery.merchant_id(),
            delivery.connection_id(),
            &delivery.body.key,
            &delivery.body.topic,
            &delivery.body.subject,
            delivery.body.detail.as_ref(),
        )
        .await
    }
}

impl Engine {
    /// Writes the outcome of a webhook subscription to the connection's integration log.
    /// `Ok(false)` means it already existed.
    async fn log_subscription(
        &self,
        merchant_id: &str,
        connection_id: &str,
        result: Result<bool, EngineError>,
        what: &str,
    ) {
        let (level, message) = match result {
            Ok(true) => ("info", format!("subscribed to {what}")),
            Ok(false) => ("info", format!("{what} already subscribed")),
            Err(e) => (
                "warn",
                format!("could not subscribe to {what}, polling only: {e}"),
            ),
        };
        self.log(merchant_id, connection_id, level, &message).await;
    }

    /// Appends to a connection's integration log outside any transaction; a failure to log is
    /// not worth failing the caller for.
    pub(crate) async fn log(
        &self,
        merchant_id: &str,
        connection_id: &str,
        level: &str,
        message: &str,
    ) {
        if let Ok(mut c) = self.conn().await {
            let _ = logs::append(
                &mut c,
                merchant_id,
                connection_id,
                level,
                message,
                self.now_ms(),
            )
            .await;
        }
    }

    /// Records a delivery by its idempotency key and, the first time only, makes the
    /// connection's streams due (webhooks are hints; the sync reads the data).
    async fn record_and_wake(
        &self,
        m: &str,
        c: &str,
        key: &str,
        topic: &str,
        subject: &str,
        detail: Option<&serde_json::Value>,
    ) -> Result<Accepted, IngressError> {
        let now = self.now_ms();
        let mut tx = self.store().begin().await.map_err(EngineError::from)?;
        let record = catalog::DeliveryRecord {
            key,
            topic,
            subject,
            detail,
        };
        let fresh = catalog::record_delivery(&mut tx, m, c, &record, now)
            .await
            .map_err(EngineError::from)?;
        if fresh && detail.is_some() {
            // An order or payment outcome: the ordering module applies it now.
            jobs::wake_kind(&mut tx, m, crate::consumers::CONSUMER_JOB, now)
                .await
                .map_err(EngineError::from)?;
        }
        if fresh {
            let connected = conns::get_connection(&mut tx, m, c)
                .await
                .map_err(EngineError::from)?
                .is_some_and(|r| r.status == status::CONNECTED || r.status == status::ERROR);
            if connected {
                jobs::wake_connection(&mut tx, m, c, now)
                    .await
                    .map_err(EngineError::from)?;
            }
        }
        tillbridge_store::commit(tx)
            .await
            .map_err(EngineError::from)?;
        Ok(Accepted { duplicate: !fresh })
    }
}
