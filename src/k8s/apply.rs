//! Server-side apply: every object with field manager `hybrid-e2e`, `force` and strict field
//! validation, so a typo in a manifest is an error naming file, document and field.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::discovery::{ApiResource, Scope};

use super::client::{REQUEST_TIMEOUT, Session, is_transient};
use super::objects::ManifestObject;
use crate::model::FailureClass;

/// The field manager our applies own fields as.
pub(crate) const FIELD_MANAGER: &str = "hybrid-e2e";
/// Attempts for an apply that failed in a way worth retrying (a dropped connection, 429, 5xx).
const APPLY_ATTEMPTS: u32 = 3;

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
            Ok(Err(error)) if attempt < APPLY_ATTEMPTS && is_transient(&error) && !rejects_the_object(&error) => {
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

/// A 500 that is the server's verdict on the object, not a server in trouble: the apiserver does
/// not wrap structured-merge-diff's typed-patch errors or a failed conversion into a status of
/// their own, so they arrive as 500. Retrying cannot help.
fn rejects_the_object(error: &kube::Error) -> bool {
    let kube::Error::Api(status) = error else {
        return false;
    };
    status.code == 500
        && (status.message.starts_with("failed to create typed patch object")
            || status.message.starts_with("failed to convert new object"))
}

/// A hint for what the server rejected, from its message.
fn rejection_hint(code: u16, message: &str) -> Option<&'static str> {
    Some(match code {
        500 if message.contains("omits key field") => {
            "every entry of that list needs its key field (a container, an init container, a volume or an env var needs a `name`)"
        }
        500 if message.contains("cannot convert float64") => {
            "an integer field has a fractional value; write a whole number"
        }
        409 if message.starts_with("Apply failed with") => {
            "another field manager owns these fields; hybrid-e2e applies with force, so this comes from something changing them concurrently"
        }
        409 if message.contains("the object has been modified") => {
            "the manifest carries `metadata.resourceVersion` (copied from a live object?); remove it"
        }
        422 => "the API server's validation rejected the field(s) named above; fix them in the manifest",
        _ => return None,
    })
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
        (400 | 409 | 422, _) => (FailureClass::Application, rejection_hint(status.code, &status.message)),
        (500, _) if rejects_the_object(error) => (FailureClass::Application, rejection_hint(500, &status.message)),
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
