//! `tillbridge bench backfill`: how close a connection's first backfill comes to what the
//! series' rate limit allows. Per series, a sandbox merchant with one location and one register
//! gets a history of sales; the hub connects it through the real OAuth flow and reads it all.
//!
//! Two runs per series, each on a fresh sandbox and database:
//! - with the sandbox's rate limits (time-scaled with `--time-scale`): the wall time from the
//!   OAuth consent until every orders stream is incremental, the requests the sandbox served
//!   and the 429s it answered. The floor is the least time the limiter lets as many pages
//!   through as the history needs at the largest page size (`tillbridge_sandbox::least_time`:
//!   what exceeds the burst, at the refill rate), and the same for every request the hub made
//!   (discovery, webhook registration and catalog included). Pages ÷ the sustained rate, which
//!   ignores the burst, is in the JSON.
//! - with the rate limits off: the hub's own time for the same backfill (fetch, map, store,
//!   with every module's consumer running), the baseline measured in the same run. The hub's
//!   pacers still keep to what they know: K-Series' assumed bucket, R-Series' burst limiter.
//!
//! Prints a table and writes the figures as JSON.

use crate::client::ApiClient;
use crate::demo::{connect_and_map, sandbox_hub_config, str_of};
use crate::hub::{self, Roles};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tillbridge_engine::connections::ORDERS_JOB;
use tillbridge_engine::{Clock, Engine};
use tillbridge_sandbox::{Sandbox, SandboxConfig};
use tokio::net::TcpListener;

pub struct BackfillOptions {
    /// Series to run, in order (`k`, `x`, `r`, `o`).
    pub series: Vec<String>,
    /// Orders of history per series; `None` takes each series' default.
    pub orders: Option<u32>,
    /// Days the history spans.
    pub days: u32,
    pub time_scale: f64,
    /// A database to run on instead of a fresh SQLite file per run.
    pub database_url: Option<String>,
    pub json: Option<PathBuf>,
    pub seed: u64,
}

/// One series' place in the benchmark: its largest page, and a history long enough for the
/// limiter (not its burst) to set the floor.
struct SeriesSpec {
    code: &'static str,
    name: &'static str,
    preset: &'static str,
    page: u32,
    default_orders: u32,
}

const SERIES: [SeriesSpec; 4] = [
    SeriesSpec {
        code: "k",
        name: "K-Series",
        preset: "cafe",
        page: tillbridge_lightspeed::kseries::MAX_PAGE_SIZE,
        default_orders: 60_000,
    },
    SeriesSpec {
        code: "x",
        name: "X-Series",
        preset: "shop",
        page: tillbridge_lightspeed::xseries::PAGE_SIZE,
        default_orders: 60_000,
    },
    SeriesSpec {
        code: "r",
        name: "R-Series",
        preset: "shop",
        page: tillbridge_lightspeed::rseries::PAGE_LIMIT,
        default_orders: 12_000,
    },
    SeriesSpec {
        code: "o",
        name: "O-Series",
        preset: "cafe",
        page: tillbridge_lightspeed::oseries::PAGE_LIMIT,
        default_orders: 20_000,
    },
];

/// What one backfill took.
struct Run {
    orders: i64,
    sales_in_sandbox: i64,
    requests: u64,
    rate_limited: u64,
    wall: Duration,
}

pub async fn backfill(opts: BackfillOptions) -> Result<()> {
    if !(opts.time_scale.is_finite() && opts.time_scale > 0.0) {
        bail!(
            "--time-scale must be a positive number, got {}",
            opts.time_scale
        );
    }
    if opts.days == 0 {
        bail!("--days must be at least 1");
    }
    let mut specs = Vec::new();
    for s in &opts.series {
        match SERIES.iter().find(|spec| spec.code == s.trim()) {
            Some(spec) => specs.push(spec),
            None => bail!("unknown series `{s}`: use k, x, r or o (comma-separated)"),
        }
    }
    let dir = crate::bench::scratch_dir()?;
    let result = run(&opts, &specs, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(opts: &BackfillOptions, specs: &[&SeriesSpec], dir: &Path) -> Result<()> {
    let backend = if opts
        .database_url
        .as_deref()
        .is_some_and(|u| u.starts_with("postgres"))
    {
        "postgresql"
    } else {
        "sqlite"
    };
    let mut rows = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let orders = opts.orders.unwrap_or(spec.default_orders);
        // Sales a day so that `days` days (and today) hold about `orders`.
        let per_day = orders.div_ceil(opts.days + 1).max(1);
        let mut runs = Vec::new();
        for (j, limited) in [true, false].into_iter().enumerate() {
            let run_dir = dir.join(format!("{}-{i}-{j}", spec.code));
            std::fs::create_dir_all(&run_dir)?;
            let database_url = opts
                .database_url
                .clone()
                .unwrap_or_else(|| format!("sqlite://{}", run_dir.join("hub.db").display()));
            let r = once(opts, spec, per_day, limited, &database_url, &run_dir)
                .await
                .with_context(|| {
                    format!(
                        "{} backfill ({})",
                        spec.name,
                        if limited {
                            "rate-limited"
                        } else {
                            "no rate limits"
                        }
                    )
                })?;
            eprintln!(
                "  {} {}: {} orders in {:.1} s",
                spec.name,
                if limited { "rate-limited" } else { "unlimited" },
                r.orders,
                r.wall.as_secs_f64()
            );
            runs.push(r);
        }
        let (limited, own) = (&runs[0], &runs[1]);
        if limited.orders != limited.sales_in_sandbox || own.orders != own.sales_in_sandbox {
            bail!(
                "{}: the hub stored {} and {} orders of the sandbox's {} sales",
                spec.name,
                limited.orders,
                own.orders,
                limited.sales_in_sandbox
            );
        }
        if own.rate_limited > 0 {
            bail!(
                "{}: the sandbox answered {} requests with 429 while its rate limits were off",
                spec.name,
                own.rate_limited
            );
        }
        let pages = (limited.sales_in_sandbox as u64)
            .div_ceil(u64::from(spec.page))
            .max(1);
        let floor = tillbridge_sandbox::least_time(spec.code, 1, pages, opts.time_scale)
            .context("the sandbox has no limiter for this series")?;
        let sustained = pages as f64
            / tillbridge_sandbox::sustained_rate(spec.code, 1, opts.time_scale)
                .context("the sandbox has no limiter for this series")?;
        // The same for every request the hub made (discovery, webhooks, catalog, pages).
        let floor_all =
            tillbridge_sandbox::least_time(spec.code, 1, limited.requests, opts.time_scale)
                .context("the sandbox has no limiter for this series")?;
        let wall = limited.wall.as_secs_f64();
        let bound = floor.as_secs_f64().max(own.wall.as_secs_f64());
        rows.push(json!({
            "series": spec.code,
            "orders": limited.orders,
            "page_size": spec.page,
            "pages_needed": pages,
            "requests": limited.requests,
            "requests_per_1000_orders": limited.requests as f64 * 1000.0 / limited.orders.max(1) as f64,
            "rate_limited_429s": limited.rate_limited,
            "floor_seconds": floor.as_secs_f64(),
            "sustained_rate_floor_seconds": sustained,
            "wall_seconds": wall,
            "wall_to_floor": (floor.as_secs_f64() > 0.0).then(|| wall / floor.as_secs_f64()),
            "all_requests_floor_seconds": floor_all.as_secs_f64(),
            "wall_to_all_requests_floor": (floor_all.as_secs_f64() > 0.0).then(|| wall / floor_all.as_secs_f64()),
            "unlimited_wall_seconds": own.wall.as_secs_f64(),
            "unlimited_orders_per_second": own.orders as f64 / own.wall.as_secs_f64().max(1e-9),
            "unlimited_requests": own.requests,
            "wall_to_slower_bound": wall / bound.max(1e-9),
        }));
    }
    print_table(backend, opts, &rows);
    if let Some(path) = &opts.json {
        let figures = json!({ "backend": backend, "time_scale": opts.time_scale, "days": opts.days, "series": rows });
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("  figures written to {}", path.display());
    }
    Ok(())
}

fn print_table(backend: &str, opts: &BackfillOptions, rows: &[Value]) {
    println!(
        "backfill benchmark ({backend}, time scale {}, {} days of history, one location and register per series)",
        opts.time_scale, opts.days
    );
    println!(
        "  {:<3} {:>7} {:>6} {:>5} {:>8} {:>5} {:>8} {:>8} {:>7} {:>7} {:>7} {:>10} {:>8}",
        "",
        "orders",
        "pages",
        "reqs",
        "req/1000",
        "429s",
        "floor s",
        "f(reqs)",
        "wall s",
        "/floor",
        "/f(req)",
        "no-limit s",
        "orders/s"
    );
    let ratio = |v: &Value| {
        v.as_f64()
            .map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
    };
    for r in rows {
        let f = |k: &str| r[k].as_f64().unwrap_or(0.0);
        let n = |k: &str| r[k].as_u64().unwrap_or(0);
        println!(
            "  {:<3} {:>7} {:>6} {:>5} {:>8.1} {:>5} {:>8.1} {:>8.1} {:>7.1} {:>7} {:>7} {:>10.1} {:>8.0}",
            r["series"].as_str().unwrap_or_default().to_uppercase(),
            n("orders"),
            n("pages_needed"),
            n("requests"),
            f("requests_per_1000_orders"),
            n("rate_limited_429s"),
            f("floor_seconds"),
            f("all_requests_floor_seconds"),
            f("wall_seconds"),
            ratio(&r["wall_to_floor"]),
            ratio(&r["wall_to_all_requests_floor"]),
            f("unlimited_wall_seconds"),
            f("unlimited_orders_per_second"),
        );
    }
    println!("  floor: least time the limiter allows for the pages the orders need at the largest page size (beyond its burst)");
    println!("  f(reqs): the same for every request the hub made; no-limit: the same backfill with the limits off");
}

/// One backfill of `spec` on a fresh sandbox: the wall time from the consent until every
/// orders stream is incremental, and the sandbox's count of requests and 429s meanwhile.
async fn once(
    opts: &BackfillOptions,
    spec: &SeriesSpec,
    sales_per_day: u32,
    rate_limits: bool,
    database_url: &str,
    dir: &Path,
) -> Result<Run> {
    let sandbox_listener = TcpListener::bind("127.0.0.1:0").await?;
    let sandbox_url = format!("http://{}", sandbox_listener.local_addr()?);
    let sandbox = tokio::spawn(
        Sandbox::new(SandboxConfig {
            seed: opts.seed,
            time_scale: opts.time_scale,
            rate_limits,
        })
        .serve(sandbox_listener),
    );
    let result = backfill_on(opts, spec, sales_per_day, database_url, dir, &sandbox_url).await;
    sandbox.abort();
    result
}

async fn backfill_on(
    opts: &BackfillOptions,
    spec: &SeriesSpec,
    sales_per_day: u32,
    database_url: &str,
    dir: &Path,
    sandbox_url: &str,
) -> Result<Run> {
    let sb = ApiClient::new(sandbox_url, None);
    let clients = sb.get("/_sandbox/clients").await?;
    let merchant = sb
        .post(
            "/_sandbox/merchants",
            &json!({ "series": spec.code, "name": "Bench Café", "preset": spec.preset, "locations": 1,
                     "registers_per_location": 1, "customers": 200, "history_days": opts.days,
                     "sales_per_day": sales_per_day, "timezone": "Europe/Copenhagen" }),
        )
        .await?;
    let sales = merchant["sales"]
        .as_i64()
        .context("the sandbox did not say how many sales it made")?;
    let mut config = sandbox_hub_config(sandbox_url, &clients, database_url, opts.days + 1, dir)?;
    config.vault.key_file = dir.join("master.key").display().to_string();
    // The hub keeps to the same X-Series window as the time-scaled sandbox.
    config.lightspeed.xseries.rate_window_secs =
        tillbridge_sandbox::X_WINDOW_SECS / opts.time_scale;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let hub = hub::start(&config, listener, Roles::All, Clock::system()).await?;
    let result = timed_backfill(&hub.engine, &hub.url, spec, &merchant, &sb).await;
    let stopped = hub.stop().await;
    let run = result?;
    stopped?;
    Ok(Run {
        sales_in_sandbox: sales,
        ..run
    })
}

async fn timed_backfill(
    engine: &Engine,
    url: &url::Url,
    spec: &SeriesSpec,
    merchant: &Value,
    sb: &ApiClient,
) -> Result<Run> {
    let key = engine.create_api_key("bench", None).await?;
    let api = ApiClient::new(url.as_str(), Some(&key.secret));
    let m = api
        .post(
            "/api/v1/merchants",
            &json!({ "name": "Bench Café", "timezone": "Europe/Copenhagen", "currency": merchant["currency"] }),
        )
        .await?;
    let m = str_of(&m, "id")?.to_owned();
    let before = sb.get("/_sandbox/stats").await?;
    let started = Instant::now();
    let connection = connect_and_map(&api, &m, spec.code, &merchant["login"], spec.name).await?;
    let connection_id = str_of(&connection, "id")?.to_owned();
    let deadline = started + Duration::from_secs(3600);
    loop {
        let jobs = {
            let mut c = engine.conn().await?;
            tillbridge_store::jobs::list_for_connection(&mut c, &m, &connection_id).await?
        };
        let streams: Vec<_> = jobs.iter().filter(|j| j.kind == ORDERS_JOB).collect();
        if !streams.is_empty()
            && streams
                .iter()
                .all(|j| j.checkpoint["phase"] == "incremental")
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("the backfill did not finish within an hour");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wall = started.elapsed();
    let after = sb.get("/_sandbox/stats").await?;
    let count =
        |stats: &Value, field: &str| stats["requests"][spec.code][field].as_u64().unwrap_or(0);
    let orders = {
        let mut c = engine.conn().await?;
        tillbridge_store::orders::count_orders(&mut c, &m, Some(&connection_id)).await?
    };
    // Its streams stop, so the next run's sandbox sees no requests from this one.
    engine.disconnect(&m, &connection_id, "Lightspeed").await?;
    Ok(Run {
        orders,
        sales_in_sandbox: 0,
        requests: count(&after, "requests") - count(&before, "requests"),
        rate_limited: count(&after, "rate_limited") - count(&before, "rate_limited"),
        wall,
    })
}
