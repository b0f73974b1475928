//! Just enough of a POSIX shell parser to find the simple commands a script executes.
//!
//! It splits on `&&`, `||`, `;`, `|`, `&` and newlines, steps into subshells, `if/then/else/fi`,
//! `for/while/until ... do/done` and `case` bodies, skips comments, quotes and redirections, and
//! records `$(...)` and backtick substitutions so their commands are checked too. Every word keeps
//! a map back to the Dockerfile bytes it came from.

use std::ops::Range;

use super::dockerfile::Mapped;

/// How a command is joined to its neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// Start or end of the script.
    None,
    /// `&&`, `;`, `&` or a newline: removing one side leaves valid shell.
    List,
    /// `||`: removing one side inverts what the other does.
    Or,
    /// `|`: removing one side changes what the other reads.
    Pipe,
    /// A keyword or parenthesis (`then`, `do`, `(`, `fi`, ...).
    Structure,
}

impl Link {
    fn combine(self, other: Link) -> Link {
        match (self, other) {
            (Link::Structure, _) | (_, Link::Structure) => Link::Structure,
            (Link::Pipe, _) | (_, Link::Pipe) => Link::Pipe,
            (Link::Or, _) | (_, Link::Or) => Link::Or,
            (Link::List, _) | (_, Link::List) => Link::List,
            _ => Link::None,
        }
    }
}

/// A word with quotes and escapes removed; `value.map` points at Dockerfile bytes.
#[derive(Debug, Clone)]
pub(crate) struct Word {
    /// Range in the script's text.
    pub(crate) range: Range<usize>,
    pub(crate) value: Mapped,
}

impl Word {
    pub(crate) fn text(&self) -> &str {
        &self.value.text
    }
}

/// One simple command: its words (assignments and redirections left out) and its neighbours.
#[derive(Debug, Clone)]
pub(crate) struct SimpleCommand {
    pub(crate) words: Vec<Word>,
    /// Range in the script's text, from the first token to the end of the last one.
    pub(crate) range: Range<usize>,
    /// Heredoc delimiters of `<<EOF` redirections on this command, in order.
    pub(crate) heredocs: Vec<String>,
    /// Their bodies, when the script itself contains them (a heredoc inside a `RUN <<EOF` body
    /// or an `sh -c` string); ranges in the script's text.
    pub(crate) heredoc_bodies: Vec<Range<usize>>,
    pub(crate) before: Link,
    pub(crate) after: Link,
}

/// The commands of a script, plus the command substitutions found in its words.
#[derive(Debug, Default)]
pub(crate) struct ParsedScript {
    pub(crate) commands: Vec<SimpleCommand>,
    pub(crate) substitutions: Vec<Range<usize>>,
    /// Backquoted substitutions (`` `...` ``): their text is unescaped (`\``, `\$`, `\\`)
    /// before it runs, so nested backquotes work.
    pub(crate) backquoted: Vec<Range<usize>>,
}

impl ParsedScript {
    /// Where the command after `index` starts, when the two are joined by a list operator.
    pub(crate) fn next_in_list(&self, index: usize) -> Option<&SimpleCommand> {
        let next = self.commands.get(index + 1)?;
        (self.commands[index].after == Link::List && next.before == Link::List).then_some(next)
    }

    /// The command before `index`, when the two are joined by a list operator.
    pub(crate) fn previous_in_list(&self, index: usize) -> Option<&SimpleCommand> {
        let previous = self.commands.get(index.checked_sub(1)?)?;
        (self.commands[index].before == Link::List && previous.after == Link::List).then_some(previous)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Command,
    /// After `for`/`select`: the loop variable and word list are not commands.
    SkipUntilDo,
    /// After `case`: the subject word, then `in`.
    CaseSubject,
    /// Inside `case ... in`: patterns up to `)`.
    CasePattern,
}

// `time` is not here: `time -p cmd` is handled as a wrapper by the rules.
const STRUCTURE_WORDS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}",
];

struct Parser<'a> {
    script: &'a Mapped,
    bytes: &'a [u8],
    position: usize,
    result: ParsedScript,
    current: Option<SimpleCommand>,
    pending_before: Link,
    mode: Mode,
    case_depth: usize,
    /// Heredocs opened on the current line: (delimiter, strip tabs, owning command index).
    pending_heredocs: Vec<(String, bool, usize)>,
}

/// Parse `script` into simple commands.
pub(crate) fn parse(script: &Mapped) -> ParsedScript {
    let mut parser = Parser {
        script,
        bytes: script.text.as_bytes(),
        position: 0,
        result: ParsedScript::default(),
        current: None,
        pending_before: Link::None,
        mode: Mode::Command,
        case_depth: 0,
        pending_heredocs: Vec::new(),
    };
    parser.run();
    parser.result
}

impl Parser<'_> {
    fn peek(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.position + offset).copied()
    }

    fn run(&mut self) {
        while self.position < self.bytes.len() {
            let byte = self.bytes[self.position];
            match byte {
                b' ' | b'\t' | b'\r' => self.position += 1,
                b'\\' if self.peek(1) == Some(b'\n') => self.position += 2,
                b'\\' if self.peek(1) == Some(b'\r') && self.peek(2) == Some(b'\n') => self.position += 3,
                b'#' => {
                    while self.position < self.bytes.len() && self.bytes[self.position] != b'\n' {
                        self.position += 1;
                    }
                }
                b'\n' => {
                    self.position += 1;
                    // A newline right after `&&`, `||` or `|` only continues the list.
                    self.end_command(Link::List);
                    self.skip_heredoc_bodies();
                }
                b';' if self.peek(1) == Some(b';') => {
                    self.position += 2;
                    self.end_command(Link::Structure);
                    if self.case_depth > 0 {
                        self.mode = Mode::CasePattern;
                    }
                }
                b';' => {
                    self.position += 1;
                    self.end_command(Link::List);
                }
                b'&' if self.peek(1) == Some(b'&') => {
                    self.position += 2;
                    self.end_command(Link::List);
                }
                b'|' if self.peek(1) == Some(b'|') => {
                    self.position += 2;
                    self.end_command(Link::Or);
                }
                b'|' => {
                    self.position += if self.peek(1) == Some(b'&') { 2 } else { 1 };
                    self.end_command(Link::Pipe);
                }
                b'&' if self.peek(1) != Some(b'>') => {
                    self.position += 1;
                    self.end_command(Link::List);
                }
                b'(' => {
                    self.position += 1;
                    self.end_command(Link::Structure);
                }
                b')' => {
                    self.position += 1;
                    self.end_command(Link::Structure);
                    if self.mode == Mode::CasePattern {
                        self.mode = Mode::Command;
                    }
                }
                b'<' | b'>' => self.redirection(self.position),
                b'&' => self.redirection(self.position),
                b'0'..=b'9' if self.is_fd_redirection() => self.redirection(self.position),
                _ => {
                    let start = self.position;
                    let word = self.read_word();
                    self.word(start, word);
                }
            }
        }
        self.end_command(Link::None);
    }

    fn is_fd_redirection(&self) -> bool {
        let mut index = self.position;
        while index < self.bytes.len() && self.bytes[index].is_ascii_digit() {
            index += 1;
        }
        matches!(self.bytes.get(index), Some(b'<' | b'>'))
    }

    fn redirection(&mut self, start: usize) {
        while self.position < self.bytes.len() && self.bytes[self.position].is_ascii_digit() {
            self.position += 1;
        }
        let rest = &self.bytes[self.position..];
        let strip_tabs = rest.starts_with(b"<<-");
        let (length, heredoc) = if rest.starts_with(b"<<<") {
            (3, false)
        } else if rest.starts_with(b"<<-") {
            (3, true)
        } else if rest.starts_with(b"<<") {
            (2, true)
        } else if rest.starts_with(b"&>>") || rest.starts_with(b">>") && rest.get(2) == Some(&b'&') {
            (3, false)
        } else if rest.starts_with(b">>")
            || rest.starts_with(b"&>")
            || rest.starts_with(b">&")
            || rest.starts_with(b"<&")
            || rest.starts_with(b"<>")
            || rest.starts_with(b">|")
        {
            (2, false)
        } else {
            (1, false)
        };
        self.position += length;
        while matches!(self.peek(0), Some(b' ' | b'\t')) {
            self.position += 1;
        }
        // The target is a word, not a command.
        let target_start = self.position;
        let target = if self.position < self.bytes.len() && !is_meta(self.bytes[self.position]) {
            Some(self.read_word())
        } else {
            None
        };
        let command = self.current.get_or_insert_with(|| new_command(start));
        command.range.end = self.position.max(target_start);
        if heredoc && let Some(target) = target {
            command.heredocs.push(target.value.text.clone());
            let owner = self.result.commands.len();
            self.pending_heredocs.push((target.value.text, strip_tabs, owner));
        }
    }

    /// After a newline: the bodies of the heredocs opened on the line just ended are data for
    /// their command, not commands. Skip them, recording where they are.
    fn skip_heredoc_bodies(&mut self) {
        for (name, strip_tabs, owner) in std::mem::take(&mut self.pending_heredocs) {
            let body_start = self.position;
            let mut body_end = self.bytes.len();
            while self.position < self.bytes.len() {
                let line_end = self.bytes[self.position..]
                    .iter()
                    .position(|&byte| byte == b'\n')
                    .map_or(self.bytes.len(), |index| self.position + index);
                let mut line = self.script.text[self.position..line_end].trim_end_matches('\r');
                if strip_tabs {
                    line = line.trim_start_matches('\t');
                }
                let line_start = self.position;
                self.position = (line_end + 1).min(self.bytes.len());
                if line == name {
                    body_end = line_start;
                    break;
                }
            }
            if let Some(command) = self.result.commands.get_mut(owner) {
                command.heredoc_bodies.push(body_start..body_end.max(body_start));
            }
        }
    }

    fn word(&mut self, start: usize, word: Word) {
        let unquoted = self.script.text[word.range.clone()] == *word.text();
        let starts_command = self.current.as_ref().is_none_or(|command| command.words.is_empty());
        match self.mode {
            Mode::SkipUntilDo => {
                if unquoted && word.text() == "do" {
                    self.mode = Mode::Command;
                }
                return;
            }
            Mode::CaseSubject => {
                if unquoted && word.text() == "in" {
                    self.mode = Mode::CasePattern;
                }
                return;
            }
            Mode::CasePattern => {
                if unquoted && word.text() == "esac" {
                    self.mode = Mode::Command;
                    self.case_depth = self.case_depth.saturating_sub(1);
                    self.end_command(Link::Structure);
                }
                return;
            }
            Mode::Command => {}
        }
        if starts_command && unquoted {
            let text = word.text();
            if STRUCTURE_WORDS.contains(&text) {
                self.end_command(Link::Structure);
                return;
            }
            match text {
                "for" | "select" => {
                    self.end_command(Link::Structure);
                    self.mode = Mode::SkipUntilDo;
                    return;
                }
                "case" => {
                    self.end_command(Link::Structure);
                    self.mode = Mode::CaseSubject;
                    self.case_depth += 1;
                    return;
                }
                "esac" => {
                    self.case_depth = self.case_depth.saturating_sub(1);
                    self.end_command(Link::Structure);
                    return;
                }
                _ => {}
            }
            if is_assignment(text) {
                let command = self.current.get_or_insert_with(|| new_command(start));
                command.range.end = word.range.end;
                return;
            }
        }
        let command = self.current.get_or_insert_with(|| new_command(start));
        command.range.end = word.range.end;
        command.words.push(word);
    }

    fn end_command(&mut self, link: Link) {
        match self.current.take() {
            Some(mut command) if !command.words.is_empty() || !command.heredocs.is_empty() => {
                command.before = self.pending_before;
                command.after = link;
                self.result.commands.push(command);
                self.pending_before = link;
            }
            _ => {
                // Nothing between two separators: `a &&\n b` is still one list.
                self.pending_before = if self.pending_before == Link::None && link != Link::Structure {
                    Link::None
                } else {
                    self.pending_before.combine(link)
                };
                if let Some(last) = self.result.commands.last_mut()
                    && link == Link::Structure
                {
                    last.after = last.after.combine(Link::Structure);
                }
            }
        }
    }

    /// Read one word at the current position, removing quotes and escapes.
    fn read_word(&mut self) -> Word {
        let start = self.position;
        // Most words end at the next unquoted separator: room for that many bytes up front
        // saves the vectors' regrowth (the lint's hottest allocations).
        let likely = self.bytes[start..]
            .iter()
            .position(|&byte| is_meta(byte))
            .unwrap_or(self.bytes.len() - start);
        let mut value = Mapped::with_capacity(likely.min(256));
        while self.position < self.bytes.len() {
            let byte = self.bytes[self.position];
            match byte {
                b'\\' => match self.peek(1) {
                    Some(b'\n') => self.position += 2,
                    Some(_) => {
                        self.position += 1;
                        self.take_char(&mut value);
                    }
                    None => self.position += 1,
                },
                b'\'' => {
                    self.position += 1;
                    // Everything up to the closing quote, literally (possibly nothing).
                    let end = self.bytes[self.position..]
                        .iter()
                        .position(|&byte| byte == b'\'')
                        .map_or(self.bytes.len(), |offset| self.position + offset);
                    if end > self.position {
                        value.push_from(self.script, self.position..end);
                    }
                    self.position = end + 1;
                }
                b'"' => {
                    self.position += 1;
                    while self.position < self.bytes.len() && self.bytes[self.position] != b'"' {
                        match self.bytes[self.position] {
                            b'\\' if matches!(self.peek(1), Some(b'$' | b'`' | b'"' | b'\\')) => {
                                self.position += 1;
                                self.take_char(&mut value);
                            }
                            b'\\' if self.peek(1) == Some(b'\n') => self.position += 2,
                            b'$' if self.peek(1) == Some(b'(') => self.substitution(&mut value),
                            b'`' => self.backticks(&mut value),
                            _ => self.take_run(&mut value, |byte| matches!(byte, b'"' | b'\\' | b'$' | b'`')),
                        }
                    }
                    self.position += 1;
                }
                b'$' if self.peek(1) == Some(b'(') => self.substitution(&mut value),
                b'$' if self.peek(1) == Some(b'{') => {
                    let end = self.matching(self.position + 1, b'{', b'}');
                    self.take_until(&mut value, end);
                }
                b'$' if self.peek(1) == Some(b'\'') => {
                    self.position += 2;
                    while self.position < self.bytes.len() && self.bytes[self.position] != b'\'' {
                        if self.bytes[self.position] == b'\\' {
                            self.position += 1;
                        }
                        if self.position < self.bytes.len() {
                            self.take_char(&mut value);
                        }
                    }
                    self.position += 1;
                }
                b'`' => self.backticks(&mut value),
                _ if is_meta(byte) => break,
                _ => self.take_run(&mut value, |byte| {
                    is_meta(byte) || matches!(byte, b'\\' | b'\'' | b'"' | b'$' | b'`')
                }),
            }
        }
        self.position = self.position.min(self.bytes.len());
        value.close(self.script.map[self.position] as usize);
        Word {
            range: start..self.position,
            value,
        }
    }

    /// Take the current character and the plain ones after it, up to the first byte `stop`
    /// accepts: one push per run instead of one per character. Every stop byte is ASCII, so the
    /// run ends on a character boundary.
    fn take_run(&mut self, value: &mut Mapped, stop: impl Fn(u8) -> bool) {
        let start = self.position;
        let first = self.script.text[start..].chars().next().map_or(1, char::len_utf8);
        let from = (start + first).min(self.bytes.len());
        let end = self.bytes[from..]
            .iter()
            .position(|&byte| stop(byte))
            .map_or(self.bytes.len(), |offset| from + offset);
        value.push_from(self.script, start..end);
        self.position = end;
    }

    fn take_char(&mut self, value: &mut Mapped) {
        let length = self.script.text[self.position..]
            .chars()
            .next()
            .map_or(1, char::len_utf8);
        let end = (self.position + length).min(self.bytes.len());
        value.push_from(self.script, self.position..end);
        self.position = end;
    }

    fn take_until(&mut self, value: &mut Mapped, end: usize) {
        while self.position < end.min(self.bytes.len()) {
            self.take_char(value);
        }
    }

    /// `$(...)` (a command substitution, recorded) or `$((...))` (arithmetic, skipped).
    fn substitution(&mut self, value: &mut Mapped) {
        let open = self.position + 1;
        let end = self.matching(open, b'(', b')');
        let arithmetic = self.bytes.get(open + 1) == Some(&b'(');
        if !arithmetic && end > open + 1 {
            self.result
                .substitutions
                .push(open + 1..end.saturating_sub(1).max(open + 1));
        }
        self.take_until(value, end);
    }

    fn backticks(&mut self, value: &mut Mapped) {
        let inner_start = self.position + 1;
        let mut index = inner_start;
        while index < self.bytes.len() && self.bytes[index] != b'`' {
            index += if self.bytes[index] == b'\\' { 2 } else { 1 };
        }
        let inner_end = index.min(self.bytes.len());
        if inner_end > inner_start {
            self.result.backquoted.push(inner_start..inner_end);
        }
        self.take_until(value, (index + 1).min(self.bytes.len()));
    }

    /// The index just past the bracket matching the one at `open`, skipping quoted text.
    fn matching(&self, open: usize, open_byte: u8, close_byte: u8) -> usize {
        let mut depth = 0usize;
        let mut index = open;
        let mut quote: Option<u8> = None;
        while index < self.bytes.len() {
            let byte = self.bytes[index];
            match quote {
                Some(q) if byte == q => quote = None,
                Some(b'"') if byte == b'\\' => index += 1,
                Some(_) => {}
                None => match byte {
                    b'\'' | b'"' => quote = Some(byte),
                    b'\\' => index += 1,
                    _ if byte == open_byte => depth += 1,
                    _ if byte == close_byte => {
                        depth -= 1;
                        if depth == 0 {
                            return index + 1;
                        }
                    }
                    _ => {}
                },
            }
            index += 1;
        }
        self.bytes.len()
    }
}

fn new_command(start: usize) -> SimpleCommand {
    SimpleCommand {
        words: Vec::new(),
        range: start..start,
        heredocs: Vec::new(),
        heredoc_bodies: Vec::new(),
        before: Link::None,
        after: Link::None,
    }
}

fn is_meta(byte: u8) -> bool {
    matches!(
        byte,
        b' ' | b'\t' | b'\r' | b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>'
    )
}

/// `NAME=value` before a command.
fn is_assignment(word: &str) -> bool {
    let Some((name, _)) = word.split_once('=') else {
        return false;
    };
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn commands(text: &str) -> Vec<String> {
        let script = Mapped::identity(text, 0..text.len());
        parse(&script)
            .commands
            .iter()
            .map(|command| command.words.iter().map(Word::text).collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[test]
    fn splits_on_every_list_operator() {
        assert_eq!(
            commands("a 1 && b || c ; d | e & f\ng"),
            vec!["a 1", "b", "c", "d", "e", "f", "g"]
        );
    }

    #[test]
    fn quotes_and_escapes_are_removed_but_stay_one_word() {
        assert_eq!(
            commands(r#"echo "dnf update" 'x && y' d\nf $'a\'b'"#),
            vec!["echo dnf update x && y dnf a'b"]
        );
    }

    #[test]
    fn control_flow_bodies_are_commands_and_keywords_are_not() {
        assert_eq!(
            commands("if a; then b; else c; fi; for i in 1 2; do d $i; done; while e; do f; done; (g || h)"),
            vec!["a", "b", "c", "d $i", "e", "f", "g", "h"]
        );
    }

    #[test]
    fn case_patterns_are_skipped() {
        assert_eq!(commands("case $x in a|b) c;; *) d ;; esac; e"), vec!["c", "d", "e"]);
    }

    #[test]
    fn assignments_and_redirections_are_not_words() {
        assert_eq!(commands("A=1 B=2 cmd >/dev/null 2>&1 arg <in"), vec!["cmd arg"]);
    }

    #[test]
    fn comments_are_skipped_and_hash_inside_words_is_kept() {
        assert_eq!(commands("a#b # dnf update\nc"), vec!["a#b", "c"]);
    }

    #[test]
    fn heredoc_redirections_are_recorded() {
        let text = "cat <<'EOF' > /x && bash <<-END";
        let parsed = parse(&Mapped::identity(text, 0..text.len()));
        assert_eq!(parsed.commands[0].heredocs, vec!["EOF".to_owned()]);
        assert_eq!(parsed.commands[1].heredocs, vec!["END".to_owned()]);
    }

    #[test]
    fn substitutions_are_recorded_for_a_second_pass() {
        let text = "echo $(dnf update) `yum upgrade` $((1+2))";
        let parsed = parse(&Mapped::identity(text, 0..text.len()));
        let inner: Vec<&str> = parsed.substitutions.iter().map(|range| &text[range.clone()]).collect();
        assert_eq!(inner, vec!["dnf update"]);
        let backquoted: Vec<&str> = parsed.backquoted.iter().map(|range| &text[range.clone()]).collect();
        assert_eq!(backquoted, vec!["yum upgrade"]);
    }

    #[test]
    fn links_tell_lists_from_pipes_and_structure() {
        let text = "a && b | c; if d; then e; fi";
        let parsed = parse(&Mapped::identity(text, 0..text.len()));
        let links: Vec<(Link, Link)> = parsed
            .commands
            .iter()
            .map(|command| (command.before, command.after))
            .collect();
        assert_eq!(
            links,
            vec![
                (Link::None, Link::List),
                (Link::List, Link::Pipe),
                (Link::Pipe, Link::Structure),
                (Link::Structure, Link::Structure),
                (Link::Structure, Link::Structure),
            ]
        );
    }

    #[test]
    fn newline_after_and_continues_the_list() {
        let text = "a &&\n  b";
        let parsed = parse(&Mapped::identity(text, 0..text.len()));
        assert!(parsed.next_in_list(0).is_some());
        assert!(parsed.previous_in_list(1).is_some());
    }
}
