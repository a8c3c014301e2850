//! Differential property test: the engine's keyed window operator against an independent,
//! executable statement of Flink's event-time window semantics (`WindowOperator` with the default
//! `EventTimeTrigger`, book/src/windows.md, "When a window fires").
//!
//! The model below is written from the rules, not from the engine's code: it keeps no timers. It
//! states *when* a window fires declaratively:
//!
//! - on a record, every window that contains its timestamp and is not late (`max_ts + A > W`)
//!   receives it; if the watermark already passed the window's end (`max_ts <= W`) the window
//!   fires at once, with the updated contents (a late firing);
//! - when the watermark advances from `W` to `W'`, every window with contents and
//!   `W < max_ts <= W'` fires on time, once; windows with `max_ts + A <= W'` are dropped;
//! - a record that joins no window counts as late-dropped iff `ts + A <= W` (Flink's
//!   `isElementLate`); a record in a gap between sliding windows that is not late is ignored;
//! - sessions: a record's proto-window `[ts, ts + gap)` merges with every session of its key that
//!   it intersects (`start <= other.end && end >= other.start`); a late merged window drops the
//!   record; a merged window behind the watermark fires at once and never on time again.
//!
//! Window assignment is brute force (scan candidate starts), not the engine's formula. Cases
//! cover disorder, allowed lateness > 0, sessions that merge after firing, sliding windows with
//! gaps, offsets, epoch-millisecond and negative times. On the code before the fix for issue 8
//! this test finds both deviations (a window created behind the watermark fired again on time; a
//! session merged behind the watermark fired twice).

use std::collections::BTreeMap;

use engine::window::{Aggregate, RecordFate, WindowKind, WindowOperator, WindowSpec};
use engine::{Firing, Record, SourceRef};
use proptest::prelude::*;

#[derive(Clone, Copy, Debug)]
enum Input {
    Record { key: u64, value: i64, ts: i64 },
    Watermark(i64),
    End,
}

/// One emitted result: (key, start, end, value, firing).
type Firing5 = (u64, i64, i64, i64, Firing);

/// What one input produced: the results (as a sorted multiset, since Flink fires timers of equal
/// time in no specified order) and whether the record was dropped as late.
#[derive(Clone, Debug, PartialEq, Eq)]
struct StepOut {
    results: Vec<Firing5>,
    dropped_late: bool,
}

// ---- the model ------------------------------------------------------------------------------

struct Model {
    kind: WindowKind,
    aggregate: Aggregate,
    lateness: i64,
    watermark: i64,
    /// (key, start, end) -> values, in arrival order.
    windows: BTreeMap<(u64, i64, i64), Vec<i64>>,
}

impl Model {
    fn aggregate_of(&self, values: &[i64]) -> i64 {
        let n = values.len() as i64;
        let sum: i64 = values.iter().sum();
        match self.aggregate {
            Aggregate::Count => n,
            Aggregate::Sum => sum,
            Aggregate::Min => *values.iter().min().unwrap(),
            Aggregate::Max => *values.iter().max().unwrap(),
            Aggregate::AvgMilli => sum * 1000 / n,
        }
    }

    /// Every fixed window containing `ts`, found by scanning the starts `offset + j * step`.
    fn fixed_windows(&self, ts: i64) -> Vec<(i64, i64)> {
        let (size, step, offset) = match self.kind {
            WindowKind::Tumbling { size_ms, offset_ms } => (size_ms, size_ms, offset_ms),
            WindowKind::Sliding { size_ms, slide_ms, offset_ms } => (size_ms, slide_ms, offset_ms),
            WindowKind::Session { .. } => unreachable!(),
        };
        // The smallest j whose window could contain ts: start > ts - size.
        let j_lo = (ts - size - offset).div_euclid(step) - 1;
        let mut out = Vec::new();
        let mut j = j_lo;
        loop {
            let start = offset + j * step;
            if start > ts {
                break;
            }
            if start <= ts && ts < start + size {
                out.push((start, start + size));
            }
            j += 1;
        }
        out
    }

    fn late(&self, end: i64) -> bool {
        end - 1 + self.lateness <= self.watermark
    }

    fn on_record(&mut self, key: u64, value: i64, ts: i64) -> StepOut {
        let mut results = Vec::new();
        let mut joined = false;
        if let WindowKind::Session { gap_ms } = self.kind {
            let (mut start, mut end) = (ts, ts + gap_ms);
            let touching: Vec<(u64, i64, i64)> =
                self.windows.keys().filter(|&&(k, s, e)| k == key && s <= end && e >= start).copied().collect();
            for &(_, s, e) in &touching {
                start = start.min(s);
                end = end.max(e);
            }
            if !self.late(end) {
                joined = true;
                let mut values = Vec::new();
                for w in &touching {
                    values.extend(self.windows.remove(w).unwrap());
                }
                values.push(value);
                if end - 1 <= self.watermark {
                    results.push((key, start, end, self.aggregate_of(&values), Firing::Late));
                }
                self.windows.insert((key, start, end), values);
            }
        } else {
            for (start, end) in self.fixed_windows(ts) {
                if self.late(end) {
                    continue;
                }
                joined = true;
                let values = self.windows.entry((key, start, end)).or_default();
                values.push(value);
                let values = values.clone();
                if end - 1 <= self.watermark {
                    results.push((key, start, end, self.aggregate_of(&values), Firing::Late));
                }
            }
        }
        let dropped_late = !joined && ts.saturating_add(self.lateness) <= self.watermark;
        results.sort();
        StepOut { results, dropped_late }
    }

    fn on_watermark(&mut self, watermark: i64) -> StepOut {
        let mut results = Vec::new();
        if watermark > self.watermark {
            let old = self.watermark;
            for (&(key, start, end), values) in &self.windows {
                if old < end - 1 && end - 1 <= watermark {
                    results.push((key, start, end, self.aggregate_of(values), Firing::OnTime));
                }
            }
            self.watermark = watermark;
            let lateness = self.lateness;
            self.windows.retain(|&(_, _, end), _| (end - 1).saturating_add(lateness) > watermark);
        }
        results.sort();
        StepOut { results, dropped_late: false }
    }
}

// ---- the engine, driven the same way ----------------------------------------------------------

fn engine_step(op: &mut WindowOperator, input: Input, offset: u64) -> StepOut {
    let mut out = Vec::new();
    let mut dropped_late = false;
    match input {
        Input::Record { key, value, ts } => {
            let record = Record {
                key,
                value,
                timestamp_ms: ts,
                source: SourceRef { partition: 0, offset },
                ingest_ns: 0,
                pane: None,
            };
            dropped_late = op.on_record(&record, &mut out) == RecordFate::DroppedLate;
        }
        Input::Watermark(w) => op.on_watermark(w, &mut out),
        Input::End => op.on_watermark(i64::MAX, &mut out),
    }
    let mut results: Vec<Firing5> = out
        .iter()
        .map(|r| {
            let pane = r.pane.as_ref().expect("window results carry a pane");
            (r.key, pane.window.start_ms, pane.window.end_ms, r.value, pane.firing)
        })
        .collect();
    results.sort();
    StepOut { results, dropped_late }
}

fn run_both(kind: WindowKind, aggregate: Aggregate, lateness: i64, inputs: &[Input]) -> Result<(), String> {
    let spec = WindowSpec { kind: kind.clone(), aggregate, allowed_lateness_ms: lateness, track_lineage: false };
    let mut op = WindowOperator::new(spec);
    let mut model = Model { kind, aggregate, lateness, watermark: i64::MIN, windows: BTreeMap::new() };
    for (i, &input) in inputs.iter().enumerate() {
        let expected = match input {
            Input::Record { key, value, ts } => model.on_record(key, value, ts),
            Input::Watermark(w) => model.on_watermark(w),
            Input::End => model.on_watermark(i64::MAX),
        };
        let got = engine_step(&mut op, input, i as u64);
        if got != expected {
            return Err(format!("step {i} ({input:?}): engine {got:?}, Flink's rules {expected:?}"));
        }
    }
    Ok(())
}

// ---- minimal cases named in issue 8 ------------------------------------------------------------

fn r(key: u64, ts: i64) -> Input {
    Input::Record { key, value: 1, ts }
}

#[test]
fn window_created_behind_the_watermark_fires_once() {
    // Tumbling 10 ms, lateness 10 ms, watermark ts - 1 after each record: a@15, a@5, a@30.
    // a@5 creates [0,10) behind W = 14 (but within the lateness): it fires at once with count 1,
    // and must not fire again, on time, when the watermark moves on (Flink registers no timer).
    let inputs = [r(1, 15), Input::Watermark(14), r(1, 5), r(1, 30), Input::Watermark(29), Input::End];
    run_both(WindowKind::Tumbling { size_ms: 10, offset_ms: 0 }, Aggregate::Count, 10, &inputs).unwrap();
    let mut op = WindowOperator::new(WindowSpec {
        kind: WindowKind::Tumbling { size_ms: 10, offset_ms: 0 },
        aggregate: Aggregate::Count,
        allowed_lateness_ms: 10,
        track_lineage: false,
    });
    let all: Vec<Firing5> =
        inputs.iter().enumerate().flat_map(|(i, &x)| engine_step(&mut op, x, i as u64).results).collect();
    let first_window: Vec<_> = all.iter().filter(|f| f.1 == 0).collect();
    assert_eq!(first_window, vec![&(1, 0, 10, 1, Firing::Late)], "all firings: {all:?}");
}

#[test]
fn session_merged_behind_the_watermark_fires_once() {
    // Gap 10, lateness 100: a@0, a@50, a@5 => [0,10)=1, [0,15)=2, [50,60)=1, nothing twice.
    let inputs = [r(1, 0), Input::Watermark(-1), r(1, 50), Input::Watermark(49), r(1, 5), Input::End];
    run_both(WindowKind::Session { gap_ms: 10 }, Aggregate::Count, 100, &inputs).unwrap();
    let mut op = WindowOperator::new(WindowSpec {
        kind: WindowKind::Session { gap_ms: 10 },
        aggregate: Aggregate::Count,
        allowed_lateness_ms: 100,
        track_lineage: false,
    });
    let mut all: Vec<(i64, i64, i64)> = inputs
        .iter()
        .enumerate()
        .flat_map(|(i, &x)| engine_step(&mut op, x, i as u64).results)
        .map(|(_, s, e, v, _)| (s, e, v))
        .collect();
    all.sort();
    assert_eq!(all, vec![(0, 10, 1), (0, 15, 2), (50, 60, 1)]);
}

#[test]
fn records_in_sliding_gaps_are_ignored_then_counted_late() {
    // Size 5, slide 10: [0,5), [10,15), ... A record at 7 is in no window.
    let kind = WindowKind::Sliding { size_ms: 5, slide_ms: 10, offset_ms: 0 };
    let inputs = [r(1, 7), Input::Watermark(20), r(1, 8), r(1, 12), Input::End];
    run_both(kind.clone(), Aggregate::Count, 0, &inputs).unwrap();
    let mut op = WindowOperator::new(WindowSpec {
        kind,
        aggregate: Aggregate::Count,
        allowed_lateness_ms: 0,
        track_lineage: false,
    });
    let drops: Vec<bool> =
        inputs.iter().enumerate().map(|(i, &x)| engine_step(&mut op, x, i as u64).dropped_late).collect();
    assert_eq!(drops, vec![false, false, true, true, false], "a gap record is late only behind the watermark");
}

#[test]
fn offsets_shift_window_starts_as_flink_does() {
    // TumblingEventTimeWindows.of(10, 3): a record at 2 is in [-7, 3); at 3 in [3, 13).
    let kind = WindowKind::Tumbling { size_ms: 10, offset_ms: 3 };
    let inputs = [r(1, 2), r(1, 3), r(1, -8), Input::End];
    run_both(kind.clone(), Aggregate::Count, 0, &inputs).unwrap();
    let mut op = WindowOperator::new(WindowSpec {
        kind,
        aggregate: Aggregate::Count,
        allowed_lateness_ms: 0,
        track_lineage: false,
    });
    let all: Vec<Firing5> =
        inputs.iter().enumerate().flat_map(|(i, &x)| engine_step(&mut op, x, i as u64).results).collect();
    let windows: Vec<(i64, i64)> = all.iter().map(|f| (f.1, f.2)).collect();
    assert_eq!(windows, vec![(-17, -7), (-7, 3), (3, 13)]);
}

// ---- random workloads ----------------------------------------------------------------------------

fn kind() -> impl Strategy<Value = WindowKind> {
    prop_oneof![
        (1i64..40, any::<i64>()).prop_map(|(size_ms, o)| WindowKind::Tumbling { size_ms, offset_ms: o % size_ms }),
        // slide up to 3x the size: gaps included.
        (1i64..40, 1i64..40, any::<i64>()).prop_map(|(size_ms, slide_ms, o)| WindowKind::Sliding {
            size_ms,
            slide_ms,
            offset_ms: o % slide_ms
        }),
        (1i64..30).prop_map(|gap_ms| WindowKind::Session { gap_ms }),
    ]
}

fn aggregate() -> impl Strategy<Value = Aggregate> {
    prop::sample::select(vec![Aggregate::Count, Aggregate::Sum, Aggregate::Min, Aggregate::Max, Aggregate::AvgMilli])
}

/// Records around a base time (0, negative, or epoch milliseconds), disordered by up to `spread`,
/// interleaved with watermarks that mostly rise and sometimes repeat or go back (which an
/// operator must ignore).
fn workload() -> impl Strategy<Value = Vec<Input>> {
    let base = prop::sample::select(vec![0i64, -1_000, 1_700_000_000_000]);
    (base, prop::collection::vec((0u8..10, 0u64..3, -3i64..10, 0i64..200, 0i64..60), 1..80)).prop_map(
        |(base, steps)| {
            let mut inputs = Vec::new();
            let mut watermark = base - 50;
            for (choice, key, value, time, jump) in steps {
                if choice < 7 {
                    inputs.push(Input::Record { key, value, ts: base + time });
                } else if choice < 9 {
                    watermark += jump;
                    inputs.push(Input::Watermark(watermark));
                } else {
                    inputs.push(Input::Watermark(watermark - jump));
                }
            }
            inputs.push(Input::End);
            inputs
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn window_operator_matches_flinks_rules(
        kind in kind(),
        aggregate in aggregate(),
        lateness in prop::sample::select(vec![0i64, 0, 1, 5, 20, 100]),
        inputs in workload(),
    ) {
        if let Err(e) = run_both(kind.clone(), aggregate, lateness, &inputs) {
            return Err(TestCaseError::fail(format!("{kind:?}, {aggregate:?}, lateness {lateness}: {e}")));
        }
    }
}
