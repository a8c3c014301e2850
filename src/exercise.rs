//! `streamlab exercise list | show ID | check ID ANSWER | solve ID | grade ANSWERS`: the book's
//! exercises, graded by running their scenarios (`sim::exercise`). Exit codes: 0 right (and for
//! list/show, and a class graded), 1 a wrong answer (a failed check, like a broken promise), 2 an
//! unknown id, an answer that cannot be read as the question's kind, a broken exercise or answers
//! file, 3/4 when an exercise's run itself did not finish or broke an invariant (a bug: report it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use sim::exercise::{Course, Exercise, Solution};

use crate::answers::{csv_field, Answer};
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
    /// Grade a class: ANSWERS is a CSV file with the header `student,exercise,answer`, one answer
    /// a line (quote an answer holding a comma: "amo,alo"). Each exercise named runs once. Prints
    /// every student's score and wrong answers, then how many got each exercise right.
    Grade {
        answers: PathBuf,
        /// Also write every answer's grade as CSV (student, exercise, answer, grade, run_shows);
        /// an existing file is replaced only with --force.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        force: bool,
    },
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
        Action::Grade { answers, out, force } => grade_class(&course, &answers, out.as_deref(), force),
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

/// One answer of a class, graded.
struct Graded<'a> {
    answer: &'a Answer,
    right: bool,
    /// What the run shows, in the answer's notation.
    shows: String,
    /// Why the answer could not be read as the question's kind (graded wrong).
    unreadable: Option<String>,
}

/// `exercise grade`: every answer of `answers_path` graded, each exercise run once.
fn grade_class(course: &Course, answers_path: &Path, out: Option<&Path>, force: bool) -> anyhow::Result<ExitCode> {
    let answers = crate::answers::load(answers_path).map_err(|e| Usage(e.0))?;
    if let Some(a) = answers.iter().find(|a| course.find(&a.exercise).is_none()) {
        let file = answers_path.display();
        let (line, id) = (a.line, &a.exercise);
        return Err(Usage(format!(
            "{file}:{line}:1: exercise: no exercise `{id}`; `streamlab exercise list` lists them"
        ))
        .into());
    }
    let policy = if force { sim::atomic_write::Overwrite::Replace } else { sim::atomic_write::Overwrite::Refuse };
    if let Some(out) = out {
        if same_file(out, answers_path) {
            return Err(Usage(format!("--out {}: that is the answers file; name another", out.display())).into());
        }
        crate::refuse_output(out, policy, true)?;
    }
    let mut solutions: BTreeMap<&str, (&Exercise, Solution)> = BTreeMap::new();
    let mut code = exit::OK;
    for a in &answers {
        if !solutions.contains_key(a.exercise.as_str()) {
            let e = course.find(&a.exercise).expect("checked above");
            let solution = e.solve();
            if let Some(why) = &solution.unfinished {
                eprintln!(
                    "{}: the exercise's run did not finish ({why}): the exercise or the engine is broken",
                    a.exercise
                );
            }
            code = code.max(run_code(&solution));
            solutions.insert(&a.exercise, (e, solution));
        }
    }
    let graded: Vec<Graded> = answers
        .iter()
        .map(|a| {
            let (e, solution) = &solutions[a.exercise.as_str()];
            match e.grade(solution, &a.answer) {
                Ok(g) => Graded { answer: a, right: g.right, shows: g.actual, unreadable: None },
                Err(bad) => {
                    Graded { answer: a, right: false, shows: e.reference_answer(solution), unreadable: Some(bad.0) }
                }
            }
        })
        .collect();
    print_class(&graded, solutions.len());
    if let Some(out) = out {
        sim::atomic_write::write_bytes(out, grades_csv(&graded).as_bytes(), policy)
            .with_context(|| format!("writing {}", out.display()))?;
        outln!("every answer's grade: {}", out.display());
    }
    Ok(ExitCode::from(code))
}

/// Each student's score and wrong answers (students in the file's order), then each exercise's.
fn print_class(graded: &[Graded], exercises: usize) {
    let students = in_file_order(graded, |g| &g.answer.student);
    let count = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    outln!(
        "graded {} of {} to {} (each run once)",
        count(graded.len(), "answer"),
        count(students.len(), "student"),
        count(exercises, "exercise")
    );
    let width = students.iter().map(|(s, _)| s.chars().count()).max().unwrap_or(0).max("student".len());
    outln!("{:<width$}  {:>7}  wrong", "student", "score");
    for (student, theirs) in &students {
        let right = theirs.iter().filter(|g| g.right).count();
        let wrong: Vec<String> = theirs.iter().filter(|g| !g.right).map(|g| wrong_text(g)).collect();
        let score = format!("{right}/{}", theirs.len());
        outln!("{:<width$}  {score:>7}  {}", sim::scenario::error::printable(student), wrong.join("; "));
    }
    outln!("{:<16}  {:>7}  the run shows", "exercise", "right");
    for (id, all) in in_file_order(graded, |g| &g.answer.exercise) {
        let right = all.iter().filter(|g| g.right).count();
        outln!("{id:<16}  {:>7}  {}", format!("{right}/{}", all.len()), all[0].shows);
    }
}

/// The grades grouped by `key` (a student, an exercise), the groups in the order the file first
/// names them.
fn in_file_order<'a, 'g>(
    graded: &'g [Graded<'a>],
    key: impl Fn(&Graded<'a>) -> &'a String,
) -> Vec<(&'a str, Vec<&'g Graded<'a>>)> {
    let mut groups: Vec<(&str, Vec<&Graded>)> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for g in graded {
        let k = key(g).as_str();
        let i = *index.entry(k).or_insert_with(|| {
            groups.push((k, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(g);
    }
    groups
}

fn wrong_text(g: &Graded) -> String {
    let said = sim::scenario::error::printable(g.answer.answer.trim());
    match &g.unreadable {
        Some(why) => format!("{} (unreadable: {})", g.answer.exercise, sim::scenario::error::printable(why)),
        None => format!("{} (said {said}; the run shows {})", g.answer.exercise, g.shows),
    }
}

fn grades_csv(graded: &[Graded]) -> String {
    let mut out = String::from("student,exercise,answer,grade,run_shows\n");
    for g in graded {
        let grade = match (&g.unreadable, g.right) {
            (Some(_), _) => "unreadable",
            (None, true) => "right",
            (None, false) => "wrong",
        };
        let a = g.answer;
        let fields = [a.student.as_str(), a.exercise.as_str(), a.answer.as_str(), grade, g.shows.as_str()];
        out.push_str(&fields.map(csv_field).join(","));
        out.push('\n');
    }
    out
}

/// Whether `a` and `b` name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}
