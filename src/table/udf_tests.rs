//! User-defined functions from Rust, called from SQL and the Table API:
//! each checked against a query of built-in functions that computes the
//! same values.

use super::*;
use crate::udf::{AggregateFunction, ScalarFunction, TableFunction, UserFunction};
use datafusion::arrow::array::{ArrayRef, AsArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use eddy_sql::Outcome;

use super::tests::{env_with_bids, lines, streaming_plan};

async fn rows(env: &TableEnvironment, sql: &str) -> Vec<String> {
    let t = env.sql_query(sql).await.expect("plan");
    lines(&t.collect().await.expect("run"))
}

/// Nexmark q14's `count_char`: how often `c` occurs in `s`.
fn count_char() -> ScalarFunction {
    ScalarFunction::new(|s: String, c: String| {
        let c = c.chars().next().unwrap_or('\0');
        s.chars().filter(|x| *x == c).count() as i64
    })
}

#[tokio::test]
async fn a_row_wise_scalar_function_gives_what_built_ins_give() {
    let env = env_with_bids().await;
    env.create_temporary_function("count_char", count_char())
        .await
        .expect("register");
    let udf = rows(
        &env,
        "SELECT auction, count_char(url, '/') AS n FROM bid WHERE price > 1000",
    )
    .await;
    let built_in = rows(
        &env,
        "SELECT auction, CHAR_LENGTH(url) - CHAR_LENGTH(REPLACE(url, '/', '')) AS n \
         FROM bid WHERE price > 1000",
    )
    .await;
    assert!(!udf.is_empty());
    assert_eq!(udf, built_in);
}

#[tokio::test]
async fn null_arguments_give_null_unless_the_closure_takes_an_option() {
    let env = TableEnvironment::new();
    env.create_temporary_function("plus_one", ScalarFunction::new(|x: i64| x + 1))
        .await
        .expect("register");
    env.create_temporary_function(
        "or_zero",
        ScalarFunction::new(|x: Option<i64>| x.unwrap_or(0)),
    )
    .await
    .expect("register");
    let got = rows(
        &env,
        "SELECT plus_one(x) AS a, or_zero(x) AS b FROM (VALUES (CAST(NULL AS BIGINT)), (4)) AS t(x)",
    )
    .await;
    assert_eq!(got, ["+I[5, 4]", "+I[null, 0]"]);
}

#[tokio::test]
async fn a_vectorized_scalar_function_and_names_are_case_insensitive() {
    let env = TableEnvironment::new();
    let double = ScalarFunction::vectorized(vec![DataType::Int64], DataType::Int64, |args, _| {
        let x = args[0].as_primitive::<Int64Type>();
        Ok(Arc::new(x.iter().map(|v| v.map(|v| v * 2)).collect::<Int64Array>()) as ArrayRef)
    });
    env.create_temporary_function("Double_It", double)
        .await
        .expect("register");
    let got = rows(
        &env,
        "SELECT DOUBLE_IT(x) AS d FROM (VALUES (1), (2)) AS t(x)",
    )
    .await;
    assert_eq!(got, ["+I[2]", "+I[4]"]);
}

#[tokio::test]
async fn a_udf_call_plans_the_same_in_sql_and_in_the_table_api() {
    let env = env_with_bids().await;
    env.create_temporary_function("count_char", count_char())
        .await
        .expect("register");
    let sql = env
        .sql_query("SELECT auction, count_char(url, '/') AS n FROM bid")
        .await
        .expect("sql");
    let api = env
        .from_path("bid")
        .await
        .expect("table")
        .select([
            col("auction"),
            env.call("count_char", [col("url"), lit("/")])
                .expect("call")
                .alias("n"),
        ])
        .expect("select");
    let sql_plan = streaming_plan(&sql.explain().await.expect("explain"));
    assert_eq!(
        streaming_plan(&api.explain().await.expect("explain")),
        sql_plan
    );
    assert!(sql_plan.contains("count_char(bid.url"), "{sql_plan}");
}

#[tokio::test]
async fn names_in_use_and_built_ins_are_refused_unless_a_system_function_replaces_them() {
    let env = TableEnvironment::new();
    let upper = || ScalarFunction::new(|s: String| s.to_lowercase());
    let err = env
        .create_temporary_function("upper", upper())
        .await
        .expect_err("a built-in's name");
    assert!(err.to_string().contains("built-in"), "{err}");
    env.create_temporary_system_function("upper", upper())
        .await
        .expect("a system function replaces it");
    assert_eq!(rows(&env, "SELECT UPPER('Ab') AS u").await, ["+I[ab]"]);
    let err = env
        .create_temporary_system_function("upper", upper())
        .await
        .expect_err("registered twice");
    assert!(err.to_string().contains("already exists"), "{err}");
    assert!(
        env.drop_temporary_system_function("upper")
            .await
            .expect("drop")
    );
    assert_eq!(rows(&env, "SELECT UPPER('Ab') AS u").await, ["+I[AB]"]);
    assert!(!env.drop_temporary_function("nothing").await.expect("drop"));
    // SPLIT is a built-in the planner rewrites before DataFusion sees it.
    let reversed = || ScalarFunction::new(|s: String| s.chars().rev().collect::<String>());
    let err = env
        .create_temporary_function("split", reversed())
        .await
        .expect_err("a built-in's name");
    assert!(err.to_string().contains("built-in"), "{err}");
    env.create_temporary_system_function("Split", reversed())
        .await
        .expect("a system function replaces it");
    assert_eq!(rows(&env, "SELECT split('ab') AS r").await, ["+I[ba]"]);
    let err = env.call("nothing", []).expect_err("unknown");
    assert!(
        err.to_string().contains("No user function named nothing"),
        "{err}"
    );
}

fn split() -> TableFunction {
    TableFunction::new(|s: String| {
        s.split(' ')
            .filter(|w| !w.is_empty())
            .map(|w| (w.to_string(), w.len() as i32))
            .collect::<Vec<_>>()
    })
    .with_names(["word", "length"])
}

#[tokio::test]
async fn a_table_function_joins_laterally_as_unnest_does() {
    let env = TableEnvironment::new();
    env.create_temporary_function("split_words", split())
        .await
        .expect("register");
    let input = "(VALUES (1, 'a bb'), (2, ''), (3, CAST(NULL AS STRING)), (4, 'ccc')) AS t(id, s)";
    let unnest = rows(
        &env,
        &format!(
            "SELECT id, w, CHAR_LENGTH(w) AS n FROM {input} \
             CROSS JOIN UNNEST(string_to_array(s, ' ')) AS u(w) WHERE w <> ''"
        ),
    )
    .await;
    assert_eq!(unnest.len(), 3);
    for sql in [
        format!("SELECT id, word, length FROM {input}, LATERAL TABLE(split_words(s))"),
        format!("SELECT id, w, n FROM {input}, LATERAL TABLE(split_words(s)) AS x(w, n)"),
        format!("SELECT id, w, n FROM {input} CROSS JOIN LATERAL TABLE(split_words(s)) AS x(w, n)"),
        format!(
            "SELECT id, w, n FROM {input} JOIN LATERAL TABLE(split_words(s)) AS x(w, n) ON TRUE"
        ),
    ] {
        assert_eq!(rows(&env, &sql).await, unnest, "{sql}");
    }
    let left = rows(
        &env,
        &format!(
            "SELECT id, w FROM {input} LEFT JOIN LATERAL TABLE(split_words(s)) AS x(w, n) ON TRUE"
        ),
    )
    .await;
    assert_eq!(
        left,
        [
            "+I[1, a]",
            "+I[1, bb]",
            "+I[2, null]",
            "+I[3, null]",
            "+I[4, ccc]"
        ]
    );
    let api = env
        .sql_query(&format!("SELECT * FROM {input}"))
        .await
        .expect("input")
        .left_outer_join_lateral(env.call("split_words", [col("s")]).expect("call"))
        .expect("lateral")
        .select([col("id"), col("word")])
        .expect("select");
    assert_eq!(lines(&api.collect().await.expect("run")), left);
}

#[tokio::test]
async fn lateral_table_of_no_table_function_is_an_error() {
    let env = TableEnvironment::new();
    let err = env
        .sql_query("SELECT * FROM (VALUES (1)) AS t(x), LATERAL TABLE(nope(x))")
        .await
        .err()
        .expect("an error");
    assert!(
        err.to_string().contains("No table function named nope"),
        "{err}"
    );
}

/// SUM of BIGINTs that can retract, and counts the rows it saw.
struct Total;

impl AggregateFunction for Total {
    type Args = (i64,);
    type Acc = i64;
    type Output = Option<i64>;
    const RETRACTS: bool = true;
    fn accumulate(&self, acc: &mut i64, (x,): (i64,)) {
        *acc += x;
    }
    fn retract(&self, acc: &mut i64, (x,): (i64,)) {
        *acc -= x;
    }
    fn merge(&self, acc: &mut i64, other: i64) {
        *acc += other;
    }
    fn get_value(&self, acc: &i64) -> Option<i64> {
        Some(*acc)
    }
}

/// The largest BIGINT: cannot retract, so over updating input it is
/// recomputed from the values kept per key.
struct Largest;

impl AggregateFunction for Largest {
    type Args = (i64,);
    type Acc = Option<i64>;
    type Output = Option<i64>;
    fn accumulate(&self, acc: &mut Option<i64>, (x,): (i64,)) {
        *acc = Some(acc.map_or(x, |a| a.max(x)));
    }
    fn merge(&self, acc: &mut Option<i64>, other: Option<i64>) {
        if let Some(o) = other {
            self.accumulate(acc, (o,));
        }
    }
    fn get_value(&self, acc: &Option<i64>) -> Option<i64> {
        *acc
    }
}

async fn env_with_aggregates() -> TableEnvironment {
    let env = env_with_bids().await;
    env.create_temporary_function("total", UserFunction::aggregate(Total))
        .await
        .expect("register");
    env.create_temporary_function("largest", UserFunction::aggregate(Largest))
        .await
        .expect("register");
    env
}

#[tokio::test]
async fn an_aggregate_function_in_a_hop_window_gives_what_sum_gives() {
    let env = env_with_aggregates().await;
    let query = |sum: &str, max: &str| {
        format!(
            "SELECT auction, window_start, {sum}(price) AS s, {max}(price) AS m \
             FROM TABLE(HOP(TABLE bid, DESCRIPTOR(`dateTime`), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) \
             GROUP BY auction, window_start, window_end"
        )
    };
    let want = rows(&env, &query("SUM", "MAX")).await;
    assert!(want.len() > 10);
    assert_eq!(rows(&env, &query("total", "largest")).await, want);
}

#[tokio::test]
async fn an_aggregate_function_over_updating_input_retracts() {
    let env = env_with_aggregates().await;
    // The inner aggregate's updates retract the outer one's rows.
    let query = |sum: &str, max: &str| {
        format!(
            "SELECT channel, {sum}(n) AS s, {max}(n) AS m FROM \
             (SELECT channel, auction, COUNT(*) AS n FROM \
              (SELECT channel, auction FROM bid UNION ALL SELECT channel, auction FROM bid) \
              GROUP BY channel, auction) \
             GROUP BY channel"
        )
    };
    let want = rows(&env, &query("SUM", "MAX")).await;
    assert!(want.iter().any(|l| l.starts_with("-U")), "{want:?}");
    assert_eq!(rows(&env, &query("total", "largest")).await, want);
}

#[tokio::test]
async fn an_aggregate_function_in_an_over_window_and_from_the_table_api() {
    let env = env_with_aggregates().await;
    let query = |sum: &str| {
        format!(
            "SELECT auction, price, {sum}(price) OVER (PARTITION BY auction ORDER BY `dateTime` \
             ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s FROM bid"
        )
    };
    assert_eq!(
        rows(&env, &query("total")).await,
        rows(&env, &query("SUM")).await
    );
    let api = env
        .from_path("bid")
        .await
        .expect("table")
        .group_by([col("channel")])
        .select([
            col("channel"),
            env.call("total", [col("price")]).expect("call").alias("s"),
        ])
        .expect("aggregate");
    let want = rows(
        &env,
        "SELECT channel, SUM(price) AS s FROM bid GROUP BY channel",
    )
    .await;
    assert_eq!(lines(&api.collect().await.expect("run")), want);
}

#[tokio::test]
async fn user_functions_are_listed_described_and_dropped_in_sql() {
    let env = env_with_aggregates().await;
    env.create_temporary_function("split_words", split())
        .await
        .expect("register");
    let show = env.execute_sql("SHOW USER FUNCTIONS").await.expect("show");
    let Outcome::Rows { rows: names, .. } = show else {
        panic!("rows expected");
    };
    assert_eq!(names, [["largest"], ["split_words"], ["total"]]);
    let describe = env
        .execute_sql("DESCRIBE FUNCTION EXTENDED split_words")
        .await
        .expect("describe");
    let Outcome::Rows { rows: info, .. } = describe else {
        panic!("rows expected");
    };
    let text = format!("{info:?}");
    assert!(text.contains("TABLE"), "{text}");
    assert!(
        text.contains("split_words(STRING) -> ROW<`word` STRING, `length` INT>"),
        "{text}"
    );
    env.execute_sql("DROP TEMPORARY FUNCTION split_words")
        .await
        .expect("drop");
    env.execute_sql("DROP TEMPORARY FUNCTION IF EXISTS split_words")
        .await
        .expect("drop if exists");
    let err = env
        .execute_sql("DROP TEMPORARY FUNCTION split_words")
        .await
        .err()
        .expect("gone");
    assert!(err.to_string().contains("doesn't exist"), "{err}");
    let err = env
        .execute_sql("DROP TEMPORARY SYSTEM FUNCTION total")
        .await
        .err()
        .expect("not a system function");
    assert!(err.to_string().contains("DROP TEMPORARY FUNCTION"), "{err}");
}
