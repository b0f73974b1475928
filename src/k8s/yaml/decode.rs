//! One chunk to one JSON value, the way go-yaml v2 decodes into `interface{}` and sigs.k8s.io/yaml
//! turns that into JSON: first document only, aliases expanded (with go-yaml's aliasing limit),
//! merge keys applied in go-yaml's order, map keys stringified as `convertToJSONableObject` does.

use std::borrow::Cow;
use std::collections::HashMap;

use granit_parser::{ErrorKind, Event, Parser, ScalarStyle, ScanError, Span, StructureStyle};
use serde_json::{Map, Value};

use super::resolve::{self, Scalar};
use super::split::Chunk;
use super::{Document, Problem, YamlError};

/// Nesting limit for collections (and merge chains). go-yaml stops at 10000 levels; we stop
/// earlier because values are built recursively and no manifest comes near it.
pub(crate) const MAX_DEPTH: usize = 1000;

const MERGE_TAG: &str = "tag:yaml.org,2002:merge";

/// How many YAML 1.1 spellings (see [`go_yaml_patch`]) one chunk may have: each costs a re-parse.
const MAX_PATCHES: usize = 1000;

#[derive(Debug)]
enum Body {
    Scalar {
        value: String,
        plain: bool,
        tag: Option<String>,
    },
    Sequence(Vec<usize>),
    Mapping(Vec<(usize, usize)>),
    Alias {
        target: usize,
        name: String,
    },
}

#[derive(Debug)]
struct Node {
    body: Body,
    /// 1-based position in the file.
    line: usize,
    column: usize,
}

impl Node {
    fn error(&self, problem: Problem) -> YamlError {
        YamlError::new(self.line, self.column, problem)
    }

    /// The node as written, for messages about keys.
    fn written(&self) -> String {
        match &self.body {
            Body::Scalar { value, plain: true, .. } => value.clone(),
            Body::Scalar { value, .. } => format!("{value:?}"),
            Body::Alias { name, .. } => format!("*{name}"),
            Body::Sequence(_) => "[...]".to_owned(),
            Body::Mapping(_) => "{...}".to_owned(),
        }
    }
}

/// The chunk's first document as JSON, or `None` when it is empty or `null` (kubectl skips it).
pub(crate) fn first_document(chunk: &Chunk) -> Result<Option<Document>, YamlError> {
    let Some((nodes, root)) = build_tree(chunk)? else {
        return Ok(None);
    };
    let mut decoder = Decoder {
        nodes: &nodes,
        // go-yaml counts the document node itself.
        decodes: 1,
        aliased: 0,
        alias_depth: 0,
        active_aliases: vec![false; nodes.len()],
        depth: 0,
    };
    let value = decoder.value(root)?;
    if value.is_null() {
        return Ok(None);
    }
    Ok(Some(Document {
        value,
        line: nodes[root].line,
        number: 0,
    }))
}

/// The node tree of the chunk's first document. go-yaml's `Unmarshal` reads one document and never
/// looks further, so whatever follows it in the chunk (after `...`, say) is ignored, not parsed.
///
/// granit reads YAML 1.2 syntax; where go-yaml's YAML 1.1 scanner accepts something granit refuses,
/// [`go_yaml_patch`] rewrites it into the YAML 1.2 spelling of the same thing and the chunk is
/// parsed again (columns after a rewrite on the same line may be off by one in messages).
fn build_tree(chunk: &Chunk) -> Result<Option<(Vec<Node>, usize)>, YamlError> {
    if let Some((offset, ch)) = chunk
        .text
        .char_indices()
        .find(|(_, ch)| matches!(ch, '\u{85}' | '\u{2028}' | '\u{2029}'))
    {
        let (line, column) = offset_position(chunk, &chunk.text, offset);
        return Err(YamlError::new(
            line,
            column,
            Problem::Syntax(format!(
                "U+{:04X} is a line break for kubectl (YAML 1.1) but text for YAML 1.2; write it as an escape in a double-quoted string",
                u32::from(ch)
            )),
        ));
    }
    let mut text = Cow::Borrowed(chunk.text.as_str());
    for _ in 0..=MAX_PATCHES {
        match build_tree_from(chunk, &text) {
            Ok(tree) => return Ok(tree),
            Err(Attempt::Failed(error)) => return Err(error),
            Err(Attempt::Patched(patched)) => text = Cow::Owned(patched),
        }
    }
    Err(YamlError::new(
        chunk.first_line,
        1,
        Problem::Syntax(format!("more than {MAX_PATCHES} YAML 1.1-only spellings")),
    ))
}

/// The YAML 1.2 spelling of a YAML 1.1 construct granit stopped at, when go-yaml reads it:
/// `\'` in a double-quoted scalar (becomes `'`), a comment right after a token without a space
/// (`"x"# c`), and an alias key followed directly by `:` (`*a: b`; YAML 1.2 reads `a:` as the name).
fn go_yaml_patch(text: &str, error: &ScanError) -> Option<String> {
    let at = error.marker().byte_offset()?;
    let insert_space = |at: usize| format!("{} {}", &text[..at], &text[at..]);
    match error.kind() {
        ErrorKind::UnknownQuotedScalarEscape => patch_quote_escapes(text, at),
        ErrorKind::CommentNotSeparated if text.get(at..)?.starts_with('#') => Some(insert_space(at)),
        ErrorKind::UnknownAnchor => {
            let name = text.get(at..)?.strip_prefix('*')?;
            let length = name
                .bytes()
                .take_while(|&byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
                .count();
            let after = &name[length..];
            let separated = after
                .strip_prefix(':')
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\n', '\r']));
            (length > 0 && separated).then(|| insert_space(at + 1 + length))
        }
        _ => None,
    }
}

enum Attempt {
    Failed(YamlError),
    Patched(String),
}

fn build_tree_from(chunk: &Chunk, text: &str) -> Result<Option<(Vec<Node>, usize)>, Attempt> {
    let options = granit_parser::options! {
        flow_nesting_limit: MAX_DEPTH,
        block_nesting_limit: MAX_DEPTH,
        emit_anchor_events: true,
        emit_comments: false,
    };
    let failed = |line: usize, column: usize, problem: Problem| Attempt::Failed(YamlError::new(line, column, problem));
    let position = |span: &Span| (chunk.first_line + span.start.line() - 1, span.start.col() + 1);
    let mut nodes: Vec<Node> = Vec::new();
    // Open collections: node, the key waiting for its value (mappings only), flow style.
    let mut open: Vec<(usize, Option<usize>, bool)> = Vec::new();
    let mut anchors: HashMap<usize, usize> = HashMap::new();
    let mut root = None;
    for item in Parser::new_from_str_with_options(text, options) {
        let (event, span) = match item {
            Ok(item) => item,
            // The document is complete: go-yaml would not read on (granit, YAML 1.2, refuses a
            // directive after a document without `...`, which go-yaml never gets to see).
            Err(_) if root.is_some() && open.is_empty() => break,
            Err(error) => {
                return Err(match go_yaml_patch(text, &error) {
                    Some(patched) => Attempt::Patched(patched),
                    None => Attempt::Failed(scan_error(chunk, &error)),
                });
            }
        };
        let (line, column) = position(&span);
        let (body, anchor_id, flow) = match event {
            Event::DocumentEnd | Event::StreamEnd => break,
            Event::SequenceEnd | Event::MappingEnd => {
                open.pop();
                continue;
            }
            // Only to check the name: granit (YAML 1.2) allows more characters than go-yaml.
            Event::Anchor(_, name) => {
                check_anchor_name(&name, line, column).map_err(Attempt::Failed)?;
                continue;
            }
            Event::Scalar(value, style, anchor_id, tag) => {
                match style {
                    ScalarStyle::DoubleQuoted => check_double_quoted(chunk, text, &span).map_err(Attempt::Failed)?,
                    ScalarStyle::Literal | ScalarStyle::Folded => {
                        check_block_tabs(chunk, text, &span).map_err(Attempt::Failed)?
                    }
                    _ => {}
                }
                // go-yaml ends a plain scalar at `?` inside a flow collection (and then fails).
                if style == ScalarStyle::Plain && open.last().is_some_and(|&(_, _, flow)| flow) && value.contains('?') {
                    return Err(failed(
                        line,
                        column,
                        Problem::Syntax(format!(
                            "`{value}`: inside `[...]` or `{{...}}` kubectl's YAML 1.1 parser ends a plain scalar at `?`; quote it"
                        )),
                    ));
                }
                (
                    Body::Scalar {
                        value: value.into_owned(),
                        plain: style == ScalarStyle::Plain,
                        tag: tag.map(|tag| tag.to_string()),
                    },
                    anchor_id,
                    false,
                )
            }
            Event::SequenceStart(style, anchor_id, _) => {
                (Body::Sequence(Vec::new()), anchor_id, style == StructureStyle::Flow)
            }
            Event::MappingStart(style, anchor_id, _) => {
                (Body::Mapping(Vec::new()), anchor_id, style == StructureStyle::Flow)
            }
            Event::Alias(id) => {
                let name = alias_name(text, &span);
                check_anchor_name(&name, line, column + 1).map_err(Attempt::Failed)?;
                let Some(&target) = anchors.get(&id) else {
                    return Err(failed(
                        line,
                        column,
                        Problem::Syntax(format!("unknown anchor '{name}' referenced")),
                    ));
                };
                (Body::Alias { target, name }, 0, false)
            }
            // Stream and document starts, comments: nothing to build.
            _ => continue,
        };
        let opens = matches!(body, Body::Sequence(_) | Body::Mapping(_));
        let index = nodes.len();
        nodes.push(Node { body, line, column });
        if anchor_id != 0 {
            anchors.insert(anchor_id, index);
        }
        match open.last_mut() {
            None => root = Some(index),
            Some((parent, pending_key, _)) => match (&mut nodes[*parent].body, pending_key.take()) {
                (Body::Sequence(items), _) => items.push(index),
                (Body::Mapping(pairs), Some(key)) => pairs.push((key, index)),
                (Body::Mapping(_), None) => *pending_key = Some(index),
                // Only collections are ever pushed on `open`.
                _ => {}
            },
        }
        if opens {
            if open.len() >= MAX_DEPTH {
                return Err(failed(line, column, Problem::TooDeep(MAX_DEPTH)));
            }
            open.push((index, None, flow));
        }
    }
    Ok(root.map(|root| (nodes, root)))
}

/// `text` with every `\'` of the double-quoted scalar that starts at or after byte `start`
/// replaced by `'` (what go-yaml reads it as), or `None` when the scalar has none.
fn patch_quote_escapes(text: &str, start: usize) -> Option<String> {
    let open = start + text.get(start..)?.find('"')?;
    let mut escapes = Vec::new();
    let mut chars = text[open + 1..].char_indices();
    while let Some((at, ch)) = chars.next() {
        match ch {
            '"' => break,
            '\\' => {
                if let Some((_, '\'')) = chars.next() {
                    escapes.push(open + 1 + at);
                }
            }
            _ => {}
        }
    }
    if escapes.is_empty() {
        return None;
    }
    let mut patched = String::with_capacity(text.len());
    let mut from = 0;
    for at in escapes {
        patched.push_str(&text[from..at]);
        from = at + 1;
    }
    patched.push_str(&text[from..]);
    Some(patched)
}

/// Escapes granit (YAML 1.2) accepts but go-yaml (YAML 1.1) refuses: `\/`, and `\u`/`\U`/`\x`
/// codes that are surrogates (granit joins JSON-style pairs) or beyond U+10FFFF.
fn check_double_quoted(chunk: &Chunk, text: &str, span: &Span) -> Result<(), YamlError> {
    let (Some(start), Some(end)) = (span.start.byte_offset(), span.end.byte_offset()) else {
        return Ok(());
    };
    let Some(raw) = text.get(start..end) else { return Ok(()) };
    let Some(open) = raw.find('"') else { return Ok(()) };
    let mut chars = raw[open + 1..].char_indices().peekable();
    while let Some((at, ch)) = chars.next() {
        if ch != '\\' {
            continue;
        }
        let Some((_, code)) = chars.next() else { break };
        let digits = match code {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            '/' => {
                let (line, column) = offset_position(chunk, text, start + open + 1 + at);
                return Err(YamlError::new(
                    line,
                    column,
                    Problem::Syntax("found unknown escape character `\\/` (YAML 1.2 only)".to_owned()),
                ));
            }
            _ => continue,
        };
        let hex: String = (0..digits)
            .filter_map(|_| chars.next().map(|(_, digit)| digit))
            .collect();
        let valid = u32::from_str_radix(&hex, 16)
            .ok()
            .is_some_and(|value| char::from_u32(value).is_some());
        if !valid {
            let (line, column) = offset_position(chunk, text, start + open + 1 + at);
            return Err(YamlError::new(
                line,
                column,
                Problem::Syntax("found invalid Unicode character escape code".to_owned()),
            ));
        }
    }
    Ok(())
}

/// go-yaml refuses a tab where a block scalar's indentation is still being read: after the leading
/// spaces of the lines up to the first content line (while the indentation is auto-detected), and
/// after fewer spaces than the indentation on later lines. YAML 1.2 reads those tabs as content.
/// Scalars with an explicit indentation indicator are not checked.
fn check_block_tabs(chunk: &Chunk, text: &str, span: &Span) -> Result<(), YamlError> {
    let (Some(start), Some(end)) = (span.start.byte_offset(), span.end.byte_offset()) else {
        return Ok(());
    };
    // granit's span starts at the first content character; the header (`|2-`) is on the last
    // non-blank line before the content's line.
    let Some(before) = text.get(..start) else { return Ok(()) };
    let content_line = before.rfind('\n').map_or(0, |at| at + 1);
    let mut body_start = content_line;
    let mut header = "";
    for line in before[..content_line].split_inclusive('\n').rev() {
        if !line.trim().is_empty() {
            header = line;
            break;
        }
        body_start -= line.len();
    }
    let header = header.split(" #").next().unwrap_or_default();
    let indicator = header.rfind(['|', '>']).map_or("", |at| &header[at..]);
    if indicator.bytes().any(|byte| byte.is_ascii_digit()) {
        return Ok(());
    }
    let Some(body) = text.get(body_start..end) else {
        return Ok(());
    };
    let mut indent: Option<usize> = None;
    let mut max_spaces = 0;
    let mut offset = body_start;
    for line in body.split_inclusive('\n') {
        let spaces = line.bytes().take_while(|&byte| byte == b' ').count();
        let limit = indent.unwrap_or(usize::MAX);
        let eaten = spaces.min(limit);
        if line.as_bytes().get(eaten) == Some(&b'\t') && eaten < limit {
            let (line, column) = offset_position(chunk, text, offset + eaten);
            return Err(YamlError::new(
                line,
                column,
                Problem::Syntax(
                    "found a tab character where an indentation space is expected (block scalar)".to_owned(),
                ),
            ));
        }
        if indent.is_none() {
            max_spaces = max_spaces.max(spaces);
            if !line.trim_end_matches(['\n', '\r']).trim_start_matches(' ').is_empty() {
                indent = Some(max_spaces);
            }
        }
        offset += line.len();
    }
    Ok(())
}

/// 1-based line and column in the file of a byte offset in the chunk's text.
fn offset_position(chunk: &Chunk, text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or_default();
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    (
        chunk.first_line + before.matches('\n').count(),
        before[line_start..].chars().count() + 1,
    )
}

fn scan_error(chunk: &Chunk, error: &ScanError) -> YamlError {
    let marker = error.marker();
    YamlError::new(
        chunk.first_line + marker.line().max(1) - 1,
        marker.col() + 1,
        Problem::Syntax(error.info()),
    )
}

/// The name of an alias, from its source text `*name`.
fn alias_name(text: &str, span: &Span) -> String {
    match (span.start.byte_offset(), span.end.byte_offset()) {
        (Some(start), Some(end)) => text.get(start + 1..end).unwrap_or_default().to_owned(),
        _ => String::new(),
    }
}

/// go-yaml (libyaml) reads anchor and alias names as `[0-9A-Za-z_-]+`; YAML 1.2 allows more.
fn check_anchor_name(name: &str, line: usize, column: usize) -> Result<(), YamlError> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    {
        return Err(YamlError::new(line, column, Problem::AnchorName(name.to_owned())));
    }
    Ok(())
}

/// go-yaml's `allowedAliasRatio`: the share of decode steps that may come from alias expansion.
fn allowed_alias_ratio(decodes: usize) -> f64 {
    const LOW: f64 = 400_000.0;
    const HIGH: f64 = 4_000_000.0;
    let decodes = decodes as f64;
    if decodes <= LOW {
        0.99
    } else if decodes >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decodes - LOW) / (HIGH - LOW))
    }
}

struct Decoder<'t> {
    nodes: &'t [Node],
    /// go-yaml's `decodeCount` and `aliasCount`, counted at the same steps, so that we refuse
    /// exactly the documents it refuses for excessive aliasing (billion laughs).
    decodes: usize,
    aliased: usize,
    alias_depth: usize,
    /// Alias nodes being expanded, to refuse an anchor that contains itself.
    active_aliases: Vec<bool>,
    depth: usize,
}

impl Decoder<'_> {
    /// One go-yaml `unmarshal` step.
    fn count(&mut self, index: usize) -> Result<(), YamlError> {
        self.decodes += 1;
        if self.alias_depth > 0 {
            self.aliased += 1;
        }
        if self.aliased > 100
            && self.decodes > 1000
            && self.aliased as f64 / self.decodes as f64 > allowed_alias_ratio(self.decodes)
        {
            return Err(self.nodes[index].error(Problem::ExcessiveAliasing));
        }
        Ok(())
    }

    fn enter(&mut self, index: usize) -> Result<(), YamlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.nodes[index].error(Problem::TooDeep(MAX_DEPTH)));
        }
        Ok(())
    }

    /// Run `inside` on an alias's target, as go-yaml's `d.alias` does.
    fn through_alias<T>(
        &mut self,
        alias: usize,
        inside: impl FnOnce(&mut Self) -> Result<T, YamlError>,
    ) -> Result<T, YamlError> {
        if self.active_aliases[alias] {
            let name = match &self.nodes[alias].body {
                Body::Alias { name, .. } => name.clone(),
                _ => String::new(),
            };
            return Err(self.nodes[alias].error(Problem::RecursiveAlias(name)));
        }
        self.active_aliases[alias] = true;
        self.alias_depth += 1;
        let result = inside(self);
        self.alias_depth -= 1;
        self.active_aliases[alias] = false;
        result
    }

    fn value(&mut self, index: usize) -> Result<Value, YamlError> {
        self.count(index)?;
        let nodes = self.nodes;
        let node = &nodes[index];
        match &node.body {
            Body::Scalar { value, plain, tag } => resolve::resolve(tag.as_deref(), value, *plain)
                .and_then(|scalar| resolve::to_json(scalar, value))
                .map_err(|problem| node.error(problem)),
            Body::Sequence(items) => {
                self.enter(index)?;
                let values = items
                    .iter()
                    .map(|&item| self.value(item))
                    .collect::<Result<Vec<_>, _>>()?;
                self.depth -= 1;
                Ok(Value::Array(values))
            }
            Body::Mapping(_) => {
                self.enter(index)?;
                let mut map = GoMap::default();
                self.fill(index, &mut map)?;
                self.depth -= 1;
                map.into_json(nodes)
            }
            Body::Alias { target, .. } => self.through_alias(index, |this| this.value(*target)),
        }
    }

    /// go-yaml's `d.mapping` into a map that may already hold entries (merges write into it).
    /// Every key and merge writes in document order, so a `<<` overrides the keys before it.
    fn fill(&mut self, index: usize, map: &mut GoMap) -> Result<(), YamlError> {
        let nodes = self.nodes;
        let Body::Mapping(pairs) = &nodes[index].body else {
            return Ok(());
        };
        for &(key, value) in pairs {
            if is_merge(&nodes[key]) {
                self.merge(value, map)?;
                continue;
            }
            let go_key = self.key(key)?;
            let value = self.value(value)?;
            map.insert(go_key, value, key);
        }
        Ok(())
    }

    /// go-yaml's `d.merge`: a mapping, an alias of one, or a sequence of those, applied from last
    /// to first so that earlier ones win.
    fn merge(&mut self, index: usize, map: &mut GoMap) -> Result<(), YamlError> {
        let nodes = self.nodes;
        match &nodes[index].body {
            Body::Sequence(items) => {
                for &item in items.iter().rev() {
                    self.merge_one(item, map)?;
                }
                Ok(())
            }
            _ => self.merge_one(index, map),
        }
    }

    fn merge_one(&mut self, index: usize, map: &mut GoMap) -> Result<(), YamlError> {
        let nodes = self.nodes;
        let node = &nodes[index];
        match &node.body {
            Body::Mapping(_) => {
                self.count(index)?;
                self.enter(index)?;
                self.fill(index, map)?;
                self.depth -= 1;
                Ok(())
            }
            Body::Alias { target, .. } if matches!(nodes[*target].body, Body::Mapping(_)) => {
                self.count(index)?;
                self.through_alias(index, |this| {
                    this.count(*target)?;
                    this.enter(*target)?;
                    this.fill(*target, map)?;
                    this.depth -= 1;
                    Ok(())
                })
            }
            _ => Err(node.error(Problem::MergeNotMap)),
        }
    }

    fn key(&mut self, index: usize) -> Result<GoKey, YamlError> {
        self.count(index)?;
        let nodes = self.nodes;
        let node = &nodes[index];
        match &node.body {
            Body::Scalar { value, plain, tag } => resolve::resolve(tag.as_deref(), value, *plain)
                .map(GoKey::from)
                .map_err(|problem| node.error(problem)),
            Body::Sequence(_) => Err(node.error(Problem::CollectionKey("sequence"))),
            Body::Mapping(_) => Err(node.error(Problem::CollectionKey("mapping"))),
            Body::Alias { target, .. } => self.through_alias(index, |this| this.key(*target)),
        }
    }
}

fn is_merge(node: &Node) -> bool {
    match &node.body {
        // go-yaml: value `<<` and either implicit (plain, untagged or `!`) or tagged `!!merge`.
        Body::Scalar { value, plain, tag } => {
            value == "<<"
                && match tag.as_deref() {
                    None | Some("!") => *plain,
                    Some(tag) => tag == MERGE_TAG,
                }
        }
        _ => false,
    }
}

/// A map key with Go's types (`map[interface{}]interface{}`): `1`, `1.0` and `"1"` are three keys.
#[derive(Debug, Clone)]
enum GoKey {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
}

impl From<Scalar> for GoKey {
    fn from(scalar: Scalar) -> Self {
        match scalar {
            Scalar::Null => GoKey::Null,
            Scalar::Bool(value) => GoKey::Bool(value),
            Scalar::Int(value) => GoKey::Int(value),
            Scalar::Uint(value) => GoKey::Uint(value),
            Scalar::Float(value) => GoKey::Float(value),
            Scalar::Str(value) => GoKey::Str(value),
        }
    }
}

/// Go map identity: `-0.0 == 0.0`, and NaN never equals itself (every NaN key is a new entry).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyId {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(u64),
    NaN(usize),
    Str(String),
}

#[derive(Default)]
struct GoMap {
    entries: Vec<(GoKey, Value, usize)>,
    index: HashMap<KeyId, usize>,
}

impl GoMap {
    /// `SetMapIndex`: a key already present keeps its first spelling and takes the new value.
    fn insert(&mut self, key: GoKey, value: Value, node: usize) {
        let id = match &key {
            GoKey::Null => KeyId::Null,
            GoKey::Bool(value) => KeyId::Bool(*value),
            GoKey::Int(value) => KeyId::Int(*value),
            GoKey::Uint(value) => KeyId::Uint(*value),
            GoKey::Float(value) if value.is_nan() => KeyId::NaN(self.entries.len()),
            GoKey::Float(value) => KeyId::Float(if *value == 0.0 { 0 } else { value.to_bits() }),
            GoKey::Str(value) => KeyId::Str(value.clone()),
        };
        if let Some(&at) = self.index.get(&id) {
            self.entries[at].1 = value;
        } else {
            self.index.insert(id, self.entries.len());
            self.entries.push((key, value, node));
        }
    }

    /// sigs.k8s.io/yaml's key conversion. Distinct Go keys with the same string would leave the
    /// result to Go's random map order, so they are refused.
    fn into_json(self, nodes: &[Node]) -> Result<Value, YamlError> {
        let mut object = Map::new();
        let mut owners: HashMap<String, usize> = HashMap::new();
        for (key, value, node) in self.entries {
            let text = match key {
                GoKey::Null => return Err(nodes[node].error(Problem::NullKey)),
                GoKey::Uint(value) => return Err(nodes[node].error(Problem::UintKey(value))),
                GoKey::Bool(value) => value.to_string(),
                GoKey::Int(value) => value.to_string(),
                GoKey::Float(value) => resolve::float_key(value),
                GoKey::Str(value) => value,
            };
            if let Some(first) = owners.insert(text.clone(), node) {
                return Err(nodes[node].error(Problem::KeyCollision {
                    first: nodes[first].written(),
                    first_line: nodes[first].line,
                    second: nodes[node].written(),
                    json: text,
                }));
            }
            object.insert(text, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn one(text: &str) -> Result<Option<Value>, YamlError> {
        let chunk = Chunk {
            text: text.to_owned(),
            first_line: 1,
        };
        first_document(&chunk).map(|document| document.map(|document| document.value))
    }

    fn value(text: &str) -> Value {
        one(text).expect("decodes").expect("not empty")
    }

    fn problem(text: &str) -> Problem {
        one(text).expect_err("refused").problem
    }

    #[test]
    fn merge_keys_follow_go_yaml_order() {
        let text = "b: &b {a: 1, b: 2}\no: &o {b: 3, c: 4}\n\
                    before: {a: 0, <<: *b}\nafter: {<<: *b, a: 0}\nlist: {<<: [*b, *o]}\n\
                    twice: {<<: *b, <<: *o}\nquoted: {\"<<\": 1}\n";
        let got = value(text);
        assert_eq!(got["before"], json!({"a": 1, "b": 2}));
        assert_eq!(got["after"], json!({"a": 0, "b": 2}));
        assert_eq!(got["list"], json!({"a": 1, "b": 2, "c": 4}));
        assert_eq!(got["twice"], json!({"a": 1, "b": 3, "c": 4}));
        assert_eq!(got["quoted"], json!({"<<": 1}));
        assert_eq!(problem("a: &s 5\nb: {<<: *s}\n"), Problem::MergeNotMap);
        assert_eq!(problem("b: {<<: [1]}\n"), Problem::MergeNotMap);
    }

    #[test]
    fn keys_become_strings_as_kubectl_writes_them() {
        let got = value("0400: a\n0x10: b\n1.5: c\n1e7: d\ntrue: e\nno: f\n2001-12-14: g\n.inf: h\n-0.0: i\ny: j\n");
        assert_eq!(
            got,
            json!({"256": "a", "16": "b", "1.5": "c", "1e+07": "d", "true": "j", "false": "f",
                   "2001-12-14": "g", ".inf": "h", "-0": "i"})
        );
        assert_eq!(problem("~: a\n"), Problem::NullKey);
        assert_eq!(problem("18446744073709551615: a\n"), Problem::UintKey(u64::MAX));
        assert_eq!(problem("? [a]\n: b\n"), Problem::CollectionKey("sequence"));
        assert!(matches!(problem("1: a\n\"1\": b\n"), Problem::KeyCollision { .. }));
        assert!(matches!(problem("1: a\n1.0: b\n"), Problem::KeyCollision { .. }));
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        assert_eq!(value("a: 1\na: 2\n0x10: x\n16: z\n"), json!({"a": 2, "16": "z"}));
    }

    #[test]
    fn anchors() {
        assert_eq!(
            value("a: &x 0400\nb: *x\nc: &x 2\nd: *x\n"),
            json!({"a": 256, "b": 256, "c": 2, "d": 2})
        );
        assert_eq!(problem("a: &x [1, *x]\n"), Problem::RecursiveAlias("x".into()));
        assert_eq!(problem("a: &x.y 1\n"), Problem::AnchorName("x.y".into()));
        assert!(matches!(problem("a: *nope\n"), Problem::Syntax(_)));
    }

    #[test]
    fn billion_laughs_is_refused_like_go_yaml() {
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for level in 1..10 {
            let previous = level - 1;
            let refs = vec![format!("*a{previous}"); 10].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        assert_eq!(problem(&text), Problem::ExcessiveAliasing);
        // A moderate, legitimate expansion passes.
        assert!(one("a: &a {x: 1, y: 2}\nb: [*a, *a, *a, *a]\n").is_ok());
    }

    #[test]
    fn depth_is_bounded() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(matches!(problem(&deep), Problem::TooDeep(_) | Problem::Syntax(_)));
        let fine = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(one(&fine).is_ok());
    }

    #[test]
    fn only_the_first_document_of_a_chunk_counts() {
        assert_eq!(value("a: 1\n...\nb: 2\n"), json!({"a": 1}));
        assert_eq!(one("# only a comment\n").expect("decodes"), None);
        assert_eq!(one("~\n").expect("decodes"), None);
    }

    #[test]
    fn double_quoted_escapes_are_go_yaml_s() {
        assert_eq!(
            value("a: \"it\\'s\"\nb: \"\\x41\\u00e9\"\n"),
            json!({"a": "it's", "b": "A\u{e9}"})
        );
        assert!(matches!(problem("a: \"a\\/b\"\n"), Problem::Syntax(_)));
        assert!(matches!(problem("a: \"\\ud83d\\ude00\"\n"), Problem::Syntax(_)));
        assert!(matches!(problem("a: \"\\q\"\n"), Problem::Syntax(_)));
    }

    #[test]
    fn yaml_1_1_spellings_granit_refuses() {
        assert_eq!(value("x: &a 1\nm:\n  *a: b\n"), json!({"x": 1, "m": {"1": "b"}}));
        assert_eq!(value("a: \"x\"# c\nb: [1]# d\n"), json!({"a": "x", "b": [1]}));
        assert!(matches!(problem("a: [a?b]\n"), Problem::Syntax(_)));
        assert_eq!(value("a: a?b\n"), json!({"a": "a?b"}));
        assert!(matches!(problem("a: x\u{2028}y\n"), Problem::Syntax(_)));
    }

    #[test]
    fn tabs_where_a_block_scalar_indentation_is_read() {
        assert!(matches!(problem("a: |\n    \tx\n"), Problem::Syntax(_)));
        assert!(matches!(problem("a: |\n  \t\n    x\n"), Problem::Syntax(_)));
        assert_eq!(value("a: >\n    a\n    \tb\n"), json!({"a": "a\n\tb\n"}));
        assert_eq!(value("a: |\n    x\n    \ty\n"), json!({"a": "x\n\ty\n"}));
    }

    #[test]
    fn a_directive_after_the_first_document_is_not_read() {
        assert_eq!(value("a: 1\n%YAML 1.1\n"), json!({"a": 1}));
    }

    #[test]
    fn quoted_and_block_scalars_stay_strings() {
        let got = value("a: \"0400\"\nb: 'yes'\nc: |\n  0400\nd: >-\n  on\n");
        assert_eq!(got, json!({"a": "0400", "b": "yes", "c": "0400\n", "d": "on"}));
    }
}
