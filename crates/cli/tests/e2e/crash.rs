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

/// Random pauses before kills, so that a kill lands anywhere in the work that follows a
/// progress report rather than always just after one. Each test prints its seed;
/// `TILLBRIDGE_CRASH_SEED` replays it.
struct KillPauses(rand::rngs::StdRng);

impl KillPauses {
    fn new(test: &str) -> KillPauses {
        use rand::SeedableRng;
        let seed = std::env::var("TILLBRIDGE_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(rand::random::<u64>);
        eprintln!(
            "{test}: kill pauses from seed {seed} (TILLBRIDGE_CRASH_SEED={seed} replays them)"
        );
        KillPauses(rand::rngs::StdRng::seed_from_u64(seed))
    }

    /// Sleeps for up to `max_ms`.
    async fn pause(&mut self, max_ms: u64) {
        use rand::Rng;
        let ms = self.0.gen_range(0..=max_ms);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
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
    wait_ready(port, log).await;
    Proc {
        child,
        log: log.to_path_buf(),
    }
}

/// Waits until the server on `port` answers `/readyz`.
async fn wait_ready(port: u16, log: &std::path::Path) {
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
}

/// Makes an API key with the CLI and starts `serve --no-workers` (the API alone) on `port`.
async fn api_only(
    env: &[(String, String)],
    dir: &std::path::Path,
    port: u16,
) -> (Child, ApiClient) {
    let key = run_cli(
        env,
        &["api-keys", "create", "--name", "api"],
        &dir.join("cli.log"),
    )
    .await
    .trim()
    .to_owned();
    let mut api_env = env.to_vec();
    api_env.push(("TILLBRIDGE_LISTEN".into(), format!("127.0.0.1:{port}")));
    let log = dir.join("api.log");
    let child = command(&api_env, &["serve", "--no-workers"], &log)
        .spawn()
        .unwrap();
    wait_ready(port, &log).await;
    (
        child,
        ApiClient::new(&format!("http://127.0.0.1:{port}"), Some(&key)),
    )
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
    let key = run_cli(env, &["api-keys", "create", "--name", "crash-test"], log)
        .await
        .trim()
        .to_owned();
    let proc = serve(env, log, port).await;
    let api = ApiClient::new(&format!("http://127.0.0.1:{port}"), Some(&key));
    let m = new_merchant(&api, "Crash Café").await;
    (proc, api, key, m)
}

/// Creates a merchant in Copenhagen time and Danish kroner; returns its id.
async fn new_merchant(api: &ApiClient, name: &str) -> String {
    api.post(
        "/api/v1/merchants",
        &json!({ "name": name, "timezone": "Europe/Copenhagen", "currency": "DKK" }),
    )
    .await
    .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
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

/// Waits until every stream of the merchant's connection is incremental, then checks the
/// orders against the sandbox truth and that each order was created exactly once.
async fn backfill_matches_truth_once(api: &ApiClient, m: &str, sb: &Sb, sm: &Value) {
    // After a kill -9 the job first waits out the dead process's 60 s lease; CI runs other
    // process-heavy tests beside this one on two cores.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let conn = connection(api, m).await;
        if conn["streams"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["phase"] == "incremental")
        {
            break;
        }
        assert!(Instant::now() < deadline, "backfill did not finish: {conn}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ours = api
        .get(&format!("/api/v1/merchants/{m}/sales-summary"))
        .await
        .unwrap();
    assert_matches_truth(&ours, &sb.truth(sm).await);
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

    // Kill -9 a few times while the backfill is in progress, each a random while after it
    // was seen to move on (a page takes about 150 ms to come).
    let mut pauses = KillPauses::new(&format!("killed_mid_backfill ({backend:?})"));
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
            pauses.pause(300).await;
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
    backfill_matches_truth_once(&api, &m, &sb, &sm).await;

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
    // Anywhere in the 2 s before the POS's webhooks come.
    KillPauses::new(&format!("online_order_killed ({backend:?})"))
        .pause(1500)
        .await;
    proc.child.start_kill().unwrap();
    proc.child.wait().await.unwrap();
    proc = serve(&env, &log, port).await;

    let wait_for = |status: &'static str, payment: &'static str| {
        let (api, url, id) = (&api, &url, &id);
        async move {
            // A job the killed process held waits for its 60 s lease to expire first.
            let deadline = Instant::now() + Duration::from_secs(150);
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

/// The output of a CLI command run to completion.
async fn run_cli(env: &[(String, String)], args: &[&str], log: &std::path::Path) -> String {
    let out = command(env, args, log)
        .stdout(Stdio::piped())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `column → resealed` from the table `keys rotate` prints.
fn resealed(table: &str) -> std::collections::BTreeMap<String, u64> {
    table
        .lines()
        .skip(1)
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols[0].to_owned(), cols[1].parse().unwrap())
        })
        .collect()
}

/// Sends SIGTERM, as a process manager does to stop a server.
async fn terminate(child: &tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    let term = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(term.success());
}

/// Stops a server the way an operator restarts one: SIGTERM, then wait for it to exit. Jobs it
/// held are handed back, so the next process need not wait out their leases.
async fn shut_down(mut proc: Proc) {
    terminate(&proc.child).await;
    let exit = tokio::time::timeout(Duration::from_secs(60), proc.child.wait())
        .await
        .expect("the server stopped within a minute of SIGTERM")
        .unwrap();
    assert!(exit.success(), "a clean exit: {exit}");
}

/// Rotates the master key while the server runs: connection tokens, the K webhook secret and
/// the app's webhook secret are sealed again under the new key, and after a restart with only
/// the new key the connection and the outbound signatures still work, and the POS's webhook
/// credentials open.
async fn rotate_master_key(backend: Backend) {
    let Some(db) = Db::create(backend).await else {
        return;
    };
    let sb = start_sandbox(1.0).await;
    let sm = sb.merchant(2, 5).await;
    let env = hub_env(&sb, &db, 30);
    let log = db.dir().join("server.log");
    let port = free_port();
    let (proc, api, _key, m) = hub_with_merchant(&env, &log, port).await;
    let (c, _) = connect_and_map(&api, &sm, &m).await;
    let (url, inbox) = crate::webhooks_out::receiver().await;
    let endpoint = api
        .post(
            "/api/v1/webhook-endpoints",
            &json!({ "url": url, "merchant_id": m, "event_types": ["loyalty.member_created"] }),
        )
        .await
        .unwrap();
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    shut_down(proc).await;

    // Every process learns the new key (current) and keeps the old one; then the rotation
    // runs beside the serving process.
    let old_key = env
        .iter()
        .find(|(k, _)| k == "TILLBRIDGE_MASTER_KEY")
        .unwrap()
        .1
        .clone();
    let new_key = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode([43u8; 32])
    };
    let with_key = |key: &str, previous: Option<&str>| {
        let mut e: Vec<(String, String)> = env
            .iter()
            .filter(|(k, _)| k != "TILLBRIDGE_MASTER_KEY")
            .cloned()
            .collect();
        e.push(("TILLBRIDGE_MASTER_KEY".into(), key.to_owned()));
        if let Some(p) = previous {
            e.push(("TILLBRIDGE_MASTER_KEY_PREVIOUS".into(), p.to_owned()));
        }
        e
    };
    let both = with_key(&new_key, Some(&old_key));
    let proc = serve(&both, &log, port).await;
    let first = resealed(&run_cli(&both, &["keys", "rotate"], &log).await);
    for column in [
        "connections.access_token_enc",
        "connections.refresh_token_enc",
        "connections.webhook_secret_enc",
        "outbound_endpoints.secret_enc",
    ] {
        assert!(first[column] >= 1, "{column} was not re-sealed: {first:?}");
    }
    let again = resealed(&run_cli(&both, &["keys", "rotate"], &log).await);
    assert!(
        again.values().all(|n| *n == 0),
        "a second run has nothing to do: {again:?}"
    );
    shut_down(proc).await;

    // Only the new key from now on: everything stored opens with it.
    let only_new = with_key(&new_key, None);
    let store = tillbridge_store::Store::connect(&db.url).await.unwrap();
    let vault = tillbridge_engine::Vault::from_base64(&new_key).unwrap();
    let mut conn = store.conn().await.unwrap();
    for col in tillbridge_store::sealed::SEALED {
        for v in tillbridge_store::sealed::values(&mut conn, col)
            .await
            .unwrap()
        {
            assert!(
                vault.is_current(&v.sealed),
                "{}.{} of {} is under an old key",
                col.table,
                col.column,
                v.id
            );
            if col.column == "webhook_secret_enc" {
                // The POS's Basic credentials for its webhooks open under the new key.
                let aad = format!("connection/{}/webhook", v.id);
                assert!(vault.open(&v.sealed, &aad).is_ok());
            }
        }
    }
    drop(conn);
    let _proc = serve(&only_new, &log, port).await;
    let tested = api
        .post(
            &format!("/api/v1/merchants/{m}/connections/{c}/test"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(tested["status"], "connected", "{tested}");
    api.post(
        &format!("/api/v1/merchants/{m}/members"),
        &json!({ "email": "after.rotation@example.com" }),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((headers, body)) = inbox.lock().unwrap().received.last() {
            assert!(crate::webhooks_out::signed_by(headers, body, &secret));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no webhook after the rotation; see {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_key_rotation_keeps_everything_working_sqlite() {
    rotate_master_key(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_key_rotation_keeps_everything_working_postgres() {
    rotate_master_key(Backend::Postgres).await;
}

/// `serve --workers-only` gets SIGTERM in the middle of a backfill: it stops after the page in
/// hand, hands the job back (queued, due, no lease) and exits cleanly; a second worker process
/// continues from the saved position, and every order ends up stored exactly once.
async fn sigterm_hands_over(backend: Backend) {
    let Some(db) = Db::create(backend).await else {
        return;
    };
    let sb = start_sandbox(1.0).await;
    let sm = sb.merchant(398, 25).await;
    let env = hub_env(&sb, &db, 400);
    let port = free_port();
    sb.fault(json!({ "kind": "latency", "latency_ms": 150, "merchant": sm["id"] }))
        .await;

    // The API alone, and one worker process.
    let (api_proc, api) = api_only(&env, db.dir(), port).await;
    let first_log = db.dir().join("worker-1.log");
    let mut first = command(&env, &["serve", "--workers-only"], &first_log)
        .spawn()
        .unwrap();
    let m = new_merchant(&api, "Handover Café").await;
    let (c, _) = connect_and_map(&api, &sm, &m).await;

    // SIGTERM once the backfill is under way.
    let total = sb.truth(&sm).await["orders"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let synced = connection(&api, &m).await["orders_synced"]
            .as_i64()
            .unwrap();
        assert!(
            synced < total,
            "the backfill finished before it could be interrupted"
        );
        if synced > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the backfill did not start; see {}",
            first_log.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    terminate(&first).await;
    let exit = tokio::time::timeout(Duration::from_secs(30), first.wait())
        .await
        .expect("the worker stopped after its page instead of finishing the backfill")
        .unwrap();
    assert!(exit.success(), "a clean exit: {exit}");
    let log = std::fs::read_to_string(&first_log).unwrap();
    assert!(log.contains("job handed back at shutdown"), "{log}");

    // Handed back: queued, due, without a lease or an error, part-way through.
    let store = tillbridge_store::Store::connect(&db.url).await.unwrap();
    let mut conn_db = store.conn().await.unwrap();
    let orders_job = tillbridge_store::jobs::list_for_connection(&mut conn_db, &m, &c)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.kind == "orders")
        .unwrap();
    drop(conn_db);
    store.close().await;
    assert_eq!(orders_job.state, "queued", "{orders_job:?}");
    assert_eq!(orders_job.lease_owner, None, "{orders_job:?}");
    assert_eq!(orders_job.last_error, None, "{orders_job:?}");
    assert_eq!(orders_job.checkpoint["phase"], "backfill", "{orders_job:?}");
    let synced = connection(&api, &m).await["orders_synced"]
        .as_i64()
        .unwrap();
    assert!(0 < synced && synced < total, "{synced} of {total}");

    // Another worker process continues from there.
    sb.api
        .call(reqwest::Method::DELETE, "/_sandbox/faults", None)
        .await
        .unwrap();
    let second = command(
        &env,
        &["serve", "--workers-only"],
        &db.dir().join("worker-2.log"),
    )
    .spawn()
    .unwrap();
    backfill_matches_truth_once(&api, &m, &sb, &sm).await;
    for mut p in [second, api_proc] {
        p.start_kill().unwrap();
        p.wait().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_backfill_hands_the_job_to_another_worker_sqlite() {
    sigterm_hands_over(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_backfill_hands_the_job_to_another_worker_postgres() {
    sigterm_hands_over(Backend::Postgres).await;
}

/// `kill -9` of the server while a historical labor import of 360 days runs (several times,
/// each followed by a restart): the import finishes, every department day is announced once,
/// and the balances equal what sandbox `/truth` implies.
async fn killed_mid_import(backend: Backend) {
    let Some(db) = Db::create(backend).await else {
        return;
    };
    let sb = start_sandbox(1.0).await;
    let sm = sb.merchant(398, 25).await;
    let env = hub_env(&sb, &db, 400);
    let log = db.dir().join("server.log");
    let port = free_port();
    let (mut proc, api, _key, m) = hub_with_merchant(&env, &log, port).await;
    let (c, _) = connect_and_map(&api, &sm, &m).await;
    backfill_matches_truth_once(&api, &m, &sb, &sm).await;
    api.put(
        &format!("/api/v1/merchants/{m}/labor/settings"),
        &json!({ "enabled": true, "connection_id": c }),
    )
    .await
    .unwrap();
    let mut departments = Vec::new();
    for (i, loc) in sm["locations"].as_array().unwrap().iter().enumerate() {
        let location = loc["id"].as_str().unwrap().to_owned();
        let d = api
            .post(
                &format!("/api/v1/merchants/{m}/labor/departments"),
                &json!({
                    "name": format!("Department {i}"), "timezone": "Europe/Copenhagen",
                    "business_day_start": "05:00", "client_number": location, "terminals": [],
                    "fields": crate::labor::fields(true),
                }),
            )
            .await
            .unwrap();
        departments.push((d["id"].as_str().unwrap().to_owned(), location, None, true));
    }
    let today = (chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Copenhagen)
        .naive_local()
        - chrono::Duration::hours(5))
    .date();
    let until = today - chrono::Duration::days(1);
    let from = until - chrono::Duration::days(359);
    let started = api
        .post(
            &format!("/api/v1/merchants/{m}/labor/imports"),
            &json!({ "from": from.to_string(), "until": until.to_string() }),
        )
        .await
        .unwrap();
    let path = format!(
        "/api/v1/merchants/{m}/labor/imports/{}",
        started["id"].as_str().unwrap()
    );
    let total = 360 * departments.len() as i64;

    // Kill -9 a random while after the import was seen to move on since the last kill, a few
    // times.
    let mut pauses = KillPauses::new(&format!("killed_mid_import ({backend:?})"));
    let mut kills = 0;
    let mut last_seen = 0;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let import = api.get(&path).await.unwrap()["import"].clone();
        assert_eq!(import["days_total"], total, "{import}");
        let done = import["days_done"].as_i64().unwrap();
        if import["state"] == "succeeded" {
            break;
        }
        if kills < 2 && done > last_seen && done < total {
            pauses.pause(300).await;
            proc.child.start_kill().unwrap();
            proc.child.wait().await.unwrap();
            kills += 1;
            last_seen = done;
            proc = serve(&env, &log, port).await;
        }
        assert!(
            Instant::now() < deadline,
            "the import did not finish: {import}; see {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        kills >= 1,
        "the server was never killed mid-import (import too fast?)"
    );
    let import = api.get(&path).await.unwrap()["import"].clone();
    assert_eq!(import["days_done"], total, "{import}");

    let truth = sb.truth(&sm).await;
    let want = crate::labor::expected_between(&truth, &departments, false, from, until);
    assert!(want.len() > 1000, "the days have data: {}", want.len());
    crate::labor::assert_same(
        &crate::labor::ours_between(
            &api,
            &m,
            &departments,
            &from.to_string(),
            &until.to_string(),
        )
        .await,
        &want,
    );
    let mut announced = 0;
    let mut after = 0;
    loop {
        let page = api
            .get(&format!(
                "/api/v1/merchants/{m}/events?type=labor.day_imported&limit=1000&after={after}"
            ))
            .await
            .unwrap();
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            break;
        }
        announced += events.len() as i64;
        after = page["next_after"].as_i64().unwrap();
    }
    assert_eq!(announced, total, "each department day was announced once");
    proc.child.start_kill().unwrap();
    proc.child.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_labor_import_finishes_without_duplicates_sqlite() {
    killed_mid_import(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_labor_import_finishes_without_duplicates_postgres() {
    killed_mid_import(Backend::Postgres).await;
}

/// SIGTERM while a sync waits out a 429 whose `Retry-After` is ten minutes: the job cannot
/// reach its next page, so after the shutdown grace it is dropped and handed back (queued, no
/// lease), and the process exits long before the wait would have ended.
async fn sigterm_mid_wait_hands_back(backend: Backend) {
    let Some(db) = Db::create(backend).await else {
        return;
    };
    let sb = start_sandbox(1.0).await;
    let sm = sb.merchant(2, 5).await;
    let env = hub_env(&sb, &db, 30);
    let log = db.dir().join("server.log");
    let port = free_port();
    let (mut proc, api, _key, m) = hub_with_merchant(&env, &log, port).await;
    let (c, _) = connect_and_map(&api, &sm, &m).await;
    backfill_matches_truth_once(&api, &m, &sb, &sm).await;

    sb.fault(json!({ "kind": "rate_limit_storm", "retry_after": 600, "merchant": sm["id"] }))
        .await;
    api.post(
        &format!("/api/v1/merchants/{m}/connections/{c}/sync"),
        &json!({}),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("throttled by Lightspeed, waiting")
    {
        assert!(
            Instant::now() < deadline,
            "the sync never met the storm; see {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    terminate(&proc.child).await;
    let exit = tokio::time::timeout(Duration::from_secs(60), proc.child.wait())
        .await
        .expect("the server waited out the ten-minute Retry-After instead of stopping")
        .unwrap();
    assert!(exit.success(), "a clean exit: {exit}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("job handed back at shutdown"), "{text}");

    let store = tillbridge_store::Store::connect(&db.url).await.unwrap();
    let mut conn_db = store.conn().await.unwrap();
    let jobs = tillbridge_store::jobs::list_for_connection(&mut conn_db, &m, &c)
        .await
        .unwrap();
    drop(conn_db);
    store.close().await;
    for job in &jobs {
        assert_eq!(job.lease_owner, None, "{job:?}");
        assert_ne!(job.state, "running", "{job:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_long_rate_limit_wait_hands_the_job_back_sqlite() {
    sigterm_mid_wait_hands_back(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_long_rate_limit_wait_hands_the_job_back_postgres() {
    sigterm_mid_wait_hands_back(Backend::Postgres).await;
}

/// Two `serve --workers-only` processes over one PostgreSQL start together on 10,000 due jobs
/// (2,500 merchants × their four event consumers, each merchant with four new events). Each
/// event reaches the app's endpoint exactly once, every consumer handles every event, and
/// both processes did part of the work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_run_10000_jobs_with_each_effect_once_postgres() {
    const MERCHANTS: usize = 2_500;
    const EVENTS: usize = 4;
    let Some(db) = Db::create(Backend::Postgres).await else {
        return;
    };
    let sb = start_sandbox(1.0).await;
    let env = hub_env(&sb, &db, 400);
    let port = free_port();
    let (mut api_proc, api) = api_only(&env, db.dir(), port).await;
    let (url, inbox) = crate::webhooks_out::receiver().await;
    api.post("/api/v1/webhook-endpoints", &json!({ "url": url }))
        .await
        .unwrap();

    let started = Instant::now();
    // The merchants, eight requests at a time; then their events, written as sync writes them.
    let mut merchants = Vec::new();
    for chunk in (0..MERCHANTS).collect::<Vec<_>>().chunks(8) {
        let creators: Vec<_> = chunk
            .iter()
            .map(|i| {
                let api = api.clone();
                let body =
                    json!({ "name": format!("M {i}"), "timezone": "UTC", "currency": "EUR" });
                tokio::spawn(async move { api.post("/api/v1/merchants", &body).await.unwrap() })
            })
            .collect();
        for c in creators {
            merchants.push(c.await.unwrap()["id"].as_str().unwrap().to_owned());
        }
    }
    eprintln!("{MERCHANTS} merchants created in {:?}", started.elapsed());
    let store = tillbridge_store::Store::connect(&db.url).await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for m in &merchants {
        let events: Vec<tillbridge_store::events::NewEvent> = (0..EVENTS)
            .map(|i| {
                let id = format!("evt_{m}_{i}");
                tillbridge_store::events::NewEvent {
                    id,
                    event_type: "order.created".into(),
                    subject: format!("ord_{i}"),
                    payload: json!({ "order_id": format!("ord_{i}") }),
                }
            })
            .collect();
        let mut tx = store.begin().await.unwrap();
        tillbridge_store::events::append_many(&mut tx, m, &events, now)
            .await
            .unwrap();
        tillbridge_store::commit(tx).await.unwrap();
    }
    let mut c = store.conn().await.unwrap();
    // Every event in the log is due to the endpoint: these and what creating a merchant wrote.
    let expected: std::collections::HashSet<String> = sqlx::query_scalar("SELECT id FROM events")
        .fetch_all(&mut *c)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert!(expected.len() >= MERCHANTS * EVENTS);
    let due = tillbridge_store::jobs::count_due(&mut c, i64::MAX / 2)
        .await
        .unwrap();
    drop(c);
    assert_eq!(
        due as usize,
        MERCHANTS * 4,
        "four consumer jobs per merchant"
    );

    eprintln!("events written after {:?}", started.elapsed());
    // Two worker processes, four workers each, started together.
    let mut worker_env = env.clone();
    worker_env.retain(|(k, _)| k != "TILLBRIDGE_WORKERS");
    worker_env.push(("TILLBRIDGE_WORKERS".into(), "4".into()));
    let logs = [db.dir().join("worker-a.log"), db.dir().join("worker-b.log")];
    let workers: Vec<_> = logs
        .iter()
        .map(|log| {
            command(&worker_env, &["serve", "--workers-only"], log)
                .spawn()
                .unwrap()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(600);
    while inbox.lock().unwrap().received.len() < expected.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {} deliveries after 10 minutes",
            inbox.lock().unwrap().received.len(),
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "{} deliveries received after {:?}",
        expected.len(),
        started.elapsed()
    );
    // Every consumer's cursor reaches each merchant's last event.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut c = store.conn().await.unwrap();
        let cursors: Vec<(String, i64)> = sqlx::query_as(
            "SELECT j.checkpoint, m.event_seq FROM jobs j JOIN merchants m ON m.id = j.merchant_id WHERE j.kind = 'consumer'",
        )
        .fetch_all(&mut *c)
        .await
        .unwrap();
        assert_eq!(cursors.len(), MERCHANTS * 4);
        let behind = cursors
            .iter()
            .filter(|(cp, last)| {
                serde_json::from_str::<Value>(cp).unwrap()["after"].as_i64() != Some(*last)
            })
            .count();
        if behind == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{behind} consumer jobs did not handle every event"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Let anything sent twice arrive before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for mut w in workers {
        w.start_kill().unwrap();
        w.wait().await.unwrap();
    }
    api_proc.start_kill().unwrap();
    api_proc.wait().await.unwrap();

    let received: Vec<String> = inbox
        .lock()
        .unwrap()
        .received
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    let distinct: std::collections::HashSet<String> = received.iter().cloned().collect();
    assert_eq!(distinct, expected, "every event was delivered");
    assert_eq!(received.len(), expected.len(), "and none twice");
    let mut c = store.conn().await.unwrap();
    let attempts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbound_attempts")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(
        attempts as usize,
        expected.len(),
        "one attempt per delivery"
    );
    drop(c);
    store.close().await;
    for log in &logs {
        let claimed = std::fs::read_to_string(log)
            .unwrap()
            .matches("job claimed")
            .count();
        assert!(
            claimed > 100,
            "{} claimed only {claimed} jobs",
            log.display()
        );
    }
}
