//! A task manager's process: the subtasks deployed on it, driven until idle, and what they ask
//! for (`sim::job::task` rules).

use crate::link::*;
use crate::*;
use engine::ms_to_ns;
use sim::source_cursor::{ConsumerStart, SourceCursor};

// ---- the task managers -------------------------------------------------------------------------

pub(crate) struct LocalTask {
    subtask: Subtask,
    /// The attempt it was deployed in.
    attempt: u32,
    last_snapshot_id: Option<CheckpointId>,
    /// Invariants 1–3 of [`sim::invariants`], for this attempt (as the kernel checks them).
    checks: TaskInvariants,
    /// A source's partitions' next log entries (the kernel world reads through one too).
    source_cursor: Option<SourceCursor>,
    /// A source's Kafka consumer (the kernel world's rule: `ConsumerStart::decide`).
    consumer: ConsumerStart,
    /// When a source's next log entry becomes readable, as its last read found (None: it read
    /// everything, or its consumer is still registering).
    readable_ns: Option<u64>,
}

pub(crate) struct Job {
    placement: Vec<NodeId>,
    /// Indexed by subtask id; Some for the subtasks deployed on this node.
    tasks: Vec<Option<LocalTask>>,
}

impl Job {
    /// The subtasks running here, in plan order.
    pub(crate) fn local(&self) -> Vec<SubtaskId> {
        SubtaskId::all(self.tasks.len()).filter(|id| self.tasks[id.index()].is_some()).collect()
    }
}

/// Is a message of `attempt` for a subtask current, early (its deployment has not arrived) or
/// stale (its attempt was cancelled)?
pub(crate) enum Fresh {
    Current,
    Early,
    Stale,
}

pub(crate) struct TaskManager {
    shared: Arc<Shared>,
    me: NodeId,
    job: Option<Job>,
    /// Per subtask: messages of lower attempts are stale (raised by `Cancel` and `Deploy`).
    min_attempt: Vec<u32>,
    /// Messages for an attempt not deployed here yet.
    early: Vec<Envelope>,
    next_heartbeat_ns: u64,
}

pub(crate) async fn task_manager(shared: Arc<Shared>, me: NodeId) {
    let (mut link, inbox, signal) = Link::open(shared.clone(), me).await;
    let mut tm = TaskManager {
        shared: shared.clone(),
        me,
        job: None,
        min_attempt: vec![0; shared.scenario.plan.subtasks.len()],
        early: Vec::new(),
        next_heartbeat_ns: 0,
    };
    let interval_ns = ms_to_ns(shared.scenario.failure_detection.heartbeat_interval_ms.max(1));
    let mut delivered = Vec::new();
    let mut heartbeats = Vec::new();
    let mut spins = 0;
    loop {
        let now = shared.now_ns();
        link.receive_all(&inbox, now, &mut delivered, &mut heartbeats);
        heartbeats.clear();
        for (_, envelope) in delivered.drain(..) {
            tm.on_envelope(envelope, now, &mut link);
        }
        tm.run(now, &mut link);
        if now >= tm.next_heartbeat_ns {
            link.heartbeats_due.insert(JOB_MANAGER);
            tm.next_heartbeat_ns = now + interval_ns;
        }
        link.flush(now).await;
        let deadline = earliest(earliest(tm.next_wake(now), Some(tm.next_heartbeat_ns)), link.next_deadline());
        idle(shared.start, &signal, deadline, &mut spins).await;
    }
}

impl TaskManager {
    pub(crate) fn fresh(&self, subtask: SubtaskId, attempt: u32) -> Fresh {
        if attempt < self.min_attempt.get(subtask.index()).copied().unwrap_or(0) {
            return Fresh::Stale;
        }
        match self.job.as_ref().and_then(|j| j.tasks.get(subtask.index())).and_then(Option::as_ref) {
            Some(task) if task.attempt == attempt => Fresh::Current,
            Some(task) if task.attempt > attempt => Fresh::Stale,
            _ => Fresh::Early,
        }
    }

    pub(crate) fn on_envelope(&mut self, envelope: Envelope, now: u64, link: &mut Link) {
        match envelope {
            Envelope::Deploy(d) => {
                self.deploy(&d, now, link);
                let early = std::mem::take(&mut self.early);
                for e in early {
                    self.on_envelope(e, now, link);
                }
            }
            Envelope::Cancel { attempt, tasks } => {
                for &id in tasks.iter() {
                    if let Some(min) = self.min_attempt.get_mut(id.index()) {
                        *min = (*min).max(attempt);
                    }
                    if let Some(slot) = self.job.as_mut().and_then(|j| j.tasks.get_mut(id.index())) {
                        if slot.as_ref().is_some_and(|t| t.attempt < attempt) {
                            *slot = None; // the task is cancelled, buffers and all
                        }
                    }
                }
                let early = std::mem::take(&mut self.early);
                for e in early {
                    self.on_envelope(e, now, link); // stale ones are dropped now
                }
            }
            Envelope::Data { attempt, channel, message } => {
                let info = *self.shared.scenario.plan.channel(channel);
                match self.fresh(info.to, attempt) {
                    Fresh::Current => {
                        if let Some(task) = self.task_mut(info.to) {
                            task.subtask.push_input(info.input_index, message);
                        }
                    }
                    Fresh::Early => self.early.push(Envelope::Data { attempt, channel, message }),
                    Fresh::Stale => {}
                }
            }
            Envelope::Trigger { attempt, checkpoint_id, triggered_ns, subtasks } => {
                for id in subtasks {
                    match self.fresh(id, attempt) {
                        Fresh::Current => {
                            let Some(task) = self.task_mut(id) else {
                                continue;
                            };
                            if task.last_snapshot_id < Some(checkpoint_id) {
                                task.subtask.trigger_checkpoint(checkpoint_id, triggered_ns, now);
                                self.drain(id, now, link);
                            }
                        }
                        Fresh::Early => self.early.push(Envelope::Trigger {
                            attempt,
                            checkpoint_id,
                            triggered_ns,
                            subtasks: vec![id],
                        }),
                        Fresh::Stale => {}
                    }
                }
            }
            Envelope::SplitsAssigned { attempt, subtask } => {
                if let (Fresh::Current, Some(task)) = (self.fresh(subtask, attempt), self.task_mut(subtask)) {
                    task.consumer = task.consumer.splits_assigned(now);
                }
            }
            Envelope::Notify { attempt, checkpoint_id } => {
                let local = self.job.as_ref().map(Job::local).unwrap_or_default();
                let mut notified = Vec::new();
                for id in local {
                    let Some(task) = self.task_mut(id) else {
                        continue;
                    };
                    if task.attempt > attempt {
                        continue; // deployed after the notification was sent
                    }
                    task.subtask.notify_checkpoint_complete(checkpoint_id);
                    notified.push((id, task.attempt));
                    self.drain(id, now, link);
                }
                link.queue(JOB_MANAGER, Envelope::Notified { checkpoint_id, tasks: notified });
            }
            _ => {}
        }
    }

    pub(crate) fn deploy(&mut self, d: &Deployment, now: u64, link: &mut Link) {
        let scenario = self.shared.scenario.clone();
        let plan = &d.plan;
        let job = self.job.get_or_insert_with(|| Job {
            placement: d.placement.clone(),
            tasks: (0..scenario.plan.subtasks.len()).map(|_| None).collect(),
        });
        let mut deployed = Vec::new();
        {
            let mut ext = self.shared.ext();
            for &id in &plan.tasks {
                if d.placement[id.index()] != self.me
                    || plan.attempt < self.min_attempt[id.index()]
                    || job.tasks[id.index()].as_ref().is_some_and(|t| t.attempt >= plan.attempt)
                {
                    continue;
                }
                let fresh = deploy_subtask(&scenario, &ext.storage, id, plan, now);
                if let Some(cp) = fresh.missing_state {
                    let violation = sim::invariants::InvariantViolation::MissingRestoredState {
                        attempt: plan.attempt,
                        subtask: id,
                        checkpoint: cp,
                    };
                    ext.violations.push(violation.to_string());
                }
                ext.in_flight_restored += fresh.restored_in_flight.iter().map(|&n| n as u64).sum::<u64>();
                self.min_attempt[id.index()] = plan.attempt;
                let consumer = ConsumerStart::decide(&scenario, id, plan.restore_from.is_some(), now);
                if fresh.subtask.is_source() {
                    ext.source_deployments.push((id, plan.attempt, now));
                }
                if let ConsumerStart::Registering { .. } = consumer {
                    link.queue(JOB_MANAGER, Envelope::Register { attempt: plan.attempt, subtask: id });
                }
                job.tasks[id.index()] = Some(LocalTask {
                    subtask: fresh.subtask,
                    attempt: plan.attempt,
                    last_snapshot_id: None,
                    checks: TaskInvariants::default(),
                    source_cursor: None,
                    consumer,
                    readable_ns: None,
                });
                deployed.push(id);
            }
        }
        // Fresh or restored subtasks may have something to say already (a restored
        // two-phase-commit sink's Recover, an idle source's announcement).
        for id in deployed {
            self.drain(id, now, link);
        }
    }

    pub(crate) fn task_mut(&mut self, id: SubtaskId) -> Option<&mut LocalTask> {
        self.job.as_mut().and_then(|j| j.tasks[id.index()].as_mut())
    }

    /// Drive the local subtasks until none can make progress at `now`.
    pub(crate) fn run(&mut self, now: u64, link: &mut Link) {
        loop {
            let Some(job) = self.job.as_ref() else {
                return;
            };
            let mut progressed = false;
            for id in job.local() {
                let is_source =
                    self.job.as_ref().and_then(|j| j.tasks[id.index()].as_ref()).is_some_and(|t| t.subtask.is_source());
                if is_source {
                    progressed |= self.run_source(id, now, link);
                } else {
                    let inputs = self.shared.scenario.plan.subtask(id).inputs.len();
                    let aligned = self
                        .shared
                        .scenario
                        .checkpoint_config()
                        .is_some_and(|c| c.mode == engine::checkpoint::CheckpointMode::ExactlyOnce);
                    while let Some(task) = self.job.as_mut().and_then(|j| j.tasks[id.index()].as_mut()) {
                        let Some(step) = task.subtask.step(now) else {
                            // Nothing to process, but an alignment may just have timed out.
                            self.drain(id, now, link);
                            break;
                        };
                        if let Err(message) = task.checks.on_step(&step, inputs, aligned) {
                            self.shared.ext().violations.push(format!("subtask {id}: {message}"));
                        }
                        self.drain(id, now, link);
                        progressed = true;
                    }
                }
            }
            if !progressed {
                return;
            }
        }
    }

    /// A source reads every log entry readable by `now` and fires its due timers, in time order.
    pub(crate) fn run_source(&mut self, id: SubtaskId, now: u64, link: &mut Link) -> bool {
        let log = self.shared.log.clone();
        let mut progressed = false;
        loop {
            let Some(task) = self.job.as_mut().and_then(|j| j.tasks[id.index()].as_mut()) else {
                return progressed;
            };
            if task.subtask.is_finished() {
                return progressed;
            }
            let timer = task.subtask.next_timer_ns().filter(|t| *t <= now);
            // Records readable by a due timer's time are read before the timer fires.
            let read_ns = timer.unwrap_or(now);
            let read = SourceCursor::read_started(&mut task.source_cursor, &task.subtask, &log, read_ns, task.consumer);
            let (record, any_left) = (read.next, !read.exhausted);
            task.readable_ns = read.upcoming;
            if let Some((_, partition, offset)) = record {
                let Some(event) = log.event(SourceRef { partition, offset }) else {
                    return progressed; // next_source_read only names entries that exist
                };
                task.subtask.handle_source_record(partition, offset, event, now);
                SourceCursor::advance(&mut task.source_cursor, &log);
                let mut ext = self.shared.ext();
                ext.records_read += 1;
                ext.source_reads.push((id, task.attempt, now));
                ext.high_water.on_read(partition, offset);
            } else if timer.is_some() {
                task.subtask.handle_timer(now);
            } else {
                if !any_left {
                    task.subtask.handle_source_exhausted();
                    let finished = task.subtask.is_finished();
                    self.drain(id, now, link);
                    progressed |= finished;
                }
                return progressed;
            }
            self.drain(id, now, link);
            progressed = true;
        }
    }

    /// When a local task next needs to run: a source's next log entry becomes readable, or a
    /// timer (a source's, or an alignment's aligned-checkpoint timeout).
    pub(crate) fn next_wake(&self, now: u64) -> Option<u64> {
        let job = self.job.as_ref()?;
        let mut wake: Option<u64> = None;
        for task in job.tasks.iter().flatten() {
            if task.subtask.is_finished() {
                continue;
            }
            if !task.subtask.is_source() {
                wake = earliest(wake, task.subtask.next_timer_ns().map(|t| t.max(now)));
                continue;
            }
            wake = earliest(wake, task.subtask.next_timer_ns());
            wake = earliest(wake, task.readable_ns.map(|t| t.max(now)));
        }
        wake
    }

    /// Carry out everything subtask `id` asked for.
    pub(crate) fn drain(&mut self, id: SubtaskId, now: u64, link: &mut Link) {
        let TaskManager { shared, job, me, .. } = self;
        let Some(job) = job.as_mut() else {
            return;
        };
        let scenario = &shared.scenario;
        let plan = &scenario.plan;
        loop {
            let Some(task) = job.tasks[id.index()].as_mut() else {
                return;
            };
            let Some(output) = task.subtask.poll_output() else {
                return;
            };
            match output {
                Output::Send { channel, message } => {
                    if let Err(message) = task.checks.on_send(channel, &message) {
                        shared.ext().violations.push(format!("subtask {id}: {message}"));
                    }
                    let info = *plan.channel(channel);
                    let node = job.placement[info.to.index()];
                    if node == *me {
                        if let Some(receiver) = job.tasks[info.to.index()].as_mut() {
                            receiver.subtask.push_input(info.input_index, message);
                        }
                    } else {
                        link.queue(node, Envelope::Data { attempt: task.attempt, channel, message });
                    }
                }
                Output::Snapshot(report) => {
                    let checkpoint_id = report.checkpoint_id;
                    task.last_snapshot_id = task.last_snapshot_id.max(Some(checkpoint_id));
                    let mut ext = shared.ext();
                    if let Err(message) = task.checks.on_snapshot(checkpoint_id) {
                        ext.violations.push(format!("subtask {id}: {message}"));
                    }
                    let accepted = persist_snapshot(&mut ext.storage, id, *report);
                    drop(ext);
                    link.queue(
                        JOB_MANAGER,
                        Envelope::Ack { attempt: task.attempt, subtask: id, checkpoint_id, accepted },
                    );
                }
                Output::Sink(effect) => {
                    let mut ext = shared.ext();
                    let ext = &mut *ext;
                    for message in apply_sink_effect(scenario, &mut ext.store, &mut ext.commits, id, *effect, now) {
                        ext.violations.push(format!("subtask {id}: {message}"));
                    }
                }
                Output::Note(Note::Finished) => {
                    link.queue(JOB_MANAGER, Envelope::Finished { attempt: task.attempt, subtask: id })
                }
                Output::Note(Note::AlignmentTimedOut { .. }) => shared.ext().alignments_timed_out += 1,
                Output::Note(note) => {
                    note_late(&note, &mut shared.ext().late_sources);
                }
            }
        }
    }
}
