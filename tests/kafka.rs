//! Kafka end to end, against a real Kafka-compatible broker: tansu, started
//! here on a free loopback port with in-memory storage and killed at the
//! end. Each case creates its topics, runs `eddy -f` scripts that read and
//! write them, and checks what reached the topics and what the scripts
//! printed. Where Flink can produce the expected rows, they are the `.out`
//! of a conformance case that runs the same query over a file.
//!
//! The broker is tansu 0.6.0 with one patch, built by tools/tansu/install.sh
//! (`TANSU` overrides); the README's test command runs it. The patch makes
//! read-committed fetches name aborted transactions, which the exactly-once
//! crash test needs (tools/tansu/README.md).
//!
//! tansu 0.6 answers a ListOffsets for the latest offset with the base
//! offset of the last record batch plus one, not the offset after the last
//! record. Scripts that write topics later read to their end (bounded
//! `latest-offset`) therefore produce one record per batch
//! (`properties.batch.num.messages` = 1).
//!
//! tansu 0.6 also answers every lookup of offsets by timestamp with offset
//! 0, so the `timestamp` startup and bounded modes are not tested here.
//!
//! `cargo test -p eddy-shell --test kafka [-- FILTER]`

#[path = "support/changelog.rs"]
mod changelog;
#[path = "support/crash.rs"]
mod crash;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

/// A tansu broker on a free port, killed on drop.
struct Broker {
    child: Child,
    kafka: Kafka,
}

/// A client of a Kafka cluster: creates topics, produces and consumes.
struct Kafka {
    address: String,
}

/// The patched tansu tools/tansu/install.sh builds (`TANSU` overrides).
fn tansu() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("TANSU") {
        return Some(PathBuf::from(p));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from(std::env::var_os("HOME")?).join(".local/share")))?;
    let p = data.join("eddy/tansu/bin/tansu");
    p.is_file().then_some(p)
}

impl Broker {
    fn start() -> Result<Broker, String> {
        let bin = tansu().ok_or(
            "the test broker is not installed: run tools/tansu/install.sh (the README's test command does)",
        )?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "memory://tansu/",
                "--silent",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting tansu: {e}"))?;
        let broker = Broker {
            child,
            kafka: Kafka {
                address: format!("127.0.0.1:{port}"),
            },
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(&broker.kafka.address).is_err() {
            if Instant::now() > deadline {
                return Err("tansu did not start listening within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(broker)
    }
}

impl Kafka {
    fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.address);
        c
    }

    fn create_topic(&self, name: &str, partitions: i32) -> Result<(), String> {
        let admin: AdminClient<DefaultClientContext> =
            self.config().create().map_err(|e| e.to_string())?;
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let results =
            futures::executor::block_on(admin.create_topics([&topic], &AdminOptions::new()))
                .map_err(|e| e.to_string())?;
        for r in results {
            r.map_err(|(t, e)| format!("creating topic {t}: {e}"))?;
        }
        Ok(())
    }

    /// Produces records (key, value, headers), one per batch, and waits
    /// for them to be acknowledged.
    fn produce(&self, topic: &str, records: &[Record]) -> Result<(), String> {
        let producer: BaseProducer = self
            .config()
            .set("batch.num.messages", "1")
            .create()
            .map_err(|e| e.to_string())?;
        for r in records {
            let mut headers = OwnedHeaders::new();
            for (k, v) in &r.headers {
                headers = headers.insert(Header {
                    key: k,
                    value: Some(v.as_bytes()),
                });
            }
            let mut rec: BaseRecord<'_, str, str> = BaseRecord::to(topic).headers(headers);
            if let Some(k) = &r.key {
                rec = rec.key(k);
            }
            if let Some(v) = &r.value {
                rec = rec.payload(v);
            }
            if let Some(p) = r.partition {
                rec = rec.partition(p);
            }
            if let Some(t) = r.timestamp {
                rec = rec.timestamp(t);
            }
            producer.send(rec).map_err(|(e, _)| e.to_string())?;
        }
        producer
            .flush(Duration::from_secs(120))
            .map_err(|e| e.to_string())
    }

    /// The offset `group` committed for partition `partition` of `topic`.
    fn committed(&self, group: &str, topic: &str, partition: i32) -> Result<Option<i64>, String> {
        let consumer: BaseConsumer = self
            .config()
            .set("group.id", group)
            .create()
            .map_err(|e| e.to_string())?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(topic, partition);
        let found = consumer
            .committed_offsets(tpl, Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        Ok(found
            .find_partition(topic, partition)
            .and_then(|e| match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            }))
    }

    /// Reads `topic` from the start until `count` records came (or 20 s
    /// passed), in partition order.
    fn consume(&self, topic: &str, count: usize) -> Result<Vec<Record>, String> {
        self.consume_within(topic, count, Duration::from_secs(20))
    }

    /// [`Kafka::consume`] waiting up to `wait`.
    fn consume_within(
        &self,
        topic: &str,
        count: usize,
        wait: Duration,
    ) -> Result<Vec<Record>, String> {
        let consumer: BaseConsumer = self
            .config()
            .set("group.id", "eddy-test")
            .set("enable.auto.commit", "false")
            .create()
            .map_err(|e| e.to_string())?;
        let md = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        let mut tpl = TopicPartitionList::new();
        for t in md.topics() {
            for p in t.partitions() {
                tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
                    .map_err(|e| e.to_string())?;
            }
        }
        consumer.assign(&tpl).map_err(|e| e.to_string())?;
        let mut out = vec![];
        let deadline = Instant::now() + wait;
        while out.len() < count && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => out.push(Record {
                    key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    value: m.payload().map(|v| String::from_utf8_lossy(v).into_owned()),
                    headers: m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| {
                                    (
                                        h.key.to_string(),
                                        String::from_utf8_lossy(h.value.unwrap_or_default())
                                            .into_owned(),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    partition: Some(m.partition()),
                    timestamp: m.timestamp().to_millis(),
                }),
                Some(Err(e)) => return Err(e.to_string()),
                None => {}
            }
        }
        out.sort_by_key(|r| r.partition);
        Ok(out)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // tansu exits on SIGKILL, not always on SIGTERM.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Default)]
struct Record {
    key: Option<String>,
    value: Option<String>,
    headers: Vec<(String, String)>,
    partition: Option<i32>,
    timestamp: Option<i64>,
}

fn value(v: &str) -> Record {
    Record {
        value: Some(v.into()),
        ..Record::default()
    }
}

struct Env<'a> {
    broker: &'a Kafka,
    dir: PathBuf,
    conformance: PathBuf,
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Env<'_> {
    /// Writes a script with `${BROKER}`, `${DATA}` and `${DIR}` (this run's
    /// scratch directory) filled in.
    fn script(&self, name: &str, sql: &str) -> Result<PathBuf, String> {
        let script = sql
            .replace("${BROKER}", &self.broker.address)
            .replace(
                "${DATA}",
                &self.conformance.join("data").display().to_string(),
            )
            .replace("${DIR}", &self.dir.display().to_string());
        let file = self.dir.join(format!("{name}.sql"));
        std::fs::write(&file, script).map_err(|e| e.to_string())?;
        Ok(file)
    }

    /// Runs a script with `${BROKER}` and `${DATA}` filled in.
    fn eddy(&self, name: &str, sql: &str) -> Run {
        let file = match self.script(name, sql) {
            Ok(f) => f,
            Err(e) => {
                return Run {
                    ok: false,
                    stdout: String::new(),
                    stderr: e,
                };
            }
        };
        match Command::new(env!("CARGO_BIN_EXE_eddy"))
            .arg("-f")
            .arg(&file)
            .output()
        {
            Ok(o) => Run {
                ok: o.status.success(),
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            },
            Err(e) => Run {
                ok: false,
                stdout: String::new(),
                stderr: e.to_string(),
            },
        }
    }

    /// Runs a script that must succeed; its stdout.
    fn eddy_ok(&self, name: &str, sql: &str) -> Result<String, String> {
        let run = self.eddy(name, sql);
        if run.ok {
            Ok(run.stdout)
        } else {
            Err(format!("{name} failed:\n{}", run.stderr))
        }
    }

    /// Starts a script that runs until stopped (an unbounded job); `sql`
    /// is used as written.
    fn start(&self, name: &str, sql: &str) -> Result<Job, String> {
        let file = self.dir.join(format!("{name}.sql"));
        std::fs::write(&file, sql).map_err(|e| e.to_string())?;
        let child = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .arg("-f")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        Ok(Job { child: Some(child) })
    }

    /// Checks printed rows against a conformance case's `.out` (Flink's
    /// output for the same query over a file), after folding changelogs.
    fn same_as_flink(&self, printed: &str, case: &str) -> Result<(), String> {
        let path = self.conformance.join(case);
        let expected =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let expected = changelog::fold(&expected)?;
        let got = changelog::fold(printed)?;
        if expected.rows == got.rows {
            Ok(())
        } else {
            Err(format!(
                "rows differ from Flink's ({case}):\n{}",
                changelog::diff(&expected, &got)
            ))
        }
    }
}

/// A running `eddy` process, killed when stopped or dropped.
struct Job {
    child: Option<Child>,
}

impl Job {
    /// Kills the job; what it wrote to stderr.
    fn stop(mut self) -> String {
        let Some(mut child) = self.child.take() else {
            return String::new();
        };
        let _ = child.kill();
        child
            .wait_with_output()
            .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

/// The orders of the conformance data, written to a two-partition topic
/// by Eddy (filesystem -> kafka, keyed by customer).
fn produce_orders(env: &Env, topic: &str) -> Result<(), String> {
    env.broker.create_topic(topic, 2)?;
    env.eddy_ok(
        "produce_orders",
        &format!(
            "CREATE TABLE orders_file (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'filesystem', 'path' = '${{DATA}}/orders.csv', 'format' = 'csv');
CREATE TABLE orders_kafka (id INT, customer STRING, amount DECIMAL(10, 2), price DOUBLE, qty INT, ts TIMESTAMP(3), status STRING) WITH ('connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '${{BROKER}}', 'properties.batch.num.messages' = '1', 'format' = 'json', 'key.format' = 'json', 'key.fields' = 'customer');
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
CREATE TABLE results (window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT, total_qty INT, min_price DOUBLE, max_amount DECIMAL(10, 2), avg_price DOUBLE) WITH ('connector' = 'kafka', 'topic' = '{out}', 'properties.bootstrap.servers' = '${{BROKER}}', 'properties.batch.num.messages' = '1', 'format' = 'json');
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
    let table = "CREATE TABLE totals (status STRING, n BIGINT, q INT, p DOUBLE, c STRING, a INT, PRIMARY KEY (status) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'status_totals', 'properties.bootstrap.servers' = '${BROKER}', 'properties.batch.num.messages' = '1', 'key.format' = 'json', 'value.format' = 'json', 'scan.bounded.mode' = 'latest-offset');";
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
CREATE TABLE cdc_out (id INT, name STRING, category STRING, weight DOUBLE) WITH ('connector' = 'kafka', 'topic' = 'cdc_out', 'properties.bootstrap.servers' = '${{BROKER}}', 'properties.batch.num.messages' = '1', 'format' = 'debezium-json');
CREATE TABLE upserts (id INT, name STRING, category STRING, weight DOUBLE, PRIMARY KEY (id) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 'products_upsert', 'properties.bootstrap.servers' = '${{BROKER}}', 'properties.batch.num.messages' = '1', 'key.format' = 'json', 'value.format' = 'json');
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
        // librdkafka reconnects with a backoff of up to 10 s.
        let all = kafka.consume_within("out", 55_000, Duration::from_secs(90))?;
        let mut seen = std::collections::BTreeSet::new();
        for r in &all {
            seen.insert(r.value.clone().unwrap_or_default());
        }
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

type Case = fn(&Env) -> Result<(), String>;

/// An updating aggregate from Kafka into upsert-kafka, checkpointing, killed
/// with SIGKILL at seeded moments and restarted: the upsert topic read as a
/// table ends equal to that of an uninterrupted run. (At least once: a
/// replay after a restore writes some upserts again, which changes no key's
/// final value.)
/// Source options that make the crash tests read in small fetches (tansu
/// waits out `fetch.wait.max.ms` on each): reading, not starting, then
/// takes most of a run, so the kills land while data flows.
const SLOW_FETCH: &str = "'properties.max.partition.fetch.bytes' = '65536', 'properties.fetch.max.bytes' = '65536', 'properties.message.max.bytes' = '65536'";

fn crash_into_upsert_kafka(env: &Env) -> Result<(), String> {
    env.broker.create_topic("clicks_crash", 2)?;
    let mut rng = crash::Rng::seeded(7);
    let records: Vec<Record> = (0..40_000)
        .map(|i| value(&format!("{{\"u\":\"u{}\",\"n\":{i}}}", rng.below(30))))
        .collect();
    env.broker.produce("clicks_crash", &records)?;
    let job = |out: &str| {
        format!(
            "SET 'execution.checkpointing.interval' = '50 ms';
SET 'execution.checkpointing.dir' = '${{DIR}}/chk-{out}';
CREATE TABLE clicks (u STRING, n BIGINT) WITH ('connector' = 'kafka', 'topic' = 'clicks_crash', 'properties.bootstrap.servers' = '${{BROKER}}', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', {SLOW_FETCH});
CREATE TABLE totals (u STRING, c BIGINT, s BIGINT, PRIMARY KEY (u) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = '{out}', 'properties.bootstrap.servers' = '${{BROKER}}', 'properties.batch.num.messages' = '1', 'key.format' = 'json', 'value.format' = 'json');
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

/// Produces 40 000 clicks of 30 users, 10 ms apart, into `topic`.
fn produce_clicks(env: &Env, topic: &str) -> Result<(), String> {
    env.broker.create_topic(topic, 2)?;
    let mut rng = crash::Rng::seeded(11);
    let records: Vec<Record> = (0..40_000u64)
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

/// The test broker hides aborted transactions from read-committed readers
/// (what tools/tansu's patch adds): the exactly-once test relies on it.
fn broker_hides_aborted_transactions(env: &Env) -> Result<(), String> {
    env.broker.create_topic("txn_check", 1)?;
    let producer: BaseProducer = env
        .broker
        .config()
        .set("transactional.id", "txn-check")
        .create()
        .map_err(|e| e.to_string())?;
    let t = Duration::from_secs(30);
    producer.init_transactions(t).map_err(|e| e.to_string())?;
    for (text, commit) in [("a", true), ("b", false), ("c", true)] {
        producer.begin_transaction().map_err(|e| e.to_string())?;
        producer
            .send(BaseRecord::<str, str>::to("txn_check").payload(text))
            .map_err(|(e, _)| e.to_string())?;
        producer.flush(t).map_err(|e| e.to_string())?;
        if commit {
            producer.commit_transaction(t)
        } else {
            producer.abort_transaction(t)
        }
        .map_err(|e| e.to_string())?;
    }
    let got: Vec<String> = env
        .broker
        .consume_within("txn_check", 3, Duration::from_secs(5))?
        .into_iter()
        .filter_map(|r| r.value)
        .collect();
    check(got == ["a", "c"], || {
        format!("read committed saw {got:?}, expected [a, c]")
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
    check(expected.len() == 40_000, || {
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
        let run = crash::run_and_kill(&first, span / 2)?;
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

fn main() -> ExitCode {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let cases: Vec<(&str, Case)> = vec![
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
        ("crash_into_upsert_kafka", crash_into_upsert_kafka),
        ("crash_window_into_files", crash_window_into_files),
        (
            "broker_hides_aborted_transactions",
            broker_hides_aborted_transactions,
        ),
        (
            "crash_into_kafka_exactly_once",
            crash_into_kafka_exactly_once,
        ),
    ];
    let cases: Vec<_> = cases
        .into_iter()
        .filter(|(n, _)| filter.as_deref().is_none_or(|f| n.contains(f)))
        .collect();
    if cases.is_empty() {
        return ExitCode::SUCCESS;
    }
    let broker = match Broker::start() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("kafka tests: {e}");
            return ExitCode::FAILURE;
        }
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::temp_dir().join(format!("eddy-kafka-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let env = Env {
        broker: &broker.kafka,
        dir: dir.clone(),
        conformance: root.join("tests/conformance"),
    };
    let mut failed = 0;
    for (name, case) in &cases {
        let start = Instant::now();
        match case(&env) {
            Ok(()) => println!(
                "test kafka/{name} ... ok ({:.1} s)",
                start.elapsed().as_secs_f64()
            ),
            Err(e) => {
                failed += 1;
                println!("test kafka/{name} ... FAILED\n{e}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "\ntest result: {}. {} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        cases.len() - failed
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
