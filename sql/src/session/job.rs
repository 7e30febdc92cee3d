//! Jobs: a statement (or the Table API's plans) planned into a job graph
//! with the session's configuration, explained, and started.

use std::sync::Arc;

use datafusion::logical_expr::LogicalPlan;
use eddy_engine::graph::JobGraph;
use eddy_engine::operator::OperatorFactory;
use eddy_engine::runtime::{self, JobHandle};

use super::Session;
use crate::error::{Location, Result, SqlError};
use crate::planner::{Stream, StreamPlanner};
use crate::statement::Statement;

impl Session {
    /// The name of the next job (`pipeline.name`, or Flink's default).
    pub(super) fn job_name(&self, stmt: Option<&Statement>) -> String {
        if let Some(n) = self.config("pipeline.name").filter(|n| !n.is_empty()) {
            return n.to_string();
        }
        let kind = match stmt {
            Some(Statement::Insert { table, .. }) => {
                format!("insert-into_{}", self.hinted.get(table).unwrap_or(table))
            }
            Some(Statement::StatementSet(_)) => "statement-set".into(),
            _ => "collect".into(),
        };
        format!("{kind}-{}", self.jobs_started + 1)
    }

    /// Plans an INSERT, statement set or query into a job graph and the
    /// text EXPLAIN shows.
    pub(super) async fn plan_job(
        &self,
        stmt: &Statement,
        at: Location,
        query_sink: Arc<dyn OperatorFactory>,
    ) -> Result<(JobGraph, String)> {
        let inserts: Vec<&Statement> = match stmt {
            Statement::StatementSet(v) => v.iter().collect(),
            other => vec![other],
        };
        let mut queries = vec![];
        for s in inserts {
            match s {
                Statement::Query(q) => queries.push((self.plan_query(q, at).await?, None)),
                Statement::Insert {
                    table,
                    columns,
                    query,
                } => {
                    let plan = self.plan_query(query, at).await?;
                    let plan = self.conform_to_sink(plan, table, columns, at)?;
                    queries.push((plan, Some(table.as_str())));
                }
                _ => {
                    return Err(SqlError::Plan {
                        location: at,
                        message: "only INSERT and SELECT statements run as jobs".into(),
                    });
                }
            }
        }
        self.build_job(&self.job_name(Some(stmt)), queries, at, Some(query_sink))
    }

    /// Plans optimized logical plans into one job: each into the table it
    /// names, or into `query_sink` (parallelism 1; there must be one for
    /// such a query). Returns the graph and the text EXPLAIN shows.
    pub(super) fn build_job(
        &self,
        name: &str,
        queries: Vec<(LogicalPlan, Option<&str>)>,
        at: Location,
        query_sink: Option<Arc<dyn OperatorFactory>>,
    ) -> Result<(JobGraph, String)> {
        let state = self.state();
        let mut planner = StreamPlanner::new(
            name,
            &state,
            &self.tables,
            &self.connectors,
            self.parallelism(),
            at,
        );
        // Before planning: sources read it (a Kafka partition's idleness).
        planner.plan.idle_timeout = self.duration("table.exec.source.idle-timeout", at)?;
        planner.state_ttl = self
            .duration("table.exec.state.ttl", at)?
            .filter(|ttl| !ttl.is_zero());
        planner.batch = self.config("execution.runtime-mode") == Some("batch");
        let mut logical = vec![];
        for (plan, table) in queries {
            let mut stream: Stream = planner.plan(&plan)?;
            if planner.batch {
                // Batch mode writes final rows only.
                stream = planner.add_final(stream, plan.schema())?;
            }
            match table {
                Some(table) => {
                    planner.add_table_sink(stream, table)?;
                }
                None => {
                    let Some(sink) = query_sink.clone() else {
                        return Err(SqlError::Plan {
                            location: at,
                            message: "a query needs somewhere to send its rows".into(),
                        });
                    };
                    let schema = crate::catalog::nullable_schema(plan.schema().as_arrow());
                    planner.add_sink(stream, sink, 1, schema)?;
                }
            }
            logical.push(plan);
        }
        if let Some(table) = self
            .config("table.exec.late-data.sink")
            .filter(|t| !t.is_empty())
        {
            planner.add_late_rows_sink(table)?;
        }
        planner.plan.settle_update_before();
        let mut graph = planner.plan.lower()?;
        let get = |k: &str| self.config.get(k).map(String::as_str);
        graph.checkpointing = crate::checkpointing::config(get, at)?;
        if planner.batch {
            // As in Flink, a batch job takes no checkpoints.
            graph.checkpointing = None;
        }
        graph.state_backend = crate::checkpointing::state_backend(get, at)?;
        let mut text = String::from("== Optimized Logical Plan ==\n");
        for p in &logical {
            text.push_str(&p.display_indent().to_string());
            text.push('\n');
        }
        text.push_str("\n== Streaming Plan ==\n");
        text.push_str(&planner.plan.explain(&graph));
        Ok((graph, text))
    }

    /// The EXPLAIN text of running `plan` (optimized) as a query into `sink`.
    pub fn explain_plan(
        &self,
        plan: LogicalPlan,
        sink: Arc<dyn OperatorFactory>,
    ) -> Result<String> {
        let at = Location { line: 1, column: 1 };
        Ok(self
            .build_job(&self.job_name(None), vec![(plan, None)], at, Some(sink))?
            .1)
    }

    /// Starts a job running `plan` (optimized) as a query into `sink`.
    pub fn start_plan(
        &mut self,
        plan: LogicalPlan,
        sink: Arc<dyn OperatorFactory>,
    ) -> Result<JobHandle> {
        let at = Location { line: 1, column: 1 };
        let name = self.job_name(None);
        let (graph, _) = self.build_job(&name, vec![(plan, None)], at, Some(sink))?;
        self.jobs_started += 1;
        Ok(runtime::spawn(&graph)?)
    }

    /// Starts a job writing `plan` (optimized) into catalog table `table`,
    /// its columns cast to the table's as `INSERT INTO` does.
    pub fn start_insert(&mut self, plan: LogicalPlan, table: &str) -> Result<JobHandle> {
        let at = Location { line: 1, column: 1 };
        let plan = self.conform_to_sink(plan, table, &[], at)?;
        let name = self
            .job_name(None)
            .replacen("collect", &format!("insert-into_{table}"), 1);
        let (graph, _) = self.build_job(&name, vec![(plan, Some(table))], at, None)?;
        self.jobs_started += 1;
        Ok(runtime::spawn(&graph)?)
    }

    /// A duration option's value (its default where not set).
    fn duration(&self, key: &str, at: Location) -> Result<Option<std::time::Duration>> {
        let Some(v) = self.config(key) else {
            return Ok(None);
        };
        eddy_engine::connector::parse_duration(v)
            .map(Some)
            .ok_or_else(|| SqlError::Plan {
                location: at,
                message: format!(
                    "Invalid value for '{key}': '{v}' (expected {})",
                    crate::options::Kind::Duration.expected()
                ),
            })
    }
}
