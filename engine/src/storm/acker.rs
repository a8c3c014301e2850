//! The XOR acker (Storm's `Acker` bolt). Per root id it keeps one 64-bit value: the XOR of the
//! init (the XOR of the edge ids the spout emitted) and of every ack (the acked edge's id XOR
//! the ids of the edges emitted anchored to it). Every edge id enters the value exactly twice —
//! once when its tuple is created, once when it is acked — so the value is zero exactly when
//! every tuple of the tree has been acked (up to a 2^-64 chance of an accidental zero, as in
//! Storm). Entries expire through a [`RotatingMap`] so a lost tree does not leak memory; the
//! spout's own timeout is what fails the tuple.

use super::rotating::RotatingMap;
use super::RootId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    value: u64,
    /// The spout task, once the init arrived (acks may overtake it).
    spout_task: Option<u32>,
    failed: bool,
}

/// What an acker message did to its tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckerOutcome {
    /// Still incomplete.
    Pending,
    /// The value reached zero with the init seen: tell `spout_task` to `ack(msgId)`.
    Complete { spout_task: u32 },
    /// A bolt called `fail` (and the init is known): tell `spout_task` to `fail(msgId)`.
    Failed { spout_task: u32 },
}

#[derive(Clone, Debug)]
pub struct Acker {
    pending: RotatingMap<RootId, Entry>,
    /// Trees completed, failed and expired so far.
    pub completed: u64,
    pub failed: u64,
    pub expired: u64,
}

impl Acker {
    pub fn new(buckets: usize) -> Self {
        Acker { pending: RotatingMap::new(buckets), completed: 0, failed: 0, expired: 0 }
    }

    fn entry(&mut self, root: RootId) -> &mut Entry {
        if !self.pending.contains(&root) {
            self.pending.insert(root, Entry { value: 0, spout_task: None, failed: false });
        }
        self.pending.get_mut(&root).expect("just inserted")
    }

    fn settle(&mut self, root: RootId) -> AckerOutcome {
        let e = *self.entry(root);
        match e.spout_task {
            Some(spout_task) if e.failed => {
                self.pending.remove(&root);
                self.failed += 1;
                AckerOutcome::Failed { spout_task }
            }
            Some(spout_task) if e.value == 0 => {
                self.pending.remove(&root);
                self.completed += 1;
                AckerOutcome::Complete { spout_task }
            }
            _ => AckerOutcome::Pending,
        }
    }

    /// The spout emitted root `root` along edges whose ids XOR to `value`.
    pub fn init(&mut self, root: RootId, value: u64, spout_task: u32) -> AckerOutcome {
        let e = self.entry(root);
        e.value ^= value;
        e.spout_task = Some(spout_task);
        self.settle(root)
    }

    /// A bolt acked a tuple of the tree: `value` is the tuple's edge id XOR its anchored children's.
    pub fn ack(&mut self, root: RootId, value: u64) -> AckerOutcome {
        self.entry(root).value ^= value;
        self.settle(root)
    }

    /// A bolt failed a tuple of the tree.
    pub fn fail(&mut self, root: RootId) -> AckerOutcome {
        self.entry(root).failed = true;
        self.settle(root)
    }

    /// The acker's tick: drop the oldest bucket of incomplete trees.
    pub fn rotate(&mut self) -> usize {
        let n = self.pending.rotate().len();
        self.expired += n as u64;
        n
    }

    /// Trees in flight.
    pub fn len(&self) -> usize {
        self.pending.len()
    }
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The current XOR value of a root (for the workbench's tuple-tree view).
    pub fn value_of(&self, root: RootId) -> Option<u64> {
        self.pending.iter().find(|(r, _)| **r == root).map(|(_, e)| e.value)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::partition::mix64;

    /// One message to the acker: the init, or the ack of tuple `i`.
    #[derive(Clone, Copy, Debug)]
    enum Msg {
        Init,
        Ack(usize),
    }

    proptest! {
        /// A random tuple tree (tuple i > 0 is a child of an earlier tuple; tuple 0's parent is
        /// the spout, as are those drawn as roots), its messages in a random order: the acker
        /// reports completion exactly when the last message arrives, never before.
        #[test]
        fn xor_is_zero_exactly_when_the_tree_completes(
            parents in proptest::collection::vec(any::<proptest::sample::Index>(), 1..40),
            spout_children in 1usize..4,
            order_seed in any::<u64>(),
            id_seed in any::<u64>(),
        ) {
            let n = parents.len();
            let ids: Vec<u64> = (0..n as u64).map(|i| mix64(id_seed ^ mix64(i + 1))).collect();
            // parent[i] = None: emitted by the spout.
            let parent: Vec<Option<usize>> = (0..n)
                .map(|i| if i < spout_children.min(n) { None } else { Some(parents[i].index(i)) })
                .collect();
            let init = (0..n).filter(|&i| parent[i].is_none()).fold(0u64, |v, i| v ^ ids[i]);
            let ack_value = |i: usize| (0..n).filter(|&c| parent[c] == Some(i)).fold(ids[i], |v, c| v ^ ids[c]);
            let mut msgs: Vec<Msg> = std::iter::once(Msg::Init).chain((0..n).map(Msg::Ack)).collect();
            // A deterministic shuffle from the seed.
            for k in (1..msgs.len()).rev() {
                let j = (mix64(order_seed ^ k as u64) % (k as u64 + 1)) as usize;
                msgs.swap(k, j);
            }
            let mut acker = Acker::new(2);
            for (k, m) in msgs.iter().enumerate() {
                let out = match *m {
                    Msg::Init => acker.init(7, init, 3),
                    Msg::Ack(i) => acker.ack(7, ack_value(i)),
                };
                if k + 1 == msgs.len() {
                    prop_assert_eq!(out, AckerOutcome::Complete { spout_task: 3 });
                    prop_assert!(acker.is_empty());
                } else {
                    prop_assert_eq!(out, AckerOutcome::Pending, "completed after {} of {} messages", k + 1, msgs.len());
                }
            }
        }
    }

    #[test]
    fn a_failed_tuple_fails_its_root_and_expiry_forgets_it() {
        let mut a = Acker::new(2);
        assert_eq!(a.fail(1), AckerOutcome::Pending);
        assert_eq!(a.init(1, 5, 0), AckerOutcome::Failed { spout_task: 0 });
        a.init(2, 9, 0);
        assert_eq!(a.rotate(), 0);
        assert_eq!(a.rotate(), 1);
        assert_eq!(a.expired, 1);
        assert!(a.is_empty());
    }
}
