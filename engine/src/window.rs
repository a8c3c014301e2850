//! Event-time windows: assigners, aggregates, and the keyed window operator with allowed lateness,
//! late firings and a late-data side output. Semantics follow Flink's `WindowOperator` with the
//! default event-time trigger (book/src/windows.md, "When a window fires").

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::message::{Firing, Key, Pane, Record, SourceRef};
use crate::{EventTimeMs, WATERMARK_MIN};

/// A half-open window `[start, end)` of event time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    pub start_ms: EventTimeMs,
    pub end_ms: EventTimeMs,
}

impl Window {
    pub fn new(start_ms: EventTimeMs, end_ms: EventTimeMs) -> Self {
        Window { start_ms, end_ms }
    }
    /// The largest timestamp that still belongs to the window; it fires when the watermark
    /// reaches this.
    pub fn max_timestamp(&self) -> EventTimeMs {
        self.end_ms - 1
    }
    /// Flink's `TimeWindow.intersects`: overlapping or touching windows merge.
    pub fn intersects(&self, other: &Window) -> bool {
        self.start_ms <= other.end_ms && self.end_ms >= other.start_ms
    }
    pub fn cover(&self, other: &Window) -> Window {
        Window::new(self.start_ms.min(other.start_ms), self.end_ms.max(other.end_ms))
    }
}

/// How records are assigned to windows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WindowKind {
    /// Flink's `TumblingEventTimeWindows.of(size, offset)`; `|offset_ms| < size_ms`.
    Tumbling {
        size_ms: i64,
        offset_ms: i64,
    },
    /// Flink's `SlidingEventTimeWindows.of(size, slide, offset)`; `|offset_ms| < slide_ms`. A slide
    /// larger than the size leaves gaps: a record in a gap belongs to no window.
    Sliding {
        size_ms: i64,
        slide_ms: i64,
        offset_ms: i64,
    },
    Session {
        gap_ms: i64,
    },
}

/// Flink's `TimeWindow.getWindowStartWithOffset`: the start of the window of length `size_ms`
/// (shifted by `offset_ms`) that holds `ts`, by floor modulo so negative times work too.
pub fn window_start_with_offset(ts: EventTimeMs, offset_ms: i64, size_ms: i64) -> EventTimeMs {
    ts - (ts - offset_ms).rem_euclid(size_ms)
}

impl WindowKind {
    /// The windows a record with timestamp `ts` belongs to, in the order Flink's assigner lists
    /// them: for sliding windows the latest start first (`SlidingEventTimeWindows.assignWindows`
    /// counts down from the last start), which is the order a late record's firings come out in.
    /// Session windows return the record's own proto-window `[ts, ts + gap)`; merging happens in
    /// the operator.
    pub fn assign(&self, ts: EventTimeMs, out: &mut Vec<Window>) {
        out.clear();
        match *self {
            WindowKind::Tumbling { size_ms, offset_ms } => {
                let start = window_start_with_offset(ts, offset_ms, size_ms);
                out.push(Window::new(start, start + size_ms));
            }
            WindowKind::Sliding { size_ms, slide_ms, offset_ms } => {
                let last_start = window_start_with_offset(ts, offset_ms, slide_ms);
                let mut start = last_start;
                while start > ts - size_ms {
                    out.push(Window::new(start, start + size_ms));
                    start -= slide_ms;
                }
            }
            WindowKind::Session { gap_ms } => out.push(Window::new(ts, ts + gap_ms)),
        }
    }

    pub fn is_merging(&self) -> bool {
        matches!(self, WindowKind::Session { .. })
    }
}

/// What a window computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aggregate {
    Count,
    Sum,
    Min,
    Max,
    /// The mean in thousandths (integer arithmetic keeps runs bit-exact): 6.5 is emitted as 6500.
    AvgMilli,
}

/// Running aggregate of a window; one struct serves every [`Aggregate`] and merges for sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accumulator {
    pub count: u64,
    pub sum: i64,
    pub min: i64,
    pub max: i64,
}

impl Default for Accumulator {
    fn default() -> Self {
        Accumulator { count: 0, sum: 0, min: i64::MAX, max: i64::MIN }
    }
}

impl Accumulator {
    pub fn add(&mut self, value: i64) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(value);
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }
    pub fn merge(&mut self, other: &Accumulator) {
        self.count += other.count;
        self.sum = self.sum.wrapping_add(other.sum);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
    pub fn result(&self, aggregate: Aggregate) -> i64 {
        match aggregate {
            Aggregate::Count => self.count as i64,
            Aggregate::Sum => self.sum,
            Aggregate::Min => self.min,
            Aggregate::Max => self.max,
            Aggregate::AvgMilli => {
                if self.count == 0 {
                    0
                } else {
                    self.sum.wrapping_mul(1000) / self.count as i64
                }
            }
        }
    }
}

/// Configuration of a keyed window operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    pub kind: WindowKind,
    pub aggregate: Aggregate,
    pub allowed_lateness_ms: i64,
    /// Keep, per window, the source records that contributed (for the oracle).
    pub track_lineage: bool,
}

/// Contents of one window of one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowContents {
    pub acc: Accumulator,
    pub lineage: Vec<SourceRef>,
    pub newest_source: SourceRef,
    pub newest_ingest_ns: u64,
    /// Has the on-time firing happened (and no end-of-window timer been registered since)?
    pub fired: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum TimerKind {
    // Declared first so that, at equal times, a window fires before it is cleaned up.
    Fire,
    Cleanup,
}

/// What the operator did with one input record (Flink's `isSkippedElement` / `isElementLate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordFate {
    /// Added to every window it belongs to that is still open.
    Assigned,
    /// Added to some of its windows; others (sliding windows past their allowed lateness) skipped
    /// it as late, silently, as Flink's `WindowOperator` does.
    AssignedSkippingLate,
    /// In no window that is still open, and `ts + allowed_lateness <= watermark`: dropped as late
    /// (and sent to the late output, if any).
    DroppedLate,
    /// In no window (a gap between sliding windows) but not late: ignored, as Flink does, and
    /// not counted as late.
    Skipped,
}

/// The keyed window operator's state. `BTreeMap`s keep every iteration order deterministic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowOperator {
    spec: WindowSpec,
    windows: BTreeMap<(Key, Window), WindowContents>,
    timers: BTreeSet<(EventTimeMs, TimerKind, Key, Window)>,
    watermark: EventTimeMs,
    #[serde(skip)]
    scratch: Vec<Window>,
    /// Records in the window that fired last: a new window's lineage starts with room for as
    /// many (windows of one operator tend to be alike), instead of doubling its way up.
    #[serde(skip)]
    lineage_capacity: usize,
}

impl WindowOperator {
    pub fn new(spec: WindowSpec) -> Self {
        WindowOperator {
            spec,
            windows: BTreeMap::new(),
            timers: BTreeSet::new(),
            watermark: WATERMARK_MIN,
            scratch: Vec::new(),
            lineage_capacity: 0,
        }
    }

    pub fn spec(&self) -> &WindowSpec {
        &self.spec
    }

    /// Restored from a checkpoint: Flink checkpoints the timers but not the watermark
    /// (`InternalTimerServiceImpl.currentWatermark` starts at `Long.MIN_VALUE` again), so event
    /// time starts over. A record late before the failure may be on time now: it is added, and
    /// its window fires (again) when the new watermarks pass its end.
    pub fn restart_event_time(&mut self) {
        self.watermark = WATERMARK_MIN;
    }
    pub fn watermark(&self) -> EventTimeMs {
        self.watermark
    }
    /// Open windows, in (key, window) order.
    pub fn windows(&self) -> impl Iterator<Item = (&(Key, Window), &WindowContents)> {
        self.windows.iter()
    }
    pub fn open_window_count(&self) -> usize {
        self.windows.len()
    }

    fn is_late(&self, window: &Window) -> bool {
        // Flink's `isWindowLate`: the window has been (or could have been) cleaned up.
        window.max_timestamp().saturating_add(self.spec.allowed_lateness_ms) <= self.watermark
    }

    /// Flink's `EventTimeTrigger`: an end-of-window timer only for a window the watermark has
    /// not reached (one behind it fires at once, and never again on time); a cleanup timer always.
    fn register_timers(&mut self, key: Key, window: Window) {
        if window.max_timestamp() > self.watermark {
            self.timers.insert((window.max_timestamp(), TimerKind::Fire, key, window));
        }
        let cleanup = window.max_timestamp().saturating_add(self.spec.allowed_lateness_ms);
        self.timers.insert((cleanup, TimerKind::Cleanup, key, window));
    }

    fn remove_timers(&mut self, key: Key, window: Window) {
        self.timers.remove(&(window.max_timestamp(), TimerKind::Fire, key, window));
        let cleanup = window.max_timestamp().saturating_add(self.spec.allowed_lateness_ms);
        self.timers.remove(&(cleanup, TimerKind::Cleanup, key, window));
    }

    fn add_to(&mut self, key: Key, window: Window, record: &Record) -> &mut WindowContents {
        let track = self.spec.track_lineage;
        let contents = match self.windows.entry((key, window)) {
            std::collections::btree_map::Entry::Occupied(e) => {
                let contents = e.into_mut();
                // Flink's `EventTimeTrigger.onElement` registers the end-of-window timer on every
                // element the watermark has not passed; timers are a set, so this matters only
                // for a window that fired and then saw event time start over (a restore).
                if contents.fired && window.max_timestamp() > self.watermark {
                    self.timers.insert((window.max_timestamp(), TimerKind::Fire, key, window));
                    contents.fired = false;
                }
                contents
            }
            std::collections::btree_map::Entry::Vacant(e) => {
                let max_ts = window.max_timestamp();
                if max_ts > self.watermark {
                    self.timers.insert((max_ts, TimerKind::Fire, key, window));
                }
                self.timers.insert((
                    max_ts.saturating_add(self.spec.allowed_lateness_ms),
                    TimerKind::Cleanup,
                    key,
                    window,
                ));
                // Room for half as much again as the last window held: windows of one operator
                // are alike but not equal, and a lineage one short of its room would double.
                let room = if track { self.lineage_capacity + self.lineage_capacity / 2 } else { 0 };
                e.insert(WindowContents {
                    acc: Accumulator::default(),
                    lineage: Vec::with_capacity(room),
                    newest_source: record.source,
                    newest_ingest_ns: record.ingest_ns,
                    fired: false,
                })
            }
        };
        contents.acc.add(record.value);
        if track {
            contents.lineage.push(record.source);
        }
        if record.ingest_ns >= contents.newest_ingest_ns {
            contents.newest_ingest_ns = record.ingest_ns;
            contents.newest_source = record.source;
        }
        contents
    }

    /// Process one record; window results (late firings) are appended to `out`.
    pub fn on_record(&mut self, record: &Record, out: &mut Vec<Record>) -> RecordFate {
        if self.spec.kind.is_merging() {
            return self.on_record_merging(record, out);
        }
        let mut windows = std::mem::take(&mut self.scratch);
        self.spec.kind.assign(record.timestamp_ms, &mut windows);
        let mut assigned = false;
        let mut skipped_late = false;
        for &window in &windows {
            if self.is_late(&window) {
                skipped_late = true;
                continue;
            }
            assigned = true;
            let watermark = self.watermark;
            let aggregate = self.spec.aggregate;
            let key = record.key;
            let contents = self.add_to(key, window, record);
            if window.max_timestamp() <= watermark {
                // The window already fired (or would have): fire again at once with the update.
                out.push(result(key, window, contents, aggregate, Firing::Late));
            }
        }
        self.scratch = windows;
        if assigned && skipped_late {
            RecordFate::AssignedSkippingLate
        } else if assigned {
            RecordFate::Assigned
        } else if self.is_element_late(record.timestamp_ms) {
            RecordFate::DroppedLate
        } else {
            RecordFate::Skipped
        }
    }

    /// Flink's `isElementLate`: `ts + allowed_lateness <= watermark`.
    fn is_element_late(&self, ts: EventTimeMs) -> bool {
        ts.saturating_add(self.spec.allowed_lateness_ms) <= self.watermark
    }

    fn on_record_merging(&mut self, record: &Record, out: &mut Vec<Record>) -> RecordFate {
        let key = record.key;
        let mut windows = std::mem::take(&mut self.scratch);
        self.spec.kind.assign(record.timestamp_ms, &mut windows);
        let proto = windows[0];
        self.scratch = windows;
        // Existing sessions of this key that the new one touches. A key's sessions never touch
        // each other (touching ones were merged), so in start order their ends increase too:
        // those that start by the proto-window's end and touch it are the last ones of the
        // range. Walk back from there and stop at the first that does not touch, rather than
        // over every session the key still keeps: with a long allowed lateness that is all of
        // them, and a run would take time quadratic in its records.
        let lo = (key, Window::new(i64::MIN, i64::MIN));
        let hi = (key, Window::new(proto.end_ms, i64::MAX));
        let mut touching: Vec<Window> =
            self.windows.range(lo..=hi).rev().map(|((_, w), _)| *w).take_while(|w| w.intersects(&proto)).collect();
        // In start order, as they are folded below (the merged lineage keeps that order).
        touching.reverse();
        let merged = touching.iter().fold(proto, |acc, w| acc.cover(w));
        if self.is_late(&merged) {
            return RecordFate::DroppedLate;
        }
        if !(touching.len() == 1 && touching[0] == merged) {
            // Fold every touched session into the merged one.
            let mut combined: Option<WindowContents> = None;
            for w in &touching {
                self.remove_timers(key, *w);
                let contents = self.windows.remove(&(key, *w)).expect("session listed above");
                combined = Some(match combined {
                    None => contents,
                    Some(mut c) => {
                        c.acc.merge(&contents.acc);
                        c.lineage.extend(contents.lineage);
                        c.fired |= contents.fired;
                        if contents.newest_ingest_ns >= c.newest_ingest_ns {
                            c.newest_ingest_ns = contents.newest_ingest_ns;
                            c.newest_source = contents.newest_source;
                        }
                        c
                    }
                });
            }
            if let Some(mut c) = combined {
                // A merged window the watermark has not reached gets an end-of-window timer
                // (`EventTimeTrigger.onMerge`): it has not fired, whatever its parts did.
                c.fired &= merged.max_timestamp() <= self.watermark;
                self.windows.insert((key, merged), c);
                self.register_timers(key, merged);
            }
        }
        let watermark = self.watermark;
        let aggregate = self.spec.aggregate;
        let contents = self.add_to(key, merged, record);
        if merged.max_timestamp() <= watermark {
            out.push(result(key, merged, contents, aggregate, Firing::Late));
        }
        RecordFate::Assigned
    }

    /// Advance event time: fire windows whose end the watermark passed, clean up windows past
    /// their allowed lateness. Results are appended to `out` in (time, key, window) order.
    pub fn on_watermark(&mut self, watermark: EventTimeMs, out: &mut Vec<Record>) {
        if watermark <= self.watermark {
            return;
        }
        self.watermark = watermark;
        while let Some(&timer) = self.timers.first() {
            let (time, kind, key, window) = timer;
            if time > watermark {
                break;
            }
            self.timers.pop_first();
            match kind {
                TimerKind::Fire => {
                    let cleaned_up_now = self.is_late(&window);
                    if let Some(contents) = self.windows.get_mut(&(key, window)) {
                        contents.fired = true;
                        self.lineage_capacity = contents.lineage.len();
                        // A window whose cleanup is due too (no allowed lateness) is removed
                        // further on in this loop, and nothing reads it before: its lineage
                        // moves into the result instead of being copied.
                        let lineage = if cleaned_up_now {
                            std::mem::take(&mut contents.lineage)
                        } else {
                            contents.lineage.clone()
                        };
                        out.push(result_with(key, window, contents, self.spec.aggregate, Firing::OnTime, lineage));
                    }
                }
                TimerKind::Cleanup => {
                    self.windows.remove(&(key, window));
                }
            }
        }
    }
}

fn result(key: Key, window: Window, contents: &WindowContents, aggregate: Aggregate, firing: Firing) -> Record {
    result_with(key, window, contents, aggregate, firing, contents.lineage.clone())
}

/// [`result`] with the window's lineage given (moved out of the window, or a copy).
fn result_with(
    key: Key,
    window: Window,
    contents: &WindowContents,
    aggregate: Aggregate,
    firing: Firing,
    lineage: Vec<SourceRef>,
) -> Record {
    Record {
        key,
        value: contents.acc.result(aggregate),
        timestamp_ms: window.max_timestamp(),
        source: contents.newest_source,
        ingest_ns: contents.newest_ingest_ns,
        pane: Some(Box::new(Pane { window, firing, count: contents.acc.count, lineage })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: Key, value: i64, ts: EventTimeMs) -> Record {
        Record {
            key,
            value,
            timestamp_ms: ts,
            source: SourceRef { partition: 0, offset: ts as u64 },
            ingest_ns: 0,
            pane: None,
        }
    }

    fn check_assign(kind: WindowKind, ts: EventTimeMs, expected: &[(i64, i64)]) {
        let mut out = Vec::new();
        kind.assign(ts, &mut out);
        let got: Vec<(i64, i64)> = out.iter().map(|w| (w.start_ms, w.end_ms)).collect();
        assert_eq!(got, expected, "{kind:?} at ts={ts}");
    }

    #[test]
    fn tumbling_assignment_including_negative_time() {
        check_assign(WindowKind::Tumbling { size_ms: 10, offset_ms: 0 }, 0, &[(0, 10)]);
        check_assign(WindowKind::Tumbling { size_ms: 10, offset_ms: 0 }, 9, &[(0, 10)]);
        check_assign(WindowKind::Tumbling { size_ms: 10, offset_ms: 0 }, 10, &[(10, 20)]);
        check_assign(WindowKind::Tumbling { size_ms: 10, offset_ms: 0 }, -1, &[(-10, 0)]);
    }

    #[test]
    fn sliding_assignment_lists_every_overlapping_window() {
        let kind = WindowKind::Sliding { size_ms: 10, slide_ms: 5, offset_ms: 0 };
        check_assign(kind.clone(), 7, &[(5, 15), (0, 10)]);
        check_assign(kind.clone(), 5, &[(5, 15), (0, 10)]);
        check_assign(kind.clone(), 4, &[(0, 10), (-5, 5)]);
        check_assign(
            WindowKind::Sliding { size_ms: 10, slide_ms: 3, offset_ms: 0 },
            9,
            &[(9, 19), (6, 16), (3, 13), (0, 10)],
        );
    }

    /// After a restore event time starts over (Flink does not checkpoint the watermark): a record
    /// behind the old watermark is on time again, for a window that still has state (it fires on
    /// time once more) as for one already cleaned up (a new window, fired on time).
    #[test]
    fn after_a_restore_event_time_starts_over() {
        let run = |lateness: i64| {
            let mut op = WindowOperator::new(spec(
                WindowKind::Tumbling { size_ms: 10, offset_ms: 0 },
                Aggregate::Count,
                lateness,
            ));
            let mut out = Vec::new();
            op.on_record(&rec(1, 1, 2), &mut out);
            op.on_watermark(20, &mut out);
            let mut restored: WindowOperator = op.clone();
            restored.restart_event_time();
            let fate = restored.on_record(&rec(1, 1, 5), &mut out);
            restored.on_watermark(15, &mut out);
            let got: Vec<_> = out.iter().map(|r| (r.value, r.pane.as_ref().unwrap().firing)).collect();
            (fate, got)
        };
        // Kept for lateness: the window fires on time again, with both records.
        assert_eq!(run(100), (RecordFate::Assigned, vec![(1, Firing::OnTime), (2, Firing::OnTime)]));
        // Cleaned up: a new window of one record.
        assert_eq!(run(0), (RecordFate::Assigned, vec![(1, Firing::OnTime), (1, Firing::OnTime)]));
    }

    /// One late record in two sliding windows that both fired: Flink's `WindowOperator` fires
    /// them in its assigner's order, the later window first.
    #[test]
    fn a_late_record_fires_its_sliding_windows_latest_first() {
        let s = spec(WindowKind::Sliding { size_ms: 10, slide_ms: 5, offset_ms: 0 }, Aggregate::Sum, 100);
        check(
            s,
            &[R(1, 1, 7), W(20), R(1, 2, 8)],
            &[
                (1, 0, 10, 1, Firing::OnTime),
                (1, 5, 15, 1, Firing::OnTime),
                (1, 5, 15, 3, Firing::Late),
                (1, 0, 10, 3, Firing::Late),
            ],
            0,
        );
    }

    /// Run records and watermarks through an operator; return (key, start, end, value, firing).
    fn check(spec: WindowSpec, input: &[Input], expected: &[(Key, i64, i64, i64, Firing)], dropped: usize) {
        let mut op = WindowOperator::new(spec);
        let mut out = Vec::new();
        let mut late = 0;
        for item in input {
            match *item {
                Input::R(key, value, ts) => {
                    if op.on_record(&rec(key, value, ts), &mut out) == RecordFate::DroppedLate {
                        late += 1;
                    }
                }
                Input::W(w) => op.on_watermark(w, &mut out),
            }
        }
        let got: Vec<_> = out
            .iter()
            .map(|r| {
                let p = r.pane.as_ref().unwrap();
                (r.key, p.window.start_ms, p.window.end_ms, r.value, p.firing)
            })
            .collect();
        assert_eq!(got, expected);
        assert_eq!(late, dropped, "records dropped as late");
    }

    enum Input {
        R(Key, i64, EventTimeMs),
        W(EventTimeMs),
    }
    use Input::{R, W};

    fn spec(kind: WindowKind, aggregate: Aggregate, lateness: i64) -> WindowSpec {
        WindowSpec { kind, aggregate, allowed_lateness_ms: lateness, track_lineage: true }
    }

    #[test]
    fn tumbling_fires_when_watermark_reaches_max_timestamp() {
        let s = spec(WindowKind::Tumbling { size_ms: 10, offset_ms: 0 }, Aggregate::Sum, 0);
        check(s.clone(), &[R(1, 5, 3), R(1, 7, 9), W(8)], &[], 0);
        check(s, &[R(1, 5, 3), R(1, 7, 9), W(9)], &[(1, 0, 10, 12, Firing::OnTime)], 0);
    }

    #[test]
    fn record_behind_watermark_is_dropped_without_lateness() {
        let s = spec(WindowKind::Tumbling { size_ms: 10, offset_ms: 0 }, Aggregate::Count, 0);
        check(s, &[R(1, 1, 3), W(9), R(1, 1, 4)], &[(1, 0, 10, 1, Firing::OnTime)], 1);
    }

    #[test]
    fn allowed_lateness_gives_late_firings_then_drops_after_cleanup() {
        let s = spec(WindowKind::Tumbling { size_ms: 10, offset_ms: 0 }, Aggregate::Sum, 5);
        check(
            s,
            &[R(1, 1, 3), W(9), R(1, 2, 4), W(13), R(1, 4, 5), W(14), R(1, 8, 6)],
            &[(1, 0, 10, 1, Firing::OnTime), (1, 0, 10, 3, Firing::Late), (1, 0, 10, 7, Firing::Late)],
            1,
        );
    }

    #[test]
    fn session_windows_merge_when_they_touch() {
        let s = spec(WindowKind::Session { gap_ms: 10 }, Aggregate::Sum, 0);
        // [0,10) and [10,20) touch => one session [0,20); [31,41) stays apart.
        check(
            s,
            &[R(7, 1, 0), R(7, 2, 10), R(7, 4, 31), W(100)],
            &[(7, 0, 20, 3, Firing::OnTime), (7, 31, 41, 4, Firing::OnTime)],
            0,
        );
    }

    #[test]
    fn session_bridging_record_merges_two_sessions() {
        let s = spec(WindowKind::Session { gap_ms: 10 }, Aggregate::Count, 0);
        check(
            s,
            &[R(1, 1, 0), R(1, 1, 18), R(1, 1, 10), R(2, 1, 12), W(100)],
            &[(2, 12, 22, 1, Firing::OnTime), (1, 0, 28, 3, Firing::OnTime)],
            0,
        );
    }

    /// Records that bridge sessions merge every session they touch, and only those, also when
    /// older sessions of the key are still kept (allowed lateness): the walk back from the
    /// record's proto-window stops at the first session that does not touch it.
    #[test]
    fn bridging_records_merge_every_touching_session_among_kept_ones() {
        let s = spec(WindowKind::Session { gap_ms: 10 }, Aggregate::Count, 1_000);
        let mut op = WindowOperator::new(s);
        let mut out = Vec::new();
        // Sessions [0,10), [100,110), [115,125), [130,140), [200,210); then 108 bridges the
        // second and third, and 122 that merged session and the fourth.
        for ts in [0, 100, 115, 130, 200, 108, 122] {
            op.on_record(&rec(1, 1, ts), &mut out);
        }
        op.on_watermark(500, &mut out);
        let fired: Vec<(i64, i64, Vec<u64>)> = out
            .iter()
            .map(|r| {
                let pane = r.pane.as_ref().unwrap();
                (pane.window.start_ms, pane.window.end_ms, pane.lineage.iter().map(|s| s.offset).collect())
            })
            .collect();
        // Lineage in the order the sessions merged (by start), each record once.
        assert_eq!(fired, vec![(0, 10, vec![0]), (100, 140, vec![100, 115, 108, 130, 122]), (200, 210, vec![200])]);
    }

    #[test]
    fn aggregates() {
        let mut acc = Accumulator::default();
        for v in [5, 8, 3] {
            acc.add(v);
        }
        assert_eq!(acc.result(Aggregate::Count), 3);
        assert_eq!(acc.result(Aggregate::Sum), 16);
        assert_eq!(acc.result(Aggregate::Min), 3);
        assert_eq!(acc.result(Aggregate::Max), 8);
        assert_eq!(acc.result(Aggregate::AvgMilli), 5333);
    }

    #[test]
    fn lineage_records_every_contributor() {
        let mut op = WindowOperator::new(spec(WindowKind::Tumbling { size_ms: 10, offset_ms: 0 }, Aggregate::Count, 0));
        let mut out = Vec::new();
        op.on_record(&rec(1, 1, 2), &mut out);
        op.on_record(&rec(1, 1, 4), &mut out);
        op.on_watermark(20, &mut out);
        let lineage: Vec<u64> = out[0].pane.as_ref().unwrap().lineage.iter().map(|s| s.offset).collect();
        assert_eq!(lineage, vec![2, 4]);
        assert_eq!(op.open_window_count(), 0, "cleaned up at max_ts + lateness");
    }

    /// The on-time firing hands its lineage over only when the window is cleaned up at once:
    /// under allowed lateness the window keeps it, and a late firing counts every record.
    #[test]
    fn a_late_firing_still_names_the_records_fired_on_time() {
        let lineage = |r: &Record| -> Vec<u64> { r.pane.as_ref().unwrap().lineage.iter().map(|s| s.offset).collect() };
        let mut op = WindowOperator::new(spec(WindowKind::Tumbling { size_ms: 10, offset_ms: 0 }, Aggregate::Count, 5));
        let mut out = Vec::new();
        op.on_record(&rec(1, 1, 2), &mut out);
        op.on_record(&rec(1, 1, 4), &mut out);
        op.on_watermark(10, &mut out);
        op.on_record(&rec(1, 1, 6), &mut out);
        assert_eq!(out.iter().map(lineage).collect::<Vec<_>>(), vec![vec![2, 4], vec![2, 4, 6]]);
        // A watermark past the cleanup time too fires and cleans up in one call.
        op.on_record(&rec(1, 1, 12), &mut out);
        op.on_watermark(40, &mut out);
        assert_eq!(lineage(&out[2]), vec![12]);
        assert_eq!(op.open_window_count(), 0);
    }
}
