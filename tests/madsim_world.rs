//! madsim as a second, independent world (crate `madsim-world`, sim/madsim-world): the same engine state machines
//! on madsim's simulated network must give the same sink output as our kernel when nothing
//! fails, keep exactly-once under madsim's kills and network faults, and replay bit for bit.
//!
//! Replay one seed of the exactly-once sweep:
//! `MADSIM_WORLD_SEED=<seed> cargo test --test madsim_world exactly_once -- --nocapture`.
//! Sweep more seeds: `MADSIM_WORLD_SEEDS=1000 cargo test --release --test madsim_world exactly_once`
//! (the Storm, Spark and Kafka Streams kill tests, `promises_hold`, take the same variable).

#![cfg(madsim)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use engine::sink::SinkKind;
use engine::window::Window;
use engine::{Firing, Key};
use madsim_world::storm::run_storm_on_madsim;
use madsim_world::{run_on_madsim, MadsimFaults, MadsimResult, MadsimStop};
use sim::external::StoredRow;
use sim::oracle;
use sim::run::DEFAULT_SEED;
use sim::scenario::{Guarantee, OutcomeClass};
use sim::world::RunOptions;
use sim::{run_scenario, RunResult, Scenario, StopReason};

/// The content of a visible row, without timing: (sink, key, window, value, firing).
type RowContent = (usize, Key, Option<Window>, i64, Firing);

fn multiset(rows: &[&StoredRow]) -> BTreeMap<RowContent, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry((r.sink, r.row.key, r.row.window, r.row.value, r.row.firing)).or_insert(0) += 1;
    }
    m
}

/// Rows of `a` beyond `b` (multiset difference), at most `limit`.
fn extra(a: &BTreeMap<RowContent, usize>, b: &BTreeMap<RowContent, usize>, limit: usize) -> Vec<(RowContent, usize)> {
    a.iter()
        .filter_map(|(k, &n)| {
            let m = b.get(k).copied().unwrap_or(0);
            (n > m).then(|| (*k, n - m))
        })
        .take(limit)
        .collect()
}

fn load(name: &str) -> Scenario {
    Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name)).expect("shipped scenario loads")
}

fn kernel(scenario: &Arc<Scenario>, seed: u64) -> RunResult {
    let run = run_scenario(scenario.clone(), seed, RunOptions { keep_trace: false, ..RunOptions::default() });
    assert_eq!(run.stop, StopReason::JobFinished, "{} seed {seed}", scenario.file);
    assert!(run.world.violations.is_empty(), "{:?}", run.world.violations);
    run
}

/// The scenario of the exactly-once sweep: swarm.ron (a keyed sum over three task managers into a
/// two-phase-commit sink, 6 000 records) without its own faults: madsim brings its own.
fn exactly_once_scenario(sink: SinkKind) -> Arc<Scenario> {
    Arc::new(load("swarm.ron").without_faults().with_variant(Guarantee::ExactlyOnce, Some(sink)))
}

/// Fault-free, the two worlds differ in latencies, scheduling and processing costs, but not in
/// what the sinks finally show. Scenarios with data that can be late are left out: whether a
/// record is late (dropped, sent to the side output, or firing its window again) depends on when
/// it arrives relative to the watermark, which is timing, and timing is what differs. That
/// excludes clickstream.ron (very late records, allowed lateness and a late side output: on-time
/// and late firings of the same window come out with different values in the two worlds) and
/// sliding-disorder.ron (long-tailed disorder, likewise), and the Streaming Systems examples
/// (late by design, and single-node). In the ones kept, disorder stays below the watermark bound;
/// cluster-union.ron's exponential disorder could exceed it, but with seed 42 no record is late,
/// which the test checks.
#[test]
fn fault_free_runs_match_the_kernel() {
    let files = [
        "crash-during-checkpoint.ron",
        "crash-before-commit.ron",
        "forward-only.ron",
        "swarm.ron",
        "sessions.ron",
        "cluster-union.ron",
    ];
    for file in files {
        let scenario = Arc::new(load(file).without_faults());
        let seed = scenario.seed.unwrap_or(DEFAULT_SEED);
        let reference = kernel(&scenario, seed);
        assert_eq!(reference.late_dropped(), 0, "{file}: late data makes the comparison depend on timing");
        let run = run_on_madsim(scenario.clone(), seed, &MadsimFaults::none());
        assert_eq!(run.stop, MadsimStop::JobFinished, "{file} seed {seed}");
        assert_eq!(run.restarts, 0, "{file}: no faults, no failover");
        assert!(run.violations.is_empty(), "{file}: {:?}", run.violations);
        let (want, got) = (multiset(&reference.visible_rows()), multiset(&run.visible_rows()));
        assert!(!want.is_empty(), "{file}: the reference shows rows");
        assert!(
            want == got,
            "{file} seed {seed}: kernel {} rows, madsim {} rows\nonly in the kernel: {:?}\nonly on madsim: {:?}",
            reference.visible_rows().len(),
            run.visible_rows().len(),
            extra(&want, &got, 10),
            extra(&got, &want, 10),
        );
        eprintln!(
            "{file}: {} rows agree; madsim: {} checkpoints, {} packets, finished at {} ms",
            run.visible_rows().len(),
            run.checkpoints_completed,
            run.packets_sent,
            run.finished_at_ns.unwrap_or(0) / 1_000_000
        );
    }
}

fn seeds_to_sweep(default: u64) -> Vec<u64> {
    if let Ok(seed) = std::env::var("MADSIM_WORLD_SEED") {
        return vec![seed.parse().expect("MADSIM_WORLD_SEED is a number")];
    }
    let n = std::env::var("MADSIM_WORLD_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    (1..=n).collect()
}

/// One seed: the kernel's fault-free run is the reference; madsim runs the same data under a
/// fault schedule drawn from the seed. None when exact, else what went wrong.
fn check_exactly_once(scenario: &Arc<Scenario>, seed: u64) -> (Option<String>, MadsimResult) {
    let reference = kernel(scenario, seed);
    let faults = MadsimFaults::random(seed, scenario.task_managers, 1_000, 10_000);
    let run = run_on_madsim(scenario.clone(), seed, &faults);
    let outcome = oracle::evaluate(&reference.observed(), &run.observed());
    let problem = if run.stop != MadsimStop::JobFinished {
        Some(format!("stopped with {:?}", run.stop))
    } else if !run.violations.is_empty() {
        Some(format!("violations {:?}", run.violations))
    } else if outcome.class() != OutcomeClass::Exact {
        Some(format!(
            "{:?}: {} missing rows, {} duplicate rows, {} wrong rows (first missing {:?}, duplicate {:?}, wrong {:?})",
            outcome.class(),
            outcome.missing_rows.len(),
            outcome.duplicate_rows.len(),
            outcome.wrong_rows.len(),
            outcome.missing_rows.first(),
            outcome.duplicate_rows.first(),
            outcome.wrong_rows.first(),
        ))
    } else {
        None
    };
    let problem = problem.map(|p| {
        format!(
            "seed {seed}: {p}\n  faults: {faults:?}\n  restarts {}, checkpoints {} completed / {} aborted\n  replay: MADSIM_WORLD_SEED={seed} cargo test --test madsim_world exactly_once -- --nocapture",
            run.restarts, run.checkpoints_completed, run.checkpoints_aborted
        )
    });
    (problem, run)
}

/// Exactly-once with a two-phase-commit sink holds under madsim's node kills, packet loss,
/// latency and partitions, for every seed of the sweep (default 100).
#[test]
fn exactly_once_survives_madsim_kills_and_network_faults() {
    let scenario = exactly_once_scenario(SinkKind::TwoPhaseCommit);
    let seeds = seeds_to_sweep(100);
    let started = std::time::Instant::now();
    let next = AtomicU64::new(0);
    let failures = Mutex::new(Vec::new());
    let restarts = AtomicU64::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(&seed) = seeds.get(i) else { break };
                let (problem, run) = check_exactly_once(&scenario, seed);
                restarts.fetch_add(run.restarts as u64, Ordering::Relaxed);
                if seeds.len() == 1 {
                    eprintln!(
                        "seed {seed}: {:?}, restarts {}, checkpoints {}/{} aborted, {} packets ({} retransmitted), {} rows",
                        run.stop,
                        run.restarts,
                        run.checkpoints_completed,
                        run.checkpoints_aborted,
                        run.packets_sent,
                        run.retransmissions,
                        run.visible_rows().len()
                    );
                }
                if let Some(p) = problem {
                    eprintln!("{p}");
                    failures.lock().unwrap().push(p);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let restarts = restarts.into_inner();
    eprintln!(
        "exactly-once on madsim: {} seeds, {restarts} failovers, {} failures, {:.1} s",
        seeds.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        seeds.len() < 10 || restarts >= seeds.len() as u64,
        "the fault schedules should cause failovers: {restarts} in {} seeds",
        seeds.len()
    );
}

/// The idempotent sink, on fewer seeds: upserts by (key, window) make replays invisible too.
#[test]
fn exactly_once_with_an_idempotent_sink_on_madsim() {
    let scenario = exactly_once_scenario(SinkKind::Idempotent);
    let mut failures = Vec::new();
    for seed in 1..=10 {
        if let (Some(p), _) = check_exactly_once(&scenario, seed) {
            failures.push(p);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Unaligned checkpoints on madsim: the snapshot saves the in-flight data, and a restore must put
/// it back into the input channels (dropping it loses the records that were between the barriers).
/// Exactly-once holds with both exactly-once sinks, every invariant holds, and the restores did
/// bring in-flight data back (so the path is exercised, not skipped).
#[test]
fn unaligned_checkpoints_restore_in_flight_data_on_madsim() {
    let mut restored = 0;
    let mut failovers = 0;
    let mut failures = Vec::new();
    for sink in [SinkKind::TwoPhaseCommit, SinkKind::Idempotent] {
        let mut base = load("swarm.ron").without_faults().with_variant(Guarantee::ExactlyOnce, Some(sink));
        base.checkpoint_settings.as_mut().expect("swarm.ron checkpoints").unaligned = true;
        let scenario = Arc::new(base);
        assert_eq!(scenario.checkpoint_config().map(|c| c.mode), Some(engine::checkpoint::CheckpointMode::Unaligned));
        for seed in 1..=12 {
            let (problem, run) = check_exactly_once(&scenario, seed);
            restored += run.in_flight_restored;
            failovers += run.restarts;
            failures.extend(problem.map(|p| format!("{sink:?}: {p}")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(failovers > 0, "the fault schedules cause failovers");
    assert!(restored > 0, "some restore brought in-flight data back ({failovers} failovers)");
}

/// Chandy–Lamport markers on madsim: markers in FIFO order, channel state recorded until each
/// input's marker and put back on restore. Exactly-once holds with both exactly-once sinks, every
/// invariant holds (an inconsistent completed checkpoint would be one), the restores brought
/// channel state back, and the snapshot-consistency check ran and held on every completed one.
#[test]
fn chandy_lamport_checkpoints_keep_exactly_once_on_madsim() {
    let (mut restored, mut failovers, mut consistent) = (0, 0, 0);
    let mut failures = Vec::new();
    for sink in [SinkKind::TwoPhaseCommit, SinkKind::Idempotent] {
        let mut base = load("swarm.ron").without_faults().with_variant(Guarantee::ExactlyOnce, Some(sink));
        base.checkpoint_settings.as_mut().expect("swarm.ron checkpoints").chandy_lamport = true;
        let scenario = Arc::new(base);
        assert_eq!(
            scenario.checkpoint_config().map(|c| c.mode),
            Some(engine::checkpoint::CheckpointMode::ChandyLamport)
        );
        for seed in 1..=12 {
            let (problem, run) = check_exactly_once(&scenario, seed);
            restored += run.in_flight_restored;
            failovers += run.restarts;
            consistent += run.checkpoints_consistent;
            if run.checkpoints_inconsistent > 0 || run.checkpoints_consistent != run.checkpoints_completed {
                failures.push(format!(
                    "{sink:?} seed {seed}: {} completed, {} consistent, {} inconsistent",
                    run.checkpoints_completed, run.checkpoints_consistent, run.checkpoints_inconsistent
                ));
            }
            failures.extend(problem.map(|p| format!("{sink:?}: {p}")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(failovers > 0, "the fault schedules cause failovers");
    assert!(restored > 0, "some restore brought channel state back ({failovers} failovers)");
    assert!(consistent > 24, "{consistent} consistent checkpoints");
}

/// The aligned-checkpoint timeout on madsim: checkpoints start aligned and switch to unaligned
/// after 3 ms; the switch happens on madsim's own timers and network, and restores stay exact.
#[test]
fn aligned_checkpoint_timeout_keeps_exactly_once_on_madsim() {
    let mut timed_out = 0;
    let mut failures = Vec::new();
    for sink in [SinkKind::TwoPhaseCommit, SinkKind::Idempotent] {
        let mut base = load("swarm.ron").without_faults().with_variant(Guarantee::ExactlyOnce, Some(sink));
        let settings = base.checkpoint_settings.as_mut().expect("swarm.ron checkpoints");
        settings.unaligned = true;
        settings.aligned_checkpoint_timeout_ms = Some(3);
        let scenario = Arc::new(base);
        assert_eq!(scenario.checkpoint_config().and_then(|c| c.aligned_timeout_ns), Some(3_000_000));
        for seed in 1..=8 {
            let (problem, run) = check_exactly_once(&scenario, seed);
            timed_out += run.alignments_timed_out;
            failures.extend(problem.map(|p| format!("{sink:?}: {p}")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(timed_out > 0, "some alignment timed out on madsim");
}

/// madsim is deterministic: the same seed (and faults) gives the same run, row for row and
/// timestamp for timestamp; another seed gives another run.
#[test]
fn same_seed_same_madsim_run() {
    let scenario = exactly_once_scenario(SinkKind::TwoPhaseCommit);
    let run = |seed: u64| {
        let faults = MadsimFaults::random(seed, scenario.task_managers, 1_000, 10_000);
        run_on_madsim(scenario.clone(), seed, &faults)
    };
    let fingerprint = |r: &MadsimResult| {
        (
            r.stop,
            r.restarts,
            r.checkpoints_completed,
            r.checkpoints_aborted,
            r.finished_at_ns,
            r.records_read,
            r.packets_sent,
            r.retransmissions,
        )
    };
    let (a, b) = (run(7), run(7));
    assert_eq!(fingerprint(&a), fingerprint(&b));
    assert_eq!(a.store.rows, b.store.rows, "every write, in order, with times");
    assert_eq!(a.store.transactions, b.store.transactions);
    assert!(a.restarts > 0, "seed 7's faults cause a failover");
    let c = run(8);
    assert_ne!(fingerprint(&a), fingerprint(&c), "another seed, another schedule");
}

/// The negative control: the same fault schedules do show the anomalies the weaker setups
/// promise (so the sweep above is not passing because nothing happens), and never the ones they
/// rule out: exactly-once state with a plain sink duplicates rows but loses nothing,
/// at-least-once loses nothing, at-most-once duplicates nothing.
#[test]
fn weaker_setups_show_their_anomalies_on_madsim() {
    let base = load("swarm.ron").without_faults();
    let variants = [
        (Guarantee::ExactlyOnce, SinkKind::Plain, OutcomeClass::Duplicates),
        (Guarantee::AtLeastOnce, SinkKind::Plain, OutcomeClass::Duplicates),
        (Guarantee::AtMostOnce, SinkKind::Plain, OutcomeClass::Loss),
    ];
    for (guarantee, sink, expected) in variants {
        let scenario = Arc::new(base.with_variant(guarantee, Some(sink)));
        let mut seen = BTreeMap::new();
        for seed in 1..=10 {
            let reference = kernel(&scenario, seed);
            let faults = MadsimFaults::random(seed, scenario.task_managers, 1_000, 10_000);
            let run = run_on_madsim(scenario.clone(), seed, &faults);
            assert_eq!(run.stop, MadsimStop::JobFinished, "{guarantee:?} seed {seed}");
            let outcome = oracle::evaluate(&reference.observed(), &run.observed());
            let broken = match guarantee {
                Guarantee::AtMostOnce => outcome.has_duplicates(),
                _ => outcome.has_loss(),
            };
            assert!(
                !broken,
                "{guarantee:?} with a {sink:?} sink: {:?} with seed {seed}\n  faults: {faults:?}",
                outcome.class()
            );
            *seen.entry(format!("{:?}", outcome.class())).or_insert(0) += 1;
        }
        eprintln!("{guarantee:?} / {sink:?}: {seen:?}");
        assert!(
            seen.contains_key(&format!("{expected:?}")),
            "{guarantee:?} with a {sink:?} sink never showed {expected:?} in 10 seeds: {seen:?}"
        );
    }
}

/// Failover per pipelined region runs in the madsim world too (the shared `sim::job`): killing
/// the task manager of one forward-only lane restarts that lane only, so at-least-once replays
/// less than under full failover, and exactly-once stays exact.
#[test]
fn regional_failover_on_madsim() {
    let base = load("regional-failover.ron").without_faults();
    let faults = MadsimFaults { kills: vec![(1, 5_000, 1_000)], network: None };
    for seed in 1..=3 {
        let mut duplicates = Vec::new();
        for failover in [sim::job::FailoverStrategy::Region, sim::job::FailoverStrategy::Full] {
            let mut scenario = base.with_variant(Guarantee::AtLeastOnce, Some(SinkKind::Plain));
            scenario.failover = failover;
            let scenario = Arc::new(scenario);
            let reference = kernel(&scenario, seed);
            let run = run_on_madsim(scenario.clone(), seed, &faults);
            assert_eq!(run.stop, MadsimStop::JobFinished, "{failover:?} seed {seed}");
            assert!(run.violations.is_empty(), "{:?}", run.violations);
            assert_eq!(run.restarts, 1, "{failover:?} seed {seed}");
            let outcome = oracle::evaluate(&reference.observed(), &run.observed());
            assert!(!outcome.has_loss(), "{failover:?} seed {seed}: {:?}", outcome.class());
            duplicates.push(outcome.duplicated_records.len());
        }
        assert!(duplicates[0] < duplicates[1], "seed {seed}: region vs full duplicates {duplicates:?}");
        let scenario = Arc::new(base.with_variant(Guarantee::ExactlyOnce, Some(SinkKind::TwoPhaseCommit)));
        let reference = kernel(&scenario, seed);
        let run = run_on_madsim(scenario.clone(), seed, &faults);
        assert_eq!(run.stop, MadsimStop::JobFinished);
        let outcome = oracle::evaluate(&reference.observed(), &run.observed());
        assert_eq!(outcome.class(), OutcomeClass::Exact, "seed {seed}");
    }
}

/// Flink 2.x's restart defaults come from the shared job master, so the madsim world has them
/// too: without checkpointing and without a restart strategy a kill fails the job; with
/// checkpointing (exponential delay by default) the same kill is survived.
#[test]
fn restart_defaults_on_madsim() {
    let mut base = load("regional-failover.ron").without_faults();
    base.restart = None;
    let faults = MadsimFaults { kills: vec![(1, 5_000, 1_000)], network: None };
    let at_most_once = Arc::new(base.with_variant(Guarantee::AtMostOnce, Some(SinkKind::Plain)));
    let run = run_on_madsim(at_most_once, 1, &faults);
    assert_eq!(run.stop, MadsimStop::JobFailed(sim::job::JobFailure::NoRestartStrategy));
    let exactly_once = Arc::new(base.with_variant(Guarantee::ExactlyOnce, Some(SinkKind::TwoPhaseCommit)));
    let run = run_on_madsim(exactly_once, 1, &faults);
    assert_eq!(run.stop, MadsimStop::JobFinished);
    assert_eq!(run.restarts, 1);
}

/// The madsim world is test-only: the shipped binary must not link madsim, whose libc overrides
/// (`clock_gettime`, `getrandom`, `pthread_attr_init`, ...) would otherwise be exported by it.
#[test]
fn the_streamlab_binary_exports_no_madsim_overrides() {
    let out = std::process::Command::new("nm")
        .args(["-D", "--defined-only", env!("CARGO_BIN_EXE_streamlab")])
        .output()
        .expect("nm (binutils) runs");
    assert!(out.status.success(), "nm failed: {}", String::from_utf8_lossy(&out.stderr));
    let symbols = String::from_utf8_lossy(&out.stdout);
    let overrides: Vec<&str> = symbols
        .lines()
        .filter(|l| ["clock_gettime", "getrandom", "pthread_attr_init"].iter().any(|s| l.ends_with(&format!(" {s}"))))
        .collect();
    assert!(overrides.is_empty(), "the binary exports madsim's libc overrides: {overrides:?}");
}

// ---- Storm: the same StormCore on madsim's network --------------------------------------------

const STORM_SCENARIOS: [&str; 3] = ["storm-word-count.ron", "storm-timeout-storm.ron", "storm-trident.ron"];

/// Every Storm scenario, and the word count under each Storm guarantee (acking off, acking,
/// Trident), without faults: madsim's network (1–10 ms datagrams, reordered, put back in order
/// per worker pair) and our kernel's give the same sink rows — same counts, same duplicates (the
/// timeout storm replays tuples that were merely slow in both worlds, since its timeouts come
/// from the spout's backlog, not from the network).
#[test]
fn storm_fault_free_runs_match_the_kernel() {
    let mut cases: Vec<(String, Scenario)> =
        STORM_SCENARIOS.iter().map(|f| (f.to_string(), load(f).without_faults())).collect();
    let word_count = load("storm-word-count.ron").without_faults();
    for g in [Guarantee::AtMostOnce, Guarantee::ExactlyOnce] {
        cases.push((
            format!("storm-word-count.ron as {g:?}"),
            word_count.with_runtime_variant(sim::scenario::Runtime::Storm, g, None),
        ));
    }
    for (name, scenario) in cases {
        let scenario = Arc::new(scenario);
        let seed = scenario.seed.unwrap_or(DEFAULT_SEED);
        let reference = sim::storm::run_storm(scenario.clone(), seed, false);
        assert_eq!(reference.stop, StopReason::JobFinished, "{name}");
        assert_eq!(reference.late_dropped(), 0, "{name}: late data makes the comparison depend on timing");
        let run = run_storm_on_madsim(scenario.clone(), seed, &MadsimFaults::none());
        assert_eq!(run.stop, MadsimStop::JobFinished, "{name} seed {seed}");
        assert!(run.violations.is_empty(), "{name}: {:?}", run.violations);
        let nodes: std::collections::BTreeSet<_> =
            scenario.plan.subtask_ids().map(|id| scenario.node_of_subtask(id)).collect();
        assert!(run.packets_sent > 0 || nodes.len() == 1, "{name}: the workers talk over madsim's network");
        let (want, got) = (multiset(&reference.visible_rows()), multiset(&run.visible_rows()));
        assert!(!want.is_empty(), "{name}: the reference shows rows");
        assert!(
            want == got,
            "{name} seed {seed}: kernel {} rows, madsim {} rows\nonly in the kernel: {:?}\nonly on madsim: {:?}",
            reference.visible_rows().len(),
            run.visible_rows().len(),
            extra(&want, &got, 10),
            extra(&got, &want, 10),
        );
        let (k, m) = (reference.world.stats, run.stats);
        assert_eq!((k.spout_emitted, k.acked), (m.spout_emitted, m.acked), "{name}: emits and acks");
        eprintln!(
            "{name}: {} rows agree; madsim: {} packets, {} ack messages (kernel {}), finished at {} ms (kernel {} ms)",
            run.visible_rows().len(),
            run.packets_sent,
            m.ack_messages,
            k.ack_messages,
            run.finished_at_ns.unwrap_or(0) / 1_000_000,
            reference.world.finished_at_ns.unwrap_or(0) / 1_000_000,
        );
    }
}

/// A record pipeline (every record a sink row) on three workers, for acking's promises: a
/// windowed bolt would drop replays that come back after its watermark passed (a loss the book
/// shows), which is not what these checks are about. `sim/tests/storm.rs` uses the same shape.
const STORM_RECORDS: &str = r#"Scenario(
    name: "storm records under madsim kills",
    duration_ms: 2_000,
    cluster: (task_managers: 3, slots_per_task_manager: 2),
    network: (latency: Uniform(min_ms: 1, max_ms: 4)),
    source: Generator((partitions: 3, rate_per_s: 150, keys: 8, value: Uniform(min: 1, max: 9))),
    pipeline: [
        Source(name: "events", parallelism: 2),
        Map(name: "double", f: MultiplyValue(2), parallelism: 2),
        KeyBy(Key),
        Sink(name: "out", parallelism: 2),
    ],
    model: Storm((ackers: 2, message_timeout_ms: 400, max_spout_pending: Some(50))),
)"#;

/// Worker crashes on madsim (`Handle::kill`, restarted by the supervisor), judged by the oracle
/// against the kernel's fault-free Storm reference, with kills drawn from 8 seeds: acking off
/// never duplicates, acking never loses, Trident (on the word count) is exact — the promises
/// `sim/tests/storm.rs` holds the kernel to. And the word count's own crash (tm-1 at 12 s, back
/// 2 s later) as a madsim kill gives what its `expect` block says for the kernel: acking
/// duplicates, acking off loses, Trident exact.
#[test]
fn storm_promises_hold_under_madsim_kills() {
    let records = Scenario::parse(STORM_RECORDS, "records.ron").expect("test scenario loads");
    let word_count = load("storm-word-count.ron");
    let own = madsim_world::storm::kills_of(&word_count.faults_for_seed(DEFAULT_SEED));
    assert_eq!(own.kills, vec![(1, 12_000, 2_000)], "the scenario's crash of tm-1 becomes one kill");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let cases = [
        ("records", &records, Guarantee::AtMostOnce, 200, 1_800),
        ("records", &records, Guarantee::AtLeastOnce, 200, 1_800),
        ("word count", &word_count, Guarantee::ExactlyOnce, 3_000, 25_000),
    ];
    for (name, base, g, from_ms, until_ms) in cases {
        let reference = sim::run::storm_reference_run(base, DEFAULT_SEED);
        let scenario = Arc::new(base.without_faults().with_runtime_variant(sim::scenario::Runtime::Storm, g, None));
        let mut schedules: Vec<MadsimFaults> = seeds_to_sweep(8)
            .into_iter()
            .map(|seed| MadsimFaults {
                network: None,
                ..MadsimFaults::random(seed, scenario.task_managers, from_ms, until_ms)
            })
            .collect();
        if name == "word count" {
            schedules.push(own.clone());
        }
        for faults in schedules {
            let run = run_storm_on_madsim(scenario.clone(), DEFAULT_SEED, &faults);
            assert_eq!(run.stop, MadsimStop::JobFinished, "{name} {g:?}: {faults:?}");
            assert!(run.violations.is_empty(), "{name} {g:?}: {:?}", run.violations);
            assert!(run.kills >= 1, "{name} {g:?}: a worker died");
            let class = oracle::evaluate(&reference.observed(), &run.observed()).class();
            let kept = match g {
                Guarantee::AtMostOnce => matches!(class, OutcomeClass::Exact | OutcomeClass::Loss),
                Guarantee::AtLeastOnce => matches!(class, OutcomeClass::Exact | OutcomeClass::Duplicates),
                _ => class == OutcomeClass::Exact,
            };
            assert!(kept, "{name} {g:?} on madsim, kills {:?}: {class:?}", faults.kills);
            *seen.entry(format!("{name} {g:?} {class:?}")).or_insert(0) += 1;
        }
    }
    eprintln!("Storm on madsim under kills: {seen:?}");
    assert!(seen.contains_key("records AtMostOnce Loss"), "a kill loses tuples without acking: {seen:?}");
    assert!(seen.contains_key("records AtLeastOnce Duplicates"), "a kill replays tuples under acking: {seen:?}");
    // The word count's own crash, under acking and acking off.
    for (g, want) in [(Guarantee::AtLeastOnce, OutcomeClass::Duplicates), (Guarantee::AtMostOnce, OutcomeClass::Loss)] {
        let reference = sim::run::storm_reference_run(&word_count, DEFAULT_SEED);
        let scenario =
            Arc::new(word_count.without_faults().with_runtime_variant(sim::scenario::Runtime::Storm, g, None));
        let run = run_storm_on_madsim(scenario, DEFAULT_SEED, &own);
        assert_eq!(run.stop, MadsimStop::JobFinished, "word count {g:?}");
        let class = oracle::evaluate(&reference.observed(), &run.observed()).class();
        assert_eq!(class, want, "word count {g:?} with tm-1 killed at 12 s on madsim");
    }
}

/// The Storm runtime on madsim replays bit for bit: the same seed and kills give the same trace,
/// counters and rows.
#[test]
fn same_seed_same_storm_madsim_run() {
    let base = load("storm-word-count.ron");
    let faults = madsim_world::storm::kills_of(&base.faults_for_seed(DEFAULT_SEED));
    let scenario = Arc::new(base.without_faults());
    let (a, b) = (run_storm_on_madsim(scenario.clone(), 9, &faults), run_storm_on_madsim(scenario, 9, &faults));
    assert_eq!(a.kills, 1);
    assert_eq!(a.stats, b.stats);
    assert_eq!(a.finished_at_ns, b.finished_at_ns);
    assert_eq!(a.packets_sent, b.packets_sent);
    assert!(a.events == b.events, "the same trace");
    assert_eq!(multiset(&a.visible_rows()), multiset(&b.visible_rows()));
}

/// swarm.ron's data, fault-free, with its sources fetching through a Kafka consumer whose broker
/// is `fetch_latency_ms` one way (`fetch_latency_us` on the `Source` step).
fn fetch_scenario(guarantee: Guarantee, sink: SinkKind, fetch_latency_ms: u64) -> Scenario {
    let mut scenario = load("swarm.ron").without_faults().with_variant(guarantee, Some(sink));
    let source = scenario.plan.subtask(engine::graph::SubtaskId::from_raw(0)).operator;
    scenario.fetch_latency_ns[source] = fetch_latency_ms * 1_000_000;
    scenario
}

/// Per source subtask and attempt: when it was deployed, and the distinct instants it read at.
fn read_instants(run: &MadsimResult) -> BTreeMap<(engine::graph::SubtaskId, u32), (u64, Vec<u64>)> {
    let mut out: BTreeMap<_, (u64, Vec<u64>)> = BTreeMap::new();
    for &(subtask, attempt, at_ns) in &run.source_deployments {
        out.insert((subtask, attempt), (at_ns, Vec::new()));
    }
    for &(subtask, attempt, at_ns) in &run.source_reads {
        let instants = &mut out.get_mut(&(subtask, attempt)).expect("a read comes after its deployment").1;
        if instants.last() != Some(&at_ns) {
            instants.push(at_ns);
        }
    }
    out
}

/// The madsim world's sources read through the kernel's Kafka fetch rule
/// (`sim::source_cursor`): a fresh reader registers with the job manager first (a round trip on
/// madsim's network, at least 2 × 1 ms here) and then fetches (a request out and an answer back,
/// 2 × 10 ms), so no source reads before 22 ms after its deployment; and a source reads at answer
/// arrivals only, which are a fetch round trip (20 ms) apart: every read instant after the first
/// needs an answer that arrived since the one before, so a span of `s` holds at most
/// `s / 20 ms + 2` of them. The same run without the fetch breaks both (the
/// control: the checks can fail), and both runs' sinks agree with the kernel's.
#[test]
fn madsim_sources_read_through_the_kafka_fetch() {
    let network = Some(madsim_world::NetworkFaults { latency_ms: (1, 2), packet_loss_rate: 0.0, partitions: vec![] });
    let faults = MadsimFaults { kills: vec![], network };
    let (one_way_ns, round_trip_min_ns) = (10_000_000, 2_000_000);
    for fetch_latency_ms in [10, 0] {
        let scenario = Arc::new(fetch_scenario(Guarantee::ExactlyOnce, SinkKind::TwoPhaseCommit, fetch_latency_ms));
        let seed = 7;
        let run = run_on_madsim(scenario.clone(), seed, &faults);
        assert_eq!(run.stop, MadsimStop::JobFinished, "fetch {fetch_latency_ms} ms");
        assert!(run.violations.is_empty(), "{:?}", run.violations);
        let outcome = oracle::evaluate(&kernel(&scenario, seed).observed(), &run.observed());
        assert_eq!(outcome.class(), OutcomeClass::Exact, "fetch {fetch_latency_ms} ms: the worlds agree");
        let sources = read_instants(&run);
        assert_eq!(sources.len(), 2, "two source subtasks, deployed once");
        let (mut early, mut unbatched) = (0, 0);
        for (&(subtask, _), (deployed_ns, instants)) in &sources {
            let (first, last) = (instants[0], instants[instants.len() - 1]);
            let bound = (last - first) / (2 * one_way_ns) + 2;
            eprintln!(
                "fetch {fetch_latency_ms} ms, {subtask}: deployed at {deployed_ns} ns, first read {} µs later, {} read instants (fetch bound {bound})",
                (first - deployed_ns) / 1_000,
                instants.len()
            );
            early += usize::from(first < deployed_ns + round_trip_min_ns + 2 * one_way_ns);
            unbatched += usize::from(instants.len() as u64 > bound);
        }
        if fetch_latency_ms > 0 {
            assert_eq!((early, unbatched), (0, 0), "registration, then batched fetches");
        } else {
            assert_eq!((early, unbatched), (2, 2), "the control: reading at append time breaks both");
        }
    }
}

/// A fetch scenario with a crash, in both worlds, judged against the kernel's fault-free run:
/// tm-1 (a source's and a window's host) crashes at 4 s and is back 1 s later — in the kernel as
/// a scenario fault, on madsim as a kill. Exactly-once is exact in both; at-least-once loses
/// nothing in both and replays in both (the same verdict); and the crashed sources start fetching
/// again, a fetch round trip after their restore.
#[test]
fn fetch_with_a_crash_keeps_the_guarantees_in_both_worlds() {
    let kills = MadsimFaults { kills: vec![(1, 4_000, 1_000)], network: None };
    for (guarantee, sink) in
        [(Guarantee::ExactlyOnce, SinkKind::TwoPhaseCommit), (Guarantee::AtLeastOnce, SinkKind::Plain)]
    {
        let clean = Arc::new(fetch_scenario(guarantee, sink, 5));
        let mut crashed = (*clean).clone();
        crashed.faults = vec![sim::faults::Fault::Crash {
            node: sim::scenario::NodeId::task_manager(1),
            at: sim::faults::Trigger::At(4_000_000_000),
            restart_after_ns: Some(1_000_000_000),
        }];
        let crashed = Arc::new(crashed);
        for seed in 1..=3 {
            let reference = kernel(&clean, seed);
            let kernel_run = kernel(&crashed, seed);
            let madsim_run = run_on_madsim(clean.clone(), seed, &kills);
            assert_eq!(madsim_run.stop, MadsimStop::JobFinished, "{guarantee:?} seed {seed}");
            assert!(madsim_run.violations.is_empty(), "{:?}", madsim_run.violations);
            assert!(madsim_run.restarts >= 1, "{guarantee:?} seed {seed}: the kill caused a failover");
            let in_kernel = oracle::evaluate(&reference.observed(), &kernel_run.observed());
            let on_madsim = oracle::evaluate(&reference.observed(), &madsim_run.observed());
            eprintln!("{guarantee:?} seed {seed}: kernel {:?}, madsim {:?}", in_kernel.class(), on_madsim.class());
            let expected = match guarantee {
                Guarantee::ExactlyOnce => OutcomeClass::Exact,
                _ => OutcomeClass::Duplicates,
            };
            assert_eq!((in_kernel.class(), on_madsim.class()), (expected, expected), "{guarantee:?} seed {seed}");
            let restarted = read_instants(&madsim_run).into_iter().filter(|((_, attempt), _)| *attempt > 0);
            for ((subtask, attempt), (deployed_ns, instants)) in restarted {
                let first = instants.first().copied().unwrap_or(u64::MAX);
                assert!(
                    first >= deployed_ns + 2 * 5_000_000,
                    "{subtask} attempt {attempt}: read before its first fetch came back"
                );
            }
        }
    }
}

/// The Spark runtime on madsim: the same `SparkCore` as the kernel's Spark world. Fault-free it
/// writes the kernel's rows; under madsim kills of the driver and of executors (the shipped
/// scenario's own driver crash mid-batch, and schedules drawn from 6 seeds) each variant keeps
/// the promise `sim/tests/spark.rs` holds the kernel to — a checkpoint location with a plain sink
/// loses nothing, with a sink by batch id it is exact — judged against the kernel's fault-free
/// run of the same query. One rule in one place: both worlds use it.
#[test]
fn spark_promises_hold_under_madsim_kills() {
    use madsim_world::spark::{kills_of, run_spark_on_madsim, SparkKills};
    use sim::scenario::{NodeId, Runtime, JOB_MANAGER};
    let base = load("spark-micro-batch.ron");
    let own = kills_of(&base.faults_for_seed(DEFAULT_SEED));
    assert_eq!(own.kills, vec![(JOB_MANAGER, 7_040, 2_000)], "the driver crash becomes one kill");
    // Drawn schedules: the driver and one executor killed at times in [2 s, 24 s).
    let drawn = |seed: u64| {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let tm = NodeId::task_manager(next(2) as u32);
        SparkKills {
            kills: vec![
                (JOB_MANAGER, 2_000 + next(22_000), 200 + next(2_000)),
                (tm, 2_000 + next(22_000), 200 + next(2_000)),
            ],
        }
    };
    let mut retried = 0;
    let mut duplicated = 0;
    for (g, sink) in [
        (Guarantee::AtLeastOnce, SinkKind::Plain),
        (Guarantee::ExactlyOnce, SinkKind::Idempotent),
        (Guarantee::ExactlyOnce, SinkKind::TwoPhaseCommit),
    ] {
        let scenario = Arc::new(base.without_faults().with_runtime_variant(Runtime::Spark, g, Some(sink)));
        let reference = sim::run::spark_reference_run(&scenario, DEFAULT_SEED);
        let fault_free = run_spark_on_madsim(scenario.clone(), DEFAULT_SEED, &SparkKills::default());
        assert_eq!(fault_free.stop, MadsimStop::JobFinished);
        assert_eq!(
            multiset(&fault_free.visible_rows()),
            multiset(&reference.visible_rows()),
            "{g:?} {sink:?}: madsim and the kernel write the same rows without faults"
        );
        // And the driver killed 1 ms after the first row of a batch was written on madsim, before
        // that batch can commit: mid-batch, as the scenario's own crash is in the kernel.
        let first_row_ms = fault_free.store.rows.iter().map(|r| r.written_ns).min().expect("rows") / 1_000_000;
        let mid_batch = SparkKills { kills: vec![(JOB_MANAGER, first_row_ms + 1, 2_000)] };
        let schedules = [own.clone(), mid_batch].into_iter().chain(seeds_to_sweep(6).into_iter().map(drawn));
        for kills in schedules {
            let run = run_spark_on_madsim(scenario.clone(), DEFAULT_SEED, &kills);
            assert_eq!(run.stop, MadsimStop::JobFinished, "{g:?} {sink:?}: {kills:?}");
            assert!(run.kills >= 1);
            let outcome = oracle::evaluate(&reference.observed(), &run.observed());
            assert!(
                outcome.verdict(g),
                "{g:?} {sink:?} on madsim, kills {kills:?}: {:?} {}",
                outcome.class(),
                outcome.counts_text()
            );
            retried += run.stats.task_retries + run.stats.reruns;
            duplicated += usize::from(!outcome.duplicated_records.is_empty());
        }
    }
    assert!(retried > 0, "the kills re-ran batches or tasks");
    assert!(duplicated > 0, "a plain sink saw a re-run batch's rows twice");
}

/// Kafka Streams on madsim: the same core under madsim kills of instances (back after 0.2–3 s)
/// keeps each guarantee's promise against the kernel's fault-free run — at-least-once loses
/// nothing (and repeats work), exactly-once v2 with a `read_committed` reader is exact — and the
/// same seed and kills replay the same trace.
#[test]
fn kafka_streams_promises_hold_under_madsim_kills() {
    let base = load("kafka-streams-failover.ron");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for g in [Guarantee::AtLeastOnce, Guarantee::ExactlyOnce] {
        let reference = sim::kstreams::judge::reference_run(&base, DEFAULT_SEED, g);
        let scenario = Arc::new(base.without_faults().with_runtime_variant(
            sim::scenario::Runtime::KafkaStreams,
            g,
            Some(SinkKind::TwoPhaseCommit),
        ));
        for seed in seeds_to_sweep(6) {
            let faults =
                MadsimFaults { network: None, ..MadsimFaults::random(seed, scenario.task_managers, 2_000, 20_000) };
            let run = madsim_world::kstreams::run_kstreams_on_madsim(scenario.clone(), DEFAULT_SEED, &faults);
            assert_eq!(run.stop, MadsimStop::JobFinished, "{g:?}: {faults:?}");
            assert!(run.kills >= 1, "{g:?}: an instance died");
            let class = oracle::evaluate(&reference.observed(), &run.observed()).class();
            let kept = match g {
                Guarantee::AtLeastOnce => matches!(class, OutcomeClass::Exact | OutcomeClass::Duplicates),
                _ => class == OutcomeClass::Exact,
            };
            assert!(kept, "{g:?} on madsim, kills {:?}: {class:?}", faults.kills);
            *seen.entry(format!("{g:?} {class:?}")).or_insert(0) += 1;
        }
    }
    eprintln!("Kafka Streams on madsim under kills: {seen:?}");
    assert!(seen.contains_key("AtLeastOnce Duplicates"), "a kill repeats work under at-least-once: {seen:?}");
    let faults = MadsimFaults { kills: vec![(0, 12_000, 2_000)], network: None };
    let scenario = Arc::new(base.without_faults());
    let a = madsim_world::kstreams::run_kstreams_on_madsim(scenario.clone(), 9, &faults);
    let b = madsim_world::kstreams::run_kstreams_on_madsim(scenario, 9, &faults);
    assert_eq!(a.stats, b.stats);
    assert!(a.stats.restores >= 1);
    assert!(a.events == b.events, "the same trace");
}
