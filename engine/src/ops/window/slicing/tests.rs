//! Tests of the slicing window aggregation.

use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, TimestampMillisecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::physical_expr::aggregate::AggregateExprBuilder;
use datafusion::physical_expr::expressions::col;

use super::*;
use crate::harness::{
    Rescale, Step, assert_rescale_restore, assert_snapshot_restore, run_counting_late,
};

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, None)
}

/// Input: the slice end, a key and a value.
fn input_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("window_end", ts(), true),
        Field::new("k", DataType::Int64, true),
        Field::new("v", DataType::Int64, true),
    ]))
}

fn factory(slicing: Slicing) -> SlicingWindowAggregate {
    let input = input_schema();
    let sum = AggregateExprBuilder::new(
        datafusion::functions_aggregate::sum::sum_udaf(),
        vec![col("v", &input).expect("column")],
    )
    .schema(input)
    .alias("s")
    .build()
    .expect("sum");
    SlicingWindowAggregate {
        key_count: 2,
        windows: WindowColumns {
            start: None,
            end: 0,
            time: None,
        },
        slicing,
        processing_time: false,
        calls: vec![AggregateCall {
            function: Arc::new(sum),
            filter: None,
        }],
        schema: Arc::new(Schema::new(vec![
            Field::new("window_end", ts(), true),
            Field::new("k", DataType::Int64, true),
            Field::new("s", DataType::Int64, true),
        ])),
        description: "test".into(),
    }
}

fn batch(rows: &[(i64, i64, i64)]) -> Step {
    Step::Batch(ChangeBatch::inserts(
        RecordBatch::try_new(
            input_schema(),
            vec![
                Arc::new(TimestampMillisecondArray::from_iter_values(
                    rows.iter().map(|r| r.0),
                )),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ],
        )
        .expect("batch"),
    ))
}

/// The result rows as `end key=sum` (ends under a second), without
/// the watermarks.
fn results(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("+I[1970-01-01T00:00:00."))
        .map(|l| {
            let f: Vec<&str> = l.trim_end_matches(']').split(", ").collect();
            let end: i64 = f[0].parse().expect("millis");
            format!("{end} {}={}", f[1], f[2])
        })
        .collect()
}

#[tokio::test]
async fn given_windows_fire_at_their_end_and_late_rows_are_dropped_and_counted() {
    let steps = vec![
        batch(&[(1000, 1, 1), (2000, 1, 2), (1000, 1, 3), (1000, 2, 5)]),
        // The window ending at 1000 covers up to 999: 998 does not fire it.
        Step::Watermark(998),
        Step::Watermark(999),
        // Late: its window already fired.
        batch(&[(1000, 1, 100), (2000, 1, 4)]),
        Step::Watermark(5000),
    ];
    let (out, late) = run_counting_late(&factory(Slicing::Given), &steps).await;
    assert_eq!(
        out.iter()
            .map(|l| l.replace("1970-01-01T00:00:0", ""))
            .collect::<Vec<_>>(),
        [
            "watermark 998",
            "+I[1, 1, 4]",
            "+I[1, 2, 5]",
            "watermark 999",
            "+I[2, 1, 6]",
            "watermark 5000"
        ]
    );
    assert_eq!(late, 1);
}

#[tokio::test]
async fn hop_windows_merge_the_slices_they_cover() {
    let hop = Slicing::Hop {
        slide: 10,
        size: 20,
        offset: 0,
    };
    // Slices end at 10, 20, 30; windows of 20 end every 10.
    let steps = vec![
        batch(&[(10, 1, 1), (20, 1, 2), (20, 2, 5)]),
        Step::Watermark(9),
        batch(&[(30, 1, 4)]),
        Step::Watermark(1000),
    ];
    let (out, late) = run_counting_late(&factory(hop), &steps).await;
    assert_eq!(
        results(&out),
        vec!["10 1=1", "20 1=3", "20 2=5", "30 1=6", "30 2=5", "40 1=4"]
    );
    assert_eq!(late, 0);
}

#[tokio::test]
async fn a_row_late_for_some_of_its_windows_counts_in_the_others() {
    let hop = Slicing::Hop {
        slide: 10,
        size: 30,
        offset: 0,
    };
    let steps = vec![
        batch(&[(10, 1, 1)]),
        // Fires the window ending at 10 only.
        Step::Watermark(9),
        // Slice 10 fired, but windows ending at 20 and 30 hold it too.
        batch(&[(10, 1, 100)]),
        Step::Watermark(29),
        // Every window of slice 10 fired: late.
        batch(&[(10, 1, 1000), (40, 1, 7)]),
        Step::Watermark(1000),
    ];
    let (out, late) = run_counting_late(&factory(hop), &steps).await;
    assert_eq!(
        results(&out),
        vec![
            "10 1=1", "20 1=101", "30 1=101", "40 1=7", "50 1=7", "60 1=7"
        ]
    );
    assert_eq!(late, 1);
}

#[tokio::test]
async fn cumulate_windows_grow_from_their_period_start() {
    let cumulate = Slicing::Cumulate {
        step: 10,
        size: 30,
        offset: 0,
    };
    let steps = vec![
        batch(&[(10, 1, 1), (30, 1, 4), (40, 1, 8), (20, 2, 3)]),
        Step::Watermark(1000),
    ];
    let (out, _) = run_counting_late(&factory(cumulate), &steps).await;
    assert_eq!(
        results(&out),
        vec![
            "10 1=1", "20 1=1", "20 2=3", "30 1=5", "30 2=3", "40 1=8", "50 1=8", "60 1=8"
        ]
    );
}

#[tokio::test]
async fn restored_slices_give_the_output_of_an_uninterrupted_run() {
    let hop = Slicing::Hop {
        slide: 10,
        size: 30,
        offset: 5,
    };
    let steps = vec![
        batch(&[(15, 1, 1), (25, 2, 2), (35, 1, 3)]),
        Step::Watermark(14),
        batch(&[(15, 1, 10), (25, 1, 4)]),
        Step::Watermark(30),
        batch(&[(45, 2, 6), (15, 1, 1000)]),
        Step::Watermark(10_000),
    ];
    for slicing in [hop, Slicing::Given] {
        for split in 0..=steps.len() {
            assert_snapshot_restore(&factory(slicing), &steps, split).await;
        }
    }
}

#[tokio::test]
async fn restored_at_another_parallelism_each_subtask_fires_the_windows_of_its_keys() {
    let hop = Slicing::Hop {
        slide: 10,
        size: 30,
        offset: 5,
    };
    let steps = vec![
        batch(&[
            (15, 1, 1),
            (25, 2, 2),
            (35, 3, 3),
            (15, 4, 4),
            (25, 5, 5),
            (15, 6, 6),
        ]),
        Step::Watermark(14),
        batch(&[
            (25, 1, 10),
            (35, 2, 4),
            (25, 3, 1),
            (35, 4, 2),
            (35, 6, 1),
            (35, 9, 1),
        ]),
        // Restored here: every key adds to slices it already had.
        batch(&[
            (25, 1, 7),
            (35, 2, 1),
            (45, 3, 9),
            (35, 4, 1),
            (45, 5, 3),
            (25, 6, 2),
            (15, 1, 100),
            (25, 7, 1),
        ]),
        Step::Watermark(30),
        batch(&[
            (45, 2, 6),
            (55, 1, 1),
            (45, 4, 5),
            (45, 6, 1),
            (55, 8, 8),
            (45, 9, 2),
            (55, 10, 3),
            (45, 11, 4),
        ]),
        Step::Watermark(10_000),
    ];
    // As the planner partitions them: by every key when the input gives
    // the windows (window_end, k), by the keys other than the window
    // columns when windows are sliced (k).
    for (slicing, keys) in [(Slicing::Given, &[0, 1][..]), (hop, &[1][..])] {
        for (from, to) in [(1, 2), (2, 1), (2, 3)] {
            let rescale = Rescale {
                keys: &[keys],
                from,
                to,
            };
            assert_rescale_restore(&factory(slicing), &steps, 3, rescale).await;
        }
    }
}
