//! Dashboard users and their sign-in sessions. Passwords are stored as Argon2id PHC strings and
//! session tokens as SHA-256 hashes; neither is ever read back as plaintext.

use crate::{Conn, Result};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserRow {
    pub id: String,
    /// `None` for an installation administrator.
    pub merchant_id: Option<String>,
    pub email: String,
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: i64,
    pub last_sign_in_at: Option<i64>,
}

fn user(r: &sqlx::any::AnyRow) -> Result<UserRow> {
    Ok(UserRow {
        id: r.try_get("id")?,
        merchant_id: r.try_get("merchant_id")?,
        email: r.try_get("email")?,
        password_hash: r.try_get("password_hash")?,
        created_at: r.try_get("created_at")?,
        last_sign_in_at: r.try_get("last_sign_in_at")?,
    })
}

pub async fn insert_user(c: &mut Conn, u: &UserRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO dashboard_users (id, merchant_id, email, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&u.id)
    .bind(&u.merchant_id)
    .bind(&u.email)
    .bind(&u.password_hash)
    .bind(u.created_at)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn user_by_email(c: &mut Conn, email: &str) -> Result<Option<UserRow>> {
    let row = sqlx::query("SELECT * FROM dashboard_users WHERE email = $1")
        .bind(email)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(user).transpose()
}

/// The users of one merchant, or every user with `None`.
pub async fn users(c: &mut Conn, merchant_id: Option<&str>) -> Result<Vec<UserRow>> {
    let rows = sqlx::query(
        "SELECT * FROM dashboard_users WHERE ($1 IS NULL OR merchant_id = $1) ORDER BY email",
    )
    .bind(merchant_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(user).collect()
}

pub async fn set_password(c: &mut Conn, id: &str, password_hash: &str) -> Result<bool> {
    let done = sqlx::query("UPDATE dashboard_users SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(password_hash)
        .execute(c)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Starts a session and records the sign-in.
pub async fn insert_session(
    c: &mut Conn,
    token_hash: &str,
    user_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO dashboard_sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *c)
    .await?;
    sqlx::query("UPDATE dashboard_users SET last_sign_in_at = $2 WHERE id = $1")
        .bind(user_id)
        .bind(now)
        .execute(&mut *c)
        .await?;
    // Expired sessions are swept whenever someone signs in.
    sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

/// The user of an unexpired session.
pub async fn session_user(c: &mut Conn, token_hash: &str, now: i64) -> Result<Option<UserRow>> {
    let row = sqlx::query(
        "SELECT u.* FROM dashboard_sessions s JOIN dashboard_users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(c)
    .await?;
    row.as_ref().map(user).transpose()
}

pub async fn delete_session(c: &mut Conn, token_hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM dashboard_sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(c)
        .await?;
    Ok(())
}

/// Ends every session of a user (after a password change).
pub async fn delete_sessions_of(c: &mut Conn, user_id: &str) -> Result<()> {
    sqlx::query("DELETE FROM dashboard_sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(c)
        .await?;
    Ok(())
}

/// The onboarding steps a merchant finished or skipped: (step, state).
pub async fn onboarding(c: &mut Conn, merchant_id: &str) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT step, state FROM dashboard_onboarding WHERE merchant_id = $1 ORDER BY step",
    )
    .bind(merchant_id)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("step")?, r.try_get("state")?)))
        .collect()
}

pub async fn set_onboarding(
    c: &mut Conn,
    merchant_id: &str,
    step: &str,
    state: &str,
    user_email: &str,
    at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO dashboard_onboarding (merchant_id, step, state, user_email, at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (merchant_id, step) DO UPDATE SET state = excluded.state, user_email = excluded.user_email, at = excluded.at",
    )
    .bind(merchant_id)
    .bind(step)
    .bind(state)
    .bind(user_email)
    .bind(at)
    .execute(c)
    .await?;
    Ok(())
}

/// Failed sign-ins of an e-mail since its last success: (count, last failure).
pub async fn sign_in_failures(c: &mut Conn, email: &str) -> Result<Option<(i64, i64)>> {
    let row = sqlx::query(
        "SELECT failures, last_failed_at FROM dashboard_sign_in_failures WHERE email = $1",
    )
    .bind(email)
    .fetch_optional(c)
    .await?;
    row.map(|r| Ok((r.try_get("failures")?, r.try_get("last_failed_at")?)))
        .transpose()
}

/// Counts one more failure; a failure after a quiet `window_ms` starts the count again.
pub async fn record_sign_in_failure(
    c: &mut Conn,
    email: &str,
    now: i64,
    window_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO dashboard_sign_in_failures (email, failures, last_failed_at) VALUES ($1, 1, $2) \
         ON CONFLICT (email) DO UPDATE SET \
         failures = CASE WHEN dashboard_sign_in_failures.last_failed_at < $3 THEN 1 ELSE dashboard_sign_in_failures.failures + 1 END, \
         last_failed_at = excluded.last_failed_at",
    )
    .bind(email)
    .bind(now)
    .bind(now - window_ms)
    .execute(c)
    .await?;
    Ok(())
}

pub async fn clear_sign_in_failures(c: &mut Conn, email: &str) -> Result<()> {
    sqlx::query("DELETE FROM dashboard_sign_in_failures WHERE email = $1")
        .bind(email)
        .execute(c)
        .await?;
    Ok(())
}
