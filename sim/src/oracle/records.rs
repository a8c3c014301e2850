//! The oracle's records: per source record, how often the rows a reader holds count it, in
//! the run and in the reference (definitions: [`super::Outcome`]).

use std::collections::BTreeMap;

use engine::{Firing, Key, SourceRef};

use super::{Observed, Versions};
use crate::external::StoredRow;

/// What the oracle finds per source record (definitions: [`super::Outcome`]), each list in record order.
pub(super) struct RecordVerdicts {
    pub lost: Vec<SourceRef>,
    pub duplicated: Vec<SourceRef>,
    pub exact: usize,
}

impl RecordVerdicts {
    /// `versions`: the reference's rows and the run's, grouped; `shown_again`: records of
    /// duplicate rows.
    pub(super) fn of(
        reference: &Observed,
        run: &Observed,
        versions: [&Versions; 2],
        shown_again: &[SourceRef],
    ) -> Self {
        let named = || reference.rows.iter().chain(&run.rows).flat_map(|r| r.row.lineage.iter().copied());
        let index = RecordIndex::of(named);
        // Counts in the rows a reader holds at the end, against the reference's.
        let (want, have) = (index.held_counts(&reference.rows), index.held_counts(&run.rows));
        // Counted twice into one result: more often in one row than in any reference row.
        let (allowed, most) = (index.most_in_a_row(versions[0]), index.most_in_a_row(versions[1]));
        let mut duplicated = vec![false; index.len()];
        for s in shown_again {
            duplicated[index.of_record(*s)] = true;
        }
        let mut lost = vec![false; index.len()];
        for i in 0..index.len() {
            lost[i] = have[i] < want[i] && !run.late.contains(&index.record(i));
            duplicated[i] |=
                (want[i] < have[i] && !reference.late.contains(&index.record(i))) || most[i] > allowed[i].max(1);
        }
        let mut in_reference = vec![false; index.len()];
        for s in reference.rows.iter().flat_map(|r| r.row.lineage.iter()) {
            in_reference[index.of_record(*s)] = true;
        }
        let flagged = |flags: &[bool]| (0..index.len()).filter(|&i| flags[i]).map(|i| index.record(i)).collect();
        RecordVerdicts {
            exact: (0..index.len()).filter(|&i| in_reference[i] && !lost[i] && !duplicated[i]).count(),
            lost: flagged(&lost),
            duplicated: flagged(&duplicated),
        }
    }
}

/// The source records some rows name, numbered in record order, so that per-record tables are
/// vectors. A partition's offsets are positions in its log: numbered densely, partition after
/// partition, unless the offsets named are few and far between (no such log here, but nothing
/// forbids one), then by rank among the records named.
pub(super) enum RecordIndex {
    /// `starts[p]`: the number of partition `p`'s offset 0 (one past the last: the length).
    Dense {
        starts: Vec<usize>,
    },
    Sorted(Vec<SourceRef>),
}

impl RecordIndex {
    pub(super) fn of<I: Iterator<Item = SourceRef>>(named: impl Fn() -> I) -> Self {
        let mut ends: Vec<u64> = Vec::new();
        let mut count = 0u64;
        for s in named() {
            let p = s.partition as usize;
            if ends.len() <= p {
                ends.resize(p + 1, 0);
            }
            ends[p] = ends[p].max(s.offset.saturating_add(1));
            count += 1;
        }
        let span = ends.iter().fold(0u64, |sum, e| sum.saturating_add(*e));
        if span > count.saturating_mul(64).saturating_add(4096) {
            let mut sorted: Vec<SourceRef> = named().collect();
            sorted.sort_unstable();
            sorted.dedup();
            return RecordIndex::Sorted(sorted);
        }
        let mut starts = Vec::with_capacity(ends.len() + 1);
        starts.push(0);
        for e in ends {
            starts.push(starts.last().copied().unwrap_or(0) + e as usize);
        }
        RecordIndex::Dense { starts }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            RecordIndex::Dense { starts } => starts.last().copied().unwrap_or(0),
            RecordIndex::Sorted(records) => records.len(),
        }
    }

    /// The number of `s` (one of the records named).
    pub(super) fn of_record(&self, s: SourceRef) -> usize {
        match self {
            RecordIndex::Dense { starts } => starts[s.partition as usize] + s.offset as usize,
            RecordIndex::Sorted(records) => records.binary_search(&s).expect("a record named"),
        }
    }

    /// The record numbered `i`.
    pub(super) fn record(&self, i: usize) -> SourceRef {
        match self {
            RecordIndex::Dense { starts } => {
                let p = starts.partition_point(|&start| start <= i) - 1;
                SourceRef { partition: p as u32, offset: (i - starts[p]) as u64 }
            }
            RecordIndex::Sorted(records) => records[i],
        }
    }

    /// Per record, how many times it is in the rows a reader holds at the end: every visible
    /// row that a later late firing does not supersede (see [`super::Outcome`]).
    fn held_counts(&self, rows: &[&StoredRow]) -> Vec<u32> {
        let superseded = superseded(rows);
        let mut counts = vec![0u32; self.len()];
        for (row, _) in rows.iter().zip(&superseded).filter(|(_, s)| !**s) {
            for s in &row.row.lineage {
                counts[self.of_record(*s)] += 1;
            }
        }
        counts
    }

    /// Per record, the most times one row counts it.
    fn most_in_a_row(&self, versions: &Versions) -> Vec<u32> {
        let mut most = vec![0u32; self.len()];
        for (_, lineage, _) in versions.values().flatten() {
            for (s, n) in lineage {
                let m = &mut most[self.of_record(*s)];
                *m = (*m).max(*n);
            }
        }
        most
    }
}

/// Which rows (in the order they became visible) a later late firing of the same sink and key
/// updates: its window covers theirs. Walks each (sink, key) backwards, keeping the windows of
/// the late firings seen so far by start.
fn superseded(rows: &[&StoredRow]) -> Vec<bool> {
    let mut groups: BTreeMap<(usize, Key), Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r.row.window.is_some() {
            groups.entry((r.sink, r.row.key)).or_default().push(i);
        }
    }
    let mut superseded = vec![false; rows.len()];
    for indices in groups.values() {
        // Later late firings: start -> the largest end among them; and the longest one.
        let mut later: BTreeMap<i64, i64> = BTreeMap::new();
        let mut longest = 0i64;
        for &i in indices.iter().rev() {
            let Some(w) = rows[i].row.window else { continue };
            // A covering window starts at or before `w` and no further back than the longest.
            superseded[i] =
                later.range(w.start_ms.saturating_sub(longest)..=w.start_ms).any(|(_, end)| *end >= w.end_ms);
            if rows[i].row.firing == Firing::Late {
                let end = later.entry(w.start_ms).or_insert(w.end_ms);
                *end = (*end).max(w.end_ms);
                longest = longest.max(w.end_ms.saturating_sub(w.start_ms));
            }
        }
    }
    superseded
}
