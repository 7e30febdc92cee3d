//! A windowed aggregate fed from a Rust channel, an updating aggregate
//! consumed as a changelog, and SQL over a table made in Rust:
//!
//!     cargo run --example sql_and_table_api

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{StringArray, TimestampMillisecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use eddy::TableEnvironment;
use eddy::table::{Tumble, WindowProperties, col, count};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("user", DataType::Utf8, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
    ]));
    let clicks = |rows: &[(&str, i64)]| {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(TimestampMillisecondArray::from_iter_values(
                    rows.iter().map(|r| r.1),
                )),
            ],
        )
    };

    // The program sends its rows through a channel.
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let stream =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    let env = TableEnvironment::new();
    let clicks_table = env
        .from_stream(
            "clicks",
            schema.clone(),
            Some(("ts", Duration::from_secs(1))),
            stream,
        )
        .await?;

    // Clicks per user and 10-second window, with the Table API.
    let per_window = clicks_table
        .window(Tumble::over(Duration::from_secs(10)).on("ts").alias("w"))
        .group_by([col("w"), col("user")])
        .select([
            col("user"),
            col("w").end(),
            count(col("ts")).alias("clicks"),
        ])
        .await?;
    env.create_temporary_view("per_window", &per_window).await?;

    // An updating aggregate over it, in SQL: each user's busiest window so far.
    let busiest = env
        .sql_query("SELECT `user`, MAX(clicks) AS most FROM per_window GROUP BY `user`")
        .await?;
    println!("{}", busiest.explain().await?);
    let mut changes = busiest.execute().await?;

    tx.send(clicks(&[("ann", 1_000), ("bob", 2_000), ("ann", 3_000)])?)
        .await?;
    tx.send(clicks(&[
        ("ann", 12_000),
        ("ann", 13_000),
        ("ann", 14_000),
    ])?)
    .await?;
    drop(tx);

    while let Some(batch) = changes.next().await {
        // Each row with its kind: +I, -U, +U or -D.
        let batch = batch?;
        for line in eddy::text::change_lines(&batch) {
            println!("{line}");
        }
    }
    Ok(())
}
