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

mod bolt;
mod lifecycle;
mod msg;
mod spout;
mod trident;

pub use msg::{Msg, Out, Timer};
pub use trident::Partial;

/// Per partition, one past the highest offset any spout has emitted. An emit below it that is not
/// a replay (of a tuple tree that failed or timed out) is a **re-read**: a restarted spout reading
/// again, from the partition's committed offset, records it had emitted before it died (its
/// pending tuples died with it, so no replay could bring them back). The core counts them
/// (`StormStats::rereads`) and the workbench from the trace, by this one rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmittedHigh {
    per_partition: Vec<u64>,
}

impl EmittedHigh {
    /// A spout emitted `offset` of `partition` (`replay`: re-emitted after its tree failed or
    /// timed out): whether it is a re-read.
    pub fn on_emit(&mut self, partition: u32, offset: u64, replay: bool) -> bool {
        let index = partition as usize;
        if self.per_partition.len() <= index {
            self.per_partition.resize(index + 1, 0);
        }
        let high = &mut self.per_partition[index];
        let reread = !replay && offset < *high;
        *high = (*high).max(offset + 1);
        reread
    }
}

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use engine::graph::{ChannelId, OperatorKind, PhysicalPlan, SubtaskId};
use engine::message::Record;
use engine::ms_to_ns;
use engine::partition::{storm_fields_task, KeyHashCodes};
use engine::storm::acker::Acker;
use engine::storm::spout::SpoutExecutor;
use engine::storm::window::WindowedBolt;
use engine::storm::RootId;
use engine::SourceRef;

use crate::external::{SinkStore, SourceLog};
use crate::faults::Fault;
use crate::kernel::{SimRng, Stream, TimeNs};
use crate::network::slow_factor;
use crate::recording::{About, Payload, Recorder, TimedOut};
use crate::scenario::{NodeId, Scenario, StormConfig, Watermarks};

use bolt::BoltKind;
use spout::SpoutTask;
use trident::TridentRuntime;

#[derive(Clone, Debug)]
enum Role {
    Spout(SpoutTask),
    Bolt { kind: BoltKind, ends: usize },
    Acker(Acker),
}

#[derive(Clone, Debug)]
struct Exec {
    /// Plan subtask, or None for an acker.
    subtask: Option<SubtaskId>,
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

#[derive(Clone)]
pub struct StormCore {
    pub scenario: Arc<Scenario>,
    pub config: StormConfig,
    pub seed: u64,
    id_rng: SimRng,
    pub log: Arc<SourceLog>,
    /// `hashCode()` of every key's name, for the fields grouping (shared by clones).
    key_hash_codes: Arc<KeyHashCodes>,
    pub sink_store: SinkStore,
    pub recorder: Recorder,
    /// The run's faults (the world injects them by index).
    pub faults: Vec<Fault>,
    /// Those the network rules read: a slow node's factor applies to processing costs, and the
    /// world's messages cross partitions, spikes and loss.
    pub network_faults: crate::network::NetworkFaults,
    nodes_alive: Vec<bool>,
    node_incarnation: Vec<u32>,
    execs: Vec<Exec>,
    /// Kafka's committed offsets per partition: survive worker crashes.
    committed: Vec<u64>,
    /// What the spouts have emitted so far, to tell a re-read after a restart.
    emitted_high: EmittedHigh,
    trident: Option<TridentRuntime>,
    window_lag_ms: i64,
    pub stats: StormStats,
    /// Source records a windowed bolt dropped as late (any attempt): see `sim::oracle::Observed`.
    pub late_sources: std::collections::BTreeSet<engine::SourceRef>,
    pub finished_at_ns: Option<TimeNs>,
    /// `StormConfig::fails` resolved: (operator, predicate, times).
    fail_rules: Vec<(usize, engine::transform::FilterFn, u32)>,
    out: Vec<Out>,
    /// Messages in the executors' inboxes, over all of them (what the work limit bounds).
    inboxed: u64,
}

const ACKER_BUCKETS: usize = 2;

/// The executor that runs plan subtask `id`: executors number the plan's subtasks first, in id
/// order, then the ackers ([`subtask_of_executor`] is the other way).
pub fn executor_of(id: SubtaskId) -> usize {
    id.index()
}

/// The plan subtask `executor` runs, or None for an acker.
pub fn subtask_of_executor(plan: &PhysicalPlan, executor: usize) -> Option<SubtaskId> {
    plan.subtasks.get(executor).map(|s| s.id)
}

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
        let trident = config.trident.map(|t| TridentRuntime::new(t, config.max_spout_pending, &log));
        let mut core = StormCore {
            nodes_alive: vec![true; scenario.task_managers as usize + 1],
            node_incarnation: vec![0; scenario.task_managers as usize + 1],
            network_faults: crate::network::NetworkFaults::of(&faults),
            faults,
            seed,
            config,
            id_rng: SimRng::for_stream(seed, Stream::StormIds),
            committed: vec![0; scenario.partitions as usize],
            emitted_high: EmittedHigh::default(),
            log,
            key_hash_codes: Arc::new(KeyHashCodes::of_names(scenario.key_names.iter().map(String::as_str))),
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
            inboxed: 0,
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
        for id in SubtaskId::all(subtasks) {
            let node = core.scenario.node_of_subtask(id);
            let exec = core.fresh_exec(Some(id), node, 0, 0);
            core.execs.push(exec);
        }
        for i in 0..core.config.ackers {
            let node = NodeId::task_manager(i % core.scenario.task_managers);
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

    fn fresh_exec(&self, subtask: Option<SubtaskId>, node: NodeId, incarnation: u32, now: TimeNs) -> Exec {
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
                                plan.subtask(id).inputs.len(),
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
        let gates = subtask.map_or(0, |id| plan.subtask(id).outputs.len());
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
            Some(id) => self.scenario.plan.subtask(id).name.clone(),
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
                out[self.scenario.plan.subtask(id).operator] += e.records_in;
            }
        }
        out
    }

    /// Messages waiting in the executors' inboxes. A timeout storm that never ends re-emits every
    /// pending tuple each timeout while the slowest bolt works through the stale copies: its
    /// inbox is what grows (a fault-free topology's took 3 GB in 35 s, its estimate 337 MiB).
    pub fn inboxed_messages(&self) -> u64 {
        self.inboxed
    }

    /// A message arrives for executor `task` (sent to its `incarnation`): into its inbox, and
    /// a step armed for when the executor is free.
    pub fn deliver(&mut self, task: u32, incarnation: u32, msg: Msg, now: TimeNs) {
        let Some(e) = self.execs.get_mut(task as usize) else { return };
        if !e.alive || e.incarnation != incarnation {
            return; // the connection to the old worker is gone, and the message with it
        }
        e.inbox.push_back(msg);
        self.inboxed += 1;
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
                    self.recorder.record_payload(
                        now,
                        About::Executor(task as usize),
                        None,
                        Payload::StormTimeout(what),
                    );
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
        if self.nodes_alive.get(node.index()).is_none_or(|&a| a) || self.node_incarnation[node.index()] != incarnation {
            return;
        }
        let alive: Vec<NodeId> =
            (1..self.nodes_alive.len()).filter(|&n| self.nodes_alive[n]).map(NodeId::from_index).collect();
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
        Some((*self.nodes_alive.get(node.index())?, self.node_incarnation[node.index()]))
    }

    fn schedule_run(&mut self, task: usize, at: TimeNs) {
        let e = &mut self.execs[task];
        e.run_token += 1;
        e.run_at = Some(at);
        let (incarnation, token) = (e.incarnation, e.run_token);
        self.out.push(Out::Timer { at, timer: Timer::Run { task: task as u32, incarnation, token } });
    }

    fn cost(&self, task: usize, base_ns: u64, now: TimeNs) -> u64 {
        base_ns.saturating_mul(slow_factor(&self.network_faults, self.execs[task].node, now))
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

    /// `task` (plan subtask `id`) has emitted everything: tell every downstream executor.
    fn send_end_downstream(&mut self, task: usize, id: SubtaskId, now: TimeNs) {
        let targets: Vec<usize> = self
            .scenario
            .plan
            .subtask(id)
            .outputs
            .iter()
            .flat_map(|g| g.channels.iter().map(|&c| executor_of(self.scenario.plan.channel(c).to)))
            .collect();
        for to in targets {
            self.send(task, to, Msg::End, now);
        }
    }

    /// Targets of a tuple emitted by `task` (one per output gate's grouping choice).
    fn targets(&mut self, task: usize, record: &Record) -> Vec<usize> {
        let Some(id) = self.execs[task].subtask else { return Vec::new() };
        let plan = &self.scenario.plan;
        let mut out = Vec::new();
        for (g, gate) in plan.subtask(id).outputs.iter().enumerate() {
            let n = gate.channels.len();
            if n == 0 {
                continue;
            }
            use engine::partition::Partitioning;
            let chosen: Vec<ChannelId> = match gate.partitioning {
                Partitioning::Forward => vec![gate.channels[0]],
                Partitioning::Hash(sel) => {
                    let key = self.key_hash_codes.get(sel.select(record));
                    vec![gate.channel_to(storm_fields_task(key, n as u32))]
                }
                Partitioning::Rebalance => {
                    let i = self.execs[task].rr[g] % n;
                    self.execs[task].rr[g] += 1;
                    vec![gate.channels[i]]
                }
                Partitioning::Broadcast => gate.channels.clone(),
            };
            out.extend(chosen.into_iter().map(|c| executor_of(plan.channel(c).to)));
        }
        out
    }

    fn run_exec(&mut self, task: usize, now: TimeNs) {
        let msg = self.execs[task].inbox.pop_front();
        self.inboxed -= u64::from(msg.is_some());
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
                if let Some((txid, attempt)) = batch_done {
                    let coordinator = self.coordinator_task();
                    self.send(task, coordinator, Msg::BatchPartDone { txid, attempt, from: task as u32 }, now);
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
                let op = self.scenario.plan.subtask(self.execs[task].subtask?).operator;
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
            Msg::BatchPartDone { txid, attempt, from } => {
                self.trident_part_done(from as usize, (txid, attempt), now);
                Some(ack_cost)
            }
            Msg::Commit { txid, attempt, began_ns } => {
                self.bolt_commit(task, (txid, attempt), began_ns, now);
                Some(ack_cost)
            }
            Msg::CommitDone { txid, attempt, ok, from } => {
                self.trident_commit_done(from as usize, (txid, attempt), ok, now);
                Some(ack_cost)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EmittedHigh;

    #[test]
    fn a_re_read_is_an_emit_below_the_partitions_high_that_is_no_replay() {
        let mut high = EmittedHigh::default();
        assert!(!high.on_emit(2, 0, false), "a partition's first emit");
        assert!(!high.on_emit(2, 1, false));
        assert!(!high.on_emit(2, 0, true), "a replay of a failed or timed-out tree");
        assert!(high.on_emit(2, 1, false), "a restarted spout reading offset 1 again");
        assert!(!high.on_emit(0, 5, false), "partitions are apart");
        assert!(!high.on_emit(2, 2, false));
    }
}
