//! What a run records about itself besides its phases: the commit, the host, every warning.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::exec::{self, ProcessSpec};
use crate::model::{Event, Reporter};

/// Collects every warning of the run for its record.
pub(super) struct WarningLog(pub(super) Arc<Mutex<Vec<String>>>);

impl Reporter for WarningLog {
    fn handle(&mut self, event: &Event<'_>) {
        if let Event::Warning { message } = event {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((*message).to_owned());
        }
    }
}

/// How long `git rev-parse` may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(5);

/// `GITHUB_SHA`, else `git rev-parse HEAD`.
pub(super) async fn commit() -> Option<String> {
    if let Ok(sha) = std::env::var("GITHUB_SHA")
        && !sha.is_empty()
    {
        return Some(sha);
    }
    let spec = ProcessSpec::new("git").args(["rev-parse", "HEAD"]);
    match exec::capture(&spec, GIT_TIMEOUT).await {
        Ok((true, stdout, _)) => Some(stdout.trim().to_owned()).filter(|sha| !sha.is_empty()),
        _ => None,
    }
}

/// The repository the run's paths are reported against: `GITHUB_WORKSPACE` in Actions (what
/// annotations are relative to), else git's top level, else `None` (paths stay as written).
pub(crate) async fn repository_root() -> Option<std::path::PathBuf> {
    if let Some(workspace) = std::env::var_os("GITHUB_WORKSPACE").filter(|value| !value.is_empty()) {
        return Some(workspace.into());
    }
    let spec = ProcessSpec::new("git").args(["rev-parse", "--show-toplevel"]);
    match exec::capture(&spec, GIT_TIMEOUT).await {
        Ok((true, stdout, _)) => {
            Some(stdout.trim().into()).filter(|root: &std::path::PathBuf| !root.as_os_str().is_empty())
        }
        _ => None,
    }
}

/// The machine's name as regression series want it: in GitHub Actions the runner's name
/// (`RUNNER_NAME`, passed into container actions too, where the host name would be a fresh
/// container id every run), else the host name.
pub(super) fn host() -> String {
    if let Ok(runner) = std::env::var("RUNNER_NAME")
        && !runner.trim().is_empty()
    {
        return runner.trim().to_owned();
    }
    nix::unistd::gethostname()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}
