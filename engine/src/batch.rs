//! A batch of changes: an Arrow `RecordBatch` plus, for updating streams, the
//! row kind of each row (Flink's `RowKind`).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, Int8Array, UInt32Array};
use datafusion::arrow::compute::{cast, filter, filter_record_batch, take, take_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::Result;

/// The time zone of `TIMESTAMP_LTZ` arrays throughout Eddy: the values are
/// instants, kept and shown in UTC.
pub const LTZ_ZONE: &str = "UTC";

/// The kind of change a row carries, as Flink's `RowKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i8)]
pub enum RowKind {
    /// `+I`: a new row.
    Insert = 0,
    /// `-U`: the old value of an updated row.
    UpdateBefore = 1,
    /// `+U`: the new value of an updated row.
    UpdateAfter = 2,
    /// `-D`: a deleted row.
    Delete = 3,
}

impl RowKind {
    /// The short form Flink prints: `+I`, `-U`, `+U`, `-D`.
    pub fn short(self) -> &'static str {
        match self {
            RowKind::Insert => "+I",
            RowKind::UpdateBefore => "-U",
            RowKind::UpdateAfter => "+U",
            RowKind::Delete => "-D",
        }
    }

    /// Decodes the `i8` stored in a row-kind array.
    pub fn from_i8(v: i8) -> Option<RowKind> {
        match v {
            0 => Some(RowKind::Insert),
            1 => Some(RowKind::UpdateBefore),
            2 => Some(RowKind::UpdateAfter),
            3 => Some(RowKind::Delete),
            _ => None,
        }
    }

    /// Parses the short form (`+I`, ...).
    pub fn parse(s: &str) -> Option<RowKind> {
        match s {
            "+I" => Some(RowKind::Insert),
            "-U" => Some(RowKind::UpdateBefore),
            "+U" => Some(RowKind::UpdateAfter),
            "-D" => Some(RowKind::Delete),
            _ => None,
        }
    }

    /// Whether the row adds to the result (`+I`, `+U`) rather than retracts.
    pub fn is_addition(self) -> bool {
        matches!(self, RowKind::Insert | RowKind::UpdateAfter)
    }
}

/// A batch of rows flowing on an edge, with an optional row-kind column.
///
/// Append-only streams carry `kinds: None`, meaning every row is `+I`; this
/// keeps the common case free of an extra array.
#[derive(Debug, Clone)]
pub struct ChangeBatch {
    /// The rows.
    pub data: RecordBatch,
    /// One `RowKind as i8` per row, or `None` when every row is an insert.
    pub kinds: Option<Int8Array>,
}

impl ChangeBatch {
    /// An append-only batch: every row is `+I`.
    pub fn inserts(data: RecordBatch) -> Self {
        Self { data, kinds: None }
    }

    /// A batch whose rows have the given kinds (one per row).
    pub fn with_kinds(data: RecordBatch, kinds: Int8Array) -> Self {
        debug_assert_eq!(data.num_rows(), kinds.len());
        Self {
            data,
            kinds: Some(kinds),
        }
    }

    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        self.data.num_rows()
    }

    /// Schema of the rows.
    pub fn schema(&self) -> SchemaRef {
        self.data.schema()
    }

    /// The kind of row `i`.
    pub fn kind(&self, i: usize) -> RowKind {
        match &self.kinds {
            None => RowKind::Insert,
            Some(k) => RowKind::from_i8(k.value(i)).unwrap_or(RowKind::Insert),
        }
    }

    /// Fails unless every row is an insert: `what` names the operator that
    /// cannot take updates yet.
    pub fn ensure_append_only(&self, what: &str) -> Result<()> {
        if self.kinds.is_some() && (0..self.num_rows()).any(|i| self.kind(i) != RowKind::Insert) {
            return Err(crate::error::EngineError::NotSupported(format!(
                "{what} over an updating input"
            )));
        }
        Ok(())
    }

    /// Keeps the rows where `mask` is true.
    pub fn filter(&self, mask: &BooleanArray) -> Result<ChangeBatch> {
        let data = filter_record_batch(&self.data, mask)?;
        let kinds = match &self.kinds {
            None => None,
            Some(k) => Some(downcast_i8(filter(k, mask)?)),
        };
        Ok(ChangeBatch { data, kinds })
    }

    /// Takes the rows at `indices`, in that order.
    pub fn take(&self, indices: &UInt32Array) -> Result<ChangeBatch> {
        let data = take_record_batch(&self.data, indices)?;
        let kinds = match &self.kinds {
            None => None,
            Some(k) => Some(downcast_i8(take(k, indices, None)?)),
        };
        Ok(ChangeBatch { data, kinds })
    }

    /// Replaces the rows, keeping the row kinds (the new batch must have as many rows).
    pub fn with_data(&self, data: RecordBatch) -> ChangeBatch {
        ChangeBatch {
            data,
            kinds: self.kinds.clone(),
        }
    }
}

fn downcast_i8(a: Arc<dyn Array>) -> Int8Array {
    a.as_any()
        .downcast_ref::<Int8Array>()
        .cloned()
        .unwrap_or_else(|| Int8Array::from(Vec::<i8>::new()))
}

/// A batch of `schema` from `columns`, each cast to its field's type where
/// it differs (an operator's computed columns against its declared schema).
pub fn conform(schema: &SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    let columns = columns
        .into_iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c)
            } else {
                cast(&c, f.data_type())
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int32Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn batch(vals: &[i32]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(vals.to_vec()))])
            .expect("valid batch")
    }

    #[test]
    fn filter_keeps_row_kinds_aligned() {
        let b = ChangeBatch::with_kinds(batch(&[1, 2, 3]), Int8Array::from(vec![0, 1, 2]));
        let out = b
            .filter(&BooleanArray::from(vec![false, true, true]))
            .expect("filter");
        assert_eq!(out.num_rows(), 2);
        assert_eq!(out.kind(0), RowKind::UpdateBefore);
        assert_eq!(out.kind(1), RowKind::UpdateAfter);
    }

    #[test]
    fn append_only_rows_are_inserts() {
        let b = ChangeBatch::inserts(batch(&[1]));
        assert_eq!(b.kind(0), RowKind::Insert);
        assert_eq!(RowKind::parse("-D"), Some(RowKind::Delete));
        assert_eq!(RowKind::Delete.short(), "-D");
    }
}
