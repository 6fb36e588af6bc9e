//! Event consumers that name the event types they read: they see exactly those, in order and
//! once, and their cursor moves past the rest without reading them.

use crate::common::*;
use crate::on_both_backends;
use std::sync::{Arc, Mutex};
use tillbridge_engine::consumers::{Consumer, ConsumerFuture};
use tillbridge_engine::Engine;
use tillbridge_store::events::EventRow;
use tillbridge_store::Tx;

/// Records the (sequence number, type) of every event it is given.
struct Recorder(Arc<Mutex<Vec<(i64, String)>>>);

impl Consumer for Recorder {
    fn name(&self) -> &'static str {
        "test-recorder"
    }

    fn event_types(&self) -> Option<&'static [&'static str]> {
        Some(&["test.wanted", "test.also"])
    }

    fn handle<'a>(
        &'a self,
        _engine: &'a Engine,
        _tx: &'a mut Tx,
        _merchant_id: &'a str,
        events: &'a [EventRow],
    ) -> ConsumerFuture<'a> {
        let mut seen = self.0.lock().unwrap();
        seen.extend(events.iter().map(|e| (e.seq, e.event_type.clone())));
        Box::pin(async { Ok(()) })
    }
}

/// Appends events of these types, returning their sequence numbers.
async fn append(w: &World, m: &str, types: &[&str]) -> Vec<i64> {
    let mut tx = w.hub.engine.store().begin().await.unwrap();
    let mut seqs = Vec::new();
    for t in types {
        let seq = tillbridge_engine::merchants::emit(&mut tx, m, t, "s", serde_json::json!({}), 0)
            .await
            .unwrap();
        seqs.push(seq);
    }
    tillbridge_store::commit(tx).await.unwrap();
    seqs
}

/// The recorder's cursor: the last sequence number it has passed.
async fn cursor(w: &World, m: &str) -> i64 {
    let mut c = w.hub.engine.store().conn().await.unwrap();
    let jobs = tillbridge_store::jobs::list_for_connection(&mut c, m, "")
        .await
        .unwrap();
    let job = jobs
        .iter()
        .find(|j| j.stream_key == "test-recorder")
        .unwrap();
    job.checkpoint["after"].as_i64().unwrap()
}

on_both_backends!(
    a_consumer_reads_only_its_event_types_and_passes_the_rest,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let m = w.merchant().await;
        let seen = Arc::new(Mutex::new(Vec::new()));
        w.hub
            .engine
            .register_consumer(Arc::new(Recorder(seen.clone())))
            .await
            .unwrap();
        // More than a batch (500) of other events between wanted ones, and wanted ones of two
        // types close together.
        let mut types: Vec<&str> = Vec::new();
        for i in 0..1_400 {
            types.push(match i % 97 {
                0 => "test.wanted",
                1 => "test.also",
                _ => "test.other",
            });
        }
        types.extend(["test.other"; 700]);
        let seqs = append(&w, &m, &types).await;
        assert!(w.drain().await.is_empty());
        let want: Vec<(i64, String)> = seqs
            .iter()
            .zip(&types)
            .filter(|(_, t)| **t != "test.other")
            .map(|(s, t)| (*s, (*t).to_owned()))
            .collect();
        assert_eq!(*seen.lock().unwrap(), want);

        assert_eq!(cursor(&w, &m).await, *seqs.last().unwrap());

        // Only other events: nothing to handle, and the cursor moves past them, so the next
        // wanted event is the only one handled next.
        let others = append(&w, &m, &["test.other"; 600]).await;
        assert!(w.drain().await.is_empty());
        assert_eq!(seen.lock().unwrap().len(), want.len());
        assert_eq!(cursor(&w, &m).await, *others.last().unwrap());
        let next = append(&w, &m, &["test.other", "test.wanted"]).await;
        assert!(w.drain().await.is_empty());
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), want.len() + 1, "each wanted event once");
        assert_eq!(seen.last(), Some(&(next[1], "test.wanted".to_owned())));
        w.stop().await;
    }
);
