//! The runtime boundary: **the one file where a new fault-tolerance model plugs in.**
//!
//! A fault-tolerance model is a runtime that can run a scenario's pipeline, data and fault
//! schedule under its own rules, and tell what it promises. `compare`, `sweep`, `shrink` and the
//! exercises drive every model through [`FaultToleranceModel`]; the shared oracle judges what each
//! run shows against that model's fault-free reference. Today three models implement it:
//!
//! - [`FlinkBarriers`]: asynchronous barrier snapshots (aligned, unaligned, tracking, none), the
//!   kernel's [`crate::world::World`] around the job rules of [`crate::job`];
//! - [`StormAcking`]: Storm's XOR acking (acking off, acking, Trident), [`crate::storm`];
//! - [`SparkMicroBatch`]: Spark Structured Streaming's micro-batches, [`crate::spark`]: a core
//!   that cuts input into batches (offset log before, commit log after), schedules a batch's
//!   stages and re-runs lost tasks (recomputing lost map outputs from their offset ranges); its
//!   variants are no checkpoint location and the sink kinds by batch id; its reference is the
//!   same query without faults.
//! - [`KafkaStreamsChangelog`]: Kafka Streams' per-task failover with changelog-backed state
//!   (`at_least_once`, `exactly_once_v2`), [`crate::kstreams`].
//!
//! Adding a model means: its sans-IO core (the decisions, as [`crate::job::JobMaster`],
//! `crate::storm::StormCore` and `crate::spark::SparkCore` are: time and events in, commands
//! out, so the kernel and the madsim world can both drive it), a [`Runtime`] variant, and an
//! implementation here. A core that implements [`crate::model_world::ModelCore`] and
//! [`CoreModel`] has its kernel world ([`ModelWorld`]) and its `run`, `replay` and `reports`
//! (judged against its own fault-free reference) written once for it, as Storm's, Spark's and
//! Kafka Streams' are. The boundary was drawn with the next ones in
//! view:
//!
//! - **Kafka Streams changelog restore**: per-task failover (a `Failover` that names one task, as
//!   region failover already names a subset), state restored by replaying a changelog; variants
//!   `at_least_once` / `exactly_once_v2`.
//! - **Chandy–Lamport snapshots**: markers with channel state on graphs that may have cycles; its
//!   check is a conserved quantity rather than sink rows, so [`FaultToleranceModel::can_run`]
//!   refuses pipelines it cannot judge.
//!
//! Every model's rows carry their [`Runtime`] (`compare`'s first column); a pipeline that several
//! models can run shows them side by side with `compare --model all`.

use std::fmt::Write as _;
use std::sync::Arc;

use engine::sink::SinkKind;

use crate::faults::Fault;
use crate::kernel::TimeNs;
use crate::model_world::{ModelRun, ModelWorld};
use crate::recording::TraceEvent;
use crate::report;
use crate::run::core_model::{self, CoreModel};
use crate::run::{judge, Judgement};
use crate::run::{own_sink, run_variant_from, Reference, VariantReport, COMPARED_VARIANTS};
use crate::scenario::{Guarantee, Runtime, Scenario};
use crate::stepped::SteppedWorld;

/// Why a model cannot run a scenario's pipeline ([`FaultToleranceModel::can_run`]).
#[derive(Debug, thiserror::Error)]
pub enum CannotRun {
    /// A rule of the model refuses the value at `field` (the scenario format's path).
    #[error("{field}: {message}")]
    Refused { field: String, message: String },
    /// The scenario, rewritten for the model, does not resolve.
    #[error(transparent)]
    Scenario(crate::scenario::ScenarioError),
}

/// A fault-tolerance model `compare`, `sweep` and `shrink` can drive (see the module docs).
/// (Every model also says what the exercises read off one of its runs:
/// [`crate::exercise::observe::Observe`].)
pub trait FaultToleranceModel: Sync + crate::exercise::observe::Observe {
    /// Which runtime this is: the scenario's `model`, and the rows' `runtime` column.
    fn runtime(&self) -> Runtime;

    /// Whether this model can run `scenario`'s pipeline; if not, why (one line).
    fn can_run(&self, scenario: &Scenario) -> Result<(), CannotRun>;

    /// The guarantees this model can run `scenario` under, in its own words: what the workbench
    /// offers a student to switch between (and, for a model without sink variants, what
    /// `compare` shows).
    fn guarantees(&self, scenario: &Scenario) -> Vec<GuaranteeChoice>;

    /// The (guarantee, sink) rows `compare` shows for this model, before the variants the
    /// scenario declares expectations for.
    fn compared_variants(&self, scenario: &Scenario) -> Vec<(Guarantee, SinkKind)>;

    /// One run of `scenario` as `streamlab run` shows it: summary, verdict against this model's
    /// fault-free reference, sink rows (`main.rs` prints it, whatever the model).
    fn run(&self, scenario: &Arc<Scenario>, seed: u64, rows_as: RowsAs) -> RunReport;

    /// The trace hash of a run of `scenario` (what `run --check-determinism` compares).
    fn trace_hash(&self, scenario: &Arc<Scenario>, seed: u64) -> u64;

    /// One run of `scenario` as `streamlab replay` shows it: to its end (summary, the model's
    /// tables, verdict) or paused at `until_ns` (where it stands), with every traced event.
    fn replay(&self, scenario: &Arc<Scenario>, seed: u64, until_ns: Option<TimeNs>) -> ReplayReport;

    /// Run each of `variants` with `faults` and judge it against this model's fault-free
    /// reference (run once for all of them).
    fn reports(
        &self,
        scenario: &Scenario,
        seed: u64,
        variants: &[(Guarantee, SinkKind)],
        faults: &[Fault],
    ) -> Vec<VariantReport>;
}

/// One guarantee a model offers ([`FaultToleranceModel::guarantees`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuaranteeChoice {
    pub guarantee: Guarantee,
    /// The model's name for it (Storm's "acking off: at-most-once").
    pub label: &'static str,
    /// One line for students: what it does to the output when something fails.
    pub effect: &'static str,
}

/// One run as `streamlab run` prints it ([`FaultToleranceModel::run`]).
#[derive(Debug)]
pub struct RunReport {
    /// The summary block (why and when the run stopped, counters).
    pub summary: String,
    /// Lines between the summary and the verdict (faults never injected, ...).
    pub notes: Vec<String>,
    /// `"oracle vs ...: <verdict>"`.
    pub oracle_line: String,
    /// The visible sink rows, in the form asked for.
    pub rows: Rows,
    pub judgement: Judgement,
    pub trace_hash: u64,
    /// Broken invariants, one line each (time, subtask, what).
    pub violations: Vec<String>,
    /// What ran: "job" or "topology".
    pub what: &'static str,
}

/// How `run` prints the visible sink rows: only that form is built (a run of a million rows
/// would otherwise hold both a table and a JSON value per row).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowsAs {
    Text,
    Json,
}

/// The visible sink rows of a run: a table for people (and how many rows it has), or one JSON
/// object per row.
#[derive(Debug)]
pub enum Rows {
    Text { table: String, count: usize },
    Json(Vec<serde_json::Value>),
}

impl Rows {
    /// Only the form `rows_as` asks for is made.
    fn of(
        rows_as: RowsAs,
        visible: Vec<&crate::external::StoredRow>,
        table: impl FnOnce() -> String,
        scenario: &Scenario,
    ) -> Rows {
        match rows_as {
            RowsAs::Text => Rows::Text { table: table(), count: visible.len() },
            RowsAs::Json => Rows::Json(visible.into_iter().map(|row| report::row_json(scenario, row)).collect()),
        }
    }
}

/// One run as `streamlab replay` prints it ([`FaultToleranceModel::replay`]).
pub struct ReplayReport {
    /// Everything after the header: the summary (or where the run paused) and the model's
    /// tables and verdict, as lines.
    pub text: String,
    /// The verdict of a run that stopped (None: paused before its end).
    pub judgement: Option<Judgement>,
    /// Broken invariants, one line each.
    pub violations: Vec<String>,
    /// Every traced event, for `--trace`.
    pub trace: Vec<TraceEvent>,
    /// The world the charts are drawn from (None: a model whose charts are read off the trace,
    /// Storm's).
    pub charts_from: Option<crate::World>,
}

/// Flink's asynchronous barrier snapshots.
pub struct FlinkBarriers;

impl FaultToleranceModel for FlinkBarriers {
    fn runtime(&self) -> Runtime {
        Runtime::Flink
    }
    fn can_run(&self, _scenario: &Scenario) -> Result<(), CannotRun> {
        Ok(()) // every scenario that loads is a Flink job
    }
    fn guarantees(&self, _scenario: &Scenario) -> Vec<GuaranteeChoice> {
        FLINK_GUARANTEES.to_vec()
    }
    fn compared_variants(&self, _scenario: &Scenario) -> Vec<(Guarantee, SinkKind)> {
        COMPARED_VARIANTS.to_vec()
    }
    fn run(&self, scenario: &Arc<Scenario>, seed: u64, rows_as: RowsAs) -> RunReport {
        let result = crate::run_scenario(scenario.clone(), seed, quiet());
        let judgement = judge(scenario, seed, &result);
        let world = &result.world;
        RunReport {
            summary: report::summary(&result),
            notes: crate::run::faults_not_injected(world),
            oracle_line: format!("oracle vs the fault-free reference: {}", judgement.describe(scenario.guarantee)),
            rows: Rows::of(rows_as, result.visible_rows(), || report::rows_text(&result), &result.world.scenario),
            trace_hash: result.trace_hash(),
            violations: world
                .violations
                .iter()
                .map(|v| {
                    let subtask = v.subtask.map(|s| &scenario.plan.subtask(s).name);
                    format!("INVARIANT VIOLATED at {} ns in {subtask:?}: {}", v.time_ns, v.violation)
                })
                .collect(),
            judgement,
            what: "job",
        }
    }
    fn trace_hash(&self, scenario: &Arc<Scenario>, seed: u64) -> u64 {
        crate::run_scenario(scenario.clone(), seed, quiet()).trace_hash()
    }
    fn replay(&self, scenario: &Arc<Scenario>, seed: u64, until_ns: Option<TimeNs>) -> ReplayReport {
        let mut world = crate::World::new(scenario.clone(), seed, crate::RunOptions::default());
        let stop = match until_ns {
            Some(until_ns) => {
                world.run_until(until_ns);
                // Past the end: nothing is left before `until`; one more step records why the
                // run stopped, so the summary and the verdict are printed.
                if world.queue.peek_time_ns().is_none() {
                    world.step();
                }
                world.stop_reason()
            }
            None => Some(world.run()),
        };
        let mut text = String::from("\n== summary ==\n");
        let result = crate::RunResult { world, stop: stop.unwrap_or(crate::StopReason::TimeLimit) };
        let judgement = match stop {
            Some(_) => Some(flink_replay_tables(&mut text, scenario, seed, &result)),
            None => {
                let world = &result.world;
                paused_line(&mut text, world.now_ns(), world.events_processed);
                let _ = writeln!(text, "trace hash: {:#018x}", world.recorder.hash());
                None
            }
        };
        let mut world = result.world;
        ReplayReport {
            text,
            judgement,
            violations: world
                .violations
                .iter()
                .map(|v| format!("INVARIANT VIOLATED at {} ns: {}", v.time_ns, v.violation))
                .collect(),
            trace: world.recorder.take_events(),
            charts_from: Some(world),
        }
    }
    fn reports(
        &self,
        scenario: &Scenario,
        seed: u64,
        variants: &[(Guarantee, SinkKind)],
        faults: &[Fault],
    ) -> Vec<VariantReport> {
        // One reference for every variant (faults, not guarantees, change content); none when
        // there is nothing to judge.
        if variants.is_empty() {
            return Vec::new();
        }
        let reference = Reference::new(scenario, seed, faults);
        variants.iter().map(|&(g, s)| run_variant_from(scenario, seed, g, s, faults.to_vec(), &reference)).collect()
    }
}

/// Storm's record acking (and Trident).
pub struct StormAcking;

impl FaultToleranceModel for StormAcking {
    fn runtime(&self) -> Runtime {
        Runtime::Storm
    }
    fn can_run(&self, scenario: &Scenario) -> Result<(), CannotRun> {
        if scenario.runtime() == Runtime::Storm {
            return Ok(());
        }
        // A Flink scenario runs as a topology when Storm's scenario rules accept it.
        let mut raw = scenario.raw.clone();
        raw.model = crate::scenario::Model::Storm(Default::default());
        for step in &mut raw.pipeline {
            if let crate::scenario::Step::Sink { kind, .. } = step {
                *kind = storm_sink(*kind);
            }
        }
        accepted_by(scenario, &raw, crate::scenario::storm::check)
    }
    fn guarantees(&self, scenario: &Scenario) -> Vec<GuaranteeChoice> {
        // Trident here aggregates into windowed state: without a window there is no Trident.
        let has_window =
            scenario.plan.operators.iter().any(|o| matches!(o.kind, engine::graph::OperatorKind::Window(_)));
        STORM_GUARANTEES.iter().filter(|c| has_window || c.guarantee != Guarantee::ExactlyOnce).copied().collect()
    }
    fn compared_variants(&self, scenario: &Scenario) -> Vec<(Guarantee, SinkKind)> {
        let sink = storm_sink(own_sink(scenario));
        self.guarantees(scenario).iter().map(|c| (c.guarantee, sink)).collect()
    }
    fn run(&self, scenario: &Arc<Scenario>, seed: u64, rows_as: RowsAs) -> RunReport {
        core_run::<crate::storm::StormCore>(scenario, seed, rows_as)
    }
    fn trace_hash(&self, scenario: &Arc<Scenario>, seed: u64) -> u64 {
        crate::storm::run_storm(scenario.clone(), seed, false).trace_hash()
    }
    /// The run up to `until_ns` (paused there: time, pending tuples per spout, counters so far)
    /// or to its end (summary and verdict); its trace holds spout emits and replays, acker inits,
    /// acks and fails, completed and failed trees, timeouts, Trident batches and commits.
    fn replay(&self, scenario: &Arc<Scenario>, seed: u64, until_ns: Option<TimeNs>) -> ReplayReport {
        core_replay::<crate::storm::StormCore>(scenario, seed, until_ns)
    }
    /// Every variant against one reference: the topology without faults and without acking.
    fn reports(
        &self,
        scenario: &Scenario,
        seed: u64,
        variants: &[(Guarantee, SinkKind)],
        faults: &[Fault],
    ) -> Vec<VariantReport> {
        core_model::reports::<crate::storm::StormCore>(scenario, seed, variants, faults)
    }
}

/// Spark Structured Streaming's micro-batches (`crate::spark`).
pub struct SparkMicroBatch;

impl FaultToleranceModel for SparkMicroBatch {
    fn runtime(&self) -> Runtime {
        Runtime::Spark
    }
    fn can_run(&self, scenario: &Scenario) -> Result<(), CannotRun> {
        if scenario.runtime() == Runtime::Spark {
            return Ok(());
        }
        // Another model's scenario runs as a query when Spark's scenario rules accept it.
        let mut raw = scenario.raw.clone();
        raw.model = crate::scenario::Model::Spark(Default::default());
        accepted_by(scenario, &raw, crate::scenario::spark::check)
    }
    fn guarantees(&self, _scenario: &Scenario) -> Vec<GuaranteeChoice> {
        SPARK_GUARANTEES.to_vec()
    }
    /// The sink is what makes the difference: no checkpoint location with the scenario's own
    /// sink; a checkpoint with a plain sink; with an idempotent one (`foreachBatch` upserting
    /// by key and window); with a transactional one (the file sink's manifest by batch id).
    fn compared_variants(&self, scenario: &Scenario) -> Vec<(Guarantee, SinkKind)> {
        vec![
            (Guarantee::AtMostOnce, own_sink(scenario)),
            (Guarantee::AtLeastOnce, SinkKind::Plain),
            (Guarantee::ExactlyOnce, SinkKind::Idempotent),
            (Guarantee::ExactlyOnce, SinkKind::TwoPhaseCommit),
        ]
    }
    fn run(&self, scenario: &Arc<Scenario>, seed: u64, rows_as: RowsAs) -> RunReport {
        core_run::<crate::spark::SparkCore>(scenario, seed, rows_as)
    }
    fn trace_hash(&self, scenario: &Arc<Scenario>, seed: u64) -> u64 {
        crate::spark::run_spark(scenario.clone(), seed, false).trace_hash()
    }
    /// The run up to `until_ns` (paused there: the batches so far and the counters) or to its
    /// end (summary and verdict); its trace holds the batches, commits, sink writes and crashes.
    fn replay(&self, scenario: &Arc<Scenario>, seed: u64, until_ns: Option<TimeNs>) -> ReplayReport {
        core_replay::<crate::spark::SparkCore>(scenario, seed, until_ns)
    }
    /// Each variant against its own fault-free run: the reference depends on the variant (a
    /// query without a checkpoint location restarts differently, but without faults it runs
    /// the same batches), so it runs once per variant.
    fn reports(
        &self,
        scenario: &Scenario,
        seed: u64,
        variants: &[(Guarantee, SinkKind)],
        faults: &[Fault],
    ) -> Vec<VariantReport> {
        core_model::reports::<crate::spark::SparkCore>(scenario, seed, variants, faults)
    }
}

/// Spark's guarantees: the checkpoint location and the sink (`crate::scenario::spark::variant`).
const SPARK_GUARANTEES: [GuaranteeChoice; 3] = [
    GuaranteeChoice {
        guarantee: Guarantee::AtMostOnce,
        label: "no checkpoint location: no guarantee",
        effect: "a restarted query starts afresh from the latest offsets: the batch that was running, its state and everything that arrived meanwhile are lost; a task retried after an executor loss writes a plain sink twice. Spark promises nothing here: the verdict reports what happened",
    },
    GuaranteeChoice {
        guarantee: Guarantee::AtLeastOnce,
        label: "checkpoint + plain sink: at-least-once",
        effect: "the batch in the offset log without a commit re-runs with the same offsets: nothing lost, but the rows it had written arrive twice",
    },
    GuaranteeChoice {
        guarantee: Guarantee::ExactlyOnce,
        label: "checkpoint + sink by batch id: exactly-once",
        effect: "the re-run batch's rows replace (idempotent) or are skipped by the committed manifest (transactional): the output is exact",
    },
];

/// Flink's guarantees: the checkpoints' mode (at-most-once takes none).
const FLINK_GUARANTEES: [GuaranteeChoice; 3] = [
    GuaranteeChoice {
        guarantee: Guarantee::AtMostOnce,
        label: "at-most-once",
        effect: "no checkpoints: a restarted task starts empty and its sources read on, so what was in flight or in state is lost",
    },
    GuaranteeChoice {
        guarantee: Guarantee::AtLeastOnce,
        label: "at-least-once",
        effect: "checkpoints without alignment: a restore rewinds the sources to the checkpoint, so records after a barrier may be counted twice",
    },
    GuaranteeChoice {
        guarantee: Guarantee::ExactlyOnce,
        label: "exactly-once",
        effect: "aligned barriers: state and source offsets restored together, nothing lost or counted twice in the job's state",
    },
];

/// Storm's guarantees: the acker and Trident (`Scenario::with_runtime_variant` sets them).
const STORM_GUARANTEES: [GuaranteeChoice; 3] = [
    GuaranteeChoice {
        guarantee: Guarantee::AtMostOnce,
        label: "acking off: at-most-once",
        effect: "no acker: a tuple lost in a crash is never replayed, so its words are missing from the output",
    },
    GuaranteeChoice {
        guarantee: Guarantee::AtLeastOnce,
        label: "acking: at-least-once",
        effect: "the XOR acker tracks every tuple tree; a failed or timed-out tree is replayed from the spout: nothing lost, but what was already counted is counted again",
    },
    GuaranteeChoice {
        guarantee: Guarantee::ExactlyOnce,
        label: "Trident: exactly-once",
        effect: "batches with transaction ids, state committed in txid order: a replayed batch is applied once, so the output is exact",
    },
];

/// The tables of a Flink replay that reached its end — summary, checkpoints, time use, faults
/// never injected, the oracle's verdict — written to `text`; the verdict.
fn flink_replay_tables(text: &mut String, scenario: &Scenario, seed: u64, result: &crate::RunResult) -> Judgement {
    text.push_str(&report::summary(result));
    if !result.world.checkpoints.is_empty() {
        text.push_str("\n== checkpoints ==\n");
        text.push_str(&report::checkpoints_table(result));
    }
    text.push_str("\n== time: busy, backpressured, idle ==\n");
    text.push_str(&report::time_use_table(&result.world));
    for f in crate::run::faults_not_injected(&result.world) {
        let _ = writeln!(text, "{f}");
    }
    let judgement = judge(scenario, seed, result);
    let _ = writeln!(text, "oracle vs the fault-free reference: {}", judgement.describe(scenario.guarantee));
    judgement
}

/// Where a replay paused (`replay --until` before the run's end).
fn paused_line(text: &mut String, now_ns: TimeNs, events_processed: u64) {
    let _ = writeln!(text, "paused at {} (virtual); {events_processed} kernel events", report::format_ns(now_ns));
}

/// `run` for a model built on a [`crate::model_world::ModelCore`] (Storm, Spark, Kafka Streams):
/// its summary, notes and rows, judged against its own fault-free reference.
fn core_run<C: CoreModel>(scenario: &Arc<Scenario>, seed: u64, rows_as: RowsAs) -> RunReport {
    let result = ModelRun::<C>::of_seed(scenario.clone(), seed, false);
    let judgement = core_model::judge(scenario, seed, &result);
    RunReport {
        summary: report::core_summary(&result),
        notes: C::notes(&result.world),
        oracle_line: format!(
            "oracle vs {}: {}",
            C::reference_name(scenario, &result.world),
            judgement.describe(scenario.guarantee)
        ),
        rows: Rows::of(rows_as, result.visible_rows(), || C::rows_text(&result), scenario),
        trace_hash: result.trace_hash(),
        violations: Vec::new(),
        judgement,
        what: C::WHAT,
    }
}

/// `replay` for a model built on a [`crate::model_world::ModelCore`]: paused at `until_ns`
/// (where it stands: the model's counters so far) or at its end (summary, notes, verdict).
/// Charts are read off the trace (`charts_from` None).
fn core_replay<C: CoreModel>(scenario: &Arc<Scenario>, seed: u64, until_ns: Option<TimeNs>) -> ReplayReport {
    let mut world = ModelWorld::<C>::new(scenario.clone(), seed, true);
    world.run_to(until_ns);
    let mut text = String::new();
    let Some(stop) = world.stop_reason() else {
        text.push_str("\n== paused ==\n");
        paused_line(&mut text, world.now_ns(), world.events_processed);
        text.push_str(&C::progress(&world));
        let _ = writeln!(text, "trace hash: {:#018x}", world.recorder().hash());
        let trace = world.recorder_mut().take_events();
        return ReplayReport { text, judgement: None, violations: Vec::new(), trace, charts_from: None };
    };
    let mut result = ModelRun { world, stop };
    text.push_str("\n== summary ==\n");
    text.push_str(&report::core_summary(&result));
    for note in C::notes(&result.world) {
        let _ = writeln!(text, "{note}");
    }
    let judgement = core_model::judge(scenario, seed, &result);
    let _ = writeln!(text, "oracle vs the fault-free reference: {}", judgement.describe(scenario.guarantee));
    let trace = result.world.recorder_mut().take_events();
    ReplayReport { text, judgement: Some(judgement), violations: Vec::new(), trace, charts_from: None }
}

/// A run that keeps no trace (only its hash).
fn quiet() -> crate::RunOptions {
    crate::RunOptions { keep_trace: false, ..crate::RunOptions::default() }
}

/// Whether a model's scenario rules (`check`) accept `raw`, `scenario`'s file rewritten for that
/// model: [`FaultToleranceModel::can_run`] of a scenario written for another model.
fn accepted_by(
    scenario: &Scenario,
    raw: &crate::scenario::ScenarioFile,
    check: fn(
        &crate::scenario::ScenarioFile,
        &crate::scenario::error::Locator,
    ) -> Result<(), crate::scenario::ScenarioError>,
) -> Result<(), CannotRun> {
    let text = String::new();
    let loc = crate::scenario::error::Locator::new(&scenario.file, &text);
    check(raw, &loc).map_err(|e| match e {
        crate::scenario::ScenarioError::Invalid { field, message, .. } => CannotRun::Refused { field, message },
        other => CannotRun::Scenario(other),
    })
}

/// A Storm sink bolt writes plain or idempotent; a two-phase-commit sink becomes plain.
fn storm_sink(kind: SinkKind) -> SinkKind {
    match kind {
        SinkKind::TwoPhaseCommit => SinkKind::Plain,
        other => other,
    }
}

/// Kafka Streams: tasks with changelog-backed stores, commits every `commit.interval.ms`,
/// per-task failover after an instance crash (`crate::kstreams`).
pub struct KafkaStreamsChangelog;

impl FaultToleranceModel for KafkaStreamsChangelog {
    fn runtime(&self) -> Runtime {
        Runtime::KafkaStreams
    }
    fn can_run(&self, scenario: &Scenario) -> Result<(), CannotRun> {
        if scenario.runtime() == Runtime::KafkaStreams {
            return Ok(());
        }
        // A scenario of another model runs as an application when Kafka Streams' rules accept it.
        let mut raw = scenario.raw.clone();
        raw.model = crate::scenario::Model::KafkaStreams(Default::default());
        accepted_by(scenario, &raw, crate::scenario::kstreams::check)
    }
    fn guarantees(&self, _scenario: &Scenario) -> Vec<GuaranteeChoice> {
        KSTREAMS_GUARANTEES.to_vec()
    }
    /// At-least-once with the scenario's sink; exactly-once v2 read by a `read_uncommitted`
    /// consumer (plain: it sees aborted output) and by a `read_committed` one (two-phase commit).
    fn compared_variants(&self, scenario: &Scenario) -> Vec<(Guarantee, SinkKind)> {
        let own = own_sink(scenario);
        let mut variants = vec![(Guarantee::AtLeastOnce, own)];
        for v in [(Guarantee::ExactlyOnce, SinkKind::Plain), (Guarantee::ExactlyOnce, SinkKind::TwoPhaseCommit)] {
            if !variants.contains(&v) {
                variants.push(v);
            }
        }
        variants
    }
    fn run(&self, scenario: &Arc<Scenario>, seed: u64, rows_as: RowsAs) -> RunReport {
        core_run::<crate::kstreams::KStreamsCore>(scenario, seed, rows_as)
    }
    fn trace_hash(&self, scenario: &Arc<Scenario>, seed: u64) -> u64 {
        crate::kstreams::run_kstreams(scenario.clone(), seed, false).trace_hash()
    }
    /// The run up to `until_ns` (paused there: the counters and every task's phase and offsets)
    /// or to its end (summary and verdict); its trace holds reads, commits, restores, resumes,
    /// aborted transactions, crashes and sink writes.
    fn replay(&self, scenario: &Arc<Scenario>, seed: u64, until_ns: Option<TimeNs>) -> ReplayReport {
        core_replay::<crate::kstreams::KStreamsCore>(scenario, seed, until_ns)
    }
    /// One reference per guarantee: its commit interval changes when records reach a task, and
    /// with it each task's stream time.
    fn reports(
        &self,
        scenario: &Scenario,
        seed: u64,
        variants: &[(Guarantee, SinkKind)],
        faults: &[Fault],
    ) -> Vec<VariantReport> {
        core_model::reports::<crate::kstreams::KStreamsCore>(scenario, seed, variants, faults)
    }
}

/// Kafka Streams' guarantees: `processing.guarantee` (it has no at-most-once setting).
const KSTREAMS_GUARANTEES: [GuaranteeChoice; 2] = [
    GuaranteeChoice {
        guarantee: Guarantee::AtLeastOnce,
        label: "at_least_once",
        effect: "offsets committed every commit interval after flushing output and changelog: a crashed task restores its store from the changelog and reprocesses since its last commit, so output and state updates repeat",
    },
    GuaranteeChoice {
        guarantee: Guarantee::ExactlyOnce,
        label: "exactly_once_v2",
        effect: "output, changelog writes and offsets in one transaction per commit: a crash aborts the open transaction, the store restores committed writes only, and read_committed readers see each result once",
    },
];

/// Every model, in `compare`'s order.
pub static MODELS: [&dyn FaultToleranceModel; 4] =
    [&FlinkBarriers, &StormAcking, &SparkMicroBatch, &KafkaStreamsChangelog];

/// The model of `runtime`.
pub fn model(runtime: Runtime) -> &'static dyn FaultToleranceModel {
    match runtime {
        Runtime::Flink => &FlinkBarriers,
        Runtime::Storm => &StormAcking,
        Runtime::Spark => &SparkMicroBatch,
        Runtime::KafkaStreams => &KafkaStreamsChangelog,
    }
}

/// The model `compare --model` names `name` (its runtime's label: `flink`, `storm`, `spark`).
pub fn model_named(name: &str) -> Option<&'static dyn FaultToleranceModel> {
    MODELS.iter().copied().find(|m| m.runtime().label() == name)
}

/// The models `compare` runs by default: Flink always (every pipeline is a Flink job), and the
/// scenario's own model.
pub fn default_models(scenario: &Scenario) -> Vec<Runtime> {
    let mut models = vec![Runtime::Flink];
    if scenario.runtime() != Runtime::Flink {
        models.push(scenario.runtime());
    }
    models
}

/// Every model that can run `scenario`'s pipeline.
pub fn capable_models(scenario: &Scenario) -> Vec<Runtime> {
    MODELS.iter().filter(|m| m.can_run(scenario).is_ok()).map(|m| m.runtime()).collect()
}

/// `compare`'s rows for `runtimes`: per model its compared variants plus the ones the scenario
/// declares expectations for, each run under `faults`.
pub fn compare_models(scenario: &Scenario, seed: u64, runtimes: &[Runtime], faults: &[Fault]) -> Vec<VariantReport> {
    let mut reports = Vec::new();
    for &runtime in runtimes {
        let variants = compare_variants(scenario, runtime);
        reports.extend(model(runtime).reports(scenario, seed, &variants, faults));
    }
    reports
}

/// The variants `compare` runs on `runtime`: the model's compared variants, then each one the
/// scenario declares an outcome for that is not among them (the admission budget counts them).
pub fn compare_variants(scenario: &Scenario, runtime: Runtime) -> Vec<(Guarantee, SinkKind)> {
    let mut variants = model(runtime).compared_variants(scenario);
    for e in scenario.expect.outcomes.iter().filter(|e| e.runtime == runtime) {
        if !variants.contains(&(e.guarantee, e.sink)) {
            variants.push((e.guarantee, e.sink));
        }
    }
    variants
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(name: &str) -> Scenario {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name);
        Scenario::load(&path).expect("a shipped scenario loads")
    }

    /// What the workbench offers is what each model runs: one choice per guarantee, in order,
    /// each named differently, and Storm's compare rows are its choices.
    #[test]
    fn each_model_offers_its_guarantees_in_its_own_words() {
        let storm = shipped("storm-word-count.ron");
        for model in [&FlinkBarriers as &dyn FaultToleranceModel, &StormAcking] {
            let choices = model.guarantees(&storm);
            let guarantees: Vec<Guarantee> = choices.iter().map(|c| c.guarantee).collect();
            assert_eq!(guarantees, Guarantee::ALL, "{:?}", model.runtime());
            let mut labels: Vec<&str> = choices.iter().map(|c| c.label).collect();
            labels.dedup();
            assert_eq!(labels.len(), 3);
            assert!(choices.iter().all(|c| !c.effect.is_empty()));
        }
        let rows: Vec<Guarantee> = StormAcking.compared_variants(&storm).iter().map(|v| v.0).collect();
        assert_eq!(rows, Guarantee::ALL);
        assert_eq!(StormAcking.guarantees(&storm)[0].label, "acking off: at-most-once");
        // Kafka Streams has no at-most-once setting, so it offers none.
        let kstreams: Vec<&str> = KafkaStreamsChangelog.guarantees(&storm).iter().map(|c| c.label).collect();
        assert_eq!(kstreams, ["at_least_once", "exactly_once_v2"]);
        let rows: Vec<Guarantee> = KafkaStreamsChangelog.compared_variants(&storm).iter().map(|v| v.0).collect();
        assert!(!rows.contains(&Guarantee::AtMostOnce));
    }

    /// Trident here needs windowed state: a topology without a window is offered no Trident.
    #[test]
    fn storm_offers_no_trident_without_a_window() {
        let windowless = shipped("storm-timeout-storm.ron");
        let offered: Vec<Guarantee> = StormAcking.guarantees(&windowless).iter().map(|c| c.guarantee).collect();
        assert_eq!(offered, [Guarantee::AtMostOnce, Guarantee::AtLeastOnce]);
    }
}
