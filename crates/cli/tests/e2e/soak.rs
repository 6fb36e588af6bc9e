//! Fault soak: live sales on a K-Series café, with webhooks, while the sandbox answers with 429
//! storms, 5xx and latency, duplicates, reorders and drops webhooks, and revokes the tokens
//! (the merchant reconnects). At the end every module's state equals what sandbox `/truth`
//! implies: the orders, the member's credit and stamps, and the departments' balances.

use crate::common::*;
use crate::labor::{assert_same, expected_between, fields, import, ours_between};
use crate::loyalty::{coffee_card, expected_credit, sku};
use crate::on_both_backends;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Europe::Copenhagen;
use serde_json::{json, Value};

const EMAIL: &str = "soak@example.com";

/// The business date (05:00 in Copenhagen) of an instant.
fn business_date(at: DateTime<Utc>) -> NaiveDate {
    (at.with_timezone(&Copenhagen).naive_local() - Duration::hours(5)).date()
}

/// A sale by the member: `hot` hot drinks and `pastries` pastries.
async fn member_sale(w: &World, k: &Value, nth: usize, hot: u32, pastries: u32) -> Value {
    sell(
        w,
        k,
        json!({ "customer_email": EMAIL.to_uppercase(), "lines": [
            { "sku": sku(k, "Hot Drinks", nth), "quantity": hot },
            { "sku": sku(k, "Pastry", nth), "quantity": pastries } ] }),
    )
    .await
}

fn assert_no_failures(failures: &[String], when: &str) {
    assert!(failures.is_empty(), "{when}: {failures:?}");
}

on_both_backends!(
    every_module_matches_the_truth_after_a_fault_soak,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let m = w.merchant().await;
        w.api
            .put(
                &format!("/api/v1/merchants/{m}/loyalty/program"),
                &json!({ "earning": { "mode": "step", "step_minor": 1000, "reward_minor": 100 } }),
            )
            .await
            .unwrap();
        // More stamps than the soak sells: the count alone is compared.
        w.api
            .post(
                &format!("/api/v1/merchants/{m}/punch-cards"),
                &json!({ "name": "Coffee card", "reward": "a free hot drink", "stamps_required": 1000,
                         "categories": [{ "name": "Hot Drinks" }], "mode": "per_item" }),
            )
            .await
            .unwrap();
        let k = w.sb.merchant(3, 10).await;
        let sid = k["id"].as_str().unwrap().to_owned();
        let c = w.connect(&m, &k).await;
        assert_no_failures(&w.drain().await, "the backfill");
        let member = w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/members"),
                &json!({ "email": EMAIL }),
            )
            .await
            .unwrap();
        let member = member["id"].as_str().unwrap().to_owned();
        w.api
            .put(
                &format!("/api/v1/merchants/{m}/labor/settings"),
                &json!({ "enabled": true, "connection_id": c }),
            )
            .await
            .unwrap();
        let location = k["locations"][0]["id"].as_str().unwrap().to_owned();
        let floor = w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/labor/departments"),
                &json!({
                    "name": "Floor", "timezone": "Europe/Copenhagen", "business_day_start": "05:00",
                    "client_number": location, "terminals": [], "fields": fields(true),
                }),
            )
            .await
            .unwrap();
        let departments = vec![(
            floor["id"].as_str().unwrap().to_owned(),
            location,
            None,
            true,
        )];
        let mut hot_drinks = 0;

        // The data API throttles, fails and lags while sales arrive.
        w.sb.fault(
            json!({ "kind": "rate_limit_storm", "count": 6, "retry_after": 1, "merchant": sid }),
        )
        .await;
        w.sb.fault(json!({ "kind": "server_error", "status": 503, "count": 3, "merchant": sid }))
            .await;
        w.sb.fault(json!({ "kind": "latency", "latency_ms": 200, "count": 4, "merchant": sid }))
            .await;
        let first = member_sale(&w, &k, 0, 2, 1).await;
        hot_drinks += 2;
        sell(&w, &k, json!({ "count": 3 })).await;
        assert_no_failures(&w.drain().await, "storms, 5xx and latency");
        let stats = w.sb.stats().await;
        assert!(
            stats["requests"]["k"]["rate_limited"].as_u64().unwrap() >= 6
                && stats["requests"]["k"]["server_errors"].as_u64().unwrap() >= 3,
            "the faults were met: {stats}"
        );

        // Webhooks come twice, newest first, or not at all.
        w.sb.fault(json!({ "kind": "duplicate_webhooks", "count": 2, "merchant": sid }))
            .await;
        w.sb.fault(json!({ "kind": "reorder_webhooks", "count": 1, "merchant": sid }))
            .await;
        member_sale(&w, &k, 1, 3, 2).await;
        hot_drinks += 3;
        sell(&w, &k, json!({ "count": 2 })).await;
        w.sb.fault(json!({ "kind": "drop_webhooks", "count": 1, "merchant": sid }))
            .await;
        // The first sale's hot drinks come back.
        sell(
            &w,
            &k,
            json!({ "kind": "refund", "of": first["sales"][0]["id"], "line_index": 0 }),
        )
        .await;
        hot_drinks -= 2;
        assert_no_failures(&w.drain().await, "webhook faults");
        // What no webhook announced, the next poll reads.
        w.clock.advance(chrono::Duration::seconds(61));
        assert_no_failures(&w.drain().await, "the poll after dropped webhooks");

        // The merchant changes the password: the tokens die, the streams pause, nothing is
        // read until the merchant reconnects.
        w.sb.fault(json!({ "kind": "revoke_tokens", "merchant": sid }))
            .await;
        member_sale(&w, &k, 2, 4, 2).await;
        hot_drinks += 4;
        request_sync(&w, &m, &c).await;
        let failures = w.drain().await;
        assert!(
            !failures.is_empty() && failures.iter().all(|f| f.contains("re-authorization")),
            "{failures:?}"
        );
        let start = w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/connections/{c}/reconnect"),
                &json!({}),
            )
            .await
            .unwrap();
        let (status, page) = tillbridge::client::consent(
            start["authorize_url"].as_str().unwrap(),
            k["login"]["username"].as_str().unwrap(),
            k["login"]["password"].as_str().unwrap(),
            "allow",
        )
        .await
        .unwrap();
        assert!(status.is_success(), "{page}");
        sell(&w, &k, json!({ "count": 2 })).await;
        assert_no_failures(&w.drain().await, "after the reconnect");

        // Orders: equal to the truth on every dimension, each once.
        let truth = w.sb.truth(&k).await;
        assert_matches_truth(&w.connection_summary(&m, &c).await, &truth);

        // Loyalty: "1.00 per 10.00" of the member's purchases net of the refund, and a stamp
        // per hot drink kept.
        let balance = w
            .api
            .get(&format!("/api/v1/merchants/{m}/members/{member}"))
            .await
            .unwrap()["balance_minor"]
            .clone();
        let want = expected_credit(&w, &m, EMAIL).await;
        assert!(want > 0);
        assert_eq!(balance, want);
        let card = coffee_card(&w, &m, &member).await;
        assert_eq!(
            (card["current"].as_i64(), card["lifetime"].as_i64()),
            (Some(hot_drinks), Some(hot_drinks)),
            "{card}"
        );

        // Labor: the days of the history and the soak, imported, equal the truth per hour.
        let until = business_date(w.clock.now());
        let from = until - Duration::days(4);
        let imported = import(
            &w,
            &m,
            json!({ "from": from.to_string(), "until": until.to_string() }),
        )
        .await;
        assert_eq!(imported["import"]["state"], "succeeded", "{imported}");
        let want = expected_between(&truth, &departments, false, from, until);
        assert!(want.len() > 50, "the days have data: {}", want.len());
        assert_same(
            &ours_between(
                &w.api,
                &m,
                &departments,
                &from.to_string(),
                &until.to_string(),
            )
            .await,
            &want,
        );
        w.stop().await;
    }
);
