//! The cluster phase inside a container whose engine is the host's (the GitHub container
//! action, `plan.cluster.in_container`). Kind publishes its API on the host's `127.0.0.1:PORT`,
//! which is this container's own loopback, not the host's: unreachable. So, once the cluster
//! exists: join Kind's Docker network (`docker network connect kind $SELF`, idempotent), write
//! `kind get kubeconfig --internal` (`https://<cluster>-control-plane:6443`, in the API server
//! certificate's SANs) for this run's own client, and `kind get kubeconfig` (the host's
//! `127.0.0.1:PORT`) for the job's later steps, which run on the host.

use std::path::Path;
use std::time::Duration;

use crate::exec::{self, ProcessSpec};
use crate::model::{Failure, FailureClass};
use crate::plan::{InContainer, PlannedCluster};
use crate::tools::Kind;

/// How long one `docker inspect` / `docker network connect` / `kind get kubeconfig` may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Join the network, then write both kubeconfigs. `docker` is the engine's program.
pub(super) async fn reach_from_container(
    docker: &str,
    kind: &Kind,
    cluster: &PlannedCluster,
    access: &InContainer,
    say: &mut (dyn FnMut(&str) + Send),
) -> Result<(), Failure> {
    let joined = join(docker, &access.network, &access.container).await?;
    say(&if joined {
        format!(
            "joined Docker network `{}` (container {}): the API is https://{}-control-plane:6443",
            access.network, access.container, cluster.name
        )
    } else {
        format!(
            "already on Docker network `{}` (container {})",
            access.network, access.container
        )
    });
    super::write_kubeconfig(kind, &cluster.name, true, &cluster.kubeconfig).await?;
    super::write_kubeconfig(kind, &cluster.name, false, &access.host_kubeconfig).await?;
    // Later steps run on the host as the runner's user, not as this container's root.
    make_readable(&access.host_kubeconfig);
    say(&format!(
        "kubeconfig for later steps (API at the host's 127.0.0.1): {}",
        access.host_kubeconfig.display()
    ));
    Ok(())
}

#[cfg(unix)]
fn make_readable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644));
}

#[cfg(not(unix))]
fn make_readable(_path: &Path) {}

/// The networks `container` is on (`docker inspect`).
async fn networks(docker: &str, container: &str) -> Result<Vec<String>, String> {
    let spec = ProcessSpec::new(docker).args([
        "inspect",
        "--type",
        "container",
        "--format",
        "{{json .NetworkSettings.Networks}}",
        container,
    ]);
    match exec::capture(&spec, COMMAND_TIMEOUT).await {
        Ok((true, stdout, _)) => parse_networks(&stdout),
        Ok((false, _, stderr)) => Err(stderr.lines().last().unwrap_or("failed").to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

/// The names in `docker inspect`'s `.NetworkSettings.Networks` JSON object.
fn parse_networks(json: &str) -> Result<Vec<String>, String> {
    match serde_json::from_str::<serde_json::Value>(json.trim()) {
        Ok(serde_json::Value::Object(map)) => Ok(map.keys().cloned().collect()),
        Ok(serde_json::Value::Null) => Ok(Vec::new()),
        _ => Err(format!("unexpected `docker inspect` output: {}", json.trim())),
    }
}

/// `docker network connect NETWORK CONTAINER` unless it is on it already; whether it joined now.
async fn join(docker: &str, network: &str, container: &str) -> Result<bool, Failure> {
    let fail = |message: String| {
        Failure::new(FailureClass::Infrastructure, message).hint(
            "the action joins Kind's Docker network to reach the API server; it needs the host's Docker socket (mounted by the runner)",
        )
    };
    let before = networks(docker, container)
        .await
        .map_err(|error| fail(format!("cannot inspect this container ({container}): {error}")))?;
    if before.iter().any(|name| name == network) {
        return Ok(false);
    }
    let spec = ProcessSpec::new(docker).args(["network", "connect", network, container]);
    let (ok, _, stderr) = exec::capture(&spec, COMMAND_TIMEOUT)
        .await
        .map_err(|error| fail(error.to_string()))?;
    if ok {
        return Ok(true);
    }
    // A concurrent join ("endpoint ... already exists") is as good as ours.
    if networks(docker, container)
        .await
        .is_ok_and(|after| after.iter().any(|name| name == network))
    {
        return Ok(false);
    }
    Err(fail(format!(
        "`{}` failed: {}",
        spec.display(),
        stderr.lines().last().unwrap_or("no output")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_names_come_from_the_inspect_json() {
        let json = r#"{"bridge":{"IPAddress":"172.17.0.2"},"kind":{"IPAddress":"172.18.0.4"}}"#;
        assert_eq!(parse_networks(json), Ok(vec!["bridge".to_owned(), "kind".to_owned()]));
        assert_eq!(parse_networks("null\n"), Ok(Vec::new()));
        assert!(parse_networks("Error: no such object").is_err());
    }
}
