//! Lightspeed Restaurant O-Series (formerly Upserve), under `/oseries`.
//!
//! O-Series publishes no API documentation, so this dialect is defined here, in the shape of the
//! other restaurant series. Every O-Series assumption lives in this module (and the hub's
//! `lightspeed::oseries`):
//!
//! - OAuth exactly like K-Series: `/oseries/oauth/authorize` and `/oseries/oauth/token`, HTTP Basic
//!   client authentication, optional PKCE, 60-minute access tokens, single-use rotating refresh
//!   tokens. Scopes `checks:read customers:read menu:read webhooks`.
//! - `GET /oseries/v1/me` → `{restaurant_group: {id, name}}`: the account.
//! - `GET /oseries/v1/locations` → `{data: [{id, name, timezone, currency}]}`.
//! - `GET /oseries/v1/menu/categories` → `{data: [{id, name}]}`.
//! - `GET /oseries/v1/checks?updated_since=&cursor=&limit=` (limit ≤ 200, default 100), oldest
//!   change first → `{data: [check], next_cursor}` (`null` on the last page). A check:
//!   `{id, number, location_id, register_id, status: closed|voided, type: sale|refund, refund_of,
//!   opened_at, closed_at, updated_at, guest_count, table, customer: {id, email, first_name,
//!   last_name} | null, items: [{id, menu_item_id, name, sku, category: {id, name}, quantity,
//!   unit_price, discount, tax, total}], payments: [{id, type, amount, tip}], totals: {subtotal,
//!   tax, tip, total}}`. Amounts are two-decimal strings; `total` includes tax; a void keeps the
//!   check with `status: voided`; a refund is its own check with negative amounts.
//! - `GET /oseries/v1/customers?email=` → `{data: [customer]}`.
//! - `POST /oseries/v1/webhooks {url, events: ["check.closed", "check.updated"]}` →
//!   `{id, url, events, secret}`. Deliveries are JSON `{id, event, created_at, data: {check_id,
//!   location_id, updated_at}}` with `X-Oseries-Event`, `X-Oseries-Delivery` and
//!   `X-Oseries-Signature: sha256=<hex HMAC-SHA256 of the body under the secret>`, retried on
//!   failure.
//! - Throttling: a leaky bucket per client and account (size 20, draining 5 per second times
//!   the time scale), announced on every answer as `X-LS-API-Bucket-Level: level/size` and
//!   `X-LS-API-Drip-Rate` (the Lightspeed convention R-Series uses); 429 with `Retry-After` in
//!   seconds when it overflows.

mod api;
pub mod webhooks;

use crate::kseries::oauth::{routes_for, Dialect};
use crate::Sandbox;
use axum::Router;

pub const O: Dialect = Dialect {
    series: "o",
    base: "/oseries",
    product: "Lightspeed Restaurant O-Series",
};

pub fn routes() -> Router<Sandbox> {
    Router::new().merge(routes_for(&O)).merge(api::routes())
}
