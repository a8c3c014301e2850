//! A batch's tasks: the driver's scheduler (task slots, retries after an executor loss, map
//! outputs recomputed from lineage when they were lost) and the executors that run them.

use std::collections::BTreeMap;

use engine::message::Record;
use engine::sink::{SinkEffect, SinkKind, SinkRow, TxnId};

use super::batch::{map_task, reduce_task, stateless_rows};
use super::{Out, Query, SparkCore, Timer};
use crate::kernel::TimeNs;
use crate::network::slow_factor;
use crate::recording::{About, Payload};
use crate::scenario::{NodeId, JOB_MANAGER};

/// A task of a batch: a map task per source partition, a reduce task per shuffle partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskRef {
    Map(u32),
    Reduce(u32),
}

/// Messages between the driver and the executors.
#[derive(Clone, Debug)]
pub enum Msg {
    /// Driver → executor: run `task` of `batch` (its `attempt`-th launch) on the executor's
    /// `incarnation` (a launch that finds the executor restarted since was lost with it).
    Launch { run: u32, batch: u64, task: TaskRef, attempt: u32, incarnation: u32 },
    /// Executor → driver: the task finished; a map task says the largest event time it read.
    /// `output`: the task attempt's id, which names what it wrote into a transactional sink
    /// (the driver commits the outputs of the attempts it accepted, Spark's commit protocol).
    Done { run: u32, batch: u64, task: TaskRef, attempt: u32, max_event_ms: Option<i64>, output: u64 },
    /// Executor → driver: a reduce task could not fetch a map output (lost with its executor).
    FetchFailed { run: u32, batch: u64, task: TaskRef, attempt: u32 },
}

/// Where a task stands, as the driver sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TaskState {
    Pending,
    Running { node: NodeId, incarnation: u32, attempt: u32 },
    Done,
}

/// The batch the driver runs now.
#[derive(Clone, Debug)]
pub(crate) struct Running {
    pub batch: u64,
    pub offsets: super::OffsetEntry,
    pub rerun: bool,
    pub due_ns: TimeNs,
    /// `offsets/N` is written: tasks may run.
    pub started: bool,
    /// Every task is done and the driver is committing (sink, then `commits/N`).
    pub committing: bool,
    tasks: BTreeMap<TaskRef, TaskState>,
    attempts: BTreeMap<TaskRef, u32>,
    pub max_event_ms: Option<i64>,
    /// The task attempts whose output the driver accepted (their transactional writes commit
    /// with the batch; a lost attempt's never do).
    pub accepted_outputs: Vec<u64>,
}

impl Running {
    pub fn new(batch: u64, offsets: super::OffsetEntry, rerun: bool, query: &Query, partitions: u32) -> Running {
        let mut tasks = BTreeMap::new();
        for p in 0..partitions {
            tasks.insert(TaskRef::Map(p), TaskState::Pending);
        }
        if query.window.is_some() {
            for p in 0..query.shuffle_partitions() {
                tasks.insert(TaskRef::Reduce(p), TaskState::Pending);
            }
        }
        Running {
            batch,
            offsets,
            rerun,
            due_ns: 0,
            started: false,
            committing: false,
            tasks,
            attempts: BTreeMap::new(),
            max_event_ms: None,
            accepted_outputs: Vec::new(),
        }
    }

    fn all_done(&self) -> bool {
        self.tasks.values().all(|s| *s == TaskState::Done)
    }
}

/// A map task's output on its executor (its shuffle files).
#[derive(Clone, Debug)]
struct ShuffleFiles {
    node: NodeId,
    incarnation: u32,
    per_partition: Vec<Vec<Record>>,
}

/// A task running on an executor.
#[derive(Clone, Debug)]
struct InFlight {
    node: NodeId,
    incarnation: u32,
    run: u32,
    batch: u64,
    task: TaskRef,
    attempt: u32,
    /// A reduce task's input, fetched at launch.
    input: Vec<Record>,
}

/// The executors' side: tasks in flight and the shuffle files of the batch.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tasks {
    next_uid: u64,
    in_flight: BTreeMap<u64, InFlight>,
    shuffle: BTreeMap<u32, ShuffleFiles>,
    /// Where the scheduler looks for a free slot first (round robin over executors).
    next_executor: usize,
}

impl Tasks {
    pub fn clear(&mut self) {
        self.in_flight.clear();
        self.shuffle.clear();
    }
}

/// What launching a task costs before its records: deserialising it, starting it (ms-scale in
/// Spark; one figure here).
const TASK_OVERHEAD_NS: TimeNs = 2_000_000;

impl SparkCore {
    /// The node whose loop runs `timer`: a task's end on its executor, the rest on the driver.
    pub fn node_of_timer(&self, timer: &Timer) -> NodeId {
        match timer {
            Timer::TaskEnd { uid } => self.tasks.in_flight.get(uid).map_or(JOB_MANAGER, |t| t.node),
            _ => JOB_MANAGER,
        }
    }

    /// Launch pending tasks into free slots: map tasks first; reduce tasks once every map
    /// output is available.
    pub(super) fn schedule_tasks(&mut self, now: TimeNs) {
        let run = self.run;
        let Some(running) = self.driver.as_ref().and_then(|d| d.running.as_ref()) else { return };
        if !running.started || running.committing {
            return;
        }
        if running.all_done() {
            self.batch_tasks_done(now);
            return;
        }
        let maps_done =
            running.tasks.iter().filter(|(t, _)| matches!(t, TaskRef::Map(_))).all(|(_, s)| *s == TaskState::Done);
        let pending: Vec<TaskRef> = running
            .tasks
            .iter()
            .filter(|(t, s)| **s == TaskState::Pending && (maps_done || matches!(t, TaskRef::Map(_))))
            .map(|(t, _)| *t)
            .collect();
        let batch = running.batch;
        for task in pending {
            let Some(node) = self.free_executor() else { break };
            let e = &mut self.executors[node];
            e.free_slots -= 1;
            let node_id = NodeId::task_manager(node as u32);
            let incarnation = e.incarnation;
            let Some(running) = self.driver.as_mut().and_then(|d| d.running.as_mut()) else { return };
            let attempt = running.attempts.entry(task).or_insert(0);
            *attempt += 1;
            let attempt = *attempt;
            running.tasks.insert(task, TaskState::Running { node: node_id, incarnation, attempt });
            self.stats.tasks_launched += 1;
            self.stats.task_retries += u64::from(attempt > 1);
            if let Some(w) = self.watch.as_mut() {
                w.launched(task, attempt, node as u32, now);
            }
            let launch = Msg::Launch { run, batch, task, attempt, incarnation };
            self.out.push(Out::Send { from: JOB_MANAGER, to: node_id, msg: launch });
        }
    }

    /// An executor with a free slot, round robin from where the last launch went.
    fn free_executor(&mut self) -> Option<usize> {
        let n = self.executors.len();
        let found = (0..n)
            .map(|i| (self.tasks.next_executor + i) % n)
            .find(|&i| self.executors[i].alive && self.executors[i].free_slots > 0)?;
        self.tasks.next_executor = (found + 1) % n;
        Some(found)
    }

    /// An executor receives a task: a reduce task fetches its map outputs now (a lost one fails
    /// the fetch), then it runs for its records' cost.
    pub(super) fn executor_launch(&mut self, to: NodeId, msg: Msg, now: TimeNs) {
        let Msg::Launch { run, batch, task, attempt, incarnation } = msg else { return };
        let Some(i) = to.task_manager_index() else { return };
        let Some(e) = self.executors.get(i as usize) else { return };
        if !e.alive || e.incarnation != incarnation || run != self.run {
            return;
        }
        let incarnation = e.incarnation;
        let mut input = Vec::new();
        let records = match task {
            TaskRef::Map(p) => {
                let (from, to_offset) = self.batch_range(p);
                to_offset - from
            }
            TaskRef::Reduce(r) => {
                for p in 0..self.scenario.partitions {
                    match self.tasks.shuffle.get(&p) {
                        Some(f) if self.shuffle_alive(f) => input.extend(f.per_partition[r as usize].iter().cloned()),
                        _ => {
                            let failed = Msg::FetchFailed { run, batch, task, attempt };
                            self.out.push(Out::Send { from: to, to: JOB_MANAGER, msg: failed });
                            return;
                        }
                    }
                }
                input.len() as u64
            }
        };
        let per_record = match task {
            TaskRef::Map(_) => self.query.map_cost_ns,
            TaskRef::Reduce(_) => self.query.reduce_cost_ns,
        };
        let cost = TASK_OVERHEAD_NS.saturating_add(records.saturating_mul(per_record));
        let cost = cost.saturating_mul(slow_factor(&self.network_faults, to, now));
        let uid = self.tasks.next_uid;
        self.tasks.next_uid += 1;
        self.tasks.in_flight.insert(uid, InFlight { node: to, incarnation, run, batch, task, attempt, input });
        self.out.push(Out::Timer { at: now.saturating_add(cost), timer: Timer::TaskEnd { uid } });
    }

    fn shuffle_alive(&self, files: &ShuffleFiles) -> bool {
        let i = files.node.task_manager_index().unwrap_or(0) as usize;
        self.executors.get(i).is_some_and(|e| e.alive && e.incarnation == files.incarnation)
    }

    /// The offsets the running batch reads from partition `p`.
    fn batch_range(&self, p: u32) -> (u64, u64) {
        self.driver
            .as_ref()
            .and_then(|d| d.running.as_ref())
            .and_then(|r| r.offsets.ranges.get(p as usize).copied())
            .unwrap_or((0, 0))
    }

    /// A task finishes on its executor (if the executor still lives): it does its work — the
    /// map task's shuffle files or rows, the reduce task's aggregation, state version and rows
    /// — and reports to the driver.
    pub(super) fn task_end(&mut self, uid: u64, now: TimeNs) {
        let Some(t) = self.tasks.in_flight.remove(&uid) else { return };
        let i = t.node.task_manager_index().unwrap_or(0) as usize;
        if t.run != self.run || !self.executors.get(i).is_some_and(|e| e.alive && e.incarnation == t.incarnation) {
            return; // the executor died, or the query it ran for
        }
        let rows_before = self.batches.last().map_or(0, |b| b.rows_written);
        let max_event_ms = match t.task {
            TaskRef::Map(p) => self.finish_map(p, uid, &t, now),
            TaskRef::Reduce(r) => {
                self.finish_reduce(r, uid, t.batch, &t.input, now);
                None
            }
        };
        if let Some(w) = self.watch.as_mut() {
            let rows = self.batches.last().map_or(0, |b| b.rows_written).saturating_sub(rows_before);
            w.wrote(t.task, t.attempt, rows);
        }
        let msg = Msg::Done { run: t.run, batch: t.batch, task: t.task, attempt: t.attempt, max_event_ms, output: uid };
        self.out.push(Out::Send { from: t.node, to: JOB_MANAGER, msg });
    }

    fn finish_map(&mut self, p: u32, uid: u64, t: &InFlight, now: TimeNs) -> Option<i64> {
        let range = self.batch_range(p);
        let shuffle = self.query.shuffle_partitions();
        let output =
            map_task(&self.log, p, range, &self.query.steps, self.query.key_by, &self.query.key_hash_codes, shuffle);
        self.stats.records_read += output.read;
        if self.query.window.is_some() {
            let files = ShuffleFiles { node: t.node, incarnation: t.incarnation, per_partition: output.per_partition };
            self.tasks.shuffle.insert(p, files);
        } else {
            let rows = stateless_rows(output.per_partition.into_iter().flatten());
            self.write_rows(t.batch, uid, rows, now);
        }
        output.max_event_ms
    }

    /// The aggregation of shuffle partition `r` for `batch`: load the state version the
    /// previous batch wrote, apply the watermark rules, write version `batch`, write the rows.
    fn finish_reduce(&mut self, r: u32, uid: u64, batch: u64, input: &[Record], now: TimeNs) {
        let Some((rule, _)) = self.query.window.clone() else { return };
        let (late_wm, wm) = self
            .driver
            .as_ref()
            .and_then(|d| d.running.as_ref())
            .map_or((0, 0), |run| (run.offsets.late_watermark_ms, run.offsets.watermark_ms));
        let versions = &mut self.state_store[r as usize];
        let mut state = versions.range(..batch).next_back().map(|(_, s)| s.clone()).unwrap_or_default();
        let out = reduce_task(&rule, &mut state, input, late_wm, wm);
        versions.insert(batch, state);
        // Spark keeps the versions a restart may need; here the previous one suffices.
        versions.retain(|&v, _| v + 1 >= batch);
        self.stats.dropped_groups += out.dropped_groups;
        self.stats.late_dropped += out.late.len() as u64;
        self.late_sources.extend(out.late);
        self.write_rows(batch, uid, out.rows, now);
    }

    /// Task attempt `output` writes its rows to every sink: a plain sink appends, an idempotent
    /// one upserts by key and window, a transactional one writes files of this attempt, visible
    /// once the driver commits the batch with the attempts it accepted — unless the sink's
    /// manifest already holds the batch (a re-run: Spark's file sink skips it).
    fn write_rows(&mut self, batch: u64, output: u64, rows: Vec<SinkRow>, now: TimeNs) {
        if rows.is_empty() {
            return;
        }
        if let Some(info) = self.batches.last_mut() {
            info.rows_written += rows.len() as u64;
        }
        for (op, kind, subtask) in self.query.sinks.clone() {
            if kind == SinkKind::TwoPhaseCommit && self.manifest.contains(&(op, batch)) {
                self.stats.skipped_sink_batches += 1;
                continue;
            }
            for row in &rows {
                let effect = match kind {
                    SinkKind::Plain => SinkEffect::Append(row.clone()),
                    SinkKind::Idempotent => SinkEffect::Upsert(row.clone()),
                    SinkKind::TwoPhaseCommit => SinkEffect::TxnWrite {
                        txn: TxnId { subtask, attempt: self.run, sequence: output },
                        row: row.clone(),
                    },
                };
                self.recorder.record_payload(now, About::Subtask(subtask), None, Payload::of_sink_effect(&effect));
                self.sink_store.apply(op, subtask, effect, now);
            }
        }
        self.sink_store.take_newly_visible();
    }

    /// The driver hears from a task: done (free its slot, keep a map task's largest event
    /// time), or a failed fetch (the task waits for the lost map outputs, which re-run).
    pub(super) fn driver_task_report(&mut self, msg: Msg, now: TimeNs) {
        let (run, batch, task, attempt, done, max_event_ms, output) = match msg {
            Msg::Done { run, batch, task, attempt, max_event_ms, output } => {
                (run, batch, task, attempt, true, max_event_ms, Some(output))
            }
            Msg::FetchFailed { run, batch, task, attempt } => (run, batch, task, attempt, false, None, None),
            Msg::Launch { .. } => return,
        };
        let Some(running) = self.driver.as_mut().and_then(|d| d.running.as_mut()) else { return };
        if run != self.run || running.batch != batch {
            return;
        }
        let Some(&TaskState::Running { node, incarnation, attempt: current }) = running.tasks.get(&task) else {
            return;
        };
        if current != attempt {
            return;
        }
        if let Some(w) = self.watch.as_mut() {
            let end = if done { super::TaskEnd::Done } else { super::TaskEnd::FetchFailed };
            w.ended(task, attempt, end, now);
        }
        if done {
            running.tasks.insert(task, TaskState::Done);
            running.accepted_outputs.extend(output);
            if let Some(m) = max_event_ms {
                running.max_event_ms = Some(running.max_event_ms.map_or(m, |x| x.max(m)));
            }
        } else {
            running.tasks.insert(task, TaskState::Pending);
        }
        if let Some(e) = node.task_manager_index().and_then(|i| self.executors.get_mut(i as usize)) {
            if e.alive && e.incarnation == incarnation {
                e.free_slots += 1;
            }
        }
        self.recompute_lost_map_outputs();
        self.schedule_tasks(now);
    }

    /// Map outputs lost with their executor are recomputed from lineage (the map task re-runs
    /// on its offset range) while a reduce task still needs them.
    fn recompute_lost_map_outputs(&mut self) {
        let Some(running) = self.driver.as_ref().and_then(|d| d.running.as_ref()) else { return };
        if self.query.window.is_none() {
            return;
        }
        let reduce_waiting =
            running.tasks.iter().any(|(t, s)| matches!(t, TaskRef::Reduce(_)) && *s == TaskState::Pending);
        if !reduce_waiting {
            return;
        }
        let lost: Vec<TaskRef> = running
            .tasks
            .iter()
            .filter_map(|(t, s)| match (t, s) {
                (TaskRef::Map(p), TaskState::Done)
                    if !self.tasks.shuffle.get(p).is_some_and(|f| self.shuffle_alive(f)) =>
                {
                    Some(*t)
                }
                _ => None,
            })
            .collect();
        let Some(running) = self.driver.as_mut().and_then(|d| d.running.as_mut()) else { return };
        for t in lost {
            running.tasks.insert(t, TaskState::Pending);
            self.stats.map_recomputes += 1;
        }
    }

    /// An executor dies: its tasks and shuffle files are gone; the driver (told at once, its
    /// connection dropped) re-queues the tasks and, where reduce tasks still need them, the
    /// map tasks whose outputs were lost.
    pub(super) fn executor_lost(&mut self, node: NodeId, now: TimeNs) {
        let Some(i) = node.task_manager_index() else { return };
        let Some(e) = self.executors.get_mut(i as usize) else { return };
        if !e.alive {
            return;
        }
        e.alive = false;
        e.incarnation += 1;
        e.free_slots = 0;
        self.stats.executor_losses += 1;
        self.recorder.record_payload(now, About::Node(node), None, Payload::NodeCrashed { back_after_ns: None });
        if let Some(w) = self.watch.as_mut() {
            w.executor_lost(i, now);
        }
        if let Some(running) = self.driver.as_mut().and_then(|d| d.running.as_mut()) {
            for state in running.tasks.values_mut() {
                if matches!(state, TaskState::Running { node: n, .. } if *n == node) {
                    *state = TaskState::Pending;
                }
            }
        }
        self.recompute_lost_map_outputs();
        self.schedule_tasks(now);
    }

    /// An executor is back (restarted, or a replacement): its slots take tasks again.
    pub(super) fn executor_back(&mut self, node: NodeId, now: TimeNs) {
        let Some(i) = node.task_manager_index() else { return };
        let slots = self.scenario.slots_per_task_manager;
        let Some(e) = self.executors.get_mut(i as usize) else { return };
        if e.alive {
            return;
        }
        e.alive = true;
        e.free_slots = slots;
        self.recorder.record_payload(now, About::Node(node), None, Payload::NodeRestarted);
        self.schedule_tasks(now);
    }
}
