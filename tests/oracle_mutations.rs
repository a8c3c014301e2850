//! The oracle's claims against outputs whose truth is known by construction. A real fault-free
//! run (sliding windows over late data, so rows carry late firings and the run has late drops)
//! is the reference; each case mutates a copy of its output the way a broken run would — a row
//! shown twice, a row never shown, a record counted twice, a record dropped, a record moved to
//! another result — and checks that the oracle names exactly that: no duplication passed off
//! as "Regrouped", no regrouping called loss.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use engine::{Firing, SourceRef};
use proptest::prelude::*;
use sim::external::StoredRow;
use sim::oracle::{evaluate, Observed};
use sim::scenario::OutcomeClass;
use sim::Scenario;

const SCENARIO: &str = r#"Scenario(
    name: "late sliding windows",
    duration_ms: 8_000,
    cluster: (task_managers: 1, slots_per_task_manager: 2),
    source: Generator((partitions: 2, rate_per_s: 200, keys: 4, value: Uniform(min: 1, max: 9),
        disorder: (delay: Uniform(min_ms: 0, max_ms: 600), very_late_ppm: 50_000, very_late_ms: 3_000))),
    watermarks: BoundedOutOfOrderness(bound_ms: 200, emit: Periodic(interval_ms: 100)),
    pipeline: [
        Source(name: "s", parallelism: 2),
        KeyBy(Key),
        Window(name: "w", kind: Sliding(size_ms: 1_000, slide_ms: 500), aggregate: Count,
               allowed_lateness_ms: 500, parallelism: 2),
        Sink(name: "out"),
    ],
)"#;

/// The reference: rows and late drops of one fault-free run (computed once for all cases).
fn reference() -> &'static (Vec<StoredRow>, BTreeSet<SourceRef>) {
    static REFERENCE: OnceLock<(Vec<StoredRow>, BTreeSet<SourceRef>)> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let scenario = Arc::new(Scenario::parse(SCENARIO, "oracle_mutations").unwrap());
        let run = sim::run::reference_run(&scenario, 7);
        let seen = run.observed();
        (seen.rows.into_iter().cloned().collect(), seen.late.clone())
    })
}

fn judge(run: &[StoredRow], run_late: &BTreeSet<SourceRef>) -> sim::oracle::Outcome {
    let (rows, late) = reference();
    evaluate(&Observed { rows: rows.iter().collect(), late }, &Observed { rows: run.iter().collect(), late: run_late })
}

/// Rows no later late firing updates (the ones a reader holds), by index.
fn held(rows: &[StoredRow]) -> Vec<usize> {
    (0..rows.len())
        .filter(|&i| {
            let (r, w) = (&rows[i], rows[i].row.window.unwrap());
            !rows[i + 1..].iter().any(|l| {
                let lw = l.row.window.unwrap();
                l.sink == r.sink
                    && l.row.key == r.row.key
                    && l.row.firing == Firing::Late
                    && lw.start_ms <= w.start_ms
                    && w.end_ms <= lw.end_ms
            })
        })
        .collect()
}

/// Whether row `i` updates no earlier row (a late firing covering an earlier result does): taking
/// it away leaves nothing else held in its place.
fn updates_nothing(rows: &[StoredRow], i: usize) -> bool {
    let (r, w) = (&rows[i], rows[i].row.window.unwrap());
    r.row.firing != Firing::Late
        || !rows[..i].iter().any(|e| {
            let ew = e.row.window.unwrap();
            e.sink == r.sink && e.row.key == r.row.key && w.start_ms <= ew.start_ms && ew.end_ms <= w.end_ms
        })
}

/// Whether row `i` of `run` now shows the same result as another row (identity, value and
/// records): a mutation that made it so made a duplicate, whatever else it did.
fn repeats_another(run: &[StoredRow], i: usize) -> bool {
    let records = |r: &StoredRow| {
        let mut l = r.row.lineage.clone();
        l.sort();
        l
    };
    let (r, mine) = (&run[i], records(&run[i]));
    run.iter().enumerate().any(|(j, o)| {
        j != i
            && (o.sink, o.row.key, o.row.window, o.row.firing, o.row.value)
                == (r.sink, r.row.key, r.row.window, r.row.firing, r.row.value)
            && records(o) == mine
    })
}

#[test]
fn the_reference_has_what_the_mutations_need() {
    let (rows, late) = reference();
    assert!(rows.len() > 20, "{} rows", rows.len());
    assert!(rows.iter().any(|r| r.row.firing == Firing::Late), "late firings");
    assert!(!late.is_empty(), "late drops");
    assert_eq!(judge(rows, late).class(), OutcomeClass::Exact);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// A held row made visible a second time: duplicates, never regrouped.
    #[test]
    fn a_row_shown_twice_is_a_duplicate(pick in any::<prop::sample::Index>()) {
        let (rows, late) = reference();
        let held = held(rows);
        let i = held[pick.index(held.len())];
        let mut run = rows.clone();
        run.push(rows[i].clone());
        let o = judge(&run, late);
        prop_assert!(o.has_duplicates() && !o.has_loss(), "{:?}", o.class());
    }

    /// A held row never shown: its records are lost (none was dropped as late in the run). (A
    /// late firing never shown leaves the result it would have updated held: only its late
    /// records would be lost; this case takes rows that update nothing.)
    #[test]
    fn a_row_never_shown_loses_its_records(pick in any::<prop::sample::Index>()) {
        let (rows, _) = reference();
        let held: Vec<usize> = held(rows).into_iter().filter(|&i| updates_nothing(rows, i)).collect();
        let i = held[pick.index(held.len())];
        let mut run = rows.clone();
        let gone = run.remove(i);
        let o = judge(&run, &BTreeSet::new());
        prop_assert!(o.has_loss(), "{:?}", o.class());
        prop_assert!(gone.row.lineage.iter().all(|s| o.lost_records.contains(s)));
        prop_assert!(!o.verdict(sim::scenario::Guarantee::ExactlyOnce));
    }

    /// One record counted twice into a held row: that record is duplicated.
    #[test]
    fn a_record_counted_twice_is_duplicated(pick in any::<prop::sample::Index>(), at in any::<prop::sample::Index>()) {
        let (rows, late) = reference();
        let held = held(rows);
        let i = held[pick.index(held.len())];
        let mut run = rows.clone();
        let record = run[i].row.lineage[at.index(run[i].row.lineage.len())];
        run[i].row.lineage.push(record);
        run[i].row.value += 1;
        let o = judge(&run, late);
        prop_assert!(o.duplicated_records.contains(&record), "{:?}", o.class());
        prop_assert!(!o.verdict(sim::scenario::Guarantee::ExactlyOnce));
    }

    /// One record missing from a held row: lost — unless the run says it dropped it as late.
    #[test]
    fn a_record_left_out_is_lost_unless_late(pick in any::<prop::sample::Index>(), at in any::<prop::sample::Index>()) {
        let (rows, _) = reference();
        // Rows of two records or more: a result always counts at least one.
        let held: Vec<usize> = held(rows).into_iter().filter(|&i| rows[i].row.lineage.len() > 1).collect();
        let i = held[pick.index(held.len())];
        let mut run = rows.clone();
        let at = at.index(run[i].row.lineage.len());
        let record = run[i].row.lineage.remove(at);
        run[i].row.value -= 1;
        // Taking the late record out of a late firing can leave the firing before it, twice.
        prop_assume!(!repeats_another(&run, i));
        let o = judge(&run, &BTreeSet::new());
        prop_assert!(o.lost_records.contains(&record), "{:?}", o.class());
        let late: BTreeSet<SourceRef> = [record].into();
        let o = judge(&run, &late);
        prop_assert!(!o.lost_records.contains(&record), "{:?}", o.class());
        prop_assert!(o.verdict(sim::scenario::Guarantee::ExactlyOnce), "{:?}", o.class());
    }

    /// A record moved from one held row to another of the same sink (the same count overall):
    /// regrouped, exactly-once kept, nothing lost or duplicated — unless the other row already
    /// counted it: then it is counted twice into one result, a duplicate.
    #[test]
    fn a_record_moved_between_results_is_regrouped(from in any::<prop::sample::Index>(), to in any::<prop::sample::Index>()) {
        let (rows, late) = reference();
        let held = held(rows);
        let (i, j) = (held[from.index(held.len())], held[to.index(held.len())]);
        prop_assume!(i != j && rows[i].row.lineage.len() > 1);
        let mut run = rows.clone();
        let record = run[i].row.lineage.pop().unwrap();
        run[i].row.value -= 1;
        run[j].row.lineage.push(record);
        run[j].row.value += 1;
        prop_assume!(!repeats_another(&run, i) && !repeats_another(&run, j));
        let twice = rows[j].row.lineage.contains(&record);
        let o = judge(&run, late);
        if twice {
            prop_assert!(o.duplicated_records.contains(&record), "{:?}", o.class());
        } else {
            prop_assert_eq!(o.class(), OutcomeClass::Regrouped);
            prop_assert!(o.lost_records.is_empty() && o.duplicated_records.is_empty());
        }
    }
}
