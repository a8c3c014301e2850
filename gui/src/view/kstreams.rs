//! A Kafka Streams run and the workbench's cursor over it: a timeline per task (which instance
//! owned it when, its restores from the changelog, the time it had no owner after a crash, its
//! commits), and at the cursor every task's owner, what it is doing, how far it has read and
//! what it has committed (the records a crash now would make it reprocess), the counters so
//! far and the sink rows a reader sees by then; the oracle's verdict against the application's
//! fault-free run. The guarantee (`processing.guarantee`) is chosen, and instance crashes
//! clicked at the cursor, as in the other views: the application is recorded again, off the UI
//! thread (`recording::kstreams_recorder`). Plain data, tested without egui.

use std::sync::Arc;

use sim::external::StoredRow;
use sim::faults::Fault;
use sim::kernel::TimeNs;
use sim::oracle::Seen;
use sim::recording::{Payload, TraceEvent};
use sim::scenario::{Guarantee, NodeId, Runtime};
use sim::Scenario;

use crate::app::ScenarioSource;
use crate::shown_run::ShownRun;
use crate::view::ledger::{Ledger, LedgerFilter, Provenance, Status, Step};

/// What a task was doing over a stretch of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskActivity {
    /// Processing on its instance.
    Running,
    /// Replaying this many changelog records into its store on its (new) instance.
    Restoring { records: u64 },
    /// Its instance died: no owner until the rebalance gives it to a live one.
    Unowned,
}

/// A stretch of a task's life: `[from_ns, to_ns)`, on which instance, doing what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stretch {
    pub from_ns: TimeNs,
    pub to_ns: TimeNs,
    /// The owning instance (None while unowned).
    pub instance: Option<NodeId>,
    pub activity: TaskActivity,
}

/// One task's line of the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskLane {
    /// Kafka Streams' name (`0_2`).
    pub name: String,
    pub stretches: Vec<Stretch>,
    /// When its offsets were committed.
    pub commits: Vec<TimeNs>,
}

impl TaskLane {
    /// How often the task was given to a new owner (a restore starts each time) before `t`.
    pub fn failovers_before(&self, t: TimeNs) -> usize {
        self.stretches
            .iter()
            .filter(|st| matches!(st.activity, TaskActivity::Restoring { .. }) && st.from_ns <= t)
            .count()
    }
}

/// The task that wrote a sink row: the window task of the row's key, routed by the rule the core
/// routes the repartition topic by (`sim::kstreams::core::repartition_partition`). None for an
/// application without a window (one sub-topology: the row does not say which task wrote it).
pub fn writer_task(run: &sim::kstreams::KStreamsRun, row: &StoredRow) -> Option<usize> {
    let partitions = run.world.repartition.len() as u32;
    if partitions == 0 {
        return None;
    }
    let q = sim::kstreams::core::repartition_partition(row.row.key, partitions) as u32;
    run.world.tasks.iter().position(|t| t.id == sim::kstreams::TaskId { subtopology: 1, partition: q })
}

/// Every task's lane, read off the run's trace: its first event names its first owner; a
/// restore starts on a new owner, a resume makes it run, a crash of its owner leaves it unowned
/// (unless it had finished its input by then).
pub fn task_lanes(run: &sim::kstreams::KStreamsRun, events: &[TraceEvent]) -> Vec<TaskLane> {
    let world = &run.world;
    let end_ns = world.finished_at_ns.unwrap_or(sim::stepped::SteppedWorld::now_ns(&run.world));
    let n = world.tasks.len();
    // A finished task's last event is its final commit: a crash after it does not touch it.
    let mut last_event = vec![0; n];
    let mut lanes: Vec<TaskLane> = world
        .tasks
        .iter()
        .map(|t| TaskLane { name: t.id.to_string(), stretches: Vec::new(), commits: Vec::new() })
        .collect();
    for e in events {
        if let Some(t) = task_of(e).filter(|&t| t < n) {
            last_event[t] = e.time_ns;
        }
    }
    let done_at: Vec<Option<TimeNs>> = world
        .tasks
        .iter()
        .enumerate()
        .map(|(t, task)| (task.phase == sim::kstreams::TaskPhase::Done).then_some(last_event[t]))
        .collect();
    let mut open: Vec<Option<Stretch>> = vec![None; n];
    let switch = |lane: &mut TaskLane, open: &mut Option<Stretch>, at: TimeNs, next: Option<Stretch>| {
        if let Some(mut s) = open.take() {
            s.to_ns = at;
            if s.to_ns > s.from_ns || s.activity != TaskActivity::Running {
                lane.stretches.push(s);
            }
        }
        *open = next;
    };
    for e in events {
        let at = e.time_ns;
        let stretch = |instance: Option<NodeId>, activity| Stretch { from_ns: at, to_ns: at, instance, activity };
        match e.payload() {
            Payload::KStreamsRestore { task, records } => {
                let t = task as usize;
                if t < n {
                    let next = stretch(Some(e.node()), TaskActivity::Restoring { records });
                    switch(&mut lanes[t], &mut open[t], at, Some(next));
                }
            }
            Payload::KStreamsResume { task, .. } => {
                let t = task as usize;
                if t < n {
                    switch(&mut lanes[t], &mut open[t], at, Some(stretch(Some(e.node()), TaskActivity::Running)));
                }
            }
            Payload::KStreamsProcess { task, .. } | Payload::KStreamsCommit { task, .. } => {
                let t = task as usize;
                if t < n && open[t].is_none() && lanes[t].stretches.is_empty() {
                    // Its first owner, running from the start.
                    open[t] = Some(Stretch {
                        from_ns: 0,
                        to_ns: 0,
                        instance: Some(e.node()),
                        activity: TaskActivity::Running,
                    });
                }
                if let Payload::KStreamsCommit { .. } = e.payload() {
                    if t < n {
                        lanes[t].commits.push(at);
                    }
                }
            }
            Payload::NodeCrashed { .. } => {
                let node = e.node();
                for t in 0..n {
                    let owned = open[t].is_some_and(|s| s.instance == Some(node));
                    let finished = done_at[t].is_some_and(|d| d <= at);
                    if owned && !finished {
                        switch(&mut lanes[t], &mut open[t], at, Some(stretch(None, TaskActivity::Unowned)));
                    }
                }
            }
            _ => {}
        }
    }
    for t in 0..n {
        let end = done_at[t].unwrap_or(end_ns).max(open[t].map_or(0, |s| s.from_ns));
        switch(&mut lanes[t], &mut open[t], end, None);
    }
    lanes
}

/// The task a Kafka Streams event is about, if any.
fn task_of(e: &TraceEvent) -> Option<usize> {
    match e.payload() {
        Payload::KStreamsProcess { task, .. }
        | Payload::KStreamsCommit { task, .. }
        | Payload::KStreamsRestore { task, .. }
        | Payload::KStreamsResume { task, .. } => Some(task as usize),
        _ => None,
    }
}

/// Where a Kafka Streams run comes from: the scenario as loaded, its file, the guarantee chosen
/// in the workbench (None: as written) and the crashes clicked in it.
#[derive(Clone, Debug)]
pub struct KStreamsOrigin {
    pub base: Arc<Scenario>,
    pub source: ScenarioSource,
    pub guarantee: Option<Guarantee>,
    /// Faults added to the file's, in the order clicked (each at the cursor's time then). The
    /// application is recorded again from the start with them: the same seed gives the same
    /// run up to the first one.
    pub injected: Vec<Fault>,
}

impl KStreamsOrigin {
    pub fn new(base: Arc<Scenario>, source: ScenarioSource) -> KStreamsOrigin {
        KStreamsOrigin { base, source, guarantee: None, injected: Vec::new() }
    }

    /// What runs: the loaded application, or the same under the chosen `processing.guarantee`
    /// (`Scenario::with_runtime_variant`: the other guarantee with Kafka Streams' default
    /// commit interval for it), with the clicked faults added.
    pub fn scenario(&self) -> Arc<Scenario> {
        let mut scenario = match self.guarantee {
            None if self.injected.is_empty() => return self.base.clone(),
            None => (*self.base).clone(),
            Some(g) => self.base.with_runtime_variant(Runtime::KafkaStreams, g, None),
        };
        crate::view::add_clicked_faults(&mut scenario, self.injected.iter().cloned());
        Arc::new(scenario)
    }

    /// The clicked faults in words, None when there are none.
    pub fn injected_text(&self) -> Option<String> {
        crate::view::injected_text(&self.base, &self.injected)
    }

    /// Each guarantee Kafka Streams offers (at_least_once; exactly_once_v2 read uncommitted and
    /// read committed) on the same seed and faults — the file's and the clicked ones — each
    /// against its fault-free reference: `streamlab compare --model kafka-streams`'s rows.
    pub fn compare(&self, seed: u64) -> Vec<sim::run::VariantReport> {
        let scenario = KStreamsOrigin { guarantee: None, ..self.clone() }.scenario();
        let faults = sim::run::fault_schedule_in_time(&scenario, seed);
        sim::runtime::compare_models(&scenario, seed, &[Runtime::KafkaStreams], &faults)
    }
}

/// What the view shows, on one page or another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KStreamsTab {
    /// The tasks over time, the instances, tasks and rows at the cursor.
    Tasks,
    /// Records per task over time, commits, failovers and restores, end-to-end latency.
    Charts,
    /// The sink rows against the run without faults, and a selected row's story.
    Outcome,
    Save,
}

/// A recorded Kafka Streams run and the workbench's cursor over it.
pub struct KStreamsShown {
    pub origin: KStreamsOrigin,
    /// What ran ([`KStreamsOrigin::scenario`]).
    pub scenario: Arc<Scenario>,
    pub seed: u64,
    pub run: sim::kstreams::KStreamsRun,
    /// Every traced event, in time order.
    pub events: Vec<TraceEvent>,
    /// Why and when the run stopped, the counters and the tasks table.
    pub summary: String,
    /// The oracle's verdict, one line.
    pub verdict: String,
    /// Was the promise (or the scenario's declared outcome) kept?
    pub kept: bool,
    /// Faults of the schedule this model does not inject, with why.
    pub notes: Vec<String>,
    /// The visible sink rows as `streamlab run` prints them: a header line, then one line per
    /// row, in the order of `row_visible_ns`.
    pub rows: String,
    /// When each visible row became visible (a reader sees it from then on).
    pub row_visible_ns: Vec<TimeNs>,
    /// The run's trace hash (`streamlab run` prints it).
    pub trace_hash: u64,
    /// Per task: who owned it when, its restores, its commits.
    pub lanes: Vec<TaskLane>,
    /// Whole-run charts (`view::plots::kstreams`), built once with the run.
    pub charts: Vec<crate::view::plots::Chart>,
    /// When the run ended (the timeline's scale).
    pub end_ns: TimeNs,
    /// Instance crashes and returns: (time, instance, crashed).
    pub nodes: Vec<(TimeNs, NodeId, bool)>,
    pub instances: u32,
    pub cursor_ns: TimeNs,
    pub tab: KStreamsTab,
    /// The sink rows against the fault-free run's, marked by the oracle (the Outcome tab).
    pub ledger: Ledger,
    pub filter: LedgerFilter,
    /// The selected outcome line and its story (None: a missing row, never written here).
    pub provenance: Option<(usize, Option<Provenance>)>,
    /// The guarantees compared on this run's seed and faults ([`KStreamsOrigin::compare`]).
    pub comparison: Option<Vec<sim::run::VariantReport>>,
    /// A comparison under way off the UI thread.
    pub comparing: Option<std::sync::mpsc::Receiver<Vec<sim::run::VariantReport>>>,
}

/// A task at the cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskAt {
    pub name: String,
    /// Its owner (None: no owner, or not started or finished).
    pub instance: Option<NodeId>,
    /// What it is doing (None: it has finished its input, or not started).
    pub activity: Option<TaskActivity>,
    /// One past the last offset it processed (its resume offset after a restore), 0 before
    /// the first.
    pub position: u64,
    /// The offset its last commit stored (the next one to read), 0 before the first.
    pub committed: u64,
    pub commits: usize,
    /// Records it processed since its last commit (or its resume): what a crash of its
    /// instance now would make it process again.
    pub since_commit: u64,
}

/// The run at the cursor: the instances, the tasks, the counters so far, the rows visible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KStreamsAt {
    /// Per instance: its name and whether it is up.
    pub instances: Vec<(String, bool)>,
    pub tasks: Vec<TaskAt>,
    pub processed: u64,
    pub commits: u64,
    pub restores: u64,
    /// Changelog records replayed into stores by the restores so far.
    pub restored_records: u64,
    pub aborted_transactions: u64,
    pub crashes: u64,
    /// Sink rows a reader sees by the cursor.
    pub rows_visible: usize,
}

impl KStreamsShown {
    /// Run `origin`'s application with `seed` to its end (the kernel world, as `streamlab run`
    /// does), here.
    pub fn of(origin: KStreamsOrigin, seed: u64) -> KStreamsShown {
        let run = sim::kstreams::run_kstreams(origin.scenario(), seed, true);
        KStreamsShown::from_run(origin, seed, run)
    }

    /// What the view shows of a finished run (recorded here, or off the UI thread by
    /// `recording::kstreams_recorder`), judged against the application's fault-free run.
    pub fn from_run(origin: KStreamsOrigin, seed: u64, mut run: sim::kstreams::KStreamsRun) -> KStreamsShown {
        let scenario = run.world.scenario.clone();
        let events = run.world.recorder.take_events();
        let nodes = events
            .iter()
            .filter_map(|e| match e.payload() {
                Payload::NodeCrashed { .. } => Some((e.time_ns, e.node(), true)),
                Payload::NodeRestarted => Some((e.time_ns, e.node(), false)),
                _ => None,
            })
            .collect();
        // One reference for the verdict and the Outcome tab's rows (the run itself when it is
        // its own: no faults).
        let own_reference = sim::run::core_model::reference_for(&scenario, seed, &run);
        let reference = own_reference.as_ref().unwrap_or(&run);
        let judgement = sim::run::core_model::judge_against(&scenario, &run, reference);
        let lanes = task_lanes(&run, &events);
        let ledger = {
            let writer = |row: &StoredRow| writer_task(&run, row);
            // The row's task life: 1 until its first failover, then one more per failover.
            let life = |_: usize, row: &StoredRow| {
                writer(row).map_or(1, |t| 1 + lanes[t].failovers_before(row.written_ns) as u32)
            };
            Ledger::build_with(&scenario, Vec::new(), Seen::of(&reference.observed()), Seen::of(&run.observed()), &life)
        };
        let mut shown = KStreamsShown {
            summary: sim::kstreams::report::summary(&run),
            verdict: format!("oracle vs the fault-free run: {}", judgement.describe(scenario.guarantee)),
            kept: judgement.kept,
            notes: run.world.faults_not_modelled().into_iter().chain(judgement.outcome.records_inside_rows()).collect(),
            rows: rows_text(&scenario, &run),
            row_visible_ns: run.visible_rows().iter().map(|r| r.visible_ns.unwrap_or(r.written_ns)).collect(),
            trace_hash: run.trace_hash(),
            lanes,
            ledger,
            filter: LedgerFilter::default(),
            provenance: None,
            charts: Vec::new(),
            end_ns: run.world.finished_at_ns.unwrap_or(sim::stepped::SteppedWorld::now_ns(&run.world)),
            nodes,
            instances: scenario.task_managers,
            events,
            run,
            scenario,
            origin,
            seed,
            cursor_ns: 0,
            tab: KStreamsTab::Tasks,
            comparison: None,
            comparing: None,
        };
        shown.charts = crate::view::plots::kstreams(&shown);
        shown
    }

    pub fn set_cursor(&mut self, ns: TimeNs) {
        self.cursor_ns = ns.min(self.end_ns);
    }

    /// Select outcome line `line` (None: unselect) and tell its story.
    pub fn select_line(&mut self, line: Option<usize>) {
        self.provenance = line.map(|l| (l, self.provenance_of(l)));
    }

    /// Outcome line `line`'s story: for the row (and the earlier one it repeats) the task that
    /// wrote it, that task's failovers before the write — its instance's crash, what it had
    /// processed since its last commit, its restore on a new owner — and the write; then why it
    /// is marked as it is. None for a row this run never wrote (a missing one: the Outcome tab's
    /// count says it).
    pub fn provenance_of(&self, line: usize) -> Option<Provenance> {
        let l = self.ledger.rows.get(line)?;
        let row = l.run_row.and_then(|r| self.ledger.run_rows.get(r))?;
        let t = |ns: TimeNs| crate::view::time_text(&self.scenario, ns);
        let mut steps = Vec::new();
        let first = l.repeats.and_then(|r| self.ledger.rows.get(r)).filter(|_| l.status == Status::Duplicate);
        let first_row = first.and_then(|f| f.run_row).and_then(|r| self.ledger.run_rows.get(r));
        let mut moved = false;
        for (title, line, stored) in [("First write", first, first_row), ("This row", Some(l), Some(row))] {
            let (Some(line), Some(stored)) = (line, stored) else { continue };
            let task = writer_task(&self.run, stored);
            let failovers = task.map_or_else(Vec::new, |i| self.failovers(i, stored.written_ns));
            moved |= title == "This row" && !failovers.is_empty();
            steps.extend(failovers);
            let writer = task.map_or_else(|| "the application".to_string(), |i| format!("task {}", self.lanes[i].name));
            let mut step = line.emission_step(&writer, stored.written_ns, &t);
            step.title = title.to_string();
            steps.push(step);
        }
        Some(Provenance {
            headline: format!("{} · key {} · window {} · value {}", l.status.label(), l.key, l.window, l.value_text()),
            steps,
            why: self.why(l, moved),
        })
    }

    /// Task `i`'s failovers before `t`: its owner's crash (what it had processed since its last
    /// commit) and, when it came, the restore on a new owner.
    fn failovers(&self, i: usize, t: TimeNs) -> Vec<Step> {
        let lane = &self.lanes[i];
        let mut steps = Vec::new();
        for (k, st) in lane.stretches.iter().enumerate() {
            if st.activity != TaskActivity::Unowned || st.from_ns > t {
                continue;
            }
            let before = &self.at(st.from_ns).tasks[i];
            let owner =
                k.checked_sub(1).and_then(|p| lane.stretches[p].instance).map_or("its instance".into(), |n| n.name());
            steps.push(Step {
                title: "Crash".into(),
                caption: format!(
                    "{owner} died; task {} had processed {} records since its last commit (offset {})",
                    lane.name, before.since_commit, before.committed
                ),
                time_ns: Some(st.from_ns),
            });
            let Some(next) = lane.stretches.get(k + 1).filter(|next| next.from_ns <= t) else { continue };
            let restored = match next.activity {
                TaskActivity::Restoring { records } => format!(", restored {records} changelog records into its store"),
                _ => String::new(),
            };
            steps.push(Step {
                title: "Failover".into(),
                caption: format!(
                    "the rebalance gave {} to {}{restored} and it resumed at offset {}: the {} records after it are processed again",
                    lane.name,
                    next.instance.map_or("?".to_string(), |n| n.name()),
                    before.committed,
                    before.since_commit
                ),
                time_ns: Some(next.from_ns),
            });
        }
        steps
    }

    /// Why line `l` is marked as it is: the mark's meaning, and for a row that differs, written
    /// after its task failed over (`moved`), what the guarantee does on a failover.
    fn why(&self, l: &crate::view::ledger::LedgerRow, moved: bool) -> String {
        let choice = self.choice_of(self.scenario.guarantee);
        let meaning = format!("{}: {}.", l.status.label(), l.status.meaning());
        match l.status {
            Status::Exact | Status::Missing => meaning,
            _ if moved => {
                format!("{meaning} Its task failed over before writing it. {}: {}.", choice.label, choice.effect)
            }
            _ => {
                let row = l.run_row.and_then(|r| self.ledger.run_rows.get(r));
                let upstream = row.map_or_else(Vec::new, |row| self.upstream_failovers(row.written_ns));
                if upstream.is_empty() {
                    return meaning;
                }
                let tasks = if upstream.len() == 1 { "task" } else { "tasks" };
                format!(
                    "{meaning} Its task did not fail over before writing it, but {tasks} {} of the first sub-topology failed over and read their input again from their last commits: the records they wrote to the repartition topic again are counted again by the window tasks their keys route to. {}: {}.",
                    upstream.join(" and "),
                    choice.label,
                    choice.effect
                )
            }
        }
    }

    /// The first sub-topology's tasks (reading the source topic, writing the repartition topic)
    /// that failed over before `t`.
    fn upstream_failovers(&self, t: TimeNs) -> Vec<String> {
        let tasks = self.run.world.tasks.iter().zip(&self.lanes);
        tasks
            .filter(|(task, lane)| task.id.subtopology == 0 && lane.failovers_before(t) > 0)
            .map(|(_, lane)| lane.name.clone())
            .collect()
    }

    /// The run at the cursor, read off its trace up to then.
    pub fn at_cursor(&self) -> KStreamsAt {
        self.at(self.cursor_ns)
    }

    /// The run at `t`, read off its trace up to then.
    pub fn at(&self, t: TimeNs) -> KStreamsAt {
        let so_far = &self.events[..self.events.partition_point(|e| e.time_ns <= t)];
        let mut at = KStreamsAt {
            instances: (0..self.instances).map(|i| (NodeId::task_manager(i).name(), true)).collect(),
            tasks: self
                .lanes
                .iter()
                .map(|lane| {
                    let now = lane.stretches.iter().find(|s| s.from_ns <= t && t < s.to_ns);
                    TaskAt {
                        name: lane.name.clone(),
                        instance: now.and_then(|s| s.instance),
                        activity: now.map(|s| s.activity),
                        position: 0,
                        committed: 0,
                        commits: lane.commits.partition_point(|&c| c <= t),
                        since_commit: 0,
                    }
                })
                .collect(),
            processed: 0,
            commits: 0,
            restores: 0,
            restored_records: 0,
            aborted_transactions: 0,
            crashes: 0,
            rows_visible: self.row_visible_ns.iter().filter(|&&v| v <= t).count(),
        };
        for e in so_far {
            match e.payload() {
                Payload::KStreamsProcess { task, offset } => {
                    at.processed += 1;
                    if let Some(task) = at.tasks.get_mut(task as usize) {
                        task.position = offset + 1;
                        task.since_commit += 1;
                    }
                }
                Payload::KStreamsCommit { task, offset } => {
                    at.commits += 1;
                    if let Some(task) = at.tasks.get_mut(task as usize) {
                        task.committed = offset;
                        task.since_commit = 0;
                    }
                }
                Payload::KStreamsRestore { records, .. } => {
                    at.restores += 1;
                    at.restored_records += records;
                }
                Payload::KStreamsResume { task, offset } => {
                    // A task resumes at its committed offset: what it read beyond is read again.
                    if let Some(task) = at.tasks.get_mut(task as usize) {
                        task.position = offset;
                        task.since_commit = 0;
                    }
                }
                Payload::KStreamsTxnAborted { .. } => at.aborted_transactions += 1,
                Payload::NodeCrashed { .. } => at.crashes += 1,
                _ => {}
            }
        }
        for &(_, node, crashed) in self.nodes.iter().filter(|n| n.0 <= t) {
            if let Some(i) = node.task_manager_index().and_then(|i| at.instances.get_mut(i as usize)) {
                i.1 = !crashed;
            }
        }
        at
    }

    /// What each instance crash by the cursor did to the tasks it owned, in sentences read off
    /// the run: which tasks lost their owner, when the rebalance gave each to which instance,
    /// the changelog records it restored, the offset it resumed at and how many records it had
    /// processed since that commit (processed again after the resume).
    pub fn recovery(&self) -> Vec<String> {
        let t = self.cursor_ns;
        let s = &self.scenario;
        let mut lines = Vec::new();
        for &(crash_ns, node, _) in self.nodes.iter().filter(|n| n.2 && n.0 <= t) {
            // At the crash's time: the task's own events up to its instance's death.
            let before = self.at(crash_ns);
            let mut moved = Vec::new();
            for (i, lane) in self.lanes.iter().enumerate() {
                let Some(k) =
                    lane.stretches.iter().position(|st| st.activity == TaskActivity::Unowned && st.from_ns == crash_ns)
                else {
                    continue;
                };
                let task = &before.tasks[i];
                let mut line = format!(
                    "{} had processed {} records since its last commit (offset {})",
                    lane.name, task.since_commit, task.committed
                );
                match lane.stretches.get(k + 1).filter(|next| next.from_ns <= t) {
                    Some(next) => {
                        let on = next.instance.map_or("?".to_string(), |n| n.name());
                        let restored = match next.activity {
                            TaskActivity::Restoring { records: 0 } => {
                                ", with nothing to restore from a changelog".to_string()
                            }
                            TaskActivity::Restoring { records } => {
                                format!(", restored {records} changelog records into its store")
                            }
                            _ => String::new(),
                        };
                        line.push_str(&format!(
                            "; at {} the rebalance gave it to {on}{restored}, and it resumed at offset {}: those {} records are processed again.",
                            crate::view::time_text(s, next.from_ns),
                            task.committed,
                            task.since_commit
                        ));
                    }
                    None => line.push_str("; it has no owner yet (the group waits out the session timeout)."),
                }
                moved.push(line);
            }
            if moved.is_empty() {
                continue;
            }
            lines.push(format!(
                "{} died at {}, owning {} running tasks:",
                node.name(),
                crate::view::time_text(s, crash_ns),
                moved.len()
            ));
            lines.extend(moved);
        }
        lines
    }

    /// The sink rows a reader sees by the cursor, as `streamlab run` prints them (its header
    /// first).
    pub fn rows_at_cursor(&self) -> String {
        let mut lines = self.rows.lines();
        let mut out: Vec<&str> = lines.next().into_iter().collect();
        out.extend(lines.zip(&self.row_visible_ns).filter(|(_, &v)| v <= self.cursor_ns).map(|(l, _)| l));
        out.join("\n")
    }
}

/// The sink rows in `streamlab run`'s columns (`sim::kstreams::report::rows_text`), one row a
/// line under a header, with windows and instants read as everywhere in the workbench
/// ("[20.000 s, 25.000 s)"), each column as wide as its widest cell.
fn rows_text(scenario: &Scenario, run: &sim::kstreams::KStreamsRun) -> String {
    let rows: Vec<[String; 6]> = run
        .visible_rows()
        .iter()
        .map(|row| {
            [
                scenario.plan.operators[row.sink].name.clone(),
                scenario.key_name(row.row.key),
                crate::view::row_window_text(scenario, &row.row),
                row.row.value.to_string(),
                row.row.firing.label().to_string(),
                crate::view::time_text(scenario, row.visible_ns.unwrap_or(row.written_ns)),
            ]
        })
        .collect();
    // Each column as wide as its widest cell, so the row fits a narrow panel (the CLI pads the
    // window to 28 characters).
    let header = ["sink", "key", "window", "value", "firing", "visible at"].map(str::to_string);
    let mut width = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 6]| {
        let [sink, key, window, value, firing, at] = cells;
        format!(
            "{sink:<w0$} {key:<w1$} {window:<w2$} {value:>w3$} {firing:<w4$} {at}",
            w0 = width[0],
            w1 = width[1],
            w2 = width[2],
            w3 = width[3],
            w4 = width[4]
        )
    };
    std::iter::once(line(&header)).chain(rows.iter().map(line)).map(|l| l.trim_end().to_string() + "\n").collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failover(guarantee: Option<Guarantee>) -> KStreamsShown {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/kafka-streams-failover.ron");
        let base = Arc::new(Scenario::load(&path).expect("loads"));
        KStreamsShown::of(KStreamsOrigin { guarantee, ..KStreamsOrigin::new(base, ScenarioSource::File(path)) }, 42)
    }

    /// The Charts tab: every processed record counted once in its task's line; records
    /// processed again only after the failover (at_least_once resumes the moved tasks at their
    /// last commit), as many as the moved tasks had processed since that commit; each commit a
    /// drop to 0 in its task's line; one failover spike per moved task (no owner for at least
    /// the session timeout, the window task's restore as long as its stretch on the timeline);
    /// latency by `row_latency_ns`, its largest the chart's.
    #[test]
    fn the_charts_show_reprocessing_commits_restores_and_latency() {
        use sim::model_world::ModelCore as _;
        let shown = failover(None);
        let [processed, again, since_commit, recovery, latency] = &shown.charts[..] else {
            panic!("five charts: {:?}", shown.charts.iter().map(|c| c.id).collect::<Vec<_>>())
        };
        let sum = |s: &crate::view::plots::Series| s.points.iter().map(|p| p.1).sum::<f64>();
        let tasks = shown.lanes.len();
        assert_eq!(processed.series.len(), tasks);
        let total: f64 = processed.series.iter().map(sum).sum();
        let events = shown.events.iter().filter(|e| matches!(e.payload(), Payload::KStreamsProcess { .. })).count();
        assert_eq!(total, events as f64);
        let (crash, _) = shown.nodes.iter().find(|n| n.2).map(|n| (n.0, n.1)).expect("a crash");
        let before = shown.at(crash);
        let moved: Vec<usize> = (0..tasks)
            .filter(|&t| shown.lanes[t].stretches.iter().any(|s| s.activity == TaskActivity::Unowned))
            .collect();
        // Only the moved tasks that had processed records since their last commit read any again,
        // after the crash, each as many as it had processed since that commit.
        let reprocessing: Vec<usize> = moved.iter().copied().filter(|&t| before.tasks[t].since_commit > 0).collect();
        assert!(!reprocessing.is_empty());
        assert_eq!(again.series.len(), tasks, "every task, in the first chart's order (and colours)");
        for (t, line) in again.series.iter().enumerate() {
            assert_eq!(line.name, processed.series[t].name);
            assert!(line.points.iter().all(|p| p.1 == 0.0 || p.0 > crash as f64 / 1e9), "{line:?}");
            let expected = if reprocessing.contains(&t) { before.tasks[t].since_commit } else { 0 };
            assert_eq!(sum(line), expected as f64, "{}", line.name);
        }
        for (lane, line) in shown.lanes.iter().zip(&since_commit.series) {
            for &c in &lane.commits {
                let x = c as f64 / 1e9;
                assert!(line.points.contains(&(x, 0.0)), "task {} drops at its commit {c}", lane.name);
            }
        }
        let spikes =
            |i: usize| -> Vec<f64> { recovery.series[i].points.iter().map(|p| p.1).filter(|&y| y > 0.0).collect() };
        let session_timeout_ms = 3_000.0;
        assert_eq!(spikes(0).len(), moved.len());
        assert_eq!(recovery.series[0].name, format!("no owner: session timeout, rebalance ({} tasks)", moved.len()));
        assert!(spikes(0).iter().all(|&ms| ms >= session_timeout_ms), "{:?}", spikes(0));
        let restoring: Vec<f64> = shown
            .lanes
            .iter()
            .flat_map(|l| &l.stretches)
            .filter(|s| matches!(s.activity, TaskActivity::Restoring { records } if records > 0))
            .map(|s| (s.to_ns - s.from_ns) as f64 / 1e6)
            .collect();
        assert!(!restoring.is_empty());
        assert!(restoring.iter().all(|ms| spikes(1).contains(ms)), "{restoring:?} in {:?}", spikes(1));
        let largest = shown
            .run
            .visible_rows()
            .iter()
            .map(|r| sim::run::row_latency_ns(r, shown.run.world.log()) / 1_000_000)
            .max()
            .expect("rows");
        let max_line = latency.series[1].points.iter().map(|p| p.1).fold(0.0, f64::max);
        assert_eq!(max_line, largest as f64);
        assert!(latency.series[0].points.iter().zip(&latency.series[1].points).all(|(mean, max)| mean.1 <= max.1));
    }

    /// The sink rows read their windows and instants as every other table in the workbench
    /// ("[20.000 s, 25.000 s)", "visible at" as the cursor) and as `streamlab run` prints them,
    /// one line per visible row, in the CLI's order.
    #[test]
    fn the_sink_rows_read_windows_in_the_workbench_time() {
        let shown = failover(None);
        let rows = shown.run.visible_rows();
        let lines: Vec<&str> = shown.rows.lines().skip(1).collect();
        assert!(!rows.is_empty());
        assert_eq!(lines.len(), rows.len());
        for (line, row) in lines.iter().zip(&rows) {
            let window = crate::view::row_window_text(&shown.scenario, &row.row);
            assert!(window.ends_with(" s)"), "{window}");
            assert!(line.contains(&window), "{line} lacks {window}");
            let at = crate::view::time_text(&shown.scenario, row.visible_ns.unwrap_or(row.written_ns));
            assert!(line.ends_with(&at), "{line} does not end with {at}");
        }
        // `streamlab run` reads them by the same rule (`Scenario::format_time_ms`): a student
        // comparing the two sees one notation.
        let cli = sim::kstreams::report::rows_text(&shown.run);
        assert_eq!(cli.lines().count(), lines.len() + 1);
        for (cli_line, row) in cli.lines().skip(1).zip(&rows) {
            let window = crate::view::row_window_text(&shown.scenario, &row.row);
            assert!(cli_line.contains(&window), "{cli_line} lacks {window}");
        }
    }

    /// The comparison's at_least_once rows are Duplicates with no doubled row: their result
    /// cell's hover says where the records counted twice went (`OutcomeRow::notes`).
    #[test]
    fn the_comparison_says_where_the_records_counted_twice_went() {
        let shown = failover(None);
        let reports = shown.origin.compare(42);
        let rows = crate::view::outcomes::rows(&reports);
        let at_least_once: Vec<_> = rows.iter().filter(|r| r.variant.0 == Guarantee::AtLeastOnce).collect();
        assert!(!at_least_once.is_empty());
        for r in at_least_once {
            assert!(r.duplicated_records > 0 && r.extra_rows == 0, "{r:?}");
            assert_eq!(r.notes.len(), 1, "{r:?}");
            assert!(r.notes[0].starts_with(&format!("No row is doubled: the {} records", r.duplicated_records)));
        }
        for r in rows.iter().filter(|r| r.result == "exact") {
            assert!(r.notes.is_empty(), "{r:?}");
        }
    }

    /// At the cursor: just before the crash the dead instance's tasks run there with records
    /// processed since their last commit; just after it they have no owner and the instance is
    /// down; once restored they resume at their committed offset (nothing since it). At the end
    /// the counters are the summary's and every visible row is listed.
    #[test]
    fn the_cursor_shows_owners_offsets_and_what_a_crash_makes_a_task_reprocess() {
        let mut shown = failover(None);
        let (crash, dead) = shown.nodes.iter().find(|n| n.2).map(|n| (n.0, n.1)).expect("a crash");
        shown.set_cursor(crash - 1);
        let before = shown.at_cursor();
        let moved: Vec<usize> = (0..shown.lanes.len())
            .filter(|&t| shown.lanes[t].stretches.iter().any(|s| s.activity == TaskActivity::Unowned))
            .collect();
        assert!(!moved.is_empty());
        for &t in &moved {
            let task = &before.tasks[t];
            assert_eq!((task.instance, task.activity), (Some(dead), Some(TaskActivity::Running)), "{task:?}");
        }
        assert!(moved.iter().any(|&t| before.tasks[t].since_commit > 0), "{:?}", before.tasks);
        assert!(before.instances.iter().all(|i| i.1));
        assert_eq!(before.crashes, 0);
        shown.set_cursor(crash);
        let after = shown.at_cursor();
        assert_eq!(after.crashes, 1);
        let dead_index = dead.task_manager_index().expect("an instance") as usize;
        assert!(!after.instances[dead_index].1, "{:?}", after.instances);
        for &t in &moved {
            assert_eq!((after.tasks[t].instance, after.tasks[t].activity), (None, Some(TaskActivity::Unowned)));
        }
        // Where a moved task runs again, it resumed at the offset committed before the crash:
        // what it read since then counts from there.
        let t = moved[0];
        let resumed =
            shown.lanes[t].stretches.iter().find(|s| s.from_ns > crash && s.activity == TaskActivity::Running);
        let resumed = resumed.expect("runs again").from_ns;
        shown.set_cursor(resumed);
        let task = shown.at_cursor().tasks[t].clone();
        assert_eq!(task.committed, before.tasks[t].committed, "{task:?}");
        assert_eq!(task.position, task.committed + task.since_commit, "{task:?}");
        assert_ne!(task.instance, Some(dead));
        shown.set_cursor(shown.end_ns);
        let end = shown.at_cursor();
        let stats = &shown.run.world.stats;
        assert_eq!((end.processed, end.commits, end.restores), (stats.processed, stats.commits, stats.restores));
        assert_eq!(end.rows_visible, shown.run.visible_rows().len());
        assert_eq!(shown.rows_at_cursor(), shown.rows.trim_end());
        shown.set_cursor(0);
        assert_eq!(shown.rows_at_cursor().lines().count(), 1, "the header alone");
    }

    /// What the crash did, in sentences: each moved task's records since its commit are the
    /// ones processed again — summed over the moved tasks (source and repartition topics alike)
    /// they are the core's own count of reprocessed records; the restoring task names its
    /// changelog records.
    #[test]
    fn the_recovery_says_which_records_are_processed_again() {
        let mut shown = failover(None);
        let crash = shown.nodes.iter().find(|n| n.2).map(|n| n.0).expect("a crash");
        shown.set_cursor(crash - 1);
        assert!(shown.recovery().is_empty());
        shown.set_cursor(crash);
        let waiting = shown.recovery();
        assert!(waiting[0].starts_with("tm-0 died at") && waiting[0].contains("owning 3 running tasks"), "{waiting:?}");
        assert!(
            waiting[1..].iter().all(|l| l.ends_with("it has no owner yet (the group waits out the session timeout).")),
            "{waiting:?}"
        );
        shown.set_cursor(shown.end_ns);
        let lines = shown.recovery();
        assert_eq!(lines.len(), 4, "{lines:?}");
        let at = shown.at(crash);
        let mut again = 0;
        for (i, lane) in shown.lanes.iter().enumerate() {
            let Some(line) = lines.iter().find(|l| l.starts_with(&format!("{} ", lane.name))) else { continue };
            let task = &at.tasks[i];
            assert!(
                line.contains(&format!(
                    "resumed at offset {}: those {} records are processed again",
                    task.committed, task.since_commit
                )),
                "{line}"
            );
            again += task.since_commit;
        }
        assert_eq!(again, shown.run.world.stats.reprocessed);
        assert!(lines.iter().any(|l| l.contains("restored 1230 changelog records")), "{lines:?}");
    }

    /// The guarantee switch: exactly-once v2 runs the same application with transactions (the
    /// verdict is its own run's) and says so.
    #[test]
    fn exactly_once_v2_runs_the_application_with_transactions() {
        let shown = failover(Some(Guarantee::ExactlyOnce));
        assert_eq!(shown.scenario.guarantee, Guarantee::ExactlyOnce);
        assert!(shown.summary.contains("ExactlyOnceV2"), "{}", shown.summary);
        let report = sim::runtime::model(Runtime::KafkaStreams).run(&shown.scenario, 42, sim::runtime::RowsAs::Text);
        assert_eq!(report.trace_hash, shown.trace_hash, "the run `streamlab run` makes of it");
        let at_least_once = failover(None);
        assert_ne!(shown.verdict, at_least_once.verdict);
        // At least once counts records twice inside the windows' counts, not as doubled rows:
        // the view says so under the verdict; exactly_once_v2 has nothing counted twice.
        let outcome = sim::kstreams::judge::judge(&at_least_once.scenario, 42, &at_least_once.run).outcome;
        assert!(
            !outcome.duplicated_records.is_empty() && outcome.duplicate_rows.is_empty(),
            "{}",
            at_least_once.verdict
        );
        assert!(at_least_once.notes.iter().any(|n| n.starts_with("No row is doubled")), "{:?}", at_least_once.notes);
        assert!(shown.notes.iter().all(|n| !n.starts_with("No row is doubled")), "{:?}", shown.notes);
    }

    /// The failover scenario: tm-0 dies; its tasks have no owner until the rebalance, then
    /// restore on another instance (a window task replays its changelog) and run there; the
    /// others keep their owner throughout, and every task commits.
    #[test]
    fn the_failover_moves_the_dead_instances_tasks_and_restores_them() {
        let shown = failover(None);
        let crash = shown.nodes.iter().find(|n| n.2).copied().expect("a crash");
        let moved: Vec<&TaskLane> =
            shown.lanes.iter().filter(|l| l.stretches.iter().any(|s| s.activity == TaskActivity::Unowned)).collect();
        assert!(!moved.is_empty(), "{:?}", shown.lanes);
        for lane in &moved {
            let unowned = lane.stretches.iter().position(|s| s.activity == TaskActivity::Unowned).unwrap();
            assert_eq!(lane.stretches[unowned].from_ns, crash.0, "{lane:?}");
            assert_eq!(lane.stretches[unowned - 1].instance, Some(crash.1), "owned by the dead instance: {lane:?}");
            let after = &lane.stretches[unowned + 1];
            assert!(matches!(after.activity, TaskActivity::Restoring { .. }), "{lane:?}");
            assert_ne!(after.instance, Some(crash.1), "{lane:?}");
        }
        assert!(
            moved.iter().any(|l| l
                .stretches
                .iter()
                .any(|s| matches!(s.activity, TaskActivity::Restoring { records } if records > 0))),
            "a window task replays its changelog: {moved:?}"
        );
        let kept: Vec<&TaskLane> = shown.lanes.iter().filter(|l| !moved.contains(l)).collect();
        assert!(!kept.is_empty());
        for lane in kept {
            assert_eq!(lane.stretches.len(), 1, "one owner throughout: {lane:?}");
        }
        assert!(shown.lanes.iter().all(|l| !l.commits.is_empty()));
        // The stretches of a lane follow each other without gaps.
        for lane in &shown.lanes {
            for pair in lane.stretches.windows(2) {
                assert_eq!(pair[0].to_ns, pair[1].from_ns, "{lane:?}");
            }
        }
    }
}

#[cfg(test)]
mod outcome_tests {
    use super::*;

    fn failover(guarantee: Guarantee, sink: engine::sink::SinkKind) -> KStreamsShown {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/kafka-streams-failover.ron");
        let base = Scenario::load(&path).expect("loads");
        let variant = Arc::new(base.with_runtime_variant(Runtime::KafkaStreams, guarantee, Some(sink)));
        KStreamsShown::of(KStreamsOrigin::new(variant, ScenarioSource::File(path)), 42)
    }

    /// The Outcome tab's marks are the verdict's: exactly_once_v2 on the failover leaves every
    /// row exact for either reader (as `compare` says), at_least_once over-counts rows, and
    /// the table's counts are the oracle's; a missing or exact row's story has no failover
    /// reasoning to make.
    #[test]
    fn the_outcome_marks_agree_with_the_verdict_per_guarantee() {
        use engine::sink::SinkKind;
        for sink in [SinkKind::TwoPhaseCommit, SinkKind::Plain] {
            let shown = failover(Guarantee::ExactlyOnce, sink);
            assert!(shown.kept && shown.verdict.contains("Exact"), "{}", shown.verdict);
            assert!(
                shown.ledger.rows.iter().all(|l| l.status == Status::Exact),
                "{sink:?}: {}",
                shown.ledger.counts_text()
            );
        }
        let mut shown = failover(Guarantee::AtLeastOnce, SinkKind::TwoPhaseCommit);
        let o = &shown.ledger.outcome;
        assert_eq!(shown.ledger.count(Status::Wrong), o.wrong_rows.len());
        assert_eq!(shown.ledger.count(Status::Missing), o.missing_rows.len());
        assert!(!o.wrong_rows.is_empty());
        // What exercise ks-8's answer says: the moved window task 1_0's rows differ after its
        // failover (attempt 2), and rows of 1_1 and 1_2, which never moved, differ too.
        let mut writers = std::collections::BTreeSet::new();
        for l in shown.ledger.rows.iter().filter(|l| l.status == Status::Wrong) {
            let row = l.run_row.map(|r| &shown.ledger.run_rows[r]).expect("a written row");
            let task = writer_task(&shown.run, row).map(|t| shown.lanes[t].name.clone()).expect("a window task");
            assert_eq!(l.attempt == Some(2), task == "1_0", "{task} {:?}", l.attempt);
            writers.insert(task);
        }
        assert_eq!(writers.into_iter().collect::<Vec<_>>(), ["1_0", "1_1", "1_2"]);
        let exact = shown.ledger.rows.iter().position(|l| l.status == Status::Exact).expect("an exact row");
        shown.select_line(Some(exact));
        let story = shown.provenance.clone().and_then(|(_, p)| p).expect("a story");
        assert!(story.why.starts_with("exact: ") && !story.why.contains("failed over"), "{}", story.why);
    }
}
