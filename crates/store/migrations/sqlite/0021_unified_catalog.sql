-- The unified catalog: what every series says about an item, beside what online orders are
-- checked against. `category` is the category's name on every series, `category_id` its id.
ALTER TABLE pos_menu_items ADD COLUMN category_id TEXT;
-- The item's default tax rate in basis points (900 = 9 %), and whether its price includes it
-- (1) or not (0).
ALTER TABLE pos_menu_items ADD COLUMN tax_rate_bp BIGINT;
ALTER TABLE pos_menu_items ADD COLUMN tax_included BIGINT;
-- Rich data: allergen codes and descriptions per locale (JSON arrays), and a picture's URL.
ALTER TABLE pos_menu_items ADD COLUMN allergens TEXT NOT NULL DEFAULT '[]';
ALTER TABLE pos_menu_items ADD COLUMN descriptions TEXT NOT NULL DEFAULT '[]';
ALTER TABLE pos_menu_items ADD COLUMN image_url TEXT;

-- The allergens a connection's items may name, with their translations (JSON object
-- locale → text), replaced on each catalog run.
CREATE TABLE pos_allergens (
    merchant_id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    code TEXT NOT NULL,
    translations TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, connection_id, code)
);
