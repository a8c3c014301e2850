//! Getting a run out of the workbench: the shown run as a scenario file (its guarantee, sink kind
//! and whole fault schedule spelled out, the seed pinned: it reloads to the same trace), its sink
//! output as CSV and JSON, its trace for Perfetto.
//!
//! Everything is written through `sim::atomic_write`; a file already there is replaced only when
//! the user said so. The default folder is outside the repository: `Documents/streamlab` in the
//! home folder when there is a Documents folder, else `streamlab` in the temporary folder.

use std::path::{Path, PathBuf};

use crate::error::WriteError;
use engine::sink::SinkKind;
use sim::atomic_write::{self, Overwrite};
use sim::external::StoredRow;
use sim::faults::Fault;
use sim::scenario::{Guarantee, Step};
use sim::Scenario;

/// Where saves and exports go unless the user names another folder: the same folder as the
/// slide exports (one rule, in [`crate::slides::default_export_dir`]).
pub fn default_folder() -> PathBuf {
    crate::slides::default_export_dir()
}

/// A file name stem from free text: letters, digits, `-` and `_`; the rest becomes `-`.
pub fn file_stem(text: &str) -> String {
    let mut stem: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
    while stem.contains("--") {
        stem = stem.replace("--", "-");
    }
    let stem = stem.trim_matches('-').to_string();
    if stem.is_empty() {
        "run".to_string()
    } else {
        stem
    }
}

/// The text of a scenario file that runs exactly `scenario` (the loaded one, `raw` its file, under
/// its guarantee — Flink's checkpoints or Storm's acking — and `sink`) with `faults` (the run's whole schedule, file faults first) and `seed`.
pub fn scenario_text(
    raw: &sim::scenario::ScenarioFile,
    scenario: &Scenario,
    sink: Option<SinkKind>,
    faults: &[Fault],
    seed: u64,
    note: &str,
) -> String {
    let mut file = raw.clone();
    let guarantee = scenario.guarantee;
    match scenario.runtime() {
        // Storm's guarantee is its acker and Trident settings; the checkpoints stay the file's
        // (they are `compare`'s Flink rows).
        sim::scenario::Runtime::Storm => file.model = scenario.model.clone(),
        // Spark's guarantee is its checkpoint location (and the sink, below); Kafka Streams' its
        // processing guarantee.
        sim::scenario::Runtime::Spark | sim::scenario::Runtime::KafkaStreams => file.model = scenario.model.clone(),
        // Flink's guarantee is the checkpoints' mode; at-most-once takes no checkpoints.
        sim::scenario::Runtime::Flink => {
            file.checkpoints = match (guarantee, scenario.checkpoint_settings) {
                (Guarantee::AtMostOnce, _) | (_, None) => None,
                (g, Some(mut c)) => {
                    c.mode = g;
                    c.unaligned &= g == Guarantee::ExactlyOnce;
                    c.chandy_lamport &= g == Guarantee::ExactlyOnce;
                    if !c.unaligned {
                        c.aligned_checkpoint_timeout_ms = None;
                    }
                    Some(c)
                }
            }
        }
    }
    if let Some(kind) = sink {
        for step in &mut file.pipeline {
            if let Step::Sink { kind: k, .. } = step {
                *k = kind;
            }
        }
    }
    // The declared outcomes of what ran (none once faults were clicked: `view::add_clicked_faults`).
    file.expect.outcomes = scenario.expect.outcomes.clone();
    file.name = scenario.name.clone();
    sim::shrink::render(&file, scenario, faults, seed, note)
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The columns of the CSV export (the JSON export, `sim::report::row_json`, has these and
/// `emit_time_ms`). `emit_time_ns` is when the row became visible to readers.
pub const COLUMNS: [&str; 8] =
    ["sink", "key", "window_start_ms", "window_end_ms", "timestamp_ms", "value", "firing", "emit_time_ns"];

/// One output row, in [`COLUMNS`] order.
fn fields(scenario: &Scenario, row: &StoredRow) -> [String; 8] {
    let opt = |v: Option<i64>| v.map_or_else(String::new, |v| v.to_string());
    [
        scenario.plan.operators.get(row.sink).map_or_else(String::new, |o| o.name.clone()),
        scenario.key_name(row.row.key),
        opt(row.row.window.map(|w| w.start_ms)),
        opt(row.row.window.map(|w| w.end_ms)),
        row.row.timestamp_ms.to_string(),
        row.row.value.to_string(),
        row.row.firing.label().to_string(),
        row.visible_ns.unwrap_or(row.written_ns).to_string(),
    ]
}

/// The visible sink output as CSV, a header then one line per row in the order they became visible.
pub fn sink_csv(scenario: &Scenario, rows: &[&StoredRow]) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for row in rows {
        let line: Vec<String> = fields(scenario, row).iter().map(|v| csv_field(v)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// The visible sink output as a JSON array of objects (numbers as numbers, absent windows null).
pub fn sink_json(scenario: &Scenario, rows: &[&StoredRow]) -> String {
    let values: Vec<serde_json::Value> = rows.iter().map(|row| sim::report::row_json(scenario, row)).collect();
    serde_json::to_string_pretty(&values).unwrap_or_else(|_| "[]".to_string())
}

fn policy(replace: bool) -> Overwrite {
    if replace {
        Overwrite::Replace
    } else {
        Overwrite::Refuse
    }
}

/// Write `text` to `path` atomically (the folder is created); what was written, in words.
pub fn write(path: &Path, text: &str, replace: bool) -> Result<String, WriteError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| WriteError::create_folder(dir, e))?;
    }
    atomic_write::write_bytes(path, text.as_bytes(), policy(replace)).map_err(|e| WriteError::write(path, e))?;
    Ok(format!("wrote {}", path.display()))
}

/// Write the run's trace for Perfetto (Chrome trace format) to `path`.
pub fn write_trace(
    scenario: &Scenario,
    trace: &[sim::recording::TraceEvent],
    path: &Path,
    replace: bool,
) -> Result<String, WriteError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| WriteError::create_folder(dir, e))?;
    }
    // The trace writer replaces a regular file; ask first whether one may be.
    atomic_write::check_target(path, policy(replace)).map_err(|e| WriteError::write(path, e))?;
    sim::export::write_trace_file(scenario, trace, path).map_err(|e| WriteError::write(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn stems_keep_only_safe_characters() {
        assert_eq!(file_stem("crash tm-1 at 4.2 s, then…"), "crash-tm-1-at-4-2-s-then");
        assert_eq!(file_stem("///"), "run");
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }

    /// The core promise: a run with clicked faults under another guarantee and sink, saved as a
    /// file, reloads to the same trace.
    #[test]
    fn a_saved_fork_reloads_to_the_same_trace() {
        let base = Scenario::default_scenario();
        let scenario = Arc::new(base.with_variant(Guarantee::AtLeastOnce, Some(SinkKind::Idempotent)));
        let mut run = crate::scrub::RecordedRun::record(scenario.clone(), 11);
        let fork = run.fork(0, run.end_ns / 2 + 1_234, "crash".into(), |t| Fault::Crash {
            node: sim::scenario::NodeId::task_manager(0),
            at: sim::faults::Trigger::At(t),
            restart_after_ns: Some(800_000_000),
        });
        let text =
            scenario_text(&base.raw, &scenario, Some(SinkKind::Idempotent), &fork.final_world.faults, 11, "test");
        let reloaded = Arc::new(Scenario::parse(&text, "saved.ron").expect("the saved file parses"));
        assert_eq!(reloaded.guarantee, Guarantee::AtLeastOnce);
        assert_eq!(reloaded.seed, Some(11));
        let mut world = sim::World::new(reloaded, 11, sim::RunOptions::default());
        world.run();
        assert_eq!(world.recorder.hash(), fork.final_world.recorder.hash());
        // Its sink output, both ways.
        let rows = fork.final_world.sink_store.visible();
        let csv = sink_csv(&fork.scenario, &rows);
        assert_eq!(csv.lines().count(), rows.len() + 1);
        assert!(csv.starts_with("sink,key,window_start_ms,window_end_ms,timestamp_ms,value,firing,emit_time_ns\n"));
        let json: serde_json::Value = serde_json::from_str(&sink_json(&fork.scenario, &rows)).expect("valid JSON");
        assert_eq!(json.as_array().map(Vec::len), Some(rows.len()));
    }

    /// A run whose faults were drawn from the seed (a swarm), saved as a file: the file spells
    /// out the drawn schedule and reloads to the same trace, for every seed tried.
    #[test]
    fn a_saved_swarm_run_reloads_to_the_same_trace() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/swarm.ron");
        let scenario = Arc::new(Scenario::load(Path::new(path)).expect("shipped scenario loads"));
        assert!(scenario.swarm.is_some());
        for seed in 1..=4 {
            let run = crate::scrub::RecordedRun::record(scenario.clone(), seed);
            let faults = &run.final_world.faults;
            assert!(faults.len() >= 5, "the swarm's faults are the run's: {faults:?}");
            let text = scenario_text(&scenario.raw, &scenario, None, faults, seed, "test");
            assert!(!text.contains("swarm: Some"), "the drawn schedule replaces the swarm");
            let reloaded = Arc::new(Scenario::parse(&text, "saved.ron").expect("the saved file parses"));
            assert_eq!(&reloaded.faults_for_seed(seed), faults, "seed {seed}: the same schedule");
            let mut world = sim::World::new(reloaded, seed, sim::RunOptions::default());
            world.run();
            assert_eq!(world.recorder.hash(), run.final_world.recorder.hash(), "seed {seed}");
        }
    }

    /// The same schedule under another guarantee: the file's protocol-point crash resolved to
    /// the nanosecond it fired at. Saved, it keeps that nanosecond (`AtNs`) and reloads to the
    /// same trace.
    #[test]
    fn a_resolved_crash_between_two_milliseconds_is_saved_exactly() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/crash-during-checkpoint.ron");
        let base = Arc::new(Scenario::load(Path::new(path)).expect("shipped scenario loads"));
        let faults = sim::run::fault_schedule_in_time(&base, 42);
        let between =
            |f: &Fault| matches!(f, Fault::Crash { at: sim::faults::Trigger::At(t), .. } if t % 1_000_000 != 0);
        assert!(faults.iter().any(between), "the aligning crash fired between two milliseconds: {faults:?}");
        let scenario = Arc::new(base.with_variant(Guarantee::AtLeastOnce, None));
        let run = crate::scrub::RecordedRun::record_with_faults(scenario.clone(), 42, faults.clone(), "ALO".into());
        let text = scenario_text(&base.raw, &scenario, None, &run.final_world.faults, 42, "test");
        assert!(text.contains("AtNs("), "{text}");
        let reloaded = Arc::new(Scenario::parse(&text, "saved.ron").expect("the saved file parses"));
        assert_eq!(reloaded.faults_for_seed(42), faults);
        let mut world = sim::World::new(reloaded, 42, sim::RunOptions::default());
        world.run();
        assert_eq!(world.recorder.hash(), run.final_world.recorder.hash());
    }

    /// A Storm run saved under each guarantee the model offers (acking off, acking, Trident)
    /// spells that guarantee out as the topology's acker and Trident settings and reloads to the
    /// same trace.
    #[test]
    fn a_saved_storm_run_reloads_under_its_guarantee() {
        use crate::shown_run::ShownRun;
        use crate::view::storm::{StormOrigin, StormSession};
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/storm-word-count.ron");
        let base = Arc::new(Scenario::load(&path).expect("shipped scenario loads"));
        let source = crate::app::ScenarioSource::File(path.clone());
        for choice in sim::runtime::model(base.runtime()).guarantees(&base) {
            let origin = StormOrigin::new(base.clone(), source.clone(), Some(choice.guarantee));
            let session = StormSession::record(origin, 5);
            let text = session.scenario_file_text();
            let reloaded = Arc::new(Scenario::parse(&text, "saved.ron").expect("the saved file parses"));
            assert_eq!(reloaded.guarantee, choice.guarantee, "{}", choice.label);
            assert_eq!(reloaded.seed, Some(5));
            let run = sim::storm::run_storm(reloaded, 5, false);
            assert_eq!(run.trace_hash(), session.run.trace_hash(), "{}", choice.label);
        }
    }

    #[test]
    fn an_existing_file_is_replaced_only_when_asked() {
        let dir = std::env::temp_dir().join(format!("streamlab-save-test-{}", std::process::id()));
        let path = dir.join("x.ron");
        write(&path, "one", false).expect("a new file");
        let refused = write(&path, "two", false).expect_err("already there");
        assert!(refused.is_refused(), "{refused:?}");
        assert!(refused.to_string().contains("Replace existing files"), "{refused}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one");
        write(&path, "two", true).expect("replaced when asked");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
