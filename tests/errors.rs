//! Malformed scenarios are reported once, precisely: file, line, column and the field at fault.
//! And the binary's edges: exit codes, `--check-determinism`, `--format json`, and what it says
//! when there is no display.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sim::{Scenario, ScenarioError};

const FILE: &str = "broken.ron";

/// A valid scenario; each test breaks one thing in it.
const VALID: &str = r#"Scenario(
    name: "errors test",
    source: Events([(key: "a", value: 1, ts: 5, arrives: 10)]),
    pipeline: [
        Source(name: "in"),
        KeyBy(Key),
        Window(name: "w", kind: Tumbling(size_ms: 10), aggregate: Sum),
        Sink(name: "out"),
    ],
)"#;

/// 1-based (line, column) of the first occurrence of `needle` in `text`.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    let offset = text.find(needle).unwrap_or_else(|| panic!("`{needle}` not in the scenario text"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = offset - before.rfind('\n').map_or(0, |n| n + 1) + 1;
    (line, column)
}

/// Parse `text`, expect `Invalid`, and check it names `field` and points into the first
/// occurrence of `token` (the offending text): same line, a column within the token.
fn check_invalid(text: &str, field: &str, token: &str, message_contains: &str) {
    let error = Scenario::parse(text, FILE).expect_err("the scenario is broken");
    let ScenarioError::Invalid { file, line, column, field: got_field, message } = &error else {
        panic!("expected ScenarioError::Invalid, got {error:?}");
    };
    assert_eq!(file, FILE, "{error}");
    assert_eq!(got_field, field, "{error}");
    assert!(message.contains(message_contains), "message should mention `{message_contains}`: {error}");
    let (want_line, want_column) = position_of(text, token);
    assert_eq!(*line, want_line, "line of `{token}`: {error}");
    assert!(
        (want_column..want_column + token.len()).contains(column),
        "column {column} should point into `{token}` (columns {want_column}..{}): {error}",
        want_column + token.len() - 1
    );
    // The one-line form that the CLI prints starts with file:line:column: field.
    assert!(error.to_string().starts_with(&format!("{FILE}:{line}:{column}: {field}: ")), "{error}");
}

#[test]
fn the_base_scenario_is_valid() {
    Scenario::parse(VALID, FILE).expect("valid");
}

#[test]
fn implicit_some_accepts_a_bare_value_for_an_optional_field() {
    let text = VALID.replace(r#"Source(name: "in")"#, r#"Source(name: "in", cost_us: 40)"#);
    let scenario = Scenario::parse(&text, FILE).expect("cost_us: 40 means Some(40)");
    assert_eq!(scenario.record_cost_ns[0], 40_000);
}

#[test]
fn unknown_top_level_field_is_named_with_its_position() {
    let text = VALID.replace("    name: \"errors test\",", "    name: \"errors test\",\n    colour: 3,");
    check_invalid(&text, "colour", "colour", "colour");
}

#[test]
fn misspelt_operator_field_is_named_with_its_path() {
    let text = VALID.replace(r#"Source(name: "in")"#, r#"Source(name: "in", paralelism: 2)"#);
    check_invalid(&text, "pipeline[0].Source.paralelism", "paralelism", "paralelism");
}

#[test]
fn wrong_type_names_the_field_and_points_at_the_value() {
    let text = VALID.replace("    name: \"errors test\",", "    name: \"errors test\",\n    duration_ms: \"long\",");
    check_invalid(&text, "duration_ms", "\"long\"", "integer");
}

#[test]
fn wrong_type_inside_a_window_names_the_nested_field() {
    let text = VALID.replace("size_ms: 10", "size_ms: \"ten\"");
    check_invalid(&text, "pipeline[2].Window.kind.Tumbling.size_ms", "\"ten\"", "integer");
}

/// Syntax errors name the innermost field their position falls in: serde's own path stops at the
/// struct around it, or at the top level.
#[test]
fn a_syntax_error_names_the_field_it_is_in() {
    let junk = VALID.replace("size_ms: 10", "size_ms: 10 x");
    check_invalid(&junk, "pipeline[2].Window.kind.Tumbling.size_ms", "x)", "Expected comma");
    let duplicate = VALID.replace("    name: \"errors test\",", "    name: \"errors test\",\n    name: \"again\",");
    check_invalid(&duplicate, "name", "name: \"again\"", "duplicate field");
    let unit_with_parentheses =
        VALID.replace("    name: \"errors test\",", "    name: \"errors test\",\n    model: Flink(()),");
    check_invalid(&unit_with_parentheses, "model", "(())", "Expected comma");
    let float_for_an_integer = VALID.replace("value: 1,", "value: 1.5,");
    check_invalid(&float_for_an_integer, "source.Events[0].value", ".5", "Expected comma");
}

/// Names are printed on every row and event about them: a name of a megabyte made a Storm
/// run's table of rows need gigabytes (found by `tests/scenario_mutations.rs`). At most 200
/// characters, for operators, sinks and explicit keys alike.
#[test]
fn a_name_longer_than_200_characters_is_refused_where_it_is_written() {
    let at_limit = VALID.replace(r#"Sink(name: "out")"#, &format!(r#"Sink(name: "{}")"#, "界".repeat(200)));
    Scenario::parse(&at_limit, FILE).expect("200 characters are a name");
    let sink = VALID.replace(r#"Sink(name: "out")"#, &format!(r#"Sink(name: "{}")"#, "界".repeat(1 << 20)));
    check_invalid(&sink, "pipeline[3].Sink.name", "\"界", "names are at most 200");
    let key = VALID.replace(r#"key: "a""#, &format!(r#"key: "{}""#, "k".repeat(201)));
    check_invalid(&key, "source.Events[0].key", "\"kkk", "a name of 201 characters");
}

#[test]
fn unknown_enum_variant_lists_the_known_ones() {
    let text = VALID.replace("aggregate: Sum", "aggregate: Median");
    check_invalid(&text, "pipeline[2].Window.aggregate", "Median", "AvgMilli");
}

/// A number too large (or negative) for its field's type is refused by the parser itself; the
/// message is the same as for a number within the type but beyond the field's limit: the field,
/// its position and the allowed range (it used to say only "Integer is out of bounds").
#[test]
fn an_integer_beyond_its_fields_type_names_the_allowed_range() {
    let with_cluster = |cluster: &str| {
        VALID.replace("    name: \"errors test\",", &format!("    name: \"errors test\",\n    {cluster},"))
    };
    let cases = [
        // (replacement text, field, the offending token, the allowed range)
        (
            with_cluster("cluster: (task_managers: 4294967296)"),
            "cluster.task_managers",
            "4294967296",
            "a number of task managers of 4294967296 is outside the allowed 0 ..= 1000",
        ),
        (
            with_cluster("cluster: (slots_per_task_manager: -1)"),
            "cluster.slots_per_task_manager",
            "-1",
            "of -1 is outside the allowed 0 ..= 1000",
        ),
        (
            with_cluster("duration_ms: 18446744073709551616"),
            "duration_ms",
            "18446744073709551616",
            "outside the allowed 0 ..= 100000000000",
        ),
        (
            with_cluster("swarm: (partitions: 0x1_0000_0000)"),
            "swarm.partitions",
            "0x1_0000_0000",
            "a number of faults of 0x1_0000_0000 is outside the allowed 0 ..= 10000",
        ),
        (
            with_cluster("network: (channel_capacity: 4294967296)"),
            "network.channel_capacity",
            "4294967296",
            "4294967296 is outside the allowed 0 ..= 4294967295",
        ),
        (
            VALID.replace("Sum)", "Sum, parallelism: 99999999999)"),
            "pipeline[2].Window.parallelism",
            "99999999999",
            "a parallelism of 99999999999 is outside the allowed 0 ..= 1000",
        ),
        (
            VALID.replace("ts: 5", "ts: -99999999999999999999"),
            "source.Events[0].ts",
            "-99999999999999999999",
            "an event time of -99999999999999999999 is outside the allowed -9007199254740992 ..= 9007199254740992",
        ),
    ];
    for (text, field, token, range) in &cases {
        check_invalid(text, field, token, range);
    }
}

#[test]
fn bad_clock_string_is_rejected_with_the_expected_format() {
    let text = VALID.replace("ts: 5", "ts: \"12:61:00\"");
    check_invalid(&text, "source.Events[0].ts", "\"12:61:00\"", "hh:mm:ss");
}

#[test]
fn parallelism_beyond_the_cluster_slots_names_the_cluster() {
    let text = VALID
        .replace(
            "    name: \"errors test\",",
            "    name: \"errors test\",\n    cluster: (task_managers: 1, slots_per_task_manager: 1),",
        )
        .replace("aggregate: Sum)", "aggregate: Sum, parallelism: 2)");
    check_invalid(&text, "cluster", "(task_managers", "parallelism 2 needs 2 slots");
}

#[test]
fn parallelism_beyond_the_default_cluster_points_at_the_operator() {
    // No `cluster` block: the default 2 task managers x 4 slots. The error cannot point at a
    // `cluster` that is not in the file; it must point at the operator asking for 9 slots.
    let text = VALID.replace("aggregate: Sum)", "aggregate: Sum, parallelism: 9)");
    let error = Scenario::parse(&text, FILE).expect_err("9 > 8 slots");
    let ScenarioError::Invalid { line, .. } = error else {
        panic!("expected Invalid, got {error:?}");
    };
    assert_eq!(line, position_of(&text, "parallelism: 9").0, "the error should point at the window's line: {error}");
}

#[test]
fn window_without_key_by_asks_for_one() {
    let text = VALID.replace("        KeyBy(Key),\n", "");
    check_invalid(&text, "pipeline[1].Window", "Window(name: \"w\"", "KeyBy");
}

#[test]
fn forward_edge_with_unequal_parallelism_is_rejected() {
    let text = r#"Scenario(
    name: "forward",
    source: Events([(key: "a", value: 1, ts: 5, arrives: 10)]),
    pipeline: [
        Source(name: "in", parallelism: 2),
        Forward,
        Sink(name: "out"),
    ],
)"#;
    check_invalid(text, "pipeline[2].Sink", "Sink(name: \"out\")", "needs equal parallelism (2 vs 1)");
}

// ---- the binary --------------------------------------------------------------------------------

fn streamlab() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_streamlab"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

fn shipped(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(file)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(output: &Output) -> String {
    format!("status {:?}\n--- stdout\n{}\n--- stderr\n{}", output.status, text(&output.stdout), text(&output.stderr))
}

/// A fresh directory under the system temp dir, unique to this process and `name`.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("streamlab-errors-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

#[test]
fn cli_exits_2_and_prints_file_line_column_and_field_for_a_broken_scenario() {
    let dir = temp_dir("broken");
    let path = dir.join("broken.ron");
    let broken = VALID.replace("aggregate: Sum", "aggregate: Median");
    std::fs::write(&path, &broken).expect("write broken scenario");
    let output = streamlab().arg("run").arg(&path).output().expect("run streamlab");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = text(&output.stderr);
    let (line, column) = position_of(&broken, "Median");
    let location = format!("{}:{line}:{column}", path.display());
    assert!(stderr.contains(&location), "wanted `{location}`\n{}", describe(&output));
    assert!(stderr.contains("pipeline[2].Window.aggregate"), "{}", describe(&output));
    assert!(!stderr.contains("panicked"), "{}", describe(&output));
}

#[test]
fn cli_exits_nonzero_for_a_missing_file_without_panicking() {
    let output = streamlab().args(["run", "scenarios/does-not-exist.ron"]).output().expect("run streamlab");
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("does-not-exist.ron"), "{}", describe(&output));
    assert!(!stderr.contains("panicked"), "{}", describe(&output));
}

#[test]
fn cli_check_determinism_passes_on_a_shipped_scenario() {
    let output = streamlab()
        .arg("run")
        .arg(shipped("streaming-systems-heuristic.ron"))
        .arg("--check-determinism")
        .output()
        .expect("run streamlab");
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(text(&output.stderr).contains("deterministic: two runs with seed 42"), "{}", describe(&output));
}

#[test]
fn cli_json_format_prints_one_object_per_row() {
    let output = streamlab()
        .arg("run")
        .arg(shipped("streaming-systems-perfect.ron"))
        .args(["--format", "json"])
        .output()
        .expect("run streamlab");
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let stdout = text(&output.stdout);
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    assert_eq!(rows.len(), 4, "{}", describe(&output));
    for row in &rows {
        let object = row.as_object().expect("each line is a JSON object");
        for key in ["sink", "key", "window_start_ms", "window_end_ms", "value", "firing", "emit_time_ms"] {
            assert!(object.contains_key(key), "missing `{key}` in {row}");
        }
        assert_eq!(row["sink"], "out");
        assert_eq!(row["key"], "team");
        assert_eq!(row["firing"], "on-time");
    }
    let values: Vec<i64> = rows.iter().map(|r| r["value"].as_i64().expect("value")).collect();
    assert_eq!(values, [14, 18, 4, 12]);
    // 12:00:00 is 43 200 000 ms after midnight; windows are two minutes long.
    assert_eq!(rows[0]["window_start_ms"], 43_200_000);
    assert_eq!(rows[0]["window_end_ms"], 43_320_000);
}

#[test]
fn cli_does_not_panic_when_stdout_is_closed_early() {
    // `streamlab run … | head -1`: the reader goes away after one line. The output of this
    // scenario (thousands of rows) is far larger than a pipe buffer, so later writes must fail
    // with a broken pipe; the binary should stop quietly, not panic.
    let mut child = streamlab()
        .arg("run")
        .arg(shipped("cluster-union.ron"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run streamlab");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut first_line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut first_line).expect("read the first line");
    // The reader (and with it the pipe's read end) is dropped here.
    assert_eq!(first_line.trim_end(), "SEED=42");
    let output = child.wait_with_output().expect("wait for streamlab");
    assert!(!text(&output.stderr).contains("panicked"), "{}", describe(&output));
}

#[test]
fn cli_without_arguments_and_without_a_display_names_the_headless_run_command() {
    let output = streamlab().env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY").output().expect("run streamlab");
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(stderr.contains("no display"), "{}", describe(&output));
    assert!(stderr.contains(" run "), "{}", describe(&output));
    assert!(!stderr.contains("panicked"), "{}", describe(&output));
}

#[test]
fn a_generator_that_would_exceed_the_event_limit_is_refused() {
    let text = VALID.replace(
        r#"source: Events([(key: "a", value: 1, ts: 5, arrives: 10)]),"#,
        "duration_ms: 600_000,\n    source: Generator((rate_per_s: 1_000_000)),",
    );
    check_invalid(&text, "source.Generator.rate_per_s", "1_000_000", "the limit is 100000000");
    // Under that absolute limit but over the admission budget: refused at the same field, with
    // the estimate; loaded with the budget off.
    let text = VALID.replace(
        r#"source: Events([(key: "a", value: 1, ts: 5, arrives: 10)]),"#,
        "duration_ms: 60_000,\n    source: Generator((rate_per_s: 1_000_000)),",
    );
    check_invalid(&text, "source.Generator.rate_per_s", "1_000_000", "the budget is 1024 MiB and 30 s");
    Scenario::parse_with(&text, FILE, sim::scenario::Budget::Off).expect("--no-budget loads it");
}

#[test]
fn sliding_windows_with_too_many_windows_per_record_are_refused() {
    let text = VALID.replace("Tumbling(size_ms: 10)", "Sliding(size_ms: 10_000_000, slide_ms: 1)");
    check_invalid(&text, "pipeline[2].Window.kind", "Sliding(", "at most 1000 sliding windows");
}

#[test]
fn absurd_times_are_refused_before_they_overflow_anything() {
    let text = VALID.replace(
        "    name: \"errors test\",",
        "    name: \"errors test\",\n    checkpoints: (interval_ms: 18446744073709551615),",
    );
    check_invalid(&text, "checkpoints.interval_ms", "18446744073709551615", "outside the allowed 0 ..= 100000000000");
}

/// The aligned-checkpoint timeout only makes sense for unaligned checkpoints, and below the
/// checkpoint's own timeout.
#[test]
fn an_aligned_checkpoint_timeout_without_unaligned_checkpoints_is_refused() {
    let with = |checkpoints: &str| {
        VALID.replace(
            "    name: \"errors test\",",
            &format!("    name: \"errors test\",\n    checkpoints: {checkpoints},"),
        )
    };
    let text = with("(interval_ms: 1_000, aligned_checkpoint_timeout_ms: 30)");
    check_invalid(&text, "checkpoints.aligned_checkpoint_timeout_ms", "30", "needs `unaligned: true`");
    let text = with("(interval_ms: 1_000, mode: AtLeastOnce, aligned_checkpoint_timeout_ms: 30)");
    check_invalid(&text, "checkpoints.aligned_checkpoint_timeout_ms", "30", "needs `unaligned: true`");
    let text = with("(interval_ms: 1_000, timeout_ms: 2_000, unaligned: true, aligned_checkpoint_timeout_ms: 2_500)");
    check_invalid(&text, "checkpoints.aligned_checkpoint_timeout_ms", "2_500", "choose less than timeout_ms");
    let text = with("(interval_ms: 1_000, unaligned: true, aligned_checkpoint_timeout_ms: 30)");
    let scenario = Scenario::parse(&text, FILE).expect("valid");
    assert_eq!(scenario.checkpoint_config().and_then(|c| c.aligned_timeout_ns), Some(30_000_000));
    let text = with("(interval_ms: 1_000, unaligned: true, aligned_checkpoint_timeout_ms: 0)");
    let scenario = Scenario::parse(&text, FILE).expect("0: always unaligned, as in Flink");
    assert_eq!(scenario.checkpoint_config().and_then(|c| c.aligned_timeout_ns), None);
}

/// `mode: ChandyLamport` is exactly-once by markers: it cannot be unaligned too, has no alignment
/// to time out, and a misspelt mode names the modes there are.
#[test]
fn chandy_lamport_markers_refuse_the_settings_that_cannot_apply() {
    let with = |checkpoints: &str| {
        VALID.replace(
            "    name: \"errors test\",",
            &format!("    name: \"errors test\",\n    checkpoints: {checkpoints},"),
        )
    };
    let scenario = Scenario::parse(&with("(interval_ms: 1_000, mode: ChandyLamport)"), FILE).expect("valid");
    assert_eq!(scenario.guarantee, sim::scenario::Guarantee::ExactlyOnce);
    assert_eq!(scenario.checkpoint_config().map(|c| c.mode), Some(engine::checkpoint::CheckpointMode::ChandyLamport));
    let text = with("(interval_ms: 1_000, mode: ChandyLamport, unaligned: true)");
    check_invalid(&text, "checkpoints.unaligned", "true", "never overtake data");
    let text = with("(interval_ms: 1_000, mode: ChandyLamport, aligned_checkpoint_timeout_ms: 30)");
    check_invalid(&text, "checkpoints.aligned_checkpoint_timeout_ms", "30", "no alignment to time out");
    let error = Scenario::parse(&with("(interval_ms: 1_000, mode: ChandyLamprot)"), FILE).expect_err("a typo");
    assert!(error.to_string().contains("ChandyLamport"), "{error}");
}

// ---- machine-readable output and exit codes (issue 8, items 10 and 11) --------------------

/// Write `text` as a scenario file in a fresh directory and return its path.
fn scenario_file(name: &str, text: &str) -> PathBuf {
    let path = temp_dir(name).join(format!("{name}.ron"));
    std::fs::write(&path, text).expect("write scenario");
    path
}

#[test]
fn help_lists_the_exit_codes() {
    let output = streamlab().arg("--help").output().expect("run streamlab");
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", describe(&output));
    for line in ["Exit codes", "  0  ", "  1  ", "  2  ", "  3  ", "  4  ", "  5  "] {
        assert!(stdout.contains(line), "`{line}` missing from --help:\n{stdout}");
    }
}

#[test]
fn compare_json_prints_only_json_on_stdout() {
    let output = streamlab()
        .args(["compare", "--json"])
        .arg(shipped("crash-before-commit.ron"))
        .output()
        .expect("run streamlab");
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let stdout = text(&output.stdout);
    let reports: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{stdout}"));
    let reports = reports.as_array().expect("an array of variant reports");
    assert!(reports.len() >= 5, "{stdout}");
    for r in reports {
        for key in ["guarantee", "sink", "class", "verdict", "outcome", "faults_not_injected", "stop"] {
            assert!(r.get(key).is_some(), "missing `{key}` in {r}");
        }
    }
    // The header and the summary line went to stderr.
    assert!(text(&output.stderr).contains("SEED=42"), "{}", describe(&output));
}

#[test]
fn sweep_json_prints_one_object_per_seed_and_variant_with_swarm_in_its_commands() {
    let output = streamlab()
        .args(["sweep", "--json", "--swarm", "--seeds", "1..4"])
        .arg(shipped("forward-only.ron"))
        .output()
        .expect("run streamlab");
    let stdout = text(&output.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let seeds: Vec<u64> = lines.iter().map(|l| l["seed"].as_u64().expect("seed")).collect();
    assert_eq!(seeds.first(), Some(&1), "{stdout}");
    assert_eq!(seeds.last(), Some(&3), "{stdout}");
    for l in &lines {
        for key in ["variant", "verdict", "counts", "replay", "shrink", "failures"] {
            assert!(l.get(key).is_some(), "missing `{key}` in {l}");
        }
        let replay = l["replay"].as_str().expect("replay command");
        assert!(replay.ends_with("--swarm") && replay.contains("compare"), "{replay}");
        assert!(l["shrink"].as_str().expect("shrink command").ends_with("--swarm"));
    }
    let all_pass = lines.iter().all(|l| l["seed_passes"] == true);
    assert_eq!(output.status.code(), Some(if all_pass { 0 } else { 1 }), "{}", describe(&output));
}

#[test]
fn run_exits_1_when_the_promised_guarantee_fails() {
    // Exactly-once state with a plain sink: the crash makes a window visible twice.
    let output = streamlab()
        .args(["run", "tests/regressions/exactly-once-plain-sink-seed-11.ron", "--seed", "11"])
        .output()
        .expect("run streamlab");
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(text(&output.stdout).contains("Duplicates (the exactly-once promise: BROKEN)"), "{}", describe(&output));
    // The same scenario and seed held to a declared outcome of Duplicates passes.
    let declared = std::fs::read_to_string("tests/regressions/exactly-once-plain-sink-seed-11.ron")
        .expect("read")
        .replacen("outcomes: [],", "outcomes: [(guarantee: ExactlyOnce, sink: Plain, result: Duplicates)],", 1);
    let path = scenario_file("declared-duplicates", &declared);
    let output = streamlab().arg("run").arg(&path).args(["--seed", "11"]).output().expect("run streamlab");
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
}

#[test]
fn run_and_replay_exit_3_when_the_job_does_not_finish() {
    let failing = VALID
        .replace(
            r#"source: Events([(key: "a", value: 1, ts: 5, arrives: 10)]),"#,
            "duration_ms: 2_000,\n    source: Generator((rate_per_s: 100)),\n    cluster: (task_managers: 2),",
        )
        .replace(
            "    pipeline: [",
            "    restart: FixedDelay(delay_ms: 100, max_attempts: 0),\n    faults: [Crash(node: \"tm-0\", at: At(500))],\n    pipeline: [",
        );
    let path = scenario_file("job-fails", &failing);
    for command in ["run", "replay"] {
        let output = streamlab().arg(command).arg(&path).output().expect("run streamlab");
        assert_eq!(output.status.code(), Some(3), "{command}: {}", describe(&output));
        assert!(text(&output.stdout).contains("job failed"), "{command}: {}", describe(&output));
    }
}

/// Window state is budgeted: a legal-looking file whose input would put more (record, window)
/// pairs into window state than the admission budget allows is refused at load, at the window
/// that makes them, with the estimate and the budget; the same file with fewer windows per record
/// loads.
#[test]
fn window_state_beyond_the_memory_budget_is_refused() {
    let file = |slide_ms: u64| {
        format!(
            r#"Scenario(
    name: "budget",
    duration_ms: 10_000,
    source: Generator((rate_per_s: 200_000)),
    pipeline: [
        Source(name: "in"),
        KeyBy(Key),
        Window(name: "w", kind: Sliding(size_ms: 60_000, slide_ms: {slide_ms}), aggregate: Count),
        Sink(name: "out"),
    ],
)"#
        )
    };
    // 2 M records x 600 windows each.
    check_invalid(&file(100), "pipeline[2].Window.kind", "Sliding", "the budget is 1024 MiB and 30 s");
    // 2 M records x 4 windows: within the budget.
    Scenario::parse(&file(15_000), FILE).expect("a budget-sized scenario loads");
}

/// `replay --until` pauses a Storm run too: the time, the spout's pending tuples and the
/// counters so far, a trace of what happened up to then; past the end it finishes as usual.
#[test]
fn replay_until_pauses_a_storm_run() {
    let dir = std::env::temp_dir().join(format!("streamlab-storm-until-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let trace = dir.join("until.jsonl");
    let out = streamlab()
        .args(["replay", "scenarios/storm-word-count.ron", "--until", "5000", "--trace"])
        .arg(&trace)
        .output()
        .expect("streamlab runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("== paused ==") && stdout.contains("paused at 4.999 s"), "{stdout}");
    assert!(stdout.contains("pending now [(\"words[0]\""), "{stdout}");
    let lines = std::fs::read_to_string(&trace).expect("trace written");
    let last_ns = lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["time_ns"].as_u64())
        .max()
        .expect("events");
    assert!(last_ns <= 5_000_000_000, "nothing after --until: {last_ns}");
    assert!(lines.contains("\"StormAckerMessage\"") && lines.contains("__acker[0]"), "acker messages named");
    let out =
        streamlab().args(["replay", "scenarios/storm-word-count.ron", "--until", "999999"]).output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("== summary ==") && stdout.contains("topology finished"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `replay --charts` draws a Storm run's charts too (read off its trace): the tuples per second
/// and the pending tuples per spout, as PNG and SVG.
#[test]
fn replay_charts_a_storm_run() {
    let dir = std::env::temp_dir().join(format!("streamlab-storm-charts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = streamlab()
        .args(["replay", "scenarios/storm-word-count.ron", "--charts"])
        .arg(&dir)
        .output()
        .expect("streamlab runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("charts: wrote 4 files"), "{stdout}");
    for file in ["storm-per-second.png", "storm-per-second.svg", "storm-pending.png", "storm-pending.svg"] {
        let bytes = std::fs::metadata(dir.join(file)).map(|m| m.len()).unwrap_or(0);
        assert!(bytes > 1_000, "{file}: {bytes} bytes");
    }
    let svg = std::fs::read_to_string(dir.join("storm-pending.svg")).expect("svg");
    assert!(svg.contains("words[0]"), "the spout's line is named");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `compare --model`: the fault-tolerance model is an axis (sim::runtime). `all` adds Storm rows
/// for a Flink pipeline Storm can run; an unknown model or one that cannot run the pipeline is a
/// usage error (exit 2) saying why.
#[test]
fn compare_takes_the_model_as_an_axis() {
    let lanes = shipped("regional-failover.ron");
    let output = streamlab().args(["compare", lanes.to_str().unwrap(), "--model", "all"]).output().unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let stdout = text(&output.stdout);
    let runtimes: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| ["flink", "storm", "spark"].contains(w))
        .collect();
    assert!(runtimes.contains(&"flink") && runtimes.contains(&"storm") && runtimes.contains(&"spark"), "{stdout}");
    let flink_only = streamlab().args(["compare", lanes.to_str().unwrap(), "--model", "flink"]).output().unwrap();
    assert!(!text(&flink_only.stdout).lines().any(|l| l.starts_with("storm ")), "{}", describe(&flink_only));

    let unknown = streamlab().args(["compare", lanes.to_str().unwrap(), "--model", "kafka"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2), "{}", describe(&unknown));
    assert!(text(&unknown.stderr).contains("unknown model 'kafka'"), "{}", describe(&unknown));
    let sessions = shipped("sessions.ron");
    let no_spark = streamlab().args(["compare", sessions.to_str().unwrap(), "--model", "spark"]).output().unwrap();
    assert_eq!(no_spark.status.code(), Some(2), "{}", describe(&no_spark));
    assert!(text(&no_spark.stderr).contains("session windows are not modelled"), "{}", describe(&no_spark));
    let cannot = shipped("crash-during-checkpoint.ron");
    let refused = streamlab().args(["compare", cannot.to_str().unwrap(), "--model", "storm"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", describe(&refused));
    assert!(text(&refused.stderr).contains("Storm has no checkpoints"), "{}", describe(&refused));
}

/// A setup whose fault-free reference did not finish has no verdict in `compare`'s table: "NO
/// VERDICT" where PASS or FAIL would be, and the reason under its row (it used to say PASS for
/// at-least-once and FAIL for the rest, judged against an incomplete output).
#[test]
fn compare_prints_no_verdict_when_the_reference_did_not_finish() {
    let output = streamlab()
        .args(["compare", "tests/regressions/reference-does-not-finish.ron"])
        .output()
        .expect("run streamlab");
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    let stdout = text(&output.stdout);
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("flink ")).collect();
    assert_eq!(rows.len(), 5, "{stdout}");
    assert!(rows.iter().all(|l| l.trim_end().ends_with("NO VERDICT")), "{stdout}");
    let why = "^ no verdict: the fault-free reference stopped (time limit";
    assert_eq!(stdout.matches(why).count(), rows.len(), "{stdout}");
}
