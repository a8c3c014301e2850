//! proptest strategies for users' property tests: data, pipelines and fault schedules, all as
//! scenario text, so a shrunk counterexample is a scenario file you can open and run.

use proptest::prelude::*;

/// A generated scenario, as the text of a scenario file.
#[derive(Clone, Debug)]
pub struct ScenarioText(pub String);

/// Explicit events: `(key index, value, event time ms, arrival ms)`, arrival-sorted.
pub fn events(max_events: usize, keys: u32, span_ms: i64) -> impl Strategy<Value = Vec<(u32, i64, i64, i64)>> {
    proptest::collection::vec((0..keys, 1i64..10, 0..span_ms, 0i64..2_000), 1..=max_events).prop_map(|mut v| {
        // arrival = event time + delay: out of order in event time, sorted by arrival.
        let mut rows: Vec<(u32, i64, i64, i64)> =
            v.drain(..).map(|(k, val, ts, delay)| (k, val, ts, ts + delay)).collect();
        rows.sort_by_key(|r| r.3);
        rows
    })
}

/// A window step: tumbling, sliding or session with an aggregate, as pipeline text.
pub fn window_step(parallelism: u32) -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        (1i64..5).prop_map(|s| format!("Tumbling(size_ms: {})", s * 1_000)),
        (1i64..4, 1i64..3).prop_map(|(slide, k)| format!(
            "Sliding(size_ms: {}, slide_ms: {})",
            slide * k * 1_000,
            slide * 1_000
        )),
        (1i64..4).prop_map(|g| format!("Session(gap_ms: {})", g * 500)),
    ];
    let aggregate = prop_oneof![Just("Count"), Just("Sum"), Just("Min"), Just("Max")];
    (kind, aggregate)
        .prop_map(move |(k, a)| format!("Window(name: \"w\", kind: {k}, aggregate: {a}, parallelism: {parallelism})"))
}

/// A fault schedule for a cluster of `task_managers` over `[0, duration_ms)`, as RON fault list
/// entries: crashes with restarts, partitions and latency spikes.
pub fn fault_schedule(task_managers: u32, duration_ms: u64, max_faults: usize) -> impl Strategy<Value = Vec<String>> {
    let node = 0..task_managers;
    let fault = prop_oneof![
        (node.clone(), 0..duration_ms, 1u64..3_000)
            .prop_map(|(n, at, back)| format!("Crash(node: \"tm-{n}\", at: At({at}), restart_after_ms: {back})")),
        (node.clone(), node.clone(), 0..duration_ms, 1u64..3_000).prop_filter_map("two nodes", |(a, b, at, len)| {
            (a != b)
                .then(|| format!("Partition(between: (\"tm-{a}\", \"tm-{b}\"), from_ms: {at}, until_ms: {})", at + len))
        }),
        (0..duration_ms, 1u64..2_000, 1u64..200).prop_map(|(at, len, extra)| format!(
            "LatencySpike(from_ms: {at}, until_ms: {}, extra_ms: {extra})",
            at + len
        )),
    ];
    proptest::collection::vec(fault, 0..=max_faults)
}

/// A whole keyed-window scenario over explicit events with a fault schedule and a guarantee.
pub fn keyed_window_scenario(guarantee: &'static str, sink: &'static str) -> impl Strategy<Value = ScenarioText> {
    (events(60, 4, 10_000), window_step(2), fault_schedule(2, 12_000, 3)).prop_map(move |(events, window, faults)| {
        let events: Vec<String> = events
            .iter()
            .map(|(k, v, ts, arrives)| format!("(key: \"k{k}\", value: {v}, ts: {ts}, arrives: {arrives})"))
            .collect();
        ScenarioText(format!(
            r#"Scenario(
    name: "generated",
    cluster: (task_managers: 2, slots_per_task_manager: 2),
    source: Events([{}]),
    watermarks: None,
    pipeline: [Source(name: "s", parallelism: 1), KeyBy(Key), {window}, Sink(name: "out", kind: {sink})],
    checkpoints: (interval_ms: 500, mode: {guarantee}),
    restart: FixedDelay(delay_ms: 200, max_attempts: 50),
    faults: [{}],
)"#,
            events.join(", "),
            faults.join(", ")
        ))
    })
}
