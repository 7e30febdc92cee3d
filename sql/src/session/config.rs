//! The session's configuration: `SET`, `RESET` and `SET;`, checked
//! against the registry of options ([`crate::options`]). A key is stored
//! under its current name when it is given by an older one.

use std::collections::BTreeMap;

use super::{Outcome, Session};
use crate::error::{Location, Result, SqlError};
use crate::options::{self, Verdict};

impl Session {
    /// The value of a configuration key: as `SET`, or the option's default
    /// (`""` where it has none); `None` for an unknown key never set.
    pub fn config(&self, key: &str) -> Option<&str> {
        let option = options::find(key);
        let key = option.map_or(key, |o| o.key);
        self.config
            .get(key)
            .map(String::as_str)
            .or(option.map(|o| o.default))
    }

    /// Whether `key` was `SET` (not left at its default).
    pub fn is_set(&self, key: &str) -> bool {
        self.config
            .contains_key(options::find(key).map_or(key, |o| o.key))
    }

    /// Sets a configuration key as `SET 'k' = 'v'` does: an invalid value
    /// of a known option is an error; a value Eddy does not act on, or a
    /// key it does not know, is stored with a warning
    /// ([`Session::take_warnings`]).
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let verdict = options::check_set(key, value).map_err(|message| SqlError::Plan {
            location: Location::default(),
            message,
        })?;
        if let Verdict::Warn(w) = verdict {
            self.warnings.push(w);
        }
        let key = options::find(key).map_or(key, |o| o.key);
        self.config.insert(key.to_string(), value.to_string());
        Ok(())
    }

    /// Resets one key (`RESET 'k'`) or all of them (`RESET`).
    pub fn reset(&mut self, key: Option<&str>) {
        match key {
            None => self.config.clear(),
            Some(k) => {
                self.config.remove(options::find(k).map_or(k, |o| o.key));
            }
        }
    }

    /// The warnings of the statements run since the last call: options set
    /// that Eddy does not act on, by name.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    pub(super) fn parallelism(&self) -> usize {
        self.config("parallelism.default")
            .and_then(|p| p.parse().ok())
            .unwrap_or(1)
    }

    /// `SET;`: every known option with its value, and the keys set that
    /// no option names.
    pub(super) fn list_config(&self) -> Outcome {
        let mut all: BTreeMap<String, String> = options::OPTIONS
            .iter()
            .map(|o| (o.key.to_string(), o.default.to_string()))
            .collect();
        all.extend(self.config.clone());
        Outcome::Rows {
            header: vec!["key".into(), "value".into()],
            rows: all.into_iter().map(|(k, v)| vec![k, v]).collect(),
        }
    }
}
