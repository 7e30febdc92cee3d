//! The functions window table functions are rewritten into. The streaming
//! planner recognises them to pick the window operator: `SESSION_END` marks
//! a session window; `HOP_STARTS` and `CUMULATE_ENDS` (unnested, one row
//! per window) mark the windows a window aggregation computes from shared
//! slices, each row going to its slice (`SLICE_END`) instead.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, ListBuilder, TimestampMillisecondBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, TimestampMillisecondType};
use datafusion::common::Result;

use super::FlinkFunction;
use super::datetime::{TS, millis};

/// `SESSION_END(ts, gap)`: the row time plus the gap (milliseconds), the
/// `window_end` of the session a row opens.
pub const SESSION_END: &str = "flink_session_end";
/// `HOP_STARTS(ts, slide, size, offset)`: the starts of the hopping
/// windows holding `ts`, earliest first.
pub const HOP_STARTS: &str = "flink_hop_starts";
/// `CUMULATE_ENDS(ts, step, size, offset)`: the ends of the cumulating
/// windows holding `ts`, earliest first.
pub const CUMULATE_ENDS: &str = "flink_cumulate_ends";
/// `SLICE_END(ts, slice, offset, shift)`: the end of the slice holding
/// `ts` (slices of `slice` ms from `offset`), plus `shift`: the window
/// columns of TUMBLE, and of a row's slice of HOP and CUMULATE.
pub const SLICE_END: &str = "flink_slice_end";
/// `PLUS_MILLIS(ts, ms)`: `ts` plus `ms` milliseconds, in integer
/// arithmetic (an interval addition goes through calendar arithmetic per
/// row).
pub const PLUS_MILLIS: &str = "flink_plus_millis";

/// `AS_OF(probe_time, version_time)`: always true; marks the condition of
/// a temporal join (`FOR SYSTEM_TIME AS OF`) and names its two times, so
/// the planner finds them and the optimizer keeps both columns.
pub const AS_OF: &str = "flink_as_of";

/// `PROCTIME()`: the processing time, the wall clock when the row is
/// read, as a `TIMESTAMP_LTZ(3)`.
pub const PROCTIME: &str = "proctime";

pub(super) fn functions() -> Vec<FlinkFunction> {
    use DataType::Int64;
    let list = DataType::List(Arc::new(Field::new("item", TS, true)));
    let ltz = DataType::Timestamp(
        datafusion::arrow::datatypes::TimeUnit::Millisecond,
        Some(eddy_engine::batch::LTZ_ZONE.into()),
    );
    vec![
        FlinkFunction::new(PROCTIME, vec![vec![]], ltz, proctime).volatile(),
        FlinkFunction::any_args(AS_OF, 2, DataType::Boolean, as_of).volatile(),
        FlinkFunction::new(SESSION_END, vec![vec![TS, Int64]], TS, session_end)
            .with_constant_parameters(),
        FlinkFunction::new(
            HOP_STARTS,
            vec![vec![TS, Int64, Int64, Int64]],
            list.clone(),
            hop_starts,
        )
        .with_constant_parameters(),
        FlinkFunction::new(
            CUMULATE_ENDS,
            vec![vec![TS, Int64, Int64, Int64]],
            list,
            cumulate_ends,
        )
        .with_constant_parameters(),
        FlinkFunction::new(
            SLICE_END,
            vec![vec![TS, Int64, Int64, Int64]],
            TS,
            slice_end,
        )
        .with_constant_parameters(),
        FlinkFunction::new(PLUS_MILLIS, vec![vec![TS, Int64]], TS, plus_millis)
            .with_constant_parameters(),
    ]
}

fn as_of(_args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    Ok(Arc::new(datafusion::arrow::array::BooleanArray::from(
        vec![true; rows],
    )))
}

fn proctime(_args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let now = chrono::Utc::now().timestamp_millis();
    Ok(Arc::new(
        datafusion::arrow::array::TimestampMillisecondArray::from(vec![now; rows])
            .with_timezone(eddy_engine::batch::LTZ_ZONE),
    ))
}

/// Argument `i` (a milliseconds count) of each row.
fn longs(args: &[ArrayRef], i: usize) -> Result<Vec<Option<i64>>> {
    let a = cast(&args[i], &DataType::Int64)?;
    let a = a.as_primitive::<Int64Type>();
    Ok((0..a.len())
        .map(|r| a.is_valid(r).then(|| a.value(r)))
        .collect())
}

/// The value of an argument at `row` (a constant argument has one row).
fn at(values: &[Option<i64>], row: usize) -> Option<i64> {
    values
        .get(row)
        .or_else(|| values.first())
        .copied()
        .flatten()
}

/// Start of the `size` period holding `t`, periods counted from `offset`.
fn floor(t: i64, size: i64, offset: i64) -> i64 {
    // Wrapping: times at the ends of the i64 range give nonsense, not a panic.
    t.wrapping_sub(offset)
        .div_euclid(size)
        .wrapping_mul(size)
        .wrapping_add(offset)
}

fn session_end(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    plus_millis(args, rows)
}

fn plus_millis(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let ts = cast(&args[0], &TS)?;
    let ts = ts.as_primitive::<TimestampMillisecondType>();
    let ms = cast(&args[1], &DataType::Int64)?;
    let ms = ms.as_primitive::<Int64Type>();
    if ms.len() == 1 && ts.len() == rows {
        let Some(m) = ms.is_valid(0).then(|| ms.value(0)) else {
            return Ok(datafusion::arrow::array::new_null_array(&TS, rows));
        };
        return Ok(Arc::new(
            ts.unary::<_, TimestampMillisecondType>(|t| t.saturating_add(m)),
        ));
    }
    let mut out = TimestampMillisecondBuilder::new();
    for i in 0..rows {
        let t = ts.is_valid(i).then(|| ts.value(i));
        let j = if ms.len() == 1 { 0 } else { i };
        let m = ms.is_valid(j).then(|| ms.value(j));
        out.append_option(t.zip(m).map(|(t, m)| t.saturating_add(m)));
    }
    Ok(Arc::new(out.finish()))
}

/// Builds, per row, the list `windows(t, a, b, offset)` (empty for a NULL
/// time or bad parameters).
fn window_lists(
    args: &[ArrayRef],
    rows: usize,
    windows: impl Fn(i64, i64, i64, i64) -> Vec<i64>,
) -> Result<ArrayRef> {
    let ts = millis(&args[0])?;
    let (a, b, offset) = (longs(args, 1)?, longs(args, 2)?, longs(args, 3)?);
    let mut out = ListBuilder::new(TimestampMillisecondBuilder::new());
    for (i, t) in ts.iter().enumerate().take(rows) {
        if let (Some(t), Some(a), Some(b), Some(o)) = (*t, at(&a, i), at(&b, i), at(&offset, i))
            && a > 0
            && b > 0
        {
            for w in windows(t, a, b, o) {
                out.values().append_value(w);
            }
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

fn hop_starts(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    window_lists(args, rows, |t, slide, size, offset| {
        // The last window holding `t` starts at its slide period; the
        // earlier ones every `slide` before, while they still reach `t`.
        let last = floor(t, slide, offset);
        let mut starts: Vec<i64> = (0..)
            .map(|k: i64| last.saturating_sub(k.saturating_mul(slide)))
            .take_while(|s| s.saturating_add(size) > t && *s > i64::MIN)
            .collect();
        starts.reverse();
        starts
    })
}

fn cumulate_ends(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    window_lists(args, rows, |t, step, size, offset| {
        let start = floor(t, size, offset);
        let first = floor(t, step, offset) + step;
        (0..)
            .map(|k: i64| first.saturating_add(k.saturating_mul(step)))
            .take_while(|e| *e <= start.saturating_add(size) && *e < i64::MAX)
            .collect()
    })
}

fn slice_end(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    let ts = cast(&args[0], &TS)?;
    let ts = ts.as_primitive::<TimestampMillisecondType>();
    let (slice, offset, shift) = (longs(args, 1)?, longs(args, 2)?, longs(args, 3)?);
    if let ([Some(s)], [Some(o)], [Some(shift)]) = (&slice[..], &offset[..], &shift[..])
        && *s > 0
        && ts.len() == rows
    {
        let (s, o, shift) = (*s, *o, *shift);
        return Ok(Arc::new(ts.unary::<_, TimestampMillisecondType>(|t| {
            floor(t, s, o).wrapping_add(s).wrapping_add(shift)
        })));
    }
    let ts = millis(&args[0])?;
    let (slice, offset, shift) = (longs(args, 1)?, longs(args, 2)?, longs(args, 3)?);
    let mut out = TimestampMillisecondBuilder::new();
    for (i, t) in ts.iter().enumerate().take(rows) {
        let end = match (*t, at(&slice, i), at(&offset, i), at(&shift, i)) {
            (Some(t), Some(s), Some(o), Some(shift)) if s > 0 => {
                Some(floor(t, s, o).wrapping_add(s).wrapping_add(shift))
            }
            _ => None,
        };
        out.append_option(end);
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, TimestampMillisecondArray};

    use super::*;

    fn call(f: fn(&[ArrayRef], usize) -> Result<ArrayRef>, t: i64, a: i64, b: i64) -> Vec<i64> {
        let args: Vec<ArrayRef> = vec![
            Arc::new(TimestampMillisecondArray::from(vec![t])),
            Arc::new(Int64Array::from(vec![a])),
            Arc::new(Int64Array::from(vec![b])),
            Arc::new(Int64Array::from(vec![0])),
        ];
        let list = f(&args, 1).expect("call");
        let values = list.as_list::<i32>().value(0);
        let values = cast(&values, &DataType::Int64).expect("cast");
        values.as_primitive::<Int64Type>().values().to_vec()
    }

    #[test]
    fn hop_lists_every_window_holding_the_time() {
        assert_eq!(call(hop_starts, 25, 10, 30), vec![0, 10, 20]);
        assert_eq!(call(hop_starts, 20, 10, 30), vec![0, 10, 20]);
        assert_eq!(call(hop_starts, -5, 10, 20), vec![-20, -10]);
    }

    #[test]
    fn cumulate_lists_the_growing_windows_from_the_time_on() {
        assert_eq!(call(cumulate_ends, 25, 10, 30), vec![30]);
        assert_eq!(call(cumulate_ends, 5, 10, 30), vec![10, 20, 30]);
        assert_eq!(call(cumulate_ends, 30, 10, 30), vec![40, 50, 60]);
    }
}
