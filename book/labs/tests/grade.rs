//! The labs' grading suites. Without features: the reference solutions and the engine's own
//! aligner and acker must pass, and the suites must fail the stubs and known-wrong variants (so
//! a pass means something). With `--features student`: the student's code is graded.

use streamlab_labs::{lab1, lab2};

/// Seeds per suite: enough to hit every interleaving shape, fast in a debug build.
const SEEDS: std::ops::Range<u64> = 0..300;

#[cfg(feature = "student")]
#[test]
fn student_aligner_passes_lab1() {
    use streamlab_labs::student::aligner::StudentAligner;
    lab1::grade(&|n| Box::new(StudentAligner::new(n)), SEEDS).unwrap_or_else(|e| panic!("lab 1: {e}"));
}

#[cfg(feature = "student")]
#[test]
fn student_acker_passes_lab2() {
    use streamlab_labs::student::acker::StudentAcker;
    lab2::grade(&|| Box::new(StudentAcker::default()), SEEDS).unwrap_or_else(|e| panic!("lab 2: {e}"));
}

#[cfg(not(feature = "student"))]
mod references {
    use super::*;
    use streamlab_labs::lab2::{AckOutcome, Acker};
    use streamlab_labs::reference::{acker::ReferenceAcker, aligner::ReferenceAligner};
    use streamlab_labs::student::{acker::StudentAcker, aligner::StudentAligner};

    #[test]
    fn the_reference_aligner_and_the_engines_pass_lab1() {
        lab1::grade(&|n| Box::new(ReferenceAligner::new(n)), SEEDS).unwrap_or_else(|e| panic!("reference: {e}"));
        lab1::grade(&|n| Box::new(lab1::EngineAligner::exactly_once(n)), SEEDS)
            .unwrap_or_else(|e| panic!("engine: {e}"));
    }

    #[test]
    fn lab1_fails_the_stub_and_an_aligner_that_does_not_block_with_the_over_count() {
        assert!(lab1::grade(&|n| Box::new(StudentAligner::new(n)), SEEDS).is_err(), "the stub passes lab 1");
        // The engine's at-least-once tracker counts barriers but never blocks: records read after
        // a barrier on a fast input are in the snapshot and replayed — the book's over-count.
        let e = lab1::grade(&|n| Box::new(lab1::EngineAligner::at_least_once(n)), SEEDS)
            .expect_err("a non-blocking aligner passes lab 1");
        assert!(e.contains("over-count"), "{e}");
    }

    #[test]
    fn the_reference_acker_and_the_engines_pass_lab2() {
        lab2::grade(&|| Box::new(ReferenceAcker::default()), SEEDS).unwrap_or_else(|e| panic!("reference: {e}"));
        lab2::grade(&|| Box::new(lab2::EngineAcker::default()), SEEDS).unwrap_or_else(|e| panic!("engine: {e}"));
    }

    /// A known-wrong acker: adds instead of XORing (every edge id enters twice, so the sum is
    /// never zero); and one that completes without waiting for the init.
    #[derive(Default)]
    struct AddingAcker(std::collections::BTreeMap<u64, (u64, u32)>);

    impl Acker for AddingAcker {
        fn init(&mut self, root: u64, value: u64, spout_task: u32) -> AckOutcome {
            let e = self.0.entry(root).or_default();
            e.0 = e.0.wrapping_add(value);
            e.1 = spout_task;
            self.ack(root, 0)
        }
        fn ack(&mut self, root: u64, value: u64) -> AckOutcome {
            let e = self.0.entry(root).or_default();
            e.0 = e.0.wrapping_add(value);
            if e.0 == 0 {
                AckOutcome::Complete { spout_task: e.1 }
            } else {
                AckOutcome::Pending
            }
        }
        fn fail(&mut self, root: u64) -> AckOutcome {
            AckOutcome::Failed { spout_task: self.0.get(&root).map_or(0, |e| e.1) }
        }
    }

    #[test]
    fn lab2_fails_the_stub_and_a_wrong_acker() {
        assert!(lab2::grade(&|| Box::new(StudentAcker::default()), SEEDS).is_err(), "the stub passes lab 2");
        assert!(lab2::grade(&|| Box::new(AddingAcker::default()), SEEDS).is_err(), "an adding acker passes lab 2");
    }
}
