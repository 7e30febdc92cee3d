//! Showing a running query's changes, in the result mode of
//! `sql-client.execution.result-mode`:
//!
//! * `tableau`: rows as they arrive, in a bordered table with Flink's `op`
//!   column (`| +I |`), then `Received a total of N rows`;
//! * `changelog`: each change as Flink's print connector writes it
//!   (`+I[a, b]`);
//! * `table`: the materialized result (retractions applied), full-screen
//!   and scrollable on a terminal (`screen.rs`), else redrawn in place as
//!   it changes (its first 30 rows), with a status line: rows read (and
//!   the share of a bounded input), changes received, the watermark, the
//!   time since it started.
//!
//! Ctrl-C stops the query and returns to the prompt.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use eddy::EngineError;
use eddy::arrow::datatypes::{DataType, SchemaRef};
use eddy::job::JobHandle;
use eddy::{ChangeBatch, RowKind};
use tokio::sync::mpsc;

/// How a query's result is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Tableau,
    Changelog,
    Table,
}

impl Mode {
    /// The mode a `SET` value names.
    pub fn parse(value: &str) -> Result<Mode, String> {
        match value.to_ascii_lowercase().as_str() {
            "tableau" => Ok(Mode::Tableau),
            "changelog" => Ok(Mode::Changelog),
            "table" => Ok(Mode::Table),
            other => Err(format!(
                "Invalid value for 'sql-client.execution.result-mode': '{other}'. Supported values are [table, changelog, tableau]"
            )),
        }
    }
}

/// Columns of a tableau: the text width each shows.
fn widths(schema: &SchemaRef) -> Vec<usize> {
    schema
        .fields()
        .iter()
        .map(|f| {
            let by_type = match f.data_type() {
                DataType::Boolean => 7,
                DataType::Int8 => 4,
                DataType::Int16 => 6,
                DataType::Int32 => 11,
                DataType::Int64 | DataType::Float32 | DataType::Float64 => 20,
                DataType::Decimal128(p, _) => *p as usize + 2,
                DataType::Date32 => 10,
                DataType::Timestamp(_, _) => 23,
                _ => 30,
            };
            by_type.max(f.name().chars().count())
        })
        .collect()
}

/// The text of each cell of row `row`.
pub(crate) fn cells(batch: &ChangeBatch, row: usize) -> Vec<String> {
    batch
        .data
        .columns()
        .iter()
        .map(|c| {
            if c.is_null(row) {
                return "<NULL>".to_string();
            }
            let mut s = String::new();
            eddy::text::write_value(&mut s, c.as_ref(), row);
            s
        })
        .collect()
}

/// A tableau line: `op` and the cells, right-aligned, cut to their width.
fn tableau_line(op: &str, cells: &[String], widths: &[usize]) -> String {
    let mut line = format!("| {op:>2} ");
    for (c, w) in cells.iter().zip(widths) {
        let text = if c.chars().count() > *w {
            c.chars().take(w.saturating_sub(3)).collect::<String>() + "..."
        } else {
            c.clone()
        };
        line.push_str(&format!("| {text:>w$} ", w = *w));
    }
    line.push('|');
    line
}

fn tableau_border(widths: &[usize]) -> String {
    let mut line = String::from("+----");
    for w in widths {
        line.push_str(&format!("+{}", "-".repeat(w + 2)));
    }
    line.push('+');
    line
}

/// The header of a tableau.
pub fn tableau_header(schema: &SchemaRef) -> Vec<String> {
    let widths = widths(schema);
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let border = tableau_border(&widths);
    vec![border.clone(), tableau_line("op", &names, &widths), border]
}

/// A materialized result: rows in arrival order with their counts.
#[derive(Default)]
pub(crate) struct Materialized {
    rows: Vec<Vec<String>>,
    index: HashMap<Vec<String>, usize>,
    counts: Vec<i64>,
}

impl Materialized {
    pub(crate) fn apply(&mut self, kind: RowKind, row: Vec<String>) {
        let i = match self.index.get(&row) {
            Some(i) => *i,
            None => {
                self.index.insert(row.clone(), self.rows.len());
                self.rows.push(row);
                self.counts.push(0);
                self.rows.len() - 1
            }
        };
        self.counts[i] += if kind.is_addition() { 1 } else { -1 };
    }

    pub(crate) fn current(&self) -> Vec<&Vec<String>> {
        self.rows
            .iter()
            .zip(&self.counts)
            .flat_map(|(r, n)| std::iter::repeat_n(r, (*n).max(0) as usize))
            .collect()
    }
}

/// Shows the changes `rx` receives from `job` until it ends or Ctrl-C.
pub async fn show(
    job: JobHandle,
    mut rx: mpsc::Receiver<ChangeBatch>,
    mode: Mode,
) -> Result<(), String> {
    let canceller = job.canceller();
    let metrics = job.metrics().clone();
    let started = Instant::now();
    let status = |received: u64| {
        let stats = metrics.stats();
        let watermark = crate::jobs::watermark_text(stats.watermark);
        let progress = stats
            .progress
            .map(|(done, total)| format!(" ({}% of the input)", done * 100 / total))
            .unwrap_or_default();
        format!(
            "rows read: {}{progress} · changes: {received} · watermark: {watermark} · {:.1} s",
            stats.rows_read,
            started.elapsed().as_secs_f64()
        )
    };
    if mode == Mode::Table && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return crate::screen::show(job, rx, status).await;
    }
    let mut out = std::io::stdout();
    let mut widths: Option<Vec<usize>> = None;
    let mut received = 0u64;
    let mut table = Materialized::default();
    let mut drawn_lines = 0usize;
    let mut last_draw = Instant::now() - Duration::from_secs(1);
    let mut schema = None;
    let mut interrupted = false;
    // The status line also moves while no change arrives (a long bounded
    // query that emits at its end).
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        let batch = tokio::select! {
            b = rx.recv() => b,
            _ = tick.tick(), if mode == Mode::Table => {
                if let Some(s) = &schema {
                    drawn_lines = redraw(&mut out, s, &table, drawn_lines, &status(received));
                } else {
                    let _ = write!(out, "\r\x1b[2K{}", status(received));
                    let _ = out.flush();
                }
                continue;
            }
            _ = tokio::signal::ctrl_c() => {
                canceller.cancel();
                interrupted = true;
                None
            }
        };
        let Some(batch) = batch else {
            break;
        };
        if schema.is_none() {
            schema = Some(batch.data.schema());
        }
        match mode {
            Mode::Changelog => {
                for line in eddy::text::change_lines(&batch) {
                    let _ = writeln!(out, "{line}");
                }
            }
            Mode::Tableau => {
                let w = widths.get_or_insert_with(|| {
                    let s = batch.data.schema();
                    for line in tableau_header(&s) {
                        let _ = writeln!(out, "{line}");
                    }
                    self::widths(&s)
                });
                for row in 0..batch.num_rows() {
                    let _ = writeln!(
                        out,
                        "{}",
                        tableau_line(batch.kind(row).short(), &cells(&batch, row), w)
                    );
                }
            }
            Mode::Table => {
                for row in 0..batch.num_rows() {
                    table.apply(batch.kind(row), cells(&batch, row));
                }
                if last_draw.elapsed() >= Duration::from_millis(200) {
                    let line = status(received + batch.num_rows() as u64);
                    drawn_lines =
                        redraw(&mut out, &batch.data.schema(), &table, drawn_lines, &line);
                    last_draw = Instant::now();
                }
            }
        }
        received += batch.num_rows() as u64;
        let _ = out.flush();
    }
    let outcome = job.wait().await;
    if mode == Mode::Table
        && let Some(s) = &schema
    {
        let line = status(received);
        redraw(&mut out, s, &table, drawn_lines, &line);
    }
    if mode == Mode::Tableau {
        match &widths {
            Some(w) => {
                let _ = writeln!(out, "{}", tableau_border(w));
                let _ = writeln!(
                    out,
                    "Received a total of {received} row{}",
                    plural(received)
                );
            }
            None => {
                let _ = writeln!(out, "Empty set");
            }
        }
    }
    let _ = out.flush();
    if interrupted {
        eprintln!(
            "[INFO] Query stopped after {:.1} s ({received} change{}).",
            started.elapsed().as_secs_f64(),
            plural(received)
        );
    }
    match outcome {
        Ok(_) | Err(EngineError::Cancelled) => Ok(()),
        Err(e) => Err(format!(
            "[ERROR] Could not execute SQL statement. Reason:\n{e}"
        )),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Rows the `table` mode shows at most.
const TABLE_ROWS: usize = 30;

/// Redraws the materialized table and the `status` line under it over
/// the `drawn` lines drawn before; returns how many lines it drew.
fn redraw(
    out: &mut impl Write,
    schema: &SchemaRef,
    table: &Materialized,
    drawn: usize,
    status: &str,
) -> usize {
    if drawn > 0 {
        // Up to the first line drawn, then clear to the end of the screen.
        let _ = write!(out, "\x1b[{drawn}F\x1b[J");
    }
    let header: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let current = table.current();
    let rows: Vec<Vec<String>> = current
        .iter()
        .take(TABLE_ROWS)
        .map(|r| (*r).clone())
        .collect();
    let mut text = crate::script::render_table(&header, &rows);
    if current.len() > TABLE_ROWS {
        text = text.replace(
            &format!("{} rows in set\n", rows.len()),
            &format!(
                "{} rows in set (the first {TABLE_ROWS} shown)\n",
                current.len()
            ),
        );
    }
    let _ = writeln!(out, "{text}{status}");
    let _ = out.flush();
    text.lines().count() + 1
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use eddy::arrow::array::{Int64Array, StringArray};
    use eddy::arrow::datatypes::{Field, Schema};
    use eddy::arrow::record_batch::RecordBatch;

    use super::*;

    fn batch() -> ChangeBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("cnt", DataType::Int64, true),
        ]));
        let data = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![Some("Alice"), None])),
                Arc::new(Int64Array::from(vec![1, 2])),
            ],
        )
        .expect("batch");
        ChangeBatch::with_kinds(data, eddy::arrow::array::Int8Array::from(vec![0, 2]))
    }

    #[test]
    fn tableau_rows_carry_the_op_column_right_aligned() {
        let b = batch();
        let w = widths(&b.data.schema());
        assert_eq!(
            tableau_header(&b.data.schema())[1],
            "| op |                           name |                  cnt |"
        );
        assert_eq!(
            tableau_line("+U", &cells(&b, 1), &w),
            "| +U |                         <NULL> |                    2 |"
        );
    }

    #[test]
    fn the_materialized_table_applies_retractions() {
        let mut t = Materialized::default();
        t.apply(RowKind::Insert, vec!["a".into()]);
        t.apply(RowKind::Insert, vec!["b".into()]);
        t.apply(RowKind::UpdateBefore, vec!["a".into()]);
        t.apply(RowKind::UpdateAfter, vec!["c".into()]);
        assert_eq!(
            t.current(),
            [&vec!["b".to_string()], &vec!["c".to_string()]]
        );
    }
}
