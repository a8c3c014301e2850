//! A run against its parent (a fork against the run it was forked from): where they first
//! differ, which sink rows the fork added, removed or changed, how the oracle's verdict on each
//! result changed (both against the same fault-free reference), and their charts overlaid.
//!
//! Plain data, built once per pair; nothing here depends on hash-map order.

use std::collections::BTreeMap;

use sim::external::StoredRow;
use sim::kernel::TimeNs;
use sim::oracle::RowId;
use sim::recording::TraceEvent;
use sim::Scenario;

use crate::view::events::caption;
use crate::view::ledger::{Ledger, Status};
use crate::view::plots::{Chart, Series};
use crate::view::time_text;

/// The first trace event that differs between two runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Index into both traces (they agree on every event before it).
    pub index: usize,
    /// When it happened: the earlier of the two differing events' times.
    pub time_ns: TimeNs,
    /// What each run did there, in words (None: that run's trace had ended).
    pub parent: Option<String>,
    pub fork: Option<String>,
}

/// The first event where `parent` and `fork` differ (None: identical traces). `from` is an index
/// both traces are known to agree before (a fork's inherited prefix), to skip the shared past.
pub fn first_divergence(
    scenario: &Scenario,
    parent: &[TraceEvent],
    fork: &[TraceEvent],
    from: usize,
) -> Option<Divergence> {
    let from = from.min(parent.len()).min(fork.len());
    let index = match parent[from..].iter().zip(&fork[from..]).position(|(a, b)| a != b) {
        Some(i) => from + i,
        None if parent.len() == fork.len() => return None,
        None => parent.len().min(fork.len()),
    };
    let (p, f) = (parent.get(index), fork.get(index));
    let time_ns = match (p, f) {
        (Some(a), Some(b)) => a.time_ns.min(b.time_ns),
        (Some(e), None) | (None, Some(e)) => e.time_ns,
        (None, None) => return None,
    };
    let words = |e: &TraceEvent| format!("{}: {}", time_text(scenario, e.time_ns), caption(scenario, e));
    Some(Divergence { index, time_ns, parent: p.map(words), fork: f.map(words) })
}

/// How one result (sink, key, window) differs between the runs' visible output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// Only the fork shows it.
    Added,
    /// Only the parent shows it.
    Removed,
    /// Both show it, with other values or another number of times.
    Changed,
}

impl Change {
    pub const ALL: [Change; 3] = [Change::Added, Change::Removed, Change::Changed];
    pub fn label(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
        }
    }
}

/// One result whose rows differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowChange {
    pub change: Change,
    pub sink: String,
    pub key: String,
    pub window: String,
    /// The values each run shows for it, in the order they became visible.
    pub parent_values: Vec<i64>,
    pub fork_values: Vec<i64>,
    /// When the fork first showed it (the parent, for a removed row): a link moves the cursor.
    pub time_ns: TimeNs,
}

fn values_text(values: &[i64]) -> String {
    if values.is_empty() {
        "—".to_string()
    } else {
        values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
    }
}

impl RowChange {
    pub fn parent_text(&self) -> String {
        values_text(&self.parent_values)
    }
    pub fn fork_text(&self) -> String {
        values_text(&self.fork_values)
    }
}

/// One result whose verdicts differ: what the oracle said of its rows in each run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerdictChange {
    pub sink: String,
    pub key: String,
    pub window: String,
    pub parent: Vec<Status>,
    pub fork: Vec<Status>,
}

fn statuses_text(statuses: &[Status]) -> String {
    if statuses.is_empty() {
        "—".to_string()
    } else {
        statuses.iter().map(|s| s.label()).collect::<Vec<_>>().join(", ")
    }
}

impl VerdictChange {
    pub fn parent_text(&self) -> String {
        statuses_text(&self.parent)
    }
    pub fn fork_text(&self) -> String {
        statuses_text(&self.fork)
    }
}

/// The verdicts of both runs against the same fault-free reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdicts {
    /// Per status (in [`Status::ALL`] order): lines in the parent's and the fork's table.
    pub counts: Vec<(Status, usize, usize)>,
    /// The results whose verdicts differ, in (sink, key, window) order.
    pub changes: Vec<VerdictChange>,
}

/// A fork against its parent.
#[derive(Clone, Debug, PartialEq)]
pub struct RunDiff {
    pub parent: usize,
    pub fork: usize,
    pub divergence: Option<Divergence>,
    /// Results whose visible rows differ, in (sink, key, window) order.
    pub rows: Vec<RowChange>,
    /// Per [`Change`] (in `Change::ALL` order), how many results.
    pub row_counts: [usize; 3],
    /// None until both runs' outcome tables exist (they need the fault-free reference run).
    pub verdicts: Option<Verdicts>,
    /// The parent's charts with the fork's series drawn over them ("parent · x", "fork · x").
    pub charts: Vec<Chart>,
}

/// What a diff needs of one run.
pub struct Side<'a> {
    pub index: usize,
    pub trace: &'a [TraceEvent],
    /// The run's visible output, in the order it became visible.
    pub visible: Vec<&'a StoredRow>,
    pub charts: &'a [Chart],
    pub ledger: Option<&'a Ledger>,
}

struct Labels {
    sink: String,
    key: String,
    window: String,
}

fn labels(scenario: &Scenario, row: &StoredRow) -> Labels {
    Labels {
        sink: scenario.plan.operators.get(row.sink).map_or_else(String::new, |o| o.name.clone()),
        key: scenario.key_name(row.row.key),
        window: crate::view::row_window_text(scenario, &row.row),
    }
}

impl RunDiff {
    /// `shared_prefix`: how many trace events the fork inherited from the parent unchanged.
    pub fn build(scenario: &Scenario, parent: Side<'_>, fork: Side<'_>, shared_prefix: usize) -> RunDiff {
        let divergence = first_divergence(scenario, parent.trace, fork.trace, shared_prefix);
        // Sink rows, grouped by result.
        type Group<'a> = (Option<&'a StoredRow>, Vec<i64>, Vec<i64>, Option<TimeNs>, Option<TimeNs>);
        let mut groups: BTreeMap<RowId, Group<'_>> = BTreeMap::new();
        for r in &parent.visible {
            let g = groups.entry(RowId::of(r)).or_insert((Some(*r), Vec::new(), Vec::new(), None, None));
            g.1.push(r.row.value);
            g.3 = g.3.or(Some(r.visible_ns.unwrap_or(r.written_ns)));
        }
        for r in &fork.visible {
            let g = groups.entry(RowId::of(r)).or_insert((Some(*r), Vec::new(), Vec::new(), None, None));
            g.2.push(r.row.value);
            g.4 = g.4.or(Some(r.visible_ns.unwrap_or(r.written_ns)));
        }
        let mut rows = Vec::new();
        let mut row_counts = [0; 3];
        for (_, (row, p, f, p_at, f_at)) in groups {
            let change = match (p.is_empty(), f.is_empty()) {
                (true, _) => Change::Added,
                (_, true) => Change::Removed,
                _ if p != f => Change::Changed,
                _ => continue,
            };
            let Some(row) = row else { continue };
            row_counts[change as usize] += 1;
            let l = labels(scenario, row);
            rows.push(RowChange {
                change,
                sink: l.sink,
                key: l.key,
                window: l.window,
                parent_values: p,
                fork_values: f,
                time_ns: f_at.or(p_at).unwrap_or(0),
            });
        }
        let verdicts = match (parent.ledger, fork.ledger) {
            (Some(a), Some(b)) => Some(verdicts(scenario, a, b)),
            _ => None,
        };
        RunDiff {
            parent: parent.index,
            fork: fork.index,
            divergence,
            rows,
            row_counts,
            verdicts,
            charts: overlay(parent.charts, fork.charts),
        }
    }

    pub fn count(&self, change: Change) -> usize {
        self.row_counts[change as usize]
    }

    /// "3 added · 1 removed · 12 changed".
    pub fn counts_text(&self) -> String {
        Change::ALL.iter().map(|c| format!("{} {}", self.count(*c), c.label())).collect::<Vec<_>>().join(" · ")
    }
}

/// Per result, the verdicts of its lines in each table.
fn verdicts(scenario: &Scenario, parent: &Ledger, fork: &Ledger) -> Verdicts {
    type Group<'a> = (Option<&'a StoredRow>, Vec<Status>, Vec<Status>);
    let mut groups: BTreeMap<RowId, Group<'_>> = BTreeMap::new();
    for (side, ledger) in [(0, parent), (1, fork)] {
        for (line, l) in ledger.rows.iter().enumerate() {
            let Some(row) = ledger.stored(line) else { continue };
            let g = groups.entry(RowId::of(row)).or_insert((Some(row), Vec::new(), Vec::new()));
            if side == 0 {
                g.1.push(l.status);
            } else {
                g.2.push(l.status);
            }
        }
    }
    let mut changes = Vec::new();
    for (_, (row, mut p, mut f)) in groups {
        p.sort();
        f.sort();
        if p == f {
            continue;
        }
        let Some(row) = row else { continue };
        let l = labels(scenario, row);
        changes.push(VerdictChange { sink: l.sink, key: l.key, window: l.window, parent: p, fork: f });
    }
    let counts = Status::ALL.iter().map(|s| (*s, parent.count(*s), fork.count(*s))).collect();
    Verdicts { counts, changes }
}

/// The parent's charts with the fork's series over them, chart by chart (matched by id).
pub fn overlay(parent: &[Chart], fork: &[Chart]) -> Vec<Chart> {
    parent
        .iter()
        .map(|p| {
            let mut chart = p.clone();
            chart.title = format!("{} — parent vs fork", p.title.split(" — ").next().unwrap_or(&p.title));
            chart.series = p
                .series
                .iter()
                .map(|s| Series { name: format!("parent · {}", s.name), points: s.points.clone() })
                .collect();
            if let Some(f) = fork.iter().find(|f| f.id == p.id) {
                chart.series.extend(
                    f.series.iter().map(|s| Series { name: format!("fork · {}", s.name), points: s.points.clone() }),
                );
            }
            chart
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::plots::ChartStyle;
    use sim::recording::{About, Payload};

    fn ev(time_ns: TimeNs, payload: Payload) -> TraceEvent {
        TraceEvent::from_payload(time_ns, About::Job, None, payload)
    }

    #[test]
    fn the_first_divergence_is_the_first_differing_event() {
        let s = Scenario::default_scenario();
        let send = Payload::SendRecord { arrival_ns: 5, value: 0 };
        let parent = [
            ev(1, send),
            ev(2, Payload::CheckpointTriggered { checkpoint: engine::CheckpointId::FIRST }),
            ev(3, Payload::Finished),
        ];
        let fork = [ev(1, send), ev(2, Payload::NodeCrashed { back_after_ns: Some(2) }), ev(3, Payload::Finished)];
        let d = first_divergence(&s, &parent, &fork, 0).expect("they differ");
        assert_eq!((d.index, d.time_ns), (1, 2));
        assert!(d.parent.as_deref().is_some_and(|p| p.contains("checkpoint")), "{d:?}");
        assert!(d.fork.is_some());
        assert_eq!(first_divergence(&s, &parent, &parent, 0), None);
        // One trace ends earlier: the divergence is where it ended.
        let d = first_divergence(&s, &parent, &parent[..2], 1).expect("one is longer");
        assert_eq!((d.index, d.time_ns, d.fork.is_none()), (2, 3, true));
    }

    /// A fork with a crash against its parent: they part where the crash fired; every listed
    /// result really differs; a run against itself has no difference at all.
    #[test]
    fn a_crash_fork_differs_from_its_parent_from_the_crash_on() {
        use crate::scrub::RecordedRun;
        let scenario =
            std::sync::Arc::new(Scenario::default_scenario().with_variant(sim::scenario::Guarantee::AtLeastOnce, None));
        let mut run = RecordedRun::record(scenario.clone(), 4);
        let at = run.end_ns / 3;
        let fork = run.fork(0, at, "crash".into(), |t| sim::faults::Fault::Crash {
            node: sim::scenario::NodeId::task_manager(1),
            at: sim::faults::Trigger::At(t),
            restart_after_ns: Some(500_000_000),
        });
        let charts = crate::view::plots::all(&run.final_world);
        fn side(index: usize, r: &RecordedRun) -> Side<'_> {
            Side { index, trace: &r.trace, visible: r.final_world.sink_store.visible(), charts: &[], ledger: None }
        }
        let shared = run.trace_until(at).len();
        let d = RunDiff::build(&scenario, side(0, &run), side(1, &fork), shared);
        assert_eq!(d.divergence.as_ref().map(|d| d.time_ns), Some(fork.injections[0].fired_ns));
        assert!(!d.rows.is_empty(), "a crash under at-least-once changes the output");
        assert!(d.rows.iter().all(|r| r.parent_values != r.fork_values));
        assert_eq!(d.rows.len(), d.row_counts.iter().sum::<usize>());
        assert!(d.verdicts.is_none(), "no outcome tables given");
        let same = RunDiff::build(&scenario, side(0, &run), side(0, &run), 0);
        assert!(same.divergence.is_none() && same.rows.is_empty());
        assert!(overlay(&charts, &charts).iter().all(|c| c.series.len() % 2 == 0));
    }

    #[test]
    fn charts_overlay_both_runs_series() {
        let chart = |v: f64| Chart {
            id: "c",
            title: "Records — original run".into(),
            x_label: String::new(),
            y_label: String::new(),
            style: ChartStyle::TimeLines,
            series: vec![Series { name: "map".into(), points: vec![(0.0, v)] }],
            clock_times: false,
        };
        let out = overlay(&[chart(1.0)], &[chart(2.0)]);
        let names: Vec<&str> = out[0].series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["parent · map", "fork · map"]);
        assert_eq!(out[0].series[1].points, vec![(0.0, 2.0)]);
        assert_eq!(out[0].title, "Records — parent vs fork");
    }
}
