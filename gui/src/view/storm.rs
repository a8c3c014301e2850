//! The Storm view: a Storm run recorded once (its full trace), and what the workbench shows of
//! it at a cursor time — the topology with the acker as a node, per-executor ack traffic,
//! pending tuples per spout, emitted / replayed / timed-out / failed counts, the timeline's
//! timeouts and crashes, and for a selected spout tuple its tuple tree: the init, every ack (or
//! fail) with the ack value after it, going to zero when the tree completes (or timing out).
//!
//! Everything is read off the trace the Storm core recorded (`sim::storm::core`): the view
//! never re-implements the protocol. Plain data, tested without egui.

use sim::stepped::SteppedWorld;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use engine::graph::SubtaskId;
use engine::SourceRef;
use sim::external::StoredRow;
use sim::kernel::TimeNs;
use sim::oracle::Seen;
use sim::recording::{AckerMessage, Payload, TimedOut, TraceEvent, TraceKind};
use sim::scenario::{Guarantee, NodeId};
use sim::storm::{executor_of, subtask_of_executor, StormRun};
use sim::Scenario;

use crate::app::{FaultRequest, ScenarioSource};
use crate::view::ledger::{record_steps, record_text, Ledger, LedgerFilter, Provenance, RowRecords, Status, Step};
use crate::view::time_text;

/// One spout tuple the trace knows: its root id, spout executor, source record, emit time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpoutTuple {
    pub root: u64,
    pub spout: u32,
    pub partition: u32,
    pub offset: u64,
    pub emitted_ns: TimeNs,
    pub replay: bool,
}

/// Where a Storm run comes from: the scenario as loaded, its file, the guarantee chosen in the
/// workbench (None: as written), and the faults clicked in it (each at the cursor's time then).
#[derive(Clone, Debug)]
pub struct StormOrigin {
    pub base: Arc<Scenario>,
    pub source: ScenarioSource,
    pub guarantee: Option<Guarantee>,
    /// Faults added to the file's, in the order clicked: (when, what).
    pub injected: Vec<(TimeNs, FaultRequest)>,
}

impl StormOrigin {
    /// The loaded topology as written, with no clicked faults.
    pub fn new(base: Arc<Scenario>, source: ScenarioSource, guarantee: Option<Guarantee>) -> StormOrigin {
        StormOrigin { base, source, guarantee, injected: Vec::new() }
    }

    /// What runs: the loaded topology under the chosen guarantee (acker and Trident settings
    /// from `Scenario::with_runtime_variant`), with the clicked faults after the file's.
    ///
    /// A Storm run is recorded again from the start rather than forked like a Flink run: the
    /// simulation is deterministic, so up to the first clicked fault it is the same run.
    pub fn scenario(&self) -> Arc<Scenario> {
        let mut scenario = match self.guarantee {
            None => (*self.base).clone(),
            Some(g) => self.base.with_runtime_variant(sim::scenario::Runtime::Storm, g, None),
        };
        crate::view::add_clicked_faults(
            &mut scenario,
            self.injected.iter().map(|&(at_ns, request)| request.fault(at_ns)),
        );
        Arc::new(scenario)
    }

    /// Each guarantee Storm offers (acking off, acking, Trident for a windowed topology) on the
    /// same seed and faults — the file's and the clicked ones — each judged against the same
    /// fault-free reference: `streamlab compare --model storm`'s rows, for the Faults tab.
    pub fn compare(&self, seed: u64) -> Vec<sim::run::VariantReport> {
        let scenario = StormOrigin { guarantee: None, ..self.clone() }.scenario();
        let faults = sim::run::fault_schedule_in_time(&scenario, seed);
        sim::runtime::compare_models(&scenario, seed, &[sim::scenario::Runtime::Storm], &faults)
    }

    /// The clicked faults in words ("crash tm-0 at 3.000 s, back after 2 s, then ...").
    pub fn injected_text(&self) -> Option<String> {
        let faults: Vec<_> = self.injected.iter().map(|&(at_ns, request)| request.fault(at_ns)).collect();
        crate::view::faults_text(&self.base, &faults)
    }
}

/// A recorded Storm run and the workbench's cursor and selection over it.
pub struct StormSession {
    pub origin: StormOrigin,
    /// The oracle's verdict on this run against the topology's fault-free run, one line (the
    /// Spark and Kafka Streams views show theirs the same way).
    pub verdict: String,
    /// Was the promise (or the scenario's declared outcome) kept?
    pub kept: bool,
    /// Under the verdict: where records counted twice or lost are when no row shows them
    /// ([`sim::oracle::Outcome::records_inside_rows`]).
    pub notes: Vec<String>,
    /// The run's charts ([`crate::view::plots::storm`]), drawn by the Charts tab and exported.
    pub charts: Vec<crate::view::plots::Chart>,
    /// The guarantees compared on this run's seed and faults ([`StormOrigin::compare`]).
    pub comparison: Option<Vec<sim::run::VariantReport>>,
    /// A comparison under way off the UI thread.
    pub comparing: Option<std::sync::mpsc::Receiver<Vec<sim::run::VariantReport>>>,
    /// What ran ([`StormOrigin::scenario`]).
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
    /// Every spout emission of each source record, in time order (acking on or off).
    pub emits: BTreeMap<SourceRef, Vec<Emit>>,
    /// Trident: when each txid's batch began (its first emission, then its replays).
    pub batches: BTreeMap<u64, Vec<TimeNs>>,
    /// The sink output against the Storm topology without faults (`sim::run::storm_reference_run`).
    pub ledger: Ledger,
    pub filter: LedgerFilter,
    /// The selected outcome line and its chain.
    pub provenance: Option<(usize, Option<Provenance>)>,
    pub tab: StormTab,
}

/// What the Storm view shows: the topology and its tuple trees, the outcome table, or saving
/// and exporting the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StormTab {
    Topology,
    Outcome,
    /// Inject a fault at the cursor (the topology is recorded again with it).
    Faults,
    /// What the topology did each second, and the pending tuples over time.
    Charts,
    Save,
}

/// One spout emission of a source record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Emit {
    pub time_ns: TimeNs,
    pub spout: u32,
    /// A replay after a fail or timeout (a re-read after a spout restart is not one).
    pub replay: bool,
    /// Its message id's root (acking on).
    pub root: Option<u64>,
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
    /// Records a restarted spout read again that it had emitted before it died
    /// ([`sim::storm::EmittedHigh`]).
    pub reread: u64,
    pub timed_out: u64,
    pub trees_completed: u64,
    pub trees_failed: u64,
    pub fails: u64,
    pub acker_messages: u64,
    /// Trident's batch counters (None: acking on or off, where the spout emits single tuples).
    pub trident: Option<TridentCounts>,
    pub tree: Option<TupleTree>,
}

/// What Trident did up to the cursor: it emits batches, not single tuples, so the tuple counters
/// stay at zero under it and these tell the story instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TridentCounts {
    /// Batches the coordinator began, replays included.
    pub batches_begun: u64,
    /// Of those, replays of a txid that had begun before.
    pub batches_replayed: u64,
    pub batches_timed_out: u64,
    /// Distinct txids some state task committed (each state task records its own commit).
    pub commits: u64,
    /// State updates a commit skipped because the key had already applied that txid (the
    /// transactional state's exactly-once rule at work).
    pub updates_skipped: u64,
}

/// Spout tuples pending per spout task — emitted with acking, their tree neither complete, failed
/// nor timed out — as the trace goes: the frame's counts and the pending chart both read it.
#[derive(Clone, Debug, Default)]
pub struct PendingTuples {
    per_spout: BTreeMap<u32, i64>,
    spout_of_root: BTreeMap<u64, u32>,
}

impl PendingTuples {
    /// Take `e` into account (events in trace order).
    pub fn apply(&mut self, scenario: &Scenario, e: &TraceEvent) {
        match e.payload() {
            Payload::StormAckerMessage { message: AckerMessage::Init, root, .. } => {
                self.spout_of_root.insert(root, e.executor());
                *self.per_spout.entry(e.executor()).or_insert(0) += 1;
            }
            Payload::StormTreeComplete { root, .. } => {
                if let Some(s) = self.spout_of_root.remove(&root) {
                    *self.per_spout.entry(s).or_insert(0) -= 1;
                }
            }
            Payload::StormTimeout(TimedOut::Tuple { .. }) => {
                *self.per_spout.entry(e.executor()).or_insert(0) -= 1;
            }
            // A spout that dies forgets its pending tuples (its restart re-reads from the
            // committed offsets, as new tuples).
            Payload::NodeCrashed { .. } => {
                let node = e.node();
                for spout in scenario.plan.source_subtasks().filter(|&s| scenario.node_of_subtask(s) == node) {
                    self.per_spout.insert(executor_number(spout), 0);
                    self.spout_of_root.retain(|_, s| *s != executor_number(spout));
                }
            }
            _ => {}
        }
    }

    /// Pending tuples of spout task `spout`.
    pub fn of(&self, spout: u32) -> u64 {
        self.per_spout.get(&spout).copied().unwrap_or(0).max(0) as u64
    }
}

/// The executor number plan subtask `s` runs as, as the trace keeps it ([`TraceEvent::executor`]).
pub(crate) fn executor_number(s: SubtaskId) -> u32 {
    // Executor numbers are below the trace's subtask limit (2^24): they fit.
    executor_of(s) as u32
}

fn executor_name(scenario: &Scenario, task: u32) -> String {
    let subtasks = scenario.plan.subtasks.len();
    match scenario.plan.subtasks.get(task as usize) {
        Some(s) => s.name.clone(),
        None => format!("__acker[{}]", task as usize - subtasks),
    }
}

impl StormSession {
    /// Run `origin`'s scenario (a Storm one) with `seed` to its end, keeping the trace.
    pub fn record(origin: StormOrigin, seed: u64) -> StormSession {
        let run = sim::storm::run_storm(origin.scenario(), seed, true);
        StormSession::from_run(origin, seed, run)
    }

    /// The session of a finished run (recorded with its trace kept, here or by
    /// `recording::StormRecorder` off the UI thread).
    pub fn from_run(origin: StormOrigin, seed: u64, mut run: sim::storm::StormRun) -> StormSession {
        let scenario = run.world.scenario.clone();
        let events = run.world.recorder.take_events();
        let end_ns = run.world.finished_at_ns.unwrap_or(run.world.now_ns());
        let mut tuples = Vec::new();
        let mut emits: BTreeMap<SourceRef, Vec<Emit>> = BTreeMap::new();
        let mut batches: BTreeMap<u64, Vec<TimeNs>> = BTreeMap::new();
        let mut last_emit: BTreeMap<u32, (SourceRef, TimeNs, bool)> = BTreeMap::new();
        for e in &events {
            match e.payload() {
                Payload::StormEmit { partition, offset, replay } => {
                    let source = SourceRef { partition, offset };
                    last_emit.insert(e.executor(), (source, e.time_ns, replay));
                    emits.entry(source).or_default().push(Emit {
                        time_ns: e.time_ns,
                        spout: e.executor(),
                        replay,
                        root: None,
                    });
                }
                Payload::TridentBatch { txid, .. } => batches.entry(txid).or_default().push(e.time_ns),
                // The spout records its emit, then the init for the same tuple.
                Payload::StormAckerMessage { message: AckerMessage::Init, root, .. } => {
                    if let Some((source, t, replay)) = last_emit.remove(&e.executor()) {
                        if t == e.time_ns {
                            if let Some(emit) = emits.get_mut(&source).and_then(|v| v.last_mut()) {
                                emit.root = Some(root);
                            }
                            tuples.push(SpoutTuple {
                                root,
                                spout: e.executor(),
                                partition: source.partition,
                                offset: source.offset,
                                emitted_ns: t,
                                replay,
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        // The oracle's reference: the same topology without faults and without acking.
        let reference = sim::run::storm_reference_run(&scenario, seed);
        let seen = Seen::of(&run.observed());
        let attempts =
            Attempts { emits: &emits, batches: &batches, trident: trident_batch_ns(&run), log: &run.world.log }
                .all(&seen.rows, &events);
        let ledger = Ledger::build_with(&scenario, Vec::new(), Seen::of(&reference.observed()), seen, &|i, _| {
            attempts.get(i).copied().unwrap_or(1)
        });
        let judgement = sim::run::core_model::judge(&scenario, seed, &run);
        StormSession {
            verdict: format!("oracle vs the fault-free run: {}", judgement.describe(scenario.guarantee)),
            kept: judgement.kept,
            notes: judgement.outcome.records_inside_rows(),
            charts: crate::view::plots::storm(&scenario, seed, &events, end_ns),
            origin,
            comparison: None,
            comparing: None,
            scenario,
            seed,
            run,
            events,
            end_ns,
            cursor_ns: 0,
            selected: None,
            tuples,
            emits,
            batches,
            ledger,
            filter: LedgerFilter::default(),
            provenance: None,
            tab: StormTab::Topology,
        }
    }

    /// Move the cursor to `ns` (a provenance step); a spout tuple emitted then is selected, so
    /// the topology tab shows its tree.
    pub fn seek(&mut self, ns: TimeNs) {
        self.set_cursor(ns);
        let i = self.tuples.partition_point(|t| t.emitted_ns < ns);
        if self.tuples.get(i).is_some_and(|t| t.emitted_ns == ns) {
            self.selected = Some(i);
        }
    }

    /// Select line `line` of the outcome table (None: unselect) and build its chain.
    pub fn select_line(&mut self, line: Option<usize>) {
        self.provenance = line.map(|l| (l, self.provenance_of(l)));
    }

    /// The trident batch length of this run (None: acking on or off, no Trident).
    pub fn trident_batch_ns(&self) -> Option<TimeNs> {
        trident_batch_ns(&self.run)
    }

    /// The Trident txid whose batch carries `s`: batches take the records that arrived in
    /// consecutive `batch_ns` stretches, txid 1 from time 0.
    pub fn txid_of(&self, s: SourceRef) -> Option<u64> {
        txid_of(&self.run.world.log, self.trident_batch_ns()?, s)
    }

    pub fn set_cursor(&mut self, ns: TimeNs) {
        self.cursor_ns = ns.min(self.end_ns);
    }

    /// Select the next (or previous) spout tuple from the current selection (none: the first).
    /// Going forward past the cursor moves the cursor to the tuple's emission, so that at the
    /// start of the run (nothing emitted yet) *Next tuple* finds the first one instead of
    /// selecting nothing.
    pub fn step_tuple(&mut self, forward: bool) {
        let next = match (self.selected, forward) {
            (None, _) => 0,
            (Some(i), true) => i + 1,
            (Some(i), false) => i.saturating_sub(1),
        };
        let Some(tuple) = self.tuples.get(next) else {
            return;
        };
        self.cursor_ns = self.cursor_ns.max(tuple.emitted_ns);
        self.selected = Some(next);
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

    /// Times of timeouts (red on the timeline) and crashes, over the whole run.
    pub fn markers(&self) -> (Vec<TimeNs>, Vec<TimeNs>) {
        let timeouts = self.events.iter().filter(|e| e.kind == TraceKind::StormTimeout).map(|e| e.time_ns).collect();
        let crashes = self.events.iter().filter(|e| e.kind == TraceKind::NodeCrashed).map(|e| e.time_ns).collect();
        (timeouts, crashes)
    }

    /// What the timeline strip says under the pointer at `at_ns`: the time, and the crashes and
    /// timeouts within `tolerance_ns` of it ("6.935 s — tm-0 crashed at 6.935 s (back after 2 s)"): the
    /// strip's marks are a pixel or two wide and carry no text of their own.
    pub fn strip_hover_text(&self, at_ns: TimeNs, tolerance_ns: TimeNs) -> String {
        let near = |e: &&TraceEvent| e.time_ns.abs_diff(at_ns) <= tolerance_ns;
        let mut said = Vec::new();
        let mut timeouts: Vec<TimeNs> = Vec::new();
        for e in self.events.iter().filter(near) {
            match e.payload() {
                Payload::NodeCrashed { back_after_ns } => said.push(format!(
                    "{} crashed at {} ({})",
                    e.node().name(),
                    time_text(&self.scenario, e.time_ns),
                    back_after_ns
                        .map_or("never back".to_string(), |d| format!("back after {}", crate::view::duration_text(d)))
                )),
                Payload::StormTimeout(_) => timeouts.push(e.time_ns),
                _ => {}
            }
        }
        if let (Some(first), Some(last)) = (timeouts.first(), timeouts.last()) {
            let what = crate::view::units::count_text(timeouts.len(), "tree", "trees");
            let when = match first == last {
                true => format!("at {}", time_text(&self.scenario, *first)),
                false => {
                    format!("from {} to {}", time_text(&self.scenario, *first), time_text(&self.scenario, *last))
                }
            };
            said.push(format!("{what} timed out {when}: the spout replays them"));
        }
        let mut text = time_text(&self.scenario, at_ns);
        for s in said {
            text.push_str(" — ");
            text.push_str(&s);
        }
        text
    }

    /// The tree of tuple `i` as the acker saw it up to `at`.
    pub fn tree_at(&self, i: usize, at: TimeNs) -> TupleTree {
        let tuple = self.tuples[i];
        let mut steps = Vec::new();
        let mut ack_value = 0u64;
        let mut status = TreeStatus::Pending;
        let start = self.events.partition_point(|e| e.time_ns < tuple.emitted_ns);
        let own_source = SourceRef { partition: tuple.partition, offset: tuple.offset };
        for e in self.events[start..].iter().take_while(|e| e.time_ns <= at) {
            match e.payload() {
                Payload::StormAckerMessage { message, root, value } if root == tuple.root => {
                    let what = match message {
                        AckerMessage::Init => "init",
                        AckerMessage::Ack => "ack",
                        AckerMessage::Fail => "fail",
                    };
                    ack_value ^= if message == AckerMessage::Fail { 0 } else { value };
                    steps.push(TreeStep {
                        time_ns: e.time_ns,
                        executor: executor_name(&self.scenario, e.executor()),
                        what,
                        value,
                        ack_value,
                    });
                }
                Payload::StormTreeComplete { root, failed } if root == tuple.root => {
                    status = if failed { TreeStatus::Failed } else { TreeStatus::Complete };
                    break;
                }
                Payload::StormTimeout(TimedOut::Tuple { partition, offset })
                    if e.executor() == tuple.spout && SourceRef { partition, offset } == own_source =>
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
        let mut pending = PendingTuples::default();
        let (mut emitted_high, mut reread) = (sim::storm::EmittedHigh::default(), 0);
        let mut trident = TridentCounts::default();
        let mut committed_txids = BTreeSet::new();
        for e in events {
            pending.apply(scenario, e);
            match e.payload() {
                Payload::TridentBatch { replay, .. } => {
                    trident.batches_begun += 1;
                    trident.batches_replayed += replay as u64;
                }
                Payload::TridentCommit { txid, skipped } => {
                    committed_txids.insert(txid);
                    trident.updates_skipped += skipped;
                }
                Payload::StormTimeout(TimedOut::Batch { .. }) => trident.batches_timed_out += 1,
                Payload::StormEmit { partition, offset, replay } => {
                    emitted += 1;
                    replayed += replay as u64;
                    reread += emitted_high.on_emit(partition, offset, replay) as u64;
                }
                Payload::StormAckerMessage { message, .. } => {
                    acker_messages += 1;
                    if message != AckerMessage::Init {
                        *acked_by_task.entry(e.executor()).or_insert(0) += 1;
                        fails += (message == AckerMessage::Fail) as u64;
                    }
                }
                Payload::StormTreeComplete { failed: tree_failed, .. } => {
                    if tree_failed {
                        failed += 1;
                    } else {
                        completed += 1;
                    }
                }
                Payload::StormTimeout(TimedOut::Tuple { .. }) => timed_out += 1,
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
                    .map(|s| acked_by_task.get(&executor_number(s.id)).copied().unwrap_or(0))
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
                let n = pending.of(executor_number(s));
                (plan.subtask(s).name.clone(), n)
            })
            .collect();
        let tree = self.selected.filter(|&i| i < self.tuples.len()).map(|i| self.tree_at(i, at));
        StormFrame {
            components,
            pending,
            emitted,
            replayed,
            reread,
            timed_out,
            trees_completed: completed,
            trees_failed: failed,
            fails,
            acker_messages,
            trident: self
                .trident_batch_ns()
                .map(|_| TridentCounts { commits: committed_txids.len() as u64, ..trident }),
            tree,
        }
    }
}

fn trident_batch_ns(run: &StormRun) -> Option<TimeNs> {
    run.world.config.trident.as_ref().map(|t| t.batch_ms.max(1) * 1_000_000)
}

fn txid_of(log: &sim::external::SourceLog, batch_ns: TimeNs, s: SourceRef) -> Option<u64> {
    let entry = log.partitions.get(s.partition as usize)?.get(s.offset as usize)?;
    Some(entry.append_ns / batch_ns.max(1) + 1)
}

/// The attempt column of a Storm run: which emission of its records made a row (1: the first,
/// 2: a replay or re-read, ...); under Trident, which attempt of their batch.
struct Attempts<'a> {
    emits: &'a BTreeMap<SourceRef, Vec<Emit>>,
    batches: &'a BTreeMap<u64, Vec<TimeNs>>,
    trident: Option<TimeNs>,
    log: &'a sim::external::SourceLog,
}

impl Attempts<'_> {
    /// Per row (in the order they became visible): for each record it holds, the emission whose
    /// tuple the sink bolt acked as it wrote the row (its root id); where no root says (a
    /// window's result), the emissions of that record before the row was written, but no more
    /// than the times the record reached the sink so far (a slow first attempt may be written
    /// after its replay was emitted).
    fn all(&self, rows: &[StoredRow], events: &[TraceEvent]) -> Vec<u32> {
        let mut reached: BTreeMap<SourceRef, u32> = BTreeMap::new();
        rows.iter()
            .map(|row| {
                let at = row.written_ns;
                // The roots the sink bolt acked when it wrote this row.
                let from = events.partition_point(|e| e.time_ns < at);
                let acked: Vec<u64> = events[from..]
                    .iter()
                    .take_while(|e| e.time_ns == at)
                    .filter(|e| e.executor() == executor_number(row.subtask))
                    .filter_map(|e| match e.payload() {
                        Payload::StormAckerMessage { message: AckerMessage::Ack, root, .. } => Some(root),
                        _ => None,
                    })
                    .collect();
                let by_root = |s: &SourceRef| {
                    let emits = self.emits.get(s)?;
                    emits.iter().position(|e| e.root.is_some_and(|r| acked.contains(&r))).map(|i| i as u32 + 1)
                };
                if self.trident.is_none() && row.row.lineage.len() == 1 {
                    if let Some(attempt) = row.row.lineage.first().and_then(by_root) {
                        return attempt;
                    }
                }
                let mut attempt = 1;
                for s in &row.row.lineage {
                    let so_far = reached.entry(*s).or_insert(0);
                    *so_far += 1;
                    let emitted = match self.trident {
                        Some(batch_ns) => txid_of(self.log, batch_ns, *s)
                            .and_then(|txid| self.batches.get(&txid))
                            .map_or(0, |b| b.iter().filter(|&&t| t <= at).count() as u32),
                        // Trident's state applies a txid once: what counts is the batch's attempt.
                        None => self
                            .emits
                            .get(s)
                            .map_or(0, |e| e.iter().filter(|e| e.time_ns <= at).count() as u32)
                            .min(*so_far),
                    };
                    attempt = attempt.max(emitted);
                }
                attempt
            })
            .collect()
    }
}

/// What ended one spout attempt at a record (before the next, or the run's end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cause {
    /// A bolt's `collector.fail` (its executor).
    BoltFail(u32),
    /// No ack within the message timeout.
    Timeout,
    /// A worker died (its node).
    Crash(u32),
}

impl StormSession {
    fn executor(&self, task: u32) -> String {
        executor_name(&self.scenario, task)
    }

    /// Why the attempt at `s` emitted at `emit` was followed by another: the bolt fail, the
    /// timeout or the crash between them (the first of them), with its time.
    fn cause(&self, s: SourceRef, emit: &Emit, until: TimeNs) -> Option<(TimeNs, Cause)> {
        let start = self.events.partition_point(|e| e.time_ns < emit.time_ns);
        let end = self.events.partition_point(|e| e.time_ns <= until);
        self.events[start..end.max(start)].iter().find_map(|e| {
            let cause = match e.payload() {
                Payload::StormAckerMessage { message: AckerMessage::Fail, root, .. } if Some(root) == emit.root => {
                    Cause::BoltFail(e.executor())
                }
                Payload::StormTimeout(TimedOut::Tuple { partition, offset })
                    if e.executor() == emit.spout && SourceRef { partition, offset } == s =>
                {
                    Cause::Timeout
                }
                Payload::NodeCrashed { .. } => Cause::Crash(e.node().get()),
                _ => return None,
            };
            Some((e.time_ns, cause))
        })
    }

    /// The chain of line `line` of the outcome table: the source records, the spout's message
    /// (root id) or Trident batch (txid), what failed it, the replay, and the emissions that
    /// reached the sink. Read off the trace.
    pub fn provenance_of(&self, line: usize) -> Option<Provenance> {
        let scenario = &self.scenario;
        let ledger = &self.ledger;
        let l = ledger.rows.get(line)?;
        let row = ledger.stored(line)?;
        let t = |ns: TimeNs| time_text(scenario, ns);
        let RowRecords { multiplicity, wanted, records, has_reference } = RowRecords::of(ledger, line)?;
        // When a record was first emitted (Trident: when its batch first began).
        let first_at = |s: &SourceRef| match self.trident_batch_ns() {
            Some(_) => self.txid_of(*s).and_then(|x| self.batches.get(&x)).and_then(|b| b.first()).copied(),
            None => self.emits.get(s).and_then(|e| e.first()).map(|e| e.time_ns),
        };
        let first = records
            .iter()
            .filter_map(|s| self.emits.get(s).and_then(|e| e.first()).map(|e| (e.time_ns, e.spout)))
            .min();
        let first_text = first.map_or_else(String::new, |(ns, spout)| {
            format!("; the first was emitted by {} at {}", self.executor(spout), t(ns))
        });
        let (mut steps, over, short) =
            record_steps(&records, &multiplicity, &wanted, has_reference, &first_text, &first_at);
        let mut causes = Vec::new();
        match self.trident_batch_ns() {
            None => {
                // The record that tells the story: emitted more than once, else counted twice
                // or not at all, else the first.
                let again = |s: &&SourceRef| self.emits.get(*s).is_some_and(|e| e.len() > 1);
                let focus = over
                    .iter()
                    .find(again)
                    .or(records.iter().find(again))
                    .or(over.first())
                    .or(short.first())
                    .or(records.first())
                    .copied();
                if let Some((s, emits)) = focus.and_then(|s| self.emits.get(&s).map(|e| (s, e))) {
                    self.message_steps(s, emits, &mut steps, &mut causes);
                }
            }
            Some(batch_ns) => {
                let txids: std::collections::BTreeSet<u64> =
                    records.iter().filter_map(|s| txid_of(&self.run.world.log, batch_ns, *s)).collect();
                let focus =
                    txids.iter().find(|x| self.batches.get(x).is_some_and(|b| b.len() > 1)).or(txids.first()).copied();
                if let Some(txid) = focus {
                    self.batch_steps(txid, batch_ns, txids.len(), &mut steps, &mut causes);
                }
            }
        }
        // The emissions that reached the sink: the first one a duplicate repeats, then this row.
        if let Some(first) = l.repeats.and_then(|f| ledger.rows.get(f)) {
            steps.push(Step {
                title: "First emission".into(),
                caption: format!(
                    "the same row reached the sink and was visible at {} (attempt {})",
                    t(first.visible_ns),
                    first.attempt_text()
                ),
                time_ns: Some(first.visible_ns),
            });
        }
        steps.push(l.emission_step(&self.executor(executor_number(row.subtask)), row.written_ns, &t));
        let acking = self.run.world.config.ackers > 0;
        let why = storm_why(l.status, self.trident_batch_ns().is_some(), acking, &causes, !over.is_empty());
        let headline = format!("{} · key {} · window {} · value {}", l.status.label(), l.key, l.window, l.value_text());
        Some(Provenance { headline, steps, why })
    }

    /// The spout's message for record `s`: each emission with its root id, what ended each
    /// attempt, and the replays.
    fn message_steps(&self, s: SourceRef, emits: &[Emit], steps: &mut Vec<Step>, causes: &mut Vec<Cause>) {
        let t = |ns: TimeNs| time_text(&self.scenario, ns);
        let root =
            |e: &Emit| e.root.map_or_else(|| "no message id (acking off)".to_string(), |r| format!("root {r:#018x}"));
        for (i, e) in emits.iter().enumerate() {
            if i == 0 {
                steps.push(Step {
                    title: "Spout message".into(),
                    caption: format!(
                        "{} emitted {} as a tuple with {} at {}",
                        self.executor(e.spout),
                        record_text(s),
                        root(e),
                        t(e.time_ns)
                    ),
                    time_ns: Some(e.time_ns),
                });
            } else {
                let what = if e.replay {
                    "replayed it (the same offset, a new tuple tree)"
                } else {
                    "read it again after its restart (from the lowest offset not yet acked)"
                };
                steps.push(Step {
                    title: if e.replay { "Replay".into() } else { "Re-read".into() },
                    caption: format!("{} {what}, {}, at {}", self.executor(e.spout), root(e), t(e.time_ns)),
                    time_ns: Some(e.time_ns),
                });
            }
            let until = emits.get(i + 1).map_or(self.end_ns, |n| n.time_ns);
            if i + 1 == emits.len() {
                break;
            }
            if let Some((ns, cause)) = self.cause(s, e, until) {
                causes.push(cause);
                let (title, caption) = match cause {
                    Cause::BoltFail(task) => (
                        "Bolt fail",
                        format!(
                            "{} called fail on the tuple: the acker failed its whole tree and told the spout",
                            self.executor(task)
                        ),
                    ),
                    Cause::Timeout => (
                        "Timeout",
                        format!(
                            "its tree did not complete within the message timeout ({}): the spout failed it",
                            crate::view::duration_ms_text(self.run.world.config.message_timeout_ms as i64)
                        ),
                    ),
                    Cause::Crash(node) => (
                        "Crash",
                        format!(
                            "{} crashed{}",
                            self.scenario.node_name(NodeId::from_raw(node)),
                            if self.spout_on(e.spout, node) {
                                ": the spout died with its pending tuples; restarted, it resumes from the lowest offset not yet acked"
                            } else {
                                ": the tuples its executors held never complete their trees"
                            }
                        ),
                    ),
                };
                steps.push(Step { title: title.into(), caption, time_ns: Some(ns) });
            }
        }
    }

    /// Trident: the batch that carried the records, what failed it, its replays with the same
    /// txid and its commits.
    fn batch_steps(&self, txid: u64, batch_ns: TimeNs, n: usize, steps: &mut Vec<Step>, causes: &mut Vec<Cause>) {
        let t = |ns: TimeNs| time_text(&self.scenario, ns);
        let begins = self.batches.get(&txid).cloned().unwrap_or_default();
        let from = (txid - 1) * batch_ns;
        steps.push(Step {
            title: "Batch".into(),
            caption: format!(
                "txid {txid}: the records that arrived in [{}, {}){}{}",
                t(from),
                t(from + batch_ns),
                begins.first().map_or_else(String::new, |b| format!(", begun at {}", t(*b))),
                if n > 1 { format!(" ({n} batches fed this row)") } else { String::new() }
            ),
            time_ns: begins.first().copied(),
        });
        for (i, &b) in begins.iter().enumerate().skip(1) {
            let prev = begins[i - 1];
            let failed = self.events[self.events.partition_point(|e| e.time_ns < prev)..]
                .iter()
                .take_while(|e| e.time_ns <= b)
                .find_map(|e| match e.payload() {
                    Payload::StormTimeout(TimedOut::Batch { txid: timed_out }) if timed_out == txid => {
                        Some((e.time_ns, Cause::Timeout))
                    }
                    Payload::NodeCrashed { .. } => Some((e.time_ns, Cause::Crash(e.executor()))),
                    _ => None,
                });
            if let Some((ns, cause)) = failed {
                causes.push(cause);
                let caption = match cause {
                    Cause::Crash(node) => format!(
                        "{} crashed: the batch's part on it is lost, its commit fails",
                        self.scenario.node_name(NodeId::from_raw(node))
                    ),
                    _ => "the batch outlived the message timeout and failed".to_string(),
                };
                steps.push(Step {
                    title: if matches!(cause, Cause::Timeout) { "Timeout".into() } else { "Crash".into() },
                    caption,
                    time_ns: Some(ns),
                });
            }
            steps.push(Step {
                title: "Replay".into(),
                caption: format!("the coordinator replayed batch txid {txid} with the same txid (attempt {})", i + 1),
                time_ns: Some(b),
            });
        }
        let commits = self.events.iter().filter_map(|e| match e.payload() {
            Payload::TridentCommit { txid: committed, skipped } if committed == txid => Some((e, skipped)),
            _ => None,
        });
        for (e, skipped) in commits {
            steps.push(Step {
                title: "Commit".into(),
                caption: format!(
                    "{} committed txid {txid}{}",
                    self.executor(e.executor()),
                    if skipped > 0 {
                        format!(": {skipped} updates skipped, the state had already applied this txid")
                    } else {
                        String::new()
                    }
                ),
                time_ns: Some(e.time_ns),
            });
        }
    }

    /// Does spout executor `spout` run on `node` (as placed at the start)?
    fn spout_on(&self, spout: u32, node: u32) -> bool {
        subtask_of_executor(&self.scenario.plan, spout as usize)
            .is_some_and(|s| self.scenario.node_of_subtask(s) == NodeId::from_raw(node))
    }
}

/// The explanation under a Storm chain: the mark, the runtime's mode and what failed the tuple.
fn storm_why(status: Status, trident: bool, acking: bool, causes: &[Cause], counted_twice: bool) -> String {
    let crash = causes.iter().any(|c| matches!(c, Cause::Crash(_)));
    let timeout = causes.contains(&Cause::Timeout);
    let fail = causes.iter().any(|c| matches!(c, Cause::BoltFail(_)));
    match status {
        Status::Exact if trident && !causes.is_empty() => "Trident replayed the batch with the same txid; the state skips updates it already applied for that txid, so the replay counted nothing twice.".into(),
        Status::Exact if fail => "A bolt failed the tuple before it did anything; the spout replayed it and a later attempt went through: the sink saw it once.".into(),
        Status::Exact => "This row is what the run without faults shows.".into(),
        Status::Duplicate | Status::Wrong if (counted_twice || status == Status::Duplicate) && timeout => "The tuple was processed, but its tree did not complete within the message timeout (slow, not lost): the spout replayed it and the bolts processed it again. Acking promises nothing lost, not nothing twice: a plain sink shows the result twice.".into(),
        Status::Duplicate | Status::Wrong if (counted_twice || status == Status::Duplicate) && crash => "The worker running the spout died with its pending tuples. Restarted, the spout resumed from the lowest offset not yet acked, re-reading records that bolts on the surviving worker had already counted: they count them again. Acking promises nothing lost, not nothing twice.".into(),
        Status::Duplicate | Status::Wrong if (counted_twice || status == Status::Duplicate) && fail => "A bolt failed the tuple after part of its tree had already been processed downstream; the spout replayed the whole message and that part was processed again.".into(),
        Status::Duplicate => "The same result reached the sink twice: the spout emitted its records again and the plain sink bolt appended the result again.".into(),
        Status::Wrong | Status::Missing if !acking && !trident => "With acking off nothing tracks a tuple: what the dead worker held (open windows, tuples in flight) is gone and the spout never sends it again.".into(),
        Status::Wrong => "Some records were counted more or fewer times than without faults.".into(),
        Status::Missing => "The result the run without faults shows never reached the sink here.".into(),
        Status::Unexpected if crash => "A bolt restarted with empty state, its watermark starting again from nothing: records re-read after the crash, of a window that had already fired (or that the run without faults dropped as late), were counted into a new firing of that window. The run without faults never shows this key and window with this value.".into(),
        Status::Unexpected => "The run without faults never shows this key and window with this value: the window's records were split between two firings.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(file: &str) -> StormSession {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(file);
        let base = Arc::new(Scenario::load(&path).expect("shipped scenario loads"));
        StormSession::record(StormOrigin::new(base, ScenarioSource::File(path), None), 42)
    }

    /// The strip's hover names the crash under the pointer, with its time and restart, and
    /// says only the time elsewhere; on the timeout scenario it counts the trees timed out.
    #[test]
    fn the_strip_says_what_its_marks_are() {
        let s = session("storm-word-count.ron");
        let (_, crashes) = s.markers();
        let crash = crashes[0];
        let text = s.strip_hover_text(crash + 1_000, 10_000_000);
        let at = time_text(&s.scenario, crash);
        assert!(text.contains(&format!("crashed at {at} (back after ")), "{text}");
        let away = s.strip_hover_text(crash + 2_000_000_000, 10_000_000);
        assert_eq!(away, time_text(&s.scenario, crash + 2_000_000_000));
        let t = session("storm-timeout-storm.ron");
        let (timeouts, _) = t.markers();
        let text = t.strip_hover_text(timeouts[0], 0);
        assert!(text.contains("timed out at") && text.contains("the spout replays them"), "{text}");
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

    /// At the start of the run nothing is emitted: *Next tuple* selects the first tuple and moves
    /// the cursor to its emission (it selected nothing), and goes on past the cursor from there.
    #[test]
    fn next_tuple_at_the_start_finds_the_first_tuple() {
        let mut s = session("storm-word-count.ron");
        s.set_cursor(0);
        s.step_tuple(true);
        assert_eq!(s.selected, Some(0));
        assert_eq!(s.cursor_ns, s.tuples[0].emitted_ns);
        assert!(s.frame().tree.is_some(), "its tree is shown");
        s.step_tuple(true);
        assert_eq!((s.selected, s.cursor_ns), (Some(1), s.tuples[1].emitted_ns));
        s.step_tuple(false);
        assert_eq!(s.selected, Some(0), "back: the cursor stays");
        assert_eq!(s.cursor_ns, s.tuples[1].emitted_ns);
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

    fn titles(p: &Provenance) -> Vec<&str> {
        p.steps.iter().map(|s| s.title.as_str()).collect()
    }

    fn at(p: &Provenance, title: &str) -> TimeNs {
        p.steps.iter().find(|s| s.title == title).and_then(|s| s.time_ns).unwrap_or_else(|| panic!("{title} in {p:?}"))
    }

    #[test]
    fn a_duplicate_after_a_timeout_shows_the_spout_message_its_timeout_and_replay() {
        let s = session("storm-timeout-storm.ron");
        // The counts are the oracle's (against the topology without faults nor acking).
        assert_eq!(s.ledger.count(Status::Duplicate), s.ledger.outcome.duplicate_rows.len());
        assert!(s.ledger.count(Status::Duplicate) > 0, "{}", s.ledger.counts_text());
        let mut filter = LedgerFilter::default();
        filter.only(Status::Duplicate);
        let dups = s.ledger.filtered(&filter);
        assert_eq!(dups.len(), s.ledger.count(Status::Duplicate));
        let d = &s.ledger.rows[dups[0]];
        let first = &s.ledger.rows[d.repeats.expect("a duplicate repeats a line")];
        assert_eq!((first.attempt, d.attempt), (Some(1), Some(2)), "the replay's row is the second attempt");
        let p = s.provenance_of(dups[0]).expect("a chain");
        for want in ["Source records", "Spout message", "Timeout", "Replay", "First emission", "Second emission"] {
            assert!(titles(&p).contains(&want), "{want} in {:?}", titles(&p));
        }
        assert!(at(&p, "Spout message") < at(&p, "Timeout") && at(&p, "Timeout") <= at(&p, "Replay"));
        assert!(at(&p, "Replay") <= at(&p, "Second emission") && at(&p, "First emission") <= at(&p, "Second emission"));
        assert!(p.steps.iter().any(|st| st.caption.contains("root 0x")), "the message id is named: {p:?}");
        assert!(p.why.contains("message timeout"), "{}", p.why);
    }

    #[test]
    fn an_over_counted_window_after_a_crash_shows_the_crash_and_the_re_read() {
        let s = session("storm-word-count.ron");
        let wrong = s.ledger.rows.iter().position(|l| l.status == Status::Wrong).expect("a wrong value");
        assert_eq!(s.ledger.rows[wrong].attempt, Some(2));
        let p = s.provenance_of(wrong).expect("a chain");
        for want in ["Counted twice", "Spout message", "Crash", "Re-read", "This row"] {
            assert!(titles(&p).contains(&want), "{want} in {:?}", titles(&p));
        }
        assert!(at(&p, "Spout message") < at(&p, "Crash") && at(&p, "Crash") < at(&p, "Re-read"));
        assert!(p.why.contains("spout died"), "{}", p.why);
        // The windows fired again by the bolt that restarted: their chain goes to the crash too.
        let unexpected = s.ledger.rows.iter().position(|l| l.status == Status::Unexpected).expect("an unexpected row");
        let p = s.provenance_of(unexpected).expect("a chain");
        assert!(titles(&p).contains(&"Crash") && p.why.contains("restarted with empty state"), "{p:?}");
    }

    #[test]
    fn trident_counts_batches_where_acking_counts_tuples() {
        let mut s = session("storm-trident.ron");
        s.set_cursor(TimeNs::MAX);
        let f = s.frame();
        let t = f.trident.expect("a Trident run has batch counters");
        assert_eq!(f.emitted, 0, "Trident emits batches, not single tuples");
        assert!(t.batches_begun > t.batches_replayed && t.batches_replayed > 0, "{t:?}");
        assert!(t.commits > 0 && t.commits <= t.batches_begun, "{t:?}");
        let txids: BTreeSet<u64> = s
            .events
            .iter()
            .filter_map(|e| match e.payload() {
                Payload::TridentCommit { txid, .. } => Some(txid),
                _ => None,
            })
            .collect();
        assert_eq!(t.commits, txids.len() as u64, "each state task records its own commit of a txid");

        let mut s = session("storm-word-count.ron");
        s.set_cursor(TimeNs::MAX);
        let f = s.frame();
        assert!(f.trident.is_none() && f.emitted > 0, "{f:?}");
    }

    #[test]
    fn a_bolt_fail_and_a_trident_replay_are_in_their_rows_chains() {
        let s = session("storm-bolt-fails.ron");
        let chains: Vec<Provenance> = (0..s.ledger.rows.len()).filter_map(|l| s.provenance_of(l)).collect();
        let failed = chains.iter().find(|p| titles(p).contains(&"Bolt fail")).expect("a row whose tuple a bolt failed");
        // Every row is exact; the replayed ones are found by their attempt.
        let later = LedgerFilter { later_attempts: true, ..LedgerFilter::default() };
        let replayed = s.ledger.filtered(&later);
        assert!(!replayed.is_empty() && replayed.len() < s.ledger.rows.len(), "{}", s.ledger.counts_text());
        let p = s.provenance_of(replayed[0]).expect("a chain");
        assert!(titles(&p).contains(&"Bolt fail") && titles(&p).contains(&"Replay"), "{p:?}");
        assert!(at(failed, "Bolt fail") <= at(failed, "Replay"), "{failed:?}");
        assert!(failed.why.contains("failed the tuple"), "{}", failed.why);

        let s = session("storm-trident.ron");
        assert_eq!(s.ledger.count(Status::Exact), s.ledger.rows.len(), "{}", s.ledger.counts_text());
        let replayed = (0..s.ledger.rows.len())
            .filter_map(|l| s.provenance_of(l))
            .find(|p| titles(p).contains(&"Replay"))
            .expect("a row whose batch was replayed");
        assert!(at(&replayed, "Batch") < at(&replayed, "Replay"), "{replayed:?}");
        assert!(titles(&replayed).contains(&"Commit") && replayed.why.contains("txid"), "{replayed:?}");
    }

    /// The verdict line is the shared judge's (`sim::run::core_model::judge`): acking off loses
    /// what the crash took, acking keeps nothing lost.
    #[test]
    fn the_verdict_says_what_the_guarantee_did() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/storm-word-count.ron");
        let base = Arc::new(Scenario::load(&path).expect("loads"));
        let acking = StormSession::record(StormOrigin::new(base.clone(), ScenarioSource::File(path.clone()), None), 42);
        let judgement = sim::run::core_model::judge(&acking.scenario, 42, &acking.run);
        assert_eq!(acking.kept, judgement.kept);
        assert!(acking.verdict.ends_with(&judgement.describe(acking.scenario.guarantee)), "{}", acking.verdict);
        assert_eq!(judgement.outcome.lost_records.len(), 0, "{}", acking.verdict);
        let off =
            StormSession::record(StormOrigin::new(base, ScenarioSource::File(path), Some(Guarantee::AtMostOnce)), 42);
        assert_ne!(off.verdict, acking.verdict);
        // Acking off loses records but no whole row: the view says where they went; with acking
        // nothing is lost and there is nothing to say.
        let lost = sim::run::core_model::judge(&off.scenario, 42, &off.run).outcome;
        assert!(!lost.lost_records.is_empty() && lost.missing_rows.is_empty(), "{}", off.verdict);
        assert!(off.notes.iter().any(|n| n.starts_with("No row is missing")), "{:?}", off.notes);
        assert!(acking.notes.iter().all(|n| !n.starts_with("No row is missing")), "{:?}", acking.notes);
    }
}
