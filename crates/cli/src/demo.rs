//! `tillbridge demo`: the sandbox and the hub on loopback, a demo merchant connected through
//! the real OAuth flow, its history backfilled with a progress bar and checked against the
//! sandbox's ground truth, then live sales until Ctrl-C.

use crate::client::{consent, ApiClient};
use crate::config::Config;
use crate::hub::{self, Roles};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};
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

pub async fn run(opts: DemoOptions) -> Result<()> {
    let started = Instant::now();
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("cannot create {}", opts.data_dir.display()))?;

    // 1. The sandbox: an offline Lightspeed.
    let sandbox_listener = TcpListener::bind("127.0.0.1:0").await?;
    let sandbox_url = format!("http://{}", sandbox_listener.local_addr()?);
    let sandbox = Sandbox::new(SandboxConfig {
        seed: opts.seed,
        time_scale: 1.0,
    });
    tokio::spawn(sandbox.serve(sandbox_listener));
    let sb = ApiClient::new(&sandbox_url, None);
    step("sandbox", &format!("Lightspeed sandbox at {sandbox_url}"));

    let clients = sb.get("/_sandbox/clients").await?;
    let k = clients["clients"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["series"] == "k"))
        .context("the sandbox has no K-Series client")?
        .clone();
    let merchant = sb
        .post(
            "/_sandbox/merchants",
            &json!({ "series": "k", "name": "Demo Café", "preset": "cafe", "locations": 2, "registers_per_location": 2,
                     "customers": 80, "history_days": opts.history_days, "sales_per_day": 40, "timezone": "Europe/Copenhagen" }),
        )
        .await?;
    let sandbox_merchant = str_of(&merchant, "id")?.to_owned();
    step(
        "merchant",
        &format!(
            "K-Series café `{}` with {} sales over {} days",
            str_of(&merchant, "name")?,
            merchant["sales"],
            opts.history_days
        ),
    );

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
    let key_file = opts.data_dir.join("master.key");
    let mut config = Config::load_with(None, |name| match name {
        "TILLBRIDGE_DATABASE_URL" => Some(database_url.clone()),
        "TILLBRIDGE_KSERIES_BASE_URL" => Some(format!("{sandbox_url}/kseries")),
        "TILLBRIDGE_KSERIES_CLIENT_ID" => k["client_id"].as_str().map(str::to_owned),
        "TILLBRIDGE_KSERIES_CLIENT_SECRET" => k["client_secret"].as_str().map(str::to_owned),
        "TILLBRIDGE_BACKFILL_DAYS" => Some((opts.history_days + 1).to_string()),
        other => std::env::var(other)
            .ok()
            .filter(|_| other == "TILLBRIDGE_MASTER_KEY" || other == "TILLBRIDGE_LOG"),
    })?;
    config.vault.key_file = key_file.display().to_string();
    config.sync.poll_interval_secs = 5;
    let listener = TcpListener::bind(&opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let hub = hub::start(&config, listener, Roles::All, Clock::system()).await?;
    let admin = hub.engine.create_api_key("demo admin", None).await?;
    let api = ApiClient::new(hub.url.as_str(), Some(&admin.secret));
    step(
        "hub",
        &format!("tillbridge at {} ({})", hub.url, config.database.url),
    );

    // 3. A merchant connects K-Series through the real OAuth flow.
    let m = api.post("/api/v1/merchants", &json!({ "name": "Demo Café", "timezone": "Europe/Copenhagen", "currency": str_of(&merchant, "currency")? })).await?;
    let merchant_id = str_of(&m, "id")?;
    let start = api
        .post(
            &format!("/api/v1/merchants/{merchant_id}/connections"),
            &json!({ "series": "k" }),
        )
        .await?;
    let login = &merchant["login"];
    let (status, page) = consent(
        str_of(&start, "authorize_url")?,
        str_of(login, "username")?,
        str_of(login, "password")?,
        "allow",
    )
    .await?;
    if !status.is_success() || !page.contains("Connected") {
        bail!("the OAuth flow did not complete ({status}): {page}");
    }
    let conns = api
        .get(&format!("/api/v1/merchants/{merchant_id}/connections"))
        .await?;
    let connection = conns["connections"]
        .get(0)
        .context("no connection after the OAuth flow")?
        .clone();
    let connection_id = str_of(&connection, "id")?;
    step(
        "connect",
        &format!(
            "K-Series connected via OAuth (business {}, status {})",
            connection["account_id"], connection["status"]
        ),
    );

    // 4. Locations mapped to the POS locations discovered on the connection.
    for pos in connection["pos_locations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
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
    step(
        "locations",
        &format!(
            "{} locations mapped",
            connection["pos_locations"].as_array().map_or(0, Vec::len)
        ),
    );

    // 5. Backfill with a progress bar.
    backfill_progress(&api, merchant_id, connection_id).await?;

    // 6. Verify against the sandbox's ground truth.
    let truth = sb
        .get(&format!("/_sandbox/merchants/{sandbox_merchant}/truth"))
        .await?;
    let ours = api
        .get(&format!("/api/v1/merchants/{merchant_id}/sales-summary"))
        .await?;
    crate::truth::compare(&ours, &truth).map_err(anyhow::Error::msg)?;
    step(
        "verify",
        &format!(
            "{} orders, {} in minor units: identical to the sandbox truth",
            ours["orders"], ours["total_minor"]
        ),
    );

    println!();
    println!("  API:              {}", hub.url);
    println!("  OpenAPI:          {}api/openapi.json", hub.url);
    println!("  Admin API key:    {}", admin.secret);
    println!("  Merchant id:      {merchant_id}");
    println!(
        "  Sandbox:          {sandbox_url} (merchant login {} / {})",
        login["username"].as_str().unwrap_or_default(),
        login["password"].as_str().unwrap_or_default()
    );
    println!("  Try:              curl -H 'Authorization: Bearer {}' {}api/v1/merchants/{merchant_id}/sales-summary", admin.secret, hub.url);
    println!("  Setup took {:.1}s", started.elapsed().as_secs_f64());

    if opts.exit_after_setup {
        hub.stop().await?;
        return Ok(());
    }
    println!("\nLive sandbox sales are flowing in; press Ctrl-C to stop.");
    let live = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(4)).await;
            if let Err(e) = sb
                .post(
                    &format!("/_sandbox/merchants/{sandbox_merchant}/sales"),
                    &json!({ "count": 2 }),
                )
                .await
            {
                tracing::warn!(error = %e, "live sale generation failed");
            }
        }
    });
    tokio::signal::ctrl_c().await?;
    live.abort();
    hub.stop().await
}

fn str_of<'a>(v: &'a Value, field: &str) -> Result<&'a str> {
    v[field]
        .as_str()
        .with_context(|| format!("missing `{field}` in {v}"))
}

fn step(name: &str, message: &str) {
    println!("✔ {name:<10} {message}");
}

async fn backfill_progress(api: &ApiClient, merchant_id: &str, connection_id: &str) -> Result<()> {
    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("  backfill   [{bar:40}] {percent:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let c = api
            .get(&format!(
                "/api/v1/merchants/{merchant_id}/connections/{connection_id}"
            ))
            .await?;
        let streams = c["streams"].as_array().cloned().unwrap_or_default();
        let (mut done, mut total) = (0.0f64, 0.0f64);
        for s in &streams {
            let t = s["progress_total"].as_i64().unwrap_or(1).max(1) as f64;
            total += 1.0;
            done += (s["progress_done"].as_i64().unwrap_or(0) as f64 / t).min(1.0);
        }
        let finished = !streams.is_empty() && streams.iter().all(|s| s["phase"] == "incremental");
        bar.set_position(if total > 0.0 {
            (done / total * 1000.0) as u64
        } else {
            0
        });
        bar.set_message(format!("{} orders", c["orders_synced"]));
        if finished {
            bar.set_position(1000);
            bar.finish();
            println!("✔ {:<10} {} orders synced", "backfill", c["orders_synced"]);
            return Ok(());
        }
        if let Some(err) = streams.iter().find_map(|s| s["last_error"].as_str()) {
            bar.set_message(format!("{} orders (retrying: {err})", c["orders_synced"]));
        }
        if c["status"] == "needs_reauth" || c["status"] == "disabled" {
            bar.abandon();
            bail!(
                "the connection stopped during backfill: {}",
                c["last_error"]
            );
        }
        if Instant::now() > deadline {
            bar.abandon();
            bail!("the backfill did not finish within 15 minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
