//! The source state machine: per partition the next offset, a watermark generator and
//! idleness; the source's watermark is the minimum over its active partitions, emitted per
//! record, periodically or on an explicit schedule.

use serde::{Deserialize, Serialize};

use super::operator::OperatorState;
use super::Subtask;
use crate::graph::{PhysicalPlan, Stream, SubtaskId};
use crate::message::{Key, Record, SourceRef};
use crate::mintree::MinTree;
use crate::watermark::{BoundedGenerator, Emission, WatermarkStrategy};
use crate::{ms_to_ns, EventTimeMs, ProcTimeNs};

/// One event read from the external log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceEvent {
    pub key: Key,
    pub value: i64,
    pub timestamp_ms: EventTimeMs,
}

/// A source partition as the source subtask reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionReader {
    pub partition: u32,
    pub next_offset: u64,
    pub generator: BoundedGenerator,
    pub idle: bool,
    /// The periodic check at which the partition is declared idle unless a record arrives
    /// first (`idle_deadline`; `ProcTimeNs::MAX` without an idle timeout).
    pub idle_at_ns: ProcTimeNs,
    /// The check after the one that saw the last record: where Flink's countdown starts.
    #[serde(default)]
    pub countdown_start_ns: ProcTimeNs,
    /// Time since `countdown_start_ns` the source could not emit (backpressured): the
    /// countdown's paused clock does not count it.
    #[serde(default)]
    pub countdown_paused_ns: ProcTimeNs,
}

impl PartitionReader {
    /// The last record was seen by the check at `seen_at_ns`: the countdown starts over.
    fn restart_countdown(&mut self, strategy: &WatermarkStrategy, seen_at_ns: ProcTimeNs) {
        let interval_ns = periodic_check_ns(strategy).unwrap_or(0);
        self.countdown_start_ns = seen_at_ns.saturating_add(interval_ns);
        self.countdown_paused_ns = 0;
        self.idle_at_ns = idle_deadline(strategy, seen_at_ns);
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    pub partitions: Vec<PartitionReader>,
    pub strategy: WatermarkStrategy,
    /// Index of the next unreached entry of an explicit watermark schedule.
    pub explicit_next: usize,
    pub next_periodic_ns: ProcTimeNs,
    /// The log has nothing more for us.
    pub exhausted: bool,
    /// Per partition `(idle, current watermark)`: the root is the source's watermark, the
    /// minimum over active partitions, without a scan per record. Kept in step by
    /// [`SourceState::sync`] wherever a partition's generator or idleness changes.
    watermarks: MinTree<(bool, EventTimeMs)>,
    /// Per partition `(idle, last record's processing time)`: the root is the active partition
    /// that goes idle first, so the idleness deadline needs no scan per record. Kept only under
    /// an idle timeout (nothing else asks, and every record read would replay a match).
    activity: Option<MinTree<(bool, ProcTimeNs)>>,
    /// Since when the source cannot emit (its output is backpressured): the idleness countdown
    /// stands still meanwhile, as Flink's does since FLINK-35886 (FLIP-471, a paused clock).
    #[serde(default)]
    output_blocked_since_ns: Option<ProcTimeNs>,
}

/// What a source's timer changed: the subtask applies it to its output in this order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct SourceTick {
    /// Every partition is idle: the output goes idle (after `watermark`).
    pub all_idle: bool,
    /// The watermark to emit (if it advanced the output's): the minimum over the active
    /// partitions, or with all of them idle the largest any reached.
    pub watermark: Option<EventTimeMs>,
    /// The source is done: finish.
    pub finished: bool,
}

impl SourceState {
    fn new(partitions: Vec<PartitionReader>, strategy: WatermarkStrategy, now_ns: ProcTimeNs) -> Self {
        let watermarks = MinTree::new(partitions.iter().map(|p| (p.idle, p.generator.current())).collect());
        let activity = activity_tree(&partitions, &strategy);
        SourceState {
            partitions,
            strategy,
            explicit_next: 0,
            next_periodic_ns: now_ns,
            exhausted: false,
            watermarks,
            activity,
            output_blocked_since_ns: None,
        }
    }

    /// The fresh state of source subtask `id`: every partition it reads, from offset 0.
    pub(super) fn for_subtask(
        plan: &PhysicalPlan,
        id: SubtaskId,
        strategy: &WatermarkStrategy,
        now_ns: ProcTimeNs,
    ) -> Self {
        let bound_ms = match strategy {
            WatermarkStrategy::BoundedOutOfOrderness { bound_ms, .. } => *bound_ms,
            _ => 0,
        };
        let partitions = plan
            .partitions_of(id)
            .into_iter()
            .map(|partition| {
                let mut reader = PartitionReader {
                    partition,
                    next_offset: 0,
                    generator: BoundedGenerator::new(bound_ms),
                    idle: false,
                    idle_at_ns: ProcTimeNs::MAX,
                    countdown_start_ns: 0,
                    countdown_paused_ns: 0,
                };
                // Flink's first periodic check finds no activity and starts the countdown, as
                // if the check at the start had seen a record.
                reader.restart_countdown(strategy, now_ns);
                reader
            })
            .collect();
        SourceState::new(partitions, strategy.clone(), now_ns)
    }

    /// Restored from a snapshot: offsets come from it; watermark generation starts over (as
    /// Flink's).
    pub(super) fn restart_watermarks(&mut self, now_ns: ProcTimeNs) {
        for p in &mut self.partitions {
            p.generator = BoundedGenerator::new(p.generator.bound_ms);
            p.idle = false;
            p.restart_countdown(&self.strategy, now_ns);
        }
        self.next_periodic_ns = now_ns;
        self.explicit_next = 0;
        self.exhausted = false;
        self.output_blocked_since_ns = None;
        self.sync_all();
    }

    /// The source's output became backpressured at `now_ns` (`blocked`), or has room again: the
    /// idleness countdown of its partitions pauses while it cannot emit. Flink's
    /// `WatermarksWithIdleness` counts its timeout on the source's paused clock (FLINK-35886):
    /// a source held back by backpressure reads nothing, and that is not idleness. A partition
    /// whose countdown had started (the check after its last record) is declared idle at the
    /// first check more than the timeout of unpaused time after that start.
    pub(super) fn set_output_blocked(&mut self, blocked: bool, now_ns: ProcTimeNs) {
        let Some((timeout_ns, interval_ns)) = idle_timeout_and_check_ns(&self.strategy) else {
            self.output_blocked_since_ns = blocked.then_some(now_ns);
            return;
        };
        let since_ns = match (blocked, self.output_blocked_since_ns) {
            (true, None) => now_ns,
            (false, Some(since_ns)) => since_ns,
            _ => return,
        };
        self.output_blocked_since_ns = blocked.then_some(now_ns);
        for index in 0..self.partitions.len() {
            let p = &mut self.partitions[index];
            if p.idle {
                continue;
            }
            // More than the timeout of unpaused time had passed when the pause began: the
            // frozen clock still says so, and the next check declares the partition idle.
            let overdue =
                since_ns > p.countdown_start_ns.saturating_add(timeout_ns).saturating_add(p.countdown_paused_ns);
            if overdue {
                continue;
            }
            p.idle_at_ns = if blocked {
                ProcTimeNs::MAX // the countdown stands still
            } else {
                // Only the part of the pause after the countdown started stopped it; the first
                // check more than the timeout of unpaused time after the start declares it.
                p.countdown_paused_ns += now_ns.saturating_sub(since_ns.max(p.countdown_start_ns));
                let checks = timeout_ns.saturating_add(p.countdown_paused_ns) / interval_ns + 1;
                p.countdown_start_ns.saturating_add(checks.saturating_mul(interval_ns))
            };
            self.sync(index);
        }
    }

    /// Bring partition `index`'s keys in both trees up to date. A record older than the
    /// partition's newest leaves its watermark where it was: then no match is replayed.
    // Inline: called at every record a source reads.
    #[inline]
    fn sync(&mut self, index: usize) {
        let p = &self.partitions[index];
        let watermark = (p.idle, p.generator.current());
        if self.watermarks.key(index) != watermark {
            self.watermarks.set(index, watermark);
        }
        if let Some(tree) = &mut self.activity {
            let activity = (p.idle, p.idle_at_ns);
            if tree.key(index) != activity {
                tree.set(index, activity);
            }
        }
    }
    fn sync_all(&mut self) {
        self.watermarks = MinTree::new(self.partitions.iter().map(|p| (p.idle, p.generator.current())).collect());
        self.activity = activity_tree(&self.partitions, &self.strategy);
    }
    /// The active partition that falls idle first: (its index, the check that declares it idle).
    fn next_idle_deadline(&self) -> Option<(usize, ProcTimeNs)> {
        match self.activity.as_ref()?.min() {
            Some((_, (false, ProcTimeNs::MAX))) => None, // every countdown stands still
            Some((index, (false, idle_at_ns))) => Some((index, idle_at_ns)),
            _ => None,
        }
    }
    /// The minimum watermark over active partitions (`None`: all idle, or none).
    pub(super) fn active_watermark(&self) -> Option<EventTimeMs> {
        match self.watermarks.min() {
            Some((_, (false, w))) => Some(w),
            _ => None,
        }
    }
    /// Is every partition idle (true for none)?
    fn all_idle(&self) -> bool {
        self.active_watermark().is_none()
    }
    /// The reader of `partition` (a subtask's partitions are ascending).
    fn reader_index(&self, partition: u32) -> Option<usize> {
        self.partitions.binary_search_by_key(&partition, |p| p.partition).ok()
    }

    /// The record at `offset` of `partition` was read from the log at `now_ns`: advance the
    /// reader and make the record. `name` is the subtask's, for the panics of a misuse.
    fn read(&mut self, partition: u32, offset: u64, event: SourceEvent, now_ns: ProcTimeNs, name: &str) -> Record {
        let index =
            self.reader_index(partition).unwrap_or_else(|| panic!("{name} does not read partition {partition}"));
        let reader = &mut self.partitions[index];
        assert_eq!(reader.next_offset, offset, "source reads its partition in offset order");
        reader.next_offset = offset + 1;
        reader.generator.observe(event.timestamp_ms);
        reader.idle = false;
        // After skipped ticks the grid point may lie in the past: move it to the next tick after
        // now, where the periodic emitter would have looked next.
        if let Some(interval_ns) = periodic_check_ns(&self.strategy) {
            if self.next_periodic_ns <= now_ns {
                self.next_periodic_ns = next_grid_point(self.next_periodic_ns, interval_ns, now_ns.saturating_add(1));
            }
        }
        // The next periodic check sees this record; the countdown to idleness starts after it.
        let seen_at_ns = self.next_periodic_ns;
        self.partitions[index].restart_countdown(&self.strategy, seen_at_ns);
        if self.output_blocked_since_ns.is_some() && self.activity.is_some() {
            self.partitions[index].idle_at_ns = ProcTimeNs::MAX; // read while blocked: paused from its start
        }
        self.sync(index);
        Record {
            key: event.key,
            value: event.value,
            timestamp_ms: event.timestamp_ms,
            source: SourceRef { partition, offset },
            ingest_ns: now_ns,
            pane: None,
        }
    }

    fn emits_per_record(&self) -> bool {
        matches!(self.strategy, WatermarkStrategy::BoundedOutOfOrderness { emission: Emission::PerRecord, .. })
    }

    /// The log holds nothing more: is the source done (any explicit schedule played out)?
    fn exhaust(&mut self) -> bool {
        self.exhausted = true;
        match &self.strategy {
            WatermarkStrategy::Explicit(list) => self.explicit_next >= list.len(),
            _ => true,
        }
    }

    /// Would a periodic tick now change the output: a higher watermark, or all partitions idle
    /// while the output is not marked idle?
    fn watermark_pending(&self, output_watermark: EventTimeMs, output_idle: bool) -> bool {
        match self.active_watermark() {
            Some(w) => w > output_watermark,
            None => !output_idle,
        }
    }

    /// When the source next wants [`SourceState::on_timer`] (periodic watermarks, idleness,
    /// explicit schedules), given the subtask's output watermark and idleness.
    pub(super) fn next_timer_ns(&self, output_watermark: EventTimeMs, output_idle: bool) -> Option<ProcTimeNs> {
        match &self.strategy {
            WatermarkStrategy::BoundedOutOfOrderness { emission, .. } => {
                let idle_check = self.next_idle_deadline().map(|(_, at)| at);
                match emission {
                    // Flink's periodic emitter ticks every interval but only emits a watermark
                    // that advanced. Ticks that cannot change anything are skipped, so idle
                    // virtual time costs nothing: the next tick is the periodic one if a
                    // watermark is pending, else the first tick at or after an idleness deadline.
                    Emission::Periodic { interval_ms } => {
                        let pending = self.watermark_pending(output_watermark, output_idle);
                        let idle_tick = idle_check.map(|deadline| {
                            next_grid_point(self.next_periodic_ns, ms_to_ns((*interval_ms).max(1)), deadline)
                        });
                        if pending {
                            Some(self.next_periodic_ns)
                        } else {
                            idle_tick
                        }
                    }
                    Emission::PerRecord => idle_check,
                }
            }
            WatermarkStrategy::Explicit(list) => list.get(self.explicit_next).map(|e| e.at_ns),
            WatermarkStrategy::None => None,
        }
    }

    /// The source's timer at `now_ns`: play an explicit schedule up to now, or take a periodic
    /// tick and mark partitions idle whose timeout passed.
    pub(super) fn on_timer(&mut self, now_ns: ProcTimeNs) -> SourceTick {
        // An explicit schedule is read in place: it may be long, and this runs once per mark.
        if let WatermarkStrategy::Explicit(list) = &self.strategy {
            let mut latest = None;
            while let Some(entry) = list.get(self.explicit_next) {
                if entry.at_ns > now_ns {
                    break;
                }
                latest = Some(entry.watermark_ms);
                self.explicit_next += 1;
            }
            let finished = self.exhausted && self.explicit_next >= list.len();
            return SourceTick { all_idle: false, watermark: latest, finished };
        }
        let WatermarkStrategy::BoundedOutOfOrderness { emission, .. } = self.strategy.clone() else {
            return SourceTick::default();
        };
        if let Emission::Periodic { interval_ms } = emission {
            if now_ns < self.next_periodic_ns {
                return SourceTick::default();
            }
            // Ticks stay on their grid even when skipped ones are jumped over.
            let interval_ns = ms_to_ns(interval_ms.max(1));
            self.next_periodic_ns = next_grid_point(self.next_periodic_ns, interval_ns, now_ns.saturating_add(1));
        }
        // Only a strategy with an idle timeout has deadlines.
        while let Some((i, deadline)) = self.next_idle_deadline() {
            if now_ns < deadline {
                break;
            }
            self.partitions[i].idle = true;
            self.sync(i);
        }
        let all_idle = self.all_idle();
        let watermark = if all_idle {
            // Flink's `CombinedWatermarkStatus` (since FLINK-38454, Flink 2.2): with every split
            // idle, nothing holds the others back any more; flush the largest watermark any
            // partition reached, whichever order they went idle in.
            self.partitions.iter().map(|p| p.generator.current()).max()
        } else {
            self.active_watermark()
        };
        SourceTick { all_idle, watermark, finished: false }
    }
}

/// The source-only entry points of a subtask: the world's log reader drives these.
impl Subtask {
    pub fn is_source(&self) -> bool {
        matches!(self.operator, OperatorState::Source(_))
    }

    /// Source only: `(partition, next offset)` for each partition this subtask reads.
    pub fn source_positions(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        let partitions = match &self.operator {
            OperatorState::Source(s) => s.partitions.as_slice(),
            _ => &[],
        };
        partitions.iter().map(|p| (p.partition, p.next_offset))
    }

    /// Restart a source from explicit log positions with no other state (at-most-once recovery:
    /// "start from the latest offsets").
    pub fn set_source_positions(&mut self, positions: &[(u32, u64)]) {
        if let OperatorState::Source(source) = &mut self.operator {
            for p in &mut source.partitions {
                if let Some(&(_, offset)) = positions.iter().find(|(part, _)| *part == p.partition) {
                    p.next_offset = offset;
                }
            }
        }
    }

    /// Source only: the record at `offset` of `partition` was read from the log.
    pub fn handle_source_record(&mut self, partition: u32, offset: u64, event: SourceEvent, now_ns: ProcTimeNs) {
        let OperatorState::Source(source) = &mut self.operator else {
            panic!("handle_source_record on non-source subtask {}", self.name);
        };
        let record = source.read(partition, offset, event, now_ns, &self.name);
        let per_record = source.emits_per_record();
        self.out.counters.records_in += 1;
        if self.output_idle {
            self.set_output_idle(false);
        }
        self.out.emit(Stream::Main, record);
        if per_record {
            self.emit_source_watermark();
        }
    }

    fn emit_source_watermark(&mut self) {
        let OperatorState::Source(source) = &self.operator else {
            return;
        };
        if let Some(w) = source.active_watermark() {
            self.advance_output_watermark(w);
        }
    }

    /// The subtask's output became backpressured (`blocked`) or has room again, at `now_ns`. A
    /// source's idleness countdown stands still while it cannot emit; other subtasks keep no
    /// such clock.
    pub fn set_output_blocked(&mut self, blocked: bool, now_ns: ProcTimeNs) {
        if let OperatorState::Source(source) = &mut self.operator {
            source.set_output_blocked(blocked, now_ns);
        }
    }

    /// Source only: the log holds nothing more for this subtask; finish once any explicit
    /// watermark schedule has played out.
    pub fn handle_source_exhausted(&mut self) {
        if let OperatorState::Source(source) = &mut self.operator {
            if source.exhaust() && !self.finished {
                self.finish();
            }
        }
    }
}

/// The first point of the grid `origin + k * interval_ns` (k ≥ 0) at or after `at`.
/// The idleness tree of [`SourceState::activity`]: only a strategy with an idle timeout asks it.
fn activity_tree(partitions: &[PartitionReader], strategy: &WatermarkStrategy) -> Option<MinTree<(bool, ProcTimeNs)>> {
    matches!(strategy, WatermarkStrategy::BoundedOutOfOrderness { idle_timeout_ms: Some(_), .. })
        .then(|| MinTree::new(partitions.iter().map(|p| (p.idle, p.idle_at_ns)).collect()))
}

/// Flink's default `pipeline.auto-watermark-interval`: the period of the idleness checks under
/// per-record emission (Flink evaluates idleness only in `onPeriodicEmit`, whatever emits the
/// watermarks).
const DEFAULT_CHECK_INTERVAL_MS: u64 = 200;

/// The period of the source's periodic checks (`onPeriodicEmit`), on the grid of
/// `SourceState::next_periodic_ns`; `None` for strategies without them.
fn periodic_check_ns(strategy: &WatermarkStrategy) -> Option<ProcTimeNs> {
    match strategy {
        WatermarkStrategy::BoundedOutOfOrderness { emission: Emission::Periodic { interval_ms }, .. } => {
            Some(ms_to_ns((*interval_ms).max(1)))
        }
        WatermarkStrategy::BoundedOutOfOrderness { emission: Emission::PerRecord, .. } => {
            Some(ms_to_ns(DEFAULT_CHECK_INTERVAL_MS))
        }
        _ => None,
    }
}

/// When a partition whose latest record is seen by the periodic check at `seen_at_ns` is
/// declared idle, as Flink's `WatermarksWithIdleness.IdlenessTimer` does it: the check after
/// `seen_at_ns` finds no activity and starts the countdown there; the first check *strictly*
/// more than the timeout after that start declares the partition idle. So with interval `I`
/// and timeout `T` that is `seen_at + I + (T / I + 1) * I` — between `T + I` and `T + 2I` after
/// the check that saw the record, not `T` after the record. `ProcTimeNs::MAX` without a timeout.
fn idle_deadline(strategy: &WatermarkStrategy, seen_at_ns: ProcTimeNs) -> ProcTimeNs {
    let Some((timeout_ns, interval_ns)) = idle_timeout_and_check_ns(strategy) else {
        return ProcTimeNs::MAX;
    };
    let checks = timeout_ns / interval_ns + 1;
    seen_at_ns.saturating_add(interval_ns).saturating_add(checks.saturating_mul(interval_ns))
}

/// The idle timeout and the interval of the checks that apply it, both in ns (None: no idle
/// timeout).
fn idle_timeout_and_check_ns(strategy: &WatermarkStrategy) -> Option<(ProcTimeNs, ProcTimeNs)> {
    match (strategy, periodic_check_ns(strategy)) {
        (WatermarkStrategy::BoundedOutOfOrderness { idle_timeout_ms: Some(timeout_ms), .. }, Some(interval_ns)) => {
            Some((ms_to_ns(*timeout_ms), interval_ns))
        }
        _ => None,
    }
}

fn next_grid_point(origin: ProcTimeNs, interval_ns: ProcTimeNs, at: ProcTimeNs) -> ProcTimeNs {
    if at <= origin {
        return origin;
    }
    let steps = (at - origin).div_ceil(interval_ns);
    origin.saturating_add(steps.saturating_mul(interval_ns))
}
