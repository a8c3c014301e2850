//! Barrier alignment: the checkpoint in flight, and per subtask which inputs delivered its
//! barrier, which are blocked, and what waits behind them.

use engine::checkpoint::CheckpointMode;

use crate::app::{Action, Session};
use crate::panels::{BARRIER_COLOR, BLOCKED_COLOR};
use crate::view::time_text;
use crate::view::Frame;

pub fn alignment_ui(ui: &mut egui::Ui, session: &Session, frame: &Frame, actions: &mut Vec<Action>) {
    let scenario = &session.scenario;
    let view = &frame.alignment;
    let Some(c) = &view.coordinator else {
        ui.label("This scenario takes no checkpoints, so no barriers flow. Scenarios with a `checkpoints:` block show alignment here.");
        return;
    };
    let mode = match c.mode {
        CheckpointMode::ExactlyOnce => {
            "exactly-once (aligned): an input that delivered the barrier is blocked until every input has delivered it"
        }
        CheckpointMode::AtLeastOnce => {
            "at-least-once (barrier tracking): inputs are never blocked, so records of the next checkpoint can slip into this snapshot"
        }
        CheckpointMode::Unaligned if c.aligned_timeout_ns.is_some() => {
            "exactly-once, aligned with a timeout: each checkpoint starts aligned; a subtask still aligning when the aligned-checkpoint timeout has passed since the trigger switches it to unaligned (the queued barriers overtake, the in-flight data is saved as channel state, its inputs unblock)"
        }
        CheckpointMode::ChandyLamport => {
            "exactly-once, Chandy–Lamport markers: a marker waits behind the data before it and never blocks an input; the task snapshots when it takes in the first marker and forwards it at once; what it then takes in on each other input before that input's marker is saved as channel state"
        }
        CheckpointMode::Unaligned => {
            "exactly-once, unaligned: the first barrier overtakes the queued data and the task snapshots at once; what it overtook, and what arrives on the other inputs before their barrier, is saved as channel state"
        }
    };
    ui.small(format!("Mode: {mode}."));
    if let Some(t) = c.aligned_timeout_ns {
        ui.small(format!("Aligned-checkpoint timeout: {}.", crate::view::units::duration_text(t)));
    }
    match c.pending {
        Some((id, at, acked)) => {
            ui.colored_label(
                BARRIER_COLOR,
                format!(
                    "Checkpoint {id} in flight since {}: {acked} of {} subtasks have acknowledged their snapshot.",
                    time_text(scenario, at),
                    c.task_count
                ),
            );
        }
        None => {
            let latest = c.latest_completed.map_or("none yet".to_string(), |l| l.to_string());
            ui.label(format!("No checkpoint in flight. Latest completed checkpoint: {latest}."));
        }
    }
    ui.separator();
    egui::ScrollArea::vertical().id_salt("alignment_scroll").auto_shrink([false, false]).show(ui, |ui| {
        egui::Grid::new("alignment_grid").striped(true).num_columns(3).show(ui, |ui| {
            ui.strong("subtask");
            ui.strong("aligning");
            ui.strong("inputs: barrier seen / blocked / messages waiting");
            ui.end_row();
            for row in &view.rows {
                if ui.link(&row.name).clicked() {
                    actions.push(Action::Select(Some(row.subtask)));
                }
                let last = match row.last_snapshot {
                    Some((id, how)) => format!("last snapshot: {id}, {}", how.label()),
                    None => match row.latest {
                        Some(id) => format!("last snapshot: {id}"),
                        None => "last snapshot: none".to_string(),
                    },
                };
                match (row.checkpoint, row.started_ns) {
                    (Some(cp), Some(at)) => {
                        let how = if row.timed_out {
                            ", timed out, so unaligned".to_string()
                        } else if let Some(deadline) = row.times_out_at_ns {
                            format!(", aligned until {}", time_text(scenario, deadline))
                        } else {
                            String::new()
                        };
                        ui.colored_label(
                            BARRIER_COLOR,
                            format!("checkpoint {cp} since {}{how} ({last})", time_text(scenario, at)),
                        );
                    }
                    _ => {
                        ui.weak(format!("no ({last})"));
                    }
                }
                ui.horizontal_wrapped(|ui| {
                    if row.stopped {
                        ui.colored_label(BLOCKED_COLOR, "stopped: its task manager is down or the job is restarting");
                        return;
                    }
                    for input in &row.inputs {
                        let mut parts: Vec<String> = Vec::new();
                        if input.finished {
                            parts.push("ended".into());
                        } else if input.barrier_seen {
                            parts.push("barrier arrived".into());
                        } else if row.checkpoint.is_some() {
                            parts.push("waiting for the barrier".into());
                        }
                        if input.blocked {
                            parts.push(format!("blocked, {} waiting", input.queued));
                        } else if input.queued > 0 {
                            parts.push(format!("{} queued", input.queued));
                        }
                        if let Some(saved) = input.saved_in_flight.filter(|n| *n > 0) {
                            parts.push(format!("{saved} in flight saved as channel state"));
                        }
                        let text = if parts.is_empty() {
                            input.from.clone()
                        } else {
                            format!("{}: {}", input.from, parts.join("; "))
                        };
                        if input.blocked {
                            ui.colored_label(BLOCKED_COLOR, text);
                        } else if parts.is_empty() {
                            ui.weak(text);
                        } else {
                            ui.label(text);
                        }
                        ui.weak("|");
                    }
                });
                ui.end_row();
            }
        });
    });
}
