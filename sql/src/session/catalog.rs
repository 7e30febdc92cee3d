//! The catalog statements of Flink's one in-memory catalog
//! (`default_catalog`.`default_database`): `SHOW CREATE`, `SHOW COLUMNS`,
//! `SHOW CATALOGS`/`DATABASES`, `USE`, `ALTER TABLE`/`VIEW`, `CREATE TABLE
//! .. LIKE` and `CREATE [OR REPLACE] TABLE .. AS SELECT`.

use std::sync::Arc;

use datafusion::sql::sqlparser::ast;
use eddy_engine::operator::OperatorFactory;

use super::{Outcome, Session};
use crate::error::{Location, Result, SqlError};
use crate::statement::{
    AlterTable, ColumnDef, ColumnKind, CreateTable, LikeClause, Merge, Statement,
};
use crate::types::{FlinkType, flink_sql_type};

const CATALOG: &str = "default_catalog";
const DATABASE: &str = "default_database";

/// `name` as Flink names an object of the catalog.
fn qualified(name: &str) -> String {
    format!("`{CATALOG}`.`{DATABASE}`.`{}`", name.replace('`', "``"))
}

fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Whether `s` matches SQL `LIKE` pattern `p` (`%` any run, `_` one char).
pub(super) fn like(s: &str, p: &str) -> bool {
    let (s, p): (Vec<char>, Vec<char>) = (s.chars().collect(), p.chars().collect());
    // matches[j]: whether s[..i] matches p[..j].
    let mut matches = vec![false; p.len() + 1];
    matches[0] = true;
    for j in 1..=p.len() {
        matches[j] = matches[j - 1] && p[j - 1] == '%';
    }
    for c in s {
        let mut next = vec![false; p.len() + 1];
        for j in 1..=p.len() {
            next[j] = match p[j - 1] {
                '%' => next[j - 1] || matches[j],
                '_' => matches[j - 1],
                x => matches[j - 1] && x == c,
            };
        }
        matches = next;
    }
    matches[p.len()]
}

impl Session {
    /// `SHOW CREATE TABLE|VIEW name`, in Flink's layout.
    pub(super) async fn show_create(
        &self,
        view: bool,
        name: &str,
        at: Location,
    ) -> Result<Outcome> {
        let text = match (view, self.tables.get(name), self.views.get(name)) {
            (false, Some(t), _) => create_table_text(&t.def),
            (true, _, Some(text)) => self.create_view_text(name, text, at).await?,
            (false, None, Some(_)) => {
                return Err(plan_error(
                    at,
                    format!(
                        "SHOW CREATE TABLE is only supported for tables, but {} is a view. Please use SHOW CREATE VIEW instead.",
                        qualified(name)
                    ),
                ));
            }
            (true, Some(_), None) => {
                return Err(plan_error(
                    at,
                    format!(
                        "SHOW CREATE VIEW is only supported for views, but {} is a table. Please use SHOW CREATE TABLE instead.",
                        qualified(name)
                    ),
                ));
            }
            _ => {
                let what = if view { "view" } else { "table" };
                return Err(plan_error(
                    at,
                    format!(
                        "Could not execute SHOW CREATE {}. {what} with identifier `{CATALOG}`.`{DATABASE}`.`{name}` does not exist.",
                        what.to_ascii_uppercase()
                    ),
                ));
            }
        };
        Ok(Outcome::Rows {
            header: vec!["result".into()],
            rows: vec![vec![text]],
        })
    }

    /// A view's definition: its columns, then its query as written.
    async fn create_view_text(&self, name: &str, text: &str, at: Location) -> Result<String> {
        let query = crate::split_statements(text)
            .first()
            .and_then(|s| crate::parse_statement(s).ok())
            .and_then(|l| match l.statement {
                Statement::CreateView { query, .. } => Some(query.to_string()),
                _ => None,
            })
            .unwrap_or_else(|| text.to_string());
        let schema = self
            .ctx
            .table_provider(name)
            .await
            .map_err(|e| crate::expr::df_error(e, at))?
            .schema();
        let columns: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| format!("  {}", quoted(f.name())))
            .collect();
        Ok(format!(
            "CREATE VIEW {} (\n{}\n)\nAS {query}\n",
            qualified(name),
            columns.join(",\n")
        ))
    }

    /// `SHOW COLUMNS FROM t [LIKE p]`: DESCRIBE's rows whose names match.
    pub(super) async fn show_columns(
        &self,
        table: &str,
        pattern: Option<&str>,
        at: Location,
    ) -> Result<Outcome> {
        match self.describe(table, at).await? {
            Outcome::Rows { header, rows } => Ok(Outcome::Rows {
                header,
                rows: rows
                    .into_iter()
                    .filter(|r| pattern.is_none_or(|p| like(&r[0], p)))
                    .collect(),
            }),
            other => Ok(other),
        }
    }

    /// `USE CATALOG c` / `USE [c.]db`: only Flink's default ones exist.
    pub(super) fn use_(&self, catalog: bool, name: &[String], at: Location) -> Result<Outcome> {
        let missing = match (catalog, name) {
            (true, [c]) if c == CATALOG => None,
            (true, [c]) => Some(format!("A catalog with name [{c}] does not exist.")),
            (false, [d]) | (false, [_, d]) if d != DATABASE => Some(format!(
                "A database with name [{d}] does not exist in the catalog: [{CATALOG}]."
            )),
            (false, [c, _]) if c != CATALOG => {
                Some(format!("A catalog with name [{c}] does not exist."))
            }
            (false, [_] | [_, _]) => None,
            _ => Some(format!("'{}' is not a catalog or database", name.join("."))),
        };
        match missing {
            Some(m) => Err(plan_error(at, m)),
            None => Ok(Outcome::Done("[INFO] Execute statement succeeded.".into())),
        }
    }

    /// `ALTER TABLE`: the table defined anew with the change.
    pub(super) fn alter_table(
        &mut self,
        name: &str,
        if_exists: bool,
        change: &AlterTable,
        at: Location,
    ) -> Result<Outcome> {
        let Some(entry) = self.tables.get(name) else {
            if if_exists {
                return Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()));
            }
            return Err(plan_error(
                at,
                format!(
                    "Table `{CATALOG}`.`{DATABASE}`.`{name}` doesn't exist or is a temporary table."
                ),
            ));
        };
        let mut def = entry.def.clone();
        match change {
            AlterTable::Rename(to) => {
                if self.tables.contains_key(to) || self.views.contains_key(to) {
                    return Err(plan_error(
                        at,
                        format!("Table {} already exists", qualified(to)),
                    ));
                }
                def.name = to.clone();
            }
            AlterTable::Set(options) => def.options.extend(options.clone()),
            AlterTable::Reset(keys) => {
                for k in keys {
                    if k == "connector" {
                        return Err(plan_error(
                            at,
                            "ALTER TABLE RESET does not support changing 'connector'".into(),
                        ));
                    }
                    def.options.remove(k);
                }
            }
            AlterTable::Add(add) => {
                for c in &add.columns {
                    if def.columns.iter().any(|d| d.name == c.name) {
                        return Err(plan_error(
                            at,
                            format!(
                                "Try to add a column `{}` which already exists in the table.",
                                c.name
                            ),
                        ));
                    }
                    def.columns.push(c.clone());
                }
                if let Some(w) = &add.watermark {
                    if def.watermark.is_some() {
                        return Err(plan_error(
                            at,
                            format!(
                                "The base table has already defined the watermark strategy `{}` AS {}. You might want to drop it before adding a new one.",
                                def.watermark.as_ref().map_or("", |w| w.column.as_str()),
                                def.watermark
                                    .as_ref()
                                    .map_or(String::new(), |w| crate::rewrite::quoted(&w.expr))
                            ),
                        ));
                    }
                    def.watermark = Some(w.clone());
                }
                if !add.primary_key.is_empty() {
                    if !def.primary_key.is_empty() {
                        return Err(plan_error(at, "The base table has already defined the primary key constraint. You might want to drop it before adding a new one.".into()));
                    }
                    def.primary_key = add.primary_key.clone();
                }
            }
            AlterTable::Modify(modify) => {
                for c in &modify.columns {
                    let Some(d) = def.columns.iter_mut().find(|d| d.name == c.name) else {
                        return Err(plan_error(
                            at,
                            format!(
                                "Try to modify a column `{}` which does not exist in the table.",
                                c.name
                            ),
                        ));
                    };
                    *d = c.clone();
                }
                if modify.watermark.is_some() {
                    def.watermark = modify.watermark.clone();
                }
                if !modify.primary_key.is_empty() {
                    def.primary_key = modify.primary_key.clone();
                }
            }
            AlterTable::Drop {
                columns,
                watermark,
                primary_key,
            } => {
                for c in columns {
                    let Some(i) = def.columns.iter().position(|d| &d.name == c) else {
                        return Err(plan_error(
                            at,
                            format!("The column `{c}` does not exist in the base table."),
                        ));
                    };
                    if def.primary_key.contains(c) {
                        return Err(plan_error(
                            at,
                            format!("The column `{c}` is used as the primary key."),
                        ));
                    }
                    if def.watermark.as_ref().is_some_and(|w| &w.column == c) {
                        return Err(plan_error(
                            at,
                            format!("The column `{c}` is referenced by watermark expression."),
                        ));
                    }
                    def.columns.remove(i);
                }
                if *watermark {
                    if def.watermark.is_none() {
                        return Err(plan_error(
                            at,
                            "The base table does not define any watermark strategy.".into(),
                        ));
                    }
                    def.watermark = None;
                }
                if *primary_key {
                    if def.primary_key.is_empty() {
                        return Err(plan_error(
                            at,
                            "The base table does not define any primary key.".into(),
                        ));
                    }
                    def.primary_key.clear();
                }
            }
        }
        def.if_not_exists = false;
        self.replace_table(name, def, at)
    }

    /// Defines table `name` anew as `def` (maybe under another name); on
    /// an error the old definition stays.
    fn replace_table(&mut self, name: &str, def: CreateTable, at: Location) -> Result<Outcome> {
        let old = self.tables.remove(name);
        let _ = self.ctx.deregister_table(name);
        match self.create_table(&def, at) {
            Ok(done) => Ok(done),
            Err(e) => {
                if let Some(old) = old {
                    let old_def = old.def.clone();
                    let _ = self.create_table(&old_def, at);
                }
                Err(e)
            }
        }
    }

    /// `ALTER VIEW v RENAME TO w` / `ALTER VIEW v AS query`.
    pub(super) async fn alter_view(
        &mut self,
        name: &str,
        rename: Option<&str>,
        query: Option<&ast::Query>,
        at: Location,
    ) -> Result<Outcome> {
        let Some(text) = self.views.get(name).cloned() else {
            return Err(plan_error(
                at,
                format!(
                    "View `{CATALOG}`.`{DATABASE}`.`{name}` doesn't exist or is a temporary view."
                ),
            ));
        };
        if let Some(to) = rename {
            if self.tables.contains_key(to) || self.views.contains_key(to) {
                return Err(plan_error(
                    at,
                    format!("View {} already exists", qualified(to)),
                ));
            }
            let provider = self
                .ctx
                .deregister_table(name)
                .map_err(|e| crate::expr::df_error(e, at))?;
            self.views.remove(name);
            if let Some(p) = provider {
                self.ctx
                    .register_table(to, p)
                    .map_err(|e| crate::expr::df_error(e, at))?;
            }
            self.views.insert(to.to_string(), text);
            return Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()));
        }
        let Some(query) = query else {
            return Err(plan_error(at, "ALTER VIEW needs RENAME TO or AS".into()));
        };
        let plan = self.plan_query(query, at).await?;
        let new_text = format!("CREATE VIEW {name} AS {query}");
        self.register_view(name, plan, &new_text)
            .map_err(|e| super::relocate(e, at))?;
        Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()))
    }

    /// `CREATE TABLE t (..) WITH (..) LIKE s (..)`: `t`'s definition merged
    /// with `s`'s as Flink merges them.
    pub(super) fn create_table_like(&mut self, t: &CreateTable, at: Location) -> Result<Outcome> {
        let Some(like) = &t.like else {
            return self.create_table(t, at);
        };
        let Some(source) = self.tables.get(&like.source) else {
            return Err(plan_error(
                at,
                format!(
                    "Source table '{}' of the LIKE clause not found in the catalog",
                    qualified(&like.source)
                ),
            ));
        };
        let merged = merge_like(&source.def, t, like, at)?;
        self.create_table(&merged, at)
    }

    /// `CREATE [OR REPLACE] TABLE t [WITH (..)] AS query`: `t` gets the
    /// query's columns, then a job writes the query into it.
    pub(super) async fn create_table_as(
        &mut self,
        t: &CreateTable,
        at: Location,
        query_sink: Arc<dyn OperatorFactory>,
    ) -> Result<Outcome> {
        let Some(query) = &t.query else {
            return self.create_table(t, at);
        };
        if !t.columns.is_empty() || !t.primary_key.is_empty() || t.watermark.is_some() {
            return Err(SqlError::NotSupported {
                location: at,
                message: "CREATE TABLE AS SELECT with a column list".into(),
            });
        }
        let exists = self.tables.contains_key(&t.name) || self.views.contains_key(&t.name);
        if exists && t.if_not_exists {
            return Ok(Outcome::Done("[INFO] Execute statement succeeded.".into()));
        }
        if exists && !t.or_replace {
            return Err(plan_error(
                at,
                format!("Table {} already exists", qualified(&t.name)),
            ));
        }
        let plan = self.plan_query(query, at).await?;
        let mut def = CreateTable::named(t.name.clone());
        def.options = t.options.clone();
        for f in plan.schema().fields() {
            def.columns.push(ColumnDef {
                name: f.name().clone(),
                kind: ColumnKind::Physical(FlinkType {
                    data_type: f.data_type().clone(),
                    nullable: f.is_nullable(),
                }),
                location: at,
            });
        }
        if self.views.contains_key(&t.name) {
            return Err(plan_error(at, format!("{} is a view", qualified(&t.name))));
        }
        match self.tables.contains_key(&t.name) {
            true => {
                self.replace_table(&t.name, def, at)?;
            }
            false => {
                self.create_table(&def, at)?;
            }
        }
        let insert = Statement::Insert {
            table: t.name.clone(),
            columns: vec![],
            query: query.clone(),
        };
        let (graph, _) = self.plan_job(&insert, at, query_sink).await?;
        self.jobs_started += 1;
        Ok(Outcome::Job(eddy_engine::runtime::spawn(&graph)?))
    }
}

fn plan_error(location: Location, message: String) -> SqlError {
    SqlError::Plan { location, message }
}

/// `t`'s definition with `source`'s merged in by `like`: the source's
/// columns first, then `t`'s.
fn merge_like(
    source: &CreateTable,
    t: &CreateTable,
    like: &LikeClause,
    at: Location,
) -> Result<CreateTable> {
    let mut merged = CreateTable::named(t.name.clone());
    merged.if_not_exists = t.if_not_exists;
    for c in &source.columns {
        let merge = match c.kind {
            ColumnKind::Physical(_) => Merge::Including,
            ColumnKind::Computed(_) => like.generated,
            ColumnKind::Metadata { .. } => like.metadata,
        };
        let clash = t.columns.iter().find(|n| n.name == c.name);
        match (merge, clash) {
            (Merge::Excluding, _) => {}
            (Merge::Overwriting, Some(_)) => {}
            (Merge::Including, Some(_)) | (_, Some(_))
                if matches!(c.kind, ColumnKind::Physical(_)) =>
            {
                return Err(plan_error(
                    at,
                    format!(
                        "A column named '{}' already exists in the base table.",
                        c.name
                    ),
                ));
            }
            (Merge::Including, Some(_)) => {
                return Err(plan_error(
                    at,
                    format!(
                        "A generated column named '{}' already exists in the base table. You might want to specify EXCLUDING GENERATED or OVERWRITING GENERATED",
                        c.name
                    ),
                ));
            }
            (_, None) => merged.columns.push(c.clone()),
        }
    }
    merged.columns.extend(t.columns.iter().cloned());
    merged.watermark = match (like.watermarks, &source.watermark, &t.watermark) {
        (Merge::Including, Some(_), Some(w)) => {
            return Err(plan_error(
                at,
                format!(
                    "There already exists a watermark spec for column '{}' in the base table. You might want to specify EXCLUDING WATERMARKS or OVERWRITING WATERMARKS.",
                    w.column
                ),
            ));
        }
        (_, _, Some(w)) => Some(w.clone()),
        (Merge::Excluding, _, None) => None,
        (_, s, None) => s.clone(),
    };
    merged.primary_key = match (like.constraints, &source.primary_key, &t.primary_key) {
        (Merge::Including, s, n) if !s.is_empty() && !n.is_empty() => {
            return Err(plan_error(at, "The base table already has a primary key. You might want to specify EXCLUDING CONSTRAINTS.".into()));
        }
        (_, _, n) if !n.is_empty() => n.clone(),
        (Merge::Excluding, _, _) => vec![],
        (_, s, _) => s.clone(),
    };
    merged.options = match like.options {
        Merge::Excluding => t.options.clone(),
        Merge::Overwriting => {
            let mut o = source.options.clone();
            o.extend(t.options.clone());
            o
        }
        Merge::Including => {
            if let Some(k) = t.options.keys().find(|k| source.options.contains_key(*k)) {
                return Err(plan_error(
                    at,
                    format!(
                        "There already exists an option ['{k}' -> '{}']  in the base table. You might want to specify EXCLUDING OPTIONS or OVERWRITING OPTIONS.",
                        source.options[k]
                    ),
                ));
            }
            let mut o = source.options.clone();
            o.extend(t.options.clone());
            o
        }
    };
    Ok(merged)
}

/// Whether option `key` holds a secret (Flink's list of sensitive keys,
/// matched anywhere in the key, ignoring case): shown as `******`.
pub(crate) fn is_sensitive(key: &str) -> bool {
    const SENSITIVE: [&str; 11] = [
        "password",
        "secret",
        "fs.azure.account.key",
        "apikey",
        "api-key",
        "auth-params",
        "service-key",
        "token",
        "basic-auth",
        "jaas.config",
        "http-headers",
    ];
    let key = key.to_ascii_lowercase();
    SENSITIVE.iter().any(|s| key.contains(s))
}

/// A table's definition as `SHOW CREATE TABLE` writes it (secrets
/// hidden).
fn create_table_text(t: &CreateTable) -> String {
    let mut lines: Vec<String> = t
        .columns
        .iter()
        .map(|c| match &c.kind {
            ColumnKind::Physical(ty) => {
                let not_null = !ty.nullable || t.primary_key.contains(&c.name);
                format!(
                    "  {} {}{}",
                    quoted(&c.name),
                    flink_sql_type(&ty.data_type),
                    if not_null { " NOT NULL" } else { "" }
                )
            }
            ColumnKind::Computed(e) => {
                format!("  {} AS {}", quoted(&c.name), crate::rewrite::quoted(e))
            }
            ColumnKind::Metadata {
                data_type,
                key,
                is_virtual,
            } => format!(
                "  {} {} METADATA{}{}",
                quoted(&c.name),
                flink_sql_type(&data_type.data_type),
                key.as_ref()
                    .map_or(String::new(), |k| format!(" FROM '{k}'")),
                if *is_virtual { " VIRTUAL" } else { "" }
            ),
        })
        .collect();
    if let Some(w) = &t.watermark {
        lines.push(format!(
            "  WATERMARK FOR {} AS {}",
            quoted(&w.column),
            crate::rewrite::quoted(&w.expr)
        ));
    }
    if !t.primary_key.is_empty() {
        lines.push(format!(
            "  CONSTRAINT `PK_{}` PRIMARY KEY ({}) NOT ENFORCED",
            t.primary_key.join("_"),
            t.primary_key
                .iter()
                .map(|k| quoted(k))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let options: Vec<String> = t
        .options
        .iter()
        .map(|(k, v)| {
            let v = if is_sensitive(k) {
                "******"
            } else {
                v.as_str()
            };
            format!("  '{}' = '{}'", k, v.replace('\'', "''"))
        })
        .collect();
    format!(
        "CREATE TABLE {} (\n{}\n)\nWITH (\n{}\n)\n",
        qualified(&t.name),
        lines.join(",\n"),
        options.join(",\n")
    )
}

#[cfg(test)]
mod tests {
    use super::like;

    #[test]
    fn like_patterns() {
        assert!(like("events", "e%"));
        assert!(like("events", "%s"));
        assert!(like("events", "ev_nts"));
        assert!(!like("events", "e_"));
        assert!(like("", "%"));
        assert!(!like("a", ""));
    }
}
