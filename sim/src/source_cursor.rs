//! Which log entry a source subtask reads next, without scanning its partitions: a min-heap of
//! each partition's next entry by `(append time, partition)`. A source reading many partitions
//! (parallelism 1 over 64 of them) pays O(log n) per record, not n log lookups.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use engine::SourceRef;

use crate::external::SourceLog;
use crate::kernel::TimeNs;

/// What a source should do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextRead {
    /// Read this entry: the earliest-appended readable one (ties: the lowest partition).
    Read(SourceRef),
    /// Nothing readable yet; the next entry is appended at this time.
    WaitUntil(TimeNs),
    /// The log holds nothing more for this subtask.
    Exhausted,
}

/// The next entry of each of a source subtask's partitions that still has one.
#[derive(Clone, Debug, Default)]
pub struct SourceCursor {
    heads: BinaryHeap<Reverse<(TimeNs, u32, u64)>>,
}

impl SourceCursor {
    /// From the subtask's `(partition, next offset)` positions.
    pub fn new(positions: impl Iterator<Item = (u32, u64)>, log: &SourceLog) -> Self {
        let mut cursor = SourceCursor::default();
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

    pub fn next(&self, now: TimeNs) -> NextRead {
        match self.heads.peek() {
            None => NextRead::Exhausted,
            Some(&Reverse((append_ns, partition, offset))) if append_ns <= now => {
                NextRead::Read(SourceRef { partition, offset })
            }
            Some(&Reverse((append_ns, _, _))) => NextRead::WaitUntil(append_ns),
        }
    }

    /// The entry [`SourceCursor::next`] returned was read: its partition moves on by one.
    pub fn advance(&mut self, log: &SourceLog) {
        if let Some(Reverse((_, partition, offset))) = self.heads.pop() {
            self.push(log, partition, offset + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::external::LogEntry;

    fn entry(append_ms: u64) -> LogEntry {
        LogEntry { append_ns: append_ms * 1_000_000, key: 0, value: 0, timestamp_ms: 0 }
    }

    /// The cursor picks what a scan over the partitions' next entries picks, read after read.
    #[test]
    fn reads_in_the_order_a_scan_would() {
        let log = SourceLog {
            partitions: vec![
                vec![entry(1), entry(5), entry(5), entry(9)],
                vec![entry(5), entry(6)],
                vec![],
                vec![entry(0), entry(5), entry(20)],
            ],
        };
        let mut positions = vec![(0u32, 0u64), (1, 0), (2, 0), (3, 1)];
        let mut cursor = SourceCursor::new(positions.iter().copied(), &log);
        let scan = |positions: &[(u32, u64)], now: TimeNs| {
            let mut next: Option<(TimeNs, u32, u64)> = None;
            let mut upcoming: Option<TimeNs> = None;
            for &(p, o) in positions {
                let Some(e) = log.entry(SourceRef { partition: p, offset: o }) else { continue };
                if e.append_ns <= now {
                    if next.is_none_or(|(t, q, _)| (e.append_ns, p) < (t, q)) {
                        next = Some((e.append_ns, p, o));
                    }
                } else {
                    upcoming = Some(upcoming.map_or(e.append_ns, |u| u.min(e.append_ns)));
                }
            }
            match (next, upcoming) {
                (Some((_, p, o)), _) => NextRead::Read(SourceRef { partition: p, offset: o }),
                (None, Some(t)) => NextRead::WaitUntil(t),
                (None, None) => NextRead::Exhausted,
            }
        };
        let mut now = 0;
        let mut reads = 0;
        loop {
            let expected = scan(&positions, now);
            assert_eq!(cursor.next(now), expected, "at {now} ns");
            match expected {
                NextRead::Read(at) => {
                    reads += 1;
                    positions.iter_mut().find(|(p, _)| *p == at.partition).expect("read partition").1 += 1;
                    cursor.advance(&log);
                    now += 700_000;
                }
                NextRead::WaitUntil(t) => now = t,
                NextRead::Exhausted => break,
            }
        }
        assert_eq!(reads, 8);
    }
}
