use crate::common::*;
use crate::on_both_backends;
use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Europe::Copenhagen;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tillbridge::client::ApiClient;

const WEEK_FROM: &str = "2026-10-19";
const WEEK_UNTIL: &str = "2026-10-25";

/// The fields every test department fills; the Shop keeps Transactions as a daily total.
pub(crate) fn fields(hourly_transactions: bool) -> Value {
    json!([
        { "number": "5266", "name": "Omsætning brutto", "field_type": "gross_sales", "hourly": true },
        { "number": "5267", "name": "Omsætning netto", "field_type": "net_sales", "hourly": true },
        { "number": "5268", "name": "Rabatter", "field_type": "discounts", "hourly": true },
        { "number": "5269", "name": "Returneringer", "field_type": "returns", "hourly": true },
        { "number": "5270", "name": "Transaktioner", "field_type": "transactions", "hourly": hourly_transactions },
        { "number": "5271", "name": "Solgte varer", "field_type": "goods_sold", "hourly": true },
        { "number": "5272", "name": "Returnerede varer", "field_type": "returned_goods", "hourly": true },
        { "number": "5273", "name": "Gæster", "field_type": "visitors", "hourly": true },
    ])
}

/// A truth figure for a field type.
fn truth_value(h: &Value, field: &str, excl: bool) -> i64 {
    let g = |k: &str| h[k].as_i64().unwrap();
    let sfx = if excl { "_excl_minor" } else { "_minor" };
    let gross = g(&format!("gross{sfx}"));
    let discount = g(&format!("discount{sfx}"));
    let returns = g(&format!("returns{sfx}"));
    match field {
        "gross_sales" => gross,
        "discounts" => discount,
        "returns" => returns,
        "net_sales" => gross - discount - returns,
        "transactions" => g("transactions"),
        "goods_sold" => g("goods_sold") * 1000,
        "returned_goods" => g("goods_returned") * 1000,
        "visitors" => g("covers"),
        other => panic!("unknown field {other}"),
    }
}

pub(crate) type Grid = BTreeMap<(String, String, Option<u32>, String), i64>;

/// What sandbox `/truth` says each department's weekly balance holds, computed here from the
/// per-register UTC hours: local hour in Copenhagen, business days starting at 05:00.
fn expected(
    truth: &Value,
    departments: &[(String, String, Option<String>, bool)],
    excl: bool,
) -> Grid {
    expected_between(
        truth,
        departments,
        excl,
        WEEK_FROM.parse().unwrap(),
        WEEK_UNTIL.parse().unwrap(),
    )
}

/// [`expected`] for the business dates `from..=until`.
pub(crate) fn expected_between(
    truth: &Value,
    departments: &[(String, String, Option<String>, bool)],
    excl: bool,
    from: NaiveDate,
    until: NaiveDate,
) -> Grid {
    let mut grid = Grid::new();
    for (dept, _, _, hourly_tx) in departments {
        if !hourly_tx {
            for d in from.iter_days().take_while(|d| *d <= until) {
                grid.insert(
                    (dept.clone(), d.to_string(), None, "transactions".into()),
                    0,
                );
            }
        }
    }
    for h in truth["labor"].as_array().unwrap() {
        let at: DateTime<Utc> = h["hour"].as_str().unwrap().parse().unwrap();
        let local = at.with_timezone(&Copenhagen).naive_local();
        let date = (local - Duration::hours(5)).date();
        if date < from || date > until {
            continue;
        }
        let Some((dept, _, _, hourly_tx)) = departments.iter().find(|(_, loc, reg, _)| {
            loc == h["location_id"].as_str().unwrap()
                && reg
                    .as_ref()
                    .is_none_or(|r| r == h["register_id"].as_str().unwrap())
        }) else {
            continue;
        };
        for field in [
            "gross_sales",
            "net_sales",
            "discounts",
            "returns",
            "transactions",
            "goods_sold",
            "returned_goods",
            "visitors",
        ] {
            let hour = (field != "transactions" || *hourly_tx).then_some(local.hour());
            *grid
                .entry((dept.clone(), date.to_string(), hour, field.into()))
                .or_default() += truth_value(h, field, excl);
        }
    }
    // Hourly fields list only hours with a value.
    grid.retain(|(_, _, hour, _), v| hour.is_none() || *v != 0);
    grid
}

async fn balance(w: &World, m: &str, dept: &str) -> Value {
    balance_between(&w.api, m, dept, WEEK_FROM, WEEK_UNTIL).await
}

async fn balance_between(api: &ApiClient, m: &str, dept: &str, from: &str, until: &str) -> Value {
    api.get(&format!(
        "/api/v1/merchants/{m}/labor/departments/{dept}/balance?from={from}&until={until}"
    ))
    .await
    .unwrap()
}

async fn ours(w: &World, m: &str, departments: &[(String, String, Option<String>, bool)]) -> Grid {
    ours_between(&w.api, m, departments, WEEK_FROM, WEEK_UNTIL).await
}

/// The departments' balances for the business dates `from..=until`, as a grid.
pub(crate) async fn ours_between(
    api: &ApiClient,
    m: &str,
    departments: &[(String, String, Option<String>, bool)],
    from: &str,
    until: &str,
) -> Grid {
    let mut grid = Grid::new();
    for (dept, ..) in departments {
        let b = balance_between(api, m, dept, from, until).await;
        for day in b["days"].as_array().unwrap() {
            for v in day["values"].as_array().unwrap() {
                grid.insert(
                    (
                        dept.clone(),
                        day["business_date"].as_str().unwrap().into(),
                        v["hour"].as_u64().map(|h| h as u32),
                        v["field_type"].as_str().unwrap().into(),
                    ),
                    v["value"].as_i64().unwrap(),
                );
            }
        }
    }
    grid
}

pub(crate) fn assert_same(ours: &Grid, want: &Grid) {
    for (k, v) in want {
        assert_eq!(ours.get(k), Some(v), "{k:?}");
    }
    for (k, v) in ours {
        assert_eq!(want.get(k), Some(v), "{k:?} is not in the truth");
    }
}

pub(crate) async fn import(w: &World, m: &str, body: Value) -> Value {
    let started = w
        .api
        .post(&format!("/api/v1/merchants/{m}/labor/imports"), &body)
        .await
        .unwrap();
    assert_eq!(started["state"], "queued", "{started}");
    assert!(w.drain().await.is_empty());
    let id = started["id"].as_str().unwrap();
    w.api
        .get(&format!("/api/v1/merchants/{m}/labor/imports/{id}"))
        .await
        .unwrap()
}

async fn event_count(w: &World, m: &str, kind: &str) -> usize {
    w.api
        .get(&format!(
            "/api/v1/merchants/{m}/events?type={kind}&limit=1000"
        ))
        .await
        .unwrap()["events"]
        .as_array()
        .unwrap()
        .len()
}

async fn one_day(w: &World, m: &str, dept: &str, date: &str) -> Value {
    let b = w
        .api
        .get(&format!(
            "/api/v1/merchants/{m}/labor/departments/{dept}/balance?from={date}&until={date}"
        ))
        .await
        .unwrap();
    b["days"][0].clone()
}

fn sku(sm: &Value, i: usize) -> Value {
    sm["menu"][i]["sku"].clone()
}

/// Sets up a K-Series café with two locations (two registers each) and the scenario's sales,
/// syncs it, and creates three departments: Bar and Kitchen split location 1 by register, the
/// Shop takes location 2.
async fn scenario(
    w: &World,
) -> (
    String,
    String,
    Value,
    Vec<(String, String, Option<String>, bool)>,
    Value,
) {
    let k = w.sb.merchant(36, 12).await;
    let loc = |i: usize| k["locations"][i]["id"].as_str().unwrap().to_owned();
    let reg = |i: usize, r: usize| {
        k["locations"][i]["registers"][r]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // The autumn DST night: 02:30 local happens twice (00:30 and 01:30 UTC); one bucket.
    sell(w, &k, json!({ "at": ["2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"], "location_id": loc(0), "register_id": reg(0, 0),
        "lines": [{ "sku": sku(&k, 0), "quantity": 2 }, { "sku": sku(&k, 3), "quantity": 1 }] })).await;
    // 04:30 local belongs to the previous business day; 05:30 to the day itself.
    sell(w, &k, json!({ "at": ["2026-10-23T02:30:00Z", "2026-10-23T03:30:00Z"], "location_id": loc(0), "register_id": reg(0, 1),
        "lines": [{ "sku": sku(&k, 1), "quantity": 3 }] })).await;
    // A refund on a later day, and a void on a later day.
    let refunded = sell(
        w,
        &k,
        json!({ "at": ["2026-10-21T10:00:00Z"], "location_id": loc(0), "register_id": reg(0, 1),
        "lines": [{ "sku": sku(&k, 2), "quantity": 2 }, { "sku": sku(&k, 4), "quantity": 1 }] }),
    )
    .await;
    sell(w, &k, json!({ "kind": "refund", "of": refunded["sales"][0]["id"], "line_index": 0, "at": ["2026-10-22T09:00:00Z"] })).await;
    let voided = sell(
        w,
        &k,
        json!({ "at": ["2026-10-20T12:00:00Z"], "location_id": loc(1),
        "lines": [{ "sku": sku(&k, 5), "quantity": 4 }] }),
    )
    .await;
    sell(
        w,
        &k,
        json!({ "kind": "void", "of": voided["sales"][0]["id"], "at": ["2026-10-21T08:00:00Z"] }),
    )
    .await;

    // A Bar sale at 13:15 local that the POS voids later (after its day was approved).
    let late = sell(
        w,
        &k,
        json!({ "at": ["2026-10-21T11:15:00Z"], "location_id": loc(0), "register_id": reg(0, 0),
        "lines": [{ "sku": sku(&k, 0), "quantity": 5 }] }),
    )
    .await;
    let late = late["sales"][0]["id"].clone();

    let m = w.merchant().await;
    let c = w.connect(&m, &k).await;
    sync(w, &m, &[&c]).await;
    let settings = w
        .api
        .put(
            &format!("/api/v1/merchants/{m}/labor/settings"),
            &json!({ "enabled": true, "connection_id": c }),
        )
        .await
        .unwrap();
    assert_eq!(settings["vat_basis"], "included");
    let mut departments = Vec::new();
    for (name, location, register, hourly_tx) in [
        ("Bar", loc(0), Some(reg(0, 0)), true),
        ("Kitchen", loc(0), Some(reg(0, 1)), true),
        ("Shop", loc(1), None, false),
    ] {
        let d = w
            .api
            .post(&format!("/api/v1/merchants/{m}/labor/departments"), &json!({
                "name": name, "timezone": "Europe/Copenhagen", "business_day_start": "05:00", "client_number": location,
                "terminals": register.iter().collect::<Vec<_>>(), "fields": fields(hourly_tx),
            }))
            .await
            .unwrap();
        departments.push((
            d["id"].as_str().unwrap().to_owned(),
            location,
            register,
            hourly_tx,
        ));
    }
    (m, c, k, departments, late)
}

on_both_backends!(
    the_weekly_balance_matches_the_sandbox_truth_per_hour,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let (m, _c, k, departments, _) = scenario(&w).await;
        // A register already taken by the Bar is refused, and changes nothing.
        let taken = w
            .api
            .call(reqwest::Method::POST, &format!("/api/v1/merchants/{m}/labor/departments"), Some(&json!({
                "name": "Terrace", "timezone": "Europe/Copenhagen", "client_number": departments[0].1, "terminals": [departments[0].2],
            })))
            .await;
        let err = taken.unwrap_err().to_string();
        assert!(
            err.contains("409") && err.contains("already belongs to department `Bar`"),
            "{err}"
        );

        let done = import(&w, &m, json!({ "from": WEEK_FROM, "until": WEEK_UNTIL })).await;
        assert_eq!(done["import"]["state"], "succeeded", "{done}");
        assert_eq!(done["import"]["days_total"], 21);
        assert_eq!(done["import"]["days_done"], 21);
        let truth = w.sb.truth(&k).await;
        let want = expected(&truth, &departments, false);
        assert!(want.len() > 200, "the week has data: {}", want.len());
        // The scenario's own sales are in the buckets the rules say.
        let bar = &departments[0].0;
        assert!(want.contains_key(&(
            bar.clone(),
            "2026-10-24".into(),
            Some(2),
            "transactions".into()
        )));
        let first = ours(&w, &m, &departments).await;
        assert_same(&first, &want);
        let days = balance(&w, &m, bar).await;
        assert!(
            days["days"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["import_status"] == "ok"),
            "{days}"
        );

        // Twice gives the same numbers, never doubled, and announces nothing new.
        let imported = event_count(&w, &m, "labor.day_imported").await;
        assert_eq!(imported, 21);
        import(&w, &m, json!({ "from": WEEK_FROM, "until": WEEK_UNTIL })).await;
        assert_eq!(ours(&w, &m, &departments).await, first);
        assert_eq!(event_count(&w, &m, "labor.day_imported").await, imported);

        // Without VAT, every amount follows the truth's VAT-exclusive figures.
        let mut s = w
            .api
            .get(&format!("/api/v1/merchants/{m}/labor/settings"))
            .await
            .unwrap();
        s["vat_basis"] = json!("excluded");
        for k in ["enabled_at", "last_import_at", "last_confirm_at"] {
            s.as_object_mut().unwrap().remove(k);
        }
        w.api
            .put(&format!("/api/v1/merchants/{m}/labor/settings"), &s)
            .await
            .unwrap();
        import(&w, &m, json!({ "from": WEEK_FROM, "until": WEEK_UNTIL })).await;
        assert_same(
            &ours(&w, &m, &departments).await,
            &expected(&truth, &departments, true),
        );
        w.stop().await;
    }
);

on_both_backends!(
    approved_days_are_flagged_and_overwritten_only_on_request,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let (m, c, k, departments, late) = scenario(&w).await;
        import(&w, &m, json!({ "from": WEEK_FROM, "until": WEEK_UNTIL })).await;
        let bar = departments[0].0.clone();
        let confirmed = w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/labor/departments/{bar}/days/2026-10-21/confirm"),
                &json!({}),
            )
            .await
            .unwrap();
        assert!(
            confirmed["confirmed_by"]
                .as_str()
                .unwrap()
                .starts_with("api-key"),
            "{confirmed}"
        );
        let before = balance(&w, &m, &bar).await;
        let day = |b: &Value| {
            b["days"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["business_date"] == "2026-10-21")
                .unwrap()
                .clone()
        };

        // A late correction in the POS: a sale of the approved day is voided today.
        sell(&w, &k, json!({ "kind": "void", "of": late })).await;
        sync(&w, &m, &[&c]).await;
        let again = import(
            &w,
            &m,
            json!({ "departments": [bar], "from": "2026-10-21", "until": "2026-10-21" }),
        )
        .await;
        assert_eq!(again["import"]["state"], "succeeded");
        let flagged = balance(&w, &m, &bar).await;
        assert_eq!(
            day(&flagged)["values"],
            day(&before)["values"],
            "an approved day is untouched"
        );
        let diffs = day(&flagged)["discrepancy"].as_array().unwrap().clone();
        assert!(
            diffs
                .iter()
                .any(|d| d["hour"] == 13 && d["field_type"] == "transactions"),
            "{diffs:?}"
        );
        assert_eq!(event_count(&w, &m, "labor.day_flagged").await, 1);
        assert!(again["audit"].as_array().unwrap().is_empty());

        // Overwrite approved numbers: the day takes the POS numbers, stays approved, and the
        // import's audit holds the old and the new values.
        let over = import(&w, &m, json!({ "departments": [bar], "from": "2026-10-21", "until": "2026-10-21", "overwrite_approved": true })).await;
        let audit = over["audit"].as_array().unwrap();
        assert_eq!(audit.len(), 1, "{over}");
        assert_eq!(audit[0]["business_date"], "2026-10-21");
        assert!(audit[0]["actor"].as_str().unwrap().contains("test admin"));
        assert_ne!(audit[0]["old_values"], audit[0]["new_values"]);
        let after = day(&balance(&w, &m, &bar).await);
        assert!(
            after["confirmed_at"].is_i64() && after["discrepancy"].is_null(),
            "{after}"
        );
        let truth = w.sb.truth(&k).await;
        assert_same(
            &ours(&w, &m, &departments).await,
            &expected(&truth, &departments, false),
        );

        // CSV export: one line per value, with the field number and type.
        let (status, csv) = w
            .api
            .send(
                reqwest::Method::GET,
                &format!(
                    "/api/v1/merchants/{m}/labor/balance.csv?week=2026-10-21&department_id={bar}"
                ),
                None,
            )
            .await
            .unwrap();
        assert!(status.is_success());
        let csv = csv.as_str().unwrap().to_owned();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("date,hour,department,field_number,field_type,value")
        );
        let values: usize = balance(&w, &m, &bar).await["days"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["values"].as_array().unwrap().len())
            .sum();
        assert_eq!(lines.clone().count(), values);
        // The two sales of the repeated 02:30 are one bucket.
        assert!(
            lines.any(|l| l == "2026-10-24,02:00,\"Bar\",\"5270\",transactions,2"),
            "{csv}"
        );
        w.stop().await;
    }
);

on_both_backends!(
    the_schedule_runs_at_two_local_across_dst_and_auto_confirm_skips_failed_imports,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let (m, c, k, departments, _) = scenario(&w).await;
        let engine = &w.hub.engine;
        let to = |at: &str| {
            let target: DateTime<Utc> = at.parse().unwrap();
            let by = target - w.clock.now();
            assert!(by > Duration::zero(), "the clock only moves forward");
            w.clock.advance(by);
        };
        let last_import = || async {
            let s = w
                .api
                .get(&format!("/api/v1/merchants/{m}/labor/settings"))
                .await
                .unwrap();
            DateTime::<Utc>::from_timestamp_millis(s["last_import_at"].as_i64().unwrap())
                .unwrap()
                .to_rfc3339()
        };
        let run = || async {
            tillbridge_labor::schedule::run_due(engine, &m)
                .await
                .unwrap()
        };

        // Spring 2027: 02:00 does not exist on 28 March; the run happens as the gap ends.
        to("2027-03-28T00:59:00Z");
        assert_eq!(run().await, ["import"]);
        assert_eq!(last_import().await, "2027-03-27T01:00:00+00:00");
        assert!(run().await.is_empty(), "one run per occurrence");
        to("2027-03-28T01:00:30Z");
        assert_eq!(run().await, ["import"]);
        assert_eq!(last_import().await, "2027-03-28T01:00:00+00:00");
        // Summer time: 02:00 CEST is 00:00 UTC.
        to("2027-03-29T00:00:30Z");
        assert_eq!(run().await, ["import"]);
        assert_eq!(last_import().await, "2027-03-29T00:00:00+00:00");

        // With the connection read up to now, 02:00 imports yesterday and 05:00 confirms it.
        let mut s = w
            .api
            .get(&format!("/api/v1/merchants/{m}/labor/settings"))
            .await
            .unwrap();
        s["auto_confirm"] = json!(true);
        for key in ["enabled_at", "last_import_at", "last_confirm_at"] {
            s.as_object_mut().unwrap().remove(key);
        }
        w.api
            .put(&format!("/api/v1/merchants/{m}/labor/settings"), &s)
            .await
            .unwrap();
        // A Bar sale on 29 March; that business day (from 05:00) has ended by noon on the 30th,
        // when the sync reads it (the drain runs the labor job's due runs as well).
        let bar_sale = sell(
            &w,
            &k,
            json!({ "at": ["2027-03-29T10:00:00Z"], "location_id": departments[0].1,
            "register_id": departments[0].2, "lines": [{ "sku": sku(&k, 0), "quantity": 3 }] }),
        )
        .await;
        to("2027-03-30T12:00:00Z");
        sync(&w, &m, &[&c]).await;
        // 02:00 on the 31st imports it (the 30th is still open), 05:00 confirms it.
        to("2027-03-31T00:00:30Z");
        assert_eq!(run().await, ["import"]);
        to("2027-03-31T03:00:30Z");
        assert_eq!(run().await, ["confirm"]);
        let bar = &departments[0].0;
        let confirmed = one_day(&w, &m, bar, "2027-03-29").await;
        assert_eq!(
            (&confirmed["import_status"], &confirmed["confirmed_by"]),
            (&json!("ok"), &json!("auto-confirm")),
            "{confirmed}"
        );
        assert_eq!(confirmed["totals"]["transactions"], 1, "{confirmed}");

        // The POS voids that sale later: the next scheduled import leaves the approved day as it
        // is and flags the difference.
        sell(&w, &k, json!({ "kind": "void", "of": bar_sale["sales"][0]["id"], "at": ["2027-03-31T06:00:00Z"] })).await;
        to("2027-03-31T06:30:00Z");
        sync(&w, &m, &[&c]).await;
        to("2027-04-01T00:00:30Z");
        assert_eq!(run().await, ["import"]);
        let flagged = one_day(&w, &m, bar, "2027-03-29").await;
        assert_eq!(
            flagged["values"], confirmed["values"],
            "an approved day is untouched"
        );
        assert!(
            flagged["discrepancy"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["field_type"] == "transactions" && d["pos"] == 0),
            "{flagged}"
        );
        assert_eq!(event_count(&w, &m, "labor.day_flagged").await, 1);
        to("2027-04-01T03:00:30Z");
        assert_eq!(run().await, ["confirm"]);

        // The next night the connection is gone: the import (up to the 31st; the 1st is still
        // open at 02:00 on the 2nd) fails, and nothing is confirmed.
        disconnect(&w, &m, &c).await;
        to("2027-04-02T00:00:30Z");
        assert_eq!(run().await, ["import"]);
        to("2027-04-02T03:00:30Z");
        assert_eq!(run().await, ["confirm"]);
        assert_eq!(
            one_day(&w, &m, bar, "2027-03-29").await["confirmed_by"],
            "auto-confirm"
        );
        let failed = one_day(&w, &m, bar, "2027-03-31").await;
        assert_eq!(failed["import_status"], "failed", "{failed}");
        assert!(failed["confirmed_at"].is_null());
        assert!(failed["import_error"].as_str().unwrap().contains(&c));
        // The autumn change: 02:00 happens twice on 31 October 2027; the first one runs, once.
        to("2027-10-31T00:00:30Z");
        assert_eq!(run().await, ["import", "confirm"]);
        assert_eq!(last_import().await, "2027-10-31T00:00:00+00:00");
        to("2027-10-31T01:00:30Z");
        assert!(
            run().await.is_empty(),
            "the repeated 02:00 does not run again"
        );
        to("2027-11-01T01:00:30Z");
        assert_eq!(run().await, ["import", "confirm"]);
        assert_eq!(last_import().await, "2027-11-01T01:00:00+00:00");
        w.stop().await;
    }
);

/// The labor benchmark runs end to end on a small data set and its counts add up (no timing is
/// asserted).
#[tokio::test]
async fn the_labor_benchmark_runs_and_its_counts_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    tillbridge::bench_labor::labor(tillbridge::bench_labor::LaborOptions {
        departments: 2,
        days: 10,
        sales_per_day: 6,
        database_url: None,
        json: Some(json.clone()),
        seed: 3,
    })
    .await
    .unwrap();
    let figures: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(figures["department_days"], 20);
    assert!(figures["orders"].as_u64().unwrap() >= 120, "{figures}");
    assert!(
        figures["values_written"].as_u64().unwrap() > 100,
        "{figures}"
    );
    for k in [
        "baseline_scan_seconds",
        "rebuild_seconds",
        "unchanged_rebuild_seconds",
    ] {
        assert!(figures[k].as_f64().unwrap() > 0.0, "{k}: {figures}");
    }
}

/// Posts an import that must be refused with a 4xx whose message contains `wanted`.
async fn refused(w: &World, m: &str, body: Value, wanted: &str) {
    let path = format!("/api/v1/merchants/{m}/labor/imports");
    let (status, err) = w
        .api
        .send(reqwest::Method::POST, &path, Some(&body))
        .await
        .unwrap();
    assert!(status.is_client_error(), "{status}: {err}");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains(wanted), "{message}");
}

on_both_backends!(
    imports_refuse_bad_input_and_can_be_cancelled,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        // Nothing to import from yet.
        let bare = w.merchant().await;
        refused(
            &w,
            &bare,
            json!({ "from": "2026-10-01", "until": "2026-10-07" }),
            "integration service",
        )
        .await;
        let (m, _c, _k, departments, _) = scenario(&w).await;
        refused(
            &w,
            &m,
            json!({ "from": "2026-10-07", "until": "2026-10-01" }),
            "is after",
        )
        .await;
        refused(
            &w,
            &m,
            json!({ "from": "2020-01-01", "until": "2026-10-01" }),
            "at most",
        )
        .await;
        refused(
            &w,
            &m,
            json!({ "from": "2026-10-01", "until": "2026-10-07", "departments": ["dep_nope"] }),
            "does not exist",
        )
        .await;
        refused(
            &w,
            &m,
            json!({ "from": "2026-10-01", "until": "2026-10-07", "overwrite": true }),
            "unknown field",
        )
        .await;
        let path = format!("/api/v1/merchants/{m}/labor/imports");
        let listed = w.api.get(&path).await.unwrap();
        assert!(
            listed["imports"].as_array().unwrap().is_empty(),
            "bad input changes nothing"
        );

        // Cancelled before it runs: nothing is imported, and a finished import cannot be cancelled.
        let queued = w
            .api
            .post(&path, &json!({ "from": WEEK_FROM, "until": WEEK_UNTIL }))
            .await
            .unwrap();
        let id = queued["id"].as_str().unwrap();
        let cancelled = w
            .api
            .post(&format!("{path}/{id}/cancel"), &json!({}))
            .await
            .unwrap();
        assert_eq!(cancelled["cancel_requested"], true);
        assert!(w.drain().await.is_empty());
        let done = w.api.get(&format!("{path}/{id}")).await.unwrap();
        assert_eq!(done["import"]["state"], "cancelled", "{done}");
        assert_eq!(done["import"]["days_done"], 0);
        let b = balance(&w, &m, &departments[0].0).await;
        assert!(
            b["days"]
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["import_status"] == "not_imported"),
            "{b}"
        );
        let (status, _) = w
            .api
            .send(
                reqwest::Method::POST,
                &format!("{path}/{id}/cancel"),
                Some(&json!({})),
            )
            .await
            .unwrap();
        assert_eq!(status, 409);
        w.stop().await;
    }
);
