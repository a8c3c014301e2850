//! Text on a painter without overlaps: every label of a drawing goes through one `Labels`, which
//! lays the text out, tries its candidate positions in order and draws it at the first one where
//! it overlaps no label placed before it (and, for labels floating over the drawing, no box it
//! was told about). A label that fits nowhere is not drawn and counted in `hidden`; the drawing
//! says elsewhere what it would have said (a count badge, a status line).
//!
//! The placed rectangles are kept in the context after each frame (`Labels::last`), so a test can
//! draw the real UI and check that no two labels overlap (`overlapping`).

use egui::{Align2, Color32, FontId, Painter, Pos2, Rect};

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
    /// Boxes floating labels stay off (subtasks, operators' headers).
    obstacles: Vec<Rect>,
    /// Labels that fit nowhere (not drawn).
    pub hidden: usize,
}

/// Space kept between two labels, in points.
const GAP: f32 = 1.0;

impl Labels {
    pub fn new() -> Labels {
        Labels::default()
    }

    /// Keep floating labels off `rect`.
    pub fn obstacle(&mut self, rect: Rect) {
        self.obstacles.push(rect);
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
        !on_label && !on_box
    }

    /// Keep this frame's labels where `Labels::last` finds them.
    pub fn remember(self, ctx: &egui::Context, id: egui::Id) {
        ctx.data_mut(|d| d.insert_temp(id, self.placed));
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
