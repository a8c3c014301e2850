//! Panels: they draw view models and report what the user asked for as actions. They hold no
//! state of their own beyond what egui keeps for widgets.

pub mod alignment;
pub mod dag;
pub mod diff;
pub mod events;
pub mod faults;
pub mod inspector;
pub mod kstreams;
pub mod labels;
pub mod ledger;
pub mod outcomes;
pub mod plots;
pub mod predict;
pub mod run_controls;
pub mod save;
pub mod scenario_bar;
pub mod scrubber;
pub mod sinks;
pub mod slides;
pub mod spark;
pub mod storm;
pub mod timeline;
pub mod tour;
pub mod transport;
pub mod watermarks;

use egui::{Color32, Key};

use crate::app::Action;
use crate::time_control::Command;

/// Keyboard: space plays or pauses; arrows step between recorded moments; shift+arrows seek
/// by a fiftieth of the run; Home/End go to either end. Ignored while typing in a text field.
pub fn keys_ui(ui: &mut egui::Ui, actions: &mut Vec<Action>) {
    if ui.ctx().egui_wants_keyboard_input() {
        return;
    }
    ui.input(|i| {
        if i.key_pressed(Key::Space) {
            actions.push(Action::Time(Command::TogglePlay));
        }
        let shift = i.modifiers.shift;
        if i.key_pressed(Key::ArrowRight) {
            actions.push(Action::Time(if shift { Command::SeekByPermille(20) } else { Command::StepEvent }));
        }
        if i.key_pressed(Key::ArrowLeft) {
            actions.push(Action::Time(if shift { Command::SeekByPermille(-20) } else { Command::StepBack }));
        }
        if i.key_pressed(Key::Home) {
            actions.push(Action::Time(Command::ToStart));
        }
        if i.key_pressed(Key::End) {
            actions.push(Action::Time(Command::ToEnd));
        }
    });
}

/// Colours of task managers (and, for charts, of series). Chosen to stay apart for colour-blind
/// readers (Okabe–Ito).
pub const PALETTE: [Color32; 8] = [
    Color32::from_rgb(0, 114, 178),
    Color32::from_rgb(230, 159, 0),
    Color32::from_rgb(0, 158, 115),
    Color32::from_rgb(204, 121, 167),
    Color32::from_rgb(86, 180, 233),
    Color32::from_rgb(213, 94, 0),
    Color32::from_rgb(240, 228, 66),
    Color32::from_rgb(120, 120, 120),
];

pub fn palette(i: usize) -> Color32 {
    PALETTE[i % PALETTE.len()]
}

/// Glyph colours, shared by the DAG and its legend.
pub const RECORD_COLOR: Color32 = Color32::from_rgb(40, 100, 200);
pub const WATERMARK_COLOR: Color32 = Color32::from_rgb(220, 120, 0);
pub const BARRIER_COLOR: Color32 = Color32::from_rgb(150, 40, 170);
pub const BLOCKED_COLOR: Color32 = Color32::from_rgb(210, 30, 30);
pub const IDLE_COLOR: Color32 = Color32::from_rgb(130, 130, 130);
/// A channel whose buffers are all taken: the sender waits for credit.
pub const FULL_COLOR: Color32 = Color32::from_rgb(200, 150, 0);
pub const GOOD_COLOR: Color32 = Color32::from_rgb(40, 160, 80);
/// The first divergence between a run and its parent or fork (timeline, diff tab).
pub const DIVERGENCE_COLOR: Color32 = Color32::from_rgb(0, 150, 170);
pub const DOWN_COLOR: Color32 = Color32::from_rgb(70, 70, 70);

/// What a model's own view (Storm, Spark) shares with the rest of the workbench: the fault
/// buttons' knobs and the chart export's folder and outcome.
pub struct Shared<'a> {
    pub faults: &'a mut crate::app::FaultSettings,
    pub export_dir: &'a mut String,
    pub export_status: &'a Option<Result<String, crate::error::WriteError>>,
}

/// A recording under way: what it is, how far, and a Cancel button (what is on screen stays
/// interactive meanwhile).
pub fn progress_ui(ui: &mut egui::Ui, what: &str, progress: f32, actions: &mut Vec<Action>) {
    ui.horizontal(|ui| {
        ui.spinner();
        ui.label(format!("{what}…"));
        ui.add(egui::ProgressBar::new(progress).show_percentage().desired_width(240.0));
        if ui.button("Cancel").on_hover_text("Stop recording; what is on screen stays").clicked() {
            actions.push(Action::CancelRecording);
        }
    });
}
