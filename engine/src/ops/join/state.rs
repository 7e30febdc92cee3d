//! One side of a streaming join: its rows, in a [`RowStore`], listed per
//! join key. Each row carries the number of rows of the other side it
//! joins with (for outer, semi and anti joins). Lists are doubly linked
//! through one arena of entries, so a key costs two `u32`s and a row one
//! entry, and any row leaves in constant time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use datafusion::arrow::array::UInt32Array;
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::state::row_store::{RowRef, RowStore};

/// Bytes of a side's rows kept uncompressed: a join keeps every row, and
/// most are never read again (see `RowStore::with_hot_budget`).
pub(super) const HOT_BYTES: usize = 16 << 20;

/// No entry (the end of a list).
const NONE: u32 = u32::MAX;

/// A held row.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    pub row: RowRef,
    /// Rows of the other side it joins with.
    pub matches: u32,
    key: u32,
    prev: u32,
    next: u32,
}

/// The rows of one side.
pub(super) struct SideState {
    pub store: RowStore,
    /// Per key: the first entry of its list.
    heads: Vec<u32>,
    /// Entries; a free one has `key == NONE`.
    entries: Arena,
    free: Vec<u32>,
    /// Per entry, the hash of its row, to find a retracted row quickly;
    /// kept only for a side that retracts.
    hashes: Option<Vec<u64>>,
    /// Per key, when a row of this side last changed it (wall clock, ms);
    /// kept only with a state TTL.
    pub touched_at: Option<Vec<i64>>,
    /// Interval joins: when each entry can match no more, soonest first.
    pub expiries: BinaryHeap<Reverse<(i64, u32)>>,
    len: usize,
}

impl SideState {
    pub fn new(store: RowStore, retracts: bool, ttl: bool) -> Self {
        Self {
            store,
            heads: vec![],
            entries: Arena::default(),
            free: vec![],
            hashes: retracts.then(Vec::new),
            touched_at: ttl.then(Vec::new),
            expiries: BinaryHeap::new(),
            len: 0,
        }
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Makes room for keys `0..keys`.
    pub fn grow(&mut self, keys: usize) {
        if self.heads.len() < keys {
            self.heads.resize(keys, NONE);
            if let Some(t) = &mut self.touched_at {
                t.resize(keys, 0);
            }
        }
    }

    /// Number of keys there is room for.
    pub fn keys(&self) -> usize {
        self.heads.len()
    }

    /// The entries of key `key`, newest first.
    pub fn list(&self, key: usize) -> impl Iterator<Item = u32> + '_ {
        let mut e = self.heads.get(key).copied().unwrap_or(NONE);
        std::iter::from_fn(move || {
            (e != NONE).then(|| {
                let this = e;
                e = self.entries.get(e).next;
                this
            })
        })
    }

    /// Holds `row` under `key`: the new entry.
    pub fn insert(&mut self, key: usize, row: RowRef, matches: u32, hash: u64) -> u32 {
        self.store.hold(row);
        let next = self.heads[key];
        let entry = Entry {
            row,
            matches,
            key: key as u32,
            prev: NONE,
            next,
        };
        let e = match self.free.pop() {
            Some(e) => {
                *self.entries.get_mut(e) = entry;
                e
            }
            None => self.entries.push(entry),
        };
        if next != NONE {
            self.entries.get_mut(next).prev = e;
        }
        self.heads[key] = e;
        if let Some(h) = &mut self.hashes {
            if h.len() <= e as usize {
                h.resize(e as usize + 1, 0);
            }
            h[e as usize] = hash;
        }
        self.len += 1;
        e
    }

    /// Lets entry `e` go.
    pub fn remove(&mut self, e: u32) {
        let Entry {
            row,
            key,
            prev,
            next,
            ..
        } = *self.entries.get(e);
        if key == NONE {
            return;
        }
        if prev == NONE {
            self.heads[key as usize] = next;
        } else {
            self.entries.get_mut(prev).next = next;
        }
        if next != NONE {
            self.entries.get_mut(next).prev = prev;
        }
        self.entries.get_mut(e).key = NONE;
        self.store.release(row);
        self.free.push(e);
        self.len -= 1;
    }

    /// The entry of `key` holding the values of row `i` of `data` (whose
    /// hash is `hash`), if any.
    pub fn find(&self, key: usize, hash: u64, data: &RecordBatch, i: usize) -> Result<Option<u32>> {
        for e in self.list(key) {
            if self.hashes.as_ref().is_some_and(|h| h[e as usize] != hash) {
                continue;
            }
            if self.store.equals(self.entries.get(e).row, data, i)? {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    /// Entry `e`.
    pub fn entry(&self, e: u32) -> &Entry {
        self.entries.get(e)
    }

    /// Entry `e`, to change its match count.
    pub fn entry_mut(&mut self, e: u32) -> &mut Entry {
        self.entries.get_mut(e)
    }

    /// The entries held.
    pub fn live(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.key != NONE)
    }

    /// Forgets every row of key `key`.
    pub fn clear_key(&mut self, key: usize) {
        let entries: Vec<u32> = self.list(key).collect();
        for e in entries {
            self.remove(e);
        }
    }

    /// Whether this side hashes its rows (it retracts).
    pub fn hashes_rows(&self) -> bool {
        self.hashes.is_some()
    }

    /// After a batch: settles the store, compacting it when mostly dead.
    pub fn settle(&mut self) -> Result<()> {
        self.store.settle()?;
        if let Some(sparse) = self.store.sparse_chunks() {
            let moving: Vec<u32> = (0..self.entries.len())
                .filter(|e| {
                    let entry = self.entries.get(*e);
                    entry.key != NONE && sparse.get(entry.row.chunk as usize) == Some(&true)
                })
                .collect();
            let refs: Vec<RowRef> = moving.iter().map(|e| self.entries.get(*e).row).collect();
            let moved = self.store.compact(&sparse, &refs)?;
            for (e, r) in moving.into_iter().zip(moved) {
                self.entries.get_mut(e).row = r;
            }
        }
        Ok(())
    }

    /// The held rows and each row's match count, in the order a snapshot
    /// writes them: each key's rows oldest first, so a restore that puts
    /// each row at the head of its list rebuilds the lists in the same
    /// order.
    pub fn held(&self) -> (Vec<RowRef>, UInt32Array) {
        let mut live: Vec<&Entry> = Vec::with_capacity(self.len);
        for key in 0..self.heads.len() {
            let from = live.len();
            live.extend(self.list(key).map(|e| self.entries.get(e)));
            live[from..].reverse();
        }
        let refs = live.iter().map(|e| e.row).collect();
        let matches = UInt32Array::from_iter_values(live.iter().map(|e| e.matches));
        (refs, matches)
    }
}

/// Entries per segment of the arena.
const SEGMENT: u32 = 1 << 14;

/// The entries, in segments of a fixed size: growing never copies them
/// (a doubling `Vec` of millions of entries would hold both copies for a
/// moment, and room for twice as many after).
#[derive(Default)]
struct Arena {
    segments: Vec<Vec<Entry>>,
    len: u32,
}

impl Arena {
    fn len(&self) -> u32 {
        self.len
    }

    fn get(&self, e: u32) -> &Entry {
        &self.segments[(e / SEGMENT) as usize][(e % SEGMENT) as usize]
    }

    fn get_mut(&mut self, e: u32) -> &mut Entry {
        &mut self.segments[(e / SEGMENT) as usize][(e % SEGMENT) as usize]
    }

    /// Adds `entry`: its number.
    fn push(&mut self, entry: Entry) -> u32 {
        if self.len.is_multiple_of(SEGMENT) {
            self.segments.push(Vec::with_capacity(SEGMENT as usize));
        }
        if let Some(last) = self.segments.last_mut() {
            last.push(entry);
        }
        self.len += 1;
        self.len - 1
    }

    fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.segments.iter().flatten()
    }
}
