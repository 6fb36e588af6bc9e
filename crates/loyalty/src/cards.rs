//! Punch cards, including category-based ones ("buy 10 coffees, get 1 free" on "Hot Drinks").
//!
//! Like credit, stamps are recomputed for the whole purchase (a sale with its refunds and
//! voids) from the category recorded on each line at the time of sale, and only the difference
//! is applied to the card: overflow issues every reward it completes and carries the rest;
//! removals take stamps back, revoking an unredeemed reward when the card has too few (one from
//! the same purchase first, then the most recent other one) and recording a shortfall when only
//! redeemed rewards remain.

use serde::{Deserialize, Serialize};

/// One category a card counts: by id or by name (names compare case-insensitively), optionally
/// only on one connection (category ids are per connection).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryRef {
    #[serde(default)]
    pub connection_id: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StampMode {
    /// One stamp per matching item (Σ quantity of matching lines).
    #[default]
    PerItem,
    /// One stamp when any line matches.
    PerOrder,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PunchCard {
    pub stamps_required: u32,
    /// Empty: every line counts.
    #[serde(default)]
    pub categories: Vec<CategoryRef>,
    #[serde(default)]
    pub mode: StampMode,
    /// The purchase's eligible amount must reach this to stamp.
    #[serde(default)]
    pub min_order_minor: Option<i64>,
    #[serde(default)]
    pub max_per_order: Option<u32>,
    #[serde(default)]
    pub max_per_day: Option<u32>,
}

impl PunchCard {
    pub fn validate(&self) -> Result<(), String> {
        if self.stamps_required == 0 {
            return Err("`stamps_required` must be at least 1".into());
        }
        if let Some(c) = self.categories.iter().find(|c| {
            c.id.as_deref().is_none_or(str::is_empty) && c.name.as_deref().is_none_or(str::is_empty)
        }) {
            return Err(format!(
                "a category filter needs an `id` or a `name`{}",
                c.connection_id
                    .as_deref()
                    .map(|id| format!(" (connection `{id}`)"))
                    .unwrap_or_default()
            ));
        }
        if self.max_per_order == Some(0) || self.max_per_day == Some(0) {
            return Err("`max_per_order` and `max_per_day` must be at least 1 when set".into());
        }
        Ok(())
    }

    fn matches(&self, line: &StampLine) -> bool {
        self.categories.is_empty()
            || self.categories.iter().any(|c| {
                c.connection_id
                    .as_deref()
                    .is_none_or(|id| id == line.connection_id)
                    && (c.id.is_some() && c.id.as_deref() == line.category_id
                        || c.name.as_deref().is_some_and(|n| {
                            line.category
                                .is_some_and(|l| l.trim().eq_ignore_ascii_case(n.trim()))
                        }))
            })
    }
}

/// A line of a purchase as a card sees it; refund lines have negative quantities.
#[derive(Clone, Copy, Debug)]
pub struct StampLine<'a> {
    pub connection_id: &'a str,
    pub category_id: Option<&'a str>,
    pub category: Option<&'a str>,
    /// Thousandths of a unit.
    pub quantity_milli: i64,
    pub voided: bool,
}

/// The stamps a whole purchase is entitled to. `stamped_same_day_elsewhere` is what the
/// member's other purchases of the same business day already got on this card (for the daily
/// cap).
pub fn entitled_stamps(
    card: &PunchCard,
    lines: &[StampLine],
    net_eligible_minor: i64,
    stamped_same_day_elsewhere: u32,
) -> u32 {
    if card
        .min_order_minor
        .is_some_and(|min| net_eligible_minor < min)
    {
        return 0;
    }
    let matching: i64 = lines
        .iter()
        .filter(|l| !l.voided && card.matches(l))
        .map(|l| l.quantity_milli)
        .sum();
    let mut stamps = match card.mode {
        StampMode::PerItem => u32::try_from(matching.max(0) / 1000).unwrap_or(u32::MAX),
        StampMode::PerOrder => u32::from(matching > 0),
    };
    if let Some(cap) = card.max_per_order {
        stamps = stamps.min(cap);
    }
    if let Some(cap) = card.max_per_day {
        stamps = stamps.min(cap.saturating_sub(stamped_same_day_elsewhere));
    }
    stamps
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reward {
    pub id: String,
    /// The purchase whose stamps completed it.
    pub purchase: String,
    pub redeemed: bool,
}

/// A member's progress on one card.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardState {
    pub current: u32,
    pub lifetime: u64,
    /// Issued and not revoked (redeemed or not).
    pub rewards: Vec<Reward>,
    /// Stamps that could not be taken back because their reward was already redeemed.
    pub shortfall: u64,
    /// Rewards redeemed before a replay: the next this many issued are marked redeemed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub to_redeem: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What applying a change did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StampChange {
    pub issued: Vec<Reward>,
    pub revoked: Vec<Reward>,
    pub shortfall: u32,
}

/// Adds another member's progress on the same card to `into` (a merge): stamps, the lifetime
/// count, rewards and shortfall add up, and stamps that now complete the card issue rewards
/// (named by `new_reward_id`, credited to `purchase`).
pub fn merge(
    stamps_required: u32,
    into: &mut CardState,
    from: CardState,
    purchase: &str,
    new_reward_id: impl FnMut(usize) -> String,
) -> StampChange {
    let lifetime = into.lifetime + from.lifetime;
    into.shortfall += from.shortfall;
    into.rewards.extend(from.rewards);
    let change = apply(
        stamps_required,
        into,
        purchase,
        i64::from(from.current),
        new_reward_id,
    );
    into.lifetime = lifetime;
    change
}

/// Applies `delta` stamps of `purchase` to the card. `new_reward_id` names each issued reward
/// (the caller makes them unique and stable, e.g. from the purchase and a counter).
pub fn apply(
    stamps_required: u32,
    state: &mut CardState,
    purchase: &str,
    delta: i64,
    mut new_reward_id: impl FnMut(usize) -> String,
) -> StampChange {
    let n = u64::from(stamps_required.max(1));
    let mut change = StampChange::default();
    if delta >= 0 {
        let total = u64::from(state.current) + delta.unsigned_abs();
        for _ in 0..total / n {
            let redeemed = state.to_redeem > 0;
            state.to_redeem = state.to_redeem.saturating_sub(1);
            let reward = Reward {
                id: new_reward_id(state.rewards.len()),
                purchase: purchase.to_owned(),
                redeemed,
            };
            change.issued.push(reward.clone());
            state.rewards.push(reward);
        }
        state.current = (total % n) as u32;
        state.lifetime += delta.unsigned_abs();
        return change;
    }
    let removed = delta.unsigned_abs();
    let mut need = removed;
    loop {
        let take = need.min(u64::from(state.current));
        state.current -= take as u32;
        need -= take;
        if need == 0 {
            break;
        }
        // Revoke an unredeemed reward: this purchase's first, then the most recent other one.
        let pick = state
            .rewards
            .iter()
            .rposition(|r| !r.redeemed && r.purchase == purchase)
            .or_else(|| state.rewards.iter().rposition(|r| !r.redeemed));
        let Some(i) = pick else {
            change.shortfall = u32::try_from(need).unwrap_or(u32::MAX);
            state.shortfall += need;
            break;
        };
        change.revoked.push(state.rewards.remove(i));
        state.current += stamps_required.max(1);
    }
    state.lifetime = state.lifetime.saturating_sub(removed);
    change
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hot_drinks() -> PunchCard {
        PunchCard {
            stamps_required: 10,
            categories: vec![CategoryRef {
                name: Some("Hot Drinks".into()),
                ..Default::default()
            }],
            mode: StampMode::PerItem,
            min_order_minor: None,
            max_per_order: None,
            max_per_day: None,
        }
    }

    fn line<'a>(conn: &'a str, category: &'a str, qty: i64) -> StampLine<'a> {
        StampLine {
            connection_id: conn,
            category_id: None,
            category: Some(category),
            quantity_milli: qty * 1000,
            voided: false,
        }
    }

    #[test]
    fn categories_modes_minimums_and_caps() {
        let card = hot_drinks();
        let lines = [
            line("k", "Hot drinks", 2),
            line("o", "HOT DRINKS ", 1),
            line("x", "Pastries", 4),
        ];
        assert_eq!(
            entitled_stamps(&card, &lines, 2000, 0),
            3,
            "a muffin never stamps"
        );
        let per_order = PunchCard {
            mode: StampMode::PerOrder,
            ..card.clone()
        };
        assert_eq!(entitled_stamps(&per_order, &lines, 2000, 0), 1);
        assert_eq!(
            entitled_stamps(&per_order, &[line("x", "Pastries", 4)], 2000, 0),
            0
        );
        let minimum = PunchCard {
            min_order_minor: Some(2500),
            ..card.clone()
        };
        assert_eq!(entitled_stamps(&minimum, &lines, 2000, 0), 0);
        let capped = PunchCard {
            max_per_order: Some(2),
            max_per_day: Some(4),
            ..card.clone()
        };
        assert_eq!(entitled_stamps(&capped, &lines, 2000, 0), 2);
        assert_eq!(entitled_stamps(&capped, &lines, 2000, 3), 1);
        assert_eq!(entitled_stamps(&capped, &lines, 2000, 5), 0);
        // By id on one connection only.
        let by_id = PunchCard {
            categories: vec![CategoryRef {
                connection_id: Some("k".into()),
                id: Some("77".into()),
                name: None,
            }],
            ..card.clone()
        };
        let k = StampLine {
            category_id: Some("77"),
            ..line("k", "Coffee", 2)
        };
        let x = StampLine {
            category_id: Some("77"),
            ..line("x", "Coffee", 5)
        };
        assert_eq!(entitled_stamps(&by_id, &[k, x], 0, 0), 2);
        // A refund of one of the drinks: the purchase is now entitled to two.
        let refunded = [line("k", "Hot Drinks", 3), line("k", "Hot Drinks", -1)];
        assert_eq!(entitled_stamps(&card, &refunded, 0, 0), 2);
        assert!(PunchCard {
            stamps_required: 0,
            ..card
        }
        .validate()
        .is_err());
    }

    fn ids(prefix: &str) -> impl FnMut(usize) -> String + '_ {
        move |n| format!("{prefix}-{n}")
    }

    #[test]
    fn overflow_issues_every_reward_and_carries_the_rest() {
        let mut s = CardState {
            current: 8,
            ..Default::default()
        };
        let change = apply(10, &mut s, "p1", 23, ids("r"));
        assert_eq!(change.issued.len(), 3);
        assert_eq!((s.current, s.lifetime), (1, 23));
    }

    #[test]
    fn reversal_revokes_an_unredeemed_reward_and_keeps_a_redeemed_one() {
        let mut s = CardState::default();
        apply(10, &mut s, "p1", 10, ids("r"));
        assert_eq!((s.current, s.rewards.len()), (0, 1));
        // Refund three of the ten: the reward is revoked and seven stamps restored.
        let change = apply(10, &mut s, "p1", -3, ids("r"));
        assert_eq!(
            (change.revoked.len(), s.current, s.rewards.len()),
            (1, 7, 0)
        );
        // Earn it again and redeem it; a refund then records a shortfall.
        apply(10, &mut s, "p2", 3, ids("s"));
        s.rewards[0].redeemed = true;
        let change = apply(10, &mut s, "p2", -3, ids("s"));
        assert_eq!((change.shortfall, s.current, s.rewards.len()), (3, 0, 1));
        assert_eq!(s.shortfall, 3);
    }

    proptest! {
        /// Whatever the order of purchases and reversals: the card never holds a full set of
        /// stamps, and stamps are conserved (`current + N × rewards = added − removed +
        /// shortfall`); without redemptions there is never a shortfall.
        #[test]
        fn stamps_are_conserved(
            n in 1u32..15,
            ops in proptest::collection::vec((0usize..4, 0i64..25, any::<bool>(), any::<bool>()), 0..40),
        ) {
            let mut s = CardState::default();
            let mut per_purchase = [0i64; 4];
            let (mut added, mut removed, mut redeemed_any) = (0i64, 0i64, false);
            for (p, amount, reverse, redeem) in ops {
                let purchase = format!("p{p}");
                let delta = if reverse { -amount.min(per_purchase[p]) } else { amount };
                per_purchase[p] += delta;
                if delta >= 0 { added += delta } else { removed -= delta }
                apply(n, &mut s, &purchase, delta, |i| format!("{purchase}-{i}"));
                if redeem {
                    if let Some(r) = s.rewards.iter_mut().find(|r| !r.redeemed) {
                        r.redeemed = true;
                        redeemed_any = true;
                    }
                }
                prop_assert!(s.current < n);
                prop_assert_eq!(
                    i64::from(s.current) + i64::from(n) * s.rewards.len() as i64,
                    added - removed + s.shortfall as i64
                );
                if !redeemed_any {
                    prop_assert_eq!(s.shortfall, 0);
                }
            }
        }
    }

    #[test]
    fn merging_adds_progress_and_issues_what_completes() {
        let mut into = CardState {
            current: 7,
            lifetime: 17,
            rewards: vec![Reward {
                id: "r1".into(),
                purchase: "p1".into(),
                redeemed: true,
            }],
            shortfall: 1,
            to_redeem: 0,
        };
        let from = CardState {
            current: 5,
            lifetime: 5,
            rewards: vec![],
            shortfall: 0,
            to_redeem: 0,
        };
        let change = merge(10, &mut into, from, "merge", |i| format!("m{i}"));
        assert_eq!(change.issued.len(), 1);
        assert_eq!(
            (
                into.current,
                into.lifetime,
                into.rewards.len(),
                into.shortfall
            ),
            (2, 22, 2, 1)
        );
    }
}
