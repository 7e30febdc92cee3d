//! Crash tests: a job that checkpoints is killed with SIGKILL at seeded
//! random moments, started again with the same script, and must end with
//! exactly the committed output of a run that was never interrupted — no
//! row lost, none twice.
//!
//! Each case writes its input files, runs the script once without
//! interruption, then for each seed runs it killed several times and once
//! to the end, and compares the committed part files (sorted lines; the
//! hidden in-progress files are not output).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A small deterministic generator (xorshift64*), so that a failing seed
/// can be run again.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-recovery-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The script of a case with its directories filled in.
fn script(dir: &Path, body: &str, out: &str) -> PathBuf {
    let text = format!(
        "SET 'execution.checkpointing.interval' = '100 ms';\n\
         SET 'execution.checkpointing.dir' = '{}';\n{}",
        dir.join(format!("chk-{out}")).display(),
        body.replace("$DATA", &dir.join("data").display().to_string())
            .replace("$OUT", &dir.join(out).display().to_string())
    );
    let path = dir.join(format!("{out}.sql"));
    std::fs::write(&path, text).expect("script");
    path
}

fn eddy(script: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_eddy"));
    cmd.arg("-f")
        .arg(script)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Runs the script to its end; fails the test if it fails.
fn run_to_end(script: &Path) -> String {
    let out = eddy(script).output().expect("eddy runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "eddy failed:\n{stderr}");
    assert!(!stderr.contains("[ERROR]"), "eddy failed:\n{stderr}");
    stderr
}

/// Starts the script and kills it with SIGKILL after `after`; returns
/// whether it was still running (it may have finished).
fn run_and_kill(script: &Path, after: Duration) -> bool {
    let mut child = eddy(script)
        .stderr(Stdio::null())
        .spawn()
        .expect("eddy starts");
    let start = Instant::now();
    while start.elapsed() < after {
        if child.try_wait().expect("wait").is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    true
}

/// The committed output under `dir`: lines of its visible files, sorted.
fn committed(dir: &Path) -> Vec<String> {
    let mut lines = vec![];
    for e in std::fs::read_dir(dir).expect("output dir").flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).expect("part file");
        lines.extend(text.lines().map(str::to_string));
    }
    lines.sort();
    lines
}

/// Runs `body` uninterrupted, then killed `kills` times per seed, and
/// compares the committed outputs.
fn crash_case(name: &str, body: &str, write_input: impl Fn(&Path)) {
    let dir = scratch(name);
    std::fs::create_dir_all(dir.join("data")).expect("data dir");
    write_input(&dir.join("data"));

    let clean_script = script(&dir, body, "clean");
    let started = Instant::now();
    run_to_end(&clean_script);
    let clean_time = started.elapsed();
    let expected = committed(&dir.join("clean"));
    assert!(!expected.is_empty(), "the uninterrupted run wrote nothing");

    let mut restores = 0;
    for seed in [1u64, 2, 3] {
        let out = format!("crashed-{seed}");
        let crash_script = script(&dir, body, &out);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
        let mut killed = 0;
        for _ in 0..3 {
            // Anywhere from the start to well into the run.
            let at = Duration::from_millis(50 + rng.below(clean_time.as_millis().max(100) as u64));
            if run_and_kill(&crash_script, at) {
                killed += 1;
            }
        }
        let stderr = run_to_end(&crash_script);
        if stderr.contains("restored from") {
            restores += 1;
        }
        let got = committed(&dir.join(&out));
        assert_eq!(
            got.len(),
            expected.len(),
            "seed {seed} ({killed} kills): {} rows committed, the uninterrupted run {}",
            got.len(),
            expected.len()
        );
        assert!(
            got == expected,
            "seed {seed} ({killed} kills): the committed rows differ"
        );
    }
    // Kills that all landed before the first checkpoint would test nothing.
    assert!(restores > 0, "no run was restored from a checkpoint");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `rows` clicks by 40 users, 10 ms apart in event time.
fn write_clicks(dir: &Path, files: usize, rows: usize) {
    let mut rng = Rng(42);
    for f in 0..files {
        let mut text = String::with_capacity(rows * 24);
        for i in 0..rows {
            let user = rng.below(40);
            text.push_str(&format!(
                "u{user},{}\n",
                1_700_000_000_000u64 + (i as u64) * 10
            ));
        }
        std::fs::write(dir.join(format!("clicks-{f}.csv")), text).expect("input");
    }
}

#[test]
fn a_window_aggregate_survives_being_killed() {
    crash_case(
        "window",
        "CREATE TABLE clicks (u STRING, ts_ms BIGINT, ts AS TO_TIMESTAMP_LTZ(ts_ms, 3), \
           WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) \
           WITH ('connector' = 'filesystem', 'path' = '$DATA', 'format' = 'csv');\n\
         CREATE TABLE out (u STRING, w TIMESTAMP(3), c BIGINT) \
           WITH ('connector' = 'filesystem', 'path' = '$OUT', 'format' = 'csv');\n\
         INSERT INTO out SELECT u, window_start, COUNT(*) \
           FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
           GROUP BY u, window_start, window_end;\n",
        |dir| write_clicks(dir, 2, 400_000),
    );
}

#[test]
fn a_join_survives_being_killed() {
    crash_case(
        "join",
        "CREATE TABLE clicks (u STRING, ts_ms BIGINT) \
           WITH ('connector' = 'filesystem', 'path' = '$DATA', 'format' = 'csv', \
                 'source.path.regex-pattern' = '.*clicks-.*');\n\
         CREATE TABLE users (id STRING, name STRING) \
           WITH ('connector' = 'filesystem', 'path' = '$DATA', 'format' = 'csv', \
                 'source.path.regex-pattern' = '.*users.*');\n\
         CREATE TABLE out (name STRING, ts_ms BIGINT) \
           WITH ('connector' = 'filesystem', 'path' = '$OUT', 'format' = 'csv');\n\
         INSERT INTO out SELECT users.name, clicks.ts_ms FROM clicks JOIN users ON clicks.u = users.id;\n",
        |dir| {
            write_clicks(dir, 1, 600_000);
            let users: String = (0..40).map(|u| format!("u{u},user number {u}\n")).collect();
            std::fs::write(dir.join("users.csv"), users).expect("users");
        },
    );
}
