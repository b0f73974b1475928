//! Preflight of `services up`, for the failures that lost the reference user whole integration
//! runs: the engine answers (`podman info` too), free disk under the engine's storage root (not
//! just `/`), host ports already bound (and by which process or container), stale containers and
//! networks of an earlier run of this project, and the Dockerfiles about to be built.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use super::{Check, CheckSpec, disk_check, engine_check, lint_check};
use crate::phases::RunContext;
use crate::plan::Plan;
use crate::tools::containers::{self, PROJECT_LABEL, RUN_LABEL};

/// The checks of `services up`, in order (the engine first: the others ask it).
pub(super) fn checks(run: &RunContext) -> Vec<CheckSpec> {
    let mut checks = vec![
        CheckSpec {
            name: "engine",
            run: |run| Box::pin(async move { engine_check(&run).await }),
        },
        CheckSpec {
            name: "disk",
            run: |run| Box::pin(async move { storage_check(&run).await }),
        },
        CheckSpec {
            name: "ports",
            run: |run| Box::pin(async move { ports_check(&run).await }),
        },
        CheckSpec {
            name: "stale",
            run: |run| Box::pin(async move { stale_check(&run).await }),
        },
    ];
    if !run.plan.images.is_empty() {
        checks.push(CheckSpec {
            name: "lint",
            run: |run| {
                Box::pin(async move {
                    let (check, counts) = lint_check(&run.plan, &run.lint_levels);
                    run.set_dockerfile_findings(counts);
                    check
                })
            },
        });
    }
    checks
}

/// The checks `run` adds when it starts the services before its test phase (the engine and
/// disk are already `run`'s own checks).
pub(super) fn run_checks() -> Vec<CheckSpec> {
    vec![
        CheckSpec {
            name: "service ports",
            run: |run| Box::pin(async move { ports_check(&run).await }),
        },
        CheckSpec {
            name: "stale services",
            run: |run| Box::pin(async move { stale_check(&run).await }),
        },
    ]
}

/// `info` answers (a Podman machine or socket that does not answer fails here, not at the first
/// `run`), and its storage root has room.
async fn storage_check(run: &Arc<RunContext>) -> Check {
    let Some(engine) = run.engine() else {
        return Check::pass("disk", "not checked (no engine)");
    };
    match containers::storage_root(&engine).await {
        Ok(root) => {
            let mut check = disk_check(Path::new(&root), run.min_free_disk);
            check.detail = format!("{} (the {} storage root)", check.detail, engine.kind.as_str());
            if check.status == super::CheckStatus::Fail {
                check.hint = Some(format!(
                    "`{} system prune -af` frees unused images and containers under {root}; or lower --min-free-disk (builds and pulls fail with `no space left on device` otherwise)",
                    engine.kind.as_str()
                ));
            }
            check
        }
        Err(error) => Check::fail(
            "disk",
            format!("`{} info` does not answer: {error}", engine.kind.as_str()),
            match engine.kind {
                crate::tools::EngineKind::Podman => {
                    "Podman's service does not answer: `podman machine start` (macOS/Windows), `systemctl --user start podman.socket`, or `podman system migrate` after an upgrade; `podman info` must answer"
                }
                crate::tools::EngineKind::Docker => {
                    "the Docker daemon does not answer: start it (`sudo systemctl start docker`) or check DOCKER_HOST"
                }
            },
        ),
    }
}

/// Fixed host ports must be free; the check names who holds a taken one.
async fn ports_check(run: &Arc<RunContext>) -> Check {
    let plan: &Plan = &run.plan;
    let wanted: Vec<(String, u16)> = plan
        .services
        .services
        .iter()
        .flat_map(|service| {
            service
                .ports
                .iter()
                .filter(|port| port.host != 0)
                .map(|port| (service.name.clone(), port.host))
        })
        .collect();
    if wanted.is_empty() {
        return Check::pass("ports", "no fixed host ports (the engine picks free ones)");
    }
    let mut busy = Vec::new();
    let mut proxy = false;
    for (service, port) in &wanted {
        if TcpListener::bind(("127.0.0.1", *port)).is_ok() {
            continue;
        }
        let mut holders = Vec::new();
        if let Some(engine) = run.engine() {
            holders.extend(
                containers::publishers_of(&engine, *port)
                    .await
                    .into_iter()
                    .map(|name| format!("container `{name}`")),
            );
        }
        for process in port_holders(*port) {
            proxy |= process.contains("rootlessport") || process.contains("slirp4netns");
            holders.push(process);
        }
        let by = if holders.is_empty() {
            "held by a process this user cannot see".to_owned()
        } else {
            format!("held by {}", holders.join(", "))
        };
        busy.push(format!("127.0.0.1:{port} (service `{service}`) {by}"));
    }
    if busy.is_empty() {
        let ports: Vec<String> = wanted.iter().map(|(_, port)| port.to_string()).collect();
        return Check::pass("ports", format!("host ports {} are free", ports.join(", ")));
    }
    let hint = if proxy {
        "a leftover rootless port proxy holds it: `hybrid-e2e services down --all` (or `podman rm -f` the container), else kill the `rootlessport` process named; or publish the container port alone (`ports: [\"5432\"]`) for a free host port"
    } else {
        "stop what holds the port (`hybrid-e2e services down --all` for an earlier run of ours, `docker rm -f NAME` for a container, `kill PID` for a process), or publish the container port alone (`ports: [\"5432\"]`) so the engine picks a free host port"
    };
    Check::fail(
        "ports",
        format!("host port(s) already in use: {}", busy.join("; ")),
        hint,
    )
}

/// Containers and networks of an earlier run of this project still exist (a killed job, a
/// missing `services down`): their names and ports collide with this run's.
async fn stale_check(run: &Arc<RunContext>) -> Check {
    let Some(engine) = run.engine() else {
        return Check::pass("stale", "not checked (no engine)");
    };
    let project = format!("{PROJECT_LABEL}={}", run.plan.services.project);
    let containers = containers::containers_with(&engine, &project).await;
    let networks = containers::networks_with(&engine, &project).await;
    match (containers, networks) {
        (Ok(containers), Ok(networks)) if containers.is_empty() && networks.is_empty() => {
            Check::pass("stale", "no containers or networks of an earlier run of this project")
        }
        (Ok(containers), Ok(networks)) => {
            let mut found = Vec::new();
            if !containers.is_empty() {
                found.push(format!("container(s) {}", containers.join(", ")));
            }
            if !networks.is_empty() {
                found.push(format!("network(s) {}", networks.join(", ")));
            }
            Check::fail(
                "stale",
                format!(
                    "an earlier run of this project left {} (label {RUN_LABEL})",
                    found.join(" and ")
                ),
                format!(
                    "remove them with `hybrid-e2e services down --all` (or `{} rm -f` / `{} network rm` the names above)",
                    engine.kind.as_str(),
                    engine.kind.as_str()
                ),
            )
        }
        (Err(error), _) | (_, Err(error)) => Check::fail(
            "stale",
            format!("cannot list containers: {error}"),
            "the engine must answer `ps` and `network ls`",
        ),
    }
}

/// Processes listening on TCP `port` (from /proc: the socket's inode, then the process whose
/// file descriptor it is), as `process NAME (pid N)`. Empty where /proc cannot tell.
pub(crate) fn port_holders(port: u16) -> Vec<String> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            inodes.extend(listening_inodes(&text, port));
        }
    }
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut holders = Vec::new();
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return holders;
    };
    for process in processes.flatten() {
        let pid = process.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(descriptors) = std::fs::read_dir(process.path().join("fd")) else {
            continue;
        };
        let holds = descriptors.flatten().any(|descriptor| {
            std::fs::read_link(descriptor.path()).is_ok_and(|target| {
                let target = target.to_string_lossy();
                inodes.iter().any(|inode| target == format!("socket:[{inode}]"))
            })
        });
        if holds {
            let name = std::fs::read_to_string(process.path().join("comm")).unwrap_or_default();
            holders.push(format!("process `{}` (pid {pid})", name.trim()));
        }
    }
    holders.sort();
    holders.dedup();
    holders
}

/// Inodes of the LISTEN sockets on `port` in a /proc/net/tcp table.
fn listening_inodes(table: &str, port: u16) -> Vec<String> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let (_, hex_port) = local.rsplit_once(':')?;
            let listening = fields.get(3) == Some(&"0A");
            let inode = fields.get(9)?;
            (listening && u16::from_str_radix(hex_port, 16).ok()? == port).then(|| (*inode).to_owned())
        })
        .filter(|inode| inode != "0")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_holding_a_port_is_named() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let holders = port_holders(port);
        assert_eq!(holders.len(), 1, "{holders:?}");
        assert!(
            holders[0].contains(&format!("(pid {})", std::process::id())),
            "{holders:?}"
        );
        drop(listener);
        assert!(port_holders(port).is_empty());
    }

    #[test]
    fn listen_sockets_are_read_from_the_proc_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0\n   1: 0100007F:1538 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 999 1 0\n";
        assert_eq!(listening_inodes(table, 5432), vec!["12345".to_owned()]);
        assert!(listening_inodes(table, 80).is_empty());
    }
}
