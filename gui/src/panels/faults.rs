//! The fault buttons every model's view offers at the cursor: crash a task manager (a Storm
//! worker), cut one off from the job manager, partition or delay the link between two. Each
//! button reports an [`Action::Inject`]; what the view does with it (the Flink workbench forks
//! the run, the Storm view records the topology again with the fault added) is the app's.

use crate::app::{Action, FaultRequest, FaultSettings};

/// How long a crashed task manager stays down (a duration, or "never comes back").
pub fn restart_setting_ui(ui: &mut egui::Ui, settings: &mut FaultSettings, what_crashes: &str) {
    ui.horizontal_wrapped(|ui| {
        let mut never = settings.restart_after_ms.is_none();
        let mut ms = settings.restart_after_ms.unwrap_or(2_000);
        ui.label(format!("A crashed {what_crashes} comes back after"));
        ui.add_enabled(!never, egui::DragValue::new(&mut ms).range(1..=600_000).suffix(" ms"));
        ui.checkbox(&mut never, "never comes back");
        settings.restart_after_ms = (!never).then_some(ms);
    });
}

/// One "Crash tm-i" button per task manager; `hover(tm)` says what runs there.
pub fn crash_buttons_ui(
    ui: &mut egui::Ui,
    task_managers: u32,
    settings: &FaultSettings,
    hover: impl Fn(u32) -> String,
    actions: &mut Vec<Action>,
) {
    ui.horizontal_wrapped(|ui| {
        for tm in 0..task_managers {
            let request = FaultRequest::Crash { tm, restart_after_ms: settings.restart_after_ms };
            let text = format!("{}: {}", request.describe(), hover(tm));
            if ui.button(format!("Crash tm-{tm}")).on_hover_text(text).clicked() {
                actions.push(Action::Inject(request));
            }
        }
    });
}

/// How long an outage lasts, and one "Isolate tm-i" button per task manager.
pub fn isolate_buttons_ui(
    ui: &mut egui::Ui,
    task_managers: u32,
    settings: &mut FaultSettings,
    actions: &mut Vec<Action>,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Cut off from the job manager for");
        outage_ui(ui, settings);
        for tm in 0..task_managers {
            let request = FaultRequest::Isolate { tm, duration_ms: settings.outage_ms };
            if ui.button(format!("Isolate tm-{tm}")).on_hover_text(request.describe()).clicked() {
                actions.push(Action::Inject(request));
            }
        }
    });
}

/// The outage's length (shared by cut-offs, partitions and delays).
pub fn outage_ui(ui: &mut egui::Ui, settings: &mut FaultSettings) {
    ui.add(egui::DragValue::new(&mut settings.outage_ms).range(1..=600_000).suffix(" ms"));
}

/// Partition or delay each link between two task managers (none with a single one).
pub fn link_buttons_ui(ui: &mut egui::Ui, task_managers: u32, settings: &mut FaultSettings, actions: &mut Vec<Action>) {
    if task_managers < 2 {
        return;
    }
    let links: Vec<(u32, u32)> = (0..task_managers).flat_map(|a| (a + 1..task_managers).map(move |b| (a, b))).collect();
    ui.horizontal_wrapped(|ui| {
        ui.label("Links between task managers, for the outage's length:");
        for &(a, b) in &links {
            let request = FaultRequest::Partition { a, b, duration_ms: settings.outage_ms };
            if ui.button(format!("Partition tm-{a}<->tm-{b}")).on_hover_text(request.describe()).clicked() {
                actions.push(Action::Inject(request));
            }
        }
    });
    ui.horizontal_wrapped(|ui| {
        ui.label("Delay a link by");
        ui.add(egui::DragValue::new(&mut settings.link_delay_ms).range(1..=60_000).suffix(" ms"));
        for &(a, b) in &links {
            let request =
                FaultRequest::Delay { a, b, extra_ms: settings.link_delay_ms, duration_ms: settings.outage_ms };
            if ui.button(format!("Delay tm-{a}<->tm-{b}")).on_hover_text(request.describe()).clicked() {
                actions.push(Action::Inject(request));
            }
        }
    });
}
