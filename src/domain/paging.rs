//! Page sizes of list routes: an out-of-range `limit` is an error, never silently changed.

use crate::error::AppError;

/// The page size asked for, or `default` when none was given. Outside `1..=max` it is a
/// 422 naming `limit`: clamping would hand back a page the caller did not ask for.
pub fn page_limit(limit: Option<u32>, default: usize, max: usize) -> Result<usize, AppError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&(n as usize)) => Ok(n as usize),
        Some(n) => Err(AppError::invalid(
            "limit",
            format!("\"limit\" must be from 1 to {max}, not {n}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_inside_the_range_pass_and_others_name_the_param() {
        assert_eq!(page_limit(None, 20, 100).unwrap(), 20);
        assert_eq!(page_limit(Some(1), 20, 100).unwrap(), 1);
        assert_eq!(page_limit(Some(100), 20, 100).unwrap(), 100);
        for bad in [0, 101, u32::MAX] {
            let err = page_limit(Some(bad), 20, 100).unwrap_err();
            assert_eq!(err.param().as_deref(), Some("limit"));
            assert_eq!(err.status(), 422);
        }
    }
}
