//! Which log entry a source subtask reads next, without scanning its partitions: a min-heap of
//! each partition's next entry by `(append time, partition)`. A source reading many partitions
//! (parallelism 1 over 64 of them) pays O(log n) per record, not n log lookups. Both worlds read
//! through it ([`SourceCursor::read_fetched`], the job rule [`crate::job::task::next_source_read`] answered
//! from the heap).

use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::BinaryHeap;

use engine::graph::SubtaskId;
use engine::subtask::Subtask;
use engine::SourceRef;

use crate::external::SourceLog;
use crate::job::task::SourceRead;
use crate::kernel::TimeNs;
use crate::scenario::Scenario;

/// The next entry of each of a source subtask's partitions that still has one.
#[derive(Clone, Debug, Default)]
pub struct SourceCursor {
    heads: BinaryHeap<Reverse<(TimeNs, u32, u64)>>,
    /// The subtask's `records_in` this cursor is in step with (one more per entry read).
    reads: u64,
    /// The consumer's fetches (None: a record is readable when it is appended).
    fetch: Option<Fetch>,
}

/// Kafka's `fetch.max.wait.ms` default: how long the broker holds a fetch that finds no record
/// before it answers empty (and the consumer asks again).
pub const FETCH_MAX_WAIT_NS: TimeNs = 500_000_000;

/// A source subtask's Kafka consumer as the world sets it up: its one-way latency to the broker,
/// and when it has its splits (partitions) and starts fetching ([`ConsumerStart`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Consumer {
    pub one_way_ns: TimeNs,
    pub splits_assigned_ns: TimeNs,
}

/// How a deployed source subtask's consumer starts, as in Flink's FLIP-27 sources: the one rule
/// both worlds follow. A reader restored from a checkpoint has its splits (partitions) in its
/// state and fetches at once; a fresh one (the first deployment, or a restart with nothing to
/// restore) has none until it has registered with the JobManager's source coordinator and the
/// enumerator has answered with its splits, a round trip between its node and the JobManager.
/// How that round trip is carried is the world's: the kernel draws it from the scenario's
/// latencies (`World::start_consumer`), the madsim world sends the registration over its network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerStart {
    /// Its source does not fetch (`fetch_latency_us` 0): a record is readable when appended.
    AtAppend,
    /// It has its splits and fetches.
    Fetching(Consumer),
    /// Registering: it fetches once its splits arrive ([`ConsumerStart::splits_assigned`]).
    Registering { one_way_ns: TimeNs },
}

impl ConsumerStart {
    /// The consumer of source subtask `subtask` of `scenario`, deployed at `deployed_ns`,
    /// `restored` from a checkpoint or not.
    pub fn decide(scenario: &Scenario, subtask: SubtaskId, restored: bool, deployed_ns: TimeNs) -> ConsumerStart {
        let operator = scenario.plan.subtask(subtask).operator;
        let one_way_ns = scenario.fetch_latency_ns.get(operator).copied().unwrap_or(0);
        if one_way_ns == 0 {
            ConsumerStart::AtAppend
        } else if restored {
            ConsumerStart::Fetching(Consumer { one_way_ns, splits_assigned_ns: deployed_ns })
        } else {
            ConsumerStart::Registering { one_way_ns }
        }
    }

    /// The enumerator's answer reached a registering consumer at `at_ns`: it fetches from then on.
    /// (A consumer that is not registering is left as it is.)
    pub fn splits_assigned(self, at_ns: TimeNs) -> ConsumerStart {
        match self {
            ConsumerStart::Registering { one_way_ns } => {
                ConsumerStart::Fetching(Consumer { one_way_ns, splits_assigned_ns: at_ns })
            }
            other => other,
        }
    }
}

/// A source subtask's Kafka consumer, long-polling one broker for all its partitions: one fetch in
/// flight; the broker answers once a record is there (`fetch.min.bytes` = 1) with every record
/// appended up to that moment, or empty after [`FETCH_MAX_WAIT_NS`]; the answer takes the one-way
/// latency back and the next request goes out when it arrives. So a record appended at `a` is
/// readable at `answer + one_way`, where `answer` is the first fetch's answer at or after `a`.
/// Computed from append times only, lazily, one fetch at a time: no randomness, and transient (a
/// redeployed subtask starts a fresh consumer, as a restarted Flink task does).
#[derive(Clone, Copy, Debug)]
pub struct Fetch {
    one_way_ns: TimeNs,
    /// The latest answer that held records: every unread entry appended at or before it is in it.
    answered_ns: Option<TimeNs>,
    /// When the request after that answer reaches the broker.
    request_ns: TimeNs,
}

impl Fetch {
    /// A consumer that sends its first request when it has its splits (the request reaches the
    /// broker a one-way later).
    pub fn new(consumer: Consumer) -> Fetch {
        let Consumer { one_way_ns, splits_assigned_ns } = consumer;
        Fetch { one_way_ns, answered_ns: None, request_ns: splits_assigned_ns + one_way_ns }
    }

    /// When the entry appended at `append_ns` is readable. It must be the earliest unread entry
    /// (the cursor's head): then every entry the answers so far left out was appended at or after
    /// it, so the next answer is the first one at or after `append_ns`.
    fn readable_ns(&mut self, append_ns: TimeNs) -> TimeNs {
        if let Some(answered) = self.answered_ns.filter(|&a| append_ns <= a) {
            return answered + self.one_way_ns;
        }
        // Requests that wait out `fetch.max.wait.ms` come back empty and go out again, one per
        // period, until one is at the broker within the wait before `append_ns`.
        let period_ns = FETCH_MAX_WAIT_NS + 2 * self.one_way_ns;
        let late_ns = append_ns.saturating_sub(self.request_ns + FETCH_MAX_WAIT_NS);
        let request_ns = self.request_ns + late_ns.div_ceil(period_ns) * period_ns;
        let answer_ns = request_ns.max(append_ns);
        self.answered_ns = Some(answer_ns);
        self.request_ns = answer_ns + 2 * self.one_way_ns;
        answer_ns + self.one_way_ns
    }
}

impl SourceCursor {
    /// From a subtask's `(partition, next offset)` positions, having read `reads` records.
    pub fn new(positions: impl Iterator<Item = (u32, u64)>, log: &SourceLog, reads: u64) -> Self {
        let mut cursor = SourceCursor { heads: BinaryHeap::new(), reads, fetch: None };
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
    /// nothing is readable), read through a Kafka `consumer` ([`Fetch`]: an entry is readable when
    /// its fetch's answer arrives; None: when it is appended). `slot` is the task's cursor: built
    /// from the subtask's positions on first use, and again whenever it is out of step with the
    /// subtask (a redeployed subtask starts counting its records from zero, and a fresh consumer;
    /// a world also clears the slot when it deploys).
    pub fn read_fetched(
        slot: &mut Option<SourceCursor>,
        subtask: &Subtask,
        log: &SourceLog,
        now: TimeNs,
        consumer: Option<Consumer>,
    ) -> SourceRead {
        let reads = subtask.counters().records_in;
        if slot.as_ref().is_none_or(|c| c.reads != reads) {
            let mut cursor = SourceCursor::new(subtask.source_positions(), log, reads);
            cursor.fetch = consumer.map(Fetch::new);
            *slot = Some(cursor);
        }
        let Some(cursor) = slot.as_mut() else {
            return SourceRead { next: None, upcoming: None, exhausted: true };
        };
        let Some(&Reverse(head)) = cursor.heads.peek() else {
            return SourceRead { next: None, upcoming: None, exhausted: true };
        };
        let readable_ns = match &mut cursor.fetch {
            None => head.0,
            Some(fetch) => fetch.readable_ns(head.0),
        };
        if readable_ns <= now {
            SourceRead { next: Some(head), upcoming: None, exhausted: false }
        } else {
            SourceRead { next: None, upcoming: Some(readable_ns), exhausted: false }
        }
    }

    /// [`SourceCursor::read_fetched`] through a consumer as it `start`s ([`ConsumerStart`]): a
    /// registering one reads nothing yet, and knows no time it will (the enumerator's answer
    /// tells it).
    pub fn read_started(
        slot: &mut Option<SourceCursor>,
        subtask: &Subtask,
        log: &SourceLog,
        now: TimeNs,
        start: ConsumerStart,
    ) -> SourceRead {
        match start {
            ConsumerStart::AtAppend => SourceCursor::read_fetched(slot, subtask, log, now, None),
            ConsumerStart::Fetching(consumer) => SourceCursor::read_fetched(slot, subtask, log, now, Some(consumer)),
            ConsumerStart::Registering { .. } => SourceRead { next: None, upcoming: None, exhausted: false },
        }
    }

    /// The entry [`SourceCursor::read_fetched`] named was read (`Subtask::handle_source_record`): its
    /// partition moves on by one.
    pub fn advance(slot: &mut Option<SourceCursor>, log: &SourceLog) {
        if let Some(cursor) = slot {
            if let Some(mut head) = cursor.heads.peek_mut() {
                // The partition's next entry takes the head's place: one sift, not a pop and a push.
                let Reverse((_, partition, offset)) = *head;
                let next = SourceRef { partition, offset: offset + 1 };
                match log.entry(next) {
                    Some(entry) => *head = Reverse((entry.append_ns, partition, next.offset)),
                    None => {
                        PeekMut::pop(head);
                    }
                }
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

    /// The start rule: no fetch, no consumer; restored, fetching from the deployment; fresh,
    /// registering, reading nothing (appended records or not) until its splits arrive, then
    /// fetching from that moment.
    #[test]
    fn a_fresh_consumer_reads_nothing_until_its_splits_arrive() {
        let text = |fetch_latency_us: u64| {
            format!(
                r#"Scenario(
                name: "start", duration_ms: 100,
                cluster: (task_managers: 1, slots_per_task_manager: 1),
                source: Generator((partitions: 2, rate_per_s: 1000, keys: 5, value: Constant(1))),
                watermarks: None,
                pipeline: [Source(name: "s", parallelism: 1, fetch_latency_us: {fetch_latency_us}), Sink(name: "k", parallelism: 1)],
            )"#
            )
        };
        let source = SubtaskId::from_raw(0);
        let plain = Scenario::parse(&text(0), "(test)").expect("valid");
        assert_eq!(ConsumerStart::decide(&plain, source, false, 7), ConsumerStart::AtAppend);
        let scenario = Arc::new(Scenario::parse(&text(300), "(test)").expect("valid"));
        let one_way_ns = 300_000;
        let fetching = |at| ConsumerStart::Fetching(Consumer { one_way_ns, splits_assigned_ns: at });
        assert_eq!(ConsumerStart::decide(&scenario, source, true, 7), fetching(7));
        let fresh = ConsumerStart::decide(&scenario, source, false, 7);
        assert_eq!(fresh, ConsumerStart::Registering { one_way_ns });

        let log = crate::World::new(scenario.clone(), 3, crate::RunOptions::default()).log.clone();
        let subtask = engine::subtask::Subtask::new(&scenario.plan, source, None, 0, 0);
        let (late_ns, mut slot) = (90_000_000, None);
        let registering = SourceCursor::read_started(&mut slot, &subtask, &log, late_ns, fresh);
        assert_eq!((registering.next, registering.upcoming, registering.exhausted), (None, None, false));
        let started = fresh.splits_assigned(late_ns);
        assert_eq!(started, fetching(late_ns));
        let first = SourceCursor::read_started(&mut slot, &subtask, &log, late_ns, started);
        // The first request reaches the broker a one-way after the splits, its answer is back a
        // one-way later.
        assert_eq!((first.next, first.upcoming), (None, Some(late_ns + 2 * one_way_ns)));
        assert_eq!(started.splits_assigned(late_ns + 1), started, "assigned once");
    }

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
            let got = SourceCursor::read_fetched(&mut slot, &subtask, &log, now, None);
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
