//! The file format: every type serde reads from a scenario file (and `shrink` writes back).

use std::collections::BTreeMap;
use std::fmt;

use engine::checkpoint::CheckpointMode;
use engine::sink::SinkKind;
use engine::transform::{KeySelector, MapFn};
use engine::window::Aggregate;
use engine::Firing;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use super::explicit::{ExplicitEvent, ExplicitEvents};
use crate::dist::Delay;

/// A time in a scenario: integer milliseconds, or a clock string `"hh:mm:ss"` / `"hh:mm:ss.mmm"`
/// (milliseconds since midnight) for textbook data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeMs(pub i64);

impl Serialize for TimeMs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

/// What a field's own deserializer says of an integer its type cannot hold, as ron says it of a
/// plain integer field: the parser words both with the field's allowed range
/// ([`super::limits::out_of_bounds`]).
pub(super) const INTEGER_OUT_OF_BOUNDS: &str = "Integer is out of bounds";

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
                i64::try_from(v).map(TimeMs).map_err(|_| E::custom(INTEGER_OUT_OF_BOUNDS))
            }
            // ron reads an integer beyond u64 and i64 as a float: still a number out of bounds.
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<TimeMs, E> {
                if v.fract() == 0.0 && v.abs() >= 2f64.powi(63) {
                    Err(E::custom(INTEGER_OUT_OF_BOUNDS))
                } else {
                    Err(E::invalid_type(de::Unexpected::Float(v), &self))
                }
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

pub(super) fn parse_clock(s: &str) -> Option<i64> {
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
    /// What to do after a failure. None: Flink's default — exponential delay when the job
    /// checkpoints, no restart (the job fails) when it does not ([`RestartStrategy::flink_default`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartStrategy>,
    /// What a failure restarts: the pipelined regions with a task on the failed node
    /// (`Region`, Flink's default) or the whole job (`Full`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<crate::job::FailoverStrategy>,
    #[serde(default)]
    pub failure_detection: FailureDetection,
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    #[serde(default)]
    pub swarm: Option<Swarm>,
    /// Keep, per window result, which source records contributed (the oracle needs it).
    #[serde(default = "yes")]
    pub track_lineage: bool,
    /// Which runtime runs the pipeline: Flink (the default) or a Storm topology.
    #[serde(default, skip_serializing_if = "Model::is_flink")]
    pub model: Model,
    #[serde(default)]
    pub expect: Expect,
    /// A guided tour: narrated stops the workbench plays (pausing at each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tour: Vec<TourStop>,
}

/// One stop of a guided tour: at `at` (processing time, like a fault's time), or when
/// `at_event` happens in the run shown, the workbench moves the cursor there, shows `caption`
/// and, when given, highlights `highlight` (a subtask such as `"counts[1]"`, an operator such as
/// `"counts"`, or a node: `"jm"`, `"tm-0"`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TourStop {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<TimeMs>,
    /// An event of the run, found in whichever run is shown (a fork, another guarantee); `at`
    /// beside it is where the stop goes when the event does not happen there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_event: Option<TourEvent>,
    pub caption: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highlight: Option<String>,
    /// Stop playing here until the student presses Next (default); false: read on the way.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub pause: bool,
}

/// A run event a tour stop can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum TourEvent {
    /// The coordinator triggers checkpoint n (1: the first).
    CheckpointTriggered(u64),
    /// Checkpoint n completes.
    CheckpointCompleted(u64),
    /// Checkpoint n is aborted.
    CheckpointAborted(u64),
    /// The scenario's fault i fires (0: the first in `faults`).
    Fault(usize),
    /// The job's n-th restart (1: the first).
    Restart(u32),
}

fn is_true(b: &bool) -> bool {
    *b
}

/// The runtime a scenario's pipeline runs on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Model {
    /// Flink: checkpoints (barriers), restarts from the latest completed checkpoint.
    #[default]
    Flink,
    /// A Storm topology: record-level acking with the XOR acker, spout replay, or Trident.
    Storm(StormConfig),
    /// A Spark Structured Streaming query: micro-batches with an offset log and a commit log.
    Spark(SparkConfig),
    /// A Kafka Streams application: one task per input partition, state in changelog-backed
    /// stores, per-task failover (`crate::kstreams`).
    KafkaStreams(KafkaStreamsConfig),
}

impl Model {
    pub fn is_flink(&self) -> bool {
        matches!(self, Model::Flink)
    }
    pub fn storm(&self) -> Option<&StormConfig> {
        match self {
            Model::Storm(c) => Some(c),
            _ => None,
        }
    }
    pub fn spark(&self) -> Option<&SparkConfig> {
        match self {
            Model::Spark(c) => Some(c),
            _ => None,
        }
    }
    pub fn kafka_streams(&self) -> Option<&KafkaStreamsConfig> {
        match self {
            Model::KafkaStreams(c) => Some(c),
            _ => None,
        }
    }
}

/// Spark Structured Streaming's micro-batch settings (Spark's option names in the comments).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SparkConfig {
    /// `Trigger.ProcessingTime(interval)` in ms: batches start on this grid; a batch that takes
    /// longer delays the next (scheduling delay). 0: the next batch as soon as the previous
    /// ends. Default 1 000.
    #[serde(default = "default_trigger_ms")]
    pub trigger_ms: u64,
    /// `maxOffsetsPerTrigger`: at most this many records per batch over all partitions (split
    /// in proportion to what each partition has waiting). None: everything available.
    #[serde(default)]
    pub max_records_per_trigger: Option<u64>,
    /// `checkpointLocation`: with it the offset log, commit log and state store survive a
    /// restart (the query resumes where it stopped); without it (false) a restarted query starts
    /// afresh from the latest offsets. Default true.
    #[serde(default = "yes")]
    pub checkpoint: bool,
    /// Time to write one entry of the offset or commit log (an HDFS or S3 write), in ms.
    /// Default 10.
    #[serde(default = "default_log_write_ms")]
    pub log_write_ms: u64,
}
fn default_trigger_ms() -> u64 {
    1_000
}
fn default_log_write_ms() -> u64 {
    10
}
impl Default for SparkConfig {
    fn default() -> Self {
        SparkConfig {
            trigger_ms: default_trigger_ms(),
            max_records_per_trigger: None,
            checkpoint: true,
            log_write_ms: default_log_write_ms(),
        }
    }
}

/// Kafka Streams' settings (the names of its configuration keys in the comments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaStreamsConfig {
    /// `processing.guarantee`: `AtLeastOnce` (the default) or `ExactlyOnceV2`.
    #[serde(default)]
    pub guarantee: ProcessingGuarantee,
    /// `commit.interval.ms`. None: Kafka Streams' default for the guarantee, 30 000 for
    /// at-least-once and 100 for exactly-once v2. It belongs to `guarantee`: a variant under
    /// the other guarantee (`compare`) runs with that one's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_interval_ms: Option<u64>,
    /// `num.standby.replicas`: warm copies of each stateful task's store on other instances.
    /// Default 0.
    #[serde(default)]
    pub standby_replicas: u32,
    /// `session.timeout.ms`: how long the group coordinator waits for a crashed instance before
    /// the rebalance that moves its tasks. Default 45 000.
    #[serde(default = "default_session_timeout_ms")]
    pub session_timeout_ms: u64,
    /// `transaction.timeout.ms` (exactly-once v2): an open transaction of a crashed instance
    /// is aborted this long after the crash (or when the instance comes back, if sooner).
    /// Default 10 000, Kafka Streams' setting under exactly-once.
    #[serde(default = "default_transaction_timeout_ms")]
    pub transaction_timeout_ms: u64,
    /// What restoring one changelog record costs, in µs (fetch and put into the store).
    /// Default 10.
    #[serde(default = "default_restore_cost_us")]
    pub restore_cost_us: u64,
}

/// `processing.guarantee` (Kafka Streams offers no at-most-once setting).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum ProcessingGuarantee {
    /// `at_least_once`: commit input offsets after flushing output and changelog writes.
    #[default]
    AtLeastOnce,
    /// `exactly_once_v2`: output, changelog writes and input offsets in one transaction per
    /// commit.
    ExactlyOnceV2,
}

impl ProcessingGuarantee {
    /// Kafka Streams' default `commit.interval.ms` under this guarantee.
    pub fn default_commit_interval_ms(self) -> u64 {
        match self {
            ProcessingGuarantee::AtLeastOnce => 30_000,
            ProcessingGuarantee::ExactlyOnceV2 => 100,
        }
    }
}

fn default_session_timeout_ms() -> u64 {
    45_000
}
fn default_transaction_timeout_ms() -> u64 {
    10_000
}
fn default_restore_cost_us() -> u64 {
    10
}

impl Default for KafkaStreamsConfig {
    fn default() -> Self {
        KafkaStreamsConfig {
            guarantee: ProcessingGuarantee::default(),
            commit_interval_ms: None,
            standby_replicas: 0,
            session_timeout_ms: default_session_timeout_ms(),
            transaction_timeout_ms: default_transaction_timeout_ms(),
            restore_cost_us: default_restore_cost_us(),
        }
    }
}

impl KafkaStreamsConfig {
    /// `commit.interval.ms` in effect.
    pub fn commit_interval_ms(&self) -> u64 {
        self.commit_interval_ms.unwrap_or(self.guarantee.default_commit_interval_ms())
    }
}

/// Storm's reliability settings (the names of Storm's configuration keys in the comments).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StormConfig {
    /// `topology.acker.executors`: 0 turns acking off (at-most-once). Default 1.
    #[serde(default = "one")]
    pub ackers: u32,
    /// `topology.message.timeout.secs` (in ms): a tuple tree not completed fails between this
    /// and twice this after its spout tuple was emitted. Default 30 000.
    #[serde(default = "default_message_timeout_ms")]
    pub message_timeout_ms: u64,
    /// `topology.max.spout.pending`: tuples in flight per spout task (Trident: batches in
    /// flight). None: unbounded. Default Some(1000).
    #[serde(default = "default_max_spout_pending")]
    pub max_spout_pending: Option<u32>,
    /// Processing cost of one acker message (init, ack, fail) at the acker and of an ack or fail
    /// at the spout, in µs. Default 5.
    #[serde(default = "default_ack_cost_us")]
    pub ack_cost_us: u64,
    /// Run as a Trident topology (exactly-once state) instead of plain acking.
    #[serde(default)]
    pub trident: Option<Trident>,
    /// Bolts that fail tuples explicitly (`collector.fail(tuple)`, say a lookup that timed
    /// out): the acker fails the tuple's tree at once and the spout replays it, without waiting
    /// for the message timeout. Plain acking only (refused with Trident). Default none.
    #[serde(default)]
    pub fails: Vec<BoltFail>,
}

/// One bolt's explicit fails: `bolt` fails every tuple matching `when` the first `times` times
/// it sees that tuple's source record (per bolt task, in memory: a restarted task forgets).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BoltFail {
    /// The name of a `Map`, `Filter` or `Sink` step.
    pub bolt: String,
    pub when: engine::transform::FilterFn,
    #[serde(default = "one")]
    pub times: u32,
}
fn default_message_timeout_ms() -> u64 {
    30_000
}
fn default_max_spout_pending() -> Option<u32> {
    Some(1_000)
}
fn default_ack_cost_us() -> u64 {
    5
}
impl Default for StormConfig {
    fn default() -> Self {
        StormConfig {
            ackers: 1,
            message_timeout_ms: default_message_timeout_ms(),
            max_spout_pending: default_max_spout_pending(),
            ack_cost_us: default_ack_cost_us(),
            trident: None,
            fails: Vec::new(),
        }
    }
}

/// Trident's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Trident {
    /// A batch holds the log entries that arrived within this many milliseconds.
    pub batch_ms: u64,
    #[serde(default)]
    pub state: TridentState,
}

/// How Trident state guards against a replayed batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum TridentState {
    /// Value and txid: a batch with the stored txid is skipped.
    #[default]
    Transactional,
    /// Value, previous value and txid: a replayed batch is re-applied on the previous value.
    OpaqueTransactional,
}

/// The runtime of a compared variant (`expect.outcomes[i].runtime`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
pub enum Runtime {
    #[default]
    Flink,
    /// Storm: at-most-once is acking off, at-least-once acking, exactly-once Trident.
    Storm,
    /// Spark micro-batches: at-most-once is no checkpoint location, at-least-once a checkpoint
    /// and a plain sink, exactly-once a checkpoint and a sink idempotent or transactional by
    /// batch id.
    Spark,
    /// Kafka Streams: at-least-once is `at_least_once`, exactly-once `exactly_once_v2`; no
    /// at-most-once.
    KafkaStreams,
}

impl Runtime {
    pub fn is_flink(&self) -> bool {
        *self == Runtime::Flink
    }
    pub fn label(self) -> &'static str {
        match self {
            Runtime::Flink => "flink",
            Runtime::Storm => "storm",
            Runtime::Spark => "spark",
            Runtime::KafkaStreams => "kafka-streams",
        }
    }
}

fn default_duration_ms() -> u64 {
    60_000
}
fn yes() -> bool {
    true
}
fn is_zero(n: &u64) -> bool {
    *n == 0
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
    /// Credit-based flow control: at most this many network buffers in flight or queued per
    /// channel (Flink's credits; a buffer holds up to 1 024 records). A sender with a full output
    /// channel waits (backpressure). `None` for unbounded channels. Default 1000.
    #[serde(default = "default_channel_capacity")]
    pub channel_capacity: Option<u32>,
    /// Flink's `execution.buffer-timeout`: a partly filled network buffer is sent at the latest
    /// this long after the output flusher's last round (buffers also go out when full and ahead
    /// of a checkpoint barrier or the end of input). `0` sends every record at once. Default 100.
    #[serde(default = "default_buffer_timeout_ms")]
    pub buffer_timeout_ms: u64,
}
fn default_buffer_timeout_ms() -> u64 {
    100
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
            buffer_timeout_ms: default_buffer_timeout_ms(),
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
    Events(ExplicitEvents),
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
        /// One-way latency between a source subtask's Kafka consumer and the broker, in µs: the
        /// consumer long-polls, so records arrive in batches a round trip apart
        /// (`source_cursor::Fetch`). 0: a record is readable the instant it is appended.
        #[serde(default, skip_serializing_if = "is_zero")]
        fetch_latency_us: u64,
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

/// Checkpoint settings as a run uses them. The file's `mode` is a delivery guarantee or
/// `ChandyLamport` (exactly-once by Chandy–Lamport markers): read and written through
/// [`CheckpointsInFile`], so that the rest of streamlab sees the guarantee (`mode`) and the
/// barrier rule (`unaligned`, `chandy_lamport`) apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(from = "CheckpointsInFile", into = "CheckpointsInFile")]
pub struct Checkpoints {
    pub interval_ms: u64,
    /// The delivery guarantee: how barriers are handled and how the job recovers.
    pub mode: Guarantee,
    pub timeout_ms: u64,
    pub min_pause_ms: u64,
    pub snapshot: SnapshotStyle,
    /// Exactly-once only: unaligned checkpoints (barriers overtake queued data, which is stored
    /// in the snapshot as channel state).
    pub unaligned: bool,
    /// Exactly-once only, written `mode: ChandyLamport`: barriers are Chandy–Lamport markers —
    /// in FIFO order with the data, never blocking; the snapshot is taken at the first one and
    /// the other inputs are recorded until their markers (channel state).
    pub chandy_lamport: bool,
    /// Unaligned only: Flink's `execution.checkpointing.aligned-checkpoint-timeout`. Each
    /// checkpoint starts aligned; a subtask still aligning this long after the checkpoint was
    /// triggered switches it to unaligned. `Some(0)` (or absent): always unaligned.
    pub aligned_checkpoint_timeout_ms: Option<u64>,
    /// What a snapshot costs (book: "The checkpoint cost model").
    pub cost: SnapshotCost,
}

/// The `checkpoints` settings as a scenario file writes them (named `Checkpoints(...)` in a file
/// that names its structs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename = "Checkpoints")]
pub struct CheckpointsInFile {
    pub interval_ms: u64,
    /// The delivery guarantee, or `ChandyLamport`.
    #[serde(default = "exactly_once_in_file")]
    pub mode: CheckpointsMode,
    #[serde(default = "default_checkpoint_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub min_pause_ms: u64,
    #[serde(default)]
    pub snapshot: SnapshotStyle,
    #[serde(default)]
    pub unaligned: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aligned_checkpoint_timeout_ms: Option<u64>,
    #[serde(default)]
    pub cost: SnapshotCost,
}

/// `checkpoints.mode` as written: one of the delivery guarantees, or Chandy–Lamport markers
/// (an exactly-once guarantee by another barrier rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum CheckpointsMode {
    AtMostOnce,
    AtLeastOnce,
    ExactlyOnce,
    ChandyLamport,
}

fn exactly_once_in_file() -> CheckpointsMode {
    CheckpointsMode::ExactlyOnce
}

impl From<CheckpointsInFile> for Checkpoints {
    fn from(f: CheckpointsInFile) -> Self {
        let (mode, chandy_lamport) = match f.mode {
            CheckpointsMode::AtMostOnce => (Guarantee::AtMostOnce, false),
            CheckpointsMode::AtLeastOnce => (Guarantee::AtLeastOnce, false),
            CheckpointsMode::ExactlyOnce => (Guarantee::ExactlyOnce, false),
            CheckpointsMode::ChandyLamport => (Guarantee::ExactlyOnce, true),
        };
        Checkpoints {
            interval_ms: f.interval_ms,
            mode,
            timeout_ms: f.timeout_ms,
            min_pause_ms: f.min_pause_ms,
            snapshot: f.snapshot,
            unaligned: f.unaligned,
            chandy_lamport,
            aligned_checkpoint_timeout_ms: f.aligned_checkpoint_timeout_ms,
            cost: f.cost,
        }
    }
}

impl From<Checkpoints> for CheckpointsInFile {
    fn from(c: Checkpoints) -> Self {
        let mode = match c.mode {
            Guarantee::ExactlyOnce if c.chandy_lamport => CheckpointsMode::ChandyLamport,
            Guarantee::AtMostOnce => CheckpointsMode::AtMostOnce,
            Guarantee::AtLeastOnce => CheckpointsMode::AtLeastOnce,
            Guarantee::ExactlyOnce => CheckpointsMode::ExactlyOnce,
        };
        CheckpointsInFile {
            interval_ms: c.interval_ms,
            mode,
            timeout_ms: c.timeout_ms,
            min_pause_ms: c.min_pause_ms,
            snapshot: c.snapshot,
            unaligned: c.unaligned,
            aligned_checkpoint_timeout_ms: c.aligned_checkpoint_timeout_ms,
            cost: c.cost,
        }
    }
}

/// The checkpoint cost model's constants. A subtask's snapshot has a synchronous phase that
/// blocks the task (copying its state: `state bytes / sync_mb_per_s`, at least 10 µs) and an
/// asynchronous upload (`state bytes / upload_mb_per_s`, at least 1 ms) that runs beside the
/// tasks on the same task manager and competes with them for its cores (one core per slot):
/// while uploads run, the node's records cost `(tasks + uploads) / max(tasks, cores)` times more
/// when that exceeds 1. The defaults are calibrated (book: the calibration): a keyed count at
/// p = 1 over 100 000 keys with checkpoints every 200 ms loses about 30 % of its throughput.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotCost {
    #[serde(default = "default_sync_mb_per_s")]
    pub sync_mb_per_s: u64,
    #[serde(default = "default_upload_mb_per_s")]
    pub upload_mb_per_s: u64,
}
pub fn default_sync_mb_per_s() -> u64 {
    250
}
pub fn default_upload_mb_per_s() -> u64 {
    25
}
impl Default for SnapshotCost {
    fn default() -> Self {
        SnapshotCost { sync_mb_per_s: default_sync_mb_per_s(), upload_mb_per_s: default_upload_mb_per_s() }
    }
}
impl SnapshotCost {
    /// The synchronous phase for `bytes` of state (ns), at least 10 µs.
    pub fn sync_ns(&self, bytes: u64) -> u64 {
        transfer_ns(bytes, self.sync_mb_per_s).max(10_000)
    }
    /// The asynchronous upload for `bytes` of state (ns), at least 1 ms.
    pub fn upload_ns(&self, bytes: u64) -> u64 {
        transfer_ns(bytes, self.upload_mb_per_s).max(1_000_000)
    }
}
/// Moving `bytes` at `mb_per_s` (10^6 bytes a second), in ns; saturates far below overflow.
fn transfer_ns(bytes: u64, mb_per_s: u64) -> u64 {
    let ns = u128::from(bytes) * 1_000 / u128::from(mb_per_s.max(1));
    u64::try_from(ns).unwrap_or(u64::MAX).min(u64::MAX / 4)
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

/// What to do after a failure (Flink's restart strategies, `restart-strategy.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum RestartStrategy {
    /// Never restart: the first failure fails the job (Flink's `none`).
    NoRestart,
    FixedDelay {
        delay_ms: u64,
        max_attempts: u32,
    },
    /// Flink's `exponential-delay`: the n-th consecutive restart waits
    /// `initial_delay_ms * (multiplier_milli / 1000)^(n-1)`, plus or minus up to
    /// `jitter_milli / 1000` of it (drawn from the seed), at least `initial_delay_ms` and at most
    /// `max_delay_ms`. A failure more than `reset_after_ms` after the last restart starts again
    /// from `initial_delay_ms` (and from attempt 1). Omitted fields take Flink's defaults.
    ExponentialDelay {
        #[serde(default = "default_initial_delay_ms")]
        initial_delay_ms: u64,
        #[serde(default = "default_max_delay_ms")]
        max_delay_ms: u64,
        #[serde(default = "default_multiplier_milli")]
        multiplier_milli: u64,
        /// Restarts before the job fails (Flink's `attempts-before-reset-backoff`; default:
        /// unlimited, written `u32::MAX`).
        #[serde(default = "unlimited_attempts")]
        max_attempts: u32,
        #[serde(default = "default_jitter_milli")]
        jitter_milli: u64,
        #[serde(default = "default_reset_after_ms")]
        reset_after_ms: u64,
    },
}

// Flink's documented defaults for `restart-strategy.exponential-delay.*` (1.19 onwards, 2.x):
// initial-backoff 1 s, max-backoff 1 min, backoff-multiplier 1.5, jitter-factor 0.1,
// reset-backoff-threshold 1 h, attempts-before-reset-backoff infinite.
fn default_initial_delay_ms() -> u64 {
    1_000
}
fn default_max_delay_ms() -> u64 {
    60_000
}
fn default_multiplier_milli() -> u64 {
    1_500
}
fn unlimited_attempts() -> u32 {
    u32::MAX
}
fn default_jitter_milli() -> u64 {
    100
}
fn default_reset_after_ms() -> u64 {
    3_600_000
}

impl RestartStrategy {
    /// Flink's exponential delay with every default (what a checkpointed job restarts with
    /// when nothing is configured).
    pub const FLINK_EXPONENTIAL: RestartStrategy = RestartStrategy::ExponentialDelay {
        initial_delay_ms: 1_000,
        max_delay_ms: 60_000,
        multiplier_milli: 1_500,
        max_attempts: u32::MAX,
        jitter_milli: 100,
        reset_after_ms: 3_600_000,
    };

    /// Flink 2.x's `restart-strategy.type` when none is configured: exponential delay with
    /// checkpointing, none (the job fails at the first failure) without.
    pub fn flink_default(checkpointing: bool) -> RestartStrategy {
        if checkpointing {
            RestartStrategy::FLINK_EXPONENTIAL
        } else {
            RestartStrategy::NoRestart
        }
    }

    /// The delay before a restart, or None when the strategy gives up. `attempt` is the
    /// restart's number among consecutive ones (1-based; exponential delay resets it after
    /// `reset_after_ms` without failure, the caller counts). `jitter_draw` is a uniform random
    /// number (from the seed) that picks the jitter.
    pub fn delay_ms(&self, attempt: u32, jitter_draw: u64) -> Option<u64> {
        match *self {
            RestartStrategy::NoRestart => None,
            RestartStrategy::FixedDelay { delay_ms, max_attempts } => (attempt <= max_attempts).then_some(delay_ms),
            RestartStrategy::ExponentialDelay {
                initial_delay_ms,
                max_delay_ms,
                multiplier_milli,
                max_attempts,
                jitter_milli,
                ..
            } => {
                if attempt > max_attempts {
                    return None;
                }
                // initial * multiplier^(attempt - 1), saturating: once far above the maximum,
                // no jitter can bring it back below.
                let mut base = u128::from(initial_delay_ms);
                let ceiling = u128::from(max_delay_ms).saturating_mul(1_000_000).max(1 << 64);
                for _ in 1..attempt {
                    base = base * u128::from(multiplier_milli) / 1000;
                    if base > ceiling {
                        break;
                    }
                }
                let base = u64::try_from(base.min(u128::from(u64::MAX))).unwrap_or(u64::MAX);
                // Flink: a uniform offset in [-base * jitter, +base * jitter].
                let offset =
                    u64::try_from(u128::from(base) * u128::from(jitter_milli.min(1000)) / 1000).unwrap_or(u64::MAX);
                let span = offset.saturating_mul(2).saturating_add(1);
                let draw = jitter_draw % span;
                let jittered = if draw >= offset {
                    base.saturating_add(draw - offset)
                } else {
                    base.saturating_sub(offset - draw)
                };
                Some(jittered.min(max_delay_ms).max(initial_delay_ms))
            }
        }
    }

    /// After how long without failure an exponential delay starts again from its initial value.
    pub fn reset_after_ms(&self) -> Option<u64> {
        match *self {
            RestartStrategy::ExponentialDelay { reset_after_ms, .. } => Some(reset_after_ms),
            _ => None,
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
    /// An instant in nanoseconds: what a run saved from the workbench writes for a crash that
    /// happened between two milliseconds (a protocol-point crash resolved to when it fired), so
    /// that the file runs it at exactly that instant.
    AtNs(u64),
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
    /// Every source record counted as often as in the reference, in other rows: event time
    /// grouped the same records differently (a session split, late records in an on-time
    /// firing after a restore restarted event time): see `sim::oracle::Outcome`.
    Regrouped,
    /// Without lineage (`track_lineage: false`): rows differ, none missing or shown twice.
    WrongValues,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedOutcome {
    /// Flink (the default) or Storm's variant of the guarantee.
    #[serde(default, skip_serializing_if = "Runtime::is_flink")]
    pub runtime: Runtime,
    pub guarantee: Guarantee,
    pub sink: SinkKind,
    /// The class the run must come out as; absent: whatever keeps the guarantee's promise
    /// (`sim::oracle::Outcome::verdict`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<OutcomeClass>,
}

impl ExpectedOutcome {
    /// Does a run of this variant, judged `class` and keeping its promise or not, meet it?
    pub fn met_by(&self, class: OutcomeClass, promise_kept: bool) -> bool {
        self.result.map_or(promise_kept, |r| r == class)
    }
    /// What it asks for, in words.
    pub fn wanted(&self) -> String {
        self.result.map_or_else(|| format!("the {} promise kept", self.guarantee.label()), |r| format!("{r:?}"))
    }
}
pub(crate) fn default_checkpoint_timeout_ms() -> u64 {
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

    /// `shrink` writes checkpoint settings back as `Checkpoints(...)` with their mode as written
    /// (Chandy–Lamport included), and reads them again, with or without the struct's name.
    #[test]
    fn checkpoint_settings_round_trip_as_the_file_writes_them() {
        let text = "(interval_ms: 500, mode: ChandyLamport)";
        let settings: Checkpoints = ron::from_str(text).expect("parses");
        assert_eq!((settings.mode, settings.chandy_lamport), (Guarantee::ExactlyOnce, true));
        let config = ron::ser::PrettyConfig::new().struct_names(true);
        let written = ron::ser::to_string_pretty(&settings, config).expect("serialises");
        assert!(written.starts_with("Checkpoints(") && written.contains("mode: ChandyLamport"), "{written}");
        assert_eq!(ron::from_str::<Checkpoints>(&written).expect("reads back"), settings);
        let aligned: Checkpoints = ron::from_str("Checkpoints(interval_ms: 500)").expect("named");
        assert_eq!((aligned.mode, aligned.chandy_lamport), (Guarantee::ExactlyOnce, false));
    }
}
