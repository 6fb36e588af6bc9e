//! Insights: the loyalty figures of a date range and their course per day, week or month, as
//! charts (Repeat Purchase Rate, Spend per Member, spend per order of members and others,
//! credit earned and redeemed, segment and tier distributions).

use super::charts::{self, Series};
use super::members::segment_name;
use super::{merchant_page, Page, Viewer};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::BTreeMap;
use tillbridge_engine::merchants::Merchant;
use tillbridge_engine::EngineError;
use tillbridge_loyalty::insights::{self, Figures, Insights, Period};
use tillbridge_loyalty::program;
use tillbridge_loyalty::rfm::Segment;
use tillbridge_model::{decimal_minor, display_minor};

#[derive(Deserialize, Default)]
pub struct Range {
    #[serde(default)]
    period: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// Basis points as a percentage with one decimal: `4250` → `42.5 %`.
fn percent(bp: i64) -> String {
    format!("{}.{} %", bp / 100, (bp % 100).abs() / 10)
}

fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "—".to_owned())
}

/// The x-axis label of a period.
fn period_label(f: &Figures, period: Period) -> String {
    match period {
        Period::Month => f.from.get(..7).unwrap_or(&f.from).to_owned(),
        Period::Week | Period::Day => f.from.get(5..).unwrap_or(&f.from).to_owned(),
    }
}

fn period_form(merchant_id: &str, range: &Range, period: &str, problem: Option<&str>) -> Markup {
    html! {
        form.card.inline-fields #range method="get" action=(format!("/merchants/{merchant_id}/insights")) {
            label for="period" { "Per" }
            select #period name="period" {
                option value="day" selected[period == "day"] { "Day" }
                option value="week" selected[period == "week"] { "Week" }
                option value="month" selected[period == "month"] { "Month" }
            }
            label for="from" { "From" }
            input #from type="date" name="from" value=(range.from) aria-invalid=[problem.map(|_| "true")];
            label for="to" { "Until" }
            input #to type="date" name="to" value=(range.to) aria-invalid=[problem.map(|_| "true")];
            button.primary #show type="submit" { "Show" }
            @if let Some(p) = problem {
                div.field-error #range-error role="alert" { (p) }
            }
        }
    }
}

fn figures(merchant: &Merchant, i: &Insights) -> Markup {
    let money = |m: i64| display_minor(m, &merchant.currency);
    let s = &i.summary;
    html! {
        div.figures #figures {
            div.card.figure data-figure="repeat_purchase_rate" {
                div.muted { "Repeat Purchase Rate" }
                strong { (or_dash(s.repeat_purchase_rate_bp.map(percent))) }
                div.muted { (s.repeat_members) " of " (s.buying_members) " buying members came back" }
            }
            div.card.figure data-figure="spend_per_member" {
                div.muted { "Spend per Member" }
                strong { (or_dash(s.spend_per_member_minor.map(money))) }
                div.muted {
                    "per order: members " (or_dash(s.member_spend_per_order_minor.map(money)))
                    ", others " (or_dash(s.non_member_spend_per_order_minor.map(money)))
                }
            }
            div.card.figure data-figure="lifetime_value" {
                div.muted { "Lifetime Value" }
                strong { (or_dash(i.lifetime.lifetime_value_minor.map(money))) }
                div.muted { "mean spend of " (i.lifetime.members_with_orders) " members who bought" }
            }
            div.card.figure data-figure="member_order_share" {
                div.muted { "Orders from members" }
                strong { (or_dash(s.member_order_share_bp.map(percent))) }
                div.muted { (s.member_orders) " of " (s.orders) " orders" }
            }
            div.card.figure data-figure="credit" {
                div.muted { "Credit earned / redeemed" }
                strong { (money(s.credit_earned_minor)) " / " (money(s.credit_redeemed_minor)) }
                div.muted { (money(i.lifetime.credit_outstanding_minor)) " outstanding now" }
            }
        }
    }
}

/// Bars for `keys` in order (zero where the count has none), then any other key counted.
fn distribution(
    counts: &BTreeMap<String, i64>,
    keys: &[&str],
    name: impl Fn(&str) -> String,
) -> Vec<(String, i64)> {
    let mut bars: Vec<(String, i64)> = keys
        .iter()
        .map(|k| (name(k), counts.get(*k).copied().unwrap_or(0)))
        .collect();
    bars.extend(
        counts
            .iter()
            .filter(|(k, _)| !keys.contains(&k.as_str()))
            .map(|(k, v)| (name(k), *v)),
    );
    bars
}

pub async fn show(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(merchant_id): Path<String>,
    Query(range): Query<Range>,
) -> Result<Response, Page> {
    let merchant = viewer.merchant(&s, &merchant_id).await?;
    let period_name = if range.period.is_empty() {
        "month"
    } else {
        range.period.as_str()
    };
    let period = match period_name {
        "day" => Some(Period::Day),
        "week" => Some(Period::Week),
        "month" => Some(Period::Month),
        _ => None,
    };
    let nonempty = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let found = match period {
        None => Err(format!(
            "`{period_name}` is not a period; pick day, week or month."
        )),
        Some(period) => {
            let q = insights::Query {
                from: nonempty(&range.from),
                to: nonempty(&range.to),
                period: Some(period),
            };
            match insights::insights(&s.engine, &merchant_id, q).await {
                Ok(i) => Ok(i),
                Err(EngineError::Invalid(m)) => Err(m),
                Err(e) => return Err(Page::from(e)),
            }
        }
    };
    let i = match found {
        Ok(i) => i,
        Err(problem) => {
            let body = html! {
                h1 { "Insights" }
                (period_form(&merchant_id, &range, period_name, Some(&problem)))
            };
            let status = StatusCode::BAD_REQUEST;
            return Ok(merchant_page(
                &viewer, &merchant, "insights", status, "Insights", body,
            ));
        }
    };
    let shown = Range {
        period: period_name.to_owned(),
        from: i.summary.from.clone(),
        to: i.summary.to.clone(),
    };
    let labels: Vec<String> = i
        .periods
        .iter()
        .map(|f| period_label(f, i.period))
        .collect();
    let col = |f: fn(&Figures) -> Option<i64>| i.periods.iter().map(f).collect::<Vec<_>>();
    let currency = merchant.currency.as_str();
    let amount = |m: i64| decimal_minor(m, currency);
    let tiers = program::get(&s.engine, &merchant_id)
        .await?
        .tiers
        .map(|t| t.tiers)
        .unwrap_or_default();
    // Every segment and tier has its bar, the empty ones too, in their own order.
    let mut segment_keys: Vec<&str> = Segment::ALL.iter().map(|s| s.as_str()).collect();
    segment_keys.push("unscored");
    let segments = distribution(&i.lifetime.segments, &segment_keys, |k| {
        if k == "unscored" {
            "Not scored yet".to_owned()
        } else {
            segment_name(k)
        }
    });
    let mut tier_keys = vec!["none"];
    tier_keys.extend(tiers.iter().map(|t| t.id.as_str()));
    let tier_bars = distribution(&i.lifetime.tiers, &tier_keys, |k| {
        if k == "none" {
            "No tier".to_owned()
        } else {
            tiers
                .iter()
                .find(|t| t.id == k)
                .map_or_else(|| k.to_owned(), |t| t.name.clone())
        }
    });
    let per = match i.period {
        Period::Day => "day",
        Period::Week => "week",
        Period::Month => "month",
    };
    let body = html! {
        h1 { "Insights" }
        (period_form(&merchant_id, &shown, period_name, None))
        (figures(&merchant, &i))
        div.charts {
            (charts::lines(
                "chart-repeat-rate",
                &format!("Repeat Purchase Rate per {per}: members with two or more orders of those who bought"),
                &labels,
                &[Series { name: "Repeat Purchase Rate", values: col(|f| f.repeat_purchase_rate_bp) }],
                &percent,
                10_000,
            ))
            (charts::lines(
                "chart-spend-per-member",
                &format!("Spend per Member per {per} ({currency})"),
                &labels,
                &[Series { name: "Spend per Member", values: col(|f| f.spend_per_member_minor) }],
                &amount,
                100,
            ))
            (charts::lines(
                "chart-spend-per-order",
                &format!("Spend per order per {per}, members and others ({currency})"),
                &labels,
                &[
                    Series { name: "Members", values: col(|f| f.member_spend_per_order_minor) },
                    Series { name: "Others", values: col(|f| f.non_member_spend_per_order_minor) },
                ],
                &amount,
                100,
            ))
            (charts::lines(
                "chart-credit",
                &format!("Credit earned and redeemed per {per} ({currency})"),
                &labels,
                &[
                    Series { name: "Earned", values: col(|f| Some(f.credit_earned_minor)) },
                    Series { name: "Redeemed", values: col(|f| Some(f.credit_redeemed_minor)) },
                ],
                &amount,
                100,
            ))
            (charts::bars("chart-segments", "Members per segment (last nightly scoring)", &segments))
            (charts::bars("chart-tiers", "Members per tier", &tier_bars))
        }
    };
    Ok(merchant_page(
        &viewer,
        &merchant,
        "insights",
        StatusCode::OK,
        "Insights",
        body,
    ))
}
