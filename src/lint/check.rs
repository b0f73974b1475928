//! Runs the rules over one file: bytes in, findings (with fixes) out. Never panics on bad input.

use std::ops::Range;

use super::dockerfile::{self, Command, Dockerfile, Heredoc, Instruction, Mapped};
use super::rules::{self, CommandKind, Level, Rule, RuleLevels, Upgrade};
use super::shell::{self, Link, ParsedScript, Word};
use super::suppress::{self, Directive};

/// How deep `sh -c "sh -c '...'"`, `$(...)` and backquote nesting is followed. Past it the file
/// gets an `invalid-dockerfile` diagnostic, never silence. Real scripts nest 2–3 deep; the bound
/// only keeps recursion finite on adversarial input.
const MAX_NESTING: usize = 64;

/// A source edit that removes an offending command and keeps the file valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fix {
    /// Delete these bytes (the command plus the operator that joined it to its neighbour).
    Delete(Range<usize>),
    /// Replace the command with `true` where deleting it would leave invalid shell.
    ReplaceWithTrue(Range<usize>),
    /// Remove the whole instruction: it did nothing else. `command` is what to replace with
    /// `true` instead if the instruction is the only one in the file.
    RemoveInstruction {
        instruction: Range<usize>,
        command: Range<usize>,
    },
}

/// A finding, suppressed or not.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub(crate) path: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) end_line: usize,
    /// Exclusive: the column just past the last character.
    pub(crate) end_column: usize,
    pub(crate) rule: Rule,
    pub(crate) severity: Level,
    pub(crate) message: String,
    /// `Some` when an inline directive silenced it; holds the directive's reason, if any.
    pub(crate) suppressed: Option<Option<String>>,
    pub(crate) stage: Option<String>,
    /// The physical line the finding starts on, for display.
    pub(crate) source_line: String,
    pub(crate) fix: Option<Fix>,
}

impl Finding {
    /// Whether this finding fails the lint.
    pub(crate) fn is_failure(&self) -> bool {
        self.suppressed.is_none() && self.severity == Level::Error
    }
}

/// Lint raw bytes: checks for binary content and UTF-8 before parsing.
pub(crate) fn check_bytes(path: &str, bytes: &[u8], levels: &RuleLevels) -> Vec<Finding> {
    if let Some(offset) = bytes.iter().take(64 * 1024).position(|&byte| byte == 0) {
        let message = format!("binary file (NUL byte at offset {offset}): not a Dockerfile");
        return file_problem(path, levels, 1, 1, message).into_iter().collect();
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let valid = &bytes[..error.valid_up_to()];
            let line = valid.iter().filter(|&&byte| byte == b'\n').count() + 1;
            let line_start = valid
                .iter()
                .rposition(|&byte| byte == b'\n')
                .map_or(0, |index| index + 1);
            let column = String::from_utf8_lossy(&valid[line_start..]).chars().count() + 1;
            let message = format!("invalid UTF-8 at line {line}, column {column}: Dockerfiles must be UTF-8 text");
            return file_problem(path, levels, line, column, message).into_iter().collect();
        }
    };
    check_text(path, text, levels)
}

/// Lint a file's text.
pub(crate) fn check_text(path: &str, text: &str, levels: &RuleLevels) -> Vec<Finding> {
    match dockerfile::parse(text) {
        Ok(file) if file.instructions.is_empty() => file_problem(
            path,
            levels,
            1,
            1,
            "the file has no instructions: not a Dockerfile".to_owned(),
        )
        .into_iter()
        .collect(),
        Ok(file) => Checker {
            path,
            file: &file,
            levels,
            findings: Vec::new(),
            too_deep: false,
        }
        .run()
        .into_iter()
        .filter(|finding| finding.severity != Level::Off)
        .collect(),
        Err(error) => {
            let message = format!("cannot parse: {error}");
            file_problem(path, levels, error.line(), error.column(), message)
                .into_iter()
                .collect()
        }
    }
}

/// A finding about the file as a whole (`invalid-dockerfile`), unless that rule is off.
pub(crate) fn file_problem(
    path: &str,
    levels: &RuleLevels,
    line: usize,
    column: usize,
    message: String,
) -> Option<Finding> {
    (levels.level(Rule::InvalidDockerfile) != Level::Off).then(|| Finding {
        path: path.to_owned(),
        line,
        column,
        end_line: line,
        end_column: column,
        rule: Rule::InvalidDockerfile,
        severity: levels.level(Rule::InvalidDockerfile),
        message,
        suppressed: None,
        stage: None,
        source_line: String::new(),
        fix: None,
    })
}

fn level_on(levels: &RuleLevels, rule: Rule) -> bool {
    levels.level(rule) != Level::Off
}

/// The text a shell runs for a backquoted substitution: inside backquotes, a backslash before
/// `` ` ``, `$` or `\` is removed first (POSIX), which is how backquotes nest. Every kept byte
/// keeps its place in the source, so findings still point at the right column.
fn unescape_backquoted(inner: &Mapped) -> Mapped {
    let bytes = inner.text.as_bytes();
    let mut out = Mapped {
        text: String::new(),
        map: Vec::new(),
        ends: Vec::new(),
    };
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'\\' && matches!(bytes.get(index + 1), Some(b'`' | b'$' | b'\\')) {
            index += 1;
        }
        let len = inner.text[index..].chars().next().map_or(1, char::len_utf8);
        out.push_from(inner, index..index + len);
        index += len;
    }
    out.close(inner.source_offset(bytes.len()));
    out
}

/// Whether removing the script's only command removes the instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScriptRole {
    /// The script is everything the `RUN` does.
    WholeInstruction,
    /// The script is part of something larger.
    Nested,
}

struct Checker<'a> {
    path: &'a str,
    file: &'a Dockerfile<'a>,
    levels: &'a RuleLevels,
    findings: Vec<Finding>,
    /// The nesting limit was hit (said once per file).
    too_deep: bool,
}

/// Where we are while checking one instruction.
struct Scope<'a> {
    instruction: &'a Instruction,
    stage: Option<String>,
    /// The file has more than one stage (only then do messages name the stage).
    multi_stage: bool,
}

impl<'a> Checker<'a> {
    fn run(mut self) -> Vec<Finding> {
        let mut stage_index = None::<usize>;
        let mut stage_name = None::<String>;
        let stages = self
            .file
            .instructions
            .iter()
            .filter(|instruction| instruction.keyword == "FROM")
            .count();
        for instruction in &self.file.instructions {
            if instruction.keyword == "FROM" {
                stage_index = Some(stage_index.map_or(0, |index| index + 1));
                stage_name = stage_alias(&instruction.arguments.text);
            }
            let stage = stage_name
                .clone()
                .or_else(|| stage_index.map(|index| index.to_string()));
            let first_new = self.findings.len();
            if instruction.effective_keyword() == "RUN" {
                let scope = Scope {
                    instruction,
                    stage,
                    multi_stage: stages > 1,
                };
                self.check_run(&scope);
            }
            self.apply_suppressions(instruction, first_new);
        }
        self.findings
    }

    fn check_run(&mut self, scope: &Scope<'_>) {
        match scope.instruction.command() {
            Command::Exec(args) => {
                let words: Vec<Word> = args
                    .into_iter()
                    .map(|arg| Word {
                        range: 0..0,
                        value: arg.value,
                    })
                    .collect();
                self.check_words(scope, &words, None, ScriptRole::WholeInstruction, 0);
            }
            Command::Shell(script) => {
                let mut heredocs = scope.instruction.heredocs.iter().collect::<Vec<_>>();
                self.check_script(scope, &script, ScriptRole::WholeInstruction, &mut heredocs, 0);
            }
        }
    }

    /// Check a shell script; `heredocs` are the bodies still to be matched to `<<` redirections.
    fn check_script(
        &mut self,
        scope: &Scope<'_>,
        script: &Mapped,
        role: ScriptRole,
        heredocs: &mut Vec<&Heredoc>,
        depth: usize,
    ) {
        if depth > MAX_NESTING {
            if !std::mem::replace(&mut self.too_deep, true) && level_on(self.levels, Rule::InvalidDockerfile) {
                let start = script.source_offset(0);
                self.push(
                    Rule::InvalidDockerfile,
                    start..start,
                    format!("commands nested more than {MAX_NESTING} levels deep (`$(...)`, backquotes, `sh -c`) are not checked"),
                    scope.stage.clone(),
                    None,
                );
            }
            return;
        }
        let parsed = shell::parse(script);
        let only_command = parsed.commands.len() == 1;
        // BuildKit runs a heredoc body as the script only when the whole `RUN` is one `<<WORD`;
        // otherwise the shell sees the heredocs and only a shell reading stdin executes them.
        let single_heredoc = depth == 0 && is_single_heredoc_word(&script.text);
        for (index, command) in parsed.commands.iter().enumerate() {
            let bodies: Vec<Mapped> = if command.heredoc_bodies.is_empty() {
                command
                    .heredocs
                    .iter()
                    .filter_map(|name| {
                        let position = heredocs.iter().position(|heredoc| &heredoc.name == name)?;
                        Some(Mapped::identity(self.file.text, heredocs.remove(position).body.clone()))
                    })
                    .collect()
            } else {
                command
                    .heredoc_bodies
                    .iter()
                    .map(|range| script.slice(range.clone()))
                    .collect()
            };
            let position = CommandPosition {
                script,
                parsed: &parsed,
                index,
            };
            let reads_stdin = self.check_words(scope, &command.words, Some(position), role, depth);
            if single_heredoc && command.words.is_empty() {
                let inner_role = if role == ScriptRole::WholeInstruction && only_command {
                    ScriptRole::WholeInstruction
                } else {
                    ScriptRole::Nested
                };
                for body in bodies.iter().take(1) {
                    // A `#!` line makes BuildKit run the body with that interpreter.
                    if let Some(interpreter) = shebang_interpreter(&body.text)
                        && !rules::SHELLS.contains(&interpreter)
                    {
                        continue;
                    }
                    self.check_script(scope, body, inner_role, &mut Vec::new(), depth + 1);
                }
            } else if reads_stdin {
                // `bash <<EOF`: the body is the shell's input, whatever its first line says.
                for body in &bodies {
                    self.check_script(scope, body, ScriptRole::Nested, &mut Vec::new(), depth + 1);
                }
            }
        }
        for substitution in &parsed.substitutions {
            let inner = script.slice(substitution.clone());
            self.check_script(scope, &inner, ScriptRole::Nested, &mut Vec::new(), depth + 1);
        }
        for substitution in &parsed.backquoted {
            let inner = unescape_backquoted(&script.slice(substitution.clone()));
            self.check_script(scope, &inner, ScriptRole::Nested, &mut Vec::new(), depth + 1);
        }
    }

    /// Check one simple command. Returns whether the command is a shell that reads its script
    /// from standard input (so an attached heredoc is a script).
    fn check_words(
        &mut self,
        scope: &Scope<'_>,
        words: &[Word],
        position: Option<CommandPosition<'_>>,
        role: ScriptRole,
        depth: usize,
    ) -> bool {
        match rules::classify(words) {
            CommandKind::Upgrade(upgrade) => {
                self.report_upgrade(scope, words, position, role, &upgrade);
                false
            }
            CommandKind::ShellScript(script) => {
                let inner_role = match position {
                    Some(position) if position.parsed.commands.len() > 1 => ScriptRole::Nested,
                    _ => role,
                };
                self.check_script(scope, &script.value, inner_role, &mut Vec::new(), depth + 1);
                false
            }
            CommandKind::ShellStdin => true,
            CommandKind::Other => false,
        }
    }

    fn report_upgrade(
        &mut self,
        scope: &Scope<'_>,
        words: &[Word],
        position: Option<CommandPosition<'_>>,
        role: ScriptRole,
        upgrade: &Upgrade,
    ) {
        let (source_range, fix) = match position {
            Some(position) => {
                let command = &position.parsed.commands[position.index];
                let range = position.script.source_range(command.range.clone());
                (range, Some(position.fix(role, scope.instruction)))
            }
            // Exec form: the array is the whole command.
            None => {
                let start = words.first().map_or(0, |word| word.value.source_offset(0));
                let end = words
                    .last()
                    .map_or(start, |word| word.value.source_offset(word.value.text.len()));
                let fix = Fix::RemoveInstruction {
                    instruction: scope.instruction.full_range.clone(),
                    command: start..end,
                };
                (start..end, Some(fix))
            }
        };
        let shown = match position {
            Some(position) => {
                let command = &position.parsed.commands[position.index];
                display_command(&position.script.text[command.range.clone()])
            }
            None => display_command(&words.iter().map(Word::text).collect::<Vec<_>>().join(" ")),
        };
        let stage = match &scope.stage {
            _ if !scope.multi_stage => String::new(),
            Some(stage) if stage.parse::<usize>().is_ok() => format!(" in stage {stage}"),
            Some(stage) => format!(" in stage `{stage}`"),
            None => String::new(),
        };
        let (message, fix) = if upgrade.targets.is_empty() {
            (format!("`{shown}` upgrades every installed package{stage}"), fix)
        } else {
            let targets = upgrade.targets.join(" ");
            (
                format!(
                    "targeted `{} {}` of `{targets}`{stage}: pin the version you need with `{} install` instead (not auto-fixed)",
                    upgrade.manager, upgrade.subcommand, upgrade.manager
                ),
                None,
            )
        };
        self.push(Rule::NoDnfUpdate, source_range, message, scope.stage.clone(), fix);
    }

    fn push(&mut self, rule: Rule, range: Range<usize>, message: String, stage: Option<String>, fix: Option<Fix>) {
        let (line, column) = self.file.position(range.start);
        let (end_line, end_column) = self.file.position(range.end.max(range.start));
        self.findings.push(Finding {
            path: self.path.to_owned(),
            line,
            column,
            end_line,
            end_column,
            rule,
            severity: self.levels.level(rule),
            message,
            suppressed: None,
            stage,
            source_line: self.file.line_text(line).to_owned(),
            fix,
        });
    }

    /// Apply the directives above `instruction` to the findings from `first_new` on.
    fn apply_suppressions(&mut self, instruction: &Instruction, first_new: usize) {
        let directives: Vec<Directive> = instruction
            .leading_comments
            .clone()
            .filter_map(|line| suppress::parse_directive(self.file.line_text(line), line))
            .collect();
        for directive in directives {
            let mut used = false;
            for finding in &mut self.findings[first_new..] {
                if finding.suppressed.is_none() && directive.rules.contains(&finding.rule) {
                    finding.suppressed = Some(directive.reason.clone());
                    used = true;
                }
            }
            let mut meta = |rule: Rule, message: String| {
                let line_text = self.file.line_text(directive.line).to_owned();
                self.findings.push(Finding {
                    path: self.path.to_owned(),
                    line: directive.line,
                    column: directive.column,
                    end_line: directive.line,
                    end_column: directive.end_column,
                    rule,
                    severity: self.levels.level(rule),
                    message,
                    suppressed: None,
                    stage: None,
                    source_line: line_text,
                    fix: None,
                });
            };
            for problem in &directive.problems {
                meta(Rule::InvalidSuppression, format!("invalid suppression: {problem}"));
            }
            if !directive.rules.is_empty() {
                if directive.reason.is_none() {
                    meta(
                        Rule::SuppressionWithoutReason,
                        "suppression without a reason: add reason=\"...\" saying why this is acceptable".to_owned(),
                    );
                }
                if !used {
                    let rules: Vec<&str> = directive.rules.iter().map(|rule| rule.id()).collect();
                    meta(
                        Rule::UnusedSuppression,
                        format!(
                            "unused suppression: the next instruction has no `{}` finding",
                            rules.join(", ")
                        ),
                    );
                }
            }
        }
    }
}

/// A command inside a parsed script, for computing its fix.
#[derive(Clone, Copy)]
struct CommandPosition<'p> {
    script: &'p Mapped,
    parsed: &'p ParsedScript,
    index: usize,
}

impl CommandPosition<'_> {
    fn fix(self, role: ScriptRole, instruction: &Instruction) -> Fix {
        let command = &self.parsed.commands[self.index];
        // Next to a pipe or `||`, removing the command would rewire or invert its neighbours.
        let entangled = [command.before, command.after]
            .iter()
            .any(|link| matches!(link, Link::Pipe | Link::Or));
        if entangled {
            return Fix::ReplaceWithTrue(self.script.source_range(command.range.clone()));
        }
        if let Some(next) = self.parsed.next_in_list(self.index) {
            let start = self.script.source_offset(command.range.start);
            let end = self.script.source_offset(next.range.start);
            return Fix::Delete(start..end);
        }
        if let Some(previous) = self.parsed.previous_in_list(self.index) {
            let start = self.script.source_offset(previous.range.end);
            let end = self.script.source_range(command.range.clone()).end;
            return Fix::Delete(start..end);
        }
        if role == ScriptRole::WholeInstruction && self.parsed.commands.len() == 1 {
            let command = self.script.source_range(command.range.clone());
            return Fix::RemoveInstruction {
                instruction: instruction.full_range.clone(),
                command,
            };
        }
        Fix::ReplaceWithTrue(self.script.source_range(command.range.clone()))
    }
}

/// Whether a `RUN`'s shell text is exactly one heredoc word (`<<EOF`, `<<-"EOF"`).
fn is_single_heredoc_word(text: &str) -> bool {
    let mut words = text.split_whitespace();
    let (Some(word), None) = (words.next(), words.next()) else {
        return false;
    };
    let rest = word.trim_start_matches(|c: char| c.is_ascii_digit());
    rest.strip_prefix("<<").is_some_and(|name| {
        let name = name.strip_prefix('-').unwrap_or(name);
        !name.is_empty() && !name.contains('<')
    })
}

/// `AS name` of a `FROM` instruction.
fn stage_alias(arguments: &str) -> Option<String> {
    let words: Vec<&str> = arguments
        .split_whitespace()
        .filter(|word| !word.starts_with("--"))
        .collect();
    match words.as_slice() {
        [_, keyword, name, ..] if keyword.eq_ignore_ascii_case("as") => Some((*name).to_owned()),
        _ => None,
    }
}

/// The interpreter of a `#!` line (`python3` for `#!/usr/bin/env python3`).
fn shebang_interpreter(body: &str) -> Option<&str> {
    let line = body.strip_prefix("#!")?.lines().next()?;
    let mut words = line.split_whitespace();
    let program = words.next()?;
    let name = program.rsplit('/').next()?;
    if name == "env" {
        return words
            .find(|word| !word.starts_with('-'))
            .map(|word| word.rsplit('/').next().unwrap_or(word));
    }
    Some(name)
}

/// The command as written, on one line and at most 60 characters.
fn display_command(source: &str) -> String {
    let mut shown = String::new();
    for word in source
        .split(char::is_whitespace)
        .filter(|word| !word.is_empty() && *word != "\\")
    {
        if !shown.is_empty() {
            shown.push(' ');
        }
        shown.push_str(word);
    }
    if shown.chars().count() > 60 {
        shown = shown.chars().take(59).collect::<String>() + "…";
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn lines(text: &str) -> Vec<(usize, usize, bool)> {
        check_text("Dockerfile", text, &RuleLevels::default())
            .iter()
            .filter(|finding| finding.rule == Rule::NoDnfUpdate)
            .map(|finding| (finding.line, finding.column, finding.suppressed.is_some()))
            .collect()
    }

    #[test]
    fn deep_nesting_is_followed_and_past_the_limit_said() {
        let nested = |depth: usize| {
            let mut script = "dnf update".to_owned();
            for _ in 0..depth {
                script = format!("echo $( {script} )");
            }
            format!("FROM a\nRUN {script}\n")
        };
        assert_eq!(lines(&nested(9)).len(), 1, "nine levels of $(...) are followed");
        let mut shell = "dnf update".to_owned();
        for _ in 0..9 {
            shell = format!("sh -c \"{}\"", shell.replace('\\', "\\\\").replace('"', "\\\""));
        }
        assert_eq!(
            lines(&format!("FROM a\nRUN {shell}\n")).len(),
            1,
            "nine levels of sh -c: {shell}"
        );
        let findings = check_text("Dockerfile", &nested(80), &RuleLevels::default());
        let deep: Vec<_> = findings
            .iter()
            .filter(|finding| finding.rule == Rule::InvalidDockerfile)
            .collect();
        assert_eq!(deep.len(), 1, "said once: {findings:?}");
        assert!(deep[0].message.contains("nested more than 64 levels"));
    }

    #[test]
    fn nested_backquotes_are_unescaped_like_the_shell_does() {
        let text = "FROM a\nRUN echo `echo \\`dnf update\\``\n";
        assert_eq!(lines(text), vec![(2, 18, false)], "{text}");
        assert!(
            lines("FROM a\nRUN echo `echo dnf update`\n").is_empty(),
            "echo's argument, not a command"
        );
    }

    #[test]
    fn messages_name_the_stage_only_in_multi_stage_files() {
        let message = |text: &str| {
            check_text("Dockerfile", text, &RuleLevels::default())
                .into_iter()
                .map(|finding| finding.message)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            message("FROM a AS build\nRUN dnf -y update\n"),
            vec!["`dnf -y update` upgrades every installed package".to_owned()]
        );
        assert_eq!(
            message("FROM a\nRUN true\nFROM b\nRUN yum update\n"),
            vec!["`yum update` upgrades every installed package in stage 1".to_owned()]
        );
        assert_eq!(
            message("FROM a AS build\nRUN true\nFROM b AS runtime\nRUN yum update\n"),
            vec!["`yum update` upgrades every installed package in stage `runtime`".to_owned()]
        );
    }

    #[test]
    fn finds_the_physical_start_of_a_command_inside_a_continued_run() {
        let text = "FROM a\nRUN dnf install -y \\\n\tgit && \\\n\tdnf update -y && \\\n\tdnf clean all\n";
        assert_eq!(lines(text), vec![(4, 2, false)]);
    }

    #[test]
    fn looks_into_sh_c_in_shell_and_exec_form_and_into_substitutions() {
        let text = "FROM a\nRUN bash -c 'dnf -y upgrade'\nRUN [\"sh\", \"-c\", \"x && yum update\"]\nRUN echo $(dnf update -y)\n";
        assert_eq!(lines(text), vec![(2, 14, false), (3, 24, false), (4, 12, false)]);
    }

    #[test]
    fn heredoc_bodies_count_only_when_a_shell_runs_them() {
        let text = "FROM a\nRUN <<EOF\ndnf update\nEOF\nRUN cat <<EOF > /x\ndnf update\nEOF\nRUN python3 <<EOF\ndnf update\nEOF\nRUN bash <<EOF\n  dnf upgrade\nEOF\nRUN <<EOF\n#!/usr/bin/env python3\ndnf update\nEOF\n";
        assert_eq!(lines(text), vec![(3, 1, false), (12, 3, false)]);
    }

    #[test]
    fn copy_heredocs_labels_and_comments_are_not_commands() {
        let text = "FROM a\nLABEL x=\"dnf update\"\nENV A=\"dnf update\"\n# dnf update\nCOPY <<EOF /x\ndnf update\nEOF\nRUN echo \"dnf update\" # dnf update\n";
        assert_eq!(lines(text), vec![]);
    }

    #[test]
    fn names_the_stage() {
        let findings = check_text(
            "D",
            "FROM a AS builder\nRUN dnf update\nFROM b\nRUN yum update\n",
            &RuleLevels::default(),
        );
        assert_eq!(findings[0].stage.as_deref(), Some("builder"));
        assert!(
            findings[0].message.contains("in stage `builder`"),
            "{}",
            findings[0].message
        );
        assert_eq!(findings[1].stage.as_deref(), Some("1"));
    }

    #[test]
    fn suppression_marks_findings_and_warns_without_reason() {
        let text = "FROM a\n# hybrid-e2e ignore=no-dnf-update\nRUN dnf update\n# hybrid-e2e ignore=no-dnf-update reason=\"x\"\nRUN echo\n";
        let findings = check_text("D", text, &RuleLevels::default());
        let summary: Vec<(Rule, usize, bool)> = findings
            .iter()
            .map(|finding| (finding.rule, finding.line, finding.suppressed.is_some()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (Rule::NoDnfUpdate, 3, true),
                (Rule::SuppressionWithoutReason, 2, false),
                (Rule::UnusedSuppression, 4, false)
            ]
        );
        assert!(!findings.iter().any(Finding::is_failure));
    }

    #[test]
    fn levels_can_lower_or_disable_a_rule() {
        let mut levels = RuleLevels::default();
        levels.set(Rule::NoDnfUpdate, Level::Warning);
        let findings = check_text("D", "FROM a\nRUN dnf update\n", &levels);
        assert_eq!(findings[0].severity, Level::Warning);
        levels.set(Rule::NoDnfUpdate, Level::Off);
        assert!(check_text("D", "FROM a\nRUN dnf update\n", &levels).is_empty());
    }

    #[test]
    fn bad_bytes_are_diagnosed_not_panicked_on() {
        let levels = RuleLevels::default();
        let binary = check_bytes("D", b"FROM a\n\0\x01", &levels);
        assert!(binary[0].message.contains("binary file"));
        let invalid = check_bytes("D", b"FROM a\nRUN \xff\n", &levels);
        assert_eq!((invalid[0].line, invalid[0].column), (2, 5));
        let empty = check_bytes("D", b"# only a comment\n", &levels);
        assert!(empty[0].message.contains("no instructions"));
    }

    #[test]
    fn heredocs_inside_scripts_are_data_not_commands() {
        assert_eq!(
            lines("FROM a\nRUN <<EOF\ncat <<CONF > /etc/x.conf\ndnf update\nCONF\nEOF\n"),
            vec![]
        );
        assert_eq!(
            lines("FROM a\nRUN <<EOF\ncat <<'MOTD' > /etc/motd\nDon't panic\nMOTD\ndnf -y update\nEOF\n"),
            vec![(6, 1, false)]
        );
        // In an exec-form `sh -c` string, where JSON escapes can carry newlines.
        assert_eq!(
            lines("FROM a\nRUN [\"sh\", \"-c\", \"cat <<X\\ndnf update\\nX\\nyum update\"]\n"),
            vec![(2, 43, false)]
        );
    }

    #[test]
    fn only_a_lone_heredoc_word_makes_the_body_the_script() {
        assert_eq!(lines("FROM a\nRUN <<EOF > /etc/motd\ndnf update\nEOF\n"), vec![]);
        assert_eq!(lines("FROM a\nRUN <<A <<B\ndnf update\nA\necho hi\nB\n"), vec![]);
        assert_eq!(
            lines("FROM a\nRUN bash <<EOF\n#!/usr/bin/env python3\ndnf update\nEOF\n"),
            vec![(4, 1, false)]
        );
    }

    #[test]
    fn continuation_and_directive_edge_cases_follow_buildkit() {
        assert_eq!(lines("FROM a\nRUN echo a\\\\\nRUN dnf update\n"), vec![(3, 5, false)]);
        assert_eq!(
            lines("# foo=bar\n# escape=`\nFROM a\nRUN echo `\nRUN dnf update\n"),
            vec![(5, 5, false)]
        );
        let duplicate = check_text("D", "# escape=`\n# escape=\\\nFROM a\n", &RuleLevels::default());
        assert!(duplicate[0].message.contains("only one `escape`"), "{duplicate:?}");
        assert_eq!(lines("\u{feff}FROM a\nRUN dnf update\n"), vec![(2, 5, false)]);
        assert_eq!(lines("\u{feff}RUN dnf update\n"), vec![(1, 5, false)]);
    }

    mod properties {
        use super::*;
        use crate::lint::fix::fix_text;
        use proptest::prelude::*;

        const FRAGMENTS: &[&str] = &[
            "FROM a\n",
            "FROM a AS b\n",
            "RUN ",
            "run ",
            "ONBUILD RUN ",
            "COPY ",
            "\n",
            "\r\n",
            "\\\n",
            "\\ \n",
            "`\n",
            "# escape=`\n",
            "# c\n",
            "# hybrid-e2e ignore=no-dnf-update\n",
            "<<EOF",
            "<<-'EOF' ",
            "EOF\n",
            "\tEOF\n",
            "dnf ",
            "yum ",
            "microdnf ",
            "sudo ",
            "sh -c ",
            "bash ",
            "update ",
            "upgrade ",
            "-y ",
            "--setopt=x ",
            "install ",
            "&& ",
            "|| ",
            "; ",
            "| ",
            "& ",
            "(",
            ")",
            "{ ",
            "} ",
            "if ",
            "then ",
            "fi ",
            "for i in 1; do ",
            "done ",
            "case x in ",
            "a) ",
            ";; ",
            "esac ",
            "\"",
            "'",
            "$(",
            "`",
            "${x}",
            "$'",
            "[\"dnf\", ",
            "\"update\"]",
            "[",
            "]",
            "2>&1 ",
            ">/x ",
            "A=1 ",
            "é",
            "\t",
            " ",
            "\\",
        ];

        fn dockerfile_like() -> impl Strategy<Value = String> {
            proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..60).prop_map(|parts| parts.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(2_000), ..ProptestConfig::default() })]

            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = check_bytes("D", &bytes, &RuleLevels::default());
            }

            #[test]
            fn dockerfile_like_text_never_panics_and_fixes_keep_it_parseable(text in dockerfile_like()) {
                let levels = RuleLevels::default();
                let findings = check_text("D", &text, &levels);
                let parsed = !findings.iter().any(|finding| finding.rule == Rule::InvalidDockerfile);
                for finding in &findings {
                    prop_assert!(finding.line >= 1 && finding.column >= 1);
                    prop_assert!(finding.end_line >= finding.line);
                }
                match fix_text("D", &text, &levels) {
                    Ok(fixed) => {
                        if parsed {
                            prop_assert!(!fixed.remaining.iter().any(|finding| finding.rule == Rule::InvalidDockerfile));
                        }
                    }
                    // A refusal leaves the file alone, which is safe; it must never happen on a file that parsed.
                    Err(error) => prop_assert!(!parsed, "fix refused a parseable file: {error}"),
                }
            }
        }
    }
}
