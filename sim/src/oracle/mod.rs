//! The oracle: what a fault run did to the output, compared with the fault-free reference run of
//! the same input. Per output row: missing, duplicated, or wrong value. Per source record (through
//! the lineage every row carries): how many times its effect reached the visible output.

use std::collections::{BTreeMap, BTreeSet};

use engine::window::Window;
use engine::{Firing, Key, SourceRef};
use serde::Serialize;

use crate::external::StoredRow;
use crate::scenario::{Guarantee, OutcomeClass};

/// Per source record: lost, duplicated, exactly once.
mod records;
/// The shortcut for two sides that show the same rows.
mod same_rows;

use records::RecordVerdicts;
use same_rows::{distinct_records, same_rows};

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
///
/// **Rows.** Rows are matched per identity, equal values first; what is left pairs up in value
/// order. A run row is *exact* (identity and value of a reference row), a *duplicate row* (the
/// same result — value and the records it counts — visible more often than in the reference),
/// *wrong* (paired with a reference row
/// of its identity, another value) or *unexpected* (an identity the reference does not show that
/// often); a reference row nothing pairs with is *missing*.
///
/// **Records.** A row stands for the source records in its lineage. A reader holds a result's
/// latest version: a row is *superseded* by a later visible row of the same sink and key that is
/// a late firing (Flink's late firings and merged-session firings update earlier results) whose
/// window covers its window. A record's *count* is how many times it is in the rows that are not
/// superseded. Then, with the reference's count as what should be:
///
/// - **duplicated**: it is in a duplicate row, or counted into one row more often than into any
///   reference row (counted twice into one result), or its count is higher than the
///   reference's and the reference did not drop it as late from some window (lateness can give
///   the run a window the reference dropped it from);
/// - **lost**: its count is lower than the reference's and the run did not drop it as late (a
///   restore restarts event time, so a record the reference counted may be late in the run);
/// - **exactly once**: in some reference row and neither.
///
/// So a session split by a failure whose pieces together count every record once, or a window
/// whose late records landed in the on-time firing instead of a late one, is neither loss nor
/// duplication: it is [`OutcomeClass::Regrouped`]. The run is [`OutcomeClass::Exact`] when no
/// row differs. Without lineage (`track_lineage: false`) records cannot be followed: a missing
/// row is loss, a duplicate row duplication, anything else [`OutcomeClass::WrongValues`].
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
    /// Whether rows carried their lineage, so that records could be followed.
    pub lineage_tracked: bool,
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
    /// Why a verdict about records shows no row of its kind, when that is so: records counted
    /// twice with no duplicate or unexpected row, or records lost with no missing row, were
    /// aggregated (twice, or not at all) into results that exist in both runs. A reader who
    /// looks for doubled or missing rows finds none; the counts sit inside the rows (those of
    /// them whose value differs are the wrong rows). Only with lineage: without it, records are
    /// not followed.
    pub fn records_inside_rows(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if !self.lineage_tracked {
            return notes;
        }
        let wrong = self.wrong_rows.len();
        let (duplicated, lost) = (self.duplicated_records.len(), self.lost_records.len());
        if duplicated > 0 && self.duplicate_rows.is_empty() && self.unexpected_rows.is_empty() {
            notes.push(format!(
                "No row is doubled: the {duplicated} records counted twice were aggregated twice into results that \
                 the run without faults has too ({wrong} of the run's rows differ in value)."
            ));
        }
        if lost > 0 && self.missing_rows.is_empty() {
            notes.push(format!(
                "No row is missing: the {lost} lost records belong to results that exist, counted without them \
                 ({wrong} of the run's rows differ in value)."
            ));
        }
        notes
    }
    pub fn has_loss(&self) -> bool {
        !self.lost_records.is_empty() || (!self.lineage_tracked && !self.missing_rows.is_empty())
    }
    pub fn has_duplicates(&self) -> bool {
        !self.duplicated_records.is_empty() || !self.duplicate_rows.is_empty()
    }
    /// Any row that differs from the reference's.
    pub fn rows_differ(&self) -> bool {
        !self.missing_rows.is_empty()
            || !self.duplicate_rows.is_empty()
            || !self.wrong_rows.is_empty()
            || !self.unexpected_rows.is_empty()
    }
    pub fn class(&self) -> OutcomeClass {
        match (self.has_loss(), self.has_duplicates()) {
            (false, false) if !self.rows_differ() => OutcomeClass::Exact,
            (false, false) if self.lineage_tracked => OutcomeClass::Regrouped,
            (false, false) => OutcomeClass::WrongValues,
            (false, true) => OutcomeClass::Duplicates,
            (true, false) => OutcomeClass::Loss,
            (true, true) => OutcomeClass::LossAndDuplicates,
        }
    }
    /// Does the run keep the promise of `guarantee`? Exactly-once: every record's effect is
    /// visible as often as in the reference ([`OutcomeClass::Exact`], or
    /// [`OutcomeClass::Regrouped`] when event time grouped the same records differently).
    /// At-least-once: nothing lost. At-most-once: nothing duplicated.
    pub fn verdict(&self, guarantee: Guarantee) -> bool {
        match guarantee {
            Guarantee::ExactlyOnce => matches!(self.class(), OutcomeClass::Exact | OutcomeClass::Regrouped),
            Guarantee::AtLeastOnce => !self.has_loss(),
            Guarantee::AtMostOnce => !self.has_duplicates(),
        }
    }
}

/// What one run shows the oracle: its visible rows in the order they became visible, and the
/// source records its window operators dropped as late (for all or some of their windows).
pub struct Observed<'a> {
    pub rows: Vec<&'a StoredRow>,
    pub late: &'a BTreeSet<SourceRef>,
}

/// An [`Observed`] that owns its rows, to keep beside a run (the workbench does).
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub rows: Vec<StoredRow>,
    pub late: BTreeSet<SourceRef>,
}

impl Seen {
    pub fn of(observed: &Observed) -> Seen {
        Seen { rows: observed.rows.iter().map(|r| (*r).clone()).collect(), late: observed.late.clone() }
    }
    pub fn observed(&self) -> Observed<'_> {
        Observed { rows: self.rows.iter().collect(), late: &self.late }
    }
}

/// A row's records as a multiset: each record once with its count, in record order. Compares
/// and orders as the map from record to count it stands for (pairs in key order), built with
/// one sort instead of a tree per row.
type Lineage = Vec<(SourceRef, u32)>;

/// A row's version of its identity: value, lineage, index of the row.
type Version = (i64, Lineage, usize);

/// One side's rows grouped by identity, each identity's versions sorted.
type Versions = BTreeMap<RowId, Vec<Version>>;

fn lineage(row: &StoredRow) -> Lineage {
    let mut records = row.row.lineage.clone();
    records.sort_unstable();
    let mut counted: Lineage = Vec::with_capacity(records.len());
    for s in records {
        match counted.last_mut() {
            Some((last, n)) if *last == s => *n += 1,
            _ => counted.push((s, 1)),
        }
    }
    counted
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
pub fn evaluate(reference: &Observed, run: &Observed) -> Outcome {
    evaluate_rows(reference, run).outcome
}

/// [`evaluate`], and which rows are which: one [`RowMark`] per run row, the missing reference rows.
pub fn evaluate_rows(reference_seen: &Observed, run_seen: &Observed) -> MarkedRows {
    let (reference, run) = (&reference_seen.rows[..], &run_seen.rows[..]);
    if std::ptr::eq(reference_seen, run_seen) || same_rows(reference, run) {
        // A run held against itself (a fault-free run is its own reference), or a run that shows
        // the very rows the reference shows: every row pairs with its equal, so nothing is lost,
        // duplicated, wrong or missing. Said directly, the answer needs no grouping of the rows
        // (which would hold every row twice: issue 15's memory, and most of a sweep's time).
        let outcome = Outcome {
            reference_rows: reference.len(),
            rows: run.len(),
            exact_records: distinct_records(reference),
            lineage_tracked: reference.iter().all(|r| !r.row.lineage.is_empty()),
            ..Outcome::default()
        };
        return MarkedRows { outcome, marks: vec![RowMark::Exact; run.len()], missing: Vec::new() };
    }
    evaluate_rows_in_full(reference_seen, run_seen)
}

/// [`evaluate_rows`] without its shortcut for equal rows: every row grouped and paired.
fn evaluate_rows_in_full(reference_seen: &Observed, run_seen: &Observed) -> MarkedRows {
    let (reference, run) = (&reference_seen.rows[..], &run_seen.rows[..]);
    // Per identity, its versions: (value, lineage, index of the row). Sorted, so equal rows pair
    // in the order they were made visible (a repeat is the later row).
    let group = |rows: &[&StoredRow]| {
        let mut m: Versions = BTreeMap::new();
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
    // Records in a row made visible again (a duplicate row).
    let mut shown_again: Vec<SourceRef> = Vec::new();
    let ids: BTreeSet<RowId> = expected.keys().chain(got.keys()).copied().collect();
    let empty = Vec::new();
    for id in ids {
        let want = expected.get(&id).unwrap_or(&empty);
        let have = got.get(&id).unwrap_or(&empty);
        // Equal values pair first (exact): the same records too if there is such a row, then
        // any (their lineages may differ: the same value from other records).
        let mut want_used = vec![false; want.len()];
        let mut have_used = vec![false; have.len()];
        for same_records in [true, false] {
            for (i, (value, records, _)) in want.iter().enumerate() {
                if want_used[i] {
                    continue;
                }
                let pairs = |j: usize| !have_used[j] && have[j].0 == *value && (!same_records || have[j].1 == *records);
                if let Some(j) = (0..have.len()).find(|&j| pairs(j)) {
                    want_used[i] = true;
                    have_used[j] = true;
                    marks[have[j].2] = RowMark::Exact;
                }
            }
        }
        let left_want: Vec<&Version> = want.iter().zip(&want_used).filter(|(_, u)| !**u).map(|(r, _)| r).collect();
        let left_have: Vec<&Version> = have.iter().zip(&have_used).filter(|(_, u)| !**u).map(|(r, _)| r).collect();
        // Run rows left over that equal a reference row of this identity — value and the records
        // it counts — are the same result again. (Two late firings of a window may share a value
        // with other records in them, e.g. a maximum a late record did not change.)
        let (dups, left_have): (Vec<&Version>, Vec<&Version>) =
            left_have.into_iter().partition(|(v, l, _)| want.iter().any(|(w, wl, _)| w == v && wl == l));
        for (v, l, index) in dups {
            outcome.duplicate_rows.push((id, *v));
            shown_again.extend(l.iter().map(|(s, _)| *s));
            // The row it repeats: the first row of this identity, value and records.
            let first =
                have.iter().filter(|(hv, hl, _)| hv == v && hl == l).map(|(_, _, i)| *i).min().unwrap_or(*index);
            marks[*index] = RowMark::Duplicate { first };
        }
        let pairs = left_want.len().min(left_have.len());
        for k in 0..pairs {
            outcome.wrong_rows.push(WrongRow { id, expected: left_want[k].0, got: left_have[k].0 });
            marks[left_have[k].2] = RowMark::Wrong { expected: left_want[k].0 };
        }
        for (v, _, index) in &left_want[pairs..] {
            outcome.missing_rows.push((id, *v));
            missing.push(*index);
        }
        for (v, _, _) in &left_have[pairs..] {
            outcome.unexpected_rows.push((id, *v));
        }
    }
    let records = RecordVerdicts::of(reference_seen, run_seen, [&expected, &got], &shown_again);
    outcome.lineage_tracked = reference.iter().chain(run).all(|r| !r.row.lineage.is_empty());
    outcome.exact_records = records.exact;
    outcome.lost_records = records.lost;
    outcome.duplicated_records = records.duplicated;
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
    use engine::graph::SubtaskId;
    use engine::sink::SinkRow;

    fn row(key: Key, value: i64, lineage: &[u64]) -> StoredRow {
        row_in(Window::new(0, 10), Firing::OnTime, key, value, lineage)
    }

    fn row_in(window: Window, firing: Firing, key: Key, value: i64, lineage: &[u64]) -> StoredRow {
        StoredRow {
            sink: 0,
            subtask: SubtaskId::from_raw(0),
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
        check_late(reference, &[], run, &[], class)
    }

    /// [`check`] with the records each run dropped as late.
    fn check_late(
        reference: &[StoredRow],
        reference_late: &[u64],
        run: &[StoredRow],
        run_late: &[u64],
        class: OutcomeClass,
    ) -> Outcome {
        let (a_late, b_late): (BTreeSet<SourceRef>, BTreeSet<SourceRef>) =
            (offsets(reference_late).into_iter().collect(), offsets(run_late).into_iter().collect());
        let a = Observed { rows: reference.iter().collect(), late: &a_late };
        let b = Observed { rows: run.iter().collect(), late: &b_late };
        let outcome = evaluate(&a, &b);
        assert_eq!(outcome.class(), class, "{outcome:?}");
        // The shortcut for equal rows, where it applies, says what the full comparison says.
        assert_eq!(evaluate_rows(&a, &b), evaluate_rows_in_full(&a, &b));
        outcome
    }

    /// The note on records inside rows is given exactly when a records verdict has no row of its
    /// own kind: a record counted twice inside a window's count (no doubled row), a record lost
    /// from one (no missing row); not when the rows show it, nor without lineage.
    #[test]
    fn records_counted_inside_rows_are_explained_only_when_no_row_shows_them() {
        let reference = [row(1, 2, &[0, 1]), row(2, 1, &[2])];
        let inside_twice = check(&reference, &[row(1, 3, &[0, 1, 1]), row(2, 1, &[2])], OutcomeClass::Duplicates);
        let notes = inside_twice.records_inside_rows();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with("No row is doubled: the 1 records") && notes[0].contains("(1 of"), "{notes:?}");
        let inside_lost = check(&reference, &[row(1, 1, &[0]), row(2, 1, &[2])], OutcomeClass::Loss);
        let notes = inside_lost.records_inside_rows();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with("No row is missing: the 1 lost records"), "{notes:?}");
        // Rows that show it: a whole row twice, a whole row missing. No note.
        let doubled_row = check(
            &reference,
            &[reference[0].clone(), reference[0].clone(), reference[1].clone()],
            OutcomeClass::Duplicates,
        );
        assert!(doubled_row.records_inside_rows().is_empty());
        let missing_row = check(&reference, &[reference[0].clone()], OutcomeClass::Loss);
        assert!(missing_row.records_inside_rows().is_empty());
        // Exact: nothing to explain.
        assert!(check(&reference, &reference.clone(), OutcomeClass::Exact).records_inside_rows().is_empty());
        // Without lineage records are not followed: no note, whatever the counts.
        let mut untracked = inside_twice.clone();
        untracked.lineage_tracked = false;
        assert!(untracked.records_inside_rows().is_empty());
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
        let none = BTreeSet::new();
        let seen = Observed { rows: r.iter().collect(), late: &none };
        let copy = Observed { rows: r.iter().collect(), late: &none };
        let own = evaluate_rows(&seen, &seen);
        assert_eq!(own, evaluate_rows(&seen, &copy));
        assert_eq!(own, evaluate_rows_in_full(&seen, &copy));
        // The same rows in another order, lineage included (no late firings): the same answer,
        // shortcut or not.
        let shuffled = [r[2].clone(), row(1, 3, &[1, 0]), r[3].clone(), r[1].clone()];
        let other = Observed { rows: shuffled.iter().collect(), late: &none };
        assert_eq!(evaluate_rows(&seen, &other).outcome, evaluate_rows_in_full(&seen, &other).outcome);
        assert_eq!(own.outcome.exact_records, 4);
        assert_eq!(own.outcome.class(), OutcomeClass::Exact);
    }

    fn refs(rows: &[StoredRow]) -> Vec<&StoredRow> {
        rows.iter().collect()
    }

    #[test]
    fn equal_rows_in_another_order_are_found_equal_and_one_other_record_is_not() {
        let (on, late) = (Firing::OnTime, Firing::Late);
        let r = [row(1, 3, &[0, 1, 2]), row(2, 1, &[3]), row(2, 1, &[3]), row_in(w(10, 20), on, 1, 2, &[4, 5])];
        // Another row order and lineages in another order: the same multiset.
        let shuffled = [r[3].clone(), row(1, 3, &[2, 0, 1]), r[2].clone(), r[1].clone()];
        assert!(same_rows(&refs(&r), &refs(&shuffled)));
        // One record swapped for another (same value, same length): other rows.
        let other = [r[3].clone(), row(1, 3, &[2, 0, 9]), r[2].clone(), r[1].clone()];
        assert!(!same_rows(&refs(&r), &refs(&other)));
        check(&r, &other, OutcomeClass::LossAndDuplicates);
        // A record counted twice instead of two records once: other rows.
        let twice = [r[3].clone(), row(1, 3, &[2, 2, 1]), r[2].clone(), r[1].clone()];
        assert!(!same_rows(&refs(&r), &refs(&twice)));
        // With a late firing the order counts: the same rows in another order are not taken
        // as equal (the full comparison decides).
        let with_late = [r[0].clone(), row_in(w(0, 10), late, 1, 4, &[0, 1, 2, 6])];
        let reversed = [with_late[1].clone(), with_late[0].clone()];
        assert!(same_rows(&refs(&with_late), &refs(&with_late.clone())));
        assert!(!same_rows(&refs(&with_late), &refs(&reversed)));
        check(&with_late, &reversed, OutcomeClass::Duplicates);
    }

    /// The counted lineage orders versions as the map from record to count it replaced did: the
    /// full comparison pairs versions in that order.
    #[test]
    fn counted_lineages_order_as_maps_of_counts() {
        let lineages: [&[u64]; 6] = [&[0, 0], &[0, 1], &[1, 0, 0], &[1], &[], &[2, 0, 1, 0]];
        let as_map = |l: &[u64]| -> BTreeMap<SourceRef, u32> {
            let mut m = BTreeMap::new();
            for s in offsets(l) {
                *m.entry(s).or_default() += 1;
            }
            m
        };
        for a in lineages {
            for b in lineages {
                let (ra, rb) = (row(1, 1, a), row(1, 1, b));
                assert_eq!(lineage(&ra).cmp(&lineage(&rb)), as_map(a).cmp(&as_map(b)), "{a:?} vs {b:?}");
            }
        }
        assert_eq!(lineage(&row(1, 1, &[1, 0, 0])), vec![(offsets(&[0])[0], 2), (offsets(&[1])[0], 1)]);
    }

    #[test]
    fn distinct_records_count_each_record_once_however_far_its_offset() {
        let mut rows = vec![row(1, 3, &[0, 1, 1]), row(2, 2, &[5, 0])];
        rows[1].row.lineage.push(SourceRef { partition: 3, offset: 2 });
        assert_eq!(distinct_records(&refs(&rows)), 4);
        // An offset far beyond the records named takes the sorting path: the same count.
        rows[0].row.lineage.push(SourceRef { partition: 1, offset: u64::MAX - 1 });
        rows[1].row.lineage.push(SourceRef { partition: 1, offset: u64::MAX - 1 });
        assert_eq!(distinct_records(&refs(&rows)), 5);
        assert_eq!(distinct_records(&[]), 0);
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
    fn a_session_cut_short_is_loss_and_a_split_one_regrouped() {
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
        // Split in two (event time moved on between the records): [0,10) = 1 and [5,15) = 1.
        // Both records are counted once: no loss, no duplication, the rows differ.
        let split = [row_in(w(0, 10), on, 1, 1, &[0]), row_in(w(5, 15), on, 1, 1, &[5]), reference[1].clone()];
        let o = check(&reference, &split, OutcomeClass::Regrouped);
        assert!(o.lost_records.is_empty() && o.duplicated_records.is_empty(), "{o:?}");
        assert_eq!((o.missing_rows.len(), o.unexpected_rows.len(), o.exact_records), (1, 2, 3));
        assert!(o.verdict(Guarantee::AtMostOnce) && o.verdict(Guarantee::AtLeastOnce));
        assert!(o.verdict(Guarantee::ExactlyOnce));
    }

    #[test]
    fn a_late_firing_updates_the_results_it_covers_and_an_on_time_one_does_not() {
        let (on, late) = (Firing::OnTime, Firing::Late);
        let reference = [row_in(w(0, 15), on, 1, 2, &[0, 5])];
        // The session fired as [0,10) = 1; record 5 merged later and the merged session fired
        // late (Flink's onMerge behind the watermark): the late firing updates [0,10).
        let merged_late = [row_in(w(0, 10), on, 1, 1, &[0]), row_in(w(0, 15), late, 1, 2, &[0, 5])];
        let o = check(&reference, &merged_late, OutcomeClass::Regrouped);
        assert_eq!(o.exact_records, 2);
        // The same two rows both on time: no single history fires a session and then, on time,
        // a larger one holding the same record. A reader sees record 0 in two results.
        let fired_twice = [row_in(w(0, 10), on, 1, 1, &[0]), reference[0].clone()];
        let o = check(&reference, &fired_twice, OutcomeClass::Duplicates);
        assert_eq!(o.duplicated_records, offsets(&[0]));
        assert!(o.verdict(Guarantee::AtLeastOnce) && !o.verdict(Guarantee::ExactlyOnce));
        // A tumbling window fired on time twice with different values (a plain sink's replay
        // after event time restarted): both are held, its records counted twice.
        let t = [row_in(w(0, 10), on, 1, 2, &[0, 1])];
        let o = check(&t, &[row_in(w(0, 10), on, 1, 1, &[0]), t[0].clone()], OutcomeClass::Duplicates);
        assert_eq!(o.duplicated_records, offsets(&[0]));
        // Late firings of it instead: the last one is the result.
        let updates = [row_in(w(0, 10), on, 1, 1, &[0]), row_in(w(0, 10), late, 1, 2, &[0, 1])];
        check(&t, &updates, OutcomeClass::Regrouped);
    }

    #[test]
    fn lateness_explains_a_record_missing_or_extra_only_where_it_was_late() {
        let (on, late) = (Firing::OnTime, Firing::Late);
        // Reference: record 2 arrived behind the watermark and went to a late firing; record 3
        // was beyond the allowed lateness and dropped. After a restore event time started
        // again, so the run counted both in the on-time firing.
        let reference = [row_in(w(0, 10), on, 1, 2, &[0, 1]), row_in(w(0, 10), late, 1, 3, &[0, 1, 2])];
        let run = [row_in(w(0, 10), on, 1, 4, &[0, 1, 2, 3])];
        let o = check_late(&reference, &[3], &run, &[], OutcomeClass::Regrouped);
        assert!(o.verdict(Guarantee::ExactlyOnce), "{o:?}");
        // Not late in the reference: record 3 counted in the run is a duplicate effect.
        check_late(&reference, &[], &run, &[], OutcomeClass::Duplicates);
        // The other way round: the run dropped record 2 as late, the reference counted it.
        let dropped = [row_in(w(0, 10), on, 1, 2, &[0, 1])];
        check_late(&reference, &[], &dropped, &[2], OutcomeClass::Regrouped);
        // ... and without that evidence it is lost.
        let o = check_late(&reference, &[], &dropped, &[], OutcomeClass::Loss);
        assert_eq!(o.lost_records, offsets(&[2]));
        // Sliding: the reference skipped record 7 for its later window only (late for it);
        // the run counted it in both windows.
        let s_ref = [row_in(w(0, 10), on, 1, 1, &[7]), row_in(w(5, 15), on, 1, 1, &[8])];
        let s_run = [row_in(w(0, 10), on, 1, 1, &[7]), row_in(w(5, 15), on, 1, 2, &[7, 8])];
        check_late(&s_ref, &[7], &s_run, &[], OutcomeClass::Regrouped);
        check_late(&s_ref, &[], &s_run, &[], OutcomeClass::Duplicates);
    }

    #[test]
    fn without_lineage_rows_decide() {
        let strip = |mut r: StoredRow| {
            r.row.lineage.clear();
            r
        };
        let reference = [strip(row(1, 2, &[0, 1])), strip(row(2, 1, &[2]))];
        let o = check(&reference, &[reference[0].clone()], OutcomeClass::Loss);
        assert!(!o.lineage_tracked);
        check(&reference, &[reference[0].clone(), strip(row(2, 5, &[]))], OutcomeClass::WrongValues);
        check(
            &reference,
            &[reference[0].clone(), reference[1].clone(), reference[1].clone()],
            OutcomeClass::Duplicates,
        );
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
        let none = BTreeSet::new();
        let a = Observed { rows: reference.iter().collect(), late: &none };
        let b = Observed { rows: run.iter().collect(), late: &none };
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
