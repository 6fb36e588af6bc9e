//! The unified catalog against the sandbox: it equals the sandbox's menu for every series; K
//! item availability follows the POS through its webhook; a K-Series item created, changed,
//! given rich data and deleted through the hub changes in the sandbox and comes back through
//! sync; bad writes and writes to series the hub cannot edit are refused and change nothing.

use crate::common::*;
use crate::on_both_backends;
use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// `"4.25"` → 425.
fn minor(price: &str) -> i64 {
    let (whole, cents) = price.split_once('.').unwrap();
    whole.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap()
}

/// An item as both sides describe it: (sku, name, price in minor units, category, production
/// instructions, kind, sub-item choices and variant family as JSON).
type MenuEntry = (String, String, i64, String, String);

/// The sandbox's menu of merchant `sid`.
async fn sandbox_menu(w: &World, sid: &str) -> BTreeSet<MenuEntry> {
    let detail =
        w.sb.api
            .get(&format!("/_sandbox/merchants/{sid}"))
            .await
            .unwrap();
    detail["menu"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["sku"].as_str().unwrap().to_owned(),
                i["name"].as_str().unwrap().to_owned(),
                minor(i["price"].as_str().unwrap()),
                i["category"].as_str().unwrap().to_owned(),
                json!([i["instructions"], i["kind"], i["choices"], i["variant"]]).to_string(),
            )
        })
        .collect()
}

/// Asserts that every POS location of connection `c` lists exactly the sandbox's menu.
async fn assert_catalog_is_the_menu(w: &World, m: &str, c: &str, sid: &str) {
    let menu = sandbox_menu(w, sid).await;
    let items = catalog(w, m, c).await;
    let locations: BTreeSet<&str> = items
        .iter()
        .map(|i| i["pos_location_id"].as_str().unwrap())
        .collect();
    assert!(!locations.is_empty(), "the catalog is empty");
    for loc in locations {
        let ours: BTreeSet<MenuEntry> = items
            .iter()
            .filter(|i| i["pos_location_id"] == loc)
            .map(|i| {
                (
                    i["sku"].as_str().unwrap().to_owned(),
                    i["name"].as_str().unwrap().to_owned(),
                    i["price_minor"].as_i64().unwrap(),
                    i["category"].as_str().unwrap().to_owned(),
                    json!([i["instructions"], i["kind"], i["choices"], i["variant"]]).to_string(),
                )
            })
            .collect();
        assert_eq!(ours, menu, "catalog of location {loc}");
    }
}

/// Counts `item`'s stock at its location in the sandbox, then lifts the count: each change
/// reaches the catalog through the store's webhook, the catalog run being otherwise not due.
async fn assert_stock_follows_webhooks(w: &World, m: &str, c: &str, sid: &str, item: &Value) {
    let (pos, sku) = (
        item["pos_location_id"].as_str().unwrap(),
        item["sku"].as_str().unwrap(),
    );
    for count in [json!(3), Value::Null] {
        let before = deliveries(w, m, c).await;
        w.sb.api
            .put(
                &format!("/_sandbox/merchants/{sid}/availability"),
                &json!({"location": pos, "sku": sku, "count": count}),
            )
            .await
            .unwrap();
        wait_for_deliveries(w, m, c, before + 1).await;
        assert!(w.drain().await.is_empty());
        let now = catalog(w, m, c)
            .await
            .into_iter()
            .find(|i| i["sku"] == sku && i["pos_location_id"] == pos)
            .unwrap();
        assert_eq!(now["available_count"], count, "{now}");
    }
}

/// Deletes through the hub at `path` and checks that the sandbox's menu is `before` again and
/// the catalog, once synced, equals it.
async fn assert_deleted(
    w: &World,
    (m, c, sid): (&str, &str, &str),
    path: &str,
    before: &BTreeSet<MenuEntry>,
) {
    let (status, answer) = send(w, Method::DELETE, path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    assert_eq!(&sandbox_menu(w, sid).await, before);
    assert!(w.drain().await.is_empty());
    assert_catalog_is_the_menu(w, m, c, sid).await;
}

async fn send(w: &World, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
    w.api.send(method, path, body).await.unwrap()
}

on_both_backends!(kseries_items_round_trip, |backend| async move {
    let Some(w) = World::start(backend).await else {
        return;
    };
    let sm = w.sb.merchant(1, 2).await;
    let sid = sm["id"].as_str().unwrap().to_owned();
    let m = w.merchant().await;
    let c = w.connect(&m, &sm).await;
    assert!(w.drain().await.is_empty());
    assert_catalog_is_the_menu(&w, &m, &c, &sid).await;
    let first = catalog(&w, &m, &c).await[0].clone();
    assert_eq!(first["series"], "k");
    assert_eq!(first["tax_rate_bp"], 900);
    assert_eq!(first["tax_included"], true);
    let category = first["category_id"].as_str().unwrap().to_owned();
    let categories = w
        .api
        .get(&format!(
            "/api/v1/merchants/{m}/categories?connection_id={c}"
        ))
        .await
        .unwrap();
    assert!(
        categories.to_string().contains(&category),
        "the item's category id is one of the connection's categories"
    );

    // A sales restriction set on the POS reaches the catalog through the item
    // availability webhook (the catalog run is not due otherwise), and so does lifting it.
    assert_stock_follows_webhooks(&w, &m, &c, &sid, &first).await;

    // Create.
    let items = format!("/api/v1/merchants/{m}/catalog/items");
    let flat_white = json!({"connection_id": c, "sku": "FW1", "name": "Flat White", "price_minor": 425, "category_id": category});
    let (status, created) = send(&w, Method::POST, &items, Some(&flat_white)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["item"]["sku"], "FW1");
    assert_eq!(created["item"]["price_minor"], 425);
    assert!(sandbox_menu(&w, &sid)
        .await
        .iter()
        .any(|i| i.0 == "FW1" && i.2 == 425));
    assert!(w.drain().await.is_empty());
    assert_catalog_is_the_menu(&w, &m, &c, &sid).await;

    // Refusals change nothing, and say what was wrong.
    let before = sandbox_menu(&w, &sid).await;
    let bad = [
        (
            json!({"connection_id": c, "name": "Tea", "price_minor": 300, "category_id": "999"}),
            StatusCode::BAD_REQUEST,
            "accountingGroupId",
        ),
        (
            json!({"connection_id": c, "name": "Tea", "price_minor": -1, "category_id": category}),
            StatusCode::BAD_REQUEST,
            "price_minor",
        ),
        (
            json!({"connection_id": c, "name": " ", "price_minor": 300, "category_id": category}),
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            json!({"connection_id": c, "sku": "FW1", "name": "Tea", "price_minor": 300, "category_id": category}),
            StatusCode::BAD_REQUEST,
            "already used",
        ),
        (
            json!({"connection_id": c, "pos_location_id": "1", "name": "Tea", "price_minor": 300, "category_id": category}),
            StatusCode::BAD_REQUEST,
            "no business location",
        ),
        (
            json!({"connection_id": "con_missing", "name": "Tea", "price_minor": 300, "category_id": category}),
            StatusCode::NOT_FOUND,
            "con_missing",
        ),
        (
            json!({"connection_id": c, "name": "Tea", "price_minor": "3.00", "category_id": category}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "price_minor",
        ),
    ];
    for (body, want, says) in bad {
        let (status, answer) = send(&w, Method::POST, &items, Some(&body)).await;
        assert_eq!(status, want, "{body} → {answer}");
        assert!(answer.to_string().contains(says), "{body} → {answer}");
    }
    let (status, answer) = send(
            &w,
            Method::PUT,
            &format!("{items}/NOPE"),
            Some(&json!({"connection_id": c, "name": "Tea", "price_minor": 300, "category_id": category})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let (status, answer) = send(
        &w,
        Method::PUT,
        &format!("{items}/FW1/rich"),
        Some(&json!({"connection_id": c, "allergens": ["glitter"]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer.to_string().contains("allergen"), "{answer}");
    let (status, answer) = send(
            &w,
            Method::PUT,
            &format!("{items}/FW1/rich"),
            Some(&json!({"connection_id": c, "descriptions": [{"locale": "de", "description": "Doppelt"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer.to_string().contains("locale"), "{answer}");
    let (status, answer) = send(
        &w,
        Method::PUT,
        &format!("{items}/FW1/rich"),
        Some(&json!({"connection_id": c, "descriptions": [{"locale": "en", "description": "Velvety"}], "picture_base64": "not base64!"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer.to_string().contains("base64"), "{answer}");
    assert_eq!(sandbox_menu(&w, &sid).await, before);
    let detail =
        w.sb.api
            .get(&format!("/_sandbox/merchants/{sid}"))
            .await
            .unwrap();
    assert!(
        !detail.to_string().contains("Velvety"),
        "a refused picture leaves the descriptions unsent"
    );

    // Update: name, price, and a new SKU.
    let (status, updated) = send(
            &w,
            Method::PUT,
            &format!("{items}/FW1"),
            Some(&json!({"connection_id": c, "sku": "FW2", "name": "Flat White (large)", "price_minor": 475, "category_id": category})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["item"]["sku"], "FW2");
    assert!(w.drain().await.is_empty());
    assert_catalog_is_the_menu(&w, &m, &c, &sid).await;
    let fw2 = catalog(&w, &m, &c)
        .await
        .into_iter()
        .find(|i| i["sku"] == "FW2")
        .unwrap();
    assert_eq!(fw2["name"], "Flat White (large)");
    assert_eq!(fw2["price_minor"], 475);

    // Rich data, with a picture.
    let picture: Vec<u8> = b"\x89PNG\r\n\x1a\nsandbox picture".to_vec();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&picture);
    let (status, answer) = send(
            &w,
            Method::PUT,
            &format!("{items}/FW2/rich"),
            Some(&json!({"connection_id": c, "allergens": ["milk"], "descriptions": [{"locale": "en", "description": "A double ristretto with steamed milk", "display_name": "Flat white"}], "picture_base64": encoded})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert!(w.drain().await.is_empty());
    let fw2 = catalog(&w, &m, &c)
        .await
        .into_iter()
        .find(|i| i["sku"] == "FW2")
        .unwrap();
    assert_eq!(
        fw2["allergens"],
        json!([{"code": "milk", "names": {"en": "Milk", "fr": "Lait"}}])
    );
    assert_eq!(
        fw2["descriptions"],
        json!([{"locale": "en", "description": "A double ristretto with steamed milk", "display_name": "Flat white"}])
    );
    let url = fw2["image_url"].as_str().unwrap();
    let fetched = reqwest::get(url).await.unwrap();
    assert_eq!(fetched.headers()["content-type"], "image/png");
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), picture);

    // Delete.
    let (status, answer) = send(
        &w,
        Method::DELETE,
        &format!("{items}/FW2?connection_id={c}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    assert!(!sandbox_menu(&w, &sid).await.iter().any(|i| i.0 == "FW2"));
    assert!(w.drain().await.is_empty());
    assert_catalog_is_the_menu(&w, &m, &c, &sid).await;
    let (status, _) = send(
        &w,
        Method::DELETE,
        &format!("{items}/FW2?connection_id={c}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    w.stop().await;
});

on_both_backends!(
    retail_catalogs_equal_the_sandbox_and_take_what_their_api_allows,
    |backend| async move {
        let Some(w) = World::start(backend).await else {
            return;
        };
        for series in ["x", "r"] {
            let sm = match series {
                "x" => w.sb.merchant_x(1, 2).await,
                _ => w.sb.merchant_r(1, 2).await,
            };
            let sid = sm["id"].as_str().unwrap().to_owned();
            let m = w.merchant().await;
            let c = w.connect(&m, &sm).await;
            assert!(w.drain().await.is_empty());
            assert_catalog_is_the_menu(&w, &m, &c, &sid).await;
            // X-Series variant families: each product under its own name, naming the family's
            // parent product (which heads its own family).
            let listed = catalog(&w, &m, &c).await;
            let in_families: BTreeSet<(String, String, bool)> = listed
                .iter()
                .filter(|i| !i["variant"].is_null())
                .map(|i| {
                    (
                        i["variant"]["family"].as_str().unwrap().to_owned(),
                        i["name"].as_str().unwrap().to_owned(),
                        i["variant"]["family_id"] == i["pos_item_id"],
                    )
                })
                .collect();
            let expected: BTreeSet<(String, String, bool)> = match series {
                "x" => ["T-Shirt", "Hoodie"]
                    .iter()
                    .flat_map(|f| {
                        ["S", "M", "L"]
                            .map(|size| (f.to_string(), format!("{f} / {size}"), size == "S"))
                    })
                    .collect(),
                _ => BTreeSet::new(),
            };
            assert_eq!(in_families, expected);
            let item = listed[0].clone();
            assert_eq!(item["series"], series);
            if series == "x" {
                // Stock counted in the store reaches the catalog through its inventory.update
                // webhook (the catalog run is not due otherwise), and so does lifting it.
                assert_stock_follows_webhooks(&w, &m, &c, &sid, &item).await;
            }
            assert!(item["pos_item_id"].is_string(), "{item}");
            assert!(item["category_id"].is_string(), "{item}");
            let items = format!("/api/v1/merchants/{m}/catalog/items");
            let tea = json!({"connection_id": c, "sku": "TEA1", "name": "Tea", "price_minor": 325, "category_id": item["category_id"]});
            let before = sandbox_menu(&w, &sid).await;
            let refused = |status: StatusCode, answer: &Value| {
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
                assert_eq!(answer["error"]["code"], "unsupported_by_series");
            };
            if series == "r" {
                // R-Series creates, updates and archives items.
                let (status, created) = send(&w, Method::POST, &items, Some(&tea)).await;
                assert_eq!(status, StatusCode::CREATED, "{created}");
                assert_eq!(
                    (
                        created["item"]["sku"].clone(),
                        created["item"]["price_minor"].clone()
                    ),
                    (json!("TEA1"), json!(325))
                );
                assert!(w.drain().await.is_empty());
                assert_catalog_is_the_menu(&w, &m, &c, &sid).await;
                assert!(catalog(&w, &m, &c)
                    .await
                    .iter()
                    .any(|i| i["sku"] == "TEA1" && i["price_minor"] == 325));

                // Refusals name what was wrong and change nothing.
                let with_tea = sandbox_menu(&w, &sid).await;
                let bad_category = json!({"connection_id": c, "sku": "TEA2", "name": "Tea", "price_minor": 300, "category_id": "999"});
                for (body, says) in [(&tea, "customSku"), (&bad_category, "categoryID")] {
                    let (status, answer) = send(&w, Method::POST, &items, Some(body)).await;
                    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
                    assert!(
                        answer["error"]["message"].as_str().unwrap().contains(says),
                        "{answer}"
                    );
                }
                let (status, answer) =
                    send(&w, Method::PUT, &format!("{items}/NOPE"), Some(&tea)).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
                assert_eq!(sandbox_menu(&w, &sid).await, with_tea);

                // Update: a new name, price and SKU reach the POS and come back through sync.
                let chai = json!({"connection_id": c, "sku": "CHAI1", "name": "Chai", "price_minor": 410, "category_id": item["category_id"]});
                let (status, updated) =
                    send(&w, Method::PUT, &format!("{items}/TEA1"), Some(&chai)).await;
                assert_eq!(status, StatusCode::OK, "{updated}");
                assert_eq!(updated["item"]["name"], "Chai");
                assert!(sandbox_menu(&w, &sid).await.iter().any(|i| (
                    i.0.as_str(),
                    i.1.as_str(),
                    i.2
                ) == ("CHAI1", "Chai", 410)));
                assert!(w.drain().await.is_empty());
                assert_catalog_is_the_menu(&w, &m, &c, &sid).await;

                // Delete archives: the item leaves the menu and the catalog.
                assert_deleted(
                    &w,
                    (&m, &c, &sid),
                    &format!("{items}/CHAI1?connection_id={c}"),
                    &before,
                )
                .await;
                let (status, answer) = send(
                    &w,
                    Method::PUT,
                    &format!("{items}/TEA1/rich"),
                    Some(&json!({"connection_id": c, "allergens": ["milk"]})),
                )
                .await;
                refused(status, &answer);
                // Variant families are X-Series products.
                let mut family = tea.clone();
                family["variants"] = json!([{"options": [{"name": "Size", "value": "M"}]}]);
                let (status, answer) = send(&w, Method::POST, &items, Some(&family)).await;
                refused(status, &answer);
                let (status, answer) = send(
                    &w,
                    Method::DELETE,
                    &format!("{items}/TEA1?connection_id={c}&family=true"),
                    None,
                )
                .await;
                refused(status, &answer);
                assert_eq!(sandbox_menu(&w, &sid).await, before);
                continue;
            }
            // X-Series API 2.0 creates and deletes products, and has no update. The store
            // announces the new product with product.update.
            let hooks = deliveries(&w, &m, &c).await;
            let (status, created) = send(&w, Method::POST, &items, Some(&tea)).await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            wait_for_deliveries(&w, &m, &c, hooks + 1).await;
            assert!(created["item"]["pos_item_id"].is_string(), "{created}");
            assert!(w.drain().await.is_empty());
            assert_catalog_is_the_menu(&w, &m, &c, &sid).await;
            assert!(catalog(&w, &m, &c)
                .await
                .iter()
                .any(|i| i["sku"] == "TEA1" && i["price_minor"] == 325));
            let (status, answer) = send(&w, Method::POST, &items, Some(&tea)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "a SKU in use: {answer}");
            let (status, answer) =
                send(&w, Method::PUT, &format!("{items}/TEA1"), Some(&tea)).await;
            refused(status, &answer);
            let (status, answer) = send(
                &w,
                Method::PUT,
                &format!("{items}/TEA1/rich"),
                Some(&json!({"connection_id": c, "allergens": ["milk"]})),
            )
            .await;
            refused(status, &answer);
            assert_deleted(
                &w,
                (&m, &c, &sid),
                &format!("{items}/TEA1?connection_id={c}"),
                &before,
            )
            .await;

            // A create the store answers with a 5xx is not retried (X has no idempotency key
            // for products, and the store may have made it): the caller hears of it.
            w.sb.fault(json!({"kind": "server_error", "merchant": sid, "count": 1}))
                .await;
            let (status, answer) = send(&w, Method::POST, &items, Some(&tea)).await;
            assert!(status.is_server_error(), "{status}: {answer}");
            assert_eq!(sandbox_menu(&w, &sid).await, before);

            // A variant family: the store's "Size" attribute is found whatever its case, and
            // "Colour" is made.
            let option = |name: &str, value: &str| json!({"name": name, "value": value});
            let scarf = |variants: Value| {
                json!({"connection_id": c, "name": "Scarf", "price_minor": 2200,
                       "category_id": item["category_id"], "variants": variants})
            };
            let red_s =
                json!({"sku": "SC-R-S", "options": [option("Colour", "Red"), option("size", "S")]});
            let red_m = json!({"sku": "SC-R-M", "price_minor": 2500,
                               "options": [option("Colour", "Red"), option("Size", "M")]});
            // Bad families are refused before anything is sent.
            let mut with_sku = scarf(json!([red_s, red_m]));
            with_sku["sku"] = json!("SC");
            for (body, says) in [
                (with_sku, "no SKU of its own"),
                (
                    scarf(json!([red_s, {"options": [option("Size", "M")]}])),
                    "variants[1].options names",
                ),
                (
                    scarf(json!([red_s, red_s])),
                    "variants[1] has the same option values",
                ),
                (
                    scarf(json!([{"options": []}])),
                    "variants[0].options has 0 options",
                ),
            ] {
                let (status, answer) = send(&w, Method::POST, &items, Some(&body)).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
                assert!(
                    answer["error"]["message"].as_str().unwrap().contains(says),
                    "{says}: {answer}"
                );
            }
            assert_eq!(sandbox_menu(&w, &sid).await, before);
            let (status, created) = send(
                &w,
                Method::POST,
                &items,
                Some(&scarf(json!([red_s, red_m]))),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            let made: Vec<(Value, Value, Value)> = created["item"]["variants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    (
                        v["sku"].clone(),
                        v["name"].clone(),
                        v["price_minor"].clone(),
                    )
                })
                .collect();
            assert_eq!(
                made,
                [
                    (json!("SC-R-S"), json!("Scarf / Red / S"), json!(2200)),
                    (json!("SC-R-M"), json!("Scarf / Red / M"), json!(2500))
                ]
            );
            let parent = created["item"]["pos_item_id"].clone();
            assert_eq!(created["item"]["variants"][0]["pos_item_id"], parent);
            // What only the store can tell (a SKU already in use) comes back naming it.
            let mut again = scarf(json!([red_s, red_m]));
            again["name"] = json!("Shawl");
            let (status, answer) = send(&w, Method::POST, &items, Some(&again)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("variants[0]") && message.contains("SC-R-S"),
                "{answer}"
            );
            assert!(w.drain().await.is_empty());
            assert_catalog_is_the_menu(&w, &m, &c, &sid).await;
            let medium = catalog(&w, &m, &c)
                .await
                .into_iter()
                .find(|i| i["sku"] == "SC-R-M")
                .unwrap();
            assert_eq!(
                medium["variant"],
                json!({"family_id": parent, "family": "Scarf",
                       "options": [option("Colour", "Red"), option("Size", "M")]})
            );
            // Deleting by one product's SKU with `family` deletes the whole family.
            assert_deleted(
                &w,
                (&m, &c, &sid),
                &format!("{items}/SC-R-M?connection_id={c}&family=true"),
                &before,
            )
            .await;
        }
        w.stop().await;
    }
);
