//! Lab 1 — YOUR CODE: an exactly-once barrier aligner. Read book/src/labs.md and the suite in
//! src/lab1.rs; grade with `cargo test -p streamlab-labs --features student`.

use crate::lab1::{Aligner, Decision};

/// Your aligner for a subtask with `inputs` input channels.
pub struct StudentAligner {
    inputs: usize,
}

impl StudentAligner {
    pub fn new(inputs: usize) -> StudentAligner {
        StudentAligner { inputs }
    }
}

impl Aligner for StudentAligner {
    fn on_barrier(&mut self, _input: usize, _checkpoint_id: u64) -> Decision {
        // TODO: remember which inputs delivered this checkpoint's barrier; block them; complete
        // when every input (finished inputs count) has delivered it. Ignore old barriers.
        let _ = self.inputs;
        Decision::Waiting
    }

    fn on_input_finished(&mut self, _input: usize) -> Option<Decision> {
        // TODO: a finished input counts as having delivered every future barrier.
        None
    }

    fn is_blocked(&self, _input: usize) -> bool {
        // TODO: blocked while it delivered the pending checkpoint's barrier and others have not.
        false
    }
}
