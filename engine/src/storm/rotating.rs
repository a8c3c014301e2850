//! Storm's `RotatingMap`: entries live in the newest bucket; every rotation drops the oldest
//! bucket, expiring what it holds. With `buckets` buckets rotated every T, an entry expires
//! between `(buckets - 1) * T` and `buckets * T` after insertion (Storm's spout: 2 buckets, a
//! rotation every `topology.message.timeout.secs`, so a tuple fails between T and 2T).

use std::collections::{BTreeMap, VecDeque};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotatingMap<K: Ord, V> {
    buckets: VecDeque<BTreeMap<K, V>>,
}

impl<K: Ord + Copy, V> RotatingMap<K, V> {
    /// `buckets` is at least 2 (fewer is raised to 2).
    pub fn new(buckets: usize) -> Self {
        RotatingMap { buckets: (0..buckets.max(2)).map(|_| BTreeMap::new()).collect() }
    }

    /// Insert (or refresh) into the newest bucket.
    pub fn insert(&mut self, key: K, value: V) {
        for b in self.buckets.iter_mut().skip(1) {
            b.remove(&key);
        }
        if let Some(newest) = self.buckets.front_mut() {
            newest.insert(key, value);
        }
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.buckets.iter_mut().find_map(|b| b.get_mut(key))
    }

    pub fn contains(&self, key: &K) -> bool {
        self.buckets.iter().any(|b| b.contains_key(key))
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.buckets.iter_mut().find_map(|b| b.remove(key))
    }

    pub fn len(&self) -> usize {
        self.buckets.iter().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop the oldest bucket and start a new empty one; returns what expired, in key order.
    pub fn rotate(&mut self) -> Vec<(K, V)> {
        let expired = self.buckets.pop_back().unwrap_or_default();
        self.buckets.push_front(BTreeMap::new());
        expired.into_iter().collect()
    }

    /// Every entry, oldest bucket first, in key order within a bucket.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.buckets.iter().rev().flat_map(|b| b.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_expires_on_the_second_rotation_after_insertion() {
        let mut m = RotatingMap::new(2);
        m.insert(1u64, "a");
        assert!(m.rotate().is_empty());
        m.insert(2, "b");
        assert_eq!(m.rotate(), vec![(1, "a")]);
        assert_eq!(m.len(), 1);
        assert_eq!(m.remove(&2), Some("b"));
        assert!(m.rotate().is_empty());
    }
}
