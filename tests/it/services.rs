//! `hybrid-e2e services up|down` on the machine's real Docker and Podman, with containers from
//! the imported busybox base image: a TCP listener (`busybox nc`), an HTTP server (`busybox
//! httpd`), one-shots exiting 0 or 1, a health check that never passes. `.ci/test.sh` sets
//! `HYBRID_E2E_REQUIRE_ENGINES=1`, so there a missing engine fails these tests instead of
//! skipping them. Where `podman run` cannot start containers on this machine (rlimits), the
//! Podman test says so on stderr and checks that the failure is classified with its remedy.

use std::io::{Read as _, Write as _};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{BASE_IMAGE, Project, engine_ready, stderr, stdout};

/// Exit codes (docs/exit-codes.md).
const SETUP_FAILED: i32 = 1;
const INFRASTRUCTURE: i32 = 5;
const CANCELLED: i32 = 130;

/// A TCP listener that opens its port after `delay` seconds (so health gating is visible).
fn listener(name: &str, port: u16, delay: u32, extra: &str) -> String {
    format!(
        "  - name: {name}\n    image: {BASE_IMAGE}\n    command: [sh, -c, \"sleep {delay}; exec busybox nc -ll -p {port} -e cat\"]\n    ports: [\"{port}\"]\n    healthcheck: {{tcp: {port}, interval: 100ms}}\n{extra}"
    )
}

/// A one-shot printing `words` and exiting `code`.
fn one_shot(name: &str, code: u32, words: &str, extra: &str) -> String {
    format!(
        "  - name: {name}\n    image: {BASE_IMAGE}\n    command: [sh, -c, \"echo {words}; sleep 0.5; exit {code}\"]\n    one_shot: true\n{extra}"
    )
}

/// An HTTP server answering `GET /busybox` with a file.
fn web(name: &str, extra: &str) -> String {
    format!(
        "  - name: {name}\n    image: {BASE_IMAGE}\n    command: [busybox, httpd, -f, -p, \"8080\", -h, /bin]\n    ports: [\"8080\"]\n    env: {{API_TOKEN: not-to-be-printed}}\n    healthcheck: {{http: {{port: 8080, path: /busybox}}, interval: 100ms}}\n{extra}"
    )
}

fn config(services: &[String], ulimits: bool) -> String {
    let mut text = String::from("version: 1\nservices:\n");
    for service in services {
        text.push_str(service);
        if ulimits {
            text.push_str("    ulimits: {nofile: 1024, nproc: 1024}\n");
        }
    }
    text
}

fn up(project: &Project, engine: &str) -> std::process::Output {
    project.run(&["services", "up", "--engine", engine], &[])
}

fn step<'a>(timings: &'a serde_json::Value, phase: &str, name: &str) -> &'a serde_json::Value {
    timings["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .find(|entry| entry["name"] == phase)
        .and_then(|entry| entry["steps"].as_array())
        .and_then(|steps| steps.iter().find(|step| step["name"] == name))
        .unwrap_or_else(|| panic!("no step {phase}/{name} in {timings}"))
}

fn time(value: &serde_json::Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().expect("timestamp")).expect("RFC 3339")
}

/// Containers (running or not) carrying `label`.
fn labelled(engine: &str, label: &str) -> Vec<String> {
    let output = Command::new(engine)
        .args([
            "ps",
            "--all",
            "--filter",
            &format!("label={label}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .expect("ps");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The project label's value `services up` computes: a hash of the config file's absolute path.
fn project_id(project: &Project) -> String {
    use sha2::Digest as _;
    let path = project
        .path()
        .canonicalize()
        .expect("project path")
        .join("hybrid-e2e.yaml");
    let digest = sha2::Sha256::digest(path.display().to_string().as_bytes());
    digest[..6].iter().map(|byte| format!("{byte:02x}")).collect()
}

fn dotenv(project: &Project) -> std::collections::BTreeMap<String, String> {
    std::fs::read_to_string(project.path().join("hybrid-e2e-report/services.env"))
        .expect("services.env")
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// `podman run` works here as is, only with explicit ulimits, or not at all.
enum PodmanRun {
    Works,
    NeedsUlimits(String),
    Broken(String),
}

fn podman_run() -> PodmanRun {
    let attempt = |ulimits: bool| {
        let mut command = Command::new("podman");
        command.args(["run", "--rm"]);
        if ulimits {
            command.args(["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]);
        }
        let output = command.args([BASE_IMAGE, "true"]).output().expect("podman");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        )
    };
    match attempt(false) {
        (true, _) => PodmanRun::Works,
        (false, plain) => match attempt(true) {
            (true, _) => PodmanRun::NeedsUlimits(plain),
            (false, error) => PodmanRun::Broken(error),
        },
    }
}

/// The full story on one engine: parallel start, ordering and health gating, outputs, stale
/// containers stopping the next `up` at preflight, `down` removing exactly them, twice.
fn ordering_health_outputs_stale_and_down(engine: &str, ulimits: bool) {
    let services = [
        listener("db", 5432, 1, ""),
        // Independent of everything: starts at once, beside `db`.
        listener("cache", 6379, 0, ""),
        // Reaches `db` by its name on the run's network (on Podman's CNI backend without DNS too).
        format!(
            "  - name: migrate\n    image: {BASE_IMAGE}\n    command: [sh, -c, \"echo ping | busybox nc -w 2 db 5432 | busybox grep ping\"]\n    one_shot: true\n    depends_on: {{db: healthy}}\n"
        ),
        web("api", "    depends_on: {migrate: completed, cache: healthy}\n"),
    ];
    let project = Project::real(&config(&services, ulimits), &[]);
    let output = up(&project, engine);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let timings = project.timings();
    assert_eq!(timings["status"], "ok", "{timings}");
    assert_eq!(timings["engine"], engine);
    let run_id = timings["run_id"].as_str().expect("run id").to_owned();
    let (db, cache, migrate, api) = (
        step(&timings, "services", "db"),
        step(&timings, "services", "cache"),
        step(&timings, "services", "migrate"),
        step(&timings, "services", "api"),
    );
    for service in [db, cache, migrate, api] {
        assert_eq!(service["status"], "ok", "{service}");
    }
    // `cache` and `db` start together; `migrate` only after `db` is healthy (its listener opens
    // after 1 s); `api` only after `migrate` exited 0.
    assert!(time(&cache["started_at"]) < time(&db["finished_at"]), "{cache} {db}");
    assert!(
        time(&migrate["started_at"]) >= time(&db["finished_at"]),
        "{migrate} {db}"
    );
    assert!(migrate["waited_seconds"].as_f64().expect("waited") >= 0.9, "{migrate}");
    assert!(
        time(&api["started_at"]) >= time(&migrate["finished_at"]),
        "{api} {migrate}"
    );
    // The outputs: stdout, services.env; the port answers from the host.
    let env = dotenv(&project);
    assert_eq!(env["SERVICES_RUN_ID"], run_id);
    assert_eq!(env["API_HOST"], "127.0.0.1");
    assert_eq!(env["API_PORT"], env["API_PORT_8080"]);
    assert!(
        env.contains_key("DB_PORT_5432") && env.contains_key("CACHE_PORT_6379"),
        "{env:?}"
    );
    let printed = stdout(&output);
    assert!(printed.contains(&format!("API_PORT={}", env["API_PORT"])), "{printed}");
    let port: u16 = env["API_PORT"].parse().expect("port");
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("api answers");
    stream.write_all(b"GET /busybox HTTP/1.0\r\n\r\n").expect("request");
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).expect("response");
    let status = String::from_utf8_lossy(&head).into_owned();
    assert!(status.starts_with("HTTP/1.") && status.ends_with(" 200"), "{status}");
    // Secrets stay out of everything written.
    let everything = format!("{printed}{}", stderr(&output));
    assert!(!everything.contains("not-to-be-printed"), "{everything}");
    for entry in walk(&project.path().join("hybrid-e2e-report")) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(
            !text.contains("not-to-be-printed"),
            "{} leaks the value",
            entry.display()
        );
    }
    // Every container carries the run's label, and the network is the run's own.
    let label = format!("io.hybrid-e2e.services.run={run_id}");
    let mut started = labelled(engine, &label);
    started.sort();
    let suffix = run_id.rsplit('-').next().expect("suffix");
    let mut expected: Vec<String> = ["api", "cache", "db", "migrate"]
        .iter()
        .map(|name| format!("hybrid-e2e-{suffix}-{name}"))
        .collect();
    expected.sort();
    assert_eq!(started, expected);
    // A second `up` meets the first one's containers at preflight, and names them.
    let again = up(&project, engine);
    assert_eq!(again.status.code(), Some(INFRASTRUCTURE), "{}", stderr(&again));
    let text = stderr(&again);
    assert!(
        text.contains("an earlier run of this project left container(s)")
            && text.contains(&expected[0])
            && text.contains("services down --all"),
        "{text}"
    );
    assert_eq!(labelled(engine, &label).len(), 4, "a failed preflight removes nothing");
    // `down` removes exactly the first run's containers and network; a second `down` is a no-op.
    let down = project.run(&["services", "down", "--engine", engine], &[]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    let removed = stdout(&down);
    for name in &expected {
        assert!(removed.contains(&format!("removed container {name}")), "{removed}");
    }
    assert!(
        removed.contains(&format!("removed network hybrid-e2e-{suffix}")),
        "{removed}"
    );
    assert!(labelled(engine, &label).is_empty());
    let twice = project.run(&["services", "down", "--engine", engine], &[]);
    assert_eq!(twice.status.code(), Some(0), "{}", stderr(&twice));
    assert!(stdout(&twice).contains("nothing to remove"), "{}", stdout(&twice));
    assert!(!project.path().join("hybrid-e2e-report/services.env").exists());
}

fn walk(directory: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![directory.to_owned()];
    while let Some(directory) = stack.pop() {
        for entry in std::fs::read_dir(directory).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn docker_starts_in_dependency_order_health_gated_and_down_removes_exactly_that() {
    if !engine_ready("docker") {
        return;
    }
    ordering_health_outputs_stale_and_down("docker", false);
}

#[test]
fn podman_starts_in_dependency_order_or_says_why_it_cannot() {
    if !engine_ready("podman") {
        return;
    }
    match podman_run() {
        PodmanRun::Works => ordering_health_outputs_stale_and_down("podman", false),
        PodmanRun::NeedsUlimits(error) => {
            eprintln!(
                "note: `podman run` cannot start containers on this machine with Podman's default rlimits ({}); the services declare `ulimits:` instead",
                error.lines().last().unwrap_or_default()
            );
            // Without `ulimits:` the failure is named, classified and remedied, not retried.
            let project = Project::real(&config(&[listener("db", 5432, 0, "")], false), &[]);
            let output = up(&project, "podman");
            assert_eq!(output.status.code(), Some(INFRASTRUCTURE), "{}", stderr(&output));
            let db = step(&project.timings(), "services", "db").clone();
            assert_eq!(db["failure_class"], "infrastructure", "{db}");
            assert_eq!(db["attempts"], 1, "{db}");
            assert!(db["hint"].as_str().expect("hint").contains("`ulimits:`"), "{db}");
            ordering_health_outputs_stale_and_down("podman", true);
        }
        PodmanRun::Broken(error) => {
            eprintln!("skipping: `podman run` cannot start containers on this machine at all: {error}");
        }
    }
}

#[test]
fn a_failing_migration_is_an_application_failure_with_its_output_and_is_not_retried() {
    if !engine_ready("docker") {
        return;
    }
    let services = [
        listener("db", 5432, 0, ""),
        one_shot(
            "migrate",
            1,
            "ERROR: relation users does not exist",
            "    depends_on: {db: healthy}\n",
        ),
        web("api", "    depends_on: {migrate: completed}\n"),
    ];
    let project = Project::real(&config(&services, false), &[]);
    let output = up(&project, "docker");
    assert_eq!(output.status.code(), Some(SETUP_FAILED), "{}", stderr(&output));
    let timings = project.timings();
    assert_eq!(timings["status"], "failed");
    assert_eq!(timings["failure_class"], "application");
    assert_eq!(timings["failed_phase"], "services");
    let migrate = step(&timings, "services", "migrate");
    assert_eq!(migrate["attempts"], 1, "never retried: {migrate}");
    assert!(
        migrate["message"]
            .as_str()
            .expect("message")
            .contains("exited with code 1"),
        "{migrate}"
    );
    assert!(
        migrate["tail"].as_array().expect("tail").iter().any(|line| line
            .as_str()
            .is_some_and(|line| line.contains("relation users does not exist"))),
        "the one-shot's own output is in the report: {migrate}"
    );
    assert_eq!(migrate["file"], "hybrid-e2e.yaml", "{migrate}");
    assert_eq!(step(&timings, "services", "api")["status"], "cancelled");
    // Diagnostics were captured before everything was removed.
    let diagnostics = project.path().join("hybrid-e2e-report/diagnostics/services");
    let log = std::fs::read_to_string(diagnostics.join("migrate.log")).expect("migrate.log");
    assert!(
        log.contains("exit code 1") && log.contains("relation users does not exist"),
        "{log}"
    );
    assert!(diagnostics.join("db.inspect.json").is_file());
    let teardown = step(&timings, "teardown", "services");
    assert_eq!(teardown["status"], "ok", "{teardown}");
    let run_id = timings["run_id"].as_str().expect("run id");
    assert!(labelled("docker", &format!("io.hybrid-e2e.services.run={run_id}")).is_empty());
    let junit = std::fs::read_to_string(project.path().join("hybrid-e2e-report/junit.xml")).expect("junit");
    assert!(junit.contains("migrate"), "{junit}");
    let summary = std::fs::read_to_string(project.path().join("hybrid-e2e-report/summary.md")).expect("summary");
    assert!(
        summary.contains("| services | ❌ failed") && summary.contains("· network `hybrid-e2e-"),
        "{summary}"
    );
}

#[test]
fn a_failing_health_check_makes_the_service_unhealthy_after_its_retries() {
    if !engine_ready("docker") {
        return;
    }
    let service = format!(
        "  - name: api\n    image: {BASE_IMAGE}\n    command: [sleep, \"300\"]\n    healthcheck: {{exec: [sh, -c, \"echo not ready; exit 1\"], interval: 100ms, retries: 3}}\n"
    );
    let project = Project::real(&config(&[service], false), &[]);
    let output = up(&project, "docker");
    assert_eq!(output.status.code(), Some(SETUP_FAILED), "{}", stderr(&output));
    let api = step(&project.timings(), "services", "api").clone();
    let message = api["message"].as_str().expect("message");
    assert!(
        message.contains("unhealthy") && message.contains("3 time(s) in a row") && message.contains("not ready"),
        "{api}"
    );
    assert_eq!(api["failure_class"], "application");
    let log = std::fs::read_to_string(project.path().join("hybrid-e2e-report/logs/services/api.log")).expect("log");
    assert!(log.contains("probe failed"), "{log}");
}

#[test]
fn a_host_port_in_use_stops_preflight_and_names_the_process() {
    if !engine_ready("docker") {
        return;
    }
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("addr").port();
    let service =
        format!("  - name: db\n    image: {BASE_IMAGE}\n    command: [sleep, \"300\"]\n    ports: [\"{port}:5432\"]\n");
    let project = Project::real(&config(&[service], false), &[]);
    let output = up(&project, "docker");
    assert_eq!(output.status.code(), Some(INFRASTRUCTURE), "{}", stderr(&output));
    let ports = step(&project.timings(), "preflight", "ports").clone();
    let message = ports["message"].as_str().expect("message");
    assert!(
        message.contains(&format!("127.0.0.1:{port} (service `db`)"))
            && message.contains(&format!("(pid {})", std::process::id())),
        "{ports}"
    );
    assert!(ports["hint"].as_str().expect("hint").contains("kill PID"), "{ports}");
    let timings = project.timings();
    let services = timings["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .find(|phase| phase["name"] == "services")
        .expect("services phase");
    assert_eq!(services["status"], "skipped", "nothing was started: {services}");
}

#[test]
fn sigterm_during_up_removes_everything_started_and_writes_the_report() {
    if !engine_ready("docker") {
        return;
    }
    // `db` never becomes healthy; `api` waits for it.
    let services = [
        format!(
            "  - name: db\n    image: {BASE_IMAGE}\n    command: [sleep, \"300\"]\n    healthcheck: {{exec: [\"false\"], interval: 200ms}}\n    ready_timeout: 2m\n"
        ),
        web("api", "    depends_on: {db: healthy}\n"),
        listener("cache", 6379, 0, ""),
    ];
    let project = Project::real(&config(&services, false), &[]);
    let child = project
        .command(&["services", "up", "--engine", "docker"], &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    let project_label = format!("io.hybrid-e2e.services.project={}", project_id(&project));
    // Wait until `db` and `cache` run, so more than one container is removed.
    while labelled("docker", &project_label).len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the services never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let run_ids = Command::new("docker")
        .args([
            "ps",
            "--all",
            "--filter",
            &format!("label={project_label}"),
            "--format",
            "{{.Label \"io.hybrid-e2e.services.run\"}}",
        ])
        .output()
        .expect("ps");
    let run_id = String::from_utf8_lossy(&run_ids.stdout)
        .lines()
        .next()
        .expect("a run id")
        .to_owned();
    let label = format!("io.hybrid-e2e.services.run={run_id}");
    let pid = child.id();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill")
            .success()
    );
    let output = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(CANCELLED), "{text}");
    let timings = project.timings();
    assert_eq!(timings["status"], "cancelled", "{timings}");
    assert_eq!(step(&timings, "teardown", "services")["status"], "ok", "{timings}");
    assert!(
        labelled("docker", &label).is_empty(),
        "left behind: {:?}",
        labelled("docker", &label)
    );
    let networks = Command::new("docker")
        .args([
            "network",
            "ls",
            "--filter",
            &format!("label={label}"),
            "--format",
            "{{.Name}}",
        ])
        .output()
        .expect("network ls");
    assert!(String::from_utf8_lossy(&networks.stdout).trim().is_empty());
    assert!(!project.path().join("hybrid-e2e-report/services.env").exists());
}

#[test]
fn cleanup_removes_service_containers_too_and_outputs_reach_github() {
    if !engine_ready("docker") {
        return;
    }
    let project = Project::real(&config(&[listener("db", 5432, 0, "")], false), &[]);
    let outputs = project.path().join("github-output");
    let output = project.run(
        &["services", "up", "--engine", "docker", "--no-check-run"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", outputs.to_str().expect("path")),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = std::fs::read_to_string(&outputs).expect("GITHUB_OUTPUT written");
    let env = dotenv(&project);
    for key in ["DB_HOST", "DB_PORT", "DB_PORT_5432", "SERVICES_RUN_ID", "status"] {
        assert!(
            text.contains(&format!("{key}<<ghadelimiter_")),
            "{key} missing in {text}"
        );
    }
    assert!(text.contains(&format!("\n{}\n", env["DB_PORT_5432"])), "{text}");
    let run_id = project.timings()["run_id"].as_str().expect("run id").to_owned();
    let cleanup = project.run(&["cleanup", "--engine", "docker"], &[]);
    assert_eq!(cleanup.status.code(), Some(0), "{}", stderr(&cleanup));
    let suffix = run_id.rsplit('-').next().expect("suffix");
    assert!(
        stdout(&cleanup).contains(&format!("deleted service container hybrid-e2e-{suffix}-db")),
        "{}",
        stdout(&cleanup)
    );
    assert!(labelled("docker", &format!("io.hybrid-e2e.services.run={run_id}")).is_empty());
}

#[test]
fn a_service_that_crashes_is_an_application_failure_with_its_last_lines() {
    if !engine_ready("docker") {
        return;
    }
    let service = format!(
        "  - name: api\n    image: {BASE_IMAGE}\n    command: [sh, -c, \"echo starting; echo 'panic: config missing'; exit 2\"]\n    ports: [\"8080\"]\n    healthcheck: {{tcp: 8080, interval: 100ms}}\n"
    );
    let project = Project::real(&config(&[service], false), &[]);
    let output = up(&project, "docker");
    assert_eq!(output.status.code(), Some(SETUP_FAILED), "{}", stderr(&output));
    let api = step(&project.timings(), "services", "api").clone();
    assert!(
        api["message"]
            .as_str()
            .expect("message")
            .contains("exited with code 2 before it was ready"),
        "{api}"
    );
    assert_eq!(api["attempts"], 1, "{api}");
    assert_eq!(api["excerpt"], "panic: config missing", "{api}");
    assert!(stderr(&output).contains("panic: config missing"), "{}", stderr(&output));
}

#[test]
fn a_transient_engine_failure_is_retried_once_after_removing_the_half_made_container() {
    if !engine_ready("docker") {
        return;
    }
    let project = Project::real(&config(&[listener("db", 5432, 0, "")], false), &[]);
    // The real docker, whose first `run` creates the container and then reports Podman's
    // transient `internal libpod error` (the seed's wording).
    let wrapper = project.path().join("flaky-docker");
    let marker = project.path().join("failed-once");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ \"$1\" = run ] && [ ! -e {marker} ]; then\n  touch {marker}\n  docker \"$@\" >/dev/null\n  echo 'Error: unable to start container \"db\": internal libpod error' >&2\n  exit 125\nfi\nexec docker \"$@\"\n",
            marker = marker.display()
        ),
    )
    .expect("wrapper");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let output = project.run(
        &["services", "up", "--engine", "docker"],
        &[("HYBRID_E2E_DOCKER", wrapper.to_str().expect("path"))],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(marker.exists(), "the failure was injected");
    let db = step(&project.timings(), "services", "db").clone();
    assert_eq!(db["status"], "ok", "{db}");
    assert_eq!(db["attempts"], 2, "retried once: {db}");
    let log = std::fs::read_to_string(project.path().join("hybrid-e2e-report/logs/services/db.log")).expect("log");
    assert!(
        log.contains("internal libpod error") && log.contains("retrying once"),
        "{log}"
    );
    let down = project.run(&["services", "down", "--engine", "docker"], &[]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
}

#[test]
fn a_host_port_published_by_a_container_is_named_by_the_container() {
    if !engine_ready("docker") {
        return;
    }
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = free.local_addr().expect("addr").port();
    drop(free);
    let holder = format!("hybrid-e2e-test-holder-{port}");
    let started = Command::new("docker")
        .args(["run", "--detach", "--rm", "--name", &holder, "--publish"])
        .arg(format!("127.0.0.1:{port}:80"))
        .args([BASE_IMAGE, "sleep", "120"])
        .output()
        .expect("docker run");
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    let service =
        format!("  - name: db\n    image: {BASE_IMAGE}\n    command: [sleep, \"300\"]\n    ports: [\"{port}:5432\"]\n");
    let project = Project::real(&config(&[service], false), &[]);
    let output = up(&project, "docker");
    let _ = Command::new("docker").args(["rm", "--force", &holder]).output();
    assert_eq!(output.status.code(), Some(INFRASTRUCTURE), "{}", stderr(&output));
    let ports = step(&project.timings(), "preflight", "ports").clone();
    assert!(
        ports["message"]
            .as_str()
            .expect("message")
            .contains(&format!("container `{holder}`")),
        "{ports}"
    );
}

#[test]
fn a_service_built_from_images_is_built_first_and_runs_under_the_run_reference() {
    if !engine_ready("docker") {
        return;
    }
    let text = "version: 1\nimages:\n  - name: tool\n    image: localhost/it-services/tool\n    dockerfile: tool.Dockerfile\n  - name: unused\n    image: localhost/it-services/unused\n    dockerfile: tool.Dockerfile\nservices:\n  - name: seed\n    build: tool\n    command: [cat, /seeded]\n    one_shot: true\n";
    let project = Project::real(
        text,
        &[(
            "tool.Dockerfile",
            &format!("FROM {BASE_IMAGE}\nRUN echo seeded-by-the-build > /seeded\n"),
        )],
    );
    let output = up(&project, "docker");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let timings = project.timings();
    let images: Vec<String> = timings["images"]
        .as_array()
        .expect("images")
        .iter()
        .filter_map(|image| image.as_str().map(str::to_owned))
        .collect();
    assert_eq!(images.len(), 1, "only what a service runs is built: {images:?}");
    assert!(images[0].starts_with("localhost/it-services/tool:e2e-"), "{images:?}");
    assert_eq!(step(&timings, "build", "tool")["status"], "ok");
    assert_eq!(step(&timings, "services", "seed")["status"], "ok");
    let run_id = timings["run_id"].as_str().expect("run id");
    let suffix = run_id.rsplit('-').next().expect("suffix");
    let logs = Command::new("docker")
        .args(["logs", &format!("hybrid-e2e-{suffix}-seed")])
        .output()
        .expect("logs");
    assert_eq!(String::from_utf8_lossy(&logs.stdout).trim(), "seeded-by-the-build");
    let down = project.run(&["services", "down", "--engine", "docker"], &[]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    let _ = Command::new("docker")
        .args(["image", "rm", "--force", &images[0]])
        .output();
}

#[test]
fn preflight_checks_the_engine_storage_root_and_a_podman_that_does_not_answer() {
    if !engine_ready("docker") || !engine_ready("podman") {
        return;
    }
    let project = Project::real(&config(&[listener("db", 5432, 0, "")], false), &[]);
    // Free disk is read under the engine's storage root, not the report directory's disk.
    let output = project.run(
        &["services", "up", "--engine", "docker", "--min-free-disk", "1048576"],
        &[],
    );
    assert_eq!(output.status.code(), Some(INFRASTRUCTURE), "{}", stderr(&output));
    let disk = step(&project.timings(), "preflight", "disk").clone();
    let root = Command::new("docker")
        .args(["info", "--format", "{{.DockerRootDir}}"])
        .output()
        .expect("docker info");
    let root = String::from_utf8_lossy(&root.stdout).trim().to_owned();
    let message = disk["message"].as_str().expect("message");
    assert!(
        message.contains(&format!("free at {root}")) && message.contains("the docker storage root"),
        "{disk}"
    );
    assert!(
        disk["hint"].as_str().expect("hint").contains("docker system prune -af"),
        "{disk}"
    );
    // A Podman whose `version` answers but whose service does not (`podman info` fails).
    let wrapper = project.path().join("stuck-podman");
    std::fs::write(
        &wrapper,
        "#!/bin/sh\nif [ \"$1\" = info ]; then\n  echo 'Error: unable to connect to Podman socket: Get \"http://d/v4.3.1/libpod/_ping\": dial unix /run/podman/podman.sock: connect: connection refused' >&2\n  exit 125\nfi\nexec podman \"$@\"\n",
    )
    .expect("wrapper");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let output = project.run(
        &["services", "up", "--engine", "podman"],
        &[("HYBRID_E2E_PODMAN", wrapper.to_str().expect("path"))],
    );
    assert_eq!(output.status.code(), Some(INFRASTRUCTURE), "{}", stderr(&output));
    let disk = step(&project.timings(), "preflight", "disk").clone();
    assert!(
        disk["message"]
            .as_str()
            .expect("message")
            .contains("`podman info` does not answer")
            && disk["message"]
                .as_str()
                .expect("message")
                .contains("connection refused"),
        "{disk}"
    );
    assert!(
        disk["hint"].as_str().expect("hint").contains("podman machine start"),
        "{disk}"
    );
}

#[test]
fn bad_services_config_is_a_usage_error_at_its_line_and_no_services_is_said() {
    let project = Project::new(
        "version: 1\nservices:\n  - name: api\n    image: localhost/api:1\n    depends_on: {db: healthy}\n    healthcheck: {tcp: 8080}\n",
        &[],
    );
    let output = project.run(&["services", "up"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("hybrid-e2e.yaml:5:") && text.contains("unknown service `db`"),
        "{text}"
    );
    assert!(
        text.contains("hybrid-e2e.yaml:6:") && text.contains("must publish it"),
        "{text}"
    );
    assert!(!project.path().join("hybrid-e2e-report").exists(), "nothing ran");
    let empty = Project::new("version: 1\n", &[]);
    let output = empty.run(&["services", "up"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("has no `services:`"), "{}", stderr(&output));
    // `down` with nothing to do is not an error.
    let output = empty.run(&["services", "down"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("nothing to remove"), "{}", stdout(&output));
}

/// `run` with `services:` and `test:`: after the setup the services start (health-gated), the
/// suite gets their endpoints (`DB_HOST`, `DB_PORT`, … as `services up` prints them) and reaches
/// them, and the services are removed with the run — the suite's failure keeps diagnostics first.
#[test]
fn run_starts_the_services_before_its_test_phase_and_removes_them_after() {
    if !engine_ready("docker") {
        return;
    }
    for (suite_exit, expected) in [(0, 0), (1, 8)] {
        let services = config(&[listener("db", 5432, 0, "")], false);
        let config = format!(
            "{services}test:\n  command: [bash, -c, 'echo \"$DB_HOST:$DB_PORT $SERVICES_NETWORK\" > seen.txt && exec 3<>/dev/tcp/$DB_HOST/$DB_PORT && exit {suite_exit}']\n  timeout: 30s\n"
        );
        let project = Project::real(&config, &[]);
        let output = project.run(&["run", "--engine", "docker"], &[]);
        assert_eq!(output.status.code(), Some(expected), "{}", stderr(&output));
        let timings = project.timings();
        let names: Vec<&str> = timings["phases"]
            .as_array()
            .expect("phases")
            .iter()
            .filter_map(|phase| phase["name"].as_str())
            .collect();
        let position = |name: &str| names.iter().position(|phase| *phase == name);
        assert!(
            position("deploy") < position("services") && position("services") < position("test"),
            "services after the setup, before the suite: {names:?}"
        );
        assert_eq!(step(&timings, "services", "db")["status"], "ok");
        // The suite saw the endpoints and connected (bash's /dev/tcp fails on a closed port).
        let seen = std::fs::read_to_string(project.path().join("seen.txt")).expect("the suite ran");
        let run_id = timings["run_id"].as_str().expect("run id");
        assert!(seen.starts_with("127.0.0.1:"), "{seen}");
        assert!(seen.contains(" hybrid-e2e-"), "the run's network: {seen}");
        // Nothing of the run is left, whatever the suite's outcome.
        assert_eq!(step(&timings, "teardown", "services")["status"], "ok");
        assert!(
            labelled("docker", &format!("io.hybrid-e2e.services.run={run_id}")).is_empty(),
            "the run's services are removed"
        );
        if expected != 0 {
            assert!(
                project
                    .path()
                    .join("hybrid-e2e-report/diagnostics/services/db.log")
                    .is_file(),
                "diagnostics of the services before their removal"
            );
        }
    }
}
