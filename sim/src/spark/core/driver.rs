//! The driver's micro-batch loop: the trigger, planning a batch's offset ranges, `offsets/N`
//! before it runs, `commits/N` after its sink finished, and what a restarted query resumes from.

use engine::ms_to_ns;
use engine::sink::{SinkEffect, SinkKind, TxnId};

use super::batch::{limit_per_partition, next_watermark, WATERMARK_START_MS};
use super::{Out, SparkCore, Timer};
use crate::kernel::TimeNs;
use crate::recording::{About, Payload};
use crate::scenario::{NodeId, JOB_MANAGER};

/// `offsets/N`: what batch N reads and the watermarks it uses, written before it runs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct OffsetEntry {
    /// Per source partition, the offsets `from..to` the batch reads.
    pub ranges: Vec<(u64, u64)>,
    /// WM(N): append mode emits the windows that end by it.
    pub watermark_ms: i64,
    /// WM(N-1), the previous batch's: a group whose window ended by it is dropped as late.
    pub late_watermark_ms: i64,
}

/// `commits/N`: batch N's sink finished; the watermark batch N+1 uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CommitEntry {
    pub next_watermark_ms: i64,
}

/// One batch as it ran (the history `run`, `replay` and the workbench show).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BatchInfo {
    pub id: u64,
    /// The query run it ran in (0 first; a restart starts the next).
    pub run: u32,
    pub offsets: OffsetEntry,
    /// Re-run after a restart: in the offset log without a commit.
    pub rerun: bool,
    /// The trigger time it was due at, and when `offsets/N` was written.
    pub due_ns: TimeNs,
    pub started_ns: TimeNs,
    /// When `commits/N` was written (None: the batch never finished in this run).
    pub committed_ns: Option<TimeNs>,
    /// The state store version its reduce tasks loaded (None: empty state, or no state).
    pub state_version: Option<u64>,
    /// Rows its tasks wrote to the sinks (each attempt's).
    pub rows_written: u64,
}

/// The driver's memory: lost when it crashes.
#[derive(Clone, Debug)]
pub(super) struct Driver {
    pub next_batch: u64,
    /// Where the next batch starts reading, per partition.
    pub next_start: Vec<u64>,
    /// WM for the next batch, and the one the last batch used.
    pub watermark_ms: i64,
    pub last_watermark_ms: i64,
    /// A batch recovered from the offset log, to run first.
    pub rerun: Option<(u64, super::OffsetEntry)>,
    pub running: Option<super::tasks::Running>,
    /// The trigger time the next trigger is due at.
    pub due_ns: TimeNs,
}

impl Driver {
    pub fn fresh(partitions: usize) -> Driver {
        Driver {
            next_batch: 0,
            next_start: vec![0; partitions],
            watermark_ms: WATERMARK_START_MS,
            last_watermark_ms: WATERMARK_START_MS,
            rerun: None,
            running: None,
            due_ns: 0,
        }
    }
}

impl SparkCore {
    fn trigger_interval_ns(&self) -> TimeNs {
        ms_to_ns(self.config.trigger_ms)
    }

    /// Spark's `ProcessingTimeExecutor.nextBatchTime`: the next point of the interval's grid
    /// after `t` (`t` itself for trigger 0).
    fn next_grid_ns(&self, t: TimeNs) -> TimeNs {
        let interval = self.trigger_interval_ns();
        match t.checked_div(interval) {
            None => t,
            Some(grid) => grid.saturating_add(1).saturating_mul(interval),
        }
    }

    /// The first grid point at or after `t`.
    fn grid_at_or_after(&self, t: TimeNs) -> TimeNs {
        let interval = self.trigger_interval_ns();
        if interval == 0 {
            t
        } else {
            t.div_ceil(interval).saturating_mul(interval)
        }
    }

    /// Per partition, how far the log has been appended by `now` from `from`. A partition is in
    /// order of append time, so a binary search: counting entry by entry made every batch cost
    /// the whole backlog, and `max_records_per_trigger: Some(1)` over a backlog of n records
    /// n² (a million records took minutes).
    fn appended_by(&self, from: &[u64], now: TimeNs) -> Vec<u64> {
        from.iter()
            .enumerate()
            .map(|(p, &start)| {
                let entries = &self.log.partitions[p];
                let start = (start as usize).min(entries.len());
                (start + entries[start..].partition_point(|e| e.append_ns <= now)) as u64
            })
            .collect()
    }

    /// The trigger fired: run the recovered batch, or plan the next one; with nothing to do,
    /// sleep until the trigger after the next append (or finish: the input is consumed).
    pub(super) fn trigger(&mut self, now: TimeNs) {
        let Some(d) = self.driver.as_mut() else { return };
        if d.running.is_some() {
            return;
        }
        let due = d.due_ns;
        let (batch, entry, rerun) = match d.rerun.take() {
            Some((batch, entry)) => (batch, entry, true),
            None => {
                let (next_start, watermark_ms, last) = (d.next_start.clone(), d.watermark_ms, d.last_watermark_ms);
                let appended = self.appended_by(&next_start, now);
                let available: Vec<u64> = appended.iter().zip(&next_start).map(|(a, s)| a - s).collect();
                let take = limit_per_partition(&available, self.config.max_records_per_trigger);
                let ranges: Vec<(u64, u64)> = next_start.iter().zip(&take).map(|(&s, &t)| (s, s + t)).collect();
                let has_data = take.iter().any(|&t| t > 0);
                // A no-data batch: the watermark advanced, so a stateful query may emit or evict.
                let no_data_batch = !has_data && self.query.window.is_some() && watermark_ms > last;
                if !has_data && !no_data_batch {
                    self.idle(&next_start, now);
                    return;
                }
                self.stats.no_data_batches += u64::from(no_data_batch);
                let entry = super::OffsetEntry { ranges, watermark_ms, late_watermark_ms: last };
                (self.driver.as_ref().map_or(0, |d| d.next_batch), entry, false)
            }
        };
        self.stats.scheduling_delay_max_ns = self.stats.scheduling_delay_max_ns.max(now.saturating_sub(due));
        self.begin_batch(batch, entry, rerun, due, now);
    }

    /// Nothing to read: wake at the trigger after the next append, or finish.
    fn idle(&mut self, next_start: &[u64], now: TimeNs) {
        let next_append = next_start
            .iter()
            .enumerate()
            .filter_map(|(p, &s)| self.log.partitions[p].get(s as usize).map(|e| e.append_ns))
            .min();
        match next_append {
            Some(t) => {
                let at = self.grid_at_or_after(t.max(now));
                if let Some(d) = self.driver.as_mut() {
                    d.due_ns = at;
                }
                self.out.push(Out::Timer { at, timer: Timer::Trigger { run: self.run } });
            }
            None => self.finished_at_ns = Some(now),
        }
    }

    /// Write `offsets/N`; the batch runs when the write is done.
    fn begin_batch(&mut self, batch: u64, entry: super::OffsetEntry, rerun: bool, due_ns: TimeNs, now: TimeNs) {
        let state_version = batch.checked_sub(1).filter(|_| self.query.window.is_some());
        self.batches.push(super::BatchInfo {
            id: batch,
            run: self.run,
            offsets: entry.clone(),
            rerun,
            due_ns,
            started_ns: now,
            committed_ns: None,
            state_version,
            rows_written: 0,
        });
        if let Some(w) = self.watch.as_mut() {
            w.batch_started();
        }
        let mut running = super::tasks::Running::new(batch, entry, rerun, &self.query, self.scenario.partitions);
        running.due_ns = due_ns;
        if let Some(d) = self.driver.as_mut() {
            d.running = Some(running);
        }
        let at = now.saturating_add(ms_to_ns(self.config.log_write_ms));
        self.out.push(Out::Timer { at, timer: Timer::OffsetsWritten { run: self.run, batch } });
    }

    pub(super) fn offsets_written(&mut self, batch: u64, now: TimeNs) {
        let Some(running) = self.driver.as_mut().and_then(|d| d.running.as_mut()) else { return };
        if running.batch != batch || running.started {
            return;
        }
        running.started = true;
        let (entry, rerun) = (running.offsets.clone(), running.rerun);
        self.offset_log.insert(batch, entry);
        self.stats.reruns += u64::from(rerun);
        self.recorder.record_payload(now, About::Job, None, Payload::SparkBatch { batch, rerun });
        if let Some(w) = self.watch.as_mut() {
            w.offsets_written(now);
        }
        self.schedule_tasks(now);
    }

    /// Every task of the batch is done: a transactional sink commits the batch — the files of
    /// the task attempts the driver accepted — and its manifest names the batch; then
    /// `commits/N` is written with the next batch's watermark.
    pub(super) fn batch_tasks_done(&mut self, now: TimeNs) {
        let Some(running) = self.driver.as_mut().and_then(|d| d.running.as_mut()) else { return };
        if running.committing {
            return;
        }
        running.committing = true;
        let (batch, outputs) = (running.batch, running.accepted_outputs.clone());
        if let Some(w) = self.watch.as_mut() {
            w.tasks_done(now);
        }
        for &(op, kind, subtask) in &self.query.sinks {
            if kind != SinkKind::TwoPhaseCommit || !self.manifest.insert((op, batch)) {
                continue;
            }
            for &output in &outputs {
                let txn = TxnId { subtask, attempt: self.run, sequence: output };
                let effect = SinkEffect::Commit { txn };
                self.recorder.record_payload(now, About::Subtask(subtask), None, Payload::of_sink_effect(&effect));
                self.sink_store.apply(op, subtask, effect, now);
            }
            self.sink_store.take_newly_visible();
        }
        let at = now.saturating_add(ms_to_ns(self.config.log_write_ms));
        self.out.push(Out::Timer { at, timer: Timer::CommitWritten { run: self.run, batch } });
    }

    pub(super) fn commit_written(&mut self, batch: u64, now: TimeNs) {
        let delay_ms = self.query.delay_ms;
        let stateful = self.query.window.is_some();
        let Some(d) = self.driver.as_mut() else { return };
        if d.running.as_ref().is_none_or(|r| r.batch != batch || !r.committing) {
            return;
        }
        let Some(running) = d.running.take() else { return };
        let used = running.offsets.watermark_ms;
        let next = if stateful { next_watermark(used, running.max_event_ms, delay_ms) } else { used };
        self.commit_log.insert(batch, super::CommitEntry { next_watermark_ms: next });
        d.next_start = running.offsets.ranges.iter().map(|r| r.1).collect();
        d.watermark_ms = next;
        d.last_watermark_ms = used;
        d.next_batch = batch + 1;
        let due = running.due_ns;
        self.stats.batches += 1;
        if let Some(info) = self.batches.last_mut() {
            info.committed_ns = Some(now);
        }
        self.recorder.record_payload(now, About::Job, None, Payload::SparkCommit { batch, watermark_ms: next });
        if next > used {
            self.recorder.record_payload(now, About::Job, None, Payload::WatermarkAdvanced { watermark_ms: next });
        }
        // The next trigger: the grid point after this batch's trigger time, or at once if the
        // batch outlasted the interval (scheduling delay).
        let next_due = self.next_grid_ns(due);
        let at = next_due.max(now);
        if let Some(d) = self.driver.as_mut() {
            d.due_ns = next_due;
        }
        self.out.push(Out::Timer { at, timer: Timer::Trigger { run: self.run } });
    }

    /// The driver's node died: the query stops, its executors with it (they belong to the
    /// application); what survives is the checkpoint location, the sink and the log.
    pub(super) fn driver_lost(&mut self, now: TimeNs) {
        if self.driver.take().is_none() {
            return;
        }
        self.run += 1; // every timer and message of the old run is stale from here
        if let Some(w) = self.watch.as_mut() {
            w.driver_lost(now);
        }
        self.tasks.clear();
        self.recorder.record_payload(now, About::Node(JOB_MANAGER), None, Payload::NodeCrashed { back_after_ns: None });
    }

    /// The driver is back (restarted by the cluster manager): read the checkpoint location.
    /// With it: the last committed batch's offsets and watermark, and a batch in the offset log
    /// without a commit runs first with the same id, offsets and watermarks; the state store
    /// restores the last committed version. Without it (a fresh location): everything starts
    /// over from the latest offsets, and what was not yet committed is skipped.
    pub(super) fn driver_back(&mut self, now: TimeNs) {
        if self.driver.is_some() {
            return;
        }
        let partitions = self.scenario.partitions as usize;
        let mut d = Driver::fresh(partitions);
        if self.config.checkpoint {
            if let Some((&c, commit)) = self.commit_log.last_key_value() {
                d.next_batch = c + 1;
                d.watermark_ms = commit.next_watermark_ms;
                if let Some(entry) = self.offset_log.get(&c) {
                    d.next_start = entry.ranges.iter().map(|r| r.1).collect();
                    d.last_watermark_ms = entry.watermark_ms;
                }
            }
            if let Some((&n, entry)) = self.offset_log.last_key_value() {
                if n >= d.next_batch {
                    d.rerun = Some((n, entry.clone()));
                }
            }
        } else {
            let consumed =
                self.offset_log.values().next_back().map(|e| e.ranges.iter().map(|r| r.1).collect::<Vec<_>>());
            let latest = self.appended_by(&vec![0; partitions], now);
            let from = consumed.unwrap_or_else(|| vec![0; partitions]);
            let skipped: u64 = latest.iter().zip(&from).map(|(l, f)| l.saturating_sub(*f)).sum();
            self.stats.skipped_at_restart += skipped;
            d.next_start = latest;
            self.offset_log.clear();
            self.commit_log.clear();
            for versions in &mut self.state_store {
                versions.clear();
            }
        }
        d.due_ns = now;
        self.driver = Some(d);
        self.stats.driver_restarts += 1;
        for e in self.executors.iter_mut().filter(|e| e.alive) {
            e.free_slots = self.scenario.slots_per_task_manager;
        }
        self.recorder.record_payload(now, About::Node(JOB_MANAGER), None, Payload::NodeRestarted);
        self.recorder.record_payload(
            now,
            About::Job,
            None,
            Payload::JobRestarted { attempt: self.run, restored_from: None },
        );
        self.out.push(Out::Timer { at: now, timer: Timer::Trigger { run: self.run } });
    }

    /// A node crashes: the driver (`jm`) or an executor.
    pub fn crash_node(&mut self, node: NodeId, now: TimeNs) {
        if node == JOB_MANAGER {
            self.driver_lost(now);
        } else {
            self.executor_lost(node, now);
        }
    }

    /// A crashed node is back: the driver restarts the query, an executor offers its slots.
    pub fn node_back(&mut self, node: NodeId, now: TimeNs) {
        if node == JOB_MANAGER {
            self.driver_back(now);
        } else {
            self.executor_back(node, now);
        }
    }
}
