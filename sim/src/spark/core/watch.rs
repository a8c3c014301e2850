//! What a watcher (the workbench's Spark view) sees of a run beyond its trace: each batch's
//! moments and every task attempt — which executor ran it, when the driver launched it, how it
//! ended. Read-only: the core writes it when it decides, and nothing reads it back, so the run
//! and its trace hash are the same with or without it. Kept only for a run that keeps its trace
//! (`keep_trace`), so `run`, `compare` and `sweep` pay nothing for it.

use super::tasks::TaskRef;
use crate::kernel::TimeNs;

/// What the core saw, in the order it happened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SparkWatch {
    /// Per batch started (parallel to `SparkCore::batches`): its moments.
    pub batches: Vec<BatchMoments>,
    /// Every task attempt the driver launched, in launch order.
    pub attempts: Vec<TaskAttempt>,
}

/// When a batch passed the driver's steps (None: it never got there in its query run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchMoments {
    /// `offsets/N` written: its tasks may run.
    pub offsets_written_ns: Option<TimeNs>,
    /// Every task done: the driver commits a transactional sink's batch and writes `commits/N`.
    pub tasks_done_ns: Option<TimeNs>,
}

/// One launch of a task of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskAttempt {
    /// Index into `SparkCore::batches` (a re-run batch is another entry).
    pub batch_index: usize,
    pub task: TaskRef,
    /// 1 for the first launch of this task in this batch's run; more after a retry.
    pub attempt: u32,
    /// The executor (task manager index) it was launched on.
    pub executor: u32,
    pub launched_ns: TimeNs,
    /// When and how it ended, as the driver learnt it (None: still running at the run's end).
    pub ended: Option<(TimeNs, TaskEnd)>,
    /// Rows it wrote to the sinks (a task that writes them: a reduce task, or a map task of a
    /// query without an aggregation).
    pub rows_written: u64,
}

/// How a task attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskEnd {
    /// It reported done and the driver accepted it.
    Done,
    /// A reduce task could not fetch a map output lost with its executor; it is launched again
    /// once the map task re-ran.
    FetchFailed,
    /// Its executor died under it: launched again elsewhere.
    ExecutorLost,
    /// The driver died: the whole query run (and this task with it) is gone.
    DriverLost,
}

impl SparkWatch {
    /// The running attempt `attempt` of `task` of batch entry `batch_index`.
    fn open(&mut self, batch_index: usize, task: TaskRef, attempt: u32) -> Option<&mut TaskAttempt> {
        self.attempts
            .iter_mut()
            .rev()
            .find(|a| a.batch_index == batch_index && a.task == task && a.attempt == attempt && a.ended.is_none())
    }

    pub(super) fn batch_started(&mut self) {
        self.batches.push(BatchMoments::default());
    }

    pub(super) fn offsets_written(&mut self, now: TimeNs) {
        if let Some(b) = self.batches.last_mut() {
            b.offsets_written_ns = Some(now);
        }
    }

    pub(super) fn tasks_done(&mut self, now: TimeNs) {
        if let Some(b) = self.batches.last_mut() {
            b.tasks_done_ns = Some(now);
        }
    }

    pub(super) fn launched(&mut self, task: TaskRef, attempt: u32, executor: u32, now: TimeNs) {
        let batch_index = self.batches.len().saturating_sub(1);
        self.attempts.push(TaskAttempt {
            batch_index,
            task,
            attempt,
            executor,
            launched_ns: now,
            ended: None,
            rows_written: 0,
        });
    }

    /// The attempt wrote `rows` rows (on its executor, as it finished).
    pub(super) fn wrote(&mut self, task: TaskRef, attempt: u32, rows: u64) {
        let batch_index = self.batches.len().saturating_sub(1);
        if let Some(a) = self.open(batch_index, task, attempt) {
            a.rows_written += rows;
        }
    }

    pub(super) fn ended(&mut self, task: TaskRef, attempt: u32, end: TaskEnd, now: TimeNs) {
        let batch_index = self.batches.len().saturating_sub(1);
        if let Some(a) = self.open(batch_index, task, attempt) {
            a.ended = Some((now, end));
        }
    }

    /// Every attempt still running on `executor` ended with it.
    pub(super) fn executor_lost(&mut self, executor: u32, now: TimeNs) {
        for a in self.attempts.iter_mut().filter(|a| a.executor == executor && a.ended.is_none()) {
            a.ended = Some((now, TaskEnd::ExecutorLost));
        }
    }

    /// Every attempt still running ended with the driver.
    pub(super) fn driver_lost(&mut self, now: TimeNs) {
        for a in self.attempts.iter_mut().filter(|a| a.ended.is_none()) {
            a.ended = Some((now, TaskEnd::DriverLost));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spark::run_spark;
    use std::sync::Arc;

    fn shipped(name: &str) -> Arc<crate::Scenario> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name);
        Arc::new(crate::Scenario::load(&path).expect("a shipped scenario loads"))
    }

    /// Watching changes nothing: the same trace hash and counters with and without it; and a
    /// run that does not keep its trace keeps no watch.
    #[test]
    fn watching_changes_nothing_and_costs_nothing_unwatched() {
        let scenario = shipped("spark-micro-batch.ron");
        let watched = run_spark(scenario.clone(), 42, true);
        let plain = run_spark(scenario, 42, false);
        assert_eq!(watched.trace_hash(), plain.trace_hash());
        assert_eq!(watched.world.stats, plain.world.stats);
        assert!(plain.world.watch.is_none());
        let watch = watched.world.watch.as_ref().expect("kept with the trace");
        assert_eq!(watch.batches.len(), watched.world.batches.len());
        assert_eq!(watch.attempts.len() as u64, watched.world.stats.tasks_launched);
    }

    /// The driver crash mid-batch 6, moved from 7.040 s (after batch 6's tasks were done) to
    /// 7.020 s, while they run: its first run's tasks ended with the driver, its re-run's were
    /// done; the rows each attempt wrote add up to the batch's.
    #[test]
    fn the_driver_crash_ends_the_batch_tasks_and_the_re_run_runs_them_again() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/spark-micro-batch.ron");
        let text = std::fs::read_to_string(path).expect("read the shipped scenario");
        let moved = text.replace("At(7_040)", "At(7_020)");
        assert_ne!(moved, text, "the crash is at 7.040 s");
        let scenario = Arc::new(crate::Scenario::parse(&moved, "spark-micro-batch.ron").expect("loads"));
        let run = run_spark(scenario, 42, true);
        let watch = run.world.watch.as_ref().expect("kept with the trace");
        let sixes: Vec<usize> = (0..run.world.batches.len()).filter(|&i| run.world.batches[i].id == 6).collect();
        assert_eq!(sixes.len(), 2, "batch 6 ran twice");
        let (first, again) = (sixes[0], sixes[1]);
        assert!(run.world.batches[again].rerun);
        let ends = |i: usize| -> Vec<Option<TaskEnd>> {
            watch.attempts.iter().filter(|a| a.batch_index == i).map(|a| a.ended.map(|e| e.1)).collect()
        };
        assert!(ends(first).contains(&Some(TaskEnd::DriverLost)), "{:?}", ends(first));
        assert!(ends(again).iter().all(|e| *e == Some(TaskEnd::Done)), "{:?}", ends(again));
        assert!(watch.batches[first].offsets_written_ns.is_some() && watch.batches[first].tasks_done_ns.is_none());
        assert!(watch.batches[again].tasks_done_ns.is_some());
        for (i, b) in run.world.batches.iter().enumerate() {
            let rows: u64 = watch.attempts.iter().filter(|a| a.batch_index == i).map(|a| a.rows_written).sum();
            assert_eq!(rows, b.rows_written, "batch entry {i}");
        }
    }
}
