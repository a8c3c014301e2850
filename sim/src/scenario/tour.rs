//! Guided tours: a scenario file's `tour`, resolved against the job (highlights name a subtask,
//! an operator or a node) and checked (captions present, times inside the run and in order),
//! every error located at the stop's field.

use crate::kernel::TimeNs;
use engine::graph::PhysicalPlan;

use super::error::{Locator, ScenarioError};
use super::format::TourStop;

/// At most this many stops (a tour is a short script, not a log).
pub const MAX_TOUR_STOPS: usize = 200;

/// What a stop points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Highlight {
    Subtask(usize),
    Operator(usize),
    /// A node id (0: the job manager, 1..: the task managers).
    Node(usize),
}

/// A resolved tour stop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop {
    pub at_ns: TimeNs,
    pub caption: String,
    pub highlight: Option<Highlight>,
    pub pause: bool,
}

fn highlight(name: &str, plan: &PhysicalPlan, task_managers: u32) -> Option<Highlight> {
    if let Some(i) = plan.subtasks.iter().position(|s| s.name == name) {
        return Some(Highlight::Subtask(i));
    }
    if let Some(i) = plan.operators.iter().position(|o| o.name == name) {
        return Some(Highlight::Operator(i));
    }
    if name == "jm" {
        return Some(Highlight::Node(0));
    }
    let tm: u32 = name.strip_prefix("tm-")?.parse().ok()?;
    (tm < task_managers).then_some(Highlight::Node(tm as usize + 1))
}

pub fn resolve(
    raw: &[TourStop],
    plan: &PhysicalPlan,
    task_managers: u32,
    max_run_ms: u64,
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
        let at_ms = s.at.0;
        if at_ms < 0 || at_ms as u64 >= max_run_ms {
            return Err(loc.error(
                format!("{field}.at"),
                format!("{at_ms} ms is outside the run (0 to {max_run_ms} ms, max_run_ms)"),
            ));
        }
        let at_ns = at_ms as u64 * 1_000_000;
        if let Some(previous) = stops.last().filter(|p| p.at_ns > at_ns) {
            return Err(loc.error(
                format!("{field}.at"),
                format!(
                    "stops play in time order: this one is at {at_ms} ms, the one before at {} ms",
                    previous.at_ns / 1_000_000
                ),
            ));
        }
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
        stops.push(Stop { at_ns, caption: super::error::printable(&s.caption), highlight, pause: s.pause });
    }
    Ok(stops)
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let counts1 = s.plan.subtasks.iter().position(|t| t.name == "counts[1]").unwrap();
        assert_eq!(s.tour.len(), 4);
        assert_eq!((s.tour[0].at_ns, s.tour[0].highlight, s.tour[0].pause), (1_000_000_000, None, true));
        assert_eq!((s.tour[1].highlight, s.tour[1].pause), (Some(Highlight::Subtask(counts1)), false));
        assert!(matches!(s.tour[2].highlight, Some(Highlight::Operator(_))));
        assert_eq!(s.tour[3].highlight, Some(Highlight::Node(2)));
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
}
