use std::sync::Arc;

use datafusion::arrow::array::{Int8Array, Int64Array, TimestampMillisecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;

use super::*;
use crate::batch::RowKind::{Delete, Insert, UpdateAfter, UpdateBefore};
use crate::harness::{Rescale, Step, assert_rescale_restore, assert_snapshot_restore, run};

/// (k, v, ts) rows.
fn kvt() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, true),
        Field::new("v", DataType::Int64, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
    ]))
}

fn rows(side: usize, rows: &[(RowKind, i64, i64, i64)]) -> Step {
    let data = RecordBatch::try_new(
        kvt(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(TimestampMillisecondArray::from_iter_values(
                rows.iter().map(|r| r.3),
            )),
        ],
    )
    .expect("batch");
    let kinds = Int8Array::from_iter_values(rows.iter().map(|r| r.0 as i8));
    Step::Input(side, ChangeBatch::with_kinds(data, kinds))
}

fn join(left_outer: bool) -> TemporalJoin {
    let side = JoinInput {
        schema: kvt(),
        width: 3,
        keys: vec![0],
        time: Some(2),
        updating: false,
    };
    let fields: Vec<Field> = kvt()
        .fields()
        .iter()
        .chain(kvt().fields())
        .map(|f| f.as_ref().clone())
        .collect();
    TemporalJoin {
        left: side.clone(),
        right: JoinInput {
            updating: true,
            ..side
        },
        left_outer,
        filter: None,
        schema: Arc::new(Schema::new(fields)),
        description: "TemporalJoin".into(),
    }
}

fn steps() -> Vec<Step> {
    vec![
        // Versions of key 1: 100 from t=10, 101 from t=20 (an update),
        // deleted at t=30; key 2: 200 from t=5.
        rows(1, &[(Insert, 1, 100, 10), (Insert, 2, 200, 5)]),
        rows(
            1,
            &[
                (UpdateBefore, 1, 100, 10),
                (UpdateAfter, 1, 101, 20),
                (Delete, 1, 101, 30),
            ],
        ),
        rows(
            0,
            &[(Insert, 1, 1, 15), (Insert, 1, 2, 9), (Insert, 2, 3, 6)],
        ),
        Step::Watermark(16),
        rows(
            0,
            &[(Insert, 1, 4, 25), (Insert, 1, 5, 35), (Insert, 3, 6, 40)],
        ),
        Step::Watermark(50),
    ]
}

#[tokio::test]
async fn each_row_joins_the_version_valid_at_its_time() {
    let out = run(&join(false), &steps()).await;
    assert_eq!(
        out,
        [
            "+I[2, 3, 1970-01-01T00:00:00.006, 2, 200, 1970-01-01T00:00:00.005]",
            "+I[1, 1, 1970-01-01T00:00:00.015, 1, 100, 1970-01-01T00:00:00.010]",
            "watermark 16",
            "+I[1, 4, 1970-01-01T00:00:00.025, 1, 101, 1970-01-01T00:00:00.020]",
            "watermark 50",
        ]
    );
}

#[tokio::test]
async fn a_left_temporal_join_pads_rows_without_a_version() {
    let out = run(&join(true), &steps()).await;
    assert_eq!(
        out,
        [
            "+I[2, 3, 1970-01-01T00:00:00.006, 2, 200, 1970-01-01T00:00:00.005]",
            "+I[1, 2, 1970-01-01T00:00:00.009, null, null, null]",
            "+I[1, 1, 1970-01-01T00:00:00.015, 1, 100, 1970-01-01T00:00:00.010]",
            "watermark 16",
            "+I[1, 4, 1970-01-01T00:00:00.025, 1, 101, 1970-01-01T00:00:00.020]",
            "+I[1, 5, 1970-01-01T00:00:00.035, null, null, null]",
            "+I[3, 6, 1970-01-01T00:00:00.040, null, null, null]",
            "watermark 50",
        ]
    );
}

#[tokio::test]
async fn temporal_joins_restore_waiting_rows_and_versions() {
    let steps = steps();
    for left_outer in [false, true] {
        for split in [1, 2, 3, 4, 5] {
            assert_snapshot_restore(&join(left_outer), &steps, split).await;
        }
    }
}

#[tokio::test]
async fn temporal_joins_restored_at_another_parallelism_keep_the_versions_of_their_keys() {
    let steps = vec![
        rows(
            1,
            &[
                (Insert, 1, 100, 10),
                (Insert, 2, 200, 5),
                (Insert, 3, 300, 8),
                (Insert, 4, 400, 12),
                (Insert, 5, 500, 3),
                (Insert, 9, 900, 4),
            ],
        ),
        rows(
            0,
            &[
                (Insert, 1, 1, 15),
                (Insert, 2, 2, 6),
                (Insert, 4, 3, 30),
                (Insert, 5, 4, 40),
                (Insert, 6, 5, 20),
            ],
        ),
        Step::Watermark(16),
        // Restored here: waiting probes and versions of every key.
        rows(
            1,
            &[
                (UpdateBefore, 1, 100, 10),
                (UpdateAfter, 1, 101, 20),
                (Delete, 3, 300, 25),
                (Insert, 6, 600, 18),
                (Insert, 7, 700, 1),
                (UpdateAfter, 4, 401, 28),
            ],
        ),
        rows(
            0,
            &[
                (Insert, 1, 6, 25),
                (Insert, 2, 7, 26),
                (Insert, 3, 8, 27),
                (Insert, 3, 9, 22),
                (Insert, 7, 10, 33),
                (Insert, 8, 11, 34),
                (Insert, 9, 12, 14),
                (Insert, 12, 13, 45),
            ],
        ),
        Step::Watermark(50),
    ];
    for left_outer in [false, true] {
        for (from, to) in [(1, 2), (2, 1), (2, 3)] {
            let rescale = Rescale {
                keys: &[&[0], &[0]],
                from,
                to,
            };
            assert_rescale_restore(&join(left_outer), &steps, 3, rescale).await;
        }
    }
}
