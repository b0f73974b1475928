//! What `run`, `plan`, `doctor` and `cleanup` share: per-run overrides from flags and
//! `HYBRID_E2E_*` variables, and where the check run goes.

use crate::cli::{DiskArgs, NamingArgs, PublishArgs, SetupArgs};
use crate::plan::Overrides;
use crate::report::checks::CheckTarget;

/// The overrides naming the engine, the cluster and the report directory.
pub(super) fn naming(args: &NamingArgs) -> Overrides {
    Overrides {
        engine: args.engine,
        cluster_name: args.cluster_name.clone(),
        report_dir: args.report_dir.clone(),
        ..Overrides::default()
    }
}

/// Every override `run` and `plan` take.
pub(super) fn overrides(args: &SetupArgs) -> Overrides {
    Overrides {
        preserve: args.preserve,
        tag_suffix: args.tag_suffix.clone().filter(|suffix| !suffix.is_empty()),
        concurrency: args.concurrency.map(|concurrency| concurrency as usize),
        apply_concurrency: args.apply_concurrency.map(|concurrency| concurrency as usize),
        poll_interval: args.poll_interval,
        mode: args.mode,
        history: args.history.clone(),
        ..naming(&args.naming)
    }
}

/// `--min-free-disk` in bytes.
pub(super) fn min_free_disk(args: &DiskArgs) -> u64 {
    (args.min_free_disk * 1_073_741_824.0) as u64
}

/// The check run to publish, when publishing to GitHub with a token and a repository.
pub(super) fn check_target(args: &PublishArgs, github: bool) -> Option<CheckTarget> {
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
