//! Scenario files (RON): the documented format, parsing with precise errors, and resolution into
//! a runnable job. A scenario is everything needed to reproduce a run except the seed (which it
//! may pin). The format reference is `book/src/reference/scenario-format.md`.
//!
//! - [`format`](mod@format): the file format (what serde reads and `shrink` writes back);
//! - [`error`]: [`ScenarioError`] and how errors find their `file:line:column`;
//! - [`parse`]: reading a file (type and size checks, UTF-8, RON with a depth limit);
//! - [`limits`]: the bounds on every number, so arithmetic on them cannot overflow;
//! - [`budget`]: the admission budget: a command's memory and time estimated before it runs;
//! - [`resolve`]: validation and resolution of the parsed file into a [`Scenario`];
//! - [`source`]: the source's checks, and the log built from explicit events;
//! - [`describe`]: the resolved parameters as text, for the top of a run's output.

use std::collections::BTreeMap;
use std::path::Path;

use engine::checkpoint::{CheckpointConfig, CheckpointMode};
use engine::graph::{JobGraph, OperatorKind, PhysicalPlan, SubtaskId};
use engine::ms_to_ns;
use engine::sink::SinkKind;

use crate::dist::Delay;
use crate::faults::Fault;

pub mod budget;
pub mod describe;
pub mod error;
pub mod event_list;
pub mod explicit;
pub mod format;
mod keys;
pub mod kstreams;
pub mod limits;
pub mod parse;
pub mod pipeline;
pub mod positions;
pub mod resolve;
pub mod source;
pub mod spark;
pub mod storm;
pub mod tour;
mod words;

pub use error::ScenarioError;
pub use format::*;
pub use limits::*;

/// The scenario embedded in the binary and opened by default.
pub const DEFAULT_SCENARIO: &str = include_str!("../../../scenarios/clickstream.ron");
pub const DEFAULT_SCENARIO_FILE: &str = "scenarios/clickstream.ron";

/// A node of the cluster: the job manager (node 0) or task manager `tm-i` (node i + 1). Per-node
/// tables are indexed by [`NodeId::index`], the job manager first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct NodeId(u32);

// No `Display`: a node prints by its name ([`NodeId::name`]).
engine::id_newtype!(NodeId(u32), index);

/// The job manager.
pub const JOB_MANAGER: NodeId = NodeId(0);

impl NodeId {
    /// Task manager `tm-i`.
    pub const fn task_manager(i: u32) -> NodeId {
        NodeId(i + 1)
    }

    /// The node at `index` of a per-node table (0: the job manager).
    pub const fn from_index(index: usize) -> NodeId {
        NodeId(index as u32)
    }

    /// `Some(i)` for task manager `tm-i`; None for the job manager.
    pub const fn task_manager_index(self) -> Option<u32> {
        self.0.checked_sub(1)
    }

    /// `jm` or `tm-i`, as scenario files name nodes.
    pub fn name(self) -> String {
        match self.0 {
            0 => "jm".to_string(),
            n => format!("tm-{}", n - 1),
        }
    }
}

/// A node name that is not in the cluster.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no node '{name}'; nodes are jm and tm-0 .. tm-{}", task_managers.saturating_sub(1))]
pub struct UnknownNode {
    pub name: String,
    pub task_managers: u32,
}

/// Node names of a cluster: `jm` and `tm-0 .. tm-{n-1}`.
pub struct NodeNames {
    pub task_managers: u32,
}

impl NodeNames {
    /// The node a file names, spelled exactly as [`NodeId::name`] spells it: `tm-01` or `tm-+1`
    /// are not `tm-1` (the one place that reads a node's name: faults, links, placement, tours).
    pub fn resolve(&self, name: &str) -> Result<NodeId, UnknownNode> {
        if name == "jm" {
            return Ok(JOB_MANAGER);
        }
        name.strip_prefix("tm-")
            .and_then(|i| i.parse::<u32>().ok())
            .filter(|i| *i < self.task_managers)
            .map(NodeId::task_manager)
            .filter(|node| node.name() == name)
            .ok_or_else(|| UnknownNode { name: name.to_string(), task_managers: self.task_managers })
    }
}

/// Whether loading a scenario checks the admission budget ([`budget`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// Refuse a scenario whose `run` would be over the budget (the default).
    Enforced,
    /// Check nothing (`--no-budget`): the absolute limits ([`limits`]) still hold.
    Off,
}

/// Where the source log's data comes from.
#[derive(Clone, Debug)]
pub enum LogData {
    Generator(Generator),
    /// Explicit events as the source log's partitions, each in order of arrival: built once, when
    /// the scenario is resolved, and shared by every run (see [`crate::external::SourceLog`]).
    Events(crate::external::Partitions),
}

#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file as parsed (what `shrink` edits and writes back).
    pub raw: ScenarioFile,
    pub name: String,
    pub description: String,
    /// Where it was loaded from (for messages and replay commands).
    pub file: String,
    pub seed: Option<u64>,
    pub duration_ms: u64,
    pub max_run_ms: u64,
    pub clock_times: bool,
    pub job: JobGraph,
    pub plan: PhysicalPlan,
    /// Processing cost per record, per operator, in nanoseconds.
    pub record_cost_ns: Vec<u64>,
    /// A source's one-way latency to the broker its consumer fetches from, per operator, in
    /// nanoseconds (0: reads at append time; other operators 0). See `source_cursor::Fetch`.
    pub fetch_latency_ns: Vec<u64>,
    /// Task manager index of each subtask.
    pub placement: Vec<u32>,
    pub task_managers: u32,
    pub slots_per_task_manager: u32,
    pub latency: Delay,
    pub local_latency_ns: u64,
    /// Flow control: network buffers a channel holds at most (None: unbounded).
    pub channel_capacity: Option<u32>,
    /// `execution.buffer-timeout` in nanoseconds (0: flush after every record).
    pub buffer_timeout_ns: u64,
    /// Per (from node, to node) latency overrides, both directions listed.
    pub link_latency: BTreeMap<(NodeId, NodeId), Delay>,
    pub partitions: u32,
    pub log: LogData,
    pub key_names: Vec<String>,
    /// Checkpoint settings as written (interval, timeout, ...), whatever the guarantee.
    pub checkpoint_settings: Option<Checkpoints>,
    pub guarantee: Guarantee,
    /// The restart strategy as written (None: Flink's default, see [`Scenario::restart_strategy`]).
    pub restart: Option<RestartStrategy>,
    /// What a failure restarts (`crate::job::regions`).
    pub failover: crate::job::FailoverStrategy,
    pub failure_detection: FailureDetection,
    /// Faults written in the file (swarm faults are drawn per seed: [`Scenario::faults_for_seed`]).
    pub faults: Vec<Fault>,
    pub swarm: Option<Swarm>,
    /// Two-phase-commit transactions older than this are aborted by the sink store.
    pub transaction_timeout_ns: Option<u64>,
    pub watermarks: Watermarks,
    pub track_lineage: bool,
    pub expect: Expect,
    /// The runtime: Flink, or a Storm topology (`crate::storm`).
    pub model: Model,
    /// The guided tour the file carries (empty: none).
    pub tour: Vec<tour::Stop>,
    /// The workload of one run and the field to lower, for the admission budget
    /// ([`budget::Admission::admit`]).
    pub admission: budget::Admission,
    /// Located warnings about things that are legal but probably not meant (a fault after the
    /// input ends); the command line prints them to stderr.
    pub warnings: Vec<String>,
}

/// How much work a run may do before it stops with [`crate::StopReason::WorkLimit`]
/// ([`Scenario::work_limit`]): kernel events, lineage held in the sinks' rows, and messages held
/// waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkLimit {
    pub kernel_events: u64,
    pub sink_lineage: u64,
    pub held_messages: u64,
}

/// What a run holds at a moment, against its [`WorkLimit`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkDone {
    /// Kernel events processed so far.
    pub kernel_events: u64,
    /// Source references the sinks' rows carry as lineage.
    pub sink_lineage: u64,
    /// Messages waiting: queued events, and in a Storm topology the executors' inboxes.
    pub held_messages: u64,
}

impl WorkLimit {
    /// Whether a run has done (or holds) far more than its scenario's size predicts.
    pub fn reached(&self, done: WorkDone) -> bool {
        done.kernel_events >= self.kernel_events
            || done.sink_lineage > self.sink_lineage
            || done.held_messages > self.held_messages
    }
}

impl Scenario {
    /// The most kernel events a run may take before it stops with
    /// [`crate::StopReason::WorkLimit`]: 200 per unit of the work its size predicts (source
    /// records, hops between operators, periodic messages: [`budget::Workload`]) and a million
    /// more. The scenarios in `scenarios/` take at most 30 per source record (a Storm topology
    /// with few records); a replay storm takes millions, and without this bound it runs until
    /// `max_run_ms` with a queue that grows all the while. Both worlds check it in their step.
    pub fn max_kernel_events(&self) -> u64 {
        let w = &self.admission.workload;
        let predicted = u128::from(w.events) + u128::from(w.hops) + u128::from(w.ticks);
        u64::try_from(predicted * 200 + 1_000_000).unwrap_or(u64::MAX)
    }

    /// The most source references the sinks' rows may carry as lineage before a run stops with
    /// [`crate::StopReason::WorkLimit`]: 4 times what the admission budget predicts
    /// ([`budget::Workload::lineage`]) and a quarter of the budget's memory more (`compare`
    /// holds a reference, a variant and the oracle's grouping of both at once). A late firing
    /// carries its whole window's lineage again, so records that all come late into one window with a
    /// long allowed lateness write lineage quadratic in their number (60 000 explicit events,
    /// a 2.8 MB file, needed more than 4 GB); the budget cannot know how many records will be
    /// late, this bound holds whatever the watermark does. Memory, not time: unlike kernel
    /// events, each entry stays in the sink store until the run ends.
    pub fn max_sink_lineage(&self) -> u64 {
        let predicted = u128::from(self.admission.workload.lineage);
        let headroom = u128::from(budget::BUDGET_BYTES / 4 / budget::LINEAGE_BYTES);
        u64::try_from(predicted * 4 + headroom).unwrap_or(u64::MAX)
    }

    /// The most messages a run may hold waiting at once (queued events, Storm executors'
    /// inboxes) before it stops with [`crate::StopReason::WorkLimit`]: 4 per source record and
    /// 500 000 more (a held Storm message costs about 440 bytes with its tuple's tracking). A
    /// timeout storm that never ends grows an inbox by the whole pending backlog each message
    /// timeout; the admission budget counts storms that faults set off, and assumes
    /// a fault-free topology recovers, which one whose input outruns its slowest bolt for good
    /// does not (3 GB in 35 s, estimated 337 MiB).
    pub fn max_held_messages(&self) -> u64 {
        self.admission.workload.events.saturating_mul(4).saturating_add(500_000)
    }

    /// The bounds of [`crate::StopReason::WorkLimit`], which both worlds read once per run.
    pub fn work_limit(&self) -> WorkLimit {
        WorkLimit {
            kernel_events: self.max_kernel_events(),
            sink_lineage: self.max_sink_lineage(),
            held_messages: self.max_held_messages(),
        }
    }

    /// Load and resolve a scenario file, refusing one whose `run` would be over the admission
    /// budget ([`budget`]).
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::load_with(path, Budget::Enforced)
    }

    /// [`Scenario::load`], with the admission budget enforced for `run` or not checked at all.
    pub fn load_with(path: &Path, budget: Budget) -> Result<Scenario, ScenarioError> {
        // The name as every output prints it: control characters escaped, so that a file name
        // cannot forge lines or move the terminal's cursor (bytes that are not UTF-8 show as �).
        let file = error::printable(&path.display().to_string());
        let text = parse::read_file(path, &file)?;
        Scenario::parse_with(&text, &file, budget)
    }

    /// Refuse `command` on this scenario when its estimate is over the admission budget.
    pub fn admit(&self, command: budget::Command) -> Result<budget::Estimate, ScenarioError> {
        // Faults may have been added since loading (`--swarm`): count them now.
        let mut admission = self.admission.clone();
        admission.workload.faults = budget::fault_count(self);
        admission.workload.faulty = admission.workload.faults > 0;
        admission.admit(&self.file, command)
    }

    /// The embedded default scenario.
    pub fn default_scenario() -> Scenario {
        Scenario::parse(DEFAULT_SCENARIO, DEFAULT_SCENARIO_FILE).expect("the embedded default scenario is valid")
    }

    /// Parse scenario text; `file` names it in errors. The admission budget is enforced for `run`.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse_with(text, file, Budget::Enforced)
    }

    /// [`Scenario::parse`], with the admission budget enforced for `run` or not checked at all.
    pub fn parse_with(text: &str, file: &str, budget: Budget) -> Result<Scenario, ScenarioError> {
        let raw = parse::parse_file(text, file)?;
        let scenario = resolve::resolve(raw, &error::Locator::new(file, text))?;
        if budget == Budget::Enforced {
            scenario.admit(budget::Command::Run { twice: false })?;
        }
        Ok(scenario)
    }

    pub fn node_name(&self, node: NodeId) -> String {
        node.name()
    }

    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        NodeNames { task_managers: self.task_managers }.resolve(name).ok()
    }

    pub fn node_of_subtask(&self, subtask: SubtaskId) -> NodeId {
        NodeId::task_manager(self.placement[subtask.index()])
    }

    pub fn key_name(&self, key: u64) -> String {
        if key == engine::transform::CONSTANT_KEY {
            engine::transform::CONSTANT_KEY_NAME.to_string()
        } else {
            self.key_names.get(key as usize).cloned().unwrap_or_else(|| format!("#{key}"))
        }
    }

    /// An event time (a window's bounds, a record's timestamp, a watermark) as every output
    /// prints it — `run`'s rows, the exercises' answers, the workbench: a clock time in a
    /// textbook scenario ("12:02:00"), else seconds with milliseconds ("-5.000 s"), as virtual
    /// time is printed (`report::format_virtual`).
    pub fn format_time_ms(&self, ms: i64) -> String {
        match ms {
            i64::MIN => "-inf".into(),
            i64::MAX => "+inf".into(),
            ms if self.clock_times && ms >= 0 => format_clock(ms),
            ms => {
                let sign = if ms < 0 { "-" } else { "" };
                let abs = ms.unsigned_abs();
                format!("{sign}{}.{:03} s", abs / 1000, abs % 1000)
            }
        }
    }

    /// Checkpointing as the world runs it: None for at-most-once.
    /// The restart strategy a run uses: the one written, or Flink's default for whether this
    /// run checkpoints (exponential delay with checkpoints, none without).
    pub fn restart_strategy(&self) -> RestartStrategy {
        self.restart.unwrap_or_else(|| RestartStrategy::flink_default(self.checkpoint_config().is_some()))
    }

    pub fn checkpoint_config(&self) -> Option<CheckpointConfig> {
        let settings = self.checkpoint_settings?;
        let mode = match self.guarantee.checkpoint_mode()? {
            CheckpointMode::ExactlyOnce if settings.unaligned => CheckpointMode::Unaligned,
            CheckpointMode::ExactlyOnce if settings.chandy_lamport => CheckpointMode::ChandyLamport,
            mode => mode,
        };
        let aligned_timeout_ns = settings
            .aligned_checkpoint_timeout_ms
            .filter(|&t| t > 0 && mode == CheckpointMode::Unaligned)
            .map(ms_to_ns);
        Some(CheckpointConfig {
            interval_ns: ms_to_ns(settings.interval_ms),
            timeout_ns: ms_to_ns(settings.timeout_ms),
            min_pause_ns: ms_to_ns(settings.min_pause_ms),
            mode,
            aligned_timeout_ns,
        })
    }

    pub fn snapshot_style(&self) -> SnapshotStyle {
        self.checkpoint_settings.map(|c| c.snapshot).unwrap_or_default()
    }

    /// The faults of a run with `seed`: those in the file, then the swarm's, drawn from the seed.
    pub fn faults_for_seed(&self, seed: u64) -> Vec<Fault> {
        let mut faults = self.faults.clone();
        if let Some(swarm) = &self.swarm {
            faults.extend(crate::faults::draw_swarm(swarm, self, seed));
        }
        faults
    }

    /// The same scenario under another guarantee and, optionally, with every sink of another kind.
    pub fn with_variant(&self, guarantee: Guarantee, sink: Option<SinkKind>) -> Scenario {
        let mut s = self.clone();
        s.guarantee = guarantee;
        if s.checkpoint_settings.is_none() && guarantee != Guarantee::AtMostOnce {
            s.checkpoint_settings = Some(Checkpoints {
                interval_ms: 1_000,
                mode: guarantee,
                timeout_ms: default_checkpoint_timeout_ms(),
                min_pause_ms: 0,
                snapshot: SnapshotStyle::Asynchronous,
                unaligned: false,
                chandy_lamport: false,
                aligned_checkpoint_timeout_ms: None,
                cost: Default::default(),
            });
        }
        if let Some(kind) = sink {
            for op in s.job.graph.node_weights_mut() {
                if let OperatorKind::Sink(k) = &mut op.kind {
                    *k = kind;
                }
            }
            s.plan = s.job.plan().expect("changing sink kinds keeps the job valid");
        }
        s
    }

    /// Whether [`Scenario::with_variant`]`(guarantee, Some(sink))` is this scenario as written:
    /// its own guarantee, checkpoints it already has, and every sink already of kind `sink`.
    pub fn is_as_written(&self, guarantee: Guarantee, sink: SinkKind) -> bool {
        guarantee == self.guarantee
            && (self.checkpoint_settings.is_some() || guarantee == Guarantee::AtMostOnce)
            && self.plan.operators.iter().all(|o| !matches!(o.kind, OperatorKind::Sink(k) if k != sink))
    }

    /// The same scenario on `runtime` under `guarantee`. For Storm: at-most-once is acking off
    /// (0 ackers), at-least-once acking (at least one acker), exactly-once Trident (the
    /// scenario's Trident settings, or batches of 1 s). For Flink: [`Scenario::with_variant`].
    pub fn with_runtime_variant(&self, runtime: Runtime, guarantee: Guarantee, sink: Option<SinkKind>) -> Scenario {
        match runtime {
            Runtime::Flink => {
                let mut s = self.with_variant(guarantee, sink);
                s.model = Model::Flink;
                s
            }
            Runtime::Storm => {
                let mut s = self.with_variant(Guarantee::AtMostOnce, sink);
                s.guarantee = guarantee;
                let mut config = self.model.storm().cloned().unwrap_or_default();
                if config.trident.is_some() && guarantee != Guarantee::ExactlyOnce {
                    // A Trident scenario's max spout pending counts batches; plain acking runs
                    // without that bound.
                    config.max_spout_pending = None;
                }
                match guarantee {
                    Guarantee::AtMostOnce => {
                        config.ackers = 0;
                        config.trident = None;
                    }
                    Guarantee::AtLeastOnce => {
                        config.ackers = config.ackers.max(1);
                        config.trident = None;
                    }
                    Guarantee::ExactlyOnce => {
                        config.ackers = config.ackers.max(1);
                        config.trident =
                            Some(config.trident.unwrap_or(Trident { batch_ms: 1_000, state: TridentState::default() }));
                    }
                }
                s.model = Model::Storm(config);
                s
            }
            Runtime::Spark => spark::variant(self, guarantee, sink),
            Runtime::KafkaStreams => {
                let mut s = self.with_variant(Guarantee::AtMostOnce, sink);
                let mut config = self.model.kafka_streams().copied().unwrap_or_default();
                let wanted = match guarantee {
                    Guarantee::ExactlyOnce => ProcessingGuarantee::ExactlyOnceV2,
                    // No at-most-once in Kafka Streams: its models never offer one.
                    Guarantee::AtLeastOnce | Guarantee::AtMostOnce => ProcessingGuarantee::AtLeastOnce,
                };
                if wanted != config.guarantee {
                    // The file's commit interval is its guarantee's; the other guarantee runs
                    // with Kafka Streams' default for it (30 s or 100 ms), as a switch of
                    // `processing.guarantee` alone would.
                    config.guarantee = wanted;
                    config.commit_interval_ms = None;
                }
                s.guarantee = match wanted {
                    ProcessingGuarantee::AtLeastOnce => Guarantee::AtLeastOnce,
                    ProcessingGuarantee::ExactlyOnceV2 => Guarantee::ExactlyOnce,
                };
                s.model = Model::KafkaStreams(config);
                s
            }
        }
    }

    /// The runtime of this scenario.
    pub fn runtime(&self) -> Runtime {
        match self.model {
            Model::Flink => Runtime::Flink,
            Model::Storm(_) => Runtime::Storm,
            Model::Spark(_) => Runtime::Spark,
            Model::KafkaStreams(_) => Runtime::KafkaStreams,
        }
    }

    /// The same scenario without any fault: the oracle's reference.
    pub fn without_faults(&self) -> Scenario {
        let mut s = self.clone();
        s.faults.clear();
        s.swarm = None;
        // A Storm bolt's explicit fails are injected failures too.
        if let Model::Storm(config) = &mut s.model {
            config.fails.clear();
        }
        s
    }
}
