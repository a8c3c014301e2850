//! The world: wires the engine's subtasks to the kernel, the network model, fault injection and
//! the external systems, and runs it all on virtual time. Plain data: `Clone` it to fork or
//! rewind a run.

use std::collections::BTreeSet;
use std::sync::Arc;

use engine::checkpoint::{CheckpointCoordinator, CheckpointEvent, CheckpointMode};
use engine::graph::SubtaskId;
use engine::message::{Message, MessageKind};
use engine::sink::SinkEffect;
use engine::subtask::{Counters, Note, OperatorState, Output, Subtask};
use engine::SourceRef;
use serde::Serialize;

use crate::credit::Credits;
use crate::external::{CheckpointStorage, SinkStore, SourceLog};
use crate::faults::{Fault, Trigger};
use crate::invariants::{CommitInvariant, TaskInvariants};
use crate::kernel::{EventQueue, SimRng, Stream, TimeNs};
use crate::recording::{
    CheckpointOutcome, CheckpointStats, MetricsBucket, Recorder, SubtaskCheckpointStats, TraceKind,
};
use crate::scenario::{Guarantee, NodeId, Scenario, SnapshotStyle, JOB_MANAGER};
use crate::source_cursor::{NextRead, SourceCursor};
use crate::time_use::TimeUse;

/// Something scheduled to happen. Events of an earlier job attempt are dropped on arrival (a
/// restarted job discards what the old one had in flight).
#[derive(Clone, Debug)]
pub enum Event {
    /// A message reaches the input gate of the channel's receiver.
    Deliver { channel: u32, attempt: u32, message: Message },
    /// A subtask may process its next input (or, for a source, read the log).
    Run { subtask: u32, attempt: u32 },
    /// A subtask's processing-time timer.
    Timer { subtask: u32, attempt: u32, at_ns: TimeNs },
    /// The checkpoint coordinator's deadline (trigger or timeout).
    CoordinatorTick,
    /// The coordinator's trigger reaches a source (or finished) subtask.
    Trigger { subtask: u32, attempt: u32, checkpoint_id: u64 },
    /// A subtask's acknowledgement reaches the coordinator.
    Ack { subtask: u32, attempt: u32, checkpoint_id: u64, accepted: bool },
    /// `notifyCheckpointComplete` reaches a subtask.
    Notify { subtask: u32, attempt: u32, checkpoint_id: u64 },
    /// Close a metrics bucket.
    MetricsTick,
    /// A time-based fault starts (index into the run's faults).
    FaultStart { fault: u32 },
    /// A time-window fault ends (only recorded).
    FaultEnd { fault: u32 },
    /// A crashed node comes back (empty: it runs tasks again after the next job restart).
    NodeBack { node: u32 },
    /// The failure of `node` (crashed in its `incarnation`) is detected by heartbeat timeout.
    FailureDetected { node: u32, incarnation: u32 },
    /// The restart strategy's delay is over: redeploy every task.
    JobRestart,
}

/// Runtime bookkeeping around one engine subtask.
#[derive(Clone, Debug)]
pub struct Task {
    pub subtask: Subtask,
    pub operator: usize,
    pub node: NodeId,
    /// False when its node crashed or the job was cancelled, until the next restart.
    pub alive: bool,
    /// Processing cost of one record; control messages cost a tenth.
    pub record_cost_ns: TimeNs,
    pub busy_until_ns: TimeNs,
    /// A `Run` event is scheduled (at this time).
    run_at: Option<TimeNs>,
    /// The timer the scheduled `Timer` event is for.
    timer_at: Option<TimeNs>,
    /// Highest checkpoint this task snapshotted in the current attempt.
    last_snapshot_id: u64,
    /// When the checkpoint's first barrier reached this task (for statistics).
    barrier_seen_ns: Option<(u64, TimeNs)>,
    /// Invariants 1–3 of [`crate::invariants`], for this attempt.
    checks: TaskInvariants,
    /// Waiting for credit: an output channel is full (backpressure).
    pub backpressured: bool,
}

#[derive(Clone, Copy, Debug, Default)]
struct ChannelState {
    /// Arrival time of the last message sent: a later message never arrives earlier (FIFO).
    last_arrival_ns: TimeNs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct NodeState {
    pub alive: bool,
    /// Counts crashes, so a stale failure detection is recognised.
    pub incarnation: u32,
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum StopReason {
    /// Every task finished (and, with checkpoints, a final checkpoint completed).
    JobFinished,
    /// Nothing left to do, but the job did not finish (e.g. a node never came back).
    Stalled,
    /// Reached the scenario's `max_run_ms`.
    TimeLimit,
    /// The restart strategy gave up.
    JobFailed,
    /// An invariant check failed: a bug in the engine (see `World::violations`).
    InvariantViolated,
}

/// A broken invariant, with when and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub time_ns: TimeNs,
    pub subtask: Option<SubtaskId>,
    pub message: String,
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
    net_rng: SimRng,
    pub tasks: Vec<Task>,
    channels: Vec<ChannelState>,
    /// Flow control: messages per channel not yet taken by the receiver, full outputs per sender.
    credits: Credits,
    /// Per source subtask, its partitions' next entries (built on first read, dropped when the
    /// job restarts and the sources' positions change).
    source_cursors: Vec<Option<SourceCursor>>,
    pub nodes: Vec<NodeState>,
    pub faults: Vec<Fault>,
    /// When each fault fired (None: not yet, or never).
    pub fault_fired_at: Vec<Option<TimeNs>>,
    pub log: Arc<SourceLog>,
    pub sink_store: SinkStore,
    pub checkpoint_storage: CheckpointStorage,
    pub coordinator: Option<CheckpointCoordinator>,
    coordinator_tick_at: Option<TimeNs>,
    pub checkpoints: Vec<CheckpointStats>,
    pub recorder: Recorder,
    pub metrics: Vec<MetricsBucket>,
    bucket: MetricsBucket,
    options: RunOptions,
    /// Job attempt: 0 at the start, +1 for every failover.
    pub attempt: u32,
    /// Restarts so far (what the restart strategy counts).
    pub restarts: u32,
    /// A failover happened and the restart is pending.
    pub restarting: bool,
    /// Per partition, the next offset after the highest one any source read (at-most-once
    /// restarts from here: "the latest positions").
    source_high_water: Vec<u64>,
    /// Stop-the-world snapshots: sources wait while this checkpoint runs.
    stw_checkpoint: Option<u64>,
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
    /// Kernel events processed.
    pub events_processed: u64,
    /// Set when the job has finished for good.
    pub finished_at_ns: Option<TimeNs>,
    /// When the last task finished (the last record left the job), final checkpoint aside.
    pub all_tasks_finished_ns: Option<TimeNs>,
    /// The checkpoint that covers the job's final output, once completed.
    final_checkpoint: Option<u64>,
    /// Tasks that were notified of `final_checkpoint`.
    final_notified: std::collections::BTreeSet<SubtaskId>,
    /// Last triggered checkpoint at the moment every task had finished (None: not yet).
    final_checkpoint_after: Option<u64>,
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
        let config = scenario.checkpoint_config();
        let mode = config.map(|c| c.mode);
        let tasks = (0..scenario.plan.subtasks.len())
            .map(|id| {
                let operator = scenario.plan.subtasks[id].operator;
                Task {
                    subtask: Subtask::new(&scenario.plan, id, mode, 0, 0),
                    operator,
                    node: scenario.node_of_subtask(id),
                    alive: true,
                    record_cost_ns: scenario.record_cost_ns[operator],
                    busy_until_ns: 0,
                    run_at: None,
                    timer_at: None,
                    last_snapshot_id: 0,
                    barrier_seen_ns: None,
                    checks: TaskInvariants::default(),
                    backpressured: false,
                }
            })
            .collect();
        let operators = scenario.plan.operators.len();
        let coordinator = config.map(|c| {
            let mut coordinator = CheckpointCoordinator::new(c, scenario.plan.subtasks.len(), 0);
            coordinator.skip_idle_checkpoints();
            coordinator
        });
        let mut checkpoint_storage = CheckpointStorage::default();
        for f in &faults {
            if let Fault::CheckpointStorageFailure { checkpoint } = f {
                checkpoint_storage.failing.push(*checkpoint);
            }
        }
        let mut world = World {
            channels: vec![ChannelState::default(); scenario.plan.channels.len()],
            credits: Credits::new(&scenario.plan, scenario.channel_capacity),
            source_cursors: vec![None; scenario.plan.subtasks.len()],
            nodes: vec![NodeState { alive: true, incarnation: 0 }; scenario.task_managers as usize + 1],
            fault_fired_at: vec![None; faults.len()],
            faults,
            seed,
            queue: EventQueue::default(),
            net_rng: SimRng::for_stream(seed, Stream::Network),
            tasks,
            source_high_water: vec![0; scenario.partitions as usize],
            log,
            sink_store: SinkStore::default(),
            checkpoint_storage,
            coordinator,
            coordinator_tick_at: None,
            checkpoints: Vec::new(),
            recorder: Recorder::new(options.keep_trace),
            metrics: Vec::new(),
            bucket: MetricsBucket {
                start_ns: 0,
                records_in: vec![0; operators],
                watermark_lag_ms: vec![None; operators],
                ..MetricsBucket::default()
            },
            options,
            attempt: 0,
            restarts: 0,
            restarting: false,
            stw_checkpoint: None,
            commits: CommitInvariant::default(),
            violations: Vec::new(),
            late_sources: BTreeSet::new(),
            time_use: vec![TimeUse::default(); scenario.plan.subtasks.len()],
            earlier_attempts: Vec::new(),
            events_processed: 0,
            finished_at_ns: None,
            all_tasks_finished_ns: None,
            final_checkpoint_after: None,
            final_checkpoint: None,
            final_notified: std::collections::BTreeSet::new(),
            stop: None,
            scenario,
        };
        for (i, fault) in world.faults.clone().iter().enumerate() {
            let window = match fault {
                Fault::Crash { at: Trigger::At(t), .. } => Some((*t, None)),
                Fault::Partition { from_ns, until_ns, .. }
                | Fault::LatencySpike { from_ns, until_ns, .. }
                | Fault::MessageLoss { from_ns, until_ns, .. }
                | Fault::SlowNode { from_ns, until_ns, .. } => Some((*from_ns, Some(*until_ns))),
                _ => None,
            };
            if let Some((from, until)) = window {
                world.queue.schedule(from, Event::FaultStart { fault: i as u32 });
                if let Some(until) = until {
                    world.queue.schedule(until, Event::FaultEnd { fault: i as u32 });
                }
            }
        }
        world.start_tasks(0);
        world.arm_coordinator();
        world.queue.schedule(options.metrics_bucket_ns, Event::MetricsTick);
        world
    }

    pub fn now_ns(&self) -> TimeNs {
        self.queue.now_ns()
    }

    /// Counters per job attempt (earlier ones, then the current one), per subtask.
    pub fn counters_per_attempt(&self) -> Vec<Vec<Counters>> {
        let mut all = self.earlier_attempts.clone();
        all.push(self.tasks.iter().map(|t| t.subtask.counters()).collect());
        all
    }

    /// What the oracle sees of this world: its visible rows and the records dropped as late.
    pub fn observed(&self) -> crate::oracle::Observed<'_> {
        crate::oracle::Observed { rows: self.sink_store.visible(), late: &self.late_sources }
    }

    /// A subtask's counters summed over every job attempt.
    pub fn total_counters(&self, subtask: SubtaskId) -> Counters {
        let mut total = self.tasks[subtask].subtask.counters();
        for attempt in &self.earlier_attempts {
            if let Some(c) = attempt.get(subtask) {
                total.records_in += c.records_in;
                total.records_out += c.records_out;
                total.late_dropped += c.late_dropped;
            }
        }
        total
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        self.stop
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
        let limit_ns = self.scenario.max_run_ms * 1_000_000; // max_run_ms <= MAX_TIME_MS: <= 1e17
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
        self.events_processed += 1;
        self.handle(now, event);
        if !self.violations.is_empty() {
            self.stop = Some(StopReason::InvariantViolated);
        }
        true
    }

    /// Inject a fault now (the GUI's "crash this node"). Time windows count from now.
    pub fn inject(&mut self, fault: Fault) {
        let now = self.now_ns();
        let index = self.faults.len() as u32;
        self.fault_fired_at.push(None);
        if let Fault::CheckpointStorageFailure { checkpoint } = fault {
            self.checkpoint_storage.failing.push(checkpoint);
        }
        let until = match &fault {
            Fault::Partition { until_ns, .. }
            | Fault::LatencySpike { until_ns, .. }
            | Fault::MessageLoss { until_ns, .. }
            | Fault::SlowNode { until_ns, .. } => Some(*until_ns),
            _ => None,
        };
        self.faults.push(fault);
        self.queue.schedule(now, Event::FaultStart { fault: index });
        if let Some(until) = until {
            self.queue.schedule(until.max(now), Event::FaultEnd { fault: index });
        }
    }

    fn handle(&mut self, now: TimeNs, event: Event) {
        match event {
            Event::Deliver { channel, attempt, message } => {
                if attempt != self.attempt {
                    return;
                }
                let info = self.scenario.plan.channels[channel as usize];
                let to = info.to;
                if !self.tasks[to].alive {
                    // The receiver's process is gone, and its buffers with it.
                    self.credits.release_one(channel as usize);
                    return;
                }
                if let Message::Barrier(b) = &message {
                    let task = &mut self.tasks[to];
                    if task.barrier_seen_ns.is_none_or(|(cp, _)| cp < b.checkpoint_id) {
                        task.barrier_seen_ns = Some((b.checkpoint_id, now));
                    }
                }
                self.tasks[to].subtask.push_input(info.input_index, message);
                if self.tasks[to].run_at.is_none() {
                    if self.tasks[to].busy_until_ns <= now {
                        self.run_task(to, now);
                    } else {
                        let at = self.tasks[to].busy_until_ns;
                        self.schedule_run(to, at);
                    }
                }
            }
            Event::Run { subtask, attempt } => {
                if attempt != self.attempt {
                    return;
                }
                let id = subtask as usize;
                self.tasks[id].run_at = None;
                self.run_task(id, now);
            }
            Event::Timer { subtask, attempt, at_ns } => {
                let id = subtask as usize;
                if attempt != self.attempt || self.tasks[id].timer_at != Some(at_ns) || !self.tasks[id].alive {
                    return;
                }
                self.tasks[id].timer_at = None;
                self.tasks[id].subtask.handle_timer(now);
                self.drain_outputs(id);
                self.arm_timer(id);
            }
            Event::CoordinatorTick => {
                if self.coordinator_tick_at != Some(now) || self.checkpointing_done() {
                    return;
                }
                self.coordinator_tick_at = None;
                if !self.nodes[JOB_MANAGER].alive || self.restarting {
                    return;
                }
                let event = self.coordinator.as_mut().and_then(|c| c.on_tick(now));
                if let Some(event) = event {
                    self.on_checkpoint_event(event, now);
                }
                self.arm_coordinator();
            }
            Event::Trigger { subtask, attempt, checkpoint_id } => {
                let id = subtask as usize;
                if attempt != self.attempt || !self.tasks[id].alive || self.tasks[id].last_snapshot_id >= checkpoint_id
                {
                    return;
                }
                self.tasks[id].barrier_seen_ns = Some((checkpoint_id, now));
                self.tasks[id].subtask.trigger_checkpoint(checkpoint_id, now);
                self.drain_outputs(id);
            }
            Event::Ack { subtask, attempt, checkpoint_id, accepted } => {
                if attempt != self.attempt || !self.nodes[JOB_MANAGER].alive {
                    return;
                }
                let Some(coordinator) = self.coordinator.as_mut() else {
                    return;
                };
                let event = if accepted {
                    coordinator.on_ack(subtask as usize, checkpoint_id, now)
                } else {
                    coordinator.on_decline(checkpoint_id, now)
                };
                if let Some(event) = event {
                    self.on_checkpoint_event(event, now);
                }
                self.arm_coordinator();
            }
            Event::Notify { subtask, attempt, checkpoint_id } => {
                let id = subtask as usize;
                if attempt != self.attempt || !self.tasks[id].alive {
                    return;
                }
                self.tasks[id].subtask.notify_checkpoint_complete(checkpoint_id);
                self.drain_outputs(id);
                if self.final_checkpoint.is_some_and(|f| checkpoint_id >= f) {
                    self.final_notified.insert(id);
                    if self.final_notified.len() == self.tasks.len() {
                        self.finished_at_ns = Some(now);
                    }
                }
            }
            Event::MetricsTick => {
                self.close_bucket(now);
                // Keep ticking only while something else can still happen, and jump over
                // buckets in which nothing can happen: idle virtual time costs no events (the
                // series then has a gap, not a run of empty buckets).
                if let Some(next_event_ns) = self.queue.peek_time_ns() {
                    let bucket_ns = self.options.metrics_bucket_ns;
                    let mut next_tick_ns = now + bucket_ns;
                    if next_event_ns >= next_tick_ns {
                        self.bucket.start_ns = next_event_ns - next_event_ns % bucket_ns;
                        next_tick_ns = self.bucket.start_ns + bucket_ns;
                    }
                    self.queue.schedule(next_tick_ns, Event::MetricsTick);
                }
            }
            Event::FaultStart { fault } => self.start_fault(fault as usize, now),
            Event::FaultEnd { fault } => {
                self.recorder.record(now, TraceKind::NetworkFault, 0, fault, 0, 0);
            }
            Event::NodeBack { node } => {
                let node = node as usize;
                self.nodes[node].alive = true;
                self.recorder.record(now, TraceKind::NodeRestarted, node as u32, 0, 0, 0);
            }
            Event::FailureDetected { node, incarnation } => {
                if self.nodes[node as usize].incarnation == incarnation {
                    self.on_failure_detected(node as usize, now);
                }
            }
            Event::JobRestart => self.restart_job(now),
        }
    }

    // ---- running tasks ------------------------------------------------------------------------

    /// Let a task do one unit of work: a source reads one log entry, others process one input.
    fn run_task(&mut self, id: SubtaskId, now: TimeNs) {
        if !self.tasks[id].alive || self.tasks[id].subtask.is_finished() {
            return;
        }
        if !self.credits.has_credit(id) {
            self.tasks[id].backpressured = true;
            self.time_use[id].blocked(now);
            return; // resumes when the receiver frees a buffer
        }
        if self.tasks[id].subtask.is_source() {
            self.run_source(id, now);
            return;
        }
        let Some(step) = self.tasks[id].subtask.step(now) else {
            return;
        };
        self.release_credit(self.scenario.plan.subtasks[id].inputs[step.input], now);
        let slow = self.slow_factor(self.tasks[id].node, now);
        let task = &mut self.tasks[id];
        let cost = match step.kind {
            MessageKind::Record => task.record_cost_ns,
            _ => task.record_cost_ns / 10,
        } * slow; // bounded: cost <= MAX_COST_US (1e9 ns) x slow <= MAX_FACTOR (1e6) = 1e15
        task.busy_until_ns = now + cost;
        self.time_use[id].work(cost);
        if step.kind == MessageKind::Record {
            self.bucket.records_in[task.operator] += 1;
        }
        self.recorder.record(
            now,
            process_kind(step.kind),
            id as u32,
            0,
            step.input as i64,
            step.checkpoint_id.unwrap_or(0) as i64,
        );
        let aligned = self.scenario.checkpoint_config().is_some_and(|c| c.mode == CheckpointMode::ExactlyOnce);
        let inputs = self.scenario.plan.subtasks[id].inputs.len();
        if let Err(message) = self.tasks[id].checks.on_step(&step, inputs, aligned) {
            self.violate(now, Some(id), message);
        }
        if step.kind != MessageKind::Barrier {
            self.note_activity(now);
        }
        self.drain_outputs(id);
        self.arm_timer(id);
        if self.tasks[id].subtask.has_runnable_input() {
            let at = self.tasks[id].busy_until_ns;
            self.schedule_run(id, at);
        }
    }

    fn run_source(&mut self, id: SubtaskId, now: TimeNs) {
        if self.stw_checkpoint.is_some() {
            return; // stop-the-world: rescheduled when the checkpoint ends
        }
        // The next readable entry: the earliest-appended among the partitions' next offsets.
        let log = &self.log;
        let subtask = &self.tasks[id].subtask;
        let cursor = self.source_cursors[id].get_or_insert_with(|| SourceCursor::new(subtask.source_positions(), log));
        let next = cursor.next(now);
        match next {
            NextRead::Read(at) => {
                let SourceRef { partition, offset } = at;
                if let Some(cursor) = &mut self.source_cursors[id] {
                    cursor.advance(&self.log);
                }
                let event = self.log.event(at).expect("entry exists");
                let high = &mut self.source_high_water[partition as usize];
                *high = (*high).max(offset + 1);
                let slow = self.slow_factor(self.tasks[id].node, now);
                let task = &mut self.tasks[id];
                task.subtask.handle_source_record(partition, offset, event, now);
                task.busy_until_ns = now + task.record_cost_ns * slow;
                self.time_use[id].work(task.record_cost_ns * slow);
                self.bucket.records_in[task.operator] += 1;
                self.note_activity(now);
                self.recorder.record(now, TraceKind::SourceRead, id as u32, 0, partition as i64, offset as i64);
                self.drain_outputs(id);
                self.arm_timer(id);
                let at = self.tasks[id].busy_until_ns;
                self.schedule_run(id, at);
            }
            NextRead::Exhausted => {
                self.tasks[id].subtask.handle_source_exhausted();
                self.drain_outputs(id);
                self.arm_timer(id);
            }
            NextRead::WaitUntil(at) => self.schedule_run(id, at),
        }
    }

    /// The receiver took a message off `channel`: a buffer is free again; wake a waiting sender.
    fn release_credit(&mut self, channel: usize, now: TimeNs) {
        self.credits.release_one(channel);
        let from = self.scenario.plan.channels[channel].from;
        if self.tasks[from].backpressured && self.tasks[from].alive && self.credits.has_credit(from) {
            self.tasks[from].backpressured = false;
            self.time_use[from].unblocked(now);
            let at = self.tasks[from].busy_until_ns.max(now);
            self.schedule_run(from, at);
        }
    }

    fn schedule_run(&mut self, id: SubtaskId, at: TimeNs) {
        let task = &mut self.tasks[id];
        if task.run_at.is_some_and(|t| t <= at) {
            return;
        }
        task.run_at = Some(at);
        self.queue.schedule(at, Event::Run { subtask: id as u32, attempt: self.attempt });
    }

    fn arm_timer(&mut self, id: SubtaskId) {
        let task = &mut self.tasks[id];
        let wanted = task.subtask.next_timer_ns();
        if wanted != task.timer_at {
            task.timer_at = wanted;
            if let Some(at) = wanted {
                self.queue.schedule(at, Event::Timer { subtask: id as u32, attempt: self.attempt, at_ns: at });
            }
        }
    }

    fn slow_factor(&self, node: NodeId, now: TimeNs) -> u64 {
        crate::network::slow_factor(&self.faults, node, now)
    }

    // ---- the network --------------------------------------------------------------------------

    /// When a message sent now from `from` reaches `to`: latency, plus whatever network faults
    /// are active (a partition holds it until it heals; loss costs retransmissions).
    fn transit_arrival(&mut self, from: NodeId, to: NodeId, now: TimeNs) -> TimeNs {
        crate::network::transit_arrival(&self.scenario, &self.faults, &mut self.net_rng, from, to, now)
    }

    fn send(&mut self, from: SubtaskId, channel: usize, message: Message, now: TimeNs) {
        let to = self.scenario.plan.channels[channel].to;
        let arrival = self.transit_arrival(self.tasks[from].node, self.tasks[to].node, now);
        let state = &mut self.channels[channel];
        let arrival = arrival.max(state.last_arrival_ns);
        state.last_arrival_ns = arrival;
        self.credits.add(channel, 1);
        if let Err(message) = self.tasks[from].checks.on_send(channel, &message) {
            self.violate(now, Some(from), message);
        }
        let (kind, payload) = match &message {
            Message::Record(r) => (TraceKind::SendRecord, r.value),
            Message::Watermark(w) => (TraceKind::SendWatermark, *w),
            Message::Barrier(b) => (TraceKind::SendBarrier, b.checkpoint_id as i64),
            Message::Idle(idle) => (TraceKind::SendIdle, *idle as i64),
            Message::EndOfInput => (TraceKind::SendEndOfInput, 0),
        };
        self.recorder.record(now, kind, from as u32, channel as u32, arrival as i64, payload);
        self.queue.schedule(arrival, Event::Deliver { channel: channel as u32, attempt: self.attempt, message });
    }

    // ---- outputs ------------------------------------------------------------------------------

    /// Carry out everything a task asked for.
    fn drain_outputs(&mut self, id: SubtaskId) {
        let now = self.now_ns();
        while let Some(output) = self.tasks[id].subtask.poll_output() {
            if !self.tasks[id].alive {
                continue; // crashed while draining: the rest never happens
            }
            match output {
                Output::Send { channel, message } => self.send(id, channel, message, now),
                Output::Snapshot(report) => self.on_snapshot(id, *report, now),
                Output::Sink(effect) => self.on_sink_effect(id, effect, now),
                Output::Note(note) => self.on_note(id, note, now),
            }
        }
    }

    fn on_snapshot(&mut self, id: SubtaskId, report: engine::subtask::SnapshotReport, now: TimeNs) {
        let checkpoint_id = report.checkpoint_id;
        if let Err(message) = self.tasks[id].checks.on_snapshot(checkpoint_id) {
            self.violate(now, Some(id), message);
        }
        let stop_the_world = self.scenario.snapshot_style() == SnapshotStyle::StopTheWorld;
        let task = &mut self.tasks[id];
        task.last_snapshot_id = checkpoint_id;
        let first_barrier_ns = match task.barrier_seen_ns {
            Some((cp, t)) if cp == checkpoint_id => t,
            _ => now,
        };
        // Model: the synchronous part copies state at 1 GB/s (at least 10 us); the upload to
        // storage runs at 100 MB/s (at least 1 ms). Asynchronous snapshots block the task only
        // for the copy; stop-the-world ones for both.
        let sync_ns = report.state_size_bytes.max(10_000);
        let async_ns = (report.state_size_bytes * 10).max(1_000_000);
        let blocking_ns = if stop_the_world { sync_ns + async_ns } else { sync_ns };
        task.busy_until_ns = task.busy_until_ns.max(now) + blocking_ns;
        self.time_use[id].work(blocking_ns);
        let node = task.node;
        self.recorder.record(
            now,
            TraceKind::Snapshot,
            id as u32,
            0,
            checkpoint_id as i64,
            report.state_size_bytes as i64,
        );
        let accepted = self.checkpoint_storage.write(checkpoint_id, id, report.state);
        if accepted {
            self.checkpoint_storage.write_channel_state(checkpoint_id, id, report.channel_state);
        }
        if let Some(stats) = self.checkpoints.iter_mut().rev().find(|c| c.id == checkpoint_id) {
            stats.subtasks.push(SubtaskCheckpointStats {
                subtask: id,
                start_delay_ns: first_barrier_ns.saturating_sub(stats.triggered_ns),
                alignment_ns: now.saturating_sub(report.alignment_started_ns),
                sync_ns,
                async_ns,
                state_size_bytes: report.state_size_bytes,
            });
        }
        let arrival = self.transit_arrival(node, JOB_MANAGER, now + sync_ns + async_ns);
        self.queue.schedule(arrival, Event::Ack { subtask: id as u32, attempt: self.attempt, checkpoint_id, accepted });
    }

    fn on_sink_effect(&mut self, id: SubtaskId, effect: SinkEffect, now: TimeNs) {
        let sink = self.tasks[id].operator;
        let (kind, a, b) = match &effect {
            SinkEffect::Append(r) => (TraceKind::SinkAppend, r.key as i64, r.value),
            SinkEffect::Upsert(r) => (TraceKind::SinkUpsert, r.key as i64, r.value),
            SinkEffect::TxnWrite { row, .. } => (TraceKind::SinkTxnWrite, row.key as i64, row.value),
            SinkEffect::PreCommit { txn, checkpoint_id } => {
                (TraceKind::SinkPreCommit, txn.sequence as i64, *checkpoint_id as i64)
            }
            SinkEffect::Commit { txn } => (TraceKind::SinkCommit, txn.sequence as i64, txn.attempt as i64),
            SinkEffect::Recover { commit, .. } => (TraceKind::SinkRecover, commit.len() as i64, 0),
        };
        self.recorder.record(now, kind, id as u32, 0, a, b);
        for message in self.commits.on_sink_effect(&effect) {
            self.violate(now, Some(id), message);
        }
        let precommit = match &effect {
            SinkEffect::PreCommit { checkpoint_id, .. } => Some(*checkpoint_id),
            _ => None,
        };
        if let Some(timeout) = self.scenario.transaction_timeout_ns {
            self.sink_store.expire_transactions(now, timeout);
        }
        self.sink_store.apply(sink, id, effect, now);
        for i in self.sink_store.take_newly_visible() {
            let latency_ms = now.saturating_sub(self.sink_store.rows[i].row.ingest_ns) / 1_000_000;
            self.bucket.rows_visible += 1;
            self.bucket.latency_ms_sum += latency_ms;
            self.bucket.latency_ms_max = self.bucket.latency_ms_max.max(latency_ms);
        }
        if let Some(cp) = precommit {
            self.fire_crash_triggers(now, |t| *t == Trigger::AfterPreCommit(cp));
        }
    }

    fn on_note(&mut self, id: SubtaskId, note: Note, now: TimeNs) {
        let s = id as u32;
        match note {
            Note::LateDropped { key, timestamp_ms, source } => {
                self.late_sources.insert(source);
                self.recorder.record(now, TraceKind::LateDropped, s, 0, key as i64, timestamp_ms)
            }
            Note::LateForSomeWindows { source } => {
                self.late_sources.insert(source);
            }
            Note::AlignmentStarted { checkpoint_id, input } => {
                self.recorder.record(now, TraceKind::AlignmentStarted, s, 0, checkpoint_id as i64, input as i64);
                self.fire_crash_triggers(now, |t| {
                    *t == Trigger::WhileAligning { checkpoint: checkpoint_id, subtask: id }
                });
            }
            Note::InputBlocked { checkpoint_id, input } => {
                self.recorder.record(now, TraceKind::InputBlocked, s, 0, checkpoint_id as i64, input as i64)
            }
            Note::WatermarkAdvanced { watermark_ms } => {
                self.recorder.record(now, TraceKind::WatermarkAdvanced, s, 0, 0, watermark_ms)
            }
            Note::Finished => {
                self.recorder.record(now, TraceKind::Finished, s, 0, 0, 0);
                self.on_task_finished(id, now);
            }
        }
    }

    fn on_task_finished(&mut self, id: SubtaskId, now: TimeNs) {
        // A checkpoint in flight may wait for this task's ack, but a finished task will never
        // see its barrier: snapshot it directly (as Flink does for finished tasks).
        if let Some(pending) = self.coordinator.as_ref().and_then(|c| c.pending()) {
            let checkpoint_id = pending.id;
            if self.tasks[id].last_snapshot_id < checkpoint_id {
                self.queue.schedule(now, Event::Trigger { subtask: id as u32, attempt: self.attempt, checkpoint_id });
            }
        }
        if self.tasks.iter().all(|t| t.subtask.is_finished()) {
            self.all_tasks_finished_ns = Some(now);
            match &self.coordinator {
                // Without checkpoints, sinks committed at end of input: the job is done.
                None => self.finished_at_ns = Some(now),
                // The final output must be covered by a checkpoint *triggered* after this point:
                // one already in flight snapshotted the sinks before their last writes.
                Some(c) => self.final_checkpoint_after = Some(c.last_triggered()),
            }
        }
    }

    // ---- checkpoints --------------------------------------------------------------------------

    /// The job is done and a checkpoint taken after it finished has completed (so transactional
    /// sinks committed everything): no more checkpoints.
    fn checkpointing_done(&self) -> bool {
        let latest = self.coordinator.as_ref().and_then(|c| c.latest_completed());
        self.final_checkpoint_after.is_some_and(|after| latest.is_some_and(|l| l > after))
    }

    /// A task did something a snapshot would see; wakes a coordinator asleep over idle time.
    fn note_activity(&mut self, now: TimeNs) {
        if self.coordinator.as_mut().is_some_and(|c| c.note_activity(now)) {
            self.arm_coordinator();
        }
    }

    fn arm_coordinator(&mut self) {
        if self.checkpointing_done() {
            return;
        }
        let Some(c) = &self.coordinator else { return };
        if c.is_dormant() {
            self.coordinator_tick_at = None;
            return;
        }
        let at = c.next_deadline_ns();
        if self.coordinator_tick_at != Some(at) {
            self.coordinator_tick_at = Some(at);
            self.queue.schedule(at, Event::CoordinatorTick);
        }
    }

    fn on_checkpoint_event(&mut self, event: CheckpointEvent, now: TimeNs) {
        match event {
            CheckpointEvent::Triggered { id } => {
                self.recorder.record(now, TraceKind::CheckpointTriggered, 0, 0, id as i64, 0);
                self.checkpoints.push(CheckpointStats {
                    id,
                    triggered_ns: now,
                    outcome: CheckpointOutcome::InProgress,
                    subtasks: Vec::new(),
                });
                if self.scenario.snapshot_style() == SnapshotStyle::StopTheWorld {
                    self.stw_checkpoint = Some(id);
                }
                // Sources start it; finished tasks (which will never see a barrier) snapshot directly.
                let targets: Vec<SubtaskId> = (0..self.tasks.len())
                    .filter(|&t| self.tasks[t].subtask.is_source() || self.tasks[t].subtask.is_finished())
                    .collect();
                for t in targets {
                    let arrival = self.transit_arrival(JOB_MANAGER, self.tasks[t].node, now);
                    self.queue.schedule(
                        arrival,
                        Event::Trigger { subtask: t as u32, attempt: self.attempt, checkpoint_id: id },
                    );
                }
                self.fire_crash_triggers(now, |t| *t == Trigger::OnCheckpointTrigger(id));
            }
            CheckpointEvent::Completed { id } => {
                self.recorder.record(now, TraceKind::CheckpointCompleted, 0, 0, id as i64, 0);
                if let Some(stats) = self.checkpoints.iter_mut().rev().find(|c| c.id == id) {
                    stats.outcome = CheckpointOutcome::Completed { at_ns: now };
                }
                self.commits.on_checkpoint_completed(id);
                self.end_stop_the_world(id, now);
                self.checkpoint_storage.discard_before(id);
                self.fire_crash_triggers(now, |t| *t == Trigger::AfterCheckpointComplete(id));
                if self.nodes[JOB_MANAGER].alive {
                    for t in 0..self.tasks.len() {
                        let arrival = self.transit_arrival(JOB_MANAGER, self.tasks[t].node, now);
                        self.queue.schedule(
                            arrival,
                            Event::Notify { subtask: t as u32, attempt: self.attempt, checkpoint_id: id },
                        );
                    }
                }
                if self.final_checkpoint_after.is_some_and(|after| id > after) {
                    // Every task had finished and this checkpoint covers their final output.
                    // The job ends once every task heard of it (so transactional sinks have
                    // committed): a crash before that still fails over and recovers.
                    self.final_checkpoint = Some(id);
                    self.final_notified.clear();
                    self.queue.retain(|e| !matches!(e, Event::CoordinatorTick));
                    self.coordinator_tick_at = None;
                }
            }
            CheckpointEvent::Aborted { id, reason } => {
                self.recorder.record(now, TraceKind::CheckpointAborted, 0, 0, id as i64, reason as i64);
                if let Some(stats) = self.checkpoints.iter_mut().rev().find(|c| c.id == id) {
                    stats.outcome = CheckpointOutcome::Aborted { at_ns: now, reason };
                }
                self.end_stop_the_world(id, now);
            }
        }
    }

    fn end_stop_the_world(&mut self, id: u64, now: TimeNs) {
        if self.stw_checkpoint == Some(id) {
            self.stw_checkpoint = None;
            for t in 0..self.tasks.len() {
                if self.tasks[t].subtask.is_source() && self.tasks[t].alive {
                    let at = self.tasks[t].busy_until_ns.max(now);
                    self.schedule_run(t, at);
                }
            }
        }
    }

    // ---- faults and recovery ------------------------------------------------------------------

    fn start_fault(&mut self, index: usize, now: TimeNs) {
        if self.fault_fired_at[index].is_some() {
            return;
        }
        self.fault_fired_at[index] = Some(now);
        match self.faults[index].clone() {
            Fault::Crash { node, restart_after_ns, .. } => self.crash_node(node, restart_after_ns, now),
            Fault::Partition { a, b, until_ns, .. } => {
                self.recorder.record(now, TraceKind::NetworkFault, 0, index as u32, a as i64, b as i64);
                // Heartbeats across the partition stop: if it outlasts the timeout, the job
                // manager declares the task manager lost (or the task managers lose the job manager).
                let tm = if a == JOB_MANAGER {
                    Some(b)
                } else if b == JOB_MANAGER {
                    Some(a)
                } else {
                    None
                };
                if let Some(tm) = tm {
                    let detect_at = self.detection_time(now);
                    if detect_at < until_ns {
                        let incarnation = self.nodes[tm].incarnation;
                        self.queue.schedule(detect_at, Event::FailureDetected { node: tm as u32, incarnation });
                    }
                }
            }
            _ => self.recorder.record(now, TraceKind::NetworkFault, 0, index as u32, 0, 0),
        }
    }

    /// Crash every fault whose trigger matches (each fault fires once).
    fn fire_crash_triggers(&mut self, now: TimeNs, matches: impl Fn(&Trigger) -> bool) {
        for i in 0..self.faults.len() {
            if self.fault_fired_at[i].is_some() {
                continue;
            }
            if let Fault::Crash { at, .. } = &self.faults[i] {
                if !matches!(at, Trigger::At(_)) && matches(at) {
                    self.start_fault(i, now);
                }
            }
        }
    }

    /// Heartbeats go out every interval; a failure is noticed `timeout` after the last one.
    fn detection_time(&self, now: TimeNs) -> TimeNs {
        let fd = self.scenario.failure_detection;
        let interval = fd.heartbeat_interval_ms * 1_000_000;
        let last_heartbeat = now - now % interval;
        (last_heartbeat + fd.heartbeat_timeout_ms * 1_000_000).max(now + 1)
    }

    /// Kill a node: its tasks lose all state and buffers at once.
    pub fn crash_node(&mut self, node: NodeId, restart_after_ns: Option<TimeNs>, now: TimeNs) {
        if !self.nodes[node].alive {
            return;
        }
        self.nodes[node].alive = false;
        self.nodes[node].incarnation += 1;
        self.recorder.record(now, TraceKind::NodeCrashed, node as u32, 0, restart_after_ns.map_or(-1, |d| d as i64), 0);
        for id in 0..self.tasks.len() {
            if self.tasks[id].node != node {
                continue;
            }
            self.tasks[id].alive = false;
            self.time_use[id].unblocked(now);
            self.tasks[id].subtask.clear_inputs();
            // Its input buffers are gone: their credit goes back to the senders.
            for &c in &self.scenario.plan.subtasks[id].inputs {
                self.credits.clear(c);
            }
        }
        if let Some(delay) = restart_after_ns {
            self.queue.schedule(now + delay, Event::NodeBack { node: node as u32 });
        }
        let incarnation = self.nodes[node].incarnation;
        let detect_at = self.detection_time(now);
        self.queue.schedule(detect_at, Event::FailureDetected { node: node as u32, incarnation });
    }

    /// Global failover: cancel every task, then restart after the strategy's delay.
    fn on_failure_detected(&mut self, node: NodeId, now: TimeNs) {
        if self.restarting || self.finished_at_ns.is_some() {
            return;
        }
        self.recorder.record(now, TraceKind::FailureDetected, node as u32, 0, 0, 0);
        self.attempt += 1;
        self.restarts += 1;
        for (task, time) in self.tasks.iter_mut().zip(&mut self.time_use) {
            task.alive = false;
            task.subtask.clear_inputs();
            time.unblocked(now);
        }
        self.stw_checkpoint = None;
        if let Some(event) = self.coordinator.as_mut().and_then(|c| c.on_job_restart(now)) {
            self.on_checkpoint_event(event, now);
        }
        match self.scenario.restart.delay_ms(self.restarts) {
            Some(delay_ms) => {
                self.restarting = true;
                self.queue.schedule(now + delay_ms * 1_000_000, Event::JobRestart);
            }
            None => self.stop = Some(StopReason::JobFailed),
        }
    }

    fn restart_job(&mut self, now: TimeNs) {
        // Wait for the nodes the job needs; a node that never returns gives its tasks away.
        let needed: Vec<NodeId> = self.tasks.iter().map(|t| t.node).chain([JOB_MANAGER]).collect();
        if let Some(&down) = needed.iter().find(|&&n| !self.nodes[n].alive) {
            // The earliest return of that node (min: independent of the heap's internal order).
            let back = self.queue.iter_unsorted().filter_map(|(t, e)| match e {
                Event::NodeBack { node } if *node as usize == down => Some(t),
                _ => None,
            });
            match back.min() {
                Some(t) => self.queue.schedule(t + 1, Event::JobRestart),
                None if down == JOB_MANAGER => self.stop = Some(StopReason::JobFailed),
                None => {
                    // Redeploy on the surviving task managers, round robin (spare capacity assumed).
                    let alive: Vec<NodeId> = (1..self.nodes.len()).filter(|&n| self.nodes[n].alive).collect();
                    if alive.is_empty() {
                        self.stop = Some(StopReason::JobFailed);
                        return;
                    }
                    let nodes = &self.nodes;
                    for (k, task) in self.tasks.iter_mut().filter(|t| !nodes[t.node].alive).enumerate() {
                        task.node = alive[k % alive.len()];
                    }
                    self.queue.schedule(now, Event::JobRestart);
                }
            }
            return;
        }
        self.restarting = false;
        let restore_from = match self.scenario.guarantee {
            Guarantee::AtMostOnce => None,
            _ => self.coordinator.as_ref().and_then(|c| c.latest_completed()),
        };
        self.recorder.record(
            now,
            TraceKind::JobRestarted,
            0,
            0,
            self.attempt as i64,
            restore_from.map_or(-1, |c| c as i64),
        );
        let mode: Option<CheckpointMode> = self.scenario.checkpoint_config().map(|c| c.mode);
        let high_water: Vec<(u32, u64)> =
            self.source_high_water.iter().enumerate().map(|(p, o)| (p as u32, *o)).collect();
        let mut restored_occupancy: Vec<(usize, u32)> = Vec::new();
        self.earlier_attempts.push(self.tasks.iter().map(|t| t.subtask.counters()).collect());
        for id in 0..self.tasks.len() {
            let state: Option<OperatorState> = restore_from
                .and_then(|cp| self.checkpoint_storage.get(cp))
                .and_then(|snapshots| snapshots.get(&id).cloned());
            let mut subtask = match state {
                Some(state) => {
                    let channel_state = self.checkpoint_storage.channel_state(restore_from.unwrap_or(0), id);
                    // Restored in-flight data re-enters the channels: it occupies their buffers.
                    for (input, messages) in channel_state.iter().enumerate() {
                        let c = self.scenario.plan.subtasks[id].inputs[input];
                        restored_occupancy.push((c, messages.len() as u32));
                    }
                    Subtask::restored_with_channel_state(
                        &self.scenario.plan,
                        id,
                        mode,
                        self.attempt,
                        now,
                        state,
                        channel_state,
                    )
                }
                None => Subtask::new(&self.scenario.plan, id, mode, self.attempt, now),
            };
            if self.scenario.guarantee == Guarantee::AtMostOnce {
                subtask.set_source_positions(&high_water);
            }
            let task = &mut self.tasks[id];
            task.subtask = subtask;
            task.alive = true;
            task.busy_until_ns = now;
            task.run_at = None;
            task.timer_at = None;
            task.last_snapshot_id = 0;
            task.barrier_seen_ns = None;
            task.checks = TaskInvariants::default();
            task.backpressured = false;
            self.time_use[id].unblocked(now);
        }
        for channel in &mut self.channels {
            *channel = ChannelState::default();
        }
        self.credits.clear_all();
        self.source_cursors.iter_mut().for_each(|c| *c = None);
        for (c, n) in restored_occupancy {
            self.credits.add(c, n);
        }
        self.final_checkpoint_after = None;
        self.final_checkpoint = None;
        self.start_tasks(now);
        if let Some(c) = self.coordinator.as_mut() {
            c.on_job_restart(now);
        }
        self.arm_coordinator();
    }

    /// Let fresh (or restored) tasks say what they have to say, and start the sources.
    fn start_tasks(&mut self, now: TimeNs) {
        for id in 0..self.tasks.len() {
            self.drain_outputs(id);
            if self.tasks[id].subtask.is_source() {
                self.schedule_run(id, now);
            }
            self.arm_timer(id);
        }
    }

    // ---- invariants ---------------------------------------------------------------------------

    fn violate(&mut self, now: TimeNs, subtask: Option<SubtaskId>, message: String) {
        self.violations.push(Violation { time_ns: now, subtask, message });
    }

    // ---- metrics ------------------------------------------------------------------------------

    fn close_bucket(&mut self, now: TimeNs) {
        let operators = self.scenario.plan.operators.len();
        for op in 0..operators {
            let first = self.scenario.plan.operators[op].first_subtask;
            let n = self.scenario.plan.operators[op].parallelism as usize;
            // Idle subtasks do not hold anything back, so they do not count towards the lag.
            let min_wm = (first..first + n)
                .filter(|&s| !self.tasks[s].subtask.is_output_idle())
                .map(|s| self.tasks[s].subtask.output_watermark())
                .min()
                .unwrap_or(i64::MIN);
            self.bucket.watermark_lag_ms[op] =
                (min_wm != i64::MIN && min_wm != i64::MAX).then(|| (now / 1_000_000) as i64 - min_wm);
        }
        let next = MetricsBucket {
            start_ns: now,
            records_in: vec![0; operators],
            watermark_lag_ms: vec![None; operators],
            ..MetricsBucket::default()
        };
        let done = std::mem::replace(&mut self.bucket, next);
        self.metrics.push(done);
    }
}

fn process_kind(kind: MessageKind) -> TraceKind {
    match kind {
        MessageKind::Record => TraceKind::ProcessRecord,
        MessageKind::Watermark => TraceKind::ProcessWatermark,
        MessageKind::Barrier => TraceKind::ProcessBarrier,
        MessageKind::Idle => TraceKind::ProcessIdle,
        MessageKind::EndOfInput => TraceKind::ProcessEndOfInput,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::checkpoint::AbortReason;

    const TWO_INPUTS: &str = r#"Scenario(
        name: "two inputs",
        duration_ms: 1_000,
        source: Generator((partitions: 2, rate_per_s: 100)),
        pipeline: [Source(name: "s", parallelism: 2), KeyBy(Key), Window(name: "w", kind: Tumbling(size_ms: 100), aggregate: Count), Sink(name: "k")],
        checkpoints: (interval_ms: 100, mode: ExactlyOnce),
    )"#;

    fn world() -> (World, SubtaskId) {
        let scenario = Arc::new(Scenario::parse(TWO_INPUTS, "test").unwrap());
        let window = scenario.plan.subtask_by_name("w[0]").unwrap();
        (World::new(scenario, 1, RunOptions::default()), window)
    }

    #[test]
    fn a_real_aligned_run_never_trips_the_checker() {
        let (mut w, _) = world();
        assert_eq!(w.run(), StopReason::JobFinished);
        assert!(w.violations.is_empty(), "{:?}", w.violations);
        assert!(w.checkpoints.len() >= 5);
    }

    #[test]
    fn a_failed_storage_write_declines_the_checkpoint() {
        let scenario = Arc::new(Scenario::parse(TWO_INPUTS, "test").unwrap());
        let faults = vec![Fault::CheckpointStorageFailure { checkpoint: 2 }];
        let mut w = World::with_faults(scenario, 1, RunOptions::default(), faults);
        assert_eq!(w.run(), StopReason::JobFinished);
        let outcome = |id: u64| w.checkpoints.iter().find(|c| c.id == id).map(|c| c.outcome.clone());
        assert!(matches!(outcome(1), Some(CheckpointOutcome::Completed { .. })));
        assert!(matches!(outcome(2), Some(CheckpointOutcome::Aborted { reason: AbortReason::Declined, .. })));
        assert!(matches!(outcome(3), Some(CheckpointOutcome::Completed { .. })));
    }

    #[test]
    fn restart_strategies() {
        use crate::scenario::RestartStrategy;
        let fixed = RestartStrategy::FixedDelay { delay_ms: 100, max_attempts: 2 };
        assert_eq!((1..=3).map(|n| fixed.delay_ms(n)).collect::<Vec<_>>(), vec![Some(100), Some(100), None]);
        let exp = RestartStrategy::ExponentialDelay {
            initial_delay_ms: 100,
            max_delay_ms: 350,
            multiplier_milli: 2_000,
            max_attempts: 9,
        };
        assert_eq!(
            (1..=4).map(|n| exp.delay_ms(n)).collect::<Vec<_>>(),
            vec![Some(100), Some(200), Some(350), Some(350)]
        );
    }

    #[test]
    fn a_crashed_node_is_detected_and_the_job_restarts() {
        let (mut w, _) = world();
        w.run_until(300_000_000);
        w.inject(Fault::Crash { node: 1, at: Trigger::At(0), restart_after_ns: Some(100_000_000) });
        assert_eq!(w.run(), StopReason::JobFinished);
        let kinds: Vec<TraceKind> = w.recorder.events().iter().map(|e| e.kind).collect();
        let crash = kinds.iter().position(|k| *k == TraceKind::NodeCrashed).expect("crashed");
        let detected = kinds.iter().position(|k| *k == TraceKind::FailureDetected).expect("detected");
        let restarted = kinds.iter().position(|k| *k == TraceKind::JobRestarted).expect("restarted");
        assert!(crash < detected && detected < restarted);
        assert_eq!(w.restarts, 1);
    }
}
