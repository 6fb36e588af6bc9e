//! tillbridge persistence. One [`Store`] over SQLite (the embedded default) or PostgreSQL,
//! picked once from the URL scheme. Queries are runtime-bound with `$n` placeholders, which
//! both backends accept; each backend owns its migrations. Every table carries `merchant_id`
//! in its keys and every query helper takes it, so tenancy lives here and not in handlers.

pub mod api_keys;
pub mod attempts;
pub mod catalog;
pub mod connections;
mod error;
pub mod events;
pub mod jobs;
pub mod logs;
pub mod loyalty;
pub mod merchants;
mod migrate;
pub mod orders;
mod pool;
pub mod testing;

pub use error::StoreError;
pub use pool::{Backend, Store, Tx};

pub type Result<T> = std::result::Result<T, StoreError>;
pub use sqlx::AnyConnection as Conn;
/// A pooled connection; derefs to [`Conn`].
pub type PooledConn = sqlx::pool::PoolConnection<sqlx::Any>;

/// Commits a write transaction.
pub async fn commit(tx: Tx) -> Result<()> {
    tx.commit().await.map_err(StoreError::from)
}
