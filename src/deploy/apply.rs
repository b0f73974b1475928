//! The cluster connection, discovery and server-side apply.
//!
//! The client comes from the kubeconfig the cluster phase exported (rustls with the one `ring`
//! provider). Discovery uses the aggregated endpoint (2 requests) and falls back to per-group
//! discovery on older servers. Every object is applied with field manager `hybrid-e2e`, `force`
//! and strict field validation, so a typo in a manifest is an error naming file, document and field.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope};
use kube::{Client, Config};
use tokio::sync::RwLock;

use super::objects::ManifestObject;
use crate::timing::FailureClass;

/// The field manager our applies own fields as.
pub(crate) const FIELD_MANAGER: &str = "hybrid-e2e";
/// How long one API request may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts for an apply that failed in a way worth retrying (a dropped connection, 429, 5xx).
const APPLY_ATTEMPTS: u32 = 3;

/// Why talking to the cluster failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClusterError {
    #[error("cannot read the kubeconfig {path}: {message}")]
    Kubeconfig { path: String, message: String },
    #[error("cannot reach the API server: {0}")]
    Unreachable(String),
    #[error("API discovery failed: {0}")]
    Discovery(String),
}

/// A connected cluster: the client and what it serves.
pub(crate) struct Session {
    pub(crate) client: Client,
    discovery: RwLock<Arc<Discovery>>,
}

/// A client for the kubeconfig the cluster phase wrote (no request is made yet).
pub(crate) async fn client(kubeconfig: &Path) -> Result<Client, ClusterError> {
    let config_error = |message: String| ClusterError::Kubeconfig {
        path: kubeconfig.display().to_string(),
        message,
    };
    let parsed = Kubeconfig::read_from(kubeconfig).map_err(|error| config_error(error.to_string()))?;
    let mut config = Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
        .await
        .map_err(|error| config_error(error.to_string()))?;
    config.connect_timeout = Some(Duration::from_secs(10));
    config.read_timeout = Some(REQUEST_TIMEOUT);
    config.write_timeout = Some(REQUEST_TIMEOUT);
    Client::try_from(config).map_err(|error| config_error(error.to_string()))
}

/// Connect, then discover what the server serves.
pub(crate) async fn connect(kubeconfig: &Path) -> Result<Session, ClusterError> {
    let client = client(kubeconfig).await?;
    let discovery = discover(&client).await?;
    Ok(Session {
        client,
        discovery: RwLock::new(Arc::new(discovery)),
    })
}

async fn discover(client: &Client) -> Result<Discovery, ClusterError> {
    let aggregated = tokio::time::timeout(REQUEST_TIMEOUT, Discovery::new(client.clone()).run_aggregated()).await;
    match aggregated {
        // kube asks for aggregated discovery with a plain `application/json` fallback: an older
        // server answers with the legacy lists, which parse as an empty discovery.
        Ok(Ok(discovery)) if discovery.has_group("") => return Ok(discovery),
        Ok(Ok(_)) => tracing::debug!("aggregated discovery not served; per-group discovery"),
        Ok(Err(kube::Error::Api(status))) if matches!(status.code, 404 | 406 | 415) => {
            tracing::debug!("aggregated discovery not served ({}); per-group discovery", status.code);
        }
        Ok(Err(error)) if is_unreachable(&error) => return Err(ClusterError::Unreachable(error.to_string())),
        Ok(Err(error)) => tracing::debug!("aggregated discovery failed ({error}); per-group discovery"),
        Err(_) => return Err(ClusterError::Unreachable("discovery timed out".to_owned())),
    }
    match tokio::time::timeout(REQUEST_TIMEOUT * 2, Discovery::new(client.clone()).run()).await {
        Ok(Ok(discovery)) => Ok(discovery),
        Ok(Err(error)) => Err(ClusterError::Discovery(error.to_string())),
        Err(_) => Err(ClusterError::Discovery("per-group discovery timed out".to_owned())),
    }
}

fn is_unreachable(error: &kube::Error) -> bool {
    matches!(error, kube::Error::HyperError(_) | kube::Error::Service(_))
}

/// Whether an error is worth another try: the connection, throttling or the server.
pub(crate) fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => matches!(status.code, 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

impl Session {
    /// Run discovery again (after CRDs become Established their kinds are served).
    pub(crate) async fn rediscover(&self) -> Result<(), ClusterError> {
        let discovery = discover(&self.client).await?;
        *self.discovery.write().await = Arc::new(discovery);
        Ok(())
    }

    /// The API resource serving `api_version`/`kind`.
    pub(crate) async fn resolve(&self, api_version: &str, kind: &str) -> Option<(ApiResource, ApiCapabilities)> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        self.discovery.read().await.resolve_gvk(&gvk)
    }

    /// The API for one object (namespaced objects without a namespace go to `default`).
    pub(crate) fn api(&self, resource: &ApiResource, namespaced: bool, namespace: Option<&str>) -> Api<DynamicObject> {
        if namespaced {
            Api::namespaced_with(self.client.clone(), namespace.unwrap_or("default"), resource)
        } else {
            Api::all_with(self.client.clone(), resource)
        }
    }
}

/// An object the server accepted.
#[derive(Debug, Clone)]
pub(crate) struct Applied {
    pub(crate) object: Arc<ManifestObject>,
    pub(crate) resource: ApiResource,
    /// `None` for cluster-scoped objects.
    pub(crate) namespace: Option<String>,
}

/// Why an object was not applied.
#[derive(Debug, Clone)]
pub(crate) struct ApplyError {
    pub(crate) object: Arc<ManifestObject>,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
    pub(crate) class: FailureClass,
}

impl ApplyError {
    fn new(object: &Arc<ManifestObject>, class: FailureClass, message: String) -> ApplyError {
        ApplyError {
            object: Arc::clone(object),
            message,
            hint: None,
            class,
        }
    }
}

/// The field a strict-validation error names: `.spec.replicsa: field not declared in schema`
/// (server-side apply) or `unknown field "spec.replicsa"` (strict decoding).
pub(crate) fn unknown_field(message: &str) -> Option<String> {
    if let Some(start) = message.find("unknown field \"") {
        let rest = &message[start + "unknown field \"".len()..];
        return rest.find('"').map(|end| rest[..end].to_owned());
    }
    let end = message.find(": field not declared in schema")?;
    let start = message[..end].rfind([' ', ':']).map_or(0, |index| index + 1);
    Some(message[start..end].trim_start_matches('.').to_owned())
}

/// Apply one object (server-side, forced, strictly validated).
pub(crate) async fn apply_one(session: &Session, object: &Arc<ManifestObject>) -> Result<Applied, ApplyError> {
    let Some((resource, capabilities)) = session.resolve(&object.api_version, &object.kind).await else {
        let mut error = ApplyError::new(
            object,
            FailureClass::Application,
            format!(
                "{} at {}: the cluster serves no kind `{}` in `{}`",
                object.describe(),
                object.location(),
                object.kind,
                object.api_version
            ),
        );
        error.hint = Some(
            "check apiVersion/kind for typos; a custom resource needs its CRD in `crds:` or in an earlier group"
                .to_owned(),
        );
        return Err(error);
    };
    let namespaced = capabilities.scope == Scope::Namespaced;
    let namespace = namespaced.then(|| object.namespace.clone().unwrap_or_else(|| "default".to_owned()));
    let api = session.api(&resource, namespaced, namespace.as_deref());
    let params = PatchParams::apply(FIELD_MANAGER).force().validation_strict();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let patched = tokio::time::timeout(
            REQUEST_TIMEOUT,
            api.patch(&object.name, &params, &Patch::Apply(&object.value)),
        )
        .await;
        let error = match patched {
            Ok(Ok(_)) => {
                return Ok(Applied {
                    object: Arc::clone(object),
                    resource,
                    namespace,
                });
            }
            Ok(Err(error)) if attempt < APPLY_ATTEMPTS && is_transient(&error) => {
                tracing::debug!("apply of {} failed ({error}); retrying", object.describe());
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
                continue;
            }
            Ok(Err(error)) => error,
            Err(_) => {
                return Err(ApplyError::new(
                    object,
                    FailureClass::Infrastructure,
                    format!(
                        "{} at {}: the API server did not answer within {}s",
                        object.describe(),
                        object.location(),
                        REQUEST_TIMEOUT.as_secs()
                    ),
                ));
            }
        };
        return Err(describe_apply_error(object, &error));
    }
}

fn describe_apply_error(object: &Arc<ManifestObject>, error: &kube::Error) -> ApplyError {
    let at = format!("{} at {}", object.describe(), object.location());
    let kube::Error::Api(status) = error else {
        return ApplyError::new(object, FailureClass::Infrastructure, format!("{at}: {error}"));
    };
    if let Some(field) = unknown_field(&status.message) {
        let mut failure = ApplyError::new(
            object,
            FailureClass::Application,
            format!("{at}: unknown field `{field}` (rejected by strict validation)"),
        );
        failure.hint = Some(format!(
            "`{field}` is not in the {} schema; fix the spelling or the indentation",
            object.kind
        ));
        return failure;
    }
    let (class, hint) = match (status.code, status.reason.as_str()) {
        (404, _) if status.message.starts_with("namespaces ") => (
            FailureClass::Application,
            Some("create the namespace first: list it under `namespaces:` or put a Namespace in the group"),
        ),
        (400 | 409 | 422, _) => (FailureClass::Application, None),
        (403, _) => (
            FailureClass::Infrastructure,
            Some("the kubeconfig's user may not apply this kind"),
        ),
        _ => (FailureClass::Infrastructure, None),
    };
    let mut failure = ApplyError::new(
        object,
        class,
        format!("{at}: {} ({} {})", status.message, status.code, status.reason),
    );
    failure.hint = hint.map(str::to_owned);
    failure
}

/// Apply every object, up to `concurrency` at a time; results in input order.
pub(crate) async fn apply_all(
    session: &Session,
    objects: &[Arc<ManifestObject>],
    concurrency: usize,
) -> Vec<Result<Applied, ApplyError>> {
    let applies: Vec<_> = objects
        .iter()
        .cloned()
        .map(|object| async move { apply_one(session, &object).await })
        .collect();
    futures::stream::iter(applies)
        .buffered(concurrency.max(1))
        .collect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_read_from_both_server_spellings() {
        assert_eq!(
            unknown_field(
                "failed to create typed patch object (team/api; apps/v1, Kind=Deployment): .spec.replicsa: field not declared in schema"
            )
            .as_deref(),
            Some("spec.replicsa")
        );
        assert_eq!(
            unknown_field(
                "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.template.spec.containers[0].imagePullPolicyy\""
            )
            .as_deref(),
            Some("spec.template.spec.containers[0].imagePullPolicyy")
        );
        assert_eq!(unknown_field("namespaces \"x\" not found"), None);
    }
}
