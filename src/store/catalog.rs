//! Providers, models and pricing groups as stored.

use super::tables::*;
use super::{decode, encode, get_json};
use crate::domain::catalog::{Model, PricingGroup, ProviderConfig, UserPrice};
use crate::domain::ids::UserId;
use crate::error::AppResult;
use redb::{ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Serialize, de::DeserializeOwned};

fn put<T: Serialize>(
    txn: &WriteTransaction,
    def: TableDefinition<&str, &[u8]>,
    key: &str,
    v: &T,
) -> AppResult<()> {
    txn.open_table(def)?.insert(key, encode(v)?.as_slice())?;
    Ok(())
}

fn all<T: DeserializeOwned>(
    txn: &ReadTransaction,
    def: TableDefinition<&str, &[u8]>,
) -> AppResult<Vec<T>> {
    let table = txn.open_table(def)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        let (_, v) = row?;
        out.push(decode(v.value())?);
    }
    Ok(out)
}

pub fn put_provider(txn: &WriteTransaction, p: &ProviderConfig) -> AppResult<()> {
    put(txn, PROVIDERS, &p.name, p)
}

pub fn get_provider(txn: &WriteTransaction, name: &str) -> AppResult<Option<ProviderConfig>> {
    get_json(&txn.open_table(PROVIDERS)?, name)
}

pub fn providers(txn: &ReadTransaction) -> AppResult<Vec<ProviderConfig>> {
    all(txn, PROVIDERS)
}

pub fn put_model(txn: &WriteTransaction, m: &Model) -> AppResult<()> {
    put(txn, MODELS, &m.id, m)
}

pub fn get_model(txn: &WriteTransaction, id: &str) -> AppResult<Option<Model>> {
    get_json(&txn.open_table(MODELS)?, id)
}

pub fn models(txn: &ReadTransaction) -> AppResult<Vec<Model>> {
    all(txn, MODELS)
}

pub fn put_group(txn: &WriteTransaction, g: &PricingGroup) -> AppResult<()> {
    put(txn, PRICING_GROUPS, &g.name, g)
}

pub fn groups(txn: &ReadTransaction) -> AppResult<Vec<PricingGroup>> {
    all(txn, PRICING_GROUPS)
}

/// Set (or with neither percent nor credits, remove) a customer's price for a model.
pub fn put_user_price(txn: &WriteTransaction, user_id: UserId, p: &UserPrice) -> AppResult<()> {
    let mut t = txn.open_table(USER_PRICES)?;
    if p.percent.is_none() && p.credits.is_none() {
        t.remove((user_id.get(), p.model.as_str()))?;
    } else {
        t.insert((user_id.get(), p.model.as_str()), encode(p)?.as_slice())?;
    }
    Ok(())
}

/// Every customer's own prices: (user id, price).
pub fn user_prices(txn: &ReadTransaction) -> AppResult<Vec<(u64, UserPrice)>> {
    let table = txn.open_table(USER_PRICES)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        out.push((k.value().0, decode(v.value())?));
    }
    Ok(out)
}

/// Catalog entries that `demo = false` disabled (so `demo = true` may enable them again),
/// kept as `demo_off:<kind>:<name>` rows of the meta table.
fn demo_off_key(kind: &str, name: &str) -> String {
    format!("demo_off:{kind}:{name}")
}

pub fn mark_demo_off(txn: &WriteTransaction, kind: &str, name: &str) -> AppResult<()> {
    txn.open_table(META)?
        .insert(demo_off_key(kind, name).as_str(), 1)?;
    Ok(())
}

/// Forget the mark; true when there was one.
pub fn unmark_demo_off(txn: &WriteTransaction, kind: &str, name: &str) -> AppResult<bool> {
    Ok(txn
        .open_table(META)?
        .remove(demo_off_key(kind, name).as_str())?
        .is_some())
}

pub fn all_models(txn: &WriteTransaction) -> AppResult<Vec<Model>> {
    let table = txn.open_table(MODELS)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        let (_, v) = row?;
        out.push(decode(v.value())?);
    }
    Ok(out)
}
