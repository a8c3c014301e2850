//! What a Spark scenario may hold (`model: Spark(..)`), checked with located errors, and the
//! Spark variants `compare` runs. The Spark runtime (`crate::spark`) runs a linear query: one
//! source (one stream, read per partition), maps and filters, at most one tumbling or sliding
//! event-time window aggregation after a key-by (a `groupBy(window, key)` with a state store per
//! shuffle partition, append mode), and sinks after it. The book's Spark chapter explains each
//! refusal.

use engine::sink::SinkKind;

use super::error::{Locator, ScenarioError};
use super::format::*;
use super::Scenario;

/// Spark's guarantee setting: no checkpoint location is its at-most-once setting (which promises
/// nothing: `crate::run::promise_of`); with one, a plain sink is
/// at-least-once (a re-run batch writes its rows again) and a sink idempotent or transactional
/// by batch id is exactly-once.
pub fn guarantee_of(config: &SparkConfig, pipeline: &[Step]) -> Guarantee {
    let plain = pipeline.iter().any(|s| matches!(s, Step::Sink { kind: SinkKind::Plain, .. }));
    match (config.checkpoint, plain) {
        (false, _) => Guarantee::AtMostOnce,
        (true, true) => Guarantee::AtLeastOnce,
        (true, false) => Guarantee::ExactlyOnce,
    }
}

/// `scenario` as a Spark query under `guarantee`: at-most-once runs without a checkpoint
/// location, the others with one. The sink is `sink`, or else the one that gives the guarantee:
/// a plain sink for at-least-once, the scenario's own for exactly-once unless it is plain (then
/// idempotent, `foreachBatch` upserting by key and window).
pub fn variant(scenario: &Scenario, guarantee: Guarantee, sink: Option<SinkKind>) -> Scenario {
    let written = crate::run::own_sink(scenario);
    let sink = sink.unwrap_or(match guarantee {
        Guarantee::AtMostOnce => written,
        Guarantee::AtLeastOnce => SinkKind::Plain,
        Guarantee::ExactlyOnce if written == SinkKind::Plain => SinkKind::Idempotent,
        Guarantee::ExactlyOnce => written,
    });
    let mut s = scenario.with_variant(Guarantee::AtMostOnce, Some(sink));
    s.guarantee = guarantee;
    let mut config = scenario.model.spark().cloned().unwrap_or_default();
    config.checkpoint = guarantee != Guarantee::AtMostOnce;
    s.model = Model::Spark(config);
    s
}

pub fn check(raw: &ScenarioFile, loc: &Locator) -> Result<(), ScenarioError> {
    let Model::Spark(config) = &raw.model else { return Ok(()) };
    if config.max_records_per_trigger == Some(0) {
        return Err(loc.error(
            "model.Spark.max_records_per_trigger",
            "0 records per trigger reads nothing, so no batch ever ends the input; use at least 1 (or None for everything available)",
        ));
    }
    check_pipeline(raw, loc)?;
    if let Watermarks::BoundedOutOfOrderness { idle_timeout_ms: Some(_), .. } = raw.watermarks {
        return Err(loc.error(
            "watermarks.BoundedOutOfOrderness.idle_timeout_ms",
            "Spark runtime: Spark's watermark has no idleness (it is the maximum event time seen minus the delay); leave idle_timeout_ms out",
        ));
    }
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
                "Spark runtime: a micro-batch query has no Flink checkpoints to fail or crash at; crash at a time (`At`) instead",
            ));
        }
    }
    Ok(())
}

/// The pipeline: linear, one source, at most one tumbling or sliding window, only sinks after it.
fn check_pipeline(raw: &ScenarioFile, loc: &Locator) -> Result<(), ScenarioError> {
    let mut windows = 0;
    let mut sources = 0;
    for (i, step) in raw.pipeline.iter().enumerate() {
        let refuse = |f: &str, m: &str| Err(loc.error(format!("pipeline[{i}].{f}"), format!("Spark runtime: {m}")));
        let linear = "the query must be linear (no `inputs`)";
        match step {
            Step::Source { fetch_latency_us, .. } => {
                sources += 1;
                if sources > 1 {
                    return refuse("Source", "one source (one input stream) per query here");
                }
                if *fetch_latency_us > 0 {
                    return refuse(
                        "Source.fetch_latency_us",
                        "a batch reads the offset range it planned; the fetch model is the Flink runtime's",
                    );
                }
            }
            Step::Map { inputs, .. } | Step::Filter { inputs, .. } if !inputs.is_empty() => {
                return refuse(&format!("{}.inputs", super::pipeline::step_variant(step)), linear);
            }
            Step::Map { .. } | Step::Filter { .. } if windows > 0 => {
                return refuse(
                    super::pipeline::step_variant(step),
                    "after the window aggregation only sinks (maps and filters go before it)",
                );
            }
            Step::Union { .. } => return refuse("Union", "a union of streams is not modelled; keep the query linear"),
            Step::Broadcast => return refuse("Broadcast", "a broadcast is not part of a Spark query here"),
            Step::Window { kind, allowed_lateness_ms, late_output, inputs, .. } => {
                windows += 1;
                if windows > 1 {
                    return refuse("Window", "at most one window aggregation per query");
                }
                if matches!(kind, WindowShape::Session { .. }) {
                    return refuse("Window.kind", "session windows are not modelled; use a tumbling or sliding window");
                }
                if *allowed_lateness_ms != 0 {
                    return refuse(
                        "Window.allowed_lateness_ms",
                        "Spark has no allowed lateness: the watermark's delay (the bound of BoundedOutOfOrderness) decides what is late",
                    );
                }
                if late_output.is_some() {
                    return refuse("Window.late_output", "Spark drops late rows; it has no late-data side output");
                }
                if !inputs.is_empty() {
                    return refuse("Window.inputs", linear);
                }
            }
            Step::Sink { inputs, transaction_timeout_ms, .. } => {
                if !inputs.is_empty() {
                    return refuse("Sink.inputs", linear);
                }
                if transaction_timeout_ms.is_some() {
                    return refuse(
                        "Sink.transaction_timeout_ms",
                        "a transactional sink commits each batch by its id when the batch ends; there is no transaction timeout",
                    );
                }
            }
            _ => {}
        }
    }
    if windows > 0 && !matches!(raw.watermarks, Watermarks::BoundedOutOfOrderness { .. }) {
        return Err(loc.error(
            "watermarks",
            "Spark runtime: a window aggregation needs withWatermark(delay): write BoundedOutOfOrderness(bound_ms: delay)",
        ));
    }
    Ok(())
}
