//! The action's inputs, read in one place. The runner passes each `with:` value as
//! `INPUT_<NAME>` (upper case; none of our names has a hyphen or a space). Rules, the same for
//! every input: surrounding whitespace is dropped and an empty value means "not given" (the
//! config file, then the CLI's default, decides); booleans are `true/false/yes/no` in any case;
//! `lint_paths` is one path per line, or paths on one line separated by spaces; `args` is split
//! like a shell line (quotes and backslashes honoured, nothing expanded).

use std::fmt;

use clap::ValueEnum;

use crate::config::Preserve;
use crate::lint::Format;

/// Every input of action.yml, in its order (`action::contract` compares the two).
#[cfg(test)]
pub(crate) const NAMES: [&str; 13] = [
    "command",
    "config",
    "working_directory",
    "github_token",
    "check_run_id",
    "check_name",
    "fail_on_target",
    "preserve_cluster",
    "report_dir",
    "tag_suffix",
    "lint_paths",
    "lint_format",
    "args",
];

/// The variable the runner sets for an input.
pub(crate) fn variable(name: &str) -> String {
    format!("INPUT_{}", name.to_ascii_uppercase().replace(' ', "_"))
}

/// What the step asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActionCommand {
    Run,
    Lint,
    Report,
    Doctor,
    Plan,
    Regress,
    Coverage,
}

impl ActionCommand {
    pub(crate) const ALL: [ActionCommand; 7] = [
        ActionCommand::Run,
        ActionCommand::Lint,
        ActionCommand::Report,
        ActionCommand::Doctor,
        ActionCommand::Plan,
        ActionCommand::Regress,
        ActionCommand::Coverage,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ActionCommand::Run => "run",
            ActionCommand::Lint => "lint",
            ActionCommand::Report => "report",
            ActionCommand::Doctor => "doctor",
            ActionCommand::Plan => "plan",
            ActionCommand::Regress => "regress",
            ActionCommand::Coverage => "coverage",
        }
    }
}

/// The inputs, parsed. `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Inputs {
    pub(crate) command: ActionCommand,
    pub(crate) config: Option<String>,
    /// Relative to the workspace; `.` when not given.
    pub(crate) working_directory: String,
    pub(crate) github_token: Option<String>,
    pub(crate) check_run_id: Option<u64>,
    pub(crate) check_name: Option<String>,
    pub(crate) fail_on_target: bool,
    pub(crate) preserve_cluster: Option<Preserve>,
    pub(crate) report_dir: Option<String>,
    pub(crate) tag_suffix: Option<String>,
    /// `.` when not given.
    pub(crate) lint_paths: Vec<String>,
    pub(crate) lint_format: Format,
    pub(crate) args: Vec<String>,
}

impl fmt::Debug for Inputs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inputs")
            .field("command", &self.command)
            .field("config", &self.config)
            .field("working_directory", &self.working_directory)
            .field("github_token", &self.github_token.as_ref().map(|_| "***"))
            .field("check_run_id", &self.check_run_id)
            .field("check_name", &self.check_name)
            .field("fail_on_target", &self.fail_on_target)
            .field("preserve_cluster", &self.preserve_cluster)
            .field("report_dir", &self.report_dir)
            .field("tag_suffix", &self.tag_suffix)
            .field("lint_paths", &self.lint_paths)
            .field("lint_format", &self.lint_format)
            .field("args", &self.args)
            .finish()
    }
}

/// An input that cannot be used; the message names it (never its value when it is the token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("input `{name}`: {message}")]
pub(crate) struct InputError {
    pub(crate) name: &'static str,
    pub(crate) message: String,
}

fn error(name: &'static str, message: impl Into<String>) -> InputError {
    InputError {
        name,
        message: message.into(),
    }
}

impl Inputs {
    /// From the process environment.
    pub(crate) fn from_env() -> Result<Inputs, InputError> {
        Inputs::from_lookup(|variable| std::env::var(variable).ok())
    }

    /// From any lookup of `INPUT_*` variables (tests pass a map).
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Inputs, InputError> {
        let get = |name: &'static str| given(lookup(&variable(name)));
        let command = match get("command").as_deref() {
            None | Some("run") => ActionCommand::Run,
            Some("lint") => ActionCommand::Lint,
            Some("report") => ActionCommand::Report,
            Some("doctor") => ActionCommand::Doctor,
            Some("plan") => ActionCommand::Plan,
            Some("regress") => ActionCommand::Regress,
            Some("coverage") => ActionCommand::Coverage,
            Some(other) => {
                let known: Vec<&str> = ActionCommand::ALL.iter().map(|command| command.as_str()).collect();
                return Err(error(
                    "command",
                    format!("unknown command `{other}` (one of: {})", known.join(", ")),
                ));
            }
        };
        let check_run_id = match get("check_run_id") {
            None => None,
            Some(text) => Some(text.parse::<u64>().map_err(|_| {
                error(
                    "check_run_id",
                    format!("`{text}` is not a check run id (a number, e.g. ${{{{ job.check_run_id }}}})"),
                )
            })?),
        };
        let preserve_cluster = match get("preserve_cluster") {
            None => None,
            Some(text) => Some(Preserve::from_str(&text, true).map_err(|_| {
                error(
                    "preserve_cluster",
                    format!("`{text}` is not never, on-failure or always"),
                )
            })?),
        };
        let lint_format = match get("lint_format") {
            None => Format::Github,
            Some(text) => {
                let known: Vec<String> = Format::value_variants()
                    .iter()
                    .filter_map(|format| format.to_possible_value().map(|value| value.get_name().to_owned()))
                    .collect();
                Format::from_str(&text, true)
                    .map_err(|_| error("lint_format", format!("`{text}` is not one of {}", known.join(", "))))?
            }
        };
        let args = match get("args") {
            None => Vec::new(),
            Some(text) => split_shell_words(&text).map_err(|message| error("args", message))?,
        };
        Ok(Inputs {
            command,
            config: get("config"),
            working_directory: get("working_directory").unwrap_or_else(|| ".".to_owned()),
            github_token: get("github_token"),
            check_run_id,
            check_name: get("check_name"),
            fail_on_target: match get("fail_on_target") {
                None => false,
                Some(text) => boolean(&text).ok_or_else(|| {
                    error(
                        "fail_on_target",
                        format!("`{text}` is not a boolean (true, false, yes or no)"),
                    )
                })?,
            },
            preserve_cluster,
            report_dir: get("report_dir"),
            tag_suffix: get("tag_suffix"),
            lint_paths: get("lint_paths").map_or_else(|| vec![".".to_owned()], |text| path_list(&text)),
            lint_format,
            args,
        })
    }
}

/// A value that was given: trimmed, `None` when empty or only whitespace.
fn given(value: Option<String>) -> Option<String> {
    value
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// `true/false/yes/no`, any case.
pub(crate) fn boolean(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" => Some(true),
        "false" | "no" => Some(false),
        _ => None,
    }
}

/// One path per line when the value has several lines (a path may then contain spaces), else
/// the paths of the one line separated by whitespace. Blank lines are skipped.
pub(crate) fn path_list(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    let paths: Vec<String> = if lines.len() > 1 {
        lines.into_iter().map(str::to_owned).collect()
    } else {
        text.split_whitespace().map(str::to_owned).collect()
    };
    if paths.is_empty() { vec![".".to_owned()] } else { paths }
}

/// Split like a POSIX shell line, without any expansion: words separated by unquoted whitespace
/// (newlines too); `'...'` literal; `"..."` literal except `\"`, `\\`, `\$`, `` \` `` and a
/// backslash-newline; an unquoted backslash escapes the next character. `$VAR`, `*`, `~` and `#`
/// stay as they are.
pub(crate) fn split_shell_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    // Whether a word is being built (so `''` is an empty word).
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated single quote".to_owned()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated double quote".to_owned()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated double quote".to_owned()),
                    }
                }
            }
            '\\' => match chars.next() {
                // A backslash-newline joins lines.
                Some('\n') => {}
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
                None => return Err("a trailing backslash escapes nothing".to_owned()),
            },
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Inputs, InputError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(name, value)| (variable(name), (*value).to_owned()))
            .collect();
        Inputs::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn nothing_given_means_the_defaults() {
        let inputs = parse(&[]).expect("inputs");
        assert_eq!(inputs.command, ActionCommand::Run);
        assert_eq!(inputs.working_directory, ".");
        assert_eq!(inputs.lint_paths, vec!["."]);
        assert_eq!(inputs.lint_format, Format::Github);
        assert!(!inputs.fail_on_target);
        assert!(inputs.config.is_none() && inputs.github_token.is_none() && inputs.args.is_empty());
    }

    #[test]
    fn empty_and_whitespace_values_are_not_given() {
        let inputs = parse(&[
            ("command", "  "),
            ("config", ""),
            ("working_directory", " \n"),
            ("check_run_id", "\t"),
            ("preserve_cluster", " "),
            ("report_dir", ""),
            ("tag_suffix", "   "),
            ("lint_paths", "\n\n"),
            ("lint_format", ""),
            ("args", " \n "),
            ("fail_on_target", ""),
        ])
        .expect("inputs");
        assert_eq!(inputs, parse(&[]).expect("defaults"));
    }

    #[test]
    fn values_are_trimmed_and_typed() {
        let inputs = parse(&[
            ("command", "lint\n"),
            ("config", " e2e/hybrid-e2e.yaml "),
            ("check_run_id", "123456789012"),
            ("preserve_cluster", "On-Failure"),
            ("lint_format", "SARIF"),
        ])
        .expect("inputs");
        assert_eq!(inputs.command, ActionCommand::Lint);
        assert_eq!(inputs.config.as_deref(), Some("e2e/hybrid-e2e.yaml"));
        assert_eq!(inputs.check_run_id, Some(123_456_789_012));
        assert_eq!(inputs.preserve_cluster, Some(Preserve::OnFailure));
        assert_eq!(inputs.lint_format, Format::Sarif);
    }

    #[test]
    fn booleans_are_true_false_yes_no_in_any_case() {
        for (text, expected) in [
            ("true", true),
            ("TRUE", true),
            ("yes", true),
            (" Yes\n", true),
            ("false", false),
            ("No", false),
        ] {
            assert_eq!(
                parse(&[("fail_on_target", text)]).expect(text).fail_on_target,
                expected,
                "{text:?}"
            );
        }
        let error = parse(&[("fail_on_target", "1")]).expect_err("not a boolean");
        assert_eq!(error.name, "fail_on_target");
        assert!(error.to_string().contains("true, false, yes or no"), "{error}");
    }

    #[test]
    fn lint_paths_are_lines_or_words() {
        assert_eq!(path_list("docker/ build"), vec!["docker/", "build"]);
        assert_eq!(
            path_list("docker/\n  my dir/Dockerfile \n\nexamples\n"),
            vec!["docker/", "my dir/Dockerfile", "examples"]
        );
        assert_eq!(path_list("one/path\n"), vec!["one/path"]);
        assert_eq!(path_list(" \n "), vec!["."]);
    }

    #[test]
    fn args_split_like_a_shell_without_expansion() {
        let split = |text: &str| split_shell_words(text).expect(text);
        assert_eq!(split("--merge a b"), vec!["--merge", "a", "b"]);
        assert_eq!(
            split("  -v\n--rule 'no-dnf-update=warning'  "),
            vec!["-v", "--rule", "no-dnf-update=warning"]
        );
        assert_eq!(
            split(r#"--check-name "e2e (gateway)""#),
            vec!["--check-name", "e2e (gateway)"]
        );
        assert_eq!(split(r#"a\ b "c\"d" 'e\f' '' x"#), vec!["a b", "c\"d", r"e\f", "", "x"]);
        assert_eq!(
            split("$HOME * ~ #x `id` $(id)"),
            vec!["$HOME", "*", "~", "#x", "`id`", "$(id)"]
        );
        assert_eq!(split("one\\\ntwo"), vec!["onetwo"]);
        assert_eq!(split(r#""a\$b\\c\nd""#), vec![r"a$b\c\nd"]);
        assert!(split_shell_words("'open").is_err());
        assert!(split_shell_words("\"open").is_err());
        assert!(split_shell_words("end\\").is_err());
    }

    #[test]
    fn bad_values_name_their_input() {
        for (name, value) in [
            ("command", "deploy"),
            ("command", "nightly"),
            ("check_run_id", "abc"),
            ("preserve_cluster", "sometimes"),
            ("lint_format", "xml"),
            ("args", "'unterminated"),
        ] {
            let error = parse(&[(name, value)]).expect_err(value);
            assert_eq!(error.name, name);
            assert!(error.to_string().starts_with(&format!("input `{name}`: ")), "{error}");
        }
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let inputs = parse(&[("github_token", "ghs_secretvalue")]).expect("inputs");
        assert_eq!(inputs.github_token.as_deref(), Some("ghs_secretvalue"));
        let shown = format!("{inputs:?}");
        assert!(!shown.contains("ghs_secretvalue") && shown.contains("***"), "{shown}");
    }
}
