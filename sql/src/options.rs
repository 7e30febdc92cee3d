//! The configuration options a session knows: one typed registry that
//! `SET` validates against and warns from, that `SET;` lists, that the
//! shell completes, and that `docs/options.md` is generated from (a test
//! fails when that file is stale).
//!
//! Each option says whose it is (Flink's, or Eddy's own), its default,
//! what values it takes, and whether Eddy acts on it. `SET` of an option
//! Eddy does not act on is accepted, as in Flink, with a warning that
//! names it; so is `SET` of a key no one here knows.

use std::fmt::Write as _;

use eddy_engine::connector::parse_duration;

/// Whose option it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Flink's (same key, same meaning).
    Flink,
    /// Eddy's own.
    Eddy,
}

/// What values an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any text.
    Text,
    /// A path or `file:` URI.
    Path,
    /// `true` or `false`.
    Bool,
    /// An integer above zero.
    PositiveInt,
    /// A Flink duration (`10 s`, `1 min`, `500 ms`; a bare number is ms).
    Duration,
    /// One of these words, in any case.
    OneOf(&'static [&'static str]),
}

impl Kind {
    /// Checks `value`; the error says what was expected.
    pub fn check(self, value: &str) -> Result<(), String> {
        let v = value.trim();
        let ok = match self {
            Kind::Text | Kind::Path => true,
            Kind::Bool => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
            Kind::PositiveInt => v.parse::<usize>().is_ok_and(|n| n > 0),
            Kind::Duration => parse_duration(v).is_some(),
            Kind::OneOf(words) => words.iter().any(|w| w.eq_ignore_ascii_case(v)),
        };
        if ok { Ok(()) } else { Err(self.expected()) }
    }

    /// What a value of this kind looks like, for errors and the docs.
    pub fn expected(self) -> String {
        match self {
            Kind::Text => "text".into(),
            Kind::Path => "a path".into(),
            Kind::Bool => "'true' or 'false'".into(),
            Kind::PositiveInt => "a positive integer".into(),
            Kind::Duration => "a duration such as '10 s'".into(),
            Kind::OneOf(words) => {
                let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
                format!("one of {}", quoted.join(", "))
            }
        }
    }
}

/// Whether Eddy acts on an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// It does, for every valid value.
    Acts,
    /// It does for these values only (in any case); for others `SET`
    /// warns with the reason.
    OnlyFor(&'static [&'static str], &'static str),
    /// It does not; `SET` warns with the reason.
    Ignored(&'static str),
}

/// One configuration option.
#[derive(Debug, Clone, Copy)]
pub struct ConfigOption {
    /// The key, as `SET` names it.
    pub key: &'static str,
    /// Older names of the same option (Flink's deprecated keys).
    pub aliases: &'static [&'static str],
    /// Whose it is.
    pub owner: Owner,
    /// Its value when not set (`""`: none).
    pub default: &'static str,
    /// What values it takes.
    pub kind: Kind,
    /// Whether Eddy acts on it.
    pub effect: Effect,
    /// One line of what it does.
    pub doc: &'static str,
}

const fn flink(
    key: &'static str,
    default: &'static str,
    kind: Kind,
    doc: &'static str,
) -> ConfigOption {
    ConfigOption {
        key,
        aliases: &[],
        owner: Owner::Flink,
        default,
        kind,
        effect: Effect::Acts,
        doc,
    }
}

const fn ignored(
    key: &'static str,
    default: &'static str,
    kind: Kind,
    why: &'static str,
) -> ConfigOption {
    ConfigOption {
        key,
        aliases: &[],
        owner: Owner::Flink,
        default,
        kind,
        effect: Effect::Ignored(why),
        doc: why,
    }
}

const fn aliased(mut o: ConfigOption, aliases: &'static [&'static str]) -> ConfigOption {
    o.aliases = aliases;
    o
}

/// Every option, in the order `SET;` and `docs/options.md` list them.
pub const OPTIONS: &[ConfigOption] = &[
    flink(
        "parallelism.default",
        "1",
        Kind::PositiveInt,
        "Subtasks of each parallel operator of a job.",
    ),
    flink(
        "pipeline.name",
        "",
        Kind::Text,
        "The name of the next job (by default Flink's `insert-into_<table>-<n>` or `collect-<n>`).",
    ),
    ConfigOption {
        effect: Effect::OnlyFor(
            &["streaming", "batch"],
            "Eddy runs 'automatic' as 'streaming'; set 'batch' for final rows only",
        ),
        ..flink(
            "execution.runtime-mode",
            "streaming",
            Kind::OneOf(&["streaming", "batch", "automatic"]),
            "Streaming or batch execution.",
        )
    },
    flink(
        "table.dml-sync",
        "false",
        Kind::Bool,
        "Whether a script waits for each INSERT job before the next statement.",
    ),
    flink(
        "sql-client.execution.result-mode",
        "table",
        Kind::OneOf(&["table", "changelog", "tableau"]),
        "How the shell shows a query's rows.",
    ),
    flink(
        "table.exec.source.idle-timeout",
        "0 ms",
        Kind::Duration,
        "After this long without rows a source partition stops holding back the watermark (0: never).",
    ),
    flink(
        "table.exec.state.ttl",
        "0 ms",
        Kind::Duration,
        "How long keyed state is kept after its last update (0: forever).",
    ),
    ConfigOption {
        owner: Owner::Eddy,
        ..flink(
            "table.exec.late-data.sink",
            "",
            Kind::Text,
            "A table that receives the rows windows and joins drop as late (none: they are counted and dropped).",
        )
    },
    ConfigOption {
        effect: Effect::OnlyFor(
            &["UTC"],
            "Eddy evaluates TIMESTAMP_LTZ and the current-time functions in UTC for now",
        ),
        ..flink(
            "table.local-time-zone",
            "UTC",
            Kind::Text,
            "The session time zone of TIMESTAMP_LTZ values.",
        )
    },
    flink(
        "execution.checkpointing.interval",
        "",
        Kind::Duration,
        "Time between periodic checkpoints (none: savepoints only).",
    ),
    aliased(
        flink(
            "execution.checkpointing.dir",
            "",
            Kind::Path,
            "Where checkpoints go, under `<dir>/<job name>/` (none: no checkpoints).",
        ),
        &["state.checkpoints.dir"],
    ),
    aliased(
        flink(
            "execution.checkpointing.num-retained",
            "1",
            Kind::PositiveInt,
            "Complete checkpoints kept.",
        ),
        &["state.checkpoints.num-retained"],
    ),
    aliased(
        flink(
            "execution.checkpointing.savepoint-dir",
            "",
            Kind::Path,
            "Where savepoints go (none: the job's checkpoint directory).",
        ),
        &["state.savepoints.dir"],
    ),
    flink(
        "execution.savepoint.path",
        "",
        Kind::Path,
        "A checkpoint or savepoint to restore the next job from (none: the job's latest complete checkpoint).",
    ),
    flink(
        "state.backend.type",
        "hashmap",
        Kind::OneOf(&["hashmap", "rocksdb"]),
        "`hashmap` keeps state in memory; `rocksdb` spills it to disk (Eddy's disk backend, not RocksDB).",
    ),
    flink(
        "state.backend.rocksdb.localdir",
        "",
        Kind::Path,
        "Where the disk backend keeps its files (none: `eddy-state` in the system's temporary directory).",
    ),
    aliased(
        flink(
            "execution.checkpointing.incremental",
            "false",
            Kind::Bool,
            "Whether checkpoints write only what changed since the last one.",
        ),
        &["state.backend.incremental"],
    ),
    ignored(
        "execution.checkpointing.mode",
        "EXACTLY_ONCE",
        Kind::OneOf(&["EXACTLY_ONCE", "AT_LEAST_ONCE"]),
        "Eddy's checkpoints are always exactly-once (aligned barriers)",
    ),
    ignored(
        "execution.checkpointing.timeout",
        "10 min",
        Kind::Duration,
        "Eddy does not time checkpoints out; one is in flight at a time",
    ),
    ignored(
        "execution.checkpointing.min-pause",
        "0 ms",
        Kind::Duration,
        "Eddy starts the next checkpoint at the next interval",
    ),
    ignored(
        "table.exec.mini-batch.enabled",
        "false",
        Kind::Bool,
        "Eddy always works on batches of rows; the setting changes no result",
    ),
    ignored(
        "table.exec.mini-batch.allow-latency",
        "0 ms",
        Kind::Duration,
        "Eddy always works on batches of rows; the setting changes no result",
    ),
    ignored(
        "table.exec.mini-batch.size",
        "-1",
        Kind::Text,
        "Eddy always works on batches of rows; the setting changes no result",
    ),
    ignored(
        "table.optimizer.agg-phase-strategy",
        "AUTO",
        Kind::OneOf(&["AUTO", "ONE_PHASE", "TWO_PHASE"]),
        "Eddy plans aggregations in one phase; the setting changes no result",
    ),
    ignored(
        "table.exec.resource.default-parallelism",
        "-1",
        Kind::Text,
        "Eddy uses 'parallelism.default' for every operator",
    ),
];

/// The option named `key` (or by one of its older names).
pub fn find(key: &str) -> Option<&'static ConfigOption> {
    OPTIONS
        .iter()
        .find(|o| o.key == key || o.aliases.contains(&key))
}

/// What `SET key = value` does beyond storing it.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Eddy acts on it.
    Applied,
    /// Stored, but Eddy does not act on it: the warning says why.
    Warn(String),
}

/// Validates `SET key = value`: an invalid value of a known option is an
/// error (Flink's wording: `Invalid value for 'k': 'v' (expected ..)`);
/// a value Eddy does not act on, or a key it does not know, is a warning.
pub fn check_set(key: &str, value: &str) -> Result<Verdict, String> {
    let Some(option) = find(key) else {
        return Ok(Verdict::Warn(unknown_key(key)));
    };
    option.kind.check(value).map_err(|expected| {
        format!("Invalid value for '{key}': '{value}' (expected {expected})")
    })?;
    Ok(match option.effect {
        Effect::Acts => Verdict::Applied,
        Effect::OnlyFor(values, _)
            if values.iter().any(|v| v.eq_ignore_ascii_case(value.trim())) =>
        {
            Verdict::Applied
        }
        Effect::OnlyFor(_, why) => {
            Verdict::Warn(format!("'{key}' = '{value}' is not applied: {why}."))
        }
        Effect::Ignored(why) => Verdict::Warn(format!("'{key}' has no effect in Eddy: {why}.")),
    })
}

/// The warning for a key nobody here knows: it names the known keys that
/// share its first part, or says where they are all listed.
fn unknown_key(key: &str) -> String {
    let prefix = key.split('.').next().unwrap_or(key);
    let near: Vec<&str> = OPTIONS
        .iter()
        .map(|o| o.key)
        .filter(|k| k.split('.').next() == Some(prefix))
        .collect();
    let hint = if near.is_empty() {
        "docs/options.md lists the options Eddy knows".to_string()
    } else {
        format!(
            "the options Eddy knows under '{prefix}.' are {}",
            near.join(", ")
        )
    };
    format!("'{key}' is not an option Eddy knows; it is stored but nothing reads it ({hint}).")
}

/// `docs/options.md`: every option, as a table per owner.
pub fn markdown() -> String {
    let mut s = String::from(
        "# Configuration options\n\n\
         Generated from `sql/src/options.rs` (the test `options_doc_is_current` fails when this \
         file is stale; `EDDY_WRITE_OPTIONS_DOC=1 cargo test --workspace --lib options_doc` \
         writes it). `SET 'key' = 'value'` checks the value; an option Eddy does not act on, or a \
         key it does not know, is stored with a warning that names it.\n",
    );
    for (owner, title) in [
        (Owner::Flink, "Flink's options"),
        (Owner::Eddy, "Eddy's own options"),
    ] {
        let _ = write!(
            s,
            "\n## {title}\n\n| key | default | values | Eddy acts on it | what it does |\n|---|---|---|---|---|\n"
        );
        for o in OPTIONS.iter().filter(|o| o.owner == owner) {
            let mut key = format!("`{}`", o.key);
            for a in o.aliases {
                let _ = write!(key, " (older: `{a}`)");
            }
            let default = if o.default.is_empty() {
                "none".to_string()
            } else {
                format!("`{}`", o.default)
            };
            let acts = match o.effect {
                Effect::Acts => "yes".to_string(),
                Effect::OnlyFor(values, _) => format!("only for `{}`", values.join("`, `")),
                Effect::Ignored(_) => "no".to_string(),
            };
            let doc = match o.effect {
                Effect::OnlyFor(_, why) => format!("{} {why}.", o.doc),
                _ => o.doc.to_string(),
            };
            let _ = writeln!(
                s,
                "| {key} | {default} | {} | {acts} | {} |",
                o.kind.expected().replace('|', "\\|"),
                doc.replace('|', "\\|")
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_and_what_eddy_ignores_is_named() {
        assert_eq!(check_set("parallelism.default", "2"), Ok(Verdict::Applied));
        let err = check_set("parallelism.default", "0").expect_err("refused");
        assert!(
            err.contains("'parallelism.default'") && err.contains("positive integer"),
            "{err}"
        );
        assert!(check_set("table.exec.state.ttl", "soon").is_err());
        assert_eq!(
            check_set("state.checkpoints.dir", "/tmp/c"),
            Ok(Verdict::Applied)
        );
        assert_eq!(
            check_set("table.local-time-zone", "utc"),
            Ok(Verdict::Applied)
        );
        let Ok(Verdict::Warn(w)) = check_set("table.local-time-zone", "Europe/Berlin") else {
            panic!("a zone other than UTC is warned about");
        };
        assert!(w.contains("UTC"), "{w}");
        let Ok(Verdict::Warn(w)) = check_set("execution.runtime-mode", "automatic") else {
            panic!("automatic mode is warned about");
        };
        assert!(w.contains("streaming"), "{w}");
        let Ok(Verdict::Warn(w)) = check_set("table.exec.mini-batch.enabled", "true") else {
            panic!("an ignored option is warned about");
        };
        assert!(w.contains("no effect"), "{w}");
        let Ok(Verdict::Warn(w)) = check_set("table.exec.sate.ttl", "1 h") else {
            panic!("an unknown key is warned about");
        };
        assert!(w.contains("table.exec.state.ttl"), "{w}");
    }

    #[test]
    fn every_key_and_alias_is_listed_once() {
        let mut names: Vec<&str> = OPTIONS
            .iter()
            .flat_map(|o| std::iter::once(o.key).chain(o.aliases.iter().copied()))
            .collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all, "a key is listed twice");
        for o in OPTIONS.iter().filter(|o| !o.default.is_empty()) {
            if o.kind != Kind::Text {
                assert_eq!(o.kind.check(o.default), Ok(()), "{}'s default", o.key);
            }
        }
    }

    #[test]
    fn options_doc_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/options.md");
        let want = markdown();
        if std::env::var_os("EDDY_WRITE_OPTIONS_DOC").is_some() {
            std::fs::write(&path, &want).expect("write docs/options.md");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/options.md is stale: run `EDDY_WRITE_OPTIONS_DOC=1 cargo test --workspace --lib options_doc`"
        );
    }
}
