//! The cluster connection and discovery.
//!
//! The client comes from the kubeconfig the cluster phase exported (rustls with the one `ring`
//! provider). Discovery uses the aggregated endpoint (2 requests) and falls back to per-group
//! discovery on older servers.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, DynamicObject};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Discovery};
use kube::{Client, Config};
use tokio::sync::RwLock;

/// How long one API request may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

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

/// Whether the API server answers at all (`GET /version`, bounded). A refusal from the server is
/// an answer; only no connection, or none within the timeout, is not.
pub(crate) async fn answers(kubeconfig: &Path) -> Result<(), ClusterError> {
    let client = client(kubeconfig).await?;
    match tokio::time::timeout(REQUEST_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(_) | Err(kube::Error::Api(_))) => Ok(()),
        Ok(Err(error)) => Err(ClusterError::Unreachable(error.to_string())),
        Err(_) => Err(ClusterError::Unreachable(format!(
            "no answer within {}s",
            REQUEST_TIMEOUT.as_secs()
        ))),
    }
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
