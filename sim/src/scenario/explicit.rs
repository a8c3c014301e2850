//! Explicit events as parsed: each distinct key name once ([`ExplicitEvents::key_names`], in order
//! of first appearance) and the events with an index into them, so a million events cost no
//! allocation each, written straight into the source log's partitions. Both readers produce this:
//! serde (any RON the format accepts) and the byte scanner of [`super::event_list`] (the common
//! spelling, fast). In a file an event is written
//! `(key: "k1", value: 3, ts: 120, arrives: 5, partition: 0)` (`partition` defaults to 0), which
//! is also how `shrink` writes them back.

use std::fmt;

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use std::sync::Arc;

use engine::ms_to_ns;

use super::format::TimeMs;
use super::keys::{packed, KeyIndex, PackedKey, ShortKeyIndex};
use super::limits::{MAX_EVENT_TIME_MS, MAX_PARTITIONS, MAX_TIME_MS};
use crate::external::{LogEntry, Partitions};

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

/// The explicit event list of a file, held as the source log it becomes: each event in range goes
/// straight into its partition (in file order), so loading writes an event once, and a list in
/// order of arrival is the log every run shares ([`ExplicitEvents::log`]). File order is kept as
/// each event's partition ([`ExplicitEvents::events`] rebuilds the list, for `shrink`), and what
/// the checks of `scenario/source.rs` need as it was read: events out of range as written, and
/// the event each key first appears at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExplicitEvents {
    /// Distinct key names in order of first appearance (key `i` is `key_names[i]`).
    pub key_names: Vec<String>,
    /// The index of the event each key first appears at (key `i`'s is `key_first_events[i]`).
    pub key_first_events: Vec<u32>,
    /// Each partition's events in range, in file order (up to the highest partition of one).
    partitions: Partitions,
    /// Each event's partition in file order, or [`OUT_OF_RANGE`] for an event in `out_of_range`.
    order: Vec<u16>,
    /// The events out of range ([`in_range`]), with their index, as written.
    out_of_range: Vec<(usize, ExplicitEvent)>,
    /// Whether the events in range came in order of arrival (then so did each partition's).
    in_arrival_order: bool,
    /// The least and greatest event time of the events in range (none: no event in range).
    event_time_bounds_ms: Option<(i64, i64)>,
}

/// An event's place in [`ExplicitEvents`]' file order when it is out of range (no partition has
/// this number: [`MAX_PARTITIONS`] is below it).
const OUT_OF_RANGE: u16 = u16::MAX;
const _: () = assert!(MAX_PARTITIONS <= OUT_OF_RANGE as u32);

/// An explicit event's arrival (processing time) is within 0 ..= [`MAX_TIME_MS`].
#[inline(always)]
pub fn arrival_in_range(arrives_ms: i64) -> bool {
    // A negative time is above the limit as a `u64`.
    arrives_ms as u64 <= MAX_TIME_MS
}

/// An explicit event's event time is within ±[`MAX_EVENT_TIME_MS`].
#[inline(always)]
pub fn event_time_in_range(ts_ms: i64) -> bool {
    ts_ms.unsigned_abs() <= MAX_EVENT_TIME_MS
}

#[inline(always)]
pub fn partition_in_range(partition: u32) -> bool {
    partition < MAX_PARTITIONS
}

/// Whether an event's times and partition are in range: only such an event has a place in the
/// log (and a time in nanoseconds that cannot overflow).
#[inline(always)]
fn in_range(ts_ms: i64, arrives_ms: i64, partition: u32) -> bool {
    arrival_in_range(arrives_ms) && event_time_in_range(ts_ms) && partition_in_range(partition)
}

impl ExplicitEvents {
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub fn key_name(&self, event: &ExplicitEvent) -> &str {
        &self.key_names[event.key as usize]
    }

    /// How far apart the earliest and latest event times of the log are (0 for an empty log):
    /// noted as the events were read, so the admission budget needs no pass over the log.
    pub fn event_time_span_ms(&self) -> u128 {
        self.event_time_bounds_ms.map_or(0, |(min, max)| (i128::from(max) - i128::from(min)).unsigned_abs())
    }

    /// The first event out of range, with its index.
    pub fn first_out_of_range(&self) -> Option<(usize, ExplicitEvent)> {
        self.out_of_range.first().copied()
    }

    /// The source log: each partition's events in order of arrival, equal arrivals in file
    /// order. Shares the partitions when the file listed its events in order of arrival (else
    /// each partition out of order is sorted in a copy: the list keeps file order).
    pub fn log(&self) -> Partitions {
        if self.in_arrival_order {
            return Arc::clone(&self.partitions);
        }
        let mut log = Vec::clone(&self.partitions);
        for entries in &mut log {
            // Stable: events with equal arrival keep file order.
            if !entries.is_sorted_by_key(|e| e.append_ns) {
                entries.sort_by_key(|e| e.append_ns);
            }
        }
        Arc::new(log)
    }

    /// The events in file order, as written.
    pub fn events(&self) -> impl Iterator<Item = ExplicitEvent> + '_ {
        let mut next_in_partition = vec![0usize; self.partitions.len()];
        let mut out_of_range = self.out_of_range.iter();
        self.order.iter().map(move |&partition| {
            if partition == OUT_OF_RANGE {
                let (_, event) = out_of_range.next().expect("an event out of range for each mark");
                return *event;
            }
            let p = usize::from(partition);
            let e = &self.partitions[p][next_in_partition[p]];
            next_in_partition[p] += 1;
            ExplicitEvent {
                key: e.key as u32,
                value: e.value,
                ts_ms: e.timestamp_ms,
                // In range: a whole number of milliseconds, without saturation.
                arrives_ms: (e.append_ns / 1_000_000) as i64,
                partition: u32::from(partition),
            }
        })
    }
}

/// Appends to a partition without room (doubling it).
#[inline(never)]
fn grow_and_push(entries: &mut Vec<LogEntry>, entry: LogEntry) {
    entries.push(entry);
}

/// Builds an [`ExplicitEvents`], interning each key name once.
pub struct EventsBuilder {
    key_names: Vec<String>,
    key_first_events: Vec<u32>,
    partitions: Vec<Vec<LogEntry>>,
    order: Vec<u16>,
    out_of_range: Vec<(usize, ExplicitEvent)>,
    in_arrival_order: bool,
    last_arrival_ms: i64,
    /// The least and greatest event time in range so far (`i64::MAX`, `i64::MIN` before any).
    event_time_min_ms: i64,
    event_time_max_ms: i64,
    /// Keys of at most 7 bytes, packed into a `u64`, and of 8 to 15 bytes, packed into a `u128`
    /// (compared without a call to memcmp).
    word_keys: ShortKeyIndex<u64>,
    double_word_keys: ShortKeyIndex<u128>,
    long_keys: KeyIndex<Box<str>>,
}

impl Default for EventsBuilder {
    fn default() -> Self {
        EventsBuilder {
            key_names: Vec::new(),
            key_first_events: Vec::new(),
            partitions: Vec::new(),
            order: Vec::new(),
            out_of_range: Vec::new(),
            in_arrival_order: true,
            last_arrival_ms: 0,
            event_time_min_ms: i64::MAX,
            event_time_max_ms: i64::MIN,
            word_keys: ShortKeyIndex::default(),
            double_word_keys: ShortKeyIndex::default(),
            long_keys: KeyIndex::default(),
        }
    }
}

impl EventsBuilder {
    pub fn with_capacity(events: usize) -> EventsBuilder {
        let mut builder = EventsBuilder::default();
        builder.order.reserve(events);
        builder
    }

    /// Appends an event whose key is named `key`.
    #[inline]
    pub fn push(&mut self, key: &str, value: i64, ts_ms: i64, arrives_ms: i64, partition: u32) {
        let key = match packed(key) {
            Some(packed) => self.intern_short(packed, || key),
            None => self.intern_long(key),
        };
        self.append(key, value, ts_ms, arrives_ms, partition);
    }

    /// [`EventsBuilder::push`] for a key of at most 15 bytes already packed (`keys::pack`); `name`
    /// gives its text, asked for only if the key is new.
    #[inline(always)]
    pub fn push_short<'k>(
        &mut self,
        packed: PackedKey,
        name: impl FnOnce() -> &'k str,
        value: i64,
        ts_ms: i64,
        arrives_ms: i64,
        partition: u32,
    ) {
        let key = self.intern_short(packed, name);
        self.append(key, value, ts_ms, arrives_ms, partition);
    }

    /// Appends an event, its key interned: into its partition if it is in range.
    #[inline(always)]
    fn append(&mut self, key: u32, value: i64, ts_ms: i64, arrives_ms: i64, partition: u32) {
        if !in_range(ts_ms, arrives_ms, partition) {
            return self.append_out_of_range(ExplicitEvent { key, value, ts_ms, arrives_ms, partition });
        }
        // Files usually list events in order of arrival: noting it (one comparison an event)
        // spares the log a pass and the sort's buffer.
        self.in_arrival_order &= self.last_arrival_ms <= arrives_ms;
        self.last_arrival_ms = arrives_ms;
        self.event_time_min_ms = self.event_time_min_ms.min(ts_ms);
        self.event_time_max_ms = self.event_time_max_ms.max(ts_ms);
        // In range: below `OUT_OF_RANGE`, and the milliseconds do not saturate.
        let entry =
            || LogEntry { append_ns: ms_to_ns(arrives_ms as u64), key: u64::from(key), value, timestamp_ms: ts_ms };
        match self.partitions.get_mut(partition as usize) {
            // With room known, `push` stores the entry's fields from registers. Where it might
            // grow the partition it built the entry on the stack and copied it from there, wider
            // than it was written, which stalled each event (a tenth of the load).
            Some(entries) if entries.len() < entries.capacity() => entries.push(entry()),
            Some(entries) => grow_and_push(entries, entry()),
            None => self.append_in_new_partition(partition, entry()),
        }
        self.order.push(partition as u16);
    }

    #[inline(never)]
    fn append_in_new_partition(&mut self, partition: u32, entry: LogEntry) {
        self.partitions.resize_with(partition as usize + 1, Vec::new);
        self.partitions[partition as usize].push(entry);
    }

    #[inline(never)]
    fn append_out_of_range(&mut self, event: ExplicitEvent) {
        self.out_of_range.push((self.order.len(), event));
        self.order.push(OUT_OF_RANGE);
    }

    #[inline(always)]
    fn intern_short<'k>(&mut self, packed: PackedKey, name: impl FnOnce() -> &'k str) -> u32 {
        // At most one key per event, and a file holds fewer than 2^32 events (64 MiB).
        let next = self.key_names.len() as u32;
        let k = match packed {
            PackedKey::Word(key) => self.word_keys.get_or_insert(key, next),
            PackedKey::DoubleWord(key) => self.double_word_keys.get_or_insert(key, next),
        };
        if k == next {
            self.new_key(name());
        }
        k
    }

    fn intern_long(&mut self, key: &str) -> u32 {
        let next = self.key_names.len() as u32;
        let k = match self.long_keys.get(key) {
            Some(&k) => k,
            None => *self.long_keys.entry(key.into()).or_insert(next),
        };
        if k == next {
            self.new_key(key);
        }
        k
    }

    /// Names the next key, first appearing at the event being appended.
    #[inline(never)]
    fn new_key(&mut self, name: &str) {
        self.key_names.push(name.to_string());
        self.key_first_events.push(self.order.len() as u32);
    }

    /// Whether the short keys' index moved to SipHash (a crafted file; see `keys::MAX_PROBES`).
    pub fn keys_hardened(&self) -> bool {
        self.word_keys.is_hardened() || self.double_word_keys.is_hardened()
    }

    pub fn finish(mut self) -> ExplicitEvents {
        // Kept for the run: no spare capacity (the scanner reserves by the list's length in bytes).
        for entries in &mut self.partitions {
            entries.shrink_to_fit();
        }
        self.order.shrink_to_fit();
        let event_time_bounds_ms = (self.event_time_min_ms <= self.event_time_max_ms)
            .then_some((self.event_time_min_ms, self.event_time_max_ms));
        ExplicitEvents {
            key_names: self.key_names,
            key_first_events: self.key_first_events,
            partitions: Arc::new(self.partitions),
            order: self.order,
            out_of_range: self.out_of_range,
            in_arrival_order: self.in_arrival_order,
            event_time_bounds_ms,
        }
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
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for e in self.events() {
            seq.serialize_element(&WrittenEventRef {
                key: self.key_name(&e),
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

    /// Every key gets the number of its first appearance, keys of each size interleaved (within a
    /// word, within two, longer), across the fast tables' growth.
    #[test]
    fn keys_are_numbered_in_order_of_first_appearance() {
        let names: Vec<String> = (0..30_000u32)
            .map(|i| match i % 7 {
                3 => format!("a-long-key-name-{i:08}"),
                5 => format!("key-{i:08}"),
                _ => format!("k{i}"),
            })
            .collect();
        let mut builder = EventsBuilder::default();
        // Each key twice, the second time in another order.
        for name in names.iter().chain(names.iter().rev()) {
            builder.push(name, 1, 2, 3, 0);
        }
        assert!(!builder.keys_hardened(), "ordinary keys probe short");
        let list = builder.finish();
        assert_eq!(list.key_names, names);
        let numbers: Vec<u32> = list.events().map(|e| e.key).collect();
        let first: Vec<u32> = (0..30_000).collect();
        let second: Vec<u32> = (0..30_000).rev().collect();
        assert_eq!(numbers, [first, second].concat());
    }

    /// The list gives back its events in file order, those out of range included, while the log
    /// holds the events in range by partition in order of arrival (equal arrivals in file order).
    #[test]
    fn the_list_keeps_file_order_and_the_log_arrival_order() {
        let written = [
            ("a", 1, 0, 5, 1),
            ("b", 2, 0, 3, 1),
            ("a", 3, 0, -4, 0),
            ("c", 4, 0, 3, 1),
            ("b", 5, 0, 2, 0),
            ("a", 6, 0, 1, MAX_PARTITIONS),
        ];
        let mut builder = EventsBuilder::default();
        for (key, value, ts_ms, arrives_ms, partition) in written {
            builder.push(key, value, ts_ms, arrives_ms, partition);
        }
        let list = builder.finish();
        let read: Vec<_> =
            list.events().map(|e| (list.key_name(&e), e.value, e.ts_ms, e.arrives_ms, e.partition)).collect();
        assert_eq!(read, written);
        assert_eq!(list.key_first_events, [0, 1, 3]);
        assert_eq!(list.first_out_of_range().map(|(i, e)| (i, e.value)), Some((2, 3)));
        let log: Vec<Vec<(u64, i64)>> =
            list.log().iter().map(|p| p.iter().map(|e| (e.append_ns / 1_000_000, e.value)).collect()).collect();
        assert_eq!(log, [vec![(2, 5)], vec![(3, 2), (3, 4), (5, 1)]]);
        // The list itself is still in file order.
        assert_eq!(list.events().map(|e| e.value).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
    }

    /// The event-time span the budget reads is that of the events in range.
    #[test]
    fn the_span_covers_the_event_times_in_range() {
        let mut builder = EventsBuilder::default();
        builder.push("a", 1, -20, 1, 0);
        builder.push("a", 1, 1 << 62, 1, 0); // out of range: not in the log
        builder.push("a", 1, 35, 2, 1);
        builder.push("a", 1, 7, 3, 0);
        assert_eq!(builder.finish().event_time_span_ms(), 55);
        assert_eq!(EventsBuilder::default().finish().event_time_span_ms(), 0);
    }
}
