//! Reward credit: "earn $1 for every $10 spent".
//!
//! A purchase (a sale with its later versions, refunds and voids) is entitled to the rule's
//! credit on its net eligible amount, computed with the rule as it was when the purchase first
//! earned. Each time the purchase changes, [`post`] returns only the difference to what was
//! already accounted for, so refunds reverse exactly, never more than was earned, and many
//! small refunds cannot game rounding.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum EarningRule {
    /// `credit = floor(eligible / step) × reward`: whole steps only.
    Step { step_minor: i64, reward_minor: i64 },
    /// `credit = floor(eligible × reward / step)`: every cent counts.
    Proportional { step_minor: i64, reward_minor: i64 },
}

impl EarningRule {
    /// Checks the rule; the message says what is wrong and how to fix it.
    pub fn validate(&self) -> Result<(), String> {
        let (step, reward) = match self {
            EarningRule::Step {
                step_minor,
                reward_minor,
            }
            | EarningRule::Proportional {
                step_minor,
                reward_minor,
            } => (*step_minor, *reward_minor),
        };
        if step <= 0 {
            return Err(format!(
                "`step_minor` must be a positive amount in minor units (e.g. 1000 for 10.00), not {step}"
            ));
        }
        if reward < 0 {
            return Err(format!(
                "`reward_minor` must be zero or more minor units, not {reward}"
            ));
        }
        Ok(())
    }

    /// The credit an eligible amount earns; nothing for zero or less.
    pub fn credit(&self, eligible_minor: i64) -> i64 {
        if eligible_minor <= 0 {
            return 0;
        }
        let e = i128::from(eligible_minor);
        let credit = match *self {
            EarningRule::Step {
                step_minor,
                reward_minor,
            } if step_minor > 0 => e / i128::from(step_minor) * i128::from(reward_minor),
            EarningRule::Proportional {
                step_minor,
                reward_minor,
            } if step_minor > 0 => e * i128::from(reward_minor) / i128::from(step_minor),
            _ => 0,
        };
        credit.clamp(0, i128::from(i64::MAX)) as i64
    }
}

/// What to write for a purchase now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Posting {
    /// The ledger entry (positive earns, negative reverses; zero: write nothing).
    pub ledger_minor: i64,
    /// A reversal the balance could not cover (negative balances not allowed): recorded so the
    /// purchase stays fully accounted for, never taken from the member.
    pub written_off_minor: i64,
}

impl Posting {
    /// The change to what the purchase has accounted for.
    pub fn accounted(&self) -> i64 {
        self.ledger_minor + self.written_off_minor
    }
}

/// The posting that brings a purchase to its entitlement.
///
/// `snapshot` is the rule the purchase first earned under; `net_eligible_minor` is the sum of
/// the eligible amounts of the sale and all its refunds and voids; `accounted_minor` is the sum
/// of [`Posting::accounted`] posted for it so far; `balance_minor` is the member's balance now.
pub fn post(
    snapshot: &EarningRule,
    net_eligible_minor: i64,
    accounted_minor: i64,
    balance_minor: i64,
    allow_negative_balance: bool,
) -> Posting {
    let delta = snapshot.credit(net_eligible_minor) - accounted_minor;
    if delta >= 0 || allow_negative_balance {
        return Posting {
            ledger_minor: delta,
            written_off_minor: 0,
        };
    }
    let recoverable = balance_minor.max(0).min(-delta);
    Posting {
        ledger_minor: -recoverable,
        written_off_minor: delta + recoverable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TEN_FOR_ONE: EarningRule = EarningRule::Step {
        step_minor: 1000,
        reward_minor: 100,
    };

    #[test]
    fn credit_table() {
        let proportional = EarningRule::Proportional {
            step_minor: 1000,
            reward_minor: 100,
        };
        let cases: &[(&EarningRule, i64, i64)] = &[
            (&TEN_FOR_ONE, 999, 0),
            (&TEN_FOR_ONE, 1000, 100),
            (&TEN_FOR_ONE, 2599, 200),
            (&TEN_FOR_ONE, -500, 0),
            (&proportional, 2599, 259),
            (&proportional, 9, 0),
            (&proportional, i64::MAX, i64::MAX / 10),
        ];
        for (rule, eligible, want) in cases {
            assert_eq!(rule.credit(*eligible), *want, "{rule:?} on {eligible}");
        }
    }

    #[test]
    fn validation_says_what_to_fix() {
        let bad = EarningRule::Step {
            step_minor: 0,
            reward_minor: 100,
        };
        assert!(bad.validate().unwrap_err().contains("step_minor"));
        assert!(TEN_FOR_ONE.validate().is_ok());
    }

    #[test]
    fn refunds_after_spending_respect_the_balance_policy() {
        // Earned 200 on 25.00, spent 150, then the whole sale is refunded.
        let p = post(&TEN_FOR_ONE, 0, 200, 50, false);
        assert_eq!(
            p,
            Posting {
                ledger_minor: -50,
                written_off_minor: -150
            }
        );
        let p = post(&TEN_FOR_ONE, 0, 200, 50, true);
        assert_eq!(
            p,
            Posting {
                ledger_minor: -200,
                written_off_minor: 0
            }
        );
    }

    #[test]
    fn ten_small_refunds_cannot_game_rounding() {
        // 100.00 earns 10.00; ten refunds of 0.99 each leave 90.10, which earns 9.00.
        let mut net = 10_000;
        let mut accounted = post(&TEN_FOR_ONE, net, 0, 0, true).accounted();
        for _ in 0..10 {
            net -= 99;
            accounted += post(&TEN_FOR_ONE, net, accounted, 0, true).accounted();
        }
        assert_eq!(accounted, 900);
    }

    fn rule() -> impl Strategy<Value = EarningRule> {
        prop_oneof![
            (1i64..5_000, 0i64..1_000).prop_map(|(s, r)| EarningRule::Step {
                step_minor: s,
                reward_minor: r
            }),
            (1i64..5_000, 0i64..1_000).prop_map(|(s, r)| EarningRule::Proportional {
                step_minor: s,
                reward_minor: r
            }),
        ]
    }

    proptest! {
        /// For any sequence of partial refunds: the total reversed never exceeds what was
        /// earned, and what is accounted for always equals the recompute.
        #[test]
        fn partial_refunds_reverse_exactly(
            rule in rule(),
            sale in 0i64..1_000_000,
            cuts in proptest::collection::vec(0u32..=100, 0..12),
            allow_negative in any::<bool>(),
            spent_share in 0i64..=100,
        ) {
            let earned = post(&rule, sale, 0, 0, true).accounted();
            prop_assert_eq!(earned, rule.credit(sale));
            let mut balance = earned - earned * spent_share / 100;
            let (mut net, mut accounted, mut reversed) = (sale, earned, 0i64);
            for cut in cuts {
                // Refund up to `cut` percent of what is left.
                net -= net * i64::from(cut) / 100;
                let p = post(&rule, net, accounted, balance, allow_negative);
                prop_assert!(p.ledger_minor <= 0, "a refund never earns");
                if !allow_negative {
                    prop_assert!(balance + p.ledger_minor >= 0);
                }
                balance += p.ledger_minor;
                reversed -= p.accounted();
                accounted += p.accounted();
                prop_assert_eq!(accounted, rule.credit(net));
                prop_assert!(reversed <= earned);
            }
        }
    }
}
