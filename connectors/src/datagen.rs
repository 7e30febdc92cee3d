//! The `datagen` connector: rows of random or sequential values at a given
//! rate, bounded by `number-of-rows` or by the end of a sequence.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use eddy_engine::connector::{ConnectorFactory, TableOptions, TableRequest};
use eddy_engine::operator::{Context, Source, SourceEvent, SourceFactory, SubtaskInfo};
use eddy_engine::{ChangeBatch, EngineError, Result};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Factory of the `datagen` connector.
#[derive(Debug, Default)]
pub struct DatagenConnector;

/// How one column's values are made.
#[derive(Debug, Clone)]
enum FieldKind {
    Sequence {
        start: i64,
        end: i64,
    },
    Random {
        min: Option<f64>,
        max: Option<f64>,
        length: usize,
    },
}

/// The typed config of a datagen table.
#[derive(Debug, Clone)]
pub struct DatagenConfig {
    rows_per_second: f64,
    number_of_rows: Option<u64>,
    fields: Vec<FieldKind>,
    schema: SchemaRef,
}

const FIELD_KEYS: &[&str] = &[
    "kind",
    "min",
    "max",
    "length",
    "start",
    "end",
    "max-past",
    "null-rate",
];

fn field_config(opts: &mut TableOptions, name: &str, dt: &DataType) -> Result<FieldKind> {
    let key = |k: &str| format!("fields.{name}.{k}");
    let kind = opts.take(&key("kind")).unwrap_or_else(|| "random".into());
    let _ = opts.take(&key("max-past"));
    let _ = opts.take(&key("null-rate"));
    match kind.as_str() {
        "sequence" => {
            let start = opts.take_i64(&key("start"))?;
            let end = opts.take_i64(&key("end"))?;
            match (start, end) {
                (Some(start), Some(end)) if start <= end => Ok(FieldKind::Sequence { start, end }),
                (Some(_), Some(_)) => Err(EngineError::Plan(format!(
                    "{}: start must not be greater than end",
                    key("start")
                ))),
                _ => Err(EngineError::Plan(format!(
                    "Could not find required property '{}' for sequence generator.",
                    if start.is_none() {
                        key("start")
                    } else {
                        key("end")
                    }
                ))),
            }
        }
        "random" => {
            let min = opts.take_f64(&key("min"))?;
            let max = opts.take_f64(&key("max"))?;
            let length = opts.take_i64(&key("length"))?.unwrap_or(100).max(0) as usize;
            if matches!(
                dt,
                DataType::Struct(_) | DataType::List(_) | DataType::Map(_, _)
            ) {
                return Err(EngineError::NotSupported(format!(
                    "datagen cannot generate column '{name}' of type {dt}"
                )));
            }
            Ok(FieldKind::Random { min, max, length })
        }
        other => Err(EngineError::Plan(format!(
            "Unsupported generator kind '{other}' for '{}': use 'random' or 'sequence'",
            key("kind")
        ))),
    }
}

impl ConnectorFactory for DatagenConnector {
    fn identifier(&self) -> &str {
        "datagen"
    }

    fn create_source(&self, mut req: TableRequest) -> Result<Arc<dyn SourceFactory>> {
        let opts = &mut req.options;
        let rows_per_second = opts.take_f64("rows-per-second")?.unwrap_or(10000.0);
        let number_of_rows = opts.take_i64("number-of-rows")?.map(|n| n.max(0) as u64);
        let _ = opts.take("scan.parallelism");
        let fields = req
            .schema
            .fields()
            .iter()
            .map(|f| field_config(opts, f.name(), f.data_type()))
            .collect::<Result<Vec<_>>>()?;
        let mut supported: Vec<String> = vec![
            "rows-per-second".into(),
            "number-of-rows".into(),
            "scan.parallelism".into(),
        ];
        for f in req.schema.fields() {
            supported.extend(
                FIELD_KEYS
                    .iter()
                    .map(|k| format!("fields.{}.{k}", f.name())),
            );
        }
        let supported: Vec<&str> = supported.iter().map(String::as_str).collect();
        req.options.finish(&supported)?;
        Ok(Arc::new(DatagenConfig {
            rows_per_second,
            number_of_rows,
            fields,
            schema: req.schema,
        }))
    }
}

/// The `[from, to)` share of `0..total` of subtask `i` of `n`.
fn share(total: u64, i: usize, n: usize) -> (u64, u64) {
    let (t, i, n) = (total as u128, i as u128, n.max(1) as u128);
    ((t * i / n) as u64, (t * (i + 1) / n) as u64)
}

impl SourceFactory for DatagenConfig {
    fn name(&self) -> String {
        "datagen".into()
    }

    fn is_bounded(&self) -> bool {
        self.number_of_rows.is_some()
            || self
                .fields
                .iter()
                .any(|f| matches!(f, FieldKind::Sequence { .. }))
    }

    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Source>> {
        // Rows of the whole source: the shortest sequence bounds it.
        let mut total = self.number_of_rows;
        for f in &self.fields {
            if let FieldKind::Sequence { start, end } = f {
                let len = end.abs_diff(*start).saturating_add(1);
                total = Some(total.map_or(len, |t| t.min(len)));
            }
        }
        let (from, to) = match total {
            Some(t) => share(t, subtask.index, subtask.parallelism),
            None => (0, u64::MAX),
        };
        Ok(Box::new(DatagenSource {
            config: self.clone(),
            next: from,
            end: to,
            rate: self.rows_per_second / subtask.parallelism as f64,
            started: Instant::now(),
            emitted: 0,
            rng: SmallRng::seed_from_u64(subtask.index as u64 + 1),
        }))
    }
}

struct DatagenSource {
    config: DatagenConfig,
    /// Index of the next row in the whole source's sequence.
    next: u64,
    end: u64,
    rate: f64,
    started: Instant,
    emitted: u64,
    rng: SmallRng,
}

impl DatagenSource {
    fn column(&mut self, kind: &FieldKind, dt: &DataType, rows: usize) -> Result<ArrayRef> {
        let values: ArrayRef = match kind {
            FieldKind::Sequence { start, .. } => {
                let first = start.saturating_add(self.next as i64);
                let seq =
                    Int64Array::from_iter_values((0..rows as i64).map(|i| first.saturating_add(i)));
                match dt {
                    DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => Arc::new(
                        StringArray::from_iter_values(seq.values().iter().map(|v| v.to_string())),
                    ),
                    _ => Arc::new(seq),
                }
            }
            FieldKind::Random { min, max, length } => match dt {
                DataType::Boolean => Arc::new(BooleanArray::from_iter(
                    (0..rows).map(|_| Some(self.rng.random::<bool>())),
                )),
                DataType::Float32 | DataType::Float64 | DataType::Decimal128(_, _) => {
                    let (lo, hi) = (min.unwrap_or(0.0), max.unwrap_or(f64::from(f32::MAX)));
                    Arc::new(Float64Array::from_iter_values(
                        (0..rows).map(|_| self.rng.random_range(lo..=hi.max(lo))),
                    ))
                }
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => {
                    Arc::new(StringArray::from_iter_values((0..rows).map(|_| {
                        (0..*length)
                            .map(|_| char::from(b"0123456789abcdef"[self.rng.random_range(0..16)]))
                            .collect::<String>()
                    })))
                }
                DataType::Timestamp(_, _)
                | DataType::Date32
                | DataType::Time32(_)
                | DataType::Time64(_) => {
                    let now = chrono::Utc::now();
                    let ts = now.timestamp_millis();
                    let a: ArrayRef = Arc::new(
                        datafusion::arrow::array::TimestampMillisecondArray::from_iter_values(
                            std::iter::repeat_n(ts, rows),
                        ),
                    );
                    a
                }
                _ => {
                    let (lo, hi) = int_range(dt, *min, *max);
                    Arc::new(Int64Array::from_iter_values(
                        (0..rows).map(|_| self.rng.random_range(lo..=hi.max(lo))),
                    ))
                }
            },
        };
        Ok(cast(&values, dt)?)
    }
}

fn int_range(dt: &DataType, min: Option<f64>, max: Option<f64>) -> (i64, i64) {
    let (lo, hi) = match dt {
        DataType::Int8 => (i8::MIN as i64, i8::MAX as i64),
        DataType::Int16 => (i16::MIN as i64, i16::MAX as i64),
        DataType::Int32 => (i32::MIN as i64, i32::MAX as i64),
        _ => (i64::MIN, i64::MAX),
    };
    (min.map_or(lo, |m| m as i64), max.map_or(hi, |m| m as i64))
}

#[async_trait]
impl Source for DatagenSource {
    fn name(&self) -> String {
        "datagen".into()
    }

    async fn open(&mut self, ctx: &mut Context) -> Result<()> {
        // Each subtask owns a range of the sequence: a checkpoint restores
        // only at the parallelism it was taken at.
        let all = ctx.restored_state_of_all_subtasks()?;
        if all.is_empty() {
            return Ok(());
        }
        if all.len() != ctx.subtask.parallelism {
            return Err(EngineError::State(format!(
                "a datagen source checkpointed with {} subtasks cannot be restored with {}",
                all.len(),
                ctx.subtask.parallelism
            )));
        }
        let next = all[ctx.subtask.index]
            .first()
            .and_then(|b| b.column(0).as_any().downcast_ref::<Int64Array>().cloned())
            .filter(|c| c.len() == 1)
            .ok_or_else(|| EngineError::State("datagen state has an unknown layout".into()))?;
        self.next = next.value(0) as u64;
        Ok(())
    }

    async fn snapshot(&mut self, checkpoint: u64, ctx: &mut Context) -> Result<()> {
        let position = RecordBatch::try_from_iter([(
            "next",
            Arc::new(Int64Array::from(vec![self.next as i64])) as ArrayRef,
        )])?;
        ctx.save_state(checkpoint, vec![position])
    }

    async fn next(&mut self, _ctx: &mut Context) -> Result<SourceEvent> {
        if self.next >= self.end {
            return Ok(SourceEvent::End);
        }
        // Emit in slices of a millisecond's rows (at most 8192), waiting
        // for the rate to allow them: a steady stream, not bursts, so that
        // latencies measured downstream are the pipeline's.
        let slice = ((self.rate / 1000.0).ceil() as u64).clamp(1, 8192);
        let rows = slice.min(self.end - self.next);
        let due = Duration::from_secs_f64(self.emitted as f64 / self.rate.max(f64::MIN_POSITIVE));
        let elapsed = self.started.elapsed();
        if due > elapsed {
            tokio::time::sleep(due - elapsed).await;
        }
        let fields = self.config.fields.clone();
        let schema = self.config.schema.clone();
        let columns = fields
            .iter()
            .zip(schema.fields())
            .map(|(k, f)| self.column(k, f.data_type(), rows as usize))
            .collect::<Result<Vec<_>>>()?;
        self.next += rows;
        self.emitted += rows;
        let batch = RecordBatch::try_new(schema, columns)?;
        Ok(SourceEvent::Batch {
            split: 0,
            batch: ChangeBatch::inserts(batch),
        })
    }
}
