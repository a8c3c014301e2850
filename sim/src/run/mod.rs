//! Running a scenario from start to end, and what comes out of it.

use std::sync::Arc;

use engine::checkpoint::SnapshotAlignment;
use engine::graph::SubtaskId;
use engine::sink::SinkKind;

use crate::external::RowState;
use crate::faults::{Fault, Trigger};
use crate::kernel::TimeNs;
use crate::oracle::{self, Outcome};
use crate::recording::{CheckpointFigures, CheckpointOutcome};
use crate::scenario::{Guarantee, NodeId, OutcomeClass, Runtime, Scenario};
use crate::world::{RunOptions, StopReason, World};

/// Verdicts: one run judged, a seed checked against the scenario's expectations.
mod judge;
pub use judge::*;
/// `compare --checkpoint-mode`: the exactly-once row per barrier rule.
mod modes;
pub use modes::*;
pub mod core_model;

/// The seed used when neither the command line nor the scenario pins one.
pub const DEFAULT_SEED: u64 = 42;

/// The faults `--swarm` adds to a scenario that has none: two crashes, a partition, a latency
/// spike and a slow node somewhere between 10 % and 90 % of the input's duration.
pub fn default_swarm(duration_ms: u64) -> crate::scenario::Swarm {
    crate::scenario::Swarm {
        crashes: 2,
        partitions: 1,
        latency_spikes: 1,
        slow_nodes: 1,
        from_ms: duration_ms / 10,
        until_ms: (duration_ms * 9 / 10).max(duration_ms / 10 + 1),
        max_outage_ms: 3_000,
        include_job_manager: true,
    }
}

/// What `--swarm` does to a scenario: add [`default_swarm`] faults when it declares no swarm of
/// its own. Every command that takes `--swarm` (run, compare, replay, sweep, shrink) calls this,
/// so a seed means the same faults in all of them.
pub fn with_swarm(mut scenario: Scenario) -> Scenario {
    if scenario.swarm.is_none() {
        scenario.swarm = Some(default_swarm(scenario.duration_ms));
    }
    scenario
}

/// A finished run: the world in its final state (recording included).
pub struct RunResult {
    pub world: World,
    pub stop: StopReason,
}

impl RunResult {
    pub fn trace_hash(&self) -> u64 {
        self.world.recorder.hash()
    }
    /// Records dropped as late, over all window operators and every job attempt.
    pub fn late_dropped(&self) -> u64 {
        SubtaskId::all(self.world.tasks.len()).map(|s| self.world.total_counters(s).late_dropped).sum()
    }
    /// Visible rows per sink in the order they became visible.
    pub fn visible_rows(&self) -> Vec<&crate::external::StoredRow> {
        self.world.sink_store.visible()
    }
    /// Per visible row, how long after the source record it carries was appended it became
    /// visible (end-to-end latency of an unwindowed pipeline, whose rows carry one record each;
    /// a row's first record otherwise).
    pub fn append_to_visible_ns(&self) -> Vec<u64> {
        let log = &self.world.log;
        self.visible_rows()
            .iter()
            .map(|r| {
                let appended_ns = r.row.lineage.first().and_then(|&at| log.entry(at)).map_or(0, |e| e.append_ns);
                r.visible_ns.unwrap_or(r.written_ns).saturating_sub(appended_ns)
            })
            .collect()
    }
    /// What the oracle sees of this run.
    pub fn observed(&self) -> oracle::Observed<'_> {
        self.world.observed()
    }
    pub fn rows_in_state(&self, state: RowState) -> usize {
        self.world.sink_store.rows.iter().filter(|r| r.state == state).count()
    }
}

/// Run `scenario` with `seed` to the end.
pub fn run_scenario(scenario: Arc<Scenario>, seed: u64, options: RunOptions) -> RunResult {
    run_to_end(World::new(scenario, seed, options))
}

fn run_to_end(mut world: World) -> RunResult {
    let stop = world.run();
    RunResult { world, stop }
}

/// One row of `streamlab compare`: a guarantee and sink kind under the same seed and faults.
#[derive(Clone, Debug, serde::Serialize)]
pub struct VariantReport {
    pub guarantee: Guarantee,
    pub sink: SinkKind,
    pub outcome: Outcome,
    pub class: OutcomeClass,
    pub verdict: bool,
    pub checkpoints_completed: usize,
    pub checkpoints_aborted: usize,
    /// Checkpoint durations (trigger to completion) and how many checkpoints stayed aligned or
    /// timed out to unaligned; in the JSON as four fields of the report itself.
    #[serde(flatten)]
    pub checkpoint_figures: CheckpointFigures,
    pub alignment_p50_ns: u64,
    pub alignment_max_ns: u64,
    /// Aligned-checkpoint timeout: subtask snapshots that started aligned and timed out to
    /// unaligned (left out of the JSON when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub snapshots_timed_out: usize,
    /// Aligned-checkpoint timeout: subtask snapshots (of subtasks with inputs) that stayed
    /// aligned (left out of the JSON when 0).
    #[serde(skip_serializing_if = "is_zero")]
    pub snapshots_aligned: usize,
    /// End-to-end latency of the visible rows, median and 99th percentile: [`row_latency_ns`].
    pub latency_p50_ns: u64,
    pub latency_p99_ns: u64,
    pub restarts: u32,
    pub stop: StopReason,
    /// How the fault-free reference run ended. Unless it finished, the outcome compares with an
    /// incomplete output and is no verdict (left out of the JSON when it finished).
    #[serde(skip_serializing_if = "StopReason::is_finished")]
    pub reference_stop: StopReason,
    pub violations: Vec<String>,
    /// Faults of the schedule this variant never suffered, each with the reason (a protocol
    /// point it never reached, a time after the job finished): its verdict does not cover them.
    pub faults_not_injected: Vec<String>,
    pub trace_hash: u64,
    /// Flink, or Storm (whose exactly-once is Trident).
    pub runtime: Runtime,
    /// Source records fully processed per second of virtual time until the job finished.
    pub throughput_per_s: u64,
    /// Storm's figures (None for Flink rows).
    pub storm: Option<StormFigures>,
    /// How the subtasks spent the run, Flink's web UI style: the highest busy and backpressured
    /// and the lowest idle ms per second over all subtasks (None for Storm rows).
    pub time_use_max: Option<crate::time_use::MsPerSecond>,
}

/// What a Storm row of `compare` adds: the cost of acking and what timeouts did.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct StormFigures {
    /// Acker messages (inits, acks, the acker's acks to the spout) per source record.
    pub ack_messages_per_tuple: f64,
    /// Tuples emitted again (after a timeout or fail, or re-read by a restarted spout), plus
    /// replayed Trident batches (one each).
    pub replays: u64,
    pub timeouts: u64,
    pub ack_messages: u64,
    pub trident_batches: u64,
}

/// Records per second over `until_ns` of virtual time.
fn per_second(records: usize, until_ns: u64) -> u64 {
    (records as u128 * 1_000_000_000 / u128::from(until_ns.max(1))) as u64
}

/// The faults of `world`'s schedule that did not happen (so far), each described with why.
pub fn faults_not_injected(world: &World) -> Vec<String> {
    let scenario = &world.scenario;
    let at = |ns| crate::report::format_virtual(scenario, ns);
    let end = match world.finished_at_ns {
        Some(t) => format!("the job finished first (at {})", at(t)),
        None => format!("the run ended first (at {})", at(world.now_ns())),
    };
    let already_down = crate::faults::crashes_on_a_node_already_down(&world.faults, &world.fault_fired_at);
    world
        .faults
        .iter()
        .zip(&world.fault_fired_at)
        .zip(already_down)
        .filter_map(|((fault, fired), already_down)| {
            let why = match fault {
                Fault::CheckpointStorageFailure { checkpoint } => {
                    if world.checkpoints.iter().any(|c| c.id == *checkpoint) {
                        return None;
                    }
                    format!("checkpoint {checkpoint} was never triggered")
                }
                _ if fired.is_some() => already_down_clause(&world.faults, already_down, scenario)?,
                Fault::Crash { at: Trigger::At(_), .. } => end.clone(),
                Fault::Crash { .. } => "the run never reached that point of the protocol".to_string(),
                _ => end.clone(),
            };
            Some(format!("{}: not injected, {why}", fault.describe(scenario)))
        })
        .collect()
}

/// Why a crash that fired did nothing: `by`, an earlier crash, had already taken its node down
/// (see [`crate::faults::crashes_on_a_node_already_down`]). None when it acted.
pub(crate) fn already_down_clause(faults: &[Fault], by: Option<usize>, scenario: &Scenario) -> Option<String> {
    let by = &faults[by?];
    let Fault::Crash { node, .. } = by else { return None };
    Some(format!("{} was already down ({})", NodeId::name(*node), by.describe(scenario)))
}

/// The variants `compare` always shows.
pub const COMPARED_VARIANTS: [(Guarantee, SinkKind); 5] = [
    (Guarantee::AtMostOnce, SinkKind::Plain),
    (Guarantee::AtLeastOnce, SinkKind::Plain),
    (Guarantee::ExactlyOnce, SinkKind::Plain),
    (Guarantee::ExactlyOnce, SinkKind::Idempotent),
    (Guarantee::ExactlyOnce, SinkKind::TwoPhaseCommit),
];

/// The fault schedule of `scenario` with `seed`, as times: crashes tied to a protocol point
/// ("after checkpoint 3 completed") happen where they happened in a run of the scenario as
/// written, so that every guarantee suffers the same crashes even if it has no such point.
/// A protocol point the scenario as written never reaches (a pre-commit with a plain sink) stays
/// a protocol point: each variant crashes there if it reaches it, and
/// [`VariantReport::faults_not_injected`] says so when it does not.
pub fn fault_schedule_in_time(scenario: &Arc<Scenario>, seed: u64) -> Vec<Fault> {
    let faults = scenario.faults_for_seed(seed);
    if !faults.iter().any(|f| matches!(f, Fault::Crash { at, .. } if !matches!(at, Trigger::At(_)))) {
        return faults;
    }
    let mut probe = World::with_faults(
        scenario.clone(),
        seed,
        RunOptions { keep_trace: false, ..RunOptions::default() },
        faults.clone(),
    );
    probe.run();
    faults
        .into_iter()
        .zip(probe.fault_fired_at.iter())
        .map(|(f, fired)| match f {
            Fault::Crash { node, at, restart_after_ns } if !matches!(at, Trigger::At(_)) => {
                Fault::Crash { node, at: fired.map_or(at, Trigger::At), restart_after_ns }
            }
            other => other,
        })
        .collect()
}

/// The oracle's reference: the scenario as written, without faults, same seed.
pub fn reference_run(scenario: &Scenario, seed: u64) -> RunResult {
    run_to_end(reference_world(scenario, seed))
}

fn reference_world(scenario: &Scenario, seed: u64) -> World {
    let options = RunOptions { keep_trace: false, ..RunOptions::default() };
    World::new(Arc::new(scenario.without_faults()), seed, options)
}

/// A seed's fault-free reference run ([`reference_run`]) and, taken on the way, its world just
/// before `faults` first act. Until then a run of the scenario as written under those faults
/// is the reference run itself, so that variant starts from the copy ([`run_variant_from`])
/// instead of running the same first seconds again.
pub struct Reference {
    pub run: RunResult,
    before_faults: Option<World>,
}

impl Reference {
    /// The reference run of `scenario` and `seed`, keeping its world as it is before `faults`.
    pub fn new(scenario: &Scenario, seed: u64, faults: &[Fault]) -> Reference {
        let mut world = reference_world(scenario, seed);
        let before_faults = first_fault_ns(faults).and_then(|at_ns| {
            // A task's runs are taken inline only before the next queued event; a fault's
            // event would be one, so the reference queues every run from the fault's time on
            // (the same run: `World::inline_runs`), lest it run past that time.
            world.inline_runs_before_ns = at_ns;
            world.run_until(at_ns.checked_sub(1)?);
            world.stop_reason().is_none().then(|| world.clone())
        });
        world.inline_runs_before_ns = TimeNs::MAX;
        Reference { run: run_to_end(world), before_faults }
    }
}

/// When the first of `faults` acts, if every one of them acts at a time (a crash at a protocol
/// point or a checkpoint storage failure has no time to fork before).
fn first_fault_ns(faults: &[Fault]) -> Option<TimeNs> {
    let mut first: Option<TimeNs> = None;
    for f in faults {
        let at = f.start_ns()?;
        first = Some(first.map_or(at, |f| f.min(at)));
    }
    first
}

/// Run one variant under `faults` and hold it against the fault-free `reference` (see
/// [`reference_run`]; every variant shares one, since faults, not guarantees, change content).
/// The variant reads the reference's source log (the same scenario and seed built it) instead
/// of building its own.
pub fn run_variant(
    scenario: &Scenario,
    seed: u64,
    guarantee: Guarantee,
    sink: SinkKind,
    faults: Vec<Fault>,
    reference: &RunResult,
) -> VariantReport {
    let variant = Arc::new(scenario.with_variant(guarantee, Some(sink)));
    let world = fresh_variant_world(variant, seed, faults, reference);
    judge_variant(world, guarantee, sink, reference)
}

/// [`run_variant`] against a [`Reference`]: the variant that is the scenario as written starts
/// from the reference's world before the faults, with the faults added to it — the same run as
/// from the start (`tests` check the trace hashes), the first seconds not run twice.
pub fn run_variant_from(
    scenario: &Scenario,
    seed: u64,
    guarantee: Guarantee,
    sink: SinkKind,
    faults: Vec<Fault>,
    reference: &Reference,
) -> VariantReport {
    let variant = Arc::new(scenario.with_variant(guarantee, Some(sink)));
    let forked = reference.before_faults.as_ref().filter(|_| scenario.is_as_written(guarantee, sink)).and_then(|w| {
        // Added now, the faults act as if listed from the start only where nothing already
        // queued shares their times (see `World::add_fault`).
        faults.iter().all(|f| w.fault_times_free(f)).then(|| {
            let mut world = w.clone();
            world.scenario = variant.clone();
            for f in &faults {
                world.add_fault(f.clone());
            }
            // The faults are queued now: inline runs stop before them.
            world.inline_runs_before_ns = TimeNs::MAX;
            world
        })
    });
    let world = forked.unwrap_or_else(|| fresh_variant_world(variant, seed, faults, &reference.run));
    judge_variant(world, guarantee, sink, &reference.run)
}

fn fresh_variant_world(variant: Arc<Scenario>, seed: u64, faults: Vec<Fault>, reference: &RunResult) -> World {
    let options = RunOptions { keep_trace: false, ..RunOptions::default() };
    // The source log depends only on the scenario's input and the seed: the reference built it.
    if reference.world.seed == seed {
        World::with_faults_and_log(variant, seed, options, faults, reference.world.log.clone())
    } else {
        World::with_faults(variant, seed, options, faults)
    }
}

/// End-to-end latency of a visible row: from when the newest of its source records was appended
/// to the source log to when the row became visible. The same measure in every model, and one a
/// recovery does not reset: a record read again after a restore (from a checkpoint's offsets, a
/// Storm replay, a committed offset) keeps its append time, as in-flight data restored from an
/// unaligned checkpoint's channel state does; time a record waits in the log while the sources
/// are backpressured or the job is down counts. (Measured from the source's read, as the
/// row's `ingest_ns` is, a re-read restarted the clock and a restored channel state did not.)
/// Without lineage (`track_lineage: false`), from when the row's newest record was read.
pub fn row_latency_ns(row: &crate::external::StoredRow, log: &crate::external::SourceLog) -> u64 {
    let appended_ns = row.row.lineage.iter().filter_map(|&at| log.entry(at)).map(|e| e.append_ns).max();
    row.visible_ns.unwrap_or(row.written_ns).saturating_sub(appended_ns.unwrap_or(row.row.ingest_ns))
}

/// Run `world` (a variant) to its end and judge it against `reference`.
fn judge_variant(world: World, guarantee: Guarantee, sink: SinkKind, reference: &RunResult) -> VariantReport {
    judge_run(&run_to_end(world), guarantee, sink, reference)
}

/// A finished variant `run` judged against `reference`: its row of `compare`.
fn judge_run(run: &RunResult, guarantee: Guarantee, sink: SinkKind, reference: &RunResult) -> VariantReport {
    let outcome = oracle::evaluate(&reference.observed(), &run.observed());
    let class = outcome.class();
    let world = &run.world;
    let mut alignments: Vec<u64> = world
        .checkpoints
        .iter()
        .flat_map(|c| c.subtasks.iter())
        .filter(|s| world.scenario.plan.has_multiple_inputs(s.subtask))
        .map(|s| s.alignment_ns)
        .collect();
    let mut latencies: Vec<u64> = run.visible_rows().iter().map(|r| row_latency_ns(r, &world.log)).collect();
    let end_ns = world.finished_at_ns.unwrap_or(world.now_ns());
    let shares: Vec<crate::time_use::MsPerSecond> =
        world.time_use.iter().map(|t| t.per_second(end_ns, end_ns)).collect();
    let time_use_max = crate::time_use::MsPerSecond {
        busy: shares.iter().map(|s| s.busy).max().unwrap_or(0),
        backpressured: shares.iter().map(|s| s.backpressured).max().unwrap_or(0),
        idle: shares.iter().map(|s| s.idle).min().unwrap_or(0),
    };
    VariantReport {
        time_use_max: Some(time_use_max),
        guarantee,
        sink,
        verdict: outcome.verdict(guarantee),
        class,
        outcome,
        checkpoints_completed: world
            .checkpoints
            .iter()
            .filter(|c| matches!(c.outcome, CheckpointOutcome::Completed { .. }))
            .count(),
        checkpoints_aborted: world
            .checkpoints
            .iter()
            .filter(|c| matches!(c.outcome, CheckpointOutcome::Aborted { .. }))
            .count(),
        checkpoint_figures: CheckpointFigures::of(&world.checkpoints, &world.scenario.plan),
        alignment_p50_ns: oracle::percentile(&mut alignments, 50).unwrap_or(0),
        alignment_max_ns: alignments.iter().copied().max().unwrap_or(0),
        snapshots_timed_out: snapshots_with(world, SnapshotAlignment::TimedOut),
        snapshots_aligned: if world.scenario.checkpoint_config().is_some_and(|c| c.aligned_timeout_ns.is_some()) {
            snapshots_with(world, SnapshotAlignment::Aligned)
        } else {
            0
        },
        latency_p50_ns: oracle::percentile(&mut latencies, 50).unwrap_or(0),
        latency_p99_ns: oracle::percentile(&mut latencies, 99).unwrap_or(0),
        restarts: world.restarts(),
        stop: run.stop,
        reference_stop: reference.stop,
        violations: world.violations.iter().map(|v| v.violation.to_string()).collect(),
        faults_not_injected: faults_not_injected(world),
        trace_hash: world.recorder.hash(),
        runtime: Runtime::Flink,
        throughput_per_s: per_second(world.log.len(), world.finished_at_ns.unwrap_or(world.now_ns())),
        storm: None,
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Snapshots of subtasks with inputs taken `how` (aligned, unaligned, timed out), over every
/// checkpoint of the run.
pub fn snapshots_with(world: &World, how: SnapshotAlignment) -> usize {
    let plan = &world.scenario.plan;
    world
        .checkpoints
        .iter()
        .flat_map(|c| &c.subtasks)
        .filter(|s| s.alignment == how && plan.subtasks.get(s.subtask.index()).is_some_and(|p| !p.inputs.is_empty()))
        .count()
}

/// The oracle's reference for Storm rows: the Storm topology without faults and without acking
/// (no timeouts, so every tuple is processed once).
pub fn storm_reference_run(scenario: &Scenario, seed: u64) -> crate::storm::StormRun {
    core_model::reference_run(scenario, seed, None)
}

/// The oracle's reference for a Spark run of `scenario`: the same query (same guarantee and
/// sink, so the same batches and watermarks) without faults.
pub fn spark_reference_run(scenario: &Scenario, seed: u64) -> crate::spark::SparkRun {
    core_model::reference_run(scenario, seed, None)
}

/// Run `scenario` as a Spark query under `guarantee` with `sink` (at-most-once: no checkpoint
/// location) with `faults`, and hold it against the fault-free run of the same variant.
pub fn run_spark_variant(
    scenario: &Scenario,
    seed: u64,
    guarantee: Guarantee,
    sink: SinkKind,
    faults: Vec<Fault>,
) -> VariantReport {
    let reference = core_model::reference_run(scenario, seed, Some((guarantee, sink)));
    core_model::run_variant::<crate::spark::SparkCore>(scenario, seed, (guarantee, sink), faults, &reference)
}

/// The Storm rows `compare` adds for a Storm scenario: acking off, acking, Trident.
pub const STORM_VARIANTS: [Guarantee; 3] = Guarantee::ALL;

/// Every compared variant plus any the scenario declares an expectation for, for the models
/// `compare` runs by default ([`crate::runtime::default_models`]: Flink, and the scenario's own).
pub fn compare(scenario: &Arc<Scenario>, seed: u64) -> Vec<VariantReport> {
    compare_models(scenario, seed, &crate::runtime::default_models(scenario))
}

/// [`compare`] for the given models (`compare --model`), each through the runtime boundary
/// ([`crate::runtime::FaultToleranceModel`]).
pub fn compare_models(scenario: &Arc<Scenario>, seed: u64, runtimes: &[Runtime]) -> Vec<VariantReport> {
    let faults = fault_schedule_in_time(scenario, seed);
    crate::runtime::compare_models(scenario, seed, runtimes, &faults)
}

/// The sink kind of `scenario` as written (its first sink; plain when it has none).
pub fn own_sink(scenario: &Scenario) -> SinkKind {
    scenario
        .plan
        .operators
        .iter()
        .find_map(|o| match o.kind {
            engine::graph::OperatorKind::Sink(k) => Some(k),
            _ => None,
        })
        .unwrap_or(SinkKind::Plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A variant that reads its reference's source log runs exactly as one that builds its own
    /// (same trace hash, same outcome), under faults from the seed.
    #[test]
    fn a_variant_on_the_reference_log_runs_as_on_its_own() {
        let text = r#"Scenario(
            name: "shared log", duration_ms: 3_000,
            cluster: (task_managers: 2, slots_per_task_manager: 2),
            source: Generator((partitions: 2, rate_per_s: 300, keys: 10, value: Uniform(min: 1, max: 9))),
            watermarks: BoundedOutOfOrderness(bound_ms: 100, emit: Periodic(interval_ms: 200)),
            pipeline: [Source(name: "s", parallelism: 2), KeyBy(Key),
                       Window(name: "w", kind: Tumbling(size_ms: 500), aggregate: Sum, parallelism: 2),
                       Sink(name: "k", kind: TwoPhaseCommit)],
            checkpoints: (interval_ms: 400, mode: ExactlyOnce),
            swarm: (crashes: 1, partitions: 1, from_ms: 500, until_ms: 2_500, max_outage_ms: 800),
        )"#;
        let scenario = Arc::new(Scenario::parse(text, "(test)").expect("valid"));
        for seed in 1..=3 {
            let faults = fault_schedule_in_time(&scenario, seed);
            let reference = reference_run(&scenario, seed);
            let shared = run_variant(
                &scenario,
                seed,
                Guarantee::ExactlyOnce,
                SinkKind::TwoPhaseCommit,
                faults.clone(),
                &reference,
            );
            let variant = Arc::new(scenario.with_variant(Guarantee::ExactlyOnce, Some(SinkKind::TwoPhaseCommit)));
            let options = RunOptions { keep_trace: false, ..RunOptions::default() };
            let mut own = World::with_faults(variant, seed, options, faults);
            own.run();
            assert_eq!(shared.trace_hash, own.recorder.hash(), "seed {seed}");
            assert_eq!(shared.outcome, oracle::evaluate(&reference.observed(), &own.observed()));
        }
    }

    /// The variant that is the scenario as written, started from the reference's world before
    /// the faults, runs exactly as a fresh world with the faults listed from the start: same
    /// trace hash, same report. Most seeds take the fork (the others fall back to a fresh run).
    #[test]
    fn a_variant_forked_from_the_reference_runs_as_a_fresh_one() {
        let text = r#"Scenario(
            name: "forked variant", duration_ms: 4_000,
            cluster: (task_managers: 2, slots_per_task_manager: 2),
            source: Generator((partitions: 2, rate_per_s: 300, keys: 10, value: Uniform(min: 1, max: 9),
                               disorder: (delay: Uniform(min_ms: 0, max_ms: 30)))),
            watermarks: BoundedOutOfOrderness(bound_ms: 100, emit: Periodic(interval_ms: 200)),
            pipeline: [Source(name: "s", parallelism: 2), KeyBy(Key),
                       Window(name: "w", kind: Tumbling(size_ms: 500), aggregate: Sum, parallelism: 2),
                       Sink(name: "k", kind: TwoPhaseCommit)],
            checkpoints: (interval_ms: 400, mode: ExactlyOnce),
            restart: FixedDelay(delay_ms: 200, max_attempts: 20),
            swarm: (crashes: 2, partitions: 1, latency_spikes: 1, slow_nodes: 1, from_ms: 500, until_ms: 3_500, max_outage_ms: 800),
        )"#;
        let scenario = Arc::new(Scenario::parse(text, "(test)").expect("valid"));
        let (g, sink) = (Guarantee::ExactlyOnce, SinkKind::TwoPhaseCommit);
        assert!(scenario.is_as_written(g, sink) && !scenario.is_as_written(g, SinkKind::Plain));
        let mut forked = 0;
        for seed in 1..=12 {
            let faults = fault_schedule_in_time(&scenario, seed);
            let reference = Reference::new(&scenario, seed, &faults);
            assert_eq!(reference.run.trace_hash(), reference_run(&scenario, seed).trace_hash(), "seed {seed}");
            forked += usize::from(
                reference.before_faults.as_ref().is_some_and(|w| faults.iter().all(|f| w.fault_times_free(f))),
            );
            let report = run_variant_from(&scenario, seed, g, sink, faults.clone(), &reference);
            let variant = Arc::new(scenario.with_variant(g, Some(sink)));
            let options = RunOptions { keep_trace: false, ..RunOptions::default() };
            let mut fresh = World::with_faults(variant, seed, options, faults);
            let stop = fresh.run();
            assert_eq!(report.trace_hash, fresh.recorder.hash(), "seed {seed}");
            assert_eq!(report.outcome, oracle::evaluate(&reference.run.observed(), &fresh.observed()), "seed {seed}");
            assert_eq!((report.stop, report.restarts), (stop, fresh.restarts()), "seed {seed}");
            assert_eq!(report.faults_not_injected, faults_not_injected(&fresh), "seed {seed}");
        }
        assert!(forked >= 6, "only {forked} of 12 seeds forked from the reference");
    }
}
