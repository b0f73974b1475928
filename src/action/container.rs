//! Where the action runs: in a container whose engine is the host's Docker (through the
//! mounted socket), or directly on a machine. Inside a container every path handed to Docker is
//! resolved on the *host*, so paths under the runner's mounts (`/github/workspace`, ...) are
//! translated with the container's own `docker inspect` Mounts; the runner does not pass the
//! workspace's host path in.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::exec::{self, ProcessSpec};

/// How long one `docker inspect` may take.
const INSPECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A mount of this container: `source` on the host, `destination` in here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub(crate) source: PathBuf,
    pub(crate) destination: PathBuf,
}

/// This container, as the engine knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SelfContainer {
    /// The full container id.
    pub(crate) id: String,
    pub(crate) mounts: Vec<Mount>,
}

/// What [`detect`] found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Whereabouts {
    /// No sign of a container: a runner or a laptop, where Kind's `127.0.0.1` is reachable.
    Host,
    /// In a container the engine knows: join Kind's network, translate paths.
    Container(SelfContainer),
    /// In a container, but the engine does not know it by any of our ids (another engine, a
    /// nested daemon): treated like the host, with this explanation as a warning.
    UnknownContainer(String),
}

/// Signs that this process runs in a container.
pub(crate) struct Signs {
    /// `/.dockerenv` (Docker) or `/run/.containerenv` (Podman) exists.
    pub(crate) marker_file: bool,
    /// `/proc/self/cgroup`.
    pub(crate) cgroup: String,
    /// `/proc/self/mountinfo`.
    pub(crate) mountinfo: String,
    /// `HOSTNAME`, which the runner leaves at Docker's default: the short container id.
    pub(crate) hostname_variable: Option<String>,
    /// The kernel's host name (`/etc/hostname` in a container).
    pub(crate) hostname: Option<String>,
}

impl Signs {
    fn read() -> Signs {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        Signs {
            marker_file: Path::new("/.dockerenv").exists() || Path::new("/run/.containerenv").exists(),
            cgroup: read("/proc/self/cgroup"),
            mountinfo: read("/proc/self/mountinfo"),
            hostname_variable: std::env::var("HOSTNAME").ok().filter(|name| !name.is_empty()),
            hostname: nix::unistd::gethostname()
                .ok()
                .and_then(|name| name.into_string().ok())
                .filter(|name| !name.is_empty()),
        }
    }

    /// Container ids found in the cgroup paths (cgroup v1: `/docker/<id>`) and in the sources
    /// of the files the engine bind-mounts into every container (`.../containers/<id>/hostname`,
    /// visible with cgroup v2 too).
    fn ids_in_files(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for line in self.cgroup.lines() {
            let path = line.splitn(3, ':').nth(2).unwrap_or_default();
            ids.extend(path.split('/').filter(|part| is_full_id(part)).map(str::to_owned));
        }
        for line in self.mountinfo.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let (Some(root), Some(mount_point)) = (fields.get(3), fields.get(4)) else {
                continue;
            };
            if !matches!(*mount_point, "/etc/hostname" | "/etc/hosts" | "/etc/resolv.conf") {
                continue;
            }
            let parts: Vec<&str> = root.split('/').collect();
            for window in parts.windows(2) {
                if window[0] == "containers" && is_full_id(window[1]) {
                    ids.push(window[1].to_owned());
                }
            }
        }
        let mut unique = Vec::new();
        for id in ids {
            if !unique.contains(&id) {
                unique.push(id);
            }
        }
        unique
    }

    /// Whether anything says "container".
    pub(crate) fn in_container(&self) -> bool {
        self.marker_file || !self.ids_in_files().is_empty()
    }

    /// Names the engine may know this container by, best first: `HOSTNAME` (the runner sets no
    /// `--hostname`, so it is the short id), the host name, then ids found in files.
    pub(crate) fn candidates(&self) -> Vec<String> {
        let mut candidates = Vec::new();
        for candidate in self
            .hostname_variable
            .iter()
            .chain(self.hostname.iter())
            .cloned()
            .chain(self.ids_in_files())
        {
            if !candidates.contains(&candidate) {
                candidates.push(candidate);
            }
        }
        candidates
    }
}

fn is_full_id(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// `docker inspect --type container` of one candidate: the id, `Config.Hostname` and the mounts.
pub(crate) fn parse_inspect(json: &str) -> Result<(String, String, Vec<Mount>), String> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|error| format!("unexpected `docker inspect` output: {error}"))?;
    let container = value
        .as_array()
        .and_then(|list| list.first())
        .ok_or("`docker inspect` returned no container")?;
    let id = container["Id"].as_str().ok_or("`docker inspect` has no Id")?.to_owned();
    let hostname = container["Config"]["Hostname"].as_str().unwrap_or_default().to_owned();
    let mounts = container["Mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|mount| {
            Some(Mount {
                source: PathBuf::from(mount["Source"].as_str().filter(|source| !source.is_empty())?),
                destination: PathBuf::from(mount["Destination"].as_str()?),
            })
        })
        .collect();
    Ok((id, hostname, mounts))
}

/// Find out where we run. `docker` is the engine's program.
pub(crate) async fn detect(docker: &str) -> Whereabouts {
    detect_from(docker, &Signs::read()).await
}

async fn detect_from(docker: &str, signs: &Signs) -> Whereabouts {
    if !signs.in_container() {
        return Whereabouts::Host;
    }
    let candidates = signs.candidates();
    let mut problems = Vec::new();
    for candidate in &candidates {
        let spec = ProcessSpec::new(docker).args(["inspect", "--type", "container", candidate]);
        let answer = match exec::capture(&spec, INSPECT_TIMEOUT).await {
            Ok((true, stdout, _)) => parse_inspect(&stdout),
            Ok((false, _, stderr)) => Err(stderr.lines().last().unwrap_or("failed").to_owned()),
            Err(error) => Err(error.to_string()),
        };
        match answer {
            // The engine knows a container by that name: make sure it is this one.
            Ok((id, hostname, mounts))
                if signs.hostname.as_deref().is_none_or(|ours| ours == hostname)
                    || signs.ids_in_files().contains(&id) =>
            {
                return Whereabouts::Container(SelfContainer { id, mounts });
            }
            Ok((id, hostname, _)) => problems.push(format!(
                "{candidate}: container {} has host name {hostname}, not ours",
                &id[..id.len().min(12)]
            )),
            Err(error) => problems.push(format!("{candidate}: {error}")),
        }
    }
    Whereabouts::UnknownContainer(format!(
        "this looks like a container, but `{docker} inspect` knows it by none of {candidates:?} ({}); \
         not joining Kind's network and not translating paths: the Kind API must be reachable at 127.0.0.1",
        problems.join("; ")
    ))
}

/// `path` (absolute, in this container) as the host sees it: the mount with the longest
/// destination that contains it; `None` when no mount does (the path exists only in here).
pub(crate) fn to_host_path(path: &Path, mounts: &[Mount]) -> Option<PathBuf> {
    let path = normalize(path);
    mounts
        .iter()
        .filter_map(|mount| {
            let rest = path.strip_prefix(normalize(&mount.destination)).ok()?;
            Some((mount.destination.components().count(), join(&mount.source, rest)))
        })
        .max_by_key(|(depth, _)| *depth)
        .map(|(_, host)| host)
}

/// The reverse: a host path (e.g. `${{ github.workspace }}/e2e`, which expressions give as the
/// runner's path) as this container sees it.
pub(crate) fn to_container_path(path: &Path, mounts: &[Mount]) -> Option<PathBuf> {
    let path = normalize(path);
    mounts
        .iter()
        .filter_map(|mount| {
            let rest = path.strip_prefix(normalize(&mount.source)).ok()?;
            Some((mount.source.components().count(), join(&mount.destination, rest)))
        })
        .max_by_key(|(depth, _)| *depth)
        .map(|(_, inside)| inside)
}

fn join(base: &Path, rest: &Path) -> PathBuf {
    if rest.as_os_str().is_empty() {
        base.to_path_buf()
    } else {
        base.join(rest)
    }
}

/// `a/./b/../c` → `a/c`, lexically (no file system access; `..` above the root stays at the root).
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() && !path.is_absolute() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mounts the Actions runner gives a container action.
    fn runner_mounts() -> Vec<Mount> {
        [
            ("/var/run/docker.sock", "/var/run/docker.sock"),
            ("/home/runner/work/_temp/_github_home", "/github/home"),
            ("/home/runner/work/_temp/_github_workflow", "/github/workflow"),
            ("/home/runner/work/_temp/_runner_file_commands", "/github/file_commands"),
            ("/home/runner/work/repo/repo", "/github/workspace"),
        ]
        .into_iter()
        .map(|(source, destination)| Mount {
            source: PathBuf::from(source),
            destination: PathBuf::from(destination),
        })
        .collect()
    }

    #[test]
    fn workspace_paths_become_the_runners_paths() {
        let mounts = runner_mounts();
        let host = |path: &str| to_host_path(Path::new(path), &mounts).map(|path| path.display().to_string());
        assert_eq!(
            host("/github/workspace/e2e/coverdata").as_deref(),
            Some("/home/runner/work/repo/repo/e2e/coverdata")
        );
        assert_eq!(
            host("/github/workspace").as_deref(),
            Some("/home/runner/work/repo/repo")
        );
        assert_eq!(
            host("/github/workspace/e2e/../cover/./data").as_deref(),
            Some("/home/runner/work/repo/repo/cover/data")
        );
        assert_eq!(
            host("/github/home/.kube").as_deref(),
            Some("/home/runner/work/_temp/_github_home/.kube")
        );
        // Whole components only, and nothing outside the mounts.
        assert_eq!(host("/github/workspace2/x"), None);
        assert_eq!(host("/tmp/coverdata"), None);
        assert_eq!(host("/github/workspace/../../etc"), None);
    }

    #[test]
    fn the_deepest_mount_wins() {
        let mut mounts = runner_mounts();
        mounts.push(Mount {
            source: PathBuf::from("/cache/go"),
            destination: PathBuf::from("/github/workspace/.cache/go"),
        });
        assert_eq!(
            to_host_path(Path::new("/github/workspace/.cache/go/pkg"), &mounts),
            Some(PathBuf::from("/cache/go/pkg"))
        );
        assert_eq!(
            to_host_path(Path::new("/github/workspace/.cache/other"), &mounts),
            Some(PathBuf::from("/home/runner/work/repo/repo/.cache/other"))
        );
    }

    #[test]
    fn host_paths_map_back_into_the_container() {
        let mounts = runner_mounts();
        assert_eq!(
            to_container_path(Path::new("/home/runner/work/repo/repo/e2e"), &mounts),
            Some(PathBuf::from("/github/workspace/e2e"))
        );
        assert_eq!(to_container_path(Path::new("/home/runner/other"), &mounts), None);
    }

    #[test]
    fn docker_inspect_gives_id_hostname_and_mounts() {
        let json = r#"[{"Id":"4f0c9a1d2b3c4f0c9a1d2b3c4f0c9a1d2b3c4f0c9a1d2b3c4f0c9a1d2b3c4f0c",
            "Config":{"Hostname":"4f0c9a1d2b3c"},
            "Mounts":[{"Type":"bind","Source":"/home/runner/work/repo/repo","Destination":"/github/workspace","RW":true},
                      {"Type":"volume","Name":"v","Source":"/var/lib/docker/volumes/v/_data","Destination":"/cache"},
                      {"Type":"tmpfs","Source":"","Destination":"/scratch"}]}]"#;
        let (id, hostname, mounts) = parse_inspect(json).expect("parsed");
        assert!(id.starts_with("4f0c9a1d2b3c") && id.len() == 64);
        assert_eq!(hostname, "4f0c9a1d2b3c");
        assert_eq!(mounts.len(), 2, "{mounts:?}");
        assert_eq!(mounts[0].destination, PathBuf::from("/github/workspace"));
        assert!(parse_inspect("[]").is_err());
        assert!(parse_inspect("Error: No such container").is_err());
    }

    const ID: &str = "8d2e7a6f0b1c4d5e8d2e7a6f0b1c4d5e8d2e7a6f0b1c4d5e8d2e7a6f0b1c4d5e";

    fn signs(marker: bool, cgroup: &str, mountinfo: &str) -> Signs {
        Signs {
            marker_file: marker,
            cgroup: cgroup.to_owned(),
            mountinfo: mountinfo.to_owned(),
            hostname_variable: Some("8d2e7a6f0b1c".to_owned()),
            hostname: Some("8d2e7a6f0b1c".to_owned()),
        }
    }

    #[test]
    fn containers_are_recognised_by_marker_cgroup_or_mountinfo() {
        let host_mountinfo = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n";
        assert!(
            !signs(
                false,
                "0::/user.slice/user-1000.slice/session-2.scope\n",
                host_mountinfo
            )
            .in_container()
        );
        assert!(signs(true, "0::/\n", host_mountinfo).in_container());
        // cgroup v1 names the container.
        let v1 = format!("12:pids:/docker/{ID}\n11:memory:/docker/{ID}\n");
        let found = signs(false, &v1, host_mountinfo);
        assert!(found.in_container());
        assert_eq!(found.ids_in_files(), vec![ID.to_owned()]);
        // cgroup v2 does not, but the engine's bind-mounted /etc/hostname does.
        let v2_mountinfo = format!(
            "{host_mountinfo}653 640 8:1 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw,relatime - ext4 /dev/sda1 rw\n\
             654 640 8:1 /var/lib/docker/containers/{ID}/hosts /etc/hosts rw,relatime - ext4 /dev/sda1 rw\n"
        );
        let found = signs(false, "0::/\n", &v2_mountinfo);
        assert!(found.in_container());
        assert_eq!(found.candidates(), vec!["8d2e7a6f0b1c".to_owned(), ID.to_owned()]);
    }

    #[test]
    fn paths_normalize_lexically() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("./e2e/.")), PathBuf::from("e2e"));
        assert_eq!(normalize(Path::new(".")), PathBuf::from("."));
        assert_eq!(normalize(Path::new("../x")), PathBuf::from("../x"));
        assert_eq!(normalize(Path::new("/../x")), PathBuf::from("/x"));
    }
}
