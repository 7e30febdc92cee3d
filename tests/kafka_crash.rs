//! Jobs over Kafka killed with SIGKILL at seeded moments and run again
//! until they finish: what they committed must be what an uninterrupted
//! run commits, or, for a pass-through job, every input row exactly once.
//! Inputs are produced with ordinary batching, so a restored source
//! resumes inside a record batch (the broker must then return that batch,
//! tests/kafka_broker.rs checks it does).
//!
//! `cargo test --workspace --test kafka_crash [-- FILTER]`

#[path = "support/changelog.rs"]
mod changelog;
#[path = "support/crash.rs"]
mod crash;
#[path = "support/kafka_env.rs"]
mod kafka_env;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use kafka_env::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

/// Clicks in the topics of the window, upsert and exactly-once crash tests:
/// enough that a run takes seconds, so the kills land while data flows.
const CLICKS: u64 = 200_000;

/// Source options that make the crash tests read in small fetches: reading,
/// not starting, then takes most of a run.
const SLOW_FETCH: &str = "'properties.max.partition.fetch.bytes' = '65536', 'properties.fetch.max.bytes' = '65536', 'properties.message.max.bytes' = '65536'";

/// An updating aggregate from Kafka into upsert-kafka, checkpointing, killed
/// with SIGKILL at seeded moments and restarted: the upsert topic read as a
/// table ends equal to that of an uninterrupted run. (At least once: a
/// replay after a restore writes some upserts again, which changes no key's
/// final value.)
fn crash_into_upsert_kafka(env: &Env) -> Result<(), String> {
    env.broker.create_topic("clicks_crash", 2)?;
    let mut rng = crash::Rng::seeded(7);
    let records: Vec<Record> = (0..CLICKS)
        .map(|i| value(&format!("{{\"u\":\"u{}\",\"n\":{i}}}", rng.below(30))))
        .collect();
    env.broker.produce("clicks_crash", &records)?;
    let job = |out: &str| {
        format!(
            "SET 'execution.checkpointing.interval' = '50 ms';
SET 'execution.checkpointing.dir' = '${{DIR}}/chk-{out}';
CREATE TABLE clicks (u STRING, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'clicks_crash', 'properties.bootstrap.servers' = '${{BROKER}}', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', {SLOW_FETCH});
CREATE TABLE totals (u STRING, c BIGINT, s BIGINT, PRIMARY KEY (u) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = '{out}', 'properties.bootstrap.servers' = '${{BROKER}}', 'key.format' = 'json', 'value.format' = 'json');
INSERT INTO totals SELECT u, COUNT(*), SUM(n) FROM clicks GROUP BY u;"
        )
    };
    let read = |out: &str| -> Result<changelog::Output, String> {
        let printed = env.eddy_ok(
            "crash_read",
            &format!(
                "CREATE TABLE totals (u STRING, c BIGINT, s BIGINT, PRIMARY KEY (u) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = '{out}', 'properties.bootstrap.servers' = '${{BROKER}}', 'key.format' = 'json', 'value.format' = 'json', 'scan.bounded.mode' = 'latest-offset');
SELECT * FROM totals;"
            ),
        )?;
        changelog::fold(&printed)
    };
    env.broker.create_topic("totals_clean", 2)?;
    let clean = env.script("crash_clean", &job("totals_clean"))?;
    let started = Instant::now();
    crash::run_to_end(&clean)?;
    let span = started.elapsed();
    let expected = read("totals_clean")?;
    check(expected.rows.len() == 30, || {
        format!(
            "the uninterrupted run: expected 30 keys, got {:?}",
            expected.rows
        )
    })?;
    let mut restores = 0;
    for seed in [1, 2] {
        let out = format!("totals_crashed_{seed}");
        env.broker.create_topic(&out, 2)?;
        let script = env.script(&format!("crash_{seed}"), &job(&out))?;
        let (killed, restored) =
            crash::crash_and_finish(&script, &mut crash::Rng::seeded(seed), 3, span)?;
        restores += restored;
        let got = read(&out)?;
        check(got.rows == expected.rows, || {
            format!(
                "seed {seed} ({killed} kills): the table differs from the uninterrupted run's:\n{}",
                changelog::diff(&expected, &got)
            )
        })?;
    }
    check(restores > 0, || {
        "no run was restored from a checkpoint".into()
    })
}

/// Produces `CLICKS` clicks of 30 users, 10 ms apart, into `topic`.
fn produce_clicks(env: &Env, topic: &str) -> Result<(), String> {
    env.broker.create_topic(topic, 2)?;
    let mut rng = crash::Rng::seeded(11);
    let records: Vec<Record> = (0..CLICKS)
        .map(|i| {
            value(&format!(
                "{{\"u\":\"u{}\",\"ts_ms\":{}}}",
                rng.below(30),
                1_700_000_000_000 + i * 10
            ))
        })
        .collect();
    env.broker.produce(topic, &records)?;
    Ok(())
}

/// A job reading `clicks` into the table `out (columns)` of `sink` (its
/// WITH options) with `select`, checkpointing every 50 ms when
/// `checkpoints` names a directory (under `${DIR}`).
fn clicks_job(
    clicks: &str,
    checkpoints: Option<&str>,
    columns: &str,
    sink: &str,
    select: &str,
) -> String {
    let checkpointing = checkpoints.map_or(String::new(), |dir| {
        format!(
            "SET 'execution.checkpointing.interval' = '50 ms';\nSET 'execution.checkpointing.dir' = '${{DIR}}/chk-{dir}';\n"
        )
    });
    format!(
        "{checkpointing}CREATE TABLE clicks (u STRING, ts_ms BIGINT, ts AS TO_TIMESTAMP_LTZ(ts_ms, 3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka', 'topic' = '{clicks}', 'properties.bootstrap.servers' = '${{BROKER}}', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', {SLOW_FETCH});
CREATE TABLE out ({columns}) WITH ({sink});
INSERT INTO out {select};"
    )
}

/// Counts per user and 10 s window.
const WINDOW_COUNTS: &str = "SELECT u, window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY u, window_start, window_end";

/// A window aggregate from Kafka into part files, checkpointing, killed with
/// SIGKILL at seeded moments and restarted: the committed files hold
/// exactly the rows of an uninterrupted run (Kafka offsets restored, the
/// file sink committing in two phases).
fn crash_window_into_files(env: &Env) -> Result<(), String> {
    produce_clicks(env, "clicks_window")?;
    let job = |out: &str| {
        clicks_job(
            "clicks_window",
            Some(out),
            "u STRING, w TIMESTAMP(3), c BIGINT",
            &format!("'connector' = 'filesystem', 'path' = '${{DIR}}/{out}', 'format' = 'csv'"),
            WINDOW_COUNTS,
        )
    };
    let clean = env.script("window_clean", &job("window_clean"))?;
    let started = Instant::now();
    crash::run_to_end(&clean)?;
    let span = started.elapsed();
    let expected = crash::committed(&env.dir.join("window_clean"));
    check(!expected.is_empty(), || {
        "the uninterrupted run wrote nothing".into()
    })?;
    let mut restores = 0;
    for seed in [1, 2] {
        let out = format!("window_crashed_{seed}");
        let script = env.script(&out, &job(&out))?;
        let (killed, restored) =
            crash::crash_and_finish(&script, &mut crash::Rng::seeded(seed), 3, span)?;
        restores += restored;
        let got = crash::committed(&env.dir.join(&out));
        check(got == expected, || {
            format!(
                "seed {seed} ({killed} kills): {} rows committed, the uninterrupted run {}",
                got.len(),
                expected.len()
            )
        })?;
    }
    check(restores > 0, || {
        "no run was restored from a checkpoint".into()
    })
}

/// Every click into a Kafka topic with `sink.delivery-guarantee` =
/// 'exactly-once', killed with SIGKILL at seeded moments and restarted:
/// read committed, the topic holds exactly the rows of an uninterrupted
/// run, none twice. (Every checkpoint has records to commit, so kills land
/// in each crash window.) Without checkpoints the job writes the same rows
/// in one transaction.
fn crash_into_kafka_exactly_once(env: &Env) -> Result<(), String> {
    produce_clicks(env, "clicks_eos")?;
    let sink = |out: &str| {
        format!(
            "'connector' = 'kafka', 'topic' = '{out}', 'properties.bootstrap.servers' = '${{BROKER}}', 'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'eddy-{out}'"
        )
    };
    let job = |checkpoints: Option<&str>, out: &str| {
        clicks_job(
            "clicks_eos",
            checkpoints,
            "u STRING, ts_ms BIGINT",
            &sink(out),
            "SELECT u, ts_ms FROM clicks",
        )
    };
    let read = |out: &str| -> Result<Vec<String>, String> {
        let printed = env.eddy_ok(
            "eos_read",
            &format!(
                "CREATE TABLE t (u STRING, ts_ms BIGINT) WITH ('connector' = 'kafka', 'topic' = '{out}', 'properties.bootstrap.servers' = '${{BROKER}}', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
SELECT * FROM t;"
            ),
        )?;
        let mut rows: Vec<String> = printed
            .lines()
            .filter(|l| l.starts_with("+I["))
            .map(str::to_string)
            .collect();
        rows.sort();
        Ok(rows)
    };
    env.broker.create_topic("eos_clean", 2)?;
    let clean = env.script("eos_clean", &job(Some("eos_clean"), "eos_clean"))?;
    let started = Instant::now();
    crash::run_to_end(&clean)?;
    let span = started.elapsed();
    let expected = read("eos_clean")?;
    check(expected.len() as u64 == CLICKS, || {
        format!("the uninterrupted run wrote {} rows", expected.len())
    })?;
    env.broker.create_topic("eos_unchecked", 2)?;
    let unchecked = env.script("eos_unchecked", &job(None, "eos_unchecked"))?;
    crash::run_to_end(&unchecked)?;
    check(read("eos_unchecked")? == expected, || {
        "without checkpoints the job wrote other rows".into()
    })?;
    let mut restores = 0;
    for seed in [1, 2, 3] {
        let out = format!("eos_crashed_{seed}");
        env.broker.create_topic(&out, 2)?;
        let script = env.script(&out, &job(Some(&out), &out))?;
        let (killed, restored) =
            crash::crash_and_finish(&script, &mut crash::Rng::seeded(seed), 3, span)?;
        restores += restored;
        let got = read(&out)?;
        check(got == expected, || {
            let missing = expected.iter().filter(|r| !got.contains(r)).count();
            format!(
                "seed {seed} ({killed} kills): {} rows read committed, the uninterrupted run wrote {}; {missing} of its rows missing",
                got.len(),
                expected.len()
            )
        })?;
    }
    check(restores > 0, || {
        "no run was restored from a checkpoint".into()
    })?;
    // Killed at one parallelism, finished at another: at 1, subtask 0 also
    // finishes the transactions old subtask 1 left; at 2, subtask 1 starts
    // a lineage of its own.
    for (from, to) in [(2, 1), (1, 2)] {
        let out = format!("eos_rescaled_{from}_{to}");
        env.broker.create_topic(&out, 2)?;
        let at = |p: usize| {
            format!(
                "SET 'parallelism.default' = '{p}';\n{}",
                job(Some(&out), &out)
            )
        };
        let first = env.script(&format!("{out}_first"), &at(from))?;
        let checkpoints = env.dir.join(format!("chk-{out}"));
        let run = crash::run_and_kill_after_checkpoint(&first, &checkpoints, span)?;
        check(run.killed, || {
            format!("{out}: the run at parallelism {from} ended before its kill")
        })?;
        let stderr = crash::run_to_end(&env.script(&format!("{out}_then"), &at(to))?)?;
        check(stderr.contains("restored from"), || {
            format!("{out}: the run at parallelism {to} restored nothing:\n{stderr}")
        })?;
        let got = read(&out)?;
        check(got == expected, || {
            format!(
                "{out}: {} rows read committed, the uninterrupted run wrote {}",
                got.len(),
                expected.len()
            )
        })?;
    }
    Ok(())
}

/// Source options for the pass-through crash tests: fetches of 64 KiB
/// (many record batches each), with a short wait on each (tansu waits out
/// `fetch.wait.max.ms`), so reading takes seconds and the kills land while
/// data flows, after several checkpoints.
const PACED_FETCH: &str =
    "'properties.max.partition.fetch.bytes' = '65536', 'properties.fetch.wait.max.ms' = '20'";

/// Events in the pass-through crash tests: enough that a run at the
/// checkpoint interval below takes many checkpoints.
const EVENTS: u64 = 400_000;

/// Produces `EVENTS` JSON events `{"id": i, "pad": ..}` into a new
/// two-partition topic, batched as an ordinary producer batches.
fn produce_events(env: &Env, topic: &str) -> Result<(), String> {
    env.broker.create_topic(topic, 2)?;
    let records: Vec<Record> = (0..EVENTS)
        .map(|i| {
            value(&format!(
                "{{\"id\":{i},\"pad\":\"{}\"}}",
                "x".repeat((i % 40) as usize)
            ))
        })
        .collect();
    env.broker.produce(topic, &records)?;
    Ok(())
}

/// The ids a pass-through job keeps (`id % 7 <> 3`).
fn kept_ids() -> Vec<u64> {
    (0..EVENTS).filter(|i| i % 7 != 3).collect()
}

/// A job reading `topic` and writing the kept ids to `sink`, checkpointing
/// every `interval` ms into `${DIR}/chk-<name>`.
fn pass_through(topic: &str, name: &str, sink: &str, interval: u64) -> String {
    format!(
        "SET 'execution.checkpointing.interval' = '{interval} ms';
SET 'execution.checkpointing.dir' = '${{DIR}}/chk-{name}';
CREATE TABLE events (id BIGINT, pad STRING) WITH ('connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '${{BROKER}}', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', {PACED_FETCH});
CREATE TABLE out (id BIGINT) WITH ({sink});
INSERT INTO out SELECT id FROM events WHERE id % 7 <> 3;"
    )
}

/// How the ids written differ from the ids wanted: `None` when they are
/// the same, each once.
fn id_difference(got: &[u64]) -> Option<String> {
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    for id in got {
        *seen.entry(*id).or_default() += 1;
    }
    let wanted = kept_ids();
    let lost: Vec<u64> = wanted
        .iter()
        .filter(|i| !seen.contains_key(i))
        .copied()
        .collect();
    let twice = seen.values().filter(|n| **n > 1).count();
    let strange = seen.keys().filter(|i| *i % 7 == 3 || **i >= EVENTS).count();
    if lost.is_empty() && twice == 0 && strange == 0 {
        return None;
    }
    let sample: Vec<String> = lost.iter().take(10).map(u64::to_string).collect();
    Some(format!(
        "{} rows written for {} wanted: {} lost (first: {}), {twice} written more than once, {strange} never wanted",
        got.len(),
        wanted.len(),
        lost.len(),
        sample.join(", ")
    ))
}

/// Kills the pass-through job `script` three times per seed, then lets it
/// finish; `written` reads what it committed. Fails when any seed lost or
/// repeated an id, or when no run restored a checkpoint (then the test did
/// not meet the fault it guards against).
fn crash_seeds(
    env: &Env,
    script: &dyn Fn(&str) -> Result<std::path::PathBuf, String>,
    written: &dyn Fn(&str) -> Result<Vec<u64>, String>,
    diagnose: &dyn Fn(&str) -> String,
) -> Result<(), String> {
    let mut restores = 0;
    let mut span = None;
    for seed in [1, 2, 3] {
        let name = format!("seed_{seed}");
        let file = script(&name)?;
        let span = match span {
            Some(s) => s,
            None => {
                // The first seed's clean run times the job for the kills.
                let clean = script("clean")?;
                let started = Instant::now();
                crash::run_to_end(&clean)?;
                let s: Duration = started.elapsed();
                if let Some(diff) = id_difference(&written("clean")?) {
                    return Err(format!("the uninterrupted run: {diff}"));
                }
                span = Some(s);
                s
            }
        };
        let (killed, restored) =
            crash::crash_and_finish(&file, &mut crash::Rng::seeded(seed), 3, span)?;
        restores += restored;
        eprintln!(
            "  seed {seed}: {killed} kills, {restored} restores (a clean run takes {:.1} s)",
            span.as_secs_f64()
        );
        if let Some(diff) = id_difference(&written(&name)?) {
            return Err(format!(
                "seed {seed} ({killed} kills, {restored} restores): {diff}{}",
                diagnose(&name)
            ));
        }
    }
    let _ = env;
    check(restores > 0, || {
        "no run was restored from a checkpoint: the kills never met a restore".into()
    })
}

/// Kafka (batched) -> filter -> two-phase file sink, killed and restored
/// inside record batches: every kept id committed exactly once.
fn source_restores_inside_batches_into_files(env: &Env) -> Result<(), String> {
    produce_events(env, "events_files")?;
    let script = |name: &str| {
        let sink = format!(
            "'connector' = 'filesystem', 'path' = '${{DIR}}/files_{name}', 'format' = 'csv'"
        );
        env.script(
            &format!("files_{name}"),
            &pass_through("events_files", &format!("files_{name}"), &sink, 60),
        )
    };
    let written = |name: &str| -> Result<Vec<u64>, String> {
        crash::committed(&env.dir.join(format!("files_{name}")))
            .iter()
            .map(|l| l.parse::<u64>().map_err(|e| format!("{l:?}: {e}")))
            .collect()
    };
    crash_seeds(env, &script, &written, &|_| String::new())
}

/// Kafka (batched) -> filter -> exactly-once Kafka sink, killed and
/// restored inside record batches: read committed, every kept id once.
/// When that fails, the same topic read uncommitted says whether the rows
/// never reached the broker or were aborted.
fn source_restores_inside_batches_into_exactly_once_kafka(env: &Env) -> Result<(), String> {
    produce_events(env, "events_eos")?;
    let script = |name: &str| {
        let topic = format!("eos_out_{name}");
        env.broker.create_topic(&topic, 2)?;
        let sink = format!(
            "'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '${{BROKER}}', 'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'eddy-{topic}'"
        );
        env.script(
            &format!("eos_{name}"),
            &pass_through("events_eos", &format!("eos_{name}"), &sink, 100),
        )
    };
    let read =
        |name: &str, isolation: &str| read_ids(env.broker, &format!("eos_out_{name}"), isolation);
    let written = |name: &str| read(name, "read_committed");
    let diagnose = |name: &str| match read(name, "read_uncommitted") {
        Ok(ids) => format!(
            "\nread uncommitted: {}",
            id_difference(&ids).unwrap_or_else(|| "every kept id once".into())
        ),
        Err(e) => format!("\nread uncommitted: {e}"),
    };
    crash_seeds(env, &script, &written, &diagnose)
}

/// The `id`s of every record of `topic` (to its end), read at `isolation`.
fn read_ids(kafka: &Kafka, topic: &str, isolation: &str) -> Result<Vec<u64>, String> {
    let consumer: BaseConsumer = kafka
        .config()
        .set("group.id", "eddy-crash-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .map_err(|e| e.to_string())?;
    let mut tpl = TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for p in 0..2 {
        let (_, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        ends.insert(p, high);
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| e.to_string())?;
    }
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    // Done when every partition's position passed its end offset (aborted
    // records and transaction markers are skipped, not delivered).
    let at_end = |consumer: &BaseConsumer| {
        consumer.position().is_ok_and(|pos| {
            ends.iter().all(|(p, end)| {
                *end == 0
                    || pos
                        .find_partition(topic, *p)
                        .is_some_and(|e| matches!(e.offset(), Offset::Offset(o) if o >= *end))
            })
        })
    };
    let mut ids = vec![];
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if Instant::now() > deadline {
            return Err(format!("reading {topic} took over 120 s"));
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let text = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                let id = text
                    .split("\"id\":")
                    .nth(1)
                    .and_then(|r| r.split([',', '}']).next())
                    .and_then(|n| n.trim().parse::<u64>().ok())
                    .ok_or_else(|| format!("a record without an id: {text}"))?;
                ids.push(id);
            }
            Some(Err(e)) => return Err(e.to_string()),
            None if at_end(&consumer) => return Ok(ids),
            None => {}
        }
    }
}

fn main() -> ExitCode {
    run_cases(
        "kafka_crash",
        vec![
            ("crash_into_upsert_kafka", crash_into_upsert_kafka),
            ("crash_window_into_files", crash_window_into_files),
            (
                "crash_into_kafka_exactly_once",
                crash_into_kafka_exactly_once,
            ),
            (
                "source_restores_inside_batches_into_files",
                source_restores_inside_batches_into_files,
            ),
            (
                "source_restores_inside_batches_into_exactly_once_kafka",
                source_restores_inside_batches_into_exactly_once_kafka,
            ),
        ],
    )
}
