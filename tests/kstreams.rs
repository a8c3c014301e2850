//! Kafka Streams as a fault-tolerance model (`sim::kstreams`): its commit and restore rules held
//! against an independent statement of them (SEMANTICS.md, "Kafka Streams"), per-task failover,
//! the promised guarantees over many seeds, determinism, and hostile configuration values.

use sim::stepped::SteppedWorld;
use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use sim::kstreams::{run_kstreams, KStreamsWorld, TaskPhase};
use sim::recording::Payload;
use sim::runtime::{FaultToleranceModel, KafkaStreamsChangelog};
use sim::scenario::{Guarantee, OutcomeClass, Runtime};
use sim::{Scenario, ScenarioError};

/// One partition read by task 0_0 on tm-0, a stateless map to the sink, no processing cost;
/// records arrive at odd milliseconds, commits fall on even ones (no ties), tm-0 dies at
/// `crash_ns` for good and tm-1 takes the task over after the session timeout.
fn stateless(arrivals_ms: &[u64], guarantee: &str, sink: &str, commit_ms: u64, crash_ns: u64) -> Arc<Scenario> {
    let events: Vec<String> = arrivals_ms
        .iter()
        .enumerate()
        .map(|(i, a)| format!("(key: \"k{}\", value: {i}, ts: {a}, arrives: {a})", i % 3))
        .collect();
    let text = format!(
        r#"Scenario(
            name: "kstreams stateless",
            cluster: (task_managers: 2, slots_per_task_manager: 1),
            source: Events([{}]),
            pipeline: [
                Source(name: "in", cost_us: 0),
                Map(name: "m", f: AddToValue(1), cost_us: 0),
                Sink(name: "out", kind: {sink}, cost_us: 0),
            ],
            model: KafkaStreams((guarantee: {guarantee}, commit_interval_ms: Some({commit_ms}), session_timeout_ms: 7)),
            faults: [Crash(node: "tm-0", at: AtNs({crash_ns}))],
        )"#,
        events.join(", ")
    );
    Arc::new(Scenario::parse(&text, "(kstreams test)").expect("the test scenario is valid"))
}

/// How often each source offset shows in the visible rows, and when each first became visible.
fn seen(run: &sim::kstreams::KStreamsRun) -> (BTreeMap<u64, usize>, BTreeMap<u64, u64>) {
    let mut count = BTreeMap::new();
    let mut visible = BTreeMap::new();
    for row in run.visible_rows() {
        for source in &row.row.lineage {
            *count.entry(source.offset).or_insert(0) += 1;
            visible.entry(source.offset).or_insert(row.visible_ns.unwrap_or(row.written_ns));
        }
    }
    (count, visible)
}

/// The rule, stated on its own: the offset tm-0 had committed when it died (the records that
/// arrived before its last commit at a multiple of the interval; all of them when it had read
/// its whole partition, which commits at once: the simulation's end of input).
fn committed_at_crash(arrivals_ms: &[u64], commit_ms: u64, crash_ns: u64) -> u64 {
    if arrivals_ms.iter().all(|&a| a * 1_000_000 < crash_ns) {
        return arrivals_ms.len() as u64;
    }
    let last_commit_ns = crash_ns / (commit_ms * 1_000_000) * commit_ms * 1_000_000;
    arrivals_ms.iter().filter(|&&a| a * 1_000_000 < last_commit_ns).count() as u64
}

fn processed_before_crash(arrivals_ms: &[u64], crash_ns: u64) -> u64 {
    arrivals_ms.iter().filter(|&&a| a * 1_000_000 < crash_ns).count() as u64
}

fn arrivals() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(0u64..40, 2..40).prop_map(|mut v| {
        v.sort_unstable();
        v.into_iter().map(|a| 2 * a + 1).collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// at_least_once: a crash repeats exactly the records processed since the last commit, each
    /// once more; nothing is lost.
    #[test]
    fn at_least_once_repeats_exactly_what_was_processed_since_the_last_commit(
        arrivals in arrivals(),
        commit_half in 1u64..20,
        crash_ms in 0u64..80,
    ) {
        let commit_ms = 2 * commit_half;
        let crash_ns = crash_ms * 1_000_000 + 500_000;
        let run = run_kstreams(stateless(&arrivals, "AtLeastOnce", "Plain", commit_ms, crash_ns), 1, false);
        prop_assert_eq!(run.stop, sim::StopReason::JobFinished);
        let (count, _) = seen(&run);
        let committed = committed_at_crash(&arrivals, commit_ms, crash_ns);
        let processed = processed_before_crash(&arrivals, crash_ns);
        for offset in 0..arrivals.len() as u64 {
            let expected = if (committed..processed).contains(&offset) { 2 } else { 1 };
            prop_assert_eq!(count.get(&offset).copied().unwrap_or(0), expected, "offset {}", offset);
        }
        prop_assert_eq!(run.world.stats.reprocessed, processed - committed);
    }

    /// exactly_once_v2, read_committed (two-phase-commit sink): each record once; a record
    /// committed before the crash became visible at the first commit after it arrived, the
    /// others only after the task moved.
    #[test]
    fn exactly_once_v2_shows_each_record_once_at_its_commit(
        arrivals in arrivals(),
        commit_half in 1u64..20,
        crash_ms in 0u64..80,
    ) {
        let commit_ms = 2 * commit_half;
        let crash_ns = crash_ms * 1_000_000 + 500_000;
        let run = run_kstreams(stateless(&arrivals, "ExactlyOnceV2", "TwoPhaseCommit", commit_ms, crash_ns), 1, false);
        prop_assert_eq!(run.stop, sim::StopReason::JobFinished);
        let (count, visible) = seen(&run);
        let committed = committed_at_crash(&arrivals, commit_ms, crash_ns);
        let commit_ns = commit_ms * 1_000_000;
        let last_arrival_ns = arrivals.last().unwrap() * 1_000_000;
        for (offset, a) in arrivals.iter().enumerate() {
            let offset = offset as u64;
            prop_assert_eq!(count.get(&offset).copied().unwrap_or(0), 1, "offset {}", offset);
            let at = visible[&offset];
            if offset < committed {
                let next_commit = (a * 1_000_000 / commit_ns + 1) * commit_ns;
                prop_assert_eq!(at, next_commit.min(last_arrival_ns), "offset {}", offset);
            } else if crash_ns < last_arrival_ns {
                prop_assert!(at > crash_ns, "offset {} visible at {} before the crash at {}", offset, at, crash_ns);
            }
        }
    }

    /// exactly_once_v2 read by a read_uncommitted consumer (plain sink): the aborted
    /// transaction's output shows too, so the records since the last commit show twice.
    #[test]
    fn a_read_uncommitted_reader_sees_the_aborted_transaction(
        arrivals in arrivals(),
        commit_half in 1u64..20,
        crash_ms in 0u64..80,
    ) {
        let commit_ms = 2 * commit_half;
        let crash_ns = crash_ms * 1_000_000 + 500_000;
        let run = run_kstreams(stateless(&arrivals, "ExactlyOnceV2", "Plain", commit_ms, crash_ns), 1, false);
        let (count, _) = seen(&run);
        let committed = committed_at_crash(&arrivals, commit_ms, crash_ns);
        let processed = processed_before_crash(&arrivals, crash_ns);
        for offset in 0..arrivals.len() as u64 {
            let expected = if (committed..processed).contains(&offset) { 2 } else { 1 };
            prop_assert_eq!(count.get(&offset).copied().unwrap_or(0), expected, "offset {}", offset);
        }
    }
}

/// Four partitions, a keyed window on three instances (tasks 0_0..0_3 and 1_0..1_2, task i on
/// tm-(i mod 3)); tm-0 dies at 12 s for good.
fn windowed(guarantee: &str, standbys: u32) -> Arc<Scenario> {
    windowed_crashing(guarantee, standbys, "tm-0", 3)
}

/// [`windowed`] with the window's parallelism and the instance that dies at 12 s chosen.
fn windowed_crashing(guarantee: &str, standbys: u32, crashed: &str, window_parallelism: u32) -> Arc<Scenario> {
    let text = format!(
        r#"Scenario(
            name: "kstreams windowed",
            duration_ms: 20_000,
            cluster: (task_managers: 3, slots_per_task_manager: 2),
            source: Generator((partitions: 4, rate_per_s: 300, keys: 12, value: Constant(1),
                               disorder: (delay: Uniform(min_ms: 0, max_ms: 200)))),
            watermarks: BoundedOutOfOrderness(bound_ms: 10_000),
            pipeline: [
                Source(name: "in", cost_us: 10),
                KeyBy(Key),
                Window(name: "w", kind: Tumbling(size_ms: 2_000), aggregate: Count, parallelism: {window_parallelism}, cost_us: 20),
                Sink(name: "out", kind: TwoPhaseCommit),
            ],
            model: KafkaStreams((guarantee: {guarantee}, commit_interval_ms: Some(3_000), standby_replicas: {standbys},
                                 session_timeout_ms: 2_000, transaction_timeout_ms: 2_000, restore_cost_us: 100)),
            faults: [Crash(node: "{crashed}", at: At(12_000))],
        )"#
    );
    Arc::new(Scenario::parse(&text, "(kstreams test)").expect("the test scenario is valid"))
}

/// Only the tasks of the dead instance restore: each replays the changelog it had (every write
/// under at-least-once), resumes at its committed offset, and the other tasks never stop.
#[test]
fn only_the_failed_tasks_restore_from_the_changelog_and_resume_at_their_commit() {
    for guarantee in ["AtLeastOnce", "ExactlyOnceV2"] {
        let scenario = windowed(guarantee, 0);
        let mut world = KStreamsWorld::new(scenario, 7, true);
        world.run_until(12_000_000_000 - 1);
        let on_tm0: Vec<usize> = (0..world.tasks.len()).filter(|&t| world.tasks[t].instance.name() == "tm-0").collect();
        assert_eq!(on_tm0, [0, 3, 4], "tasks 0_0, 0_3 and 1_0 start on tm-0");
        let committed: Vec<u64> = world.tasks.iter().map(|t| t.committed).collect();
        let changelog_at_crash = world.changelogs[4].len() as u64;
        let eos = guarantee == "ExactlyOnceV2";
        let committed_changelog =
            sim::kstreams::core::restored_entries(&world.changelogs[4], &world.txns, true).count() as u64;
        assert!(changelog_at_crash > 0, "{guarantee}: the window task wrote its changelog");
        world.run();
        assert_eq!(world.stop_reason(), Some(sim::StopReason::JobFinished), "{guarantee}");
        let mut restored = BTreeMap::new();
        let mut resumed = BTreeMap::new();
        for e in world.recorder.events() {
            match e.payload() {
                Payload::KStreamsRestore { task, records } => {
                    restored.insert(task as usize, records);
                }
                Payload::KStreamsResume { task, offset } => {
                    resumed.insert(task as usize, offset);
                }
                _ => {}
            }
        }
        assert_eq!(restored.keys().copied().collect::<Vec<_>>(), on_tm0, "{guarantee}: only tm-0's tasks move");
        assert_eq!(resumed.keys().copied().collect::<Vec<_>>(), on_tm0, "{guarantee}");
        for &t in &on_tm0 {
            assert_eq!(resumed[&t], committed[t], "{guarantee}: task {t} resumes at its committed offset");
            assert_ne!(world.tasks[t].instance.name(), "tm-0");
        }
        // Stateless source tasks replay nothing; the window task its whole changelog (under
        // exactly-once v2 the committed part: the open transaction was aborted meanwhile).
        assert_eq!(restored[&0], 0);
        let want = if eos { committed_changelog } else { changelog_at_crash };
        assert_eq!(restored[&4], want, "{guarantee}: the window task replays its changelog");
        assert!(world.tasks.iter().all(|t| t.phase == TaskPhase::Done));
    }
}

/// `reprocessed` counts every record a moved task reads a second time, from the source topic or
/// from the repartition topic: under at-least-once, what each of the dead instance's tasks had
/// read since its last commit (`position - committed` when it died). tm-0 holds the window task
/// 1_0, which re-reads from the repartition topic; with one window task (on tm-0) tm-1 holds
/// only the source task 0_1, and nothing is re-read from the repartition topic.
#[test]
fn reprocessed_counts_what_the_moved_tasks_read_again_from_either_topic() {
    for (crashed, window_parallelism, window_task_rereads) in [("tm-0", 3, true), ("tm-1", 1, false)] {
        let scenario = windowed_crashing("AtLeastOnce", 0, crashed, window_parallelism);
        let mut world = KStreamsWorld::new(scenario, 7, false);
        world.run_until(12_000_000_000 - 1);
        let behind = |world: &KStreamsWorld, subtopology: u32| -> u64 {
            let on_crashed = world.tasks.iter().filter(|t| t.instance.name() == crashed);
            on_crashed.filter(|t| t.id.subtopology == subtopology).map(|t| t.position - t.committed).sum()
        };
        let (source_rereads, repartition_rereads) = (behind(&world, 0), behind(&world, 1));
        world.run();
        assert_eq!(world.stop_reason(), Some(sim::StopReason::JobFinished), "{crashed}");
        assert!(source_rereads > 0, "{crashed}: its source tasks had read past their commit");
        assert_eq!(repartition_rereads > 0, window_task_rereads, "{crashed}: {repartition_rereads}");
        assert_eq!(world.stats.reprocessed, source_rereads + repartition_rereads, "{crashed}");
    }
}

/// A caught-up standby on the instance that takes the task over: nothing to replay.
#[test]
fn a_warm_standby_makes_the_restore_short() {
    let cold = run_kstreams(windowed("AtLeastOnce", 0), 7, false);
    let warm = run_kstreams(windowed("AtLeastOnce", 1), 7, false);
    assert!(cold.world.stats.restored_records > 0);
    assert!(cold.world.stats.restore_ns > 0);
    assert_eq!(warm.world.stats.restored_records, 0);
    assert_eq!(warm.world.stats.standby_takeovers, 1);
    // The output is the same: a standby changes when the task resumes, not what it computes.
    let rows = |r: &sim::kstreams::KStreamsRun| r.visible_rows().len();
    assert_eq!(rows(&cold), rows(&warm));
}

/// The verdicts the model promises, through the runtime boundary: at-least-once duplicates
/// (the restored store already holds what is reprocessed), exactly-once v2 exact.
#[test]
fn at_least_once_duplicates_and_exactly_once_v2_is_exact_after_a_crash() {
    let scenario = windowed("AtLeastOnce", 0);
    let faults = scenario.faults.clone();
    let variants = KafkaStreamsChangelog.compared_variants(&scenario);
    let reports = KafkaStreamsChangelog.reports(&scenario, 7, &variants, &faults);
    let by = |g: Guarantee, s: engine::sink::SinkKind| {
        reports.iter().find(|r| r.guarantee == g && r.sink == s).expect("variant run").class
    };
    use engine::sink::SinkKind::*;
    assert_eq!(by(Guarantee::AtLeastOnce, TwoPhaseCommit), OutcomeClass::Duplicates);
    assert_eq!(by(Guarantee::ExactlyOnce, TwoPhaseCommit), OutcomeClass::Exact);
    assert!(reports.iter().all(|r| r.runtime == Runtime::KafkaStreams && r.verdict));
}

/// The promise of each guarantee over many seeds of crashes (with and without returns) drawn by
/// the swarm: at-least-once loses nothing, exactly-once v2 read_committed is exact.
#[test]
fn every_promise_holds_over_seeds() {
    let text = r#"Scenario(
        name: "kstreams swarm",
        duration_ms: 8_000,
        cluster: (task_managers: 3, slots_per_task_manager: 2),
        source: Generator((partitions: 3, rate_per_s: 200, keys: 8, value: Uniform(min: 1, max: 9),
                           disorder: (delay: Uniform(min_ms: 0, max_ms: 100)))),
        watermarks: BoundedOutOfOrderness(bound_ms: 30_000),
        pipeline: [
            Source(name: "in"),
            Filter(name: "f", f: ValueAtLeast(2)),
            KeyBy(Key),
            Window(name: "w", kind: Sliding(size_ms: 1_000, slide_ms: 500), aggregate: Sum, parallelism: 2),
            Sink(name: "out", kind: TwoPhaseCommit),
        ],
        model: KafkaStreams((commit_interval_ms: Some(700), session_timeout_ms: 1_000, transaction_timeout_ms: 1_500)),
        swarm: (crashes: 2, from_ms: 500, until_ms: 7_000, max_outage_ms: 3_000),
    )"#;
    let base = Scenario::parse(text, "(kstreams swarm)").expect("valid");
    let mut faulty_seeds = 0;
    let (mut moved, mut repeated) = (0, 0);
    for seed in 1..=40 {
        for (g, sink) in [
            (Guarantee::AtLeastOnce, engine::sink::SinkKind::TwoPhaseCommit),
            (Guarantee::ExactlyOnce, engine::sink::SinkKind::TwoPhaseCommit),
        ] {
            let faults = base.faults_for_seed(seed);
            faulty_seeds += usize::from(!faults.is_empty() && g == Guarantee::AtLeastOnce);
            let report = &KafkaStreamsChangelog.reports(&base, seed, &[(g, sink)], &faults)[0];
            assert_eq!(report.stop, sim::StopReason::JobFinished, "seed {seed} {g:?}");
            assert!(report.verdict, "seed {seed} {g:?}: {:?} {}", report.class, report.outcome.counts_text());
            if g == Guarantee::ExactlyOnce {
                assert_eq!(report.class, OutcomeClass::Exact, "seed {seed}");
            }
            moved += usize::from(report.restarts > 0);
            repeated += usize::from(report.class == OutcomeClass::Duplicates);
        }
    }
    assert!(faulty_seeds >= 30, "the swarm drew crashes for most seeds ({faulty_seeds})");
    // The crashes moved tasks, and at-least-once did repeat work: the promises were tested.
    assert!(moved >= 40, "runs with moved tasks: {moved}");
    assert!(repeated >= 10, "at-least-once runs with duplicates: {repeated}");
}

/// Same scenario, same seed: same trace hash (and a different seed, another run).
#[test]
fn a_run_is_deterministic() {
    for guarantee in ["AtLeastOnce", "ExactlyOnceV2"] {
        let a = run_kstreams(windowed(guarantee, 1), 3, false).trace_hash();
        let b = run_kstreams(windowed(guarantee, 1), 3, false).trace_hash();
        let c = run_kstreams(windowed(guarantee, 1), 4, false).trace_hash();
        assert_eq!(a, b, "{guarantee}");
        assert_ne!(a, c, "{guarantee}: the seed draws the data");
    }
}

/// The shipped scenario's lesson, as `compare` shows it.
#[test]
fn the_shipped_failover_scenario_meets_its_declared_outcomes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/kafka-streams-failover.ron");
    let scenario = Arc::new(Scenario::load(&path).expect("loads"));
    assert_eq!(scenario.runtime(), Runtime::KafkaStreams);
    let check = sim::run::check_seed(&scenario, 42);
    assert!(check.failures.is_empty(), "{:?}", check.failures);
    let run = run_kstreams(scenario, 42, false);
    assert!(run.world.stats.restored_records > 0 && run.world.stats.reprocessed > 0);
    // Every window task has work: each repartition partition gets records (by Kafka's
    // partitioner, a hash modulo the partition count; Flink's key groups left 1_1 empty).
    let per_partition: Vec<usize> = run.world.repartition.iter().map(Vec::len).collect();
    assert_eq!(per_partition.len(), 3);
    assert!(per_partition.iter().all(|&n| n > 0), "records per repartition partition: {per_partition:?}");
}

const VALID: &str = r#"Scenario(
    name: "kstreams errors",
    cluster: (task_managers: 2),
    source: Events([(key: "a", value: 1, ts: 5, arrives: 10)]),
    pipeline: [
        Source(name: "in"),
        KeyBy(Key),
        Window(name: "w", kind: Tumbling(size_ms: 10), aggregate: Sum),
        Sink(name: "out"),
    ],
    model: KafkaStreams((guarantee: AtLeastOnce, commit_interval_ms: Some(100), standby_replicas: 1)),
)"#;

/// Parse `text`; expect an error at `field` whose message contains `says`, on the line of `token`.
fn refused(text: &str, field: &str, token: &str, says: &str) {
    let error = Scenario::parse(text, "ks.ron").expect_err("refused");
    let ScenarioError::Invalid { file, line, field: got, message, .. } = &error else {
        panic!("expected Invalid, got {error:?}");
    };
    assert_eq!(file, "ks.ron");
    assert_eq!(got, field, "{error}");
    assert!(message.contains(says), "{error}");
    let want_line = text[..text.find(token).expect("token in text")].matches('\n').count() + 1;
    assert_eq!(*line, want_line, "{error}");
}

#[test]
fn hostile_kafka_streams_settings_are_refused_at_their_field() {
    Scenario::parse(VALID, "ks.ron").expect("the base is valid");
    let with = |from: &str, to: &str| VALID.replace(from, to);
    refused(
        &with("commit_interval_ms: Some(100)", "commit_interval_ms: Some(0)"),
        "model.KafkaStreams.commit_interval_ms",
        "commit_interval_ms",
        "0 ms",
    );
    refused(
        &with("standby_replicas: 1", "standby_replicas: 2"),
        "model.KafkaStreams.standby_replicas",
        "standby_replicas",
        "at least 3 instances",
    );
    refused(
        &with("standby_replicas: 1", "standby_replicas: 1, session_timeout_ms: 0"),
        "model.KafkaStreams.session_timeout_ms",
        "session_timeout_ms",
        "0 ms",
    );
    refused(
        &with("standby_replicas: 1", "standby_replicas: 1, transaction_timeout_ms: 0"),
        "model.KafkaStreams.transaction_timeout_ms",
        "transaction_timeout_ms",
        "0 ms",
    );
    refused(
        &with("commit_interval_ms: Some(100)", "commit_interval_ms: Some(100_000_000_000_000)"),
        "model.KafkaStreams.commit_interval_ms",
        "commit_interval_ms",
        "outside the allowed",
    );
    refused(
        &with("standby_replicas: 1", "standby_replicas: 1, restore_cost_us: 200_000_000_000"),
        "model.KafkaStreams.restore_cost_us",
        "restore_cost_us",
        "outside the allowed",
    );
    refused(
        &with("Tumbling(size_ms: 10)", "Session(gap_ms: 10)"),
        "pipeline[2].Window.kind",
        "Session",
        "session windows",
    );
    refused(
        &with("Source(name: \"in\"),", "Source(name: \"in\"), Rebalance, Map(name: \"m\", f: SetValue(1)),"),
        "pipeline[1].Rebalance",
        "Rebalance",
        "repartition topic",
    );
    refused(
        &with("Window(name: \"w\", kind: Tumbling(size_ms: 10), aggregate: Sum)", "Map(name: \"m\", f: SetValue(1))"),
        "pipeline[1].KeyBy",
        "KeyBy",
        "right before the Window",
    );
    refused(
        &with(
            "    model:",
            "    expect: (outcomes: [(runtime: KafkaStreams, guarantee: AtMostOnce, sink: Plain)]),\n    model:",
        ),
        "expect.outcomes[0].guarantee",
        "AtMostOnce",
        "no at-most-once",
    );
    // An unknown field is serde's error, located too.
    let error = Scenario::parse(&with("standby_replicas: 1", "standby_replicas: 1, acks: 1"), "ks.ron")
        .expect_err("unknown field");
    assert!(error.to_string().contains("acks"), "{error}");
}

/// `can_run` names why a pipeline is not a Kafka Streams application.
#[test]
fn can_run_refuses_what_it_cannot_run_naming_why() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sessions.ron");
    let sessions = Scenario::load(&path).expect("loads");
    let why = KafkaStreamsChangelog.can_run(&sessions).expect_err("session windows are refused").to_string();
    assert!(why.contains("session windows"), "{why}");
    let word_count =
        Scenario::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/storm-word-count.ron"))
            .expect("loads");
    KafkaStreamsChangelog.can_run(&word_count).expect("a keyed window count runs on Kafka Streams");
}
