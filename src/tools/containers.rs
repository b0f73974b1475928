//! Containers and networks on the engine for `services up|down`: the argv of every engine call
//! (never a shell), the labels that mark what a run started, and the readers of the engine's
//! answers. Docker and Podman take the same arguments for everything here.

use std::time::Duration;

use super::{ContainerEngine, EngineKind, QUERY_TIMEOUT};
use crate::exec::{self, ProcessSpec};

/// Carries the run id: `services down` and `cleanup` remove by it.
pub(crate) const RUN_LABEL: &str = "io.hybrid-e2e.services.run";
/// Carries the project (a hash of the config file's path): stale containers of an earlier run
/// of the same project are found by it, other projects' are left alone.
pub(crate) const PROJECT_LABEL: &str = "io.hybrid-e2e.services.project";
/// The service's name in the config.
pub(crate) const SERVICE_LABEL: &str = "io.hybrid-e2e.services.name";

/// Everything `docker run` needs for one service.
#[derive(Debug, Clone)]
pub(crate) struct RunSpec<'a> {
    pub(crate) container: &'a str,
    pub(crate) service: &'a str,
    pub(crate) network: &'a str,
    pub(crate) run_id: &'a str,
    pub(crate) project: &'a str,
    pub(crate) image: &'a str,
    pub(crate) command: Option<&'a [String]>,
    /// (host, container): host 0 lets the engine pick.
    pub(crate) ports: &'a [(u16, u16)],
    pub(crate) env: &'a [(String, String)],
    pub(crate) volumes: &'a [(String, String, bool)],
    pub(crate) ulimits: &'a [(String, u64)],
    /// `--add-host NAME:IP` entries: the services already running, so they resolve by name
    /// even where the network has no DNS (Podman's CNI backend without the dnsname plugin).
    pub(crate) hosts: &'a [(String, String)],
}

/// `run -d` for a service. Environment values never appear in the argv (nor in logs): each
/// variable is passed as `-e NAME` and set on the engine CLI's own environment, which both
/// engines read it from.
pub(crate) fn run_command(engine: &ContainerEngine, spec: &RunSpec<'_>) -> ProcessSpec {
    let mut command = engine.command().args([
        "run",
        "--detach",
        "--name",
        spec.container,
        "--network",
        spec.network,
        "--network-alias",
        spec.service,
        "--hostname",
        spec.service,
    ]);
    for label in [
        format!("{RUN_LABEL}={}", spec.run_id),
        format!("{PROJECT_LABEL}={}", spec.project),
        format!("{SERVICE_LABEL}={}", spec.service),
    ] {
        command = command.arg("--label").arg(label);
    }
    for (host, container) in spec.ports {
        let host = if *host == 0 { String::new() } else { host.to_string() };
        command = command.arg("--publish").arg(format!("127.0.0.1:{host}:{container}"));
    }
    for (name, value) in spec.env {
        command = command.arg("--env").arg(name).env(name, value);
    }
    for (host, container, read_only) in spec.volumes {
        let mode = if *read_only { ":ro" } else { "" };
        command = command.arg("--volume").arg(format!("{host}:{container}{mode}"));
    }
    for (name, value) in spec.ulimits {
        command = command.arg("--ulimit").arg(format!("{name}={value}:{value}"));
    }
    for (name, address) in spec.hosts {
        command = command.arg("--add-host").arg(format!("{name}:{address}"));
    }
    command = command.arg(spec.image);
    if let Some(argv) = spec.command {
        command = command.args(argv.iter().cloned());
    }
    command
}

/// `network create` with the run's labels.
pub(crate) fn network_create(engine: &ContainerEngine, network: &str, run_id: &str, project: &str) -> ProcessSpec {
    engine.command().args([
        "network",
        "create",
        "--label",
        &format!("{RUN_LABEL}={run_id}"),
        "--label",
        &format!("{PROJECT_LABEL}={project}"),
        network,
    ])
}

/// A container's state as `inspect` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerState {
    /// `created`, `running`, `exited`, ...
    pub(crate) status: String,
    pub(crate) exit_code: i64,
    /// Restarts or OOM kill, when the engine says so.
    pub(crate) oom_killed: bool,
}

impl ContainerState {
    pub(crate) fn exited(&self) -> bool {
        matches!(self.status.as_str(), "exited" | "dead" | "stopped")
    }
}

/// Parse `inspect --format '{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}'`.
pub(crate) fn parse_state(text: &str) -> Option<ContainerState> {
    let mut words = text.split_whitespace();
    let status = words.next()?.to_ascii_lowercase();
    let exit_code = words.next()?.parse().ok()?;
    let oom_killed = words.next() == Some("true");
    Some(ContainerState {
        status,
        exit_code,
        oom_killed,
    })
}

/// The container's state, `None` when it does not exist (or the engine did not answer).
pub(crate) async fn state(engine: &ContainerEngine, container: &str) -> Result<ContainerState, String> {
    let spec = engine.command().args([
        "inspect",
        "--type",
        "container",
        "--format",
        "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}",
        container,
    ]);
    match exec::capture(&spec, QUERY_TIMEOUT).await {
        Ok((true, stdout, _)) => {
            parse_state(&stdout).ok_or_else(|| format!("unexpected inspect output `{}`", stdout.trim()))
        }
        Ok((false, _, stderr)) => Err(stderr.trim().to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

/// The container's address on `network` (`None` when it has none: exited, or not attached).
pub(crate) async fn address_on(engine: &ContainerEngine, container: &str, network: &str) -> Option<String> {
    let format = format!("{{{{with index .NetworkSettings.Networks \"{network}\"}}}}{{{{.IPAddress}}}}{{{{end}}}}");
    let spec = engine
        .command()
        .args(["inspect", "--type", "container", "--format", &format, container]);
    match exec::capture(&spec, QUERY_TIMEOUT).await {
        Ok((true, stdout, _)) => Some(stdout.trim().to_owned()).filter(|address| !address.is_empty()),
        _ => None,
    }
}

/// The host address and port a container port is published on (`port NAME 5432/tcp`).
pub(crate) async fn host_port(engine: &ContainerEngine, container: &str, port: u16) -> Result<(String, u16), String> {
    let spec = engine.command().args(["port", container, &format!("{port}/tcp")]);
    match exec::capture(&spec, QUERY_TIMEOUT).await {
        Ok((true, stdout, _)) => {
            parse_port_line(&stdout).ok_or_else(|| format!("unexpected `port` output `{}`", stdout.trim()))
        }
        Ok((false, _, stderr)) => Err(stderr.trim().to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

/// The first `ADDRESS:PORT` of `port`'s answer (Docker may add an IPv6 line).
pub(crate) fn parse_port_line(text: &str) -> Option<(String, u16)> {
    text.lines().find_map(|line| {
        let (address, port) = line.trim().rsplit_once(':')?;
        let address = address.trim_start_matches('[').trim_end_matches(']');
        let address = if address.is_empty() || address == "0.0.0.0" || address == "::" {
            "127.0.0.1"
        } else {
            address
        };
        Some((address.to_owned(), port.parse().ok()?))
    })
}

/// Names of the containers (running or not) carrying `label` (`KEY` or `KEY=VALUE`).
pub(crate) async fn containers_with(engine: &ContainerEngine, label: &str) -> Result<Vec<String>, String> {
    let spec = engine.command().args([
        "ps",
        "--all",
        "--filter",
        &format!("label={label}"),
        "--format",
        "{{.Names}}",
    ]);
    list(spec).await
}

/// Names of the networks carrying `label`.
pub(crate) async fn networks_with(engine: &ContainerEngine, label: &str) -> Result<Vec<String>, String> {
    let spec = engine.command().args([
        "network",
        "ls",
        "--filter",
        &format!("label={label}"),
        "--format",
        "{{.Name}}",
    ]);
    list(spec).await
}

async fn list(spec: ProcessSpec) -> Result<Vec<String>, String> {
    match exec::capture(&spec, QUERY_TIMEOUT).await {
        Ok((true, stdout, _)) => {
            let mut names: Vec<String> = stdout
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(str::to_owned)
                .collect();
            names.sort();
            names.dedup();
            Ok(names)
        }
        Ok((false, _, stderr)) => Err(stderr.trim().to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

/// `rm --force --volumes`, killing at once: Podman would otherwise wait 10 s for a main process
/// that ignores SIGTERM (Docker's `rm --force` kills at once anyway).
pub(crate) fn remove_command(engine: &ContainerEngine) -> ProcessSpec {
    let spec = engine.command().args(["rm", "--force", "--volumes"]);
    match engine.kind {
        EngineKind::Podman => spec.args(["--time", "0"]),
        EngineKind::Docker => spec,
    }
}

/// What [`remove_labelled`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Removed {
    pub(crate) containers: Vec<String>,
    pub(crate) networks: Vec<String>,
    /// What could not be removed, with the engine's words.
    pub(crate) errors: Vec<String>,
}

/// Remove every container, then every network, carrying `label`; twice if the first pass found
/// anything (a `run` killed mid-flight may still create its container). Idempotent.
pub(crate) async fn remove_labelled(engine: &ContainerEngine, label: &str) -> Removed {
    let mut removed = Removed::default();
    for pass in 0..2 {
        let containers = match containers_with(engine, label).await {
            Ok(containers) => containers,
            Err(error) => {
                removed.errors.push(format!("listing containers: {error}"));
                break;
            }
        };
        if !containers.is_empty() {
            let spec = remove_command(engine).args(containers.iter().cloned());
            match exec::query(&spec, Duration::from_secs(120)).await {
                Ok((true, _)) => removed.containers.extend(containers.iter().cloned()),
                Ok((false, output)) => removed.errors.push(format!("rm: {output}")),
                Err(error) => removed.errors.push(error.to_string()),
            }
        }
        let networks = networks_with(engine, label).await.unwrap_or_default();
        for network in &networks {
            let spec = engine.command().args(["network", "rm", network]);
            match exec::query(&spec, QUERY_TIMEOUT).await {
                Ok((true, _)) => removed.networks.push(network.clone()),
                Ok((false, output)) => removed.errors.push(format!("network rm {network}: {output}")),
                Err(error) => removed.errors.push(error.to_string()),
            }
        }
        if pass == 0 && containers.is_empty() && networks.is_empty() {
            break;
        }
        if pass == 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    removed.containers.sort();
    removed.containers.dedup();
    removed.networks.sort();
    removed.networks.dedup();
    removed
}

/// The engine's storage root (`docker info` DockerRootDir, `podman info` GraphRoot): where
/// images and containers take disk space. An error when the engine does not answer.
pub(crate) async fn storage_root(engine: &ContainerEngine) -> Result<String, String> {
    let format = match engine.kind {
        EngineKind::Docker => "{{.DockerRootDir}}",
        EngineKind::Podman => "{{.Store.GraphRoot}}",
    };
    let spec = engine.command().args(["info", "--format", format]);
    match exec::capture(&spec, QUERY_TIMEOUT).await {
        Ok((true, stdout, _)) if !stdout.trim().is_empty() => Ok(stdout.trim().to_owned()),
        Ok((_, stdout, stderr)) => Err(format!("{} {}", stdout.trim(), stderr.trim()).trim().to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

/// Running containers that publish host `port`, by name (`ps --format '{{.Names}}\t{{.Ports}}'`).
pub(crate) async fn publishers_of(engine: &ContainerEngine, port: u16) -> Vec<String> {
    let spec = engine.command().args(["ps", "--format", "{{.Names}}\t{{.Ports}}"]);
    let Ok((true, stdout, _)) = exec::capture(&spec, QUERY_TIMEOUT).await else {
        return Vec::new();
    };
    stdout
        .lines()
        .filter_map(|line| {
            let (name, ports) = line.split_once('\t')?;
            ports
                .split(',')
                .any(|mapping| {
                    mapping
                        .split("->")
                        .next()
                        .and_then(|host| host.trim().rsplit_once(':'))
                        .is_some_and(|(_, host_port)| {
                            // `0.0.0.0:8080` or a range `0.0.0.0:8080-8081`.
                            match host_port.split_once('-') {
                                Some((low, high)) => {
                                    low.parse::<u16>().is_ok_and(|low| low <= port)
                                        && high.parse::<u16>().is_ok_and(|high| port <= high)
                                }
                                None => host_port.parse() == Ok(port),
                            }
                        })
                })
                .then(|| name.trim().to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker() -> ContainerEngine {
        ContainerEngine {
            kind: EngineKind::Docker,
            program: "docker".into(),
            version: "28".into(),
        }
    }

    #[test]
    fn run_keeps_environment_values_out_of_the_argv() {
        let env = vec![("POSTGRES_PASSWORD".to_owned(), "s3cret".to_owned())];
        let command_argv = vec!["nc".to_owned(), "-lk".to_owned()];
        let spec = run_command(
            &docker(),
            &RunSpec {
                container: "hybrid-e2e-ab12-db",
                service: "db",
                network: "hybrid-e2e-ab12",
                run_id: "20261130-1-ab12",
                project: "p1",
                image: "localhost/db:1",
                command: Some(&command_argv),
                ports: &[(0, 5432), (15432, 5433)],
                env: &env,
                volumes: &[("/abs/sql".to_owned(), "/init".to_owned(), true)],
                ulimits: &[("nofile".to_owned(), 1024)],
                hosts: &[("cache".to_owned(), "10.89.0.2".to_owned())],
            },
        );
        let line = spec.display();
        assert!(!line.contains("s3cret"), "{line}");
        assert_eq!(spec.env, env);
        for expected in [
            "run --detach --name hybrid-e2e-ab12-db --network hybrid-e2e-ab12 --network-alias db",
            "--label io.hybrid-e2e.services.run=20261130-1-ab12",
            "--publish 127.0.0.1::5432 --publish 127.0.0.1:15432:5433",
            "--env POSTGRES_PASSWORD --volume /abs/sql:/init:ro --ulimit nofile=1024:1024 --add-host cache:10.89.0.2 localhost/db:1 nc -lk",
        ] {
            assert!(line.contains(expected), "missing `{expected}` in {line}");
        }
    }

    #[test]
    fn engine_answers_are_read() {
        assert_eq!(
            parse_state("exited 1 false\n"),
            Some(ContainerState {
                status: "exited".into(),
                exit_code: 1,
                oom_killed: false
            })
        );
        assert!(parse_state("").is_none());
        assert_eq!(
            parse_port_line("0.0.0.0:49153\n[::]:49153\n"),
            Some(("127.0.0.1".to_owned(), 49153))
        );
        assert_eq!(parse_port_line("127.0.0.1:5432"), Some(("127.0.0.1".to_owned(), 5432)));
    }
}
