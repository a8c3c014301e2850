//! Every shipped scenario (`scenarios/*.ron`, discovered at test time, so a new file is covered
//! without touching this test) loads, runs to the end, is deterministic, and meets the
//! expectations it declares in its `expect` block.
//!
//! Each scenario is run once per seed and the results are shared between the tests below through
//! a `OnceLock`, so adding tests does not multiply the running time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use sim::run::DEFAULT_SEED;
use sim::scenario::{ExpectedRow, LogData, TimeMs};
use sim::{RunOptions, Scenario, StopReason};

/// What the tests need from one run (a `RunResult` holds the whole world; this is the summary).
#[derive(Debug)]
struct Outcome {
    trace_hash: u64,
    stop: StopReason,
    rows: Vec<ExpectedRow>,
    late_dropped: u64,
}

struct Checked {
    file: String,
    scenario: Arc<Scenario>,
    seed: u64,
    first: Outcome,
    second: Outcome,
    /// Only for generator-based scenarios: the same scenario with another seed.
    other_seed: Option<(u64, Outcome)>,
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "ron"))
        .collect();
    files.sort();
    files
}

/// The rows a run's sinks made visible, in the form a scenario's `expect` writes them (the same
/// for every model's run).
fn expected_rows(scenario: &Scenario, visible: Vec<&sim::external::StoredRow>) -> Vec<ExpectedRow> {
    visible
        .into_iter()
        .map(|stored| ExpectedRow {
            sink: scenario.plan.operators[stored.sink].name.clone(),
            key: scenario.key_name(stored.row.key),
            window: stored.row.window.map(|w| (TimeMs(w.start_ms), TimeMs(w.end_ms))),
            value: stored.row.value,
            firing: stored.row.firing,
        })
        .collect()
}

fn run(scenario: &Arc<Scenario>, seed: u64) -> Outcome {
    if scenario.runtime() == sim::scenario::Runtime::Storm {
        // A Storm topology runs in the Storm world (`sim::storm`).
        let result = sim::storm::run_storm(scenario.clone(), seed, false);
        return Outcome {
            trace_hash: result.trace_hash(),
            stop: result.stop,
            rows: expected_rows(scenario, result.visible_rows()),
            late_dropped: result.late_dropped(),
        };
    }
    if scenario.runtime() == sim::scenario::Runtime::Spark {
        // A Spark query runs in the Spark world (`sim::spark`).
        let result = sim::spark::run_spark(scenario.clone(), seed, false);
        return Outcome {
            trace_hash: result.trace_hash(),
            stop: result.stop,
            rows: expected_rows(scenario, result.visible_rows()),
            late_dropped: result.world.stats.late_dropped,
        };
    }
    if scenario.runtime() == sim::scenario::Runtime::KafkaStreams {
        // A Kafka Streams application runs in its own world (`sim::kstreams`).
        let result = sim::kstreams::run_kstreams(scenario.clone(), seed, false);
        return Outcome {
            trace_hash: result.trace_hash(),
            stop: result.stop,
            rows: expected_rows(scenario, result.visible_rows()),
            late_dropped: result.world.stats.late_dropped,
        };
    }
    let options = RunOptions { keep_trace: false, ..Default::default() };
    let result = sim::run_scenario(scenario.clone(), seed, options);
    Outcome {
        trace_hash: result.trace_hash(),
        stop: result.stop,
        rows: expected_rows(scenario, result.visible_rows()),
        late_dropped: result.late_dropped(),
    }
}

fn checked() -> &'static [Checked] {
    static CHECKED: OnceLock<Vec<Checked>> = OnceLock::new();
    CHECKED.get_or_init(|| {
        scenario_files()
            .into_iter()
            .map(|path| {
                let file = path.display().to_string();
                let scenario = Arc::new(Scenario::load(&path).unwrap_or_else(|e| panic!("{file} does not load: {e}")));
                let seed = scenario.seed.unwrap_or(DEFAULT_SEED);
                let first = run(&scenario, seed);
                let second = run(&scenario, seed);
                let other_seed = match scenario.log {
                    LogData::Generator(_) => {
                        let other = seed.wrapping_add(1);
                        Some((other, run(&scenario, other)))
                    }
                    LogData::Events(_) => None,
                };
                Checked { file, scenario, seed, first, second, other_seed }
            })
            .collect()
    })
}

/// Group rows by sink, keeping each sink's emission order: the `expect.output` contract is the
/// order per sink, not the interleaving of different sinks.
fn per_sink(rows: &[ExpectedRow]) -> BTreeMap<&str, Vec<&ExpectedRow>> {
    let mut map: BTreeMap<&str, Vec<&ExpectedRow>> = BTreeMap::new();
    for row in rows {
        map.entry(row.sink.as_str()).or_default().push(row);
    }
    map
}

/// Assert over every scenario, reporting every failing file at once.
fn assert_all(what: &str, check: impl Fn(&Checked) -> Option<String>) {
    let failures: Vec<String> =
        checked().iter().filter_map(|c| check(c).map(|why| format!("{} (seed {}): {why}", c.file, c.seed))).collect();
    assert!(failures.is_empty(), "{what}:\n  {}", failures.join("\n  "));
}

#[test]
fn scenario_directory_is_not_empty() {
    let files = scenario_files();
    assert!(files.len() >= 7, "expected the shipped scenarios, found {files:?}");
}

#[test]
fn every_scenario_runs_until_the_job_finishes() {
    assert_all("scenarios that did not finish", |c| {
        (c.first.stop != StopReason::JobFinished).then(|| format!("stopped with {:?}", c.first.stop))
    });
}

#[test]
fn every_scenario_gives_the_same_trace_hash_twice_with_the_same_seed() {
    assert_all("scenarios that are not deterministic", |c| {
        (c.first.trace_hash != c.second.trace_hash || c.first.stop != c.second.stop).then(|| {
            format!(
                "hashes {:#018x} and {:#018x}, stops {:?} and {:?}",
                c.first.trace_hash, c.second.trace_hash, c.first.stop, c.second.stop
            )
        })
    });
}

#[test]
fn every_scenario_gives_the_same_sink_output_twice_with_the_same_seed() {
    assert_all("scenarios whose output differs between two runs", |c| {
        (c.first.rows != c.second.rows).then(|| "visible sink rows differ".to_string())
    });
}

#[test]
fn generator_scenarios_depend_on_the_seed() {
    let generator_scenarios = checked().iter().filter(|c| c.other_seed.is_some()).count();
    assert!(generator_scenarios > 0, "no generator-based scenario was found");
    assert_all("generator scenarios whose trace does not change with the seed", |c| {
        let (other, outcome) = c.other_seed.as_ref()?;
        (outcome.trace_hash == c.first.trace_hash)
            .then(|| format!("seeds {} and {other} both gave trace hash {:#018x}", c.seed, c.first.trace_hash))
    });
}

#[test]
fn every_scenario_produces_the_output_it_expects() {
    assert_all("scenarios whose sink output differs from expect.output", |c| {
        let expected = c.scenario.expect.output.as_ref()?;
        let (want, got) = (per_sink(expected), per_sink(&c.first.rows));
        (want != got).then(|| format!("\n    expected {want:#?}\n    got {got:#?}"))
    });
}

#[test]
fn every_scenario_drops_as_many_late_records_as_it_expects() {
    assert_all("scenarios whose late count differs from expect.late_dropped", |c| {
        let expected = c.scenario.expect.late_dropped?;
        (expected != c.first.late_dropped)
            .then(|| format!("expected {expected} late records dropped, got {}", c.first.late_dropped))
    });
}

#[test]
fn the_textbook_scenarios_declare_what_they_expect() {
    // The Streaming Systems scenarios are the golden examples: they must keep their expect blocks
    // (otherwise the two tests above would pass vacuously for them).
    for c in checked().iter().filter(|c| c.file.contains("streaming-systems")) {
        assert!(c.scenario.expect.output.is_some(), "{} lost its expect.output", c.file);
        assert!(c.scenario.expect.late_dropped.is_some(), "{} lost its expect.late_dropped", c.file);
    }
}

#[test]
fn every_scenario_writes_some_output() {
    assert_all("scenarios with an empty sink output", |c| {
        c.first.rows.is_empty().then(|| "no visible sink rows".to_string())
    });
}

#[test]
fn embedded_default_scenario_is_the_clickstream_file() {
    let embedded = Scenario::default_scenario();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(sim::scenario::DEFAULT_SCENARIO_FILE);
    let text = std::fs::read_to_string(&path).expect("default scenario file exists");
    assert_eq!(sim::scenario::DEFAULT_SCENARIO, text);
    assert_eq!(embedded.name, Scenario::load(&path).expect("loads").name);
}

/// A sink write in the trace says what was written: the key and value of every row the sink's
/// store received, in the Flink world, a Storm sink bolt and a Trident commit alike (the
/// workbench's event log and the trace export print these payloads).
#[test]
fn sink_writes_in_the_trace_name_the_rows_written() {
    use sim::recording::Payload;
    let written_by_trace = |events: &[sim::recording::TraceEvent]| {
        let mut kv: Vec<(u64, i64)> = events
            .iter()
            .filter_map(|e| match e.payload() {
                Payload::SinkAppend { key, value }
                | Payload::SinkUpsert { key, value }
                | Payload::SinkTxnWrite { key, value } => Some((key, value)),
                _ => None,
            })
            .collect();
        kv.sort_unstable();
        kv
    };
    let written_to_store = |rows: &sim::chunked::ChunkedVec<sim::external::StoredRow>| {
        let mut kv: Vec<(u64, i64)> = rows.iter().map(|r| (r.row.key, r.row.value)).collect();
        kv.sort_unstable();
        kv
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["storm-word-count.ron", "storm-trident.ron"] {
        let scenario = Arc::new(Scenario::load(&root.join("scenarios").join(name)).expect("loads"));
        let run = sim::storm::run_storm(scenario, DEFAULT_SEED, true);
        let store = written_to_store(&run.world.sink_store.rows);
        assert!(store.len() > 10, "{name}: rows were written");
        assert_eq!(written_by_trace(run.world.recorder.events()), store, "{name}");
    }
    let scenario = Arc::new(Scenario::load(&root.join("scenarios/crash-during-checkpoint.ron")).expect("loads"));
    let run = sim::run_scenario(scenario, DEFAULT_SEED, RunOptions::default());
    let store = written_to_store(&run.world.sink_store.rows);
    assert!(store.len() > 10, "rows were written");
    assert_eq!(written_by_trace(run.world.recorder.events()), store);
}
