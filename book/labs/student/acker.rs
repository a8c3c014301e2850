//! Lab 2 — YOUR CODE: Storm's XOR acker. Read book/src/labs.md and the suite in src/lab2.rs;
//! grade with `cargo test -p streamlab-labs --features student`.

use crate::lab2::{AckOutcome, Acker};

#[derive(Default)]
pub struct StudentAcker {}

impl Acker for StudentAcker {
    fn init(&mut self, _root: u64, _value: u64, _spout_task: u32) -> AckOutcome {
        // TODO: XOR `value` into the root's entry and remember the spout task.
        AckOutcome::Pending
    }

    fn ack(&mut self, _root: u64, _value: u64) -> AckOutcome {
        // TODO: XOR `value` into the root's entry; complete at zero once the init is known.
        AckOutcome::Pending
    }

    fn fail(&mut self, _root: u64) -> AckOutcome {
        // TODO: mark the root failed; report it once the init is known.
        AckOutcome::Pending
    }
}
