//! Killing a job at seeded random moments: shared by the crash tests over
//! files (tests/recovery.rs) and over Kafka (tests/kafka_crash.rs); each
//! uses part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A small deterministic generator (xorshift64*), so that a failing seed
/// can be run again.
pub struct Rng(pub u64);

impl Rng {
    /// A generator for `seed`.
    pub fn seeded(seed: u64) -> Self {
        Rng(0x9E37_79B9_7F4A_7C15 ^ seed)
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// `eddy -f script`, stdout discarded.
pub fn eddy(script: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_eddy"));
    cmd.arg("-f")
        .arg(script)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// How a run that was to be killed went.
pub struct Killed {
    /// It was still running when killed (else it had finished).
    pub killed: bool,
    /// It had restored a checkpoint.
    pub restored: bool,
}

/// Starts the script and kills it with SIGKILL after `after`.
pub fn run_and_kill(script: &Path, after: Duration) -> Result<Killed, String> {
    run_and_kill_when(script, |elapsed| elapsed >= after)
}

/// Starts the script and kills it with SIGKILL once a checkpoint of its
/// job under `dir` (the job's `execution.checkpointing.dir`) is complete,
/// or after `limit`: a restore from it then surely has something to do.
pub fn run_and_kill_after_checkpoint(
    script: &Path,
    dir: &Path,
    limit: Duration,
) -> Result<Killed, String> {
    let complete = || {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|job| {
                std::fs::read_dir(job.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|chk| chk.path().join("_metadata").is_file())
            })
    };
    run_and_kill_when(script, |elapsed| elapsed >= limit || complete())
}

/// Starts the script and kills it with SIGKILL once `kill(elapsed)` says so.
fn run_and_kill_when(script: &Path, kill: impl Fn(Duration) -> bool) -> Result<Killed, String> {
    let log = script.with_extension("stderr");
    let file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let mut child = eddy(script)
        .stderr(file)
        .spawn()
        .map_err(|e| format!("starting eddy: {e}"))?;
    let start = Instant::now();
    let mut killed = true;
    while !kill(start.elapsed()) {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            killed = false;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if killed {
        child.kill().map_err(|e| format!("SIGKILL: {e}"))?;
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    if !killed && (!status.success() || stderr.contains("[ERROR]")) {
        return Err(format!("eddy failed:\n{stderr}"));
    }
    Ok(Killed {
        killed,
        restored: stderr.contains("restored from"),
    })
}

/// Runs the script to its end; its stderr, or why it failed.
pub fn run_to_end(script: &Path) -> Result<String, String> {
    let out = eddy(script)
        .output()
        .map_err(|e| format!("starting eddy: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if out.status.success() && !stderr.contains("[ERROR]") {
        Ok(stderr)
    } else {
        Err(format!("eddy failed:\n{stderr}"))
    }
}

/// Kills the script `kills` times at moments drawn from `rng` between a
/// third of `span` (the time of an uninterrupted run, whose start is mostly
/// getting ready) and `span` into a run, then runs it to its end. A run that
/// finishes before its kill is the last: running the job again would start
/// it afresh (a finished job's checkpoints are gone) and hide what the
/// restored run committed. Returns how many kills hit a running job and
/// how many runs restored a checkpoint.
pub fn crash_and_finish(
    script: &Path,
    rng: &mut Rng,
    kills: usize,
    span: Duration,
) -> Result<(usize, usize), String> {
    let (mut killed, mut restored) = (0, 0);
    for _ in 0..kills {
        let third = span.as_millis() as u64 / 3;
        let at = Duration::from_millis(third + rng.below(2 * third));
        let run = run_and_kill(script, at)?;
        restored += usize::from(run.restored);
        if !run.killed {
            return Ok((killed, restored));
        }
        killed += 1;
    }
    let stderr = run_to_end(script)?;
    restored += usize::from(stderr.contains("restored from"));
    Ok((killed, restored))
}

/// The committed output under `dir`: lines of its visible files, sorted.
pub fn committed(dir: &Path) -> Vec<String> {
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
