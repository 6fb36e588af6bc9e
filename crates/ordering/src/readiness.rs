//! Whether a merchant can take online orders, and the switch that turns ordering on.
//!
//! Each mapped location is checked against the prerequisites: a connection that is usable, a
//! menu synced recently (orders are validated against it), the online payment method present
//! on the POS, and the webhooks the POS reports order updates through (K-Series endpoint with
//! the location linked, X-Series `sale.update`; R-Series is polled). K-Series floor plans and
//! account profiles are reported as advice: without them only some order types work.
//! Ordering can be enabled only when every location on an order-capable connection passes;
//! each failing check says what is wrong and how to fix it.

use crate::orders::SUPPORTED;
use crate::retail::DEFAULT_PAYMENT_TYPE;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tillbridge_engine::connections::status as conn_status;
use tillbridge_engine::{Engine, EngineError};
use tillbridge_store::connections as conns;
use tillbridge_store::merchants as merch;
use tillbridge_store::ordering::{self as store, SettingsRow};

/// The K-Series payment method code used when none is configured.
pub const DEFAULT_K_PAYMENT_METHOD: &str = "OOPAYMENT";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Whether online orders are taken. Switching it on runs the readiness checks first.
    #[serde(default)]
    pub enabled: bool,
    /// The payment method online payments are recorded with, per connection id: a K-Series
    /// payment method code, an X- or R-Series payment type name. Unset: `OOPAYMENT` on
    /// K-Series, "Online payment" on X and R.
    #[serde(default)]
    pub payment_methods: BTreeMap<String, String>,
}

impl Settings {
    /// The payment method orders through `connection_id` are paid with.
    pub fn payment_method(&self, connection_id: &str, series: &str) -> String {
        self.payment_methods
            .get(connection_id)
            .cloned()
            .unwrap_or_else(|| {
                if series == "k" {
                    DEFAULT_K_PAYMENT_METHOD
                } else {
                    DEFAULT_PAYMENT_TYPE
                }
                .to_owned()
            })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct SettingsView {
    #[serde(flatten)]
    pub settings: Settings,
    /// When ordering was last switched on (epoch milliseconds).
    pub enabled_at: Option<i64>,
}

/// One prerequisite of one location.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// `false`: advice only; the location can be enabled without it.
    pub required: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: String) -> Check {
        Check {
            name,
            ok: true,
            required: true,
            detail,
            fix: None,
        }
    }

    fn fail(name: &'static str, detail: String, fix: String) -> Check {
        Check {
            name,
            ok: false,
            required: true,
            detail,
            fix: Some(fix),
        }
    }

    fn advice(mut self) -> Check {
        self.required = false;
        self
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct LocationReadiness {
    pub location_id: String,
    pub connection_id: String,
    pub series: String,
    pub pos_location: String,
    /// Whether the location's POS series takes online orders at all (K, X, R).
    pub takes_orders: bool,
    /// Every required check passed.
    pub ready: bool,
    pub checks: Vec<Check>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Readiness {
    /// Ordering can be enabled: at least one location takes orders and all such pass.
    pub ready: bool,
    pub enabled: bool,
    /// Problems of the merchant as a whole (no location to take orders at).
    pub problems: Vec<String>,
    pub locations: Vec<LocationReadiness>,
}

impl Readiness {
    /// The first failing required check, as one sentence.
    pub fn summary(&self) -> String {
        if let Some(p) = self.problems.first() {
            return p.clone();
        }
        self.locations
            .iter()
            .filter(|l| l.takes_orders)
            .flat_map(|l| {
                l.checks
                    .iter()
                    .filter(|c| c.required && !c.ok)
                    .map(move |c| (l, c))
            })
            .next()
            .map(|(l, c)| {
                format!(
                    "location `{}` is not ready ({}): {}{}",
                    l.location_id,
                    c.name,
                    c.detail,
                    c.fix
                        .as_deref()
                        .map(|f| format!(" — {f}"))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_default()
    }
}

fn from_row(row: &SettingsRow) -> Result<Settings, EngineError> {
    serde_json::from_value(row.config.clone())
        .map_err(|e| EngineError::Invalid(format!("stored ordering settings are unreadable: {e}")))
}

/// The merchant's settings (defaults when never set).
pub async fn settings(engine: &Engine, merchant_id: &str) -> Result<SettingsView, EngineError> {
    let mut c = engine.conn().await?;
    Ok(match store::get_settings(&mut c, merchant_id).await? {
        Some(row) => SettingsView {
            settings: from_row(&row)?,
            enabled_at: row.enabled_at,
        },
        None => SettingsView {
            settings: Settings::default(),
            enabled_at: None,
        },
    })
}

/// Why settings were not saved.
#[derive(Debug)]
pub enum PutError {
    /// Ordering cannot be enabled yet: the checks, with what to fix.
    NotReady(Box<Readiness>),
    Engine(EngineError),
}

impl From<EngineError> for PutError {
    fn from(e: EngineError) -> Self {
        PutError::Engine(e)
    }
}

impl From<tillbridge_store::StoreError> for PutError {
    fn from(e: tillbridge_store::StoreError) -> Self {
        PutError::Engine(e.into())
    }
}

/// Saves the settings. Switching ordering on (or changing payment methods while it is on)
/// first registers any missing order webhooks, then runs the checks; when one fails, nothing
/// changes.
pub async fn put(
    engine: &Engine,
    merchant_id: &str,
    s: Settings,
) -> Result<SettingsView, PutError> {
    engine.merchant(merchant_id).await?;
    let mut c = engine.conn().await?;
    for (connection_id, method) in &s.payment_methods {
        let Some(conn) = conns::get_connection(&mut c, merchant_id, connection_id).await? else {
            return Err(EngineError::Invalid(format!(
                "`payment_methods`: connection `{connection_id}` does not exist for this merchant; list them at /api/v1/merchants/{merchant_id}/connections"
            ))
            .into());
        };
        if !SUPPORTED.contains(&conn.series.as_str()) {
            return Err(EngineError::Invalid(format!(
                "`payment_methods`: connection `{connection_id}` is {}-Series, which takes no online orders",
                conn.series.to_uppercase()
            ))
            .into());
        }
        if method.trim().is_empty() || method.chars().count() > 100 {
            return Err(EngineError::Invalid(format!(
                "`payment_methods.{connection_id}` must be a payment method code or name of 1 to 100 characters"
            ))
            .into());
        }
    }
    drop(c);
    let old = settings(engine, merchant_id).await?;
    if s.enabled {
        for link in ordering_links(engine, merchant_id).await? {
            if !link.checked {
                continue;
            }
            let registered = engine
                .order_webhooks_registered(
                    merchant_id,
                    &link.connection_id,
                    &link.series,
                    &link.pos_location,
                )
                .await;
            if matches!(registered, Ok(Some(false))) {
                engine
                    .register_order_webhooks(merchant_id, &link.connection_id, &link.series)
                    .await;
            }
        }
        let readiness = check(engine, merchant_id, &s).await?;
        if !readiness.ready {
            return Err(PutError::NotReady(Box::new(readiness)));
        }
    }
    let now = engine.now_ms();
    let row = SettingsRow {
        config: serde_json::to_value(&s).map_err(|e| EngineError::Invalid(e.to_string()))?,
        enabled_at: if s.enabled && !old.settings.enabled {
            Some(now)
        } else {
            old.enabled_at
        },
    };
    let mut c = engine.conn().await?;
    store::put_settings(&mut c, merchant_id, &row, now).await?;
    Ok(SettingsView {
        settings: s,
        enabled_at: row.enabled_at,
    })
}

/// A mapped location with its connection.
struct Link {
    location_id: String,
    connection_id: String,
    series: String,
    pos_location: String,
    status: String,
    /// The connection is usable, so the POS can be asked.
    checked: bool,
}

async fn ordering_links(engine: &Engine, merchant_id: &str) -> Result<Vec<Link>, EngineError> {
    let mut c = engine.conn().await?;
    let mut out = Vec::new();
    for l in merch::list_links(&mut c, merchant_id).await? {
        let Some(conn) = conns::get_connection(&mut c, merchant_id, &l.connection_id).await? else {
            continue;
        };
        out.push(Link {
            checked: conn.status == conn_status::CONNECTED
                && SUPPORTED.contains(&conn.series.as_str()),
            location_id: l.location_id,
            connection_id: l.connection_id,
            series: conn.series,
            pos_location: l.external_id,
            status: conn.status,
        });
    }
    Ok(out)
}

/// Checks every mapped location against the prerequisites, with `s` as the settings.
pub async fn check(
    engine: &Engine,
    merchant_id: &str,
    s: &Settings,
) -> Result<Readiness, EngineError> {
    engine.merchant(merchant_id).await?;
    let links = ordering_links(engine, merchant_id).await?;
    let mut locations = Vec::new();
    for link in links {
        locations.push(check_location(engine, merchant_id, s, link).await?);
    }
    let taking: Vec<&LocationReadiness> = locations.iter().filter(|l| l.takes_orders).collect();
    let mut problems = Vec::new();
    if taking.is_empty() {
        problems.push(format!(
            "no location is mapped to a K-, X- or R-Series connection: connect the POS (POST /api/v1/merchants/{merchant_id}/connections) and map a location (PUT …/locations/{{id}}/mapping)"
        ));
    }
    Ok(Readiness {
        ready: problems.is_empty() && taking.iter().all(|l| l.ready),
        enabled: settings(engine, merchant_id).await?.settings.enabled,
        problems,
        locations,
    })
}

/// How long a synced menu stays fresh: three runs of the catalog stream.
fn freshness_ms(engine: &Engine) -> i64 {
    i64::try_from(engine.config().catalog_interval.as_millis())
        .unwrap_or(i64::MAX / 4)
        .saturating_mul(3)
}

async fn check_location(
    engine: &Engine,
    merchant_id: &str,
    s: &Settings,
    link: Link,
) -> Result<LocationReadiness, EngineError> {
    let (m, c) = (merchant_id, link.connection_id.as_str());
    let series_name = format!("{}-Series", link.series.to_uppercase());
    let mut checks = Vec::new();
    let takes_orders = SUPPORTED.contains(&link.series.as_str());
    if !takes_orders {
        checks.push(Check::fail(
            "series",
            format!("{series_name} takes no online orders through its API"),
            "map the location to a K-, X- or R-Series connection to take online orders there"
                .into(),
        ));
    } else {
        checks.push(if link.checked {
            Check::pass("connection", format!("connection `{c}` is connected"))
        } else {
            Check::fail(
                "connection",
                format!("connection `{c}` is {}", link.status),
                match link.status.as_str() {
                    conn_status::NEEDS_REAUTH | conn_status::DISABLED => format!(
                        "reconnect it: POST /api/v1/merchants/{m}/connections/{c}/reconnect"
                    ),
                    conn_status::PENDING => {
                        "finish connecting: the merchant must complete the Lightspeed consent"
                            .to_owned()
                    }
                    _ => format!(
                        "see what failed in GET /api/v1/merchants/{m}/connections/{c}/log, then test it with POST …/connections/{c}/test"
                    ),
                },
            )
        });
        checks.push(menu_check(engine, m, &link).await?);
        if link.checked {
            checks.push(payment_check(engine, m, s, &link).await);
            checks.push(webhook_check(engine, m, &link).await);
        } else {
            for name in ["payment_method", "webhooks"] {
                checks.push(Check::fail(
                    name,
                    "not checked: the POS cannot be asked while the connection is unusable".into(),
                    "fix the connection first".into(),
                ));
            }
        }
        if link.series == "k" {
            checks.extend(k_advice(engine, m, &link).await?);
        }
    }
    Ok(LocationReadiness {
        ready: takes_orders && checks.iter().all(|c| c.ok || !c.required),
        location_id: link.location_id,
        connection_id: link.connection_id,
        series: link.series,
        pos_location: link.pos_location,
        takes_orders,
        checks,
    })
}

async fn menu_check(engine: &Engine, m: &str, link: &Link) -> Result<Check, EngineError> {
    let c = &link.connection_id;
    let synced = {
        let mut conn = engine.conn().await?;
        store::catalog_synced_at(&mut conn, m, c, &link.pos_location).await?
    };
    let sync = format!("sync it now: POST /api/v1/merchants/{m}/connections/{c}/sync");
    Ok(match synced {
        None => Check::fail(
            "menu",
            "the location's menu has not been synced: orders are checked against it".into(),
            sync,
        ),
        Some(at) => {
            let age = engine.now_ms().saturating_sub(at);
            let minutes = age / 60_000;
            if age > freshness_ms(engine) {
                Check::fail(
                    "menu",
                    format!("the menu was last synced {minutes} minutes ago, so prices and availability may be out of date"),
                    format!("{sync}; if it keeps failing, see GET /api/v1/merchants/{m}/connections/{c}/log"),
                )
            } else {
                Check::pass("menu", format!("the menu was synced {minutes} minutes ago"))
            }
        }
    })
}

async fn payment_check(engine: &Engine, m: &str, s: &Settings, link: &Link) -> Check {
    let method = s.payment_method(&link.connection_id, &link.series);
    let what = if link.series == "k" {
        "payment method code"
    } else {
        "payment type"
    };
    match engine
        .pos_payment_methods(m, &link.connection_id, &link.series, &link.pos_location)
        .await
    {
        Ok(known) if known.iter().any(|k| k == &method) => {
            Check::pass("payment_method", format!("online payments are recorded as {what} `{method}`"))
        }
        Ok(known) => Check::fail(
            "payment_method",
            format!(
                "the POS has no {what} `{method}` (it has: {})",
                known.join(", ")
            ),
            format!(
                "create `{method}` in the POS back office, or name an existing one in PUT /api/v1/merchants/{m}/ordering/settings {{\"payment_methods\": {{\"{}\": \"…\"}}}}",
                link.connection_id
            ),
        ),
        Err(e) => Check::fail(
            "payment_method",
            format!("could not list the POS's payment methods: {e}"),
            "check again when the connection answers (GET …/ordering/status shows outages)".into(),
        ),
    }
}

async fn webhook_check(engine: &Engine, m: &str, link: &Link) -> Check {
    let c = &link.connection_id;
    match engine
        .order_webhooks_registered(m, c, &link.series, &link.pos_location)
        .await
    {
        Ok(None) => Check::pass(
            "webhooks",
            "R-Series sends no order webhooks: order status is polled".into(),
        ),
        Ok(Some(true)) => Check::pass(
            "webhooks",
            if link.series == "k" {
                "the order webhook endpoint is registered and the location is linked to it".into()
            } else {
                "the store sends sale.update webhooks to this hub".into()
            },
        ),
        Ok(Some(false)) => Check::fail(
            "webhooks",
            if link.series == "k" {
                "no order webhook endpoint is registered for this location, so the POS cannot report order outcomes".into()
            } else {
                "the store has no sale.update webhook to this hub, so fulfilment would only be seen by polling".into()
            },
            format!(
                "enabling ordering registers it (PUT /api/v1/merchants/{m}/ordering/settings {{\"enabled\": true}}); if that fails, see GET …/connections/{c}/log"
            ),
        ),
        Err(e) => Check::fail(
            "webhooks",
            format!("could not read the webhook registration: {e}"),
            "check again when the connection answers".into(),
        ),
    }
}

/// K-Series advice: tables for dine-in, account profiles for takeaway and delivery.
async fn k_advice(engine: &Engine, m: &str, link: &Link) -> Result<Vec<Check>, EngineError> {
    let mut c = engine.conn().await?;
    let tables = store::tables(&mut c, m, &link.connection_id, &link.pos_location).await?;
    let profiles = store::profiles(&mut c, m, &link.connection_id, &link.pos_location).await?;
    let mut out = Vec::new();
    out.push(
        if tables.is_empty() {
            Check::fail(
                "floor_plans",
                "no floor plan with active tables: dine-in orders are refused, takeaway and delivery work".into(),
                "set up a floor plan in the K-Series back office; the next menu sync picks it up".into(),
            )
        } else {
            Check::pass(
                "floor_plans",
                format!("{} active tables take dine-in orders", tables.len()),
            )
        }
        .advice(),
    );
    for (code, order_type) in [("COLLECT", "takeaway"), ("DELIVERY", "delivery")] {
        let present = profiles.iter().any(|p| p.code == code);
        out.push(
            if present {
                Check::pass("account_profiles", format!("{order_type} orders use account profile `{code}`"))
            } else {
                Check::fail(
                    "account_profiles",
                    format!("no account profile `{code}`: {order_type} orders must name another profile in `account_profile`"),
                    format!("create the `{code}` profile in the K-Series back office"),
                )
            }
            .advice(),
        );
    }
    Ok(out)
}
