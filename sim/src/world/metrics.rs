//! Metrics buckets, and the list of broken invariants (the checks themselves are
//! [`crate::invariants`]).

use super::*;

/// The metrics bucket being filled; closed buckets go to [`World::metrics`]. The rest of the
/// world reaches it only through these methods.
#[derive(Clone, Debug)]
pub struct OpenBucket {
    bucket: MetricsBucket,
    bucket_ns: TimeNs,
}

impl OpenBucket {
    pub fn new(operators: usize, bucket_ns: TimeNs) -> OpenBucket {
        OpenBucket { bucket: OpenBucket::empty(0, operators), bucket_ns }
    }

    fn empty(start_ns: TimeNs, operators: usize) -> MetricsBucket {
        MetricsBucket {
            start_ns,
            records_in: vec![0; operators],
            watermark_lag_ms: vec![None; operators],
            ..MetricsBucket::default()
        }
    }

    /// An operator (its index in the plan, as [`Task`] keeps it) took a record in.
    pub fn record_in(&mut self, operator: u32) {
        self.bucket.records_in[operator as usize] += 1;
    }

    /// A row became visible to readers, `latency_ms` after its source record was ingested.
    pub fn row_visible(&mut self, latency_ms: u64) {
        self.bucket.rows_visible += 1;
        self.bucket.latency_ms_sum += latency_ms;
        self.bucket.latency_ms_max = self.bucket.latency_ms_max.max(latency_ms);
    }

    /// Close the bucket at `now` with the operators' watermark lags; the next one starts now.
    pub fn close(&mut self, now: TimeNs, watermark_lag_ms: Vec<Option<i64>>) -> MetricsBucket {
        let operators = watermark_lag_ms.len();
        let mut done = std::mem::replace(&mut self.bucket, OpenBucket::empty(now, operators));
        done.watermark_lag_ms = watermark_lag_ms;
        done
    }

    /// When the next tick is due after one at `now`, given the next event at `next_event_ns`:
    /// buckets in which nothing can happen are jumped over (idle virtual time costs no events;
    /// the series then has a gap, not a run of empty buckets).
    pub fn next_tick(&mut self, now: TimeNs, next_event_ns: TimeNs) -> TimeNs {
        let mut next_tick_ns = now + self.bucket_ns;
        if next_event_ns >= next_tick_ns {
            self.bucket.start_ns = next_event_ns - next_event_ns % self.bucket_ns;
            next_tick_ns = self.bucket.start_ns + self.bucket_ns;
        }
        next_tick_ns
    }
}

impl World {
    // ---- invariants ---------------------------------------------------------------------------

    pub(super) fn violate(&mut self, now: TimeNs, subtask: Option<SubtaskId>, violation: InvariantViolation) {
        self.violations.push(Violation { time_ns: now, subtask, violation });
    }

    // ---- metrics ------------------------------------------------------------------------------

    pub(super) fn close_bucket(&mut self, now: TimeNs) {
        let plan = &self.scenario.plan;
        let lags = plan
            .operators
            .iter()
            .map(|op| {
                // Idle subtasks do not hold anything back, so they do not count towards the lag.
                let min_wm = op
                    .subtasks()
                    .map(|s| &self.tasks[s.index()].subtask)
                    .filter(|subtask| !subtask.is_output_idle())
                    .map(|subtask| subtask.output_watermark())
                    .min()
                    .unwrap_or(i64::MIN);
                (min_wm != i64::MIN && min_wm != i64::MAX).then(|| (now / 1_000_000) as i64 - min_wm)
            })
            .collect();
        let done = self.bucket.close(now, lags);
        self.metrics.push(done);
    }
}

/// The trace payload of a processed input message.
pub(super) fn process_payload(kind: MessageKind, input: InputIndex, checkpoint: Option<CheckpointId>) -> Payload {
    match kind {
        MessageKind::Record => Payload::ProcessRecord { input, checkpoint },
        MessageKind::Watermark => Payload::ProcessWatermark { input, checkpoint },
        MessageKind::Barrier => Payload::ProcessBarrier { input, checkpoint },
        MessageKind::Idle => Payload::ProcessIdle { input, checkpoint },
        MessageKind::EndOfInput => Payload::ProcessEndOfInput { input, checkpoint },
    }
}
