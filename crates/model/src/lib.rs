//! The unified commerce vocabulary of tillbridge.
//!
//! Pure types and rules with no I/O: every provider adapter maps into these, and every module
//! reads them. Money is integer minor units, quantities are exact decimals, instants are UTC.

pub mod business_day;
pub mod email;
pub mod money;
pub mod order;
pub mod sales;
pub mod series;

pub use business_day::{business_date, BusinessDayStart};
pub use email::Email;
pub use money::{
    basis_points, currency_exponent, decimal_minor, display_minor, parse_minor, rescale_half_even,
    MoneyError, Quantity,
};
pub use order::{Order, OrderKind, OrderLine, OrderStatus, Payment};
pub use sales::SalesFigures;
pub use series::Series;
