//! The timeline: the whole run left to right, checkpoints as bars, faults and late records as
//! ticks, the cursor as a line. Click or drag to move the cursor.

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, StrokeKind};
use sim::kernel::TimeNs;

use crate::app::Action;
use crate::panels::labels::{timeline_labels_id, Labels};
use crate::panels::{BLOCKED_COLOR, WATERMARK_COLOR};
use crate::scrub::RecordedRun;
use crate::time_control::Command;
use crate::view::markers::{self, MarkerKind};
use crate::view::tick_text;

const HEIGHT: f32 = 74.0;
const FORK_COLOR: Color32 = Color32::from_rgb(120, 60, 200);

pub fn timeline_ui(ui: &mut egui::Ui, run: &RecordedRun, cursor_ns: TimeNs, actions: &mut Vec<Action>) {
    ui.horizontal_wrapped(|ui| {
        ui.small("Timeline — green bars: completed checkpoints, red: aborted; red triangles: faults; orange ticks: late records dropped; grey ticks: subtasks finished. Click or drag to move.");
        // The fork's label sits here, never over the bars: the timeline marks it with a line.
        if let Some(fork) = &run.fork {
            ui.colored_label(FORK_COLOR, format!("fork at {}: {}", tick_text(&run.scenario, fork.at_ns), fork.what));
        }
    });
    let width = ui.available_width();
    let (response, painter) = ui.allocate_painter(egui::vec2(width, HEIGHT), Sense::click_and_drag());
    // Named for screen readers and for the UI tests, which click it.
    response.widget_info(|| egui::WidgetInfo::labeled(egui::accesskit::Role::Slider, true, "Timeline"));
    let rect = response.rect;
    let visuals = ui.visuals();
    painter.rect_filled(rect, 3.0, visuals.extreme_bg_color);
    let end = run.end_ns.max(1);
    let inner = rect.shrink2(egui::vec2(8.0, 4.0));
    let x_of = |t: TimeNs| inner.left() + inner.width() * (t as f64 / end as f64) as f32;
    let lane = |i: usize| {
        let h = (inner.height() - 14.0) / 3.0;
        Rect::from_min_size(Pos2::new(inner.left(), inner.top() + i as f32 * h), egui::vec2(inner.width(), h))
    };
    // Ticks: about eight labelled times (fewer when they would not fit side by side).
    let text_color = visuals.weak_text_color();
    let mut labels = Labels::new();
    for k in 0..=8u64 {
        let t = end / 8 * k;
        let x = x_of(t);
        painter.vline(x, inner.bottom() - 14.0..=inner.bottom() - 10.0, Stroke::new(1.0, text_color));
        let align = if k == 0 {
            Align2::LEFT_TOP
        } else if k == 8 {
            Align2::RIGHT_TOP
        } else {
            Align2::CENTER_TOP
        };
        let at = [(Pos2::new(x, inner.bottom() - 10.0), align)];
        labels.place(&painter, &at, tick_text(&run.scenario, t), FontId::proportional(10.0), text_color, rect, false);
    }
    labels.remember(ui.ctx(), timeline_labels_id());
    for span in markers::checkpoint_spans(&run.markers) {
        let l = lane(0);
        let x0 = x_of(span.start_ns);
        let x1 = x_of(span.end_ns.unwrap_or(run.end_ns)).max(x0 + 2.0);
        let color = match (span.end_ns, span.completed) {
            (Some(_), true) => Color32::from_rgb(40, 160, 80),
            (Some(_), false) => BLOCKED_COLOR,
            (None, _) => Color32::GRAY,
        };
        painter.rect_filled(Rect::from_x_y_ranges(x0..=x1, l.y_range().shrink(2.0)), 1.0, color);
    }
    let mut hover_text: Option<String> = None;
    let hover = response.hover_pos();
    for m in &run.markers {
        let x = x_of(m.time_ns);
        let l = lane(m.kind.lane());
        match m.kind {
            k if k.is_fault() => {
                let c = l.center();
                let tri = vec![Pos2::new(x, c.y - 6.0), Pos2::new(x - 5.0, c.y + 5.0), Pos2::new(x + 5.0, c.y + 5.0)];
                painter.add(egui::Shape::convex_polygon(tri, BLOCKED_COLOR, Stroke::NONE));
            }
            MarkerKind::LateDropped => {
                painter.vline(x, l.y_range().shrink(3.0), Stroke::new(1.0, WATERMARK_COLOR));
            }
            MarkerKind::Finished => {
                painter.vline(x, l.y_range().shrink(6.0), Stroke::new(1.0, text_color));
            }
            // Where this run and its parent (or a fork) first differ: the whole height.
            MarkerKind::Divergence => {
                painter.vline(x, inner.y_range(), Stroke::new(2.0, crate::panels::DIVERGENCE_COLOR));
            }
            // Checkpoints are drawn as spans above.
            _ => {}
        }
        if hover.is_some_and(|p| (p.x - x).abs() < 3.0 && l.y_range().contains(p.y)) {
            hover_text = Some(markers::describe(&run.scenario, &run.final_world.faults, m));
        }
    }
    if let Some(fork) = &run.fork {
        let x = x_of(fork.at_ns);
        painter.vline(x, inner.y_range(), Stroke::new(2.0, FORK_COLOR));
    }
    let cx = x_of(cursor_ns);
    painter.vline(cx, rect.y_range(), Stroke::new(2.0, visuals.strong_text_color()));
    painter.rect_stroke(
        rect,
        3.0,
        Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color),
        StrokeKind::Inside,
    );
    if let Some(p) = response.interact_pointer_pos() {
        if response.clicked() || response.dragged() {
            let f = ((p.x - inner.left()) / inner.width()).clamp(0.0, 1.0) as f64;
            actions.push(Action::Time(Command::Seek((f * end as f64) as TimeNs)));
        }
    }
    if let Some(text) = hover_text {
        response.on_hover_text(text);
    }
}
