//! The outcome of a run, row by row: its visible sink output against the fault-free reference of
//! the same seed, each row marked by the oracle (`sim::oracle::evaluate_rows`: exact, duplicate,
//! wrong value, unexpected) plus a ghost row for every missing result; and, for one row, its
//! provenance: the source records that fed it, the checkpoint they belonged to, the crash, the
//! restore, the replay and the emissions — each a moment the cursor can jump to.
//!
//! The GUI classifies nothing itself: the marks are the oracle's; the chain is read off the trace.

use std::collections::{BTreeMap, BTreeSet};

use engine::graph::SubtaskId;
use engine::{CheckpointId, SourceRef};
use sim::external::StoredRow;
use sim::kernel::TimeNs;
use sim::oracle::{self, Outcome, RowId, RowMark, Seen};
use sim::recording::{Payload, TraceEvent, TraceKind};
use sim::scenario::Guarantee;
use sim::Scenario;

use crate::view::time_text;

/// A row's mark, as the filter and the colours see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Exact,
    Duplicate,
    Wrong,
    Missing,
    Unexpected,
}

impl Status {
    pub const ALL: [Status; 5] = [Status::Exact, Status::Duplicate, Status::Wrong, Status::Missing, Status::Unexpected];
    pub fn label(self) -> &'static str {
        match self {
            Status::Exact => "exact",
            Status::Duplicate => "duplicate",
            Status::Wrong => "wrong value",
            Status::Missing => "missing",
            Status::Unexpected => "unexpected",
        }
    }
    /// What the mark means, in a student's words (the oracle's definitions).
    pub fn meaning(self) -> &'static str {
        match self {
            Status::Exact => "the same key, window and value as in the run without faults",
            Status::Duplicate => "the same result (key, window, value) made visible again: a reader sees it twice",
            Status::Wrong => "a result for the right key and window with another value (counted short or over-counted)",
            Status::Missing => "a result of the run without faults that never became visible here (a ghost row)",
            Status::Unexpected => {
                "a result the run without faults never shows (a window fired early, a session cut short)"
            }
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// One line of the outcome table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerRow {
    pub status: Status,
    /// A run row (index into [`Ledger::run_rows`]) or a ghost (index into `reference_rows`).
    pub run_row: Option<usize>,
    pub reference_row: Option<usize>,
    pub sink: String,
    pub key: String,
    pub window: String,
    pub value: i64,
    /// For a wrong value: what the run without faults shows.
    pub expected: Option<i64>,
    /// Job attempt that wrote it (1: before any restart). None for a ghost.
    pub attempt: Option<u32>,
    /// When readers could see it (a ghost: when the reference showed it).
    pub visible_ns: TimeNs,
    /// For a duplicate: the line (index into [`Ledger::rows`]) of the row it repeats.
    pub repeats: Option<usize>,
}

impl LedgerRow {
    pub fn value_text(&self) -> String {
        match (self.status, self.expected) {
            (Status::Wrong, Some(e)) => format!("{} (expected {e})", self.value),
            (Status::Missing, _) => format!("({})", self.value),
            _ => self.value.to_string(),
        }
    }
    /// A provenance chain's last step: the row as it reached the sink (written by `writer` at
    /// `written_ns`), or the ghost of a row that never did. Every model's chain ends this way.
    pub(crate) fn emission_step(&self, writer: &str, written_ns: TimeNs, t: &dyn Fn(TimeNs) -> String) -> Step {
        match self.run_row {
            Some(_) => Step {
                title: if self.repeats.is_some() { "Second emission".into() } else { "This row".into() },
                caption: format!(
                    "written by {writer} at {} (attempt {}), visible at {}",
                    t(written_ns),
                    self.attempt_text(),
                    t(self.visible_ns)
                ),
                time_ns: Some(self.visible_ns),
            },
            None => Step {
                title: "Never shown".into(),
                caption: format!("without faults this row was visible at {}; here it never was", t(self.visible_ns)),
                time_ns: None,
            },
        }
    }

    pub fn attempt_text(&self) -> String {
        self.attempt.map_or_else(|| "—".to_string(), |a| a.to_string())
    }
}

/// The whole run's outcome, row by row.
#[derive(Clone, Debug, PartialEq)]
pub struct Ledger {
    pub rows: Vec<LedgerRow>,
    /// Lines per status, in [`Status::ALL`] order.
    pub counts: [usize; 5],
    pub outcome: Outcome,
    /// The run's visible rows (in the order they became visible) and the reference's.
    pub run_rows: Vec<StoredRow>,
    pub reference_rows: Vec<StoredRow>,
    /// When each restart happened (the attempt it started is the index + 2).
    pub restarts: Vec<TimeNs>,
}

/// The job attempt (1-based) running at `t`, given the restart times.
fn attempt_at(restarts: &[TimeNs], t: TimeNs) -> u32 {
    // The restarts before `t` are the engine's attempt then.
    crate::view::job_attempt(restarts.partition_point(|&r| r <= t) as u32)
}

impl Ledger {
    /// `run`: what the run showed at its end; `reference`: what the fault-free run showed.
    /// The attempt column is the job attempt that wrote each row (a Flink run).
    pub fn build(scenario: &Scenario, trace: &[TraceEvent], reference: Seen, run: Seen) -> Ledger {
        let restarts: Vec<TimeNs> =
            trace.iter().filter(|e| e.kind == TraceKind::JobRestarted).map(|e| e.time_ns).collect();
        let attempt = |_: usize, row: &StoredRow| attempt_at(&restarts, row.written_ns);
        Ledger::build_with(scenario, restarts.clone(), reference, run, &attempt)
    }

    /// [`Ledger::build`] with the attempt column given by `attempt_of` (called with the index of
    /// the run's row and the row; a Storm run: the spout's attempt at the row's records,
    /// `view::storm`); `restarts` are the job's restarts.
    pub fn build_with(
        scenario: &Scenario,
        restarts: Vec<TimeNs>,
        reference: Seen,
        run: Seen,
        attempt_of: &dyn Fn(usize, &StoredRow) -> u32,
    ) -> Ledger {
        let marked = oracle::evaluate_rows(&reference.observed(), &run.observed());
        let (reference, run) = (reference.rows, run.rows);
        let line = |status, row: &StoredRow, run_row: Option<usize>, reference_row| LedgerRow {
            status,
            run_row,
            reference_row,
            sink: scenario.plan.operators.get(row.sink).map_or_else(String::new, |o| o.name.clone()),
            key: scenario.key_name(row.row.key),
            window: crate::view::row_window_text(scenario, &row.row),
            value: row.row.value,
            expected: None,
            attempt: run_row.map(|i| attempt_of(i, row)),
            visible_ns: row.visible_ns.unwrap_or(row.written_ns),
            repeats: None,
        };
        let mut rows: Vec<LedgerRow> = Vec::with_capacity(run.len() + marked.missing.len());
        for (i, (row, mark)) in run.iter().zip(&marked.marks).enumerate() {
            let mut l = line(Status::Exact, row, Some(i), None);
            match *mark {
                RowMark::Exact => {}
                RowMark::Duplicate { first } => {
                    l.status = Status::Duplicate;
                    l.repeats = Some(first);
                }
                RowMark::Wrong { expected } => {
                    l.status = Status::Wrong;
                    l.expected = Some(expected);
                }
                RowMark::Unexpected => l.status = Status::Unexpected,
            }
            rows.push(l);
        }
        for &r in &marked.missing {
            if let Some(row) = reference.get(r) {
                rows.push(line(Status::Missing, row, None, Some(r)));
            }
        }
        // In time order, a ghost where the reference showed it; ties: run rows first.
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| (rows[i].visible_ns, rows[i].run_row.is_none(), i));
        let mut position = vec![0; rows.len()];
        for (new, &old) in order.iter().enumerate() {
            position[old] = new;
        }
        let mut sorted: Vec<LedgerRow> = order.iter().map(|&i| rows[i].clone()).collect();
        for l in &mut sorted {
            // `repeats` named a run row index, which is also its line index before sorting.
            l.repeats = l.repeats.map(|first| position[first]);
        }
        let mut counts = [0; 5];
        for l in &sorted {
            counts[l.status.index()] += 1;
        }
        Ledger { rows: sorted, counts, outcome: marked.outcome, run_rows: run, reference_rows: reference, restarts }
    }

    pub fn count(&self, status: Status) -> usize {
        self.counts[status.index()]
    }

    /// Lines that pass `filter`, as indices into `rows`.
    pub fn filtered(&self, filter: &LedgerFilter) -> Vec<usize> {
        (0..self.rows.len()).filter(|&i| filter.matches(&self.rows[i])).collect()
    }

    /// The stored row behind a line (the reference's for a ghost).
    pub fn stored(&self, line: usize) -> Option<&StoredRow> {
        let l = self.rows.get(line)?;
        match (l.run_row, l.reference_row) {
            (Some(r), _) => self.run_rows.get(r),
            (None, Some(r)) => self.reference_rows.get(r),
            _ => None,
        }
    }

    /// The one-line summary above the table.
    pub fn counts_text(&self) -> String {
        Status::ALL.iter().map(|s| format!("{} {}", self.count(*s), s.label())).collect::<Vec<_>>().join(" · ")
    }
}

/// Which lines to show: by status, and by text in the key and window columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerFilter {
    pub show: [bool; 5],
    pub key: String,
    pub window: String,
    /// Only rows of a later attempt (written after a restart; a Storm run: by a replay or
    /// re-read): where the story is even when every row is exact.
    pub later_attempts: bool,
}

impl Default for LedgerFilter {
    fn default() -> Self {
        LedgerFilter { show: [true; 5], key: String::new(), window: String::new(), later_attempts: false }
    }
}

impl LedgerFilter {
    pub fn shows(&self, status: Status) -> bool {
        self.show[status.index()]
    }
    pub fn set(&mut self, status: Status, on: bool) {
        self.show[status.index()] = on;
    }
    /// Show only `status` (what clicking a count does).
    pub fn only(&mut self, status: Status) {
        self.show = [false; 5];
        self.set(status, true);
    }
    pub fn matches(&self, l: &LedgerRow) -> bool {
        let has = |cell: &str, want: &str| {
            let want = want.trim();
            want.is_empty() || cell.to_lowercase().contains(&want.to_lowercase())
        };
        self.shows(l.status)
            && has(&l.key, &self.key)
            && has(&l.window, &self.window)
            && (!self.later_attempts || l.attempt.is_some_and(|a| a > 1))
    }
}

/// One step of a provenance chain: a caption, and the moment it happened (a link moves the
/// cursor there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub title: String,
    pub caption: String,
    pub time_ns: Option<TimeNs>,
}

/// Where a row came from and why it is marked as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provenance {
    pub headline: String,
    pub steps: Vec<Step>,
    /// Why, in plain words (from the facts above, the guarantee and the sink kind).
    pub why: String,
}

/// A source record's reads: (time, reading subtask, attempt), in time order.
type Reads = BTreeMap<SourceRef, Vec<(TimeNs, SubtaskId, u32)>>;

pub(crate) fn record_text(s: SourceRef) -> String {
    format!("p{}@{}", s.partition, s.offset)
}

/// The records behind a line: those its row holds (with multiplicity) and, for a wrong value,
/// those of the fault-free row it stands in for.
pub(crate) struct RowRecords {
    pub multiplicity: BTreeMap<SourceRef, u32>,
    pub wanted: BTreeMap<SourceRef, u32>,
    pub records: BTreeSet<SourceRef>,
    /// A wrong value: `wanted` is the reference row's lineage.
    pub has_reference: bool,
}

impl RowRecords {
    pub fn of(ledger: &Ledger, line: usize) -> Option<RowRecords> {
        let l = ledger.rows.get(line)?;
        let row = ledger.stored(line)?;
        let mut multiplicity: BTreeMap<SourceRef, u32> = BTreeMap::new();
        for s in &row.row.lineage {
            *multiplicity.entry(*s).or_default() += 1;
        }
        let reference_row: Option<&StoredRow> = match l.status {
            Status::Wrong => {
                ledger.reference_rows.iter().find(|r| RowId::of(r) == RowId::of(row) && Some(r.row.value) == l.expected)
            }
            _ => None,
        };
        let mut wanted: BTreeMap<SourceRef, u32> = BTreeMap::new();
        for s in reference_row.iter().flat_map(|r| r.row.lineage.iter()) {
            *wanted.entry(*s).or_default() += 1;
        }
        let records: BTreeSet<SourceRef> = multiplicity.keys().chain(wanted.keys()).copied().collect();
        Some(RowRecords { multiplicity, wanted, records, has_reference: reference_row.is_some() })
    }
}

/// The first steps of every chain: the source records (`first_text` says where the first was
/// read), then those counted more often than without faults and those not counted; also returns
/// those two lists. `first_at`: when a record was first read (or emitted).
pub(crate) fn record_steps(
    records: &BTreeSet<SourceRef>,
    multiplicity: &BTreeMap<SourceRef, u32>,
    wanted: &BTreeMap<SourceRef, u32>,
    has_reference: bool,
    first_text: &str,
    first_at: &dyn Fn(&SourceRef) -> Option<TimeNs>,
) -> (Vec<Step>, Vec<SourceRef>, Vec<SourceRef>) {
    let mut steps = Vec::new();
    let mut listed: Vec<String> = records.iter().take(6).map(|s| record_text(*s)).collect();
    if records.len() > 6 {
        listed.push(format!("… {} more", records.len() - 6));
    }
    steps.push(Step {
        title: "Source records".into(),
        caption: format!(
            "{} source record{} (partition@offset) fed it: {}{first_text}",
            records.len(),
            if records.len() == 1 { "" } else { "s" },
            listed.join(", "),
        ),
        time_ns: records.iter().filter_map(first_at).min(),
    });
    // The records that tell the story: counted more (or fewer) times than without faults.
    let over: Vec<SourceRef> = multiplicity
        .iter()
        .filter(|(s, n)| **n > wanted.get(*s).copied().unwrap_or(if has_reference { 0 } else { 1 }))
        .map(|(s, _)| *s)
        .collect();
    let short: Vec<SourceRef> =
        wanted.iter().filter(|(s, n)| multiplicity.get(*s).copied().unwrap_or(0) < **n).map(|(s, _)| *s).collect();
    if !over.is_empty() {
        steps.push(Step {
            title: "Counted twice".into(),
            caption: format!(
                "{} record{} counted more often than without faults: {}",
                over.len(),
                if over.len() == 1 { " is" } else { "s are" },
                over.iter().take(6).map(|s| record_text(*s)).collect::<Vec<_>>().join(", ")
            ),
            time_ns: over.iter().filter_map(first_at).min(),
        });
    }
    if !short.is_empty() {
        steps.push(Step {
            title: "Not counted".into(),
            caption: format!(
                "{} record{} of the fault-free result missing here: {}",
                short.len(),
                if short.len() == 1 { " is" } else { "s are" },
                short.iter().take(6).map(|s| record_text(*s)).collect::<Vec<_>>().join(", ")
            ),
            time_ns: short.iter().filter_map(first_at).min(),
        });
    }
    (steps, over, short)
}

impl Provenance {
    /// The chain of line `line` of `ledger`, read off `trace` (the run's whole trace).
    pub fn build(scenario: &Scenario, trace: &[TraceEvent], ledger: &Ledger, line: usize) -> Option<Provenance> {
        let l = ledger.rows.get(line)?;
        let row = ledger.stored(line)?;
        let t = |ns: TimeNs| time_text(scenario, ns);
        let subtask =
            |id: SubtaskId| scenario.plan.subtasks.get(id.index()).map_or_else(|| format!("#{id}"), |s| s.name.clone());
        let RowRecords { multiplicity, wanted, records, has_reference, .. } = RowRecords::of(ledger, line)?;
        let restarts = &ledger.restarts;
        let mut reads: Reads = BTreeMap::new();
        for e in trace.iter().filter(|e| e.kind == TraceKind::SourceRead) {
            let Some(s) = e.payload().source_record() else { continue };
            if records.contains(&s) {
                reads.entry(s).or_default().push((e.time_ns, e.subtask(), attempt_at(restarts, e.time_ns)));
            }
        }
        // 1. The source records.
        let first_read = reads.values().filter_map(|r| r.first()).min().copied();
        let first_text = first_read
            .map_or_else(String::new, |(ns, s, _)| format!("; the first was read by {} at {}", subtask(s), t(ns)));
        let first_at = |s: &SourceRef| reads.get(s).and_then(|r| r.first()).map(|r| r.0);
        let (mut steps, over, short) =
            record_steps(&records, &multiplicity, &wanted, has_reference, &first_text, &first_at);
        let replayed: Vec<SourceRef> = reads.iter().filter(|(_, r)| r.len() > 1).map(|(s, _)| *s).collect();
        // 2. The epoch of the record that tells the story: the checkpoints its source subtask
        // snapshotted before and after reading it (in the same attempt).
        let focus: Option<SourceRef> = replayed.first().or(over.first()).or(short.first()).or(records.first()).copied();
        let completed: BTreeMap<CheckpointId, TimeNs> = trace
            .iter()
            .filter_map(|e| match e.payload() {
                Payload::CheckpointCompleted { checkpoint } => Some((checkpoint, e.time_ns)),
                _ => None,
            })
            .collect();
        if let Some((s, &(read_ns, reader, attempt))) =
            focus.and_then(|s| reads.get(&s).and_then(|r| r.first()).map(|r| (s, r)))
        {
            let snapshots: Vec<(TimeNs, CheckpointId)> = trace
                .iter()
                .filter(|e| e.subtask() == reader && attempt_at(restarts, e.time_ns) == attempt)
                .filter_map(|e| match e.payload() {
                    Payload::Snapshot { checkpoint, .. } => Some((e.time_ns, checkpoint)),
                    _ => None,
                })
                .collect();
            let before = snapshots.iter().rev().find(|(ns, _)| *ns <= read_ns).copied();
            let after = snapshots.iter().find(|(ns, _)| *ns > read_ns).copied();
            let before_text = before.map_or_else(
                || format!("before {} snapshotted any checkpoint", subtask(reader)),
                |(ns, cp)| {
                    format!(
                        "after {} snapshotted checkpoint {cp} (at {}), so checkpoint {cp} does not cover it",
                        subtask(reader),
                        t(ns)
                    )
                },
            );
            let after_text = match after {
                Some((ns, cp)) => match completed.get(&cp) {
                    Some(done) => {
                        format!("; checkpoint {cp} (snapshot at {}) covers it, complete at {}", t(ns), t(*done))
                    }
                    None => format!("; checkpoint {cp} (snapshot at {}) would have, but never completed", t(ns)),
                },
                None => "; no later checkpoint of this attempt covers it".to_string(),
            };
            steps.push(Step {
                title: "Checkpoint".into(),
                caption: format!("{} was read at {} {before_text}{after_text}", record_text(s), t(read_ns),),
                time_ns: before.or(after).map(|(ns, _)| ns),
            });
        }
        // 3. The first emission of a duplicate.
        if let Some(first) = l.repeats.and_then(|f| ledger.rows.get(f).map(|r| (f, r))) {
            steps.push(Step {
                title: "First emission".into(),
                caption: format!(
                    "the same row was first visible at {} (attempt {})",
                    t(first.1.visible_ns),
                    first.1.attempt_text()
                ),
                time_ns: Some(first.1.visible_ns),
            });
        }
        // 4. The crash and restart that separate the story: the last restart before this row was
        // written; for a ghost, the first restart after its first record was read.
        let restart_ns = match l.run_row {
            Some(_) => restarts.iter().rev().find(|&&r| r <= row.written_ns).copied(),
            None => first_read.and_then(|(ns, _, _)| restarts.iter().find(|&&r| r > ns).copied()),
        };
        if let Some(restart_ns) = restart_ns {
            let crash = trace
                .iter()
                .rev()
                .find(|e| e.kind == TraceKind::NodeCrashed && e.time_ns <= restart_ns)
                .map(|e| (e.time_ns, e.node()));
            if let Some((ns, node)) = crash {
                steps.push(Step {
                    title: "Crash".into(),
                    caption: format!("{} crashed at {}", scenario.node_name(node), t(ns)),
                    time_ns: Some(ns),
                });
            }
            let restored = trace
                .iter()
                .filter(|e| e.time_ns == restart_ns)
                .find_map(|e| match e.payload() {
                    Payload::JobRestarted { restored_from, .. } => Some(restored_from),
                    _ => None,
                })
                .flatten();
            let attempt = attempt_at(restarts, restart_ns);
            let caption = match restored {
                Some(cp) => format!(
                    "the job restarted (attempt {attempt}) from checkpoint {cp}: its state, and the source offsets it recorded"
                ),
                _ => format!("the job restarted (attempt {attempt}) with empty state: no checkpoint restored"),
            };
            steps.push(Step { title: "Restore".into(), caption, time_ns: Some(restart_ns) });
            // 5. The replay: records read again after the restart.
            let again: Vec<(SourceRef, TimeNs)> = reads
                .iter()
                .filter_map(|(s, r)| {
                    let before = r.iter().any(|x| x.0 < restart_ns);
                    r.iter().find(|x| x.0 >= restart_ns).filter(|_| before).map(|x| (*s, x.0))
                })
                .collect();
            let was_read_before = reads.values().filter(|r| r.iter().any(|x| x.0 < restart_ns)).count();
            let caption = if again.is_empty() {
                format!("none of the {was_read_before} records read before the restart was read again")
            } else {
                format!(
                    "{} of the {was_read_before} records read before the crash were read again: the source rewound to the restored offsets",
                    again.len()
                )
            };
            steps.push(Step { title: "Replay".into(), caption, time_ns: again.iter().map(|a| a.1).min() });
        }
        // 6. This row.
        steps.push(l.emission_step(&subtask(row.subtask), row.written_ns, &t));
        let why = why(scenario, l.status, restart_ns.is_some(), !over.is_empty());
        let headline = format!("{} · key {} · window {} · value {}", l.status.label(), l.key, l.window, l.value_text());
        Some(Provenance { headline, steps, why })
    }
}

/// The explanation under a chain. Facts only: the guarantee and sink kind of the run, the mark,
/// whether a restart came between.
fn why(scenario: &Scenario, status: Status, restarted: bool, counted_twice: bool) -> String {
    let plain = scenario
        .plan
        .operators
        .iter()
        .any(|o| matches!(o.kind, engine::graph::OperatorKind::Sink(engine::sink::SinkKind::Plain)));
    match (status, scenario.guarantee) {
        (Status::Exact, _) => "This row is what the run without faults shows.".into(),
        (Status::Duplicate, _) if restarted && plain => "The row became visible before the crash. The job restarted from a checkpoint taken before that, replayed the source from the checkpoint's offsets and produced the same result again; a plain (append) sink cannot take the first row back, so a reader sees it twice. An idempotent sink would overwrite it; a two-phase-commit sink would only have shown it once the checkpoint completed.".into(),
        (Status::Duplicate, _) => "The same result became visible twice.".into(),
        (Status::Wrong, Guarantee::AtLeastOnce) if counted_twice => "At-least-once does not align barriers: records after a barrier are counted before the window snapshots, so the restored state already holds them. The restore rewinds the source to offsets before them and they are counted again: the window is over-counted.".into(),
        (Status::Wrong, _) if counted_twice => "Some records were counted twice into this result: the restored state already held them and the replay counted them again.".into(),
        (Status::Wrong, Guarantee::AtMostOnce) | (Status::Missing, Guarantee::AtMostOnce) => "At-most-once restarts with empty state and does not rewind the sources: what was counted before the crash is gone.".into(),
        (Status::Wrong, _) => "Some records of the fault-free result are not counted here.".into(),
        (Status::Missing, _) => "The result the run without faults shows never became visible here.".into(),
        (Status::Unexpected, _) => "The run without faults never shows this key and window (with this firing): a window fired early, or a session was cut short or split by the failure.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn crash_scenario(guarantee: Guarantee) -> Arc<Scenario> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/crash-during-checkpoint.ron");
        let s = Scenario::load(std::path::Path::new(path)).expect("shipped scenario loads");
        Arc::new(s.with_variant(guarantee, None))
    }

    fn ledger_of(scenario: &Arc<Scenario>) -> (Ledger, Vec<TraceEvent>) {
        let options = sim::RunOptions { keep_trace: true, ..sim::RunOptions::default() };
        let mut w = sim::World::new(scenario.clone(), 42, options);
        w.run();
        let trace = w.recorder.take_events();
        let reference = sim::run::reference_run(scenario, 42);
        let ledger = Ledger::build(scenario, &trace, Seen::of(&reference.observed()), Seen::of(&w.observed()));
        (ledger, trace)
    }

    #[test]
    fn exactly_once_with_a_plain_sink_marks_the_refired_windows_as_duplicates_with_their_chain() {
        let scenario = crash_scenario(Guarantee::ExactlyOnce);
        let (ledger, trace) = ledger_of(&scenario);
        // The counts are the oracle's.
        assert_eq!(ledger.count(Status::Duplicate), ledger.outcome.duplicate_rows.len());
        assert_eq!(ledger.count(Status::Missing), ledger.outcome.missing_rows.len());
        assert!(ledger.count(Status::Duplicate) > 0, "{}", ledger.counts_text());
        assert_eq!(ledger.rows.len(), ledger.run_rows.len() + ledger.count(Status::Missing));
        // Lines are in time order; a duplicate points at an earlier exact line with its content.
        assert!(ledger.rows.windows(2).all(|w| w[0].visible_ns <= w[1].visible_ns));
        let mut filter = LedgerFilter::default();
        filter.only(Status::Duplicate);
        let dups = ledger.filtered(&filter);
        assert_eq!(dups.len(), ledger.count(Status::Duplicate));
        let d = &ledger.rows[dups[0]];
        let first = &ledger.rows[d.repeats.expect("a duplicate repeats a line")];
        assert!(first.visible_ns <= d.visible_ns);
        assert_eq!(
            (first.key.as_str(), first.window.as_str(), first.value),
            (d.key.as_str(), d.window.as_str(), d.value)
        );
        assert!(d.attempt > first.attempt, "the repeat comes from a later attempt");
        // Its chain: records, checkpoint, first emission, crash, restore, replay, second emission.
        let p = Provenance::build(&scenario, &trace, &ledger, dups[0]).expect("a chain");
        let titles: Vec<&str> = p.steps.iter().map(|s| s.title.as_str()).collect();
        for want in ["Source records", "Checkpoint", "First emission", "Crash", "Restore", "Replay", "Second emission"]
        {
            assert!(titles.contains(&want), "{want} in {titles:?}");
        }
        // Each step happens in order: crash before restore before replay before the second emission.
        let at = |title: &str| p.steps.iter().find(|s| s.title == title).and_then(|s| s.time_ns).expect(title);
        assert!(at("First emission") <= at("Crash"));
        assert!(at("Crash") < at("Restore") && at("Restore") <= at("Replay") && at("Replay") <= at("Second emission"));
        assert!(p.why.contains("plain"), "{}", p.why);
        // Filters by key and window narrow the lines.
        filter = LedgerFilter { key: d.key.clone(), window: d.window.clone(), ..LedgerFilter::default() };
        assert!(ledger.filtered(&filter).iter().all(|&i| ledger.rows[i].key.contains(&d.key)));
        assert!(ledger.filtered(&filter).contains(&dups[0]));
    }

    #[test]
    fn at_least_once_shows_over_counted_windows_and_at_most_once_ghost_rows() {
        let scenario = crash_scenario(Guarantee::AtLeastOnce);
        let (ledger, trace) = ledger_of(&scenario);
        let wrong: Vec<usize> = (0..ledger.rows.len()).filter(|&i| ledger.rows[i].status == Status::Wrong).collect();
        assert!(!wrong.is_empty(), "{}", ledger.counts_text());
        let w = &ledger.rows[wrong[0]];
        assert!(w.expected.is_some_and(|e| e < w.value), "over-counted: {w:?}");
        let p = Provenance::build(&scenario, &trace, &ledger, wrong[0]).expect("a chain");
        assert!(p.steps.iter().any(|s| s.title == "Counted twice"), "{p:?}");
        assert!(p.why.contains("At-least-once"), "{}", p.why);

        let scenario = crash_scenario(Guarantee::AtMostOnce);
        let (ledger, trace) = ledger_of(&scenario);
        let missing = ledger.count(Status::Missing) + ledger.count(Status::Wrong);
        assert!(missing > 0, "{}", ledger.counts_text());
        if let Some(ghost) = ledger.rows.iter().position(|l| l.status == Status::Missing) {
            assert_eq!(ledger.rows[ghost].attempt, None);
            let p = Provenance::build(&scenario, &trace, &ledger, ghost).expect("a chain");
            assert_eq!(p.steps.last().map(|s| s.title.as_str()), Some("Never shown"));
        }
    }
}
