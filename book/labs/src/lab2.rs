//! Lab 2: Storm's XOR acker. For every spout tuple (a *root*) the acker keeps one 64-bit value:
//! the XOR of the init (the XOR of the edge ids the spout emitted) and of every ack (the acked
//! edge's id XOR the ids of the edges emitted anchored to it). The tree is complete when the
//! value is zero *and* the init has arrived (acks may overtake it). The suite ([`grade`]) is open.

use std::collections::BTreeMap;

use engine::storm::acker::{Acker as EngineAckerImpl, AckerOutcome};

use crate::Rng;

/// What a message did to its tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckOutcome {
    Pending,
    /// Tell `spout_task` to ack the root.
    Complete {
        spout_task: u32,
    },
    /// Tell `spout_task` to fail (replay) the root.
    Failed {
        spout_task: u32,
    },
}

/// The interface the student implements.
pub trait Acker {
    /// The spout emitted `root` along edges whose ids XOR to `value`.
    fn init(&mut self, root: u64, value: u64, spout_task: u32) -> AckOutcome;
    /// A bolt acked an edge of the tree: `value` = the edge's id XOR its anchored children's ids.
    fn ack(&mut self, root: u64, value: u64) -> AckOutcome;
    /// A bolt failed a tuple of the tree.
    fn fail(&mut self, root: u64) -> AckOutcome;
}

/// The engine's acker behind the lab's interface.
pub struct EngineAcker(pub EngineAckerImpl);

impl Default for EngineAcker {
    fn default() -> Self {
        EngineAcker(EngineAckerImpl::new(3))
    }
}

fn outcome(o: AckerOutcome) -> AckOutcome {
    match o {
        AckerOutcome::Pending => AckOutcome::Pending,
        AckerOutcome::Complete { spout_task } => AckOutcome::Complete { spout_task },
        AckerOutcome::Failed { spout_task } => AckOutcome::Failed { spout_task },
    }
}

impl Acker for EngineAcker {
    fn init(&mut self, root: u64, value: u64, spout_task: u32) -> AckOutcome {
        outcome(self.0.init(root, value, spout_task))
    }
    fn ack(&mut self, root: u64, value: u64) -> AckOutcome {
        outcome(self.0.ack(root, value))
    }
    fn fail(&mut self, root: u64) -> AckOutcome {
        outcome(self.0.fail(root))
    }
}

#[derive(Clone, Copy, Debug)]
enum Msg {
    Init { root: u64, value: u64, spout_task: u32 },
    Ack { root: u64, value: u64 },
    Fail { root: u64 },
}

/// A random tuple tree: the init message and one ack per tuple (children anchored to it).
fn tree(rng: &mut Rng, root: u64, spout_task: u32, out: &mut Vec<Msg>) {
    let mut edges: Vec<(u64, u32)> = (0..1 + rng.below(3)).map(|_| (rng.next_u64() | 1, 0)).collect();
    let init = edges.iter().fold(0, |v, (e, _)| v ^ e);
    out.push(Msg::Init { root, value: init, spout_task });
    while let Some((edge, depth)) = edges.pop() {
        let children: Vec<u64> =
            if depth < 3 { (0..rng.below(3)).map(|_| rng.next_u64() | 1).collect() } else { Vec::new() };
        out.push(Msg::Ack { root, value: children.iter().fold(edge, |v, c| v ^ c) });
        edges.extend(children.into_iter().map(|c| (c, depth + 1)));
    }
}

/// Grade an acker over `seeds`: each seed builds 1–8 trees (some failed by a bolt), delivers
/// all their messages to one fresh acker in a random order (acks may overtake the init), and
/// checks that every tree completes exactly once, exactly with its last message, for its spout
/// task — or, when a bolt failed it, is reported failed once and never complete.
pub fn grade(new: &dyn Fn() -> Box<dyn Acker>, seeds: std::ops::Range<u64>) -> Result<(), String> {
    for seed in seeds {
        let mut rng = Rng::new(seed);
        let mut msgs = Vec::new();
        let trees = 1 + rng.below(8) as u64;
        let mut failed_root = None;
        for t in 0..trees {
            let root = rng.next_u64();
            let start = msgs.len();
            tree(&mut rng, root, t as u32, &mut msgs);
            if failed_root.is_none() && rng.below(4) == 0 {
                // A bolt fails one tuple instead of acking it.
                let i = start + 1 + rng.below(msgs.len() - start - 1);
                msgs[i] = Msg::Fail { root };
                failed_root = Some(root);
            }
        }
        // Shuffle (Fisher–Yates).
        for i in (1..msgs.len()).rev() {
            msgs.swap(i, rng.below(i + 1));
        }
        let mut left: BTreeMap<u64, usize> = BTreeMap::new();
        for m in &msgs {
            let root = match m {
                Msg::Init { root, .. } | Msg::Ack { root, .. } | Msg::Fail { root } => *root,
            };
            *left.entry(root).or_default() += 1;
        }
        let task_of: BTreeMap<u64, u32> = msgs
            .iter()
            .filter_map(|m| match m {
                Msg::Init { root, spout_task, .. } => Some((*root, *spout_task)),
                _ => None,
            })
            .collect();
        let mut acker = new();
        let mut reported: BTreeMap<u64, AckOutcome> = BTreeMap::new();
        for m in msgs {
            let (root, o) = match m {
                Msg::Init { root, value, spout_task } => (root, acker.init(root, value, spout_task)),
                Msg::Ack { root, value } => (root, acker.ack(root, value)),
                Msg::Fail { root } => (root, acker.fail(root)),
            };
            let n = left.get_mut(&root).map_or(0, |n| {
                *n -= 1;
                *n
            });
            let task = task_of.get(&root).copied().unwrap_or(0);
            match o {
                AckOutcome::Pending => {}
                AckOutcome::Complete { .. } | AckOutcome::Failed { .. } if reported.contains_key(&root) => {
                    if Some(root) != failed_root {
                        return Err(format!("seed {seed}: root {root:#x} reported twice ({o:?})"));
                    }
                }
                AckOutcome::Complete { spout_task } => {
                    if Some(root) == failed_root {
                        return Err(format!("seed {seed}: root {root:#x} completed though a bolt failed it"));
                    }
                    if n != 0 {
                        return Err(format!("seed {seed}: root {root:#x} completed with {n} messages still to come"));
                    }
                    if spout_task != task {
                        return Err(format!(
                            "seed {seed}: root {root:#x} completed for spout task {spout_task}, not {task}"
                        ));
                    }
                    reported.insert(root, o);
                }
                AckOutcome::Failed { spout_task } => {
                    if Some(root) != failed_root {
                        return Err(format!("seed {seed}: root {root:#x} reported failed, but no bolt failed it"));
                    }
                    if spout_task != task {
                        return Err(format!(
                            "seed {seed}: root {root:#x} failed for spout task {spout_task}, not {task}"
                        ));
                    }
                    reported.insert(root, o);
                }
            }
        }
        for root in task_of.keys() {
            if !reported.contains_key(root) {
                let what = if Some(*root) == failed_root { "failed" } else { "complete" };
                return Err(format!("seed {seed}: root {root:#x} was never reported {what} after all its messages"));
            }
        }
    }
    Ok(())
}
