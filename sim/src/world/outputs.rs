//! Carrying out what a task asks for: messages, snapshot → storage → ack, sink effects and
//! notes ([`crate::job::task`] holds the rules both worlds share).

use super::*;

impl World {
    // ---- outputs ------------------------------------------------------------------------------

    /// Carry out everything a task asked for.
    pub(super) fn drain_outputs(&mut self, id: SubtaskId) {
        let now = self.now_ns();
        while let Some(output) = self.tasks[id.index()].subtask.poll_output() {
            if !self.tasks[id.index()].alive {
                continue; // crashed while draining: the rest never happens
            }
            match output {
                Output::Send { channel, message } => self.send(id, channel, message, now),
                Output::Snapshot(report) => self.on_snapshot(id, *report, now),
                Output::Sink(effect) => self.on_sink_effect(id, *effect, now),
                Output::Note(note) => self.on_note(id, note, now),
            }
        }
    }

    pub(super) fn on_snapshot(&mut self, id: SubtaskId, report: engine::subtask::SnapshotReport, now: TimeNs) {
        let checkpoint_id = report.checkpoint_id;
        if let Err(violation) = self.tasks[id.index()].checks.on_snapshot(checkpoint_id) {
            self.violate(now, Some(id), violation);
        }
        let stop_the_world = self.scenario.snapshot_style() == SnapshotStyle::StopTheWorld;
        let task = &mut self.tasks[id.index()];
        task.last_snapshot_id = Some(checkpoint_id);
        let first_barrier_ns = match task.barrier_seen_ns {
            Some((cp, t)) if cp == checkpoint_id => t,
            _ => now,
        };
        // The cost model (`SnapshotCost`): the synchronous part blocks the task; the upload runs
        // beside the node's tasks and competes with them for its cores (`cpu_share`).
        // Stop-the-world snapshots block the task for both.
        let cost = self.scenario.checkpoint_settings.map(|c| c.cost).unwrap_or_default();
        let sync_ns = cost.sync_ns(report.state_size_bytes);
        let async_ns = cost.upload_ns(report.state_size_bytes);
        let blocking_ns = if stop_the_world { sync_ns + async_ns } else { sync_ns };
        task.busy_until_ns = task.busy_until_ns.max(now) + blocking_ns;
        self.time_use[id.index()].work(blocking_ns);
        let node = task.node;
        if !stop_the_world {
            let start = now + sync_ns;
            let uploads = &mut self.uploads[node.index()];
            uploads.retain(|&(_, end)| end > now);
            uploads.push((start, start + async_ns));
        }
        let snapshot = Payload::Snapshot { checkpoint: checkpoint_id, state_bytes: report.state_size_bytes };
        self.recorder.record_payload(now, id, None, snapshot);
        let state_size_bytes = report.state_size_bytes;
        let alignment_started_ns = report.alignment_started_ns;
        let alignment = report.alignment;
        let accepted = persist_snapshot(&mut self.checkpoint_storage, id, report);
        if let Some(stats) = self.checkpoints.iter_mut().rev().find(|c| c.id == checkpoint_id) {
            stats.subtasks.push(SubtaskCheckpointStats {
                subtask: id,
                start_delay_ns: first_barrier_ns.saturating_sub(stats.triggered_ns),
                alignment_ns: now.saturating_sub(alignment_started_ns),
                sync_ns,
                async_ns,
                state_size_bytes,
                alignment,
            });
        }
        let arrival = self.transit_arrival(node, JOB_MANAGER, now + sync_ns + async_ns);
        let attempt = self.tasks[id.index()].attempt;
        self.queue.schedule(arrival, Event::Ack { subtask: id, attempt, checkpoint_id, accepted });
    }

    pub(super) fn on_sink_effect(&mut self, id: SubtaskId, effect: SinkEffect, now: TimeNs) {
        let payload = Payload::of_sink_effect(&effect);
        self.recorder.record_payload(now, id, None, payload);
        let precommit = match &effect {
            SinkEffect::PreCommit { checkpoint_id, .. } => Some(*checkpoint_id),
            _ => None,
        };
        let scenario = Arc::clone(&self.scenario);
        for violation in apply_sink_effect(&scenario, &mut self.sink_store, &mut self.commits, id, effect, now) {
            self.violate(now, Some(id), violation);
        }
        for i in self.sink_store.take_newly_visible() {
            // From the log append of the row's newest record, as `compare`'s column counts it:
            // a record re-read after a restore keeps the time it first arrived.
            let latency_ms = crate::run::row_latency_ns(&self.sink_store.rows[i], &self.log) / 1_000_000;
            self.bucket.row_visible(latency_ms);
        }
        if let Some(cp) = precommit {
            self.fire_crash_triggers(now, |t| *t == Trigger::AfterPreCommit(cp));
        }
    }

    pub(super) fn on_note(&mut self, id: SubtaskId, note: Note, now: TimeNs) {
        note_late(&note, &mut self.late_sources);
        match note {
            Note::LateDropped { key, timestamp_ms, .. } => {
                self.recorder.record_payload(now, id, None, Payload::LateDropped { key, timestamp_ms })
            }
            Note::LateForSomeWindows { .. } => {}
            Note::AlignmentStarted { checkpoint_id, input } => {
                let payload = Payload::AlignmentStarted { checkpoint: checkpoint_id, input };
                self.recorder.record_payload(now, id, None, payload);
                self.fire_crash_triggers(now, |t| {
                    *t == Trigger::WhileAligning { checkpoint: checkpoint_id, subtask: id }
                });
            }
            Note::InputBlocked { checkpoint_id, input } => {
                self.inputs_blocked += 1;
                let payload = Payload::InputBlocked { checkpoint: checkpoint_id, input };
                self.recorder.record_payload(now, id, None, payload)
            }
            Note::AlignmentTimedOut { checkpoint_id } => {
                self.recorder.record_payload(now, id, None, Payload::AlignmentTimedOut { checkpoint: checkpoint_id })
            }
            Note::WatermarkAdvanced { watermark_ms } => {
                self.recorder.record_payload(now, id, None, Payload::WatermarkAdvanced { watermark_ms })
            }
            Note::Finished => {
                self.recorder.record_payload(now, id, None, Payload::Finished);
                self.on_task_finished(id, now);
            }
        }
    }

    pub(super) fn on_task_finished(&mut self, id: SubtaskId, now: TimeNs) {
        let reaction = self.job.on_task_finished(id);
        if let Some(checkpoint_id) = reaction.trigger.filter(|&cp| self.tasks[id.index()].last_snapshot_id < Some(cp)) {
            let attempt = self.tasks[id.index()].attempt;
            // A finished task forwards no barrier: the trigger time it would carry does not matter.
            self.queue.schedule(now, Event::Trigger { subtask: id, attempt, checkpoint_id, triggered_ns: now });
        }
        if reaction.all_finished {
            self.all_tasks_finished_ns = Some(now);
        }
        if reaction.job_finished {
            self.finished_at_ns = Some(now);
        }
    }
}
