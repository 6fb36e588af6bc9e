-- Insights sum members' purchases in the database. Both indexes cover what they read (member,
-- business date, net), so the sums never touch the table: per member for all time and a
-- range, and per business date for the periods of a range.
DROP INDEX loyalty_purchases_member;
CREATE INDEX loyalty_purchases_member ON loyalty_purchases (merchant_id, member_id, sale_date, net_eligible_minor);
CREATE INDEX loyalty_purchases_date ON loyalty_purchases (merchant_id, sale_date, member_id, net_eligible_minor);
-- Members per segment and per tier, and the credit outstanding, counted from the index alone.
CREATE INDEX members_segment ON members (merchant_id, segment, balance_minor);
CREATE INDEX members_tier ON members (merchant_id, tier_id);
