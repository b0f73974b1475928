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
use crate::triage::TierInput;

pub(crate) fn report(
    args: ReportArgs,
    config_path: Option<&Path>,
    printer: &Printer,
) -> Result<ExitCode, ExpectedError> {
    if !args.junit.is_empty() || args.triage {
        return triage(args, config_path, printer);
    }
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

/// `report --junit TIER=PATH … | --triage`: the cross-tier triage document.
fn triage(args: ReportArgs, config_path: Option<&Path>, printer: &Printer) -> Result<ExitCode, ExpectedError> {
    let mut tiers: Vec<TierInput> = Vec::new();
    let mut add = |name: &str, files: Vec<PathBuf>| match tiers.iter_mut().find(|tier| tier.name == name) {
        Some(tier) => tier.files.extend(files),
        None => tiers.push(TierInput {
            name: name.to_owned(),
            files,
        }),
    };
    if args.triage {
        let config = LoadedConfig::load(args.config.path.as_deref().or(config_path))?;
        if config.path.is_none() {
            return Err(ExpectedError::Usage(
                "--triage reads the `tiers:` of hybrid-e2e.yaml, and there is none here (give --config PATH, or --junit TIER=PATH)".to_owned(),
            ));
        }
        if config.file.tiers.is_empty() {
            return Err(ExpectedError::Usage(
                "--triage: the config has no `tiers:` section (or give --junit TIER=PATH)".to_owned(),
            ));
        }
        for (name, entries) in &config.file.tiers {
            let files = entries
                .iter()
                .flat_map(|entry| expand(&config.resolve(entry)))
                .collect();
            add(name, files);
        }
    }
    for value in &args.junit {
        let Some((name, path)) = value
            .split_once('=')
            .filter(|(name, path)| !name.is_empty() && !path.is_empty())
        else {
            return Err(ExpectedError::Usage(format!(
                "--junit `{value}`: write TIER=PATH, e.g. --junit unit=reports/unit.xml"
            )));
        };
        add(name, expand(Path::new(path)));
    }
    let runtime = runtime()?;
    let root = runtime
        .block_on(pipeline::repository_root())
        .or_else(|| std::env::current_dir().ok());
    let triage = crate::triage::triage(&tiers, root.as_deref());
    let markdown = crate::triage::render(&triage);
    let out_dir = args.output.unwrap_or_else(|| PathBuf::from("hybrid-e2e-triage"));
    let write = |name: &str, text: &str| {
        let path = out_dir.join(name);
        std::fs::create_dir_all(&out_dir)
            .and_then(|()| std::fs::write(&path, text))
            .map_err(|source| ExpectedError::WriteOutput {
                path: path.clone(),
                source,
            })
            .map(|()| path)
    };
    let mut json = serde_json::to_string_pretty(&triage).unwrap_or_default();
    json.push('\n');
    let files = [write("triage.md", &markdown)?, write("triage.json", &json)?];
    let github = match args.github {
        GithubMode::Auto => printer.github,
        GithubMode::Always => true,
        GithubMode::Never => false,
    };
    let mut err = printer.stderr();
    if github && let Err(warning) = crate::report::github::append("GITHUB_STEP_SUMMARY", &markdown) {
        let _ = writeln!(err, "warning: {warning}");
    }
    for file in &files {
        let _ = writeln!(err, "wrote {}", file.display());
    }
    let _ = writeln!(err, "triage: {}", triage.verdict);
    Ok(ExitCode::from(exit_codes::OK))
}

/// A path, or the files a glob matches; a path that does not exist stays (the triage says it
/// cannot be read).
fn expand(path: &Path) -> Vec<PathBuf> {
    let files = crate::files::expand_glob(path);
    if files.is_empty() && !crate::files::is_glob(&path.to_string_lossy()) {
        vec![path.to_owned()]
    } else {
        files
    }
}
