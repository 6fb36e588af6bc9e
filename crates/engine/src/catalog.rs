//! The unified catalog: reading it, and writing items and their rich data back to the POS.
//!
//! Reads come from what the catalog stream stored (`sync::catalog`). Writes go to the POS
//! first; the hub's copy changes only when the next catalog run reads the POS back, which each
//! write makes due at once. So the catalog never shows what the POS did not take. What each
//! series' API allows: K-Series creates, updates and deletes items (Items API) and takes rich
//! data (Rich Item API); X-Series API 2.0 creates and deletes products and variant families
//! but has no update; R-Series creates, updates and archives items; O-Series items are edited
//! in its back office. Anything else is refused, naming the series, and changes nothing.

use crate::error::EngineError;
use crate::Engine;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use tillbridge_lightspeed::kseries::wire::RichDescription;
use tillbridge_lightspeed::xseries::client::XClient;
use tillbridge_lightspeed::LightspeedError;
use tillbridge_model::money::decimal_minor;
use tillbridge_store::connections::{self as conns, ConnectionRow};
use tillbridge_store::jobs;
use tillbridge_store::ordering::{
    self, CatalogEntry, ChoiceGroup, InstructionGroup, ItemDescription, ItemKind, Variant,
    VariantOption,
};

use crate::connections::{status, CATALOG_JOB};

/// The longest SKU the Rich Item API takes (the Items API takes 32).
const SKU_MAX: usize = 25;

/// One item of the unified catalog as the API shows it.
#[derive(Serialize, Debug, Clone)]
pub struct CatalogItem {
    pub connection_id: String,
    pub series: String,
    /// The POS's id of the location (K business location, X outlet, R shop).
    pub pos_location_id: String,
    pub sku: String,
    pub name: Option<String>,
    pub price_minor: Option<i64>,
    pub category_id: Option<String>,
    pub category: Option<String>,
    pub tax_rate_bp: Option<i64>,
    pub tax_included: Option<bool>,
    /// How many are left; `None` when the POS does not restrict the item.
    pub available_count: Option<i64>,
    /// The POS's own id where orders name items by id (X product, R item).
    pub pos_item_id: Option<String>,
    pub descriptions: Vec<ItemDescription>,
    pub allergens: Vec<CatalogAllergen>,
    pub image_url: Option<String>,
    /// Production instructions an online order's line may carry (K-Series), by id.
    pub instructions: Vec<InstructionGroup>,
    /// `item`, `modifier` (a priced add-on, ordered only as a sub-item) or `deal`.
    pub kind: ItemKind,
    /// What an online order's line of this item chooses its `sub_items` from (K-Series
    /// product modifier groups, a deal's groups).
    pub choices: Vec<ChoiceGroup>,
    /// Its variant family (X-Series): the family's parent product id and name, and what sets
    /// this product apart in it; `None` outside any family.
    pub variant: Option<Variant>,
    /// When the catalog stream last read this item (epoch ms).
    pub synced_at: i64,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct CatalogAllergen {
    pub code: String,
    /// Its name per locale, as the POS translates it.
    pub names: BTreeMap<String, String>,
}

/// An item to create or the new state of one to update.
#[derive(Debug, Clone)]
pub struct ItemInput {
    /// The SKU; on create, `None` lets the POS choose one.
    pub sku: Option<String>,
    pub name: String,
    pub price_minor: i64,
    /// The POS's category id (a K-Series accounting group).
    pub category_id: String,
    /// On create, X-Series only: the products of a new variant family named `name`, the first
    /// becoming its parent. Empty for a plain item.
    pub variants: Vec<VariantInput>,
}

/// One product of a variant family to create.
#[derive(Debug, Clone)]
pub struct VariantInput {
    /// `None` lets the POS choose one.
    pub sku: Option<String>,
    /// `None`: the family's `price_minor`.
    pub price_minor: Option<i64>,
    /// What sets it apart: the same option names, in the same order, for every variant.
    pub options: Vec<VariantOption>,
}

/// The most products a variant family has (X-Series).
const FAMILY_MAX: usize = 200;

/// What the POS answered for a created or updated item.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct PosItem {
    pub pos_item_id: String,
    pub sku: String,
    pub name: Option<String>,
    pub price_minor: Option<i64>,
    pub category_id: Option<String>,
    /// A created variant family's products, its parent first (X-Series).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<PosItem>,
}

/// Rich data to put on an item: allergens and descriptions replace the old ones; a picture
/// (base64) is set when given and left as it is when not.
#[derive(Debug, Clone, Default)]
pub struct RichInput {
    pub allergens: Vec<String>,
    pub descriptions: Vec<ItemDescription>,
    pub picture_base64: Option<String>,
}

impl Engine {
    /// The unified catalog, optionally narrowed to one connection, one POS location or one SKU.
    pub async fn catalog(
        &self,
        merchant_id: &str,
        connection_id: Option<&str>,
        pos_location: Option<&str>,
        sku: Option<&str>,
    ) -> Result<Vec<CatalogItem>, EngineError> {
        self.merchant(merchant_id).await?;
        if let Some(c) = connection_id {
            self.connection_row(merchant_id, c).await?;
        }
        let mut c = self.conn().await?;
        let series: BTreeMap<String, String> = conns::list_connections(&mut c, merchant_id)
            .await?
            .into_iter()
            .map(|r| (r.id, r.series))
            .collect();
        let entries = ordering::catalog(&mut c, merchant_id, connection_id, pos_location).await?;
        let mut names: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>> =
            BTreeMap::new();
        let mut out = Vec::new();
        for CatalogEntry {
            connection_id,
            pos_location,
            item,
            updated_at,
        } in entries
        {
            if sku.is_some_and(|s| s != item.sku) {
                continue;
            }
            if !item.allergens.is_empty() && !names.contains_key(&connection_id) {
                let list = ordering::allergens(&mut c, merchant_id, &connection_id).await?;
                names.insert(
                    connection_id.clone(),
                    list.into_iter().map(|a| (a.code, a.translations)).collect(),
                );
            }
            let allergens = item
                .allergens
                .iter()
                .map(|code| CatalogAllergen {
                    code: code.clone(),
                    names: names
                        .get(&connection_id)
                        .and_then(|n| n.get(code))
                        .cloned()
                        .unwrap_or_default(),
                })
                .collect();
            out.push(CatalogItem {
                series: series.get(&connection_id).cloned().unwrap_or_default(),
                connection_id,
                pos_location_id: pos_location,
                sku: item.sku,
                name: item.name,
                price_minor: item.price_minor,
                category_id: item.category_id,
                category: item.category,
                tax_rate_bp: item.tax_rate_bp,
                tax_included: item.tax_included,
                available_count: item.available_count,
                pos_item_id: item.product_id,
                descriptions: item.descriptions,
                allergens,
                image_url: item.image_url,
                instructions: item.instructions,
                kind: item.kind,
                choices: item.choices,
                variant: item.variant,
                synced_at: updated_at,
            });
        }
        Ok(out)
    }

    /// Creates an item in the POS and makes the connection's catalog run due.
    pub async fn create_item(
        &self,
        merchant_id: &str,
        connection_id: &str,
        pos_location: Option<&str>,
        input: ItemInput,
    ) -> Result<PosItem, EngineError> {
        let (what, series): (&str, &[&str]) = if input.variants.is_empty() {
            ("create items", &["k", "x", "r"])
        } else {
            ("create variant families", &["x"])
        };
        let (row, bl, currency) = self
            .editable(merchant_id, connection_id, pos_location, what, series)
            .await?;
        check_item(&input)?;
        if row.series == "x" {
            return self
                .create_x_product(merchant_id, &row, input, &currency)
                .await;
        }
        if row.series == "r" {
            let body = r_item_body(&input, &currency, input.sku.as_deref());
            let (client, account) = self.r_item_client(&row)?;
            let item = self
                .with_token(merchant_id, connection_id, |t| {
                    let (client, account, body) = (client.clone(), account.clone(), body.clone());
                    async move { client.create_item(&t, &account, &body).await }
                })
                .await
                .map_err(|e| refused(e, "create the item"))?;
            self.catalog_due(merchant_id, connection_id).await?;
            return Ok(r_pos_item(item));
        }
        let body = k_item_body(&bl, &input, &currency, input.sku.as_deref());
        let client = self.k_client(&row.id)?;
        let item = self
            .with_token(merchant_id, connection_id, |t| {
                let (client, body) = (client.clone(), body.clone());
                async move { client.create_item(&t, &body).await }
            })
            .await
            .map_err(|e| refused(e, "create the item"))?;
        self.catalog_due(merchant_id, connection_id).await?;
        pos_item(item)
    }

    /// Replaces the name, price, category (and SKU, with `input.sku`) of the item `sku`.
    pub async fn update_item(
        &self,
        merchant_id: &str,
        connection_id: &str,
        pos_location: Option<&str>,
        sku: &str,
        input: ItemInput,
    ) -> Result<PosItem, EngineError> {
        let (row, bl, currency) = self
            .editable(
                merchant_id,
                connection_id,
                pos_location,
                "update items",
                &["k", "r"],
            )
            .await?;
        if !input.variants.is_empty() {
            return Err(EngineError::Invalid(
                "variants are only taken when creating an X-Series variant family: change one product of a family by its own SKU, in Lightspeed's back office".into(),
            ));
        }
        check_item(&input)?;
        if row.series == "r" {
            let (client, account) = self.r_item_client(&row)?;
            let id = self
                .r_item_id(merchant_id, &row.id, &client, &account, sku)
                .await?;
            let body = r_item_body(&input, &currency, Some(input.sku.as_deref().unwrap_or(sku)));
            let item = self
                .with_token(merchant_id, connection_id, |t| {
                    let (client, account, id, body) =
                        (client.clone(), account.clone(), id.clone(), body.clone());
                    async move { client.update_item(&t, &account, &id, &body).await }
                })
                .await
                .map_err(|e| refused(e, "update the item"))?;
            self.catalog_due(merchant_id, connection_id).await?;
            return Ok(r_pos_item(item));
        }
        let id = self.item_id(merchant_id, &row, &bl, sku).await?;
        // The Items API's update needs the SKU: the new one, or the item's own.
        let body = k_item_body(
            &bl,
            &input,
            &currency,
            Some(input.sku.as_deref().unwrap_or(sku)),
        );
        let client = self.k_client(&row.id)?;
        let item = self
            .with_token(merchant_id, connection_id, |t| {
                let (client, body, id) = (client.clone(), body.clone(), id.clone());
                async move { client.update_item(&t, &id, &body).await }
            })
            .await
            .map_err(|e| refused(e, "update the item"))?;
        self.catalog_due(merchant_id, connection_id).await?;
        pos_item(item)
    }

    /// Deletes the item `sku` from the POS; with `family`, every product of the X-Series variant
    /// family it belongs to.
    pub async fn delete_item(
        &self,
        merchant_id: &str,
        connection_id: &str,
        pos_location: Option<&str>,
        sku: &str,
        family: bool,
    ) -> Result<(), EngineError> {
        let (what, series): (&str, &[&str]) = if family {
            ("delete variant families", &["x"])
        } else {
            ("delete items", &["k", "x", "r"])
        };
        let (row, bl, _) = self
            .editable(merchant_id, connection_id, pos_location, what, series)
            .await?;
        if row.series == "x" {
            return self.delete_x_product(merchant_id, &row, sku, family).await;
        }
        if row.series == "r" {
            // R-Series archives: the item leaves the lists and stays in past sales.
            let (client, account) = self.r_item_client(&row)?;
            let id = self
                .r_item_id(merchant_id, &row.id, &client, &account, sku)
                .await?;
            self.with_token(merchant_id, connection_id, |t| {
                let (client, account, id) = (client.clone(), account.clone(), id.clone());
                async move { client.archive_item(&t, &account, &id).await }
            })
            .await
            .map_err(|e| refused(e, "archive the item"))?;
            return self.catalog_due(merchant_id, connection_id).await;
        }
        let id = self.item_id(merchant_id, &row, &bl, sku).await?;
        let client = self.k_client(&row.id)?;
        self.with_token(merchant_id, connection_id, |t| {
            let (client, bl, id) = (client.clone(), bl.clone(), id.clone());
            async move { client.delete_item(&t, &bl, &id).await }
        })
        .await
        .map_err(|e| refused(e, "delete the item"))?;
        self.catalog_due(merchant_id, connection_id).await
    }

    /// Puts rich data (allergens, descriptions, optionally a picture) on the item `sku`.
    pub async fn put_rich_item(
        &self,
        merchant_id: &str,
        connection_id: &str,
        sku: &str,
        input: RichInput,
    ) -> Result<(), EngineError> {
        let (row, _, _) = self
            .editable(
                merchant_id,
                connection_id,
                None,
                "edit rich item data",
                &["k"],
            )
            .await?;
        if sku.chars().count() > SKU_MAX {
            return Err(EngineError::Invalid(format!(
                "the SKU `{sku}` is longer than the {SKU_MAX} characters rich items allow"
            )));
        }
        let mut descriptions = Vec::new();
        for (n, d) in input.descriptions.iter().enumerate() {
            let Some(locale) = d.locale.clone().filter(|l| !l.trim().is_empty()) else {
                return Err(EngineError::Invalid(format!(
                    "descriptions[{n}].locale is required (such as `en`): K-Series keeps one description per locale"
                )));
            };
            if d.description.trim().is_empty() {
                return Err(EngineError::Invalid(format!(
                    "descriptions[{n}].description is empty"
                )));
            }
            descriptions.push(RichDescription {
                locale_code: locale,
                description: d.description.clone(),
                display_name: d.display_name.clone(),
            });
        }
        // Checked before anything is sent, so a bad picture does not leave the new
        // descriptions saved without it.
        if let Some(picture) = &input.picture_base64 {
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::STANDARD.decode(picture.trim());
            if decoded.map_or(true, |bytes| bytes.is_empty()) {
                return Err(EngineError::Invalid(
                    "picture_base64 is not an image in standard base64 (RFC 4648, with padding)"
                        .into(),
                ));
            }
        }
        let business = row.account_id.clone().ok_or_else(|| {
            EngineError::Invalid(format!(
                "connection `{connection_id}` has no business id yet: reconnect it"
            ))
        })?;
        let client = self.k_client(&row.id)?;
        let allergens = input.allergens.clone();
        self.with_token(merchant_id, connection_id, |t| {
            let (client, business, allergens, descriptions) = (
                client.clone(),
                business.clone(),
                allergens.clone(),
                descriptions.clone(),
            );
            let sku = sku.to_owned();
            async move {
                client
                    .put_rich_item(&t, &business, &sku, &allergens, &descriptions)
                    .await
            }
        })
        .await
        .map_err(|e| refused(e, "save the rich data"))?;
        if let Some(picture) = &input.picture_base64 {
            self.with_token(merchant_id, connection_id, |t| {
                let (client, business, picture) =
                    (client.clone(), business.clone(), picture.clone());
                let sku = sku.to_owned();
                async move { client.put_picture(&t, &business, &sku, &picture).await }
            })
            .await
            .map_err(|e| refused(e, "save the picture"))?;
        }
        self.catalog_due(merchant_id, connection_id).await
    }

    /// The connection, the business location to write through and the merchant's currency,
    /// when the connection's series lets the hub edit items; a clear refusal otherwise.
    async fn editable(
        &self,
        merchant_id: &str,
        connection_id: &str,
        pos_location: Option<&str>,
        what: &str,
        series: &[&str],
    ) -> Result<(ConnectionRow, String, String), EngineError> {
        let merchant = self.merchant(merchant_id).await?;
        let row = self.connection_row(merchant_id, connection_id).await?;
        if !series.contains(&row.series.as_str()) {
            let name = |s: &str| {
                match s {
                    "k" => "K-Series",
                    "x" => "X-Series",
                    "r" => "R-Series",
                    "o" => "O-Series",
                    other => other,
                }
                .to_owned()
            };
            let can: Vec<String> = series.iter().map(|s| name(s)).collect();
            return Err(EngineError::Unsupported(format!(
                "the hub cannot {what} on {} connections: Lightspeed's API does not allow it, so do it in Lightspeed's back office and the next catalog sync brings the change here (the hub can {what} on {})",
                name(&row.series),
                can.join(" and ")
            )));
        }
        if row.status == status::DISABLED {
            return Err(EngineError::Disabled(connection_id.to_owned()));
        }
        if row.status == status::NEEDS_REAUTH {
            return Err(EngineError::NeedsReauth(connection_id.to_owned()));
        }
        let locations =
            conns::list_pos_locations(&mut *self.conn().await?, merchant_id, connection_id).await?;
        let bl = match pos_location {
            Some(l) => locations
                .iter()
                .find(|p| p.external_id == l)
                .map(|p| p.external_id.clone())
                .ok_or_else(|| {
                    EngineError::Invalid(format!(
                        "connection `{connection_id}` has no business location `{l}`; its locations are: {}",
                        locations.iter().map(|p| p.external_id.as_str()).collect::<Vec<_>>().join(", ")
                    ))
                })?,
            None => locations.first().map(|p| p.external_id.clone()).ok_or_else(|| {
                EngineError::Invalid(format!(
                    "connection `{connection_id}` has no business locations yet: wait for its first sync"
                ))
            })?,
        };
        Ok((row, bl, merchant.currency))
    }

    /// Creates an X-Series product (`POST /products`) with its tax-inclusive price, or a
    /// variant family: its options' attributes are found by name among the store's variant
    /// attributes, and made where missing.
    async fn create_x_product(
        &self,
        merchant_id: &str,
        row: &ConnectionRow,
        input: ItemInput,
        currency: &str,
    ) -> Result<PosItem, EngineError> {
        // A JSON number written from the decimal text, so the amount is sent exactly.
        let amount = |minor: i64| -> Result<serde_json::Value, EngineError> {
            serde_json::from_str(&decimal_minor(minor, currency))
                .map_err(|e| EngineError::Internal(format!("price {minor}: {e}")))
        };
        let name = input.name.trim();
        let mut body = serde_json::json!({
            "name": name,
            "price_including_tax": amount(input.price_minor)?,
            "product_category_id": input.category_id,
            "is_active": true,
        });
        if let Some(sku) = &input.sku {
            body["sku"] = serde_json::Value::String(sku.trim().to_owned());
        }
        let client = self.x_client(&row.id, row.account_id.as_deref().unwrap_or_default())?;
        if !input.variants.is_empty() {
            let attributes = self
                .x_variant_attributes(merchant_id, row, &client, &input)
                .await?;
            let mut variants = Vec::new();
            for v in &input.variants {
                let mut variant = serde_json::json!({
                    "price_including_tax": amount(v.price_minor.unwrap_or(input.price_minor))?,
                    "variant_definitions": v.options.iter().map(|o| serde_json::json!({
                        "attribute_id": attributes.get(&o.name.trim().to_lowercase()),
                        "value": o.value.trim(),
                    })).collect::<Vec<_>>(),
                });
                if let Some(sku) = &v.sku {
                    variant["sku"] = serde_json::Value::String(sku.trim().to_owned());
                }
                variants.push(variant);
            }
            body["variants"] = serde_json::Value::Array(variants);
        }
        // One attempt: X has no idempotency key for products, so a retry after a 5xx the store
        // acted on would make them twice (a 429 is still waited out).
        let once = client.with_policy(crate::pos_orders::single_attempt());
        let ids = self
            .with_token(merchant_id, &row.id, |t| {
                let (client, body) = (once.clone(), body.clone());
                async move { client.create_product(&t, &body).await }
            })
            .await
            .map_err(|e| refused(e, "create the product"))?;
        self.catalog_due(merchant_id, &row.id).await?;
        let variants: Vec<PosItem> = ids
            .iter()
            .zip(&input.variants)
            .map(|(id, v)| {
                let values: Vec<&str> = v.options.iter().map(|o| o.value.trim()).collect();
                PosItem {
                    pos_item_id: id.clone(),
                    sku: v
                        .sku
                        .as_deref()
                        .map(str::trim)
                        .unwrap_or_default()
                        .to_owned(),
                    name: Some(format!("{name} / {}", values.join(" / "))),
                    price_minor: Some(v.price_minor.unwrap_or(input.price_minor)),
                    category_id: Some(input.category_id.clone()),
                    variants: Vec::new(),
                }
            })
            .collect();
        Ok(PosItem {
            pos_item_id: ids[0].clone(),
            sku: match variants.first() {
                Some(parent) => parent.sku.clone(),
                None => input.sku.map(|s| s.trim().to_owned()).unwrap_or_default(),
            },
            name: Some(name.to_owned()),
            price_minor: Some(input.price_minor),
            category_id: Some(input.category_id),
            variants,
        })
    }

    /// The ids of the X-Series variant attributes a new family's options name, by lowercase
    /// name; attributes the store lacks are created (and stay if the family is then refused:
    /// an attribute on its own changes no product).
    async fn x_variant_attributes(
        &self,
        merchant_id: &str,
        row: &ConnectionRow,
        client: &XClient,
        input: &ItemInput,
    ) -> Result<BTreeMap<String, String>, EngineError> {
        let existing = self
            .with_token(merchant_id, &row.id, |t| {
                let client = client.clone();
                async move { client.variant_attributes(&t).await }
            })
            .await
            .map_err(|e| refused(e, "list the variant attributes"))?;
        let mut ids: BTreeMap<String, String> = existing
            .into_iter()
            .filter(|a| a.deleted_at.is_none())
            .filter_map(|a| Some((a.name?.trim().to_lowercase(), a.id)))
            .collect();
        // Sent once each, like the product: a retry after a 5xx the store acted on would be
        // refused as a name already taken.
        let once = client.with_policy(crate::pos_orders::single_attempt());
        for o in input.variants.iter().flat_map(|v| &v.options) {
            let key = o.name.trim().to_lowercase();
            if ids.contains_key(&key) {
                continue;
            }
            let id = self
                .with_token(merchant_id, &row.id, |t| {
                    let (client, name) = (once.clone(), o.name.trim().to_owned());
                    async move { client.create_variant_attribute(&t, &name).await }
                })
                .await
                .map_err(|e| refused(e, "create the variant attribute"))?;
            ids.insert(key, id);
        }
        Ok(ids)
    }

    /// Deletes the X-Series product with this SKU, found in the synced catalog, or with
    /// `family` every product of its variant family.
    async fn delete_x_product(
        &self,
        merchant_id: &str,
        row: &ConnectionRow,
        sku: &str,
        family: bool,
    ) -> Result<(), EngineError> {
        let mut c = self.conn().await?;
        let id = ordering::catalog(&mut c, merchant_id, Some(&row.id), None)
            .await?
            .into_iter()
            .find(|e| e.item.sku == sku)
            .and_then(|e| e.item.product_id)
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "connection `{}` has no product with SKU `{sku}` in its synced catalog (a product created moments ago shows after the next catalog sync)",
                    row.id
                ))
            })?;
        drop(c);
        let client = self.x_client(&row.id, row.account_id.as_deref().unwrap_or_default())?;
        self.with_token(merchant_id, &row.id, |t| {
            let (client, id) = (client.clone(), id.clone());
            async move {
                if family {
                    client.delete_family(&t, &id).await
                } else {
                    client.delete_product(&t, &id).await
                }
            }
        })
        .await
        .map_err(|e| refused(e, "delete the product"))?;
        self.catalog_due(merchant_id, &row.id).await
    }

    /// The Items API id of the item with this SKU.
    async fn item_id(
        &self,
        merchant_id: &str,
        row: &ConnectionRow,
        bl: &str,
        sku: &str,
    ) -> Result<String, EngineError> {
        let client = self.k_client(&row.id)?;
        let found = self
            .with_token(merchant_id, &row.id, |t| {
                let (client, bl, sku) = (client.clone(), bl.to_owned(), sku.to_owned());
                async move { client.items_by_sku(&t, &bl, &sku).await }
            })
            .await
            .map_err(|e| refused(e, "find the item"))?;
        found
            .into_iter()
            .find(|i| i.sku.as_deref() == Some(sku))
            .map(|i| i.id.to_string())
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "connection `{}` has no item with SKU `{sku}` in Lightspeed",
                    row.id
                ))
            })
    }

    /// An R-Series client and the connection's account id.
    fn r_item_client(
        &self,
        row: &ConnectionRow,
    ) -> Result<(tillbridge_lightspeed::rseries::client::RClient, String), EngineError> {
        let account = row.account_id.clone().ok_or_else(|| {
            EngineError::Invalid(format!(
                "connection `{}` has no account id; reconnect it",
                row.id
            ))
        })?;
        Ok((self.r_client(&row.id)?, account))
    }

    /// The R-Series `itemID` of the item with this SKU (its custom SKU, else its system SKU).
    async fn r_item_id(
        &self,
        merchant_id: &str,
        connection_id: &str,
        client: &tillbridge_lightspeed::rseries::client::RClient,
        account: &str,
        sku: &str,
    ) -> Result<String, EngineError> {
        let found = self
            .with_token(merchant_id, connection_id, |t| {
                let (client, account, sku) = (client.clone(), account.to_owned(), sku.to_owned());
                async move { client.item_by_sku(&t, &account, &sku).await }
            })
            .await
            .map_err(|e| refused(e, "find the item"))?;
        found.map(|i| i.id).ok_or_else(|| {
            EngineError::NotFound(format!(
                "connection `{connection_id}` has no item with SKU `{sku}` in Lightspeed"
            ))
        })
    }

    /// Makes the connection's catalog run due now, so that the write comes back through sync.
    async fn catalog_due(&self, merchant_id: &str, connection_id: &str) -> Result<(), EngineError> {
        let mut c = self.conn().await?;
        jobs::wake_connection_kind(
            &mut c,
            merchant_id,
            connection_id,
            CATALOG_JOB,
            self.now_ms(),
        )
        .await?;
        Ok(())
    }
}

/// An Items API create or update body; `sku` absent lets the POS choose one on create.
fn k_item_body(
    bl: &str,
    input: &ItemInput,
    currency: &str,
    sku: Option<&str>,
) -> serde_json::Value {
    let mut body = serde_json::json!({
        "businessLocationId": bl,
        "name": input.name.trim(),
        "accountingGroupId": input.category_id,
        "defaultPrice": decimal_minor(input.price_minor, currency),
    });
    if let Some(sku) = sku {
        body["sku"] = serde_json::Value::String(sku.trim().to_owned());
    }
    body
}

/// An R-Series `Item` create or update body: description, category, Default price and, when
/// given, the custom SKU.
fn r_item_body(input: &ItemInput, currency: &str, sku: Option<&str>) -> serde_json::Value {
    let mut body = serde_json::json!({
        "description": input.name.trim(),
        "categoryID": input.category_id.trim(),
        "Prices": {"ItemPrice": [{
            "amount": decimal_minor(input.price_minor, currency),
            "useType": "Default",
            "useTypeID": "1",
        }]},
    });
    if let Some(sku) = sku {
        body["customSku"] = serde_json::Value::String(sku.trim().to_owned());
    }
    body
}

fn r_pos_item(item: tillbridge_lightspeed::rseries::client::Item) -> PosItem {
    PosItem {
        variants: Vec::new(),
        price_minor: item
            .price
            .as_deref()
            .and_then(|p| tillbridge_model::money::parse_minor(p, 2).ok()),
        pos_item_id: item.id,
        sku: item.sku,
        name: item.name,
        category_id: item.category_id,
    }
}

fn check_item(input: &ItemInput) -> Result<(), EngineError> {
    if input.name.trim().is_empty() {
        return Err(EngineError::Invalid(
            "name is empty: give the item a name".into(),
        ));
    }
    if input.price_minor < 0 {
        return Err(EngineError::Invalid(format!(
            "price_minor is {}: prices are zero or more, in minor units (350 for 3.50)",
            input.price_minor
        )));
    }
    if input.category_id.trim().is_empty() {
        return Err(EngineError::Invalid(
            "category_id is empty: use the id of one of the connection's categories (GET /api/v1/merchants/{merchant_id}/categories)".into(),
        ));
    }
    if let Some(sku) = &input.sku {
        if sku.trim().is_empty() || sku.trim().chars().count() > 32 {
            return Err(EngineError::Invalid(format!(
                "sku `{sku}` must be 1 to 32 characters"
            )));
        }
    }
    if !input.variants.is_empty() {
        check_variants(input)?;
    }
    Ok(())
}

/// A new variant family: at most `FAMILY_MAX` products, each with one to three options named
/// as the first one's are, no two alike, SKUs 1 to 32 characters and unique, prices not
/// negative; the family itself has no SKU.
fn check_variants(input: &ItemInput) -> Result<(), EngineError> {
    let invalid = |m: String| Err(EngineError::Invalid(m));
    if input.sku.is_some() {
        return invalid("sku: a variant family has no SKU of its own: give each of its variants one (variants[].sku), or none to let the POS choose".into());
    }
    if input.variants.len() > FAMILY_MAX {
        return invalid(format!(
            "variants has {} products: a variant family has at most {FAMILY_MAX}",
            input.variants.len()
        ));
    }
    let names = |v: &VariantInput| -> Vec<String> {
        v.options
            .iter()
            .map(|o| o.name.trim().to_lowercase())
            .collect()
    };
    let first = names(&input.variants[0]);
    let mut seen_values = BTreeSet::new();
    let mut seen_skus = BTreeSet::new();
    for (n, v) in input.variants.iter().enumerate() {
        if v.options.is_empty() || v.options.len() > 3 {
            return invalid(format!(
                "variants[{n}].options has {} options: give 1 to 3, such as [{{\"name\": \"Size\", \"value\": \"M\"}}]",
                v.options.len()
            ));
        }
        if let Some(k) = v
            .options
            .iter()
            .position(|o| o.name.trim().is_empty() || o.value.trim().is_empty())
        {
            return invalid(format!(
                "variants[{n}].options[{k}] needs a name and a value, such as {{\"name\": \"Size\", \"value\": \"M\"}}"
            ));
        }
        if names(v) != first {
            return invalid(format!(
                "variants[{n}].options names {:?}, variants[0] {first:?}: every variant names the same options in the same order",
                names(v)
            ));
        }
        let values: Vec<String> = v
            .options
            .iter()
            .map(|o| o.value.trim().to_lowercase())
            .collect();
        if !seen_values.insert(values) {
            return invalid(format!(
                "variants[{n}] has the same option values as an earlier variant: each variant of a family differs from the others"
            ));
        }
        if let Some(p) = v.price_minor.filter(|p| *p < 0) {
            return invalid(format!(
                "variants[{n}].price_minor is {p}: prices are zero or more, in minor units"
            ));
        }
        if let Some(sku) = &v.sku {
            let sku = sku.trim();
            if sku.is_empty() || sku.chars().count() > 32 {
                return invalid(format!(
                    "variants[{n}].sku `{sku}` must be 1 to 32 characters"
                ));
            }
            if !seen_skus.insert(sku.to_owned()) {
                return invalid(format!(
                    "variants[{n}].sku `{sku}` is given to two variants: each needs its own"
                ));
            }
        }
    }
    Ok(())
}

/// What Lightspeed refused, said as the request's fault (400/404) or the connection's (403).
fn refused(e: EngineError, what: &str) -> EngineError {
    match e {
        EngineError::Provider(LightspeedError::BadRequest { status: 404, detail, .. }) => {
            EngineError::NotFound(format!("Lightspeed could not {what}: {detail}"))
        }
        EngineError::Provider(LightspeedError::BadRequest { detail, .. }) => {
            EngineError::Invalid(format!("Lightspeed refused to {what}: {detail}"))
        }
        EngineError::Provider(LightspeedError::Forbidden { detail, .. }) => {
            EngineError::Conflict(format!(
                "Lightspeed refused to {what} with this connection's access ({detail}): reconnect the connection so that it grants the `items` scope"
            ))
        }
        other => other,
    }
}

fn pos_item(item: tillbridge_lightspeed::kseries::wire::Item) -> Result<PosItem, EngineError> {
    Ok(PosItem {
        variants: Vec::new(),
        pos_item_id: item.id.to_string(),
        sku: item.sku.unwrap_or_default(),
        name: item.name,
        price_minor: item
            .prices
            .first()
            .and_then(|p| p.amount.as_ref())
            .and_then(|a| tillbridge_model::money::parse_minor(&a.as_text(), 2).ok()),
        category_id: item
            .accounting_group
            .and_then(|g| g.id)
            .map(|id| id.to_string()),
    })
}
