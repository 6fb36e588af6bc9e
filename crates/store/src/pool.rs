use crate::{Result, StoreError};
use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// How long a SQLite writer waits for its turn: in this process's queue, then on the database
/// lock (`busy_timeout`, for writers in other processes).
const SQLITE_WRITE_WAIT: Duration = Duration::from_secs(30);

/// Pages SQLite's write-ahead log grows to before a commit copies it into the database and
/// syncs it (SQLite's default is 1,000). A loyalty consumer batch or a page of orders writes
/// more than 1,000 pages, so with the default nearly every such commit checkpointed; the log
/// now grows to about 80 MB on disk between checkpoints.
const SQLITE_WAL_CHECKPOINT_PAGES: u32 = 20_000;

/// A write transaction (or, from [`Store::begin_snapshot`], a read-only one); derefs to
/// [`AnyConnection`]. On SQLite a write transaction is opened with `BEGIN IMMEDIATE`, so
/// writers queue on the database lock instead of failing when a read upgrades to a write, and
/// it holds the process's write turn until it ends: the process's other writers wait for it
/// in order, and are handed the turn at once, instead of polling the lock in SQLite's busy
/// handler (which sleeps 1, 2, 5, 10 … ms between tries).
pub struct Tx {
    inner: sqlx::Transaction<'static, Any>,
    /// Released after `inner` is committed, rolled back or dropped (fields drop in order).
    _turn: Option<OwnedMutexGuard<()>>,
}

impl Tx {
    pub async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        self.inner.commit().await
    }

    pub async fn rollback(self) -> std::result::Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}

impl Deref for Tx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.inner
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite: the process's write turn (see [`Tx`]).
    write_turn: Option<Arc<Mutex<()>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Store {
    /// Opens the database named by `url` (`sqlite://path` or `postgres://…`), creating a SQLite
    /// file and its directory when missing, and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        let store = Store::open(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Opens without migrating.
    pub async fn open(url: &str) -> Result<Store> {
        install_default_drivers();
        let invalid = |detail: &str| StoreError::InvalidUrl {
            url: redact(url),
            detail: detail.to_owned(),
        };
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(invalid("no file path: use sqlite://path/to/tillbridge.db"));
            }
            if path != ":memory:" {
                if let Some(dir) = Path::new(path)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        invalid(&format!("cannot create directory {}: {e}", dir.display()))
                    })?;
                }
            }
            let full = format!("sqlite://{path}?mode=rwc");
            let pool = AnyPoolOptions::new()
                .max_connections(if path == ":memory:" { 1 } else { 8 })
                .acquire_timeout(Duration::from_secs(60))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        let pragmas = format!(
                            "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = {}; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = {};",
                            SQLITE_WRITE_WAIT.as_millis(),
                            SQLITE_WAL_CHECKPOINT_PAGES
                        );
                        conn.execute(pragmas.as_str()).await?;
                        Ok(())
                    })
                })
                .connect(&full)
                .await?;
            Ok(Store {
                pool,
                backend: Backend::Sqlite,
                write_turn: Some(Arc::new(Mutex::new(()))),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await?;
            Ok(Store {
                pool,
                backend: Backend::Postgres,
                write_turn: None,
            })
        } else {
            Err(invalid(
                "unsupported scheme: use sqlite://… or postgres://…",
            ))
        }
    }

    pub async fn migrate(&self) -> Result<()> {
        let migrator = crate::migrate::migrator(self.backend == Backend::Postgres).await?;
        migrator.run(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a write transaction.
    pub async fn begin(&self) -> Result<Tx> {
        let turn = match &self.write_turn {
            Some(turn) => Some(
                tokio::time::timeout(SQLITE_WRITE_WAIT, turn.clone().lock_owned())
                    .await
                    .map_err(|_| StoreError::Busy(SQLITE_WRITE_WAIT))?,
            ),
            None => None,
        };
        let inner = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Tx { inner, _turn: turn })
    }

    /// Begins a read-only transaction that sees one snapshot of the database throughout, so
    /// reads of several tables see a write in all of them or in none.
    pub async fn begin_snapshot(&self) -> Result<Tx> {
        let inner = match self.backend {
            // In WAL mode a read transaction keeps the snapshot its first read took.
            Backend::Sqlite => self.pool.begin_with("BEGIN DEFERRED").await?,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        };
        Ok(Tx { inner, _turn: None })
    }

    /// A pooled connection for reads and single-statement writes.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Any>> {
        Ok(self.pool.acquire().await?)
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// `FOR UPDATE SKIP LOCKED` where the backend has it (PostgreSQL); SQLite serialises
    /// writers on its database lock instead.
    pub(crate) fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
