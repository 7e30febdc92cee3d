//! Runs a SQL script with Nexmark's `count_char` registered as a Rust
//! scalar function (the UDF of Nexmark q14), awaiting each job:
//!
//!     cargo run --release --example nexmark_q14_udf -- SCRIPT.sql
//!
//! `bench/udf/run.sh` times it against Flink with the same UDF in Java.

use eddy::Outcome;
use eddy::TableEnvironment;
use eddy::udf::ScalarFunction;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: nexmark_q14_udf SCRIPT.sql")?;
    let script = std::fs::read_to_string(&path)?;
    let env = TableEnvironment::new();
    let count_char = ScalarFunction::new(|s: String, c: String| {
        let c = c.chars().next().unwrap_or('\0');
        s.chars().filter(|x| *x == c).count() as i64
    });
    env.create_temporary_function("count_char", count_char)
        .await?;
    for statement in eddy::split_statements(&script) {
        if let Outcome::Job(job) = env.execute_sql(&statement.text).await? {
            let stats = job.wait().await?;
            eprintln!("rows read: {}", stats.rows_read);
        }
    }
    Ok(())
}
