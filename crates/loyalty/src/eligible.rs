//! The eligible amount of an order: what a member's purchase counts for.
//!
//! Σ line amounts after line and order discounts, excluding tax (or including it, for
//! tax-inclusive markets that choose so), excluding tips, gift-card sales, voided lines and lines
//! paid by a loyalty reward. An order-level discount is spread over the lines pro rata, the last
//! cent going to the largest line.

use crate::allocate::pro_rata;
use serde::{Deserialize, Serialize};

/// Whether eligible amounts include tax.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxBasis {
    #[default]
    ExcludingTax,
    IncludingTax,
}

/// One order line as the eligibility rule sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// After line discounts, excluding tax.
    pub net_minor: i64,
    /// After line discounts, including tax.
    pub gross_minor: i64,
    pub voided: bool,
    /// A gift-card sale or a line paid with a loyalty reward: never eligible.
    pub excluded: bool,
}

impl Line {
    fn amount(&self, basis: TaxBasis) -> i64 {
        match basis {
            TaxBasis::ExcludingTax => self.net_minor,
            TaxBasis::IncludingTax => self.gross_minor,
        }
    }
}

/// The eligible amount of one order (negative for a refund). `order_discount_minor` is an
/// order-level discount not already inside the line amounts, as a positive number, expressed on
/// the same tax basis.
pub fn eligible_amount(lines: &[Line], order_discount_minor: i64, basis: TaxBasis) -> i64 {
    let counted: Vec<&Line> = lines.iter().filter(|l| !l.voided).collect();
    let amounts: Vec<i64> = counted.iter().map(|l| l.amount(basis)).collect();
    let discounts = pro_rata(order_discount_minor, &amounts);
    counted
        .iter()
        .zip(amounts.iter().zip(discounts))
        .filter(|(l, _)| !l.excluded)
        .map(|(_, (amount, discount))| amount - discount)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(net: i64, gross: i64) -> Line {
        Line {
            net_minor: net,
            gross_minor: gross,
            voided: false,
            excluded: false,
        }
    }

    #[test]
    fn table() {
        let coffee = line(400, 500);
        let muffin = line(300, 375);
        let gift_card = Line {
            excluded: true,
            ..line(5000, 5000)
        };
        let voided = Line {
            voided: true,
            ..line(900, 1000)
        };
        let cases: &[(&str, Vec<Line>, i64, TaxBasis, i64)] = &[
            (
                "net by default",
                vec![coffee.clone(), muffin.clone()],
                0,
                TaxBasis::ExcludingTax,
                700,
            ),
            (
                "gross when chosen",
                vec![coffee.clone(), muffin.clone()],
                0,
                TaxBasis::IncludingTax,
                875,
            ),
            (
                "gift cards and voided lines do not count",
                vec![coffee.clone(), gift_card.clone(), voided],
                0,
                TaxBasis::ExcludingTax,
                400,
            ),
            // 100 off 400 + 300: 57 and 43, the last cent to the largest line.
            (
                "order discount pro rata",
                vec![coffee.clone(), muffin.clone()],
                100,
                TaxBasis::ExcludingTax,
                600,
            ),
            // The gift card takes its share of the discount, which is then excluded with it.
            (
                "discount shared with an excluded line",
                vec![
                    line(1000, 1000),
                    Line {
                        excluded: true,
                        ..line(1000, 1000)
                    },
                ],
                200,
                TaxBasis::ExcludingTax,
                900,
            ),
            (
                "a refund is negative",
                vec![line(-400, -500)],
                0,
                TaxBasis::ExcludingTax,
                -400,
            ),
            ("nothing", vec![], 0, TaxBasis::ExcludingTax, 0),
        ];
        for (name, lines, discount, basis, want) in cases {
            assert_eq!(eligible_amount(lines, *discount, *basis), *want, "{name}");
        }
    }
}
