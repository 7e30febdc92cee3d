//! Flink's names of Arrow types: the short ones DESCRIBE shows and the
//! full ones SHOW CREATE TABLE writes. A leaf: functions name types in
//! their errors without reaching the type parser.

use datafusion::arrow::datatypes::{DataType, TimeUnit};

/// Flink's name of an Arrow type, for DESCRIBE.
pub fn flink_type_name(t: &DataType) -> String {
    type_text(t, false)
}

/// Flink's full name of an Arrow type, as `SHOW CREATE TABLE` writes it
/// (`STRING` is `VARCHAR(2147483647)`, `BYTES` `VARBINARY(2147483647)`).
pub fn flink_sql_type(t: &DataType) -> String {
    type_text(t, true)
}

fn type_text(t: &DataType, full: bool) -> String {
    let flink_type_name = |t: &DataType| type_text(t, full);
    match t {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 if full => {
            "VARCHAR(2147483647)".into()
        }
        DataType::Binary if full => "VARBINARY(2147483647)".into(),
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => "STRING".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p}, {s})"),
        DataType::Date32 => "DATE".into(),
        DataType::Time32(_) => "TIME(0)".into(),
        DataType::Time64(_) => "TIME(6)".into(),
        DataType::Timestamp(unit, tz) => {
            let p = match unit {
                TimeUnit::Second => 0,
                TimeUnit::Millisecond => 3,
                TimeUnit::Microsecond => 6,
                TimeUnit::Nanosecond => 9,
            };
            if tz.is_some() {
                format!("TIMESTAMP_LTZ({p})")
            } else {
                format!("TIMESTAMP({p})")
            }
        }
        DataType::Binary => "BYTES".into(),
        DataType::List(f) => format!("ARRAY<{}>", flink_type_name(f.data_type())),
        DataType::Map(f, _) => match f.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "MAP<{}, {}>",
                flink_type_name(kv[0].data_type()),
                flink_type_name(kv[1].data_type())
            ),
            _ => "MAP".into(),
        },
        DataType::Struct(fields) => format!(
            "ROW<{}>",
            fields
                .iter()
                .map(|f| format!("`{}` {}", f.name(), flink_type_name(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DataType::Null => "NULL".into(),
        other => other.to_string(),
    }
}
