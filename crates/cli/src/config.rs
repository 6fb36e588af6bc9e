//! Configuration: documented defaults embedded in the binary → optional TOML file →
//! `TILLBRIDGE_*` environment variables.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;
use tillbridge_engine::{
    EngineConfig, KSeriesConfig, MailTransport, OSeriesConfig, RSeriesConfig, XSeriesConfig,
};
use tillbridge_lightspeed::Secret;

pub const DEFAULTS: &str = include_str!("../config.default.toml");

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub vault: VaultConfig,
    pub sync: SyncConfig,
    pub ordering: OrderingConfig,
    pub alerts: AlertsConfig,
    pub lightspeed: LightspeedConfig,
    pub log: LogConfig,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    pub public_url: String,
    pub workers: usize,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct VaultConfig {
    pub key_file: String,
    #[serde(default)]
    pub master_key: Option<Secret>,
    /// Older keys that still open what they sealed, during a key rotation.
    #[serde(default)]
    pub previous_keys: Vec<Secret>,
}

impl std::fmt::Debug for VaultConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultConfig")
            .field("key_file", &self.key_file)
            .field("master_key", &self.master_key.as_ref().map(|_| "***"))
            .field("previous_keys", &self.previous_keys.len())
            .finish()
    }
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    pub backfill_days: i64,
    pub poll_interval_secs: u64,
    pub catalog_interval_secs: u64,
    pub refresh_buffer_secs: u64,
    pub max_attempts: u32,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct OrderingConfig {
    pub retry_base_ms: u64,
    pub reconcile_interval_ms: u64,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    pub recipients: String,
    pub from: String,
    pub smtp_url: Secret,
    pub outbox_dir: String,
}

impl std::fmt::Debug for AlertsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertsConfig")
            .field("recipients", &self.recipients)
            .field("from", &self.from)
            .field("smtp_url", &"***")
            .field("outbox_dir", &self.outbox_dir)
            .finish()
    }
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct LightspeedConfig {
    pub kseries: KSeriesSection,
    pub xseries: XSeriesSection,
    pub rseries: RSeriesSection,
    pub oseries: OSeriesSection,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct OSeriesSection {
    pub base_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: String,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RSeriesSection {
    pub authorize_url: String,
    pub token_url: String,
    pub api_base: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: String,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct XSeriesSection {
    pub authorize_url: String,
    pub store_base: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub rate_window_secs: f64,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct KSeriesSection {
    pub base_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: String,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: String,
    pub level: String,
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

impl Config {
    /// Loads defaults, then `file` (if any), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config> {
        Self::load_with(file, |k| std::env::var(k).ok())
    }

    pub fn load_with(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let mut value: toml::Value =
            toml::from_str(DEFAULTS).context("the built-in defaults do not parse")?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("failed to read the config file {}", path.display()))?;
            let over: toml::Value = toml::from_str(&text)
                .with_context(|| format!("the config file {} is not valid TOML", path.display()))?;
            merge(&mut value, over);
        }
        let mut config: Config = value.try_into().context(
            "the configuration is not valid (see `tillbridge default-config` for every key)",
        )?;
        config.apply_env(env)?;
        Ok(config)
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) -> Result<()> {
        let parse = |name: &str, raw: String| -> Result<u64> {
            raw.trim()
                .parse()
                .with_context(|| format!("{name} must be a whole number, got `{raw}`"))
        };
        if let Some(v) = env("TILLBRIDGE_LISTEN") {
            self.server.listen = v;
        }
        if let Some(v) = env("TILLBRIDGE_PUBLIC_URL") {
            self.server.public_url = v;
        }
        if let Some(v) = env("TILLBRIDGE_WORKERS") {
            self.server.workers = parse("TILLBRIDGE_WORKERS", v)? as usize;
        }
        if let Some(v) = env("TILLBRIDGE_DATABASE_URL") {
            self.database.url = v;
        }
        if let Some(v) = env("TILLBRIDGE_MASTER_KEY") {
            self.vault.master_key = Some(Secret::new(v));
        }
        if let Some(v) = env("TILLBRIDGE_MASTER_KEY_PREVIOUS") {
            self.vault.previous_keys = v
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(|k| Secret::new(k.to_owned()))
                .collect();
        }
        if let Some(v) = env("TILLBRIDGE_ORDER_RETRY_BASE_MS") {
            self.ordering.retry_base_ms = parse("TILLBRIDGE_ORDER_RETRY_BASE_MS", v)?;
        }
        if let Some(v) = env("TILLBRIDGE_ORDER_RECONCILE_INTERVAL_MS") {
            self.ordering.reconcile_interval_ms =
                parse("TILLBRIDGE_ORDER_RECONCILE_INTERVAL_MS", v)?;
        }
        if let Some(v) = env("TILLBRIDGE_ALERT_RECIPIENTS") {
            self.alerts.recipients = v;
        }
        if let Some(v) = env("TILLBRIDGE_ALERT_FROM") {
            self.alerts.from = v;
        }
        if let Some(v) = env("TILLBRIDGE_SMTP_URL") {
            self.alerts.smtp_url = Secret::new(v);
        }
        if let Some(v) = env("TILLBRIDGE_MAIL_OUTBOX_DIR") {
            self.alerts.outbox_dir = v;
        }
        if let Some(v) = env("TILLBRIDGE_BACKFILL_DAYS") {
            self.sync.backfill_days = parse("TILLBRIDGE_BACKFILL_DAYS", v)? as i64;
        }
        if let Some(v) = env("TILLBRIDGE_KSERIES_BASE_URL") {
            self.lightspeed.kseries.base_url = v;
        }
        if let Some(v) = env("TILLBRIDGE_KSERIES_CLIENT_ID") {
            self.lightspeed.kseries.client_id = v;
        }
        if let Some(v) = env("TILLBRIDGE_KSERIES_CLIENT_SECRET") {
            self.lightspeed.kseries.client_secret = Secret::new(v);
        }
        let x = &mut self.lightspeed.xseries;
        if let Some(v) = env("TILLBRIDGE_XSERIES_AUTHORIZE_URL") {
            x.authorize_url = v;
        }
        if let Some(v) = env("TILLBRIDGE_XSERIES_STORE_BASE") {
            x.store_base = v;
        }
        if let Some(v) = env("TILLBRIDGE_XSERIES_CLIENT_ID") {
            x.client_id = v;
        }
        if let Some(v) = env("TILLBRIDGE_XSERIES_CLIENT_SECRET") {
            x.client_secret = Secret::new(v);
        }
        if let Some(v) = env("TILLBRIDGE_XSERIES_RATE_WINDOW_SECS") {
            x.rate_window_secs = v.trim().parse().with_context(|| {
                format!(
                    "TILLBRIDGE_XSERIES_RATE_WINDOW_SECS must be a number of seconds, got `{v}`"
                )
            })?;
        }
        if !(x.rate_window_secs.is_finite() && x.rate_window_secs > 0.0) {
            bail!(
                "lightspeed.xseries.rate_window_secs must be a positive number of seconds, got {}",
                x.rate_window_secs
            );
        }
        let r = &mut self.lightspeed.rseries;
        for (name, field) in [
            ("TILLBRIDGE_RSERIES_AUTHORIZE_URL", &mut r.authorize_url),
            ("TILLBRIDGE_RSERIES_TOKEN_URL", &mut r.token_url),
            ("TILLBRIDGE_RSERIES_API_BASE", &mut r.api_base),
            ("TILLBRIDGE_RSERIES_CLIENT_ID", &mut r.client_id),
        ] {
            if let Some(v) = env(name) {
                *field = v;
            }
        }
        let o = &mut self.lightspeed.oseries;
        for (name, field) in [
            ("TILLBRIDGE_OSERIES_BASE_URL", &mut o.base_url),
            ("TILLBRIDGE_OSERIES_CLIENT_ID", &mut o.client_id),
        ] {
            if let Some(v) = env(name) {
                *field = v;
            }
        }
        if let Some(v) = env("TILLBRIDGE_OSERIES_CLIENT_SECRET") {
            o.client_secret = Secret::new(v);
        }
        let r = &mut self.lightspeed.rseries;
        if let Some(v) = env("TILLBRIDGE_RSERIES_CLIENT_SECRET") {
            r.client_secret = Secret::new(v);
        }
        if let Some(v) = env("TILLBRIDGE_LOG_FORMAT") {
            self.log.format = v;
        }
        if let Some(v) = env("TILLBRIDGE_LOG") {
            self.log.level = v;
        }
        if !(1..=3650).contains(&self.sync.backfill_days) {
            bail!(
                "sync.backfill_days must be between 1 and 3650, got {}",
                self.sync.backfill_days
            );
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!(
                "log.format must be \"text\" or \"json\", got `{}`",
                self.log.format
            );
        }
        Ok(())
    }

    pub fn public_url(&self, bound: Option<std::net::SocketAddr>) -> Result<url::Url> {
        let raw = if self.server.public_url.trim().is_empty() {
            format!(
                "http://{}",
                bound
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| self.server.listen.clone())
            )
        } else {
            self.server.public_url.clone()
        };
        url::Url::parse(&raw).with_context(|| format!("server.public_url `{raw}` is not a URL"))
    }

    pub fn engine_config(&self, public_url: url::Url) -> Result<EngineConfig> {
        let mut e = EngineConfig::new(public_url);
        e.backfill_days = self.sync.backfill_days;
        e.poll_interval = Duration::from_secs(self.sync.poll_interval_secs.max(1));
        e.catalog_interval = Duration::from_secs(self.sync.catalog_interval_secs.max(1));
        e.refresh_buffer = Duration::from_secs(self.sync.refresh_buffer_secs);
        e.max_attempts = self.sync.max_attempts.max(1);
        e.order_retry_base = Duration::from_millis(self.ordering.retry_base_ms.max(1));
        e.order_reconcile_interval =
            Duration::from_millis(self.ordering.reconcile_interval_ms.max(1));
        e.alert_recipients = self
            .alerts
            .recipients
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect();
        for r in &e.alert_recipients {
            if tillbridge_model::email::Email::parse(r).is_err() {
                bail!("alerts.recipients: `{r}` is not an e-mail address");
            }
        }
        e.mail_from = self.alerts.from.clone();
        let smtp = self.alerts.smtp_url.expose().trim();
        e.mail = match (smtp.is_empty(), self.alerts.outbox_dir.trim()) {
            (false, dir) if !dir.is_empty() => {
                bail!("alerts.smtp_url and alerts.outbox_dir are both set: choose one")
            }
            (false, _) => {
                if !["smtp://", "smtps://"].iter().any(|p| smtp.starts_with(p)) {
                    bail!("alerts.smtp_url must start with smtp:// or smtps://");
                }
                MailTransport::Smtp {
                    url: Secret::new(smtp.to_owned()),
                }
            }
            (true, "") => MailTransport::None,
            (true, dir) => MailTransport::Directory(dir.into()),
        };
        let k = &self.lightspeed.kseries;
        if !k.client_id.is_empty() {
            if k.client_secret.is_empty() {
                bail!("lightspeed.kseries.client_id is set but client_secret is empty (TILLBRIDGE_KSERIES_CLIENT_SECRET)");
            }
            e.kseries = Some(KSeriesConfig {
                base_url: url::Url::parse(&k.base_url).with_context(|| {
                    format!("lightspeed.kseries.base_url `{}` is not a URL", k.base_url)
                })?,
                client_id: k.client_id.clone(),
                client_secret: k.client_secret.clone(),
                scopes: k.scopes.clone(),
            });
        }
        let x = &self.lightspeed.xseries;
        if !x.client_id.is_empty() {
            if x.client_secret.is_empty() {
                bail!("lightspeed.xseries.client_id is set but client_secret is empty (TILLBRIDGE_XSERIES_CLIENT_SECRET)");
            }
            if !x.store_base.contains("{domain_prefix}") {
                bail!(
                    "lightspeed.xseries.store_base must contain {{domain_prefix}}, got `{}`",
                    x.store_base
                );
            }
            e.xseries = Some(XSeriesConfig {
                authorize_url: url::Url::parse(&x.authorize_url).with_context(|| {
                    format!(
                        "lightspeed.xseries.authorize_url `{}` is not a URL",
                        x.authorize_url
                    )
                })?,
                store_base: x.store_base.clone(),
                client_id: x.client_id.clone(),
                client_secret: x.client_secret.clone(),
                rate_window: Duration::from_secs_f64(x.rate_window_secs),
            });
        }
        let o = &self.lightspeed.oseries;
        if !o.client_id.is_empty() {
            if o.client_secret.is_empty() || o.base_url.is_empty() {
                bail!("lightspeed.oseries needs base_url and client_secret when client_id is set (TILLBRIDGE_OSERIES_BASE_URL, TILLBRIDGE_OSERIES_CLIENT_SECRET)");
            }
            e.oseries = Some(OSeriesConfig {
                base_url: url::Url::parse(&o.base_url).with_context(|| {
                    format!("lightspeed.oseries.base_url `{}` is not a URL", o.base_url)
                })?,
                client_id: o.client_id.clone(),
                client_secret: o.client_secret.clone(),
                scopes: o.scopes.clone(),
            });
        }
        let r = &self.lightspeed.rseries;
        if !r.client_id.is_empty() {
            if r.client_secret.is_empty() {
                bail!("lightspeed.rseries.client_id is set but client_secret is empty (TILLBRIDGE_RSERIES_CLIENT_SECRET)");
            }
            let parse = |key: &str, raw: &str| {
                url::Url::parse(raw)
                    .with_context(|| format!("lightspeed.rseries.{key} `{raw}` is not a URL"))
            };
            e.rseries = Some(RSeriesConfig {
                authorize_url: parse("authorize_url", &r.authorize_url)?,
                token_url: parse("token_url", &r.token_url)?,
                api_base: parse("api_base", &r.api_base)?,
                client_id: r.client_id.clone(),
                client_secret: r.client_secret.clone(),
                scopes: r.scopes.clone(),
            });
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_then_file_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[server]\nworkers = 5\n[sync]\nbackfill_days = 30\n").unwrap();
        let c = Config::load_with(Some(&file), |k| {
            (k == "TILLBRIDGE_BACKFILL_DAYS").then(|| "90".to_owned())
        })
        .unwrap();
        assert_eq!(c.server.workers, 5);
        assert_eq!(c.sync.backfill_days, 90);
        assert_eq!(c.database.url, "sqlite://tillbridge-data/tillbridge.db");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[server]\nworkerz = 5\n").unwrap();
        let e = Config::load_with(Some(&file), |_| None).unwrap_err();
        assert!(format!("{e:#}").contains("workerz"), "{e:#}");
        let e = Config::load_with(None, |k| {
            (k == "TILLBRIDGE_WORKERS").then(|| "many".to_owned())
        })
        .unwrap_err();
        assert!(e.to_string().contains("TILLBRIDGE_WORKERS"));
    }

    #[test]
    fn secrets_do_not_print() {
        let c = Config::load_with(None, |k| match k {
            "TILLBRIDGE_MASTER_KEY" => Some("c2VjcmV0".into()),
            "TILLBRIDGE_KSERIES_CLIENT_SECRET" => Some("client-secret-value".into()),
            _ => None,
        })
        .unwrap();
        let printed = format!("{c:?}");
        assert!(
            !printed.contains("c2VjcmV0") && !printed.contains("client-secret-value"),
            "{printed}"
        );
    }
}
