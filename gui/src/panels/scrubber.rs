//! The time scrubber of the views that show a recorded run at a cursor they own (Storm, Spark,
//! Kafka Streams): Start, a second back, a second on, End, and a slider across the row. One
//! widget, so that the views' controls carry the same names and do the same thing. (The Flink
//! workbench plays its run: `panels::transport`.)

use sim::kernel::TimeNs;
use sim::Scenario;

use crate::view::time_text;

/// How the scrubber moved the cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scrub {
    /// A button: Start, -1 s, +1 s, End (the views keep their selection).
    Stepped(TimeNs),
    /// The slider, dragged or clicked (a view lets the moment pick what it details).
    Dragged(TimeNs),
}

impl Scrub {
    pub fn to_ns(self) -> TimeNs {
        match self {
            Scrub::Stepped(t) | Scrub::Dragged(t) => t,
        }
    }
}

/// One row: the buttons, the slider and where the cursor is. The caller clamps the time it
/// returns to its run.
pub fn scrubber_ui(ui: &mut egui::Ui, scenario: &Scenario, cursor_ns: TimeNs, end_ns: TimeNs) -> Option<Scrub> {
    let mut moved = None;
    ui.horizontal(|ui| {
        let step = 1_000_000_000;
        if ui.button("Start").clicked() {
            moved = Some(Scrub::Stepped(0));
        }
        if ui.button("-1 s").clicked() {
            moved = Some(Scrub::Stepped(cursor_ns.saturating_sub(step)));
        }
        if ui.button("+1 s").clicked() {
            moved = Some(Scrub::Stepped(cursor_ns.saturating_add(step).min(end_ns)));
        }
        if ui.button("End").clicked() {
            moved = Some(Scrub::Stepped(end_ns));
        }
        let mut ms = cursor_ns / 1_000_000;
        let end_ms = end_ns / 1_000_000;
        // The slider spans the row (what the time label leaves): egui's default 100 px made a
        // 30 s run a 3 px-per-second target, too fine to drag to a moment.
        ui.spacing_mut().slider_width = (ui.available_width() - 200.0).max(120.0);
        if ui.add(egui::Slider::new(&mut ms, 0..=end_ms).show_value(false).text("time")).changed() {
            moved = Some(Scrub::Dragged(ms * 1_000_000));
        }
        ui.label(format!("at {}", time_text(scenario, cursor_ns)));
    });
    moved
}

/// A row of round times under a view's timeline strip, whose time axis runs from `left` to
/// `right` (screen x) over `[0, end_ns]`.
pub fn time_ticks_ui(ui: &mut egui::Ui, scenario: &Scenario, (left, right): (f32, f32), end_ns: TimeNs) {
    let (row, _) = ui.allocate_exact_size(egui::vec2(ui.available_width(), 12.0), egui::Sense::hover());
    let color = ui.visuals().weak_text_color();
    paint_time_ticks(ui.painter(), scenario, (left, right), row.top(), end_ns, color);
}

/// Round times from `top` down, as the Flink timeline ticks them, the end ticks kept inside the
/// axis (centred, "0 s" and "30 s" were cut at its edges).
pub fn paint_time_ticks(
    painter: &egui::Painter,
    scenario: &Scenario,
    (left, right): (f32, f32),
    top: f32,
    end_ns: TimeNs,
    color: egui::Color32,
) {
    let end_ns = end_ns.max(1);
    let x = |t: TimeNs| left + (right - left) * (t as f64 / end_ns as f64) as f32;
    let window = crate::view::timeline::TimeWindow { start_ns: 0, end_ns };
    for t in crate::view::timeline::ticks(window, scenario.clock_times, 10) {
        let align = match x(t) {
            px if px < left + 20.0 => egui::Align2::LEFT_TOP,
            px if px > right - 20.0 => egui::Align2::RIGHT_TOP,
            _ => egui::Align2::CENTER_TOP,
        };
        painter.text(
            egui::pos2(x(t), top),
            align,
            crate::view::tick_text(scenario, t),
            egui::FontId::proportional(10.0),
            color,
        );
    }
}
