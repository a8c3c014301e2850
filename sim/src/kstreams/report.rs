//! What `run` and `replay` print for a Kafka Streams run: why it stopped, the counters, one line
//! per task (instance, phase, committed offset, restores), and the sink rows.

use std::fmt::Write as _;

use crate::report::format_ns;

use super::{KStreamsRun, KStreamsWorld, TaskPhase};

/// The summary block of a finished run ([`crate::report::core_summary`]).
pub fn summary(run: &KStreamsRun) -> String {
    crate::report::core_summary(run)
}

/// The counters and the tasks so far (also for a run paused by `replay --until`).
pub fn progress(world: &KStreamsWorld) -> String {
    let mut out = String::new();
    let s = world.stats;
    let c = &world.config;
    let _ = writeln!(
        out,
        "kafka streams: {:?}, commit every {} ms, {} standby replicas, session timeout {} ms",
        c.guarantee,
        c.commit_interval_ms(),
        c.standby_replicas,
        c.session_timeout_ms
    );
    let _ = writeln!(
        out,
        "processed {} records ({} reprocessed after a crash), {} commits, {} repartition writes, {} changelog writes",
        s.processed, s.reprocessed, s.commits, s.repartition_writes, s.changelog_writes
    );
    let _ = writeln!(
        out,
        "instance crashes {}; task restores {} ({} changelog records replayed in {}, {} from a warm standby); aborted transactions {}; late records dropped {}",
        s.instance_crashes,
        s.restores,
        s.restored_records,
        format_ns(s.restore_ns),
        s.standby_takeovers,
        s.aborted_txns,
        s.late_dropped
    );
    let _ = writeln!(
        out,
        "{:<6} {:<6} {:<12} {:>9} {:>9} {:>10} {:>9}",
        "task", "on", "phase", "position", "committed", "changelog", "restored"
    );
    for (t, task) in world.tasks.iter().enumerate() {
        let phase = match task.phase {
            TaskPhase::Running => "running".to_string(),
            TaskPhase::Restoring { .. } => "restoring".to_string(),
            TaskPhase::Lost => "lost".to_string(),
            TaskPhase::Done => "done".to_string(),
        };
        let _ = writeln!(
            out,
            "{:<6} {:<6} {:<12} {:>9} {:>9} {:>10} {:>9}",
            task.id.to_string(),
            task.instance.name(),
            phase,
            task.position,
            task.committed,
            world.changelogs[t].len(),
            task.last_restore_records
        );
    }
    out
}

/// The visible sink rows, one line each.
pub fn rows_text(run: &KStreamsRun) -> String {
    crate::report::sink_rows_table(&run.world.scenario, run.visible_rows())
}
