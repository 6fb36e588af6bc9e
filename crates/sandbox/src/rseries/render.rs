//! R-Series objects as API V3 writes them: every scalar a string, empty relations as `""`, a
//! single child as an object instead of an array.

use crate::wire::round_half_even_to_cents;
use crate::world::{Merchant, Sale};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// `1230` → `"12.3"`, `1200` → `"12"`, `-360` → `"-3.6"`: decimals without padding.
pub fn amount(cents: i64) -> String {
    let s = crate::wire::cents(cents);
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

pub fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// Zero children → `""`, one → the object, several → an array.
pub fn one_or_many(mut items: Vec<Value>) -> Value {
    match items.len() {
        0 => Value::String(String::new()),
        1 => items.remove(0),
        _ => Value::Array(items),
    }
}

/// A relation wrapper such as `{"SaleLine": …}`, or `""` when empty.
pub fn relation(name: &str, items: Vec<Value>) -> Value {
    if items.is_empty() {
        return Value::String(String::new());
    }
    json!({ name: one_or_many(items) })
}

pub fn line_number(id: &str) -> String {
    id.rsplit('.').next().unwrap_or("0").to_owned()
}

pub fn sale_timestamp(s: &Sale) -> DateTime<Utc> {
    s.voided_at.unwrap_or(s.closed)
}

pub fn shop(m: &Merchant, i: usize) -> Value {
    let l = &m.locations[i];
    json!({ "shopID": (i + 1).to_string(), "name": l.name, "serviceRate": "0", "timeZone": l.zone.name(), "taxLabor": "false",
            "labelTitle": "", "labelMsrp": "false", "archived": "false" })
}

pub fn register(m: &Merchant, loc: usize, d: usize) -> Value {
    json!({ "registerID": m.register_ref(loc, d), "name": m.locations[loc].devices[d].name, "open": "false", "openTime": "",
            "openEmployeeID": "0", "shopID": (loc + 1).to_string(), "archived": "false" })
}

pub fn category(m: &Merchant, g: usize) -> Value {
    let c = &m.groups[g];
    json!({ "categoryID": (g + 1).to_string(), "name": c.name, "nodeDepth": "0", "fullPathName": c.name, "leftNode": (2 * g + 1).to_string(),
            "rightNode": (2 * g + 2).to_string(), "parentID": "0" })
}

pub fn payment_type(m: &Merchant, i: usize) -> Value {
    let p = &m.payment_methods[i];
    json!({ "paymentTypeID": (i + 1).to_string(), "name": p.name, "code": p.code, "requireCustomer": "false", "archived": "false",
            "internalReserved": "false", "type": if p.code == "CASH" { "cash" } else { "user defined" } })
}

/// The system SKU R-Series gives item `i`.
pub fn system_sku(i: usize) -> String {
    format!("2100000{:06}", i + 1)
}

pub fn item(m: &Merchant, i: usize) -> Value {
    let it = &m.menu[i];
    json!({
        "itemID": (i + 1).to_string(), "systemSku": system_sku(i), "customSku": it.sku, "manufacturerSku": "", "upc": "", "ean": "",
        "description": it.name, "itemType": if m.tracks_stock(&it.sku) { "default" } else { "non_inventory" }, "categoryID": (it.group + 1).to_string(), "taxClassID": "1", "manufacturerID": "0",
        "defaultVendorID": "0", "archived": it.deleted_at.is_some().to_string(),
        "Prices": { "ItemPrice": [
            { "amount": amount(it.price_cents), "useType": "Default", "useTypeID": "1" },
            { "amount": amount(it.price_cents), "useType": "MSRP", "useTypeID": "2" },
        ] },
    })
}

/// One `ItemShop` record: an item's stock at a shop (`shopID` 0: the sum over all shops).
pub struct ItemShop {
    pub id: u64,
    pub item_id: String,
    pub shop_id: String,
    pub qoh: i64,
    pub updated_at: DateTime<Utc>,
}

impl ItemShop {
    pub fn render(&self) -> Value {
        json!({
            "itemShopID": self.id.to_string(), "qoh": self.qoh.to_string(), "sellable": self.qoh.max(0).to_string(),
            "backorder": "0", "componentQoh": "0", "componentBackorder": "0", "reorderPoint": "0", "reorderLevel": "0",
            "timeStamp": time(self.updated_at), "itemID": self.item_id, "shopID": self.shop_id,
        })
    }
}

/// The stock records of items whose stock is tracked, per shop and summed (`shopID` 0).
pub fn item_shops(m: &Merchant) -> Vec<ItemShop> {
    let mut out = Vec::new();
    for (i, item) in m.menu.iter().enumerate() {
        let shops: Vec<(usize, &crate::world::Stock)> = (0..m.locations.len())
            .filter_map(|loc| {
                m.availability
                    .get(&(loc, item.sku.clone()))
                    .map(|s| (loc, s))
            })
            .collect();
        let Some(latest) = shops.iter().map(|(_, s)| s.updated_at).max() else {
            continue;
        };
        out.push(ItemShop {
            id: 1_000_000 + i as u64,
            item_id: (i + 1).to_string(),
            shop_id: "0".into(),
            qoh: shops.iter().map(|(_, s)| s.count).sum(),
            updated_at: latest,
        });
        for (loc, s) in shops {
            out.push(ItemShop {
                id: s.id,
                item_id: (i + 1).to_string(),
                shop_id: (loc + 1).to_string(),
                qoh: s.count,
                updated_at: s.updated_at,
            });
        }
    }
    out
}

pub fn customer(m: &Merchant, i: usize, contact: bool) -> Value {
    let c = &m.customers[i];
    let mut v = json!({ "customerID": (i + 1).to_string(), "firstName": c.first_name, "lastName": c.last_name, "title": "", "company": "", "archived": "false" });
    if contact {
        let emails = c
            .email
            .as_ref()
            .map(|e| vec![json!({ "address": e, "useType": "Primary" })])
            .unwrap_or_default();
        v["Contact"] = json!({ "custom": "", "noEmail": "false", "noPhone": "false", "noMail": "false",
                               "Emails": relation("ContactEmail", emails), "Phones": "", "Addresses": "", "Websites": "" });
    }
    v
}

#[derive(Default, Clone, Copy)]
pub struct Relations {
    pub lines: bool,
    pub items: bool,
    pub customer: bool,
    pub contact: bool,
    pub payments: bool,
}

impl Relations {
    /// Reads `load_relations`: a JSON array of names, or `all`.
    pub fn parse(raw: Option<&str>) -> Result<Self, String> {
        let Some(raw) = raw else {
            return Ok(Relations::default());
        };
        if raw == "all" {
            return Ok(Relations {
                lines: true,
                items: true,
                customer: true,
                contact: true,
                payments: true,
            });
        }
        let names: Vec<String> = serde_json::from_str(raw).map_err(|_| {
            format!("load_relations must be a JSON array such as [\"SaleLines\"], got `{raw}`")
        })?;
        let has = |n: &str| names.iter().any(|x| x == n);
        Ok(Relations {
            lines: has("SaleLines") || has("SaleLines.Item"),
            items: has("SaleLines.Item"),
            customer: has("Customer") || has("Customer.Contact"),
            contact: has("Customer.Contact") || has("Contact"),
            payments: has("SalePayments"),
        })
    }
}

pub fn sale(m: &Merchant, index: usize, rel: Relations) -> Value {
    let s = &m.sales[index];
    let shop_id = (s.location + 1).to_string();
    let sale_id = s.serial.to_string();
    let total: i64 = s.lines.iter().map(|l| l.total_cents).sum();
    let tax: i64 = s
        .lines
        .iter()
        .map(|l| round_half_even_to_cents(l.tax_10k))
        .sum();
    let discount: i64 = s.lines.iter().map(|l| l.discount_cents).sum();
    let customer_id = s
        .customer
        .map(|c| (c + 1).to_string())
        .unwrap_or_else(|| "0".into());
    // What was paid: an online order may be paid in part until the store completes it.
    let paid: i64 = if s.online.is_some() {
        s.payments.iter().map(|p| p.amount_cents).sum()
    } else {
        total
    };
    let awaiting = s.awaiting();
    let (reference, reference_source) = s
        .online
        .as_ref()
        .map(|o| (o.reference.as_str(), o.source.as_str()))
        .unwrap_or_default();
    let mut v = json!({
        "saleID": sale_id, "timeStamp": time(sale_timestamp(s)), "discountPercent": "0",
        "completed": if awaiting { "false" } else { "true" }, "archived": "false",
        "voided": if s.voided_at.is_some() { "true" } else { "false" }, "enablePromotions": "true", "isTaxInclusive": "true",
        "createTime": time(s.opened), "updatetime": time(sale_timestamp(s)), "completeTime": time(s.closed),
        "referenceNumber": reference, "referenceNumberSource": reference_source, "tax1Rate": "0.09", "tax2Rate": "0", "change": "0", "receiptPreference": "printed",
        "ticketNumber": format!("220000{}", s.serial),
        "calcDiscount": amount(discount), "calcTotal": amount(total), "calcSubtotal": amount(total - tax), "calcTaxable": amount(total - tax),
        "calcNonTaxable": "0", "calcTax1": amount(tax), "calcTax2": "0", "calcPayments": amount(paid), "calcTips": "0",
        "total": amount(total), "totalDue": amount(total), "displayableTotal": amount(total), "balance": amount(total - paid), "taxTotal": amount(tax),
        "customerID": customer_id, "employeeID": "1", "registerID": m.register_ref(s.location, s.device), "shopID": shop_id,
        "taxCategoryID": "1", "quoteID": "0", "shipToID": "0",
    });
    if awaiting {
        // An open sale has no completion time yet.
        if let Some(o) = v.as_object_mut() {
            o.remove("completeTime");
        }
    }
    if rel.lines {
        let lines: Vec<Value> = s
            .lines
            .iter()
            .map(|l| {
                let q = l.quantity.abs().max(1);
                let line_tax = round_half_even_to_cents(l.tax_10k);
                let mut line = json!({
                    "saleLineID": line_number(&l.id), "createTime": time(s.opened), "timeStamp": time(sale_timestamp(s)),
                    "unitQuantity": l.quantity.to_string(), "unitPrice": amount(l.unit_cents), "normalUnitPrice": amount(l.unit_cents),
                    "discountAmount": amount(l.discount_cents.abs() / q), "discountPercent": "0", "avgCost": "0", "fifoCost": "0", "tax": "true",
                    "isLayaway": "false", "isWorkorder": "false", "isSpecialOrder": "false",
                    "displayableSubtotal": amount(l.total_cents), "displayableUnitPrice": amount(l.unit_cents),
                    "calcLineDiscount": amount(l.discount_cents), "calcTransactionDiscount": "0", "calcTotal": amount(l.total_cents),
                    "calcSubtotal": amount(l.total_cents - line_tax), "calcTax1": amount(line_tax), "calcTax2": "0",
                    "taxClassID": "1", "customerID": customer_id, "discountID": "0", "employeeID": "1", "itemID": (l.item + 1).to_string(),
                    "noteID": "0", "parentSaleLineID": l.parent.as_deref().map(line_number).unwrap_or_else(|| "0".into()),
                    "shopID": shop_id, "saleID": sale_id, "itemFeeID": "0", "lineType": "",
                });
                if rel.items {
                    line["Item"] = item(m, l.item);
                }
                line
            })
            .collect();
        v["SaleLines"] = relation("SaleLine", lines);
    }
    if rel.payments {
        let payments: Vec<Value> = s
            .payments
            .iter()
            .map(|p| json!({ "salePaymentID": p.fisc_id.trim_start_matches('T').replace('.', ""), "amount": amount(p.amount_cents), "tipAmount": "0",
                             "createTime": time(s.closed), "archived": "false", "saleID": sale_id, "paymentTypeID": (p.method + 1).to_string(),
                             "registerID": m.register_ref(s.location, s.device), "employeeID": "1" }))
            .collect();
        v["SalePayments"] = relation("SalePayment", payments);
    }
    if rel.customer {
        if let Some(c) = s.customer {
            v["Customer"] = customer(m, c, rel.contact);
        }
    }
    v
}
