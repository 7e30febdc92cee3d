use std::sync::Arc;

use datafusion::arrow::array::{Int8Array, Int64Array, TimestampMillisecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;

use super::*;
use crate::batch::RowKind::{Delete, Insert, UpdateAfter, UpdateBefore};
use crate::harness::{Rescale, Step, assert_rescale_restore, assert_snapshot_restore, run};

fn kv() -> SchemaRef {
    crate::harness::kv_schema()
}

/// Rows (kind, k, v) on input `side`; a `k` of `None` is NULL.
fn rows(side: usize, rows: &[(RowKind, Option<i64>, i64)]) -> Step {
    let data = RecordBatch::try_new(
        kv(),
        vec![
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.1))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
        ],
    )
    .expect("batch");
    let kinds = Int8Array::from_iter_values(rows.iter().map(|r| r.0 as i8));
    Step::Input(side, ChangeBatch::with_kinds(data, kinds))
}

fn input(updating: bool) -> JoinInput {
    JoinInput {
        schema: kv(),
        width: 2,
        keys: vec![0],
        time: None,
        updating,
    }
}

fn join(kind: JoinKind, updating: bool) -> StreamingJoin {
    let both: Vec<Field> = kv()
        .fields()
        .iter()
        .chain(kv().fields())
        .map(|f| f.as_ref().clone())
        .collect();
    let schema = match kind.filtering() {
        Some(_) => kv(),
        None => Arc::new(Schema::new(both)),
    };
    StreamingJoin {
        left: input(updating),
        right: input(updating),
        kind,
        nulls_equal: false,
        null_aware: false,
        filter: None,
        interval: None,
        state_ttl: None,
        schema,
        description: "Join".into(),
    }
}

#[tokio::test]
async fn an_inner_join_matches_rows_whichever_side_comes_first() {
    let steps = [
        rows(0, &[(Insert, Some(1), 10), (Insert, Some(2), 20)]),
        rows(1, &[(Insert, Some(1), 100), (Insert, Some(1), 101)]),
        rows(0, &[(Insert, Some(1), 11)]),
    ];
    let out = run(&join(JoinKind::Inner, false), &steps).await;
    assert_eq!(
        out,
        [
            "+I[1, 10, 1, 100]",
            "+I[1, 10, 1, 101]",
            "+I[1, 11, 1, 101]",
            "+I[1, 11, 1, 100]",
        ]
    );
}

#[tokio::test]
async fn a_left_row_padded_with_nulls_is_retracted_when_its_match_arrives() {
    let steps = [
        rows(0, &[(Insert, Some(1), 10)]),
        rows(1, &[(Insert, Some(1), 100)]),
        rows(1, &[(Insert, Some(1), 101)]),
        rows(1, &[(Delete, Some(1), 100), (Delete, Some(1), 101)]),
    ];
    let out = run(&join(JoinKind::Left, true), &steps).await;
    assert_eq!(
        out,
        [
            "+I[1, 10, null, null]",
            "-D[1, 10, null, null]",
            "+I[1, 10, 1, 100]",
            "+I[1, 10, 1, 101]",
            "-D[1, 10, 1, 100]",
            "-D[1, 10, 1, 101]",
            "+I[1, 10, null, null]",
        ]
    );
}

#[tokio::test]
async fn a_full_join_pads_both_sides_and_null_keys_never_match() {
    let steps = [
        rows(0, &[(Insert, None, 10), (Insert, Some(2), 20)]),
        rows(1, &[(Insert, None, 100), (Insert, Some(2), 200)]),
    ];
    let out = run(&join(JoinKind::Full, false), &steps).await;
    assert_eq!(
        out,
        [
            "+I[null, 10, null, null]",
            "+I[2, 20, null, null]",
            "+I[null, null, null, 100]",
            "-D[2, 20, null, null]",
            "+I[2, 20, 2, 200]",
        ]
    );
}

#[tokio::test]
async fn updates_of_an_inner_join_input_update_its_joins() {
    let steps = [
        rows(1, &[(Insert, Some(1), 100)]),
        rows(0, &[(Insert, Some(1), 10)]),
        rows(
            0,
            &[(UpdateBefore, Some(1), 10), (UpdateAfter, Some(1), 11)],
        ),
    ];
    let out = run(&join(JoinKind::Inner, true), &steps).await;
    assert_eq!(
        out,
        [
            "+I[1, 10, 1, 100]",
            "-U[1, 10, 1, 100]",
            "+U[1, 11, 1, 100]",
        ]
    );
}

#[tokio::test]
async fn semi_and_anti_joins_follow_the_match_count_across_zero() {
    let steps = [
        rows(0, &[(Insert, Some(1), 10)]),
        rows(1, &[(Insert, Some(1), 100), (Insert, Some(1), 101)]),
        rows(1, &[(Delete, Some(1), 100)]),
        rows(1, &[(Delete, Some(1), 101)]),
    ];
    let semi = run(&join(JoinKind::LeftSemi, true), &steps).await;
    assert_eq!(semi, ["+I[1, 10]", "-D[1, 10]"]);
    let anti = run(&join(JoinKind::LeftAnti, true), &steps).await;
    assert_eq!(anti, ["+I[1, 10]", "-D[1, 10]", "+I[1, 10]"]);
}

#[tokio::test]
async fn a_residual_condition_decides_which_rows_of_a_key_match() {
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::{BinaryExpr, Column};
    let mut j = join(JoinKind::Left, false);
    j.filter = Some(Arc::new(BinaryExpr::new(
        Arc::new(Column::new("v", 1)),
        Operator::Lt,
        Arc::new(Column::new("v", 3)),
    )));
    let steps = [
        rows(1, &[(Insert, Some(1), 5), (Insert, Some(1), 50)]),
        rows(0, &[(Insert, Some(1), 10), (Insert, Some(1), 60)]),
    ];
    let out = run(&j, &steps).await;
    assert_eq!(out, ["+I[1, 10, 1, 50]", "+I[1, 60, null, null]"]);
}

#[tokio::test]
async fn regular_joins_restore_rows_and_match_counts() {
    let steps = vec![
        rows(0, &[(Insert, Some(1), 10), (Insert, Some(2), 20)]),
        rows(1, &[(Insert, Some(1), 100), (Insert, Some(3), 300)]),
        rows(0, &[(Delete, Some(2), 20), (Insert, Some(3), 30)]),
        rows(1, &[(Delete, Some(1), 100), (Insert, Some(2), 200)]),
        rows(0, &[(Insert, Some(2), 21)]),
        rows(1, &[(Delete, Some(3), 300)]),
    ];
    for kind in [JoinKind::Inner, JoinKind::Full, JoinKind::LeftAnti] {
        for split in [1, 3, 5] {
            assert_snapshot_restore(&join(kind, true), &steps, split).await;
        }
    }
}

/// A join whose right side has its key second: (v, k) rows.
fn join_key_second(kind: JoinKind) -> StreamingJoin {
    let vk = Arc::new(Schema::new(vec![
        Field::new("v", DataType::Int64, true),
        Field::new("k", DataType::Int64, true),
    ]));
    let mut j = join(kind, true);
    j.right = JoinInput {
        schema: vk.clone(),
        keys: vec![1],
        ..input(true)
    };
    if kind.filtering().is_none() {
        j.schema = Arc::new(Schema::new(
            kv().fields()
                .iter()
                .chain(vk.fields())
                .map(|f| f.as_ref().clone())
                .collect::<Vec<_>>(),
        ));
    }
    j
}

/// Rows (kind, k, v) on the right side of [`join_key_second`].
fn right_key_second(rows: &[(RowKind, i64, i64)]) -> Step {
    let vk = join_key_second(JoinKind::Inner).right.schema;
    let data = RecordBatch::try_new(
        vk,
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
        ],
    )
    .expect("batch");
    let kinds = Int8Array::from_iter_values(rows.iter().map(|r| r.0 as i8));
    Step::Input(1, ChangeBatch::with_kinds(data, kinds))
}

#[tokio::test]
async fn restored_at_another_parallelism_each_subtask_joins_the_keys_routed_to_it() {
    let left = |r: &[(RowKind, i64, i64)]| {
        let r: Vec<_> = r.iter().map(|(kind, k, v)| (*kind, Some(*k), *v)).collect();
        rows(0, &r)
    };
    let steps = vec![
        left(&[
            (Insert, 1, 10),
            (Insert, 2, 20),
            (Insert, 3, 30),
            (Insert, 4, 40),
        ]),
        right_key_second(&[(Insert, 1, 100), (Insert, 3, 300), (Insert, 5, 500)]),
        left(&[(Insert, 5, 50), (Insert, 6, 60), (Delete, 4, 40)]),
        right_key_second(&[
            (Insert, 6, 600),
            (Insert, 7, 700),
            (Insert, 8, 800),
            (Insert, 9, 900),
        ]),
        // Restored here: the rows of both sides and their match counts.
        left(&[
            (Insert, 1, 11),
            (Insert, 3, 31),
            (Delete, 2, 20),
            (Insert, 7, 70),
            (Insert, 9, 90),
        ]),
        right_key_second(&[
            (Delete, 1, 100),
            (Insert, 2, 200),
            (Delete, 5, 500),
            (Insert, 6, 601),
            (Insert, 8, 801),
            (Insert, 10, 1000),
        ]),
        left(&[(Insert, 8, 80), (Delete, 6, 60), (Insert, 11, 110)]),
    ];
    for kind in [JoinKind::Inner, JoinKind::Full, JoinKind::LeftAnti] {
        for (from, to) in [(1, 2), (2, 1), (2, 3)] {
            // Each side is hashed on its own key column.
            let rescale = Rescale {
                keys: &[&[0], &[1]],
                from,
                to,
            };
            assert_rescale_restore(&join_key_second(kind), &steps, 4, rescale).await;
        }
    }
}

#[tokio::test]
async fn keys_untouched_for_the_state_ttl_are_forgotten_silently() {
    let mut j = join(JoinKind::Inner, false);
    j.state_ttl = Some(std::time::Duration::from_secs(60));
    let steps = [
        rows(0, &[(Insert, Some(1), 10)]),
        Step::Clock(chrono::Utc::now().timestamp_millis() + 3_600_000),
        rows(1, &[(Insert, Some(1), 100)]),
    ];
    assert!(run(&j, &steps).await.is_empty());
}

// Interval joins: (k, ts) rows, `-10 <= left.ts - right.ts <= 5`.

fn kt() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
    ]))
}

fn timed(side: usize, rows: &[(i64, i64)]) -> Step {
    let data = RecordBatch::try_new(
        kt(),
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(TimestampMillisecondArray::from_iter_values(
                rows.iter().map(|r| r.1),
            )),
        ],
    )
    .expect("batch");
    Step::Input(side, ChangeBatch::inserts(data))
}

fn interval_join(kind: JoinKind) -> StreamingJoin {
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
    let side = JoinInput {
        schema: kt(),
        width: 2,
        keys: vec![0],
        time: Some(1),
        updating: false,
    };
    let fields: Vec<Field> = kt()
        .fields()
        .iter()
        .chain(kt().fields())
        .map(|f| f.as_ref().clone())
        .collect();
    let ts = |i| {
        Arc::new(datafusion::physical_expr::expressions::CastExpr::new(
            Arc::new(Column::new("ts", i)),
            DataType::Int64,
            None,
        )) as Arc<dyn PhysicalExpr>
    };
    let diff = Arc::new(BinaryExpr::new(ts(1), Operator::Minus, ts(3)));
    let bound = |op, v: i64| {
        Arc::new(BinaryExpr::new(
            diff.clone(),
            op,
            Arc::new(Literal::new(datafusion::common::ScalarValue::Int64(Some(
                v,
            )))),
        )) as Arc<dyn PhysicalExpr>
    };
    StreamingJoin {
        left: side.clone(),
        right: side,
        kind,
        nulls_equal: false,
        null_aware: false,
        filter: Some(Arc::new(BinaryExpr::new(
            bound(Operator::GtEq, -10),
            Operator::And,
            bound(Operator::LtEq, 5),
        ))),
        interval: Some(TimeBounds {
            lower: -10,
            upper: 5,
        }),
        state_ttl: None,
        schema: Arc::new(Schema::new(fields)),
        description: "IntervalJoin".into(),
    }
}

fn interval_steps() -> Vec<Step> {
    vec![
        timed(0, &[(1, 100), (2, 100)]),
        timed(1, &[(1, 104), (1, 200)]),
        Step::Watermark(150),
        timed(0, &[(1, 195)]),
        Step::Watermark(300),
    ]
}

#[tokio::test]
async fn an_outer_interval_join_pads_rows_once_the_watermark_passes_their_reach() {
    let out = run(&interval_join(JoinKind::Full), &interval_steps()).await;
    assert_eq!(
        out,
        [
            "+I[1, 1970-01-01T00:00:00.100, 1, 1970-01-01T00:00:00.104]",
            "+I[2, 1970-01-01T00:00:00.100, null, null]",
            "watermark 140",
            "+I[1, 1970-01-01T00:00:00.195, 1, 1970-01-01T00:00:00.200]",
            "watermark 290",
        ]
    );
}

#[tokio::test]
async fn interval_joins_restore_rows_and_their_expiries() {
    let steps = interval_steps();
    for kind in [JoinKind::Inner, JoinKind::Left, JoinKind::Full] {
        for split in [1, 2, 3, 4] {
            assert_snapshot_restore(&interval_join(kind), &steps, split).await;
        }
    }
}

#[tokio::test]
async fn interval_joins_restored_at_another_parallelism_expire_rows_by_the_watermark() {
    let steps = vec![
        timed(0, &[(1, 100), (2, 100), (3, 120), (4, 90)]),
        timed(1, &[(1, 104), (1, 200), (3, 115), (5, 100)]),
        Step::Watermark(105),
        // Restored here: rows and their expiries, and the watermark.
        timed(0, &[(1, 195), (5, 95), (3, 125), (6, 110), (7, 150)]),
        timed(1, &[(2, 98), (4, 99), (6, 112), (8, 160), (7, 151)]),
        Step::Watermark(150),
        timed(0, &[(8, 165), (9, 170)]),
        Step::Watermark(300),
    ];
    for kind in [JoinKind::Inner, JoinKind::Full] {
        for (from, to) in [(1, 2), (2, 1), (2, 3)] {
            let rescale = Rescale {
                keys: &[&[0], &[0]],
                from,
                to,
            };
            assert_rescale_restore(&interval_join(kind), &steps, 3, rescale).await;
        }
    }
}

fn not_in() -> StreamingJoin {
    let mut j = join(JoinKind::LeftAnti, true);
    j.null_aware = true;
    j
}

/// `NOT IN`: a subquery holding NULL hides every row; an empty one shows
/// every row, those with a NULL key too.
fn not_in_steps() -> Vec<Step> {
    vec![
        rows(
            0,
            &[
                (Insert, Some(1), 10),
                (Insert, None, 20),
                (Insert, Some(2), 30),
            ],
        ),
        rows(1, &[(Insert, Some(2), 200)]),
        rows(1, &[(Insert, None, 0)]),
        rows(0, &[(Insert, Some(3), 40), (Insert, None, 50)]),
        rows(1, &[(Delete, None, 0)]),
        rows(1, &[(Delete, Some(2), 200)]),
        rows(0, &[(Delete, None, 50)]),
    ]
}

#[tokio::test]
async fn not_in_hides_every_row_while_the_subquery_holds_a_null() {
    let out = run(&not_in(), &not_in_steps()).await;
    assert_eq!(
        out,
        [
            "+I[1, 10]",
            "+I[null, 20]",
            "+I[2, 30]",
            "-D[null, 20]",
            "-D[2, 30]",
            "-D[1, 10]",
            "+I[1, 10]",
            "+I[3, 40]",
            "+I[null, 20]",
            "+I[null, 50]",
            "+I[2, 30]",
            "-D[null, 50]",
        ]
    );
}

#[tokio::test]
async fn not_in_keeps_its_state_on_one_subtask_through_a_restore() {
    assert_eq!(not_in().exchange_keys(0), &[] as &[usize]);
    assert_snapshot_restore(&not_in(), &not_in_steps(), 3).await;
    // Every row goes to subtask 0, so only a smaller parallelism leaves
    // every restored subtask some rows to check.
    for (from, to) in [(2, 1), (3, 1)] {
        let rescale = Rescale {
            keys: &[&[], &[]],
            from,
            to,
        };
        assert_rescale_restore(&not_in(), &not_in_steps(), 3, rescale).await;
    }
}
