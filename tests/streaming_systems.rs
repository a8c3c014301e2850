//! The running example of Streaming Systems (Akidau, Chernyak, Lax), chapter 2, as
//! book/src/event-time-and-watermarks.md states it. These tests pin the table itself, independently of the `expect` blocks of the
//! shipped files: if a file's data or watermark schedule drifts, or the engine changes what it
//! emits, the numbers from the book stop coming out.
//!
//! | score      | 5     | 7     | 3     | 4     | 8     | 3     | 9     | 8     | 1     |
//! | event time | 00:26 | 02:26 | 03:39 | 04:19 | 03:06 | 06:39 | 01:26 | 07:26 | 07:46 |
//! | arrival    | 04:59 | 05:39 | 06:13 | 06:39 | 07:06 | 07:19 | 08:19 | 08:39 | 09:00 |
//!
//! Sums per 2-minute window [12:00,12:02) [12:02,12:04) [12:04,12:06) [12:06,12:08):
//! batch 14, 18, 4, 12; perfect watermark 14, 18, 4, 12; heuristic watermark 5, 18, 4, 12 with
//! the 9 dropped; heuristic watermark with allowed lateness: a late firing of 14.

use std::path::Path;
use std::sync::Arc;

use engine::Firing;
use sim::recording::Payload;
use sim::run::DEFAULT_SEED;
use sim::scenario::{format_clock, LogData};
use sim::{RunOptions, RunResult, Scenario, StopReason};

/// (score, event time, arrival), as in the book.
const TABLE: [(i64, &str, &str); 9] = [
    (5, "12:00:26", "12:04:59"),
    (7, "12:02:26", "12:05:39"),
    (3, "12:03:39", "12:06:13"),
    (4, "12:04:19", "12:06:39"),
    (8, "12:03:06", "12:07:06"),
    (3, "12:06:39", "12:07:19"),
    (9, "12:01:26", "12:08:19"),
    (8, "12:07:26", "12:08:39"),
    (1, "12:07:46", "12:09:00"),
];

const WINDOWS: [(&str, &str); 4] =
    [("12:00:00", "12:02:00"), ("12:02:00", "12:04:00"), ("12:04:00", "12:06:00"), ("12:06:00", "12:08:00")];

fn clock_ms(clock: &str) -> i64 {
    let parts: Vec<i64> = clock.split(':').map(|p| p.parse().expect("hh:mm:ss")).collect();
    ((parts[0] * 60 + parts[1]) * 60 + parts[2]) * 1000
}

/// The example as a scenario written here, not read from `scenarios/`.
fn table_scenario(watermarks: &str, allowed_lateness_ms: i64) -> Scenario {
    table_scenario_windowed(watermarks, "Tumbling(size_ms: 120_000)", allowed_lateness_ms)
}

fn table_scenario_windowed(watermarks: &str, window_kind: &str, allowed_lateness_ms: i64) -> Scenario {
    let events: Vec<String> = TABLE
        .iter()
        .map(|(score, ts, arrives)| format!(r#"(key: "team", value: {score}, ts: "{ts}", arrives: "{arrives}")"#))
        .collect();
    let text = format!(
        r#"Scenario(
    name: "Streaming Systems ch. 2 (test)",
    clock_times: true,
    cluster: (task_managers: 1, slots_per_task_manager: 1),
    network: (latency: Constant(ms: 0)),
    source: Events([{events}]),
    watermarks: {watermarks},
    pipeline: [
        Source(name: "scores"),
        KeyBy(Key),
        Window(name: "sum", kind: {window_kind}, aggregate: Sum, allowed_lateness_ms: {allowed_lateness_ms}),
        Sink(name: "out"),
    ],
)"#,
        events = events.join(",\n        ")
    );
    Scenario::parse(&text, "(streaming systems test)").expect("the test scenario is valid")
}

fn shipped(file: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(file);
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn run(scenario: Scenario) -> RunResult {
    let scenario = Arc::new(scenario);
    let seed = scenario.seed.unwrap_or(DEFAULT_SEED);
    let result = sim::run_scenario(scenario, seed, RunOptions::default());
    assert_eq!(result.stop, StopReason::JobFinished);
    result
}

/// Visible rows of sink `out` as (window start, window end, value, firing), clock strings.
fn firings(result: &RunResult) -> Vec<(String, String, i64, Firing)> {
    let scenario = &result.world.scenario;
    result
        .visible_rows()
        .into_iter()
        .filter(|r| scenario.plan.operators[r.sink].name == "out")
        .map(|r| {
            let w = r.row.window.expect("a window result");
            (format_clock(w.start_ms), format_clock(w.end_ms), r.row.value, r.row.firing)
        })
        .collect()
}

fn on_time(values: [i64; 4]) -> Vec<(String, String, i64, Firing)> {
    WINDOWS
        .iter()
        .zip(values)
        .map(|((start, end), v)| (start.to_string(), end.to_string(), v, Firing::OnTime))
        .collect()
}

/// Event times (as clock strings) of the records the window dropped as late.
fn dropped_event_times(result: &RunResult) -> Vec<String> {
    result
        .world
        .recorder
        .events()
        .iter()
        .filter_map(|e| match e.payload() {
            Payload::LateDropped { timestamp_ms, .. } => Some(format_clock(timestamp_ms)),
            _ => None,
        })
        .collect()
}

#[test]
fn batch_sums_per_two_minute_window_are_14_18_4_12() {
    // The table itself, summed in one pass...
    let mut sums = [0i64; 4];
    for (score, ts, _) in TABLE {
        sums[((clock_ms(ts) - clock_ms("12:00:00")) / 120_000) as usize] += score;
    }
    assert_eq!(sums, [14, 18, 4, 12]);
    assert_eq!(sums.iter().sum::<i64>(), 48);
    // ...and by the engine without any watermark: everything fires at end of input, complete.
    let result = run(table_scenario("None", 0));
    assert_eq!(firings(&result), on_time([14, 18, 4, 12]));
    assert_eq!(result.late_dropped(), 0);
}

#[test]
fn shipped_files_hold_the_books_data() {
    let expected: Vec<(i64, i64, i64)> =
        TABLE.iter().map(|(score, ts, arrives)| (clock_ms(arrives), *score, clock_ms(ts))).collect();
    for file in ["streaming-systems-perfect.ron", "streaming-systems-heuristic.ron", "streaming-systems-lateness.ron"] {
        let scenario = shipped(file);
        let LogData::Events(partitions) = &scenario.log else {
            panic!("{file} should list explicit events");
        };
        // In order of arrival across the partitions (each is in that order already).
        let mut got: Vec<(i64, i64, i64)> =
            partitions.iter().flatten().map(|e| ((e.append_ns / 1_000_000) as i64, e.value, e.timestamp_ms)).collect();
        got.sort_by_key(|r| r.0);
        assert_eq!(got, expected, "{file}");
    }
}

#[test]
fn perfect_watermark_fires_14_18_4_12_on_time() {
    let schedule = r#"Explicit([
        (at: "12:08:39", watermark: "12:02:00"), (at: "12:09:00", watermark: "12:04:00"),
        (at: "12:09:10", watermark: "12:06:00"), (at: "12:09:20", watermark: "12:08:00")])"#;
    for result in [run(shipped("streaming-systems-perfect.ron")), run(table_scenario(schedule, 0))] {
        assert_eq!(firings(&result), on_time([14, 18, 4, 12]));
        assert_eq!(result.late_dropped(), 0);
    }
}

#[test]
fn perfect_watermark_fires_the_first_window_when_the_watermark_reaches_12_02() {
    let result = run(shipped("streaming-systems-perfect.ron"));
    let first = result.visible_rows()[0];
    // The watermark 12:02:00 is scheduled at 12:08:39; zero network latency, microseconds of
    // processing: the result is visible in that same second.
    assert_eq!(format_clock((first.visible_ns.expect("visible") / 1_000_000_000 * 1000) as i64), "12:08:39");
}

const HEURISTIC: &str = r#"Explicit([
    (at: "12:06:00", watermark: "12:02:00"), (at: "12:07:30", watermark: "12:04:00"),
    (at: "12:07:40", watermark: "12:06:00"), (at: "12:09:30", watermark: "12:08:00")])"#;

#[test]
fn heuristic_watermark_fires_5_18_4_12_and_drops_the_9() {
    for result in [run(shipped("streaming-systems-heuristic.ron")), run(table_scenario(HEURISTIC, 0))] {
        assert_eq!(firings(&result), on_time([5, 18, 4, 12]));
        assert_eq!(result.late_dropped(), 1);
        assert_eq!(dropped_event_times(&result), vec!["12:01:26".to_string()]);
    }
}

#[test]
fn heuristic_watermark_with_allowed_lateness_refires_the_first_window_as_14() {
    for result in [run(shipped("streaming-systems-lateness.ron")), run(table_scenario(HEURISTIC, 600_000))] {
        let rows = firings(&result);
        let late: Vec<_> = rows.iter().filter(|r| r.3 == Firing::Late).collect();
        assert_eq!(late, vec![&("12:00:00".to_string(), "12:02:00".to_string(), 14, Firing::Late)]);
        let on_time_rows: Vec<_> = rows.iter().filter(|r| r.3 == Firing::OnTime).cloned().collect();
        assert_eq!(on_time_rows, on_time([5, 18, 4, 12]));
        assert_eq!(result.late_dropped(), 0);
        assert!(dropped_event_times(&result).is_empty());
    }
}

#[test]
fn late_firing_comes_when_the_9_arrives_at_12_08_19() {
    let result = run(shipped("streaming-systems-lateness.ron"));
    let late = result.visible_rows().into_iter().find(|r| r.row.firing == Firing::Late).expect("a late firing");
    assert_eq!(format_clock((late.visible_ns.expect("visible") / 1_000_000_000 * 1000) as i64), "12:08:19");
}

/// The book's sessions (gap 1 min) with the heuristic watermark and 10 min of allowed lateness.
/// The 9 (event time 12:01:26, arriving 12:08:19) bridges the sessions [12:00:26, 12:01:26) and
/// [12:02:26, 12:05:19) into one session of 36, behind the watermark: it fires at once, once, and
/// never again on time (Flink's `EventTimeTrigger.onMerge` registers no timer behind the
/// watermark). Before issue 8 the 36 fired a second time at the next watermark.
#[test]
fn heuristic_sessions_fire_the_bridged_session_of_36_once() {
    let result = run(table_scenario_windowed(HEURISTIC, "Session(gap_ms: 60_000)", 600_000));
    let rows = firings(&result);
    let row = |start: &str, end: &str, value, firing| (start.to_string(), end.to_string(), value, firing);
    assert_eq!(
        rows,
        vec![
            row("12:00:26", "12:01:26", 5, Firing::OnTime),
            row("12:02:26", "12:05:19", 22, Firing::OnTime),
            row("12:00:26", "12:05:19", 36, Firing::Late),
            row("12:06:39", "12:08:46", 12, Firing::OnTime),
        ]
    );
}
