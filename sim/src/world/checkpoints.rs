//! The checkpoint coordinator's side in the kernel: its deadlines on the event queue, the
//! events it produces (what they trigger is [`crate::job::JobMaster`]'s decision), stop-the-world
//! snapshots.

use super::*;
use engine::CheckpointId;

impl World {
    // ---- checkpoints --------------------------------------------------------------------------

    /// The job is done and a checkpoint taken after it finished has completed (so transactional
    /// sinks committed everything): no more checkpoints.
    pub(super) fn checkpointing_done(&self) -> bool {
        self.job.checkpointing_done()
    }

    /// A task did something a snapshot would see; wakes a coordinator asleep over idle time.
    // Inline: called at every record a task processes.
    #[inline]
    pub(super) fn note_activity(&mut self, now: TimeNs) {
        if self.job.note_activity(now) {
            self.arm_coordinator();
        }
    }

    pub(super) fn arm_coordinator(&mut self) {
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

    pub(super) fn on_checkpoint_event(&mut self, event: CheckpointEvent, now: TimeNs) {
        let reaction = self.job.on_checkpoint_event(&event);
        match event {
            CheckpointEvent::Triggered { id } => {
                self.recorder.record_payload(now, About::Job, None, Payload::CheckpointTriggered { checkpoint: id });
                self.checkpoints.push(CheckpointStats {
                    id,
                    triggered_ns: now,
                    outcome: CheckpointOutcome::InProgress,
                    subtasks: Vec::new(),
                    consistency: None,
                });
                if self.scenario.snapshot_style() == SnapshotStyle::StopTheWorld {
                    self.stw_checkpoint = Some(id);
                }
                for t in reaction.trigger {
                    let arrival = self.transit_arrival(JOB_MANAGER, self.tasks[t.index()].node, now);
                    let attempt = self.tasks[t.index()].attempt;
                    self.queue.schedule(
                        arrival,
                        Event::Trigger { subtask: t, attempt, checkpoint_id: id, triggered_ns: now },
                    );
                }
                self.fire_crash_triggers(now, |t| *t == Trigger::OnCheckpointTrigger(id));
            }
            CheckpointEvent::Completed { id } => {
                self.recorder.record_payload(now, About::Job, None, Payload::CheckpointCompleted { checkpoint: id });
                let scenario = Arc::clone(&self.scenario);
                let (consistency, violation) =
                    checkpoint_completed(&scenario, &mut self.commits, &mut self.checkpoint_storage, id);
                if let Some(stats) = self.checkpoints.iter_mut().rev().find(|c| c.id == id) {
                    stats.outcome = CheckpointOutcome::Completed { at_ns: now };
                    stats.consistency = consistency;
                }
                if let Some(v) = violation {
                    self.violate(now, None, v);
                }
                self.end_stop_the_world(id, now);
                self.fire_crash_triggers(now, |t| *t == Trigger::AfterCheckpointComplete(id));
                if reaction.notify && self.nodes[JOB_MANAGER.index()].alive {
                    for t in SubtaskId::all(self.tasks.len()) {
                        let arrival = self.transit_arrival(JOB_MANAGER, self.tasks[t.index()].node, now);
                        let attempt = self.tasks[t.index()].attempt;
                        self.queue.schedule(arrival, Event::Notify { subtask: t, attempt, checkpoint_id: id });
                    }
                }
                if reaction.is_final {
                    self.queue.retain(|e| !matches!(e, Event::CoordinatorTick));
                    self.coordinator_tick_at = None;
                }
            }
            CheckpointEvent::Aborted { id, reason } => {
                self.recorder.record_payload(
                    now,
                    About::Job,
                    None,
                    Payload::CheckpointAborted { checkpoint: id, reason: reason as u8 },
                );
                if let Some(stats) = self.checkpoints.iter_mut().rev().find(|c| c.id == id) {
                    stats.outcome = CheckpointOutcome::Aborted { at_ns: now, reason };
                }
                let keep = self.job.coordinator().and_then(|c| c.latest_completed());
                checkpoint_aborted(&mut self.checkpoint_storage, id, keep);
                self.end_stop_the_world(id, now);
            }
        }
    }

    pub(super) fn end_stop_the_world(&mut self, id: CheckpointId, now: TimeNs) {
        if self.stw_checkpoint == Some(id) {
            self.stw_checkpoint = None;
            for t in SubtaskId::all(self.tasks.len()) {
                let task = &self.tasks[t.index()];
                if task.subtask.is_source() && task.alive {
                    let at = task.busy_until_ns.max(now);
                    self.schedule_run(t, at);
                }
            }
        }
    }
}
