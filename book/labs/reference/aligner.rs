//! Lab 1 — the reference solution (kept apart from the stub in student/).

use crate::lab1::{Aligner, Decision};

pub struct ReferenceAligner {
    finished: Vec<bool>,
    /// The checkpoint being aligned and, per input, whether its barrier arrived.
    pending: Option<(u64, Vec<bool>)>,
    latest: u64,
}

impl ReferenceAligner {
    pub fn new(inputs: usize) -> ReferenceAligner {
        ReferenceAligner { finished: vec![false; inputs], pending: None, latest: 0 }
    }

    fn try_complete(&mut self) -> Option<Decision> {
        let (id, seen) = self.pending.as_ref()?;
        if seen.iter().zip(&self.finished).all(|(s, f)| *s || *f) {
            let id = *id;
            self.pending = None;
            Some(Decision::Complete(id))
        } else {
            None
        }
    }
}

impl Aligner for ReferenceAligner {
    fn on_barrier(&mut self, input: usize, checkpoint_id: u64) -> Decision {
        let current = self.pending.as_ref().map(|(id, _)| *id);
        if checkpoint_id < current.unwrap_or(self.latest + 1) || input >= self.finished.len() {
            return Decision::Ignored;
        }
        if current != Some(checkpoint_id) {
            // A newer barrier abandons an unfinished alignment.
            self.pending = Some((checkpoint_id, vec![false; self.finished.len()]));
            self.latest = checkpoint_id;
        }
        let Some((_, seen)) = self.pending.as_mut() else { return Decision::Ignored };
        if seen[input] {
            return Decision::Ignored;
        }
        seen[input] = true;
        self.try_complete().unwrap_or(Decision::Waiting)
    }

    fn on_input_finished(&mut self, input: usize) -> Option<Decision> {
        *self.finished.get_mut(input)? = true;
        self.try_complete()
    }

    fn is_blocked(&self, input: usize) -> bool {
        !self.finished.get(input).copied().unwrap_or(true)
            && self.pending.as_ref().is_some_and(|(_, seen)| seen.get(input).copied().unwrap_or(false))
    }
}
