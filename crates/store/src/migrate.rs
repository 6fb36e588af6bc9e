//! Embedded migrations, one list per backend. Never edit an applied migration: add one.

use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "catalog and ingress",
        include_str!("../migrations/sqlite/0002_catalog_and_ingress.sql"),
    ),
    (
        3,
        "webhook secret",
        include_str!("../migrations/sqlite/0003_webhook_secret.sql"),
    ),
    (
        4,
        "auth kind",
        include_str!("../migrations/sqlite/0004_auth_kind.sql"),
    ),
    (
        5,
        "catalog categories",
        include_str!("../migrations/sqlite/0005_catalog_categories.sql"),
    ),
    (
        6,
        "loyalty",
        include_str!("../migrations/sqlite/0006_loyalty.sql"),
    ),
    (
        7,
        "punch cards",
        include_str!("../migrations/sqlite/0007_punch_cards.sql"),
    ),
    (
        8,
        "tiers",
        include_str!("../migrations/sqlite/0008_tiers.sql"),
    ),
    (
        9,
        "segments",
        include_str!("../migrations/sqlite/0009_segments.sql"),
    ),
    (
        10,
        "broadcasts",
        include_str!("../migrations/sqlite/0010_broadcasts.sql"),
    ),
    (
        11,
        "labor",
        include_str!("../migrations/sqlite/0011_labor.sql"),
    ),
    (
        12,
        "ordering",
        include_str!("../migrations/sqlite/0012_ordering.sql"),
    ),
    (
        13,
        "ordering_outages",
        include_str!("../migrations/sqlite/0013_ordering_outages.sql"),
    ),
    (
        14,
        "ordering_readiness",
        include_str!("../migrations/sqlite/0014_ordering_readiness.sql"),
    ),
    (
        15,
        "outbound_webhooks",
        include_str!("../migrations/sqlite/0015_outbound_webhooks.sql"),
    ),
    (
        16,
        "event stream",
        include_str!("../migrations/sqlite/0016_event_stream.sql"),
    ),
    (
        17,
        "dashboard users",
        include_str!("../migrations/sqlite/0017_dashboard_users.sql"),
    ),
    (
        18,
        "dashboard onboarding",
        include_str!("../migrations/sqlite/0018_dashboard_onboarding.sql"),
    ),
    (
        19,
        "insights indexes",
        include_str!("../migrations/sqlite/0019_insights_indexes.sql"),
    ),
    (
        20,
        "insights roll-ups",
        include_str!("../migrations/sqlite/0020_insights_rollups.sql"),
    ),
    (
        21,
        "unified catalog",
        include_str!("../migrations/sqlite/0021_unified_catalog.sql"),
    ),
    (
        22,
        "members' RFM index",
        include_str!("../migrations/sqlite/0022_members_rfm_index.sql"),
    ),
    (
        23,
        "production instructions",
        include_str!("../migrations/sqlite/0023_production_instructions.sql"),
    ),
    (
        24,
        "jobs woken while running",
        include_str!("../migrations/sqlite/0024_jobs_woken.sql"),
    ),
    (
        25,
        "menu item kinds and sub-item choices",
        include_str!("../migrations/sqlite/0025_menu_choices.sql"),
    ),
    (
        26,
        "menu item variant families",
        include_str!("../migrations/sqlite/0026_menu_variants.sql"),
    ),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "catalog and ingress",
        include_str!("../migrations/postgres/0002_catalog_and_ingress.sql"),
    ),
    (
        3,
        "webhook secret",
        include_str!("../migrations/postgres/0003_webhook_secret.sql"),
    ),
    (
        4,
        "auth kind",
        include_str!("../migrations/postgres/0004_auth_kind.sql"),
    ),
    (
        5,
        "catalog categories",
        include_str!("../migrations/postgres/0005_catalog_categories.sql"),
    ),
    (
        6,
        "loyalty",
        include_str!("../migrations/postgres/0006_loyalty.sql"),
    ),
    (
        7,
        "punch cards",
        include_str!("../migrations/postgres/0007_punch_cards.sql"),
    ),
    (
        8,
        "tiers",
        include_str!("../migrations/postgres/0008_tiers.sql"),
    ),
    (
        9,
        "segments",
        include_str!("../migrations/postgres/0009_segments.sql"),
    ),
    (
        10,
        "broadcasts",
        include_str!("../migrations/postgres/0010_broadcasts.sql"),
    ),
    (
        11,
        "labor",
        include_str!("../migrations/postgres/0011_labor.sql"),
    ),
    (
        12,
        "ordering",
        include_str!("../migrations/postgres/0012_ordering.sql"),
    ),
    (
        13,
        "ordering_outages",
        include_str!("../migrations/postgres/0013_ordering_outages.sql"),
    ),
    (
        14,
        "ordering_readiness",
        include_str!("../migrations/postgres/0014_ordering_readiness.sql"),
    ),
    (
        15,
        "outbound_webhooks",
        include_str!("../migrations/postgres/0015_outbound_webhooks.sql"),
    ),
    (
        16,
        "event stream",
        include_str!("../migrations/postgres/0016_event_stream.sql"),
    ),
    (
        17,
        "dashboard users",
        include_str!("../migrations/postgres/0017_dashboard_users.sql"),
    ),
    (
        18,
        "dashboard onboarding",
        include_str!("../migrations/postgres/0018_dashboard_onboarding.sql"),
    ),
    (
        19,
        "insights indexes",
        include_str!("../migrations/postgres/0019_insights_indexes.sql"),
    ),
    (
        20,
        "insights roll-ups",
        include_str!("../migrations/postgres/0020_insights_rollups.sql"),
    ),
    (
        21,
        "unified catalog",
        include_str!("../migrations/postgres/0021_unified_catalog.sql"),
    ),
    (
        22,
        "members' RFM index",
        include_str!("../migrations/postgres/0022_members_rfm_index.sql"),
    ),
    (
        23,
        "production instructions",
        include_str!("../migrations/postgres/0023_production_instructions.sql"),
    ),
    (
        24,
        "jobs woken while running",
        include_str!("../migrations/postgres/0024_jobs_woken.sql"),
    ),
    (
        25,
        "menu item kinds and sub-item choices",
        include_str!("../migrations/postgres/0025_menu_choices.sql"),
    ),
    (
        26,
        "menu item variant families",
        include_str!("../migrations/postgres/0026_menu_variants.sql"),
    ),
];

#[derive(Debug)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, name, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*name),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

pub async fn migrator(postgres: bool) -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded(if postgres { POSTGRES } else { SQLITE })).await
}
