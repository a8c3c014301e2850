//! The resolved parameters as text, one per line, for the top of a run's output.

use engine::graph::OperatorKind;

use super::{Emit, LogData, RestartStrategy, Scenario, Watermarks};

impl Scenario {
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
                // The first marks only: a schedule may hold a hundred thousand.
                const SHOWN: usize = 20;
                let mut shown: Vec<String> = marks
                    .iter()
                    .take(SHOWN)
                    .map(|m| format!("{} -> {}", self.format_time_ms(m.at.0), self.format_time_ms(m.watermark.0)))
                    .collect();
                if marks.len() > SHOWN {
                    shown.push(format!("... {} more", marks.len() - SHOWN));
                }
                format!("explicit schedule [{}]", shown.join(", "))
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
                "network: latency {}, local {} us, {} link overrides, channel capacity {}, buffer timeout {} ms",
                self.latency.describe(),
                self.local_latency_ns / 1000,
                self.link_latency.len() / 2,
                self.channel_capacity.map_or("unbounded".to_string(), |c| format!("{c} buffers")),
                self.buffer_timeout_ns / 1_000_000
            ),
        ];
        match &self.log {
            LogData::Generator(g) => lines.push(format!(
                "source: generator, {} partitions, {} events/s, {} keys ({:?}), values {:?}, disorder {} + {} ppm very late by {} ms, {} idle periods, {} bursts",
                g.partitions, g.rate_per_s, g.keys, g.key_skew, g.value, g.disorder.delay.describe(),
                g.disorder.very_late_ppm, g.disorder.very_late_ms, g.idle_partitions.len(), g.bursts.len()
            )),
            LogData::Events(partitions) => lines.push(format!(
                "source: {} explicit events in {} partitions",
                partitions.iter().map(Vec::len).sum::<usize>(),
                self.partitions
            )),
        }
        lines.push(format!("watermarks: {}", self.describe_watermarks()));
        if let super::Model::Storm(c) = &self.model {
            lines.push(format!(
                "model: Storm topology, {} acker executors ({}), message timeout {} ms (a tuple fails between T and 2T), max spout pending {}, acker message cost {} us{}",
                c.ackers,
                if c.ackers == 0 { "acking off: at-most-once" } else { "acking: at-least-once" },
                c.message_timeout_ms,
                c.max_spout_pending.map_or("unbounded".to_string(), |p| p.to_string()),
                c.ack_cost_us,
                c.trident.map_or(String::new(), |t| format!(
                    "; Trident: batches of {} ms, {:?} state (exactly-once)",
                    t.batch_ms, t.state
                ))
            ));
        }
        if let super::Model::Spark(c) = &self.model {
            lines.push(format!(
                "model: Spark micro-batches, trigger {} ms{}, {}, log writes {} ms (the driver on jm, an executor per task manager)",
                c.trigger_ms,
                c.max_records_per_trigger.map_or(String::new(), |m| format!(", at most {m} records per trigger")),
                if c.checkpoint {
                    "checkpoint location kept (offset log, commit log, state store)"
                } else {
                    "no checkpoint location (a restart starts from the latest offsets)"
                },
                c.log_write_ms
            ));
        }
        for (i, op) in self.plan.operators.iter().enumerate() {
            let subtasks: Vec<String> = op
                .subtasks()
                .map(|s| format!("{}@tm-{}", self.plan.subtask(s).name, self.placement[s.index()]))
                .collect();
            let inputs: Vec<String> = self
                .plan
                .subtasks
                .get(op.first_subtask.index())
                .map(|s| {
                    let mut v: Vec<String> = s
                        .inputs
                        .iter()
                        .map(|&c| {
                            let ch = self.plan.channel(c);
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
                "checkpoints: every {} ms, {:?}{}, timeout {} ms, min pause {} ms, {:?} snapshots",
                c.interval_ns / 1_000_000,
                c.mode,
                c.aligned_timeout_ns
                    .map_or(String::new(), |t| format!(" after an aligned-checkpoint timeout of {} ms", t / 1_000_000)),
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
        let strategy = self.restart_strategy();
        let mut restart = match strategy {
            RestartStrategy::NoRestart => "none, a failure fails the job".to_string(),
            RestartStrategy::FixedDelay { delay_ms, max_attempts } => {
                format!("fixed delay {delay_ms} ms, at most {max_attempts} restarts")
            }
            RestartStrategy::ExponentialDelay {
                initial_delay_ms,
                max_delay_ms,
                multiplier_milli,
                max_attempts,
                jitter_milli,
                reset_after_ms,
            } => {
                let attempts = if max_attempts == u32::MAX {
                    "no limit on restarts".to_string()
                } else {
                    format!("at most {max_attempts} restarts")
                };
                format!(
                    "exponential delay from {initial_delay_ms} ms x{}.{:03} up to {max_delay_ms} ms, jitter {}.{:03}, \
                     reset after {reset_after_ms} ms without failure, {attempts}",
                    multiplier_milli / 1000,
                    multiplier_milli % 1000,
                    jitter_milli / 1000,
                    jitter_milli % 1000,
                )
            }
        };
        if self.restart.is_none() {
            let why = if self.checkpoint_config().is_some() { "with" } else { "without" };
            restart.push_str(&format!(" (Flink's default {why} checkpointing)"));
        }
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
