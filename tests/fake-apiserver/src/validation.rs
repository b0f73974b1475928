//! What a real API server rejects in a server-side apply of the objects our users apply, with its
//! messages: the typed-patch errors of structured-merge-diff (HTTP 500, no reason), the decoding of
//! an integer field (`cannot convert float64 to int32`), the validation of apps/batch/core objects
//! and of custom resources against their CRD's schema (422 `Invalid` with `details.causes`), and
//! field-manager conflicts (409 `Conflict`).
//!
//! Messages follow kubernetes' `field.Error` (`spec.selector: Required value`),
//! `apierrors.NewInvalid` (`Deployment.apps "api" is invalid: ...`, one error alone, several in
//! `[...]`) and the field manager's `NewConflictError`. Only the rules listed in the crate docs are
//! implemented; everything else is accepted, as before.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

/// One `field.Error`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FieldError {
    pub(crate) field: String,
    pub(crate) kind: ErrorKind,
    pub(crate) detail: String,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ErrorKind {
    Required,
    /// The bad value as Go's `field.Error` prints it.
    Invalid(String),
    NotSupported(String),
    Forbidden,
}

impl FieldError {
    fn new(field: impl Into<String>, kind: ErrorKind, detail: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            kind,
            detail: detail.into(),
        }
    }

    fn required(field: impl Into<String>) -> FieldError {
        FieldError::new(field, ErrorKind::Required, "")
    }

    fn invalid(field: impl Into<String>, value: String, detail: impl Into<String>) -> FieldError {
        FieldError::new(field, ErrorKind::Invalid(value), detail)
    }

    fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> FieldError {
        let quoted: Vec<String> = supported.iter().map(|value| go_quote(value)).collect();
        FieldError::new(
            field,
            ErrorKind::NotSupported(go_quote(value)),
            format!("supported values: {}", quoted.join(", ")),
        )
    }

    /// `field.Error.ErrorBody`.
    pub(crate) fn body(&self) -> String {
        let mut body = match &self.kind {
            ErrorKind::Required => "Required value".to_owned(),
            ErrorKind::Forbidden => "Forbidden".to_owned(),
            ErrorKind::Invalid(value) => format!("Invalid value: {value}"),
            ErrorKind::NotSupported(value) => format!("Unsupported value: {value}"),
        };
        if !self.detail.is_empty() {
            body.push_str(": ");
            body.push_str(&self.detail);
        }
        body
    }

    fn cause_type(&self) -> &'static str {
        match self.kind {
            ErrorKind::Required => "FieldValueRequired",
            ErrorKind::Invalid(_) => "FieldValueInvalid",
            ErrorKind::NotSupported(_) => "FieldValueNotSupported",
            ErrorKind::Forbidden => "FieldValueForbidden",
        }
    }
}

/// Go's `%q` for the strings we print (ASCII-safe; close enough for names and enum values).
fn go_quote(text: &str) -> String {
    format!("{text:?}")
}

/// A JSON value as `field.Invalid` prints it: numbers and booleans plainly, strings quoted, maps
/// of strings as `map[string]string{...}` (Go sorts map keys).
fn go_value(value: &Value) -> String {
    match value {
        Value::String(text) => go_quote(text),
        Value::Object(map) if map.values().all(Value::is_string) => {
            let mut pairs: Vec<String> = map
                .iter()
                .map(|(key, value)| format!("{}:{}", go_quote(key), go_quote(value.as_str().unwrap_or_default())))
                .collect();
            pairs.sort();
            format!("map[string]string{{{}}}", pairs.join(", "))
        }
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    }
}

/// A float64 as Go's `%v` prints it (`10`, not `10.0`).
fn go_float(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e21 {
        format!("{value:.0}")
    } else {
        value.to_string()
    }
}

/// A label selector as Go's `%#v` prints a `metav1.LabelSelector` (match expressions abbreviated).
fn go_label_selector(selector: &Value) -> String {
    let labels = match selector.get("matchLabels") {
        Some(labels @ Value::Object(_)) => go_value(labels),
        _ => "map[string]string(nil)".to_owned(),
    };
    let expressions = match selector.get("matchExpressions").and_then(Value::as_array) {
        Some(items) if !items.is_empty() => format!("[]v1.LabelSelectorRequirement{{/* {} */}}", items.len()),
        _ => "[]v1.LabelSelectorRequirement(nil)".to_owned(),
    };
    format!("v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{expressions}}}")
}

/// `apierrors.NewInvalid`: 422 `Invalid`, one cause per error.
pub(crate) fn invalid_status(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Value {
    let qualified = if group.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}.{group}")
    };
    let rendered: Vec<String> = errors
        .iter()
        .map(|error| format!("{}: {}", error.field, error.body()))
        .collect();
    let aggregate = match rendered.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    let causes: Vec<Value> = errors
        .iter()
        .map(|error| json!({"reason": error.cause_type(), "message": error.body(), "field": error.field}))
        .collect();
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("{qualified} {} is invalid: {aggregate}", go_quote(name)),
        "reason": "Invalid",
        "details": {"name": name, "group": group, "kind": kind, "causes": causes},
        "code": 422})
}

/// A status for an error the API server does not turn into a status of its own (`ErrorToAPIStatus`:
/// 500, no reason): structured-merge-diff's typed-patch errors and failed conversions.
pub(crate) fn internal_status(message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "code": 500})
}

/// How the apiserver's YAML decoding leaves numbers: every number goes through float64 and back to
/// JSON, so `400.0` is the integer 400 again (only fractional values stay floats).
pub(crate) fn normalise_numbers(value: &mut Value) {
    match value {
        Value::Number(number) => {
            if let Some(float) = number.as_f64()
                && !number.is_i64()
                && !number.is_u64()
                && float.fract() == 0.0
                && float.abs() < 9.0e15
            {
                *value = json!(float as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise_numbers),
        Value::Object(map) => map.values_mut().for_each(normalise_numbers),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Typed patch (structured-merge-diff): list entries without their key.

/// Lists of the pod spec whose entries are keyed by a field (`+listMapKey`), as SMD knows them.
const KEYED_POD_LISTS: &[(&str, &str)] = &[
    ("containers", "name"),
    ("initContainers", "name"),
    ("ephemeralContainers", "name"),
    ("volumes", "name"),
];
const KEYED_CONTAINER_LISTS: &[(&str, &str)] = &[("env", "name"), ("volumeMounts", "mountPath")];

/// The pod spec of a workload and its JSON path (`.spec.template.spec`).
fn pod_spec<'a>(kind: &str, value: &'a Value) -> Option<(&'a Value, &'static str)> {
    let (pointer, path) = match kind {
        "Pod" => ("/spec", ".spec"),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            ("/spec/template/spec", ".spec.template.spec")
        }
        "CronJob" => (
            "/spec/jobTemplate/spec/template/spec",
            ".spec.jobTemplate.spec.template.spec",
        ),
        _ => return None,
    };
    value
        .pointer(pointer)
        .filter(|spec| spec.is_object())
        .map(|spec| (spec, path))
}

/// SMD's "associative list with keys has an element that omits key field" errors, as
/// `failed to create typed patch object` reports them (`None`: the patch types fine).
pub(crate) fn typed_patch_errors(kind: &str, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let Some((spec, path)) = pod_spec(kind, value) else {
        return errors;
    };
    let omits = |list_path: &str, index: usize, key: &str| {
        format!(
            "{list_path}: element {index}: associative list with keys has an element that omits key field \"{key}\" (and doesn't have default value)"
        )
    };
    for (list, key) in KEYED_POD_LISTS {
        for (index, item) in spec
            .get(*list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if item.get(*key).is_none_or(Value::is_null) {
                errors.push(omits(&format!("{path}.{list}"), index, key));
                continue;
            }
            if !list.ends_with("ontainers") {
                continue;
            }
            let name = item[*key].as_str().unwrap_or_default();
            for (inner, inner_key) in KEYED_CONTAINER_LISTS {
                for (position, entry) in item
                    .get(*inner)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    if entry.get(*inner_key).is_none_or(Value::is_null) {
                        errors.push(omits(
                            &format!("{path}.{list}[name=\"{name}\"].{inner}"),
                            position,
                            inner_key,
                        ));
                    }
                }
            }
        }
    }
    errors
}

/// The message of a typed-patch failure with `errors` (SMD lists several under `errors:`).
pub(crate) fn typed_patch_message(target: &str, errors: &[String]) -> String {
    match errors {
        [one] => format!("failed to create typed patch object ({target}): {one}"),
        many => format!(
            "failed to create typed patch object ({target}): errors:\n  {}",
            many.join("\n  ")
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Names.

const DNS1123_LABEL: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_MESSAGE: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";

fn is_label(text: &str, first: fn(u8) -> bool) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && first(bytes[0])
        && (bytes[bytes.len() - 1].is_ascii_lowercase() || bytes[bytes.len() - 1].is_ascii_digit())
        && bytes
            .iter()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || *byte == b'-')
}

fn alphanumeric(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit()
}

/// apimachinery's `IsDNS1123Label`.
fn dns1123_label(text: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if text.len() > 63 {
        errors.push("must be no more than 63 characters".to_owned());
    }
    if !is_label(text, alphanumeric) {
        if dns1123_subdomain(text).is_empty() {
            errors.push("must not contain dots".to_owned());
        } else {
            errors.push(format!(
                "{DNS1123_LABEL_MESSAGE} (e.g. 'my-name',  or '123-abc', regex used for validation is '{DNS1123_LABEL}')"
            ));
        }
    }
    errors
}

/// apimachinery's `IsDNS1123Subdomain`.
fn dns1123_subdomain(text: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if text.len() > 253 {
        errors.push("must be no more than 253 characters".to_owned());
    }
    if !text.split('.').all(|label| is_label(label, alphanumeric)) {
        errors.push(format!(
            "{DNS1123_SUBDOMAIN_MESSAGE} (e.g. 'example.com', regex used for validation is '{DNS1123_LABEL}(\\.{DNS1123_LABEL})*')"
        ));
    }
    errors
}

/// apimachinery's `IsDNS1035Label`.
fn dns1035_label(text: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if text.len() > 63 {
        errors.push("must be no more than 63 characters".to_owned());
    }
    if !is_label(text, |byte| byte.is_ascii_lowercase()) {
        errors.push(format!(
            "{DNS1035_LABEL_MESSAGE} (e.g. 'my-name',  or 'abc-123', regex used for validation is '{DNS1035_LABEL}')"
        ));
    }
    errors
}

/// `path.IsValidPathSegmentName`, what RBAC objects' names must be.
fn path_segment(text: &str) -> Vec<String> {
    if text == "." || text == ".." {
        return vec![format!("may not be '{text}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|bad| text.contains(**bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// `metadata.name` as each kind's `ValidateXName` checks it.
fn validate_name(kind: &str, group: &str, value: &Value, errors: &mut Vec<FieldError>) {
    let name = value["metadata"]["name"].as_str().unwrap_or_default();
    let problems = match (group, kind) {
        ("", "Namespace") => dns1123_label(name),
        ("", "Service") => dns1035_label(name),
        ("rbac.authorization.k8s.io", _) => path_segment(name),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let spec = &value["spec"];
            let wanted = format!(
                "{}.{}",
                spec["names"]["plural"].as_str().unwrap_or_default(),
                spec["group"].as_str().unwrap_or_default()
            );
            if name == wanted {
                Vec::new()
            } else {
                vec!["must be spec.names.plural+\".\"+spec.group".to_owned()]
            }
        }
        _ => dns1123_subdomain(name),
    };
    for problem in problems {
        errors.push(FieldError::invalid("metadata.name", go_quote(name), problem));
    }
    if kind == "CronJob" && name.len() > 52 {
        errors.push(FieldError::invalid(
            "metadata.name",
            go_quote(name),
            "must be no more than 52 characters",
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Pod specs, workloads, services.

const FILE_MODE: &str = "must be a number between 0 and 0777 (octal), both inclusive";
const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";
const NEGATIVE: &str = "must be greater than or equal to 0";

fn check_mode(value: Option<&Value>, field: String, errors: &mut Vec<FieldError>) {
    if let Some(mode) = value.and_then(Value::as_i64)
        && !(0..=0o777).contains(&mode)
    {
        errors.push(FieldError::invalid(field, mode.to_string(), FILE_MODE));
    }
}

fn check_items(items: Option<&Value>, path: &str, errors: &mut Vec<FieldError>) {
    for (index, item) in items.and_then(Value::as_array).into_iter().flatten().enumerate() {
        check_mode(item.get("mode"), format!("{path}.items[{index}].mode"), errors);
    }
}

fn check_port(value: Option<&Value>, field: String, zero_is: Option<ErrorKind>, errors: &mut Vec<FieldError>) {
    let Some(port) = value.and_then(Value::as_i64) else {
        return;
    };
    match (port, zero_is) {
        (0, Some(ErrorKind::Required)) => errors.push(FieldError::required(field)),
        (0, None) => {}
        (1..=65535, _) => {}
        _ => errors.push(FieldError::invalid(field, port.to_string(), PORT_RANGE)),
    }
}

fn check_nonnegative(value: Option<&Value>, field: &str, errors: &mut Vec<FieldError>) {
    if let Some(number) = value.and_then(Value::as_i64)
        && number < 0
    {
        errors.push(FieldError::invalid(field, number.to_string(), NEGATIVE));
    }
}

/// `ValidatePodSpec` for the rules this fake knows: container names, ports, volume modes and the
/// restart policy (`allowed`: what the owning kind accepts; the default is `Always`).
fn validate_pod_spec(spec: &Value, path: &str, allowed: &[&str], errors: &mut Vec<FieldError>) {
    let containers = spec.get("containers").and_then(Value::as_array);
    if containers.is_none_or(Vec::is_empty) {
        errors.push(FieldError::required(format!("{path}.containers")));
    }
    for list in ["initContainers", "containers"] {
        for (index, container) in spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let here = format!("{path}.{list}[{index}]");
            if let Some(name) = container.get("name").and_then(Value::as_str) {
                for problem in dns1123_label(name) {
                    errors.push(FieldError::invalid(format!("{here}.name"), go_quote(name), problem));
                }
            }
            for (position, port) in container
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let port_path = format!("{here}.ports[{position}]");
                check_port(
                    port.get("containerPort"),
                    format!("{port_path}.containerPort"),
                    Some(ErrorKind::Required),
                    errors,
                );
                if port.get("containerPort").is_none() {
                    errors.push(FieldError::required(format!("{port_path}.containerPort")));
                }
                check_port(port.get("hostPort"), format!("{port_path}.hostPort"), None, errors);
            }
        }
    }
    for (index, volume) in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let here = format!("{path}.volumes[{index}]");
        for source in ["secret", "configMap"] {
            if let Some(inner) = volume.get(source) {
                check_mode(inner.get("defaultMode"), format!("{here}.{source}.defaultMode"), errors);
                check_items(inner.get("items"), &format!("{here}.{source}"), errors);
            }
        }
        if let Some(inner) = volume.get("downwardAPI") {
            check_mode(
                inner.get("defaultMode"),
                format!("{here}.downwardAPI.defaultMode"),
                errors,
            );
            check_items(inner.get("items"), &format!("{here}.downwardAPI"), errors);
        }
        if let Some(projected) = volume.get("projected") {
            check_mode(
                projected.get("defaultMode"),
                format!("{here}.projected.defaultMode"),
                errors,
            );
            for (position, source) in projected
                .get("sources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                for kind in ["secret", "configMap", "downwardAPI"] {
                    if let Some(inner) = source.get(kind) {
                        check_items(
                            inner.get("items"),
                            &format!("{here}.projected.sources[{position}].{kind}"),
                            errors,
                        );
                    }
                }
            }
        }
    }
    // Defaulting (SetDefaults_PodSpec) runs before validation: no policy means `Always`.
    let policy = spec.get("restartPolicy").and_then(Value::as_str).unwrap_or("Always");
    if !allowed.contains(&policy) {
        errors.push(FieldError::not_supported(
            format!("{path}.restartPolicy"),
            policy,
            allowed,
        ));
    }
}

fn label_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .map(|map| {
            map.iter()
                .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a label selector (`matchLabels` and the `In`/`NotIn`/`Exists`/`DoesNotExist`
/// expressions) selects `labels`.
fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let by_labels = label_map(&selector["matchLabels"])
        .iter()
        .all(|(key, value)| labels.get(key) == Some(value));
    let by_expressions = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|expression| {
            let key = expression["key"].as_str().unwrap_or_default();
            let values: Vec<&str> = expression["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            match expression["operator"].as_str() {
                Some("In") => labels.get(key).is_some_and(|value| values.contains(&value.as_str())),
                Some("NotIn") => labels.get(key).is_none_or(|value| !values.contains(&value.as_str())),
                Some("Exists") => labels.contains_key(key),
                Some("DoesNotExist") => !labels.contains_key(key),
                _ => false,
            }
        });
    by_labels && by_expressions
}

/// The selector and template rules of Deployments, ReplicaSets, StatefulSets and DaemonSets.
fn validate_selector(kind: &str, spec: &Value, errors: &mut Vec<FieldError>) {
    let selector = &spec["selector"];
    if !selector.is_object() {
        errors.push(FieldError::required("spec.selector"));
        return;
    }
    let empty = label_map(&selector["matchLabels"]).is_empty()
        && selector["matchExpressions"].as_array().is_none_or(Vec::is_empty);
    if empty {
        errors.push(FieldError::invalid(
            "spec.selector",
            go_label_selector(selector),
            format!("empty selector is invalid for {}", kind.to_lowercase()),
        ));
        return;
    }
    let labels = &spec["template"]["metadata"]["labels"];
    if !selects(selector, &label_map(labels)) {
        let shown = if labels.is_object() {
            go_value(labels)
        } else {
            "map[string]string(nil)".to_owned()
        };
        errors.push(FieldError::invalid(
            "spec.template.metadata.labels",
            shown,
            "`selector` does not match template `labels`",
        ));
    }
}

/// Labels the Job controller's defaulting puts on a Job's template (not the user's).
const JOB_LABELS: &[&str] = &[
    "batch.kubernetes.io/controller-uid",
    "controller-uid",
    "batch.kubernetes.io/job-name",
    "job-name",
];

fn without_job_labels(template: &Value) -> Value {
    let mut template = template.clone();
    if let Some(labels) = template.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        for label in JOB_LABELS {
            labels.remove(*label);
        }
        if labels.is_empty()
            && let Some(metadata) = template.get_mut("metadata").and_then(Value::as_object_mut)
        {
            metadata.remove("labels");
        }
    }
    if template
        .get("metadata")
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
        && let Some(map) = template.as_object_mut()
    {
        map.remove("metadata");
    }
    template
}

/// StatefulSet spec fields an update may change (`ValidateStatefulSetUpdate`).
const STATEFULSET_MUTABLE: &[&str] = &[
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

/// The fields an update may not change.
fn validate_update(kind: &str, new: &Value, old: &Value, errors: &mut Vec<FieldError>) {
    match kind {
        "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet" => {
            if new["spec"]["selector"] != old["spec"]["selector"] && new["spec"]["selector"].is_object() {
                errors.push(FieldError::invalid(
                    "spec.selector",
                    go_label_selector(&new["spec"]["selector"]),
                    "field is immutable",
                ));
            }
            if kind == "StatefulSet" {
                let rest = |spec: &Value| -> Value {
                    let mut spec = spec.as_object().cloned().unwrap_or_default();
                    for field in STATEFULSET_MUTABLE.iter().chain(&["selector"]) {
                        spec.remove(*field);
                    }
                    Value::Object(spec)
                };
                if rest(&new["spec"]) != rest(&old["spec"]) {
                    errors.push(FieldError::new(
                        "spec",
                        ErrorKind::Forbidden,
                        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                    ));
                }
            }
        }
        "Job" if without_job_labels(&new["spec"]["template"]) != without_job_labels(&old["spec"]["template"]) => {
            // The real message prints the whole internal PodTemplateSpec; abbreviated here.
            errors.push(FieldError::invalid(
                "spec.template",
                "core.PodTemplateSpec{...}".to_owned(),
                "field is immutable",
            ));
        }
        _ => {}
    }
}

/// What the API server's validation rejects in a built-in object: `value` as sent, `typed` after
/// the k8s-openapi round trip (compared with `old`, the stored object an apply updates, which
/// went through the same trip).
pub(crate) fn validate_builtin(
    kind: &str,
    group: &str,
    value: &Value,
    typed: &Value,
    old: Option<&Value>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    validate_name(kind, group, value, &mut errors);
    let spec = &value["spec"];
    match kind {
        "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet" => {
            if kind != "DaemonSet" {
                check_nonnegative(spec.get("replicas"), "spec.replicas", &mut errors);
            }
            validate_selector(kind, spec, &mut errors);
            if let Some(pod) = spec.pointer("/template/spec") {
                validate_pod_spec(pod, "spec.template.spec", &["Always"], &mut errors);
            }
        }
        "Job" => {
            for field in ["parallelism", "completions", "backoffLimit"] {
                check_nonnegative(spec.get(field), &format!("spec.{field}"), &mut errors);
            }
            if let Some(pod) = spec.pointer("/template/spec") {
                validate_pod_spec(pod, "spec.template.spec", &["OnFailure", "Never"], &mut errors);
            }
        }
        "CronJob" => {
            if spec.get("schedule").and_then(Value::as_str).is_none_or(str::is_empty) {
                errors.push(FieldError::required("spec.schedule"));
            }
            if let Some(pod) = spec.pointer("/jobTemplate/spec/template/spec") {
                validate_pod_spec(
                    pod,
                    "spec.jobTemplate.spec.template.spec",
                    &["OnFailure", "Never"],
                    &mut errors,
                );
            }
        }
        "Pod" => validate_pod_spec(spec, "spec", &["Always", "OnFailure", "Never"], &mut errors),
        "Service" => {
            let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
            let external = spec.get("type").and_then(Value::as_str) == Some("ExternalName");
            let ports = spec.get("ports").and_then(Value::as_array);
            if ports.is_none_or(Vec::is_empty) && !headless && !external {
                errors.push(FieldError::required("spec.ports"));
            }
            for (index, port) in ports.into_iter().flatten().enumerate() {
                // `IsValidPortNum`: a Service port of 0 (or none) is invalid, not required.
                let port_value = port.get("port").cloned().unwrap_or(json!(0));
                check_port(
                    Some(&port_value),
                    format!("spec.ports[{index}].port"),
                    Some(ErrorKind::Invalid(String::new())),
                    &mut errors,
                );
                if let Some(target) = port.get("targetPort").filter(|target| target.is_i64()) {
                    check_port(
                        Some(target),
                        format!("spec.ports[{index}].targetPort"),
                        None,
                        &mut errors,
                    );
                }
            }
        }
        _ => {}
    }
    if let Some(old) = old {
        validate_update(kind, typed, old, &mut errors);
    }
    errors
}

// ---------------------------------------------------------------------------------------------
// Custom resources against their CRD's structural schema.

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(wanted: &str, value: &Value) -> bool {
    match wanted {
        "number" => value.is_number(),
        other => type_name(value) == other,
    }
}

/// Fields of `value` (at `path`) the schema does not declare: SSA rejects them in the typed patch.
pub(crate) fn undeclared_fields(schema: &Value, value: &Value, path: &str, found: &mut Vec<String>) {
    if schema["x-kubernetes-preserve-unknown-fields"] == json!(true) {
        return;
    }
    match value {
        Value::Object(map) => {
            let properties = schema["properties"].as_object();
            let additional = &schema["additionalProperties"];
            for (key, inner) in map {
                let here = format!("{path}.{key}");
                match properties.and_then(|properties| properties.get(key)) {
                    Some(property) => undeclared_fields(property, inner, &here, found),
                    None if additional.is_object() => undeclared_fields(additional, inner, &here, found),
                    None if *additional == json!(true) => {}
                    None if properties.is_none() && schema["type"] != json!("object") => {}
                    None => found.push(format!("{here}: field not declared in schema")),
                }
            }
        }
        Value::Array(items) if schema["items"].is_object() => {
            for (index, item) in items.iter().enumerate() {
                undeclared_fields(&schema["items"], item, &format!("{path}[{index}]"), found);
            }
        }
        _ => {}
    }
}

/// kube-openapi's validation of `value` (at field path `path`) against a structural schema: types,
/// `required`, `enum`, `minimum`/`maximum`, `minLength`/`maxLength`, `minItems`/`maxItems`.
pub(crate) fn validate_schema(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    if value.is_null() {
        return;
    }
    let int_or_string = schema["x-kubernetes-int-or-string"] == json!(true);
    if int_or_string {
        if !(value.is_i64() || value.is_u64() || value.is_string()) {
            errors.push(FieldError::invalid(
                path,
                go_quote(type_name(value)),
                format!(
                    "{path} in body must be of type integer,string: {}",
                    go_quote(type_name(value))
                ),
            ));
        }
        return;
    }
    if let Some(wanted) = schema["type"].as_str()
        && !type_matches(wanted, value)
    {
        errors.push(FieldError::invalid(
            path,
            go_quote(type_name(value)),
            format!(
                "{path} in body must be of type {wanted}: {}",
                go_quote(type_name(value))
            ),
        ));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        let shown: Vec<String> = allowed.iter().map(go_value).collect();
        errors.push(FieldError::new(
            path,
            ErrorKind::NotSupported(go_value(value)),
            format!("supported values: {}", shown.join(", ")),
        ));
    }
    if let Some(number) = value.as_f64() {
        if let Some(minimum) = schema["minimum"].as_f64()
            && number < minimum
        {
            errors.push(FieldError::invalid(
                path,
                value.to_string(),
                format!(
                    "{path} in body should be greater than or equal to {}",
                    schema["minimum"]
                ),
            ));
        }
        if let Some(maximum) = schema["maximum"].as_f64()
            && number > maximum
        {
            errors.push(FieldError::invalid(
                path,
                value.to_string(),
                format!("{path} in body should be less than or equal to {}", go_float(maximum)),
            ));
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if let Some(minimum) = schema["minLength"].as_u64()
            && length < minimum
        {
            errors.push(FieldError::invalid(
                path,
                go_quote(text),
                format!("{path} in body should be at least {minimum} chars long"),
            ));
        }
        if let Some(maximum) = schema["maxLength"].as_u64()
            && length > maximum
        {
            errors.push(FieldError::new(
                path,
                ErrorKind::Invalid(go_quote(text)),
                format!("must have at most {maximum} bytes"),
            ));
        }
    }
    match value {
        Value::Object(map) => {
            for required in schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if map.get(required).is_none_or(Value::is_null) {
                    errors.push(FieldError::required(format!("{path}.{required}")));
                }
            }
            let properties = schema["properties"].as_object();
            for (key, inner) in map {
                let here = format!("{path}.{key}");
                match properties.and_then(|properties| properties.get(key)) {
                    Some(property) => validate_schema(property, inner, &here, errors),
                    None if schema["additionalProperties"].is_object() => {
                        validate_schema(&schema["additionalProperties"], inner, &here, errors);
                    }
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(minimum) = schema["minItems"].as_u64()
                && (items.len() as u64) < minimum
            {
                errors.push(FieldError::invalid(
                    path,
                    items.len().to_string(),
                    format!("{path} in body should have at least {minimum} items"),
                ));
            }
            if let Some(maximum) = schema["maxItems"].as_u64()
                && (items.len() as u64) > maximum
            {
                errors.push(FieldError::new(
                    path,
                    ErrorKind::Invalid(items.len().to_string()),
                    format!("must have at most {maximum} items"),
                ));
            }
            if schema["items"].is_object() {
                for (index, item) in items.iter().enumerate() {
                    validate_schema(&schema["items"], item, &format!("{path}[{index}]"), errors);
                }
            }
        }
        _ => {}
    }
}

/// A custom resource against its version's `openAPIV3Schema` (apiVersion, kind and metadata are
/// the server's; the name must be a DNS subdomain).
pub(crate) fn validate_custom(kind: &str, group: &str, schema: &Value, value: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    validate_name(kind, group, value, &mut errors);
    let Some(map) = value.as_object() else { return errors };
    let properties = schema["properties"].as_object();
    for required in schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !matches!(required, "apiVersion" | "kind" | "metadata") && map.get(required).is_none_or(Value::is_null) {
            errors.push(FieldError::required(required));
        }
    }
    for (key, inner) in map {
        if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        if let Some(property) = properties.and_then(|properties| properties.get(key)) {
            validate_schema(property, inner, key, &mut errors);
        }
    }
    errors
}

/// Undeclared fields of a custom resource, as SMD paths (`.spec.sizee`).
pub(crate) fn custom_undeclared(schema: &Value, value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(map) = value.as_object() {
        let properties = schema["properties"].as_object();
        for (key, inner) in map {
            if matches!(key.as_str(), "apiVersion" | "kind" | "metadata" | "status") {
                continue;
            }
            match properties.and_then(|properties| properties.get(key)) {
                Some(property) => undeclared_fields(property, inner, &format!(".{key}"), &mut found),
                None if schema["x-kubernetes-preserve-unknown-fields"] == json!(true) => {}
                None => found.push(format!(".{key}: field not declared in schema")),
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------------------------
// Field managers.

/// The leaf fields an applied object sets, as SMD prints paths: `.spec.replicas`,
/// `.spec.template.spec.containers[name="api"].image`. `metadata.name`/`namespace` and the type
/// fields belong to nobody.
pub(crate) fn leaf_fields(value: &Value) -> BTreeMap<String, Value> {
    fn walk(value: &Value, path: String, out: &mut BTreeMap<String, Value>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (key, inner) in map {
                    walk(inner, format!("{path}.{key}"), out);
                }
            }
            Value::Array(items)
                if items.iter().all(|item| item.get("name").is_some_and(Value::is_string)) && !items.is_empty() =>
            {
                for item in items {
                    let name = item["name"].as_str().unwrap_or_default();
                    walk(item, format!("{path}[name=\"{name}\"]"), out);
                }
            }
            other => {
                out.insert(path, other.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Some(map) = value.as_object() {
        for (key, inner) in map {
            if matches!(key.as_str(), "apiVersion" | "kind" | "status") {
                continue;
            }
            walk(inner, format!(".{key}"), &mut out);
        }
    }
    for fixed in [".metadata.name", ".metadata.namespace"] {
        out.remove(fixed);
    }
    out
}

/// How one field manager came to own its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManagerOperation {
    Apply,
    /// A create/update/patch (`kubectl create`, client-side apply, a controller).
    Update,
}

/// One conflict: a field another manager owns, with another value.
pub(crate) struct Conflict {
    pub(crate) manager: String,
    pub(crate) operation: ManagerOperation,
    pub(crate) path: String,
}

/// The field manager's `NewConflictError`: 409 `Conflict` with one `FieldManagerConflict` cause
/// per field.
pub(crate) fn conflict_status(conflicts: &[Conflict], api_version: &str, kind: &str, group: &str, name: &str) -> Value {
    let manager = |conflict: &Conflict| match conflict.operation {
        ManagerOperation::Apply => go_quote(&conflict.manager),
        ManagerOperation::Update => format!("{} using {api_version}", go_quote(&conflict.manager)),
    };
    let message = match conflicts {
        [one] => format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            manager(one),
            one.path
        ),
        many => {
            let mut by_manager: BTreeMap<String, Vec<&str>> = BTreeMap::new();
            for conflict in many {
                by_manager.entry(manager(conflict)).or_default().push(&conflict.path);
            }
            let mut lines = Vec::new();
            for (manager, paths) in by_manager {
                lines.push(format!("conflicts with {manager}"));
                lines.extend(paths.iter().map(|path| format!("- {path}")));
            }
            format!("Apply failed with {} conflicts: {}", many.len(), lines.join("\n"))
        }
    };
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|conflict| json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", manager(conflict)), "field": conflict.path}))
        .collect();
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
        "reason": "Conflict", "details": {"name": name, "group": group, "kind": kind, "causes": causes}, "code": 409})
}

/// The leaf fields each manager owns in a stored object.
pub(crate) type Managers = BTreeMap<String, (ManagerOperation, BTreeSet<String>)>;

/// Conflicts of an apply by `manager` without force: fields another manager owns whose value the
/// apply would change.
pub(crate) fn conflicts(managers: &Managers, manager: &str, stored: &Value, applied: &Value) -> Vec<Conflict> {
    let old = leaf_fields(stored);
    let new = leaf_fields(applied);
    let mut found = Vec::new();
    for (owner, (operation, fields)) in managers {
        if owner == manager {
            continue;
        }
        for (path, value) in &new {
            if fields.contains(path) && old.get(path) != Some(value) {
                found.push(Conflict {
                    manager: owner.clone(),
                    operation: operation.clone(),
                    path: path.clone(),
                });
            }
        }
    }
    found
}

/// Ownership after an apply by `manager`: it owns exactly what it applied; with `force` it takes
/// those fields from everyone else.
pub(crate) fn record_apply(managers: &mut Managers, manager: &str, applied: &Value, force: bool) {
    let fields: BTreeSet<String> = leaf_fields(applied).into_keys().collect();
    if force {
        for (owner, (_, owned)) in managers.iter_mut() {
            if owner != manager {
                owned.retain(|field| !fields.contains(field));
            }
        }
    }
    managers.insert(manager.to_owned(), (ManagerOperation::Apply, fields));
    managers.retain(|_, (_, owned)| !owned.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_each_kinds_rule() {
        assert!(dns1123_subdomain("api.v1-x").is_empty());
        assert_eq!(dns1123_subdomain("Api").len(), 1);
        assert_eq!(dns1123_label("a.b"), vec!["must not contain dots"]);
        assert!(dns1035_label("1abc").len() == 1 && dns1123_label("1abc").is_empty());
        assert_eq!(path_segment("a/b"), vec!["may not contain '/'"]);
    }

    #[test]
    fn invalid_statuses_read_like_the_real_ones() {
        let one = invalid_status("Deployment", "apps", "api", &[FieldError::required("spec.selector")]);
        assert_eq!(
            one["message"],
            "Deployment.apps \"api\" is invalid: spec.selector: Required value"
        );
        assert_eq!(one["details"]["causes"][0]["reason"], "FieldValueRequired");
        let two = invalid_status(
            "Service",
            "",
            "db",
            &[
                FieldError::invalid("spec.ports[0].port", "0".to_owned(), PORT_RANGE),
                FieldError::not_supported("spec.type", "Weird", &["ClusterIP", "NodePort"]),
            ],
        );
        assert_eq!(
            two["message"],
            "Service \"db\" is invalid: [spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive, spec.type: Unsupported value: \"Weird\": supported values: \"ClusterIP\", \"NodePort\"]"
        );
        assert_eq!(
            go_value(&json!({"b": "2", "a": "1"})),
            "map[string]string{\"a\":\"1\", \"b\":\"2\"}"
        );
    }

    #[test]
    fn integral_floats_become_integers_as_in_the_apiserver_yaml_decoding() {
        let mut value = json!({"a": 400.0, "b": 1.5, "c": [2.0], "d": 3});
        normalise_numbers(&mut value);
        assert_eq!(value, json!({"a": 400, "b": 1.5, "c": [2], "d": 3}));
        assert!(value["a"].is_i64());
    }
}
