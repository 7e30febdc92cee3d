//! Flink's type names (`STRING`, `INT`, `DECIMAL(p, s)`, `TIMESTAMP(3)`,
//! `TIMESTAMP_LTZ(3)`, `ROW<..>`, `ARRAY<..>`, `MAP<..>`) to Arrow types.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use datafusion::sql::sqlparser::tokenizer::Token;

use crate::error::Result;
use crate::tokens::Cursor;

pub use eddy_engine::batch::LTZ_ZONE;

/// A parsed type and whether it admits NULL.
#[derive(Debug, Clone, PartialEq)]
pub struct FlinkType {
    /// The Arrow type.
    pub data_type: DataType,
    /// `false` after `NOT NULL`.
    pub nullable: bool,
}

fn timestamp_unit(precision: u64) -> TimeUnit {
    match precision {
        0..=3 => TimeUnit::Millisecond,
        4..=6 => TimeUnit::Microsecond,
        _ => TimeUnit::Nanosecond,
    }
}

fn optional_precision(c: &mut Cursor, default: u64) -> Result<u64> {
    if c.eat(&Token::LParen) {
        let p = c.number()?;
        c.expect(&Token::RParen, "')'")?;
        Ok(p)
    } else {
        Ok(default)
    }
}

/// Closes a `<...>` type list; `>>` closes two.
fn close_angle(c: &mut Cursor, pending: &mut u32) -> Result<()> {
    if *pending > 0 {
        *pending -= 1;
        return Ok(());
    }
    if c.eat(&Token::Gt) {
        return Ok(());
    }
    if c.eat(&Token::ShiftRight) {
        *pending += 1;
        return Ok(());
    }
    c.error("'>'")
}

/// Parses a type at the cursor, with an optional `NOT NULL`.
pub fn parse_type(c: &mut Cursor) -> Result<FlinkType> {
    let mut pending = 0;
    let t = parse_type_inner(c, &mut pending)?;
    if pending > 0 {
        return c.error("a type");
    }
    Ok(t)
}

fn parse_type_inner(c: &mut Cursor, pending: &mut u32) -> Result<FlinkType> {
    let location_error = |c: &Cursor| c.error::<FlinkType>("a type");
    let name = match c.peek() {
        Token::Word(w) if w.quote_style.is_none() => w.value.to_ascii_uppercase(),
        _ => return location_error(c),
    };
    let at = c.location();
    c.advance();
    let data_type = match name.as_str() {
        "STRING" | "TEXT" => DataType::Utf8,
        "CHAR" | "VARCHAR" | "CHARACTER" => {
            c.eat_keywords(&["VARYING"]);
            optional_precision(c, 1)?;
            DataType::Utf8
        }
        "BOOLEAN" | "BOOL" => DataType::Boolean,
        "TINYINT" => DataType::Int8,
        "SMALLINT" => DataType::Int16,
        "INT" | "INTEGER" => DataType::Int32,
        "BIGINT" => DataType::Int64,
        "FLOAT" | "REAL" => DataType::Float32,
        "DOUBLE" => {
            c.eat_keywords(&["PRECISION"]);
            DataType::Float64
        }
        "DECIMAL" | "DEC" | "NUMERIC" => {
            let (mut p, mut s) = (10, 0);
            if c.eat(&Token::LParen) {
                p = c.number()?;
                if c.eat(&Token::Comma) {
                    s = c.number()?;
                }
                c.expect(&Token::RParen, "')'")?;
            }
            if !(1..=38).contains(&p) || s > p {
                return c.error("a DECIMAL precision between 1 and 38 and a scale not above it");
            }
            DataType::Decimal128(p as u8, s as i8)
        }
        "DATE" => DataType::Date32,
        "TIME" => {
            let p = optional_precision(c, 0)?;
            c.eat_keywords(&["WITHOUT", "TIME", "ZONE"]);
            if p <= 3 {
                DataType::Time32(TimeUnit::Millisecond)
            } else {
                DataType::Time64(timestamp_unit(p))
            }
        }
        "TIMESTAMP" => {
            let p = optional_precision(c, 6)?;
            if c.eat_keywords(&["WITH", "LOCAL", "TIME", "ZONE"]) {
                DataType::Timestamp(timestamp_unit(p), Some(LTZ_ZONE.into()))
            } else {
                c.eat_keywords(&["WITHOUT", "TIME", "ZONE"]);
                DataType::Timestamp(timestamp_unit(p), None)
            }
        }
        "TIMESTAMP_LTZ" => {
            let p = optional_precision(c, 6)?;
            DataType::Timestamp(timestamp_unit(p), Some(LTZ_ZONE.into()))
        }
        "BINARY" | "VARBINARY" => {
            optional_precision(c, 1)?;
            DataType::Binary
        }
        "BYTES" => DataType::Binary,
        "ARRAY" => {
            c.expect(&Token::Lt, "'<'")?;
            let element = parse_type_inner(c, pending)?;
            close_angle(c, pending)?;
            DataType::List(Arc::new(Field::new(
                "element",
                element.data_type,
                element.nullable,
            )))
        }
        "MAP" => {
            c.expect(&Token::Lt, "'<'")?;
            let key = parse_type_inner(c, pending)?;
            c.expect(&Token::Comma, "','")?;
            let value = parse_type_inner(c, pending)?;
            close_angle(c, pending)?;
            let entries = Fields::from(vec![
                Field::new("key", key.data_type, false),
                Field::new("value", value.data_type, value.nullable),
            ]);
            DataType::Map(
                Arc::new(Field::new("entries", DataType::Struct(entries), false)),
                false,
            )
        }
        "ROW" => {
            let angle = c.eat(&Token::Lt);
            if !angle {
                c.expect(&Token::LParen, "'<' or '('")?;
            }
            let mut fields = vec![];
            loop {
                let name = c.identifier()?;
                let t = parse_type_inner(c, pending)?;
                if c.is_keyword("COMMENT") {
                    c.advance();
                    c.string()?;
                }
                fields.push(Field::new(name, t.data_type, t.nullable));
                if !c.eat(&Token::Comma) {
                    break;
                }
            }
            if angle {
                close_angle(c, pending)?;
            } else {
                c.expect(&Token::RParen, "')'")?;
            }
            DataType::Struct(Fields::from(fields))
        }
        _ => {
            return Err(crate::error::SqlError::Parse {
                location: at,
                message: format!("Unknown type '{name}'"),
            });
        }
    };
    let nullable = if c.eat_keywords(&["NOT", "NULL"]) {
        false
    } else {
        c.eat_keywords(&["NULL"]);
        true
    };
    Ok(FlinkType {
        data_type,
        nullable,
    })
}

pub use crate::type_names::{flink_sql_type, flink_type_name};

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> DataType {
        let mut c = Cursor::new(s).expect("tokens");
        let t = parse_type(&mut c).expect("type");
        c.expect_end().expect("end");
        t.data_type
    }

    #[test]
    fn flink_type_names() {
        assert_eq!(parse("STRING"), DataType::Utf8);
        assert_eq!(parse("DECIMAL(10, 2)"), DataType::Decimal128(10, 2));
        assert_eq!(
            parse("TIMESTAMP(3)"),
            DataType::Timestamp(TimeUnit::Millisecond, None)
        );
        assert_eq!(
            parse("TIMESTAMP_LTZ(3)"),
            DataType::Timestamp(TimeUnit::Millisecond, Some(LTZ_ZONE.into()))
        );
        assert!(matches!(parse("ARRAY<ARRAY<INT>>"), DataType::List(_)));
        assert!(
            matches!(parse("ROW<a INT, b MAP<STRING, ARRAY<INT>>>"), DataType::Struct(f) if f.len() == 2)
        );
        assert_eq!(
            flink_type_name(&parse("ROW<a INT NOT NULL>")),
            "ROW<`a` INT>"
        );
    }

    #[test]
    fn unknown_type_is_located() {
        let mut c = Cursor::new("  INTEGR").expect("tokens");
        let err = parse_type(&mut c).expect_err("unknown");
        assert_eq!(err.location().map(|l| l.column), Some(3));
    }
}
