//! Online orders on the retail series, where the order is a sale with its payment:
//!
//! - X-Series: `POST /api/register_sales` with `AWAITING_PICKUP` (takeaway) or
//!   `AWAITING_DISPATCH` (delivery), the hub's order id as `invoice_number`, the customer found
//!   or created by email, and the payment in `register_sale_payments`. The store fulfils it
//!   (`PICKED_UP_CLOSED` / `DISPATCHED_CLOSED`) or voids it; `sale.update` webhooks say so.
//! - R-Series: `POST Sale.json` left open (`completed: false`) with `SaleLines`, the payment in
//!   `SalePayments` and the order id as `referenceNumber`. The store completes or voids it;
//!   R-Series has no webhooks, so reconciliation polling follows it.
//!
//! Neither series has an idempotency key, so a sale is looked up by its reference before one
//! is created: a push retried after a timeout or a crash adopts the sale it made before.

use crate::request::{decimal, OrderRequest, OrderType};
use serde_json::{json, Value};
use tillbridge_engine::{Engine, EngineError};
use tillbridge_lightspeed::rseries::wire as rwire;
use tillbridge_lightspeed::xseries::CLOSED_STATUSES;
use tillbridge_lightspeed::LightspeedError;
use tillbridge_store::ordering::{self as store, OrderRow};

/// The payment type online payments are recorded with when the order names none.
pub const DEFAULT_PAYMENT_TYPE: &str = "Online payment";

/// Where a sale stands in the POS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaleState {
    Open,
    Completed,
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct RetailSale {
    pub id: String,
    pub state: SaleState,
}

/// Why a sale could not be created.
#[derive(Debug)]
pub enum CreateError {
    /// The POS refused the sale (4xx): the order is wrong for it.
    Refused(String),
    /// Something the merchant must set up in the POS (a payment type, a register).
    Prerequisite(String),
    Engine(EngineError),
}

impl From<EngineError> for CreateError {
    fn from(e: EngineError) -> Self {
        CreateError::Engine(e)
    }
}

fn refused(e: EngineError) -> CreateError {
    match e {
        EngineError::Provider(LightspeedError::BadRequest { status, detail, .. })
            if (400..500).contains(&status) && status != 401 && status != 404 =>
        {
            CreateError::Refused(detail)
        }
        e => CreateError::Engine(e),
    }
}

/// Where an X-Series sale of this status stands.
pub fn x_state(status: Option<&str>) -> SaleState {
    match status.unwrap_or_default() {
        "VOIDED" => SaleState::Cancelled,
        s if CLOSED_STATUSES.contains(&s) => SaleState::Completed,
        _ => SaleState::Open,
    }
}

fn r_state(sale: &Value) -> SaleState {
    if rwire::flag(sale, "voided") {
        SaleState::Cancelled
    } else if rwire::flag(sale, "completed") {
        SaleState::Completed
    } else {
        SaleState::Open
    }
}

fn x_sale(sale: tillbridge_lightspeed::xseries::wire::Sale) -> RetailSale {
    RetailSale {
        state: x_state(sale.status.as_deref()),
        id: sale.id,
    }
}

fn r_sale(sale: &Value) -> Option<RetailSale> {
    Some(RetailSale {
        id: rwire::text(sale, "saleID")?,
        state: r_state(sale),
    })
}

/// The sale this order made before, found by its reference.
pub async fn find(
    engine: &Engine,
    m: &str,
    o: &OrderRow,
) -> Result<Option<RetailSale>, EngineError> {
    let reference = o.id.clone();
    match o.series.as_str() {
        "x" => {
            let found = engine
                .x_call(m, &o.connection_id, |client, t| {
                    let reference = reference.clone();
                    async move { client.sales_by_invoice(&t, &reference).await }
                })
                .await?;
            Ok(found.into_iter().next().map(x_sale))
        }
        _ => {
            let found = engine
                .r_call(m, &o.connection_id, |client, t, account| {
                    let reference = reference.clone();
                    async move { client.sale_by_reference(&t, &account, &reference).await }
                })
                .await?;
            Ok(found.as_ref().and_then(r_sale))
        }
    }
}

/// The sale by its POS id; `None` when the POS has none.
pub async fn get(
    engine: &Engine,
    m: &str,
    o: &OrderRow,
    id: &str,
) -> Result<Option<RetailSale>, EngineError> {
    let id = id.to_owned();
    match o.series.as_str() {
        "x" => {
            let found = engine
                .x_call(m, &o.connection_id, |client, t| {
                    let id = id.clone();
                    async move { client.sale(&t, &id).await }
                })
                .await?;
            Ok(found.map(x_sale))
        }
        _ => {
            let found = engine
                .r_call(m, &o.connection_id, |client, t, account| {
                    let id = id.clone();
                    async move { client.sale(&t, &account, &id).await }
                })
                .await?;
            Ok(found.as_ref().and_then(r_sale))
        }
    }
}

/// The POS item ids of the order's lines, from the synced catalog.
async fn product_ids(
    engine: &Engine,
    m: &str,
    o: &OrderRow,
    r: &OrderRequest,
) -> Result<Vec<(String, i64)>, CreateError> {
    let menu = {
        let mut c = engine.conn().await?;
        store::menu_items(&mut c, m, &o.connection_id, &o.pos_location)
            .await
            .map_err(EngineError::from)?
    };
    r.items
        .iter()
        .map(|i| {
            menu.iter()
                .find(|item| item.sku == i.sku)
                .and_then(|item| item.product_id.clone())
                .map(|id| (id, i.quantity))
                .ok_or_else(|| {
                    CreateError::Refused(format!(
                        "SKU `{}` is no longer in the synced catalog",
                        i.sku
                    ))
                })
        })
        .collect()
}

fn wanted_payment_type(r: &OrderRequest) -> String {
    r.payment
        .as_ref()
        .and_then(|p| p.method.clone())
        .unwrap_or_else(|| DEFAULT_PAYMENT_TYPE.to_owned())
}

/// The id of the payment type named (or numbered) `wanted` among `(id, name)` pairs.
fn payment_type_id(
    types: &[(String, String)],
    wanted: &str,
    series: &str,
) -> Result<String, CreateError> {
    types
        .iter()
        .find(|(id, name)| id == wanted || name.eq_ignore_ascii_case(wanted))
        .map(|(id, _)| id.clone())
        .ok_or_else(|| {
            let known: Vec<&str> = types.iter().map(|(_, n)| n.as_str()).collect();
            CreateError::Prerequisite(format!(
                "the {}-Series store has no payment type `{wanted}` for online payments (it has: {}): create it in the POS, or name one in payment.method",
                series.to_uppercase(),
                known.join(", ")
            ))
        })
}

/// Creates the order's sale.
pub async fn create(
    engine: &Engine,
    m: &str,
    o: &OrderRow,
    r: &OrderRequest,
) -> Result<RetailSale, CreateError> {
    let lines = product_ids(engine, m, o, r).await?;
    match o.series.as_str() {
        "x" => create_x(engine, m, o, r, lines).await,
        _ => create_r(engine, m, o, r, lines).await,
    }
}

async fn create_x(
    engine: &Engine,
    m: &str,
    o: &OrderRow,
    r: &OrderRequest,
    lines: Vec<(String, i64)>,
) -> Result<RetailSale, CreateError> {
    let c = o.connection_id.as_str();
    let registers = engine
        .x_call(m, c, |client, t| async move { client.registers(&t).await })
        .await?;
    let register = registers
        .iter()
        .find(|reg| reg.outlet_id.as_deref() == Some(o.pos_location.as_str()))
        .map(|reg| reg.id.clone())
        .ok_or_else(|| {
            CreateError::Prerequisite(format!(
                "outlet `{}` has no register to record online sales on: add one in the POS",
                o.pos_location
            ))
        })?;
    let types: Vec<(String, String)> = engine
        .x_call(
            m,
            c,
            |client, t| async move { client.payment_types(&t).await },
        )
        .await?
        .into_iter()
        .map(|p| (p.id, p.name.unwrap_or_default()))
        .collect();
    let mut payments = Vec::new();
    if let Some(p) = &r.payment {
        let id = payment_type_id(&types, &wanted_payment_type(r), "x")?;
        payments.push(json!({
            "register_id": register, "retailer_payment_type_id": id,
            "payment_date": chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
            "amount": decimal(p.amount_minor),
        }));
    }
    let customer_id = match &r.customer.email {
        None => None,
        Some(email) => {
            let email = email.trim().to_owned();
            let found = engine
                .x_call(m, c, |client, t| {
                    let email = email.clone();
                    async move { client.customers_by_email(&t, &email).await }
                })
                .await?;
            match found.into_iter().next() {
                Some(existing) => Some(existing.id),
                None => {
                    let body = json!({
                        "first_name": r.customer.first_name.trim(),
                        // X-Series requires a last name.
                        "last_name": r.customer.last_name.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or("-"),
                        "email": email, "phone": r.customer.phone,
                    });
                    let created = engine
                        .x_call(m, c, |client, t| {
                            let body = body.clone();
                            async move { client.create_customer(&t, &body).await }
                        })
                        .await
                        .map_err(refused)?;
                    Some(created.id)
                }
            }
        }
    };
    let products: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(n, (id, quantity))| {
            json!({ "product_id": id, "register_id": register, "quantity": quantity, "sequence": n, "price_set": false })
        })
        .collect();
    let body = json!({
        "register_id": register,
        "customer_id": customer_id,
        "source": "ECOMMERCE",
        "source_id": r.channel_order_id,
        "invoice_number": o.id,
        "status": if r.order_type == OrderType::Delivery { "AWAITING_DISPATCH" } else { "AWAITING_PICKUP" },
        "note": r.notes(),
        "register_sale_products": products,
        "register_sale_payments": payments,
    });
    let hint = engine
        .x_call(m, c, |client, t| {
            let body = body.clone();
            async move { client.create_register_sale(&t, &body).await }
        })
        .await
        .map_err(refused)?;
    Ok(RetailSale {
        state: x_state(hint.status.as_deref()),
        id: hint.id,
    })
}

async fn create_r(
    engine: &Engine,
    m: &str,
    o: &OrderRow,
    r: &OrderRequest,
    lines: Vec<(String, i64)>,
) -> Result<RetailSale, CreateError> {
    let c = o.connection_id.as_str();
    let mut payments = Vec::new();
    if let Some(p) = &r.payment {
        let types = engine
            .r_call(m, c, |client, t, account| async move {
                client.payment_types(&t, &account).await
            })
            .await?;
        let id = payment_type_id(&types, &wanted_payment_type(r), "r")?;
        payments.push(json!({ "amount": decimal(p.amount_minor), "paymentTypeID": id }));
    }
    let customer_id = match &r.customer.email {
        None => None,
        Some(email) => {
            let email = email.trim().to_owned();
            let found = engine
                .r_call(m, c, |client, t, account| {
                    let email = email.clone();
                    async move { client.customer_by_email(&t, &account, &email).await }
                })
                .await?;
            match found {
                Some(id) => Some(id),
                None => {
                    let body = json!({
                        "firstName": r.customer.first_name.trim(),
                        "lastName": r.customer.last_name.as_deref().map(str::trim).unwrap_or_default(),
                        "Contact": { "Emails": { "ContactEmail": { "address": email, "useType": "Primary" } } },
                    });
                    let id = engine
                        .r_call(m, c, |client, t, account| {
                            let body = body.clone();
                            async move { client.create_customer(&t, &account, &body).await }
                        })
                        .await
                        .map_err(refused)?;
                    Some(id)
                }
            }
        }
    };
    let sale_lines: Vec<Value> = lines
        .iter()
        .map(|(id, quantity)| json!({ "itemID": id, "unitQuantity": quantity }))
        .collect();
    let mut body = json!({
        "shopID": o.pos_location,
        "completed": false,
        "referenceNumber": o.id,
        "referenceNumberSource": "tillbridge",
        "SaleLines": { "SaleLine": sale_lines },
    });
    if let Some(id) = customer_id {
        body["customerID"] = json!(id);
    }
    if !payments.is_empty() {
        body["SalePayments"] = json!({ "SalePayment": payments });
    }
    let sale = engine
        .r_call(m, c, |client, t, account| {
            let body = body.clone();
            async move { client.create_sale(&t, &account, &body).await }
        })
        .await
        .map_err(refused)?;
    r_sale(&sale).ok_or_else(|| {
        CreateError::Engine(EngineError::Mapping(
            "the R-Series answer to a new sale has no saleID".into(),
        ))
    })
}
