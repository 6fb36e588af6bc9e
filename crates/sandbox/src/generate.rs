//! The seeded data generator: cafés and shops with locations, registers, a menu with
//! categories, customers with e-mails (and guests without), and sales that follow an hourly
//! curve, with discounts, tips, covers, refunds and voids. The same seed gives the same data.

use crate::world::{
    random_token, uid, AccountingGroup, ChoiceGroup, ChoiceOption, Customer, Device, FloorPlan,
    InstructionGroup, ItemKind, Location, Login, MenuItem, Merchant, PaymentMethod, RichItem, Sale,
    SaleLine, SalePayment, SaleType, Table, Variant, World,
};
use base64::Engine;
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

/// VAT included in every generated price, in basis points (9%).
pub const TAX_BASIS_POINTS: i64 = 900;
/// The K-Series Items API id of the first generated item; the others follow it.
pub const ITEM_ID_BASE: i64 = 7_000_001;

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct MerchantRequest {
    pub series: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub preset: Option<String>,
    #[serde(default)]
    pub locations: Option<u32>,
    #[serde(default)]
    pub registers_per_location: Option<u32>,
    #[serde(default)]
    pub customers: Option<u32>,
    #[serde(default)]
    pub history_days: Option<u32>,
    #[serde(default)]
    pub sales_per_day: Option<u32>,
    #[serde(default)]
    pub seed: Option<u64>,
    /// IANA zone for the business (default: chosen by the seed).
    #[serde(default)]
    pub timezone: Option<String>,
}

const ZONES: &[(&str, &str, &str)] = &[
    ("Europe/Amsterdam", "EUR", "NL"),
    ("Europe/Copenhagen", "DKK", "DK"),
    ("Europe/Brussels", "EUR", "BE"),
    ("America/New_York", "USD", "US"),
    ("America/Montreal", "CAD", "CA"),
];

const CAFE_MENU: &[(&str, &[(&str, i64)])] = &[
    (
        "Hot Drinks",
        &[
            ("Espresso", 280),
            ("Cappuccino", 360),
            ("Latte", 390),
            ("Tea", 250),
            ("Hot Chocolate", 370),
        ],
    ),
    (
        "Cold Drinks",
        &[
            ("Iced Latte", 420),
            ("Orange Juice", 350),
            ("Sparkling Water", 220),
        ],
    ),
    (
        "Pastry",
        &[("Croissant", 240), ("Muffin", 290), ("Cinnamon Bun", 320)],
    ),
    ("Food", &[("Sandwich", 650), ("Salad", 890), ("Soup", 580)]),
];

/// K-Series production instructions by menu group: (group, instruction group, several may be
/// chosen, instructions).
const PRODUCTION_INSTRUCTIONS: &[(&str, &str, bool, &[&str])] = &[
    (
        "Hot Drinks",
        "Milk",
        false,
        &["Whole milk", "Oat milk", "Soy milk", "No milk"],
    ),
    ("Hot Drinks", "Extras", true, &["Extra hot", "Decaf"]),
    ("Cold Drinks", "Ice", false, &["No ice", "Light ice"]),
    ("Food", "Preparation", true, &["No onions", "Gluten free"]),
];

/// The production instruction groups of a menu group, with ids derived from its id (so that
/// they take nothing from the random sequence the rest of the world is drawn from).
fn instruction_groups(group: &str, group_id: i64) -> Vec<InstructionGroup> {
    PRODUCTION_INSTRUCTIONS
        .iter()
        .filter(|(g, ..)| *g == group)
        .enumerate()
        .map(|(n, (_, name, multiple, list))| {
            let id = group_id * 1_000 + 100 * (n as i64 + 1);
            InstructionGroup {
                id,
                name: (*name).to_owned(),
                multiple: *multiple,
                instructions: list
                    .iter()
                    .enumerate()
                    .map(|(k, i)| (id + k as i64 + 1, (*i).to_owned()))
                    .collect(),
            }
        })
        .collect()
}

/// K-Series product modifiers: (menu group offering them, modifier group, at most, add-ons
/// with their prices).
type Priced = (&'static str, i64);
const PRODUCT_MODIFIERS: &[(&str, &str, i64, &[Priced])] = &[
    (
        "Hot Drinks",
        "Coffee add-ons",
        3,
        &[
            ("Extra shot", 80),
            ("Vanilla syrup", 60),
            ("Whipped cream", 50),
        ],
    ),
    (
        "Food",
        "Food extras",
        2,
        &[("Extra cheese", 100), ("Avocado", 150)],
    ),
];

/// K-Series deals: (name, price, groups of (name, choices of (item name, extra price))); one
/// choice from each group.
type DealGroup = (&'static str, &'static [Priced]);
const DEALS: &[(&str, i64, &[DealGroup])] = &[(
    "Breakfast Deal",
    550,
    &[
        (
            "Drink",
            &[("Espresso", 0), ("Cappuccino", 0), ("Latte", 30)],
        ),
        (
            "Pastry",
            &[("Croissant", 0), ("Muffin", 0), ("Cinnamon Bun", 40)],
        ),
    ],
)];

/// Adds the café's K-Series product modifiers (an "Add-ons" menu group, offered on the items
/// of the groups above) and deals (a "Deals" group). Ids and uids are derived, not drawn, so
/// the rest of the world is drawn as before.
fn add_k_choices(groups: &mut Vec<AccountingGroup>, menu: &mut Vec<MenuItem>) {
    fn push_group(groups: &mut Vec<AccountingGroup>, name: &str) -> usize {
        let id = 1_000_001 + groups.len() as i64;
        groups.push(AccountingGroup {
            id,
            uid: format!("00000000-0000-4000-8000-{id:012x}"),
            name: name.to_owned(),
            code: name.to_ascii_uppercase().replace(['-', ' '], "_"),
            instructions: Vec::new(),
        });
        groups.len() - 1
    }
    fn push_item(
        menu: &mut Vec<MenuItem>,
        group: usize,
        name: &str,
        price: i64,
        kind: ItemKind,
    ) -> usize {
        let id = ITEM_ID_BASE + menu.len() as i64;
        let prefix = if kind == ItemKind::Deal { 'D' } else { 'A' };
        menu.push(MenuItem {
            uid: format!("00000000-0000-4000-8001-{id:012x}"),
            version: 0,
            sku: format!("{prefix}{:03}", menu.len() + 1),
            name: name.to_owned(),
            price_cents: price,
            group,
            id,
            deleted_at: None,
            rich: RichItem::default(),
            kind,
            choices: Vec::new(),
            variant: None,
        });
        menu.len() - 1
    }
    let by_name = |menu: &[MenuItem], name: &str| menu.iter().position(|i| i.name == name);
    let add_ons = push_group(groups, "Add-ons");
    for (n, (offered_on, group_name, max, list)) in PRODUCT_MODIFIERS.iter().enumerate() {
        let options: Vec<ChoiceOption> = list
            .iter()
            .map(|(name, price)| ChoiceOption {
                item: push_item(menu, add_ons, name, *price, ItemKind::Modifier),
                price_cents: *price,
            })
            .collect();
        let choice = ChoiceGroup {
            sku: format!("MG{}", n + 1),
            name: (*group_name).to_owned(),
            min: 0,
            max: Some(*max),
            options,
        };
        let Some(g) = groups.iter().position(|g| g.name == *offered_on) else {
            continue;
        };
        for item in menu.iter_mut().filter(|i| i.group == g) {
            item.choices.push(choice.clone());
        }
    }
    let deals = push_group(groups, "Deals");
    for (name, price, deal_groups) in DEALS {
        let mut choices = Vec::new();
        for (n, (group_name, list)) in deal_groups.iter().enumerate() {
            let options = list
                .iter()
                .filter_map(|(item, extra)| {
                    by_name(menu, item).map(|item| ChoiceOption {
                        item,
                        price_cents: *extra,
                    })
                })
                .collect();
            choices.push(ChoiceGroup {
                sku: format!("DG{}", n + 1),
                name: (*group_name).to_owned(),
                min: 1,
                max: Some(1),
                options,
            });
        }
        let deal = push_item(menu, deals, name, *price, ItemKind::Deal);
        menu[deal].choices = choices;
    }
}

/// X-Series variant families of the shop: (product, attribute, its value for the product the
/// world is drawn with, the family's other variants with their prices).
const VARIANT_FAMILIES: &[(&str, &str, &str, &[Priced])] = &[
    ("T-Shirt", "Size", "S", &[("M", 1900), ("L", 2100)]),
    ("Hoodie", "Size", "S", &[("M", 4900), ("L", 5200)]),
];

/// Makes the shop's T-shirt and hoodie X-Series variant families. The product drawn with the
/// world becomes its family's parent and first variant ("T-Shirt / S"); the other variants are
/// appended after the history is drawn, with derived ids, so seeded worlds keep every other
/// value and the history sells only the parents. Live sales pick any of them.
fn add_x_variants(m: &mut Merchant) {
    for (family, attribute, first, others) in VARIANT_FAMILIES {
        let Some(parent) = m.menu.iter().position(|i| i.name == *family) else {
            continue;
        };
        if !m.variant_attributes.iter().any(|(_, a)| a == attribute) {
            m.add_variant_attribute(attribute);
        }
        let variant = |value: &str| Variant {
            parent,
            family: (*family).to_owned(),
            options: vec![((*attribute).to_owned(), value.to_owned())],
        };
        m.menu[parent].name = format!("{family} / {first}");
        m.menu[parent].variant = Some(variant(first));
        for (value, price) in *others {
            let id = ITEM_ID_BASE + m.menu.len() as i64;
            let version = m.next_version();
            let item = MenuItem {
                uid: format!("{:08x}-0000-4000-8002-{id:012x}", m.business_id),
                version,
                sku: format!("{}-{value}", m.menu[parent].sku),
                name: format!("{family} / {value}"),
                price_cents: *price,
                group: m.menu[parent].group,
                id,
                deleted_at: None,
                rich: RichItem::default(),
                kind: ItemKind::Plain,
                choices: Vec::new(),
                variant: Some(variant(value)),
            };
            m.menu.push(item);
        }
    }
}

const SHOP_MENU: &[(&str, &[(&str, i64)])] = &[
    (
        "Apparel",
        &[("T-Shirt", 1900), ("Hoodie", 4900), ("Cap", 1500)],
    ),
    ("Accessories", &[("Tote Bag", 1200), ("Water Bottle", 1800)]),
    ("Books", &[("Notebook", 900), ("Cookbook", 2900)]),
];

const FIRST: &[&str] = &[
    "Anna", "Ben", "Clara", "David", "Emma", "Finn", "Greta", "Hugo", "Ida", "Jonas", "Kira",
    "Lars", "Mila", "Noah", "Olga", "Paul",
];
const LAST: &[&str] = &[
    "Berg", "Smit", "Jansen", "Meyer", "Larsen", "Novak", "Dubois", "Rossi", "Costa", "Kowalski",
    "Walsh", "Moreau",
];
const CITY: &[&str] = &[
    "Centrum",
    "Harbour",
    "Station",
    "Old Town",
    "Market",
    "Park",
    "Riverside",
    "Campus",
];

/// Relative weight of each local hour from 07:00 to 18:00 (morning and lunch peaks).
const HOURLY_CURVE: &[(u32, u32)] = &[
    (7, 6),
    (8, 12),
    (9, 9),
    (10, 6),
    (11, 7),
    (12, 12),
    (13, 10),
    (14, 5),
    (15, 5),
    (16, 6),
    (17, 4),
    (18, 2),
];

pub struct Created {
    pub merchant_id: String,
}

pub fn create_merchant(
    world: &mut World,
    req: &MerchantRequest,
    now: DateTime<Utc>,
) -> Result<Created, String> {
    if !matches!(req.series.as_str(), "k" | "x" | "r" | "o") {
        return Err(format!(
            "series `{}` is not simulated: use \"k\", \"x\", \"r\" or \"o\"",
            req.series
        ));
    }
    let preset = req.preset.as_deref().unwrap_or("cafe");
    let menu_def = match preset {
        "cafe" => CAFE_MENU,
        "shop" => SHOP_MENU,
        other => {
            return Err(format!(
                "unknown preset `{other}`: use \"cafe\" or \"shop\""
            ))
        }
    };
    let n_locations = req.locations.unwrap_or(2);
    let n_registers = req.registers_per_location.unwrap_or(2);
    let n_customers = req.customers.unwrap_or(50);
    let history_days = req.history_days.unwrap_or(30);
    let sales_per_day = req.sales_per_day.unwrap_or(40);
    check_range("locations", n_locations, 1, 20)?;
    check_range("registers_per_location", n_registers, 1, 10)?;
    check_range("customers", n_customers, 0, 100_000)?;
    check_range("history_days", history_days, 0, 730)?;
    check_range("sales_per_day", sales_per_day, 0, 5_000)?;

    world.merchant_counter += 1;
    let counter = world.merchant_counter;
    let seed = req
        .seed
        .unwrap_or(world.seed.wrapping_mul(1_000_003).wrapping_add(counter));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    let (zone_name, currency, _country) = match &req.timezone {
        Some(z) => {
            let known = ZONES.iter().find(|(name, _, _)| name == z);
            match known {
                Some(k) => *k,
                None => {
                    z.parse::<Tz>().map_err(|_| {
                        format!(
                            "unknown time zone `{z}`: use an IANA name such as Europe/Amsterdam"
                        )
                    })?;
                    (z.as_str(), "EUR", "NL")
                }
            }
        }
        None => ZONES[rng.gen_range(0..ZONES.len())],
    };
    let zone: Tz = zone_name
        .parse()
        .map_err(|_| format!("unknown time zone `{zone_name}`"))?;
    let name = req
        .name
        .clone()
        .unwrap_or_else(|| format!("Sandbox Café {counter}"));
    let id = format!("m{counter}");

    let mut groups = Vec::new();
    let mut menu = Vec::new();
    for (group_name, items) in menu_def {
        let group = groups.len();
        let group_id = rng.gen_range(100_000..999_999);
        groups.push(AccountingGroup {
            id: group_id,
            uid: uid(&mut rng),
            name: (*group_name).to_owned(),
            code: group_name
                .split_whitespace()
                .map(|w| w.to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join("_"),
            instructions: instruction_groups(group_name, group_id),
        });
        for (item_name, price) in *items {
            menu.push(MenuItem {
                uid: uid(&mut rng),
                version: 0,
                sku: format!("{}{:03}", &group_name[..1], menu.len() + 1),
                name: (*item_name).to_owned(),
                price_cents: *price,
                group,
                id: ITEM_ID_BASE + menu.len() as i64,
                deleted_at: None,
                rich: RichItem::default(),
                kind: ItemKind::Plain,
                choices: Vec::new(),
                variant: None,
            });
        }
    }
    if req.series == "k" && preset == "cafe" {
        add_k_choices(&mut groups, &mut menu);
    }

    let mut locations = Vec::new();
    for i in 0..n_locations {
        let devices = (0..n_registers)
            .map(|r| Device {
                id: rng.gen_range(1_000_000..9_999_999),
                uid: uid(&mut rng),
                name: format!("Till {}", r + 1),
            })
            .collect();
        let id = rng.gen_range(10_000_000_000_000..99_999_999_999_999);
        locations.push(Location {
            id,
            floor_plans: floor_plans(id),
            uid: uid(&mut rng),
            name: format!("{name} {}", CITY[(i as usize) % CITY.len()]),
            zone,
            day_start: NaiveTime::from_hms_opt(5, 0, 0).unwrap_or(NaiveTime::MIN),
            devices,
            account_counter: 0,
        });
    }

    let customers = (0..n_customers)
        .map(|i| {
            let first = FIRST[rng.gen_range(0..FIRST.len())];
            let last = LAST[rng.gen_range(0..LAST.len())];
            // Mixed case and stray whitespace, as cashiers type them; one in ten has none.
            let email = (i % 10 != 9).then(|| {
                let local = format!("{first}.{last}{i}");
                if i % 3 == 0 {
                    format!(" {local}@Example.com")
                } else {
                    format!("{}@example.com", local.to_lowercase())
                }
            });
            let mut uuid_bytes = [0u8; 16];
            rng.fill(&mut uuid_bytes);
            Customer {
                uuid: uuid_string(uuid_bytes),
                version: 0,
                customer_id: rng.gen_range(1_000..9_999_999),
                first_name: first.to_owned(),
                last_name: last.to_owned(),
                email,
            }
        })
        .collect();

    let domain_prefix = format!(
        "{}{counter}",
        name.to_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(20)
            .collect::<String>()
    );
    let personal_token = format!("lsxs_pt_{}", random_token(&mut rng, 32));
    let login = Login {
        username: format!("owner@{}.example", id),
        password: random_token(&mut rng, 12),
    };
    let mut merchant = Merchant {
        id: id.clone(),
        series: req.series.clone(),
        name,
        business_id: rng.gen_range(10_000..999_999),
        currency: currency.to_owned(),
        zone,
        login,
        locations,
        menu,
        groups,
        payment_methods: vec![
            PaymentMethod {
                id: 1001,
                uid: uid(&mut rng),
                code: "CASH".into(),
                name: "Cash".into(),
            },
            PaymentMethod {
                id: 1002,
                uid: uid(&mut rng),
                code: "CARD".into(),
                name: "Card".into(),
            },
        ],
        customers,
        sales: Vec::new(),
        rng,
        line_counter: 0,
        domain_prefix,
        personal_token,
        version: 0,
        webhooks: Vec::new(),
        o_webhooks: Vec::new(),
        k_webhooks: Vec::new(),
        k_orders: Vec::new(),
        k_payment_refs: Vec::new(),
        locales: vec!["en".to_owned()],
        print_messages: Vec::new(),
        availability: std::collections::BTreeMap::new(),
        variant_attributes: Vec::new(),
    };
    {
        // The payment method a merchant configures for online payments (K-Series Order & Pay
        // `OOPAYMENT`; an X-Series payment type and an R-Series payment type of that name).
        merchant.payment_methods.push(PaymentMethod {
            id: 1003,
            uid: format!("{:08x}-0000-4000-8000-000000001003", merchant.business_id),
            code: "OOPAYMENT".into(),
            name: "Online payment".into(),
        });
    }
    for i in 0..merchant.menu.len() {
        merchant.menu[i].version = merchant.next_version();
    }
    for i in 0..merchant.customers.len() {
        merchant.customers[i].version = merchant.next_version();
    }
    generate_history(&mut merchant, history_days, sales_per_day, now);
    if req.series == "x" && preset == "shop" {
        add_x_variants(&mut merchant);
    }
    world.merchants.insert(id.clone(), merchant);
    Ok(Created { merchant_id: id })
}

fn check_range(field: &str, value: u32, min: u32, max: u32) -> Result<(), String> {
    if value < min || value > max {
        return Err(format!(
            "`{field}` must be between {min} and {max}, got {value}"
        ));
    }
    Ok(())
}

fn uuid_string(b: [u8; 16]) -> String {
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

/// Fills `history_days` days before `now` (per location, `sales_per_day` each) with sales,
/// plus refunds (≈3%) and voids (≈1%) of some of them.
fn generate_history(m: &mut Merchant, history_days: u32, sales_per_day: u32, now: DateTime<Utc>) {
    let total_weight: u32 = HOURLY_CURVE.iter().map(|(_, w)| w).sum();
    let today = now.with_timezone(&m.zone).date_naive();
    for day_offset in (0..=history_days as i64).rev() {
        let day = today - Duration::days(day_offset);
        for loc in 0..m.locations.len() {
            let zone = m.locations[loc].zone;
            let mut instants = Vec::new();
            for _ in 0..sales_per_day {
                let mut pick = m.rng.gen_range(0..total_weight);
                let mut hour = 7;
                for (h, w) in HOURLY_CURVE {
                    if pick < *w {
                        hour = *h;
                        break;
                    }
                    pick -= w;
                }
                let minute = m.rng.gen_range(0..60);
                let second = m.rng.gen_range(0..60);
                let Some(local) = day.and_hms_opt(hour, minute, second) else {
                    continue;
                };
                // Skip wall-clock times that do not exist (spring-forward gap).
                let Some(at) = zone.from_local_datetime(&local).earliest() else {
                    continue;
                };
                let at = at.with_timezone(&Utc) + Duration::milliseconds(m.rng.gen_range(0..1000));
                if at < now {
                    instants.push(at);
                }
            }
            instants.sort();
            for at in instants {
                let idx = add_random_sale(m, loc, at, None, None);
                let roll = m.rng.gen_range(0..100);
                let later = at + Duration::minutes(m.rng.gen_range(5..600));
                if later >= now {
                    continue;
                }
                if roll < 3 {
                    let partial = m.rng.gen_bool(0.5);
                    add_reversal(m, idx, SaleType::Refund, partial.then_some(0), later);
                } else if roll < 4 {
                    void_sale(m, idx, later);
                }
            }
        }
    }
    m.sales.sort_by_key(|s| (s.closed, s.seq));
    for (i, s) in m.sales.iter_mut().enumerate() {
        s.seq = i as u64;
    }
}

/// A line for `quantity` of menu item `item`, with an optional percentage discount.
pub fn make_line(
    m: &mut Merchant,
    loc: usize,
    item: usize,
    quantity: i64,
    discount_pct: i64,
) -> SaleLine {
    let unit = m.menu[item].price_cents;
    priced_line(m, loc, item, quantity, unit, discount_pct)
}

/// A line for `quantity` of menu item `item` at `unit` cents each (a sub-item's price in its
/// group), with an optional percentage discount.
pub fn priced_line(
    m: &mut Merchant,
    loc: usize,
    item: usize,
    quantity: i64,
    unit: i64,
    discount_pct: i64,
) -> SaleLine {
    m.line_counter += 1;
    let gross = unit * quantity;
    let discount = gross * discount_pct / 100;
    let total = gross - discount;
    SaleLine {
        id: format!("S{}.{}", short(m.locations[loc].id), m.line_counter),
        uid: uid(&mut m.rng),
        parent: None,
        of: None,
        item,
        quantity,
        unit_cents: unit,
        discount_cents: discount,
        total_cents: total,
        tax_10k: tax_included_10k(total),
    }
}

/// The VAT contained in a tax-inclusive total, in ten-thousandths, rounded half away from zero.
pub fn tax_included_10k(total_cents: i64) -> i64 {
    let numerator = total_cents * 100 * TAX_BASIS_POINTS;
    let denominator = 10_000 + TAX_BASIS_POINTS;
    let q = numerator / denominator;
    let r = numerator % denominator;
    if 2 * r.abs() >= denominator {
        q + numerator.signum()
    } else {
        q
    }
}

fn short(bl: i64) -> i64 {
    bl % 100_000
}

pub struct SaleSpec {
    pub lines: Vec<(usize, i64)>,
    pub customer: Option<usize>,
}

/// Adds a closed sale at `at`; random lines and customer unless `spec` gives them.
pub fn add_random_sale(
    m: &mut Merchant,
    loc: usize,
    at: DateTime<Utc>,
    spec: Option<SaleSpec>,
    device: Option<usize>,
) -> usize {
    let (picks, customer) = match spec {
        Some(s) => (s.lines, s.customer),
        None => {
            let n_lines = m.rng.gen_range(1..=4);
            let picks = (0..n_lines)
                .map(|_| (m.random_item(), if m.rng.gen_bool(0.2) { 2 } else { 1 }))
                .collect();
            let customer = (!m.customers.is_empty() && m.rng.gen_bool(0.4))
                .then(|| m.rng.gen_range(0..m.customers.len()));
            (picks, customer)
        }
    };
    let mut lines = Vec::new();
    for (item, qty) in picks {
        let discount = if m.rng.gen_bool(0.08) { 10 } else { 0 };
        lines.push(make_line(m, loc, item, qty, discount));
    }
    let total: i64 = lines.iter().map(|l| l.total_cents).sum();
    let card = m.rng.gen_bool(0.7);
    // Tips and covers are restaurant (K-Series) concepts.
    let restaurant = matches!(m.series.as_str(), "k" | "o");
    let tip = if restaurant && card && m.rng.gen_bool(0.2) {
        (total / 10).max(50)
    } else {
        0
    };
    let device = device.unwrap_or_else(|| m.rng.gen_range(0..m.locations[loc].devices.len()));
    let dine_in = m.rng.gen_bool(0.5);
    let covers = match (restaurant, dine_in) {
        (false, _) => 0,
        (true, true) => m.rng.gen_range(1..=4),
        (true, false) => 1,
    };
    let table = dine_in.then(|| m.rng.gen_range(1..=20).to_string());
    let opened = at - Duration::minutes(m.rng.gen_range(1..45));
    push_sale(
        m,
        loc,
        device,
        SaleType::Sale,
        None,
        opened,
        at,
        lines,
        if card { 1 } else { 0 },
        total,
        tip,
        covers,
        dine_in,
        table,
        customer,
    )
}

#[expect(
    clippy::too_many_arguments,
    reason = "a sale record is assembled from all of these"
)]
pub(crate) fn push_sale(
    m: &mut Merchant,
    loc: usize,
    device: usize,
    sale_type: SaleType,
    source: Option<String>,
    opened: DateTime<Utc>,
    closed: DateTime<Utc>,
    lines: Vec<SaleLine>,
    method: usize,
    amount: i64,
    tip: i64,
    covers: i64,
    dine_in: bool,
    table: Option<String>,
    customer: Option<usize>,
) -> usize {
    let location = &mut m.locations[loc];
    location.account_counter += 1;
    let n = location.account_counter;
    let s = short(location.id);
    let mut uuid = [0u8; 12];
    m.rng.fill(&mut uuid);
    let sale = Sale {
        seq: m.sales.len() as u64,
        uid: uid(&mut m.rng),
        serial: 0,
        version: 0,
        voided_at: None,
        location: loc,
        device,
        sale_type,
        account_reference: base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{n}", location.id)),
        fisc_id: format!("A{s}.{n}"),
        receipt_id: format!("R{s}.{n}"),
        source,
        external_reference: None,
        opened,
        closed,
        lines,
        payments: vec![SalePayment {
            method,
            amount_cents: amount,
            tip_cents: tip,
            fisc_id: format!("T{s}.{n}"),
            uuid: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid),
        }],
        covers,
        dine_in,
        table,
        customer,
        online: None,
    };
    m.sales.push(sale);
    let version = m.next_version();
    if let Some(last) = m.sales.last_mut() {
        last.version = version;
        last.serial = version;
    }
    m.sales.len() - 1
}

/// Adds a refund or void of sale `original`. A refund with `partial = Some(i)` refunds line `i`
/// only; otherwise every line is reversed. Returns the new sale's index.
pub fn add_reversal(
    m: &mut Merchant,
    original: usize,
    kind: SaleType,
    partial: Option<usize>,
    at: DateTime<Utc>,
) -> usize {
    let orig = m.sales[original].clone();
    let chosen: Vec<&SaleLine> = match partial {
        Some(i) if i < orig.lines.len() => vec![&orig.lines[i]],
        _ => orig.lines.iter().collect(),
    };
    let mut lines: Vec<SaleLine> = Vec::new();
    for l in chosen {
        m.line_counter += 1;
        // A sub-item's line refunds under the refund of its parent's line.
        let of = l.of.as_ref().and_then(|of| {
            lines
                .iter()
                .find(|r| r.parent.as_ref() == Some(of))
                .map(|r| r.id.clone())
        });
        lines.push(SaleLine {
            uid: uid(&mut m.rng),
            parent: Some(l.id.clone()),
            of,
            id: format!(
                "S{}.{}",
                short(m.locations[orig.location].id),
                m.line_counter
            ),
            item: l.item,
            quantity: -l.quantity,
            unit_cents: l.unit_cents,
            discount_cents: -l.discount_cents,
            total_cents: -l.total_cents,
            tax_10k: -l.tax_10k,
        });
    }
    let total: i64 = lines.iter().map(|l| l.total_cents).sum();
    let full = lines.len() == orig.lines.len();
    let tip = if full {
        -orig.payments.first().map(|p| p.tip_cents).unwrap_or(0)
    } else {
        0
    };
    let method = orig.payments.first().map(|p| p.method).unwrap_or(0);
    push_sale(
        m,
        orig.location,
        orig.device,
        kind,
        Some(orig.fisc_id.clone()),
        at,
        at,
        lines,
        method,
        total,
        tip,
        0,
        orig.dine_in,
        orig.table.clone(),
        orig.customer,
    )
}

/// Voids sale `index`. K-Series records a void as a separate VOID record that reverses the
/// sale; X-Series changes the sale itself to VOIDED (same id, new version). Returns the index of
/// the record that now carries the void.
pub fn void_sale(m: &mut Merchant, index: usize, at: DateTime<Utc>) -> usize {
    if m.series == "k" {
        return add_reversal(m, index, SaleType::Void, None, at);
    }
    let version = m.next_version();
    let sale = &mut m.sales[index];
    sale.voided_at = Some(at);
    sale.version = version;
    index
}

/// Every location's floor plans: the main room (tables 1–12, four seats) and the terrace
/// (tables 20–25, two seats; table 25 is out of use). Fixed, so the random world is unchanged.
pub fn floor_plans(location_id: i64) -> Vec<FloorPlan> {
    let plan = |n: i64, name: &str, numbers: std::ops::RangeInclusive<i64>, seats: i64| FloorPlan {
        id: (location_id % 100_000) * 10 + n,
        name: name.to_owned(),
        tables: numbers
            .map(|number| Table {
                id: format!("{}-{number}", (location_id % 100_000) * 10 + n),
                number,
                description: format!("{name} {number}"),
                active: number != 25,
                default_client_count: seats,
            })
            .collect(),
    };
    vec![
        plan(1, "Main room", 1..=12, 4),
        plan(2, "Terrace", 20..=25, 2),
    ]
}
