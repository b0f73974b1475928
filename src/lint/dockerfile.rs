//! A Dockerfile reader that splits a file into instructions exactly as BuildKit's parser does
//! (`moby/buildkit` `frontend/dockerfile/parser`), while remembering where every byte of an
//! instruction's logical line came from, so findings can point at physical lines and columns.
//!
//! Why not `parse-dockerfile`: 0.1.9 only recognises a heredoc at the very start of `RUN`'s
//! arguments and only one of them (its own TODOs), so `RUN bash <<EOF`, `RUN cat <<EOF > f` and
//! `RUN <<A <<B` mis-parse. Instruction boundaries here are cross-checked against BuildKit's own
//! Go parser (PyPI `dockerfile`) over the whole test corpus.

use std::ops::Range;

/// Instructions that BuildKit accepts. Anything else is "unknown instruction" at build time.
const KNOWN_INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Why a file could not be read as a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParseError {
    #[error("unterminated heredoc `{name}` (opened at line {opened_at}): no line `{name}` before the end of the file")]
    UnterminatedHeredoc {
        name: String,
        opened_at: usize,
        line: usize,
    },
    #[error("unknown instruction `{keyword}`: this does not look like a Dockerfile")]
    UnknownInstruction {
        keyword: String,
        line: usize,
        column: usize,
    },
    #[error("invalid escape directive `{value}`: must be `\\` or a backtick")]
    InvalidEscape { value: String, line: usize },
    #[error("only one `{name}` parser directive can be used")]
    DuplicateDirective { name: String, line: usize },
}

impl ParseError {
    /// The 1-based physical line the error is reported at.
    pub(crate) fn line(&self) -> usize {
        match self {
            Self::UnterminatedHeredoc { line, .. }
            | Self::UnknownInstruction { line, .. }
            | Self::InvalidEscape { line, .. }
            | Self::DuplicateDirective { line, .. } => *line,
        }
    }

    pub(crate) fn column(&self) -> usize {
        match self {
            Self::UnknownInstruction { column, .. } => *column,
            _ => 1,
        }
    }
}

/// Text with a map from each of its bytes back to a byte offset in the original file.
///
/// `map` has one more entry than `text` has bytes: the offset just past the last byte. `ends[i]`
/// is where the source of byte `i` ends: `map[i] + 1` for plain text, past the whole escape for a
/// byte decoded from a JSON escape (`\"`, `\u00e9`), so an edit never cuts an escape in half.
#[derive(Debug, Clone, Default)]
pub(crate) struct Mapped {
    pub(crate) text: String,
    pub(crate) map: Vec<u32>,
    pub(crate) ends: Vec<u32>,
}

impl Mapped {
    /// Empty, with room for `bytes` bytes (a word's text, its maps).
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        Self {
            text: String::with_capacity(bytes),
            map: Vec::with_capacity(bytes + 1),
            ends: Vec::with_capacity(bytes),
        }
    }

    /// A slice of the source that maps onto itself.
    pub(crate) fn identity(source: &str, range: Range<usize>) -> Self {
        let text = source[range.clone()].to_owned();
        let map = (range.start..=range.end).map(|offset| offset as u32).collect();
        let ends = (range.start + 1..=range.end).map(|offset| offset as u32).collect();
        Self { text, map, ends }
    }

    fn push_segment(&mut self, source: &str, range: Range<usize>) {
        self.text.push_str(&source[range.clone()]);
        self.map.extend((range.start..range.end).map(|offset| offset as u32));
        self.ends
            .extend((range.start + 1..=range.end).map(|offset| offset as u32));
    }

    /// Append bytes `range` of `other` (which maps into the same source), keeping their maps.
    pub(crate) fn push_from(&mut self, other: &Mapped, range: Range<usize>) {
        self.text.push_str(&other.text[range.clone()]);
        self.map.extend_from_slice(&other.map[range.clone()]);
        self.ends.extend_from_slice(&other.ends[range]);
    }

    /// Close the text: record the source offset just past it.
    pub(crate) fn close(&mut self, end: usize) {
        self.map.push(end as u32);
    }

    /// The source offset of logical byte `index` (or the end, past the last byte).
    pub(crate) fn source_offset(&self, index: usize) -> usize {
        self.map[index.min(self.map.len() - 1)] as usize
    }

    /// The source range covered by logical range `range`, ending just past its last byte.
    pub(crate) fn source_range(&self, range: Range<usize>) -> Range<usize> {
        let start = self.source_offset(range.start);
        let end = match range.end.checked_sub(1).and_then(|last| self.ends.get(last)) {
            Some(&end) if range.end > range.start => end as usize,
            _ => start,
        };
        start..end.max(start)
    }

    /// A sub-slice that keeps mapping to the same source offsets. The range is clamped to the
    /// text and widened to character boundaries.
    pub(crate) fn slice(&self, range: Range<usize>) -> Self {
        let floor = |mut index: usize| {
            index = index.min(self.text.len());
            while !self.text.is_char_boundary(index) {
                index -= 1;
            }
            index
        };
        let range = floor(range.start)..floor(range.end).max(floor(range.start));
        let text = self.text[range.clone()].to_owned();
        let mut map = self.map[range.clone()].to_vec();
        map.push(self.map[range.end]);
        let ends = self.ends[range].to_vec();
        Self { text, map, ends }
    }
}

/// A here-document attached to an instruction.
#[derive(Debug, Clone)]
pub(crate) struct Heredoc {
    pub(crate) name: String,
    /// The body in the source, terminator line excluded.
    pub(crate) body: Range<usize>,
}

/// The exec (JSON array) form of a command.
#[derive(Debug, Clone)]
pub(crate) struct ExecArg {
    pub(crate) value: Mapped,
}

/// The arguments of `RUN`, `CMD` and friends.
#[derive(Debug, Clone)]
pub(crate) enum Command {
    Exec(Vec<ExecArg>),
    /// Shell form: the logical text, with the escape+newline continuations and the comment lines
    /// inside continuations removed, as the shell will see it.
    Shell(Mapped),
}

/// One instruction, with its place in the file.
#[derive(Debug, Clone)]
pub(crate) struct Instruction {
    /// Upper-cased keyword (`RUN`); for `ONBUILD RUN` this is `ONBUILD`.
    pub(crate) keyword: String,
    /// For `ONBUILD X`: the upper-cased `X`.
    pub(crate) onbuild_keyword: Option<String>,
    /// 1-based physical lines, as BuildKit reports them (heredoc terminators included).
    pub(crate) start_line: usize,
    pub(crate) end_line: usize,
    /// Byte range of the whole instruction, from the start of its first line through the
    /// newline of its last line.
    pub(crate) full_range: Range<usize>,
    /// `--name=value` flags (`RUN --mount=...`).
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the BuildKit cross-check"))]
    pub(crate) flags: Vec<String>,
    /// The logical arguments after the keyword and flags (after the sub-keyword for `ONBUILD`).
    pub(crate) arguments: Mapped,
    pub(crate) heredocs: Vec<Heredoc>,
    /// 1-based physical lines of the comment block directly above the instruction.
    pub(crate) leading_comments: Range<usize>,
}

impl Instruction {
    /// The keyword that decides what the instruction does (`RUN` for `ONBUILD RUN`).
    pub(crate) fn effective_keyword(&self) -> &str {
        self.onbuild_keyword.as_deref().unwrap_or(&self.keyword)
    }

    /// The command of a `RUN` (or `ONBUILD RUN`), in exec or shell form.
    pub(crate) fn command(&self) -> Command {
        let args = &self.arguments;
        let trimmed_start = args.text.len() - args.text.trim_start().len();
        let trimmed = args.text.trim();
        if trimmed.starts_with('[')
            && let Some(exec) = parse_json_array(args, trimmed_start)
        {
            return Command::Exec(exec);
        }
        Command::Shell(args.clone())
    }
}

/// A Dockerfile split into instructions.
#[derive(Debug)]
pub(crate) struct Dockerfile<'a> {
    pub(crate) text: &'a str,
    pub(crate) instructions: Vec<Instruction>,
    line_starts: Vec<usize>,
}

impl<'a> Dockerfile<'a> {
    /// 1-based (line, column) of a byte offset; columns count Unicode scalar values.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(index) => index,
            Err(index) => index - 1,
        };
        let line_start = self.line_starts[line_index];
        let line = &self.text[line_start..offset.min(self.text.len())];
        // A byte-order mark is not a column.
        let column = line.strip_prefix('\u{feff}').unwrap_or(line).chars().count() + 1;
        (line_index + 1, column)
    }

    /// The text of 1-based physical line `line`, without its line ending.
    pub(crate) fn line_text(&self, line: usize) -> &'a str {
        let start = self.line_starts[line - 1];
        let end = self.line_starts.get(line).copied().unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }
}

/// A physical line: `content` excludes the line ending.
#[derive(Clone, Copy)]
struct Line {
    start: usize,
    content_end: usize,
    next: usize,
}

fn split_lines(text: &str) -> Vec<Line> {
    let bytes = text.as_bytes();
    let mut lines = Vec::with_capacity(bytes.len() / 32 + 1);
    let mut start = 0;
    while start < bytes.len() {
        let newline = memchr_newline(&bytes[start..]).map(|index| start + index);
        let (content_end, next) = match newline {
            Some(index) if index > start && bytes[index - 1] == b'\r' => (index - 1, index + 1),
            Some(index) => (index, index + 1),
            None => (bytes.len(), bytes.len()),
        };
        lines.push(Line {
            start,
            content_end,
            next,
        });
        start = next;
    }
    lines
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&byte| byte == b'\n')
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\x0b' | b'\x0c' | b'\r')
}

fn trim_leading_space(text: &str) -> &str {
    text.trim_start_matches(|c: char| c.is_whitespace())
}

/// BuildKit's `isComment`: the first non-blank character is `#`.
fn is_comment(text: &str) -> bool {
    trim_leading_space(text).starts_with('#')
}

/// BuildKit's `trimContinuationCharacter`: an escape character followed only by spaces or tabs.
/// Returns the content before the escape character and whether the logical line ends here.
///
/// As its regex (`([^\\])\\[ \t]*$|^\\[ \t]*$`) says, a doubled escape at the end of a line is
/// not a continuation.
fn trim_continuation(text: &str, escape: char) -> (&str, bool) {
    let trimmed = text.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(before) if !before.ends_with(escape) => (before, false),
        _ => (text, true),
    }
}

/// A parser directive (`# escape=\``) at the top of the file.
fn parse_directive(text: &str) -> Option<(String, &str)> {
    let rest = text.strip_prefix('#')?.trim_start();
    let name_end = rest.find(|c: char| !c.is_ascii_alphanumeric())?;
    let name = &rest[..name_end];
    if name.is_empty() || !name.as_bytes()[0].is_ascii_alphabetic() {
        return None;
    }
    let value = rest[name_end..].trim_start().strip_prefix('=')?.trim();
    if value.is_empty() {
        return None;
    }
    Some((name.to_ascii_lowercase(), value))
}

/// Parse a whole Dockerfile. `text` must be valid UTF-8 (the caller checks).
pub(crate) fn parse(text: &str) -> Result<Dockerfile<'_>, ParseError> {
    let lines = split_lines(text);
    let line_starts: Vec<usize> = if lines.is_empty() {
        vec![0]
    } else {
        lines.iter().map(|line| line.start).collect()
    };
    let mut escape = '\\';
    let mut directives_done = false;
    let mut seen_directives: Vec<String> = Vec::new();
    let mut instructions = Vec::new();
    let mut comment_block_start: Option<usize> = None;
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        let mut start = line.start;
        if index == 0 && text[start..line.content_end].starts_with('\u{feff}') {
            start += '\u{feff}'.len_utf8();
        }
        let raw = &text[start..line.content_end];
        let line_number = index + 1;
        let stripped = trim_leading_space(raw);
        if !directives_done {
            match parse_directive(stripped) {
                Some((name, _)) if seen_directives.contains(&name) => {
                    return Err(ParseError::DuplicateDirective {
                        name,
                        line: line_number,
                    });
                }
                Some((name, value)) if name == "escape" => {
                    seen_directives.push(name.clone());
                    escape = match value {
                        "\\" => '\\',
                        "`" => '`',
                        _ => {
                            return Err(ParseError::InvalidEscape {
                                value: value.to_owned(),
                                line: line_number,
                            });
                        }
                    };
                }
                Some((name, _)) if name == "syntax" || name == "check" => seen_directives.push(name),
                // BuildKit knows only `syntax`, `escape` and `check`; anything else ends the block.
                _ => directives_done = true,
            }
        }
        if is_comment(raw) {
            comment_block_start.get_or_insert(line_number);
        } else if stripped.is_empty() {
            comment_block_start = None;
        }
        // `trimComments` only drops a `#` line on the first line of a logical line.
        let first = if stripped.starts_with('#') { "" } else { stripped };
        let first_start = line.content_end - stripped.len();
        let (first_content, mut end_of_line) = trim_continuation(first, escape);
        index += 1;
        if end_of_line && first_content.is_empty() {
            continue;
        }
        let leading_comments = match comment_block_start.take() {
            Some(first_comment) => first_comment..line_number,
            None => line_number..line_number,
        };
        let mut logical = Mapped::default();
        logical.push_segment(text, first_start..first_start + first_content.len());
        let mut last_end = first_start + first_content.len();
        while !end_of_line && index < lines.len() {
            let line = lines[index];
            let raw = &text[line.start..line.content_end];
            index += 1;
            if is_comment(raw) || trim_leading_space(raw).is_empty() {
                continue;
            }
            let (content, ends) = trim_continuation(raw, escape);
            logical.push_segment(text, line.start..line.start + content.len());
            last_end = line.start + content.len();
            end_of_line = ends;
        }
        logical.close(last_end);
        let mut instruction = split_instruction(text, logical, line_number, &line_starts)?;
        instruction.leading_comments = leading_comments;
        let mut end_line = index;
        if heredocs_allowed(&instruction) && instruction.arguments.text.contains("<<") {
            for (name, chomp) in heredoc_words(&instruction.arguments.text) {
                let body_start = lines.get(index).map_or(text.len(), |line| line.start);
                let mut terminated = false;
                while index < lines.len() {
                    let line = lines[index];
                    let mut candidate = &text[line.start..line.content_end];
                    if chomp {
                        candidate = candidate.trim_start_matches('\t');
                    }
                    index += 1;
                    if candidate == name {
                        instruction.heredocs.push(Heredoc {
                            name: name.clone(),
                            body: body_start..line.start,
                        });
                        terminated = true;
                        break;
                    }
                }
                if !terminated {
                    return Err(ParseError::UnterminatedHeredoc {
                        name,
                        opened_at: line_number,
                        line: lines.len(),
                    });
                }
                end_line = index;
            }
        }
        instruction.start_line = line_number;
        instruction.end_line = end_line;
        let full_end = lines.get(end_line - 1).map_or(text.len(), |line| line.next);
        instruction.full_range = line.start..full_end;
        instructions.push(instruction);
    }
    Ok(Dockerfile {
        text,
        instructions,
        line_starts,
    })
}

/// BuildKit's `canContainHeredoc`: `RUN`, `COPY` and `ADD` (also under `ONBUILD`), not in exec form.
fn heredocs_allowed(instruction: &Instruction) -> bool {
    matches!(instruction.effective_keyword(), "RUN" | "COPY" | "ADD")
        && !matches!(instruction.command(), Command::Exec(_))
}

/// Split a logical line into keyword, flags and arguments (BuildKit's `splitCommand` and
/// `extractBuilderFlags`).
fn split_instruction(
    text: &str,
    logical: Mapped,
    line_number: usize,
    line_starts: &[usize],
) -> Result<Instruction, ParseError> {
    let (keyword, keyword_start, mut rest) = split_keyword(&logical.text, 0);
    let keyword_offset = logical.source_offset(keyword_start);
    let unknown = |keyword: &str, offset: usize| {
        let line_start = line_starts[line_number - 1];
        let column = text[line_start..offset.max(line_start)].chars().count() + 1;
        ParseError::UnknownInstruction {
            keyword: keyword.to_owned(),
            line: line_number,
            column,
        }
    };
    if !KNOWN_INSTRUCTIONS.contains(&keyword.as_str()) {
        return Err(unknown(&keyword, keyword_offset));
    }
    let mut onbuild_keyword = None;
    if keyword == "ONBUILD" {
        let (sub, sub_start, sub_rest) = split_keyword(&logical.text, rest);
        if !sub.is_empty() {
            if !KNOWN_INSTRUCTIONS.contains(&sub.as_str()) || matches!(sub.as_str(), "ONBUILD" | "FROM" | "MAINTAINER")
            {
                return Err(unknown(&format!("ONBUILD {sub}"), logical.source_offset(sub_start)));
            }
            onbuild_keyword = Some(sub);
            rest = sub_rest;
        }
    }
    let (flags, arguments_start) = extract_flags(&logical.text, rest);
    let end = logical
        .text
        .trim_end_matches(|c: char| c.is_whitespace())
        .len()
        .max(arguments_start);
    Ok(Instruction {
        keyword,
        onbuild_keyword,
        start_line: line_number,
        end_line: line_number,
        full_range: 0..0,
        flags,
        arguments: logical.slice(arguments_start..end),
        heredocs: Vec::new(),
        leading_comments: line_number..line_number,
    })
}

/// Returns the upper-cased word starting at or after `from`, its start, and where the rest begins.
fn split_keyword(text: &str, from: usize) -> (String, usize, usize) {
    let bytes = text.as_bytes();
    let mut start = from;
    while start < bytes.len() && is_space(bytes[start]) {
        start += 1;
    }
    let mut end = start;
    while end < bytes.len() && !is_space(bytes[end]) {
        end += 1;
    }
    let mut rest = end;
    while rest < bytes.len() && is_space(bytes[rest]) {
        rest += 1;
    }
    (text[start..end].to_ascii_uppercase(), start, rest)
}

/// Leading `--flag[=value]` words; returns them and where the arguments start.
fn extract_flags(text: &str, from: usize) -> (Vec<String>, usize) {
    let bytes = text.as_bytes();
    let mut flags = Vec::new();
    let mut position = from;
    loop {
        while position < bytes.len() && is_space(bytes[position]) {
            position += 1;
        }
        if !text[position..].starts_with("--") {
            return (flags, position);
        }
        let word_end = shell_word_end(bytes, position);
        let word = &text[position..word_end];
        position = word_end;
        if word == "--" {
            while position < bytes.len() && is_space(bytes[position]) {
                position += 1;
            }
            return (flags, position);
        }
        flags.push(word.to_owned());
    }
}

/// The end of a whitespace-delimited word that may contain quotes and backslash escapes.
fn shell_word_end(bytes: &[u8], mut position: usize) -> usize {
    let mut quote = None;
    while position < bytes.len() {
        let byte = bytes[position];
        match quote {
            Some(open) if byte == open => quote = None,
            Some(b'"') if byte == b'\\' => position += 1,
            Some(_) => {}
            None if byte == b'\'' || byte == b'"' => quote = Some(byte),
            None if byte == b'\\' => position += 1,
            None if is_space(byte) => break,
            None => {}
        }
        position += 1;
    }
    position.min(bytes.len())
}

/// BuildKit's `heredocsFromLine` + `ParseHeredoc`: words matching `^(\d*)<<(-?)([^<]*)$` with a
/// non-empty name (quotes removed).
fn heredoc_words(text: &str) -> Vec<(String, bool)> {
    let bytes = text.as_bytes();
    let mut docs = Vec::new();
    let mut position = 0;
    while position < bytes.len() {
        if is_space(bytes[position]) {
            position += 1;
            continue;
        }
        let end = shell_word_end(bytes, position);
        let word = &text[position..end];
        position = end;
        let after_digits = word.trim_start_matches(|c: char| c.is_ascii_digit());
        let Some(after_marker) = after_digits.strip_prefix("<<") else {
            continue;
        };
        let (chomp, rest) = match after_marker.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, after_marker),
        };
        if rest.is_empty() || rest.contains('<') {
            continue;
        }
        let name: String = unquote_word(rest);
        if !name.is_empty() {
            docs.push((name, chomp));
        }
    }
    docs
}

fn unquote_word(word: &str) -> String {
    let mut name = String::with_capacity(word.len());
    let mut quote = None;
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(open), c) if c == open => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (Some('\''), c) => name.push(c),
            (_, '\\') => {
                if let Some(next) = chars.next() {
                    name.push(next);
                }
            }
            (_, c) => name.push(c),
        }
    }
    name
}

/// A JSON array of strings, each string mapped back to the source.
fn parse_json_array(args: &Mapped, start: usize) -> Option<Vec<ExecArg>> {
    let text = &args.text;
    let bytes = text.as_bytes();
    let mut position = start;
    let skip_ws = |position: &mut usize| {
        while *position < bytes.len() && matches!(bytes[*position], b' ' | b'\t' | b'\r' | b'\n') {
            *position += 1;
        }
    };
    if bytes.get(position) != Some(&b'[') {
        return None;
    }
    position += 1;
    let mut values = Vec::new();
    skip_ws(&mut position);
    if bytes.get(position) == Some(&b']') {
        position += 1;
    } else {
        loop {
            skip_ws(&mut position);
            if bytes.get(position) != Some(&b'"') {
                return None;
            }
            position += 1;
            let mut value = Mapped::default();
            loop {
                let byte = *bytes.get(position)?;
                match byte {
                    b'"' => {
                        value.close(args.map[position] as usize);
                        position += 1;
                        break;
                    }
                    b'\\' => {
                        let source = args.map[position];
                        let escaped = *bytes.get(position + 1)?;
                        let (decoded, consumed) = match escaped {
                            b'"' => ('"', 2),
                            b'\\' => ('\\', 2),
                            b'/' => ('/', 2),
                            b'b' => ('\u{8}', 2),
                            b'f' => ('\u{c}', 2),
                            b'n' => ('\n', 2),
                            b'r' => ('\r', 2),
                            b't' => ('\t', 2),
                            b'u' => {
                                let hex = text.get(position + 2..position + 6)?;
                                let code = u32::from_str_radix(hex, 16).ok()?;
                                (char::from_u32(code).unwrap_or('\u{fffd}'), 6)
                            }
                            _ => return None,
                        };
                        let mut buffer = [0u8; 4];
                        let encoded = decoded.encode_utf8(&mut buffer);
                        value.text.push_str(encoded);
                        value.map.extend(std::iter::repeat_n(source, encoded.len()));
                        let escape_end = args.ends[(position + consumed - 1).min(args.ends.len() - 1)];
                        value.ends.extend(std::iter::repeat_n(escape_end, encoded.len()));
                        position += consumed;
                    }
                    0..=0x1f => return None,
                    _ => {
                        let char_len = text[position..].chars().next().map_or(1, char::len_utf8);
                        value.push_from(args, position..position + char_len);
                        position += char_len;
                    }
                }
            }
            values.push(ExecArg { value });
            skip_ws(&mut position);
            match bytes.get(position) {
                Some(b',') => position += 1,
                Some(b']') => {
                    position += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    skip_ws(&mut position);
    (position == bytes.len()).then_some(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn shape(text: &str) -> Vec<(String, usize, usize)> {
        parse(text)
            .expect("parses")
            .instructions
            .iter()
            .map(|instruction| {
                (
                    instruction.keyword.clone(),
                    instruction.start_line,
                    instruction.end_line,
                )
            })
            .collect()
    }

    fn run_text(text: &str) -> String {
        let file = parse(text).expect("parses");
        match file.instructions.last().expect("one instruction").command() {
            Command::Shell(shell) => shell.text,
            Command::Exec(args) => args
                .iter()
                .map(|arg| arg.value.text.clone())
                .collect::<Vec<_>>()
                .join("|"),
        }
    }

    #[test]
    fn continuation_joins_without_separator_and_drops_comment_lines() {
        let text = "FROM a\nRUN a \\\n\n# c\n  b \\  \n c\n";
        assert_eq!(shape(text), vec![("FROM".into(), 1, 1), ("RUN".into(), 2, 6)]);
        assert_eq!(run_text(text), "a   b  c");
    }

    #[test]
    fn escape_directive_switches_the_continuation_character() {
        let text = "# escape=`\nFROM a\nRUN a `\n  b\\c\n";
        assert_eq!(run_text(text), "a   b\\c");
    }

    #[test]
    fn directives_stop_at_the_first_other_line() {
        let text = "FROM a\n# escape=`\nRUN a `\nRUN b\n";
        assert_eq!(shape(text).len(), 3);
    }

    #[test]
    fn crlf_and_bom_are_handled() {
        let text = "\u{feff}FROM a\r\nRUN x \\\r\n && y\r\n";
        assert_eq!(shape(text), vec![("FROM".into(), 1, 1), ("RUN".into(), 2, 3)]);
        assert_eq!(run_text(text), "x  && y");
    }

    #[test]
    fn heredocs_anywhere_in_the_line_and_several_of_them() {
        let text = "FROM a\nRUN <<A cat && <<-\"B\" sh\nx\nA\n\tdnf update\n\tB\nRUN z\n";
        let file = parse(text).expect("parses");
        assert_eq!(
            shape(text),
            vec![("FROM".into(), 1, 1), ("RUN".into(), 2, 6), ("RUN".into(), 7, 7)]
        );
        let run = &file.instructions[1];
        assert_eq!(run.heredocs.len(), 2);
        assert_eq!(&text[run.heredocs[1].body.clone()], "\tdnf update\n");
    }

    #[test]
    fn heredoc_needs_the_marker_glued_to_the_name() {
        assert_eq!(shape("FROM a\nRUN cat << EOF\n").len(), 2);
    }

    #[test]
    fn unterminated_heredoc_is_an_error_with_its_line() {
        let error = parse("FROM a\nRUN <<EOF\nabc\n").expect_err("unterminated");
        assert!(
            matches!(error, ParseError::UnterminatedHeredoc { opened_at: 2, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn exec_form_maps_json_strings_back_to_the_source() {
        let text = "FROM a\nRUN [\"sh\", \"-c\", \"a \\\"b\\\" && dnf update\"]\n";
        let file = parse(text).expect("parses");
        let Command::Exec(args) = file.instructions[1].command() else {
            panic!("exec form")
        };
        assert_eq!(args[2].value.text, "a \"b\" && dnf update");
        let dnf = args[2].value.text.find("dnf").expect("dnf");
        assert_eq!(&text[args[2].value.source_offset(dnf)..][..3], "dnf");
    }

    #[test]
    fn invalid_json_falls_back_to_shell_form() {
        assert_eq!(run_text("FROM a\nRUN [\"a\", b]\n"), "[\"a\", b]");
    }

    #[test]
    fn flags_onbuild_and_lowercase_keywords() {
        let file = parse("from a\nonbuild run --mount=type=cache,target=/x dnf -y update\n").expect("parses");
        let instruction = &file.instructions[1];
        assert_eq!(instruction.effective_keyword(), "RUN");
        assert_eq!(instruction.flags, vec!["--mount=type=cache,target=/x".to_owned()]);
        assert_eq!(instruction.arguments.text, "dnf -y update");
    }

    #[test]
    fn unknown_instruction_is_reported_with_its_position() {
        let error = parse("FROM a\n  hello world\n").expect_err("unknown");
        assert_eq!((error.line(), error.column()), (2, 3));
    }

    #[test]
    fn leading_comment_block_is_recorded() {
        let file = parse("FROM a\n\n# one\n# two\nRUN x\n").expect("parses");
        assert_eq!(file.instructions[1].leading_comments, 3..5);
    }

    #[test]
    fn positions_count_characters() {
        let file = parse("FROM a\nRUN é x\n").expect("parses");
        let offset = file.text.find('x').expect("x");
        assert_eq!(file.position(offset), (2, 7));
    }

    /// Instruction boundaries, flags, exec form and heredocs agree with BuildKit's own parser
    /// (PyPI `dockerfile`, which wraps `moby/buildkit`'s Go parser) on every corpus file.
    #[test]
    fn instruction_boundaries_match_buildkit_on_the_whole_corpus() {
        let mut files = crate::test_support::corpus_files();
        files.extend(
            std::fs::read_dir(crate::test_support::repo_path("tests/fixtures/buildkit"))
                .expect("dir")
                .map(|entry| entry.expect("entry").path()),
        );
        files.sort();
        let paths: Vec<&str> = files.iter().map(|path| path.to_str().expect("UTF-8 path")).collect();
        let Some(output) = crate::test_support::python_peer("buildkit_parse.py", &paths) else {
            return;
        };
        let peer: Vec<serde_json::Value> = serde_json::from_str(&output).expect("peer JSON");
        assert_eq!(peer.len(), files.len());
        for (path, expected) in files.iter().zip(&peer) {
            let text = std::fs::read_to_string(path).expect("read corpus file");
            let ours = parse(&text);
            let name = path.display();
            let Some(instructions) = expected["instructions"].as_array() else {
                assert!(
                    ours.is_err(),
                    "{name}: BuildKit rejects it ({}) but we parsed it",
                    expected["error"]
                );
                continue;
            };
            let ours = ours.unwrap_or_else(|error| panic!("{name}: BuildKit parses it but we failed: {error}"));
            assert_eq!(ours.instructions.len(), instructions.len(), "{name}: instruction count");
            for (mine, theirs) in ours.instructions.iter().zip(instructions) {
                let context = format!("{name}:{}", mine.start_line);
                assert_eq!(mine.keyword, theirs["cmd"].as_str().expect("cmd"), "{context}: keyword");
                assert_eq!(
                    mine.start_line as u64,
                    theirs["start_line"].as_u64().expect("start"),
                    "{context}: start line"
                );
                assert_eq!(
                    mine.end_line as u64,
                    theirs["end_line"].as_u64().expect("end"),
                    "{context}: end line"
                );
                let heredocs: Vec<&str> = mine.heredocs.iter().map(|heredoc| heredoc.name.as_str()).collect();
                let their_heredocs: Vec<&str> = theirs["heredocs"]
                    .as_array()
                    .expect("heredocs")
                    .iter()
                    .filter_map(|name| name.as_str())
                    .collect();
                if mine.onbuild_keyword.is_none() {
                    // The wrapped parser reports ONBUILD's heredocs on the child node only.
                    assert_eq!(heredocs, their_heredocs, "{context}: heredocs");
                }
                if mine.keyword != "RUN" {
                    continue;
                }
                let flags: Vec<&str> = theirs["flags"]
                    .as_array()
                    .expect("flags")
                    .iter()
                    .filter_map(|flag| flag.as_str())
                    .collect();
                assert_eq!(mine.flags, flags, "{context}: flags");
                let values: Vec<&str> = theirs["value"]
                    .as_array()
                    .expect("value")
                    .iter()
                    .filter_map(|value| value.as_str())
                    .collect();
                match mine.command() {
                    Command::Exec(args) => {
                        assert!(
                            theirs["json"].as_bool().expect("json"),
                            "{context}: BuildKit says shell form"
                        );
                        let ours: Vec<&str> = args.iter().map(|arg| arg.value.text.as_str()).collect();
                        assert_eq!(ours, values, "{context}: exec arguments");
                    }
                    Command::Shell(script) => {
                        assert!(
                            !theirs["json"].as_bool().expect("json"),
                            "{context}: BuildKit says exec form"
                        );
                        assert_eq!(vec![script.text.as_str()], values, "{context}: shell text");
                    }
                }
            }
        }
    }
}
