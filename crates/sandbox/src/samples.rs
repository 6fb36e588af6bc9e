//! One or more samples of every payload the hub's adapters read: the answers the sandbox
//! serves, fetched over HTTP from merchants seeded with a few days of history (a void
//! among their sales; each list in one page, small enough for a fuzzer's input), and the
//! webhook bodies it sends. Each sample is named by the adapters' kind (`k.financials`,
//! `x.webhook`…). `tillbridge sandbox --write-samples DIR` writes them as the
//! fuzz targets' seed corpus, and the end-to-end suite checks that the adapters read every one.

use crate::generate::{self, MerchantRequest};
use crate::webhooks::Body;
use crate::world::{AccessToken, KWebhook, Merchant, Webhook};
use crate::{kseries, oseries, xseries, Sandbox, SandboxConfig};
use chrono::{Duration, Utc};
use serde_json::Value;
use std::time::Instant;
use tokio::net::TcpListener;

/// A payload of one kind, as it crossed (or would cross) the wire.
pub struct Sample {
    pub kind: String,
    pub body: Vec<u8>,
}

impl Sample {
    /// The sample as one file: its kind, a newline, its body (the fuzz targets' input).
    pub fn file_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.kind.len() + 1 + self.body.len());
        out.extend_from_slice(self.kind.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        out
    }
}

/// Every sample from a sandbox world seeded with `seed`, served on a loopback port for the
/// duration of the call.
pub async fn samples(seed: u64) -> Result<Vec<Sample>, String> {
    let sb = Sandbox::new(SandboxConfig {
        seed,
        time_scale: 1.0,
        rate_limits: false,
    });
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on a loopback port: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;
    let server = tokio::spawn(sb.clone().serve(listener));
    let result = collect(&sb, &format!("http://{addr}")).await;
    server.abort();
    result
}

/// A merchant of `series` with a few days of history, a voided sale, an item with stock counted,
/// webhook subscriptions to a URL nobody listens on, and a token for every scope; returns its
/// id and the token.
fn merchant(sb: &Sandbox, series: &str, seed: u64) -> Result<(String, String), String> {
    sb.with_world(|w| {
        let now = Utc::now();
        let created = generate::create_merchant(
            w,
            &MerchantRequest {
                series: series.into(),
                name: Some(format!("Samples {series}")),
                preset: Some(
                    if series == "x" || series == "r" {
                        "shop"
                    } else {
                        "cafe"
                    }
                    .into(),
                ),
                locations: Some(2),
                registers_per_location: Some(1),
                customers: Some(20),
                history_days: Some(2),
                sales_per_day: Some(5),
                seed: Some(seed),
                timezone: None,
            },
            now,
        )?;
        let id = created.merchant_id;
        let client_id = w
            .clients
            .iter()
            .find(|c| c.series == series)
            .map(|c| c.client_id.clone())
            .unwrap_or_default();
        let token = crate::world::random_token(&mut w.rng, 32);
        w.access_tokens.insert(
            token.clone(),
            AccessToken {
                client_id,
                merchant_id: id.clone(),
                scope: "orders-api financial-api items".into(),
                expires: Instant::now() + std::time::Duration::from_secs(3600),
            },
        );
        let m = w
            .merchants
            .get_mut(&id)
            .ok_or_else(|| format!("merchant {id} vanished"))?;
        if let Some(sku) = m.menu.first().map(|i| i.sku.clone()) {
            m.set_stock(0, &sku, Some(4));
        }
        // The newest sale of the first location (the one whose K financials are fetched).
        let newest = (0..m.sales.len())
            .rev()
            .find(|&i| m.sales[i].location == 0)
            .ok_or("no sales were made at the first location")?;
        generate::void_sale(m, newest, now - Duration::minutes(5));
        let token = if series == "x" {
            m.personal_token.clone()
        } else {
            token
        };
        subscribe(m, now);
        Ok((id, token))
    })
}

fn subscribe(m: &mut Merchant, now: chrono::DateTime<Utc>) {
    let url = "http://127.0.0.1:9/samples".to_owned();
    match m.series.as_str() {
        "k" => {
            let locations = m.locations.iter().map(|l| (l.id, now, now)).collect();
            m.k_webhooks.push(KWebhook {
                endpoint_id: "samples".into(),
                url,
                with_basic_auth: true,
                username: Some("samples".into()),
                password: Some("samples".into()),
                provide_account: true,
                expand_transactions: false,
                expand_payments: false,
                subscribe_to: vec![
                    serde_json::json!({"name": "SALES_RESTRICTION_UPDATED", "resource": "item"}),
                ],
                locations,
                created_at: now,
                updated_at: now,
            });
        }
        "x" => {
            for kind in ["sale.update", "product.update", "inventory.update"] {
                m.webhooks.push(Webhook {
                    id: format!("samples-{kind}"),
                    url: url.clone(),
                    active: true,
                    kind: kind.into(),
                });
            }
        }
        "o" => m
            .o_webhooks
            .push(("samples".into(), url, "samples-secret".into())),
        _ => {}
    }
}

/// The bodies of the webhooks a merchant's newest sales (the void among them) would send.
fn webhook_bodies(sb: &Sandbox, id: &str) -> Vec<Vec<u8>> {
    sb.with_world(|w| {
        let Some(m) = w.merchants.get_mut(id) else {
            return Vec::new();
        };
        let recent: Vec<usize> = (m.sales.len().saturating_sub(3)..m.sales.len()).collect();
        let deliveries = match m.series.as_str() {
            "k" => {
                // The item whose stock `merchant` counts.
                let sku = m.menu.first().map(|i| i.sku.clone()).unwrap_or_default();
                let mut out = kseries::webhooks::account_events(m, &recent);
                out.extend(kseries::webhooks::item_events(m, 0, &sku));
                out
            }
            "x" => {
                // A product's and, once its stock is counted, its inventory record's events.
                let sku = m.menu.first().map(|i| i.sku.clone()).unwrap_or_default();
                let mut out = xseries::webhooks::sale_updates(m, &recent);
                out.extend(xseries::webhooks::product_updates(m, &[0]));
                let record = m.availability.get(&(0, sku.clone())).map(|s| s.id);
                out.extend(xseries::webhooks::inventory_update(
                    m,
                    0,
                    &sku,
                    record.unwrap_or(1),
                ));
                out
            }
            "o" => oseries::webhooks::check_events(m, &recent),
            _ => Vec::new(),
        };
        deliveries
            .into_iter()
            .map(|d| match d.body {
                Body::Json(text) => text.into_bytes(),
                Body::Form(form) => serde_urlencoded::to_string(form)
                    .unwrap_or_default()
                    .into_bytes(),
            })
            .collect()
    })
}

struct Fetcher {
    http: reqwest::Client,
    base: String,
    token: String,
    out: Vec<Sample>,
}

impl Fetcher {
    async fn get(&mut self, kind: &str, path: &str) -> Result<Value, String> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "GET {path} answered {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        let value = serde_json::from_slice(&body).map_err(|e| format!("GET {path}: {e}"))?;
        self.out.push(Sample {
            kind: kind.into(),
            body: body.to_vec(),
        });
        Ok(value)
    }

    /// Sends a request the hub would send; its answer is not a sample.
    async fn post(&self, path: &str, body: &Value) -> Result<(), String> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "POST {path} answered {}: {}",
                response.status(),
                response.text().await.unwrap_or_default()
            ));
        }
        Ok(())
    }
}

async fn collect(sb: &Sandbox, base: &str) -> Result<Vec<Sample>, String> {
    let http = reqwest::Client::new();
    let mut out = Vec::new();
    for (n, series) in ["k", "x", "r", "o"].into_iter().enumerate() {
        let (id, token) = merchant(sb, series, 7 + n as u64)?;
        let mut f = Fetcher {
            http: http.clone(),
            base: base.to_owned(),
            token,
            out: Vec::new(),
        };
        match series {
            "k" => k(sb, &id, &mut f).await?,
            "x" => x(sb, &id, &mut f).await?,
            "r" => r(&mut f).await?,
            _ => o(&mut f).await?,
        }
        out.append(&mut f.out);
        out.extend(webhook_bodies(sb, &id).into_iter().map(|body| Sample {
            kind: format!("{series}.webhook"),
            body,
        }));
    }
    Ok(out)
}

async fn k(sb: &Sandbox, id: &str, f: &mut Fetcher) -> Result<(), String> {
    let (bl, sku) = sb
        .with_world(|w| {
            // The item whose stock `merchant` counts.
            let m = w.merchants.get(id)?;
            Some((m.locations[0].id, m.menu.first()?.sku.clone()))
        })
        .ok_or("the K merchant has no location or menu")?;
    let (from, to) = (Utc::now() - Duration::days(5), Utc::now());
    let fmt = "%Y-%m-%dT%H:%M:%SZ";
    f.get("k.businesses", "/kseries/o/op/data/businesses")
        .await?;
    f.get("k.financial-businesses", "/kseries/f/data/businesses")
        .await?;
    let financials = format!(
        "/kseries/f/finance/{bl}/financials/{}/{}?include=consumer,payments&pageSize=50",
        from.format(fmt),
        to.format(fmt)
    );
    f.get("k.financials", &financials).await?;
    f.get(
        "k.accounting-groups",
        &format!("/kseries/f/finance/{bl}/accountingGroups"),
    )
    .await?;
    f.get(
        "k.payment-methods",
        &format!("/kseries/f/finance/{bl}/paymentMethods"),
    )
    .await?;
    f.get(
        "k.floor-plans",
        &format!("/kseries/o/op/data/{bl}/floorplans?expandTables=true"),
    )
    .await?;
    f.get(
        "k.account-profiles",
        &format!("/kseries/o/op/data/account-profiles?businessLocationId={bl}"),
    )
    .await?;
    let menus = f
        .get(
            "k.menu-list",
            &format!("/kseries/o/op/1/menu/list?businessLocationId={bl}"),
        )
        .await?;
    for menu in menus.as_array().into_iter().flatten() {
        if let Some(menu_id) = menu.get("ikentooMenuId") {
            f.get(
                "k.menu",
                &format!(
                    "/kseries/o/op/2/menu/load/{menu_id}?businessLocationId={bl}&richContent=true"
                ),
            )
            .await?;
        }
    }
    f.get(
        "k.availability",
        &format!("/kseries/o/op/1/itemAvailability?businessLocationId={bl}&skus={sku}"),
    )
    .await?;
    f.get("k.allergens", "/kseries/i/allergens").await?;
    let items = f
        .get(
            "k.items",
            &format!("/kseries/items/v1/items?businessLocationId={bl}"),
        )
        .await?;
    if let Some(item) = items
        .as_array()
        .and_then(|a| a.first())
        .and_then(|i| i.get("id"))
    {
        f.get("k.item", &format!("/kseries/items/v1/items/{item}"))
            .await?;
    }
    f.get(
        "k.webhook-locations",
        "/kseries/o/wh/1/webhook/samples/business-locations",
    )
    .await?;
    // An online order with production instructions, delivered to the POS: its open account.
    let (coffee, instruction) = sb
        .with_world(|w| {
            let m = w.merchants.get(id)?;
            let item = (0..m.menu.len()).find(|&i| !m.instructions_of(i).is_empty())?;
            let instruction = m.instructions_of(item).first()?.instructions.first()?.0;
            Some((m.menu[item].sku.clone(), instruction))
        })
        .ok_or("the K menu offers no production instructions")?;
    f.post(
        "/kseries/o/op/1/order/toGo",
        &serde_json::json!({
            "businessLocationId": bl,
            "thirdPartyReference": "samples-1",
            "endpointId": "samples",
            "customerInfo": {"firstName": "Sam", "email": "sam@example.com"},
            "accountProfileCode": "COLLECT",
            "items": [{"sku": coffee, "quantity": 2, "modifiers": [{"modifierId": instruction.to_string()}]}],
        }),
    )
    .await?;
    let mut identifier = None;
    for _ in 0..100 {
        identifier = sb.with_world(|w| {
            w.merchants
                .get(id)?
                .k_orders
                .iter()
                .find(|o| o.reference == "samples-1")?
                .identifier
                .clone()
        });
        if identifier.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let identifier = identifier.ok_or("the online order never reached the POS")?;
    f.get(
        "k.account",
        &format!("/kseries/o/op/1/order/accounts/{identifier}?businessLocationId={bl}"),
    )
    .await?;
    Ok(())
}

async fn x(sb: &Sandbox, id: &str, f: &mut Fetcher) -> Result<(), String> {
    let (prefix, sale) = sb
        .with_world(|w| {
            let m = w.merchants.get(id)?;
            (!m.sales.is_empty()).then(|| (m.domain_prefix.clone(), m.sale_ref(0)))
        })
        .ok_or("the X merchant has no sales")?;
    let api = format!("/xseries/{prefix}/api/2.0");
    for (kind, path) in [
        ("x.outlets", "outlets"),
        ("x.registers", "registers"),
        ("x.sales", "sales?after=0&page_size=50"),
        ("x.products", "products?after=0&page_size=200"),
        ("x.inventory", "inventory?after=0&page_size=200"),
        ("x.categories", "product_categories?page_size=1000"),
        ("x.customers", "customers?after=0&page_size=200"),
        ("x.taxes", "taxes"),
        ("x.payment-types", "payment_types"),
        ("x.webhooks", "webhooks"),
        ("x.variant-attributes", "variant_attributes"),
    ] {
        f.get(kind, &format!("{api}/{path}")).await?;
    }
    f.get("x.sale", &format!("{api}/sales/{sale}")).await?;
    Ok(())
}

async fn r(f: &mut Fetcher) -> Result<(), String> {
    let account = f.get("r.account", "/rseries/API/V3/Account.json").await?;
    let id = account
        .get("Account")
        .and_then(|a| a.get("accountID"))
        .and_then(Value::as_str)
        .ok_or("the R account has no accountID")?
        .to_owned();
    let base = format!("/rseries/API/V3/Account/{id}");
    for (kind, path) in [
        ("r.shops", "Shop.json"),
        ("r.categories", "Category.json"),
        ("r.payment-types", "PaymentType.json"),
        ("r.items", "Item.json?load_relations=[\"ItemShops\"]"),
        ("r.item-shops", "ItemShop.json"),
        (
            "r.sales",
            "Sale.json?load_relations=[\"SaleLines\",\"SaleLines.Item\",\"Customer\",\"Customer.Contact\",\"SalePayments\"]&sort=timeStamp&limit=50",
        ),
    ] {
        f.get(kind, &format!("{base}/{path}")).await?;
    }
    Ok(())
}

async fn o(f: &mut Fetcher) -> Result<(), String> {
    f.get("o.me", "/oseries/v1/me").await?;
    f.get("o.locations", "/oseries/v1/locations").await?;
    f.get("o.categories", "/oseries/v1/menu/categories").await?;
    let since = (Utc::now() - Duration::days(5)).to_rfc3339();
    let since: String = url::form_urlencoded::byte_serialize(since.as_bytes()).collect();
    f.get(
        "o.checks",
        &format!("/oseries/v1/checks?updated_since={since}&limit=50"),
    )
    .await?;
    Ok(())
}
