//! The oracle: what a fault run did to the output, compared with the fault-free reference run of
//! the same input. Per output row: missing, duplicated, or wrong value. Per source record (through
//! the lineage every row carries): how many times its effect reached the visible output.

use std::collections::BTreeMap;

use engine::window::Window;
use engine::{Firing, Key, SourceRef};
use serde::Serialize;

use crate::external::StoredRow;
use crate::scenario::{Guarantee, OutcomeClass};

/// The identity of an output row: same sink, key, window and kind of firing. (Unwindowed rows
/// are identified by their source record.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RowId {
    pub sink: usize,
    pub key: Key,
    pub window: Option<Window>,
    pub firing: Firing,
    pub source: Option<SourceRef>,
}

impl RowId {
    fn of(row: &StoredRow) -> RowId {
        RowId {
            sink: row.sink,
            key: row.row.key,
            window: row.row.window,
            firing: row.row.firing,
            source: if row.row.window.is_none() { row.row.lineage.first().copied() } else { None },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WrongRow {
    pub id: RowId,
    pub expected: i64,
    pub got: i64,
}

/// Everything the oracle found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub reference_rows: usize,
    pub rows: usize,
    /// Rows of the reference with no counterpart.
    pub missing_rows: Vec<(RowId, i64)>,
    /// Rows beyond the reference's count for their identity.
    pub duplicate_rows: Vec<(RowId, i64)>,
    /// Rows whose identity matches but whose value differs.
    pub wrong_rows: Vec<WrongRow>,
    /// Source records whose effect reached the output fewer times than in the reference.
    pub lost_records: Vec<SourceRef>,
    /// Source records whose effect reached the output more times than in the reference.
    pub duplicated_records: Vec<SourceRef>,
    /// Source records whose effect arrived exactly as often as in the reference.
    pub exact_records: usize,
}

impl Outcome {
    pub fn has_loss(&self) -> bool {
        !self.lost_records.is_empty()
            || !self.missing_rows.is_empty()
            || self.wrong_rows.iter().any(|w| w.got < w.expected)
    }
    pub fn has_duplicates(&self) -> bool {
        !self.duplicated_records.is_empty()
            || !self.duplicate_rows.is_empty()
            || self.wrong_rows.iter().any(|w| w.got > w.expected)
    }
    pub fn class(&self) -> OutcomeClass {
        match (self.has_loss(), self.has_duplicates(), self.wrong_rows.is_empty()) {
            (false, false, true) => OutcomeClass::Exact,
            (false, true, _) => OutcomeClass::Duplicates,
            (true, false, _) => OutcomeClass::Loss,
            // Wrong values that are neither higher nor lower cannot happen; count them as both.
            _ => OutcomeClass::LossAndDuplicates,
        }
    }
    /// Does the run keep the promise of `guarantee`?
    pub fn verdict(&self, guarantee: Guarantee) -> bool {
        match guarantee {
            Guarantee::ExactlyOnce => self.class() == OutcomeClass::Exact,
            Guarantee::AtLeastOnce => !self.has_loss(),
            Guarantee::AtMostOnce => !self.has_duplicates(),
        }
    }
}

/// Compare the visible output of a run with the reference's.
pub fn evaluate(reference: &[&StoredRow], run: &[&StoredRow]) -> Outcome {
    let group = |rows: &[&StoredRow]| {
        let mut m: BTreeMap<RowId, Vec<i64>> = BTreeMap::new();
        for r in rows {
            m.entry(RowId::of(r)).or_default().push(r.row.value);
        }
        m
    };
    let (expected, got) = (group(reference), group(run));
    let mut outcome = Outcome { reference_rows: reference.len(), rows: run.len(), ..Outcome::default() };
    let ids: std::collections::BTreeSet<RowId> = expected.keys().chain(got.keys()).copied().collect();
    for id in ids {
        let mut want: Vec<i64> = expected.get(&id).cloned().unwrap_or_default();
        let mut have: Vec<i64> = got.get(&id).cloned().unwrap_or_default();
        // Match equal values first; what remains pairs up as wrong values, then missing/extra.
        want.sort_unstable();
        have.sort_unstable();
        let (mut left_want, mut left_have) = (Vec::new(), Vec::new());
        let (mut i, mut j) = (0, 0);
        while i < want.len() && j < have.len() {
            match want[i].cmp(&have[j]) {
                std::cmp::Ordering::Equal => {
                    i += 1;
                    j += 1;
                }
                std::cmp::Ordering::Less => {
                    left_want.push(want[i]);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    left_have.push(have[j]);
                    j += 1;
                }
            }
        }
        left_want.extend_from_slice(&want[i..]);
        left_have.extend_from_slice(&have[j..]);
        let pairs = left_want.len().min(left_have.len());
        for k in 0..pairs {
            outcome.wrong_rows.push(WrongRow { id, expected: left_want[k], got: left_have[k] });
        }
        outcome.missing_rows.extend(left_want[pairs..].iter().map(|v| (id, *v)));
        outcome.duplicate_rows.extend(left_have[pairs..].iter().map(|v| (id, *v)));
    }
    let count = |rows: &[&StoredRow]| {
        let mut m: BTreeMap<SourceRef, u32> = BTreeMap::new();
        for r in rows {
            for s in &r.row.lineage {
                *m.entry(*s).or_default() += 1;
            }
        }
        m
    };
    let (ref_counts, run_counts) = (count(reference), count(run));
    let records: std::collections::BTreeSet<SourceRef> = ref_counts.keys().chain(run_counts.keys()).copied().collect();
    for s in records {
        let (want, have) = (ref_counts.get(&s).copied().unwrap_or(0), run_counts.get(&s).copied().unwrap_or(0));
        match have.cmp(&want) {
            std::cmp::Ordering::Less => outcome.lost_records.push(s),
            std::cmp::Ordering::Greater => outcome.duplicated_records.push(s),
            std::cmp::Ordering::Equal => outcome.exact_records += 1,
        }
    }
    outcome
}

/// The `p`-th percentile (0..=100) of `values` (nearest rank), or None when empty.
pub fn percentile(values: &mut [u64], p: u64) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = ((p * values.len() as u64).div_ceil(100)).max(1) as usize;
    Some(values[rank.min(values.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::external::RowState;
    use engine::sink::SinkRow;

    fn row(key: Key, value: i64, lineage: &[u64]) -> StoredRow {
        StoredRow {
            sink: 0,
            subtask: 0,
            row: SinkRow {
                key,
                value,
                timestamp_ms: 9,
                window: Some(Window::new(0, 10)),
                firing: Firing::OnTime,
                lineage: lineage.iter().map(|&o| SourceRef { partition: 0, offset: o }).collect(),
                ingest_ns: 0,
            },
            written_ns: 0,
            visible_ns: Some(0),
            state: RowState::Visible,
            txn: None,
        }
    }

    fn check(reference: &[StoredRow], run: &[StoredRow], class: OutcomeClass) -> Outcome {
        let a: Vec<&StoredRow> = reference.iter().collect();
        let b: Vec<&StoredRow> = run.iter().collect();
        let outcome = evaluate(&a, &b);
        assert_eq!(outcome.class(), class, "{outcome:?}");
        outcome
    }

    #[test]
    fn identical_output_is_exact() {
        let r = [row(1, 2, &[0, 1]), row(2, 1, &[2])];
        check(&r, &r.clone(), OutcomeClass::Exact);
    }

    #[test]
    fn a_row_emitted_twice_duplicates_its_records() {
        let o = check(&[row(1, 2, &[0, 1])], &[row(1, 2, &[0, 1]), row(1, 2, &[0, 1])], OutcomeClass::Duplicates);
        assert_eq!(o.duplicate_rows.len(), 1);
        assert_eq!(o.duplicated_records.len(), 2);
    }

    #[test]
    fn an_over_counted_window_is_a_wrong_value_with_duplicated_records() {
        let o = check(&[row(1, 2, &[0, 1])], &[row(1, 3, &[0, 1, 1])], OutcomeClass::Duplicates);
        assert_eq!(o.wrong_rows, vec![WrongRow { id: o.wrong_rows[0].id, expected: 2, got: 3 }]);
        assert_eq!(o.duplicated_records, vec![SourceRef { partition: 0, offset: 1 }]);
    }

    #[test]
    fn a_missing_row_loses_its_records() {
        let o = check(&[row(1, 2, &[0, 1]), row(2, 1, &[2])], &[row(1, 2, &[0, 1])], OutcomeClass::Loss);
        assert_eq!(o.missing_rows.len(), 1);
        assert_eq!(o.lost_records, vec![SourceRef { partition: 0, offset: 2 }]);
    }

    #[test]
    fn percentiles() {
        assert_eq!(percentile(&mut [5, 1, 3, 2, 4], 50), Some(3));
        assert_eq!(percentile(&mut [5, 1, 3, 2, 4], 100), Some(5));
        assert_eq!(percentile(&mut [], 50), None);
    }
}
