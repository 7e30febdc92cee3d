//! Flink's dynamic table options, `t /*+ OPTIONS('k' = 'v') */`: the
//! statement reads (or writes) a copy of table `t` whose options are `t`'s
//! with the hint's merged over them, registered under a hidden name, and
//! validated when the job is planned like any table's.

use crate::error::{Result, SqlError};
use crate::hints::options_hints;
use crate::splitter::ScriptStatement;
use crate::statement::Located;

use super::{HIDDEN_VIEW_PREFIX, Session};

impl Session {
    /// `stmt` reading hidden copies of the tables its `OPTIONS` hints name,
    /// or `None` when it has none.
    pub(super) fn apply_options_hints(&mut self, stmt: &Located) -> Result<Option<Located>> {
        let hints = options_hints(&stmt.text, stmt.location)?;
        if hints.is_empty() {
            return Ok(None);
        }
        let mut text = stmt.text.clone();
        // From the last, so that the earlier spans stay where they are.
        for h in hints.iter().rev() {
            let Some(entry) = self.tables.get(&h.table) else {
                if self.views.contains_key(&h.table) {
                    return Err(SqlError::Plan {
                        location: h.location,
                        message: format!(
                            "View '`default_catalog`.`default_database`.`{}`' cannot be enriched with new options. Hints can only be applied to tables.",
                            h.table
                        ),
                    });
                }
                // An unknown table: the planner names it.
                continue;
            };
            let mut def = entry.def.clone();
            def.name = format!("{HIDDEN_VIEW_PREFIX}hinted_{}", self.hinted.len() + 1);
            def.if_not_exists = false;
            def.options.extend(h.options.clone());
            self.create_table(&def, h.location)?;
            self.hinted.insert(def.name.clone(), h.table.clone());
            let alias = if h.aliased {
                String::new()
            } else {
                format!(" AS `{}`", h.table.replace('`', "``"))
            };
            text.replace_range(h.span.clone(), &format!("{}{alias}", def.name));
        }
        let rewritten = crate::parse_statement(&ScriptStatement {
            text,
            start: stmt.location,
        })?;
        Ok(Some(Located {
            text: stmt.text.clone(),
            ..rewritten
        }))
    }
}
