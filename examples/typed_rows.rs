//! Times typed Rust rows into a table (`from_rows`) and out of a query
//! (`collect_rows`), for the benchmark of docs/benchmarks.md:
//!
//!     cargo run --release --example typed_rows -- [ROWS=1000000]

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use eddy::TableEnvironment;

#[derive(serde::Serialize, serde::Deserialize)]
struct Order {
    id: i64,
    customer: String,
    amount: f64,
    note: Option<String>,
    ts: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let orders = (0..n)
        .map(|i| Order {
            id: i as i64,
            customer: format!("customer-{}", i % 1000),
            amount: i as f64 * 0.25,
            note: (i % 3 == 0).then(|| "gift".to_string()),
            ts: format!(
                "2024-01-01 10:{:02}:{:02}.{:03}",
                i / 60_000 % 60,
                i / 1000 % 60,
                i % 1000
            ),
        })
        .collect::<Vec<_>>();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("customer", DataType::Utf8, true),
        Field::new("amount", DataType::Float64, true),
        Field::new("note", DataType::Utf8, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
    ]));
    let env = TableEnvironment::new();
    let start = Instant::now();
    let a = env.from_rows("a", schema.clone(), None, &orders).await?;
    let rows_in = start.elapsed();
    let b = env.from_rows("b", schema, None, &orders).await?;
    let start = Instant::now();
    let batches = a.collect().await?;
    let run = start.elapsed();
    let start = Instant::now();
    let out: Vec<(eddy::RowKind, Order)> = b.collect_rows().await?;
    let run_and_out = start.elapsed();
    assert_eq!(out.len(), n);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), n);
    let out_time = run_and_out.saturating_sub(run);
    let per_s = |d: std::time::Duration| n as f64 / d.as_secs_f64();
    println!(
        "rows: {n}; in (from_rows): {:.0} rows/s ({:?}); out (collect_rows less collect): {:.0} rows/s ({:?})",
        per_s(rows_in),
        rows_in,
        per_s(out_time),
        out_time
    );
    Ok(())
}
