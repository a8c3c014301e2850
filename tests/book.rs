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

/// (0-based index of the opening fence's line, command line, expected stdout lines) of every
/// ```console block: its first line is `$ streamlab ARGS`, the rest what the command prints.
fn console_blocks(text: &str) -> Vec<(usize, String, Vec<String>)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_start().starts_with("```console") {
            let start = i;
            let mut body = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                body.push(lines[i].to_string());
                i += 1;
            }
            // Checked: one `$ streamlab …` line followed by its output. Blocks that only list
            // commands to type (several `$` lines, or no output) are instructions, not output.
            if let Some(first) = body.first().cloned() {
                let output = &body[1..];
                if first.starts_with("$ streamlab ")
                    && !output.is_empty()
                    && !output.iter().any(|l| l.starts_with("$ "))
                {
                    blocks.push((start, first, output.to_vec()));
                }
            }
        }
        i += 1;
    }
    blocks
}

/// Every ```console block in the book that quotes output is the real output of its command: the
/// block's first line is `$ streamlab ARGS` (run from the repository root), the rest must equal
/// what the command prints on stdout. `UPDATE_BOOK=1 cargo test --test book` rewrites the blocks with the current
/// output (review the diff: a changed number is a changed lesson).
#[test]
fn console_output_quoted_in_the_book_is_what_the_command_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    markdown_files(&root.join("book").join("src"), &mut files);
    files.sort();
    let update = std::env::var_os("UPDATE_BOOK").is_some();
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read markdown");
        let blocks = console_blocks(&text);
        if blocks.is_empty() {
            continue;
        }
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        // From the last block up, so that rewriting one keeps the earlier line numbers.
        for (start, command, expected) in blocks.into_iter().rev() {
            let args = command.trim_start_matches("$ streamlab ");
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_streamlab"))
                .args(args.split_whitespace())
                .current_dir(root)
                .output()
                .expect("run streamlab");
            let got: Vec<String> =
                String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim_end().to_string()).collect();
            let want: Vec<String> = expected.iter().map(|l| l.trim_end().to_string()).collect();
            checked += 1;
            if got != want {
                if update {
                    lines.splice(start + 2..start + 2 + expected.len(), got);
                } else {
                    failures.push(format!(
                        "{}:{}: `{command}` prints\n{}\n(rerun with UPDATE_BOOK=1 to rewrite the block)",
                        file.display(),
                        start + 1,
                        got.join("\n")
                    ));
                }
            }
        }
        if update {
            std::fs::write(&file, lines.join("\n") + "\n").expect("write markdown");
        }
    }
    assert!(checked >= 4, "expected console blocks in the book, found {checked}");
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// The command an output excerpt (a ```text block) belongs to: its own first line
/// `$ cargo run --release -- ARGS` or `$ streamlab ARGS`, else the single `$ streamlab ARGS` /
/// `$ cargo run --release -- ARGS` line of a ```console block right before it. Commands that
/// write files (`shrink`, `--trace`) or sweep more than 40 seeds are not run.
fn excerpt_command(lines: &[&str], fence: usize) -> Option<(String, usize)> {
    let args_of = |line: &str| {
        let line = line.trim();
        line.strip_prefix("$ cargo run --release -- ").or_else(|| line.strip_prefix("$ streamlab ")).map(str::to_string)
    };
    let own = lines.get(fence + 1).and_then(|l| args_of(l));
    let (args, skip) = match own {
        Some(args) => (args, 1),
        None => {
            // The block before: ```console with exactly one command and no output.
            let mut i = fence.checked_sub(1)?;
            while lines[i].trim().is_empty() {
                i = i.checked_sub(1)?;
            }
            if lines[i].trim() != "```" {
                return None;
            }
            let close = i;
            let mut open = close.checked_sub(1)?;
            while !lines[open].trim_start().starts_with("```") {
                open = open.checked_sub(1)?;
            }
            if !lines[open].trim_start().starts_with("```console") || close - open != 2 {
                return None;
            }
            (args_of(lines[open + 1])?, 0)
        }
    };
    let words: Vec<&str> = args.split_whitespace().collect();
    let runs = matches!(words.first(), Some(&("run" | "compare" | "replay" | "exercise")))
        || (words.first() == Some(&"sweep") && few_seeds(&words));
    (runs && !words.contains(&"--trace")).then_some((args, skip))
}

/// Whether a `sweep` command line checks few enough seeds to run in the test: `--seeds A..B`
/// with at most 40 seeds (a sweep of a shipped lesson takes well under a second per seed in a
/// debug build).
fn few_seeds(words: &[&str]) -> bool {
    let Some(range) = words.iter().position(|w| *w == "--seeds").and_then(|i| words.get(i + 1)) else {
        return false;
    };
    let Some((from, to)) = range.split_once("..") else { return false };
    matches!((from.parse::<u64>(), to.parse::<u64>()), (Ok(a), Ok(b)) if b >= a && b - a <= 40)
}

/// Output excerpts quoted in ```text blocks are in their command's output: the block's lines,
/// cut at lines that are `...`, each appear as consecutive lines of the output, in order.
#[test]
fn output_excerpts_quoted_in_the_book_are_in_their_commands_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    markdown_files(&root.join("book").join("src"), &mut files);
    files.sort();
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read markdown");
        let lines: Vec<&str> = text.lines().collect();
        for (fence, line) in lines.iter().enumerate() {
            if !line.trim_start().starts_with("```text") {
                continue;
            }
            let Some((args, skip)) = excerpt_command(&lines, fence) else { continue };
            let body: Vec<&str> =
                lines[fence + 1 + skip..].iter().take_while(|l| !l.trim_start().starts_with("```")).copied().collect();
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_streamlab"))
                .args(args.split_whitespace())
                .current_dir(root)
                .output()
                .expect("run streamlab");
            let output = String::from_utf8_lossy(&out.stdout).into_owned();
            let got: Vec<&str> = output.lines().map(str::trim_end).collect();
            checked += 1;
            let mut from = 0;
            for chunk in body.split(|l| l.trim() == "..." || l.trim() == "…") {
                let chunk: Vec<&str> = chunk.iter().map(|l| l.trim_end()).collect();
                if chunk.is_empty() {
                    continue;
                }
                match (from..=got.len().saturating_sub(chunk.len())).find(|&i| got[i..i + chunk.len()] == chunk[..]) {
                    Some(i) => from = i + chunk.len(),
                    None => {
                        failures.push(format!(
                            "{}:{}: `streamlab {args}` does not print\n{}\n(it prints\n{})",
                            file.display(),
                            fence + 1,
                            chunk.join("\n"),
                            output
                        ));
                        break;
                    }
                }
            }
        }
    }
    assert!(checked >= 5, "expected output excerpts in the book, found {checked}");
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// The book's charts are made by a command, not drawn by hand: `streamlab replay
/// scenarios/crash-during-checkpoint.ron --charts DIR` writes them, and the SVGs under
/// book/src/images/charts must be what it writes today. `UPDATE_BOOK=1 cargo test --test book`
/// regenerates them.
#[test]
fn the_book_charts_are_what_replay_draws() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let book = root.join("book/src/images/charts");
    let dir = std::env::temp_dir().join(format!("streamlab-book-charts-{}", std::process::id()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_streamlab"))
        .current_dir(root)
        .args(["replay", "scenarios/crash-during-checkpoint.ron", "--charts"])
        .arg(&dir)
        .output()
        .expect("streamlab runs");
    assert!(String::from_utf8_lossy(&out.stdout).contains("charts: wrote 8 files"), "{out:?}");
    let update = std::env::var_os("UPDATE_BOOK").is_some();
    for name in ["checkpoint-durations", "records-per-second", "end-to-end-latency", "watermark-lag"] {
        let drawn = std::fs::read_to_string(dir.join(format!("{name}.svg"))).expect("chart written");
        let committed = book.join(format!("{name}.svg"));
        if update {
            std::fs::create_dir_all(&book).unwrap();
            std::fs::write(&committed, &drawn).unwrap();
            continue;
        }
        let text = std::fs::read_to_string(&committed).unwrap_or_else(|e| {
            panic!("{}: {e} (UPDATE_BOOK=1 cargo test --test book writes it)", committed.display())
        });
        assert!(text == drawn, "{} is not what replay draws today (UPDATE_BOOK=1 regenerates it)", committed.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
