//! What `run`, `plan`, `doctor` and `cleanup` share: per-run overrides from flags and
//! `HYBRID_E2E_*` variables, and where the check run goes.

use crate::cli::{PublishArgs, SetupArgs};
use crate::plan::Overrides;
use crate::report::checks::CheckTarget;

pub(super) fn overrides(args: &SetupArgs) -> Overrides {
    Overrides {
        engine: args.engine,
        preserve: args.preserve,
        cluster_name: args.cluster_name.clone(),
        tag_suffix: args.tag_suffix.clone().filter(|suffix| !suffix.is_empty()),
        report_dir: args.report_dir.clone(),
        concurrency: args.concurrency.map(|concurrency| concurrency as usize),
        apply_concurrency: args.apply_concurrency.map(|concurrency| concurrency as usize),
        poll_interval: args.poll_interval,
        mode: args.mode,
        history: args.history.clone(),
    }
}

/// `--min-free-disk` in bytes.
pub(super) fn min_free_disk(args: &SetupArgs) -> u64 {
    (args.min_free_disk.max(0.0) * 1_073_741_824.0) as u64
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
