//! Which log entry a source subtask reads next, without scanning its partitions: a min-heap of
//! each partition's next entry by `(append time, partition)`. A source reading many partitions
//! (parallelism 1 over 64 of them) pays O(log n) per record, not n log lookups. Both worlds read
//! through it ([`SourceCursor::read`], the job rule [`crate::job::task::next_source_read`] answered
//! from the heap).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use engine::subtask::Subtask;
use engine::SourceRef;

use crate::external::SourceLog;
use crate::job::task::SourceRead;
use crate::kernel::TimeNs;

/// The next entry of each of a source subtask's partitions that still has one.
#[derive(Clone, Debug, Default)]
pub struct SourceCursor {
    heads: BinaryHeap<Reverse<(TimeNs, u32, u64)>>,
    /// The subtask's `records_in` this cursor is in step with (one more per entry read).
    reads: u64,
}

impl SourceCursor {
    /// From a subtask's `(partition, next offset)` positions, having read `reads` records.
    pub fn new(positions: impl Iterator<Item = (u32, u64)>, log: &SourceLog, reads: u64) -> Self {
        let mut cursor = SourceCursor { heads: BinaryHeap::new(), reads };
        for (partition, offset) in positions {
            cursor.push(log, partition, offset);
        }
        cursor
    }

    fn push(&mut self, log: &SourceLog, partition: u32, offset: u64) {
        if let Some(entry) = log.entry(SourceRef { partition, offset }) {
            self.heads.push(Reverse((entry.append_ns, partition, offset)));
        }
    }

    /// What [`crate::job::task::next_source_read`] says for `subtask` at `now` (`upcoming` only when
    /// nothing is readable). `slot` is the task's cursor: built from the subtask's positions on
    /// first use, and again whenever it is out of step with the subtask (a redeployed subtask
    /// starts counting its records from zero; a world also clears the slot when it deploys).
    pub fn read(slot: &mut Option<SourceCursor>, subtask: &Subtask, log: &SourceLog, now: TimeNs) -> SourceRead {
        let reads = subtask.counters().records_in;
        if slot.as_ref().is_none_or(|c| c.reads != reads) {
            *slot = Some(SourceCursor::new(subtask.source_positions(), log, reads));
        }
        let top = slot.as_ref().and_then(|c| c.heads.peek().copied());
        match top {
            None => SourceRead { next: None, upcoming: None, exhausted: true },
            Some(Reverse(head)) if head.0 <= now => SourceRead { next: Some(head), upcoming: None, exhausted: false },
            Some(Reverse((append_ns, _, _))) => SourceRead { next: None, upcoming: Some(append_ns), exhausted: false },
        }
    }

    /// The entry [`SourceCursor::read`] named was read (`Subtask::handle_source_record`): its
    /// partition moves on by one.
    pub fn advance(slot: &mut Option<SourceCursor>, log: &SourceLog) {
        if let Some(cursor) = slot {
            if let Some(Reverse((_, partition, offset))) = cursor.heads.pop() {
                cursor.push(log, partition, offset + 1);
            }
            cursor.reads += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::job::task::next_source_read;
    use crate::Scenario;
    use engine::graph::SubtaskId;

    /// Through a whole run of a source over six partitions, the cursor names what the scanning
    /// rule names, read after read, and rebuilds itself for a redeployed subtask.
    #[test]
    fn reads_what_the_scanning_rule_reads() {
        let text = r#"Scenario(
            name: "cursor", duration_ms: 400,
            cluster: (task_managers: 1, slots_per_task_manager: 1),
            source: Generator((partitions: 6, rate_per_s: 300, keys: 5, value: Constant(1),
                               disorder: (delay: Uniform(min_ms: 0, max_ms: 30)))),
            watermarks: None,
            pipeline: [Source(name: "s", parallelism: 1), Sink(name: "k", parallelism: 1)],
        )"#;
        let scenario = Arc::new(Scenario::parse(text, "(test)").expect("valid"));
        let world = crate::World::new(scenario.clone(), 7, crate::RunOptions::default());
        let log = world.log.clone();
        let fresh = || engine::subtask::Subtask::new(&scenario.plan, SubtaskId::from_raw(0), None, 0, 0);
        let mut subtask = fresh();
        let mut slot = None;
        let (mut now, mut reads) = (0, 0);
        loop {
            let expected = next_source_read(&subtask, &log, now);
            let got = SourceCursor::read(&mut slot, &subtask, &log, now);
            assert_eq!((got.next, got.exhausted), (expected.next, expected.exhausted), "at {now} ns");
            match expected.next {
                Some((_, partition, offset)) => {
                    let event = log.event(SourceRef { partition, offset }).expect("named entries exist");
                    subtask.handle_source_record(partition, offset, event, now);
                    SourceCursor::advance(&mut slot, &log);
                    reads += 1;
                    now += 300_000;
                    if reads == 40 {
                        subtask = fresh(); // redeployed: back to offset 0 everywhere
                    }
                }
                None => match expected.upcoming {
                    Some(t) => {
                        assert_eq!(got.upcoming, Some(t));
                        now = t;
                    }
                    None => break,
                },
            }
        }
        assert!(reads > 100, "{reads} reads");
    }
}
