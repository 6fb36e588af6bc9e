-- Insights read members' purchases and credit as roll-ups that triggers keep equal to the
-- rows they sum, so a page reads a year as a few hundred rows whatever the number of
-- purchases, and no writer can forget them.
--
-- loyalty_days: per business date, the members' purchases (member_id and sale_date set):
--   spend_minor   net eligible amount of those dated that day (refunds included);
--   purchases     counting ones dated that day (net eligible above zero);
--   prev_of       counting ones whose member's previous counting purchase is dated that day;
--   prev2_of      the same for the purchase before that;
--   new_P         counting ones dated that day that are their member's first in the period P
--                 (day, ISO week from Monday, month) holding the day: no previous purchase,
--                 or one before the period's first day;
--   repeat_P      their member's second in that period.
-- A period starting on its own first day sums its new_P and repeat_P; a range from any date F
-- counts its buying members as the sum from F on of purchases - prev_of and its returning
-- ones as the sum of prev_of - prev2_of, less the purchases after the range (read directly).
CREATE TABLE loyalty_days (
    merchant_id TEXT NOT NULL,
    day TEXT NOT NULL,
    spend_minor BIGINT NOT NULL DEFAULT 0,
    purchases BIGINT NOT NULL DEFAULT 0,
    prev_of BIGINT NOT NULL DEFAULT 0,
    prev2_of BIGINT NOT NULL DEFAULT 0,
    new_day BIGINT NOT NULL DEFAULT 0,
    repeat_day BIGINT NOT NULL DEFAULT 0,
    new_week BIGINT NOT NULL DEFAULT 0,
    repeat_week BIGINT NOT NULL DEFAULT 0,
    new_month BIGINT NOT NULL DEFAULT 0,
    repeat_month BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (merchant_id, day)
);

-- A purchase's share of the roll-up, added (sign 1) or taken away (sign -1). Inserting into
-- this view stores nothing; its trigger applies the share.
CREATE VIEW loyalty_day_shares (merchant_id, member_id, sale_date, prev_date, prev2_date, net_eligible_minor, sign)
AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0;

CREATE TRIGGER loyalty_day_shares_apply INSTEAD OF INSERT ON loyalty_day_shares
WHEN NEW.member_id IS NOT NULL AND NEW.sale_date IS NOT NULL
BEGIN
    INSERT INTO loyalty_days (merchant_id, day, spend_minor, purchases,
        new_day, repeat_day, new_week, repeat_week, new_month, repeat_month)
    SELECT NEW.merchant_id, NEW.sale_date, NEW.sign * NEW.net_eligible_minor, NEW.sign * c,
        NEW.sign * c * (CASE WHEN p IS NULL OR p < d THEN 1 ELSE 0 END),
        NEW.sign * c * (CASE WHEN p >= d AND (p2 IS NULL OR p2 < d) THEN 1 ELSE 0 END),
        NEW.sign * c * (CASE WHEN p IS NULL OR p < w THEN 1 ELSE 0 END),
        NEW.sign * c * (CASE WHEN p >= w AND (p2 IS NULL OR p2 < w) THEN 1 ELSE 0 END),
        NEW.sign * c * (CASE WHEN p IS NULL OR p < m THEN 1 ELSE 0 END),
        NEW.sign * c * (CASE WHEN p >= m AND (p2 IS NULL OR p2 < m) THEN 1 ELSE 0 END)
    FROM (SELECT CASE WHEN NEW.net_eligible_minor > 0 THEN 1 ELSE 0 END AS c,
                 NEW.prev_date AS p, NEW.prev2_date AS p2, NEW.sale_date AS d,
                 date(NEW.sale_date, '-6 days', 'weekday 1') AS w,
                 substr(NEW.sale_date, 1, 8) || '01' AS m)
    WHERE true
    ON CONFLICT (merchant_id, day) DO UPDATE SET
        spend_minor = spend_minor + excluded.spend_minor,
        purchases = purchases + excluded.purchases,
        new_day = new_day + excluded.new_day,
        repeat_day = repeat_day + excluded.repeat_day,
        new_week = new_week + excluded.new_week,
        repeat_week = repeat_week + excluded.repeat_week,
        new_month = new_month + excluded.new_month,
        repeat_month = repeat_month + excluded.repeat_month;
    INSERT INTO loyalty_days (merchant_id, day, prev_of)
    SELECT NEW.merchant_id, NEW.prev_date, NEW.sign
    WHERE NEW.net_eligible_minor > 0 AND NEW.prev_date IS NOT NULL
    ON CONFLICT (merchant_id, day) DO UPDATE SET prev_of = prev_of + excluded.prev_of;
    INSERT INTO loyalty_days (merchant_id, day, prev2_of)
    SELECT NEW.merchant_id, NEW.prev2_date, NEW.sign
    WHERE NEW.net_eligible_minor > 0 AND NEW.prev2_date IS NOT NULL
    ON CONFLICT (merchant_id, day) DO UPDATE SET prev2_of = prev2_of + excluded.prev2_of;
END;

CREATE TRIGGER loyalty_purchases_days_insert AFTER INSERT ON loyalty_purchases
BEGIN
    INSERT INTO loyalty_day_shares VALUES
        (NEW.merchant_id, NEW.member_id, NEW.sale_date, NEW.prev_date, NEW.prev2_date, NEW.net_eligible_minor, 1);
END;

CREATE TRIGGER loyalty_purchases_days_update AFTER UPDATE ON loyalty_purchases
WHEN OLD.member_id IS NOT NEW.member_id OR OLD.sale_date IS NOT NEW.sale_date
  OR OLD.prev_date IS NOT NEW.prev_date OR OLD.prev2_date IS NOT NEW.prev2_date
  OR OLD.net_eligible_minor IS NOT NEW.net_eligible_minor
BEGIN
    INSERT INTO loyalty_day_shares VALUES
        (OLD.merchant_id, OLD.member_id, OLD.sale_date, OLD.prev_date, OLD.prev2_date, OLD.net_eligible_minor, -1),
        (NEW.merchant_id, NEW.member_id, NEW.sale_date, NEW.prev_date, NEW.prev2_date, NEW.net_eligible_minor, 1);
END;

CREATE TRIGGER loyalty_purchases_days_delete AFTER DELETE ON loyalty_purchases
BEGIN
    INSERT INTO loyalty_day_shares VALUES
        (OLD.merchant_id, OLD.member_id, OLD.sale_date, OLD.prev_date, OLD.prev2_date, OLD.net_eligible_minor, -1);
END;

INSERT INTO loyalty_day_shares
SELECT merchant_id, member_id, sale_date, prev_date, prev2_date, net_eligible_minor, 1 FROM loyalty_purchases;

-- credit_hours: the credit ledger summed per kind and UTC hour of posting (`hour` is the
-- hour's first instant in milliseconds). A period between local midnights sums its whole
-- hours here and reads the entries of a part-hour at either end (zones offset by :30 or :45)
-- from the ledger.
CREATE TABLE credit_hours (
    merchant_id TEXT NOT NULL,
    hour BIGINT NOT NULL,
    kind TEXT NOT NULL,
    amount_minor BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (merchant_id, hour, kind)
);

CREATE TRIGGER credit_ledger_hours_insert AFTER INSERT ON credit_ledger
BEGIN
    INSERT INTO credit_hours (merchant_id, hour, kind, amount_minor)
    VALUES (NEW.merchant_id, NEW.created_at - NEW.created_at % 3600000, NEW.kind, NEW.amount_minor)
    ON CONFLICT (merchant_id, hour, kind) DO UPDATE SET amount_minor = amount_minor + excluded.amount_minor;
END;

CREATE TRIGGER credit_ledger_hours_update AFTER UPDATE ON credit_ledger
WHEN OLD.created_at IS NOT NEW.created_at OR OLD.kind IS NOT NEW.kind OR OLD.amount_minor IS NOT NEW.amount_minor
BEGIN
    UPDATE credit_hours SET amount_minor = amount_minor - OLD.amount_minor
    WHERE merchant_id = OLD.merchant_id AND hour = OLD.created_at - OLD.created_at % 3600000 AND kind = OLD.kind;
    INSERT INTO credit_hours (merchant_id, hour, kind, amount_minor)
    VALUES (NEW.merchant_id, NEW.created_at - NEW.created_at % 3600000, NEW.kind, NEW.amount_minor)
    ON CONFLICT (merchant_id, hour, kind) DO UPDATE SET amount_minor = amount_minor + excluded.amount_minor;
END;

CREATE TRIGGER credit_ledger_hours_delete AFTER DELETE ON credit_ledger
BEGIN
    UPDATE credit_hours SET amount_minor = amount_minor - OLD.amount_minor
    WHERE merchant_id = OLD.merchant_id AND hour = OLD.created_at - OLD.created_at % 3600000 AND kind = OLD.kind;
END;

INSERT INTO credit_hours (merchant_id, hour, kind, amount_minor)
SELECT merchant_id, created_at - created_at % 3600000, kind, SUM(amount_minor)
FROM credit_ledger GROUP BY merchant_id, created_at - created_at % 3600000, kind;
