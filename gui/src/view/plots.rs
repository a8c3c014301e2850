//! Chart data from a whole run: records per second per operator, watermark lag, checkpoint
//! durations. One model, two renderers: the egui painter (panels::plots) and plotters (export).

use sim::kernel::TimeNs;
use sim::recording::CheckpointOutcome;
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
    if world.scenario.clock_times { "time (clock)" } else { "virtual time (s)" }.to_string()
}

impl Chart {
    /// An x value as its axis reads it: a time in the scenario's clock, or a checkpoint id.
    pub fn x_text(&self, x: f64) -> String {
        match self.style {
            ChartStyle::TimeLines => crate::view::units::axis_seconds_text(self.clock_times, x),
            ChartStyle::Bars if (x - x.round()).abs() < 1e-6 => format!("{}", x.round() as i64),
            ChartStyle::Bars => String::new(),
        }
    }
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
        title: format!("End-to-end latency: row visible minus newest record ingested — {}", run_label(world)),
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::scrub::RecordedRun;

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
