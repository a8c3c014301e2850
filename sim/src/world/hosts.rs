//! Hosts: running tasks on their nodes — when a task runs, what a record costs (slow nodes
//! included), sources reading the log (and their consumers starting), timers.

use super::metrics::process_payload;
use super::*;

/// A factor `num / den` (at least 1) on a record's processing cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CpuShare {
    num: u64,
    den: u64,
}

impl CpuShare {
    const FULL: CpuShare = CpuShare { num: 1, den: 1 };
    fn apply(self, cost: u64) -> u64 {
        if self.num == self.den {
            return cost; // the common case (no upload running): no 128-bit division per run
        }
        let scaled = u128::from(cost) * u128::from(self.num) / u128::from(self.den.max(1));
        u64::try_from(scaled).unwrap_or(u64::MAX / 4)
    }
}

/// The most records a task processes in one run, back to back (their outputs sent, the trace
/// written, at the run's start), and the most simulated work such a run may hold before it
/// looks again at what happened meanwhile: Flink's task checks its mailbox (an unaligned
/// barrier, a timer) between records, so a run that took more would delay them. A record that
/// alone costs more than the span is a run of its own, as before.
pub(super) const RECORDS_PER_RUN_MAX: u32 = 64;
pub(super) const RUN_SPAN_MAX_NS: TimeNs = 16_000;

impl World {
    // ---- running tasks ------------------------------------------------------------------------

    /// Let a task do one unit of work: a source reads one log entry, others process one control
    /// message or the records at the head of their input, back to back (within the run span).
    pub(super) fn run_task(&mut self, id: SubtaskId, now: TimeNs) {
        if !self.tasks[id.index()].alive || self.tasks[id.index()].subtask.is_finished() {
            return;
        }
        if !self.has_credit(id) {
            if !self.tasks[id.index()].backpressured {
                self.tasks[id.index()].subtask.set_output_blocked(true, now);
                self.arm_timer(id); // a source's idleness countdown stands still
            }
            self.tasks[id.index()].backpressured = true;
            self.time_use[id.index()].blocked(now);
            return; // resumes when the receiver frees a buffer
        }
        if self.tasks[id.index()].subtask.is_source() {
            self.run_source(id, now);
            return;
        }
        let Some(mut step) = self.tasks[id.index()].subtask.step(now) else {
            // Nothing to process, but an alignment may just have timed out (a snapshot).
            self.drain_outputs(id);
            self.arm_timer(id);
            return;
        };
        let mut busy_ns = 0;
        let mut records = 0;
        loop {
            busy_ns += self.process_step(id, &step, now);
            self.drain_outputs(id);
            if step.kind != MessageKind::Record {
                break;
            }
            records += 1;
            if !self.may_take_another_record(id, records, now, busy_ns) {
                break;
            }
            let Some(next) = self.tasks[id.index()].subtask.step(now) else {
                break;
            };
            step = next;
        }
        self.tasks[id.index()].busy_until_ns = now + busy_ns;
        self.arm_timer(id);
        if self.tasks[id.index()].subtask.has_runnable_input() {
            let at = self.tasks[id.index()].busy_until_ns;
            self.run_again(id, at);
        }
    }

    /// Whether a run at `now` that has processed `records` records back to back, `busy_ns` of
    /// work, takes the next message too: a record, while the run is short, its outputs have
    /// room and its own timer is not due.
    fn may_take_another_record(&mut self, id: SubtaskId, records: u32, now: TimeNs, busy_ns: TimeNs) -> bool {
        let busy_until_ns = now + busy_ns;
        records < RECORDS_PER_RUN_MAX
            && busy_ns < RUN_SPAN_MAX_NS
            && self.violations.is_empty()
            && self.has_credit(id)
            && self.tasks[id.index()].timer_at.is_none_or(|at| at > busy_until_ns)
            && self.tasks[id.index()].subtask.next_is_record()
    }

    /// The accounting of one step a task took at `now`: its input consumed, its cost (returned),
    /// the trace, the invariants.
    fn process_step(&mut self, id: SubtaskId, step: &engine::subtask::Step, now: TimeNs) -> TimeNs {
        self.took_input(self.scenario.plan.subtask(id).input_channel(step.input), step.kind, now);
        let slow = self.slow_factor(self.tasks[id.index()].node, now);
        let share = self.cpu_share(self.tasks[id.index()].node, now);
        let task = &mut self.tasks[id.index()];
        let cost = share.apply(
            match step.kind {
                MessageKind::Record => task.record_cost_ns,
                _ => task.record_cost_ns / 10,
            } * slow,
        ); // bounded: cost <= MAX_COST_US (1e9 ns) x slow <= MAX_FACTOR (1e6) = 1e15, x share
        self.time_use[id.index()].work(cost);
        if step.kind == MessageKind::Record {
            self.bucket.record_in(task.operator);
        }
        self.recorder.record_payload(now, id, None, process_payload(step.kind, step.input, step.checkpoint_id));
        let aligned = self.scenario.checkpoint_config().is_some_and(|c| c.mode == CheckpointMode::ExactlyOnce);
        let inputs = self.scenario.plan.subtask(id).inputs.len();
        if let Err(violation) = self.tasks[id.index()].checks.on_step(step, inputs, aligned) {
            self.violate(now, Some(id), violation);
        }
        if step.kind != MessageKind::Barrier {
            self.note_activity(now);
        }
        cost
    }

    pub(super) fn run_source(&mut self, id: SubtaskId, now: TimeNs) {
        if self.stw_checkpoint.is_some() {
            return; // stop-the-world: rescheduled when the checkpoint ends
        }
        let consumer = self.consumers[id.index()];
        let task = &mut self.tasks[id.index()];
        let SourceRead { next, upcoming, exhausted } =
            SourceCursor::read_fetched(&mut task.source_cursor, &task.subtask, &self.log, now, consumer);
        match next {
            Some((_, partition, offset)) => {
                let at = SourceRef { partition, offset };
                let Some(event) = self.log.event(at) else {
                    return; // next_source_read only names entries that exist
                };
                self.high_water.on_read(partition, offset);
                SourceCursor::advance(&mut self.tasks[id.index()].source_cursor, &self.log);
                let slow = self.slow_factor(self.tasks[id.index()].node, now);
                let share = self.cpu_share(self.tasks[id.index()].node, now);
                let task = &mut self.tasks[id.index()];
                task.subtask.handle_source_record(partition, offset, event, now);
                let cost = share.apply(task.record_cost_ns * slow);
                task.busy_until_ns = now + cost;
                self.time_use[id.index()].work(cost);
                self.bucket.record_in(task.operator);
                self.note_activity(now);
                self.recorder.record_payload(now, id, None, Payload::SourceRead { partition, offset });
                self.drain_outputs(id);
                self.arm_timer(id);
                // Next read: once busy, or when the next entry is readable if that is later (a
                // run that would find nothing to read is not taken).
                let task = &mut self.tasks[id.index()];
                let busy_until = task.busy_until_ns;
                let then =
                    SourceCursor::read_fetched(&mut task.source_cursor, &task.subtask, &self.log, busy_until, consumer);
                self.run_again(id, then.upcoming.unwrap_or(busy_until));
            }
            None if exhausted => {
                self.tasks[id.index()].subtask.handle_source_exhausted();
                self.drain_outputs(id);
                self.arm_timer(id);
            }
            None => {
                if let Some(at) = upcoming {
                    self.run_again(id, at);
                }
            }
        }
    }

    pub(super) fn schedule_run(&mut self, id: SubtaskId, at: TimeNs) {
        let task = &mut self.tasks[id.index()];
        if task.run_at.is_some_and(|t| t <= at) {
            return;
        }
        task.run_at = Some(at);
        self.queue.schedule(at, Event::Run { subtask: id, attempt: task.attempt });
    }

    // Inline: called at every task run (left to the compiler, it was outlined once a caller
    // grew, at the cost of a call per run).
    #[inline]
    pub(super) fn arm_timer(&mut self, id: SubtaskId) {
        let task = &mut self.tasks[id.index()];
        let wanted = task.subtask.next_timer_ns();
        if wanted != task.timer_at {
            task.timer_at = wanted;
            if let Some(at) = wanted {
                // Far: a timer (a periodic watermark, an idleness or alignment deadline) waits
                // long, one per task, and would deepen the near heap every task run sifts.
                self.queue.schedule_far(at, Event::Timer { subtask: id, attempt: task.attempt, at_ns: at });
            }
        }
    }

    pub(super) fn slow_factor(&self, node: NodeId, now: TimeNs) -> u64 {
        crate::network::slow_factor(&self.network_faults, node, now)
    }

    /// The checkpoint cost model's CPU competition: while `u` snapshot uploads run on `node`
    /// beside its `k` running tasks, a record costs `(k + u) / max(k, cores)` times more when that
    /// exceeds 1 (the threads share the node's cores fairly; a task's own cost already assumes
    /// the sharing among tasks). Cores: one per slot.
    pub(super) fn cpu_share(&self, node: NodeId, now: TimeNs) -> CpuShare {
        let Some(uploads) = self.uploads.get(node.index()) else {
            return CpuShare::FULL;
        };
        let running = uploads.iter().filter(|&&(start, end)| start <= now && now < end).count() as u64;
        if running == 0 {
            return CpuShare::FULL;
        }
        let tasks = self.tasks.iter().filter(|t| t.node == node && t.alive && !t.subtask.is_finished()).count() as u64;
        let cores = u64::from(self.scenario.slots_per_task_manager).max(1);
        let threads = tasks + running;
        let base = tasks.max(cores);
        if threads <= base {
            CpuShare::FULL
        } else {
            CpuShare { num: threads, den: base }
        }
    }

    /// Let the tasks `plan` deployed (fresh or restored) say what they have to say, and start the
    /// sources and their consumers.
    pub(super) fn start_tasks(&mut self, plan: &RestorePlan, now: TimeNs) {
        for &id in &plan.tasks {
            self.drain_outputs(id);
            let subtask = &self.tasks[id.index()].subtask;
            if subtask.is_source() {
                self.consumers[id.index()] = self.start_consumer(id, plan, now);
                self.schedule_run(id, now);
            } else if subtask.gate().queued() > 0 {
                // Restored in-flight data of an unaligned checkpoint: it holds its channels'
                // credit until read, so no delivery may come to wake the task (a one-buffer
                // channel stalled the job until max_run_ms).
                self.schedule_run(id, now);
            }
            self.arm_timer(id);
        }
    }

    /// The Kafka consumer of source subtask `id`, deployed at `now` by `plan` (None: its source
    /// does not fetch), started by
    /// [`crate::source_cursor::ConsumerStart::decide`]. A fresh reader's registration round
    /// trip between its node and the JobManager is drawn here, from the scenario's latencies (a
    /// partition holds it until it heals), with a generator of its own per subtask and attempt,
    /// so that no other draw of the run moves and a fetch-less run draws nothing.
    fn start_consumer(&self, id: SubtaskId, plan: &RestorePlan, now: TimeNs) -> Option<Consumer> {
        use crate::source_cursor::ConsumerStart;
        let one_way_ns = match ConsumerStart::decide(&self.scenario, id, plan.restore_from.is_some(), now) {
            ConsumerStart::AtAppend => return None,
            ConsumerStart::Fetching(consumer) => return Some(consumer),
            ConsumerStart::Registering { one_way_ns } => one_way_ns,
        };
        let node = self.tasks[id.index()].node;
        let registration = stream_seed(self.seed, Stream::SourceRegistration) ^ ((id.index() as u64) << 32);
        let mut rng = SimRng::new(engine::partition::mix64(registration ^ u64::from(plan.attempt)));
        let (scenario, faults) = (&self.scenario, &self.network_faults);
        let registered_ns = crate::network::transit_arrival(scenario, faults, &mut rng, node, JOB_MANAGER, now);
        let splits_assigned_ns =
            crate::network::transit_arrival(scenario, faults, &mut rng, JOB_MANAGER, node, registered_ns);
        Some(Consumer { one_way_ns, splits_assigned_ns })
    }
}
