//! Every payload the adapters read, by kind, behind one entry point: what the fuzz targets
//! drive and what the sandbox's samples are checked against. A kind reads its body as the
//! client does (same types, same decoder), maps each order record as the sync does, and reads
//! a webhook body as the server does.

use crate::http::decode;
use crate::{kseries, oseries, rseries, webhook, xseries};
use chrono::NaiveTime;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use tillbridge_model::BusinessDayStart;

/// The kinds, `series.what`; the series letter is the fuzz target's.
pub const KINDS: &[&str] = &[
    "k.businesses",
    "k.financial-businesses",
    "k.financials",
    "k.accounting-groups",
    "k.payment-methods",
    "k.floor-plans",
    "k.account-profiles",
    "k.menu-list",
    "k.menu",
    "k.availability",
    "k.allergens",
    "k.items",
    "k.item",
    "k.account",
    "k.webhook-locations",
    "k.webhook",
    "x.outlets",
    "x.registers",
    "x.sales",
    "x.sale",
    "x.products",
    "x.inventory",
    "x.categories",
    "x.customers",
    "x.taxes",
    "x.payment-types",
    "x.webhooks",
    "x.webhook",
    "x.variant-attributes",
    "r.account",
    "r.shops",
    "r.categories",
    "r.payment-types",
    "r.items",
    "r.item-shops",
    "r.sales",
    "o.me",
    "o.locations",
    "o.categories",
    "o.checks",
    "o.webhook",
];

/// Splits a fuzz input or a sample file, `kind\nbody`, into its kind and body.
pub fn split(input: &[u8]) -> Option<(&str, &[u8])> {
    let at = input.iter().position(|&b| b == b'\n')?;
    let kind = std::str::from_utf8(&input[..at]).ok()?;
    Some((kind, &input[at + 1..]))
}

/// Reads `body` as a payload of `kind`: `None` for a kind not in [`KINDS`], else how many
/// records it held, or why it could not be read or mapped.
pub fn read(kind: &str, body: &[u8]) -> Option<Result<usize, String>> {
    let (series, what) = kind.split_once('.')?;
    match series {
        "k" => k(what, body),
        "x" => x(what, body),
        "r" => r(what, body),
        "o" => o(what, body),
        _ => None,
    }
}

fn text(body: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8: {e}"))
}

fn parse<T: DeserializeOwned>(kind: &str, body: &[u8]) -> Result<T, String> {
    decode(kind, text(body)?).map_err(|e| e.to_string())
}

fn count<T: DeserializeOwned>(kind: &str, body: &[u8]) -> Result<usize, String> {
    parse::<Vec<T>>(kind, body).map(|v| v.len())
}

fn day_start() -> BusinessDayStart {
    BusinessDayStart(NaiveTime::from_hms_opt(4, 0, 0).unwrap_or(NaiveTime::MIN))
}

fn k(what: &str, body: &[u8]) -> Option<Result<usize, String>> {
    use kseries::wire;
    let kind = format!("k.{what}");
    let kind = kind.as_str();
    Some(match what {
        "businesses" => count::<wire::OpBusiness>(kind, body),
        "financial-businesses" => parse::<wire::FinancialBusinesses>(kind, body)
            .map(|p| p.embedded.map_or(0, |e| e.business_list.len())),
        "financials" => parse::<wire::FinancialPage>(kind, body).and_then(|page| {
            let ctx = kseries::map::MapContext {
                business_location_id: "1".into(),
                zone: chrono_tz::Europe::Amsterdam,
                day_start: day_start(),
                currency: "EUR".into(),
            };
            for sale in &page.sales {
                kseries::map::map_sale(sale, &ctx).map_err(|e| e.to_string())?;
            }
            Ok(page.sales.len())
        }),
        "accounting-groups" => parse::<wire::AccountingGroups>(kind, body)
            .map(|b| b.embedded.map_or(0, |e| e.list.len())),
        "payment-methods" => parse::<wire::PaymentMethods>(kind, body)
            .map(|b| b.embedded.map_or(0, |e| e.list.len())),
        "floor-plans" => count::<wire::FloorPlan>(kind, body),
        "account-profiles" => {
            parse::<wire::AccountProfiles>(kind, body).map(|b| b.account_profile_list.len())
        }
        "menu-list" => count::<wire::MenuRef>(kind, body),
        "menu" => parse::<Value>(kind, body).map(|tree| wire::menu_items(&tree).len()),
        "availability" => parse::<wire::AvailabilityPage>(kind, body).map(|p| p.data.len()),
        "allergens" => count::<wire::Allergen>(kind, body),
        "items" => count::<wire::Item>(kind, body),
        "item" => parse::<wire::Item>(kind, body).map(|_| 1),
        "account" => parse::<wire::AccountSnapshot>(kind, body).map(|_| 1),
        "webhook-locations" => count::<wire::WebhookLocation>(kind, body),
        "webhook" => webhook::kseries(Some("sample"), body)
            .map(|_| 1)
            .map_err(|e| e.to_string()),
        _ => return None,
    })
}

fn x(what: &str, body: &[u8]) -> Option<Result<usize, String>> {
    use xseries::wire;
    let kind = format!("x.{what}");
    let kind = kind.as_str();
    let map = |sales: &[wire::Sale]| {
        let (products, customers, taxes) = (HashMap::new(), HashMap::new(), HashMap::new());
        let ctx = xseries::map::MapContext {
            zone: chrono_tz::Europe::Amsterdam,
            day_start: day_start(),
            currency: "EUR".into(),
            products: &products,
            customers: &customers,
            tax_rates: &taxes,
        };
        for sale in sales {
            xseries::map::map_sale(sale, &ctx).map_err(|e| e.to_string())?;
        }
        Ok::<_, String>(sales.len())
    };
    Some(match what {
        "outlets" => parse::<wire::List<wire::Outlet>>(kind, body).map(|l| l.data.len()),
        "registers" => parse::<wire::List<wire::Register>>(kind, body).map(|l| l.data.len()),
        "sales" => parse::<wire::Page<wire::Sale>>(kind, body).and_then(|p| map(&p.data)),
        "sale" => parse::<wire::One<wire::Sale>>(kind, body)
            .and_then(|one| map(std::slice::from_ref(&one.data))),
        "products" => parse::<wire::Page<wire::Product>>(kind, body).map(|p| p.data.len()),
        "inventory" => parse::<wire::Page<wire::InventoryRecord>>(kind, body).map(|p| p.data.len()),
        "categories" => parse::<wire::CategoryPage>(kind, body).map(|p| p.data.categories.len()),
        "customers" => parse::<wire::Page<wire::Customer>>(kind, body).map(|p| p.data.len()),
        "taxes" => parse::<wire::List<wire::Tax>>(kind, body)
            .map(|l| xseries::map::tax_rates(&l.data).len()),
        "payment-types" => parse::<wire::List<wire::PaymentType>>(kind, body).map(|l| l.data.len()),
        "webhooks" => parse::<wire::List<wire::Webhook>>(kind, body).map(|l| l.data.len()),
        "webhook" => webhook::xseries(body).map(|_| 1).map_err(|e| e.to_string()),
        "variant-attributes" => {
            parse::<wire::List<wire::VariantAttribute>>(kind, body).map(|l| l.data.len())
        }
        _ => return None,
    })
}

fn r(what: &str, body: &[u8]) -> Option<Result<usize, String>> {
    use rseries::wire;
    if !KIND_R.contains(&what) {
        return None;
    }
    let page = match parse::<Value>(&format!("r.{what}"), body) {
        Ok(page) => page,
        Err(e) => return Some(Err(e)),
    };
    let list = |entity: &str| wire::entities(&page, entity);
    Some(Ok(match what {
        "account" => list("Account")
            .into_iter()
            .filter(|a| wire::text(a, "accountID").is_some())
            .count(),
        "shops" => list("Shop").into_iter().filter_map(wire::shop).count(),
        "categories" => list("Category")
            .into_iter()
            .filter_map(wire::category)
            .count(),
        "payment-types" => list("PaymentType")
            .into_iter()
            .filter_map(wire::payment_type)
            .count(),
        "items" => list("Item").into_iter().filter_map(wire::item).count(),
        "item-shops" => list("ItemShop")
            .into_iter()
            .filter_map(wire::item_stock)
            .count(),
        "sales" => {
            let categories = HashMap::new();
            let ctx = rseries::map::MapContext {
                zone: chrono_tz::Europe::Amsterdam,
                day_start: day_start(),
                currency: "EUR".into(),
                categories: &categories,
            };
            let sales = list("Sale");
            for sale in &sales {
                if let Err(e) = rseries::map::map_sale(sale, &ctx) {
                    return Some(Err(e.to_string()));
                }
            }
            sales.len()
        }
        _ => return None,
    }))
}

const KIND_R: &[&str] = &[
    "account",
    "shops",
    "categories",
    "payment-types",
    "items",
    "item-shops",
    "sales",
];

fn o(what: &str, body: &[u8]) -> Option<Result<usize, String>> {
    use oseries::client;
    let kind = format!("o.{what}");
    let kind = kind.as_str();
    Some(match what {
        "me" => parse::<client::Me>(kind, body).map(|_| 1),
        "locations" => parse::<client::Data<client::Location>>(kind, body).map(|d| d.data.len()),
        "categories" => parse::<client::Data<client::Category>>(kind, body).map(|d| d.data.len()),
        "checks" => parse::<client::ChecksPage>(kind, body).and_then(|page| {
            let ctx = oseries::map::MapContext {
                zone: chrono_tz::Europe::Amsterdam,
                day_start: day_start(),
                currency: "EUR".into(),
            };
            for check in &page.data {
                oseries::map::map_check(check, &ctx).map_err(|e| e.to_string())?;
            }
            Ok(page.data.len())
        }),
        "webhook" => webhook::oseries(body).map(|_| 1).map_err(|e| e.to_string()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_read_and_nothing_else() {
        for kind in KINDS {
            assert!(read(kind, b"\xff").is_some(), "{kind} is not dispatched");
        }
        assert!(read("k.nope", b"[]").is_none());
        assert!(read("q.sales", b"[]").is_none());
        assert!(read("nodot", b"[]").is_none());
    }

    #[test]
    fn splits_kind_and_body() {
        assert_eq!(split(b"x.sales\n{}"), Some(("x.sales", &b"{}"[..])));
        assert_eq!(split(b"x.sales"), None);
        assert_eq!(
            read("x.outlets", br#"{"data":[{"id":"o1","name":"A"}]}"#),
            Some(Ok(1))
        );
        assert!(matches!(read("x.outlets", b"{"), Some(Err(_))));
    }
}
