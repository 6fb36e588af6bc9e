use base64::Engine as _;
use serde_json::{json, Value};
use tillbridge::client::{consent, ApiClient};
use tillbridge::config::Config;
use tillbridge::hub::{self, Hub, Roles};
use tillbridge_engine::Clock;
use tillbridge_sandbox::{Sandbox, SandboxConfig};
use tokio::net::TcpListener;

pub use tillbridge_store::testing::TestBackend as Backend;
pub use tillbridge_store::testing::TestDatabase as Db;

pub struct Sb {
    pub url: String,
    pub api: ApiClient,
    pub client_id: String,
    pub client_secret: String,
    pub x_client_id: String,
    pub x_client_secret: String,
    pub r_client_id: String,
    pub r_client_secret: String,
    pub o_client_id: String,
    pub o_client_secret: String,
    pub time_scale: f64,
}

pub async fn start_sandbox(time_scale: f64) -> Sb {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(
        Sandbox::new(SandboxConfig {
            seed: 7,
            time_scale,
            ..SandboxConfig::default()
        })
        .serve(listener),
    );
    let api = ApiClient::new(&url, None);
    let clients = api.get("/_sandbox/clients").await.expect("clients");
    let find = |series: &str| {
        clients["clients"]
            .as_array()
            .expect("list")
            .iter()
            .find(|c| c["series"] == series)
            .expect("client")
            .clone()
    };
    let (k, x, r, o) = (find("k"), find("x"), find("r"), find("o"));
    Sb {
        url,
        api,
        client_id: k["client_id"].as_str().expect("id").into(),
        client_secret: k["client_secret"].as_str().expect("secret").into(),
        x_client_id: x["client_id"].as_str().expect("id").into(),
        x_client_secret: x["client_secret"].as_str().expect("secret").into(),
        r_client_id: r["client_id"].as_str().expect("id").into(),
        r_client_secret: r["client_secret"].as_str().expect("secret").into(),
        o_client_id: o["client_id"].as_str().expect("id").into(),
        o_client_secret: o["client_secret"].as_str().expect("secret").into(),
        time_scale,
    }
}

impl Sb {
    pub async fn merchant(&self, history_days: u32, sales_per_day: u32) -> Value {
        self.api
            .post(
                "/_sandbox/merchants",
                &json!({ "series": "k", "locations": 2, "registers_per_location": 2, "customers": 40,
                         "history_days": history_days, "sales_per_day": sales_per_day, "timezone": "Europe/Copenhagen" }),
            )
            .await
            .expect("sandbox merchant")
    }

    pub async fn merchant_x(&self, history_days: u32, sales_per_day: u32) -> Value {
        self.api
            .post(
                "/_sandbox/merchants",
                &json!({ "series": "x", "preset": "shop", "locations": 2, "registers_per_location": 1, "customers": 40,
                         "history_days": history_days, "sales_per_day": sales_per_day, "timezone": "America/New_York" }),
            )
            .await
            .expect("sandbox merchant")
    }

    pub async fn merchant_r(&self, history_days: u32, sales_per_day: u32) -> Value {
        self.api
            .post(
                "/_sandbox/merchants",
                &json!({ "series": "r", "preset": "shop", "locations": 2, "registers_per_location": 1, "customers": 40,
                         "history_days": history_days, "sales_per_day": sales_per_day, "timezone": "America/Chicago" }),
            )
            .await
            .expect("sandbox merchant")
    }

    pub async fn merchant_o(&self, history_days: u32, sales_per_day: u32) -> Value {
        self.api
            .post(
                "/_sandbox/merchants",
                &json!({ "series": "o", "preset": "cafe", "locations": 2, "registers_per_location": 2, "customers": 40,
                         "history_days": history_days, "sales_per_day": sales_per_day, "timezone": "America/New_York" }),
            )
            .await
            .expect("sandbox merchant")
    }

    pub async fn stats(&self) -> Value {
        self.api.get("/_sandbox/stats").await.expect("stats")
    }

    pub async fn fault(&self, body: Value) {
        self.api
            .post("/_sandbox/faults", &body)
            .await
            .expect("fault");
    }

    pub async fn truth(&self, merchant: &Value) -> Value {
        self.api
            .get(&format!(
                "/_sandbox/merchants/{}/truth",
                merchant["id"].as_str().expect("id")
            ))
            .await
            .expect("truth")
    }
}

/// The environment a hub process or in-process hub gets in tests.
pub fn hub_env(sb: &Sb, db: &Db, backfill_days: u32) -> Vec<(String, String)> {
    vec![
        ("TILLBRIDGE_DATABASE_URL".into(), db.url.clone()),
        (
            "TILLBRIDGE_KSERIES_BASE_URL".into(),
            format!("{}/kseries", sb.url),
        ),
        ("TILLBRIDGE_KSERIES_CLIENT_ID".into(), sb.client_id.clone()),
        (
            "TILLBRIDGE_KSERIES_CLIENT_SECRET".into(),
            sb.client_secret.clone(),
        ),
        ("TILLBRIDGE_BACKFILL_DAYS".into(), backfill_days.to_string()),
        // Alert mails go to the test's outbox directory.
        (
            "TILLBRIDGE_ALERT_RECIPIENTS".into(),
            "staff@cafe.example".into(),
        ),
        (
            "TILLBRIDGE_MAIL_OUTBOX_DIR".into(),
            db.dir().join("outbox").display().to_string(),
        ),
        // Online-order retries and status checks at test speed (10 s and 60 s in production).
        ("TILLBRIDGE_ORDER_RETRY_BASE_MS".into(), "100".into()),
        (
            "TILLBRIDGE_ORDER_RECONCILE_INTERVAL_MS".into(),
            "400".into(),
        ),
        (
            "TILLBRIDGE_XSERIES_AUTHORIZE_URL".into(),
            format!("{}/xseries/connect", sb.url),
        ),
        (
            "TILLBRIDGE_XSERIES_STORE_BASE".into(),
            format!("{}/xseries/{{domain_prefix}}", sb.url),
        ),
        (
            "TILLBRIDGE_XSERIES_CLIENT_ID".into(),
            sb.x_client_id.clone(),
        ),
        (
            "TILLBRIDGE_XSERIES_CLIENT_SECRET".into(),
            sb.x_client_secret.clone(),
        ),
        (
            "TILLBRIDGE_XSERIES_RATE_WINDOW_SECS".into(),
            (300.0 / sb.time_scale).to_string(),
        ),
        (
            "TILLBRIDGE_RSERIES_AUTHORIZE_URL".into(),
            format!("{}/rseries/auth/oauth/authorize", sb.url),
        ),
        (
            "TILLBRIDGE_RSERIES_TOKEN_URL".into(),
            format!("{}/rseries/auth/oauth/token", sb.url),
        ),
        (
            "TILLBRIDGE_RSERIES_API_BASE".into(),
            format!("{}/rseries/API/V3", sb.url),
        ),
        (
            "TILLBRIDGE_RSERIES_CLIENT_ID".into(),
            sb.r_client_id.clone(),
        ),
        (
            "TILLBRIDGE_RSERIES_CLIENT_SECRET".into(),
            sb.r_client_secret.clone(),
        ),
        (
            "TILLBRIDGE_OSERIES_BASE_URL".into(),
            format!("{}/oseries", sb.url),
        ),
        (
            "TILLBRIDGE_OSERIES_CLIENT_ID".into(),
            sb.o_client_id.clone(),
        ),
        (
            "TILLBRIDGE_OSERIES_CLIENT_SECRET".into(),
            sb.o_client_secret.clone(),
        ),
        (
            "TILLBRIDGE_MASTER_KEY".into(),
            base64::engine::general_purpose::STANDARD.encode([42u8; 32]),
        ),
    ]
}

pub struct World {
    pub sb: Sb,
    pub db: Db,
    pub hub: Hub,
    pub api: ApiClient,
    pub clock: Clock,
}

impl World {
    /// Sandbox + hub without worker tasks: tests drive jobs with `run_until_idle`.
    pub async fn start(backend: Backend) -> Option<World> {
        let db = Db::create(backend).await?;
        let sb = start_sandbox(1.0).await;
        Some(World::with(sb, db).await)
    }

    pub async fn with(sb: Sb, db: Db) -> World {
        let env = hub_env(&sb, &db, 400);
        let mut config = Config::load_with(None, |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
        .expect("config");
        config.server.workers = 0;
        let clock = Clock::system();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let hub = hub::start(&config, listener, Roles::All, clock.clone())
            .await
            .expect("hub");
        let key = hub
            .engine
            .create_api_key("test admin", None)
            .await
            .expect("key");
        let api = ApiClient::new(hub.url.as_str(), Some(&key.secret));
        World {
            sb,
            db,
            hub,
            api,
            clock,
        }
    }

    /// The value of the `/metrics` sample whose name and labels are exactly `series`.
    pub async fn metric(&self, series: &str) -> Option<i64> {
        let text = reqwest::get(format!("{}metrics", self.hub.url))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .map(|v| v.parse().expect("an integer sample"))
    }

    pub async fn merchant(&self) -> String {
        let m = self
            .api
            .post(
                "/api/v1/merchants",
                &json!({ "name": "Test Café", "timezone": "Europe/Copenhagen", "currency": "DKK" }),
            )
            .await
            .expect("merchant");
        m["id"].as_str().expect("id").to_owned()
    }

    /// Connects `sandbox_merchant` through the consent page and maps every POS location.
    pub async fn connect(&self, merchant_id: &str, sandbox_merchant: &Value) -> String {
        let conn = self.connect_unmapped(merchant_id, sandbox_merchant).await;
        self.map_all(merchant_id, &conn).await;
        conn["id"].as_str().expect("id").to_owned()
    }

    /// Connects `sandbox_merchant` through the consent page; returns the connection's view.
    pub async fn connect_unmapped(&self, merchant_id: &str, sandbox_merchant: &Value) -> Value {
        let start = self
            .api
            .post(
                &format!("/api/v1/merchants/{merchant_id}/connections"),
                &json!({ "series": sandbox_merchant["series"] }),
            )
            .await
            .expect("start");
        let login = &sandbox_merchant["login"];
        let (status, page) = consent(
            start["authorize_url"].as_str().expect("url"),
            login["username"].as_str().expect("u"),
            login["password"].as_str().expect("p"),
            "allow",
        )
        .await
        .expect("consent");
        assert!(
            status.is_success() && page.contains("Connected"),
            "{status}: {page}"
        );
        let conns = self
            .api
            .get(&format!("/api/v1/merchants/{merchant_id}/connections"))
            .await
            .expect("list");
        let series = &sandbox_merchant["series"];
        conns["connections"]
            .as_array()
            .expect("list")
            .iter()
            .rev()
            .find(|c| &c["series"] == series)
            .expect("the new connection")
            .clone()
    }

    /// Creates a location for every POS location of `conn` (a connection view) and maps it.
    pub async fn map_all(&self, merchant_id: &str, conn: &Value) {
        for pos in conn["pos_locations"].as_array().expect("pos") {
            self.map_one(merchant_id, conn, pos).await;
        }
    }

    /// Creates a location for POS location `pos` of `conn` (a connection view) and maps it.
    pub async fn map_one(&self, merchant_id: &str, conn: &Value, pos: &Value) {
        let connection_id = conn["id"].as_str().expect("id");
        let loc = self
            .api
            .post(&format!("/api/v1/merchants/{merchant_id}/locations"), &json!({ "name": pos["name"], "timezone": pos["timezone"], "business_day_start": "05:00" }))
            .await
            .expect("location");
        self.api
            .put(
                &format!(
                    "/api/v1/merchants/{merchant_id}/locations/{}/mapping",
                    loc["id"].as_str().expect("id")
                ),
                &json!({ "connection_id": connection_id, "pos_location_id": pos["id"] }),
            )
            .await
            .expect("map");
    }

    /// Runs due jobs until none is left; returns the failures.
    pub async fn drain(&self) -> Vec<String> {
        let reports = self.hub.engine.run_until_idle().await.expect("run jobs");
        reports.into_iter().filter_map(|r| r.result.err()).collect()
    }

    pub async fn summary(&self, merchant_id: &str) -> Value {
        self.api
            .get(&format!("/api/v1/merchants/{merchant_id}/sales-summary"))
            .await
            .expect("summary")
    }

    /// The summary of one connection's orders.
    pub async fn connection_summary(&self, merchant_id: &str, connection_id: &str) -> Value {
        self.api
            .get(&format!(
                "/api/v1/merchants/{merchant_id}/sales-summary?connection_id={connection_id}"
            ))
            .await
            .expect("summary")
    }

    pub async fn stop(self) {
        self.hub.stop().await.expect("stop");
    }
}

/// Asserts the hub's summary equals the sandbox truth on every dimension.
pub fn assert_matches_truth(ours: &Value, truth: &Value) {
    if let Err(e) = tillbridge::truth::compare(ours, truth) {
        panic!("{e}");
    }
    assert!(
        ours["orders"].as_i64().expect("orders") > 0,
        "nothing was synced"
    );
}

/// Runs an async test body on SQLite, and on PostgreSQL when it is configured.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let body = $body;
                body($crate::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let body = $body;
                body($crate::common::Backend::Postgres).await
            }
        }
    };
}

/// Creates sales (or a refund or void) on a sandbox merchant now, as the POS would.
pub async fn sell(w: &World, sm: &Value, body: Value) -> Value {
    let sid = sm["id"].as_str().expect("sandbox merchant id");
    w.sb.api
        .post(&format!("/_sandbox/merchants/{sid}/sales"), &body)
        .await
        .expect("sales")
}

/// Webhook deliveries the hub recorded for a connection.
/// Every item of connection `c`'s catalog, through the API.
pub async fn catalog(w: &World, m: &str, c: &str) -> Vec<Value> {
    let body = w
        .api
        .get(&format!("/api/v1/merchants/{m}/catalog?connection_id={c}"))
        .await
        .expect("catalog");
    body["items"].as_array().expect("items").clone()
}

pub async fn deliveries(w: &World, m: &str, c: &str) -> i64 {
    let mut db = w.hub.engine.store().conn().await.expect("conn");
    tillbridge_store::catalog::count_deliveries(&mut db, m, c)
        .await
        .expect("count")
}

pub async fn wait_for_deliveries(w: &World, m: &str, c: &str, at_least: i64) {
    for _ in 0..100 {
        if deliveries(w, m, c).await >= at_least {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "expected {at_least} webhook deliveries, got {}",
        deliveries(w, m, c).await
    );
}

/// Live sales with webhooks on, duplicated, out of order and dropped. Each delivery is a hint
/// that makes the connection due before its next poll; after each round the connection equals
/// the sandbox truth, a duplicate is recorded once, and dropped deliveries are caught up by
/// polling on its schedule.
pub async fn live_webhooks_match_truth(w: &World, sm: &Value, m: &str, c: &str) {
    let sid = sm["id"].as_str().expect("id").to_owned();
    assert!(w.drain().await.is_empty());
    assert_matches_truth(&w.connection_summary(m, c).await, &w.sb.truth(sm).await);

    // On: two sales and a void of one of them.
    let before = deliveries(w, m, c).await;
    let new = sell(
        w,
        sm,
        json!({ "count": 2, "customer_email": "Live@Example.com" }),
    )
    .await;
    sell(
        w,
        sm,
        json!({ "kind": "void", "of": new["sales"][0]["id"] }),
    )
    .await;
    wait_for_deliveries(w, m, c, before + 3).await;
    assert!(w.drain().await.is_empty());
    assert_matches_truth(&w.connection_summary(m, c).await, &w.sb.truth(sm).await);

    // Duplicated: the second copy is acknowledged and not recorded again.
    w.sb.fault(json!({ "kind": "duplicate_webhooks", "count": 1, "merchant": sid }))
        .await;
    let before = deliveries(w, m, c).await;
    let sent = w.sb.stats().await["webhooks_sent"].as_i64().expect("sent");
    sell(w, sm, json!({ "count": 1 })).await;
    wait_for_deliveries(w, m, c, before + 1).await;
    for _ in 0..100 {
        if w.sb.stats().await["webhooks_sent"].as_i64().expect("sent") >= sent + 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        w.sb.stats().await["webhooks_sent"].as_i64().expect("sent"),
        sent + 2,
        "both copies were acknowledged"
    );
    assert_eq!(deliveries(w, m, c).await, before + 1, "recorded once");
    assert!(w.drain().await.is_empty());
    assert_matches_truth(&w.connection_summary(m, c).await, &w.sb.truth(sm).await);

    // Out of order: a batch arrives newest first.
    w.sb.fault(json!({ "kind": "reorder_webhooks", "count": 1, "merchant": sid }))
        .await;
    let before = deliveries(w, m, c).await;
    sell(
        w,
        sm,
        json!({ "count": 3, "customer_email": "Live@Example.com" }),
    )
    .await;
    wait_for_deliveries(w, m, c, before + 3).await;
    assert!(w.drain().await.is_empty());
    assert_matches_truth(&w.connection_summary(m, c).await, &w.sb.truth(sm).await);

    // Off: nothing tells the hub, so it catches up at its next poll.
    w.sb.fault(json!({ "kind": "drop_webhooks", "count": 1, "merchant": sid }))
        .await;
    sell(w, sm, json!({ "count": 2 })).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(w.drain().await.is_empty());
    assert_ne!(
        w.connection_summary(m, c).await["orders"],
        w.sb.truth(sm).await["orders"],
        "nothing told the hub yet"
    );
    w.clock.advance(chrono::Duration::seconds(61));
    assert!(w.drain().await.is_empty());
    assert_matches_truth(&w.connection_summary(m, c).await, &w.sb.truth(sm).await);
}

/// Test Connection answers with the connection connected and its check recorded.
pub async fn assert_test_connection_ok(w: &World, m: &str, c: &str) {
    let conn = w
        .api
        .post(
            &format!("/api/v1/merchants/{m}/connections/{c}/test"),
            &json!({}),
        )
        .await
        .expect("test");
    assert_eq!(conn["status"], "connected", "{conn}");
    assert!(conn["last_error"].is_null(), "{conn}");
    assert!(!conn["last_checked_at"].is_null(), "{conn}");
}

/// Disconnects a connection with the typed confirmation; returns the connection's view.
pub async fn disconnect(w: &World, m: &str, c: &str) -> Value {
    w.api
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/merchants/{m}/connections/{c}"),
            Some(&json!({ "confirm": "Lightspeed" })),
        )
        .await
        .unwrap()
}

/// Asks for a sync of connection `c` now (not waiting for webhooks or the poll interval).
pub async fn request_sync(w: &World, m: &str, c: &str) {
    w.api
        .post(
            &format!("/api/v1/merchants/{m}/connections/{c}/sync"),
            &json!({}),
        )
        .await
        .unwrap();
}

/// Syncs the connections now and runs every due job, which must all succeed.
pub async fn sync(w: &World, m: &str, connections: &[&str]) {
    for c in connections {
        request_sync(w, m, c).await;
    }
    assert!(w.drain().await.is_empty());
}
