//! The `eddy` command: the interactive SQL shell, or Flink SQL scripts
//! (`-f`) and single statements (`-e`).

mod helper;
mod jobs;
mod repl;
mod results;
mod screen;
mod script;

use std::process::ExitCode;

/// mimalloc: streaming state is many small allocations, which glibc's
/// allocator serves slowly (a fifth of Nexmark q18's time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "\
eddy — a streaming SQL engine that speaks Flink SQL

Usage:
  eddy                     the interactive shell
  eddy -i <init.sql>       run a script, then the interactive shell
  eddy -f <script.sql>     run a script's statements in order
  eddy -e \"<statement>\"    run one statement
  eddy --help | --version

A script's query results are printed as Flink prints a changelog
(+I[..], -U[..]). Ctrl-C stops running jobs.";

/// What the command line asks for.
enum Command {
    Shell(Option<(String, String)>),
    Script(String, String),
}

fn read(path: &str) -> Result<String, ExitCode> {
    std::fs::read_to_string(path).map_err(|e| {
        eprintln!("[ERROR] Cannot read {path}: {e}");
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match args.as_slice() {
        [] => Command::Shell(None),
        [flag, path] if flag == "-i" || flag == "--init" => match read(path) {
            Ok(t) => Command::Shell(Some((path.clone(), t))),
            Err(code) => return code,
        },
        [flag, path] if flag == "-f" || flag == "--file" => match read(path) {
            Ok(t) => Command::Script(path.clone(), t),
            Err(code) => return code,
        },
        [flag, sql] if flag == "-e" || flag == "--execute" => {
            Command::Script("<command line>".to_string(), sql.clone())
        }
        [flag] if flag == "--version" || flag == "-V" => {
            println!("eddy {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        [flag] if flag == "--help" || flag == "-h" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("[ERROR] Cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match command {
        Command::Shell(init) => repl::run(runtime, init),
        Command::Script(source, text) => runtime.block_on(script::run(&source, &text)),
    }
}
