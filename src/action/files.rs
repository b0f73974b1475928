//! The runner's file commands the action uses besides the ones the CLI writes: step outputs
//! (`GITHUB_OUTPUT`, which the action finishes: workspace-relative report paths, the host
//! kubeconfig, the cluster name) and `GITHUB_STATE` (what the post step reads back as
//! `STATE_<name>`). Both take `name<<DELIMITER` / value / `DELIMITER` entries.

use crate::report::github::{self, output_file_text};

/// The entries of a file-command file, in order: `name<<DELIMITER` blocks and `name=value`
/// lines. `None` when the text is not in that format (then it is left as it is).
pub(crate) fn parse(text: &str) -> Option<Vec<(String, String)>> {
    let mut entries = Vec::new();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if let Some((name, delimiter)) = line.split_once("<<")
            && !name.contains('=')
        {
            let mut value: Vec<&str> = Vec::new();
            loop {
                let next = lines.next()?;
                let next = next.strip_suffix('\r').unwrap_or(next);
                if next == delimiter {
                    break;
                }
                value.push(next);
            }
            entries.push((name.to_owned(), value.join("\n")));
        } else {
            let (name, value) = line.split_once('=')?;
            entries.push((name.to_owned(), value.to_owned()));
        }
    }
    Some(entries)
}

/// `entries` in the file-command format, with fresh random delimiters.
pub(crate) fn render(entries: &[(String, String)]) -> String {
    let borrowed: Vec<(&str, String)> = entries
        .iter()
        .map(|(name, value)| (name.as_str(), value.clone()))
        .collect();
    output_file_text(&borrowed)
}

/// Append `entries` to the file named by `variable` (`GITHUB_STATE`); a no-op outside Actions.
pub(crate) fn append(variable: &str, entries: &[(String, String)]) -> Result<(), String> {
    github::append(variable, &render(entries))
}

/// Rewrite the step's `GITHUB_OUTPUT`: `fix` may change each value, `extra` entries replace or
/// add names; every name appears once. The file is the step's own (the runner makes one per
/// step), so the action may rewrite it whole.
pub(crate) fn finish_outputs(fix: impl Fn(&str, String) -> String, extra: &[(String, String)]) -> Result<(), String> {
    let Some(path) = std::env::var_os("GITHUB_OUTPUT").filter(|path| !path.is_empty()) else {
        return Ok(());
    };
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let Some(entries) = parse(&text) else {
        // Not ours to understand: leave it, add ours.
        return append("GITHUB_OUTPUT", extra);
    };
    let finished = merge(entries, fix, extra);
    std::fs::write(&path, render(&finished)).map_err(|error| format!("cannot write GITHUB_OUTPUT: {error}"))
}

/// The entries with `fix` applied and `extra` merged in (last value of a name wins, first
/// position kept).
pub(crate) fn merge(
    entries: Vec<(String, String)>,
    fix: impl Fn(&str, String) -> String,
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    let mut finished: Vec<(String, String)> = Vec::new();
    for (name, value) in entries.into_iter().chain(extra.iter().cloned()) {
        let value = fix(&name, value);
        match finished.iter_mut().find(|(existing, _)| *existing == name) {
            Some(entry) => entry.1 = value,
            None => finished.push((name, value)),
        }
    }
    finished
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_with_random_delimiters() {
        let entries = vec![
            ("status".to_owned(), "ok".to_owned()),
            ("report-dir".to_owned(), "e2e/hybrid-e2e-report".to_owned()),
            ("message".to_owned(), "two\nlines".to_owned()),
            ("empty".to_owned(), String::new()),
        ];
        let text = render(&entries);
        assert!(text.contains("status<<ghadelimiter_"), "{text}");
        assert_eq!(parse(&text), Some(entries));
    }

    #[test]
    fn single_line_entries_and_crlf_parse_too() {
        let text = "a=1\r\nb<<EOF\r\nx=y\r\nEOF\r\nc=has=equals\n";
        assert_eq!(
            parse(text),
            Some(vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x=y".to_owned()),
                ("c".to_owned(), "has=equals".to_owned()),
            ])
        );
        assert_eq!(parse("name<<EOF\nno end\n"), None);
        assert_eq!(parse("no separator\n"), None);
        assert_eq!(parse(""), Some(Vec::new()));
    }

    #[test]
    fn merge_fixes_values_and_keeps_one_entry_per_name() {
        let entries = vec![
            ("status".to_owned(), "ok".to_owned()),
            ("report-dir".to_owned(), "/github/workspace/e2e/r".to_owned()),
        ];
        let extra = vec![
            ("kubeconfig".to_owned(), "/home/runner/k".to_owned()),
            ("status".to_owned(), "failed".to_owned()),
        ];
        let merged = merge(
            entries,
            |name, value| {
                if name == "report-dir" {
                    value.replace("/github/workspace/", "")
                } else {
                    value
                }
            },
            &extra,
        );
        assert_eq!(
            merged,
            vec![
                ("status".to_owned(), "failed".to_owned()),
                ("report-dir".to_owned(), "e2e/r".to_owned()),
                ("kubeconfig".to_owned(), "/home/runner/k".to_owned()),
            ]
        );
    }
}
