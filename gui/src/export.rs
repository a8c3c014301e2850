//! Chart export with plotters: one PNG and one SVG per chart. Files are written atomically (a
//! temporary file in the same folder, then a rename), so a reader never sees half a picture, and
//! only a regular file is ever replaced (`sim::atomic_write`: never a symlink, device or folder).

use std::io::Write;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{DrawError, WriteError};
use crate::panels::PALETTE;
use crate::view::plots::{Chart, ChartStyle};

const SIZE: (u32, u32) = (960, 480);

/// Write `<id>.png` and `<id>.svg` for every chart into `dir` (created if missing).
/// Each file is named `<prefix><chart id>.png` / `.svg`: the workbench prefixes the run's name
/// stem, so that the charts of two runs (aligned and unaligned, say) sit side by side instead of
/// the second export replacing the first; `replay --charts` writes into a folder of its own.
pub fn export_all(charts: &[Chart], dir: &Path, prefix: &str) -> Result<String, WriteError> {
    std::fs::create_dir_all(dir).map_err(|e| WriteError::create_folder(dir, e))?;
    let mut written = Vec::new();
    for chart in charts {
        let png = dir.join(format!("{prefix}{}.png", chart.id));
        write_png(chart, &png)?;
        let svg = dir.join(format!("{prefix}{}.svg", chart.id));
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

/// A PNG of `size` drawn by `draw`: drawn into memory, then written the one safe way
/// (`sim::atomic_write`: a temporary file beside `path`, synced, renamed over `path` only if that
/// is still something we may replace).
pub(crate) fn write_png_atomically(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), DrawError>,
) -> Result<(), WriteError> {
    register_fonts()?;
    let (width, height) = size;
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        draw(&root).map_err(|why| WriteError::draw(path, why))?;
        root.present().map_err(|e| WriteError::draw(path, e))?;
    }
    sim::atomic_write::write_with(path, sim::atomic_write::Overwrite::Replace, |w| encode_png(w, size, &rgb))
        .map_err(|e| WriteError::write(path, e))
}

/// 8-bit RGB pixels, row by row, as a PNG. The `png` crate is the one eframe already builds (for
/// window icons); plotters' own encoder would bring in a second image library.
fn encode_png(w: &mut dyn Write, (width, height): (u32, u32), rgb: &[u8]) -> std::io::Result<()> {
    let mut encoder = png::Encoder::new(w, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    writer.write_image_data(rgb).map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}

/// Write `bytes` atomically: a chart is the tool's own output, so it may replace a regular file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    sim::atomic_write::write_bytes(path, bytes, sim::atomic_write::Overwrite::Replace)
        .map_err(|e| WriteError::write(path, e))
}

const MARGIN_PX: u32 = 12;

/// A chart's title as drawn: 22 px, smaller for a long title so it fits between the margins
/// (plotters centres a caption and lets it run off both edges), down to 12 px; a title still too
/// long at 12 px is cut with an ellipsis.
fn fitted_title<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, title: &str) -> (String, f64) {
    const TITLE_PX_MAX: f64 = 22.0;
    const TITLE_PX_MIN: f64 = 12.0;
    let room = f64::from(root.dim_in_pixel().0.saturating_sub(2 * MARGIN_PX));
    let width = |text: &str, px: f64| {
        root.estimate_text_size(text, &TextStyle::from(("sans-serif", px).into_font()))
            .map_or(0.0, |(w, _)| f64::from(w))
    };
    let at_max = width(title, TITLE_PX_MAX);
    if at_max <= room {
        return (title.to_owned(), TITLE_PX_MAX);
    }
    let px = (TITLE_PX_MAX * room / at_max).floor().max(TITLE_PX_MIN);
    if width(title, px) <= room {
        return (title.to_owned(), px);
    }
    let chars: Vec<char> = title.chars().collect();
    let cut = |n: usize| format!("{}…", chars[..n].iter().collect::<String>().trim_end());
    let text = (0..chars.len()).rev().map(cut).find(|text| width(text, px) <= room).unwrap_or_else(|| "…".into());
    (text, px)
}

fn color(i: usize) -> RGBColor {
    let c = PALETTE[i % PALETTE.len()];
    RGBColor(c.r(), c.g(), c.b())
}

fn draw<DB: DrawingBackend>(chart: &Chart, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
    root.fill(&WHITE)?;
    let ((x0, x1), (y0, y1)) = chart.bounds();
    let (title, title_px) = fitted_title(root, &chart.title);
    let mut ctx = ChartBuilder::on(root)
        .caption(&title, ("sans-serif", title_px))
        .margin(MARGIN_PX)
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
            "",
        )
        .unwrap();
        assert!(message.starts_with("wrote 4 files"), "{message}");
        let (info, pixels) = decode_png(&dir.join("test-chart.png"));
        assert_eq!((info.width, info.height, info.color_type), (960, 480, png::ColorType::Rgb));
        let first_series = PALETTE[0];
        let drawn = pixels.chunks(3).filter(|p| *p == [first_series.r(), first_series.g(), first_series.b()]).count();
        assert!(drawn > 100, "the first series' line is in the picture: {drawn} pixels of its colour");
        let svg = std::fs::read_to_string(dir.join("bars.svg")).unwrap();
        assert!(svg.contains("<svg"));
        let names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert!(names.iter().all(|n| !n.starts_with('.')), "temporary files left: {names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn decode_png(path: &Path) -> (png::OutputInfo, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        pixels.truncate(info.buffer_size());
        (info, pixels)
    }

    /// Whether any pixel in columns `columns` of the title band (the top 40 rows) is not white.
    fn title_band_inked(info: &png::OutputInfo, pixels: &[u8], columns: std::ops::Range<usize>) -> bool {
        let row = info.width as usize * 3;
        (0..40).any(|y| columns.clone().any(|x| pixels[y * row + x * 3..y * row + x * 3 + 3] != [255, 255, 255]))
    }

    #[test]
    fn a_long_title_is_fitted_between_the_margins() {
        let dir = std::env::temp_dir().join(format!("streamlab-export-title-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, words) in [("long", 16), ("very-long", 60)] {
            let mut c = chart(ChartStyle::TimeLines);
            c.title = vec!["checkpoint"; words].join(" ");
            let path = dir.join(format!("{name}.png"));
            write_png(&c, &path).unwrap();
            let (info, pixels) = decode_png(&path);
            let (width, margin) = (info.width as usize, MARGIN_PX as usize);
            assert!(title_band_inked(&info, &pixels, margin..width - margin), "{name}: the title is drawn");
            assert!(!title_band_inked(&info, &pixels, 0..margin / 2), "{name}: the title runs off the left edge");
            assert!(!title_band_inked(&info, &pixels, width - margin / 2..width), "{name}: off the right edge");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
