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
    word[15] = bytes.len() as u8;
    Some(u128::from_le_bytes(word))
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
    #[inline]
    fn get_or_insert(&mut self, key: u128, next: u32) -> u32 {
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

/// Linear probing over a power-of-two number of 8-byte slots (a table of 10^4 keys stays in the
/// L2 cache), each a key's number and 32 bits of its hash; the keys themselves by number.
struct ProbeTable {
    /// `hash >> 32 << 32 | number`, or [`FREE`].
    slots: Vec<u64>,
    /// The packed key of each number (numbers of long keys, which live elsewhere, hold
    /// [`NOT_SHORT`]).
    keys: Vec<u128>,
    used: usize,
}

const FREE: u64 = u64::MAX;
/// No packed key has 255 in its length byte.
const NOT_SHORT: u128 = u128::MAX;

impl ProbeTable {
    fn with_slots(slots: usize) -> ProbeTable {
        ProbeTable { slots: vec![FREE; slots], keys: Vec::new(), used: 0 }
    }

    /// The number of `key`, inserted as `next` if new; `None` (nothing inserted) when the probe
    /// would exceed [`MAX_PROBES`].
    #[inline]
    fn get_or_insert(&mut self, key: u128, next: u32) -> Option<u32> {
        if 2 * (self.used + 1) > self.slots.len() {
            self.slots = self.grown()?;
        }
        let hash = spread(key);
        let tag = hash & !0xffff_ffff;
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        for _ in 0..MAX_PROBES {
            let slot = self.slots[at];
            if slot == FREE {
                self.slots[at] = tag | u64::from(next);
                self.used += 1;
                self.keys.resize(next as usize + 1, NOT_SHORT);
                self.keys[next as usize] = key;
                return Some(next);
            }
            if slot & !0xffff_ffff == tag && self.keys[slot as u32 as usize] == key {
                return Some(slot as u32);
            }
            at = (at + 1) & mask;
        }
        None
    }

    /// The slots for the same keys, twice as many, or `None` if a key probes too long there.
    fn grown(&self) -> Option<Vec<u64>> {
        let mut grown = vec![FREE; 2 * self.slots.len()];
        let mask = grown.len() - 1;
        for &slot in self.slots.iter().filter(|&&s| s != FREE) {
            let mut at = spread(self.keys[slot as u32 as usize]) as usize & mask;
            let mut probes = 1;
            while grown[at] != FREE {
                probes += 1;
                if probes > MAX_PROBES {
                    return None;
                }
                at = (at + 1) & mask;
            }
            grown[at] = slot;
        }
        Some(grown)
    }

    fn to_map(&self) -> KeyIndex<u128> {
        self.slots.iter().filter(|&&s| s != FREE).map(|&s| (self.keys[s as u32 as usize], s as u32)).collect()
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
        let key = self.intern(key);
        self.list.events.push(ExplicitEvent { key, value, ts_ms, arrives_ms, partition });
    }

    #[inline]
    fn intern(&mut self, key: &str) -> u32 {
        // At most one key per event, and a file holds fewer than 2^32 events (64 MiB).
        let next = self.list.key_names.len() as u32;
        let k = match packed(key) {
            Some(packed) => self.short_keys.get_or_insert(packed, next),
            None => match self.long_keys.get(key) {
                Some(&k) => k,
                None => *self.long_keys.entry(key.into()).or_insert(next),
            },
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
