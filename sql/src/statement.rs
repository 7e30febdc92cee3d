//! Flink SQL statements: the parts sqlparser knows (queries, INSERT,
//! CREATE VIEW) go through its parser; Flink's own (CREATE TABLE with
//! computed columns and watermarks, SET, SHOW, DESCRIBE, EXECUTE STATEMENT
//! SET) are parsed here.

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::ast;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;

use crate::error::{Location, Result, SqlError};
use crate::splitter::ScriptStatement;
use crate::tokens::{Cursor, parse_error};
use crate::types::{FlinkType, parse_type};

mod catalog;
pub use catalog::{AlterTable, LikeClause, Merge};

/// How a column of a `CREATE TABLE` gets its value.
#[derive(Debug, Clone)]
pub enum ColumnKind {
    /// Read from the connector.
    Physical(FlinkType),
    /// `name AS expr`.
    Computed(Box<ast::Expr>),
    /// `name TYPE METADATA [FROM 'key'] [VIRTUAL]`.
    Metadata {
        /// The type.
        data_type: FlinkType,
        /// The metadata key, if not the column name.
        key: Option<String>,
        /// Read-only.
        is_virtual: bool,
    },
}

/// A column of a `CREATE TABLE`.
#[derive(Debug, Clone)]
pub struct ColumnDef {
    /// Its name.
    pub name: String,
    /// Where its value comes from.
    pub kind: ColumnKind,
    /// Where it is declared.
    pub location: Location,
}

/// `WATERMARK FOR column AS expr`.
#[derive(Debug, Clone)]
pub struct WatermarkDef {
    /// The rowtime column.
    pub column: String,
    /// The watermark expression.
    pub expr: ast::Expr,
}

/// `CREATE [TEMPORARY] TABLE`.
#[derive(Debug, Clone)]
pub struct CreateTable {
    /// Table name (last part of a qualified name).
    pub name: String,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// Columns in declared order.
    pub columns: Vec<ColumnDef>,
    /// The watermark, if declared.
    pub watermark: Option<WatermarkDef>,
    /// `PRIMARY KEY (..) NOT ENFORCED` columns.
    pub primary_key: Vec<String>,
    /// `WITH (...)` options.
    pub options: BTreeMap<String, String>,
    /// `CREATE OR REPLACE TABLE` (with `AS query`).
    pub or_replace: bool,
    /// `LIKE source (..)`: columns, key, watermark and options taken from
    /// another table.
    pub like: Option<LikeClause>,
    /// `AS query`: the table's columns are the query's, and the query is
    /// written into it.
    pub query: Option<Box<ast::Query>>,
}

impl CreateTable {
    /// A table of no columns or options.
    pub fn named(name: String) -> Self {
        CreateTable {
            name,
            if_not_exists: false,
            columns: vec![],
            watermark: None,
            primary_key: vec![],
            options: BTreeMap::new(),
            or_replace: false,
            like: None,
            query: None,
        }
    }
}

/// A statement of a Flink SQL script.
#[derive(Debug, Clone)]
pub enum Statement {
    /// `CREATE [TEMPORARY] TABLE`.
    CreateTable(Box<CreateTable>),
    /// `CREATE [TEMPORARY] VIEW name [(cols)] AS query`.
    CreateView {
        /// The view's name.
        name: String,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// Column aliases.
        columns: Vec<String>,
        /// Its query.
        query: Box<ast::Query>,
    },
    /// `DROP TABLE|VIEW [IF EXISTS] name`.
    Drop {
        /// A view, not a table.
        view: bool,
        /// The name.
        name: String,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `SET 'k' = 'v'`, or `SET` alone (list).
    Set(Option<(String, String)>),
    /// `RESET ['k']`.
    Reset(Option<String>),
    /// `SHOW TABLES | VIEWS | FUNCTIONS | JOBS | CATALOGS | DATABASES |
    /// CURRENT CATALOG | CURRENT DATABASE [LIKE 'pattern']`.
    Show {
        /// What, upper case.
        what: String,
        /// `LIKE 'pattern'`.
        like: Option<String>,
    },
    /// `SHOW CREATE TABLE|VIEW name`.
    ShowCreate {
        /// A view, not a table.
        view: bool,
        /// Its name.
        name: String,
    },
    /// `SHOW COLUMNS FROM t [LIKE 'pattern']`.
    ShowColumns {
        /// The table or view.
        table: String,
        /// `LIKE 'pattern'`.
        like: Option<String>,
    },
    /// `USE CATALOG c` or `USE [c.]db`.
    Use {
        /// `USE CATALOG`.
        catalog: bool,
        /// The name's parts.
        name: Vec<String>,
    },
    /// `ALTER TABLE [IF EXISTS] name ..`.
    AlterTable {
        /// The table.
        name: String,
        /// `IF EXISTS`.
        if_exists: bool,
        /// The change.
        change: AlterTable,
    },
    /// `ALTER VIEW name RENAME TO new` or `ALTER VIEW name AS query`.
    AlterView {
        /// The view.
        name: String,
        /// Its new name.
        rename: Option<String>,
        /// Its new query.
        query: Option<Box<ast::Query>>,
    },
    /// `DESCRIBE name`.
    Describe(String),
    /// `DESCRIBE FUNCTION [EXTENDED] name`.
    DescribeFunction { name: String, extended: bool },
    /// `DROP [TEMPORARY] [SYSTEM] FUNCTION [IF EXISTS] name`.
    DropFunction {
        name: String,
        system: bool,
        if_exists: bool,
    },
    /// `EXPLAIN [PLAN FOR] statement`.
    Explain(Box<Statement>),
    /// `INSERT INTO t [(cols)] query`.
    Insert {
        /// Target table.
        table: String,
        /// Target columns, if listed.
        columns: Vec<String>,
        /// The query.
        query: Box<ast::Query>,
    },
    /// `EXECUTE STATEMENT SET BEGIN INSERT ...; ... END`.
    StatementSet(Vec<Statement>),
    /// A query (`SELECT`, `WITH`, `VALUES`).
    Query(Box<ast::Query>),
}

/// A parsed statement and where it starts.
#[derive(Debug, Clone)]
pub struct Located {
    /// The statement.
    pub statement: Statement,
    /// Its start in the script.
    pub location: Location,
    /// Its text.
    pub text: String,
}

/// Parses one statement of a script.
pub fn parse_statement(s: &ScriptStatement) -> Result<Located> {
    let mut c = Cursor::new(&s.positioned_text())?;
    let statement = parse_in(&mut c)?;
    Ok(Located {
        statement,
        location: s.start,
        text: s.text.clone(),
    })
}

fn last(parts: Vec<String>) -> String {
    parts.into_iter().last().unwrap_or_default()
}

fn parse_in(c: &mut Cursor) -> Result<Statement> {
    if c.eat_keywords(&["ADD", "JAR"]) || c.eat_keywords(&["REMOVE", "JAR"]) {
        return Err(catalog::jvm_only(c, "ADD JAR / REMOVE JAR"));
    }
    if c.eat_keywords(&["USE"]) {
        return catalog::parse_use(c);
    }
    if c.eat_keywords(&["ALTER"]) {
        return catalog::parse_alter(c);
    }
    if c.eat_keywords(&["CREATE"]) {
        let or_replace = c.eat_keywords(&["OR", "REPLACE"]);
        c.eat_keywords(&["TEMPORARY"]);
        if c.eat_keywords(&["TABLE"]) {
            let mut t = parse_create_table(c)?;
            t.or_replace = or_replace;
            if or_replace && t.query.is_none() {
                return c.error("AS and a query after CREATE OR REPLACE TABLE");
            }
            return Ok(Statement::CreateTable(Box::new(t)));
        }
        c.eat_keywords(&["SYSTEM"]);
        if c.is_keyword("FUNCTION") {
            let at = c.location();
            let python = (0..)
                .map_while(|n| (!matches!(c.peek_nth(n), Token::EOF)).then_some(n))
                .any(|n| c.is_keyword_at(n, "LANGUAGE") && c.is_keyword_at(n + 1, "PYTHON"));
            if python {
                return Err(SqlError::NotSupported {
                    location: at,
                    message: "CREATE FUNCTION .. LANGUAGE PYTHON: Python user-defined functions \
                              are not supported yet; Rust functions can be registered through \
                              the Table API (TableEnvironment::create_temporary_function)"
                        .into(),
                });
            }
            return Err(catalog::jvm_only(c, "CREATE FUNCTION"));
        }
        if c.eat_keywords(&["VIEW"]) {
            let if_not_exists = c.eat_keywords(&["IF", "NOT", "EXISTS"]);
            let name = last(c.object_name()?);
            let columns = if matches!(c.peek(), Token::LParen) {
                c.identifier_list()?
            } else {
                vec![]
            };
            if c.is_keyword("COMMENT") {
                c.advance();
                c.string()?;
            }
            c.expect_keywords(&["AS"])?;
            let query = parse_query_rest(c)?;
            return Ok(Statement::CreateView {
                name,
                if_not_exists,
                columns,
                query,
            });
        }
        return c.error("TABLE or VIEW");
    }
    if c.eat_keywords(&["DROP"]) {
        c.eat_keywords(&["TEMPORARY"]);
        let system = c.eat_keywords(&["SYSTEM"]);
        if c.eat_keywords(&["FUNCTION"]) {
            let if_exists = c.eat_keywords(&["IF", "EXISTS"]);
            let name = last(c.object_name()?);
            c.expect_end()?;
            return Ok(Statement::DropFunction {
                name,
                system,
                if_exists,
            });
        }
        let view = table_or_view(c)?;
        let if_exists = c.eat_keywords(&["IF", "EXISTS"]);
        let name = last(c.object_name()?);
        c.expect_end()?;
        return Ok(Statement::Drop {
            view,
            name,
            if_exists,
        });
    }
    if c.eat_keywords(&["SET"]) {
        if c.at_end() {
            return Ok(Statement::Set(None));
        }
        let key = c.string()?;
        c.expect(&Token::Eq, "'='")?;
        let value = c.string()?;
        c.expect_end()?;
        return Ok(Statement::Set(Some((key, value))));
    }
    if c.eat_keywords(&["RESET"]) {
        let key = if c.at_end() { None } else { Some(c.string()?) };
        c.expect_end()?;
        return Ok(Statement::Reset(key));
    }
    if c.eat_keywords(&["SHOW"]) {
        return catalog::parse_show(c);
    }
    if c.eat_keywords(&["DESCRIBE"]) || c.eat_keywords(&["DESC"]) {
        if c.eat_keywords(&["FUNCTION"]) {
            let extended = c.eat_keywords(&["EXTENDED"]);
            let name = last(c.object_name()?);
            c.expect_end()?;
            return Ok(Statement::DescribeFunction { name, extended });
        }
        c.eat_keywords(&["EXTENDED"]);
        let name = last(c.object_name()?);
        c.expect_end()?;
        return Ok(Statement::Describe(name));
    }
    if c.eat_keywords(&["EXPLAIN"]) {
        c.eat_keywords(&["PLAN", "FOR"]);
        return Ok(Statement::Explain(Box::new(parse_in(c)?)));
    }
    if c.eat_keywords(&["EXECUTE", "STATEMENT", "SET"])
        || c.eat_keywords(&["BEGIN", "STATEMENT", "SET"])
    {
        c.eat_keywords(&["BEGIN"]);
        let mut inserts = vec![];
        while !c.eat_keywords(&["END"]) {
            if c.at_end() {
                return c.error("END");
            }
            if c.eat(&Token::SemiColon) {
                continue;
            }
            if !c.is_keyword("INSERT") {
                return c.error("INSERT INTO");
            }
            inserts.push(parse_insert(c, true)?);
        }
        c.eat(&Token::SemiColon);
        c.expect_end()?;
        return Ok(Statement::StatementSet(inserts));
    }
    if c.is_keyword("INSERT") {
        return parse_insert(c, false);
    }
    if c.is_keyword("SELECT")
        || c.is_keyword("WITH")
        || c.is_keyword("VALUES")
        || matches!(c.peek(), Token::LParen)
    {
        return Ok(Statement::Query(parse_query_rest(c)?));
    }
    c.error("a statement (CREATE, DROP, SET, RESET, SHOW, DESCRIBE, EXPLAIN, INSERT, EXECUTE STATEMENT SET, SELECT)")
}

fn parse_query_rest(c: &mut Cursor) -> Result<Box<ast::Query>> {
    let at = c.location();
    let end = c.end_location();
    let mut p = c.rest_parser();
    let q = p.parse_query().map_err(|e| parse_error(e, at, end))?;
    // A query ends the statement.
    expect_consumed(&p, "end of statement")?;
    Ok(q)
}

/// Fails unless `p` used all its tokens, pointing at the first one left.
fn expect_consumed(p: &Parser<'_>, expected: &str) -> Result<()> {
    let next = p.peek_token();
    if next.token == Token::EOF {
        return Ok(());
    }
    Err(SqlError::Parse {
        location: Location {
            line: next.span.start.line,
            column: next.span.start.column,
        },
        message: format!("Encountered \"{}\"; expected {expected}", next.token),
    })
}

fn parse_insert(c: &mut Cursor, in_set: bool) -> Result<Statement> {
    c.expect_keywords(&["INSERT"])?;
    if !c.eat_keywords(&["INTO"]) {
        c.expect_keywords(&["OVERWRITE"])?;
    }
    let table = last(c.object_name()?);
    let columns = if matches!(c.peek(), Token::LParen) {
        c.identifier_list()?
    } else {
        vec![]
    };
    let query = if in_set {
        // Inside a statement set the query ends at the next top-level `;`.
        let at = c.location();
        let end = c.end_location();
        let mut p = c.until_semicolon_parser();
        p.parse_query().map_err(|e| parse_error(e, at, end))?
    } else {
        parse_query_rest(c)?
    };
    Ok(Statement::Insert {
        table,
        columns,
        query,
    })
}

fn parse_create_table(c: &mut Cursor) -> Result<CreateTable> {
    let if_not_exists = c.eat_keywords(&["IF", "NOT", "EXISTS"]);
    let name = last(c.object_name()?);
    let mut t = CreateTable::named(name);
    t.if_not_exists = if_not_exists;
    // Columns may be left out before LIKE or AS (and WITH, then).
    if c.eat(&Token::LParen) {
        parse_table_elements(c, &mut t)?;
    } else if !c.is_keyword("WITH") && !c.is_keyword("LIKE") && !c.is_keyword("AS") {
        return c.error("'('");
    }
    if c.eat_keywords(&["COMMENT"]) {
        c.string()?;
    }
    if c.eat_keywords(&["PARTITIONED", "BY"]) {
        return Err(SqlError::NotSupported {
            location: c.location(),
            message: "PARTITIONED BY".into(),
        });
    }
    if c.eat_keywords(&["WITH"]) {
        t.options = catalog::options(c)?;
    }
    if c.eat_keywords(&["LIKE"]) {
        t.like = Some(catalog::parse_like(c)?);
    }
    if c.eat_keywords(&["AS"]) {
        if t.like.is_some() {
            return c.error("the end of the statement (LIKE and AS do not go together)");
        }
        t.query = Some(parse_query_rest(c)?);
        return Ok(t);
    }
    if t.columns.is_empty() && t.like.is_none() {
        return c.error("'(', LIKE or AS");
    }
    c.expect_end()?;
    Ok(t)
}

fn parse_expr_item(c: &mut Cursor) -> Result<ast::Expr> {
    let at = c.location();
    let end = c.end_location();
    let mut p = c.item_parser(&["COMMENT"]);
    let e = p.parse_expr().map_err(|e| parse_error(e, at, end))?;
    expect_consumed(&p, "',' or ')'")?;
    Ok(e)
}

/// `TABLE` (false) or `VIEW` (true).
fn table_or_view(c: &mut Cursor) -> Result<bool> {
    if c.eat_keywords(&["TABLE"]) {
        Ok(false)
    } else if c.eat_keywords(&["VIEW"]) {
        Ok(true)
    } else {
        c.error("TABLE or VIEW")
    }
}

/// The columns, watermark and key of a table up to the `)` closing them
/// (the `(` read).
fn parse_table_elements(c: &mut Cursor, t: &mut CreateTable) -> Result<()> {
    loop {
        parse_table_element(c, t)?;
        if !c.eat(&Token::Comma) {
            break;
        }
    }
    c.expect(&Token::RParen, "',' or ')'")
}

fn parse_table_element(c: &mut Cursor, t: &mut CreateTable) -> Result<()> {
    let location = c.location();
    if c.eat_keywords(&["WATERMARK", "FOR"]) {
        let column = c.identifier()?;
        c.expect_keywords(&["AS"])?;
        let expr = parse_expr_item(c)?;
        if t.watermark.is_some() {
            return Err(SqlError::Plan {
                location,
                message: "There can only be one watermark in a table".into(),
            });
        }
        t.watermark = Some(WatermarkDef { column, expr });
        return Ok(());
    }
    if c.eat_keywords(&["CONSTRAINT"]) {
        c.identifier()?;
    }
    if c.eat_keywords(&["PRIMARY", "KEY"]) {
        t.primary_key.extend(c.identifier_list()?);
        if !c.eat_keywords(&["NOT", "ENFORCED"]) {
            return Err(SqlError::Plan {
                location: c.location(),
                message: "Flink doesn't support ENFORCED mode for PRIMARY KEY constraint. ENFORCED/NOT ENFORCED controls if the constraint checks are performed on the incoming/outgoing data. Flink does not own the data therefore the only supported mode is the NOT ENFORCED mode".into(),
            });
        }
        return Ok(());
    }
    let name = c.identifier()?;
    let kind = if c.eat_keywords(&["AS"]) {
        ColumnKind::Computed(Box::new(parse_expr_item(c)?))
    } else {
        let data_type = parse_type(c)?;
        if c.eat_keywords(&["METADATA"]) {
            let key = if c.eat_keywords(&["FROM"]) {
                Some(c.string()?)
            } else {
                None
            };
            let is_virtual = c.eat_keywords(&["VIRTUAL"]);
            ColumnKind::Metadata {
                data_type,
                key,
                is_virtual,
            }
        } else {
            if c.eat_keywords(&["PRIMARY", "KEY"]) {
                c.expect_keywords(&["NOT", "ENFORCED"])?;
                t.primary_key.push(name.clone());
            }
            ColumnKind::Physical(data_type)
        }
    };
    if c.eat_keywords(&["COMMENT"]) {
        c.string()?;
    }
    if t.columns.iter().any(|col| col.name == name) {
        return Err(SqlError::Plan {
            location,
            message: format!("A column named '{name}' already exists in the table"),
        });
    }
    t.columns.push(ColumnDef {
        name,
        kind,
        location,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::splitter::split_statements;

    fn parse(sql: &str) -> Result<Statement> {
        let s = &split_statements(sql)[0];
        parse_statement(s).map(|l| l.statement)
    }

    #[test]
    fn create_table_with_computed_column_watermark_and_key() {
        let Statement::CreateTable(t) = parse(
            "CREATE TEMPORARY TABLE `orders` (\n id BIGINT, price DECIMAL(10, 2), ts TIMESTAMP(3),\n total AS price * 2,\n WATERMARK FOR ts AS ts - INTERVAL '5' SECOND,\n PRIMARY KEY (id) NOT ENFORCED\n) WITH ('connector' = 'filesystem', 'path' = '/tmp/x')",
        )
        .expect("parse") else {
            panic!("not a table")
        };
        assert_eq!(t.name, "orders");
        assert_eq!(t.columns.len(), 4);
        assert!(matches!(t.columns[3].kind, ColumnKind::Computed(_)));
        assert_eq!(t.watermark.as_ref().map(|w| w.column.as_str()), Some("ts"));
        assert_eq!(t.primary_key, vec!["id"]);
        assert_eq!(t.options.get("path").map(String::as_str), Some("/tmp/x"));
    }

    #[test]
    fn errors_point_at_line_and_column() {
        let err = parse("SELECT 1;\nCREATE TABLE t (a INT,, b INT) WITH ()").err();
        // first statement is fine; check the second
        assert!(err.is_none());
        let s = &split_statements("SELECT 1;\nCREATE TABLE t (a INT,, b INT) WITH ()")[1];
        let err = parse_statement(s).expect_err("bad DDL");
        assert_eq!(
            err.location(),
            Some(Location {
                line: 2,
                column: 23
            })
        );
    }

    #[test]
    fn set_show_describe_and_statement_set() {
        assert!(matches!(
            parse("SET 'parallelism.default' = '2'"),
            Ok(Statement::Set(Some(_)))
        ));
        assert!(matches!(parse("SHOW TABLES"), Ok(Statement::Show { .. })));
        assert!(matches!(
            parse("SHOW CREATE TABLE t"),
            Ok(Statement::ShowCreate { view: false, .. })
        ));
        assert!(matches!(
            parse("ALTER TABLE t SET ('a' = 'b')"),
            Ok(Statement::AlterTable {
                change: AlterTable::Set(_),
                ..
            })
        ));
        let Ok(Statement::CreateTable(t)) =
            parse("CREATE TABLE t WITH ('connector' = 'print') LIKE s (EXCLUDING OPTIONS)")
        else {
            panic!("LIKE")
        };
        assert_eq!(t.like.map(|l| l.options), Some(Merge::Excluding));
        let Ok(Statement::CreateTable(t)) = parse("CREATE TABLE t WITH ('a' = 'b') AS SELECT 1")
        else {
            panic!("CTAS")
        };
        assert!(t.query.is_some());
        assert!(matches!(parse("DESCRIBE t"), Ok(Statement::Describe(_))));
        let Ok(Statement::StatementSet(v)) = parse(
            "EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1; INSERT INTO b SELECT 2; END",
        ) else {
            panic!("statement set")
        };
        assert_eq!(v.len(), 2);
    }
}
