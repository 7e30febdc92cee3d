//! The examples in `queries/`: runs every `queries/*.sql` with `eddy -f`
//! from the repository root, as their headers say to run them, at
//! parallelism 1, 2 and 4, and compares what it produced with what real
//! Apache Flink 2.3 produced for the same script (`queries/<name>.out`,
//! recorded by `queries/record.sh`), after folding the changelogs into the
//! final multiset of rows (tests/support/changelog.rs).
//!
//! An example that uses the kafka connector names its topics in its header
//! (`-- Input topic: NAME <- FILE`, `-- Output topic: NAME`). Each of its
//! runs gets a fresh test broker (tansu on a free loopback port,
//! tests/support/kafka_env.rs) with those topics (one partition each), the
//! input files produced into them a line per record, and the example's
//! `localhost:9092` replaced by the broker's address; then every record in
//! the output topics is read, as `+I[<record value>]`, which is how
//! `record.sh` had Flink read back what Flink's run of the example wrote.
//!
//! The quickstart's `datagen` source draws random users and pages, in
//! Flink as in Eddy: those columns are masked in both outputs (the ids and
//! times still have to match).
//!
//! `cargo test --workspace --test queries [-- FILTER]`

#[path = "support/changelog.rs"]
mod changelog;
#[path = "support/kafka_env.rs"]
mod kafka_env;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};

use changelog::{diff, fold};
use kafka_env::{Broker, Kafka, value};

/// Columns (0-based) of an example's rows that hold random values.
const RANDOM_COLUMNS: &[(&str, &[usize])] = &[("quickstart", &[1, 2])];

/// How long one run of an example may take before it counts as hung.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// The address examples name for their Kafka broker.
const EXAMPLE_BROKER: &str = "'localhost:9092'";

fn examples(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root.join("queries"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "sql"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Replaces the given columns of every printed row with `?`.
fn mask(text: &str, columns: &[usize]) -> String {
    if columns.is_empty() {
        return text.to_string();
    }
    let mut out = String::new();
    for line in text.lines() {
        let open = ["+I[", "-U[", "+U[", "-D["]
            .iter()
            .filter_map(|k| line.find(k))
            .min();
        match (open, line.rfind(']')) {
            (Some(open), Some(close)) if close > open + 2 => {
                let fields: Vec<&str> = line[open + 3..close]
                    .split(", ")
                    .enumerate()
                    .map(|(i, f)| if columns.contains(&i) { "?" } else { f })
                    .collect();
                out.push_str(&format!(
                    "{}{}{}",
                    &line[..open + 3],
                    fields.join(", "),
                    &line[close..]
                ));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Runs `eddy -f` on a script from the repository root (where the
/// examples' relative data paths start); its stdout, or why it failed.
fn run_eddy(root: &Path, dir: &Path, script: &str) -> Result<String, String> {
    let file = dir.join("example.sql");
    std::fs::write(&file, script).map_err(|e| e.to_string())?;
    let stdout_path = dir.join("stdout");
    let stderr_path = dir.join("stderr");
    let stdout = std::fs::File::create(&stdout_path).map_err(|e| e.to_string())?;
    let stderr = std::fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .arg("-f")
        .arg(&file)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot run eddy: {e}"))?;
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break Some(status),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    match status {
        None => Err(format!(
            "eddy did not finish within {} s\nstderr:\n{stderr}",
            RUN_TIMEOUT.as_secs()
        )),
        Some(s) if !s.success() => Err(format!("eddy failed ({s}):\n{stderr}")),
        Some(_) => Ok(stdout),
    }
}

/// The topics a Kafka example's header names: inputs with their data
/// files, and outputs.
fn topics(sql: &str) -> (Vec<(String, String)>, Vec<String>) {
    let (mut inputs, mut outputs) = (vec![], vec![]);
    for line in sql.lines() {
        if let Some(rest) = line.strip_prefix("-- Input topic:")
            && let Some((topic, file)) = rest.split_once("<-")
        {
            let file = file.split_whitespace().next().unwrap_or_default();
            inputs.push((topic.trim().to_string(), file.to_string()));
        } else if let Some(rest) = line.strip_prefix("-- Output topic:") {
            outputs.push(rest.trim().to_string());
        }
    }
    (inputs, outputs)
}

/// Every record of a topic, read to its end offsets.
fn read_topic(kafka: &Kafka, topic: &str) -> Result<Vec<String>, String> {
    let consumer: BaseConsumer = kafka.config().create().map_err(|e| e.to_string())?;
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    let mut total = 0;
    for t in md.topics() {
        for p in t.partitions() {
            let (low, high) = consumer
                .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                .map_err(|e| format!("end offsets of {topic}: {e}"))?;
            total += usize::try_from(high - low).unwrap_or_default();
        }
    }
    let records = kafka.consume(topic, total)?;
    if records.len() != total {
        return Err(format!(
            "topic {topic} holds {total} records, {} could be read",
            records.len()
        ));
    }
    Ok(records
        .into_iter()
        .map(|r| r.value.unwrap_or_default())
        .collect())
}

/// Runs a Kafka example against a fresh broker; what landed in its output
/// topics, a `+I[<value>]` line per record.
fn run_kafka(root: &Path, dir: &Path, sql: &str, script: &str) -> Result<String, String> {
    let (inputs, outputs) = topics(sql);
    if outputs.is_empty() {
        return Err("a Kafka example must name its topics: no `-- Output topic:` line".into());
    }
    if !script.contains(EXAMPLE_BROKER) {
        return Err(format!("the example names no broker {EXAMPLE_BROKER}"));
    }
    let broker = Broker::start()?;
    let kafka = &broker.kafka;
    for (topic, file) in &inputs {
        kafka.create_topic(topic, 1)?;
        let data = std::fs::read_to_string(root.join(file)).map_err(|e| format!("{file}: {e}"))?;
        let records: Vec<_> = data
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(value)
            .collect();
        kafka.produce(topic, &records)?;
    }
    for topic in &outputs {
        kafka.create_topic(topic, 1)?;
    }
    let script = script.replace(EXAMPLE_BROKER, &format!("'{}'", kafka.address));
    run_eddy(root, dir, &script)?;
    let mut printed = String::new();
    for topic in &outputs {
        for v in read_topic(kafka, topic)? {
            printed.push_str(&format!("+I[{v}]\n"));
        }
    }
    Ok(printed)
}

fn check_example(root: &Path, dir: &Path, example: &Path, name: &str) -> Result<(), String> {
    let sql = std::fs::read_to_string(example).map_err(|e| e.to_string())?;
    let random = RANDOM_COLUMNS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(&[][..], |(_, c)| *c);
    let expected = std::fs::read_to_string(example.with_extension("out"))
        .map_err(|_| format!("no queries/{name}.out: record it with queries/record.sh"))?;
    let want = fold(&mask(&expected, random)).map_err(|e| format!("bad .out: {e}"))?;
    if want.rows.is_empty() {
        return Err(format!("queries/{name}.out holds no rows"));
    }
    let kafka =
        sql.contains("'connector' = 'kafka'") || sql.contains("'connector' = 'upsert-kafka'");
    for p in [1, 2, 4] {
        let script = if p > 1 {
            format!("SET 'parallelism.default' = '{p}';\n{sql}")
        } else {
            sql.clone()
        };
        let printed = if kafka {
            run_kafka(root, dir, &sql, &script)
        } else {
            run_eddy(root, dir, &script)
        }
        .map_err(|e| format!("parallelism {p}: {e}"))?;
        let got = fold(&mask(&printed, random)).map_err(|e| format!("parallelism {p}: {e}"))?;
        if want != got {
            return Err(format!(
                "parallelism {p}: output differs from Flink's (queries/{name}.out):\n{}",
                diff(&want, &got)
            ));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = root.canonicalize().unwrap_or(root);
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let dir = std::env::temp_dir().join(format!("eddy-queries-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let all = examples(&root);
    if all.is_empty() {
        eprintln!("no examples under {}", root.join("queries").display());
        return ExitCode::FAILURE;
    }
    let (mut passed, mut failed, mut filtered) = (0, 0, 0);
    for example in all {
        let name = example
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            filtered += 1;
            continue;
        }
        let start = Instant::now();
        match check_example(&root, &dir, &example, &name) {
            Ok(()) => {
                passed += 1;
                println!(
                    "test queries/{name} ... ok ({:.1} s)",
                    start.elapsed().as_secs_f64()
                );
            }
            Err(e) => {
                failed += 1;
                println!("test queries/{name} ... FAILED\n{e}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let status = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {status}. {passed} passed; {failed} failed; 0 ignored; 0 measured; {filtered} filtered out"
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
