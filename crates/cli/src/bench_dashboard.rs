//! `tillbridge bench dashboard`: how long the dashboard's pages take to render with many
//! members (100,000 by default, 0–5 purchases each over the last year) and a year of orders,
//! measured over loopback HTTP against the hub's own router, beside a baseline measured in the
//! same run: the sign-in page, which renders the same layout and touches no table.
//!
//! Prints the median and the slowest of each page's requests and the ratio of the median to
//! the baseline's; writes the figures as JSON.

use crate::bench::{bench_merchant, scratch_dir, seed_members};
use crate::bench_labor::{seed_history, CONNECTION};
use anyhow::{bail, Context, Result};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tillbridge_engine::users::{generate_password, SignIn};
use tillbridge_server::AppState;

pub struct DashboardOptions {
    pub members: usize,
    /// Orders a day over the last year.
    pub sales_per_day: u32,
    /// Timed requests per page (after two untimed ones).
    pub requests: usize,
    pub database_url: Option<String>,
    pub json: Option<PathBuf>,
    pub seed: u64,
}

/// The server-time target per page.
const TARGET: Duration = Duration::from_millis(200);

pub async fn dashboard(opts: DashboardOptions) -> Result<()> {
    if opts.members == 0 || opts.sales_per_day == 0 || opts.requests == 0 {
        bail!("--members, --sales-per-day and --requests must be at least 1");
    }
    let dir = scratch_dir()?;
    let result = run(&opts, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

async fn run(opts: &DashboardOptions, dir: &std::path::Path) -> Result<()> {
    let (engine, backend, merchant_id) =
        bench_merchant(opts.database_url.as_deref(), dir, "DKK").await?;
    let m = merchant_id.as_str();
    let mut rng = StdRng::seed_from_u64(opts.seed);

    let started = Instant::now();
    let orders = seed_history(&engine, m, (1, 365, opts.sales_per_day), &mut rng).await?;
    let program = serde_json::from_value(json!({
        "earning": { "mode": "step", "step_minor": 1000, "reward_minor": 100 },
        "tiers": { "tiers": [{ "id": "silver", "name": "Silver", "threshold_minor": 20000 },
                             { "id": "gold", "name": "Gold", "threshold_minor": 60000 }] }
    }))?;
    tillbridge_loyalty::program::put(&engine, m, program).await?;
    let card = serde_json::from_value(json!({
        "name": "Coffee card", "reward": "a free hot drink", "stamps_required": 10,
        "categories": [{ "name": "Hot Drinks" }]
    }))?;
    tillbridge_loyalty::punch_cards::create(&engine, m, card).await?;
    seed_members(&engine, m, opts.members, CONNECTION, &mut rng).await?;
    tillbridge_loyalty::segments::recompute(&engine, m).await?;
    // Planner statistics, as a running installation has them (PostgreSQL's autovacuum); right
    // after a bulk load there are none.
    tillbridge_store::refresh_statistics(&mut *engine.conn().await?).await?;
    let seeded = started.elapsed();

    // The hub's router on a loopback port, and a signed-in administrator.
    let state = AppState {
        engine: engine.clone(),
        workers: Arc::new(AtomicBool::new(false)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tillbridge_server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let password = generate_password();
    engine
        .create_user("bench@bench.example", &password, None)
        .await?;
    let SignIn::Session(session) = engine.sign_in("bench@bench.example", &password).await? else {
        bail!("the benchmark's administrator could not sign in");
    };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let cookie = format!("tb_session={}", session.token);
    let member = "mem_seed0000001";
    // A range that ends before the newest purchases: its members are counted less the half
    // year of purchases after it.
    let today = chrono::Utc::now().date_naive();
    let (earlier, later) = (
        today - chrono::Days::new(270),
        today - chrono::Days::new(180),
    );
    let pages: Vec<(&str, String)> = vec![
        ("baseline: the sign-in page", "/login".to_owned()),
        ("members, first page", format!("/merchants/{m}/members")),
        (
            "members, search by e-mail",
            format!("/merchants/{m}/members?search=seed4242"),
        ),
        (
            "members, one segment",
            format!("/merchants/{m}/members?segment=champions"),
        ),
        (
            "a member's profile",
            format!("/merchants/{m}/members/{member}"),
        ),
        ("loyalty program", format!("/merchants/{m}/loyalty")),
        (
            "insights, a year per month",
            format!("/merchants/{m}/insights"),
        ),
        (
            "insights, a year per week",
            format!("/merchants/{m}/insights?period=week"),
        ),
        (
            "insights, a past quarter per day",
            format!("/merchants/{m}/insights?period=day&from={earlier}&to={later}"),
        ),
        ("orders", format!("/merchants/{m}/orders")),
        ("sales channels", format!("/merchants/{m}/channels")),
    ];
    let mut results = Vec::new();
    for (name, path) in &pages {
        let url = format!("http://{addr}{path}");
        let mut times = Vec::new();
        for i in 0..opts.requests + 2 {
            let started = Instant::now();
            let resp = http
                .get(&url)
                .header(reqwest::header::COOKIE, &cookie)
                .send()
                .await?;
            let status = resp.status();
            let body = resp.bytes().await?;
            let took = started.elapsed();
            if !status.is_success() {
                bail!("{path} answered {status}");
            }
            if body.is_empty() {
                bail!("{path} answered an empty page");
            }
            if i >= 2 {
                times.push(took);
            }
        }
        let slowest = times.iter().max().copied().unwrap_or_default();
        results.push((*name, path.clone(), median(times), slowest));
    }
    let _ = stop.send(());
    server.await??;

    let baseline = results[0].2.as_secs_f64().max(1e-9);
    println!(
        "dashboard benchmark ({backend}: {} members, {} orders over a year; {} requests per page, median and slowest)",
        opts.members,
        orders.len(),
        opts.requests
    );
    println!(
        "  {:<34} {:>10} {:>10} {:>8} {:>8}",
        "page", "median ms", "slowest", "ratio", "≤200 ms"
    );
    let mut figures = Vec::new();
    for (name, path, med, slowest) in &results {
        let ratio = med.as_secs_f64() / baseline;
        println!(
            "  {:<34} {:>10.1} {:>10.1} {:>8.1} {:>8}",
            name,
            med.as_secs_f64() * 1000.0,
            slowest.as_secs_f64() * 1000.0,
            ratio,
            if *med <= TARGET { "yes" } else { "no" }
        );
        figures.push(json!({
            "page": name, "path": path, "median_ms": med.as_secs_f64() * 1000.0,
            "slowest_ms": slowest.as_secs_f64() * 1000.0, "ratio_to_baseline": ratio,
            "within_target": *med <= TARGET,
        }));
    }
    println!("  (seeding took {:.1} s)", seeded.as_secs_f64());
    if let Some(path) = &opts.json {
        let all = json!({
            "backend": backend,
            "members": opts.members,
            "orders": orders.len(),
            "requests_per_page": opts.requests,
            "target_ms": TARGET.as_millis() as u64,
            "pages": figures,
        });
        std::fs::write(path, serde_json::to_string_pretty(&all)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("  figures written to {}", path.display());
    }
    Ok(())
}
