//! Chart data from a whole run: records per second per operator, watermark lag, checkpoint
//! durations. One model, two renderers: the egui painter (panels::plots) and plotters (export).

use engine::graph::SubtaskId;
use sim::kernel::TimeNs;
use sim::recording::{CheckpointOutcome, Payload, TimedOut, TraceEvent};
use sim::World;

#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    /// (x, y), x ascending.
    pub points: Vec<(f64, f64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartStyle {
    /// Lines over virtual time (x in seconds); the cursor is drawn as a vertical line.
    TimeLines,
    /// Grouped bars per category (x = checkpoint id).
    Bars,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// Also the export file name's stem.
    pub id: &'static str,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub style: ChartStyle,
    pub series: Vec<Series>,
    /// Time lines read their x axis as clock times (a textbook scenario's HH:MM:SS), else seconds.
    pub clock_times: bool,
}

impl Chart {
    /// (min, max) over all points, padded so that flat series still get a visible range.
    pub fn bounds(&self) -> ((f64, f64), (f64, f64)) {
        let mut x = (f64::INFINITY, f64::NEG_INFINITY);
        let mut y = (0.0f64, f64::NEG_INFINITY);
        for (px, py) in self.series.iter().flat_map(|s| s.points.iter()) {
            x = (x.0.min(*px), x.1.max(*px));
            y = (y.0.min(*py), y.1.max(*py));
        }
        if !x.0.is_finite() {
            x = (0.0, 1.0);
        }
        if !y.1.is_finite() {
            y.1 = 1.0;
        }
        if self.style == ChartStyle::Bars {
            x = (x.0 - 0.5, x.1 + 0.5);
        }
        if x.1 <= x.0 {
            x.1 = x.0 + 1.0;
        }
        if y.1 <= y.0 {
            y.1 = y.0 + 1.0;
        }
        (x, (y.0, y.1 * 1.05))
    }

    pub fn is_empty(&self) -> bool {
        self.series.iter().all(|s| s.points.is_empty())
    }
}

/// The x axis of a time line: the scenario's clock.
fn time_axis_label(world: &World) -> String {
    time_axis(&world.scenario)
}

fn time_axis(scenario: &sim::Scenario) -> String {
    if scenario.clock_times { "time (clock)" } else { "virtual time (s)" }.to_string()
}

impl Chart {
    /// An x value as its axis reads it: a time in the scenario's clock, or a checkpoint id.
    /// Where the x axis is labelled: round times (as the timeline ticks them, clock units for
    /// clock times) or whole checkpoints, at most `max` of them; the quarters of the range read
    /// "8.8 s, 16.5 s, 24.3 s".
    pub fn x_ticks(&self, max: usize) -> Vec<f64> {
        let ((x0, x1), _) = self.bounds();
        match self.style {
            ChartStyle::TimeLines if x0 >= 0.0 => {
                let window = crate::view::timeline::TimeWindow {
                    start_ns: (x0 * 1e9).ceil() as TimeNs,
                    end_ns: (x1 * 1e9).floor() as TimeNs,
                };
                crate::view::timeline::ticks(window, self.clock_times, max as u64).into_iter().map(seconds).collect()
            }
            ChartStyle::TimeLines => round_ticks(x0, x1, max, 0.0),
            ChartStyle::Bars => round_ticks(x0, x1, max, 1.0),
        }
    }

    /// Where the y axis is labelled: round values, at most `max`.
    pub fn y_ticks(&self, max: usize) -> Vec<f64> {
        let (_, (y0, y1)) = self.bounds();
        round_ticks(y0, y1, max, 0.0)
    }

    /// A y tick's label: whole numbers plain, fractions to at most three decimals.
    pub fn y_text(y: f64) -> String {
        let text = format!("{y:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }

    pub fn x_text(&self, x: f64) -> String {
        match self.style {
            ChartStyle::TimeLines => crate::view::units::axis_seconds_text(self.clock_times, x),
            ChartStyle::Bars if (x - x.round()).abs() < 1e-6 => format!("{}", x.round() as i64),
            ChartStyle::Bars => String::new(),
        }
    }
}

/// Multiples of the roundest step (1, 2 or 5 times a power of ten, at least `min_step`) that
/// give at most `max` values in `[lo, hi]`.
pub fn round_ticks(lo: f64, hi: f64, max: usize, min_step: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo || max == 0 {
        return Vec::new();
    }
    let rough = ((hi - lo) / max as f64).max(min_step).max(f64::MIN_POSITIVE);
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|&s| s >= rough).unwrap_or(10.0 * power);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

fn seconds(ns: TimeNs) -> f64 {
    ns as f64 / 1e9
}

/// Records processed per second, per operator, from the metrics buckets (plotted at bucket ends).
pub fn records_per_second(world: &World) -> Chart {
    let ops = &world.scenario.plan.operators;
    let end = world.now_ns();
    let series = ops
        .iter()
        .enumerate()
        .map(|(o, op)| {
            let points = world
                .metrics
                .iter()
                .enumerate()
                .filter_map(|(i, b)| {
                    let bucket_end = world.metrics.get(i + 1).map_or(end, |n| n.start_ns).max(b.start_ns);
                    let length = bucket_end.saturating_sub(b.start_ns);
                    (length > 0).then(|| (seconds(bucket_end), b.records_in[o] as f64 / seconds(length)))
                })
                .collect();
            Series { name: op.name.clone(), points }
        })
        .collect();
    Chart {
        id: "records-per-second",
        title: format!("Records processed per second, per operator — {}", run_label(world)),
        x_label: time_axis_label(world),
        y_label: "records / s".into(),
        style: ChartStyle::TimeLines,
        series,
        clock_times: world.scenario.clock_times,
    }
}

/// Processing time minus the operator's lowest output watermark, per operator (ms).
pub fn watermark_lag(world: &World) -> Chart {
    let ops = &world.scenario.plan.operators;
    let series = ops
        .iter()
        .enumerate()
        .filter(|(o, _)| world.metrics.iter().any(|b| b.watermark_lag_ms.get(*o).copied().flatten().is_some()))
        .map(|(o, op)| Series {
            name: op.name.clone(),
            points: world
                .metrics
                .iter()
                .enumerate()
                .filter_map(|(i, b)| {
                    let at = world.metrics.get(i + 1).map_or(world.now_ns(), |n| n.start_ns);
                    b.watermark_lag_ms[o].map(|lag| (seconds(at), lag as f64))
                })
                .collect(),
        })
        .collect();
    Chart {
        id: "watermark-lag",
        title: format!("Watermark lag: processing time minus watermark — {}", run_label(world)),
        x_label: time_axis_label(world),
        y_label: "lag (ms)".into(),
        style: ChartStyle::TimeLines,
        series,
        clock_times: world.scenario.clock_times,
    }
}

/// End-to-end latency of the rows that became visible in each bucket: mean and maximum (ms).
pub fn latency(world: &World) -> Chart {
    let at = |i: usize| world.metrics.get(i + 1).map_or(world.now_ns(), |n| n.start_ns);
    let buckets = || world.metrics.iter().enumerate().filter(|(_, b)| b.rows_visible > 0);
    Chart {
        id: "end-to-end-latency",
        title: format!("End-to-end latency: row visible minus its newest record's log append — {}", run_label(world)),
        x_label: time_axis_label(world),
        y_label: "latency (ms)".into(),
        style: ChartStyle::TimeLines,
        series: vec![
            Series {
                name: "mean".into(),
                points: buckets().map(|(i, b)| (seconds(at(i)), b.latency_ms_mean().unwrap_or(0) as f64)).collect(),
            },
            Series {
                name: "max".into(),
                points: buckets().map(|(i, b)| (seconds(at(i)), b.latency_ms_max as f64)).collect(),
            },
        ],
        clock_times: world.scenario.clock_times,
    }
}

/// Per completed checkpoint: trigger to completion, and the longest alignment (ms).
pub fn checkpoint_durations(world: &World) -> Chart {
    let completed: Vec<_> =
        world.checkpoints.iter().filter(|c| matches!(c.outcome, CheckpointOutcome::Completed { .. })).collect();
    let ms = |ns: TimeNs| ns as f64 / 1e6;
    // An aborted checkpoint is drawn too: how long it ran until it was given up.
    let aborted: Vec<(f64, f64)> = world
        .checkpoints
        .iter()
        .filter_map(|c| match c.outcome {
            CheckpointOutcome::Aborted { at_ns, .. } => {
                Some((c.id.get() as f64, ms(at_ns.saturating_sub(c.triggered_ns))))
            }
            _ => None,
        })
        .collect();
    Chart {
        id: "checkpoint-durations",
        title: format!("Checkpoint duration and longest alignment — {}", run_label(world)),
        x_label: "checkpoint".into(),
        y_label: "ms".into(),
        style: ChartStyle::Bars,
        series: vec![
            Series {
                name: "duration".into(),
                points: completed.iter().map(|c| (c.id.get() as f64, ms(c.duration_ns().unwrap_or(0)))).collect(),
            },
            Series {
                name: "longest alignment".into(),
                points: completed.iter().map(|c| (c.id.get() as f64, ms(c.max_alignment_ns()))).collect(),
            },
            Series { name: "aborted (until given up)".into(), points: aborted },
        ],
        clock_times: false,
    }
}

/// What a chart shows, for its title: scenario, seed and guarantee (slides need all three).
pub fn run_label(world: &World) -> String {
    format!("{}, seed {}, {}", world.scenario.name, world.seed, world.scenario.guarantee.label())
}

/// Every chart of a run.
pub fn all(world: &World) -> Vec<Chart> {
    vec![records_per_second(world), latency(world), watermark_lag(world), checkpoint_durations(world)]
}

/// A Storm run's charts, read off its trace (`events`, in time order, up to `end_ns`). Under
/// Trident the run tracks batches, not tuples, and the charts count those.
pub fn storm(scenario: &sim::Scenario, seed: u64, events: &[TraceEvent], end_ns: TimeNs) -> Vec<Chart> {
    let trident = scenario.model.storm().is_some_and(|c| c.trident.is_some());
    let label = format!("{}, seed {seed}, {}", scenario.name, scenario.guarantee.label());
    let mut charts = vec![storm_per_second(scenario, events, end_ns, trident, &label)];
    // Pending tuples exist with acking only: Trident's acker tracks batch parts, not spout tuples.
    if !trident && events.iter().any(|e| matches!(e.payload(), Payload::StormAckerMessage { .. })) {
        charts.push(storm_pending(scenario, events, end_ns, &label));
    }
    charts
}

/// What the topology did each second: spout emits, replays, timeouts and trees completed or
/// failed (Trident: batches begun, replayed and txids committed), plotted at each second's end.
fn storm_per_second(
    scenario: &sim::Scenario,
    events: &[TraceEvent],
    end_ns: TimeNs,
    trident: bool,
    label: &str,
) -> Chart {
    let names: &[&str] = match trident {
        true => &["batches begun", "batches replayed", "commits"],
        false => &["spout emits", "replays", "timeouts", "trees completed", "trees failed"],
    };
    let which = |p: Payload| -> Option<usize> {
        match (trident, p) {
            (true, Payload::TridentBatch { replay, .. }) => Some(replay as usize),
            (true, Payload::TridentCommit { .. }) => Some(2),
            (false, Payload::StormEmit { replay, .. }) => Some(replay as usize),
            (false, Payload::StormTimeout(TimedOut::Tuple { .. })) => Some(2),
            (false, Payload::StormTreeComplete { failed, .. }) => Some(3 + failed as usize),
            _ => None,
        }
    };
    let seconds_total = (end_ns / 1_000_000_000 + 1) as usize;
    let mut counts = vec![vec![0u64; seconds_total]; names.len()];
    for e in events.iter().filter(|e| e.time_ns <= end_ns) {
        if let Some(i) = which(e.payload()) {
            counts[i][(e.time_ns / 1_000_000_000) as usize] += 1;
        }
    }
    // A replay is an emit (a batch begun) too: the first line counts both, as the counters do.
    let (first, rest) = counts.split_at_mut(1);
    for (all, replays) in first[0].iter_mut().zip(&rest[0]) {
        *all += replays;
    }
    let series = names
        .iter()
        .zip(counts)
        .map(|(name, per_second)| Series {
            name: name.to_string(),
            points: per_second
                .iter()
                .enumerate()
                .map(|(i, &n)| (seconds(((i as u64 + 1) * 1_000_000_000).min(end_ns)), n as f64))
                .collect(),
        })
        .collect();
    Chart {
        id: "storm-per-second",
        title: format!("What the topology did each second — {label}"),
        x_label: time_axis(scenario),
        y_label: if trident { "per second" } else { "tuples / s" }.into(),
        style: ChartStyle::TimeLines,
        series,
        clock_times: scenario.clock_times,
    }
}

/// Spout tuples pending (emitted, tree not yet complete, failed or timed out) per spout, every
/// 100 ms: `topology.max.spout.pending` caps it; a crash or a timeout drops it.
fn storm_pending(scenario: &sim::Scenario, events: &[TraceEvent], end_ns: TimeNs, label: &str) -> Chart {
    const STEP_NS: TimeNs = 100_000_000;
    let spouts: Vec<SubtaskId> = scenario.plan.source_subtasks().collect();
    let mut pending = crate::view::storm::PendingTuples::default();
    let mut series: Vec<Series> =
        spouts.iter().map(|&s| Series { name: scenario.plan.subtask(s).name.clone(), points: Vec::new() }).collect();
    let mut next = events.iter().peekable();
    let mut at = 0;
    loop {
        while let Some(e) = next.next_if(|e| e.time_ns <= at) {
            pending.apply(scenario, e);
        }
        for (line, &s) in series.iter_mut().zip(&spouts) {
            line.points.push((seconds(at), pending.of(crate::view::storm::executor_number(s)) as f64));
        }
        if at >= end_ns {
            break;
        }
        at = (at + STEP_NS).min(end_ns);
    }
    Chart {
        id: "storm-pending",
        title: format!("Spout tuples pending, per spout — {label}"),
        x_label: time_axis(scenario),
        y_label: "tuples".into(),
        style: ChartStyle::TimeLines,
        series,
        clock_times: scenario.clock_times,
    }
}

/// A Spark query's charts, one point per batch at the time it started (a re-run batch is a
/// point of its own): its records (and those it re-ran), how long it took against the trigger
/// interval (and how late it started), and the records that arrived but no committed batch
/// covers yet.
pub fn spark(session: &crate::view::spark::SparkSession) -> Vec<Chart> {
    let scenario = &session.scenario;
    let label = format!("{}, seed {}, {}", scenario.name, session.seed, scenario.guarantee.label());
    vec![spark_records(session, &label), spark_durations(session, &label), spark_lag(session, &label)]
}

/// A Kafka Streams run's charts, read off its trace: records processed per task each second
/// and those processed again after a failover, what each task processed since its last
/// commit (each drop a commit), how long the moved tasks had no owner and restored their
/// stores, and the rows' end-to-end latency (`sim::run::row_latency_ns`, the rule `compare`'s
/// p50 / p99 use).
pub fn kstreams(shown: &crate::view::kstreams::KStreamsShown) -> Vec<Chart> {
    let s = &shown.scenario;
    let label = format!("{}, seed {}, {}", s.name, shown.seed, s.guarantee.label());
    let [processed, again] = kstreams_processed(shown, &label);
    vec![
        processed,
        again,
        kstreams_uncommitted(shown, &label),
        kstreams_recovery(shown, &label),
        kstreams_latency(shown, &label),
    ]
}

/// Counts per second of virtual time, plotted at each second's end (the run's end for the last).
fn per_second_points(counts: &[u64], end_ns: TimeNs) -> Vec<(f64, f64)> {
    counts.iter().enumerate().map(|(i, &n)| (seconds(((i as u64 + 1) * 1_000_000_000).min(end_ns)), n as f64)).collect()
}

/// Records processed per second by each task, and those it had already processed once (an offset below the highest it had reached): read again from its
/// last commit after its instance died. Two charts: drawn in one, the few records processed again
/// hid under the tasks' own lines.
fn kstreams_processed(shown: &crate::view::kstreams::KStreamsShown, label: &str) -> [Chart; 2] {
    let end_ns = shown.end_ns;
    let tasks = shown.lanes.len();
    let buckets = (end_ns / 1_000_000_000 + 1) as usize;
    let mut per_task = vec![vec![0u64; buckets]; tasks];
    let mut again = vec![vec![0u64; buckets]; tasks];
    let mut reached: Vec<Option<u64>> = vec![None; tasks];
    for e in shown.events.iter().filter(|e| e.time_ns <= end_ns) {
        let Payload::KStreamsProcess { task, offset } = e.payload() else { continue };
        let (t, second) = (task as usize, (e.time_ns / 1_000_000_000) as usize);
        let (Some(counts), Some(high)) = (per_task.get_mut(t), reached.get_mut(t)) else { continue };
        counts[second] += 1;
        if high.is_some_and(|h| offset <= h) {
            again[t][second] += 1;
        }
        *high = Some(high.map_or(offset, |h| h.max(offset)));
    }
    // Every task in both, in the same order: a task has the same colour in each.
    let lines = |counts: &[Vec<u64>]| -> Vec<Series> {
        shown
            .lanes
            .iter()
            .zip(counts)
            .map(|(lane, c)| Series { name: format!("task {}", lane.name), points: per_second_points(c, end_ns) })
            .collect()
    };
    let chart = |id, title: String, series| Chart {
        id,
        title,
        x_label: time_axis(&shown.scenario),
        y_label: "records / s".into(),
        style: ChartStyle::TimeLines,
        series,
        clock_times: shown.scenario.clock_times,
    };
    [
        chart(
            "kstreams-records-per-task",
            format!("Records processed per task each second — {label}"),
            lines(&per_task),
        ),
        chart(
            "kstreams-processed-again",
            format!(
                "Records processed again per task: those it had processed before its instance died, read again \
                 from its last commit — {label}"
            ),
            lines(&again),
        ),
    ]
}

/// Per task, records processed since its last commit: a point before and after each commit
/// (the drop), at its instance's crash and at its resume from the last commit (the drop there
/// is what it will process again), and at the end.
fn kstreams_uncommitted(shown: &crate::view::kstreams::KStreamsShown, label: &str) -> Chart {
    let tasks = shown.lanes.len();
    let mut since = vec![0u64; tasks];
    let mut series: Vec<Series> = shown
        .lanes
        .iter()
        .map(|lane| Series { name: format!("task {}", lane.name), points: vec![(0.0, 0.0)] })
        .collect();
    for e in shown.events.iter().filter(|e| e.time_ns <= shown.end_ns) {
        let x = seconds(e.time_ns);
        match e.payload() {
            Payload::KStreamsProcess { task, .. } => {
                if let Some(n) = since.get_mut(task as usize) {
                    *n += 1;
                }
            }
            Payload::KStreamsCommit { task, .. } | Payload::KStreamsResume { task, .. } => {
                let t = task as usize;
                if let (Some(n), Some(line)) = (since.get_mut(t), series.get_mut(t)) {
                    line.points.push((x, *n as f64));
                    line.points.push((x, 0.0));
                    *n = 0;
                }
            }
            Payload::NodeCrashed { .. } => {
                for (line, &n) in series.iter_mut().zip(&since) {
                    line.points.push((x, n as f64));
                }
            }
            _ => {}
        }
    }
    for (line, &n) in series.iter_mut().zip(&since) {
        line.points.push((seconds(shown.end_ns), n as f64));
    }
    Chart {
        id: "kstreams-since-commit",
        title: format!(
            "Records each task processed since its last commit (each drop: a commit, or a resume from the last \
             commit after a failover) — {label}"
        ),
        x_label: time_axis(&shown.scenario),
        y_label: "records".into(),
        style: ChartStyle::TimeLines,
        series,
        clock_times: shown.scenario.clock_times,
    }
}

/// Each failover of a task, as spikes at its start: how long it had no owner (its instance's
/// crash until the rebalance gave it to another), then how long it restored its store from the
/// changelog (ms).
fn kstreams_recovery(shown: &crate::view::kstreams::KStreamsShown, label: &str) -> Chart {
    use crate::view::kstreams::TaskActivity;
    let ms = |ns: TimeNs| ns as f64 / 1e6;
    // Spikes of tasks moved by one crash stand at one instant, one over the other: the legend
    // counts them.
    let spikes = |pick: &dyn Fn(&TaskActivity) -> bool, what: &str| {
        let mut points = vec![(0.0, 0.0)];
        let mut stretches: Vec<_> = shown
            .lanes
            .iter()
            .flat_map(|l| &l.stretches)
            .filter(|s| pick(&s.activity) && s.to_ns > s.from_ns)
            .collect();
        stretches.sort_by_key(|s| s.from_ns);
        let name = format!("{what} ({})", crate::view::units::count_text(stretches.len(), "task", "tasks"));
        for s in stretches {
            let x = seconds(s.from_ns);
            points.extend([(x, 0.0), (x, ms(s.to_ns - s.from_ns)), (x, 0.0)]);
        }
        points.push((seconds(shown.end_ns), 0.0));
        Series { name, points }
    };
    Chart {
        id: "kstreams-restores",
        title: format!(
            "Failover per task, at its start: time without an owner, then the restore from the changelog — {label}"
        ),
        x_label: time_axis(&shown.scenario),
        y_label: "ms".into(),
        style: ChartStyle::TimeLines,
        series: vec![
            spikes(&|a| *a == TaskActivity::Unowned, "no owner: session timeout, rebalance"),
            spikes(&|a| matches!(a, TaskActivity::Restoring { .. }), "restoring the store"),
        ],
        clock_times: shown.scenario.clock_times,
    }
}

/// End-to-end latency of the rows that became visible each second: mean and maximum (ms), by
/// the rule `compare` reports p50 / p99 with (`sim::run::row_latency_ns`).
fn kstreams_latency(shown: &crate::view::kstreams::KStreamsShown, label: &str) -> Chart {
    use sim::model_world::ModelCore as _;
    let end_ns = shown.end_ns;
    let buckets = (end_ns / 1_000_000_000 + 1) as usize;
    let mut sum_ms = vec![0u64; buckets];
    let mut max_ms = vec![0u64; buckets];
    let mut rows = vec![0u64; buckets];
    for row in shown.run.visible_rows() {
        let visible_ns = row.visible_ns.unwrap_or(row.written_ns);
        let second = ((visible_ns / 1_000_000_000) as usize).min(buckets - 1);
        let latency_ms = sim::run::row_latency_ns(row, shown.run.world.log()) / 1_000_000;
        sum_ms[second] += latency_ms;
        max_ms[second] = max_ms[second].max(latency_ms);
        rows[second] += 1;
    }
    let at = |i: usize| seconds(((i as u64 + 1) * 1_000_000_000).min(end_ns));
    let with_rows = || (0..buckets).filter(|&i| rows[i] > 0);
    Chart {
        id: "kstreams-end-to-end-latency",
        title: format!("End-to-end latency: row visible minus its newest record's log append — {label}"),
        x_label: time_axis(&shown.scenario),
        y_label: "latency (ms)".into(),
        style: ChartStyle::TimeLines,
        series: vec![
            Series {
                name: "mean".into(),
                points: with_rows().map(|i| (at(i), (sum_ms[i] / rows[i]) as f64)).collect(),
            },
            Series { name: "max".into(), points: with_rows().map(|i| (at(i), max_ms[i] as f64)).collect() },
        ],
        clock_times: shown.scenario.clock_times,
    }
}

fn spark_records(session: &crate::view::spark::SparkSession, label: &str) -> Chart {
    let batches = session.batches();
    let records = |b: &sim::spark::BatchInfo| b.offsets.ranges.iter().map(|r| r.1 - r.0).sum::<u64>() as f64;
    let at = |b: &sim::spark::BatchInfo| seconds(b.started_ns);
    Chart {
        id: "spark-records-per-batch",
        title: format!("Records per batch (a re-run batch reads the same offsets again) — {label}"),
        x_label: time_axis(&session.scenario),
        y_label: "records".into(),
        style: ChartStyle::TimeLines,
        series: vec![
            Series {
                name: "records in the batch".into(),
                points: batches.iter().map(|b| (at(b), records(b))).collect(),
            },
            // A spike at each re-run batch (0 up to its records and back at its start): a line
            // from the batch before would draw a ramp over the time the driver was down.
            Series {
                name: "records of a re-run batch".into(),
                points: batches
                    .iter()
                    .flat_map(|b| match b.rerun {
                        true => vec![(at(b), 0.0), (at(b), records(b)), (at(b), 0.0)],
                        false => vec![(at(b), 0.0)],
                    })
                    .collect(),
            },
        ],
        clock_times: session.scenario.clock_times,
    }
}

fn spark_durations(session: &crate::view::spark::SparkSession, label: &str) -> Chart {
    let batches = session.batches();
    let ms = |ns: TimeNs| ns as f64 / 1e6;
    // An abandoned batch lasted until the driver died (or the next batch started).
    let duration = |i: usize| {
        let b = &batches[i];
        ms(b.committed_ns.unwrap_or_else(|| session.abandoned_at(i)).saturating_sub(b.started_ns))
    };
    let interval_ms = session.run.world.config.trigger_ms as f64;
    Chart {
        id: "spark-batch-durations",
        title: format!("Batch duration against the trigger interval: a batch that outlasts it makes the next one start late — {label}"),
        x_label: time_axis(&session.scenario),
        y_label: "ms".into(),
        style: ChartStyle::TimeLines,
        series: vec![
            Series {
                name: "batch duration (offsets/N to commits/N)".into(),
                points: (0..batches.len()).map(|i| (seconds(batches[i].started_ns), duration(i))).collect(),
            },
            Series {
                name: "started late by (after its trigger was due)".into(),
                points: batches.iter().map(|b| (seconds(b.started_ns), ms(b.started_ns.saturating_sub(b.due_ns)))).collect(),
            },
            Series {
                name: "trigger interval".into(),
                points: match (batches.first(), batches.last()) {
                    (Some(a), Some(z)) => vec![(seconds(a.started_ns), interval_ms), (seconds(z.started_ns), interval_ms)],
                    _ => Vec::new(),
                },
            },
        ],
        clock_times: session.scenario.clock_times,
    }
}

/// Records in the source that no committed batch covers yet, at the start and the end of every
/// batch and at every crash and restart: Σ over partitions of (records arrived by then − the end
/// offset of the last batch committed by then). Records a restart without a checkpoint location
/// skips count as covered once a later batch commits past them: they are lost, not waiting.
fn spark_lag(session: &crate::view::spark::SparkSession, label: &str) -> Chart {
    let batches = session.batches();
    let log = &session.run.world.log.partitions;
    let mut times: Vec<TimeNs> = vec![0, session.end_ns];
    for (i, b) in batches.iter().enumerate() {
        times.push(b.started_ns);
        times.push(b.committed_ns.unwrap_or_else(|| session.abandoned_at(i)));
    }
    times.extend(session.node_events().iter().map(|n| n.0));
    times.sort_unstable();
    times.dedup();
    let mut committed: Vec<(TimeNs, &[(u64, u64)])> =
        batches.iter().filter_map(|b| b.committed_ns.map(|c| (c, b.offsets.ranges.as_slice()))).collect();
    committed.sort_by_key(|c| c.0);
    let points = times
        .into_iter()
        .map(|t| {
            let done = committed.partition_point(|c| c.0 <= t);
            let covered = done.checked_sub(1).map(|k| committed[k].1);
            let lag: u64 = log
                .iter()
                .enumerate()
                .map(|(p, entries)| {
                    let arrived = entries.partition_point(|e| e.append_ns <= t) as u64;
                    arrived.saturating_sub(covered.and_then(|r| r.get(p)).map_or(0, |r| r.1))
                })
                .sum();
            (seconds(t), lag as f64)
        })
        .collect();
    Chart {
        id: "spark-lag",
        title: format!("Lag: records arrived that no committed batch covers yet — {label}"),
        x_label: time_axis(&session.scenario),
        y_label: "records".into(),
        style: ChartStyle::TimeLines,
        series: vec![Series { name: "records waiting".into(), points }],
        clock_times: session.scenario.clock_times,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::scrub::RecordedRun;

    /// The Storm charts count what the trace holds: the per-second emit line adds up to every
    /// spout emit; pending tuples never exceed `max_spout_pending` and are back to 0 at the end
    /// (every tree completed); under Trident the lines count batches and commits.
    #[test]
    fn ticks_are_round() {
        assert_eq!(round_ticks(0.0, 1742.0, 5, 0.0), vec![0.0, 500.0, 1000.0, 1500.0]);
        assert_eq!(round_ticks(0.5, 16.5, 8, 1.0), vec![2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0]);
        assert_eq!(round_ticks(0.0, 3.0, 4, 1.0), vec![0.0, 1.0, 2.0, 3.0], "whole checkpoints, not halves");
        assert!(round_ticks(1.0, 1.0, 4, 0.0).is_empty());
        let tenths: Vec<String> = round_ticks(0.0, 0.45, 5, 0.0).into_iter().map(Chart::y_text).collect();
        assert_eq!(tenths, ["0", "0.1", "0.2", "0.3", "0.4"]);
        // The default scenario's records per second: 1 s to 32 s reads 5 s, 10 s, ... 30 s.
        let mut run = crate::scrub::RecordedRun::record(std::sync::Arc::new(sim::Scenario::default_scenario()), 42);
        let chart = records_per_second(run.world_at(u64::MAX));
        let texts: Vec<String> = chart.x_ticks(7).iter().map(|&x| chart.x_text(x)).collect();
        assert_eq!(texts, ["5 s", "10 s", "15 s", "20 s", "25 s", "30 s"]);
    }

    #[test]
    fn storm_charts_count_the_trace() {
        use sim::recording::Payload;
        let path = |f: &str| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(f);
        let session = |f: &str| {
            let base = Arc::new(sim::Scenario::load(&path(f)).expect("shipped"));
            let origin = crate::view::storm::StormOrigin::new(base, crate::app::ScenarioSource::File(path(f)), None);
            crate::view::storm::StormSession::record(origin, 42)
        };
        let s = session("storm-word-count.ron");
        let [per_second, pending] = s.charts.as_slice() else { panic!("two charts: {:?}", s.charts.len()) };
        let emits = s.events.iter().filter(|e| matches!(e.payload(), Payload::StormEmit { .. })).count();
        let summed: f64 = per_second.series[0].points.iter().map(|p| p.1).sum();
        assert_eq!((per_second.series[0].name.as_str(), summed), ("spout emits", emits as f64));
        let cap = s.run.world.config.max_spout_pending.expect("the word count caps its spout") as f64;
        let line = &pending.series[0];
        let peak = line.points.iter().map(|p| p.1).fold(0.0, f64::max);
        assert!(peak > 100.0 && peak <= cap, "peak {peak}, cap {cap}");
        assert_eq!(line.points.last().map(|p| p.1), Some(0.0), "every tree completed by the end");
        assert_eq!(line.points.last().map(|p| p.0), Some(seconds(s.end_ns)));

        let s = session("storm-trident.ron");
        assert_eq!(s.charts.len(), 1, "Trident tracks batches: no pending tuples chart");
        let names: Vec<&str> = s.charts[0].series.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["batches begun", "batches replayed", "commits"]);
        let begun = s.events.iter().filter(|e| matches!(e.payload(), Payload::TridentBatch { .. })).count();
        assert_eq!(s.charts[0].series[0].points.iter().map(|p| p.1).sum::<f64>(), begun as f64);
    }

    #[test]
    fn records_per_second_matches_the_counters() {
        let run = RecordedRun::record(Arc::new(sim::Scenario::default_scenario()), 42);
        let world = &run.final_world;
        let chart = records_per_second(world);
        assert_eq!(chart.series.len(), world.scenario.plan.operators.len());
        // Buckets are one second long, so the per-second rates add up to the records processed.
        let sources = &chart.series[0];
        let rate = match &world.scenario.log {
            sim::scenario::LogData::Generator(g) => g.rate_per_s as f64,
            sim::scenario::LogData::Events(_) => unreachable!("the default scenario generates its data"),
        };
        let first_full: Vec<f64> = sources.points.iter().take(5).map(|p| p.1).collect();
        assert!(first_full.iter().all(|r| *r > rate * 0.5 && *r < rate * 1.5), "about {rate} clicks/s: {first_full:?}");
    }

    #[test]
    fn latency_counts_every_visible_row_once() {
        let run = RecordedRun::record(Arc::new(sim::Scenario::default_scenario()), 42);
        let world = &run.final_world;
        let counted: u64 = world.metrics.iter().map(|b| b.rows_visible).sum();
        assert_eq!(counted as usize, world.sink_store.visible_count());
        let chart = latency(world);
        assert!(chart.series[0]
            .points
            .iter()
            .all(|p| p.1 <= chart.series[1].points.iter().map(|q| q.1).fold(0.0, f64::max)));
        assert!(!chart.series[0].points.is_empty());
    }

    #[test]
    fn checkpoint_bars_are_completed_checkpoints() {
        let run = RecordedRun::record(Arc::new(sim::Scenario::default_scenario()), 42);
        let chart = checkpoint_durations(&run.final_world);
        let completed = run.final_world.checkpoints.iter().filter(|c| c.duration_ns().is_some()).count();
        assert_eq!(chart.series[0].points.len(), completed);
        assert!(completed > 5);
        let ((x0, x1), (y0, y1)) = chart.bounds();
        assert!(x0 < 1.0 && x1 > completed as f64 && y0 == 0.0 && y1 > 0.0);
    }
}
