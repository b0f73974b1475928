//! The external tools a run drives: the container engine and kind. Their programs can be
//! overridden (`HYBRID_E2E_DOCKER`, `HYBRID_E2E_PODMAN`, `HYBRID_E2E_KIND`), which is also how
//! the tests put a fake `kind` in place.

use std::time::Duration;

use crate::config::EngineChoice;
use crate::exec::{self, ExecError, ProcessSpec};

/// How long a version or status query may take.
pub(crate) const QUERY_TIMEOUT: Duration = Duration::from_secs(20);

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
pub(crate) struct Engine {
    pub(crate) kind: EngineKind,
    pub(crate) program: String,
    pub(crate) version: String,
}

impl Engine {
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

async fn probe(kind: EngineKind) -> Result<Engine, String> {
    let program = program(kind);
    // `version` asks the daemon/service too, so a docker CLI without a daemon fails here.
    let spec = ProcessSpec::new(&program).args(["version", "--format", "{{.Server.Version}}"]);
    match exec::query(&spec, QUERY_TIMEOUT).await {
        Ok((true, version)) if !version.is_empty() => Ok(Engine { kind, program, version }),
        Ok((_, output)) => Err(format!(
            "`{program} version` failed: {}",
            output.lines().last().unwrap_or("no output")
        )),
        Err(ExecError::NotFound { .. }) => Err(format!("`{program}` is not installed")),
        Err(error) => Err(error.to_string()),
    }
}

/// Find the engine: `auto` takes Docker when its daemon answers, else Podman.
pub(crate) async fn detect_engine(choice: EngineChoice) -> Result<Engine, EngineProblem> {
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

/// The `kind` CLI.
#[derive(Debug, Clone)]
pub(crate) struct Kind {
    pub(crate) program: String,
    /// `KIND_EXPERIMENTAL_PROVIDER=podman` for every call when the engine is Podman.
    pub(crate) provider: Option<&'static str>,
}

impl Kind {
    pub(crate) fn new(engine: Option<EngineKind>) -> Kind {
        let program = std::env::var("HYBRID_E2E_KIND")
            .ok()
            .filter(|value| !value.is_empty())
            .unwrap_or_else(|| "kind".to_owned());
        Kind {
            program,
            provider: (engine == Some(EngineKind::Podman)).then_some("podman"),
        }
    }

    pub(crate) fn command(&self) -> ProcessSpec {
        let spec = ProcessSpec::new(&self.program);
        match self.provider {
            Some(provider) => spec.env("KIND_EXPERIMENTAL_PROVIDER", provider),
            None => spec,
        }
    }

    /// `kind version`, e.g. `kind v0.32.0 go1.25 linux/amd64`.
    pub(crate) async fn version(&self) -> Result<String, String> {
        match exec::query(&self.command().arg("version"), QUERY_TIMEOUT).await {
            Ok((true, version)) => Ok(version),
            Ok((false, output)) => Err(format!("`{} version` failed: {output}", self.program)),
            Err(ExecError::NotFound { .. }) => Err(format!("`{}` is not installed (not found on PATH)", self.program)),
            Err(error) => Err(error.to_string()),
        }
    }

    /// The clusters that exist.
    pub(crate) async fn clusters(&self) -> Result<Vec<String>, String> {
        match exec::query(&self.command().args(["get", "clusters"]), QUERY_TIMEOUT).await {
            Ok((true, output)) => Ok(output
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with("No kind clusters"))
                .map(str::to_owned)
                .collect()),
            Ok((false, output)) => Err(output),
            Err(error) => Err(error.to_string()),
        }
    }
}
