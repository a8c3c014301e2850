//! Metrics buckets, and the list of broken invariants (the checks themselves are
//! [`crate::invariants`]).

use super::*;

impl World {
    // ---- invariants ---------------------------------------------------------------------------

    pub(super) fn violate(&mut self, now: TimeNs, subtask: Option<SubtaskId>, message: String) {
        self.violations.push(Violation { time_ns: now, subtask, message });
    }

    // ---- metrics ------------------------------------------------------------------------------

    pub(super) fn close_bucket(&mut self, now: TimeNs) {
        let operators = self.scenario.plan.operators.len();
        for op in 0..operators {
            let first = self.scenario.plan.operators[op].first_subtask;
            let n = self.scenario.plan.operators[op].parallelism as usize;
            // Idle subtasks do not hold anything back, so they do not count towards the lag.
            let min_wm = (first..first + n)
                .filter(|&s| !self.tasks[s].subtask.is_output_idle())
                .map(|s| self.tasks[s].subtask.output_watermark())
                .min()
                .unwrap_or(i64::MIN);
            self.bucket.watermark_lag_ms[op] =
                (min_wm != i64::MIN && min_wm != i64::MAX).then(|| (now / 1_000_000) as i64 - min_wm);
        }
        let next = MetricsBucket {
            start_ns: now,
            records_in: vec![0; operators],
            watermark_lag_ms: vec![None; operators],
            ..MetricsBucket::default()
        };
        let done = std::mem::replace(&mut self.bucket, next);
        self.metrics.push(done);
    }
}

pub(super) fn process_kind(kind: MessageKind) -> TraceKind {
    match kind {
        MessageKind::Record => TraceKind::ProcessRecord,
        MessageKind::Watermark => TraceKind::ProcessWatermark,
        MessageKind::Barrier => TraceKind::ProcessBarrier,
        MessageKind::Idle => TraceKind::ProcessIdle,
        MessageKind::EndOfInput => TraceKind::ProcessEndOfInput,
    }
}
