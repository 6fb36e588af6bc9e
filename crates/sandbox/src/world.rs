//! The simulator's in-memory state: OAuth clients, merchants with their data, tokens, faults
//! and counters. Plain data behind one lock; handlers never hold it across an await.

use crate::faults::Fault;
use crate::ratelimit::Bucket;
use crate::SandboxConfig;
use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// An OAuth client the sandbox accepts (what a partner gets from Lightspeed).
#[derive(Clone, Debug, Serialize)]
pub struct SandboxClient {
    pub series: String,
    pub client_id: String,
    pub client_secret: String,
    /// Exact redirect URIs accepted; loopback `http` URIs on any port are accepted as well.
    pub redirect_uris: Vec<String>,
    pub authorize_url: String,
    pub token_url: String,
    pub api_base: String,
    /// X-Series: whether a refresh returns a new refresh token (the old one then dies).
    pub rotate_refresh: bool,
}

pub struct World {
    pub seed: u64,
    pub rng: ChaCha8Rng,
    pub clients: Vec<SandboxClient>,
    pub merchants: BTreeMap<String, Merchant>,
    pub merchant_counter: u64,
    pub codes: HashMap<String, AuthCode>,
    pub access_tokens: HashMap<String, AccessToken>,
    pub refresh_tokens: HashMap<String, RefreshToken>,
    pub faults: Vec<Fault>,
    pub fault_counter: u64,
    pub buckets: HashMap<String, Bucket>,
    /// Whether requests are charged to the rate limiters (see `SandboxConfig::rate_limits`).
    pub rate_limits: bool,
    /// R-Series leaky buckets per (account, client).
    pub buckets_r: HashMap<String, crate::rseries::LeakyBucket>,
    /// X-Series sliding windows: request instants per (client, store).
    pub windows: HashMap<String, std::collections::VecDeque<Instant>>,
    pub stats: Stats,
}

#[derive(Default, Serialize, Clone)]
pub struct Stats {
    pub requests: BTreeMap<String, SeriesStats>,
    pub rate_limited: u64,
    pub tokens_issued: u64,
    pub refreshes: u64,
    pub refresh_rejected: u64,
    pub webhooks_sent: u64,
    pub webhooks_failed: u64,
}

#[derive(Default, Serialize, Clone)]
pub struct SeriesStats {
    pub requests: u64,
    pub rate_limited: u64,
    pub server_errors: u64,
}

pub struct Merchant {
    pub id: String,
    pub series: String,
    pub name: String,
    pub business_id: i64,
    pub currency: String,
    pub zone: Tz,
    pub login: Login,
    pub locations: Vec<Location>,
    pub menu: Vec<MenuItem>,
    pub groups: Vec<AccountingGroup>,
    pub payment_methods: Vec<PaymentMethod>,
    pub customers: Vec<Customer>,
    pub sales: Vec<Sale>,
    pub rng: ChaCha8Rng,
    pub line_counter: u64,
    /// X-Series: the store's domain prefix (`{prefix}.retail.lightspeed.app`).
    pub domain_prefix: String,
    /// X-Series: a personal token usable as a Bearer token.
    pub personal_token: String,
    /// X-Series: the store-wide version counter every change increments.
    pub version: u64,
    pub webhooks: Vec<Webhook>,
    /// O-Series webhook subscriptions: (id, url, secret).
    pub o_webhooks: Vec<(String, String, String)>,
    /// K-Series webhook endpoints.
    pub k_webhooks: Vec<KWebhook>,
    /// K-Series online orders (Order & Pay), in the order they arrived.
    pub k_orders: Vec<OnlineOrder>,
    /// K-Series payment references already used (`thirdPartyPaymentReference`).
    pub k_payment_refs: Vec<String>,
    /// Stock per (location, sku) for items whose stock is tracked: K-Series item availability,
    /// X-Series inventory records, R-Series `ItemShop` records. Items without an entry are not
    /// restricted.
    pub availability: BTreeMap<(usize, String), Stock>,
    /// X-Series variant attributes ("Size", "Colour"): what a variant family's products differ
    /// by, as (id, name).
    pub variant_attributes: Vec<(String, String)>,
    /// K-Series: the locales rich item descriptions may use (`/i/locales/{businessId}`).
    pub locales: Vec<String>,
    /// K-Series messages sent to the POS with `/o/op/1/printMsg`, oldest first.
    pub print_messages: Vec<PrintMessage>,
}

/// A message for a location's POS (`POST /o/op/1/printMsg`).
#[derive(Clone, Debug)]
pub struct PrintMessage {
    pub location: usize,
    pub message: String,
    pub also_to_printer: bool,
    pub at: DateTime<Utc>,
}

/// What is left of an item at one location.
#[derive(Clone, Debug)]
pub struct Stock {
    /// The record's id (X inventory `id`, R `itemShopID`).
    pub id: u64,
    /// How many are left (0 or less: sold out).
    pub count: i64,
    pub updated_at: DateTime<Utc>,
    /// X-Series: the store version of the last change.
    pub version: u64,
}

impl Merchant {
    /// Sets (`Some`) or lifts (`None`) the stock of `sku` at `loc`.
    pub fn set_stock(&mut self, loc: usize, sku: &str, count: Option<i64>) {
        let key = (loc, sku.to_owned());
        match count {
            None => {
                self.availability.remove(&key);
            }
            Some(count) => {
                self.version += 1;
                let version = self.version;
                let next_id = self.availability.values().map(|s| s.id).max().unwrap_or(0) + 1;
                let stock = self.availability.entry(key).or_insert(Stock {
                    id: next_id,
                    count,
                    updated_at: Utc::now(),
                    version,
                });
                stock.count = count;
                stock.updated_at = Utc::now();
                stock.version = version;
            }
        }
    }

    /// Takes `qty` of a tracked item at `loc` off its stock (a sale, an order delivered).
    pub fn take_stock(&mut self, loc: usize, sku: &str, qty: i64) {
        if let Some(left) = self
            .availability
            .get(&(loc, sku.to_owned()))
            .map(|s| s.count)
        {
            self.set_stock(loc, sku, Some(left - qty));
        }
    }

    /// Whether the stock of `sku` is tracked at any location.
    pub fn tracks_stock(&self, sku: &str) -> bool {
        self.availability.keys().any(|(_, s)| s == sku)
    }
}

/// Where an online order is in the simulated POS.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OnlineState {
    /// Accepted by the API, not yet delivered to the POS.
    Pending,
    /// Delivery failed (`FAILURE` webhook); no account exists.
    Failed,
    /// An open account on the POS.
    Open,
    Ready,
    /// Closed and paid: it is a sale in the financial data.
    Closed,
    /// Voided by staff before closing.
    Cancelled,
}

/// A K-Series online order (`/o/op/1/order/local` or `/toGo`) and the account it became.
#[derive(Clone)]
pub struct OnlineOrder {
    pub reference: String,
    pub endpoint_id: String,
    pub location: usize,
    pub state: OnlineState,
    /// Why delivery failed, as the `FAILURE` webhook says.
    pub failure: Option<String>,
    /// Set on delivery: `A{bl}.{n}` and the numeric account id.
    pub identifier: Option<String>,
    pub account_id: Option<String>,
    /// The items as ordered; checked against the menu on delivery.
    pub items: Vec<OrderedItem>,
    /// Resolved lines once delivered.
    pub lines: Vec<OrderLine>,
    pub dine_in: bool,
    pub table: Option<String>,
    pub client_count: i64,
    pub customer_name: String,
    pub profile: Option<String>,
    /// (payment method, amount excluding tip, tip, reference).
    pub payments: Vec<(usize, i64, i64, String)>,
    pub opened: DateTime<Utc>,
    /// The sale it became when closed.
    pub sale: Option<usize>,
}

/// An order line as the order named it.
#[derive(Clone, Debug)]
pub struct OrderedItem {
    pub sku: String,
    pub quantity: i64,
    /// Production instruction ids (`modifiers[].modifierId`).
    pub modifiers: Vec<String>,
    /// Sub-items (`subItems[]`): product modifiers or a deal's choices, (sku, quantity per
    /// unit of the line).
    pub sub_items: Vec<(String, i64)>,
}

/// An order line on the POS.
#[derive(Clone, Debug)]
pub struct OrderLine {
    pub item: usize,
    pub quantity: i64,
    /// What one costs: the item's price, or a sub-item's price in its group.
    pub unit_cents: i64,
    /// The chosen production instructions' names.
    pub instructions: Vec<String>,
    /// For a sub-item's line: the index of its parent line.
    pub parent: Option<usize>,
}

impl OnlineOrder {
    pub fn total_cents(&self) -> i64 {
        self.lines.iter().map(|l| l.unit_cents * l.quantity).sum()
    }

    pub fn paid_cents(&self) -> i64 {
        self.payments.iter().map(|p| p.1).sum()
    }
}

/// A K-Series Order & Pay webhook endpoint (`/o/wh/1/webhook`).
#[derive(Clone)]
pub struct KWebhook {
    pub endpoint_id: String,
    pub url: String,
    pub with_basic_auth: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub provide_account: bool,
    pub expand_transactions: bool,
    pub expand_payments: bool,
    pub subscribe_to: Vec<serde_json::Value>,
    /// Linked business locations: (id, linked at, updated at).
    pub locations: Vec<(i64, DateTime<Utc>, DateTime<Utc>)>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An X-Series webhook subscription.
#[derive(Clone, Serialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub active: bool,
    #[serde(rename = "type")]
    pub kind: String,
}

impl Merchant {
    /// A location's id as this merchant's series writes it (K: business location id; X: outlet uuid).
    pub fn location_ref(&self, loc: usize) -> String {
        match self.series.as_str() {
            "k" => self.locations[loc].id.to_string(),
            "r" => (loc + 1).to_string(),
            _ => self.locations[loc].uid.clone(),
        }
    }

    pub fn register_ref(&self, loc: usize, device: usize) -> String {
        let d = &self.locations[loc].devices[device];
        match self.series.as_str() {
            "k" => d.id.to_string(),
            "r" => (self.locations[..loc]
                .iter()
                .map(|l| l.devices.len())
                .sum::<usize>()
                + device
                + 1)
            .to_string(),
            _ => d.uid.clone(),
        }
    }

    pub fn category_ref(&self, group: usize) -> String {
        match self.series.as_str() {
            "k" => self.groups[group].id.to_string(),
            "r" => (group + 1).to_string(),
            _ => self.groups[group].uid.clone(),
        }
    }

    /// A payment method's id as the series writes it on a sale's payment (K: its code; X: the
    /// `retailer_payment_type_id`; R: `paymentTypeID`; O: its code).
    pub fn payment_method_ref(&self, method: usize) -> String {
        match self.series.as_str() {
            "k" | "o" => self.payment_methods[method].code.clone(),
            "r" => (method + 1).to_string(),
            _ => self.payment_methods[method].uid.clone(),
        }
    }

    /// A sale's id as the series writes it (K: `accountFiscId`; X: uuid).
    pub fn sale_ref(&self, index: usize) -> String {
        match self.series.as_str() {
            "k" => self.sales[index].fisc_id.clone(),
            "r" => self.sales[index].serial.to_string(),
            _ => self.sales[index].uid.clone(),
        }
    }

    pub fn find_location(&self, reference: &str) -> Option<usize> {
        (0..self.locations.len()).find(|&i| self.location_ref(i) == reference)
    }

    pub fn find_sale(&self, reference: &str) -> Option<usize> {
        (0..self.sales.len()).find(|&i| self.sale_ref(i) == reference)
    }

    /// The items still on the menu, by index into `menu`.
    pub fn live_items(&self) -> Vec<usize> {
        (0..self.menu.len())
            .filter(|&i| self.menu[i].deleted_at.is_none())
            .collect()
    }

    /// The item still on the menu with this SKU.
    pub fn live_item(&self, sku: &str) -> Option<usize> {
        self.menu
            .iter()
            .position(|i| i.sku == sku && i.deleted_at.is_none())
    }

    /// Adds an item to the menu (K Items API, X products API); returns its index.
    pub fn add_item(&mut self, sku: String, name: String, price_cents: i64, group: usize) -> usize {
        let id = self.menu.iter().map(|i| i.id).max().unwrap_or(0) + 1;
        let uid = uid(&mut self.rng);
        let version = self.next_version();
        self.menu.push(MenuItem {
            uid,
            version,
            sku,
            name,
            price_cents,
            group,
            id,
            deleted_at: None,
            rich: RichItem::default(),
            kind: ItemKind::Plain,
            choices: Vec::new(),
            variant: None,
        });
        self.menu.len() - 1
    }

    /// Deletes item `i`: it stays for the sales that name it, with a new version so version
    /// feeds show the deletion, and loses its rich data and stock records.
    pub fn delete_item(&mut self, i: usize) {
        let version = self.next_version();
        let item = &mut self.menu[i];
        item.deleted_at = Some(Utc::now());
        item.version = version;
        item.rich = RichItem::default();
        let sku = item.sku.clone();
        self.availability.retain(|(_, s), _| *s != sku);
    }

    /// A random item still on the menu. Draws the same numbers as picking from the whole menu
    /// while nothing was deleted, so seeded worlds stay as they were.
    /// Product modifiers and deals are left out: they are sold with their sub-items.
    pub fn random_item(&mut self) -> usize {
        let live = self.sellable_items();
        live[self.rng.gen_range(0..live.len())]
    }

    /// Adds an X-Series variant attribute and returns its id.
    pub fn add_variant_attribute(&mut self, name: &str) -> String {
        let id = format!(
            "{:08x}-0000-4000-8003-{:012x}",
            self.business_id,
            self.variant_attributes.len() + 1
        );
        self.variant_attributes.push((id.clone(), name.to_owned()));
        id
    }

    /// Appends the products of a new X-Series variant family, the first being its parent, and
    /// returns their indices: `variants` holds each one's SKU, price and options.
    pub fn add_family(
        &mut self,
        family: &str,
        group: usize,
        variants: Vec<NewVariant>,
    ) -> Vec<usize> {
        let parent = self.menu.len();
        variants
            .into_iter()
            .map(|(sku, price, options)| {
                let values: Vec<&str> = options.iter().map(|(_, v)| v.as_str()).collect();
                let name = format!("{family} / {}", values.join(" / "));
                let i = self.add_item(sku, name, price, group);
                self.menu[i].variant = Some(Variant {
                    parent,
                    family: family.to_owned(),
                    options,
                });
                i
            })
            .collect()
    }

    /// The live products of item `i`'s variant family, the parent first; none when it has no
    /// family.
    pub fn family(&self, i: usize) -> Vec<usize> {
        let Some(v) = &self.menu[i].variant else {
            return Vec::new();
        };
        self.live_items()
            .into_iter()
            .filter(|&j| self.menu[j].variant.as_ref().map(|w| w.parent) == Some(v.parent))
            .collect()
    }

    /// The options of choice group `g` whose item is still on the menu.
    pub fn live_options<'a>(
        &'a self,
        g: &'a ChoiceGroup,
    ) -> impl Iterator<Item = &'a ChoiceOption> {
        g.options
            .iter()
            .filter(|o| self.menu[o.item].deleted_at.is_none())
    }

    /// The items still on the menu that are sold on their own (what generated sales pick).
    pub fn sellable_items(&self) -> Vec<usize> {
        self.live_items()
            .into_iter()
            .filter(|&i| self.menu[i].kind == ItemKind::Plain)
            .collect()
    }

    pub fn next_version(&mut self) -> u64 {
        self.version += 1;
        self.version
    }
}

/// A random UUID (v4 layout) from the merchant's seeded generator.
pub fn uid(rng: &mut impl Rng) -> String {
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[derive(Clone, Serialize)]
pub struct Login {
    pub username: String,
    pub password: String,
}

pub struct Location {
    pub id: i64,
    pub uid: String,
    pub name: String,
    pub zone: Tz,
    pub day_start: NaiveTime,
    pub devices: Vec<Device>,
    pub account_counter: u64,
    /// K-Series floor plans with their tables (dine-in orders name a table).
    pub floor_plans: Vec<FloorPlan>,
}

#[derive(Clone)]
pub struct FloorPlan {
    pub id: i64,
    pub name: String,
    pub tables: Vec<Table>,
}

#[derive(Clone)]
pub struct Table {
    pub id: String,
    pub number: i64,
    pub description: String,
    pub active: bool,
    pub default_client_count: i64,
}

#[derive(Clone)]
pub struct Device {
    pub id: i64,
    pub uid: String,
    pub name: String,
}

#[derive(Clone)]
pub struct MenuItem {
    pub uid: String,
    pub version: u64,
    pub sku: String,
    pub name: String,
    pub price_cents: i64,
    pub group: usize,
    /// K-Series Items API id.
    pub id: i64,
    /// When it was deleted (K Items API, X products API). Kept so that past sales still name
    /// it; gone from every list but X's product feed (which shows `deleted_at`), from menus
    /// and availability answers, and never picked for new sales.
    pub deleted_at: Option<DateTime<Utc>>,
    /// K-Series Rich Item data (allergens, descriptions per locale, picture).
    pub rich: RichItem,
    /// What the item is on a K-Series menu: sold on its own, a product modifier, or a deal.
    pub kind: ItemKind,
    /// K-Series: what an order line of this item chooses from (`subItems`): its product
    /// modifier groups (`menuModifierGroups`) or, for a deal, its deal groups
    /// (`menuDealGroups`).
    pub choices: Vec<ChoiceGroup>,
    /// X-Series: the item's place in a variant family ("T-Shirt" in sizes S, M and L).
    pub variant: Option<Variant>,
}

/// A variant family's product to add: its SKU, price in cents and options (attribute, value).
pub type NewVariant = (String, i64, Vec<(String, String)>);

/// A product of an X-Series variant family. The family's products share its name; one of them
/// is the family's parent (`variant_parent_id` null), and every other names it.
#[derive(Clone, Debug)]
pub struct Variant {
    /// The menu index of the family's parent: the item itself for the parent.
    pub parent: usize,
    /// The family's name (the product `name`; the item's own name is its `variant_name`).
    pub family: String,
    /// What sets it apart in its family: (attribute, value), e.g. ("Size", "M").
    pub options: Vec<(String, String)>,
}

/// What a menu item is on a K-Series menu.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ItemKind {
    /// Sold on its own (`menuItem`).
    #[default]
    Plain,
    /// A product modifier (`menuProductModifier`, V1's `asSubItem`): a priced add-on that is
    /// only sold as a sub-item of an item offering it.
    Modifier,
    /// A deal (`menuDeal`, a combo): a price for one choice from each of its groups.
    Deal,
}

/// A group an order line chooses sub-items from: a product modifier group ("Coffee add-ons":
/// extra shot, syrup…) or a deal's group ("Drink": espresso, cappuccino…).
#[derive(Clone, Debug)]
pub struct ChoiceGroup {
    pub sku: String,
    pub name: String,
    /// How many (Σ quantity per unit of the line) must be chosen at least and at most.
    pub min: i64,
    pub max: Option<i64>,
    pub options: Vec<ChoiceOption>,
}

#[derive(Clone, Debug)]
pub struct ChoiceOption {
    /// The menu item chosen.
    pub item: usize,
    /// What one costs on the line: a product modifier's price, or a deal choice's
    /// `extraPrice` (usually nothing).
    pub price_cents: i64,
}

/// What the K-Series Rich Item API holds for one SKU; all empty until someone puts it.
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct RichItem {
    /// Allergen codes from `/i/allergens`.
    pub allergens: Vec<String>,
    pub descriptions: Vec<Description>,
    /// The picture as it was patched: base64 of the image bytes.
    pub picture: Option<String>,
}

impl RichItem {
    pub fn is_empty(&self) -> bool {
        self == &RichItem::default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    pub locale: String,
    pub description: String,
    pub display_name: Option<String>,
}

pub struct AccountingGroup {
    pub id: i64,
    pub uid: String,
    pub name: String,
    pub code: String,
    /// K-Series production instruction groups offered on every item of the group.
    pub instructions: Vec<InstructionGroup>,
}

/// A K-Series production instruction group (a menu item's `productionInstructionList`): free
/// modifiers for the kitchen ("Oat milk", "Extra hot"), chosen on an order line by id.
#[derive(Clone, Debug)]
pub struct InstructionGroup {
    pub id: i64,
    pub name: String,
    /// Whether more than one of the group may be chosen on a line.
    pub multiple: bool,
    /// (`ikentooModifierId`, instruction).
    pub instructions: Vec<(i64, String)>,
}

impl Merchant {
    /// The production instruction groups offered on menu item `item`.
    pub fn instructions_of(&self, item: usize) -> &[InstructionGroup] {
        &self.groups[self.menu[item].group].instructions
    }
}

pub struct PaymentMethod {
    pub id: i64,
    pub uid: String,
    pub code: String,
    pub name: String,
}

pub struct Customer {
    pub uuid: String,
    pub version: u64,
    pub customer_id: i64,
    pub first_name: String,
    pub last_name: String,
    /// As the POS holds it (mixed case, occasionally padded), not normalised.
    pub email: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SaleType {
    Sale,
    Refund,
    Void,
}

impl SaleType {
    pub fn wire(self) -> &'static str {
        match self {
            SaleType::Sale => "SALE",
            SaleType::Refund => "REFUND",
            SaleType::Void => "VOID",
        }
    }
}

#[derive(Clone)]
pub struct Sale {
    /// Creation order across the merchant; pagination is stable in this order.
    pub seq: u64,
    /// X-Series id.
    pub uid: String,
    /// R-Series `saleID`: a stable number, unique in the merchant.
    pub serial: u64,
    /// X-Series version: the store version of the sale's last change.
    pub version: u64,
    /// X-Series: when the sale was voided (it keeps its id and lines, status VOIDED).
    pub voided_at: Option<DateTime<Utc>>,
    pub location: usize,
    pub device: usize,
    pub sale_type: SaleType,
    pub account_reference: String,
    pub fisc_id: String,
    pub receipt_id: String,
    /// `accountFiscId` of the original sale for refunds and voids.
    pub source: Option<String>,
    /// `TASK:OO-{businessLocationId}-{thirdPartyReference}` for a closed online order.
    pub external_reference: Option<String>,
    pub opened: DateTime<Utc>,
    pub closed: DateTime<Utc>,
    pub lines: Vec<SaleLine>,
    pub payments: Vec<SalePayment>,
    pub covers: i64,
    pub dine_in: bool,
    pub table: Option<String>,
    pub customer: Option<usize>,
    /// X-Series and R-Series: the online order this sale was taken as.
    pub online: Option<OnlineSale>,
}

/// An online order taken as a sale: X-Series `register_sales` with `AWAITING_PICKUP` or
/// `AWAITING_DISPATCH`, R-Series a `Sale` left open. It counts once the store fulfils it.
#[derive(Clone)]
pub struct OnlineSale {
    /// X-Series `invoice_number`, R-Series `referenceNumber`, as the channel set it.
    pub reference: String,
    /// X-Series `source_id`, R-Series `referenceNumberSource`.
    pub source: String,
    /// Delivery (`AWAITING_DISPATCH`) rather than pickup.
    pub dispatch: bool,
    pub fulfilled: bool,
    pub note: Option<String>,
}

impl Sale {
    /// An online order the store has neither fulfilled nor voided yet.
    pub fn awaiting(&self) -> bool {
        self.voided_at.is_none() && self.online.as_ref().is_some_and(|o| !o.fulfilled)
    }
}

#[derive(Clone)]
pub struct SaleLine {
    pub id: String,
    pub uid: String,
    /// For refund lines: the `id` of the line they refund.
    pub parent: Option<String>,
    /// For a sub-item's line (a product modifier, a deal's choice): the `id` of the line it
    /// belongs to (K-Series `parentLineId`).
    pub of: Option<String>,
    pub item: usize,
    /// Whole units; negative on refunds and voids.
    pub quantity: i64,
    pub unit_cents: i64,
    /// Line discount in cents (positive on sales).
    pub discount_cents: i64,
    /// After discount, including tax.
    pub total_cents: i64,
    /// Tax in ten-thousandths.
    pub tax_10k: i64,
}

#[derive(Clone)]
pub struct SalePayment {
    pub method: usize,
    pub amount_cents: i64,
    pub tip_cents: i64,
    pub fisc_id: String,
    pub uuid: String,
}

pub struct AuthCode {
    pub client_id: String,
    pub merchant_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub challenge: Option<(String, String)>,
    pub expires: Instant,
    pub used: bool,
    /// Tokens issued from this code, revoked if the code is replayed.
    pub issued: Vec<String>,
}

pub struct AccessToken {
    pub client_id: String,
    pub merchant_id: String,
    pub scope: String,
    pub expires: Instant,
}

pub struct RefreshToken {
    pub client_id: String,
    pub merchant_id: String,
    pub scope: String,
    pub expires: Instant,
    pub used: bool,
    /// R-Series: revoke this refresh token when this access token is first used.
    pub revoke_on_use_of: Option<String>,
}

impl World {
    pub fn new(config: &SandboxConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        // K and R rotate refresh tokens; the documented X-Series example does not; O follows K.
        let clients =
            [("k", true), ("x", false), ("r", true), ("o", true)].map(|(series, rotate)| {
                SandboxClient {
                    series: series.into(),
                    client_id: format!("{series}-client-{:08x}", rng.gen::<u32>()),
                    client_secret: random_token(&mut rng, 32),
                    redirect_uris: Vec::new(),
                    authorize_url: String::new(),
                    token_url: String::new(),
                    api_base: String::new(),
                    rotate_refresh: rotate,
                }
            });
        World {
            seed: config.seed,
            rng,
            clients: clients.to_vec(),
            merchants: BTreeMap::new(),
            merchant_counter: 0,
            codes: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            faults: Vec::new(),
            fault_counter: 0,
            buckets: HashMap::new(),
            rate_limits: config.rate_limits,
            windows: HashMap::new(),
            buckets_r: HashMap::new(),
            stats: Stats::default(),
        }
    }

    pub fn client(&self, series: &str, client_id: &str) -> Option<&SandboxClient> {
        self.clients
            .iter()
            .find(|c| c.series == series && c.client_id == client_id)
    }

    pub fn merchant_by_prefix(&self, prefix: &str) -> Option<&Merchant> {
        self.merchants
            .values()
            .find(|m| m.series == "x" && m.domain_prefix == prefix)
    }

    pub fn merchant_by_login(&self, series: &str, username: &str) -> Option<&Merchant> {
        self.merchants
            .values()
            .find(|m| m.series == series && m.login.username == username)
    }

    pub fn count(&mut self, series: &str) -> &mut SeriesStats {
        self.stats.requests.entry(series.to_owned()).or_default()
    }
}

/// A URL-safe random token of `len` characters.
pub fn random_token(rng: &mut impl Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Whether a redirect URI is acceptable for a client: registered exactly (HTTPS, as Lightspeed
/// requires), or a loopback `http` URI on any port, which is how local development connects.
pub fn redirect_allowed(client: &SandboxClient, uri: &str) -> bool {
    if client.redirect_uris.iter().any(|u| u == uri) {
        return true;
    }
    match url::Url::parse(uri) {
        Ok(u) => {
            let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
            u.scheme() == "http" && loopback
        }
        Err(_) => false,
    }
}
