//! Storm's windowed bolt (`BaseWindowedBolt` with `withTimestampField` and `withLag`) over event
//! time, tumbling or sliding, per key. The watermark is the latest tuple timestamp seen minus the
//! lag (Storm computes it per input stream; one upstream component here), +inf once every
//! upstream task has ended. A tuple older than the watermark is late: dropped and acked at once.
//! Otherwise the bolt *holds* the tuple, un-acked, until every window it belongs to has fired:
//! a window's result is emitted anchored to all of its tuples, then the tuples that left their
//! last window are acked. So a tuple's tree lives at least the window length plus the lag — the
//! message timeout must be longer, or held tuples time out and are replayed.

use std::collections::BTreeMap;

use crate::message::{Firing, Key, Pane, Record};
use crate::window::{Accumulator, Aggregate, Window, WindowKind};
use crate::{EventTimeMs, WATERMARK_MIN};

/// One window of one key: its aggregate, lineage, and the tuples it holds.
#[derive(Clone, Debug)]
struct Open<H> {
    acc: Accumulator,
    lineage: Vec<crate::SourceRef>,
    held: Vec<H>,
    newest: Record,
}

/// A fired window: the result and the tuples to anchor it to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fired<H> {
    pub result: Record,
    pub anchors: Vec<H>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TupleFate {
    /// Held in at least one window.
    Held,
    /// Older than the watermark, or in no window: ack at once.
    Late,
}

#[derive(Clone, Debug)]
pub struct WindowedBolt<H: Ord + Copy> {
    kind: WindowKind,
    aggregate: Aggregate,
    lag_ms: i64,
    track_lineage: bool,
    upstream_tasks: usize,
    ended: usize,
    max_ts: EventTimeMs,
    watermark: EventTimeMs,
    windows: BTreeMap<(Window, Key), Open<H>>,
    /// Per held tuple, in how many open windows it still is.
    windows_left: BTreeMap<H, u32>,
    pub late_dropped: u64,
    scratch: Vec<Window>,
}

impl<H: Ord + Copy> WindowedBolt<H> {
    pub fn new(
        kind: WindowKind,
        aggregate: Aggregate,
        lag_ms: i64,
        track_lineage: bool,
        upstream_tasks: usize,
    ) -> Self {
        WindowedBolt {
            kind,
            aggregate,
            lag_ms,
            track_lineage,
            upstream_tasks,
            ended: 0,
            max_ts: WATERMARK_MIN,
            watermark: WATERMARK_MIN,
            windows: BTreeMap::new(),
            windows_left: BTreeMap::new(),
            late_dropped: 0,
            scratch: Vec::new(),
        }
    }

    pub fn watermark(&self) -> EventTimeMs {
        self.watermark
    }
    pub fn held_tuples(&self) -> usize {
        self.windows_left.len()
    }

    /// A tuple arrives. Fired windows and the tuples to ack go to `fired` and `ack`.
    pub fn on_tuple(&mut self, record: &Record, handle: H, fired: &mut Vec<Fired<H>>, ack: &mut Vec<H>) -> TupleFate {
        let ts = record.timestamp_ms;
        let fate = if ts < self.watermark {
            self.late_dropped += 1;
            TupleFate::Late
        } else {
            let mut assigned = std::mem::take(&mut self.scratch);
            self.kind.assign(ts, &mut assigned);
            for w in &assigned {
                let open = self.windows.entry((*w, record.key)).or_insert_with(|| Open {
                    acc: Accumulator::default(),
                    lineage: Vec::new(),
                    held: Vec::new(),
                    newest: record.clone(),
                });
                open.acc.add(record.value);
                if self.track_lineage {
                    open.lineage.push(record.source);
                }
                open.held.push(handle);
                if record.ingest_ns >= open.newest.ingest_ns {
                    open.newest = record.clone();
                }
            }
            let n = assigned.len() as u32;
            self.scratch = assigned;
            if n == 0 {
                TupleFate::Late
            } else {
                *self.windows_left.entry(handle).or_insert(0) += n;
                TupleFate::Held
            }
        };
        self.max_ts = self.max_ts.max(ts);
        self.advance(self.max_ts.saturating_sub(self.lag_ms), fired, ack);
        fate
    }

    /// An upstream task ended its input: with all of them ended the watermark is +inf.
    pub fn on_end(&mut self, fired: &mut Vec<Fired<H>>, ack: &mut Vec<H>) {
        self.ended += 1;
        if self.ended >= self.upstream_tasks {
            self.advance(EventTimeMs::MAX, fired, ack);
        }
    }

    fn advance(&mut self, watermark: EventTimeMs, fired: &mut Vec<Fired<H>>, ack: &mut Vec<H>) {
        if watermark <= self.watermark {
            return;
        }
        self.watermark = watermark;
        let due: Vec<(Window, Key)> =
            self.windows.keys().take_while(|(w, _)| w.max_timestamp() <= watermark).copied().collect();
        for k in due {
            let Some(open) = self.windows.remove(&k) else { continue };
            let (window, key) = k;
            let result = Record {
                key,
                value: open.acc.result(self.aggregate),
                timestamp_ms: window.max_timestamp(),
                source: open.newest.source,
                ingest_ns: open.newest.ingest_ns,
                pane: Some(Box::new(Pane {
                    window,
                    firing: Firing::OnTime,
                    count: open.acc.count,
                    lineage: open.lineage,
                })),
            };
            for h in &open.held {
                if let Some(left) = self.windows_left.get_mut(h) {
                    *left -= 1;
                    if *left == 0 {
                        self.windows_left.remove(h);
                        ack.push(*h);
                    }
                }
            }
            fired.push(Fired { result, anchors: open.held });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceRef;

    fn rec(key: Key, ts: i64, offset: u64) -> Record {
        Record {
            key,
            value: 1,
            timestamp_ms: ts,
            source: SourceRef { partition: 0, offset },
            ingest_ns: offset,
            pane: None,
        }
    }

    #[test]
    fn tuples_are_held_until_their_last_sliding_window_fires() {
        let kind = WindowKind::Sliding { size_ms: 10, slide_ms: 5, offset_ms: 0 };
        let mut b: WindowedBolt<u32> = WindowedBolt::new(kind, Aggregate::Count, 2, true, 1);
        let (mut fired, mut ack) = (Vec::new(), Vec::new());
        assert_eq!(b.on_tuple(&rec(1, 7, 0), 0, &mut fired, &mut ack), TupleFate::Held);
        assert!(fired.is_empty());
        // Watermark 11: window [0, 10) fires, tuple 0 is still in [5, 15).
        b.on_tuple(&rec(1, 13, 1), 1, &mut fired, &mut ack);
        assert_eq!(fired.len(), 1);
        assert!(ack.is_empty());
        // Late: older than the watermark.
        assert_eq!(b.on_tuple(&rec(1, 3, 2), 2, &mut fired, &mut ack), TupleFate::Late);
        b.on_end(&mut fired, &mut ack);
        assert_eq!(ack, vec![0, 1]);
        assert_eq!(fired.iter().map(|f| f.result.value).collect::<Vec<_>>(), vec![1, 2, 1]);
        assert_eq!(b.held_tuples(), 0);
    }
}
