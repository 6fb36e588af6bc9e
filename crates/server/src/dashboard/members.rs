//! Members: the list with search and segment filter, and a member's profile (purchases from
//! every channel, credit ledger, stamps per punch card, tier and its history, segment).

use super::channels::channel_labels;
use super::{at, merchant_page, Page, Viewer};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::HashMap;
use tillbridge_engine::merchants::Merchant;
use tillbridge_loyalty::rfm::Segment;
use tillbridge_loyalty::{members, program};
use tillbridge_model::display_minor;

const PAGE: i64 = 50;

/// `needs_attention` → `Needs attention`.
pub(crate) fn segment_name(segment: &str) -> String {
    let words = segment.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn page(viewer: &Viewer, merchant: &Merchant, title: &str, body: Markup) -> Response {
    merchant_page(viewer, merchant, "members", StatusCode::OK, title, body)
}

/// Tier names by id, from the program.
pub(crate) async fn tier_names(
    s: &AppState,
    merchant_id: &str,
) -> Result<HashMap<String, String>, Page> {
    let program = program::get(&s.engine, merchant_id).await?;
    Ok(program
        .tiers
        .map(|t| t.tiers.into_iter().map(|t| (t.id, t.name)).collect())
        .unwrap_or_default())
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    search: String,
    #[serde(default)]
    segment: String,
    #[serde(default)]
    after: String,
}

pub async fn list(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let search = q.search.trim();
    let segment = q.segment.trim();
    if !segment.is_empty() && !Segment::ALL.iter().any(|x| x.as_str() == segment) {
        return Err(Page::error(
            StatusCode::BAD_REQUEST,
            "Not shown",
            &format!("`{segment}` is not a segment; pick one from the list."),
        ));
    }
    let found = members::list(
        &s.engine,
        &merchant_id,
        Some(search).filter(|v| !v.is_empty()),
        Some(segment).filter(|v| !v.is_empty()),
        Some(q.after.as_str()).filter(|v| !v.is_empty()),
        PAGE,
    )
    .await?;
    let tiers = tier_names(&s, &merchant_id).await?;
    let next = (found.len() as i64 == PAGE)
        .then(|| found.last().map(|m| m.id.clone()))
        .flatten();
    let body = html! {
        h1 { "Members" }
        form.card #member-search method="get" action=(format!("/merchants/{merchant_id}/members")) {
            label for="search" { "Search by e-mail, name or phone" }
            input #search type="text" name="search" value=(search);
            label for="segment" { "Segment" }
            select #segment name="segment" {
                option value="" selected[segment.is_empty()] { "Every segment" }
                @for seg in Segment::ALL {
                    option value=(seg.as_str()) selected[segment == seg.as_str()] { (segment_name(seg.as_str())) }
                }
            }
            p { button.primary type="submit" { "Show" } }
        }
        @if found.is_empty() {
            p.muted #no-members { "No member matches." }
        } @else {
            table #members {
                tr { th { "E-mail" } th { "Name" } th { "Credit" } th { "Tier" } th { "Segment" } th { "Joined" } }
                @for m in &found {
                    tr data-member=(m.id) {
                        td { a href=(format!("/merchants/{merchant_id}/members/{}", m.id)) { (m.email) } }
                        td { (m.name.as_deref().unwrap_or("")) }
                        td { (display_minor(m.balance_minor, &merchant.currency)) }
                        td { (m.tier_id.as_ref().and_then(|t| tiers.get(t)).map_or("—", String::as_str)) }
                        td { (m.segment.as_deref().map_or_else(|| "—".to_owned(), segment_name)) }
                        td { (at(m.joined_at, &merchant.timezone)) }
                    }
                }
            }
            @if let Some(next) = next {
                p {
                    a #next-page href=(format!(
                        "/merchants/{merchant_id}/members?{}",
                        serde_urlencoded::to_string([("search", search), ("segment", segment), ("after", next.as_str())]).unwrap_or_default()
                    )) { "Next page →" }
                }
            }
        }
    };
    Ok(page(&viewer, &merchant, "Members", body))
}

pub async fn profile(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((merchant_id, member_id)): Path<(String, String)>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let members::Profile {
        member,
        purchases,
        ledger,
        cards,
        tier_history,
        segment_history,
    } = members::profile(&s.engine, &merchant_id, &member_id).await?;
    let tiers = tier_names(&s, &merchant_id).await?;
    let channels = channel_labels(&s, &merchant_id).await?;
    let tier = |id: &Option<String>| {
        id.as_ref()
            .map(|t| tiers.get(t).cloned().unwrap_or_else(|| t.clone()))
            .unwrap_or_else(|| "—".to_owned())
    };
    let money = |minor: i64| display_minor(minor, &merchant.currency);
    let m = &member.member;
    let body = html! {
        p { a href=(format!("/merchants/{merchant_id}/members")) { "← Members" } }
        h1 #member-email { (m.email) }
        div.card {
            table {
                tr { th { "Name" } td { (m.name.as_deref().unwrap_or("—")) } }
                tr { th { "Phone" } td { (m.phone.as_deref().unwrap_or("—")) } }
                tr { th { "Credit" } td #balance { (money(m.balance_minor)) } }
                tr { th { "Purchases" } td #purchase-count { (member.purchases) " · " (money(member.spend_minor)) " eligible spend" } }
                tr { th { "Tier" } td #tier {
                    (tier(&m.tier_id))
                    @if let Some(since) = &m.tier_since { span.muted { " since " (since) } }
                    @if m.tier_floor.is_some() { span.muted { " (never below " (tier(&m.tier_floor)) ")" } }
                } }
                tr { th { "Segment" } td #segment {
                    (m.segment.as_deref().map_or_else(|| "not scored yet".to_owned(), segment_name))
                    @if let Some(rfm) = &m.rfm_scores { span.muted { " (R, F, M: " (rfm) ")" } }
                } }
                tr { th { "Joined" } td { (at(m.joined_at, &merchant.timezone)) } }
            }
        }
        h2 { "Punch cards" }
        @if cards.is_empty() {
            p.muted #no-cards { "No stamps yet." }
        } @else {
            div.cards #punch-cards {
                @for card in &cards {
                    div.card data-card=(card.card_id) {
                        strong { (card.name) }
                        div {
                            progress max=(card.stamps_required) value=(card.state.current.min(card.stamps_required)) {}
                            " "
                            span.stamps { (card.state.current) " of " (card.stamps_required) " stamps" }
                        }
                        div.muted { (card.state.lifetime) " stamps in all" }
                        @let open = card.state.rewards.iter().filter(|r| !r.redeemed).count();
                        div { (open) " × " (card.reward) " to redeem" }
                    }
                }
            }
        }
        h2 { "Orders from every channel" }
        @if purchases.is_empty() {
            p.muted { "No orders yet." }
        } @else {
            table #orders {
                tr { th { "Closed" } th { "Channel" } th { "Sale" } th { "Eligible amount" } th { "Credit" } }
                @for p in &purchases {
                    tr {
                        td { (at(p.closed_at, &merchant.timezone)) }
                        td { (channels.get(&p.connection_id).map_or("Lightspeed", String::as_str)) }
                        td.muted { (p.sale_external_id) }
                        td { (money(p.net_eligible_minor)) }
                        td { (money(p.accounted_minor)) }
                    }
                }
            }
        }
        h2 { "Credit ledger" }
        @if ledger.is_empty() {
            p.muted { "No credit yet." }
        } @else {
            table #ledger {
                tr { th { "When" } th { "What" } th { "Amount" } th { "Balance" } th { "Reason" } }
                @for e in ledger.iter().rev() {
                    tr {
                        td { (at(e.created_at, &merchant.timezone)) }
                        td { (e.kind) }
                        td { (money(e.amount_minor)) }
                        td { (money(e.balance_after_minor)) }
                        td { (e.reason.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        h2 { "Tier history" }
        @if tier_history.is_empty() {
            p.muted { "No tier changes." }
        } @else {
            table #tier-history {
                tr { th { "Date" } th { "Change" } th { "From" } th { "To" } }
                @for h in &tier_history {
                    tr { td { (h.on_date) } td { (h.event.replace('_', " ")) } td { (tier(&h.from_tier)) } td { (tier(&h.to_tier)) } }
                }
            }
        }
        h2 { "Segment history" }
        @if segment_history.is_empty() {
            p.muted { "No segment changes." }
        } @else {
            table #segment-history {
                tr { th { "Date" } th { "From" } th { "To" } }
                @for h in &segment_history {
                    tr {
                        td { (h.on_date) }
                        td { (h.from_segment.as_deref().map_or_else(|| "—".to_owned(), segment_name)) }
                        td { (segment_name(&h.to_segment)) }
                    }
                }
            }
        }
    };
    Ok(page(&viewer, &merchant, &m.email, body))
}
