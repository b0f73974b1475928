//! Names users choose that other tools must accept: checked where they enter (the config file,
//! flags, variables) with the other tool's rule in the message, not when that tool refuses them.

/// kind's own rule for cluster names (`^[a-z0-9.-]+$`), starting with a letter or digit (the node
/// container is `NAME-control-plane`), at most 50 characters (its hostname stays under 64).
pub(crate) fn parse_cluster_name(value: &str) -> Result<String, String> {
    let valid = !value.is_empty()
        && value.len() <= 50
        && value.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    if valid {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "`{value}` is not a valid Kind cluster name: lowercase letters, digits, `.` and `-` (kind's `^[a-z0-9.-]+$`), starting with a letter or digit, at most 50 characters"
        ))
    }
}

/// What Docker allows in a tag (`[A-Za-z0-9_.-]`), short enough that the run tag plus the suffix
/// stays under Docker's 128 characters.
pub(crate) fn parse_tag_suffix(value: &str) -> Result<String, String> {
    let valid = value.len() <= 100
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "`{value}` cannot be part of an image tag: letters, digits, `_`, `.` and `-` only (Docker's tag rule), at most 100 characters"
        ))
    }
}

/// `coverage.dir`: one absolute, plain path, the same in the container, the node and the Kind
/// config (no `..`, no `:` that would split a volume spec, not the root itself).
pub(crate) fn check_coverage_dir(value: &str) -> Result<(), String> {
    let plain = value.strip_prefix('/').is_some_and(|rest| {
        rest.split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
    });
    if !plain || value.contains([':', '\0', '\n']) {
        return Err(format!(
            "`{value}` must be an absolute directory path such as `/coverdata` (no `..`, `.`, `:` or trailing `/`; not `/`)"
        ));
    }
    Ok(())
}

/// List elements that only make sense to a shell (`[make, e2e, "&&", make, clean]`). `;` and the
/// redirections are left alone: `find … -exec … ";"` passes them on purpose.
const SHELL_OPERATORS: [&str; 4] = ["&&", "||", "|", "|&"];

/// The first piece of shell syntax in a `test.command` string, outside quotes: an operator
/// (`&&`, `|`, `;`, `>`), a variable or command substitution (`$NAME`, `$?`, backquote; also
/// inside double quotes, where a shell expands them), a glob (`*`, `?`), a leading `~`, a
/// leading `NAME=value`, or a line break (`"\n"`: a second command). Run without a shell, each
/// would reach the program as a literal argument.
pub(crate) fn shell_syntax(line: &str) -> Option<String> {
    let mut quote: Option<char> = None;
    let mut word_start = true;
    let mut first_word = String::new();
    let mut in_first_word = true;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('\''), '\'') => quote = None,
            (Some('\''), _) => {}
            (_, '\\') => {
                chars.next();
            }
            (Some('"'), '"') => quote = None,
            (_, '$')
                if chars.peek().is_some_and(|next| {
                    next.is_alphanumeric() || matches!(next, '{' | '(' | '_' | '?' | '@' | '*' | '#' | '!' | '$' | '-')
                }) || (quote.is_none() && chars.peek() == Some(&'\'')) =>
            {
                let mut variable = "$".to_owned();
                while let Some(&next) = chars.peek().filter(|next| next.is_alphanumeric() || **next == '_') {
                    variable.push(next);
                    chars.next();
                }
                if variable.len() == 1 {
                    variable.extend(chars.next());
                }
                return Some(variable);
            }
            (_, '`') => return Some("`".to_owned()),
            (Some('"'), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '|' | '&' | ';' | '<' | '>') => {
                let mut operator = c.to_string();
                while let Some(&next) = chars.peek().filter(|next| matches!(next, '|' | '&' | '>')) {
                    operator.push(next);
                    chars.next();
                }
                return Some(operator);
            }
            (None, '~') if word_start => return Some("~".to_owned()),
            (None, '*' | '?') => return Some(c.to_string()),
            (None, '\n' | '\r') => return Some("\n".to_owned()),
            (None, ' ' | '\t') => {
                word_start = true;
                if !first_word.is_empty() {
                    in_first_word = false;
                }
                continue;
            }
            (None, '=')
                if in_first_word
                    && !first_word.is_empty()
                    && first_word.chars().all(|c| c.is_alphanumeric() || c == '_') =>
            {
                return Some(format!("{first_word}="));
            }
            _ => {}
        }
        if in_first_word && quote.is_none() && c != '=' {
            first_word.push(c);
        }
        word_start = false;
    }
    None
}

/// A `test.command` list element that is a shell operator on its own (`[cd, x, "&&", make]`).
pub(crate) fn shell_operator(word: &str) -> bool {
    SHELL_OPERATORS.contains(&word)
}

#[cfg(test)]
mod tests {
    use super::{check_coverage_dir, shell_operator, shell_syntax};

    #[test]
    fn shell_syntax_outside_quotes_is_found() {
        for (line, found) in [
            ("cd test && go test ./...", "&&"),
            ("go test ./... | tee out.log", "|"),
            ("go test ./... > out.log", ">"),
            ("go test ./... 2>&1", ">&"),
            ("go test $PKG", "$PKG"),
            ("go test \"${PKG}\"", "${"),
            ("echo \"$@\"", "$@"),
            ("exit $?", "$?"),
            ("pytest tests/*.py", "*"),
            ("go test ./a\ngo test ./b", "\n"),
            ("KUBECONFIG=x go test", "KUBECONFIG="),
            ("~/bin/ginkgo -v", "~"),
            ("ginkgo ; true", ";"),
            ("echo `date`", "`"),
        ] {
            assert_eq!(shell_syntax(line).as_deref(), Some(found), "{line}");
        }
        for line in [
            "go test ./test/e2e/... -run 'Test A|Test B'",
            "ginkgo --focus=\"a && b\" ./e2e",
            "go test -ldflags=-X=main.v=1 ./...",
            "pytest -k 'not slow' tests/",
            "ginkgo --label-filter='!slow'",
            "make e2e",
        ] {
            assert_eq!(shell_syntax(line), None, "{line}");
        }
        assert!(shell_operator("&&") && shell_operator("|") && !shell_operator("-v") && !shell_operator(";"));
    }

    #[test]
    fn coverage_dirs_are_plain_absolute_paths() {
        for good in ["/coverdata", "/tmp/cover-data", "/var/lib/e2e/cov"] {
            assert_eq!(check_coverage_dir(good), Ok(()), "{good}");
        }
        for bad in ["coverdata", "/", "/a/../b", "/a/./b", "/a:b", "/cov/", ""] {
            assert!(check_coverage_dir(bad).is_err(), "{bad}");
        }
    }
}
