-- What a menu item is (`item`: sold on its own; `modifier`: a priced add-on sold only as a
-- sub-item; `deal`: a combo) and what an order line of it chooses from as sub-items: K-Series
-- product modifier groups and deal groups, as a JSON array of
-- {sku, name, min, max, options: [{sku, name, price_minor}]}.
ALTER TABLE pos_menu_items ADD COLUMN kind TEXT NOT NULL DEFAULT 'item';
ALTER TABLE pos_menu_items ADD COLUMN choices TEXT NOT NULL DEFAULT '[]';
