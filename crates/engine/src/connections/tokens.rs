//! Keeping tokens alive. Every API call asks [`Engine::access_token`], which refreshes ahead of
//! expiry. Within a process, callers for one connection share a single refresh (a mutex per
//! connection); across processes a lease on the connection row serialises it, and whoever
//! holds it re-reads the row first, because someone may have refreshed already. The rotated
//! refresh token is persisted, in the same statement as the new access token, before use.

use super::{aad, k_oauth, status};
use crate::error::EngineError;
use crate::merchants::emit;
use crate::Engine;
use std::time::Duration;
use tillbridge_lightspeed::kseries::oauth::refresh;
use tillbridge_lightspeed::rseries::oauth as roauth;
use tillbridge_lightspeed::xseries::oauth as xoauth;
use tillbridge_lightspeed::Secret;
use tillbridge_store::connections::{self as conns, ConnectionRow};
use tillbridge_store::{jobs, logs};

/// `auth_kind` of an X-Series personal-token connection.
pub const PERSONAL_TOKEN: &str = "personal_token";

/// How long a refresh may hold the cross-process lease.
const LEASE: Duration = Duration::from_secs(30);

impl Engine {
    fn is_fresh(&self, row: &ConnectionRow, now: i64) -> bool {
        let buffer = self.config().refresh_buffer.as_millis() as i64;
        row.access_token_enc.is_some() && row.access_expires_at.is_some_and(|at| at - buffer > now)
    }

    fn usable(row: &ConnectionRow) -> Result<(), EngineError> {
        match row.status.as_str() {
            status::CONNECTED | status::ERROR => Ok(()),
            status::NEEDS_REAUTH => Err(EngineError::NeedsReauth(row.id.clone())),
            _ => Err(EngineError::Disabled(row.id.clone())),
        }
    }

    /// A valid access token for the connection and the token version it belongs to,
    /// refreshing first when it expires within the buffer.
    pub async fn access_token(
        &self,
        merchant_id: &str,
        connection_id: &str,
    ) -> Result<(Secret, i64), EngineError> {
        let row = self.connection_row(merchant_id, connection_id).await?;
        Self::usable(&row)?;
        if row.auth_kind == PERSONAL_TOKEN {
            // Personal tokens do not expire and cannot be refreshed.
            return self.decrypt_access(&row);
        }
        if self.is_fresh(&row, self.now_ms()) {
            return self.decrypt_access(&row);
        }
        self.refresh_single_flight(merchant_id, connection_id, None)
            .await
    }

    /// Forces a refresh because Lightspeed rejected the token of `seen_version` (401), unless
    /// another caller already replaced it.
    pub async fn refresh_after_rejection(
        &self,
        merchant_id: &str,
        connection_id: &str,
        seen_version: i64,
    ) -> Result<(Secret, i64), EngineError> {
        self.refresh_single_flight(merchant_id, connection_id, Some(seen_version))
            .await
    }

    /// Runs a provider call with a valid access token; when Lightspeed rejects the token (401),
    /// refreshes once and retries.
    pub(crate) async fn with_token<T, F, Fut>(
        &self,
        merchant_id: &str,
        connection_id: &str,
        call: F,
    ) -> Result<T, EngineError>
    where
        F: Fn(Secret) -> Fut,
        Fut: std::future::Future<Output = Result<T, tillbridge_lightspeed::LightspeedError>>,
    {
        let (token, version) = self.access_token(merchant_id, connection_id).await?;
        match call(token).await {
            Err(tillbridge_lightspeed::LightspeedError::Unauthorized { .. }) => {
                let (token, _) = self
                    .refresh_after_rejection(merchant_id, connection_id, version)
                    .await?;
                Ok(call(token).await?)
            }
            other => Ok(other?),
        }
    }

    fn decrypt_access(&self, row: &ConnectionRow) -> Result<(Secret, i64), EngineError> {
        let sealed = row
            .access_token_enc
            .as_deref()
            .ok_or_else(|| EngineError::NeedsReauth(row.id.clone()))?;
        Ok((
            self.vault().open(sealed, &aad(&row.id, "access"))?,
            row.token_version,
        ))
    }

    async fn refresh_single_flight(
        &self,
        merchant_id: &str,
        connection_id: &str,
        rejected: Option<i64>,
    ) -> Result<(Secret, i64), EngineError> {
        let row = self.connection_row(merchant_id, connection_id).await?;
        if row.auth_kind == PERSONAL_TOKEN {
            // Lightspeed rejected a personal token: it was revoked; only the merchant can fix that.
            self.mark_needs_reauth(
                merchant_id,
                connection_id,
                "the personal token was rejected",
            )
            .await?;
            return Err(EngineError::NeedsReauth(connection_id.to_owned()));
        }
        let lock = self.refresh_lock(connection_id);
        let _guard = lock.lock().await;
        let deadline = tokio::time::Instant::now() + LEASE + Duration::from_secs(5);
        loop {
            let row = self.connection_row(merchant_id, connection_id).await?;
            Self::usable(&row)?;
            let replaced = rejected.is_some_and(|v| row.token_version != v);
            if (rejected.is_none() || replaced) && self.is_fresh(&row, self.now_ms()) {
                return self.decrypt_access(&row);
            }
            let now = self.now_ms();
            let leased = {
                let mut c = self.conn().await?;
                conns::try_lease_refresh(
                    &mut c,
                    merchant_id,
                    connection_id,
                    self.instance(),
                    now + LEASE.as_millis() as i64,
                    now,
                )
                .await?
            };
            if leased {
                return self
                    .refresh_holding_lease(merchant_id, connection_id, rejected)
                    .await;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(EngineError::Provider(
                    tillbridge_lightspeed::LightspeedError::Transport {
                        url: "/oauth/token".into(),
                        detail: "another process held the refresh lease for too long".into(),
                    },
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn refresh_holding_lease(
        &self,
        merchant_id: &str,
        connection_id: &str,
        rejected: Option<i64>,
    ) -> Result<(Secret, i64), EngineError> {
        let release = |engine: &Engine| {
            let engine = engine.clone();
            let (m, id) = (merchant_id.to_owned(), connection_id.to_owned());
            async move {
                if let Ok(mut c) = engine.conn().await {
                    let _ = conns::release_lease(&mut c, &m, &id, engine.instance()).await;
                }
            }
        };
        // Re-read under the lease: another process may have refreshed between our checks.
        let row = self.connection_row(merchant_id, connection_id).await?;
        let replaced = rejected.is_some_and(|v| row.token_version != v);
        if (rejected.is_none() || replaced) && self.is_fresh(&row, self.now_ms()) {
            release(self).await;
            return self.decrypt_access(&row);
        }
        let Some(sealed) = row.refresh_token_enc.as_deref() else {
            release(self).await;
            self.mark_needs_reauth(merchant_id, connection_id, "no refresh token is stored")
                .await?;
            return Err(EngineError::NeedsReauth(connection_id.to_owned()));
        };
        let refresh_token = match self.vault().open(sealed, &aad(connection_id, "refresh")) {
            Ok(t) => t,
            Err(e) => {
                release(self).await;
                return Err(e.into());
            }
        };
        let refreshed = match row.series.as_str() {
            "x" => match self.x_oauth() {
                Ok(oauth) => {
                    xoauth::refresh(
                        self.http(),
                        &oauth,
                        row.account_id.as_deref().unwrap_or_default(),
                        &refresh_token,
                    )
                    .await
                }
                Err(e) => {
                    release(self).await;
                    return Err(e);
                }
            },
            "o" => match self.o_oauth() {
                Ok(oauth) => refresh(self.http(), &oauth, &refresh_token).await,
                Err(e) => {
                    release(self).await;
                    return Err(e);
                }
            },
            "r" => match self.r_oauth() {
                Ok(oauth) => roauth::refresh(self.http(), &oauth, &refresh_token).await,
                Err(e) => {
                    release(self).await;
                    return Err(e);
                }
            },
            _ => match k_oauth(self) {
                Ok(oauth) => refresh(self.http(), &oauth, &refresh_token).await,
                Err(e) => {
                    release(self).await;
                    return Err(e);
                }
            },
        };
        match refreshed {
            Ok(tokens) => {
                let now = self.now_ms();
                let access = self
                    .vault()
                    .seal(tokens.access_token.expose(), &aad(connection_id, "access"));
                let new_refresh = tokens.refresh_token.as_ref().map(|r| {
                    self.vault()
                        .seal(r.expose(), &aad(connection_id, "refresh"))
                });
                let expires_at = now + tokens.expires_in.unwrap_or(3600) * 1000;
                let mut tx = self.store().begin().await?;
                conns::store_tokens(
                    &mut tx,
                    merchant_id,
                    connection_id,
                    &conns::SealedTokens {
                        access: &access,
                        refresh: new_refresh.as_deref(),
                        expires_at,
                        scopes: tokens.scope.as_deref(),
                    },
                    now,
                )
                .await?;
                logs::append(
                    &mut tx,
                    merchant_id,
                    connection_id,
                    "info",
                    "access token refreshed",
                    now,
                )
                .await?;
                tillbridge_store::commit(tx).await?;
                tracing::info!(merchant_id, connection_id, "access token refreshed");
                Ok((tokens.access_token, row.token_version + 1))
            }
            Err(e) if e.is_invalid_grant() => {
                release(self).await;
                self.mark_needs_reauth(merchant_id, connection_id, &e.to_string())
                    .await?;
                Err(EngineError::NeedsReauth(connection_id.to_owned()))
            }
            Err(e) => {
                release(self).await;
                tracing::warn!(merchant_id, connection_id, error = %e, "token refresh failed, will retry");
                let mut c = self.conn().await?;
                logs::append(
                    &mut c,
                    merchant_id,
                    connection_id,
                    "warn",
                    &format!("token refresh failed, will retry: {e}"),
                    self.now_ms(),
                )
                .await?;
                Err(e.into())
            }
        }
    }

    /// Revoked or expired credentials: the connection needs the merchant to reconnect. Its
    /// syncs pause and an alert event is emitted.
    async fn mark_needs_reauth(
        &self,
        merchant_id: &str,
        connection_id: &str,
        reason: &str,
    ) -> Result<(), EngineError> {
        let now = self.now_ms();
        let message = format!("Lightspeed no longer accepts this connection's credentials ({reason}); reconnect to resume");
        let mut tx = self.store().begin().await?;
        conns::set_status(
            &mut tx,
            merchant_id,
            connection_id,
            status::NEEDS_REAUTH,
            Some(&message),
            now,
        )
        .await?;
        conns::release_lease(&mut tx, merchant_id, connection_id, self.instance()).await?;
        jobs::pause_connection(&mut tx, merchant_id, connection_id, &message, now).await?;
        emit(
            &mut tx,
            merchant_id,
            "connection.needs_reauth",
            connection_id,
            serde_json::json!({ "connection_id": connection_id, "reason": message }),
            now,
        )
        .await?;
        logs::append(&mut tx, merchant_id, connection_id, "error", &message, now).await?;
        tillbridge_store::commit(tx).await?;
        tracing::warn!(
            merchant_id,
            connection_id,
            "connection needs re-authorization"
        );
        Ok(())
    }

    /// Keep-alive: refreshes connections whose tokens were not refreshed within the keep-alive
    /// interval, so refresh tokens never expire unused. Returns how many were refreshed.
    pub async fn keep_alive(&self) -> Result<usize, EngineError> {
        let rows = {
            let mut c = self.conn().await?;
            conns::list_by_status(&mut c, status::CONNECTED).await?
        };
        let cutoff = self.now_ms() - self.config().keepalive_interval.as_millis() as i64;
        let mut refreshed = 0;
        for row in rows
            .into_iter()
            .filter(|r| r.auth_kind != PERSONAL_TOKEN && r.last_refreshed_at.unwrap_or(0) < cutoff)
        {
            match self
                .refresh_single_flight(&row.merchant_id, &row.id, Some(row.token_version))
                .await
            {
                Ok(_) => refreshed += 1,
                Err(e) => {
                    tracing::warn!(connection_id = %row.id, error = %e, "keep-alive refresh failed")
                }
            }
        }
        Ok(refreshed)
    }
}
