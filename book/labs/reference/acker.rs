//! Lab 2 — the reference solution (kept apart from the stub in student/).

use std::collections::BTreeMap;

use crate::lab2::{AckOutcome, Acker};

#[derive(Clone, Copy, Default)]
struct Entry {
    value: u64,
    spout_task: Option<u32>,
    failed: bool,
}

#[derive(Default)]
pub struct ReferenceAcker {
    pending: BTreeMap<u64, Entry>,
}

impl ReferenceAcker {
    fn settle(&mut self, root: u64) -> AckOutcome {
        let e = self.pending.get(&root).copied().unwrap_or_default();
        let outcome = match e.spout_task {
            Some(spout_task) if e.failed => AckOutcome::Failed { spout_task },
            Some(spout_task) if e.value == 0 => AckOutcome::Complete { spout_task },
            _ => return AckOutcome::Pending,
        };
        self.pending.remove(&root);
        outcome
    }
}

impl Acker for ReferenceAcker {
    fn init(&mut self, root: u64, value: u64, spout_task: u32) -> AckOutcome {
        let e = self.pending.entry(root).or_default();
        e.value ^= value;
        e.spout_task = Some(spout_task);
        self.settle(root)
    }
    fn ack(&mut self, root: u64, value: u64) -> AckOutcome {
        self.pending.entry(root).or_default().value ^= value;
        self.settle(root)
    }
    fn fail(&mut self, root: u64) -> AckOutcome {
        self.pending.entry(root).or_default().failed = true;
        self.settle(root)
    }
}
