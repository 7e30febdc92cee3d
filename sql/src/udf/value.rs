//! Rust values as SQL values: the types a row-wise user function takes
//! and returns, each with its Arrow type, read from and written to Arrow
//! columns a batch at a time.
//!
//! | Rust | SQL |
//! |---|---|
//! | `bool` | BOOLEAN |
//! | `i8`, `i16`, `i32`, `i64` | TINYINT, SMALLINT, INT, BIGINT |
//! | `f32`, `f64` | FLOAT, DOUBLE |
//! | `String` | STRING |
//! | `chrono::NaiveDate` | DATE |
//! | `chrono::NaiveDateTime` | TIMESTAMP(3) |
//! | `Vec<T>` | ARRAY<T> |
//! | `Option<T>` | T, NULL as `None` |
//!
//! A function whose parameter is not an `Option` is not called for a row
//! where that argument is NULL: its result there is NULL, as for most of
//! Flink's built-in functions.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Float32Array, Float64Array, Int8Array,
    Int16Array, Int32Array, Int64Array, ListArray, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Field, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimeUnit, TimestampMillisecondType,
};
use datafusion::common::{Result, exec_err};

/// A Rust type that stands for a SQL type in a user function's signature.
pub trait SqlValue: Sized + Send + 'static {
    /// The Arrow type of the SQL type.
    fn data_type() -> DataType;

    /// Whether the SQL value may be NULL (only `Option` may).
    fn nullable() -> bool {
        false
    }

    /// The values of a column of [`SqlValue::data_type`], one per row;
    /// `None` where the row's value is NULL and `Self` cannot hold it.
    fn from_column(column: &dyn Array) -> Result<Vec<Option<Self>>>;

    /// A column of the values, NULL where `None`.
    fn to_column(values: Vec<Option<Self>>) -> ArrayRef;
}

/// Casts `column` to `T`'s type (arguments are coerced when planning, so
/// this is a no-op but for nested types whose field names differ) and
/// reads it.
pub fn read<T: SqlValue>(column: &ArrayRef) -> Result<Vec<Option<T>>> {
    let want = T::data_type();
    if column.data_type() == &want {
        T::from_column(column.as_ref())
    } else {
        T::from_column(cast(column, &want)?.as_ref())
    }
}

macro_rules! primitive {
    ($rust:ty, $arrow:ty, $array:ty, $data_type:expr) => {
        impl SqlValue for $rust {
            fn data_type() -> DataType {
                $data_type
            }
            fn from_column(column: &dyn Array) -> Result<Vec<Option<Self>>> {
                Ok(column.as_primitive::<$arrow>().iter().collect())
            }
            fn to_column(values: Vec<Option<Self>>) -> ArrayRef {
                Arc::new(<$array>::from(values))
            }
        }
    };
}

primitive!(i8, Int8Type, Int8Array, DataType::Int8);
primitive!(i16, Int16Type, Int16Array, DataType::Int16);
primitive!(i32, Int32Type, Int32Array, DataType::Int32);
primitive!(i64, Int64Type, Int64Array, DataType::Int64);
primitive!(f32, Float32Type, Float32Array, DataType::Float32);
primitive!(f64, Float64Type, Float64Array, DataType::Float64);

impl SqlValue for bool {
    fn data_type() -> DataType {
        DataType::Boolean
    }
    fn from_column(column: &dyn Array) -> Result<Vec<Option<Self>>> {
        Ok(column.as_boolean().iter().collect())
    }
    fn to_column(values: Vec<Option<Self>>) -> ArrayRef {
        Arc::new(BooleanArray::from(values))
    }
}

impl SqlValue for String {
    fn data_type() -> DataType {
        DataType::Utf8
    }
    fn from_column(column: &dyn Array) -> Result<Vec<Option<Self>>> {
        Ok(column
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(String::from))
            .collect())
    }
    fn to_column(values: Vec<Option<Self>>) -> ArrayRef {
        Arc::new(StringArray::from(values))
    }
}

impl SqlValue for NaiveDate {
    fn data_type() -> DataType {
        DataType::Date32
    }
    fn from_column(column: &dyn Array) -> Result<Vec<Option<Self>>> {
        let days = column.as_primitive::<Date32Type>();
        Ok(days
            .iter()
            .map(|d| d.and_then(Date32Type::to_naive_date_opt))
            .collect())
    }
    fn to_column(values: Vec<Option<Self>>) -> ArrayRef {
        Arc::new(Date32Array::from(
            values
                .into_iter()
                .map(|d| d.map(Date32Type::from_naive_date))
                .collect::<Vec<_>>(),
        ))
    }
}

impl SqlValue for NaiveDateTime {
    fn data_type() -> DataType {
        DataType::Timestamp(TimeUnit::Millisecond, None)
    }
    fn from_column(column: &dyn Array) -> Result<Vec<Option<Self>>> {
        let millis = column.as_primitive::<TimestampMillisecondType>();
        Ok(millis
            .iter()
            .map(|m| m.and_then(|m| DateTime::from_timestamp_millis(m).map(|t| t.naive_utc())))
            .collect())
    }
    fn to_column(values: Vec<Option<Self>>) -> ArrayRef {
        Arc::new(TimestampMillisecondArray::from(
            values
                .into_iter()
                .map(|t| t.map(|t| t.and_utc().timestamp_millis()))
                .collect::<Vec<_>>(),
        ))
    }
}

impl<T: SqlValue> SqlValue for Option<T> {
    fn data_type() -> DataType {
        T::data_type()
    }
    fn nullable() -> bool {
        true
    }
    fn from_column(column: &dyn Array) -> Result<Vec<Option<Self>>> {
        Ok(T::from_column(column)?.into_iter().map(Some).collect())
    }
    fn to_column(values: Vec<Option<Self>>) -> ArrayRef {
        T::to_column(values.into_iter().map(Option::flatten).collect())
    }
}

impl<T: SqlValue> SqlValue for Vec<T> {
    fn data_type() -> DataType {
        DataType::List(Arc::new(Field::new_list_field(T::data_type(), true)))
    }
    /// A list with a NULL element reads as NULL unless `T` is an `Option`.
    fn from_column(column: &dyn Array) -> Result<Vec<Option<Self>>> {
        let Some(lists) = column.as_list_opt::<i32>() else {
            return exec_err!("expected an ARRAY column, got {}", column.data_type());
        };
        let mut elements = T::from_column(lists.values().as_ref())?
            .into_iter()
            .map(Some)
            .collect::<Vec<_>>();
        let offsets = lists.value_offsets();
        Ok((0..lists.len())
            .map(|i| {
                if lists.is_null(i) {
                    return None;
                }
                let (from, to) = (offsets[i] as usize, offsets[i + 1] as usize);
                elements[from..to].iter_mut().map(|e| e.take()?).collect()
            })
            .collect())
    }
    fn to_column(values: Vec<Option<Self>>) -> ArrayRef {
        let nulls = NullBuffer::from(values.iter().map(Option::is_some).collect::<Vec<_>>());
        let lengths = values.iter().map(|v| v.as_ref().map_or(0, Vec::len));
        let offsets = OffsetBuffer::from_lengths(lengths);
        let elements = T::to_column(values.into_iter().flatten().flatten().map(Some).collect());
        let field = Arc::new(Field::new_list_field(T::data_type(), true));
        Arc::new(ListArray::new(field, offsets, elements, Some(nulls)))
    }
}

/// The argument list of a row-wise function: a tuple of [`SqlValue`]s.
pub trait SqlArgs: Sized + Send + 'static {
    /// The arguments' Arrow types.
    fn data_types() -> Vec<DataType>;

    /// The arguments of each of `rows` rows; `None` for a row where an
    /// argument that cannot hold NULL is NULL.
    fn rows(columns: &[ArrayRef], rows: usize) -> Result<Vec<Option<Self>>>;
}

macro_rules! args {
    ($($a:ident $i:tt),*) => {
        impl<$($a: SqlValue),*> SqlArgs for ($($a,)*) {
            fn data_types() -> Vec<DataType> {
                vec![$($a::data_type()),*]
            }
            #[allow(unused_variables, non_snake_case, clippy::unused_unit)]
            fn rows(columns: &[ArrayRef], rows: usize) -> Result<Vec<Option<Self>>> {
                let expected = Self::data_types().len();
                if columns.len() != expected {
                    return exec_err!("expected {expected} arguments, got {}", columns.len());
                }
                $(let mut $a = read::<$a>(&columns[$i])?.into_iter();)*
                // Every column advances on every row, NULL or not.
                Ok((0..rows)
                    .map(|_| {
                        $(let $a = $a.next().flatten();)*
                        Some(($($a?,)*))
                    })
                    .collect())
            }
        }
    };
}

args!();
args!(A 0);
args!(A 0, B 1);
args!(A 0, B 1, C 2);
args!(A 0, B 1, C 2, D 3);
args!(A 0, B 1, C 2, D 3, E 4);
args!(A 0, B 1, C 2, D 3, E 4, G 5);

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: SqlValue + Clone + PartialEq + std::fmt::Debug>(values: Vec<Option<T>>) {
        let column = T::to_column(values.clone());
        assert_eq!(column.data_type(), &T::data_type());
        assert_eq!(read::<T>(&column).expect("read"), values);
    }

    #[test]
    fn every_type_goes_to_a_column_and_back() {
        round_trip(vec![Some(1i64), None, Some(-3)]);
        round_trip(vec![Some(1i32), None]);
        round_trip(vec![Some(true), None]);
        round_trip(vec![Some(1.5f64), None]);
        round_trip(vec![Some("a".to_string()), None]);
        round_trip(vec![NaiveDate::from_ymd_opt(2024, 2, 29), None]);
        let t = NaiveDate::from_ymd_opt(2024, 1, 1)
            .and_then(|d| d.and_hms_milli_opt(10, 0, 0, 5))
            .expect("a time");
        round_trip(vec![Some(t), None]);
        round_trip(vec![Some(vec![1i64, 2]), None, Some(vec![])]);
        round_trip(vec![Some(vec![Some(1i64), None]), None]);
        round_trip(vec![Some(Some(1i64)), Some(None)]);
    }

    #[test]
    fn a_null_element_makes_a_list_of_non_options_null() {
        let column = Vec::<Option<i64>>::to_column(vec![Some(vec![Some(1), None])]);
        assert_eq!(read::<Vec<i64>>(&column).expect("read"), vec![None]);
    }

    #[test]
    fn rows_with_a_null_where_no_option_is_taken_are_none() {
        let a = i64::to_column(vec![Some(1), None, Some(3)]);
        let b = Option::<String>::to_column(vec![None, Some(Some("x".into())), Some(None)]);
        let rows = <(i64, Option<String>)>::rows(&[a, b], 3).expect("rows");
        assert_eq!(rows, vec![Some((1, None)), None, Some((3, None))]);
    }
}
