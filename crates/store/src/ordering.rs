//! Online ordering: the POS menu items and account profiles orders are validated against,
//! online orders with their status history, and the webhook details waiting for the ordering
//! module. Every query is scoped by merchant.

use crate::{Conn, Result, StoreError};
use sqlx::Row;

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MenuItemRow {
    pub sku: String,
    pub name: Option<String>,
    pub price_minor: Option<i64>,
    pub category: Option<String>,
    /// How many are left; `None` when the POS does not restrict the item.
    pub available_count: Option<i64>,
    /// The POS's own id of the item where orders name items by id (X product id, R itemID).
    pub product_id: Option<String>,
    /// The category's id as the POS gives it (K menu group, X product category, R category).
    pub category_id: Option<String>,
    /// The default tax rate in basis points (900 = 9 %), where the POS gives it per item.
    pub tax_rate_bp: Option<i64>,
    /// Whether `price_minor` includes that tax.
    pub tax_included: Option<bool>,
    /// Allergen codes (K-Series rich items).
    pub allergens: Vec<String>,
    /// Descriptions per locale (K-Series rich items).
    pub descriptions: Vec<ItemDescription>,
    /// Where the item's picture can be fetched.
    pub image_url: Option<String>,
    /// Production instructions an order line may carry (K-Series).
    pub instructions: Vec<InstructionGroup>,
    pub kind: ItemKind,
    /// What an order line of this item chooses its sub-items from (K-Series product modifier
    /// groups, or a deal's groups).
    pub choices: Vec<ChoiceGroup>,
    /// Its place in a variant family (X-Series), if it has one.
    pub variant: Option<Variant>,
}

/// A product of a variant family: a T-shirt in size M is one of the "T-Shirt" family.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Variant {
    /// The POS's id of the family's parent product (the item's own id for the parent).
    pub family_id: String,
    /// The family's name, which every product of it shares.
    pub family: String,
    /// What sets this product apart in its family: `{name: "Size", value: "M"}`.
    pub options: Vec<VariantOption>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantOption {
    pub name: String,
    pub value: String,
}

/// What a menu item is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// Sold on its own.
    #[default]
    Item,
    /// A priced add-on (K-Series product modifier), sold only as a sub-item of an item whose
    /// choices offer it.
    Modifier,
    /// A combo (K-Series deal): its price covers one choice from each of its groups.
    Deal,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Item => "item",
            ItemKind::Modifier => "modifier",
            ItemKind::Deal => "deal",
        }
    }

    fn parse(s: &str) -> Option<ItemKind> {
        [ItemKind::Item, ItemKind::Modifier, ItemKind::Deal]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A group an order line chooses sub-items from: "Coffee add-ons" (extra shot, syrup…), or a
/// deal's "Drink" (espresso, cappuccino…).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChoiceGroup {
    pub sku: Option<String>,
    pub name: String,
    /// How many sub-items of the group one unit of the line takes, at least and at most
    /// (`None`: no maximum).
    pub min: i64,
    pub max: Option<i64>,
    pub options: Vec<ChoiceOption>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChoiceOption {
    pub sku: String,
    pub name: Option<String>,
    /// What one adds to the line: a product modifier's price, a deal choice's extra price.
    pub price_minor: i64,
}

/// A group of production instructions ("Milk": "Oat milk", "Soy milk"…): free modifiers the
/// kitchen reads, chosen on an order line by id.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InstructionGroup {
    pub id: String,
    pub name: String,
    /// Whether a line may carry more than one instruction of the group.
    pub multiple: bool,
    pub instructions: Vec<Instruction>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Instruction {
    /// What an order line names (K-Series `ikentooModifierId`).
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ItemDescription {
    /// `en`, `fr`, `nl-BE`…; `None` where the POS does not say.
    pub locale: Option<String>,
    pub description: String,
    /// The name to show in that locale, where it differs from the item's name.
    pub display_name: Option<String>,
}

/// An allergen a connection's items may name, with its name per locale.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AllergenRow {
    pub code: String,
    pub translations: std::collections::BTreeMap<String, String>,
}

/// One item of the unified catalog: an item at one POS location of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogEntry {
    pub connection_id: String,
    pub pos_location: String,
    pub item: MenuItemRow,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ProfileRow {
    pub code: String,
    pub name: Option<String>,
    pub delivery_mode: Option<String>,
}

/// An active table of a floor plan (K-Series).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TableRow {
    /// The number orders name (`tableNumber`).
    pub number: String,
    pub floor_plan: Option<String>,
    pub description: Option<String>,
    pub seats: Option<i64>,
}

/// What orders at one POS location are checked against.
#[derive(Clone, Debug, Default)]
pub struct LocationCatalog {
    pub items: Vec<MenuItemRow>,
    pub profiles: Vec<ProfileRow>,
    pub tables: Vec<TableRow>,
}

/// Replaces the menu items, account profiles and tables of one POS location of a connection.
pub async fn replace_location_catalog(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    pos_location: &str,
    catalog: &LocationCatalog,
    now: i64,
) -> Result<()> {
    let LocationCatalog {
        items,
        profiles,
        tables,
    } = catalog;
    for table in ["pos_menu_items", "pos_profiles", "pos_tables"] {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE merchant_id = $1 AND connection_id = $2 AND pos_location = $3"
        ))
        .bind(merchant_id)
        .bind(connection_id)
        .bind(pos_location)
        .execute(&mut *c)
        .await?;
    }
    // A SKU listed twice at a location (X asks for unique SKUs but does not enforce it) keeps
    // its first item.
    for i in items {
        let allergens = serde_json::to_string(&i.allergens)
            .map_err(|e| StoreError::Corrupt(format!("allergens of {}: {e}", i.sku)))?;
        let descriptions = serde_json::to_string(&i.descriptions)
            .map_err(|e| StoreError::Corrupt(format!("descriptions of {}: {e}", i.sku)))?;
        let instructions = serde_json::to_string(&i.instructions)
            .map_err(|e| StoreError::Corrupt(format!("instructions of {}: {e}", i.sku)))?;
        let choices = serde_json::to_string(&i.choices)
            .map_err(|e| StoreError::Corrupt(format!("choices of {}: {e}", i.sku)))?;
        let variant = i
            .variant
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("variant of {}: {e}", i.sku)))?;
        sqlx::query(
            "INSERT INTO pos_menu_items (merchant_id, connection_id, pos_location, sku, name, price_minor, category, available_count, product_id, updated_at, \
             category_id, tax_rate_bp, tax_included, allergens, descriptions, image_url, instructions, kind, choices, variant) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
             ON CONFLICT (merchant_id, connection_id, pos_location, sku) DO NOTHING",
        )
        .bind(merchant_id)
        .bind(connection_id)
        .bind(pos_location)
        .bind(&i.sku)
        .bind(&i.name)
        .bind(i.price_minor)
        .bind(&i.category)
        .bind(i.available_count)
        .bind(&i.product_id)
        .bind(now)
        .bind(&i.category_id)
        .bind(i.tax_rate_bp)
        .bind(i.tax_included.map(i64::from))
        .bind(allergens)
        .bind(descriptions)
        .bind(&i.image_url)
        .bind(instructions)
        .bind(i.kind.as_str())
        .bind(choices)
        .bind(variant)
        .execute(&mut *c)
        .await?;
    }
    for p in profiles {
        sqlx::query(
            "INSERT INTO pos_profiles (merchant_id, connection_id, pos_location, code, name, delivery_mode, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(merchant_id)
        .bind(connection_id)
        .bind(pos_location)
        .bind(&p.code)
        .bind(&p.name)
        .bind(&p.delivery_mode)
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
    for t in tables {
        sqlx::query(
            "INSERT INTO pos_tables (merchant_id, connection_id, pos_location, number, floor_plan, description, seats, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(merchant_id)
        .bind(connection_id)
        .bind(pos_location)
        .bind(&t.number)
        .bind(&t.floor_plan)
        .bind(&t.description)
        .bind(t.seats)
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

/// The active tables of one POS location, by number.
pub async fn tables(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    pos_location: &str,
) -> Result<Vec<TableRow>> {
    let rows = sqlx::query(
        "SELECT number, floor_plan, description, seats FROM pos_tables \
         WHERE merchant_id = $1 AND connection_id = $2 AND pos_location = $3 ORDER BY number",
    )
    .bind(merchant_id)
    .bind(connection_id)
    .bind(pos_location)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TableRow {
                number: r.try_get("number")?,
                floor_plan: r.try_get("floor_plan")?,
                description: r.try_get("description")?,
                seats: r.try_get("seats")?,
            })
        })
        .collect()
}

/// When the menu of one POS location was last synced; `None` when it never was (or is empty).
pub async fn catalog_synced_at(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    pos_location: &str,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT MAX(updated_at) FROM pos_menu_items WHERE merchant_id = $1 AND connection_id = $2 AND pos_location = $3",
    )
    .bind(merchant_id)
    .bind(connection_id)
    .bind(pos_location)
    .fetch_one(&mut *c)
    .await?)
}

/// Online ordering settings (JSON) and when ordering was enabled.
#[derive(Clone, Debug)]
pub struct SettingsRow {
    pub config: serde_json::Value,
    pub enabled_at: Option<i64>,
}

pub async fn get_settings(c: &mut Conn, merchant_id: &str) -> Result<Option<SettingsRow>> {
    let row =
        sqlx::query("SELECT config, enabled_at FROM ordering_settings WHERE merchant_id = $1")
            .bind(merchant_id)
            .fetch_optional(&mut *c)
            .await?;
    row.map(|r| {
        let config: String = r.try_get("config")?;
        Ok(SettingsRow {
            config: serde_json::from_str(&config)
                .map_err(|e| StoreError::Corrupt(format!("ordering settings: {e}")))?,
            enabled_at: r.try_get("enabled_at")?,
        })
    })
    .transpose()
}

pub async fn put_settings(
    c: &mut Conn,
    merchant_id: &str,
    row: &SettingsRow,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO ordering_settings (merchant_id, config, enabled_at, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (merchant_id) DO UPDATE SET config = excluded.config, enabled_at = excluded.enabled_at, updated_at = excluded.updated_at",
    )
    .bind(merchant_id)
    .bind(row.config.to_string())
    .bind(row.enabled_at)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

/// The menu items of one POS location, by SKU.
pub async fn menu_items(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    pos_location: &str,
) -> Result<Vec<MenuItemRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {ITEM_COLUMNS} FROM pos_menu_items \
         WHERE merchant_id = $1 AND connection_id = $2 AND pos_location = $3 ORDER BY sku"
    ))
    .bind(merchant_id)
    .bind(connection_id)
    .bind(pos_location)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(item_row).collect()
}

const ITEM_COLUMNS: &str = "sku, name, price_minor, category, available_count, product_id, \
     category_id, tax_rate_bp, tax_included, allergens, descriptions, image_url, instructions, kind, choices, variant";

fn item_row(r: &sqlx::any::AnyRow) -> Result<MenuItemRow> {
    let allergens: String = r.try_get("allergens")?;
    let descriptions: String = r.try_get("descriptions")?;
    let instructions: String = r.try_get("instructions")?;
    let sku: String = r.try_get("sku")?;
    let kind: String = r.try_get("kind")?;
    let choices: String = r.try_get("choices")?;
    let variant: Option<String> = r.try_get("variant")?;
    Ok(MenuItemRow {
        variant: variant
            .map(|v| serde_json::from_str(&v))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("variant of {sku}: {e}")))?,
        kind: ItemKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("kind of {sku}: `{kind}`")))?,
        choices: serde_json::from_str(&choices)
            .map_err(|e| StoreError::Corrupt(format!("choices of {sku}: {e}")))?,
        instructions: serde_json::from_str(&instructions)
            .map_err(|e| StoreError::Corrupt(format!("instructions of {sku}: {e}")))?,
        allergens: serde_json::from_str(&allergens)
            .map_err(|e| StoreError::Corrupt(format!("allergens of {sku}: {e}")))?,
        descriptions: serde_json::from_str(&descriptions)
            .map_err(|e| StoreError::Corrupt(format!("descriptions of {sku}: {e}")))?,
        sku,
        name: r.try_get("name")?,
        price_minor: r.try_get("price_minor")?,
        category: r.try_get("category")?,
        available_count: r.try_get("available_count")?,
        product_id: r.try_get("product_id")?,
        category_id: r.try_get("category_id")?,
        tax_rate_bp: r.try_get("tax_rate_bp")?,
        tax_included: r.try_get::<Option<i64>, _>("tax_included")?.map(|v| v != 0),
        image_url: r.try_get("image_url")?,
    })
}

/// The unified catalog of a merchant: every item at every POS location, by connection,
/// location and SKU, optionally narrowed to one connection and one location.
pub async fn catalog(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: Option<&str>,
    pos_location: Option<&str>,
) -> Result<Vec<CatalogEntry>> {
    let rows = sqlx::query(&format!(
        "SELECT connection_id, pos_location, updated_at, {ITEM_COLUMNS} FROM pos_menu_items \
         WHERE merchant_id = $1 AND ($2 IS NULL OR connection_id = $2) AND ($3 IS NULL OR pos_location = $3) \
         ORDER BY connection_id, pos_location, sku"
    ))
    .bind(merchant_id)
    .bind(connection_id)
    .bind(pos_location)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CatalogEntry {
                connection_id: r.try_get("connection_id")?,
                pos_location: r.try_get("pos_location")?,
                updated_at: r.try_get("updated_at")?,
                item: item_row(r)?,
            })
        })
        .collect()
}

/// Replaces the allergens a connection's items may name.
pub async fn replace_allergens(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    allergens: &[AllergenRow],
    now: i64,
) -> Result<()> {
    sqlx::query("DELETE FROM pos_allergens WHERE merchant_id = $1 AND connection_id = $2")
        .bind(merchant_id)
        .bind(connection_id)
        .execute(&mut *c)
        .await?;
    for a in allergens {
        let translations = serde_json::to_string(&a.translations)
            .map_err(|e| StoreError::Corrupt(format!("translations of {}: {e}", a.code)))?;
        sqlx::query(
            "INSERT INTO pos_allergens (merchant_id, connection_id, code, translations, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (merchant_id, connection_id, code) DO NOTHING",
        )
        .bind(merchant_id)
        .bind(connection_id)
        .bind(&a.code)
        .bind(translations)
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

/// The allergens of one connection, by code.
pub async fn allergens(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
) -> Result<Vec<AllergenRow>> {
    let rows = sqlx::query(
        "SELECT code, translations FROM pos_allergens WHERE merchant_id = $1 AND connection_id = $2 ORDER BY code",
    )
    .bind(merchant_id)
    .bind(connection_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            let code: String = r.try_get("code")?;
            let raw: String = r.try_get("translations")?;
            let translations = serde_json::from_str(&raw)
                .map_err(|e| StoreError::Corrupt(format!("translations of {code}: {e}")))?;
            Ok(AllergenRow { code, translations })
        })
        .collect()
}

pub async fn profiles(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    pos_location: &str,
) -> Result<Vec<ProfileRow>> {
    let rows = sqlx::query(
        "SELECT code, name, delivery_mode FROM pos_profiles \
         WHERE merchant_id = $1 AND connection_id = $2 AND pos_location = $3 ORDER BY code",
    )
    .bind(merchant_id)
    .bind(connection_id)
    .bind(pos_location)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ProfileRow {
                code: r.try_get("code")?,
                name: r.try_get("name")?,
                delivery_mode: r.try_get("delivery_mode")?,
            })
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRow {
    pub id: String,
    pub channel_order_id: String,
    pub location_id: String,
    pub connection_id: String,
    pub pos_location: String,
    pub series: String,
    /// `dine_in`, `takeaway` or `delivery`.
    pub order_type: String,
    /// The validated order as submitted (JSON).
    pub request: serde_json::Value,
    pub request_hash: String,
    pub status: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
    /// The POS account (K: `ikentooAccountIdentifier`).
    pub pos_account: Option<String>,
    pub payment_status: String,
    pub total_minor: i64,
    pub currency: String,
    /// Failed attempts of the current step (push or payment).
    pub attempts: i64,
    /// When the worker should act on it next; `None` while it waits for the POS only.
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<String>,
    /// It could not reach the POS: staff must handle it by hand.
    pub manual: bool,
    pub submitted_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, channel_order_id, location_id, connection_id, pos_location, series, order_type, request, request_hash, \
     status, reason, detail, pos_account, payment_status, total_minor, currency, attempts, next_attempt_at, last_error, manual, \
     submitted_at, created_at, updated_at";

fn order_of(r: &sqlx::any::AnyRow) -> Result<OrderRow> {
    let request: String = r.try_get("request")?;
    Ok(OrderRow {
        id: r.try_get("id")?,
        channel_order_id: r.try_get("channel_order_id")?,
        location_id: r.try_get("location_id")?,
        connection_id: r.try_get("connection_id")?,
        pos_location: r.try_get("pos_location")?,
        series: r.try_get("series")?,
        order_type: r.try_get("order_type")?,
        request: serde_json::from_str(&request)
            .map_err(|e| StoreError::Corrupt(format!("online order request: {e}")))?,
        request_hash: r.try_get("request_hash")?,
        status: r.try_get("status")?,
        reason: r.try_get("reason")?,
        detail: r.try_get("detail")?,
        pos_account: r.try_get("pos_account")?,
        payment_status: r.try_get("payment_status")?,
        total_minor: r.try_get("total_minor")?,
        currency: r.try_get("currency")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        last_error: r.try_get("last_error")?,
        manual: r.try_get::<i64, _>("manual")? != 0,
        submitted_at: r.try_get("submitted_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Inserts a new order unless its channel order id is already taken; returns whether it was
/// inserted. Concurrent submissions of one channel order id insert exactly one row.
pub async fn insert(c: &mut Conn, merchant_id: &str, o: &OrderRow) -> Result<bool> {
    let r = sqlx::query(&format!(
        "INSERT INTO online_orders (merchant_id, {COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24) \
         ON CONFLICT DO NOTHING"
    ))
    .bind(merchant_id)
    .bind(&o.id)
    .bind(&o.channel_order_id)
    .bind(&o.location_id)
    .bind(&o.connection_id)
    .bind(&o.pos_location)
    .bind(&o.series)
    .bind(&o.order_type)
    .bind(o.request.to_string())
    .bind(&o.request_hash)
    .bind(&o.status)
    .bind(&o.reason)
    .bind(&o.detail)
    .bind(&o.pos_account)
    .bind(&o.payment_status)
    .bind(o.total_minor)
    .bind(&o.currency)
    .bind(o.attempts)
    .bind(o.next_attempt_at)
    .bind(&o.last_error)
    .bind(i64::from(o.manual))
    .bind(o.submitted_at)
    .bind(o.created_at)
    .bind(o.updated_at)
    .execute(&mut *c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Writes an order's changing fields back.
pub async fn update(c: &mut Conn, merchant_id: &str, o: &OrderRow) -> Result<()> {
    sqlx::query(
        "UPDATE online_orders SET status = $3, reason = $4, detail = $5, pos_account = $6, payment_status = $7, attempts = $8, \
         next_attempt_at = $9, last_error = $10, manual = $11, submitted_at = $12, updated_at = $13 \
         WHERE merchant_id = $1 AND id = $2",
    )
    .bind(merchant_id)
    .bind(&o.id)
    .bind(&o.status)
    .bind(&o.reason)
    .bind(&o.detail)
    .bind(&o.pos_account)
    .bind(&o.payment_status)
    .bind(o.attempts)
    .bind(o.next_attempt_at)
    .bind(&o.last_error)
    .bind(i64::from(o.manual))
    .bind(o.submitted_at)
    .bind(o.updated_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The order whose `column` (a fixed column name, never input) equals `value`.
async fn one_by(
    c: &mut Conn,
    merchant_id: &str,
    column: &'static str,
    value: &str,
) -> Result<Option<OrderRow>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM online_orders WHERE merchant_id = $1 AND {column} = $2"
    ))
    .bind(merchant_id)
    .bind(value)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(order_of).transpose()
}

pub async fn get(c: &mut Conn, merchant_id: &str, id: &str) -> Result<Option<OrderRow>> {
    one_by(c, merchant_id, "id", id).await
}

pub async fn by_channel_id(
    c: &mut Conn,
    merchant_id: &str,
    channel_order_id: &str,
) -> Result<Option<OrderRow>> {
    one_by(c, merchant_id, "channel_order_id", channel_order_id).await
}

/// Orders newest first, optionally of one status, or only those needing manual handling.
pub async fn list(
    c: &mut Conn,
    merchant_id: &str,
    status: Option<&str>,
    manual_only: bool,
    limit: i64,
) -> Result<Vec<OrderRow>> {
    let mut sql = format!("SELECT {COLUMNS} FROM online_orders WHERE merchant_id = $1");
    if manual_only {
        sql.push_str(" AND manual = 1");
    }
    if status.is_some() {
        sql.push_str(" AND status = $3");
    }
    sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT $2");
    let mut q = sqlx::query(&sql).bind(merchant_id).bind(limit);
    if let Some(s) = status {
        q = q.bind(s);
    }
    let rows = q.fetch_all(&mut *c).await?;
    rows.iter().map(order_of).collect()
}

/// Orders whose next step is due at `now`, oldest first.
pub async fn due(c: &mut Conn, merchant_id: &str, now: i64, limit: i64) -> Result<Vec<OrderRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM online_orders WHERE merchant_id = $1 AND next_attempt_at IS NOT NULL AND next_attempt_at <= $2 \
         ORDER BY next_attempt_at, id LIMIT $3"
    ))
    .bind(merchant_id)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(order_of).collect()
}

/// The earliest next step of any order of the merchant.
pub async fn next_due(c: &mut Conn, merchant_id: &str) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT MIN(next_attempt_at) FROM online_orders WHERE merchant_id = $1 AND next_attempt_at IS NOT NULL",
    )
    .bind(merchant_id)
    .fetch_one(&mut *c)
    .await?)
}

/// The order that a POS reference (K: our `thirdPartyReference`, which is the order id, or the
/// account identifier) names.
pub async fn by_pos_reference(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    reference: &str,
) -> Result<Option<OrderRow>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM online_orders WHERE merchant_id = $1 AND connection_id = $2 AND (id = $3 OR pos_account = $3)"
    ))
    .bind(merchant_id)
    .bind(connection_id)
    .bind(reference)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(order_of).transpose()
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HistoryRow {
    pub status: String,
    pub payment_status: String,
    pub detail: Option<String>,
    pub at: i64,
}

pub async fn append_history(
    c: &mut Conn,
    merchant_id: &str,
    order_id: &str,
    h: &HistoryRow,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO online_order_history (merchant_id, order_id, seq, status, payment_status, detail, at) \
         VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM online_order_history WHERE merchant_id = $1 AND order_id = $2), $3, $4, $5, $6)",
    )
    .bind(merchant_id)
    .bind(order_id)
    .bind(&h.status)
    .bind(&h.payment_status)
    .bind(&h.detail)
    .bind(h.at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// The histories of several orders in one query, by order id.
pub async fn histories(
    c: &mut Conn,
    merchant_id: &str,
    order_ids: &[String],
) -> Result<std::collections::HashMap<String, Vec<HistoryRow>>> {
    let mut out: std::collections::HashMap<String, Vec<HistoryRow>> =
        std::collections::HashMap::new();
    for chunk in order_ids.chunks(200) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT order_id, status, payment_status, detail, at FROM online_order_history \
             WHERE merchant_id = $1 AND order_id IN ({}) ORDER BY order_id, seq",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(merchant_id);
        for id in chunk {
            q = q.bind(id);
        }
        for r in q.fetch_all(&mut *c).await? {
            out.entry(r.try_get("order_id")?)
                .or_default()
                .push(HistoryRow {
                    status: r.try_get("status")?,
                    payment_status: r.try_get("payment_status")?,
                    detail: r.try_get("detail")?,
                    at: r.try_get("at")?,
                });
        }
    }
    Ok(out)
}

pub async fn history(c: &mut Conn, merchant_id: &str, order_id: &str) -> Result<Vec<HistoryRow>> {
    let rows = sqlx::query(
        "SELECT status, payment_status, detail, at FROM online_order_history WHERE merchant_id = $1 AND order_id = $2 ORDER BY seq",
    )
    .bind(merchant_id)
    .bind(order_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(HistoryRow {
                status: r.try_get("status")?,
                payment_status: r.try_get("payment_status")?,
                detail: r.try_get("detail")?,
                at: r.try_get("at")?,
            })
        })
        .collect()
}

#[derive(Clone, Debug)]
pub struct PendingDelivery {
    pub connection_id: String,
    pub idempotency_key: String,
    pub topic: String,
    pub detail: serde_json::Value,
}

/// Webhook deliveries waiting for the ordering module, in the order they arrived.
pub async fn pending_deliveries(
    c: &mut Conn,
    merchant_id: &str,
    limit: i64,
) -> Result<Vec<PendingDelivery>> {
    let rows = sqlx::query(
        "SELECT connection_id, idempotency_key, topic, detail FROM webhook_deliveries WHERE merchant_id = $1 AND pending = 1 \
         ORDER BY received_at, idempotency_key LIMIT $2",
    )
    .bind(merchant_id)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            let detail: Option<String> = r.try_get("detail")?;
            Ok(PendingDelivery {
                connection_id: r.try_get("connection_id")?,
                idempotency_key: r.try_get("idempotency_key")?,
                topic: r.try_get("topic")?,
                detail: detail
                    .as_deref()
                    .map(serde_json::from_str)
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(format!("webhook detail: {e}")))?
                    .unwrap_or_default(),
            })
        })
        .collect()
}

pub async fn mark_delivery_handled(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
    idempotency_key: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET pending = 0 WHERE merchant_id = $1 AND connection_id = $2 AND idempotency_key = $3",
    )
    .bind(merchant_id)
    .bind(connection_id)
    .bind(idempotency_key)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// An outage of a connection as the ordering module saw it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OutageRow {
    pub id: String,
    pub connection_id: String,
    /// `partner_outage` or `credentials_issue`.
    pub kind: String,
    pub detail: Option<String>,
    pub started_at: i64,
    pub last_seen_at: i64,
    pub ended_at: Option<i64>,
}

const OUTAGE_COLUMNS: &str = "id, connection_id, kind, detail, started_at, last_seen_at, ended_at";

fn outage_of(r: &sqlx::any::AnyRow) -> Result<OutageRow> {
    Ok(OutageRow {
        id: r.try_get("id")?,
        connection_id: r.try_get("connection_id")?,
        kind: r.try_get("kind")?,
        detail: r.try_get("detail")?,
        started_at: r.try_get("started_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        ended_at: r.try_get("ended_at")?,
    })
}

/// The open outage of a connection, if any.
pub async fn open_outage(
    c: &mut Conn,
    merchant_id: &str,
    connection_id: &str,
) -> Result<Option<OutageRow>> {
    let row = sqlx::query(&format!(
        "SELECT {OUTAGE_COLUMNS} FROM ordering_outages WHERE merchant_id = $1 AND connection_id = $2 AND ended_at IS NULL"
    ))
    .bind(merchant_id)
    .bind(connection_id)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(outage_of).transpose()
}

/// Open outages of the merchant, and those that ended after `ended_since`, newest first.
pub async fn outages(c: &mut Conn, merchant_id: &str, ended_since: i64) -> Result<Vec<OutageRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {OUTAGE_COLUMNS} FROM ordering_outages WHERE merchant_id = $1 AND (ended_at IS NULL OR ended_at >= $2) \
         ORDER BY started_at DESC, id DESC"
    ))
    .bind(merchant_id)
    .bind(ended_since)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(outage_of).collect()
}

/// Opens an outage; `false` when the connection has one open already (the unique index).
pub async fn open_outage_insert(c: &mut Conn, merchant_id: &str, o: &OutageRow) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO ordering_outages (merchant_id, id, connection_id, kind, detail, started_at, last_seen_at, ended_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL) ON CONFLICT DO NOTHING",
    )
    .bind(merchant_id)
    .bind(&o.id)
    .bind(&o.connection_id)
    .bind(&o.kind)
    .bind(&o.detail)
    .bind(o.started_at)
    .bind(o.last_seen_at)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Writes an outage's kind, detail, last sighting and end.
pub async fn update_outage(c: &mut Conn, merchant_id: &str, o: &OutageRow) -> Result<()> {
    sqlx::query(
        "UPDATE ordering_outages SET kind = $3, detail = $4, last_seen_at = $5, ended_at = $6 WHERE merchant_id = $1 AND id = $2",
    )
    .bind(merchant_id)
    .bind(&o.id)
    .bind(&o.kind)
    .bind(&o.detail)
    .bind(o.last_seen_at)
    .bind(o.ended_at)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// How many orders of the merchant wait for manual handling, per connection.
pub async fn manual_counts(c: &mut Conn, merchant_id: &str) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT connection_id, COUNT(*) AS n FROM online_orders WHERE merchant_id = $1 AND manual = 1 GROUP BY connection_id ORDER BY connection_id",
    )
    .bind(merchant_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("connection_id")?, r.try_get("n")?)))
        .collect()
}
