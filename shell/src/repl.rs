//! The interactive shell: reads statements (complete at their `;`) with
//! history, completion and highlighting; shows query results live in the
//! session's result mode; runs `INSERT`s as background jobs (`SHOW JOBS`,
//! `STOP JOB '<id>'`); Ctrl-C stops a running query, Ctrl-D or `QUIT;`
//! leaves (stopping running jobs after asking).

use std::process::ExitCode;
use std::sync::Arc;

use eddy::{Outcome, Session, Statement};
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Config, Editor};
use tokio::runtime::Runtime;

use crate::helper::SqlHelper;
use crate::jobs::Jobs;
use crate::results::{self, Mode};
use crate::script::{print_error_with_names, render_table};

const BANNER: &str = "\
Eddy — streaming SQL that speaks Flink SQL.
End statements with ';'. HELP; lists the shell's commands, QUIT; leaves.";

const HELP: &str = "\
Statements end with ';' (Enter before it starts a new line).

  CREATE TABLE / VIEW, DROP, DESCRIBE t, SHOW TABLES | VIEWS | FUNCTIONS
  SELECT ...                  runs a query and shows its changes live
  INSERT INTO t SELECT ...    starts a background job; its id is printed
  SHOW JOBS                   jobs of this shell: status, rows, watermark
  STOP JOB '<id>'             stops a job
  STOP JOB '<id>' WITH SAVEPOINT
                              takes a savepoint, then stops the job
  EXPLAIN <query>             the streaming plan
  SET 'key' = 'value'; SET;   configuration ('sql-client.execution.result-mode'
                              = 'table' (full-screen; q leaves) | 'tableau'
                              | 'changelog')
  RESET 'key'; RESET;
  HELP; QUIT; (or Ctrl-D)

Tab completes keywords, tables, columns, functions and SET keys.
Ctrl-C stops a running query; at the prompt it clears the line.";

/// The shell: the session, its jobs, and the runtime they run on.
pub struct Shell {
    runtime: Runtime,
    session: Session,
    jobs: Jobs,
}

/// What the loop does after a statement.
enum Next {
    Continue,
    Quit,
}

impl Shell {
    pub fn new(runtime: Runtime) -> Self {
        Self {
            runtime,
            session: eddy::new_session(),
            jobs: Jobs::default(),
        }
    }

    /// The result mode of the session: by default `table` (full-screen)
    /// on a terminal, as in Flink's client, and `tableau` otherwise.
    fn mode(&self) -> Result<Mode, String> {
        const KEY: &str = "sql-client.execution.result-mode";
        if !self.session.is_set(KEY) && !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            return Ok(Mode::Tableau);
        }
        Mode::parse(self.session.config(KEY).unwrap_or("table"))
    }

    /// Runs the statements of `text` (from `source`); an error stops the
    /// rest and is printed with its line and a caret.
    fn run_text(&mut self, source: &str, text: &str) -> Next {
        for s in eddy::split_statements(text) {
            if let Some(next) = self.shell_command(&s.text) {
                match next {
                    Next::Quit => return Next::Quit,
                    Next::Continue => continue,
                }
            }
            let located = match eddy::parse_statement(&s) {
                Ok(l) => l,
                Err(e) => {
                    print_error_with_names(source, text, &e, &self.session.vocabulary().relations);
                    return Next::Continue;
                }
            };
            let is_query = matches!(located.statement, Statement::Query(_));
            let mode = if is_query {
                match self.mode() {
                    Ok(m) => Some(m),
                    Err(e) => {
                        eprintln!("[ERROR] {e}");
                        return Next::Continue;
                    }
                }
            } else {
                None
            };
            let (sink, rx) = eddy::table::channel_sink(16);
            let printer: Arc<dyn eddy::OperatorFactory> = Arc::new(eddy::changelog_printer());
            let sink = if is_query { sink } else { printer };
            let outcome = self.runtime.block_on(self.session.execute(&located, sink));
            for w in self.session.take_warnings() {
                eprintln!("[WARN] {w}");
            }
            match outcome {
                Err(e) => {
                    print_error_with_names(source, text, &e, &self.session.vocabulary().relations);
                    return Next::Continue;
                }
                Ok(Outcome::Done(message)) => {
                    if !message.is_empty() {
                        println!("{message}");
                    }
                }
                Ok(Outcome::Explain(plan)) => println!("{plan}"),
                Ok(Outcome::Rows { header, rows }) => print!("{}", render_table(&header, &rows)),
                Ok(Outcome::Job(job)) => match mode {
                    Some(mode) => {
                        let shown = self.runtime.block_on(results::show(job, rx, mode));
                        if let Err(e) = shown {
                            eprintln!("{e}");
                        }
                    }
                    None => {
                        let _runtime = self.runtime.enter();
                        let id = self.jobs.add(job, &s.text);
                        println!(
                            "[INFO] Submitting SQL update statement to the cluster...\n[INFO] SQL update statement has been successfully submitted to the cluster:\nJob ID: {id}"
                        );
                    }
                },
            }
        }
        Next::Continue
    }

    /// The shell's own statements: `QUIT`, `EXIT`, `HELP`, `SHOW JOBS`,
    /// `STOP JOB '<id>'`; `None` for the others.
    fn shell_command(&mut self, text: &str) -> Option<Next> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
        let upper: Vec<&str> = upper.iter().map(String::as_str).collect();
        match upper.as_slice() {
            ["QUIT"] | ["EXIT"] => Some(Next::Quit),
            ["HELP"] => {
                println!("{HELP}");
                Some(Next::Continue)
            }
            ["SHOW", "JOBS"] => {
                let (header, rows) = self.jobs.rows();
                if rows.is_empty() {
                    println!("Empty set");
                } else {
                    print!("{}", render_table(&header, &rows));
                }
                Some(Next::Continue)
            }
            ["STOP", "JOB", _, rest @ ..] => {
                let id = words[2].trim_matches(|c| c == '\'' || c == '"');
                match rest {
                    [] => match self.jobs.stop(id) {
                        Ok(m) => println!("{m}"),
                        Err(e) => eprintln!("[ERROR] {e}"),
                    },
                    ["WITH", "SAVEPOINT"] => {
                        match self.runtime.block_on(self.jobs.stop_with_savepoint(id)) {
                            Ok(path) => print!(
                                "{}",
                                render_table(&["savepoint path".to_string()], &[vec![path]])
                            ),
                            Err(e) => eprintln!("[ERROR] {e}"),
                        }
                    }
                    _ => eprintln!(
                        "[ERROR] STOP JOB '<id>' {} is not supported (STOP JOB '<id>' [WITH SAVEPOINT] is)",
                        words[3..].join(" ")
                    ),
                }
                Some(Next::Continue)
            }
            _ => None,
        }
    }

    /// Whether to leave: yes when no job runs, else the person's answer.
    fn confirm_quit(&self, editor: &mut Editor<SqlHelper, DefaultHistory>) -> bool {
        let running = self.jobs.running();
        if running == 0 {
            return true;
        }
        let question = format!(
            "{running} job{} still running; quit and stop {}? [y/N] ",
            if running == 1 { " is" } else { "s are" },
            if running == 1 { "it" } else { "them" }
        );
        matches!(editor.readline(&question), Ok(a) if a.trim().eq_ignore_ascii_case("y"))
    }
}

/// The history file: `~/.eddy_history`.
fn history_path() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".eddy_history"))
}

/// Runs the shell, after the statements of `init` (path and text) if given.
pub fn run(runtime: Runtime, init: Option<(String, String)>) -> ExitCode {
    let mut shell = Shell::new(runtime);
    // Ctrl-C is the shell's to handle (it stops queries), not the
    // process's: once tokio listens for it, it no longer ends the process.
    let listening = shell.runtime.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
    });
    if let Err(e) = listening {
        eprintln!("[WARN] Ctrl-C will end the shell: {e}");
    }
    if let Some((path, text)) = init
        && let Next::Quit = shell.run_text(&path, &text)
    {
        shell.jobs.stop_all();
        return ExitCode::SUCCESS;
    }
    let config = Config::builder()
        .auto_add_history(false)
        .max_history_size(10_000)
        .map(|b| b.build())
        .unwrap_or_default();
    let mut editor: Editor<SqlHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("[ERROR] Cannot start the line editor: {e}");
            return ExitCode::FAILURE;
        }
    };
    editor.set_helper(Some(SqlHelper {
        vocabulary: shell.session.vocabulary(),
    }));
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("{BANNER}");
    // Lines of a statement not complete yet (when the terminal cannot
    // edit, each line comes alone).
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            "eddy> "
        } else {
            "   -> "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                pending.push_str(&line);
                pending.push('\n');
                if pending.trim().is_empty() {
                    pending.clear();
                    continue;
                }
                let command = pending
                    .trim()
                    .trim_end_matches(';')
                    .trim()
                    .to_ascii_lowercase();
                if !eddy::is_complete(&pending)
                    && !["quit", "exit", "help"].contains(&command.as_str())
                {
                    continue;
                }
                let input = std::mem::take(&mut pending);
                let _ = editor.add_history_entry(input.trim_end());
                if let Some(h) = &history {
                    let _ = editor.append_history(h);
                }
                let next = shell.run_text("<input>", &input);
                if let Some(helper) = editor.helper_mut() {
                    helper.vocabulary = shell.session.vocabulary();
                }
                if let Next::Quit = next
                    && shell.confirm_quit(&mut editor)
                {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => {
                pending.clear();
                continue;
            }
            Err(ReadlineError::Eof) => {
                if shell.confirm_quit(&mut editor) {
                    break;
                }
            }
            Err(e) => {
                eprintln!("[ERROR] {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    shell.jobs.stop_all();
    println!("Bye.");
    ExitCode::SUCCESS
}
