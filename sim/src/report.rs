//! What `streamlab run` prints: the resolved parameters, a summary, and the sink output as text or
//! JSON lines.

use std::fmt::Write as _;

use engine::checkpoint::{CheckpointMode, SnapshotAlignment};
use engine::CheckpointId;
use serde_json::json;

use crate::external::StoredRow;
use crate::recording::{CheckpointFigures, CheckpointOutcome};
use crate::run::RunResult;
use crate::stepped::SteppedWorld;
use crate::world::StopReason;

/// Format virtual nanoseconds as seconds with millisecond precision.
pub fn format_ns(ns: u64) -> String {
    format!("{}.{:03} s", ns / 1_000_000_000, ns / 1_000_000 % 1000)
}

/// Virtual time as the scenario likes it: a clock time for textbook scenarios, else seconds.
pub fn format_virtual(scenario: &crate::Scenario, ns: u64) -> String {
    if scenario.clock_times {
        crate::scenario::format_clock((ns / 1_000_000) as i64)
    } else {
        format_ns(ns)
    }
}

/// The summary block of a run.
pub fn summary(result: &RunResult) -> String {
    let world = &result.world;
    let scenario = &world.scenario;
    let mut out = String::new();
    let stop = result.stop.to_string();
    let stop = stop.as_str();
    let at = world.finished_at_ns.filter(|_| result.stop == StopReason::JobFinished).unwrap_or(world.now_ns());
    stop_lines(&mut out, scenario, stop, at, world.events_processed, &world.recorder, world.log.len());
    let attempts = world.counters_per_attempt();
    let _ = writeln!(
        out,
        "{:<16} {:>9} {:>12} {:>12} {:>9} {:>22}",
        "operator", "subtasks", "records in", "records out", "late", "watermark lag ms"
    );
    if attempts.len() > 1 {
        let _ = writeln!(out, "(counts are totals over all {} job attempts; per attempt below)", attempts.len());
    }
    let per_operator = |counters: &[engine::subtask::Counters], op: &engine::graph::PhysicalOperator| {
        op.subtasks()
            .map(|s| &counters[s.index()])
            .fold((0, 0, 0), |(i, o, l), c| (i + c.records_in, o + c.records_out, l + c.late_dropped))
    };
    for (op_id, op) in scenario.plan.operators.iter().enumerate() {
        let (mut rin, mut rout, mut late) = (0, 0, 0);
        for counters in &attempts {
            let (i, o, l) = per_operator(counters, op);
            rin += i;
            rout += o;
            late += l;
        }
        let lags: Vec<i64> =
            world.metrics.iter().filter_map(|b| b.watermark_lag_ms.get(op_id).copied().flatten()).collect();
        let lag = if lags.is_empty() {
            "-".to_string()
        } else {
            let mean = lags.iter().sum::<i64>() / lags.len() as i64;
            format!("mean {mean} max {}", lags.iter().max().unwrap_or(&0))
        };
        let _ = writeln!(out, "{:<16} {:>9} {:>12} {:>12} {:>9} {:>22}", op.name, op.parallelism, rin, rout, late, lag);
    }
    if attempts.len() > 1 {
        let _ = writeln!(out, "per job attempt (records in / records out / late):");
        for op in &scenario.plan.operators {
            let cells: Vec<String> = attempts
                .iter()
                .enumerate()
                .map(|(n, counters)| {
                    let (i, o, l) = per_operator(counters, op);
                    format!("#{n} {i} / {o} / {l}")
                })
                .collect();
            let _ = writeln!(out, "  {:<14} {}", op.name, cells.join("   "));
        }
    }
    // Region failover that left some tasks running: say which restarted, and why the others'
    // output was not replayed.
    let total = scenario.plan.subtasks.len();
    for (n, restarted) in world.restarted_tasks.iter().enumerate() {
        if restarted.len() < total {
            let names: Vec<&str> = restarted.iter().map(|&t| scenario.plan.subtask(t).name.as_str()).collect();
            let _ = writeln!(
                out,
                "restart #{}: region failover restarted {} of {total} tasks ({}); the other regions kept running and replayed nothing",
                n + 1,
                restarted.len(),
                names.join(" "),
            );
        }
    }
    let _ = writeln!(out, "late records dropped: {}", result.late_dropped());
    if scenario.checkpoint_config().is_some() {
        let completed =
            world.checkpoints.iter().filter(|c| matches!(c.outcome, CheckpointOutcome::Completed { .. })).count();
        let aborted =
            world.checkpoints.iter().filter(|c| matches!(c.outcome, CheckpointOutcome::Aborted { .. })).count();
        let _ = writeln!(out, "checkpoints: {completed} completed, {aborted} aborted");
        if let Some(line) = consistency_summary(world) {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// `run`'s line on the snapshot-consistency check (`sim::consistency`): how many completed
/// checkpoints conserve records across every channel, and the last one's figures. None before
/// any checkpoint completed.
pub fn consistency_summary(world: &crate::World) -> Option<String> {
    let checked: Vec<(CheckpointId, &crate::consistency::SnapshotConsistency)> =
        world.checkpoints.iter().filter_map(|c| c.consistency.as_ref().map(|k| (c.id, k))).collect();
    let (last_id, last) = checked.last()?;
    let consistent = checked.iter().filter(|(_, k)| k.is_consistent()).count();
    let promise = match world.scenario.checkpoint_config().map(|c| c.mode) {
        Some(CheckpointMode::AtLeastOnce) => " (at-least-once barrier tracking does not promise it)",
        _ => "",
    };
    Some(format!(
        "snapshot consistency: {consistent} of {} completed checkpoints consistent{promise}; checkpoint {last_id}: {last}",
        checked.len()
    ))
}

/// `replay`'s lines on the snapshot-consistency check, one per completed checkpoint.
fn consistency_lines(world: &crate::World) -> String {
    let mut out = String::new();
    let checked = world.checkpoints.iter().filter_map(|c| c.consistency.as_ref().map(|k| (c.id, k)));
    for (i, (id, k)) in checked.enumerate() {
        if i == 0 {
            let _ = writeln!(
                out,
                "snapshot consistency (per channel: sent by the sender's snapshot = received by the receiver's + its channel state):"
            );
        }
        let _ = writeln!(out, "  checkpoint {id}: {k}");
    }
    out
}

/// Per operator, how its subtasks spent the run, as Flink's web UI shows a vertex: the busiest
/// and the most backpressured subtask, in ms per second (`replay` prints it).
pub fn time_use_table(world: &crate::World) -> String {
    let end_ns = world.finished_at_ns.unwrap_or(world.now_ns());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "per second of the run, ms (Flink's busyTimeMsPerSecond, backPressuredTimeMsPerSecond, idleTimeMsPerSecond)"
    );
    let _ = writeln!(out, "{:<16} {:>9} {:>15} {:>9}", "operator", "busy max", "backpressured max", "idle min");
    for op in &world.scenario.plan.operators {
        let shares: Vec<crate::time_use::MsPerSecond> =
            op.subtasks().filter_map(|s| world.time_use.get(s.index())).map(|t| t.per_second(end_ns, end_ns)).collect();
        let busy = shares.iter().map(|s| s.busy).max().unwrap_or(0);
        let backpressured = shares.iter().map(|s| s.backpressured).max().unwrap_or(0);
        let idle = shares.iter().map(|s| s.idle).min().unwrap_or(0);
        let _ = writeln!(out, "{:<16} {busy:>9} {backpressured:>17} {idle:>9}", op.name);
    }
    out
}

/// One sink row as a line of the text table.
pub fn row_text(result: &RunResult, row: &StoredRow) -> String {
    sink_row_line(&result.world.scenario, row)
}

pub fn rows_text(result: &RunResult) -> String {
    sink_rows_table(&result.world.scenario, result.visible_rows())
}

/// One sink row as a JSON object: the one shape of a row in every JSON output (`run --json`,
/// the workbench's export), whatever model produced it.
pub fn row_json(scenario: &crate::Scenario, row: &StoredRow) -> serde_json::Value {
    let visible_ns = row.visible_ns.unwrap_or(row.written_ns);
    json!({
        "sink": scenario.plan.operators[row.sink].name,
        "key": scenario.key_name(row.row.key),
        "window_start_ms": row.row.window.map(|w| w.start_ms),
        "window_end_ms": row.row.window.map(|w| w.end_ms),
        "timestamp_ms": row.row.timestamp_ms,
        "value": row.row.value,
        "firing": row.row.firing.label(),
        "emit_time_ms": visible_ns / 1_000_000,
        "emit_time_ns": visible_ns,
    })
}

fn ms3(ns: u64) -> String {
    format!("{}.{}", ns / 1_000_000, ns / 100_000 % 10)
}

/// The table `streamlab compare` prints: Flink's rows, then (for a Storm scenario) Storm's,
/// whose exactly-once is Trident and whose extra column shows the cost of acking.
pub fn compare_table(reports: &[crate::run::VariantReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<14} {:<17} {:>16} {:>26} {:>12} {:>20} {:>16} {:>22} {:>22} {:>8} {:>12} {:>24}  {:<18} verdict",
        "runtime",
        "guarantee",
        "sink",
        "records lost/dup",
        "rows missing/dup/wrong/unexp",
        "checkpoints",
        "ckpt p50/max ms",
        "aligned/timed out",
        "alignment p50/max ms",
        "latency p50/p99 ms",
        "restarts",
        "records/s",
        "acks/record replays t/o",
        "output"
    );
    for r in reports {
        let o = &r.outcome;
        let f = &r.checkpoint_figures;
        let none = || "-".to_string();
        let (runtime, guarantee) = compare_row_names(r.runtime, r.guarantee);
        // Only Flink checkpoints.
        let (checkpoints, durations, aligned, alignment) = match r.runtime {
            crate::scenario::Runtime::Flink => (
                format!("{} ok {} ab", r.checkpoints_completed, r.checkpoints_aborted),
                format!("{} / {}", ms3(f.checkpoint_duration_p50_ns), ms3(f.checkpoint_duration_max_ns)),
                format!("{} / {}", f.checkpoints_aligned, f.checkpoints_timed_out),
                format!("{} / {}", ms3(r.alignment_p50_ns), ms3(r.alignment_max_ns)),
            ),
            _ => (none(), none(), none(), none()),
        };
        let acks = match r.storm {
            Some(s) => format!("{:.2} {} {}", s.ack_messages_per_tuple, s.replays, s.timeouts),
            None => "-".to_string(),
        };
        let _ = writeln!(
            out,
            "{:<8} {:<14} {:<17} {:>16} {:>26} {:>12} {:>20} {:>16} {:>22} {:>22} {:>8} {:>12} {:>24}  {:<18} {}",
            runtime,
            guarantee,
            r.sink.label(),
            format!("{} / {}", o.lost_records.len(), o.duplicated_records.len()),
            format!(
                "{} / {} / {} / {}",
                o.missing_rows.len(),
                o.duplicate_rows.len(),
                o.wrong_rows.len(),
                o.unexpected_rows.len()
            ),
            checkpoints,
            durations,
            aligned,
            alignment,
            format!("{} / {}", ms3(r.latency_p50_ns), ms3(r.latency_p99_ns)),
            r.restarts,
            r.throughput_per_s,
            acks,
            format!("{:?}", r.class),
            verdict_cell(r)
        );
        row_notes(&mut out, r, 14);
    }
    let _ = writeln!(
        out,
        "verdict: exactly-once passes iff no source record is lost or duplicated and no result shown twice (Exact, or Regrouped: the same records grouped by event time into other rows than the fault-free reference's); at-least-once iff nothing is lost; at-most-once iff nothing is duplicated (definitions: the book's \"What the oracle counts\")."
    );
    if reports.iter().any(|r| r.runtime == crate::scenario::Runtime::KafkaStreams) {
        let _ = writeln!(
            out,
            "kstreams rows: at-least-once = at_least_once, exactly-once = exactly_once_v2 (no at-most-once); each against the application without faults under the same guarantee. sink plain = a read_uncommitted reader, two-phase-commit = read_committed; restarts = task restores (the book's Kafka Streams chapter)."
        );
    }
    if reports.iter().any(|r| r.storm.is_some()) {
        let _ = writeln!(
            out,
            "storm rows: at-most-once = acking off (0 ackers), at-least-once = the XOR acker and replay, exactly-once = Trident; their reference is the Storm topology without faults and without acking. restarts = executor restarts; acks/record = acker messages (init, ack, ack to the spout) per source record; t/o = timeouts (the book's Storm chapter)."
        );
    }
    if reports.iter().any(|r| r.runtime == crate::scenario::Runtime::Spark) {
        let _ = writeln!(
            out,
            "spark rows: no ckpt = no checkpoint location (a restart starts from the latest offsets; a retried task writes a plain sink again): Spark promises nothing there, so the row reports what happened and is never a FAIL (\"no promise\"); at-least-once and exactly-once = a checkpoint location (offset and commit logs, state store) with the sink shown: plain (a re-run batch writes again), idempotent (foreachBatch upserting by key and window), two-phase-commit (a transactional sink committing each batch id once, like the file sink's manifest); their reference is the same query without faults. restarts = driver restarts (the book's Spark chapter)."
        );
    }
    out
}

/// How `compare`'s table names a row's model and guarantee (its first two columns): each model's
/// guarantee in its own words.
pub fn compare_row_names(
    runtime: crate::scenario::Runtime,
    guarantee: crate::scenario::Guarantee,
) -> (&'static str, String) {
    use crate::scenario::{Guarantee, Runtime};
    match runtime {
        Runtime::Flink => ("flink", guarantee.label().to_string()),
        Runtime::Storm => {
            let g = match guarantee {
                Guarantee::AtMostOnce => "acking off",
                Guarantee::AtLeastOnce => "acking",
                Guarantee::ExactlyOnce => "trident",
            };
            ("storm", format!("{g} ({})", short(guarantee)))
        }
        // Without a checkpoint location Spark promises nothing (`run::promise_of`).
        Runtime::Spark => match crate::run::promise_of(runtime, guarantee) {
            None => ("spark", "no ckpt".to_string()),
            Some(g) => ("spark", format!("ckpt ({})", short(g))),
        },
        // Kafka Streams commits instead of checkpointing: its guarantee by its config name.
        Runtime::KafkaStreams => {
            let g = if guarantee == Guarantee::ExactlyOnce { "exactly_once_v2" } else { "at_least_once" };
            ("kstreams", g.to_string())
        }
    }
}

/// A compare row's verdict column: no verdict without a finished reference, none where the
/// system promises nothing (`run::promise_of`), else whether the promise was kept.
fn verdict_cell(r: &crate::run::VariantReport) -> &'static str {
    match (r.reference_stop.is_finished(), r.verdict) {
        (false, _) => "NO VERDICT",
        _ if crate::run::promise_of(r.runtime, r.guarantee).is_none() => "no promise",
        (true, true) => "PASS",
        (true, false) => "FAIL",
    }
}

/// The notes under a compare row (indented `indent` columns): why the run or its reference
/// stopped, invariant violations, faults the run never suffered.
fn row_notes(out: &mut String, r: &crate::run::VariantReport, indent: usize) {
    if r.stop != StopReason::JobFinished {
        let _ = writeln!(out, "{:<indent$}   ^ run stopped: {}", "", r.stop);
    }
    if let Some(why) = crate::run::no_verdict(r.reference_stop) {
        let _ = writeln!(out, "{:<indent$}   ^ {why}", "");
    }
    for v in &r.violations {
        let _ = writeln!(out, "{:<indent$}   ^ INVARIANT VIOLATED: {v}", "");
    }
    for f in &r.faults_not_injected {
        let _ = writeln!(out, "{:<indent$}   ^ {f}", "");
    }
}

/// The table `streamlab compare --checkpoint-mode` prints: one exactly-once row per barrier
/// rule, with what the rule cost (inputs blocked, channel state) beside the oracle's counts.
pub fn modes_table(reports: &[crate::run::ModeReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<15} {:<17} {:>16} {:>26} {:>12} {:>20} {:>22} {:>14} {:>20} {:>22} {:>8}  {:<18} verdict",
        "checkpoint mode",
        "sink",
        "records lost/dup",
        "rows missing/dup/wrong/unexp",
        "checkpoints",
        "ckpt p50/max ms",
        "alignment p50/max ms",
        "inputs blocked",
        "channel state recs",
        "latency p50/p99 ms",
        "restarts",
        "output"
    );
    for m in reports {
        let r = &m.report;
        let o = &r.outcome;
        let f = &r.checkpoint_figures;
        let _ = writeln!(
            out,
            "{:<15} {:<17} {:>16} {:>26} {:>12} {:>20} {:>22} {:>14} {:>20} {:>22} {:>8}  {:<18} {}",
            m.checkpoint_mode.label(),
            r.sink.label(),
            format!("{} / {}", o.lost_records.len(), o.duplicated_records.len()),
            format!(
                "{} / {} / {} / {}",
                o.missing_rows.len(),
                o.duplicate_rows.len(),
                o.wrong_rows.len(),
                o.unexpected_rows.len()
            ),
            format!("{} ok {} ab", r.checkpoints_completed, r.checkpoints_aborted),
            format!("{} / {}", ms3(f.checkpoint_duration_p50_ns), ms3(f.checkpoint_duration_max_ns)),
            format!("{} / {}", ms3(r.alignment_p50_ns), ms3(r.alignment_max_ns)),
            m.figures.inputs_blocked,
            m.figures.channel_state_records,
            format!("{} / {}", ms3(r.latency_p50_ns), ms3(r.latency_p99_ns)),
            r.restarts,
            format!("{:?}", r.class),
            verdict_cell(r)
        );
        row_notes(&mut out, r, 15);
    }
    let _ = writeln!(
        out,
        "every row: a Flink job under exactly-once checkpoints with the scenario's sink, the seed's faults, judged against the same mode without faults. alignment = per snapshot of a subtask with several inputs, first barrier to last (aligned: the inputs wait; unaligned and chandy-lamport: they do not). inputs blocked = times an input stopped for alignment; channel state recs = records recorded as channel state, summed over the completed checkpoints (the book's Chandy–Lamport chapter)."
    );
    out
}

fn short(g: crate::scenario::Guarantee) -> &'static str {
    match g {
        crate::scenario::Guarantee::AtMostOnce => "AMO",
        crate::scenario::Guarantee::AtLeastOnce => "ALO",
        crate::scenario::Guarantee::ExactlyOnce => "EO",
    }
}

/// The summary block of a finished run of a model built on a `ModelCore` (Storm, Spark,
/// Kafka Streams): why and when it stopped in the model's words
/// ([`crate::run::core_model::CoreModel::FINISHED`], `STALLED`), its events and trace hash, then
/// its counters ([`crate::run::core_model::CoreModel::progress`]).
pub fn core_summary<C: crate::run::core_model::CoreModel>(run: &crate::model_world::ModelRun<C>) -> String {
    let world = &run.world;
    let stop = match run.stop {
        StopReason::JobFinished => C::FINISHED,
        StopReason::Stalled => C::STALLED,
        StopReason::TimeLimit => "time limit (max_run_ms) reached",
        StopReason::WorkLimit => crate::world::WORK_LIMIT_TEXT,
        StopReason::JobFailed(_) => "failed",
        StopReason::InvariantViolated(_) => "INVARIANT VIOLATED",
    };
    let at = world.finished_at_ns().unwrap_or(world.now_ns());
    let mut out = String::new();
    stop_lines(&mut out, world.scenario(), stop, at, world.events_processed, world.recorder(), world.source_records());
    out.push_str(&C::progress(world));
    out
}

/// A Storm run's counters so far (also for a run paused by `replay --until`): tuples per
/// component, the spout's emits, replays, acks, timeouts and pending tuples, acker traffic,
/// explicit fails, Trident's batches.
pub fn storm_progress(world: &crate::storm::StormWorld) -> String {
    let scenario = &world.scenario;
    let mut out = String::new();
    let _ = writeln!(out, "{:<16} {:>9} {:>12}", "component", "tasks", "tuples in");
    for (op, n) in scenario.plan.operators.iter().zip(world.records_in_per_operator()) {
        let _ = writeln!(out, "{:<16} {:>9} {:>12}", op.name, op.parallelism, n);
    }
    let s = world.stats;
    let records = world.log.len().max(1) as f64;
    let _ = writeln!(
        out,
        "spout: {} emitted ({} replays after a timeout or fail, {} re-read after a spout restart), {} acked, {} timed out; pending now {:?}",
        s.spout_emitted,
        s.replays,
        s.rereads,
        s.acked,
        s.timeouts,
        world.pending_per_spout()
    );
    let _ = writeln!(
        out,
        "ackers: {}; acker messages {} ({:.2} per source record); tuples sent {}",
        world.config.ackers,
        s.ack_messages,
        s.ack_messages as f64 / records,
        s.tuples_sent
    );
    if !world.config.fails.is_empty() {
        let _ = writeln!(out, "explicit fails by bolts: {} (each replayed from the spout)", s.bolt_fails);
    }
    if world.config.trident.is_some() {
        let _ = writeln!(
            out,
            "trident: {} batches begun ({} replays), {} state updates skipped as already applied",
            s.trident_batches, s.trident_replays, s.trident_skipped_updates
        );
    }
    let _ = writeln!(out, "late tuples dropped (acked) by windowed bolts: {}", s.late_dropped);
    let _ = writeln!(out, "executor restarts: {}", s.worker_restarts);
    out
}

/// Sink rows of a Storm run as text (the same table as a Flink run's).
pub fn storm_rows_text(run: &crate::storm::StormRun) -> String {
    sink_rows_table(&run.world.scenario, run.visible_rows())
}

/// The visible rows of a Spark run (as `storm_rows_text` shows a topology's).
pub fn spark_rows_text(run: &crate::spark::SparkRun) -> String {
    sink_rows_table(&run.world.scenario, run.visible_rows())
}

/// Sink rows as a table: the header, then one [`sink_row_line`] each.
pub(crate) fn sink_rows_table(scenario: &crate::Scenario, rows: Vec<&StoredRow>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<10} {:<8} {:<28} {:>10} {:<8} visible at", "sink", "key", "window", "value", "firing");
    for row in rows {
        let _ = writeln!(out, "{}", sink_row_line(scenario, row));
    }
    out
}

/// A sink row as a line of the table every model's `run` prints: sink, key, window (or the
/// record's event time), value, firing, when it became visible — times as the scenario prints
/// them (`Scenario::format_time_ms`, [`format_virtual`]).
pub fn sink_row_line(scenario: &crate::Scenario, row: &StoredRow) -> String {
    let sink = &scenario.plan.operators[row.sink].name;
    let window = match row.row.window {
        Some(w) => format!("[{}, {})", scenario.format_time_ms(w.start_ms), scenario.format_time_ms(w.end_ms)),
        None => format!("ts {}", scenario.format_time_ms(row.row.timestamp_ms)),
    };
    format!(
        "{:<10} {:<8} {:<28} {:>10} {:<8} {}",
        sink,
        scenario.key_name(row.row.key),
        window,
        row.row.value,
        row.row.firing.label(),
        format_virtual(scenario, row.visible_ns.unwrap_or(row.written_ns))
    )
}

/// A Spark run's counters so far (also for a run paused by `replay --until`) and its batches:
/// id, query run, offsets read, the watermarks used, the state version loaded, re-run or not,
/// committed or not.
pub fn spark_progress(world: &crate::spark::SparkWorld) -> String {
    let s = world.stats;
    let c = &world.config;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "trigger {} ms, checkpoint location {}; {} batches committed ({} re-run after a restart, {} without data)",
        c.trigger_ms,
        if c.checkpoint { "kept" } else { "none (a restart starts from the latest offsets)" },
        s.batches,
        s.reruns,
        s.no_data_batches
    );
    let _ = writeln!(
        out,
        "tasks: {} launched, {} retried after an executor loss, {} map tasks recomputed for lost shuffle output",
        s.tasks_launched, s.task_retries, s.map_recomputes
    );
    let _ = writeln!(
        out,
        "records read {} (re-reads included); late: {} groups dropped ({} records); windows still open in state: {}",
        s.records_read,
        s.dropped_groups,
        s.late_dropped,
        world.open_groups()
    );
    let _ = writeln!(
        out,
        "driver restarts {}, executor losses {}; records skipped by a restart from the latest offsets: {}; batches a transactional sink skipped as committed: {}",
        s.driver_restarts, s.executor_losses, s.skipped_at_restart, s.skipped_sink_batches
    );
    let _ = writeln!(out, "largest scheduling delay: {}", format_ns(s.scheduling_delay_max_ns));
    out.push_str(&spark_batches_table(world));
    out
}

/// One line per batch: what `offsets/N` and `commits/N` say and what became of it.
pub fn spark_batches_table(world: &crate::spark::SparkWorld) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>5} {:>4} {:>9} {:>10} {:>10} {:>8} {:>7} {:>6} {:<9} {:>12} {:>12}",
        "batch", "run", "records", "WM(N-1)", "WM(N)", "state v", "rows", "re-run", "committed", "due", "started"
    );
    for b in &world.batches {
        let records: u64 = b.offsets.ranges.iter().map(|(from, to)| to - from).sum();
        let _ = writeln!(
            out,
            "{:>5} {:>4} {:>9} {:>10} {:>10} {:>8} {:>7} {:>6} {:<9} {:>12} {:>12}",
            b.id,
            b.run,
            records,
            b.offsets.late_watermark_ms,
            b.offsets.watermark_ms,
            b.state_version.map_or("-".to_string(), |v| v.to_string()),
            b.rows_written,
            if b.rerun { "yes" } else { "" },
            if b.committed_ns.is_some() { "yes" } else { "NO" },
            format_ns(b.due_ns),
            format_ns(b.started_ns)
        );
    }
    out
}

/// Per checkpoint, the figures Flink's web UI shows: when it started, how it ended and how long it
/// took, and across its subtasks the largest start delay, alignment, sync and async parts, and the
/// total state size.
///
/// With unaligned checkpoints a last column says how the subtasks with inputs took their
/// snapshots: `unaligned`, or — with an aligned-checkpoint timeout — `aligned` or `timed out →
/// unaligned` with how many of them switched.
pub fn checkpoints_table(result: &RunResult) -> String {
    let world = &result.world;
    let plan = &world.scenario.plan;
    // The last column says how the snapshots were taken where that varies or needs saying.
    let unaligned = world
        .scenario
        .checkpoint_config()
        .is_some_and(|c| matches!(c.mode, CheckpointMode::Unaligned | CheckpointMode::ChandyLamport));
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>4} {:>11} {:<22} {:>12} {:>15} {:>15} {:>12} {:>12} {:>12}",
        "id", "triggered", "outcome", "duration", "max start delay", "max alignment", "max sync", "max async", "state"
    );
    let _ = writeln!(out, "{}", if unaligned { "  alignment" } else { "" });
    for c in &world.checkpoints {
        let outcome = match &c.outcome {
            CheckpointOutcome::InProgress => "in progress".to_string(),
            CheckpointOutcome::Completed { .. } => "completed".to_string(),
            CheckpointOutcome::Aborted { reason, .. } => format!("aborted ({reason})"),
        };
        let max = |f: fn(&crate::recording::SubtaskCheckpointStats) -> u64| c.subtasks.iter().map(f).max().unwrap_or(0);
        let state: u64 = c.subtasks.iter().map(|s| s.state_size_bytes).sum();
        let _ = writeln!(
            out,
            "{:>4} {:>11} {:<22} {:>12} {:>15} {:>15} {:>12} {:>12} {:>9} kB",
            c.id,
            format_virtual(&world.scenario, c.triggered_ns),
            outcome,
            c.duration_ns().map_or("-".to_string(), |d| format!("{} ms", ms3(d))),
            format!("{} ms", ms3(max(|s| s.start_delay_ns))),
            format!("{} ms", ms3(max(|s| s.alignment_ns))),
            format!("{} ms", ms3(max(|s| s.sync_ns))),
            format!("{} ms", ms3(max(|s| s.async_ns))),
            state.div_ceil(1024)
        );
        if unaligned {
            // Rewrite the line's end: the alignment column follows.
            out.pop();
            let label = match c.alignment(plan) {
                None => "-".to_string(),
                Some(a) if a.how == SnapshotAlignment::TimedOut => {
                    format!("{} ({} of {})", a.how.label(), a.timed_out, a.snapshots)
                }
                Some(a) => a.how.label().to_string(),
            };
            let _ = writeln!(out, "  {label}");
        }
    }
    let _ = writeln!(out, "{}", checkpoint_figures_text(&CheckpointFigures::of(&world.checkpoints, plan)));
    out.push_str(&consistency_lines(world));
    out
}

/// A run's [`CheckpointFigures`] in one line, under `replay`'s checkpoint table.
fn checkpoint_figures_text(f: &CheckpointFigures) -> String {
    format!(
        "completed checkpoints: duration p50 {} ms, max {} ms (trigger -> complete); checkpoints aligned {}, timed out to unaligned {}",
        ms3(f.checkpoint_duration_p50_ns),
        ms3(f.checkpoint_duration_max_ns),
        f.checkpoints_aligned,
        f.checkpoints_timed_out
    )
}

/// The first lines of every run's summary: where it stopped, how much it did, its trace hash.
fn stop_lines(
    out: &mut String,
    scenario: &crate::Scenario,
    stop: &str,
    at_ns: crate::kernel::TimeNs,
    events: u64,
    recorder: &crate::recording::Recorder,
    log_records: usize,
) {
    let _ = writeln!(out, "stopped: {stop} at {} virtual", format_virtual(scenario, at_ns));
    let _ = writeln!(
        out,
        "events: {events} kernel events, {} trace events; source log {log_records} records",
        recorder.count()
    );
    let _ = writeln!(out, "trace hash: {:#018x}", recorder.hash());
}
