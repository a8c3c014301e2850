//! What one micro-batch computes, as pure functions: a map task (read an offset range, the
//! maps and filters, the key, the shuffle partition) and a reduce task (the window aggregation
//! against a versioned state store, Spark's watermark rules in append mode). No time, no IO:
//! the core calls them when a task finishes on its executor.

use std::collections::BTreeMap;

use engine::message::{Firing, Record};
use engine::partition::{spark_hash_partition, KeyHashCodes};
use engine::sink::SinkRow;
use engine::transform::{FilterFn, KeySelector, MapFn};
use engine::window::{Accumulator, Aggregate, Window, WindowKind};
use engine::{Key, SourceRef};

use crate::external::SourceLog;

/// The watermark before any batch has seen a row: Spark's `batchWatermarkMs` starts at 0.
pub const WATERMARK_START_MS: i64 = 0;

/// One row-wise step before the aggregation.
#[derive(Clone, Debug)]
pub enum RowStep {
    Map(MapFn),
    Filter(FilterFn),
}

/// The window aggregation: `groupBy(window(ts, size, slide), key).agg(...)`.
#[derive(Clone, Debug)]
pub struct WindowRule {
    pub kind: WindowKind,
    pub aggregate: Aggregate,
    pub track_lineage: bool,
}

/// One (key, window) group in a state store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub acc: Accumulator,
    pub lineage: Vec<SourceRef>,
    /// When the newest record of the group was appended to the log (for latency).
    pub newest_ingest_ns: u64,
}

/// One shuffle partition's state store at one version: its open groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionState {
    pub groups: BTreeMap<(Window, Key), Group>,
}

/// What a map task produced: its records per shuffle partition, and the largest event time it
/// read (the watermark's input: `withWatermark` sits on the source, so late rows count too).
#[derive(Clone, Debug, Default)]
pub struct MapOutput {
    pub per_partition: Vec<Vec<Record>>,
    pub max_event_ms: Option<i64>,
    pub read: u64,
}

/// Read `from..to` of `partition`, run the row steps, key each record and pick its shuffle
/// partition by Spark's `HashPartitioner` (one of `shuffle_partitions`; 1 for a query without
/// aggregation).
pub fn map_task(
    log: &SourceLog,
    partition: u32,
    (from, to): (u64, u64),
    steps: &[RowStep],
    key_by: KeySelector,
    key_hash_codes: &KeyHashCodes,
    shuffle_partitions: u32,
) -> MapOutput {
    let mut out = MapOutput { per_partition: vec![Vec::new(); shuffle_partitions as usize], ..MapOutput::default() };
    for offset in from..to {
        let source = SourceRef { partition, offset };
        let Some(entry) = log.entry(source) else { break };
        out.read += 1;
        out.max_event_ms = Some(out.max_event_ms.map_or(entry.timestamp_ms, |m: i64| m.max(entry.timestamp_ms)));
        let mut record = Record {
            key: entry.key,
            value: entry.value,
            timestamp_ms: entry.timestamp_ms,
            source,
            ingest_ns: entry.append_ns,
            pane: None,
        };
        if !steps.iter().all(|step| apply(step, &mut record)) {
            continue;
        }
        record.key = key_by.select(&record);
        let target = spark_hash_partition(key_hash_codes.get(record.key), shuffle_partitions).index();
        out.per_partition[target].push(record);
    }
    out
}

/// A row step on `record`; false when a filter drops it.
fn apply(step: &RowStep, record: &mut Record) -> bool {
    match step {
        RowStep::Map(f) => {
            f.apply(record);
            true
        }
        RowStep::Filter(f) => f.keeps(record),
    }
}

/// The next batch's watermark: `max(current, max event time of the batch - delay)` (Spark 4.3,
/// one stream); unchanged by a batch without rows.
pub fn next_watermark(current_ms: i64, max_event_ms: Option<i64>, delay_ms: i64) -> i64 {
    max_event_ms.map_or(current_ms, |m| current_ms.max(m.saturating_sub(delay_ms)))
}

/// What a reduce task did to its shuffle partition in one batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReduceOutput {
    /// Append mode: each group whose window ended by the batch's watermark, once.
    pub rows: Vec<SinkRow>,
    /// Groups dropped as late (Spark's `numRowsDroppedByWatermark` counts these, not records).
    pub dropped_groups: u64,
    /// Records that fell into a dropped group.
    pub late: Vec<SourceRef>,
}

/// One batch in one shuffle partition, in Spark's append mode. `late_watermark_ms` is WM(N-1),
/// the watermark the previous batch used; `watermark_ms` is WM(N). A (key, window) group of
/// this batch is dropped when `window.end <= WM(N-1)` — not when `ts < WM` — so a late row in
/// the batch that closes its window still counts; then every group with `window.end <= WM(N)`
/// is emitted once and evicted from `state`.
pub fn reduce_task(
    rule: &WindowRule,
    state: &mut PartitionState,
    records: &[Record],
    late_watermark_ms: i64,
    watermark_ms: i64,
) -> ReduceOutput {
    let mut out = ReduceOutput::default();
    let mut dropped: std::collections::BTreeSet<(Window, Key)> = std::collections::BTreeSet::new();
    let mut windows = Vec::new();
    for record in records {
        rule.kind.assign(record.timestamp_ms, &mut windows);
        let mut late = false;
        for &window in &windows {
            if window.end_ms <= late_watermark_ms {
                dropped.insert((window, record.key));
                late = true;
                continue;
            }
            let group = state.groups.entry((window, record.key)).or_insert_with(|| Group {
                acc: Accumulator::default(),
                lineage: Vec::new(),
                newest_ingest_ns: 0,
            });
            group.acc.add(record.value);
            if rule.track_lineage {
                group.lineage.push(record.source);
            }
            group.newest_ingest_ns = group.newest_ingest_ns.max(record.ingest_ns);
        }
        if late {
            out.late.push(record.source);
        }
    }
    out.dropped_groups = dropped.len() as u64;
    let closed: Vec<(Window, Key)> = state.groups.keys().filter(|(w, _)| w.end_ms <= watermark_ms).copied().collect();
    for id in closed {
        let Some(group) = state.groups.remove(&id) else { continue };
        let (window, key) = id;
        out.rows.push(SinkRow {
            key,
            value: group.acc.result(rule.aggregate),
            timestamp_ms: window.max_timestamp(),
            window: Some(window),
            firing: Firing::OnTime,
            lineage: group.lineage,
            ingest_ns: group.newest_ingest_ns,
        });
    }
    out
}

/// A query without aggregation writes each record as it is (append mode, no state).
pub fn stateless_rows(records: impl IntoIterator<Item = Record>) -> Vec<SinkRow> {
    records.into_iter().map(SinkRow::from_record).collect()
}

/// How many of `available` records per partition a batch reads under `max_records`
/// (`maxOffsetsPerTrigger`): all of them when they fit, else a share in proportion to each
/// partition's backlog (rounded down), the remainder one each to the partitions in order.
pub fn limit_per_partition(available: &[u64], max_records: Option<u64>) -> Vec<u64> {
    let total: u128 = available.iter().map(|&a| u128::from(a)).sum();
    let Some(cap) = max_records.map(u128::from).filter(|&c| c < total) else { return available.to_vec() };
    let mut take: Vec<u64> = available.iter().map(|&a| (u128::from(a) * cap / total) as u64).collect();
    let mut left = cap - take.iter().map(|&t| u128::from(t)).sum::<u128>();
    for (t, &a) in take.iter_mut().zip(available) {
        if left == 0 {
            break;
        }
        if *t < a {
            *t += 1;
            left -= 1;
        }
    }
    take
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: Key, ts: i64, offset: u64) -> Record {
        Record { key, value: 1, timestamp_ms: ts, source: SourceRef { partition: 0, offset }, ingest_ns: 0, pane: None }
    }

    fn tumbling(size_ms: i64) -> WindowRule {
        WindowRule {
            kind: WindowKind::Tumbling { size_ms, offset_ms: 0 },
            aggregate: Aggregate::Count,
            track_lineage: true,
        }
    }

    /// A late row in the batch that closes its window still counts (the drop compares the
    /// window's end with the previous batch's watermark); in the next batch it is dropped.
    #[test]
    fn a_late_row_counts_in_the_batch_that_closes_its_window_and_is_dropped_after() {
        let rule = tumbling(10);
        let mut state = PartitionState::default();
        let first = reduce_task(&rule, &mut state, &[record(1, 3, 0)], 0, 0);
        assert!(first.rows.is_empty());
        // Batch 1 uses WM 12 (its window [0,10) closes) and WM(0) = 0 for drops: ts 2 counts.
        let second = reduce_task(&rule, &mut state, &[record(1, 2, 1), record(1, 15, 2)], 0, 12);
        assert_eq!(second.rows.len(), 1);
        assert_eq!(second.rows[0].value, 2);
        assert_eq!(second.dropped_groups, 0);
        // Batch 2: WM(1) = 12 >= 10: a row for [0,10) is dropped, its group counted once.
        let third = reduce_task(&rule, &mut state, &[record(1, 4, 3), record(1, 5, 4)], 12, 12);
        assert!(third.rows.is_empty());
        assert_eq!(third.dropped_groups, 1);
        assert_eq!(third.late.len(), 2);
    }

    #[test]
    fn the_records_per_trigger_are_split_in_proportion() {
        assert_eq!(limit_per_partition(&[10, 30], None), vec![10, 30]);
        assert_eq!(limit_per_partition(&[10, 30], Some(100)), vec![10, 30]);
        assert_eq!(limit_per_partition(&[10, 30], Some(8)), vec![2, 6]);
        assert_eq!(limit_per_partition(&[1, 1, 1], Some(2)), vec![1, 1, 0]);
        assert_eq!(limit_per_partition(&[3, 0, 5], Some(3)).iter().sum::<u64>(), 3);
    }

    #[test]
    fn the_watermark_never_goes_back() {
        assert_eq!(next_watermark(100, Some(50), 10), 100);
        assert_eq!(next_watermark(100, Some(150), 10), 140);
        assert_eq!(next_watermark(100, None, 10), 100);
    }
}
