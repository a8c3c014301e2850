//! A source's Kafka fetch (`fetch_latency_us`, `sim::source_cursor::Fetch`): the simulator's reads
//! against a plain reference model of the long-poll, a crash that must start a fresh consumer
//! without losing or repeating a read, and the latency the fetch adds end to end.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use engine::graph::SubtaskId;

use engine::sink::SinkKind;
use engine::SourceRef;
use proptest::prelude::*;
use sim::recording::{Payload, TraceKind};
use sim::run::{reference_run, run_variant};
use sim::scenario::Guarantee;
use sim::source_cursor::FETCH_MAX_WAIT_NS;
use sim::{RunOptions, Scenario, StopReason, World};

/// The long-poll fetch, stated plainly, one request at a time: a request reaches the broker a
/// one-way latency after the consumer sends it; the broker answers when the first record it has
/// not yet sent is appended (`fetch.min.bytes` = 1), or empty after `fetch.max.wait.ms`; the answer
/// holds every record appended by then and is readable a one-way latency later, when the next
/// request goes out. `appends` in read order (append time, then partition); the consumer starts
/// at `start_ns`. Returns when each record is readable.
fn reference_readable_ns(appends: &[u64], one_way_ns: u64, start_ns: u64) -> Vec<u64> {
    let mut readable = Vec::with_capacity(appends.len());
    let mut request_at_broker_ns = start_ns + one_way_ns;
    while readable.len() < appends.len() {
        let first_unsent = appends[readable.len()];
        let answer_ns = if first_unsent <= request_at_broker_ns + FETCH_MAX_WAIT_NS {
            first_unsent.max(request_at_broker_ns)
        } else {
            request_at_broker_ns + FETCH_MAX_WAIT_NS // empty
        };
        while readable.len() < appends.len() && appends[readable.len()] <= answer_ns {
            readable.push(answer_ns + one_way_ns);
        }
        request_at_broker_ns = answer_ns + 2 * one_way_ns;
    }
    readable
}

/// Every source read of a run: (time, partition, offset), in trace order.
fn reads(world: &World) -> Vec<(u64, SourceRef)> {
    world
        .recorder
        .events()
        .iter()
        .filter(|e| e.kind == TraceKind::SourceRead)
        .filter_map(|e| match e.payload() {
            Payload::SourceRead { partition, offset } => Some((e.time_ns, SourceRef { partition, offset })),
            _ => None,
        })
        .collect()
}

/// A source subtask's consumer starts fetching when it has its splits. Fresh (no checkpoint to
/// restore them from), it has none until it has registered with the JobManager and the
/// enumerator's answer is back: a round trip from its node to the JobManager, whose latency each
/// way is `jm_latency_ns` here (the scenarios below make it constant).
fn reference_consumer_start_ns(deployed_ns: u64, restored_from_checkpoint: bool, jm_latency_ns: u64) -> u64 {
    if restored_from_checkpoint {
        deployed_ns
    } else {
        deployed_ns + 2 * jm_latency_ns
    }
}

fn source_to_sink(
    partitions: u32,
    rate_per_s: u64,
    idle_from_ms: u64,
    fetch_latency_us: u64,
    jm_latency_ms: u64,
) -> Arc<Scenario> {
    let idle: Vec<String> = (0..partitions)
        .map(|p| format!("(partition: {p}, from_ms: {idle_from_ms}, until_ms: {})", idle_from_ms + 700))
        .collect();
    let text = format!(
        r#"Scenario(
            name: "fetch", duration_ms: 1_500,
            cluster: (task_managers: 1, slots_per_task_manager: 2),
            network: (latency: Constant(ms: {jm_latency_ms})),
            source: Generator((partitions: {partitions}, rate_per_s: {rate_per_s}, keys: 5,
                               idle_partitions: [{}])),
            watermarks: None,
            pipeline: [Source(name: "s", parallelism: 1, cost_us: 1, fetch_latency_us: {fetch_latency_us}),
                       Sink(name: "k", parallelism: 1, cost_us: 1)],
            track_lineage: false,
        )"#,
        idle.join(", ")
    );
    Arc::new(Scenario::parse(&text, "(test)").expect("valid"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The simulator's source reads are the reference model's: the consumer starts once the
    /// JobManager has assigned its splits, each record is read once it is readable and the
    /// source is free (1 µs a record), never sooner than a one-way latency after its append. An
    /// idle stretch of 700 ms (longer than `fetch.max.wait.ms`) makes the consumer's empty
    /// answers part of the case.
    #[test]
    fn reads_follow_the_long_poll(
        seed in 0u64..1_000,
        partitions in 1u32..=3,
        rate_per_s in 200u64..=4_000,
        idle_from_ms in 0u64..=600,
        fetch_latency_us in 1u64..=3_000,
        jm_latency_ms in 1u64..=3,
    ) {
        let scenario = source_to_sink(partitions, rate_per_s, idle_from_ms, fetch_latency_us, jm_latency_ms);
        let mut world = World::new(scenario, seed, RunOptions::default());
        prop_assert_eq!(world.run(), StopReason::JobFinished);
        let mut entries: Vec<(u64, SourceRef)> = Vec::new();
        for (p, partition) in world.log.partitions.iter().enumerate() {
            for (offset, entry) in partition.iter().enumerate() {
                entries.push((entry.append_ns, SourceRef { partition: p as u32, offset: offset as u64 }));
            }
        }
        entries.sort_by_key(|&(t, at)| (t, at.partition));
        let appends: Vec<u64> = entries.iter().map(|e| e.0).collect();
        let one_way_ns = fetch_latency_us * 1_000;
        let start_ns = reference_consumer_start_ns(0, false, jm_latency_ms * 1_000_000);
        let readable = reference_readable_ns(&appends, one_way_ns, start_ns);
        let mut expected = Vec::with_capacity(entries.len());
        let mut free_ns = 0;
        for (&(_, at), &readable_ns) in entries.iter().zip(&readable) {
            let read_ns = readable_ns.max(free_ns);
            expected.push((read_ns, at));
            free_ns = read_ns + 1_000;
        }
        let got = reads(&world);
        prop_assert_eq!(got.len(), expected.len());
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            prop_assert_eq!(g, e, "read {} of {}", i, got.len());
            prop_assert!(g.0 >= appends[i] + one_way_ns, "read {} before its answer could arrive", i);
        }
    }
}

/// The reference model itself, on a case worked by hand (1 ms one way): the first request
/// reaches the broker at 1 ms and finds the record of 0.5 ms (readable at 2 ms); the next is at
/// the broker at 3 ms and waits for the record of 3.5 ms, with which the answer leaves (readable
/// at 4.5 ms); the record of 3.7 ms goes with the request after, at the broker at 5.5 ms.
#[test]
fn the_reference_model_on_a_worked_case() {
    let ms = 1_000_000;
    let appends = [ms / 2, 3 * ms + ms / 2, 3 * ms + 7 * ms / 10];
    let expected = vec![2 * ms, 4 * ms + ms / 2, 6 * ms + ms / 2];
    assert_eq!(reference_readable_ns(&appends, ms, 0), expected);
}

/// `fetch.max.wait.ms` through the simulator, on a case worked by hand (1 ms one way to the
/// broker and to the JobManager): the reader registers at 1 ms and has its splits at 2 ms; its
/// first request is at the broker at 3 ms with the record of 0 ms, readable at 4 ms; the next
/// request waits at the broker from 5 ms, answers empty at 505 ms, and its successor is there at
/// 507 ms, which the record of 506 ms waits for: readable at 508 ms, not at 507 ms.
#[test]
fn an_empty_answer_delays_the_next_fetch() {
    let text = r#"Scenario(
        name: "empty fetch", duration_ms: 1_000,
        cluster: (task_managers: 1, slots_per_task_manager: 2),
        network: (latency: Constant(ms: 1)),
        source: Events([(key: "a", value: 1, ts: 0, arrives: 0), (key: "a", value: 2, ts: 506, arrives: 506)]),
        watermarks: None,
        pipeline: [Source(name: "s", parallelism: 1, fetch_latency_us: 1_000), Sink(name: "k", parallelism: 1)],
    )"#;
    let scenario = Arc::new(Scenario::parse(text, "(test)").expect("valid"));
    let mut world = World::new(scenario, 1, RunOptions::default());
    assert_eq!(world.run(), StopReason::JobFinished);
    let ms = 1_000_000;
    let times: Vec<u64> = reads(&world).iter().map(|r| r.0).collect();
    assert_eq!(times, vec![4 * ms, 508 * ms]);
    let start_ns = reference_consumer_start_ns(0, false, ms);
    assert_eq!(reference_readable_ns(&[0, 506 * ms], ms, start_ns), times);
}

/// Two sources on two task managers into a two-phase-commit sink, checkpointing every 500 ms,
/// tm-1 crashing at `crash_at_ms`.
fn crash_scenario(crash_at_ms: u64) -> Arc<Scenario> {
    let text = format!(
        r#"Scenario(
    name: "fetch across a crash", duration_ms: 6_000,
    cluster: (task_managers: 2, slots_per_task_manager: 2),
    source: Generator((partitions: 4, rate_per_s: 2_000, keys: 8)),
    watermarks: None,
    pipeline: [
        Source(name: "events", parallelism: 2, fetch_latency_us: 250),
        Rebalance,
        Map(name: "m", f: AddToValue(1), parallelism: 2),
        Sink(name: "out", kind: TwoPhaseCommit, parallelism: 1),
    ],
    checkpoints: (interval_ms: 500, mode: ExactlyOnce, timeout_ms: 10_000),
    restart: FixedDelay(delay_ms: 300, max_attempts: 5),
    faults: [Crash(node: "tm-1", at: At({crash_at_ms}), restart_after_ms: 200)],
)"#
    );
    Arc::new(Scenario::parse(&text, "(test)").expect("valid"))
}

/// The job's one restart: when, and the checkpoint it restored.
fn the_restart(world: &World) -> (u64, Option<engine::CheckpointId>) {
    let restarts: Vec<(u64, Option<engine::CheckpointId>)> = world
        .recorder
        .events()
        .iter()
        .filter_map(|e| match e.payload() {
            Payload::JobRestarted { restored_from, .. } => Some((e.time_ns, restored_from)),
            _ => None,
        })
        .collect();
    assert_eq!(restarts.len(), 1, "{restarts:?}");
    restarts[0]
}

/// Each source subtask's first read at or after `from_ns`.
fn first_reads_from(world: &World, from_ns: u64) -> BTreeMap<SubtaskId, u64> {
    let mut first = BTreeMap::new();
    for e in world.recorder.events().iter().filter(|e| e.kind == TraceKind::SourceRead && e.time_ns >= from_ns) {
        first.entry(e.subtask()).or_insert(e.time_ns);
    }
    first
}

/// The scenarios' latency between a task manager and the JobManager (the default network's).
const JM_LATENCY_NS_MIN: u64 = 1_000_000;
const JM_LATENCY_NS_MAX: u64 = 2_000_000;
const LAN_ONE_WAY_NS: u64 = 250_000;

/// When a fresh reader deployed at `deployed_ns`, 250 µs from its broker, with records waiting,
/// reads first: a registration round trip (each way within the default latency) and a fetch
/// round trip later.
fn fresh_first_read_ns(deployed_ns: u64) -> std::ops::RangeInclusive<u64> {
    let earliest = reference_consumer_start_ns(deployed_ns, false, JM_LATENCY_NS_MIN) + 2 * LAN_ONE_WAY_NS;
    let latest = reference_consumer_start_ns(deployed_ns, false, JM_LATENCY_NS_MAX) + 2 * LAN_ONE_WAY_NS;
    earliest..=latest
}

/// A crash after a completed checkpoint restarts the sources with fresh consumers that have
/// their splits from the restored state: each restarted source reads first exactly a fetch round
/// trip after the restart (records are waiting: the replayed ones were appended long before, so
/// a consumer that kept its fetch state would hand them over at once, and one that waited for
/// the JobManager would read at least 2 ms later). Each partition's reads go on offset by offset
/// from the restored position, and exactly-once still holds for every source record.
#[test]
fn a_restore_from_a_checkpoint_fetches_at_once_and_loses_or_repeats_nothing() {
    let scenario = crash_scenario(2_200);
    let mut world = World::new(scenario.clone(), 5, RunOptions::default());
    assert_eq!(world.run(), StopReason::JobFinished);
    let (restart_ns, restored_from) = the_restart(&world);
    assert!(restored_from.is_some(), "the crash comes after completed checkpoints");
    let first = first_reads_from(&world, restart_ns);
    assert_eq!(first.len(), 2, "both sources restarted: {first:?}");
    let start_ns = reference_consumer_start_ns(restart_ns, true, JM_LATENCY_NS_MIN);
    for (subtask, &read_ns) in &first {
        assert_eq!(read_ns, start_ns + 2 * LAN_ONE_WAY_NS, "{subtask:?}: restart at {restart_ns} ns");
    }
    let after: Vec<(u64, SourceRef)> = reads(&world).into_iter().filter(|(t, _)| *t >= restart_ns).collect();
    let partitions = world.log.partitions.len();
    let mut next: Vec<Option<u64>> = vec![None; partitions];
    for (_, at) in &after {
        let slot = &mut next[at.partition as usize];
        assert!(slot.is_none_or(|n| n == at.offset), "partition {} skipped or repeated to {}", at.partition, at.offset);
        *slot = Some(at.offset + 1);
    }
    for (p, partition) in world.log.partitions.iter().enumerate() {
        assert_eq!(next[p], Some(partition.len() as u64), "partition {p} read to its end");
    }

    let reference = reference_run(&scenario, 5);
    let faults = scenario.faults_for_seed(5);
    let report = run_variant(&scenario, 5, Guarantee::ExactlyOnce, SinkKind::TwoPhaseCommit, faults, &reference);
    assert_eq!(report.stop, StopReason::JobFinished);
    assert_eq!(report.restarts, 1);
    assert!(report.outcome.lost_records.is_empty(), "lost {:?}", report.outcome.lost_records.len());
    assert!(report.outcome.duplicated_records.is_empty(), "duplicated {:?}", report.outcome.duplicated_records.len());
    assert_eq!(report.outcome.exact_records, world.log.len());
}

/// A crash before the first checkpoint completes restarts the sources with nothing to restore:
/// each reader registers with the JobManager again and waits for its splits, so its first read
/// comes a registration round trip (two draws of 1-2 ms) plus a fetch round trip after the
/// restart, and the two readers' draws put them out of phase.
#[test]
fn a_restart_with_nothing_to_restore_registers_again() {
    let mut world = World::new(crash_scenario(200), 5, RunOptions::default());
    assert_eq!(world.run(), StopReason::JobFinished);
    let (restart_ns, restored_from) = the_restart(&world);
    assert_eq!(restored_from, None, "the crash comes before the first checkpoint");
    let first = first_reads_from(&world, restart_ns);
    assert_eq!(first.len(), 2, "both sources restarted: {first:?}");
    for (subtask, &read_ns) in &first {
        let window = fresh_first_read_ns(restart_ns);
        assert!(window.contains(&read_ns), "{subtask:?} first read {read_ns} ns, restart {restart_ns} ns");
    }
    let times: BTreeSet<u64> = first.values().copied().collect();
    assert_eq!(times.len(), 2, "the readers start in phase: {first:?}");
}

/// Four sources of the benchmark's shape, every reader with records waiting at each request:
/// their first reads are a registration round trip plus a fetch round trip after the start,
/// at four different instants, and they stay out of phase: few source reads share their instant
/// with another source's read (20 of 20 302 here; with one registration draw for all four
/// readers, 2 560 did).
#[test]
fn consumers_of_different_subtasks_are_out_of_phase() {
    let text = format!(
        r#"Scenario(
            name: "four consumers", duration_ms: 500,
            cluster: (task_managers: 4, slots_per_task_manager: 2),
            source: Generator((partitions: 16, rate_per_s: 40_000, keys: 1_000)),
            watermarks: None,
            pipeline: [Source(name: "s", parallelism: 4, cost_us: 1, fetch_latency_us: {}),
                       KeyBy(Key),
                       Map(name: "m", f: AddToValue(1), parallelism: 4, cost_us: 1),
                       Sink(name: "k", parallelism: 1, cost_us: 1)],
            track_lineage: false,
        )"#,
        LAN_ONE_WAY_NS / 1_000
    );
    let scenario = Arc::new(Scenario::parse(&text, "(test)").expect("valid"));
    let mut world = World::new(scenario, 3, RunOptions::default());
    assert_eq!(world.run(), StopReason::JobFinished);
    let first = first_reads_from(&world, 0);
    assert_eq!(first.len(), 4);
    for (subtask, &read_ns) in &first {
        assert!(fresh_first_read_ns(0).contains(&read_ns), "{subtask:?} first read at {read_ns} ns");
    }
    assert_eq!(first.values().collect::<BTreeSet<_>>().len(), 4, "{first:?}");
    let mut readers_at: BTreeMap<u64, BTreeSet<SubtaskId>> = BTreeMap::new();
    for e in world.recorder.events().iter().filter(|e| e.kind == TraceKind::SourceRead) {
        readers_at.entry(e.time_ns).or_default().insert(e.subtask());
    }
    let reads = world.recorder.events().iter().filter(|e| e.kind == TraceKind::SourceRead).count();
    let shared = world
        .recorder
        .events()
        .iter()
        .filter(|e| e.kind == TraceKind::SourceRead && readers_at[&e.time_ns].len() > 1)
        .count();
    assert_eq!(reads, world.log.len());
    assert!(shared * 10 < reads, "{shared} of {reads} source reads share their instant with another source's");
}

/// The median end-to-end latency (append to visible) of a source straight into a sink, every
/// record flushed at once.
fn latency_p50_ns(fetch_latency_us: u64) -> u64 {
    let text = format!(
        r#"Scenario(
            name: "fetch latency", duration_ms: 3_000,
            cluster: (task_managers: 2, slots_per_task_manager: 2),
            network: (buffer_timeout_ms: 0),
            source: Generator((partitions: 2, rate_per_s: 2_000, keys: 100)),
            watermarks: None,
            pipeline: [Source(name: "s", parallelism: 2, fetch_latency_us: {fetch_latency_us}),
                       Sink(name: "k", parallelism: 2)],
            track_lineage: false,
        )"#
    );
    let scenario = Arc::new(Scenario::parse(&text, "(test)").expect("valid"));
    let result = sim::run_scenario(scenario, 1, RunOptions { keep_trace: false, ..RunOptions::default() });
    let mut latencies = result.append_to_visible_ns();
    assert_eq!(latencies.len(), result.world.log.len());
    sim::oracle::percentile(&mut latencies, 50).expect("rows")
}

/// The median latency with a 250 µs fetch is between one and three one-way latencies above the
/// median without: a record waits a one-way latency for its answer at least, and at most for the
/// request in flight, its return and its own answer.
#[test]
fn a_fetch_adds_one_to_three_one_way_latencies() {
    let without = latency_p50_ns(0);
    let with = latency_p50_ns(250);
    assert!(with >= without + 250_000, "p50 {with} ns with the fetch, {without} ns without");
    assert!(with <= without + 3 * 250_000, "p50 {with} ns with the fetch, {without} ns without");
}

/// The setting is bounded (one second) and the error points at it; Storm's spouts refuse it.
#[test]
fn the_parser_bounds_the_fetch_latency() {
    let text = |fetch: &str, model: &str| {
        format!(
            "Scenario(\n    name: \"x\",{model}\n    source: Generator((rate_per_s: 100)),\n    pipeline: [\n        \
             Source(name: \"s\", fetch_latency_us: {fetch}),\n        Sink(name: \"k\"),\n    ],\n)"
        )
    };
    assert!(Scenario::parse(&text("1_000_000", ""), "f.ron").is_ok());
    let error = Scenario::parse(&text("1_000_001", ""), "f.ron").expect_err("above the bound").to_string();
    assert_eq!(
        error,
        "f.ron:5:45: pipeline[0].Source.fetch_latency_us: a one-way fetch latency in µs of 1000001 is outside the \
         allowed 0 ..= 1000000"
    );
    let storm = Scenario::parse(&text("250", "\n    model: Storm(()),"), "f.ron").expect_err("Storm").to_string();
    assert!(storm.starts_with("f.ron:6:"), "{storm}");
    assert!(storm.contains("fetch_latency_us: Storm runtime"), "{storm}");
}
