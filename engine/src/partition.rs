//! How a record chooses its output channel: forward, hash by key (through key groups, as Flink
//! does, so that state could later be rescaled), rebalance (round robin) and broadcast.

use serde::{Deserialize, Serialize};

use crate::graph::SubtaskIndex;
use crate::message::Key;
use crate::transform::KeySelector;

/// Flink's default maximum parallelism: keys hash into this many key groups, and each subtask of
/// a keyed operator owns a contiguous range of them.
pub const KEY_GROUPS: u32 = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Partitioning {
    /// Subtask i sends to subtask i (needs equal parallelism); no shuffle.
    Forward,
    /// By key group of the selected key: all records of a key meet in one subtask.
    Hash(KeySelector),
    /// Round robin over all downstream subtasks.
    Rebalance,
    /// Every record to every downstream subtask.
    Broadcast,
}

impl Partitioning {
    pub fn is_shuffle(&self) -> bool {
        !matches!(self, Partitioning::Forward)
    }
}

/// A fixed 64-bit mixer (splitmix64's finaliser): the same on every platform and every run.
pub fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

pub fn key_group(key: Key) -> u32 {
    (mix64(key) % KEY_GROUPS as u64) as u32
}

/// Which of `parallelism` subtasks owns `key` (Flink's `computeOperatorIndexForKeyGroup`).
pub fn subtask_for_key(key: Key, parallelism: u32) -> SubtaskIndex {
    SubtaskIndex::from_raw(key_group(key) * parallelism / KEY_GROUPS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_spread_over_all_subtasks_and_stay_put() {
        let mut seen = [0u32; 4];
        for key in 0..1000 {
            let s = subtask_for_key(key, 4);
            assert_eq!(s, subtask_for_key(key, 4));
            seen[s.index()] += 1;
        }
        assert!(seen.iter().all(|&n| n > 150), "{seen:?}");
    }
}
