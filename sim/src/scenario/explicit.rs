//! Explicit events as parsed: each distinct key name once ([`ExplicitEvents::key_names`], in order
//! of first appearance) and the events with an index into them, so a million events cost no
//! allocation each. Both readers produce this: serde (any RON the format accepts) and the byte
//! scanner of [`super::event_list`] (the common spelling, fast). In a file an event is written
//! `(key: "k1", value: 3, ts: 120, arrives: 5, partition: 0)` (`partition` defaults to 0), which
//! is also how `shrink` writes them back.

use std::fmt;
use std::hash::{BuildHasherDefault, DefaultHasher};

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::format::TimeMs;
use super::limits::MAX_PARTITIONS;

/// One explicit event, its key an index into [`ExplicitEvents::key_names`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExplicitEvent {
    pub key: u32,
    pub value: i64,
    /// Event time.
    pub ts_ms: i64,
    /// When the event is appended to the log (processing time).
    pub arrives_ms: i64,
    pub partition: u32,
}

/// The explicit event list of a file, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExplicitEvents {
    /// Distinct key names in order of first appearance (key `i` is `key_names[i]`).
    pub key_names: Vec<String>,
    pub events: Vec<ExplicitEvent>,
    /// The number of events in each partition up to the highest one below [`MAX_PARTITIONS`]
    /// (counted while parsing, so the log's partitions are allocated at their size without a
    /// pass over the events; a partition out of range is an error when the scenario is resolved).
    pub partition_sizes: Vec<usize>,
}

impl ExplicitEvents {
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn key_name(&self, event: &ExplicitEvent) -> &str {
        &self.key_names[event.key as usize]
    }
}

/// Builds an [`ExplicitEvents`], interning each key name once.
#[derive(Default)]
pub struct EventsBuilder {
    list: ExplicitEvents,
    /// Keys of at most 15 bytes, packed into an integer (compared without a call to memcmp).
    short_keys: ShortKeyIndex,
    long_keys: KeyIndex<Box<str>>,
}

// A lookup-only map: it is never iterated (key numbers come from the order of first appearance in
// the file), so its order cannot reach an output; a hash map makes interning a million events'
// keys linear. The hasher (SipHash) has fixed keys, so no OS randomness in `sim`, and resists a
// file crafted to collide.
#[allow(clippy::disallowed_types)]
type KeyIndex<K> = std::collections::HashMap<K, u32, BuildHasherDefault<DefaultHasher>>;

/// A key of at most 15 bytes as one integer: its bytes (the first lowest), and its length in the
/// top byte (so `"a"` and `"a\0"` differ).
fn packed(key: &str) -> Option<u128> {
    let bytes = key.as_bytes();
    if bytes.len() > 15 {
        return None;
    }
    let mut word = [0u8; 16];
    word[..bytes.len()].copy_from_slice(bytes);
    Some(pack(u128::from_le_bytes(word), bytes.len()))
}

/// The packed form of a key of `length` (at most 15) bytes, from 16 bytes of text starting with
/// it (as a little-endian integer): what follows the key is masked off. The scanner packs keys
/// from the word it has loaded; `packed` from a string.
#[inline(always)]
pub fn pack(word: u128, length: usize) -> u128 {
    debug_assert!(length <= 15);
    word & ((1u128 << (8 * length)) - 1) | (length as u128) << 120
}

/// [`pack`] for a key of at most 7 bytes, from the 8 bytes of text starting with it: the same
/// integer in 64-bit arithmetic.
#[inline(always)]
pub fn pack_within_word(word: u64, length: usize) -> u128 {
    debug_assert!(length <= 7);
    u128::from(word & ((1u64 << (8 * length)) - 1)) | (length as u128) << 120
}

/// The short keys' index: an open-addressing table with a multiply-fold hash (a few
/// nanoseconds, where SipHash took a fifth of the load). Such a hash can be made to collide by a
/// crafted file, so a probe longer than [`MAX_PROBES`] moves every key to SipHash for the rest of
/// the file: each lookup costs at most `MAX_PROBES` steps before that and SipHash's after it,
/// linear in the events whatever the keys.
enum ShortKeyIndex {
    Fast(ProbeTable),
    Hardened(KeyIndex<u128>),
}

impl Default for ShortKeyIndex {
    fn default() -> Self {
        ShortKeyIndex::Fast(ProbeTable::with_slots(1 << 10))
    }
}

/// Probes a lookup may take in the fast table before the index moves to SipHash. Random keys at
/// the table's load (at most half full) rarely probe more than a dozen slots.
pub const MAX_PROBES: usize = 64;

impl ShortKeyIndex {
    /// The number of `key`, inserted as `next` if it is new.
    #[inline(always)]
    fn get_or_insert(&mut self, key: u128, next: u32) -> u32 {
        // Most keys have been seen before: found without a call.
        if let ShortKeyIndex::Fast(table) = self {
            if let Some(k) = table.find(key) {
                return k;
            }
        }
        self.insert(key, next)
    }

    #[inline(never)]
    fn insert(&mut self, key: u128, next: u32) -> u32 {
        match self {
            ShortKeyIndex::Hardened(map) => *map.entry(key).or_insert(next),
            ShortKeyIndex::Fast(table) => match table.get_or_insert(key, next) {
                Some(k) => k,
                None => {
                    let mut map = table.to_map();
                    let k = *map.entry(key).or_insert(next);
                    *self = ShortKeyIndex::Hardened(map);
                    k
                }
            },
        }
    }

    /// Whether a probe grew too long and the keys moved to SipHash.
    pub fn is_hardened(&self) -> bool {
        matches!(self, ShortKeyIndex::Hardened(_))
    }
}

/// Linear probing over a power-of-two number of slots, each a packed key and its number (in two
/// arrays read at the same index: a lookup's two loads do not wait for each other). A table of
/// 10^4 keys stays within the L2 cache.
struct ProbeTable {
    /// The packed key in each slot, or [`FREE`].
    keys: Vec<u128>,
    /// The number of the key in the same slot.
    numbers: Vec<u32>,
    used: usize,
}

/// No packed key has 255 in its length byte.
const FREE: u128 = u128::MAX;

impl ProbeTable {
    fn with_slots(slots: usize) -> ProbeTable {
        ProbeTable { keys: vec![FREE; slots], numbers: vec![0; slots], used: 0 }
    }

    /// The number of `key` if the table holds it.
    #[inline(always)]
    fn find(&self, key: u128) -> Option<u32> {
        let mask = self.keys.len() - 1;
        let mut at = spread(key) as usize & mask;
        for _ in 0..MAX_PROBES {
            let slot = *self.keys.get(at)?;
            if slot == key {
                return self.numbers.get(at).copied();
            }
            if slot == FREE {
                return None;
            }
            at = (at + 1) & mask;
        }
        None
    }

    /// The number of `key`, inserted as `next` if new; `None` (nothing inserted) when the probe
    /// would exceed [`MAX_PROBES`].
    fn get_or_insert(&mut self, key: u128, next: u32) -> Option<u32> {
        let mask = self.keys.len() - 1;
        let mut at = spread(key) as usize & mask;
        for _ in 0..MAX_PROBES {
            let (slot, number) = (self.keys[at], self.numbers[at]);
            if slot == key {
                return Some(number);
            }
            if slot == FREE {
                return self.insert(at, key, next);
            }
            at = (at + 1) & mask;
        }
        None
    }

    /// Puts `key` as `next` into the free slot `at` (growing the table first when it would be
    /// more than half full).
    #[inline(never)]
    fn insert(&mut self, at: usize, key: u128, next: u32) -> Option<u32> {
        if 2 * (self.used + 1) > self.keys.len() {
            *self = self.grown()?;
            return self.get_or_insert(key, next);
        }
        self.keys[at] = key;
        self.numbers[at] = next;
        self.used += 1;
        Some(next)
    }

    /// The same keys in twice as many slots, or `None` if a key probes too long there.
    fn grown(&self) -> Option<ProbeTable> {
        let mut grown = ProbeTable::with_slots(2 * self.keys.len());
        let mask = grown.keys.len() - 1;
        for (&key, &number) in self.keys.iter().zip(&self.numbers).filter(|(&k, _)| k != FREE) {
            let mut at = spread(key) as usize & mask;
            let mut probes = 1;
            while grown.keys[at] != FREE {
                probes += 1;
                if probes > MAX_PROBES {
                    return None;
                }
                at = (at + 1) & mask;
            }
            grown.keys[at] = key;
            grown.numbers[at] = number;
        }
        grown.used = self.used;
        Some(grown)
    }

    fn to_map(&self) -> KeyIndex<u128> {
        self.keys.iter().zip(&self.numbers).filter(|(&k, _)| k != FREE).map(|(&k, &n)| (k, n)).collect()
    }
}

/// A 64-bit hash of a packed key: the two halves multiplied and the product's halves folded
/// (every bit of the key reaches the low bits that pick the slot).
#[inline(always)]
fn spread(key: u128) -> u64 {
    let product =
        u128::from(key as u64 ^ 0x243f_6a88_85a3_08d3) * u128::from((key >> 64) as u64 ^ 0x1319_8a2e_0370_7344);
    product as u64 ^ (product >> 64) as u64
}

impl EventsBuilder {
    pub fn with_capacity(events: usize) -> EventsBuilder {
        let mut builder = EventsBuilder::default();
        builder.list.events.reserve(events);
        builder
    }

    /// Appends an event whose key is named `key`.
    #[inline]
    pub fn push(&mut self, key: &str, value: i64, ts_ms: i64, arrives_ms: i64, partition: u32) {
        let key = match packed(key) {
            Some(packed) => self.intern_short(packed, || key),
            None => self.intern_long(key),
        };
        self.list.events.push(ExplicitEvent { key, value, ts_ms, arrives_ms, partition });
        self.count(partition);
    }

    /// [`EventsBuilder::push`] for a key of at most 15 bytes already packed ([`pack`]); `name`
    /// gives its text, asked for only if the key is new.
    #[inline(always)]
    pub fn push_short<'k>(
        &mut self,
        packed: u128,
        name: impl FnOnce() -> &'k str,
        value: i64,
        ts_ms: i64,
        arrives_ms: i64,
        partition: u32,
    ) {
        let key = self.intern_short(packed, name);
        self.list.events.push(ExplicitEvent { key, value, ts_ms, arrives_ms, partition });
        self.count(partition);
    }

    /// Counts an event in `partition` ([`ExplicitEvents::partition_sizes`]).
    #[inline(always)]
    fn count(&mut self, partition: u32) {
        match self.list.partition_sizes.get_mut(partition as usize) {
            Some(size) => *size += 1,
            None => self.count_in_new_partition(partition),
        }
    }

    #[inline(never)]
    fn count_in_new_partition(&mut self, partition: u32) {
        // Not one beyond the limit: a crafted partition number would allocate gigabytes.
        if partition < MAX_PARTITIONS {
            self.list.partition_sizes.resize(partition as usize + 1, 0);
            self.list.partition_sizes[partition as usize] += 1;
        }
    }

    #[inline(always)]
    fn intern_short<'k>(&mut self, packed: u128, name: impl FnOnce() -> &'k str) -> u32 {
        // At most one key per event, and a file holds fewer than 2^32 events (64 MiB).
        let next = self.list.key_names.len() as u32;
        let k = self.short_keys.get_or_insert(packed, next);
        if k == next {
            self.list.key_names.push(name().to_string());
        }
        k
    }

    fn intern_long(&mut self, key: &str) -> u32 {
        let next = self.list.key_names.len() as u32;
        let k = match self.long_keys.get(key) {
            Some(&k) => k,
            None => *self.long_keys.entry(key.into()).or_insert(next),
        };
        if k == next {
            self.list.key_names.push(key.to_string());
        }
        k
    }

    /// Whether the short keys' index moved to SipHash (a crafted file; see [`MAX_PROBES`]).
    pub fn keys_hardened(&self) -> bool {
        self.short_keys.is_hardened()
    }

    pub fn finish(mut self) -> ExplicitEvents {
        // The scanner reserves by the list's length in bytes, an overestimate kept for the run.
        self.list.events.shrink_to_fit();
        self.list
    }
}

/// An event as written (serde's side).
#[derive(Deserialize)]
#[serde(rename = "ExplicitEvent", deny_unknown_fields)]
struct WrittenEvent {
    key: String,
    value: i64,
    ts: TimeMs,
    arrives: TimeMs,
    #[serde(default)]
    partition: u32,
}

/// An event as `shrink` writes it back.
#[derive(Serialize)]
#[serde(rename = "ExplicitEvent")]
struct WrittenEventRef<'a> {
    key: &'a str,
    value: i64,
    ts: TimeMs,
    arrives: TimeMs,
    partition: u32,
}

impl Serialize for ExplicitEvents {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.events.len()))?;
        for e in &self.events {
            seq.serialize_element(&WrittenEventRef {
                key: self.key_name(e),
                value: e.value,
                ts: TimeMs(e.ts_ms),
                arrives: TimeMs(e.arrives_ms),
                partition: e.partition,
            })?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for ExplicitEvents {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = ExplicitEvents;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of events (key: \"k\", value: 1, ts: 5, arrives: 10)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ExplicitEvents, A::Error> {
                let mut builder = EventsBuilder::default();
                while let Some(e) = seq.next_element::<WrittenEvent>()? {
                    builder.push(&e.key, e.value, e.ts.0, e.arrives.0, e.partition);
                }
                Ok(builder.finish())
            }
        }
        d.deserialize_seq(ListVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key gets the number of its first appearance, short and long keys interleaved, across
    /// the fast table's growth.
    #[test]
    fn keys_are_numbered_in_order_of_first_appearance() {
        let names: Vec<String> = (0..30_000u32)
            .map(|i| if i % 7 == 3 { format!("a-long-key-name-{i:08}") } else { format!("k{i}") })
            .collect();
        let mut builder = EventsBuilder::default();
        // Each key twice, the second time in another order.
        for name in names.iter().chain(names.iter().rev()) {
            builder.push(name, 1, 2, 3, 0);
        }
        assert!(!builder.keys_hardened(), "ordinary keys probe short");
        let list = builder.finish();
        assert_eq!(list.key_names, names);
        let numbers: Vec<u32> = list.events.iter().map(|e| e.key).collect();
        let first: Vec<u32> = (0..30_000).collect();
        let second: Vec<u32> = (0..30_000).rev().collect();
        assert_eq!(numbers, [first, second].concat());
    }

    /// The packing of the scanner's short keys is [`pack`]'s.
    #[test]
    fn packing_within_a_word_is_packing() {
        let text = *b"k2201\",value:731";
        let word = u128::from_le_bytes(text);
        for length in 0..=7 {
            assert_eq!(pack_within_word(word as u64, length), pack(word, length), "length {length}");
        }
        assert_eq!(Some(pack(word, 5)), packed("k2201"));
    }

    /// Keys crafted so the multiply-fold hash is the same for all (their low half cancels its
    /// constant, so the product is 0): the index moves to SipHash and still numbers every key.
    #[test]
    fn colliding_keys_move_the_index_to_siphash() {
        let key = |i: u64| u128::from(0x243f_6a88_85a3_08d3u64) | u128::from(i) << 64;
        assert_eq!(spread(key(1)), spread(key(2)));
        let mut index = ShortKeyIndex::default();
        for i in 0..1_000u64 {
            assert_eq!(index.get_or_insert(key(i), i as u32), i as u32);
        }
        assert!(index.is_hardened());
        for i in (0..1_000u64).rev() {
            assert_eq!(index.get_or_insert(key(i), 5_000), i as u32, "key {i} keeps its number");
        }
    }
}
