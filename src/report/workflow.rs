//! GitHub workflow commands (`::error file=...::message`), escaped exactly as `@actions/core`
//! does (`toCommandValue`, `escapeData`, `escapeProperty` in `lib/command.js`).

use std::fmt::Write as _;

/// The annotation levels GitHub knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AnnotationLevel {
    Error,
    Warning,
}

impl AnnotationLevel {
    fn command(self) -> &'static str {
        match self {
            AnnotationLevel::Error => "error",
            AnnotationLevel::Warning => "warning",
        }
    }
}

/// `AnnotationProperties` of `@actions/core`; `None` fields are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AnnotationProperties {
    pub(crate) title: Option<String>,
    pub(crate) file: Option<String>,
    pub(crate) start_line: Option<usize>,
    pub(crate) end_line: Option<usize>,
    pub(crate) start_column: Option<usize>,
    pub(crate) end_column: Option<usize>,
}

/// `escapeData`: `%`, CR and LF.
pub(crate) fn escape_data(value: &str) -> String {
    value.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// `escapeProperty`: `escapeData` plus `:` and `,`.
pub(crate) fn escape_property(value: &str) -> String {
    escape_data(value).replace(':', "%3A").replace(',', "%2C")
}

/// One annotation command line, ending in a newline, in `toCommandProperties` key order.
pub(crate) fn annotation(level: AnnotationLevel, properties: &AnnotationProperties, message: &str) -> String {
    let mut line = format!("::{}", level.command());
    let numbers = [
        ("line", properties.start_line),
        ("endLine", properties.end_line),
        ("col", properties.start_column),
        ("endColumn", properties.end_column),
    ];
    let mut fields: Vec<(&str, String)> = Vec::new();
    if let Some(title) = properties.title.as_deref().filter(|title| !title.is_empty()) {
        fields.push(("title", title.to_owned()));
    }
    if let Some(file) = properties.file.as_deref().filter(|file| !file.is_empty()) {
        fields.push(("file", file.to_owned()));
    }
    // `@actions/core` drops falsy values, so a 0 line is left out too.
    fields.extend(
        numbers
            .into_iter()
            .filter_map(|(key, value)| value.filter(|&n| n != 0).map(|n| (key, n.to_string()))),
    );
    // `Command.toString` adds the space whenever the properties object has keys, even falsy ones.
    if *properties != AnnotationProperties::default() {
        line.push(' ');
    }
    for (index, (key, value)) in fields.iter().enumerate() {
        if index > 0 {
            line.push(',');
        }
        let _ = write!(line, "{key}={}", escape_property(value));
    }
    line.push_str("::");
    line.push_str(&escape_data(message));
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_data_and_properties_differently() {
        let properties = AnnotationProperties {
            title: Some("a:b,c".to_owned()),
            file: Some("dir/Docker,file".to_owned()),
            start_line: Some(3),
            end_line: Some(3),
            start_column: Some(5),
            end_column: None,
        };
        assert_eq!(
            annotation(AnnotationLevel::Warning, &properties, "50% done\r\nnext: a,b"),
            "::warning title=a%3Ab%2Cc,file=dir/Docker%2Cfile,line=3,endLine=3,col=5::50%25 done%0D%0Anext: a,b\n"
        );
    }

    #[test]
    fn no_properties_means_no_space() {
        assert_eq!(
            annotation(AnnotationLevel::Error, &AnnotationProperties::default(), "x"),
            "::error::x\n"
        );
    }

    /// Byte-for-byte the same as `@actions/core` over a battery of awkward strings.
    #[test]
    fn escaping_matches_actions_core() {
        let battery = [
            "plain",
            "100% sure",
            "%25 already escaped",
            "line one\nline two",
            "windows\r\nline",
            "lone\rcarriage",
            "key: value, other: value",
            "C:\\path\\Dockerfile",
            "emoji \u{1F680} and \u{10FFFF}",
            "::error::injected",
            "trailing newline\n",
            "",
        ];
        let long = "x%:,\n".repeat(5_000);
        let mut strings: Vec<&str> = battery.to_vec();
        strings.push(&long);
        let mut requests = Vec::new();
        let mut ours = String::new();
        for (index, text) in strings.iter().enumerate() {
            let properties = AnnotationProperties {
                title: Some(format!("title {text}")),
                file: Some(format!("dir,{index}/{text}")),
                start_line: Some(index + 1),
                end_line: Some(index + 2),
                start_column: (index % 2 == 0).then_some(3),
                end_column: None,
            };
            let level = if index % 2 == 0 {
                AnnotationLevel::Error
            } else {
                AnnotationLevel::Warning
            };
            ours.push_str(&annotation(level, &properties, text));
            requests.push(serde_json::json!({
                "level": if index % 2 == 0 { "error" } else { "warning" },
                "message": text,
                "properties": {
                    "title": properties.title,
                    "file": properties.file,
                    "startLine": properties.start_line,
                    "endLine": properties.end_line,
                    "startColumn": properties.start_column,
                },
            }));
        }
        let Some(theirs) =
            crate::test_support::node_peer("annotate.mjs", &serde_json::Value::from(requests).to_string())
        else {
            return;
        };
        pretty_assertions::assert_eq!(ours, theirs);
    }
}
