//! redb's error types as `AppError`s, so the rest of the crate never names redb.

use crate::error::AppError;

impl From<redb::Error> for AppError {
    fn from(e: redb::Error) -> Self {
        AppError::storage(e)
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for AppError {
            fn from(e: $t) -> Self {
                AppError::storage(e)
            }
        }
    )*};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::DatabaseError
);
