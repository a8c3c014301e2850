//! The timeline: the run (or the zoomed part of it) left to right, checkpoints as bars, faults
//! and late records as ticks, the cursor as a line; zoomed in, a lane per subtask shows where
//! each one works. Click or drag to move the cursor (a click next to a fault or a checkpoint's end
//! lands on it); the wheel zooms around the pointer, shift+wheel or dragging with the right or
//! middle button pans; the buttons zoom, fit the activity, show the whole run and list the
//! bookmarks (faults and checkpoints).

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, StrokeKind};
use sim::kernel::TimeNs;

use crate::app::Action;
use crate::panels::labels::{timeline_labels_id, Labels};
use crate::panels::{BLOCKED_COLOR, WATERMARK_COLOR};
use crate::scrub::RecordedRun;
use crate::time_control::Command;
use crate::view::markers::{self, MarkerKind};
use crate::view::tick_text;
use crate::view::timeline::{self as tl, TimeWindow, TimelineState, ZOOM_STEP};

const HEIGHT: f32 = 74.0;
/// A subtask's lane when zoomed in.
const LANE_HEIGHT: f32 = 13.0;
/// At most this many subtask lanes (the first ones in plan order); the rest are counted.
pub const MAX_LANES: usize = 16;
const FORK_COLOR: Color32 = Color32::from_rgb(120, 60, 200);
const WORK_COLOR: Color32 = Color32::from_rgb(70, 130, 200);
const SNAPSHOT_COLOR: Color32 = Color32::from_rgb(40, 160, 80);
/// A click this close (points) to a bookmark's marker lands on the bookmark.
const SNAP_PX: f32 = 4.0;

pub fn timeline_ui(
    ui: &mut egui::Ui,
    run: &RecordedRun,
    cursor_ns: TimeNs,
    state: &mut TimelineState,
    // More controls for the row under the timeline (the app's "Export for slides").
    extra: impl FnOnce(&mut egui::Ui, &mut Vec<Action>),
    actions: &mut Vec<Action>,
) {
    let end = run.end_ns.max(1);
    let min_span = tl::min_span(&run.scenario);
    let mut window = state.window(end, min_span);
    let bookmarks = tl::bookmarks(&run.scenario, &run.final_world.faults, &run.markers);
    let zoomed = window.is_zoomed(end);
    let subtasks = run.scenario.plan.subtasks.len();
    // Lanes take at most an eighth of the window's height (at least three), so that the graph and
    // the tabs keep their room on a small projector; the hover text says when some are left out.
    let room = (ui.ctx().content_rect().height() / 8.0 / LANE_HEIGHT) as usize;
    let lanes_shown = if zoomed { subtasks.min(MAX_LANES).min(room.max(3)) } else { 0 };
    let height = HEIGHT + lanes_shown as f32 * LANE_HEIGHT;
    let width = ui.available_width();
    let (response, painter) = ui.allocate_painter(egui::vec2(width, height), Sense::click_and_drag());
    // Named for screen readers and for the UI tests, which click it.
    response.widget_info(|| egui::WidgetInfo::labeled(egui::accesskit::Role::Slider, true, "Timeline"));
    let rect = response.rect;
    let visuals = ui.visuals();
    let text_color = visuals.weak_text_color();
    painter.rect_filled(rect, 3.0, visuals.extreme_bg_color);
    let inner = rect.shrink2(egui::vec2(8.0, 4.0));
    let mut labels = Labels::new();
    // Zoomed in, the subtasks' names take a column on the left, and every lane starts after it.
    let lane_font = FontId::proportional(10.0);
    let gutter = if lanes_shown > 0 {
        run.scenario.plan.subtasks[..lanes_shown]
            .iter()
            .map(|s| painter.layout_no_wrap(s.name.clone(), lane_font.clone(), text_color).size().x)
            .fold(0.0f32, f32::max)
            .min(inner.width() / 4.0)
            + 6.0
    } else {
        0.0
    };
    let plot = Rect::from_min_max(Pos2::new(inner.left() + gutter, inner.top()), inner.max);
    let x_of = |t: TimeNs| plot.left() + plot.width() * window.fraction(t) as f32;
    let visible = |t: TimeNs| (window.start_ns..=window.end_ns).contains(&t);
    let overview_height = HEIGHT - 8.0 - 14.0;
    let lane = |i: usize| {
        let h = overview_height / 3.0;
        Rect::from_min_size(Pos2::new(plot.left(), plot.top() + i as f32 * h), egui::vec2(plot.width(), h))
    };
    let axis_top = plot.bottom() - 14.0;

    // Ticks: round times, as many as fit side by side.
    let max_ticks = ((plot.width() / 90.0) as u64).clamp(2, 10);
    for t in tl::ticks(window, run.scenario.clock_times, max_ticks) {
        let x = x_of(t);
        painter.vline(x, axis_top..=axis_top + 4.0, Stroke::new(1.0, text_color));
        let at = [
            (Pos2::new(x, axis_top + 4.0), Align2::CENTER_TOP),
            (Pos2::new(x, axis_top + 4.0), Align2::LEFT_TOP),
            (Pos2::new(x, axis_top + 4.0), Align2::RIGHT_TOP),
        ];
        labels.place(&painter, &at, tick_text(&run.scenario, t), FontId::proportional(10.0), text_color, rect, false);
    }

    // Checkpoints, faults, data events.
    for span in markers::checkpoint_spans(&run.markers) {
        let span_end = span.end_ns.unwrap_or(run.end_ns);
        if span_end < window.start_ns || span.start_ns > window.end_ns {
            continue;
        }
        let l = lane(0);
        let x0 = x_of(span.start_ns).max(plot.left());
        let x1 = x_of(span_end).min(plot.right()).max(x0 + 2.0);
        let color = match (span.end_ns, span.completed) {
            (Some(_), true) => Color32::from_rgb(40, 160, 80),
            (Some(_), false) => BLOCKED_COLOR,
            (None, _) => Color32::GRAY,
        };
        painter.rect_filled(Rect::from_x_y_ranges(x0..=x1, l.y_range().shrink(2.0)), 1.0, color);
    }
    let mut hover_text: Option<String> = None;
    let hover = response.hover_pos();
    let from = run.markers.partition_point(|m| m.time_ns < window.start_ns);
    let to = run.markers.partition_point(|m| m.time_ns <= window.end_ns);
    for m in run.markers.get(from..to).unwrap_or(&[]) {
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

    // Zoomed in: a lane per subtask.
    if lanes_shown > 0 {
        let top = plot.top() + overview_height;
        let buckets = (plot.width() / 2.0).max(1.0) as usize;
        let lanes = tl::lanes(&run.trace, &run.markers, lanes_shown, window, buckets);
        let most = lanes.work.iter().flatten().copied().max().unwrap_or(0).max(1) as f32;
        let col = plot.width() / buckets as f32;
        for (s, work) in lanes.work.iter().enumerate() {
            let y = top + s as f32 * LANE_HEIGHT;
            let row = Rect::from_x_y_ranges(plot.x_range(), y..=y + LANE_HEIGHT - 2.0);
            if s % 2 == 0 {
                painter.rect_filled(row, 0.0, visuals.faint_bg_color);
            }
            let name = &run.scenario.plan.subtasks[s].name;
            let at = [(Pos2::new(inner.left(), y + (LANE_HEIGHT - 2.0) / 2.0), Align2::LEFT_CENTER)];
            labels.place(&painter, &at, name.clone(), lane_font.clone(), text_color, rect, false);
            for (b, &count) in work.iter().enumerate() {
                if count == 0 {
                    continue;
                }
                let alpha = (60.0 + 195.0 * (count as f32 / most).sqrt()) as u8;
                let x = plot.left() + b as f32 * col;
                painter.rect_filled(
                    Rect::from_x_y_ranges(x..=x + col.max(1.0), row.y_range().shrink(1.0)),
                    0.0,
                    Color32::from_rgba_unmultiplied(WORK_COLOR.r(), WORK_COLOR.g(), WORK_COLOR.b(), alpha),
                );
            }
            if hover.is_some_and(|p| row.contains(p)) {
                let total: u64 = work.iter().map(|&c| c as u64).sum();
                let about = if lanes.stride > 1 { "about " } else { "" };
                hover_text = Some(format!("{name}: {about}{total} events handled in the visible stretch"));
            }
        }
        for &(s, t) in &lanes.snapshots {
            let y = top + s as f32 * LANE_HEIGHT;
            painter.vline(x_of(t), y..=y + LANE_HEIGHT - 2.0, Stroke::new(2.0, SNAPSHOT_COLOR));
        }
        for &(s, t) in &lanes.late {
            let y = top + s as f32 * LANE_HEIGHT;
            painter.vline(x_of(t), y..=y + LANE_HEIGHT - 2.0, Stroke::new(1.5, WATERMARK_COLOR));
        }
        if subtasks > lanes_shown {
            hover_text = hover_text.or_else(|| {
                hover
                    .filter(|p| p.y > top)
                    .map(|_| format!("the first {lanes_shown} of {subtasks} subtasks have lanes"))
            });
        }
    }
    labels.remember(ui.ctx(), timeline_labels_id());

    if let Some(fork) = run.fork.as_ref().filter(|f| visible(f.at_ns)) {
        painter.vline(x_of(fork.at_ns), plot.y_range(), Stroke::new(2.0, FORK_COLOR));
    }
    if visible(cursor_ns) {
        painter.vline(x_of(cursor_ns), rect.y_range(), Stroke::new(2.0, visuals.strong_text_color()));
    }
    painter.rect_stroke(
        rect,
        3.0,
        Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color),
        StrokeKind::Inside,
    );

    // Moving the cursor: a click (snapped to a bookmark nearby) or a drag with the primary button.
    let shown = window;
    let time_at = |x: f32| shown.time_at(((x - plot.left()) / plot.width()) as f64);
    if let Some(p) = response.interact_pointer_pos() {
        let primary = ui.input(|i| i.pointer.primary_down() || i.pointer.primary_released());
        if response.clicked() {
            let t = time_at(p.x);
            let tolerance = (SNAP_PX as f64 / plot.width() as f64 * window.span() as f64) as TimeNs;
            let t = tl::nearest_bookmark(&bookmarks, t, tolerance).map_or(t, |b| b.time_ns);
            actions.push(Action::Time(Command::Seek(t)));
        } else if response.dragged() && primary {
            actions.push(Action::Time(Command::Seek(time_at(p.x))));
        }
    }
    // Panning: a drag with the right or middle button.
    if response.dragged_by(egui::PointerButton::Secondary) || response.dragged_by(egui::PointerButton::Middle) {
        let dx = response.drag_delta().x;
        let delta = -(dx as f64 / plot.width() as f64 * window.span() as f64);
        window = window.pan(delta as i64, end, min_span);
    }
    // The wheel: zoom around the pointer; shift or a sideways wheel pans.
    if let Some(p) = response.hover_pos() {
        let anchor = time_at(p.x);
        ui.input(|i| {
            for event in &i.events {
                match event {
                    egui::Event::MouseWheel { unit, delta, modifiers, .. } => {
                        let notches = match unit {
                            egui::MouseWheelUnit::Point => *delta / 50.0,
                            egui::MouseWheelUnit::Line => *delta,
                            egui::MouseWheelUnit::Page => *delta * 4.0,
                        };
                        let sideways = if modifiers.shift { notches.x + notches.y } else { notches.x };
                        if sideways != 0.0 {
                            let delta = -(sideways as f64) * window.span() as f64 / 10.0;
                            window = window.pan(delta as i64, end, min_span);
                        }
                        if !modifiers.shift && notches.y != 0.0 {
                            window = window.zoom(anchor, ZOOM_STEP.powf(notches.y as f64), end, min_span);
                        }
                    }
                    egui::Event::Zoom(factor) if *factor > 0.0 => {
                        window = window.zoom(anchor, 1.0 / *factor as f64, end, min_span);
                    }
                    _ => {}
                }
            }
        });
    }
    // The controls sit under the drawing: the panel grows upwards when lanes appear, so they
    // stay where the pointer is when zooming in with the buttons.
    ui.horizontal(|ui| {
        if ui.small_button("Zoom out").clicked() {
            window = window.zoom(window.start_ns + window.span() / 2, 1.0 / ZOOM_STEP, end, min_span);
        }
        if ui.small_button("Zoom in").clicked() {
            let anchor = if (window.start_ns..=window.end_ns).contains(&cursor_ns) {
                cursor_ns
            } else {
                window.start_ns + window.span() / 2
            };
            window = window.zoom(anchor, ZOOM_STEP, end, min_span);
        }
        if ui.small_button("Fit to activity").clicked() {
            window = tl::activity(&run.trace, end, min_span);
        }
        if ui.add_enabled(window.is_zoomed(end), egui::Button::new("Whole run").small()).clicked() {
            window = TimeWindow::whole(end);
        }
        ui.menu_button(format!("Bookmarks ({})", bookmarks.len()), |ui| {
            egui::ScrollArea::vertical().max_height(320.0).show(ui, |ui| {
                if bookmarks.is_empty() {
                    ui.label("No faults or checkpoints in this run.");
                }
                for b in &bookmarks {
                    let text = egui::RichText::new(&b.text);
                    let text = if b.fault { text.color(BLOCKED_COLOR) } else { text };
                    if ui.button(text).clicked() {
                        actions.push(Action::Time(Command::Seek(b.time_ns)));
                        ui.close();
                    }
                }
            });
        });
        extra(ui, actions);
        ui.small(format!(
            "showing {} – {}",
            crate::view::time_text(&run.scenario, window.start_ns),
            crate::view::time_text(&run.scenario, window.end_ns)
        ));
        // The fork's label ends the row, cut to the room left, so that showing a fork never
        // changes the panel's height (its point is marked on the timeline by a line).
        if let Some(fork) = &run.fork {
            let text = format!("fork at {}: {}", tick_text(&run.scenario, fork.at_ns), fork.what);
            ui.add(egui::Label::new(egui::RichText::new(&text).color(FORK_COLOR)).truncate()).on_hover_text(&text);
        }
    });
    ui.small("Green bars: completed checkpoints, red: aborted; red triangles: faults; orange ticks: late records dropped; grey ticks: subtasks finished; zoomed in, blue: a subtask at work. Click or drag to move; wheel to zoom, shift+wheel or right-drag to pan.");

    if state.window(end, min_span) != window {
        state.set(window, end);
        ui.ctx().request_repaint();
    }
    if let Some(text) = hover_text {
        response.on_hover_text(text);
    }
}
