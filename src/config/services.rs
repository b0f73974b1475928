//! The `services:` section's checks serde cannot do (names, `image`/`build`, ports, volumes,
//! `depends_on` and its conditions, health checks), each at file:line:column, and the parsers of
//! its short forms (`HOST:CONTAINER`, `HOST_PATH:CONTAINER_PATH[:ro]`) that the plan shares.

use std::collections::{BTreeMap, BTreeSet};

use super::load::LoadedConfig;
use super::model::{DependsOnCondition, ServiceConfig};
use crate::image_ref::ImageReference;

/// A published port: `host` 0 lets the engine pick a free one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(crate) struct PortMapping {
    pub(crate) host: u16,
    pub(crate) container: u16,
}

/// `HOST:CONTAINER` or `CONTAINER`.
pub(crate) fn parse_port(text: &str) -> Result<PortMapping, String> {
    let number = |part: &str| -> Result<u16, String> {
        part.trim()
            .parse::<u16>()
            .map_err(|_| format!("`{part}` is not a port number (1 to 65535)"))
    };
    let (host, container) = match text.split_once(':') {
        Some((host, container)) => (number(host)?, number(container)?),
        None => (0, number(text)?),
    };
    if container == 0 {
        return Err("the container port cannot be 0".to_owned());
    }
    Ok(PortMapping { host, container })
}

/// A bind mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VolumeMount {
    pub(crate) host: String,
    pub(crate) container: String,
    pub(crate) read_only: bool,
}

/// `HOST_PATH:CONTAINER_PATH[:ro|:rw]`.
pub(crate) fn parse_volume(text: &str) -> Result<VolumeMount, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let (host, container, read_only) = match parts.as_slice() {
        [host, container] => (*host, *container, false),
        [host, container, "ro"] => (*host, *container, true),
        [host, container, "rw"] => (*host, *container, false),
        _ => {
            return Err("write `HOST_PATH:CONTAINER_PATH` with an optional `:ro` or `:rw`".to_owned());
        }
    };
    if host.is_empty() || !container.starts_with('/') {
        return Err("the host path must not be empty and the container path must be absolute".to_owned());
    }
    Ok(VolumeMount {
        host: host.to_owned(),
        container: container.to_owned(),
        read_only,
    })
}

/// `--ulimit` names the engines accept.
const ULIMITS: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn valid_env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl LoadedConfig {
    /// Every problem of `services:`, appended to `problems`.
    pub(super) fn service_problems(&self, problems: &mut Vec<String>) {
        let services = &self.file.services;
        let images: BTreeSet<&str> = self.file.images.iter().map(|image| image.name.value.as_str()).collect();
        let by_name: BTreeMap<&str, &ServiceConfig> = services
            .iter()
            .map(|service| (service.name.value.as_str(), service))
            .collect();
        let mut seen = BTreeMap::new();
        let mut host_ports: BTreeMap<u16, String> = BTreeMap::new();
        for service in services {
            let name = &service.name.value;
            let at_name = self.at(&service.name);
            if !valid_name(name) {
                problems.push(format!(
                    "{at_name}: service name `{name}` must start with a letter and be lowercase letters, digits and `-`, at most 40 characters (it names the container and the outputs)"
                ));
            }
            if let Some(first) = seen.insert(name.clone(), at_name.clone()) {
                problems.push(format!("{at_name}: duplicate service name `{name}` (first at {first})"));
            }
            match (&service.image, &service.build) {
                (Some(image), Some(_)) => problems.push(format!(
                    "{}: service `{name}` has both `image` and `build`; give one (`build` names an `images:` entry)",
                    self.at(image)
                )),
                (None, None) => problems.push(format!(
                    "{at_name}: service `{name}` needs `image` (a reference to pull) or `build` (an `images:` entry)"
                )),
                (Some(image), None) => {
                    if let Err(why) = ImageReference::parse(&image.value) {
                        problems.push(format!(
                            "{}: invalid image reference `{}`: {why}",
                            self.at(image),
                            image.value
                        ));
                    }
                }
                (None, Some(build)) => {
                    if !images.contains(build.value.as_str()) {
                        let known: Vec<&str> = images.iter().copied().collect();
                        problems.push(format!(
                            "{}: `build` names unknown image `{}` (images: {})",
                            self.at(build),
                            build.value,
                            if known.is_empty() {
                                "none".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ));
                    }
                }
            }
            if service.command.as_ref().is_some_and(Vec::is_empty) {
                problems.push(format!("{at_name}: `command` of service `{name}` is empty"));
            }
            let mut container_ports = BTreeSet::new();
            for port in &service.ports {
                match parse_port(&port.value) {
                    Ok(mapping) => {
                        container_ports.insert(mapping.container);
                        if mapping.host != 0
                            && let Some(first) = host_ports.insert(mapping.host, self.at(port))
                        {
                            problems.push(format!(
                                "{}: host port {} is published twice (first at {first})",
                                self.at(port),
                                mapping.host
                            ));
                        }
                    }
                    Err(why) => problems.push(format!(
                        "{}: port `{}`: {why}; write `HOST:CONTAINER` or `CONTAINER`",
                        self.at(port),
                        port.value
                    )),
                }
            }
            for volume in &service.volumes {
                match parse_volume(&volume.value) {
                    Ok(mount) => {
                        let host = self.resolve(&mount.host);
                        if !host.exists() {
                            problems.push(format!(
                                "{}: volume host path `{}` does not exist (paths are relative to the config file's directory)",
                                self.at(volume),
                                host.display()
                            ));
                        }
                    }
                    Err(why) => problems.push(format!("{}: volume `{}`: {why}", self.at(volume), volume.value)),
                }
            }
            for key in service.env.keys() {
                if !valid_env_name(key) {
                    problems.push(format!(
                        "{at_name}: environment variable name `{key}` of service `{name}` must be letters, digits and `_`, not starting with a digit"
                    ));
                }
            }
            for limit in service.ulimits.keys() {
                if !ULIMITS.contains(&limit.as_str()) {
                    problems.push(format!(
                        "{at_name}: unknown ulimit `{limit}` of service `{name}` (known: {})",
                        ULIMITS.join(", ")
                    ));
                }
            }
            for (dependency, condition) in &service.depends_on {
                let at = self.at(condition);
                match by_name.get(dependency.as_str()) {
                    None => {
                        let known: Vec<&str> = by_name.keys().copied().collect();
                        problems.push(format!(
                            "{at}: `depends_on` names unknown service `{dependency}` (services: {})",
                            known.join(", ")
                        ));
                    }
                    Some(_) if dependency == name => {
                        problems.push(format!("{at}: service `{name}` cannot depend on itself"));
                    }
                    Some(other) => match condition.value {
                        DependsOnCondition::Completed if !other.one_shot => problems.push(format!(
                            "{at}: `{dependency}` is not a `one_shot`, so it never completes; use `healthy`, or mark it `one_shot: true`"
                        )),
                        DependsOnCondition::Healthy if other.one_shot => problems.push(format!(
                            "{at}: `{dependency}` is a `one_shot`; wait for it with `completed` (it must exit 0)"
                        )),
                        _ => {}
                    },
                }
            }
            if let Some(check) = &service.healthcheck {
                if service.one_shot {
                    problems.push(format!(
                        "{at_name}: `one_shot` service `{name}` cannot have a health check: it is ready when it exits 0"
                    ));
                }
                let kinds = usize::from(check.exec.is_some())
                    + usize::from(check.tcp.is_some())
                    + usize::from(check.http.is_some());
                if kinds != 1 {
                    problems.push(format!(
                        "{at_name}: the health check of service `{name}` needs exactly one of `exec`, `tcp` or `http` ({kinds} given)"
                    ));
                }
                if let Some(exec) = &check.exec
                    && exec.value.is_empty()
                {
                    problems.push(format!("{}: `exec` is an empty command", self.at(exec)));
                }
                let ports = check.tcp.iter().chain(check.http.as_ref().map(|http| &http.port));
                for port in ports {
                    if !container_ports.contains(&port.value) {
                        problems.push(format!(
                            "{}: the health check probes container port {} from the host, so `ports` of service `{name}` must publish it (add `- \"{}\"`)",
                            self.at(port),
                            port.value,
                            port.value
                        ));
                    }
                }
                if let Some(http) = &check.http
                    && !http.path.starts_with('/')
                {
                    problems.push(format!(
                        "{}: the HTTP path `{}` must start with `/`",
                        self.at(&http.port),
                        http.path
                    ));
                }
            }
        }
        if let Some(cycle) = service_cycle(services) {
            problems.push(format!(
                "services depend on each other in a cycle: {}",
                cycle.join(" -> ")
            ));
        }
    }
}

/// The first cycle among the services' `depends_on`, as names (a service naming itself is
/// reported on its own).
fn service_cycle(services: &[ServiceConfig]) -> Option<Vec<String>> {
    let edges: BTreeMap<&str, Vec<&str>> = services
        .iter()
        .map(|service| {
            let name = service.name.value.as_str();
            let dependencies = service
                .depends_on
                .keys()
                .map(String::as_str)
                .filter(|dependency| *dependency != name)
                .collect();
            (name, dependencies)
        })
        .collect();
    super::load::first_cycle(&edges)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> Result<LoadedConfig, String> {
        LoadedConfig::parse(Path::new("hybrid-e2e.yaml"), text).map_err(|error| error.to_string())
    }

    #[test]
    fn ports_and_volumes_parse() {
        assert_eq!(
            parse_port("5432"),
            Ok(PortMapping {
                host: 0,
                container: 5432
            })
        );
        assert_eq!(
            parse_port("15432:5432"),
            Ok(PortMapping {
                host: 15432,
                container: 5432
            })
        );
        assert!(parse_port("x:1").is_err() && parse_port("1:0").is_err() && parse_port("70000").is_err());
        assert_eq!(
            parse_volume("./sql:/docker-entrypoint-initdb.d:ro"),
            Ok(VolumeMount {
                host: "./sql".into(),
                container: "/docker-entrypoint-initdb.d".into(),
                read_only: true
            })
        );
        assert!(parse_volume("a:b").is_err() && parse_volume("a:/b:zz").is_err());
    }

    #[test]
    fn a_valid_services_section_loads() {
        let config = parse(
            "version: 1\nservices:\n  - name: postgres\n    image: docker.io/library/postgres:16\n    ports: [\"5432\"]\n    env: {POSTGRES_PASSWORD: test}\n    healthcheck:\n      exec: [pg_isready, -U, postgres]\n      interval: 500ms\n  - name: migrate\n    image: localhost/migrate:1\n    one_shot: true\n    depends_on: {postgres: healthy}\n  - name: api\n    image: localhost/api:1\n    ports: [\"18080:8080\"]\n    depends_on: {migrate: completed}\n    healthcheck: {http: {port: 8080, path: /healthz}}\n",
        )
        .expect("valid");
        assert_eq!(config.file.services.len(), 3);
        assert_eq!(
            config.file.services[2].depends_on["migrate"].value,
            DependsOnCondition::Completed
        );
    }

    #[test]
    fn every_problem_is_reported_at_its_line() {
        let text = "version: 1\nservices:\n  - name: DB\n    image: docker.io/library/postgres:16\n    build: api\n  - name: web\n    ports: [\"8080:x\", \"9090:80\"]\n    volumes: [\"missing-dir:/data\"]\n    depends_on: {nope: healthy, web: started, job: healthy}\n    healthcheck: {tcp: 81}\n  - name: job\n    image: localhost/job:1\n    one_shot: true\n    ports: [\"9090:90\"]\n    depends_on: {web: completed}\n";
        let message = parse(text).expect_err("problems");
        for expected in [
            "hybrid-e2e.yaml:3:11: service name `DB`",
            "hybrid-e2e.yaml:4:12: service `DB` has both `image` and `build`",
            "hybrid-e2e.yaml:6:11: service `web` needs `image` (a reference to pull) or `build`",
            "hybrid-e2e.yaml:7:13: port `8080:x`",
            "hybrid-e2e.yaml:8:15: volume host path",
            "hybrid-e2e.yaml:9:24: `depends_on` names unknown service `nope`",
            "service `web` cannot depend on itself",
            "hybrid-e2e.yaml:9:52: `job` is a `one_shot`; wait for it with `completed`",
            "hybrid-e2e.yaml:10:24: the health check probes container port 81",
            "hybrid-e2e.yaml:14:13: host port 9090 is published twice (first at hybrid-e2e.yaml:7:23)",
            "hybrid-e2e.yaml:15:23: `web` is not a `one_shot`",
            "services depend on each other in a cycle: job -> web -> job",
        ] {
            assert!(message.contains(expected), "missing `{expected}` in:\n{message}");
        }
    }
}
