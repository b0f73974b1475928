//! Manifests read exactly as `kubectl apply -f` reads them (issue 19), so that what we apply means
//! what it means to `kubectl`: `defaultMode: 0400` is 256 (YAML 1.1 octal), not 400, and `yes` is
//! `true`. Our own config file keeps its YAML 1.2 reading (serde-saphyr); only what we send to the
//! API server goes through here.
//!
//! `kubectl apply -f` (checked against v1.37.1, see tests/fixtures/kube-yaml/) turns a file into
//! objects in four steps, and each one changes what reaches the API server:
//!
//! 1. If the first non-space character of the first 4096 bytes is `{`, the file is read as a stream
//!    of JSON values; no YAML rule applies. Since kubectl 1.33 a JSON error after at most one value
//!    switches to YAML for the rest ([`split::json_then_yaml`]).
//! 2. Otherwise the file is cut into chunks at lines that start with `---` (apimachinery's
//!    `YAMLReader`, not the YAML grammar): CRLF becomes LF, the separator line is dropped, and
//!    anything but spaces or a comment after `---` is an error ([`split::yaml_chunks`]).
//! 3. Each chunk goes through sigs.k8s.io/yaml (`YAMLToJSON`), i.e. go-yaml v2 with YAML 1.1 scalar
//!    resolution, then `json.Marshal`: only the chunk's first document is read, `0400` is 256,
//!    `yes` is `true`, merge keys `<<` apply in go-yaml's order, non-string keys become strings
//!    ([`resolve`], [`decode`]).
//! 4. The JSON is decoded again into an unstructured object (integers stay `int64` when they fit,
//!    everything else is `float64`, so `1.0` is sent as `1` and `18446744073709551615` as a
//!    float), `null` documents are skipped, lists are flattened and `metadata` must fit `ObjectMeta`
//!    ([`objects::kubectl_objects`]).
//!
//! The YAML events come from granit-parser, the parser serde-saphyr is built on, so no second YAML
//! stack enters the build.

mod decode;
mod objects;
mod resolve;
mod split;

#[cfg(test)]
mod corpus_tests;

use serde_json::Value;

/// One document (or, after [`read_manifest`], one object) of a manifest file, as JSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    pub(crate) value: Value,
    /// 1-based line where the document's content starts (its root node), for messages.
    pub(crate) line: usize,
    /// 1-based number of the document among the file's non-empty documents (what people count
    /// in an editor); the items of a list share their list's number.
    pub(crate) number: usize,
}

/// Why a manifest cannot be read the way kubectl reads it; `line` and `column` are 1-based.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {column}: {problem}")]
pub(crate) struct YamlError {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) problem: Problem,
}

/// What is wrong, worded for "line L, column C: {problem}".
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum Problem {
    #[error("{0}")]
    Syntax(String),
    #[error("invalid document separator `---{0}`: kubectl allows only spaces or a comment after `---`")]
    Separator(String),
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("cannot read `{value}` as {wanted} (it is {found})")]
    TagMismatch {
        value: String,
        found: &'static str,
        wanted: &'static str,
    },
    #[error("!!binary value contains invalid base64 data")]
    Base64,
    #[error("`{0}` has no JSON form (kubectl refuses it too: json: unsupported value)")]
    NotJson(String),
    #[error("anchor names may only use letters, digits, `-` and `_` (kubectl's YAML 1.1 parser): `{0}`")]
    AnchorName(String),
    #[error("anchor '{0}' value contains itself")]
    RecursiveAlias(String),
    #[error("document contains excessive aliasing (kubectl's limit)")]
    ExcessiveAliasing,
    #[error("nesting deeper than {0} levels")]
    TooDeep(usize),
    #[error("map merge requires map or sequence of maps as the value")]
    MergeNotMap,
    #[error("a {0} cannot be a map key")]
    CollectionKey(&'static str),
    #[error("a null map key has no JSON form (kubectl: unsupported map key)")]
    NullKey,
    #[error(
        "map key {0} is above the int64 range, which kubectl refuses as a key (unsupported map key of type uint64)"
    )]
    UintKey(u64),
    #[error(
        "keys `{first}` (line {first_line}) and `{second}` both become \"{json}\" in JSON; kubectl keeps one of them at random"
    )]
    KeyCollision {
        first: String,
        first_line: usize,
        second: String,
        json: String,
    },
    #[error("{0}")]
    Object(String),
}

impl YamlError {
    pub(crate) fn new(line: usize, column: usize, problem: Problem) -> Self {
        Self { line, column, problem }
    }
}

/// Every non-empty document of `text`, read as `kubectl` reads it (steps 1 to 3 above, plus the
/// integer/float rules of step 4). Empty and `null` documents are dropped, as kubectl drops them.
pub(crate) fn parse_documents(text: &str) -> Result<Vec<Document>, YamlError> {
    let mut documents = if split::is_json_stream(text) {
        split::json_then_yaml(text)?
    } else {
        let mut documents = Vec::new();
        for chunk in split::yaml_chunks(text, 1)? {
            if let Some(document) = decode::first_document(&chunk)? {
                documents.push(document);
            }
        }
        documents
    };
    for (index, document) in documents.iter_mut().enumerate() {
        document.number = index + 1;
    }
    Ok(documents)
}

/// The first document of `text` as sigs.k8s.io/yaml reads it (YAML 1.1 scalars, as kubectl):
/// how `kind` reads its `--config`. `None` for an empty file.
pub(crate) fn first_document_value(text: &str) -> Result<Option<Value>, YamlError> {
    Ok(parse_documents(text)?.into_iter().next().map(|document| document.value))
}

/// [`parse_documents`] then [`objects::kubectl_objects`]: the objects `kubectl apply -f` would
/// send, in order.
pub(crate) fn read_manifest(text: &str) -> Result<Vec<Document>, YamlError> {
    objects::kubectl_objects(parse_documents(text)?)
}
