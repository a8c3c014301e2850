//! The book's complete scenarios (```ron blocks that start with `Scenario(`) load and run to the
//! end, so the examples readers copy keep working as the format evolves.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sim::{RunOptions, Scenario, StopReason};

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "md") {
            out.push(path);
        }
    }
}

/// (1-based line of the opening fence, block text) of every ```ron block in `text`.
fn ron_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start();
        match &mut current {
            None if fence.starts_with("```ron") => current = Some((i + 1, String::new())),
            Some(_) if fence.starts_with("```") => blocks.extend(current.take()),
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn complete_scenarios_in_the_book_load_and_finish() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("book").join("src");
    let mut files = Vec::new();
    markdown_files(&root, &mut files);
    files.sort();
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read markdown");
        for (line, block) in ron_blocks(&text) {
            if !block.trim_start().starts_with("Scenario(") {
                continue; // a fragment, not a whole scenario
            }
            let name = format!("{}:{line}", file.display());
            let scenario = match Scenario::parse(&block, &name) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    failures.push(format!("{e}"));
                    continue;
                }
            };
            let seed = scenario.seed.unwrap_or(sim::run::DEFAULT_SEED);
            let options = RunOptions { keep_trace: false, ..Default::default() };
            let result = sim::run_scenario(scenario, seed, options);
            if result.stop != StopReason::JobFinished {
                failures.push(format!("{name}: stopped with {:?}", result.stop));
            }
            checked += 1;
        }
    }
    assert!(checked >= 2, "expected complete scenarios in the book");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
