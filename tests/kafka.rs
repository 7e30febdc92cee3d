//! Kafka end to end, against a real Kafka-compatible broker: tansu, started
//! here on a free loopback port with in-memory storage and killed at the
//! end (tests/support/kafka_env.rs). Each case creates its topics, runs
//! `eddy -f` scripts that read and write them, and checks what reached the
//! topics and what the scripts printed. Where Flink can produce the
//! expected rows, they are the `.out` of a conformance case that runs the
//! same query over a file. Producers batch as users' producers do.
//!
//! The broker is tansu 0.6.0 with the patches of tools/tansu/, built by
//! tools/tansu/install.sh (`TANSU` overrides); the README's test command
//! runs it. tests/kafka_broker.rs checks that the broker behaves as Kafka
//! where Eddy relies on it; tests/kafka_crash.rs kills jobs over Kafka.
//!
//! `cargo test --workspace --test kafka [-- FILTER]`

#[path = "support/changelog.rs"]
mod changelog;
#[path = "support/kafka_env.rs"]
mod kafka_env;

use std::process::ExitCode;
use std::time::Duration;

use kafka_env::*;

/// The orders of the conformance data, written to a two-partition topic
/// by Eddy (filesystem -> kafka, keyed by customer).
fn produce_orders(env: &Env, topic: &str) -> Result<(), String> {
    env.broker.create_topic(topic, 2)?;
    env.eddy_ok(
        "produce_orders",
        &format!(
            "CREATE TABLE orders_file (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${{DATA}}/orders.csv', 'format' = 'csv');
CREATE TABLE orders_kafka (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '${{BROKER}}', 'format' = 'json', 'key.format' = 'json', 'key.fields' = 'customer');
INSERT INTO orders_kafka SELECT * FROM orders_file;"
        ),
    )?;
    Ok(())
}

fn orders_table(name: &str, topic: &str, extra: &str) -> String {
    format!(
        "CREATE TABLE {name} (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH ('connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '${{BROKER}}', 'format' = 'json', 'scan.bounded.mode' = 'latest-offset'{extra});"
    )
}

/// JSON orders -> window aggregate -> result topic, checked by consuming
/// it raw and by reading it back, at parallelism 1 and 2.
fn window_aggregate(env: &Env) -> Result<(), String> {
    produce_orders(env, "orders")?;
    let keyed = env.broker.consume("orders", 6)?;
    check(
        keyed.len() == 6
            && keyed.iter().all(|r| {
                r.key
                    .as_deref()
                    .is_some_and(|k| k.starts_with("{\"customer\":"))
            }),
        || format!("orders topic: expected 6 records keyed by customer, got {keyed:?}"),
    )?;
    for parallelism in [1, 2] {
        let out = format!("window_results_{parallelism}");
        env.broker.create_topic(&out, 1)?;
        env.eddy_ok(
            "window_aggregate",
            &format!(
                "SET 'parallelism.default' = '{parallelism}';
{}
CREATE TABLE results (window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT, total_qty INT, min_price DOUBLE, max_amount DECIMAL(10, 2), avg_price DOUBLE) WITH ('connector' = 'kafka', 'topic' = '{out}', 'properties.bootstrap.servers' = '${{BROKER}}', 'format' = 'json');
INSERT INTO results SELECT window_start, window_end, COUNT(*) AS n, SUM(qty) AS total_qty, MIN(price) AS min_price, MAX(amount) AS max_amount, AVG(price) AS avg_price FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end;",
                orders_table("orders", "orders", "")
            ),
        )?;
        let raw = env.broker.consume(&out, 5)?;
        check(
            raw.len() == 5
                && raw.iter().all(|r| {
                    r.value
                        .as_deref()
                        .is_some_and(|v| v.starts_with("{\"window_start\":\"2024-01-0"))
                }),
            || format!("{out}: expected 5 JSON results, got {raw:?}"),
        )?;
        let printed = env.eddy_ok(
            "read_results",
            &format!(
                "CREATE TABLE results (window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT, total_qty INT, min_price DOUBLE, max_amount DECIMAL(10, 2), avg_price DOUBLE) WITH ('connector' = 'kafka', 'topic' = '{out}', 'properties.bootstrap.servers' = '${{BROKER}}', 'format' = 'json', 'scan.bounded.mode' = 'latest-offset');
SELECT * FROM results;"
            ),
        )?;
        env.same_as_flink(&printed, "windows/tumble_aggregate.out")?;
    }
    Ok(())
}

/// An updating aggregate into upsert-kafka, read back as a changelog.
fn upsert_round_trip(env: &Env) -> Result<(), String> {
    produce_orders(env, "orders_u")?;
    env.broker.create_topic("status_totals", 2)?;
    let table = "CREATE TABLE totals (status STRING, n BIGINT, q INT, p DOUBLE, c STRING, a INT, PRIMARY KEY (status) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'status_totals', 'properties.bootstrap.servers' = '${BROKER}', 'key.format' = 'json', 'value.format' = 'json', 'scan.bounded.mode' = 'latest-offset');";
    env.eddy_ok(
        "upsert_write",
        &format!(
            "{}
{table}
INSERT INTO totals SELECT status, COUNT(*) AS n, SUM(qty) AS q, MAX(price) AS p, MIN(customer) AS c, AVG(qty) AS a FROM orders GROUP BY status;",
            orders_table("orders", "orders_u", "")
        ),
    )?;
    let raw = env.broker.consume("status_totals", 1)?;
    check(
        raw.first().is_some_and(|r| {
            r.key
                .as_deref()
                .is_some_and(|k| k.starts_with("{\"status\":"))
        }),
        || format!("status_totals: expected records keyed by status, got {raw:?}"),
    )?;
    let printed = env.eddy_ok("upsert_read", &format!("{table}\nSELECT * FROM totals;"))?;
    env.same_as_flink(&printed, "aggregates/group_by_key.out")
}

/// Debezium events in, as a changelog, out as Debezium events and as
/// upserts with tombstones.
fn debezium_in_and_out(env: &Env) -> Result<(), String> {
    for (t, p) in [("cdc", 1), ("cdc_out", 1), ("products_upsert", 1)] {
        env.broker.create_topic(t, p)?;
    }
    let events = std::fs::read_to_string(env.conformance.join("data/products_cdc.json"))
        .map_err(|e| e.to_string())?;
    let records: Vec<Record> = events.lines().map(value).collect();
    env.broker.produce("cdc", &records)?;
    let source = "CREATE TABLE products (id INT, name STRING, category STRING, weight DOUBLE) WITH ('connector' = 'kafka', 'topic' = 'cdc', 'properties.bootstrap.servers' = '${BROKER}', 'format' = 'debezium-json', 'scan.bounded.mode' = 'latest-offset');";
    let printed = env.eddy_ok(
        "debezium_read",
        &format!(
            "{source}
SELECT * FROM products;
SELECT category, COUNT(*) AS n, SUM(weight) AS total FROM products GROUP BY category;"
        ),
    )?;
    env.same_as_flink(&printed, "connectors/debezium_json_changelog.out")?;
    env.eddy_ok(
        "debezium_write",
        &format!(
            "{source}
CREATE TABLE cdc_out (id INT, name STRING, category STRING, weight DOUBLE) WITH ('connector' = 'kafka', 'topic' = 'cdc_out', 'properties.bootstrap.servers' = '${{BROKER}}', 'format' = 'debezium-json');
CREATE TABLE upserts (id INT, name STRING, category STRING, weight DOUBLE, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'products_upsert', 'properties.bootstrap.servers' = '${{BROKER}}', 'key.format' = 'json', 'value.format' = 'json');
INSERT INTO cdc_out SELECT * FROM products;
INSERT INTO upserts SELECT * FROM products;"
        ),
    )?;
    // 3 inserts, 2 updates (a delete and a create each), 1 insert, 1 delete.
    let out = env.broker.consume("cdc_out", 9)?;
    let ops: Vec<&str> = out
        .iter()
        .filter_map(|r| r.value.as_deref())
        .map(|v| {
            if v.ends_with("\"op\":\"c\"}") {
                "c"
            } else {
                "d"
            }
        })
        .collect();
    check(ops == ["c", "c", "c", "d", "c", "c", "d", "d", "c"], || {
        format!("cdc_out: unexpected events {out:?}")
    })?;
    check(
        out.get(3).and_then(|r| r.value.as_deref())
            == Some(
                r#"{"before":{"id":1,"name":"scooter","category":"vehicles","weight":3.14},"after":null,"op":"d"}"#,
            ),
        || format!("cdc_out: the update's delete event is {:?}", out.get(3)),
    )?;
    // Upserts: no -U; the delete is a tombstone keyed by the id.
    let upserts = env.broker.consume("products_upsert", 7)?;
    let tombstones: Vec<&Record> = upserts.iter().filter(|r| r.value.is_none()).collect();
    check(
        upserts.len() == 7
            && tombstones.len() == 1
            && tombstones[0].key.as_deref() == Some(r#"{"id":2}"#),
        || format!("products_upsert: expected 6 upserts and a tombstone for id 2, got {upserts:?}"),
    )?;
    let printed = env.eddy_ok(
        "debezium_reread",
        "CREATE TABLE cdc_out (id INT, name STRING, category STRING, weight DOUBLE) WITH ('connector' = 'kafka', 'topic' = 'cdc_out', 'properties.bootstrap.servers' = '${BROKER}', 'format' = 'debezium-json', 'scan.bounded.mode' = 'latest-offset');
SELECT * FROM cdc_out;
SELECT category, COUNT(*) AS n, SUM(weight) AS total FROM cdc_out GROUP BY category;",
    )?;
    env.same_as_flink(&printed, "connectors/debezium_json_changelog.out")
}

/// Metadata columns, startup and bounded offsets, and bad records: failing
/// with their place, skipped, or sent to a dead-letter topic.
fn metadata_offsets_and_bad_records(env: &Env) -> Result<(), String> {
    env.broker.create_topic("events", 1)?;
    env.broker.create_topic("dead_letters", 1)?;
    let mut records = vec![];
    for (i, v) in [
        r#"{"id":1,"name":"a"}"#,
        r#"{"id":2,"name":"b"}"#,
        r#"{"id":3,"name":oops}"#,
        r#"{"id":4,"name":"d"}"#,
    ]
    .iter()
    .enumerate()
    {
        records.push(Record {
            key: Some(format!("k{}", i + 1)),
            value: Some(v.to_string()),
            headers: vec![("source".into(), format!("test-{}", i + 1))],
            partition: Some(0),
            timestamp: Some(1_700_000_000_000 + i as i64 * 1000),
        });
    }
    env.broker.produce("events", &records)?;
    let table = |extra: &str| {
        format!(
            "CREATE TABLE events (id INT, name STRING, `partition` INT METADATA VIRTUAL, `offset` BIGINT METADATA VIRTUAL, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp', headers MAP<STRING, BYTES> METADATA, topic STRING METADATA VIRTUAL) WITH ('connector' = 'kafka', 'topic' = 'events', 'properties.bootstrap.servers' = '${{BROKER}}', 'format' = 'json', 'scan.bounded.mode' = 'latest-offset'{extra});"
        )
    };
    // A bad record fails the job, naming where it is.
    let run = env.eddy(
        "bad_record",
        &format!("{}\nSELECT id FROM events;", table("")),
    );
    check(
        !run.ok && run.stderr.contains("topic 'events', partition 0, offset 2"),
        || {
            format!(
                "a bad record must fail the job with its offset; stderr:\n{}",
                run.stderr
            )
        },
    )?;
    // Skipped with ignore-parse-errors.
    let printed = env.eddy_ok(
        "ignore_parse_errors",
        &format!(
            "{}\nSELECT id, name, `partition`, `offset`, CAST(ts AS STRING), CAST(headers['source'] AS STRING), topic FROM events;",
            table(", 'json.ignore-parse-errors' = 'true', 'properties.group.id' = 'monitor'")
        ),
    )?;
    let lines: Vec<&str> = printed.lines().collect();
    check(
        lines
            == [
                "+I[1, a, 0, 0, 2023-11-14 22:13:20.000, test-1, events]",
                "+I[2, b, 0, 1, 2023-11-14 22:13:21.000, test-2, events]",
                "+I[4, d, 0, 3, 2023-11-14 22:13:23.000, test-4, events]",
            ],
        || format!("metadata columns: got\n{printed}"),
    )?;
    // The positions reached were committed to the group, for monitoring.
    let committed = env.broker.committed("monitor", "events", 0)?;
    check(committed == Some(4), || {
        format!("group 'monitor': expected offset 4 committed for events/0, got {committed:?}")
    })?;
    // Sent to a dead-letter topic, with the error in a header.
    let printed = env.eddy_ok(
        "dead_letter",
        &format!(
            "{}\nSELECT id FROM events;",
            table(", 'scan.dead-letter.topic' = 'dead_letters'")
        ),
    )?;
    check(printed.lines().count() == 3, || {
        format!("dead letters: expected 3 good rows, got\n{printed}")
    })?;
    let dead = env.broker.consume("dead_letters", 1)?;
    let error = dead
        .first()
        .and_then(|r| r.headers.iter().find(|(k, _)| k == "eddy.error"));
    check(
        dead.len() == 1
            && dead[0].value.as_deref() == Some(r#"{"id":3,"name":oops}"#)
            && error.is_some_and(|(_, e)| e.contains("offset 2")),
        || format!("dead_letters: expected the bad record with its error, got {dead:?}"),
    )?;
    // Specific start and end offsets: offsets 1 up to (not including) 2.
    let printed = env.eddy_ok(
        "specific_offsets",
        &format!(
            "{}\nSELECT id FROM events;",
            table(
                ", 'scan.startup.mode' = 'specific-offsets', 'scan.startup.specific-offsets' = 'partition:0,offset:1', 'scan.bounded.mode' = 'specific-offsets', 'scan.bounded.specific-offsets' = 'partition:0,offset:2'"
            )
            .replace(", 'scan.bounded.mode' = 'latest-offset'", "")
        ),
    )?;
    check(printed.trim() == "+I[2]", || {
        format!("specific offsets: expected +I[2], got\n{printed}")
    })
}

/// A topic that does not exist, and the delivery guarantee Eddy cannot
/// give yet, are clear errors.
fn clear_errors(env: &Env) -> Result<(), String> {
    let run = env.eddy(
        "missing_topic",
        "CREATE TABLE t (id INT) WITH ('connector' = 'kafka', 'topic' = 'no_such_topic', 'properties.bootstrap.servers' = '${BROKER}', 'format' = 'json', 'scan.bounded.mode' = 'latest-offset');
SELECT * FROM t;",
    );
    check(
        !run.ok
            && run
                .stderr
                .contains("Kafka topic 'no_such_topic' of table 't' does not exist"),
        || format!("missing topic: stderr:\n{}", run.stderr),
    )
}

/// The broker goes down while a Kafka -> Kafka job runs and comes back:
/// the job waits and resumes, losing nothing (at-least-once may repeat
/// records). The broker is librdkafka's mock cluster, which can be stopped
/// and started; the job is a separate `eddy` process connected to it.
fn broker_down_and_back(env: &Env) -> Result<(), String> {
    let mock = rdkafka::mocking::MockCluster::new(1).map_err(|e| e.to_string())?;
    for t in ["in", "out"] {
        mock.create_topic(t, 1, 1).map_err(|e| e.to_string())?;
    }
    let kafka = Kafka {
        address: mock.bootstrap_servers(),
    };
    let ids = |range: std::ops::Range<u32>| -> Vec<Record> {
        range.map(|i| value(&format!("{{\"id\":{i}}}"))).collect()
    };
    kafka.produce("in", &ids(0..5_000))?;
    let job = env.start(
        "faults",
        &format!(
            "CREATE TABLE src (id INT) WITH ('connector' = 'kafka', 'topic' = 'in', 'properties.bootstrap.servers' = '{0}', 'format' = 'json');
CREATE TABLE dst (id INT) WITH ('connector' = 'kafka', 'topic' = 'out', 'properties.bootstrap.servers' = '{0}', 'format' = 'json');
INSERT INTO dst SELECT id FROM src;",
            kafka.address
        ),
    )?;
    let result = (|| {
        let first = kafka.consume("out", 5_000)?;
        check(first.len() >= 5_000, || {
            format!("before the fault: {} of 5000 records arrived", first.len())
        })?;
        kafka.produce("in", &ids(5_000..55_000))?;
        mock.broker_down(1).map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_secs(3));
        mock.broker_up(1).map_err(|e| e.to_string())?;
        // librdkafka reconnects with a backoff of up to 10 s. Delivery is
        // at least once: records sent again after the fault count once, so
        // reading goes on until every id came (not until 55,000 records).
        // The ids seen so far, and how many records they came from.
        let seen = std::cell::RefCell::new((0, std::collections::BTreeSet::new()));
        kafka.consume_until("out", Duration::from_secs(90), |records| {
            let (read, ids) = &mut *seen.borrow_mut();
            for r in &records[*read..] {
                ids.insert(r.value.clone().unwrap_or_default());
            }
            *read = records.len();
            ids.len() == 55_000
        })?;
        let seen = seen.into_inner().1;
        let missing: Vec<u32> = (0..55_000)
            .filter(|i| !seen.contains(&format!("{{\"id\":{i}}}")))
            .take(5)
            .collect();
        check(missing.is_empty() && seen.len() == 55_000, || {
            format!(
                "after the broker came back: {} distinct of 55000 records, first missing {missing:?}",
                seen.len()
            )
        })
    })();
    let stderr = job.stop();
    result.map_err(|e| format!("{e}\njob stderr:\n{stderr}"))
}

/// A sink writes the record timestamp from a metadata column and spreads
/// records round-robin.
fn written_metadata(env: &Env) -> Result<(), String> {
    env.broker.create_topic("stamped", 2)?;
    env.eddy_ok(
        "written_metadata",
        "CREATE TABLE stamped (id INT, ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp') WITH ('connector' = 'kafka', 'topic' = 'stamped', 'properties.bootstrap.servers' = '${BROKER}', 'format' = 'json', 'sink.partitioner' = 'round-robin');
INSERT INTO stamped SELECT id, TO_TIMESTAMP_LTZ(1700000000000 + id, 3) FROM (VALUES (1), (2), (3), (4)) AS t(id);",
    )?;
    let got = env.broker.consume("stamped", 4)?;
    let stamps_match = got.iter().all(|r| {
        let id: Option<i64> = r
            .value
            .as_deref()
            .and_then(|v| v.strip_prefix("{\"id\":"))
            .and_then(|v| v.strip_suffix('}'))
            .and_then(|v| v.parse().ok());
        id.is_some_and(|id| r.timestamp == Some(1_700_000_000_000 + id))
    });
    let in_first = got.iter().filter(|r| r.partition == Some(0)).count();
    check(got.len() == 4 && stamps_match && in_first == 2, || {
        format!(
            "stamped: expected 4 records with their ids' timestamps, 2 per partition, got {got:?}"
        )
    })
}

/// An unbounded window aggregate over a topic whose second partition gets
/// no records: with `table.exec.source.idle-timeout` that partition stops
/// holding the watermark back and the windows fire.
fn idle_partition(env: &Env) -> Result<(), String> {
    env.broker.create_topic("half_empty", 2)?;
    env.broker.create_topic("idle_results", 1)?;
    let records: Vec<Record> = [
        r#"{"k":"a","ts":"2024-01-01 10:00:01"}"#,
        r#"{"k":"a","ts":"2024-01-01 10:00:02"}"#,
        r#"{"k":"b","ts":"2024-01-01 10:01:30"}"#,
    ]
    .iter()
    .map(|v| Record {
        partition: Some(0),
        ..value(v)
    })
    .collect();
    env.broker.produce("half_empty", &records)?;
    let job = env.start(
        "idle",
        &format!(
            "SET 'table.exec.source.idle-timeout' = '500 ms';
CREATE TABLE events (k STRING, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'kafka', 'topic' = 'half_empty', 'properties.bootstrap.servers' = '{0}', 'format' = 'json');
CREATE TABLE results (window_start TIMESTAMP(3), n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'idle_results', 'properties.bootstrap.servers' = '{0}', 'format' = 'json');
INSERT INTO results SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '1' MINUTE)) GROUP BY window_start, window_end;",
            env.broker.address
        ),
    )?;
    let got = env.broker.consume("idle_results", 1);
    job.stop();
    let got = got?;
    check(
        got.len() == 1
            && got[0].value.as_deref() == Some(r#"{"window_start":"2024-01-01 10:00:00","n":2}"#),
        || format!("idle_results: expected the first window, got {got:?}"),
    )
}

/// `topic-pattern` reads every matching topic, and a topic created while
/// the job runs is found by partition discovery.
fn pattern_and_discovery(env: &Env) -> Result<(), String> {
    env.broker.create_topic("disc_a", 1)?;
    env.broker.create_topic("disc_results", 1)?;
    env.broker.produce("disc_a", &[value(r#"{"id":1}"#)])?;
    let job = env.start(
        "discovery",
        &format!(
            "CREATE TABLE src (id INT, topic STRING METADATA VIRTUAL) WITH ('connector' = 'kafka', 'topic-pattern' = 'disc_[a-z]', 'properties.bootstrap.servers' = '{0}', 'format' = 'json', 'scan.topic-partition-discovery.interval' = '500 ms');
CREATE TABLE dst (id INT, topic STRING) WITH ('connector' = 'kafka', 'topic' = 'disc_results', 'properties.bootstrap.servers' = '{0}', 'format' = 'json');
INSERT INTO dst SELECT id, topic FROM src;",
            env.broker.address
        ),
    )?;
    let result = (|| {
        let first = env.broker.consume("disc_results", 1)?;
        check(first.len() == 1, || {
            format!("disc_results: the record of disc_a did not arrive: {first:?}")
        })?;
        env.broker.create_topic("disc_b", 1)?;
        env.broker.produce("disc_b", &[value(r#"{"id":2}"#)])?;
        let both = env.broker.consume("disc_results", 2)?;
        let values: Vec<&str> = both.iter().filter_map(|r| r.value.as_deref()).collect();
        check(
            values
                == [
                    r#"{"id":1,"topic":"disc_a"}"#,
                    r#"{"id":2,"topic":"disc_b"}"#,
                ],
            || format!("disc_results: expected a record from each topic, got {values:?}"),
        )
    })();
    job.stop();
    result
}

/// `scan.startup.mode` and `scan.bounded.mode` 'timestamp': from the first
/// record stamped at or after the start time, up to (not including) the
/// first stamped at or after the end time, as Flink's Kafka source reads.
fn startup_and_bound_by_timestamp(env: &Env) -> Result<(), String> {
    env.broker.create_topic("stamped_in", 1)?;
    let t0 = 1_700_000_000_000_i64;
    let records: Vec<Record> = (0..10)
        .map(|i| Record {
            value: Some(format!("{{\"id\":{i}}}")),
            partition: Some(0),
            timestamp: Some(t0 + i * 1000),
            ..Record::default()
        })
        .collect();
    env.broker.produce("stamped_in", &records)?;
    let printed = env.eddy_ok(
        "by_timestamp",
        &format!(
            "CREATE TABLE t (id INT) WITH ('connector' = 'kafka', 'topic' = 'stamped_in', 'properties.bootstrap.servers' = '${{BROKER}}', 'format' = 'json', 'scan.startup.mode' = 'timestamp', 'scan.startup.timestamp-millis' = '{}', 'scan.bounded.mode' = 'timestamp', 'scan.bounded.timestamp-millis' = '{}');
SELECT id FROM t;",
            t0 + 4500,
            t0 + 8000
        ),
    )?;
    let got: Vec<&str> = printed.lines().filter(|l| l.starts_with("+I[")).collect();
    check(got == ["+I[5]", "+I[6]", "+I[7]"], || {
        format!("read {got:?}, expected ids 5, 6 and 7")
    })
}

fn main() -> ExitCode {
    run_cases(
        "kafka",
        vec![
            ("window_aggregate", window_aggregate),
            ("upsert_round_trip", upsert_round_trip),
            ("debezium_in_and_out", debezium_in_and_out),
            (
                "metadata_offsets_and_bad_records",
                metadata_offsets_and_bad_records,
            ),
            ("clear_errors", clear_errors),
            ("written_metadata", written_metadata),
            ("idle_partition", idle_partition),
            ("pattern_and_discovery", pattern_and_discovery),
            ("broker_down_and_back", broker_down_and_back),
            (
                "startup_and_bound_by_timestamp",
                startup_and_bound_by_timestamp,
            ),
        ],
    )
}
