//! Credit-based flow control, counted: per channel the messages sent and not yet taken out of
//! the receiver's input gate, and per sender how many of its output channels are full, so that
//! "may this subtask emit?" is one comparison instead of a scan over its (up to p) output
//! channels.

use engine::graph::{ChannelId, SubtaskId};
use engine::PhysicalPlan;

#[derive(Clone, Debug)]
pub struct Credits {
    /// Buffers per channel (`None`: unbounded, every sender always has credit).
    capacity: Option<u32>,
    occupancy: Vec<u32>,
    /// The subtask whose output gates hold each channel.
    sender: Vec<u32>,
    /// Per subtask, its output channels at or over capacity.
    full_outputs: Vec<u32>,
}

impl Credits {
    pub fn new(plan: &PhysicalPlan, capacity: Option<u32>) -> Self {
        let mut sender = vec![u32::MAX; plan.channels.len()];
        for (id, info) in plan.subtasks.iter().enumerate() {
            for gate in &info.outputs {
                for &c in &gate.channels {
                    sender[c.index()] = id as u32;
                }
            }
        }
        Credits {
            capacity,
            occupancy: vec![0; plan.channels.len()],
            sender,
            full_outputs: vec![0; plan.subtasks.len()],
        }
    }

    /// Can `subtask` emit? Not while any of its output channels is full.
    pub fn has_credit(&self, subtask: SubtaskId) -> bool {
        self.full_outputs[subtask.index()] == 0
    }

    pub fn occupancy(&self, channel: ChannelId) -> u32 {
        self.occupancy[channel.index()]
    }

    /// `n` more messages occupy `channel` (sent, or restored in-flight data).
    pub fn add(&mut self, channel: ChannelId, n: u32) {
        self.set(channel, self.occupancy[channel.index()] + n);
    }

    /// The receiver took one message off `channel` (or it was lost with the receiver).
    pub fn release_one(&mut self, channel: ChannelId) {
        self.set(channel, self.occupancy[channel.index()].saturating_sub(1));
    }

    /// The receiver's buffers are gone: every message on `channel` gives its credit back.
    pub fn clear(&mut self, channel: ChannelId) {
        self.set(channel, 0);
    }

    /// Every channel empty (a job restart).
    pub fn clear_all(&mut self) {
        self.occupancy.iter_mut().for_each(|o| *o = 0);
        self.full_outputs.iter_mut().for_each(|f| *f = 0);
    }

    fn set(&mut self, channel: ChannelId, occupancy: u32) {
        let full = |o: u32| self.capacity.is_some_and(|c| o >= c);
        let (was, is) = (full(self.occupancy[channel.index()]), full(occupancy));
        self.occupancy[channel.index()] = occupancy;
        if was != is {
            if let Some(f) = self.full_outputs.get_mut(self.sender[channel.index()] as usize) {
                if is {
                    *f += 1;
                } else {
                    *f -= 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::Scenario;

    /// The counts agree with a scan over each sender's output channels, through sends,
    /// releases and clears on a plan with hash and forward edges.
    #[test]
    fn counted_credit_equals_a_scan() {
        let text = r#"Scenario(
            name: "credit", duration_ms: 100,
            cluster: (task_managers: 1, slots_per_task_manager: 4),
            source: Generator((partitions: 4, rate_per_s: 10, keys: 5, value: Constant(1))),
            watermarks: None,
            pipeline: [Source(name: "s", parallelism: 3), KeyBy(Key),
                       Window(name: "w", kind: Tumbling(size_ms: 10), aggregate: Count, parallelism: 4),
                       Sink(name: "k", parallelism: 1)],
        )"#;
        let scenario = Arc::new(Scenario::parse(text, "(test)").expect("valid"));
        let plan = &scenario.plan;
        let capacity = 2;
        let mut credits = Credits::new(plan, Some(capacity));
        let scan = |credits: &Credits, id: SubtaskId| {
            plan.subtask(id).outputs.iter().all(|g| g.channels.iter().all(|&c| credits.occupancy(c) < capacity))
        };
        let mut x: u64 = 0x1234_5678_9abc_def1;
        for _ in 0..3_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let c = plan.channels[(x % plan.channels.len() as u64) as usize].id;
            match (x >> 20) % 10 {
                0 => credits.clear(c),
                1..=4 => credits.release_one(c),
                5 if (x >> 40) % 50 == 0 => credits.clear_all(),
                _ => credits.add(c, 1 + u32::from((x >> 33) % 4 == 0)),
            }
            for id in plan.subtask_ids() {
                assert_eq!(credits.has_credit(id), scan(&credits, id), "subtask {id}");
            }
        }
        assert!(!Credits::new(plan, None).occupancy.iter().any(|&o| o > 0));
    }
}
