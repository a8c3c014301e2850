//! Charts of the whole run (records per second, watermark lag, checkpoint durations) drawn with
//! the egui painter, the cursor as a vertical line, and an export to PNG and SVG.

use egui::{Align2, FontId, Pos2, Rect, Sense, Stroke, StrokeKind, Vec2};
use sim::kernel::TimeNs;

use crate::app::Action;
use crate::panels::palette;
use crate::view::plots::{Chart, ChartStyle};

pub fn plots_ui(
    ui: &mut egui::Ui,
    charts: &[Chart],
    cursor_ns: TimeNs,
    export_dir: &mut String,
    status: &Option<Result<String, crate::error::WriteError>>,
    actions: &mut Vec<Action>,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Export to folder:");
        ui.add(egui::TextEdit::singleline(export_dir).desired_width(220.0));
        if ui.button("Export charts (PNG + SVG)").clicked() {
            actions.push(Action::ExportCharts);
        }
        match status {
            Some(Ok(message)) => {
                ui.weak(message);
            }
            Some(Err(e)) => {
                ui.colored_label(crate::panels::BLOCKED_COLOR, e.to_string());
            }
            None => {}
        }
    });
    egui::ScrollArea::vertical().id_salt("charts_scroll").auto_shrink([false, false]).show(ui, |ui| {
        let width = ui.available_width();
        let per_row = if width > 900.0 { 2 } else { 1 };
        let chart_width = width / per_row as f32 - 8.0;
        for pair in charts.chunks(per_row) {
            ui.horizontal(|ui| {
                for chart in pair {
                    chart_ui(ui, chart, cursor_ns, Vec2::new(chart_width, 200.0));
                }
            });
        }
    });
}

pub fn chart_ui(ui: &mut egui::Ui, chart: &Chart, cursor_ns: TimeNs, size: Vec2) {
    let (response, painter) = ui.allocate_painter(size, Sense::hover());
    let visuals = ui.visuals();
    let rect = response.rect;
    painter.rect_filled(rect, 3.0, visuals.extreme_bg_color);
    painter.rect_stroke(
        rect,
        3.0,
        Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color),
        StrokeKind::Inside,
    );
    let text = visuals.text_color();
    let weak = visuals.weak_text_color();
    // The y unit goes with the title: beside the axis it would collide with the tick labels.
    painter.text(
        rect.left_top() + Vec2::new(6.0, 4.0),
        Align2::LEFT_TOP,
        format!("{} ({})", chart.title, chart.y_label),
        FontId::proportional(12.0),
        text,
    );
    let plot = Rect::from_min_max(rect.left_top() + Vec2::new(48.0, 40.0), rect.right_bottom() - Vec2::new(10.0, 34.0));
    if chart.is_empty() {
        painter.text(plot.center(), Align2::CENTER_CENTER, "no data in this run", FontId::proportional(12.0), weak);
        return;
    }
    let ((x0, x1), (y0, y1)) = chart.bounds();
    let to_screen = |x: f64, y: f64| {
        Pos2::new(
            plot.left() + ((x - x0) / (x1 - x0)) as f32 * plot.width(),
            plot.bottom() - ((y - y0) / (y1 - y0)) as f32 * plot.height(),
        )
    };
    let axis = Stroke::new(1.0, weak);
    painter.hline(plot.x_range(), plot.bottom(), axis);
    painter.vline(plot.left(), plot.y_range(), axis);
    let small = FontId::proportional(10.0);
    for y in chart.y_ticks(5) {
        let p = to_screen(x0, y);
        painter.text(p - Vec2::new(4.0, 0.0), Align2::RIGHT_CENTER, Chart::y_text(y), small.clone(), weak);
    }
    for x in chart.x_ticks(7) {
        let p = to_screen(x, y0);
        painter.text(p + Vec2::new(0.0, 2.0), Align2::CENTER_TOP, chart.x_text(x), small.clone(), weak);
    }
    painter.text(
        Pos2::new(plot.center().x, rect.bottom() - 2.0),
        Align2::CENTER_BOTTOM,
        &chart.x_label,
        small.clone(),
        weak,
    );
    match chart.style {
        ChartStyle::TimeLines => {
            for (i, s) in chart.series.iter().enumerate() {
                let points: Vec<Pos2> = s.points.iter().map(|&(x, y)| to_screen(x, y)).collect();
                if points.len() > 1 {
                    painter.line(points, Stroke::new(1.5, palette(i)));
                }
            }
            let cx = cursor_ns as f64 / 1e9;
            if cx >= x0 && cx <= x1 {
                painter.vline(to_screen(cx, y0).x, plot.y_range(), Stroke::new(1.0, text));
            }
        }
        ChartStyle::Bars => {
            let n = chart.series.len().max(1) as f32;
            let slot = plot.width() / (x1 - x0) as f32 * 0.8;
            for (i, s) in chart.series.iter().enumerate() {
                for &(x, y) in &s.points {
                    let base = to_screen(x, y0);
                    let top = to_screen(x, y);
                    let left = base.x - slot / 2.0 + slot / n * i as f32;
                    painter.rect_filled(Rect::from_x_y_ranges(left..=left + slot / n, top.y..=base.y), 0.0, palette(i));
                }
            }
        }
    }
    // Legend: one row under the title, above the plot, so it never hides a line.
    let mut x = rect.left() + 10.0;
    let y = rect.top() + 22.0;
    for (i, s) in chart.series.iter().enumerate() {
        painter.rect_filled(Rect::from_min_size(Pos2::new(x, y + 4.0), Vec2::new(10.0, 4.0)), 0.0, palette(i));
        let r = painter.text(Pos2::new(x + 14.0, y), Align2::LEFT_TOP, &s.name, small.clone(), text);
        x = r.right() + 12.0;
    }
}
