//! `streamlab exercise list | show ID | check ID ANSWER`: the book's exercises, graded by running
//! their scenarios (`sim::exercise`). Exit codes: 0 right (and for list/show), 1 a wrong answer (a
//! failed check, like a broken promise), 2 an unknown id, an answer that cannot be read as the
//! question's kind, or a broken exercise file, 3/4 when the exercise's run itself did not finish
//! or broke an invariant (a bug: report it).

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;
use sim::exercise::{Course, Exercise};

use crate::{exit, Usage};

#[derive(Subcommand)]
pub enum Action {
    /// Every chapter's exercises, in the order of the course's weeks.
    List,
    /// One exercise: the question, the scenario, the variant, and how to write the answer.
    Show { id: String },
    /// Run the exercise's scenario and grade ANSWER: right, or what the run shows, why, and the
    /// command that shows it.
    Check {
        id: String,
        /// Your prediction (quote sets: "amo,alo").
        answer: String,
    },
    /// Print the answer the run gives, without grading (for teachers; it runs the scenario).
    Solve { id: String },
}

pub fn run(root: &Path, action: Action) -> anyhow::Result<ExitCode> {
    // `book/exercises/x.ron` rather than `./book/exercises/x.ron` in messages.
    let dir =
        if root == Path::new(".") { Path::new("book/exercises").to_path_buf() } else { root.join("book/exercises") };
    let course = Course::load_with(&dir, root, crate::budget())?;
    let find = |id: &str| -> anyhow::Result<&Exercise> {
        course.find(id).ok_or_else(|| Usage(format!("no exercise `{id}`; `streamlab exercise list` lists them")).into())
    };
    match action {
        Action::List => {
            for chapter in &course.chapters {
                outln!(
                    "week {:>2}  {} ({} exercises, book/src/{})",
                    chapter.week,
                    chapter.title,
                    chapter.exercises.len(),
                    chapter.page
                );
                for e in &chapter.exercises {
                    outln!("  {:<16} {}", e.spec.id, first_line(&e.spec.question));
                }
            }
            let total: usize = course.chapters.iter().map(|c| c.exercises.len()).sum();
            outln!("{total} exercises; `streamlab exercise show ID` for one, `streamlab exercise check ID ANSWER` to grade");
            Ok(ExitCode::SUCCESS)
        }
        Action::Show { id } => {
            let e = find(&id)?;
            show(e);
            Ok(ExitCode::SUCCESS)
        }
        Action::Solve { id } => {
            let e = find(&id)?;
            let solution = e.solve();
            outln!("{}", e.reference_answer(&solution));
            Ok(ExitCode::from(run_code(&solution)))
        }
        Action::Check { id, answer } => {
            let e = find(&id)?;
            // Read the answer before running anything: a typo is a usage error, not a wrong answer.
            e.parse_answer(&answer).map_err(|b| Usage(b.0))?;
            let solution = e.solve();
            let grade = e.grade(&solution, &answer).map_err(|b| Usage(b.0))?;
            if grade.right {
                outln!("right: {}", grade.actual);
            } else {
                outln!("wrong: you said {}; the run shows {}", answer.trim(), grade.actual);
            }
            outln!("why: {}", grade.why);
            outln!("see it: {}", grade.command);
            outln!("look at: {}", grade.look);
            let code = run_code(&solution);
            if let Some(why) = &solution.unfinished {
                eprintln!("the exercise's run did not finish ({why}): the exercise or the engine is broken");
            }
            Ok(ExitCode::from(if code != exit::OK {
                code
            } else if grade.right {
                exit::OK
            } else {
                exit::CHECK_FAILED
            }))
        }
    }
}

fn run_code(solution: &sim::exercise::Solution) -> u8 {
    if solution.violations > 0 {
        exit::INVARIANT
    } else if solution.unfinished.is_some() {
        exit::NOT_FINISHED
    } else {
        exit::OK
    }
}

fn show(e: &Exercise) {
    outln!("{} ({})", e.spec.id, e.chapter);
    outln!("scenario: {}", e.spec.scenario);
    let mut variant = Vec::new();
    if let Some(g) = e.spec.guarantee {
        variant.push(format!("guarantee {}", g.label()));
    }
    if let Some(k) = e.spec.sink {
        variant.push(format!("every sink {}", k.label()));
    }
    if let Some(rule) = e.spec.checkpoint_mode {
        variant.push(format!("exactly-once with {} checkpoints", rule.label()));
    }
    variant.push(format!("model {}", e.scenario.runtime().label()));
    variant.push(format!("seed {}", e.seed()));
    if e.spec.faults == sim::exercise::Faults::Swarm {
        variant.push("plus the seed's random faults (--swarm)".into());
    }
    outln!("run: {}", variant.join(", "));
    outln!("\n{}\n", e.spec.question.trim());
    outln!("answer: {}", e.answer_format());
    outln!("grade: cargo run --release -- exercise check {} ANSWER", e.spec.id);
}

fn first_line(s: &str) -> String {
    let line = s.trim().lines().next().unwrap_or("");
    let mut out: String = line.chars().take(90).collect();
    if line.chars().count() > 90 {
        out.push('…');
    }
    out
}
