//! Each account's webhook signing secret (kept in clear: signing needs it).

use super::tables::WEBHOOK_SECRETS;
use crate::domain::ids::UserId;
use crate::error::AppResult;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

/// Bytes of a fresh secret (Standard Webhooks asks for 24 to 64).
const SECRET_BYTES: usize = 32;

fn fresh() -> Vec<u8> {
    use rand::RngCore;
    let mut b = vec![0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut b);
    b
}

pub fn read(txn: &ReadTransaction, user_id: UserId) -> AppResult<Option<Vec<u8>>> {
    Ok(txn
        .open_table(WEBHOOK_SECRETS)?
        .get(user_id)?
        .map(|v| v.value().to_vec()))
}

/// The account's secret, made now if it has none.
pub fn ensure(txn: &WriteTransaction, user_id: UserId) -> AppResult<Vec<u8>> {
    let mut table = txn.open_table(WEBHOOK_SECRETS)?;
    if let Some(v) = table.get(user_id)? {
        return Ok(v.value().to_vec());
    }
    let s = fresh();
    table.insert(user_id, s.as_slice())?;
    Ok(s)
}

/// Replace the account's secret; callbacks sent from now on use the new one.
pub fn rotate(txn: &WriteTransaction, user_id: UserId) -> AppResult<Vec<u8>> {
    let s = fresh();
    txn.open_table(WEBHOOK_SECRETS)?
        .insert(user_id, s.as_slice())?;
    Ok(s)
}
