//! `tillbridge bench memory`: the resident memory of a hub process, idle and through a large
//! first backfill. The hub runs as `tillbridge serve` in a process of its own (workers and
//! every module's consumer included) and the sandbox as `tillbridge sandbox` in another, so
//! the history the sandbox holds is not counted against the hub. Figures come from the
//! kernel (`/proc/{pid}/status`): `VmRSS`, what is resident now, and `VmHWM`, its peak over
//! the process's life.
//!
//! The baseline, read in the same run after the same idle time, is the sandbox process
//! before it holds a merchant: the same binary, runtime and HTTP server with nothing loaded.

use crate::client::ApiClient;
use crate::demo::{backfilled_orders, connect_and_map, sandbox_hub_env, str_of};
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct MemoryOptions {
    /// The series whose history is backfilled (`k`, `x`, `r` or `o`).
    pub series: String,
    pub orders: u32,
    /// Days the history spans.
    pub days: u32,
    /// Seconds each process is left alone before its idle figure is read.
    pub idle_secs: u64,
    /// A database to run on instead of a fresh SQLite file.
    pub database_url: Option<String>,
    pub json: Option<PathBuf>,
    pub seed: u64,
}

/// What the kernel says of a process's memory, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Memory {
    rss_kib: u64,
    peak_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` out of a `/proc/{pid}/status` text.
fn parse_status(text: &str) -> Result<Memory> {
    let field = |name: &str| -> Result<u64> {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .with_context(|| format!("no {name} line in the process status"))?;
        let mut words = line.split_whitespace();
        let value = words
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .with_context(|| format!("{name} is not a number: `{}`", line.trim()))?;
        match words.next() {
            Some("kB") => Ok(value),
            other => bail!("{name} is in an unknown unit: {other:?}"),
        }
    };
    Ok(Memory {
        rss_kib: field("VmRSS")?,
        peak_kib: field("VmHWM")?,
    })
}

fn memory_of(child: &Child) -> Result<Memory> {
    let pid = child.id().context("the process has already exited")?;
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!("cannot read {path}: this benchmark needs Linux's /proc to see a process's memory")
    })?;
    parse_status(&text)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

pub async fn memory(opts: MemoryOptions) -> Result<()> {
    if opts.orders == 0 || opts.days == 0 {
        bail!("--orders and --days must be at least 1");
    }
    // The sandbox makes at most this many sales a day.
    let per_day = opts.orders.div_ceil(opts.days + 1);
    if per_day > 5000 {
        bail!(
            "{} orders over {} days is {per_day} a day, more than the sandbox's 5,000: raise --days to at least {}",
            opts.orders,
            opts.days,
            opts.orders.div_ceil(5000).saturating_sub(1)
        );
    }
    let (series, name, preset) = match opts.series.trim() {
        "k" => ("k", "K-Series", "cafe"),
        "x" => ("x", "X-Series", "shop"),
        "r" => ("r", "R-Series", "shop"),
        "o" => ("o", "O-Series", "cafe"),
        other => bail!("unknown series `{other}`: use k, x, r or o"),
    };
    let dir = crate::bench::scratch_dir()?;
    let result = run(&opts, series, name, preset, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(
    opts: &MemoryOptions,
    series: &str,
    name: &str,
    preset: &str,
    dir: &Path,
) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find the tillbridge executable")?;
    let (mut sandbox, sandbox_url) = start_sandbox(&exe, opts.seed).await?;
    let sb = ApiClient::new(&sandbox_url, None);
    let clients = sb.get("/_sandbox/clients").await?;
    let database_url = opts
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("hub.db").display()));
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let mut env = sandbox_hub_env(&sandbox_url, &clients, &database_url, opts.days + 1, dir)?;
    env.push(("TILLBRIDGE_LISTEN", format!("127.0.0.1:{port}")));
    env.push(("TILLBRIDGE_LOG", "warn,sqlx=error".into()));
    let hub_cmd = |args: &[&str]| {
        let mut c = Command::new(&exe);
        c.args(args)
            .current_dir(dir)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        c
    };
    let key = hub_cmd(&["api-keys", "create", "--name", "bench"])
        .stderr(Stdio::piped())
        .output()
        .await
        .context("cannot run `tillbridge api-keys create`")?;
    if !key.status.success() {
        bail!(
            "`tillbridge api-keys create` failed: {}",
            String::from_utf8_lossy(&key.stderr).trim()
        );
    }
    let key = String::from_utf8(key.stdout)?.trim().to_owned();
    let log = dir.join("serve.log");
    let mut hub = hub_cmd(&["serve"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .context("cannot start `tillbridge serve`")?;
    let hub_url = format!("http://127.0.0.1:{port}");
    let result = measure(
        opts, series, name, preset, &sb, &hub_url, &key, &mut hub, &sandbox,
    )
    .await;
    let _ = hub.start_kill();
    let _ = sandbox.start_kill();
    let _ = hub.wait().await;
    let _ = sandbox.wait().await;
    result.map_err(|e| {
        let tail = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = tail.lines().rev().take(10).collect();
        if tail.is_empty() {
            e
        } else {
            let lines: Vec<&str> = tail.into_iter().rev().collect();
            e.context(format!("the hub's log ended with:\n{}", lines.join("\n")))
        }
    })
}

/// Starts `tillbridge sandbox` on a free port, its limits off, and returns it with its URL.
async fn start_sandbox(exe: &Path, seed: u64) -> Result<(Child, String)> {
    let mut child = Command::new(exe)
        .args(["sandbox", "--listen", "127.0.0.1:0", "--no-rate-limits"])
        .args(["--seed", &seed.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start `tillbridge sandbox`")?;
    let stdout = child.stdout.take().context("no sandbox output")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .context("the sandbox did not start within a minute")??
        .context("the sandbox exited before it listened")?;
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .with_context(|| format!("the sandbox did not say where it listens: `{first}`"))?
        .to_owned();
    // The rest of its output is drained so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, url))
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    opts: &MemoryOptions,
    series: &str,
    name: &str,
    preset: &str,
    sb: &ApiClient,
    hub_url: &str,
    key: &str,
    hub: &mut Child,
    sandbox: &Child,
) -> Result<()> {
    let http = reqwest::Client::new();
    let ready = Instant::now();
    loop {
        if let Some(status) = hub.try_wait()? {
            bail!("`tillbridge serve` exited with {status} before it answered");
        }
        let up = http
            .get(format!("{hub_url}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if up {
            break;
        }
        if ready.elapsed() > Duration::from_secs(60) {
            bail!("`tillbridge serve` did not answer /healthz within a minute");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(opts.idle_secs)).await;
    let baseline = memory_of(sandbox)?;
    let idle = memory_of(hub)?;
    eprintln!(
        "  idle: hub {:.1} MiB, sandbox {:.1} MiB; creating {} orders in the sandbox",
        mib(idle.rss_kib),
        mib(baseline.rss_kib),
        opts.orders
    );

    let per_day = opts.orders.div_ceil(opts.days + 1).max(1);
    let merchant = sb
        .post(
            "/_sandbox/merchants",
            &json!({ "series": series, "name": "Bench Café", "preset": preset, "locations": 1,
                     "registers_per_location": 1, "customers": 2000, "history_days": opts.days,
                     "sales_per_day": per_day, "timezone": "Europe/Copenhagen" }),
        )
        .await?;
    let sales = merchant["sales"]
        .as_i64()
        .context("the sandbox did not say how many sales it made")?;
    let api = ApiClient::new(hub_url, Some(key));
    let m = api
        .post(
            "/api/v1/merchants",
            &json!({ "name": "Bench Café", "timezone": "Europe/Copenhagen", "currency": merchant["currency"] }),
        )
        .await?;
    let m = str_of(&m, "id")?.to_owned();
    let started = Instant::now();
    let connection = connect_and_map(&api, &m, series, &merchant["login"], name).await?;
    let connection_id = str_of(&connection, "id")?.to_owned();
    let mut highest_sampled = 0;
    let deadline = started + Duration::from_secs(4 * 3600);
    let orders = loop {
        if let Some(status) = hub.try_wait()? {
            bail!("`tillbridge serve` exited with {status} during the backfill");
        }
        highest_sampled = highest_sampled.max(memory_of(hub)?.rss_kib);
        if let Some(orders) = backfilled_orders(&api, &m, &connection_id).await? {
            break orders;
        }
        if Instant::now() > deadline {
            bail!("the backfill did not finish within four hours");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let wall = started.elapsed();
    let during = memory_of(hub)?;
    if orders != sales {
        bail!("the hub stored {orders} orders of the sandbox's {sales} sales");
    }
    tokio::time::sleep(Duration::from_secs(opts.idle_secs)).await;
    let after = memory_of(hub)?;

    let backend = if database_url_is_postgres(opts) {
        "postgresql"
    } else {
        "sqlite"
    };
    let ratio = |kib: u64| kib as f64 / baseline.rss_kib.max(1) as f64;
    let figures = json!({
        "backend": backend,
        "series": series,
        "orders": orders,
        "days": opts.days,
        "backfill_seconds": wall.as_secs_f64(),
        "baseline_idle_sandbox_rss_mib": mib(baseline.rss_kib),
        "hub_idle_rss_mib": mib(idle.rss_kib),
        "hub_idle_peak_mib": mib(idle.peak_kib),
        "hub_backfill_peak_mib": mib(during.peak_kib),
        "hub_backfill_highest_sampled_rss_mib": mib(highest_sampled),
        "hub_idle_after_backfill_rss_mib": mib(after.rss_kib),
        "hub_idle_to_baseline": ratio(idle.rss_kib),
        "hub_backfill_peak_to_baseline": ratio(during.peak_kib),
    });
    println!(
        "memory benchmark ({backend}, {name}, {orders} orders over {} days, hub and sandbox in processes of their own)",
        opts.days
    );
    println!("  {:<58} {:>9} {:>10}", "", "MiB", "/baseline");
    let row = |label: &str, kib: u64| {
        println!("  {label:<58} {:>9.1} {:>10.2}", mib(kib), ratio(kib));
    };
    row(
        "baseline: the sandbox idle, nothing loaded (VmRSS)",
        baseline.rss_kib,
    );
    row("hub idle: serve with workers, empty (VmRSS)", idle.rss_kib);
    row(
        &format!(
            "hub peak through the backfill ({:.0} s) (VmHWM)",
            wall.as_secs_f64()
        ),
        during.peak_kib,
    );
    row("hub idle again after the backfill (VmRSS)", after.rss_kib);
    println!("  targets: idle hub at most 50 MB, backfill peak at most 300 MB (1,000,000 orders)");
    if let Some(path) = &opts.json {
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("  figures written to {}", path.display());
    }
    Ok(())
}

fn database_url_is_postgres(opts: &MemoryOptions) -> bool {
    opts.database_url
        .as_deref()
        .is_some_and(|u| u.starts_with("postgres"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_figures_are_read_in_kib() {
        let status = "Name:\ttillbridge\nVmPeak:\t 1200 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   30720 kB\nThreads:\t4\n";
        assert_eq!(
            parse_status(status).unwrap(),
            Memory {
                rss_kib: 30720,
                peak_kib: 40960
            }
        );
    }

    #[test]
    fn status_without_the_figures_or_in_other_units_is_refused() {
        for (status, says) in [
            ("Name:\tx\nVmHWM:\t1 kB\n", "no VmRSS line"),
            ("VmRSS:\tmany kB\nVmHWM:\t1 kB\n", "VmRSS is not a number"),
            ("VmRSS:\t1 MB\nVmHWM:\t1 kB\n", "unknown unit"),
            // A field whose name merely starts the same is not the field.
            ("VmRSSx:\t1 kB\nVmHWM:\t1 kB\n", "no VmRSS line"),
        ] {
            let e = parse_status(status).unwrap_err().to_string();
            assert!(e.contains(says), "{status:?}: {e}");
        }
    }
}
