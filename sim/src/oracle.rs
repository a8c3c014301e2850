//! The oracle: what a fault run did to the output, compared with the fault-free reference run of
//! the same input. Per output row: missing, duplicated, or wrong value. Per source record (through
//! the lineage every row carries): how many times its effect reached the visible output.

use std::collections::{BTreeMap, BTreeSet};

use engine::window::Window;
use engine::{Firing, Key, SourceRef};
use serde::Serialize;

use crate::external::StoredRow;
use crate::scenario::{Guarantee, OutcomeClass};

/// The identity of an output row: same sink, key, window and kind of firing. (Unwindowed rows
/// are identified by their source record.) Two rows with the same identity are two versions of
/// one result; their values say whether they are the same result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RowId {
    pub sink: usize,
    pub key: Key,
    pub window: Option<Window>,
    pub firing: Firing,
    pub source: Option<SourceRef>,
}

impl RowId {
    pub fn of(row: &StoredRow) -> RowId {
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

/// Everything the oracle found, under these definitions (the book's "What the oracle counts"
/// states them for users). The *reference* is the fault-free run of the same input and seed; a
/// *result* is a visible row: its identity ([`RowId`]: sink, key, window, firing) and its value.
/// Rows are matched per identity, equal values first; what is left pairs up in value order.
///
/// - **Exact**: a run row with the identity and value of a reference row (as many times as the
///   reference shows it).
/// - **Duplicate row**: the same result (identity *and* value) visible more often than in the
///   reference: the same row made visible twice.
/// - **Missing row**: a reference row with no run row of its identity left to pair with. Its
///   source records are *lost*: the result they contribute to never became visible.
/// - **Wrong value**: a run row paired with a reference row of the same identity but another
///   value (a window counted short or over-counted).
/// - **Unexpected row**: a run row whose identity the reference does not show (or not that
///   often) and which is not a duplicate: a session cut short or split by a failure, a window
///   fired early. It is neither loss nor duplication by itself — the reference result it stands
///   in for, if any, is a missing row.
///
/// Per source record (the lineage every row carries): a record is **lost** when it is in a
/// missing row, or a wrong-valued row contains it fewer times than its reference row; it is
/// **duplicated** when it is in a duplicate row, or a run row contains it more times than the
/// paired reference row does (counted twice into one result; for an unexpected row, more than
/// once). A record that is neither, and is in some reference row, arrived **exactly once**.
/// The run is [`OutcomeClass::Exact`] when nothing is missing, duplicate, wrong or unexpected.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub reference_rows: usize,
    pub rows: usize,
    /// Reference rows with no counterpart of their identity.
    pub missing_rows: Vec<(RowId, i64)>,
    /// Run rows equal to a reference row (identity and value) beyond the reference's count.
    pub duplicate_rows: Vec<(RowId, i64)>,
    /// Run rows whose identity matches a reference row but whose value differs.
    pub wrong_rows: Vec<WrongRow>,
    /// Run rows with an identity the reference does not show (that often), not duplicates.
    pub unexpected_rows: Vec<(RowId, i64)>,
    /// Source records whose effect is missing from a result (see the type's definitions).
    pub lost_records: Vec<SourceRef>,
    /// Source records whose effect reached a result more often than in the reference.
    pub duplicated_records: Vec<SourceRef>,
    /// Source records of the reference that are neither lost nor duplicated.
    pub exact_records: usize,
}

impl Outcome {
    /// The counts in one line: "source records lost 3, duplicated 0; rows missing 1, duplicate
    /// 0, wrong 2, unexpected 0".
    pub fn counts_text(&self) -> String {
        format!(
            "source records lost {}, duplicated {}; rows missing {}, duplicate {}, wrong {}, unexpected {}",
            self.lost_records.len(),
            self.duplicated_records.len(),
            self.missing_rows.len(),
            self.duplicate_rows.len(),
            self.wrong_rows.len(),
            self.unexpected_rows.len(),
        )
    }
    pub fn has_loss(&self) -> bool {
        !self.lost_records.is_empty() || !self.missing_rows.is_empty()
    }
    pub fn has_duplicates(&self) -> bool {
        !self.duplicated_records.is_empty() || !self.duplicate_rows.is_empty()
    }
    /// Rows that differ from the reference without loss or duplication.
    pub fn has_wrong_rows(&self) -> bool {
        !self.wrong_rows.is_empty() || !self.unexpected_rows.is_empty()
    }
    pub fn class(&self) -> OutcomeClass {
        match (self.has_loss(), self.has_duplicates()) {
            (false, false) if self.has_wrong_rows() => OutcomeClass::WrongValues,
            (false, false) => OutcomeClass::Exact,
            (false, true) => OutcomeClass::Duplicates,
            (true, false) => OutcomeClass::Loss,
            (true, true) => OutcomeClass::LossAndDuplicates,
        }
    }
    /// Does the run keep the promise of `guarantee`? Exactly-once: the output is the
    /// reference's. At-least-once: nothing lost. At-most-once: nothing duplicated.
    pub fn verdict(&self, guarantee: Guarantee) -> bool {
        match guarantee {
            Guarantee::ExactlyOnce => self.class() == OutcomeClass::Exact,
            Guarantee::AtLeastOnce => !self.has_loss(),
            Guarantee::AtMostOnce => !self.has_duplicates(),
        }
    }
}

type Lineage = BTreeMap<SourceRef, u32>;

fn lineage(row: &StoredRow) -> Lineage {
    let mut m = Lineage::new();
    for s in &row.row.lineage {
        *m.entry(*s).or_default() += 1;
    }
    m
}

/// What the oracle says about one row: a run row, or a reference row no run row stands in for.
/// The same definitions as [`Outcome`]; [`evaluate_rows`] gives one mark per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RowMark {
    /// A run row with the identity and value of a reference row.
    Exact,
    /// A run row equal to a reference row beyond the reference's count: the same result again.
    /// `first` is the run row it repeats (index into the run's rows).
    Duplicate { first: usize },
    /// A run row paired with a reference row of its identity but another value.
    Wrong { expected: i64 },
    /// A run row whose identity the reference does not show (that often), not a duplicate.
    Unexpected,
}

/// Every run row's mark (by index into `run`), and the reference rows that are missing (by index
/// into `reference`), with the [`Outcome`] they add up to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MarkedRows {
    pub outcome: Outcome,
    pub marks: Vec<RowMark>,
    pub missing: Vec<usize>,
}

/// Compare the visible output of a run with the reference's (definitions: [`Outcome`]).
pub fn evaluate(reference: &[&StoredRow], run: &[&StoredRow]) -> Outcome {
    evaluate_rows(reference, run).outcome
}

/// [`evaluate`], and which rows are which: one [`RowMark`] per run row, the missing reference rows.
pub fn evaluate_rows(reference: &[&StoredRow], run: &[&StoredRow]) -> MarkedRows {
    if std::ptr::eq(reference, run) {
        // A run held against itself (a fault-free run is its own reference): every row pairs with
        // itself, so nothing is lost, duplicated, wrong or missing. Said directly, the answer
        // needs no grouping of the rows (which would hold every row twice: issue 15's memory).
        let mut records: Vec<SourceRef> = reference.iter().flat_map(|r| r.row.lineage.iter().copied()).collect();
        records.sort_unstable();
        records.dedup();
        let outcome = Outcome {
            reference_rows: reference.len(),
            rows: run.len(),
            exact_records: records.len(),
            ..Outcome::default()
        };
        return MarkedRows { outcome, marks: vec![RowMark::Exact; run.len()], missing: Vec::new() };
    }
    // Per identity, its versions: (value, lineage, index of the row). Sorted, so equal rows pair
    // in the order they were made visible (a repeat is the later row).
    let group = |rows: &[&StoredRow]| {
        let mut m: BTreeMap<RowId, Vec<(i64, Lineage, usize)>> = BTreeMap::new();
        for (i, r) in rows.iter().enumerate() {
            // Most identities have one version: no room for more up front.
            m.entry(RowId::of(r)).or_insert_with(|| Vec::with_capacity(1)).push((r.row.value, lineage(r), i));
        }
        for versions in m.values_mut() {
            versions.sort();
        }
        m
    };
    let (expected, got) = (group(reference), group(run));
    let mut outcome = Outcome { reference_rows: reference.len(), rows: run.len(), ..Outcome::default() };
    let mut marks = vec![RowMark::Unexpected; run.len()];
    let mut missing = Vec::new();
    let mut lost: BTreeSet<SourceRef> = BTreeSet::new();
    let mut duplicated: BTreeSet<SourceRef> = BTreeSet::new();
    // Records a paired run row holds fewer times (lost) or more times (duplicated).
    fn compare(want: &Lineage, have: &Lineage, lost: &mut BTreeSet<SourceRef>, duplicated: &mut BTreeSet<SourceRef>) {
        for (s, n) in want {
            if have.get(s).copied().unwrap_or(0) < *n {
                lost.insert(*s);
            }
        }
        for (s, n) in have {
            if want.get(s).copied().unwrap_or(0) < *n {
                duplicated.insert(*s);
            }
        }
    }
    type Version = (i64, Lineage, usize);
    let ids: BTreeSet<RowId> = expected.keys().chain(got.keys()).copied().collect();
    let empty = Vec::new();
    for id in ids {
        let want = expected.get(&id).unwrap_or(&empty);
        let have = got.get(&id).unwrap_or(&empty);
        // Equal values pair first (exact); their lineages may still differ.
        let mut want_used = vec![false; want.len()];
        let mut have_used = vec![false; have.len()];
        for (i, (value, w, _)) in want.iter().enumerate() {
            if let Some(j) = (0..have.len()).find(|&j| !have_used[j] && have[j].0 == *value) {
                want_used[i] = true;
                have_used[j] = true;
                marks[have[j].2] = RowMark::Exact;
                compare(w, &have[j].1, &mut lost, &mut duplicated);
            }
        }
        let left_want: Vec<&Version> = want.iter().zip(&want_used).filter(|(_, u)| !**u).map(|(r, _)| r).collect();
        let left_have: Vec<&Version> = have.iter().zip(&have_used).filter(|(_, u)| !**u).map(|(r, _)| r).collect();
        // Run rows left over that equal a reference value of this identity: the same result again.
        let (dups, left_have): (Vec<&Version>, Vec<&Version>) =
            left_have.into_iter().partition(|(v, _, _)| want.iter().any(|(w, _, _)| w == v));
        for (v, l, index) in dups {
            outcome.duplicate_rows.push((id, *v));
            duplicated.extend(l.keys().copied());
            // The row it repeats: the first row of this identity and value (made visible first).
            let first = have.iter().filter(|(hv, _, _)| hv == v).map(|(_, _, i)| *i).min().unwrap_or(*index);
            marks[*index] = RowMark::Duplicate { first };
        }
        let pairs = left_want.len().min(left_have.len());
        for k in 0..pairs {
            outcome.wrong_rows.push(WrongRow { id, expected: left_want[k].0, got: left_have[k].0 });
            marks[left_have[k].2] = RowMark::Wrong { expected: left_want[k].0 };
            compare(&left_want[k].1, &left_have[k].1, &mut lost, &mut duplicated);
        }
        for (v, l, index) in &left_want[pairs..] {
            outcome.missing_rows.push((id, *v));
            missing.push(*index);
            lost.extend(l.keys().copied());
        }
        for (v, l, _) in &left_have[pairs..] {
            outcome.unexpected_rows.push((id, *v));
            duplicated.extend(l.iter().filter(|(_, n)| **n > 1).map(|(s, _)| *s));
        }
    }
    let in_reference: BTreeSet<SourceRef> = reference.iter().flat_map(|r| r.row.lineage.iter().copied()).collect();
    outcome.exact_records = in_reference.iter().filter(|s| !lost.contains(s) && !duplicated.contains(s)).count();
    outcome.lost_records = lost.into_iter().collect();
    outcome.duplicated_records = duplicated.into_iter().collect();
    missing.sort_unstable();
    MarkedRows { outcome, marks, missing }
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
        row_in(Window::new(0, 10), Firing::OnTime, key, value, lineage)
    }

    fn row_in(window: Window, firing: Firing, key: Key, value: i64, lineage: &[u64]) -> StoredRow {
        StoredRow {
            sink: 0,
            subtask: 0,
            row: SinkRow {
                key,
                value,
                timestamp_ms: window.end_ms - 1,
                window: Some(window),
                firing,
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
    fn a_run_held_against_itself_gives_what_a_copy_of_it_gives() {
        // Two versions of one identity (values 3 and 2), a shared record, and a row shown twice:
        // the shortcut for one slice must say what the full comparison with a copy says.
        let r = [row(1, 3, &[0, 1]), row(1, 2, &[1, 2]), row(2, 1, &[3]), row(2, 1, &[3])];
        let refs: Vec<&StoredRow> = r.iter().collect();
        let copy: Vec<&StoredRow> = r.iter().collect();
        let own = evaluate_rows(&refs, &refs);
        assert_eq!(own, evaluate_rows(&refs, &copy));
        assert_eq!(own.outcome.exact_records, 4);
        assert_eq!(own.outcome.class(), OutcomeClass::Exact);
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

    fn w(start: i64, end: i64) -> Window {
        Window::new(start, end)
    }

    fn offsets(o: &[u64]) -> Vec<SourceRef> {
        o.iter().map(|&offset| SourceRef { partition: 0, offset }).collect()
    }

    // Each definition on cases that are and are not that thing, for tumbling, sliding and
    // session windows. Records: offsets; a count's lineage lists the records it counted.

    #[test]
    fn duplicate_means_the_same_result_visible_again_in_every_window_kind() {
        let on = Firing::OnTime;
        // Tumbling [0,10) = 2: shown twice.
        let t = [row_in(w(0, 10), on, 1, 2, &[0, 1])];
        let o = check(&t, &[t[0].clone(), t[0].clone()], OutcomeClass::Duplicates);
        assert_eq!(o.duplicate_rows, vec![(RowId::of(&t[0]), 2)]);
        // Sliding: a record is in two windows; each window shown once is exact, not a duplicate.
        let s = [row_in(w(0, 10), on, 1, 1, &[0]), row_in(w(5, 15), on, 1, 1, &[0])];
        let o = check(&s, &s.clone(), OutcomeClass::Exact);
        assert_eq!((o.exact_records, o.duplicated_records.len()), (1, 0));
        // Sliding: one of the two windows shown twice is a duplicate.
        let o = check(&s, &[s[0].clone(), s[1].clone(), s[1].clone()], OutcomeClass::Duplicates);
        assert_eq!(o.duplicate_rows.len(), 1);
        // Session [0,15) = 2 shown twice.
        let session = [row_in(w(0, 15), on, 1, 2, &[0, 5])];
        check(&session, &[session[0].clone(), session[0].clone()], OutcomeClass::Duplicates);
    }

    #[test]
    fn a_session_cut_short_or_split_is_loss_not_duplicates() {
        let on = Firing::OnTime;
        // Reference: one session [0,15) counting records 0 and 5; [50,60) counting 50.
        let reference = [row_in(w(0, 15), on, 1, 2, &[0, 5]), row_in(w(50, 60), on, 1, 1, &[50])];
        // Cut short (at-most-once lost the state holding record 0): [5,15) = 1.
        let cut = [row_in(w(5, 15), on, 1, 1, &[5]), reference[1].clone()];
        let o = check(&reference, &cut, OutcomeClass::Loss);
        assert_eq!(o.missing_rows, vec![(RowId::of(&reference[0]), 2)]);
        assert_eq!(o.unexpected_rows, vec![(RowId::of(&cut[0]), 1)]);
        assert!(o.duplicate_rows.is_empty() && o.duplicated_records.is_empty(), "{o:?}");
        assert!(o.verdict(Guarantee::AtMostOnce));
        // Split in two by a failure: [0,10) = 1 and [5,15) = 1.
        let split = [row_in(w(0, 10), on, 1, 1, &[0]), row_in(w(5, 15), on, 1, 1, &[5]), reference[1].clone()];
        let o = check(&reference, &split, OutcomeClass::Loss);
        assert_eq!(o.lost_records, offsets(&[0, 5]));
        assert_eq!(o.unexpected_rows.len(), 2);
        assert!(o.verdict(Guarantee::AtMostOnce) && !o.verdict(Guarantee::AtLeastOnce));
    }

    #[test]
    fn an_extra_early_firing_alone_is_a_wrong_value_not_loss_or_duplicates() {
        let on = Firing::OnTime;
        let reference = [row_in(w(0, 15), on, 1, 2, &[0, 5])];
        // The session fired early as [0,10) = 1 and then, complete, as in the reference.
        let run = [row_in(w(0, 10), on, 1, 1, &[0]), reference[0].clone()];
        let o = check(&reference, &run, OutcomeClass::WrongValues);
        assert!(o.verdict(Guarantee::AtLeastOnce) && o.verdict(Guarantee::AtMostOnce));
        assert!(!o.verdict(Guarantee::ExactlyOnce));
        assert_eq!(o.exact_records, 2);
    }

    #[test]
    fn wrong_values_are_loss_or_duplicates_by_lineage() {
        // Tumbling, counted short: record 1 is lost; no row is missing.
        let o = check(&[row(1, 2, &[0, 1])], &[row(1, 1, &[0])], OutcomeClass::Loss);
        assert_eq!((o.wrong_rows.len(), o.missing_rows.len()), (1, 0));
        assert_eq!(o.lost_records, offsets(&[1]));
        // Sliding window counted short in one of its windows only.
        let on = Firing::OnTime;
        let s = [row_in(w(0, 10), on, 1, 2, &[0, 3]), row_in(w(5, 15), on, 1, 1, &[3])];
        let o = check(&s, &[row_in(w(0, 10), on, 1, 1, &[0]), s[1].clone()], OutcomeClass::Loss);
        assert_eq!(o.lost_records, offsets(&[3]));
        // A late firing with another value than the reference's: its records say which.
        let late = Firing::Late;
        let r = [row_in(w(0, 10), late, 1, 3, &[0, 1, 2])];
        check(&r, &[row_in(w(0, 10), late, 1, 4, &[0, 1, 2, 2])], OutcomeClass::Duplicates);
        // Neither: same records, same value: exact even if the rows arrive in another order.
        let two = [row(1, 2, &[0, 1]), row(2, 1, &[2])];
        check(&two, &[two[1].clone(), two[0].clone()], OutcomeClass::Exact);
    }

    #[test]
    fn every_row_gets_one_mark_that_adds_up_to_the_outcome() {
        let on = Firing::OnTime;
        let reference = [row(1, 2, &[0, 1]), row(2, 1, &[2]), row(3, 1, &[3]), row_in(w(0, 15), on, 4, 2, &[4, 5])];
        // Row 1 twice (the second is the repeat), key 2 over-counted, key 3 missing, a session cut.
        let run = [row(1, 2, &[0, 1]), row(2, 2, &[2, 2]), row(1, 2, &[0, 1]), row_in(w(5, 15), on, 4, 1, &[5])];
        let a: Vec<&StoredRow> = reference.iter().collect();
        let b: Vec<&StoredRow> = run.iter().collect();
        let marked = evaluate_rows(&a, &b);
        assert_eq!(
            marked.marks,
            vec![RowMark::Exact, RowMark::Wrong { expected: 1 }, RowMark::Duplicate { first: 0 }, RowMark::Unexpected]
        );
        assert_eq!(marked.missing, vec![2, 3]);
        assert_eq!(marked.outcome, evaluate(&a, &b));
        let o = &marked.outcome;
        let count = |f: fn(&RowMark) -> bool| marked.marks.iter().filter(|m| f(m)).count();
        assert_eq!(count(|m| matches!(m, RowMark::Duplicate { .. })), o.duplicate_rows.len());
        assert_eq!(count(|m| matches!(m, RowMark::Wrong { .. })), o.wrong_rows.len());
        assert_eq!(count(|m| matches!(m, RowMark::Unexpected)), o.unexpected_rows.len());
        assert_eq!(marked.missing.len(), o.missing_rows.len());
    }

    #[test]
    fn percentiles() {
        assert_eq!(percentile(&mut [5, 1, 3, 2, 4], 50), Some(3));
        assert_eq!(percentile(&mut [5, 1, 3, 2, 4], 100), Some(5));
        assert_eq!(percentile(&mut [], 50), None);
    }
}
