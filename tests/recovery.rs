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
use std::time::Instant;

#[path = "support/crash.rs"]
mod crash;

use crash::{Rng, committed, crash_and_finish, run_to_end};

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

/// Runs `body` uninterrupted, then killed `kills` times per seed, and
/// compares the committed outputs.
fn crash_case(name: &str, body: &str, write_input: impl Fn(&Path)) {
    let dir = scratch(name);
    std::fs::create_dir_all(dir.join("data")).expect("data dir");
    write_input(&dir.join("data"));

    let clean_script = script(&dir, body, "clean");
    let started = Instant::now();
    run_to_end(&clean_script).expect("the uninterrupted run");
    let clean_time = started.elapsed();
    let expected = committed(&dir.join("clean"));
    assert!(!expected.is_empty(), "the uninterrupted run wrote nothing");

    let mut restores = 0;
    for seed in [1u64, 2, 3] {
        let out = format!("crashed-{seed}");
        let crash_script = script(&dir, body, &out);
        let mut rng = Rng::seeded(seed);
        // Anywhere from the start to the end of an uninterrupted run.
        let (killed, restored) =
            crash_and_finish(&crash_script, &mut rng, 3, clean_time).expect("crashed runs");
        restores += restored;
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

/// The newest complete checkpoint under a checkpoint directory.
fn complete_checkpoint(chk: &Path) -> Option<PathBuf> {
    let jobs = std::fs::read_dir(chk).ok()?;
    jobs.flatten()
        .flat_map(|job| {
            std::fs::read_dir(job.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|c| c.path())
        .filter(|c| c.join("_metadata").is_file())
        .max_by_key(|c| {
            std::fs::metadata(c.join("_metadata"))
                .and_then(|m| m.modified())
                .ok()
        })
}

/// `rows` clicks by 40 users, 10 ms apart in event time.
fn write_clicks(dir: &Path, files: usize, rows: usize) {
    let mut rng = Rng::seeded(42);
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

/// Clicks per user in 10-second tumbling windows, into part files.
const WINDOW_JOB: &str = "CREATE TABLE clicks (u STRING, ts_ms BIGINT, ts AS TO_TIMESTAMP_LTZ(ts_ms, 3), \
       WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) \
       WITH ('connector' = 'filesystem', 'path' = '$DATA', 'format' = 'csv');\n\
     CREATE TABLE out (u STRING, w TIMESTAMP(3), c BIGINT) \
       WITH ('connector' = 'filesystem', 'path' = '$OUT', 'format' = 'csv');\n\
     INSERT INTO out SELECT u, window_start, COUNT(*) \
       FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
       GROUP BY u, window_start, window_end;\n";

#[test]
fn a_window_aggregate_survives_being_killed() {
    crash_case("window", WINDOW_JOB, |dir| write_clicks(dir, 2, 400_000));
}

const JOIN_JOB: &str = "CREATE TABLE clicks (u STRING, ts_ms BIGINT) \
       WITH ('connector' = 'filesystem', 'path' = '$DATA', 'format' = 'csv', \
             'source.path.regex-pattern' = '.*clicks-.*');\n\
     CREATE TABLE users (id STRING, name STRING) \
       WITH ('connector' = 'filesystem', 'path' = '$DATA', 'format' = 'csv', \
             'source.path.regex-pattern' = '.*users.*');\n\
     CREATE TABLE out (name STRING, ts_ms BIGINT) \
       WITH ('connector' = 'filesystem', 'path' = '$OUT', 'format' = 'csv');\n\
     INSERT INTO out SELECT users.name, clicks.ts_ms FROM clicks JOIN users ON clicks.u = users.id;\n";

fn write_join_input(dir: &Path) {
    write_clicks(dir, 1, 600_000);
    let users: String = (0..40).map(|u| format!("u{u},user number {u}\n")).collect();
    std::fs::write(dir.join("users.csv"), users).expect("users");
}

#[test]
fn a_join_survives_being_killed() {
    crash_case("join", JOIN_JOB, write_join_input);
}

/// The join keeps its 600k clicks (more than a store's 16 MB in memory)
/// on disk, and each checkpoint writes only the chunks of rows the
/// previous ones lack.
#[test]
fn a_join_on_the_disk_backend_with_incremental_checkpoints_survives_being_killed() {
    let local = std::env::temp_dir().join(format!("eddy-recovery-local-{}", std::process::id()));
    let body = format!(
        "SET 'state.backend.type' = 'rocksdb';\n\
         SET 'state.backend.rocksdb.localdir' = '{}';\n\
         SET 'execution.checkpointing.incremental' = 'true';\n{JOIN_JOB}",
        local.display()
    );
    crash_case("join-disk", &body, write_join_input);
    let left: Vec<_> =
        std::fs::read_dir(&local).map_or(vec![], |d| d.flatten().map(|e| e.path()).collect());
    let _ = std::fs::remove_dir_all(&local);
    // The databases of finished runs are gone (killed runs leave theirs).
    assert!(left.len() <= 3 * 3 * 2, "{left:?}");
}

#[test]
fn a_checkpoint_of_parallelism_1_restores_at_parallelism_2() {
    let body = WINDOW_JOB;
    let dir = scratch("rescale");
    std::fs::create_dir_all(dir.join("data")).expect("data dir");
    write_clicks(&dir.join("data"), 2, 400_000);
    run_to_end(&script(&dir, body, "clean")).expect("the uninterrupted run");
    let expected = committed(&dir.join("clean"));

    // At parallelism 1, stopped by SIGKILL once a checkpoint is complete.
    let p1 = script(&dir, body, "rescaled");
    let mut child = crash::eddy(&p1)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("eddy starts");
    let chk = dir.join("chk-rescaled");
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    let mut taken = None;
    while taken.is_none() && Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        taken = complete_checkpoint(&chk);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let taken = taken.expect("a checkpoint completed before the job ended");
    let savepoint = dir.join("savepoint");
    std::fs::rename(&taken, &savepoint).expect("move the checkpoint aside");

    // Restored from it at parallelism 2.
    let text = std::fs::read_to_string(&p1).expect("script");
    let p2 = dir.join("rescaled-p2.sql");
    std::fs::write(
        &p2,
        format!(
            "SET 'parallelism.default' = '2';\nSET 'execution.savepoint.path' = '{}';\n{text}",
            savepoint.display()
        ),
    )
    .expect("script");
    let stderr = run_to_end(&p2).expect("the restored run");
    assert!(stderr.contains("restored from"), "not restored:\n{stderr}");
    let got = committed(&dir.join("rescaled"));
    assert_eq!(got.len(), expected.len(), "rows committed");
    assert!(got == expected, "the committed rows differ");
    let _ = std::fs::remove_dir_all(&dir);
}
