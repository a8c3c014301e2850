//! streamlab's desktop workbench (egui/eframe). It reads the simulator's recording and never
//! re-implements engine logic. Nothing depends on this crate.
//!
//! Codemap: [`app`] (state and actions), [`time_control`] (play/pause/seek as a plain struct),
//! [`scrub`] (a recorded run with snapshots: the world at any moment), [`view`] (view models,
//! plain data), [`panels`] (egui drawing only), [`export`] (charts to PNG/SVG with plotters).

use std::path::PathBuf;
use std::process::ExitCode;

pub mod app;
pub mod error;
pub mod export;
pub mod panels;
pub mod recording;
pub mod save;
pub mod scrub;
pub mod shown_run;
pub mod slides;
pub mod time_control;
pub mod view;

/// The message shown when there is no display to open a window on.
pub const NO_DISPLAY_MESSAGE: &str = "\
streamlab: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set), so the workbench window cannot open.
Everything also runs headless:
  cargo run --release -- run scenarios/clickstream.ron             # run a scenario, print summary and sink output
  cargo run --release -- run default --format json                 # the embedded default scenario, as JSON lines
  cargo run --release -- run scenarios/clickstream.ron --check-determinism
  cargo run --release -- --help                                    # every command";

/// Is there a display to open a window on? (On Linux/BSD: an X11 or Wayland display variable.)
pub fn display_available() -> bool {
    if cfg!(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd", target_os = "netbsd")) {
        ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
    } else {
        true
    }
}

/// Open the workbench on `scenario` (or the embedded default).
pub fn launch(scenario: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    if !display_available() {
        eprintln!("{NO_DISPLAY_MESSAGE}");
        return Ok(ExitCode::SUCCESS);
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_inner_size([1280.0, 800.0]).with_title("streamlab"),
        ..Default::default()
    };
    let result =
        eframe::run_native("streamlab", options, Box::new(move |cc| Ok(Box::new(app::App::new(cc, scenario)))));
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) => {
            eprintln!("streamlab: the window could not open: {error}");
            eprintln!("{NO_DISPLAY_MESSAGE}");
            Ok(ExitCode::FAILURE)
        }
    }
}
