//! `services up` as runner steps: `network` (one network per run) first, then one step per
//! service. A service starts as soon as what it depends on reached its condition (`started`,
//! `healthy`, `completed`), so independent services start in parallel; it is ready when its
//! health check passes (a one-shot: when it exits 0). Transient engine failures (the pattern
//! table) are retried once; application failures (a one-shot exiting non-zero, a crash, a
//! failing health check) never are, and carry the container's last log lines.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;

use super::RunContext;
use super::classify::{self, Source};
use crate::config::DependsOnCondition;
use crate::exec::{self, ProcessSpec};
use crate::model::{Failure, FailureClass};
use crate::plan::{HealthProbe, PlannedService, PlannedServices};
use crate::runner::{Step, StepContext, StepResult};
use crate::tools::containers::{self, RunSpec};
use crate::tools::{ContainerEngine, QUERY_TIMEOUT};

/// The step that creates the run's network before any service.
pub(crate) const NETWORK_STEP: &str = "network";
/// How long a pull may take.
const PULL_TIMEOUT: Duration = Duration::from_secs(600);
/// How long `run --detach` may take (it returns once the container started).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// Log lines of a failed container kept in its failure (the report shows them).
const FAILURE_LOG_LINES: usize = 30;
/// Log lines per container written to diagnostics.
const DIAGNOSTIC_LOG_LINES: usize = 200;
/// Failed probes kept for the step log when a service ends unhealthy.
const PROBES_KEPT: usize = 20;
/// How long a dependent waits for the fail-fast cancellation after a dependency failed.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// Where a service can be reached from the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Endpoint {
    pub(crate) container_port: u16,
    pub(crate) host: String,
    pub(crate) host_port: u16,
}

/// What the services phase found out, for the outputs: each service's container and endpoints.
#[derive(Debug, Default)]
pub(crate) struct Started {
    endpoints: Mutex<BTreeMap<String, Vec<Endpoint>>>,
    /// Each running service's address on the run's network.
    addresses: Mutex<BTreeMap<String, String>>,
}

impl Started {
    pub(crate) fn endpoints(&self) -> BTreeMap<String, Vec<Endpoint>> {
        self.endpoints
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn record_address(&self, service: &str, address: String) {
        self.addresses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(service.to_owned(), address);
    }

    fn addresses(&self) -> Vec<(String, String)> {
        self.addresses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(name, address)| (name.clone(), address.clone()))
            .collect()
    }

    fn record(&self, service: &str, endpoints: Vec<Endpoint>) {
        self.endpoints
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(service.to_owned(), endpoints);
    }
}

/// How far a service got, for the services that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Started,
    Ready,
    Failed(FailureClass),
}

/// Sends "failed" if the step ends (or panics) before saying how it went, so no dependent hangs.
struct Signal(watch::Sender<State>);

impl Drop for Signal {
    fn drop(&mut self) {
        self.0.send_if_modified(|state| {
            if matches!(state, State::Pending | State::Started) {
                *state = State::Failed(FailureClass::Infrastructure);
                true
            } else {
                false
            }
        });
    }
}

/// What a test needs to reach the services, in config order: `SERVICE_HOST`, `SERVICE_PORT`
/// (the first port) and `SERVICE_PORT_<container port>` per service, then the run's id and
/// network. `services up` prints and writes them; `run` gives them to its test phase.
pub(crate) fn outputs(
    run_id: &str,
    network: &str,
    order: &[String],
    endpoints: &BTreeMap<String, Vec<Endpoint>>,
) -> Vec<(String, String)> {
    let mut outputs = Vec::new();
    for name in order {
        let prefix: String = name.to_ascii_uppercase().replace('-', "_");
        let Some(list) = endpoints.get(name) else {
            continue;
        };
        if let Some(first) = list.first() {
            outputs.push((format!("{prefix}_HOST"), first.host.clone()));
            outputs.push((format!("{prefix}_PORT"), first.host_port.to_string()));
        }
        for endpoint in list {
            outputs.push((
                format!("{prefix}_PORT_{}", endpoint.container_port),
                endpoint.host_port.to_string(),
            ));
        }
    }
    outputs.push(("SERVICES_RUN_ID".to_owned(), run_id.to_owned()));
    outputs.push(("SERVICES_NETWORK".to_owned(), network.to_owned()));
    outputs
}

/// The phase's steps: `network`, then one per service (run them all at once: they order
/// themselves), or why there are none.
pub(crate) fn steps(run: &Arc<RunContext>) -> Result<Vec<Step>, &'static str> {
    let engine = run.engine().ok_or("no container engine answered in preflight")?;
    let services = run.plan.services.clone();
    if services.services.is_empty() {
        return Err("no services configured");
    }
    Ok(service_steps(
        engine,
        Arc::new(services),
        run.plan.run_id.clone(),
        run.plan.fail_fast,
        Arc::clone(&run.services),
        run.plan.config_file.clone(),
    ))
}

fn service_steps(
    engine: Arc<ContainerEngine>,
    services: Arc<PlannedServices>,
    run_id: String,
    fail_fast: bool,
    started: Arc<Started>,
    config_file: Option<String>,
) -> Vec<Step> {
    let (network_tx, network_rx) = watch::channel(State::Pending);
    let mut states: HashMap<String, watch::Receiver<State>> = HashMap::new();
    let mut senders = Vec::new();
    for service in &services.services {
        let (tx, rx) = watch::channel(State::Pending);
        states.insert(service.name.clone(), rx);
        senders.push(tx);
    }
    let mut steps = Vec::with_capacity(services.services.len() + 1);
    {
        let (engine, services, run_id) = (Arc::clone(&engine), Arc::clone(&services), run_id.clone());
        steps.push(Step::new(NETWORK_STEP, move |context: StepContext| async move {
            let signal = Signal(network_tx);
            let spec = containers::network_create(&engine, &services.network, &run_id, &services.project);
            let result = run_with_retry(&context, &spec, RUN_TIMEOUT, || async {}).await;
            let _ = signal.0.send(match &result.failure {
                Some(failure) => State::Failed(failure.class),
                None => State::Ready,
            });
            result
        }));
    }
    for (index, sender) in senders.into_iter().enumerate() {
        let service = services.services[index].clone();
        let dependencies: Vec<(String, DependsOnCondition, watch::Receiver<State>)> = service
            .depends_on
            .iter()
            .filter_map(|(name, condition)| states.get(name).map(|rx| (name.clone(), *condition, rx.clone())))
            .collect();
        let network = network_rx.clone();
        let (engine, services, run_id, started, config_file) = (
            Arc::clone(&engine),
            Arc::clone(&services),
            run_id.clone(),
            Arc::clone(&started),
            config_file.clone(),
        );
        steps.push(Step::new(service.name.clone(), move |context: StepContext| async move {
            let signal = Signal(sender);
            let mut waits = vec![(NETWORK_STEP.to_owned(), DependsOnCondition::Healthy, network)];
            waits.extend(dependencies);
            for (name, condition, mut receiver) in waits {
                if name != NETWORK_STEP {
                    context.say(&format!("waiting for `{name}` to be {}", condition_word(condition)));
                }
                let state = tokio::select! {
                    biased;
                    () = context.cancel.cancelled() => return StepResult::ok(),
                    state = receiver.wait_for(|state| reached(*state, condition)) => state.map(|state| *state).unwrap_or(State::Failed(FailureClass::Infrastructure)),
                };
                if let State::Failed(class) = state {
                    let reason = if name == NETWORK_STEP {
                        format!("the network `{}` could not be created", services.network)
                    } else {
                        format!("`{name}`, which it depends on, did not become {}", condition_word(condition))
                    };
                    context.start_work();
                    let _ = signal.0.send(State::Failed(class));
                    if fail_fast {
                        let _ = tokio::time::timeout(CANCEL_GRACE, context.cancel.cancelled()).await;
                        if context.cancel.is_cancelled() {
                            return StepResult::ok();
                        }
                    }
                    return StepResult::failed(Failure::new(class, format!("not started: {reason}")));
                }
            }
            context.start_work();
            let mut result = start_service(&engine, &services, &service, &run_id, &context, &signal, &started).await;
            // Annotations point at the service in the config file.
            if let (Some(failure), Some(file)) = (result.failure.as_mut(), &config_file)
                && failure.file.is_none()
            {
                failure.file = Some(file.clone());
                failure.line = usize::try_from(service.line).ok().filter(|line| *line > 0);
            }
            let state = match (&result.failure, context.cancel.is_cancelled()) {
                (Some(failure), _) => State::Failed(failure.class),
                (None, true) => State::Failed(FailureClass::Infrastructure),
                (None, false) => State::Ready,
            };
            let _ = signal.0.send(state);
            result
        }));
    }
    steps
}

fn reached(state: State, condition: DependsOnCondition) -> bool {
    match state {
        State::Failed(_) | State::Ready => true,
        State::Started => condition == DependsOnCondition::Started,
        State::Pending => false,
    }
}

fn condition_word(condition: DependsOnCondition) -> &'static str {
    match condition {
        DependsOnCondition::Healthy => "healthy",
        DependsOnCondition::Completed => "completed (exit 0)",
        DependsOnCondition::Started => "started",
    }
}

/// Run an engine command; on a known transient failure (the pattern table), run `before_retry`
/// and try once more. Never retries application failures.
async fn run_with_retry<F, Fut>(
    context: &StepContext,
    spec: &ProcessSpec,
    timeout: Duration,
    before_retry: F,
) -> StepResult
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        let outcome = match context.exec(spec, Some(timeout)).await {
            Ok(outcome) => outcome,
            Err(error) => {
                return StepResult::failed(
                    Failure::new(FailureClass::Infrastructure, error.to_string())
                        .hint("is the container engine installed?"),
                );
            }
        };
        if outcome.success() || outcome.cancelled {
            return StepResult {
                attempts,
                ..StepResult::ok()
            };
        }
        let text = outcome.tail_text();
        let (class, pattern) = classify::classify(Source::Services, &text);
        if outcome.timed_out {
            return StepResult {
                attempts,
                ..StepResult::failed(
                    Failure::new(
                        FailureClass::Infrastructure,
                        format!(
                            "`{}` timed out after {}",
                            spec.args.first().map_or("", String::as_str),
                            humantime::format_duration(timeout)
                        ),
                    )
                    .tail(outcome.tail),
                )
            };
        }
        if pattern.is_some_and(|pattern| pattern.transient) && attempts == 1 && !context.cancel.is_cancelled() {
            context.say("a known transient engine failure: retrying once");
            before_retry().await;
            continue;
        }
        let what = spec.args.iter().take(2).cloned().collect::<Vec<_>>().join(" ");
        let mut failure = Failure::new(
            class,
            format!("`{} {what}` failed ({})", engine_name(spec), outcome.ending()),
        )
        .tail(outcome.tail);
        if let Some(pattern) = pattern {
            failure = failure.hint(pattern.hint);
        }
        return StepResult {
            attempts,
            ..StepResult::failed(failure)
        };
    }
}

fn engine_name(spec: &ProcessSpec) -> String {
    Path::new(&spec.program)
        .file_name()
        .map_or_else(|| spec.program.clone(), |name| name.to_string_lossy().into_owned())
}

/// Pull if missing, run, wait until ready; the endpoints go to `started`.
async fn start_service(
    engine: &ContainerEngine,
    services: &PlannedServices,
    service: &PlannedService,
    run_id: &str,
    context: &StepContext,
    signal: &Signal,
    started: &Started,
) -> StepResult {
    let inspect = engine.command().args(["image", "inspect", &service.image]);
    let present = exec::query(&inspect, QUERY_TIMEOUT).await.is_ok_and(|(ok, _)| ok);
    if !present {
        context.say(&format!("pulling {}", service.image));
        let pull = engine.command().args(["pull", &service.image]);
        let result = run_with_retry(context, &pull, PULL_TIMEOUT, || async {}).await;
        if result.failure.is_some() || context.cancel.is_cancelled() {
            return result;
        }
    }
    let ports: Vec<(u16, u16)> = service.ports.iter().map(|port| (port.host, port.container)).collect();
    let volumes: Vec<(String, String, bool)> = service
        .volumes
        .iter()
        .map(|(host, container, read_only)| (host.display().to_string(), container.clone(), *read_only))
        .collect();
    // Every service running now (those it depends on among them) resolves by name.
    let hosts = started.addresses();
    let spec = containers::run_command(
        engine,
        &RunSpec {
            container: &service.container,
            service: &service.name,
            network: &services.network,
            run_id,
            project: &services.project,
            image: &service.image,
            command: service.command.as_deref(),
            ports: &ports,
            env: &service.env,
            volumes: &volumes,
            ulimits: &service.ulimits,
            hosts: &hosts,
        },
    );
    let remove = containers::remove_command(engine).arg(service.container.as_str());
    let mut result = run_with_retry(context, &spec, RUN_TIMEOUT, || async {
        let _ = exec::query(&remove, QUERY_TIMEOUT).await;
    })
    .await;
    if result.failure.is_some() || context.cancel.is_cancelled() {
        return result;
    }
    if let Some(address) = containers::address_on(engine, &service.container, &services.network).await {
        started.record_address(&service.name, address);
    }
    let _ = signal.0.send(State::Started);
    let mut endpoints = Vec::new();
    for port in &service.ports {
        match containers::host_port(engine, &service.container, port.container).await {
            Ok((host, host_port)) => endpoints.push(Endpoint {
                container_port: port.container,
                host,
                host_port,
            }),
            Err(error) => {
                // The container may already be gone (a one-shot); the wait says why.
                context.say(&format!("no host port for {}: {error}", port.container));
            }
        }
    }
    started.record(&service.name, endpoints.clone());
    if let Some(failure) = wait_ready(engine, service, &endpoints, context).await {
        result.failure = Some(failure);
    }
    result
}

/// Wait until `service` is ready: a one-shot exited 0; a service's health check passed (or it
/// runs, without one). `None` when ready or cancelled.
async fn wait_ready(
    engine: &ContainerEngine,
    service: &PlannedService,
    endpoints: &[Endpoint],
    context: &StepContext,
) -> Option<Failure> {
    let started = Instant::now();
    let deadline = started + service.ready_timeout;
    let interval = service
        .health
        .as_ref()
        .map_or(Duration::from_millis(250), |health| health.interval);
    let mut failed_in_a_row = 0u32;
    let mut last_probe = String::new();
    let mut probes = Vec::new();
    loop {
        if context.cancel.is_cancelled() {
            return None;
        }
        let state = match containers::state(engine, &service.container).await {
            Ok(state) => state,
            Err(error) => {
                let (class, pattern) = classify::classify(Source::Services, &error);
                let mut failure = Failure::new(class, format!("cannot inspect the container: {error}"));
                if let Some(pattern) = pattern {
                    failure = failure.hint(pattern.hint);
                }
                return Some(failure);
            }
        };
        if state.exited() {
            let tail = last_logs(engine, &service.container, FAILURE_LOG_LINES).await;
            if service.one_shot && state.exit_code == 0 {
                context.say("completed (exit 0)");
                return None;
            }
            let message = if service.one_shot {
                format!("one-shot `{}` exited with code {}", service.name, state.exit_code)
            } else if state.oom_killed {
                format!(
                    "`{}` was killed for running out of memory before it was ready",
                    service.name
                )
            } else {
                format!(
                    "`{}` exited with code {} before it was ready (it crashed; its last log lines follow)",
                    service.name, state.exit_code
                )
            };
            let hint = if service.one_shot {
                "the one-shot's own output says why; it is not retried (an application failure)"
            } else {
                "the container's last log lines say why it stopped; it is not retried (an application failure)"
            };
            let mut failure = Failure::new(FailureClass::Application, message).hint(hint).tail(tail);
            if let Some(last) = failure.tail.last().cloned() {
                failure = failure.excerpt(last);
            }
            return Some(failure);
        }
        if !service.one_shot {
            match &service.health {
                None if state.status == "running" => {
                    context.say("running (no health check)");
                    return None;
                }
                None => {}
                Some(health) => {
                    let probe = probe(engine, service, &health.probe, endpoints, health.timeout).await;
                    let at = started.elapsed().as_secs_f64();
                    match probe {
                        Ok(()) => {
                            context.say(&format!("healthy after {at:.1}s ({})", describe(&health.probe)));
                            return None;
                        }
                        Err(why) => {
                            failed_in_a_row += 1;
                            if probes.len() == PROBES_KEPT {
                                probes.remove(0);
                            }
                            probes.push(format!("{at:>7.1}s  {why}"));
                            last_probe = why;
                            if health.retries > 0 && failed_in_a_row >= health.retries {
                                let tail = last_logs(engine, &service.container, FAILURE_LOG_LINES).await;
                                write_health_log(context, &probes);
                                return Some(
                                    Failure::new(
                                        FailureClass::Application,
                                        format!(
                                            "`{}` is unhealthy: {} failed {failed_in_a_row} time(s) in a row (last: {last_probe})",
                                            service.name,
                                            describe(&health.probe)
                                        ),
                                    )
                                    .hint("the service runs but does not answer its health check; its log lines follow")
                                    .tail(tail),
                                );
                            }
                        }
                    }
                }
            }
        }
        if Instant::now() >= deadline {
            let tail = last_logs(engine, &service.container, FAILURE_LOG_LINES).await;
            write_health_log(context, &probes);
            let what = if service.one_shot {
                "did not finish".to_owned()
            } else {
                format!(
                    "was not ready (state `{}`{})",
                    state.status,
                    if last_probe.is_empty() {
                        String::new()
                    } else {
                        format!("; last probe: {last_probe}")
                    }
                )
            };
            return Some(
                Failure::new(
                    FailureClass::Application,
                    format!(
                        "`{}` {what} within {}",
                        service.name,
                        humantime::format_duration(service.ready_timeout)
                    ),
                )
                .hint("raise `ready_timeout` if it is only slow; its log lines follow")
                .tail(tail),
            );
        }
        tokio::select! {
            () = tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now()))) => {}
            () = context.cancel.cancelled() => return None,
        }
    }
}

fn write_health_log(context: &StepContext, probes: &[String]) {
    for line in probes {
        context.say(&format!("probe failed at {line}"));
    }
}

fn describe(probe: &HealthProbe) -> String {
    match probe {
        HealthProbe::Exec(argv) => format!("`{}` in the container", argv.join(" ")),
        HealthProbe::Tcp(port) => format!("TCP port {port}"),
        HealthProbe::Http { port, path } => format!("HTTP GET {path} on port {port}"),
    }
}

/// One health probe; `Err` says why it failed.
async fn probe(
    engine: &ContainerEngine,
    service: &PlannedService,
    probe: &HealthProbe,
    endpoints: &[Endpoint],
    timeout: Duration,
) -> Result<(), String> {
    let endpoint = |port: u16| {
        endpoints
            .iter()
            .find(|endpoint| endpoint.container_port == port)
            .cloned()
            .ok_or_else(|| format!("container port {port} has no host port"))
    };
    match probe {
        HealthProbe::Exec(argv) => {
            let spec = engine
                .command()
                .args(["exec", service.container.as_str()])
                .args(argv.iter().cloned());
            match exec::capture(&spec, timeout).await {
                Ok((true, _, _)) => Ok(()),
                Ok((false, stdout, stderr)) => {
                    let text = format!("{} {}", stdout.trim(), stderr.trim());
                    Err(format!("exec failed: {}", last_line(&text)))
                }
                Err(error) => Err(error.to_string()),
            }
        }
        HealthProbe::Tcp(port) => {
            let endpoint = endpoint(*port)?;
            blocking(move || tcp_probe(&endpoint.host, endpoint.host_port, timeout)).await
        }
        HealthProbe::Http { port, path } => {
            let endpoint = endpoint(*port)?;
            let path = path.clone();
            blocking(move || http_probe(&endpoint.host, endpoint.host_port, &path, timeout)).await
        }
    }
}

async fn blocking(work: impl FnOnce() -> Result<(), String> + Send + 'static) -> Result<(), String> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|_| Err("the probe panicked".to_owned()))
}

fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let address = (host, port)
        .to_socket_addrs()
        .map_err(|error| format!("{host}:{port}: {error}"))?
        .next()
        .ok_or_else(|| format!("{host}:{port} resolves to nothing"))?;
    let stream = TcpStream::connect_timeout(&address, timeout).map_err(|error| format!("{host}:{port}: {error}"))?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    Ok(stream)
}

/// The port accepts a connection that stays open: an engine's userland port proxy accepts on
/// the host port even with nothing listening in the container, then closes at once.
fn tcp_probe(host: &str, port: u16, timeout: Duration) -> Result<(), String> {
    let mut stream = connect(host, port, timeout)?;
    let _ = stream.set_read_timeout(Some(timeout.min(Duration::from_millis(300))));
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => Err(format!(
            "{host}:{port} accepted and closed at once (nothing listening behind the port proxy?)"
        )),
        Ok(_) => Ok(()),
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ok(())
        }
        Err(error) => Err(format!("{host}:{port}: {error}")),
    }
}

/// `GET path` answers 2xx or 3xx.
fn http_probe(host: &str, port: u16, path: &str, timeout: Duration) -> Result<(), String> {
    let mut stream = connect(host, port, timeout)?;
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: hybrid-e2e\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|error| format!("{host}:{port}: {error}"))?;
    let mut head = Vec::new();
    let mut buffer = [0u8; 512];
    while !head.contains(&b'\n') && head.len() < 4096 {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => head.extend_from_slice(&buffer[..read]),
            Err(error) => return Err(format!("GET {path}: {error}")),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let status_line = line.lines().next().unwrap_or("").trim().to_owned();
    let code: Option<u16> = status_line.split_whitespace().nth(1).and_then(|code| code.parse().ok());
    match code {
        Some(code) if (200..400).contains(&code) => Ok(()),
        Some(_) => Err(format!("GET {path}: `{status_line}`")),
        None if status_line.is_empty() => Err(format!("GET {path}: no answer")),
        None => Err(format!("GET {path}: not HTTP: `{status_line}`")),
    }
}

fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// The container's last `lines` log lines (stdout and stderr).
pub(crate) async fn last_logs(engine: &ContainerEngine, container: &str, lines: usize) -> Vec<String> {
    let spec = engine.command().args(["logs", "--tail", &lines.to_string(), container]);
    match exec::query(&spec, QUERY_TIMEOUT).await {
        Ok((_, output)) => output.lines().map(str::to_owned).collect(),
        Err(error) => vec![error.to_string()],
    }
}

/// Before anything is removed: every container of the run's `inspect` and last log lines, to
/// `diagnostics/services/` in the report directory. Returns the files written.
pub(crate) async fn diagnose(engine: &ContainerEngine, services: &PlannedServices, report_dir: &Path) -> Vec<String> {
    let directory = report_dir.join("diagnostics").join("services");
    if std::fs::create_dir_all(&directory).is_err() {
        return Vec::new();
    }
    let mut written = Vec::new();
    for service in &services.services {
        let inspect = engine
            .command()
            .args(["inspect", "--type", "container", service.container.as_str()]);
        let Ok((true, stdout, _)) = exec::capture(&inspect, QUERY_TIMEOUT).await else {
            continue;
        };
        let path = directory.join(format!("{}.inspect.json", service.name));
        if std::fs::write(&path, redact_env(&stdout, &service.env)).is_ok() {
            written.push(path.display().to_string());
        }
        let state = containers::state(engine, &service.container).await.ok();
        let logs = last_logs(engine, &service.container, DIAGNOSTIC_LOG_LINES).await;
        let mut text = String::new();
        if let Some(state) = state {
            text.push_str(&format!(
                "# state: {} (exit code {}{})\n",
                state.status,
                state.exit_code,
                if state.oom_killed { ", OOM-killed" } else { "" }
            ));
        }
        text.push_str(&format!(
            "# last {DIAGNOSTIC_LOG_LINES} log lines of {}\n",
            service.container
        ));
        for line in logs {
            text.push_str(&line);
            text.push('\n');
        }
        let path = directory.join(format!("{}.log", service.name));
        if std::fs::write(&path, text).is_ok() {
            written.push(path.display().to_string());
        }
    }
    written
}

/// `inspect` output with the configured environment values replaced (they may be passwords).
fn redact_env(text: &str, env: &[(String, String)]) -> String {
    let mut text = text.to_owned();
    for (name, value) in env {
        if !value.is_empty() {
            text = text.replace(&format!("{name}={value}"), &format!("{name}=***"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_are_reached_in_order() {
        assert!(!reached(State::Pending, DependsOnCondition::Started));
        assert!(reached(State::Started, DependsOnCondition::Started));
        assert!(!reached(State::Started, DependsOnCondition::Healthy));
        assert!(!reached(State::Started, DependsOnCondition::Completed));
        assert!(reached(State::Ready, DependsOnCondition::Completed));
        assert!(reached(
            State::Failed(FailureClass::Application),
            DependsOnCondition::Healthy
        ));
    }

    #[test]
    fn environment_values_are_redacted_from_inspect() {
        let env = vec![("POSTGRES_PASSWORD".to_owned(), "s3cret".to_owned())];
        let text = redact_env("\"Env\": [\"POSTGRES_PASSWORD=s3cret\", \"PATH=/bin\"]", &env);
        assert!(
            !text.contains("s3cret") && text.contains("POSTGRES_PASSWORD=***"),
            "{text}"
        );
    }

    #[test]
    fn probes_over_loopback() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            for (index, stream) in listener.incoming().take(3).enumerate() {
                let mut stream = stream.expect("accept");
                match index {
                    // TCP: held open.
                    0 => std::thread::sleep(Duration::from_millis(400)),
                    // HTTP 200, then HTTP 503.
                    _ => {
                        let mut buffer = [0u8; 1024];
                        let _ = stream.read(&mut buffer);
                        let status = if index == 1 {
                            "200 OK"
                        } else {
                            "503 Service Unavailable"
                        };
                        let _ = stream.write_all(format!("HTTP/1.1 {status}\r\n\r\n").as_bytes());
                    }
                }
            }
        });
        let timeout = Duration::from_secs(2);
        assert_eq!(tcp_probe("127.0.0.1", port, timeout), Ok(()));
        assert_eq!(http_probe("127.0.0.1", port, "/healthz", timeout), Ok(()));
        let error = http_probe("127.0.0.1", port, "/healthz", timeout).expect_err("503");
        assert!(error.contains("503"), "{error}");
        server.join().expect("server");
        // Nothing listens any more.
        assert!(tcp_probe("127.0.0.1", port, timeout).is_err());
    }
}
