//! `tillbridge bench ingest`: webhook deliveries the hub accepts durably per second, and their
//! latency, beside a bare HTTP handler measured in the same run by the same load generator.
//!
//! The hub serves an X-Series connection to the in-process sandbox (workers running, so every
//! delivery also makes the connection's streams due, as in production). Each delivery is a
//! `sale.update` form for a sale never seen before: the hub checks the URL's token, parses the
//! payload, records the delivery under its idempotency key, wakes the streams and commits
//! before it answers. The bare handler, on its own listener in the same process, reads the
//! body and answers the same JSON. Rounds alternate between the two; the rates are the medians
//! of the rounds, the latencies percentiles over every timed request. At the end the hub's
//! count of recorded deliveries must equal what it acknowledged.

use crate::client::ApiClient;
use crate::demo::{backfilled_orders, connect_and_map, sandbox_hub_config, str_of};
use crate::hub::{self, Roles};
use anyhow::{bail, Context, Result};
use axum::body::Bytes;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tillbridge_engine::Clock;
use tillbridge_sandbox::{Sandbox, SandboxConfig};
use tokio::net::TcpListener;

pub struct IngestOptions {
    /// Timed deliveries per round and target.
    pub requests: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    pub rounds: usize,
    /// A database to run on instead of a fresh SQLite file (e.g. a PostgreSQL URL).
    pub database_url: Option<String>,
    pub json: Option<PathBuf>,
    pub seed: u64,
}

/// Deliveries sent to each target before the timed rounds.
const WARM_UP: usize = 200;

pub async fn ingest(opts: IngestOptions) -> Result<()> {
    if opts.requests == 0 || opts.concurrency == 0 || opts.rounds == 0 {
        bail!("--requests, --concurrency and --rounds must be at least 1");
    }
    let dir = crate::bench::scratch_dir()?;
    let result = run(&opts, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(opts: &IngestOptions, dir: &Path) -> Result<()> {
    let sandbox_listener = TcpListener::bind("127.0.0.1:0").await?;
    let sandbox_url = format!("http://{}", sandbox_listener.local_addr()?);
    let sandbox = tokio::spawn(
        Sandbox::new(SandboxConfig {
            seed: opts.seed,
            rate_limits: false,
            ..SandboxConfig::default()
        })
        .serve(sandbox_listener),
    );
    let bare_listener = TcpListener::bind("127.0.0.1:0").await?;
    let bare_url = format!("http://{}", bare_listener.local_addr()?);
    let bare = tokio::spawn(async move {
        let app = Router::new().route(
            "/webhooks/bare/{connection_id}/{token}",
            post(|body: Bytes| async move {
                Json(json!({ "received": !body.is_empty(), "duplicate": false }))
            }),
        );
        axum::serve(bare_listener, app).await
    });
    let result = with_hub(opts, dir, &sandbox_url, &bare_url).await;
    sandbox.abort();
    bare.abort();
    result
}

async fn with_hub(
    opts: &IngestOptions,
    dir: &Path,
    sandbox_url: &str,
    bare_url: &str,
) -> Result<()> {
    let sb = ApiClient::new(sandbox_url, None);
    let clients = sb.get("/_sandbox/clients").await?;
    let merchant = sb
        .post(
            "/_sandbox/merchants",
            &json!({ "series": "x", "name": "Bench Shop", "preset": "shop", "locations": 1,
                     "registers_per_location": 1, "customers": 50, "history_days": 1,
                     "sales_per_day": 20, "timezone": "Europe/Copenhagen" }),
        )
        .await?;
    let database_url = opts
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("hub.db").display()));
    let mut config = sandbox_hub_config(sandbox_url, &clients, &database_url, 2, dir)?;
    config.vault.key_file = dir.join("master.key").display().to_string();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let hub = hub::start(&config, listener, Roles::All, Clock::system()).await?;
    let result = measure(opts, &hub, &merchant, bare_url).await;
    let stopped = hub.stop().await;
    result?;
    stopped
}

/// What one round of deliveries to one target took.
struct Round {
    wall: Duration,
    latencies: Vec<Duration>,
}

async fn measure(
    opts: &IngestOptions,
    hub: &hub::Hub,
    merchant: &Value,
    bare_url: &str,
) -> Result<()> {
    let engine = &hub.engine;
    let key = engine.create_api_key("bench", None).await?;
    let api = ApiClient::new(hub.url.as_str(), Some(&key.secret));
    let m = api
        .post(
            "/api/v1/merchants",
            &json!({ "name": "Bench Shop", "timezone": "Europe/Copenhagen", "currency": merchant["currency"] }),
        )
        .await?;
    let m = str_of(&m, "id")?.to_owned();
    let connection = connect_and_map(&api, &m, "x", &merchant["login"], "X-Series").await?;
    let connection_id = str_of(&connection, "id")?.to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    while backfilled_orders(&api, &m, &connection_id).await?.is_none() {
        if Instant::now() > deadline {
            bail!("the X-Series connection did not finish its backfill within two minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recorded_before = {
        let mut c = engine.conn().await?;
        tillbridge_store::catalog::count_deliveries(&mut c, &m, &connection_id).await?
    };

    let hub_url = format!(
        "{}{}",
        hub.url.as_str().trim_end_matches('/'),
        engine.webhook_path("x", &connection_id)
    );
    let bare_url = format!("{bare_url}/webhooks/bare/{connection_id}/token");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(opts.concurrency)
        .build()?;
    let mut sent_to_hub = 0;
    for (target, url) in [("bare", &bare_url), ("hub", &hub_url)] {
        deliver(
            &http,
            url,
            &format!("warm-{target}"),
            WARM_UP,
            opts.concurrency,
        )
        .await?;
    }
    sent_to_hub += WARM_UP;
    let (mut bare_rounds, mut hub_rounds) = (Vec::new(), Vec::new());
    for round in 0..opts.rounds {
        bare_rounds.push(
            deliver(
                &http,
                &bare_url,
                &format!("bare-{round}"),
                opts.requests,
                opts.concurrency,
            )
            .await?,
        );
        hub_rounds.push(
            deliver(
                &http,
                &hub_url,
                &format!("hub-{round}"),
                opts.requests,
                opts.concurrency,
            )
            .await?,
        );
        sent_to_hub += opts.requests;
        eprintln!(
            "  round {}: bare {:.0}/s, hub {:.0}/s",
            round + 1,
            rate(opts.requests, bare_rounds[round].wall),
            rate(opts.requests, hub_rounds[round].wall)
        );
    }
    let recorded = {
        let mut c = engine.conn().await?;
        tillbridge_store::catalog::count_deliveries(&mut c, &m, &connection_id).await?
    } - recorded_before;
    if recorded != sent_to_hub as i64 {
        bail!("the hub acknowledged {sent_to_hub} deliveries but recorded {recorded}");
    }

    let backend = engine.store().backend();
    let bare = summary(&bare_rounds, opts.requests);
    let hubs = summary(&hub_rounds, opts.requests);
    let figures = json!({
        "backend": format!("{backend:?}").to_lowercase(),
        "requests_per_round": opts.requests,
        "rounds": opts.rounds,
        "concurrency": opts.concurrency,
        "bare": bare,
        "hub": hubs,
        "hub_to_bare_rate": hubs["median_per_second"].as_f64().unwrap_or(0.0)
            / bare["median_per_second"].as_f64().unwrap_or(1.0).max(1e-9),
        "recorded": recorded,
    });
    print_table(&figures);
    if let Some(path) = &opts.json {
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("  figures written to {}", path.display());
    }
    Ok(())
}

fn rate(requests: usize, wall: Duration) -> f64 {
    requests as f64 / wall.as_secs_f64().max(1e-9)
}

/// The median of the rounds' rates and the latency percentiles over all their requests.
fn summary(rounds: &[Round], requests: usize) -> Value {
    let mut rates: Vec<f64> = rounds.iter().map(|r| rate(requests, r.wall)).collect();
    rates.sort_by(f64::total_cmp);
    let mut latencies: Vec<Duration> = rounds.iter().flat_map(|r| r.latencies.clone()).collect();
    latencies.sort();
    let ms = |q: f64| percentile(&latencies, q).as_secs_f64() * 1000.0;
    json!({
        "median_per_second": rates[rates.len() / 2],
        "per_second_by_round": rates,
        "p50_ms": ms(0.50),
        "p99_ms": ms(0.99),
        "max_ms": ms(1.0),
    })
}

/// The `q` quantile of sorted values (nearest rank).
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn print_table(f: &Value) {
    println!(
        "ingest benchmark ({}, {} rounds of {} X-Series sale.update deliveries, {} in flight)",
        f["backend"].as_str().unwrap_or_default(),
        f["rounds"],
        f["requests_per_round"],
        f["concurrency"]
    );
    println!(
        "  {:<46} {:>10} {:>9} {:>9} {:>9}",
        "", "per s", "p50 ms", "p99 ms", "/bare"
    );
    let bare_rate = f["bare"]["median_per_second"].as_f64().unwrap_or(0.0);
    for (label, key) in [
        ("baseline: bare handler (read body, answer)", "bare"),
        ("hub: verify, parse, record, wake, commit", "hub"),
    ] {
        let t = &f[key];
        let per_s = t["median_per_second"].as_f64().unwrap_or(0.0);
        println!(
            "  {label:<46} {per_s:>10.0} {:>9.2} {:>9.2} {:>9.2}",
            t["p50_ms"].as_f64().unwrap_or(0.0),
            t["p99_ms"].as_f64().unwrap_or(0.0),
            per_s / bare_rate.max(1e-9)
        );
    }
    println!(
        "  every delivery acknowledged was recorded ({} in the hub's database)",
        f["recorded"]
    );
}

/// Sends `count` deliveries of sales never seen before (`{prefix}-{n}`) to `url`, at most
/// `concurrency` at a time, and times each. Any answer but 2xx fails the run.
async fn deliver(
    http: &reqwest::Client,
    url: &str,
    prefix: &str,
    count: usize,
    concurrency: usize,
) -> Result<Round> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.min(count) {
        let (http, url, prefix, next) = (
            http.clone(),
            url.to_owned(),
            prefix.to_owned(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let payload =
                    json!({ "id": format!("{prefix}-{n}"), "version": 1, "status": "CLOSED" });
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("type", "sale.update")
                    .append_pair("domain_prefix", "bench")
                    .append_pair("payload", &payload.to_string())
                    .finish();
                let sent = Instant::now();
                let resp = http
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await?;
                let status = resp.status();
                let text = resp.bytes().await?;
                latencies.push(sent.elapsed());
                if !status.is_success() {
                    bail!(
                        "delivery {prefix}-{n} answered {status}: {}",
                        String::from_utf8_lossy(&text)
                    );
                }
            }
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    for t in tasks {
        latencies.extend(t.await.context("a sender task failed")??);
    }
    Ok(Round {
        wall: started.elapsed(),
        latencies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let ms = |v: u64| Duration::from_millis(v);
        let sorted: Vec<Duration> = (1..=100).map(ms).collect();
        for (q, want) in [(0.5, 50), (0.99, 99), (1.0, 100), (0.0, 1), (0.001, 1)] {
            assert_eq!(percentile(&sorted, q), ms(want), "q = {q}");
        }
        assert_eq!(percentile(&[ms(7)], 0.99), ms(7));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
