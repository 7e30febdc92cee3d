//! An updating aggregate consumed as a changelog of typed rows: every
//! change (`+I`, `-U`, `+U`, `-D`) to the running totals, as a Rust struct.
//!
//!     cargo run --example updating_changelog

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use eddy::TableEnvironment;
use eddy::table::{col, count, sum};

#[derive(serde::Serialize)]
struct Order {
    customer: String,
    amount: i64,
}

#[derive(serde::Deserialize, Debug)]
struct Total {
    customer: String,
    orders: i64,
    spent: i64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("customer", DataType::Utf8, true),
        Field::new("amount", DataType::Int64, true),
    ]));
    let order = |customer: &str, amount| Order {
        customer: customer.into(),
        amount,
    };
    let env = TableEnvironment::new();
    let orders = [order("ann", 30), order("bob", 5), order("ann", 12)];
    let first = env
        .from_rows("first", schema.clone(), None, &orders)
        .await?;
    let later = env
        .from_rows("later", schema, None, &[order("bob", 40), order("cy", 7)])
        .await?;
    let totals = first
        .union_all(later)?
        .group_by([col("customer")])
        .select([
            col("customer"),
            count(col("amount")).alias("orders"),
            sum(col("amount")).alias("spent"),
        ])?;

    let mut changes = totals.execute().await?;
    while let Some(rows) = changes.next_rows::<Total>().await {
        for (kind, total) in rows? {
            println!(
                "{} {} has {} orders, {} spent",
                kind.short(),
                total.customer,
                total.orders,
                total.spent
            );
        }
    }
    Ok(())
}
