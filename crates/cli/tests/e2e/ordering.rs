//! Online orders into the POS, end to end against the sandbox: K-Series dine-in and takeaway
//! through the whole ladder with payment, rejections before anything is sent, concurrent
//! resubmission, a void in the POS, an outage during the push (banner, events, mails, outage
//! over), revoked credentials, and lost webhooks; X-Series and R-Series orders as sales with
//! their payment and customer.

use crate::common::*;
use crate::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A change to an order body.
type Change = fn(&mut Value);

struct Setup {
    w: World,
    sid: String,
    m: String,
    c: String,
    loc: String,
    pos_location: String,
    /// (sku, price in cents) of the Hot Drinks and of another category.
    coffee: (String, i64),
    pastry: (String, i64),
}

async fn setup(backend: Backend) -> Option<Setup> {
    setup_series(backend, "k").await
}

async fn setup_series(backend: Backend, series: &str) -> Option<Setup> {
    let s = prepare(backend, series).await?;
    s.settings(&json!({"enabled": true}), StatusCode::OK).await;
    Some(s)
}

/// A connected merchant with a mapped location, ordering not yet enabled.
async fn prepare(backend: Backend, series: &str) -> Option<Setup> {
    let w = World::start(backend).await?;
    let sm = match series {
        "x" => w.sb.merchant_x(1, 3).await,
        "r" => w.sb.merchant_r(1, 3).await,
        _ => w.sb.merchant(1, 3).await,
    };
    let sid = sm["id"].as_str().unwrap().to_owned();
    let m = w.merchant().await;
    let c = w.connect(&m, &sm).await;
    assert!(w.drain().await.is_empty());
    let conn = w
        .api
        .get(&format!("/api/v1/merchants/{m}/connections/{c}"))
        .await
        .unwrap();
    let pos = conn["pos_locations"][0].clone();
    let locations = w
        .api
        .get(&format!("/api/v1/merchants/{m}/locations"))
        .await
        .unwrap();
    let loc = locations["locations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == pos["name"])
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pos_location = pos["id"].as_str().unwrap().to_owned();
    let detail =
        w.sb.api
            .get(&format!("/_sandbox/merchants/{sid}"))
            .await
            .unwrap();
    let menu = detail["menu"].as_array().unwrap();
    // The café's first hot drink and first pastry; the shop's first two items.
    let item = |category: &str| {
        let i = menu
            .iter()
            .find(|i| i["category"] == category)
            .unwrap_or(&menu[usize::from(category != "Hot Drinks")])
            .clone();
        let price: f64 = i["price"].as_str().unwrap().parse().unwrap();
        (
            i["sku"].as_str().unwrap().to_owned(),
            (price * 100.0).round() as i64,
        )
    };
    let (coffee, pastry) = (item("Hot Drinks"), item("Pastry"));
    Some(Setup {
        w,
        sid,
        m,
        c,
        loc,
        pos_location,
        coffee,
        pastry,
    })
}

impl Setup {
    /// Saves ordering settings, expecting `want`.
    async fn settings(&self, body: &Value, want: StatusCode) -> Value {
        let (status, v) = self
            .w
            .api
            .send(
                Method::PUT,
                &format!("/api/v1/merchants/{}/ordering/settings", self.m),
                Some(body),
            )
            .await
            .unwrap();
        assert_eq!(status, want, "{v}");
        v
    }

    async fn readiness(&self) -> Value {
        self.w
            .api
            .get(&format!("/api/v1/merchants/{}/ordering/readiness", self.m))
            .await
            .unwrap()
    }

    /// Sets the POS stock of `sku` at the location and syncs the catalog.
    async fn stock(&self, sku: &str, count: Option<i64>) {
        self.w
            .sb
            .api
            .put(
                &format!("/_sandbox/merchants/{}/availability", self.sid),
                &json!({"location": self.pos_location, "sku": sku, "count": count}),
            )
            .await
            .unwrap();
        self.w.hub.engine.sync_now(&self.m, &self.c).await.unwrap();
        assert!(self.w.drain().await.is_empty());
    }

    async fn submit(&self, body: &Value) -> (StatusCode, Value) {
        self.w
            .api
            .send(
                Method::POST,
                &format!("/api/v1/merchants/{}/online-orders", self.m),
                Some(body),
            )
            .await
            .unwrap()
    }

    /// Submits `body`, expecting it refused before the POS with a problem on `field` that
    /// says `says`.
    async fn refused(&self, body: &Value, field: &str, says: &str) {
        let (status, err) = self.submit(body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        let problem = err["error"]["details"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["field"] == field)
            .unwrap_or_else(|| panic!("no problem on {field}: {err}"))
            .clone();
        assert!(
            problem["message"].as_str().unwrap().contains(says),
            "{problem} should say {says}"
        );
    }

    fn takeaway(&self, channel_id: &str) -> Value {
        let total = self.coffee.1 * 2 + self.pastry.1;
        json!({
            "channel_order_id": channel_id,
            "location_id": self.loc,
            "type": "takeaway",
            "customer": {"first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com", "phone": "+4512345678"},
            "items": [
                {"sku": self.coffee.0, "quantity": 2, "unit_price_minor": self.coffee.1},
                {"sku": self.pastry.0, "quantity": 1, "note": "warm it up"}
            ],
            "payment": {"amount_minor": total, "tip_minor": 100, "reference": "psp-1"},
            "total_minor": total,
        })
    }

    async fn order(&self, id: &str) -> Value {
        self.w
            .api
            .get(&format!("/api/v1/merchants/{}/online-orders/{id}", self.m))
            .await
            .unwrap()
    }

    /// Runs the workers until the order has `status` (and `payment`, when given).
    async fn wait_for(&self, id: &str, status: &str, payment: Option<&str>) -> Value {
        for _ in 0..150 {
            assert!(self.w.drain().await.is_empty());
            let o = self.order(id).await;
            if o["status"] == status && payment.is_none_or(|p| o["payment_status"] == p) {
                return o;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "order {id} never reached {status}/{payment:?}: {}",
            self.order(id).await
        );
    }

    /// Plays the POS staff.
    async fn pos(&self, order_id: &str, action: &str) {
        self.w
            .sb
            .api
            .post(
                &format!("/_sandbox/merchants/{}/online-orders/{order_id}", self.sid),
                &json!({ "action": action }),
            )
            .await
            .unwrap();
    }

    async fn pos_orders(&self) -> Vec<Value> {
        self.w
            .sb
            .api
            .get(&format!("/_sandbox/merchants/{}/online-orders", self.sid))
            .await
            .unwrap()["online_orders"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// The statuses announced for an order, in event order.
    async fn announced(&self, id: &str) -> Vec<String> {
        let events = self
            .w
            .api
            .get(&format!(
                "/api/v1/merchants/{}/events?type=ordering.order_status&limit=1000",
                self.m
            ))
            .await
            .unwrap();
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["subject"] == id)
            .map(|e| e["payload"]["status"].as_str().unwrap().to_owned())
            .collect()
    }
}

on_both_backends!(
    kseries_online_orders_climb_the_ladder,
    |backend| async move {
        let Some(s) = setup(backend).await else {
            return;
        };
        // Takeaway with payment: accepted, paid, ready, completed.
        let (status, created) = s.submit(&s.takeaway("shop-1")).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["status"], "received");
        assert_eq!(created["read_only"], true);
        let id = created["id"].as_str().unwrap().to_owned();
        let accepted = s.wait_for(&id, "accepted", Some("applied")).await;
        let account = accepted["pos_account"].as_str().unwrap().to_owned();
        let pos = s.pos_orders().await;
        assert_eq!(pos.len(), 1, "{pos:?}");
        assert_eq!(pos[0]["reference"], id.as_str());
        assert_eq!(pos[0]["identifier"], account.as_str());
        assert_eq!(pos[0]["profile"], "COLLECT");
        assert_eq!(pos[0]["dine_in"], false);
        assert_eq!(
            pos[0]["paid"], pos[0]["total"],
            "the payment covers the order"
        );
        s.pos(&id, "ready").await;
        s.wait_for(&id, "ready", None).await;
        s.pos(&id, "close").await;
        let done = s.wait_for(&id, "completed", None).await;
        assert_eq!(
            s.announced(&id).await,
            ["received", "submitted", "accepted", "ready", "completed"]
        );
        let history: Vec<&str> = done["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["status"].as_str().unwrap())
            .collect();
        assert!(
            history.starts_with(&["received", "submitted", "accepted"]),
            "{history:?}"
        );

        // The closed order is a sale in the POS, carrying its reference; the sync picks it up.
        s.w.hub.engine.sync_now(&s.m, &s.c).await.unwrap();
        assert!(s.w.drain().await.is_empty());

        // Dine-in at a table, without payment: completed with nothing to pay.
        let mut dine = s.takeaway("table-7");
        dine["type"] = json!("dine_in");
        dine["table"] = json!("7");
        dine["covers"] = json!(2);
        dine.as_object_mut().unwrap().remove("payment");
        let (status, created) = s.submit(&dine).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id2 = created["id"].as_str().unwrap().to_owned();
        s.wait_for(&id2, "accepted", Some("none")).await;
        let pos = s.pos_orders().await;
        let table = pos.iter().find(|o| o["reference"] == id2.as_str()).unwrap();
        assert_eq!(
            (
                table["dine_in"].clone(),
                table["table"].clone(),
                table["profile"].clone()
            ),
            (json!(true), json!("7"), Value::Null)
        );
        s.pos(&id2, "close").await;
        s.wait_for(&id2, "completed", None).await;
        // CLOSED before READY: the shopper still sees every step, in order.
        assert_eq!(
            s.announced(&id2).await,
            ["received", "submitted", "accepted", "ready", "completed"]
        );

        // A void in the POS cancels the order with the only reason Lightspeed has.
        let (_, created) = s.submit(&s.takeaway("shop-void")).await;
        let id3 = created["id"].as_str().unwrap().to_owned();
        s.wait_for(&id3, "accepted", Some("applied")).await;
        s.pos(&id3, "void").await;
        let cancelled = s.wait_for(&id3, "cancelled", None).await;
        assert_eq!(cancelled["detail"], "Canceled by merchant");
        s.w.stop().await;
    }
);

on_both_backends!(
    kseries_bad_orders_are_rejected_before_the_pos,
    |backend| async move {
        let Some(s) = setup(backend).await else {
            return;
        };
        let cases: Vec<(Change, &str, &str)> = vec![
            (
                |o| o["items"][0]["sku"] = json!("NOPE-1"),
                "sku_not_found",
                "items[0].sku",
            ),
            (
                |o| o["account_profile"] = json!("DRIVE_THRU"),
                "invalid_profile",
                "account_profile",
            ),
            (
                |o| o["items"][0]["unit_price_minor"] = json!(1),
                "price_mismatch",
                "items[0].unit_price_minor",
            ),
            (
                |o| o["total_minor"] = json!(5),
                "price_mismatch",
                "total_minor",
            ),
            (
                |o| o["customer"]["first_name"] = json!(""),
                "other",
                "customer.first_name",
            ),
            (
                |o| o["location_id"] = json!("loc_nope"),
                "other",
                "location_id",
            ),
            (
                // Not a table of the floor plans (the terrace's 25 is out of use).
                |o| {
                    o["type"] = json!("dine_in");
                    o["table"] = json!("25");
                },
                "other",
                "table",
            ),
        ];
        for (i, (change, reason, field)) in cases.into_iter().enumerate() {
            let mut body = s.takeaway(&format!("bad-{i}"));
            change(&mut body);
            let (status, err) = s.submit(&body).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
            assert_eq!(err["error"]["code"], "order_rejected");
            assert_eq!(err["error"]["details"]["reason"], reason, "{err}");
            assert!(
                err["error"]["details"]["problems"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["field"] == field),
                "{err}"
            );
        }
        // Sold out at the POS (its availability is synced with the catalog).
        s.stock(&s.coffee.0, Some(0)).await;
        let (status, err) = s.submit(&s.takeaway("sold-out")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(
            err["error"]["details"]["reason"], "item_unavailable",
            "{err}"
        );

        // Nothing reached the POS and nothing was stored.
        assert!(s.w.drain().await.is_empty());
        assert!(s.pos_orders().await.is_empty());
        let list =
            s.w.api
                .get(&format!("/api/v1/merchants/{}/online-orders", s.m))
                .await
                .unwrap();
        assert_eq!(list["online_orders"].as_array().unwrap().len(), 0, "{list}");
        s.w.stop().await;
    }
);

on_both_backends!(
    kseries_production_instructions_reach_the_pos,
    |backend| async move {
        let Some(s) = setup(backend).await else {
            return;
        };
        // The catalog lists the coffee's instructions as the POS menu offers them.
        let catalog =
            s.w.api
                .get(&format!(
                    "/api/v1/merchants/{}/catalog?pos_location_id={}&sku={}",
                    s.m, s.pos_location, s.coffee.0
                ))
                .await
                .unwrap();
        let groups = catalog["items"][0]["instructions"]
            .as_array()
            .unwrap()
            .clone();
        let group = |name: &str| {
            groups
                .iter()
                .find(|g| g["name"] == name)
                .unwrap_or_else(|| panic!("no {name} group: {catalog}"))
                .clone()
        };
        let (milk, extras) = (group("Milk"), group("Extras"));
        assert_eq!(
            (milk["multiple"].clone(), extras["multiple"].clone()),
            (json!(false), json!(true))
        );
        let id = |g: &Value, name: &str| {
            g["instructions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["name"] == name)
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let (oat, soy) = (id(&milk, "Oat milk"), id(&milk, "Soy milk"));
        let (hot, decaf) = (id(&extras, "Extra hot"), id(&extras, "Decaf"));

        // Refused before the POS: one milk only, an id the item does not offer, an
        // instruction on an item that takes none, the same one twice.
        let cases: Vec<(Vec<String>, Vec<String>, &str, &str)> = vec![
            (
                vec![oat.clone(), soy.clone()],
                vec![],
                "items[0].modifiers[1]",
                "only one `Milk`",
            ),
            (
                vec!["999".into()],
                vec![],
                "items[0].modifiers[0]",
                "is not offered",
            ),
            (
                vec![],
                vec![oat.clone()],
                "items[1].modifiers[0]",
                "takes no modifiers",
            ),
            (
                vec![hot.clone(), hot.clone()],
                vec![],
                "items[0].modifiers[1]",
                "named twice",
            ),
        ];
        for (n, (coffee, pastry, field, says)) in cases.into_iter().enumerate() {
            let mut body = s.takeaway(&format!("bad-modifiers-{n}"));
            body["items"][0]["modifiers"] = json!(coffee);
            body["items"][1]["modifiers"] = json!(pastry);
            s.refused(&body, field, says).await;
        }
        assert!(s.pos_orders().await.is_empty());

        // Accepted: the POS line carries the instructions by name, the total is unchanged.
        let mut body = s.takeaway("with-modifiers");
        body["items"][0]["modifiers"] = json!([oat, hot, decaf]);
        let (status, created) = s.submit(&body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let order = created["id"].as_str().unwrap().to_owned();
        s.wait_for(&order, "accepted", Some("applied")).await;
        let pos = s.pos_orders().await;
        let lines = pos[0]["lines"].as_array().unwrap();
        assert_eq!(
            lines[0]["instructions"],
            json!(["Oat milk", "Extra hot", "Decaf"])
        );
        assert_eq!(
            (&lines[0]["sku"], &lines[0]["quantity"]),
            (&json!(s.coffee.0), &json!(2))
        );
        assert_eq!(lines[1]["instructions"], json!([]));
        assert_eq!(pos[0]["paid"], pos[0]["total"]);
        s.w.stop().await;
    }
);

on_both_backends!(
    kseries_add_ons_and_deals_are_priced_sub_items,
    |backend| async move {
        let Some(s) = setup(backend).await else {
            return;
        };
        let catalog =
            s.w.api
                .get(&format!(
                    "/api/v1/merchants/{}/catalog?pos_location_id={}",
                    s.m, s.pos_location
                ))
                .await
                .unwrap();
        let items = catalog["items"].as_array().unwrap().clone();
        let named = |name: &str| {
            items
                .iter()
                .find(|i| i["name"] == name)
                .unwrap_or_else(|| panic!("no {name} in {catalog}"))
                .clone()
        };
        let sku = |v: &Value| v["sku"].as_str().unwrap().to_owned();
        let price = |v: &Value| v["price_minor"].as_i64().unwrap();

        // The coffee offers its add-ons with their prices; an add-on is an item of its own
        // kind; the deal offers one drink and one pastry, some at an extra price.
        let coffee = items
            .iter()
            .find(|i| i["sku"] == s.coffee.0.as_str())
            .unwrap();
        assert_eq!(coffee["kind"], "item");
        let add_ons = &coffee["choices"][0];
        assert_eq!(
            (&add_ons["name"], &add_ons["min"], &add_ons["max"]),
            (&json!("Coffee add-ons"), &json!(0), &json!(3)),
            "{coffee}"
        );
        let shot = named("Extra shot");
        assert_eq!(shot["kind"], "modifier");
        let shot_option = add_ons["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["sku"] == shot["sku"])
            .unwrap()
            .clone();
        assert_eq!(shot_option["price_minor"], price(&shot));
        let deal = named("Breakfast Deal");
        assert_eq!(deal["kind"], "deal");
        let groups: Vec<&str> = deal["choices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(groups, ["Drink", "Pastry"]);
        let option = |group: usize, name: &str| {
            let found = named(name);
            let o = deal["choices"][group]["options"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["sku"] == found["sku"])
                .unwrap()
                .clone();
            (sku(&found), o["price_minor"].as_i64().unwrap())
        };
        let ((latte, latte_extra), (bun, bun_extra)) =
            (option(0, "Latte"), option(1, "Cinnamon Bun"));
        assert_eq!((latte_extra, bun_extra), (30, 40));
        let (shot, shot_price, deal, deal_price) =
            (sku(&shot), price(&shot), sku(&deal), price(&deal));

        // Two coffees with two shots each, and the deal with a latte and a bun.
        let total = 2 * (s.coffee.1 + 2 * shot_price) + deal_price + latte_extra + bun_extra;
        let order = |id: &str, items: Value, paid: i64| {
            json!({
                "channel_order_id": id, "location_id": s.loc, "type": "takeaway",
                "customer": {"first_name": "Ada", "email": "ada@example.com"},
                "items": items,
                "payment": {"amount_minor": paid, "reference": format!("psp-{id}")},
            })
        };
        let good = json!([
            {"sku": s.coffee.0, "quantity": 2, "sub_items": [{"sku": shot, "quantity": 2}]},
            {"sku": deal, "quantity": 1, "sub_items": [{"sku": latte, "quantity": 1}, {"sku": bun, "quantity": 1}]},
        ]);

        // Refused before the POS, each with its field and what to do.
        let cases = [
            (
                order("alone", json!([{"sku": shot, "quantity": 1}]), shot_price),
                "items[0].sku",
                "is an add-on",
            ),
            (
                order(
                    "on-pastry",
                    json!([{"sku": s.pastry.0, "quantity": 1, "sub_items": [{"sku": shot, "quantity": 1}]}]),
                    s.pastry.1 + shot_price,
                ),
                "items[0].sub_items[0].sku",
                "takes no sub-items",
            ),
            (
                order(
                    "no-pastry",
                    json!([{"sku": deal, "quantity": 1, "sub_items": [{"sku": latte, "quantity": 1}]}]),
                    deal_price + latte_extra,
                ),
                "items[0].sub_items",
                "needs at least 1 from Pastry",
            ),
            (
                order(
                    "four-shots",
                    json!([{"sku": s.coffee.0, "quantity": 1, "sub_items": [{"sku": shot, "quantity": 4}]}]),
                    s.coffee.1 + 4 * shot_price,
                ),
                "items[0].sub_items",
                "at most 3 from Coffee add-ons",
            ),
            (
                order("unpriced", good.clone(), total - 2 * 2 * shot_price),
                "payment.amount_minor",
                &format!("the items cost {total}"),
            ),
        ];
        for (body, field, says) in cases {
            s.refused(&body, field, says).await;
        }
        // Three shots left, the order needs four; then enough again.
        s.stock(&shot, Some(3)).await;
        s.refused(
            &order("short", good.clone(), total),
            "items[0].sub_items[0]",
            "only 3 of",
        )
        .await;
        s.stock(&shot, Some(10)).await;
        assert!(s.pos_orders().await.is_empty());

        // Accepted: the POS prices the sub-items on lines of their own under their line.
        let (status, created) = s.submit(&order("combo", good, total)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        s.wait_for(&id, "accepted", Some("applied")).await;
        let pos = s.pos_orders().await;
        assert_eq!(pos[0]["paid"], pos[0]["total"], "{pos:?}");
        let lines = pos[0]["lines"].as_array().unwrap();
        let summary: Vec<(String, i64, Option<String>)> = lines
            .iter()
            .map(|l| {
                (
                    l["sku"].as_str().unwrap().to_owned(),
                    l["quantity"].as_i64().unwrap(),
                    l["parent"].as_str().map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (s.coffee.0.clone(), 2, None),
                (shot.clone(), 4, Some(s.coffee.0.clone())),
                (deal.clone(), 1, None),
                (latte.clone(), 1, Some(deal.clone())),
                (bun.clone(), 1, Some(deal.clone())),
            ]
        );

        // Closed, the sale comes back through the sync with each sub-item under its line.
        s.pos(&id, "close").await;
        s.wait_for(&id, "completed", None).await;
        s.w.hub.engine.sync_now(&s.m, &s.c).await.unwrap();
        assert!(s.w.drain().await.is_empty());
        let orders =
            s.w.api
                .get(&format!("/api/v1/merchants/{}/orders?limit=1000", s.m))
                .await
                .unwrap();
        let synced = orders["orders"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| {
                o["lines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l["sku"] == deal.as_str())
            })
            .unwrap_or_else(|| panic!("the combo was not synced: {orders}"))
            .clone();
        assert_eq!(synced["total_minor"], total, "{synced}");
        let lines = synced["lines"].as_array().unwrap();
        let parent_sku = |child: &str| {
            let line = lines.iter().find(|l| l["sku"] == child).unwrap();
            let parent = line["parent_external_id"].as_str()?;
            lines
                .iter()
                .find(|l| l["external_id"] == parent)
                .map(|l| l["sku"].as_str().unwrap().to_owned())
        };
        assert_eq!(parent_sku(&shot), Some(s.coffee.0.clone()));
        assert_eq!(parent_sku(&bun), Some(deal.clone()));
        assert_eq!(parent_sku(&deal), None);
        s.w.stop().await;
    }
);

on_both_backends!(
    kseries_concurrent_resubmission_makes_one_pos_order,
    |backend| async move {
        let Some(s) = setup(backend).await else {
            return;
        };
        let body = s.takeaway("dup-1");
        let results = futures_join(&s, &body).await;
        let created = results
            .iter()
            .filter(|(st, _)| *st == StatusCode::CREATED)
            .count();
        assert_eq!(created, 1, "{results:?}");
        assert!(
            results
                .iter()
                .all(|(st, _)| *st == StatusCode::CREATED || *st == StatusCode::OK),
            "{results:?}"
        );
        let ids: std::collections::BTreeSet<String> = results
            .iter()
            .map(|(_, v)| v["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids.len(), 1, "{results:?}");
        let id = ids.into_iter().next().unwrap();
        s.wait_for(&id, "accepted", Some("applied")).await;
        // Again after it was pushed: the same order, still one POS order.
        let (status, again) = s.submit(&body).await;
        assert_eq!(
            (status, again["id"].as_str()),
            (StatusCode::OK, Some(id.as_str()))
        );
        // The same id for a different order is refused.
        let mut other = body.clone();
        other["items"][0]["quantity"] = json!(3);
        other.as_object_mut().unwrap().remove("payment");
        other.as_object_mut().unwrap().remove("total_minor");
        let (status, err) = s.submit(&other).await;
        assert_eq!(status, StatusCode::CONFLICT, "{err}");
        assert!(s.w.drain().await.is_empty());
        assert_eq!(s.pos_orders().await.len(), 1);
        s.w.stop().await;
    }
);

async fn futures_join(s: &Setup, body: &Value) -> Vec<(StatusCode, Value)> {
    let calls = (0..5).map(|_| s.submit(body));
    let mut out = Vec::new();
    let handles: Vec<_> = calls.collect();
    let joined = futures_util_join(handles).await;
    out.extend(joined);
    out
}

/// Polls every future together (five concurrent requests).
async fn futures_util_join<F: std::future::Future<Output = (StatusCode, Value)>>(
    futures: Vec<F>,
) -> Vec<(StatusCode, Value)> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<(StatusCode, Value)>> = vec![None; pinned.len()];
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if done[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => done[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    done.into_iter().map(|d| d.unwrap()).collect()
}

on_both_backends!(
    kseries_outage_during_push_retries_then_fails,
    |backend| async move {
        let Some(s) = setup(backend).await else {
            return;
        };
        // The POS API answers 503 to everything for this merchant.
        s.w.sb
            .fault(json!({"kind": "server_error", "status": 503, "merchant": s.sid}))
            .await;
        let (status, created) = s.submit(&s.takeaway("outage-1")).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let failed = s.wait_for(&id, "failed", None).await;
        assert_eq!(
            failed["attempts"], 6,
            "the first try and five retries: {failed}"
        );
        assert_eq!(failed["needs_manual_handling"], true);
        assert!(
            failed["last_error"]
                .as_str()
                .unwrap()
                .starts_with("partner_outage"),
            "{failed}"
        );
        let manual =
            s.w.api
                .get(&format!(
                    "/api/v1/merchants/{}/online-orders?needs_manual_handling=true",
                    s.m
                ))
                .await
                .unwrap();
        assert_eq!(manual["online_orders"][0]["id"], id.as_str());
        let alerts =
            s.w.api
                .get(&format!(
                    "/api/v1/merchants/{}/events?type=ordering.alert",
                    s.m
                ))
                .await
                .unwrap();
        assert_eq!(
            alerts["events"][0]["payload"]["kind"], "order_failed",
            "{alerts}"
        );
        assert_eq!(alerts["events"][0]["subject"], id.as_str());

        // The outage ends: a new order goes through; the failed one stays for staff.
        s.w.sb
            .api
            .call(Method::DELETE, "/_sandbox/faults", None)
            .await
            .unwrap();
        let (_, created) = s.submit(&s.takeaway("outage-2")).await;
        let id2 = created["id"].as_str().unwrap().to_owned();
        s.wait_for(&id2, "accepted", Some("applied")).await;
        assert_eq!(s.pos_orders().await.len(), 1);
        assert_eq!(s.order(&id).await["status"], "failed");
        s.w.stop().await;
    }
);

on_both_backends!(kseries_lost_webhooks_are_reconciled, |backend| async move {
    let Some(s) = setup(backend).await else {
        return;
    };
    // Every webhook of this merchant is lost: the status comes from polling the POS.
    s.w.sb
        .fault(json!({"kind": "drop_webhooks", "merchant": s.sid}))
        .await;
    let (_, created) = s.submit(&s.takeaway("quiet-1")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    s.wait_for(&id, "submitted", None).await;
    // The POS has it, but the hub never hears SUCCESS; once closed, the sale is found by
    // its reference and the order completes (with the steps it missed announced in order).
    for _ in 0..40 {
        if s.pos_orders().await[0]["state"] == "open" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    s.pos(&id, "close").await;
    let done = s.wait_for(&id, "completed", None).await;
    assert!(
        done["pos_account"]
            .as_str()
            .is_some_and(|a| a.starts_with('A')),
        "{done}"
    );
    assert_eq!(
        s.announced(&id).await,
        ["received", "submitted", "accepted", "ready", "completed"]
    );
    assert_eq!(s.pos_orders().await.len(), 1);
    s.w.stop().await;
});

impl Setup {
    /// The ordering banner.
    async fn banner(&self) -> Value {
        self.w
            .api
            .get(&format!("/api/v1/merchants/{}/ordering/status", self.m))
            .await
            .unwrap()
    }

    async fn events(&self, event_type: &str) -> Vec<Value> {
        self.w
            .api
            .get(&format!(
                "/api/v1/merchants/{}/events?type={event_type}&limit=1000",
                self.m
            ))
            .await
            .unwrap()["events"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// The subjects of the mails written to the outbox directory, oldest first.
    async fn outbox(&self) -> Vec<String> {
        self.w.hub.engine.deliver_mails().await.unwrap();
        let dir = self.w.db.dir().join("outbox");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .map(|p| {
                let text = std::fs::read_to_string(p).unwrap();
                assert!(text.contains("To: staff@cafe.example"), "{text}");
                text.lines()
                    .find_map(|l| l.strip_prefix("Subject: "))
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

on_both_backends!(
    outages_show_a_banner_alert_by_mail_and_end_with_outage_over,
    |backend| async move {
        let Some(s) = setup(backend).await else {
            return;
        };
        assert_eq!(s.banner().await["outages"], json!([]));
        // A partner outage: the POS API answers 503.
        s.w.sb
            .fault(json!({"kind": "server_error", "status": 503, "merchant": s.sid}))
            .await;
        let (_, created) = s.submit(&s.takeaway("down-1")).await;
        let id = created["id"].as_str().unwrap().to_owned();
        s.wait_for(&id, "failed", None).await;
        let banner = s.banner().await;
        let outage = &banner["outages"][0];
        assert_eq!(
            (
                outage["kind"].clone(),
                outage["active"].clone(),
                outage["reconnect_required"].clone()
            ),
            (json!("partner_outage"), json!(true), json!(false)),
            "{banner}"
        );
        assert_eq!(banner["manual_orders"][0]["count"], 1, "{banner}");
        let started = s.events("ordering.outage").await;
        assert_eq!(
            started.len(),
            1,
            "one event per outage, not per attempt: {started:?}"
        );
        let mails = s.outbox().await;
        assert!(mails[0].contains("partner outage"), "{mails:?}");
        assert!(
            mails.iter().any(|m| m.contains("needs manual handling")),
            "{mails:?}"
        );

        // Recovery: the next order goes through and the outage is over.
        s.w.sb
            .api
            .call(Method::DELETE, "/_sandbox/faults", None)
            .await
            .unwrap();
        let (_, created) = s.submit(&s.takeaway("up-1")).await;
        let id2 = created["id"].as_str().unwrap().to_owned();
        s.wait_for(&id2, "accepted", Some("applied")).await;
        let over = s.events("ordering.outage_over").await;
        assert_eq!(over.len(), 1, "{over:?}");
        assert_eq!(over[0]["payload"]["kind"], "partner_outage");
        assert_eq!(over[0]["payload"]["manual_orders"], 1);
        let banner = s.banner().await;
        assert_eq!(banner["outages"][0]["active"], false, "{banner}");
        assert!(s.outbox().await.iter().any(|m| m.contains("outage over")));

        // A credentials issue: the tokens are revoked, and the banner asks for a reconnect.
        s.w.sb
            .fault(json!({"kind": "revoke_tokens", "merchant": s.sid}))
            .await;
        let (_, created) = s.submit(&s.takeaway("locked-1")).await;
        let id3 = created["id"].as_str().unwrap().to_owned();
        s.wait_for(&id3, "failed", None).await;
        let banner = s.banner().await;
        let outage = &banner["outages"][0];
        assert_eq!(
            (
                outage["kind"].clone(),
                outage["active"].clone(),
                outage["reconnect_required"].clone()
            ),
            (json!("credentials_issue"), json!(true), json!(true)),
            "{banner}"
        );
        assert!(
            outage["advice"]
                .as_str()
                .unwrap()
                .contains(&format!("/connections/{}/reconnect", s.c)),
            "{banner}"
        );
        assert!(s.outbox().await.iter().any(|m| m.contains("reconnect")));
        // Secrets stay out of the banner and the mails.
        assert!(!banner.to_string().contains(&s.w.sb.client_secret));
        s.w.stop().await;
    }
);

on_both_backends!(
    retail_online_orders_become_sales_with_payment_and_customer,
    |backend| async move {
        for series in ["x", "r"] {
            let Some(s) = setup_series(backend, series).await else {
                return;
            };
            let retail = |channel_id: &str| {
                let mut o = s.takeaway(channel_id);
                o["payment"]["tip_minor"] = json!(0);
                o
            };
            // Takeaway: the POS has the sale, paid, for a customer found or made by email.
            let (status, created) = s.submit(&retail("web-1")).await;
            assert_eq!(status, StatusCode::CREATED, "{series}: {created}");
            let id = created["id"].as_str().unwrap().to_owned();
            let accepted = s.wait_for(&id, "accepted", Some("applied")).await;
            let pos = s.pos_orders().await;
            assert_eq!(pos.len(), 1, "{series}: {pos:?}");
            assert_eq!(pos[0]["reference"], id.as_str());
            assert_eq!(pos[0]["identifier"], accepted["pos_account"]);
            assert_eq!(pos[0]["state"], "awaiting");
            assert_eq!(pos[0]["paid"], pos[0]["total"], "{series}: {pos:?}");
            assert_eq!(pos[0]["customer"], "Ada@Example.com", "{series}: {pos:?}");
            // The store hands it over: completed, every step announced in order.
            s.pos(&id, "close").await;
            s.wait_for(&id, "completed", None).await;
            assert_eq!(
                s.announced(&id).await,
                ["received", "submitted", "accepted", "ready", "completed"],
                "{series}"
            );

            // Delivery (X: AWAITING_DISPATCH) for the same customer, then voided in the POS.
            let mut delivery = retail("web-2");
            delivery["type"] = json!("delivery");
            delivery["delivery_address"] =
                json!({"line1": "Main St 1", "zip": "1000", "city": "Town"});
            let (_, created) = s.submit(&delivery).await;
            let id2 = created["id"].as_str().unwrap().to_owned();
            s.wait_for(&id2, "accepted", Some("applied")).await;
            let pos = s.pos_orders().await;
            let second = pos.iter().find(|o| o["reference"] == id2.as_str()).unwrap();
            assert_eq!(second["dispatch"], series == "x", "{series}: {second}");
            assert_eq!(second["customer"], "Ada@Example.com");
            s.pos(&id2, "void").await;
            let cancelled = s.wait_for(&id2, "cancelled", None).await;
            assert_eq!(cancelled["detail"], "Canceled by merchant");

            // What the retail series cannot take is refused before anything is sent.
            let mut dine = retail("web-3");
            dine["type"] = json!("dine_in");
            dine["table"] = json!("4");
            let (status, err) = s.submit(&dine).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
            assert_eq!(
                err["error"]["details"]["reason"], "invalid_profile",
                "{err}"
            );
            let mut unknown = retail("web-4");
            unknown["items"][0]["sku"] = json!("NOPE-1");
            let (status, err) = s.submit(&unknown).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
            assert_eq!(err["error"]["details"]["reason"], "sku_not_found", "{err}");
            assert_eq!(s.pos_orders().await.len(), 2, "{series}");

            // Stock counted by the store (X inventory, R ItemShop) limits what can be ordered.
            s.stock(&s.coffee.0, Some(1)).await;
            let (status, err) = s.submit(&retail("web-5")).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
            assert_eq!(
                err["error"]["details"]["reason"], "item_unavailable",
                "{err}"
            );
            assert!(
                err["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("only 1 of"),
                "{err}"
            );
            s.stock(&s.coffee.0, Some(3)).await;

            // The same channel order id five times at once: one sale.
            let body = retail("web-dup");
            let results = futures_join(&s, &body).await;
            let ids: std::collections::BTreeSet<String> = results
                .iter()
                .map(|(_, v)| v["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(ids.len(), 1, "{results:?}");
            s.wait_for(ids.first().unwrap(), "accepted", None).await;
            assert_eq!(s.pos_orders().await.len(), 3, "{series}");
            // The sale took two of the three off the store's stock.
            s.w.hub.engine.sync_now(&s.m, &s.c).await.unwrap();
            assert!(s.w.drain().await.is_empty());
            let (status, err) = s.submit(&retail("web-6")).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
            assert_eq!(
                err["error"]["details"]["reason"], "item_unavailable",
                "{err}"
            );
            if series == "x" {
                // Another product of the T-shirt's variant family (same price, stock not
                // counted) is ordered by its own SKU and reaches the POS as itself.
                let medium = catalog(&s.w, &s.m, &s.c)
                    .await
                    .into_iter()
                    .find(|i| i["name"] == "T-Shirt / M")
                    .unwrap()["sku"]
                    .clone();
                let mut order = retail("web-7");
                order["items"][0]["sku"] = medium.clone();
                let (status, created) = s.submit(&order).await;
                assert_eq!(status, StatusCode::CREATED, "{created}");
                let id = created["id"].as_str().unwrap().to_owned();
                s.wait_for(&id, "accepted", Some("applied")).await;
                let pos = s.pos_orders().await;
                let sold = pos.iter().find(|o| o["reference"] == id.as_str()).unwrap();
                assert_eq!(
                    sold["items"][0],
                    json!({"sku": medium, "quantity": 2}),
                    "{sold}"
                );
            }
            s.w.stop().await;
        }
    }
);

on_both_backends!(
    ordering_is_enabled_only_when_the_prerequisites_hold,
    |backend| async move {
        let Some(s) = prepare(backend, "k").await else {
            return;
        };
        // Not enabled: orders are refused with the way forward.
        let (status, err) = s.submit(&s.takeaway("early")).await;
        assert_eq!(status, StatusCode::CONFLICT, "{err}");
        assert_eq!(err["error"]["code"], "prerequisite_missing");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("ordering/readiness"),
            "{err}"
        );

        // Connected, menu synced, OOPAYMENT on the POS, webhook endpoint linked: ready.
        let r = s.readiness().await;
        assert_eq!(
            (r["ready"].clone(), r["enabled"].clone()),
            (json!(true), json!(false)),
            "{r}"
        );
        let location = r["locations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["location_id"] == s.loc.as_str())
            .unwrap()
            .clone();
        let check = |l: &Value, name: &str| -> Value {
            l["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == name)
                .unwrap_or_else(|| panic!("no {name} check in {l}"))
                .clone()
        };
        for name in [
            "connection",
            "menu",
            "payment_method",
            "webhooks",
            "floor_plans",
        ] {
            assert_eq!(check(&location, name)["ok"], true, "{name}: {location}");
        }
        assert!(
            check(&location, "floor_plans")["detail"]
                .as_str()
                .unwrap()
                .starts_with("17 active tables"),
            "{location}"
        );

        // A payment method the POS does not have: not enabled, and told why.
        let body = json!({"enabled": true, "payment_methods": {s.c.clone(): "NOPE"}});
        let err = s.settings(&body, StatusCode::CONFLICT).await;
        assert_eq!(err["error"]["code"], "prerequisite_missing", "{err}");
        assert!(
            err["error"]["message"].as_str().unwrap().contains("NOPE"),
            "{err}"
        );
        let failed = &err["error"]["details"]["locations"][0];
        assert_eq!(check(failed, "payment_method")["ok"], false, "{err}");
        assert!(
            check(failed, "payment_method")["fix"]
                .as_str()
                .unwrap()
                .contains("OOPAYMENT")
                || check(failed, "payment_method")["detail"]
                    .as_str()
                    .unwrap()
                    .contains("OOPAYMENT"),
            "{err}"
        );
        let settings =
            s.w.api
                .get(&format!("/api/v1/merchants/{}/ordering/settings", s.m))
                .await
                .unwrap();
        assert_eq!(settings["enabled"], false, "{settings}");
        assert_eq!(settings["payment_methods"], json!({}), "{settings}");
        // Bad input is refused and changes nothing.
        let err = s
            .settings(
                &json!({"payment_methods": {"con_nope": "OOPAYMENT"}}),
                StatusCode::BAD_REQUEST,
            )
            .await;
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap()
                .contains("con_nope"),
            "{err}"
        );

        // The merchant deletes the webhooks in the back office: not ready any more...
        s.w.sb
            .api
            .call(
                Method::DELETE,
                &format!("/_sandbox/merchants/{}/webhooks", s.sid),
                None,
            )
            .await
            .unwrap();
        let r = s.readiness().await;
        assert_eq!(r["ready"], false, "{r}");
        let webhooks = check(&r["locations"][0], "webhooks");
        assert_eq!(webhooks["ok"], false, "{r}");
        assert!(webhooks["fix"].as_str().unwrap().contains("enabled"), "{r}");
        // ...and enabling registers them again, so the POS's answers reach the hub.
        let view = s.settings(&json!({"enabled": true}), StatusCode::OK).await;
        assert_eq!(view["enabled"], true, "{view}");
        assert!(view["enabled_at"].is_i64(), "{view}");
        assert_eq!(s.readiness().await["ready"], true);
        let (status, created) = s.submit(&s.takeaway("after-enable")).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        s.wait_for(created["id"].as_str().unwrap(), "accepted", Some("applied"))
            .await;

        // Switched off: refused again; the stored order stays readable.
        s.settings(&json!({"enabled": false}), StatusCode::OK).await;
        let (status, _) = s.submit(&s.takeaway("late")).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, again) = s.submit(&s.takeaway("after-enable")).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        s.w.stop().await;
    }
);

on_both_backends!(
    dashboard_orders_show_status_the_outage_banner_and_manual_handling,
    |backend| async move {
        use crate::dashboard::{engine_user, Browser, PASSWORD};
        let Some(s) = setup(backend).await else {
            return;
        };
        let (_, created) = s.submit(&s.takeaway("web-1")).await;
        let fine = created["id"].as_str().unwrap().to_owned();
        s.wait_for(&fine, "accepted", Some("applied")).await;
        s.w.sb
            .fault(json!({"kind": "server_error", "status": 503, "merchant": s.sid}))
            .await;
        let (_, created) = s.submit(&s.takeaway("down-1")).await;
        let failed = created["id"].as_str().unwrap().to_owned();
        s.wait_for(&failed, "failed", None).await;

        engine_user(&s.w, "staff@cafe.example", Some(&s.m)).await;
        let mut staff = Browser::new(&s.w.hub.url);
        staff.sign_in("staff@cafe.example", PASSWORD).await;
        let (status, page, _) = staff.get(&format!("/merchants/{}/orders", s.m)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("id=\"outage-banner\"") && page.contains("API is failing"),
            "the banner"
        );
        let manual = &page[page.find("id=\"manual-orders\"").expect("manual list")..];
        let manual = &manual[..manual.find("</table>").unwrap()];
        assert!(manual.contains("down-1") && !manual.contains("web-1"));
        let all = &page[page.find("id=\"orders\"").unwrap()..];
        assert!(all.contains("web-1") && all.contains("down-1"));
        assert!(
            all.contains("data-order-status=\"accepted\"")
                && all.contains("data-order-status=\"failed\"")
        );
        assert_eq!(
            page.matches("method=\"post\"").count(),
            1,
            "read-only: no form but Sign out"
        );
        let (_, page, _) = staff
            .get(&format!("/merchants/{}/orders?status=failed", s.m))
            .await;
        let all = &page[page.find("id=\"orders\"").unwrap()..];
        assert!(all.contains("down-1") && !all.contains("web-1"));
        let (status, page, _) = staff
            .get(&format!("/merchants/{}/orders?status=lost", s.m))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("`lost` is not an order status"));

        let (status, page, _) = staff
            .get(&format!("/merchants/{}/orders/{failed}", s.m))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("id=\"manual\"") && page.contains("enter it there by hand"));
        assert!(
            page.contains(&s.coffee.0) && page.contains("warm it up"),
            "the items"
        );
        assert!(page.contains("Ada Lovelace"));
        assert!(page.contains("partner_outage"), "the last error");

        // The outage ends: the banner goes, the failed order stays for staff.
        s.w.sb
            .api
            .call(Method::DELETE, "/_sandbox/faults", None)
            .await
            .unwrap();
        let (_, created) = s.submit(&s.takeaway("web-2")).await;
        let id = created["id"].as_str().unwrap().to_owned();
        s.wait_for(&id, "accepted", None).await;
        let (_, page, _) = staff.get(&format!("/merchants/{}/orders", s.m)).await;
        assert!(!page.contains("id=\"outage-banner\""), "the outage is over");
        assert!(page.contains("An outage of") && page.contains("id=\"manual-orders\""));

        // Another merchant's user sees none of it.
        let other =
            s.w.api
                .post(
                    "/api/v1/merchants",
                    &json!({ "name": "Bravo", "timezone": "Europe/Copenhagen", "currency": "DKK" }),
                )
                .await
                .unwrap();
        let other = other["id"].as_str().unwrap();
        engine_user(&s.w, "staff@bravo.example", Some(other)).await;
        let mut bravo = Browser::new(&s.w.hub.url);
        bravo.sign_in("staff@bravo.example", PASSWORD).await;
        for path in [
            format!("/merchants/{}/orders", s.m),
            format!("/merchants/{}/orders/{failed}", s.m),
            format!("/merchants/{other}/orders/{failed}"),
        ] {
            let (status, page, _) = bravo.get(&path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert!(!page.contains("down-1"));
        }
        assert!(!staff.seen.contains(&s.w.sb.client_secret));
        s.w.stop().await;
    }
);
