//! Reading synced orders and their summaries.

use crate::error::EngineError;
use crate::Engine;
use tillbridge_store::events::{self, EventRow, StreamEvent};
use tillbridge_store::orders::{self, OrderFilter, StoredOrder, Summary};

/// Events numbered for the installation-wide stream per read, at most.
const SEQUENCE_BATCH: i64 = 5_000;

impl Engine {
    pub async fn orders(
        &self,
        merchant_id: &str,
        filter: &OrderFilter,
    ) -> Result<Vec<StoredOrder>, EngineError> {
        self.merchant(merchant_id).await?;
        let mut c = self.conn().await?;
        Ok(orders::list_orders(&mut c, merchant_id, filter).await?)
    }

    pub async fn order(&self, merchant_id: &str, id: &str) -> Result<StoredOrder, EngineError> {
        self.merchant(merchant_id).await?;
        let mut c = self.conn().await?;
        orders::get_order(&mut c, merchant_id, id)
            .await?
            .ok_or_else(|| {
                EngineError::NotFound(format!("no order `{id}` for merchant `{merchant_id}`"))
            })
    }

    pub async fn sales_summary(
        &self,
        merchant_id: &str,
        from: Option<i64>,
        to: Option<i64>,
        connection_id: Option<&str>,
    ) -> Result<Summary, EngineError> {
        self.merchant(merchant_id).await?;
        let mut c = self.conn().await?;
        Ok(orders::summary(&mut c, merchant_id, from, to, connection_id).await?)
    }

    /// The categories the merchant's connections know (of one connection when given), as
    /// kept by each connection's catalog stream.
    pub async fn categories(
        &self,
        merchant_id: &str,
        connection_id: Option<&str>,
    ) -> Result<Vec<tillbridge_store::catalog::CategoryRow>, EngineError> {
        self.merchant(merchant_id).await?;
        if let Some(c) = connection_id {
            self.connection_row(merchant_id, c).await?;
        }
        let mut c = self.conn().await?;
        Ok(tillbridge_store::catalog::categories(&mut c, merchant_id, connection_id).await?)
    }

    pub async fn events(
        &self,
        merchant_id: &str,
        after: i64,
        event_type: Option<&str>,
        limit: i64,
    ) -> Result<Vec<EventRow>, EngineError> {
        self.merchant(merchant_id).await?;
        let mut c = self.conn().await?;
        Ok(events::list_after(&mut c, merchant_id, after, event_type, limit).await?)
    }

    /// The installation-wide event stream after stream number `after`, of one merchant or of
    /// all. Events appended since the last read are numbered first, a bounded batch at a time.
    pub async fn event_stream(
        &self,
        merchant_id: Option<&str>,
        after: i64,
        event_type: Option<&str>,
        limit: i64,
    ) -> Result<Vec<StreamEvent>, EngineError> {
        if let Some(m) = merchant_id {
            self.merchant(m).await?;
        }
        if events::unsequenced(&mut *self.conn().await?).await? {
            events::sequence(self.store(), SEQUENCE_BATCH).await?;
        }
        let mut c = self.conn().await?;
        Ok(events::stream_after(&mut c, merchant_id, after, event_type, limit).await?)
    }

    /// What `/metrics` reports from the database.
    pub async fn metrics_snapshot(&self) -> Result<MetricsSnapshot, EngineError> {
        let now = self.now_ms();
        let mut c = self.conn().await?;
        let jobs_by_state = tillbridge_store::jobs::count_by_state(&mut c).await?;
        let jobs_due = tillbridge_store::jobs::count_due(&mut c, now).await?;
        let sync_lag_seconds = tillbridge_store::jobs::synced_until_by_connection(&mut c)
            .await?
            .into_iter()
            .map(|(m, conn, until)| (m, conn, (now - until).max(0) / 1000))
            .collect();
        let (deliveries, retrying, disabled) =
            tillbridge_store::outbound::delivery_counts(&mut c).await?;
        Ok(MetricsSnapshot {
            jobs_by_state,
            jobs_due,
            sync_lag_seconds,
            webhook_deliveries: deliveries,
            webhook_deliveries_retrying: retrying,
            webhook_endpoints_disabled: disabled,
        })
    }
}

/// Installation figures for `/metrics`.
pub struct MetricsSnapshot {
    pub jobs_by_state: Vec<(String, i64)>,
    /// Queued jobs whose time has come and running jobs whose lease expired.
    pub jobs_due: i64,
    /// (merchant, connection, seconds since every orders stream last finished a run).
    pub sync_lag_seconds: Vec<(String, String, i64)>,
    pub webhook_deliveries: Vec<(String, i64)>,
    pub webhook_deliveries_retrying: i64,
    pub webhook_endpoints_disabled: i64,
}
