//! The job graph at the cursor: operators as boxes (left to right by depth), their parallel
//! subtasks inside (coloured by task manager), channels as curves, and what is on them:
//! records as dots, watermarks as labelled ticks, barriers as bars with their checkpoint id.
//! Inputs blocked by barrier alignment are drawn red with the number of messages waiting.

use egui::epaint::CubicBezierShape;
use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Stroke, StrokeKind, Vec2};
use engine::graph::{ChannelId, SubtaskId};

use crate::app::{Action, FaultRequest, Session};
use crate::panels::labels::{self, dag_labels_id, Labels};
use crate::panels::{
    palette, BARRIER_COLOR, BLOCKED_COLOR, DOWN_COLOR, FULL_COLOR, IDLE_COLOR, RECORD_COLOR, WATERMARK_COLOR,
};
use crate::view::dag::{ChannelLine, DagLayout, Flight, OperatorBox, SubtaskSlot};
use crate::view::watermarks::watermark_text;
use crate::view::Frame;

/// Draw at most this many messages: beyond it the picture is a smear anyway, and frames stay fast.
const MAX_DRAWN_MESSAGES: usize = 3_000;
/// Label watermarks only while there are few of them on screen.
const MAX_WATERMARK_LABELS: usize = 40;
/// How far (points) a message's or channel's label may move from its thing to keep clear of the
/// curves, glyphs and other labels; further away it would read as another's, so it is left out.
const LABEL_REACH: f32 = 40.0;
/// Messages closer than this (points) with the same label get it once.
pub(crate) const SAME_SPOT: f32 = 12.0;

/// Layout units to pixels.
/// Where the graph's parts go in a rectangle (also used by the slide export, `crate::slides`).
pub(crate) struct Geometry {
    rect: Rect,
    columns: usize,
    column_width: f32,
    row_height: f32,
    top: f32,
}

/// A column's box takes this share of the column's width; the rest goes to the gaps between
/// columns (little to the outer margins), where the channels run and their messages' labels must
/// find room beside the curves.
const BOX_SHARE: f32 = 0.66;
/// The outer margin left and right of the graph, as a share of a column's width.
const MARGIN_SHARE: f32 = 0.04;

impl Geometry {
    pub(crate) fn new(layout: &DagLayout, rect: Rect) -> Geometry {
        let columns = layout.columns.max(1);
        let column_width = rect.width() / columns as f32;
        let row_height = (rect.height() / layout.rows.max(1.0)).clamp(14.0, 46.0);
        let top = rect.top() + (rect.height() - layout.rows * row_height).max(0.0) / 2.0;
        Geometry { rect, columns, column_width, row_height, top }
    }

    /// The left and right edge of a column's boxes: the boxes evenly spread, with wide gaps
    /// between them and narrow outer margins (one column: centred).
    pub(crate) fn column_x(&self, column: usize) -> (f32, f32) {
        let box_width = self.column_width * BOX_SHARE;
        if self.columns == 1 {
            let x0 = self.rect.center().x - box_width / 2.0;
            return (x0, x0 + box_width);
        }
        let margin = self.column_width * MARGIN_SHARE;
        let gap = (self.rect.width() - 2.0 * margin - self.columns as f32 * box_width) / (self.columns - 1) as f32;
        let x0 = self.rect.left() + margin + column as f32 * (box_width + gap);
        (x0, x0 + box_width)
    }

    pub(crate) fn operator_rect(&self, op: &OperatorBox) -> Rect {
        let (x0, x1) = self.column_x(op.column);
        let y0 = self.top + op.top * self.row_height;
        Rect::from_x_y_ranges(x0..=x1, y0..=y0 + op.height * self.row_height)
    }

    pub(crate) fn slot_rect(&self, slot: &SubtaskSlot) -> Rect {
        let (x0, x1) = self.column_x(slot.column);
        let cy = self.top + slot.center * self.row_height;
        let h = (self.row_height - 4.0).max(8.0);
        Rect::from_center_size(Pos2::new((x0 + x1) / 2.0, cy), Vec2::new(x1 - x0 - 10.0, h))
    }

    /// The curve a channel is drawn along.
    pub(crate) fn curve(&self, layout: &DagLayout, c: &ChannelLine) -> [Pos2; 4] {
        let from = self.slot_rect(&layout.subtasks[c.from.index()]);
        let to = self.slot_rect(&layout.subtasks[c.to.index()]);
        let spread = |r: Rect, k: usize, n: usize| r.top() + r.height() * (k + 1) as f32 / (n + 1) as f32;
        let a = Pos2::new(from.right(), spread(from, c.output, c.outputs));
        let b = Pos2::new(to.left(), spread(to, c.input, c.inputs));
        let dx = ((b.x - a.x) * 0.45).max(20.0);
        [a, Pos2::new(a.x + dx, a.y), Pos2::new(b.x - dx, b.y), b]
    }
}

/// Where subtask `subtask` is drawn when the graph fills `graph_rect` (for tests that click it).
pub fn subtask_rect(layout: &DagLayout, graph_rect: Rect, subtask: SubtaskId) -> Rect {
    Geometry::new(layout, graph_rect.shrink(4.0)).slot_rect(&layout.subtasks[subtask.index()])
}

/// Text sizes of the job graph: normal, and in presenter mode (readable from the back of a room).
fn fonts(presenter: bool) -> (FontId, FontId) {
    if presenter {
        (FontId::proportional(14.0), FontId::proportional(17.0))
    } else {
        (FontId::proportional(10.0), FontId::proportional(13.0))
    }
}

/// How the job graph is drawn: presenter mode's larger type, and whether the legend is folded.
#[derive(Clone, Copy, Debug)]
pub struct GraphLook {
    pub presenter: bool,
    pub fold_legend: bool,
}

pub fn dag_ui(
    ui: &mut egui::Ui,
    session: &Session,
    frame: &Frame,
    selected: Option<SubtaskId>,
    restart_after_ms: Option<u64>,
    look: GraphLook,
    actions: &mut Vec<Action>,
) {
    let presenter = look.presenter;
    if look.fold_legend {
        // Room for the graph: the legend folds away (the audience has the presenter; a table
        // below wants the height).
        egui::CollapsingHeader::new("Legend").default_open(false).show(ui, |ui| legend_ui(ui, session));
    } else {
        legend_ui(ui, session);
    }
    task_managers_ui(ui, session, frame, restart_after_ms, actions);
    status_line_ui(ui, frame, session.scenario.buffer_timeout_ns);
    let layout = &session.layout;
    let scenario = &session.scenario;
    let size = ui.available_size().max(Vec2::new(200.0, 120.0));
    let (response, painter) = ui.allocate_painter(size, Sense::click());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::accesskit::Role::Image, true, "Job graph"));
    let geo = Geometry::new(layout, response.rect.shrink(4.0));
    let visuals = ui.visuals().clone();
    let text = visuals.text_color();
    let weak = if presenter { text } else { visuals.weak_text_color() };
    let (small, title_font) = fonts(presenter);
    let bounds = response.rect;
    let mut labels = Labels::new();

    // Operators and subtasks first, so that channels and messages draw over them.
    for op in &layout.operators {
        let r = geo.operator_rect(op);
        painter.rect_filled(r, 6.0, visuals.faint_bg_color);
        painter.rect_stroke(
            r,
            6.0,
            Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color),
            StrokeKind::Inside,
        );
        let header = Pos2::new(r.left() + 6.0, r.top() + 2.0);
        // The operator's name, and what it does when there is room for it in the box.
        if let Some(title) =
            labels.place(&painter, &[(header, Align2::LEFT_TOP)], &op.name, title_font.clone(), text, r, false)
        {
            let detail = (Pos2::new(title.right() + 6.0, title.bottom()), Align2::LEFT_BOTTOM);
            let texts = [format!("{} · {}", op.kind, op.detail), op.kind.to_string()];
            labels.place_first_fitting(&painter, detail, &texts, small.clone(), weak, r, false);
            labels.obstacle(title);
        }
    }
    let hover = response.hover_pos();
    let mut hovered_slot = None;
    for slot in &layout.subtasks {
        let r = geo.slot_rect(slot);
        let status = &frame.dag.subtasks[slot.subtask.index()];
        let tm = palette(slot.task_manager as usize);
        let fill = if !status.alive {
            DOWN_COLOR
        } else if status.finished {
            tm.gamma_multiply(0.12)
        } else {
            tm.gamma_multiply(0.35)
        };
        painter.rect_filled(r, 3.0, fill);
        let stroke = if Some(slot.subtask) == selected { Stroke::new(2.5, text) } else { Stroke::new(1.0, tm) };
        painter.rect_stroke(r, 3.0, stroke, StrokeKind::Inside);
        labels.obstacle(r);
        let node_down = frame.dag.down.contains(&slot.task_manager);
        // What the subtask is doing, long and short (the short one when the box is narrow).
        let (state, short) = if node_down {
            ("task manager down".to_string(), "down".to_string())
        } else if !status.alive {
            ("stopped (restarting)".to_string(), "stopped".to_string())
        } else if status.finished {
            ("finished".to_string(), "done".to_string())
        } else if let Some(cp) = status.aligning {
            frame.dag.pending_checkpoint_text(cp)
        } else if status.backpressured {
            ("backpressured: output full".to_string(), "full".to_string())
        } else if status.idle {
            ("idle".to_string(), "idle".to_string())
        } else {
            (format!("{} in", status.records_in), status.records_in.to_string())
        };
        let color = if !status.alive {
            BLOCKED_COLOR
        } else if status.aligning.is_some() {
            BARRIER_COLOR
        } else if status.backpressured {
            FULL_COLOR
        } else {
            weak
        };
        // The state at the right end of the box, if it fits beside the name (shortened if not).
        let at = (Pos2::new(r.right() - 4.0, r.center().y), Align2::RIGHT_CENTER);
        labels.place_first_fitting(&painter, at, &[state.clone(), short], small.clone(), color, r, false);
        // Then the name, without its task manager (the box's colour says it) if room is short.
        let name = (Pos2::new(r.left() + 4.0, r.center().y), Align2::LEFT_CENTER);
        let names = [format!("{}  tm-{}", slot.name, slot.task_manager), slot.name.clone()];
        labels.place_first_fitting(&painter, name, &names, small.clone(), text, r, false);
        if hover.is_some_and(|p| r.contains(p)) {
            hovered_slot = Some(slot.subtask);
        }
    }

    // Channels, with blocked inputs in red and their waiting messages counted. Every curve is
    // drawn (and kept clear of labels) before any label goes on, so no later curve crosses one.
    let mut channel_labels = Vec::new();
    for c in &layout.channels {
        let points = geo.curve(layout, c);
        let status = &frame.dag.channels[c.channel.index()];
        let stroke = if status.blocked {
            Stroke::new(2.5, BLOCKED_COLOR)
        } else if status.cut {
            Stroke::new(2.5, DOWN_COLOR)
        } else if status.delay_ns > 0 {
            Stroke::new(2.0, WATERMARK_COLOR)
        } else if status.full {
            Stroke::new(2.0, FULL_COLOR)
        } else if c.late {
            Stroke::new(1.0, WATERMARK_COLOR.gamma_multiply(0.6))
        } else {
            Stroke::new(1.0, weak.gamma_multiply(0.6))
        };
        let curve = CubicBezierShape::from_points_stroke(points, false, Color32::TRANSPARENT, stroke);
        labels.line(&curve.flatten(Some(0.5)));
        let mid = curve.sample(0.5);
        painter.add(curve);
        // What holds the channel up, at its receiving end (above, below, or further back).
        let end = points[3];
        let (what, color) = if status.blocked {
            (vec![format!("blocked, {} waiting", status.queued), format!("blocked {}", status.queued)], BLOCKED_COLOR)
        } else if status.full {
            (vec![format!("full, {} waiting", status.queued), format!("full {}", status.queued)], FULL_COLOR)
        } else if status.queued > 0 {
            (vec![status.queued.to_string()], weak)
        } else {
            (Vec::new(), weak)
        };
        if !what.is_empty() {
            let preferred = [(Vec2::new(-4.0, -2.0), Align2::RIGHT_BOTTOM), (Vec2::new(-4.0, 2.0), Align2::RIGHT_TOP)];
            channel_labels.push((end, labels::around(end, &preferred, LABEL_REACH), what, color));
        }
        let link = if status.cut {
            Some(("partitioned".to_string(), DOWN_COLOR))
        } else if status.delay_ns > 0 {
            Some((format!("+{}", crate::view::duration_text(status.delay_ns)), WATERMARK_COLOR))
        } else {
            None
        };
        if let Some((text, color)) = link {
            let preferred = [(Vec2::new(0.0, -3.0), Align2::CENTER_BOTTOM), (Vec2::new(0.0, 3.0), Align2::CENTER_TOP)];
            channel_labels.push((mid, labels::around(mid, &preferred, LABEL_REACH), vec![text], color));
        }
    }

    // Messages that will be dropped on arrival (receiver down, job restarting) are faded.
    let mut ghost = painter.clone();
    ghost.multiply_opacity(0.25);
    // Messages on the wires. Messages at the same spot of a channel (held up by a partition, or
    // just many) are a pile: drawn once, with a count badge. Their glyphs go down first and are
    // kept clear of every label placed after them.
    // (the glyph's point, where its label may go, text, colour, faded)
    type MessageLabel = (Pos2, Vec<(Pos2, Align2)>, String, Color32, bool);
    let mut message_labels: Vec<MessageLabel> = Vec::new();
    let mut piles: Vec<(ChannelId, i32, usize, Pos2)> = Vec::new();
    for flight in frame.dag.in_flight.iter().take(MAX_DRAWN_MESSAGES) {
        let c = &layout.channels[flight.channel.index()];
        let curve =
            CubicBezierShape::from_points_stroke(geo.curve(layout, c), false, Color32::TRANSPARENT, Stroke::NONE);
        let p = curve.sample(flight.progress);
        let spot = (flight.progress * 40.0).round() as i32;
        match piles.last_mut() {
            Some((channel, s, n, _)) if *channel == flight.channel && *s == spot => {
                *n += 1;
                continue;
            }
            _ => piles.push((flight.channel, spot, 1, p)),
        }
        let on = if flight.doomed { &ghost } else { &painter };
        let glyph = match flight.what {
            Flight::Record => {
                on.circle_filled(p, 3.0, RECORD_COLOR);
                Rect::from_center_size(p, Vec2::splat(6.0))
            }
            Flight::Watermark(w) => {
                on.vline(p.x, p.y - 7.0..=p.y + 7.0, Stroke::new(2.0, WATERMARK_COLOR));
                if message_labels.iter().filter(|l| l.3 == WATERMARK_COLOR).count() < MAX_WATERMARK_LABELS {
                    let preferred =
                        [(Vec2::new(0.0, -8.0), Align2::CENTER_BOTTOM), (Vec2::new(0.0, 8.0), Align2::CENTER_TOP)];
                    let text = watermark_text(scenario, w);
                    message_labels.push((
                        p,
                        labels::around(p, &preferred, LABEL_REACH),
                        text,
                        WATERMARK_COLOR,
                        flight.doomed,
                    ));
                }
                Rect::from_center_size(p, Vec2::new(2.0, 14.0))
            }
            Flight::Barrier(id) => {
                on.rect_filled(Rect::from_center_size(p, Vec2::new(4.0, 16.0)), 1.0, BARRIER_COLOR);
                let preferred = [
                    (Vec2::new(0.0, 9.0), Align2::CENTER_TOP),
                    (Vec2::new(0.0, -9.0), Align2::CENTER_BOTTOM),
                    (Vec2::new(4.0, 0.0), Align2::LEFT_CENTER),
                ];
                let text = format!("cp {id}");
                message_labels.push((
                    p,
                    labels::around(p, &preferred, LABEL_REACH),
                    text,
                    BARRIER_COLOR,
                    flight.doomed,
                ));
                Rect::from_center_size(p, Vec2::new(4.0, 16.0))
            }
            Flight::Idle(_) => {
                on.circle_stroke(p, 4.0, Stroke::new(1.5, IDLE_COLOR));
                Rect::from_center_size(p, Vec2::splat(9.0))
            }
            Flight::EndOfInput => {
                on.rect_filled(Rect::from_center_size(p, Vec2::splat(7.0)), 0.0, text);
                Rect::from_center_size(p, Vec2::splat(7.0))
            }
        };
        labels.obstacle(glyph);
    }
    // Labels by importance: what holds a channel up, then barriers, piles, watermarks; a label
    // with no free place near its thing is left out (the Watermarks and Barrier alignment tabs,
    // and the subtask boxes, say the same in full).
    for (at, anchors, texts, color) in channel_labels {
        for text in texts {
            if labels.place_near(&painter, at, &anchors, text, small.clone(), color, bounds).is_some() {
                break;
            }
        }
    }
    // The same text at one spot once: a barrier leaves a subtask on every output channel at the
    // same instant, and three "cp 2" side by side said nothing more than one.
    let mut said: Vec<(Pos2, String)> = Vec::new();
    message_labels.retain(|l| {
        let again = said.iter().any(|(p, t)| *t == l.2 && p.distance(l.0) < SAME_SPOT);
        said.push((l.0, l.2.clone()));
        !again
    });
    let (barriers, watermarks): (Vec<_>, Vec<_>) = message_labels.into_iter().partition(|l| l.3 == BARRIER_COLOR);
    for (at, anchors, text, color, doomed) in barriers {
        labels.place_near(if doomed { &ghost } else { &painter }, at, &anchors, text, small.clone(), color, bounds);
    }
    for &(_, _, n, p) in piles.iter().filter(|(_, _, n, _)| *n > 1) {
        let preferred = [
            (Vec2::new(5.0, -5.0), Align2::LEFT_BOTTOM),
            (Vec2::new(5.0, 5.0), Align2::LEFT_TOP),
            (Vec2::new(-5.0, -5.0), Align2::RIGHT_BOTTOM),
        ];
        let anchors = labels::around(p, &preferred, LABEL_REACH);
        labels.place_near(&painter, p, &anchors, format!("×{n}"), small.clone(), text, bounds);
    }
    for (at, anchors, text, color, doomed) in watermarks {
        labels.place_near(if doomed { &ghost } else { &painter }, at, &anchors, text, small.clone(), color, bounds);
    }
    labels.remember(ui.ctx(), dag_labels_id());

    if response.clicked() {
        if let Some(s) = hovered_slot {
            actions.push(Action::Select(Some(s)));
        }
    }
    // Remember which subtask the context menu is for: the pointer moves into the menu.
    let menu_id = response.id.with("context_subtask");
    if response.secondary_clicked() {
        ui.data_mut(|d| d.insert_temp(menu_id, hovered_slot));
    }
    let for_slot: Option<SubtaskId> = ui.data(|d| d.get_temp(menu_id)).flatten();
    response.context_menu(|ui| {
        let Some(s) = for_slot else {
            ui.label("Right-click a subtask to inject a fault on its task manager.");
            return;
        };
        let tm = layout.subtasks[s.index()].task_manager;
        ui.label(format!("{} runs on tm-{tm}. At the cursor:", layout.subtasks[s.index()].name));
        let crash = FaultRequest::Crash { tm, restart_after_ms };
        if ui.button(format!("Crash tm-{tm} ({})", crash.describe())).clicked() {
            actions.push(Action::Inject(crash));
            ui.close();
        }
        let forever = FaultRequest::Crash { tm, restart_after_ms: None };
        if restart_after_ms.is_some() && ui.button(format!("Crash tm-{tm} for good")).clicked() {
            actions.push(Action::Inject(forever));
            ui.close();
        }
        if ui.button("Inspect").clicked() {
            actions.push(Action::Select(Some(s)));
            ui.close();
        }
    });
    if let Some(s) = hovered_slot {
        let st = &frame.dag.subtasks[s.index()];
        response.on_hover_text(format!(
            "{} on tm-{}\nrecords in {} · out {}\nclick to inspect",
            layout.subtasks[s.index()].name,
            layout.subtasks[s.index()].task_manager,
            st.records_in,
            st.records_out
        ));
    }
}

/// Above the graph, never over it: what is down or restarting, and how much is on the wire.
/// `buffer_timeout_ns`: the scenario's buffer timeout, to say why the wire is often empty.
fn status_line_ui(ui: &mut egui::Ui, frame: &Frame, buffer_timeout_ns: u64) {
    let mut banner = Vec::new();
    for tm in &frame.dag.down {
        banner.push(format!("tm-{tm} is down"));
    }
    // Between a failure's detection and the restart the attempt is already the next one,
    // which has not run yet.
    if frame.dag.restarting {
        banner.push(format!(
            "failure detected: the job is stopped; attempt {} will restart from its latest checkpoint",
            crate::view::job_attempt(frame.dag.attempt)
        ));
    } else if frame.dag.attempt > 0 {
        let restarts =
            if frame.dag.attempt == 1 { "1 restart".to_string() } else { format!("{} restarts", frame.dag.attempt) };
        banner.push(format!("job attempt {} (after {restarts})", crate::view::job_attempt(frame.dag.attempt)));
    }
    ui.horizontal_wrapped(|ui| {
        if !banner.is_empty() {
            ui.colored_label(BLOCKED_COLOR, egui::RichText::new(banner.join(" · ")).strong());
            ui.separator();
        }
        let on_wire = frame.dag.in_flight.len();
        let drawn = on_wire.min(MAX_DRAWN_MESSAGES);
        let messages = crate::view::units::count_text(on_wire, "message", "messages");
        ui.small(if on_wire > drawn {
            format!("{messages} on the wire ({drawn} drawn)")
        } else if on_wire == 0 && buffer_timeout_ns > 0 {
            // Playing the default scenario the wire is empty most of the time, and the graph
            // looked frozen: records wait in their network buffers between flushes.
            format!(
                "{messages} on the wire (records wait in network buffers, sent when a buffer fills or every {}: the buffer timeout)",
                crate::view::duration_text(buffer_timeout_ns)
            )
        } else {
            format!("{messages} on the wire")
        });
    });
}

/// The task managers as groups: which subtasks each runs, whether it is up, and a button to crash
/// it at the cursor (the run forks there) — the most direct way into a failure.
fn task_managers_ui(
    ui: &mut egui::Ui,
    session: &Session,
    frame: &Frame,
    restart_after_ms: Option<u64>,
    actions: &mut Vec<Action>,
) {
    let layout = &session.layout;
    ui.horizontal_wrapped(|ui| {
        for tm in 0..layout.task_managers {
            let down = frame.dag.down.contains(&tm);
            let colour = if down { DOWN_COLOR } else { palette(tm as usize) };
            egui::Frame::group(ui.style()).stroke(Stroke::new(1.5, colour)).show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.colored_label(colour, format!("tm-{tm}"));
                    let names: Vec<&str> =
                        layout.subtasks.iter().filter(|s| s.task_manager == tm).map(|s| s.name.as_str()).collect();
                    ui.small(if down { "DOWN".to_string() } else { names.join(" ") });
                    // Network faults on its links while they last.
                    for note in frame.dag.link_faults.get(tm as usize).into_iter().flatten() {
                        ui.colored_label(WATERMARK_COLOR, note);
                    }
                    let crash = FaultRequest::Crash { tm, restart_after_ms };
                    if ui
                        .add_enabled(!down, egui::Button::new(format!("Crash tm-{tm} now")).small())
                        .on_hover_text(format!("{} (the run forks at the cursor)", crash.describe()))
                        .clicked()
                    {
                        actions.push(Action::Inject(crash));
                    }
                });
            });
        }
    });
}

/// What the glyphs mean, and which colour is which task manager.
fn legend_ui(ui: &mut egui::Ui, session: &Session) {
    ui.horizontal_wrapped(|ui| {
        ui.small("Legend:");
        glyph_ui(ui, "record", |p, c| {
            p.circle_filled(c, 3.0, RECORD_COLOR);
        });
        glyph_ui(ui, "watermark (event time)", |p, c| {
            p.vline(c.x, c.y - 6.0..=c.y + 6.0, Stroke::new(2.0, WATERMARK_COLOR));
        });
        glyph_ui(ui, "barrier of checkpoint n", |p, c| {
            p.rect_filled(Rect::from_center_size(c, Vec2::new(4.0, 12.0)), 1.0, BARRIER_COLOR);
        });
        glyph_ui(ui, "idle notice", |p, c| {
            p.circle_stroke(c, 4.0, Stroke::new(1.5, IDLE_COLOR));
        });
        let text = ui.visuals().text_color();
        glyph_ui(ui, "end of input", move |p, c| {
            p.rect_filled(Rect::from_center_size(c, Vec2::splat(7.0)), 0.0, text);
        });
        glyph_ui(ui, "input blocked by alignment", |p, c| {
            p.hline(c.x - 6.0..=c.x + 6.0, c.y, Stroke::new(2.5, BLOCKED_COLOR));
        });
        let late = WATERMARK_COLOR.gamma_multiply(0.6);
        glyph_ui(ui, "late-data output", move |p, c| {
            p.hline(c.x - 6.0..=c.x + 6.0, c.y, Stroke::new(1.0, late));
        });
        ui.small("· numbers at inputs: messages waiting · subtask colour = task manager:");
        for tm in 0..session.layout.task_managers {
            let color = palette(tm as usize);
            glyph_ui(ui, &format!("tm-{tm}"), move |p, c| {
                p.rect_filled(Rect::from_center_size(c, Vec2::new(12.0, 10.0)), 2.0, color.gamma_multiply(0.6));
            });
        }
        glyph_ui(ui, "channel full (backpressure)", |p, c| {
            p.hline(c.x - 6.0..=c.x + 6.0, c.y, Stroke::new(2.0, FULL_COLOR));
        });
        glyph_ui(ui, "down / stopped", |p, c| {
            p.rect_filled(Rect::from_center_size(c, Vec2::new(12.0, 10.0)), 2.0, DOWN_COLOR);
        });
        ui.small("· faded messages will be dropped on arrival");
    });
}

fn glyph_ui(ui: &mut egui::Ui, label: &str, paint: impl FnOnce(&egui::Painter, Pos2)) {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(14.0, 14.0), Sense::hover());
    paint(ui.painter(), rect.center());
    ui.small(label);
}
