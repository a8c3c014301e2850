//! Scenario files (RON): the documented format, parsing with precise errors, and resolution into
//! a runnable job. A scenario is everything needed to reproduce a run except the seed (which it
//! may pin). The format reference is `book/src/reference/scenario-format.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use engine::checkpoint::{CheckpointConfig, CheckpointMode};
use engine::graph::{EdgeSpec, JobGraph, OperatorKind, OperatorSpec, PhysicalPlan, SourceSpec, Stream};
use engine::partition::Partitioning;
use engine::sink::SinkKind;
use engine::transform::{FilterFn, KeySelector, MapFn};
use engine::watermark::{Emission, ExplicitWatermark, WatermarkStrategy};
use engine::window::{Aggregate, WindowKind, WindowSpec};
use engine::{ms_to_ns, Firing};
use petgraph::graph::NodeIndex;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::dist::Delay;
use crate::faults::Fault;

/// Limits that keep a scenario file from asking for more than a run can hold.
pub const MAX_GENERATED_EVENTS: u64 = 50_000_000;
pub const MAX_PARTITIONS: u32 = 10_000;
pub const MAX_WINDOWS_PER_RECORD: i64 = 1_000;
/// Any time, duration or cost in a file, in its unit (ms or µs): about 3 years in ms.
pub const MAX_TIME_MS: u64 = 100_000_000_000;
/// Any multiplier (`factor`, `rate_multiplier`, `*_milli`).
pub const MAX_FACTOR: u64 = 1_000_000;

/// The scenario embedded in the binary and opened by default.
pub const DEFAULT_SCENARIO: &str = include_str!("../../scenarios/clickstream.ron");
pub const DEFAULT_SCENARIO_FILE: &str = "scenarios/clickstream.ron";

// ---------------------------------------------------------------------------------------------
// The file format.

/// A time in a scenario: integer milliseconds, or a clock string `"hh:mm:ss"` / `"hh:mm:ss.mmm"`
/// (milliseconds since midnight) for textbook data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeMs(pub i64);

impl Serialize for TimeMs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for TimeMs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TimeMs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("milliseconds as an integer, or a clock time like \"12:04:59\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<TimeMs, E> {
                Ok(TimeMs(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<TimeMs, E> {
                i64::try_from(v).map(TimeMs).map_err(|_| E::custom("time too large"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TimeMs, E> {
                parse_clock(v).map(TimeMs).ok_or_else(|| {
                    E::custom(format!("`{v}` is not a clock time; write \"hh:mm:ss\" or \"hh:mm:ss.mmm\""))
                })
            }
        }
        d.deserialize_any(V)
    }
}

fn parse_clock(s: &str) -> Option<i64> {
    let (hms, millis) = match s.split_once('.') {
        Some((a, b)) if b.len() == 3 => (a, b.parse::<i64>().ok()?),
        Some(_) => return None,
        None => (s, 0),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.len() != 2) {
        return None;
    }
    let h: i64 = parts[0].parse().ok()?;
    let m: i64 = parts[1].parse().ok()?;
    let sec: i64 = parts[2].parse().ok()?;
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    Some(((h * 60 + m) * 60 + sec) * 1000 + millis)
}

/// Format milliseconds since midnight as a clock string (for output of textbook scenarios).
pub fn format_clock(ms: i64) -> String {
    let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    if milli == 0 {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}.{milli:03}")
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename = "Scenario")]
pub struct ScenarioFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Pin the seed (the command line's `--seed` still wins).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Length of generated input, in milliseconds of processing time. Default 60 000.
    #[serde(default = "default_duration_ms")]
    pub duration_ms: u64,
    /// Stop the run here even if the job has not finished. Default: duration + 600 000.
    #[serde(default)]
    pub max_run_ms: Option<u64>,
    /// Print clock times (`12:04:59`) instead of milliseconds in the output.
    #[serde(default)]
    pub clock_times: bool,
    #[serde(default)]
    pub cluster: Cluster,
    #[serde(default)]
    pub network: Network,
    pub source: SourceData,
    #[serde(default)]
    pub watermarks: Watermarks,
    pub pipeline: Vec<Step>,
    /// Subtask name -> task manager name, overriding the default slot assignment.
    #[serde(default)]
    pub placement: BTreeMap<String, String>,
    #[serde(default)]
    pub checkpoints: Option<Checkpoints>,
    #[serde(default)]
    pub restart: RestartStrategy,
    #[serde(default)]
    pub failure_detection: FailureDetection,
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    #[serde(default)]
    pub swarm: Option<Swarm>,
    /// Keep, per window result, which source records contributed (the oracle needs it).
    #[serde(default = "yes")]
    pub track_lineage: bool,
    #[serde(default)]
    pub expect: Expect,
}

fn default_duration_ms() -> u64 {
    60_000
}
fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    #[serde(default = "default_task_managers")]
    pub task_managers: u32,
    #[serde(default = "default_slots")]
    pub slots_per_task_manager: u32,
}
fn default_task_managers() -> u32 {
    2
}
fn default_slots() -> u32 {
    4
}
impl Default for Cluster {
    fn default() -> Self {
        Cluster { task_managers: default_task_managers(), slots_per_task_manager: default_slots() }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Latency between different nodes.
    #[serde(default = "default_latency")]
    pub latency: Delay,
    /// Latency between subtasks on the same task manager, in microseconds. Default 10.
    #[serde(default = "default_local_latency_us")]
    pub local_latency_us: u64,
    /// Per-link overrides.
    #[serde(default)]
    pub links: Vec<Link>,
    /// Credit-based flow control: at most this many messages in flight or queued per channel
    /// (Flink's network buffers). A sender with a full output channel waits (backpressure).
    /// `None` for unbounded channels. Default 1000.
    #[serde(default = "default_channel_capacity")]
    pub channel_capacity: Option<u32>,
}
fn default_channel_capacity() -> Option<u32> {
    Some(1_000)
}
fn default_latency() -> Delay {
    Delay::Uniform { min_ms: 1, max_ms: 2 }
}
fn default_local_latency_us() -> u64 {
    10
}
impl Default for Network {
    fn default() -> Self {
        Network {
            latency: default_latency(),
            local_latency_us: default_local_latency_us(),
            links: Vec::new(),
            channel_capacity: default_channel_capacity(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub between: (String, String),
    pub latency: Delay,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum SourceData {
    Generator(Generator),
    Events(Vec<ExplicitEvent>),
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Generator {
    #[serde(default = "one")]
    pub partitions: u32,
    /// Events per second over all partitions.
    pub rate_per_s: u64,
    #[serde(default = "default_keys")]
    pub keys: u32,
    #[serde(default)]
    pub key_skew: KeySkew,
    #[serde(default)]
    pub value: ValueDist,
    #[serde(default)]
    pub disorder: Disorder,
    /// Partitions that receive nothing for a while.
    #[serde(default)]
    pub idle_partitions: Vec<IdlePartition>,
    /// Periods with a multiplied rate.
    #[serde(default)]
    pub bursts: Vec<Burst>,
}
fn default_keys() -> u32 {
    10
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum KeySkew {
    #[default]
    Uniform,
    /// `share_ppm` of all events go to the first `keys` keys.
    Hot { keys: u32, share_ppm: u32 },
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum ValueDist {
    Constant(i64),
    Uniform { min: i64, max: i64 },
}
impl Default for ValueDist {
    fn default() -> Self {
        ValueDist::Constant(1)
    }
}

/// How far event time lags behind arrival: `ts = arrival - delay`, and with probability
/// `very_late_ppm` another `very_late_ms` on top.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Disorder {
    #[serde(default)]
    pub delay: Delay,
    #[serde(default)]
    pub very_late_ppm: u32,
    #[serde(default)]
    pub very_late_ms: u64,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdlePartition {
    pub partition: u32,
    pub from_ms: u64,
    pub until_ms: u64,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Burst {
    pub from_ms: u64,
    pub until_ms: u64,
    pub rate_multiplier: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExplicitEvent {
    pub key: String,
    pub value: i64,
    /// Event time.
    pub ts: TimeMs,
    /// When the event is appended to the log (processing time).
    pub arrives: TimeMs,
    #[serde(default)]
    pub partition: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Watermarks {
    BoundedOutOfOrderness {
        bound_ms: i64,
        #[serde(default)]
        emit: Emit,
        #[serde(default)]
        idle_timeout_ms: Option<u64>,
    },
    Explicit(Vec<ExplicitMark>),
    None,
}
impl Default for Watermarks {
    fn default() -> Self {
        Watermarks::BoundedOutOfOrderness { bound_ms: 0, emit: Emit::default(), idle_timeout_ms: None }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Emit {
    Periodic { interval_ms: u64 },
    PerRecord,
}
impl Default for Emit {
    fn default() -> Self {
        Emit::Periodic { interval_ms: 200 }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExplicitMark {
    pub at: TimeMs,
    pub watermark: TimeMs,
}

/// One step of the pipeline. Operators connect to the previous operator unless they list
/// `inputs`; `KeyBy`, `Rebalance`, `Broadcast` and `Forward` set how the next operator's inputs
/// are partitioned.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Step {
    Source {
        name: String,
        #[serde(default = "one")]
        parallelism: u32,
        #[serde(default)]
        cost_us: Option<u64>,
    },
    Map {
        name: String,
        f: MapFn,
        #[serde(default = "one")]
        parallelism: u32,
        #[serde(default)]
        inputs: Vec<String>,
        #[serde(default)]
        cost_us: Option<u64>,
    },
    Filter {
        name: String,
        f: Filter,
        #[serde(default = "one")]
        parallelism: u32,
        #[serde(default)]
        inputs: Vec<String>,
        #[serde(default)]
        cost_us: Option<u64>,
    },
    KeyBy(KeySelector),
    Rebalance,
    Broadcast,
    Forward,
    Window {
        name: String,
        kind: WindowShape,
        aggregate: Aggregate,
        #[serde(default)]
        allowed_lateness_ms: i64,
        /// Name of the late-data side output; other steps may list it in `inputs`, otherwise a
        /// sink of that name is added.
        #[serde(default)]
        late_output: Option<String>,
        #[serde(default = "one")]
        parallelism: u32,
        #[serde(default)]
        inputs: Vec<String>,
        #[serde(default)]
        cost_us: Option<u64>,
    },
    Union {
        name: String,
        inputs: Vec<String>,
        #[serde(default = "one")]
        parallelism: u32,
        #[serde(default)]
        cost_us: Option<u64>,
    },
    Sink {
        name: String,
        #[serde(default = "plain")]
        kind: SinkKind,
        /// Two-phase commit: the store aborts a transaction this long after it opened.
        #[serde(default)]
        transaction_timeout_ms: Option<u64>,
        #[serde(default = "one")]
        parallelism: u32,
        #[serde(default)]
        inputs: Vec<String>,
        #[serde(default)]
        cost_us: Option<u64>,
    },
}
fn plain() -> SinkKind {
    SinkKind::Plain
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum WindowShape {
    Tumbling {
        size_ms: i64,
        /// Flink's window offset: windows start at `offset_ms + k * size_ms`; `|offset_ms| < size_ms`.
        #[serde(default)]
        offset_ms: i64,
    },
    Sliding {
        size_ms: i64,
        slide_ms: i64,
        /// Windows start at `offset_ms + k * slide_ms`; `|offset_ms| < slide_ms`.
        #[serde(default)]
        offset_ms: i64,
    },
    Session {
        gap_ms: i64,
    },
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Filter {
    ValueAtLeast(i64),
    ValueAtMost(i64),
    ValueDivisibleBy(i64),
    KeyIn(Vec<String>),
    Not(Box<Filter>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoints {
    pub interval_ms: u64,
    /// The delivery guarantee: how barriers are handled and how the job recovers.
    #[serde(default = "exactly_once")]
    pub mode: Guarantee,
    #[serde(default = "default_checkpoint_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub min_pause_ms: u64,
    #[serde(default)]
    pub snapshot: SnapshotStyle,
    /// Exactly-once only: unaligned checkpoints (barriers overtake queued data, which is stored
    /// in the snapshot as channel state).
    #[serde(default)]
    pub unaligned: bool,
}
fn exactly_once() -> Guarantee {
    Guarantee::ExactlyOnce
}

/// The three delivery guarantees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
pub enum Guarantee {
    /// No checkpoints: after a failure, restart from the sources' latest positions with empty state.
    AtMostOnce,
    /// Barrier tracking without alignment; restore the latest checkpoint (replays may double count).
    AtLeastOnce,
    /// Barrier alignment; restore the latest checkpoint.
    ExactlyOnce,
}

impl Guarantee {
    pub const ALL: [Guarantee; 3] = [Guarantee::AtMostOnce, Guarantee::AtLeastOnce, Guarantee::ExactlyOnce];
    pub fn label(self) -> &'static str {
        match self {
            Guarantee::AtMostOnce => "at-most-once",
            Guarantee::AtLeastOnce => "at-least-once",
            Guarantee::ExactlyOnce => "exactly-once",
        }
    }
    /// How barriers are handled, or None when nothing is checkpointed.
    pub fn checkpoint_mode(self) -> Option<CheckpointMode> {
        match self {
            Guarantee::AtMostOnce => None,
            Guarantee::AtLeastOnce => Some(CheckpointMode::AtLeastOnce),
            Guarantee::ExactlyOnce => Some(CheckpointMode::ExactlyOnce),
        }
    }
}

/// How a task takes its snapshot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum SnapshotStyle {
    /// Asynchronous barrier snapshotting: a short synchronous copy, the upload in the background.
    #[default]
    Asynchronous,
    /// The baseline ABS replaced: sources stop while the checkpoint runs, and every task blocks
    /// for the whole snapshot, upload included.
    StopTheWorld,
}

/// What to do after a failure (Flink's restart strategies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum RestartStrategy {
    FixedDelay {
        delay_ms: u64,
        max_attempts: u32,
    },
    /// Delay doubles (times `multiplier_milli / 1000`) after every restart, up to `max_delay_ms`.
    ExponentialDelay {
        initial_delay_ms: u64,
        max_delay_ms: u64,
        multiplier_milli: u64,
        max_attempts: u32,
    },
}
impl Default for RestartStrategy {
    fn default() -> Self {
        RestartStrategy::FixedDelay { delay_ms: 1_000, max_attempts: 20 }
    }
}
impl RestartStrategy {
    /// Delay before restart number `restart` (1-based), or None when attempts are exhausted.
    pub fn delay_ms(&self, restart: u32) -> Option<u64> {
        match *self {
            RestartStrategy::FixedDelay { delay_ms, max_attempts } => (restart <= max_attempts).then_some(delay_ms),
            RestartStrategy::ExponentialDelay { initial_delay_ms, max_delay_ms, multiplier_milli, max_attempts } => {
                if restart > max_attempts {
                    return None;
                }
                let mut delay = initial_delay_ms;
                for _ in 1..restart {
                    delay = (delay.saturating_mul(multiplier_milli) / 1000).min(max_delay_ms);
                }
                Some(delay.min(max_delay_ms))
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FailureDetection {
    #[serde(default = "default_heartbeat_interval_ms")]
    pub heartbeat_interval_ms: u64,
    #[serde(default = "default_heartbeat_timeout_ms")]
    pub heartbeat_timeout_ms: u64,
}
fn default_heartbeat_interval_ms() -> u64 {
    500
}
fn default_heartbeat_timeout_ms() -> u64 {
    2_000
}
impl Default for FailureDetection {
    fn default() -> Self {
        FailureDetection {
            heartbeat_interval_ms: default_heartbeat_interval_ms(),
            heartbeat_timeout_ms: default_heartbeat_timeout_ms(),
        }
    }
}

/// When a crash happens: at a time, or at a point of the checkpoint protocol.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum CrashPoint {
    At(TimeMs),
    /// When the coordinator triggers checkpoint n.
    OnCheckpointTrigger(u64),
    /// When `subtask` starts aligning barrier `checkpoint` (its first barrier arrived).
    WhileAligning {
        checkpoint: u64,
        subtask: String,
    },
    /// Right after a sink pre-committed its transaction for `checkpoint`.
    AfterPreCommit(u64),
    /// Right after the coordinator completed `checkpoint`, before any sink hears of it.
    AfterCheckpointComplete(u64),
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum FaultSpec {
    /// Kill a node (`jm` or `tm-i`); it comes back after `restart_after_ms` (never, if None).
    Crash {
        node: String,
        at: CrashPoint,
        #[serde(default)]
        restart_after_ms: Option<u64>,
    },
    /// No messages between two nodes (both directions) until it heals; TCP-like: what was sent
    /// arrives after the heal, in order.
    Partition { between: (String, String), from_ms: u64, until_ms: u64 },
    /// Extra latency on one link, or on all links when `between` is None.
    LatencySpike {
        #[serde(default)]
        between: Option<(String, String)>,
        from_ms: u64,
        until_ms: u64,
        extra_ms: u64,
    },
    /// Messages are lost with probability `loss_ppm` and retransmitted after `retransmit_ms`
    /// (channels stay FIFO: later messages wait behind the retransmission).
    MessageLoss {
        #[serde(default)]
        between: Option<(String, String)>,
        from_ms: u64,
        until_ms: u64,
        loss_ppm: u32,
        retransmit_ms: u64,
    },
    /// A node processes `factor` times slower.
    SlowNode { node: String, from_ms: u64, until_ms: u64, factor: u64 },
    /// Checkpoint storage refuses the writes of this checkpoint (it is declined).
    CheckpointStorageFailure { checkpoint: u64 },
}

/// Random faults drawn from the seed ("swarm testing"): how many of each, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Swarm {
    #[serde(default)]
    pub crashes: u32,
    #[serde(default)]
    pub partitions: u32,
    #[serde(default)]
    pub latency_spikes: u32,
    #[serde(default)]
    pub slow_nodes: u32,
    /// Faults start inside `[from_ms, until_ms)`.
    pub from_ms: u64,
    pub until_ms: u64,
    /// Longest outage (crash restart delay, partition, spike, slowness).
    #[serde(default = "default_swarm_outage_ms")]
    pub max_outage_ms: u64,
    /// Whether the job manager may crash too.
    #[serde(default)]
    pub include_job_manager: bool,
}
fn default_swarm_outage_ms() -> u64 {
    5_000
}

/// What a fault run does to the output compared with the fault-free reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum OutcomeClass {
    /// The visible output equals the reference.
    Exact,
    /// Nothing lost; some effects duplicated.
    Duplicates,
    /// Nothing duplicated; some effects lost.
    Loss,
    LossAndDuplicates,
    /// Nothing lost or duplicated, but rows the reference does not show or shows with another
    /// value (a session cut short, a window fired early): see `sim::oracle::Outcome`.
    WrongValues,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedOutcome {
    pub guarantee: Guarantee,
    pub sink: SinkKind,
    pub result: OutcomeClass,
}
fn default_checkpoint_timeout_ms() -> u64 {
    600_000
}

/// What the scenario tests check.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The exact visible sink output, in emission order per sink.
    #[serde(default)]
    pub output: Option<Vec<ExpectedRow>>,
    /// Records dropped as late, over all window operators.
    #[serde(default)]
    pub late_dropped: Option<u64>,
    /// Per guarantee and sink kind, what the faults do to the output (checked by
    /// `streamlab compare` and the tests).
    #[serde(default)]
    pub outcomes: Vec<ExpectedOutcome>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedRow {
    pub sink: String,
    pub key: String,
    pub window: Option<(TimeMs, TimeMs)>,
    pub value: i64,
    pub firing: Firing,
}

// ---------------------------------------------------------------------------------------------
// Errors.

/// A scenario that cannot be read, parsed or run, with where and why.
#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read: {message}")]
    Io { file: String, message: String },
    /// `field` is the path inside the file (`pipeline[2].kind`); line and column are 1-based.
    #[error("{file}:{line}:{column}: {field}: {message}")]
    Invalid { file: String, line: usize, column: usize, field: String, message: String },
}

impl ScenarioError {
    pub fn field(&self) -> Option<&str> {
        match self {
            ScenarioError::Invalid { field, .. } => Some(field),
            ScenarioError::Io { .. } => None,
        }
    }
}

/// Semantic checks find where to point by searching the text for a marker (e.g. the operator's
/// name), since the parsed values no longer carry positions.
struct Locator<'a> {
    file: &'a str,
    text: &'a str,
}

impl Locator<'_> {
    /// The first occurrence of `marker` that is not inside a `//` comment.
    fn find_outside_comments(&self, marker: &str) -> Option<usize> {
        self.text.match_indices(marker).map(|(o, _)| o).find(|&o| {
            let line_start = self.text[..o].rfind('\n').map_or(0, |n| n + 1);
            !self.text[line_start..o].contains("//")
        })
    }

    fn error(&self, field: impl Into<String>, marker: Option<&str>, message: impl Into<String>) -> ScenarioError {
        let field = field.into();
        let top = field.split(['[', '.']).next().unwrap_or("").to_string();
        let candidates = [marker.map(str::to_string), Some(format!("{top}:")), Some(top)];
        let offset = candidates.iter().flatten().filter(|m| !m.is_empty()).find_map(|m| self.find_outside_comments(m));
        let (line, column) = match offset {
            Some(o) => {
                let before = &self.text[..o];
                let line = before.matches('\n').count() + 1;
                let column = o - before.rfind('\n').map_or(0, |n| n + 1) + 1;
                (line, column)
            }
            None => (1, 1),
        };
        ScenarioError::Invalid { file: self.file.to_string(), line, column, field, message: message.into() }
    }
}

// ---------------------------------------------------------------------------------------------
// The resolved scenario: what the world runs.

/// A task manager or the job manager.
pub type NodeId = usize;
/// The job manager is node 0; task manager i is node i + 1.
pub const JOB_MANAGER: NodeId = 0;

/// Node names of a cluster: `jm` and `tm-0 .. tm-{n-1}`.
pub struct NodeNames {
    pub task_managers: u32,
}

impl NodeNames {
    pub fn resolve(&self, name: &str) -> Result<NodeId, String> {
        if name == "jm" {
            return Ok(JOB_MANAGER);
        }
        name.strip_prefix("tm-")
            .and_then(|i| i.parse::<u32>().ok())
            .filter(|i| *i < self.task_managers)
            .map(|i| i as usize + 1)
            .ok_or_else(|| format!("no node '{name}'; nodes are jm and tm-0 .. tm-{}", self.task_managers - 1))
    }
}

/// Where the source log's data comes from.
#[derive(Clone, Debug)]
pub enum LogData {
    Generator(Generator),
    /// Explicit events: (partition, arrival ms, key index, value, event time ms), sorted by arrival.
    Events(Vec<(u32, i64, u64, i64, i64)>),
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
    /// Task manager index of each subtask.
    pub placement: Vec<u32>,
    pub task_managers: u32,
    pub slots_per_task_manager: u32,
    pub latency: Delay,
    pub local_latency_ns: u64,
    /// Flow control: messages a channel holds at most (None: unbounded).
    pub channel_capacity: Option<u32>,
    /// Per (from node, to node) latency overrides, both directions listed.
    pub link_latency: BTreeMap<(NodeId, NodeId), Delay>,
    pub partitions: u32,
    pub log: LogData,
    pub key_names: Vec<String>,
    /// Checkpoint settings as written (interval, timeout, ...), whatever the guarantee.
    pub checkpoint_settings: Option<Checkpoints>,
    pub guarantee: Guarantee,
    pub restart: RestartStrategy,
    pub failure_detection: FailureDetection,
    /// Faults written in the file (swarm faults are drawn per seed: [`Scenario::faults_for_seed`]).
    pub faults: Vec<Fault>,
    pub swarm: Option<Swarm>,
    /// Two-phase-commit transactions older than this are aborted by the sink store.
    pub transaction_timeout_ns: Option<u64>,
    pub watermarks: Watermarks,
    pub track_lineage: bool,
    pub expect: Expect,
}

impl Scenario {
    /// Load and resolve a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError::Io { file: file.clone(), message: e.to_string() })?;
        Scenario::parse(&text, &file)
    }

    /// The embedded default scenario.
    pub fn default_scenario() -> Scenario {
        Scenario::parse(DEFAULT_SCENARIO, DEFAULT_SCENARIO_FILE).expect("the embedded default scenario is valid")
    }

    /// Parse scenario text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let raw = parse_file(text, file)?;
        resolve(raw, &Locator { file, text })
    }

    pub fn node_name(&self, node: NodeId) -> String {
        if node == JOB_MANAGER {
            "jm".to_string()
        } else {
            format!("tm-{}", node - 1)
        }
    }

    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        if name == "jm" {
            return Some(JOB_MANAGER);
        }
        let i: u32 = name.strip_prefix("tm-")?.parse().ok()?;
        (i < self.task_managers).then_some(i as usize + 1)
    }

    pub fn node_of_subtask(&self, subtask: usize) -> NodeId {
        self.placement[subtask] as usize + 1
    }

    pub fn key_name(&self, key: u64) -> String {
        if key == engine::transform::CONSTANT_KEY {
            "*".to_string()
        } else {
            self.key_names.get(key as usize).cloned().unwrap_or_else(|| format!("#{key}"))
        }
    }

    pub fn format_time_ms(&self, ms: i64) -> String {
        if ms == i64::MIN {
            "-inf".into()
        } else if ms == i64::MAX {
            "+inf".into()
        } else if self.clock_times {
            format_clock(ms)
        } else {
            ms.to_string()
        }
    }

    /// Checkpointing as the world runs it: None for at-most-once.
    pub fn checkpoint_config(&self) -> Option<CheckpointConfig> {
        let settings = self.checkpoint_settings?;
        let mode = match self.guarantee.checkpoint_mode()? {
            CheckpointMode::ExactlyOnce if settings.unaligned => CheckpointMode::Unaligned,
            mode => mode,
        };
        Some(CheckpointConfig {
            interval_ns: ms_to_ns(settings.interval_ms),
            timeout_ns: ms_to_ns(settings.timeout_ms),
            min_pause_ns: ms_to_ns(settings.min_pause_ms),
            mode,
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

    /// The same scenario without any fault: the oracle's reference.
    pub fn without_faults(&self) -> Scenario {
        let mut s = self.clone();
        s.faults.clear();
        s.swarm = None;
        s
    }

    fn describe_watermarks(&self) -> String {
        match &self.watermarks {
            Watermarks::BoundedOutOfOrderness { bound_ms, emit, idle_timeout_ms } => {
                let emit = match emit {
                    Emit::Periodic { interval_ms } => format!("every {interval_ms} ms"),
                    Emit::PerRecord => "per record".to_string(),
                };
                let idle = idle_timeout_ms.map_or("never idle".to_string(), |t| format!("idle after {t} ms"));
                format!("bounded out-of-orderness {bound_ms} ms, emitted {emit}, {idle}")
            }
            Watermarks::Explicit(marks) => {
                let marks: Vec<String> = marks
                    .iter()
                    .map(|m| format!("{} -> {}", self.format_time_ms(m.at.0), self.format_time_ms(m.watermark.0)))
                    .collect();
                format!("explicit schedule [{}]", marks.join(", "))
            }
            Watermarks::None => "none (windows fire at end of input)".to_string(),
        }
    }

    /// Every resolved parameter, one per line, for the top of a run's output.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![
            format!("scenario: {} ({})", self.name, self.file),
            format!("duration_ms: {}  max_run_ms: {}", self.duration_ms, self.max_run_ms),
            format!("cluster: jm + {} task managers x {} slots", self.task_managers, self.slots_per_task_manager),
            format!(
                "network: latency {}, local {} us, {} link overrides, channel capacity {}",
                self.latency.describe(),
                self.local_latency_ns / 1000,
                self.link_latency.len() / 2,
                self.channel_capacity.map_or("unbounded".to_string(), |c| format!("{c} messages"))
            ),
        ];
        match &self.log {
            LogData::Generator(g) => lines.push(format!(
                "source: generator, {} partitions, {} events/s, {} keys ({:?}), values {:?}, disorder {} + {} ppm very late by {} ms, {} idle periods, {} bursts",
                g.partitions, g.rate_per_s, g.keys, g.key_skew, g.value, g.disorder.delay.describe(),
                g.disorder.very_late_ppm, g.disorder.very_late_ms, g.idle_partitions.len(), g.bursts.len()
            )),
            LogData::Events(e) => lines.push(format!("source: {} explicit events in {} partitions", e.len(), self.partitions)),
        }
        lines.push(format!("watermarks: {}", self.describe_watermarks()));
        for (i, op) in self.plan.operators.iter().enumerate() {
            let subtasks: Vec<String> = (0..op.parallelism as usize)
                .map(|k| {
                    let s = op.first_subtask + k;
                    format!("{}@tm-{}", self.plan.subtasks[s].name, self.placement[s])
                })
                .collect();
            let inputs: Vec<String> = self
                .plan
                .subtasks
                .get(op.first_subtask)
                .map(|s| {
                    let mut v: Vec<String> = s
                        .inputs
                        .iter()
                        .map(|&c| {
                            let ch = &self.plan.channels[c];
                            format!("{}({:?})", self.plan.operator_of(ch.from).name, ch.partitioning)
                        })
                        .collect();
                    v.dedup();
                    v
                })
                .unwrap_or_default();
            lines.push(format!(
                "operator {}: {} '{}' parallelism {} cost {} us; inputs [{}]; subtasks [{}]",
                i,
                op.kind.label(),
                op.name,
                op.parallelism,
                self.record_cost_ns[i] / 1000,
                inputs.join(", "),
                subtasks.join(" ")
            ));
        }
        lines.push(format!("guarantee: {}", self.guarantee.label()));
        lines.push(match (&self.checkpoint_config(), &self.checkpoint_settings) {
            (Some(c), Some(settings)) => format!(
                "checkpoints: every {} ms, {:?}, timeout {} ms, min pause {} ms, {:?} snapshots",
                c.interval_ns / 1_000_000,
                c.mode,
                c.timeout_ns / 1_000_000,
                c.min_pause_ns / 1_000_000,
                settings.snapshot
            ),
            _ => "checkpoints: off".to_string(),
        });
        let sinks: Vec<String> = self
            .plan
            .operators
            .iter()
            .filter_map(|o| match o.kind {
                OperatorKind::Sink(k) => Some(format!("{}={}", o.name, k.label())),
                _ => None,
            })
            .collect();
        lines.push(format!("sinks: {}", sinks.join(", ")));
        let restart = match self.restart {
            RestartStrategy::FixedDelay { delay_ms, max_attempts } => {
                format!("fixed delay {delay_ms} ms, at most {max_attempts} restarts")
            }
            RestartStrategy::ExponentialDelay { initial_delay_ms, max_delay_ms, multiplier_milli, max_attempts } => format!(
                "exponential delay from {initial_delay_ms} ms x{}.{:03} up to {max_delay_ms} ms, at most {max_attempts} restarts",
                multiplier_milli / 1000,
                multiplier_milli % 1000
            ),
        };
        let fd = self.failure_detection;
        lines.push(format!(
            "restart: {restart}; failure detection: heartbeat every {} ms, timeout {} ms",
            fd.heartbeat_interval_ms, fd.heartbeat_timeout_ms
        ));
        if let Some(t) = self.transaction_timeout_ns {
            lines.push(format!("transaction timeout: {} ms", t / 1_000_000));
        }
        lines.push(format!("track_lineage: {}", self.track_lineage));
        lines
    }
}

/// The first non-whitespace position at or after (line, column), both 1-based.
fn skip_whitespace(text: &str, line: usize, column: usize) -> (usize, usize) {
    let (mut line, mut column) = (line, column);
    let Some(start) = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum::<usize>()
        .checked_add(column.saturating_sub(1))
    else {
        return (line, column);
    };
    for c in text.get(start..).unwrap_or("").chars() {
        match c {
            '\n' => {
                line += 1;
                column = 1;
            }
            c if c.is_whitespace() => column += 1,
            _ => break,
        }
    }
    (line, column)
}

fn parse_file(text: &str, file: &str) -> Result<ScenarioFile, ScenarioError> {
    let at = |e: ron::error::SpannedError, field: String| {
        // ron's span can start at the whitespace before the offending value: point at the value.
        let (line, column) = skip_whitespace(text, e.span.start.line, e.span.start.col);
        ScenarioError::Invalid { file: file.to_string(), line, column, field, message: e.code.to_string() }
    };
    // Implicit `Some`: `cost_us: 40` reads as `Some(40)`; writing `Some(40)` still works.
    let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let mut de = ron::Deserializer::from_str_with_options(text, &options).map_err(|e| at(e, "(file)".into()))?;
    let parsed: Result<ScenarioFile, _> = serde_path_to_error::deserialize(&mut de);
    match parsed {
        Ok(raw) => {
            de.end().map_err(|e| at(de.span_error(e), "(end of file)".into()))?;
            Ok(raw)
        }
        Err(e) => {
            let path = e.path().to_string();
            let field = if path.is_empty() || path == "." { "(top level)".to_string() } else { path };
            let spanned = de.span_error(e.into_inner());
            Err(at(spanned, field))
        }
    }
}

/// One mechanism for every time and cost in the file: none may exceed [`MAX_TIME_MS`] (so virtual
/// nanosecond arithmetic can never overflow), and no factor may exceed [`MAX_FACTOR`]. Fields are
/// found by name: `*_ms`, `*_us`, `ms`, and the explicit times `ts`, `arrives`, `at`, `watermark`.
fn check_magnitudes(raw: &ScenarioFile, loc: &Locator) -> Result<(), ScenarioError> {
    fn walk(v: &serde_json::Value, path: &str, loc: &Locator) -> Result<(), ScenarioError> {
        match v {
            serde_json::Value::Object(map) => {
                for (k, child) in map {
                    let child_path = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    let limit = if k.ends_with("_ms")
                        || k.ends_with("_us")
                        || ["ms", "ts", "arrives", "at", "watermark"].contains(&k.as_str())
                    {
                        Some((MAX_TIME_MS, "a time or duration"))
                    } else if ["factor", "rate_multiplier"].contains(&k.as_str()) || k.ends_with("_milli") {
                        Some((MAX_FACTOR, "a factor"))
                    } else {
                        None
                    };
                    if let (Some((max, what)), Some(n)) =
                        (limit, child.as_i64().or_else(|| child.as_u64().map(|u| u.min(i64::MAX as u64) as i64)))
                    {
                        if n.unsigned_abs() > max {
                            return Err(loc.error(
                                child_path,
                                Some(k),
                                format!("{what} of {n} is beyond the limit of {max}"),
                            ));
                        }
                    }
                    walk(child, &child_path, loc)?;
                }
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{i}]"), loc)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    let value = serde_json::to_value(raw).expect("a scenario always serialises");
    walk(&value, "", loc)
}

fn resolve(raw: ScenarioFile, loc: &Locator) -> Result<Scenario, ScenarioError> {
    check_magnitudes(&raw, loc)?;
    let parsed = raw.clone();
    let cluster = &raw.cluster;
    if cluster.task_managers == 0 {
        return Err(loc.error(
            "cluster.task_managers",
            Some("task_managers"),
            "a cluster needs at least one task manager",
        ));
    }
    if cluster.slots_per_task_manager == 0 {
        return Err(loc.error(
            "cluster.slots_per_task_manager",
            Some("slots_per_task_manager"),
            "a task manager needs at least one slot",
        ));
    }
    raw.network.latency.check().map_err(|m| loc.error("network.latency", Some("latency"), m))?;

    // Keys: generated keys are k0..k{n-1}; explicit events intern names in order of appearance.
    let mut key_names: Vec<String> = Vec::new();
    let (partitions, log) = match &raw.source {
        SourceData::Generator(g) => {
            if g.partitions == 0 {
                return Err(loc.error("source.partitions", Some("partitions"), "the log needs at least one partition"));
            }
            if g.rate_per_s == 0 {
                return Err(loc.error("source.rate_per_s", Some("rate_per_s"), "rate_per_s must be at least 1"));
            }
            // A limit on everything: the log is built up front, in memory.
            let burst = g.bursts.iter().map(|b| b.rate_multiplier).max().unwrap_or(1).max(1);
            let events = (g.rate_per_s as u128) * (raw.duration_ms as u128) / 1000 * burst as u128;
            if events > MAX_GENERATED_EVENTS as u128 {
                return Err(loc.error(
                    "source.rate_per_s",
                    Some("rate_per_s"),
                    format!(
                        "{} events/s for {} ms (bursts up to x{burst}) could generate {events} events; the limit is {MAX_GENERATED_EVENTS}",
                        g.rate_per_s, raw.duration_ms
                    ),
                ));
            }
            if g.partitions > MAX_PARTITIONS {
                return Err(loc.error(
                    "source.partitions",
                    Some("partitions"),
                    format!("at most {MAX_PARTITIONS} partitions"),
                ));
            }
            if g.keys == 0 {
                return Err(loc.error("source.keys", Some("keys:"), "keys must be at least 1"));
            }
            if let KeySkew::Hot { keys, share_ppm } = g.key_skew {
                if keys == 0 || keys > g.keys || share_ppm > 1_000_000 {
                    return Err(loc.error(
                        "source.key_skew",
                        Some("key_skew"),
                        format!("Hot needs 1 <= keys <= {} and share_ppm <= 1000000", g.keys),
                    ));
                }
            }
            if let ValueDist::Uniform { min, max } = g.value {
                if min > max {
                    return Err(loc.error(
                        "source.value",
                        Some("value:"),
                        format!("min ({min}) is larger than max ({max})"),
                    ));
                }
            }
            g.disorder.delay.check().map_err(|m| loc.error("source.disorder.delay", Some("disorder"), m))?;
            for (i, idle) in g.idle_partitions.iter().enumerate() {
                if idle.partition >= g.partitions || idle.from_ms > idle.until_ms {
                    return Err(loc.error(
                        format!("source.idle_partitions[{i}]"),
                        Some("idle_partitions"),
                        format!("needs partition < {} and from_ms <= until_ms", g.partitions),
                    ));
                }
            }
            for (i, b) in g.bursts.iter().enumerate() {
                if b.rate_multiplier == 0 || b.from_ms > b.until_ms {
                    return Err(loc.error(
                        format!("source.bursts[{i}]"),
                        Some("bursts"),
                        "needs rate_multiplier >= 1 and from_ms <= until_ms",
                    ));
                }
            }
            key_names = (0..g.keys).map(|k| format!("k{k}")).collect();
            (g.partitions, LogData::Generator(g.clone()))
        }
        SourceData::Events(events) => {
            if events.is_empty() {
                return Err(loc.error("source", Some("Events"), "an explicit event list needs at least one event"));
            }
            let mut rows = Vec::with_capacity(events.len());
            let mut partitions = 1;
            for (i, e) in events.iter().enumerate() {
                if e.arrives.0 < 0 {
                    return Err(loc.error(
                        format!("source[{i}].arrives"),
                        Some("arrives"),
                        "arrival time cannot be negative",
                    ));
                }
                let key = match key_names.iter().position(|k| *k == e.key) {
                    Some(k) => k,
                    None => {
                        key_names.push(e.key.clone());
                        key_names.len() - 1
                    }
                } as u64;
                partitions = partitions.max(e.partition + 1);
                rows.push((e.partition, e.arrives.0, key, e.value, e.ts.0));
            }
            // Stable: events with equal arrival keep file order.
            rows.sort_by_key(|r| r.1);
            (partitions, LogData::Events(rows))
        }
    };

    let watermarks = match &raw.watermarks {
        Watermarks::BoundedOutOfOrderness { bound_ms, emit, idle_timeout_ms } => {
            if *bound_ms < 0 {
                return Err(loc.error("watermarks.bound_ms", Some("bound_ms"), "bound_ms cannot be negative"));
            }
            if let Emit::Periodic { interval_ms: 0 } = emit {
                return Err(loc.error(
                    "watermarks.emit",
                    Some("interval_ms"),
                    "a periodic interval of 0 ms would never let time advance; use PerRecord",
                ));
            }
            WatermarkStrategy::BoundedOutOfOrderness {
                bound_ms: *bound_ms,
                emission: match emit {
                    Emit::Periodic { interval_ms } => Emission::Periodic { interval_ms: *interval_ms },
                    Emit::PerRecord => Emission::PerRecord,
                },
                idle_timeout_ms: *idle_timeout_ms,
            }
        }
        Watermarks::Explicit(marks) => {
            let mut list: Vec<ExplicitWatermark> = Vec::new();
            for (i, m) in marks.iter().enumerate() {
                if m.at.0 < 0 {
                    return Err(loc.error(format!("watermarks[{i}].at"), Some("at:"), "time cannot be negative"));
                }
                if let Some(prev) = list.last() {
                    if m.at.0 as u64 * 1_000_000 < prev.at_ns || m.watermark.0 < prev.watermark_ms {
                        return Err(loc.error(
                            format!("watermarks[{i}]"),
                            Some("at:"),
                            "explicit watermarks must be in order of `at`, and a watermark never goes back",
                        ));
                    }
                }
                list.push(ExplicitWatermark { at_ns: ms_to_ns(m.at.0 as u64), watermark_ms: m.watermark.0 });
            }
            WatermarkStrategy::Explicit(list)
        }
        Watermarks::None => WatermarkStrategy::None,
    };

    // The pipeline -> job graph.
    let mut job = JobGraph::new();
    let mut nodes: BTreeMap<String, (NodeIndex, Stream)> = BTreeMap::new();
    let mut costs_ns: Vec<u64> = Vec::new();
    let mut previous: Option<String> = None;
    let mut pending_partitioning: Option<(Partitioning, usize)> = None;
    let mut unconsumed_late: Vec<(String, NodeIndex, u32)> = Vec::new();
    let mut consumed: Vec<String> = Vec::new();
    let mut transaction_timeout_ms_min: Option<u64> = None;
    for (i, step) in raw.pipeline.iter().enumerate() {
        let field = format!("pipeline[{i}]");
        let (name, parallelism, inputs, cost_us, kind, default_cost_us) = match step {
            Step::KeyBy(selector) => {
                pending_partitioning = Some((Partitioning::Hash(*selector), i));
                continue;
            }
            Step::Rebalance => {
                pending_partitioning = Some((Partitioning::Rebalance, i));
                continue;
            }
            Step::Broadcast => {
                pending_partitioning = Some((Partitioning::Broadcast, i));
                continue;
            }
            Step::Forward => {
                pending_partitioning = Some((Partitioning::Forward, i));
                continue;
            }
            Step::Source { name, parallelism, cost_us } => (
                name,
                *parallelism,
                &Vec::new(),
                cost_us,
                OperatorKind::Source(SourceSpec { partitions, watermarks: watermarks.clone() }),
                2,
            ),
            Step::Map { name, f, parallelism, inputs, cost_us } => {
                (name, *parallelism, inputs, cost_us, OperatorKind::Map(f.clone()), 1)
            }
            Step::Filter { name, f, parallelism, inputs, cost_us } => {
                let f = resolve_filter(f, &key_names)
                    .map_err(|m| loc.error(format!("{field}.f"), Some(&format!("\"{name}\"")), m))?;
                (name, *parallelism, inputs, cost_us, OperatorKind::Filter(f), 1)
            }
            Step::Window { name, kind, aggregate, allowed_lateness_ms, late_output, parallelism, inputs, cost_us } => {
                let marker = format!("\"{name}\"");
                let kind = match *kind {
                    WindowShape::Tumbling { size_ms, offset_ms }
                        if size_ms > 0 && offset_ms.checked_abs().is_some_and(|o| o < size_ms) =>
                    {
                        WindowKind::Tumbling { size_ms, offset_ms }
                    }
                    WindowShape::Sliding { size_ms, slide_ms, offset_ms }
                        if size_ms > 0
                            && slide_ms > 0
                            && offset_ms.checked_abs().is_some_and(|o| o < slide_ms)
                            && (size_ms as u64).div_ceil(slide_ms as u64) <= MAX_WINDOWS_PER_RECORD as u64 =>
                    {
                        WindowKind::Sliding { size_ms, slide_ms, offset_ms }
                    }
                    WindowShape::Session { gap_ms } if gap_ms > 0 => WindowKind::Session { gap_ms },
                    _ => {
                        return Err(loc.error(
                            format!("{field}.kind"),
                            Some(&marker),
                            "window sizes, slides and gaps must be positive, an offset smaller than the size (tumbling) or the slide (sliding) in absolute value, as Flink requires, and a record in at most 1000 sliding windows (size / slide)",
                        ))
                    }
                };
                if *allowed_lateness_ms < 0 {
                    return Err(loc.error(
                        format!("{field}.allowed_lateness_ms"),
                        Some(&marker),
                        "allowed lateness cannot be negative",
                    ));
                }
                if let Some(late) = late_output {
                    unconsumed_late.push((late.clone(), NodeIndex::end(), *parallelism));
                }
                let spec = WindowSpec {
                    kind,
                    aggregate: *aggregate,
                    allowed_lateness_ms: *allowed_lateness_ms,
                    track_lineage: raw.track_lineage,
                };
                (name, *parallelism, inputs, cost_us, OperatorKind::Window(spec), 5)
            }
            Step::Union { name, inputs, parallelism, cost_us } => {
                (name, *parallelism, inputs, cost_us, OperatorKind::Union, 1)
            }
            Step::Sink { name, kind, parallelism, inputs, cost_us, transaction_timeout_ms } => {
                if let Some(t) = transaction_timeout_ms {
                    transaction_timeout_ms_min = Some(transaction_timeout_ms_min.map_or(*t, |m: u64| m.min(*t)));
                }
                (name, *parallelism, inputs, cost_us, OperatorKind::Sink(*kind), 3)
            }
        };
        let marker = format!("\"{name}\"");
        if nodes.contains_key(name) {
            return Err(loc.error(
                format!("{field}.name"),
                Some(&marker),
                format!("the name '{name}' is used twice; names must be unique"),
            ));
        }
        let is_source = matches!(kind, OperatorKind::Source(_));
        let is_window = matches!(kind, OperatorKind::Window(_));
        let node = job.add_operator(OperatorSpec { name: name.clone(), parallelism, kind });
        costs_ns.push(cost_us.unwrap_or(default_cost_us) * 1000);
        // Inputs: listed, or the previous operator.
        let input_names: Vec<String> = if is_source {
            if !inputs.is_empty() {
                return Err(loc.error(
                    format!("{field}.inputs"),
                    Some(&marker),
                    "sources read the log and take no inputs",
                ));
            }
            Vec::new()
        } else if !inputs.is_empty() {
            inputs.clone()
        } else {
            match &previous {
                Some(p) => vec![p.clone()],
                None => {
                    return Err(loc.error(
                        field,
                        Some(&marker),
                        "the first operator must be a Source (or list `inputs`)",
                    ))
                }
            }
        };
        let partitioning_override = pending_partitioning.take();
        for input in &input_names {
            let Some(&(from, stream)) = nodes.get(input) else {
                let known: Vec<&String> = nodes.keys().collect();
                return Err(loc.error(
                    format!("{field}.inputs"),
                    Some(&marker),
                    format!("no operator or side output named '{input}' before this step (known: {known:?})"),
                ));
            };
            consumed.push(input.clone());
            let from_parallelism = job.graph[from].parallelism;
            let partitioning = match partitioning_override {
                Some((p, _)) => p,
                None if from_parallelism == parallelism => Partitioning::Forward,
                None => Partitioning::Rebalance,
            };
            if is_window && !matches!(partitioning, Partitioning::Hash(_)) {
                return Err(loc.error(
                    field,
                    Some(&marker),
                    format!("window '{name}' needs keyed input: put KeyBy(Key) before it"),
                ));
            }
            job.connect(from, node, EdgeSpec { partitioning, stream });
        }
        if let Some(late) = unconsumed_late.last_mut().filter(|l| l.1 == NodeIndex::end()) {
            late.1 = node;
            if nodes.contains_key(&late.0) || late.0 == *name {
                return Err(loc.error(
                    format!("{field}.late_output"),
                    Some(&marker),
                    format!("the name '{}' is already used", late.0),
                ));
            }
            nodes.insert(late.0.clone(), (node, Stream::Late));
        }
        nodes.insert(name.clone(), (node, Stream::Main));
        previous = Some(name.clone());
    }
    if let Some((_, step)) = pending_partitioning {
        return Err(loc.error(
            format!("pipeline[{step}]"),
            None,
            "a partitioning step must be followed by an operator",
        ));
    }
    // Late outputs nobody consumes get a plain sink of their own name.
    for (late_name, window_node, _) in unconsumed_late {
        if consumed.contains(&late_name) {
            continue;
        }
        let sink_name = late_name.clone();
        if job.graph.node_weights().any(|n| n.name == sink_name) {
            return Err(loc.error(
                "pipeline",
                Some(&late_name),
                format!("the late output '{late_name}' clashes with an operator name"),
            ));
        }
        let sink = job.add_operator(OperatorSpec {
            name: sink_name,
            parallelism: 1,
            kind: OperatorKind::Sink(SinkKind::Plain),
        });
        costs_ns.push(3_000);
        let partitioning =
            if job.graph[window_node].parallelism == 1 { Partitioning::Forward } else { Partitioning::Rebalance };
        job.connect(window_node, sink, EdgeSpec { partitioning, stream: Stream::Late });
    }
    let plan = job.plan().map_err(|e| {
        let marker = match &e {
            engine::GraphError::Parallelism(n, _)
            | engine::GraphError::NoOutput(n)
            | engine::GraphError::NoInput(n)
            | engine::GraphError::WindowNotKeyed(n)
            | engine::GraphError::SinkWithOutput(n) => Some(format!("\"{n}\"")),
            engine::GraphError::ForwardParallelism { to, .. } => Some(format!("\"{to}\"")),
            _ => None,
        };
        loc.error("pipeline", marker.as_deref(), e.to_string())
    })?;

    // Placement: Flink's slot sharing puts subtask i of every operator into slot i; slots are
    // spread evenly over task managers (Flink's `cluster.evenly-spread-out-slots`), so slot i is
    // on task manager i mod n. Explicit entries override.
    let slots = cluster.task_managers * cluster.slots_per_task_manager;
    let widest = plan.operators.iter().max_by_key(|o| o.parallelism).expect("a job has operators");
    let max_parallelism = widest.parallelism;
    if max_parallelism > slots {
        // Point at the cluster block if the file has one, else at the operator asking for slots.
        let operator_marker = format!("\"{}\"", widest.name);
        let marker =
            if loc.find_outside_comments("cluster:").is_some() { "cluster:" } else { operator_marker.as_str() };
        return Err(loc.error(
            "cluster",
            Some(marker),
            format!(
                "parallelism {max_parallelism} needs {max_parallelism} slots, but the cluster has {} task managers x {} slots = {slots}",
                cluster.task_managers, cluster.slots_per_task_manager
            ),
        ));
    }
    let mut placement: Vec<u32> = plan.subtasks.iter().map(|s| s.index % cluster.task_managers).collect();
    for (subtask_name, tm) in &raw.placement {
        let Some(s) = plan.subtask_by_name(subtask_name) else {
            return Err(loc.error(
                format!("placement[\"{subtask_name}\"]"),
                Some(&format!("\"{subtask_name}\"")),
                format!("no subtask named '{subtask_name}' (subtasks are named like '{}')", plan.subtasks[0].name),
            ));
        };
        let tm_index =
            tm.strip_prefix("tm-").and_then(|i| i.parse::<u32>().ok()).filter(|i| *i < cluster.task_managers);
        let Some(tm_index) = tm_index else {
            return Err(loc.error(
                format!("placement[\"{subtask_name}\"]"),
                Some(&format!("\"{tm}\"")),
                format!("no task manager '{tm}'; they are tm-0 .. tm-{}", cluster.task_managers - 1),
            ));
        };
        placement[s] = tm_index;
    }

    let node_of = |name: &str, field: &str| -> Result<NodeId, ScenarioError> {
        if name == "jm" {
            return Ok(JOB_MANAGER);
        }
        name.strip_prefix("tm-")
            .and_then(|i| i.parse::<u32>().ok())
            .filter(|i| *i < cluster.task_managers)
            .map(|i| i as usize + 1)
            .ok_or_else(|| {
                loc.error(
                    field,
                    Some(&format!("\"{name}\"")),
                    format!("no node '{name}'; nodes are jm and tm-0 .. tm-{}", cluster.task_managers - 1),
                )
            })
    };
    let mut link_latency = BTreeMap::new();
    for (i, link) in raw.network.links.iter().enumerate() {
        let field = format!("network.links[{i}]");
        let a = node_of(&link.between.0, &field)?;
        let b = node_of(&link.between.1, &field)?;
        link.latency.check().map_err(|m| loc.error(&field, Some("links"), m))?;
        link_latency.insert((a, b), link.latency);
        link_latency.insert((b, a), link.latency);
    }

    if let Some(c) = &raw.checkpoints {
        if c.interval_ms == 0 {
            return Err(loc.error(
                "checkpoints.interval_ms",
                Some("interval_ms"),
                "a checkpoint interval of 0 ms is impossible; leave checkpoints out to disable them",
            ));
        }
        if c.timeout_ms == 0 {
            return Err(loc.error(
                "checkpoints.timeout_ms",
                Some("timeout_ms"),
                "a checkpoint timeout of 0 ms would abort every checkpoint",
            ));
        }
    }
    if let Some(c) = &raw.checkpoints {
        if c.unaligned && c.mode != Guarantee::ExactlyOnce {
            return Err(loc.error(
                "checkpoints.unaligned",
                Some("unaligned"),
                "unaligned checkpoints exist for exactly-once only: at-least-once never blocks, so there is nothing to unalign",
            ));
        }
    }
    let guarantee = raw.checkpoints.map_or(Guarantee::AtMostOnce, |c| c.mode);
    match raw.restart {
        RestartStrategy::ExponentialDelay { multiplier_milli, .. } if multiplier_milli < 1000 => {
            return Err(loc.error(
                "restart.multiplier_milli",
                Some("multiplier_milli"),
                "an exponential delay needs multiplier_milli >= 1000 (x1.0)",
            ));
        }
        _ => {}
    }
    let fd = raw.failure_detection;
    if fd.heartbeat_interval_ms == 0 || fd.heartbeat_timeout_ms < fd.heartbeat_interval_ms {
        return Err(loc.error(
            "failure_detection",
            Some("failure_detection"),
            "needs heartbeat_interval_ms >= 1 and heartbeat_timeout_ms >= heartbeat_interval_ms",
        ));
    }
    let nodes = NodeNames { task_managers: cluster.task_managers };
    let mut faults = Vec::new();
    for (i, f) in raw.faults.iter().enumerate() {
        let field = format!("faults[{i}]");
        faults.push(crate::faults::resolve(f, &nodes, &plan).map_err(|m| loc.error(&field, Some("faults"), m))?);
    }
    if let Some(swarm) = &raw.swarm {
        if swarm.from_ms >= swarm.until_ms || swarm.max_outage_ms == 0 {
            return Err(loc.error("swarm", Some("swarm"), "needs from_ms < until_ms and max_outage_ms >= 1"));
        }
    }

    let last_arrival_ms = match &log {
        LogData::Events(rows) => rows.last().map_or(0, |r| r.1 as u64),
        LogData::Generator(_) => raw.duration_ms,
    };
    let duration_ms = match &log {
        LogData::Events(_) => last_arrival_ms,
        LogData::Generator(_) => raw.duration_ms,
    };
    Ok(Scenario {
        raw: parsed,
        name: raw.name,
        description: raw.description,
        file: loc.file.to_string(),
        seed: raw.seed,
        duration_ms,
        max_run_ms: raw.max_run_ms.unwrap_or(duration_ms + 600_000),
        clock_times: raw.clock_times,
        job,
        plan,
        record_cost_ns: costs_ns,
        placement,
        task_managers: cluster.task_managers,
        slots_per_task_manager: cluster.slots_per_task_manager,
        latency: raw.network.latency,
        local_latency_ns: raw.network.local_latency_us * 1000,
        channel_capacity: raw.network.channel_capacity,
        link_latency,
        partitions,
        log,
        key_names,
        checkpoint_settings: raw.checkpoints,
        guarantee,
        restart: raw.restart,
        failure_detection: raw.failure_detection,
        faults,
        swarm: raw.swarm,
        transaction_timeout_ns: transaction_timeout_ms_min.map(ms_to_ns),
        watermarks: raw.watermarks,
        track_lineage: raw.track_lineage,
        expect: raw.expect,
    })
}

fn resolve_filter(f: &Filter, key_names: &[String]) -> Result<FilterFn, String> {
    Ok(match f {
        Filter::ValueAtLeast(n) => FilterFn::ValueAtLeast(*n),
        Filter::ValueAtMost(n) => FilterFn::ValueAtMost(*n),
        Filter::ValueDivisibleBy(0) => return Err("ValueDivisibleBy(0): division by zero".into()),
        Filter::ValueDivisibleBy(n) => FilterFn::ValueDivisibleBy(*n),
        Filter::KeyIn(names) => {
            let mut keys = Vec::new();
            for n in names {
                match key_names.iter().position(|k| k == n) {
                    Some(k) => keys.push(k as u64),
                    None => return Err(format!("KeyIn: no key named '{n}' in the source data")),
                }
            }
            FilterFn::KeyIn(keys)
        }
        Filter::Not(inner) => FilterFn::Not(Box::new(resolve_filter(inner, key_names)?)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_strings() {
        assert_eq!(parse_clock("12:04:59"), Some(((12 * 60 + 4) * 60 + 59) * 1000));
        assert_eq!(parse_clock("00:00:01.250"), Some(1250));
        assert_eq!(parse_clock("24:00:00"), None);
        assert_eq!(parse_clock("1:00:00"), None);
        assert_eq!(format_clock(parse_clock("12:07:46").unwrap()), "12:07:46");
    }
}
