//! What one order adds to sales figures such as a weekly balance: its sold lines (positive
//! quantity) before and after discounts, its returned lines (negative quantity), and the goods
//! on each side, with and without VAT. Voided lines count nothing. Computed once when an order is
//! stored, so reports sum orders instead of reading every line again.

use crate::{Order, OrderLine};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesFigures {
    /// Sold lines (not voided, positive quantity).
    pub sold_lines: i64,
    /// Σ sold lines before discounts (total + discount), VAT included.
    pub gross_minor: i64,
    /// Σ discounts on the sold lines, VAT included.
    pub discount_minor: i64,
    /// Σ |returned lines after their discounts|, VAT included.
    pub returns_minor: i64,
    /// The same three without VAT: a line's net, and its discount × net ÷ total rounded half
    /// away from zero per line (the discount as it is when the line has no total).
    pub gross_excl_minor: i64,
    pub discount_excl_minor: i64,
    pub returns_excl_minor: i64,
    /// Σ quantity (thousandths) of sold lines with a price: zero-price modifiers do not count.
    pub goods_milli: i64,
    /// Σ |quantity| (thousandths) of returned lines.
    pub returned_milli: i64,
}

/// `value × num ÷ den`, rounded half away from zero; `value` when `den` is zero.
pub fn scale_half_away(value: i64, num: i64, den: i64) -> i64 {
    if den == 0 {
        return value;
    }
    let (mut n, mut d) = (i128::from(value) * i128::from(num), i128::from(den));
    if d < 0 {
        (n, d) = (-n, -d);
    }
    let q = (2 * n + n.signum() * d) / (2 * d);
    i64::try_from(q).unwrap_or(value)
}

impl SalesFigures {
    fn add_line(&mut self, l: &OrderLine) {
        let q = l.quantity.milli();
        if l.voided || q == 0 {
            return;
        }
        if q > 0 {
            let discount_excl = scale_half_away(l.discount_minor, l.net_minor, l.total_minor);
            self.sold_lines += 1;
            self.gross_minor += l.total_minor + l.discount_minor;
            self.discount_minor += l.discount_minor;
            self.gross_excl_minor += l.net_minor + discount_excl;
            self.discount_excl_minor += discount_excl;
            if l.unit_price_minor != 0 || l.total_minor != 0 {
                self.goods_milli += q;
            }
        } else {
            self.returns_minor += l.total_minor.abs();
            self.returns_excl_minor += l.net_minor.abs();
            self.returned_milli += q.abs();
        }
    }
}

impl Order {
    pub fn sales_figures(&self) -> SalesFigures {
        let mut f = SalesFigures::default();
        for l in &self.lines {
            f.add_line(l);
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Quantity;

    fn line(q: i64, unit: i64, discount: i64, total: i64, net: i64) -> OrderLine {
        OrderLine {
            external_id: "l".into(),
            parent_external_id: None,
            sku: None,
            name: "x".into(),
            category: None,
            category_id: None,
            quantity: Quantity::from_units(q),
            unit_price_minor: unit,
            discount_minor: discount,
            tax_minor: total - net,
            total_minor: total,
            net_minor: net,
            voided: false,
            tax_rate_bp: None,
        }
    }

    fn figures(lines: Vec<OrderLine>) -> SalesFigures {
        let mut f = SalesFigures::default();
        for l in &lines {
            f.add_line(l);
        }
        f
    }

    #[test]
    fn sold_and_returned_lines_with_and_without_vat() {
        let f = figures(vec![
            line(2, 350, 70, 630, 578),
            line(1, 0, 0, 0, 0),
            line(1, 400, 0, 400, 367),
            OrderLine {
                voided: true,
                ..line(1, 999, 0, 999, 917)
            },
            line(-1, 350, -35, -315, -289),
        ]);
        // 70 × 578 / 630 = 64.2 → 64.
        assert_eq!(
            f,
            SalesFigures {
                sold_lines: 3,
                gross_minor: 700 + 400,
                discount_minor: 70,
                returns_minor: 315,
                gross_excl_minor: 578 + 64 + 367,
                discount_excl_minor: 64,
                returns_excl_minor: 289,
                goods_milli: 3000,
                returned_milli: 1000,
            }
        );
    }

    #[test]
    fn scaling_rounds_half_away_from_zero() {
        assert_eq!(scale_half_away(5, 1, 2), 3);
        assert_eq!(scale_half_away(-5, 1, 2), -3);
        assert_eq!(scale_half_away(7, 1, 2), 4);
        assert_eq!(scale_half_away(-35, -289, -315), -32);
        assert_eq!(scale_half_away(10, 3, 0), 10);
    }
}
