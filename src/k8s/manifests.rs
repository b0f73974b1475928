//! Manifests: multi-document YAML read as `kubectl apply -f` reads it (YAML 1.1 scalars, see
//! [`super::yaml`]), and the images they run checked against what the build phase produced —
//! before anything is applied.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::yaml::{self, Document, YamlError};
use crate::files;
use crate::image_ref::ImageReference;

/// A container image a manifest asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageUse {
    pub(crate) file: PathBuf,
    /// 1-based document number in the file.
    pub(crate) document: usize,
    /// 1-based line where the object's document starts.
    pub(crate) line: usize,
    /// `Deployment/datastorage`.
    pub(crate) object: String,
    pub(crate) container: String,
    pub(crate) image: String,
    pub(crate) pull_policy: Option<String>,
}

/// Why a manifest file could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ManifestError {
    #[error(transparent)]
    Read(#[from] files::ReadError),
    /// `kubectl apply -f` would refuse the file too (the position is 1-based).
    #[error("{}:{}:{}: {}", path.display(), error.line, error.column, error.problem)]
    Yaml { path: PathBuf, error: YamlError },
}

impl ManifestError {
    /// The file and, for unreadable YAML, the line.
    pub(crate) fn location(&self) -> (&Path, Option<usize>) {
        match self {
            ManifestError::Read(error) => (error.path(), None),
            ManifestError::Yaml { path, error } => (path, Some(error.line)),
        }
    }
}

/// The objects `kubectl apply -f` would send for a manifest file, each with its line and document
/// number (empty documents dropped, lists flattened into their items).
pub(crate) fn read_documents(path: &Path) -> Result<Vec<Document>, ManifestError> {
    let text = files::read_text_capped(path, files::MANIFEST_LIMIT)?;
    yaml::read_manifest(&text).map_err(|error| ManifestError::Yaml {
        path: path.to_owned(),
        error,
    })
}

/// The pod spec of a workload document, wherever its kind keeps it.
fn pod_spec(document: &Value) -> Option<&Value> {
    match document.get("kind")?.as_str()? {
        "Pod" => document.get("spec"),
        "CronJob" => document.pointer("/spec/jobTemplate/spec/template/spec"),
        _ => document.pointer("/spec/template/spec"),
    }
}

/// The images of every container (init containers too) in `documents`.
pub(crate) fn image_uses(file: &Path, documents: &[Document]) -> Vec<ImageUse> {
    let mut uses = Vec::new();
    for Document {
        value: document,
        line,
        number,
    } in documents
    {
        let Some(spec) = pod_spec(document) else { continue };
        let object = format!(
            "{}/{}",
            document.get("kind").and_then(Value::as_str).unwrap_or("?"),
            document
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("?")
        );
        for list in ["initContainers", "containers"] {
            for container in spec.get(list).and_then(Value::as_array).into_iter().flatten() {
                let Some(image) = container.get("image").and_then(Value::as_str) else {
                    continue;
                };
                uses.push(ImageUse {
                    file: file.to_owned(),
                    document: *number,
                    line: *line,
                    object: object.clone(),
                    container: container.get("name").and_then(Value::as_str).unwrap_or("?").to_owned(),
                    image: image.to_owned(),
                    pull_policy: container
                        .get("imagePullPolicy")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                });
            }
        }
    }
    uses
}

/// Problems with how a manifest uses the images this run builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageProblem {
    pub(crate) use_: ImageUse,
    pub(crate) message: String,
    /// An error fails the run before anything is applied; otherwise a warning.
    pub(crate) error: bool,
}

/// An image this run builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BuiltImage {
    /// Its fully-qualified reference.
    pub(crate) reference: String,
    /// Its tag is the run's own, which no manifest can name.
    pub(crate) per_run_tag: bool,
}

/// Compare manifest images with the fully-qualified references built this run.
pub(crate) fn check_images(uses: &[ImageUse], built: &[BuiltImage]) -> Vec<ImageProblem> {
    let built: Vec<(String, ImageReference, bool)> = built
        .iter()
        .filter_map(|image| {
            Some((
                image.reference.clone(),
                ImageReference::parse(&image.reference).ok()?,
                image.per_run_tag,
            ))
        })
        .collect();
    let mut problems = Vec::new();
    for use_ in uses {
        let exact = built.iter().any(|(reference, _, _)| *reference == use_.image);
        let parsed = ImageReference::parse(&use_.image).ok();
        // The same repository path under another spelling: the `localhost/` trap.
        let near = parsed.as_ref().and_then(|parsed| {
            built
                .iter()
                .find(|(reference, candidate, _)| *reference != use_.image && candidate.path == parsed.path)
        });
        if exact {
            let policy = use_.pull_policy.as_deref();
            let latest = parsed
                .as_ref()
                .is_some_and(|parsed| parsed.tag.as_deref() == Some("latest"));
            if policy == Some("Always") || (policy.is_none() && latest) {
                problems.push(ImageProblem {
                    use_: use_.clone(),
                    message: format!(
                        "{} container `{}` pulls `{}` every time (imagePullPolicy {}), so the image loaded into Kind is ignored; set imagePullPolicy: IfNotPresent (or Never)",
                        use_.object,
                        use_.container,
                        use_.image,
                        policy.unwrap_or("Always, the default for :latest")
                    ),
                    error: true,
                });
            }
        } else if let Some((reference, candidate, per_run_tag)) = near {
            // A per-run tag cannot be written into a manifest: ask for a fixed one instead.
            let fix = if *per_run_tag {
                let fixed = ImageReference {
                    tag: Some("e2e".to_owned()),
                    ..candidate.clone()
                };
                format!(
                    "give the image a fixed tag in hybrid-e2e.yaml (e.g. `image: {fixed}`) and run that in the manifest (this run's `{reference}` changes every run)"
                )
            } else {
                format!("use `{reference}`")
            };
            problems.push(ImageProblem {
                use_: use_.clone(),
                message: format!(
                    "{} container `{}` runs `{}`, but this run builds and loads `{reference}`: containerd reads an unqualified name as docker.io/library/..., so the pod would fail with ErrImageNeverPull or ImagePullBackOff; {fix}",
                    use_.object, use_.container, use_.image
                ),
                error: true,
            });
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n    spec:\n      initContainers:\n        - {name: migrate, image: localhost/team/api:e2e-1, imagePullPolicy: IfNotPresent}\n      containers:\n        - {name: api, image: team/api:e2e-1}\n---\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n            - {name: job, image: localhost/team/api:e2e-1, imagePullPolicy: Always}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: db}\nspec:\n  containers:\n    - {name: db, image: docker.io/library/postgres:16}\n";

    #[test]
    fn finds_every_container_image_in_multi_document_yaml() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("app.yaml");
        std::fs::write(&path, MANIFEST).expect("write");
        let documents = read_documents(&path).expect("valid YAML");
        assert_eq!(documents.len(), 3, "the empty document is dropped");
        let uses = image_uses(&path, &documents);
        let found: Vec<(&str, &str)> = uses
            .iter()
            .map(|use_| (use_.object.as_str(), use_.image.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                ("Deployment/api", "localhost/team/api:e2e-1"),
                ("Deployment/api", "team/api:e2e-1"),
                ("CronJob/nightly", "localhost/team/api:e2e-1"),
                ("Pod/db", "docker.io/library/postgres:16"),
            ]
        );
        let built = BuiltImage {
            reference: "localhost/team/api:e2e-1".to_owned(),
            per_run_tag: false,
        };
        let problems = check_images(&uses, &[built]);
        let messages: Vec<&str> = problems.iter().map(|problem| problem.message.as_str()).collect();
        assert_eq!(problems.len(), 2, "{messages:#?}");
        assert!(
            messages[0].contains("runs `team/api:e2e-1`, but this run builds and loads `localhost/team/api:e2e-1`")
        );
        assert!(messages[1].contains("imagePullPolicy Always"));
        assert!(
            messages[0].ends_with("use `localhost/team/api:e2e-1`"),
            "{}",
            messages[0]
        );
        // A per-run tag cannot go into a manifest: the hint asks for a fixed tag instead.
        let per_run = BuiltImage {
            reference: "localhost/team/api:e2e-1".to_owned(),
            per_run_tag: true,
        };
        let problems = check_images(&uses, &[per_run]);
        assert!(
            problems[0]
                .message
                .ends_with("give the image a fixed tag in hybrid-e2e.yaml (e.g. `image: localhost/team/api:e2e`) and run that in the manifest (this run's `localhost/team/api:e2e-1` changes every run)"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn bad_yaml_names_the_file() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("bad.yaml");
        std::fs::write(&path, "kind: Deployment\nmetadata: [unclosed\n").expect("write");
        let error = read_documents(&path).expect_err("invalid");
        assert!(error.to_string().contains("bad.yaml:"), "{error}");
        assert_eq!(error.location().1, Some(2), "the unclosed bracket: {error}");
    }
}
