//! Barrier alignment at the cursor: per subtask, which inputs delivered the barrier of the
//! checkpoint being aligned, which are blocked, and how much waits behind them.

use engine::checkpoint::{CheckpointId, CheckpointMode, SnapshotAlignment};
use engine::graph::{InputIndex, SubtaskId};
use sim::kernel::TimeNs;
use sim::World;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlignmentInput {
    pub input: InputIndex,
    /// The sending subtask's name.
    pub from: String,
    pub barrier_seen: bool,
    /// Not read until the other inputs deliver the barrier (exactly-once mode only).
    pub blocked: bool,
    /// Messages waiting in the input buffer.
    pub queued: usize,
    /// End of input seen: counts as having delivered every barrier.
    pub finished: bool,
    /// Unaligned checkpoints: in-flight messages of this input saved as channel state so far.
    pub saved_in_flight: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlignmentRow {
    pub subtask: SubtaskId,
    pub name: String,
    /// Checkpoint being aligned, when the subtask has seen some of its barriers but not all.
    pub checkpoint: Option<CheckpointId>,
    pub started_ns: Option<TimeNs>,
    /// Latest checkpoint this subtask snapshotted (or gave up for a newer one); None: none yet.
    pub latest: Option<CheckpointId>,
    /// The task is not running (its task manager is down, or the job is restarting).
    pub stopped: bool,
    pub inputs: Vec<AlignmentInput>,
    /// Aligned-checkpoint timeout: when the checkpoint aligning (or announced) here switches to
    /// unaligned if it is still aligning.
    pub times_out_at_ns: Option<TimeNs>,
    /// The checkpoint in progress here already timed out and runs unaligned.
    pub timed_out: bool,
    /// This subtask's latest recorded snapshot: its checkpoint and how it was taken.
    pub last_snapshot: Option<(CheckpointId, SnapshotAlignment)>,
}

impl AlignmentRow {
    pub fn blocked_inputs(&self) -> usize {
        self.inputs.iter().filter(|i| i.blocked).count()
    }
    pub fn buffered_behind_barrier(&self) -> usize {
        self.inputs.iter().filter(|i| i.blocked).map(|i| i.queued).sum()
    }
}

/// The coordinator's view: the checkpoint in flight and who acknowledged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoordinatorView {
    pub mode: CheckpointMode,
    /// Unaligned checkpoints with an aligned-checkpoint timeout.
    pub aligned_timeout_ns: Option<TimeNs>,
    pub pending: Option<(CheckpointId, TimeNs, usize)>,
    pub task_count: usize,
    pub latest_completed: Option<CheckpointId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlignmentView {
    /// None: the scenario does not checkpoint.
    pub coordinator: Option<CoordinatorView>,
    /// Every subtask with inputs (sources have none: the coordinator triggers them).
    pub rows: Vec<AlignmentRow>,
}

impl AlignmentView {
    pub fn build(world: &World) -> AlignmentView {
        let plan = &world.scenario.plan;
        let coordinator = world.coordinator().map(|c| CoordinatorView {
            mode: c.config().mode,
            aligned_timeout_ns: c.config().aligned_timeout_ns,
            pending: c.pending().map(|p| (p.id, p.triggered_ns, p.acked.len())),
            task_count: world.tasks.len(),
            latest_completed: c.latest_completed(),
        });
        let rows = plan
            .subtask_ids()
            .zip(&world.tasks)
            .filter(|(s, _)| !plan.subtask(*s).inputs.is_empty())
            .map(|(s, task)| {
                let subtask = &task.subtask;
                let pending = subtask.aligner().pending();
                let inputs = InputIndex::all(plan.subtask(s).inputs.len())
                    .map(|input| (input, input.index(), plan.subtask(s).input_channel(input)))
                    .map(|(input, i, c)| AlignmentInput {
                        input,
                        from: plan.subtask(plan.channel(c).from).name.clone(),
                        barrier_seen: pending.is_some_and(|p| p.seen[i]),
                        // A stopped task keeps its aligner until the restart: not "blocked".
                        blocked: task.alive && subtask.is_input_blocked(input),
                        queued: subtask.gate().queued_on(input),
                        finished: subtask.watermarks().inputs()[i].finished,
                        saved_in_flight: subtask.unaligned_snapshot().map(|u| u.channel_state[i].len()),
                    })
                    .collect();
                let current =
                    pending.map(|p| p.checkpoint_id).or_else(|| subtask.unaligned_snapshot().map(|u| u.checkpoint_id));
                let last_snapshot = world
                    .checkpoints
                    .iter()
                    .rev()
                    .find_map(|c| c.subtasks.iter().find(|x| x.subtask == s).map(|x| (c.id, x.alignment)));
                AlignmentRow {
                    times_out_at_ns: subtask.alignment_deadline().map(|a| a.deadline_ns),
                    timed_out: current.is_some_and(|id| subtask.aligner().timed_out(id)),
                    last_snapshot,
                    subtask: s,
                    name: plan.subtask(s).name.clone(),
                    checkpoint: pending.map(|p| p.checkpoint_id),
                    started_ns: pending.map(|p| p.started_ns),
                    latest: subtask.aligner().latest_id(),
                    stopped: !task.alive,
                    inputs,
                }
            })
            .collect();
        AlignmentView { coordinator, rows }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sim::recording::TraceKind;
    use sim::Scenario;

    use super::*;
    use crate::scrub::RecordedRun;

    #[test]
    fn a_blocked_input_shows_with_its_buffer() {
        let mut run = RecordedRun::record(Arc::new(Scenario::default_scenario()), 42);
        // The default scenario blocks inputs of its window subtasks during alignment.
        let blocked = run.trace.iter().find(|e| e.kind == TraceKind::InputBlocked).copied().expect("some input blocks");
        let view = AlignmentView::build(run.world_at(blocked.time_ns));
        let row = view.rows.iter().find(|r| r.subtask == blocked.subtask()).expect("a row per subtask with inputs");
        let sim::recording::Payload::InputBlocked { checkpoint, input } = blocked.payload() else {
            panic!("an InputBlocked event says which checkpoint and input: {blocked:?}")
        };
        assert_eq!(row.checkpoint, Some(checkpoint));
        let input = &row.inputs[input.index()];
        assert!(input.barrier_seen && input.blocked);
        assert!(row.blocked_inputs() >= 1);
        let c = view.coordinator.expect("checkpointing");
        assert_eq!(c.pending.map(|p| p.0), Some(checkpoint));
    }

    #[test]
    fn unaligned_checkpoints_show_the_in_flight_data_they_save() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/unaligned-under-backpressure.ron");
        let scenario = Arc::new(Scenario::load(&path).unwrap().without_faults());
        let mut world = sim::World::new(scenario, 42, sim::RunOptions { keep_trace: false, ..Default::default() });
        // Step until some window subtask holds an unaligned snapshot with saved in-flight data.
        let saving = |w: &sim::World| {
            w.tasks
                .iter()
                .any(|t| t.subtask.unaligned_snapshot().is_some_and(|u| u.channel_state.iter().any(|c| !c.is_empty())))
        };
        while !saving(&world) {
            assert!(world.step(), "the backpressured run saves in-flight data at some checkpoint");
        }
        let view = AlignmentView::build(&world);
        assert!(view.rows.iter().flat_map(|r| &r.inputs).any(|i| i.saved_in_flight.is_some_and(|n| n > 0)));
        assert!(view.rows.iter().all(|r| r.blocked_inputs() == 0), "unaligned checkpoints never block");
    }

    /// Aligned-checkpoint timeout: a checkpoint first aligns (blocked inputs, a deadline shown),
    /// then under backpressure times out and runs unaligned; the rows say which.
    #[test]
    fn a_timed_out_alignment_shows_as_unaligned() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios/aligned-timeout-under-backpressure.ron");
        let scenario = Arc::new(Scenario::load(&path).unwrap());
        let mut world = sim::World::new(scenario, 42, sim::RunOptions { keep_trace: false, ..Default::default() });
        let mut saw_deadline = false;
        while !AlignmentView::build(&world).rows.iter().any(|r| r.timed_out) {
            let view = AlignmentView::build(&world);
            saw_deadline |= view.rows.iter().any(|r| r.blocked_inputs() > 0 && r.times_out_at_ns.is_some());
            assert!(world.step(), "some checkpoint times out under backpressure");
        }
        assert!(saw_deadline, "before timing out, a blocked alignment shows its deadline");
        let view = AlignmentView::build(&world);
        assert_eq!(view.coordinator.and_then(|c| c.aligned_timeout_ns), Some(50_000_000));
        let row = view.rows.iter().find(|r| r.timed_out).unwrap();
        assert_eq!(row.blocked_inputs(), 0, "a timed-out checkpoint blocks nothing: {row:?}");
        world.run_until(world.now_ns() + 1_000_000_000);
        let view = AlignmentView::build(&world);
        assert!(
            view.rows.iter().any(|r| r.last_snapshot.is_some_and(|(_, how)| how == SnapshotAlignment::TimedOut)),
            "{view:?}"
        );
    }

    #[test]
    fn sources_have_no_row_and_nothing_blocks_at_the_start() {
        let mut run = RecordedRun::record(Arc::new(Scenario::default_scenario()), 42);
        let view = AlignmentView::build(run.world_at(0));
        let sources = run.scenario.plan.source_subtasks().count();
        assert_eq!(view.rows.len(), run.scenario.plan.subtasks.len() - sources);
        assert!(view.rows.iter().all(|r| r.checkpoint.is_none() && r.blocked_inputs() == 0));
    }
}
