-- An item's place in an X-Series variant family ("T-Shirt" in sizes S, M and L), as JSON
-- {family_id, family, options: [{name, value}]}; NULL for an item outside any family.
ALTER TABLE pos_menu_items ADD COLUMN variant TEXT;
