//! The Kafka test bench: a tansu broker started on a free loopback port
//! (killed on drop), a client that creates topics, produces and consumes,
//! and the scratch environment in which cases run `eddy -f` scripts.
//! Shared by tests/kafka.rs, tests/kafka_crash.rs and tests/kafka_broker.rs;
//! each binary uses part of it.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::changelog;

/// A tansu broker on a free port, killed on drop.
pub struct Broker {
    pub child: Child,
    pub kafka: Kafka,
}

/// A client of a Kafka cluster: creates topics, produces and consumes.
pub struct Kafka {
    pub address: String,
}

/// The patched tansu tools/tansu/install.sh builds (`TANSU` overrides).
pub fn tansu() -> Option<PathBuf> {
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
    pub fn start() -> Result<Broker, String> {
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
    pub fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.address);
        c
    }

    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), String> {
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

    /// Produces records (key, value, headers) with the producer's ordinary
    /// batching, as users' producers write (many records per batch), and
    /// waits for them to be acknowledged.
    pub fn produce(&self, topic: &str, records: &[Record]) -> Result<(), String> {
        let producer: BaseProducer = self.config().create().map_err(|e| e.to_string())?;
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
            // A full local queue waits for deliveries, as a producing
            // application would.
            while let Err((e, back)) = producer.send(rec) {
                if e.rdkafka_error_code() != Some(RDKafkaErrorCode::QueueFull) {
                    return Err(e.to_string());
                }
                producer.poll(Duration::from_millis(50));
                rec = back;
            }
        }
        producer
            .flush(Duration::from_secs(120))
            .map_err(|e| e.to_string())
    }

    /// The offset `group` committed for partition `partition` of `topic`.
    pub fn committed(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
    ) -> Result<Option<i64>, String> {
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
    pub fn consume(&self, topic: &str, count: usize) -> Result<Vec<Record>, String> {
        self.consume_within(topic, count, Duration::from_secs(20))
    }

    /// [`Kafka::consume`] waiting up to `wait`.
    pub fn consume_within(
        &self,
        topic: &str,
        count: usize,
        wait: Duration,
    ) -> Result<Vec<Record>, String> {
        self.consume_until(topic, wait, |records| records.len() >= count)
    }

    /// Reads `topic` from the start until what came satisfies `done` (or
    /// `wait` passed), in partition order.
    pub fn consume_until(
        &self,
        topic: &str,
        wait: Duration,
        done: impl Fn(&[Record]) -> bool,
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
        while !done(&out) && Instant::now() < deadline {
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
pub struct Record {
    pub key: Option<String>,
    pub value: Option<String>,
    pub headers: Vec<(String, String)>,
    pub partition: Option<i32>,
    pub timestamp: Option<i64>,
}

pub fn value(v: &str) -> Record {
    Record {
        value: Some(v.into()),
        ..Record::default()
    }
}

pub struct Env<'a> {
    pub broker: &'a Kafka,
    pub dir: PathBuf,
    pub conformance: PathBuf,
}

pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Env<'_> {
    /// Writes a script with `${BROKER}`, `${DATA}` and `${DIR}` (this run's
    /// scratch directory) filled in.
    pub fn script(&self, name: &str, sql: &str) -> Result<PathBuf, String> {
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
    pub fn eddy(&self, name: &str, sql: &str) -> Run {
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
    pub fn eddy_ok(&self, name: &str, sql: &str) -> Result<String, String> {
        let run = self.eddy(name, sql);
        if run.ok {
            Ok(run.stdout)
        } else {
            Err(format!("{name} failed:\n{}", run.stderr))
        }
    }

    /// Starts a script that runs until stopped (an unbounded job); `sql`
    /// is used as written.
    pub fn start(&self, name: &str, sql: &str) -> Result<Job, String> {
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
    pub fn same_as_flink(&self, printed: &str, case: &str) -> Result<(), String> {
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
pub struct Job {
    pub child: Option<Child>,
}

impl Job {
    /// Kills the job; what it wrote to stderr.
    pub fn stop(mut self) -> String {
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

pub fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

/// A test case: runs against the environment, or says what went wrong.
pub type Case = fn(&Env) -> Result<(), String>;

/// Runs the cases whose names contain the command line's filter (all
/// without one) against one broker, printing `test <suite>/<name> ... ok`
/// lines and cargo's closing line.
pub fn run_cases(suite: &str, cases: Vec<(&str, Case)>) -> ExitCode {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
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
            eprintln!("{suite} tests: {e}");
            return ExitCode::FAILURE;
        }
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::temp_dir().join(format!("eddy-{suite}-{}", std::process::id()));
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
                "test {suite}/{name} ... ok ({:.1} s)",
                start.elapsed().as_secs_f64()
            ),
            Err(e) => {
                failed += 1;
                println!("test {suite}/{name} ... FAILED\n{e}");
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
