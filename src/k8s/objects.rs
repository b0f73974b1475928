//! The objects a deploy applies, each with where it came from (file, document, line) so that
//! every error and annotation can point at the manifest.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::manifests::{ManifestError, read_documents};
use super::yaml::Document;

/// One object from a manifest file.
#[derive(Debug, Clone)]
pub(crate) struct ManifestObject {
    pub(crate) file: PathBuf,
    /// 1-based document number in the file (what people count in an editor).
    pub(crate) document: usize,
    /// 1-based line where the document starts (its first non-comment line).
    pub(crate) line: usize,
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) name: String,
    /// As written; namespaced objects without one go to `default`.
    pub(crate) namespace: Option<String>,
    pub(crate) value: Value,
}

impl ManifestObject {
    /// `Deployment/datastorage`.
    pub(crate) fn describe(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// `deploy/app.yaml:12 (document 2)`.
    pub(crate) fn location(&self) -> String {
        format!("{}:{} (document {})", self.file.display(), self.line, self.document)
    }

    /// Whether `selector` (`deployment/api`, `Deployment/api`, `deployments/api`) names it.
    pub(crate) fn matches(&self, selector: &str) -> bool {
        let Some((kind, name)) = selector.split_once('/') else {
            return false;
        };
        let kind = kind.to_ascii_lowercase();
        let own = self.kind.to_ascii_lowercase();
        name == self.name && (kind == own || kind == format!("{own}s") || kind == format!("{own}es"))
    }

    pub(crate) fn is_namespace(&self) -> bool {
        self.api_version == "v1" && self.kind == "Namespace"
    }

    pub(crate) fn is_crd(&self) -> bool {
        self.api_version.starts_with("apiextensions.k8s.io/") && self.kind == "CustomResourceDefinition"
    }

    /// Whether a group applies and waits for it: Namespaces and CRDs go to the
    /// `namespaces-crds` step before every group.
    pub(crate) fn belongs_to_its_group(&self) -> bool {
        !self.is_namespace() && !self.is_crd()
    }
}

/// What is wrong with a group's `wait_for`, one line per entry that names nothing the group
/// waits for. `objects` are all of the group's manifests' objects, Namespaces and CRDs included
/// (they are applied and waited for before every group, so naming one is explained).
pub(crate) fn wait_for_problems(wait_for: &[String], objects: &[ManifestObject]) -> Vec<String> {
    let mut problems = Vec::new();
    for selector in wait_for {
        let named: Vec<&ManifestObject> = objects.iter().filter(|object| object.matches(selector)).collect();
        if named.iter().any(|object| object.belongs_to_its_group()) {
            continue;
        }
        problems.push(if !named.is_empty() {
            format!(
                "wait_for `{selector}` names a Namespace or CRD, which are applied and waited for before every group; drop it from wait_for"
            )
        } else {
            format!(
                "wait_for `{selector}` matches no object in its manifests (write it as kind/name, e.g. deployment/datastorage)"
            )
        });
    }
    problems
}

impl fmt::Display for ManifestObject {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} at {}", self.describe(), self.location())
    }
}

/// Why manifests could not be turned into objects.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ObjectError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{file}:{line} (document {document}): {message}")]
    Invalid {
        file: PathBuf,
        line: usize,
        document: usize,
        message: String,
    },
}

impl ObjectError {
    pub(crate) fn file(&self) -> Option<(&Path, Option<usize>)> {
        match self {
            ObjectError::Manifest(error) => Some(error.location()),
            ObjectError::Invalid { file, line, .. } => Some((file, Some(*line))),
        }
    }
}

/// Every object in `files`, in order, as `kubectl apply -f` would send them (lists expanded into
/// their items), each remembering its file, document and line.
pub(crate) fn load(files: &[PathBuf]) -> Result<Vec<ManifestObject>, ObjectError> {
    let mut objects = Vec::new();
    for file in files {
        for document in read_documents(file)? {
            let Document { value, line, number } = document;
            let invalid = |message: String| ObjectError::Invalid {
                file: file.clone(),
                line,
                document: number,
                message,
            };
            let field = |pointer: &str| value.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
            // kubectl asks the server and fails there; we need the group to find the resource.
            let api_version = field("/apiVersion").ok_or_else(|| invalid("missing `apiVersion`".to_owned()))?;
            // The reader already refused a document without one.
            let kind = field("/kind").ok_or_else(|| invalid("missing `kind`".to_owned()))?;
            let name = field("/metadata/name").ok_or_else(|| {
                invalid(if value.pointer("/metadata/generateName").is_some() {
                    format!("{kind} uses `metadata.generateName`: server-side apply needs a fixed `metadata.name`")
                } else {
                    format!("{kind} has no `metadata.name`")
                })
            })?;
            objects.push(ManifestObject {
                file: file.clone(),
                document: number,
                line,
                namespace: field("/metadata/namespace"),
                api_version,
                kind,
                name,
                value,
            });
        }
    }
    Ok(objects)
}

/// A Namespace object for a namespace named in the config.
pub(crate) fn namespace(name: &str, config_file: &Path) -> ManifestObject {
    ManifestObject {
        file: config_file.to_owned(),
        document: 1,
        line: 1,
        api_version: "v1".to_owned(),
        kind: "Namespace".to_owned(),
        name: name.to_owned(),
        namespace: None,
        value: serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_file_line_and_number() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("app.yaml");
        let text = "# leading comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\n# a comment\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: b\n  namespace: team\nspec:\n  template:\n    spec:\n      containers:\n        - name: c\n          args:\n            - |\n              ---\n              not a marker\n";
        std::fs::write(&path, text).expect("write");
        let objects = load(std::slice::from_ref(&path)).expect("valid");
        let found: Vec<(String, usize, usize, Option<&str>)> = objects
            .iter()
            .map(|object| {
                (
                    object.describe(),
                    object.document,
                    object.line,
                    object.namespace.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![
                ("ConfigMap/a".to_owned(), 1, 3, None),
                ("Deployment/b".to_owned(), 2, 9, Some("team")),
            ]
        );
        assert!(objects[1].matches("deployment/b"));
        assert!(objects[1].matches("deployments/b"));
        assert!(!objects[1].matches("service/b"));
        assert_eq!(objects[1].location(), format!("{}:9 (document 2)", path.display()));
    }

    #[test]
    fn wait_for_entries_that_name_nothing_the_group_waits_for_are_explained() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("app.yaml");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: team}\n",
        )
        .expect("write");
        let objects = load(std::slice::from_ref(&path)).expect("valid");
        let wait_for = ["deployments/api", "deployment/apii", "namespace/team"].map(str::to_owned);
        assert_eq!(
            wait_for_problems(&wait_for, &objects),
            vec![
                "wait_for `deployment/apii` matches no object in its manifests (write it as kind/name, e.g. deployment/datastorage)",
                "wait_for `namespace/team` names a Namespace or CRD, which are applied and waited for before every group; drop it from wait_for",
            ]
        );
    }

    #[test]
    fn lists_are_expanded_and_missing_names_are_located() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("list.yaml");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}\n  - {apiVersion: v1, kind: Secret, metadata: {name: second}}\n",
        )
        .expect("write");
        let objects = load(std::slice::from_ref(&path)).expect("valid");
        assert_eq!(objects.len(), 2);
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {generateName: run-}\n",
        )
        .expect("write");
        let error = load(std::slice::from_ref(&path)).expect_err("no name");
        let message = error.to_string();
        assert!(
            message.ends_with(
                ":5 (document 2): Job uses `metadata.generateName`: server-side apply needs a fixed `metadata.name`"
            ),
            "{message}"
        );
    }
}
