//! `__eddy_unnest_part(e, i, n, ordinality)`: column `i` of the `n` columns
//! Flink's `UNNEST(e) [WITH ORDINALITY] AS t(c1, .., cn)` gives, as a list
//! per row, so that DataFusion's UNNEST of the `n` lists side by side (they
//! have one length per row) gives Flink's rows. An array of scalars gives
//! one column, an array of ROWs one column per field, a MAP its keys and
//! values; `WITH ORDINALITY` adds the element's position, from 1. Each part
//! but the ordinals shares the input's buffers. [`crate::lateral`] writes
//! the calls.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, GenericListArray, Int32Array, ListArray, make_array,
    new_null_array,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::{cast, filter};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// The function's name (not Flink's: written only by the rewrite).
pub const UNNEST_PART: &str = "__eddy_unnest_part";

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct UnnestPart {
    signature: Signature,
}

impl UnnestPart {
    pub fn new() -> Self {
        Self {
            signature: Signature::any(4, Volatility::Immutable),
        }
    }
}

/// What a part is: the element itself, field `i` of a ROW element (or of a
/// MAP's entry), or the ordinal.
enum Part {
    Element,
    Field(usize),
    Ordinal,
}

/// The part `i` of `n` names, checking that the aliases fit the element.
fn part(list_type: &DataType, i: usize, n: usize, ordinality: bool) -> Result<(Part, FieldRef)> {
    if ordinality && i + 1 == n {
        return Ok((
            Part::Ordinal,
            Arc::new(Field::new("o", DataType::Int32, false)),
        ));
    }
    let element = match list_type {
        DataType::List(f) | DataType::Map(f, _) => f,
        DataType::Null => {
            return Ok((
                Part::Element,
                Arc::new(Field::new("e", DataType::Null, true)),
            ));
        }
        other => return plan_err!("UNNEST takes an ARRAY or a MAP, not {other}"),
    };
    let columns = n - usize::from(ordinality);
    let (width, part) = match (list_type, element.data_type()) {
        (DataType::Map(..), DataType::Struct(fields)) | (_, DataType::Struct(fields)) => (
            fields.len(),
            fields.get(i).map(|f| (Part::Field(i), f.clone())),
        ),
        _ => (1, (i == 0).then(|| (Part::Element, element.clone()))),
    };
    match part {
        Some((p, f)) if width == columns => {
            Ok((p, Arc::new(f.as_ref().clone().with_nullable(true))))
        }
        _ => plan_err!(
            "List of column aliases must have same degree as table; table has {} columns, whereas alias list has {columns} columns",
            width + usize::from(ordinality)
        ),
    }
}

fn literal_usize(v: Option<&ScalarValue>) -> Result<usize> {
    match v {
        Some(ScalarValue::Int64(Some(x))) if *x >= 0 => Ok(*x as usize),
        _ => plan_err!("{UNNEST_PART} takes constant positions"),
    }
}

fn literal_bool(v: Option<&ScalarValue>) -> Result<bool> {
    match v {
        Some(ScalarValue::Boolean(Some(b))) => Ok(*b),
        _ => plan_err!("{UNNEST_PART} takes a constant ordinality flag"),
    }
}

impl ScalarUDFImpl for UnnestPart {
    fn name(&self) -> &str {
        UNNEST_PART
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        plan_err!("{UNNEST_PART} computes its type from its arguments")
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let s = args.scalar_arguments;
        let (i, n) = (literal_usize(s[1])?, literal_usize(s[2])?);
        let ordinality = literal_bool(s[3])?;
        let (_, element) = part(args.arg_fields[0].data_type(), i, n, ordinality)?;
        Ok(Arc::new(Field::new(
            self.name(),
            DataType::List(element),
            true,
        )))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = |k: usize| match &args.args[k] {
            ColumnarValue::Scalar(v) => Some(v.clone()),
            ColumnarValue::Array(_) => None,
        };
        let (i, n) = (
            literal_usize(scalar(1).as_ref())?,
            literal_usize(scalar(2).as_ref())?,
        );
        let ordinality = literal_bool(scalar(3).as_ref())?;
        let rows = args.number_rows;
        let input = args.args[0].to_array(rows)?;
        let (part, element) = part(input.data_type(), i, n, ordinality)?;
        let result = unnest_part(&input, part, element)?;
        Ok(ColumnarValue::Array(result))
    }
}

/// The list of `part` of each row's elements. Flink skips a NULL element
/// of an array of ROWs (not of a MAP, nor of scalars).
fn unnest_part(input: &ArrayRef, part: Part, element: FieldRef) -> Result<ArrayRef> {
    let (offsets, values, nulls): (OffsetBuffer<i32>, ArrayRef, Option<NullBuffer>) =
        match input.data_type() {
            DataType::List(_) => {
                let l = input.as_list::<i32>();
                (l.offsets().clone(), l.values().clone(), l.nulls().cloned())
            }
            DataType::Map(..) => {
                let m = input.as_map();
                (
                    m.offsets().clone(),
                    Arc::new(m.entries().clone()),
                    m.nulls().cloned(),
                )
            }
            DataType::Null => {
                return Ok(new_null_array(&DataType::List(element), input.len()));
            }
            other => return exec_err!("UNNEST of {other}"),
        };
    // The values the rows use, from 0.
    let first = offsets[0] as usize;
    let values = values.slice(first, offsets[offsets.len() - 1] as usize - first);
    let lengths: Vec<usize> = offsets.windows(2).map(|w| (w[1] - w[0]) as usize).collect();
    let part_values: ArrayRef = match part {
        Part::Element => values.clone(),
        Part::Field(f) => {
            let s = values.as_struct();
            let child = s.column(f);
            match NullBuffer::union(s.nulls(), child.nulls()) {
                Some(n) if s.nulls().is_some() => {
                    make_array(child.to_data().into_builder().nulls(Some(n)).build()?)
                }
                _ => child.clone(),
            }
        }
        Part::Ordinal => {
            let ordinals: Int32Array = lengths.iter().flat_map(|n| 1..=*n as i32).collect();
            Arc::new(ordinals)
        }
    };
    let skip_null_rows = matches!(input.data_type(), DataType::List(f) if matches!(f.data_type(), DataType::Struct(_)))
        && values.null_count() > 0;
    let (part_values, offsets) = if skip_null_rows {
        let keep = BooleanArray::from(
            (0..values.len())
                .map(|i| values.is_valid(i))
                .collect::<Vec<_>>(),
        );
        let mut start = 0;
        let kept: Vec<usize> = lengths
            .iter()
            .map(|n| {
                let k = (start..start + n).filter(|i| keep.value(*i)).count();
                start += n;
                k
            })
            .collect();
        (
            filter(&part_values, &keep)?,
            OffsetBuffer::from_lengths(kept),
        )
    } else {
        (part_values, OffsetBuffer::from_lengths(lengths))
    };
    let part_values = match part_values.data_type() == element.data_type() {
        true => part_values,
        false => cast(&part_values, element.data_type())?,
    };
    let list: ListArray = GenericListArray::try_new(element, offsets, part_values, nulls)?;
    Ok(Arc::new(list))
}
