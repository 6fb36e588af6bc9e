//! `tillbridge demo`: the sandbox and the hub on loopback, a demo merchant connected through
//! the real OAuth flow, its history backfilled with a progress bar and checked against the
//! sandbox's ground truth, a loyalty program with members, departments with their weekly
//! balance imported, then live sales until Ctrl-C.

use crate::client::{consent, ApiClient};
use crate::config::Config;
use crate::hub::{self, Roles};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tillbridge_engine::connections::ORDERS_JOB;
use tillbridge_engine::Clock;
use tillbridge_sandbox::{Sandbox, SandboxConfig};
use tokio::net::TcpListener;

pub struct DemoOptions {
    pub data_dir: PathBuf,
    pub listen: String,
    pub seed: u64,
    pub history_days: u32,
    pub exit_after_setup: bool,
    /// Use this database instead of the demo's own SQLite file.
    pub database_url: Option<String>,
}

/// One sales channel of the demo merchant: a sandbox account of one series.
struct Channel {
    series: &'static str,
    label: &'static str,
    sandbox: Value,
    connection_id: String,
}

pub async fn run(opts: DemoOptions) -> Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("cannot create {}", opts.data_dir.display()))?;

    // 1. The sandbox: an offline Lightspeed with cafés on K- and O-Series and shops on X- and R-Series.
    let sandbox_listener = TcpListener::bind("127.0.0.1:0").await?;
    let sandbox_url = format!("http://{}", sandbox_listener.local_addr()?);
    tokio::spawn(
        Sandbox::new(SandboxConfig {
            seed: opts.seed,
            time_scale: 1.0,
            ..SandboxConfig::default()
        })
        .serve(sandbox_listener),
    );
    let sb = ApiClient::new(&sandbox_url, None);
    step("sandbox", &format!("Lightspeed sandbox at {sandbox_url}"));
    let clients = sb.get("/_sandbox/clients").await?;
    let mut channels = Vec::new();
    for (series, label, preset, name) in [
        ("k", "K-Series", "cafe", "Demo Café"),
        ("x", "X-Series", "shop", "Demo Café Shop"),
        ("r", "R-Series", "shop", "Demo Café Store"),
        ("o", "O-Series", "cafe", "Demo Café Bistro"),
    ] {
        let sandbox = sb
            .post(
                "/_sandbox/merchants",
                &json!({ "series": series, "name": name, "preset": preset, "locations": 2, "registers_per_location": 2,
                         "customers": 80, "history_days": opts.history_days, "sales_per_day": 40, "timezone": "Europe/Copenhagen" }),
            )
            .await?;
        step(
            "merchant",
            &format!(
                "{label} `{name}` with {} sales over {} days",
                sandbox["sales"], opts.history_days
            ),
        );
        channels.push(Channel {
            series,
            label,
            sandbox,
            connection_id: String::new(),
        });
    }

    // 2. The hub, on its own database.
    let database_url = match &opts.database_url {
        Some(u) => u.clone(),
        None => {
            let db = opts.data_dir.join("demo.db");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
            }
            format!("sqlite://{}", db.display())
        }
    };
    let mut config = sandbox_hub_config(
        &sandbox_url,
        &clients,
        &database_url,
        opts.history_days + 1,
        &opts.data_dir,
    )?;
    config.vault.key_file = opts.data_dir.join("master.key").display().to_string();
    config.sync.poll_interval_secs = 5;
    let listener = TcpListener::bind(&opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let hub = hub::start(&config, listener, Roles::All, Clock::system()).await?;
    let admin = hub.engine.create_api_key("demo admin", None).await?;
    // The dashboard's administrator, with a new password on every run.
    let admin_email = "admin@demo.example";
    let admin_password = tillbridge_engine::users::generate_password();
    match hub
        .engine
        .create_user(admin_email, &admin_password, None)
        .await
    {
        Ok(_) => {}
        Err(tillbridge_engine::EngineError::Conflict(_)) => {
            hub.engine
                .set_user_password(admin_email, &admin_password)
                .await?
        }
        Err(e) => return Err(e.into()),
    }
    let api = ApiClient::new(hub.url.as_str(), Some(&admin.secret));
    step(
        "hub",
        &format!("tillbridge at {} ({})", hub.url, config.database.url),
    );

    // 3. The merchant connects each channel through the real OAuth flow and maps its locations.
    let currency = str_of(&channels[0].sandbox, "currency")?.to_owned();
    let m = api
        .post(
            "/api/v1/merchants",
            &json!({ "name": "Demo Café", "timezone": "Europe/Copenhagen", "currency": currency }),
        )
        .await?;
    let merchant_id = str_of(&m, "id")?.to_owned();
    loyalty_program(&api, &merchant_id, opts.history_days).await?;
    for channel in &mut channels {
        channel.connection_id = connect(&api, &merchant_id, channel).await?;
    }

    // 4. Backfill with a progress bar.
    backfill_progress(&api, &merchant_id).await?;

    // 5. Verify each channel against the sandbox's ground truth.
    for channel in &channels {
        let truth = sb
            .get(&format!(
                "/_sandbox/merchants/{}/truth",
                str_of(&channel.sandbox, "id")?
            ))
            .await?;
        let ours = api
            .get(&format!(
                "/api/v1/merchants/{merchant_id}/sales-summary?connection_id={}",
                channel.connection_id
            ))
            .await?;
        crate::truth::compare(&ours, &truth)
            .map_err(|e| anyhow::anyhow!("{}: {e}", channel.label))?;
        step(
            "verify",
            &format!(
                "{}: {} orders, {} in minor units, identical to the sandbox truth",
                channel.label, ours["orders"], ours["total_minor"]
            ),
        );
    }

    // 6. Members from the channels' customers, and the weekly balance of the café's departments.
    let mut emails = Vec::new();
    for channel in &channels {
        let truth = sb
            .get(&format!(
                "/_sandbox/merchants/{}/truth",
                str_of(&channel.sandbox, "id")?
            ))
            .await?;
        let customers = truth["by_customer"].as_array().cloned().unwrap_or_default();
        emails.extend(
            customers
                .iter()
                .take(8)
                .filter_map(|c| c["email"].as_str().map(str::to_owned)),
        );
    }
    loyalty_members(&api, &merchant_id, &emails).await?;
    labor(&api, &merchant_id, &channels[0], opts.history_days).await?;

    // 7. Online ordering: checked, enabled, and one order through the café's POS.
    ordering(&api, &sb, &merchant_id, &channels[0]).await?;

    println!();
    println!("  Dashboard:        {}", hub.url);
    println!("  Admin login:      {admin_email} / {admin_password}");
    println!("  API:              {}", hub.url);
    println!("  OpenAPI:          {}api/openapi.json", hub.url);
    println!("  Admin API key:    {}", admin.secret);
    println!("  Merchant id:      {merchant_id}");
    println!("  Sandbox:          {sandbox_url}");
    for c in &channels {
        let login = &c.sandbox["login"];
        println!(
            "    {} login:   {} / {}",
            c.label,
            login["username"].as_str().unwrap_or_default(),
            login["password"].as_str().unwrap_or_default()
        );
    }
    println!("  Try:              curl -H 'Authorization: Bearer {}' {}api/v1/merchants/{merchant_id}/sales-summary", admin.secret, hub.url);
    println!("  Setup took {:.1}s", started.elapsed().as_secs_f64());

    if opts.exit_after_setup {
        hub.stop().await?;
        return Ok(());
    }
    println!("\nLive sandbox sales are flowing in (X- and O-Series by webhook, K- and R-Series by polling); press Ctrl-C to stop.");
    let ids: Vec<String> = channels
        .iter()
        .filter_map(|c| c.sandbox["id"].as_str().map(str::to_owned))
        .collect();
    let live = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(4)).await;
            for id in &ids {
                if let Err(e) = sb
                    .post(
                        &format!("/_sandbox/merchants/{id}/sales"),
                        &json!({ "count": 2 }),
                    )
                    .await
                {
                    tracing::warn!(error = %e, "live sale generation failed");
                }
            }
        }
    });
    crate::hub::shutdown_signal().await?;
    live.abort();
    hub.stop().await
}

/// Runs the consent flow for `channel` and maps every POS location it discovers.
async fn connect(api: &ApiClient, merchant_id: &str, channel: &Channel) -> Result<String> {
    let connection = connect_and_map(
        api,
        merchant_id,
        channel.series,
        &channel.sandbox["login"],
        channel.label,
    )
    .await?;
    step(
        "connect",
        &format!(
            "{} connected via OAuth (account {}), {} locations mapped",
            channel.label,
            connection["account_id"],
            connection["pos_locations"].as_array().map_or(0, Vec::len)
        ),
    );
    Ok(str_of(&connection, "id")?.to_owned())
}

/// Connects `series` through the consent flow as the sandbox merchant `login` and maps every
/// POS location the connection discovers to a new location of the same name and zone.
/// Returns the connection as the API lists it (`label` names the series in errors).
pub(crate) async fn connect_and_map(
    api: &ApiClient,
    merchant_id: &str,
    series: &str,
    login: &Value,
    label: &str,
) -> Result<Value> {
    let start = api
        .post(
            &format!("/api/v1/merchants/{merchant_id}/connections"),
            &json!({ "series": series }),
        )
        .await?;
    let (status, page) = consent(
        str_of(&start, "authorize_url")?,
        str_of(login, "username")?,
        str_of(login, "password")?,
        "allow",
    )
    .await?;
    if !status.is_success() || !page.contains("Connected") {
        bail!("the {label} OAuth flow did not complete ({status}): {page}");
    }
    let conns = api
        .get(&format!("/api/v1/merchants/{merchant_id}/connections"))
        .await?;
    let connection = conns["connections"]
        .as_array()
        .and_then(|list| list.iter().rev().find(|c| c["series"] == series))
        .context("no connection after the OAuth flow")?
        .clone();
    let connection_id = str_of(&connection, "id")?;
    for pos in connection["pos_locations"].as_array().into_iter().flatten() {
        let loc = api
            .post(
                &format!("/api/v1/merchants/{merchant_id}/locations"),
                &json!({ "name": pos["name"], "timezone": pos["timezone"].as_str().unwrap_or("Europe/Copenhagen"), "business_day_start": "05:00" }),
            )
            .await?;
        api.put(
            &format!(
                "/api/v1/merchants/{merchant_id}/locations/{}/mapping",
                str_of(&loc, "id")?
            ),
            &json!({ "connection_id": connection_id, "pos_location_id": pos["id"] }),
        )
        .await?;
    }
    Ok(connection)
}

/// The orders the connection has synced once every one of its orders streams is incremental,
/// `None` while one still backfills; an error if the connection stopped (needs
/// re-authorization or was disabled).
pub(crate) async fn backfilled_orders(
    api: &ApiClient,
    merchant_id: &str,
    connection_id: &str,
) -> Result<Option<i64>> {
    let list = api
        .get(&format!("/api/v1/merchants/{merchant_id}/connections"))
        .await?;
    let connection = list["connections"]
        .as_array()
        .and_then(|l| l.iter().find(|c| c["id"] == connection_id))
        .with_context(|| format!("connection {connection_id} is gone"))?;
    if connection["status"] == "needs_reauth" || connection["status"] == "disabled" {
        bail!(
            "the connection stopped during the backfill: {}",
            connection["last_error"]
        );
    }
    let mut streams = connection["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["kind"] == ORDERS_JOB)
        .peekable();
    let done = streams.peek().is_some() && streams.all(|s| s["phase"] == "incremental");
    Ok(done.then(|| connection["orders_synced"].as_i64().unwrap_or(0)))
}

/// $1 per $10 (before tax), three spend tiers, and a Hot Drinks punch card, set before the
/// channels connect so the whole history earns and stamps.
async fn loyalty_program(api: &ApiClient, merchant_id: &str, history_days: u32) -> Result<()> {
    api.put(
        &format!("/api/v1/merchants/{merchant_id}/loyalty/program"),
        &json!({
            "earning": { "mode": "step", "step_minor": 1000, "reward_minor": 100 },
            "claim_window_days": history_days + 1,
            "tiers": { "tiers": [
                { "id": "bronze", "name": "Bronze", "threshold_minor": 0 },
                { "id": "silver", "name": "Silver", "threshold_minor": 20000 },
                { "id": "gold", "name": "Gold", "threshold_minor": 50000 },
            ], "window": "rolling_365_days", "policy": "hold" },
        }),
    )
    .await?;
    api.post(
        &format!("/api/v1/merchants/{merchant_id}/punch-cards"),
        &json!({ "name": "Coffee card", "reward": "a free hot drink", "stamps_required": 10,
                 "categories": [{ "name": "Hot Drinks" }], "mode": "per_item" }),
    )
    .await?;
    step(
        "loyalty",
        "program: $1 per $10, Bronze/Silver/Gold tiers, a Hot Drinks punch card (10 stamps)",
    );
    Ok(())
}

/// Members for some of the channels' customers; each claims their past purchases.
async fn loyalty_members(api: &ApiClient, merchant_id: &str, emails: &[String]) -> Result<()> {
    let mut created = 0;
    for email in emails {
        let (status, body) = api
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/merchants/{merchant_id}/members"),
                Some(&json!({ "email": email })),
            )
            .await?;
        match status.as_u16() {
            201 => created += 1,
            // The same person on two channels (e-mails match case-insensitively).
            409 => {}
            _ => bail!("creating member {email} answered {status}: {body}"),
        }
    }
    let list = api
        .get(&format!(
            "/api/v1/merchants/{merchant_id}/members?limit=500"
        ))
        .await?;
    let members = list["members"].as_array().cloned().unwrap_or_default();
    let credit: i64 = members
        .iter()
        .filter_map(|m| m["balance_minor"].as_i64())
        .sum();
    step(
        "members",
        &format!("{created} members with {credit} minor units of credit from their purchases"),
    );
    Ok(())
}

/// Departments on the K-Series café (the first location split by register into Bar and
/// Kitchen, the second whole), all eight weekly balance fields per hour, and the history
/// imported through Import POS.
async fn labor(
    api: &ApiClient,
    merchant_id: &str,
    cafe: &Channel,
    history_days: u32,
) -> Result<()> {
    let locations = cafe.sandbox["locations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let (Some(first), Some(second)) = (locations.first(), locations.get(1)) else {
        bail!("the demo café has fewer than two locations");
    };
    let register = |i: usize| first["registers"][i]["id"].clone();
    let fields: Vec<Value> = [
        ("gross_sales", "Gross Sales"),
        ("net_sales", "Net Sales"),
        ("discounts", "Discounts"),
        ("returns", "Returns"),
        ("transactions", "Transactions"),
        ("goods_sold", "Goods sold"),
        ("returned_goods", "Returned goods"),
        ("visitors", "Visitors"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (t, name))| json!({ "number": (5266 + i).to_string(), "name": name, "field_type": t, "hourly": true }))
    .collect();
    for (name, location, terminals) in [
        ("Bar", &first["id"], json!([register(0)])),
        ("Kitchen", &first["id"], json!([register(1)])),
        (
            second["name"].as_str().unwrap_or("Second café"),
            &second["id"],
            json!([]),
        ),
    ] {
        api.post(
            &format!("/api/v1/merchants/{merchant_id}/labor/departments"),
            &json!({ "name": name, "timezone": "Europe/Copenhagen", "business_day_start": "05:00",
                     "client_number": location, "terminals": terminals, "fields": fields }),
        )
        .await?;
    }
    let from = chrono::Utc::now().date_naive() - chrono::Duration::days(i64::from(history_days));
    api.put(
        &format!("/api/v1/merchants/{merchant_id}/labor/settings"),
        &json!({ "enabled": true, "connection_id": cafe.connection_id, "auto_confirm": true, "history_from": from }),
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let import = loop {
        let list = api
            .get(&format!("/api/v1/merchants/{merchant_id}/labor/imports"))
            .await?;
        let latest = list["imports"].get(0).cloned().unwrap_or(Value::Null);
        if matches!(
            latest["state"].as_str(),
            Some("succeeded" | "failed" | "cancelled")
        ) {
            break latest;
        }
        if Instant::now() > deadline {
            bail!("the weekly balance import did not finish within 10 minutes: {latest}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    if import["state"] != "succeeded" {
        bail!(
            "the weekly balance import {}: {}",
            import["state"],
            import["error"]
        );
    }
    step(
        "labor",
        &format!(
            "3 departments, 8 weekly balance fields each; {} department days imported from {from}",
            import["days_done"]
        ),
    );
    Ok(())
}

/// Enables online ordering once the readiness checks pass, then sends a paid takeaway order
/// to the café's first location and plays the staff handing it over.
async fn ordering(
    api: &ApiClient,
    sb: &ApiClient,
    merchant_id: &str,
    cafe: &Channel,
) -> Result<()> {
    let readiness = api
        .get(&format!(
            "/api/v1/merchants/{merchant_id}/ordering/readiness"
        ))
        .await?;
    let location = readiness["locations"]
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|l| l["connection_id"] == cafe.connection_id.as_str())
        })
        .context("the café's locations are not mapped")?
        .clone();
    let (status, answer) = api
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/merchants/{merchant_id}/ordering/settings"),
            Some(&json!({ "enabled": true })),
        )
        .await?;
    if !status.is_success() {
        bail!("online ordering could not be enabled ({status}): {answer}");
    }
    let takes = readiness["locations"].as_array().map_or(0, |l| {
        l.iter().filter(|l| l["takes_orders"] == true).count()
    });
    let sandbox_id = str_of(&cafe.sandbox, "id")?;
    let detail = sb.get(&format!("/_sandbox/merchants/{sandbox_id}")).await?;
    let item = detail["menu"]
        .get(0)
        .context("the café has no menu")?
        .clone();
    let price = tillbridge_model::money::parse_minor(str_of(&item, "price")?, 2)
        .map_err(|e| anyhow::anyhow!("menu price: {e}"))?;
    let order = api
        .post(
            &format!("/api/v1/merchants/{merchant_id}/online-orders"),
            &json!({
                "channel_order_id": "demo-web-1", "location_id": location["location_id"], "type": "takeaway",
                "customer": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@demo.example"},
                "items": [{"sku": item["sku"], "quantity": 2}],
                "payment": {"amount_minor": price * 2, "reference": "psp-demo-1"},
            }),
        )
        .await?;
    let id = str_of(&order, "id")?.to_owned();
    let wait = |want: &'static str, paid: bool| {
        let (api, id) = (api, id.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let o = api
                    .get(&format!(
                        "/api/v1/merchants/{merchant_id}/online-orders/{id}"
                    ))
                    .await?;
                if o["status"] == want && (!paid || o["payment_status"] == "applied") {
                    return Ok::<_, anyhow::Error>(o);
                }
                if matches!(
                    o["status"].as_str(),
                    Some("rejected" | "failed" | "cancelled")
                ) {
                    bail!(
                        "the demo online order ended {}: {}",
                        o["status"],
                        o["detail"]
                    );
                }
                if Instant::now() > deadline {
                    bail!("the demo online order never became {want}: {o}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let accepted = wait("accepted", true).await?;
    sb.post(
        &format!("/_sandbox/merchants/{sandbox_id}/online-orders/{id}"),
        &json!({ "action": "close" }),
    )
    .await?;
    wait("completed", false).await?;
    step(
        "ordering",
        &format!(
            "enabled for {takes} locations; order {} ({} × 2) reached {} as {}, payment {}, completed",
            order["channel_order_id"].as_str().unwrap_or_default(),
            item["name"].as_str().unwrap_or_default(),
            cafe.label,
            accepted["pos_account"].as_str().unwrap_or_default(),
            accepted["payment_status"].as_str().unwrap_or_default(),
        ),
    );
    Ok(())
}

pub(crate) fn str_of<'a>(v: &'a Value, field: &str) -> Result<&'a str> {
    v[field]
        .as_str()
        .with_context(|| format!("missing `{field}` in {v}"))
}

fn step(name: &str, message: &str) {
    println!("✔ {name:<10} {message}");
}

async fn backfill_progress(api: &ApiClient, merchant_id: &str) -> Result<()> {
    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("  backfill   [{bar:40}] {percent:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let list = api
            .get(&format!("/api/v1/merchants/{merchant_id}/connections"))
            .await?;
        let connections = list["connections"].as_array().cloned().unwrap_or_default();
        let streams: Vec<Value> = connections
            .iter()
            .flat_map(|c| c["streams"].as_array().cloned().unwrap_or_default())
            .collect();
        let orders: i64 = connections
            .iter()
            .filter_map(|c| c["orders_synced"].as_i64())
            .sum();
        let done: f64 = streams
            .iter()
            .map(|s| {
                (s["progress_done"].as_i64().unwrap_or(0) as f64
                    / s["progress_total"].as_i64().unwrap_or(1).max(1) as f64)
                    .min(1.0)
            })
            .sum();
        let finished = !streams.is_empty() && streams.iter().all(|s| s["phase"] == "incremental");
        bar.set_position(if streams.is_empty() {
            0
        } else {
            (done / streams.len() as f64 * 1000.0) as u64
        });
        bar.set_message(format!("{orders} orders"));
        if finished {
            bar.set_position(1000);
            bar.finish();
            step("backfill", &format!("{orders} orders synced"));
            return Ok(());
        }
        if let Some(err) = streams.iter().find_map(|s| s["last_error"].as_str()) {
            bar.set_message(format!("{orders} orders (retrying: {err})"));
        }
        if let Some(c) = connections
            .iter()
            .find(|c| c["status"] == "needs_reauth" || c["status"] == "disabled")
        {
            bar.abandon();
            bail!("a connection stopped during backfill: {}", c["last_error"]);
        }
        if Instant::now() > deadline {
            bar.abandon();
            bail!("the backfill did not finish within 15 minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The hub's configuration against a sandbox at `sandbox_url` whose OAuth clients are
/// `clients` (its `/_sandbox/clients`), on `database_url`, backfilling `backfill_days`, with
/// alert mail written under `data_dir`. The vault key file is left to the caller.
pub(crate) fn sandbox_hub_config(
    sandbox_url: &str,
    clients: &Value,
    database_url: &str,
    backfill_days: u32,
    data_dir: &std::path::Path,
) -> Result<Config> {
    let vars = sandbox_hub_env(sandbox_url, clients, database_url, backfill_days, data_dir)?;
    Config::load_with(None, |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| {
                std::env::var(name)
                    .ok()
                    .filter(|_| name == "TILLBRIDGE_MASTER_KEY" || name == "TILLBRIDGE_LOG")
            })
    })
}

/// The `TILLBRIDGE_*` variables of [`sandbox_hub_config`], for a hub run as a process of its
/// own.
pub(crate) fn sandbox_hub_env(
    sandbox_url: &str,
    clients: &Value,
    database_url: &str,
    backfill_days: u32,
    data_dir: &std::path::Path,
) -> Result<Vec<(&'static str, String)>> {
    let client = |series: &str| -> Result<Value> {
        clients["clients"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["series"] == series))
            .cloned()
            .with_context(|| format!("the sandbox has no {series} client"))
    };
    let mut vars = vec![
        ("TILLBRIDGE_DATABASE_URL", database_url.to_owned()),
        (
            "TILLBRIDGE_KSERIES_BASE_URL",
            format!("{sandbox_url}/kseries"),
        ),
        (
            "TILLBRIDGE_XSERIES_AUTHORIZE_URL",
            format!("{sandbox_url}/xseries/connect"),
        ),
        (
            "TILLBRIDGE_XSERIES_STORE_BASE",
            format!("{sandbox_url}/xseries/{{domain_prefix}}"),
        ),
        (
            "TILLBRIDGE_RSERIES_AUTHORIZE_URL",
            format!("{sandbox_url}/rseries/auth/oauth/authorize"),
        ),
        (
            "TILLBRIDGE_RSERIES_TOKEN_URL",
            format!("{sandbox_url}/rseries/auth/oauth/token"),
        ),
        (
            "TILLBRIDGE_RSERIES_API_BASE",
            format!("{sandbox_url}/rseries/API/V3"),
        ),
        (
            "TILLBRIDGE_OSERIES_BASE_URL",
            format!("{sandbox_url}/oseries"),
        ),
        ("TILLBRIDGE_BACKFILL_DAYS", backfill_days.to_string()),
        ("TILLBRIDGE_ALERT_RECIPIENTS", "owner@demo.example".into()),
        (
            "TILLBRIDGE_MAIL_OUTBOX_DIR",
            data_dir.join("outbox").display().to_string(),
        ),
    ];
    for (series, id_var, secret_var) in [
        (
            "k",
            "TILLBRIDGE_KSERIES_CLIENT_ID",
            "TILLBRIDGE_KSERIES_CLIENT_SECRET",
        ),
        (
            "x",
            "TILLBRIDGE_XSERIES_CLIENT_ID",
            "TILLBRIDGE_XSERIES_CLIENT_SECRET",
        ),
        (
            "r",
            "TILLBRIDGE_RSERIES_CLIENT_ID",
            "TILLBRIDGE_RSERIES_CLIENT_SECRET",
        ),
        (
            "o",
            "TILLBRIDGE_OSERIES_CLIENT_ID",
            "TILLBRIDGE_OSERIES_CLIENT_SECRET",
        ),
    ] {
        let c = client(series)?;
        for (var, field) in [(id_var, "client_id"), (secret_var, "client_secret")] {
            if let Some(v) = c[field].as_str() {
                vars.push((var, v.to_owned()));
            }
        }
    }
    Ok(vars)
}
