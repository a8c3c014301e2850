//! The inspector: everything about one subtask at the cursor, as facts and small tables, plus
//! the sink store's rows.

use engine::graph::{InputIndex, SubtaskId};
use engine::sink::SinkKind;
use engine::subtask::OperatorState;
use sim::external::{RowState, StoredRow};
use sim::{Scenario, World};

use crate::view::watermarks::watermark_text;

/// At most this many rows per table: the inspector is for reading, not for dumping state.
pub const TABLE_LIMIT: usize = 200;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub title: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    /// Rows not shown because of [`TABLE_LIMIT`].
    pub more: usize,
}

impl Table {
    fn new(title: impl Into<String>, columns: Vec<&'static str>) -> Table {
        Table { title: title.into(), columns, rows: Vec::new(), more: 0 }
    }
    fn push(&mut self, row: Vec<String>) {
        if self.rows.len() < TABLE_LIMIT {
            self.rows.push(row);
        } else {
            self.more += 1;
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inspector {
    pub title: String,
    pub facts: Vec<(&'static str, String)>,
    pub tables: Vec<Table>,
}

impl Inspector {
    pub fn build(world: &World, subtask: SubtaskId) -> Inspector {
        let scenario = &world.scenario;
        let plan = &scenario.plan;
        let Some(task) = world.tasks.get(subtask.index()) else {
            return Inspector::default();
        };
        let s = &task.subtask;
        let info = plan.subtask(subtask);
        let op = &plan.operators[info.operator];
        let counters = s.counters();
        // As the job graph says it: a stopped task is not waiting for anything, and only
        // exactly-once aligns.
        let status = if !task.alive {
            "stopped: its task manager is down or the job is restarting".to_string()
        } else if s.is_finished() {
            "finished".to_string()
        } else if let Some(pending) = s.aligner().pending() {
            crate::view::dag::pending_checkpoint_text(
                crate::view::dag::checkpoint_mode(scenario),
                pending.checkpoint_id,
            )
            .0
        } else if task.busy_until_ns > world.now_ns() {
            "processing".to_string()
        } else {
            "waiting for input".to_string()
        };
        let mut facts = vec![
            ("operator", format!("{} ({})", op.name, op.kind.label())),
            ("task manager", scenario.node_name(task.node)),
            ("status", status),
            ("records in / out", format!("{} / {}", counters.records_in, counters.records_out)),
            ("late records dropped", counters.late_dropped.to_string()),
            ("output watermark", watermark_text(scenario, s.output_watermark())),
            ("idle", if s.is_output_idle() { "yes: ignored by downstream watermarks" } else { "no" }.to_string()),
            ("buffered input messages", s.gate().queued().to_string()),
            ("latest checkpoint snapshotted", s.aligner().latest_id().map_or("none".to_string(), |id| id.to_string())),
        ];
        let mut tables = Vec::new();
        if !info.inputs.is_empty() {
            let mut t = Table::new("Inputs", vec!["input", "from", "buffered", "blocked", "watermark"]);
            for ((i, &c), input) in info.inputs.iter().enumerate().zip(InputIndex::all(info.inputs.len())) {
                t.push(vec![
                    i.to_string(),
                    plan.subtask(plan.channel(c).from).name.clone(),
                    s.gate().queued_on(input).to_string(),
                    if s.is_input_blocked(input) { "blocked".into() } else { String::new() },
                    watermark_text(scenario, s.watermarks().inputs()[i].watermark),
                ]);
            }
            tables.push(t);
        }
        match s.operator_state() {
            OperatorState::Source(src) => {
                let mut t = Table::new(
                    "Source partitions",
                    vec!["partition", "next offset", "log length", "max event time", "idle"],
                );
                for p in &src.partitions {
                    let len = world.log.partitions.get(p.partition as usize).map_or(0, Vec::len);
                    t.push(vec![
                        p.partition.to_string(),
                        p.next_offset.to_string(),
                        len.to_string(),
                        watermark_text(scenario, p.generator.max_timestamp_ms),
                        if p.idle { "idle".into() } else { String::new() },
                    ]);
                }
                tables.push(t);
            }
            OperatorState::Window(w) => {
                facts.push(("open windows", w.open_window_count().to_string()));
                let aggregate = w.spec().aggregate;
                let mut t = Table::new("Keyed window state", vec!["key", "window", "records", "value", "fired"]);
                for ((key, window), c) in w.windows() {
                    t.push(vec![
                        scenario.key_name(*key),
                        crate::view::window_text(scenario, window),
                        c.acc.count.to_string(),
                        c.acc.result(aggregate).to_string(),
                        if c.fired { "yes".into() } else { String::new() },
                    ]);
                }
                tables.push(t);
            }
            OperatorState::Sink(sink) => {
                facts.push(("sink kind", sink.kind.label().to_string()));
                if sink.kind == SinkKind::TwoPhaseCommit {
                    let open = sink.open_transaction().as_ref().map_or("none".into(), transaction_text);
                    facts.push(("open transaction", open));
                    let mut t =
                        Table::new("Pre-committed, waiting for their checkpoint", vec!["transaction", "checkpoint"]);
                    for (cp, txn) in sink.pending_transactions() {
                        t.push(vec![transaction_text(txn), cp.to_string()]);
                    }
                    tables.push(t);
                }
                let rows = world.sink_store.rows.iter().filter(|r| r.subtask == subtask);
                let mut t =
                    Table::new("Rows this subtask wrote (newest first)", vec!["key", "window", "value", "state"]);
                let mine: Vec<&StoredRow> = rows.collect();
                for r in mine.iter().rev() {
                    let v = SinkRowView::of(scenario, r);
                    t.push(vec![v.key, v.window, v.value, v.state.to_string()]);
                }
                tables.push(t);
            }
            _ => {}
        }
        Inspector { title: info.name.clone(), facts, tables }
    }
}

/// One row of the sink output table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkRowView {
    pub sink: String,
    pub key: String,
    pub window: String,
    pub value: String,
    pub firing: &'static str,
    pub state: &'static str,
    pub written: String,
    pub visible: String,
}

/// A two-phase-commit transaction as the inspector lists it: its sequence number and the job
/// attempt that opened it, counted from 1 as everywhere in the workbench (the engine's `TxnId`
/// counts restores from 0).
fn transaction_text(txn: &engine::sink::TxnId) -> String {
    format!("#{} (attempt {})", txn.sequence, crate::view::job_attempt(txn.attempt))
}

pub fn row_state_label(state: RowState) -> &'static str {
    match state {
        RowState::Visible => "visible",
        RowState::Pending => "pending (uncommitted)",
        RowState::Aborted => "aborted",
        RowState::Overwritten => "overwritten",
    }
}

impl SinkRowView {
    pub fn of(scenario: &Scenario, row: &StoredRow) -> SinkRowView {
        let window = crate::view::row_window_text(scenario, &row.row);
        SinkRowView {
            sink: scenario.plan.operators[row.sink].name.clone(),
            key: scenario.key_name(row.row.key),
            window,
            value: row.row.value.to_string(),
            firing: row.row.firing.label(),
            state: row_state_label(row.state),
            written: crate::view::time_text(scenario, row.written_ns),
            visible: row.visible_ns.map_or_else(String::new, |t| crate::view::time_text(scenario, t)),
        }
    }
}

/// Indices of the sink store's rows to list: all of them, or only what readers see.
pub fn sink_row_indices(world: &World, visible_only: bool) -> Vec<u32> {
    world
        .sink_store
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| !visible_only || r.state == RowState::Visible)
        .map(|(i, _)| i as u32)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::scrub::RecordedRun;

    #[test]
    fn a_window_subtask_shows_its_keyed_state() {
        let mut run = RecordedRun::record(Arc::new(Scenario::default_scenario()), 42);
        let counts0 = run.scenario.plan.subtask_by_name("counts[0]").unwrap();
        let at = run.end_ns / 3;
        let world = run.world_at(at);
        let inspector = Inspector::build(world, counts0);
        assert_eq!(inspector.title, "counts[0]");
        let windows = inspector.tables.iter().find(|t| t.title == "Keyed window state").expect("window state");
        assert!(!windows.rows.is_empty(), "mid-run, some windows are open");
        assert_eq!(windows.columns.len(), windows.rows[0].len());
        assert!(inspector.facts.iter().any(|(k, v)| *k == "task manager" && v.starts_with("tm-")));
    }

    /// crash-during-checkpoint at 6.28 s: tm-1 is down (its subtasks are stopped, not "waiting
    /// for input"), and the sink has barrier 3 from two of its three inputs.
    #[test]
    fn the_status_says_stopped_and_aligns_only_under_exactly_once() {
        let path = format!("{}/../scenarios/crash-during-checkpoint.ron", env!("CARGO_MANIFEST_DIR"));
        let scenario = Arc::new(Scenario::load(std::path::Path::new(&path)).unwrap());
        let status = |scenario: &Arc<Scenario>, name: &str| {
            let mut run = RecordedRun::record(scenario.clone(), 42);
            let id = run.scenario.plan.subtask_by_name(name).unwrap();
            let inspector = Inspector::build(run.world_at(6_280_041_000), id);
            inspector.facts.iter().find(|(k, _)| *k == "status").map(|(_, v)| v.clone()).unwrap()
        };
        assert!(status(&scenario, "clicks[1]").starts_with("stopped"), "{}", status(&scenario, "clicks[1]"));
        assert_eq!(status(&scenario, "out[0]"), "aligning 3");
        let alo = Arc::new(scenario.with_variant(sim::scenario::Guarantee::AtLeastOnce, None));
        assert_eq!(status(&alo, "out[0]"), "barrier 3, not blocking");
    }

    #[test]
    fn a_source_shows_its_offsets() {
        let mut run = RecordedRun::record(Arc::new(Scenario::default_scenario()), 42);
        let world = run.world_at(run.end_ns);
        let inspector = Inspector::build(world, SubtaskId::from_raw(0));
        let t = inspector.tables.iter().find(|t| t.title == "Source partitions").unwrap();
        // At the end every partition has been read to its end.
        assert!(t.rows.iter().all(|r| r[1] == r[2]), "{:?}", t.rows);
    }

    #[test]
    fn sink_rows_read_like_the_cli_output() {
        let mut run = RecordedRun::record(Arc::new(Scenario::default_scenario()), 42);
        let world = run.world_at(run.end_ns);
        let visible = sink_row_indices(world, true);
        assert!(!visible.is_empty());
        let row = SinkRowView::of(&world.scenario, &world.sink_store.rows[visible[0] as usize]);
        assert_eq!(row.state, "visible");
        assert!(row.window.starts_with('['));
        assert!(sink_row_indices(world, false).len() >= visible.len());
    }
}
