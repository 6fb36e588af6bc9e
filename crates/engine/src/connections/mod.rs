//! Sales-channel connections: the OAuth connect flow, the callback, discovery, location
//! mapping, status, test, reconnect and disconnect. Token upkeep lives in [`tokens`].

mod callback;
pub mod tokens;

pub use callback::{CallbackError, CallbackParams, Connected};

use crate::error::EngineError;
use crate::ids::{new_id, pkce_verifier};
use crate::merchants::emit;
use crate::state::{sign, StatePayload};
use crate::Engine;
use serde::Serialize;
use tillbridge_lightspeed::kseries::oauth::{authorize_url, KOAuthConfig};
use tillbridge_lightspeed::Pkce;
use tillbridge_model::Series;
use tillbridge_store::attempts::{self, AttemptRow};
use tillbridge_store::connections::{self as conns, ConnectionRow};
use tillbridge_store::merchants::{self as merch, LinkRow};
use tillbridge_store::{jobs, logs, orders};

/// Connection statuses as the spec names them.
pub mod status {
    pub const CONNECTED: &str = "connected";
    pub const NEEDS_REAUTH: &str = "needs_reauth";
    pub const ERROR: &str = "error";
    pub const DISABLED: &str = "disabled";
    /// Created by a connect attempt that has not completed yet.
    pub const PENDING: &str = "pending";
}

/// The job kind that syncs a location's orders.
pub const ORDERS_JOB: &str = "orders";
/// The connection's catalog stream (one per connection, stream key `catalog`).
pub const CATALOG_JOB: &str = "catalog";

#[derive(Debug, Clone, Serialize)]
pub struct ConnectStart {
    pub attempt_id: String,
    /// Send the merchant's browser here.
    pub authorize_url: String,
    pub expires_at: i64,
    /// Set when this attempt reconnects an existing connection.
    pub connection_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionView {
    pub id: String,
    pub series: String,
    pub provider: String,
    pub status: String,
    pub account_id: Option<String>,
    pub account_name: Option<String>,
    pub currency: Option<String>,
    pub scopes: Option<String>,
    pub last_error: Option<String>,
    pub last_checked_at: Option<i64>,
    pub last_refreshed_at: Option<i64>,
    pub access_token_expires_at: Option<i64>,
    /// `oauth` or `personal_token`.
    pub auth_kind: String,
    pub created_at: i64,
    pub pos_locations: Vec<PosLocationView>,
    pub streams: Vec<StreamView>,
    pub orders_synced: i64,
}

/// A connection as pages that name channels need it.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionSummary {
    pub id: String,
    pub series: String,
    pub status: String,
    pub account_name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PosLocationView {
    pub id: String,
    pub name: String,
    pub timezone: Option<String>,
    /// The tillbridge location mapped to it, if any.
    pub location_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StreamView {
    pub kind: String,
    pub stream: String,
    pub state: String,
    pub phase: Option<String>,
    pub progress_done: i64,
    pub progress_total: Option<i64>,
    pub orders_seen: i64,
    pub next_run_at: i64,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

pub(crate) fn k_oauth(engine: &Engine) -> Result<KOAuthConfig, EngineError> {
    let cfg = engine
        .config()
        .kseries
        .as_ref()
        .ok_or_else(|| crate::engine::not_configured("K-Series"))?;
    Ok(KOAuthConfig {
        base_url: cfg.base_url.clone(),
        client_id: cfg.client_id.clone(),
        client_secret: cfg.client_secret.clone(),
        scopes: cfg.scopes.clone(),
    })
}

pub(crate) fn aad(connection_id: &str, field: &str) -> String {
    format!("connection/{connection_id}/{field}")
}

impl Engine {
    /// Starts connecting `series` for a merchant (or reconnecting `reconnect`): keeps a PKCE
    /// verifier for 10 minutes and returns the provider's authorize URL with a signed state.
    pub async fn start_connect(
        &self,
        merchant_id: &str,
        series: Series,
        reconnect: Option<&str>,
    ) -> Result<ConnectStart, EngineError> {
        self.merchant(merchant_id).await?;
        // Fail early (before anything is stored) when the series cannot be connected.
        match series {
            Series::K => drop(k_oauth(self)?),
            Series::X => drop(self.x_oauth()?),
            Series::R => drop(self.r_oauth()?),
            Series::O => drop(self.o_oauth()?),
        }
        if let Some(id) = reconnect {
            let existing = self.connection_row(merchant_id, id).await?;
            if existing.series != series.as_str() {
                return Err(EngineError::Invalid(format!(
                    "connection `{id}` is a {} connection, not {}",
                    existing.series,
                    series.as_str()
                )));
            }
        }
        let now = self.now_ms();
        let pkce = Pkce::from_verifier(pkce_verifier(Pkce::VERIFIER_LEN));
        let attempt_id = new_id("att");
        let expires_at = now + self.config().attempt_ttl.as_millis() as i64;
        let redirect_uri = self.config().redirect_uri();
        let row = AttemptRow {
            merchant_id: merchant_id.to_owned(),
            id: attempt_id.clone(),
            series: series.as_str().to_owned(),
            connection_id: reconnect.map(str::to_owned),
            verifier_enc: self.vault().seal(
                pkce.verifier.expose(),
                &format!("attempt/{attempt_id}/verifier"),
            ),
            redirect_uri: redirect_uri.clone(),
            created_at: now,
            expires_at,
        };
        let mut c = self.conn().await?;
        attempts::purge_expired(&mut c, now - 24 * 3600 * 1000).await?;
        attempts::insert_attempt(&mut c, &row).await?;
        let state = sign(
            &self.vault().derive("oauth-state"),
            &StatePayload {
                m: merchant_id.to_owned(),
                a: attempt_id.clone(),
                t: now,
            },
        );
        let url = match series {
            Series::X => tillbridge_lightspeed::xseries::oauth::authorize_url(
                &self.x_oauth()?,
                &redirect_uri,
                &state,
            ),
            Series::R => tillbridge_lightspeed::rseries::oauth::authorize_url(
                &self.r_oauth()?,
                &redirect_uri,
                &state,
                &pkce.challenge,
            ),
            Series::O => authorize_url(&self.o_oauth()?, &redirect_uri, &state, &pkce.challenge)?,
            Series::K => authorize_url(&k_oauth(self)?, &redirect_uri, &state, &pkce.challenge)?,
        };
        tracing::info!(merchant_id, attempt_id, series = %series, "connection attempt started");
        Ok(ConnectStart {
            attempt_id,
            authorize_url: url.to_string(),
            expires_at,
            connection_id: reconnect.map(str::to_owned),
        })
    }

    pub(crate) async fn connection_row(
        &self,
        merchant_id: &str,
        id: &str,
    ) -> Result<ConnectionRow, EngineError> {
        let mut c = self.conn().await?;
        conns::get_connection(&mut c, merchant_id, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no connection `{id}` for merchant `{merchant_id}`: list them with GET /api/v1/merchants/{merchant_id}/connections")))
    }

    pub async fn connections(&self, merchant_id: &str) -> Result<Vec<ConnectionView>, EngineError> {
        self.merchant(merchant_id).await?;
        let rows = {
            let mut c = self.conn().await?;
            conns::list_connections(&mut c, merchant_id).await?
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.view(r).await?);
        }
        Ok(out)
    }

    /// Each connection's name and state, for pages that only name channels: no counts, no
    /// streams (counting a connection's orders reads them all on PostgreSQL).
    pub async fn connection_summaries(
        &self,
        merchant_id: &str,
    ) -> Result<Vec<ConnectionSummary>, EngineError> {
        self.merchant(merchant_id).await?;
        let mut c = self.conn().await?;
        Ok(conns::list_connections(&mut c, merchant_id)
            .await?
            .into_iter()
            .map(|r| ConnectionSummary {
                id: r.id,
                series: r.series,
                status: r.status,
                account_name: r.account_name,
            })
            .collect())
    }

    pub async fn connection(
        &self,
        merchant_id: &str,
        id: &str,
    ) -> Result<ConnectionView, EngineError> {
        self.merchant(merchant_id).await?;
        let row = self.connection_row(merchant_id, id).await?;
        self.view(row).await
    }

    async fn view(&self, r: ConnectionRow) -> Result<ConnectionView, EngineError> {
        let mut c = self.conn().await?;
        let links = merch::list_links(&mut c, &r.merchant_id).await?;
        let pos = conns::list_pos_locations(&mut c, &r.merchant_id, &r.id).await?;
        let job_rows = jobs::list_for_connection(&mut c, &r.merchant_id, &r.id).await?;
        let orders_synced = orders::count_orders(&mut c, &r.merchant_id, Some(&r.id)).await?;
        let series = r
            .series
            .parse::<Series>()
            .map(|s| s.display_name().to_owned())
            .unwrap_or_else(|_| r.series.clone());
        Ok(ConnectionView {
            pos_locations: pos
                .into_iter()
                .map(|p| PosLocationView {
                    location_id: links
                        .iter()
                        .find(|l| l.connection_id == r.id && l.external_id == p.external_id)
                        .map(|l| l.location_id.clone()),
                    id: p.external_id,
                    name: p.name,
                    timezone: p.timezone,
                })
                .collect(),
            streams: job_rows
                .into_iter()
                .map(|j| StreamView {
                    phase: j
                        .checkpoint
                        .get("phase")
                        .and_then(|p| p.as_str())
                        .map(str::to_owned),
                    orders_seen: j
                        .checkpoint
                        .get("orders")
                        .and_then(|p| p.as_i64())
                        .unwrap_or(0),
                    kind: j.kind,
                    stream: j.stream_key,
                    state: j.state,
                    progress_done: j.progress_done,
                    progress_total: j.progress_total,
                    next_run_at: j.run_after,
                    last_error: j.last_error,
                    updated_at: j.updated_at,
                })
                .collect(),
            orders_synced,
            provider: series,
            id: r.id,
            series: r.series,
            status: r.status,
            account_id: r.account_id,
            account_name: r.account_name,
            currency: r.currency,
            scopes: r.scopes,
            last_error: r.last_error,
            last_checked_at: r.last_checked_at,
            last_refreshed_at: r.last_refreshed_at,
            access_token_expires_at: r.access_expires_at,
            auth_kind: r.auth_kind,
            created_at: r.created_at,
        })
    }

    /// Maps a tillbridge location to a POS location of a connection and starts syncing it.
    pub async fn map_location(
        &self,
        merchant_id: &str,
        location_id: &str,
        connection_id: &str,
        external_id: &str,
    ) -> Result<(), EngineError> {
        self.merchant(merchant_id).await?;
        let external_id = external_id.trim();
        let mut c = self.conn().await?;
        merch::get_location(&mut c, merchant_id, location_id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("no location `{location_id}`: create it with POST /api/v1/merchants/{merchant_id}/locations")))?;
        let conn_row = conns::get_connection(&mut c, merchant_id, connection_id)
            .await?
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "no connection `{connection_id}` for merchant `{merchant_id}`"
                ))
            })?;
        let known = conns::list_pos_locations(&mut c, merchant_id, connection_id).await?;
        if !known.iter().any(|p| p.external_id == external_id) {
            let choices = known
                .iter()
                .map(|p| format!("{} ({})", p.external_id, p.name))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(EngineError::Invalid(format!(
                "`{external_id}` is not a location of connection `{connection_id}`; its locations are: {}",
                if choices.is_empty() { "none discovered yet (reconnect to rediscover)".to_owned() } else { choices }
            )));
        }
        drop(c);
        let now = self.now_ms();
        let mut tx = self.store().begin().await?;
        merch::link_location(
            &mut tx,
            merchant_id,
            &LinkRow {
                location_id: location_id.to_owned(),
                connection_id: connection_id.to_owned(),
                external_id: external_id.to_owned(),
            },
            now,
        )
        .await?;
        // K-Series syncs each business location; X- and R-Series read the whole account's sales
        // feed, which starts over so the newly mapped location's history is read too.
        let whole_account = conn_row.series != "k";
        let stream = if whole_account {
            "sales".to_owned()
        } else {
            external_id.to_owned()
        };
        let job_id = new_id("job");
        jobs::ensure(
            &mut tx,
            &jobs::NewJob {
                id: &job_id,
                merchant_id,
                connection_id,
                kind: ORDERS_JOB,
                stream_key: &stream,
                run_after: now,
                checkpoint: &serde_json::json!({}),
            },
            now,
        )
        .await?;
        jobs::ensure(
            &mut tx,
            &jobs::NewJob {
                id: &new_id("job"),
                merchant_id,
                connection_id,
                kind: CATALOG_JOB,
                stream_key: "catalog",
                run_after: now,
                checkpoint: &serde_json::json!({}),
            },
            now,
        )
        .await?;
        if whole_account {
            jobs::restart_stream(
                &mut tx,
                merchant_id,
                connection_id,
                ORDERS_JOB,
                &stream,
                now,
            )
            .await?;
        }
        if conn_row.status != status::CONNECTED {
            jobs::pause_connection(
                &mut tx,
                merchant_id,
                connection_id,
                "the connection is not connected",
                now,
            )
            .await?;
        }
        emit(&mut tx, merchant_id, "location.mapped", location_id, serde_json::json!({ "location_id": location_id, "connection_id": connection_id, "pos_location_id": external_id }), now).await?;
        logs::append(
            &mut tx,
            merchant_id,
            connection_id,
            "info",
            &format!("location {location_id} mapped to POS location {external_id}"),
            now,
        )
        .await?;
        tillbridge_store::commit(tx).await?;
        if conn_row.series == "k" && conn_row.status == status::CONNECTED {
            // The webhook endpoint follows the mapping; polling covers any failure here.
            if let Err(e) = self
                .link_k_webhook_locations(merchant_id, connection_id)
                .await
            {
                self.log(
                    merchant_id,
                    connection_id,
                    "warn",
                    &format!("could not link the webhook endpoint to the mapped locations: {e}"),
                )
                .await;
            }
        }
        Ok(())
    }

    /// Test Connection: a cheap authenticated call, recorded with its time and result.
    pub async fn test_connection(
        &self,
        merchant_id: &str,
        connection_id: &str,
    ) -> Result<ConnectionView, EngineError> {
        let row = self.connection_row(merchant_id, connection_id).await?;
        let result = self.probe(&row).await;
        let now = self.now_ms();
        let mut tx = self.store().begin().await?;
        match &result {
            Ok(_) => {
                conns::record_check(&mut tx, merchant_id, connection_id, None, now).await?;
                if row.status == status::ERROR {
                    conns::set_status(
                        &mut tx,
                        merchant_id,
                        connection_id,
                        status::CONNECTED,
                        None,
                        now,
                    )
                    .await?;
                }
                logs::append(
                    &mut tx,
                    merchant_id,
                    connection_id,
                    "info",
                    "connection test succeeded",
                    now,
                )
                .await?;
            }
            Err(e) => {
                let message = format!("connection test failed: {e}");
                conns::record_check(&mut tx, merchant_id, connection_id, Some(&message), now)
                    .await?;
                logs::append(&mut tx, merchant_id, connection_id, "error", &message, now).await?;
            }
        }
        tillbridge_store::commit(tx).await?;
        self.connection(merchant_id, connection_id).await
    }

    /// The cheapest authenticated read of the connection's series.
    async fn probe(&self, row: &conns::ConnectionRow) -> Result<(), EngineError> {
        let (m, c) = (row.merchant_id.as_str(), row.id.as_str());
        match row.series.as_str() {
            "x" => {
                let client = self.x_client(c, row.account_id.as_deref().unwrap_or_default())?;
                self.with_token(m, c, |t| {
                    let client = client.clone();
                    async move { client.outlets(&t).await.map(drop) }
                })
                .await
            }
            "r" => {
                let client = self.r_client(c)?;
                self.with_token(m, c, |t| {
                    let client = client.clone();
                    async move { client.account(&t).await.map(drop) }
                })
                .await
            }
            "o" => {
                let client = self.o_client(c)?;
                self.with_token(m, c, |t| {
                    let client = client.clone();
                    async move { client.me(&t).await.map(drop) }
                })
                .await
            }
            _ => {
                let client = self.k_client(c)?;
                self.with_token(m, c, |t| {
                    let client = client.clone();
                    async move { client.businesses(&t).await.map(drop) }
                })
                .await
            }
        }
    }

    /// Disconnect: requires `confirm == "Lightspeed"`; erases credentials, stops the flow, keeps
    /// history.
    pub async fn disconnect(
        &self,
        merchant_id: &str,
        connection_id: &str,
        confirm: &str,
    ) -> Result<(), EngineError> {
        if confirm.trim() != "Lightspeed" {
            return Err(EngineError::Invalid(
                "to disconnect, confirm by typing the provider name: \"Lightspeed\"".into(),
            ));
        }
        let row = self.connection_row(merchant_id, connection_id).await?;
        if matches!(row.series.as_str(), "k" | "x") && row.status == status::CONNECTED {
            // Best effort and bounded: Lightspeed being down must not block a disconnect.
            let removed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
                if row.series == "k" {
                    self.delete_k_webhook(merchant_id, connection_id).await
                } else {
                    self.unsubscribe_x_webhooks(merchant_id, connection_id)
                        .await
                }
            })
            .await;
            if let Some(e) = match removed {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some("Lightspeed did not answer within 10 s".to_owned()),
            } {
                self.log(
                    merchant_id,
                    connection_id,
                    "warn",
                    &format!("could not remove the webhook subscription from Lightspeed: {e}"),
                )
                .await;
            }
        }
        let now = self.now_ms();
        let mut tx = self.store().begin().await?;
        conns::erase_credentials(&mut tx, merchant_id, connection_id, now).await?;
        jobs::pause_connection(
            &mut tx,
            merchant_id,
            connection_id,
            "the connection was disconnected",
            now,
        )
        .await?;
        emit(
            &mut tx,
            merchant_id,
            "connection.disconnected",
            connection_id,
            serde_json::json!({ "connection_id": connection_id }),
            now,
        )
        .await?;
        logs::append(
            &mut tx,
            merchant_id,
            connection_id,
            "warn",
            "disconnected: credentials erased, synced history kept",
            now,
        )
        .await?;
        tillbridge_store::commit(tx).await?;
        self.inner
            .k_clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(connection_id);
        Ok(())
    }

    pub async fn connection_log(
        &self,
        merchant_id: &str,
        connection_id: &str,
    ) -> Result<Vec<logs::LogEntry>, EngineError> {
        self.connection_row(merchant_id, connection_id).await?;
        let mut c = self.conn().await?;
        Ok(logs::list(&mut c, merchant_id, connection_id).await?)
    }

    /// Sync now: makes the connection's streams due immediately; returns how many are due.
    pub async fn sync_now(
        &self,
        merchant_id: &str,
        connection_id: &str,
    ) -> Result<i64, EngineError> {
        let row = self.connection_row(merchant_id, connection_id).await?;
        if row.status == status::DISABLED {
            return Err(EngineError::Disabled(connection_id.to_owned()));
        }
        if row.status == status::NEEDS_REAUTH {
            return Err(EngineError::NeedsReauth(connection_id.to_owned()));
        }
        let now = self.now_ms();
        let mut c = self.conn().await?;
        jobs::wake_connection(&mut c, merchant_id, connection_id, now).await?;
        Ok(jobs::count_due_for_connection(&mut c, merchant_id, connection_id, now).await?)
    }
}

impl Engine {
    /// Connects an X-Series store with a personal token (no OAuth): the token is checked by
    /// reading the store's outlets, then stored sealed. Reconnecting through OAuth later
    /// switches the same connection to OAuth, keeping its data.
    pub async fn connect_personal_token(
        &self,
        merchant_id: &str,
        domain_prefix: &str,
        token: &str,
    ) -> Result<ConnectionView, EngineError> {
        self.merchant(merchant_id).await?;
        let domain_prefix = domain_prefix.trim();
        if !tillbridge_lightspeed::xseries::valid_domain_prefix(domain_prefix) {
            return Err(EngineError::Invalid(format!("`{domain_prefix}` is not a store domain prefix: use the part before .retail.lightspeed.app")));
        }
        let token = tillbridge_lightspeed::Secret::new(token.trim());
        if token.is_empty() {
            return Err(EngineError::Invalid(
                "the personal token is empty: create one in Setup → Personal Tokens".into(),
            ));
        }
        let window = self
            .config()
            .xseries
            .as_ref()
            .map(|x| x.rate_window)
            .ok_or_else(|| crate::engine::not_configured("X-Series"))?;
        let client = tillbridge_lightspeed::xseries::XClient::new(
            self.http().clone(),
            self.x_oauth()?.store_url(domain_prefix)?,
            window,
            self.retry_policy(),
        );
        let outlets = client.outlets(&token).await.map_err(|e| match e {
            tillbridge_lightspeed::LightspeedError::Unauthorized { .. } => EngineError::Invalid(
                "Lightspeed did not accept this personal token for that store".into(),
            ),
            other => other.into(),
        })?;
        let now = self.now_ms();
        let mut tx = self.store().begin().await?;
        let existing = conns::find_by_account(&mut tx, merchant_id, "x", domain_prefix).await?;
        let connection_id = match &existing {
            Some(e) => e.id.clone(),
            None => {
                let id = new_id("con");
                conns::insert_connection(
                    &mut tx,
                    &ConnectionRow::pending(merchant_id, &id, "x", tokens::PERSONAL_TOKEN, now),
                )
                .await?;
                id
            }
        };
        let sealed = self
            .vault()
            .seal(token.expose(), &aad(&connection_id, "access"));
        // Personal tokens do not expire; the far-future expiry keeps them from being refreshed.
        let sealed_tokens = conns::SealedTokens {
            access: &sealed,
            refresh: None,
            expires_at: i64::MAX / 2,
            scopes: None,
        };
        conns::store_tokens(&mut tx, merchant_id, &connection_id, &sealed_tokens, now).await?;
        conns::set_auth_kind(&mut tx, merchant_id, &connection_id, tokens::PERSONAL_TOKEN).await?;
        conns::set_account(
            &mut tx,
            merchant_id,
            &connection_id,
            Some(domain_prefix),
            Some(domain_prefix),
            outlets.iter().find_map(|o| o.currency.as_deref()),
            now,
        )
        .await?;
        let pos: Vec<conns::PosLocationRow> = outlets
            .iter()
            .map(|o| conns::PosLocationRow {
                external_id: o.id.clone(),
                name: o.name.clone().unwrap_or_else(|| o.id.clone()),
                timezone: o.time_zone.clone(),
            })
            .collect();
        conns::replace_pos_locations(&mut tx, merchant_id, &connection_id, &pos).await?;
        jobs::wake_connection(&mut tx, merchant_id, &connection_id, now).await?;
        emit(&mut tx, merchant_id, "connection.connected", &connection_id, serde_json::json!({ "connection_id": connection_id, "series": "x", "status": status::CONNECTED, "auth": tokens::PERSONAL_TOKEN }), now).await?;
        logs::append(
            &mut tx,
            merchant_id,
            &connection_id,
            "info",
            &format!("connected to store {domain_prefix} with a personal token"),
            now,
        )
        .await?;
        tillbridge_store::commit(tx).await?;
        self.subscribe_x_webhooks(merchant_id, &connection_id).await;
        self.connection(merchant_id, &connection_id).await
    }
}
