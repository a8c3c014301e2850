//! `streamlab bench`: simulated events per second on a large keyed-window scenario, and in the
//! same run a bare binary-heap event loop doing the same number of events, so the ratio means
//! something on any machine. Wall-clock time is read here, at the binary's edge — never in
//! `engine` or `sim`.

use std::collections::BinaryHeap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use sim::{RunOptions, Scenario};

/// The benchmark scenario: 16 partitions at 200 000 events/s into a 4-way keyed tumbling count
/// over 10 000 keys, no lineage tracking, trace hashed but not stored.
pub fn scenario_text(seconds: u64) -> String {
    format!(
        r#"Scenario(
    name: "benchmark: large keyed window",
    duration_ms: {ms},
    cluster: (task_managers: 4, slots_per_task_manager: 4),
    source: Generator((partitions: 16, rate_per_s: 200_000, keys: 10_000, value: Uniform(min: 1, max: 100),
                       disorder: (delay: Exponential(mean_ms: 20)))),
    watermarks: BoundedOutOfOrderness(bound_ms: 100, emit: Periodic(interval_ms: 200)),
    pipeline: [
        Source(name: "source", parallelism: 4, cost_us: 1),
        KeyBy(Key),
        Window(name: "window", kind: Tumbling(size_ms: 1_000), aggregate: Count, parallelism: 4, cost_us: 1),
        Sink(name: "sink", parallelism: 1, cost_us: 1),
    ],
    track_lineage: false,
)"#,
        ms = seconds * 1000
    )
}

/// The baseline: pop an event, do a trivial amount of work, push a follow-up — `events` times,
/// with the queue holding about as many entries as the simulation's does.
fn bare_event_loop(events: u64, queue_len: usize) -> (f64, u64) {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    struct Entry(std::cmp::Reverse<(u64, u64)>, u64);
    let mut heap = BinaryHeap::with_capacity(queue_len + 1);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut seq = 0;
    for i in 0..queue_len as u64 {
        heap.push(Entry(std::cmp::Reverse((i, seq)), i));
        seq += 1;
    }
    let start = Instant::now();
    let mut checksum = 0u64;
    for _ in 0..events {
        let Entry(std::cmp::Reverse((t, _)), payload) = heap.pop().expect("never empty");
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        checksum = checksum.wrapping_add(payload ^ t);
        heap.push(Entry(std::cmp::Reverse((t + 1 + x % 1_000, seq)), x));
        seq += 1;
    }
    (start.elapsed().as_secs_f64(), checksum)
}

pub fn run(seconds: u64) -> String {
    let scenario = Arc::new(
        Scenario::parse(&scenario_text(seconds), "(benchmark)")
            .expect("benchmark scenario is valid"),
    );
    let options = RunOptions {
        keep_trace: false,
        ..RunOptions::default()
    };
    let mut world = sim::World::new(scenario, 1, options);
    let mut peak_queue = 0;
    let start = Instant::now();
    while world.step() {
        peak_queue = peak_queue.max(world.queue.len());
    }
    let sim_s = start.elapsed().as_secs_f64();
    let events = world.events_processed;
    let (bare_s, checksum) = bare_event_loop(events, (peak_queue / 2).max(1));
    let sim_rate = events as f64 / sim_s;
    let bare_rate = events as f64 / bare_s;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "benchmark: {} virtual seconds, {} source records, {} kernel events, {} trace events",
        seconds,
        world.log.len(),
        events,
        world.recorder.count()
    );
    let _ = writeln!(
        out,
        "simulator : {:>8.3} s wall, {:>12.0} events/s",
        sim_s, sim_rate
    );
    let _ = writeln!(
        out,
        "bare loop : {:>8.3} s wall, {:>12.0} events/s (queue of {}, checksum {checksum:x})",
        bare_s,
        bare_rate,
        (peak_queue / 2).max(1)
    );
    let _ = writeln!(
        out,
        "ratio     : simulator is {:.2}x slower per event than the bare loop",
        bare_rate / sim_rate
    );
    let _ = writeln!(out, "trace hash: {:#018x}", world.recorder.hash());
    out
}
