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
    short_keys: KeyIndex<u128>,
    long_keys: KeyIndex<Box<str>>,
}

// A lookup-only map: it is never iterated (key numbers come from the order of first appearance in
// the file), so its order cannot reach an output; a hash map makes interning a million events'
// keys linear. The hasher (SipHash) has fixed keys, so no OS randomness in `sim`, and resists a
// file crafted to collide.
#[allow(clippy::disallowed_types)]
type KeyIndex<K> = std::collections::HashMap<K, u32, BuildHasherDefault<DefaultHasher>>;

/// A key of at most 15 bytes as one integer: its bytes, and its length in the top byte (so `"a"`
/// and `"a\0"` differ).
fn packed(key: &str) -> Option<u128> {
    let bytes = key.as_bytes();
    if bytes.len() > 15 {
        return None;
    }
    let body = bytes.iter().rev().fold(0u128, |packed, &b| packed << 8 | u128::from(b));
    Some(body | (bytes.len() as u128) << 120)
}

impl EventsBuilder {
    pub fn with_capacity(events: usize) -> EventsBuilder {
        let mut builder = EventsBuilder::default();
        builder.list.events.reserve(events);
        builder
    }

    /// Appends an event whose key is named `key`.
    pub fn push(&mut self, key: &str, value: i64, ts_ms: i64, arrives_ms: i64, partition: u32) {
        let key = self.intern(key);
        self.list.events.push(ExplicitEvent { key, value, ts_ms, arrives_ms, partition });
    }

    fn intern(&mut self, key: &str) -> u32 {
        // At most one key per event, and a file holds fewer than 2^32 events (64 MiB).
        let next = self.list.key_names.len() as u32;
        let k = match packed(key) {
            Some(packed) => *self.short_keys.entry(packed).or_insert(next),
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
