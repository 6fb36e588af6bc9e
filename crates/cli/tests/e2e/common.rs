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
        let conn = conns["connections"]
            .as_array()
            .expect("list")
            .iter()
            .rev()
            .find(|c| &c["series"] == series)
            .expect("the new connection")
            .clone();
        let connection_id = conn["id"].as_str().expect("id").to_owned();
        self.map_all(merchant_id, &conn).await;
        connection_id
    }

    /// Creates a location for every POS location of `conn` (a connection view) and maps it.
    pub async fn map_all(&self, merchant_id: &str, conn: &Value) {
        let connection_id = conn["id"].as_str().expect("id");
        for pos in conn["pos_locations"].as_array().expect("pos") {
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
