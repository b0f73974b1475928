//! `hybrid-e2e cleanup`: delete the clusters, images and archives runs left behind.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::runtime;
use super::setup_args::naming;
use crate::cli::CleanupArgs;
use crate::config::LoadedConfig;
use crate::errors::{ExpectedError, exit_codes};
use crate::exec::{self, ProcessSpec};
use crate::model::read_run_record;
use crate::phases::cluster::delete_command;
use crate::plan::{Plan, new_run_id};
use crate::report::printer::Printer;
use crate::tools::containers::{self, PROJECT_LABEL};
use crate::tools::{self, Kind};

pub(crate) fn cleanup(
    args: CleanupArgs,
    config_path: Option<&Path>,
    printer: &Printer,
) -> Result<ExitCode, ExpectedError> {
    let config = LoadedConfig::load(args.config.path.as_deref().or(config_path))?;
    let plan = Plan::new(&config, &naming(&args.naming), new_run_id());
    let runtime = runtime()?;
    let previous = read_run_record(&plan.report_dir.join("timings.json")).ok();
    let engine = runtime.block_on(tools::detect_engine(plan.engine)).ok();
    let kind = Kind::new(engine.as_ref().map(|engine| engine.kind));
    let existing = runtime.block_on(kind.clusters()).unwrap_or_default();
    let mut clusters: Vec<String> = Vec::new();
    if let Some(record) = &previous {
        clusters.push(record.cluster_name.clone());
    }
    if config.file.cluster.name.is_some() || args.naming.cluster_name.is_some() {
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
    let mut out = String::new();
    let mut failures = 0;
    let verb = if args.dry_run { "would delete" } else { "deleted" };
    for name in &clusters {
        let ok = args.dry_run
            || runtime
                .block_on(exec::query(&delete_command(&kind, name), Duration::from_secs(120)))
                .is_ok_and(|(ok, _)| ok);
        failures += usize::from(!ok);
        let _ = writeln!(out, "{} cluster {name}", if ok { verb } else { "failed to delete" });
    }
    let mut gone = Vec::new();
    if let Some(engine) = &engine {
        for image in &images {
            // Only what exists is deleted and reported (`rm --force` succeeds on nothing).
            let inspect: ProcessSpec = engine.command().args(["image", "inspect", image]);
            let exists = runtime
                .block_on(exec::query(&inspect, tools::QUERY_TIMEOUT))
                .is_ok_and(|(ok, _)| ok);
            if !exists {
                gone.push(image.as_str());
                continue;
            }
            let remove: ProcessSpec = engine.command().args(["image", "rm", "--force", image]);
            let removed = args.dry_run
                || runtime
                    .block_on(exec::query(&remove, tools::QUERY_TIMEOUT))
                    .is_ok_and(|(ok, _)| ok);
            failures += usize::from(!removed);
            let _ = writeln!(out, "{} image {image}", if removed { verb } else { "failed to delete" });
        }
    }
    // What `services up` started in any run of this project (containers and networks, by label).
    let mut services_removed = false;
    if let Some(engine) = &engine {
        let label = format!("{PROJECT_LABEL}={}", plan.services.project);
        if args.dry_run {
            let names = runtime
                .block_on(containers::containers_with(engine, &label))
                .unwrap_or_default();
            for name in names {
                services_removed = true;
                let _ = writeln!(out, "{verb} service container {name}");
            }
        } else {
            let removed = runtime.block_on(containers::remove_labelled(engine, &label));
            for name in &removed.containers {
                let _ = writeln!(out, "{verb} service container {name}");
            }
            for name in &removed.networks {
                let _ = writeln!(out, "{verb} service network {name}");
            }
            services_removed = !removed.containers.is_empty() || !removed.networks.is_empty();
            failures += removed.errors.len();
            // A failure exits 5: say what failed, with the engine's words.
            for error in &removed.errors {
                let _ = writeln!(out, "failed to delete service resources: {error}");
            }
        }
    }
    if !gone.is_empty() {
        let _ = writeln!(
            out,
            "found nothing of {} image(s) of the last run: {}",
            gone.len(),
            gone.join(", ")
        );
    }
    let had_archives = archives.is_dir();
    if had_archives {
        if !args.dry_run && std::fs::remove_dir_all(&archives).is_err() {
            failures += 1;
        }
        let _ = writeln!(out, "{verb} archives {}", archives.display());
    }
    if clusters.is_empty() && images.len() == gone.len() && !had_archives && !services_removed {
        let _ = writeln!(out, "nothing to clean up");
    }
    super::write_stdout(printer, &out)?;
    Ok(ExitCode::from(if failures > 0 {
        exit_codes::INFRASTRUCTURE
    } else {
        exit_codes::OK
    }))
}
