//! The `kind` CLI.

use super::QUERY_TIMEOUT;
use super::engine::EngineKind;
use crate::exec::{self, ExecError, ProcessSpec};

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

    /// The node containers of cluster `name` (`kind get nodes`).
    pub(crate) async fn nodes(&self, name: &str) -> Result<Vec<String>, String> {
        match exec::capture(&self.command().args(["get", "nodes", "--name", name]), QUERY_TIMEOUT).await {
            Ok((true, stdout, _)) => Ok(stdout
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(str::to_owned)
                .collect()),
            Ok((false, stdout, stderr)) => Err(format!(
                "`kind get nodes --name {name}` failed: {}{stderr}",
                stdout.trim()
            )),
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
