//! The container engine (Docker or Podman): which one answers, and its CLI.

use super::QUERY_TIMEOUT;
use crate::config::EngineChoice;
use crate::exec::{self, ExecError, ProcessSpec};

/// The container engine in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EngineKind {
    Docker,
    Podman,
}

impl EngineKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        }
    }
}

/// A detected, answering engine.
#[derive(Debug, Clone)]
pub(crate) struct ContainerEngine {
    pub(crate) kind: EngineKind,
    pub(crate) program: String,
    pub(crate) version: String,
}

impl ContainerEngine {
    pub(crate) fn command(&self) -> ProcessSpec {
        ProcessSpec::new(&self.program)
    }
}

fn program(kind: EngineKind) -> String {
    let variable = match kind {
        EngineKind::Docker => "HYBRID_E2E_DOCKER",
        EngineKind::Podman => "HYBRID_E2E_PODMAN",
    };
    std::env::var(variable)
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| kind.as_str().to_owned())
}

/// Why no engine could be used.
#[derive(Debug, Clone)]
pub(crate) struct EngineProblem {
    pub(crate) message: String,
    pub(crate) hint: String,
}

async fn probe(kind: EngineKind) -> Result<ContainerEngine, String> {
    let program = program(kind);
    // `version` asks the daemon/service too, so a docker CLI without a daemon fails here.
    let spec = ProcessSpec::new(&program).args(["version", "--format", "{{.Server.Version}}"]);
    match exec::query(&spec, QUERY_TIMEOUT).await {
        Ok((true, version)) if !version.is_empty() => Ok(ContainerEngine { kind, program, version }),
        Ok((_, output)) => Err(format!(
            "`{program} version` failed: {}",
            output.lines().last().unwrap_or("no output")
        )),
        Err(ExecError::NotFound { .. }) => Err(format!("`{program}` is not installed")),
        Err(error) => Err(error.to_string()),
    }
}

/// Find the engine: `auto` takes Docker when its daemon answers, else Podman.
pub(crate) async fn detect_engine(choice: EngineChoice) -> Result<ContainerEngine, EngineProblem> {
    let order: &[EngineKind] = match choice {
        EngineChoice::Auto => &[EngineKind::Docker, EngineKind::Podman],
        EngineChoice::Docker => &[EngineKind::Docker],
        EngineChoice::Podman => &[EngineKind::Podman],
    };
    let mut reasons = Vec::new();
    for kind in order {
        match probe(*kind).await {
            Ok(engine) => return Ok(engine),
            Err(reason) => reasons.push(reason),
        }
    }
    Err(EngineProblem {
        message: format!("no container engine answers: {}", reasons.join("; ")),
        hint: "start the Docker daemon or install Podman (`engine:` in the config or --engine chooses one)".to_owned(),
    })
}
