//! The Kafka Streams application itself, apart from any world: its tasks, the topics they read
//! and write (the source log, the repartition topic, one changelog per stateful task, the output
//! topic as the sink store sees it), the transactions of exactly-once v2, the committed offsets
//! — and every decision of the runtime (what a record does, when a task commits, what a crash
//! loses, where a rebalance moves a task, what a restore replays and where a task resumes).
//!
//! [`KStreamsCore`] does no IO and keeps no clock: a world calls it with the current virtual
//! time ([`KStreamsCore::fire`], [`KStreamsCore::crash_instance`],
//! [`KStreamsCore::instance_back`]) and drains the timers it wants set ([`KStreamsCore::drain`]).
//! Two worlds can drive it: the kernel's [`super::world::KStreamsWorld`] and a madsim driver.
//!
//! Tasks (Kafka's `TaskId`, `subtopology_partition`): sub-topology 0 has one task per input
//! partition and runs the source and the maps and filters after it; with a window, the `KeyBy`
//! before it is a repartition topic (one partition per window subtask) and sub-topology 1 has
//! one task per repartition partition, running the window, what follows it and the sink.
//! Instances are the task managers (one stream thread each); task `i` of a sub-topology starts
//! on instance `i mod n`.

mod rule;
mod window;

pub use rule::{commit_visible, restored_entries, Change, ChangelogEntry, TxnState};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use engine::graph::{OperatorKind, SubtaskId};
use engine::message::Record;
use engine::ms_to_ns;
use engine::partition::kafka_default_partition;
use engine::sink::{SinkEffect, SinkKind, SinkRow, TxnId};
use engine::transform::{FilterFn, MapFn};
use engine::window::WindowSpec;
use engine::SourceRef;

use crate::external::{SinkStore, SourceLog};
use crate::faults::Fault;
use crate::kernel::{SimRng, Stream, TimeNs};
use crate::recording::{About, Payload, Recorder};
use crate::scenario::{KafkaStreamsConfig, NodeId, ProcessingGuarantee, Scenario, Watermarks};

use window::WindowStore;

/// A task: `subtopology_partition`, as Kafka Streams names it (`0_2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct TaskId {
    pub subtopology: u32,
    pub partition: u32,
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.subtopology, self.partition)
    }
}

/// Where a task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum TaskPhase {
    /// Processing records on its instance.
    Running,
    /// Replaying its changelog into its store on its (new) instance until `until_ns`.
    Restoring { until_ns: TimeNs },
    /// Its instance crashed: its in-memory state is gone; it waits for the rebalance that
    /// gives it to a live instance.
    Lost,
    /// It read all of its input and committed (the simulation's end of input: Kafka Streams
    /// has none, but the run must end and close the last windows).
    Done,
}

/// One operator applied inside a task, in pipeline order.
#[derive(Clone, Debug)]
enum Step {
    Map(MapFn),
    Filter(FilterFn),
}

/// What a task runs: its steps and what a record costs.
#[derive(Clone, Debug)]
struct SubTopology {
    steps: Vec<Step>,
    cost_ns: u64,
}

#[derive(Clone, Debug)]
pub struct Task {
    pub id: TaskId,
    /// The instance that owns it (its last owner while it is lost).
    pub instance: NodeId,
    pub phase: TaskPhase,
    /// Bumped on every assignment: timers of an older one are stale.
    pub generation: u32,
    /// The next input offset to read (in memory: lost with the instance).
    pub position: u64,
    /// The committed input offset (`__consumer_offsets`: survives crashes).
    pub committed: u64,
    /// The largest timestamp the task has seen (Kafka Streams' stream time; in memory).
    pub stream_time_ms: i64,
    /// Stream time as committed with the offset (the commit's metadata), what a restore
    /// resumes with.
    pub committed_stream_time_ms: i64,
    /// Records processed since the last commit: what at-least-once repeats after a crash.
    pub processed_since_commit: u64,
    /// Changelog records the last restore replayed.
    pub last_restore_records: u64,
    /// The windowed store (stateful tasks only).
    store: Option<WindowStore>,
    /// Instances holding a standby replica of this task, and from when each is caught up.
    pub standbys: Vec<(NodeId, TimeNs)>,
    run_pending: bool,
}

impl Task {
    pub fn is_stateful(&self) -> bool {
        self.store.is_some()
    }
    /// Open windows in its store (0 for a stateless task).
    pub fn open_windows(&self) -> usize {
        self.store.as_ref().map_or(0, WindowStore::len)
    }
}

/// An application instance (a task manager of the scenario), one stream thread.
#[derive(Clone, Debug)]
pub struct Instance {
    pub node: NodeId,
    pub alive: bool,
    /// Bumped on every crash: timers of an older incarnation are stale.
    pub incarnation: u32,
    busy_until_ns: TimeNs,
    /// Exactly-once v2: the thread's open transaction (one producer per thread).
    pub open_txn: Option<u32>,
    /// The group coordinator gave up on it (its session timed out) while it was down.
    session_expired: bool,
}

/// One record of the repartition topic.
#[derive(Clone, Debug)]
pub struct TopicRecord {
    pub record: Record,
    /// The transaction that wrote it (exactly-once v2).
    pub txn: Option<u32>,
}

/// Timers the core asks its world to set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Let task `task` process its next record.
    Run { task: u32, generation: u32 },
    /// The instance's commit interval elapsed.
    Commit { node: NodeId, incarnation: u32 },
    /// Task `task` finished replaying its changelog.
    Restored { task: u32, generation: u32 },
    /// The session of the instance that crashed in `incarnation` timed out: rebalance.
    SessionTimeout { node: NodeId, incarnation: u32 },
    /// The transaction coordinator aborts transaction `txn` (its producer crashed).
    AbortTxn { txn: u32 },
}

/// What the core asks its world to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    Timer { at: TimeNs, timer: Timer },
}

/// The numbers `run` and `compare` show for a Kafka Streams run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct KStreamsStats {
    /// Input records processed (source and repartition topics; repeats included).
    pub processed: u64,
    /// Records processed a second time after a crash: read again from the committed offset of
    /// the task's input, its source partition or its repartition partition (a re-read from the
    /// repartition topic is work done again too).
    pub reprocessed: u64,
    pub commits: u64,
    pub repartition_writes: u64,
    pub changelog_writes: u64,
    /// Changelog records replayed by restores.
    pub restored_records: u64,
    pub restores: u64,
    /// Restores served by a caught-up standby replica (nothing replayed).
    pub standby_takeovers: u64,
    /// Total time tasks spent restoring, in ns.
    pub restore_ns: u64,
    pub aborted_txns: u64,
    pub late_dropped: u64,
    pub instance_crashes: u64,
}

#[derive(Clone)]
pub struct KStreamsCore {
    pub scenario: Arc<Scenario>,
    pub config: KafkaStreamsConfig,
    pub log: Arc<SourceLog>,
    pub sink_store: SinkStore,
    pub recorder: Recorder,
    pub faults: Vec<Fault>,
    pub network_faults: crate::network::NetworkFaults,
    pub tasks: Vec<Task>,
    pub instances: Vec<Instance>,
    /// The repartition topic, per partition (empty without a window).
    pub repartition: Vec<Vec<TopicRecord>>,
    /// Per task, its store's changelog topic partition (empty for stateless tasks).
    pub changelogs: Vec<Vec<ChangelogEntry>>,
    pub txns: Vec<TxnState>,
    /// Per transaction, the sink transactions its output rows went into.
    txn_sink_rows: BTreeMap<u32, BTreeSet<TxnId>>,
    front: SubTopology,
    /// The window and what follows it (None: a stateless application, one sub-topology).
    back: Option<(WindowSpec, SubTopology)>,
    sink_op: usize,
    sink_kind: SinkKind,
    grace_ms: i64,
    pub stats: KStreamsStats,
    /// Source records a window dropped as late (any attempt): see `sim::oracle::Observed`.
    pub late_sources: BTreeSet<SourceRef>,
    /// Per task, one past the highest input offset it processed (its source partition's or
    /// its repartition partition's): a read below it is reprocessing.
    processed_high: Vec<u64>,
    pub finished_at_ns: Option<TimeNs>,
    out: Vec<Out>,
}

impl KStreamsCore {
    /// The application of `scenario` for `seed`, its tasks assigned at time 0; call
    /// [`KStreamsCore::start`] and drain the first timers.
    pub fn new(scenario: Arc<Scenario>, seed: u64, keep_trace: bool, faults: Vec<Fault>) -> KStreamsCore {
        let config = scenario.model.kafka_streams().copied().unwrap_or_default();
        let mut gen_rng = SimRng::for_stream(seed, Stream::Generator);
        let log = Arc::new(SourceLog::build(&scenario.log, scenario.partitions, scenario.duration_ms, &mut gen_rng));
        let (front, back, sink_op, sink_kind) = sub_topologies(&scenario);
        let grace_ms = match scenario.watermarks {
            Watermarks::BoundedOutOfOrderness { bound_ms, .. } => bound_ms,
            _ => 0,
        };
        let instances: Vec<Instance> = (0..scenario.task_managers.max(1))
            .map(|i| Instance {
                node: NodeId::task_manager(i),
                alive: true,
                incarnation: 0,
                busy_until_ns: 0,
                open_txn: None,
                session_expired: false,
            })
            .collect();
        let n = instances.len() as u32;
        let mut tasks = Vec::new();
        for p in 0..scenario.partitions {
            tasks.push(fresh_task(TaskId { subtopology: 0, partition: p }, NodeId::task_manager(p % n), None));
        }
        let repartitions = back.as_ref().map_or(0, |_| window_parallelism(&scenario));
        for q in 0..repartitions {
            let store = Some(WindowStore::default());
            tasks.push(fresh_task(TaskId { subtopology: 1, partition: q }, NodeId::task_manager(q % n), store));
        }
        let mut core = KStreamsCore {
            network_faults: crate::network::NetworkFaults::of(&faults),
            faults,
            config,
            repartition: vec![Vec::new(); repartitions as usize],
            changelogs: vec![Vec::new(); tasks.len()],
            processed_high: vec![0; tasks.len()],
            tasks,
            instances,
            txns: Vec::new(),
            txn_sink_rows: BTreeMap::new(),
            front,
            back,
            sink_op,
            sink_kind,
            grace_ms,
            log,
            sink_store: SinkStore::default(),
            recorder: Recorder::new(keep_trace),
            stats: KStreamsStats::default(),
            late_sources: BTreeSet::new(),
            finished_at_ns: None,
            out: Vec::new(),
            scenario,
        };
        core.place_standbys(0);
        core
    }

    pub fn eos(&self) -> bool {
        self.config.guarantee == ProcessingGuarantee::ExactlyOnceV2
    }

    /// Start every task and every instance's commit timer.
    pub fn start(&mut self) {
        for t in 0..self.tasks.len() {
            self.wake(t, 0);
        }
        for i in 0..self.instances.len() {
            self.schedule_commit(i, 0);
        }
    }

    /// The timers to set since the last call.
    pub fn drain(&mut self, into: &mut Vec<Out>) {
        into.append(&mut self.out);
    }

    fn timer(&mut self, at: TimeNs, timer: Timer) {
        self.out.push(Out::Timer { at, timer });
    }

    fn instance_index(&self, node: NodeId) -> Option<usize> {
        node.task_manager_index().map(|i| i as usize).filter(|&i| i < self.instances.len())
    }

    fn instance_alive(&self, node: NodeId) -> bool {
        self.instance_index(node).is_some_and(|i| self.instances[i].alive)
    }

    /// Where a timer runs: a task's timers on its instance, an instance's commit on itself, the
    /// group's session timeout and the transaction coordinator's abort on the brokers (the
    /// `jm` node, which Kafka Streams does not have otherwise).
    pub fn node_of_timer(&self, timer: &Timer) -> NodeId {
        match *timer {
            Timer::Run { task, .. } | Timer::Restored { task, .. } => self.tasks[task as usize].instance,
            Timer::Commit { node, .. } => node,
            Timer::SessionTimeout { .. } | Timer::AbortTxn { .. } => crate::scenario::JOB_MANAGER,
        }
    }

    /// A timer the world set fired.
    pub fn fire(&mut self, timer: Timer, now: TimeNs) {
        match timer {
            Timer::Run { task, generation } => {
                let t = task as usize;
                if self.tasks[t].generation == generation {
                    self.tasks[t].run_pending = false;
                    self.run_task(t, now);
                }
            }
            Timer::Commit { node, incarnation } => {
                let Some(i) = self.instance_index(node) else { return };
                if self.instances[i].alive && self.instances[i].incarnation == incarnation {
                    self.commit_instance(i, now);
                    self.schedule_commit(i, now);
                }
            }
            Timer::Restored { task, generation } => {
                let t = task as usize;
                if self.tasks[t].generation == generation && matches!(self.tasks[t].phase, TaskPhase::Restoring { .. })
                {
                    self.resume(t, now);
                }
            }
            Timer::SessionTimeout { node, incarnation } => {
                let Some(i) = self.instance_index(node) else { return };
                if !self.instances[i].alive && self.instances[i].incarnation == incarnation {
                    self.instances[i].session_expired = true;
                    self.rebalance(now);
                }
            }
            Timer::AbortTxn { txn } => self.abort_txn(txn, now),
        }
    }

    fn schedule_commit(&mut self, i: usize, now: TimeNs) {
        let at = now.saturating_add(ms_to_ns(self.config.commit_interval_ms()));
        let (node, incarnation) = (self.instances[i].node, self.instances[i].incarnation);
        self.timer(at, Timer::Commit { node, incarnation });
    }

    /// Ask for a run of task `t` now (unless one is pending).
    fn wake(&mut self, t: usize, now: TimeNs) {
        let task = &mut self.tasks[t];
        if task.phase == TaskPhase::Running && !task.run_pending {
            task.run_pending = true;
            let (task, generation) = (t as u32, task.generation);
            self.timer(now, Timer::Run { task, generation });
        }
    }

    fn run_later(&mut self, t: usize, at: TimeNs) {
        let task = &mut self.tasks[t];
        if !task.run_pending {
            task.run_pending = true;
            let (task, generation) = (t as u32, task.generation);
            self.timer(at, Timer::Run { task, generation });
        }
    }

    /// Task `t` processes its next readable record, or waits, or finishes.
    fn run_task(&mut self, t: usize, now: TimeNs) {
        if self.tasks[t].phase != TaskPhase::Running || !self.instance_alive(self.tasks[t].instance) {
            return;
        }
        let Some(i) = self.instance_index(self.tasks[t].instance) else { return };
        // One stream thread per instance: its tasks take turns.
        if self.instances[i].busy_until_ns > now {
            let at = self.instances[i].busy_until_ns;
            self.run_later(t, at);
            return;
        }
        let read = if self.tasks[t].id.subtopology == 0 { self.read_source(t, now) } else { self.read_repartition(t) };
        match read {
            Read::Record(record, offset) => {
                let cost = self.process(t, record, offset, now);
                let factor = crate::network::slow_factor(&self.network_faults, self.instances[i].node, now);
                let done_at = now.saturating_add(cost.saturating_mul(factor));
                self.instances[i].busy_until_ns = done_at;
                self.run_later(t, done_at);
            }
            Read::WaitUntil(at) => self.run_later(t, at),
            Read::Wait => {}
            Read::End => self.finish_task(t, now),
        }
    }

    fn read_source(&mut self, t: usize, now: TimeNs) -> Read {
        let task = &self.tasks[t];
        let p = task.id.partition as usize;
        let Some(entry) = self.log.partitions[p].get(task.position as usize) else { return Read::End };
        if entry.append_ns > now {
            return Read::WaitUntil(entry.append_ns);
        }
        let offset = task.position;
        let record = Record {
            key: entry.key,
            value: entry.value,
            timestamp_ms: entry.timestamp_ms,
            source: SourceRef { partition: p as u32, offset },
            ingest_ns: now,
            pane: None,
        };
        self.tasks[t].position += 1;
        Read::Record(record, offset)
    }

    /// The next record of the task's repartition partition a `read_committed` consumer may
    /// read (exactly-once v2: not past the first open transaction's record, the last stable
    /// offset; aborted records skipped).
    fn read_repartition(&mut self, t: usize) -> Read {
        let q = self.tasks[t].id.partition as usize;
        loop {
            let position = self.tasks[t].position;
            let Some(entry) = self.repartition[q].get(position as usize) else {
                return if self.upstream_done() { Read::End } else { Read::Wait };
            };
            match entry.txn.map(|x| self.txns[x as usize]) {
                Some(TxnState::Open) => return Read::Wait,
                Some(TxnState::Aborted) => self.tasks[t].position += 1,
                None | Some(TxnState::Committed) => {
                    self.tasks[t].position += 1;
                    return Read::Record(entry.record.clone(), position);
                }
            }
        }
    }

    /// Have all source tasks read their input and committed?
    fn upstream_done(&self) -> bool {
        self.tasks.iter().filter(|t| t.id.subtopology == 0).all(|t| t.phase == TaskPhase::Done)
    }

    /// Process one record in task `t`; its cost in ns.
    fn process(&mut self, t: usize, record: Record, offset: u64, now: TimeNs) -> TimeNs {
        let (instance, id) = (self.tasks[t].instance, self.tasks[t].id);
        self.stats.processed += 1;
        self.tasks[t].processed_since_commit += 1;
        let high = &mut self.processed_high[t];
        if offset < *high {
            self.stats.reprocessed += 1;
        }
        *high = (*high).max(offset + 1);
        let about = About::Node(instance);
        self.recorder.record_payload(now, about, None, Payload::KStreamsProcess { task: t as u32, offset });
        if id.subtopology == 0 {
            let cost = self.front.cost_ns;
            if let Some(record) = apply_steps(&self.front.steps, record) {
                match &self.back {
                    Some(_) => self.write_repartition(t, record, now),
                    None => self.write_output(t, record, now),
                }
            }
            cost
        } else {
            self.window_record(t, record, now)
        }
    }

    fn write_repartition(&mut self, t: usize, record: Record, now: TimeNs) {
        let partitions = self.repartition.len() as u32;
        let q = repartition_partition(record.key, partitions);
        let txn = self.txn_of(t);
        self.repartition[q].push(TopicRecord { record, txn });
        self.stats.repartition_writes += 1;
        if txn.is_none() {
            let reader = self.task_index(TaskId { subtopology: 1, partition: q as u32 });
            self.wake(reader, now);
        }
    }

    fn task_index(&self, id: TaskId) -> usize {
        match id.subtopology {
            0 => id.partition as usize,
            _ => self.scenario.partitions as usize + id.partition as usize,
        }
    }

    /// Exactly-once v2: the transaction of task `t`'s instance, begun on its first write.
    fn txn_of(&mut self, t: usize) -> Option<u32> {
        if !self.eos() {
            return None;
        }
        let i = self.instance_index(self.tasks[t].instance)?;
        if let Some(x) = self.instances[i].open_txn {
            return Some(x);
        }
        let x = self.txns.len() as u32;
        self.txns.push(TxnState::Open);
        self.instances[i].open_txn = Some(x);
        Some(x)
    }

    /// Task `t` produces `record` to the output topic; the sink is the consumer reading it.
    fn write_output(&mut self, t: usize, record: Record, now: TimeNs) {
        let txn = self.txn_of(t);
        let sink_op = &self.scenario.plan.operators[self.sink_op];
        let subtask = sink_op
            .subtask(engine::graph::SubtaskIndex::from_raw(self.tasks[t].id.partition % sink_op.parallelism.max(1)));
        let row = SinkRow::from_record(record);
        let effect = match (self.sink_kind, txn) {
            (SinkKind::Idempotent, _) => SinkEffect::Upsert(row),
            // A `read_committed` consumer of a transactional topic: the row appears at commit.
            (SinkKind::TwoPhaseCommit, Some(x)) => {
                let txn = TxnId { subtask, attempt: 0, sequence: u64::from(x) };
                self.txn_sink_rows.entry(x).or_default().insert(txn);
                SinkEffect::TxnWrite { txn, row }
            }
            // A `read_uncommitted` consumer (or no transactions): the row appears at once,
            // even if its transaction is aborted later.
            _ => SinkEffect::Append(row),
        };
        self.record_sink(subtask, effect, now);
    }

    fn record_sink(&mut self, subtask: SubtaskId, effect: SinkEffect, now: TimeNs) {
        self.recorder.record_payload(now, About::Subtask(subtask), None, Payload::of_sink_effect(&effect));
        self.sink_store.apply(self.sink_op, subtask, effect, now);
        self.sink_store.take_newly_visible();
    }

    /// A record reaches the window of task `t`: stream time, the grace period, the store and its
    /// changelog, and the windows that close (suppressed until then: one final result each).
    fn window_record(&mut self, t: usize, record: Record, now: TimeNs) -> TimeNs {
        let Some((spec, tail)) = self.back.clone() else { return 0 };
        let task = &mut self.tasks[t];
        task.stream_time_ms = task.stream_time_ms.max(record.timestamp_ms);
        let close_ms = task.stream_time_ms.saturating_sub(self.grace_ms);
        let Some(store) = task.store.as_mut() else { return tail.cost_ns };
        let added = store.add(&spec, &record, close_ms);
        if added.dropped {
            self.stats.late_dropped += 1;
            self.late_sources.insert(record.source);
        }
        let txn = self.txn_of(t);
        for change in added.changes {
            self.changelogs[t].push(ChangelogEntry { txn, change });
            self.stats.changelog_writes += 1;
        }
        self.close_windows(t, close_ms, now);
        tail.cost_ns
    }

    /// Emit and forget the windows of task `t` that end at or before `close_ms`.
    fn close_windows(&mut self, t: usize, close_ms: i64, now: TimeNs) {
        let Some((spec, tail)) = self.back.clone() else { return };
        let Some(store) = self.tasks[t].store.as_mut() else { return };
        let closed = store.close_until(&spec, close_ms);
        if closed.is_empty() {
            return;
        }
        let txn = self.txn_of(t);
        for (change, result) in closed {
            self.changelogs[t].push(ChangelogEntry { txn, change });
            self.stats.changelog_writes += 1;
            if let Some(result) = apply_steps(&tail.steps, result) {
                self.write_output(t, result, now);
            }
        }
    }

    /// Task `t` read all of its input: close what is open (end of input), commit, done.
    fn finish_task(&mut self, t: usize, now: TimeNs) {
        if self.tasks[t].is_stateful() {
            self.tasks[t].stream_time_ms = i64::MAX;
            self.close_windows(t, i64::MAX, now);
        }
        let Some(i) = self.instance_index(self.tasks[t].instance) else { return };
        self.commit_instance(i, now);
        self.tasks[t].phase = TaskPhase::Done;
        if self.tasks[t].id.subtopology == 0 && self.upstream_done() {
            for r in 0..self.tasks.len() {
                if self.tasks[r].id.subtopology == 1 {
                    self.wake(r, now);
                }
            }
        }
    }

    /// Commit every running task of instance `i`: at-least-once, the output and changelog
    /// writes are already in their topics (flushed), then the offsets; exactly-once v2, the
    /// offsets go into the thread's transaction, which commits with them.
    fn commit_instance(&mut self, i: usize, now: TimeNs) {
        let node = self.instances[i].node;
        for t in 0..self.tasks.len() {
            let task = &mut self.tasks[t];
            if task.instance != node || task.phase != TaskPhase::Running {
                continue;
            }
            task.committed = task.position;
            task.committed_stream_time_ms = task.stream_time_ms;
            task.processed_since_commit = 0;
            let offset = task.committed;
            self.stats.commits += 1;
            self.recorder.record_payload(
                now,
                About::Node(node),
                None,
                Payload::KStreamsCommit { task: t as u32, offset },
            );
        }
        if let Some(x) = self.instances[i].open_txn.take() {
            self.txns[x as usize] = TxnState::Committed;
            for txn in self.txn_sink_rows.remove(&x).unwrap_or_default() {
                self.record_sink(txn.subtask, SinkEffect::Commit { txn }, now);
            }
            self.wake_readers(now);
        }
    }

    fn wake_readers(&mut self, now: TimeNs) {
        for r in 0..self.tasks.len() {
            if self.tasks[r].id.subtopology == 1 {
                self.wake(r, now);
            }
        }
    }

    fn abort_txn(&mut self, x: u32, now: TimeNs) {
        if self.txns.get(x as usize) != Some(&TxnState::Open) {
            return;
        }
        self.txns[x as usize] = TxnState::Aborted;
        self.stats.aborted_txns += 1;
        for inst in &mut self.instances {
            if inst.open_txn == Some(x) {
                inst.open_txn = None;
            }
        }
        for txn in self.txn_sink_rows.remove(&x).unwrap_or_default() {
            self.sink_store.abort(txn);
        }
        self.recorder.record_payload(now, About::Job, None, Payload::KStreamsTxnAborted { txn: u64::from(x) });
        self.wake_readers(now);
    }

    /// Instance `node` dies: its tasks lose their in-memory state and wait for the rebalance
    /// after its session times out; its open transaction waits for the transaction timeout.
    /// False if it was down already (or is not an instance).
    pub fn crash_instance(&mut self, node: NodeId, back_after_ns: Option<TimeNs>, now: TimeNs) -> bool {
        let Some(i) = self.instance_index(node) else { return false };
        if !self.instances[i].alive {
            return false;
        }
        self.stats.instance_crashes += 1;
        let inst = &mut self.instances[i];
        inst.alive = false;
        inst.incarnation += 1;
        inst.session_expired = false;
        inst.busy_until_ns = now;
        let incarnation = inst.incarnation;
        self.recorder.record_payload(now, About::Node(node), None, Payload::NodeCrashed { back_after_ns });
        for task in self.tasks.iter_mut().filter(|t| t.instance == node) {
            if task.phase != TaskPhase::Done {
                task.phase = TaskPhase::Lost;
                task.generation += 1;
                task.run_pending = false;
                if let Some(store) = task.store.as_mut() {
                    store.clear();
                }
            }
        }
        for task in &mut self.tasks {
            task.standbys.retain(|(n, _)| *n != node);
        }
        // The transaction stays open (blocking `read_committed` readers at the last stable
        // offset) until the coordinator's timeout or the instance's return aborts it.
        if let Some(x) = self.instances[i].open_txn {
            let at = now.saturating_add(ms_to_ns(self.config.transaction_timeout_ms));
            self.timer(at, Timer::AbortTxn { txn: x });
        }
        let at = now.saturating_add(ms_to_ns(self.config.session_timeout_ms));
        self.timer(at, Timer::SessionTimeout { node, incarnation });
        true
    }

    /// Instance `node` comes back (empty: its stores were in memory). Its producer's
    /// `initTransactions` aborts what its previous incarnation left open; it joins the group,
    /// and the rebalance may give it tasks.
    pub fn instance_back(&mut self, node: NodeId, now: TimeNs) {
        let Some(i) = self.instance_index(node) else { return };
        if self.instances[i].alive {
            return;
        }
        if let Some(x) = self.instances[i].open_txn.take() {
            self.abort_txn(x, now);
        }
        let inst = &mut self.instances[i];
        inst.alive = true;
        inst.session_expired = false;
        inst.busy_until_ns = now;
        self.recorder.record_payload(now, About::Node(node), None, Payload::NodeRestarted);
        self.schedule_commit(i, now);
        self.rebalance(now);
    }

    /// Give every lost task whose owner is back or timed out to a live instance: one with a
    /// caught-up standby of it if there is one, else the one with the fewest tasks. The other
    /// tasks keep running (cooperative rebalancing).
    fn rebalance(&mut self, now: TimeNs) {
        for t in 0..self.tasks.len() {
            if self.tasks[t].phase != TaskPhase::Lost {
                continue;
            }
            let owner = self.instance_index(self.tasks[t].instance);
            let movable = owner.is_some_and(|i| self.instances[i].alive || self.instances[i].session_expired);
            if !movable {
                continue;
            }
            let Some(target) = self.pick_instance(t, now) else { continue };
            self.assign(t, target, now);
        }
        self.place_standbys(now);
    }

    fn pick_instance(&self, t: usize, now: TimeNs) -> Option<NodeId> {
        let warm = self.tasks[t]
            .standbys
            .iter()
            .find(|(n, caught_up)| self.instance_alive(*n) && *caught_up <= now)
            .map(|(n, _)| *n);
        warm.or_else(|| {
            self.instances
                .iter()
                .filter(|i| i.alive)
                .min_by_key(|i| (self.active_tasks(i.node), i.node))
                .map(|i| i.node)
        })
    }

    fn active_tasks(&self, node: NodeId) -> usize {
        self.tasks.iter().filter(|t| t.instance == node && t.phase != TaskPhase::Lost).count()
    }

    /// Task `t` starts on `node`: it restores its store from the changelog (all of it, or
    /// nothing when `node` holds a caught-up standby), then resumes at its committed offset.
    fn assign(&mut self, t: usize, node: NodeId, now: TimeNs) {
        let eos = self.eos();
        let warm = self.tasks[t].standbys.iter().any(|(n, c)| *n == node && *c <= now);
        let records = if !self.tasks[t].is_stateful() || warm {
            0
        } else {
            restored_entries(&self.changelogs[t], &self.txns, eos).count() as u64
        };
        let restore_ns = records.saturating_mul(self.config.restore_cost_us.saturating_mul(1_000));
        let task = &mut self.tasks[t];
        task.instance = node;
        task.generation += 1;
        task.last_restore_records = records;
        task.phase = TaskPhase::Restoring { until_ns: now.saturating_add(restore_ns) };
        task.standbys.retain(|(n, _)| *n != node);
        self.stats.restores += 1;
        self.stats.restored_records += records;
        self.stats.restore_ns = self.stats.restore_ns.saturating_add(restore_ns);
        self.stats.standby_takeovers += u64::from(warm && self.tasks[t].is_stateful());
        let payload = Payload::KStreamsRestore { task: t as u32, records };
        self.recorder.record_payload(now, About::Node(node), None, payload);
        let generation = self.tasks[t].generation;
        self.timer(now.saturating_add(restore_ns), Timer::Restored { task: t as u32, generation });
    }

    /// The restore of task `t` is done: its store is what the changelog says (at-least-once:
    /// every write; exactly-once v2: committed writes), its position the committed offset.
    fn resume(&mut self, t: usize, now: TimeNs) {
        let eos = self.eos();
        let spec = self.back.as_ref().map(|(s, _)| s.clone());
        let task = &mut self.tasks[t];
        if let (Some(store), Some(spec)) = (task.store.as_mut(), spec) {
            store.clear();
            for entry in restored_entries(&self.changelogs[t], &self.txns, eos) {
                store.replay(&spec, &entry.change);
            }
        }
        task.position = task.committed;
        task.stream_time_ms = task.committed_stream_time_ms;
        task.processed_since_commit = 0;
        task.phase = TaskPhase::Running;
        let (node, offset) = (task.instance, task.committed);
        self.recorder.record_payload(now, About::Node(node), None, Payload::KStreamsResume { task: t as u32, offset });
        self.wake(t, now);
    }

    /// `num.standby.replicas` per stateful task on the next live instances after its owner; a
    /// new standby replays the whole changelog before it is caught up.
    fn place_standbys(&mut self, now: TimeNs) {
        let wanted = self.config.standby_replicas as usize;
        if wanted == 0 {
            return;
        }
        let n = self.instances.len();
        for t in 0..self.tasks.len() {
            if !self.tasks[t].is_stateful() || self.tasks[t].phase == TaskPhase::Done {
                continue;
            }
            let Some(owner) = self.instance_index(self.tasks[t].instance) else { continue };
            let catch_up_ns =
                (self.changelogs[t].len() as u64).saturating_mul(self.config.restore_cost_us.saturating_mul(1_000));
            for step in 1..n {
                if self.tasks[t].standbys.len() >= wanted {
                    break;
                }
                let candidate = &self.instances[(owner + step) % n];
                let node = candidate.node;
                if candidate.alive && !self.tasks[t].standbys.iter().any(|(s, _)| *s == node) {
                    self.tasks[t].standbys.push((node, now.saturating_add(catch_up_ns)));
                }
            }
        }
    }

    /// The run is over when every task is done and no transaction is open.
    pub fn check_finished(&mut self, now: TimeNs) {
        if self.finished_at_ns.is_none()
            && self.tasks.iter().all(|t| t.phase == TaskPhase::Done)
            && !self.txns.contains(&TxnState::Open)
        {
            self.finished_at_ns = Some(now);
            self.recorder.record_payload(now, About::Job, None, Payload::Finished);
        }
    }
}

enum Read {
    Record(Record, u64),
    /// Nothing readable before this time.
    WaitUntil(TimeNs),
    /// Nothing readable until another task writes or commits.
    Wait,
    End,
}

fn fresh_task(id: TaskId, instance: NodeId, store: Option<WindowStore>) -> Task {
    Task {
        id,
        instance,
        phase: TaskPhase::Running,
        generation: 0,
        position: 0,
        committed: 0,
        stream_time_ms: i64::MIN,
        committed_stream_time_ms: i64::MIN,
        processed_since_commit: 0,
        last_restore_records: 0,
        store,
        standbys: Vec::new(),
        run_pending: false,
    }
}

fn apply_steps(steps: &[Step], mut record: Record) -> Option<Record> {
    for step in steps {
        match step {
            Step::Map(f) => f.apply(&mut record),
            Step::Filter(f) => {
                if !f.keeps(&record) {
                    return None;
                }
            }
        }
    }
    Some(record)
}

/// The repartition topic's partition of `key`: Kafka's default partitioner
/// ([`kafka_default_partition`]). Kafka has no key groups: those are Flink's
/// (`engine::partition::subtask_for_key`).
pub fn repartition_partition(key: engine::message::Key, partitions: u32) -> usize {
    kafka_default_partition(key, partitions)
}

fn window_parallelism(scenario: &Scenario) -> u32 {
    scenario
        .plan
        .operators
        .iter()
        .find(|o| matches!(o.kind, OperatorKind::Window(_)))
        .map_or(0, |o| o.parallelism.max(1))
}

/// The plan cut at its window: the first sub-topology's steps, the window and the steps after
/// it, and the sink (the scenario checks make the pipeline linear, with one sink at its end).
fn sub_topologies(scenario: &Scenario) -> (SubTopology, Option<(WindowSpec, SubTopology)>, usize, SinkKind) {
    let mut front = SubTopology { steps: Vec::new(), cost_ns: 0 };
    let mut back: Option<(WindowSpec, SubTopology)> = None;
    let mut sink = (0, SinkKind::Plain);
    for (index, op) in scenario.plan.operators.iter().enumerate() {
        let cost_ns = scenario.record_cost_ns.get(index).copied().unwrap_or(0);
        if let OperatorKind::Window(spec) = &op.kind {
            back = Some((spec.clone(), SubTopology { steps: Vec::new(), cost_ns }));
            continue;
        }
        let current = match &mut back {
            Some((_, tail)) => tail,
            None => &mut front,
        };
        current.cost_ns = current.cost_ns.saturating_add(cost_ns);
        match &op.kind {
            OperatorKind::Map(f) => current.steps.push(Step::Map(f.clone())),
            OperatorKind::Filter(f) => current.steps.push(Step::Filter(f.clone())),
            OperatorKind::Sink(kind) => sink = (index, *kind),
            OperatorKind::Source(_) | OperatorKind::Union | OperatorKind::Window(_) => {}
        }
    }
    (front, back, sink.0, sink.1)
}
