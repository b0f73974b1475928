//! The cluster readiness gate: `kind create --wait` returns when the control plane answers, not
//! when workloads can run. Before anything is deployed every node must be Ready, CoreDNS
//! available, and the `default` ServiceAccount present in every target namespace (a pod created
//! before it exists is rejected).

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, ServiceAccount};
use kube::Client;
use kube::api::{Api, ListParams};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::k8s::client::REQUEST_TIMEOUT;
use crate::k8s::readiness::{self, Context, Readiness};

/// How often the gate looks in `mode: pipelined`, where readiness is event-driven and the gate's
/// few reads must not add a polling interval to the critical path.
const PIPELINED_POLL: Duration = Duration::from_millis(50);

/// The gate's polling interval: `poll`, or at most [`PIPELINED_POLL`] when `pipelined`.
pub(crate) fn poll(poll: Duration, pipelined: bool) -> Duration {
    if pipelined { poll.min(PIPELINED_POLL) } else { poll }
}

/// What the gate checks.
#[derive(Debug, Clone, Default)]
pub(crate) struct GateChecks {
    pub(crate) nodes: bool,
    pub(crate) coredns: bool,
    /// Namespaces whose `default` ServiceAccount must exist.
    pub(crate) service_accounts: Vec<String>,
}

/// Why the gate did not open.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GateError {
    #[error("the cluster was not ready within {}: {}", humantime::format_duration(*.timeout), .missing.join("; "))]
    TimedOut { timeout: Duration, missing: Vec<String> },
    #[error("cancelled")]
    Cancelled,
}

/// One API read, bounded by the request timeout and by `deadline` (so `ready_timeout` is a hard
/// limit, not one plus a request).
async fn request<T>(
    deadline: Instant,
    future: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(REQUEST_TIMEOUT.min(left), future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("the API server did not answer".to_owned()),
    }
}

/// A look near the deadline still gets this long (all its reads together): it decides the final
/// "what is missing".
const LAST_LOOK: Duration = Duration::from_millis(500);

/// What is not ready yet (empty: the gate is open); every read ends by `deadline`, or
/// [`LAST_LOOK`] from now if that is later.
pub(crate) async fn missing(client: &Client, checks: &GateChecks, deadline: Instant) -> Vec<String> {
    let deadline = deadline.max(Instant::now() + LAST_LOOK);
    let mut missing = Vec::new();
    if checks.nodes {
        match request(deadline, Api::<Node>::all(client.clone()).list(&ListParams::default())).await {
            Ok(list) if list.items.is_empty() => missing.push("no node has registered yet".to_owned()),
            Ok(list) => {
                for node in list.items {
                    let name = node.metadata.name.clone().unwrap_or_default();
                    let ready = node
                        .status
                        .as_ref()
                        .and_then(|status| status.conditions.as_ref())
                        .and_then(|conditions| conditions.iter().find(|condition| condition.type_ == "Ready"));
                    match ready {
                        Some(condition) if condition.status == "True" => {}
                        Some(condition) => missing.push(format!(
                            "node {name} not Ready ({}: {})",
                            condition.reason.as_deref().unwrap_or("no reason"),
                            condition.message.as_deref().unwrap_or("")
                        )),
                        None => missing.push(format!("node {name} has no Ready condition yet")),
                    }
                }
            }
            Err(error) => missing.push(format!("cannot list nodes: {error}")),
        }
    }
    if checks.coredns {
        let api: Api<Deployment> = Api::namespaced(client.clone(), "kube-system");
        match request(deadline, api.get_opt("coredns")).await {
            Ok(Some(deployment)) => {
                let mut value = serde_json::to_value(deployment).unwrap_or(Value::Null);
                if let Some(map) = value.as_object_mut() {
                    map.insert("kind".to_owned(), Value::String("Deployment".to_owned()));
                }
                match readiness::evaluate(&value, &Context::default()) {
                    Readiness::Current => {}
                    Readiness::InProgress(message) => missing.push(format!("CoreDNS not available: {message}")),
                    Readiness::Failed(problem) => {
                        missing.push(format!("CoreDNS failed: {problem}"));
                    }
                }
            }
            Ok(None) => missing.push("CoreDNS (kube-system/coredns) does not exist yet".to_owned()),
            Err(error) => missing.push(format!("cannot read kube-system/coredns: {error}")),
        }
    }
    for namespace in &checks.service_accounts {
        let api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
        match request(deadline, api.get_opt("default")).await {
            Ok(Some(_)) => {}
            Ok(None) => missing.push(format!("ServiceAccount {namespace}/default does not exist yet")),
            Err(error) => missing.push(format!("cannot read ServiceAccount {namespace}/default: {error}")),
        }
    }
    missing
}

/// Poll until nothing is missing, the timeout passes or `cancel` fires. `on_change` gets what
/// is missing whenever that changes.
pub(crate) async fn wait_until_ready(
    client: &Client,
    checks: &GateChecks,
    timeout: Duration,
    poll: Duration,
    cancel: &CancellationToken,
    on_change: &mut (dyn FnMut(String) + Send),
) -> Result<(), GateError> {
    let deadline = Instant::now()
        .checked_add(timeout)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600));
    let mut last: Option<Vec<String>> = None;
    loop {
        let now_missing = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(GateError::Cancelled),
            now_missing = missing(client, checks, deadline) => now_missing,
        };
        if now_missing.is_empty() {
            on_change("cluster ready: nodes Ready, CoreDNS available, default ServiceAccounts present".to_owned());
            return Ok(());
        }
        if last.as_ref() != Some(&now_missing) {
            on_change(format!("waiting: {}", now_missing.join("; ")));
            last = Some(now_missing.clone());
        }
        if Instant::now() >= deadline {
            return Err(GateError::TimedOut {
                timeout,
                missing: now_missing,
            });
        }
        tokio::select! {
            () = tokio::time::sleep(poll.min(deadline.saturating_duration_since(Instant::now()))) => {}
            () = cancel.cancelled() => return Err(GateError::Cancelled),
        }
    }
}
