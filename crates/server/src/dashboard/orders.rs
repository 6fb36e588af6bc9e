//! Orders: the online orders pushed into the POS with their status (read-only: while the
//! integration is active, staff act on them in the POS), the outage banner, and the orders
//! that need manual handling.

use super::channels::series_name;
use super::{at, merchant_page, Page, Viewer};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use tillbridge_engine::merchants::Merchant;
use tillbridge_model::display_minor;
use tillbridge_ordering::orders::{self, OrderView};
use tillbridge_ordering::outage;

const PAGE: i64 = 100;
const STATUSES: [&str; 8] = [
    "received",
    "submitted",
    "accepted",
    "ready",
    "completed",
    "rejected",
    "failed",
    "cancelled",
];

fn page(
    viewer: &Viewer,
    merchant: &Merchant,
    status: StatusCode,
    title: &str,
    body: Markup,
) -> Response {
    merchant_page(viewer, merchant, "orders", status, title, body)
}

fn status_badge(status: &str) -> Markup {
    let tone = match status {
        "completed" | "accepted" | "ready" => "connected",
        "rejected" | "failed" | "cancelled" => "error",
        _ => "pending",
    };
    html! { span class={ "badge " (tone) } data-order-status=(status) { (status) } }
}

/// The banner: open outages first, then those that ended in the last day.
async fn banner(s: &AppState, merchant: &Merchant) -> Result<Markup, Page> {
    let status = outage::status(&s.engine, &merchant.id).await?;
    let channels = s.engine.connection_summaries(&merchant.id).await?;
    let channel = |id: &str| {
        channels
            .iter()
            .find(|c| c.id == id)
            .map_or("Lightspeed", |c| series_name(&c.series))
    };
    let manual: i64 = status
        .manual_orders
        .iter()
        .filter_map(|m| m["count"].as_i64())
        .sum();
    Ok(html! {
        @for o in status.outages.iter().filter(|o| o.active) {
            div.problem #outage-banner role="alert" data-kind=(o.outage.kind) {
                @if o.reconnect_required {
                    strong { (channel(&o.outage.connection_id)) " no longer accepts this hub's credentials." }
                    " Orders wait until the POS is reconnected. "
                    a #reconnect href=(format!("/merchants/{}/channels/{}/settings", merchant.id, o.outage.connection_id)) { "Reconnect" }
                } @else {
                    strong { (channel(&o.outage.connection_id)) "'s API is failing." }
                    " Orders are retried; those that cannot wait are listed below for manual handling."
                }
                div.muted { "Since " (at(o.outage.started_at, &merchant.timezone)) }
            }
        }
        @for o in status.outages.iter().filter(|o| !o.active) {
            p.muted.outage-over {
                "An outage of " (channel(&o.outage.connection_id)) " ended "
                (o.outage.ended_at.map(|e| at(e, &merchant.timezone)).unwrap_or_default()) "."
            }
        }
        @if manual > 0 {
            p.problem #manual-count { (manual) " online order(s) need manual handling: enter them in the POS by hand." }
        }
    })
}

fn orders_table(merchant: &Merchant, list: &[OrderView], id: &str) -> Markup {
    html! {
        table id=(id) {
            tr { th { "Order" } th { "Type" } th { "Status" } th { "Payment" } th { "Total" } th { "POS" } th { "Received" } }
            @for o in list {
                tr data-order=(o.id) {
                    td { a href=(format!("/merchants/{}/orders/{}", merchant.id, o.id)) { (o.channel_order_id) } }
                    td { (o.order_type) }
                    td {
                        (status_badge(&o.status))
                        @if let Some(r) = &o.reason { div.muted { (r) } }
                    }
                    td { (o.payment_status) }
                    td { (display_minor(o.total_minor, &o.currency)) }
                    td { (series_name(&o.series)) }
                    td { (at(o.created_at, &merchant.timezone)) }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
}

pub async fn list(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let status = q.status.trim();
    if !status.is_empty() && !STATUSES.contains(&status) {
        return Err(Page::error(
            StatusCode::BAD_REQUEST,
            "Not shown",
            &format!("`{status}` is not an order status; pick one from the list."),
        ));
    }
    let manual = orders::list(&s.engine, &merchant_id, None, true, PAGE).await?;
    let all = orders::list(
        &s.engine,
        &merchant_id,
        Some(status).filter(|v| !v.is_empty()),
        false,
        PAGE,
    )
    .await?;
    let body = html! {
        h1 { "Orders" }
        (banner(&s, &merchant).await?)
        p.muted { "Online orders are read-only here while the integration is active: accept, prepare and complete them in the POS, and their status follows." }
        h2 { "Needs manual handling" }
        @if manual.is_empty() {
            p.muted #no-manual { "None: every order reached the POS." }
        } @else {
            (orders_table(&merchant, &manual, "manual-orders"))
        }
        h2 { "Online orders" }
        form.card.inline-fields #order-filter method="get" action=(format!("/merchants/{merchant_id}/orders")) {
            label for="status" { "Status" }
            select #status name="status" {
                option value="" selected[status.is_empty()] { "Every status" }
                @for st in STATUSES {
                    option value=(st) selected[status == st] { (st) }
                }
            }
            button.primary type="submit" { "Show" }
        }
        @if all.is_empty() {
            p.muted #no-orders { "No online orders." }
        } @else {
            (orders_table(&merchant, &all, "orders"))
            @if all.len() as i64 == PAGE { p.muted { "The newest " (PAGE) " are shown; the API lists them all." } }
        }
    };
    Ok(page(&viewer, &merchant, StatusCode::OK, "Orders", body))
}

pub async fn detail(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, order_id)): Path<(String, String)>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let o = orders::get(&s.engine, &merchant_id, &order_id).await?;
    let money = |m: i64| display_minor(m, &o.currency);
    let items = o.request["items"].as_array().cloned().unwrap_or_default();
    let customer = &o.request["customer"];
    let body = html! {
        p { a href=(format!("/merchants/{merchant_id}/orders")) { "← Orders" } }
        h1 #order-id { "Order " (o.channel_order_id) }
        (banner(&s, &merchant).await?)
        @if o.needs_manual_handling {
            p.problem #manual role="alert" { "This order did not reach the POS: enter it there by hand." }
        }
        p.muted #read-only { "Read-only while the integration is active: act on this order in the POS." }
        div.card {
            table {
                tr { th { "Status" } td #status { (status_badge(&o.status)) @if let Some(r) = &o.reason { " " span.muted { (r) } } } }
                tr { th { "Payment" } td { (o.payment_status) } }
                tr { th { "Type" } td { (o.order_type) } }
                tr { th { "Customer" } td #customer {
                    (customer["first_name"].as_str().unwrap_or("")) " " (customer["last_name"].as_str().unwrap_or(""))
                    @if let Some(p) = customer["phone"].as_str() { span.muted { " · " (p) } }
                    @if let Some(e) = customer["email"].as_str() { span.muted { " · " (e) } }
                } }
                tr { th { "Total" } td { (money(o.total_minor)) } }
                tr { th { "POS" } td { (series_name(&o.series)) @if let Some(a) = &o.pos_account { " · account " (a) } } }
                tr { th { "Attempts" } td { (o.attempts) @if let Some(next) = o.next_attempt_at { span.muted { " · next " (at(next, &merchant.timezone)) } } } }
                @if let Some(e) = &o.last_error { tr { th { "Last error" } td.field-error { (e) } } }
                @if let Some(d) = &o.detail { tr { th { "Detail" } td { (d) } } }
                tr { th { "Received" } td { (at(o.created_at, &merchant.timezone)) } }
            }
        }
        h2 { "Items" }
        table #items {
            tr { th { "SKU" } th { "Quantity" } th { "Unit price" } th { "Note" } }
            @for i in &items {
                tr {
                    td { (i["sku"].as_str().unwrap_or("")) }
                    td { (i["quantity"].as_i64().unwrap_or(0)) }
                    td { (i["unit_price_minor"].as_i64().map(money).unwrap_or_default()) }
                    td { (i["note"].as_str().unwrap_or("")) }
                }
            }
        }
        h2 { "History" }
        table #history {
            tr { th { "When" } th { "Status" } th { "Payment" } th { "Detail" } }
            @for h in &o.history {
                tr {
                    td { (at(h.at, &merchant.timezone)) }
                    td { (h.status) }
                    td { (h.payment_status) }
                    td { (h.detail.as_deref().unwrap_or("")) }
                }
            }
        }
    };
    Ok(page(
        &viewer,
        &merchant,
        StatusCode::OK,
        &format!("Order {}", o.channel_order_id),
        body,
    ))
}
