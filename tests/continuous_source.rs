//! The filesystem source with `source.monitor-interval` is unbounded: it
//! picks up files added to its directory while the job runs, until Ctrl-C;
//! processing-time windows over it fire by the wall clock.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn wait_for(lines: &mpsc::Receiver<String>, want: &str, seen: &mut Vec<String>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if seen.iter().any(|l| l == want) {
            return true;
        }
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) {
            seen.push(line);
        }
    }
    seen.iter().any(|l| l == want)
}

/// Runs `eddy -f script`; its stdout comes line by line on the receiver.
fn spawn_eddy(script: &std::path::Path) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .arg("-f")
        .arg(script)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("eddy starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

#[test]
fn processing_time_windows_fire_by_the_wall_clock() {
    let dir = std::env::temp_dir().join(format!("eddy-proctime-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("in")).expect("dir");
    std::fs::write(dir.join("in/a.csv"), "1\n2\n3\n").expect("write");
    let script = dir.join("job.sql");
    std::fs::write(
        &script,
        format!(
            "CREATE TABLE t (id INT, proc AS PROCTIME()) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv', 'source.monitor-interval' = '100 ms');\n\
             SELECT COUNT(*) AS n, SUM(id) AS s FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(proc), INTERVAL '1' SECOND)) GROUP BY window_start, window_end;\n",
            dir.join("in").display()
        ),
    )
    .expect("script");
    let (mut child, rx) = spawn_eddy(&script);
    let mut seen = vec![];
    // The rows are read together, so they share a window, which fires
    // once the clock passes its end (no watermark ever comes).
    let fired = wait_for(&rx, "+I[3, 6]", &mut seen);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(fired, "the processing-time window did not fire: {seen:?}");
}

#[test]
fn monitored_directory_picks_up_new_files() {
    let dir = std::env::temp_dir().join(format!("eddy-monitor-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("in")).expect("dir");
    std::fs::write(dir.join("in/a.csv"), "1,first\n").expect("write");
    let script = dir.join("job.sql");
    std::fs::write(
        &script,
        format!(
            "CREATE TABLE t (id INT, name STRING) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv', 'source.monitor-interval' = '100 ms');\nSELECT id, UPPER(name) FROM t;\n",
            dir.join("in").display()
        ),
    )
    .expect("script");
    let (mut child, rx) = spawn_eddy(&script);
    let mut seen = vec![];
    let first = wait_for(&rx, "+I[1, FIRST]", &mut seen);
    std::fs::write(dir.join("in/b.csv"), "2,second\n3,third\n").expect("write");
    let later = wait_for(&rx, "+I[3, THIRD]", &mut seen);
    let still_running = child.try_wait().expect("status").is_none();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(first, "first file's row not printed: {seen:?}");
    assert!(later, "a file added later was not read: {seen:?}");
    assert!(
        still_running,
        "an unbounded source must keep the job running"
    );
    assert!(seen.contains(&"+I[2, SECOND]".to_string()), "{seen:?}");
}
