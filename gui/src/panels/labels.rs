//! Text on a painter without overlaps: every label of a drawing goes through one `Labels`, which
//! lays the text out, tries its candidate positions in order and draws it at the first one where
//! it overlaps no label placed before it, crosses no line it was told about (the job graph's
//! channels), and, for labels floating over the drawing, covers no box or glyph it was told about.
//! A label that fits nowhere is not drawn and counted in `hidden`; the drawing says elsewhere
//! what it would have said (a count badge, a status line). [`around`] gives a label the places
//! near its thing, nearest first, so that a crowded spot moves it a little rather than hiding it.
//!
//! The placed rectangles and the lines are kept in the context after each frame
//! (`Labels::last`, `Labels::last_lines`), so a test can draw the real UI and check that no two
//! labels overlap (`overlapping`) and no label crosses a line (`crossing`).

use egui::{Align2, Color32, FontId, Painter, Pos2, Rect, Vec2};

/// One drawn label.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacedLabel {
    pub rect: Rect,
    pub text: String,
    /// Floated over the drawing (a message's tag, a count): also kept off the boxes.
    pub floating: bool,
}

#[derive(Default)]
pub struct Labels {
    pub placed: Vec<PlacedLabel>,
    /// Boxes floating labels stay off (subtasks, operators' headers, messages' glyphs).
    obstacles: Vec<Rect>,
    /// Drawn line segments no label may cross (a channel's curve, flattened).
    lines: Vec<[Pos2; 2]>,
    /// Labels that fit nowhere (not drawn).
    pub hidden: usize,
}

/// Space kept between two labels, in points.
const GAP: f32 = 1.0;
/// A label further than this (points) from its thing gets a leader line to it.
const LEADER_FROM: f32 = 10.0;

impl Labels {
    pub fn new() -> Labels {
        Labels::default()
    }

    /// Keep floating labels off `rect`.
    pub fn obstacle(&mut self, rect: Rect) {
        self.obstacles.push(rect);
    }

    /// Keep every label off the line through `points` (a polyline).
    pub fn line(&mut self, points: &[Pos2]) {
        self.lines.extend(points.windows(2).map(|w| [w[0], w[1]]));
    }

    /// Draw `text` at the first candidate `(anchor, align)` where it overlaps no placed label and
    /// stays inside `bounds`; a `floating` label also stays off the obstacles. None: not drawn.
    #[allow(clippy::too_many_arguments)]
    pub fn place(
        &mut self,
        painter: &Painter,
        candidates: &[(Pos2, Align2)],
        text: impl Into<String>,
        font: FontId,
        color: Color32,
        bounds: Rect,
        floating: bool,
    ) -> Option<Rect> {
        let text = text.into();
        let galley = painter.layout_no_wrap(text.clone(), font, color);
        for &(anchor, align) in candidates {
            let rect = align.anchor_size(anchor, galley.size());
            if !bounds.contains_rect(rect) || !self.free(rect, floating) {
                continue;
            }
            painter.galley(rect.min, galley, color);
            self.placed.push(PlacedLabel { rect, text, floating });
            return Some(rect);
        }
        self.hidden += 1;
        None
    }

    /// A floating label about the point `at` (a message's glyph, a channel's end), at the first
    /// free candidate (see [`around`]). When the crowd put it more than `LEADER_FROM` away, a thin
    /// leader in its colour runs from `at` to it, so it cannot read as a neighbour's; the leader
    /// crosses no label, and later labels keep off it.
    #[allow(clippy::too_many_arguments)]
    pub fn place_near(
        &mut self,
        painter: &Painter,
        at: Pos2,
        candidates: &[(Pos2, Align2)],
        text: impl Into<String>,
        font: FontId,
        color: Color32,
        bounds: Rect,
    ) -> Option<Rect> {
        let text = text.into();
        let galley = painter.layout_no_wrap(text.clone(), font, color);
        for &(anchor, align) in candidates {
            let rect = align.anchor_size(anchor, galley.size());
            if !bounds.contains_rect(rect) || !self.free(rect, true) {
                continue;
            }
            // The leader stops just short of the label, so that it touches no label at all.
            let leader = (rect.distance_to_pos(at) > LEADER_FROM).then(|| {
                let edge = at.clamp(rect.min, rect.max);
                [at, edge + (at - edge).normalized() * (GAP + 1.0)]
            });
            if leader.is_some_and(|l| self.placed.iter().any(|p| segment_crosses(l, p.rect))) {
                continue;
            }
            if let Some(l) = leader {
                painter.line_segment(l, egui::Stroke::new(1.0, color.gamma_multiply(0.7)));
                self.lines.push(l);
            }
            painter.galley(rect.min, galley, color);
            self.placed.push(PlacedLabel { rect, text, floating: true });
            return Some(rect);
        }
        self.hidden += 1;
        None
    }

    /// The first of several texts (longest first) that fits at `anchor`.
    #[allow(clippy::too_many_arguments)]
    pub fn place_first_fitting(
        &mut self,
        painter: &Painter,
        anchor: (Pos2, Align2),
        texts: &[String],
        font: FontId,
        color: Color32,
        bounds: Rect,
        floating: bool,
    ) -> Option<Rect> {
        for text in texts {
            let hidden = self.hidden;
            if let Some(r) = self.place(painter, &[anchor], text.clone(), font.clone(), color, bounds, floating) {
                self.hidden = hidden;
                return Some(r);
            }
            self.hidden = hidden;
        }
        self.hidden += 1;
        None
    }

    fn free(&self, rect: Rect, floating: bool) -> bool {
        let grown = rect.expand(GAP);
        let on_label = self.placed.iter().any(|p| intersect(p.rect, grown));
        let on_box = floating && self.obstacles.iter().any(|o| intersect(*o, rect));
        let on_line = self.lines.iter().any(|&s| segment_crosses(s, grown));
        !on_label && !on_box && !on_line
    }

    /// Keep this frame's labels and lines where `Labels::last` and `Labels::last_lines` find them.
    pub fn remember(self, ctx: &egui::Context, id: egui::Id) {
        ctx.data_mut(|d| {
            d.insert_temp(id, self.placed);
            d.insert_temp(id.with("lines"), self.lines);
        });
    }

    /// The line segments a drawing kept its labels off in the last frame it drew.
    pub fn last_lines(ctx: &egui::Context, id: egui::Id) -> Vec<[Pos2; 2]> {
        ctx.data(|d| d.get_temp(id.with("lines"))).unwrap_or_default()
    }

    /// The labels a drawing placed in the last frame it drew.
    pub fn last(ctx: &egui::Context, id: egui::Id) -> Vec<PlacedLabel> {
        ctx.data(|d| d.get_temp(id)).unwrap_or_default()
    }
}

/// Whether two rectangles share area (touching edges do not count).
fn intersect(a: Rect, b: Rect) -> bool {
    a.min.x < b.max.x && b.min.x < a.max.x && a.min.y < b.max.y && b.min.y < a.max.y
}

/// Candidate places for a label about the point `p` (a message on a channel): the `preferred`
/// offsets first, then above and below at growing distances, then beside, nearest first, out to
/// `reach` points. Beyond that the label would no longer read as `p`'s.
pub fn around(p: Pos2, preferred: &[(Vec2, Align2)], reach: f32) -> Vec<(Pos2, Align2)> {
    let mut out: Vec<(Pos2, Align2)> = preferred.iter().map(|&(d, a)| (p + d, a)).collect();
    let mut d = 8.0;
    while d <= reach {
        for dx in [0.0, -d / 2.0, d / 2.0] {
            out.push((p + Vec2::new(dx, -d), Align2::CENTER_BOTTOM));
            out.push((p + Vec2::new(dx, d), Align2::CENTER_TOP));
        }
        out.push((p + Vec2::new(d, 0.0), Align2::LEFT_CENTER));
        out.push((p + Vec2::new(-d, 0.0), Align2::RIGHT_CENTER));
        d += 4.0;
    }
    out
}

/// Whether the segment `s` passes through `rect` (touching an edge counts: the stroke has width).
/// Liang–Barsky clipping of the segment against the rectangle.
pub fn segment_crosses(s: [Pos2; 2], rect: Rect) -> bool {
    let [a, b] = s;
    let d = b - a;
    let (mut t0, mut t1) = (0.0_f32, 1.0_f32);
    for (p, q) in [(-d.x, a.x - rect.min.x), (d.x, rect.max.x - a.x), (-d.y, a.y - rect.min.y), (d.y, rect.max.y - a.y)]
    {
        if p == 0.0 {
            if q < 0.0 {
                return false; // parallel to this edge and outside it
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
            if t0 > t1 {
                return false;
            }
        }
    }
    true
}

/// The text of every label that a line crosses.
pub fn crossing(labels: &[PlacedLabel], lines: &[[Pos2; 2]]) -> Vec<String> {
    labels.iter().filter(|l| lines.iter().any(|&s| segment_crosses(s, l.rect))).map(|l| l.text.clone()).collect()
}

/// Every pair of labels whose rectangles share area.
pub fn overlapping(labels: &[PlacedLabel]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (i, a) in labels.iter().enumerate() {
        for b in &labels[i + 1..] {
            if intersect(a.rect, b.rect) {
                pairs.push((a.text.clone(), b.text.clone()));
            }
        }
    }
    pairs
}

/// The id under which the job graph keeps its labels.
pub fn dag_labels_id() -> egui::Id {
    egui::Id::unique("streamlab_dag_labels")
}

/// The id under which the timeline keeps its labels.
pub fn timeline_labels_id() -> egui::Id {
    egui::Id::unique("streamlab_timeline_labels")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(x: f32, y: f32, text: &str) -> PlacedLabel {
        PlacedLabel {
            rect: Rect::from_min_size(Pos2::new(x, y), egui::vec2(40.0, 12.0)),
            text: text.into(),
            floating: true,
        }
    }

    #[test]
    fn a_segment_crosses_a_rectangle_only_through_it() {
        let r = Rect::from_min_max(Pos2::new(10.0, 10.0), Pos2::new(20.0, 20.0));
        let seg = |ax: f32, ay: f32, bx: f32, by: f32| [Pos2::new(ax, ay), Pos2::new(bx, by)];
        assert!(segment_crosses(seg(0.0, 15.0, 30.0, 15.0), r), "straight through");
        assert!(segment_crosses(seg(12.0, 12.0, 14.0, 14.0), r), "inside");
        assert!(segment_crosses(seg(0.0, 0.0, 30.0, 30.0), r), "diagonal through");
        assert!(!segment_crosses(seg(0.0, 0.0, 9.0, 30.0), r), "passes left of it");
        assert!(!segment_crosses(seg(0.0, 25.0, 30.0, 25.0), r), "below it");
        assert!(!segment_crosses(seg(0.0, 15.0, 15.0, 30.0), r), "diagonal past the corner");
        assert!(!segment_crosses(seg(0.0, 15.0, 9.0, 15.0), r), "ends before it");
        let label = PlacedLabel { rect: r, text: "cp 3".into(), floating: true };
        assert_eq!(crossing(&[label], &[seg(0.0, 15.0, 30.0, 15.0)]), vec!["cp 3".to_string()]);
    }

    /// A label keeps off a line: the place on the line is skipped for the next free one.
    #[test]
    fn a_label_moves_off_a_line() {
        let ctx = egui::Context::default();
        let mut out = ctx.run_ui(Default::default(), |ui| {
            let painter = ui.painter().clone();
            let mut labels = Labels::new();
            let bounds = Rect::from_min_size(Pos2::ZERO, egui::vec2(400.0, 400.0));
            let line = [Pos2::new(0.0, 100.0), Pos2::new(400.0, 100.0)];
            labels.line(&line);
            let p = Pos2::new(200.0, 100.0);
            let on_it = [(Vec2::ZERO, Align2::CENTER_CENTER)];
            let font = FontId::proportional(10.0);
            let rect = labels.place(&painter, &around(p, &on_it, 20.0), "x2", font, Color32::WHITE, bounds, true);
            let rect = rect.expect("a free place near");
            assert!(!segment_crosses(line, rect) && rect.center().distance(p) <= 30.0, "{rect:?}");
        });
        out.textures_delta.clear();
    }

    #[test]
    fn overlapping_finds_shared_area_only() {
        let labels = [label(0.0, 0.0, "a"), label(30.0, 5.0, "b"), label(40.0, 0.0, "c"), label(200.0, 0.0, "d")];
        // a and b overlap; b and c overlap; a and c only touch.
        assert_eq!(overlapping(&labels), vec![("a".into(), "b".into()), ("b".into(), "c".into())]);
    }

    #[test]
    fn a_label_goes_to_the_next_free_candidate_or_nowhere() {
        let ctx = egui::Context::default();
        let mut out = ctx.run_ui(Default::default(), |ui| {
            let painter = ui.painter().clone();
            let mut labels = Labels::new();
            let bounds = Rect::from_min_size(Pos2::ZERO, egui::vec2(400.0, 400.0));
            let font = FontId::proportional(10.0);
            let here = (Pos2::new(100.0, 100.0), Align2::LEFT_TOP);
            let below = (Pos2::new(100.0, 130.0), Align2::LEFT_TOP);
            let first = labels.place(&painter, &[here], "first", font.clone(), Color32::WHITE, bounds, true);
            let second = labels.place(&painter, &[here, below], "second", font.clone(), Color32::WHITE, bounds, true);
            assert!(first.is_some() && second.is_some_and(|r| r.top() >= 130.0), "moved to its second place");
            labels.obstacle(Rect::from_min_size(Pos2::new(0.0, 200.0), egui::vec2(400.0, 50.0)));
            let blocked = (Pos2::new(10.0, 210.0), Align2::LEFT_TOP);
            assert!(labels.place(&painter, &[here, blocked], "third", font, Color32::WHITE, bounds, true).is_none());
            assert_eq!(labels.hidden, 1);
            assert!(overlapping(&labels.placed).is_empty());
        });
        out.textures_delta.clear();
    }
}
