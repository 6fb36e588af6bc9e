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

-- A purchase's share of the roll-up, added (sign 1) or taken away (sign -1): a row for its
-- sale date and, when it counts, one for each previous date. The one definition the trigger
-- and a rebuild use.
CREATE FUNCTION loyalty_day_shares(r loyalty_purchases, sign BIGINT)
RETURNS TABLE (merchant_id TEXT, day TEXT, spend_minor BIGINT, purchases BIGINT, prev_of BIGINT,
    prev2_of BIGINT, new_day BIGINT, repeat_day BIGINT, new_week BIGINT, repeat_week BIGINT,
    new_month BIGINT, repeat_month BIGINT)
LANGUAGE sql IMMUTABLE AS $$
    SELECT r.merchant_id, r.sale_date, sign * r.net_eligible_minor, c, 0::BIGINT, 0::BIGINT,
        c * (CASE WHEN r.prev_date IS NULL OR r.prev_date < r.sale_date THEN 1 ELSE 0 END),
        c * (CASE WHEN r.prev_date >= r.sale_date AND (r.prev2_date IS NULL OR r.prev2_date < r.sale_date) THEN 1 ELSE 0 END),
        c * (CASE WHEN r.prev_date IS NULL OR r.prev_date < w THEN 1 ELSE 0 END),
        c * (CASE WHEN r.prev_date >= w AND (r.prev2_date IS NULL OR r.prev2_date < w) THEN 1 ELSE 0 END),
        c * (CASE WHEN r.prev_date IS NULL OR r.prev_date < m THEN 1 ELSE 0 END),
        c * (CASE WHEN r.prev_date >= m AND (r.prev2_date IS NULL OR r.prev2_date < m) THEN 1 ELSE 0 END)
    FROM (SELECT CASE WHEN r.net_eligible_minor > 0 THEN sign ELSE 0 END AS c,
                 to_char(date_trunc('week', r.sale_date::timestamp), 'YYYY-MM-DD') AS w,
                 substr(r.sale_date, 1, 8) || '01' AS m) x
    WHERE r.member_id IS NOT NULL AND r.sale_date IS NOT NULL
    UNION ALL
    SELECT r.merchant_id, r.prev_date, 0, 0, sign, 0, 0, 0, 0, 0, 0, 0
    WHERE r.member_id IS NOT NULL AND r.sale_date IS NOT NULL AND r.net_eligible_minor > 0 AND r.prev_date IS NOT NULL
    UNION ALL
    SELECT r.merchant_id, r.prev2_date, 0, 0, 0, sign, 0, 0, 0, 0, 0, 0
    WHERE r.member_id IS NOT NULL AND r.sale_date IS NOT NULL AND r.net_eligible_minor > 0 AND r.prev2_date IS NOT NULL
$$;

-- Takes away the old row's share and adds the new one's (OLD is NULL on insert, NEW on
-- delete). A statement that rewrites a whole merchant's purchases sets
-- `tillbridge.loyalty_days` to `rebuilding` for its transaction and rebuilds the merchant's
-- rows after it: one upsert per row would update each day hundreds of times in one
-- transaction.
CREATE FUNCTION loyalty_purchases_days() RETURNS trigger AS $$
BEGIN
    IF current_setting('tillbridge.loyalty_days', true) = 'rebuilding' THEN
        RETURN NULL;
    END IF;
    INSERT INTO loyalty_days AS t (merchant_id, day, spend_minor, purchases, prev_of, prev2_of,
        new_day, repeat_day, new_week, repeat_week, new_month, repeat_month)
    SELECT s.merchant_id, s.day, SUM(s.spend_minor), SUM(s.purchases), SUM(s.prev_of), SUM(s.prev2_of),
        SUM(s.new_day), SUM(s.repeat_day), SUM(s.new_week), SUM(s.repeat_week), SUM(s.new_month), SUM(s.repeat_month)
    FROM (SELECT * FROM loyalty_day_shares(OLD, -1) UNION ALL SELECT * FROM loyalty_day_shares(NEW, 1)) s
    GROUP BY s.merchant_id, s.day
    ON CONFLICT (merchant_id, day) DO UPDATE SET
        spend_minor = t.spend_minor + excluded.spend_minor,
        purchases = t.purchases + excluded.purchases,
        prev_of = t.prev_of + excluded.prev_of,
        prev2_of = t.prev2_of + excluded.prev2_of,
        new_day = t.new_day + excluded.new_day,
        repeat_day = t.repeat_day + excluded.repeat_day,
        new_week = t.new_week + excluded.new_week,
        repeat_week = t.repeat_week + excluded.repeat_week,
        new_month = t.new_month + excluded.new_month,
        repeat_month = t.repeat_month + excluded.repeat_month;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER loyalty_purchases_days_write AFTER INSERT OR DELETE ON loyalty_purchases
FOR EACH ROW EXECUTE FUNCTION loyalty_purchases_days();

CREATE TRIGGER loyalty_purchases_days_update AFTER UPDATE ON loyalty_purchases
FOR EACH ROW WHEN (OLD.member_id IS DISTINCT FROM NEW.member_id OR OLD.sale_date IS DISTINCT FROM NEW.sale_date
  OR OLD.prev_date IS DISTINCT FROM NEW.prev_date OR OLD.prev2_date IS DISTINCT FROM NEW.prev2_date
  OR OLD.net_eligible_minor IS DISTINCT FROM NEW.net_eligible_minor)
EXECUTE FUNCTION loyalty_purchases_days();

-- A merchant's day rows from their purchases (see loyalty_purchases_days).
CREATE FUNCTION loyalty_days_rebuild(merchant TEXT) RETURNS void AS $$
    DELETE FROM loyalty_days WHERE merchant_id = merchant;
    INSERT INTO loyalty_days (merchant_id, day, spend_minor, purchases, prev_of, prev2_of,
        new_day, repeat_day, new_week, repeat_week, new_month, repeat_month)
    SELECT s.merchant_id, s.day, SUM(s.spend_minor), SUM(s.purchases), SUM(s.prev_of), SUM(s.prev2_of),
        SUM(s.new_day), SUM(s.repeat_day), SUM(s.new_week), SUM(s.repeat_week), SUM(s.new_month), SUM(s.repeat_month)
    FROM loyalty_purchases p CROSS JOIN LATERAL loyalty_day_shares(p, 1) s
    WHERE p.merchant_id = merchant
    GROUP BY s.merchant_id, s.day;
$$ LANGUAGE sql;

SELECT loyalty_days_rebuild(merchant_id) FROM (SELECT DISTINCT merchant_id FROM loyalty_purchases) m;

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

CREATE FUNCTION credit_ledger_hours() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE credit_hours SET amount_minor = amount_minor - OLD.amount_minor
        WHERE merchant_id = OLD.merchant_id AND hour = OLD.created_at - OLD.created_at % 3600000 AND kind = OLD.kind;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO credit_hours AS t (merchant_id, hour, kind, amount_minor)
        VALUES (NEW.merchant_id, NEW.created_at - NEW.created_at % 3600000, NEW.kind, NEW.amount_minor)
        ON CONFLICT (merchant_id, hour, kind) DO UPDATE SET amount_minor = t.amount_minor + excluded.amount_minor;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER credit_ledger_hours_write AFTER INSERT OR DELETE ON credit_ledger
FOR EACH ROW EXECUTE FUNCTION credit_ledger_hours();

CREATE TRIGGER credit_ledger_hours_update AFTER UPDATE ON credit_ledger
FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.kind IS DISTINCT FROM NEW.kind
  OR OLD.amount_minor IS DISTINCT FROM NEW.amount_minor)
EXECUTE FUNCTION credit_ledger_hours();

INSERT INTO credit_hours (merchant_id, hour, kind, amount_minor)
SELECT merchant_id, created_at - created_at % 3600000, kind, SUM(amount_minor)
FROM credit_ledger GROUP BY merchant_id, created_at - created_at % 3600000, kind;
