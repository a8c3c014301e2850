//! What a Kafka Streams scenario may hold (`model: KafkaStreams(..)`), checked with located
//! errors. The Kafka Streams runtime (`crate::kstreams`) runs a linear pipeline: a source topic
//! (one task per partition: sub-topology 0), maps and filters in that task, at most one keyed
//! tumbling or sliding window after its `KeyBy` (the repartition topic: the window is
//! sub-topology 1, one task per repartition partition = the window's parallelism), maps and
//! filters after it, and one sink (the output topic and the consumer reading it). The book's
//! Kafka Streams chapter explains each refusal.

use super::error::{Locator, ScenarioError};
use super::format::*;

pub fn check(raw: &ScenarioFile, loc: &Locator) -> Result<(), ScenarioError> {
    for (i, e) in raw.expect.outcomes.iter().enumerate() {
        if e.runtime == Runtime::KafkaStreams && e.guarantee == Guarantee::AtMostOnce {
            return Err(loc.error(
                format!("expect.outcomes[{i}].guarantee"),
                "Kafka Streams has no at-most-once processing.guarantee (only AtLeastOnce and ExactlyOnce = exactly_once_v2)",
            ));
        }
    }
    let Model::KafkaStreams(config) = &raw.model else { return Ok(()) };
    check_config(config, raw.cluster.task_managers, loc)?;
    check_pipeline(raw, loc)?;
    check_faults(raw, loc)
}

fn check_config(config: &KafkaStreamsConfig, instances: u32, loc: &Locator) -> Result<(), ScenarioError> {
    if config.commit_interval_ms == Some(0) {
        return Err(loc.error(
            "model.KafkaStreams.commit_interval_ms",
            "a commit interval of 0 ms commits without end; use at least 1 (or leave it out for the guarantee's default)",
        ));
    }
    if config.session_timeout_ms == 0 {
        return Err(loc.error(
            "model.KafkaStreams.session_timeout_ms",
            "a session timeout of 0 ms evicts every instance at once; use at least 1",
        ));
    }
    if config.transaction_timeout_ms == 0 {
        return Err(loc.error(
            "model.KafkaStreams.transaction_timeout_ms",
            "a transaction timeout of 0 ms aborts every transaction at once; use at least 1",
        ));
    }
    if config.standby_replicas >= instances {
        return Err(loc.error(
            "model.KafkaStreams.standby_replicas",
            format!(
                "{} standby replicas need at least {} instances (a standby never shares an instance with its active task); the cluster has {instances} task managers",
                config.standby_replicas,
                u64::from(config.standby_replicas) + 1
            ),
        ));
    }
    Ok(())
}

fn check_pipeline(raw: &ScenarioFile, loc: &Locator) -> Result<(), ScenarioError> {
    let mut sources = 0;
    let mut windows = 0;
    let mut sinks = 0;
    for (i, step) in raw.pipeline.iter().enumerate() {
        let at = |f: &str| format!("pipeline[{i}].{f}");
        let refuse = |f: &str, m: &str| Err(loc.error(at(f), format!("Kafka Streams runtime: {m}")));
        if sinks > 0 {
            return refuse(super::pipeline::step_variant(step), "the sink (the output topic) is the last step");
        }
        match step {
            Step::Source { fetch_latency_us, .. } => {
                sources += 1;
                if sources > 1 {
                    return refuse("Source", "one source topic per application here");
                }
                if *fetch_latency_us > 0 {
                    return refuse(
                        "Source.fetch_latency_us",
                        "a task reads each record when it is appended; the fetch model is the Flink runtime's",
                    );
                }
            }
            Step::Map { inputs, .. } | Step::Filter { inputs, .. } if !inputs.is_empty() => {
                return refuse(
                    &format!("{}.inputs", super::pipeline::step_variant(step)),
                    "the pipeline must be linear (no `inputs`)",
                );
            }
            Step::Union { .. } => {
                return refuse("Union", "a merge of several streams is not modelled; keep the pipeline linear")
            }
            Step::Rebalance | Step::Broadcast | Step::Forward => {
                return refuse(
                    super::pipeline::step_variant(step),
                    "records move between tasks only through a repartition topic: write KeyBy before the window",
                )
            }
            Step::KeyBy(_) if !matches!(raw.pipeline.get(i + 1), Some(Step::Window { .. })) => {
                return refuse("KeyBy", "a KeyBy (the repartition topic) must come right before the Window");
            }
            Step::Window { kind, allowed_lateness_ms, late_output, inputs, .. } => {
                windows += 1;
                if windows > 1 {
                    return refuse("Window", "at most one windowed aggregation per application here");
                }
                if matches!(kind, WindowShape::Session { .. }) {
                    return refuse("Window.kind", "session windows are not modelled; use Tumbling or Sliding");
                }
                if *allowed_lateness_ms != 0 {
                    return refuse(
                        "Window.allowed_lateness_ms",
                        "Kafka Streams closes a window at its grace period (the watermark bound here); allowed lateness is Flink's",
                    );
                }
                if late_output.is_some() {
                    return refuse(
                        "Window.late_output",
                        "Kafka Streams drops records for closed windows; a late stream is Flink's",
                    );
                }
                if !inputs.is_empty() {
                    return refuse("Window.inputs", "the pipeline must be linear (no `inputs`)");
                }
            }
            Step::Sink { inputs, .. } => {
                sinks += 1;
                if !inputs.is_empty() {
                    return refuse("Sink.inputs", "the pipeline must be linear (no `inputs`)");
                }
            }
            _ => {}
        }
    }
    if sinks == 0 {
        return Err(
            loc.error("pipeline", "Kafka Streams runtime: the pipeline needs a Sink (the output topic) at its end")
        );
    }
    if windows > 0 && !matches!(raw.watermarks, Watermarks::BoundedOutOfOrderness { .. }) {
        return Err(loc.error(
            "watermarks",
            "Kafka Streams runtime: a window closes when the task's stream time passes its end plus the grace period; write BoundedOutOfOrderness(bound_ms: grace)",
        ));
    }
    Ok(())
}

fn check_faults(raw: &ScenarioFile, loc: &Locator) -> Result<(), ScenarioError> {
    for (i, f) in raw.faults.iter().enumerate() {
        let refused = match f {
            FaultSpec::Crash { at: CrashPoint::At(_) | CrashPoint::AtNs(_), .. } => None,
            FaultSpec::Crash { .. } => Some("Crash.at"),
            FaultSpec::CheckpointStorageFailure { .. } => Some("CheckpointStorageFailure"),
            _ => None,
        };
        if let Some(field) = refused {
            return Err(loc.error(
                format!("faults[{i}].{field}"),
                "Kafka Streams runtime: Kafka Streams has no checkpoints; crash at a time (`At`) instead",
            ));
        }
    }
    Ok(())
}
