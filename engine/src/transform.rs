//! Stateless transforms, described as data so that scenario files can name them.

use serde::{Deserialize, Serialize};

use crate::message::{Key, Record};

/// A per-record value transformation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MapFn {
    AddToValue(i64),
    MultiplyValue(i64),
    /// `value mod n` (Euclidean, so never negative).
    ValueModulo(i64),
    SetValue(i64),
}

impl MapFn {
    pub fn apply(&self, record: &mut Record) {
        record.value = match *self {
            MapFn::AddToValue(n) => record.value.wrapping_add(n),
            MapFn::MultiplyValue(n) => record.value.wrapping_mul(n),
            // `checked`: `i64::MIN mod -1` overflows (the answer is 0); scenarios refuse a modulus of 0.
            MapFn::ValueModulo(n) => record.value.checked_rem_euclid(n).unwrap_or(0),
            MapFn::SetValue(n) => n,
        };
    }
}

/// A per-record predicate: records for which it is false are dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterFn {
    ValueAtLeast(i64),
    ValueAtMost(i64),
    ValueDivisibleBy(i64),
    KeyIn(Vec<Key>),
    Not(Box<FilterFn>),
}

impl FilterFn {
    pub fn keeps(&self, record: &Record) -> bool {
        match self {
            FilterFn::ValueAtLeast(n) => record.value >= *n,
            FilterFn::ValueAtMost(n) => record.value <= *n,
            FilterFn::ValueDivisibleBy(n) => *n != 0 && record.value.checked_rem_euclid(*n).unwrap_or(0) == 0,
            FilterFn::KeyIn(keys) => keys.contains(&record.key),
            FilterFn::Not(inner) => !inner.keeps(record),
        }
    }
}

/// What a key-by partitions on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeySelector {
    /// The record's own key.
    Key,
    /// One key for everything (a global aggregate on a single subtask's worth of state).
    Constant,
}

/// The key [`KeySelector::Constant`] assigns.
pub const CONSTANT_KEY: Key = u64::MAX;

/// The name [`CONSTANT_KEY`] prints as (and is hashed as, where a system hashes key names).
pub const CONSTANT_KEY_NAME: &str = "*";

impl KeySelector {
    pub fn select(&self, record: &Record) -> Key {
        match self {
            KeySelector::Key => record.key,
            KeySelector::Constant => CONSTANT_KEY,
        }
    }
}
