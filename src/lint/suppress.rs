//! Inline suppressions: `# hybrid-e2e ignore=no-dnf-update reason="..."` on the comment lines
//! directly above an instruction.

use super::rules::Rule;

/// One directive found in a comment line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directive {
    /// 1-based line and column of the `#`.
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) end_column: usize,
    pub(crate) rules: Vec<Rule>,
    pub(crate) reason: Option<String>,
    /// What is wrong with the directive itself (unknown rule, unknown key, no `ignore=`).
    pub(crate) problems: Vec<String>,
}

const MARKER: &str = "hybrid-e2e";

/// Parse a comment line; `None` when it is not addressed to us.
pub(crate) fn parse_directive(line_text: &str, line: usize) -> Option<Directive> {
    let indent = line_text.len() - line_text.trim_start().len();
    let body = line_text.trim_start().strip_prefix('#')?.trim_start();
    let rest = body.strip_prefix(MARKER)?;
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let column = line_text[..indent].chars().count() + 1;
    let mut directive = Directive {
        line,
        column,
        end_column: line_text.trim_end().chars().count() + 1,
        rules: Vec::new(),
        reason: None,
        problems: Vec::new(),
    };
    let mut saw_ignore = false;
    for (key, value) in key_values(rest.trim()) {
        match key.as_str() {
            "ignore" => {
                saw_ignore = true;
                for id in value.split(',').map(str::trim).filter(|id| !id.is_empty()) {
                    match Rule::from_id(id) {
                        Some(rule) if rule.suppressible() => directive.rules.push(rule),
                        Some(rule) => directive.problems.push(format!("rule `{rule}` cannot be suppressed")),
                        None => directive.problems.push(format!("unknown rule `{id}`")),
                    }
                }
            }
            "reason" => {
                let reason = value.trim();
                directive.reason = (!reason.is_empty()).then(|| reason.to_owned());
            }
            "" => directive
                .problems
                .push(format!("cannot read `{value}`: expected key=value")),
            other => directive
                .problems
                .push(format!("unknown key `{other}` (expected `ignore` or `reason`)")),
        }
    }
    if !saw_ignore {
        directive.problems.push("missing `ignore=RULE[,RULE...]`".to_owned());
    }
    Some(directive)
}

/// `key=value` pairs where a value may be quoted with `"` or `'`.
fn key_values(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return pairs;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        if chars.next_if_eq(&'=').is_none() {
            pairs.push((String::new(), key));
            continue;
        }
        let mut value = String::new();
        match chars.peek().copied() {
            Some(quote @ ('"' | '\'')) => {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' if quote == '"' => value.extend(chars.next()),
                        c if c == quote => break,
                        c => value.push(c),
                    }
                }
            }
            _ => {
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rules_and_a_quoted_reason() {
        let directive = parse_directive(
            r#"  # hybrid-e2e ignore=no-dnf-update reason="weekly \"base\" image""#,
            3,
        )
        .expect("directive");
        assert_eq!(directive.rules, vec![Rule::NoDnfUpdate]);
        assert_eq!(directive.reason.as_deref(), Some("weekly \"base\" image"));
        assert_eq!(directive.column, 3);
        assert!(directive.problems.is_empty());
    }

    #[test]
    fn missing_reason_and_unknown_rules_are_noticed() {
        let directive = parse_directive("# hybrid-e2e ignore=no-dnf-update,no-such-rule", 1).expect("directive");
        assert_eq!(directive.reason, None);
        assert_eq!(directive.problems, vec!["unknown rule `no-such-rule`".to_owned()]);
    }

    #[test]
    fn other_comments_are_not_directives() {
        assert_eq!(parse_directive("# hybrid-e2ex ignore=x", 1), None);
        assert_eq!(parse_directive("# a note about hybrid-e2e", 1), None);
        assert_eq!(parse_directive("RUN x", 1), None);
    }
}
