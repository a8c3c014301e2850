//! The world: wires the engine's subtasks to the kernel, the network model, fault injection and
//! the external systems, and runs it all on virtual time. Plain data: `Clone` it to fork or
//! rewind a run.

use std::collections::BTreeSet;
use std::sync::Arc;

use engine::checkpoint::{CheckpointCoordinator, CheckpointEvent, CheckpointMode};
use engine::graph::SubtaskId;
use engine::message::{Message, MessageKind};
use engine::sink::SinkEffect;
use engine::subtask::{Counters, Note, Output, Subtask};
use engine::SourceRef;
use serde::Serialize;

use crate::external::{CheckpointStorage, SinkStore, SourceLog};
use crate::faults::{Fault, Trigger};
use crate::invariants::{CommitInvariant, TaskInvariants};
use crate::job::task::{
    apply_sink_effect, checkpoint_completed, deploy_subtask, next_source_read, note_late, persist_snapshot, HighWater,
    SourceRead,
};
use crate::job::{Failover, JobMaster};
use crate::kernel::{EventQueue, SimRng, Stream, TimeNs};
use crate::recording::{
    CheckpointOutcome, CheckpointStats, MetricsBucket, Recorder, SubtaskCheckpointStats, TraceKind,
};
use crate::scenario::{NodeId, Scenario, SnapshotStyle, JOB_MANAGER};
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
    /// The job attempt this task runs in (its region's last restart; events of an earlier
    /// attempt of the task are stale).
    pub attempt: u32,
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
    /// Messages sent and not yet taken out of the receiver's input gate (flow control).
    pub occupancy: u32,
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
    pub nodes: Vec<NodeState>,
    pub faults: Vec<Fault>,
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
    bucket: MetricsBucket,
    options: RunOptions,
    /// Per partition, the next offset after the highest one any source read (at-most-once
    /// restarts from here: "the latest positions").
    high_water: HighWater,
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
        let job = JobMaster::new(&scenario, 0, true);
        let first = job.first_deployment();
        let storage = CheckpointStorage::default();
        let tasks = (0..scenario.plan.subtasks.len())
            .map(|id| {
                let operator = scenario.plan.subtasks[id].operator;
                Task {
                    subtask: deploy_subtask(&scenario, &storage, id, &first, 0).subtask,
                    operator,
                    node: scenario.node_of_subtask(id),
                    alive: true,
                    attempt: 0,
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
        let mut checkpoint_storage = CheckpointStorage::default();
        for f in &faults {
            if let Fault::CheckpointStorageFailure { checkpoint } = f {
                checkpoint_storage.failing.push(*checkpoint);
            }
        }
        let mut world = World {
            channels: vec![ChannelState::default(); scenario.plan.channels.len()],
            nodes: vec![NodeState { alive: true, incarnation: 0 }; scenario.task_managers as usize + 1],
            fault_fired_at: vec![None; faults.len()],
            faults,
            seed,
            queue: EventQueue::default(),
            net_rng: SimRng::for_stream(seed, Stream::Network),
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
            bucket: MetricsBucket {
                start_ns: 0,
                records_in: vec![0; operators],
                watermark_lag_ms: vec![None; operators],
                ..MetricsBucket::default()
            },
            options,
            stw_checkpoint: None,
            commits: CommitInvariant::default(),
            violations: Vec::new(),
            late_sources: BTreeSet::new(),
            time_use: vec![TimeUse::default(); scenario.plan.subtasks.len()],
            earlier_attempts: Vec::new(),
            events_processed: 0,
            finished_at_ns: None,
            all_tasks_finished_ns: None,
            stop: None,
            scenario,
        };
        for i in 0..world.faults.len() {
            world.schedule_fault(i);
        }
        let first = world.job.first_deployment();
        world.start_tasks(&first.tasks, 0);
        world.arm_coordinator();
        world.queue.schedule(options.metrics_bucket_ns, Event::MetricsTick);
        world
    }

    pub fn now_ns(&self) -> TimeNs {
        self.queue.now_ns()
    }

    /// The checkpoint coordinator (None without checkpoints).
    pub fn coordinator(&self) -> Option<&CheckpointCoordinator> {
        self.job.coordinator()
    }

    /// Job attempt: 0 at the start, +1 for every failover.
    pub fn attempt(&self) -> u32 {
        self.job.attempt()
    }

    /// Restarts so far (what the restart strategy counts).
    pub fn restarts(&self) -> u32 {
        self.job.restarts()
    }

    /// A failover happened and the restart is pending.
    pub fn restarting(&self) -> bool {
        self.job.is_restarting()
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

    /// Schedule fault `index`'s start and end at the times it names (a timed crash, a window).
    fn schedule_fault(&mut self, index: usize) {
        let window = match &self.faults[index] {
            Fault::Crash { at: Trigger::At(t), .. } => Some((*t, None)),
            Fault::Partition { from_ns, until_ns, .. }
            | Fault::LatencySpike { from_ns, until_ns, .. }
            | Fault::MessageLoss { from_ns, until_ns, .. }
            | Fault::SlowNode { from_ns, until_ns, .. } => Some((*from_ns, Some(*until_ns))),
            _ => None,
        };
        if let Some((from, until)) = window {
            self.queue.schedule(from, Event::FaultStart { fault: index as u32 });
            if let Some(until) = until {
                self.queue.schedule(until, Event::FaultEnd { fault: index as u32 });
            }
        }
    }

    /// Add a fault to the schedule of a running world, as if it had been in the list given to
    /// [`World::with_faults`]: it fires at the time it names (the GUI's fork with a clicked
    /// fault). The world then runs exactly as a fresh world with the longer list would, provided
    /// every event so far happened before the fault's times and no event already queued shares
    /// them (`World::fault_times_free` says so; both fresh and added, the fault's events then
    /// come first at their times).
    pub fn add_fault(&mut self, fault: Fault) {
        let index = self.faults.len();
        self.fault_fired_at.push(None);
        if let Fault::CheckpointStorageFailure { checkpoint } = fault {
            self.checkpoint_storage.failing.push(checkpoint);
        }
        self.faults.push(fault);
        self.schedule_fault(index);
    }

    /// Whether `fault` can be added now by [`World::add_fault`] with the same effect as listing
    /// it from the start: its times are later than now and no queued event is at one of them.
    pub fn fault_times_free(&self, fault: &Fault) -> bool {
        let times: Vec<TimeNs> = match fault {
            Fault::Crash { at: Trigger::At(t), .. } => vec![*t],
            Fault::Partition { from_ns, until_ns, .. }
            | Fault::LatencySpike { from_ns, until_ns, .. }
            | Fault::MessageLoss { from_ns, until_ns, .. }
            | Fault::SlowNode { from_ns, until_ns, .. } => vec![*from_ns, *until_ns],
            _ => Vec::new(),
        };
        let now = self.now_ns();
        times.iter().all(|&t| t > now && !self.queue.iter_unsorted().any(|(at, _)| at == t))
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
                let info = self.scenario.plan.channels[channel as usize];
                let to = info.to;
                if attempt != self.tasks[to].attempt {
                    return;
                }
                if !self.tasks[to].alive {
                    // The receiver's process is gone, and its buffers with it.
                    let state = &mut self.channels[channel as usize];
                    state.occupancy = state.occupancy.saturating_sub(1);
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
                let id = subtask as usize;
                if attempt != self.tasks[id].attempt {
                    return;
                }
                self.tasks[id].run_at = None;
                self.run_task(id, now);
            }
            Event::Timer { subtask, attempt, at_ns } => {
                let id = subtask as usize;
                if attempt != self.tasks[id].attempt || self.tasks[id].timer_at != Some(at_ns) || !self.tasks[id].alive
                {
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
                if !self.nodes[JOB_MANAGER].alive || self.job.is_restarting() {
                    return;
                }
                let event = self.job.on_tick(now);
                if let Some(event) = event {
                    self.on_checkpoint_event(event, now);
                }
                self.arm_coordinator();
            }
            Event::Trigger { subtask, attempt, checkpoint_id } => {
                let id = subtask as usize;
                if attempt != self.tasks[id].attempt
                    || !self.tasks[id].alive
                    || self.tasks[id].last_snapshot_id >= checkpoint_id
                {
                    return;
                }
                self.tasks[id].barrier_seen_ns = Some((checkpoint_id, now));
                self.tasks[id].subtask.trigger_checkpoint(checkpoint_id, now);
                self.drain_outputs(id);
            }
            Event::Ack { subtask, attempt, checkpoint_id, accepted } => {
                if attempt != self.tasks[subtask as usize].attempt || !self.nodes[JOB_MANAGER].alive {
                    return;
                }
                if self.job.coordinator().is_none() {
                    return;
                }
                if let Some(event) = self.job.on_ack(subtask as usize, checkpoint_id, accepted, now) {
                    self.on_checkpoint_event(event, now);
                }
                self.arm_coordinator();
            }
            Event::Notify { subtask, attempt, checkpoint_id } => {
                let id = subtask as usize;
                if attempt != self.tasks[id].attempt || !self.tasks[id].alive {
                    return;
                }
                self.tasks[id].subtask.notify_checkpoint_complete(checkpoint_id);
                self.drain_outputs(id);
                if self.job.on_notified(id, checkpoint_id) {
                    self.finished_at_ns = Some(now);
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
        if !self.has_credit(id) {
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
        let SourceRead { next, upcoming, exhausted } = next_source_read(&self.tasks[id].subtask, &self.log, now);
        match next {
            Some((_, partition, offset)) => {
                let at = SourceRef { partition, offset };
                let Some(event) = self.log.event(at) else {
                    return; // next_source_read only names entries that exist
                };
                self.high_water.on_read(partition, offset);
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
            None if exhausted => {
                self.tasks[id].subtask.handle_source_exhausted();
                self.drain_outputs(id);
                self.arm_timer(id);
            }
            None => {
                if let Some(at) = upcoming {
                    self.schedule_run(id, at);
                }
            }
        }
    }

    /// Can this task emit? Not while any output channel is full.
    fn has_credit(&self, id: SubtaskId) -> bool {
        let Some(capacity) = self.scenario.channel_capacity else {
            return true;
        };
        self.scenario.plan.subtasks[id]
            .outputs
            .iter()
            .all(|gate| gate.channels.iter().all(|&c| self.channels[c].occupancy < capacity))
    }

    /// The receiver took a message off `channel`: a buffer is free again; wake a waiting sender.
    fn release_credit(&mut self, channel: usize, now: TimeNs) {
        let state = &mut self.channels[channel];
        state.occupancy = state.occupancy.saturating_sub(1);
        let from = self.scenario.plan.channels[channel].from;
        if self.tasks[from].backpressured && self.tasks[from].alive && self.has_credit(from) {
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
        self.queue.schedule(at, Event::Run { subtask: id as u32, attempt: task.attempt });
    }

    fn arm_timer(&mut self, id: SubtaskId) {
        let task = &mut self.tasks[id];
        let wanted = task.subtask.next_timer_ns();
        if wanted != task.timer_at {
            task.timer_at = wanted;
            if let Some(at) = wanted {
                self.queue.schedule(at, Event::Timer { subtask: id as u32, attempt: task.attempt, at_ns: at });
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
        state.occupancy += 1;
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
        let attempt = self.tasks[from].attempt;
        self.queue.schedule(arrival, Event::Deliver { channel: channel as u32, attempt, message });
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
        let state_size_bytes = report.state_size_bytes;
        let alignment_started_ns = report.alignment_started_ns;
        let accepted = persist_snapshot(&mut self.checkpoint_storage, id, report);
        if let Some(stats) = self.checkpoints.iter_mut().rev().find(|c| c.id == checkpoint_id) {
            stats.subtasks.push(SubtaskCheckpointStats {
                subtask: id,
                start_delay_ns: first_barrier_ns.saturating_sub(stats.triggered_ns),
                alignment_ns: now.saturating_sub(alignment_started_ns),
                sync_ns,
                async_ns,
                state_size_bytes,
            });
        }
        let arrival = self.transit_arrival(node, JOB_MANAGER, now + sync_ns + async_ns);
        let attempt = self.tasks[id].attempt;
        self.queue.schedule(arrival, Event::Ack { subtask: id as u32, attempt, checkpoint_id, accepted });
    }

    fn on_sink_effect(&mut self, id: SubtaskId, effect: SinkEffect, now: TimeNs) {
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
        let precommit = match &effect {
            SinkEffect::PreCommit { checkpoint_id, .. } => Some(*checkpoint_id),
            _ => None,
        };
        let scenario = Arc::clone(&self.scenario);
        for message in apply_sink_effect(&scenario, &mut self.sink_store, &mut self.commits, id, effect, now) {
            self.violate(now, Some(id), message);
        }
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
        note_late(&note, &mut self.late_sources);
        match note {
            Note::LateDropped { key, timestamp_ms, .. } => {
                self.recorder.record(now, TraceKind::LateDropped, s, 0, key as i64, timestamp_ms)
            }
            Note::LateForSomeWindows { .. } => {}
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
        let reaction = self.job.on_task_finished(id);
        if let Some(checkpoint_id) = reaction.trigger.filter(|&cp| self.tasks[id].last_snapshot_id < cp) {
            let attempt = self.tasks[id].attempt;
            self.queue.schedule(now, Event::Trigger { subtask: id as u32, attempt, checkpoint_id });
        }
        if reaction.all_finished {
            self.all_tasks_finished_ns = Some(now);
        }
        if reaction.job_finished {
            self.finished_at_ns = Some(now);
        }
    }

    // ---- checkpoints --------------------------------------------------------------------------

    /// The job is done and a checkpoint taken after it finished has completed (so transactional
    /// sinks committed everything): no more checkpoints.
    fn checkpointing_done(&self) -> bool {
        self.job.checkpointing_done()
    }

    /// A task did something a snapshot would see; wakes a coordinator asleep over idle time.
    fn note_activity(&mut self, now: TimeNs) {
        if self.job.note_activity(now) {
            self.arm_coordinator();
        }
    }

    fn arm_coordinator(&mut self) {
        if self.checkpointing_done() {
            return;
        }
        let Some(c) = self.job.coordinator() else { return };
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
        let reaction = self.job.on_checkpoint_event(&event);
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
                for t in reaction.trigger {
                    let arrival = self.transit_arrival(JOB_MANAGER, self.tasks[t].node, now);
                    let attempt = self.tasks[t].attempt;
                    self.queue.schedule(arrival, Event::Trigger { subtask: t as u32, attempt, checkpoint_id: id });
                }
                self.fire_crash_triggers(now, |t| *t == Trigger::OnCheckpointTrigger(id));
            }
            CheckpointEvent::Completed { id } => {
                self.recorder.record(now, TraceKind::CheckpointCompleted, 0, 0, id as i64, 0);
                if let Some(stats) = self.checkpoints.iter_mut().rev().find(|c| c.id == id) {
                    stats.outcome = CheckpointOutcome::Completed { at_ns: now };
                }
                checkpoint_completed(&mut self.commits, &mut self.checkpoint_storage, id);
                self.end_stop_the_world(id, now);
                self.fire_crash_triggers(now, |t| *t == Trigger::AfterCheckpointComplete(id));
                if reaction.notify && self.nodes[JOB_MANAGER].alive {
                    for t in 0..self.tasks.len() {
                        let arrival = self.transit_arrival(JOB_MANAGER, self.tasks[t].node, now);
                        let attempt = self.tasks[t].attempt;
                        self.queue.schedule(arrival, Event::Notify { subtask: t as u32, attempt, checkpoint_id: id });
                    }
                }
                if reaction.is_final {
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
                self.channels[c].occupancy = 0;
            }
        }
        if let Some(delay) = restart_after_ns {
            self.queue.schedule(now + delay, Event::NodeBack { node: node as u32 });
        }
        let incarnation = self.nodes[node].incarnation;
        let detect_at = self.detection_time(now);
        self.queue.schedule(detect_at, Event::FailureDetected { node: node as u32, incarnation });
    }

    /// Failover: cancel the failed regions' tasks (every task under full failover), then
    /// restart them after the strategy's delay ([`JobMaster::on_failure`] decides).
    fn on_failure_detected(&mut self, node: NodeId, now: TimeNs) {
        if self.finished_at_ns.is_some() {
            return;
        }
        let placement: Vec<NodeId> = self.tasks.iter().map(|t| t.node).collect();
        let (tasks, attempt, aborted, restart_after_ns, failed) = match self.job.on_failure(node, &placement, now) {
            Failover::Ignored => return,
            Failover::Restart { tasks, attempt, restart_after_ns, aborted } => {
                (tasks, attempt, aborted, restart_after_ns, false)
            }
            Failover::Failed { tasks, attempt, aborted } => (tasks, attempt, aborted, None, true),
        };
        self.recorder.record(now, TraceKind::FailureDetected, node as u32, 0, 0, 0);
        for &id in &tasks {
            let task = &mut self.tasks[id];
            task.alive = false;
            task.attempt = attempt;
            task.subtask.clear_inputs();
            self.time_use[id].unblocked(now);
        }
        self.stw_checkpoint = None;
        if let Some(event) = aborted {
            self.on_checkpoint_event(event, now);
        }
        if failed {
            self.stop = Some(StopReason::JobFailed);
        } else if let Some(delay_ns) = restart_after_ns {
            self.queue.schedule(now + delay_ns, Event::JobRestart);
        }
    }

    fn restart_job(&mut self, now: TimeNs) {
        // Wait for the nodes the restarted tasks need; a node that never returns gives its
        // tasks away.
        let restarting: Vec<SubtaskId> = self.job.pending_restart().collect();
        let needed: Vec<NodeId> = restarting.iter().map(|&t| self.tasks[t].node).chain([JOB_MANAGER]).collect();
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
        let plan = self.job.restart(now, &self.high_water);
        self.recorder.record(
            now,
            TraceKind::JobRestarted,
            0,
            0,
            plan.attempt as i64,
            plan.restore_from.map_or(-1, |c| c as i64),
        );
        let mut restored_occupancy: Vec<(usize, u32)> = Vec::new();
        // Counters of the replaced tasks go to the attempt that ends (a task that keeps running
        // in another region keeps counting).
        let replaced: Vec<Counters> = (0..self.tasks.len())
            .map(|id| if plan.tasks.contains(&id) { self.tasks[id].subtask.counters() } else { Counters::default() })
            .collect();
        self.earlier_attempts.push(replaced);
        let scenario = Arc::clone(&self.scenario);
        for &id in &plan.tasks {
            let deployed = deploy_subtask(&scenario, &self.checkpoint_storage, id, &plan, now);
            if let Some(cp) = deployed.missing_state {
                self.violate(
                    now,
                    Some(id),
                    format!("attempt {}: no state of subtask {id} in checkpoint {cp}", plan.attempt),
                );
            }
            // Restored in-flight data re-enters the channels: it occupies their buffers.
            for (input, &messages) in deployed.restored_in_flight.iter().enumerate() {
                restored_occupancy.push((scenario.plan.subtasks[id].inputs[input], messages as u32));
            }
            let task = &mut self.tasks[id];
            task.subtask = deployed.subtask;
            task.alive = true;
            task.attempt = plan.attempt;
            task.busy_until_ns = now;
            task.run_at = None;
            task.timer_at = None;
            task.last_snapshot_id = 0;
            task.barrier_seen_ns = None;
            task.checks = TaskInvariants::default();
            task.backpressured = false;
            self.time_use[id].unblocked(now);
            // Its input channels start empty (a region's channels stay inside the region).
            for &c in &scenario.plan.subtasks[id].inputs {
                self.channels[c] = ChannelState::default();
            }
        }
        for (c, n) in restored_occupancy {
            self.channels[c].occupancy += n;
        }
        self.start_tasks(&plan.tasks, now);
        self.arm_coordinator();
    }

    /// Let fresh (or restored) tasks say what they have to say, and start the sources.
    fn start_tasks(&mut self, tasks: &[SubtaskId], now: TimeNs) {
        for &id in tasks {
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
        assert_eq!(w.restarts(), 1);
    }
}
