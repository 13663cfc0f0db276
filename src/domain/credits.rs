//! Credits are integers; reserving never takes a balance below zero.

use crate::error::AppError;

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
    Ok(balance - price)
}

/// Balance after an operator adjustment; deductions may not go below zero.
pub fn adjust(balance: i64, delta: i64) -> Result<i64, AppError> {
    let after = balance
        .checked_add(delta)
        .ok_or_else(|| AppError::invalid("amount", "amount is out of range"))?;
    if after < 0 {
        return Err(AppError::invalid(
            "amount",
            format!(
                "a deduction of {} would take the balance ({balance}) below zero",
                // Not `-delta`: that overflows for i64::MIN (found by the API fuzz).
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
}
