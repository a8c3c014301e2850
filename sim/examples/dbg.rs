use std::sync::Arc;
fn main() {
    let s = Arc::new(sim::Scenario::load(std::path::Path::new(&std::env::args().nth(1).unwrap())).unwrap());
    let r = sim::run_scenario(s, 42, sim::RunOptions::default());
    for e in r.world.recorder.events() {
        use sim::recording::TraceKind::*;
        if matches!(e.kind, CheckpointTriggered | CheckpointCompleted | CheckpointAborted | Finished | SinkCommit | Snapshot) {
            println!("{:>12} {:?} s{} a={} b={}", e.time_ns, e.kind, e.subtask, e.a, e.b);
        }
    }
    println!("{:?} {:?}", r.stop, r.world.finished_at_ns);
}
