//! The job manager's process: registration, heartbeats and messages around the shared
//! `sim::job::JobMaster`.

use crate::link::*;
use crate::*;
use engine::ms_to_ns;

// ---- the job manager ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for every task manager to register before the first deployment.
    Starting,
    Running,
    /// A failover happened; redeploy the cancelled tasks at this time (once their task
    /// managers are up).
    Restarting {
        at_ns: u64,
    },
    Over,
}

/// The job manager's process: registration, heartbeats and messages around the shared
/// [`JobMaster`], which makes every decision about the job.
pub(crate) struct JobManager {
    shared: Arc<Shared>,
    phase: Phase,
    /// Per task manager (index = node - 1): its registered session, last heartbeat, and
    /// whether its heartbeats timed out since.
    registered: Vec<Option<u64>>,
    last_heartbeat_ns: Vec<u64>,
    suspected: Vec<bool>,
    placement: Vec<NodeId>,
    /// Created at the first deployment.
    job: Option<JobMaster>,
    next_check_ns: u64,
}

pub(crate) async fn job_manager(shared: Arc<Shared>) {
    let (mut link, inbox, signal) = Link::open(shared.clone(), JOB_MANAGER).await;
    let tms = shared.task_managers();
    let plan = &shared.scenario.plan;
    let mut jm = JobManager {
        phase: Phase::Starting,
        registered: vec![None; tms],
        last_heartbeat_ns: vec![0; tms],
        suspected: vec![false; tms],
        placement: plan.subtask_ids().map(|s| shared.scenario.node_of_subtask(s)).collect(),
        job: None,
        next_check_ns: 0,
        shared: shared.clone(),
    };
    let mut delivered = Vec::new();
    let mut heartbeats = Vec::new();
    let mut spins = 0;
    loop {
        let now = shared.now_ns();
        link.receive_all(&inbox, now, &mut delivered, &mut heartbeats);
        for (node, session) in heartbeats.drain(..) {
            jm.on_heartbeat(node, session, now, &mut link);
        }
        for (_, envelope) in delivered.drain(..) {
            jm.on_envelope(envelope, now, &mut link);
        }
        jm.tick(now, &mut link);
        link.flush(now).await;
        if jm.phase == Phase::Over {
            return;
        }
        let deadline = earliest(jm.next_deadline(now), link.next_deadline());
        idle(shared.start, &signal, deadline, &mut spins).await;
    }
}

impl JobManager {
    pub(crate) fn task_manager_nodes(&self) -> impl Iterator<Item = NodeId> {
        (0..self.registered.len() as u32).map(NodeId::task_manager)
    }

    /// Nodes that run at least one subtask.
    pub(crate) fn hosting_nodes(&self) -> BTreeSet<NodeId> {
        self.placement.iter().copied().collect()
    }

    pub(crate) fn usable(&self, node: NodeId, now: u64) -> bool {
        let Some(tm) = node.task_manager_index().map(|i| i as usize) else { return false };
        let timeout = ms_to_ns(self.shared.scenario.failure_detection.heartbeat_timeout_ms);
        self.registered[tm].is_some() && !self.suspected[tm] && now <= self.last_heartbeat_ns[tm] + timeout
    }

    pub(crate) fn on_heartbeat(&mut self, node: NodeId, session: u64, now: u64, link: &mut Link) {
        let Some(tm) = node.task_manager_index().map(|i| i as usize).filter(|&i| i < self.registered.len()) else {
            return;
        };
        match self.registered[tm] {
            Some(s) if session < s => return,
            Some(s) if session > s => {
                // A new incarnation registers: the old one and its tasks are gone.
                self.registered[tm] = Some(session);
                self.last_heartbeat_ns[tm] = now;
                self.suspected[tm] = false;
                self.on_failure(node, now, link);
                return;
            }
            Some(_) => {}
            None => self.registered[tm] = Some(session),
        }
        self.last_heartbeat_ns[tm] = now;
        // Heard from again after a timeout (a healed partition): usable for the next attempt.
        self.suspected[tm] = false;
    }

    /// Is a message from `subtask` in `attempt` current (not from a cancelled attempt)?
    pub(crate) fn current(&self, subtask: SubtaskId, attempt: u32) -> bool {
        self.job.as_ref().is_some_and(|j| subtask.index() < self.placement.len() && j.task_attempt(subtask) == attempt)
    }

    pub(crate) fn on_envelope(&mut self, envelope: Envelope, now: u64, link: &mut Link) {
        if self.phase == Phase::Starting || self.phase == Phase::Over {
            return;
        }
        match envelope {
            Envelope::Ack { attempt, subtask, checkpoint_id, accepted } if self.current(subtask, attempt) => {
                let Some(job) = self.job.as_mut() else { return };
                if let Some(event) = job.on_ack(subtask, checkpoint_id, accepted, now) {
                    self.on_checkpoint_event(event, link);
                }
            }
            Envelope::Finished { attempt, subtask } if self.current(subtask, attempt) => {
                let Some(job) = self.job.as_mut() else { return };
                let reaction = job.on_task_finished(subtask);
                if let Some(checkpoint_id) = reaction.trigger {
                    link.queue(
                        self.placement[subtask.index()],
                        // A finished task forwards no barrier: the trigger time does not matter.
                        Envelope::Trigger { attempt, checkpoint_id, triggered_ns: now, subtasks: vec![subtask] },
                    );
                }
                if reaction.job_finished {
                    self.end(MadsimStop::JobFinished, now);
                }
            }
            Envelope::Register { attempt, subtask } if self.current(subtask, attempt) => {
                // The enumerator assigns the reader its splits at once (they are fixed).
                link.queue(self.placement[subtask.index()], Envelope::SplitsAssigned { attempt, subtask });
            }
            Envelope::Notified { checkpoint_id, tasks } => {
                for (subtask, attempt) in tasks {
                    if !self.current(subtask, attempt) {
                        continue;
                    }
                    if self.job.as_mut().is_some_and(|j| j.on_notified(subtask, checkpoint_id)) {
                        self.end(MadsimStop::JobFinished, now);
                        return;
                    }
                }
            }
            _ => {}
        }
    }

    pub(crate) fn on_checkpoint_event(&mut self, event: CheckpointEvent, link: &mut Link) {
        let Some(job) = self.job.as_mut() else { return };
        let reaction = job.on_checkpoint_event(&event);
        match event {
            CheckpointEvent::Triggered { id } => {
                let triggered_ns = job.coordinator().and_then(|c| c.pending()).map_or(0, |p| p.triggered_ns);
                let mut targets: BTreeMap<(NodeId, u32), Vec<SubtaskId>> = BTreeMap::new();
                for s in reaction.trigger {
                    targets.entry((self.placement[s.index()], job.task_attempt(s))).or_default().push(s);
                }
                for ((node, attempt), subtasks) in targets {
                    link.queue(node, Envelope::Trigger { attempt, checkpoint_id: id, triggered_ns, subtasks });
                }
            }
            CheckpointEvent::Completed { id } => {
                {
                    let mut ext = self.shared.ext();
                    let ext = &mut *ext;
                    ext.checkpoints_completed += 1;
                    let (consistency, violation) =
                        checkpoint_completed(&self.shared.scenario, &mut ext.commits, &mut ext.storage, id);
                    match consistency {
                        Some(c) if c.is_consistent() => ext.checkpoints_consistent += 1,
                        Some(_) => ext.checkpoints_inconsistent += 1,
                        None => {}
                    }
                    if let Some(v) = violation {
                        ext.violations.push(v.to_string());
                    }
                }
                if reaction.notify {
                    let attempt = job.attempt();
                    for node in self.hosting_nodes() {
                        link.queue(node, Envelope::Notify { attempt, checkpoint_id: id });
                    }
                }
            }
            CheckpointEvent::Aborted { id, .. } => {
                let keep = job.coordinator().and_then(|c| c.latest_completed());
                let mut ext = self.shared.ext();
                ext.checkpoints_aborted += 1;
                checkpoint_aborted(&mut ext.storage, id, keep);
            }
        }
    }

    pub(crate) fn tick(&mut self, now: u64, link: &mut Link) {
        if now >= self.next_check_ns {
            let fd = self.shared.scenario.failure_detection;
            self.next_check_ns = now + ms_to_ns(fd.heartbeat_interval_ms.max(1));
            let timeout = ms_to_ns(fd.heartbeat_timeout_ms);
            for tm in 0..self.registered.len() {
                if self.registered[tm].is_some() && !self.suspected[tm] && now > self.last_heartbeat_ns[tm] + timeout {
                    self.suspected[tm] = true;
                    self.on_failure(NodeId::task_manager(tm as u32), now, link);
                }
            }
        }
        match self.phase {
            Phase::Starting => {
                if self.task_manager_nodes().all(|n| self.usable(n, now)) {
                    let job = JobMaster::new(&self.shared.scenario, self.shared.seed, now, false);
                    let plan = job.first_deployment();
                    self.job = Some(job);
                    self.deploy(plan, link);
                }
            }
            Phase::Restarting { at_ns } => {
                let Some(job) = self.job.as_ref() else { return };
                let needed: BTreeSet<NodeId> = job.pending_restart().map(|s| self.placement[s.index()]).collect();
                if now >= at_ns && needed.iter().all(|&n| self.usable(n, now)) {
                    let high_water = self.shared.ext().high_water.clone();
                    let Some(job) = self.job.as_mut() else { return };
                    let plan = job.restart(now, &high_water);
                    self.deploy(plan, link);
                }
            }
            Phase::Running => {
                let event = self
                    .job
                    .as_mut()
                    .filter(|j| j.next_deadline_ns().is_some_and(|d| now >= d))
                    .and_then(|j| j.on_tick(now));
                if let Some(event) = event {
                    self.on_checkpoint_event(event, link);
                }
            }
            Phase::Over => {}
        }
    }

    pub(crate) fn next_deadline(&self, now: u64) -> Option<u64> {
        let phase = match self.phase {
            Phase::Running => self.job.as_ref().and_then(|j| j.next_deadline_ns()),
            // Once due, the restart waits for task managers: heartbeats and checks wake us.
            Phase::Restarting { at_ns } if at_ns > now => Some(at_ns),
            _ => None,
        };
        earliest(Some(self.next_check_ns), phase)
    }

    pub(crate) fn deploy(&mut self, plan: RestorePlan, link: &mut Link) {
        self.phase = Phase::Running;
        let deployment = Arc::new(Deployment { plan, placement: self.placement.clone() });
        for node in self.task_manager_nodes() {
            link.queue(node, Envelope::Deploy(deployment.clone()));
        }
    }

    /// Task manager `node` failed: failover as the job master says (its regions, or every task).
    pub(crate) fn on_failure(&mut self, node: NodeId, now: u64, link: &mut Link) {
        if self.phase == Phase::Starting || self.phase == Phase::Over {
            return; // not deployed yet, or over
        }
        let Some(job) = self.job.as_mut() else { return };
        let (tasks, attempt, aborted, restart_after_ns, failed) = match job.on_failure(node, &self.placement, now) {
            Failover::Ignored => return,
            Failover::Restart { tasks, attempt, restart_after_ns, aborted } => {
                (tasks, attempt, aborted, restart_after_ns, None)
            }
            Failover::Failed { tasks, attempt, aborted, cause } => (tasks, attempt, aborted, None, Some(cause)),
        };
        self.shared.ext().restarts = job.restarts();
        let keep = job.coordinator().and_then(|c| c.latest_completed());
        let tasks = Arc::new(tasks);
        for node in self.task_manager_nodes() {
            link.queue(node, Envelope::Cancel { attempt, tasks: tasks.clone() });
        }
        if let Some(event) = aborted {
            let mut ext = self.shared.ext();
            ext.checkpoints_aborted += 1;
            if let CheckpointEvent::Aborted { id, .. } = event {
                checkpoint_aborted(&mut ext.storage, id, keep);
            }
        }
        if let Some(cause) = failed {
            self.end(MadsimStop::JobFailed(cause), now);
        } else if let Some(delay_ns) = restart_after_ns {
            self.phase = Phase::Restarting { at_ns: now + delay_ns };
        }
    }

    pub(crate) fn end(&mut self, stop: MadsimStop, now: u64) {
        self.phase = Phase::Over;
        if let Some(job) = self.job.as_mut() {
            job.end();
        }
        self.shared.ext().end = Some((stop, now));
    }
}
