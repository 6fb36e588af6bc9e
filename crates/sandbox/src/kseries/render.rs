//! K-Series sale records as the Financial API writes them: money as strings, `+0000`
//! offsets, `statisticGroup` as a JSON-encoded string, the customer only inside payments.

use crate::generate::TAX_BASIS_POINTS;
use crate::wire::{cents, k_instant, round_half_even_to_cents, ten_thousandths};
use crate::world::{Merchant, Sale, SaleType};
use serde_json::{json, Value};

#[derive(Default, Clone, Copy)]
pub struct Includes {
    pub payments: bool,
    pub consumer: bool,
    pub staff: bool,
    pub table: bool,
}

impl Includes {
    pub fn parse(raw: Option<&str>) -> Self {
        let mut inc = Includes::default();
        for part in raw.unwrap_or_default().split(',') {
            match part.trim() {
                "payments" => inc.payments = true,
                "consumer" => inc.consumer = true,
                "staff" => inc.staff = true,
                "table" => inc.table = true,
                _ => {}
            }
        }
        inc
    }
}

pub fn statistic_group(name: &str) -> String {
    json!([{ "category": "default", "value": name }]).to_string()
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// The staff member who rang up a sale: one per device. (id, name)
pub fn staff(s: &Sale) -> (i64, String) {
    (5000 + s.device as i64, format!("Staff {}", s.device + 1))
}

pub fn sale(m: &Merchant, s: &Sale, inc: Includes, version: Version) -> Value {
    let loc = &m.locations[s.location];
    let device = &loc.devices[s.device];
    let (staff_id, staff_name) = staff(s);
    let void_reason = (s.sale_type == SaleType::Void).then_some("User Mistake");
    let rate = format!("{}.{:02}", TAX_BASIS_POINTS / 100, TAX_BASIS_POINTS % 100);
    let multiplier = format!("1.{:04}", TAX_BASIS_POINTS);
    let tax_string = |tax_10k: i64| match version {
        Version::V1 => ten_thousandths(tax_10k),
        Version::V2 => cents(round_half_even_to_cents(tax_10k)),
    };
    let lines: Vec<Value> = s
        .lines
        .iter()
        .map(|l| {
            let item = &m.menu[l.item];
            let group = &m.groups[item.group];
            let without_tax_10k = l.total_cents * 100 - l.tax_10k;
            json!({
                "id": l.id,
                "parentLineId": l.of,
                "totalNetAmountWithTax": cents(l.total_cents),
                "totalNetAmountWithoutTax": tax_string(without_tax_10k),
                "menuListPrice": cents(l.unit_cents),
                "unitCostPrice": cents(l.unit_cents * 30 / 100),
                "serviceCharge": "0.00",
                "serviceChargeType": "NO_SERVICE_CHARGE",
                "serviceChargeRate": "0.00",
                "taxCode": "VAT_LOW",
                "taxAmount": tax_string(l.tax_10k),
                "taxRatePercentage": rate,
                "taxLines": [{
                    "taxId": 1,
                    "taxCode": "VAT_LOW",
                    "taxRate": multiplier,
                    "taxAmount": tax_string(l.tax_10k),
                    "taxIncluded": true,
                }],
                "discountAmount": cents(l.discount_cents),
                "discountType": if l.discount_cents != 0 { Value::from("DISCOUNT") } else { Value::Null },
                "discountCode": if l.discount_cents != 0 { Value::from("TEN") } else { Value::Null },
                "discountName": if l.discount_cents != 0 { Value::from("10% off") } else { Value::Null },
                "accountDiscountAmount": "0.00",
                "accountDiscountType": null,
                "accountDiscountCode": null,
                "accountDiscountName": null,
                "totalDiscountAmount": cents(l.discount_cents),
                "sku": item.sku,
                "name": item.name,
                "nameOverride": null,
                "statisticGroup": statistic_group(&group.name),
                "quantity": l.quantity.to_string(),
                "accountingGroup": {
                    "accountingGroupId": group.id,
                    "name": group.name,
                    "statisticGroup": statistic_group(&group.name),
                    "code": group.code,
                },
                "categories": [{ "category": "default", "value": group.name }],
                "currency": m.currency,
                "tags": [],
                "revenueCenter": "Main",
                "revenueCenterId": 1,
                "timeofSale": k_instant(s.closed),
                "staffId": staff_id,
                "staffName": staff_name,
                "deviceId": device.id,
                "deviceName": device.name,
                "voidReason": void_reason,
                "accountProfileCode": null,
            })
        })
        .collect();
    let payments: Vec<Value> = s
        .payments
        .iter()
        .map(|p| {
            let method = &m.payment_methods[p.method];
            let consumer = match (inc.consumer, s.customer) {
                (true, Some(c)) => {
                    let c = &m.customers[c];
                    json!({
                        "id": c.uuid,
                        "customerId": c.customer_id,
                        "title": null,
                        "firstName": c.first_name,
                        "lastName": c.last_name,
                        "phoneNumber1": null,
                        "phoneNumber2": null,
                        "companyName": null,
                        "addressLine1": null,
                        "addressLine2": null,
                        "zipCode": null,
                        "city": null,
                        "state": null,
                        "email": c.email,
                        "taxIdentifier": null,
                        "fiscalCode": null,
                        "destinationCode": null,
                    })
                }
                _ => Value::Null,
            };
            json!({
                "code": method.code,
                "description": method.name,
                "paymentMethodId": method.id,
                "netAmountWithTax": cents(p.amount_cents),
                "currency": m.currency,
                "tip": cents(p.tip_cents),
                "surcharge": "0.00",
                "consumer": consumer,
                "type": "NORMAL",
                "deviceId": device.id.to_string(),
                "deviceName": device.name,
                "staffId": staff_id,
                "staffName": staff_name,
                "authorization": null,
                "externalReference": null,
                "revenueCenter": "Main",
                "revenueCenterId": 1,
                "fiscId": p.fisc_id,
                "uuid": p.uuid,
                "fiscDate": k_instant(s.closed),
            })
        })
        .collect();
    let mut v = json!({
        "accountReference": s.account_reference,
        "accountFiscId": s.fisc_id,
        "receiptId": s.receipt_id,
        "source": { "initialAccountId": s.source, "previousAccountId": s.source },
        "salesLines": lines,
        "cancelled": s.sale_type == SaleType::Void,
        "externalFiscalNumber": null,
        "tableNumber": if inc.table || version == Version::V1 { json!(s.table) } else { Value::Null },
        "tableName": s.table.as_ref().map(|t| format!("Table {t}")),
        "accountProfileCode": null,
        "ownerName": staff_name,
        "ownerId": staff_id,
        "nbCovers": s.covers,
        "dineIn": s.dine_in,
        "deviceId": device.id,
        "deviceName": device.name,
        "voidReason": void_reason,
        "type": s.sale_type.wire(),
        "externalReferences": s.external_reference.iter().collect::<Vec<_>>(),
        "businessLocationId": loc.id,
    });
    if inc.payments || inc.consumer {
        v["payments"] = Value::from(payments);
    }
    match version {
        Version::V1 => {
            v["timeofOpening"] = Value::from(k_instant(s.opened));
            v["timeofCloseAndPaid"] = Value::from(k_instant(s.closed));
        }
        Version::V2 => {
            v["timeOfOpening"] = Value::from(k_instant(s.opened));
            v["timeClosed"] = Value::from(k_instant(s.closed));
        }
    }
    v
}
