//! `hybrid-e2e regress`: options in, the report written, an exit code out.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use super::runtime;
use crate::cli::{GithubMode, RegressArgs};
use crate::errors::{ExpectedError, exit_codes};
use crate::regress::{
    AnalysisOptions, ApiTarget, ArtifactOptions, Cap, GroupBy, ParamFlags, RegressOptions, Verdict, load_params,
    regress as run_regress,
};
use crate::report::printer::Printer;

fn api_target(args: &RegressArgs) -> Option<ApiTarget> {
    let token = args.github_token.clone().filter(|token| !token.is_empty())?;
    let (owner, repo) = args.repo.as_deref()?.split_once('/')?;
    Some(ApiTarget {
        api_url: std::env::var("GITHUB_API_URL").unwrap_or_else(|_| "https://api.github.com".to_owned()),
        token,
        owner: owner.to_owned(),
        repo: repo.to_owned(),
        backoff: Duration::from_secs(1),
    })
}

pub(crate) fn regress(args: RegressArgs, printer: &Printer) -> Result<ExitCode, ExpectedError> {
    let flags = ParamFlags {
        window: args.window.map(|window| window as usize),
        k: args.k,
        min_ratio: args.min_ratio,
        floor_seconds: args.floor,
        consecutive: args.consecutive.map(|consecutive| consecutive as usize),
        min_runs: args.min_runs.map(|min_runs| min_runs as usize),
        no_change_point: args.no_change_point,
    };
    let params = load_params(args.params.as_deref(), &flags).map_err(ExpectedError::Usage)?;
    let group_by = GroupBy::parse(&args.group_by).map_err(ExpectedError::Usage)?;
    if !(args.stale_after_days.is_finite() && args.stale_after_days > 0.0) {
        return Err(ExpectedError::Usage(
            "--stale-after-days must be a positive number of days".to_owned(),
        ));
    }
    let github = match args.github {
        GithubMode::Auto => printer.github,
        GithubMode::Always => true,
        GithubMode::Never => false,
    };
    let options = RegressOptions {
        history_dirs: args.history.clone(),
        history_file: args.history_file.clone(),
        current_dirs: args.current.clone(),
        artifacts: args.github_artifacts.clone().map(|pattern| ArtifactOptions {
            pattern,
            workflow: args.workflow.clone().or_else(crate::regress::current_workflow),
            max_runs: args.max_runs,
            max_downloads: args.max_downloads,
        }),
        api: api_target(&args),
        branch: args.branch.clone().filter(|branch| !branch.is_empty()),
        workflow_run_id: std::env::var("GITHUB_RUN_ID").ok().and_then(|id| id.parse().ok()),
        repo_root: args.repo_root.clone().or_else(|| std::env::current_dir().ok()),
        output: args.output.clone(),
        analysis: AnalysisOptions {
            params,
            group_by,
            stale_after_days: args.stale_after_days,
            ..AnalysisOptions::default()
        },
        cap: Cap {
            runs_per_key: args.history_runs.max(1),
            max_bytes: args.history_max_mib.max(1) * 1024 * 1024,
        },
        issues: args.issues.then_some(args.max_new_issues),
        job_summary: github,
        now: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    let runtime = runtime()?;
    let outcome = runtime.block_on(run_regress(options))?;
    // Stray requests must not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    super::write_stdout(printer, &outcome.annotations)?;
    let mut err = printer.stderr();
    let skipped = outcome.document.history.skipped_total;
    if skipped > 0 {
        let _ = writeln!(
            err,
            "warning: {skipped} input(s) skipped (listed in regress.json and regress.md); first: {}: {}",
            outcome.document.history.skipped[0].source, outcome.document.history.skipped[0].reason
        );
    }
    for warning in &outcome.warnings {
        let _ = writeln!(err, "warning: {warning}");
    }
    if !printer.quiet() {
        for file in &outcome.files {
            let _ = writeln!(err, "wrote {}", file.display());
        }
        if let Some(cap) = outcome.cap {
            let _ = writeln!(
                err,
                "history file: {} run(s), {} KiB ({} dropped by the cap)",
                cap.kept,
                cap.bytes.div_ceil(1024),
                cap.dropped
            );
        }
    }
    let _ = writeln!(err, "{}", crate::regress::verdict_line(&outcome.document));
    let code = if args.fail_on_regression && outcome.document.verdict == Verdict::Regression {
        exit_codes::REGRESSION
    } else {
        exit_codes::OK
    };
    Ok(ExitCode::from(code))
}
