//! Faults and recovery: the fault schedule, crashes, failure detection by heartbeat timeout,
//! failover and restart (what fails over and what a restart restores is
//! [`crate::job::JobMaster`]'s decision).

use super::*;
use engine::ms_to_ns;

impl World {
    /// Schedule fault `index`'s start and end at the times it names (a timed crash, a window).
    pub(super) fn schedule_fault(&mut self, index: usize) {
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
        self.network_faults.push(&fault);
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
        self.network_faults.push(&fault);
        self.faults.push(fault);
        self.queue.schedule(now, Event::FaultStart { fault: index });
        if let Some(until) = until {
            self.queue.schedule(until.max(now), Event::FaultEnd { fault: index });
        }
    }

    // ---- faults and recovery ------------------------------------------------------------------

    pub(super) fn start_fault(&mut self, index: usize, now: TimeNs) {
        if self.fault_fired_at[index].is_some() {
            return;
        }
        self.fault_fired_at[index] = Some(now);
        match self.faults[index].clone() {
            Fault::Crash { node, restart_after_ns, .. } => self.crash_node(node, restart_after_ns, now),
            Fault::Partition { a, b, until_ns, .. } => {
                self.record_fault(index, false, now);
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
                        let incarnation = self.nodes[tm.index()].incarnation;
                        self.queue.schedule(detect_at, Event::FailureDetected { node: tm, incarnation });
                    }
                }
            }
            _ => self.record_fault(index, false, now),
        }
    }

    /// Fault `index` of the schedule began (or `ended`), in the trace.
    pub(super) fn record_fault(&mut self, index: usize, ended: bool, now: TimeNs) {
        if let Some(payload) = Payload::of_fault(index as u32, &self.faults[index], ended) {
            self.recorder.record_payload(now, About::Job, None, payload);
        }
    }

    /// Crash every fault whose trigger matches (each fault fires once).
    pub(super) fn fire_crash_triggers(&mut self, now: TimeNs, matches: impl Fn(&Trigger) -> bool) {
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
    pub(super) fn detection_time(&self, now: TimeNs) -> TimeNs {
        let fd = self.scenario.failure_detection;
        let interval = ms_to_ns(fd.heartbeat_interval_ms);
        let last_heartbeat = now - now % interval;
        (last_heartbeat + ms_to_ns(fd.heartbeat_timeout_ms)).max(now + 1)
    }

    /// Kill a node: its tasks lose all state and buffers at once.
    pub fn crash_node(&mut self, node: NodeId, restart_after_ns: Option<TimeNs>, now: TimeNs) {
        if !self.nodes[node.index()].alive {
            return;
        }
        self.nodes[node.index()].alive = false;
        self.nodes[node.index()].incarnation += 1;
        self.recorder.record_payload(now, node, None, Payload::NodeCrashed { back_after_ns: restart_after_ns });
        for id in SubtaskId::all(self.tasks.len()) {
            let task = &mut self.tasks[id.index()];
            if task.node != node {
                continue;
            }
            task.alive = false;
            task.subtask.clear_inputs();
            self.time_use[id.index()].unblocked(now);
            // Its input buffers are gone: their credit goes back to the senders; so is the
            // buffer it was filling on each output channel.
            for &c in &self.scenario.plan.subtask(id).inputs {
                self.network.drop_buffers(c);
            }
            for gate in &self.scenario.plan.subtask(id).outputs {
                for &c in &gate.channels {
                    self.network.drop_filling(c);
                }
            }
            self.network.reset_sender(id);
        }
        if let Some(delay) = restart_after_ns {
            self.queue.schedule(now + delay, Event::NodeBack { node });
        }
        let incarnation = self.nodes[node.index()].incarnation;
        let detect_at = self.detection_time(now);
        self.queue.schedule(detect_at, Event::FailureDetected { node, incarnation });
    }

    /// Failover: cancel the failed regions' tasks (every task under full failover), then
    /// restart them after the strategy's delay ([`JobMaster::on_failure`] decides).
    pub(super) fn on_failure_detected(&mut self, node: NodeId, now: TimeNs) {
        if self.finished_at_ns.is_some() {
            return;
        }
        let placement: Vec<NodeId> = self.tasks.iter().map(|t| t.node).collect();
        let (tasks, attempt, aborted, restart_after_ns, failed) = match self.job.on_failure(node, &placement, now) {
            Failover::Ignored => return,
            Failover::Restart { tasks, attempt, restart_after_ns, aborted } => {
                (tasks, attempt, aborted, restart_after_ns, None)
            }
            Failover::Failed { tasks, attempt, aborted, cause } => (tasks, attempt, aborted, None, Some(cause)),
        };
        self.recorder.record_payload(now, node, None, Payload::FailureDetected);
        for &id in &tasks {
            let task = &mut self.tasks[id.index()];
            task.alive = false;
            task.attempt = attempt;
            task.subtask.clear_inputs();
            self.time_use[id.index()].unblocked(now);
        }
        // The aborted checkpoint ends a stop-the-world pause the way any checkpoint's end does
        // (`end_stop_the_world`): the sources of the regions that keep running read again.
        if let Some(event) = aborted {
            self.on_checkpoint_event(event, now);
        }
        if let Some(cause) = failed {
            self.stop = Some(StopReason::JobFailed(cause));
        } else if let Some(delay_ns) = restart_after_ns {
            self.queue.schedule(now + delay_ns, Event::JobRestart);
        }
    }

    pub(super) fn restart_job(&mut self, now: TimeNs) {
        // Wait for the nodes the restarted tasks need; a node that never returns gives its
        // tasks away.
        let restarting: Vec<SubtaskId> = self.job.pending_restart().collect();
        let needed: Vec<NodeId> = restarting.iter().map(|&t| self.tasks[t.index()].node).chain([JOB_MANAGER]).collect();
        if let Some(&down) = needed.iter().find(|&&n| !self.nodes[n.index()].alive) {
            // The earliest return of that node (min: independent of the heap's internal order).
            let back = self.queue.iter_unsorted().filter_map(|(t, e)| match e {
                Event::NodeBack { node } if *node == down => Some(t),
                _ => None,
            });
            match back.min() {
                Some(t) => self.queue.schedule(t + 1, Event::JobRestart),
                None if down == JOB_MANAGER => self.stop = Some(StopReason::JobFailed(JobFailure::JobManagerLost)),
                None => {
                    // Redeploy on the surviving task managers, round robin (spare capacity assumed).
                    let alive: Vec<NodeId> =
                        (1..self.nodes.len()).filter(|&n| self.nodes[n].alive).map(NodeId::from_index).collect();
                    if alive.is_empty() {
                        self.stop = Some(StopReason::JobFailed(JobFailure::NoTaskManagerLeft));
                        return;
                    }
                    let nodes = &self.nodes;
                    for (k, task) in self.tasks.iter_mut().filter(|t| !nodes[t.node.index()].alive).enumerate() {
                        task.node = alive[k % alive.len()];
                    }
                    self.queue.schedule(now, Event::JobRestart);
                }
            }
            return;
        }
        let plan = self.job.restart(now, &self.high_water);
        let restarted = Payload::JobRestarted { attempt: plan.attempt, restored_from: plan.restore_from };
        self.recorder.record_payload(now, About::Job, None, restarted);
        let mut restored_occupancy: Vec<(ChannelId, u32)> = Vec::new();
        // Counters of the replaced tasks go to the attempt that ends (a task that keeps running
        // in another region keeps counting).
        let replaced: Vec<Counters> =
            SubtaskId::all(self.tasks.len())
                .map(|id| {
                    if plan.tasks.contains(&id) {
                        self.tasks[id.index()].subtask.counters()
                    } else {
                        Counters::default()
                    }
                })
                .collect();
        self.earlier_attempts.push(replaced);
        self.restarted_tasks.push(plan.tasks.clone());
        let scenario = Arc::clone(&self.scenario);
        for &id in &plan.tasks {
            let deployed = deploy_subtask(&scenario, &self.checkpoint_storage, id, &plan, now);
            if let Some(cp) = deployed.missing_state {
                let violation =
                    InvariantViolation::MissingRestoredState { attempt: plan.attempt, subtask: id, checkpoint: cp };
                self.violate(now, Some(id), violation);
            }
            // Restored in-flight data re-enters the channels: it occupies their buffers.
            for (input, &messages) in deployed.restored_in_flight.iter().enumerate() {
                restored_occupancy.push((scenario.plan.subtask(id).inputs[input], messages as u32));
            }
            let task = &mut self.tasks[id.index()];
            task.subtask = deployed.subtask;
            task.alive = true;
            task.attempt = plan.attempt;
            task.busy_until_ns = now;
            task.run_at = None;
            task.timer_at = None;
            task.last_snapshot_id = None;
            task.barrier_seen_ns = None;
            task.checks = TaskInvariants::default();
            task.backpressured = false;
            task.source_cursor = None;
            self.time_use[id.index()].unblocked(now);
            // Its input channels start empty (a region's channels stay inside the region), and
            // so do its output buffers.
            for &c in &scenario.plan.subtask(id).inputs {
                self.network.reset(c);
            }
            for gate in &scenario.plan.subtask(id).outputs {
                for &c in &gate.channels {
                    self.network.drop_filling(c);
                }
            }
            self.network.reset_sender(id);
        }
        for (c, n) in restored_occupancy {
            self.network.occupy(c, n);
        }
        self.start_tasks(&plan, now);
        self.arm_coordinator();
    }
}
