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

/// Where a chart's title, legend and plot go in a chart `width` wide: the title wraps inside the
/// chart and the legend runs on to further rows instead of being cut at the chart's edge, and the
/// chart grows by what they take, so that the plot keeps the height it has under a one-line title
/// and legend.
pub struct ChartLayout {
    pub title: std::sync::Arc<egui::Galley>,
    /// Each series' legend entry: its top left corner, relative to the chart's.
    pub legend: Vec<Vec2>,
    /// The whole chart's size, taller than asked by what a wrapped title or legend takes.
    pub size: Vec2,
    /// Top of the plot below the chart's top (its bottom is 34 points above the chart's).
    pub plot_top: f32,
}

const LEGEND_ROW: f32 = 14.0;

impl ChartLayout {
    /// `size` is the chart's size with a title and legend of one line each.
    pub fn new(painter: &egui::Painter, chart: &Chart, size: Vec2, text: egui::Color32) -> ChartLayout {
        // The y unit goes with the title: beside the axis it would collide with the tick labels.
        let title = painter.layout(
            format!("{} ({})", chart.title, chart.y_label),
            FontId::proportional(12.0),
            text,
            size.x - 12.0,
        );
        let legend_top = 4.0 + title.size().y + 4.0;
        let (mut x, mut y) = (10.0, legend_top);
        let mut legend = Vec::new();
        for s in &chart.series {
            let width = 14.0 + painter.layout_no_wrap(s.name.clone(), FontId::proportional(10.0), text).size().x;
            if x > 10.0 && x + width > size.x - 6.0 {
                (x, y) = (10.0, y + LEGEND_ROW);
            }
            legend.push(Vec2::new(x, y));
            x += width + 12.0;
        }
        let plot_top = y + LEGEND_ROW + 4.0;
        // A one-line title and legend put the plot 40 points down.
        ChartLayout { title, legend, size: Vec2::new(size.x, size.y + (plot_top - 40.0).max(0.0)), plot_top }
    }
}

pub fn chart_ui(ui: &mut egui::Ui, chart: &Chart, cursor_ns: TimeNs, size: Vec2) {
    let text = ui.visuals().text_color();
    let layout = ChartLayout::new(ui.painter(), chart, size, text);
    let (response, painter) = ui.allocate_painter(layout.size, Sense::hover());
    let visuals = ui.visuals();
    let rect = response.rect;
    painter.rect_filled(rect, 3.0, visuals.extreme_bg_color);
    painter.rect_stroke(
        rect,
        3.0,
        Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color),
        StrokeKind::Inside,
    );
    let weak = visuals.weak_text_color();
    painter.galley(rect.left_top() + Vec2::new(6.0, 4.0), layout.title.clone(), text);
    let plot = Rect::from_min_max(
        rect.left_top() + Vec2::new(48.0, layout.plot_top),
        rect.right_bottom() - Vec2::new(10.0, 34.0),
    );
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
    // Legend: under the title, above the plot, so it never hides a line.
    for (i, (s, at)) in chart.series.iter().zip(&layout.legend).enumerate() {
        let at = rect.left_top() + *at;
        painter.rect_filled(Rect::from_min_size(at + Vec2::new(0.0, 4.0), Vec2::new(10.0, 4.0)), 0.0, palette(i));
        painter.text(at + Vec2::new(14.0, 0.0), Align2::LEFT_TOP, &s.name, small.clone(), text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::plots::Series;

    /// A title as long as the Charts tab's at 1280x800 (about 460 points a chart) wraps inside
    /// the chart, a legend too wide for one row runs on to another, and the plot keeps its height.
    #[test]
    fn a_long_title_and_legend_fit_their_chart() {
        let series = |name: &str| Series { name: name.to_string(), points: vec![(0.0, 1.0), (1.0, 2.0)] };
        let chart = Chart {
            id: "records-per-second",
            title: "Records processed per second, per operator — Clickstream: counts per user across three task \
                    managers, seed 42, exactly-once"
                .to_string(),
            x_label: "run time (s)".to_string(),
            y_label: "records / s".to_string(),
            style: ChartStyle::TimeLines,
            series: ["clicks", "counts", "a longer operator name", "another long operator name", "out", "late"]
                .map(series)
                .to_vec(),
            clock_times: false,
        };
        let ctx = egui::Context::default();
        let mut output = ctx.run_pass(egui::RawInput::default(), |ctx| {
            let painter = ctx.layer_painter(egui::LayerId::background());
            let asked = Vec2::new(460.0, 200.0);
            let layout = ChartLayout::new(&painter, &chart, asked, egui::Color32::WHITE);
            assert!(layout.title.rows.len() > 1, "the title wraps");
            assert!(6.0 + layout.title.size().x <= asked.x, "the title fits: {}", layout.title.size().x);
            let legend_rows: std::collections::BTreeSet<u32> = layout.legend.iter().map(|p| p.y as u32).collect();
            assert!(legend_rows.len() > 1, "the legend runs on to a second row");
            for (s, at) in chart.series.iter().zip(&layout.legend) {
                let width = 14.0
                    + painter.layout_no_wrap(s.name.clone(), FontId::proportional(10.0), egui::Color32::WHITE).size().x;
                assert!(at.x + width <= asked.x, "{} ends inside the chart", s.name);
                assert!(at.y >= 4.0 + layout.title.size().y, "{} is under the title", s.name);
            }
            // The plot is as tall as under a one-line title and legend (40 points down).
            assert_eq!(layout.size.y - layout.plot_top, asked.y - 40.0);
        });
        // The font atlas this pass made is not drawn anywhere.
        output.textures_delta.clear();
    }
}
