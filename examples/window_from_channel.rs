//! A windowed aggregate over rows a program sends through a channel: each
//! window's counts arrive as soon as the watermark passes its end.
//!
//!     cargo run --example window_from_channel

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{Float64Array, StringArray, TimestampMillisecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use eddy::TableEnvironment;
use eddy::table::{Tumble, WindowProperties, avg, col, count};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("sensor", DataType::Utf8, true),
        Field::new("value", DataType::Float64, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
    ]));
    let (tx, rx) = tokio::sync::mpsc::channel::<RecordBatch>(16);
    let readings =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });

    let env = TableEnvironment::new();
    let per_minute = env
        .from_stream(
            "readings",
            schema.clone(),
            Some(("ts", Duration::from_secs(5))),
            readings,
        )
        .await?
        .window(Tumble::over(Duration::from_secs(60)).on("ts").alias("w"))
        .group_by([col("w"), col("sensor")])
        .select([
            col("sensor"),
            col("w").end(),
            count(col("value")).alias("readings"),
            avg(col("value")).alias("mean"),
        ])
        .await?;
    let mut results = per_minute.execute().await?;

    // The producer: a reading every 10 s from two sensors, for 3 minutes.
    tokio::spawn(async move {
        for i in 0..18i64 {
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(vec!["a", "b"])),
                    Arc::new(Float64Array::from(vec![i as f64, 100.0 - i as f64])),
                    Arc::new(TimestampMillisecondArray::from(vec![
                        i * 10_000,
                        i * 10_000,
                    ])),
                ],
            )
            .expect("batch");
            if tx.send(batch).await.is_err() {
                return;
            }
        }
    });

    while let Some(batch) = results.next().await {
        let batch = batch?;
        for line in eddy::text::change_lines(&batch) {
            println!("{line}");
        }
    }
    Ok(())
}
