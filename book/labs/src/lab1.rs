//! Lab 1: the barrier aligner (exactly-once alignment, Flink's asynchronous barrier snapshots).
//!
//! A subtask with several input channels receives records and checkpoint barriers on each, in
//! order per channel. Your [`Aligner`] decides, per barrier, whether the checkpoint is complete
//! (snapshot now) and which inputs must not be read meanwhile. The suite ([`grade`]) is open:
//! read it to see exactly what is checked.

use std::collections::BTreeMap;

use engine::checkpoint::{BarrierAligner, BarrierOutcome, CheckpointId, CheckpointMode};
use engine::graph::InputIndex;

use crate::Rng;

/// What the aligner decided about a barrier (or a finished input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// An old or repeated barrier: nothing to do.
    Ignored,
    /// Recorded; more inputs must deliver this barrier.
    Waiting,
    /// Every input delivered barrier `checkpoint_id`: the subtask snapshots now.
    Complete(u64),
}

/// The interface the student implements. One aligner serves one subtask with `inputs` inputs
/// (the constructor is the student's: see `student/aligner.rs`).
pub trait Aligner {
    /// Barrier `checkpoint_id` arrived on `input`.
    fn on_barrier(&mut self, input: usize, checkpoint_id: u64) -> Decision;
    /// `input` ended: it counts as having delivered every future barrier. May complete a pending
    /// checkpoint.
    fn on_input_finished(&mut self, input: usize) -> Option<Decision>;
    /// May the subtask read the next message of `input` now? (false while it is blocked)
    fn is_blocked(&self, input: usize) -> bool;
}

/// The engine's own aligner behind the lab's interface (it must pass the same suite).
pub struct EngineAligner(pub BarrierAligner);

impl EngineAligner {
    pub fn exactly_once(inputs: usize) -> EngineAligner {
        EngineAligner(BarrierAligner::new(CheckpointMode::ExactlyOnce, inputs))
    }
    /// The engine's at-least-once tracker: counts barriers, never blocks. Not an exactly-once
    /// aligner: the suite must catch it.
    pub fn at_least_once(inputs: usize) -> EngineAligner {
        EngineAligner(BarrierAligner::new(CheckpointMode::AtLeastOnce, inputs))
    }
}

/// The lab's plain input number as the engine's type (the lab never has more than a handful).
fn engine_input(input: usize) -> InputIndex {
    InputIndex::from_raw(input as u32)
}

fn decision(outcome: BarrierOutcome) -> Decision {
    match outcome {
        BarrierOutcome::Ignored => Decision::Ignored,
        BarrierOutcome::Waiting { .. } => Decision::Waiting,
        BarrierOutcome::Complete { checkpoint_id, .. } => Decision::Complete(checkpoint_id.get()),
    }
}

impl Aligner for EngineAligner {
    fn on_barrier(&mut self, input: usize, checkpoint_id: u64) -> Decision {
        // The lab keeps plain numbers (the student's interface); the engine types them.
        decision(self.0.on_barrier(engine_input(input), CheckpointId::from_raw(checkpoint_id), 0))
    }
    fn on_input_finished(&mut self, input: usize) -> Option<Decision> {
        self.0.on_input_finished(engine_input(input)).map(decision)
    }
    fn is_blocked(&self, input: usize) -> bool {
        self.0.is_blocked(engine_input(input))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Msg {
    Record { key: u8 },
    Barrier(u64),
}

/// A snapshot: the checkpoint, the counts, and per input the position just after its barrier
/// (where the replay starts: the source offsets of the cut).
#[derive(Clone, Debug)]
struct Snapshot {
    id: u64,
    counts: BTreeMap<u8, u64>,
    positions: Vec<usize>,
}

/// One seeded case: 2–4 inputs, 20–60 records each, 1–4 checkpoints whose barriers sit at
/// increasing positions in every input.
fn channels(rng: &mut Rng) -> Vec<Vec<Msg>> {
    let inputs = 2 + rng.below(3);
    let checkpoints = 1 + rng.below(4) as u64;
    (0..inputs)
        .map(|_| {
            let records = 20 + rng.below(41);
            let mut msgs: Vec<Msg> = (0..records).map(|_| Msg::Record { key: rng.below(4) as u8 }).collect();
            let mut at: Vec<usize> = (0..checkpoints).map(|_| rng.below(records + 1)).collect();
            at.sort_unstable();
            for (i, pos) in at.iter().enumerate().rev() {
                msgs.insert(*pos, Msg::Barrier(i as u64 + 1));
            }
            msgs
        })
        .collect()
}

/// Run the subtask from `start` positions with `counts`, reading a random readable input each
/// step; returns the final counts and the snapshots taken. Errors on a broken invariant.
fn run(
    chans: &[Vec<Msg>],
    aligner: &mut dyn Aligner,
    mut counts: BTreeMap<u8, u64>,
    start: Vec<usize>,
    rng: &mut Rng,
) -> Result<(BTreeMap<u8, u64>, Vec<Snapshot>), String> {
    let mut pos = start;
    let mut finished = vec![false; chans.len()];
    let mut snapshots: Vec<Snapshot> = Vec::new();
    // Per input, the position after the barrier of each checkpoint it delivered.
    let mut after_barrier: Vec<BTreeMap<u64, usize>> = vec![BTreeMap::new(); chans.len()];
    let mut on = |d: Decision, counts: &BTreeMap<u8, u64>, after: &[BTreeMap<u64, usize>], pos: &[usize]| {
        if let Decision::Complete(id) = d {
            if snapshots.last().is_some_and(|s| s.id >= id) {
                return Err(format!(
                    "checkpoint {id} completed after checkpoint {}",
                    snapshots.last().map_or(0, |s| s.id)
                ));
            }
            // An input that has not delivered barrier `id` yet (only possible if it finished)
            // replays from where it is.
            let positions = after.iter().zip(pos).map(|(a, p)| a.get(&id).copied().unwrap_or(*p)).collect();
            snapshots.push(Snapshot { id, counts: counts.clone(), positions });
        }
        Ok(())
    };
    loop {
        for i in 0..chans.len() {
            if !finished[i] && pos[i] >= chans[i].len() {
                finished[i] = true;
                if let Some(d) = aligner.on_input_finished(i) {
                    on(d, &counts, &after_barrier, &pos)?;
                }
            }
        }
        let readable: Vec<usize> =
            (0..chans.len()).filter(|&i| pos[i] < chans[i].len() && !aligner.is_blocked(i)).collect();
        if readable.is_empty() {
            if (0..chans.len()).any(|i| pos[i] < chans[i].len()) {
                return Err(format!("stuck: every input with data left is blocked (positions {pos:?})"));
            }
            return Ok((counts, snapshots));
        }
        let i = readable[rng.below(readable.len())];
        let msg = chans[i][pos[i]];
        pos[i] += 1;
        match msg {
            Msg::Record { key } => *counts.entry(key).or_default() += 1,
            Msg::Barrier(id) => {
                after_barrier[i].insert(id, pos[i]);
                let d = aligner.on_barrier(i, id);
                on(d, &counts, &after_barrier, &pos)?;
            }
        }
    }
}

fn totals(chans: &[Vec<Msg>]) -> BTreeMap<u8, u64> {
    let mut t = BTreeMap::new();
    for m in chans.iter().flatten() {
        if let Msg::Record { key } = m {
            *t.entry(*key).or_default() += 1;
        }
    }
    t
}

/// Grade an aligner over `seeds`: for every seed, a fault-free run must count every record
/// once and complete every checkpoint in order; and, for every snapshot taken, a crash
/// right after it, a restore (counts from the snapshot, every input replayed from its barrier's
/// position, a fresh aligner) must end with exactly the fault-free counts. The first failure is
/// returned with its seed, so it replays.
pub fn grade(new: &dyn Fn(usize) -> Box<dyn Aligner>, seeds: std::ops::Range<u64>) -> Result<(), String> {
    for seed in seeds {
        let mut rng = Rng::new(seed);
        let chans = channels(&mut rng);
        let expected = totals(&chans);
        let checkpoints = chans[0].iter().filter(|m| matches!(m, Msg::Barrier(_))).count() as u64;
        let mut aligner = new(chans.len());
        let (counts, snapshots) = run(&chans, aligner.as_mut(), BTreeMap::new(), vec![0; chans.len()], &mut rng)
            .map_err(|e| format!("seed {seed}: {e}"))?;
        if counts != expected {
            return Err(format!("seed {seed}: without a crash the counts are {counts:?}, expected {expected:?}"));
        }
        for s in &snapshots {
            let mut fresh = new(chans.len());
            let (after, _) = run(&chans, fresh.as_mut(), s.counts.clone(), s.positions.clone(), &mut rng)
                .map_err(|e| format!("seed {seed}, restored from checkpoint {}: {e}", s.id))?;
            if after != expected {
                let over: u64 = after.values().sum::<u64>().saturating_sub(expected.values().sum());
                return Err(format!(
                    "seed {seed}: restored from checkpoint {} the counts are {after:?}, expected {expected:?} \
                     (over-count {over}: records read after a barrier on one input, before the others delivered \
                     it, are in the snapshot and replayed again)",
                    s.id
                ));
            }
        }
        // Last, so that a wrong snapshot is reported as what it does to the output.
        let ids: Vec<u64> = snapshots.iter().map(|s| s.id).collect();
        if ids != (1..=checkpoints).collect::<Vec<_>>() {
            return Err(format!("seed {seed}: checkpoints completed {ids:?}, expected 1..={checkpoints} in order"));
        }
    }
    Ok(())
}
