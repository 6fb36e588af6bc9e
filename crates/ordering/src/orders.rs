//! Taking an online order: checks against the location's synced menu and account profiles,
//! then one row (idempotent on the channel order id) that the worker pushes to the POS.
//! Nothing reaches the POS from here, so an order is never sent twice by a retried request.

use crate::request::{check_shape, Item, OrderRequest, OrderType, Problem, Reason};
use crate::status::{self, PAY_NONE, PAY_PENDING, RECEIVED};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tillbridge_engine::ids::new_id;
use tillbridge_engine::{Engine, EngineError};
use tillbridge_store::ordering::{self, HistoryRow, ItemKind, MenuItemRow, OrderRow};
use tillbridge_store::{connections as conns, merchants as merch};

/// Why a submission was refused before anything was stored or sent.
#[derive(Debug)]
pub enum SubmitError {
    /// The order itself is wrong: one entry per problem.
    Rejected(Vec<Problem>),
    /// The channel order id is taken by a different order.
    Conflict(String),
    /// The location cannot take online orders yet (what is missing and how to fix it).
    Prerequisite(String),
    Engine(EngineError),
}

impl From<EngineError> for SubmitError {
    fn from(e: EngineError) -> Self {
        SubmitError::Engine(e)
    }
}

impl From<tillbridge_store::StoreError> for SubmitError {
    fn from(e: tillbridge_store::StoreError) -> Self {
        SubmitError::Engine(e.into())
    }
}

/// Series whose POS takes online orders through the hub.
pub const SUPPORTED: [&str; 3] = ["k", "x", "r"];

fn request_hash(r: &OrderRequest) -> String {
    let bytes = serde_json::to_vec(r).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Takes an order: returns it and whether this call created it (`false`: the channel order id
/// was submitted before with the same content, and the stored order is returned).
pub async fn submit(
    engine: &Engine,
    merchant_id: &str,
    request: OrderRequest,
) -> Result<(OrderView, bool), SubmitError> {
    let now = engine.now_ms();
    let hash = request_hash(&request);
    {
        let mut c = engine.conn().await?;
        if let Some(existing) =
            ordering::by_channel_id(&mut c, merchant_id, &request.channel_order_id).await?
        {
            return same_or_conflict(engine, merchant_id, existing, &hash).await;
        }
    }
    let settings = crate::readiness::settings(engine, merchant_id)
        .await?
        .settings;
    if !settings.enabled {
        return Err(SubmitError::Prerequisite(format!(
            "online ordering is not enabled for merchant `{merchant_id}`: see what is missing in GET /api/v1/merchants/{merchant_id}/ordering/readiness, then PUT …/ordering/settings {{\"enabled\": true}}"
        )));
    }
    let problems = check_shape(&request, now);
    if !problems.is_empty() {
        return Err(SubmitError::Rejected(problems));
    }
    let mut c = engine.conn().await?;
    let merchant = merch::get_merchant(&mut c, merchant_id)
        .await?
        .ok_or_else(|| EngineError::NotFound(format!("merchant `{merchant_id}` was not found")))?;
    let link = merch::list_links(&mut c, merchant_id)
        .await?
        .into_iter()
        .find(|l| l.location_id == request.location_id);
    let Some(link) = link else {
        return Err(SubmitError::Rejected(vec![Problem::new(
            "location_id",
            Reason::Other,
            format!(
                "location `{}` is not mapped to a POS location: map it under /locations/{{id}}/mapping first",
                request.location_id
            ),
        )]));
    };
    let connection = conns::get_connection(&mut c, merchant_id, &link.connection_id)
        .await?
        .ok_or_else(|| {
            EngineError::NotFound(format!("connection `{}` was not found", link.connection_id))
        })?;
    if !SUPPORTED.contains(&connection.series.as_str()) {
        return Err(SubmitError::Prerequisite(format!(
            "location `{}` is connected through {}-Series, which takes no online orders through its API (K-, X- and R-Series do)",
            request.location_id,
            connection.series.to_uppercase()
        )));
    }
    let menu =
        ordering::menu_items(&mut c, merchant_id, &link.connection_id, &link.external_id).await?;
    if menu.is_empty() {
        return Err(SubmitError::Prerequisite(format!(
            "the menu of location `{}` has not been synced yet: wait for the connection's catalog stream (or POST …/connections/{}/sync) and submit again",
            request.location_id, link.connection_id
        )));
    }
    let profiles =
        ordering::profiles(&mut c, merchant_id, &link.connection_id, &link.external_id).await?;
    let tables =
        ordering::tables(&mut c, merchant_id, &link.connection_id, &link.external_id).await?;
    drop(c);
    let mut problems = retail_problems(&connection.series, &request);
    if let Some(table) = request
        .table
        .as_deref()
        .map(str::trim)
        .filter(|_| connection.series == "k")
    {
        if !tables.iter().any(|t| t.number == table) {
            problems.push(Problem::new(
                "table",
                Reason::Other,
                if tables.is_empty() {
                    "this location has no floor plan with active tables: send takeaway or delivery".to_owned()
                } else {
                    format!(
                        "table `{table}` is not an active table of the location's floor plans (they have: {})",
                        tables.iter().map(|t| t.number.as_str()).collect::<Vec<_>>().join(", ")
                    )
                },
            ));
        }
    }
    let mut total = 0i64;
    for (i, item) in request.items.iter().enumerate() {
        let Some(found) = menu.iter().find(|m| m.sku == item.sku) else {
            problems.push(Problem::new(
                format!("items[{i}].sku"),
                Reason::SkuNotFound,
                format!("SKU `{}` is not on the location's menu", item.sku),
            ));
            continue;
        };
        if let Some(left) = found.available_count.filter(|left| *left < item.quantity) {
            problems.push(Problem::new(
                format!("items[{i}]"),
                Reason::ItemUnavailable,
                if left <= 0 {
                    format!("`{}` is sold out at this location", item.sku)
                } else {
                    format!("only {left} of `{}` are left at this location", item.sku)
                },
            ));
        }
        problems.extend(modifier_problems(i, item, found));
        let (sub_problems, sub_items_minor) = sub_item_problems(i, item, found, &menu);
        problems.extend(sub_problems);
        let price = found.price_minor.unwrap_or_default();
        if let Some(given) = item.unit_price_minor.filter(|p| *p != price) {
            problems.push(Problem::new(
                format!("items[{i}].unit_price_minor"),
                Reason::PriceMismatch,
                format!("`{}` costs {price} on the POS, not {given}", item.sku),
            ));
        }
        total += (price + sub_items_minor) * item.quantity;
    }
    if let Some(given) = request.total_minor.filter(|t| *t != total) {
        problems.push(Problem::new(
            "total_minor",
            Reason::PriceMismatch,
            format!("the items cost {total} on the POS, not {given}"),
        ));
    }
    if let Some(paid) = request
        .payment
        .as_ref()
        .map(|p| p.amount_minor)
        .filter(|a| *a != total)
    {
        problems.push(Problem::new(
            "payment.amount_minor",
            Reason::PriceMismatch,
            format!("the payment (tip excluded) is {paid} but the items cost {total}"),
        ));
    }
    let profile = request
        .account_profile
        .clone()
        .filter(|_| connection.series == "k")
        .or_else(|| match request.order_type {
            _ if connection.series != "k" => None,
            OrderType::DineIn => None,
            OrderType::Takeaway => Some("COLLECT".into()),
            OrderType::Delivery => Some("DELIVERY".into()),
        });
    if let Some(code) = &profile {
        if !profiles.iter().any(|p| &p.code == code) {
            let known: Vec<&str> = profiles.iter().map(|p| p.code.as_str()).collect();
            problems.push(Problem::new(
                "account_profile",
                Reason::InvalidProfile,
                format!(
                    "account profile `{code}` does not exist at this location (it has: {})",
                    known.join(", ")
                ),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(SubmitError::Rejected(problems));
    }
    let mut stored =
        serde_json::to_value(&request).map_err(|e| EngineError::Invalid(e.to_string()))?;
    stored["account_profile"] = serde_json::json!(profile);
    if let Some(payment) = stored.get_mut("payment").filter(|p| p.is_object()) {
        if payment.get("method").is_none_or(serde_json::Value::is_null) {
            payment["method"] =
                serde_json::json!(settings.payment_method(&link.connection_id, &connection.series));
        }
    }
    let row = OrderRow {
        id: new_id("oo"),
        channel_order_id: request.channel_order_id.clone(),
        location_id: request.location_id.clone(),
        connection_id: link.connection_id.clone(),
        pos_location: link.external_id.clone(),
        series: connection.series.clone(),
        order_type: request.order_type.as_str().to_owned(),
        request: stored,
        request_hash: hash.clone(),
        status: RECEIVED.to_owned(),
        reason: None,
        detail: None,
        pos_account: None,
        payment_status: if request.payment.is_some() {
            PAY_PENDING
        } else {
            PAY_NONE
        }
        .to_owned(),
        total_minor: total,
        currency: connection.currency.clone().unwrap_or(merchant.currency),
        attempts: 0,
        next_attempt_at: Some(now),
        last_error: None,
        manual: false,
        submitted_at: None,
        created_at: now,
        updated_at: now,
    };
    let mut tx = engine.store().begin().await?;
    if !ordering::insert(&mut tx, merchant_id, &row).await? {
        // Another request with this channel order id won the race.
        drop(tx);
        let mut c = engine.conn().await?;
        let existing = ordering::by_channel_id(&mut c, merchant_id, &request.channel_order_id)
            .await?
            .ok_or_else(|| {
                EngineError::Conflict("the order vanished while being submitted".into())
            })?;
        drop(c);
        return same_or_conflict(engine, merchant_id, existing, &hash).await;
    }
    ordering::append_history(
        &mut tx,
        merchant_id,
        &row.id,
        &HistoryRow {
            status: RECEIVED.to_owned(),
            payment_status: row.payment_status.clone(),
            detail: None,
            at: now,
        },
    )
    .await?;
    tillbridge_store::events::append_many(
        &mut tx,
        merchant_id,
        &[tillbridge_store::events::NewEvent {
            id: new_id("evt"),
            event_type: "ordering.order_status".into(),
            subject: row.id.clone(),
            payload: serde_json::json!({
                "order_id": row.id,
                "channel_order_id": row.channel_order_id,
                "location_id": row.location_id,
                "status": RECEIVED,
                "previous": null,
                "reason": null,
                "detail": null,
                "pos_account": null,
            }),
        }],
        now,
    )
    .await?;
    // Its event made the ordering worker due: it pushes the order now.
    tillbridge_store::commit(tx).await?;
    Ok((view(engine, merchant_id, row).await?, true))
}

/// What the retail series (X, R) cannot take: dine-in, tips, account profiles; X-Series
/// online sales must also be paid in full.
/// What is wrong with the production instructions an order line names: an id the item does
/// not offer, one named twice, or two from a group that allows one.
fn modifier_problems(i: usize, item: &Item, found: &MenuItemRow) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut chosen: Vec<&str> = Vec::new();
    for (j, id) in item.modifiers.iter().enumerate() {
        let field = format!("items[{i}].modifiers[{j}]");
        let group = found
            .instructions
            .iter()
            .find(|g| g.instructions.iter().any(|x| x.id == *id));
        let Some(group) = group else {
            let offered: Vec<String> = found
                .instructions
                .iter()
                .flat_map(|g| {
                    g.instructions
                        .iter()
                        .map(|x| format!("{} ({})", x.id, x.name))
                })
                .collect();
            out.push(Problem::new(
                field,
                Reason::Other,
                if offered.is_empty() {
                    format!("`{}` takes no modifiers; leave `modifiers` out", item.sku)
                } else {
                    format!(
                        "modifier `{id}` is not offered for `{}`; it offers: {}",
                        item.sku,
                        offered.join(", ")
                    )
                },
            ));
            continue;
        };
        if item.modifiers[..j].contains(id) {
            out.push(Problem::new(
                field,
                Reason::Other,
                format!("modifier `{id}` is named twice on this line; name it once"),
            ));
        } else if !group.multiple && chosen.contains(&group.id.as_str()) {
            out.push(Problem::new(
                field,
                Reason::Other,
                format!(
                    "only one `{}` modifier may be chosen for `{}`",
                    group.name, item.sku
                ),
            ));
        }
        chosen.push(&group.id);
    }
    out
}

/// What is wrong with an order line's sub-items, and what they add to one unit of it: an
/// add-on ordered on its own, a SKU none of the item's choice groups offers, one without
/// enough stock left, a group chosen fewer or more times than it allows.
fn sub_item_problems(
    i: usize,
    item: &Item,
    found: &MenuItemRow,
    menu: &[MenuItemRow],
) -> (Vec<Problem>, i64) {
    let mut out = Vec::new();
    if found.kind == ItemKind::Modifier {
        let parents: Vec<&str> = menu
            .iter()
            .filter(|m| {
                m.choices
                    .iter()
                    .any(|g| g.options.iter().any(|o| o.sku == item.sku))
            })
            .map(|m| m.sku.as_str())
            .collect();
        out.push(Problem::new(
            format!("items[{i}].sku"),
            Reason::Other,
            if parents.is_empty() {
                format!(
                    "`{}` is an add-on, sold only as a sub-item, and no item offers it",
                    item.sku
                )
            } else {
                format!(
                    "`{}` is an add-on: order it in the `sub_items` of one of {}",
                    item.sku,
                    parents.join(", ")
                )
            },
        ));
    }
    let mut counts = vec![0i64; found.choices.len()];
    let mut extra = 0i64;
    for (j, sub) in item.sub_items.iter().enumerate() {
        let field = format!("items[{i}].sub_items[{j}].sku");
        let hit = found.choices.iter().enumerate().find_map(|(g, group)| {
            group
                .options
                .iter()
                .find(|o| o.sku == sub.sku)
                .map(|o| (g, o))
        });
        let Some((g, option)) = hit else {
            let offered: Vec<String> = found
                .choices
                .iter()
                .flat_map(|g| g.options.iter().map(|o| o.sku.clone()))
                .collect();
            out.push(Problem::new(
                field,
                Reason::SkuNotFound,
                if offered.is_empty() {
                    format!("`{}` takes no sub-items; leave `sub_items` out", item.sku)
                } else {
                    format!(
                        "`{}` is not offered with `{}`; it offers: {}",
                        sub.sku,
                        item.sku,
                        offered.join(", ")
                    )
                },
            ));
            continue;
        };
        counts[g] += sub.quantity;
        extra += option.price_minor * sub.quantity;
        // A sub-item whose stock the POS counts must have enough left for every unit.
        let needed = sub.quantity * item.quantity;
        let left = menu
            .iter()
            .find(|m| m.sku == sub.sku)
            .and_then(|m| m.available_count);
        if let Some(left) = left.filter(|left| *left < needed) {
            out.push(Problem::new(
                format!("items[{i}].sub_items[{j}]"),
                Reason::ItemUnavailable,
                if left <= 0 {
                    format!("`{}` is sold out at this location", sub.sku)
                } else {
                    format!(
                        "only {left} of `{}` are left at this location; the line needs {needed}",
                        sub.sku
                    )
                },
            ));
        }
    }
    for (group, count) in found.choices.iter().zip(counts) {
        let field = format!("items[{i}].sub_items");
        if count < group.min {
            out.push(Problem::new(
                field,
                Reason::Other,
                format!(
                    "`{}` needs at least {} from {} (one of: {}); {count} chosen",
                    item.sku,
                    group.min,
                    group.name,
                    group
                        .options
                        .iter()
                        .map(|o| o.sku.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        } else if let Some(max) = group.max.filter(|max| count > *max) {
            out.push(Problem::new(
                field,
                Reason::Other,
                format!(
                    "`{}` takes at most {max} from {}; {count} chosen",
                    item.sku, group.name
                ),
            ));
        }
    }
    (out, extra)
}

fn retail_problems(series: &str, r: &OrderRequest) -> Vec<Problem> {
    let mut out = Vec::new();
    if series == "k" {
        return out;
    }
    let name = format!("{}-Series", series.to_uppercase());
    if r.order_type == OrderType::DineIn {
        out.push(Problem::new(
            "type",
            Reason::InvalidProfile,
            format!("{name} has no tables: send takeaway or delivery"),
        ));
    }
    if let Some(code) = &r.account_profile {
        out.push(Problem::new(
            "account_profile",
            Reason::InvalidProfile,
            format!("{name} has no account profiles (`{code}`): leave account_profile out"),
        ));
    }
    match &r.payment {
        Some(p) if p.tip_minor != 0 => out.push(Problem::new(
            "payment.tip_minor",
            Reason::Other,
            format!("{name} records no tips on an online sale: leave the tip out"),
        )),
        None if series == "x" => out.push(Problem::new(
            "payment",
            Reason::Other,
            "X-Series online sales are paid in full when they are created: add the payment",
        )),
        _ => {}
    }
    out
}

async fn same_or_conflict(
    engine: &Engine,
    merchant_id: &str,
    existing: OrderRow,
    hash: &str,
) -> Result<(OrderView, bool), SubmitError> {
    if existing.request_hash != hash {
        return Err(SubmitError::Conflict(format!(
            "channel order id `{}` was already used for a different order ({}): use a new id for a new order",
            existing.channel_order_id, existing.id
        )));
    }
    Ok((view(engine, merchant_id, existing).await?, false))
}

/// An online order as the API shows it (read-only: changes happen in the POS).
#[derive(Serialize, Debug, Clone)]
pub struct OrderView {
    pub id: String,
    pub channel_order_id: String,
    pub location_id: String,
    pub connection_id: String,
    pub series: String,
    #[serde(rename = "type")]
    pub order_type: String,
    pub status: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub payment_status: String,
    pub pos_account: Option<String>,
    pub total_minor: i64,
    pub currency: String,
    pub needs_manual_handling: bool,
    pub last_error: Option<String>,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub request: serde_json::Value,
    pub history: Vec<HistoryRow>,
    /// Always true while the integration is active: act on the order in the POS.
    pub read_only: bool,
}

pub async fn view(
    engine: &Engine,
    merchant_id: &str,
    o: OrderRow,
) -> Result<OrderView, EngineError> {
    let mut c = engine.conn().await?;
    let history = ordering::history(&mut c, merchant_id, &o.id).await?;
    Ok(view_with(o, history))
}

fn view_with(o: OrderRow, history: Vec<HistoryRow>) -> OrderView {
    OrderView {
        id: o.id,
        channel_order_id: o.channel_order_id,
        location_id: o.location_id,
        connection_id: o.connection_id,
        series: o.series,
        order_type: o.order_type,
        status: o.status,
        reason: o.reason,
        detail: o.detail,
        payment_status: o.payment_status,
        pos_account: o.pos_account,
        total_minor: o.total_minor,
        currency: o.currency,
        needs_manual_handling: o.manual,
        last_error: o.last_error,
        attempts: o.attempts,
        next_attempt_at: o.next_attempt_at,
        created_at: o.created_at,
        updated_at: o.updated_at,
        request: o.request,
        history,
        read_only: true,
    }
}

pub async fn get(engine: &Engine, merchant_id: &str, id: &str) -> Result<OrderView, EngineError> {
    let mut c = engine.conn().await?;
    let row = match ordering::get(&mut c, merchant_id, id).await? {
        Some(r) => r,
        None => ordering::by_channel_id(&mut c, merchant_id, id)
            .await?
            .ok_or_else(|| EngineError::NotFound(format!("online order `{id}` was not found")))?,
    };
    drop(c);
    view(engine, merchant_id, row).await
}

/// Orders newest first; `manual_only` lists those staff must handle by hand.
pub async fn list(
    engine: &Engine,
    merchant_id: &str,
    status_filter: Option<&str>,
    manual_only: bool,
    limit: i64,
) -> Result<Vec<OrderView>, EngineError> {
    if let Some(s) = status_filter {
        if !status::LADDER.contains(&s)
            && !matches!(s, status::REJECTED | status::FAILED | status::CANCELLED)
        {
            return Err(EngineError::Invalid(format!(
                "unknown status `{s}`: use one of received, submitted, accepted, ready, completed, rejected, failed, cancelled"
            )));
        }
    }
    let mut c = engine.conn().await?;
    let rows = ordering::list(
        &mut c,
        merchant_id,
        status_filter,
        manual_only,
        limit.clamp(1, 500),
    )
    .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut histories = ordering::histories(&mut c, merchant_id, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let history = histories.remove(&r.id).unwrap_or_default();
            view_with(r, history)
        })
        .collect())
}
