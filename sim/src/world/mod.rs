//! The world: wires the engine's subtasks to the kernel, the network model, fault injection and
//! the external systems, and runs it all on virtual time. Plain data: `Clone` it to fork or
//! rewind a run.
//!
//! Its parts, one file each (all `impl World`; the job's decisions are in [`crate::job`]):
//!
//! | file | part |
//! |---|---|
//! | `mod.rs` | the types, construction, and the event loop (`step`, `handle`) |
//! | `network.rs` | channels: latency and network faults, FIFO, credit-based flow control ([`Network`]) |
//! | `hosts.rs` | running tasks on their nodes: scheduling, processing cost, slow nodes, sources |
//! | `outputs.rs` | what a task asks for: sends, snapshot → storage → ack, sink effects, notes |
//! | `checkpoints.rs` | the coordinator's deadlines and checkpoint events, stop-the-world snapshots |
//! | `recovery.rs` | faults: scheduling and injecting them, crashes, failure detection, failover, restart |
//! | `metrics.rs` | metrics buckets and invariant violations |
//! | `report.rs` | what a run reports: why it stopped, broken invariants, counters, the job's state |

mod checkpoints;
mod hosts;
mod metrics;
mod network;
mod outputs;
mod recovery;
mod report;
#[cfg(test)]
mod tests;

pub use metrics::OpenBucket;
pub use network::Network;
pub use report::{StopReason, Violation, WORK_LIMIT_TEXT};

use engine::ms_to_ns;
use engine::CheckpointId;
use std::collections::BTreeSet;
use std::sync::Arc;

use engine::checkpoint::{CheckpointCoordinator, CheckpointEvent, CheckpointMode};
use engine::graph::{ChannelId, InputIndex, SubtaskId};
use engine::message::{Message, MessageKind};
use engine::sink::SinkEffect;
use engine::subtask::{Counters, Note, Output, Subtask};
use engine::SourceRef;
use serde::Serialize;

use crate::external::{CheckpointStorage, SinkStore, SourceLog};
use crate::faults::{Fault, Trigger};
pub use crate::invariants::InvariantViolation;
use crate::invariants::{CommitInvariant, TaskInvariants};
use crate::job::task::{
    apply_sink_effect, checkpoint_aborted, checkpoint_completed, deploy_subtask, note_late, persist_snapshot,
    HighWater, SourceRead,
};
pub use crate::job::JobFailure;
use crate::job::{Failover, JobMaster, RestorePlan};
use crate::kernel::{stream_seed, EventQueue, SimRng, Stream, TimeNs};
use crate::recording::{
    About, CheckpointOutcome, CheckpointStats, MetricsBucket, Payload, Recorder, SubtaskCheckpointStats,
};
use crate::scenario::{NodeId, Scenario, SnapshotStyle, JOB_MANAGER};
use crate::source_cursor::{Consumer, SourceCursor};
use crate::time_use::TimeUse;

/// Something scheduled to happen. Events of an earlier job attempt are dropped on arrival (a
/// restarted job discards what the old one had in flight).
#[derive(Clone, Debug)]
pub enum Event {
    /// The head buffer on `channel`'s wire reaches the receiver's input gate (void when the
    /// channel was reset since: another `generation`).
    Deliver { channel: ChannelId, generation: u32 },
    /// A sender's output flusher round (`execution.buffer-timeout`).
    Flush { subtask: SubtaskId, attempt: u32, at_ns: TimeNs },
    /// A subtask may process its next input (or, for a source, read the log).
    Run { subtask: SubtaskId, attempt: u32 },
    /// A subtask's processing-time timer.
    Timer { subtask: SubtaskId, attempt: u32, at_ns: TimeNs },
    /// The checkpoint coordinator's deadline (trigger or timeout).
    CoordinatorTick,
    /// The coordinator's trigger (made at `triggered_ns`) reaches a source (or finished) subtask.
    Trigger { subtask: SubtaskId, attempt: u32, checkpoint_id: CheckpointId, triggered_ns: TimeNs },
    /// A subtask's acknowledgement reaches the coordinator.
    Ack { subtask: SubtaskId, attempt: u32, checkpoint_id: CheckpointId, accepted: bool },
    /// `notifyCheckpointComplete` reaches a subtask.
    Notify { subtask: SubtaskId, attempt: u32, checkpoint_id: CheckpointId },
    /// Close a metrics bucket.
    MetricsTick,
    /// A time-based fault starts (index into the run's faults).
    FaultStart { fault: u32 },
    /// A time-window fault ends (only recorded).
    FaultEnd { fault: u32 },
    /// A crashed node comes back (empty: it runs tasks again after the next job restart).
    NodeBack { node: NodeId },
    /// The failure of `node` (crashed in its `incarnation`) is detected by heartbeat timeout.
    FailureDetected { node: NodeId, incarnation: u32 },
    /// The restart strategy's delay is over: redeploy every task.
    JobRestart,
}

impl Event {
    /// The names of the kinds of event, in [`Event::kind`]'s order: what the benchmark's
    /// breakdown of kernel events prints.
    pub const KIND_NAMES: [&'static str; 14] = [
        "Deliver",
        "Flush",
        "Run",
        "Timer",
        "CoordinatorTick",
        "Trigger",
        "Ack",
        "Notify",
        "MetricsTick",
        "FaultStart",
        "FaultEnd",
        "NodeBack",
        "FailureDetected",
        "JobRestart",
    ];

    /// [`Event::kind`] of a `Run`.
    pub const RUN_KIND: usize = 2;

    /// This event's kind: its index into [`Event::KIND_NAMES`].
    pub fn kind(&self) -> usize {
        match self {
            Event::Deliver { .. } => 0,
            Event::Flush { .. } => 1,
            Event::Run { .. } => Event::RUN_KIND,
            Event::Timer { .. } => 3,
            Event::CoordinatorTick => 4,
            Event::Trigger { .. } => 5,
            Event::Ack { .. } => 6,
            Event::Notify { .. } => 7,
            Event::MetricsTick => 8,
            Event::FaultStart { .. } => 9,
            Event::FaultEnd { .. } => 10,
            Event::NodeBack { .. } => 11,
            Event::FailureDetected { .. } => 12,
            Event::JobRestart => 13,
        }
    }
}

/// Runtime bookkeeping around one engine subtask.
///
/// Laid out by hand (`repr(C)`, declaration order): the fields every task run reads come
/// first and share the first cache line (a source's cursor the second). At parallelism 64 the 128 tasks take turns, each run
/// finds its task cold, and every line of it touched is a miss; left to the compiler these
/// fields were spread over several lines around the 1 KiB subtask.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub struct Task {
    pub busy_until_ns: TimeNs,
    /// A `Run` event is scheduled (at this time).
    run_at: Option<TimeNs>,
    /// The timer the scheduled `Timer` event is for.
    timer_at: Option<TimeNs>,
    /// Processing cost of one record; control messages cost a tenth.
    pub record_cost_ns: TimeNs,
    /// The job attempt this task runs in (its region's last restart; events of an earlier
    /// attempt of the task are stale).
    pub attempt: u32,
    pub node: NodeId,
    /// Its operator's index in the plan, in 32 bits so that it fits in the first line: every
    /// run counts its record in the operator's metrics bucket.
    operator: u32,
    /// False when its node crashed or the job was cancelled, until the next restart.
    pub alive: bool,
    /// Waiting for credit: an output channel is full (backpressure).
    pub backpressured: bool,
    /// A source's partitions' next log entries (None until its first read after deployment).
    source_cursor: Option<SourceCursor>,
    pub subtask: Subtask,
    /// Highest checkpoint this task snapshotted in the current attempt.
    last_snapshot_id: Option<CheckpointId>,
    /// When the checkpoint's first barrier reached this task (for statistics).
    barrier_seen_ns: Option<(CheckpointId, TimeNs)>,
    /// Invariants 1–3 of [`crate::invariants`], for this attempt.
    checks: TaskInvariants,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct NodeState {
    pub alive: bool,
    /// Counts crashes, so a stale failure detection is recognised.
    pub incarnation: u32,
}

/// Options that do not change what happens, only what is kept.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Keep every trace event (the GUI and trace export need them; the hash is always kept).
    pub keep_trace: bool,
    pub metrics_bucket_ns: TimeNs,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { keep_trace: true, metrics_bucket_ns: 1_000_000_000 }
    }
}

#[derive(Clone)]
pub struct World {
    pub scenario: Arc<Scenario>,
    pub seed: u64,
    pub queue: EventQueue<Event>,
    network: Network,
    pub tasks: Vec<Task>,
    pub nodes: Vec<NodeState>,
    pub faults: Vec<Fault>,
    /// The faults the network rules read per message and task run ([`crate::network`]).
    network_faults: crate::network::NetworkFaults,
    /// When each fault fired (None: not yet, or never).
    pub fault_fired_at: Vec<Option<TimeNs>>,
    pub log: Arc<SourceLog>,
    pub sink_store: SinkStore,
    pub checkpoint_storage: CheckpointStorage,
    /// The job's rules: coordinator, failover, restore plans, the end of the job.
    pub job: JobMaster,
    coordinator_tick_at: Option<TimeNs>,
    pub checkpoints: Vec<CheckpointStats>,
    pub recorder: Recorder,
    pub metrics: Vec<MetricsBucket>,
    bucket: OpenBucket,
    /// Per partition, the next offset after the highest one any source read (at-most-once
    /// restarts from here: "the latest positions").
    high_water: HighWater,
    /// Per subtask, its source's Kafka consumer in this attempt (None: not a source, or one that
    /// does not fetch); set when it is deployed (`World::start_consumer`).
    consumers: Vec<Option<Consumer>>,
    /// Stop-the-world snapshots: sources wait while this checkpoint runs.
    stw_checkpoint: Option<CheckpointId>,
    /// Per node, the asynchronous snapshot uploads `(start, end)` that may still run: they
    /// compete with the node's tasks for its cores (`World::cpu_share`).
    uploads: Vec<Vec<(TimeNs, TimeNs)>>,
    /// Invariant 4 of [`crate::invariants`]: commits only what a completed checkpoint covers.
    commits: CommitInvariant,
    pub violations: Vec<Violation>,
    /// Source records a window operator dropped as late, or skipped as late for some of its
    /// windows, in any job attempt: the oracle's evidence that their effect is missing by the
    /// event-time rules, not lost by a failure (`sim::oracle::Observed`).
    pub late_sources: BTreeSet<SourceRef>,
    /// Per subtask, how it spent its time (busy, backpressured, idle) over every attempt.
    pub time_use: Vec<TimeUse>,
    /// Per earlier job attempt, every subtask's counters when that attempt was replaced (a
    /// restart starts the counters of the new subtasks at zero).
    pub earlier_attempts: Vec<Vec<Counters>>,
    /// Per restart, the subtasks it redeployed (every subtask under full failover, the failed
    /// pipelined regions' otherwise).
    pub restarted_tasks: Vec<Vec<SubtaskId>>,
    /// Kernel events processed (popped from the queue).
    pub events_processed: u64,
    /// Times an input was blocked by barrier alignment, over every attempt (aligned
    /// exactly-once only: unaligned barriers, Chandy–Lamport markers and tracking never block;
    /// `compare --checkpoint-mode` shows it).
    pub inputs_blocked: u64,
    /// [`Scenario::work_limit`], read once: past it the run stops ([`StopReason::WorkLimit`]).
    work_limit: crate::scenario::WorkLimit,
    /// Kernel events processed per kind ([`Event::kind`]).
    pub events_by_kind: [u64; Event::KIND_NAMES.len()],
    /// Of the `Run` events processed, those of source subtasks (a source's next read).
    pub source_run_events: u64,
    /// Task runs taken without a kernel event: the task's next run was the world's next event
    /// anyway, so the world moved its clock there instead of queueing it (see `run_again`).
    pub runs_inline: u64,
    /// Take a task's next run inline when it is the next event (true by default; false queues
    /// every run as an event: the same run, more kernel events — the benchmark's old figure).
    pub inline_runs: bool,
    /// Take a run inline only if it is before this time (`TimeNs::MAX` by default): a caller
    /// that stops the world at a time ([`World::run_until`]) to add events for later sets it
    /// there, lest an inline run pass that time ([`crate::run::Reference`] forks so).
    pub inline_runs_before_ns: TimeNs,
    /// While a `Run` or `Deliver` is handled: the task it runs, and (set by `run_again`) when
    /// it runs again inline.
    inline: Option<(SubtaskId, Option<TimeNs>)>,
    /// Set when the job has finished for good.
    pub finished_at_ns: Option<TimeNs>,
    /// When the last task finished (the last record left the job), final checkpoint aside.
    pub all_tasks_finished_ns: Option<TimeNs>,
    stop: Option<StopReason>,
}

impl World {
    pub fn new(scenario: Arc<Scenario>, seed: u64, options: RunOptions) -> World {
        let faults = scenario.faults_for_seed(seed);
        World::with_faults(scenario, seed, options, faults)
    }

    /// A world with an explicit fault schedule (the scenario's own faults are not added).
    pub fn with_faults(scenario: Arc<Scenario>, seed: u64, options: RunOptions, faults: Vec<Fault>) -> World {
        let mut gen_rng = SimRng::for_stream(seed, Stream::Generator);
        let log = Arc::new(SourceLog::build(&scenario.log, scenario.partitions, scenario.duration_ms, &mut gen_rng));
        World::with_faults_and_log(scenario, seed, options, faults, log)
    }

    /// [`World::with_faults`] reading `log`, the source log another run of the same scenario and
    /// seed built (it depends on nothing else): a variant shares its reference's log.
    pub fn with_faults_and_log(
        scenario: Arc<Scenario>,
        seed: u64,
        options: RunOptions,
        faults: Vec<Fault>,
        log: Arc<SourceLog>,
    ) -> World {
        let job = JobMaster::new(&scenario, seed, 0, true);
        let first = job.first_deployment();
        let storage = CheckpointStorage::default();
        let tasks = scenario
            .plan
            .subtask_ids()
            .map(|id| {
                let operator = scenario.plan.subtask(id).operator;
                Task {
                    subtask: deploy_subtask(&scenario, &storage, id, &first, 0).subtask,
                    operator: u32::try_from(operator).expect("a plan has fewer than 2^32 operators"),
                    node: scenario.node_of_subtask(id),
                    alive: true,
                    attempt: 0,
                    record_cost_ns: scenario.record_cost_ns[operator],
                    busy_until_ns: 0,
                    run_at: None,
                    timer_at: None,
                    last_snapshot_id: None,
                    barrier_seen_ns: None,
                    checks: TaskInvariants::default(),
                    backpressured: false,
                    source_cursor: None,
                }
            })
            .collect();
        let operators = scenario.plan.operators.len();
        let mut checkpoint_storage = CheckpointStorage::default();
        for f in &faults {
            if let Fault::CheckpointStorageFailure { checkpoint } = f {
                checkpoint_storage.failing.push(*checkpoint);
            }
        }
        let mut world = World {
            nodes: vec![NodeState { alive: true, incarnation: 0 }; scenario.task_managers as usize + 1],
            fault_fired_at: vec![None; faults.len()],
            network_faults: crate::network::NetworkFaults::of(&faults),
            faults,
            seed,
            queue: EventQueue::default(),
            network: Network::new(&scenario.plan, scenario.channel_capacity, scenario.buffer_timeout_ns, seed),
            tasks,
            high_water: HighWater::new(scenario.partitions),
            log,
            sink_store: SinkStore::default(),
            checkpoint_storage,
            job,
            coordinator_tick_at: None,
            checkpoints: Vec::new(),
            recorder: Recorder::new(options.keep_trace),
            metrics: Vec::new(),
            bucket: OpenBucket::new(operators, options.metrics_bucket_ns),
            consumers: vec![None; scenario.plan.subtasks.len()],
            stw_checkpoint: None,
            uploads: vec![Vec::new(); scenario.task_managers as usize + 1],
            commits: CommitInvariant::for_job(scenario.checkpoint_config().is_some()),
            violations: Vec::new(),
            late_sources: BTreeSet::new(),
            time_use: vec![TimeUse::default(); scenario.plan.subtasks.len()],
            earlier_attempts: Vec::new(),
            restarted_tasks: Vec::new(),
            events_processed: 0,
            inputs_blocked: 0,
            work_limit: scenario.work_limit(),
            events_by_kind: [0; Event::KIND_NAMES.len()],
            source_run_events: 0,
            runs_inline: 0,
            inline_runs: true,
            inline_runs_before_ns: TimeNs::MAX,
            inline: None,
            finished_at_ns: None,
            all_tasks_finished_ns: None,
            stop: None,
            scenario,
        };
        for i in 0..world.faults.len() {
            world.schedule_fault(i);
        }
        let first = world.job.first_deployment();
        world.start_tasks(&first, 0);
        world.arm_coordinator();
        world.queue.schedule(options.metrics_bucket_ns, Event::MetricsTick);
        world
    }

    /// Run until the job finishes, nothing is left to do, or the time limit.
    pub fn run(&mut self) -> StopReason {
        while self.stop.is_none() {
            self.step();
        }
        self.stop.expect("loop ends when set")
    }

    /// Run until virtual time `until_ns` (events at exactly `until_ns` included) or the end.
    pub fn run_until(&mut self, until_ns: TimeNs) {
        while self.stop.is_none() && self.queue.peek_time_ns().is_some_and(|t| t <= until_ns) {
            self.step();
        }
    }

    /// Process one kernel event. Returns false once the run has stopped.
    pub fn step(&mut self) -> bool {
        if self.stop.is_some() {
            return false;
        }
        if self.finished_at_ns.is_some() {
            // The job is over: whatever is still queued (a fault scheduled for later, a timer of
            // an idle source, the metrics tick) cannot change its output or its verdict.
            self.close_bucket(self.now_ns());
            self.stop = Some(StopReason::JobFinished);
            return false;
        }
        let limit_ns = ms_to_ns(self.scenario.max_run_ms); // max_run_ms <= MAX_TIME_MS: <= 1e17
        let Some((now, event)) = self.queue.pop() else {
            self.close_bucket(self.now_ns());
            self.stop = Some(if self.finished_at_ns.is_some() { StopReason::JobFinished } else { StopReason::Stalled });
            return false;
        };
        if now > limit_ns {
            self.close_bucket(now);
            self.stop = Some(StopReason::TimeLimit);
            return false;
        }
        let done = crate::scenario::WorkDone {
            kernel_events: self.events_processed,
            sink_lineage: self.sink_store.lineage_entries(),
            held_messages: self.queue.len() as u64,
        };
        if self.work_limit.reached(done) {
            self.close_bucket(now);
            self.stop = Some(StopReason::WorkLimit);
            return false;
        }
        self.events_processed += 1;
        self.events_by_kind[event.kind()] += 1;
        if let Event::Run { subtask, .. } = event {
            if self.tasks[subtask.index()].subtask.is_source() {
                self.source_run_events += 1;
            }
        }
        self.handle(now, event);
        if let Some(first) = self.violations.first() {
            self.stop = Some(StopReason::InvariantViolated(first.violation));
        }
        true
    }

    /// Run task `id` now, and again for as long as its next run is the world's next event: the
    /// clock moves there without a round through the queue (exactly what popping that `Run`
    /// would do, since nothing else comes before it).
    fn run_inline(&mut self, id: SubtaskId, now: TimeNs) {
        self.inline = Some((id, None));
        self.run_task(id, now);
        while let Some((_, Some(at))) = self.inline {
            self.inline = Some((id, None));
            self.queue.advance_to(at);
            self.runs_inline += 1;
            self.run_task(id, at);
        }
        self.inline = None;
    }

    /// Task `id` wants to run again at `at`: inline when it is being run by `run_inline` and
    /// nothing queued comes at or before `at` (a queued event at the same time was scheduled
    /// first, so it goes first), otherwise a `Run` event.
    pub(super) fn run_again(&mut self, id: SubtaskId, at: TimeNs) {
        let limit_ns = self.scenario.max_run_ms * 1_000_000;
        let inline = self.inline_runs
            && matches!(self.inline, Some((task, None)) if task == id)
            && self.tasks[id.index()].run_at.is_none()
            && at <= limit_ns
            && at < self.inline_runs_before_ns
            && self.finished_at_ns.is_none()
            && self.violations.is_empty()
            && self.queue.peek_time_ns().is_none_or(|t| at < t);
        if inline {
            self.inline = Some((id, Some(at)));
        } else {
            self.schedule_run(id, at);
        }
    }

    fn handle(&mut self, now: TimeNs, event: Event) {
        match event {
            Event::Deliver { channel, generation } => self.on_deliver(channel, generation, now),
            Event::Run { subtask, attempt } => {
                if attempt == self.tasks[subtask.index()].attempt {
                    self.tasks[subtask.index()].run_at = None;
                    self.run_inline(subtask, now);
                }
            }
            Event::Flush { subtask, attempt, at_ns } => {
                if self.is_current(subtask, attempt) {
                    self.flush_all(subtask, at_ns, now);
                }
            }
            Event::Timer { subtask, attempt, at_ns } => self.on_timer(subtask, attempt, at_ns, now),
            Event::CoordinatorTick => self.on_coordinator_tick(now),
            Event::Trigger { subtask, attempt, checkpoint_id, triggered_ns } => {
                self.on_trigger(subtask, attempt, checkpoint_id, triggered_ns, now)
            }
            Event::Ack { subtask, attempt, checkpoint_id, accepted } => {
                self.on_ack(subtask, attempt, checkpoint_id, accepted, now)
            }
            Event::Notify { subtask, attempt, checkpoint_id } => self.on_notify(subtask, attempt, checkpoint_id, now),
            Event::MetricsTick => self.on_metrics_tick(now),
            Event::FaultStart { fault } => self.start_fault(fault as usize, now),
            Event::FaultEnd { fault } => self.record_fault(fault as usize, true, now),
            Event::NodeBack { node } => {
                self.nodes[node.index()].alive = true;
                self.recorder.record_payload(now, node, None, Payload::NodeRestarted);
            }
            Event::FailureDetected { node, incarnation } => {
                if self.nodes[node.index()].incarnation == incarnation {
                    self.on_failure_detected(node, now);
                }
            }
            Event::JobRestart => self.restart_job(now),
        }
    }

    /// An event of task `id`'s attempt `attempt` still concerns it: the task is alive in that
    /// attempt (events of an earlier attempt, or for a crashed task, are stale).
    fn is_current(&self, id: SubtaskId, attempt: u32) -> bool {
        attempt == self.tasks[id.index()].attempt && self.tasks[id.index()].alive
    }

    /// A buffer arrives: the receiver runs now if it is free, else when it is.
    fn on_deliver(&mut self, channel: ChannelId, generation: u32, now: TimeNs) {
        let Some(to) = self.deliver(channel, generation, now) else {
            return;
        };
        if self.tasks[to.index()].run_at.is_none() {
            if self.tasks[to.index()].busy_until_ns <= now {
                self.run_inline(to, now);
            } else {
                let at = self.tasks[to.index()].busy_until_ns;
                self.schedule_run(to, at);
            }
        }
    }

    fn on_timer(&mut self, id: SubtaskId, attempt: u32, at_ns: TimeNs, now: TimeNs) {
        if !self.is_current(id, attempt) || self.tasks[id.index()].timer_at != Some(at_ns) {
            return;
        }
        self.tasks[id.index()].timer_at = None;
        self.tasks[id.index()].subtask.handle_timer(now);
        self.drain_outputs(id);
        self.arm_timer(id);
        // An alignment that timed out unblocks inputs and queues overtaking barriers.
        if !self.tasks[id.index()].subtask.is_source() && self.tasks[id.index()].subtask.has_runnable_input() {
            let at = self.tasks[id.index()].busy_until_ns.max(now);
            self.schedule_run(id, at);
        }
    }

    fn on_coordinator_tick(&mut self, now: TimeNs) {
        if self.coordinator_tick_at != Some(now) || self.checkpointing_done() {
            return;
        }
        self.coordinator_tick_at = None;
        if !self.nodes[JOB_MANAGER.index()].alive || self.job.is_restarting() {
            return;
        }
        if let Some(event) = self.job.on_tick(now) {
            self.on_checkpoint_event(event, now);
        }
        self.arm_coordinator();
    }

    fn on_trigger(
        &mut self,
        id: SubtaskId,
        attempt: u32,
        checkpoint_id: CheckpointId,
        triggered_ns: TimeNs,
        now: TimeNs,
    ) {
        if !self.is_current(id, attempt) || self.tasks[id.index()].last_snapshot_id >= Some(checkpoint_id) {
            return;
        }
        self.tasks[id.index()].barrier_seen_ns = Some((checkpoint_id, now));
        self.tasks[id.index()].subtask.trigger_checkpoint(checkpoint_id, triggered_ns, now);
        self.drain_outputs(id);
    }

    fn on_ack(&mut self, id: SubtaskId, attempt: u32, checkpoint_id: CheckpointId, accepted: bool, now: TimeNs) {
        let coordinator_up = self.nodes[JOB_MANAGER.index()].alive && self.job.coordinator().is_some();
        if attempt != self.tasks[id.index()].attempt || !coordinator_up {
            return;
        }
        if let Some(event) = self.job.on_ack(id, checkpoint_id, accepted, now) {
            self.on_checkpoint_event(event, now);
        }
        self.arm_coordinator();
    }

    fn on_notify(&mut self, id: SubtaskId, attempt: u32, checkpoint_id: CheckpointId, now: TimeNs) {
        if !self.is_current(id, attempt) {
            return;
        }
        self.tasks[id.index()].subtask.notify_checkpoint_complete(checkpoint_id);
        self.drain_outputs(id);
        if self.job.on_notified(id, checkpoint_id) {
            self.finished_at_ns = Some(now);
        }
    }

    /// Close the metrics bucket. Keep ticking only while something else can still happen, and
    /// jump over buckets in which nothing can happen: idle virtual time costs no events (the
    /// series then has a gap, not a run of empty buckets).
    fn on_metrics_tick(&mut self, now: TimeNs) {
        self.close_bucket(now);
        if let Some(next_event_ns) = self.queue.peek_time_ns() {
            let next_tick_ns = self.bucket.next_tick(now, next_event_ns);
            self.queue.schedule(next_tick_ns, Event::MetricsTick);
        }
    }
}
