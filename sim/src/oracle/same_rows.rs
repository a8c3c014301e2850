//! The oracle's shortcut: do both sides show the same rows? Then every row pairs with its equal
//! and the answer needs no grouping (most of a sweep's seeds). Fingerprints pair the rows, an
//! exact comparison confirms each pair.

use engine::{Firing, SourceRef};

use super::records::RecordIndex;
use super::RowId;
use crate::external::StoredRow;

/// Do both sides show the same rows, so that the full comparison must find them all exact? The
/// same multiset of rows (identity, value, and lineage as a multiset of records, as the full
/// comparison takes it) when neither side has a late firing; with late firings, which rows
/// supersede which depends on the order they became visible, so then the same rows in the same
/// order. `true` only where the full comparison gives the same answer (`tests` check both).
pub(super) fn same_rows(reference: &[&StoredRow], run: &[&StoredRow]) -> bool {
    if reference.len() != run.len() {
        return false;
    }
    let mut scratch = RecordScratch::default();
    let in_order = reference.iter().zip(run).all(|(a, b)| same_row(a, b, &mut scratch));
    let late = |rows: &[&StoredRow]| rows.iter().any(|r| r.row.firing == Firing::Late);
    if in_order || late(reference) || late(run) {
        return in_order;
    }
    // Another order: equal rows have equal fingerprints, so sides whose fingerprints differ (as
    // multisets) show other rows. Equal fingerprints pair the rows; if every pair is the same
    // row the multisets are equal, and only a fingerprint collision leaves the sorted contents
    // to decide.
    let (a, b) = (by_fingerprint(reference), by_fingerprint(run));
    if a.iter().zip(&b).any(|(x, y)| x.0 != y.0) {
        return false;
    }
    let paired = a.iter().zip(&b).all(|(x, y)| same_row(reference[x.1], run[y.1], &mut scratch));
    paired || same_contents(reference, run)
}

/// Each row's [`fingerprint`] with its index, sorted.
fn by_fingerprint(rows: &[&StoredRow]) -> Vec<(u64, usize)> {
    let mut f: Vec<(u64, usize)> = rows.iter().enumerate().map(|(i, r)| (fingerprint(r), i)).collect();
    f.sort_unstable();
    f
}

/// A digest of a row's identity, value and records (as a multiset: the records' digests are
/// summed, so their order does not count): equal rows in the sense of [`same_row`] have equal
/// fingerprints. Not a hash map's hash (nothing iterates in its order); a cheap first test.
fn fingerprint(row: &StoredRow) -> u64 {
    let id = RowId::of(row);
    let window = id.window.map_or((0, 0), |w| (w.start_ms as u64, w.end_ms as u64));
    let source = id.source.map_or((0, 0), |s| (u64::from(s.partition) + 1, s.offset));
    let fields = [id.sink as u64, id.key, window.0, window.1, id.firing as u64, source.0, source.1];
    let records = row.row.lineage.iter().fold(row.row.lineage.len() as u64, |sum, s| sum.wrapping_add(mix_record(*s)));
    fields.iter().chain([row.row.value as u64, records].iter()).fold(0u64, |h, &x| mix(h ^ x))
}

fn mix_record(s: SourceRef) -> u64 {
    mix(s.offset ^ (u64::from(s.partition) << 48).rotate_left(7))
}

/// SplitMix64's finaliser: every input bit moves every output bit.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Identity, value and records (as a multiset) of two rows.
fn same_row(a: &StoredRow, b: &StoredRow, scratch: &mut RecordScratch) -> bool {
    RowId::of(a) == RowId::of(b) && a.row.value == b.row.value && scratch.same_records(&a.row.lineage, &b.row.lineage)
}

/// Two buffers reused for sorted copies of lineages, so that comparing many rows allocates once.
#[derive(Default)]
struct RecordScratch {
    a: Vec<u64>,
    b: Vec<u64>,
}

impl RecordScratch {
    /// The same records, as multisets; sorted copies only when the order differs.
    fn same_records(&mut self, a: &[SourceRef], b: &[SourceRef]) -> bool {
        if a == b {
            return true;
        }
        if a.len() != b.len() {
            return false;
        }
        if !(packed_into(&mut self.a, a) && packed_into(&mut self.b, b)) {
            let sorted = |l: &[SourceRef]| {
                let mut l = l.to_vec();
                l.sort_unstable();
                l
            };
            return sorted(a) == sorted(b);
        }
        self.a.sort_unstable();
        self.b.sort_unstable();
        self.a == self.b
    }
}

/// `records` into `keys` as one integer each (partition above offset: distinct records, distinct
/// keys), which sort faster than pairs; false if one does not fit (no log is that large).
fn packed_into(keys: &mut Vec<u64>, records: &[SourceRef]) -> bool {
    const OFFSET_BITS: u32 = 40;
    keys.clear();
    for s in records {
        if s.offset >> OFFSET_BITS != 0 || u64::from(s.partition) >> (64 - OFFSET_BITS) != 0 {
            return false;
        }
        keys.push(u64::from(s.partition) << OFFSET_BITS | s.offset);
    }
    true
}

/// How many distinct source records the rows' lineages name: one pass over them, marking each
/// by its number ([`RecordIndex`]), instead of sorting them all.
pub(super) fn distinct_records(rows: &[&StoredRow]) -> usize {
    let named = || rows.iter().flat_map(|r| r.row.lineage.iter().copied());
    let index = RecordIndex::of(named);
    if let RecordIndex::Sorted(records) = &index {
        return records.len();
    }
    let mut seen = vec![false; index.len()];
    named().filter(|s| !std::mem::replace(&mut seen[index.of_record(*s)], true)).count()
}

/// The same multiset of rows (identity, value, lineage as a multiset).
fn same_contents(reference: &[&StoredRow], run: &[&StoredRow]) -> bool {
    let sorted = |rows: &[&StoredRow]| {
        let mut c: Vec<_> = rows
            .iter()
            .map(|r| {
                let mut lineage = r.row.lineage.clone();
                lineage.sort_unstable();
                (RowId::of(r), r.row.value, lineage)
            })
            .collect();
        c.sort_unstable();
        c
    };
    sorted(reference) == sorted(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_compare_as_multisets_packed_or_not() {
        let r = |p: u32, o: u64| SourceRef { partition: p, offset: o };
        let mut scratch = RecordScratch::default();
        assert!(scratch.same_records(&[r(0, 1), r(2, 3), r(0, 1)], &[r(0, 1), r(0, 1), r(2, 3)]));
        assert!(!scratch.same_records(&[r(0, 1), r(2, 3), r(0, 1)], &[r(0, 1), r(2, 3), r(2, 3)]));
        // Partition 1 offset 0 and partition 0 offset 2^40 would share a key if packed.
        let far = r(0, 1 << 40);
        assert!(!scratch.same_records(&[r(1, 0), r(0, 5)], &[far, r(0, 5)]));
        assert!(scratch.same_records(&[far, r(0, 5)], &[r(0, 5), far]));
    }
}
