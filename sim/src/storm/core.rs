//! The Storm topology itself, apart from any world: every executor (spouts, bolts, ackers), the
//! Trident coordinator and its durable state, Kafka's committed offsets, the sink store, the
//! counters and the recorder — and every decision of the runtime (what a tuple does, when a
//! spout replays, what a restarted executor starts from). The protocol pieces are
//! `engine::storm`; this module ties them to a topology.
//!
//! [`StormCore`] does no IO and keeps no clock: a world calls it with the current virtual time
//! ([`StormCore::deliver`], [`StormCore::fire`], [`StormCore::crash_node`],
//! [`StormCore::node_back`], ...) and drains what it wants done ([`StormCore::drain`]): messages
//! to send from one executor to another ([`Out::Send`]) and timers to set ([`Out::Timer`]). Two
//! worlds drive it: the kernel's [`super::world::StormWorld`] (event queue and the shared network
//! rules) and the madsim world (`sim/madsim-world`, madsim's network and clock, `Handle::kill`).
//!
//! Every plan subtask is an executor on its task manager's worker: source subtasks are spouts,
//! maps and filters bolts, the window a windowed bolt, sinks sink bolts; `KeyBy` is a fields
//! grouping, `Rebalance` a shuffle (round robin here), `Broadcast` the all grouping. Acker
//! executors come on top, acker i on task manager i mod n. Every tuple, acker message and
//! spout ack is an [`Out::Send`] and costs processing time where it is handled.

use engine::ms_to_ns;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use engine::graph::OperatorKind;
use engine::message::Record;
use engine::partition::subtask_for_key;
use engine::sink::{SinkEffect, SinkKind, SinkRow};
use engine::storm::acker::{Acker, AckerOutcome};
use engine::storm::anchor::{ack_messages, emit_anchored, Held, MessageId};
use engine::storm::spout::SpoutExecutor;
use engine::storm::trident::{OpaqueState, TransactionalState, TridentCoordinator};
use engine::storm::window::{Fired, TupleFate, WindowedBolt};
use engine::storm::RootId;
use engine::window::{Accumulator, Aggregate, Window};
use engine::{Key, SourceRef};

use crate::external::{SinkStore, SourceLog};
use crate::faults::Fault;
use crate::kernel::{SimRng, Stream, TimeNs};
use crate::network::slow_factor;
use crate::recording::{AckerMessage, Payload, Recorder, TimedOut};
use crate::scenario::{NodeId, Scenario, StormConfig, TridentState, Watermarks};

/// A message between executors.
#[derive(Clone, Debug)]
pub enum Msg {
    Tuple {
        record: Record,
        id: MessageId,
        batch: Option<(u64, u32)>,
    },
    /// The upstream task emitted every offset of the log once (Storm has no end of input; the
    /// simulation needs one to close the last windows).
    End,
    AckerInit {
        root: RootId,
        value: u64,
        spout: u32,
    },
    AckerAck {
        root: RootId,
        value: u64,
    },
    /// A bolt failed a tuple of the tree (`collector.fail`).
    AckerFail {
        root: RootId,
    },
    SpoutAck {
        root: RootId,
    },
    SpoutFail {
        root: RootId,
    },
    /// Trident: the coordinator asks a spout task to emit its part of a batch.
    EmitBatch {
        txid: u64,
        attempt: u32,
        from_ns: TimeNs,
        until_ns: TimeNs,
    },
    /// Trident: a spout task's part of a batch completed (or failed).
    BatchPartDone {
        txid: u64,
        from: u32,
    },
    /// Trident: store the batch's updates (the batch began at `began_ns`).
    Commit {
        txid: u64,
        attempt: u32,
        began_ns: TimeNs,
    },
    CommitDone {
        txid: u64,
        ok: bool,
        from: u32,
    },
}

impl Msg {
    fn is_ack_traffic(&self) -> bool {
        matches!(
            self,
            Msg::AckerInit { .. }
                | Msg::AckerAck { .. }
                | Msg::AckerFail { .. }
                | Msg::SpoutAck { .. }
                | Msg::SpoutFail { .. }
        )
    }
}

/// A timer the core asks its world to set; the world hands it back with [`StormCore::fire`] at
/// `at` (or later: a world may be late, never early).
#[derive(Clone, Debug)]
pub enum Timer {
    /// An executor's next step (the token tells a stale timer from the current one).
    Run { task: u32, incarnation: u32, token: u64 },
    /// `topology.message.timeout.secs` tick of a spout or acker (rotate its buckets).
    Rotate { task: u32, incarnation: u32 },
    /// Trident: the coordinator's clock (begin batches, time out batches).
    TridentTick,
}

/// What the core wants its world to do.
#[derive(Clone, Debug)]
pub enum Out {
    /// Carry `msg` from executor `from` to executor `to` (its `incarnation` when sent: a message
    /// for an executor that restarted since is dropped on delivery), FIFO per (from, to).
    Send { from: u32, to: u32, incarnation: u32, msg: Msg },
    /// Call [`StormCore::fire`] with `timer` at virtual time `at`.
    Timer { at: TimeNs, timer: Timer },
}

#[derive(Clone, Debug)]
struct SpoutTask {
    exec: SpoutExecutor,
    partitions: Vec<u32>,
    ended: bool,
    /// Trident: per txid this task's root and whether it is done.
    batch_roots: BTreeMap<RootId, u64>,
}

#[derive(Clone, Debug)]
enum BoltKind {
    Map(engine::transform::MapFn),
    Filter(engine::transform::FilterFn),
    Window {
        bolt: Box<WindowedBolt<u64>>,
        held: BTreeMap<u64, Held>,
        next_handle: u64,
    },
    /// Trident's aggregation into state: partial aggregates per txid.
    TridentAggregate {
        partial: BTreeMap<u64, (u32, BatchPartials)>,
    },
    Sink(SinkKind),
}

/// One counting task's partial aggregates of one batch, per window and key.
type BatchPartials = BTreeMap<(Window, Key), Partial>;

/// What a bolt does with a tuple (a copy of its kind, so the world can be borrowed meanwhile).
enum BoltStep {
    Map(engine::transform::MapFn),
    Filter(engine::transform::FilterFn),
    Sink(SinkKind),
    Trident,
    Window,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Partial {
    pub acc: Accumulator,
    pub lineage: Vec<SourceRef>,
    pub newest_ingest_ns: u64,
    pub newest_source: SourceRef,
}

#[derive(Clone, Debug)]
enum Role {
    Spout(SpoutTask),
    Bolt { kind: BoltKind, ends: usize },
    Acker(Acker),
}

#[derive(Clone, Debug)]
struct Exec {
    /// Plan subtask, or None for an acker.
    subtask: Option<usize>,
    node: NodeId,
    alive: bool,
    /// Bumped on every restart; messages for an older incarnation are dropped.
    incarnation: u32,
    started_ns: TimeNs,
    inbox: VecDeque<Msg>,
    busy_until: TimeNs,
    run_token: u64,
    run_at: Option<TimeNs>,
    role: Role,
    /// Round-robin position per output gate (shuffle grouping).
    rr: Vec<usize>,
    records_in: u64,
    /// Explicit fails so far per source record (`StormConfig::fails`; lost with the worker).
    failed: BTreeMap<SourceRef, u32>,
}

/// The numbers `compare` and `run` show for a Storm run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StormStats {
    pub spout_emitted: u64,
    /// Re-emits after a timeout or an explicit fail.
    pub replays: u64,
    /// Records a restarted spout read again from its partition's committed offset (they had
    /// been emitted before the crash).
    pub rereads: u64,
    pub timeouts: u64,
    pub acked: u64,
    /// Acker inits, acks, and the acker's acks to the spout: network messages.
    pub ack_messages: u64,
    pub tuples_sent: u64,
    pub late_dropped: u64,
    pub worker_restarts: u64,
    pub trident_batches: u64,
    pub trident_replays: u64,
    pub trident_skipped_updates: u64,
    /// Tuples a bolt failed explicitly (`StormConfig::fails`).
    pub bolt_fails: u64,
}

/// Trident's coordinator and its durable state (ZooKeeper and the state store survive crashes).
#[derive(Clone, Debug)]
struct TridentRuntime {
    batch_ns: TimeNs,
    coordinator: TridentCoordinator<(TimeNs, TimeNs)>,
    next_batch_from: TimeNs,
    /// Per txid: spout tasks whose part is outstanding, bolts whose commit is outstanding, began.
    parts: BTreeMap<u64, BTreeSet<usize>>,
    commits: BTreeMap<u64, BTreeSet<usize>>,
    began: BTreeMap<u64, TimeNs>,
    /// Per txid how often it was emitted (a replay is attempt 2, ...).
    attempts: BTreeMap<u64, u32>,
    /// Per txid the largest event time in it (committed watermark).
    max_ts: BTreeMap<u64, i64>,
    transactional: TransactionalState<(Window, Key), Partial>,
    opaque: OpaqueState<(Window, Key), Partial>,
    state_kind: TridentState,
    emitted: BTreeSet<(Window, Key)>,
    committed_max_ts: i64,
    log_end_ns: TimeNs,
    done: bool,
}

#[derive(Clone)]
pub struct StormCore {
    pub scenario: Arc<Scenario>,
    pub config: StormConfig,
    pub seed: u64,
    id_rng: SimRng,
    pub log: Arc<SourceLog>,
    pub sink_store: SinkStore,
    pub recorder: Recorder,
    /// The run's faults: a slow node's factor applies to processing costs.
    pub faults: Vec<Fault>,
    nodes_alive: Vec<bool>,
    node_incarnation: Vec<u32>,
    execs: Vec<Exec>,
    /// Kafka's committed offsets per partition: survive worker crashes.
    committed: Vec<u64>,
    /// Per partition, one past the highest offset any spout has emitted: an emit below it that
    /// is not a replay is a re-read after a spout restart.
    emitted_high: Vec<u64>,
    trident: Option<TridentRuntime>,
    window_lag_ms: i64,
    pub stats: StormStats,
    /// Source records a windowed bolt dropped as late (any attempt): see `sim::oracle::Observed`.
    pub late_sources: std::collections::BTreeSet<engine::SourceRef>,
    pub finished_at_ns: Option<TimeNs>,
    /// `StormConfig::fails` resolved: (operator, predicate, times).
    fail_rules: Vec<(usize, engine::transform::FilterFn, u32)>,
    out: Vec<Out>,
}

const ACKER_BUCKETS: usize = 2;

impl StormCore {
    /// The topology of `scenario` for `seed`, every executor started at time 0; drain the
    /// first timers with [`StormCore::drain`]. `faults` only slow nodes down here: crashing
    /// and restarting workers is the world's call ([`StormCore::crash_node`],
    /// [`StormCore::node_back`]).
    pub fn new(scenario: Arc<Scenario>, seed: u64, keep_trace: bool, faults: Vec<Fault>) -> StormCore {
        let config = scenario.model.storm().cloned().unwrap_or_default();
        let mut gen_rng = SimRng::for_stream(seed, Stream::Generator);
        let log = Arc::new(SourceLog::build(&scenario.log, scenario.partitions, scenario.duration_ms, &mut gen_rng));
        let window_lag_ms = match scenario.watermarks {
            Watermarks::BoundedOutOfOrderness { bound_ms, .. } => bound_ms,
            _ => 0,
        };
        let trident = config.trident.map(|t| TridentRuntime {
            batch_ns: ms_to_ns(t.batch_ms),
            coordinator: TridentCoordinator::new(config.max_spout_pending.unwrap_or(u32::MAX) as usize),
            next_batch_from: 0,
            parts: BTreeMap::new(),
            commits: BTreeMap::new(),
            began: BTreeMap::new(),
            attempts: BTreeMap::new(),
            max_ts: BTreeMap::new(),
            transactional: TransactionalState::default(),
            opaque: OpaqueState::default(),
            state_kind: t.state,
            emitted: BTreeSet::new(),
            committed_max_ts: i64::MIN,
            log_end_ns: log.partitions.iter().filter_map(|p| p.last()).map(|e| e.append_ns).max().unwrap_or(0),
            done: false,
        });
        let mut core = StormCore {
            nodes_alive: vec![true; scenario.task_managers as usize + 1],
            node_incarnation: vec![0; scenario.task_managers as usize + 1],
            faults,
            seed,
            config,
            id_rng: SimRng::for_stream(seed, Stream::StormIds),
            committed: vec![0; scenario.partitions as usize],
            emitted_high: vec![0; scenario.partitions as usize],
            log,
            sink_store: SinkStore::default(),
            recorder: Recorder::new(keep_trace),
            execs: Vec::new(),
            trident,
            window_lag_ms,
            stats: StormStats::default(),
            late_sources: std::collections::BTreeSet::new(),
            finished_at_ns: None,
            fail_rules: Vec::new(),
            out: Vec::new(),
            scenario,
        };
        if core.trident.is_none() {
            for f in &core.config.fails {
                if let Some(op) = core.scenario.plan.operators.iter().position(|o| o.name == f.bolt) {
                    core.fail_rules.push((op, f.when.clone(), f.times));
                }
            }
        }
        let subtasks = core.scenario.plan.subtasks.len();
        for id in 0..subtasks {
            let node = core.scenario.node_of_subtask(id);
            let exec = core.fresh_exec(Some(id), node, 0, 0);
            core.execs.push(exec);
        }
        for i in 0..core.config.ackers {
            let node = (i % core.scenario.task_managers) as usize + 1;
            let exec = core.fresh_exec(None, node, 0, 0);
            core.execs.push(exec);
        }
        core
    }

    /// Start every executor (and Trident's coordinator clock) at time 0.
    pub fn start(&mut self) {
        for task in 0..self.execs.len() {
            self.start_exec(task, 0);
        }
        if self.trident.is_some() {
            self.out.push(Out::Timer { at: 0, timer: Timer::TridentTick });
        }
    }

    /// Take what the core wants done, in the order it decided it.
    pub fn drain(&mut self, into: &mut Vec<Out>) {
        into.append(&mut self.out);
    }

    fn fresh_exec(&self, subtask: Option<usize>, node: NodeId, incarnation: u32, now: TimeNs) -> Exec {
        let plan = &self.scenario.plan;
        let acking = self.config.ackers > 0;
        let role = match subtask {
            None => Role::Acker(Acker::new(ACKER_BUCKETS)),
            Some(id) => {
                let op = plan.operator_of(id);
                match &op.kind {
                    OperatorKind::Source(_) => {
                        let partitions = plan.partitions_of(id);
                        let start: Vec<(u32, u64)> =
                            partitions.iter().map(|&p| (p, self.committed[p as usize])).collect();
                        Role::Spout(SpoutTask {
                            exec: SpoutExecutor::new(acking, self.config.max_spout_pending, &start),
                            partitions,
                            ended: false,
                            batch_roots: BTreeMap::new(),
                        })
                    }
                    OperatorKind::Map(f) => Role::Bolt { kind: BoltKind::Map(f.clone()), ends: 0 },
                    OperatorKind::Filter(f) => Role::Bolt { kind: BoltKind::Filter(f.clone()), ends: 0 },
                    OperatorKind::Window(spec) if self.trident.is_some() => {
                        let _ = spec;
                        Role::Bolt { kind: BoltKind::TridentAggregate { partial: BTreeMap::new() }, ends: 0 }
                    }
                    OperatorKind::Window(spec) => Role::Bolt {
                        kind: BoltKind::Window {
                            bolt: Box::new(WindowedBolt::new(
                                spec.kind.clone(),
                                spec.aggregate,
                                self.window_lag_ms,
                                spec.track_lineage,
                                plan.subtasks[id].inputs.len(),
                            )),
                            held: BTreeMap::new(),
                            next_handle: 0,
                        },
                        ends: 0,
                    },
                    OperatorKind::Sink(k) => Role::Bolt { kind: BoltKind::Sink(*k), ends: 0 },
                    // Refused when the scenario loads (`scenario::storm::check`); pass through.
                    OperatorKind::Union => {
                        Role::Bolt { kind: BoltKind::Map(engine::transform::MapFn::AddToValue(0)), ends: 0 }
                    }
                }
            }
        };
        let gates = subtask.map_or(0, |id| plan.subtasks[id].outputs.len());
        Exec {
            subtask,
            node,
            alive: true,
            incarnation,
            started_ns: now,
            inbox: VecDeque::new(),
            busy_until: now,
            run_token: 0,
            run_at: None,
            role,
            rr: vec![0; gates],
            records_in: 0,
            failed: BTreeMap::new(),
        }
    }

    fn start_exec(&mut self, task: usize, now: TimeNs) {
        let e = &self.execs[task];
        let inc = e.incarnation;
        match e.role {
            Role::Spout(_) | Role::Acker(_) => {
                if self.trident.is_none() || matches!(e.role, Role::Acker(_)) {
                    let period = ms_to_ns(self.config.message_timeout_ms);
                    self.out.push(Out::Timer {
                        at: now + period,
                        timer: Timer::Rotate { task: task as u32, incarnation: inc },
                    });
                }
                self.schedule_run(task, now);
            }
            Role::Bolt { .. } => {}
        }
    }

    /// Executors: plan subtasks first, then ackers. Name of executor `task`.
    pub fn exec_name(&self, task: usize) -> String {
        match self.execs.get(task).and_then(|e| e.subtask) {
            Some(id) => self.scenario.plan.subtasks[id].name.clone(),
            None => format!("__acker[{}]", task.saturating_sub(self.scenario.plan.subtasks.len())),
        }
    }

    /// Tuples in flight per spout task (name, pending).
    pub fn pending_per_spout(&self) -> Vec<(String, usize)> {
        self.execs
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match &e.role {
                Role::Spout(s) => Some((self.exec_name(i), s.exec.pending())),
                _ => None,
            })
            .collect()
    }

    /// Records processed per operator (every incarnation).
    pub fn records_in_per_operator(&self) -> Vec<u64> {
        let mut out = vec![0; self.scenario.plan.operators.len()];
        for e in &self.execs {
            if let Some(id) = e.subtask {
                out[self.scenario.plan.subtasks[id].operator] += e.records_in;
            }
        }
        out
    }

    /// A message arrives for executor `task` (sent to its `incarnation`): into its inbox, and
    /// a step armed for when the executor is free.
    pub fn deliver(&mut self, task: u32, incarnation: u32, msg: Msg, now: TimeNs) {
        let Some(e) = self.execs.get_mut(task as usize) else { return };
        if !e.alive || e.incarnation != incarnation {
            return; // the connection to the old worker is gone, and the message with it
        }
        e.inbox.push_back(msg);
        let at = e.busy_until.max(now);
        if e.run_at.is_none_or(|r| r > at) {
            self.schedule_run(task as usize, at);
        }
    }

    /// A timer set through [`Out::Timer`] is due.
    pub fn fire(&mut self, timer: Timer, now: TimeNs) {
        match timer {
            Timer::Run { task, incarnation, token } => {
                let Some(e) = self.execs.get(task as usize) else { return };
                if !e.alive || e.incarnation != incarnation || e.run_token != token {
                    return;
                }
                self.execs[task as usize].run_at = None;
                self.run_exec(task as usize, now);
            }
            Timer::Rotate { task, incarnation } => {
                let t = task as usize;
                if self.execs.get(t).is_none_or(|e| !e.alive || e.incarnation != incarnation) {
                    return;
                }
                let period = ms_to_ns(self.config.message_timeout_ms);
                self.out.push(Out::Timer { at: now + period, timer: Timer::Rotate { task, incarnation } });
                let mut timed_out = Vec::new();
                match &mut self.execs[t].role {
                    Role::Spout(s) => timed_out = s.exec.rotate(),
                    Role::Acker(a) => {
                        a.rotate();
                    }
                    Role::Bolt { .. } => {}
                }
                for p in &timed_out {
                    self.stats.timeouts += 1;
                    let what = TimedOut::Tuple { partition: p.source.partition, offset: p.source.offset };
                    self.recorder.record_payload(now, task, 0, Payload::StormTimeout(what));
                }
                if !timed_out.is_empty() && self.execs[t].run_at.is_none() {
                    let at = self.execs[t].busy_until.max(now);
                    self.schedule_run(t, at);
                }
            }
            Timer::TridentTick => self.trident_tick(now),
        }
    }

    /// Nimbus reassigns the executors of `node`, dead since its `incarnation`, to the live
    /// workers (round robin) and starts them there. Nothing happens if the node came back.
    pub fn reassign(&mut self, node: NodeId, incarnation: u32, now: TimeNs) {
        if self.nodes_alive.get(node).is_none_or(|&a| a) || self.node_incarnation[node] != incarnation {
            return;
        }
        let alive: Vec<NodeId> = (1..self.nodes_alive.len()).filter(|&n| self.nodes_alive[n]).collect();
        if alive.is_empty() {
            return;
        }
        let moved: Vec<usize> = (0..self.execs.len()).filter(|&t| self.execs[t].node == node).collect();
        for (k, t) in moved.into_iter().enumerate() {
            self.execs[t].node = alive[k % alive.len()];
            self.restart_exec(t, now);
        }
    }

    /// The node executor `task` runs on now.
    pub fn node_of(&self, task: u32) -> Option<NodeId> {
        self.execs.get(task as usize).map(|e| e.node)
    }

    /// The node whose executor a timer belongs to (Trident's clock: the coordinator's).
    pub fn node_of_timer(&self, timer: &Timer) -> Option<NodeId> {
        match timer {
            Timer::Run { task, .. } | Timer::Rotate { task, .. } => self.node_of(*task),
            Timer::TridentTick => self.node_of(self.coordinator_task() as u32),
        }
    }

    /// Is `node` alive, and how often has it died?
    pub fn node_state(&self, node: NodeId) -> Option<(bool, u32)> {
        Some((*self.nodes_alive.get(node)?, self.node_incarnation[node]))
    }

    fn schedule_run(&mut self, task: usize, at: TimeNs) {
        let e = &mut self.execs[task];
        e.run_token += 1;
        e.run_at = Some(at);
        let (incarnation, token) = (e.incarnation, e.run_token);
        self.out.push(Out::Timer { at, timer: Timer::Run { task: task as u32, incarnation, token } });
    }

    fn cost(&self, task: usize, base_ns: u64, now: TimeNs) -> u64 {
        base_ns.saturating_mul(slow_factor(&self.faults, self.execs[task].node, now))
    }

    fn ack_cost_ns(&self) -> u64 {
        self.config.ack_cost_us * 1_000
    }

    fn acker_of(&self, root: RootId) -> Option<usize> {
        let n = self.config.ackers as u64;
        (n > 0).then(|| self.scenario.plan.subtasks.len() + (root % n) as usize)
    }

    fn send(&mut self, from: usize, to: usize, msg: Msg, _now: TimeNs) {
        if msg.is_ack_traffic() {
            self.stats.ack_messages += 1;
        }
        if matches!(msg, Msg::Tuple { .. }) {
            self.stats.tuples_sent += 1;
        }
        let incarnation = self.execs[to].incarnation;
        self.out.push(Out::Send { from: from as u32, to: to as u32, incarnation, msg });
    }

    /// Targets of a tuple emitted by `task` (one per output gate's grouping choice).
    fn targets(&mut self, task: usize, record: &Record) -> Vec<usize> {
        let Some(id) = self.execs[task].subtask else { return Vec::new() };
        let plan = &self.scenario.plan;
        let mut out = Vec::new();
        for (g, gate) in plan.subtasks[id].outputs.iter().enumerate() {
            let n = gate.channels.len();
            if n == 0 {
                continue;
            }
            use engine::partition::Partitioning;
            let chosen: Vec<usize> = match gate.partitioning {
                Partitioning::Forward => vec![gate.channels[0]],
                Partitioning::Hash(sel) => vec![gate.channels[subtask_for_key(sel.select(record), n as u32) as usize]],
                Partitioning::Rebalance => {
                    let i = self.execs[task].rr[g] % n;
                    self.execs[task].rr[g] += 1;
                    vec![gate.channels[i]]
                }
                Partitioning::Broadcast => gate.channels.clone(),
            };
            out.extend(chosen.into_iter().map(|c| plan.channels[c].to));
        }
        out
    }

    /// Emit `record` from a bolt, anchored to `anchors` (one tuple per target).
    fn bolt_emit(
        &mut self,
        task: usize,
        record: Record,
        anchors: &mut [&mut Held],
        batch: Option<(u64, u32)>,
        now: TimeNs,
    ) {
        let targets = self.targets(task, &record);
        for to in targets {
            let rng = &mut self.id_rng;
            let mut next = || rng.next_u64();
            let id = emit_anchored(anchors.iter_mut().map(|h| &mut **h), &mut next);
            self.send(task, to, Msg::Tuple { record: record.clone(), id, batch }, now);
        }
    }

    fn ack(&mut self, task: usize, held: &Held, now: TimeNs) {
        for (root, value) in ack_messages(held) {
            if let Some(acker) = self.acker_of(root) {
                let ack = Payload::StormAckerMessage { message: AckerMessage::Ack, root, value };
                self.recorder.record_payload(now, task as u32, 0, ack);
                self.send(task, acker, Msg::AckerAck { root, value }, now);
            }
        }
    }

    fn run_exec(&mut self, task: usize, now: TimeNs) {
        let msg = self.execs[task].inbox.pop_front();
        let busy = match msg {
            Some(msg) => self.process(task, msg, now),
            None => match self.execs[task].role {
                Role::Spout(_) if self.trident.is_none() => self.spout_next(task, now),
                _ => None,
            },
        };
        if let Some(cost) = busy {
            let c = self.cost(task, cost, now);
            self.execs[task].busy_until = now + c;
            self.schedule_run(task, now + c);
        } else if !self.execs[task].inbox.is_empty() {
            self.schedule_run(task, now);
        }
    }

    /// The spout's `nextTuple`: a replay first, else the earliest readable new entry. Returns
    /// the processing time used, or None when there is nothing to do now (a later Run is armed
    /// for the next arrival).
    fn spout_next(&mut self, task: usize, now: TimeNs) -> Option<u64> {
        let Role::Spout(s) = &self.execs[task].role else { return None };
        if !s.exec.can_emit() {
            return None; // an ack will wake it
        }
        let (source, replay) = match s.exec.next_replay() {
            Some(r) => (r, true),
            None => {
                let mut best: Option<(TimeNs, SourceRef)> = None;
                let mut exhausted = true;
                for at in s.exec.next_new() {
                    if let Some(e) = self.log.entry(at) {
                        exhausted = false;
                        if best.is_none_or(|(t, b)| (e.append_ns, at.partition) < (t, b.partition)) {
                            best = Some((e.append_ns, at));
                        }
                    }
                }
                match best {
                    Some((t, at)) if t <= now => (at, false),
                    Some((t, _)) => {
                        self.schedule_run(task, t);
                        return None;
                    }
                    None => {
                        if exhausted && !s.ended {
                            self.spout_end(task, now);
                        }
                        return None;
                    }
                }
            }
        };
        let entry = *self.log.entry(source)?;
        let record = Record {
            key: entry.key,
            value: entry.value,
            timestamp_ms: entry.timestamp_ms,
            source,
            // Latency counts from the record's arrival in the log: spout backlog and replay delays are
            // part of what a reader waits for.
            ingest_ns: entry.append_ns,
            pane: None,
        };
        let acking = self.config.ackers > 0;
        let root = if acking { self.id_rng.next_u64() } else { 0 };
        let targets = self.targets(task, &record);
        let mut init = 0u64;
        for to in targets {
            let id = if acking {
                let edge = self.id_rng.next_u64();
                init ^= edge;
                MessageId::spout(root, edge)
            } else {
                MessageId::default()
            };
            self.send(task, to, Msg::Tuple { record: record.clone(), id, batch: None }, now);
        }
        let emit = Payload::StormEmit { partition: source.partition, offset: source.offset, replay };
        self.recorder.record_payload(now, task as u32, 0, emit);
        self.stats.spout_emitted += 1;
        self.stats.replays += replay as u64;
        let high = &mut self.emitted_high[source.partition as usize];
        if !replay && source.offset < *high {
            self.stats.rereads += 1;
        }
        *high = (*high).max(source.offset + 1);
        self.execs[task].records_in += 1;
        if let Role::Spout(s) = &mut self.execs[task].role {
            s.exec.emitted(source, root, now);
        }
        if let Some(acker) = self.acker_of(root) {
            self.recorder.record_payload(
                now,
                task as u32,
                0,
                Payload::StormAckerMessage { message: AckerMessage::Init, root, value: init },
            );
            self.send(task, acker, Msg::AckerInit { root, value: init, spout: task as u32 }, now);
        }
        self.update_committed(task);
        let op = self.scenario.plan.subtasks[self.execs[task].subtask?].operator;
        Some(self.scenario.record_cost_ns[op])
    }

    fn spout_end(&mut self, task: usize, now: TimeNs) {
        if let Role::Spout(s) = &mut self.execs[task].role {
            s.ended = true;
        }
        let Some(id) = self.execs[task].subtask else { return };
        let targets: Vec<usize> = self.scenario.plan.subtasks[id]
            .outputs
            .iter()
            .flat_map(|g| g.channels.iter().map(|&c| self.scenario.plan.channels[c].to))
            .collect();
        for to in targets {
            self.send(task, to, Msg::End, now);
        }
    }

    fn update_committed(&mut self, task: usize) {
        if let Role::Spout(s) = &self.execs[task].role {
            for (p, offset) in s.exec.committed() {
                self.committed[p as usize] = self.committed[p as usize].max(offset);
            }
        }
    }

    /// Handle one message; returns the processing time it took.
    fn process(&mut self, task: usize, msg: Msg, now: TimeNs) -> Option<u64> {
        let ack_cost = self.ack_cost_ns();
        match msg {
            Msg::AckerInit { root, value, spout } => {
                let out = match &mut self.execs[task].role {
                    Role::Acker(a) => a.init(root, value, spout),
                    _ => return None,
                };
                self.acker_outcome(task, root, out, now);
                Some(ack_cost)
            }
            Msg::AckerAck { root, value } => {
                let out = match &mut self.execs[task].role {
                    Role::Acker(a) => a.ack(root, value),
                    _ => return None,
                };
                self.acker_outcome(task, root, out, now);
                Some(ack_cost)
            }
            Msg::AckerFail { root } => {
                let out = match &mut self.execs[task].role {
                    Role::Acker(a) => a.fail(root),
                    _ => return None,
                };
                self.acker_outcome(task, root, out, now);
                Some(ack_cost)
            }
            Msg::SpoutAck { root } => {
                let mut batch_done = None;
                if let Role::Spout(s) = &mut self.execs[task].role {
                    if s.exec.ack(root).is_some() {
                        self.stats.acked += 1;
                    }
                    batch_done = s.batch_roots.remove(&root);
                }
                self.update_committed(task);
                if let Some(txid) = batch_done {
                    let coordinator = self.coordinator_task();
                    self.send(task, coordinator, Msg::BatchPartDone { txid, from: task as u32 }, now);
                }
                Some(ack_cost)
            }
            Msg::SpoutFail { root } => {
                if let Role::Spout(s) = &mut self.execs[task].role {
                    s.exec.fail(root);
                }
                Some(ack_cost)
            }
            Msg::Tuple { record, id, batch } => {
                self.execs[task].records_in += 1;
                let op = self.scenario.plan.subtasks[self.execs[task].subtask?].operator;
                let cost = self.scenario.record_cost_ns[op];
                self.bolt_tuple(task, record, id, batch, now);
                Some(cost)
            }
            Msg::End => {
                self.bolt_end(task, now);
                Some(ack_cost)
            }
            Msg::EmitBatch { txid, attempt, from_ns, until_ns } => {
                Some(self.spout_emit_batch(task, (txid, attempt), from_ns, until_ns, now))
            }
            Msg::BatchPartDone { txid, from } => {
                self.trident_part_done(from as usize, txid, now);
                Some(ack_cost)
            }
            Msg::Commit { txid, attempt, began_ns } => {
                self.bolt_commit(task, (txid, attempt), began_ns, now);
                Some(ack_cost)
            }
            Msg::CommitDone { txid, ok, from } => {
                self.trident_commit_done(from as usize, txid, ok, now);
                Some(ack_cost)
            }
        }
    }

    fn acker_outcome(&mut self, task: usize, root: RootId, out: AckerOutcome, now: TimeNs) {
        match out {
            AckerOutcome::Pending => {}
            AckerOutcome::Complete { spout_task } => {
                self.recorder.record_payload(now, task as u32, 0, Payload::StormTreeComplete { root, failed: false });
                self.send(task, spout_task as usize, Msg::SpoutAck { root }, now);
            }
            AckerOutcome::Failed { spout_task } => {
                self.recorder.record_payload(now, task as u32, 0, Payload::StormTreeComplete { root, failed: true });
                self.send(task, spout_task as usize, Msg::SpoutFail { root }, now);
            }
        }
    }

    fn bolt_tuple(&mut self, task: usize, record: Record, id: MessageId, batch: Option<(u64, u32)>, now: TimeNs) {
        let mut held = Held::new(id);
        let Some(subtask) = self.execs[task].subtask else { return };
        let kind = match &self.execs[task].role {
            Role::Bolt { kind, .. } => match kind {
                BoltKind::Map(f) => BoltStep::Map(f.clone()),
                BoltKind::Filter(f) => BoltStep::Filter(f.clone()),
                BoltKind::Sink(k) => BoltStep::Sink(*k),
                BoltKind::TridentAggregate { .. } => BoltStep::Trident,
                BoltKind::Window { .. } => BoltStep::Window,
            },
            _ => return,
        };
        if matches!(kind, BoltStep::Map(_) | BoltStep::Filter(_) | BoltStep::Sink(_))
            && self.bolt_fails(task, &record, &held, now)
        {
            return;
        }
        match kind {
            BoltStep::Map(f) => {
                let mut r = record;
                f.apply(&mut r);
                self.bolt_emit(task, r, &mut [&mut held], batch, now);
                self.ack(task, &held, now);
            }
            BoltStep::Filter(f) => {
                if f.keeps(&record) {
                    self.bolt_emit(task, record, &mut [&mut held], batch, now);
                }
                self.ack(task, &held, now);
            }
            BoltStep::Sink(kind) => {
                let row = SinkRow::from_record(record);
                let effect = match kind {
                    SinkKind::Idempotent => SinkEffect::Upsert(row),
                    _ => SinkEffect::Append(row),
                };
                let sink_op = self.scenario.plan.subtasks[subtask].operator;
                self.sink_store.apply(sink_op, subtask, effect, now);
                self.recorder.record_payload(now, task as u32, 0, Payload::SinkAppend { key: 0, value: 0 });
                self.sink_store.take_newly_visible();
                self.ack(task, &held, now);
            }
            BoltStep::Trident => {
                if let (Some((txid, attempt)), OperatorKind::Window(spec)) =
                    (batch, &self.scenario.plan.operator_of(subtask).kind)
                {
                    let mut windows = Vec::new();
                    spec.kind.assign(record.timestamp_ms, &mut windows);
                    let track = spec.track_lineage;
                    if let Role::Bolt { kind: BoltKind::TridentAggregate { partial }, .. } = &mut self.execs[task].role
                    {
                        // A replayed batch starts over: drop what an earlier attempt left.
                        let (seen, per_batch) = partial.entry(txid).or_insert((attempt, BTreeMap::new()));
                        if *seen != attempt {
                            *seen = attempt;
                            per_batch.clear();
                        }
                        for w in windows {
                            let p = per_batch.entry((w, record.key)).or_default();
                            p.acc.add(record.value);
                            if track {
                                p.lineage.push(record.source);
                            }
                            if record.ingest_ns >= p.newest_ingest_ns {
                                p.newest_ingest_ns = record.ingest_ns;
                                p.newest_source = record.source;
                            }
                        }
                    }
                }
                self.ack(task, &held, now);
            }
            BoltStep::Window => {
                let (mut fired, mut acks): (Vec<Fired<u64>>, Vec<u64>) = (Vec::new(), Vec::new());
                let Role::Bolt { kind: BoltKind::Window { bolt, held: store, next_handle }, .. } =
                    &mut self.execs[task].role
                else {
                    return;
                };
                let handle = *next_handle;
                *next_handle += 1;
                store.insert(handle, held);
                let fate = bolt.on_tuple(&record, handle, &mut fired, &mut acks);
                if fate == TupleFate::Late {
                    self.stats.late_dropped += 1;
                    self.late_sources.insert(record.source);
                    if !acks.contains(&handle) {
                        acks.push(handle);
                    }
                }
                self.window_results(task, fired, acks, now);
            }
        }
    }

    /// `collector.fail(tuple)` if a `fails` rule of this bolt matches the tuple and has not yet
    /// failed its source record `times` times here: a fail message per root to its acker (with
    /// acking off there is no acker: the tuple is simply not processed, and lost).
    fn bolt_fails(&mut self, task: usize, record: &Record, held: &Held, now: TimeNs) -> bool {
        let Some(id) = self.execs[task].subtask else { return false };
        let op = self.scenario.plan.subtasks[id].operator;
        let Some(times) = self.fail_rules.iter().find(|(o, f, _)| *o == op && f.keeps(record)).map(|r| r.2) else {
            return false;
        };
        let count = self.execs[task].failed.entry(record.source).or_insert(0);
        if *count >= times {
            return false;
        }
        *count += 1;
        self.stats.bolt_fails += 1;
        let roots: Vec<RootId> = held.id.roots().collect();
        for root in roots {
            if let Some(acker) = self.acker_of(root) {
                let fail = Payload::StormAckerMessage { message: AckerMessage::Fail, root, value: 0 };
                self.recorder.record_payload(now, task as u32, 0, fail);
                self.send(task, acker, Msg::AckerFail { root }, now);
            }
        }
        true
    }

    /// Emit fired windows anchored to their tuples, then ack the tuples that left every window.
    fn window_results(&mut self, task: usize, fired: Vec<Fired<u64>>, acks: Vec<u64>, now: TimeNs) {
        for f in fired {
            let Role::Bolt { kind: BoltKind::Window { held, .. }, .. } = &mut self.execs[task].role else { return };
            let mut anchors: Vec<Held> = f.anchors.iter().filter_map(|h| held.remove(h)).collect();
            {
                let mut refs: Vec<&mut Held> = anchors.iter_mut().collect();
                self.bolt_emit(task, f.result, &mut refs, None, now);
            }
            let Role::Bolt { kind: BoltKind::Window { held, .. }, .. } = &mut self.execs[task].role else { return };
            for (h, a) in f.anchors.iter().zip(anchors) {
                held.insert(*h, a);
            }
        }
        for h in acks {
            let Role::Bolt { kind: BoltKind::Window { held, .. }, .. } = &mut self.execs[task].role else { return };
            if let Some(a) = held.remove(&h) {
                self.ack(task, &a, now);
            }
        }
    }

    fn bolt_end(&mut self, task: usize, now: TimeNs) {
        let Some(id) = self.execs[task].subtask else { return };
        let inputs = self.scenario.plan.subtasks[id].inputs.len();
        let Role::Bolt { kind, ends } = &mut self.execs[task].role else { return };
        *ends += 1;
        let all = *ends >= inputs;
        if let BoltKind::Window { bolt, .. } = kind {
            let (mut fired, mut acks) = (Vec::new(), Vec::new());
            bolt.on_end(&mut fired, &mut acks);
            self.window_results(task, fired, acks, now);
        }
        if all {
            let targets: Vec<usize> = self.scenario.plan.subtasks[id]
                .outputs
                .iter()
                .flat_map(|g| g.channels.iter().map(|&c| self.scenario.plan.channels[c].to))
                .collect();
            for to in targets {
                self.send(task, to, Msg::End, now);
            }
        }
    }

    // ---- Trident ---------------------------------------------------------------------------

    /// The master batch coordinator runs on the first spout's worker (its state is durable).
    fn coordinator_task(&self) -> usize {
        self.scenario.plan.source_subtasks().next().unwrap_or(0)
    }

    fn trident_tick(&mut self, now: TimeNs) {
        let Some(t) = self.trident.as_ref() else { return };
        if t.done {
            return;
        }
        let period = t.batch_ns;
        self.out.push(Out::Timer { at: now + period, timer: Timer::TridentTick });
        let coord = self.coordinator_task();
        if !self.execs[coord].alive {
            return;
        }
        let timeout = ms_to_ns(self.config.message_timeout_ms);
        // Batches that outlived the message timeout fail and replay.
        let t = self.trident.as_mut().expect("checked");
        let expired: Vec<u64> =
            t.began.iter().filter(|(_, &b)| now.saturating_sub(b) > timeout).map(|(&x, _)| x).collect();
        for txid in expired {
            t.coordinator.fail(txid);
            t.began.remove(&txid);
            t.parts.remove(&txid);
            t.commits.remove(&txid);
            self.stats.timeouts += 1;
            self.recorder.record_payload(now, coord as u32, 0, Payload::StormTimeout(TimedOut::Batch { txid }));
        }
        self.trident_begin_batches(now);
    }

    fn trident_begin_batches(&mut self, now: TimeNs) {
        let coord = self.coordinator_task();
        let spouts: Vec<usize> = self.scenario.plan.source_subtasks().collect();
        loop {
            let t = self.trident.as_mut().expect("trident");
            let (txid, (from, until), replay) = if let Some((txid, b)) = t.coordinator.take_replay() {
                (txid, b, true)
            } else if t.coordinator.can_begin() && t.next_batch_from <= t.log_end_ns {
                let until = t.next_batch_from + t.batch_ns;
                if until > now {
                    break; // its entries have not all arrived yet
                }
                let from = t.next_batch_from;
                t.next_batch_from = until;
                (t.coordinator.begin((from, until)), (from, until), false)
            } else {
                break;
            };
            t.began.insert(txid, now);
            let attempt = {
                let a = t.attempts.entry(txid).or_insert(0);
                *a += 1;
                *a
            };
            t.parts.insert(txid, spouts.iter().copied().collect());
            self.stats.trident_batches += 1;
            self.stats.trident_replays += replay as u64;
            self.recorder.record_payload(now, coord as u32, 0, Payload::TridentBatch { txid, replay });
            for &s in &spouts {
                self.send(coord, s, Msg::EmitBatch { txid, attempt, from_ns: from, until_ns: until }, now);
            }
        }
    }

    fn spout_emit_batch(
        &mut self,
        task: usize,
        (txid, attempt): (u64, u32),
        from_ns: TimeNs,
        until_ns: TimeNs,
        now: TimeNs,
    ) -> u64 {
        let Role::Spout(s) = &self.execs[task].role else { return 0 };
        let partitions = s.partitions.clone();
        let root = self.id_rng.next_u64();
        let mut init = 0u64;
        let mut emitted = 0u64;
        let mut max_ts = i64::MIN;
        let log = self.log.clone();
        for p in partitions {
            let entries = &log.partitions[p as usize];
            let start = entries.partition_point(|e| e.append_ns < from_ns);
            let end = entries.partition_point(|e| e.append_ns < until_ns);
            for (offset, e) in entries.iter().enumerate().take(end).skip(start) {
                let e = *e;
                let source = SourceRef { partition: p, offset: offset as u64 };
                let record = Record {
                    key: e.key,
                    value: e.value,
                    timestamp_ms: e.timestamp_ms,
                    source,
                    ingest_ns: e.append_ns,
                    pane: None,
                };
                max_ts = max_ts.max(e.timestamp_ms);
                for to in self.targets(task, &record) {
                    let edge = self.id_rng.next_u64();
                    init ^= edge;
                    self.send(
                        task,
                        to,
                        Msg::Tuple {
                            record: record.clone(),
                            id: MessageId::spout(root, edge),
                            batch: Some((txid, attempt)),
                        },
                        now,
                    );
                }
                emitted += 1;
            }
        }
        self.stats.spout_emitted += emitted;
        self.execs[task].records_in += emitted;
        if let Some(t) = self.trident.as_mut() {
            let m = t.max_ts.entry(txid).or_insert(i64::MIN);
            *m = (*m).max(max_ts);
        }
        if let Role::Spout(s) = &mut self.execs[task].role {
            s.batch_roots.insert(root, txid);
        }
        match self.acker_of(root) {
            Some(acker) => {
                self.recorder.record_payload(
                    now,
                    task as u32,
                    0,
                    Payload::StormAckerMessage { message: AckerMessage::Init, root, value: init },
                );
                self.send(task, acker, Msg::AckerInit { root, value: init, spout: task as u32 }, now);
            }
            None => {
                let coordinator = self.coordinator_task();
                self.send(task, coordinator, Msg::BatchPartDone { txid, from: task as u32 }, now);
            }
        }
        let op = self.scenario.plan.subtasks[task].operator;
        self.scenario.record_cost_ns[op].saturating_mul(emitted.max(1))
    }

    fn aggregator_tasks(&self) -> Vec<usize> {
        (0..self.scenario.plan.subtasks.len())
            .filter(|&id| matches!(self.scenario.plan.operator_of(id).kind, OperatorKind::Window(_)))
            .collect()
    }

    fn trident_part_done(&mut self, spout: usize, txid: u64, now: TimeNs) {
        let Some(t) = self.trident.as_mut() else { return };
        let Some(parts) = t.parts.get_mut(&txid) else { return };
        parts.remove(&spout);
        if !parts.is_empty() {
            return;
        }
        t.coordinator.processed(txid);
        self.trident_next_commit(now);
    }

    fn trident_next_commit(&mut self, now: TimeNs) {
        let coord = self.coordinator_task();
        let aggregators = self.aggregator_tasks();
        let t = self.trident.as_mut().expect("trident");
        if let Some(txid) = t.coordinator.next_commit() {
            let began_ns = t.began.get(&txid).copied().unwrap_or(0);
            let attempt = t.attempts.get(&txid).copied().unwrap_or(0);
            t.commits.insert(txid, aggregators.iter().copied().collect());
            for a in aggregators {
                self.send(coord, a, Msg::Commit { txid, attempt, began_ns }, now);
            }
        }
    }

    fn bolt_commit(&mut self, task: usize, (txid, attempt): (u64, u32), began_ns: TimeNs, now: TimeNs) {
        let started = self.execs[task].started_ns;
        let restarted = self.execs[task].incarnation > 0;
        let coord = self.coordinator_task();
        let Role::Bolt { kind: BoltKind::TridentAggregate { partial }, .. } = &mut self.execs[task].role else {
            return;
        };
        // A worker restarted after the batch began lost its part of the batch: fail the commit.
        if restarted && started > began_ns {
            self.send(task, coord, Msg::CommitDone { txid, ok: false, from: task as u32 }, now);
            return;
        }
        let updates = match partial.remove(&txid) {
            Some((a, updates)) if a == attempt => updates,
            _ => BTreeMap::new(),
        };
        let Some(id) = self.execs[task].subtask else { return };
        let aggregate = match &self.scenario.plan.operator_of(id).kind {
            OperatorKind::Window(spec) => spec.aggregate,
            _ => Aggregate::Count,
        };
        let _ = aggregate;
        let t = self.trident.as_mut().expect("trident");
        let merge = |current: Option<&Partial>, p: &Partial| {
            let mut v = current.cloned().unwrap_or_default();
            v.acc.merge(&p.acc);
            v.lineage.extend(p.lineage.iter().copied());
            if p.newest_ingest_ns >= v.newest_ingest_ns {
                v.newest_ingest_ns = p.newest_ingest_ns;
                v.newest_source = p.newest_source;
            }
            v
        };
        let mut skipped = 0;
        for (k, p) in &updates {
            match t.state_kind {
                TridentState::Transactional => {
                    if !t.transactional.apply(*k, txid, |c| merge(c, p)) {
                        skipped += 1;
                    }
                }
                TridentState::OpaqueTransactional => t.opaque.apply(*k, txid, |c| merge(c, p)),
            }
        }
        self.stats.trident_skipped_updates += skipped;
        self.recorder.record_payload(now, task as u32, 0, Payload::TridentCommit { txid, skipped });
        self.send(task, coord, Msg::CommitDone { txid, ok: true, from: task as u32 }, now);
    }

    fn trident_commit_done(&mut self, task: usize, txid: u64, ok: bool, now: TimeNs) {
        let Some(t) = self.trident.as_mut() else { return };
        if !ok {
            if t.commits.remove(&txid).is_some() {
                t.coordinator.fail(txid);
                t.began.remove(&txid);
                t.parts.remove(&txid);
                self.trident_begin_batches(now);
            }
            return;
        }
        let Some(waiting) = t.commits.get_mut(&txid) else { return };
        waiting.remove(&task);
        if !waiting.is_empty() {
            return;
        }
        t.commits.remove(&txid);
        t.began.remove(&txid);
        t.parts.remove(&txid);
        t.coordinator.commit_done(txid);
        if let Some(m) = t.max_ts.get(&txid) {
            t.committed_max_ts = t.committed_max_ts.max(*m);
        }
        let last = t.coordinator.is_idle() && t.next_batch_from > t.log_end_ns;
        let watermark = if last { i64::MAX } else { t.committed_max_ts.saturating_sub(self.window_lag_ms) };
        self.trident_emit(watermark, now);
        if last {
            if let Some(t) = self.trident.as_mut() {
                t.done = true;
            }
        }
        self.trident_next_commit(now);
        self.trident_begin_batches(now);
    }

    /// Windows the committed watermark passed: their final values go to the sink, once (the
    /// emitted set is part of the durable state).
    fn trident_emit(&mut self, watermark: i64, now: TimeNs) {
        let Some(window_op) =
            self.scenario.plan.operators.iter().position(|o| matches!(o.kind, OperatorKind::Window(_)))
        else {
            return;
        };
        let aggregate = match &self.scenario.plan.operators[window_op].kind {
            OperatorKind::Window(spec) => spec.aggregate,
            _ => Aggregate::Count,
        };
        let sink = self.scenario.plan.operators.iter().position(|o| matches!(o.kind, OperatorKind::Sink(_)));
        let Some(sink) = sink else { return };
        let sink_subtask = self.scenario.plan.operators[sink].first_subtask;
        let t = self.trident.as_mut().expect("trident");
        let values: Vec<((Window, Key), Partial)> = match t.state_kind {
            TridentState::Transactional => t.transactional.map.iter().map(|(k, (v, _))| (*k, v.clone())).collect(),
            TridentState::OpaqueTransactional => t.opaque.map.iter().map(|(k, (v, _, _))| (*k, v.clone())).collect(),
        };
        for ((w, key), v) in values {
            if w.max_timestamp() > watermark || t.emitted.contains(&(w, key)) {
                continue;
            }
            t.emitted.insert((w, key));
            let row = SinkRow {
                key,
                value: v.acc.result(aggregate),
                timestamp_ms: w.max_timestamp(),
                window: Some(w),
                firing: engine::Firing::OnTime,
                lineage: v.lineage,
                ingest_ns: v.newest_ingest_ns,
            };
            self.sink_store.apply(sink, sink_subtask, SinkEffect::Append(row), now);
            let append = Payload::SinkAppend { key, value: w.start_ms };
            self.recorder.record_payload(now, sink_subtask as u32, 0, append);
        }
        self.sink_store.take_newly_visible();
    }

    // ---- faults ----------------------------------------------------------------------------

    /// A worker dies: its executors lose their state and queues (messages to them are dropped
    /// from now on). Nimbus (`jm`) dying stops nothing: running workers keep running. Returns
    /// false if the node was already dead. Bringing it back ([`StormCore::node_back`]) or
    /// moving its executors ([`StormCore::reassign`]) is the world's call.
    pub fn crash_node(&mut self, node: NodeId, restart_after_ns: Option<TimeNs>, now: TimeNs) -> bool {
        if !self.nodes_alive.get(node).is_some_and(|&a| a) {
            return false;
        }
        self.nodes_alive[node] = false;
        self.node_incarnation[node] += 1;
        self.recorder.record_payload(now, node as u32, 0, Payload::NodeCrashed { back_after_ns: restart_after_ns });
        for e in self.execs.iter_mut().filter(|e| e.node == node) {
            e.alive = false;
            e.inbox.clear();
        }
        true
    }

    /// The supervisor restarted the worker on `node`: fresh executors for it.
    pub fn node_back(&mut self, node: NodeId, now: TimeNs) {
        if self.nodes_alive.get(node).is_none_or(|&a| a) {
            return;
        }
        self.nodes_alive[node] = true;
        self.recorder.record_payload(now, node as u32, 0, Payload::StormWorkerRestarted);
        let tasks: Vec<usize> = (0..self.execs.len()).filter(|&t| self.execs[t].node == node).collect();
        for t in tasks {
            self.restart_exec(t, now);
        }
    }

    /// A fresh executor in place of a dead one (empty state; a spout resumes from the committed
    /// offsets). Upstream tasks that already ended tell it again.
    fn restart_exec(&mut self, task: usize, now: TimeNs) {
        self.stats.worker_restarts += 1;
        let (subtask, node, incarnation) =
            (self.execs[task].subtask, self.execs[task].node, self.execs[task].incarnation + 1);
        let rr = std::mem::take(&mut self.execs[task].rr);
        let records_in = self.execs[task].records_in;
        let mut fresh = self.fresh_exec(subtask, node, incarnation, now);
        fresh.records_in = records_in;
        if !rr.is_empty() {
            fresh.rr = rr;
        }
        self.execs[task] = fresh;
        if let Some(id) = subtask {
            let upstream: Vec<usize> =
                self.scenario.plan.subtasks[id].inputs.iter().map(|&c| self.scenario.plan.channels[c].from).collect();
            for u in upstream {
                if self.execs[u].alive && self.has_ended(u) {
                    self.send(u, task, Msg::End, now);
                }
            }
        }
        self.start_exec(task, now);
        // A Trident spout that restarts mid-batch: its parts of batches in flight are lost.
        if let (Some(t), Role::Spout(_)) = (self.trident.as_mut(), &self.execs[task].role) {
            let lost: Vec<u64> = t.parts.iter().filter(|(_, p)| p.contains(&task)).map(|(x, _)| *x).collect();
            for txid in lost {
                t.coordinator.fail(txid);
                t.parts.remove(&txid);
                t.began.remove(&txid);
                t.commits.remove(&txid);
            }
        }
    }

    fn has_ended(&self, task: usize) -> bool {
        let Some(id) = self.execs[task].subtask else { return false };
        match &self.execs[task].role {
            Role::Spout(s) => s.ended,
            Role::Bolt { ends, .. } => *ends >= self.scenario.plan.subtasks[id].inputs.len(),
            Role::Acker(_) => false,
        }
    }

    /// Has the topology done all its work (every spout ended with nothing pending, every bolt
    /// saw every input end; Trident: the last batch committed)? Sets `finished_at_ns`.
    pub fn check_finished(&mut self, now: TimeNs) {
        if self.finished_at_ns.is_some() {
            return;
        }
        let done = match &self.trident {
            Some(t) => t.done,
            None => self.execs.iter().enumerate().all(|(i, e)| {
                e.alive
                    && e.inbox.is_empty()
                    && match &e.role {
                        Role::Spout(s) => s.ended && s.exec.is_idle(),
                        Role::Bolt { .. } => self.has_ended(i),
                        Role::Acker(_) => true,
                    }
            }),
        };
        if done {
            self.finished_at_ns = Some(now);
        }
    }
}
