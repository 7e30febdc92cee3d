//! The interactive shell, driven as a person would through a
//! pseudo-terminal: a multi-line window aggregate shown live, a result
//! mode switched to the full-screen table and left with `q`, an endless
//! query stopped with Ctrl-C, an INSERT run as a
//! background job, listed and stopped (once with a savepoint), an error
//! pointed at, and QUIT.
//!
//! `cargo test --workspace --test shell`

use std::process::Command;

use rexpect::session::{PtySession, spawn_command};

fn shell(home: &std::path::Path) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_eddy"));
    cmd.env("HOME", home).env("TERM", "xterm");
    spawn_command(cmd, Some(60_000)).expect("start eddy")
}

fn data() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance/data").to_string()
}

fn main() {
    let home = std::env::temp_dir().join(format!("eddy-shell-test-{}", std::process::id()));
    std::fs::create_dir_all(&home).expect("home");
    let mut p = shell(&home);
    let run = |p: &mut PtySession, lines: &[&str], want: &str| {
        for l in lines {
            p.send_line(l).expect("send");
        }
        if let Err(e) = p.exp_string(want) {
            panic!("after {lines:?}, no {want:?}: {e}");
        }
    };
    p.exp_string("eddy> ").expect("prompt");
    // A statement over two lines: the first Enter continues it.
    run(
        &mut p,
        &[
            "CREATE TABLE orders (oid INT, cid INT, amount INT, ts TIMESTAMP(3),",
            &format!(
                " WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'filesystem', 'path' = '{}/joins/orders.csv', 'format' = 'csv', 'csv.null-literal' = 'null');",
                data()
            ),
        ],
        "Execute statement succeeded",
    );
    // An updating query in the default mode on a terminal, `table`:
    // full-screen; the view stays after the query ends, until `q`.
    run(
        &mut p,
        &["SELECT cid, COUNT(*) AS n FROM orders GROUP BY cid;"],
        "finished",
    );
    // (rexpect reads bytes as Latin-1: the `·` between the parts is not
    // matched.)
    p.exp_string("rows 1-5 of 5").expect("the rows shown");
    p.exp_string("rows read: ").expect("the status line");
    p.exp_string("(100% of the input)")
        .expect("the progress of a bounded read");
    p.send("j").expect("scroll");
    p.send("q").expect("leave the view");
    p.flush().expect("send the keys");
    p.exp_string("[INFO] Result: ")
        .expect("the result's summary");
    // A window aggregate over three lines, in tableau mode.
    run(
        &mut p,
        &["SET 'sql-client.execution.result-mode' = 'tableau';"],
        "Execute statement succeeded",
    );
    run(
        &mut p,
        &[
            "SELECT window_start, COUNT(*) AS n",
            "FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '10' MINUTE))",
            "GROUP BY window_start, window_end;",
        ],
        "| op |",
    );
    p.exp_string("| +I |").expect("a row");
    p.exp_string("Received a total of").expect("the total");
    // An endless query, stopped with Ctrl-C; the shell stays.
    // (One statement at a time: input typed while one runs may be lost
    // when the editor takes the terminal back.)
    run(
        &mut p,
        &["CREATE TABLE g (x BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '20');"],
        "Execute statement succeeded",
    );
    run(
        &mut p,
        &["SET 'sql-client.execution.result-mode' = 'changelog';"],
        "Execute statement succeeded",
    );
    run(&mut p, &["SELECT x FROM g;"], "+I[");
    p.send_control('c').expect("ctrl-c");
    p.exp_string("Query stopped").expect("stopped");
    // An INSERT runs in the background; SHOW JOBS and STOP JOB.
    run(
        &mut p,
        &["CREATE TABLE bh (x BIGINT) WITH ('connector' = 'blackhole');"],
        "Execute statement succeeded",
    );
    run(&mut p, &["INSERT INTO bh SELECT x FROM g;"], "Job ID: ");
    let (_, id) = p.exp_regex(r"[a-z][a-z0-9_-]+").expect("job id");
    run(&mut p, &["SHOW JOBS;"], "RUNNING");
    run(
        &mut p,
        &[&format!("STOP JOB '{id}';")],
        "The specified job is stopped",
    );
    run(&mut p, &["SHOW JOBS;"], "CANCELED");
    // A job that checkpoints stops with a savepoint, which names its place.
    let savepoints = home.join("savepoints");
    run(
        &mut p,
        &[&format!(
            "SET 'execution.checkpointing.savepoint-dir' = '{}';",
            savepoints.display()
        )],
        "Execute statement succeeded",
    );
    run(&mut p, &["INSERT INTO bh SELECT x FROM g;"], "Job ID: ");
    let (_, id) = p.exp_regex(r"[a-z][a-z0-9_-]+").expect("job id");
    run(
        &mut p,
        &[&format!("STOP JOB '{id}' WITH SAVEPOINT;")],
        "savepoint path",
    );
    p.exp_string("savepoint-")
        .expect("the savepoint's directory");
    run(&mut p, &["SHOW JOBS;"], "CANCELED");
    let taken = std::fs::read_dir(&savepoints)
        .map(|d| d.flatten().any(|e| e.path().join("_metadata").is_file()))
        .unwrap_or(false);
    assert!(
        taken,
        "no complete savepoint under {}",
        savepoints.display()
    );
    // An error points at its column.
    run(
        &mut p,
        &["SELECT nosuch FROM orders;"],
        "No field named nosuch",
    );
    p.exp_string("<input>:1:8").expect("position");
    run(&mut p, &["QUIT;"], "Bye.");
    p.exp_eof().expect("exit");
    // The history kept the statements, one entry each.
    let history = std::fs::read_to_string(home.join(".eddy_history")).expect("history");
    assert!(
        history.contains("GROUP BY window_start, window_end;"),
        "{history}"
    );
    let _ = std::fs::remove_dir_all(&home);
    println!("shell: ok");
}
