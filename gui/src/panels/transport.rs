//! Play, pause, step and jump; speed; which run is shown; where the cursor is.

use sim::StopReason;

use crate::app::{Action, Session};
use crate::time_control::{Command, TimeControl, SPEEDS};
use crate::view::time_text;

pub fn transport_ui(ui: &mut egui::Ui, session: &Session, time: &TimeControl, actions: &mut Vec<Action>) {
    let run = session.run();
    let scenario = &session.scenario;
    ui.horizontal_wrapped(|ui| {
        let mut command = |ui: &mut egui::Ui, label: &str, hint: &str, c: Command| {
            if ui.button(label).on_hover_text(hint).clicked() {
                actions.push(Action::Time(c));
            }
        };
        command(
            ui,
            "Start",
            "Back to the start of the run (Home)",
            Command::ToStart,
        );
        command(
            ui,
            "Step back",
            "To the previous moment something happened (Left arrow)",
            Command::StepBack,
        );
        if time.playing {
            command(ui, "Pause", "Stop playing (Space)", Command::Pause);
        } else {
            command(
                ui,
                "Play",
                "Play the run at the chosen speed (Space)",
                Command::Play,
            );
        }
        command(
            ui,
            "Step",
            "To the next moment something happens (Right arrow)",
            Command::StepEvent,
        );
        command(
            ui,
            "Next checkpoint",
            "Jump to the next checkpoint trigger, completion or abort",
            Command::JumpNextCheckpoint,
        );
        command(
            ui,
            "Next fault",
            "Jump to the next crash, restart or network fault",
            Command::JumpNextFault,
        );
        command(ui, "End", "To the end of the run (End)", Command::ToEnd);
        ui.separator();
        let label = ui.label("Speed:");
        let speed = egui::ComboBox::from_id_salt("speed")
            .selected_text(SPEEDS[time.speed].1)
            .show_ui(ui, |ui| {
                for (i, (_, label)) in SPEEDS.iter().enumerate() {
                    if ui.selectable_label(i == time.speed, *label).clicked() {
                        actions.push(Action::Time(Command::SetSpeed(i)));
                    }
                }
            });
        speed
            .response
            .labelled_by(label.id)
            .on_hover_text("Virtual time per second of wall time. At 1 or 10 ms per second you can watch single messages travel along the channels.");
        ui.separator();
        ui.monospace(format!(
            "now {} of {}",
            crate::view::cursor_text(scenario, time.cursor_ns),
            time_text(scenario, run.end_ns)
        ));
    });
    ui.horizontal_wrapped(|ui| {
        if session.runs.len() > 1 {
            let label = ui.label("Showing:");
            let picker = egui::ComboBox::from_id_salt("run_picker").selected_text(&run.label).show_ui(ui, |ui| {
                for (i, r) in session.runs.iter().enumerate() {
                    if ui.selectable_label(i == session.shown, &r.label).clicked() {
                        actions.push(Action::ShowRun(i));
                    }
                }
            });
            picker.response.labelled_by(label.id);
            ui.separator();
        }
        let failed;
        let stop = match run.stop {
            StopReason::JobFinished => "the job finished",
            StopReason::Stalled => "the job stalled (nothing left to do, not finished)",
            StopReason::TimeLimit => "the time limit was reached",
            StopReason::WorkLimit => "stopped: far more work than the scenario's size predicts (a replay storm, or late firings?)",
            StopReason::JobFailed(cause) => {
                failed = format!("the job failed: {cause}");
                &failed
            }
            StopReason::InvariantViolated(_) => "an engine invariant was violated (a bug: see the trace)",
        };
        ui.small(format!(
            "seed {} · {} kernel events · {} trace events · run ends because {stop} · snapshots every {} events ({} kept)",
            session.seed,
            run.final_world.events_processed,
            run.trace.len(),
            crate::scrub::SNAPSHOT_EVERY_EVENTS,
            run.snapshot_count()
        ));
    });
}
