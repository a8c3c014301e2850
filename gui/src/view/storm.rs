//! The Storm view: a Storm run recorded once (its full trace), and what the workbench shows of
//! it at a cursor time — the topology with the acker as a node, per-executor ack traffic,
//! pending tuples per spout, emitted / replayed / timed-out / failed counts, the timeline's
//! timeouts and crashes, and for a selected spout tuple its tuple tree: the init, every ack (or
//! fail) with the ack value after it, going to zero when the tree completes (or timing out).
//!
//! Everything is read off the trace the Storm core recorded (`sim::storm::core`): the view
//! never re-implements the protocol. Plain data, tested without egui.

use std::collections::BTreeMap;
use std::sync::Arc;

use sim::kernel::TimeNs;
use sim::recording::{TraceEvent, TraceKind};
use sim::storm::StormRun;
use sim::Scenario;

/// One spout tuple the trace knows: its root id, spout executor, source record, emit time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpoutTuple {
    pub root: u64,
    pub spout: u32,
    pub partition: i64,
    pub offset: i64,
    pub emitted_ns: TimeNs,
    pub replay: bool,
}

/// A recorded Storm run and the workbench's cursor and selection over it.
pub struct StormSession {
    pub scenario: Arc<Scenario>,
    pub seed: u64,
    pub run: StormRun,
    pub events: Vec<TraceEvent>,
    pub end_ns: TimeNs,
    pub cursor_ns: TimeNs,
    /// Index into `tuples` of the selected spout tuple.
    pub selected: Option<usize>,
    /// Every spout tuple with a root (acking on), in emit order.
    pub tuples: Vec<SpoutTuple>,
}

/// What the tree of the selected tuple is at the cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeStatus {
    Pending,
    Complete,
    Failed,
    TimedOut,
}

/// One step of a tuple tree: who sent what to the acker, and the ack value after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeStep {
    pub time_ns: TimeNs,
    pub executor: String,
    pub what: &'static str,
    pub value: u64,
    pub ack_value: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TupleTree {
    pub tuple: SpoutTuple,
    pub steps: Vec<TreeStep>,
    pub status: TreeStatus,
}

/// A box of the topology drawing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    pub kind: &'static str,
    pub tasks: u32,
    /// Acker messages (acks and fails) this component's executors sent so far: one per tuple
    /// they finished.
    pub acked: u64,
}

/// The Storm view at the cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StormFrame {
    /// Spouts and bolts in pipeline order, then the acker component.
    pub components: Vec<Component>,
    pub pending: Vec<(String, u64)>,
    pub emitted: u64,
    pub replayed: u64,
    pub timed_out: u64,
    pub trees_completed: u64,
    pub trees_failed: u64,
    pub fails: u64,
    pub acker_messages: u64,
    pub tree: Option<TupleTree>,
}

fn executor_name(scenario: &Scenario, task: u32) -> String {
    let subtasks = scenario.plan.subtasks.len();
    match scenario.plan.subtasks.get(task as usize) {
        Some(s) => s.name.clone(),
        None => format!("__acker[{}]", task as usize - subtasks),
    }
}

impl StormSession {
    /// Run `scenario` (a Storm one) with `seed` to its end, keeping the trace.
    pub fn record(scenario: Arc<Scenario>, seed: u64) -> StormSession {
        let run = sim::storm::run_storm(scenario.clone(), seed, true);
        StormSession::from_run(scenario, seed, run)
    }

    /// The session of a finished run (recorded with its trace kept, here or by
    /// `recording::StormRecorder` off the UI thread).
    pub fn from_run(scenario: Arc<Scenario>, seed: u64, mut run: sim::storm::StormRun) -> StormSession {
        let events = run.world.recorder.take_events();
        let end_ns = run.world.finished_at_ns.unwrap_or(run.world.now_ns());
        let mut tuples = Vec::new();
        let mut last_emit: BTreeMap<u32, (i64, i64, TimeNs, bool)> = BTreeMap::new();
        for e in &events {
            match (e.kind, e.channel) {
                (TraceKind::StormEmit, replay) => {
                    last_emit.insert(e.subtask(), (e.a, e.b, e.time_ns, replay == 1));
                }
                // The spout records its emit, then the init for the same tuple.
                (TraceKind::StormAckerMessage, 0) => {
                    if let Some((partition, offset, t, replay)) = last_emit.remove(&e.subtask()) {
                        if t == e.time_ns {
                            tuples.push(SpoutTuple {
                                root: e.a as u64,
                                spout: e.subtask(),
                                partition,
                                offset,
                                emitted_ns: t,
                                replay,
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        StormSession { scenario, seed, run, events, end_ns, cursor_ns: 0, selected: None, tuples }
    }

    pub fn set_cursor(&mut self, ns: TimeNs) {
        self.cursor_ns = ns.min(self.end_ns);
    }

    /// Select the next (or previous) spout tuple emitted at or before the cursor, from the
    /// current selection.
    pub fn step_tuple(&mut self, forward: bool) {
        let visible = self.tuples.partition_point(|t| t.emitted_ns <= self.cursor_ns);
        if visible == 0 {
            self.selected = None;
            return;
        }
        self.selected = Some(match (self.selected, forward) {
            (None, _) => 0,
            (Some(i), true) => (i + 1).min(visible - 1),
            (Some(i), false) => i.saturating_sub(1),
        });
    }

    /// Select the first tuple after the current selection whose tree timed out (or failed), and
    /// move the cursor to the end of the run so its fate shows.
    pub fn next_troubled_tuple(&mut self) -> bool {
        let from = self.selected.map_or(0, |i| i + 1);
        for i in from..self.tuples.len() {
            let tree = self.tree_at(i, self.end_ns);
            if matches!(tree.status, TreeStatus::TimedOut | TreeStatus::Failed) {
                self.selected = Some(i);
                self.cursor_ns = self.end_ns;
                return true;
            }
        }
        false
    }

    /// Times of timeouts (red on the timeline) and crashes (black), over the whole run.
    pub fn markers(&self) -> (Vec<TimeNs>, Vec<TimeNs>) {
        let timeouts = self.events.iter().filter(|e| e.kind == TraceKind::StormTimeout).map(|e| e.time_ns).collect();
        let crashes = self.events.iter().filter(|e| e.kind == TraceKind::NodeCrashed).map(|e| e.time_ns).collect();
        (timeouts, crashes)
    }

    /// The tree of tuple `i` as the acker saw it up to `at`.
    pub fn tree_at(&self, i: usize, at: TimeNs) -> TupleTree {
        let tuple = self.tuples[i];
        let mut steps = Vec::new();
        let mut ack_value = 0u64;
        let mut status = TreeStatus::Pending;
        let start = self.events.partition_point(|e| e.time_ns < tuple.emitted_ns);
        for e in self.events[start..].iter().take_while(|e| e.time_ns <= at) {
            let root_matches = e.a as u64 == tuple.root;
            match e.kind {
                TraceKind::StormAckerMessage if root_matches => {
                    let value = e.b as u64;
                    let what = match e.channel {
                        0 => "init",
                        1 => "ack",
                        _ => "fail",
                    };
                    ack_value ^= if e.channel <= 1 { value } else { 0 };
                    steps.push(TreeStep {
                        time_ns: e.time_ns,
                        executor: executor_name(&self.scenario, e.subtask()),
                        what,
                        value,
                        ack_value,
                    });
                }
                TraceKind::StormTreeComplete if root_matches => {
                    status = if e.channel == 0 { TreeStatus::Complete } else { TreeStatus::Failed };
                    break;
                }
                TraceKind::StormTimeout
                    if e.channel == 0
                        && e.subtask() == tuple.spout
                        && (e.a, e.b) == (tuple.partition, tuple.offset) =>
                {
                    status = TreeStatus::TimedOut;
                    break;
                }
                _ => {}
            }
        }
        TupleTree { tuple, steps, status }
    }

    /// The view at the cursor.
    pub fn frame(&self) -> StormFrame {
        let at = self.cursor_ns;
        let scenario = &self.scenario;
        let plan = &scenario.plan;
        let upto = self.events.partition_point(|e| e.time_ns <= at);
        let events = &self.events[..upto];
        let mut acked_by_task: BTreeMap<u32, u64> = BTreeMap::new();
        let (mut emitted, mut replayed, mut timed_out, mut completed, mut failed, mut fails, mut acker_messages) =
            (0, 0, 0, 0, 0, 0, 0);
        let mut spout_of_root: BTreeMap<u64, u32> = BTreeMap::new();
        let mut pending: BTreeMap<u32, i64> = BTreeMap::new();
        for e in events {
            match e.kind {
                TraceKind::StormEmit => {
                    emitted += 1;
                    replayed += (e.channel == 1) as u64;
                }
                TraceKind::StormAckerMessage => {
                    acker_messages += 1;
                    if e.channel == 0 {
                        spout_of_root.insert(e.a as u64, e.subtask());
                        *pending.entry(e.subtask()).or_insert(0) += 1;
                    } else {
                        *acked_by_task.entry(e.subtask()).or_insert(0) += 1;
                        fails += (e.channel == 2) as u64;
                    }
                }
                TraceKind::StormTreeComplete => {
                    if e.channel == 0 {
                        completed += 1;
                    } else {
                        failed += 1;
                    }
                    if let Some(s) = spout_of_root.remove(&(e.a as u64)) {
                        *pending.entry(s).or_insert(0) -= 1;
                    }
                }
                TraceKind::StormTimeout if e.channel == 0 => {
                    timed_out += 1;
                    *pending.entry(e.subtask()).or_insert(0) -= 1;
                }
                // A spout that dies forgets its pending tuples (its restart re-reads from the
                // committed offsets, as new tuples).
                TraceKind::NodeCrashed => {
                    for spout in plan.source_subtasks().filter(|&s| scenario.node_of_subtask(s) == e.subtask() as usize)
                    {
                        pending.insert(spout as u32, 0);
                        spout_of_root.retain(|_, s| *s != spout as u32);
                    }
                }
                _ => {}
            }
        }
        let mut components: Vec<Component> = plan
            .operators
            .iter()
            .map(|op| {
                let kind = match op.kind {
                    engine::graph::OperatorKind::Source(_) => "spout",
                    engine::graph::OperatorKind::Window(_) => "windowed bolt",
                    engine::graph::OperatorKind::Sink(_) => "sink bolt",
                    _ => "bolt",
                };
                let acked = plan
                    .subtasks
                    .iter()
                    .filter(|s| plan.operators[s.operator].name == op.name)
                    .map(|s| acked_by_task.get(&(s.id as u32)).copied().unwrap_or(0))
                    .sum();
                Component { name: op.name.clone(), kind, tasks: op.parallelism, acked }
            })
            .collect();
        let ackers = self.run.world.config.ackers;
        components.push(Component {
            name: "__acker".to_string(),
            kind: "acker",
            tasks: ackers,
            acked: completed + failed,
        });
        let pending = plan
            .source_subtasks()
            .map(|s| {
                let n = pending.get(&(s as u32)).copied().unwrap_or(0).max(0) as u64;
                (plan.subtasks[s].name.clone(), n)
            })
            .collect();
        let tree = self.selected.filter(|&i| i < self.tuples.len()).map(|i| self.tree_at(i, at));
        StormFrame {
            components,
            pending,
            emitted,
            replayed,
            timed_out,
            trees_completed: completed,
            trees_failed: failed,
            fails,
            acker_messages,
            tree,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(file: &str) -> StormSession {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(file);
        let scenario = Arc::new(Scenario::load(&path).expect("shipped scenario loads"));
        StormSession::record(scenario, 42)
    }

    #[test]
    fn at_the_end_every_tree_completed_and_nothing_is_pending() {
        let mut s = session("storm-word-count.ron");
        s.set_cursor(u64::MAX);
        let f = s.frame();
        let stats = s.run.world.stats;
        assert_eq!(f.emitted, stats.spout_emitted);
        // Trees that completed while their spout was dead (tm-1 at 12 s) never reached it.
        assert!(f.trees_completed >= stats.acked && f.trees_completed < stats.acked + 1_000, "{f:?}");
        assert_eq!(f.pending, vec![("words[0]".to_string(), 0)]);
        assert_eq!(f.components.last().map(|c| c.name.as_str()), Some("__acker"));
        s.set_cursor(5_000_000_000);
        assert!(s.frame().pending[0].1 > 100, "the counting bolts hold a window's tuples un-acked");
    }

    #[test]
    fn a_tree_grows_and_its_ack_value_goes_to_zero() {
        let mut s = session("storm-word-count.ron");
        s.set_cursor(s.end_ns);
        s.step_tuple(true);
        let tree = s.frame().tree.expect("a tuple is selected");
        assert_eq!(tree.status, TreeStatus::Complete);
        assert_eq!(tree.steps.first().map(|st| st.what), Some("init"));
        assert_eq!(tree.steps.last().map(|st| st.ack_value), Some(0), "{tree:?}");
        assert!(tree.steps.iter().rev().skip(1).all(|st| st.ack_value != 0), "zero only at the end: {tree:?}");
        // Before its last ack the same tree is pending with a non-zero value.
        let last = tree.steps.last().map_or(0, |st| st.time_ns);
        s.set_cursor(last - 1);
        let earlier = s.frame().tree.expect("still selected");
        assert_eq!(earlier.status, TreeStatus::Pending);
        assert!(earlier.steps.len() < tree.steps.len());
    }

    #[test]
    fn the_timeout_storm_shows_timed_out_trees_and_markers() {
        let mut s = session("storm-timeout-storm.ron");
        assert!(s.next_troubled_tuple(), "some tuple timed out");
        let f = s.frame();
        assert_eq!(f.tree.map(|t| t.status), Some(TreeStatus::TimedOut));
        assert_eq!(f.timed_out, s.run.world.stats.timeouts);
        assert_eq!(s.markers().0.len() as u64, s.run.world.stats.timeouts);
        assert!(f.replayed > 0);
    }
}
