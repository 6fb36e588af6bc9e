//! `tillbridge bench loyalty`: how fast the loyalty module applies order versions and scores RFM,
//! each beside a baseline measured in the same run on the same machine (these machines are
//! noisy, so the ratios and medians are the figures to compare):
//!
//! - order versions applied per second by the loyalty consumer (credit, punch card, tiers) from
//!   the event log, beside the rate at which the sync's own write path stores the same versions;
//! - a replay of the whole log from scratch, on the same data;
//! - RFM scoring and segmenting of N synthetic members in memory, beside sorting N values three
//!   times (the work the quintiles cannot avoid), as medians of several rounds;
//! - the stored nightly RFM run over the members in the database, and optionally over many
//!   seeded members: the first run (everyone gets a segment) and the next (nothing moved).
//!
//! Prints a table and writes the figures as JSON.

use crate::config::Config;
use anyhow::{Context, Result};
use chrono::{DateTime, Duration as Days, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tillbridge_engine::merchants::NewMerchant;
use tillbridge_engine::{Clock, Engine};
use tillbridge_loyalty::rfm::{self, Figures, Segment};
use tillbridge_model::{
    Email, Order, OrderKind, OrderLine, OrderStatus, Payment, Quantity, Series,
};
use tillbridge_store::loyalty::SeedCredit;

pub struct LoyaltyOptions {
    /// Sales to generate; refunds and re-versions come on top.
    pub sales: usize,
    pub members: usize,
    /// Synthetic members for the in-memory RFM figure.
    pub rfm_members: usize,
    /// Members seeded into the database (with their purchases) for the stored RFM run; 0 skips.
    pub rfm_db_members: usize,
    /// PostgreSQL (or another SQLite file) instead of a fresh SQLite file.
    pub database_url: Option<String>,
    pub json: Option<PathBuf>,
    pub seed: u64,
}

const PAGE: usize = 1000;
const CONNECTION: &str = "con_bench";
const LOCATION: &str = "loc_bench";

fn line(i: usize, category: &str, qty: i64, unit: i64) -> OrderLine {
    let total = unit * qty;
    let tax = total / 5;
    OrderLine {
        external_id: format!("l{i}"),
        parent_external_id: None,
        sku: Some(format!("{category}-{i}")),
        name: format!("{category} {i}"),
        category: Some(category.to_owned()),
        category_id: Some(category.to_lowercase()),
        quantity: Quantity::from_units(qty),
        unit_price_minor: unit,
        discount_minor: 0,
        tax_minor: tax,
        total_minor: total,
        net_minor: total - tax,
        voided: false,
        tax_rate_bp: None,
    }
}

fn order(
    external_id: String,
    kind: OrderKind,
    original: Option<String>,
    at: DateTime<Utc>,
    lines: Vec<OrderLine>,
    email: Option<&str>,
    tip: i64,
) -> Order {
    let total: i64 = lines.iter().map(|l| l.total_minor).sum();
    let tax: i64 = lines.iter().map(|l| l.tax_minor).sum();
    Order {
        series: Series::K,
        external_id,
        kind,
        original_external_id: original,
        status: OrderStatus::Closed,
        external_location_id: "bl1".into(),
        register_id: None,
        register_name: None,
        opened_at: None,
        closed_at: at,
        business_date: Some(at.date_naive()),
        currency: "EUR".into(),
        payments: vec![Payment {
            method_code: "CARD".into(),
            method_name: None,
            amount_minor: total + tip,
            tip_minor: tip,
        }],
        lines,
        total_minor: total,
        tax_minor: tax,
        discount_minor: 0,
        tip_minor: tip,
        covers: None,
        customer_email: email.and_then(|e| Email::parse(e).ok()),
        customer_ref: None,
        customer_name: None,
        table: None,
    }
}

/// The benchmark's order versions for `sales` sales by `members` members
/// (`member{i}@bench.example`), drawn from `seed`.
pub fn sample_versions(sales: usize, members: usize, seed: u64) -> Vec<Order> {
    versions(sales, members, &mut StdRng::seed_from_u64(seed))
}

/// Sales over the last 300 days, 70 % by a member; 15 % get a partial refund and 5 % a second
/// version (a tip added later), written in closing order.
fn versions(sales: usize, members: usize, rng: &mut StdRng) -> Vec<Order> {
    let now = Utc::now();
    let mut out = Vec::with_capacity(sales * 6 / 5);
    let mut later = Vec::new();
    for s in 0..sales {
        let at = now - Days::minutes(((sales - s) * 300 * 24 * 60 / sales.max(1)) as i64);
        let email = (rng.gen_range(0..10) < 7)
            .then(|| format!("member{}@bench.example", rng.gen_range(0..members.max(1))));
        let mut lines = vec![line(0, "Hot Drinks", rng.gen_range(1..3), 350)];
        if rng.gen_bool(0.5) {
            lines.push(line(1, "Pastry", rng.gen_range(1..3), 290));
        }
        if rng.gen_bool(0.3) {
            lines.push(line(2, "Lunch", 1, rng.gen_range(900..1800)));
        }
        let id = format!("s{s}");
        let sale = order(
            id.clone(),
            OrderKind::Sale,
            None,
            at,
            lines.clone(),
            email.as_deref(),
            0,
        );
        if rng.gen_range(0..100) < 15 {
            let mut refunded = lines[0].clone();
            refunded.quantity = Quantity::from_units(-1);
            for v in [
                &mut refunded.total_minor,
                &mut refunded.tax_minor,
                &mut refunded.net_minor,
            ] {
                *v = -*v / refunded_units(&lines[0]);
            }
            later.push(order(
                format!("r{s}"),
                OrderKind::Refund,
                Some(id.clone()),
                at + Days::hours(2),
                vec![refunded],
                None,
                0,
            ));
        } else if rng.gen_range(0..100) < 6 {
            let mut tipped = sale.clone();
            tipped.tip_minor = 100;
            tipped.payments[0].tip_minor = 100;
            later.push(tipped);
        }
        out.push(sale);
        // Later versions arrive a few pages on, as a sync would see them.
        if out.len() % PAGE == 0 {
            out.append(&mut later);
        }
    }
    out.append(&mut later);
    out
}

fn refunded_units(l: &OrderLine) -> i64 {
    l.quantity.whole_units().max(1)
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

/// Fails unless every purchase's previous dates and every member's lifetime figures are what a
/// full refresh would set (the consumer sets most of them without one).
async fn check_purchases(engine: &Engine, merchant_id: &str, after: &str) -> Result<()> {
    let mut c = engine.conn().await?;
    let stale = tillbridge_store::loyalty::purchases_out_of_date(&mut c, merchant_id).await?;
    anyhow::ensure!(
        stale == 0,
        "after {after}, {stale} purchases or members hold dates or figures a refresh would change"
    );
    Ok(())
}

/// An engine on `database_url`, or on a fresh SQLite file in `dir`.
async fn engine(database_url: Option<&str>, dir: &std::path::Path) -> Result<Engine> {
    let url = database_url
        .map(str::to_owned)
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
    let mut config = Config::load_with(None, |name| match name {
        "TILLBRIDGE_DATABASE_URL" => Some(url.clone()),
        _ => None,
    })?;
    config.vault.key_file = dir.join("master.key").display().to_string();
    crate::hub::open_engine(&config, None, Clock::system()).await
}

/// A scratch directory for a benchmark's database and key, removed afterwards.
pub(crate) fn scratch_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "tillbridge-bench-{}-{}",
        std::process::id(),
        Utc::now().timestamp_millis()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

pub async fn loyalty(opts: LoyaltyOptions) -> Result<()> {
    let dir = scratch_dir()?;
    let result = run(&opts, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A benchmark's engine (on `database_url` or a fresh SQLite file in `dir`), the backend's name
/// for the report, and a new merchant in Copenhagen with `currency`.
pub(crate) async fn bench_merchant(
    database_url: Option<&str>,
    dir: &std::path::Path,
    currency: &str,
) -> Result<(Engine, &'static str, String)> {
    let engine = engine(database_url, dir).await?;
    let backend = if database_url.is_some_and(|u| u.starts_with("postgres")) {
        "postgresql"
    } else {
        "sqlite"
    };
    let merchant = engine
        .create_merchant(NewMerchant {
            name: "Bench Café".into(),
            timezone: "Europe/Copenhagen".into(),
            currency: currency.into(),
        })
        .await?;
    Ok((engine, backend, merchant.id))
}

async fn run(opts: &LoyaltyOptions, dir: &std::path::Path) -> Result<()> {
    let (engine, backend, merchant_id) =
        bench_merchant(opts.database_url.as_deref(), dir, "EUR").await?;
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let m = merchant_id.as_str();
    let program = serde_json::from_value(json!({
        "earning": { "mode": "step", "step_minor": 1000, "reward_minor": 100 },
        "tiers": { "tiers": [{ "id": "silver", "name": "Silver", "threshold_minor": 20000 },
                             { "id": "gold", "name": "Gold", "threshold_minor": 60000 }] },
        "claim_window_days": 400
    }))?;
    tillbridge_loyalty::program::put(&engine, m, program).await?;
    let card = serde_json::from_value(json!({
        "name": "Coffee card", "reward": "a free hot drink", "stamps_required": 10,
        "categories": [{ "name": "Hot Drinks" }]
    }))?;
    tillbridge_loyalty::punch_cards::create(&engine, m, card).await?;
    for i in 0..opts.members {
        let new = serde_json::from_value(json!({ "email": format!("member{i}@bench.example") }))?;
        tillbridge_loyalty::members::create(&engine, m, new).await?;
    }

    // Baseline: the sync's write path storing every version with its event.
    let all = versions(opts.sales, opts.members, &mut rng);
    let started = Instant::now();
    let mut written = 0;
    for page in all.chunks(PAGE) {
        let page: Vec<(String, Order)> = page
            .iter()
            .map(|o| (LOCATION.to_owned(), o.clone()))
            .collect();
        let mut tx = engine.store().begin().await?;
        written +=
            tillbridge_engine::sync::write_orders(&mut tx, m, CONNECTION, &page, engine.now_ms())
                .await?;
        tillbridge_store::commit(tx).await?;
    }
    let ingest = started.elapsed();

    // The loyalty consumer applying all of them.
    let started = Instant::now();
    let reports = engine.run_until_idle().await?;
    let apply = started.elapsed();
    if let Some(e) = reports.iter().find_map(|r| r.result.as_ref().err()) {
        anyhow::bail!("the loyalty consumer failed: {e}");
    }
    check_purchases(&engine, m, "the consumer").await?;

    // A replay from scratch over the same log.
    tillbridge_loyalty::replay::replay(&engine, m).await?;
    let started = Instant::now();
    engine.run_until_idle().await?;
    let replay = started.elapsed();
    check_purchases(&engine, m, "the replay").await?;

    // The stored nightly RFM run over the members in the database.
    let started = Instant::now();
    let run = tillbridge_loyalty::segments::recompute(&engine, m).await?;
    let rfm_db = started.elapsed();
    let scored = run.latest.as_ref().map_or(0, |r| r.members);

    // RFM in memory over N synthetic members, beside sorting N values three times.
    let n = opts.rfm_members;
    let members: Vec<Figures> = (0..n)
        .map(|_| {
            let bought = rng.gen_bool(0.9);
            Figures {
                days_since_last: bought.then(|| rng.gen_range(0..365)),
                orders: if bought { rng.gen_range(1..60) } else { 0 },
                spend_minor: if bought {
                    rng.gen_range(100..500_000)
                } else {
                    0
                },
            }
        })
        .collect();
    let mut rfm_rounds = Vec::new();
    let mut sort_rounds = Vec::new();
    let mut segments = [0usize; Segment::ALL.len()];
    for _ in 0..5 {
        let started = Instant::now();
        let mut values: Vec<[i64; 3]> = Vec::with_capacity(n);
        for f in &members {
            values.push([
                i64::from(f.days_since_last.unwrap_or(u32::MAX)),
                i64::from(f.orders),
                f.spend_minor,
            ]);
        }
        for k in 0..3 {
            let mut column: Vec<i64> = values.iter().map(|v| v[k]).collect();
            column.sort_unstable();
            std::hint::black_box(&column);
        }
        sort_rounds.push(started.elapsed());

        let started = Instant::now();
        let scores = rfm::score(&members);
        segments = [0; Segment::ALL.len()];
        for s in &scores {
            let segment = Segment::of(*s);
            if let Some(i) = Segment::ALL.iter().position(|x| *x == segment) {
                segments[i] += 1;
            }
        }
        rfm_rounds.push(started.elapsed());
    }
    let (rfm_mem, sort_mem) = (median(rfm_rounds), median(sort_rounds));

    // The stored run over many seeded members: the first night and the one after.
    let seeded = if opts.rfm_db_members > 0 {
        Some(seeded_rfm(&engine, opts.rfm_db_members, &mut rng).await?)
    } else {
        None
    };

    let figures = json!({
        "backend": backend,
        "sales": opts.sales,
        "order_versions": all.len(),
        "versions_written": written,
        "members": opts.members,
        "ingest_versions_per_s": rate(all.len(), ingest),
        "loyalty_versions_per_s": rate(all.len(), apply),
        "loyalty_to_ingest_ratio": apply.as_secs_f64() / ingest.as_secs_f64().max(1e-9),
        "replay_versions_per_s": rate(all.len(), replay),
        "rfm_db_members": scored,
        "rfm_db_seconds": rfm_db.as_secs_f64(),
        "rfm_memory_members": n,
        "rfm_memory_seconds_median": rfm_mem.as_secs_f64(),
        "sort3_memory_seconds_median": sort_mem.as_secs_f64(),
        "rfm_to_sort3_ratio": rfm_mem.as_secs_f64() / sort_mem.as_secs_f64().max(1e-9),
        "rfm_seeded_members": opts.rfm_db_members,
        "rfm_seeded_first_run_seconds": seeded.map(|s| s.0.as_secs_f64()),
        "rfm_seeded_next_run_seconds": seeded.map(|s| s.1.as_secs_f64()),
        "rfm_segments": Segment::ALL.iter().zip(segments).map(|(s, c)| (s.as_str().to_owned(), Value::from(c))).collect::<serde_json::Map<_, _>>(),
    });
    println!(
        "loyalty benchmark ({backend}, {} order versions from {} sales, {} members)",
        all.len(),
        opts.sales,
        opts.members
    );
    println!("  {:<44} {:>14} {:>10}", "measure", "figure", "ratio");
    println!(
        "  {:<44} {:>12.0}/s {:>10}",
        "baseline: sync write path (versions)",
        rate(all.len(), ingest),
        "1.00"
    );
    println!(
        "  {:<44} {:>12.0}/s {:>10.2}",
        "loyalty consumer applying versions",
        rate(all.len(), apply),
        ingest.as_secs_f64() / apply.as_secs_f64().max(1e-9)
    );
    println!(
        "  {:<44} {:>12.0}/s {:>10.2}",
        "loyalty replay from scratch",
        rate(all.len(), replay),
        ingest.as_secs_f64() / replay.as_secs_f64().max(1e-9)
    );
    println!(
        "  {:<44} {:>12.3} s {:>10}",
        format!("stored RFM run over {scored} members"),
        rfm_db.as_secs_f64(),
        ""
    );
    println!(
        "  {:<44} {:>12.3} s {:>10}",
        format!("baseline: sort {n} values ×3 (median of 5)"),
        sort_mem.as_secs_f64(),
        "1.00"
    );
    println!(
        "  {:<44} {:>12.3} s {:>10.2}",
        format!("RFM score + segment {n} members (median)"),
        rfm_mem.as_secs_f64(),
        rfm_mem.as_secs_f64() / sort_mem.as_secs_f64().max(1e-9)
    );
    if let Some((first, next)) = seeded {
        let n = opts.rfm_db_members;
        println!(
            "  {:<44} {:>12.3} s {:>10}",
            format!("stored RFM, {n} members, first run"),
            first.as_secs_f64(),
            ""
        );
        println!(
            "  {:<44} {:>12.3} s {:>10}",
            format!("stored RFM, {n} members, next run"),
            next.as_secs_f64(),
            ""
        );
    }
    if let Some(path) = &opts.json {
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("  figures written to {}", path.display());
    }
    Ok(())
}

/// Seeds `n` members (`seed{i}@bench.example`) with 0–5 purchases each over the last year,
/// on `connection`, in multi-row statements; each purchase earns credit as "1.00 per 10.00"
/// would (an `earned` ledger entry posted at noon UTC of its day, and the member's balance).
pub(crate) async fn seed_members(
    engine: &Engine,
    m: &str,
    n: usize,
    connection: &str,
    rng: &mut StdRng,
) -> Result<()> {
    let today = Utc::now().date_naive();
    let now = engine.now_ms();
    for start in (0..n).step_by(20_000) {
        let end = (start + 20_000).min(n);
        let mut members = Vec::new();
        let mut purchases = Vec::new();
        let mut credit = Vec::new();
        for i in start..end {
            let id = format!("mem_seed{i:07}");
            let mut days: Vec<_> = (0..rng.gen_range(0..6))
                .map(|_| today - Days::days(rng.gen_range(0..365)))
                .collect();
            days.sort();
            let (mut balance, mut seq) = (0, 0);
            for (k, day) in days.into_iter().enumerate() {
                let net = rng.gen_range(100..20_000);
                let sale = format!("{id}-{k}");
                let earned = net / 1_000 * 100;
                if earned > 0 {
                    balance += earned;
                    seq += 1;
                    credit.push(SeedCredit {
                        member_id: id.clone(),
                        seq,
                        amount_minor: earned,
                        balance_after_minor: balance,
                        connection_id: connection.to_owned(),
                        sale_external_id: sale.clone(),
                        created_at: day
                            .and_hms_opt(12, 0, 0)
                            .map_or(now, |t| t.and_utc().timestamp_millis()),
                    });
                }
                purchases.push((
                    id.clone(),
                    connection.to_owned(),
                    sale,
                    day.to_string(),
                    net,
                ));
            }
            members.push((id, format!("seed{i}@bench.example"), balance));
        }
        let mut tx = engine.store().begin().await?;
        tillbridge_store::loyalty::seed_members(&mut tx, m, &members, &purchases, now).await?;
        tillbridge_store::loyalty::seed_credit(&mut tx, m, &credit).await?;
        tillbridge_store::commit(tx).await?;
    }
    let mut c = engine.conn().await?;
    tillbridge_store::loyalty::refresh_all_member_purchases(&mut c, m).await?;
    Ok(())
}

/// Seeds a merchant with `n` members and 0–5 purchases each over the last year, then times two
/// stored RFM runs: the first (every member gets a segment) and the next (nothing moved).
async fn seeded_rfm(engine: &Engine, n: usize, rng: &mut StdRng) -> Result<(Duration, Duration)> {
    let merchant = engine
        .create_merchant(NewMerchant {
            name: "Bench RFM".into(),
            timezone: "Europe/Copenhagen".into(),
            currency: "EUR".into(),
        })
        .await?;
    let m = merchant.id.as_str();
    seed_members(engine, m, n, CONNECTION, rng).await?;
    // A merchant this size has had its tables vacuumed and analysed long before a night's run.
    tillbridge_store::refresh_statistics(&mut *engine.conn().await?).await?;
    let started = Instant::now();
    tillbridge_loyalty::segments::recompute(engine, m).await?;
    let first = started.elapsed();
    let started = Instant::now();
    tillbridge_loyalty::segments::recompute(engine, m).await?;
    Ok((first, started.elapsed()))
}
