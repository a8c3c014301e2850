//! The spout executor (Storm's `SpoutExecutor` around a Kafka-style spout). Each emitted spout
//! tuple gets a message id (its root id) and waits in `pending`, a [`RotatingMap`] rotated every
//! `topology.message.timeout.secs`: on completion the acker calls `ack`, on an explicit fail or
//! on expiry (between T and ~2T) `fail`, and the spout re-reads that offset from the log and
//! emits it again. `topology.max.spout.pending` bounds the tuples in flight. With acking off
//! (no acker executors) a tuple counts as acked when emitted: at-most-once.
//!
//! Offsets: the spout commits, per partition, the lowest offset not yet acked (everything below
//! is done); a restarted spout resumes there, so acked offsets above a gap are read again.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::rotating::RotatingMap;
use super::RootId;
use crate::SourceRef;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingTuple {
    pub source: SourceRef,
    pub emitted_ns: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpoutCounters {
    /// Tuples emitted, replays included.
    pub emitted: u64,
    pub replayed: u64,
    pub acked: u64,
    /// Explicit fails (a bolt called `fail`).
    pub failed: u64,
    /// Tuples failed because the message timeout expired.
    pub timed_out: u64,
}

/// What to emit next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextTuple {
    Replay(SourceRef),
    /// The next new offset of a partition (the caller checks the log has it).
    New(SourceRef),
}

#[derive(Clone, Debug)]
pub struct SpoutExecutor {
    acking: bool,
    max_pending: Option<u32>,
    pending: RotatingMap<RootId, PendingTuple>,
    /// Failed offsets waiting to be emitted again, oldest failure first.
    replay: VecDeque<SourceRef>,
    /// Per partition the next offset never emitted by this instance.
    next_offset: BTreeMap<u32, u64>,
    /// Emitted (or waiting for replay) and not acked.
    outstanding: BTreeSet<SourceRef>,
    pub counters: SpoutCounters,
}

impl SpoutExecutor {
    /// A spout reading `partitions` from the given committed offsets.
    pub fn new(acking: bool, max_pending: Option<u32>, start: &[(u32, u64)]) -> Self {
        SpoutExecutor {
            acking,
            max_pending,
            pending: RotatingMap::new(2),
            replay: VecDeque::new(),
            next_offset: start.iter().copied().collect(),
            outstanding: BTreeSet::new(),
            counters: SpoutCounters::default(),
        }
    }

    /// Tuples in flight (what max spout pending bounds).
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// `max.spout.pending` allows another tuple.
    pub fn can_emit(&self) -> bool {
        self.max_pending.is_none_or(|m| self.pending.len() < m as usize)
    }

    /// Candidates for the next tuple: the oldest replay first, else each partition's next offset
    /// (the caller picks the earliest the log has and calls [`SpoutExecutor::emitted`]).
    pub fn next_replay(&self) -> Option<SourceRef> {
        self.replay.front().copied()
    }
    pub fn next_new(&self) -> impl Iterator<Item = SourceRef> + '_ {
        self.next_offset.iter().map(|(&partition, &offset)| SourceRef { partition, offset })
    }

    /// The tuple at `source` was emitted with root `root` (ignored with acking off).
    pub fn emitted(&mut self, source: SourceRef, root: RootId, now_ns: u64) {
        self.counters.emitted += 1;
        if self.replay.front() == Some(&source) {
            self.replay.pop_front();
            self.counters.replayed += 1;
        } else if let Some(next) = self.next_offset.get_mut(&source.partition) {
            *next = (*next).max(source.offset + 1);
        }
        if self.acking {
            self.outstanding.insert(source);
            self.pending.insert(root, PendingTuple { source, emitted_ns: now_ns });
        } else {
            self.counters.acked += 1;
        }
    }

    /// The acker reports the tree of `root` complete. Returns the tuple (None: unknown, e.g.
    /// already timed out).
    pub fn ack(&mut self, root: RootId) -> Option<PendingTuple> {
        let t = self.pending.remove(&root)?;
        self.counters.acked += 1;
        self.outstanding.remove(&t.source);
        Some(t)
    }

    /// An explicit fail: replay the offset.
    pub fn fail(&mut self, root: RootId) -> Option<PendingTuple> {
        let t = self.pending.remove(&root)?;
        self.counters.failed += 1;
        self.replay.push_back(t.source);
        Some(t)
    }

    /// The timeout tick: tuples of the oldest bucket fail (and will be replayed).
    pub fn rotate(&mut self) -> Vec<PendingTuple> {
        let expired: Vec<PendingTuple> = self.pending.rotate().into_iter().map(|(_, t)| t).collect();
        for t in &expired {
            self.counters.timed_out += 1;
            self.replay.push_back(t.source);
        }
        expired
    }

    /// Per partition the offset a restart resumes from: the lowest not acked.
    pub fn committed(&self) -> Vec<(u32, u64)> {
        self.next_offset
            .iter()
            .map(|(&p, &next)| {
                let low = self.outstanding.range(SourceRef { partition: p, offset: 0 }..).next();
                (p, low.filter(|s| s.partition == p).map_or(next, |s| s.offset.min(next)))
            })
            .collect()
    }

    /// Nothing pending and nothing to replay.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.replay.is_empty()
    }

    pub fn pending_tuples(&self) -> impl Iterator<Item = (&RootId, &PendingTuple)> {
        self.pending.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u64) -> SourceRef {
        SourceRef { partition: 0, offset }
    }

    #[test]
    fn timeout_replays_and_the_commit_stays_at_the_gap() {
        let mut s = SpoutExecutor::new(true, Some(2), &[(0, 0)]);
        s.emitted(at(0), 100, 0);
        s.emitted(at(1), 101, 0);
        assert!(!s.can_emit());
        assert!(s.ack(101).is_some());
        assert_eq!(s.committed(), vec![(0, 0)]);
        assert!(s.rotate().is_empty());
        assert_eq!(s.rotate().len(), 1);
        assert_eq!(s.counters.timed_out, 1);
        assert_eq!(s.next_replay(), Some(at(0)));
        s.emitted(at(0), 102, 5);
        assert_eq!(s.counters.replayed, 1);
        assert_eq!(s.next_new().collect::<Vec<_>>(), vec![at(2)]);
        s.ack(102);
        assert_eq!(s.committed(), vec![(0, 2)]);
        assert!(s.is_idle());
    }

    #[test]
    fn without_acking_every_emit_is_done() {
        let mut s = SpoutExecutor::new(false, Some(1), &[(0, 0)]);
        s.emitted(at(0), 0, 0);
        s.emitted(at(1), 0, 0);
        assert!(s.can_emit());
        assert_eq!(s.committed(), vec![(0, 2)]);
    }
}
