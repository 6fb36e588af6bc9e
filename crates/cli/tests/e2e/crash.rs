//! `kill -9` of the real `tillbridge serve` process in the middle of a backfill, then a
//! restart: the result must equal the sandbox truth with no duplicate orders or events.

use crate::common::*;
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tillbridge::client::ApiClient;
use tokio::process::{Child, Command};

struct Proc {
    child: Child,
    log: std::path::PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn command(env: &[(String, String)], args: &[&str], log: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tillbridge"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TILLBRIDGE_LOG", "debug,sqlx=warn,hyper=info,reqwest=info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    cmd.stdout(Stdio::null())
        .stderr(Stdio::from(file))
        .kill_on_drop(true);
    cmd
}

async fn serve(env: &[(String, String)], log: &std::path::Path, port: u16) -> Proc {
    let mut env = env.to_vec();
    env.push(("TILLBRIDGE_LISTEN".into(), format!("127.0.0.1:{port}")));
    env.push(("TILLBRIDGE_WORKERS".into(), "1".into()));
    let child = command(&env, &["serve"], log).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the server did not start; see {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Proc {
        child,
        log: log.to_path_buf(),
    }
}

async fn connection(api: &ApiClient, m: &str) -> Value {
    api.get(&format!("/api/v1/merchants/{m}/connections"))
        .await
        .unwrap()["connections"][0]
        .clone()
}

/// Makes an API key with the CLI, starts `serve` and creates a merchant.
async fn hub_with_merchant(
    env: &[(String, String)],
    log: &std::path::Path,
    port: u16,
) -> (Proc, ApiClient, String, String) {
    let out = command(env, &["api-keys", "create", "--name", "crash-test"], log)
        .stdout(Stdio::piped())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let proc = serve(env, log, port).await;
    let api = ApiClient::new(&format!("http://127.0.0.1:{port}"), Some(&key));
    let m = api
        .post(
            "/api/v1/merchants",
            &json!({ "name": "Crash Café", "timezone": "Europe/Copenhagen", "currency": "DKK" }),
        )
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (proc, api, key, m)
}

/// Connects the K-Series sandbox merchant through the consent page and maps every POS
/// location to a new location; returns the connection id and the location ids.
async fn connect_and_map(api: &ApiClient, sm: &Value, m: &str) -> (String, Vec<String>) {
    let start = api
        .post(
            &format!("/api/v1/merchants/{m}/connections"),
            &json!({ "series": "k" }),
        )
        .await
        .unwrap();
    let (status, page) = tillbridge::client::consent(
        start["authorize_url"].as_str().unwrap(),
        sm["login"]["username"].as_str().unwrap(),
        sm["login"]["password"].as_str().unwrap(),
        "allow",
    )
    .await
    .unwrap();
    assert!(status.is_success(), "{page}");
    let conn = connection(api, m).await;
    let c = conn["id"].as_str().unwrap().to_owned();
    let mut locations = Vec::new();
    for pos in conn["pos_locations"].as_array().unwrap() {
        let loc = api
            .post(
                &format!("/api/v1/merchants/{m}/locations"),
                &json!({ "name": pos["name"], "timezone": pos["timezone"] }),
            )
            .await
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        api.put(
            &format!("/api/v1/merchants/{m}/locations/{loc}/mapping"),
            &json!({ "connection_id": c, "pos_location_id": pos["id"] }),
        )
        .await
        .unwrap();
        locations.push(loc);
    }
    (c, locations)
}

async fn crash_and_resume(backend: Backend) {
    let Some(db) = Db::create(backend).await else {
        return;
    };
    let sb = start_sandbox(1.0).await;
    // The backfill reaches back 400 × 24 h; the history stays inside it.
    let sm = sb.merchant(398, 25).await;
    let env = hub_env(&sb, &db, 400);
    let log = db.dir().join("server.log");
    let port = free_port();

    // Slow Lightspeed down so the kill lands mid-backfill.
    sb.fault(json!({ "kind": "latency", "latency_ms": 150, "merchant": sm["id"] }))
        .await;
    let (mut proc, api, key, m) = hub_with_merchant(&env, &log, port).await;
    let (c, _) = connect_and_map(&api, &sm, &m).await;

    // Kill -9 a few times while the backfill is in progress.
    let total = sb.truth(&sm).await["orders"].as_i64().unwrap();
    let mut kills = 0;
    let mut last_seen = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while kills < 3 {
        assert!(
            Instant::now() < deadline,
            "backfill made no progress to interrupt"
        );
        let synced = connection(&api, &m).await["orders_synced"]
            .as_i64()
            .unwrap();
        if synced > last_seen && synced < total {
            proc.child.start_kill().unwrap();
            proc.child.wait().await.unwrap();
            kills += 1;
            last_seen = synced;
            proc = serve(&env, &log, port).await;
        } else if synced >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        kills >= 1,
        "the server was never killed mid-backfill (backfill too fast?)"
    );
    sb.api
        .call(reqwest::Method::DELETE, "/_sandbox/faults", None)
        .await
        .unwrap();

    // Wait for the restarted server to finish.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let conn = connection(&api, &m).await;
        if conn["streams"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["phase"] == "incremental")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "backfill did not finish after restart: {conn}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ours = api
        .get(&format!("/api/v1/merchants/{m}/sales-summary"))
        .await
        .unwrap();
    assert_matches_truth(&ours, &sb.truth(&sm).await);
    // One creation event per order: nothing was written twice.
    let mut created = 0;
    let mut after = 0;
    loop {
        let page = api
            .get(&format!(
                "/api/v1/merchants/{m}/events?type=order.created&limit=1000&after={after}"
            ))
            .await
            .unwrap();
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            break;
        }
        created += events.len() as i64;
        after = page["next_after"].as_i64().unwrap();
    }
    assert_eq!(
        created,
        ours["orders"].as_i64().unwrap(),
        "each order was created exactly once"
    );

    // No token or secret in the logs or the database files.
    proc.child.start_kill().unwrap();
    proc.child.wait().await.unwrap();
    let store = tillbridge_store::Store::connect(&db.url).await.unwrap();
    let mut conn_db = store.conn().await.unwrap();
    let row = tillbridge_store::connections::get_connection(&mut conn_db, &m, &c)
        .await
        .unwrap()
        .unwrap();
    drop(conn_db);
    let vault = tillbridge_engine::Vault::from_base64(
        &env.iter()
            .find(|(k, _)| k == "TILLBRIDGE_MASTER_KEY")
            .unwrap()
            .1,
    )
    .unwrap();
    let access = vault
        .open(
            row.access_token_enc.as_deref().unwrap(),
            &format!("connection/{c}/access"),
        )
        .unwrap();
    let refresh = vault
        .open(
            row.refresh_token_enc.as_deref().unwrap(),
            &format!("connection/{c}/refresh"),
        )
        .unwrap();
    store.close().await;
    let logs = std::fs::read_to_string(&proc.log).unwrap();
    assert!(logs.contains("DEBUG"), "debug logging was on");
    for secret in [
        access.expose(),
        refresh.expose(),
        sb.client_secret.as_str(),
        key.as_str(),
    ] {
        assert!(
            !logs.contains(secret),
            "a secret appeared in the server log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_backfill_resumes_without_duplicates_or_gaps_sqlite() {
    crash_and_resume(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_backfill_resumes_without_duplicates_or_gaps_postgres() {
    crash_and_resume(Backend::Postgres).await;
}

/// `kill -9` between "submitted" and the POS's webhook: after the restart the order is
/// accepted, paid and completed from the POS's word, and the POS holds one order.
async fn killed_between_submitted_and_webhook(backend: Backend) {
    let Some(db) = Db::create(backend).await else {
        return;
    };
    let sb = start_sandbox(1.0).await;
    let sm = sb.merchant(1, 3).await;
    let sid = sm["id"].as_str().unwrap().to_owned();
    let env = hub_env(&sb, &db, 400);
    let log = db.dir().join("server.log");
    let port = free_port();
    let (mut proc, api, _, m) = hub_with_merchant(&env, &log, port).await;
    let (_, locations) = connect_and_map(&api, &sm, &m).await;
    let loc = &locations[0];
    let detail = sb
        .api
        .get(&format!("/_sandbox/merchants/{sid}"))
        .await
        .unwrap();
    let item = detail["menu"][0].clone();
    let price = (item["price"].as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64;
    let order = json!({
        "channel_order_id": "crash-1", "location_id": loc, "type": "takeaway",
        "customer": {"first_name": "Ada"},
        "items": [{"sku": item["sku"], "quantity": 1}],
        "payment": {"amount_minor": price},
    });
    // The POS's webhooks take 2 s to come: the kill lands before they do.
    sb.fault(json!({ "kind": "delay_webhooks", "latency_ms": 2000, "merchant": sid }))
        .await;
    let url = format!("/api/v1/merchants/{m}/online-orders");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // The menu arrives with the catalog stream; until then ordering cannot be enabled.
        let (status, body) = api
            .send(
                reqwest::Method::PUT,
                &format!("/api/v1/merchants/{m}/ordering/settings"),
                Some(&json!({ "enabled": true })),
            )
            .await
            .unwrap();
        if status.is_success() {
            break;
        }
        assert_eq!(status, reqwest::StatusCode::CONFLICT, "{body}");
        assert!(
            Instant::now() < deadline,
            "ordering never became ready: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let id = api.post(&url, &order).await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let o = api.get(&format!("{url}/{id}")).await.unwrap();
        if o["status"] == "submitted" {
            break;
        }
        assert_eq!(o["status"], "received", "{o}");
        assert!(Instant::now() < deadline, "never submitted: {o}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proc.child.start_kill().unwrap();
    proc.child.wait().await.unwrap();
    proc = serve(&env, &log, port).await;

    let wait_for = |status: &'static str, payment: &'static str| {
        let (api, url, id) = (&api, &url, &id);
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let o = api.get(&format!("{url}/{id}")).await.unwrap();
                if o["status"] == status && o["payment_status"] == payment {
                    return o;
                }
                assert!(Instant::now() < deadline, "never {status}/{payment}: {o}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    wait_for("accepted", "applied").await;
    sb.api
        .post(
            &format!("/_sandbox/merchants/{sid}/online-orders/{id}"),
            &json!({ "action": "close" }),
        )
        .await
        .unwrap();
    wait_for("completed", "applied").await;
    let pos = sb
        .api
        .get(&format!("/_sandbox/merchants/{sid}/online-orders"))
        .await
        .unwrap();
    assert_eq!(pos["online_orders"].as_array().unwrap().len(), 1, "{pos}");
    let events = api
        .get(&format!(
            "/api/v1/merchants/{m}/events?type=ordering.order_status&limit=1000"
        ))
        .await
        .unwrap();
    let steps: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["subject"] == id.as_str())
        .map(|e| e["payload"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["received", "submitted", "accepted", "ready", "completed"],
        "each step once, in order"
    );
    proc.child.start_kill().unwrap();
    proc.child.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_order_killed_between_submitted_and_webhook_sqlite() {
    killed_between_submitted_and_webhook(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_order_killed_between_submitted_and_webhook_postgres() {
    killed_between_submitted_and_webhook(Backend::Postgres).await;
}
