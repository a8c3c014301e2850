//! The workbench's load path with the hostile-input corpus (`tests/hostile/`, the lists
//! `*.tsv`): every file the command line refuses is refused by `App::load` too, with its located
//! error (`FILE:LINE:COLUMN: FIELD: ...`) on screen and no panic; files the command line runs load
//! (the scenario alone: recording each run is `tests/hostile.rs`'s job through the binary). Paths
//! that are not regular files are refused before reading. No display: the app is built headless.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use gui::app::{App, ScenarioSource};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/hostile")
}

/// (file, class) of every corpus file, from the expectation lists.
fn corpus() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for list in ["generated.tsv", "hand.tsv", "fresh.tsv", "s16.tsv"] {
        let text = std::fs::read_to_string(corpus_dir().join(list)).expect("expectation list");
        for row in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let cols: Vec<&str> = row.split('\t').collect();
            files.push((corpus_dir().join(cols[0]), cols[1].to_string()));
        }
    }
    files
}

/// Why `App::new_headless` on `path` did not end in a located error, if it did not.
fn refused_with_a_location(path: &Path) -> Result<(), String> {
    let app = catch_unwind(AssertUnwindSafe(|| App::new_headless(ScenarioSource::File(path.to_path_buf()), None)))
        .map_err(|_| "panicked".to_string())?;
    let Some(error) = app.error else { return Err("loaded; the command line refuses it".into()) };
    let text = error.to_string();
    let shown = path.display().to_string();
    let Some(rest) = text.strip_prefix(&format!("{shown}:")) else {
        return Err(format!("the error does not start with the file: {text}"));
    };
    // LINE:COLUMN: for everything but a file that cannot be read at all.
    let located = rest.split(':').take(2).all(|n| n.trim().parse::<usize>().is_ok_and(|n| n > 0));
    if !located && !text.contains("cannot read") {
        return Err(format!("no line and column: {text}"));
    }
    if app.session.is_some() {
        return Err(format!("a run is shown for a refused file: {text}"));
    }
    Ok(())
}

#[test]
fn every_corpus_file_the_command_line_refuses_is_a_located_error_in_the_workbench() {
    let files = corpus();
    assert!(files.len() >= 200, "the corpus has {} files", files.len());
    let mut failures = Vec::new();
    let mut refused = 0;
    for (path, class) in &files {
        let result = match class.as_str() {
            // Loaded, not recorded (App::new_headless would record the whole run, in a debug
            // build): the scenario and its budget, which is what the workbench checks first.
            "ok" | "any" | "admitted" => catch_unwind(|| ScenarioSource::File(path.clone()).load())
                .map_err(|_| "panicked".to_string())
                .and_then(|loaded| match (class.as_str(), loaded) {
                    ("ok" | "admitted", Err(e)) => Err(format!("refused; the command line runs it: {e}")),
                    _ => Ok(()),
                }),
            _ => {
                refused += 1;
                refused_with_a_location(path)
            }
        };
        if let Err(why) = result {
            failures.push(format!("{} ({class}): {why}", path.display()));
        }
    }
    assert!(refused >= 150, "{refused} refused files");
    assert!(failures.is_empty(), "{} of {} files:\n{}", failures.len(), files.len(), failures.join("\n"));
}

#[test]
fn paths_that_are_not_regular_files_are_refused_by_the_workbench_before_reading() {
    let dir = std::env::temp_dir().join(format!("streamlab-gui-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let fifo = dir.join("fifo.ron");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("run mkfifo (coreutils)");
    assert!(made.success());
    for path in [fifo, PathBuf::from("/dev/zero"), dir.clone(), dir.join("missing.ron")] {
        let app = App::new_headless(ScenarioSource::File(path.clone()), None);
        let error = app.error.map(|e| e.to_string()).unwrap_or_default();
        assert!(error.starts_with(&format!("{}: cannot read", path.display())), "{}: {error:?}", path.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
