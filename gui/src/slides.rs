//! Pictures for slides: the job graph at the cursor and the timeline, drawn with plotters from the
//! same view models the panels draw (`view::dag`, `view::timeline`), as PNG and SVG of a chosen
//! size, titled with the scenario, seed, run and guarantee. Written atomically like the charts
//! (`crate::export`); the default folder is outside the repository (`default_export_dir`).

use std::path::{Path, PathBuf};

use egui::epaint::CubicBezierShape;
use egui::{Color32, Pos2, Rect, Stroke};
use engine::graph::ChannelId;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use sim::kernel::TimeNs;

use crate::error::{DrawError, WriteError};
use crate::panels::dag::Geometry;
use crate::panels::{
    palette, BARRIER_COLOR, BLOCKED_COLOR, DOWN_COLOR, FULL_COLOR, IDLE_COLOR, RECORD_COLOR, WATERMARK_COLOR,
};
use crate::scrub::RecordedRun;
use crate::view::dag::{DagLayout, DagState, Flight};
use crate::view::markers::{self, MarkerKind};
use crate::view::timeline::{self as tl, TimeWindow};
use crate::view::watermarks::watermark_text;
use crate::view::{tick_text, time_text};

/// Sizes offered for slides (width, height in pixels).
pub const SIZES: [(u32, u32); 4] = [(1280, 720), (1920, 1080), (1024, 768), (2560, 1440)];
/// Bounds of a chosen size: big enough to hold the text, small enough to stay a picture.
pub const MIN_SIDE: u32 = 320;
pub const MAX_SIDE: u32 = 7680;

/// Which view to export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlideKind {
    JobGraph,
    Timeline,
}

impl SlideKind {
    pub fn label(self) -> &'static str {
        match self {
            SlideKind::JobGraph => "job graph",
            SlideKind::Timeline => "timeline",
        }
    }
}

/// Where exports go unless the user picks a folder: `streamlab` in the platform's documents
/// folder when there is one, else in the temporary folder; never the working directory (which is
/// often the repository).
pub fn default_export_dir() -> PathBuf {
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE")).map(PathBuf::from);
    let xdg = std::env::var_os("XDG_DOCUMENTS_DIR").map(PathBuf::from);
    export_dir_from(home, xdg, std::env::temp_dir(), |p| p.is_dir())
}

/// `default_export_dir` with its inputs given (tested without touching the environment).
pub fn export_dir_from(
    home: Option<PathBuf>,
    xdg_documents: Option<PathBuf>,
    temp: PathBuf,
    is_dir: impl Fn(&Path) -> bool,
) -> PathBuf {
    let documents = xdg_documents
        .filter(|p| p.is_absolute() && is_dir(p))
        .or_else(|| home.map(|h| h.join("Documents")).filter(|p| p.is_absolute() && is_dir(p)));
    documents.unwrap_or(temp).join("streamlab")
}

/// A slide's title: what is shown, and which run of what (scenario, seed, run, guarantee).
pub fn title(kind: SlideKind, run: &RecordedRun, cursor_ns: TimeNs, window: TimeWindow) -> String {
    let what = match kind {
        SlideKind::JobGraph => format!("Job graph at {}", time_text(&run.scenario, cursor_ns)),
        SlideKind::Timeline => format!(
            "Timeline {} – {}",
            time_text(&run.scenario, window.start_ns),
            time_text(&run.scenario, window.end_ns)
        ),
    };
    format!("{what} — {}, seed {}, run: {}, {}", run.scenario.name, run.seed, run.label, run.scenario.guarantee.label())
}

/// The file stem: "job-graph-at-12.5s" / "timeline" plus the seed, safe in any file system.
pub fn file_stem(kind: SlideKind, run: &RecordedRun, cursor_ns: TimeNs) -> String {
    let name: String = run
        .scenario
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '-' })
        .collect();
    match kind {
        SlideKind::JobGraph => format!("{name}-seed{}-job-graph-at-{}ms", run.seed, cursor_ns / 1_000_000),
        SlideKind::Timeline => format!("{name}-seed{}-timeline", run.seed),
    }
}

/// What a slide draws.
pub enum Slide<'a> {
    JobGraph { layout: &'a DagLayout, dag: &'a DagState, run: &'a RecordedRun, cursor_ns: TimeNs },
    Timeline { run: &'a RecordedRun, window: TimeWindow, cursor_ns: TimeNs },
}

impl Slide<'_> {
    fn kind(&self) -> SlideKind {
        match self {
            Slide::JobGraph { .. } => SlideKind::JobGraph,
            Slide::Timeline { .. } => SlideKind::Timeline,
        }
    }

    fn run(&self) -> &RecordedRun {
        match self {
            Slide::JobGraph { run, .. } | Slide::Timeline { run, .. } => run,
        }
    }

    fn cursor_ns(&self) -> TimeNs {
        match self {
            Slide::JobGraph { cursor_ns, .. } | Slide::Timeline { cursor_ns, .. } => *cursor_ns,
        }
    }
}

/// Write `<stem>.png` and `<stem>.svg` of `slide` at `size` into `dir` (created if missing).
pub fn export(slide: &Slide<'_>, size: (u32, u32), dir: &Path) -> Result<String, WriteError> {
    let size = (size.0.clamp(MIN_SIDE, MAX_SIDE), size.1.clamp(MIN_SIDE, MAX_SIDE));
    std::fs::create_dir_all(dir).map_err(|e| WriteError::create_folder(dir, e))?;
    let stem = file_stem(slide.kind(), slide.run(), slide.cursor_ns());
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    write_png(slide, size, &png)?;
    write_svg(slide, size, &svg)?;
    Ok(format!(
        "wrote the {} as {}×{} PNG and SVG: {}",
        slide.kind().label(),
        size.0,
        size.1,
        png.with_extension("{png,svg}").display()
    ))
}

fn write_svg(slide: &Slide<'_>, size: (u32, u32), path: &Path) -> Result<(), WriteError> {
    crate::export::register_fonts()?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        draw(slide, &root).map_err(|why| WriteError::draw(path, why))?;
        root.present().map_err(|e| WriteError::draw(path, e))?;
    }
    crate::export::write_atomically(path, text.as_bytes())
}

fn write_png(slide: &Slide<'_>, size: (u32, u32), path: &Path) -> Result<(), WriteError> {
    crate::export::write_png_atomically(path, size, |root| draw(slide, root))
}

fn rgb(c: Color32) -> RGBColor {
    RGBColor(c.r(), c.g(), c.b())
}

/// Text on a slide without overlaps: a label goes to its first free candidate, or nowhere. As on
/// screen (`panels::labels`), no label crosses a line it was told about (the channels' curves,
/// a leader) nor covers a box or a message's glyph.
struct Placer {
    /// Every rectangle a label keeps off: the labels placed, and the boxes and glyphs.
    placed: Vec<Rect>,
    /// The labels alone (for the test that no line crosses one).
    texts: Vec<Rect>,
    /// Drawn line segments no label may cross.
    lines: Vec<[Pos2; 2]>,
    hidden: usize,
}

/// A label further than this (pixels at scale 1) from its thing gets a leader line to it.
const LEADER_FROM: f32 = 10.0;
/// How far (pixels at scale 1) a message's label may move from it to keep clear.
const LABEL_REACH: f32 = 40.0;

impl Placer {
    fn new() -> Placer {
        Placer { placed: Vec::new(), texts: Vec::new(), lines: Vec::new(), hidden: 0 }
    }

    /// The rectangle `text` of `size` takes with its anchor at `(p, hpos, vpos)`.
    fn rect_at(p: Pos2, hpos: HPos, vpos: VPos, size: egui::Vec2) -> Rect {
        let x0 = match hpos {
            HPos::Left => p.x,
            HPos::Center => p.x - size.x / 2.0,
            HPos::Right => p.x - size.x,
        };
        let y0 = match vpos {
            VPos::Top => p.y,
            VPos::Center => p.y - size.y / 2.0,
            VPos::Bottom => p.y - size.y,
        };
        Rect::from_min_size(Pos2::new(x0, y0), size)
    }

    fn free(&self, rect: Rect, bounds: Rect) -> bool {
        let grown = rect.expand(1.0);
        bounds.contains_rect(rect)
            && !self.placed.iter().any(|r| r.intersects(grown))
            && !self.lines.iter().any(|&l| crate::panels::labels::segment_crosses(l, grown))
    }

    /// Draw `text` (of pixel size `px`) with its `anchor` point at one of `candidates`, the first
    /// where it fits inside `bounds` and overlaps nothing placed before.
    #[allow(clippy::too_many_arguments)]
    fn place<DB: DrawingBackend>(
        &mut self,
        root: &DrawingArea<DB, Shift>,
        candidates: &[(Pos2, HPos, VPos)],
        text: &str,
        px: f32,
        color: Color32,
        bounds: Rect,
    ) -> Result<Option<Rect>, DrawError> {
        let (font, size) = measure(root, text, px)?;
        for &(p, hpos, vpos) in candidates {
            let rect = Self::rect_at(p, hpos, vpos, size);
            if !self.free(rect, bounds) {
                continue;
            }
            self.put(root, text, &font, color, rect)?;
            return Ok(Some(rect));
        }
        self.hidden += 1;
        Ok(None)
    }

    /// A label about the point `at` (a message, a channel's end) at the first free place near it
    /// (`panels::labels::around`), with a leader in its colour when it had to move away; the
    /// leader crosses no label and later labels keep off it.
    #[allow(clippy::too_many_arguments)]
    fn place_near<DB: DrawingBackend>(
        &mut self,
        root: &DrawingArea<DB, Shift>,
        at: Pos2,
        candidates: &[(Pos2, egui::Align2)],
        text: &str,
        px: f32,
        color: Color32,
        bounds: Rect,
        scale: f32,
    ) -> Result<Option<Rect>, DrawError> {
        let (font, size) = measure(root, text, px)?;
        for &(p, align) in candidates {
            let rect = align.anchor_size(p, size);
            if !self.free(rect, bounds) {
                continue;
            }
            let leader = (rect.distance_to_pos(at) > LEADER_FROM * scale).then(|| {
                let edge = at.clamp(rect.min, rect.max);
                [at, edge + (at - edge).normalized() * 2.0]
            });
            let crosses_a_label =
                |l: [Pos2; 2]| self.texts.iter().any(|r| crate::panels::labels::segment_crosses(l, *r));
            if leader.is_some_and(crosses_a_label) {
                continue;
            }
            if let Some(l) = leader {
                root.draw(&PathElement::new(vec![pt(l[0]), pt(l[1])], rgb(color).stroke_width(1)))?;
                self.lines.push(l);
            }
            self.put(root, text, &font, color, rect)?;
            return Ok(Some(rect));
        }
        self.hidden += 1;
        Ok(None)
    }

    /// Draw `text` at `rect` (a free place found for it) and keep later labels off it.
    fn put<DB: DrawingBackend>(
        &mut self,
        root: &DrawingArea<DB, Shift>,
        text: &str,
        font: &FontDesc,
        color: Color32,
        rect: Rect,
    ) -> Result<(), DrawError> {
        let style = font.clone().color(&rgb(color)).pos(Pos::new(HPos::Left, VPos::Top));
        root.draw_text(text, &style, (rect.min.x as i32, rect.min.y as i32))?;
        self.placed.push(rect);
        self.texts.push(rect);
        Ok(())
    }

    /// A box labels keep off (a subtask, an operator's header, a message's glyph).
    fn obstacle(&mut self, r: Rect) {
        self.placed.push(r);
    }
}

fn pt(p: Pos2) -> (i32, i32) {
    (p.x.round() as i32, p.y.round() as i32)
}

fn draw<DB: DrawingBackend>(slide: &Slide<'_>, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
    root.fill(&WHITE)?;
    let (w, h) = root.dim_in_pixel();
    // Everything scales with the picture: text that reads at 720 lines reads at 1440.
    let scale = (h as f32 / 720.0).clamp(0.5, 4.0);
    let bounds = Rect::from_min_size(Pos2::ZERO, egui::vec2(w as f32, h as f32));
    let mut placer = Placer::new();
    let title = title(slide.kind(), slide.run(), slide.cursor_ns(), slide_window(slide));
    let title_px = 22.0 * scale;
    let top = 12.0 * scale;
    // A long title is shortened rather than run off the picture.
    let mut text = title.clone();
    while placer
        .place(
            root,
            &[(Pos2::new(w as f32 / 2.0, top), HPos::Center, VPos::Top)],
            &text,
            title_px,
            Color32::BLACK,
            bounds,
        )?
        .is_none()
        && text.chars().count() > 8
    {
        placer.hidden = 0;
        let keep = text.chars().count() * 9 / 10;
        text = format!("{}…", text.chars().take(keep).collect::<String>().trim_end_matches('…'));
    }
    let body =
        Rect::from_min_max(Pos2::new(12.0 * scale, top + title_px * 1.8), bounds.max - egui::vec2(12.0, 12.0) * scale);
    match slide {
        Slide::JobGraph { layout, dag, run, .. } => draw_graph(root, &mut placer, layout, dag, run, body, scale),
        Slide::Timeline { run, window, cursor_ns } => {
            draw_timeline(root, &mut placer, run, *window, *cursor_ns, body, scale)
        }
    }
}

fn slide_window(slide: &Slide<'_>) -> TimeWindow {
    match slide {
        Slide::Timeline { window, .. } => *window,
        Slide::JobGraph { run, .. } => TimeWindow::whole(run.end_ns),
    }
}

fn draw_graph<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    placer: &mut Placer,
    layout: &DagLayout,
    dag: &DagState,
    run: &RecordedRun,
    body: Rect,
    scale: f32,
) -> Result<(), DrawError> {
    // Lay out in points as the panel does, then scale to pixels: as large as the slide allows
    // (the panel's rows are at most 46 points high), so that a small graph fills the picture.
    let fit = (body.height() / (layout.rows.max(1.0) * 46.0 + 30.0))
        .min(body.width() / (layout.columns.max(1) as f32 * 240.0));
    let scale = fit.clamp(scale, scale * 2.5);
    let logical = Rect::from_min_size(Pos2::ZERO, body.size() / scale);
    let geo = Geometry::new(layout, logical);
    let map = |p: Pos2| Pos2::new(body.left() + p.x * scale, body.top() + p.y * scale);
    let map_rect = |r: Rect| Rect::from_min_max(map(r.min), map(r.max));
    let small = 13.0 * scale;
    let big = 16.0 * scale;
    let grey = Color32::from_gray(90);
    for op in &layout.operators {
        let r = map_rect(geo.operator_rect(op));
        root.draw(&Rectangle::new([pt(r.min), pt(r.max)], rgb(Color32::from_gray(245)).filled()))?;
        root.draw(&Rectangle::new([pt(r.min), pt(r.max)], rgb(Color32::from_gray(170)).stroke_width(1)))?;
        let header = Pos2::new(r.left() + 6.0 * scale, r.top() + 3.0 * scale);
        if let Some(t) = placer.place(root, &[(header, HPos::Left, VPos::Top)], &op.name, big, Color32::BLACK, r)? {
            let at = [(Pos2::new(t.right() + 6.0 * scale, t.bottom()), HPos::Left, VPos::Bottom)];
            let detail = format!("{} · {}", op.kind, op.detail);
            if placer.place(root, &at, &detail, small, grey, r)?.is_none() {
                placer.hidden -= 1;
                placer.place(root, &at, op.kind, small, grey, r)?;
            }
        }
    }
    for slot in &layout.subtasks {
        let r = map_rect(geo.slot_rect(slot));
        let status = dag.subtasks.get(slot.subtask.index()).cloned().unwrap_or_default();
        let tm = palette(slot.task_manager as usize);
        let fill = if !status.alive {
            DOWN_COLOR
        } else if status.finished {
            tm.gamma_multiply(0.12)
        } else {
            tm.gamma_multiply(0.35)
        };
        // Over white, as the panel's faint background.
        let fill = blend_over_white(fill);
        root.draw(&Rectangle::new([pt(r.min), pt(r.max)], rgb(fill).filled()))?;
        root.draw(&Rectangle::new([pt(r.min), pt(r.max)], rgb(tm).stroke_width((scale.round() as u32).max(1))))?;
        let inner = r.shrink(2.0);
        let text_color = if status.alive { Color32::BLACK } else { Color32::WHITE };
        let name = [(Pos2::new(r.left() + 4.0 * scale, r.center().y), HPos::Left, VPos::Center)];
        let full = format!("{}  tm-{}", slot.name, slot.task_manager);
        if placer.place(root, &name, &full, small, text_color, inner)?.is_none() {
            placer.hidden -= 1;
            placer.place(root, &name, &slot.name, small, text_color, inner)?;
        }
        let state = if dag.down.contains(&slot.task_manager) {
            "down".to_string()
        } else if !status.alive {
            "stopped".to_string()
        } else if status.finished {
            "done".to_string()
        } else if let Some(cp) = status.aligning {
            dag.pending_checkpoint_text(cp).0
        } else if status.backpressured {
            "full".to_string()
        } else {
            format!("{} in", status.records_in)
        };
        let at = [(Pos2::new(r.right() - 4.0 * scale, r.center().y), HPos::Right, VPos::Center)];
        placer.place(root, &at, &state, small, text_color, inner)?;
        placer.obstacle(r);
    }
    // Every curve goes down (and is kept clear of labels) before any label about a channel or a
    // message, so that no later curve crosses one.
    use egui::Align2;
    let reach = LABEL_REACH * scale;
    let mut channel_labels = Vec::new();
    for c in &layout.channels {
        let curve = geo.curve(layout, c).map(map);
        let status = dag.channels.get(c.channel.index()).cloned().unwrap_or_default();
        let (color, width) = if status.blocked {
            (BLOCKED_COLOR, 3.0)
        } else if status.cut {
            (DOWN_COLOR, 3.0)
        } else if status.delay_ns > 0 || c.late {
            (WATERMARK_COLOR, if c.late { 1.0 } else { 2.5 })
        } else if status.full {
            (FULL_COLOR, 2.5)
        } else {
            (Color32::from_gray(150), 1.0)
        };
        let bezier = CubicBezierShape::from_points_stroke(curve, false, Color32::TRANSPARENT, Stroke::NONE);
        let samples: Vec<Pos2> = (0..=24).map(|k| bezier.sample(k as f32 / 24.0)).collect();
        placer.lines.extend(samples.windows(2).map(|w| [w[0], w[1]]));
        let stroke = rgb(color).stroke_width(((width * scale).round() as u32).max(1));
        root.draw(&PathElement::new(samples.iter().map(|&p| pt(p)).collect::<Vec<_>>(), stroke))?;
        let end = curve[3];
        let text = if status.blocked {
            Some((format!("blocked, {} waiting", status.queued), BLOCKED_COLOR))
        } else if status.full {
            Some((format!("full, {} waiting", status.queued), FULL_COLOR))
        } else if status.cut {
            Some(("partitioned".to_string(), DOWN_COLOR))
        } else if status.queued > 0 {
            Some((status.queued.to_string(), grey))
        } else {
            None
        };
        if let Some((text, color)) = text {
            let preferred = [
                (egui::vec2(-4.0, -2.0) * scale, Align2::RIGHT_BOTTOM),
                (egui::vec2(-4.0, 2.0) * scale, Align2::RIGHT_TOP),
            ];
            channel_labels.push((end, crate::panels::labels::around(end, &preferred, reach), text, color));
        }
    }
    // Messages on the wires, piles counted; their glyphs too are kept clear of the labels.
    let mut message_labels = Vec::new();
    let mut piles: Vec<(ChannelId, i32, usize, Pos2)> = Vec::new();
    for flight in dag.in_flight.iter().take(3_000) {
        let Some(c) = layout.channels.get(flight.channel.index()) else { continue };
        let curve = geo.curve(layout, c).map(map);
        let p = CubicBezierShape::from_points_stroke(curve, false, Color32::TRANSPARENT, Stroke::NONE)
            .sample(flight.progress);
        let spot = (flight.progress * 40.0).round() as i32;
        match piles.last_mut() {
            Some((channel, s, n, _)) if *channel == flight.channel && *s == spot => {
                *n += 1;
                continue;
            }
            _ => piles.push((flight.channel, spot, 1, p)),
        }
        let alpha = if flight.doomed { 0.3 } else { 1.0 };
        let glyph = match flight.what {
            Flight::Record => {
                root.draw(&Circle::new(pt(p), (3.5 * scale) as i32, rgb(RECORD_COLOR).mix(alpha).filled()))?;
                Rect::from_center_size(p, egui::Vec2::splat(7.0 * scale))
            }
            Flight::Watermark(wm) => {
                let (a, b) = (p - egui::vec2(0.0, 8.0 * scale), p + egui::vec2(0.0, 8.0 * scale));
                let stroke = rgb(WATERMARK_COLOR).mix(alpha).stroke_width((2.0 * scale) as u32);
                root.draw(&PathElement::new(vec![pt(a), pt(b)], stroke))?;
                let preferred = [
                    (egui::vec2(0.0, -9.0) * scale, Align2::CENTER_BOTTOM),
                    (egui::vec2(0.0, 9.0) * scale, Align2::CENTER_TOP),
                ];
                let text = watermark_text(&run.scenario, wm);
                message_labels.push((
                    false,
                    p,
                    crate::panels::labels::around(p, &preferred, reach),
                    text,
                    WATERMARK_COLOR,
                ));
                Rect::from_center_size(p, egui::vec2(2.0, 16.0) * scale)
            }
            Flight::Barrier(id) => {
                let r = Rect::from_center_size(p, egui::vec2(5.0, 18.0) * scale);
                root.draw(&Rectangle::new([pt(r.min), pt(r.max)], rgb(BARRIER_COLOR).mix(alpha).filled()))?;
                let preferred = [
                    (egui::vec2(0.0, 10.0) * scale, Align2::CENTER_TOP),
                    (egui::vec2(0.0, -10.0) * scale, Align2::CENTER_BOTTOM),
                ];
                let text = format!("cp {id}");
                message_labels.push((
                    true,
                    p,
                    crate::panels::labels::around(p, &preferred, reach),
                    text,
                    BARRIER_COLOR,
                ));
                r
            }
            Flight::Idle(_) => {
                root.draw(&Circle::new(pt(p), (4.0 * scale) as i32, rgb(IDLE_COLOR).stroke_width(2)))?;
                Rect::from_center_size(p, egui::Vec2::splat(9.0 * scale))
            }
            Flight::EndOfInput => {
                let r = Rect::from_center_size(p, egui::vec2(7.0, 7.0) * scale);
                root.draw(&Rectangle::new([pt(r.min), pt(r.max)], BLACK.filled()))?;
                r
            }
        };
        placer.obstacle(glyph);
    }
    // Labels by importance, as on screen: what holds a channel up, barriers, piles, watermarks.
    for (at, anchors, text, color) in channel_labels {
        placer.place_near(root, at, &anchors, &text, small, color, body, scale)?;
    }
    // The same text at one spot once (a barrier leaves on every output channel at once).
    let mut said: Vec<(Pos2, String)> = Vec::new();
    message_labels.retain(|l| {
        let again = said.iter().any(|(p, t)| *t == l.3 && p.distance(l.1) < crate::panels::dag::SAME_SPOT * scale);
        said.push((l.1, l.3.clone()));
        !again
    });
    let (barriers, watermarks): (Vec<_>, Vec<_>) = message_labels.into_iter().partition(|l| l.0);
    for (_, at, anchors, text, color) in barriers {
        placer.place_near(root, at, &anchors, &text, small, color, body, scale)?;
    }
    for &(_, _, n, p) in piles.iter().filter(|(_, _, n, _)| *n > 1) {
        let preferred =
            [(egui::vec2(5.0, -5.0) * scale, Align2::LEFT_BOTTOM), (egui::vec2(5.0, 5.0) * scale, Align2::LEFT_TOP)];
        let anchors = crate::panels::labels::around(p, &preferred, reach);
        placer.place_near(root, p, &anchors, &format!("×{n}"), small, Color32::BLACK, body, scale)?;
    }
    for (_, at, anchors, text, color) in watermarks {
        placer.place_near(root, at, &anchors, &text, small, color, body, scale)?;
    }
    // Task managers' colours and what is wrong with them, along the bottom.
    let mut x = body.left();
    let y = body.bottom() - small;
    for tm in 0..layout.task_managers {
        let mut text = format!("tm-{tm}");
        if dag.down.contains(&tm) {
            text.push_str(" (down)");
        }
        if let Some(notes) = dag.link_faults.get(tm as usize).filter(|n| !n.is_empty()) {
            text.push_str(&format!(" ({})", notes.join(", ")));
        }
        let sw = Rect::from_min_size(Pos2::new(x, y + small * 0.2), egui::vec2(small, small * 0.6));
        root.draw(&Rectangle::new([pt(sw.min), pt(sw.max)], rgb(palette(tm as usize)).filled()))?;
        let at = [(Pos2::new(sw.right() + 4.0 * scale, y), HPos::Left, VPos::Top)];
        match placer.place(root, &at, &text, small, Color32::BLACK, body)? {
            Some(r) => x = r.right() + 14.0 * scale,
            None => break,
        }
    }
    Ok(())
}

/// `Color32` is premultiplied: over white, each channel gains what the alpha leaves uncovered.
fn blend_over_white(c: Color32) -> Color32 {
    let uncovered = 255 - c.a() as u16;
    let over = |v: u8| (v as u16 + uncovered).min(255) as u8;
    Color32::from_rgb(over(c.r()), over(c.g()), over(c.b()))
}

fn draw_timeline<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    placer: &mut Placer,
    run: &RecordedRun,
    window: TimeWindow,
    cursor_ns: TimeNs,
    body: Rect,
    scale: f32,
) -> Result<(), DrawError> {
    let small = 13.0 * scale;
    let grey = Color32::from_gray(90);
    let zoomed = window.is_zoomed(run.end_ns);
    let subtasks = run.scenario.plan.subtasks.len();
    let lanes_shown = if zoomed { subtasks.min(crate::panels::timeline::MAX_LANES) } else { 0 };
    // Lane names on the left when there are lanes.
    let gutter = if lanes_shown > 0 {
        let font = ("sans-serif", small as f64).into_font().into_text_style(root);
        run.scenario.plan.subtasks[..lanes_shown]
            .iter()
            .map(|s| root.estimate_text_size(&s.name, &font).map_or(0, |(w, _)| w) as f32)
            .fold(0.0f32, f32::max)
            + 10.0 * scale
    } else {
        0.0
    };
    let legend_h = small * 1.6;
    let axis_h = small * 1.8;
    // The three marker rows, then a lane per subtask; the whole block centred in the picture.
    let room = body.height() - axis_h - legend_h;
    let overview_h = (small * 9.0).min(room * if lanes_shown > 0 { 0.35 } else { 1.0 });
    let lane_h =
        if lanes_shown > 0 { ((room - overview_h - 4.0 * scale) / lanes_shown as f32).min(small * 2.2) } else { 0.0 };
    let content_h = overview_h + if lanes_shown > 0 { 4.0 * scale + lane_h * lanes_shown as f32 } else { 0.0 };
    let plot_top = body.top() + ((room - content_h) / 2.0).max(0.0);
    let plot = Rect::from_min_max(
        Pos2::new(body.left() + gutter, plot_top),
        Pos2::new(body.right() - 8.0 * scale, plot_top + content_h),
    );
    let row = |i: usize| {
        let h = overview_h / 3.0;
        Rect::from_x_y_ranges(plot.x_range(), plot.top() + i as f32 * h..=plot.top() + (i + 1) as f32 * h)
    };
    let x_of = |t: TimeNs| plot.left() + plot.width() * window.fraction(t) as f32;
    let fill = |r: Rect, c: Color32| Rectangle::new([pt(r.min), pt(r.max)], rgb(c).filled());
    root.draw(&fill(plot, Color32::from_gray(248)))?;
    for (i, name) in ["checkpoints", "faults", "late records, subtasks finished"].iter().enumerate() {
        let r = row(i);
        let at = [(Pos2::new(r.left() + 4.0 * scale, r.top() + 2.0 * scale), HPos::Left, VPos::Top)];
        placer.place(root, &at, name, small * 0.85, grey, r)?;
    }
    for span in markers::checkpoint_spans(&run.markers) {
        let span_end = span.end_ns.unwrap_or(run.end_ns);
        if span_end < window.start_ns || span.start_ns > window.end_ns {
            continue;
        }
        let r = row(0);
        let x0 = x_of(span.start_ns).max(plot.left());
        let x1 = x_of(span_end).min(plot.right()).max(x0 + 2.0 * scale);
        let color = match (span.end_ns, span.completed) {
            (Some(_), true) => Color32::from_rgb(40, 160, 80),
            (Some(_), false) => BLOCKED_COLOR,
            (None, _) => Color32::GRAY,
        };
        let bar = Rect::from_x_y_ranges(x0..=x1, r.center().y..=r.bottom() - 3.0 * scale);
        root.draw(&fill(bar, color))?;
    }
    let from = run.markers.partition_point(|m| m.time_ns < window.start_ns);
    let to = run.markers.partition_point(|m| m.time_ns <= window.end_ns);
    for m in run.markers.get(from..to).unwrap_or(&[]) {
        let x = x_of(m.time_ns);
        let r = row(m.kind.lane());
        let line = |color: Color32, width: f32| {
            PathElement::new(
                vec![pt(Pos2::new(x, r.center().y)), pt(Pos2::new(x, r.bottom() - 3.0 * scale))],
                rgb(color).stroke_width(((width * scale).round() as u32).max(1)),
            )
        };
        match m.kind {
            k if k.is_fault() => {
                let c = Pos2::new(x, r.center().y + small * 0.3);
                let s = 6.0 * scale;
                let tri = vec![pt(c - egui::vec2(0.0, s)), pt(c + egui::vec2(-s, s)), pt(c + egui::vec2(s, s))];
                root.draw(&Polygon::new(tri, rgb(BLOCKED_COLOR).filled()))?;
            }
            MarkerKind::LateDropped => root.draw(&line(WATERMARK_COLOR, 1.0))?,
            MarkerKind::Finished => root.draw(&line(grey, 1.0))?,
            _ => {}
        }
    }
    if lanes_shown > 0 {
        let top = plot.top() + overview_h + 4.0 * scale;
        let buckets = (plot.width() / 3.0).max(1.0) as usize;
        let lanes = tl::lanes(&run.trace, &run.markers, lanes_shown, window, buckets);
        let most = lanes.work.iter().flatten().copied().max().unwrap_or(0).max(1) as f32;
        let col = plot.width() / buckets as f32;
        for (s, work) in lanes.work.iter().enumerate() {
            let y = top + s as f32 * lane_h;
            let lane = Rect::from_x_y_ranges(plot.x_range(), y..=y + lane_h - 2.0);
            let at = [(Pos2::new(body.left(), lane.center().y), HPos::Left, VPos::Center)];
            let name_bounds = Rect::from_x_y_ranges(body.left()..=plot.left(), lane.y_range());
            placer.place(root, &at, &run.scenario.plan.subtasks[s].name, small, Color32::BLACK, name_bounds)?;
            for (b, &count) in work.iter().enumerate() {
                if count == 0 {
                    continue;
                }
                let shade = 0.25 + 0.75 * (count as f32 / most).sqrt();
                let x = plot.left() + b as f32 * col;
                let cell = Rect::from_x_y_ranges(x..=x + col.max(1.0), lane.y_range().shrink(1.0));
                root.draw(&Rectangle::new(
                    [pt(cell.min), pt(cell.max)],
                    RGBColor(70, 130, 200).mix(shade as f64).filled(),
                ))?;
            }
        }
        for &(s, t) in lanes.late.iter() {
            let y = top + s as f32 * lane_h;
            let stroke = rgb(WATERMARK_COLOR).stroke_width((2.0 * scale) as u32);
            root.draw(&PathElement::new(
                vec![pt(Pos2::new(x_of(t), y)), pt(Pos2::new(x_of(t), y + lane_h - 2.0))],
                stroke,
            ))?;
        }
    }
    if let Some(fork) = run.fork.as_ref().filter(|f| (window.start_ns..=window.end_ns).contains(&f.at_ns)) {
        let x = x_of(fork.at_ns);
        let stroke = RGBColor(120, 60, 200).stroke_width((2.0 * scale) as u32);
        root.draw(&PathElement::new(vec![pt(Pos2::new(x, plot.top())), pt(Pos2::new(x, plot.bottom()))], stroke))?;
    }
    if (window.start_ns..=window.end_ns).contains(&cursor_ns) {
        let x = x_of(cursor_ns);
        let stroke = BLACK.stroke_width((2.0 * scale) as u32);
        root.draw(&PathElement::new(vec![pt(Pos2::new(x, plot.top())), pt(Pos2::new(x, plot.bottom()))], stroke))?;
    }
    // The axis: round times in the scenario's clock.
    let max_ticks = ((plot.width() / (110.0 * scale)) as u64).clamp(2, 12);
    for t in tl::ticks(window, run.scenario.clock_times, max_ticks) {
        let x = x_of(t);
        let stroke = rgb(grey).stroke_width(1);
        root.draw(&PathElement::new(
            vec![pt(Pos2::new(x, plot.bottom())), pt(Pos2::new(x, plot.bottom() + 5.0 * scale))],
            stroke,
        ))?;
        let at = [
            (Pos2::new(x, plot.bottom() + 6.0 * scale), HPos::Center, VPos::Top),
            (Pos2::new(x, plot.bottom() + 6.0 * scale), HPos::Right, VPos::Top),
            (Pos2::new(x, plot.bottom() + 6.0 * scale), HPos::Left, VPos::Top),
        ];
        placer.place(root, &at, &tick_text(&run.scenario, t), small, Color32::BLACK, body)?;
    }
    let legend = "green: checkpoint completed · red bar: aborted · red triangle: fault · orange: late record dropped · black line: the cursor";
    let legend = if lanes_shown > 0 { format!("{legend} · blue: a subtask at work") } else { legend.to_string() };
    let at = [(Pos2::new(body.left(), plot.bottom() + axis_h + 4.0 * scale), HPos::Left, VPos::Top)];
    placer.place(root, &at, &legend, small * 0.9, grey, body)?;
    Ok(())
}

/// The font of a `px`-high label and the size `text` takes in it on `root`.
fn measure<'a, DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: &str,
    px: f32,
) -> Result<(FontDesc<'a>, egui::Vec2), DrawError> {
    let font: FontDesc<'a> = ("sans-serif", px as f64).into_font();
    let (w, h) = root.estimate_text_size(text, &font.clone().into_text_style(root))?;
    Ok((font, egui::vec2(w as f32, h as f32)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// On a slide of the job graph, as on screen, no label crosses a channel's curve or a leader
    /// and no two labels overlap: crash-during-checkpoint.ron at moments with barriers,
    /// watermarks and piles on the wires, at 1280x720 and 1920x1080.
    #[test]
    fn slide_labels_cross_no_channel_and_overlap_nothing() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/crash-during-checkpoint.ron");
        let scenario = Arc::new(sim::Scenario::load(&path).expect("loads"));
        let mut run = RecordedRun::record(scenario.clone(), 42);
        let layout = DagLayout::build(&scenario);
        crate::export::register_fonts().expect("fonts");
        let (mut labels, mut message_labels) = (0, 0);
        for size in [(1280u32, 720u32), (1920, 1080)] {
            for k in 1..=16u64 {
                let cursor = run.end_ns * k / 17;
                let world = run.world_at(cursor).clone();
                let dag = DagState::build(&world, &run.sends, cursor);
                let mut svg = String::new();
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                let scale = (size.1 as f32 / 720.0).clamp(0.5, 4.0);
                let body =
                    Rect::from_min_size(Pos2::new(12.0, 60.0), egui::vec2(size.0 as f32 - 24.0, size.1 as f32 - 72.0));
                let mut placer = Placer::new();
                draw_graph(&root, &mut placer, &layout, &dag, &run, body, scale).expect("drawn");
                let placed: Vec<crate::panels::labels::PlacedLabel> = placer
                    .texts
                    .iter()
                    .enumerate()
                    .map(|(i, r)| crate::panels::labels::PlacedLabel { rect: *r, text: i.to_string(), floating: true })
                    .collect();
                let crossed = crate::panels::labels::crossing(&placed, &placer.lines);
                assert!(crossed.is_empty(), "{size:?} at {cursor} ns: labels {crossed:?} cross a line");
                let pairs = crate::panels::labels::overlapping(&placed);
                assert!(pairs.is_empty(), "{size:?} at {cursor} ns: {pairs:?} overlap");
                labels += placed.len();
                message_labels += dag.in_flight.len().min(1) * placed.len();
            }
        }
        assert!(labels > 200 && message_labels > 0, "labels were drawn ({labels})");
    }

    #[test]
    fn the_default_folder_is_documents_or_temp_never_relative() {
        let temp = PathBuf::from("/tmp");
        let home = Some(PathBuf::from("/home/ada"));
        let all = |_: &Path| true;
        let none = |_: &Path| false;
        assert_eq!(
            export_dir_from(home.clone(), None, temp.clone(), all),
            PathBuf::from("/home/ada/Documents/streamlab")
        );
        assert_eq!(
            export_dir_from(home.clone(), Some("/data/docs".into()), temp.clone(), all),
            PathBuf::from("/data/docs/streamlab")
        );
        assert_eq!(export_dir_from(home, Some("docs".into()), temp.clone(), none), PathBuf::from("/tmp/streamlab"));
        assert_eq!(export_dir_from(Some("relative".into()), None, temp, all), PathBuf::from("/tmp/streamlab"));
        assert!(default_export_dir().is_absolute());
    }

    #[test]
    fn slides_are_written_titled_at_the_chosen_size_and_atomically() {
        let scenario = Arc::new(sim::Scenario::default_scenario());
        let mut run = RecordedRun::record(scenario.clone(), 42);
        let layout = DagLayout::build(&scenario);
        let cursor = run.end_ns / 3;
        let world = run.world_at(cursor).clone();
        let dag = DagState::build(&world, &run.sends, cursor);
        let dir = std::env::temp_dir().join(format!("streamlab-slides-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let graph = Slide::JobGraph { layout: &layout, dag: &dag, run: &run, cursor_ns: cursor };
        let message = export(&graph, (1280, 720), &dir).unwrap();
        assert!(message.contains("1280×720"), "{message}");
        let window = TimeWindow { start_ns: run.end_ns / 4, end_ns: run.end_ns / 2 };
        export(&Slide::Timeline { run: &run, window, cursor_ns: cursor }, (1920, 1080), &dir).unwrap();
        let stem = file_stem(SlideKind::JobGraph, &run, cursor);
        let png = std::fs::read(dir.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // The PNG's header holds its size: width and height, big-endian, after "IHDR".
        assert_eq!((&png[16..20], &png[20..24]), (&1280u32.to_be_bytes()[..], &720u32.to_be_bytes()[..]));
        let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.contains("width=\"1280\"") && svg.contains("height=\"720\""));
        assert!(svg.contains(&format!("seed 42, run: {}, exactly-once", run.label)), "titled");
        assert!(svg.contains("counts[1]"), "subtasks are named");
        let timeline =
            std::fs::read_to_string(dir.join(format!("{}.svg", file_stem(SlideKind::Timeline, &run, 0)))).unwrap();
        assert!(timeline.contains("Timeline ") && timeline.contains("clicks[0]"), "titled, with lanes when zoomed");
        let names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(names.iter().all(|n| !n.starts_with('.')), "temporary files left: {names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
