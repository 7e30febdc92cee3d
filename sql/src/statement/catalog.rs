//! Flink's catalog statements beyond `CREATE TABLE` and `DROP`: `SHOW
//! CREATE`, `SHOW COLUMNS`, `SHOW CATALOGS`/`DATABASES`/`CURRENT ..`, `USE`,
//! `ALTER TABLE`/`ALTER VIEW`, the `LIKE` clause of `CREATE TABLE`, and the
//! JVM-only statements (`ADD JAR`, `CREATE FUNCTION`), refused by name.

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::tokenizer::Token;

use super::{
    CreateTable, Statement, last, parse_query_rest, parse_table_element, parse_table_elements,
    table_or_view,
};
use crate::error::{Result, SqlError};
use crate::tokens::Cursor;

/// What a `LIKE` clause takes from its source table, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Takes the source's, failing on a clash with the new table's.
    Including,
    /// Takes none of the source's.
    Excluding,
    /// Takes the source's, the new table's winning a clash.
    Overwriting,
}

/// `LIKE source (options)` of a `CREATE TABLE`.
#[derive(Debug, Clone)]
pub struct LikeClause {
    /// The source table.
    pub source: String,
    /// Computed columns.
    pub generated: Merge,
    /// Metadata columns.
    pub metadata: Merge,
    /// The `WITH` options.
    pub options: Merge,
    /// The primary key.
    pub constraints: Merge,
    /// The watermark.
    pub watermarks: Merge,
}

/// An `ALTER TABLE` change.
#[derive(Debug, Clone)]
pub enum AlterTable {
    /// `RENAME TO new`.
    Rename(String),
    /// `SET ('k' = 'v', ..)`.
    Set(BTreeMap<String, String>),
    /// `RESET ('k', ..)`.
    Reset(Vec<String>),
    /// `ADD col ..`, `ADD (col .., WATERMARK .., PRIMARY KEY ..)`.
    Add(Box<CreateTable>),
    /// `MODIFY col ..`, `MODIFY (..)`: replaces columns (and the watermark
    /// or key) of the same names.
    Modify(Box<CreateTable>),
    /// `DROP col`, `DROP (a, b)`, `DROP WATERMARK`, `DROP PRIMARY KEY`.
    Drop {
        /// The columns.
        columns: Vec<String>,
        /// `DROP WATERMARK`.
        watermark: bool,
        /// `DROP PRIMARY KEY` / `DROP CONSTRAINT`.
        primary_key: bool,
    },
}

/// A `SHOW ..` statement (after `SHOW`).
pub(super) fn parse_show(c: &mut Cursor) -> Result<Statement> {
    if c.eat_keywords(&["CREATE"]) {
        let view = table_or_view(c)?;
        let name = last(c.object_name()?);
        c.expect_end()?;
        return Ok(Statement::ShowCreate { view, name });
    }
    if c.eat_keywords(&["CURRENT"]) {
        let what = c.identifier()?.to_ascii_uppercase();
        if what != "CATALOG" && what != "DATABASE" {
            return c.error("CATALOG or DATABASE");
        }
        c.expect_end()?;
        return Ok(Statement::Show {
            what: format!("CURRENT {what}"),
            like: None,
        });
    }
    if c.eat_keywords(&["COLUMNS"]) || c.eat_keywords(&["FULL", "COLUMNS"]) {
        if !c.eat_keywords(&["FROM"]) {
            c.expect_keywords(&["IN"])?;
        }
        let table = last(c.object_name()?);
        let like = like_pattern(c)?;
        c.expect_end()?;
        return Ok(Statement::ShowColumns { table, like });
    }
    if c.eat_keywords(&["USER", "FUNCTIONS"]) {
        let like = like_pattern(c)?;
        c.expect_end()?;
        return Ok(Statement::Show {
            what: "USER FUNCTIONS".into(),
            like,
        });
    }
    let what = c.identifier()?.to_ascii_uppercase();
    if what == "JARS" {
        return Err(jvm_only(c, "SHOW JARS"));
    }
    let known = [
        "TABLES",
        "VIEWS",
        "FUNCTIONS",
        "JOBS",
        "CATALOGS",
        "DATABASES",
    ];
    if !known.contains(&what.as_str()) {
        return Err(SqlError::NotSupported {
            location: c.location(),
            message: format!("SHOW {what}"),
        });
    }
    if matches!(what.as_str(), "TABLES" | "VIEWS")
        && (c.eat_keywords(&["FROM"]) || c.eat_keywords(&["IN"]))
    {
        let database = c.object_name()?;
        check_database(c, &database)?;
    }
    let like = like_pattern(c)?;
    c.expect_end()?;
    Ok(Statement::Show { what, like })
}

/// `[NOT] LIKE 'pattern'` (NOT LIKE refused).
fn like_pattern(c: &mut Cursor) -> Result<Option<String>> {
    if c.is_keyword("NOT") && c.is_keyword_at(1, "LIKE") {
        return Err(SqlError::NotSupported {
            location: c.location(),
            message: "NOT LIKE in SHOW".into(),
        });
    }
    if c.eat_keywords(&["LIKE"]) || c.eat_keywords(&["ILIKE"]) {
        return Ok(Some(c.string()?));
    }
    Ok(None)
}

/// The one database: `default_database`, or `default_catalog.default_database`.
fn check_database(c: &Cursor, parts: &[String]) -> Result<()> {
    let ok = match parts {
        [db] => db == "default_database",
        [cat, db] => cat == "default_catalog" && db == "default_database",
        _ => false,
    };
    if ok {
        return Ok(());
    }
    Err(SqlError::Plan {
        location: c.location(),
        message: format!(
            "Database {} does not exist in Catalog default_catalog.",
            parts.last().cloned().unwrap_or_default()
        ),
    })
}

/// `USE CATALOG name` or `USE [catalog.]database` (after `USE`).
pub(super) fn parse_use(c: &mut Cursor) -> Result<Statement> {
    if c.is_keyword("MODULES") {
        return Err(SqlError::NotSupported {
            location: c.location(),
            message: "USE MODULES".into(),
        });
    }
    let catalog = c.eat_keywords(&["CATALOG"]);
    let name = c.object_name()?;
    c.expect_end()?;
    Ok(Statement::Use { catalog, name })
}

/// `ALTER TABLE|VIEW ..` (after `ALTER`).
pub(super) fn parse_alter(c: &mut Cursor) -> Result<Statement> {
    if c.eat_keywords(&["VIEW"]) {
        let name = last(c.object_name()?);
        if c.eat_keywords(&["RENAME", "TO"]) {
            let to = last(c.object_name()?);
            c.expect_end()?;
            return Ok(Statement::AlterView {
                name,
                rename: Some(to),
                query: None,
            });
        }
        c.expect_keywords(&["AS"])?;
        let query = parse_query_rest(c)?;
        return Ok(Statement::AlterView {
            name,
            rename: None,
            query: Some(query),
        });
    }
    c.expect_keywords(&["TABLE"])?;
    let if_exists = c.eat_keywords(&["IF", "EXISTS"]);
    let name = last(c.object_name()?);
    let change = if c.eat_keywords(&["RENAME", "TO"]) {
        AlterTable::Rename(last(c.object_name()?))
    } else if c.eat_keywords(&["SET"]) {
        AlterTable::Set(options(c)?)
    } else if c.eat_keywords(&["RESET"]) {
        c.expect(&Token::LParen, "'('")?;
        let mut keys = vec![c.string()?];
        while c.eat(&Token::Comma) {
            keys.push(c.string()?);
        }
        c.expect(&Token::RParen, "')'")?;
        AlterTable::Reset(keys)
    } else if c.eat_keywords(&["ADD"]) {
        AlterTable::Add(Box::new(elements(c)?))
    } else if c.eat_keywords(&["MODIFY"]) {
        AlterTable::Modify(Box::new(elements(c)?))
    } else if c.eat_keywords(&["DROP"]) {
        if c.eat_keywords(&["WATERMARK"]) {
            AlterTable::Drop {
                columns: vec![],
                watermark: true,
                primary_key: false,
            }
        } else if c.eat_keywords(&["PRIMARY", "KEY"]) {
            AlterTable::Drop {
                columns: vec![],
                watermark: false,
                primary_key: true,
            }
        } else if c.eat_keywords(&["CONSTRAINT"]) {
            c.identifier()?;
            AlterTable::Drop {
                columns: vec![],
                watermark: false,
                primary_key: true,
            }
        } else {
            let columns = if matches!(c.peek(), Token::LParen) {
                c.identifier_list()?
            } else {
                vec![c.identifier()?]
            };
            AlterTable::Drop {
                columns,
                watermark: false,
                primary_key: false,
            }
        }
    } else {
        return c.error("RENAME TO, SET, RESET, ADD, MODIFY or DROP");
    };
    c.expect_end()?;
    Ok(Statement::AlterTable {
        name,
        if_exists,
        change,
    })
}

/// The columns, watermark and key of `ADD`/`MODIFY`: one element, or a
/// parenthesized list.
fn elements(c: &mut Cursor) -> Result<CreateTable> {
    let mut t = CreateTable::named(String::new());
    if c.eat(&Token::LParen) {
        parse_table_elements(c, &mut t)?;
    } else {
        parse_table_element(c, &mut t)?;
    }
    // `FIRST` / `AFTER col` positions are refused by the caller's end check.
    Ok(t)
}

/// `('k' = 'v', ..)`.
pub(super) fn options(c: &mut Cursor) -> Result<BTreeMap<String, String>> {
    let mut options = BTreeMap::new();
    c.expect(&Token::LParen, "'('")?;
    loop {
        if matches!(c.peek(), Token::RParen) {
            break;
        }
        let k = c.string()?;
        c.expect(&Token::Eq, "'='")?;
        let v = c.string()?;
        options.insert(k, v);
        if !c.eat(&Token::Comma) {
            break;
        }
    }
    c.expect(&Token::RParen, "')'")?;
    Ok(options)
}

/// `LIKE source [(INCLUDING|EXCLUDING|OVERWRITING feature ..)]` (after
/// `LIKE`); Flink's default is `INCLUDING ALL OVERWRITING OPTIONS`.
pub(super) fn parse_like(c: &mut Cursor) -> Result<LikeClause> {
    let source = last(c.object_name()?);
    let mut like = LikeClause {
        source,
        generated: Merge::Including,
        metadata: Merge::Including,
        options: Merge::Overwriting,
        constraints: Merge::Including,
        watermarks: Merge::Including,
    };
    if c.eat(&Token::LParen) {
        loop {
            let at = c.location();
            let merge = match c.identifier()?.to_ascii_uppercase().as_str() {
                "INCLUDING" => Merge::Including,
                "EXCLUDING" => Merge::Excluding,
                "OVERWRITING" => Merge::Overwriting,
                _ => {
                    return Err(SqlError::Parse {
                        location: at,
                        message: "expected INCLUDING, EXCLUDING or OVERWRITING".into(),
                    });
                }
            };
            let feature = c.identifier()?.to_ascii_uppercase();
            let invalid = |what: &str| SqlError::Plan {
                location: at,
                message: format!("Illegal merging strategy '{merge:?}' for '{what}' option."),
            };
            match feature.as_str() {
                "ALL" => {
                    like.generated = merge;
                    like.metadata = merge;
                    like.options = merge;
                    like.watermarks = merge;
                    like.constraints = if merge == Merge::Overwriting {
                        Merge::Including
                    } else {
                        merge
                    };
                }
                "GENERATED" => like.generated = merge,
                "METADATA" => like.metadata = merge,
                "OPTIONS" => like.options = merge,
                "WATERMARKS" => like.watermarks = merge,
                "CONSTRAINTS" if merge == Merge::Overwriting => return Err(invalid("CONSTRAINTS")),
                "CONSTRAINTS" => like.constraints = merge,
                "PARTITIONS" => {}
                _ => {
                    return Err(SqlError::Parse {
                        location: at,
                        message: format!(
                            "expected ALL, CONSTRAINTS, GENERATED, METADATA, OPTIONS, PARTITIONS or WATERMARKS, found {feature}"
                        ),
                    });
                }
            }
            if matches!(c.peek(), Token::RParen) {
                break;
            }
        }
        c.expect(&Token::RParen, "')'")?;
    }
    Ok(like)
}

/// `ADD JAR`, `REMOVE JAR`, `SHOW JARS` and `CREATE FUNCTION`: they load
/// Java classes, and Eddy runs no JVM.
pub(super) fn jvm_only(c: &Cursor, what: &str) -> SqlError {
    SqlError::NotSupported {
        location: c.location(),
        message: format!(
            "{what}: it loads Java classes, and Eddy runs no JVM. Connectors and formats are \
             built into Eddy (see SHOW FUNCTIONS and the README's connector list); \
             user-defined functions in Java cannot run, Rust ones are registered through \
             the Table API (TableEnvironment::create_temporary_function)"
        ),
    }
}
