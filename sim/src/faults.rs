//! Fault injection: the faults a run can suffer, resolved from scenario files or drawn from the
//! seed ("swarm"), and how they are described in a run's header.

use engine::graph::{PhysicalPlan, SubtaskId};
use engine::CheckpointId;
use serde::Serialize;

use crate::kernel::{SimRng, Stream, TimeNs};
use crate::scenario::{CrashPoint, FaultSpec, NodeId, NodeNames, Scenario, Swarm, UnknownNode, JOB_MANAGER};

/// A fault in a scenario file that cannot be injected as written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    #[error(transparent)]
    UnknownNode(#[from] UnknownNode),
    #[error("from_ms ({from_ms}) must be before until_ms ({until_ms})")]
    EmptyWindow { from_ms: u64, until_ms: u64 },
    #[error("a link needs two different nodes")]
    SelfLink,
    #[error("a crash time cannot be negative")]
    NegativeTime,
    #[error("no subtask named '{name}' (subtasks are named like '{example}')")]
    UnknownSubtask { name: String, example: String },
    #[error("'{name}' has {inputs} input channel(s); only subtasks with several inputs ever align")]
    NeverAligns { name: String, inputs: usize },
    #[error("loss_ppm must be below 1000000 (every message lost forever is a partition)")]
    TotalLoss,
    #[error("retransmit_ms must be at least 1")]
    NoRetransmit,
    #[error("a slowdown factor of 0 is impossible; use 1 for none")]
    ZeroSlowdown,
}

const NS_PER_MS: u64 = 1_000_000;

/// When a crash happens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Trigger {
    At(TimeNs),
    OnCheckpointTrigger(CheckpointId),
    WhileAligning { checkpoint: CheckpointId, subtask: SubtaskId },
    AfterPreCommit(CheckpointId),
    AfterCheckpointComplete(CheckpointId),
}

/// A fault, resolved to node ids and nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Fault {
    Crash {
        node: NodeId,
        at: Trigger,
        restart_after_ns: Option<TimeNs>,
    },
    Partition {
        a: NodeId,
        b: NodeId,
        from_ns: TimeNs,
        until_ns: TimeNs,
    },
    /// `link` None: every link.
    LatencySpike {
        link: Option<(NodeId, NodeId)>,
        from_ns: TimeNs,
        until_ns: TimeNs,
        extra_ns: TimeNs,
    },
    MessageLoss {
        link: Option<(NodeId, NodeId)>,
        from_ns: TimeNs,
        until_ns: TimeNs,
        loss_ppm: u32,
        retransmit_ns: TimeNs,
    },
    SlowNode {
        node: NodeId,
        from_ns: TimeNs,
        until_ns: TimeNs,
        factor: u64,
    },
    CheckpointStorageFailure {
        checkpoint: CheckpointId,
    },
}

/// A length of time in words, in the largest unit that keeps it whole: "1 min", "2 s", "1.5 s",
/// "250 ms", and microseconds below a millisecond ("10 µs"). The one rule for a fault's lengths,
/// on the command line and in the workbench (which formats every length through here).
pub fn duration_text(ns: TimeNs) -> String {
    let ms = ns / NS_PER_MS;
    if ns != 0 && ns < NS_PER_MS {
        format!("{} µs", ns / 1_000)
    } else if ms != 0 && ms % 60_000 == 0 {
        format!("{} min", ms / 60_000)
    } else if ms >= 1000 && ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else if ms >= 1000 {
        format!("{}.{} s", ms / 1000, format!("{:03}", ms % 1000).trim_end_matches('0'))
    } else {
        format!("{ms} ms")
    }
}

impl Fault {
    /// When the fault starts acting, for a fault that acts at a time; None for one that a
    /// protocol point sets off (a crash while aligning, a checkpoint storage failure). Every
    /// world schedules its faults by this.
    pub fn start_ns(&self) -> Option<TimeNs> {
        match self {
            Fault::Crash { at: Trigger::At(t), .. } => Some(*t),
            Fault::Partition { from_ns, .. }
            | Fault::LatencySpike { from_ns, .. }
            | Fault::MessageLoss { from_ns, .. }
            | Fault::SlowNode { from_ns, .. } => Some(*from_ns),
            Fault::Crash { .. } | Fault::CheckpointStorageFailure { .. } => None,
        }
    }

    /// The fault in words, its instants as `streamlab run` and the workbench print every instant
    /// of `scenario` ("crash tm-2 at 12.800 s, back after 1 s"; a clock time in a textbook
    /// scenario: `report::format_virtual`).
    pub fn describe(&self, scenario: &crate::Scenario) -> String {
        self.describe_with(&scenario.plan, &|ns| crate::report::format_virtual(scenario, ns))
    }

    /// The fault in words, its instants by `instant_text` (the workbench passes the scenario's
    /// clock) and its lengths by [`duration_text`]: one wording wherever a fault is shown.
    pub fn describe_with(&self, plan: &PhysicalPlan, instant_text: &dyn Fn(TimeNs) -> String) -> String {
        let at = instant_text;
        let length = duration_text;
        let link = |l: &Option<(NodeId, NodeId)>| match l {
            Some((a, b)) => format!("{}<->{}", NodeId::name(*a), NodeId::name(*b)),
            None => "all links".into(),
        };
        match self {
            Fault::Crash { node, at: trigger, restart_after_ns } => {
                let when = match trigger {
                    Trigger::At(t) => format!("at {}", at(*t)),
                    Trigger::OnCheckpointTrigger(n) => format!("when checkpoint {n} is triggered"),
                    Trigger::WhileAligning { checkpoint, subtask } => {
                        format!("while {} aligns barrier {checkpoint}", plan.subtask(*subtask).name)
                    }
                    Trigger::AfterPreCommit(n) => {
                        format!("after a sink pre-committed checkpoint {n}")
                    }
                    Trigger::AfterCheckpointComplete(n) => {
                        format!("after checkpoint {n} completed, before sinks commit")
                    }
                };
                let back = match restart_after_ns {
                    Some(d) => format!("back after {}", length(*d)),
                    None => "never back".into(),
                };
                format!("crash {} {when}, {back}", NodeId::name(*node))
            }
            Fault::Partition { a, b, from_ns, until_ns } => {
                format!(
                    "partition {}<->{} from {} until {}",
                    NodeId::name(*a),
                    NodeId::name(*b),
                    at(*from_ns),
                    at(*until_ns)
                )
            }
            Fault::LatencySpike { link: l, from_ns, until_ns, extra_ns } => {
                format!("latency +{} on {} from {} until {}", length(*extra_ns), link(l), at(*from_ns), at(*until_ns))
            }
            Fault::MessageLoss { link: l, from_ns, until_ns, loss_ppm, retransmit_ns } => format!(
                "message loss {loss_ppm} ppm on {} from {} until {}, retransmit after {}",
                link(l),
                at(*from_ns),
                at(*until_ns),
                length(*retransmit_ns)
            ),
            Fault::SlowNode { node, from_ns, until_ns, factor } => {
                format!("{} {factor}x slower from {} until {}", NodeId::name(*node), at(*from_ns), at(*until_ns))
            }
            Fault::CheckpointStorageFailure { checkpoint } => {
                format!("checkpoint storage fails checkpoint {checkpoint}")
            }
        }
    }

    /// Does this fault involve the link between `from` and `to` at time `now`?
    pub fn covers_link(link: &Option<(NodeId, NodeId)>, from: NodeId, to: NodeId) -> bool {
        match link {
            None => from != to,
            Some((a, b)) => (*a == from && *b == to) || (*a == to && *b == from),
        }
    }
}

/// For each fault of a run's schedule (`fired_at`: when each fired), the crash that had already
/// taken its node down when it fired, if any: such a crash does nothing (every world ignores a
/// crash of a node that is down). Counted only where the schedule says so for certain: an
/// earlier crash of the node (strictly earlier: faults firing at the same instant fire in an
/// order the schedule does not give) that itself took the node down and brings it back after
/// `restart_after_ns` (without one, when the node returns depends on the model).
pub fn crashes_on_a_node_already_down(faults: &[Fault], fired_at: &[Option<TimeNs>]) -> Vec<Option<usize>> {
    let mut crashes: Vec<(TimeNs, usize, NodeId, Option<TimeNs>)> = faults
        .iter()
        .zip(fired_at)
        .enumerate()
        .filter_map(|(i, (f, fired))| match (f, fired) {
            (Fault::Crash { node, restart_after_ns, .. }, Some(t)) => Some((*t, i, *node, *restart_after_ns)),
            _ => None,
        })
        .collect();
    crashes.sort_unstable_by_key(|&(t, i, node, _)| (node.index(), t, i));
    let mut already_down = vec![None; faults.len()];
    // Per node, the crash that took it down last and when it is back for certain (None: not known).
    let mut down: Option<(NodeId, usize, TimeNs, Option<TimeNs>)> = None;
    for (t, i, node, restart_after_ns) in crashes {
        match down {
            Some((n, by, since, Some(back))) if n == node && since < t && t < back => already_down[i] = Some(by),
            // Two crashes at one instant: which one acted, and so when the node is back, is not
            // known; nor is it after a crash without a return time. Say nothing from then on.
            Some((n, _, since, _)) if n == node && since == t => down = Some((node, i, t, None)),
            Some((n, _, _, None)) if n == node => {}
            _ => down = Some((node, i, t, restart_after_ns.map(|r| t.saturating_add(r)))),
        }
    }
    already_down
}

/// Resolve a fault as written in a scenario file.
pub fn resolve(spec: &FaultSpec, nodes: &NodeNames, plan: &PhysicalPlan) -> Result<Fault, FaultError> {
    let window = |from_ms: u64, until_ms: u64| -> Result<(TimeNs, TimeNs), FaultError> {
        if from_ms >= until_ms {
            return Err(FaultError::EmptyWindow { from_ms, until_ms });
        }
        // Bounded: *_ms <= MAX_TIME_MS (1e11 ms, `scenario::limits`), so ns <= 1e17.
        Ok((from_ms * NS_PER_MS, until_ms * NS_PER_MS))
    };
    let link = |between: &Option<(String, String)>| -> Result<Option<(NodeId, NodeId)>, FaultError> {
        match between {
            None => Ok(None),
            Some((a, b)) => {
                let (a, b) = (nodes.resolve(a)?, nodes.resolve(b)?);
                if a == b {
                    return Err(FaultError::SelfLink);
                }
                Ok(Some((a, b)))
            }
        }
    };
    Ok(match spec {
        FaultSpec::Crash { node, at, restart_after_ms } => {
            let node = nodes.resolve(node)?;
            let at = match at {
                CrashPoint::At(t) if t.0 < 0 => return Err(FaultError::NegativeTime),
                CrashPoint::At(t) => Trigger::At(t.0 as u64 * NS_PER_MS),
                // Bounded by check_magnitudes (`AtNs` <= MAX_TIME_MS in ns, 1e17).
                CrashPoint::AtNs(t) => Trigger::At(*t),
                CrashPoint::OnCheckpointTrigger(n) => Trigger::OnCheckpointTrigger(CheckpointId::from_raw(*n)),
                CrashPoint::WhileAligning { checkpoint, subtask } => {
                    let Some(id) = plan.subtask_by_name(subtask) else {
                        return Err(FaultError::UnknownSubtask {
                            name: subtask.clone(),
                            example: plan.subtasks[0].name.clone(),
                        });
                    };
                    if plan.subtask(id).inputs.len() < 2 {
                        return Err(FaultError::NeverAligns {
                            name: subtask.clone(),
                            inputs: plan.subtask(id).inputs.len(),
                        });
                    }
                    Trigger::WhileAligning { checkpoint: CheckpointId::from_raw(*checkpoint), subtask: id }
                }
                CrashPoint::AfterPreCommit(n) => Trigger::AfterPreCommit(CheckpointId::from_raw(*n)),
                CrashPoint::AfterCheckpointComplete(n) => Trigger::AfterCheckpointComplete(CheckpointId::from_raw(*n)),
            };
            Fault::Crash { node, at, restart_after_ns: restart_after_ms.map(|m| m * NS_PER_MS) }
        }
        FaultSpec::Partition { between, from_ms, until_ms } => {
            let (from_ns, until_ns) = window(*from_ms, *until_ms)?;
            let (a, b) = link(&Some(between.clone()))?.expect("given");
            Fault::Partition { a, b, from_ns, until_ns }
        }
        FaultSpec::LatencySpike { between, from_ms, until_ms, extra_ms } => {
            let (from_ns, until_ns) = window(*from_ms, *until_ms)?;
            Fault::LatencySpike { link: link(between)?, from_ns, until_ns, extra_ns: extra_ms * NS_PER_MS }
        }
        FaultSpec::MessageLoss { between, from_ms, until_ms, loss_ppm, retransmit_ms } => {
            let (from_ns, until_ns) = window(*from_ms, *until_ms)?;
            if *loss_ppm >= 1_000_000 {
                return Err(FaultError::TotalLoss);
            }
            if *retransmit_ms == 0 {
                return Err(FaultError::NoRetransmit);
            }
            Fault::MessageLoss {
                link: link(between)?,
                from_ns,
                until_ns,
                loss_ppm: *loss_ppm,
                retransmit_ns: retransmit_ms * NS_PER_MS,
            }
        }
        FaultSpec::SlowNode { node, from_ms, until_ms, factor } => {
            let (from_ns, until_ns) = window(*from_ms, *until_ms)?;
            if *factor == 0 {
                return Err(FaultError::ZeroSlowdown);
            }
            Fault::SlowNode { node: nodes.resolve(node)?, from_ns, until_ns, factor: *factor }
        }
        FaultSpec::CheckpointStorageFailure { checkpoint } => {
            Fault::CheckpointStorageFailure { checkpoint: CheckpointId::from_raw(*checkpoint) }
        }
    })
}

/// Draw the swarm's faults from the seed. Independent of every other random stream.
pub fn draw_swarm(swarm: &Swarm, scenario: &Scenario, seed: u64) -> Vec<Fault> {
    let mut rng = SimRng::for_stream(seed, Stream::Swarm);
    let tms = scenario.task_managers as u64;
    // Bounded: swarm times <= MAX_TIME_MS (1e11 ms), so ns <= 1e17 and sums of two fit.
    let from = swarm.from_ms * NS_PER_MS;
    let until = swarm.until_ms * NS_PER_MS;
    let outage = swarm.max_outage_ms * NS_PER_MS;
    let mut faults = Vec::new();
    let node = |rng: &mut SimRng, allow_jm: bool| -> NodeId {
        if allow_jm && rng.below(tms + 1) == 0 {
            JOB_MANAGER
        } else {
            NodeId::task_manager(rng.below(tms) as u32)
        }
    };
    // Whole milliseconds, so that a drawn schedule written back to a file (shrink) is exact.
    let ms_between = |rng: &mut SimRng, a: u64, b: u64| rng.between(a / NS_PER_MS, b / NS_PER_MS) * NS_PER_MS;
    for _ in 0..swarm.crashes {
        let at = ms_between(&mut rng, from, until - NS_PER_MS);
        let n = node(&mut rng, swarm.include_job_manager);
        let back = ms_between(&mut rng, NS_PER_MS, outage);
        faults.push(Fault::Crash { node: n, at: Trigger::At(at), restart_after_ns: Some(back) });
    }
    for _ in 0..swarm.partitions {
        let at = ms_between(&mut rng, from, until - NS_PER_MS);
        let a = node(&mut rng, false);
        let mut b = node(&mut rng, swarm.include_job_manager);
        if a == b {
            // The task manager after `a` (tm-i is node i + 1), wrapping.
            b = if tms > 1 { NodeId::task_manager((u64::from(a.get()) % tms) as u32) } else { JOB_MANAGER };
        }
        let len = ms_between(&mut rng, NS_PER_MS, outage);
        faults.push(Fault::Partition { a, b, from_ns: at, until_ns: at + len });
    }
    for _ in 0..swarm.latency_spikes {
        let at = ms_between(&mut rng, from, until - NS_PER_MS);
        let len = ms_between(&mut rng, NS_PER_MS, outage);
        let extra = ms_between(&mut rng, NS_PER_MS, 200 * NS_PER_MS);
        faults.push(Fault::LatencySpike { link: None, from_ns: at, until_ns: at + len, extra_ns: extra });
    }
    for _ in 0..swarm.slow_nodes {
        let at = ms_between(&mut rng, from, until - NS_PER_MS);
        let len = ms_between(&mut rng, NS_PER_MS, outage);
        let n = node(&mut rng, false);
        let factor = rng.between(2, 20);
        faults.push(Fault::SlowNode { node: n, from_ns: at, until_ns: at + len, factor });
    }
    faults
}

/// A resolved fault written back in the scenario format (whole milliseconds, but a crash
/// between two milliseconds as `AtNs`: the file runs the same schedule).
pub fn to_spec(fault: &Fault, plan: &PhysicalPlan) -> FaultSpec {
    use crate::scenario::TimeMs;
    let ms = |ns: TimeNs| ns / NS_PER_MS;
    let pair = |a: NodeId, b: NodeId| (NodeId::name(a), NodeId::name(b));
    match fault {
        Fault::Crash { node, at, restart_after_ns } => FaultSpec::Crash {
            node: NodeId::name(*node),
            at: match at {
                // Exact: a crash between two milliseconds keeps its nanoseconds.
                Trigger::At(t) if t % NS_PER_MS != 0 => CrashPoint::AtNs(*t),
                Trigger::At(t) => CrashPoint::At(TimeMs(ms(*t) as i64)),
                Trigger::OnCheckpointTrigger(n) => CrashPoint::OnCheckpointTrigger(n.get()),
                Trigger::WhileAligning { checkpoint, subtask } => CrashPoint::WhileAligning {
                    checkpoint: checkpoint.get(),
                    subtask: plan.subtask(*subtask).name.clone(),
                },
                Trigger::AfterPreCommit(n) => CrashPoint::AfterPreCommit(n.get()),
                Trigger::AfterCheckpointComplete(n) => CrashPoint::AfterCheckpointComplete(n.get()),
            },
            restart_after_ms: restart_after_ns.map(ms),
        },
        Fault::Partition { a, b, from_ns, until_ns } => {
            FaultSpec::Partition { between: pair(*a, *b), from_ms: ms(*from_ns), until_ms: ms(*until_ns) }
        }
        Fault::LatencySpike { link, from_ns, until_ns, extra_ns } => FaultSpec::LatencySpike {
            between: link.map(|(a, b)| pair(a, b)),
            from_ms: ms(*from_ns),
            until_ms: ms(*until_ns),
            extra_ms: ms(*extra_ns),
        },
        Fault::MessageLoss { link, from_ns, until_ns, loss_ppm, retransmit_ns } => FaultSpec::MessageLoss {
            between: link.map(|(a, b)| pair(a, b)),
            from_ms: ms(*from_ns),
            until_ms: ms(*until_ns),
            loss_ppm: *loss_ppm,
            retransmit_ms: ms(*retransmit_ns),
        },
        Fault::SlowNode { node, from_ns, until_ns, factor } => FaultSpec::SlowNode {
            node: NodeId::name(*node),
            from_ms: ms(*from_ns),
            until_ms: ms(*until_ns),
            factor: *factor,
        },
        Fault::CheckpointStorageFailure { checkpoint } => {
            FaultSpec::CheckpointStorageFailure { checkpoint: checkpoint.get() }
        }
    }
}

#[cfg(test)]
mod already_down_tests {
    use super::*;
    use crate::scenario::JOB_MANAGER;

    fn crash(node: NodeId, restart_after_ms: Option<u64>) -> Fault {
        Fault::Crash { node, at: Trigger::At(0), restart_after_ns: restart_after_ms.map(|ms| ms * 1_000_000) }
    }

    /// A crash inside another's outage did nothing; one after the return, at the same instant,
    /// after a crash with no return time, or of another node, acted (or is not known not to).
    #[test]
    fn a_crash_inside_an_outage_of_its_node_did_nothing() {
        let tm = |i: u32| NodeId::task_manager(i);
        let ms = |t: u64| Some(t * 1_000_000);
        let faults = vec![
            crash(tm(1), Some(1_000)), // 0: 5.5 s, inside 1's outage
            crash(tm(1), Some(2_184)), // 1: 4.155 s, acts
            crash(tm(1), Some(100)),   // 2: 6.339 s, tm-1 is back: acts
            crash(tm(0), Some(1_000)), // 3: 5.0 s, another node: acts
            crash(tm(0), Some(1_000)), // 4: 5.0 s too: which acted is not known
            crash(tm(0), Some(1_000)), // 5: 5.5 s: not said (after a tie)
            crash(JOB_MANAGER, None),  // 6: 1 s, never back
            crash(JOB_MANAGER, None),  // 7: 2 s: not said (when it returns is the model's)
            crash(tm(2), Some(1_000)), // 8: never fired
        ];
        let fired = vec![ms(5_500), ms(4_155), ms(6_339), ms(5_000), ms(5_000), ms(5_500), ms(1_000), ms(2_000), None];
        let down = crashes_on_a_node_already_down(&faults, &fired);
        assert_eq!(down, vec![Some(1), None, None, None, None, None, None, None, None]);
        // Just before the return it is still down.
        let fired = vec![ms(6_338), ms(4_155), None, None, None, None, None, None, None];
        assert_eq!(crashes_on_a_node_already_down(&faults, &fired)[0], Some(1));
    }
}

#[cfg(test)]
mod describe_tests {
    use super::*;

    /// `streamlab run` echoes a file's faults with instants as it prints every instant
    /// ("12.800 s") and lengths in the largest whole unit, not in raw milliseconds.
    #[test]
    fn a_fault_reads_its_instants_in_seconds_and_its_lengths_whole() {
        let scenario = Scenario::default_scenario();
        let plan = scenario.plan.clone();
        let crash = Fault::Crash {
            node: NodeId::task_manager(2),
            at: Trigger::At(12_800_000_000),
            restart_after_ns: Some(1_000_000_000),
        };
        assert_eq!(crash.describe(&scenario), "crash tm-2 at 12.800 s, back after 1 s");
        let loss = Fault::MessageLoss {
            link: None,
            from_ns: 5_505_000_000,
            until_ns: 10_505_000_000,
            loss_ppm: 1000,
            retransmit_ns: 250_000_000,
        };
        assert_eq!(
            loss.describe(&scenario),
            "message loss 1000 ppm on all links from 5.505 s until 10.505 s, retransmit after 250 ms"
        );
        let clock = |ns: TimeNs| format!("<{ns}>");
        assert_eq!(
            crash.describe_with(&plan, &clock),
            "crash tm-2 at <12800000000>, back after 1 s",
            "the caller's clock names the instants"
        );
        // A textbook scenario's instants are clock times, as its `visible at` column and the
        // workbench print them.
        let textbook = Scenario::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/streaming-systems-heuristic.ron"
        )))
        .expect("loads");
        let at_noon =
            Fault::Crash { node: NodeId::task_manager(0), at: Trigger::At(43_260_000_000_000), restart_after_ns: None };
        assert_eq!(
            at_noon.describe(&textbook),
            format!("crash tm-0 at {}, never back", crate::scenario::format_clock(43_260_000))
        );
    }

    #[test]
    fn a_length_reads_in_its_largest_whole_unit() {
        let cases = [
            (0, "0 ms"),
            (10_000, "10 µs"),
            (250_000_000, "250 ms"),
            (1_000_000_000, "1 s"),
            (1_500_000_000, "1.5 s"),
            (2_184_000_000, "2.184 s"),
            (120_000_000_000, "2 min"),
        ];
        for (ns, text) in cases {
            assert_eq!(duration_text(ns), text, "{ns} ns");
        }
    }
}
