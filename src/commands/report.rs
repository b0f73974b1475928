//! `hybrid-e2e report`: render or publish the reports of saved report directories.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::runtime;
use super::setup_args::check_target;
use crate::cli::{GithubMode, ReportArgs};
use crate::config::LoadedConfig;
use crate::errors::{ExpectedError, exit_codes};
use crate::model::read_run_record;
use crate::pipeline;
use crate::report::printer::Printer;
use crate::report::publish;

pub(crate) fn report(
    args: ReportArgs,
    config_path: Option<&Path>,
    printer: &Printer,
) -> Result<ExitCode, ExpectedError> {
    let first = match args.dir {
        Some(dir) => dir,
        None => {
            let config = LoadedConfig::load(args.config.path.as_deref().or(config_path))?;
            config.resolve(&config.file.report_dir)
        }
    };
    let merging = !args.merge.is_empty();
    let runtime = runtime()?;
    // Artifacts from another machine may carry absolute paths: make them relative to this
    // repository, so annotations attach.
    let root = runtime
        .block_on(pipeline::repository_root())
        .or_else(|| std::env::current_dir().ok());
    let mut records = Vec::new();
    // One unreadable directory of a merge is a warning and a note in the summary; the others
    // still render, and the exit code says the merge was partial.
    let mut unreadable = Vec::new();
    for dir in std::iter::once(&first).chain(&args.merge) {
        match read_run_record(&dir.join("timings.json")) {
            Ok(mut record) => {
                if let Some(root) = &root {
                    record.relative_to(root, root);
                }
                records.push(record);
            }
            Err(error) if merging => unreadable.push(format!("not merged: {error}")),
            Err(error) => return Err(error.into()),
        }
    }
    if records.is_empty() {
        return Err(ExpectedError::Usage(format!(
            "no report directory could be read:\n{}",
            unreadable.join("\n")
        )));
    }
    let out_dir = args.output.unwrap_or_else(|| {
        if merging {
            PathBuf::from("hybrid-e2e-report-merged")
        } else {
            first.clone()
        }
    });
    let github = match args.github {
        GithubMode::Auto => printer.github,
        GithubMode::Always => true,
        GithubMode::Never => false,
    };
    let published = runtime
        .block_on(publish::publish(
            &records,
            &unreadable,
            &out_dir,
            github,
            args.fail_on_target,
            check_target(&args.publish, github),
        ))
        .map_err(|error| ExpectedError::WriteOutput {
            path: error.path,
            source: error.source,
        })?;
    super::write_stdout(printer, &published.commands)?;
    let mut err = printer.stderr();
    for warning in &published.warnings {
        let _ = writeln!(err, "warning: {warning}");
    }
    for file in &published.files {
        let _ = writeln!(err, "wrote {}", file.display());
    }
    if let Some(url) = published.check_run_url.as_ref().filter(|_| !printer.quiet()) {
        let _ = writeln!(err, "check run: {url}");
    }
    for note in &unreadable {
        let _ = writeln!(err, "warning: {note}");
    }
    Ok(ExitCode::from(if unreadable.is_empty() {
        exit_codes::OK
    } else {
        exit_codes::REPORT_PARTIAL
    }))
}
