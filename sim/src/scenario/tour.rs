//! Guided tours: a scenario file's `tour`, resolved against the job (highlights name a subtask,
//! an operator or a node; events name a checkpoint, a fault of the file or a restart) and
//! checked (captions present, times inside the run and in order), every error located at the
//! stop's field. [`times_in_run`] places the stops in one run: an event where it happened there.

use crate::kernel::TimeNs;
use crate::recording::{TraceEvent, TraceKind};
use engine::graph::{PhysicalPlan, SubtaskId};
use engine::ms_to_ns;

use super::error::{Locator, ScenarioError};
use super::format::{TourEvent, TourStop};
use super::{NodeId, NodeNames};

/// At most this many stops (a tour is a short script, not a log).
pub const MAX_TOUR_STOPS: usize = 200;

/// What a stop points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Highlight {
    Subtask(SubtaskId),
    Operator(usize),
    Node(NodeId),
}

/// A resolved tour stop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop {
    /// Its time as written (`at`); a stop may name only an event.
    pub at_ns: Option<TimeNs>,
    /// The run event it stands at, wherever that happens in the run shown.
    pub event: Option<TourEvent>,
    pub caption: String,
    pub highlight: Option<Highlight>,
    pub pause: bool,
}

fn highlight(name: &str, plan: &PhysicalPlan, task_managers: u32) -> Option<Highlight> {
    if let Some(id) = plan.subtask_by_name(name) {
        return Some(Highlight::Subtask(id));
    }
    if let Some(i) = plan.operators.iter().position(|o| o.name == name) {
        return Some(Highlight::Operator(i));
    }
    NodeNames { task_managers }.resolve(name).ok().map(Highlight::Node)
}

pub fn resolve(
    raw: &[TourStop],
    plan: &PhysicalPlan,
    task_managers: u32,
    max_run_ms: u64,
    faults: usize,
    loc: &Locator<'_>,
) -> Result<Vec<Stop>, ScenarioError> {
    if raw.len() > MAX_TOUR_STOPS {
        return Err(loc.error("tour", format!("{} stops; a tour has at most {MAX_TOUR_STOPS}", raw.len())));
    }
    let mut stops: Vec<Stop> = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        let field = format!("tour[{i}]");
        if s.caption.trim().is_empty() {
            return Err(loc.error(format!("{field}.caption"), "a tour stop needs a caption: what to look at, in words"));
        }
        if let Some(event) = s.at_event {
            let wrong = match event {
                TourEvent::CheckpointTriggered(0)
                | TourEvent::CheckpointCompleted(0)
                | TourEvent::CheckpointAborted(0) => Some("checkpoints count from 1".to_string()),
                TourEvent::Restart(0) => Some("restarts count from 1: Restart(1) is the first".to_string()),
                TourEvent::Fault(f) if f >= faults => Some(match faults {
                    0 => "this scenario has no `faults` to name (Fault(i) is the file's fault i)".to_string(),
                    n => format!(
                        "this scenario has {n} fault{}: Fault(0) … Fault({})",
                        if n == 1 { "" } else { "s" },
                        n - 1
                    ),
                }),
                _ => None,
            };
            if let Some(message) = wrong {
                return Err(loc.error(format!("{field}.at_event"), message));
            }
        }
        let at_ns = match s.at {
            None if s.at_event.is_none() => {
                return Err(loc.error(
                    field,
                    "a tour stop needs `at` (a time) or `at_event` (CheckpointTriggered(n), CheckpointCompleted(n), CheckpointAborted(n), Fault(i), Restart(n))",
                ))
            }
            None => None,
            Some(at) => {
                let at_ms = at.0;
                if at_ms < 0 || at_ms as u64 >= max_run_ms {
                    return Err(loc.error(
                        format!("{field}.at"),
                        format!("{at_ms} ms is outside the run (0 to {max_run_ms} ms, max_run_ms)"),
                    ));
                }
                let at_ns = ms_to_ns(at_ms as u64);
                if let Some(previous) = stops.iter().rev().find_map(|p| p.at_ns).filter(|&p| p > at_ns) {
                    return Err(loc.error(
                        format!("{field}.at"),
                        format!(
                            "stops play in time order: this one is at {at_ms} ms, the one before at {} ms",
                            previous / 1_000_000
                        ),
                    ));
                }
                Some(at_ns)
            }
        };
        let highlight = match &s.highlight {
            None => None,
            Some(name) => Some(highlight(name, plan, task_managers).ok_or_else(|| {
                let mut known: Vec<&str> = plan.operators.iter().map(|o| o.name.as_str()).collect();
                known.extend(plan.subtasks.iter().take(4).map(|s| s.name.as_str()));
                loc.error(
                    format!("{field}.highlight"),
                    format!(
                        "`{name}` is no subtask, operator or node of this job; try one of {}, or a node: jm, tm-0 … tm-{}",
                        known.join(", "),
                        task_managers.saturating_sub(1)
                    ),
                )
            })?),
        };
        stops.push(Stop {
            at_ns,
            event: s.at_event,
            caption: super::error::printable(&s.caption),
            highlight,
            pause: s.pause,
        });
    }
    Ok(stops)
}

/// When `event` happened in a run with `trace` (and `fault_fired_at`, the world's record of
/// when each of its faults fired; the file's faults come first in every schedule).
pub fn event_time(event: TourEvent, trace: &[TraceEvent], fault_fired_at: &[Option<TimeNs>]) -> Option<TimeNs> {
    let first = |kind: TraceKind, checkpoint: u64| {
        trace
            .iter()
            .find(|e| e.kind == kind && e.payload().checkpoint() == Some(engine::CheckpointId::from_raw(checkpoint)))
            .map(|e| e.time_ns)
    };
    match event {
        TourEvent::CheckpointTriggered(n) => first(TraceKind::CheckpointTriggered, n),
        TourEvent::CheckpointCompleted(n) => first(TraceKind::CheckpointCompleted, n),
        TourEvent::CheckpointAborted(n) => first(TraceKind::CheckpointAborted, n),
        TourEvent::Fault(i) => fault_fired_at.get(i).copied().flatten(),
        TourEvent::Restart(n) => {
            let nth = (n as usize).checked_sub(1)?;
            trace.iter().filter(|e| e.kind == TraceKind::JobRestarted).nth(nth).map(|e| e.time_ns)
        }
    }
}

/// A stop placed in one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    pub at_ns: TimeNs,
    /// Playback stops here (the stop's `pause`).
    pub pause: bool,
    /// Its event does not happen in this run: it stands at its `at`, or after the stop before.
    pub missing: bool,
}

/// The stops' times in one run (`event_time` finds an event there): a stop with an event where
/// it happened, else at its `at`, else right where the stop before it is. Never before the
/// stop before it (the tour plays forward).
pub fn times_in_run(stops: &[Stop], event_time: &dyn Fn(TourEvent) -> Option<TimeNs>) -> Vec<Placed> {
    let mut placed: Vec<Placed> = Vec::with_capacity(stops.len());
    for s in stops {
        let found = s.event.and_then(event_time);
        let previous = placed.last().map_or(0, |p| p.at_ns);
        let at_ns = found.or(s.at_ns).unwrap_or(previous).max(previous);
        placed.push(Placed { at_ns, pause: s.pause, missing: s.event.is_some() && found.is_none() });
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::{About, Payload};
    use crate::scenario::{Scenario, ScenarioError, DEFAULT_SCENARIO};

    /// The default scenario with `tour` added before its closing parenthesis.
    fn with_tour(tour: &str) -> Result<Scenario, ScenarioError> {
        let end = DEFAULT_SCENARIO.rfind(')').expect("a RON struct");
        let text = format!("{}    tour: [\n{tour}\n    ],\n)\n", &DEFAULT_SCENARIO[..end]);
        Scenario::parse(&text, "tour.ron")
    }

    fn error(tour: &str) -> (usize, String, String) {
        match with_tour(tour) {
            Err(ScenarioError::Invalid { line, field, message, .. }) => (line, field, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn a_tour_resolves_its_times_and_highlights() {
        let s = with_tour(
            r#"        (at: 1_000, caption: "the sources start"),
        (at: 2_500, caption: "a barrier", highlight: "counts[1]", pause: false),
        (at: 2_500, caption: "the window operator", highlight: "counts"),
        (at: 3_000, caption: "a node", highlight: "tm-1"),"#,
        )
        .expect("valid");
        let counts1 = s.plan.subtask_by_name("counts[1]").unwrap();
        assert_eq!(s.tour.len(), 4);
        assert_eq!((s.tour[0].at_ns, s.tour[0].highlight, s.tour[0].pause), (Some(1_000_000_000), None, true));
        assert_eq!((s.tour[1].highlight, s.tour[1].pause), (Some(Highlight::Subtask(counts1)), false));
        assert!(matches!(s.tour[2].highlight, Some(Highlight::Operator(_))));
        assert_eq!(s.tour[3].highlight, Some(Highlight::Node(NodeId::task_manager(1))));
        assert!(Scenario::default_scenario().tour.is_empty(), "no tour: an empty list");
    }

    #[test]
    fn tour_errors_name_the_stop_and_its_line() {
        let tour = "        (at: 1_000, caption: \"ok\"),\n        (at: 2_000, caption: \"x\", highlight: \"nope\"),";
        let (line, field, message) = error(tour);
        assert_eq!(field, "tour[1].highlight");
        assert!(message.contains("`nope`") && message.contains("counts"), "{message}");
        let tour_line = DEFAULT_SCENARIO[..DEFAULT_SCENARIO.rfind(')').unwrap()].lines().count() + 2;
        assert_eq!(line, tour_line + 1, "the second stop's line");
        let (_, field, message) = error("        (at: 5_000, caption: \"a\"),\n        (at: 4_000, caption: \"b\"),");
        assert_eq!(field, "tour[1].at");
        assert!(message.contains("time order"), "{message}");
        let (_, field, _) = error("        (at: 5_000, caption: \"  \"),");
        assert_eq!(field, "tour[0].caption");
        let (_, field, message) = error("        (at: 99_999_999, caption: \"late\"),");
        assert_eq!(field, "tour[0].at");
        assert!(message.contains("outside the run"), "{message}");
        assert!(with_tour("        (at: 1, caption: \"x\", bogus: 1),").is_err(), "unknown fields are refused");
    }

    #[test]
    fn a_stop_may_name_an_event_and_bad_events_are_located() {
        let s = with_tour(
            r#"        (at_event: CheckpointCompleted(2), caption: "checkpoint 2"),
        (at: 3_000, at_event: Restart(1), caption: "a restart, or 3 s"),"#,
        )
        .expect("valid");
        assert_eq!((s.tour[0].at_ns, s.tour[0].event), (None, Some(TourEvent::CheckpointCompleted(2))));
        assert_eq!((s.tour[1].at_ns, s.tour[1].event), (Some(3_000_000_000), Some(TourEvent::Restart(1))));
        let (_, field, message) = error("        (caption: \"when?\"),");
        assert_eq!(field, "tour[0]");
        assert!(message.contains("at_event"), "{message}");
        let (_, field, message) = error("        (at_event: Fault(0), caption: \"no faults\"),");
        assert_eq!(field, "tour[0].at_event");
        assert!(message.contains("no `faults`"), "{message}");
        let (_, field, message) = error("        (at_event: Restart(0), caption: \"zero\"),");
        assert_eq!(field, "tour[0].at_event");
        assert!(message.contains("Restart(1)"), "{message}");
        let (_, _, message) = error("        (at_event: CheckpointCompleted(0), caption: \"zero\"),");
        assert!(message.contains("count from 1"), "{message}");
        let (_, field, _) = error("        (at_event: Snapshot(1), caption: \"unknown\"),");
        assert!(field.starts_with("tour"), "{field}");
    }

    #[test]
    fn stops_are_placed_at_their_events_in_order() {
        let stop = |at_ns, event| Stop { at_ns, event, caption: "c".into(), highlight: None, pause: true };
        let stops = [
            stop(Some(1_000), None),
            stop(None, Some(TourEvent::CheckpointCompleted(1))),
            stop(Some(2_000), Some(TourEvent::Restart(1))),
            stop(None, Some(TourEvent::Fault(0))),
            stop(Some(500), None),
        ];
        let trace = [
            TraceEvent::from_payload(
                5_000,
                About::Job,
                None,
                Payload::CheckpointCompleted { checkpoint: engine::CheckpointId::FIRST },
            ),
            TraceEvent::from_payload(
                9_000,
                About::Job,
                None,
                Payload::JobRestarted { attempt: 1, restored_from: Some(engine::CheckpointId::FIRST) },
            ),
        ];
        let placed = times_in_run(&stops, &|e| event_time(e, &trace, &[Some(7_000)]));
        let times: Vec<TimeNs> = placed.iter().map(|p| p.at_ns).collect();
        // The fault fired before the restart: the stop stays in order, right after it.
        assert_eq!(times, vec![1_000, 5_000, 9_000, 9_000, 9_000]);
        assert!(placed.iter().all(|p| !p.missing));
        // A run without a restart nor the fault: the restart stop falls back to its `at`.
        let placed = times_in_run(&stops, &|e| event_time(e, &trace[..1], &[None]));
        assert_eq!(placed[2], Placed { at_ns: 5_000, pause: true, missing: true }, "its at is before the stop before");
        assert_eq!(placed[3], Placed { at_ns: 5_000, pause: true, missing: true });
    }
}
