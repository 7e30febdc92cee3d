//! The `eddy` command: runs Flink SQL scripts (`-f`) and single statements
//! (`-e`).

mod script;

use std::process::ExitCode;

/// mimalloc: streaming state is many small allocations, which glibc's
/// allocator serves slowly (a fifth of Nexmark q18's time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "\
eddy — a streaming SQL engine that speaks Flink SQL

Usage:
  eddy -f <script.sql>     run a script's statements in order
  eddy -e \"<statement>\"    run one statement
  eddy --help | --version

Query results are printed as Flink prints a changelog (+I[..], -U[..]).
Ctrl-C stops running jobs.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (source, text) = match args.as_slice() {
        [flag, path] if flag == "-f" || flag == "--file" => match std::fs::read_to_string(path) {
            Ok(t) => (path.clone(), t),
            Err(e) => {
                eprintln!("[ERROR] Cannot read {path}: {e}");
                return ExitCode::from(2);
            }
        },
        [flag, sql] if flag == "-e" || flag == "--execute" => {
            ("<command line>".to_string(), sql.clone())
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
    runtime.block_on(script::run(&source, &text))
}
