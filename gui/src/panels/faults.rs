//! The fault buttons every model's view offers at the cursor: crash a task manager (a Storm
//! worker), cut one off from the job manager, partition or delay the link between two. Each
//! button reports an [`Action::Inject`]; what the view does with it (the Flink workbench forks
//! the run, the Storm view records the topology again with the fault added) is the app's.

use crate::app::{Action, FaultRequest, FaultSettings};

/// A length of time in milliseconds (1 ms to `max_ms`) as a field that reads as every length in
/// the workbench does ("2 s", "250 ms", "1 min"; `view::duration_ms_text`, where a raw "2000 ms"
/// stood beside "back after 2 s") and takes what a person types: "1.5 s", "250 ms", "2 min", or a
/// bare number of milliseconds. Dragging moves it a millisecond a point.
pub fn length_ms_field(ms: &mut u64, max_ms: u64) -> egui::DragValue<'_> {
    egui::DragValue::new(ms)
        .range(1..=max_ms)
        .custom_formatter(|v, _| crate::view::duration_ms_text(v.round() as i64))
        .custom_parser(parse_length_ms)
}

/// "1.5 s", "250 ms", "2 min", "2000" (milliseconds) as milliseconds; None for anything else.
pub fn parse_length_ms(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "ms" => 1.0,
        "s" => 1_000.0,
        "min" => 60_000.0,
        _ => return None,
    };
    // Whole milliseconds: the field holds an integer, and 2.184 * 1000 need not be exact.
    Some((number * factor).round())
}

/// How long a crashed task manager stays down (a duration, or "never comes back").
pub fn restart_setting_ui(ui: &mut egui::Ui, settings: &mut FaultSettings, what_crashes: &str) {
    ui.horizontal_wrapped(|ui| {
        let mut never = settings.restart_after_ms.is_none();
        let mut ms = settings.restart_after_ms.unwrap_or(2_000);
        let label = ui.label(format!("A crashed {what_crashes} comes back after"));
        ui.add_enabled(!never, length_ms_field(&mut ms, 600_000)).labelled_by(label.id);
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
        let label = ui.label("Cut off from the job manager for");
        outage_ui(ui, settings, label.id);
        for tm in 0..task_managers {
            let request = FaultRequest::Isolate { tm, duration_ms: settings.outage_ms };
            if ui.button(format!("Isolate tm-{tm}")).on_hover_text(request.describe()).clicked() {
                actions.push(Action::Inject(request));
            }
        }
    });
}

/// The outage's length (shared by cut-offs, partitions and delays).
/// `label`: the label just drawn before it, which names the field for screen readers.
pub fn outage_ui(ui: &mut egui::Ui, settings: &mut FaultSettings, label: egui::Id) {
    ui.add(length_ms_field(&mut settings.outage_ms, 600_000)).labelled_by(label);
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
        let label = ui.label("Delay a link by");
        ui.add(length_ms_field(&mut settings.link_delay_ms, 60_000)).labelled_by(label.id);
        for &(a, b) in &links {
            let request =
                FaultRequest::Delay { a, b, extra_ms: settings.link_delay_ms, duration_ms: settings.outage_ms };
            if ui.button(format!("Delay tm-{a}<->tm-{b}")).on_hover_text(request.describe()).clicked() {
                actions.push(Action::Inject(request));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A length field shows what it holds as the workbench writes lengths, and reads back what
    /// it shows and what a person types.
    #[test]
    fn a_length_field_reads_and_writes_the_workbench_s_lengths() {
        for (text, ms) in
            [("2 s", 2_000.0), ("1.5 s", 1_500.0), ("250 ms", 250.0), ("2 min", 120_000.0), ("2000", 2_000.0)]
        {
            assert_eq!(parse_length_ms(text), Some(ms), "{text}");
        }
        for bad in ["", "s", "2 h", "two s", "-1 s"] {
            assert_eq!(parse_length_ms(bad), None, "{bad}");
        }
        for ms in [1, 200, 1_000, 1_500, 2_184, 5_000, 60_000, 600_000] {
            let shown = crate::view::duration_ms_text(ms);
            assert_eq!(parse_length_ms(&shown), Some(ms as f64), "{shown} reads back");
        }
    }
}
