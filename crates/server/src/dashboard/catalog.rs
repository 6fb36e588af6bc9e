//! Catalog: every connection's items per POS location as the sync last read them — SKU, name,
//! category, price, tax, stock where the POS restricts it, allergens, add-ons and deal choices,
//! production instructions, variant options and picture — from the same unified catalog as `GET /api/v1/merchants/{m}/catalog`. Read-only:
//! items are changed in the POS or through the API, and show here once the sync reads them back.

use super::channels::{channel_labels, series_name};
use super::financials::percent;
use super::{at, merchant_page, Page, Viewer};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use std::collections::BTreeMap;
use tillbridge_engine::catalog::CatalogItem;
use tillbridge_model::display_minor;
use tillbridge_store::ordering::ItemKind;

pub async fn show(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let items = s.engine.catalog(&merchant_id, None, None, None).await?;
    let channels = channel_labels(&s, &merchant_id).await?;
    let mut by_location: BTreeMap<(&str, &str), Vec<&CatalogItem>> = BTreeMap::new();
    for item in &items {
        by_location
            .entry((&item.connection_id, &item.pos_location_id))
            .or_default()
            .push(item);
    }
    let currency = merchant.currency.as_str();
    let body = html! {
        h1 { "Catalog" }
        p.muted {
            "What each POS location sells, as the sync last read it. Change items in the POS or "
            "through the API; they show here once read back."
        }
        @if by_location.is_empty() {
            p.muted #no-items { "No item has been read yet: connect a channel and map its locations." }
        }
        @for ((connection_id, pos_location), items) in &by_location {
            section.card data-location=(pos_location) {
                h2 { (channels.get(*connection_id).map_or_else(|| series_name(&items[0].series), String::as_str)) }
                p.muted { "POS location " code { (pos_location) } " · " (items.len()) " items" }
                table.items {
                    tr {
                        th { "SKU" } th { "Name" } th { "Category" } th { "Price" } th { "Tax" }
                        th { "Stock" } th { "Allergens" } th { "Add-ons and instructions" } th { "Picture" }
                        th { "Read" }
                    }
                    @for i in items {
                        tr data-sku=(i.sku) {
                            td { code { (i.sku) } }
                            td {
                                (i.name.as_deref().unwrap_or("—"))
                                @if let Some(v) = &i.variant {
                                    " " span.badge title={ "variant of " (v.family) } {
                                        @for (k, o) in v.options.iter().enumerate() {
                                            @if k > 0 { ", " }
                                            (o.name) ": " (o.value)
                                        }
                                    }
                                }
                                @match i.kind {
                                    ItemKind::Modifier => { " " span.badge { "add-on" } }
                                    ItemKind::Deal => { " " span.badge { "deal" } }
                                    ItemKind::Item => {}
                                }
                            }
                            td { (i.category.as_deref().unwrap_or("—")) }
                            td.num { (i.price_minor.map_or_else(|| "—".to_owned(), |p| display_minor(p, currency))) }
                            td {
                                @match (i.tax_rate_bp, i.tax_included) {
                                    (Some(bp), Some(true)) => { (percent(bp)) " incl." }
                                    (Some(bp), Some(false)) => { (percent(bp)) " excl." }
                                    (Some(bp), None) => { (percent(bp)) }
                                    (None, _) => { "—" }
                                }
                            }
                            td.num {
                                @match i.available_count {
                                    Some(0) => span.badge.error { "sold out" },
                                    Some(n) => (n),
                                    None => "—",
                                }
                            }
                            td {
                                @if i.allergens.is_empty() { "—" }
                                @for (k, a) in i.allergens.iter().enumerate() {
                                    @if k > 0 { ", " }
                                    (a.names.get("en").map_or(a.code.as_str(), String::as_str))
                                }
                            }
                            td.instructions {
                                @if i.instructions.is_empty() && i.choices.is_empty() { "—" }
                                @for g in &i.choices {
                                    div {
                                        (g.name) " (" (g.min) "–" (g.max.map_or("any".to_owned(), |m| m.to_string())) "): "
                                        @for (k, o) in g.options.iter().enumerate() {
                                            @if k > 0 { ", " }
                                            (o.name.as_deref().unwrap_or(&o.sku))
                                            @if o.price_minor != 0 { " +" (display_minor(o.price_minor, currency)) }
                                        }
                                    }
                                }
                                @for g in &i.instructions {
                                    div {
                                        (g.name) ": "
                                        @for (k, x) in g.instructions.iter().enumerate() {
                                            @if k > 0 { @if g.multiple { ", " } @else { " / " } }
                                            (x.name)
                                        }
                                    }
                                }
                            }
                            td {
                                @match &i.image_url {
                                    Some(url) => a href=(url) rel="noopener" { "view" },
                                    None => "—",
                                }
                            }
                            td { (at(i.synced_at, &merchant.timezone)) }
                        }
                    }
                }
            }
        }
    };
    Ok(merchant_page(
        &viewer,
        &merchant,
        "catalog",
        StatusCode::OK,
        "Catalog",
        body,
    ))
}
