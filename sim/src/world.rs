//! The world: wires the engine's subtasks to the kernel, the network model and the external
//! systems, and runs it all on virtual time. Plain data: `Clone` it to fork or rewind a run.

use std::sync::Arc;

use engine::checkpoint::{CheckpointCoordinator, CheckpointEvent};
use engine::graph::{OperatorKind, SubtaskId};
use engine::message::{Message, MessageKind};
use engine::subtask::{Note, Output, Subtask};
use engine::SourceRef;

use crate::external::{CheckpointStorage, SinkStore, SourceLog};
use crate::kernel::{EventQueue, SimRng, Stream, TimeNs};
use crate::recording::{
    CheckpointOutcome, CheckpointStats, MetricsBucket, Recorder, SubtaskCheckpointStats, TraceKind,
};
use crate::scenario::{NodeId, Scenario, JOB_MANAGER};

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
}

/// Runtime bookkeeping around one engine subtask.
#[derive(Clone, Debug)]
pub struct Task {
    pub subtask: Subtask,
    pub operator: usize,
    pub node: NodeId,
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
}

#[derive(Clone, Copy, Debug, Default)]
struct ChannelState {
    /// Arrival time of the last message sent: a later message never arrives earlier (FIFO).
    last_arrival_ns: TimeNs,
}

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Every task finished (and, with checkpoints, a final checkpoint completed).
    JobFinished,
    /// Nothing left to do, but the job did not finish (e.g. it waits forever).
    Stalled,
    /// Reached the scenario's `max_run_ms`.
    TimeLimit,
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
    /// Job attempt: 0 at the start, +1 for every restart.
    pub attempt: u32,
    /// Kernel events processed.
    pub events_processed: u64,
    /// Set when the job has finished for good.
    pub finished_at_ns: Option<TimeNs>,
    /// Latest completed checkpoint at the moment every task had finished (None: not yet).
    final_checkpoint_after: Option<u64>,
    stop: Option<StopReason>,
}

impl World {
    pub fn new(scenario: Arc<Scenario>, seed: u64, options: RunOptions) -> World {
        let mut gen_rng = SimRng::for_stream(seed, Stream::Generator);
        let log = Arc::new(SourceLog::build(&scenario.log, scenario.partitions, scenario.duration_ms, &mut gen_rng));
        let mode = scenario.checkpoints.map(|c| c.mode);
        let tasks = (0..scenario.plan.subtasks.len())
            .map(|id| {
                let operator = scenario.plan.subtasks[id].operator;
                Task {
                    subtask: Subtask::new(&scenario.plan, id, mode, 0, 0),
                    operator,
                    node: scenario.node_of_subtask(id),
                    record_cost_ns: scenario.record_cost_ns[operator],
                    busy_until_ns: 0,
                    run_at: None,
                    timer_at: None,
                    last_snapshot_id: 0,
                    barrier_seen_ns: None,
                }
            })
            .collect();
        let operators = scenario.plan.operators.len();
        let coordinator =
            scenario.checkpoints.map(|c| CheckpointCoordinator::new(c, scenario.plan.subtasks.len(), 0));
        let mut world = World {
            channels: vec![ChannelState::default(); scenario.plan.channels.len()],
            seed,
            queue: EventQueue::default(),
            net_rng: SimRng::for_stream(seed, Stream::Network),
            tasks,
            log,
            sink_store: SinkStore::default(),
            checkpoint_storage: CheckpointStorage::default(),
            coordinator,
            coordinator_tick_at: None,
            checkpoints: Vec::new(),
            recorder: Recorder::new(options.keep_trace),
            metrics: Vec::new(),
            bucket: MetricsBucket {
                start_ns: 0,
                records_in: vec![0; operators],
                watermark_lag_ms: vec![None; operators],
                rows_visible: 0,
            },
            options,
            attempt: 0,
            events_processed: 0,
            finished_at_ns: None,
            final_checkpoint_after: None,
            stop: None,
            scenario,
        };
        for id in 0..world.tasks.len() {
            // Subtasks may have said something on creation (an idle source announces it).
            world.drain_outputs(id);
            if world.tasks[id].subtask.is_source() {
                world.schedule_run(id, 0);
            }
            world.arm_timer(id);
        }
        world.arm_coordinator();
        world.queue.schedule(options.metrics_bucket_ns, Event::MetricsTick);
        world
    }

    pub fn now_ns(&self) -> TimeNs {
        self.queue.now_ns()
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
        let limit_ns = self.scenario.max_run_ms * 1_000_000;
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
        true
    }

    fn handle(&mut self, now: TimeNs, event: Event) {
        match event {
            Event::Deliver { channel, attempt, message } => {
                if attempt != self.attempt {
                    return;
                }
                let info = self.scenario.plan.channels[channel as usize];
                let to = info.to;
                if let Message::Barrier(_) = message {
                    self.note_barrier_seen(to, &message, now);
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
                if attempt != self.attempt || self.tasks[id].timer_at != Some(at_ns) {
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
                let event = self.coordinator.as_mut().and_then(|c| c.on_tick(now));
                if let Some(event) = event {
                    self.on_checkpoint_event(event, now);
                }
                self.arm_coordinator();
            }
            Event::Trigger { subtask, attempt, checkpoint_id } => {
                let id = subtask as usize;
                if attempt != self.attempt || self.tasks[id].last_snapshot_id >= checkpoint_id {
                    return;
                }
                self.tasks[id].barrier_seen_ns = Some((checkpoint_id, now));
                self.tasks[id].subtask.trigger_checkpoint(checkpoint_id, now);
                self.drain_outputs(id);
            }
            Event::Ack { subtask, attempt, checkpoint_id, accepted } => {
                if attempt != self.attempt {
                    return;
                }
                let coordinator = self.coordinator.as_mut().expect("acks only with checkpointing");
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
                if attempt != self.attempt {
                    return;
                }
                let id = subtask as usize;
                self.tasks[id].subtask.notify_checkpoint_complete(checkpoint_id);
                self.drain_outputs(id);
            }
            Event::MetricsTick => {
                self.close_bucket(now);
                // Keep ticking only while something else can still happen.
                if !self.queue.is_empty() {
                    self.queue.schedule(now + self.options.metrics_bucket_ns, Event::MetricsTick);
                }
            }
        }
    }

    /// Let a task do one unit of work: a source reads one log entry, others process one input.
    fn run_task(&mut self, id: SubtaskId, now: TimeNs) {
        if self.tasks[id].subtask.is_finished() {
            return;
        }
        if self.tasks[id].subtask.is_source() {
            self.run_source(id, now);
            return;
        }
        let Some(kind) = self.tasks[id].subtask.step(now) else { return };
        let task = &mut self.tasks[id];
        let cost = match kind {
            MessageKind::Record => task.record_cost_ns,
            _ => task.record_cost_ns / 10,
        };
        task.busy_until_ns = now + cost;
        if kind == MessageKind::Record {
            self.bucket.records_in[task.operator] += 1;
        }
        self.recorder.record(now, process_kind(kind), id as u32, 0, 0, 0);
        self.drain_outputs(id);
        self.arm_timer(id);
        if self.tasks[id].subtask.has_runnable_input() {
            let at = self.tasks[id].busy_until_ns;
            self.schedule_run(id, at);
        }
    }

    fn run_source(&mut self, id: SubtaskId, now: TimeNs) {
        // The next readable entry: the earliest-appended among the partitions' next offsets.
        let mut next: Option<(TimeNs, u32, u64)> = None;
        let mut upcoming: Option<TimeNs> = None;
        let mut exhausted = true;
        for (partition, offset) in self.tasks[id].subtask.source_positions() {
            let Some(entry) = self.log.entry(SourceRef { partition, offset }) else { continue };
            exhausted = false;
            if entry.append_ns <= now {
                if next.is_none_or(|(t, p, _)| (entry.append_ns, partition) < (t, p)) {
                    next = Some((entry.append_ns, partition, offset));
                }
            } else {
                upcoming = Some(upcoming.map_or(entry.append_ns, |u: TimeNs| u.min(entry.append_ns)));
            }
        }
        match next {
            Some((_, partition, offset)) => {
                let at = SourceRef { partition, offset };
                let event = self.log.event(at).expect("entry exists");
                let task = &mut self.tasks[id];
                task.subtask.handle_source_record(partition, offset, event, now);
                task.busy_until_ns = now + task.record_cost_ns;
                self.bucket.records_in[task.operator] += 1;
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

    /// The job is done and a checkpoint taken after it finished has completed (so transactional
    /// sinks committed everything): no more checkpoints.
    fn checkpointing_done(&self) -> bool {
        let latest = self.coordinator.as_ref().and_then(|c| c.latest_completed());
        self.final_checkpoint_after.is_some_and(|after| latest.is_some_and(|l| l > after))
    }

    fn arm_coordinator(&mut self) {
        if self.checkpointing_done() {
            return;
        }
        let Some(c) = &self.coordinator else { return };
        let at = c.next_deadline_ns();
        if self.coordinator_tick_at != Some(at) {
            self.coordinator_tick_at = Some(at);
            self.queue.schedule(at, Event::CoordinatorTick);
        }
    }

    fn latency_ns(&mut self, from: NodeId, to: NodeId) -> TimeNs {
        if from == to {
            return self.scenario.local_latency_ns;
        }
        let delay = self.scenario.link_latency.get(&(from, to)).copied().unwrap_or(self.scenario.latency);
        delay.sample_ns(&mut self.net_rng).max(1)
    }

    /// Carry out everything a task asked for.
    fn drain_outputs(&mut self, id: SubtaskId) {
        let now = self.now_ns();
        while let Some(output) = self.tasks[id].subtask.poll_output() {
            match output {
                Output::Send { channel, message } => self.send(id, channel, message, now),
                Output::Snapshot(report) => {
                    let checkpoint_id = report.checkpoint_id;
                    let task = &mut self.tasks[id];
                    task.last_snapshot_id = task.last_snapshot_id.max(checkpoint_id);
                    let first_barrier_ns = match task.barrier_seen_ns {
                        Some((cp, t)) if cp == checkpoint_id => t,
                        _ => now,
                    };
                    // Model: the synchronous part copies state at 1 GB/s; the asynchronous
                    // upload to storage runs at 100 MB/s plus a round trip to the job manager.
                    let sync_ns = report.state_size_bytes;
                    let async_ns = report.state_size_bytes * 10;
                    let node = task.node;
                    self.recorder.record(now, TraceKind::Snapshot, id as u32, 0, checkpoint_id as i64, report.state_size_bytes as i64);
                    let accepted = self.checkpoint_storage.write(checkpoint_id, id, report.state);
                    if let Some(stats) = self.checkpoints.iter_mut().rev().find(|c| c.id == checkpoint_id) {
                        stats.subtasks.push(SubtaskCheckpointStats {
                            subtask: id,
                            start_delay_ns: first_barrier_ns.saturating_sub(stats.triggered_ns),
                            alignment_ns: now.saturating_sub(report.alignment_started_ns.max(first_barrier_ns).min(now)),
                            sync_ns,
                            async_ns,
                            state_size_bytes: report.state_size_bytes,
                        });
                    }
                    let latency = self.latency_ns(node, JOB_MANAGER);
                    self.queue.schedule(
                        now + sync_ns + async_ns + latency,
                        Event::Ack { subtask: id as u32, attempt: self.attempt, checkpoint_id, accepted },
                    );
                }
                Output::Sink(effect) => {
                    let sink = self.tasks[id].operator;
                    let (kind, a, b) = match &effect {
                        engine::sink::SinkEffect::Append(r) => (TraceKind::SinkAppend, r.key as i64, r.value),
                        engine::sink::SinkEffect::Upsert(r) => (TraceKind::SinkUpsert, r.key as i64, r.value),
                        engine::sink::SinkEffect::TxnWrite { row, .. } => (TraceKind::SinkTxnWrite, row.key as i64, row.value),
                        engine::sink::SinkEffect::PreCommit { txn, checkpoint_id } => {
                            (TraceKind::SinkPreCommit, txn.sequence as i64, *checkpoint_id as i64)
                        }
                        engine::sink::SinkEffect::Commit { txn } => (TraceKind::SinkCommit, txn.sequence as i64, txn.attempt as i64),
                        engine::sink::SinkEffect::Recover { commit, .. } => (TraceKind::SinkRecover, commit.len() as i64, 0),
                    };
                    self.recorder.record(now, kind, id as u32, 0, a, b);
                    let before = self.sink_store.rows.iter().rev().take_while(|r| r.visible_ns == Some(now)).count();
                    self.sink_store.apply(sink, id, effect, now);
                    let after = self.sink_store.rows.iter().rev().take_while(|r| r.visible_ns == Some(now)).count();
                    self.bucket.rows_visible += after.saturating_sub(before) as u64;
                }
                Output::Note(note) => self.on_note(id, note, now),
            }
        }
    }

    fn on_note(&mut self, id: SubtaskId, note: Note, now: TimeNs) {
        let s = id as u32;
        match note {
            Note::LateDropped { key, timestamp_ms, .. } => {
                self.recorder.record(now, TraceKind::LateDropped, s, 0, key as i64, timestamp_ms)
            }
            Note::AlignmentStarted { checkpoint_id, input } => {
                self.recorder.record(now, TraceKind::AlignmentStarted, s, 0, checkpoint_id as i64, input as i64)
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
            match &self.coordinator {
                // Without checkpoints, sinks committed at end of input: the job is done.
                None => self.finished_at_ns = Some(now),
                Some(c) => self.final_checkpoint_after = Some(c.latest_completed().unwrap_or(0)),
            }
        }
    }

    fn send(&mut self, from: SubtaskId, channel: usize, message: Message, now: TimeNs) {
        let to = self.scenario.plan.channels[channel].to;
        let latency = self.latency_ns(self.tasks[from].node, self.tasks[to].node);
        let state = &mut self.channels[channel];
        let arrival = (now + latency).max(state.last_arrival_ns);
        state.last_arrival_ns = arrival;
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

    fn note_barrier_seen(&mut self, to: SubtaskId, message: &Message, now: TimeNs) {
        if let Message::Barrier(b) = message {
            let task = &mut self.tasks[to];
            if task.barrier_seen_ns.is_none_or(|(cp, _)| cp < b.checkpoint_id) {
                task.barrier_seen_ns = Some((b.checkpoint_id, now));
            }
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
                // Sources start it; finished tasks (which will never see a barrier) snapshot directly.
                let targets: Vec<SubtaskId> = (0..self.tasks.len())
                    .filter(|&t| self.tasks[t].subtask.is_source() || self.tasks[t].subtask.is_finished())
                    .collect();
                for t in targets {
                    let latency = self.latency_ns(JOB_MANAGER, self.tasks[t].node);
                    self.queue.schedule(
                        now + latency,
                        Event::Trigger { subtask: t as u32, attempt: self.attempt, checkpoint_id: id },
                    );
                }
            }
            CheckpointEvent::Completed { id } => {
                self.recorder.record(now, TraceKind::CheckpointCompleted, 0, 0, id as i64, 0);
                if let Some(stats) = self.checkpoints.iter_mut().rev().find(|c| c.id == id) {
                    stats.outcome = CheckpointOutcome::Completed { at_ns: now };
                }
                self.checkpoint_storage.discard_before(id);
                for t in 0..self.tasks.len() {
                    let latency = self.latency_ns(JOB_MANAGER, self.tasks[t].node);
                    self.queue.schedule(
                        now + latency,
                        Event::Notify { subtask: t as u32, attempt: self.attempt, checkpoint_id: id },
                    );
                }
                if self.final_checkpoint_after.is_some_and(|after| id > after) {
                    // Every task had finished and this checkpoint covers their final output:
                    // once the notifications land, transactional sinks have committed it all.
                    self.finished_at_ns = Some(now);
                }
            }
            CheckpointEvent::Aborted { id, reason } => {
                self.recorder.record(now, TraceKind::CheckpointAborted, 0, 0, id as i64, reason as i64);
                if let Some(stats) = self.checkpoints.iter_mut().rev().find(|c| c.id == id) {
                    stats.outcome = CheckpointOutcome::Aborted { at_ns: now, reason: format!("{reason:?}") };
                }
            }
        }
    }

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
            rows_visible: 0,
        };
        let done = std::mem::replace(&mut self.bucket, next);
        self.metrics.push(done);
    }

    /// Is this operator a sink?
    pub fn is_sink(&self, operator: usize) -> bool {
        matches!(self.scenario.plan.operators[operator].kind, OperatorKind::Sink(_))
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
