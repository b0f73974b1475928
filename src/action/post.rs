//! `hybrid-e2e action post`: the post step, in a fresh container at the end of the job. It reads
//! what the main step saved (`STATE_cluster_name`, `STATE_preserve`, `STATE_outcome`,
//! `STATE_kubeconfig`) and deletes the cluster unless `preserve` keeps it. Teardown problems are
//! warnings: the job's result is the main step's.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::ValueEnum as _;

use crate::config::Preserve;
use crate::exec::{self, ProcessSpec};
use crate::report::workflow::{self, AnnotationLevel, AnnotationProperties};
use crate::tools::Kind;

/// How long `kind delete cluster` may take.
const DELETE_TIMEOUT: Duration = Duration::from_secs(180);

/// How the main step ended (`STATE_outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failure,
    Cancelled,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// Anything else (no outcome: the main step died before the end) counts as a failure.
    pub(crate) fn parse(text: Option<&str>) -> Outcome {
        match text.map(str::trim) {
            Some("success") => Outcome::Success,
            Some("cancelled") => Outcome::Cancelled,
            _ => Outcome::Failure,
        }
    }
}

/// What the post step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// No cluster was made.
    Nothing,
    Keep {
        cluster: String,
        reason: String,
    },
    Delete {
        cluster: String,
    },
}

/// The state the main step saved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SavedState {
    /// The main step's `command` (absent from a main step before this was saved: `run`).
    pub(crate) command: Option<String>,
    pub(crate) cluster_name: Option<String>,
    pub(crate) preserve: Option<String>,
    pub(crate) outcome: Option<String>,
    pub(crate) kubeconfig: Option<String>,
}

impl SavedState {
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> SavedState {
        let get = |name: &str| lookup(&format!("STATE_{name}")).filter(|value| !value.trim().is_empty());
        SavedState {
            command: get("command"),
            cluster_name: get("cluster_name"),
            preserve: get("preserve"),
            outcome: get("outcome"),
            kubeconfig: get("kubeconfig"),
        }
    }
}

/// Delete or keep, per `preserve` (`on-failure` when unreadable) and the main step's outcome.
pub(crate) fn decide(state: &SavedState) -> Decision {
    let Some(cluster) = state.cluster_name.clone() else {
        return Decision::Nothing;
    };
    let preserve = state
        .preserve
        .as_deref()
        .and_then(|text| Preserve::from_str(text.trim(), true).ok())
        .unwrap_or_default();
    let outcome = Outcome::parse(state.outcome.as_deref());
    let reason = match (preserve, outcome) {
        (Preserve::Never, _) | (Preserve::OnFailure, Outcome::Success) => return Decision::Delete { cluster },
        (Preserve::Always, _) => "preserve: always".to_owned(),
        (Preserve::OnFailure, outcome) => {
            format!("preserve: on-failure, and the main step ended: {}", outcome.as_str())
        }
    };
    Decision::Keep { cluster, reason }
}

/// A warning annotation on the job (the post step's problems are never failures).
fn warning(message: &str) {
    let properties = AnnotationProperties {
        title: Some("hybrid-e2e teardown".to_owned()),
        ..AnnotationProperties::default()
    };
    print!(
        "{}",
        workflow::annotation(AnnotationLevel::Warning, &properties, message)
    );
}

/// The post step. Always exits 0: a teardown problem is a warning, never the job's failure.
pub(crate) fn main() -> ExitCode {
    let state = SavedState::from_lookup(|name| std::env::var(name).ok());
    match decide(&state) {
        Decision::Nothing => match state.command.as_deref().map(str::trim) {
            Some(command) if command != "run" => {
                eprintln!(
                    "hybrid-e2e: nothing to tear down after `command: {command}` (the post step of the `run` step deletes its cluster)"
                );
            }
            _ => eprintln!("hybrid-e2e: no cluster was created: nothing to tear down"),
        },
        Decision::Keep { cluster, reason } => {
            eprintln!("hybrid-e2e: Kind cluster `{cluster}` kept ({reason}); it lives until the runner goes away");
        }
        Decision::Delete { cluster } => {
            if let Err(problem) = delete(&cluster) {
                warning(&format!("deleting Kind cluster `{cluster}` failed: {problem}"));
                return ExitCode::SUCCESS;
            }
            eprintln!("hybrid-e2e: deleted Kind cluster `{cluster}`");
            // Its credentials are useless now; later post steps must not find them.
            if let Some(kubeconfig) = &state.kubeconfig {
                let path = PathBuf::from(kubeconfig);
                let internal = PathBuf::from(format!("{kubeconfig}.internal"));
                for file in [path, internal] {
                    let _ = std::fs::remove_file(file);
                }
            }
        }
    }
    ExitCode::SUCCESS
}

/// `kind delete cluster --name NAME`, with a timeout.
fn delete(cluster: &str) -> Result<(), String> {
    let kind = Kind::new(None);
    let spec: ProcessSpec = kind.command().args(["delete", "cluster", "--name", cluster]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    match runtime.block_on(exec::capture(&spec, DELETE_TIMEOUT)) {
        Ok((true, _, _)) => Ok(()),
        Ok((false, _, stderr)) => Err(format!(
            "`{}`: {}",
            spec.display(),
            stderr.lines().last().unwrap_or("failed")
        )),
        Err(error) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(preserve: Option<&str>, outcome: Option<&str>) -> SavedState {
        SavedState {
            command: Some("run".to_owned()),
            cluster_name: Some("hybrid-e2e-1a2b".to_owned()),
            preserve: preserve.map(str::to_owned),
            outcome: outcome.map(str::to_owned),
            kubeconfig: None,
        }
    }

    #[test]
    fn preserve_and_outcome_decide() {
        let delete = Decision::Delete {
            cluster: "hybrid-e2e-1a2b".to_owned(),
        };
        assert_eq!(decide(&state(Some("never"), Some("failure"))), delete);
        assert_eq!(decide(&state(Some("on-failure"), Some("success"))), delete);
        assert!(matches!(
            decide(&state(Some("on-failure"), Some("failure"))),
            Decision::Keep { .. }
        ));
        assert!(matches!(
            decide(&state(Some("on-failure"), Some("cancelled"))),
            Decision::Keep { .. }
        ));
        assert!(matches!(
            decide(&state(Some("always"), Some("success"))),
            Decision::Keep { .. }
        ));
        // The main step died before saving its outcome: a failure.
        assert!(matches!(
            decide(&state(Some("on-failure"), None)),
            Decision::Keep { .. }
        ));
        // An unreadable policy is the default, on-failure.
        assert_eq!(decide(&state(Some("sometimes"), Some("success"))), delete);
        assert_eq!(decide(&SavedState::default()), Decision::Nothing);
    }

    #[test]
    fn state_comes_from_state_variables() {
        let saved = SavedState::from_lookup(|name| match name {
            "STATE_cluster_name" => Some("c".to_owned()),
            "STATE_preserve" => Some("never".to_owned()),
            "STATE_outcome" => Some(" ".to_owned()),
            _ => None,
        });
        assert_eq!(saved.cluster_name.as_deref(), Some("c"));
        assert_eq!(saved.outcome, None);
        assert_eq!(
            decide(&saved),
            Decision::Delete {
                cluster: "c".to_owned()
            }
        );
    }
}
