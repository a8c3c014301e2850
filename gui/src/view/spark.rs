//! The Spark view: a Spark query's run recorded once (its trace and the core's watch,
//! `sim::spark::core::watch`), and what the workbench shows of it at a cursor time — the driver
//! and the executors (alive, the tasks they run), every micro-batch so far with its steps (the
//! trigger, `offsets/N`, the map and reduce tasks and the executors they ran on, the sink
//! writes, `commits/N`), what a driver restart resumed from and why, and the oracle's verdict
//! in `streamlab run`'s words.
//!
//! Everything is read off what the Spark core recorded: the view never re-implements the
//! runtime's rules. Plain data, tested without egui.

use std::sync::Arc;

use engine::sink::SinkKind;
use sim::faults::Fault;
use sim::kernel::TimeNs;
use sim::recording::{Payload, TraceEvent};
use sim::runtime::RowsAs;
use sim::scenario::{Guarantee, NodeId, Runtime, JOB_MANAGER};
use sim::spark::core::{SparkWatch, TaskAttempt, TaskEnd, TaskRef};
use sim::spark::{BatchInfo, SparkRun};
use sim::stepped::SteppedWorld as _;
use sim::Scenario;

use crate::app::ScenarioSource;
use crate::view::ledger::{Ledger, LedgerFilter, Provenance, Status, Step};
use crate::view::time_text;
use sim::oracle::Seen;

/// Where a Spark run comes from: the scenario as loaded, its file, the guarantee and sink kind
/// chosen in the workbench (None: as written), and the crashes clicked in it.
#[derive(Clone, Debug)]
pub struct SparkOrigin {
    pub base: Arc<Scenario>,
    pub source: ScenarioSource,
    pub variant: (Option<Guarantee>, Option<SinkKind>),
    /// Faults added to the file's (crashes, cut or delayed links to the driver), in the order
    /// clicked (each at the cursor's time then).
    /// The query is recorded again from the start with them: the same seed gives the same run up
    /// to the first one.
    pub injected: Vec<Fault>,
}

impl SparkOrigin {
    pub fn new(base: Arc<Scenario>, source: ScenarioSource) -> SparkOrigin {
        SparkOrigin { base, source, variant: (None, None), injected: Vec::new() }
    }

    /// The clicked faults in words ("crash jm at 7.500 s, back after 2 s, then ..."), None
    /// when there are none.
    pub fn injected_text(&self) -> Option<String> {
        crate::view::faults_text(&self.base, &self.injected)
    }

    /// What runs: the loaded query, or the same query under the chosen guarantee (its checkpoint
    /// location and sink, `sim::scenario::spark::variant`).
    pub fn scenario(&self) -> Arc<Scenario> {
        let mut scenario = match self.variant {
            (None, None) if self.injected.is_empty() => return self.base.clone(),
            (None, None) => (*self.base).clone(),
            (g, sink) => self.base.with_runtime_variant(Runtime::Spark, g.unwrap_or(self.base.guarantee), sink),
        };
        crate::view::add_clicked_faults(&mut scenario, self.injected.iter().cloned());
        Arc::new(scenario)
    }
}

/// What the view shows, on one page or another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SparkTab {
    /// The driver, the executors and the batches at the cursor.
    Batches,
    /// Records per batch, batch durations against the trigger interval, the lag.
    Charts,
    /// The sink rows against the same query without faults, row by row, each with the batch
    /// that wrote it.
    Outcome,
    Save,
}

/// A recorded Spark run and the workbench's cursor over it.
pub struct SparkSession {
    pub origin: SparkOrigin,
    /// What ran ([`SparkOrigin::scenario`]).
    pub scenario: Arc<Scenario>,
    pub seed: u64,
    pub run: SparkRun,
    pub events: Vec<TraceEvent>,
    /// Crashes and restarts (driver or executor), in time order: (time, node, crashed).
    nodes: Vec<(TimeNs, NodeId, bool)>,
    /// Each batch's moments and every task attempt (the core's watch).
    pub watch: SparkWatch,
    pub end_ns: TimeNs,
    pub cursor_ns: TimeNs,
    /// The batch (index into the run's batches) whose tasks the view details.
    pub selected: Option<usize>,
    /// `streamlab run`'s verdict line for this run ("oracle vs the Spark query's fault-free run
    /// (spark at-least-once): Duplicates (...)").
    pub verdict: String,
    /// Was the promise (or the scenario's declared outcome) kept?
    pub kept: bool,
    /// Visible sink rows at the end, this run's and the fault-free reference's.
    pub rows_visible: usize,
    pub rows_reference: usize,
    /// Faults of the schedule the Spark world does not model, with why.
    pub notes: Vec<String>,
    pub tab: SparkTab,
    /// The sink rows against the same query without faults (the attempt column: the query run
    /// that wrote each row).
    pub ledger: Ledger,
    pub filter: LedgerFilter,
    /// The selected outcome line and its chain.
    pub provenance: Option<(usize, Option<Provenance>)>,
    /// Whole-run charts (`view::plots::spark`), built once with the session.
    pub charts: Vec<crate::view::plots::Chart>,
}

/// The driver at the cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverAt {
    pub alive: bool,
    /// The query run (1 first; a restart starts the next), as the workbench counts attempts.
    pub query_run: u32,
}

/// An executor at the cursor: alive or not, and the task attempts running on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutorAt {
    pub name: String,
    pub alive: bool,
    pub running: Vec<String>,
}

/// Where a batch stands at the cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchStep {
    /// Triggered; `offsets/N` being written.
    WritingOffsets,
    /// `offsets/N` written; tasks running.
    Running,
    /// Every task done; the sink's batch committing and `commits/N` being written.
    Committing,
    Committed,
    /// Its query run ended before `commits/N` (the driver died): a restart re-runs it if
    /// `offsets/N` was written and the checkpoint location kept.
    Abandoned,
}

impl BatchStep {
    pub fn text(self) -> &'static str {
        match self {
            BatchStep::WritingOffsets => "writing offsets/N",
            BatchStep::Running => "tasks running",
            BatchStep::Committing => "committing",
            BatchStep::Committed => "committed",
            BatchStep::Abandoned => "abandoned: the driver died",
        }
    }
}

/// One batch as far as the cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchLine {
    /// Index into the run's batches.
    pub index: usize,
    pub id: u64,
    /// 1 for the first query run, as [`DriverAt::query_run`].
    pub query_run: u32,
    pub rerun: bool,
    pub due_ns: TimeNs,
    pub step: BatchStep,
    /// Records its offset ranges cover.
    pub records: u64,
    /// Task attempts launched by the cursor, done by the cursor, of how many tasks.
    pub launched: usize,
    pub done: usize,
    pub tasks: usize,
    /// Attempts cut short (executor lost, failed fetch, the driver gone).
    pub failed_attempts: usize,
    /// Sink rows its tasks wrote by the cursor.
    pub rows_written: u64,
}

/// One task attempt of the selected batch, for its table and its lanes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptLine {
    pub task: String,
    pub attempt: u32,
    pub executor: String,
    pub executor_index: u32,
    pub launched_ns: TimeNs,
    /// When it ended, if by the cursor.
    pub ended_ns: Option<TimeNs>,
    /// "running", "done", "executor lost: launched again", ...
    pub state: &'static str,
    pub ok: bool,
    pub rows_written: u64,
}

/// The Spark view at the cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SparkFrame {
    pub driver: DriverAt,
    pub executors: Vec<ExecutorAt>,
    /// Batches started by the cursor, oldest first.
    pub batches: Vec<BatchLine>,
    /// The selected batch's steps, each with its time (offsets written, tasks, sink, commit).
    pub steps: Vec<(TimeNs, String)>,
    pub attempts: Vec<AttemptLine>,
    /// What the last driver restart (by the cursor) did, and why, in sentences.
    pub recovery: Vec<String>,
}

/// How many batches the table lists at most: the latest by the cursor.
pub const BATCH_LINES_MAX: usize = 200;

fn task_text(task: TaskRef) -> String {
    match task {
        TaskRef::Map(p) => format!("map {p}"),
        TaskRef::Reduce(r) => format!("reduce {r}"),
    }
}

fn executor_name(executor: u32) -> String {
    NodeId::task_manager(executor).name()
}

impl SparkSession {
    /// Run `origin`'s scenario (a Spark one) with `seed` to its end, keeping the trace.
    pub fn record(origin: SparkOrigin, seed: u64) -> SparkSession {
        let run = sim::spark::run_spark(origin.scenario(), seed, true);
        SparkSession::from_run(origin, seed, run)
    }

    /// The session of a finished run (recorded with its trace kept, here or by
    /// `recording::SparkRecorder` off the UI thread). The verdict is `streamlab run`'s: the
    /// model's own `run` (the same seed gives the same run, checked by its trace hash).
    pub fn from_run(origin: SparkOrigin, seed: u64, mut run: SparkRun) -> SparkSession {
        let scenario = run.world.scenario.clone();
        let events = run.world.recorder.take_events();
        let watch = run.world.watch.take().unwrap_or_default();
        let end_ns = run.world.finished_at_ns.unwrap_or(run.world.now_ns());
        let report = sim::runtime::model(Runtime::Spark).run(&scenario, seed, RowsAs::Text);
        let mut verdict = report.oracle_line;
        if report.trace_hash != run.trace_hash() {
            verdict.push_str(" (from a run that differs from the one shown: a bug, please report it)");
        }
        let reference = sim::run::spark_reference_run(&scenario, seed);
        let ledger = Ledger::build(&scenario, &events, Seen::of(&reference.observed()), Seen::of(&run.observed()));
        let mut session = SparkSession {
            charts: Vec::new(),
            ledger,
            filter: LedgerFilter::default(),
            provenance: None,
            rows_visible: run.visible_rows().len(),
            rows_reference: reference.visible_rows().len(),
            kept: report.judgement.kept,
            notes: report.notes.into_iter().chain(report.judgement.outcome.records_inside_rows()).collect(),
            verdict,
            origin,
            scenario,
            seed,
            run,
            nodes: node_events(&events),
            events,
            watch,
            end_ns,
            cursor_ns: 0,
            selected: None,
            tab: SparkTab::Batches,
        };
        session.charts = crate::view::plots::spark(&session);
        session
    }

    pub fn batches(&self) -> &[BatchInfo] {
        &self.run.world.batches
    }

    pub fn set_cursor(&mut self, ns: TimeNs) {
        self.cursor_ns = ns.min(self.end_ns);
    }

    /// Select batch entry `index` and put the cursor where its tasks are done (or at its end):
    /// its steps are all on screen.
    pub fn select_batch(&mut self, index: usize) {
        let Some(b) = self.batches().get(index) else { return };
        let moments = self.watch.batches.get(index).copied().unwrap_or_default();
        let at = b.committed_ns.or(moments.tasks_done_ns).or(self.last_attempt_end(index)).unwrap_or(b.started_ns);
        self.selected = Some(index);
        self.set_cursor(at);
    }

    fn last_attempt_end(&self, index: usize) -> Option<TimeNs> {
        self.attempts_of_batch(index).iter().filter_map(|a| a.ended.map(|e| e.0)).max()
    }

    /// The batch that started last by the cursor (None before the first).
    pub fn batch_at_cursor(&self) -> Option<usize> {
        self.batches().iter().rposition(|b| b.started_ns <= self.cursor_ns)
    }

    /// Step to the next (or previous) batch and select it.
    pub fn step_batch(&mut self, forward: bool) {
        let n = self.batches().len();
        let current = self.selected.or(self.batch_at_cursor());
        let next = match (current, forward) {
            (None, true) => Some(0),
            (None, false) => None,
            (Some(i), true) => (i + 1 < n).then_some(i + 1),
            (Some(i), false) => i.checked_sub(1),
        };
        if let Some(i) = next.filter(|&i| i < n) {
            self.select_batch(i);
        }
    }

    /// Crashes (driver or executor) and restarts, in time order: (time, node, crashed).
    pub fn node_events(&self) -> &[(TimeNs, NodeId, bool)] {
        &self.nodes
    }
}

/// Crashes (driver or executor) and restarts in `events`, in time order: (time, node, crashed).
fn node_events(events: &[TraceEvent]) -> Vec<(TimeNs, NodeId, bool)> {
    {
        events
            .iter()
            .filter_map(|e| match e.payload() {
                Payload::NodeCrashed { .. } => Some((e.time_ns, e.node(), true)),
                Payload::NodeRestarted => Some((e.time_ns, e.node(), false)),
                _ => None,
            })
            .collect()
    }
}

impl SparkSession {
    /// The first batch a restarted driver re-ran (in the offset log without a commit): the
    /// cursor goes where it is committed, and it is selected. False when none was.
    pub fn show_rerun(&mut self) -> bool {
        match self.batches().iter().position(|b| b.rerun) {
            Some(i) => {
                self.select_batch(i);
                true
            }
            None => false,
        }
    }

    /// The view at the cursor.
    pub fn frame(&self) -> SparkFrame {
        let t = self.cursor_ns;
        let mut driver = DriverAt { alive: true, query_run: 1 };
        let mut executors: Vec<ExecutorAt> = (0..self.scenario.task_managers)
            .map(|i| ExecutorAt { name: executor_name(i), alive: true, running: Vec::new() })
            .collect();
        for &(_, node, crashed) in self.nodes.iter().filter(|e| e.0 <= t) {
            if node == JOB_MANAGER {
                driver.alive = !crashed;
                driver.query_run += u32::from(!crashed);
            } else if let Some(e) = node.task_manager_index().and_then(|i| executors.get_mut(i as usize)) {
                e.alive = !crashed;
            }
        }
        for a in self.watch.attempts.iter().filter(|a| a.launched_ns <= t && a.ended.is_none_or(|e| e.0 > t)) {
            if let Some(e) = executors.get_mut(a.executor as usize) {
                let id = self.batches().get(a.batch_index).map_or(0, |b| b.id);
                e.running.push(format!("batch {id} {}", task_text(a.task)));
            }
        }
        // The latest batches by the cursor (a long run has thousands; the table shows these).
        let started = self.batches().partition_point(|b| b.started_ns <= t);
        let batches: Vec<BatchLine> =
            (started.saturating_sub(BATCH_LINES_MAX)..started).map(|i| self.batch_line(i)).collect();
        let selected = self.selected.or(self.batch_at_cursor());
        SparkFrame {
            driver,
            executors,
            batches,
            steps: selected.map(|i| self.steps_of(i)).unwrap_or_default(),
            attempts: selected.map(|i| self.attempts_of(i)).unwrap_or_default(),
            recovery: self.recovery(),
        }
    }

    /// Batch entry `index`'s task attempts. The watch lists them in launch order, hence by batch
    /// (a batch's tasks launch after the previous batch's): found by bisection, so that a frame
    /// of a run with thousands of batches does not scan every attempt per batch.
    fn attempts_of_batch(&self, index: usize) -> &[TaskAttempt] {
        let all = &self.watch.attempts;
        let from = all.partition_point(|a| a.batch_index < index);
        let to = all.partition_point(|a| a.batch_index <= index);
        &all[from..to.max(from)]
    }

    /// Batch entry `index`'s task attempts launched by the cursor.
    fn attempts_in(&self, index: usize) -> impl Iterator<Item = &TaskAttempt> {
        let t = self.cursor_ns;
        self.attempts_of_batch(index).iter().filter(move |a| a.launched_ns <= t)
    }

    /// Where batch entry `index` stands at the cursor.
    fn step_of(&self, index: usize) -> BatchStep {
        let t = self.cursor_ns;
        let b = &self.batches()[index];
        let m = self.watch.batches.get(index).copied().unwrap_or_default();
        if b.committed_ns.is_some_and(|c| c <= t) {
            return BatchStep::Committed;
        }
        // A later batch started, or the driver died (its query run is over), without commits/N.
        let next_started = self.batches().get(index + 1).is_some_and(|n| n.started_ns <= t);
        let driver_died = b.committed_ns.is_none()
            && self
                .nodes
                .iter()
                .any(|&(at, node, crashed)| crashed && node == JOB_MANAGER && at >= b.started_ns && at <= t);
        if next_started || driver_died {
            return BatchStep::Abandoned;
        }
        match (m.offsets_written_ns, m.tasks_done_ns) {
            (_, Some(d)) if d <= t => BatchStep::Committing,
            (Some(o), _) if o <= t => BatchStep::Running,
            _ => BatchStep::WritingOffsets,
        }
    }

    fn batch_line(&self, index: usize) -> BatchLine {
        let t = self.cursor_ns;
        let b = &self.batches()[index];
        let attempts: Vec<&TaskAttempt> = self.attempts_in(index).collect();
        let ended = |a: &&TaskAttempt| a.ended.filter(|e| e.0 <= t).map(|e| e.1);
        let tasks =
            self.scenario.partitions as usize + self.run.world.query.window.as_ref().map_or(0, |(_, n)| *n as usize);
        BatchLine {
            index,
            id: b.id,
            query_run: b.run + 1,
            rerun: b.rerun,
            due_ns: b.due_ns,
            step: self.step_of(index),
            records: b.offsets.ranges.iter().map(|r| r.1 - r.0).sum(),
            launched: attempts.len(),
            done: attempts.iter().filter(|a| ended(a) == Some(TaskEnd::Done)).count(),
            tasks,
            failed_attempts: attempts.iter().filter(|a| ended(a).is_some_and(|e| e != TaskEnd::Done)).count(),
            rows_written: attempts.iter().filter(|a| a.ended.is_some_and(|e| e.0 <= t)).map(|a| a.rows_written).sum(),
        }
    }

    fn attempts_of(&self, index: usize) -> Vec<AttemptLine> {
        let t = self.cursor_ns;
        self.attempts_in(index)
            .map(|a| {
                let ended = a.ended.filter(|e| e.0 <= t);
                let (state, ok) = match ended.map(|e| e.1) {
                    None => ("running", true),
                    Some(TaskEnd::Done) => ("done", true),
                    Some(TaskEnd::FetchFailed) => ("fetch failed (a map output was lost): launched again", false),
                    Some(TaskEnd::ExecutorLost) => ("its executor died: launched again", false),
                    Some(TaskEnd::DriverLost) => ("the driver died: the query run is over", false),
                };
                AttemptLine {
                    task: task_text(a.task),
                    attempt: a.attempt,
                    executor: executor_name(a.executor),
                    executor_index: a.executor,
                    launched_ns: a.launched_ns,
                    ended_ns: ended.map(|e| e.0),
                    state,
                    ok,
                    rows_written: if ended.is_some() { a.rows_written } else { 0 },
                }
            })
            .collect()
    }

    /// The sink's words for what a batch's rows do.
    fn sink_text(&self) -> &'static str {
        match sim::run::own_sink(&self.scenario) {
            SinkKind::Plain => "appended to the plain sink (visible at once)",
            SinkKind::Idempotent => "upserted into the idempotent sink by key and window",
            SinkKind::TwoPhaseCommit => "written as this attempt's files (visible when the driver commits the batch)",
        }
    }

    /// Batch entry `index`'s steps by the cursor, each with its time.
    fn steps_of(&self, index: usize) -> Vec<(TimeNs, String)> {
        let t = self.cursor_ns;
        let b = &self.batches()[index];
        let m = self.watch.batches.get(index).copied().unwrap_or_default();
        let s = &self.scenario;
        let mut steps = Vec::new();
        let ranges: Vec<String> =
            b.offsets.ranges.iter().enumerate().map(|(p, r)| format!("p{p} {}..{}", r.0, r.1)).collect();
        let trigger = if b.rerun {
            format!(
                "batch {} re-run by the restarted driver (trigger due {}): offsets/{} is in the checkpoint without commits/{}",
                b.id,
                time_text(s, b.due_ns),
                b.id,
                b.id
            )
        } else {
            format!("trigger (due {}): the driver plans batch {}", time_text(s, b.due_ns), b.id)
        };
        steps.push((b.started_ns, trigger));
        if let Some(o) = m.offsets_written_ns.filter(|&o| o <= t) {
            steps.push((
                o,
                format!(
                    "offsets/{} written: {} ({} records), WM(N-1) {}, WM(N) {}{}",
                    b.id,
                    ranges.join(", "),
                    b.offsets.ranges.iter().map(|r| r.1 - r.0).sum::<u64>(),
                    crate::view::event_time_text(s, b.offsets.late_watermark_ms),
                    crate::view::event_time_text(s, b.offsets.watermark_ms),
                    match (b.rerun, b.offsets.ranges.iter().all(|r| r.0 == r.1)) {
                        (true, _) => " — the same as its first run's",
                        (false, true) =>
                            " — a no-data batch: nothing new arrived, but the watermark moved, so windows may close",
                        (false, false) => "",
                    }
                ),
            ));
        }
        for a in self.attempts_in(index) {
            let executor = executor_name(a.executor);
            steps
                .push((a.launched_ns, format!("{} (attempt {}) launched on {executor}", task_text(a.task), a.attempt)));
            if let Some((end, how)) = a.ended.filter(|e| e.0 <= t) {
                let text = match how {
                    TaskEnd::Done if a.rows_written > 0 => {
                        format!(
                            "{} done on {executor}: {} rows {}",
                            task_text(a.task),
                            a.rows_written,
                            self.sink_text()
                        )
                    }
                    TaskEnd::Done => format!("{} done on {executor}", task_text(a.task)),
                    TaskEnd::FetchFailed => format!(
                        "{} could not fetch a lost map output: it waits for the map task to re-run",
                        task_text(a.task)
                    ),
                    TaskEnd::ExecutorLost => {
                        format!("{} lost with {executor}: the driver launches it again", task_text(a.task))
                    }
                    TaskEnd::DriverLost => format!(
                        "{} ended with the driver{}",
                        task_text(a.task),
                        if a.rows_written > 0 {
                            format!(" (it had written {} rows)", a.rows_written)
                        } else {
                            String::new()
                        }
                    ),
                };
                steps.push((end, text));
            }
        }
        if let Some(d) = m.tasks_done_ns.filter(|&d| d <= t) {
            let text = match sim::run::own_sink(s) {
                SinkKind::TwoPhaseCommit => {
                    format!("every task done: the driver commits batch {} in the sink (its rows become visible)", b.id)
                }
                _ => format!("every task done: the driver writes commits/{}", b.id),
            };
            steps.push((d, text));
        }
        if let Some(c) = b.committed_ns.filter(|&c| c <= t) {
            steps.push((c, format!("commits/{} written: batch {} is done", b.id, b.id)));
        } else if self.step_of(index) == BatchStep::Abandoned {
            let offsets = if m.offsets_written_ns.is_some() { "written" } else { "not written" };
            let at = self.abandoned_at(index).min(t);
            steps.push((at, format!("no commits/{}: the driver died (offsets/{} {offsets})", b.id, b.id)));
        }
        steps.sort_by_key(|s| s.0);
        steps
    }

    /// When batch entry `index`'s query run ended without its commit: the driver's crash after it
    /// started, else when the next batch started (the run's end for the last).
    pub fn abandoned_at(&self, index: usize) -> TimeNs {
        let started = self.batches()[index].started_ns;
        let crash = self.nodes.iter().find(|&&(at, node, crashed)| crashed && node == JOB_MANAGER && at >= started);
        crash.map(|c| c.0).or_else(|| self.batches().get(index + 1).map(|b| b.started_ns)).unwrap_or(self.end_ns)
    }

    /// What the last driver restart by the cursor resumed from, and why.
    pub fn recovery(&self) -> Vec<String> {
        let t = self.cursor_ns;
        let s = &self.scenario;
        let events = &self.nodes;
        let Some(&(back, _, _)) =
            events.iter().rev().find(|&&(at, node, crashed)| !crashed && node == JOB_MANAGER && at <= t)
        else {
            return match events.iter().rev().find(|&&(at, node, crashed)| crashed && node == JOB_MANAGER && at <= t) {
                Some(&(at, _, _)) => vec![format!(
                    "The driver died at {}: the query stops, its executors' tasks with it. The checkpoint location, the sink and the source log survive.",
                    time_text(s, at)
                )],
                None => Vec::new(),
            };
        };
        let crashed = events.iter().rev().find(|&&(at, node, c)| c && node == JOB_MANAGER && at <= back).map(|e| e.0);
        let mut lines = Vec::new();
        if let Some(at) = crashed {
            lines.push(format!("The driver died at {} and was restarted at {}.", time_text(s, at), time_text(s, back)));
        }
        // The batches before the restart and the first one after it.
        let before: Vec<&BatchInfo> = self.batches().iter().filter(|b| b.started_ns < back).collect();
        let after = self.batches().iter().find(|b| b.started_ns >= back);
        let last_commit = before.iter().filter(|b| b.committed_ns.is_some()).map(|b| b.id).max();
        let commit_text =
            last_commit.map_or("no commit yet".to_string(), |c| format!("the last commit is commits/{c}"));
        if self.run.world.config.checkpoint {
            match after {
                Some(b) if b.rerun => {
                    let first = before.iter().rev().find(|x| x.id == b.id);
                    let rows = first.map_or(0, |x| x.rows_written);
                    lines.push(format!(
                        "It read the checkpoint location: {commit_text}, and offsets/{} is there without commits/{}. So batch {} runs again first, with the same offsets and watermarks (Spark re-runs the batch it planned; it never plans it anew).",
                        b.id, b.id, b.id
                    ));
                    lines.push(match sim::run::own_sink(s) {
                        SinkKind::Plain if rows > 0 => format!("Its first run had written {rows} rows to the plain sink before the crash: the re-run writes them again, so a reader sees them twice (at-least-once)."),
                        SinkKind::Plain => "Its first run had written no rows yet: the re-run's rows arrive once.".to_string(),
                        SinkKind::Idempotent => format!("Its first run had written {rows} rows; the re-run's upserts replace them by key and window: a reader sees each once (exactly-once)."),
                        SinkKind::TwoPhaseCommit => "Its first run's files were never committed; the re-run's are, once (exactly-once): the sink's manifest names each batch it committed.".to_string(),
                    });
                }
                Some(b) => lines.push(format!(
                    "It read the checkpoint location: {commit_text}, and no batch is in the offset log without a commit, so the query goes on with batch {}.",
                    b.id
                )),
                None => lines.push(format!("It read the checkpoint location: {commit_text}.")),
            }
        } else {
            let read_until: Vec<u64> =
                before.last().map(|b| b.offsets.ranges.iter().map(|r| r.1).collect()).unwrap_or_default();
            let skipped: u64 = after.map_or(0, |b| {
                b.offsets.ranges.iter().zip(&read_until).map(|(r, &until)| r.0.saturating_sub(until)).sum()
            });
            let lost = before.last().filter(|b| b.committed_ns.is_none());
            lines.push(format!(
                "Without a checkpoint location the restarted query starts afresh from the latest offsets: {}{skipped} records that arrived while it was down are never read, and the state of open windows is gone (at-most-once).",
                lost.map_or(String::new(), |b| format!("batch {} was not committed and is never run again; ", b.id))
            ));
        }
        lines
    }

    /// Select outcome line `line` (None: none) and build its chain.
    pub fn select_line(&mut self, line: Option<usize>) {
        self.provenance = line.map(|l| (l, self.provenance_of(l)));
    }

    /// The batch entry whose run wrote a row at `written_ns` (its tasks run between its start
    /// and its commit, or its query run's end).
    fn batch_writing_at(&self, written_ns: TimeNs) -> Option<usize> {
        (0..self.batches().len()).rev().find(|&i| {
            let b = &self.batches()[i];
            b.started_ns <= written_ns && written_ns <= b.committed_ns.unwrap_or_else(|| self.abandoned_at(i))
        })
    }

    /// Outcome line `line`'s chain: the batch that wrote its row (its offsets, the task that
    /// wrote it, its commit or the crash that cut it short), the earlier line it repeats, and
    /// why it is marked as it is. None for a row the run never wrote (a missing one: its why
    /// is the Outcome tab's count).
    pub fn provenance_of(&self, line: usize) -> Option<Provenance> {
        let l = self.ledger.rows.get(line)?;
        let s = &self.scenario;
        let mut steps = Vec::new();
        // The re-run batch that wrote this row, and whether the row it repeats was written by a
        // batch that never committed.
        let mut rerun: Option<u64> = None;
        let mut first_uncommitted = false;
        for (title, row) in [("First write", l.repeats.and_then(|r| self.ledger.rows.get(r))), ("This row", Some(l))] {
            let Some(stored) = row.and_then(|r| r.run_row).and_then(|i| self.ledger.run_rows.get(i)) else { continue };
            let Some(i) = self.batch_writing_at(stored.written_ns) else { continue };
            let b = &self.batches()[i];
            if b.rerun && title == "This row" {
                rerun = Some(b.id);
            }
            first_uncommitted |= b.committed_ns.is_none() && title == "First write";
            let writer = self.attempts_of_batch(i).iter().find(|a| {
                a.rows_written > 0
                    && a.launched_ns <= stored.written_ns
                    && a.ended.is_none_or(|e| stored.written_ns <= e.0)
            });
            steps.push(Step {
                title: format!("{title}: batch {}", b.id),
                caption: format!(
                    "batch {}{} of query run {}, offsets/{} written",
                    b.id,
                    if b.rerun { " (re-run)" } else { "" },
                    b.run + 1,
                    b.id
                ),
                time_ns: self.watch.batches.get(i).and_then(|m| m.offsets_written_ns).or(Some(b.started_ns)),
            });
            steps.push(Step {
                title: "Sink write".into(),
                caption: match writer {
                    Some(a) => format!(
                        "{} (attempt {}) on {} wrote it",
                        task_text(a.task),
                        a.attempt,
                        executor_name(a.executor)
                    ),
                    None => "a task of the batch wrote it".into(),
                },
                time_ns: Some(stored.written_ns),
            });
            steps.push(match b.committed_ns {
                Some(c) => {
                    Step { title: "Commit".into(), caption: format!("commits/{} written", b.id), time_ns: Some(c) }
                }
                None => Step {
                    title: "Driver crash".into(),
                    caption: format!("the driver died before commits/{}", b.id),
                    time_ns: Some(self.abandoned_at(i)),
                },
            });
        }
        if steps.is_empty() {
            return None;
        }
        let plain = sim::run::own_sink(s) == SinkKind::Plain;
        let why = match l.status {
            Status::Duplicate if first_uncommitted && plain && rerun.is_some() => {
                let n = rerun.unwrap_or_default();
                format!(
                    "Batch {n} ran twice with the same offsets: its first run wrote this row to the plain sink, then the driver died before commits/{n}; the restarted driver found offsets/{n} without a commit and re-ran it, writing the row again. A plain sink keeps both: at-least-once."
                )
            }
            Status::Duplicate => "The same result reached the sink twice.".into(),
            Status::Exact if rerun.is_some() => "Written by a re-run batch; the sink shows it as the query without faults does.".into(),
            Status::Exact => "This row is what the query without faults shows.".into(),
            Status::Wrong | Status::Unexpected if !self.run.world.config.checkpoint => "Without a checkpoint location the restarted query started from the latest offsets with empty state: this window's count misses the records before the restart (or those it skipped).".into(),
            Status::Wrong | Status::Unexpected => "Some records were counted more or fewer times than without faults.".into(),
            Status::Missing => "The query without faults shows this row; this run never wrote it.".into(),
        };
        Some(Provenance { headline: format!("{} {} {}", l.sink, l.key, l.window), steps, why })
    }

    /// Crash and restart times for the timeline: (time, crashed, is the driver).
    pub fn markers(&self) -> Vec<(TimeNs, bool, bool)> {
        self.nodes.iter().map(|&(at, node, crashed)| (at, crashed, node == JOB_MANAGER)).collect()
    }

    /// The cuts and delays of an executor's link to the driver in this run's schedule, for the
    /// executor's lane of the timeline.
    pub fn driver_link_faults(&self) -> Vec<DriverLinkFault> {
        let to_driver = |a: NodeId, b: NodeId| match (a, b) {
            (x, JOB_MANAGER) | (JOB_MANAGER, x) => x.task_manager_index(),
            _ => None,
        };
        self.run
            .world
            .faults
            .iter()
            .filter_map(|f| match *f {
                Fault::Partition { a, b, from_ns, until_ns } => {
                    to_driver(a, b).map(|executor| DriverLinkFault { executor, from_ns, until_ns, extra_ns: None })
                }
                Fault::LatencySpike { link: Some((a, b)), from_ns, until_ns, extra_ns } => to_driver(a, b)
                    .map(|executor| DriverLinkFault { executor, from_ns, until_ns, extra_ns: Some(extra_ns) }),
                _ => None,
            })
            .collect()
    }
}

/// An executor's link to the driver cut (messages wait until `until_ns`) or delayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriverLinkFault {
    pub executor: u32,
    pub from_ns: TimeNs,
    pub until_ns: TimeNs,
    /// None: cut; Some: each message takes this much longer.
    pub extra_ns: Option<TimeNs>,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn session(file: &str, variant: (Option<Guarantee>, Option<SinkKind>)) -> SparkSession {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(file);
        let base = Arc::new(Scenario::load(&path).expect("shipped scenario loads"));
        let origin = SparkOrigin { variant, ..SparkOrigin::new(base, ScenarioSource::File(path)) };
        SparkSession::record(origin, 42)
    }

    /// The verdict is `streamlab run`'s line, for the same run.
    #[test]
    fn the_verdict_is_the_command_lines() {
        let s = session("spark-micro-batch.ron", (None, None));
        let report = sim::runtime::model(Runtime::Spark).run(&s.scenario, 42, RowsAs::Text);
        assert_eq!(s.verdict, report.oracle_line);
        assert!(s.verdict.contains("Duplicates") && s.verdict.contains("kept"), "{}", s.verdict);
        assert!(s.rows_visible > s.rows_reference, "duplicates: {} vs {}", s.rows_visible, s.rows_reference);
    }

    /// Before the crash batch 6 is committing (its tasks are done, `commits/6` is being
    /// written); after it, abandoned; after the restart it is listed again as a re-run with the
    /// same offsets, and the recovery says why.
    #[test]
    fn after_the_driver_crash_batch_6_is_re_run_with_the_same_offsets() {
        let mut s = session("spark-micro-batch.ron", (None, None));
        let crash = s.markers().iter().find(|m| m.1 && m.2).map(|m| m.0).expect("a driver crash");
        s.set_cursor(crash - 1);
        let f = s.frame();
        let six = f.batches.last().expect("batches");
        assert_eq!((six.id, six.step, six.rerun), (6, BatchStep::Committing, false));
        assert!(f.driver.alive && f.recovery.is_empty());
        s.set_cursor(crash + 1);
        let f = s.frame();
        assert!(!f.driver.alive);
        assert_eq!(f.batches.last().map(|b| b.step), Some(BatchStep::Abandoned));
        assert!(f.recovery[0].contains("The driver died"), "{:?}", f.recovery);
        // Half a second later the abandoned batch's last step is still the crash, not the cursor.
        s.set_cursor(crash + 500_000_000);
        let last = s.frame().steps.last().cloned().expect("steps");
        assert_eq!(last.0, crash, "{last:?}");
        assert!(last.1.starts_with("no commits/6") && last.1.contains("offsets/6 written"), "{last:?}");
        assert!(s.show_rerun());
        let f = s.frame();
        let rerun = f.batches.last().expect("the re-run");
        assert_eq!((rerun.id, rerun.rerun, rerun.query_run, rerun.step), (6, true, 2, BatchStep::Committed));
        let first = f.batches.iter().find(|b| b.id == 6 && !b.rerun).expect("the first run");
        assert_eq!(first.records, rerun.records);
        assert_eq!(s.batches()[first.index].offsets, s.batches()[rerun.index].offsets, "the same offsets/6");
        assert!(f.driver.alive && f.driver.query_run == 2);
        let why = f.recovery.join(" ");
        assert!(why.contains("offsets/6 is there without commits/6") && why.contains("twice"), "{why}");
        assert!(f.steps.iter().any(|(_, t)| t.contains("re-run by the restarted driver")), "{:?}", f.steps);
        assert!(f.attempts.iter().all(|a| a.state == "done"), "{:?}", f.attempts);
        assert!(f.attempts.iter().any(|a| a.task.starts_with("reduce")), "{:?}", f.attempts);
    }

    /// The Outcome tab: the duplicate rows are the re-run batch's, and their chain says so.
    #[test]
    fn a_duplicate_row_goes_back_to_the_batch_that_ran_twice() {
        let mut s = session("spark-micro-batch.ron", (None, None));
        assert_eq!(s.ledger.count(Status::Duplicate), s.ledger.outcome.duplicate_rows.len());
        let dup = s.ledger.rows.iter().position(|l| l.status == Status::Duplicate).expect("a duplicate");
        assert_eq!(s.ledger.rows[dup].attempt, Some(2), "written by the second query run");
        s.select_line(Some(dup));
        let p = s.provenance.clone().and_then(|p| p.1).expect("a chain");
        let titles: Vec<&str> = p.steps.iter().map(|st| st.title.as_str()).collect();
        assert_eq!(
            titles,
            ["First write: batch 6", "Sink write", "Driver crash", "This row: batch 6", "Sink write", "Commit"]
        );
        assert!(p.why.contains("Batch 6 ran twice with the same offsets"), "{}", p.why);
        // The first rows a reader saw are batch 6's first run's (no earlier batch closed a
        // window): their chain ends at the crash; later rows' at their batch's commit.
        let chains: Vec<Provenance> = (0..s.ledger.rows.len())
            .filter(|&l| s.ledger.rows[l].status == Status::Exact)
            .map(|l| s.provenance_of(l).expect("a written row has a chain"))
            .collect();
        let ends = |title: &str| chains.iter().filter(|p| p.steps.last().is_some_and(|st| st.title == title)).count();
        let before_crash = s.batches().iter().find(|b| b.id == 6 && !b.rerun).map_or(0, |b| b.rows_written) as usize;
        assert!(before_crash > 0);
        assert_eq!(ends("Driver crash"), before_crash, "the rows batch 6 wrote before the crash");
        assert_eq!(ends("Commit"), chains.len() - before_crash);
    }

    /// Without a checkpoint location nothing is re-run: the recovery says what is skipped.
    #[test]
    fn without_a_checkpoint_nothing_is_re_run_and_the_skip_is_named() {
        let mut s = session("spark-micro-batch.ron", (Some(Guarantee::AtMostOnce), None));
        assert!(!s.show_rerun());
        assert!(s.verdict.contains("Loss"), "{}", s.verdict);
        s.set_cursor(s.end_ns);
        let why = s.frame().recovery.join(" ");
        assert!(
            why.contains("starts afresh from the latest offsets") && why.contains("batch 6 was not committed"),
            "{why}"
        );
    }

    /// An executor dies while batch 3's map tasks run on it: those attempts end "executor lost",
    /// are launched again (attempt 2) on a live executor, and the batch still commits.
    #[test]
    fn an_executor_loss_shows_the_lost_attempts_and_their_retries() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/spark-micro-batch.ron");
        let mut scenario = Scenario::load(&path).expect("loads");
        scenario.faults.push(sim::faults::Fault::Crash {
            node: NodeId::task_manager(1),
            at: sim::faults::Trigger::At(4_012_000_000),
            restart_after_ns: Some(1_000_000_000),
        });
        let mut s = SparkSession::record(SparkOrigin::new(Arc::new(scenario), ScenarioSource::File(path)), 42);
        let three = s.batches().iter().position(|b| b.id == 3).expect("batch 3");
        s.select_batch(three);
        let f = s.frame();
        let lost: Vec<&AttemptLine> = f.attempts.iter().filter(|a| !a.ok).collect();
        assert!(!lost.is_empty() && lost.iter().all(|a| a.executor == "tm-1"), "{:?}", f.attempts);
        assert!(lost.iter().all(|a| a.state.contains("executor died")), "{lost:?}");
        for a in &lost {
            let retry = f.attempts.iter().find(|r| r.task == a.task && r.attempt == 2).expect("launched again");
            assert_eq!((retry.executor.as_str(), retry.state), ("tm-0", "done"), "{retry:?}");
        }
        let line = f.batches.iter().find(|b| b.index == three).expect("listed");
        assert_eq!((line.step, line.failed_attempts), (BatchStep::Committed, lost.len()));
        assert!(
            f.steps.iter().any(|(_, t)| t.contains("lost with tm-1: the driver launches it again")),
            "{:?}",
            f.steps
        );
        assert!(s.markers().iter().any(|&(_, crashed, driver)| crashed && !driver));
    }

    /// The executors run the tasks: mid-batch some executor has a task, and every attempt of a
    /// committed batch names an executor of the cluster.
    #[test]
    fn tasks_run_on_executors() {
        let mut s = session("spark-micro-batch.ron", (None, None));
        let a = s.watch.attempts[5];
        s.set_cursor(a.launched_ns);
        let f = s.frame();
        assert!(f.executors.iter().any(|e| !e.running.is_empty()), "{:?}", f.executors);
        assert!(f.executors[a.executor as usize].running.iter().any(|r| r.contains(&task_text(a.task))));
        // The attempts are ordered by batch, as the bisection assumes.
        for i in 0..s.batches().len() {
            let scanned: Vec<&TaskAttempt> = s.watch.attempts.iter().filter(|a| a.batch_index == i).collect();
            let found: Vec<&TaskAttempt> = s.attempts_of_batch(i).iter().collect();
            assert_eq!(found, scanned, "batch entry {i}");
        }
    }

    /// The charts: the re-run batch is the one point of the re-run line, at its start, with the
    /// records of the first run of batch 6; every batch has a duration and a start delay; the
    /// lag peaks between the crash and the commit of the first batch after the re-run (which
    /// reads what arrived while the driver was down), and is 0 at the end.
    #[test]
    fn the_charts_show_the_re_run_batch_its_durations_and_the_lag() {
        let s = session("spark-micro-batch.ron", (None, None));
        let [records, durations, lag] = &s.charts[..] else { panic!("three charts: {:?}", s.charts) };
        let rerun = s.batches().iter().find(|b| b.rerun).expect("a re-run");
        let first = s.batches().iter().find(|b| b.id == rerun.id && !b.rerun).expect("its first run");
        let count = |b: &BatchInfo| b.offsets.ranges.iter().map(|r| r.1 - r.0).sum::<u64>() as f64;
        let rerun_points: Vec<(f64, f64)> = records.series[1].points.iter().copied().filter(|p| p.1 > 0.0).collect();
        let x = rerun.started_ns as f64 / 1e9;
        assert_eq!(rerun_points, vec![(x, count(first))]);
        // A spike: 0 just before and after it at the same time, not a ramp from the batch before.
        let spike = records.series[1].points.iter().position(|p| p.1 > 0.0).unwrap();
        assert_eq!(records.series[1].points[spike - 1], (x, 0.0));
        assert_eq!(records.series[1].points[spike + 1], (x, 0.0));
        assert_eq!(records.series[0].points.len(), s.batches().len());
        assert_eq!(durations.series[0].points.len(), s.batches().len());
        assert!(durations.series[0].points.iter().all(|p| p.1 > 0.0), "{:?}", durations.series[0]);
        assert!(durations.series[2].points.iter().all(|p| p.1 == 1_000.0), "the 1 s trigger");
        let crash = s.markers().iter().find(|m| m.1 && m.2).expect("a driver crash").0 as f64 / 1e9;
        let after = s.batches().iter().position(|b| b.rerun).map(|i| &s.batches()[i + 1]).expect("a batch after");
        let back = after.committed_ns.expect("committed") as f64 / 1e9;
        let peak = lag.series[0].points.iter().copied().fold((0.0, f64::MIN), |a, p| if p.1 > a.1 { p } else { a });
        assert!(crash <= peak.0 && peak.0 <= back, "the lag peaks until the restarted query catches up: {peak:?}");
        assert_eq!(lag.series[0].points.last().map(|p| p.1), Some(0.0));
    }

    /// Cutting executor tm-1 off from the driver for 1.5 s while batch 2 runs (before the file's
    /// driver crash): that batch takes at least the cut's length, and batch 3 starts late (its
    /// trigger was due meanwhile).
    #[test]
    fn a_cut_to_the_driver_makes_the_batch_late() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/spark-micro-batch.ron");
        let base = Arc::new(Scenario::load(&path).expect("loads"));
        let plain = SparkSession::record(SparkOrigin::new(base.clone(), ScenarioSource::File(path.clone())), 42);
        let two = plain.batches().iter().find(|b| b.id == 2).expect("batch 2");
        let at = two.started_ns + 1_000_000;
        let cut = crate::app::FaultRequest::Isolate { tm: 1, duration_ms: 1_500 }.fault(at);
        let origin = SparkOrigin { injected: vec![cut], ..SparkOrigin::new(base, ScenarioSource::File(path)) };
        assert!(
            origin.injected_text().is_some_and(|t| t.contains("partition tm-1<->jm")),
            "{:?}",
            origin.injected_text()
        );
        let s = SparkSession::record(origin, 42);
        let band = DriverLinkFault { executor: 1, from_ns: at, until_ns: at + 1_500_000_000, extra_ns: None };
        assert_eq!(s.driver_link_faults(), vec![band], "the timeline's band behind tm-1");
        assert!(plain.driver_link_faults().is_empty());
        let two = s.batches().iter().find(|b| b.id == 2).expect("batch 2");
        let took = two.committed_ns.expect("committed") - two.started_ns;
        assert!(took >= 1_500_000_000 - 1_000_000, "batch 2 waited out the cut: {took} ns");
        let three = s.batches().iter().find(|b| b.id == 3).expect("batch 3");
        assert!(three.started_ns > three.due_ns, "batch 3 started late: {three:?}");
        // The file declares the outcome of its own faults; with a clicked one the run is held
        // to the at-least-once promise (kept: nothing lost), and a saved run declares nothing.
        assert!(!plain.scenario.expect.outcomes.is_empty());
        assert!(s.kept && s.verdict.contains("the at-least-once promise"), "{}", s.verdict);
        let saved = crate::shown_run::ShownRun::scenario_file_text(&s);
        assert!(saved.contains("outcomes: [],"), "{saved}");
        let late = &s.charts[1].series[1];
        assert!(late.points.iter().any(|p| p.1 > 0.0), "the chart shows it: {late:?}");
        assert!(!plain.charts[1].series[1].points.iter().any(|p| p.1 > 1_000.0), "{:?}", plain.charts[1].series[1]);
    }
}
