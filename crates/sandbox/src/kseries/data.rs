//! K-Series data endpoints: business discovery, Financial API V1 and V2 (sales, sales-daily,
//! lightspeed-payments), and lookups.

use super::render::{self, statistic_group, Includes, Version};
use super::{delayed, guard, Authed};
use crate::http::json;
use crate::wire::{local_iso, parse_instant};
use crate::world::{Merchant, World};
use crate::Sandbox;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::{json, Value};
use sha2::Digest;
use std::collections::HashMap;

pub fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/kseries/o/op/data/businesses", get(op_businesses))
        .route("/kseries/f/data/businesses", get(financial_businesses))
        .route(
            "/kseries/f/finance/{bl}/financials/{from}/{to}",
            get(financials),
        )
        .route(
            "/kseries/f/finance/{bl}/dailyFinancials",
            get(daily_financials),
        )
        .route(
            "/kseries/f/finance/{bl}/accountingGroups",
            get(accounting_groups),
        )
        .route("/kseries/f/finance/{bl}/tax-rates", get(tax_rates))
        .route(
            "/kseries/f/finance/{bl}/paymentMethods",
            get(payment_methods),
        )
        .route("/kseries/f/v2/business-location/{bl}/sales", get(sales_v2))
        .route(
            "/kseries/f/v2/business-location/{bl}/sales-daily",
            get(sales_daily),
        )
        .route(
            "/kseries/f/v2/business-location/{bl}/lightspeed-payments",
            get(lightspeed_payments),
        )
        .route(
            "/kseries/f/finance/{bl}/aggregatedSales",
            get(aggregated_sales),
        )
}

type Params = HashMap<String, String>;

fn bad_request(message: impl Into<String>) -> Response {
    json(StatusCode::BAD_REQUEST, json!({ "error": message.into() }))
}

/// Runs `f` for an authenticated request on the merchant that owns the token.
pub(super) async fn with_merchant(
    sb: &Sandbox,
    headers: &HeaderMap,
    scope: &str,
    bl: Option<&str>,
    f: impl FnOnce(&mut Merchant, Option<usize>) -> Response,
) -> Response {
    let bl_id = match bl {
        Some(raw) => match raw.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => return bad_request(format!("Invalid business location id: {raw}")),
        },
        None => None,
    };
    let scale = sb.time_scale();
    let (delay, response) = sb.with_world(|w: &mut World| {
        let (delay, authed) = guard(w, scale, headers, scope, bl_id);
        let response = match authed {
            Err(r) => r,
            Ok(Authed {
                malformed: true, ..
            }) => malformed_body(),
            Ok(Authed { merchant_id, .. }) => match w.merchants.get_mut(&merchant_id) {
                Some(m) => {
                    let loc = bl_id.and_then(|id| m.locations.iter().position(|l| l.id == id));
                    f(m, loc)
                }
                None => json(StatusCode::UNAUTHORIZED, json!({"error": "invalid_token"})),
            },
        };
        (delay, response)
    });
    delayed(delay, response).await
}

/// A 200 whose JSON is cut off mid-record, as a broken proxy or a truncated response looks.
fn malformed_body() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"businessName":"Sandbox","sales":[{"accountFiscId":"A1.1","salesLines":[{"totalNetAmountWithTax":"#,
    )
        .into_response()
}

async fn op_businesses(State(sb): State<Sandbox>, headers: HeaderMap) -> Response {
    with_merchant(&sb, &headers, "orders-api", None, |m, _| {
        json(
            StatusCode::OK,
            json!([{
                "name": m.name,
                "id": m.business_id,
                "businessLocations": m.locations.iter().map(|l| json!({"id": l.id, "name": l.name})).collect::<Vec<_>>(),
            }]),
        )
    })
    .await
}

async fn financial_businesses(State(sb): State<Sandbox>, headers: HeaderMap) -> Response {
    let base = sb.base_url();
    with_merchant(&sb, &headers, "financial-api", None, |m, _| {
        json(
            StatusCode::OK,
            json!({
                "_embedded": { "businessList": [{
                    "businessName": m.name,
                    "businessId": m.business_id,
                    "currencyCode": m.currency,
                    "businessLocations": m.locations.iter().map(|l| json!({
                        "blName": l.name,
                        "blID": l.id,
                        "country": "NL",
                        "timezone": l.zone.name(),
                    })).collect::<Vec<_>>(),
                }]},
                "_links": { "self": { "href": format!("{base}/kseries/f/data/businesses?page=0&size=1000") } },
            }),
        )
    })
    .await
}

fn parse_range(from: &str, to: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let from_at = parse_instant(from).ok_or_else(|| format!("Invalid date format: {from}"))?;
    let to_at = parse_instant(to).ok_or_else(|| format!("Invalid date format: {to}"))?;
    if from_at > to_at {
        return Err(format!(
            "Invalid date range: 'from' date {from} should not be after 'to' date {to}"
        ));
    }
    if to_at - from_at > Duration::days(365) {
        return Err(String::from(
            "Invalid date range: the range may not exceed 365 days",
        ));
    }
    Ok((from_at, to_at))
}

fn page_size(params: &Params, default: usize, max: usize) -> Result<usize, String> {
    match params.get("pageSize") {
        None => Ok(default),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(format!(
                "Invalid pageSize: {raw}. pageSize must be between 1 and {max}"
            )),
        },
    }
}

async fn financials(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path((bl, from, to)): Path<(String, String, String)>,
    Query(params): Query<Params>,
) -> Response {
    let base = sb.base_url();
    let bl_for_links = bl.clone();
    with_merchant(&sb, &headers, "financial-api", Some(&bl), move |m, loc| {
        let Some(loc) = loc else { return bad_request("unknown business location") };
        let (from_at, to_at) = match parse_range(&from, &to) {
            Ok(r) => r,
            Err(message) => return bad_request(message),
        };
        let size = match page_size(&params, 1000, 1000) {
            Ok(s) => s,
            Err(message) => return bad_request(message),
        };
        let inc = Includes::parse(params.get("include").map(String::as_str));
        // V1 promises no order; the sandbox pages in creation order, which stays stable while
        // new sales are appended.
        let matching: Vec<_> = m
            .sales
            .iter()
            .filter(|s| s.location == loc && s.closed >= from_at && s.closed < to_at)
            .collect();
        let start = match params.get("nextPageToken") {
            None => 0,
            Some(token) => match matching.iter().position(|s| &s.fisc_id == token) {
                Some(i) => i,
                None => return bad_request(format!("Invalid nextPageToken: {token}")),
            },
        };
        let page: Vec<Value> = matching[start..].iter().take(size).map(|s| render::sale(m, s, inc, Version::V1)).collect();
        let next = matching.get(start + size).map(|s| s.fisc_id.clone());
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &params {
            if k != "nextPageToken" {
                query.append_pair(k, v);
            }
        }
        let base_query = query.finish();
        let self_href = format!("{base}/kseries/f/finance/{bl_for_links}/financials/{from}/{to}?{base_query}");
        let mut links = json!({ "self": { "href": self_href, "templated": false } });
        if let Some(token) = &next {
            let sep = if base_query.is_empty() { "" } else { "&" };
            links["nextPage"] = json!({
                "href": format!("{base}/kseries/f/finance/{bl_for_links}/financials/{from}/{to}?{base_query}{sep}nextPageToken={token}"),
                "templated": false,
            });
        }
        let location = &m.locations[loc];
        let next_day = next_start_of_day(location.zone, location.day_start, Utc::now());
        json(
            StatusCode::OK,
            json!({
                "businessName": m.name,
                "nextStartOfDayAsIso8601": next_day,
                "businessLocationId": location.id,
                "sales": page,
                "dataComplete": true,
                "_links": links,
            }),
        )
    })
    .await
}

fn next_start_of_day(zone: chrono_tz::Tz, start: chrono::NaiveTime, now: DateTime<Utc>) -> String {
    let mut day = crate::wire::business_date(now, zone, start) + Duration::days(1);
    loop {
        if let Some(at) = zone.from_local_datetime(&day.and_time(start)).earliest() {
            return local_iso(at.fixed_offset());
        }
        day += Duration::days(1);
    }
}

fn business_day_bounds(
    zone: chrono_tz::Tz,
    start: chrono::NaiveTime,
    date: NaiveDate,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let begin = zone.from_local_datetime(&date.and_time(start)).earliest()?;
    let end = zone
        .from_local_datetime(&(date + Duration::days(1)).and_time(start))
        .earliest()?;
    Some((begin.with_timezone(&Utc), end.with_timezone(&Utc)))
}

/// The bounds of business date `raw` (`YYYY-MM-DD`; today when absent) at `location`.
fn business_day(
    location: &crate::world::Location,
    raw: Option<&String>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let date = match raw {
        None => crate::wire::business_date(Utc::now(), location.zone, location.day_start),
        Some(raw) => NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .map_err(|_| format!("Invalid date format: {raw}"))?,
    };
    business_day_bounds(location.zone, location.day_start, date).ok_or_else(|| {
        "requested business location was not operational on the provided date".to_owned()
    })
}

async fn daily_financials(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(bl): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    with_merchant(&sb, &headers, "financial-api", Some(&bl), move |m, loc| {
        let Some(loc) = loc else {
            return bad_request("unknown business location");
        };
        let mut inc = Includes::parse(params.get("include").map(String::as_str));
        if params.get("includeConsumers").is_some_and(|v| v == "true") {
            inc.consumer = true;
        }
        let day = match day_sales(m, loc, params.get("date"), inc, Version::V1) {
            Ok(day) => day,
            Err(message) => return bad_request(message),
        };
        json(
            StatusCode::OK,
            json!({
                "businessName": m.name,
                "nextStartOfDayAsIso8601": day.next_start,
                "businessLocationId": m.locations[loc].id,
                "sales": day.sales,
                "dataComplete": day.complete,
            }),
        )
    })
    .await
}

/// One business day's sales at a location.
struct DaySales {
    sales: Vec<Value>,
    /// The start of the next business day, in the location's local time.
    next_start: String,
    /// The day has ended.
    complete: bool,
}

/// The sales closed in business date `date` (today when absent) at location `loc`, as
/// `version` renders them: V1 in the order they were taken, V2 by time closed.
fn day_sales(
    m: &Merchant,
    loc: usize,
    date: Option<&String>,
    inc: Includes,
    version: Version,
) -> Result<DaySales, String> {
    let location = &m.locations[loc];
    let (begin, end) = business_day(location, date)?;
    let mut sales: Vec<&crate::world::Sale> = m
        .sales
        .iter()
        .filter(|s| s.location == loc && s.closed >= begin && s.closed < end)
        .collect();
    if version == Version::V2 {
        sales.sort_by_key(|s| (s.closed, s.seq));
    }
    Ok(DaySales {
        sales: sales
            .into_iter()
            .map(|s| render::sale(m, s, inc, version))
            .collect(),
        next_start: local_iso(end.with_timezone(&location.zone).fixed_offset()),
        complete: end <= Utc::now(),
    })
}

/// Financial API V2 `sales-daily`: one business day's sales, unpaginated.
async fn sales_daily(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(bl): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    with_merchant(&sb, &headers, "financial-api", Some(&bl), move |m, loc| {
        let Some(loc) = loc else {
            return bad_request("unknown business location");
        };
        let Some(date) = params.get("date") else {
            return bad_request(
                "Required request parameter 'date' for method parameter type LocalDate is not present",
            );
        };
        let inc = Includes::parse(params.get("include").map(String::as_str));
        match day_sales(m, loc, Some(date), inc, Version::V2) {
            Ok(day) => json(
                StatusCode::OK,
                json!({
                    "sales": day.sales,
                    "nextStartOfDayAsIso8601": day.next_start,
                    "dataComplete": day.complete,
                }),
            ),
            Err(message) => bad_request(message),
        }
    })
    .await
}

/// What Lightspeed Payments charges on a card payment here: 1.75 % of it, to the cent (half
/// to even). Refunds are not charged.
const LS_PAYMENTS_FEE_BP: i64 = 175;

/// The statuses `lightspeed-payments` may be filtered by.
const LS_PAYMENT_STATUSES: [&str; 4] = ["CAPTURED", "DISPUTED", "PARTIALLY_REFUNDED", "REFUNDED"];

/// One Lightspeed Payments transaction: a card payment, or the refund of one.
struct LsPayment {
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    status: &'static str,
    key: String,
    body: Value,
}

/// The Lightspeed Payments transactions of a location: every payment by card of a sale
/// (captured, partially refunded or refunded as its refunds paid back by card add up) and
/// every refund of one, each with its own PSP-style id.
fn ls_payments(m: &Merchant, loc: usize) -> Vec<LsPayment> {
    let card = |p: &crate::world::SalePayment| {
        m.payment_methods
            .get(p.method)
            .is_some_and(|method| method.code == "CARD")
    };
    let mut refunded: HashMap<&str, (i64, DateTime<Utc>)> = HashMap::new();
    for s in m
        .sales
        .iter()
        .filter(|s| s.sale_type == crate::world::SaleType::Refund)
    {
        if let Some(source) = &s.source {
            for p in s.payments.iter().filter(|p| card(p)) {
                let entry = refunded.entry(source.as_str()).or_insert((0, s.closed));
                entry.0 += p.amount_cents.abs();
                entry.1 = entry.1.max(s.closed);
            }
        }
    }
    let mut out = Vec::new();
    for s in m.sales.iter().filter(|s| s.location == loc) {
        let refund = s.sale_type == crate::world::SaleType::Refund;
        if s.sale_type == crate::world::SaleType::Void {
            continue;
        }
        for p in s.payments.iter().filter(|p| card(p)) {
            let (status, modified, fee) = if refund {
                ("REFUNDED", s.closed, 0)
            } else {
                let fee =
                    div_half_even((p.amount_cents + p.tip_cents) * LS_PAYMENTS_FEE_BP, 10_000);
                match refunded.get(s.fisc_id.as_str()) {
                    None => ("CAPTURED", s.closed, fee),
                    Some((back, at)) if *back >= p.amount_cents => ("REFUNDED", *at, fee),
                    Some((_, at)) => ("PARTIALLY_REFUNDED", *at, fee),
                }
            };
            let psp: String = sha2::Sha256::digest(p.uuid.as_bytes())
                .iter()
                .take(8)
                .map(|b| char::from(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789"[usize::from(b % 32)]))
                .collect();
            let currency = m.currency.clone();
            out.push(LsPayment {
                created: s.closed,
                modified,
                status,
                key: p.fisc_id.clone(),
                body: json!({
                    "accountFiscId": s.fisc_id,
                    "lightspeedPaymentId": format!("ad-{psp}{}", &psp[..4]),
                    "uuid": p.uuid,
                    "reference": format!("R{psp}{}", &psp[5..]),
                    "status": status,
                    "createdDate": crate::wire::k_instant(s.closed),
                    "captureDate": crate::wire::k_instant(s.closed),
                    "modificationDate": crate::wire::k_instant(modified),
                    "fees": { "value": crate::wire::cents(fee), "currency": currency },
                    "surcharge": { "value": crate::wire::cents(0), "currency": m.currency },
                }),
            });
        }
    }
    out
}

/// `n / d` rounded half to even.
fn div_half_even(n: i64, d: i64) -> i64 {
    let (q, r) = (n.div_euclid(d), n.rem_euclid(d));
    match (2 * r).cmp(&d) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + q.rem_euclid(2),
    }
}

/// Financial API V2 `lightspeed-payments`: card transactions with their fees, by creation or
/// modification date (`dateType`, default `MODIFIED`), paged by offset.
async fn lightspeed_payments(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(bl): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    with_merchant(&sb, &headers, "financial-api", Some(&bl), move |m, loc| {
        let Some(loc) = loc else {
            return bad_request("unknown business location");
        };
        let params: Params = pairs.iter().cloned().collect();
        let Some(from) = params.get("from") else {
            return bad_request(
                "Required request parameter 'from' for method parameter type OffsetDateTime is not present",
            );
        };
        let Some(from_at) = parse_instant(from) else {
            return bad_request(format!("Invalid date format: {from}"));
        };
        let to_at = match params.get("to") {
            None => Utc::now(),
            Some(to) => match parse_instant(to) {
                Some(at) => at,
                None => return bad_request(format!("Invalid date format: {to}")),
            },
        };
        if from_at > to_at {
            return bad_request("'from' date cannot be after 'to' date");
        }
        if to_at - from_at > Duration::days(365) {
            return bad_request("Invalid date range: the range may not exceed 365 days");
        }
        let size = match page_size(&params, 50, 100) {
            Ok(s) => s,
            Err(message) => return bad_request(message),
        };
        let offset = match params.get("offset").map(|o| o.parse::<usize>()) {
            None => 0,
            Some(Ok(o)) => o,
            Some(Err(_)) => {
                return bad_request(format!(
                    "Invalid offset: {}. offset must be a number from 0",
                    params["offset"]
                ))
            }
        };
        let descending = match params.get("sortDirection").map(String::as_str) {
            None | Some("ASC") => false,
            Some("DESC") => true,
            Some(other) => {
                return bad_request(format!("Invalid sortDirection: {other}. Use ASC or DESC"))
            }
        };
        let by_created = match params.get("dateType").map(String::as_str) {
            None | Some("MODIFIED") => false,
            Some("CREATED") => true,
            Some(other) => {
                return bad_request(format!("Invalid dateType: {other}. Use CREATED or MODIFIED"))
            }
        };
        let mut statuses = Vec::new();
        for (k, v) in &pairs {
            if k == "status" || k == "status[]" {
                if !LS_PAYMENT_STATUSES.contains(&v.as_str()) {
                    return bad_request(format!(
                        "Invalid status: {v}. Use one of {}",
                        LS_PAYMENT_STATUSES.join(", ")
                    ));
                }
                statuses.push(v.clone());
            }
        }
        let date = |p: &LsPayment| if by_created { p.created } else { p.modified };
        let mut matching: Vec<LsPayment> = ls_payments(m, loc)
            .into_iter()
            .filter(|p| date(p) >= from_at && date(p) < to_at)
            .filter(|p| statuses.is_empty() || statuses.iter().any(|s| s == p.status))
            .collect();
        matching.sort_by(|a, b| (date(a), &a.key).cmp(&(date(b), &b.key)));
        if descending {
            matching.reverse();
        }
        let more = matching.len() > offset.saturating_add(size);
        let page: Vec<Value> = matching
            .into_iter()
            .skip(offset)
            .take(size)
            .map(|p| p.body)
            .collect();
        json(
            StatusCode::OK,
            json!({
                "payments": page,
                "pageSize": size,
                "offset": offset,
                "nextOffset": if more { Some(offset + size) } else { None },
            }),
        )
    })
    .await
}

/// What `aggregatedSales` may group by.
const GROUP_BY: [&str; 6] = [
    "staff",
    "device",
    "deviceId",
    "tag",
    "accountingGroup",
    "statisticGroup",
];

/// One node of an `aggregatedSales` tree while it is summed.
#[derive(Default)]
struct Aggregate {
    total_cents: i64,
    /// Σ line tax, each rounded half to even to cents as V2 writes it.
    tax_cents: i64,
    discount_cents: i64,
    sales: std::collections::BTreeSet<usize>,
    children: std::collections::BTreeMap<String, Aggregate>,
}

impl Aggregate {
    fn add(&mut self, line: &crate::world::SaleLine, sale: usize) {
        self.total_cents += line.total_cents;
        self.tax_cents += crate::wire::round_half_even_to_cents(line.tax_10k);
        self.discount_cents += line.discount_cents;
        self.sales.insert(sale);
    }

    fn render(&self, keys: &[&str], value: Option<&str>) -> Value {
        let mut node = json!({
            "totalAmount": crate::wire::cents(self.total_cents),
            "serviceCharge": "0.00",
            "totalDiscountedAmount": crate::wire::cents(self.discount_cents),
            "totalTaxAmount": crate::wire::cents(self.tax_cents),
            "numberOfSales": self.sales.len(),
        });
        if let (Some(key), Some(value)) = (keys.first(), value) {
            node["groupByKey"] = json!(key);
            node["groupByValue"] = json!(value);
        }
        let rest = if value.is_some() { &keys[1..] } else { keys };
        node["children"] = Value::Array(
            self.children
                .iter()
                .map(|(v, child)| child.render(rest, Some(v)))
                .collect(),
        );
        node
    }
}

/// `GET /f/finance/{bl}/aggregatedSales`: sales of a business date (`date`, default today) or
/// a range (`from` and `to`, at most 365 days) summed per `groupBy` key, nested in the order
/// given; `flattened=true` gives only the innermost nodes, each naming every key.
async fn aggregated_sales(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(bl): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    with_merchant(&sb, &headers, "financial-api", Some(&bl), move |m, loc| {
        let Some(loc) = loc else { return bad_request("unknown business location") };
        let location = &m.locations[loc];
        let range = match (params.get("date"), params.get("from"), params.get("to")) {
            (date, None, None) => business_day(location, date),
            (None, Some(from), Some(to)) => parse_range(from, to),
            _ => Err("Use either date, or from and to".to_owned()),
        };
        let (begin, end) = match range {
            Ok(r) => r,
            Err(message) => return bad_request(message),
        };
        let Some(raw) = params.get("groupBy").filter(|g| !g.trim().is_empty()) else {
            return bad_request("Required request parameter 'groupBy' for method parameter type List is not present");
        };
        let keys: Vec<&str> = raw.split(',').map(str::trim).collect();
        if let Some(bad) = keys.iter().find(|k| !GROUP_BY.contains(k)) {
            return bad_request(format!("Invalid groupBy: {bad}. Use {}", GROUP_BY.join(", ")));
        }
        let flattened = params.get("flattened").is_some_and(|f| f == "true");
        let mut root = Aggregate::default();
        for (n, s) in m.sales.iter().enumerate() {
            if s.location != loc || s.closed < begin || s.closed >= end || s.awaiting() {
                continue;
            }
            let device = &location.devices[s.device];
            for l in &s.lines {
                let group = &m.groups[m.menu[l.item].group];
                let path: Vec<String> = keys
                    .iter()
                    .map(|k| match *k {
                        "staff" => render::staff(s).1,
                        "device" => device.name.clone(),
                        "deviceId" => device.id.to_string(),
                        "tag" => String::new(),
                        "accountingGroup" => group.name.clone(),
                        _ => render::statistic_group(&group.name),
                    })
                    .collect();
                root.add(l, n);
                if flattened {
                    // One node per combination of values, right under the root.
                    root.children.entry(path.join(",")).or_default().add(l, n);
                } else {
                    let mut node = &mut root;
                    for value in path {
                        node = node.children.entry(value).or_default();
                        node.add(l, n);
                    }
                }
            }
        }
        let body = if flattened {
            let joined = keys.join(",");
            Value::Array(root.children.iter().map(|(v, child)| child.render(&[joined.as_str()], Some(v))).collect())
        } else {
            root.render(&keys, None)
        };
        json(StatusCode::OK, body)
    })
    .await
}

async fn sales_v2(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(bl): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    with_merchant(&sb, &headers, "financial-api", Some(&bl), move |m, loc| {
        let Some(loc) = loc else {
            return bad_request("unknown business location");
        };
        let Some(from) = params.get("from") else {
            return bad_request(
                "Required request parameter 'from' for method parameter type String is not present",
            );
        };
        let now = Utc::now();
        let to = params
            .get("to")
            .cloned()
            .unwrap_or_else(|| now.to_rfc3339());
        let (from_at, mut to_at) = match parse_range(from, &to) {
            Ok(r) => r,
            Err(message) => return bad_request(message),
        };
        if to_at > now {
            to_at = now;
        }
        let size = match page_size(&params, 50, 100) {
            Ok(s) => s,
            Err(message) => return bad_request(message),
        };
        let after = match params.get("nextPageToken") {
            None => None,
            Some(token) => match decode_v2_token(token) {
                Some(t) => Some(t),
                None => return bad_request(format!("Invalid nextPageToken: {token}")),
            },
        };
        let inc = Includes::parse(params.get("include").map(String::as_str));
        let mut matching: Vec<_> = m
            .sales
            .iter()
            .filter(|s| s.location == loc && s.closed >= from_at && s.closed < to_at)
            .filter(|s| {
                after.is_none_or(|(ms, seq)| (s.closed.timestamp_millis(), s.seq) > (ms, seq))
            })
            .collect();
        matching.sort_by_key(|s| (s.closed, s.seq));
        let page: Vec<Value> = matching
            .iter()
            .take(size)
            .map(|s| render::sale(m, s, inc, Version::V2))
            .collect();
        let mut body = json!({ "sales": page });
        if matching.len() > size {
            if let Some(last) = matching.get(size - 1) {
                body["nextPageToken"] =
                    Value::from(encode_v2_token(last.closed.timestamp_millis(), last.seq));
            }
        }
        json(StatusCode::OK, body)
    })
    .await
}

fn encode_v2_token(ms: i64, seq: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{ms}:{seq}"))
}

fn decode_v2_token(token: &str) -> Option<(i64, u64)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (ms, seq) = text.split_once(':')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

async fn accounting_groups(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(bl): Path<String>,
) -> Response {
    with_merchant(&sb, &headers, "financial-api", Some(&bl), |m, _| {
        let list: Vec<Value> = m
            .groups
            .iter()
            .map(|g| json!({ "accountingGroupId": g.id, "name": g.name, "statisticGroup": statistic_group(&g.name), "code": g.code }))
            .collect();
        json(StatusCode::OK, json!({ "_embedded": { "accountingGroupList": list } }))
    })
    .await
}

async fn tax_rates(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(bl): Path<String>,
) -> Response {
    with_merchant(&sb, &headers, "financial-api", Some(&bl), |_, _| {
        json(
            StatusCode::OK,
            json!({ "_embedded": { "taxRateList": [{
                "code": "VAT_LOW",
                "description": "VAT low rate",
                "rate": format!("1.{:04}", crate::generate::TAX_BASIS_POINTS),
                "taxIncluded": true,
                "accountingReference": "VAT9",
            }]}}),
        )
    })
    .await
}

async fn payment_methods(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(bl): Path<String>,
) -> Response {
    with_merchant(&sb, &headers, "financial-api", Some(&bl), |m, _| {
        let list: Vec<Value> = m
            .payment_methods
            .iter()
            .map(|p| json!({ "name": p.name, "code": p.code, "accountingReference": p.code, "pmId": p.id }))
            .collect();
        json(StatusCode::OK, json!({ "_embedded": { "paymentMethodList": list } }))
    })
    .await
}
