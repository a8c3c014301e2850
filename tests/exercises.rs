//! Every exercise of the course (`book/exercises/*.ron`) loads, its scenario runs to the end
//! without breaking an invariant, `check` calls the answer computed from the run right and a
//! deliberately wrong answer wrong; every chapter has at least 4 exercises; bad exercise files
//! get located errors; the CLI's exit codes (0 right, 1 wrong, 2 unreadable answer).

use std::path::Path;
use std::process::Command;

use sim::exercise::{Course, Exercise};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn course() -> Course {
    Course::load(&root().join("book/exercises"), root()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_chapter_has_four_exercises_and_every_page_exists() {
    let course = course();
    assert!(course.chapters.len() >= 10, "{} chapters", course.chapters.len());
    let total: usize = course.chapters.iter().map(|c| c.exercises.len()).sum();
    let plan = std::fs::read_to_string(root().join("book/src/course.md")).expect("course.md");
    assert!(
        plan.contains(&format!("{total} exercises in all")),
        "book/src/course.md must say {total} exercises in all"
    );
    for c in &course.chapters {
        assert!(c.exercises.len() >= 4, "{}: {} exercises", c.file, c.exercises.len());
        assert!(root().join("book/src").join(&c.page).is_file(), "{}: no page book/src/{}", c.file, c.page);
        let summary = std::fs::read_to_string(root().join("book/src/SUMMARY.md")).expect("SUMMARY.md");
        assert!(summary.contains(&format!("({})", c.page)), "{} is not in SUMMARY.md", c.page);
    }
}

/// Grade the reference and a wrong answer of one solved exercise; an error message or None.
fn check(e: &Exercise, solution: sim::exercise::Solution) -> Option<String> {
    let id = &e.spec.id;
    if let Some(why) = &solution.unfinished {
        return Some(format!("{id}: {why}"));
    }
    if solution.violations > 0 {
        return Some(format!("{id}: {} invariant violations", solution.violations));
    }
    if matches!(solution.truth, sim::exercise::Truth::Seeds(ref s) if s.is_empty()) {
        return Some(format!("{id}: no seed of the range has the outcome: the exercise has no answer"));
    }
    let reference = e.reference_answer(&solution);
    match e.grade(&solution, &reference) {
        Ok(g) if g.right => {}
        Ok(g) => return Some(format!("{id}: the reference answer {reference} graded wrong ({})", g.actual)),
        Err(b) => return Some(format!("{id}: the reference answer {reference} cannot be read: {b}")),
    }
    let wrong = e.wrong_answer(&solution);
    match e.grade(&solution, &wrong) {
        Ok(g) if !g.right => {
            if !g.command.contains(&e.spec.scenario) || g.why.is_empty() {
                return Some(format!("{id}: a wrong grade must name the command and say why: {g:?}"));
            }
        }
        Ok(_) => return Some(format!("{id}: the wrong answer {wrong} graded right (reference {reference})")),
        Err(b) => return Some(format!("{id}: the wrong answer {wrong} cannot be read: {b}")),
    }
    None
}

#[test]
fn every_exercise_runs_and_grades_its_answer_right_and_a_wrong_one_wrong() {
    let course = course();
    let all: Vec<&Exercise> = course.exercises().collect();
    assert!(all.len() >= 44, "{} exercises", all.len());
    // Exercises that read the same run share it (`run_key`): one job per run, not per exercise.
    let mut groups: std::collections::BTreeMap<String, Vec<&Exercise>> = std::collections::BTreeMap::new();
    for e in &all {
        groups.entry(e.run_key().unwrap_or_else(|| format!("own run {}", e.spec.id))).or_default().push(e);
    }
    // The slowest jobs (a whole `compare`, a seed search) first, so the threads end together.
    let mut exercises: Vec<Vec<&Exercise>> = groups.into_values().collect();
    exercises.sort_by_key(|g| g[0].run_key().is_some());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
    let failures: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut failures = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(group) = exercises.get(i) else { break };
                        // The same solutions as `solve` gives, from one run for the group.
                        let observed = group[0].run_key().map(|_| group[0].observe(group[0].seed()));
                        for e in group {
                            let solution = match &observed {
                                Some(o) => e.solve_from(o),
                                None => e.solve(),
                            };
                            failures.extend(check(e, solution));
                        }
                    }
                    failures
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("worker")).collect()
    });
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn chapter_error(text: &str) -> String {
    let mut ids = std::collections::BTreeSet::new();
    match sim::exercise::parse_chapter(text, "bad.ron", "bad", root(), &mut ids) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const GOOD: &str = r#"Chapter(
    week: 1,
    title: "T",
    page: "introduction.md",
    exercises: [
        (
            id: "x-1",
            scenario: "scenarios/streaming-systems-perfect.ron",
            question: "Q",
            query: Count(VisibleRows),
            why: "W",
        ),
    ],
)"#;

#[test]
fn bad_exercise_files_get_located_errors() {
    let mut ids = std::collections::BTreeSet::new();
    sim::exercise::parse_chapter(GOOD, "good.ron", "good", root(), &mut ids).expect("the good file loads");
    let cases = [
        ("Count(VisibleRows)", "Count(Rows)", "bad.ron:10:26: exercises[0].query.Count"),
        ("streaming-systems-perfect.ron", "no-such.ron", "bad.ron:8:23: exercises[0].scenario"),
        (
            "Count(VisibleRows)",
            "FireTime(key: \"nobody\", start: 0)",
            "bad.ron:10:20: exercises[0].query: the scenario has no key `nobody`",
        ),
        (
            "Count(VisibleRows)",
            "FindSeed(from: 5, to: 500, outcome: Exact)",
            "bad.ron:10:20: exercises[0].query: a seed range",
        ),
        ("Count(VisibleRows)", "Count(StormTimeouts)", "exercises[0].query: a Storm metric"),
        ("why: \"W\",", "why: \"W\", hint: 3,", "bad.ron:11:23: exercises[0]"),
        ("id: \"x-1\"", "id: \"x 1\"", "bad.ron:7:17: exercises[0].id"),
        ("Count(VisibleRows)", "Count(SparkBatches)", "bad.ron:10:20: exercises[0].query: a Spark metric needs"),
        ("Count(VisibleRows)", "Count(InputsBlocked)", "exercises[0].query: only `compare --checkpoint-mode` shows"),
        (
            "query: Count(VisibleRows)",
            "checkpoint_mode: Aligned, query: Count(VisibleRows)",
            "exercises[0].query: `compare --checkpoint-mode` does not show this",
        ),
        (
            "query: Count(VisibleRows)",
            "checkpoint_mode: Aligned, guarantee: AtLeastOnce, query: Outcome",
            "exercises[0].checkpoint_mode: a checkpoint mode runs exactly-once with the scenario's own sink",
        ),
        ("query: Count(VisibleRows)", "checkpoint_mode: Blocking, query: Outcome", "exercises[0].checkpoint_mode"),
        // Texts are printed as written: no terminal escapes, no forged lines.
        (
            "question: \"Q\"",
            "question: \"Q\\u{1b}[2J\"",
            "bad.ron:9:23: exercises[0].question: text cannot contain control",
        ),
        ("why: \"W\"", "why: \"W\\nFAKE\"", "bad.ron:11:18: exercises[0].why: text cannot contain control"),
        ("title: \"T\"", "title: \"T\\r\"", "bad.ron:3:12: title: text cannot contain control"),
    ];
    for (from, to, want) in cases {
        let text = GOOD.replace(from, to);
        let got = chapter_error(&text);
        assert!(got.starts_with(want) || got.contains(want), "for {to}: got {got}, want {want}");
    }
    // Spark and Kafka Streams scenarios load, and run under their own model: their counters are
    // asked of them, a variant must be one of their `compare` rows, and a barrier rule is Flink's.
    let spark = GOOD.replace("streaming-systems-perfect.ron", "spark-micro-batch.ron");
    let kstreams = GOOD.replace("streaming-systems-perfect.ron", "kafka-streams-failover.ron");
    for (chapter, query) in [
        (&spark, "Count(SparkBatchesRerun)"),
        (&spark, "Count(SparkTaskRetries)"),
        (&kstreams, "Count(KStreamsRestoredRecords)"),
        (&kstreams, "Count(KStreamsAbortedTransactions)"),
    ] {
        let text = chapter.replace("Count(VisibleRows)", query);
        sim::exercise::parse_chapter(&text, "ok.ron", "ok", root(), &mut std::collections::BTreeSet::new())
            .unwrap_or_else(|e| panic!("{query}: {e}"));
    }
    for (chapter, from, to, want) in [
        (&spark, "Count(VisibleRows)", "Count(StormTimeouts)", "exercises[0].query: a Storm metric needs"),
        (&spark, "Count(VisibleRows)", "Count(KStreamsRestoredRecords)", "a Kafka Streams metric needs"),
        (&kstreams, "Count(VisibleRows)", "Count(SparkBatches)", "a Spark metric needs"),
        (&kstreams, "Count(VisibleRows)", "Count(SourceReads)", "Kafka Streams counts no source reads"),
        (
            &spark,
            "query: Count(VisibleRows)",
            "checkpoint_mode: ChandyLamport, query: Outcome",
            "exercises[0].checkpoint_mode: a checkpoint mode is a Flink job's barrier rule: this scenario's model is Spark",
        ),
        (
            &spark,
            "query: Count(VisibleRows)",
            "guarantee: ExactlyOnce, sink: Plain, query: Outcome",
            "exercises[0].guarantee: Spark has no `compare` row exactly-once with a plain sink",
        ),
        (
            &kstreams,
            "query: Count(VisibleRows)",
            "guarantee: AtMostOnce, query: Outcome",
            "exercises[0].guarantee: Kafka Streams has no `compare` row at-most-once",
        ),
        (&kstreams, "query: Count(VisibleRows)", "sink: Plain, query: Outcome", "exercises[0].sink: Kafka Streams: name the guarantee"),
        (
            &kstreams,
            "query: Count(VisibleRows)",
            "guarantee: ExactlyOnce, query: Count(KStreamsAbortedTransactions)",
            "exercises[0].query: `compare` does not show this counter",
        ),
    ] {
        let got = chapter_error(&chapter.replace(from, to));
        assert!(got.starts_with("bad.ron:") && got.contains(want), "for {to}: got {got}, want {want}");
    }
    // A question about windows cannot change the guarantee (the rows come from `run`).
    let got = chapter_error(
        &GOOD.replace("query: Count(VisibleRows)", "guarantee: AtLeastOnce, query: LateWindows(key: None)"),
    );
    assert!(got.contains("exercises[0].query") && got.contains("cannot change the guarantee"), "{got}");
    // Loading admits the scenario's `run`; what the query runs is admitted too: `compare` for a
    // question about its rows, a seed's check for a seed search (as `sweep` is, per seed).
    let heavy =
        GOOD.replace("scenarios/streaming-systems-perfect.ron", "tests/hostile/fresh/compare-over-the-budget.ron");
    sim::exercise::parse_chapter(&heavy, "heavy.ron", "heavy", root(), &mut std::collections::BTreeSet::new())
        .expect("its `run` is admitted");
    for (query, command) in [
        ("Variants(Loss)", "`compare` would need"),
        ("FindSeed(from: 1, to: 3, outcome: Exact)", "`sweep (per seed)` would need"),
    ] {
        let got = chapter_error(&heavy.replace("Count(VisibleRows)", query));
        assert!(got.starts_with("bad.ron:10:20: exercises[0].query: ") && got.contains(command), "{query}: {got}");
        // Without the budget (`--no-budget`) it loads.
        let text = heavy.replace("Count(VisibleRows)", query);
        let mut ids = std::collections::BTreeSet::new();
        sim::exercise::parse_chapter_with(&text, "bad.ron", "bad", root(), &mut ids, sim::scenario::Budget::Off)
            .unwrap_or_else(|e| panic!("{query} without the budget: {e}"));
    }
    // Ids are unique over the course.
    let mut ids = std::collections::BTreeSet::from(["x-1".to_string()]);
    let got = sim::exercise::parse_chapter(GOOD, "b.ron", "b", root(), &mut ids).expect_err("duplicate id").to_string();
    assert!(got.starts_with("b.ron:7:17: exercises[0].id") && got.contains("already"), "{got}");
}

fn streamlab(args: &[&str]) -> (i32, String, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_streamlab")).args(args).current_dir(root()).output().expect("run streamlab");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_grades_with_exit_codes() {
    let (code, out, _) = streamlab(&["exercise", "check", "et-1", "12:08:39"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("right: 12:08:39"), "{out}");
    let (code, out, _) = streamlab(&["exercise", "check", "et-1", "12:08:40"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("wrong: you said 12:08:40; the run shows 12:08:39"), "{out}");
    assert!(
        out.contains("see it: cargo run --release -- run scenarios/streaming-systems-perfect.ron --seed 42"),
        "{out}"
    );
    let (code, _, err) = streamlab(&["exercise", "check", "et-1", "soon"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a time"), "{err}");
    let (code, _, err) = streamlab(&["exercise", "show", "no-such"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, _) = streamlab(&["exercise", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("week 10"), "{out}");
}

#[test]
fn a_number_compare_does_not_show_cannot_be_asked_of_a_variant() {
    let got =
        chapter_error(&GOOD.replace("query: Count(VisibleRows)", "guarantee: AtLeastOnce, query: Count(SourceReads)"));
    assert!(got.starts_with("bad.ron:10:44: exercises[0].query") && got.contains("`compare` does not show"), "{got}");
}

/// Where to look names a `compare` row as the table prints it (runtime, guarantee, sink), not by
/// the short code a set answer is written in ("the row alo" is in no output).
#[test]
fn where_to_look_names_the_row_as_compare_prints_it() {
    let course = course();
    let storm = course.find("ch-2").expect("ch-2: Storm at-most-once");
    assert!(storm.look().contains("the row `storm acking off (AMO) plain`"), "{}", storm.look());
    let flink = course.find("wb-4").expect("wb-4: at-most-once on crash-during-checkpoint.ron");
    assert!(flink.look().contains("the row `flink at-most-once plain`"), "{}", flink.look());
    // Trident's replays are counted in the answer (a batch replayed): the summary line that
    // shows them is named.
    let trident = course.find("ch-5").expect("ch-5: Trident replays");
    assert!(trident.look().contains("`trident: … (K replays)`"), "{}", trident.look());
    // A barrier rule's exercise names `compare --checkpoint-mode` and its row.
    let markers = course.find("cl-2").expect("cl-2: inputs blocked under Chandy–Lamport markers");
    assert!(markers.command(1).contains("compare scenarios/chandy-lamport.ron --checkpoint-mode all"));
    assert!(markers.look().contains("the row `chandy-lamport`, column `inputs blocked`"), "{}", markers.look());
    // A Spark variant is named in Spark's words.
    let spark = course.find("sp-3").expect("sp-3: Spark's compare rows");
    assert!(spark.command(42).contains("compare scenarios/spark-micro-batch.ron"), "{}", spark.command(42));
}

/// `--no-budget` reaches `exercise` as it does `run`, `compare` and `sweep`: a chapter whose
/// exercise asks for `compare` on a scenario over the budget is refused without it (where its
/// query is) and loads with it.
#[test]
fn no_budget_reaches_the_exercise_command() {
    let dir = std::env::temp_dir().join(format!("streamlab-no-budget-exercise-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("book/exercises")).expect("create the root");
    std::fs::copy(root().join("tests/hostile/fresh/compare-over-the-budget.ron"), dir.join("heavy.ron"))
        .expect("copy the scenario");
    let chapter = GOOD
        .replace("scenarios/streaming-systems-perfect.ron", "heavy.ron")
        .replace("Count(VisibleRows)", "Variants(Loss)");
    std::fs::write(dir.join("book/exercises/heavy.ron"), chapter).expect("write the chapter");
    let root_arg = dir.to_str().expect("UTF-8");
    let (code, _, err) = streamlab(&["exercise", "--root", root_arg, "show", "x-1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("heavy.ron:10:20: exercises[0].query") && err.contains("`compare` would need"), "{err}");
    let (code, out, err) = streamlab(&["exercise", "--root", root_arg, "--no-budget", "show", "x-1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Q"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `exercise grade`: a class's answers file (CSV as a spreadsheet saves it) graded with each
/// exercise run once — the right answers are what `exercise solve` prints, not stored here —
/// scores per student, an unreadable answer graded wrong with why, every grade in `--out`; a
/// mistake in the file names its line, column and field, and no file is replaced unasked.
#[test]
fn a_class_is_graded_from_its_answers_file() {
    let solve = |id: &str| {
        let (code, out, err) = streamlab(&["exercise", "solve", id]);
        assert_eq!(code, 0, "{err}");
        out.trim().to_string()
    };
    let (ks1, ks4) = (solve("ks-1"), solve("ks-4"));
    let wrong_count = (ks1.parse::<u64>().expect("a count") + 1).to_string();
    let dir = std::env::temp_dir().join(format!("streamlab-class-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let class = dir.join("class.csv");
    let text = format!(
        "student,exercise,answer\r\nalice,ks-1,{ks1}\r\nalice,ks-4,{ks4}\r\n\"bob, jr\",ks-1,{wrong_count}\r\n\"bob, jr\",ks-4,\"maybe, who knows\"\r\n"
    );
    std::fs::write(&class, text).unwrap();
    let grades = dir.join("grades.csv");
    let args = ["exercise", "grade", class.to_str().unwrap(), "--out", grades.to_str().unwrap()];
    let (code, out, err) = streamlab(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("graded 4 answers of 2 students to 2 exercises (each run once)"), "{out}");
    let line =
        |who: &str| out.lines().find(|l| l.starts_with(who)).unwrap_or_else(|| panic!("{who}: {out}")).to_string();
    assert!(line("alice").contains(" 2/2 "), "{out}");
    let bob = line("bob, jr");
    assert!(bob.contains(" 0/2 ") && bob.contains(&format!("ks-1 (said {wrong_count}; the run shows {ks1})")), "{bob}");
    assert!(bob.contains("ks-4 (unreadable: `maybe, who knows`"), "{bob}");
    let written = std::fs::read_to_string(&grades).unwrap();
    let expected = format!(
        "student,exercise,answer,grade,run_shows\nalice,ks-1,{ks1},right,{ks1}\nalice,ks-4,{ks4},right,{ks4}\n\"bob, jr\",ks-1,{wrong_count},wrong,{ks1}\n\"bob, jr\",ks-4,\"maybe, who knows\",unreadable,{ks4}\n"
    );
    assert_eq!(written, expected);
    // The grades file exists now: kept unless --force.
    let (code, _, err) = streamlab(&args);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already exists (use --force to replace it)"), "{err}");
    assert_eq!(std::fs::read_to_string(&grades).unwrap(), expected);
    let same = ["exercise", "grade", class.to_str().unwrap(), "--out", class.to_str().unwrap(), "--force"];
    let (code, _, err) = streamlab(&same);
    assert!(code == 2 && err.contains("that is the answers file"), "{err}");
    // Mistakes in the file: located, nothing graded.
    for (text, want) in [
        ("student,exercise,answer\nalice,ks-99,3\n", "class.csv:2:1: exercise: no exercise `ks-99`"),
        ("student,exercise,answer\nalice,ks-1,\"3\n", "class.csv:2:12: csv: a quote opened here is never closed"),
        ("student,answer\nalice,3\n", "class.csv:1:1: header: the first line must be"),
    ] {
        std::fs::write(&class, text).unwrap();
        let (code, out, err) = streamlab(&["exercise", "grade", class.to_str().unwrap()]);
        assert_eq!((code, out.as_str()), (2, ""), "{text:?}: {err}");
        assert!(err.contains(want), "{text:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
