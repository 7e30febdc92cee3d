//! Tests of the rank operator.

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::physical_expr::expressions::col;

use super::*;
use crate::harness::{
    Rescale, Step, assert_rescale_restore, assert_same_less_update_before, assert_snapshot_restore,
    kv_changes, kv_schema, run,
};

fn input() -> SchemaRef {
    kv_schema()
}

fn factory(limit: usize, updating_input: bool) -> Rank {
    let schema = input();
    Rank {
        partition_by: vec![col("k", &schema).expect("k")],
        order_by: vec![(
            col("v", &schema).expect("v"),
            SortOptions {
                descending: true,
                nulls_first: false,
            },
        )],
        limit,
        offset: 0,
        newest_first_on_ties: false,
        rank_number: true,
        updating_input,
        update_before: true,
        state_ttl: None,
        input_schema: schema,
        schema: Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("v", DataType::Int64, true),
            Field::new("rn", DataType::UInt64, true),
        ])),
        description: "Rank".into(),
    }
}

#[tokio::test]
async fn a_better_row_shifts_the_ranks_below_it() {
    use RowKind::*;
    let steps = vec![
        kv_changes(&[(Insert, 1, 5), (Insert, 1, 3)]),
        // 9 takes rank 1; 5 moves to 2; 3 drops out; 1 never enters.
        kv_changes(&[(Insert, 1, 9), (Insert, 1, 1)]),
    ];
    let out = run(&factory(2, false), &steps).await;
    assert_eq!(
        out,
        [
            "+I[1, 5, 1]",
            "+I[1, 3, 2]",
            "-U[1, 5, 1]",
            "+U[1, 9, 1]",
            "-U[1, 3, 2]",
            "+U[1, 5, 2]",
        ]
    );
}

#[tokio::test]
async fn a_retracted_top_row_lets_the_next_one_up() {
    use RowKind::*;
    let steps = vec![
        kv_changes(&[(Insert, 1, 5), (Insert, 1, 3), (Insert, 1, 7)]),
        kv_changes(&[(Delete, 1, 7)]),
        kv_changes(&[(Delete, 1, 5), (Delete, 1, 3)]),
    ];
    let out = run(&factory(2, true), &steps).await;
    assert_eq!(
        out,
        [
            "+I[1, 7, 1]",
            "+I[1, 5, 2]",
            "-U[1, 7, 1]",
            "+U[1, 5, 1]",
            "-U[1, 5, 2]",
            "+U[1, 3, 2]",
            "-D[1, 5, 1]",
            "-D[1, 3, 2]",
        ]
    );
}

#[tokio::test]
async fn restored_partitions_give_the_output_of_an_uninterrupted_run() {
    use RowKind::*;
    let steps = vec![
        kv_changes(&[(Insert, 1, 5), (Insert, 1, 3), (Insert, 2, 1)]),
        kv_changes(&[(Insert, 1, 9), (Insert, 2, 4)]),
        kv_changes(&[(Delete, 1, 9), (Insert, 1, 4)]),
    ];
    for updating in [false, true] {
        let steps: Vec<Step> = if updating {
            steps.clone()
        } else {
            steps[..2].to_vec()
        };
        for split in 0..=steps.len() {
            assert_snapshot_restore(&factory(2, updating), &steps, split).await;
        }
    }
}

#[tokio::test]
async fn restored_at_another_parallelism_each_subtask_ranks_the_partitions_routed_to_it() {
    use RowKind::*;
    let first = kv_changes(&[
        (Insert, 1, 5),
        (Insert, 1, 3),
        (Insert, 2, 1),
        (Insert, 3, 7),
        (Insert, 4, 2),
        (Insert, 4, 8),
        (Insert, 5, 5),
        (Insert, 6, 6),
        (Insert, 9, 3),
    ]);
    // Restored after the first batch: every partition's rows.
    let appended = vec![
        first.clone(),
        kv_changes(&[
            (Insert, 1, 9),
            (Insert, 2, 4),
            (Insert, 3, 1),
            (Insert, 4, 9),
            (Insert, 5, 6),
            (Insert, 6, 2),
            (Insert, 7, 7),
            (Insert, 8, 1),
            (Insert, 9, 5),
            (Insert, 12, 2),
        ]),
    ];
    let updating = vec![
        first,
        kv_changes(&[
            (Insert, 1, 9),
            (Insert, 2, 4),
            (Insert, 3, 1),
            (Delete, 4, 8),
            (Insert, 5, 6),
            (Insert, 6, 2),
            (Insert, 7, 7),
            (Insert, 8, 1),
            (Insert, 9, 5),
            (Insert, 12, 2),
        ]),
        kv_changes(&[(Delete, 1, 9), (Insert, 1, 4), (Delete, 3, 7)]),
    ];
    for (rank, steps) in [
        (factory(2, true), &updating),
        (factory(1, false), &appended),
    ] {
        for (from, to) in [(1, 2), (2, 1), (2, 3)] {
            let rescale = Rescale {
                keys: &[&[0]],
                from,
                to,
            };
            assert_rescale_restore(&rank, steps, 1, rescale).await;
        }
    }
}

#[tokio::test]
async fn partitions_untouched_for_the_state_ttl_are_forgotten_silently() {
    use RowKind::*;
    let mut factory = factory(1, false);
    factory.state_ttl = Some(std::time::Duration::from_secs(60));
    let steps = vec![
        kv_changes(&[(Insert, 1, 5)]),
        Step::Clock(chrono::Utc::now().timestamp_millis() + 3_600_000),
        // A lower value ranks first again: the old top row is gone.
        kv_changes(&[(Insert, 1, 2)]),
    ];
    assert_eq!(run(&factory, &steps).await, ["+I[1, 5, 1]", "+I[1, 2, 1]"]);
    // Keeping order keys only, too.
    factory.update_before = false;
    assert_eq!(run(&factory, &steps).await, ["+I[1, 5, 1]", "+I[1, 2, 1]"]);
}

#[tokio::test]
async fn without_the_rank_only_rows_entering_or_leaving_are_emitted() {
    use RowKind::*;
    let mut factory = factory(2, false);
    factory.rank_number = false;
    let steps = vec![
        kv_changes(&[(Insert, 1, 5), (Insert, 1, 3)]),
        // 9 enters and 3 leaves; 5 moving from rank 1 to 2 is no change.
        kv_changes(&[(Insert, 1, 9), (Insert, 1, 1)]),
    ];
    let out = run(&factory, &steps).await;
    assert_eq!(
        out,
        ["+I[1, 5, 1]", "+I[1, 3, 2]", "-D[1, 3, 2]", "+I[1, 9, 1]"]
    );
}

/// Deterministic pseudo-random (kind-less) rows: few keys, values with
/// ties, spread over several batches.
fn shuffled_steps(batches: usize, rows: usize, keys: i64) -> Vec<Step> {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: i64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as i64
    };
    (0..batches)
        .map(|_| {
            let rows: Vec<_> = (0..rows)
                .map(|_| (RowKind::Insert, next(keys), next(20)))
                .collect();
            kv_changes(&rows)
        })
        .collect()
}

#[tokio::test]
async fn without_update_before_the_output_is_the_same_less_its_retractions() {
    let steps = shuffled_steps(6, 40, 5);
    let mut dropped = 0;
    for limit in [1, 3] {
        for rank_number in [true, false] {
            for newest_first_on_ties in [true, false] {
                let mut retracting = factory(limit, false);
                retracting.rank_number = rank_number;
                retracting.newest_first_on_ties = newest_first_on_ties;
                let upserting = Rank {
                    update_before: false,
                    ..retracting.clone()
                };
                dropped += assert_same_less_update_before(&retracting, &upserting, &steps).await;
            }
        }
    }
    assert!(dropped > 0);
}

#[tokio::test]
async fn a_deduplication_keeping_order_keys_only_restores_them() {
    let mut factory = factory(1, false);
    factory.update_before = false;
    let steps = shuffled_steps(4, 10, 3);
    for split in 0..=steps.len() {
        assert_snapshot_restore(&factory, &steps, split).await;
    }
}

#[tokio::test]
async fn rows_held_across_compactions_come_back_with_their_values() {
    // Each batch puts a rising row at the top of 2,000 churning
    // partitions (pushing out the row two batches old) and one row into
    // a partition of its own that nothing touches again: every chunk
    // keeps one row among 2,000 dead ones, until the store compacts.
    // The last batch tops every partition, so the rows held below come
    // back from the store at rank 2.
    let (churning, batches) = (2_000i64, 40i64);
    let own = |b: i64| 100_000 + b;
    let mut steps = vec![];
    for b in 0..batches {
        let mut rows: Vec<_> = (0..churning).map(|k| (RowKind::Insert, k, b + 1)).collect();
        rows.push((RowKind::Insert, own(b), 7));
        steps.push(kv_changes(&rows));
    }
    let mut rows: Vec<_> = (0..churning).map(|k| (RowKind::Insert, k, 1000)).collect();
    rows.extend((0..batches).map(|b| (RowKind::Insert, own(b), 1000)));
    steps.push(kv_changes(&rows));
    let mut factory = factory(2, false);
    factory.update_before = false;
    let out = run(&factory, &steps).await;
    let last: std::collections::HashSet<&String> = out
        [out.len() - 2 * (churning + batches) as usize..]
        .iter()
        .collect();
    for k in 0..churning {
        assert!(last.contains(&format!("+U[{k}, 1000, 1]")));
        assert!(last.contains(&format!("+U[{k}, {batches}, 2]")));
    }
    for b in 0..batches {
        assert!(last.contains(&format!("+U[{}, 1000, 1]", own(b))));
        assert!(last.contains(&format!("+I[{}, 7, 2]", own(b))));
    }
}

#[tokio::test]
async fn partitions_survive_the_renumbering_that_drops_empty_ones() {
    use RowKind::*;
    let mut factory = factory(1, true);
    factory.state_ttl = Some(std::time::Duration::from_secs(60));
    let inserts: Vec<_> = (0..2000).map(|k| (Insert, k, 5)).collect();
    let deletes: Vec<_> = (0..1500).map(|k| (Delete, k, 5)).collect();
    let steps = vec![
        kv_changes(&inserts),
        kv_changes(&deletes),
        // Nothing expires, but three in four partitions are empty: the
        // sweep renumbers the 500 others.
        Step::Clock(chrono::Utc::now().timestamp_millis() + 1_000),
        kv_changes(&[(Insert, 1999, 9), (Insert, 0, 3)]),
    ];
    let out = run(&factory, &steps).await;
    assert_eq!(
        out[out.len() - 3..],
        ["-U[1999, 5, 1]", "+U[1999, 9, 1]", "+I[0, 3, 1]"]
    );
    for orders_only in [false, true] {
        // Without -U and over append-only input, order keys only.
        let mut factory = factory.clone();
        factory.updating_input = false;
        factory.update_before = !orders_only;
        let steps = vec![
            kv_changes(&inserts),
            Step::Clock(chrono::Utc::now().timestamp_millis() + 3_600_000),
            kv_changes(&[(Insert, 1999, 9), (Insert, 7, 3)]),
            kv_changes(&[(Insert, 7, 4)]),
        ];
        let out = run(&factory, &steps).await;
        let want: &[&str] = if orders_only {
            &["+I[1999, 9, 1]", "+I[7, 3, 1]", "+U[7, 4, 1]"]
        } else {
            &[
                "+I[1999, 9, 1]",
                "+I[7, 3, 1]",
                "-U[7, 3, 1]",
                "+U[7, 4, 1]",
            ]
        };
        assert_eq!(out[out.len() - want.len()..], *want);
    }
}
