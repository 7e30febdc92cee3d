//! The properties of a stream, and how a new node derives them from its
//! inputs'.

use eddy_engine::graph::{Edge, Partitioning};

/// Which row kinds a stream carries (Flink's changelog mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangelogMode {
    /// Inserts only (`[I]`): an append-only stream.
    Insert,
    /// Every kind, `-U` before each `+U` (`[I,UB,UA,D]`).
    Retract,
    /// Updates without `-U` (`[I,UA,D]`): each `+U` replaces the row of
    /// its upsert key. Set by the update-kind inference where no consumer
    /// needs `-U`.
    Upsert,
    /// Nothing: a sink (`[NONE]`).
    None,
}

impl ChangelogMode {
    /// As Flink's EXPLAIN writes it.
    pub fn flink_name(self) -> &'static str {
        match self {
            ChangelogMode::Insert => "I",
            ChangelogMode::Retract => "I,UB,UA,D",
            ChangelogMode::Upsert => "I,UA,D",
            ChangelogMode::None => "NONE",
        }
    }
}

/// How a stream's rows are spread over its subtasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Distribution {
    /// Nothing is known.
    Any,
    /// Rows with equal values in these columns are on one subtask.
    Hash(Vec<usize>),
    /// All rows are on one subtask.
    Single,
}

/// What is known of the stream a node emits; column numbers are of the
/// node's output schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Properties {
    /// Which row kinds it carries.
    pub changelog: ChangelogMode,
    /// Columns whose values identify a row: an update or delete names the
    /// row of its key (Flink's upsert key), where known.
    pub upsert_key: Option<Vec<usize>>,
    /// The time attribute (rowtime) column the watermark tracks, if the
    /// stream keeps one.
    pub rowtime: Option<usize>,
    /// How its rows are spread over the subtasks.
    pub distribution: Distribution,
}

impl Properties {
    /// Whether it carries no updates.
    pub fn is_append_only(&self) -> bool {
        matches!(self.changelog, ChangelogMode::Insert | ChangelogMode::None)
    }
}

/// What a planning rule tells of the node it adds.
#[derive(Debug, Clone)]
pub enum Derive {
    /// Its row `i`'s column `c` is column `columns[c]` of its first input
    /// (`None`: computed), row for row (a projection or filter): the
    /// changelog is the input's; keys, rowtime and distribution follow the
    /// columns they are in.
    Columns(Vec<Option<usize>>),
    /// It passes on the row kinds of its inputs (updating if any input is)
    /// with new columns (unnest, a lookup join, a union of other columns).
    Passes,
    /// It emits its own stream: inserts or updates, keyed by `upsert_key`,
    /// with time attribute `rowtime` (aggregates, ranks, joins, sinks).
    Emits {
        /// Whether it emits updates.
        updates: bool,
        /// Its upsert key, where it has one.
        upsert_key: Option<Vec<usize>>,
        /// Its rowtime column, where it keeps one.
        rowtime: Option<usize>,
        /// Its output columns that hold what a hash exchange into it
        /// hashed, where it keeps them.
        hashed: Option<Vec<usize>>,
    },
    /// It emits nothing (a sink).
    Sink,
}

impl Derive {
    /// A new stream of inserts with no key or time attribute (window
    /// operators whose output columns the planner does not track yet).
    pub fn inserts() -> Self {
        Derive::Emits {
            updates: false,
            upsert_key: None,
            rowtime: None,
            hashed: None,
        }
    }

    /// The properties of a node that `self` describes, fed by `inputs`
    /// (each edge with its upstream node's properties), at `parallelism`.
    pub(super) fn properties(
        &self,
        inputs: &[(&Edge, &Properties)],
        parallelism: usize,
    ) -> Properties {
        let any_updating = inputs.iter().any(|(_, p)| !p.is_append_only());
        let passed = if any_updating {
            ChangelogMode::Retract
        } else {
            ChangelogMode::Insert
        };
        let distribution = if parallelism == 1 {
            Distribution::Single
        } else {
            match inputs {
                [(edge, input)] => match &edge.partitioning {
                    Partitioning::Forward => input.distribution.clone(),
                    Partitioning::Hash(k) => Distribution::Hash(k.clone()),
                    Partitioning::Single => Distribution::Single,
                    Partitioning::Broadcast | Partitioning::Rebalance => Distribution::Any,
                },
                _ => Distribution::Any,
            }
        };
        match self {
            Derive::Columns(columns) => {
                let Some((_, input)) = inputs.first() else {
                    return Properties {
                        changelog: passed,
                        upsert_key: None,
                        rowtime: None,
                        distribution,
                    };
                };
                let out = |c: usize| columns.iter().position(|m| *m == Some(c));
                let all = |cols: &[usize]| cols.iter().map(|c| out(*c)).collect::<Option<Vec<_>>>();
                Properties {
                    changelog: input.changelog,
                    upsert_key: input.upsert_key.as_deref().and_then(all),
                    rowtime: input.rowtime.and_then(out),
                    distribution: match &distribution {
                        Distribution::Hash(k) => {
                            all(k).map_or(Distribution::Any, Distribution::Hash)
                        }
                        other => other.clone(),
                    },
                }
            }
            Derive::Sink => Properties {
                changelog: ChangelogMode::None,
                upsert_key: None,
                rowtime: None,
                distribution,
            },
            Derive::Passes => Properties {
                changelog: passed,
                upsert_key: None,
                rowtime: None,
                distribution: match distribution {
                    Distribution::Hash(_) => Distribution::Any,
                    other => other,
                },
            },
            Derive::Emits {
                updates,
                upsert_key,
                rowtime,
                hashed,
            } => Properties {
                changelog: if *updates {
                    ChangelogMode::Retract
                } else {
                    ChangelogMode::Insert
                },
                upsert_key: upsert_key.clone(),
                rowtime: *rowtime,
                // The exchange hashed the input's columns; the rule says
                // where the node keeps them.
                distribution: match (distribution, hashed) {
                    (Distribution::Hash(_), Some(h)) => Distribution::Hash(h.clone()),
                    (Distribution::Hash(_), None) => Distribution::Any,
                    (other, _) => other,
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(
        changelog: ChangelogMode,
        key: Option<Vec<usize>>,
        rowtime: Option<usize>,
    ) -> Properties {
        Properties {
            changelog,
            upsert_key: key,
            rowtime,
            distribution: Distribution::Any,
        }
    }

    fn edge(partitioning: Partitioning) -> Edge {
        Edge {
            from: 0,
            input: 0,
            partitioning,
        }
    }

    #[test]
    fn a_projection_keeps_what_its_columns_keep() {
        let input = Properties {
            distribution: Distribution::Hash(vec![1]),
            ..props(ChangelogMode::Retract, Some(vec![1]), Some(2))
        };
        let e = edge(Partitioning::Forward);
        // Output columns: input 2, a computed one, input 1.
        let got = Derive::Columns(vec![Some(2), None, Some(1)]).properties(&[(&e, &input)], 2);
        assert_eq!(got.changelog, ChangelogMode::Retract);
        assert_eq!(got.upsert_key, Some(vec![2]));
        assert_eq!(got.rowtime, Some(0));
        assert_eq!(got.distribution, Distribution::Hash(vec![2]));
        // Dropping the key column loses the key and the distribution.
        let got = Derive::Columns(vec![Some(2)]).properties(&[(&e, &input)], 2);
        assert_eq!(got.upsert_key, None);
        assert_eq!(got.distribution, Distribution::Any);
    }

    #[test]
    fn an_operator_emits_its_own_stream_and_one_subtask_is_single() {
        let input = props(ChangelogMode::Insert, None, Some(0));
        let e = edge(Partitioning::Hash(vec![3]));
        let agg = Derive::Emits {
            updates: true,
            upsert_key: Some(vec![0]),
            rowtime: None,
            hashed: Some(vec![0]),
        };
        let got = agg.properties(&[(&e, &input)], 4);
        assert_eq!(got.changelog, ChangelogMode::Retract);
        assert_eq!(got.upsert_key, Some(vec![0]));
        assert_eq!(got.rowtime, None);
        assert_eq!(got.distribution, Distribution::Hash(vec![0]));
        assert_eq!(
            agg.properties(&[(&e, &input)], 1).distribution,
            Distribution::Single
        );
        let updating = props(ChangelogMode::Retract, None, None);
        let union = Derive::Passes.properties(&[(&e, &input), (&e, &updating)], 2);
        assert_eq!(union.changelog, ChangelogMode::Retract);
    }
}
