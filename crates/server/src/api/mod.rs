//! `/api/v1`: merchants, locations, connections, orders, events, API keys, webhook endpoints.

mod catalog;
mod connections;
mod keys;
mod labor;
mod loyalty;
mod merchants;
mod ordering;
mod orders;
mod webhooks;

use crate::AppState;
use axum::routing::{get, post, put};
use axum::Router;

/// Every `/api/v1` route, behind [`crate::extract::guard`].
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/merchants",
            get(merchants::list).post(merchants::create),
        )
        .route("/api/v1/merchants/{merchant_id}", get(merchants::get))
        .route(
            "/api/v1/merchants/{merchant_id}/locations",
            get(merchants::list_locations).post(merchants::create_location),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/locations/{location_id}/mapping",
            put(merchants::map_location),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/connections",
            get(connections::list).post(connections::start),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/connections/personal-token",
            post(connections::personal_token),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/connections/{connection_id}",
            get(connections::get).delete(connections::disconnect),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/connections/{connection_id}/reconnect",
            post(connections::reconnect),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/connections/{connection_id}/test",
            post(connections::test),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/connections/{connection_id}/sync",
            post(connections::sync_now),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/connections/{connection_id}/log",
            get(connections::log),
        )
        .route("/api/v1/merchants/{merchant_id}/orders", get(orders::list))
        .route(
            "/api/v1/merchants/{merchant_id}/orders/{order_id}",
            get(orders::get),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/sales-summary",
            get(orders::summary),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/categories",
            get(orders::categories),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/events",
            get(orders::events),
        )
        .route("/api/v1/events", get(orders::stream))
        .route(
            "/api/v1/merchants/{merchant_id}/loyalty/program",
            get(loyalty::get_program).put(loyalty::put_program),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/members",
            get(loyalty::list_members).post(loyalty::create_member),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/members/{member_id}",
            get(loyalty::get_member).patch(loyalty::update_member),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/members/{member_id}/ledger",
            get(loyalty::ledger),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/members/{member_id}/credits",
            post(loyalty::manual_credit),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/members/{member_id}/redemptions",
            post(loyalty::redeem_credit),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/members/{member_id}/merge",
            post(loyalty::merge_members),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/members/{member_id}/tier-floor",
            put(loyalty::set_tier_floor),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/members/{member_id}/tier-history",
            get(loyalty::tier_history),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/members/{member_id}/segment-history",
            get(loyalty::segment_history),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/loyalty/broadcasts",
            get(loyalty::list_broadcasts).post(loyalty::send_broadcast),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/loyalty/broadcasts/{broadcast_id}/recipients",
            get(loyalty::broadcast_recipients),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/loyalty/replay",
            post(loyalty::replay),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/loyalty/insights",
            get(loyalty::insights),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/loyalty/segments",
            get(loyalty::segments),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/loyalty/segments/recompute",
            post(loyalty::recompute_segments),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/punch-cards",
            get(loyalty::list_cards).post(loyalty::create_card),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/punch-cards/{card_id}",
            put(loyalty::update_card),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/members/{member_id}/cards",
            get(loyalty::member_cards),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/members/{member_id}/cards/{card_id}/rewards/{reward_id}/redeem",
            post(loyalty::redeem),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/labor/settings",
            get(labor::get_settings).put(labor::put_settings),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/labor/departments",
            get(labor::list_departments).post(labor::create_department),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/labor/departments/{department_id}",
            get(labor::get_department)
                .put(labor::put_department)
                .delete(labor::delete_department),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/labor/departments/{department_id}/balance",
            get(labor::department_balance),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/labor/departments/{department_id}/days/{date}/confirm",
            post(labor::confirm_day).delete(labor::reopen_day),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/labor/balance.csv",
            get(labor::balance_csv),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/labor/imports",
            get(labor::list_imports).post(labor::create_import),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/labor/imports/{import_id}",
            get(labor::get_import),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/labor/imports/{import_id}/cancel",
            post(labor::cancel_import),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/catalog",
            get(catalog::list),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/financials",
            get(catalog::financials),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/catalog/items",
            post(catalog::create),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/catalog/items/{sku}",
            put(catalog::update).delete(catalog::delete),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/catalog/items/{sku}/rich",
            put(catalog::put_rich),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/online-orders",
            get(ordering::list).post(ordering::submit),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/online-orders/{order_id}",
            get(ordering::get),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/ordering/status",
            get(ordering::status),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/ordering/settings",
            get(ordering::get_settings).put(ordering::put_settings),
        )
        .route(
            "/api/v1/merchants/{merchant_id}/ordering/readiness",
            get(ordering::readiness),
        )
        .route(
            "/api/v1/webhook-endpoints",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/api/v1/webhook-endpoints/{endpoint_id}",
            get(webhooks::get)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .route(
            "/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
            post(webhooks::rotate),
        )
        .route(
            "/api/v1/webhook-endpoints/{endpoint_id}/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/api/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver",
            post(webhooks::redeliver),
        )
        .route("/api/v1/api-keys", get(keys::list).post(keys::create))
        .route(
            "/api/v1/api-keys/{key_id}",
            axum::routing::delete(keys::revoke),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            crate::extract::guard,
        ))
}

/// Parses an optional RFC 3339 instant query parameter into epoch milliseconds.
pub(crate) fn instant_param(name: &str, raw: Option<&str>) -> Result<Option<i64>, crate::ApiError> {
    match raw {
        None => Ok(None),
        Some(r) => chrono::DateTime::parse_from_rfc3339(r)
            .map(|d| Some(d.timestamp_millis()))
            .map_err(|_| {
                crate::ApiError::bad_request(format!(
                    "`{name}` must be an RFC 3339 instant such as 2026-01-31T00:00:00Z, got `{r}`"
                ))
            }),
    }
}
