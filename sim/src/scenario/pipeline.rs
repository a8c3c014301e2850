//! The pipeline's steps become the job graph and its physical plan: names, inputs, partitioning,
//! windows, filters, late outputs, and the limits on how large the plan may grow.

use std::collections::BTreeMap;

use engine::graph::{EdgeSpec, JobGraph, OperatorKind, OperatorSpec, PhysicalPlan, SourceSpec, Stream};
use engine::partition::Partitioning;
use engine::sink::SinkKind;
use engine::transform::{FilterFn, MapFn};
use engine::watermark::WatermarkStrategy;
use engine::window::{WindowKind, WindowSpec};
use petgraph::graph::NodeIndex;

use super::error::{Locator, ScenarioError};
use super::format::{Filter, ScenarioFile, Step, WindowShape};
use super::limits::{MAX_CHANNELS, MAX_PIPELINE_STEPS, MAX_WINDOWS_PER_RECORD};

/// What the pipeline resolves to.
pub struct Pipeline {
    pub job: JobGraph,
    pub plan: PhysicalPlan,
    /// Processing cost per record, per operator, in nanoseconds.
    pub costs_ns: Vec<u64>,
    /// A source's one-way fetch latency, per operator, in nanoseconds (0 for other operators).
    pub fetch_latencies_ns: Vec<u64>,
    /// The smallest two-phase-commit transaction timeout of any sink.
    pub transaction_timeout_ms: Option<u64>,
}

/// The variant name of a step, as field paths spell it (`pipeline[2].Window.kind`).
pub fn step_variant(step: &Step) -> &'static str {
    match step {
        Step::Source { .. } => "Source",
        Step::Map { .. } => "Map",
        Step::Filter { .. } => "Filter",
        Step::KeyBy(_) => "KeyBy",
        Step::Rebalance => "Rebalance",
        Step::Broadcast => "Broadcast",
        Step::Forward => "Forward",
        Step::Window { .. } => "Window",
        Step::Union { .. } => "Union",
        Step::Sink { .. } => "Sink",
    }
}

/// Names are printed in the output, one per line: not empty, no control characters or
/// bidirectional controls ([`super::error::is_unprintable`]), at most
/// [`super::limits::MAX_NAME_CHARS`] characters.
pub fn check_name(name: &str, field: &str, loc: &Locator) -> Result<(), ScenarioError> {
    if name.is_empty() {
        return Err(loc.error(field, "a name cannot be empty"));
    }
    if name.chars().any(super::error::is_unprintable) {
        return Err(loc.error(
            field,
            "a name cannot contain control characters (newlines, tabs, escapes) or bidirectional controls (U+202E …)",
        ));
    }
    let chars = name.chars().count();
    if chars > super::limits::MAX_NAME_CHARS {
        return Err(loc.error(
            field,
            format!(
                "a name of {chars} characters; names are at most {} (they are printed on every row and event about them)",
                super::limits::MAX_NAME_CHARS
            ),
        ));
    }
    Ok(())
}

pub fn resolve_pipeline(
    raw: &ScenarioFile,
    partitions: u32,
    watermarks: &WatermarkStrategy,
    key_of: &dyn Fn(&str) -> Option<u64>,
    loc: &Locator,
) -> Result<Pipeline, ScenarioError> {
    if raw.pipeline.len() > MAX_PIPELINE_STEPS {
        return Err(
            loc.error("pipeline", format!("{} steps; a pipeline has at most {MAX_PIPELINE_STEPS}", raw.pipeline.len()))
        );
    }
    let mut job = JobGraph::new();
    let mut nodes: BTreeMap<String, (NodeIndex, Stream)> = BTreeMap::new();
    let mut costs_ns: Vec<u64> = Vec::new();
    let mut fetch_latencies_ns: Vec<u64> = Vec::new();
    let mut previous: Option<String> = None;
    let mut pending_partitioning: Option<(Partitioning, usize)> = None;
    let mut unconsumed_late: Vec<(String, NodeIndex, usize)> = Vec::new();
    let mut consumed: Vec<String> = Vec::new();
    let mut transaction_timeout_ms: Option<u64> = None;
    let mut channels: u64 = 0;
    for (i, step) in raw.pipeline.iter().enumerate() {
        let field = format!("pipeline[{i}].{}", step_variant(step));
        let fetch_latency_us = match step {
            Step::Source { fetch_latency_us, .. } => *fetch_latency_us,
            _ => 0,
        };
        let partitioning = match step {
            Step::KeyBy(selector) => Some(Partitioning::Hash(*selector)),
            Step::Rebalance => Some(Partitioning::Rebalance),
            Step::Broadcast => Some(Partitioning::Broadcast),
            Step::Forward => Some(Partitioning::Forward),
            _ => None,
        };
        if let Some(partitioning) = partitioning {
            // An edge has one partitioning: of two steps in a row, one would be ignored.
            if let Some((_, earlier)) = pending_partitioning {
                return Err(loc.error(
                    format!("pipeline[{i}]"),
                    format!("a second partitioning step after pipeline[{earlier}]: an edge is partitioned one way; keep one"),
                ));
            }
            pending_partitioning = Some((partitioning, i));
            continue;
        }
        let (name, parallelism, inputs, cost_us, kind, default_cost_us) = match step {
            Step::KeyBy(_) | Step::Rebalance | Step::Broadcast | Step::Forward => continue,
            Step::Source { name, parallelism, cost_us, .. } => (
                name,
                *parallelism,
                &Vec::new(),
                cost_us,
                OperatorKind::Source(SourceSpec { partitions, watermarks: watermarks.clone() }),
                2,
            ),
            Step::Map { name, f, parallelism, inputs, cost_us } => {
                if let MapFn::ValueModulo(0) = f {
                    return Err(loc.error(format!("{field}.f"), "ValueModulo(0): division by zero"));
                }
                (name, *parallelism, inputs, cost_us, OperatorKind::Map(f.clone()), 1)
            }
            Step::Filter { name, f, parallelism, inputs, cost_us } => {
                let f = resolve_filter(f, key_of).map_err(|m| loc.error(format!("{field}.f"), m))?;
                (name, *parallelism, inputs, cost_us, OperatorKind::Filter(f), 1)
            }
            Step::Window { name, kind, aggregate, allowed_lateness_ms, late_output, parallelism, inputs, cost_us } => {
                let kind = resolve_window(kind).map_err(|m| loc.error(format!("{field}.kind"), m))?;
                if *allowed_lateness_ms < 0 {
                    return Err(
                        loc.error(format!("{field}.allowed_lateness_ms"), "allowed lateness cannot be negative")
                    );
                }
                if let Some(late) = late_output {
                    check_name(late, &format!("{field}.late_output"), loc)?;
                    unconsumed_late.push((late.clone(), NodeIndex::end(), i));
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
                if inputs.is_empty() {
                    return Err(loc.error(
                        format!("{field}.inputs"),
                        "a Union needs the names of the streams it merges in `inputs`",
                    ));
                }
                (name, *parallelism, inputs, cost_us, OperatorKind::Union, 1)
            }
            Step::Sink { name, kind, parallelism, inputs, cost_us, transaction_timeout_ms: t } => {
                if let Some(t) = t {
                    transaction_timeout_ms = Some(transaction_timeout_ms.map_or(*t, |m: u64| m.min(*t)));
                }
                (name, *parallelism, inputs, cost_us, OperatorKind::Sink(*kind), 3)
            }
        };
        check_name(name, &format!("{field}.name"), loc)?;
        if nodes.contains_key(name) {
            return Err(
                loc.error(format!("{field}.name"), format!("the name '{name}' is used twice; names must be unique"))
            );
        }
        if parallelism == 0 {
            return Err(loc.error(format!("{field}.parallelism"), "parallelism must be at least 1"));
        }
        let is_source = matches!(kind, OperatorKind::Source(_));
        let is_window = matches!(kind, OperatorKind::Window(_));
        let node = job.add_operator(OperatorSpec { name: name.clone(), parallelism, kind });
        // Bounded: cost_us <= MAX_COST_US.
        costs_ns.push(cost_us.unwrap_or(default_cost_us).saturating_mul(1000));
        // Bounded: fetch_latency_us <= MAX_FETCH_LATENCY_US.
        fetch_latencies_ns.push(fetch_latency_us.saturating_mul(1000));
        // Inputs: listed, or the previous operator.
        let input_names: Vec<String> = if is_source {
            if !inputs.is_empty() {
                return Err(loc.error(format!("{field}.inputs"), "sources read the log and take no inputs"));
            }
            Vec::new()
        } else if !inputs.is_empty() {
            inputs.clone()
        } else {
            match &previous {
                Some(p) => vec![p.clone()],
                None => return Err(loc.error(field, "the first operator must be a Source (or list `inputs`)")),
            }
        };
        let partitioning_override = pending_partitioning.take();
        for (k, input) in input_names.iter().enumerate() {
            let input_field = if inputs.is_empty() { field.clone() } else { format!("{field}.inputs[{k}]") };
            if input == name {
                return Err(loc.error(input_field, format!("'{name}' cannot be its own input")));
            }
            let Some(&(from, stream)) = nodes.get(input) else {
                let known: Vec<&String> = nodes.keys().collect();
                return Err(loc.error(
                    input_field,
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
                return Err(loc.error(field, format!("window '{name}' needs keyed input: put KeyBy(Key) before it")));
            }
            channels += match partitioning {
                Partitioning::Forward => u64::from(parallelism),
                _ => u64::from(from_parallelism) * u64::from(parallelism),
            };
            if channels > MAX_CHANNELS {
                return Err(loc.error(
                    format!("{field}.parallelism"),
                    format!(
                        "the job would need more than {MAX_CHANNELS} channels between subtasks (an all-to-all edge has parallelism x parallelism); lower the parallelism"
                    ),
                ));
            }
            job.connect(from, node, EdgeSpec { partitioning, stream });
        }
        if let Some(late) = unconsumed_late.last_mut().filter(|l| l.1 == NodeIndex::end()) {
            late.1 = node;
            if nodes.contains_key(&late.0) || late.0 == *name {
                return Err(loc.error(format!("{field}.late_output"), format!("the name '{}' is already used", late.0)));
            }
            nodes.insert(late.0.clone(), (node, Stream::Late));
        }
        nodes.insert(name.clone(), (node, Stream::Main));
        previous = Some(name.clone());
    }
    if let Some((_, step)) = pending_partitioning {
        return Err(loc.error(format!("pipeline[{step}]"), "a partitioning step must be followed by an operator"));
    }
    // Late outputs nobody consumes get a plain sink of their own name.
    for (late_name, window_node, step) in unconsumed_late {
        if consumed.contains(&late_name) {
            continue;
        }
        if job.graph.node_weights().any(|n| n.name == late_name) {
            return Err(loc.error(
                format!("pipeline[{step}].Window.late_output"),
                format!("the late output '{late_name}' clashes with an operator name"),
            ));
        }
        let sink = job.add_operator(OperatorSpec {
            name: late_name,
            parallelism: 1,
            kind: OperatorKind::Sink(SinkKind::Plain),
        });
        costs_ns.push(3_000);
        fetch_latencies_ns.push(0);
        channels += u64::from(job.graph[window_node].parallelism);
        let partitioning =
            if job.graph[window_node].parallelism == 1 { Partitioning::Forward } else { Partitioning::Rebalance };
        job.connect(window_node, sink, EdgeSpec { partitioning, stream: Stream::Late });
    }
    let _ = channels;
    let plan = job.plan().map_err(|e| {
        let name = match &e {
            engine::GraphError::Parallelism(n, _)
            | engine::GraphError::NoOutput(n)
            | engine::GraphError::NoInput(n)
            | engine::GraphError::WindowNotKeyed(n)
            | engine::GraphError::SinkWithOutput(n) => Some(n.clone()),
            engine::GraphError::ForwardParallelism { to, .. } => Some(to.clone()),
            _ => None,
        };
        // Point at the step of that name.
        let step = name.and_then(|n| raw.pipeline.iter().position(|s| step_name(s) == Some(n.as_str())));
        let field = match step {
            Some(i) => format!("pipeline[{i}].{}", step_variant(&raw.pipeline[i])),
            None => "pipeline".to_string(),
        };
        loc.error(field, e.to_string())
    })?;
    Ok(Pipeline { job, plan, costs_ns, fetch_latencies_ns, transaction_timeout_ms })
}

/// The name of an operator step.
pub fn step_name(step: &Step) -> Option<&str> {
    match step {
        Step::Source { name, .. }
        | Step::Map { name, .. }
        | Step::Filter { name, .. }
        | Step::Window { name, .. }
        | Step::Union { name, .. }
        | Step::Sink { name, .. } => Some(name),
        Step::KeyBy(_) | Step::Rebalance | Step::Broadcast | Step::Forward => None,
    }
}

/// Why a window or filter of a pipeline step cannot be resolved (located by the caller).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    #[error(
        "window sizes, slides and gaps must be positive, an offset smaller than the size (tumbling) or the slide \
         (sliding) in absolute value, as Flink requires, and a record in at most {MAX_WINDOWS_PER_RECORD} sliding \
         windows (size / slide)"
    )]
    BadWindowShape,
    #[error("ValueDivisibleBy(0): division by zero")]
    DivisionByZero,
    #[error("KeyIn: no key named '{0}' in the source data")]
    UnknownKey(String),
}

fn resolve_window(kind: &WindowShape) -> Result<WindowKind, StepError> {
    match *kind {
        WindowShape::Tumbling { size_ms, offset_ms }
            if size_ms > 0 && offset_ms.checked_abs().is_some_and(|o| o < size_ms) =>
        {
            Ok(WindowKind::Tumbling { size_ms, offset_ms })
        }
        WindowShape::Sliding { size_ms, slide_ms, offset_ms }
            if size_ms > 0
                && slide_ms > 0
                && offset_ms.checked_abs().is_some_and(|o| o < slide_ms)
                && (size_ms as u64).div_ceil(slide_ms as u64) <= MAX_WINDOWS_PER_RECORD as u64 =>
        {
            Ok(WindowKind::Sliding { size_ms, slide_ms, offset_ms })
        }
        WindowShape::Session { gap_ms } if gap_ms > 0 => Ok(WindowKind::Session { gap_ms }),
        _ => Err(StepError::BadWindowShape),
    }
}

fn resolve_filter(f: &Filter, key_of: &dyn Fn(&str) -> Option<u64>) -> Result<FilterFn, StepError> {
    Ok(match f {
        Filter::ValueAtLeast(n) => FilterFn::ValueAtLeast(*n),
        Filter::ValueAtMost(n) => FilterFn::ValueAtMost(*n),
        Filter::ValueDivisibleBy(0) => return Err(StepError::DivisionByZero),
        Filter::ValueDivisibleBy(n) => FilterFn::ValueDivisibleBy(*n),
        Filter::KeyIn(names) => {
            let mut keys = Vec::new();
            for n in names {
                match key_of(n) {
                    Some(k) => keys.push(k),
                    None => return Err(StepError::UnknownKey(n.clone())),
                }
            }
            FilterFn::KeyIn(keys)
        }
        // Nesting is bounded by the parser's limit (MAX_NESTING).
        Filter::Not(inner) => FilterFn::Not(Box::new(resolve_filter(inner, key_of)?)),
    })
}
