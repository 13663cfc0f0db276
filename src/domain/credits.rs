//! Credits, the gateway's money: a type whose arithmetic is checked (an overflow is an
//! error, never a wrapped balance), and reserving never takes a balance below zero.

use crate::error::AppError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Highest unit price an operator may set (per task or per second). Far above any real
/// price, and low enough that unit × seconds × group percent cannot overflow `i64`.
pub const MAX_PRICE: i64 = 1_000_000_000_000;

/// An amount of credits: a balance, a price, or a signed change to a balance. Stored and
/// sent as a plain JSON integer, exactly as the `i64` it replaced.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Credits(i64);

impl Credits {
    pub const ZERO: Credits = Credits(0);

    pub const fn new(amount: i64) -> Credits {
        Credits(amount)
    }

    /// The plain integer, for the wire and for tables keyed by numbers.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// `self + other`, or a 422 on `amount` when it leaves the `i64` range.
    pub fn checked_add(self, other: Credits) -> Result<Credits, AppError> {
        self.0
            .checked_add(other.0)
            .map(Credits)
            .ok_or_else(out_of_range)
    }

    /// `self - other`, or a 422 on `amount` when it leaves the `i64` range.
    pub fn checked_sub(self, other: Credits) -> Result<Credits, AppError> {
        self.0
            .checked_sub(other.0)
            .map(Credits)
            .ok_or_else(out_of_range)
    }

    /// `-self`, or a 422 on `amount` for `i64::MIN` (whose negation does not exist).
    pub fn checked_neg(self) -> Result<Credits, AppError> {
        self.0.checked_neg().map(Credits).ok_or_else(out_of_range)
    }

    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// The amount as a counter increment: negative amounts count as nothing.
    pub const fn counter(self) -> u64 {
        if self.0 > 0 { self.0 as u64 } else { 0 }
    }
}

fn out_of_range() -> AppError {
    AppError::invalid("amount", "amount is out of range")
}

impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<i64> for Credits {
    fn from(amount: i64) -> Credits {
        Credits(amount)
    }
}

impl From<Credits> for i64 {
    fn from(c: Credits) -> i64 {
        c.0
    }
}

impl PartialEq<i64> for Credits {
    fn eq(&self, other: &i64) -> bool {
        self.0 == *other
    }
}

impl PartialOrd<i64> for Credits {
    fn partial_cmp(&self, other: &i64) -> Option<std::cmp::Ordering> {
        self.0.partial_cmp(other)
    }
}

/// Balance after reserving `price`, or 402 when it does not cover it.
pub fn reserve(balance: Credits, price: Credits) -> Result<Credits, AppError> {
    if price.is_negative() {
        return Err(AppError::internal("negative price"));
    }
    if balance < price {
        return Err(AppError::InsufficientCredits {
            needed: price.0,
            balance: balance.0,
        });
    }
    balance.checked_sub(price)
}

/// Balance after an operator adjustment; deductions may not go below zero.
pub fn adjust(balance: Credits, delta: Credits) -> Result<Credits, AppError> {
    let after = balance.checked_add(delta)?;
    if after.is_negative() {
        return Err(AppError::invalid(
            "amount",
            // unsigned_abs: `-i64::MIN` would overflow.
            format!(
                "a deduction of {} would take the balance ({balance}) below zero",
                delta.0.unsigned_abs()
            ),
        ));
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: i64) -> Credits {
        Credits::new(n)
    }

    #[test]
    fn reserve_takes_exact_balance_and_refuses_more() {
        assert_eq!(reserve(c(180), c(180)).unwrap(), 0);
        assert_eq!(
            reserve(c(179), c(180)).unwrap_err(),
            AppError::InsufficientCredits {
                needed: 180,
                balance: 179
            }
        );
    }

    #[test]
    fn adjust_never_goes_negative() {
        assert_eq!(adjust(c(10), c(-10)).unwrap(), 0);
        assert!(adjust(c(10), c(-11)).is_err());
        assert!(adjust(c(i64::MAX), c(1)).is_err());
        assert!(adjust(c(0), c(i64::MIN)).is_err());
    }

    #[test]
    fn i64_extremes_are_refused_not_wrapped() {
        for (balance, delta) in [
            (0, i64::MIN),
            (10, i64::MIN),
            (1, i64::MAX),
            (i64::MAX, i64::MAX),
        ] {
            let e = adjust(c(balance), c(delta)).unwrap_err();
            assert_eq!(e.status(), 422, "{balance} {delta}: {e}");
        }
        assert_eq!(adjust(c(0), c(i64::MAX)).unwrap(), i64::MAX);
        assert_eq!(reserve(c(i64::MAX), c(i64::MAX)).unwrap(), 0);
        assert!(reserve(c(0), c(i64::MAX)).is_err());
    }

    #[test]
    fn checked_arithmetic_errs_instead_of_wrapping() {
        assert_eq!(c(i64::MAX).checked_add(c(1)).unwrap_err().status(), 422);
        assert_eq!(c(i64::MIN).checked_sub(c(1)).unwrap_err().status(), 422);
        assert_eq!(c(i64::MIN).checked_neg().unwrap_err().status(), 422);
        assert_eq!(c(2).checked_add(c(3)).unwrap(), 5);
        assert_eq!(c(2).checked_sub(c(3)).unwrap(), -1);
    }

    #[test]
    fn credits_are_a_plain_integer_on_the_wire_and_on_disk() {
        assert_eq!(serde_json::to_string(&c(-42)).unwrap(), "-42");
        assert_eq!(serde_json::from_str::<Credits>("180").unwrap(), 180);
        assert_eq!(c(7).to_string(), "7");
    }
}
