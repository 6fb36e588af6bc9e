use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use tillbridge::config::{Config, DEFAULTS};
use tillbridge::hub::{self, Roles};
use tillbridge::{demo, logging};
use tillbridge_engine::Clock;
use tillbridge_sandbox::{Sandbox, SandboxConfig};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(
    name = "tillbridge",
    version,
    about = "A self-hostable Lightspeed POS integration hub"
)]
struct Cli {
    /// Configuration file (TOML); see `tillbridge default-config`.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the hub: API, OAuth callback, workers.
    Serve {
        /// Serve HTTP only; another process runs the workers.
        #[arg(long, conflicts_with = "workers_only")]
        no_workers: bool,
        /// Run workers only, without the HTTP server.
        #[arg(long)]
        workers_only: bool,
    },
    /// Run the Lightspeed simulator alone.
    Sandbox {
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: String,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Divides token lifetimes and rate-limit windows.
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// Answer every request without charging a rate limit (429s then come only from
        /// injected faults).
        #[arg(long)]
        no_rate_limits: bool,
        /// Write a sample of every payload the hub reads from Lightspeed under
        /// DIR/{kseries,xseries,rseries,oseries}/ (the fuzz targets' seed corpus) and exit.
        #[arg(long, value_name = "DIR")]
        write_samples: Option<std::path::PathBuf>,
    },
    /// Start the sandbox and the hub, connect a demo merchant and backfill it.
    Demo {
        #[arg(long, default_value = "tillbridge-data")]
        data_dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 60)]
        history_days: u32,
        /// Exit (0 only if every step succeeded) instead of serving live sales.
        #[arg(long)]
        exit_after_setup: bool,
    },
    /// Measure throughput against baselines taken in the same run; prints a table.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Print the commented default configuration.
    DefaultConfig,
    /// Manage API keys.
    ApiKeys {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Manage who can sign in to the dashboard.
    Users {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage the master key that seals stored secrets.
    Keys {
        #[command(subcommand)]
        action: VaultAction,
    },
}

#[derive(Subcommand)]
enum VaultAction {
    /// Seal every stored secret under the current key. With the key file (no
    /// TILLBRIDGE_MASTER_KEY), a new key is put first in the file and the old ones kept after
    /// it; restart the processes that use the file. With TILLBRIDGE_MASTER_KEY, set the new key
    /// there and the old one in TILLBRIDGE_MASTER_KEY_PREVIOUS on every process first.
    Rotate,
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Order versions applied per second by loyalty (beside the sync's write path), a replay,
    /// and RFM over many members (beside sorting as many values).
    Loyalty {
        #[arg(long, default_value_t = 50_000)]
        sales: usize,
        #[arg(long, default_value_t = 2_000)]
        members: usize,
        #[arg(long, default_value_t = 1_000_000)]
        rfm_members: usize,
        /// Also seed this many members into the database and time the stored RFM run.
        #[arg(long, default_value_t = 0)]
        rfm_db_members: usize,
        /// A database to run on instead of a fresh SQLite file (e.g. a PostgreSQL URL).
        #[arg(long)]
        database_url: Option<String>,
        /// Also write the figures here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Dashboard pages' render time over loopback HTTP with many members and a year of orders
    /// (beside the sign-in page, measured in the same run).
    Dashboard {
        #[arg(long, default_value_t = 100_000)]
        members: usize,
        /// Orders a day over the last year.
        #[arg(long, default_value_t = 300)]
        sales_per_day: u32,
        /// Timed requests per page.
        #[arg(long, default_value_t = 15)]
        requests: usize,
        /// A database to run on instead of a fresh SQLite file (e.g. a PostgreSQL URL).
        #[arg(long)]
        database_url: Option<String>,
        /// Also write the figures here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// A year of weekly balances rebuilt from orders for many departments (beside reading the
    /// same orders), and again when nothing changed.
    Labor {
        #[arg(long, default_value_t = 20)]
        departments: usize,
        #[arg(long, default_value_t = 365)]
        days: u32,
        #[arg(long, default_value_t = 100)]
        sales_per_day: u32,
        /// A database to run on instead of a fresh SQLite file (e.g. a PostgreSQL URL).
        #[arg(long)]
        database_url: Option<String>,
        /// Also write the figures here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// A connection's first backfill per series against the sandbox's rate limits: wall time
    /// beside the limiter's floor, requests and 429s, and beside the same backfill with the
    /// limits off (measured in the same run).
    Backfill {
        /// Series to run, comma-separated.
        #[arg(long, default_value = "k,x,r,o", value_delimiter = ',')]
        series: Vec<String>,
        /// Orders of history per series (default: K and X 60,000, R 12,000, O 20,000).
        #[arg(long)]
        orders: Option<u32>,
        /// Days the history spans.
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Divides the sandbox's rate-limit windows and multiplies its refill rates.
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// A database to run on instead of a fresh SQLite file per run (e.g. a PostgreSQL URL).
        #[arg(long)]
        database_url: Option<String>,
        /// Also write the figures here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Webhook deliveries accepted durably per second and their latency (beside a bare HTTP
    /// handler measured in the same run by the same load generator).
    Ingest {
        /// Timed deliveries per round and target.
        #[arg(long, default_value_t = 5_000)]
        requests: usize,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Rounds, alternating between the bare handler and the hub.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// A database to run on instead of a fresh SQLite file (e.g. a PostgreSQL URL).
        #[arg(long)]
        database_url: Option<String>,
        /// Also write the figures here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Resident memory of `tillbridge serve` in a process of its own: idle, and its peak
    /// through a first backfill from a sandbox process (beside the idle sandbox, read in the
    /// same run).
    Memory {
        /// The series whose history is backfilled: k, x, r or o.
        #[arg(long, default_value = "k")]
        series: String,
        #[arg(long, default_value_t = 1_000_000)]
        orders: u32,
        /// Days the history spans (the sandbox makes at most 5,000 sales a day).
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Seconds each process is left alone before its idle figure is read.
        #[arg(long, default_value_t = 5)]
        idle_secs: u64,
        /// A database to run on instead of a fresh SQLite file (e.g. a PostgreSQL URL).
        #[arg(long)]
        database_url: Option<String>,
        /// Also write the figures here as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Add a dashboard user. The password is read from standard input (one line) with
    /// `--password-stdin`; otherwise one is generated and printed once.
    Add {
        #[arg(long)]
        email: String,
        /// The merchant the user belongs to (default: an administrator of every merchant).
        #[arg(long)]
        merchant: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password (signing them out everywhere), read as with `add`.
    Password {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
    List,
}

#[derive(Subcommand)]
enum KeyAction {
    /// Create a key and print it once.
    Create {
        #[arg(long)]
        name: String,
        /// Scope the key to one merchant (default: the whole installation).
        #[arg(long)]
        merchant: Option<String>,
    },
    List,
    Revoke {
        id: String,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::DefaultConfig => {
            print!("{DEFAULTS}");
            Ok(())
        }
        Command::Sandbox {
            listen,
            seed,
            time_scale,
            no_rate_limits,
            write_samples,
        } => {
            logging::init("text", "info");
            if let Some(dir) = write_samples {
                return write_sandbox_samples(&dir, seed).await;
            }
            if !(time_scale.is_finite() && time_scale > 0.0) {
                anyhow::bail!("--time-scale must be a positive number, got {time_scale}");
            }
            let listener = TcpListener::bind(&listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let addr = listener.local_addr()?;
            println!(
                "Lightspeed sandbox listening on http://{addr} (seed {seed}, time scale {time_scale}{})",
                if no_rate_limits { ", rate limits off" } else { "" }
            );
            println!(
                "  K-Series:  http://{addr}/kseries      control: http://{addr}/_sandbox/clients"
            );
            let sandbox = Sandbox::new(SandboxConfig {
                seed,
                time_scale,
                rate_limits: !no_rate_limits,
            });
            tokio::select! {
                r = sandbox.serve(listener) => r.context("the sandbox stopped"),
                r = hub::shutdown_signal() => r,
            }
        }
        Command::Demo {
            data_dir,
            listen,
            seed,
            history_days,
            exit_after_setup,
        } => {
            logging::init(
                "text",
                &std::env::var("TILLBRIDGE_LOG").unwrap_or_else(|_| "warn,sqlx=error".into()),
            );
            demo::run(demo::DemoOptions {
                data_dir,
                listen,
                seed,
                history_days,
                exit_after_setup,
                database_url: std::env::var("TILLBRIDGE_DATABASE_URL").ok(),
            })
            .await
        }
        Command::Bench {
            what:
                BenchWhat::Loyalty {
                    sales,
                    members,
                    rfm_members,
                    rfm_db_members,
                    database_url,
                    json,
                    seed,
                },
        } => {
            logging::init_quiet();
            if sales == 0 || members == 0 || rfm_members == 0 {
                anyhow::bail!("--sales, --members and --rfm-members must be at least 1");
            }
            tillbridge::bench::loyalty(tillbridge::bench::LoyaltyOptions {
                sales,
                members,
                rfm_members,
                rfm_db_members,
                database_url,
                json,
                seed,
            })
            .await
        }
        Command::Bench {
            what:
                BenchWhat::Dashboard {
                    members,
                    sales_per_day,
                    requests,
                    database_url,
                    json,
                    seed,
                },
        } => {
            logging::init_quiet();
            tillbridge::bench_dashboard::dashboard(tillbridge::bench_dashboard::DashboardOptions {
                members,
                sales_per_day,
                requests,
                database_url,
                json,
                seed,
            })
            .await
        }
        Command::Bench {
            what:
                BenchWhat::Labor {
                    departments,
                    days,
                    sales_per_day,
                    database_url,
                    json,
                    seed,
                },
        } => {
            logging::init_quiet();
            tillbridge::bench_labor::labor(tillbridge::bench_labor::LaborOptions {
                departments,
                days,
                sales_per_day,
                database_url,
                json,
                seed,
            })
            .await
        }
        Command::Bench {
            what:
                BenchWhat::Backfill {
                    series,
                    orders,
                    days,
                    time_scale,
                    database_url,
                    json,
                    seed,
                },
        } => {
            logging::init_quiet();
            if orders == Some(0) {
                anyhow::bail!("--orders must be at least 1");
            }
            tillbridge::bench_backfill::backfill(tillbridge::bench_backfill::BackfillOptions {
                series,
                orders,
                days,
                time_scale,
                database_url,
                json,
                seed,
            })
            .await
        }
        Command::Bench {
            what:
                BenchWhat::Ingest {
                    requests,
                    concurrency,
                    rounds,
                    database_url,
                    json,
                    seed,
                },
        } => {
            logging::init_quiet();
            tillbridge::bench_ingest::ingest(tillbridge::bench_ingest::IngestOptions {
                requests,
                concurrency,
                rounds,
                database_url,
                json,
                seed,
            })
            .await
        }
        Command::Bench {
            what:
                BenchWhat::Memory {
                    series,
                    orders,
                    days,
                    idle_secs,
                    database_url,
                    json,
                    seed,
                },
        } => {
            logging::init_quiet();
            tillbridge::bench_memory::memory(tillbridge::bench_memory::MemoryOptions {
                series,
                orders,
                days,
                idle_secs,
                database_url,
                json,
                seed,
            })
            .await
        }
        command => {
            let config = Config::load(cli.config.as_deref())?;
            logging::init(&config.log.format, &config.log.level);
            run_with_config(command, config).await
        }
    }
}

async fn run_with_config(command: Command, config: Config) -> Result<()> {
    match command {
        Command::Serve {
            no_workers,
            workers_only,
        } => {
            if workers_only {
                let engine = hub::open_engine(&config, None, Clock::system()).await?;
                let (tx, rx) = tokio::sync::watch::channel(false);
                let handles = engine.spawn_workers(config.server.workers.max(1), rx);
                tracing::info!(workers = config.server.workers.max(1), "workers running");
                hub::shutdown_signal().await?;
                tracing::info!("shutting down: jobs in hand stop after their current page");
                let _ = tx.send(true);
                for h in handles {
                    let _ = h.await;
                }
                engine.store().close().await;
                return Ok(());
            }
            let listener = TcpListener::bind(&config.server.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.server.listen))?;
            let hub = hub::start(
                &config,
                listener,
                if no_workers {
                    Roles::NoWorkers
                } else {
                    Roles::All
                },
                Clock::system(),
            )
            .await?;
            if hub.engine.api_keys(None).await?.is_empty() {
                tracing::warn!("no API key exists yet: create one with `tillbridge api-keys create --name admin`");
            }
            hub::shutdown_signal().await?;
            tracing::info!("shutting down");
            hub.stop().await
        }
        Command::Migrate => {
            let store = hub::open_store(&config).await?;
            println!("database is up to date ({:?})", store.backend());
            Ok(())
        }
        Command::Keys {
            action: VaultAction::Rotate,
        } => {
            if config.vault.master_key.is_none() {
                let path = std::path::Path::new(&config.vault.key_file);
                if !path.exists() {
                    anyhow::bail!(
                        "no key file at {}: nothing was ever sealed with it (set --config or TILLBRIDGE_MASTER_KEY to the installation's key)",
                        path.display()
                    );
                }
                let vault = tillbridge_engine::vault::Vault::rotate_key_file(path)?;
                eprintln!(
                    "{}: key {} is now current, older keys are kept after it",
                    path.display(),
                    vault.current_key_id()
                );
            }
            let engine = hub::open_engine(&config, None, Clock::system()).await?;
            let counts = engine.reseal_secrets().await?;
            println!("column\tresealed\talready current\tchanged meanwhile\tunreadable");
            for c in &counts {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    c.column, c.resealed, c.current, c.raced, c.unreadable
                );
            }
            let unreadable: u64 = counts.iter().map(|c| c.unreadable).sum();
            eprintln!(
                "every readable secret is sealed under key {}{}",
                engine.vault().current_key_id(),
                if unreadable > 0 {
                    format!("; {unreadable} values open with no configured key and were left as they are: add the key that sealed them to TILLBRIDGE_MASTER_KEY_PREVIOUS (or the key file) and run it again")
                } else {
                    String::new()
                }
            );
            if config.vault.master_key.is_none() {
                eprintln!(
                    "restart every process that uses this key file so it seals with the new key"
                );
            }
            Ok(())
        }
        Command::ApiKeys { action } => {
            let engine = hub::open_engine(&config, None, Clock::system()).await?;
            match action {
                KeyAction::Create { name, merchant } => {
                    let k = engine.create_api_key(&name, merchant.as_deref()).await?;
                    println!("{}", k.secret);
                    eprintln!(
                        "created API key {} ({}); it is shown only this once",
                        k.key.id,
                        k.key.merchant_id.as_deref().unwrap_or("installation")
                    );
                }
                KeyAction::List => {
                    for k in engine.api_keys(None).await? {
                        println!(
                            "{}\t{}…\t{}\t{}\t{}",
                            k.id,
                            k.prefix,
                            k.merchant_id.as_deref().unwrap_or("installation"),
                            k.name,
                            if k.revoked_at.is_some() {
                                "revoked"
                            } else {
                                "active"
                            }
                        );
                    }
                }
                KeyAction::Revoke { id } => {
                    engine.revoke_api_key(&id).await?;
                    println!("revoked {id}");
                }
            }
            Ok(())
        }
        Command::Users { action } => {
            let engine = hub::open_engine(&config, None, Clock::system()).await?;
            let password = |from_stdin: bool| -> Result<(String, bool)> {
                if !from_stdin {
                    return Ok((tillbridge_engine::users::generate_password(), true));
                }
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("cannot read the password from standard input")?;
                Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false))
            };
            match action {
                UserAction::Add {
                    email,
                    merchant,
                    password_stdin,
                } => {
                    let (password, generated) = password(password_stdin)?;
                    let user = engine
                        .create_user(&email, &password, merchant.as_deref())
                        .await?;
                    if generated {
                        println!("{password}");
                    }
                    eprintln!(
                        "added dashboard user {} ({}){}",
                        user.email,
                        user.merchant_id.as_deref().unwrap_or("administrator"),
                        if generated {
                            "; the generated password is shown only this once"
                        } else {
                            ""
                        }
                    );
                }
                UserAction::Password {
                    email,
                    password_stdin,
                } => {
                    let (password, generated) = password(password_stdin)?;
                    engine.set_user_password(&email, &password).await?;
                    if generated {
                        println!("{password}");
                    }
                    eprintln!("password changed; every session of {email} was signed out");
                }
                UserAction::List => {
                    for u in engine.users(None).await? {
                        println!(
                            "{}\t{}\t{}",
                            u.id,
                            u.email,
                            u.merchant_id.as_deref().unwrap_or("administrator")
                        );
                    }
                }
            }
            Ok(())
        }
        Command::DefaultConfig
        | Command::Sandbox { .. }
        | Command::Demo { .. }
        | Command::Bench { .. } => Ok(()),
    }
}

/// Writes the sandbox's payload samples, one file each, under `dir/<series>/`.
async fn write_sandbox_samples(dir: &std::path::Path, seed: u64) -> anyhow::Result<()> {
    let samples = tillbridge_sandbox::samples::samples(seed)
        .await
        .map_err(|e| anyhow::anyhow!("could not collect the samples: {e}"))?;
    for (n, sample) in samples.iter().enumerate() {
        let series = match sample.kind.split('.').next() {
            Some("k") => "kseries",
            Some("x") => "xseries",
            Some("r") => "rseries",
            _ => "oseries",
        };
        let folder = dir.join(series);
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
        let path = folder.join(format!("{}-{n}", sample.kind));
        std::fs::write(&path, sample.file_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("wrote {} samples under {}", samples.len(), dir.display());
    Ok(())
}
