//! Chart export with plotters: one PNG and one SVG per chart. Files are written atomically (a
//! temporary file in the same folder, then a rename), so a reader never sees half a picture, and
//! only a regular file is ever replaced (`sim::atomic_write`: never a symlink, device or folder).

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{DrawError, WriteError};
use crate::panels::PALETTE;
use crate::view::plots::{Chart, ChartStyle};

const SIZE: (u32, u32) = (960, 480);

/// Write `<id>.png` and `<id>.svg` for every chart into `dir` (created if missing).
pub fn export_all(charts: &[Chart], dir: &Path) -> Result<String, WriteError> {
    std::fs::create_dir_all(dir).map_err(|e| WriteError::create_folder(dir, e))?;
    let mut written = Vec::new();
    for chart in charts {
        let png = dir.join(format!("{}.png", chart.id));
        write_png(chart, &png)?;
        let svg = dir.join(format!("{}.svg", chart.id));
        write_svg(chart, &svg)?;
        written.push(png);
        written.push(svg);
    }
    Ok(format!("wrote {} files to {}", written.len(), dir.display()))
}

pub fn write_svg(chart: &Chart, path: &Path) -> Result<(), WriteError> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        draw(chart, &root).map_err(|why| WriteError::draw(path, why))?;
        root.present().map_err(|e| WriteError::draw(path, e))?;
    }
    write_atomically(path, text.as_bytes())
}

/// Bitmap text needs a font file: register egui's own default font as plotters' "sans-serif",
/// once (so exports look the same on every machine, with no system fonts involved).
pub(crate) fn register_fonts() -> Result<(), WriteError> {
    static REGISTERED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT).is_ok()
    });
    if *ok {
        Ok(())
    } else {
        Err(WriteError::Font)
    }
}

pub fn write_png(chart: &Chart, path: &Path) -> Result<(), WriteError> {
    write_png_atomically(path, SIZE, |root| draw(chart, root))
}

/// A PNG of `size` drawn by `draw`, written the one safe way: into a temporary file beside
/// `path`, synced, and renamed over `path` only if that is still something we may replace.
pub(crate) fn write_png_atomically(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), DrawError>,
) -> Result<(), WriteError> {
    register_fonts()?;
    sim::atomic_write::check_target(path, sim::atomic_write::Overwrite::Replace)
        .map_err(|e| WriteError::write(path, e))?;
    // plotters picks the image format from the extension, so the temporary name ends in .png.
    let tmp = temporary_name(path, "png");
    let result = (|| {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        draw(&root).map_err(|why| WriteError::draw(path, why))?;
        root.present().map_err(|e| WriteError::draw(path, e))
    })();
    let result = result.and_then(|()| {
        // Durable, and the target still something we may replace, before the rename.
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .and_then(|()| sim::atomic_write::check_target(path, sim::atomic_write::Overwrite::Replace))
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| WriteError::write(path, e))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

pub(crate) fn temporary_name(path: &Path, extension: &str) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path.file_name().map_or_else(|| "chart".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}.{n}.partial.{extension}", std::process::id()))
}

/// Write `bytes` atomically: a chart is the tool's own output, so it may replace a regular file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    sim::atomic_write::write_bytes(path, bytes, sim::atomic_write::Overwrite::Replace)
        .map_err(|e| WriteError::write(path, e))
}

fn color(i: usize) -> RGBColor {
    let c = PALETTE[i % PALETTE.len()];
    RGBColor(c.r(), c.g(), c.b())
}

fn draw<DB: DrawingBackend>(chart: &Chart, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
    root.fill(&WHITE)?;
    let ((x0, x1), (y0, y1)) = chart.bounds();
    let mut ctx = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    // Bars stand for checkpoints: label whole ids only, one tick per id.
    let bars = chart.style == ChartStyle::Bars;
    let ids = (x1 - x0).round().max(1.0) as usize;
    // Times read in the scenario's clock, checkpoints as whole ids (`Chart::x_text`).
    let x_text = |x: &f64| chart.x_text(*x);
    let mut mesh = ctx.configure_mesh();
    mesh.x_desc(chart.x_label.as_str()).y_desc(chart.y_label.as_str()).x_label_formatter(&x_text);
    if bars {
        mesh.x_labels(ids + 1);
    }
    mesh.draw()?;
    let n = chart.series.len().max(1) as f64;
    for (i, s) in chart.series.iter().enumerate() {
        let c = color(i);
        match chart.style {
            ChartStyle::TimeLines => {
                ctx.draw_series(LineSeries::new(s.points.iter().copied(), c.stroke_width(2)))?
                    .label(s.name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
            }
            ChartStyle::Bars => {
                let width = 0.8 / n;
                ctx.draw_series(s.points.iter().map(|&(x, y)| {
                    let left = x - 0.4 + width * i as f64;
                    Rectangle::new([(left, 0.0), (left + width, y)], c.filled())
                }))?
                .label(s.name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], c.filled()));
            }
        }
    }
    if !chart.series.is_empty() {
        ctx.configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::plots::Series;

    fn chart(style: ChartStyle) -> Chart {
        Chart {
            id: "test-chart",
            title: "A test".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            style,
            series: vec![
                Series { name: "a".into(), points: vec![(1.0, 2.0), (2.0, 3.0), (3.0, 1.0)] },
                Series { name: "b".into(), points: vec![(1.0, 1.0), (2.0, 0.5), (3.0, 2.5)] },
            ],
            clock_times: false,
        }
    }

    #[test]
    fn export_writes_png_and_svg_and_leaves_no_temporary_files() {
        let dir = std::env::temp_dir().join(format!("streamlab-export-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let message = export_all(
            &[chart(ChartStyle::TimeLines), {
                let mut c = chart(ChartStyle::Bars);
                c.id = "bars";
                c
            }],
            &dir,
        )
        .unwrap();
        assert!(message.starts_with("wrote 4 files"), "{message}");
        let png = std::fs::read(dir.join("test-chart.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg = std::fs::read_to_string(dir.join("bars.svg")).unwrap();
        assert!(svg.contains("<svg"));
        let names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert!(names.iter().all(|n| !n.starts_with('.')), "temporary files left: {names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
