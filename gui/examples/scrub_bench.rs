//! Scrubbing and per-frame costs on a recording of about a million kernel events.
//!
//!     cargo run --release -p gui --example scrub_bench [-- <virtual seconds>]
//!
//! Prints: recording time, scrub latency to random moments (restore the nearest
//! snapshot, step forward), small forward moves as during playback, and the time to build a
//! frame's view models. Wall-clock time is read here, in a benchmark, never in the workbench's
//! models. It prints; it asserts nothing about durations.
//!
//!     cargo run --release -p gui --example scrub_bench -- memory [<virtual seconds>...]
//!
//!     cargo run --release -p gui --example scrub_bench -- memory-upsert [<virtual seconds>...]
//!
//! The same with an idempotent (upsert) sink, whose store keeps an index entry per key and window
//! ever written: today's recording (the index shared between snapshots, `SharedMap`) against
//! snapshots that copy the index whole (the recording before that), each in its own process.
//!
//!     cargo run --release -p gui --example scrub_bench -- frames-while-recording [<virtual seconds>]
//!
//! Whole UI frames (egui_kittest, no GPU) while the workbench loads a run of that length (default
//! 150 s, about 10 M kernel events) on its worker thread: before, the window froze for the whole
//! recording; now it draws the progress bar (and the previous run, on a re-run) meanwhile.
//!
//! Recording memory at scale: for each length (default 15, 57 and 150 virtual seconds, about 1 M,
//! 4 M and 10 M kernel events) records the run once with shared snapshots (today's recording) and,
//! up to 60 s, once with deep-copied snapshots (the recording before structural sharing), each in
//! its own child process so that each peak RSS (`VmHWM`) is its own; prints recording time, peak
//! RSS, scrub p50/p95 over 200 random moments and the ratios old / new.

use engine::graph::SubtaskId;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gui::scrub::{RecordedRun, RunRecorder, SnapshotCopy};
use gui::view::Frame;
use sim::Scenario;

/// A keyed-window job over three task managers with checkpoints: what the workbench shows,
/// scaled up (about 70 000 kernel events per virtual second).
fn scenario_text(seconds: u64) -> String {
    scenario_text_with(seconds, "TwoPhaseCommit")
}

/// The benchmark scenario with another sink kind.
fn scenario_text_with(seconds: u64, sink: &str) -> String {
    format!(
        r#"Scenario(
    name: "scrub benchmark",
    duration_ms: {ms},
    cluster: (task_managers: 3, slots_per_task_manager: 4),
    network: (latency: Uniform(min_ms: 1, max_ms: 4)),
    source: Generator((partitions: 8, rate_per_s: 20_000, keys: 1_000, value: Uniform(min: 1, max: 100),
                       disorder: (delay: Exponential(mean_ms: 50)))),
    watermarks: BoundedOutOfOrderness(bound_ms: 200, emit: Periodic(interval_ms: 200)),
    pipeline: [
        Source(name: "source", parallelism: 4, cost_us: 1),
        KeyBy(Key),
        Window(name: "window", kind: Tumbling(size_ms: 1_000), aggregate: Sum, parallelism: 4, cost_us: 2),
        Sink(name: "sink", kind: {sink}, parallelism: 2, cost_us: 1),
    ],
    checkpoints: Some((interval_ms: 1_000, mode: ExactlyOnce)),
    track_lineage: false,
)"#,
        ms = seconds * 1000
    )
}

/// A small deterministic generator for the sample points (xorshift64*).
struct Points(u64);
impl Points {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) % n.max(1)
    }
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    format!(
        "n={:<4} p50 {:>9.3} ms   p95 {:>9.3} ms   max {:>9.3} ms",
        samples.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.95).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("memory") => return memory(&args[1..], false),
        Some("memory-upsert") => return memory(&args[1..], true),
        Some("child") => return child(&args[1..]),
        Some("frames-while-recording") => {
            return frames_while_recording(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(150));
        }
        _ => {}
    }
    let seconds: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(15);
    let scenario = Arc::new(Scenario::parse(&scenario_text(seconds), "(scrub benchmark)").expect("valid"));
    let start = Instant::now();
    let mut run = RecordedRun::record(scenario, 1);
    let record_s = start.elapsed().as_secs_f64();
    let end = run.end_ns;
    println!(
        "recording: {} virtual s, {} kernel events, {} trace events, {} snapshots (every {} events), {:.2} s wall",
        seconds,
        run.final_world.events_processed,
        run.trace.len(),
        run.snapshot_count(),
        gui::scrub::SNAPSHOT_EVERY_EVENTS,
        record_s
    );
    assert_eq!(gui::scrub::trace_hash(&run.trace), run.final_world.recorder.hash(), "every event traced once");

    let mut points = Points(0x5eed);
    let sends = run.sends.clone();

    // Random jumps: each restores a snapshot (or reuses the cached world) and steps forward.
    let mut scrub = Vec::new();
    let mut frames = Vec::new();
    for _ in 0..300 {
        let t = points.below(end + 1);
        let start = Instant::now();
        let world = run.world_at(t);
        scrub.push(start.elapsed());
        let start = Instant::now();
        let frame = Frame::build(world, &sends, t, Some(SubtaskId::from_raw(5)), true);
        frames.push(start.elapsed());
        std::hint::black_box(frame);
    }
    println!("scrub to a random moment          : {}", percentiles(scrub));
    println!("view models at that moment        : {}", percentiles(frames));

    // Playback: 60 frames per second at 0.1 s of virtual time per second (1.67 ms per frame),
    // then at 1 s per second (16.7 ms per frame), from a few starting points.
    for (label, step_ns) in
        [("playback at 0.1 s/s, per frame     ", 1_666_667u64), ("playback at 1 s/s, per frame       ", 16_666_667)]
    {
        let mut step = Vec::new();
        let mut frames = Vec::new();
        for _ in 0..5 {
            let mut t = points.below(end.saturating_sub(step_ns * 60));
            run.world_at(t);
            for _ in 0..60 {
                t += step_ns;
                let start = Instant::now();
                let world = run.world_at(t);
                step.push(start.elapsed());
                let start = Instant::now();
                std::hint::black_box(Frame::build(world, &sends, t, Some(SubtaskId::from_raw(5)), true));
                frames.push(start.elapsed());
            }
        }
        println!("{label}: world {}", percentiles(step));
        println!("{label}: views {}", percentiles(frames));
    }
    println!("restores {}, events stepped {}", run.stats.restores, run.stats.events_stepped);

    whole_frames(seconds, &mut points);
}

/// Whole frames of the real workbench UI (egui layout and tessellation through egui_kittest, no
/// GPU): playing at 1 s/s, and jumping to random moments. This is the frame CPU time the
/// workbench needs, minus the GPU upload.
fn whole_frames(seconds: u64, points: &mut Points) {
    use gui::app::{App, ScenarioSource};
    let path = std::env::temp_dir().join(format!("streamlab-frame-bench-{}.ron", std::process::id()));
    std::fs::write(&path, scenario_text(seconds)).expect("temp file");
    let mut harness = egui_kittest::Harness::builder().with_size(egui::vec2(1400.0, 900.0)).build_ui_state(
        |ui, app: &mut App| app.workbench_ui(ui),
        App::new_headless(ScenarioSource::File(path.clone()), None),
    );
    harness.run_steps(2);
    let end = harness.state().session.as_ref().map_or(0, |s| s.run().end_ns);
    let mut playing = Vec::new();
    harness.state_mut().time.speed = 3; // 1 s per second
    harness.state_mut().time.playing = true;
    for _ in 0..300 {
        let start = Instant::now();
        harness.step();
        playing.push(start.elapsed());
    }
    harness.state_mut().time.playing = false;
    let mut jumping = Vec::new();
    for _ in 0..100 {
        harness.state_mut().time.cursor_ns = points.below(end + 1);
        let start = Instant::now();
        harness.step();
        jumping.push(start.elapsed());
    }
    // The timeline zoomed to a quarter of the run: a lane per subtask, read off the trace each
    // frame (at most `LANE_EVENT_BUDGET` events), against the frames above in the same run.
    harness.state_mut().timeline.window = Some(gui::view::timeline::TimeWindow { start_ns: end / 4, end_ns: end / 2 });
    let mut zoomed = Vec::new();
    for _ in 0..100 {
        harness.state_mut().time.cursor_ns = end / 4 + points.below(end / 4 + 1);
        let start = Instant::now();
        harness.step();
        zoomed.push(start.elapsed());
    }
    println!("whole UI frame while playing      : {}", percentiles(playing));
    println!("whole UI frame after a random jump: {}", percentiles(jumping));
    println!("same, timeline zoomed (with lanes): {}", percentiles(zoomed));
    let _ = std::fs::remove_file(&path);
}

/// The peak resident set of this process in MiB (Linux; None elsewhere).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// One measurement in this process: `child <shared|deep|copy-upserts> <seconds> [<sink kind>]`.
/// Prints one `RESULT` line.
fn child(args: &[String]) {
    let mode = args.first().map(String::as_str).unwrap_or("shared");
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(15);
    let sink = args.get(2).map_or("TwoPhaseCommit", String::as_str);
    let text = scenario_text_with(seconds, sink);
    let scenario = Arc::new(Scenario::parse(&text, "(scrub benchmark)").expect("valid"));
    let base = peak_rss_mib().unwrap_or(0.0);
    let start = Instant::now();
    let mut run = record_in_mode(scenario, mode);
    let record_s = start.elapsed().as_secs_f64();
    let rss = peak_rss_mib().unwrap_or(f64::NAN);
    assert_eq!(gui::scrub::trace_hash(&run.trace), run.final_world.recorder.hash(), "every event traced once");
    let end = run.end_ns;
    let mut points = Points(0x5eed);
    let mut scrub = Vec::new();
    for _ in 0..200 {
        let t = points.below(end + 1);
        let start = Instant::now();
        std::hint::black_box(run.world_at(t));
        scrub.push(start.elapsed());
    }
    scrub.sort();
    let at = |p: f64| scrub[((scrub.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
    println!(
        "RESULT {mode} {seconds} {} {} {} {record_s:.2} {rss:.0} {base:.0} {:.3} {:.3}",
        run.final_world.events_processed,
        run.trace.len(),
        run.snapshot_count(),
        at(0.5),
        at(0.95)
    );
}

/// Today's recording, or (`deep`) the one before snapshots shared their append-only stores.
fn record_in_mode(scenario: Arc<Scenario>, mode: &str) -> RecordedRun {
    let copy = match mode {
        "deep" => SnapshotCopy::Deep,
        "copy-upserts" => SnapshotCopy::CopyUpserts,
        _ => SnapshotCopy::Shared,
    };
    RunRecorder::original(scenario, 1).copying(copy).finish()
}

/// Runs `child` for each length and mode in its own process and prints a table with ratios
/// (`upsert`: an idempotent sink, today's shared index against copying it per snapshot).
fn memory(args: &[String], upsert: bool) {
    let lengths: Vec<u64> =
        if args.is_empty() { vec![15, 57, 150] } else { args.iter().filter_map(|a| a.parse().ok()).collect() };
    let exe = std::env::current_exe().expect("own path");
    println!(
        "{:>12} {:>6} {:>11} {:>11} {:>6} {:>9} {:>10} {:>9} {:>9}",
        "mode", "virt s", "kernel ev", "trace ev", "snaps", "record s", "peak MiB", "scrub p50", "scrub p95"
    );
    for seconds in lengths {
        let mut results: Vec<Vec<String>> = Vec::new();
        // Deep copies past a minute would need several GiB (15 GiB at 10 M events): skip them.
        let modes: &[&str] = match (upsert, seconds <= 60) {
            (true, _) => &["shared", "copy-upserts"],
            (false, true) => &["shared", "deep"],
            (false, false) => &["shared"],
        };
        let sink = if upsert { "Idempotent" } else { "TwoPhaseCommit" };
        for &mode in modes {
            let out = std::process::Command::new(&exe).args(["child", mode, &seconds.to_string(), sink]).output();
            let line = out.ok().and_then(|o| {
                String::from_utf8_lossy(&o.stdout).lines().find(|l| l.starts_with("RESULT")).map(str::to_owned)
            });
            let Some(line) = line else {
                println!("{mode:>12} {seconds:>6}  (the child failed: out of memory?)");
                continue;
            };
            let f: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            println!(
                "{:>12} {:>6} {:>11} {:>11} {:>6} {:>9} {:>10} {:>9} {:>9}",
                f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[9], f[10]
            );
            results.push(f);
        }
        if let [new, old] = &results[..] {
            let ratio =
                |i: usize| old[i].parse::<f64>().unwrap_or(f64::NAN) / new[i].parse::<f64>().unwrap_or(f64::NAN);
            println!(
                "  old/new at {seconds} s: peak RSS x{:.2}, recording time x{:.2}, scrub p95 x{:.2}",
                ratio(7),
                ratio(6),
                ratio(10)
            );
        }
    }
}

/// Frames drawn while a long run records on the worker thread: load a small run first, then
/// re-run the long one, so that frames draw a real workbench (the previous run) meanwhile.
fn frames_while_recording(seconds: u64) {
    use gui::app::{Action, App, ScenarioSource};
    let dir = std::env::temp_dir();
    let small = dir.join(format!("streamlab-frames-small-{}.ron", std::process::id()));
    let big = dir.join(format!("streamlab-frames-big-{}.ron", std::process::id()));
    std::fs::write(&small, scenario_text(2)).expect("temp file");
    std::fs::write(&big, scenario_text(seconds)).expect("temp file");
    let app = App::with_driver(ScenarioSource::File(small.clone()), None, gui::recording::Driver::Thread, false);
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, app: &mut App| app.workbench_ui(ui), app);
    while harness.state().pending.is_some() {
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.state_mut().time.playing = true;
    let start = Instant::now();
    harness.state_mut().apply(Action::Load(ScenarioSource::File(big.clone())));
    let mut frames = Vec::new();
    while harness.state().pending.is_some() {
        let t = Instant::now();
        harness.step();
        frames.push(t.elapsed());
        // A display's frame pacing: the rest of 16.7 ms is idle.
        std::thread::sleep(Duration::from_micros(16_667).saturating_sub(t.elapsed()));
    }
    let recorded_s = start.elapsed().as_secs_f64();
    let events = harness.state().session.as_ref().map_or(0, |s| s.run().final_world.events_processed);
    println!("recording {seconds} virtual s ({events} kernel events) on the worker: {recorded_s:.2} s wall");
    println!("whole UI frames meanwhile (playing the previous run): {}", percentiles(frames));
    let _ = std::fs::remove_file(&small);
    let _ = std::fs::remove_file(&big);
}
