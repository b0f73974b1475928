//! What kubectl does with each decoded document before sending it (cli-runtime's resource builder
//! and apimachinery's unstructured decoding): objects only, a string `kind`, `metadata` that fits
//! `ObjectMeta`, and lists flattened into their items.

use serde_json::{Map, Value};

use super::{Document, Problem, YamlError};

/// The objects `kubectl apply -f` sends for `documents`, in order.
///
/// Any object with an `items` field (even `null`, whatever its kind) is a list to kubectl: its
/// items are sent instead of it, and only the list's own `metadata` is checked.
pub(crate) fn kubectl_objects(documents: Vec<Document>) -> Result<Vec<Document>, YamlError> {
    let mut objects = Vec::new();
    for document in documents {
        let line = document.line;
        let number = document.number;
        let fail = |message: String| YamlError::new(line, 1, Problem::Object(message));
        let Value::Object(object) = document.value else {
            return Err(fail(format!(
                "the document is {}, not an object",
                describe(&document.value)
            )));
        };
        type_meta(&object).map_err(fail)?;
        if let Some(metadata) = object.get("metadata") {
            object_meta(metadata).map_err(fail)?;
        }
        match object.get("items") {
            None => objects.push(Document {
                value: Value::Object(object),
                line,
                number,
            }),
            Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (index, item) in items.iter().enumerate() {
                    let Value::Object(item_object) = item else {
                        return Err(fail(format!("items[{index}] is {}, not an object", describe(item))));
                    };
                    type_meta(item_object).map_err(|message| fail(format!("items[{index}]: {message}")))?;
                    if item_object.contains_key("items") {
                        return Err(fail(format!("items[{index}] is a list itself, which kubectl refuses")));
                    }
                    objects.push(Document {
                        value: item.clone(),
                        line,
                        number,
                    });
                }
            }
            Some(other) => {
                return Err(fail(format!(
                    "`items` is {}, but kubectl reads it as a list",
                    describe(other)
                )));
            }
        }
    }
    Ok(objects)
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn type_meta(object: &Map<String, Value>) -> Result<(), String> {
    match object.get("kind") {
        Some(Value::String(kind)) if !kind.is_empty() => {}
        _ => return Err("`kind` is missing or not a string".to_owned()),
    }
    match object.get("apiVersion") {
        None | Some(Value::Null | Value::String(_)) => Ok(()),
        Some(other) => Err(format!(
            "`apiVersion` is {}, but kubectl needs a string",
            describe(other)
        )),
    }
}

/// The fields of `ObjectMeta` whose Go type a YAML 1.1 reading can break (`name: 0400`,
/// `labels: {enabled: yes}`). kubectl decodes `metadata` into `ObjectMeta` and refuses the file
/// when a type does not fit; JSON `null` fits everything.
fn object_meta(metadata: &Value) -> Result<(), String> {
    let fields = match metadata {
        Value::Null => return Ok(()),
        Value::Object(fields) => fields,
        other => return Err(format!("`metadata` is {}, not an object", describe(other))),
    };
    for (field, value) in fields {
        let path = format!("metadata.{field}");
        match field.as_str() {
            "name" | "generateName" | "namespace" | "selfLink" | "uid" | "resourceVersion" => string(&path, value)?,
            "generation" | "deletionGracePeriodSeconds" => int64(&path, value)?,
            "creationTimestamp" | "deletionTimestamp" => time(&path, value)?,
            "labels" | "annotations" => string_map(&path, value)?,
            "finalizers" => list(&path, value, string)?,
            "ownerReferences" => list(&path, value, |path, reference| {
                fields_of(path, reference, |path, field, value| match field {
                    "apiVersion" | "kind" | "name" | "uid" => string(path, value),
                    "controller" | "blockOwnerDeletion" => boolean(path, value),
                    _ => Ok(()),
                })
            })?,
            _ => {}
        }
    }
    Ok(())
}

fn wrong(path: &str, value: &Value, wanted: &str) -> String {
    format!("`{path}` is {}, but kubectl needs {wanted} there", describe(value))
}

fn string(path: &str, value: &Value) -> Result<(), String> {
    match value {
        Value::Null | Value::String(_) => Ok(()),
        other => Err(wrong(path, other, "a string")),
    }
}

fn boolean(path: &str, value: &Value) -> Result<(), String> {
    match value {
        Value::Null | Value::Bool(_) => Ok(()),
        other => Err(wrong(path, other, "a boolean")),
    }
}

fn int64(path: &str, value: &Value) -> Result<(), String> {
    match value {
        Value::Null => Ok(()),
        Value::Number(number) if number.is_i64() => Ok(()),
        other => Err(wrong(path, other, "an integer (int64)")),
    }
}

fn time(path: &str, value: &Value) -> Result<(), String> {
    match value {
        Value::Null => Ok(()),
        Value::String(text) if is_rfc3339(text) => Ok(()),
        Value::String(text) => Err(format!(
            "`{path}` is \"{text}\", but kubectl needs an RFC 3339 time there"
        )),
        other => Err(wrong(path, other, "an RFC 3339 time string")),
    }
}

fn string_map(path: &str, value: &Value) -> Result<(), String> {
    fields_of(path, value, |path, _, value| string(path, value))
}

fn list(path: &str, value: &Value, each: impl Fn(&str, &Value) -> Result<(), String>) -> Result<(), String> {
    match value {
        Value::Null => Ok(()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(index, item)| each(&format!("{path}[{index}]"), item)),
        other => Err(wrong(path, other, "a list")),
    }
}

fn fields_of(path: &str, value: &Value, each: impl Fn(&str, &str, &Value) -> Result<(), String>) -> Result<(), String> {
    match value {
        Value::Null => Ok(()),
        Value::Object(fields) => fields
            .iter()
            .try_for_each(|(key, value)| each(&format!("{path}.{key}"), key, value)),
        other => Err(wrong(path, other, "an object")),
    }
}

/// Go's `time.Parse(time.RFC3339, s)`: `2006-01-02T15:04:05` with optional fractional seconds,
/// then `Z` or `±hh:mm`.
fn is_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits =
        |range: std::ops::Range<usize>| bytes.get(range).is_some_and(|part| part.iter().all(u8::is_ascii_digit));
    let number = |at: usize| u32::from(bytes[at] - b'0') * 10 + u32::from(bytes[at + 1] - b'0');
    if bytes.len() < 20
        || !digits(0..4)
        || bytes[4] != b'-'
        || !digits(5..7)
        || bytes[7] != b'-'
        || !digits(8..10)
        || bytes[10] != b'T'
        || !digits(11..13)
        || bytes[13] != b':'
        || !digits(14..16)
        || bytes[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    if !(1..=12).contains(&number(5))
        || !(1..=31).contains(&number(8))
        || number(11) > 23
        || number(14) > 59
        || number(17) > 59
    {
        return false;
    }
    let mut at = 19;
    if matches!(bytes.get(at), Some(b'.' | b',')) && bytes.get(at + 1).is_some_and(u8::is_ascii_digit) {
        at += 1;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
    }
    match bytes.get(at) {
        Some(b'Z') => at + 1 == bytes.len(),
        Some(b'+' | b'-') => {
            at + 6 == bytes.len() && digits(at + 1..at + 3) && bytes[at + 3] == b':' && digits(at + 4..at + 6)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn objects(values: Vec<Value>) -> Result<Vec<Value>, YamlError> {
        let documents = values
            .into_iter()
            .map(|value| Document {
                value,
                line: 1,
                number: 1,
            })
            .collect();
        kubectl_objects(documents).map(|documents| documents.into_iter().map(|document| document.value).collect())
    }

    #[test]
    fn lists_are_flattened_whatever_their_kind() {
        let item = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"x": 1}}});
        let list = json!({"apiVersion": "v1", "kind": "List", "items": [item.clone()]});
        assert_eq!(objects(vec![list]).expect("flattens"), vec![item]);
        let odd = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "items": null});
        assert_eq!(objects(vec![odd]).expect("flattens"), Vec::<Value>::new());
        let nested = json!({"kind": "List", "items": [{"kind": "List", "items": []}]});
        assert!(objects(vec![nested]).is_err());
    }

    #[test]
    fn metadata_must_fit_object_meta() {
        let with = |metadata: Value| {
            objects(vec![
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}),
            ])
        };
        assert!(with(json!({"name": "a", "labels": {"x": "1"}, "generation": 2, "creationTimestamp": null})).is_ok());
        assert!(with(json!({"name": false})).is_err());
        assert!(with(json!({"name": "a", "annotations": {"enabled": true}})).is_err());
        assert!(with(json!({"name": "a", "generation": 1.5})).is_err());
        assert!(with(json!({"name": "a", "creationTimestamp": "2001-12-14"})).is_err());
        assert!(with(json!({"name": "a", "creationTimestamp": "2001-12-14T21:59:43.1-05:00"})).is_ok());
    }

    #[test]
    fn documents_must_be_objects_with_a_kind() {
        assert!(objects(vec![json!("foo")]).is_err());
        assert!(objects(vec![json!({"apiVersion": "v1"})]).is_err());
        assert!(objects(vec![json!({"apiVersion": 1, "kind": "ConfigMap"})]).is_err());
    }
}
