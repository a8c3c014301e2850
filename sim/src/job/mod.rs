//! The job's rules, written once: a sans-IO job master that both worlds drive.
//!
//! [`JobMaster`] is the job manager's side of a Flink job: the checkpoint coordinator, which
//! tasks a checkpoint triggers, when the job's final checkpoint has been taken, failover (which
//! tasks a failure cancels, whether the restart strategy allows another attempt) and the restore
//! plan of the next attempt. [`task`] is the task managers' side: deploying a subtask from the
//! restore plan, snapshot → storage → ack, applying sink effects, reading the source log, the
//! at-most-once positions. Like [`engine::checkpoint::CheckpointCoordinator`], nothing here
//! keeps time, sends a message or draws a random number: a world passes the current time and
//! what happened in, and carries out what comes back (`sim::world::World` on the kernel's event
//! queue, the madsim world over madsim's network). Pipelined regions are in [`regions`].

pub mod regions;
pub mod task;

use engine::CheckpointId;
use std::collections::BTreeSet;

use engine::checkpoint::{CheckpointCoordinator, CheckpointEvent, PendingCheckpoint};
use engine::graph::SubtaskId;

use crate::kernel::{stream_seed, Stream, TimeNs};
use crate::scenario::{Guarantee, NodeId, RestartStrategy, Scenario, JOB_MANAGER};
use engine::ms_to_ns;
pub use regions::{FailoverStrategy, Regions};
use task::HighWater;

/// What an attempt deploys: the subtasks to (re)start and what they start from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestorePlan {
    /// The job attempt the subtasks run in (0 for the first deployment).
    pub attempt: u32,
    /// The subtasks to deploy, in plan order (every subtask, or the failed regions').
    pub tasks: Vec<SubtaskId>,
    /// The completed checkpoint to restore (None: fresh state).
    pub restore_from: Option<CheckpointId>,
    /// At-most-once: where sources start reading instead of their state's offsets.
    pub positions: Option<Vec<(u32, u64)>>,
}

/// What a detected failure means for the job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failover {
    /// Nothing to do: the job is over, or the failed tasks already wait for a restart.
    Ignored,
    /// Cancel `tasks` (they run in `attempt` from now on, so their old messages are stale).
    /// `restart_after_ns`: schedule the restart this long from now; None when they join a
    /// restart already scheduled. `aborted`: the checkpoint in flight that the failure aborted.
    Restart { tasks: Vec<SubtaskId>, attempt: u32, restart_after_ns: Option<TimeNs>, aborted: Option<CheckpointEvent> },
    /// The restart strategy gave up: the job failed (after cancelling `tasks`).
    Failed { tasks: Vec<SubtaskId>, attempt: u32, aborted: Option<CheckpointEvent>, cause: JobFailure },
}

/// Why a job failed for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, thiserror::Error)]
pub enum JobFailure {
    /// The scenario names no restart strategy and the job does not checkpoint: Flink 2.x then
    /// restarts nothing, and the first failure fails the job.
    #[error("no restart strategy (Flink's default without checkpointing)")]
    NoRestartStrategy,
    /// The scenario's restart strategy is `NoRestart`.
    #[error("the restart strategy is NoRestart")]
    RestartDisabled,
    /// The restart strategy's attempts are used up.
    #[error("the restart strategy gave up after {restarts} restarts")]
    RestartsExhausted { restarts: u32 },
    /// The job manager went down and never came back.
    #[error("the job manager never came back")]
    JobManagerLost,
    /// Every task manager went down for good: nowhere to deploy the tasks.
    #[error("no task manager is left to run the tasks")]
    NoTaskManagerLeft,
}

/// What the job master does about a checkpoint event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckpointReaction {
    /// Triggered: the subtasks that get the trigger (the sources start the checkpoint; finished
    /// subtasks, which will never see a barrier, snapshot directly).
    pub trigger: Vec<SubtaskId>,
    /// Completed: notify every task (`notifyCheckpointComplete`).
    pub notify: bool,
    /// Completed, and it is the final checkpoint: it covers everything the job wrote, and the
    /// job ends once every task was notified of it. No more checkpoints are triggered.
    pub is_final: bool,
}

/// What the job master says when a subtask reports that it finished.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FinishReaction {
    /// A checkpoint in flight waits for this subtask's ack but it will never see the barrier:
    /// trigger it directly (as Flink does for finished tasks).
    pub trigger: Option<CheckpointId>,
    /// Every subtask has finished now.
    pub all_finished: bool,
    /// The job is done (no checkpoints: sinks committed at end of input).
    pub job_finished: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Running,
    /// A failover happened; the cancelled tasks wait for their restart.
    Restarting,
    Over,
}

/// The job manager's decisions for one Flink job (see the module documentation).
#[derive(Clone, Debug)]
pub struct JobMaster {
    coordinator: Option<CheckpointCoordinator>,
    guarantee: Guarantee,
    restart: RestartStrategy,
    /// Whether `restart` is Flink's default rather than the scenario's own (a failure then
    /// says so: [`JobFailure::NoRestartStrategy`]).
    restart_is_default: bool,
    /// Seeds the restart delays' jitter (a hash of it and the restart's number: the same run
    /// gets the same delays in both worlds).
    jitter_seed: u64,
    /// Consecutive restarts, as the restart strategy counts them (exponential delay starts
    /// again after `reset_after_ms` without failure).
    consecutive_restarts: u32,
    /// When the last restart was due (Flink's `nextRestartTimestamp`).
    last_restart_due: Option<TimeNs>,
    failover: FailoverStrategy,
    regions: Regions,
    task_count: usize,
    /// Per subtask: is it a source (sources start every checkpoint).
    sources: Vec<bool>,
    /// Job attempt: 0 at the start, +1 for every failover.
    attempt: u32,
    /// Per subtask, the attempt it runs in (the attempt of its region's last failover).
    task_attempt: Vec<u32>,
    /// Restarts so far (what the restart strategy counts).
    restarts: u32,
    phase: Phase,
    /// Cancelled subtasks waiting for the restart.
    pending_restart: BTreeSet<SubtaskId>,
    finished: BTreeSet<SubtaskId>,
    /// Every subtask has finished, when checkpoints up to this one had been triggered (the inner
    /// None: none yet); a checkpoint triggered after it covers the job's final output.
    final_after: Option<Option<CheckpointId>>,
    /// The checkpoint that covers the job's final output, once completed.
    final_checkpoint: Option<CheckpointId>,
    /// Subtasks notified of the final checkpoint.
    notified: BTreeSet<SubtaskId>,
}

impl JobMaster {
    /// The job master of `scenario`'s job in the run with `seed`, deployed at `now`.
    /// `skip_idle`: the coordinator sleeps over idle time when the world reports activity
    /// ([`JobMaster::note_activity`]).
    pub fn new(scenario: &Scenario, seed: u64, now: TimeNs, skip_idle: bool) -> JobMaster {
        let task_count = scenario.plan.subtasks.len();
        let coordinator = scenario.checkpoint_config().map(|c| {
            let mut coordinator = CheckpointCoordinator::new(c, task_count, now);
            if skip_idle {
                coordinator.skip_idle_checkpoints();
            }
            coordinator
        });
        JobMaster {
            coordinator,
            guarantee: scenario.guarantee,
            restart: scenario.restart_strategy(),
            restart_is_default: scenario.restart.is_none(),
            jitter_seed: stream_seed(seed, Stream::Restart),
            consecutive_restarts: 0,
            last_restart_due: None,
            failover: scenario.failover,
            regions: Regions::of(&scenario.plan),
            task_count,
            sources: SubtaskId::all(task_count).map(|s| scenario.plan.source_subtasks().any(|x| x == s)).collect(),
            attempt: 0,
            task_attempt: vec![0; task_count],
            restarts: 0,
            phase: Phase::Running,
            pending_restart: BTreeSet::new(),
            finished: BTreeSet::new(),
            final_after: None,
            final_checkpoint: None,
            notified: BTreeSet::new(),
        }
    }

    /// The first deployment: every subtask, fresh.
    pub fn first_deployment(&self) -> RestorePlan {
        RestorePlan {
            attempt: 0,
            tasks: SubtaskId::all(self.task_count).collect(),
            restore_from: None,
            positions: None,
        }
    }

    pub fn coordinator(&self) -> Option<&CheckpointCoordinator> {
        self.coordinator.as_ref()
    }
    pub fn attempt(&self) -> u32 {
        self.attempt
    }
    /// The attempt subtask `id` runs in: a message from it (or for it) of another attempt is
    /// stale. Under full failover every subtask runs in the job's attempt.
    pub fn task_attempt(&self, id: SubtaskId) -> u32 {
        self.task_attempt.get(id.index()).copied().unwrap_or(0)
    }
    pub fn restarts(&self) -> u32 {
        self.restarts
    }
    pub fn regions(&self) -> &Regions {
        &self.regions
    }
    pub fn failover_strategy(&self) -> FailoverStrategy {
        self.failover
    }
    /// A failover happened and its restart is pending.
    pub fn is_restarting(&self) -> bool {
        self.phase == Phase::Restarting
    }
    /// The subtasks a pending restart will deploy.
    pub fn pending_restart(&self) -> impl Iterator<Item = SubtaskId> + '_ {
        self.pending_restart.iter().copied()
    }
    /// The checkpoint in flight.
    pub fn pending_checkpoint(&self) -> Option<&PendingCheckpoint> {
        self.coordinator.as_ref().and_then(|c| c.pending())
    }

    /// The final checkpoint completed: no more checkpoints.
    pub fn checkpointing_done(&self) -> bool {
        self.final_checkpoint.is_some()
    }

    /// When the coordinator next wants [`JobMaster::on_tick`]: None without checkpoints, once
    /// checkpointing is done, or while the coordinator sleeps over idle time.
    pub fn next_deadline_ns(&self) -> Option<TimeNs> {
        let c = self.coordinator.as_ref().filter(|_| !self.checkpointing_done())?;
        (!c.is_dormant()).then(|| c.next_deadline_ns())
    }

    /// The coordinator's deadline passed: trigger a checkpoint or time one out.
    pub fn on_tick(&mut self, now: TimeNs) -> Option<CheckpointEvent> {
        if self.checkpointing_done() || self.phase != Phase::Running {
            return None;
        }
        self.coordinator.as_mut().and_then(|c| c.on_tick(now))
    }

    /// A task did something a snapshot would see. True when this woke a sleeping coordinator.
    pub fn note_activity(&mut self, now: TimeNs) -> bool {
        self.coordinator.as_mut().is_some_and(|c| c.note_activity(now))
    }

    /// A subtask acknowledged (`accepted`) or declined (storage refused its snapshot) a checkpoint.
    pub fn on_ack(
        &mut self,
        subtask: SubtaskId,
        checkpoint_id: CheckpointId,
        accepted: bool,
        now: TimeNs,
    ) -> Option<CheckpointEvent> {
        let c = self.coordinator.as_mut()?;
        if accepted {
            c.on_ack(subtask, checkpoint_id, now)
        } else {
            c.on_decline(checkpoint_id, now)
        }
    }

    /// The rules that follow a checkpoint event (see [`CheckpointReaction`]).
    pub fn on_checkpoint_event(&mut self, event: &CheckpointEvent) -> CheckpointReaction {
        let mut reaction = CheckpointReaction::default();
        match *event {
            CheckpointEvent::Triggered { .. } => {
                reaction.trigger = SubtaskId::all(self.task_count).filter(|&s| self.is_source_or_finished(s)).collect();
            }
            CheckpointEvent::Completed { id } => {
                reaction.notify = true;
                if self.final_after.is_some_and(|after| Some(id) > after) {
                    // Every task had finished and this checkpoint covers their final output.
                    // The job ends once every task heard of it (so transactional sinks have
                    // committed): a crash before that still fails over and recovers.
                    self.final_checkpoint = Some(id);
                    self.notified.clear();
                    reaction.is_final = true;
                }
            }
            CheckpointEvent::Aborted { .. } => {}
        }
        reaction
    }

    fn is_source_or_finished(&self, s: SubtaskId) -> bool {
        self.sources.get(s.index()).copied().unwrap_or(false) || self.finished.contains(&s)
    }

    /// Subtask `id` finished (its `Note::Finished`).
    pub fn on_task_finished(&mut self, id: SubtaskId) -> FinishReaction {
        let mut reaction = FinishReaction { trigger: self.pending_checkpoint().map(|p| p.id), ..Default::default() };
        self.finished.insert(id);
        if self.finished.len() == self.task_count && self.phase == Phase::Running {
            reaction.all_finished = true;
            match &self.coordinator {
                None => {
                    reaction.job_finished = true;
                    self.phase = Phase::Over;
                }
                // The final output must be covered by a checkpoint *triggered* after this point:
                // one already in flight snapshotted the sinks before their last writes.
                Some(c) => self.final_after = Some(c.last_triggered()),
            }
        }
        reaction
    }

    /// Subtask `id` was notified that `checkpoint_id` completed. True when this ends the job:
    /// every subtask heard of the final checkpoint.
    pub fn on_notified(&mut self, id: SubtaskId, checkpoint_id: CheckpointId) -> bool {
        if self.phase != Phase::Running || self.final_checkpoint.is_none_or(|f| checkpoint_id < f) {
            return false;
        }
        self.notified.insert(id);
        if self.notified.len() == self.task_count {
            self.phase = Phase::Over;
            return true;
        }
        false
    }

    /// The job ended for a reason of the world's (it stops calling).
    pub fn end(&mut self) {
        self.phase = Phase::Over;
    }

    /// The failure of `node` was detected. `placement` is each subtask's node. Failover: the
    /// regions with a task on `node` (every task under [`FailoverStrategy::Full`]) are
    /// cancelled, the checkpoint in flight is aborted, and the restart strategy decides.
    pub fn on_failure(&mut self, node: NodeId, placement: &[NodeId], now: TimeNs) -> Failover {
        if self.phase == Phase::Over {
            return Failover::Ignored;
        }
        let tasks: Vec<SubtaskId> = match self.failover {
            // The job manager's failure takes the whole job down (with HA, it recovers it whole).
            _ if node == JOB_MANAGER => SubtaskId::all(self.task_count).collect(),
            FailoverStrategy::Full => SubtaskId::all(self.task_count).collect(),
            FailoverStrategy::Region => self
                .regions
                .closure(SubtaskId::all(self.task_count).filter(|s| placement.get(s.index()) == Some(&node))),
        };
        let new: Vec<SubtaskId> = tasks.iter().copied().filter(|s| !self.pending_restart.contains(s)).collect();
        if self.phase == Phase::Restarting {
            // A second failure before the restart: its regions join the pending restart (under
            // full failover every task is already waiting).
            if new.is_empty() || self.failover == FailoverStrategy::Full {
                return Failover::Ignored;
            }
            self.cancel(&new);
            return Failover::Restart { tasks: new, attempt: self.attempt, restart_after_ns: None, aborted: None };
        }
        if tasks.is_empty() {
            return Failover::Ignored; // nothing of the job runs there
        }
        self.attempt += 1;
        self.restarts += 1;
        self.cancel(&tasks);
        let aborted = self.coordinator.as_mut().and_then(|c| c.on_job_restart(now));
        // Flink's exponential delay: a failure long enough after the last restart starts the
        // backoff (and the attempt count) again.
        let reset_ns = self.restart.reset_after_ms().map(ms_to_ns);
        if let (Some(reset_ns), Some(due)) = (reset_ns, self.last_restart_due) {
            if now.saturating_sub(due) >= reset_ns {
                self.consecutive_restarts = 0;
            }
        }
        self.consecutive_restarts += 1;
        let draw = engine::partition::mix64(self.jitter_seed ^ u64::from(self.restarts));
        match self.restart.delay_ms(self.consecutive_restarts, draw) {
            Some(delay_ms) => {
                self.phase = Phase::Restarting;
                let delay_ns = ms_to_ns(delay_ms);
                self.last_restart_due = Some(now.saturating_add(delay_ns));
                Failover::Restart { tasks, attempt: self.attempt, restart_after_ns: Some(delay_ns), aborted }
            }
            None => {
                self.phase = Phase::Over;
                let cause = match self.restart {
                    RestartStrategy::NoRestart if self.restart_is_default => JobFailure::NoRestartStrategy,
                    RestartStrategy::NoRestart => JobFailure::RestartDisabled,
                    _ => JobFailure::RestartsExhausted { restarts: self.consecutive_restarts - 1 },
                };
                Failover::Failed { tasks, attempt: self.attempt, aborted, cause }
            }
        }
    }

    /// The restart strategy this job uses (the scenario's, or Flink's default).
    pub fn restart_strategy(&self) -> RestartStrategy {
        self.restart
    }

    fn cancel(&mut self, tasks: &[SubtaskId]) {
        for s in tasks {
            self.task_attempt[s.index()] = self.attempt;
            self.pending_restart.insert(*s);
            self.finished.remove(s);
        }
        self.final_after = None;
        self.final_checkpoint = None;
        self.notified.clear();
    }

    /// The restart is due and the world can deploy: what to deploy (the cancelled tasks) and
    /// what they start from — the latest completed checkpoint, or under at-most-once nothing,
    /// with the sources at the highest positions any source read.
    pub fn restart(&mut self, now: TimeNs, high_water: &HighWater) -> RestorePlan {
        self.phase = Phase::Running;
        let at_most_once = self.guarantee == Guarantee::AtMostOnce;
        let restore_from =
            if at_most_once { None } else { self.coordinator.as_ref().and_then(|c| c.latest_completed()) };
        if let Some(c) = self.coordinator.as_mut() {
            c.on_job_restart(now);
        }
        RestorePlan {
            attempt: self.attempt,
            tasks: std::mem::take(&mut self.pending_restart).into_iter().collect(),
            restore_from,
            positions: at_most_once.then(|| high_water.positions()),
        }
    }
}
