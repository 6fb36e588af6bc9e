-- Labor: the weekly balance of each department, imported from synced POS orders.

-- The register an order was rung up on, so departments can split a location by register.
ALTER TABLE orders ADD COLUMN register_id TEXT;
UPDATE orders SET register_id = json_extract(body, '$.register_id');
-- When a job last finished a run with everything read: the weekly balance imports a day only
-- once its connection's order streams have read past the day's end.
ALTER TABLE jobs ADD COLUMN last_success_at BIGINT;

CREATE INDEX orders_location_closed ON orders (merchant_id, connection_id, external_location_id, closed_at);

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
    PRIMARY KEY (merchant_id, department_id, business_date)
);

-- A weekly balance value: hour is the local hour (0-23), or -1 for a field without hourly split.
CREATE TABLE labor_values (
    merchant_id TEXT NOT NULL,
    department_id TEXT NOT NULL,
    business_date TEXT NOT NULL,
    hour BIGINT NOT NULL,
    field_id TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, department_id, business_date, hour, field_id)
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
