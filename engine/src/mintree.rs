//! A tournament tree: the minimum of `n` keys, kept up to date in O(log n) per changed key, so
//! that "the smallest over all inputs" costs no scan of the inputs (the watermark combiner's
//! minimum over its input channels).

use serde::{Deserialize, Serialize};

/// The minimum over `n` keys (ties: the lowest index). Each internal node holds the index of the
/// winning leaf of its subtree; the root holds the overall winner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinTree<K> {
    keys: Vec<K>,
    /// Complete binary tree over `width` (a power of two) leaves; `winners[1]` is the root,
    /// leaf `i` sits at `width + i`. Leaves past `keys.len()` are empty (`u32::MAX`).
    winners: Vec<u32>,
    width: usize,
}

const EMPTY: u32 = u32::MAX;

impl<K: Ord + Copy> MinTree<K> {
    /// A tree over `keys` (at most `u32::MAX - 1` of them).
    pub fn new(keys: Vec<K>) -> Self {
        let width = keys.len().max(1).next_power_of_two();
        let mut winners = vec![EMPTY; 2 * width];
        for i in 0..keys.len() {
            winners[width + i] = i as u32;
        }
        let mut tree = MinTree { keys, winners, width };
        for node in (1..width).rev() {
            tree.winners[node] = tree.better(tree.winners[2 * node], tree.winners[2 * node + 1]);
        }
        tree
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
    pub fn key(&self, index: usize) -> K {
        self.keys[index]
    }

    /// The smallest key and its index (the lowest index among equals); `None` when empty.
    pub fn min(&self) -> Option<(usize, K)> {
        let w = self.winners[1];
        (w != EMPTY).then(|| (w as usize, self.keys[w as usize]))
    }

    /// Change key `index` and replay its matches up to the root.
    pub fn set(&mut self, index: usize, key: K) {
        self.keys[index] = key;
        let mut node = (self.width + index) / 2;
        while node >= 1 {
            let winner = self.better(self.winners[2 * node], self.winners[2 * node + 1]);
            if self.winners[node] == winner && winner != index as u32 {
                break; // nothing above can change: this subtree's winner is unchanged and not `index`
            }
            self.winners[node] = winner;
            node /= 2;
        }
    }

    fn better(&self, a: u32, b: u32) -> u32 {
        match (a, b) {
            (EMPTY, _) => b,
            (_, EMPTY) => a,
            _ if (self.keys[b as usize], b) < (self.keys[a as usize], a) => b,
            _ => a,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a scan, over a deterministic sequence of updates.
    #[test]
    fn agrees_with_a_scan() {
        for n in [1usize, 2, 3, 5, 8, 13, 64] {
            let mut keys: Vec<i64> = (0..n as i64).map(|i| (i * 7919) % 31).collect();
            let mut tree = MinTree::new(keys.clone());
            let mut x: u64 = 0x2545_f491_4f6c_dd1d;
            for _ in 0..500 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x % n as u64) as usize;
                let k = ((x >> 20) % 40) as i64 - 5;
                keys[i] = k;
                tree.set(i, k);
                let expected = keys.iter().enumerate().min_by_key(|&(i, k)| (*k, i)).map(|(i, k)| (i, *k));
                assert_eq!(tree.min(), expected, "n = {n}");
            }
        }
    }

    #[test]
    fn empty_tree_has_no_minimum() {
        let tree: MinTree<i64> = MinTree::new(Vec::new());
        assert_eq!(tree.min(), None);
        assert!(tree.is_empty());
    }
}
