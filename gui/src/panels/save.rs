//! Save / export, for the run on screen whichever model ran it ([`ShownRun`]): the run as a
//! scenario file (it reloads to the same run), its sink output as CSV and JSON, its trace for
//! Perfetto, and where its charts are. The folder is named here; nothing already there is
//! replaced unless the box is ticked.

use crate::app::{Action, SaveForm};
use crate::panels::{BLOCKED_COLOR, GOOD_COLOR};
use crate::shown_run::ShownRun;

pub fn save_ui(ui: &mut egui::Ui, shown: &dyn ShownRun, stem: &str, form: &mut SaveForm, actions: &mut Vec<Action>) {
    let SaveForm { dir: folder, name, replace, status } = form;
    ui.strong(format!("The run shown: \"{}\"", shown.title()));
    ui.small(format!(
        "{} · {} sinks · seed {} · faults: {}",
        shown.choice_of(shown.scenario().guarantee).label,
        sim::run::own_sink(shown.scenario()).label(),
        shown.seed(),
        shown.faults_label()
    ));
    egui::Grid::new("save_fields").num_columns(2).show(ui, |ui| {
        let label = ui.label("Folder:");
        ui.add(egui::TextEdit::singleline(folder).desired_width(420.0)).labelled_by(label.id);
        ui.end_row();
        let label = ui.label("File name:");
        ui.add(egui::TextEdit::singleline(name).desired_width(240.0).hint_text(stem)).labelled_by(label.id);
        ui.end_row();
    });
    ui.checkbox(replace, "Replace existing files");
    ui.horizontal_wrapped(|ui| {
        if ui
            .button(format!("Save as scenario file ({stem}.ron)"))
            .on_hover_text("this guarantee (and sink kind), every fault of this run (the file's and the clicked ones, at the moments they fired) and the seed, written out: open it again and you get this same run")
            .clicked()
        {
            actions.push(Action::SaveScenario);
        }
        if ui
            .button("Export sink output (CSV + JSON)")
            .on_hover_text(format!("the rows a reader sees at the end of the run: {stem}.sink.csv and {stem}.sink.json"))
            .clicked()
        {
            actions.push(Action::ExportSinkOutput);
        }
        if ui
            .button("Export trace for Perfetto")
            .on_hover_text(format!("{stem}.trace.json: open it at ui.perfetto.dev (checkpoints, alignments, faults, commits — or a Storm run's emits, acks, timeouts and batches — as spans and instants)"))
            .clicked()
        {
            actions.push(Action::ExportTrace);
        }
    });
    match shown.charts() {
        Ok(_) => ui.weak("Charts: the Charts tab exports them (PNG + SVG)."),
        Err(why) => ui.weak(format!("Charts: {why}.")),
    };
    for s in status.iter() {
        match s {
            Ok(message) => ui.colored_label(GOOD_COLOR, message),
            Err(e) => ui.colored_label(BLOCKED_COLOR, e.to_string()),
        };
    }
}
