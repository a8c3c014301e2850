//! The Spark query itself, apart from any world: the driver's micro-batch loop (trigger, offset
//! log, stages of tasks, commit log), the executors' tasks, the checkpoint location (offset log,
//! commit log, versioned state store per shuffle partition), the sink store and the recorder —
//! and every decision of the runtime (what a batch reads, which tasks re-run after an executor
//! loss, what a restarted query resumes from).
//!
//! [`SparkCore`] does no IO and keeps no clock: a world calls it with the current virtual time
//! ([`SparkCore::deliver`], [`SparkCore::fire`], [`SparkCore::crash_node`],
//! [`SparkCore::node_back`]) and drains what it wants done ([`SparkCore::drain`]): messages
//! between the driver (on `jm`) and the executors (one per task manager, `slots_per_task_manager`
//! task slots each) and timers. The kernel's [`super::world::SparkWorld`] drives it; the rules of
//! one batch are the pure functions of [`batch`].
//!
//! A batch with an aggregation is two stages: map tasks (one per source partition: read the
//! planned offset range, maps, filters, key) and reduce tasks (one per shuffle partition, the
//! window operator's parallelism: the aggregation against the state store, the sink writes).
//! Without an aggregation the map tasks write the sink.

pub mod batch;
mod driver;
mod tasks;
pub mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use engine::graph::{OperatorKind, SubtaskId};
use engine::partition::{KeyHashCodes, Partitioning};
use engine::sink::SinkKind;
use engine::transform::KeySelector;
use engine::SourceRef;

use crate::external::{SinkStore, SourceLog};
use crate::faults::Fault;
use crate::kernel::{SimRng, Stream, TimeNs};
use crate::recording::Recorder;
use crate::scenario::{NodeId, Scenario, SparkConfig, Watermarks};

use batch::{PartitionState, RowStep, WindowRule};
pub use driver::{BatchInfo, CommitEntry, OffsetEntry};
pub use tasks::{Msg, TaskRef};
pub use watch::{BatchMoments, SparkWatch, TaskAttempt, TaskEnd};

/// What the core wants done.
#[derive(Clone, Debug)]
pub enum Out {
    /// A message from one node to another (the driver is on `jm`).
    Send {
        from: NodeId,
        to: NodeId,
        msg: Msg,
    },
    Timer {
        at: TimeNs,
        timer: Timer,
    },
}

/// Timers the core sets; every one names the query run it belongs to (a restart makes the
/// older ones stale).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The driver's trigger: plan the next batch.
    Trigger { run: u32 },
    /// The write of `offsets/{batch}` finished: run it.
    OffsetsWritten { run: u32, batch: u64 },
    /// The write of `commits/{batch}` finished: the batch is done.
    CommitWritten { run: u32, batch: u64 },
    /// Task `uid` finishes on its executor.
    TaskEnd { uid: u64 },
}

/// The numbers `run` and `compare` show for a Spark run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SparkStats {
    /// Batches committed (re-runs and no-data batches included).
    pub batches: u64,
    /// Batches re-run after a restart (in the offset log without a commit).
    pub reruns: u64,
    pub no_data_batches: u64,
    pub tasks_launched: u64,
    /// Tasks launched again after their executor was lost.
    pub task_retries: u64,
    /// Map tasks re-run because their shuffle output was lost with an executor (lineage).
    pub map_recomputes: u64,
    /// (key, window) groups dropped as late, per batch and partition (`numRowsDroppedByWatermark`).
    pub dropped_groups: u64,
    /// Source records in dropped groups.
    pub late_dropped: u64,
    pub driver_restarts: u64,
    pub executor_losses: u64,
    /// Sink writes of a batch a transactional sink had already committed (skipped).
    pub skipped_sink_batches: u64,
    /// Records a restarted query without a checkpoint location skipped by starting from the
    /// latest offsets.
    pub skipped_at_restart: u64,
    /// Records read by map tasks (re-reads included).
    pub records_read: u64,
    /// The longest a batch started after its trigger time (a batch that outlasts the interval
    /// delays the next).
    pub scheduling_delay_max_ns: u64,
}

/// The query's shape, compiled from the plan once.
#[derive(Clone, Debug)]
pub struct Query {
    pub steps: Vec<RowStep>,
    pub key_by: KeySelector,
    /// `hashCode()` of every key's name, for the shuffle's `HashPartitioner` (shared by clones).
    pub key_hash_codes: Arc<KeyHashCodes>,
    /// The aggregation and its shuffle partitions (None: a query without state).
    pub window: Option<(WindowRule, u32)>,
    /// The sinks: (operator, kind, the subtask rows are written as).
    pub sinks: Vec<(usize, SinkKind, SubtaskId)>,
    /// `withWatermark`'s delay.
    pub delay_ms: i64,
    /// Processing cost of one record in a map task, and in a reduce task, in ns.
    pub map_cost_ns: u64,
    pub reduce_cost_ns: u64,
}

impl Query {
    fn of(scenario: &Scenario) -> Query {
        let plan = &scenario.plan;
        let mut query = Query {
            steps: Vec::new(),
            key_by: KeySelector::Key,
            key_hash_codes: Arc::new(KeyHashCodes::of_names(scenario.key_names.iter().map(String::as_str))),
            window: None,
            sinks: Vec::new(),
            delay_ms: match scenario.watermarks {
                Watermarks::BoundedOutOfOrderness { bound_ms, .. } => bound_ms,
                _ => 0,
            },
            map_cost_ns: 0,
            reduce_cost_ns: 0,
        };
        let mut after_window = false;
        for (op, o) in plan.operators.iter().enumerate() {
            let cost = scenario.record_cost_ns[op];
            match &o.kind {
                OperatorKind::Map(f) => query.steps.push(RowStep::Map(f.clone())),
                OperatorKind::Filter(f) => query.steps.push(RowStep::Filter(f.clone())),
                OperatorKind::Window(spec) => {
                    let rule = WindowRule {
                        kind: spec.kind.clone(),
                        aggregate: spec.aggregate,
                        track_lineage: spec.track_lineage,
                    };
                    query.window = Some((rule, o.parallelism));
                    query.key_by = key_into(scenario, op);
                    after_window = true;
                }
                OperatorKind::Sink(kind) => query.sinks.push((op, *kind, o.first_subtask)),
                OperatorKind::Source(_) | OperatorKind::Union => {}
            }
            if after_window {
                query.reduce_cost_ns += cost;
            } else {
                query.map_cost_ns += cost;
            }
        }
        query
    }

    fn shuffle_partitions(&self) -> u32 {
        self.window.as_ref().map_or(1, |(_, n)| *n)
    }
}

/// The key selector of the edge into operator `op` (a key-by); the record's key otherwise.
fn key_into(scenario: &Scenario, op: usize) -> KeySelector {
    let plan = &scenario.plan;
    let first = plan.operators[op].first_subtask;
    plan.subtask(first)
        .inputs
        .first()
        .and_then(|&c| {
            let from = plan.subtask(plan.channel(c).from);
            from.outputs.iter().find(|g| g.channels.contains(&c)).map(|g| g.partitioning)
        })
        .and_then(|p| match p {
            Partitioning::Hash(sel) => Some(sel),
            _ => None,
        })
        .unwrap_or(KeySelector::Key)
}

/// A task manager as Spark sees it: an executor with task slots.
#[derive(Clone, Debug)]
struct Executor {
    alive: bool,
    /// Bumped on every loss: a task of an earlier incarnation is gone.
    incarnation: u32,
    free_slots: u32,
}

#[derive(Clone)]
pub struct SparkCore {
    pub scenario: Arc<Scenario>,
    pub config: SparkConfig,
    pub query: Query,
    pub log: Arc<SourceLog>,
    pub sink_store: SinkStore,
    pub recorder: Recorder,
    /// The run's faults (the world injects them by index).
    pub faults: Vec<Fault>,
    /// Those the network rules read (a slow node's factor applies to task costs).
    pub network_faults: crate::network::NetworkFaults,
    /// The checkpoint location: `offsets/N`, written before batch N runs.
    pub offset_log: BTreeMap<u64, OffsetEntry>,
    /// The checkpoint location: `commits/N`, written after batch N's sink finished.
    pub commit_log: BTreeMap<u64, CommitEntry>,
    /// The state store per shuffle partition: the version each batch wrote.
    state_store: Vec<BTreeMap<u64, PartitionState>>,
    /// A transactional sink's manifest (the file sink's `_spark_metadata`): the batches it
    /// committed, per sink operator. It lives with the output, not in the checkpoint location.
    manifest: BTreeSet<(usize, u64)>,
    executors: Vec<Executor>,
    driver: Option<driver::Driver>,
    /// The query run (0 first; each driver restart starts the next).
    pub run: u32,
    tasks: tasks::Tasks,
    /// Every batch started, in order (re-runs too).
    pub batches: Vec<BatchInfo>,
    pub stats: SparkStats,
    /// Source records a reduce task dropped as late (any run): see `sim::oracle::Observed`.
    pub late_sources: BTreeSet<SourceRef>,
    pub finished_at_ns: Option<TimeNs>,
    /// What a watcher sees beyond the trace (each batch's moments, every task attempt): kept
    /// when the trace is, never read by the core (`watch`).
    pub watch: Option<SparkWatch>,
    out: Vec<Out>,
}

impl SparkCore {
    /// The query of `scenario` for `seed`; [`SparkCore::start`] starts it.
    pub fn new(scenario: Arc<Scenario>, seed: u64, keep_trace: bool, faults: Vec<Fault>) -> SparkCore {
        let config = scenario.model.spark().cloned().unwrap_or_default();
        let mut gen_rng = SimRng::for_stream(seed, Stream::Generator);
        let log = Arc::new(SourceLog::build(&scenario.log, scenario.partitions, scenario.duration_ms, &mut gen_rng));
        let query = Query::of(&scenario);
        let executors = (0..scenario.task_managers)
            .map(|_| Executor { alive: true, incarnation: 0, free_slots: scenario.slots_per_task_manager })
            .collect();
        SparkCore {
            state_store: vec![BTreeMap::new(); query.shuffle_partitions() as usize],
            network_faults: crate::network::NetworkFaults::of(&faults),
            faults,
            config,
            query,
            log,
            sink_store: SinkStore::default(),
            recorder: Recorder::new(keep_trace),
            offset_log: BTreeMap::new(),
            commit_log: BTreeMap::new(),
            manifest: BTreeSet::new(),
            executors,
            driver: None,
            run: 0,
            tasks: tasks::Tasks::default(),
            batches: Vec::new(),
            stats: SparkStats::default(),
            late_sources: BTreeSet::new(),
            finished_at_ns: None,
            watch: keep_trace.then(SparkWatch::default),
            out: Vec::new(),
            scenario,
        }
    }

    /// Start the query at time 0: the driver's first trigger fires at once.
    pub fn start(&mut self) {
        self.driver = Some(driver::Driver::fresh(self.scenario.partitions as usize));
        self.out.push(Out::Timer { at: 0, timer: Timer::Trigger { run: self.run } });
    }

    /// Take what the core wants done, in the order it decided it.
    pub fn drain(&mut self, into: &mut Vec<Out>) {
        into.append(&mut self.out);
    }

    /// A timer set through [`Out::Timer`] is due.
    pub fn fire(&mut self, timer: Timer, now: TimeNs) {
        match timer {
            Timer::Trigger { run } if run == self.run => self.trigger(now),
            Timer::OffsetsWritten { run, batch } if run == self.run => self.offsets_written(batch, now),
            Timer::CommitWritten { run, batch } if run == self.run => self.commit_written(batch, now),
            Timer::TaskEnd { uid } => self.task_end(uid, now),
            _ => {} // a timer of an earlier query run
        }
    }

    /// A message arrives at `to`.
    pub fn deliver(&mut self, to: NodeId, msg: Msg, now: TimeNs) {
        match msg {
            Msg::Launch { .. } => self.executor_launch(to, msg, now),
            Msg::Done { .. } | Msg::FetchFailed { .. } => self.driver_task_report(msg, now),
        }
    }

    /// Is `node` alive (the driver's node: is the driver running)?
    pub fn node_alive(&self, node: NodeId) -> bool {
        match node.task_manager_index() {
            None => self.driver.is_some(),
            Some(i) => self.executors.get(i as usize).is_some_and(|e| e.alive),
        }
    }

    /// Is a batch running now (planned and not yet committed)?
    pub fn batch_running(&self) -> bool {
        self.driver.as_ref().is_some_and(|d| d.running.is_some())
    }

    /// Open groups held in the state stores' latest versions (windows append mode has not emitted).
    pub fn open_groups(&self) -> usize {
        self.state_store.iter().filter_map(|v| v.values().next_back()).map(|s| s.groups.len()).sum()
    }
}
