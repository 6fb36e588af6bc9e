//! Financial reports against the sandbox's truth: per location and business date, with payment
//! methods, tax rates and accounting groups, refunds and voids; past days closed and today
//! open; one business date alone equals that day of a range; bad ranges are refused.

use crate::common::*;
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The figures both sides give, in one shape: counts and sums, and the splits as sorted lists.
fn comparable(day: &Value) -> Value {
    let list = |name: &str, keys: &[&str]| -> Value {
        let mut items: Vec<Value> = day[name]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                keys.iter()
                    .map(|k| (k.to_string(), e[*k].clone()))
                    .collect()
            })
            .collect();
        items.sort_by_key(|v| v.to_string());
        Value::Array(items)
    };
    json!({
        "orders": day["orders"], "sales": day["sales"], "refunds": day["refunds"], "voids": day["voids"],
        "total_minor": day["total_minor"], "tax_minor": day["tax_minor"], "tip_minor": day["tip_minor"],
        "by_payment_method": list("by_payment_method", &["code", "payments", "amount_minor", "tip_minor"]),
        "by_tax_rate": list("by_tax_rate", &["rate_bp", "total_minor", "tax_minor"]),
        "by_accounting_group": list("by_accounting_group", &["id", "name", "quantity_milli", "total_minor", "tax_minor"]),
    })
}

/// Compares every location's report over the truth's whole range with the truth, day by day;
/// returns the truth's days, the range and the report.
async fn assert_report_is_the_truth(
    w: &World,
    sm: &Value,
    m: &str,
    c: &str,
) -> (Vec<Value>, String, String, Value) {
    let truth = w.sb.truth(sm).await;
    let days = truth["financials"].as_array().unwrap().clone();
    assert!(days.len() >= 4, "{truth}");
    let dates: Vec<&str> = days
        .iter()
        .map(|d| d["business_date"].as_str().unwrap())
        .collect();
    let (from, until) = (
        dates.iter().min().unwrap().to_string(),
        dates.iter().max().unwrap().to_string(),
    );
    let report = w
        .api
        .get(&format!(
            "/api/v1/merchants/{m}/financials?from={from}&until={until}"
        ))
        .await
        .unwrap();
    let locations = report["locations"].as_array().unwrap();
    assert_eq!(locations.len(), sm["locations"].as_array().unwrap().len());
    let mut compared = 0;
    for loc in locations {
        assert_eq!(loc["connection_id"], c);
        let pos = loc["pos_location_id"].as_str().unwrap();
        let mut sum_total = 0;
        for day in loc["days"].as_array().unwrap() {
            let date = day["business_date"].as_str().unwrap();
            sum_total += day["total_minor"].as_i64().unwrap();
            match days
                .iter()
                .find(|t| t["location_id"] == pos && t["business_date"] == date)
            {
                Some(t) => {
                    assert_eq!(comparable(day), comparable(t), "{pos} on {date}");
                    compared += 1;
                }
                None => assert_eq!(day["orders"], 0, "{pos} on {date}: {day}"),
            }
            // Every past day is over and read; the last one is today's and still open.
            assert_eq!(day["closed"], date != until, "{pos} on {date}");
        }
        assert_eq!(loc["totals"]["total_minor"].as_i64().unwrap(), sum_total);
    }
    assert_eq!(
        compared,
        days.len(),
        "every day of the truth is in the report"
    );
    (days, from, until, report)
}

on_both_backends!(
    financial_reports_equal_the_truth_per_business_date,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let sm = w.sb.merchant(4, 12).await;
        let m = w.merchant().await;
        let c = w.connect(&m, &sm).await;
        assert!(w.drain().await.is_empty());
        // Today: a sale, a refund of one line of it and a void of another.
        let new = sell(&w, &sm, json!({ "count": 3 })).await;
        sell(
            &w,
            &sm,
            json!({ "kind": "refund", "of": new["sales"][0]["id"], "line_index": 0 }),
        )
        .await;
        sell(
            &w,
            &sm,
            json!({ "kind": "void", "of": new["sales"][1]["id"] }),
        )
        .await;
        sync(&w, &m, &[&c]).await;

        let (days, from, until, report) = assert_report_is_the_truth(&w, &sm, &m, &c).await;
        let locations = report["locations"].as_array().unwrap();
        let dates: Vec<&str> = days
            .iter()
            .map(|d| d["business_date"].as_str().unwrap())
            .collect();
        let today = days.iter().filter(|d| d["business_date"] == until.as_str());
        assert!(
            today.clone().any(|d| d["refunds"].as_i64().unwrap() > 0)
                && today.clone().any(|d| d["voids"].as_i64().unwrap() > 0),
            "today's refund and void are in it"
        );

        // One business date alone is that day of the range, for one location.
        let first = &locations[0];
        let pos = first["pos_location_id"].as_str().unwrap();
        let date = &dates[0];
        let daily = w
            .api
            .get(&format!(
                "/api/v1/merchants/{m}/financials?date={date}&connection_id={c}&pos_location_id={pos}"
            ))
            .await
            .unwrap();
        assert_eq!(daily["locations"].as_array().unwrap().len(), 1);
        let in_range = first["days"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["business_date"] == *date)
            .unwrap();
        assert_eq!(&daily["locations"][0]["days"][0], in_range);

        // Bad ranges say what is wrong.
        for (query, says) in [
            (format!("from={until}&until={from}"), "before"),
            ("from=2025-01-01&until=2026-06-01".to_owned(), "at most 366"),
            (
                "from=2026-13-01&until=2026-12-01".to_owned(),
                "business date",
            ),
            (format!("date={from}&from={from}&until={until}"), "either"),
            ("until=2026-01-01".to_owned(), "either"),
            (
                "date=2026-01-01&connection_id=con_nope".to_owned(),
                "con_nope",
            ),
        ] {
            let (status, body) = w
                .api
                .send(
                    Method::GET,
                    &format!("/api/v1/merchants/{m}/financials?{query}"),
                    None,
                )
                .await
                .unwrap();
            assert!(
                status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
                "{query}: {status} {body}"
            );
            assert!(body.to_string().contains(says), "{query}: {body}");
        }
        w.stop().await;
    }
);

on_both_backends!(
    x_and_r_financial_reports_equal_the_truth,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        for series in ["x", "r"] {
            let sm = if series == "x" {
                w.sb.merchant_x(4, 12).await
            } else {
                w.sb.merchant_r(4, 12).await
            };
            let m = w.merchant().await;
            let c = w.connect(&m, &sm).await;
            assert!(w.drain().await.is_empty());
            // Today: a sale and a refund of one of its lines.
            let new = sell(&w, &sm, json!({ "count": 2 })).await;
            sell(
                &w,
                &sm,
                json!({ "kind": "refund", "of": new["sales"][0]["id"], "line_index": 0 }),
            )
            .await;
            sync(&w, &m, &[&c]).await;
            let (days, ..) = assert_report_is_the_truth(&w, &sm, &m, &c).await;
            // Every line has its rate, and the methods are the ones the store defines.
            for d in &days {
                assert!(
                    d["by_tax_rate"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|r| r["rate_bp"] == 900),
                    "{series}: {d}"
                );
                assert!(
                    !d["by_payment_method"].as_array().unwrap().is_empty(),
                    "{series}: {d}"
                );
            }
        }
        w.stop().await;
    }
);
