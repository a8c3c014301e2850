//! A stateful task's windowed store: per key and window the aggregate so far (Kafka Streams'
//! window store) with the final result suppressed until the window closes
//! (`suppress(untilWindowCloses)`): one result per key and window, when the task's stream time
//! passes the window's end plus the grace period. Every update is a [`Change`] for the
//! changelog; a restore replays them ([`WindowStore::replay`]).

use std::collections::BTreeMap;

use engine::message::{Firing, Key, Pane, Record};
use engine::window::{Accumulator, Window, WindowSpec};
use engine::SourceRef;

use super::rule::Change;

#[derive(Clone, Debug, Default)]
struct Open {
    acc: Accumulator,
    lineage: Vec<SourceRef>,
    newest_source: SourceRef,
    newest_ingest_ns: u64,
}

#[derive(Clone, Debug, Default)]
pub(super) struct WindowStore {
    windows: BTreeMap<(Window, Key), Open>,
}

/// What a record did to the store.
pub(super) struct Added {
    /// Some of its windows had closed already (`windowEnd <= streamTime - grace`): dropped there.
    pub dropped: bool,
    pub changes: Vec<Change>,
}

impl WindowStore {
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn clear(&mut self) {
        self.windows.clear();
    }

    /// Add `record` to each of its windows still open at `close_ms` (stream time minus grace).
    pub fn add(&mut self, spec: &WindowSpec, record: &Record, close_ms: i64) -> Added {
        let mut assigned = Vec::new();
        spec.kind.assign(record.timestamp_ms, &mut assigned);
        let mut dropped = false;
        let mut changes = Vec::new();
        for window in assigned {
            if window.end_ms <= close_ms {
                dropped = true;
                continue;
            }
            let change = Change::Add {
                key: record.key,
                window,
                value: record.value,
                source: record.source,
                ingest_ns: record.ingest_ns,
            };
            self.replay(spec, &change);
            changes.push(change);
        }
        Added { dropped, changes }
    }

    /// Apply one changelog record (a restore, or a live update).
    pub fn replay(&mut self, spec: &WindowSpec, change: &Change) {
        match change {
            Change::Add { key, window, value, source, ingest_ns } => {
                let open = self.windows.entry((*window, *key)).or_default();
                open.acc.add(*value);
                if spec.track_lineage {
                    open.lineage.push(*source);
                }
                if *ingest_ns >= open.newest_ingest_ns {
                    open.newest_ingest_ns = *ingest_ns;
                    open.newest_source = *source;
                }
            }
            Change::Close { key, window } => {
                self.windows.remove(&(*window, *key));
            }
        }
    }

    /// Close the windows that end at or before `close_ms`: each a tombstone for the changelog
    /// and its final result. A task's windows all have one size, so ordered by start they are
    /// ordered by end: the due ones are a prefix.
    pub fn close_until(&mut self, spec: &WindowSpec, close_ms: i64) -> Vec<(Change, Record)> {
        let due: Vec<(Window, Key)> = self.windows.keys().take_while(|(w, _)| w.end_ms <= close_ms).copied().collect();
        let mut closed = Vec::with_capacity(due.len());
        for (window, key) in due {
            let Some(open) = self.windows.remove(&(window, key)) else { continue };
            let result = Record {
                key,
                value: open.acc.result(spec.aggregate),
                timestamp_ms: window.max_timestamp(),
                source: open.newest_source,
                ingest_ns: open.newest_ingest_ns,
                pane: Some(Box::new(Pane {
                    window,
                    firing: Firing::OnTime,
                    count: open.acc.count,
                    lineage: open.lineage,
                })),
            };
            closed.push((Change::Close { key, window }, result));
        }
        closed
    }
}
