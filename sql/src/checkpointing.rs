//! The `SET` keys of checkpointing, as Flink names them, turned into the
//! engine's [`CheckpointConfig`] and [`StateBackend`] (the keys, their
//! older names and defaults are registered in [`crate::options`]).
//!
//! | key (Flink's older name) | default |
//! |---|---|
//! | `execution.checkpointing.interval` | none: no periodic checkpoints |
//! | `execution.checkpointing.dir` (`state.checkpoints.dir`) | none: no checkpoints |
//! | `execution.checkpointing.num-retained` (`state.checkpoints.num-retained`) | 1 |
//! | `execution.checkpointing.savepoint-dir` (`state.savepoints.dir`) | the job's checkpoint directory |
//! | `execution.savepoint.path` | the job's latest complete checkpoint |
//! | `state.backend.type` | `hashmap` (or `rocksdb`: the disk backend) |
//! | `state.backend.rocksdb.localdir` | `eddy-state` in the system's temporary directory |
//! | `execution.checkpointing.incremental` (`state.backend.incremental`) | `false` |

use std::path::PathBuf;

use eddy_engine::checkpoint::CheckpointConfig;
use eddy_engine::connector::parse_duration;
use eddy_engine::state::backend::StateBackend;

use crate::error::{Location, Result, SqlError};

/// A set key's value (under its name or an older one), trimmed; `None`
/// when unset or empty.
fn lookup<'a>(get: &impl Fn(&str) -> Option<&'a str>, key: &str) -> Option<&'a str> {
    let aliases = crate::options::find(key).map_or(&[][..], |o| o.aliases);
    let v = get(key).or_else(|| aliases.iter().find_map(|alias| get(alias)));
    v.map(str::trim).filter(|v| !v.is_empty())
}

fn invalid(at: Location, key: &str, v: &str, expected: &str) -> SqlError {
    SqlError::Plan {
        location: at,
        message: format!("Invalid value for '{key}': '{v}' (expected {expected})"),
    }
}

/// Where a job keeps its operators' state, from the session's keys.
pub fn state_backend<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    at: Location,
) -> Result<StateBackend> {
    let incremental = match lookup(&get, "execution.checkpointing.incremental") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Err(invalid(
                at,
                "execution.checkpointing.incremental",
                v,
                "'true' or 'false'",
            ));
        }
    };
    let kind = lookup(&get, "state.backend.type").map(str::to_ascii_lowercase);
    let disk = match kind.as_deref() {
        None | Some("hashmap") => None,
        Some("rocksdb") => Some(
            lookup(&get, "state.backend.rocksdb.localdir")
                .map(|d| PathBuf::from(strip_file_scheme(d)))
                .unwrap_or_else(|| std::env::temp_dir().join("eddy-state")),
        ),
        Some(_) => {
            let v = lookup(&get, "state.backend.type").unwrap_or_default();
            return Err(invalid(
                at,
                "state.backend.type",
                v,
                "'hashmap' or 'rocksdb'",
            ));
        }
    };
    Ok(StateBackend { disk, incremental })
}

/// The checkpointing of a job from the session's keys (`get` gives a set
/// key's value); `None` when the job keeps no checkpoints.
pub fn config<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    at: Location,
) -> Result<Option<CheckpointConfig>> {
    let value = |key: &str| lookup(&get, key);
    let invalid = |key: &str, v: &str, expected: &str| invalid(at, key, v, expected);
    let interval = match value("execution.checkpointing.interval") {
        None => None,
        Some(v) => {
            let d = parse_duration(v).ok_or_else(|| {
                invalid(
                    "execution.checkpointing.interval",
                    v,
                    "a duration such as '10 s'",
                )
            })?;
            (!d.is_zero()).then_some(d)
        }
    };
    let restore_from = value("execution.savepoint.path").map(PathBuf::from);
    let savepoint_dir = value("execution.checkpointing.savepoint-dir");
    // Savepoints alone need no checkpoint directory: their own will do.
    let Some(dir) = value("execution.checkpointing.dir").or(savepoint_dir) else {
        if interval.is_some() || restore_from.is_some() {
            return Err(SqlError::Plan {
                location: at,
                message: "checkpoints need a directory: SET 'execution.checkpointing.dir' = '/path/to/checkpoints' \
                          (Eddy keeps no checkpoints in memory: they would not survive the process)"
                    .into(),
            });
        }
        return Ok(None);
    };
    let retained = match value("execution.checkpointing.num-retained") {
        None => 1,
        Some(v) => v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
            invalid(
                "execution.checkpointing.num-retained",
                v,
                "a positive integer",
            )
        })?,
    };
    Ok(Some(CheckpointConfig {
        interval,
        dir: PathBuf::from(strip_file_scheme(dir)),
        retained,
        savepoint_dir: savepoint_dir.map(|d| PathBuf::from(strip_file_scheme(d))),
        restore_from: restore_from.map(|p| PathBuf::from(strip_file_scheme(&p.to_string_lossy()))),
    }))
}

/// `file:///tmp/x` and `file:/tmp/x` (Flink's way) name the path `/tmp/x`.
fn strip_file_scheme(p: &str) -> String {
    match p.strip_prefix("file://") {
        Some(rest) => rest.to_string(),
        None => p.strip_prefix("file:").unwrap_or(p).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn run(keys: &[(&str, &str)]) -> Result<Option<CheckpointConfig>> {
        let map: HashMap<&str, &str> = keys.iter().copied().collect();
        config(|k| map.get(k).copied(), Location { line: 1, column: 1 })
    }

    #[test]
    fn flink_keys_and_their_older_names_configure_checkpoints() {
        let c = run(&[
            ("execution.checkpointing.interval", "2 s"),
            ("state.checkpoints.dir", "file:///tmp/chk"),
            ("state.checkpoints.num-retained", "3"),
        ])
        .expect("valid")
        .expect("checkpointing");
        assert_eq!(c.interval, Some(std::time::Duration::from_secs(2)));
        assert_eq!(c.dir, PathBuf::from("/tmp/chk"));
        assert_eq!(c.retained, 3);
        assert_eq!(run(&[]).expect("valid"), None);
    }

    #[test]
    fn an_interval_without_a_directory_or_a_bad_value_is_refused() {
        let err = run(&[("execution.checkpointing.interval", "1 s")]).expect_err("refused");
        assert!(
            err.to_string().contains("'execution.checkpointing.dir'"),
            "{err}"
        );
        let err = run(&[
            ("execution.checkpointing.dir", "/tmp/x"),
            ("execution.checkpointing.interval", "soon"),
        ])
        .expect_err("refused");
        assert!(err.to_string().contains("'soon'"), "{err}");
    }

    #[test]
    fn the_state_backend_is_hashmap_or_rocksdb_and_may_checkpoint_incrementally() {
        let backend = |keys: &[(&str, &str)]| {
            let map: HashMap<&str, &str> = keys.iter().copied().collect();
            state_backend(|k| map.get(k).copied(), Location { line: 1, column: 1 })
        };
        assert_eq!(backend(&[]).expect("valid"), StateBackend::default());
        let disk = backend(&[
            ("state.backend.type", "RocksDB"),
            ("state.backend.rocksdb.localdir", "file:///tmp/eddy-local"),
            ("state.backend.incremental", "true"),
        ])
        .expect("valid");
        assert_eq!(disk.disk, Some(PathBuf::from("/tmp/eddy-local")));
        assert!(disk.incremental);
        let err = backend(&[("state.backend.type", "forst")]).expect_err("refused");
        assert!(err.to_string().contains("'hashmap' or 'rocksdb'"), "{err}");
        let err = backend(&[("execution.checkpointing.incremental", "yes")]).expect_err("refused");
        assert!(err.to_string().contains("'true' or 'false'"), "{err}");
    }
}
