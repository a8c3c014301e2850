//! Playing a scenario's guided tour (`Scenario::tour`): where each stop stands in the run shown
//! ([`place`]: a stop naming an event goes where that event happened in this run), which stop's
//! caption is shown, where playback must stop (a pausing stop), what to highlight. Plain data
//! driven by the cursor.

use engine::graph::SubtaskId;
use sim::kernel::TimeNs;
use sim::scenario::tour::{self, Highlight, Placed};
#[cfg(test)]
use sim::scenario::NodeId;
use sim::scenario::JOB_MANAGER;
use sim::Scenario;

use crate::scrub::RecordedRun;

/// The scenario's tour stops placed in `run` (its trace and when its faults fired).
pub fn place(scenario: &Scenario, run: &RecordedRun) -> Vec<Placed> {
    let fired = &run.final_world.fault_fired_at;
    tour::times_in_run(&scenario.tour, &|event| tour::event_time(event, &run.trace, fired))
}

/// A tour being played.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TourState {
    /// The stop whose caption is shown (the last one reached).
    pub shown: usize,
    /// The last stop has been reached.
    pub finished: bool,
}

impl TourState {
    /// Start at the first stop (None: the scenario has no tour); the cursor goes to its time.
    pub fn start(stops: &[Placed]) -> Option<(TourState, TimeNs)> {
        let first = stops.first()?;
        Some((TourState { shown: 0, finished: stops.len() == 1 }, first.at_ns))
    }

    /// The cursor moved forward to `cursor_ns` (playback): show the last stop passed. Returns the
    /// time of a pausing stop that was passed, where playback must stop (and the cursor with it).
    pub fn advance(&mut self, stops: &[Placed], cursor_ns: TimeNs) -> Option<TimeNs> {
        let mut stop_at = None;
        for (k, stop) in stops.iter().enumerate().skip(self.shown + 1) {
            if stop.at_ns > cursor_ns {
                break;
            }
            self.shown = k;
            if stop.pause {
                stop_at = Some(stop.at_ns);
                break;
            }
        }
        self.finished = self.shown + 1 >= stops.len();
        stop_at
    }

    /// The next stop's time, if there is one (what *Next* plays to).
    pub fn next_at(&self, stops: &[Placed]) -> Option<TimeNs> {
        stops.get(self.shown + 1).map(|s| s.at_ns)
    }

    /// Go straight to stop `k` (Previous, Skip): the cursor goes to its time.
    pub fn jump(&mut self, stops: &[Placed], k: usize) -> Option<TimeNs> {
        let stop = stops.get(k)?;
        self.shown = k;
        self.finished = k + 1 >= stops.len();
        Some(stop.at_ns)
    }
}

/// The subtask to select for a highlight: the subtask itself, an operator's first subtask, a
/// task manager's first subtask (None: the job manager, which runs no subtask).
pub fn selected_subtask(scenario: &Scenario, highlight: Highlight) -> Option<SubtaskId> {
    match highlight {
        Highlight::Subtask(s) => Some(s),
        Highlight::Operator(o) => scenario.plan.operators.get(o).and_then(|op| op.subtasks().next()),
        Highlight::Node(JOB_MANAGER) => None,
        Highlight::Node(n) => scenario.plan.subtask_ids().find(|&s| scenario.node_of_subtask(s) == n),
    }
}

/// What a highlight names, for the caption bar.
pub fn highlight_text(scenario: &Scenario, highlight: Highlight) -> String {
    match highlight {
        Highlight::Subtask(s) => scenario.plan.subtasks.get(s.index()).map_or_else(String::new, |t| t.name.clone()),
        Highlight::Operator(o) => scenario.plan.operators.get(o).map_or_else(String::new, |t| t.name.clone()),
        Highlight::Node(n) => scenario.node_name(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop(at_ns: TimeNs, pause: bool) -> Placed {
        Placed { at_ns, missing: false, pause }
    }

    #[test]
    fn playback_stops_at_pausing_stops_and_reads_the_others_on_the_way() {
        let stops = [stop(10, true), stop(20, false), stop(30, true), stop(40, true)];
        let (mut t, at) = TourState::start(&stops).expect("a tour");
        assert_eq!((t.shown, at), (0, 10));
        assert_eq!(t.advance(&stops, 15), None);
        assert_eq!(t.shown, 0);
        // Past the non-pausing stop and the pausing one behind it in one frame: stop at the latter.
        assert_eq!(t.advance(&stops, 35), Some(30));
        assert_eq!((t.shown, t.finished), (2, false));
        assert_eq!(t.next_at(&stops), Some(40));
        assert_eq!(t.advance(&stops, 40), Some(40));
        assert!(t.finished && t.next_at(&stops).is_none());
        assert_eq!(t.jump(&stops, 1), Some(20));
        assert_eq!((t.shown, t.finished), (1, false));
        assert_eq!(TourState::start(&[]), None);
    }

    /// The shipped tours parse, and every highlight selects something or names the job manager.
    #[test]
    fn the_shipped_tours_parse() {
        for name in [
            "crash-during-checkpoint.ron",
            "streaming-systems-lateness.ron",
            "unaligned-under-backpressure.ron",
            "aligned-timeout-under-backpressure.ron",
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name);
            let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(s.tour.len() >= 5, "{name}: {} stops", s.tour.len());
            for stop in &s.tour {
                if let Some(h) = stop.highlight {
                    assert!(selected_subtask(&s, h).is_some() || h == Highlight::Node(JOB_MANAGER), "{name}: {h:?}");
                }
            }
        }
    }

    /// The shipped stops that name an event find it in the scenario's own run, near the time
    /// written beside it (the caption was written for that moment).
    #[test]
    fn the_shipped_tours_events_happen_where_their_captions_say() {
        for name in [
            "crash-during-checkpoint.ron",
            "unaligned-under-backpressure.ron",
            "aligned-timeout-under-backpressure.ron",
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name);
            let s = std::sync::Arc::new(Scenario::load(&path).unwrap_or_else(|e| panic!("{e}")));
            let run = RecordedRun::record(s.clone(), s.seed.unwrap_or(42));
            let placed = place(&s, &run);
            assert!(s.tour.iter().filter(|t| t.event.is_some()).count() >= 3, "{name}");
            for (stop, p) in s.tour.iter().zip(&placed) {
                assert!(!p.missing, "{name}: {stop:?}");
                if let (Some(_), Some(at)) = (stop.event, stop.at_ns) {
                    assert!(
                        p.at_ns.abs_diff(at) <= 20_000_000,
                        "{name}: {:?} at {} ms, written {} ms",
                        stop.event,
                        p.at_ns / 1_000_000,
                        at / 1_000_000
                    );
                }
            }
        }
    }

    #[test]
    fn highlights_select_a_subtask() {
        let s = Scenario::default_scenario();
        let counts = s.plan.operators.iter().position(|o| o.name == "counts").unwrap();
        let first = selected_subtask(&s, Highlight::Operator(counts)).unwrap();
        assert_eq!(s.plan.subtask(first).operator, counts);
        let on_tm1 = selected_subtask(&s, Highlight::Node(NodeId::task_manager(1))).unwrap();
        assert_eq!(s.placement[on_tm1.index()], 1);
        assert_eq!(selected_subtask(&s, Highlight::Node(JOB_MANAGER)), None);
        assert_eq!(highlight_text(&s, Highlight::Node(NodeId::task_manager(1))), "tm-1");
    }
}
