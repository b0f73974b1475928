//! How kubectl cuts a file into documents before any YAML parsing: apimachinery's
//! `YAMLOrJSONDecoder` (JSON sniffing) and `YAMLReader` (line-based `---` splitting).

use serde_json::Value;

use super::{Document, Problem, YamlError, resolve};

/// How far kubectl looks for the `{` that makes a file JSON (`NewYAMLOrJSONDecoder(r, 4096)`).
const JSON_SNIFF_BYTES: usize = 4096;

/// One document's text as go-yaml receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Lines ended by `\n` (CRLF already turned into LF, as Go's `ReadLine` does).
    pub(crate) text: String,
    /// 1-based line in the file of the chunk's first line.
    pub(crate) first_line: usize,
}

/// Whether kubectl reads `text` as a stream of JSON values: the first non-space character within
/// the first 4096 bytes is `{`.
pub(crate) fn is_json_stream(text: &str) -> bool {
    text.char_indices()
        .take_while(|&(index, _)| index < JSON_SNIFF_BYTES)
        .find(|&(_, ch)| !ch.is_whitespace())
        .is_some_and(|(_, ch)| ch == '{')
}

/// The chunks kubectl's `YAMLReader` hands to the YAML parser, one per document.
///
/// A line starting with `---` ends the current chunk and is dropped, unless the chunk is still
/// empty: then the line opens the next chunk (as an explicit document start). Text after `---`
/// other than spaces or a `#` comment is an error. `...` gets no special treatment here.
/// `line` is the file line `text` starts on.
pub(crate) fn yaml_chunks(text: &str, line: usize) -> Result<Vec<Chunk>, YamlError> {
    let mut chunks = Vec::new();
    let mut buffer = String::new();
    let mut first_line = line;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let number = line + index;
        let line = match raw.strip_suffix('\n') {
            Some(line) => line.strip_suffix('\r').unwrap_or(line),
            None => raw,
        };
        if let Some(rest) = line.strip_prefix("---") {
            let trimmed = rest.trim();
            if !trimmed.is_empty() && !trimmed.starts_with('#') {
                return Err(YamlError::new(number, 4, Problem::Separator(rest.to_owned())));
            }
            if !buffer.is_empty() {
                chunks.push(Chunk {
                    text: std::mem::take(&mut buffer),
                    first_line,
                });
                first_line = number + 1;
                continue;
            }
        }
        if buffer.is_empty() {
            first_line = number;
        }
        buffer.push_str(line);
        buffer.push('\n');
    }
    if !buffer.is_empty() {
        chunks.push(Chunk {
            text: buffer,
            first_line,
        });
    }
    Ok(chunks)
}

/// How a stream that starts with `{` is read since kubectl 1.33 (apimachinery v0.33
/// `YAMLOrJSONDecoder`): JSON values one after the other, `null` skipped, numbers through the same
/// int64/float64 rule as YAML. When a value fails to parse and at most one value was read, the rest
/// of the file (after the values read, from the next line) is read as YAML instead; after two or
/// more values the error stands. (kubectl 1.32 and older refuse on the first JSON error.)
pub(crate) fn json_then_yaml(text: &str) -> Result<Vec<Document>, YamlError> {
    let mut documents = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut read = 0;
    let mut consumed = 0;
    while let Some(next) = stream.next() {
        let value = match next {
            Ok(value) => value,
            Err(error) if read > 1 => {
                return Err(YamlError::new(
                    error.line(),
                    error.column(),
                    Problem::Json(error.to_string()),
                ));
            }
            Err(_) => {
                let rest = &text[consumed..];
                // kubectl eats whitespace up to and including the first newline before switching.
                let skip = rest
                    .char_indices()
                    .find(|&(_, ch)| !ch.is_whitespace() || ch == '\n')
                    .map_or(rest.len(), |(at, ch)| if ch == '\n' { at + 1 } else { at });
                let start = consumed + skip;
                let line = text[..start].matches('\n').count() + 1;
                for chunk in yaml_chunks(&text[start..], line)? {
                    if let Some(document) = super::decode::first_document(&chunk)? {
                        documents.push(document);
                    }
                }
                return Ok(documents);
            }
        };
        read += 1;
        let start = consumed + text[consumed..].len() - text[consumed..].trim_start().len();
        consumed = stream.byte_offset();
        if value.is_null() {
            continue;
        }
        let line = text[..start].matches('\n').count() + 1;
        let value = normalise_json_numbers(value).map_err(|problem| YamlError::new(line, 1, problem))?;
        documents.push(Document { value, line, number: 0 });
    }
    Ok(documents)
}

/// serde_json reads `1.0` as f64 and big integers as u64; kubectl ends with int64 where the value
/// is integral and fits, float64 otherwise.
fn normalise_json_numbers(value: Value) -> Result<Value, Problem> {
    Ok(match value {
        Value::Number(number) => match (number.as_i64(), number.as_u64(), number.as_f64()) {
            (Some(int), _, _) => Value::from(int),
            (None, Some(uint), _) => resolve::float(uint as f64, &number.to_string())?,
            (None, None, Some(float)) => resolve::float(float, &number.to_string())?,
            (None, None, None) => Value::Number(number),
        },
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(normalise_json_numbers)
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| Ok((key, normalise_json_numbers(value)?)))
                .collect::<Result<_, Problem>>()?,
        ),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<(usize, String)> {
        yaml_chunks(text, 1)
            .expect("splits")
            .into_iter()
            .map(|chunk| (chunk.first_line, chunk.text))
            .collect()
    }

    #[test]
    fn separators_drop_the_line_except_at_the_start_of_a_chunk() {
        assert_eq!(
            texts("---\na: 1\n---\nb: 2\n--- # c\nc: 3"),
            vec![(1, "---\na: 1\n".into()), (4, "b: 2\n".into()), (6, "c: 3\n".into())]
        );
        assert_eq!(
            texts("---\n---\na: 1\n"),
            vec![(1, "---\n".into()), (3, "a: 1\n".into())]
        );
    }

    #[test]
    fn crlf_becomes_lf_but_a_lone_cr_stays() {
        assert_eq!(
            texts("a: 1\r\n---\r\nb: 2\r"),
            vec![(1, "a: 1\n".into()), (3, "b: 2\r\n".into())]
        );
    }

    #[test]
    fn text_after_the_separator_is_an_error() {
        for bad in ["---x", "----", "--- !!map", "--- |", "--- {a: 1}"] {
            let error = yaml_chunks(&format!("a: 1\n{bad}\n"), 1).expect_err(bad);
            assert_eq!((error.line, error.column), (2, 4), "{bad}");
        }
        assert!(yaml_chunks("a: 1\n---   \n", 1).is_ok());
    }

    #[test]
    fn document_end_markers_are_not_separators() {
        assert_eq!(texts("a: 1\n...\nb: 2\n"), vec![(1, "a: 1\n...\nb: 2\n".into())]);
    }

    #[test]
    fn json_sniffing() {
        assert!(is_json_stream(" \n\t{\"a\": 1}"));
        assert!(!is_json_stream("\u{FEFF}{\"a\": 1}"));
        assert!(!is_json_stream("# c\n{}"));
        assert!(!is_json_stream(&format!("{}{{}}", " ".repeat(4096))));
    }

    #[test]
    fn json_falls_back_to_yaml_after_at_most_one_value() {
        let flow = json_then_yaml("{apiVersion: v1, kind: ConfigMap}\n").expect("read as YAML");
        assert_eq!(
            flow[0].value,
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap"})
        );
        let mixed = json_then_yaml("{\"a\": 1}\n---\nb: 0400\n").expect("JSON then YAML");
        assert_eq!(
            mixed.iter().map(|document| document.line).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(mixed[1].value, serde_json::json!({"b": 256}));
        assert!(json_then_yaml("{\"a\": 1}\n{\"b\": 2}\nc: 3\n").is_err());
    }

    #[test]
    fn json_streams() {
        let documents = json_then_yaml("{\"a\": 1.0, \"b\": 9223372036854775808}\nnull\n{\"c\": -0}").expect("parses");
        assert_eq!(documents.len(), 2);
        assert_eq!(
            documents[0].value,
            serde_json::json!({"a": 1, "b": 9_223_372_036_854_775_808.0})
        );
        assert_eq!(documents[1].value, serde_json::json!({"c": 0}));
        assert_eq!(documents[1].line, 3);
    }
}
