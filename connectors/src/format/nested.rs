//! JSON values of nested types (ROW, ARRAY, MAP) to Arrow arrays.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, ListArray, MapArray, StructArray};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::DataType;
use serde_json::Value;

use super::column::{ColumnBuilder, ParseError};

/// Builds an array of `data_type` from JSON values (`None` = missing = NULL).
pub fn json_to_array(
    values: &[Option<&Value>],
    data_type: &DataType,
) -> Result<ArrayRef, ParseError> {
    let is_valid = |v: &Option<&Value>| matches!(v, Some(v) if !v.is_null());
    match data_type {
        DataType::Struct(fields) => {
            let nulls = NullBuffer::from(values.iter().map(is_valid).collect::<Vec<bool>>());
            let children = fields
                .iter()
                .map(|f| {
                    let child: Vec<Option<&Value>> = values
                        .iter()
                        .map(|v| v.and_then(|v| v.get(f.name())))
                        .collect();
                    json_to_array(&child, f.data_type())
                })
                .collect::<Result<Vec<_>, _>>()?;
            StructArray::try_new(fields.clone(), children, Some(nulls))
                .map(|a| Arc::new(a) as ArrayRef)
                .map_err(|e| e.to_string())
        }
        DataType::List(field) => {
            let mut items: Vec<Option<&Value>> = vec![];
            let mut lengths = vec![];
            for v in values {
                match v {
                    Some(Value::Array(a)) => {
                        items.extend(a.iter().map(Some));
                        lengths.push(a.len());
                    }
                    Some(Value::Null) | None => lengths.push(0),
                    Some(other) => return Err(format!("expected a JSON array, got {other}")),
                }
            }
            let child = json_to_array(&items, field.data_type())?;
            let nulls = NullBuffer::from(values.iter().map(is_valid).collect::<Vec<bool>>());
            ListArray::try_new(
                field.clone(),
                OffsetBuffer::from_lengths(lengths),
                child,
                Some(nulls),
            )
            .map(|a| Arc::new(a) as ArrayRef)
            .map_err(|e| e.to_string())
        }
        DataType::Map(entries_field, sorted) => {
            let DataType::Struct(kv) = entries_field.data_type() else {
                return Err("malformed MAP type".into());
            };
            let mut keys: Vec<Value> = vec![];
            let mut vals: Vec<Option<&Value>> = vec![];
            let mut lengths = vec![];
            for v in values {
                match v {
                    Some(Value::Object(o)) => {
                        for (k, val) in o {
                            keys.push(Value::String(k.clone()));
                            vals.push(Some(val));
                        }
                        lengths.push(o.len());
                    }
                    Some(Value::Null) | None => lengths.push(0),
                    Some(other) => return Err(format!("expected a JSON object, got {other}")),
                }
            }
            let key_refs: Vec<Option<&Value>> = keys.iter().map(Some).collect();
            let key_array = json_to_array(&key_refs, kv[0].data_type())?;
            let value_array = json_to_array(&vals, kv[1].data_type())?;
            let entries = StructArray::try_new(kv.clone(), vec![key_array, value_array], None)
                .map_err(|e| e.to_string())?;
            let nulls = NullBuffer::from(values.iter().map(is_valid).collect::<Vec<bool>>());
            MapArray::try_new(
                entries_field.clone(),
                OffsetBuffer::from_lengths(lengths),
                entries,
                Some(nulls),
                *sorted,
            )
            .map(|a| Arc::new(a) as ArrayRef)
            .map_err(|e| e.to_string())
        }
        scalar => {
            let mut b = ColumnBuilder::new(scalar)?;
            for v in values {
                match v {
                    Some(v) => b.append_json(v)?,
                    None => b.append_null(),
                }
            }
            b.finish()
        }
    }
}
