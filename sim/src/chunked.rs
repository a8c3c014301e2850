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
}
