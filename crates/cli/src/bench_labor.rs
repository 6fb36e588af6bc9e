//! `tillbridge bench labor`: rebuilding a year of weekly balances for many departments from
//! synced orders (a historical "Import POS" over everything, with approved days overwritten),
//! beside a baseline measured in the same run: one statement that counts and sums every line of
//! those orders (the least a rebuild could do). A second rebuild over unchanged orders shows the cost
//! when nothing has to be written.
//!
//! Prints a table and writes the figures as JSON.

use crate::bench::{bench_merchant, scratch_dir};
use anyhow::{bail, Context, Result};
use chrono::{Duration as Days, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Copenhagen;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tillbridge_engine::Engine;
use tillbridge_model::{Order, OrderKind, OrderLine, OrderStatus, Payment, Quantity, Series};
use tillbridge_store::connections::{self as conns, ConnectionRow};
use tillbridge_store::jobs::{self, NewJob};

pub struct LaborOptions {
    pub departments: usize,
    pub days: u32,
    pub sales_per_day: u32,
    /// PostgreSQL (or another SQLite file) instead of a fresh SQLite file.
    pub database_url: Option<String>,
    pub json: Option<PathBuf>,
    pub seed: u64,
}

pub(crate) const CONNECTION: &str = "con_bench";
/// Sales per hour of the day (a café's curve), 07:00–21:00.
const CURVE: [u32; 15] = [3, 8, 9, 7, 6, 9, 10, 8, 5, 4, 5, 6, 5, 3, 2];

fn sale_line(rng: &mut StdRng, n: usize) -> OrderLine {
    let qty = if rng.gen_bool(0.2) { 2 } else { 1 };
    let unit = [350, 290, 420, 1250, 0][rng.gen_range(0..5)];
    let gross = unit * qty;
    let discount = if rng.gen_bool(0.08) { gross / 10 } else { 0 };
    let total = gross - discount;
    let tax = total * 9 / 109;
    OrderLine {
        external_id: format!("l{n}"),
        parent_external_id: None,
        sku: Some(format!("sku-{unit}")),
        name: "item".into(),
        category: Some("Hot Drinks".into()),
        category_id: Some("hot".into()),
        quantity: Quantity::from_units(qty),
        unit_price_minor: unit,
        discount_minor: discount,
        tax_minor: tax,
        total_minor: total,
        net_minor: total - tax,
        voided: false,
        tax_rate_bp: None,
    }
}

fn negate(l: &OrderLine) -> OrderLine {
    OrderLine {
        quantity: Quantity::from_units(-l.quantity.whole_units()),
        discount_minor: -l.discount_minor,
        tax_minor: -l.tax_minor,
        total_minor: -l.total_minor,
        net_minor: -l.net_minor,
        ..l.clone()
    }
}

fn order(
    id: String,
    kind: OrderKind,
    original: Option<String>,
    (location, register): (&str, usize),
    at: chrono::DateTime<Utc>,
    lines: Vec<OrderLine>,
    covers: i32,
) -> Order {
    let total: i64 = lines.iter().map(|l| l.total_minor).sum();
    Order {
        series: Series::K,
        external_id: id,
        kind,
        original_external_id: original,
        status: OrderStatus::Closed,
        external_location_id: location.to_owned(),
        register_id: Some(format!("{location}-r{register}")),
        register_name: None,
        opened_at: None,
        closed_at: at,
        business_date: None,
        currency: "DKK".into(),
        payments: vec![Payment {
            method_code: "CARD".into(),
            method_name: None,
            amount_minor: total,
            tip_minor: 0,
        }],
        total_minor: total,
        tax_minor: lines.iter().map(|l| l.tax_minor).sum(),
        discount_minor: lines.iter().map(|l| l.discount_minor).sum(),
        lines,
        tip_minor: 0,
        covers: Some(covers),
        customer_email: None,
        customer_ref: None,
        customer_name: None,
        table: None,
    }
}

/// `days` of sales per location (one per department), with 3 % refunds and 1 % voids a few
/// hours later.
fn history(
    departments: usize,
    days: u32,
    sales_per_day: u32,
    rng: &mut StdRng,
) -> Vec<(String, Order)> {
    let today = Utc::now().with_timezone(&Copenhagen).date_naive();
    let weight: u32 = CURVE.iter().sum();
    let mut out = Vec::new();
    let mut n = 0usize;
    for d in 0..departments {
        let location = format!("bl{d}");
        for back in 1..=i64::from(days) {
            let date = today - Days::days(back);
            for _ in 0..sales_per_day {
                let mut pick = rng.gen_range(0..weight);
                let mut hour = 7;
                for (i, w) in CURVE.iter().enumerate() {
                    if pick < *w {
                        hour = 7 + i as u32;
                        break;
                    }
                    pick -= w;
                }
                let time =
                    NaiveTime::from_hms_opt(hour, rng.gen_range(0..60), rng.gen_range(0..60))
                        .unwrap_or(NaiveTime::MIN);
                let Some(at) = Copenhagen
                    .from_local_datetime(&date.and_time(time))
                    .earliest()
                else {
                    continue;
                };
                let at = at.with_timezone(&Utc);
                let lines: Vec<OrderLine> = (0..rng.gen_range(1..=4))
                    .map(|i| sale_line(rng, i))
                    .collect();
                let register = rng.gen_range(0..2);
                n += 1;
                let id = format!("s{n}");
                out.push((
                    format!("ord_b{n}"),
                    order(
                        id.clone(),
                        OrderKind::Sale,
                        None,
                        (&location, register),
                        at,
                        lines.clone(),
                        rng.gen_range(1..=4),
                    ),
                ));
                let roll = rng.gen_range(0..100);
                if roll < 4 {
                    let kind = if roll < 3 {
                        OrderKind::Refund
                    } else {
                        OrderKind::Void
                    };
                    let back: Vec<OrderLine> = if kind == OrderKind::Refund {
                        vec![negate(&lines[0])]
                    } else {
                        lines.iter().map(negate).collect()
                    };
                    n += 1;
                    let later = at + Days::minutes(rng.gen_range(5..600));
                    out.push((
                        format!("ord_b{n}"),
                        order(
                            format!("s{n}"),
                            kind,
                            Some(id),
                            (&location, register),
                            later,
                            back,
                            0,
                        ),
                    ));
                }
            }
        }
    }
    out
}

/// A K-Series connection `con_bench` whose order stream has read everything (it never runs),
/// and `days` of history for `departments` locations (`bl0`, `bl1`, …) stored as it would be
/// synced. Returns the orders.
pub(crate) async fn seed_history(
    engine: &Engine,
    m: &str,
    (departments, days, sales_per_day): (usize, u32, u32),
    rng: &mut StdRng,
) -> Result<Vec<(String, Order)>> {
    let now = engine.now_ms();
    let mut tx = engine.store().begin().await?;
    conns::insert_connection(
        &mut tx,
        &ConnectionRow::pending(m, CONNECTION, "k", "oauth", now),
    )
    .await?;
    conns::set_status(&mut tx, m, CONNECTION, "connected", None, now).await?;
    let checkpoint = json!({});
    jobs::ensure(
        &mut tx,
        &NewJob {
            id: &format!("job_bench_orders_{m}"),
            merchant_id: m,
            connection_id: CONNECTION,
            kind: "orders",
            stream_key: "all",
            run_after: i64::MAX / 4,
            checkpoint: &checkpoint,
        },
        now,
    )
    .await?;
    jobs::mark_succeeded(&mut tx, &format!("job_bench_orders_{m}"), now).await?;
    tillbridge_store::commit(tx).await?;
    let orders = history(departments, days, sales_per_day, rng);
    for chunk in orders.chunks(5_000) {
        let mut tx = engine.store().begin().await?;
        tillbridge_store::orders::insert_new(&mut tx, m, CONNECTION, chunk, now).await?;
        tillbridge_store::commit(tx).await?;
    }
    Ok(orders)
}

pub async fn labor(opts: LaborOptions) -> Result<()> {
    if opts.departments == 0 || opts.days == 0 || opts.sales_per_day == 0 {
        bail!("--departments, --days and --sales-per-day must be at least 1");
    }
    let dir = scratch_dir()?;
    let result = run(&opts, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn rebuild(
    engine: &Engine,
    m: &str,
    from: chrono::NaiveDate,
    until: chrono::NaiveDate,
) -> Result<Duration> {
    let new = serde_json::from_value(
        json!({ "from": from, "until": until, "overwrite_approved": true }),
    )?;
    let import = tillbridge_labor::imports::request(engine, m, new, "bench").await?;
    let started = Instant::now();
    let reports = engine.run_until_idle().await?;
    let took = started.elapsed();
    if let Some(e) = reports.iter().find_map(|r| r.result.as_ref().err()) {
        bail!("the import failed: {e}");
    }
    let done = tillbridge_labor::imports::get(engine, m, &import.id).await?;
    if done.state != "succeeded" {
        bail!("the import ended {}: {:?}", done.state, done.error);
    }
    Ok(took)
}

async fn run(opts: &LaborOptions, dir: &std::path::Path) -> Result<()> {
    let (engine, backend, merchant_id) =
        bench_merchant(opts.database_url.as_deref(), dir, "DKK").await?;
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let m = merchant_id.as_str();
    let started = Instant::now();
    let orders = seed_history(
        &engine,
        m,
        (opts.departments, opts.days, opts.sales_per_day),
        &mut rng,
    )
    .await?;
    let seed_time = started.elapsed();
    let lines: usize = orders.iter().map(|(_, o)| o.lines.len()).sum();

    let fields: Vec<serde_json::Value> = tillbridge_labor::figures::FieldType::ALL
        .iter()
        .enumerate()
        .map(|(i, t)| json!({ "number": (5266 + i).to_string(), "name": t.label(), "field_type": t, "hourly": true }))
        .collect();
    for d in 0..opts.departments {
        let input = serde_json::from_value(
            json!({ "name": format!("Department {d}"), "timezone": "Europe/Copenhagen",
            "business_day_start": "05:00", "client_number": format!("bl{d}"), "fields": fields }),
        )?;
        tillbridge_labor::departments::save(&engine, m, None, input).await?;
    }
    let settings = serde_json::from_value(json!({ "enabled": true, "connection_id": CONNECTION }))?;
    tillbridge_labor::settings::put(&engine, m, settings, "bench").await?;

    // Baseline: one statement that touches every line of those orders and does nothing else.
    let today = Utc::now().with_timezone(&Copenhagen).date_naive();
    let (from, until) = (
        today - Days::days(i64::from(opts.days)),
        today - Days::days(1),
    );
    let started = Instant::now();
    let (scanned, _) = {
        let mut c = engine.conn().await?;
        tillbridge_store::labor::scan_lines(&mut c, m, CONNECTION).await?
    };
    let baseline = started.elapsed();

    let first = rebuild(&engine, m, from, until).await?;
    let again = rebuild(&engine, m, from, until).await?;
    let department_days = opts.departments as i64 * ((until - from).num_days() + 1);
    let values = {
        let mut c = engine.conn().await?;
        tillbridge_store::labor::count_values(&mut c, m).await?
    };

    let ratio = |d: Duration| d.as_secs_f64() / baseline.as_secs_f64().max(1e-9);
    let figures = json!({
        "backend": backend,
        "departments": opts.departments,
        "days": opts.days,
        "orders": orders.len(),
        "lines": lines,
        "lines_scanned_by_baseline": scanned,
        "department_days": department_days,
        "values_written": values,
        "seed_seconds": seed_time.as_secs_f64(),
        "baseline_scan_seconds": baseline.as_secs_f64(),
        "rebuild_seconds": first.as_secs_f64(),
        "rebuild_to_scan_ratio": ratio(first),
        "unchanged_rebuild_seconds": again.as_secs_f64(),
        "unchanged_rebuild_to_scan_ratio": ratio(again),
    });
    println!(
        "labor benchmark ({backend}: {} departments × {} days, {} orders with {lines} lines, {department_days} department days)",
        opts.departments, opts.days, orders.len()
    );
    println!("  {:<52} {:>10} {:>8}", "measure", "seconds", "ratio");
    println!(
        "  {:<52} {:>10.3} {:>8}",
        "baseline: one scan over every line",
        baseline.as_secs_f64(),
        "1.00"
    );
    println!(
        "  {:<52} {:>10.3} {:>8.2}",
        format!("rebuild every weekly balance ({values} values)"),
        first.as_secs_f64(),
        ratio(first)
    );
    println!(
        "  {:<52} {:>10.3} {:>8.2}",
        "rebuild again, nothing changed",
        again.as_secs_f64(),
        ratio(again)
    );
    if let Some(path) = &opts.json {
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("  figures written to {}", path.display());
    }
    Ok(())
}
