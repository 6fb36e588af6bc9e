//! K-Series data endpoints: business discovery, Financial API V1 and V2, and lookups.

use super::render::{self, statistic_group, Includes, Version};
use super::{delayed, guard, Authed};
use crate::http::json;
use crate::wire::{local_iso, parse_instant};
use crate::world::{Merchant, World};
use crate::Sandbox;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::{json, Value};
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
        let Some(loc) = loc else { return bad_request("unknown business location") };
        let location = &m.locations[loc];
        let (begin, end) = match business_day(location, params.get("date")) {
            Ok(r) => r,
            Err(message) => return bad_request(message),
        };
        let mut inc = Includes::parse(params.get("include").map(String::as_str));
        if params.get("includeConsumers").is_some_and(|v| v == "true") {
            inc.consumer = true;
        }
        let sales: Vec<Value> = m
            .sales
            .iter()
            .filter(|s| s.location == loc && s.closed >= begin && s.closed < end)
            .map(|s| render::sale(m, s, inc, Version::V1))
            .collect();
        json(
            StatusCode::OK,
            json!({
                "businessName": m.name,
                "nextStartOfDayAsIso8601": local_iso(end.with_timezone(&location.zone).fixed_offset()),
                "businessLocationId": location.id,
                "sales": sales,
                "dataComplete": end <= Utc::now(),
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
