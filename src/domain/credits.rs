//! Credits are integers; reserving never takes a balance below zero.

use crate::error::AppError;

/// Highest unit price an operator may set (per task or per second). Far above any real
/// price, and low enough that unit × seconds × group percent cannot overflow `i64`.
pub const MAX_PRICE: i64 = 1_000_000_000_000;

/// Balance after reserving `price`, or 402 when it does not cover it.
pub fn reserve(balance: i64, price: i64) -> Result<i64, AppError> {
    if price < 0 {
        return Err(AppError::internal("negative price"));
    }
    if balance < price {
        return Err(AppError::InsufficientCredits {
            needed: price,
            balance,
        });
    }
    balance
        .checked_sub(price)
        .ok_or_else(|| AppError::invalid("amount", "amount is out of range"))
}

/// Balance after an operator adjustment; deductions may not go below zero.
pub fn adjust(balance: i64, delta: i64) -> Result<i64, AppError> {
    let after = balance
        .checked_add(delta)
        .ok_or_else(|| AppError::invalid("amount", "amount is out of range"))?;
    if after < 0 {
        return Err(AppError::invalid(
            "amount",
            // unsigned_abs: `-i64::MIN` would overflow.
            format!(
                "a deduction of {} would take the balance ({balance}) below zero",
                delta.unsigned_abs()
            ),
        ));
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_takes_exact_balance_and_refuses_more() {
        assert_eq!(reserve(180, 180).unwrap(), 0);
        assert_eq!(
            reserve(179, 180).unwrap_err(),
            AppError::InsufficientCredits {
                needed: 180,
                balance: 179
            }
        );
    }

    #[test]
    fn adjust_never_goes_negative() {
        assert_eq!(adjust(10, -10).unwrap(), 0);
        assert!(adjust(10, -11).is_err());
        assert!(adjust(i64::MAX, 1).is_err());
        assert!(adjust(0, i64::MIN).is_err());
    }

    #[test]
    fn i64_extremes_are_refused_not_wrapped() {
        for (balance, delta) in [
            (0, i64::MIN),
            (10, i64::MIN),
            (1, i64::MAX),
            (i64::MAX, i64::MAX),
        ] {
            let e = adjust(balance, delta).unwrap_err();
            assert_eq!(e.status(), 422, "{balance} {delta}: {e}");
        }
        assert_eq!(adjust(0, i64::MAX).unwrap(), i64::MAX);
        assert_eq!(reserve(i64::MAX, i64::MAX).unwrap(), 0);
        assert!(reserve(0, i64::MAX).is_err());
    }
}
