//! Spend-based tiers.
//!
//! Qualifying spend is the eligible spend of a rolling 365 days (or lifetime) in the merchant's
//! zone, each purchase dated by its original sale, so a refund counts against the day of the sale
//! it refunds. An order that pushes spend over a threshold upgrades at once; downgrades are a
//! daily check under the program's policy. A manual tier is a floor.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    pub id: String,
    pub name: String,
    /// Qualifying spend needed, in minor units.
    pub threshold_minor: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpendWindow {
    #[default]
    #[serde(rename = "rolling_365_days")]
    Rolling365Days,
    Lifetime,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DowngradePolicy {
    Never,
    Immediate,
    /// Keep a tier for 365 days after reaching it, then re-place.
    #[default]
    Hold,
}

/// How long a tier is held under [`DowngradePolicy::Hold`].
pub const HOLD_DAYS: u64 = 365;
/// How many days before a hold ends a member is warned of the coming downgrade.
pub const WARNING_DAYS: u64 = 30;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierProgram {
    /// In ascending order of threshold (see [`TierProgram::new`]).
    pub tiers: Vec<Tier>,
    pub window: SpendWindow,
    pub policy: DowngradePolicy,
}

impl TierProgram {
    /// Sorts the tiers and checks them: unique ids, non-negative and distinct thresholds.
    pub fn new(
        mut tiers: Vec<Tier>,
        window: SpendWindow,
        policy: DowngradePolicy,
    ) -> Result<Self, String> {
        tiers.sort_by_key(|t| t.threshold_minor);
        for (i, t) in tiers.iter().enumerate() {
            if t.id.trim().is_empty() || t.name.trim().is_empty() {
                return Err("every tier needs a non-empty `id` and `name`".into());
            }
            if t.threshold_minor < 0 {
                return Err(format!(
                    "tier `{}` has a negative threshold ({}); use 0 or more minor units",
                    t.id, t.threshold_minor
                ));
            }
            if let Some(prev) = i.checked_sub(1).map(|p| &tiers[p]) {
                if prev.threshold_minor == t.threshold_minor {
                    return Err(format!(
                        "tiers `{}` and `{}` have the same threshold {}; give each its own",
                        prev.id, t.id, t.threshold_minor
                    ));
                }
            }
            if tiers[..i].iter().any(|o| o.id == t.id) {
                return Err(format!("the tier id `{}` is used twice", t.id));
            }
        }
        Ok(TierProgram {
            tiers,
            window,
            policy,
        })
    }

    fn rank(&self, id: Option<&str>) -> Option<usize> {
        id.and_then(|id| self.tiers.iter().position(|t| t.id == id))
    }

    fn id(&self, rank: Option<usize>) -> Option<String> {
        rank.map(|r| self.tiers[r].id.clone())
    }

    /// The highest tier whose threshold the spend reaches.
    pub fn placement(&self, spend_minor: i64) -> Option<&Tier> {
        self.tiers
            .iter()
            .rev()
            .find(|t| spend_minor >= t.threshold_minor)
    }

    /// Placement for `spend`, never below the manual floor.
    fn target(&self, spend_minor: i64, floor: Option<&str>) -> Option<usize> {
        let placed = self
            .placement(spend_minor)
            .and_then(|t| self.rank(Some(&t.id)));
        placed.max(self.rank(floor))
    }
}

/// Qualifying spend on `today`: purchases as (date of the original sale, net eligible amount).
/// The first business date whose purchases count toward the tier on `today` (`None`: all of
/// them); the last is `today`.
pub fn window_start(today: NaiveDate, window: SpendWindow) -> Option<NaiveDate> {
    match window {
        SpendWindow::Lifetime => None,
        SpendWindow::Rolling365Days => Some(
            today
                .checked_sub_days(Days::new(364))
                .unwrap_or(NaiveDate::MIN),
        ),
    }
}

/// A member's tier as the program holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierState {
    pub tier: Option<String>,
    /// When the current tier was reached (for the hold).
    pub since: Option<NaiveDate>,
    /// A manual floor set by staff.
    pub floor: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TierEvent {
    Upgraded {
        from: Option<String>,
        to: String,
    },
    /// The hold ends on `on` and the member would then drop to `to`.
    DowngradeWarning {
        from: String,
        to: Option<String>,
        on: NaiveDate,
    },
    Downgraded {
        from: String,
        to: Option<String>,
    },
}

/// After an order: upgrades at once when spend (or the floor) places the member higher.
pub fn after_order(
    program: &TierProgram,
    state: &TierState,
    spend_minor: i64,
    today: NaiveDate,
) -> (TierState, Option<TierEvent>) {
    let current = program.rank(state.tier.as_deref());
    let target = program.target(spend_minor, state.floor.as_deref());
    if target > current {
        let to = program.id(target).unwrap_or_default();
        return (
            TierState {
                tier: Some(to.clone()),
                since: Some(today),
                floor: state.floor.clone(),
            },
            Some(TierEvent::Upgraded {
                from: state.tier.clone(),
                to,
            }),
        );
    }
    (state.clone(), None)
}

/// The daily check: upgrades like [`after_order`], and downgrades (or warns) per the policy.
pub fn daily_check(
    program: &TierProgram,
    state: &TierState,
    spend_minor: i64,
    today: NaiveDate,
) -> (TierState, Option<TierEvent>) {
    let (state, upgraded) = after_order(program, state, spend_minor, today);
    if upgraded.is_some() {
        return (state, upgraded);
    }
    let current = program.rank(state.tier.as_deref());
    let target = program.target(spend_minor, state.floor.as_deref());
    let Some(from) = state.tier.clone().filter(|_| target < current) else {
        return (state, None);
    };
    let downgrade = |state: &TierState| {
        (
            TierState {
                tier: program.id(target),
                since: target.map(|_| today),
                floor: state.floor.clone(),
            },
            Some(TierEvent::Downgraded {
                from: from.clone(),
                to: program.id(target),
            }),
        )
    };
    match program.policy {
        DowngradePolicy::Never => (state, None),
        DowngradePolicy::Immediate => downgrade(&state),
        DowngradePolicy::Hold => {
            let since = state.since.unwrap_or(today);
            let ends = since
                .checked_add_days(Days::new(HOLD_DAYS))
                .unwrap_or(NaiveDate::MAX);
            if today >= ends {
                downgrade(&state)
            } else if ends
                .checked_sub_days(Days::new(WARNING_DAYS))
                .is_some_and(|w| today >= w)
            {
                let warning = TierEvent::DowngradeWarning {
                    from,
                    to: program.id(target),
                    on: ends,
                };
                (state, Some(warning))
            } else {
                (state, None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(policy: DowngradePolicy) -> TierProgram {
        let t = |id: &str, threshold| Tier {
            id: id.into(),
            name: id.to_uppercase(),
            threshold_minor: threshold,
        };
        TierProgram::new(
            vec![t("gold", 100_000), t("silver", 50_000), t("base", 0)],
            SpendWindow::Rolling365Days,
            policy,
        )
        .unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn state(tier: &str, since: &str) -> TierState {
        TierState {
            tier: Some(tier.into()),
            since: Some(d(since)),
            floor: None,
        }
    }

    #[test]
    fn validation() {
        let same = TierProgram::new(
            vec![
                Tier {
                    id: "a".into(),
                    name: "A".into(),
                    threshold_minor: 10,
                },
                Tier {
                    id: "b".into(),
                    name: "B".into(),
                    threshold_minor: 10,
                },
            ],
            SpendWindow::Lifetime,
            DowngradePolicy::Hold,
        );
        assert!(same.unwrap_err().contains("same threshold"));
        let negative = TierProgram::new(
            vec![Tier {
                id: "a".into(),
                name: "A".into(),
                threshold_minor: -1,
            }],
            SpendWindow::Lifetime,
            DowngradePolicy::Hold,
        );
        assert!(negative.unwrap_err().contains("negative"));
    }

    #[test]
    fn the_rolling_window_is_365_business_dates_ending_today() {
        let rolling = SpendWindow::Rolling365Days;
        // 2025-01-10 … 2026-01-09 is 365 dates; a day later the first one has left.
        assert_eq!(
            window_start(d("2026-01-09"), rolling),
            Some(d("2025-01-10"))
        );
        assert_eq!(
            window_start(d("2026-01-10"), rolling),
            Some(d("2025-01-11"))
        );
        // Over a leap day.
        assert_eq!(
            window_start(d("2024-03-01"), rolling),
            Some(d("2023-03-03"))
        );
        assert_eq!(window_start(d("2030-01-01"), SpendWindow::Lifetime), None);
    }

    #[test]
    fn upgrades_are_immediate_and_respect_the_floor() {
        let p = program(DowngradePolicy::Hold);
        let start = TierState {
            tier: Some("base".into()),
            since: Some(d("2026-01-01")),
            floor: None,
        };
        let (s, e) = after_order(&p, &start, 50_000, d("2026-02-01"));
        assert_eq!(s.tier.as_deref(), Some("silver"));
        assert_eq!(
            e,
            Some(TierEvent::Upgraded {
                from: Some("base".into()),
                to: "silver".into()
            })
        );
        let floored = TierState {
            floor: Some("gold".into()),
            ..start
        };
        let (s, _) = after_order(&p, &floored, 0, d("2026-02-01"));
        assert_eq!(s.tier.as_deref(), Some("gold"));
    }

    #[test]
    fn downgrade_policies() {
        let today = d("2026-06-01");
        let held = state("gold", "2026-01-01");
        assert_eq!(
            daily_check(&program(DowngradePolicy::Never), &held, 0, today).0,
            held
        );
        let (s, e) = daily_check(&program(DowngradePolicy::Immediate), &held, 60_000, today);
        assert_eq!(s.tier.as_deref(), Some("silver"));
        assert_eq!(
            e,
            Some(TierEvent::Downgraded {
                from: "gold".into(),
                to: Some("silver".into())
            })
        );
        // Hold: kept before the warning window, warned inside it, re-placed at the end.
        let hold = program(DowngradePolicy::Hold);
        assert_eq!(daily_check(&hold, &held, 0, today), (held.clone(), None));
        let (s, e) = daily_check(&hold, &held, 0, d("2026-12-02"));
        assert_eq!(s, held);
        assert_eq!(
            e,
            Some(TierEvent::DowngradeWarning {
                from: "gold".into(),
                to: Some("base".into()),
                on: d("2027-01-01")
            })
        );
        let (s, e) = daily_check(&hold, &held, 0, d("2027-01-01"));
        assert_eq!(s.tier.as_deref(), Some("base"));
        assert!(matches!(e, Some(TierEvent::Downgraded { .. })));
        // A floor stops the downgrade at the floor.
        let floored = TierState {
            floor: Some("silver".into()),
            ..held
        };
        let (s, _) = daily_check(&hold, &floored, 0, d("2027-01-01"));
        assert_eq!(s.tier.as_deref(), Some("silver"));
    }
}
