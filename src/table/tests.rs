//! The Table API against SQL: same plans, same changes.

use super::*;
use eddy_sql::Outcome;

/// A bounded table of bids over the conformance data.
pub(super) async fn env_with_bids() -> TableEnvironment {
    let env = TableEnvironment::new();
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/data/nexmark/bid/bids-000.csv"
    );
    env.execute_sql(&format!(
        "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, \
         `dateTime` TIMESTAMP(3), extra STRING, \
         WATERMARK FOR `dateTime` AS `dateTime` - INTERVAL '4' SECOND) \
         WITH ('connector' = 'filesystem', 'path' = '{data}', 'format' = 'csv')"
    ))
    .await
    .expect("create table");
    env
}

/// The changes as `+I[..]` lines, sorted.
pub(super) fn lines(batches: &[ChangeBatch]) -> Vec<String> {
    let mut out: Vec<String> = batches
        .iter()
        .flat_map(eddy_engine::value_text::change_lines)
        .collect();
    out.sort();
    out
}

/// Bids per auction and 10-second tumbling window, with the Table API.
async fn bids_per_auction_and_10s(env: &TableEnvironment) -> Table {
    env.from_path("bid")
        .await
        .expect("table")
        .window(
            Tumble::over(Duration::from_secs(10))
                .on("dateTime")
                .alias("w"),
        )
        .group_by([col("w"), col("auction")])
        .select([
            col("auction"),
            col("w").start(),
            col("w").end(),
            count(col("price")).alias("n"),
        ])
        .await
        .expect("window aggregate")
}

/// The streaming plan part of EXPLAIN, without the job-specific sink.
pub(super) fn streaming_plan(explain: &str) -> String {
    explain
        .split("== Streaming Plan ==")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_table_api_query_plans_and_runs_as_its_sql() {
    let env = env_with_bids().await;
    let sql = env
        .sql_query("SELECT auction, price * 2 AS doubled FROM bid WHERE price > 1000")
        .await
        .expect("sql");
    let api = env
        .from_path("bid")
        .await
        .expect("table")
        .filter(col("price").gt(lit(1000i64)))
        .expect("filter")
        .select([col("auction"), (col("price") * lit(2i64)).alias("doubled")])
        .expect("select");
    assert_eq!(
        streaming_plan(&api.explain().await.expect("explain")),
        streaming_plan(&sql.explain().await.expect("explain"))
    );
    let (a, s) = (
        api.collect().await.expect("run"),
        sql.collect().await.expect("run"),
    );
    assert!(!lines(&s).is_empty());
    assert_eq!(lines(&a), lines(&s));
}

#[tokio::test]
async fn an_updating_query_comes_back_as_a_changelog() {
    let env = env_with_bids().await;
    let t = env
        // Each read of the file is one batch: counted twice, the
        // counts change once.
        .sql_query(
            "SELECT channel, COUNT(*) AS n FROM \
             (SELECT channel FROM bid UNION ALL SELECT channel FROM bid) GROUP BY channel",
        )
        .await
        .expect("sql");
    let changes = lines(&t.collect().await.expect("run"));
    assert!(changes.iter().any(|l| l.starts_with("+I[")));
    assert!(changes.iter().any(|l| l.starts_with("-U[")));
    assert!(changes.iter().any(|l| l.starts_with("+U[")));
}

#[tokio::test]
async fn a_cancelled_changelog_ends() {
    let env = TableEnvironment::new();
    env.execute_sql(
        "CREATE TABLE g (x BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '100')",
    )
    .await
    .expect("create");
    let t = env.from_path("g").await.expect("table");
    let mut changes = t.execute().await.expect("start");
    assert!(changes.next().await.is_some());
    changes.cancel();
    while let Some(batch) = changes.next().await {
        batch.expect("no failure");
    }
}

#[tokio::test]
async fn a_statement_that_is_no_query_makes_no_table() {
    let env = TableEnvironment::new();
    let err = env
        .sql_query("SET 'a' = 'b'")
        .await
        .err()
        .expect("an error");
    assert!(err.to_string().contains("only a query"), "{err}");
}

/// Asserts that `api` plans and runs as the SQL query `sql` does.
async fn assert_same_as_sql(env: &TableEnvironment, api: Table, sql: &str) {
    let sql = env.sql_query(sql).await.expect("sql");
    assert_eq!(
        streaming_plan(&api.explain().await.expect("explain")),
        streaming_plan(&sql.explain().await.expect("explain"))
    );
    let want = lines(&sql.collect().await.expect("run"));
    assert!(!want.is_empty());
    assert_eq!(lines(&api.collect().await.expect("run")), want);
}

#[tokio::test]
async fn an_updating_aggregate_plans_and_runs_as_its_sql() {
    let env = env_with_bids().await;
    let api = env
        .from_path("bid")
        .await
        .expect("table")
        .group_by([col("channel")])
        .select([
            col("channel"),
            count(col("price")).alias("n"),
            max(col("price")).alias("top"),
        ])
        .expect("aggregate");
    assert_same_as_sql(
        &env,
        api,
        "SELECT channel, COUNT(price) AS n, MAX(price) AS top FROM bid GROUP BY channel",
    )
    .await;
}

#[tokio::test]
async fn a_join_plans_and_runs_as_its_sql() {
    let env = env_with_bids().await;
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/data/nexmark/auction.csv"
    );
    env.execute_sql(&format!(
        "CREATE TABLE auction (id BIGINT, itemName STRING, description STRING, initialBid BIGINT, \
         reserve BIGINT, `dateTime` TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, \
         category BIGINT, extra STRING) \
         WITH ('connector' = 'filesystem', 'path' = '{data}', 'format' = 'csv')"
    ))
    .await
    .expect("create table");
    let auctions = env
        .from_path("auction")
        .await
        .expect("table")
        .select([col("id"), col("category")])
        .expect("select");
    let api = env
        .from_path("bid")
        .await
        .expect("table")
        .left_outer_join(auctions, col("auction").eq(col("id")))
        .expect("join")
        .select([col("auction"), col("price"), col("category")])
        .expect("select");
    assert_same_as_sql(
        &env,
        api,
        "SELECT auction, price, category FROM bid \
         LEFT JOIN (SELECT id, category FROM auction) ON auction = id",
    )
    .await;
}

#[tokio::test]
async fn column_operations_plan_and_run_as_their_sql() {
    let env = env_with_bids().await;
    let api = env
        .from_path("bid")
        .await
        .expect("table")
        .drop_columns(&["url", "extra", "dateTime"])
        .expect("drop")
        .rename_columns(&[("price", "amount")])
        .expect("rename")
        .add_columns([(col("amount") / lit(100i64)).alias("hundreds")])
        .expect("add")
        .filter(col("auction").lt(lit(1010i64)))
        .expect("filter");
    assert_same_as_sql(
        &env,
        api,
        "SELECT auction, bidder, amount, channel, amount / 100 AS hundreds FROM \
         (SELECT auction, bidder, price AS amount, channel FROM bid) WHERE auction < 1010",
    )
    .await;
}

#[tokio::test]
async fn a_view_made_by_the_table_api_serves_sql_and_distinct_unions() {
    let env = env_with_bids().await;
    let cheap = env
        .from_path("bid")
        .await
        .expect("table")
        .filter(col("price").lt(lit(10i64)))
        .expect("filter")
        .select([col("channel")])
        .expect("select");
    env.create_temporary_view("cheap", &cheap)
        .await
        .expect("view");
    let api = cheap
        .clone()
        .union_all(cheap)
        .expect("union")
        .distinct()
        .expect("distinct");
    assert_same_as_sql(
        &env,
        api,
        "SELECT DISTINCT channel FROM (SELECT channel FROM cheap UNION ALL SELECT channel FROM cheap)",
    )
    .await;
    let unknown = env
        .from_path("bid")
        .await
        .expect("table")
        .drop_columns(&["nope"]);
    assert!(
        unknown
            .err()
            .expect("an error")
            .to_string()
            .contains("no column 'nope'")
    );
}

#[tokio::test]
async fn a_window_aggregate_plans_and_runs_as_its_sql() {
    let env = env_with_bids().await;
    let api = bids_per_auction_and_10s(&env).await;
    assert_same_as_sql(
        &env,
        api,
        "SELECT auction, window_start, window_end, COUNT(price) AS n FROM \
         TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND)) \
         GROUP BY window_start, window_end, auction",
    )
    .await;
}

#[tokio::test]
async fn windows_over_a_derived_table_give_the_rows_of_their_sql() {
    let env = env_with_bids().await;
    let hot = env
        .from_path("bid")
        .await
        .expect("table")
        .filter(col("auction").lt(lit(1010i64)))
        .expect("filter");
    let windows = [
        Session::with_gap(Duration::from_secs(2))
            .on("dateTime")
            .alias("s"),
        Slide::over(Duration::from_secs(4))
            .every(Duration::from_secs(2))
            .on("dateTime")
            .alias("s"),
        Cumulate::over(Duration::from_secs(4))
            .step(Duration::from_millis(500))
            .on("dateTime")
            .alias("s"),
    ];
    let tvfs = [
        "SESSION(TABLE hot PARTITION BY auction, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND)",
        "HOP(TABLE hot, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '4' SECOND)",
        "CUMULATE(TABLE hot, DESCRIPTOR(`dateTime`), INTERVAL '500' MILLISECOND, INTERVAL '4' SECOND)",
    ];
    env.create_temporary_view("hot", &hot).await.expect("view");
    for (window, tvf) in windows.into_iter().zip(tvfs) {
        let api = hot
            .clone()
            .window(window)
            .group_by([col("auction"), col("s")])
            .select([
                col("auction"),
                col("s").end(),
                sum(col("price")).alias("total"),
            ])
            .await
            .expect("window aggregate");
        let sql = env
            .sql_query(&format!(
                "SELECT auction, window_end, SUM(price) AS total FROM TABLE({tvf}) \
                 GROUP BY window_start, window_end, auction"
            ))
            .await
            .expect("sql");
        let want = lines(&sql.collect().await.expect("run"));
        assert!(!want.is_empty(), "{tvf}");
        assert_eq!(lines(&api.collect().await.expect("run")), want, "{tvf}");
    }
    // The views the environment made for itself are not listed.
    match env.execute_sql("SHOW VIEWS").await.expect("show") {
        Outcome::Rows { rows, .. } => assert_eq!(rows, [["hot"]]),
        _ => panic!("SHOW VIEWS gives rows"),
    }
}

#[tokio::test]
async fn rows_sent_by_the_program_are_windowed_by_their_watermark() {
    use datafusion::arrow::array::{StringArray, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use datafusion::arrow::record_batch::RecordBatch;

    let schema = Arc::new(Schema::new(vec![
        Field::new("user", DataType::Utf8, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
    ]));
    let batch = |rows: &[(&str, i64)]| {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(TimestampMillisecondArray::from_iter_values(
                    rows.iter().map(|r| r.1),
                )),
            ],
        )
        .expect("batch")
    };
    let (tx, rx) = mpsc::channel(4);
    let clicks =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    let env = TableEnvironment::new();
    let t = env
        .from_stream(
            "clicks",
            schema.clone(),
            Some(("ts", Duration::from_secs(1))),
            clicks,
        )
        .await
        .expect("table")
        .window(Tumble::over(Duration::from_secs(10)).on("ts").alias("w"))
        .group_by([col("w"), col("user")])
        .select([col("user"), col("w").end(), count(col("ts")).alias("n")])
        .await
        .expect("window aggregate");
    let mut changes = t.execute().await.expect("start");
    tx.send(batch(&[("ann", 1_000), ("bob", 2_000), ("ann", 9_000)]))
        .await
        .expect("send");
    // The watermark passes 10 s - 1 ms only with this batch: the first
    // window fires now, before the program ends its stream.
    tx.send(batch(&[("ann", 12_000)])).await.expect("send");
    let first = changes.next().await.expect("a window").expect("no failure");
    let mut fired = lines(&[first]);
    assert_eq!(
        fired,
        [
            "+I[ann, 1970-01-01T00:00:10, 2]",
            "+I[bob, 1970-01-01T00:00:10, 1]"
        ]
    );
    drop(tx);
    let mut rest = vec![];
    while let Some(b) = changes.next().await {
        rest.push(b.expect("no failure"));
    }
    fired = lines(&rest);
    assert_eq!(fired, ["+I[ann, 1970-01-01T00:00:20, 1]"]);
}

#[tokio::test]
async fn values_inserted_into_a_table_land_in_its_files() {
    let dir = std::env::temp_dir().join(format!("eddy-table-api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let env = TableEnvironment::new();
    env.execute_sql(&format!(
        "CREATE TABLE out (name STRING, n BIGINT) WITH ('connector' = 'filesystem', \
         'path' = '{}', 'format' = 'csv')",
        dir.display()
    ))
    .await
    .expect("create");
    let t = env
        .from_values(vec![vec![lit("a"), lit(1i64)], vec![lit("b"), lit(2i64)]])
        .expect("values");
    assert_eq!(t.logical_plan().schema().field_names(), ["f0", "f1"]);
    t.execute_insert("out")
        .await
        .expect("start")
        .wait()
        .await
        .expect("run");
    let mut written = String::new();
    for file in std::fs::read_dir(&dir).expect("dir") {
        written.push_str(&std::fs::read_to_string(file.expect("file").path()).expect("read"));
    }
    let mut lines: Vec<&str> = written.lines().collect();
    lines.sort();
    assert_eq!(lines, ["a,1", "b,2"]);
    let _ = std::fs::remove_dir_all(&dir);
    let err = t.execute_insert("nowhere").await.err().expect("an error");
    assert!(err.to_string().contains("nowhere"), "{err}");
}

#[tokio::test]
async fn typed_rows_go_in_and_come_out_as_serde_values() {
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use eddy_engine::RowKind;

    #[derive(serde::Serialize)]
    struct Click {
        user: String,
        ts: String,
    }
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct PerUser {
        user: String,
        n: i64,
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("user", DataType::Utf8, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
    ]));
    let click = |user: &str, ts: &str| Click {
        user: user.into(),
        ts: ts.into(),
    };
    let env = TableEnvironment::new();
    let clicks = env
        .from_rows(
            "clicks",
            schema,
            None,
            &[
                click("ann", "2024-01-01 10:00:00"),
                click("bob", "2024-01-01 10:00:01"),
                click("ann", "2024-01-01 10:00:02.500"),
            ],
        )
        .await
        .expect("table");
    let mut per_user: Vec<(RowKind, PerUser)> = clicks
        .group_by([col("user")])
        .select([col("user"), count(col("ts")).alias("n")])
        .expect("aggregate")
        .collect_rows()
        .await
        .expect("run");
    per_user.sort_by(|a, b| a.1.user.cmp(&b.1.user));
    let ann = PerUser {
        user: "ann".into(),
        n: 2,
    };
    let bob = PerUser {
        user: "bob".into(),
        n: 1,
    };
    assert_eq!(per_user, [(RowKind::Insert, ann), (RowKind::Insert, bob)]);
    #[derive(serde::Deserialize, Debug)]
    struct Wrong {
        #[allow(dead_code)]
        missing: i64,
    }
    let t = env.sql_query("SELECT 1 AS one").await.expect("sql");
    let err = t.collect_rows::<Wrong>().await.expect_err("an error");
    assert!(err.to_string().contains("missing"), "{err}");
}

#[tokio::test]
async fn order_by_fetch_is_a_top_n_per_window_or_over_the_table() {
    let env = env_with_bids().await;
    let per_window = bids_per_auction_and_10s(&env).await;
    let top = per_window
        .order_by([
            col("n").sort(false, false),
            col("auction").sort(true, false),
        ])
        .fetch(2)
        .await
        .expect("top 2");
    let sql = env
        .sql_query(
            "SELECT auction, window_start, window_end, n FROM (SELECT *, ROW_NUMBER() OVER \
             (PARTITION BY window_start, window_end ORDER BY n DESC, auction ASC) AS rn FROM \
             (SELECT auction, window_start, window_end, COUNT(price) AS n FROM \
             TABLE(TUMBLE(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '10' SECOND)) \
             GROUP BY window_start, window_end, auction)) WHERE rn <= 2",
        )
        .await
        .expect("sql");
    let want = lines(&sql.collect().await.expect("run"));
    assert!(want.len() > 2);
    assert_eq!(lines(&top.collect().await.expect("run")), want);

    let priciest = env
        .from_path("bid")
        .await
        .expect("table")
        .select([col("auction"), col("price")])
        .expect("select")
        .order_by([col("price").sort(false, true)])
        .fetch(3)
        .await
        .expect("top 3");
    // A derived table is read through a view of its own: same rows as the
    // SQL, whose plan names `bid` instead.
    let sql = env
        .sql_query(
            "SELECT auction, price FROM (SELECT auction, price, ROW_NUMBER() OVER (ORDER BY price DESC) AS rn \
             FROM bid) WHERE rn <= 3",
        )
        .await
        .expect("sql");
    let want = lines(&sql.collect().await.expect("run"));
    assert!(!want.is_empty());
    assert_eq!(lines(&priciest.collect().await.expect("run")), want);
}
