//! `hybrid-e2e lint`: the Dockerfile linter (rule `no-dnf-update` first; the rule set can grow).

mod check;
mod discover;
mod dockerfile;
mod fix;
mod format;
mod rules;
mod run;
mod shell;
mod suppress;

pub(crate) use check::check_bytes;
pub(crate) use format::Format;
pub(crate) use rules::{Level, Rule, RuleLevels};
pub(crate) use run::{LintError, LintOptions, run};

/// The 1-based line of the instruction whose text (keyword and arguments, whitespace collapsed)
/// is `instruction`, as build logs print it (`Step 3/4 : RUN make`, `STEP 3/4: RUN make`).
pub(crate) fn locate_instruction(dockerfile_text: &str, instruction: &str) -> Option<usize> {
    let collapse = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let wanted = collapse(instruction);
    let file = dockerfile::parse(dockerfile_text).ok()?;
    file.instructions.iter().find_map(|candidate| {
        let text = match &candidate.onbuild_keyword {
            Some(inner) => format!("{} {inner} {}", candidate.keyword, candidate.arguments.text),
            None => format!("{} {}", candidate.keyword, candidate.arguments.text),
        };
        // Logs print the keyword as written and the flags the arguments started with.
        let same = collapse(&text).eq_ignore_ascii_case(&wanted)
            || (wanted.to_ascii_uppercase().starts_with(candidate.effective_keyword())
                && !candidate.arguments.text.trim().is_empty()
                && wanted.ends_with(&collapse(&candidate.arguments.text)));
        same.then_some(candidate.start_line)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn build_log_steps_point_at_their_line() {
        let text = "FROM a AS b\nARG X=1\nRUN --mount=type=cache,target=/c make \\\n    build\nRUN echo done\n";
        assert_eq!(super::locate_instruction(text, "RUN echo done"), Some(5));
        assert_eq!(
            super::locate_instruction(text, "RUN --mount=type=cache,target=/c make     build"),
            Some(3)
        );
        assert_eq!(super::locate_instruction(text, "RUN nothing"), None);
    }
}
