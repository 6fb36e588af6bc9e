-- K-Series production instructions an order line may carry ("Milk": "Oat milk"…), as a JSON
-- array of groups {id, name, multiple, instructions: [{id, name}]}.
ALTER TABLE pos_menu_items ADD COLUMN instructions TEXT NOT NULL DEFAULT '[]';
