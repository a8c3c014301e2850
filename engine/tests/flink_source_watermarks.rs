//! Differential property test: a source subtask's watermarks against an executable statement of
//! what Flink's code does for `WatermarkStrategy.forBoundedOutOfOrderness(B).withIdleness(T)` on a
//! source with several splits (partitions), written from Flink's classes, not from the engine:
//!
//! - `BoundedOutOfOrdernessWatermarks`: `maxTimestamp` starts at `Long.MIN_VALUE + B + 1`;
//!   `onPeriodicEmit` emits `maxTimestamp - B - 1`.
//! - `WatermarksWithIdleness` and its `IdlenessTimer`: `onEvent` counts activity; idleness is
//!   evaluated only in `onPeriodicEmit`: a check that sees activity resets the timer, the first
//!   check without activity starts the countdown (`startOfInactivityNanos`), and a later check
//!   strictly more than the timeout after that start marks the split idle (once), instead of
//!   emitting its watermark.
//! - `ProgressiveTimestampsAndWatermarks`: one generator per split; the periodic emitter runs
//!   `scheduleWithFixedDelay(emit, interval, interval)`: first at start + interval.
//! - `WatermarkOutputMultiplexer` / `CombinedWatermarkStatus`: a split's partial watermark only
//!   grows and is active again when it emits; the combined watermark is the minimum over the
//!   non-idle splits, emitted when it grows; all splits idle: the output is idle, and (since
//!   FLINK-38454, Flink 2.2) the combined watermark is the maximum over all splits.
//!
//! - FLINK-35886 (FLIP-471, Flink 2.0): the `IdlenessTimer` reads the source's input activity
//!   clock, a `PausableRelativeClock` paused while the source's output is backpressured, so time
//!   the source cannot emit does not count towards the timeout. A blocked source reads nothing.
//!
//! Per-record emission is streamlab's punctuated variant: the split's generator emits on every
//! event (immediately combined), and idleness is still only checked on the periodic grid
//! (Flink's default `pipeline.auto-watermark-interval`, 200 ms).
//!
//! The engine's source is driven twice: by its own timer (`next_timer_ns`, which skips ticks
//! that cannot change anything) and at every tick of the grid; both must emit what the model
//! emits. Arrivals never fall on a tick, so no tie between a record and a tick is assumed.
//! On the code before the fix, a partition went idle at the first tick `T` after its last record
//! instead of Flink's countdown, and `idle_at_flinks_countdown` and the property fail; and a
//! source whose partitions all went idle kept the minimum, where Flink flushes the maximum
//! (`all_idle_flushes_the_largest_partition_watermark`).

use engine::graph::{EdgeSpec, JobGraph, OperatorKind, OperatorSpec, SourceSpec, Stream};
use engine::message::Message;
use engine::partition::Partitioning;
use engine::sink::SinkKind;
use engine::subtask::source::SourceEvent;
use engine::subtask::{Note, Output, Subtask};
use engine::watermark::{Emission, WatermarkStrategy};
use proptest::prelude::*;

const MS: u64 = 1_000_000;
/// Flink's default `pipeline.auto-watermark-interval`.
const DEFAULT_INTERVAL_MS: u64 = 200;

#[derive(Clone, Copy, Debug)]
struct Arrival {
    at_ns: u64,
    partition: u32,
    ts: i64,
}

#[derive(Clone, Debug)]
struct Config {
    partitions: u32,
    bound_ms: i64,
    /// `None`: per-record emission.
    interval_ms: Option<u64>,
    idle_timeout_ms: u64,
    /// Spans `[from, to)` in ns while the source's output is backpressured, sorted and apart.
    blocked: Vec<(u64, u64)>,
}

impl Config {
    fn check_interval_ns(&self) -> u64 {
        self.interval_ms.unwrap_or(DEFAULT_INTERVAL_MS) * MS
    }
    /// `PausableRelativeClock.relativeTimeNanos` at `now_ns`: the time not spent blocked.
    fn activity_clock_ns(&self, now_ns: u64) -> u64 {
        let paused: u64 = self.blocked.iter().map(|&(from, to)| now_ns.min(to).saturating_sub(from)).sum();
        now_ns - paused
    }
    fn is_blocked(&self, at_ns: u64) -> bool {
        self.blocked.iter().any(|&(from, to)| from <= at_ns && at_ns < to)
    }
}

// ---- the model: Flink's classes, one struct each --------------------------------------------

/// `WatermarksWithIdleness.IdlenessTimer`.
struct IdlenessTimer {
    counter: u64,
    last_counter: u64,
    /// None: no countdown running (Flink's special value 0), else its start on the clock.
    start_of_inactivity_ns: Option<u64>,
    max_idle_ns: u64,
}

impl IdlenessTimer {
    /// `clock_ns`: the source's input activity clock (paused while backpressured).
    fn check_if_idle(&mut self, clock_ns: u64) -> bool {
        if self.counter != self.last_counter {
            self.last_counter = self.counter;
            self.start_of_inactivity_ns = None;
            false
        } else if let Some(start) = self.start_of_inactivity_ns {
            clock_ns - start > self.max_idle_ns
        } else {
            self.start_of_inactivity_ns = Some(clock_ns);
            false
        }
    }
}

/// One split: `WatermarksWithIdleness(BoundedOutOfOrdernessWatermarks)` and its partial
/// watermark in the multiplexer (`CombinedWatermarkStatus.PartialWatermark`).
struct Split {
    max_timestamp: i64,
    bound: i64,
    timer: IdlenessTimer,
    is_idle_now: bool,
    partial_watermark: i64,
    partial_idle: bool,
}

impl Split {
    fn emit(&mut self) {
        // PartialWatermark.setWatermark: active again, and never backwards.
        self.partial_idle = false;
        self.partial_watermark = self.partial_watermark.max(self.max_timestamp - self.bound - 1);
    }
}

struct FlinkSource {
    splits: Vec<Split>,
    per_record: bool,
    combined: i64,
    emitted: Vec<(u64, i64)>,
}

impl FlinkSource {
    fn new(config: &Config) -> Self {
        let split = || Split {
            max_timestamp: i64::MIN + config.bound_ms + 1,
            bound: config.bound_ms,
            timer: IdlenessTimer {
                counter: 0,
                last_counter: 0,
                start_of_inactivity_ns: None,
                max_idle_ns: config.idle_timeout_ms * MS,
            },
            is_idle_now: false,
            partial_watermark: i64::MIN,
            partial_idle: false,
        };
        FlinkSource {
            splits: (0..config.partitions).map(|_| split()).collect(),
            per_record: config.interval_ms.is_none(),
            combined: i64::MIN,
            emitted: Vec::new(),
        }
    }

    /// `CombinedWatermarkStatus.updateCombinedWatermark` (Flink 2.2, FLINK-38454), and the
    /// emission it leads to: the minimum over active splits, or with all idle the maximum over all.
    fn update_combined(&mut self, now_ns: u64) {
        let all_idle = self.splits.iter().all(|s| s.partial_idle);
        let combined = if all_idle {
            self.splits.iter().map(|s| s.partial_watermark).max()
        } else {
            self.splits.iter().filter(|s| !s.partial_idle).map(|s| s.partial_watermark).min()
        };
        if let Some(w) = combined.filter(|&w| w > self.combined) {
            self.combined = w;
            self.emitted.push((now_ns, w));
        }
    }

    fn on_event(&mut self, now_ns: u64, partition: u32, ts: i64) {
        let split = &mut self.splits[partition as usize];
        split.max_timestamp = split.max_timestamp.max(ts);
        if self.per_record {
            split.emit();
        }
        split.timer.counter += 1;
        split.is_idle_now = false;
        if self.per_record {
            self.update_combined(now_ns);
        }
    }

    fn on_periodic_emit(&mut self, now_ns: u64, clock_ns: u64) {
        let per_record = self.per_record;
        for split in &mut self.splits {
            if split.timer.check_if_idle(clock_ns) {
                if !split.is_idle_now {
                    split.partial_idle = true;
                    split.is_idle_now = true;
                }
            } else if !per_record {
                split.emit();
            }
        }
        self.update_combined(now_ns);
    }
}

fn model(config: &Config, arrivals: &[Arrival], end_ns: u64) -> Vec<(u64, i64)> {
    let mut flink = FlinkSource::new(config);
    let interval = config.check_interval_ns();
    let mut next = arrivals.iter().peekable();
    // scheduleWithFixedDelay(emit, interval, interval): the first tick one interval after start.
    let mut tick = interval;
    while tick <= end_ns {
        while let Some(a) = next.next_if(|a| a.at_ns < tick) {
            flink.on_event(a.at_ns, a.partition, a.ts);
        }
        flink.on_periodic_emit(tick, config.activity_clock_ns(tick));
        tick += interval;
    }
    flink.emitted
}

// ---- the engine ---------------------------------------------------------------------------

fn source_subtask(config: &Config) -> Subtask {
    let emission = match config.interval_ms {
        Some(interval_ms) => Emission::Periodic { interval_ms },
        None => Emission::PerRecord,
    };
    let watermarks = WatermarkStrategy::BoundedOutOfOrderness {
        bound_ms: config.bound_ms,
        emission,
        idle_timeout_ms: Some(config.idle_timeout_ms),
    };
    let mut job = JobGraph::new();
    let op = |name: &str, kind| OperatorSpec { name: name.into(), parallelism: 1, kind };
    let s = job.add_operator(op("src", OperatorKind::Source(SourceSpec { partitions: config.partitions, watermarks })));
    let k = job.add_operator(op("out", OperatorKind::Sink(SinkKind::Plain)));
    job.connect(s, k, EdgeSpec { partitioning: Partitioning::Forward, stream: Stream::Main });
    let plan = job.plan().unwrap();
    Subtask::new(&plan, plan.subtask_by_name("src[0]").unwrap(), None, 0, 0)
}

fn collect(subtask: &mut Subtask, now_ns: u64, out: &mut Vec<(u64, i64)>) {
    while let Some(output) = subtask.poll_output() {
        if let Output::Note(Note::WatermarkAdvanced { watermark_ms }) = output {
            out.push((now_ns, watermark_ms));
        }
    }
}

/// The engine's source over the arrivals: at its own timers (`every_tick: false`, as the worlds
/// drive it) or at every tick of the grid.
fn engine(config: &Config, arrivals: &[Arrival], end_ns: u64, every_tick: bool) -> Vec<(u64, i64)> {
    let mut subtask = source_subtask(config);
    let mut out = Vec::new();
    let mut offsets = vec![0u64; config.partitions as usize];
    let interval = config.check_interval_ns();
    let mut next_tick = interval;
    let mut run_timers = |subtask: &mut Subtask, until_ns: u64, out: &mut Vec<(u64, i64)>| {
        if every_tick {
            while next_tick <= until_ns {
                subtask.handle_timer(next_tick);
                collect(subtask, next_tick, out);
                next_tick += interval;
            }
        } else {
            while let Some(at) = subtask.next_timer_ns().filter(|&at| at <= until_ns) {
                subtask.handle_timer(at);
                collect(subtask, at, out);
            }
        }
    };
    // The output's backpressure starts and ends, in time order with the arrivals.
    let mut transitions = config.blocked.iter().flat_map(|&(from, to)| [(from, true), (to, false)]).peekable();
    for a in arrivals {
        while let Some((at_ns, blocked)) = transitions.next_if(|&(at_ns, _)| at_ns < a.at_ns) {
            run_timers(&mut subtask, at_ns, &mut out);
            subtask.set_output_blocked(blocked, at_ns);
        }
        run_timers(&mut subtask, a.at_ns, &mut out);
        let offset = &mut offsets[a.partition as usize];
        let event = SourceEvent { key: 0, value: 1, timestamp_ms: a.ts };
        subtask.handle_source_record(a.partition, *offset, event, a.at_ns);
        *offset += 1;
        collect(&mut subtask, a.at_ns, &mut out);
    }
    for (at_ns, blocked) in transitions.take_while(|&(at_ns, _)| at_ns < end_ns) {
        run_timers(&mut subtask, at_ns, &mut out);
        subtask.set_output_blocked(blocked, at_ns);
    }
    run_timers(&mut subtask, end_ns, &mut out);
    out
}

fn check(config: &Config, arrivals: &[Arrival]) -> Result<(), TestCaseError> {
    let end_ns = arrivals.last().map_or(0, |a| a.at_ns) + 5_000 * MS;
    let expected = model(config, arrivals, end_ns);
    prop_assert_eq!(&engine(config, arrivals, end_ns, true), &expected, "at every tick");
    prop_assert_eq!(&engine(config, arrivals, end_ns, false), &expected, "at its own timers");
    Ok(())
}

/// The case the fix is about: partition 1's only record arrives at 50 ms; with a 200 ms interval
/// and a 1 s timeout Flink's check at 200 ms sees it, the one at 400 ms starts the countdown, and
/// the one at 1 600 ms (1 200 ms > 1 000 ms after 400) marks it idle. Until then its watermark
/// (49) holds the source's back.
#[test]
fn idle_at_flinks_countdown() {
    let config = Config { partitions: 2, bound_ms: 0, interval_ms: Some(200), idle_timeout_ms: 1_000, blocked: vec![] };
    let mut arrivals = vec![Arrival { at_ns: 50 * MS, partition: 1, ts: 50 }];
    arrivals.extend((0..30).map(|i| Arrival { at_ns: (i * 100 + 1) * MS, partition: 0, ts: i as i64 * 100 }));
    arrivals.sort_by_key(|a| a.at_ns);
    let end_ns = 3_000 * MS;
    let engine = engine(&config, &arrivals, end_ns, false);
    let first_two: Vec<_> = engine.iter().take(2).map(|&(at, w)| (at / MS, w)).collect();
    assert_eq!(first_two, vec![(200, 49), (1_600, 1_499)]);
    assert_eq!(engine, model(&config, &arrivals, end_ns));
}

/// Partition 0 reaches 999 and partition 1 reaches 99 before both fall silent: the source's
/// watermark is 99 while they are active, and 999 once both are idle (FLINK-38454), before the
/// idleness goes downstream.
#[test]
fn all_idle_flushes_the_largest_partition_watermark() {
    let config = Config { partitions: 2, bound_ms: 0, interval_ms: Some(100), idle_timeout_ms: 300, blocked: vec![] };
    let arrivals = [
        Arrival { at_ns: 10 * MS + 1, partition: 0, ts: 1_000 },
        Arrival { at_ns: 20 * MS + 1, partition: 1, ts: 100 },
    ];
    let end_ns = 2_000 * MS;
    let mut subtask = source_subtask(&config);
    let mut outputs = Vec::new();
    let mut offsets = [0u64; 2];
    for a in &arrivals {
        let event = SourceEvent { key: 0, value: 1, timestamp_ms: a.ts };
        subtask.handle_source_record(a.partition, offsets[a.partition as usize], event, a.at_ns);
        offsets[a.partition as usize] += 1;
    }
    while let Some(at) = subtask.next_timer_ns().filter(|&at| at <= end_ns) {
        subtask.handle_timer(at);
        outputs.extend(std::iter::from_fn(|| subtask.poll_output()).filter_map(|o| match o {
            Output::Send { message: Message::Watermark(w), .. } => Some(format!("W{w}")),
            Output::Send { message: Message::Idle(idle), .. } => Some(format!("idle {idle}")),
            _ => None,
        }));
    }
    assert_eq!(outputs, ["W99", "W999", "idle true"]);
    assert_eq!(engine(&config, &arrivals, end_ns, false), model(&config, &arrivals, end_ns));
}

fn config() -> impl Strategy<Value = Config> {
    // Backpressure spans: gaps and lengths in ms, bounds 2 ns past a millisecond (never on a
    // tick or an arrival).
    let blocked = prop::collection::vec((0u64..=2_000, 1u64..=3_000), 0..4).prop_map(|spans| {
        let mut at_ms = 0;
        spans
            .into_iter()
            .map(|(gap_ms, len_ms)| {
                let from = (at_ms + gap_ms) * MS + 2;
                at_ms += gap_ms + len_ms;
                (from, at_ms * MS + 2)
            })
            .collect()
    });
    (1u32..=4, 0i64..=300, prop_oneof![Just(None), (1u64..=4).prop_map(|k| Some(k * 50))], 1u64..=1_200, blocked)
        .prop_map(|(partitions, bound_ms, interval_ms, idle_timeout_ms, blocked)| Config {
            partitions,
            bound_ms,
            interval_ms,
            idle_timeout_ms,
            blocked,
        })
}

/// Arrivals with gaps long enough for partitions to go idle and come back, never on a tick
/// (every tick is a whole number of milliseconds; arrivals are 1 ns past one).
fn arrivals(partitions: u32) -> impl Strategy<Value = Vec<Arrival>> {
    prop::collection::vec((0..partitions, prop_oneof![0u64..=50, 0u64..=3_000], -200i64..=400), 1..60).prop_map(
        |steps| {
            let mut at_ms = 0u64;
            steps
                .into_iter()
                .map(|(partition, gap_ms, jitter)| {
                    at_ms += gap_ms;
                    Arrival { at_ns: at_ms * MS + 1, partition, ts: at_ms as i64 - jitter }
                })
                .collect()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn source_watermarks_match_flinks_generators(
        (config, arrivals) in config().prop_flat_map(|c| { let p = c.partitions; (Just(c), arrivals(p)) })
    ) {
        // A source whose output is blocked reads nothing.
        let arrivals: Vec<Arrival> = arrivals.into_iter().filter(|a| !config.is_blocked(a.at_ns)).collect();
        check(&config, &arrivals)?;
    }
}
