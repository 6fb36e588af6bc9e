//! Backfilling about 10,000 sales per series through the sandbox's real rate limits (time scale
//! 1) uses no more requests than the pages need and receives no 429. The figures are printed.

use crate::common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_sales_per_series_without_a_429() {
    let w = World::start(Backend::Sqlite).await.unwrap();
    let m = w.merchant().await;
    let mut channels = Vec::new();
    for series in ["k", "x", "r", "o"] {
        let body = json!({ "series": series, "locations": 2, "registers_per_location": 1, "customers": 60, "history_days": 125, "sales_per_day": 40 });
        let sm = w.sb.api.post("/_sandbox/merchants", &body).await.unwrap();
        assert!(
            sm["sales"].as_u64().unwrap() >= 10_000,
            "{series}: {}",
            sm["sales"]
        );
        let c = w.connect(&m, &sm).await;
        channels.push((series, sm, c));
    }
    let failures = w.drain().await;
    assert!(failures.is_empty(), "{failures:?}");
    let stats = w.sb.stats().await;
    eprintln!("series  orders  requests  per 1,000 orders  429s");
    for (series, sm, c) in &channels {
        let truth = w.sb.truth(sm).await;
        assert_matches_truth(&w.connection_summary(&m, c).await, &truth);
        let s = &stats["requests"][series];
        let orders = truth["orders"].as_f64().unwrap();
        let requests = s["requests"].as_f64().unwrap();
        eprintln!(
            "{series:<6}  {orders:>6}  {requests:>8}  {:>16.1}  {:>4}",
            requests * 1000.0 / orders,
            s["rate_limited"]
        );
        assert_eq!(s["rate_limited"], 0, "{series} received a 429: {stats}");
    }
    w.stop().await;
}
