//! RFM segmentation over a 365-day lookback.
//!
//! R = days since the last qualifying order, F = qualifying orders, M = net eligible spend.
//! Scores 1–5 come from tie-safe quintiles, `1 + floor(5 × (#members strictly worse) / N)`
//! (for R fewer days is better), so equal values always score the same. With fewer than
//! [`SMALL_MERCHANT`] scored members R and F use fixed thresholds; M keeps its quintiles, since
//! the rules give no fixed M thresholds (tie-safe quintiles work for any N).

use serde::{Deserialize, Serialize};

pub const SMALL_MERCHANT: usize = 25;

/// One member's figures over the lookback; `None` recency means no qualifying order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Figures {
    pub days_since_last: Option<u32>,
    pub orders: u32,
    pub spend_minor: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scores {
    pub r: u8,
    pub f: u8,
    pub m: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    Champions,
    Loyal,
    Recent,
    NeedsAttention,
    AtRisk,
    Inactive,
    NoPurchases,
}

impl Segment {
    pub const ALL: [Segment; 7] = [
        Segment::Champions,
        Segment::Loyal,
        Segment::Recent,
        Segment::NeedsAttention,
        Segment::AtRisk,
        Segment::Inactive,
        Segment::NoPurchases,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Segment::Champions => "champions",
            Segment::Loyal => "loyal",
            Segment::Recent => "recent",
            Segment::NeedsAttention => "needs_attention",
            Segment::AtRisk => "at_risk",
            Segment::Inactive => "inactive",
            Segment::NoPurchases => "no_purchases",
        }
    }

    /// Segments, first match of [`SEGMENT_RULES`] wins.
    pub fn of(scores: Option<Scores>) -> Segment {
        let Some(Scores { r, f, m }) = scores else {
            return Segment::NoPurchases;
        };
        let fm2 = u16::from(f) + u16::from(m);
        SEGMENT_RULES
            .iter()
            .find(|rule| (rule.r_from..=rule.r_to).contains(&r) && fm2 >= rule.min_fm2)
            .map_or(Segment::Inactive, |rule| rule.segment)
    }
}

/// One segment rule: R within `r_from..=r_to` and `FM = (F + M) / 2` at least `min_fm2 / 2`
/// (compared doubled to stay in integers).
#[derive(Clone, Copy, Debug)]
pub struct SegmentRule {
    pub r_from: u8,
    pub r_to: u8,
    pub min_fm2: u16,
    pub segment: Segment,
}

const fn rule(r_from: u8, r_to: u8, min_fm2: u16, segment: Segment) -> SegmentRule {
    SegmentRule {
        r_from,
        r_to,
        min_fm2,
        segment,
    }
}

/// The segments of scored members, first match wins; the last rule matches every score.
pub const SEGMENT_RULES: [SegmentRule; 6] = [
    rule(5, 5, 8, Segment::Champions),
    rule(3, 4, 8, Segment::Loyal),
    rule(4, 5, 0, Segment::Recent),
    rule(3, 3, 0, Segment::NeedsAttention),
    rule(1, 5, 6, Segment::AtRisk),
    rule(1, 5, 0, Segment::Inactive),
];

/// A small merchant's R: the score of the first row whose day count is not exceeded, else 1.
pub const FIXED_RECENCY: [(u32, u8); 4] = [(30, 5), (60, 4), (90, 3), (180, 2)];

/// A small merchant's F: the score of the first row whose order count is reached, else 1.
pub const FIXED_FREQUENCY: [(u32, u8); 4] = [(10, 5), (5, 4), (3, 3), (2, 2)];

/// `1 + floor(5 × worse / n)` for each value, where `worse` counts values strictly below it
/// (`better_is_lower` flips that).
fn quintiles<T: Ord + Copy>(values: &[T], better_is_lower: bool) -> Vec<u8> {
    let mut sorted: Vec<T> = values.to_vec();
    sorted.sort_unstable();
    let n = values.len();
    values
        .iter()
        .map(|v| {
            let worse = if better_is_lower {
                n - sorted.partition_point(|x| x <= v)
            } else {
                sorted.partition_point(|x| x < v)
            };
            (1 + 5 * worse / n) as u8
        })
        .collect()
}

fn fixed_recency(days: u32) -> u8 {
    FIXED_RECENCY
        .iter()
        .find(|(most, _)| days <= *most)
        .map_or(1, |(_, score)| *score)
}

fn fixed_frequency(orders: u32) -> u8 {
    FIXED_FREQUENCY
        .iter()
        .find(|(least, _)| orders >= *least)
        .map_or(1, |(_, score)| *score)
}

/// Scores every member; members without a qualifying order get `None` (segment "No purchases")
/// and do not count in N.
pub fn score(members: &[Figures]) -> Vec<Option<Scores>> {
    let scored: Vec<(usize, u32, Figures)> = members
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            f.days_since_last
                .filter(|_| f.orders > 0)
                .map(|d| (i, d, *f))
        })
        .collect();
    let mut out = vec![None; members.len()];
    if scored.is_empty() {
        return out;
    }
    let days: Vec<u32> = scored.iter().map(|(_, d, _)| *d).collect();
    let orders: Vec<u32> = scored.iter().map(|(_, _, f)| f.orders).collect();
    let spend: Vec<i64> = scored.iter().map(|(_, _, f)| f.spend_minor).collect();
    let small = scored.len() < SMALL_MERCHANT;
    let r = if small {
        days.iter().map(|&d| fixed_recency(d)).collect()
    } else {
        quintiles(&days, true)
    };
    let f = if small {
        orders.iter().map(|&o| fixed_frequency(o)).collect()
    } else {
        quintiles(&orders, false)
    };
    let m = quintiles(&spend, false);
    for (k, (i, _, _)) in scored.iter().enumerate() {
        out[*i] = Some(Scores {
            r: r[k],
            f: f[k],
            m: m[k],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fig(days: u32, orders: u32, spend: i64) -> Figures {
        Figures {
            days_since_last: Some(days),
            orders,
            spend_minor: spend,
        }
    }

    #[test]
    fn segments_first_match_wins() {
        let s = |r, f, m| Segment::of(Some(Scores { r, f, m }));
        assert_eq!(s(5, 4, 4), Segment::Champions);
        assert_eq!(s(5, 4, 3), Segment::Recent, "FM 3.5 is below 4");
        assert_eq!(s(4, 5, 3), Segment::Loyal);
        assert_eq!(s(3, 2, 2), Segment::NeedsAttention);
        assert_eq!(s(2, 3, 3), Segment::AtRisk);
        assert_eq!(s(1, 3, 2), Segment::Inactive, "FM 2.5 is below 3");
        assert_eq!(Segment::of(None), Segment::NoPurchases);
    }

    /// The rule tables say what the spec says, for every score and at every boundary.
    #[test]
    fn rule_tables_match_the_spec() {
        for r in 1..=5u8 {
            for f in 1..=5u8 {
                for m in 1..=5u8 {
                    let fm2 = u16::from(f) + u16::from(m);
                    let spec = match r {
                        5 if fm2 >= 8 => Segment::Champions,
                        3 | 4 if fm2 >= 8 => Segment::Loyal,
                        4 | 5 => Segment::Recent,
                        3 => Segment::NeedsAttention,
                        _ if fm2 >= 6 => Segment::AtRisk,
                        _ => Segment::Inactive,
                    };
                    assert_eq!(Segment::of(Some(Scores { r, f, m })), spec, "{r},{f},{m}");
                }
            }
        }
        let days = [
            (0, 5),
            (30, 5),
            (31, 4),
            (60, 4),
            (61, 3),
            (90, 3),
            (91, 2),
            (180, 2),
            (181, 1),
            (364, 1),
        ];
        for (d, score) in days {
            assert_eq!(fixed_recency(d), score, "{d} days");
        }
        let orders = [
            (1, 1),
            (2, 2),
            (3, 3),
            (4, 3),
            (5, 4),
            (9, 4),
            (10, 5),
            (40, 5),
        ];
        for (o, score) in orders {
            assert_eq!(fixed_frequency(o), score, "{o} orders");
        }
    }

    #[test]
    fn small_merchants_use_fixed_thresholds() {
        let scores = score(&[
            fig(10, 12, 100),
            fig(75, 3, 50),
            fig(400, 1, 10),
            Figures {
                days_since_last: None,
                orders: 0,
                spend_minor: 0,
            },
        ]);
        assert_eq!(scores[0].map(|s| (s.r, s.f)), Some((5, 5)));
        assert_eq!(scores[1].map(|s| (s.r, s.f)), Some((3, 3)));
        assert_eq!(scores[2].map(|s| (s.r, s.f)), Some((1, 1)));
        assert_eq!(scores[3], None);
        // M by quintiles of the three scored members: 0, 1 and 2 strictly worse out of 3.
        assert_eq!(
            scores.iter().flatten().map(|s| s.m).collect::<Vec<_>>(),
            vec![4, 2, 1]
        );
    }

    #[test]
    fn quintiles_on_fifty_members() {
        let members: Vec<Figures> = (0..50)
            .map(|i| fig(i, 50 - i, i64::from(i) * 100))
            .collect();
        let scores = score(&members);
        // Most recent (0 days) has 49 members strictly worse: 1 + 5×49/50 = 5.
        assert_eq!(scores[0].unwrap().r, 5);
        assert_eq!(scores[49].unwrap().r, 1);
        assert_eq!(scores[0].unwrap().f, 5);
        assert_eq!(scores[49].unwrap().m, 5);
        let per_score = |k: u8| scores.iter().flatten().filter(|s| s.m == k).count();
        assert_eq!(
            (1..=5).map(per_score).collect::<Vec<_>>(),
            vec![10, 10, 10, 10, 10]
        );
    }

    proptest! {
        /// Equal values score equally, scores stay in 1..=5, and a better value never scores
        /// lower.
        #[test]
        fn quintiles_are_tie_safe_and_monotone(values in proptest::collection::vec(0i64..20, 1..80)) {
            let q = quintiles(&values, false);
            for (i, a) in values.iter().enumerate() {
                prop_assert!((1..=5).contains(&q[i]));
                for (j, b) in values.iter().enumerate() {
                    if a == b { prop_assert_eq!(q[i], q[j]); }
                    if a > b { prop_assert!(q[i] >= q[j]); }
                }
            }
            let r = quintiles(&values, true);
            for (i, a) in values.iter().enumerate() {
                for (j, b) in values.iter().enumerate() {
                    if a < b { prop_assert!(r[i] >= r[j], "fewer days is better"); }
                }
            }
        }
    }
}
