//! The state of one aggregate call for every key of a group aggregation,
//! by dense group index. `COUNT`, `SUM`, `AVG`, and (over append-only
//! input) `MIN` and `MAX` of numbers keep typed vectors, updated for a
//! whole batch at once and read for the keys a batch touched without
//! consuming anything (DataFusion's `GroupsAccumulator` can only be read by
//! emptying it). Other calls keep DataFusion `Accumulator`s per key, or a
//! multiset of their arguments when they must retract and cannot.

use std::collections::BTreeMap;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, PrimitiveArray, UInt32Array,
};
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Float64Type, Int32Type, Int64Type,
};
use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Accumulator;
use foldhash::fast::RandomState;

use crate::error::{EngineError, Result};
use crate::ops::aggregate::AggregateCall;

/// One call's state for all keys.
pub trait GroupState: Send {
    /// Adds (`sign` +1) or retracts (`sign` -1) the argument rows `values`
    /// (already filtered), row `i` to group `groups[i]`; `total` groups exist.
    fn update(
        &mut self,
        values: &[ArrayRef],
        groups: &[usize],
        signs: &[i8],
        total: usize,
    ) -> Result<()>;
    /// The current results of `groups`, in that order.
    fn evaluate(&mut self, groups: &[usize]) -> Result<ArrayRef>;
    /// Forgets group `g` (its index will be reused).
    fn reset(&mut self, g: usize) -> Result<()>;
    /// The state of `groups` as columns, one row per group (a snapshot).
    fn snapshot(&mut self, groups: &[usize]) -> Result<Vec<ArrayRef>>;
    /// Sets the state of `groups` (of `total`) from columns written by
    /// `snapshot`.
    fn restore(&mut self, columns: &[ArrayRef], groups: &[usize], total: usize) -> Result<()>;
}

/// Values `v` at `groups`, as a column.
fn at<T: ArrowPrimitiveType>(v: &[T::Native], groups: &[usize]) -> ArrayRef
where
    T::Native: Default,
{
    std::sync::Arc::new(PrimitiveArray::<T>::from_iter_values(
        groups
            .iter()
            .map(|g| v.get(*g).copied().unwrap_or_default()),
    ))
}

/// Column `i` of a snapshot as `T`.
fn column<T: ArrowPrimitiveType>(columns: &[ArrayRef], i: usize) -> Result<&PrimitiveArray<T>> {
    columns
        .get(i)
        .and_then(|c| c.as_primitive_opt::<T>())
        .ok_or_else(|| EngineError::State("aggregate state has an unexpected layout".into()))
}

/// The state for `call`, over an input that retracts if `updating`.
pub fn group_state(
    call: &AggregateCall,
    input: &datafusion::arrow::datatypes::Schema,
    updating: bool,
) -> Result<Box<dyn GroupState>> {
    let f = &call.function;
    let out = f.field().data_type().clone();
    let args: Vec<DataType> = f
        .expressions()
        .iter()
        .map(|e| e.data_type(input))
        .collect::<Result<_, _>>()?;
    if !f.is_distinct() && args.len() == 1 {
        let name = f.fun().name();
        match (name, &args[0], &out) {
            ("count", _, DataType::Int64) => return Ok(Box::new(Count::default())),
            ("sum", DataType::Int64, DataType::Int64) => {
                return Ok(Box::new(Sum::<Int64Type>::default()));
            }
            ("sum", DataType::Float64, DataType::Float64) => {
                return Ok(Box::new(Sum::<Float64Type>::default()));
            }
            ("avg", DataType::Int64 | DataType::Int32, o) if o == &args[0] => {
                return Ok(Box::new(IntegerAvg {
                    sums: vec![],
                    counts: vec![],
                    out: o.clone(),
                }));
            }
            ("avg", DataType::Float64, DataType::Float64) => {
                return Ok(Box::new(FloatAvg::default()));
            }
            ("min" | "max", t, o) if !updating && t == o => {
                let max = name == "max";
                match t {
                    DataType::Int64 => return Ok(Box::new(MinMax::<Int64Type>::new(max))),
                    DataType::Int32 => return Ok(Box::new(MinMax::<Int32Type>::new(max))),
                    DataType::Float64 => return Ok(Box::new(MinMax::<Float64Type>::new(max))),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let retracts = f.create_accumulator()?.supports_retract_batch();
    let multiset = if updating && !retracts {
        Some(RowConverter::new(
            args.into_iter().map(SortField::new).collect(),
        )?)
    } else {
        None
    };
    Ok(Box::new(PerKey {
        call: call.clone(),
        multiset,
        keys: vec![],
    }))
}

fn grow<T: Clone>(v: &mut Vec<T>, total: usize, fill: T) {
    if v.len() < total {
        v.resize(total, fill);
    }
}

/// `COUNT(x)`: non-NULL rows.
#[derive(Default)]
struct Count {
    counts: Vec<i64>,
}

impl GroupState for Count {
    fn update(
        &mut self,
        values: &[ArrayRef],
        groups: &[usize],
        signs: &[i8],
        total: usize,
    ) -> Result<()> {
        grow(&mut self.counts, total, 0);
        let v = &values[0];
        for (i, g) in groups.iter().enumerate() {
            if v.is_valid(i) {
                self.counts[*g] += i64::from(signs[i]);
            }
        }
        Ok(())
    }
    fn evaluate(&mut self, groups: &[usize]) -> Result<ArrayRef> {
        Ok(std::sync::Arc::new(Int64Array::from_iter_values(
            groups
                .iter()
                .map(|g| self.counts.get(*g).copied().unwrap_or(0)),
        )))
    }
    fn reset(&mut self, g: usize) -> Result<()> {
        if let Some(c) = self.counts.get_mut(g) {
            *c = 0;
        }
        Ok(())
    }
    fn snapshot(&mut self, groups: &[usize]) -> Result<Vec<ArrayRef>> {
        Ok(vec![at::<Int64Type>(&self.counts, groups)])
    }
    fn restore(&mut self, columns: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        grow(&mut self.counts, total, 0);
        let counts = column::<Int64Type>(columns, 0)?;
        for (i, g) in groups.iter().enumerate() {
            self.counts[*g] = counts.value(i);
        }
        Ok(())
    }
}

/// Numbers a typed state can add and subtract.
trait Number: Copy + Default + Send + PartialOrd + 'static {
    fn add(self, other: Self) -> Self;
    fn sub(self, other: Self) -> Self;
}
impl Number for i64 {
    fn add(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    fn sub(self, o: Self) -> Self {
        self.wrapping_sub(o)
    }
}
impl Number for i32 {
    fn add(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    fn sub(self, o: Self) -> Self {
        self.wrapping_sub(o)
    }
}
impl Number for f64 {
    fn add(self, o: Self) -> Self {
        self + o
    }
    fn sub(self, o: Self) -> Self {
        self - o
    }
}

fn primitive<T: ArrowPrimitiveType>(a: &ArrayRef) -> Result<&PrimitiveArray<T>> {
    a.as_primitive_opt::<T>().ok_or_else(|| {
        EngineError::Internal(format!("aggregate argument of type {}", a.data_type()))
    })
}

/// `SUM(x)`: the sum and how many values it holds (none: NULL).
struct Sum<T: ArrowPrimitiveType> {
    sums: Vec<T::Native>,
    counts: Vec<i64>,
}

impl<T: ArrowPrimitiveType> Default for Sum<T> {
    fn default() -> Self {
        Self {
            sums: vec![],
            counts: vec![],
        }
    }
}

impl<T> GroupState for Sum<T>
where
    T: ArrowPrimitiveType,
    T::Native: Number,
{
    fn update(
        &mut self,
        values: &[ArrayRef],
        groups: &[usize],
        signs: &[i8],
        total: usize,
    ) -> Result<()> {
        grow(&mut self.sums, total, T::Native::default());
        grow(&mut self.counts, total, 0);
        let v = primitive::<T>(&values[0])?;
        for (i, g) in groups.iter().enumerate() {
            if v.is_valid(i) {
                let x = v.value(i);
                let s = &mut self.sums[*g];
                *s = if signs[i] > 0 { s.add(x) } else { s.sub(x) };
                self.counts[*g] += i64::from(signs[i]);
            }
        }
        Ok(())
    }
    fn evaluate(&mut self, groups: &[usize]) -> Result<ArrayRef> {
        Ok(std::sync::Arc::new(PrimitiveArray::<T>::from_iter(
            groups
                .iter()
                .map(|g| (self.counts.get(*g).copied().unwrap_or(0) > 0).then(|| self.sums[*g])),
        )))
    }
    fn reset(&mut self, g: usize) -> Result<()> {
        if g < self.sums.len() {
            self.sums[g] = T::Native::default();
            self.counts[g] = 0;
        }
        Ok(())
    }
    fn snapshot(&mut self, groups: &[usize]) -> Result<Vec<ArrayRef>> {
        Ok(vec![
            at::<T>(&self.sums, groups),
            at::<Int64Type>(&self.counts, groups),
        ])
    }
    fn restore(&mut self, columns: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        grow(&mut self.sums, total, T::Native::default());
        grow(&mut self.counts, total, 0);
        let (sums, counts) = (column::<T>(columns, 0)?, column::<Int64Type>(columns, 1)?);
        for (i, g) in groups.iter().enumerate() {
            self.sums[*g] = sums.value(i);
            self.counts[*g] = counts.value(i);
        }
        Ok(())
    }
}

/// Flink's `AVG` of integers: the sum over the count, truncated, in the
/// argument's type.
struct IntegerAvg {
    sums: Vec<i128>,
    counts: Vec<i64>,
    out: DataType,
}

impl GroupState for IntegerAvg {
    fn update(
        &mut self,
        values: &[ArrayRef],
        groups: &[usize],
        signs: &[i8],
        total: usize,
    ) -> Result<()> {
        grow(&mut self.sums, total, 0);
        grow(&mut self.counts, total, 0);
        let v = cast(&values[0], &DataType::Int64)?;
        let v = v.as_primitive::<Int64Type>();
        for (i, g) in groups.iter().enumerate() {
            if v.is_valid(i) {
                self.sums[*g] += i128::from(v.value(i)) * i128::from(signs[i]);
                self.counts[*g] += i64::from(signs[i]);
            }
        }
        Ok(())
    }
    fn evaluate(&mut self, groups: &[usize]) -> Result<ArrayRef> {
        let avg = Int64Array::from_iter(groups.iter().map(|g| {
            let n = self.counts.get(*g).copied().unwrap_or(0);
            (n > 0).then(|| (self.sums[*g] / i128::from(n)) as i64)
        }));
        Ok(cast(&avg, &self.out)?)
    }
    fn reset(&mut self, g: usize) -> Result<()> {
        if g < self.sums.len() {
            self.sums[g] = 0;
            self.counts[g] = 0;
        }
        Ok(())
    }
    fn snapshot(&mut self, groups: &[usize]) -> Result<Vec<ArrayRef>> {
        let sums = datafusion::arrow::array::Decimal128Array::from_iter_values(
            groups
                .iter()
                .map(|g| self.sums.get(*g).copied().unwrap_or(0)),
        );
        Ok(vec![
            std::sync::Arc::new(sums),
            at::<Int64Type>(&self.counts, groups),
        ])
    }
    fn restore(&mut self, columns: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        grow(&mut self.sums, total, 0);
        grow(&mut self.counts, total, 0);
        let sums = column::<datafusion::arrow::datatypes::Decimal128Type>(columns, 0)?;
        let counts = column::<Int64Type>(columns, 1)?;
        for (i, g) in groups.iter().enumerate() {
            self.sums[*g] = sums.value(i);
            self.counts[*g] = counts.value(i);
        }
        Ok(())
    }
}

/// `AVG` of doubles.
#[derive(Default)]
struct FloatAvg {
    sums: Vec<f64>,
    counts: Vec<i64>,
}

impl GroupState for FloatAvg {
    fn update(
        &mut self,
        values: &[ArrayRef],
        groups: &[usize],
        signs: &[i8],
        total: usize,
    ) -> Result<()> {
        grow(&mut self.sums, total, 0.0);
        grow(&mut self.counts, total, 0);
        let v = primitive::<Float64Type>(&values[0])?;
        for (i, g) in groups.iter().enumerate() {
            if v.is_valid(i) {
                self.sums[*g] += v.value(i) * f64::from(signs[i]);
                self.counts[*g] += i64::from(signs[i]);
            }
        }
        Ok(())
    }
    fn evaluate(&mut self, groups: &[usize]) -> Result<ArrayRef> {
        Ok(std::sync::Arc::new(Float64Array::from_iter(
            groups.iter().map(|g| {
                let n = self.counts.get(*g).copied().unwrap_or(0);
                (n > 0).then(|| self.sums[*g] / n as f64)
            }),
        )))
    }
    fn reset(&mut self, g: usize) -> Result<()> {
        if g < self.sums.len() {
            self.sums[g] = 0.0;
            self.counts[g] = 0;
        }
        Ok(())
    }
    fn snapshot(&mut self, groups: &[usize]) -> Result<Vec<ArrayRef>> {
        Ok(vec![
            at::<Float64Type>(&self.sums, groups),
            at::<Int64Type>(&self.counts, groups),
        ])
    }
    fn restore(&mut self, columns: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        grow(&mut self.sums, total, 0.0);
        grow(&mut self.counts, total, 0);
        let sums = column::<Float64Type>(columns, 0)?;
        let counts = column::<Int64Type>(columns, 1)?;
        for (i, g) in groups.iter().enumerate() {
            self.sums[*g] = sums.value(i);
            self.counts[*g] = counts.value(i);
        }
        Ok(())
    }
}

/// `MIN(x)` / `MAX(x)` over an input that never retracts.
struct MinMax<T: ArrowPrimitiveType> {
    max: bool,
    values: Vec<Option<T::Native>>,
}

impl<T: ArrowPrimitiveType> MinMax<T> {
    fn new(max: bool) -> Self {
        Self {
            max,
            values: vec![],
        }
    }
}

impl<T> GroupState for MinMax<T>
where
    T: ArrowPrimitiveType,
    T::Native: Number,
{
    fn update(
        &mut self,
        values: &[ArrayRef],
        groups: &[usize],
        signs: &[i8],
        total: usize,
    ) -> Result<()> {
        if signs.iter().any(|s| *s < 0) {
            return Err(EngineError::Internal("MIN/MAX state cannot retract".into()));
        }
        grow(&mut self.values, total, None);
        let v = primitive::<T>(&values[0])?;
        for (i, g) in groups.iter().enumerate() {
            if v.is_valid(i) {
                let x = v.value(i);
                let cur = &mut self.values[*g];
                let better = match cur {
                    None => true,
                    Some(c) if self.max => x > *c,
                    Some(c) => x < *c,
                };
                if better {
                    *cur = Some(x);
                }
            }
        }
        Ok(())
    }
    fn evaluate(&mut self, groups: &[usize]) -> Result<ArrayRef> {
        Ok(std::sync::Arc::new(PrimitiveArray::<T>::from_iter(
            groups
                .iter()
                .map(|g| self.values.get(*g).copied().flatten()),
        )))
    }
    fn reset(&mut self, g: usize) -> Result<()> {
        if let Some(v) = self.values.get_mut(g) {
            *v = None;
        }
        Ok(())
    }
    fn snapshot(&mut self, groups: &[usize]) -> Result<Vec<ArrayRef>> {
        self.evaluate(groups).map(|a| vec![a])
    }
    fn restore(&mut self, columns: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        grow(&mut self.values, total, None);
        let values = column::<T>(columns, 0)?;
        for (i, g) in groups.iter().enumerate() {
            self.values[*g] = values.is_valid(i).then(|| values.value(i));
        }
        Ok(())
    }
}

/// A group and whether its rows add (1) or retract (-1).
type Run = (usize, i8);

/// Any other call: a DataFusion `Accumulator` per key, or, when it must
/// retract and cannot, the multiset of its arguments per key.
struct PerKey {
    call: AggregateCall,
    /// The converter of the arguments, when keeping multisets.
    multiset: Option<RowConverter>,
    keys: Vec<Option<KeyState>>,
}

enum KeyState {
    Accumulator(Box<dyn Accumulator>),
    Multiset(Multiset),
}

/// Arguments and how many times each is held, in the order they first
/// came (LISTAGG and FIRST_VALUE over updates keep arrival order, as in
/// Flink).
#[derive(Default)]
struct Multiset {
    values: BTreeMap<u64, (OwnedRow, i64)>,
    seq_of: std::collections::HashMap<OwnedRow, u64, RandomState>,
    next: u64,
}

impl Multiset {
    /// Adds `delta` (+1 or -1) to the count of `value`.
    fn add(&mut self, value: OwnedRow, delta: i64) {
        let seq = match self.seq_of.get(&value) {
            Some(s) => *s,
            None if delta <= 0 => return,
            None => {
                self.next += 1;
                self.seq_of.insert(value.clone(), self.next);
                self.values.insert(self.next, (value.clone(), 0));
                self.next
            }
        };
        if let Some((_, n)) = self.values.get_mut(&seq) {
            *n += delta;
            if *n <= 0 {
                self.values.remove(&seq);
                self.seq_of.remove(&value);
            }
        }
    }
}

impl PerKey {
    fn state(&mut self, g: usize) -> Result<&mut KeyState> {
        if self.keys.len() <= g {
            self.keys.resize_with(g + 1, || None);
        }
        if self.keys[g].is_none() {
            self.keys[g] = Some(match self.multiset {
                Some(_) => KeyState::Multiset(Multiset::default()),
                None => KeyState::Accumulator(self.call.function.create_accumulator()?),
            });
        }
        self.keys[g]
            .as_mut()
            .ok_or_else(|| EngineError::Internal("aggregate state".into()))
    }
}

impl GroupState for PerKey {
    fn update(
        &mut self,
        values: &[ArrayRef],
        groups: &[usize],
        signs: &[i8],
        _total: usize,
    ) -> Result<()> {
        // Rows per (group, sign), in order; all of them when the batch has
        // one key and no retraction.
        let single = groups.first().is_some_and(|g0| {
            groups.iter().all(|g| g == g0) && signs.iter().all(|s| *s == signs[0])
        });
        let mut runs: Vec<(Run, Option<Vec<u32>>)> = vec![];
        if single {
            runs.push(((groups[0], signs[0]), None));
        } else {
            let mut index: std::collections::HashMap<(usize, i8), usize, RandomState> =
                Default::default();
            for (i, g) in groups.iter().enumerate() {
                let k = (*g, signs[i]);
                let r = *index.entry(k).or_insert_with(|| {
                    runs.push((k, Some(vec![])));
                    runs.len() - 1
                });
                if let Some(rows) = runs[r].1.as_mut() {
                    rows.push(i as u32);
                }
            }
        }
        for ((g, sign), rows) in runs {
            let args = match rows {
                None => values.to_vec(),
                Some(rows) => {
                    let rows = UInt32Array::from(rows);
                    values
                        .iter()
                        .map(|a| take(a.as_ref(), &rows, None))
                        .collect::<Result<Vec<_>, _>>()?
                }
            };
            let converter = self
                .multiset
                .as_ref()
                .map(|c| c.convert_columns(&args))
                .transpose()?;
            match self.state(g)? {
                KeyState::Accumulator(acc) if sign > 0 => acc.update_batch(&args)?,
                KeyState::Accumulator(acc) => acc.retract_batch(&args)?,
                KeyState::Multiset(held) => {
                    for r in converter.iter().flat_map(|rows| rows.iter()) {
                        held.add(r.owned(), i64::from(sign));
                    }
                }
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, groups: &[usize]) -> Result<ArrayRef> {
        let mut values = Vec::with_capacity(groups.len());
        for g in groups {
            let value = match self.state(*g)? {
                KeyState::Accumulator(acc) => acc.evaluate()?,
                KeyState::Multiset(held) => {
                    let held: Vec<(OwnedRow, i64)> = held.values.values().cloned().collect();
                    let mut acc = self.call.function.create_accumulator()?;
                    if let (false, Some(converter)) = (held.is_empty(), &self.multiset) {
                        let args = converter.convert_rows(held.iter().map(|(r, _)| r.row()))?;
                        // Each argument as many times as it is held.
                        let repeat =
                            UInt32Array::from_iter_values(held.iter().enumerate().flat_map(
                                |(i, (_, n))| std::iter::repeat_n(i as u32, (*n).max(0) as usize),
                            ));
                        let args = args
                            .iter()
                            .map(|a| take(a.as_ref(), &repeat, None))
                            .collect::<Result<Vec<_>, _>>()?;
                        acc.update_batch(&args)?;
                    }
                    acc.evaluate()?
                }
            };
            values.push(value);
        }
        let out = self.call.function.field().data_type().clone();
        if values.is_empty() {
            return Ok(datafusion::arrow::array::new_empty_array(&out));
        }
        let array = ScalarValue::iter_to_array(values)?;
        Ok(if array.data_type() == &out {
            array
        } else {
            cast(&array, &out)?
        })
    }

    fn reset(&mut self, g: usize) -> Result<()> {
        if let Some(k) = self.keys.get_mut(g) {
            *k = None;
        }
        Ok(())
    }

    /// An accumulator's state (`Accumulator::state`, which consumes it, so
    /// the key continues from a copy merged from that state), or a
    /// multiset as one binary value: (length, argument bytes, count)*.
    fn snapshot(&mut self, groups: &[usize]) -> Result<Vec<ArrayRef>> {
        if self.multiset.is_some() {
            let mut values = Vec::with_capacity(groups.len());
            for g in groups {
                let mut bytes = vec![];
                if let KeyState::Multiset(held) = self.state(*g)? {
                    for (row, n) in held.values.values() {
                        let data = row.row().data();
                        bytes.extend_from_slice(&(data.len() as u32).to_le_bytes());
                        bytes.extend_from_slice(data);
                        bytes.extend_from_slice(&n.to_le_bytes());
                    }
                }
                values.push(bytes);
            }
            return Ok(vec![std::sync::Arc::new(
                datafusion::arrow::array::BinaryArray::from_iter_values(values),
            )]);
        }
        let mut states: Vec<Vec<ScalarValue>> = vec![];
        let function = self.call.function.clone();
        for g in groups {
            let KeyState::Accumulator(acc) = self.state(*g)? else {
                continue;
            };
            let state = acc.state()?;
            let arrays = state
                .iter()
                .map(|v| v.to_array())
                .collect::<Result<Vec<_>, _>>()?;
            let mut fresh = function.create_accumulator()?;
            fresh.merge_batch(&arrays)?;
            *acc = fresh;
            if states.len() < state.len() {
                states.resize_with(state.len(), Vec::new);
            }
            for (c, v) in state.into_iter().enumerate() {
                states[c].push(v);
            }
        }
        states
            .into_iter()
            .map(|v| Ok(ScalarValue::iter_to_array(v)?))
            .collect()
    }

    fn restore(&mut self, columns: &[ArrayRef], groups: &[usize], _total: usize) -> Result<()> {
        let bad = || EngineError::State("aggregate state has an unexpected layout".into());
        let parser = self.multiset.as_ref().map(|c| c.parser());
        for (i, g) in groups.iter().enumerate() {
            match self.state(*g)? {
                KeyState::Multiset(held) => {
                    let column = columns.first().and_then(|c| c.as_binary_opt::<i32>());
                    let mut bytes = column.ok_or_else(bad)?.value(i);
                    while bytes.len() >= 4 {
                        let len =
                            u32::from_le_bytes(bytes[..4].try_into().map_err(|_| bad())?) as usize;
                        let (data, rest) = bytes[4..].split_at_checked(len).ok_or_else(bad)?;
                        let (n, rest) = rest.split_at_checked(8).ok_or_else(bad)?;
                        let n = i64::from_le_bytes(n.try_into().map_err(|_| bad())?);
                        let parser = parser.as_ref().ok_or_else(bad)?;
                        held.add(parser.parse(data).owned(), n);
                        bytes = rest;
                    }
                }
                KeyState::Accumulator(acc) => {
                    let state: Vec<ArrayRef> = columns.iter().map(|c| c.slice(i, 1)).collect();
                    acc.merge_batch(&state)?;
                }
            }
        }
        Ok(())
    }
}

/// The rows of `mask` that are true (all when there is no mask).
pub fn kept_rows(mask: Option<&BooleanArray>, rows: usize) -> Vec<u32> {
    match mask {
        None => (0..rows as u32).collect(),
        Some(m) => (0..rows as u32).filter(|i| m.value(*i as usize)).collect(),
    }
}
