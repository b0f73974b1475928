//! `--fix`: remove the offending commands, one at a time, re-linting after each edit so that
//! overlapping fixes never fight and the result is checked by the same parser.

use super::check::{self, Finding, Fix};
use super::dockerfile;
use super::rules::{Rule, RuleLevels};

/// More fixes than this in one file means something is looping.
const MAX_FIXES_PER_FILE: usize = 1_000;

/// Why a file could not be fixed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FixError {
    #[error("a fix made no progress at line {line}; the file was left unchanged")]
    NoProgress { line: usize },
    #[error("fixing produced a file that no longer parses ({message}); the file was left unchanged")]
    BrokeTheFile { message: String },
    #[error("more than {MAX_FIXES_PER_FILE} fixes; the file was left unchanged")]
    TooManyFixes,
}

/// The fixed text, how many fixes were applied, and what is left to do by hand.
#[derive(Debug)]
pub(crate) struct Fixed {
    pub(crate) text: String,
    pub(crate) applied: usize,
    pub(crate) remaining: Vec<Finding>,
}

fn next_fix(findings: &[Finding]) -> Option<(&Finding, &Fix)> {
    findings
        .iter()
        .filter(|finding| finding.rule == Rule::NoDnfUpdate && finding.suppressed.is_none())
        .find_map(|finding| finding.fix.as_ref().map(|fix| (finding, fix)))
}

/// Apply every available fix to `text`.
pub(crate) fn fix_text(path: &str, text: &str, levels: &RuleLevels) -> Result<Fixed, FixError> {
    let mut current = text.to_owned();
    let mut applied = 0;
    loop {
        let findings = check::check_text(path, &current, levels);
        let Some((finding, fix)) = next_fix(&findings) else {
            if let Some(broken) = findings.iter().find(|finding| finding.rule == Rule::InvalidDockerfile)
                && applied > 0
            {
                return Err(FixError::BrokeTheFile {
                    message: broken.message.clone(),
                });
            }
            return Ok(Fixed {
                text: current,
                applied,
                remaining: findings,
            });
        };
        if applied == MAX_FIXES_PER_FILE {
            return Err(FixError::TooManyFixes);
        }
        let mut next = apply(&current, fix);
        if let Fix::RemoveInstruction { command, .. } = fix
            && dockerfile::parse(&next).is_ok_and(|file| file.instructions.is_empty())
        {
            // The file's only instruction: keep it, doing nothing.
            next = apply(&current, &Fix::ReplaceWithTrue(command.clone()));
        }
        if next == current {
            return Err(FixError::NoProgress { line: finding.line });
        }
        current = next;
        applied += 1;
    }
}

fn apply(text: &str, fix: &Fix) -> String {
    let (range, replacement) = match fix {
        Fix::Delete(range) | Fix::RemoveInstruction { instruction: range, .. } => (range.clone(), ""),
        Fix::ReplaceWithTrue(range) => (range.clone(), "true"),
    };
    let mut fixed = String::with_capacity(text.len());
    fixed.push_str(&text[..range.start]);
    fixed.push_str(replacement);
    fixed.push_str(&text[range.end..]);
    fixed
}

/// A unified diff of a fix, as `--fix --dry-run` prints it.
pub(crate) fn unified_diff(path: &str, before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn fixed(text: &str) -> String {
        fix_text("Dockerfile", text, &RuleLevels::default())
            .expect("fixes")
            .text
    }

    #[test]
    fn drops_the_command_and_keeps_the_chain() {
        assert_eq!(
            fixed("FROM a\nRUN dnf update -y && dnf install -y git && dnf clean all\n"),
            "FROM a\nRUN dnf install -y git && dnf clean all\n"
        );
        assert_eq!(
            fixed("FROM a\nRUN dnf install -y git && dnf -y update\n"),
            "FROM a\nRUN dnf install -y git\n"
        );
    }

    #[test]
    fn keeps_continuations_valid() {
        assert_eq!(
            fixed("FROM a\nRUN dnf install -y \\\n\tgit \\\n\tmake && \\\n\tdnf update -y && \\\n\tdnf clean all\n"),
            "FROM a\nRUN dnf install -y \\\n\tgit \\\n\tmake && \\\n\tdnf clean all\n"
        );
        assert_eq!(
            fixed("FROM a\r\nRUN dnf install -y git \\\r\n && dnf update -y\r\n"),
            "FROM a\r\nRUN dnf install -y git\r\n"
        );
    }

    #[test]
    fn removes_a_run_left_empty_and_every_upgrade_in_it() {
        assert_eq!(fixed("RUN dnf update\n"), "RUN true\n", "the only instruction stays");
        assert_eq!(
            fixed("FROM a\nRUN dnf -y update\nRUN [\"dnf\", \"upgrade\"]\nRUN yum update && yum upgrade\nUSER 1\n"),
            "FROM a\nUSER 1\n"
        );
    }

    #[test]
    fn replaces_with_true_where_removal_would_break_the_shell() {
        assert_eq!(
            fixed("FROM a\nRUN if dnf update; then echo ok; fi; dnf update | tee log\n"),
            "FROM a\nRUN if true; then echo ok; fi; true | tee log\n"
        );
    }

    #[test]
    fn fixes_inside_heredocs_and_exec_strings() {
        assert_eq!(
            fixed("FROM a\nRUN <<EOF\nset -e\ndnf update -y\ndnf clean all\nEOF\n"),
            "FROM a\nRUN <<EOF\nset -e\ndnf clean all\nEOF\n"
        );
        assert_eq!(
            fixed("FROM a\nRUN [\"sh\", \"-c\", \"dnf install -y jq && dnf update -y\"]\n"),
            "FROM a\nRUN [\"sh\", \"-c\", \"dnf install -y jq\"]\n"
        );
    }

    #[test]
    fn leaves_targeted_and_suppressed_updates_alone() {
        let text =
            "FROM a\nRUN dnf update -y openssl\n# hybrid-e2e ignore=no-dnf-update reason=\"x\"\nRUN dnf update\n";
        let result = fix_text("D", text, &RuleLevels::default()).expect("fixes");
        assert_eq!(result.text, text);
        assert_eq!(result.applied, 0);
        assert_eq!(result.remaining.len(), 2);
    }

    /// Every corpus file, fixed, still parses with BuildKit's own parser and lints clean of
    /// fixable findings; only targeted (not auto-fixed) and suppressed findings remain.
    #[test]
    fn fixed_corpus_parses_with_buildkit_and_lints_clean() {
        let directory = tempfile::tempdir().expect("tempdir");
        let mut written = Vec::new();
        let mut total_applied = 0;
        for path in crate::test_support::corpus_files() {
            let text = std::fs::read_to_string(&path).expect("read");
            let name = path.file_name().expect("name").to_string_lossy().into_owned();
            let result =
                fix_text(&name, &text, &RuleLevels::default()).unwrap_or_else(|error| panic!("{name}: {error}"));
            total_applied += result.applied;
            for finding in &result.remaining {
                let acceptable = finding.rule != Rule::NoDnfUpdate
                    || finding.suppressed.is_some()
                    || finding.message.starts_with("targeted");
                assert!(acceptable, "{name}: left behind {finding:?}\n{}", result.text);
                assert_ne!(
                    finding.rule,
                    Rule::InvalidDockerfile,
                    "{name}: fixed file does not parse\n{}",
                    result.text
                );
            }
            let out = directory.path().join(&name);
            std::fs::write(&out, &result.text).expect("write");
            written.push(out);
        }
        assert!(total_applied >= 25, "only {total_applied} fixes applied");
        let paths: Vec<&str> = written.iter().map(|path| path.to_str().expect("UTF-8")).collect();
        let Some(output) = crate::test_support::python_peer("buildkit_parse.py", &paths) else {
            return;
        };
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&output).expect("peer JSON");
        for entry in parsed {
            assert!(entry.get("error").is_none(), "BuildKit rejects a fixed file: {entry}");
        }
    }

    #[test]
    fn exec_form_escapes_are_never_cut_in_half() {
        assert_eq!(
            fixed("FROM a\nRUN [\"sh\", \"-c\", \"echo a && dnf -y update --exclude=\\\"kernel*\\\"\"]\n"),
            "FROM a\nRUN [\"sh\", \"-c\", \"echo a\"]\n"
        );
    }

    #[test]
    fn or_and_pipes_keep_their_meaning() {
        assert_eq!(
            fixed("FROM a\nRUN [ -n \"$S\" ] || dnf -y update\n"),
            "FROM a\nRUN [ -n \"$S\" ] || true\n"
        );
        assert_eq!(
            fixed("FROM a\nRUN dnf -y update || exit 1\n"),
            "FROM a\nRUN true || exit 1\n"
        );
        assert_eq!(
            fixed("FROM a\nRUN check && dnf -y update || exit 1\n"),
            "FROM a\nRUN check && true || exit 1\n"
        );
        assert_eq!(
            fixed("FROM a\nRUN dnf install -y git && dnf update -y | tee /log\n"),
            "FROM a\nRUN dnf install -y git && true | tee /log\n"
        );
    }
}
