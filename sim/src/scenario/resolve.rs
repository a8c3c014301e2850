//! Validation and resolution: a parsed [`ScenarioFile`] becomes a runnable [`Scenario`]. Every
//! error names the field path (`source.Events[3].arrives`) and points at it in the file.

use std::cell::OnceCell;
use std::collections::BTreeMap;

use engine::ms_to_ns;
use engine::watermark::{Emission, ExplicitWatermark, WatermarkStrategy};

use super::error::{Locator, ScenarioError};
use super::format::*;
use super::limits::*;
use super::pipeline::resolve_pipeline;
use super::{LogData, NodeId, NodeNames, Scenario};

pub fn resolve(mut raw: ScenarioFile, loc: &Locator) -> Result<Scenario, ScenarioError> {
    // Explicit events are checked one by one below; the generic walk skips them (there may be a
    // million, and it builds a JSON value of what it walks).
    let events = match &mut raw.source {
        SourceData::Events(e) => Some(std::mem::take(e)),
        SourceData::Generator(_) => None,
    };
    let checked = check_magnitudes(&raw, loc);
    if let (Some(events), SourceData::Events(slot)) = (events, &mut raw.source) {
        *slot = events;
    }
    checked?;
    let mut warnings = Vec::new();
    let cluster = &raw.cluster;
    if cluster.task_managers == 0 {
        return Err(loc.error("cluster.task_managers", "a cluster needs at least one task manager"));
    }
    if cluster.slots_per_task_manager == 0 {
        return Err(loc.error("cluster.slots_per_task_manager", "a task manager needs at least one slot"));
    }
    raw.network.latency.check().map_err(|m| loc.error("network.latency", m))?;
    if raw.network.channel_capacity == Some(0) {
        return Err(loc.error(
            "network.channel_capacity",
            "a channel that holds 0 messages never lets a record through; use at least 1 (or None for unbounded)",
        ));
    }

    if raw.network.buffer_timeout_ms > MAX_TIME_MS {
        return Err(loc.error(
            "network.buffer_timeout_ms",
            format!("{} ms is over the limit of {} ms", raw.network.buffer_timeout_ms, MAX_TIME_MS),
        ));
    }

    let (partitions, log, key_names) = super::source::resolve(&raw, loc)?;
    let watermarks = resolve_watermarks(&raw.watermarks, loc)?;
    // Explicit events' key names by name, built at the first lookup: most pipelines name no
    // key, and a file may have up to a million of them.
    let key_index: OnceCell<BTreeMap<&str, u64>> = OnceCell::new();
    let key_of = |name: &str| -> Option<u64> {
        match &log {
            LogData::Generator(g) => name
                .strip_prefix('k')
                .and_then(|i| i.parse::<u64>().ok())
                .filter(|i| *i < u64::from(g.keys) && format!("k{i}") == name),
            LogData::Events(_) => key_index
                .get_or_init(|| key_names.iter().enumerate().map(|(k, name)| (name.as_str(), k as u64)).collect())
                .get(name)
                .copied(),
        }
    };
    let pipeline = resolve_pipeline(&raw, partitions, &watermarks, &key_of, loc)?;
    super::storm::check(&raw, loc)?;
    super::spark::check(&raw, loc)?;
    super::kstreams::check(&raw, loc)?;
    let plan = &pipeline.plan;

    // Placement: Flink's slot sharing puts subtask i of every operator into slot i; slots are
    // spread evenly over task managers (Flink's `cluster.evenly-spread-out-slots`), so slot i is
    // on task manager i mod n. Explicit entries override.
    let slots = u64::from(cluster.task_managers) * u64::from(cluster.slots_per_task_manager);
    if let Some(widest) = plan.operators.iter().max_by_key(|o| o.parallelism) {
        if u64::from(widest.parallelism) > slots {
            // Point at the cluster block if the file has one, else at the operator asking for slots.
            let field = match raw.pipeline.iter().position(|s| super::pipeline::step_name(s) == Some(&widest.name)) {
                Some(i) if loc.spells_out("cluster") => {
                    let _ = i;
                    "cluster".to_string()
                }
                Some(i) => format!("pipeline[{i}].{}.parallelism", super::pipeline::step_variant(&raw.pipeline[i])),
                None => "cluster".to_string(),
            };
            return Err(loc.error(
                field,
                format!(
                    "parallelism {} needs {} slots, but the cluster has {} task managers x {} slots = {slots}",
                    widest.parallelism, widest.parallelism, cluster.task_managers, cluster.slots_per_task_manager
                ),
            ));
        }
    }
    // Default placement: an operator's subtasks round-robin over the task managers.
    let mut placement: Vec<u32> = plan.subtasks.iter().map(|s| s.index.get() % cluster.task_managers).collect();
    for (subtask_name, tm) in &raw.placement {
        let field = format!("placement.{subtask_name}");
        let Some(s) = plan.subtask_by_name(subtask_name) else {
            let example = plan.subtasks.first().map_or("", |s| s.name.as_str());
            return Err(
                loc.error(field, format!("no subtask named '{subtask_name}' (subtasks are named like '{example}')"))
            );
        };
        let node = NodeNames { task_managers: cluster.task_managers }.resolve(tm).ok();
        let Some(tm_index) = node.and_then(NodeId::task_manager_index) else {
            return Err(
                loc.error(field, format!("no task manager '{tm}'; they are tm-0 .. tm-{}", cluster.task_managers - 1))
            );
        };
        placement[s.index()] = tm_index;
    }

    let nodes = NodeNames { task_managers: cluster.task_managers };
    let mut link_latency = BTreeMap::new();
    for (i, link) in raw.network.links.iter().enumerate() {
        let field = format!("network.links[{i}]");
        let a = nodes.resolve(&link.between.0).map_err(|m| loc.error(format!("{field}.between[0]"), m))?;
        let b = nodes.resolve(&link.between.1).map_err(|m| loc.error(format!("{field}.between[1]"), m))?;
        if a == b {
            return Err(loc.error(
                format!("{field}.between"),
                "a link joins two different nodes; within a node, `local_latency_us` applies",
            ));
        }
        link.latency.check().map_err(|m| loc.error(format!("{field}.latency"), m))?;
        link_latency.insert((a, b), link.latency);
        link_latency.insert((b, a), link.latency);
    }

    if let Some(c) = &raw.checkpoints {
        if c.interval_ms == 0 {
            return Err(loc.error(
                "checkpoints.interval_ms",
                "a checkpoint interval of 0 ms is impossible; leave checkpoints out to disable them",
            ));
        }
        if c.timeout_ms == 0 {
            return Err(
                loc.error("checkpoints.timeout_ms", "a checkpoint timeout of 0 ms would abort every checkpoint")
            );
        }
        if c.unaligned && c.mode != Guarantee::ExactlyOnce {
            return Err(loc.error(
                "checkpoints.unaligned",
                "unaligned checkpoints exist for exactly-once only: at-least-once never blocks, so there is nothing to unalign",
            ));
        }
        if c.chandy_lamport && c.unaligned {
            return Err(loc.error(
                "checkpoints.unaligned",
                "Chandy–Lamport markers never overtake data (that is what unaligned barriers do): choose `mode: ChandyLamport` or `unaligned: true`, not both",
            ));
        }
        if c.cost.sync_mb_per_s == 0 || c.cost.upload_mb_per_s == 0 {
            let field = if c.cost.sync_mb_per_s == 0 { "sync_mb_per_s" } else { "upload_mb_per_s" };
            return Err(loc.error(
                format!("checkpoints.cost.{field}"),
                "a snapshot rate of 0 MB/s would never finish: give at least 1",
            ));
        }
        if let Some(t) = c.aligned_checkpoint_timeout_ms {
            if c.chandy_lamport {
                return Err(loc.error(
                    "checkpoints.aligned_checkpoint_timeout_ms",
                    "Chandy–Lamport markers never block an input, so there is no alignment to time out: leave the aligned-checkpoint timeout out",
                ));
            }
            if !c.unaligned {
                return Err(loc.error(
                    "checkpoints.aligned_checkpoint_timeout_ms",
                    "the aligned-checkpoint timeout switches a checkpoint from aligned to unaligned: it needs `unaligned: true` (without it every checkpoint stays aligned)",
                ));
            }
            if t >= c.timeout_ms {
                return Err(loc.error(
                    "checkpoints.aligned_checkpoint_timeout_ms",
                    format!(
                        "an alignment timing out after {t} ms never switches to unaligned: the checkpoint itself is aborted at timeout_ms ({} ms); choose less than timeout_ms",
                        c.timeout_ms
                    ),
                ));
            }
        }
    }
    let guarantee = match &raw.model {
        // Storm's guarantee comes from its settings, not from checkpoints.
        Model::Storm(c) if c.ackers == 0 => Guarantee::AtMostOnce,
        Model::Storm(c) if c.trident.is_some() => Guarantee::ExactlyOnce,
        Model::Storm(_) => Guarantee::AtLeastOnce,
        // Spark's guarantee is the checkpoint location and the sink (the book's Spark chapter).
        Model::Spark(c) => super::spark::guarantee_of(c, &raw.pipeline),
        // Kafka Streams' comes from `processing.guarantee`.
        Model::KafkaStreams(c) => match c.guarantee {
            ProcessingGuarantee::AtLeastOnce => Guarantee::AtLeastOnce,
            ProcessingGuarantee::ExactlyOnceV2 => Guarantee::ExactlyOnce,
        },
        Model::Flink => raw.checkpoints.map_or(Guarantee::AtMostOnce, |c| c.mode),
    };
    if let Some(RestartStrategy::ExponentialDelay {
        multiplier_milli,
        jitter_milli,
        initial_delay_ms,
        max_delay_ms,
        ..
    }) = raw.restart
    {
        if multiplier_milli < 1000 {
            return Err(loc.error(
                "restart.ExponentialDelay.multiplier_milli",
                "an exponential delay needs multiplier_milli >= 1000 (x1.0)",
            ));
        }
        if jitter_milli > 1000 {
            return Err(loc.error(
                "restart.ExponentialDelay.jitter_milli",
                "the jitter is a share of the delay: jitter_milli <= 1000 (1.0, as Flink's jitter-factor)",
            ));
        }
        if initial_delay_ms > max_delay_ms {
            return Err(loc.error("restart.ExponentialDelay.max_delay_ms", "needs max_delay_ms >= initial_delay_ms"));
        }
    }
    let fd = raw.failure_detection;
    if fd.heartbeat_interval_ms == 0 {
        return Err(loc.error("failure_detection.heartbeat_interval_ms", "needs heartbeat_interval_ms >= 1"));
    }
    if fd.heartbeat_timeout_ms < fd.heartbeat_interval_ms {
        return Err(
            loc.error("failure_detection.heartbeat_timeout_ms", "needs heartbeat_timeout_ms >= heartbeat_interval_ms")
        );
    }

    let last_arrival_ms = match &log {
        // Each partition is in order of arrival: the latest is one of their last entries.
        LogData::Events(partitions) => {
            partitions.iter().filter_map(|p| p.last()).map(|e| e.append_ns / 1_000_000).max().unwrap_or(0)
        }
        LogData::Generator(_) => raw.duration_ms,
    };
    let duration_ms = last_arrival_ms;
    let max_run_ms = raw.max_run_ms.unwrap_or(duration_ms + 600_000);
    if max_run_ms == 0 {
        return Err(loc.error("max_run_ms", "max_run_ms must be at least 1"));
    }

    if raw.faults.len() as u64 > MAX_FAULTS {
        return Err(loc.error("faults", format!("{} faults; at most {MAX_FAULTS}", raw.faults.len())));
    }
    // Checkpoint numbers a run can reach (the default interval of 1 s when the file has no
    // checkpoints: `compare` runs every guarantee).
    let interval_ms = raw.checkpoints.map_or(1_000, |c| c.interval_ms).max(1);
    let max_checkpoint = max_run_ms / interval_ms + 1;
    let mut faults = Vec::new();
    for (i, f) in raw.faults.iter().enumerate() {
        let field = format!("faults[{i}]");
        faults.push(crate::faults::resolve(f, &nodes, plan).map_err(|m| loc.error(&field, m))?);
        let (checkpoint, start_ms) = fault_timing(f);
        if let Some((n, path)) = checkpoint {
            if n == 0 || n > max_checkpoint {
                return Err(loc.error(
                    format!("{field}.{path}"),
                    format!(
                        "checkpoint {n} can never happen: checkpoints are numbered from 1, and with an interval of {interval_ms} ms a run of at most {max_run_ms} ms (max_run_ms) reaches at most checkpoint {max_checkpoint}"
                    ),
                ));
            }
        }
        if let Some((t, path)) = start_ms {
            if t >= max_run_ms {
                return Err(loc.error(
                    format!("{field}.{path}"),
                    format!("this fault starts at {t} ms, at or after the end of the run (max_run_ms {max_run_ms}): it can never fire"),
                ));
            }
            if t >= duration_ms {
                warnings.push(
                    loc.error(
                        format!("{field}.{path}"),
                        format!("this fault starts at {t} ms, after the input ends ({duration_ms} ms); it fires only if the job is still running"),
                    )
                    .to_string(),
                );
            }
        }
    }
    if let Some(swarm) = &raw.swarm {
        if swarm.from_ms >= swarm.until_ms {
            return Err(loc.error("swarm.until_ms", "needs from_ms < until_ms"));
        }
        if swarm.max_outage_ms == 0 {
            return Err(loc.error("swarm.max_outage_ms", "needs max_outage_ms >= 1"));
        }
        if swarm.from_ms >= max_run_ms {
            return Err(loc.error(
                "swarm.from_ms",
                format!("swarm faults would start after the end of the run (max_run_ms {max_run_ms})"),
            ));
        }
    }

    let pipeline_result = pipeline;
    let tour = super::tour::resolve(
        &raw.tour,
        &pipeline_result.plan,
        cluster.task_managers,
        max_run_ms,
        raw.faults.len(),
        loc,
    )?;
    let mut scenario = Scenario {
        name: super::error::printable(&raw.name),
        description: super::error::printable(&raw.description),
        file: loc.file.to_string(),
        seed: raw.seed,
        duration_ms,
        max_run_ms,
        clock_times: raw.clock_times,
        job: pipeline_result.job,
        plan: pipeline_result.plan,
        record_cost_ns: pipeline_result.costs_ns,
        fetch_latency_ns: pipeline_result.fetch_latencies_ns,
        placement,
        task_managers: cluster.task_managers,
        slots_per_task_manager: cluster.slots_per_task_manager,
        latency: raw.network.latency,
        local_latency_ns: raw.network.local_latency_us.saturating_mul(1000),
        channel_capacity: raw.network.channel_capacity,
        buffer_timeout_ns: raw.network.buffer_timeout_ms * 1_000_000,
        link_latency,
        partitions,
        log,
        key_names,
        checkpoint_settings: raw.checkpoints,
        guarantee,
        restart: raw.restart,
        failover: raw.failover.unwrap_or_default(),
        failure_detection: raw.failure_detection,
        faults,
        swarm: raw.swarm,
        transaction_timeout_ns: pipeline_result.transaction_timeout_ms.map(ms_to_ns),
        watermarks: raw.watermarks.clone(),
        track_lineage: raw.track_lineage,
        expect: raw.expect.clone(),
        model: raw.model.clone(),
        tour,
        admission: super::budget::Admission::default(),
        warnings,
        raw,
    };
    check_outcome_models(&scenario, loc)?;
    scenario.admission = super::budget::admission(&scenario, loc);
    Ok(scenario)
}

/// An expected outcome is for a model that can run the pipeline under that guarantee: `sweep`
/// and `compare` would otherwise run a variant the model refuses (a session window under
/// Spark) and print a verdict for a run that is not that model's, or report it as never run.
/// The model's own rule decides (`FaultToleranceModel::can_run` and `guarantees`), asked once per
/// model: `can_run` copies the scenario's file, which may hold a million events, and a file may
/// list thousands of outcomes.
fn check_outcome_models(scenario: &Scenario, loc: &Locator) -> Result<(), ScenarioError> {
    type Verdict = Result<Vec<Guarantee>, String>;
    let mut verdicts: BTreeMap<Runtime, Verdict> = BTreeMap::new();
    for (i, outcome) in scenario.expect.outcomes.iter().enumerate() {
        let verdict = verdicts.entry(outcome.runtime).or_insert_with(|| {
            let model = crate::runtime::model(outcome.runtime);
            model.can_run(scenario).map_err(|why| why.to_string())?;
            Ok(model.guarantees(scenario).iter().map(|c| c.guarantee).collect())
        });
        let label = outcome.runtime.label();
        match verdict {
            Err(why) => {
                return Err(loc.error(
                    format!("expect.outcomes[{i}].runtime"),
                    format!("the {label} model cannot run this pipeline, so this outcome can never be checked: {why}"),
                ))
            }
            Ok(offered) if !offered.contains(&outcome.guarantee) => {
                let offered: Vec<&str> = offered.iter().map(|g| g.label()).collect();
                return Err(loc.error(
                    format!("expect.outcomes[{i}].guarantee"),
                    format!(
                        "the {label} model runs this pipeline only under {}, so this outcome can never be checked",
                        offered.join(", ")
                    ),
                ));
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

/// A fault's checkpoint number and start time (processing ms), with the field each is in.
#[allow(clippy::type_complexity)]
fn fault_timing(f: &FaultSpec) -> (Option<(u64, &'static str)>, Option<(u64, &'static str)>) {
    match f {
        FaultSpec::Crash { at, .. } => match at {
            CrashPoint::At(t) => (None, Some((t.0.max(0) as u64, "Crash.at.At"))),
            CrashPoint::AtNs(t) => (None, Some((*t / 1_000_000, "Crash.at.AtNs"))),
            CrashPoint::OnCheckpointTrigger(n) => (Some((*n, "Crash.at.OnCheckpointTrigger")), None),
            CrashPoint::WhileAligning { checkpoint, .. } => {
                (Some((*checkpoint, "Crash.at.WhileAligning.checkpoint")), None)
            }
            CrashPoint::AfterPreCommit(n) => (Some((*n, "Crash.at.AfterPreCommit")), None),
            CrashPoint::AfterCheckpointComplete(n) => (Some((*n, "Crash.at.AfterCheckpointComplete")), None),
        },
        FaultSpec::Partition { from_ms, .. } => (None, Some((*from_ms, "Partition.from_ms"))),
        FaultSpec::LatencySpike { from_ms, .. } => (None, Some((*from_ms, "LatencySpike.from_ms"))),
        FaultSpec::MessageLoss { from_ms, .. } => (None, Some((*from_ms, "MessageLoss.from_ms"))),
        FaultSpec::SlowNode { from_ms, .. } => (None, Some((*from_ms, "SlowNode.from_ms"))),
        FaultSpec::CheckpointStorageFailure { checkpoint } => {
            (Some((*checkpoint, "CheckpointStorageFailure.checkpoint")), None)
        }
    }
}

fn resolve_watermarks(w: &Watermarks, loc: &Locator) -> Result<WatermarkStrategy, ScenarioError> {
    Ok(match w {
        Watermarks::BoundedOutOfOrderness { bound_ms, emit, idle_timeout_ms } => {
            if *bound_ms < 0 {
                return Err(loc.error("watermarks.BoundedOutOfOrderness.bound_ms", "bound_ms cannot be negative"));
            }
            if let Emit::Periodic { interval_ms: 0 } = emit {
                return Err(loc.error(
                    "watermarks.BoundedOutOfOrderness.emit.Periodic.interval_ms",
                    "a periodic interval of 0 ms would never let time advance; use PerRecord",
                ));
            }
            if *idle_timeout_ms == Some(0) {
                return Err(loc.error(
                    "watermarks.BoundedOutOfOrderness.idle_timeout_ms",
                    "an idle timeout of 0 ms marks every partition idle at once; use at least 1",
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
                let at = |f: &str| format!("watermarks.Explicit[{i}].{f}");
                if m.at.0 < 0 {
                    return Err(loc.error(at("at"), "time cannot be negative"));
                }
                // Bounded: `at` <= MAX_TIME_MS (check_magnitudes), so this cannot overflow.
                let at_ns = ms_to_ns(m.at.0 as u64);
                if let Some(prev) = list.last() {
                    if at_ns < prev.at_ns {
                        return Err(loc.error(at("at"), "explicit watermarks must be in order of `at`"));
                    }
                    if m.watermark.0 < prev.watermark_ms {
                        return Err(loc.error(at("watermark"), "a watermark never goes back"));
                    }
                }
                list.push(ExplicitWatermark { at_ns, watermark_ms: m.watermark.0 });
            }
            WatermarkStrategy::Explicit(list)
        }
        Watermarks::None => WatermarkStrategy::None,
    })
}
