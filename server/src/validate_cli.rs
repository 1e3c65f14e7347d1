//! `mortar validate FILE...` and `mortar schema`.

use std::io::Write;
use std::process::ExitCode;

use engine::flow::Severity;

use crate::config::ValidateArgs;

/// Prints `file:line:col: message` for every problem of every file
/// (warnings say so); exit status 1 if any file has an error.
pub fn validate_main(args: &ValidateArgs) -> ExitCode {
    // Written through a lock and errors ignored: `mortar validate | head`
    // must not panic on a closed pipe.
    let mut out = std::io::stdout().lock();
    let mut errors = 0;
    for file in &args.files {
        let source = match std::fs::read_to_string(file) {
            Ok(source) => source,
            Err(error) => {
                let _ = writeln!(out, "{}: cannot read: {error}", file.display());
                errors += 1;
                continue;
            }
        };
        for problem in engine::flow::parse(&source).problems {
            let kind = if problem.severity == Severity::Warning {
                "warning: "
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "{}:{}:{}: {kind}{}",
                file.display(),
                problem.line,
                problem.column,
                problem.message
            );
            if problem.severity == Severity::Error {
                errors += 1;
            }
        }
    }
    if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Prints the JSON Schema of a flow.
pub fn schema_main() -> ExitCode {
    match serde_json::to_string_pretty(&engine::flow::schema()) {
        Ok(text) => {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("mortar: cannot print the schema: {error}");
            ExitCode::FAILURE
        }
    }
}
