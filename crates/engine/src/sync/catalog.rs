//! The catalog stream of a connection: its categories as the POS names them (K accounting
//! groups per business location, X product categories, R categories, O menu categories),
//! replaced on each run so renamed and deleted categories follow. It runs on connect and then
//! every `catalog_interval` (webhooks make it due sooner). Punch cards pick their category
//! filters from this list; lines keep the category recorded at the time of sale regardless.
//! X products are kept by the X sales stream's product cursor (`sync::xseries`).
//! The same run refreshes the unified catalog, which online orders are also checked against,
//! per location: the items with their price, tax, category and stock (K item availability, X
//! inventory, R `ItemShop`), K rich data (allergens, descriptions, picture, from menus loaded
//! with rich content) and the allergens' names per locale, K account profiles and the active
//! tables of K floor plans.

use super::Outcome;
use crate::error::EngineError;
use crate::Engine;
use std::collections::{BTreeMap, BTreeSet};
use tillbridge_lightspeed::kseries::wire::{self, EntryKind};
use tillbridge_lightspeed::xseries::wire::{Page, Product};
use tillbridge_lightspeed::{LightspeedError, Secret};
use tillbridge_model::money::{basis_points, parse_minor};
use tillbridge_store::catalog::{self, CategoryRow};
use tillbridge_store::connections as conns;
use tillbridge_store::jobs::JobRow;
use tillbridge_store::ordering::{
    self, AllergenRow, ChoiceGroup, ChoiceOption, Instruction, InstructionGroup, ItemDescription,
    ItemKind, LocationCatalog, MenuItemRow, ProfileRow, TableRow, Variant, VariantOption,
};

/// Units on hand per (POS location, POS item id), for items whose stock the store counts.
type Stock = BTreeMap<(String, String), i64>;

impl Engine {
    pub(crate) async fn run_catalog(&self, job: &JobRow) -> Result<Outcome, EngineError> {
        let (m, c) = (job.merchant_id.as_str(), job.connection_id.as_str());
        let row = self.connection_row(m, c).await?;
        let account = row.account_id.clone().unwrap_or_default();
        // id → name; the first name seen wins for an id shared by several locations.
        let mut found: BTreeMap<String, String> = BTreeMap::new();
        match row.series.as_str() {
            "x" => {
                let client = self.x_client(c, &account)?;
                let list = self
                    .with_token(m, c, |t| {
                        let client = client.clone();
                        async move { client.product_categories(&t).await }
                    })
                    .await?;
                for cat in list {
                    if let (Some(id), Some(name)) = (cat.id, cat.name) {
                        found.entry(id).or_insert(name);
                    }
                }
                let (items, stock) = self.x_order_catalog(m, c, &account).await?;
                self.store_order_catalog(m, c, &items, &stock).await?;
            }
            "r" => {
                let client = self.r_client(c)?;
                let list = self
                    .with_token(m, c, |t| {
                        let (client, account) = (client.clone(), account.clone());
                        async move { client.categories(&t, &account).await }
                    })
                    .await?;
                found.extend(list);
                let items = self
                    .with_token(m, c, |t| {
                        let (client, account) = (client.clone(), account.clone());
                        async move { client.items(&t, &account).await }
                    })
                    .await?;
                let tracked: BTreeSet<String> = items
                    .iter()
                    .filter(|i| i.tracks_stock)
                    .map(|i| i.id.clone())
                    .collect();
                let stock: Stock = self
                    .with_token(m, c, |t| {
                        let (client, account) = (client.clone(), account.clone());
                        async move { client.item_stock(&t, &account).await }
                    })
                    .await?
                    .into_iter()
                    .filter(|s| tracked.contains(&s.item_id))
                    .map(|s| ((s.shop_id, s.item_id), s.qoh))
                    .collect();
                let items = items
                    .into_iter()
                    .map(|i| MenuItemRow {
                        price_minor: i.price.and_then(|p| parse_minor(&p, 2).ok()),
                        sku: i.sku,
                        name: i.name,
                        category: i.category_id.as_ref().and_then(|id| found.get(id).cloned()),
                        category_id: i.category_id,
                        product_id: Some(i.id),
                        ..MenuItemRow::default()
                    })
                    .collect::<Vec<_>>();
                self.store_order_catalog(m, c, &items, &stock).await?;
            }
            "o" => {
                let client = self.o_client(c)?;
                let list = self
                    .with_token(m, c, |t| {
                        let client = client.clone();
                        async move { client.menu_categories(&t).await }
                    })
                    .await?;
                for cat in list {
                    found.entry(cat.id).or_insert(cat.name);
                }
            }
            _ => {
                let client = self.k_client(c)?;
                let allergens: Vec<AllergenRow> = self
                    .with_token(m, c, |t| {
                        let client = client.clone();
                        async move { client.allergens(&t).await }
                    })
                    .await?
                    .into_iter()
                    .map(|a| AllergenRow {
                        code: a.code,
                        translations: a
                            .translations
                            .into_iter()
                            .map(|t| (t.locale, t.text))
                            .collect(),
                    })
                    .collect();
                let mut tx = self.store().begin().await?;
                ordering::replace_allergens(&mut tx, m, c, &allergens, self.now_ms()).await?;
                tillbridge_store::commit(tx).await?;
                let locations = conns::list_pos_locations(&mut *self.conn().await?, m, c).await?;
                for bl in &locations {
                    let catalog = self.k_order_catalog(m, c, &bl.external_id).await?;
                    let mut tx = self.store().begin().await?;
                    ordering::replace_location_catalog(
                        &mut tx,
                        m,
                        c,
                        &bl.external_id,
                        &catalog,
                        self.now_ms(),
                    )
                    .await?;
                    tillbridge_store::commit(tx).await?;
                }
                for bl in locations {
                    let groups = self
                        .with_token(m, c, |t| {
                            let (client, bl) = (client.clone(), bl.external_id.clone());
                            async move { client.accounting_groups(&t, &bl).await }
                        })
                        .await?;
                    for g in groups {
                        if let (Some(id), Some(name)) = (g.accounting_group_id, g.name) {
                            found.entry(id.to_string()).or_insert(name);
                        }
                    }
                }
            }
        }
        let rows: Vec<CategoryRow> = found
            .into_iter()
            .map(|(external_id, name)| CategoryRow {
                connection_id: c.to_owned(),
                external_id,
                name,
            })
            .collect();
        let now = self.now_ms();
        let mut tx = self.store().begin().await?;
        catalog::replace_categories(&mut tx, m, c, &rows, now).await?;
        let count = rows.len() as i64;
        let checkpoint = serde_json::json!({ "phase": "incremental", "categories": count });
        self.save_progress(&mut tx, job, &checkpoint, count, Some(count), now)
            .await?;
        tillbridge_store::commit(tx).await?;
        Ok(Outcome::Done)
    }

    /// Replaces the order catalog of every POS location of the connection with `items` (X and R
    /// sell the same items at every outlet or shop; neither has account profiles or tables),
    /// each with its stock at that location where the store counts it.
    async fn store_order_catalog(
        &self,
        m: &str,
        c: &str,
        items: &[MenuItemRow],
        stock: &Stock,
    ) -> Result<(), EngineError> {
        let locations = conns::list_pos_locations(&mut *self.conn().await?, m, c).await?;
        let mut tx = self.store().begin().await?;
        for l in &locations {
            let items = items
                .iter()
                .map(|i| MenuItemRow {
                    available_count: i
                        .product_id
                        .as_ref()
                        .and_then(|id| stock.get(&(l.external_id.clone(), id.clone())).copied()),
                    ..i.clone()
                })
                .collect();
            let catalog = LocationCatalog {
                items,
                ..LocationCatalog::default()
            };
            ordering::replace_location_catalog(
                &mut tx,
                m,
                c,
                &l.external_id,
                &catalog,
                self.now_ms(),
            )
            .await?;
        }
        tillbridge_store::commit(tx).await?;
        Ok(())
    }

    /// The active products of an X-Series store with their tax-inclusive prices, and the
    /// inventory levels of those whose stock the store counts.
    async fn x_order_catalog(
        &self,
        m: &str,
        c: &str,
        prefix: &str,
    ) -> Result<(Vec<MenuItemRow>, Stock), EngineError> {
        let client = self.x_client(c, prefix)?;
        let mut items = Vec::new();
        let mut tracked = BTreeSet::new();
        let products = self
            .x_all(m, c, |t, after| {
                let client = client.clone();
                async move { client.products(&t, after).await }
            })
            .await?;
        for p in products {
            if p.active == Some(false) || p.deleted_at.is_some() {
                continue;
            }
            let Some(sku) = p.sku.clone().filter(|s| !s.is_empty()) else {
                continue;
            };
            if p.has_inventory == Some(true) {
                tracked.insert(p.id.clone());
            }
            items.push(MenuItemRow {
                price_minor: p
                    .price_including_tax
                    .as_ref()
                    .and_then(|a| parse_minor(&a.as_text(), 2).ok()),
                tax_included: Some(true),
                sku,
                name: p.display_name().map(str::to_owned),
                category: p.categories.first().and_then(|c| c.name.clone()),
                category_id: p.categories.first().and_then(|c| c.id.clone()),
                variant: x_variant(&p),
                product_id: Some(p.id),
                ..MenuItemRow::default()
            });
        }
        let records = self
            .x_all(m, c, |t, after| {
                let client = client.clone();
                async move { client.inventory(&t, after).await }
            })
            .await?;
        let mut stock = Stock::new();
        for r in records {
            let level = r.level();
            if r.deleted_at.is_some() {
                continue;
            }
            if let (Some(product), Some(outlet), Some(level)) = (r.product_id, r.outlet_id, level) {
                if tracked.contains(&product) {
                    stock.insert((outlet, product), level);
                }
            }
        }
        Ok((items, stock))
    }

    /// Every object of an X-Series version-cursor list: `after` is the last page's
    /// `version.max`, until a page comes back empty.
    async fn x_all<T, F, Fut>(&self, m: &str, c: &str, fetch: F) -> Result<Vec<T>, EngineError>
    where
        F: Fn(Secret, u64) -> Fut,
        Fut: std::future::Future<Output = Result<Page<T>, LightspeedError>>,
    {
        let mut after = 0u64;
        let mut out = Vec::new();
        loop {
            let page = self.with_token(m, c, |t| fetch(t, after)).await?;
            let Some(max) = page.version.as_ref().and_then(|v| v.max) else {
                break;
            };
            if page.data.is_empty() || max <= after {
                break;
            }
            after = max;
            out.extend(page.data);
        }
        Ok(out)
    }

    /// What online orders at a K-Series business location are checked against: the items of
    /// its menus with their availability, its account profiles and the active tables of its
    /// floor plans.
    async fn k_order_catalog(
        &self,
        m: &str,
        c: &str,
        bl: &str,
    ) -> Result<LocationCatalog, EngineError> {
        let client = self.k_client(c)?;
        let menu = self
            .with_token(m, c, |t| {
                let (client, bl) = (client.clone(), bl.to_owned());
                async move { client.menu_items(&t, &bl).await }
            })
            .await?;
        let skus: Vec<String> = menu.iter().map(|i| i.sku.clone()).collect();
        let counts: BTreeMap<String, Option<i64>> = self
            .with_token(m, c, |t| {
                let (client, bl, skus) = (client.clone(), bl.to_owned(), skus.clone());
                async move { client.item_availability(&t, &bl, &skus).await }
            })
            .await?
            .into_iter()
            .map(|a| (a.sku, a.count))
            .collect();
        let profiles = self
            .with_token(m, c, |t| {
                let (client, bl) = (client.clone(), bl.to_owned());
                async move { client.account_profiles(&t, &bl).await }
            })
            .await?;
        let plans = self
            .with_token(m, c, |t| {
                let (client, bl) = (client.clone(), bl.to_owned());
                async move { client.floor_plans(&t, &bl).await }
            })
            .await?;
        let tables = plans
            .iter()
            .flat_map(|p| p.tables.iter().map(move |t| (p, t)))
            .filter(|(_, t)| t.active != Some(false))
            .filter_map(|(p, t)| {
                Some(TableRow {
                    number: t.number.as_ref()?.to_string(),
                    floor_plan: p.name.clone(),
                    description: t.description.clone(),
                    seats: t.default_client_count,
                })
            })
            .collect();
        let items = menu
            .into_iter()
            .map(|i| {
                let rich = i.rich.unwrap_or_default();
                MenuItemRow {
                    available_count: counts.get(&i.sku).copied().flatten(),
                    price_minor: i.price.and_then(|p| parse_minor(&p.as_text(), 2).ok()),
                    tax_rate_bp: i
                        .tax_percentage
                        .and_then(|p| basis_points(&p.as_text(), true)),
                    tax_included: i.tax_included,
                    sku: i.sku,
                    name: i.name,
                    category: i.group,
                    category_id: i.group_id,
                    product_id: None,
                    allergens: rich.allergen_codes,
                    descriptions: rich
                        .descriptions
                        .into_iter()
                        .map(|d| ItemDescription {
                            locale: Some(d.locale_code),
                            description: d.description,
                            display_name: d.display_name,
                        })
                        .collect(),
                    image_url: rich.picture_url,
                    instructions: instruction_groups(i.instructions),
                    kind: match i.kind {
                        EntryKind::Item => ItemKind::Item,
                        EntryKind::ProductModifier => ItemKind::Modifier,
                        EntryKind::Deal => ItemKind::Deal,
                    },
                    choices: choice_groups(i.kind, i.choices),
                    variant: None,
                }
            })
            .collect();
        let profiles = profiles
            .into_iter()
            .filter_map(|p| {
                Some(ProfileRow {
                    code: p.code?,
                    name: p.name,
                    delivery_mode: p.delivery_mode,
                })
            })
            .collect();
        Ok(LocationCatalog {
            items,
            profiles,
            tables,
        })
    }
}

/// The product's place in its X-Series variant family: a parent (`has_variants`, no
/// `variant_parent_id`) heads its own family; a child names its parent.
fn x_variant(p: &Product) -> Option<Variant> {
    if p.has_variants != Some(true) && p.variant_parent_id.is_none() {
        return None;
    }
    Some(Variant {
        family_id: p.variant_parent_id.clone().unwrap_or_else(|| p.id.clone()),
        family: p.name.clone().unwrap_or_default(),
        options: p
            .variant_options
            .iter()
            .flatten()
            .filter_map(|o| {
                Some(VariantOption {
                    name: o.name.clone()?,
                    value: o.value.clone()?,
                })
            })
            .collect(),
    })
}

/// A K-Series menu item's production instruction groups as the catalog keeps them; an
/// instruction without an id cannot be ordered and is left out, and so is a group left empty.
fn instruction_groups(
    groups: Vec<tillbridge_lightspeed::kseries::wire::InstructionGroup>,
) -> Vec<InstructionGroup> {
    groups
        .into_iter()
        .filter_map(|g| {
            let instructions: Vec<Instruction> = g
                .instructions
                .into_iter()
                .filter_map(|i| {
                    let id = i.ikentoo_modifier_id?.to_string();
                    Some(Instruction {
                        name: i.instruction.unwrap_or_else(|| id.clone()),
                        id,
                    })
                })
                .collect();
            (!instructions.is_empty()).then(|| InstructionGroup {
                id: g.id.map(|id| id.to_string()).unwrap_or_default(),
                name: g.name.unwrap_or_default(),
                multiple: g.multi_selection_permitted.unwrap_or(false),
                instructions,
            })
        })
        .collect()
}

/// A K-Series menu entry's product modifier groups or deal groups as the catalog keeps them.
/// A modifier costs its `productPrice`, a deal's choice its `extraPrice` (nothing when absent);
/// a group's bounds are its minimum and maximum selection, or else what `mustSelectAnItem` and
/// `multiSelectionPermitted` imply. An option without a SKU, or with a price that is not an
/// amount, cannot be ordered and is left out, and so is a group left empty.
fn choice_groups(kind: EntryKind, groups: Vec<wire::ChoiceGroup>) -> Vec<ChoiceGroup> {
    groups
        .into_iter()
        .filter_map(|g| {
            let options: Vec<ChoiceOption> = g
                .options
                .into_iter()
                .filter_map(|o| {
                    let price = if kind == EntryKind::Deal {
                        o.extra_price
                    } else {
                        o.product_price
                    };
                    let price_minor = match price {
                        Some(p) => parse_minor(&p.as_text(), 2).ok()?,
                        None => 0,
                    };
                    Some(ChoiceOption {
                        sku: o.sku?,
                        name: o.product_name,
                        price_minor,
                    })
                })
                .collect();
            let min = g
                .minimum_selection
                .unwrap_or(i64::from(g.must_select_an_item == Some(true)));
            let max = g
                .maximum_selection
                .or((g.multi_selection_permitted == Some(false)).then_some(1));
            (!options.is_empty()).then(|| ChoiceGroup {
                name: g.description.or_else(|| g.sku.clone()).unwrap_or_default(),
                sku: g.sku,
                min,
                max,
                options,
            })
        })
        .collect()
}
