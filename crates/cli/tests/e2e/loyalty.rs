use crate::common::*;
use crate::on_both_backends;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Every order of the merchant, through the API.
pub(crate) async fn all_orders(w: &World, m: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/merchants/{m}/orders?limit=500&cursor={c}"),
            None => format!("/api/v1/merchants/{m}/orders?limit=500"),
        };
        let page = w.api.get(&path).await.unwrap();
        out.extend(page["orders"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(n) => cursor = Some(n.to_owned()),
            None => return out,
        }
    }
}

/// What "earn 1.00 per whole 10.00 spent, before tax" gives `email`'s purchases, computed
/// independently from the synced orders: per purchase (a sale and its refunds and voids on one
/// connection), Σ net amounts of lines that are not voided.
pub(crate) async fn expected_credit(w: &World, m: &str, email: &str) -> i64 {
    let orders = all_orders(w, m).await;
    let mut net: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut members_sales = std::collections::BTreeSet::new();
    for o in &orders {
        let sale = if o["kind"] == "sale" {
            o["external_id"].as_str().unwrap().to_owned()
        } else {
            o["original_external_id"].as_str().unwrap().to_owned()
        };
        let key = (o["connection_id"].as_str().unwrap().to_owned(), sale);
        if o["kind"] == "sale" && o["customer_email"] == email {
            members_sales.insert(key.clone());
        }
        let amount: i64 = o["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["voided"] == false)
            .map(|l| l["net_minor"].as_i64().unwrap())
            .sum();
        *net.entry(key).or_default() += amount;
    }
    net.iter()
        .filter(|(k, _)| members_sales.contains(*k))
        .map(|(_, n)| n.max(&0) / 1000 * 100)
        .sum()
}

async fn member_json(w: &World, m: &str, id: &str) -> Value {
    w.api
        .get(&format!("/api/v1/merchants/{m}/members/{id}"))
        .await
        .unwrap()
}

on_both_backends!(
    members_earn_across_channels_and_refunds_reverse_exactly,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let m = w.merchant().await;
        // Bad program input is refused and changes nothing.
        let (status, body) = w
            .api
            .send(
                reqwest::Method::PUT,
                &format!("/api/v1/merchants/{m}/loyalty/program"),
                Some(
                    &json!({ "earning": { "mode": "step", "step_minor": 0, "reward_minor": 100 } }),
                ),
            )
            .await
            .unwrap();
        assert_eq!(status, 400, "{body}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("step_minor"));
        let program = w
            .api
            .put(
                &format!("/api/v1/merchants/{m}/loyalty/program"),
                &json!({ "earning": { "mode": "step", "step_minor": 1000, "reward_minor": 100 } }),
            )
            .await
            .unwrap();
        assert_eq!(program["claim_window_days"], 30);

        // The shopper buys on a K-Series and an X-Series channel before joining, with the
        // e-mail written differently on each.
        let k = w.sb.merchant(3, 5).await;
        let x = w.sb.merchant_x(3, 5).await;
        let kc = w.connect(&m, &k).await;
        let xc = w.connect(&m, &x).await;
        sell(
            &w,
            &k,
            json!({ "count": 3, "customer_email": "Anna@Example.com" }),
        )
        .await;
        let x_sales = sell(
            &w,
            &x,
            json!({ "count": 2, "customer_email": " anna@EXAMPLE.com" }),
        )
        .await;
        sell(
            &w,
            &k,
            json!({ "count": 2, "customer_email": "someone.else@example.com" }),
        )
        .await;
        sync(&w, &m, &[&kc, &xc]).await;

        // Joining claims the recent orders from both channels.
        let created = w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/members"),
                &json!({ "email": "ANNA@example.com", "name": "Anna" }),
            )
            .await
            .unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(created["email"], "anna@example.com");
        assert_eq!(created["purchases"], 5, "{created}");
        let expected = expected_credit(&w, &m, "anna@example.com").await;
        assert!(expected > 0);
        assert_eq!(created["balance_minor"], expected);
        let (status, body) = w
            .api
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/merchants/{m}/members"),
                Some(&json!({ "email": "anna@example.com" })),
            )
            .await
            .unwrap();
        assert_eq!(status, 409, "one member per e-mail: {body}");

        // A live sale earns at once; a partial refund and a void reverse exactly.
        let live = sell(&w, &k, json!({ "count": 1, "customer_email": "anna@example.com", "lines": [{ "sku": k["menu"][0]["sku"], "quantity": 12 }] })).await;
        sync(&w, &m, &[&kc, &xc]).await;
        assert_eq!(
            member_json(&w, &m, &id).await["balance_minor"],
            expected_credit(&w, &m, "anna@example.com").await
        );
        let earned_events = w
            .api
            .get(&format!(
                "/api/v1/merchants/{m}/events?after=0&limit=1000&type=loyalty.credit_earned"
            ))
            .await
            .unwrap();
        assert!(!earned_events["events"].as_array().unwrap().is_empty());
        sell(
            &w,
            &k,
            json!({ "kind": "refund", "of": live["sales"][0]["id"], "line_index": 0 }),
        )
        .await;
        sell(
            &w,
            &x,
            json!({ "kind": "void", "of": x_sales["sales"][0]["id"] }),
        )
        .await;
        sync(&w, &m, &[&kc, &xc]).await;
        let after = member_json(&w, &m, &id).await;
        assert_eq!(
            after["balance_minor"],
            expected_credit(&w, &m, "anna@example.com").await
        );
        let ledger = w
            .api
            .get(&format!("/api/v1/merchants/{m}/members/{id}/ledger"))
            .await
            .unwrap();
        let entries = ledger["entries"].as_array().unwrap();
        assert!(entries.iter().any(|e| e["kind"] == "reversed"), "{ledger}");
        let sum: i64 = entries
            .iter()
            .map(|e| e["amount_minor"].as_i64().unwrap())
            .sum();
        assert_eq!(
            sum,
            after["balance_minor"].as_i64().unwrap(),
            "the ledger adds up to the balance"
        );
        assert_eq!(entries[0]["balance_after_minor"], after["balance_minor"]);

        // Manual credits: reason required, idempotent by key, conflicting reuse refused.
        let path = format!("/api/v1/merchants/{m}/members/{id}/credits");
        let (status, body) = w
            .api
            .send(
                reqwest::Method::POST,
                &path,
                Some(&json!({ "amount_minor": 500, "reason": " ", "idempotency_key": "k1" })),
            )
            .await
            .unwrap();
        assert_eq!(status, 400, "{body}");
        let (status, first) = w
            .api
            .send(
                reqwest::Method::POST,
                &path,
                Some(
                    &json!({ "amount_minor": 500, "reason": "birthday", "idempotency_key": "k1" }),
                ),
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{first}");
        let (status, again) = w
            .api
            .send(
                reqwest::Method::POST,
                &path,
                Some(
                    &json!({ "amount_minor": 500, "reason": "birthday", "idempotency_key": "k1" }),
                ),
            )
            .await
            .unwrap();
        assert_eq!((status.as_u16(), &again["id"]), (200, &first["id"]));
        let (status, _) = w
            .api
            .send(
                reqwest::Method::POST,
                &path,
                Some(
                    &json!({ "amount_minor": 900, "reason": "birthday", "idempotency_key": "k1" }),
                ),
            )
            .await
            .unwrap();
        assert_eq!(status, 409);
        assert_eq!(
            member_json(&w, &m, &id).await["balance_minor"],
            after["balance_minor"].as_i64().unwrap() + 500
        );

        // Re-running every consumer changes nothing; other shoppers stay unattributed.
        sync(&w, &m, &[&kc, &xc]).await;
        assert_eq!(
            member_json(&w, &m, &id).await["balance_minor"],
            after["balance_minor"].as_i64().unwrap() + 500
        );
        let members = w
            .api
            .get(&format!("/api/v1/merchants/{m}/members?search=anna"))
            .await
            .unwrap();
        assert_eq!(members["members"].as_array().unwrap().len(), 1);
        w.stop().await;
    }
);

pub(crate) fn sku(sm: &Value, category: &str, nth: usize) -> String {
    sm["menu"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["category"] == category)
        .nth(nth)
        .unwrap_or_else(|| panic!("no {category} item {nth} in {}", sm["menu"]))["sku"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn coffee_card(w: &World, m: &str, id: &str) -> Value {
    let cards = w
        .api
        .get(&format!("/api/v1/merchants/{m}/members/{id}/cards"))
        .await
        .unwrap();
    cards["cards"][0].clone()
}

on_both_backends!(
    hot_drinks_across_k_o_and_x_fill_one_card,
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
        let (status, body) = w
            .api
            .send(
                reqwest::Method::POST,
                &format!("/api/v1/merchants/{m}/punch-cards"),
                Some(&json!({ "name": "Coffee card", "reward": "a free hot drink", "stamps_required": 10, "categories": [{}] })),
            )
            .await
            .unwrap();
        assert_eq!(
            status, 400,
            "a category filter needs an id or a name: {body}"
        );
        let card = w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/punch-cards"),
                &json!({ "name": "Coffee card", "reward": "a free hot drink", "stamps_required": 10,
                         "categories": [{ "name": "Hot Drinks" }], "mode": "per_item" }),
            )
            .await
            .unwrap();
        let card_id = card["id"].as_str().unwrap().to_owned();

        let k = w.sb.merchant(1, 2).await;
        let o = w.sb.merchant_o(1, 2).await;
        let x = w
            .sb
            .api
            .post(
                "/_sandbox/merchants",
                &json!({ "series": "x", "preset": "cafe", "locations": 1, "registers_per_location": 1, "customers": 5,
                         "history_days": 1, "sales_per_day": 2, "timezone": "Europe/Copenhagen" }),
            )
            .await
            .unwrap();
        let conns = [
            w.connect(&m, &k).await,
            w.connect(&m, &o).await,
            w.connect(&m, &x).await,
        ];
        let conns: Vec<&str> = conns.iter().map(String::as_str).collect();
        let member = w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/members"),
                &json!({ "email": "Mia@Example.com" }),
            )
            .await
            .unwrap();
        let id = member["id"].as_str().unwrap().to_owned();

        // Ten hot drinks over three channels (4 + 3 + 3), with pastries beside them.
        let k_sale = sell(&w, &k, json!({ "customer_email": "MIA@example.com", "lines": [
            { "sku": sku(&k, "Hot Drinks", 0), "quantity": 2 }, { "sku": sku(&k, "Hot Drinks", 1), "quantity": 2 },
            { "sku": sku(&k, "Pastry", 0), "quantity": 2 } ] })).await;
        let o_sale = sell(&w, &o, json!({ "customer_email": "mia@EXAMPLE.com", "lines": [
            { "sku": sku(&o, "Hot Drinks", 2), "quantity": 3 }, { "sku": sku(&o, "Pastry", 1), "quantity": 1 } ] })).await;
        let x_sale = sell(&w, &x, json!({ "customer_email": " Mia@example.com", "lines": [
            { "sku": sku(&x, "Hot Drinks", 3), "quantity": 3 }, { "sku": sku(&x, "Pastry", 2), "quantity": 4 } ] })).await;
        sync(&w, &m, &conns).await;
        let c = coffee_card(&w, &m, &id).await;
        assert_eq!(c["card_id"], card_id.as_str());
        assert_eq!(
            (c["current"].as_u64(), c["lifetime"].as_u64()),
            (Some(0), Some(10)),
            "{c}"
        );
        let rewards = c["rewards"].as_array().unwrap();
        assert_eq!(rewards.len(), 1, "exactly one reward: {c}");
        assert_eq!(rewards[0]["redeemed"], false);
        let events = w
            .api
            .get(&format!(
                "/api/v1/merchants/{m}/events?after=0&limit=1000&type=loyalty.reward_available"
            ))
            .await
            .unwrap();
        assert_eq!(events["events"].as_array().unwrap().len(), 1);

        // Pastries alone never stamp.
        sell(&w, &k, json!({ "customer_email": "mia@example.com", "lines": [{ "sku": sku(&k, "Pastry", 1), "quantity": 5 }] })).await;
        sync(&w, &m, &conns).await;
        assert_eq!(coffee_card(&w, &m, &id).await["lifetime"], 10);

        // Refunding two coffees revokes the unredeemed reward and restores 8 stamps.
        sell(
            &w,
            &k,
            json!({ "kind": "refund", "of": k_sale["sales"][0]["id"], "line_index": 0 }),
        )
        .await;
        sync(&w, &m, &conns).await;
        let c = coffee_card(&w, &m, &id).await;
        assert_eq!(
            (
                c["current"].as_u64(),
                c["rewards"].as_array().unwrap().len()
            ),
            (Some(8), 0),
            "{c}"
        );

        // Credit is "1.00 per 10.00" exactly, including after three partial refunds.
        sell(
            &w,
            &o,
            json!({ "kind": "refund", "of": o_sale["sales"][0]["id"], "line_index": 1 }),
        )
        .await;
        sell(
            &w,
            &x,
            json!({ "kind": "refund", "of": x_sale["sales"][0]["id"], "line_index": 1 }),
        )
        .await;
        sync(&w, &m, &conns).await;
        let now = member_json(&w, &m, &id).await;
        assert_eq!(
            now["balance_minor"],
            expected_credit(&w, &m, "mia@example.com").await,
            "{now}"
        );
        assert_eq!(
            coffee_card(&w, &m, &id).await["current"],
            8,
            "pastry refunds take no stamps"
        );

        // Two more hot drinks complete the card again; redeem it once.
        sell(&w, &o, json!({ "customer_email": "mia@example.com", "lines": [{ "sku": sku(&o, "Hot Drinks", 0), "quantity": 2 }] })).await;
        sync(&w, &m, &conns).await;
        let c = coffee_card(&w, &m, &id).await;
        let reward = c["rewards"][0]["id"].as_str().unwrap().to_owned();
        let path =
            format!("/api/v1/merchants/{m}/members/{id}/cards/{card_id}/rewards/{reward}/redeem");
        let redeemed = w.api.post(&path, &json!({})).await.unwrap();
        assert_eq!(redeemed["rewards"][0]["redeemed"], true);
        let (status, _) = w
            .api
            .send(reqwest::Method::POST, &path, Some(&json!({})))
            .await
            .unwrap();
        assert_eq!(status, 409, "a reward is redeemed once");

        staff_actions_insights_and_replay(&w, &m, &id, &k, &conns).await;
        w.stop().await;
    }
);

/// What a replay must reproduce: each member's balance, tier, segment and card progress.
async fn loyalty_state(w: &World, m: &str) -> Value {
    let list = w
        .api
        .get(&format!("/api/v1/merchants/{m}/members?limit=500"))
        .await
        .unwrap();
    let mut out = Vec::new();
    for member in list["members"].as_array().unwrap() {
        let id = member["id"].as_str().unwrap();
        let cards = w
            .api
            .get(&format!("/api/v1/merchants/{m}/members/{id}/cards"))
            .await
            .unwrap();
        let cards: Vec<Value> = cards["cards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let rewards = c["rewards"].as_array().unwrap();
                json!({ "card": c["card_id"], "current": c["current"], "lifetime": c["lifetime"], "shortfall": c["shortfall"],
                        "rewards": rewards.len(), "redeemed": rewards.iter().filter(|r| r["redeemed"] == true).count() })
            })
            .collect();
        out.push(json!({ "id": id, "balance": member["balance_minor"], "tier": member["tier_id"],
                         "segment": member["segment"], "rfm": member["rfm_scores"], "cards": cards }));
    }
    Value::Array(out)
}

async fn event_count(w: &World, m: &str, kind: &str) -> usize {
    let events = w
        .api
        .get(&format!(
            "/api/v1/merchants/{m}/events?after=0&limit=1000&type={kind}"
        ))
        .await
        .unwrap();
    events["events"].as_array().unwrap().len()
}

/// Redemptions, a merge, segments, insights, redelivery of every order version, and a replay.
async fn staff_actions_insights_and_replay(
    w: &World,
    m: &str,
    id: &str,
    k: &Value,
    conns: &[&str],
) {
    // Credit is spent once per key and never beyond the balance.
    let balance = member_json(w, m, id).await["balance_minor"]
        .as_i64()
        .unwrap();
    assert!(balance >= 100, "{balance}");
    let path = format!("/api/v1/merchants/{m}/members/{id}/redemptions");
    let body =
        json!({ "amount_minor": 100, "idempotency_key": "order-77", "reference": "order 77" });
    let (status, first) = w
        .api
        .send(reqwest::Method::POST, &path, Some(&body))
        .await
        .unwrap();
    assert_eq!(status, 201, "{first}");
    let (status, again) = w
        .api
        .send(reqwest::Method::POST, &path, Some(&body))
        .await
        .unwrap();
    assert_eq!((status.as_u16(), &again["id"]), (200, &first["id"]));
    let (status, err) = w
        .api
        .send(
            reqwest::Method::POST,
            &path,
            Some(&json!({ "amount_minor": balance, "idempotency_key": "too-much" })),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{err}");
    assert!(err.to_string().contains("may not exceed"), "{err}");
    assert_eq!(member_json(w, m, id).await["balance_minor"], balance - 100);

    // A second member (another e-mail of the same person) with a purchase, a manual credit
    // and three hot drinks, merged into the first.
    let other = w
        .api
        .post(
            &format!("/api/v1/merchants/{m}/members"),
            &json!({ "email": "mia.work@example.com" }),
        )
        .await
        .unwrap();
    let other_id = other["id"].as_str().unwrap().to_owned();
    w.api
        .post(
            &format!("/api/v1/merchants/{m}/members/{other_id}/credits"),
            &json!({ "amount_minor": 250, "reason": "welcome", "idempotency_key": "welcome-mia-work" }),
        )
        .await
        .unwrap();
    sell(w, k, json!({ "customer_email": "mia.work@example.com", "lines": [{ "sku": sku(k, "Hot Drinks", 0), "quantity": 3 }] })).await;
    sync(w, m, conns).await;
    let before = member_json(w, m, id).await;
    let theirs = member_json(w, m, &other_id).await;
    let mine_card = coffee_card(w, m, id).await;
    let their_card = coffee_card(w, m, &other_id).await;
    assert_eq!(their_card["current"], 3, "{their_card}");
    let (status, err) = w
        .api
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/merchants/{m}/members/{id}/merge"),
            Some(&json!({ "member_id": id })),
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{err}");
    let merged = w
        .api
        .post(
            &format!("/api/v1/merchants/{m}/members/{id}/merge"),
            &json!({ "member_id": other_id }),
        )
        .await
        .unwrap();
    assert_eq!(
        merged["balance_minor"].as_i64().unwrap(),
        before["balance_minor"].as_i64().unwrap() + theirs["balance_minor"].as_i64().unwrap()
    );
    assert_eq!(
        merged["purchases"].as_i64().unwrap(),
        before["purchases"].as_i64().unwrap() + theirs["purchases"].as_i64().unwrap()
    );
    let card = coffee_card(w, m, id).await;
    assert_eq!(
        card["lifetime"].as_u64().unwrap(),
        mine_card["lifetime"].as_u64().unwrap() + 3
    );
    let (status, _) = w
        .api
        .send(
            reqwest::Method::GET,
            &format!("/api/v1/merchants/{m}/members/{other_id}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 404, "the merged member is gone");
    let ledger = w
        .api
        .get(&format!("/api/v1/merchants/{m}/members/{id}/ledger"))
        .await
        .unwrap();
    let entries = ledger["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["reason"] == "welcome"), "{ledger}");
    assert_eq!(
        entries
            .iter()
            .map(|e| e["amount_minor"].as_i64().unwrap())
            .sum::<i64>(),
        merged["balance_minor"].as_i64().unwrap(),
        "the ledger adds up to the balance"
    );

    // Segments: the consumer computed today's run already; a recompute scores the merged
    // member, the only one left.
    let nightly = w
        .api
        .get(&format!("/api/v1/merchants/{m}/loyalty/segments"))
        .await
        .unwrap();
    assert!(nightly["latest"]["on_date"].is_string(), "{nightly}");
    let seg = w
        .api
        .post(
            &format!("/api/v1/merchants/{m}/loyalty/segments/recompute"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(seg["latest"]["members"], 1, "{seg}");
    let segment = member_json(w, m, id).await["segment"].clone();
    assert_eq!(
        segment, "recent",
        "bought today but only a few times: R=5 and FM<4 under the fixed thresholds"
    );
    assert_eq!(seg["latest"]["distribution"]["recent"], 1, "{seg}");

    // Insights over today: every order is either a member's or not.
    let insights = w
        .api
        .get(&format!(
            "/api/v1/merchants/{m}/loyalty/insights?period=day"
        ))
        .await
        .unwrap();
    let lifetime = &insights["lifetime"];
    assert_eq!(lifetime["members"], 1, "{insights}");
    assert_eq!(lifetime["members_with_orders"], 1);
    // Her purchases on three channels (one merged in from a second member) make her a
    // returning member, for all time and today.
    assert_eq!(lifetime["repeat_members"], 1, "{insights}");
    assert_eq!(
        lifetime["credit_outstanding_minor"],
        member_json(w, m, id).await["balance_minor"]
    );
    assert_eq!(lifetime["segments"]["recent"], 1);
    let summary = &insights["summary"];
    assert_eq!(summary["credit_redeemed_minor"], 100, "{summary}");
    assert_eq!(summary["buying_members"], 1);
    assert_eq!(summary["repeat_members"], 1, "{summary}");
    assert_eq!(
        summary["orders"].as_i64().unwrap(),
        summary["member_orders"].as_i64().unwrap() + summary["non_member_orders"].as_i64().unwrap()
    );
    let (status, err) = w
        .api
        .send(
            reqwest::Method::GET,
            &format!("/api/v1/merchants/{m}/loyalty/insights?from=2026-13-01"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(status, 400, "{err}");

    // A broadcast to the "recent" segment reaches the one member, once per key.
    let path = format!("/api/v1/merchants/{m}/loyalty/broadcasts");
    let body = json!({ "title": "New menu", "message": "Try our winter drinks", "audience": { "segment": "recent" },
                       "idempotency_key": "winter-menu" });
    let (status, sent) = w
        .api
        .send(reqwest::Method::POST, &path, Some(&body))
        .await
        .unwrap();
    assert_eq!(
        (status.as_u16(), &sent["recipients"]),
        (201, &json!(1)),
        "{sent}"
    );
    let (status, again) = w
        .api
        .send(reqwest::Method::POST, &path, Some(&body))
        .await
        .unwrap();
    assert_eq!((status.as_u16(), &again["id"]), (200, &sent["id"]));
    let recipients = w
        .api
        .get(&format!(
            "{path}/{}/recipients",
            sent["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(recipients["recipients"][0]["member_id"], id, "{recipients}");
    assert_eq!(event_count(w, m, "loyalty.broadcast").await, 1);
    for bad in [
        json!({ "message": " ", "idempotency_key": "k1" }),
        json!({ "message": "hi", "idempotency_key": "k2", "audience": { "segment": "vip" } }),
        json!({ "message": "hi", "idempotency_key": "k3", "audience": { "member_ids": ["mem_nobody"] } }),
    ] {
        let (status, err) = w
            .api
            .send(reqwest::Method::POST, &path, Some(&bad))
            .await
            .unwrap();
        assert!(status == 400 || status == 404, "{bad}: {status} {err}");
    }
    assert_eq!(
        event_count(w, m, "loyalty.broadcast").await,
        1,
        "bad input sends nothing"
    );

    // Every order version delivered again, all in one batch: nothing changes, nothing is
    // announced twice.
    let state = loyalty_state(w, m).await;
    let earned = event_count(w, m, "loyalty.credit_earned").await;
    let stamped = event_count(w, m, "loyalty.stamp_added").await;
    let mut tx = w.hub.engine.store().begin().await.unwrap();
    w.hub
        .engine
        .restart_consumer(&mut tx, m, "loyalty")
        .await
        .unwrap();
    tillbridge_store::commit(tx).await.unwrap();
    assert!(w.drain().await.is_empty());
    assert_eq!(
        loyalty_state(w, m).await,
        state,
        "redelivery changed nothing"
    );
    assert_eq!(event_count(w, m, "loyalty.credit_earned").await, earned);

    // A replay from scratch reproduces balances, stamps, tiers and segments, silently.
    let (status, started) = w
        .api
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/merchants/{m}/loyalty/replay"),
            Some(&json!({})),
        )
        .await
        .unwrap();
    assert_eq!(status, 202, "{started}");
    assert!(started["until_seq"].as_i64().unwrap() > 0);
    assert_ne!(
        loyalty_state(w, m).await,
        state,
        "the replay cleared what orders gave"
    );
    assert!(w.drain().await.is_empty());
    w.api
        .post(
            &format!("/api/v1/merchants/{m}/loyalty/segments/recompute"),
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(
        loyalty_state(w, m).await,
        state,
        "the replay reproduced the state"
    );
    assert_eq!(event_count(w, m, "loyalty.credit_earned").await, earned);
    assert_eq!(event_count(w, m, "loyalty.stamp_added").await, stamped);
}

on_both_backends!(
    tiers_upgrade_at_once_hold_and_respect_the_floor,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        let m = w.merchant().await;
        let (status, body) = w
            .api
            .send(
                reqwest::Method::PUT,
                &format!("/api/v1/merchants/{m}/loyalty/program"),
                Some(&json!({ "tiers": { "tiers": [
                    { "id": "a", "name": "A", "threshold_minor": 100 }, { "id": "b", "name": "B", "threshold_minor": 100 } ] } })),
            )
            .await
            .unwrap();
        assert_eq!(status, 400, "{body}");
        let program = w
            .api
            .put(
                &format!("/api/v1/merchants/{m}/loyalty/program"),
                &json!({ "tiers": { "policy": "hold", "tiers": [
                    { "id": "gold", "name": "Gold", "threshold_minor": 100_000 },
                    { "id": "silver", "name": "Silver", "threshold_minor": 2_000 } ] } }),
            )
            .await
            .unwrap();
        assert_eq!(
            program["tiers"]["tiers"][0]["id"], "silver",
            "kept in threshold order"
        );
        assert_eq!(program["tiers"]["window"], "rolling_365_days");

        let k = w.sb.merchant(1, 2).await;
        let kc = w.connect(&m, &k).await;
        let member = w
            .api
            .post(
                &format!("/api/v1/merchants/{m}/members"),
                &json!({ "email": "tia@example.com" }),
            )
            .await
            .unwrap();
        let id = member["id"].as_str().unwrap().to_owned();
        assert!(member["tier_id"].is_null());

        // Spend over 20.00 upgrades at once.
        sell(&w, &k, json!({ "customer_email": "tia@example.com", "lines": [{ "sku": sku(&k, "Food", 1), "quantity": 4 }] })).await;
        sync(&w, &m, &[&kc]).await;
        let now = member_json(&w, &m, &id).await;
        assert_eq!(now["tier_id"], "silver", "{now}");
        let events = w
            .api
            .get(&format!(
                "/api/v1/merchants/{m}/events?after=0&limit=1000&type=loyalty.tier_upgraded"
            ))
            .await
            .unwrap();
        assert_eq!(events["events"].as_array().unwrap().len(), 1);

        // A floor: unknown tiers are refused; gold places the member at once.
        let path = format!("/api/v1/merchants/{m}/members/{id}/tier-floor");
        let (status, body) = w
            .api
            .send(
                reqwest::Method::PUT,
                &path,
                Some(&json!({ "tier_id": "platinum" })),
            )
            .await
            .unwrap();
        assert_eq!(status, 400, "{body}");
        assert!(body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("silver"));
        let floored = w
            .api
            .put(&path, &json!({ "tier_id": "gold" }))
            .await
            .unwrap();
        assert_eq!(floored["tier_id"], "gold");

        // Without the floor, the hold keeps gold until a year after it was reached, warns in
        // the last 30 days, then re-places by the spend of the last 365 days (none by then).
        w.api.put(&path, &json!({ "tier_id": null })).await.unwrap();
        w.clock.advance(chrono::Duration::days(340));
        assert!(w.drain().await.is_empty());
        assert_eq!(member_json(&w, &m, &id).await["tier_id"], "gold");

        // A replay this late keeps the tier as it was placed over time: same tier, same date,
        // same history, nothing announced.
        let history_path = format!("/api/v1/merchants/{m}/members/{id}/tier-history");
        let before = member_json(&w, &m, &id).await;
        let history_before = w.api.get(&history_path).await.unwrap();
        let announced = event_count(&w, &m, "loyalty.tier_upgraded").await;
        w.api
            .post(&format!("/api/v1/merchants/{m}/loyalty/replay"), &json!({}))
            .await
            .unwrap();
        assert!(w.drain().await.is_empty());
        let after = member_json(&w, &m, &id).await;
        assert_eq!(
            (
                &after["tier_id"],
                &after["tier_since"],
                &after["balance_minor"]
            ),
            (
                &before["tier_id"],
                &before["tier_since"],
                &before["balance_minor"]
            )
        );
        assert_eq!(w.api.get(&history_path).await.unwrap(), history_before);
        assert_eq!(
            event_count(&w, &m, "loyalty.tier_upgraded").await,
            announced
        );
        w.clock.advance(chrono::Duration::days(30));
        assert!(w.drain().await.is_empty());
        let history = w
            .api
            .get(&format!("/api/v1/merchants/{m}/members/{id}/tier-history"))
            .await
            .unwrap();
        let events: Vec<&str> = history["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["event"].as_str().unwrap())
            .collect();
        assert_eq!(
            events,
            ["downgraded", "downgrade_warning", "upgraded", "upgraded"],
            "{history}"
        );
        assert!(member_json(&w, &m, &id).await["tier_id"].is_null());
        w.stop().await;
    }
);

/// The loyalty benchmark runs end to end on a small data set and its figures add up (no
/// timing is asserted).
#[tokio::test]
async fn the_loyalty_benchmark_runs_and_its_counts_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    tillbridge::bench::loyalty(tillbridge::bench::LoyaltyOptions {
        sales: 300,
        members: 20,
        rfm_members: 1000,
        rfm_db_members: 500,
        database_url: None,
        json: Some(json.clone()),
        seed: 3,
    })
    .await
    .unwrap();
    let figures: Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(figures["versions_written"], figures["order_versions"]);
    assert!(figures["order_versions"].as_u64().unwrap() > 300);
    assert_eq!(figures["rfm_db_members"], 20);
    let segments: u64 = figures["rfm_segments"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(segments, 1000);
    for k in [
        "ingest_versions_per_s",
        "loyalty_versions_per_s",
        "replay_versions_per_s",
        "rfm_seeded_first_run_seconds",
        "rfm_seeded_next_run_seconds",
    ] {
        assert!(figures[k].as_f64().unwrap() > 0.0, "{k}: {figures}");
    }
}

/// Purchases of `members` seeded members: 0–7 each over the last 400 days (some before the
/// lookback), with nets drawn from a few values and from a wide range (ties and near-ties; some
/// zero or negative, which do not count). Purchases are (member, sale id, date, net).
fn rfm_purchases(
    members: &[String],
    today: chrono::NaiveDate,
    rng: &mut rand::rngs::StdRng,
) -> Vec<(String, String, chrono::NaiveDate, i64)> {
    use rand::Rng;
    let mut out = Vec::new();
    for id in members {
        for k in 0..rng.gen_range(0..8) {
            let date = today - chrono::Days::new(rng.gen_range(0..400));
            let net = match rng.gen_range(0..9) {
                0 => -500,
                1 => 0,
                2..=4 => [100, 1000, 4000][rng.gen_range(0..3)],
                _ => rng.gen_range(1..6000),
            };
            out.push((id.clone(), format!("{id}-{k}-{}", out.len()), date, net));
        }
    }
    out
}

/// A small merchant's purchases at the fixed thresholds' edges: member i buys `orders[i]`
/// times, all `days[i]` days ago.
fn rfm_edge_purchases(
    members: &[String],
    today: chrono::NaiveDate,
) -> Vec<(String, String, chrono::NaiveDate, i64)> {
    let days = [0, 30, 31, 60, 61, 90, 91, 180, 181, 364, 365, 7, 45, 120];
    let orders = [1, 2, 3, 4, 5, 9, 10, 11, 1, 2, 3, 4, 5, 9];
    let mut out = Vec::new();
    for (i, id) in members.iter().enumerate().take(days.len()) {
        for k in 0..orders[i] {
            let date = today - chrono::Days::new(days[i]);
            out.push((id.clone(), format!("{id}-{k}"), date, 700 + 100 * i as i64));
        }
    }
    out
}

/// What the pure rules say of every member as of `today`: (segment, "r,f,m").
fn rfm_expected(
    members: &[String],
    purchases: &[(String, String, chrono::NaiveDate, i64)],
    today: chrono::NaiveDate,
) -> BTreeMap<String, (String, Option<String>)> {
    use tillbridge_loyalty::rfm::{score, Figures, Segment};
    let from = today - chrono::Days::new(364);
    let figures: Vec<Figures> = members
        .iter()
        .map(|id| {
            let counted: Vec<_> = purchases
                .iter()
                .filter(|(m, _, d, net)| m == id && *net > 0 && *d >= from && *d <= today)
                .collect();
            Figures {
                days_since_last: counted
                    .iter()
                    .map(|(_, _, d, _)| (today - *d).num_days() as u32)
                    .min(),
                orders: counted.len() as u32,
                spend_minor: counted.iter().map(|(_, _, _, net)| net).sum(),
            }
        })
        .collect();
    members
        .iter()
        .zip(score(&figures))
        .map(|(id, s)| {
            let scores = s.map(|s| format!("{},{},{}", s.r, s.f, s.m));
            (id.clone(), (Segment::of(s).as_str().to_owned(), scores))
        })
        .collect()
}

async fn rfm_stored(w: &World, m: &str) -> BTreeMap<String, (String, Option<String>)> {
    let mut c = w.hub.engine.store().conn().await.unwrap();
    tillbridge_store::loyalty::list_members(&mut c, m, None, None, None, 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.id, (row.segment.unwrap(), row.rfm_scores)))
        .collect()
}

async fn seed_rfm(
    w: &World,
    m: &str,
    members: &[String],
    purchases: &[(String, String, chrono::NaiveDate, i64)],
) {
    let now = w.hub.engine.now_ms();
    let members: Vec<(String, String, i64)> = members
        .iter()
        .map(|id| (id.clone(), format!("{id}@rfm.example"), 0))
        .collect();
    let purchases: Vec<_> = purchases
        .iter()
        .map(|(member, sale, date, net)| {
            let conn = "conn_rfm".to_owned();
            (member.clone(), conn, sale.clone(), date.to_string(), *net)
        })
        .collect();
    let mut tx = w.hub.engine.store().begin().await.unwrap();
    tillbridge_store::loyalty::seed_members(&mut tx, m, &members, &purchases, now)
        .await
        .unwrap();
    tillbridge_store::commit(tx).await.unwrap();
}

on_both_backends!(
    stored_rfm_runs_score_exactly_as_the_rules,
    |backend| async move {
        use rand::SeedableRng;
        let Some(w) = World::start(backend).await else {
            return;
        };
        // A small merchant (fixed R and F thresholds, at their edges) and larger ones
        // (quintiles, with ties; N a multiple of five, where the positions are exact, and not).
        // One more with no ties at all, where a threshold one position off shows.
        for (n, seed) in [(15usize, 11u64), (300, 14), (600, 12), (733, 13)] {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let m = w.merchant().await;
            let engine = &w.hub.engine;
            let today: chrono::NaiveDate = {
                let view = tillbridge_loyalty::segments::recompute(engine, &m)
                    .await
                    .unwrap();
                view.latest.unwrap().on_date.parse().unwrap()
            };
            let members: Vec<String> = (0..n).map(|i| format!("mem_rfm{seed}x{i:04}")).collect();
            let mut purchases = if n < 25 {
                rfm_edge_purchases(&members, today)
            } else if n == 300 {
                // Member i: one purchase i days ago, of a net no one else has.
                members
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        let (days, net) = (i as u64, 100 + 37 * ((i as i64 * 7) % 300));
                        (
                            id.clone(),
                            format!("{id}-0"),
                            today - chrono::Days::new(days),
                            net,
                        )
                    })
                    .collect()
            } else {
                rfm_purchases(&members, today, &mut rng)
            };
            seed_rfm(&w, &m, &members, &purchases).await;

            let view = tillbridge_loyalty::segments::recompute(engine, &m)
                .await
                .unwrap();
            let run = view.latest.unwrap();
            assert_eq!(run.on_date, today.to_string(), "a run across midnight");
            let expected = rfm_expected(&members, &purchases, today);
            let stored = rfm_stored(&w, &m).await;
            assert_eq!(stored, expected, "{n} members");
            let mut counts: BTreeMap<String, i64> = BTreeMap::new();
            for (segment, _) in expected.values() {
                *counts.entry(segment.clone()).or_default() += 1;
            }
            for (segment, members) in run.distribution.as_object().unwrap() {
                let want = counts.get(segment).copied().unwrap_or(0);
                assert_eq!(members.as_i64().unwrap(), want, "{segment}");
            }
            assert_eq!(run.members, n as i64);
            let first_moves: i64 = run
                .movement
                .as_array()
                .unwrap()
                .iter()
                .map(|mv| mv["members"].as_i64().unwrap())
                .sum();
            assert_eq!(first_moves, n as i64, "every member had no segment before");

            // The same day again: nothing moved.
            let again = tillbridge_loyalty::segments::recompute(engine, &m)
                .await
                .unwrap();
            assert_eq!(again.latest.unwrap().movement, json!([]));
            assert_eq!(rfm_stored(&w, &m).await, expected);

            // A sale today for a fifth of the members moves some of them; the run reports
            // exactly the moves the rules imply, and each lands in the member's history.
            let buyers: Vec<String> = members.iter().step_by(5).cloned().collect();
            let today_sales: Vec<_> = buyers
                .iter()
                .map(|id| (id.clone(), format!("{id}-today"), today, 2500))
                .collect();
            seed_rfm(&w, &m, &[], &today_sales).await;
            purchases.extend(today_sales);
            let after = rfm_expected(&members, &purchases, today);
            let mut moves: BTreeMap<(String, String), i64> = BTreeMap::new();
            for (id, (segment, _)) in &after {
                let before = &expected[id].0;
                if before != segment {
                    *moves.entry((before.clone(), segment.clone())).or_default() += 1;
                }
            }
            assert!(!moves.is_empty(), "the sales move someone");
            let view = tillbridge_loyalty::segments::recompute(engine, &m)
                .await
                .unwrap();
            let reported: BTreeMap<(String, String), i64> = view
                .latest
                .unwrap()
                .movement
                .as_array()
                .unwrap()
                .iter()
                .map(|mv| {
                    let from = mv["from"].as_str().unwrap().to_owned();
                    let to = mv["to"].as_str().unwrap().to_owned();
                    ((from, to), mv["members"].as_i64().unwrap())
                })
                .collect();
            assert_eq!(reported, moves);
            assert_eq!(rfm_stored(&w, &m).await, after);
            let mut c = engine.store().conn().await.unwrap();
            for (id, (segment, _)) in &after {
                let history = tillbridge_store::loyalty::segment_history(&mut c, &m, id)
                    .await
                    .unwrap();
                assert_eq!(history.len(), 1, "one row for today: {history:?}");
                assert_eq!(&history[0].to_segment, segment);
                assert_eq!(history[0].from_segment, None, "first segment was today too");
            }
        }
        w.stop().await;
    }
);

on_both_backends!(
    purchases_synced_in_any_order_keep_their_previous_dates_and_figures,
    |backend| async move {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        let Some(w) = World::start(backend).await else {
            return;
        };
        let m = w.merchant().await;
        let engine = &w.hub.engine;
        let program = serde_json::from_value(json!({
            "earning": { "mode": "step", "step_minor": 1000, "reward_minor": 100 },
            "claim_window_days": 400
        }))
        .unwrap();
        tillbridge_loyalty::program::put(engine, &m, program)
            .await
            .unwrap();
        let join = |i: usize| {
            let new = json!({ "email": format!("member{i}@bench.example") });
            tillbridge_loyalty::members::create(engine, &m, serde_json::from_value(new).unwrap())
        };
        join(0).await.unwrap();
        join(1).await.unwrap();
        // Pages of sales (with their refunds and later versions) in a shuffled order: a page
        // newer than every earlier one appends to its members' purchases, an older one lands
        // before some of them; the third member joins halfway and claims what came before.
        let versions = tillbridge::bench::sample_versions(300, 3, 5);
        let mut pages: Vec<&[tillbridge_model::Order]> = versions.chunks(15).collect();
        pages.shuffle(&mut rand::rngs::StdRng::seed_from_u64(9));
        let apply = |page: Vec<tillbridge_model::Order>, when: String| {
            let m = m.clone();
            async move {
                let page: Vec<_> = page.into_iter().map(|o| ("loc".to_owned(), o)).collect();
                let mut tx = engine.store().begin().await.unwrap();
                let now = engine.now_ms();
                tillbridge_engine::sync::write_orders(&mut tx, &m, "con_any", &page, now)
                    .await
                    .unwrap();
                tillbridge_store::commit(tx).await.unwrap();
                engine.run_until_idle().await.unwrap();
                let mut c = engine.conn().await.unwrap();
                let stale = tillbridge_store::loyalty::purchases_out_of_date(&mut c, &m)
                    .await
                    .unwrap();
                assert_eq!(stale, 0, "{when}");
            }
        };
        for (i, page) in pages.iter().enumerate() {
            if i == pages.len() / 2 {
                join(2).await.unwrap();
            }
            apply(page.to_vec(), format!("after page {i}")).await;
        }
        // Checks closed again weeks later (reopened): counting purchases move among their
        // member's.
        let reclosed = versions
            .iter()
            .filter(|o| o.kind == tillbridge_model::OrderKind::Sale && o.customer_email.is_some())
            .step_by(20)
            .map(|o| {
                let mut o = o.clone();
                o.closed_at += chrono::Duration::days(40);
                o.business_date = Some(o.closed_at.date_naive());
                o
            })
            .collect();
        apply(reclosed, "after checks closed again".into()).await;
        let mut c = engine.conn().await.unwrap();
        let placed: Vec<(String, i64)> = sqlx::query_as(
            "SELECT member_id, COUNT(*) FROM loyalty_purchases \
             WHERE merchant_id = $1 AND prev2_date IS NOT NULL GROUP BY member_id ORDER BY member_id",
        )
        .bind(&m)
        .fetch_all(&mut *c)
        .await
        .unwrap();
        assert_eq!(placed.len(), 3, "{placed:?}");
        assert!(placed.iter().all(|(_, n)| *n > 40), "{placed:?}");
    }
);
