//! The OAuth callback: verify the signed state, consume the attempt exactly once, exchange the
//! code (K-Series: HTTP Basic client auth + PKCE verifier), discover the business, and store
//! the connection with its tokens sealed. A bad, stale, replayed or foreign state stores
//! nothing.

use super::{aad, k_oauth, status};
use crate::error::EngineError;
use crate::ids::new_id;
use crate::merchants::emit;
use crate::state::verify;
use crate::Engine;
use serde::{Deserialize, Serialize};
use tillbridge_lightspeed::kseries::{oauth::exchange_code, KClient};
use tillbridge_lightspeed::oseries::OClient;
use tillbridge_lightspeed::rseries::{oauth as roauth, RClient};
use tillbridge_lightspeed::xseries::{oauth as xoauth, valid_domain_prefix, XClient};
use tillbridge_lightspeed::{LightspeedError, Secret};
use tillbridge_store::attempts;
use tillbridge_store::connections::{self as conns, ConnectionRow, PosLocationRow};
use tillbridge_store::{jobs, logs};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// X-Series sends the account's domain prefix here.
    pub domain_prefix: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Connected {
    pub merchant_id: String,
    pub connection_id: String,
    pub account_name: Option<String>,
    pub status: String,
    pub reconnected: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("This sign-in link is not valid (it may have been tampered with or opened from another site). Nothing was saved. Start the connection again from tillbridge.")]
    BadState,
    #[error("The connection attempt expired. Start again: connecting must be completed within 10 minutes.")]
    Expired,
    #[error("This sign-in link was already used. Nothing else was saved. Start the connection again from tillbridge if you need to.")]
    Replayed,
    #[error("Lightspeed did not grant access ({0}). Nothing was saved. Start again and choose Authorize to connect.")]
    Denied(String),
    #[error("Lightspeed did not send an authorization code. Start the connection again.")]
    MissingCode,
    #[error("Lightspeed did not accept the authorization: {0}. Start the connection again.")]
    Exchange(String),
    #[error("{0}")]
    Rejected(String),
    #[error("The connection could not be saved because of an internal error. Try again; if it persists, check the server log.")]
    Internal(String),
}

impl From<EngineError> for CallbackError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Invalid(m) | EngineError::Conflict(m) | EngineError::NotFound(m) => {
                CallbackError::Rejected(m)
            }
            other => CallbackError::Internal(other.to_string()),
        }
    }
}

impl From<tillbridge_store::StoreError> for CallbackError {
    fn from(e: tillbridge_store::StoreError) -> Self {
        CallbackError::from(EngineError::from(e))
    }
}

struct Discovery {
    business_id: String,
    business_name: Option<String>,
    currency: Option<String>,
    locations: Vec<PosLocationRow>,
}

/// O-Series: the restaurant group from `/v1/me`; its locations are the POS locations.
async fn discover_o(client: &OClient, token: &Secret) -> Result<Discovery, LightspeedError> {
    let me = client.me(token).await?;
    let locations = client.locations(token).await?;
    Ok(Discovery {
        business_id: me.restaurant_group.id,
        business_name: me.restaurant_group.name,
        currency: locations.iter().find_map(|l| l.currency.clone()),
        locations: locations
            .into_iter()
            .map(|l| PosLocationRow {
                name: l.name.clone().unwrap_or_else(|| l.id.clone()),
                external_id: l.id,
                timezone: l.timezone,
            })
            .collect(),
    })
}

/// R-Series: the account from `Account.json`; its shops are the POS locations.
async fn discover_r(client: &RClient, token: &Secret) -> Result<Discovery, LightspeedError> {
    let account = client.account(token).await?;
    let shops = client.shops(token, &account.id).await?;
    Ok(Discovery {
        business_name: account.name.clone().or_else(|| Some(account.id.clone())),
        business_id: account.id,
        currency: None,
        locations: shops
            .into_iter()
            .map(|s| PosLocationRow {
                external_id: s.id,
                name: s.name,
                timezone: s.time_zone,
            })
            .collect(),
    })
}

/// X-Series: the store is the account; its outlets are the POS locations.
async fn discover_x(
    client: &XClient,
    token: &Secret,
    prefix: &str,
) -> Result<Discovery, LightspeedError> {
    let outlets = client.outlets(token).await?;
    Ok(Discovery {
        business_id: prefix.to_owned(),
        business_name: Some(prefix.to_owned()),
        currency: outlets.iter().find_map(|o| o.currency.clone()),
        locations: outlets
            .into_iter()
            .map(|o| PosLocationRow {
                name: o.name.clone().unwrap_or_else(|| o.id.clone()),
                external_id: o.id,
                timezone: o.time_zone,
            })
            .collect(),
    })
}

async fn discover(client: &KClient, token: &Secret) -> Result<Discovery, LightspeedError> {
    let businesses = client.businesses(token).await?;
    let first = businesses
        .first()
        .ok_or_else(|| LightspeedError::Malformed {
            path: "/o/op/data/businesses".into(),
            detail: "no business is visible to this token".into(),
        })?;
    let mut locations: Vec<PosLocationRow> = first
        .business_locations
        .iter()
        .map(|l| PosLocationRow {
            external_id: l.id.to_string(),
            name: l.name.clone().unwrap_or_else(|| l.id.to_string()),
            timezone: None,
        })
        .collect();
    let mut currency = None;
    // The financial view adds currency and each location's time zone.
    if let Ok(fin) = client.financial_businesses(token).await {
        if let Some(b) = fin
            .iter()
            .find(|b| b.business_id.to_string() == first.id.to_string())
        {
            currency = b.currency_code.clone();
            for fl in &b.business_locations {
                if let Some(l) = locations
                    .iter_mut()
                    .find(|l| l.external_id == fl.id.to_string())
                {
                    l.timezone = fl.timezone.clone();
                }
            }
        }
    }
    Ok(Discovery {
        business_id: first.id.to_string(),
        business_name: first.name.clone(),
        currency,
        locations,
    })
}

impl Engine {
    pub async fn handle_callback(&self, p: CallbackParams) -> Result<Connected, CallbackError> {
        let key = self.vault().derive("oauth-state");
        let state = p
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                tracing::warn!("rejected OAuth callback without state: possible CSRF attempt");
                CallbackError::BadState
            })?;
        let payload = verify(&key, state).map_err(|e| {
            tracing::warn!(reason = %e, "rejected OAuth callback: possible CSRF attempt");
            CallbackError::BadState
        })?;
        let now = self.now_ms();
        let ttl = self.config().attempt_ttl.as_millis() as i64;
        if now - payload.t > ttl || payload.t > now + 60_000 {
            tracing::warn!(merchant_id = %payload.m, attempt_id = %payload.a, "rejected OAuth callback: stale state");
            return Err(CallbackError::Expired);
        }
        let attempt = {
            let mut c = self.conn().await.map_err(CallbackError::from)?;
            attempts::take_attempt(&mut c, &payload.m, &payload.a, now).await?
        };
        let Some(attempt) = attempt else {
            tracing::warn!(merchant_id = %payload.m, attempt_id = %payload.a, "rejected OAuth callback: unknown or already used attempt");
            return Err(CallbackError::Replayed);
        };
        if attempt.expires_at < now {
            tracing::warn!(merchant_id = %payload.m, attempt_id = %payload.a, "rejected OAuth callback: attempt expired");
            return Err(CallbackError::Expired);
        }
        if let Some(error) = p.error.as_deref() {
            tracing::info!(merchant_id = %payload.m, error, "authorization denied at the provider");
            return Err(CallbackError::Denied(
                p.error_description
                    .clone()
                    .unwrap_or_else(|| error.to_owned()),
            ));
        }
        let code = p
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or(CallbackError::MissingCode)?;
        let verifier = self
            .vault()
            .open(
                &attempt.verifier_enc,
                &format!("attempt/{}/verifier", attempt.id),
            )
            .map_err(|e| CallbackError::Internal(e.to_string()))?;
        let exchange_failed = |e: LightspeedError| {
            tracing::warn!(merchant_id = %payload.m, error = %e, "authorization code exchange failed");
            CallbackError::Exchange(e.to_string())
        };
        // The K-Series client that discovers the businesses: its pacer is the connection's.
        let mut k_client = None;
        let (tokens, discovery) = match attempt.series.as_str() {
            "x" => {
                let prefix = p.domain_prefix.as_deref().filter(|d| valid_domain_prefix(d)).ok_or_else(|| {
                    CallbackError::Rejected("Lightspeed did not say which store was connected (domain_prefix is missing or invalid). Start the connection again.".into())
                })?;
                let oauth = self.x_oauth()?;
                let tokens =
                    xoauth::exchange_code(self.http(), &oauth, prefix, code, &attempt.redirect_uri)
                        .await
                        .map_err(exchange_failed)?;
                let window = self
                    .config()
                    .xseries
                    .as_ref()
                    .map(|x| x.rate_window)
                    .unwrap_or(std::time::Duration::from_secs(300));
                let client = XClient::new(
                    self.http().clone(),
                    oauth.store_url(prefix).map_err(exchange_failed)?,
                    window,
                    self.retry_policy(),
                );
                let discovery = discover_x(&client, &tokens.access_token, prefix).await;
                (tokens, discovery)
            }
            "o" => {
                let oauth = self.o_oauth()?;
                let tokens =
                    exchange_code(self.http(), &oauth, code, &attempt.redirect_uri, &verifier)
                        .await
                        .map_err(exchange_failed)?;
                let client =
                    OClient::new(self.http().clone(), &oauth.base_url, self.retry_policy())
                        .map_err(exchange_failed)?;
                let discovery = discover_o(&client, &tokens.access_token).await;
                (tokens, discovery)
            }
            "r" => {
                let oauth = self.r_oauth()?;
                let tokens = roauth::exchange_code(self.http(), &oauth, code, &verifier)
                    .await
                    .map_err(exchange_failed)?;
                let api_base = self
                    .config()
                    .rseries
                    .as_ref()
                    .map(|r| r.api_base.clone())
                    .ok_or_else(|| CallbackError::Internal("R-Series is not configured".into()))?;
                let client = RClient::new(self.http().clone(), api_base, self.retry_policy());
                let discovery = discover_r(&client, &tokens.access_token).await;
                (tokens, discovery)
            }
            _ => {
                let oauth = k_oauth(self)?;
                let tokens =
                    exchange_code(self.http(), &oauth, code, &attempt.redirect_uri, &verifier)
                        .await
                        .map_err(exchange_failed)?;
                // K-Series announces no budget, so the requests of discovery must go through
                // the pacer the connection keeps: a reconnect's own, or a new one handed on.
                let client = match &attempt.connection_id {
                    Some(id) => self
                        .k_client(id)
                        .map_err(|e| CallbackError::Internal(e.to_string()))?,
                    None => KClient::new(
                        self.http().clone(),
                        oauth.base_url.clone(),
                        self.retry_policy(),
                    ),
                };
                let discovery = discover(&client, &tokens.access_token).await;
                k_client = Some(client);
                (tokens, discovery)
            }
        };
        let connected = self
            .save_connection(&attempt, tokens, discovery, now)
            .await?;
        if let Some(client) = k_client {
            self.adopt_k_client(&connected.connection_id, client);
        }
        if connected.status == status::CONNECTED {
            match attempt.series.as_str() {
                "x" => {
                    self.subscribe_x_webhooks(&connected.merchant_id, &connected.connection_id)
                        .await
                }
                "o" => {
                    self.subscribe_o_webhooks(&connected.merchant_id, &connected.connection_id)
                        .await
                }
                "k" => {
                    self.register_k_webhook(&connected.merchant_id, &connected.connection_id)
                        .await
                }
                _ => {}
            }
        }
        Ok(connected)
    }

    async fn save_connection(
        &self,
        attempt: &attempts::AttemptRow,
        tokens: tillbridge_lightspeed::TokenSet,
        discovery: Result<Discovery, LightspeedError>,
        now: i64,
    ) -> Result<Connected, CallbackError> {
        let merchant_id = attempt.merchant_id.as_str();
        let mut tx = self.store().begin().await?;
        let existing = match (&attempt.connection_id, &discovery) {
            (Some(id), _) => conns::get_connection(&mut tx, merchant_id, id).await?,
            (None, Ok(d)) => {
                conns::find_by_account(&mut tx, merchant_id, &attempt.series, &d.business_id)
                    .await?
            }
            (None, Err(_)) => None,
        };
        if let (Some(existing), Ok(d)) = (&existing, &discovery) {
            if existing
                .account_id
                .as_deref()
                .is_some_and(|a| a != d.business_id)
            {
                return Err(CallbackError::Rejected(format!(
                    "This connection belongs to business {}, but the sign-in was for business {}. Sign in with the account of business {}, or add a new sales channel instead.",
                    existing.account_id.as_deref().unwrap_or_default(),
                    d.business_id,
                    existing.account_id.as_deref().unwrap_or_default()
                )));
            }
        }
        let reconnected = existing.is_some();
        let connection_id = match &existing {
            Some(e) => e.id.clone(),
            None => {
                let id = new_id("con");
                conns::insert_connection(
                    &mut tx,
                    &ConnectionRow::pending(merchant_id, &id, &attempt.series, "oauth", now),
                )
                .await?;
                id
            }
        };
        let access = self
            .vault()
            .seal(tokens.access_token.expose(), &aad(&connection_id, "access"));
        let refresh = tokens.refresh_token.as_ref().map(|r| {
            self.vault()
                .seal(r.expose(), &aad(&connection_id, "refresh"))
        });
        let expires_at = now + tokens.expires_in.unwrap_or(3600) * 1000;
        conns::store_tokens(
            &mut tx,
            merchant_id,
            &connection_id,
            &conns::SealedTokens {
                access: &access,
                refresh: refresh.as_deref(),
                expires_at,
                scopes: tokens.scope.as_deref(),
            },
            now,
        )
        .await?;
        // A reconnect through OAuth also switches a personal-token connection to OAuth.
        conns::set_auth_kind(&mut tx, merchant_id, &connection_id, "oauth").await?;
        let (status, account_name) = match &discovery {
            Ok(d) => {
                conns::set_account(
                    &mut tx,
                    merchant_id,
                    &connection_id,
                    Some(&d.business_id),
                    d.business_name.as_deref(),
                    d.currency.as_deref(),
                    now,
                )
                .await?;
                conns::replace_pos_locations(&mut tx, merchant_id, &connection_id, &d.locations)
                    .await?;
                jobs::wake_connection(&mut tx, merchant_id, &connection_id, now).await?;
                logs::append(
                    &mut tx,
                    merchant_id,
                    &connection_id,
                    "info",
                    &format!(
                        "connected to business {} with {} location(s)",
                        d.business_id,
                        d.locations.len()
                    ),
                    now,
                )
                .await?;
                (status::CONNECTED, d.business_name.clone())
            }
            Err(e) => {
                let message = format!("Business ID is missing: business discovery failed ({e}). Reconnect to try again.");
                conns::set_status(
                    &mut tx,
                    merchant_id,
                    &connection_id,
                    status::ERROR,
                    Some(&message),
                    now,
                )
                .await?;
                logs::append(&mut tx, merchant_id, &connection_id, "error", &message, now).await?;
                (status::ERROR, None)
            }
        };
        let event = if reconnected {
            "connection.reconnected"
        } else {
            "connection.connected"
        };
        emit(&mut tx, merchant_id, event, &connection_id, serde_json::json!({ "connection_id": connection_id, "series": attempt.series, "status": status }), now).await?;
        tillbridge_store::commit(tx).await?;
        tracing::info!(
            merchant_id,
            connection_id,
            status,
            reconnected,
            "connection saved"
        );
        Ok(Connected {
            merchant_id: merchant_id.to_owned(),
            connection_id,
            account_name,
            status: status.to_owned(),
            reconnected,
        })
    }
}
