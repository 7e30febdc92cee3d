//! Flink's `PERCENTILE(x, p [, frequency])`: the exact percentile `p` of
//! the values of `x` (as DOUBLE), interpolated linearly between the two
//! values around position `p * (n - 1)`, as Flink computes it (DataFusion's
//! PERCENTILE_CONT rounds its interpolation). Retractable, so it serves
//! updating aggregations too. A list of percentages is not supported yet.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

/// The aggregate function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct FlinkPercentile {
    signature: Signature,
}

impl FlinkPercentile {
    pub(super) fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn is_number(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Null)
}

impl AggregateUDFImpl for FlinkPercentile {
    fn name(&self) -> &str {
        "percentile"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [x, p] if is_number(x) && is_number(p) => {
                Ok(vec![DataType::Float64, DataType::Float64])
            }
            [x, p, f]
                if is_number(x) && is_number(p) && (f.is_integer() || *f == DataType::Null) =>
            {
                Ok(vec![DataType::Float64, DataType::Float64, DataType::Int64])
            }
            [_, DataType::List(_) | DataType::FixedSizeList(..), ..] => {
                plan_err!("PERCENTILE with a list of percentages is not supported yet")
            }
            _ => plan_err!(
                "PERCENTILE takes a number, a percentage between 0.0 and 1.0 and an optional integer frequency, not {arg_types:?}"
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Counts::default()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |t: DataType| DataType::List(Arc::new(Field::new("item", t, true)));
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "values"),
                list(DataType::Float64),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "counts"),
                list(DataType::Int64),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "percentage"),
                DataType::Float64,
                true,
            )),
        ])
    }
}

/// A key ordering doubles as Java's `Double.compareTo` does.
fn key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

fn value(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    })
}

/// How often each value occurs, and the percentage asked for.
#[derive(Debug, Default)]
struct Counts {
    counts: BTreeMap<u64, i64>,
    percentage: Option<f64>,
}

impl Counts {
    fn add(&mut self, v: f64, n: i64) {
        let c = self.counts.entry(key(v)).or_insert(0);
        *c += n;
        if *c == 0 {
            self.counts.remove(&key(v));
        }
    }

    fn set_percentage(&mut self, p: f64) -> Result<()> {
        if self.percentage.is_none() {
            if !(0.0..=1.0).contains(&p) {
                return exec_err!(
                    "Percentage of PERCENTILE should be between [0.0, 1.0], but was '{p}'."
                );
            }
            self.percentage = Some(p);
        }
        Ok(())
    }

    /// Adds each row's value `sign` times its frequency.
    fn apply(&mut self, values: &[ArrayRef], sign: i64) -> Result<()> {
        let xs = cast(&values[0], &DataType::Float64)?;
        let xs = xs.as_primitive::<Float64Type>();
        let ps = cast(&values[1], &DataType::Float64)?;
        let ps = ps.as_primitive::<Float64Type>();
        let freqs = match values.get(2) {
            Some(f) => Some(cast(f, &DataType::Int64)?),
            None => None,
        };
        let freqs = freqs.as_ref().map(|f| f.as_primitive::<Int64Type>());
        for i in 0..xs.len() {
            if ps.is_valid(i) {
                self.set_percentage(ps.value(i))?;
            }
            let n = match freqs {
                None => 1,
                Some(f) if f.is_valid(i) && f.value(i) > 0 => f.value(i),
                Some(_) => continue,
            };
            if xs.is_valid(i) {
                self.add(xs.value(i), sign * n);
            }
        }
        Ok(())
    }
}

impl Accumulator for Counts {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.apply(values, 1)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.apply(values, -1)
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let (Some(p), total) = (self.percentage, self.counts.values().sum::<i64>()) else {
            return Ok(ScalarValue::Float64(None));
        };
        if total <= 0 {
            return Ok(ScalarValue::Float64(None));
        }
        // 1-based position; the values at its floor and ceiling.
        let position = p * (total - 1) as f64 + 1.0;
        let (lower, higher) = (position.floor() as i64, position.ceil() as i64);
        let mut seen = 0;
        let mut entries = self.counts.iter().peekable();
        while let Some((k, c)) = entries.next() {
            seen += c;
            if seen < lower {
                continue;
            }
            let v = value(*k);
            if seen >= higher {
                return Ok(ScalarValue::Float64(Some(v)));
            }
            let next = entries.peek().map_or(v, |(k, _)| value(**k));
            let h = higher as f64;
            let l = lower as f64;
            return Ok(ScalarValue::Float64(Some(
                (h - position) * v + (position - l) * next,
            )));
        }
        Ok(ScalarValue::Float64(None))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.counts.len() * 32
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values = Float64Array::from_iter_values(self.counts.keys().map(|k| value(*k)));
        let counts = Int64Array::from_iter_values(self.counts.values().copied());
        let list = |a: ArrayRef, t: DataType| -> Result<ScalarValue> {
            let field = Arc::new(Field::new("item", t, true));
            let offsets = OffsetBuffer::from_lengths([a.len()]);
            Ok(ScalarValue::List(Arc::new(ListArray::try_new(
                field, offsets, a, None,
            )?)))
        };
        Ok(vec![
            list(Arc::new(values), DataType::Float64)?,
            list(Arc::new(counts), DataType::Int64)?,
            ScalarValue::Float64(self.percentage),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let values = states[0].as_list::<i32>();
        let counts = states[1].as_list::<i32>();
        let percentages = cast(&states[2], &DataType::Float64)?;
        let percentages = percentages.as_primitive::<Float64Type>();
        for row in 0..values.len() {
            if percentages.is_valid(row) {
                self.set_percentage(percentages.value(row))?;
            }
            if values.is_null(row) || counts.is_null(row) {
                continue;
            }
            let vs = values.value(row);
            let vs = cast(&vs, &DataType::Float64)?;
            let vs = vs.as_primitive::<Float64Type>();
            let cs = counts.value(row);
            let cs = cast(&cs, &DataType::Int64)?;
            let cs = cs.as_primitive::<Int64Type>();
            for i in 0..vs.len() {
                self.add(vs.value(i), cs.value(i));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percentile(values: &[f64], p: f64) -> Option<f64> {
        let mut acc = Counts::default();
        let xs: ArrayRef = Arc::new(Float64Array::from(values.to_vec()));
        let ps: ArrayRef = Arc::new(Float64Array::from(vec![p; values.len()]));
        acc.update_batch(&[xs, ps]).expect("update");
        match acc.evaluate().expect("evaluate") {
            ScalarValue::Float64(v) => v,
            _ => None,
        }
    }

    #[test]
    fn interpolates_between_the_values_around_the_position() {
        // Flink's double arithmetic, to the last digit (what Flink printed
        // for the same values, tests/conformance/functions/percentile.out).
        assert_eq!(percentile(&[0.0, 10.0, 10.0], 0.3), Some(6.000000000000001));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.5));
        assert_eq!(percentile(&[5.0], 0.9), Some(5.0));
        assert_eq!(percentile(&[-1.0, -0.0, 0.0, 3.0], 1.0), Some(3.0));
        assert_eq!(percentile(&[], 0.5), None);
        let mut keys: Vec<u64> = [3.0, -0.0, -2.5, 0.0, f64::MAX]
            .iter()
            .map(|v| key(*v))
            .collect();
        keys.sort_unstable();
        let back: Vec<f64> = keys.iter().map(|k| value(*k)).collect();
        assert_eq!(back, [-2.5, -0.0, 0.0, 3.0, f64::MAX]);
    }

    #[test]
    fn retracted_values_leave_and_state_merges() {
        let mut acc = Counts::default();
        let xs: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 2.0, 9.0]));
        let ps: ArrayRef = Arc::new(Float64Array::from(vec![0.5; 3]));
        acc.update_batch(&[xs, ps.clone()]).expect("update");
        let gone: ArrayRef = Arc::new(Float64Array::from(vec![9.0]));
        acc.retract_batch(&[gone, ps.slice(0, 1)]).expect("retract");
        assert_eq!(
            acc.evaluate().expect("evaluate"),
            ScalarValue::Float64(Some(1.5))
        );
        let state: Vec<ArrayRef> = acc
            .state()
            .expect("state")
            .iter()
            .map(|s| s.to_array().expect("array"))
            .collect();
        let mut other = Counts::default();
        other.merge_batch(&state).expect("merge");
        assert_eq!(
            other.evaluate().expect("evaluate"),
            ScalarValue::Float64(Some(1.5))
        );
    }
}
