//! The store conformance suite: every test runs on SQLite and, when
//! `TILLBRIDGE_TEST_POSTGRES_URL` is set, on PostgreSQL, each with a database of its own.
#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected value"
)]

use chrono::{TimeZone, Utc};
use serde_json::json;
use tillbridge_model::{Order, OrderKind, OrderLine, OrderStatus, Quantity, Series};
use tillbridge_store::jobs::{self, NewJob, Progress};
use tillbridge_store::merchants::{self, MerchantRow};
use tillbridge_store::orders::{self, OrderScope, Upsert};
use tillbridge_store::testing::{TestBackend, TestDatabase};
use tillbridge_store::{attempts, events, logs, Store};

macro_rules! conformance {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(tillbridge_store::testing::TestBackend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(tillbridge_store::testing::TestBackend::Postgres).await
            }
        }
    };
}

async fn open(backend: TestBackend) -> Option<(TestDatabase, Store)> {
    let db = TestDatabase::create(backend).await?;
    let store = Store::connect(&db.url).await.unwrap();
    add_merchant(&store, "m1").await;
    Some((db, store))
}

async fn add_merchant(store: &Store, id: &str) {
    let mut c = store.conn().await.unwrap();
    merchants::insert_merchant(
        &mut c,
        &MerchantRow {
            id: id.into(),
            name: format!("Merchant {id}"),
            timezone: "UTC".into(),
            currency: "EUR".into(),
            created_at: 0,
        },
    )
    .await
    .unwrap();
}

fn order(id: &str, total: i64) -> Order {
    Order {
        series: Series::K,
        external_id: id.into(),
        kind: OrderKind::Sale,
        original_external_id: None,
        status: OrderStatus::Closed,
        external_location_id: "bl1".into(),
        register_id: None,
        register_name: None,
        opened_at: None,
        closed_at: Utc.with_ymd_and_hms(2026, 3, 1, 12, 30, 0).unwrap(),
        business_date: None,
        currency: "EUR".into(),
        lines: vec![OrderLine {
            external_id: "l1".into(),
            parent_external_id: None,
            sku: Some("H1".into()),
            name: "Latte".into(),
            category: Some("Hot Drinks".into()),
            category_id: None,
            quantity: Quantity::from_units(2),
            unit_price_minor: total / 2,
            discount_minor: 0,
            tax_minor: 0,
            total_minor: total,
            net_minor: total,
            voided: false,
            tax_rate_bp: None,
        }],
        payments: vec![],
        total_minor: total,
        tax_minor: 0,
        discount_minor: 0,
        tip_minor: 0,
        covers: Some(1),
        customer_email: None,
        customer_ref: None,
        customer_name: None,
        table: None,
    }
}

conformance!(a_batch_upserts_as_one_upsert_after_another_would);
async fn a_batch_upserts_as_one_upsert_after_another_would(backend: TestBackend) {
    let Some((_db, store)) = open(backend).await else {
        return;
    };
    let scope = OrderScope {
        merchant_id: "m1",
        connection_id: "c1",
        location_id: Some("loc1"),
    };
    let mut tx = store.begin().await.unwrap();
    for (id, total) in [("A1", 100), ("A2", 200)] {
        orders::upsert_order(&mut tx, &scope, &order(id, total), &format!("o{id}"), 1)
            .await
            .unwrap();
    }
    // Unchanged, changed, new, new again within the batch and changed twice within it, and
    // enough new orders to span several statements.
    let mut batch = vec![
        order("A1", 100),
        order("A2", 250),
        order("B1", 300),
        order("B1", 300),
        order("B2", 10),
        order("B2", 20),
        order("B2", 30),
    ];
    batch.extend((0..90).map(|i| order(&format!("C{i}"), 2 * i + 2)));
    let writes: Vec<orders::OrderWrite> = batch
        .iter()
        .enumerate()
        .map(|(i, o)| orders::OrderWrite {
            location_id: Some("loc1"),
            order: o,
            new_id: format!("n{i}"),
        })
        .collect();
    let outcomes = orders::upsert_orders(&mut tx, "m1", "c1", &writes, 2)
        .await
        .unwrap();
    assert_eq!(
        outcomes[..7],
        [
            Upsert::Unchanged { id: "oA1".into() },
            Upsert::Updated {
                id: "oA2".into(),
                version: 2
            },
            Upsert::Inserted { id: "n2".into() },
            Upsert::Unchanged { id: "n2".into() },
            Upsert::Inserted { id: "n4".into() },
            Upsert::Updated {
                id: "n4".into(),
                version: 2
            },
            Upsert::Updated {
                id: "n4".into(),
                version: 3
            },
        ]
    );
    assert_eq!(outcomes.len(), 97);
    assert!(outcomes[7..].iter().enumerate().all(|(i, o)| *o
        == Upsert::Inserted {
            id: format!("n{}", i + 7)
        }));
    tillbridge_store::commit(tx).await.unwrap();
    let mut c = store.conn().await.unwrap();
    let s = orders::summary(&mut c, "m1", None, None, None)
        .await
        .unwrap();
    // A1 100 + A2 250 + B1 300 + B2 30 + C: 2 + 4 + … + 180.
    assert_eq!((s.orders, s.total_minor), (94, 680 + 90 * 91));
    // Each order has its one line, once: the changed ones' lines were replaced.
    let lines: i64 = s.by_category.iter().map(|c| c.quantity_milli).sum();
    assert_eq!(lines, 94 * 2000);
    let b2 = orders::get_order(&mut c, "m1", "n4")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (b2.version, b2.order.total_minor, b2.location_id.as_deref()),
        (3, 30, Some("loc1"))
    );
}

conformance!(upserts_are_idempotent_and_versioned);
async fn upserts_are_idempotent_and_versioned(backend: TestBackend) {
    let Some((_db, store)) = open(backend).await else {
        return;
    };
    let scope = OrderScope {
        merchant_id: "m1",
        connection_id: "c1",
        location_id: Some("loc1"),
    };
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        orders::upsert_order(&mut tx, &scope, &order("A1", 780), "o1", 1)
            .await
            .unwrap(),
        Upsert::Inserted { id: "o1".into() }
    );
    assert_eq!(
        orders::upsert_order(&mut tx, &scope, &order("A1", 780), "o2", 2)
            .await
            .unwrap(),
        Upsert::Unchanged { id: "o1".into() }
    );
    assert_eq!(
        orders::upsert_order(&mut tx, &scope, &order("A1", 800), "o3", 3)
            .await
            .unwrap(),
        Upsert::Updated {
            id: "o1".into(),
            version: 2
        }
    );
    tillbridge_store::commit(tx).await.unwrap();
    let mut c = store.conn().await.unwrap();
    let s = orders::summary(&mut c, "m1", None, None, None)
        .await
        .unwrap();
    assert_eq!((s.orders, s.total_minor), (1, 800));
    assert_eq!(s.by_category[0].quantity_milli, 2000);
    assert_eq!(
        s.by_hour[0].hour,
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
            .unwrap()
            .timestamp_millis()
    );
    assert_eq!(
        orders::get_order(&mut c, "m1", "o1")
            .await
            .unwrap()
            .unwrap()
            .order
            .total_minor,
        800
    );
    assert!(
        orders::get_order(&mut c, "other", "o1")
            .await
            .unwrap()
            .is_none(),
        "tenancy is in the query"
    );
}

conformance!(events_are_sequenced_per_merchant_and_roll_back_with_their_change);
async fn events_are_sequenced_per_merchant_and_roll_back_with_their_change(backend: TestBackend) {
    let Some((_db, store)) = open(backend).await else {
        return;
    };
    add_merchant(&store, "m2").await;
    // Concurrent writers on one merchant still get a gap-free sequence.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let seq = events::append(
                &mut tx,
                "m1",
                &format!("e{i}"),
                "t",
                "s",
                &json!({ "i": i }),
                i,
            )
            .await
            .unwrap();
            tillbridge_store::commit(tx).await.unwrap();
            seq
        }));
    }
    let mut seqs: Vec<i64> = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    // A rolled-back transaction leaves neither its change nor its event.
    let mut tx = store.begin().await.unwrap();
    events::append(&mut tx, "m1", "gone", "t", "s", &json!({}), 0)
        .await
        .unwrap();
    drop(tx);
    let mut c = store.conn().await.unwrap();
    assert_eq!(
        events::list_after(&mut c, "m1", 0, None, 100)
            .await
            .unwrap()
            .len(),
        10
    );
    assert_eq!(
        events::append(&mut c, "m2", "x", "t", "s", &json!({}), 0)
            .await
            .unwrap(),
        1,
        "each merchant has its own sequence"
    );
    assert_eq!(
        events::list_after(&mut c, "m1", 8, None, 100)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>(),
        vec![9, 10]
    );
    // Many at once continue the same sequence, in order, across insert chunks.
    let many: Vec<events::NewEvent> = (0..450)
        .map(|i| events::NewEvent {
            id: format!("b{i}"),
            event_type: "bulk".into(),
            subject: format!("s{i}"),
            payload: json!({ "i": i }),
        })
        .collect();
    events::append_many(&mut c, "m1", &many, 7).await.unwrap();
    events::append(&mut c, "m1", "after", "t", "s", &json!({}), 8)
        .await
        .unwrap();
    let all = events::list_after(&mut c, "m1", 10, None, 1000)
        .await
        .unwrap();
    assert_eq!(all.len(), 451);
    for (k, e) in all.iter().take(450).enumerate() {
        assert_eq!(
            (e.seq, e.event_type.as_str(), &e.payload),
            (11 + k as i64, "bulk", &json!({ "i": k }))
        );
    }
    assert_eq!(all[450].seq, 461);
}

conformance!(the_stream_numbers_committed_events_in_order_and_never_behind_a_reader);
async fn the_stream_numbers_committed_events_in_order_and_never_behind_a_reader(
    backend: TestBackend,
) {
    let Some((_db, store)) = open(backend).await else {
        return;
    };
    add_merchant(&store, "m2").await;
    let mut c = store.conn().await.unwrap();
    let new = |i: usize| events::NewEvent {
        id: format!("e{i}"),
        event_type: "t".into(),
        subject: "s".into(),
        payload: json!({ "i": i }),
    };
    events::append_many(&mut c, "m1", &[new(1), new(2), new(3)], 0)
        .await
        .unwrap();
    drop(c);
    // On PostgreSQL m2's first event stays uncommitted while the stream is numbered and read
    // (SQLite has a single writer: there it is appended afterwards).
    let late = match backend {
        TestBackend::Postgres => {
            let mut tx = store.begin().await.unwrap();
            events::append(&mut tx, "m2", "late", "t", "s", &json!({}), 0)
                .await
                .unwrap();
            Some(tx)
        }
        TestBackend::Sqlite => None,
    };
    let mut c = store.conn().await.unwrap();
    events::append(&mut c, "m1", "e4", "t", "s", &json!({}), 0)
        .await
        .unwrap();
    assert!(events::unsequenced(&mut c).await.unwrap());
    drop(c);
    assert_eq!(
        events::sequence(&store, 2).await.unwrap(),
        2,
        "a bounded batch"
    );
    assert_eq!(events::sequence(&store, 100).await.unwrap(), 2);
    let mut c = store.conn().await.unwrap();
    let read = events::stream_after(&mut c, None, 0, None, 100)
        .await
        .unwrap();
    let ids: Vec<(&str, i64, i64)> = read
        .iter()
        .map(|e| (e.merchant_id.as_str(), e.event.seq, e.stream_seq))
        .collect();
    assert_eq!(
        ids,
        vec![("m1", 1, 1), ("m1", 2, 2), ("m1", 3, 3), ("m1", 4, 4)]
    );
    match late {
        Some(tx) => tx.commit().await.unwrap(),
        None => {
            events::append(&mut c, "m2", "late", "t", "s", &json!({}), 0)
                .await
                .unwrap();
        }
    }
    drop(c);
    assert_eq!(events::sequence(&store, 100).await.unwrap(), 1);
    let mut c = store.conn().await.unwrap();
    assert!(!events::unsequenced(&mut c).await.unwrap());
    // The late event comes after everything a reader has already passed.
    let rest = events::stream_after(&mut c, None, 4, None, 100)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(
        (
            rest[0].merchant_id.as_str(),
            rest[0].event.id.as_str(),
            rest[0].stream_seq
        ),
        ("m2", "late", 5)
    );
    let m1: Vec<i64> = events::stream_after(&mut c, Some("m1"), 2, None, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.stream_seq)
        .collect();
    assert_eq!(m1, vec![3, 4]);
    let none = events::stream_after(&mut c, None, 0, Some("other"), 100)
        .await
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(events::sequence(&store, 100).await.unwrap(), 0);
}

conformance!(a_wake_while_a_job_runs_makes_it_due_again_when_released);
async fn a_wake_while_a_job_runs_makes_it_due_again_when_released(backend: TestBackend) {
    let Some((_db, store)) = open(backend).await else {
        return;
    };
    let mut c = store.conn().await.unwrap();
    for (id, connection_id, kind) in [("s1", "c1", "orders"), ("k1", "", "consumer")] {
        let new = NewJob {
            id,
            merchant_id: "m1",
            connection_id,
            kind,
            stream_key: id,
            run_after: 0,
            checkpoint: &json!({}),
        };
        assert!(jobs::ensure(&mut c, &new, 0).await.unwrap());
    }
    drop(c);
    let mut c = store.conn().await.unwrap();
    // Unwoken runs go back at their interval; `if_woken` is ignored.
    for (owner, now) in [("w1", 10), ("w2", 11)] {
        let job = jobs::claim(&store, owner, 1_000, now)
            .await
            .unwrap()
            .unwrap();
        assert!(jobs::release(
            &mut c,
            &job.id,
            owner,
            "queued",
            5_000,
            Some(now),
            None,
            now
        )
        .await
        .unwrap());
    }
    assert_eq!(
        jobs::get(&mut c, "s1").await.unwrap().unwrap().run_after,
        5_000
    );
    assert_eq!(
        jobs::get(&mut c, "k1").await.unwrap().unwrap().run_after,
        5_000
    );

    // Woken while running: the first wake marks the run (a second one writes nothing), and the
    // release makes the job due at once instead of at its interval.
    for (wake, id) in [("kind", "k1"), ("connection", "s1")] {
        let job = jobs::claim(&store, "w", 9_000, 6_000)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.id, id);
        for (at, expect) in [(6_010, 1), (6_020, 0)] {
            let woke = match wake {
                "connection" => jobs::wake_connection(&mut c, "m1", "c1", at).await,
                _ => jobs::wake_kind(&mut c, "m1", "consumer", at).await,
            }
            .unwrap();
            assert_eq!(woke, expect, "{wake} wake at {at}");
        }
        let running = jobs::get(&mut c, id).await.unwrap().unwrap();
        assert_eq!(
            running.state, "running",
            "a wake leaves a running job running"
        );
        assert!(
            jobs::release(&mut c, id, "w", "queued", 11_000, Some(6_100), None, 6_100)
                .await
                .unwrap()
        );
        assert_eq!(
            jobs::get(&mut c, id).await.unwrap().unwrap().run_after,
            6_100
        );
    }
    // The mark ends with the run: the next run, unwoken, goes back at its interval.
    let job = jobs::claim(&store, "w", 9_000, 6_200)
        .await
        .unwrap()
        .unwrap();
    assert!(jobs::release(
        &mut c,
        &job.id,
        "w",
        "queued",
        11_000,
        Some(6_300),
        None,
        6_300
    )
    .await
    .unwrap());
    assert_eq!(
        jobs::get(&mut c, &job.id).await.unwrap().unwrap().run_after,
        11_000
    );
    // A failed run keeps its back-off even when woken.
    let job = jobs::claim(&store, "w", 9_000, 6_400)
        .await
        .unwrap()
        .unwrap();
    jobs::wake_kind(&mut c, "m1", "consumer", 6_410)
        .await
        .unwrap();
    jobs::wake_connection(&mut c, "m1", "c1", 6_410)
        .await
        .unwrap();
    assert!(jobs::release(
        &mut c,
        &job.id,
        "w",
        "queued",
        20_000,
        None,
        Some("boom"),
        6_500
    )
    .await
    .unwrap());
    assert_eq!(
        jobs::get(&mut c, &job.id).await.unwrap().unwrap().run_after,
        20_000
    );
}

conformance!(a_job_is_claimed_once_and_reclaimed_after_its_lease);
async fn a_job_is_claimed_once_and_reclaimed_after_its_lease(backend: TestBackend) {
    let Some((_db, store)) = open(backend).await else {
        return;
    };
    let mut c = store.conn().await.unwrap();
    let new = NewJob {
        id: "j1",
        merchant_id: "m1",
        connection_id: "c1",
        kind: "orders",
        stream_key: "bl1",
        run_after: 0,
        checkpoint: &json!({}),
    };
    assert!(jobs::ensure(&mut c, &new, 0).await.unwrap());
    assert!(
        !jobs::ensure(&mut c, &NewJob { id: "j2", ..new }, 0)
            .await
            .unwrap(),
        "one job per stream"
    );
    drop(c);
    // Eight workers race for one due job.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            jobs::claim(&store, &format!("w{i}"), 1_000, 10)
                .await
                .unwrap()
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    assert_eq!(claimed.len(), 1, "exactly one worker gets the job");
    let owner = claimed[0].lease_owner.clone().unwrap();
    assert!(
        jobs::claim(&store, "late", 1_000, 20)
            .await
            .unwrap()
            .is_none(),
        "a live lease is respected"
    );
    // The owner dies; after its lease expires another worker resumes from the checkpoint.
    let mut c = store.conn().await.unwrap();
    assert!(jobs::checkpoint(
        &mut c,
        "j1",
        &owner,
        &Progress {
            checkpoint: &json!({ "page": 3 }),
            done: 3,
            total: Some(9)
        },
        1_000,
        30
    )
    .await
    .unwrap());
    drop(c);
    let taken = jobs::claim(&store, "rescuer", 5_000, 1_001)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.checkpoint, json!({ "page": 3 }));
    let mut c = store.conn().await.unwrap();
    assert!(
        !jobs::checkpoint(
            &mut c,
            "j1",
            &owner,
            &Progress {
                checkpoint: &json!({}),
                done: 0,
                total: None
            },
            9_000,
            1_002
        )
        .await
        .unwrap(),
        "the dead owner's late write is refused"
    );
    assert!(
        jobs::release(&mut c, "j1", "rescuer", "queued", 2_000, None, None, 1_003)
            .await
            .unwrap()
    );
    assert!(
        jobs::claim(&store, "w", 9_000, 1_500)
            .await
            .unwrap()
            .is_none(),
        "not due yet"
    );
    let running = jobs::claim(&store, "w", 9_000, 2_000)
        .await
        .unwrap()
        .unwrap();
    // A restart while it runs (a location mapped) revokes the lease: the runner's next write
    // is refused and the next claim starts over.
    let mut c = store.conn().await.unwrap();
    jobs::restart_stream(&mut c, "m1", "c1", "orders", "bl1", 2_100)
        .await
        .unwrap();
    let late = Progress {
        checkpoint: &json!({ "page": 4 }),
        done: 4,
        total: None,
    };
    let owner = running.lease_owner.unwrap();
    assert!(!jobs::checkpoint(&mut c, "j1", &owner, &late, 9_000, 2_200)
        .await
        .unwrap());
    assert!(!jobs::heartbeat(&mut c, "j1", &owner, 9_000).await.unwrap());
    drop(c);
    let again = jobs::claim(&store, "w2", 9_000, 2_300)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.checkpoint, again.progress_done), (json!({}), 0));
}

conformance!(integration_log_collapses_repeats_and_keeps_100);
async fn integration_log_collapses_repeats_and_keeps_100(backend: TestBackend) {
    let Some((_db, store)) = open(backend).await else {
        return;
    };
    let mut c = store.conn().await.unwrap();
    for t in 0..3 {
        logs::append(&mut c, "m1", "c1", "warn", "rate limited", t)
            .await
            .unwrap();
    }
    let entries = logs::list(&mut c, "m1", "c1").await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].count, entries[0].first_at, entries[0].last_at),
        (3, 0, 2)
    );
    for i in 0..150 {
        logs::append(&mut c, "m1", "c1", "info", &format!("page {i}"), 10 + i)
            .await
            .unwrap();
    }
    let entries = logs::list(&mut c, "m1", "c1").await.unwrap();
    assert_eq!(entries.len(), 100);
    assert_eq!(entries[0].message, "page 149", "newest first");
}

conformance!(a_connection_attempt_is_taken_once);
async fn a_connection_attempt_is_taken_once(backend: TestBackend) {
    let Some((_db, store)) = open(backend).await else {
        return;
    };
    let mut c = store.conn().await.unwrap();
    let a = attempts::AttemptRow {
        merchant_id: "m1".into(),
        id: "a1".into(),
        series: "k".into(),
        connection_id: None,
        verifier_enc: "sealed".into(),
        redirect_uri: "http://x/cb".into(),
        created_at: 0,
        expires_at: 600_000,
    };
    attempts::insert_attempt(&mut c, &a).await.unwrap();
    assert!(
        attempts::take_attempt(&mut c, "m2", "a1", 1)
            .await
            .unwrap()
            .is_none(),
        "another merchant cannot take it"
    );
    assert_eq!(
        attempts::take_attempt(&mut c, "m1", "a1", 1).await.unwrap(),
        Some(a)
    );
    assert!(
        attempts::take_attempt(&mut c, "m1", "a1", 2)
            .await
            .unwrap()
            .is_none(),
        "single use"
    );
}

conformance!(a_member_card_is_rewritten_by_one_transaction_at_a_time);
async fn a_member_card_is_rewritten_by_one_transaction_at_a_time(backend: TestBackend) {
    use tillbridge_store::loyalty;
    let Some((_db, store)) = open(backend).await else {
        return;
    };
    let mut c = store.conn().await.unwrap();
    loyalty::put_member_card(&mut c, "m1", "mem1", "card1", "1", 0)
        .await
        .unwrap();
    drop(c);
    // A purchase stamping the card holds it while a redemption tries to rewrite it: the
    // redemption reads what the purchase wrote, and neither change is lost.
    let mut first = store.begin().await.unwrap();
    let read = loyalty::member_card(&mut first, "m1", "mem1", "card1")
        .await
        .unwrap()
        .unwrap();
    let other = store.clone();
    let second = tokio::spawn(async move {
        let mut tx = other.begin().await.unwrap();
        let read = loyalty::member_card(&mut tx, "m1", "mem1", "card1")
            .await
            .unwrap()
            .unwrap();
        loyalty::put_member_card(&mut tx, "m1", "mem1", "card1", &format!("{read}+b"), 2)
            .await
            .unwrap();
        tillbridge_store::commit(tx).await.unwrap();
    });
    // Give the second transaction time to reach the card before the first writes.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    loyalty::put_member_card(&mut first, "m1", "mem1", "card1", &format!("{read}+a"), 1)
        .await
        .unwrap();
    tillbridge_store::commit(first).await.unwrap();
    second.await.unwrap();
    let mut c = store.conn().await.unwrap();
    assert_eq!(
        loyalty::member_card(&mut c, "m1", "mem1", "card1")
            .await
            .unwrap()
            .as_deref(),
        Some("1+a+b")
    );
}

/// The statement migration 0011 fills existing orders' sales figures with.
fn figures_backfill(backend: TestBackend) -> String {
    let migration = match backend {
        TestBackend::Sqlite => include_str!("../migrations/sqlite/0011_labor.sql"),
        TestBackend::Postgres => include_str!("../migrations/postgres/0011_labor.sql"),
    };
    let start = migration.find("UPDATE orders SET\n    sold_lines").unwrap();
    let len = migration[start..].find(";\n").unwrap();
    migration[start..start + len].to_owned()
}

async fn figures(store: &Store) -> Vec<Vec<i64>> {
    let mut c = store.conn().await.unwrap();
    let rows = sqlx::query(
        "SELECT sold_lines, gross_minor, sold_discount_minor, returns_minor, gross_excl_minor, sold_discount_excl_minor, \
         returns_excl_minor, goods_milli, returned_milli FROM orders ORDER BY id",
    )
    .fetch_all(&mut *c)
    .await
    .unwrap();
    rows.iter()
        .map(|r| (0..9).map(|i| sqlx::Row::get::<i64, _>(r, i)).collect())
        .collect()
}

conformance!(stored_sales_figures_follow_the_model_and_the_migration_agrees);
async fn stored_sales_figures_follow_the_model_and_the_migration_agrees(backend: TestBackend) {
    let Some((_db, store)) = open(backend).await else {
        return;
    };
    let scope = OrderScope {
        merchant_id: "m1",
        connection_id: "c1",
        location_id: None,
    };
    let line = |q: i64, unit: i64, discount: i64, total: i64, net: i64, voided: bool| OrderLine {
        external_id: format!("l{q}{unit}{total}"),
        parent_external_id: None,
        sku: None,
        name: "x".into(),
        category: None,
        category_id: None,
        quantity: Quantity::from_units(q),
        unit_price_minor: unit,
        discount_minor: discount,
        tax_minor: total - net,
        total_minor: total,
        net_minor: net,
        voided,
        tax_rate_bp: None,
    };
    let mut sale = order("S1", 0);
    sale.lines = vec![
        line(2, 350, 70, 630, 578, false),
        line(1, 0, 0, 0, 0, false),
        line(1, 999, 0, 999, 917, true),
        line(1, 500, 500, 0, 0, false),
    ];
    let mut refund = order("R1", 0);
    refund.kind = OrderKind::Refund;
    refund.lines = vec![line(-1, 350, -35, -315, -289, false)];
    let mut tx = store.begin().await.unwrap();
    for (id, o) in [("o1", &sale), ("o2", &refund)] {
        orders::upsert_order(&mut tx, &scope, o, id, 1)
            .await
            .unwrap();
    }
    tillbridge_store::commit(tx).await.unwrap();
    let written = figures(&store).await;
    let want: Vec<Vec<i64>> = [&sale, &refund]
        .iter()
        .map(|o| {
            let f = o.sales_figures();
            vec![
                f.sold_lines,
                f.gross_minor,
                f.discount_minor,
                f.returns_minor,
                f.gross_excl_minor,
                f.discount_excl_minor,
                f.returns_excl_minor,
                f.goods_milli,
                f.returned_milli,
            ]
        })
        .collect();
    assert_eq!(written, want);
    assert_eq!(written[0][..4], [3, 700 + 500, 70 + 500, 0]);
    // Existing orders get the same figures from their lines when the migration runs.
    let mut c = store.conn().await.unwrap();
    sqlx::query("UPDATE orders SET sold_lines = 0, gross_minor = 0, sold_discount_minor = 0, returns_minor = 0, gross_excl_minor = 0, \
                 sold_discount_excl_minor = 0, returns_excl_minor = 0, goods_milli = 0, returned_milli = 0")
        .execute(&mut *c)
        .await
        .unwrap();
    sqlx::query(&figures_backfill(backend))
        .execute(&mut *c)
        .await
        .unwrap();
    drop(c);
    assert_eq!(figures(&store).await, want);
}

/// Numbers below `n` from a small linear congruential generator: the same ones every run.
fn numbers(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    }
}

conformance!(credit_by_period_agrees_with_the_ledger);
/// Credit summed per period (whole hours from the roll-up, part-hours from the ledger) equals
/// summing the ledger entries one by one, for periods bounded on the hour, the half and the
/// quarter hour and inside one hour: after entries are posted, and after a replay deletes the
/// credit earned and reversed.
async fn credit_by_period_agrees_with_the_ledger(backend: TestBackend) {
    use tillbridge_store::loyalty::{self, LedgerRow};
    let Some((_db, store)) = open(backend).await else {
        return;
    };
    let mut c = store.conn().await.unwrap();
    let members: Vec<(String, String, i64)> = (0..3)
        .map(|i| (format!("mem{i}"), format!("m{i}@example.com"), 0))
        .collect();
    loyalty::seed_members(&mut c, "m1", &members, &[], 0)
        .await
        .unwrap();
    let mut next = numbers(7);
    const HOUR: i64 = 3_600_000;
    let base = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    let kinds = ["earned", "reversed", "redeemed", "manual"];
    let mut entries = Vec::new();
    for i in 0..400 {
        let kind = kinds[next(4) as usize];
        let amount = next(2_000) as i64 - 500;
        let at = base + next(10 * 24 * HOUR as u64) as i64;
        let mut row = LedgerRow {
            id: format!("cred{i}"),
            member_id: format!("mem{}", next(3)),
            kind: kind.to_owned(),
            amount_minor: amount,
            created_at: at,
            ..LedgerRow::default()
        };
        loyalty::post_entry(&mut c, "m1", &mut row).await.unwrap();
        entries.push((kind, amount, at));
    }
    // Days from local midnights in zones at +00:00, +05:30 and +05:45, and a part of one hour.
    let mut periods = Vec::new();
    for (k, offset) in [0, 30, 45].iter().enumerate() {
        for day in 0..3 {
            let from = base + (day * 3 + k as i64) * 24 * HOUR - offset * 60_000;
            periods.push((periods.len() as i64, from, from + 24 * HOUR));
        }
    }
    periods.push((
        periods.len() as i64,
        base + 30 * HOUR + 600_000,
        base + 30 * HOUR + 3_000_000,
    ));
    periods.push((periods.len() as i64, base - HOUR, base + 12 * 24 * HOUR));
    for when in ["after posting", "after a replay"] {
        if when == "after a replay" {
            loyalty::reset_for_replay(&mut c, "m1", 0, 0).await.unwrap();
            entries.retain(|(kind, _, _)| !matches!(*kind, "earned" | "reversed"));
        }
        let mut want = std::collections::BTreeMap::new();
        for &(period, from, to) in &periods {
            for &(kind, amount, at) in &entries {
                if at >= from && at < to {
                    *want.entry((period, kind.to_owned())).or_insert(0) += amount;
                }
            }
        }
        let got: std::collections::BTreeMap<(i64, String), i64> =
            loyalty::ledger_by_period(&mut c, "m1", &periods)
                .await
                .unwrap()
                .into_iter()
                .map(|(p, k, a)| ((p, k), a))
                .collect();
        let nonzero = |m: &std::collections::BTreeMap<(i64, String), i64>| {
            m.iter()
                .filter(|(_, a)| **a != 0)
                .map(|(k, a)| (k.clone(), *a))
                .collect::<Vec<_>>()
        };
        assert_eq!(nonzero(&got), nonzero(&want), "{when}");
        assert!(!want.is_empty());
    }
}

conformance!(member_figures_agree_with_counting_each_purchase);
/// Insights' member figures, summed by the database per period, for a range and for all time,
/// agree with counting every purchase one by one: after a bulk insert, and after purchases
/// change date, net and member one at a time and two members merge.
async fn member_figures_agree_with_counting_each_purchase(backend: TestBackend) {
    use tillbridge_store::loyalty::{self, PurchaseRow};
    let Some((_db, store)) = open(backend).await else {
        return;
    };
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let date = |k: i64| (start + chrono::Duration::days(k)).to_string();
    let mut next = numbers(42);
    let members: Vec<(String, String, i64)> = (0..60)
        .map(|i| (format!("mem{i}"), format!("m{i}@example.com"), 0))
        .collect();
    // (member, connection, sale, business date, net eligible)
    let mut purchases = Vec::new();
    for (i, (id, _, _)) in members.iter().enumerate() {
        for k in 0..next(6) {
            // Some refunds and zero-value purchases; dates over 90 days.
            let net = match next(10) {
                0 => -(next(500) as i64) - 1,
                1 => 0,
                _ => next(5_000) as i64 + 1,
            };
            purchases.push((
                id.clone(),
                "con1".to_owned(),
                format!("sale-{i}-{k}"),
                date(next(90) as i64),
                net,
            ));
        }
    }
    let mut c = store.conn().await.unwrap();
    loyalty::seed_members(&mut c, "m1", &members, &purchases, 0)
        .await
        .unwrap();
    loyalty::refresh_all_member_purchases(&mut c, "m1")
        .await
        .unwrap();

    check_member_figures(&mut c, &purchases, "after the bulk insert").await;

    // One purchase at a time, as the loyalty consumer writes them: earlier and later dates,
    // nets that stop and start counting, a purchase gaining its member.
    for i in (0..purchases.len()).step_by(3) {
        let (member, connection, sale, _, _) = purchases[i].clone();
        let day = date(next(90) as i64);
        let net = if next(4) == 0 {
            0
        } else {
            next(3_000) as i64 + 1
        };
        let gains_member = next(5) == 0;
        let closed_at = next(1_000) as i64;
        let row = |member_id: Option<String>| PurchaseRow {
            connection_id: connection.clone(),
            sale_external_id: sale.clone(),
            member_id,
            customer_email: None,
            sale_date: Some(day.clone()),
            closed_at,
            rule: None,
            net_eligible_minor: net,
            accounted_minor: 0,
            prev_date: None,
            prev2_date: None,
        };
        if gains_member {
            // Unattributed first (as a sale before its buyer joined), then claimed.
            loyalty::put_purchase(&mut c, "m1", &row(None), 0)
                .await
                .unwrap();
            loyalty::refresh_member_purchases(&mut c, "m1", &member)
                .await
                .unwrap();
        }
        loyalty::put_purchase(&mut c, "m1", &row(Some(member.clone())), 0)
            .await
            .unwrap();
        loyalty::refresh_member_purchases(&mut c, "m1", &member)
            .await
            .unwrap();
        purchases[i].3 = day;
        purchases[i].4 = net;
    }
    check_member_figures(&mut c, &purchases, "after single changes").await;

    // A merge moves every purchase of one member onto another.
    loyalty::absorb_member(&mut c, "m1", "mem7", "mem8", 0)
        .await
        .unwrap();
    for p in purchases.iter_mut().filter(|p| p.0 == "mem7") {
        p.0 = "mem8".to_owned();
    }
    check_member_figures(&mut c, &purchases, "after a merge").await;
    let counts = loyalty::member_counts(&mut c, "m1").await.unwrap();
    assert_eq!(counts.members, 59);
    assert_eq!(counts.segments, vec![(None, 59)]);
}

type SeededPurchase = (String, String, String, String, i64);

/// Members' figures of purchases (member, connection, sale, date, net) counted one by one, and
/// the spend of the members who bought.
fn count_member_figures(
    rows: &[&SeededPurchase],
) -> (tillbridge_store::loyalty::MemberFigures, i64) {
    let mut per: std::collections::HashMap<&str, (i64, i64)> = Default::default();
    for (member, _, _, _, net) in rows {
        let e = per.entry(member.as_str()).or_default();
        e.0 += net;
        e.1 += i64::from(*net > 0);
    }
    let figures = tillbridge_store::loyalty::MemberFigures {
        spend_minor: per.values().map(|v| v.0).sum(),
        orders: per.values().map(|v| v.1).sum(),
        buying: per.values().filter(|v| v.1 > 0).count() as i64,
        repeat: per.values().filter(|v| v.1 > 1).count() as i64,
    };
    let buying_spend = per.values().filter(|v| v.1 > 0).map(|v| v.0).sum();
    (figures, buying_spend)
}

/// The database's member figures per period and for the range, for ranges that cut periods
/// short at either end (or not) and leave purchases after them, and for all time, equal
/// counting `purchases` one by one.
async fn check_member_figures(
    c: &mut tillbridge_store::Conn,
    purchases: &[SeededPurchase],
    when: &str,
) {
    use chrono::{Days, NaiveDate};
    use tillbridge_model::business_day::Period;
    use tillbridge_store::loyalty;
    let day = |k: u64| NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Days::new(k);
    for (period, from, to) in [
        (Period::Week, day(10), day(79)),
        (Period::Week, day(4), day(95)),
        (Period::Month, day(0), day(89)),
        (Period::Month, day(17), day(70)),
        (Period::Day, day(30), day(45)),
    ] {
        let (by_period, range) = loyalty::member_figures_by_period(c, "m1", period, from, to)
            .await
            .unwrap();
        let within = |lo: NaiveDate, hi: NaiveDate| -> Vec<&SeededPurchase> {
            let (lo, hi) = (lo.max(from).to_string(), hi.min(to).to_string());
            purchases
                .iter()
                .filter(|p| p.3 >= lo && p.3 <= hi)
                .collect()
        };
        let mut start = period.start(from);
        while start <= to {
            let next = period.next(start);
            let got = by_period
                .iter()
                .find(|(s, _)| *s == start)
                .map(|(_, f)| f.clone())
                .unwrap_or_default();
            let want = count_member_figures(&within(start, next - Days::new(1))).0;
            assert_eq!(got, want, "{period:?} from {start} of {from}..={to} {when}");
            start = next;
        }
        assert!(by_period
            .iter()
            .all(|(s, _)| *s >= period.start(from) && *s <= to));
        let want = count_member_figures(&within(from, to)).0;
        assert_eq!(range, want, "the range {from}..={to} {when}");
    }
    let all: Vec<_> = purchases.iter().collect();
    let (lifetime, buying_spend) = count_member_figures(&all);
    let counts = loyalty::member_counts(c, "m1").await.unwrap();
    assert_eq!(
        (counts.buying, counts.repeat, counts.buying_spend_minor),
        (lifetime.buying, lifetime.repeat, buying_spend),
        "all time {when}"
    );
    assert!(
        lifetime.repeat > 0 && lifetime.buying > lifetime.repeat,
        "{lifetime:?}"
    );
}

conformance!(members_spend_sums_the_window_including_both_ends);
async fn members_spend_sums_the_window_including_both_ends(backend: TestBackend) {
    use tillbridge_store::loyalty;
    let Some((_db, store)) = open(backend).await else {
        return;
    };
    let start = chrono::NaiveDate::from_ymd_opt(2025, 12, 1).unwrap();
    let date = |k: i64| (start + chrono::Duration::days(k)).to_string();
    let mut next = numbers(7);
    let members: Vec<(String, String, i64)> = (0..40)
        .map(|i| (format!("mem{i}"), format!("m{i}@example.com"), 0))
        .collect();
    let mut purchases = Vec::new();
    for (i, (id, _, _)) in members.iter().enumerate() {
        for k in 0..next(8) {
            let net = if next(6) == 0 {
                -(next(400) as i64)
            } else {
                next(9_000) as i64
            };
            let day = date(next(60) as i64);
            purchases.push((id.clone(), "con1".to_owned(), format!("s{i}-{k}"), day, net));
        }
    }
    let mut c = store.conn().await.unwrap();
    loyalty::seed_members(&mut c, "m1", &members, &purchases, 0)
        .await
        .unwrap();
    let ids: Vec<&str> = members.iter().map(|m| m.0.as_str()).collect();
    for (from, to) in [
        (Some(date(20)), date(40)),
        (Some(date(0)), date(0)),
        (None, date(35)),
        (Some(date(59)), date(90)),
    ] {
        let got = loyalty::members_spend(&mut c, "m1", &ids, from.as_deref(), &to)
            .await
            .unwrap();
        let mut want: std::collections::HashMap<String, i64> = Default::default();
        for (member, _, _, day, net) in &purchases {
            let inside = from.as_ref().is_none_or(|f| day >= f) && *day <= to;
            *want.entry(member.clone()).or_default() += if inside { *net } else { 0 };
        }
        assert_eq!(got, want, "from {from:?} to {to}");
    }
}
