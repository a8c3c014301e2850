//! The network rules every world shares: how long a message between two nodes takes (the link's
//! latency, local or remote) and what the active network faults add (a partition holds it until
//! it heals, a latency spike adds to it, message loss costs retransmissions), and how much slower
//! a node is under a `SlowNode` fault. One rule in one place: the Flink world and the Storm
//! world both call these.

use crate::faults::Fault;
use crate::kernel::{SimRng, TimeNs};
use crate::scenario::{NodeId, Scenario};

/// When a message sent at `now` from node `from` reaches node `to` (before any FIFO clamp).
pub fn transit_arrival(
    scenario: &Scenario,
    faults: &[Fault],
    rng: &mut SimRng,
    from: NodeId,
    to: NodeId,
    now: TimeNs,
) -> TimeNs {
    let latency = if from == to {
        scenario.local_latency_ns
    } else {
        let delay = scenario.link_latency.get(&(from, to)).copied().unwrap_or(scenario.latency);
        delay.sample_ns(rng).max(1)
    };
    // Saturating: a sampled latency may saturate (a long tail of 1e11 ms doubled 20 times);
    // `now` is at most max_run_ms (<= MAX_TIME_MS, 1e17 ns).
    let mut arrival = now.saturating_add(latency);
    if from == to {
        return arrival;
    }
    for fault in faults {
        match fault {
            Fault::Partition { a, b, from_ns, until_ns }
                if *from_ns <= now && now < *until_ns && Fault::covers_link(&Some((*a, *b)), from, to) =>
            {
                arrival = arrival.max(until_ns.saturating_add(latency));
            }
            Fault::LatencySpike { link, from_ns, until_ns, extra_ns }
                if *from_ns <= now && now < *until_ns && Fault::covers_link(link, from, to) =>
            {
                arrival = arrival.saturating_add(*extra_ns);
            }
            Fault::MessageLoss { link, from_ns, until_ns, loss_ppm, retransmit_ns }
                if *from_ns <= now && now < *until_ns && Fault::covers_link(link, from, to) =>
            {
                for _ in 0..16 {
                    if !rng.chance_ppm(*loss_ppm) {
                        break;
                    }
                    arrival = arrival.saturating_add(*retransmit_ns);
                }
            }
            _ => {}
        }
    }
    arrival
}

/// How many times slower `node` processes at `now` (1 when no `SlowNode` fault is active).
pub fn slow_factor(faults: &[Fault], node: NodeId, now: TimeNs) -> u64 {
    faults
        .iter()
        .filter_map(|f| match f {
            Fault::SlowNode { node: n, from_ns, until_ns, factor }
                if *n == node && *from_ns <= now && now < *until_ns =>
            {
                Some(*factor)
            }
            _ => None,
        })
        .max()
        .unwrap_or(1)
}
