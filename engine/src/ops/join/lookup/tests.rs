use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;

use super::*;
use crate::harness::{Step, kv_schema, run};
use crate::ops::source::values::Values;

/// The dimension table: (id, name), two rows for id 2.
fn table() -> Arc<dyn SourceFactory> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(2), None])),
            Arc::new(StringArray::from(vec!["one", "two", "deux", "none"])),
        ],
    )
    .expect("batch");
    Arc::new(Values { batch })
}

fn join(left_outer: bool) -> LookupJoin {
    let fields: Vec<Field> = kv_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .chain([Field::new("name", DataType::Utf8, true)])
        .collect();
    LookupJoin {
        probe_schema: kv_schema(),
        probe_keys: vec![0],
        probe_width: 2,
        table: table(),
        table_keys: vec![0],
        table_columns: vec![1],
        table_filter: None,
        primary_key: None,
        cache: LookupCache::Full { reload: None },
        left_outer,
        filter: None,
        schema: Arc::new(Schema::new(fields)),
        description: "LookupJoin".into(),
    }
}

fn probes() -> Vec<Step> {
    let data = RecordBatch::try_new(
        kv_schema(),
        vec![
            Arc::new(Int64Array::from(vec![Some(2), Some(3), None, Some(1)])),
            Arc::new(Int64Array::from(vec![20, 30, 0, 10])),
        ],
    )
    .expect("batch");
    vec![Step::Batch(ChangeBatch::inserts(data))]
}

#[tokio::test]
async fn each_probe_row_joins_the_table_rows_of_its_key() {
    let out = run(&join(false), &probes()).await;
    assert_eq!(out, ["+I[2, 20, two]", "+I[2, 20, deux]", "+I[1, 10, one]"]);
}

#[tokio::test]
async fn a_left_lookup_join_pads_rows_without_a_match_in_place() {
    let out = run(&join(true), &probes()).await;
    assert_eq!(
        out,
        [
            "+I[2, 20, two]",
            "+I[2, 20, deux]",
            "+I[3, 30, null]",
            "+I[null, 0, null]",
            "+I[1, 10, one]",
        ]
    );
}

#[tokio::test]
async fn with_a_primary_key_the_last_row_of_a_key_is_the_tables() {
    let mut j = join(false);
    j.primary_key = Some(vec![0]);
    let out = run(&j, &probes()).await;
    assert_eq!(out, ["+I[2, 20, deux]", "+I[1, 10, one]"]);
}
