//! Trident: the master batch coordinator (batches with txids, replays, commits in order), the
//! spouts' batches, the aggregating bolts' commits into transactional or opaque state, and the
//! final values the committed watermark releases to the sink.

use std::collections::{BTreeMap, BTreeSet};

use engine::graph::OperatorKind;
use engine::message::Record;
use engine::ms_to_ns;
use engine::sink::{SinkEffect, SinkRow};
use engine::storm::anchor::MessageId;
use engine::storm::trident::{OpaqueState, TransactionalState, TridentCoordinator};
use engine::window::{Accumulator, Aggregate, Window};
use engine::{Key, SourceRef};

use crate::external::SourceLog;
use crate::kernel::TimeNs;
use crate::recording::{About, AckerMessage, Payload, TimedOut};
use crate::scenario::{Trident, TridentState};

use super::bolt::BoltKind;
use super::{executor_of, Msg, Out, Role, StormCore, Timer};

/// One counting task's partial aggregates of one batch, per window and key.
pub(super) type BatchPartials = BTreeMap<(Window, Key), Partial>;

/// A partial aggregate of one window and key: the value so far, its lineage, and its newest
/// record (for latency).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Partial {
    pub acc: Accumulator,
    pub lineage: Vec<SourceRef>,
    pub newest_ingest_ns: u64,
    pub newest_source: SourceRef,
}

/// Trident's coordinator and its durable state (ZooKeeper and the state store survive crashes).
#[derive(Clone, Debug)]
pub(super) struct TridentRuntime {
    pub(super) batch_ns: TimeNs,
    pub(super) coordinator: TridentCoordinator<(TimeNs, TimeNs)>,
    pub(super) next_batch_from: TimeNs,
    /// Per txid: spout tasks whose part is outstanding, bolts whose commit is outstanding, began.
    pub(super) parts: BTreeMap<u64, BTreeSet<usize>>,
    pub(super) commits: BTreeMap<u64, BTreeSet<usize>>,
    pub(super) began: BTreeMap<u64, TimeNs>,
    /// Per txid how often it was emitted (a replay is attempt 2, ...).
    pub(super) attempts: BTreeMap<u64, u32>,
    /// Per txid the largest event time in it (committed watermark).
    pub(super) max_ts: BTreeMap<u64, i64>,
    pub(super) transactional: TransactionalState<(Window, Key), Partial>,
    pub(super) opaque: OpaqueState<(Window, Key), Partial>,
    pub(super) state_kind: TridentState,
    pub(super) emitted: BTreeSet<(Window, Key)>,
    pub(super) committed_max_ts: i64,
    pub(super) log_end_ns: TimeNs,
    pub(super) done: bool,
}

impl TridentRuntime {
    /// Nothing begun yet; `max_spout_pending` bounds the batches in flight.
    pub(super) fn new(config: Trident, max_spout_pending: Option<u32>, log: &SourceLog) -> Self {
        TridentRuntime {
            batch_ns: ms_to_ns(config.batch_ms),
            coordinator: TridentCoordinator::new(max_spout_pending.unwrap_or(u32::MAX) as usize),
            next_batch_from: 0,
            parts: BTreeMap::new(),
            commits: BTreeMap::new(),
            began: BTreeMap::new(),
            attempts: BTreeMap::new(),
            max_ts: BTreeMap::new(),
            transactional: TransactionalState::default(),
            opaque: OpaqueState::default(),
            state_kind: config.state,
            emitted: BTreeSet::new(),
            committed_max_ts: i64::MIN,
            log_end_ns: log.partitions.iter().filter_map(|p| p.last()).map(|e| e.append_ns).max().unwrap_or(0),
            done: false,
        }
    }

    /// Is `attempt` the batch's latest emission? A message about an earlier one (a late ack or
    /// commit from before a replay) says nothing about the replay.
    fn is_current(&self, txid: u64, attempt: u32) -> bool {
        self.attempts.get(&txid) == Some(&attempt)
    }
}

impl StormCore {
    /// The master batch coordinator runs on the first spout's worker (its state is durable).
    pub(super) fn coordinator_task(&self) -> usize {
        self.scenario.plan.source_subtasks().next().map_or(0, executor_of)
    }

    pub(super) fn trident_tick(&mut self, now: TimeNs) {
        let Some(t) = self.trident.as_ref() else { return };
        if t.done {
            return;
        }
        let period = t.batch_ns;
        self.out.push(Out::Timer { at: now + period, timer: Timer::TridentTick });
        let coord = self.coordinator_task();
        if !self.execs[coord].alive {
            return;
        }
        let timeout = ms_to_ns(self.config.message_timeout_ms);
        // Batches that outlived the message timeout fail and replay.
        let t = self.trident.as_mut().expect("checked");
        let expired: Vec<u64> =
            t.began.iter().filter(|(_, &b)| now.saturating_sub(b) > timeout).map(|(&x, _)| x).collect();
        for txid in expired {
            t.coordinator.fail(txid);
            t.began.remove(&txid);
            t.parts.remove(&txid);
            t.commits.remove(&txid);
            self.stats.timeouts += 1;
            self.recorder.record_payload(
                now,
                About::Executor(coord),
                None,
                Payload::StormTimeout(TimedOut::Batch { txid }),
            );
        }
        self.trident_begin_batches(now);
    }

    pub(super) fn trident_begin_batches(&mut self, now: TimeNs) {
        let coord = self.coordinator_task();
        let spouts: Vec<usize> = self.scenario.plan.source_subtasks().map(executor_of).collect();
        loop {
            let t = self.trident.as_mut().expect("trident");
            let (txid, (from, until), replay) = if let Some((txid, b)) = t.coordinator.take_replay() {
                (txid, b, true)
            } else if t.coordinator.can_begin() && t.next_batch_from <= t.log_end_ns {
                let until = t.next_batch_from + t.batch_ns;
                if until > now {
                    break; // its entries have not all arrived yet
                }
                let from = t.next_batch_from;
                t.next_batch_from = until;
                (t.coordinator.begin((from, until)), (from, until), false)
            } else {
                break;
            };
            t.began.insert(txid, now);
            let attempt = {
                let a = t.attempts.entry(txid).or_insert(0);
                *a += 1;
                *a
            };
            t.parts.insert(txid, spouts.iter().copied().collect());
            self.stats.trident_batches += 1;
            self.stats.trident_replays += replay as u64;
            self.recorder.record_payload(now, About::Executor(coord), None, Payload::TridentBatch { txid, replay });
            for &s in &spouts {
                self.send(coord, s, Msg::EmitBatch { txid, attempt, from_ns: from, until_ns: until }, now);
            }
        }
    }

    pub(super) fn spout_emit_batch(
        &mut self,
        task: usize,
        (txid, attempt): (u64, u32),
        from_ns: TimeNs,
        until_ns: TimeNs,
        now: TimeNs,
    ) -> u64 {
        let Role::Spout(s) = &self.execs[task].role else { return 0 };
        let partitions = s.partitions.clone();
        let root = self.id_rng.next_u64();
        let mut init = 0u64;
        let mut emitted = 0u64;
        let mut max_ts = i64::MIN;
        let log = self.log.clone();
        for p in partitions {
            let entries = &log.partitions[p as usize];
            let start = entries.partition_point(|e| e.append_ns < from_ns);
            let end = entries.partition_point(|e| e.append_ns < until_ns);
            for (offset, e) in entries.iter().enumerate().take(end).skip(start) {
                let e = *e;
                let source = SourceRef { partition: p, offset: offset as u64 };
                let record = Record {
                    key: e.key,
                    value: e.value,
                    timestamp_ms: e.timestamp_ms,
                    source,
                    ingest_ns: e.append_ns,
                    pane: None,
                };
                max_ts = max_ts.max(e.timestamp_ms);
                for to in self.targets(task, &record) {
                    let edge = self.id_rng.next_u64();
                    init ^= edge;
                    self.send(
                        task,
                        to,
                        Msg::Tuple {
                            record: record.clone(),
                            id: MessageId::spout(root, edge),
                            batch: Some((txid, attempt)),
                        },
                        now,
                    );
                }
                emitted += 1;
            }
        }
        self.stats.spout_emitted += emitted;
        self.execs[task].records_in += emitted;
        if let Some(t) = self.trident.as_mut() {
            let m = t.max_ts.entry(txid).or_insert(i64::MIN);
            *m = (*m).max(max_ts);
        }
        if let Role::Spout(s) = &mut self.execs[task].role {
            s.batch_roots.insert(root, (txid, attempt));
        }
        match self.acker_of(root) {
            Some(acker) => {
                self.recorder.record_payload(
                    now,
                    About::Executor(task),
                    None,
                    Payload::StormAckerMessage { message: AckerMessage::Init, root, value: init },
                );
                self.send(task, acker, Msg::AckerInit { root, value: init, spout: task as u32 }, now);
            }
            None => {
                let coordinator = self.coordinator_task();
                self.send(task, coordinator, Msg::BatchPartDone { txid, attempt, from: task as u32 }, now);
            }
        }
        let spout = self.execs[task].subtask.expect("a spout runs a plan subtask");
        let op = self.scenario.plan.subtask(spout).operator;
        self.scenario.record_cost_ns[op].saturating_mul(emitted.max(1))
    }

    pub(super) fn aggregator_tasks(&self) -> Vec<usize> {
        self.scenario
            .plan
            .subtask_ids()
            .filter(|&id| matches!(self.scenario.plan.operator_of(id).kind, OperatorKind::Window(_)))
            .map(executor_of)
            .collect()
    }

    pub(super) fn trident_part_done(&mut self, spout: usize, (txid, attempt): (u64, u32), now: TimeNs) {
        let Some(t) = self.trident.as_mut() else { return };
        if !t.is_current(txid, attempt) {
            return;
        }
        let Some(parts) = t.parts.get_mut(&txid) else { return };
        parts.remove(&spout);
        if !parts.is_empty() {
            return;
        }
        t.coordinator.processed(txid);
        self.trident_next_commit(now);
    }

    pub(super) fn trident_next_commit(&mut self, now: TimeNs) {
        let coord = self.coordinator_task();
        let aggregators = self.aggregator_tasks();
        let t = self.trident.as_mut().expect("trident");
        if let Some(txid) = t.coordinator.next_commit() {
            let began_ns = t.began.get(&txid).copied().unwrap_or(0);
            let attempt = t.attempts.get(&txid).copied().unwrap_or(0);
            t.commits.insert(txid, aggregators.iter().copied().collect());
            for a in aggregators {
                self.send(coord, a, Msg::Commit { txid, attempt, began_ns }, now);
            }
        }
    }

    pub(super) fn bolt_commit(&mut self, task: usize, (txid, attempt): (u64, u32), began_ns: TimeNs, now: TimeNs) {
        let started = self.execs[task].started_ns;
        let restarted = self.execs[task].incarnation > 0;
        let coord = self.coordinator_task();
        let Role::Bolt { kind: BoltKind::TridentAggregate { partial }, .. } = &mut self.execs[task].role else {
            return;
        };
        // A worker restarted after the batch began lost its part of the batch: fail the commit.
        if restarted && started > began_ns {
            self.send(task, coord, Msg::CommitDone { txid, attempt, ok: false, from: task as u32 }, now);
            return;
        }
        // The partials of this attempt only. A commit of an earlier attempt, arriving after the
        // batch's replay began, leaves the replay's partials for the replay's own commit.
        let updates = match partial.get(&txid) {
            Some((a, _)) if *a == attempt => partial.remove(&txid).map(|(_, u)| u).unwrap_or_default(),
            _ => BTreeMap::new(),
        };
        let Some(id) = self.execs[task].subtask else { return };
        let aggregate = match &self.scenario.plan.operator_of(id).kind {
            OperatorKind::Window(spec) => spec.aggregate,
            _ => Aggregate::Count,
        };
        let _ = aggregate;
        let t = self.trident.as_mut().expect("trident");
        let merge = |current: Option<&Partial>, p: &Partial| {
            let mut v = current.cloned().unwrap_or_default();
            v.acc.merge(&p.acc);
            v.lineage.extend(p.lineage.iter().copied());
            if p.newest_ingest_ns >= v.newest_ingest_ns {
                v.newest_ingest_ns = p.newest_ingest_ns;
                v.newest_source = p.newest_source;
            }
            v
        };
        let mut skipped = 0;
        for (k, p) in &updates {
            match t.state_kind {
                TridentState::Transactional => {
                    if !t.transactional.apply(*k, txid, |c| merge(c, p)) {
                        skipped += 1;
                    }
                }
                TridentState::OpaqueTransactional => t.opaque.apply(*k, txid, |c| merge(c, p)),
            }
        }
        self.stats.trident_skipped_updates += skipped;
        self.recorder.record_payload(now, About::Executor(task), None, Payload::TridentCommit { txid, skipped });
        self.send(task, coord, Msg::CommitDone { txid, attempt, ok: true, from: task as u32 }, now);
    }

    pub(super) fn trident_commit_done(&mut self, task: usize, (txid, attempt): (u64, u32), ok: bool, now: TimeNs) {
        let Some(t) = self.trident.as_mut() else { return };
        if !t.is_current(txid, attempt) {
            return;
        }
        if !ok {
            if t.commits.remove(&txid).is_some() {
                t.coordinator.fail(txid);
                t.began.remove(&txid);
                t.parts.remove(&txid);
                self.trident_begin_batches(now);
            }
            return;
        }
        let Some(waiting) = t.commits.get_mut(&txid) else { return };
        waiting.remove(&task);
        if !waiting.is_empty() {
            return;
        }
        t.commits.remove(&txid);
        t.began.remove(&txid);
        t.parts.remove(&txid);
        t.coordinator.commit_done(txid);
        if let Some(m) = t.max_ts.get(&txid) {
            t.committed_max_ts = t.committed_max_ts.max(*m);
        }
        let last = t.coordinator.is_idle() && t.next_batch_from > t.log_end_ns;
        let watermark = if last { i64::MAX } else { t.committed_max_ts.saturating_sub(self.window_lag_ms) };
        self.trident_emit(watermark, now);
        if last {
            if let Some(t) = self.trident.as_mut() {
                t.done = true;
            }
        }
        self.trident_next_commit(now);
        self.trident_begin_batches(now);
    }

    /// Windows the committed watermark passed: their final values go to the sink, once (the
    /// emitted set is part of the durable state).
    pub(super) fn trident_emit(&mut self, watermark: i64, now: TimeNs) {
        let Some(window_op) =
            self.scenario.plan.operators.iter().position(|o| matches!(o.kind, OperatorKind::Window(_)))
        else {
            return;
        };
        let aggregate = match &self.scenario.plan.operators[window_op].kind {
            OperatorKind::Window(spec) => spec.aggregate,
            _ => Aggregate::Count,
        };
        let sink = self.scenario.plan.operators.iter().position(|o| matches!(o.kind, OperatorKind::Sink(_)));
        let Some(sink) = sink else { return };
        let sink_subtask = self.scenario.plan.operators[sink].first_subtask;
        let t = self.trident.as_mut().expect("trident");
        let values: Vec<((Window, Key), Partial)> = match t.state_kind {
            TridentState::Transactional => t.transactional.map.iter().map(|(k, (v, _))| (*k, v.clone())).collect(),
            TridentState::OpaqueTransactional => t.opaque.map.iter().map(|(k, (v, _, _))| (*k, v.clone())).collect(),
        };
        for ((w, key), v) in values {
            if w.max_timestamp() > watermark || t.emitted.contains(&(w, key)) {
                continue;
            }
            t.emitted.insert((w, key));
            let row = SinkRow {
                key,
                value: v.acc.result(aggregate),
                timestamp_ms: w.max_timestamp(),
                window: Some(w),
                firing: engine::Firing::OnTime,
                lineage: v.lineage,
                ingest_ns: v.newest_ingest_ns,
            };
            let effect = SinkEffect::Append(row);
            self.recorder.record_payload(now, sink_subtask, None, Payload::of_sink_effect(&effect));
            self.sink_store.apply(sink, sink_subtask, effect, now);
        }
        self.sink_store.take_newly_visible();
    }
}
