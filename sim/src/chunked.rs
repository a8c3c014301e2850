//! `ChunkedVec`: a vector whose clones share their storage. Elements live in fixed-size chunks
//! behind `Arc`s; cloning copies one pointer per chunk, and a chunk is copied only when an element
//! in it is changed while another clone still holds it (copy on write, `Arc::make_mut`).
//!
//! Why: the workbench keeps a clone of the world every few thousand events. Stores that grow all
//! run (the sink store's rows) would make every clone cost the whole history, so memory would be
//! quadratic in the run's length. With chunks, a clone costs `len / CHUNK` pointers plus the chunks
//! changed since the previous clone (for a store that is appended to and changed near its end, one
//! or two), so the snapshots of a run together cost about one copy of the history.

use std::sync::Arc;

/// Elements per chunk: small enough that copying a shared chunk on write is cheap, large enough
/// that a clone's pointer list is short (10 M elements: 10 000 pointers, 80 KB).
pub const CHUNK: usize = 1024;

#[derive(Clone, Debug)]
pub struct ChunkedVec<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T> Default for ChunkedVec<T> {
    fn default() -> Self {
        ChunkedVec { chunks: Vec::new(), len: 0 }
    }
}

impl<T: Clone> ChunkedVec<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, value: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => Arc::make_mut(last).push(value),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(value);
                self.chunks.push(Arc::new(chunk));
            }
        }
        self.len += 1;
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        self.chunks.get(index / CHUNK)?.get(index % CHUNK)
    }

    /// The element at `index`, for changing it: its chunk is copied first if a clone shares it.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        let chunk = self.chunks.get_mut(index / CHUNK)?;
        if index % CHUNK >= chunk.len() {
            return None;
        }
        Arc::make_mut(chunk).get_mut(index % CHUNK)
    }

    pub fn last(&self) -> Option<&T> {
        self.chunks.last().and_then(|c| c.last())
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// A clone that shares nothing with `self` (every chunk copied): what a clone cost before
    /// the chunks were shared. Only benchmarks want this.
    pub fn deep_clone(&self) -> Self {
        ChunkedVec { chunks: self.chunks.iter().map(|c| Arc::new(Vec::clone(c))).collect(), len: self.len }
    }

    /// Chunks this vector holds that another clone also holds (for tests and measurements).
    pub fn shared_chunks(&self) -> usize {
        self.chunks.iter().filter(|c| Arc::strong_count(c) > 1).count()
    }
}

impl<T: Clone> std::ops::Index<usize> for ChunkedVec<T> {
    type Output = T;
    fn index(&self, index: usize) -> &T {
        match self.get(index) {
            Some(v) => v,
            None => panic!("index {index} out of bounds for a ChunkedVec of length {}", self.len),
        }
    }
}

impl<T: PartialEq> PartialEq for ChunkedVec<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len
            && self.chunks.iter().flat_map(|c| c.iter()).eq(other.chunks.iter().flat_map(|c| c.iter()))
    }
}
impl<T: Eq> Eq for ChunkedVec<T> {}

impl<T: Clone> FromIterator<T> for ChunkedVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v = ChunkedVec::new();
        for x in iter {
            v.push(x);
        }
        v
    }
}

/// Writes a `SharedMap` keeps in its own small map before freezing them into a shared run.
pub const FRESH: usize = 1024;

/// A map whose clones share their storage, for indexes that grow all run (the sink store's
/// upsert index: one entry per key and window ever written). A log-structured merge of sorted
/// runs: new writes go to a small map of their own (at most [`FRESH`] entries, copied by a
/// clone); when it is full it is frozen into a sorted run behind an `Arc`, and runs of about the
/// same size are merged (the newer entry wins), so there are about log2(len / FRESH) runs. A
/// clone copies the small map and one pointer per run; a lookup tries the small map, then the
/// runs newest first (binary search in each).
#[derive(Clone, Debug)]
pub struct SharedMap<K, V> {
    fresh: std::collections::BTreeMap<K, V>,
    /// Newest first; each sorted by key, without duplicates.
    runs: Vec<Arc<Vec<(K, V)>>>,
}

impl<K, V> Default for SharedMap<K, V> {
    fn default() -> Self {
        SharedMap { fresh: std::collections::BTreeMap::new(), runs: Vec::new() }
    }
}

impl<K: Ord + Clone, V: Clone> SharedMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        if let Some(v) = self.fresh.get(key) {
            return Some(v);
        }
        self.runs.iter().find_map(|run| run.binary_search_by(|(k, _)| k.cmp(key)).ok().map(|i| &run[i].1))
    }

    /// Set `key` to `value`; the value it had, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let old = match self.fresh.insert(key.clone(), value) {
            Some(old) => return Some(old),
            None => self
                .runs
                .iter()
                .find_map(|run| run.binary_search_by(|(k, _)| k.cmp(&key)).ok().map(|i| run[i].1.clone())),
        };
        if self.fresh.len() >= FRESH {
            self.freeze();
        }
        old
    }

    /// The small map becomes the newest run; runs of similar size merge.
    fn freeze(&mut self) {
        let run: Vec<(K, V)> = std::mem::take(&mut self.fresh).into_iter().collect();
        self.runs.insert(0, Arc::new(run));
        while self.runs.len() >= 2 && self.runs[1].len() <= 2 * self.runs[0].len() {
            let newer = self.runs.remove(0);
            let older = self.runs.remove(0);
            self.runs.insert(0, Arc::new(merge(&newer, &older)));
        }
    }

    /// Distinct keys (counts through every run: for tests and measurements).
    pub fn len(&self) -> usize {
        let mut keys: Vec<&K> =
            self.fresh.keys().chain(self.runs.iter().flat_map(|r| r.iter().map(|(k, _)| k))).collect();
        keys.sort();
        keys.dedup();
        keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fresh.is_empty() && self.runs.iter().all(|r| r.is_empty())
    }

    /// Frozen runs another clone also holds (for tests and measurements).
    pub fn shared_runs(&self) -> usize {
        self.runs.iter().filter(|r| Arc::strong_count(r) > 1).count()
    }

    /// A clone that shares nothing with `self`: what a clone of an ordinary map costs. Only
    /// benchmarks want this.
    pub fn deep_clone(&self) -> Self {
        SharedMap { fresh: self.fresh.clone(), runs: self.runs.iter().map(|r| Arc::new(Vec::clone(r))).collect() }
    }
}

/// Two sorted runs as one; on equal keys `newer`'s value wins.
fn merge<K: Ord + Clone, V: Clone>(newer: &[(K, V)], older: &[(K, V)]) -> Vec<(K, V)> {
    let mut out = Vec::with_capacity(newer.len() + older.len());
    let (mut i, mut j) = (0, 0);
    while i < newer.len() && j < older.len() {
        match newer[i].0.cmp(&older[j].0) {
            std::cmp::Ordering::Less => {
                out.push(newer[i].clone());
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(older[j].clone());
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(newer[i].clone());
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&newer[i..]);
    out.extend_from_slice(&older[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_vec() {
        let mut v = ChunkedVec::new();
        let mut reference = Vec::new();
        for i in 0..(3 * CHUNK + 17) {
            v.push(i);
            reference.push(i);
        }
        assert_eq!(v.len(), reference.len());
        assert!(v.iter().eq(reference.iter()));
        assert_eq!(v.get(CHUNK), Some(&CHUNK));
        assert_eq!(v.get(v.len()), None);
        assert_eq!(v.last(), reference.last());
        *v.get_mut(5).expect("in range") = 99;
        assert_eq!(v[5], 99);
        assert!(v.get_mut(v.len()).is_none());
        assert_eq!(v.iter().next_back(), reference.last());
    }

    #[test]
    fn clones_share_chunks_until_written() {
        let mut v: ChunkedVec<u64> = (0..(4 * CHUNK as u64)).collect();
        let snapshot = v.clone();
        assert_eq!(v.shared_chunks(), 4);
        *v.get_mut(1).expect("in range") = 7;
        v.push(1);
        // Only the written chunk was copied; the snapshot still sees the old value.
        assert_eq!(v.shared_chunks(), 3);
        assert_eq!(snapshot[1], 1);
        assert_eq!(v[1], 7);
        assert_eq!(snapshot.len() + 1, v.len());
        let deep = v.deep_clone();
        assert_eq!(deep, v);
        assert_eq!(deep.shared_chunks(), 0);
    }

    #[test]
    fn shared_map_behaves_like_a_btree_map() {
        let mut m: SharedMap<u64, u64> = SharedMap::new();
        let mut reference = std::collections::BTreeMap::new();
        // A deterministic mix of new keys and overwrites, across many freezes and merges.
        let mut x: u64 = 1;
        for i in 0..(20 * FRESH as u64) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let key = if i % 3 == 0 { (x >> 33) % (i + 1) } else { i * 7 };
            assert_eq!(m.insert(key, i), reference.insert(key, i), "insert {i}");
        }
        assert_eq!(m.len(), reference.len());
        for (k, v) in &reference {
            assert_eq!(m.get(k), Some(v));
        }
        assert_eq!(m.get(&u64::MAX), None);
        assert!(m.runs.len() <= 2 + (reference.len() / FRESH).ilog2() as usize * 2, "{} runs", m.runs.len());
    }

    #[test]
    fn shared_map_clones_share_their_runs() {
        let mut m: SharedMap<u64, u64> = (0..(8 * FRESH as u64)).fold(SharedMap::new(), |mut m, i| {
            m.insert(i, i);
            m
        });
        let snapshot = m.clone();
        let runs = m.runs.len();
        assert!(runs > 0 && m.shared_runs() == runs, "every run shared");
        assert_eq!(m.insert(3, 99), Some(3));
        assert_eq!((m.get(&3), snapshot.get(&3)), (Some(&99), Some(&3)), "the clone keeps the old value");
        assert_eq!(m.deep_clone().shared_runs(), 0);
        assert!(!m.is_empty() && SharedMap::<u8, u8>::new().is_empty());
    }
}
