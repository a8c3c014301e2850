//! What the world reports: why a run stopped, the invariants it broke, counters, and the job's
//! state (for the command line, the oracle, the benchmarks and the workbench).

use super::*;

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum StopReason {
    /// Every task finished (and, with checkpoints, a final checkpoint completed).
    JobFinished,
    /// Nothing left to do, but the job did not finish (e.g. a node never came back).
    Stalled,
    /// Reached the scenario's `max_run_ms`.
    TimeLimit,
    /// Did far more work than the scenario's size predicts ([`Scenario::work_limit`]): a replay
    /// storm (a Storm message timeout below the tuples' processing time re-emits every tuple,
    /// each copy again) would otherwise run for hours and fill memory with the messages it holds,
    /// and late firings that each repeat a growing window's lineage would fill it with rows.
    WorkLimit,
    /// The job failed for good (no restart strategy, or it gave up): see [`JobFailure`].
    JobFailed(JobFailure),
    /// An invariant check failed: a bug in the engine. The first violation (all of them, with
    /// time and subtask: `World::violations`).
    InvariantViolated(InvariantViolation),
}

impl StopReason {
    pub fn is_finished(&self) -> bool {
        *self == StopReason::JobFinished
    }
}

impl std::fmt::Display for StopReason {
    /// What the command line prints after `stopped:`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::JobFinished => f.write_str("job finished"),
            StopReason::Stalled => f.write_str("stalled (nothing left to do, job not finished)"),
            StopReason::TimeLimit => f.write_str("time limit (max_run_ms) reached"),
            StopReason::WorkLimit => f.write_str(WORK_LIMIT_TEXT),
            StopReason::JobFailed(cause) => write!(f, "job failed: {cause}"),
            StopReason::InvariantViolated(v) => write!(f, "INVARIANT VIOLATED: {v}"),
        }
    }
}

/// What the command line says of [`StopReason::WorkLimit`].
pub const WORK_LIMIT_TEXT: &str = "work limit reached (far more than the scenario's size predicts: 200x its kernel events, 4x its lineage in the sinks' rows, or messages held waiting: a replay or timeout storm, or late firings that each repeat a growing window's lineage?)";

/// A broken invariant, with when and where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub time_ns: TimeNs,
    pub subtask: Option<SubtaskId>,
    pub violation: InvariantViolation,
}

impl World {
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
        let mut total = self.tasks[subtask.index()].subtask.counters();
        for attempt in &self.earlier_attempts {
            if let Some(c) = attempt.get(subtask.index()) {
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
}
