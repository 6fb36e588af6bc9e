//! The OpenAPI 3.1 document for `/api/v1`. [`OPERATIONS`] lists every route; a test checks
//! that each is served and that the router serves nothing undocumented under `/api/v1`.

use serde_json::{json, Map, Value};

pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub id: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    pub body: Option<&'static str>,
    pub status: u16,
    pub query: &'static [(&'static str, &'static str)],
}

const M: &str = "/api/v1/merchants/{merchant_id}";

macro_rules! op {
    ($method:literal, $path:expr, $id:literal, $tag:literal, $summary:literal, $body:expr, $status:literal, $query:expr) => {
        Operation {
            method: $method,
            path: $path,
            id: $id,
            summary: $summary,
            tag: $tag,
            body: $body,
            status: $status,
            query: $query,
        }
    };
}

pub const OPERATIONS: &[Operation] = &[
    op!(
        "get",
        "/api/v1/merchants",
        "listMerchants",
        "merchants",
        "Merchants visible to this API key",
        None,
        200,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants",
        "createMerchant",
        "merchants",
        "Create a merchant (installation key)",
        Some("CreateMerchant"),
        201,
        &[]
    ),
    op!(
        "get",
        M,
        "getMerchant",
        "merchants",
        "One merchant",
        None,
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/locations",
        "listLocations",
        "merchants",
        "The merchant's locations",
        None,
        200,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/locations",
        "createLocation",
        "merchants",
        "Create a location with its time zone and business-day start",
        Some("CreateLocation"),
        201,
        &[]
    ),
    op!(
        "put",
        "/api/v1/merchants/{merchant_id}/locations/{location_id}/mapping",
        "mapLocation",
        "merchants",
        "Map a location to a POS location of a connection and start syncing it",
        Some("MapLocation"),
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/connections",
        "listConnections",
        "connections",
        "Sales-channel connections with status and sync progress",
        None,
        200,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/connections",
        "startConnect",
        "connections",
        "Start connecting a sales channel: returns the authorize URL to send the merchant to",
        Some("StartConnect"),
        201,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/connections/personal-token",
        "connectPersonalToken",
        "connections",
        "Connect an X-Series store with a personal token; reconnecting through OAuth later switches it",
        Some("PersonalToken"),
        201,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/connections/{connection_id}",
        "getConnection",
        "connections",
        "One connection",
        None,
        200,
        &[]
    ),
    op!(
        "delete",
        "/api/v1/merchants/{merchant_id}/connections/{connection_id}",
        "disconnect",
        "connections",
        "Disconnect: erase credentials and stop the flow; history is kept",
        Some("Disconnect"),
        200,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/connections/{connection_id}/reconnect",
        "reconnect",
        "connections",
        "Run the OAuth flow again for the same connection",
        None,
        201,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/connections/{connection_id}/test",
        "testConnection",
        "connections",
        "Make a cheap authenticated call and record the result",
        None,
        200,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/connections/{connection_id}/sync",
        "syncNow",
        "connections",
        "Make the connection's streams due now",
        None,
        202,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/connections/{connection_id}/log",
        "connectionLog",
        "connections",
        "Integration log, newest first, at most 100 entries",
        None,
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/orders",
        "listOrders",
        "orders",
        "Synced orders, oldest first, keyset-paged",
        None,
        200,
        &[
            ("from", "RFC 3339 instant, inclusive, on closing time"),
            ("to", "RFC 3339 instant, exclusive"),
            ("location_id", "tillbridge location id"),
            ("limit", "1–1000, default 100"),
            ("cursor", "next_cursor of the previous page")
        ]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/orders/{order_id}",
        "getOrder",
        "orders",
        "One order with lines and payments",
        None,
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/loyalty/program",
        "getLoyaltyProgram",
        "loyalty",
        "The loyalty program: earning rule, tax basis, negative balances, claim window",
        None,
        200,
        &[]
    ),
    op!(
        "put",
        "/api/v1/merchants/{merchant_id}/loyalty/program",
        "putLoyaltyProgram",
        "loyalty",
        "Replace the loyalty program; purchases keep the rule they first earned under",
        Some("LoyaltyProgram"),
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/members",
        "listMembers",
        "loyalty",
        "Members by id, optionally searched by e-mail or name",
        None,
        200,
        &[
            ("search", "part of an e-mail or name"),
            ("segment", "only members in this RFM segment (champions, loyal, recent, needs_attention, at_risk, inactive, no_purchases)"),
            ("after", "the next_cursor of the previous page"),
            ("limit", "1–500, default 100")
        ]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/members",
        "createMember",
        "loyalty",
        "Create a member; orders with their e-mail from the claim window are claimed and earn",
        Some("NewMember"),
        201,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/members/{member_id}",
        "getMember",
        "loyalty",
        "A member with their balance, purchases and spend",
        None,
        200,
        &[]
    ),
    op!(
        "patch",
        "/api/v1/merchants/{merchant_id}/members/{member_id}",
        "updateMember",
        "loyalty",
        "Change e-mail, name or phone; a new e-mail claims its recent orders",
        Some("MemberPatch"),
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/members/{member_id}/ledger",
        "memberLedger",
        "loyalty",
        "The member's credit ledger, newest first",
        None,
        200,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/members/{member_id}/credits",
        "manualCredit",
        "loyalty",
        "A manual credit or debit with a reason and an idempotency key (200 on a repeat)",
        Some("ManualCredit"),
        201,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/members/{member_id}/redemptions",
        "redeemCredit",
        "loyalty",
        "Spend credit (never more than the balance) with an idempotency key (200 on a repeat)",
        Some("Redemption"),
        201,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/members/{member_id}/merge",
        "mergeMembers",
        "loyalty",
        "Merge another member into this one: orders, ledger, stamps and tier history move; balances and cards add up; tier and segments are recomputed",
        Some("MemberMerge"),
        200,
        &[]
    ),
    op!(
        "put",
        "/api/v1/merchants/{merchant_id}/members/{member_id}/tier-floor",
        "setTierFloor",
        "loyalty",
        "Set or clear (null) the member's manual tier floor",
        Some("TierFloor"),
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/members/{member_id}/tier-history",
        "tierHistory",
        "loyalty",
        "The member's tier changes and warnings, newest first",
        None,
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/members/{member_id}/segment-history",
        "segmentHistory",
        "loyalty",
        "The days the member's RFM segment changed, newest first",
        None,
        200,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/loyalty/broadcasts",
        "sendBroadcast",
        "loyalty",
        "Send a message to every member, a segment, a tier or listed members; announced as one loyalty.broadcast event (200 on a repeated idempotency key)",
        Some("Broadcast"),
        201,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/loyalty/broadcasts",
        "listBroadcasts",
        "loyalty",
        "The latest 100 broadcasts, newest first",
        None,
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/loyalty/broadcasts/{broadcast_id}/recipients",
        "broadcastRecipients",
        "loyalty",
        "Who a broadcast went to (member id, e-mail, name), by member id",
        None,
        200,
        &[
            ("after", "the next_cursor of the previous page"),
            ("limit", "1–1000, default 500")
        ]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/loyalty/replay",
        "replayLoyalty",
        "loyalty",
        "Recompute credit, stamps, tiers and segments from the whole event log (staff credits, redemptions and floors stay; nothing is announced twice)",
        None,
        202,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/loyalty/insights",
        "loyaltyInsights",
        "loyalty",
        "Repeat purchase rate, spend per member (with the non-member figure), share of orders from members and credit earned/redeemed, for the range and per period; lifetime value, outstanding credit, segment and tier distributions",
        None,
        200,
        &[
            ("from", "first business date, YYYY-MM-DD (default: a year before `to`)"),
            ("to", "last business date, YYYY-MM-DD (default: today in the merchant's zone)"),
            ("period", "day, week or month (default month)")
        ]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/loyalty/segments",
        "segments",
        "loyalty",
        "The latest RFM run (members per segment, movement since the previous run) and up to 90 earlier runs",
        None,
        200,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/loyalty/segments/recompute",
        "recomputeSegments",
        "loyalty",
        "Recompute today's RFM segments now (they are also computed nightly in the merchant's zone)",
        None,
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/punch-cards",
        "listPunchCards",
        "loyalty",
        "The merchant's punch cards",
        None,
        200,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/punch-cards",
        "createPunchCard",
        "loyalty",
        "Create a punch card, optionally counting only some categories (ids or names per connection)",
        Some("PunchCard"),
        201,
        &[]
    ),
    op!(
        "put",
        "/api/v1/merchants/{merchant_id}/punch-cards/{card_id}",
        "updatePunchCard",
        "loyalty",
        "Replace a punch card's settings (or deactivate it with active: false)",
        Some("PunchCard"),
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/members/{member_id}/cards",
        "memberCards",
        "loyalty",
        "The member's stamps, lifetime stamps and rewards per punch card",
        None,
        200,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/members/{member_id}/cards/{card_id}/rewards/{reward_id}/redeem",
        "redeemReward",
        "loyalty",
        "Redeem an issued reward (once)",
        None,
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/categories",
        "listCategories",
        "catalog",
        "Categories of the merchant's connections as the POS names them, kept by each connection's catalog stream",
        None,
        200,
        &[("connection_id", "only categories of this connection")]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/catalog",
        "getCatalog",
        "catalog",
        "The unified catalog: every connection's items per POS location with SKU, name, price (minor units), category id and name, tax rate (basis points) and whether the price includes it, available_count (null: not restricted), pos_item_id, descriptions per locale, allergens with their names per locale, image_url, instructions (K-Series production instruction groups `{id, name, multiple, instructions: [{id, name}]}`: what an online order's line may name in `modifiers`), kind (`item`; `modifier`: a priced add-on, ordered only as a sub-item; `deal`: a combo), choices (K-Series product modifier groups and deal groups `{sku, name, min, max, options: [{sku, name, price_minor}]}`: what a line may name in `sub_items`, and what each adds to its price), variant (X-Series variant families `{family_id, family, options: [{name, value}]}`: the family parent's pos_item_id, the family's name, and what sets this product apart, e.g. Size M; null outside any family; each product of a family is an item of its own with its own SKU, name such as `T-Shirt / M`, price and stock) and synced_at. Kept by each connection's catalog stream (K menus with rich content and item availability, X products and inventory, R items and ItemShops)",
        None,
        200,
        &[
            ("connection_id", "only this connection"),
            ("pos_location_id", "only this POS location (K business location, X outlet, R shop)"),
            ("sku", "only this SKU")
        ]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/financials",
        "getFinancials",
        "financials",
        "Financial report per mapped location and business date (the location's zone and day start), from the synced orders: every date of the range with orders, sales, refunds and voids, total, tax, net, discount, tip and covers (minor units; refunds and voids negative), split `by_payment_method` (code, payments, amount with tip, tip), `by_tax_rate` (rate in basis points; null where the POS gives no rate per line) and `by_accounting_group` (the category recorded on each line), and `closed`: the day has ended and the sync has read past its end. Each location also has the range's `totals`. Unmapped locations have no business dates and are left out",
        None,
        200,
        &[
            ("from", "first business date, YYYY-MM-DD (with until)"),
            ("until", "last business date, inclusive; at most 366 dates"),
            ("date", "one business date, instead of from and until"),
            ("connection_id", "only this connection's locations"),
            ("pos_location_id", "only this POS location")
        ]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/catalog/items",
        "createCatalogItem",
        "catalog",
        "Create an item in the POS: K-Series through the Items API (needs the `items` scope), X-Series as a product (`POST /products`, tax-inclusive price) or, with `variants`, as a variant family, R-Series as an `Item` (description, category, Default price, custom SKU). Answers 201 with what the POS created (its id and SKU) and makes the connection's catalog run due, so the item appears in the catalog once read back. Lightspeed's refusals come back as 400 naming the field; O-Series connections answer 422 `unsupported_by_series` and nothing changes",
        Some("CatalogItem"),
        201,
        &[]
    ),
    op!(
        "put",
        "/api/v1/merchants/{merchant_id}/catalog/items/{sku}",
        "updateCatalogItem",
        "catalog",
        "Replace an item's name, price and category in the POS (and its SKU, with `sku`); K-Series (Items API) and R-Series (`PUT Item`); X-Series API 2.0 has no product update: 422 `unsupported_by_series`; 404 when the POS has no item with that SKU, otherwise as for create",
        Some("CatalogItem"),
        200,
        &[]
    ),
    op!(
        "delete",
        "/api/v1/merchants/{merchant_id}/catalog/items/{sku}",
        "deleteCatalogItem",
        "catalog",
        "Delete an item from the POS (K-Series item, X-Series product, R-Series item archived; O-Series answers 422 `unsupported_by_series`); it leaves the catalog with the catalog run this makes due",
        None,
        204,
        &[
            ("connection_id", "required: the connection holding the item"),
            ("pos_location_id", "the business location to write through; the connection's first by default"),
            ("family", "`true`: delete every product of the item's X-Series variant family (`DELETE /products/{id}/all`); other series answer 422 `unsupported_by_series`")
        ]
    ),
    op!(
        "put",
        "/api/v1/merchants/{merchant_id}/catalog/items/{sku}/rich",
        "putCatalogRichItem",
        "catalog",
        "Push rich data to the POS (K-Series Rich Item API): allergen codes and descriptions per locale replace the item's current ones; `picture_base64` sets the picture and its absence keeps it. 202 once the POS took it; the catalog shows it after the catalog run this makes due",
        Some("CatalogRichItem"),
        202,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/sales-summary",
        "salesSummary",
        "orders",
        "Counts and sums in minor units per POS location, UTC hour, category and customer e-mail",
        None,
        200,
        &[
            ("from", "RFC 3339 instant, inclusive"),
            ("to", "RFC 3339 instant, exclusive"),
            ("connection_id", "only orders of this connection")
        ]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/events",
        "listEvents",
        "events",
        "The merchant's event log after a sequence number",
        None,
        200,
        &[
            ("after", "sequence number, default 0"),
            ("type", "only this event type"),
            ("limit", "1–1000, default 100")
        ]
    ),
    op!(
        "get",
        "/api/v1/events",
        "streamEvents",
        "events",
        "Every merchant's events (a merchant key: its own) after a stream number, in one order",
        None,
        200,
        &[
            ("after", "stream number (next_after of the last page), default 0"),
            ("merchant_id", "only this merchant's events"),
            ("type", "only this event type"),
            ("limit", "1–1000, default 100")
        ]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/online-orders",
        "submitOnlineOrder",
        "ordering",
        "Submit an online order for the POS (K-Series Order & Pay; X-Series and R-Series as a sale with its payment, the customer found or created by email): checked against the location's synced menu, availability and account profiles (422 `order_rejected` with the reason — sku_not_found, item_unavailable, price_mismatch, invalid_profile, other — and field-level problems; nothing is sent), then pushed and paid by the worker. Idempotent on `channel_order_id`: 201 when created, 200 with the existing order when the same order is submitted again, 409 when the id was used for a different order",
        Some("OnlineOrder"),
        201,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/online-orders",
        "listOnlineOrders",
        "ordering",
        "Online orders, newest first, with their status (received, submitted, accepted, ready, completed; rejected, failed, cancelled), payment status and history",
        None,
        200,
        &[
            ("status", "only this status"),
            ("needs_manual_handling", "true: only orders that could not reach the POS or whose payment failed"),
            ("limit", "1–500, default 100")
        ]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/online-orders/{order_id}",
        "getOnlineOrder",
        "ordering",
        "One online order (by its id or channel order id), read-only: act on it in the POS",
        None,
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/ordering/status",
        "getOrderingStatus",
        "ordering",
        "The ordering banner: outages per connection (`partner_outage`, or `credentials_issue` with `reconnect_required` and the reconnect call in `advice`), those that ended in the last day, orders waiting for manual handling per connection, and the latest alert mails (subject, recipient, sent_at, last_error)",
        None,
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/ordering/settings",
        "getOrderingSettings",
        "ordering",
        "Ordering settings: `enabled` (orders are refused with 409 `prerequisite_missing` until it is on) and `payment_methods`, the payment method per connection id (K-Series code, default `OOPAYMENT`; X/R payment type name, default \"Online payment\"), plus `enabled_at`",
        None,
        200,
        &[]
    ),
    op!(
        "put",
        "/api/v1/merchants/{merchant_id}/ordering/settings",
        "putOrderingSettings",
        "ordering",
        "Saves the ordering settings. Switching ordering on registers missing order webhooks, then runs the readiness checks: when a location is not ready it answers 409 `prerequisite_missing` with the checks in `details` and changes nothing",
        Some("OrderingSettings"),
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/ordering/readiness",
        "getOrderingReadiness",
        "ordering",
        "The ordering prerequisites of every mapped location, checked now: `connection`, `menu` (synced within three catalog runs), `payment_method` (present on the POS), `webhooks` (K endpoint with the location linked, X sale.update; R is polled), and K-Series advice (`floor_plans`, `account_profiles`). Each check has `ok`, `required`, `detail` and, when failing, `fix`",
        None,
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/labor/settings",
        "getLaborSettings",
        "labor",
        "POS import settings: enabled, integration service (connection), auto-confirm and its time, schedule and its zone, VAT basis, trailing window",
        None,
        200,
        &[]
    ),
    op!(
        "put",
        "/api/v1/merchants/{merchant_id}/labor/settings",
        "putLaborSettings",
        "labor",
        "Replace the POS import settings; `history_from` while switching imports on queues an import of every department until yesterday",
        Some("LaborSettings"),
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/labor/departments",
        "listDepartments",
        "labor",
        "Departments with their POS client number, terminals, zone, business-day start and weekly balance fields (with each field type's definition)",
        None,
        200,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/labor/departments",
        "createDepartment",
        "labor",
        "Create a department; a client number + terminal already used by another department is refused (409)",
        Some("Department"),
        201,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/labor/departments/{department_id}",
        "getDepartment",
        "labor",
        "One department",
        None,
        200,
        &[]
    ),
    op!(
        "put",
        "/api/v1/merchants/{merchant_id}/labor/departments/{department_id}",
        "putDepartment",
        "labor",
        "Replace a department; a field removed loses its values",
        Some("Department"),
        200,
        &[]
    ),
    op!(
        "delete",
        "/api/v1/merchants/{merchant_id}/labor/departments/{department_id}",
        "deleteDepartment",
        "labor",
        "Delete a department and its weekly balance (audit entries stay)",
        None,
        204,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/labor/departments/{department_id}/balance",
        "departmentBalance",
        "labor",
        "The weekly balance: per business date its import status, approval, discrepancies, daily totals and values per field and local hour",
        None,
        200,
        &[
            ("week", "any date of the Monday–Sunday week to show, YYYY-MM-DD"),
            ("from", "first business date (with `until`), YYYY-MM-DD"),
            ("until", "last business date, inclusive")
        ]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/labor/balance.csv",
        "weeklyBalanceCsv",
        "labor",
        "The weekly balance as CSV: date, hour, department, field number, field type, value",
        None,
        200,
        &[
            ("week", "any date of the Monday–Sunday week to show, YYYY-MM-DD"),
            ("from", "first business date (with `until`), YYYY-MM-DD"),
            ("until", "last business date, inclusive"),
            ("department_id", "only this department")
        ]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/labor/departments/{department_id}/days/{date}/confirm",
        "confirmDay",
        "labor",
        "Approve an imported day; scheduled imports then leave it alone and flag differences",
        None,
        200,
        &[]
    ),
    op!(
        "delete",
        "/api/v1/merchants/{merchant_id}/labor/departments/{department_id}/days/{date}/confirm",
        "reopenDay",
        "labor",
        "Take back an approval",
        None,
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/labor/imports",
        "listLaborImports",
        "labor",
        "Imports (historical and their progress), newest first",
        None,
        200,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/labor/imports",
        "importPos",
        "labor",
        "Import POS: recompute departments' days from synced orders for a date range, as a job with progress; approved days only with `overwrite_approved` (audited)",
        Some("LaborImport"),
        202,
        &[]
    ),
    op!(
        "get",
        "/api/v1/merchants/{merchant_id}/labor/imports/{import_id}",
        "getLaborImport",
        "labor",
        "An import with its progress and audit entries (old and new values of overwritten approved days)",
        None,
        200,
        &[]
    ),
    op!(
        "post",
        "/api/v1/merchants/{merchant_id}/labor/imports/{import_id}/cancel",
        "cancelLaborImport",
        "labor",
        "Stop a queued or running import after the days it is writing",
        None,
        200,
        &[]
    ),
    op!(
        "post",
        "/api/v1/webhook-endpoints",
        "createWebhookEndpoint",
        "webhooks",
        "Create an endpoint that receives events as Standard Webhooks (`webhook-id` = the event id, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of \"{id}.{timestamp}.{body}\">` keyed with the base64 part of the `whsec_` secret, which is shown once). Body `{type, timestamp, data: {merchant_id, event_id, seq, subject, payload}}`. Without `merchant_id` (installation key only) it receives every merchant's events; a merchant key's endpoints are its merchant's. `event_types`: types or `prefix.*` patterns, empty for all",
        Some("NewWebhookEndpoint"),
        201,
        &[]
    ),
    op!(
        "get",
        "/api/v1/webhook-endpoints",
        "listWebhookEndpoints",
        "webhooks",
        "Webhook endpoints the caller may see (an installation key: all), without secrets",
        None,
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/webhook-endpoints/{endpoint_id}",
        "getWebhookEndpoint",
        "webhooks",
        "One endpoint: `enabled`, `disabled_reason`, `failing_since` (first failure since the last success; five days of it disables the endpoint)",
        None,
        200,
        &[]
    ),
    op!(
        "patch",
        "/api/v1/webhook-endpoints/{endpoint_id}",
        "updateWebhookEndpoint",
        "webhooks",
        "Change `url`, `description`, `event_types` or `enabled` (true re-enables a disabled endpoint; false stops its pending deliveries)",
        Some("WebhookEndpointPatch"),
        200,
        &[]
    ),
    op!(
        "delete",
        "/api/v1/webhook-endpoints/{endpoint_id}",
        "deleteWebhookEndpoint",
        "webhooks",
        "Delete an endpoint with its deliveries",
        None,
        204,
        &[]
    ),
    op!(
        "post",
        "/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
        "rotateWebhookSecret",
        "webhooks",
        "A new secret (shown once); for a day the previous one signs beside it (two `v1,` signatures)",
        None,
        200,
        &[]
    ),
    op!(
        "get",
        "/api/v1/webhook-endpoints/{endpoint_id}/deliveries",
        "listWebhookDeliveries",
        "webhooks",
        "Deliveries, newest first, with every attempt (`at`, `status_code`, `error`, `duration_ms`). Failed attempts are retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (±10 %, a `Retry-After` up to an hour honoured), then the delivery is `failed`",
        None,
        200,
        &[
            ("status", "pending, delivered or failed"),
            ("limit", "1–500, default 100")
        ]
    ),
    op!(
        "post",
        "/api/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver",
        "redeliverWebhook",
        "webhooks",
        "Send a delivery again now with a fresh retry schedule (same `webhook-id`)",
        None,
        202,
        &[]
    ),
    op!(
        "get",
        "/api/v1/api-keys",
        "listApiKeys",
        "api-keys",
        "API keys (installation key)",
        None,
        200,
        &[]
    ),
    op!(
        "post",
        "/api/v1/api-keys",
        "createApiKey",
        "api-keys",
        "Create an API key; the secret is shown once",
        Some("CreateApiKey"),
        201,
        &[]
    ),
    op!(
        "delete",
        "/api/v1/api-keys/{key_id}",
        "revokeApiKey",
        "api-keys",
        "Revoke an API key",
        None,
        204,
        &[]
    ),
];

fn schemas() -> Value {
    let s = |props: Value, required: &[&str]| json!({ "type": "object", "additionalProperties": false, "properties": props, "required": required });
    json!({
        "Error": {
            "type": "object",
            "properties": { "error": { "type": "object", "properties": {
                "code": { "type": "string" }, "message": { "type": "string" }, "details": {} }, "required": ["code", "message"] } },
            "required": ["error"]
        },
        "CreateMerchant": s(json!({ "name": {"type": "string"}, "timezone": {"type": "string", "description": "IANA zone"}, "currency": {"type": "string", "description": "ISO 4217"} }), &["name", "timezone", "currency"]),
        "CreateLocation": s(json!({ "name": {"type": "string"}, "timezone": {"type": "string"}, "business_day_start": {"type": "string", "description": "HH:MM, default 00:00"} }), &["name", "timezone"]),
        "MapLocation": s(json!({ "connection_id": {"type": "string"}, "pos_location_id": {"type": "string"} }), &["connection_id", "pos_location_id"]),
        "StartConnect": s(json!({ "series": {"type": "string", "enum": ["k", "x", "r", "o"]} }), &["series"]),
        "Disconnect": s(json!({ "confirm": {"type": "string", "const": "Lightspeed"} }), &["confirm"]),
        "PersonalToken": s(json!({ "series": {"type": "string", "const": "x"}, "domain_prefix": {"type": "string"}, "token": {"type": "string"} }), &["series", "domain_prefix", "token"]),
        "CreateApiKey": s(json!({ "name": {"type": "string"}, "merchant_id": {"type": "string"} }), &["name"]),
        "NewWebhookEndpoint": s(json!({ "url": {"type": "string", "format": "uri"}, "merchant_id": {"type": "string"}, "description": {"type": "string"},
                                        "event_types": {"type": "array", "items": {"type": "string"}, "maxItems": 100} }), &["url"]),
        "WebhookEndpointPatch": s(json!({ "url": {"type": "string", "format": "uri"}, "description": {"type": "string"},
                                          "event_types": {"type": "array", "items": {"type": "string"}}, "enabled": {"type": "boolean"} }), &[]),
        "LoyaltyProgram": s(json!({
            "earning": { "oneOf": [{"type": "null"}, {"type": "object", "properties": {
                "mode": {"type": "string", "enum": ["step", "proportional"], "description": "step: floor(eligible / step) × reward; proportional: floor(eligible × reward / step)"},
                "step_minor": {"type": "integer", "minimum": 1}, "reward_minor": {"type": "integer", "minimum": 0} }, "required": ["mode", "step_minor", "reward_minor"]}] },
            "tax_basis": {"type": "string", "enum": ["excluding_tax", "including_tax"]},
            "allow_negative_balance": {"type": "boolean", "description": "default true"},
            "claim_window_days": {"type": "integer", "minimum": 0, "maximum": 3650, "description": "default 30"},
            "tiers": { "oneOf": [{"type": "null"}, {"type": "object", "properties": {
                "tiers": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "threshold_minor": {"type": "integer", "minimum": 0}}, "required": ["id", "name", "threshold_minor"]}},
                "window": {"type": "string", "enum": ["rolling_365_days", "lifetime"]},
                "policy": {"type": "string", "enum": ["never", "immediate", "hold"]} }, "required": ["tiers"]}] }
        }), &[]),
        "PunchCard": s(json!({
            "name": {"type": "string"}, "reward": {"type": "string"}, "stamps_required": {"type": "integer", "minimum": 1},
            "categories": {"type": "array", "items": {"type": "object", "properties": {"connection_id": {"type": "string"}, "id": {"type": "string"}, "name": {"type": "string"}}}},
            "mode": {"type": "string", "enum": ["per_item", "per_order"]}, "min_order_minor": {"type": "integer"},
            "max_per_order": {"type": "integer", "minimum": 1}, "max_per_day": {"type": "integer", "minimum": 1}, "active": {"type": "boolean"}
        }), &["name", "reward", "stamps_required"]),
        "TierFloor": s(json!({ "tier_id": {"type": ["string", "null"]} }), &["tier_id"]),
        "Broadcast": s(json!({ "title": {"type": "string"}, "message": {"type": "string"}, "idempotency_key": {"type": "string"},
                               "audience": {"type": "object", "properties": { "segment": {"type": "string"}, "tier_id": {"type": "string"},
                                            "member_ids": {"type": "array", "items": {"type": "string"}} }} }), &["message", "idempotency_key"]),
        "Redemption": s(json!({ "amount_minor": {"type": "integer", "minimum": 1}, "idempotency_key": {"type": "string"}, "reference": {"type": "string"} }), &["amount_minor", "idempotency_key"]),
        "MemberMerge": s(json!({ "member_id": {"type": "string", "description": "the member merged into this one (deleted)"} }), &["member_id"]),
        "NewMember": s(json!({ "email": {"type": "string"}, "name": {"type": "string"}, "phone": {"type": "string"} }), &["email"]),
        "MemberPatch": s(json!({ "email": {"type": "string"}, "name": {"type": "string"}, "phone": {"type": "string"} }), &[]),
        "LaborSettings": s(json!({
            "enabled": {"type": "boolean"}, "connection_id": {"type": ["string", "null"], "description": "the POS integration service"},
            "auto_confirm": {"type": "boolean"}, "confirm_at": {"type": "string", "description": "HH:MM, default 05:00"},
            "schedule_at": {"type": "string", "description": "HH:MM wall-clock, default 02:00"}, "schedule_zone": {"type": "string", "description": "IANA zone, default Europe/Copenhagen"},
            "vat_basis": {"type": "string", "enum": ["included", "excluded"]}, "trailing_days": {"type": "integer", "minimum": 0, "maximum": 31, "description": "default 7"},
            "history_from": {"type": "string", "format": "date", "description": "with enabled=true: import every department from this date until yesterday"}
        }), &[]),
        "Department": s(json!({
            "name": {"type": "string"}, "timezone": {"type": "string", "description": "IANA zone"},
            "business_day_start": {"type": "string", "description": "HH:MM, default 00:00"},
            "client_number": {"type": "string", "description": "POS location: K business location id, X outlet id, R shop id, O location id"},
            "terminals": {"type": "array", "items": {"type": "string"}, "description": "register/device ids of that location; all when empty"},
            "fields": {"type": "array", "items": {"type": "object", "properties": {
                "number": {"type": "string"}, "name": {"type": "string"},
                "field_type": {"type": "string", "enum": ["gross_sales", "net_sales", "discounts", "returns", "transactions", "goods_sold", "returned_goods", "visitors"]},
                "hourly": {"type": "boolean", "description": "split into 1-hour intervals; otherwise the daily total"} }, "required": ["number", "name", "field_type"]}}
        }), &["name", "timezone", "client_number"]),
        "CatalogItem": s(json!({
            "connection_id": {"type": "string"},
            "pos_location_id": {"type": "string", "description": "the business location to write through; the connection's first by default"},
            "sku": {"type": "string", "minLength": 1, "maxLength": 32, "description": "on create: the POS picks one when absent; on update: the new SKU"},
            "name": {"type": "string", "minLength": 1, "maxLength": 128},
            "price_minor": {"type": "integer", "minimum": 0},
            "category_id": {"type": "string", "description": "a category id of the connection (K-Series accounting group), from /categories"},
            "variants": variants_schema()
        }), &["connection_id", "name", "price_minor", "category_id"]),
        "CatalogRichItem": s(json!({
            "connection_id": {"type": "string"},
            "allergens": {"type": "array", "items": {"type": "string"}, "description": "allergen codes the POS knows (see `allergens` in the catalog)"},
            "descriptions": {"type": "array", "items": {"type": "object", "properties": {
                "locale": {"type": "string", "description": "one of the business's locales, such as en"},
                "description": {"type": "string"}, "display_name": {"type": "string"} }, "required": ["locale", "description"]}},
            "picture_base64": {"type": "string", "description": "the image, base64-encoded; at most 1 MiB decoded"}
        }), &["connection_id"]),
        "OnlineOrder": online_order_schema(),
        "OrderingSettings": s(json!({
            "enabled": {"type": "boolean", "description": "switching it on runs the readiness checks first"},
            "payment_methods": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 100},
                                "description": "connection id → payment method (K-Series code, X/R payment type name)"}
        }), &[]),
        "LaborImport": s(json!({
            "departments": {"type": "array", "items": {"type": "string"}, "description": "department ids; all when empty"},
            "from": {"type": "string", "format": "date"}, "until": {"type": "string", "format": "date"},
            "overwrite_approved": {"type": "boolean", "description": "default false"}
        }), &["from", "until"]),
        "ManualCredit": s(json!({ "amount_minor": {"type": "integer", "description": "positive credits, negative debits; not zero"}, "reason": {"type": "string"}, "message": {"type": "string"}, "idempotency_key": {"type": "string", "maxLength": 200} }), &["amount_minor", "reason", "idempotency_key"]),
    })
}

fn online_order_schema() -> Value {
    let item = json!({"type": "object", "properties": {
        "sku": {"type": "string", "maxLength": 25}, "quantity": {"type": "integer", "minimum": 1, "maximum": 999},
        "unit_price_minor": {"type": "integer", "description": "checked against the POS price when given"},
        "modifiers": {"type": "array", "items": {"type": "string"}, "description": "ids of production instructions the catalog lists for this item under `instructions` (K-Series), at most one per group that is not `multiple`; X- and R-Series items have none"},
        "sub_items": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string", "maxLength": 25}, "quantity": {"type": "integer", "minimum": 1, "maximum": 99, "description": "per unit of the line"}}, "required": ["sku", "quantity"]}, "description": "priced add-ons or a deal's choices from the catalog item's `choices` (K-Series): each group's total quantity between its min and max; each adds its option's price_minor × quantity to one unit of the line"},
        "note": {"type": "string"} }, "required": ["sku", "quantity"]});
    let payment = json!({"type": "object", "properties": {
        "method": {"type": "string", "description": "POS payment method (K code, X/R payment type name); default: the connection's method in the ordering settings"},
        "amount_minor": {"type": "integer", "description": "paid for the items, tip excluded; must equal their POS total"},
        "tip_minor": {"type": "integer"}, "reference": {"type": "string"} }, "required": ["amount_minor"]});
    let address = json!({"type": "object", "properties": {"line1": {"type": "string"}, "line2": {"type": "string"}, "zip": {"type": "string"}, "city": {"type": "string"}}, "required": ["line1", "zip", "city"]});
    let customer = json!({"type": "object", "properties": {"first_name": {"type": "string"}, "last_name": {"type": "string"}, "email": {"type": "string"}, "phone": {"type": "string", "description": "E.164"}}, "required": ["first_name"]});
    json!({ "type": "object", "additionalProperties": false, "properties": {
        "channel_order_id": {"type": "string", "maxLength": 128, "description": "the channel's order id: the idempotency key"},
        "location_id": {"type": "string", "description": "a mapped location"},
        "type": {"type": "string", "enum": ["dine_in", "takeaway", "delivery"]},
        "table": {"type": "string", "description": "dine-in only, required there"},
        "covers": {"type": "integer", "minimum": 1, "maximum": 99},
        "delivery_address": address,
        "scheduled_at": {"type": "string", "format": "date-time", "description": "in the future"},
        "customer": customer,
        "items": {"type": "array", "minItems": 1, "items": item},
        "payment": payment,
        "account_profile": {"type": "string", "description": "order profile code; default COLLECT for takeaway, DELIVERY for delivery"},
        "total_minor": {"type": "integer", "description": "what the channel charged for the items; checked against the POS prices"},
        "note": {"type": "string"}
    }, "required": ["channel_order_id", "location_id", "type", "customer", "items"] })
}

pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for op in OPERATIONS {
        let params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .chain(op.query.iter().map(|(name, desc)| json!({ "name": name, "in": "query", "required": false, "description": desc, "schema": { "type": "string" } })))
            .collect();
        let mut operation = json!({
            "operationId": op.id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": params,
            "security": [{ "apiKey": [] }],
            "responses": {
                op.status.to_string(): { "description": "Success" },
                "4XX": { "description": "Bad input, unknown resource or missing key", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
            },
        });
        if let Some(body) = op.body {
            operation["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{body}") } } } });
        }
        let entry = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}));
        entry[op.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "tillbridge API", "version": env!("CARGO_PKG_VERSION"), "description": "Lightspeed POS integration hub. Money is integer minor units; instants are UTC." },
        "servers": [{ "url": "/" }],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": { "apiKey": { "type": "http", "scheme": "bearer", "description": "An API key: `Authorization: Bearer tbk_…`" } },
        },
    })
}

/// The `variants` of a catalog item to create: an X-Series variant family's products.
fn variants_schema() -> Value {
    json!({"type": "array", "minItems": 1, "maxItems": 200, "description": "on create, X-Series only: the products of a new variant family named `name` (the first becomes its parent). Each names the same 1 to 3 options in the same order, no two alike; option names are matched to the store's variant attributes, which are created where missing. The family has no `sku` of its own. The answer's `item.variants` lists the new products; other series answer 422 `unsupported_by_series`", "items": {"type": "object", "properties": {
                "sku": {"type": "string", "minLength": 1, "maxLength": 32, "description": "the POS picks one when absent"},
                "price_minor": {"type": "integer", "minimum": 0, "description": "the family's price_minor when absent"},
                "options": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"type": "object", "properties": {"name": {"type": "string", "minLength": 1}, "value": {"type": "string", "minLength": 1}}, "required": ["name", "value"]}}
            }, "required": ["options"]}})
}
