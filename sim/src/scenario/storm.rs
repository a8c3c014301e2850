//! What a Storm scenario may hold (`model: Storm(..)`), checked with located errors. The Storm
//! runtime (`crate::storm`) runs a linear pipeline: a source (spouts), maps and filters (bolts),
//! groupings (`KeyBy` = fields grouping, `Rebalance` = shuffle, `Forward` = local, `Broadcast` =
//! all), at most one tumbling or sliding event-time window (a windowed bolt), and sinks (a sink
//! bolt writing plain or idempotent). The book's Storm chapter explains each refusal.

use super::error::{Locator, ScenarioError};
use super::format::*;

pub fn check(raw: &ScenarioFile, loc: &Locator) -> Result<(), ScenarioError> {
    let Model::Storm(config) = &raw.model else { return Ok(()) };
    if config.message_timeout_ms == 0 {
        return Err(loc.error("model.Storm.message_timeout_ms", "a message timeout of 0 ms fails every tuple"));
    }
    if config.max_spout_pending == Some(0) {
        return Err(loc.error(
            "model.Storm.max_spout_pending",
            "max_spout_pending 0 lets no tuple out; use at least 1 (or None for unbounded)",
        ));
    }
    if let Some(t) = &config.trident {
        if t.batch_ms == 0 {
            return Err(loc.error("model.Storm.trident.batch_ms", "a Trident batch needs batch_ms >= 1"));
        }
    }
    for (i, fail) in config.fails.iter().enumerate() {
        let at = format!("model.Storm.fails[{i}].bolt");
        if config.trident.is_some() {
            return Err(loc.error(at, "explicit fails are modelled for plain acking, not for Trident"));
        }
        let step = raw.pipeline.iter().find(|s| super::pipeline::step_name(s) == Some(fail.bolt.as_str()));
        match step {
            Some(Step::Map { .. } | Step::Filter { .. } | Step::Sink { .. }) => {}
            Some(_) => return Err(loc.error(at, format!("'{}' is not a Map, Filter or Sink bolt", fail.bolt))),
            None => return Err(loc.error(at, format!("no pipeline step is named '{}'", fail.bolt))),
        }
        if fail.times == 0 {
            return Err(loc.error(format!("model.Storm.fails[{i}].times"), "times 0 fails nothing; use at least 1"));
        }
    }
    let mut windows = 0;
    let mut sources = 0;
    for (i, step) in raw.pipeline.iter().enumerate() {
        let at = |f: &str| format!("pipeline[{i}].{f}");
        let refuse = |f: &str, m: &str| Err(loc.error(at(f), format!("Storm runtime: {m}")));
        match step {
            Step::Source { fetch_latency_us, .. } => {
                sources += 1;
                if sources > 1 {
                    return refuse("Source", "one source (spout component) per topology here");
                }
                if *fetch_latency_us > 0 {
                    return refuse(
                        "Source.fetch_latency_us",
                        "the spout reads each entry when it is appended; the fetch model is the Flink runtime's",
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
                return refuse("Union", "a union (several input components) is not supported; keep the pipeline linear")
            }
            Step::Window { kind, allowed_lateness_ms, late_output, inputs, .. } => {
                windows += 1;
                if windows > 1 {
                    return refuse("Window", "at most one windowed bolt per topology");
                }
                if matches!(kind, WindowShape::Session { .. }) {
                    return refuse(
                        "Window.kind",
                        "Storm's windowed bolts have tumbling and sliding windows, no session windows",
                    );
                }
                if *allowed_lateness_ms != 0 {
                    return refuse(
                        "Window.allowed_lateness_ms",
                        "Storm's windowed bolt drops (acks) late tuples; allowed lateness is Flink's",
                    );
                }
                if late_output.is_some() {
                    return refuse("Window.late_output", "a late-tuple stream is not modelled");
                }
                if !inputs.is_empty() {
                    return refuse("Window.inputs", "the pipeline must be linear (no `inputs`)");
                }
            }
            Step::Sink { kind, inputs, .. } => {
                if *kind == engine::sink::SinkKind::TwoPhaseCommit {
                    return refuse("Sink.kind", "a two-phase-commit sink commits on Flink checkpoints; a Storm sink bolt writes Plain or Idempotent");
                }
                if !inputs.is_empty() {
                    return refuse("Sink.inputs", "the pipeline must be linear (no `inputs`)");
                }
            }
            _ => {}
        }
    }
    if windows > 0 {
        match raw.watermarks {
            Watermarks::BoundedOutOfOrderness { .. } => {}
            _ => {
                return Err(loc.error(
                    "watermarks",
                    "Storm runtime: a windowed bolt's watermark is the latest timestamp minus a lag; write BoundedOutOfOrderness(bound_ms: lag)",
                ))
            }
        }
    }
    if config.trident.is_some() && config.ackers == 0 {
        return Err(loc.error(
            "model.Storm.ackers",
            "Storm runtime: Trident tracks its batches with the acker; it needs at least one acker",
        ));
    }
    if config.trident.is_some() {
        // After the aggregation only sinks: Trident's output is its committed state.
        let window_at = raw.pipeline.iter().position(|s| matches!(s, Step::Window { .. }));
        if let Some(w) = window_at {
            if let Some((i, step)) =
                raw.pipeline.iter().enumerate().skip(w + 1).find(|(_, s)| !matches!(s, Step::Sink { .. }))
            {
                return Err(loc.error(
                    format!("pipeline[{i}].{}", super::pipeline::step_variant(step)),
                    "Storm runtime: with Trident, the window (a persistentAggregate into state) is followed by sinks only",
                ));
            }
        }
    }
    if config.trident.is_some() && windows == 0 {
        return Err(loc.error(
            "model.Storm.trident",
            "Storm runtime: Trident here runs a keyed window aggregation into transactional state (persistentAggregate); the pipeline needs a Window step",
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
                "Storm runtime: Storm has no checkpoints; crash at a time (`At`) instead",
            ));
        }
    }
    Ok(())
}
