//! streamlab against outputs recorded from real Apache Flink 2.3.0.
//!
//! `tests/realflink/` runs random window workloads through real Flink (a Java DataStream job on
//! a local mini-cluster) and through streamlab, and compares; it needs Flink's 300 MB of jars, so
//! it is not part of `cargo test`. Its `--record` option keeps 74 of those cases here (64 as
//! drawn, 6 long session cases that catch a wrong end-of-window timer after a merge, 4 cases with
//! idle partitions, seed 106 of `--idle`, in which the idle timeout changes the rows),
//! in `tests/realflink/recorded/*.ron`: each is the streamlab scenario of one case, with the rows
//! real Flink printed for it in `// flink:` comment lines. This test runs every file and checks
//! streamlab's rows against Flink's, as the harness does (see its README.md):
//!
//! - the same rows as a multiset: window results (key, window, value, on-time or late firing,
//!   the result record's timestamp) and records dropped as late (per side output: key, event
//!   time, value);
//! - per key, the results in the same order, and the late records in the same order (one key's
//!   rows come from one subtask, in order; rows of different subtasks, and results and late
//!   records, reach the sink by different channels and interleave differently).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sim::run::DEFAULT_SEED;
use sim::{RunOptions, Scenario, StopReason};

/// One output row, as the Java job prints it without the case id: `row KEY START END VALUE
/// FIRING TIMESTAMP` or `lateN KEY TS VALUE`.
type Row = Vec<String>;

fn recorded_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/realflink/recorded");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    files
}

fn flink_rows(text: &str) -> Vec<Row> {
    text.lines()
        .filter_map(|line| line.strip_prefix("// flink: "))
        .map(|line| line.split_whitespace().map(str::to_string).collect())
        .collect()
}

/// streamlab's rows of the run, in the Java job's shape (its `run --format json` fields).
fn streamlab_rows(scenario: Scenario) -> Vec<Row> {
    let scenario = Arc::new(scenario);
    let result = sim::run_scenario(Arc::clone(&scenario), scenario.seed.unwrap_or(DEFAULT_SEED), RunOptions::default());
    assert_eq!(result.stop, StopReason::JobFinished);
    result
        .visible_rows()
        .into_iter()
        .map(|row| {
            let json = sim::report::row_json(&scenario, row);
            let field = |name: &str| match &json[name] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let sink = field("sink");
            if sink == "out" {
                let mut r = vec!["row".to_string(), field("key")];
                r.extend(["window_start_ms", "window_end_ms", "value", "firing", "timestamp_ms"].map(field));
                r
            } else {
                assert!(sink.starts_with("late"), "a row of an unexpected sink: {json}");
                vec![sink, field("key"), field("timestamp_ms"), field("value")]
            }
        })
        .collect()
}

/// Rows per (key, row kind), in order.
fn per_key(rows: &[Row]) -> BTreeMap<(String, String), Vec<Row>> {
    let mut seqs: BTreeMap<(String, String), Vec<Row>> = BTreeMap::new();
    for r in rows {
        seqs.entry((r[1].clone(), r[0].clone())).or_default().push(r.clone());
    }
    seqs
}

/// What differs between the two, in words; empty when they agree.
fn differences(flink: &[Row], streamlab: &[Row]) -> Vec<String> {
    let (mut f, mut s) = (flink.to_vec(), streamlab.to_vec());
    f.sort();
    s.sort();
    if f != s {
        let only = |a: &[Row], b: &[Row]| {
            let mut rest = b.to_vec();
            a.iter()
                .filter(|r| match rest.iter().position(|x| x == *r) {
                    Some(i) => {
                        rest.remove(i);
                        false
                    }
                    None => true,
                })
                .map(|r| r.join(" "))
                .collect::<Vec<_>>()
        };
        return vec![format!("only in Flink: {:?}; only in streamlab: {:?}", only(&f, &s), only(&s, &f))];
    }
    let (fk, sk) = (per_key(flink), per_key(streamlab));
    fk.iter()
        .filter(|(k, rows)| sk.get(*k) != Some(*rows))
        .map(|(k, rows)| format!("key {} ({}): Flink's order {:?}, streamlab's {:?}", k.0, k.1, rows, sk.get(k)))
        .collect()
}

#[test]
fn streamlab_gives_the_rows_real_flink_gave() {
    let files = recorded_files();
    // The recorded set: plain, chained windows, shared and separate source subtasks, negative times.
    assert!(files.len() >= 60, "expected the recorded cases, found {} files", files.len());
    let mut failures = Vec::new();
    let mut rows_checked = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let flink = flink_rows(&text);
        let scenario = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
        let streamlab = streamlab_rows(scenario);
        rows_checked += flink.len();
        for d in differences(&flink, &streamlab) {
            failures.push(format!("{}: {d}", path.display()));
        }
    }
    assert!(failures.is_empty(), "streamlab differs from real Flink:\n{}", failures.join("\n"));
    // Every case fires something; together they are hundreds of rows.
    assert!(rows_checked >= 400, "only {rows_checked} recorded rows");
}

#[test]
fn a_changed_row_is_a_difference() {
    // The comparison itself: one value off, a firing relabelled, two results of a key swapped.
    let row = |s: &str| -> Row { s.split_whitespace().map(str::to_string).collect() };
    let flink = vec![row("row k0 0 10 5 on-time 9"), row("row k0 10 20 7 on-time 19"), row("late1 k0 3 1")];
    assert!(differences(&flink, &flink).is_empty());
    let mut off = flink.clone();
    off[0][4] = "6".into();
    assert_eq!(differences(&flink, &off).len(), 1);
    let mut relabelled = flink.clone();
    relabelled[1][5] = "late".into();
    assert_eq!(differences(&flink, &relabelled).len(), 1);
    let swapped = vec![flink[1].clone(), flink[0].clone(), flink[2].clone()];
    assert_eq!(differences(&flink, &swapped).len(), 1);
    // Results and late records of a key may interleave differently: no difference.
    let interleaved = vec![flink[2].clone(), flink[0].clone(), flink[1].clone()];
    assert!(differences(&flink, &interleaved).is_empty());
}
