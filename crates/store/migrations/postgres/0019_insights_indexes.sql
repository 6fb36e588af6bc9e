-- Insights sum members' purchases in the database without grouping them by member.
--
-- Each counting purchase (a member's, with a business date and a net eligible amount above
-- zero) knows the business dates of the member's two counting purchases before it, in the
-- order (sale_date, closed_at, connection_id, sale_external_id). A member bought in a period
-- starting on S when one of their purchases in it has prev_date NULL or before S, and came
-- back when one has prev_date on or after S and prev2_date NULL or before S: each member is
-- counted once, by one row. On other purchases the two dates mean nothing.
ALTER TABLE loyalty_purchases ADD COLUMN prev_date TEXT;
ALTER TABLE loyalty_purchases ADD COLUMN prev2_date TEXT;
UPDATE loyalty_purchases SET prev_date = s.p1, prev2_date = s.p2
FROM (SELECT merchant_id, connection_id, sale_external_id,
             LAG(sale_date, 1) OVER w AS p1, LAG(sale_date, 2) OVER w AS p2
      FROM loyalty_purchases
      WHERE member_id IS NOT NULL AND sale_date IS NOT NULL AND net_eligible_minor > 0
      WINDOW w AS (PARTITION BY merchant_id, member_id
                   ORDER BY sale_date, closed_at, connection_id, sale_external_id)) s
WHERE loyalty_purchases.merchant_id = s.merchant_id
  AND loyalty_purchases.connection_id = s.connection_id
  AND loyalty_purchases.sale_external_id = s.sale_external_id;

-- Each member's counting purchases and net eligible spend over all time (purchases with a
-- business date), for the lifetime figures.
ALTER TABLE members ADD COLUMN purchase_orders BIGINT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN purchase_spend_minor BIGINT NOT NULL DEFAULT 0;
UPDATE members SET
  purchase_orders = (SELECT COUNT(*) FROM loyalty_purchases p
                     WHERE p.merchant_id = members.merchant_id AND p.member_id = members.id
                       AND p.sale_date IS NOT NULL AND p.net_eligible_minor > 0),
  purchase_spend_minor = (SELECT COALESCE(SUM(p.net_eligible_minor), 0) FROM loyalty_purchases p
                          WHERE p.merchant_id = members.merchant_id AND p.member_id = members.id
                            AND p.sale_date IS NOT NULL);

-- The indexes cover what the sums read, so they never touch the tables: the purchases of a
-- range by business date, a member's purchases, the members' figures, the credit posted in a
-- range, and the orders of a range by business date.
DROP INDEX loyalty_purchases_member;
CREATE INDEX loyalty_purchases_member ON loyalty_purchases (merchant_id, member_id, sale_date, net_eligible_minor);
CREATE INDEX loyalty_purchases_date ON loyalty_purchases (merchant_id, sale_date, member_id, net_eligible_minor, prev_date, prev2_date);
CREATE INDEX members_figures ON members (merchant_id, segment, tier_id, balance_minor, purchase_orders, purchase_spend_minor);
CREATE INDEX credit_ledger_posted ON credit_ledger (merchant_id, created_at, kind, amount_minor);
CREATE INDEX orders_business_date ON orders (merchant_id, business_date, kind, status, total_minor, tip_minor, tax_minor);
