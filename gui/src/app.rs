//! The workbench application.

use std::path::PathBuf;
use std::sync::Arc;

use sim::run::DEFAULT_SEED;
use sim::{report, RunOptions, RunResult, Scenario};

pub struct App {
    scenario: Result<Arc<Scenario>, String>,
    result: Option<RunResult>,
}

impl App {
    pub fn new(_cc: &eframe::CreationContext<'_>, path: Option<PathBuf>) -> Self {
        let scenario = match path {
            Some(p) => Scenario::load(&p).map(Arc::new).map_err(|e| e.to_string()),
            None => Ok(Arc::new(Scenario::default_scenario())),
        };
        let result = scenario
            .as_ref()
            .ok()
            .map(|s| sim::run_scenario(s.clone(), s.seed.unwrap_or(DEFAULT_SEED), RunOptions::default()));
        App { scenario, result }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |ui| match (&self.scenario, &self.result) {
            (Ok(s), Some(r)) => {
                ui.heading(&s.name);
                ui.label(&s.description);
                ui.monospace(report::summary(r));
            }
            (Err(e), _) => {
                ui.colored_label(egui::Color32::RED, e);
            }
            _ => {}
        });
    }
}
