//! Watermarks at the cursor, per subtask and input channel, and the answer to "why has my
//! window not fired?": which window is next, what watermark it needs, and which input holds the
//! watermark back.

use engine::graph::{InputIndex, SubtaskId};
use engine::subtask::OperatorState;
use engine::window::Window;
use engine::{EventTimeMs, WATERMARK_MAX, WATERMARK_MIN};
use sim::scenario::{Emit, Watermarks};
use sim::{Scenario, World};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatermarkInput {
    pub input: usize,
    /// Sending subtask, or "partition p" for a source's log partitions.
    pub from: String,
    pub watermark: EventTimeMs,
    pub idle: bool,
    /// Came back from idleness behind the combined watermark: not counted until it catches up.
    pub catching_up: bool,
    pub finished: bool,
}

/// The earliest window of a window subtask still waiting for its on-time firing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NextWindow {
    pub key: u64,
    pub window: Window,
    /// It fires once the watermark reaches this.
    pub fires_at: EventTimeMs,
    pub records: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatermarkRow {
    pub subtask: SubtaskId,
    pub name: String,
    /// For subtasks with inputs: the minimum over active inputs. For sources: their own.
    pub combined: EventTimeMs,
    /// What the subtask last sent downstream.
    pub output: EventTimeMs,
    pub idle: bool,
    pub holding_back: Option<usize>,
    pub inputs: Vec<WatermarkInput>,
    pub next_window: Option<NextWindow>,
    pub open_windows: usize,
    /// A window subtask: the one whose firing a student waits for.
    pub is_window: bool,
    /// A sentence for a student.
    pub explanation: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatermarkView {
    pub rows: Vec<WatermarkRow>,
}

impl WatermarkView {
    pub fn build(world: &World) -> WatermarkView {
        let scenario = &world.scenario;
        let plan = &scenario.plan;
        let rows = plan
            .subtask_ids()
            .zip(&world.tasks)
            .map(|(s, task)| {
                let subtask = &task.subtask;
                let valve = subtask.watermarks();
                let (inputs, combined, holding_back) = match subtask.operator_state() {
                    OperatorState::Source(src) => {
                        // A source's "inputs" are its log partitions, each with its own generator.
                        let inputs: Vec<WatermarkInput> = src
                            .partitions
                            .iter()
                            .enumerate()
                            .map(|(i, p)| WatermarkInput {
                                input: i,
                                from: format!("partition {}", p.partition),
                                watermark: p.generator.current(),
                                idle: p.idle,
                                catching_up: false,
                                finished: false,
                            })
                            .collect();
                        // At the end of its input a source's watermark is +inf: no partition
                        // holds it back any more, whatever its generator's last value.
                        let ended = subtask.output_watermark() == engine::WATERMARK_MAX;
                        let holding = inputs
                            .iter()
                            .filter(|i| !i.idle && !ended)
                            .min_by_key(|i| (i.watermark, i.input))
                            .map(|i| i.input);
                        (inputs, subtask.output_watermark(), holding)
                    }
                    _ => {
                        let inputs = plan.subtask(s)
                            .inputs
                            .iter()
                            .zip(valve.inputs())
                            .enumerate()
                            .map(|(i, (&c, w))| WatermarkInput {
                                input: i,
                                from: plan.subtask(plan.channel(c).from).name.clone(),
                                watermark: w.watermark,
                                idle: w.idle,
                                catching_up: !w.aligned,
                                finished: w.finished,
                            })
                            .collect();
                        (inputs, valve.combined(), valve.holding_back().map(InputIndex::index))
                    }
                };
                let (next_window, open_windows) = match subtask.operator_state() {
                    OperatorState::Window(w) => {
                        let next = w
                            .windows()
                            .filter(|(_, c)| !c.fired)
                            .min_by_key(|((key, window), _)| (window.max_timestamp(), *key, window.start_ms))
                            .map(|((key, window), c)| NextWindow {
                                key: *key,
                                window: *window,
                                fires_at: window.max_timestamp(),
                                records: c.acc.count,
                            });
                        (next, w.open_window_count())
                    }
                    _ => (None, 0),
                };
                let mut row = WatermarkRow {
                    subtask: s,
                    name: plan.subtask(s).name.clone(),
                    combined,
                    output: subtask.output_watermark(),
                    idle: subtask.is_output_idle(),
                    holding_back,
                    inputs,
                    next_window,
                    open_windows,
                    is_window: matches!(subtask.operator_state(), OperatorState::Window(_)),
                    explanation: String::new(),
                };
                row.explanation = if task.alive {
                    explain(scenario, &row, subtask.is_source(), subtask.is_finished())
                } else {
                    format!(
                        "{} is not running: its task manager is down or the job is restarting. After the restart its watermark starts again from nothing.",
                        row.name
                    )
                };
                row
            })
            .collect();
        WatermarkView { rows }
    }
}

/// A watermark in the scenario's clock ("none yet", "+inf (end of input)", "12:01:59.999", "59.999 s").
pub fn watermark_text(scenario: &Scenario, w: EventTimeMs) -> String {
    match w {
        WATERMARK_MIN => "none yet".to_string(),
        WATERMARK_MAX => "+inf (end of input)".to_string(),
        w => crate::view::event_time_text(scenario, w),
    }
}

fn explain(scenario: &Scenario, row: &WatermarkRow, is_source: bool, finished: bool) -> String {
    let t = |w| watermark_text(scenario, w);
    if finished {
        return format!("{} has finished: its inputs ended, every window has fired.", row.name);
    }
    let holder = row.holding_back.and_then(|i| row.inputs.get(i));
    let why_stuck = match holder {
        _ if row.idle => "every input is idle, so nothing holds the watermark back".to_string(),
        Some(h) if h.watermark == WATERMARK_MIN && is_source => {
            format!("{} has produced no record yet, so there is no watermark", h.from)
        }
        Some(h) if h.watermark == WATERMARK_MIN => {
            format!(
                "input {} (from {}) has not sent a watermark yet, and the watermark is the minimum over inputs",
                h.input, h.from
            )
        }
        // A periodic source sends the minimum over its partitions only at its next tick: until
        // then its watermark is older than every partition's, and saying the slowest partition
        // holds it there would name a number the watermark is not.
        Some(h) if is_source && h.watermark > row.combined => {
            let sent =
                if row.combined == WATERMARK_MIN { "it has sent none yet" } else { "that is the last one it sent" };
            match &scenario.watermarks {
                Watermarks::BoundedOutOfOrderness { emit: Emit::Periodic { interval_ms }, .. } => format!(
                    "{sent}; its slowest partition, {}, already allows {}, which it sends at its next periodic emission (every {})",
                    h.from,
                    t(h.watermark),
                    crate::view::units::duration_ms_text(*interval_ms as i64)
                ),
                Watermarks::Explicit(_) => {
                    format!("{sent}; its watermarks follow the scenario's explicit schedule, not its records")
                }
                _ => format!("{sent}; its slowest partition, {}, already allows {}", h.from, t(h.watermark)),
            }
        }
        Some(h) if is_source => {
            format!("the slowest partition is {} at {}", h.from, t(h.watermark))
        }
        Some(h) => format!("input {} (from {}) holds it back at {}", h.input, h.from, t(h.watermark)),
        None => "no active input sets it".to_string(),
    };
    match &row.next_window {
        Some(next) if next.fires_at > row.combined => format!(
            "Window [{}, {}) of key {} ({}) fires when the watermark reaches {}. The watermark here is {}: {}.",
            crate::view::event_time_text(scenario, next.window.start_ms),
            crate::view::event_time_text(scenario, next.window.end_ms),
            scenario.key_name(next.key),
            crate::view::units::count_text(next.records as usize, "record", "records"),
            crate::view::event_time_text(scenario, next.fires_at),
            t(row.combined),
            why_stuck
        ),
        Some(next) => format!(
            "Window [{}, {}) is due (watermark {} has passed {}); it fires when this subtask processes its next message.",
            crate::view::event_time_text(scenario, next.window.start_ms),
            crate::view::event_time_text(scenario, next.window.end_ms),
            t(row.combined),
            crate::view::event_time_text(scenario, next.fires_at)
        ),
        None if row.open_windows > 0 => format!(
            "{} windows have fired and stay open for late records (allowed lateness). Watermark {}: {}.",
            row.open_windows,
            t(row.combined),
            why_stuck
        ),
        None => format!("Watermark {}: {}.", t(row.combined), why_stuck),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::scrub::RecordedRun;

    fn textbook(name: &str) -> Arc<Scenario> {
        let path = format!("{}/../scenarios/{name}.ron", env!("CARGO_MANIFEST_DIR"));
        Arc::new(Scenario::load(std::path::Path::new(&path)).unwrap())
    }

    fn clock(s: &str) -> i64 {
        let p: Vec<i64> = s.split(':').map(|x| x.parse().unwrap()).collect();
        ((p[0] * 60 + p[1]) * 60 + p[2]) * 1000
    }

    #[test]
    fn the_heuristic_example_waits_for_the_watermark_at_twelve_oh_five() {
        // Streaming Systems ch. 2, heuristic watermark: at 12:05:00 the 5 has arrived but the first
        // watermark (12:02 at 12:06) has not, so window [12:00, 12:02) waits.
        let mut run = RecordedRun::record(textbook("streaming-systems-heuristic"), 42);
        let at = clock("12:05:00") as u64 * 1_000_000;
        let view = WatermarkView::build(run.world_at(at));
        let row = view.rows.iter().find(|r| r.name == "sum[0]").unwrap();
        let next = row.next_window.expect("a window is waiting");
        assert_eq!((next.window.start_ms, next.window.end_ms), (clock("12:00:00"), clock("12:02:00")));
        assert_eq!(next.fires_at, clock("12:02:00") - 1);
        assert_eq!(row.combined, WATERMARK_MIN);
        assert!(row.explanation.contains("fires when the watermark reaches 12:01:59.999"), "{}", row.explanation);
        assert!(row.explanation.contains("has not sent a watermark yet"), "{}", row.explanation);
    }

    /// A source at the end of its input sends +inf: no partition is shown holding it back (the
    /// panel said "partition 0: 11.893 s (holds it back)" beside "+inf (end of input)").
    #[test]
    fn a_finished_source_has_no_partition_holding_it_back() {
        let mut run = RecordedRun::record(Arc::new(Scenario::default_scenario()), 42);
        let end = run.end_ns;
        let view = WatermarkView::build(run.world_at(end));
        let row = view.rows.iter().find(|r| r.name == "clicks[0]").unwrap();
        assert_eq!(row.output, engine::WATERMARK_MAX, "the case: the source has ended");
        assert_eq!(row.holding_back, None);
    }

    /// Between two periodic emissions a source's watermark is older than its slowest
    /// partition's: the sentence says it is the last one sent, not that the partition holds it.
    #[test]
    fn a_periodic_source_says_its_watermark_is_the_last_one_sent() {
        let mut run = RecordedRun::record(Arc::new(Scenario::default_scenario()), 42);
        let view = WatermarkView::build(run.world_at(4_343_522_000));
        let row = view.rows.iter().find(|r| r.name == "clicks[0]").unwrap();
        let slowest = &row.inputs[row.holding_back.expect("a partition holds it back")];
        assert!(slowest.watermark > row.combined, "the case: {} > {}", slowest.watermark, row.combined);
        assert!(row.explanation.contains("that is the last one it sent"), "{}", row.explanation);
        assert!(row.explanation.contains("next periodic emission (every 200 ms)"), "{}", row.explanation);
        assert!(!row.explanation.contains("the slowest partition is"), "{}", row.explanation);
    }

    /// An explicit schedule sets a textbook source's watermark, not its records: before its
    /// first mark the sentence says so rather than name what the partition "allows".
    #[test]
    fn an_explicit_schedule_source_says_its_watermark_follows_the_schedule() {
        let mut run = RecordedRun::record(textbook("streaming-systems-heuristic"), 42);
        let view = WatermarkView::build(run.world_at(clock("12:05:33") as u64 * 1_000_000));
        let row = view.rows.iter().find(|r| r.name == "scores[0]").unwrap();
        assert_eq!(row.combined, WATERMARK_MIN);
        let sum = view.rows.iter().find(|r| r.name == "sum[0]").unwrap();
        assert!(sum.explanation.contains("of key team (1 record) fires"), "{}", sum.explanation);
        assert!(
            row.explanation.contains("it has sent none yet; its watermarks follow the scenario's explicit schedule"),
            "{}",
            row.explanation
        );
    }

    #[test]
    fn after_the_watermark_passes_the_window_has_fired() {
        let mut run = RecordedRun::record(textbook("streaming-systems-heuristic"), 42);
        let at = clock("12:06:30") as u64 * 1_000_000;
        let view = WatermarkView::build(run.world_at(at));
        let row = view.rows.iter().find(|r| r.name == "sum[0]").unwrap();
        assert_eq!(row.combined, clock("12:02:00"));
        assert_eq!(row.inputs.len(), 1);
        assert_eq!(row.holding_back, Some(0));
        let next = row.next_window.expect("the second window waits");
        assert_eq!(next.window.start_ms, clock("12:02:00"));
        let source = view.rows.iter().find(|r| r.name == "scores[0]").unwrap();
        assert_eq!(source.output, clock("12:02:00"));
    }
}
