//! Anchoring on the bolt side (Storm's `BoltOutputCollector`). A tuple's message id maps each
//! root it descends from to its edge id. Emitting a tuple anchored to input tuples draws one new
//! edge id per anchor (from the caller), XORs it into that input's ack value, and into the new
//! tuple's id under every root of the anchor. Acking an input sends, per root, its edge id XOR
//! its ack value to the acker.

use std::collections::BTreeMap;

use super::{EdgeId, RootId};

/// A tuple's message id: root id -> edge id. Empty for unanchored tuples (not tracked).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageId {
    pub anchors: BTreeMap<RootId, EdgeId>,
}

impl MessageId {
    /// The id of a tuple a spout emitted along one edge.
    pub fn spout(root: RootId, edge: EdgeId) -> Self {
        MessageId { anchors: BTreeMap::from([(root, edge)]) }
    }
    pub fn is_tracked(&self) -> bool {
        !self.anchors.is_empty()
    }
    pub fn roots(&self) -> impl Iterator<Item = RootId> + '_ {
        self.anchors.keys().copied()
    }
}

/// An input tuple a bolt holds until it acks or fails it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Held {
    pub id: MessageId,
    /// XOR of the edge ids of the tuples emitted anchored to this one.
    pub ack_val: u64,
}

impl Held {
    pub fn new(id: MessageId) -> Self {
        Held { id, ack_val: 0 }
    }
}

/// Emit one tuple anchored to `inputs`: draws a new edge id per tracked anchor with `next_id`.
pub fn emit_anchored<'a>(
    inputs: impl IntoIterator<Item = &'a mut Held>,
    next_id: &mut impl FnMut() -> EdgeId,
) -> MessageId {
    let mut id = MessageId::default();
    for input in inputs {
        if !input.id.is_tracked() {
            continue;
        }
        let edge = next_id();
        input.ack_val ^= edge;
        for root in input.id.roots() {
            *id.anchors.entry(root).or_insert(0) ^= edge;
        }
    }
    id
}

/// The acker messages that ack `held`: per root, (root, edge id XOR ack value).
pub fn ack_messages(held: &Held) -> Vec<(RootId, u64)> {
    held.id.anchors.iter().map(|(root, edge)| (*root, edge ^ held.ack_val)).collect()
}

#[cfg(test)]
mod tests {
    use super::super::acker::{Acker, AckerOutcome};
    use super::*;

    #[test]
    fn a_chain_with_a_join_completes_both_roots() {
        let mut ids = [11u64, 12, 13, 14, 15].into_iter();
        let mut next = || ids.next().unwrap_or(99);
        let mut acker = Acker::new(2);
        // Two spout tuples, roots 1 and 2, along edges 101 and 202.
        acker.init(1, 101, 0);
        acker.init(2, 202, 0);
        let mut a = Held::new(MessageId::spout(1, 101));
        let mut b = Held::new(MessageId::spout(2, 202));
        // A window result anchored to both.
        let out = emit_anchored([&mut a, &mut b], &mut next);
        assert_eq!(out.anchors.len(), 2);
        for (root, v) in ack_messages(&a).into_iter().chain(ack_messages(&b)) {
            assert_eq!(acker.ack(root, v), AckerOutcome::Pending);
        }
        let sink = Held::new(out);
        let outcomes: Vec<AckerOutcome> = ack_messages(&sink).into_iter().map(|(r, v)| acker.ack(r, v)).collect();
        assert_eq!(outcomes, vec![AckerOutcome::Complete { spout_task: 0 }; 2]);
    }
}
