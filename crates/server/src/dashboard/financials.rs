//! Financials: what each location sold per business date over a range (a week ending today by
//! default), with the range's split by payment method, tax rate and accounting group, from the
//! same report as `GET /api/v1/merchants/{m}/financials`.

use super::channels::channel_labels;
use super::{merchant_page, Page, Viewer};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Days, NaiveDate};
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::HashMap;
use tillbridge_engine::financials::{Figures, LocationReport};
use tillbridge_engine::merchants::Merchant;
use tillbridge_model::display_minor;

/// Business dates shown when the range is not given: this many, ending today.
const DEFAULT_DAYS: u64 = 7;

#[derive(Deserialize, Default)]
pub struct RangeQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
}

fn date(name: &str, raw: &str) -> Result<NaiveDate, Page> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
        Page::error(
            StatusCode::BAD_REQUEST,
            "Not shown",
            &format!("`{raw}` is not a date for {name}; use the form's date fields (YYYY-MM-DD)."),
        )
    })
}

/// Today's date in the merchant's zone.
fn today(s: &AppState, merchant: &Merchant) -> NaiveDate {
    let now = chrono::DateTime::from_timestamp_millis(s.engine.now_ms()).unwrap_or_default();
    match merchant.timezone.parse::<chrono_tz::Tz>() {
        Ok(tz) => now.with_timezone(&tz).date_naive(),
        Err(_) => now.date_naive(),
    }
}

/// 900 basis points → `9 %`; 888 → `8.88 %`.
pub(crate) fn percent(bp: i64) -> String {
    let (whole, part) = (bp / 100, (bp % 100).abs());
    match part {
        0 => format!("{whole} %"),
        p if p % 10 == 0 => format!("{whole}.{} %", p / 10),
        p => format!("{whole}.{p:02} %"),
    }
}

fn figures_cells(f: &Figures, currency: &str) -> Markup {
    html! {
        td.num { (f.orders) }
        td.num { (f.sales) }
        td.num { (f.refunds) }
        td.num { (f.voids) }
        td.num { (display_minor(f.total_minor, currency)) }
        td.num { (display_minor(f.tax_minor, currency)) }
        td.num { (display_minor(f.net_minor, currency)) }
        td.num { (display_minor(f.tip_minor, currency)) }
    }
}

/// One location: its days, its totals, and the range's splits.
fn location(l: &LocationReport, name: &str, channel: &str) -> Markup {
    let c = l.currency.as_str();
    let t = &l.totals;
    html! {
        section.card data-location=(l.pos_location_id) {
            h2 { (name) }
            p.muted { (channel) " · POS location " code { (l.pos_location_id) } }
            table.days {
                tr {
                    th { "Business date" } th { "Orders" } th { "Sales" } th { "Refunds" } th { "Voids" }
                    th { "Total" } th { "Tax" } th { "Net" } th { "Tips" } th { "Day" }
                }
                @for d in &l.days {
                    tr data-date=(d.business_date) {
                        td { (d.business_date) }
                        (figures_cells(&d.figures, c))
                        td { @if d.closed { "closed" } @else { span.badge.pending { "open" } } }
                    }
                }
                tr.total data-date="total" {
                    th { "Range" }
                    (figures_cells(t, c))
                    td {}
                }
            }
            div.splits {
                table.methods {
                    tr { th { "Payment method" } th { "Payments" } th { "Paid" } th { "Tips" } }
                    @for m in &t.by_payment_method {
                        tr data-method=(m.code) {
                            td { (m.name.as_deref().unwrap_or(&m.code)) }
                            td.num { (m.payments) }
                            td.num { (display_minor(m.amount_minor, c)) }
                            td.num { (display_minor(m.tip_minor, c)) }
                        }
                    }
                }
                table.rates {
                    tr { th { "Tax rate" } th { "Total" } th { "Tax" } th { "Net" } }
                    @for r in &t.by_tax_rate {
                        tr data-rate=(r.rate_bp.map_or_else(|| "none".to_owned(), |b| b.to_string())) {
                            td { (r.rate_bp.map_or_else(|| "not given".to_owned(), percent)) }
                            td.num { (display_minor(r.total_minor, c)) }
                            td.num { (display_minor(r.tax_minor, c)) }
                            td.num { (display_minor(r.net_minor, c)) }
                        }
                    }
                }
                table.groups {
                    tr { th { "Accounting group" } th { "Quantity" } th { "Total" } }
                    @for g in &t.by_accounting_group {
                        tr data-group=(g.id.as_deref().unwrap_or("none")) {
                            td { (g.name.as_deref().or(g.id.as_deref()).unwrap_or("none")) }
                            td.num { (tillbridge_model::Quantity(g.quantity_milli)) }
                            td.num { (display_minor(g.total_minor, c)) }
                        }
                    }
                }
            }
        }
    }
}

pub async fn show(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
    Query(q): Query<RangeQuery>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let today = today(&s, &merchant);
    let until = match q.until.trim() {
        "" => today,
        raw => date("the last day", raw)?,
    };
    let from = match q.from.trim() {
        "" => until
            .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
            .unwrap_or(until),
        raw => date("the first day", raw)?,
    };
    let report = s
        .engine
        .financial_report(&merchant_id, from, until, None, None)
        .await?;
    let names: HashMap<String, String> = s
        .engine
        .locations(&merchant_id)
        .await?
        .into_iter()
        .map(|l| (l.id, l.name))
        .collect();
    let channels = channel_labels(&s, &merchant_id).await?;
    let body = html! {
        h1 { "Financials" }
        form.card #range method="get" action=(format!("/merchants/{merchant_id}/financials")) {
            label for="from" { "First business date" }
            input #from type="date" name="from" value=(from);
            label for="until" { "Last business date" }
            input #until type="date" name="until" value=(until);
            p { button.primary type="submit" { "Show" } }
        }
        p.muted {
            "Per location and business date, in the location's zone and day start, from the orders "
            "the hub has read. A day is closed once it has ended and the sync has read past its end."
        }
        @if report.locations.is_empty() {
            p.muted #no-locations { "No location is mapped yet: map one under Sales Channels." }
        }
        @for l in &report.locations {
            (location(
                l,
                names.get(&l.location_id).map_or(l.location_id.as_str(), String::as_str),
                channels.get(&l.connection_id).map_or("Lightspeed", String::as_str),
            ))
        }
    };
    Ok(merchant_page(
        &viewer,
        &merchant,
        "financials",
        StatusCode::OK,
        "Financials",
        body,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn percents_keep_what_the_rate_has() {
        assert_eq!(super::percent(900), "9 %");
        assert_eq!(super::percent(2500), "25 %");
        assert_eq!(super::percent(550), "5.5 %");
        assert_eq!(super::percent(888), "8.88 %");
        assert_eq!(super::percent(0), "0 %");
    }
}
