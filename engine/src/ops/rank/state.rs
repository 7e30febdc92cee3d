//! The rank's state kept whole: snapshots and restores of partition keys,
//! order keys and rows, and the renumbering of partitions when most are
//! empty.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, BinaryArray, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::logical_expr::EmitTo;

use super::{Held, OrderKey, Partitions, RankOperator, row_hasher};
use crate::error::{EngineError, Result};
use crate::state::row_store::RowRef;

impl RankOperator {
    /// Every partition key, in id order (re-interned, so the ids stay).
    pub(super) fn all_keys(&mut self) -> Result<Vec<ArrayRef>> {
        let keys = self.keys.emit(EmitTo::All)?;
        let mut ids = vec![];
        self.keys.intern(&keys, &mut ids)?;
        Ok(keys)
    }

    /// Drops the keys of empty partitions when they are most of them,
    /// renumbering the others.
    pub(super) fn drop_empty_keys(&mut self) -> Result<()> {
        let n = self.keys.len();
        if n < 1024 || n <= 2 * self.occupied {
            return Ok(());
        }
        let keys = self.keys.emit(EmitTo::All)?;
        let live: Vec<u32> = (0..n as u32)
            .filter(|p| self.partitions.is_occupied(*p as usize))
            .collect();
        let indices = UInt32Array::from(live.clone());
        let kept = keys
            .iter()
            .map(|c| take(c, &indices, None))
            .collect::<Result<Vec<_>, _>>()?;
        self.partitions = match std::mem::replace(&mut self.partitions, Partitions::Orders(vec![]))
        {
            Partitions::Orders(mut v) => {
                Partitions::Orders(live.iter().map(|p| v[*p as usize].take()).collect())
            }
            Partitions::Rows(mut v) => Partitions::Rows(
                live.iter()
                    .map(|p| std::mem::take(&mut v[*p as usize]))
                    .collect(),
            ),
        };
        if !self.touched_at.is_empty() {
            self.touched_at = live.iter().map(|p| self.touched_at[*p as usize]).collect();
        }
        self.marks = vec![0; live.len()];
        self.ids.clear();
        self.keys.intern(&kept, &mut self.ids)?;
        Ok(())
    }

    /// Every held row: partition key columns, order key bytes, then (unless
    /// only order keys are kept) the row's columns.
    pub(super) fn state_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.occupied == 0 {
            return Ok(None);
        }
        let keys = self.all_keys()?;
        let (mut partition, mut orders, mut refs) = (vec![], vec![], vec![]);
        match &self.partitions {
            Partitions::Orders(v) => {
                for (p, o) in v.iter().enumerate() {
                    if let Some(o) = o {
                        partition.push(p as u32);
                        orders.push(o.bytes());
                    }
                }
            }
            Partitions::Rows(v) => {
                for (p, list) in v.iter().enumerate() {
                    for h in list {
                        partition.push(p as u32);
                        orders.push(h.order.bytes());
                        refs.push(h.row);
                    }
                }
            }
        }
        let indices = UInt32Array::from(partition);
        let mut columns = keys
            .iter()
            .map(|c| take(c, &indices, None))
            .collect::<Result<Vec<_>, _>>()?;
        columns.push(Arc::new(BinaryArray::from_iter_values(orders)));
        if let Partitions::Rows(_) = self.partitions {
            columns.extend(self.store.gather(&refs)?.columns().iter().cloned());
        }
        Ok(Some(crate::ops::aggregate::accumulator_state::state_batch(
            columns,
        )?))
    }

    /// Restores the rows of a batch written by `state_batch` (into an empty
    /// operator).
    pub(super) fn restore_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let bad = || EngineError::State("rank state has an unexpected layout".into());
        let k = self.key_schema.fields().len();
        let width = self.config.input_schema.fields().len();
        let orders_only = matches!(self.partitions, Partitions::Orders(_));
        if batch.num_columns() != k + 1 + if orders_only { 0 } else { width } {
            return Err(bad());
        }
        let columns = batch.columns();
        self.intern(&columns[..k])?;
        let orders = columns[k].as_binary_opt::<i32>().ok_or_else(bad)?;
        let now = chrono::Utc::now().timestamp_millis();
        let ids = std::mem::take(&mut self.ids);
        match &mut self.partitions {
            Partitions::Orders(v) => {
                for (i, p) in ids.iter().enumerate() {
                    if v[*p].is_none() {
                        self.occupied += 1;
                    }
                    v[*p] = Some(OrderKey::new(orders.value(i)));
                }
            }
            Partitions::Rows(lists) => {
                let rows = RecordBatch::try_new(
                    self.config.input_schema.clone(),
                    columns[k + 1..].to_vec(),
                )?;
                let mut hashes = vec![0; rows.num_rows()];
                if self.config.updating_input {
                    datafusion::common::hash_utils::create_hashes(
                        rows.columns(),
                        &row_hasher(),
                        &mut hashes,
                    )?;
                }
                self.store.restore(rows)?;
                for (i, p) in ids.iter().enumerate() {
                    if lists[*p].is_empty() {
                        self.occupied += 1;
                    }
                    lists[*p].push(Held {
                        order: OrderKey::new(orders.value(i)),
                        row: RowRef {
                            chunk: 0,
                            row: i as u32,
                        },
                        hash: hashes[i],
                    });
                }
            }
        }
        for p in &ids {
            if let Some(t) = self.touched_at.get_mut(*p) {
                *t = now;
            }
        }
        self.ids = ids;
        Ok(())
    }
}
