//! `run`, `plan`, `doctor` and `cleanup`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{CleanupArgs, GithubMode, PlanArgs, PlanFormat, PublishArgs, ReportArgs, RunArgs, SetupArgs};
use crate::config::LoadedConfig;
use crate::errors::{ExpectedError, exit_codes};
use crate::exec::{self, ProcessSpec};
use crate::report::checks::CheckTarget;
use crate::report::{github, publish};
use crate::setup::plan::{Overrides, Plan, new_run_id};
use crate::setup::preflight::{self, CheckStatus};
use crate::setup::run::{RunOptions, run_blocking};
use crate::setup::tools::{self, Kind};
use crate::timing::{FailureClass, RunRecord, Status};

fn overrides(args: &SetupArgs) -> Overrides {
    Overrides {
        engine: args.engine,
        preserve: args.preserve,
        cluster_name: args.cluster_name.clone(),
        tag_suffix: args.tag_suffix.clone().filter(|suffix| !suffix.is_empty()),
        report_dir: args.report_dir.clone(),
        concurrency: args.concurrency.map(|concurrency| concurrency as usize),
        apply_concurrency: args.apply_concurrency.map(|concurrency| concurrency as usize),
        poll_interval: args.poll_interval,
    }
}

fn min_free_disk(args: &SetupArgs) -> u64 {
    (args.min_free_disk.max(0.0) * 1_073_741_824.0) as u64
}

/// The exit code a finished run maps to.
pub(crate) fn run_exit_code(record: &RunRecord, fail_on_target: bool) -> u8 {
    match record.status {
        Status::Ok | Status::Skipped => exit_codes::OK,
        Status::OverTarget if fail_on_target => exit_codes::TARGETS_EXCEEDED,
        Status::OverTarget => exit_codes::OK,
        Status::Cancelled => exit_codes::CANCELLED,
        Status::Failed => match record.failure_class {
            Some(FailureClass::Application) => exit_codes::SETUP_FAILED,
            _ => exit_codes::INFRASTRUCTURE,
        },
    }
}

pub(crate) fn run(
    args: RunArgs,
    config_path: Option<&Path>,
    verbose: bool,
    quiet: bool,
) -> Result<ExitCode, ExpectedError> {
    let config = LoadedConfig::load(config_path)?;
    let plan = Plan::new(&config, &overrides(&args.setup), new_run_id());
    let options = RunOptions {
        plan,
        lint_levels: super::lint::levels(&config, &[]),
        min_free_disk: min_free_disk(&args.setup),
        verbose,
        quiet,
        extra_reporters: Vec::new(),
    };
    let report_dir = options.plan.report_dir.clone();
    let outcome = run_blocking(options).map_err(|source| ExpectedError::Runtime { source })?;
    if let Some(error) = &outcome.timings_error {
        let _ = writeln!(anstream::stderr(), "error: {error}");
        return Ok(ExitCode::from(exit_codes::INFRASTRUCTURE));
    }
    let records = [outcome.record];
    let in_actions = github::in_actions();
    let check = check_target(&args.publish, in_actions);
    match publish::publish(&records, &report_dir, in_actions, args.fail_on_target, check) {
        Ok(published) => {
            for warning in published.warnings {
                let _ = writeln!(anstream::stderr(), "warning: {warning}");
            }
        }
        Err(error) => {
            let _ = writeln!(anstream::stderr(), "error: {error}");
            return Ok(ExitCode::from(exit_codes::INFRASTRUCTURE));
        }
    }
    Ok(ExitCode::from(run_exit_code(&records[0], args.fail_on_target)))
}

pub(crate) fn plan(args: PlanArgs, config_path: Option<&Path>) -> Result<ExitCode, ExpectedError> {
    let config = LoadedConfig::load(config_path)?;
    let plan = Plan::new(&config, &overrides(&args.setup), new_run_id());
    let text = match args.format {
        PlanFormat::Text => plan.render_text(),
        PlanFormat::Json => serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n",
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(ExitCode::from(exit_codes::OK))
}

/// The check run to publish, when publishing to GitHub with a token and a repository.
fn check_target(args: &PublishArgs, github: bool) -> Option<CheckTarget> {
    if !github || args.no_check_run {
        return None;
    }
    CheckTarget::from_env(
        args.github_token.clone(),
        &args.check_name,
        args.check_run_id,
        args.commit.clone(),
    )
}

fn runtime() -> Result<tokio::runtime::Runtime, ExpectedError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ExpectedError::Runtime { source })
}

pub(crate) fn doctor(args: SetupArgs, config_path: Option<&Path>) -> Result<ExitCode, ExpectedError> {
    let config = LoadedConfig::load(config_path)?;
    let plan = Plan::new(&config, &overrides(&args), new_run_id());
    let levels = super::lint::levels(&config, &[]);
    let result = runtime()?.block_on(preflight::run(&plan, min_free_disk(&args), &levels));
    let mut out = anstream::stdout();
    for check in &result.checks {
        let (mark, style) = match check.status {
            CheckStatus::Pass => ("ok  ", anstyle::AnsiColor::Green.on_default().bold()),
            CheckStatus::Warn => ("warn", anstyle::AnsiColor::Yellow.on_default().bold()),
            CheckStatus::Fail => ("FAIL", anstyle::AnsiColor::Red.on_default().bold()),
        };
        let _ = writeln!(
            out,
            "{style}{mark}{style:#} {:<13} {}",
            check.name,
            check.detail.replace('\n', "\n                   ")
        );
        if check.status != CheckStatus::Pass
            && let Some(hint) = &check.hint
        {
            let _ = writeln!(out, "                   hint: {hint}");
        }
    }
    Ok(ExitCode::from(if result.failed() {
        exit_codes::INFRASTRUCTURE
    } else {
        exit_codes::OK
    }))
}

/// What a previous run recorded in its report directory.
fn last_run(report_dir: &Path) -> Option<RunRecord> {
    serde_json::from_str(&std::fs::read_to_string(report_dir.join("timings.json")).ok()?).ok()
}

pub(crate) fn cleanup(args: CleanupArgs, config_path: Option<&Path>) -> Result<ExitCode, ExpectedError> {
    let config = LoadedConfig::load(config_path)?;
    let plan = Plan::new(&config, &overrides(&args.setup), new_run_id());
    let runtime = runtime()?;
    let previous = last_run(&plan.report_dir);
    let engine = runtime.block_on(tools::detect_engine(plan.engine)).ok();
    let kind = Kind::new(engine.as_ref().map(|engine| engine.kind));
    let existing = runtime.block_on(kind.clusters()).unwrap_or_default();
    let mut clusters: Vec<String> = Vec::new();
    if let Some(record) = &previous {
        clusters.push(record.cluster_name.clone());
    }
    if config.file.cluster.name.is_some() || args.setup.cluster_name.is_some() {
        clusters.push(plan.cluster.name.clone());
    }
    if let Some(prefix) = &args.prefix {
        clusters.extend(
            existing
                .iter()
                .filter(|name| name.starts_with(prefix.as_str()))
                .cloned(),
        );
    }
    clusters.sort();
    clusters.dedup();
    clusters.retain(|name| existing.contains(name));
    let images: Vec<String> = previous
        .as_ref()
        .map(|record| record.images.clone())
        .unwrap_or_default();
    let archives: PathBuf = plan.report_dir.join("archives");
    let mut out = anstream::stdout();
    let mut failures = 0;
    let verb = if args.dry_run { "would delete" } else { "deleted" };
    for name in &clusters {
        let ok = args.dry_run
            || runtime
                .block_on(exec::query(
                    &crate::setup::cluster::delete_command(&kind, name),
                    Duration::from_secs(120),
                ))
                .is_ok_and(|(ok, _)| ok);
        failures += usize::from(!ok);
        let _ = writeln!(out, "{} cluster {name}", if ok { verb } else { "failed to delete" });
    }
    if let Some(engine) = &engine {
        for image in &images {
            let spec: ProcessSpec = engine.command().args(["image", "rm", "--force", image]);
            // An image that is already gone is not a failure.
            let removed = args.dry_run
                || runtime
                    .block_on(exec::query(&spec, tools::QUERY_TIMEOUT))
                    .is_ok_and(|(ok, _)| ok);
            if removed {
                let _ = writeln!(out, "{verb} image {image}");
            }
        }
    }
    if archives.is_dir() {
        if !args.dry_run && std::fs::remove_dir_all(&archives).is_err() {
            failures += 1;
        }
        let _ = writeln!(out, "{verb} archives {}", archives.display());
    }
    if clusters.is_empty() && images.is_empty() && !archives.is_dir() && !args.dry_run {
        let _ = writeln!(out, "nothing to clean up");
    }
    Ok(ExitCode::from(if failures > 0 {
        exit_codes::INFRASTRUCTURE
    } else {
        exit_codes::OK
    }))
}

pub(crate) fn report(args: ReportArgs, config_path: Option<&Path>) -> Result<ExitCode, ExpectedError> {
    let first = match args.dir {
        Some(dir) => dir,
        None => {
            let config = LoadedConfig::load(config_path)?;
            config.resolve(&config.file.report_dir)
        }
    };
    let merging = !args.merge.is_empty();
    let mut records = Vec::new();
    for dir in std::iter::once(&first).chain(&args.merge) {
        let path = dir.join("timings.json");
        let text = std::fs::read_to_string(&path).map_err(|source| ExpectedError::ReadReport {
            path: path.clone(),
            message: source.to_string(),
        })?;
        let record: RunRecord = serde_json::from_str(&text).map_err(|error| ExpectedError::ReadReport {
            path: path.clone(),
            message: error.to_string(),
        })?;
        records.push(record);
    }
    let out_dir = args.output.unwrap_or_else(|| {
        if merging {
            PathBuf::from("hybrid-e2e-report-merged")
        } else {
            first.clone()
        }
    });
    let github = match args.github {
        GithubMode::Auto => github::in_actions(),
        GithubMode::Always => true,
        GithubMode::Never => false,
    };
    let published = publish::publish(
        &records,
        &out_dir,
        github,
        args.fail_on_target,
        check_target(&args.publish, github),
    )
    .map_err(|error| ExpectedError::WriteOutput {
        path: error.path,
        source: error.source,
    })?;
    let mut err = anstream::stderr();
    for warning in &published.warnings {
        let _ = writeln!(err, "warning: {warning}");
    }
    for file in &published.files {
        let _ = writeln!(err, "wrote {}", file.display());
    }
    Ok(ExitCode::from(exit_codes::OK))
}
