//! The network rules every world shares: how long a message between two nodes takes (the link's
//! latency, local or remote) and what the active network faults add (a partition holds it until
//! it heals, a latency spike adds to it, message loss costs retransmissions), and how much slower
//! a node is under a `SlowNode` fault. One rule in one place: the Flink world and the Storm
//! world both call these.

use crate::faults::Fault;
use crate::kernel::{SimRng, TimeNs};
use crate::scenario::{NodeId, Scenario};

/// The faults these rules read on every message and every task run — partitions, latency
/// spikes, message loss and slow nodes — in the schedule's order (the order the rules apply
/// them in), without the others: a swarm may schedule thousands of crashes, and scanning them
/// all per message made a run's cost grow with the square of the faults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkFaults(Vec<Fault>);

impl NetworkFaults {
    /// The network and node faults of a schedule, in its order.
    pub fn of(faults: &[Fault]) -> NetworkFaults {
        let mut kept = NetworkFaults::default();
        for fault in faults {
            kept.push(fault);
        }
        kept
    }

    /// A fault added behind the schedule: kept when these rules read it.
    pub fn push(&mut self, fault: &Fault) {
        if matches!(
            fault,
            Fault::Partition { .. } | Fault::LatencySpike { .. } | Fault::MessageLoss { .. } | Fault::SlowNode { .. }
        ) {
            self.0.push(fault.clone());
        }
    }
}

/// When a message sent at `now` from node `from` reaches node `to` (before any FIFO clamp).
pub fn transit_arrival(
    scenario: &Scenario,
    faults: &NetworkFaults,
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
    for fault in &faults.0 {
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
pub fn slow_factor(faults: &NetworkFaults, node: NodeId, now: TimeNs) -> u64 {
    faults
        .0
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Trigger;

    #[test]
    fn the_network_rules_keep_their_faults_in_order_and_no_crash() {
        let (a, b) = (NodeId::from_index(1), NodeId::from_index(2));
        let crash = |at| Fault::Crash { node: a, at: Trigger::At(at), restart_after_ns: None };
        let slow = Fault::SlowNode { node: a, from_ns: 0, until_ns: 10, factor: 3 };
        let partition = Fault::Partition { a, b, from_ns: 0, until_ns: 10 };
        let spike = Fault::LatencySpike { link: None, from_ns: 0, until_ns: 10, extra_ns: 5 };
        let schedule = [crash(1), partition.clone(), crash(2), spike.clone(), crash(3), slow.clone()];
        let kept = NetworkFaults::of(&schedule);
        assert_eq!(kept, NetworkFaults(vec![partition, spike.clone(), slow]));
        assert_eq!(slow_factor(&kept, a, 5), 3);
        assert_eq!(slow_factor(&kept, b, 5), 1);
        let mut added = NetworkFaults::default();
        added.push(&crash(4));
        added.push(&spike);
        assert_eq!(added, NetworkFaults(vec![spike]));
    }
}
