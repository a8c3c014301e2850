//! Bolts: what a tuple does in a map, filter, sink, windowed or Trident aggregating bolt, anchored
//! emits, acks, explicit fails, and the acker's outcomes.

use std::collections::BTreeMap;

use engine::graph::OperatorKind;
use engine::message::Record;
use engine::sink::{SinkEffect, SinkKind, SinkRow};
use engine::storm::acker::AckerOutcome;
use engine::storm::anchor::{ack_messages, emit_anchored, Held, MessageId};
use engine::storm::window::{Fired, TupleFate, WindowedBolt};
use engine::storm::RootId;

use crate::kernel::TimeNs;
use crate::recording::{About, AckerMessage, Payload};

use super::trident::BatchPartials;
use super::{Msg, Role, StormCore};

#[derive(Clone, Debug)]
pub(super) enum BoltKind {
    Map(engine::transform::MapFn),
    Filter(engine::transform::FilterFn),
    Window {
        bolt: Box<WindowedBolt<u64>>,
        held: BTreeMap<u64, Held>,
        next_handle: u64,
    },
    /// Trident's aggregation into state: partial aggregates per txid.
    TridentAggregate {
        partial: BTreeMap<u64, (u32, BatchPartials)>,
    },
    Sink(SinkKind),
}

/// What a bolt does with a tuple (a copy of its kind, so the world can be borrowed meanwhile).
pub(super) enum BoltStep {
    Map(engine::transform::MapFn),
    Filter(engine::transform::FilterFn),
    Sink(SinkKind),
    Trident,
    Window,
}

impl StormCore {
    /// Emit `record` from a bolt, anchored to `anchors` (one tuple per target).
    pub(super) fn bolt_emit(
        &mut self,
        task: usize,
        record: Record,
        anchors: &mut [&mut Held],
        batch: Option<(u64, u32)>,
        now: TimeNs,
    ) {
        let targets = self.targets(task, &record);
        for to in targets {
            let rng = &mut self.id_rng;
            let mut next = || rng.next_u64();
            let id = emit_anchored(anchors.iter_mut().map(|h| &mut **h), &mut next);
            self.send(task, to, Msg::Tuple { record: record.clone(), id, batch }, now);
        }
    }

    pub(super) fn ack(&mut self, task: usize, held: &Held, now: TimeNs) {
        for (root, value) in ack_messages(held) {
            if let Some(acker) = self.acker_of(root) {
                let ack = Payload::StormAckerMessage { message: AckerMessage::Ack, root, value };
                self.recorder.record_payload(now, About::Executor(task), None, ack);
                self.send(task, acker, Msg::AckerAck { root, value }, now);
            }
        }
    }

    pub(super) fn acker_outcome(&mut self, task: usize, root: RootId, out: AckerOutcome, now: TimeNs) {
        match out {
            AckerOutcome::Pending => {}
            AckerOutcome::Complete { spout_task } => {
                self.recorder.record_payload(
                    now,
                    About::Executor(task),
                    None,
                    Payload::StormTreeComplete { root, failed: false },
                );
                self.send(task, spout_task as usize, Msg::SpoutAck { root }, now);
            }
            AckerOutcome::Failed { spout_task } => {
                self.recorder.record_payload(
                    now,
                    About::Executor(task),
                    None,
                    Payload::StormTreeComplete { root, failed: true },
                );
                self.send(task, spout_task as usize, Msg::SpoutFail { root }, now);
            }
        }
    }

    pub(super) fn bolt_tuple(
        &mut self,
        task: usize,
        record: Record,
        id: MessageId,
        batch: Option<(u64, u32)>,
        now: TimeNs,
    ) {
        let mut held = Held::new(id);
        let Some(subtask) = self.execs[task].subtask else { return };
        let kind = match &self.execs[task].role {
            Role::Bolt { kind, .. } => match kind {
                BoltKind::Map(f) => BoltStep::Map(f.clone()),
                BoltKind::Filter(f) => BoltStep::Filter(f.clone()),
                BoltKind::Sink(k) => BoltStep::Sink(*k),
                BoltKind::TridentAggregate { .. } => BoltStep::Trident,
                BoltKind::Window { .. } => BoltStep::Window,
            },
            _ => return,
        };
        if matches!(kind, BoltStep::Map(_) | BoltStep::Filter(_) | BoltStep::Sink(_))
            && self.bolt_fails(task, &record, &held, now)
        {
            return;
        }
        match kind {
            BoltStep::Map(f) => {
                let mut r = record;
                f.apply(&mut r);
                self.bolt_emit(task, r, &mut [&mut held], batch, now);
                self.ack(task, &held, now);
            }
            BoltStep::Filter(f) => {
                if f.keeps(&record) {
                    self.bolt_emit(task, record, &mut [&mut held], batch, now);
                }
                self.ack(task, &held, now);
            }
            BoltStep::Sink(kind) => {
                let row = SinkRow::from_record(record);
                let effect = match kind {
                    SinkKind::Idempotent => SinkEffect::Upsert(row),
                    _ => SinkEffect::Append(row),
                };
                let sink_op = self.scenario.plan.subtask(subtask).operator;
                self.recorder.record_payload(now, About::Executor(task), None, Payload::of_sink_effect(&effect));
                self.sink_store.apply(sink_op, subtask, effect, now);
                self.sink_store.take_newly_visible();
                self.ack(task, &held, now);
            }
            BoltStep::Trident => {
                if let (Some((txid, attempt)), OperatorKind::Window(spec)) =
                    (batch, &self.scenario.plan.operator_of(subtask).kind)
                {
                    let mut windows = Vec::new();
                    spec.kind.assign(record.timestamp_ms, &mut windows);
                    let track = spec.track_lineage;
                    if let Role::Bolt { kind: BoltKind::TridentAggregate { partial }, .. } = &mut self.execs[task].role
                    {
                        // A replayed batch starts over: drop what an earlier attempt left.
                        let (seen, per_batch) = partial.entry(txid).or_insert((attempt, BTreeMap::new()));
                        if *seen != attempt {
                            *seen = attempt;
                            per_batch.clear();
                        }
                        for w in windows {
                            let p = per_batch.entry((w, record.key)).or_default();
                            p.acc.add(record.value);
                            if track {
                                p.lineage.push(record.source);
                            }
                            if record.ingest_ns >= p.newest_ingest_ns {
                                p.newest_ingest_ns = record.ingest_ns;
                                p.newest_source = record.source;
                            }
                        }
                    }
                }
                self.ack(task, &held, now);
            }
            BoltStep::Window => {
                let (mut fired, mut acks): (Vec<Fired<u64>>, Vec<u64>) = (Vec::new(), Vec::new());
                let Role::Bolt { kind: BoltKind::Window { bolt, held: store, next_handle }, .. } =
                    &mut self.execs[task].role
                else {
                    return;
                };
                let handle = *next_handle;
                *next_handle += 1;
                store.insert(handle, held);
                let fate = bolt.on_tuple(&record, handle, &mut fired, &mut acks);
                if fate == TupleFate::Late {
                    self.stats.late_dropped += 1;
                    self.late_sources.insert(record.source);
                    if !acks.contains(&handle) {
                        acks.push(handle);
                    }
                }
                self.window_results(task, fired, acks, now);
            }
        }
    }

    /// `collector.fail(tuple)` if a `fails` rule of this bolt matches the tuple and has not yet
    /// failed its source record `times` times here: a fail message per root to its acker (with
    /// acking off there is no acker: the tuple is simply not processed, and lost).
    pub(super) fn bolt_fails(&mut self, task: usize, record: &Record, held: &Held, now: TimeNs) -> bool {
        let Some(id) = self.execs[task].subtask else { return false };
        let op = self.scenario.plan.subtask(id).operator;
        let Some(times) = self.fail_rules.iter().find(|(o, f, _)| *o == op && f.keeps(record)).map(|r| r.2) else {
            return false;
        };
        let count = self.execs[task].failed.entry(record.source).or_insert(0);
        if *count >= times {
            return false;
        }
        *count += 1;
        self.stats.bolt_fails += 1;
        let roots: Vec<RootId> = held.id.roots().collect();
        for root in roots {
            if let Some(acker) = self.acker_of(root) {
                let fail = Payload::StormAckerMessage { message: AckerMessage::Fail, root, value: 0 };
                self.recorder.record_payload(now, About::Executor(task), None, fail);
                self.send(task, acker, Msg::AckerFail { root }, now);
            }
        }
        true
    }

    /// Emit fired windows anchored to their tuples, then ack the tuples that left every window.
    pub(super) fn window_results(&mut self, task: usize, fired: Vec<Fired<u64>>, acks: Vec<u64>, now: TimeNs) {
        for f in fired {
            let Role::Bolt { kind: BoltKind::Window { held, .. }, .. } = &mut self.execs[task].role else { return };
            let mut anchors: Vec<Held> = f.anchors.iter().filter_map(|h| held.remove(h)).collect();
            {
                let mut refs: Vec<&mut Held> = anchors.iter_mut().collect();
                self.bolt_emit(task, f.result, &mut refs, None, now);
            }
            let Role::Bolt { kind: BoltKind::Window { held, .. }, .. } = &mut self.execs[task].role else { return };
            for (h, a) in f.anchors.iter().zip(anchors) {
                held.insert(*h, a);
            }
        }
        for h in acks {
            let Role::Bolt { kind: BoltKind::Window { held, .. }, .. } = &mut self.execs[task].role else { return };
            if let Some(a) = held.remove(&h) {
                self.ack(task, &a, now);
            }
        }
    }

    pub(super) fn bolt_end(&mut self, task: usize, now: TimeNs) {
        let Some(id) = self.execs[task].subtask else { return };
        let inputs = self.scenario.plan.subtask(id).inputs.len();
        let Role::Bolt { kind, ends } = &mut self.execs[task].role else { return };
        *ends += 1;
        let all = *ends >= inputs;
        if let BoltKind::Window { bolt, .. } = kind {
            let (mut fired, mut acks) = (Vec::new(), Vec::new());
            bolt.on_end(&mut fired, &mut acks);
            self.window_results(task, fired, acks, now);
        }
        if all {
            self.send_end_downstream(task, id, now);
        }
    }
}
