//! How a record chooses its output channel: forward, hash by key, rebalance (round robin) and
//! broadcast; and the named key-routing rules of the four systems, each in one place:
//!
//! - [`subtask_for_key`]: Flink's key groups (hash into 128 groups, a contiguous range of groups
//!   per subtask, so that state can be rescaled);
//! - [`storm_fields_task`]: Storm's fields grouping, `floorMod(listHashCode([key]), tasks)`;
//! - [`spark_hash_partition`]: Spark's `HashPartitioner`, `nonNegativeMod(key.hashCode, partitions)`;
//! - [`kafka_default_partition`]: Kafka's default partitioner, a hash of the key modulo the partitions.
//!
//! Storm and Spark hash the key's `hashCode()`; streamlab's keys are names (a scenario's key
//! names, interned to integers), and [`JavaHashCode::of_str`] is Java's `String.hashCode` of the
//! name, so a key goes to the task the real system would choose for that string.

use serde::{Deserialize, Serialize};

use crate::graph::SubtaskIndex;
use crate::message::Key;
use crate::transform::{KeySelector, CONSTANT_KEY, CONSTANT_KEY_NAME};

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

/// What Java's `hashCode()` returns for a key: streamlab's keys are strings (their names), so
/// this is `String.hashCode` of the name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JavaHashCode(pub i32);

impl JavaHashCode {
    /// Java's `String.hashCode`: `s[0]*31^(n-1) + ... + s[n-1]` over the UTF-16 code units, in
    /// wrapping 32-bit arithmetic.
    pub fn of_str(name: &str) -> JavaHashCode {
        JavaHashCode(name.encode_utf16().fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit))))
    }
}

/// Which of `tasks` tasks a Storm fields grouping on the key sends a tuple to:
/// `TupleUtils.chooseTaskIndex(keys, numTasks) = Math.floorMod(listHashCode(keys), numTasks)`
/// (storm-client, `GrouperFactory.FieldsGrouper`), where `listHashCode` is
/// `Arrays.deepHashCode` of the selected field values: `31 + key.hashCode()` for the one key
/// field. The index is into the target tasks sorted by task id, so task index i is subtask i.
pub fn storm_fields_task(key: JavaHashCode, tasks: u32) -> SubtaskIndex {
    let list_hash_code = 31i32.wrapping_add(key.0);
    SubtaskIndex::from_raw(floor_mod(list_hash_code, tasks))
}

/// Which of `partitions` shuffle partitions Spark's `HashPartitioner` gives a key:
/// `Utils.nonNegativeMod(key.hashCode, numPartitions)`.
pub fn spark_hash_partition(key: JavaHashCode, partitions: u32) -> SubtaskIndex {
    SubtaskIndex::from_raw(floor_mod(key.0, partitions))
}

/// Which of `partitions` partitions Kafka's default partitioner gives a key:
/// `toPositive(murmur2(keyBytes)) % numPartitions`, with streamlab's fixed hash [`mix64`] of the
/// key standing for murmur2 of the serialized key.
pub fn kafka_default_partition(key: Key, partitions: u32) -> usize {
    (mix64(key) % u64::from(partitions.max(1))) as usize
}

/// `Math.floorMod(x, n)` (Spark's `nonNegativeMod` is the same for n > 0): the remainder that has
/// the sign of `n`, so never negative. `n` = 0 counts as 1 (no task to choose from but one).
fn floor_mod(x: i32, n: u32) -> u32 {
    i64::from(x).rem_euclid(i64::from(n.max(1))) as u32
}

/// [`JavaHashCode`]s of a scenario's keys, computed once: key `i` is `names[i]`, and the
/// constant key of `KeyBy(Constant)` is named [`CONSTANT_KEY_NAME`].
#[derive(Clone, Debug)]
pub struct KeyHashCodes {
    by_key: Vec<JavaHashCode>,
    constant: JavaHashCode,
}

impl KeyHashCodes {
    pub fn of_names<'a>(names: impl IntoIterator<Item = &'a str>) -> KeyHashCodes {
        KeyHashCodes {
            by_key: names.into_iter().map(JavaHashCode::of_str).collect(),
            constant: JavaHashCode::of_str(CONSTANT_KEY_NAME),
        }
    }

    /// The hash code of `key`; a key without a name hashes its number's decimal digits.
    pub fn get(&self, key: Key) -> JavaHashCode {
        if key == CONSTANT_KEY {
            return self.constant;
        }
        match usize::try_from(key).ok().and_then(|k| self.by_key.get(k)) {
            Some(&code) => code,
            None => JavaHashCode::of_str(&key.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    /// Values of `String.hashCode` printed by a JVM (the last one is the well-known string whose
    /// hash is `Integer.MIN_VALUE`; the emoji is two UTF-16 code units).
    #[test]
    fn string_hash_codes_are_javas() {
        let java = [
            ("", 0),
            ("k0", 3365),
            ("hello", 99_162_322),
            ("Aa", 2112),
            ("BB", 2112),
            ("polygenelubricants", i32::MIN),
            ("\u{1F600}", 0xD83D * 31 + 0xDE00),
        ];
        for (name, code) in java {
            assert_eq!(JavaHashCode::of_str(name), JavaHashCode(code), "{name:?}");
        }
    }

    /// Java's `String.hashCode` as its Javadoc states it, over UTF-16 code units.
    fn java_string_hash(name: &str) -> i32 {
        let units: Vec<u16> = name.encode_utf16().collect();
        let n = units.len() as u32;
        units.iter().enumerate().fold(0i32, |sum, (i, &unit)| {
            sum.wrapping_add(i32::from(unit).wrapping_mul(31i32.wrapping_pow(n - 1 - i as u32)))
        })
    }

    /// `Math.floorMod(x, n)` as Java's Javadoc states it: `x - floorDiv(x, n) * n`.
    fn java_floor_mod(x: i32, n: i32) -> i32 {
        let floor_div = (f64::from(x) / f64::from(n)).floor() as i64;
        (i64::from(x) - floor_div * i64::from(n)) as i32
    }

    /// `Arrays.deepHashCode` of a list of strings: `result = 31 * result + e.hashCode()` from 1.
    fn deep_hash_code(values: &[&str]) -> i32 {
        values.iter().fold(1i32, |result, v| result.wrapping_mul(31).wrapping_add(java_string_hash(v)))
    }

    proptest! {
        #[test]
        fn storm_fields_task_is_floor_mod_of_the_list_hash(name in "\\PC{0,12}", tasks in 1u32..=200) {
            let chosen = storm_fields_task(JavaHashCode::of_str(&name), tasks);
            let expected = java_floor_mod(deep_hash_code(&[&name]), tasks as i32);
            prop_assert_eq!(chosen.index() as i32, expected);
        }

        #[test]
        fn spark_hash_partition_is_non_negative_mod_of_the_hash_code(name in "\\PC{0,12}", partitions in 1u32..=200) {
            let chosen = spark_hash_partition(JavaHashCode::of_str(&name), partitions);
            // Spark's nonNegativeMod: `val rawMod = x % mod; rawMod + (if (rawMod < 0) mod else 0)`.
            let raw_mod = java_string_hash(&name) % partitions as i32;
            let expected = raw_mod + if raw_mod < 0 { partitions as i32 } else { 0 };
            prop_assert_eq!(chosen.index() as i32, expected);
        }

        #[test]
        fn hash_codes_are_javas_for_any_string(name in "\\PC{0,24}") {
            prop_assert_eq!(JavaHashCode::of_str(&name).0, java_string_hash(&name));
        }

        /// Random key names reach every task, and a key is routed by its name only: its
        /// interned number looks up the same task as its name. Not for a multiple of 31 tasks:
        /// see the next test.
        #[test]
        fn keys_spread_over_all_tasks_and_never_move(
            names in proptest::collection::vec("[a-z0-9]{1,10}", 1_000..=1_500),
            tasks in (1u32..=48).prop_filter("not a multiple of 31", |n| n % 31 != 0),
        ) {
            let codes = KeyHashCodes::of_names(names.iter().map(String::as_str));
            for rule in [storm_fields_task, spark_hash_partition] {
                let mut seen = vec![0u32; tasks as usize];
                for (key, name) in names.iter().enumerate() {
                    let task = rule(codes.get(key as Key), tasks);
                    prop_assert_eq!(task, rule(JavaHashCode::of_str(name), tasks));
                    seen[task.index()] += 1;
                }
                prop_assert!(seen.iter().all(|&n| n > 0), "{:?}", seen);
            }
        }
    }

    /// `String.hashCode` is a polynomial in 31, so modulo 31 tasks only the last character
    /// counts: keys `k0` … `k9999` (a generator's names) reach 10 of 31 tasks and 20 of 62 (the
    /// parity of the whole name splits each), and every task of any other count up to 64 — in
    /// Storm and in Spark alike, as on the real systems.
    #[test]
    fn generator_key_names_fill_every_task_count_but_multiples_of_31() {
        let names: Vec<String> = (0..10_000).map(|k| format!("k{k}")).collect();
        let codes = KeyHashCodes::of_names(names.iter().map(String::as_str));
        for tasks in 1..=64u32 {
            let expected = match tasks {
                31 => 10,
                62 => 20,
                n => n as usize,
            };
            for rule in [storm_fields_task, spark_hash_partition] {
                let used: std::collections::BTreeSet<usize> =
                    (0..10_000).map(|key| rule(codes.get(key), tasks).index()).collect();
                assert_eq!(used.len(), expected, "{tasks} tasks: {used:?}");
            }
        }
    }

    #[test]
    fn the_constant_key_hashes_its_own_name() {
        let codes = KeyHashCodes::of_names(["a", "b"]);
        assert_eq!(codes.get(CONSTANT_KEY), JavaHashCode(42));
        assert_eq!(codes.get(1), JavaHashCode(98));
        assert_eq!(codes.get(7), JavaHashCode::of_str("7"));
    }
}
