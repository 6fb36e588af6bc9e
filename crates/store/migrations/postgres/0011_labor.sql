-- Labor: the weekly balance of each department, imported from synced POS orders.

-- The register an order was rung up on, so departments can split a location by register.
ALTER TABLE orders ADD COLUMN register_id TEXT;
UPDATE orders SET register_id = (body::jsonb)->>'register_id';
-- What each order adds to sales figures (tillbridge_model::SalesFigures), computed when the
-- order is stored so reports sum orders instead of reading every line again; existing orders
-- are filled in from their lines by the same rules.
ALTER TABLE orders ADD COLUMN sold_lines BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN gross_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN sold_discount_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN returns_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN gross_excl_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN sold_discount_excl_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN returns_excl_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN goods_milli BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN returned_milli BIGINT NOT NULL DEFAULT 0;
UPDATE orders SET
    sold_lines = (SELECT CAST(COALESCE(SUM(CASE WHEN l.quantity_milli > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) FROM order_lines l WHERE l.merchant_id = orders.merchant_id AND l.order_id = orders.id AND NOT l.voided),
    gross_minor = (SELECT CAST(COALESCE(SUM(CASE WHEN l.quantity_milli > 0 THEN l.total_minor + l.discount_minor ELSE 0 END), 0) AS BIGINT) FROM order_lines l WHERE l.merchant_id = orders.merchant_id AND l.order_id = orders.id AND NOT l.voided),
    sold_discount_minor = (SELECT CAST(COALESCE(SUM(CASE WHEN l.quantity_milli > 0 THEN l.discount_minor ELSE 0 END), 0) AS BIGINT) FROM order_lines l WHERE l.merchant_id = orders.merchant_id AND l.order_id = orders.id AND NOT l.voided),
    returns_minor = (SELECT CAST(COALESCE(SUM(CASE WHEN l.quantity_milli < 0 THEN ABS(l.total_minor) ELSE 0 END), 0) AS BIGINT) FROM order_lines l WHERE l.merchant_id = orders.merchant_id AND l.order_id = orders.id AND NOT l.voided),
    gross_excl_minor = (SELECT CAST(COALESCE(SUM(CASE WHEN l.quantity_milli > 0 THEN l.net_minor + (CASE WHEN l.total_minor = 0 THEN l.discount_minor ELSE (2 * (CASE WHEN l.total_minor > 0 THEN l.discount_minor * l.net_minor ELSE -(l.discount_minor * l.net_minor) END) + CASE WHEN (CASE WHEN l.total_minor > 0 THEN l.discount_minor * l.net_minor ELSE -(l.discount_minor * l.net_minor) END) >= 0 THEN ABS(l.total_minor) ELSE -ABS(l.total_minor) END) / (2 * ABS(l.total_minor)) END) ELSE 0 END), 0) AS BIGINT) FROM order_lines l WHERE l.merchant_id = orders.merchant_id AND l.order_id = orders.id AND NOT l.voided),
    sold_discount_excl_minor = (SELECT CAST(COALESCE(SUM(CASE WHEN l.quantity_milli > 0 THEN (CASE WHEN l.total_minor = 0 THEN l.discount_minor ELSE (2 * (CASE WHEN l.total_minor > 0 THEN l.discount_minor * l.net_minor ELSE -(l.discount_minor * l.net_minor) END) + CASE WHEN (CASE WHEN l.total_minor > 0 THEN l.discount_minor * l.net_minor ELSE -(l.discount_minor * l.net_minor) END) >= 0 THEN ABS(l.total_minor) ELSE -ABS(l.total_minor) END) / (2 * ABS(l.total_minor)) END) ELSE 0 END), 0) AS BIGINT) FROM order_lines l WHERE l.merchant_id = orders.merchant_id AND l.order_id = orders.id AND NOT l.voided),
    returns_excl_minor = (SELECT CAST(COALESCE(SUM(CASE WHEN l.quantity_milli < 0 THEN ABS(l.net_minor) ELSE 0 END), 0) AS BIGINT) FROM order_lines l WHERE l.merchant_id = orders.merchant_id AND l.order_id = orders.id AND NOT l.voided),
    goods_milli = (SELECT CAST(COALESCE(SUM(CASE WHEN l.quantity_milli > 0 AND (l.unit_price_minor <> 0 OR l.total_minor <> 0) THEN l.quantity_milli ELSE 0 END), 0) AS BIGINT) FROM order_lines l WHERE l.merchant_id = orders.merchant_id AND l.order_id = orders.id AND NOT l.voided),
    returned_milli = (SELECT CAST(COALESCE(SUM(CASE WHEN l.quantity_milli < 0 THEN ABS(l.quantity_milli) ELSE 0 END), 0) AS BIGINT) FROM order_lines l WHERE l.merchant_id = orders.merchant_id AND l.order_id = orders.id AND NOT l.voided);

-- When a job last finished a run with everything read: the weekly balance imports a day only
-- once its connection's order streams have read past the day's end.
ALTER TABLE jobs ADD COLUMN last_success_at BIGINT;

-- A location's orders by closing time, carrying what the weekly balance sums, so a rebuild
-- reads the index alone (an order's row also holds its body).
CREATE INDEX orders_location_closed ON orders (merchant_id, connection_id, external_location_id, closed_at,
    kind, status, external_id, register_id, covers, sold_lines, gross_minor, sold_discount_minor, returns_minor,
    gross_excl_minor, sold_discount_excl_minor, returns_excl_minor, goods_milli, returned_milli);
-- The sales a void record cancels, per location.
CREATE INDEX orders_voids ON orders (merchant_id, connection_id, external_location_id, original_external_id) WHERE kind = 'void';

-- One row per merchant: the settings (JSON) and where the schedule stands.
CREATE TABLE labor_settings (
    merchant_id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    enabled_at BIGINT,
    last_import_at BIGINT,
    last_confirm_at BIGINT,
    updated_at BIGINT NOT NULL
);

-- A department: its POS client number, terminals, zone, business-day start and weekly
-- balance fields (JSON).
CREATE TABLE labor_departments (
    merchant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, id)
);

-- The state of one business day of one department.
CREATE TABLE labor_days (
    merchant_id TEXT NOT NULL,
    department_id TEXT NOT NULL,
    business_date TEXT NOT NULL,
    import_status TEXT NOT NULL,
    import_error TEXT,
    imported_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    confirmed_by TEXT,
    discrepancy TEXT,
    values_hash TEXT,
    PRIMARY KEY (merchant_id, department_id, business_date)
);

-- The weekly balance values of a department's business day: a row per local hour (0-23, or -1
-- for the daily totals of fields without hourly split) with a column per field type; NULL where
-- a field has no value.
CREATE TABLE labor_values (
    merchant_id TEXT NOT NULL,
    department_id TEXT NOT NULL,
    business_date TEXT NOT NULL,
    hour BIGINT NOT NULL,
    gross_sales BIGINT,
    net_sales BIGINT,
    discounts BIGINT,
    returns BIGINT,
    transactions BIGINT,
    goods_sold BIGINT,
    returned_goods BIGINT,
    visitors BIGINT,
    PRIMARY KEY (merchant_id, department_id, business_date, hour)
);

-- Imports: scheduled runs and historical "Import POS" jobs with their progress.
CREATE TABLE labor_imports (
    merchant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    departments TEXT NOT NULL,
    from_date TEXT NOT NULL,
    until_date TEXT NOT NULL,
    overwrite_approved BIGINT NOT NULL,
    state TEXT NOT NULL,
    days_total BIGINT NOT NULL,
    days_done BIGINT NOT NULL,
    days_failed BIGINT NOT NULL,
    error TEXT,
    cancel_requested BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    PRIMARY KEY (merchant_id, id)
);
CREATE INDEX labor_imports_state ON labor_imports (merchant_id, state, created_at);

-- Who overwrote which approved day, when, with the values before and after.
CREATE TABLE labor_audit (
    merchant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    import_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    at BIGINT NOT NULL,
    department_id TEXT NOT NULL,
    business_date TEXT NOT NULL,
    old_values TEXT NOT NULL,
    new_values TEXT NOT NULL,
    PRIMARY KEY (merchant_id, id)
);
