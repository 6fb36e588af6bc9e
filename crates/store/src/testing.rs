//! A database of its own for one test: a SQLite file in a fresh temporary directory, or a fresh
//! PostgreSQL database created through the admin URL in `TILLBRIDGE_TEST_POSTGRES_URL`. Both
//! are removed when the value is dropped, also when the test panics.

use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable naming the PostgreSQL admin URL for tests.
pub const POSTGRES_ENV: &str = "TILLBRIDGE_TEST_POSTGRES_URL";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

pub struct TestDatabase {
    pub url: String,
    dir: PathBuf,
    postgres: Option<(String, String)>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

impl TestDatabase {
    /// A fresh database, or `None` (with a note on stderr saying the test was skipped) when
    /// PostgreSQL is asked for and `TILLBRIDGE_TEST_POSTGRES_URL` is not set.
    pub async fn create(backend: TestBackend) -> Option<TestDatabase> {
        let id = unique();
        let dir = std::env::temp_dir().join(format!("tillbridge-test-{id}"));
        std::fs::create_dir_all(&dir).ok()?;
        match backend {
            TestBackend::Sqlite => Some(TestDatabase {
                url: format!("sqlite://{}", dir.join("hub.db").display()),
                dir,
                postgres: None,
            }),
            TestBackend::Postgres => {
                let Ok(admin) = std::env::var(POSTGRES_ENV) else {
                    eprintln!(
                        "skipped: {POSTGRES_ENV} is not set, so this PostgreSQL test did not run"
                    );
                    let _ = std::fs::remove_dir_all(&dir);
                    return None;
                };
                let name = format!("tb_test_{id}");
                let mut c = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("cannot connect to {POSTGRES_ENV}: {e}"));
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("cannot create a test database: {e}"));
                let mut url = url::Url::parse(&admin)
                    .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is not a URL: {e}"));
                url.set_path(&format!("/{name}"));
                Some(TestDatabase {
                    url: url.to_string(),
                    dir,
                    postgres: Some((admin, name)),
                })
            }
        }
    }

    /// A directory that lives as long as the database (logs, key files).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        // Drop cannot await: drop the database from a short-lived runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut c)
                        .await;
                }
            });
        })
        .join();
    }
}
