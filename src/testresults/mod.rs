//! Reading the JUnit XML test suites write — Ginkgo, `go test` through go-junit-report or
//! gotestsum, pytest, cargo-nextest — leniently (each bends the format its own way: a bare
//! `<testsuite>` root, nested suites, times with commas, no times at all), into the model's
//! [`TestSuiteResult`]s with each failure's `file:line` (`locate`). Reads `model` only.

mod locate;

use std::path::{Path, PathBuf};

use quick_xml::events::{BytesStart, Event};

use crate::model::{TestCaseResult, TestOutcome, TestSuiteResult};
pub(crate) use locate::{go_module, locate, resolve_go_files};

/// The largest JUnit file read (a suite of 100,000 tests with output is far below this).
const MAX_JUNIT_BYTES: u64 = 256 * 1024 * 1024;
/// Lines of a failure's text kept per case.
const DETAIL_LINES: usize = 40;

/// Why a JUnit file could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JunitError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is larger than {} MiB", MAX_JUNIT_BYTES / 1024 / 1024)]
    TooLarge { path: PathBuf },
    #[error("{path} is not JUnit XML: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Read one JUnit file; suites carry `path` as their source.
pub(crate) fn read_file(path: &Path) -> Result<Vec<TestSuiteResult>, JunitError> {
    let read_error = |source| JunitError::Read {
        path: path.to_owned(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    if !metadata.is_file() {
        return Err(read_error(std::io::Error::other("not a regular file")));
    }
    if metadata.len() > MAX_JUNIT_BYTES {
        return Err(JunitError::TooLarge { path: path.to_owned() });
    }
    let bytes = std::fs::read(path).map_err(read_error)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut suites = parse(&text).map_err(|message| JunitError::Invalid {
        path: path.to_owned(),
        message,
    })?;
    for suite in &mut suites {
        suite.source = Some(path.display().to_string());
    }
    Ok(suites)
}

/// A case being read.
struct OpenCase {
    case: TestCaseResult,
    /// The text of its `<failure>`/`<error>` (or system-out, for locations when the failure
    /// has none).
    text: String,
    output: String,
    in_result: bool,
    in_output: bool,
}

/// Parse JUnit XML: every `<testsuite>` (nested or not) that holds cases becomes one suite.
pub(crate) fn parse(xml: &str) -> Result<Vec<TestSuiteResult>, String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut suites: Vec<TestSuiteResult> = Vec::new();
    // Open suites, innermost last.
    let mut stack: Vec<TestSuiteResult> = Vec::new();
    let mut case: Option<OpenCase> = None;
    let mut saw_root = false;
    // Elements open now, outermost first: a file that ends inside one was cut off (a suite
    // killed while writing it), which the reader alone would take for a shorter file.
    let mut open: Vec<String> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|error| format!("{error} at byte {}", reader.error_position()))?;
        match event {
            Event::Start(element) | Event::Empty(element)
                if !saw_root && !matches!(element.name().as_ref(), b"testsuites" | b"testsuite") =>
            {
                return Err(format!(
                    "the root element is <{}>, not <testsuites> or <testsuite>",
                    String::from_utf8_lossy(element.name().as_ref())
                ));
            }
            Event::Start(element) => {
                saw_root = true;
                open.push(String::from_utf8_lossy(element.name().as_ref()).into_owned());
                match element.name().as_ref() {
                    b"testsuite" => stack.push(open_suite(&element)),
                    b"testcase" => case = Some(open_case(&element)),
                    b"failure" | b"error" | b"skipped" => {
                        if let Some(open) = &mut case {
                            result(&mut open.case, &element);
                            open.in_result = true;
                        }
                    }
                    b"system-out" | b"system-err" => {
                        if let Some(open) = &mut case {
                            open.in_output = true;
                        }
                    }
                    _ => {}
                }
            }
            Event::Empty(element) => {
                saw_root = true;
                match element.name().as_ref() {
                    b"testsuite" => {
                        let suite = open_suite(&element);
                        if !suite.cases.is_empty() {
                            suites.push(suite);
                        }
                    }
                    b"testcase" => {
                        let open = open_case(&element);
                        if let Some(suite) = stack.last_mut() {
                            suite.cases.push(finish_case(open));
                        }
                    }
                    b"failure" | b"error" | b"skipped" => {
                        if let Some(open) = &mut case {
                            result(&mut open.case, &element);
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(text) => {
                if let Some(open) = &mut case {
                    let text = text.decode().map_err(|error| error.to_string())?;
                    if open.in_result {
                        open.text.push_str(&text);
                    } else if open.in_output {
                        open.output.push_str(&text);
                    }
                }
            }
            Event::GeneralRef(reference) => {
                if let Some(open) = &mut case {
                    let name = reference.decode().map_err(|error| error.to_string())?;
                    let character = match name.as_ref() {
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "amp" => Some('&'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => reference.resolve_char_ref().ok().flatten(),
                    };
                    if let Some(character) = character {
                        if open.in_result {
                            open.text.push(character);
                        } else if open.in_output {
                            open.output.push(character);
                        }
                    }
                }
            }
            Event::CData(data) => {
                if let Some(open) = &mut case {
                    let text = String::from_utf8_lossy(&data);
                    if open.in_result {
                        open.text.push_str(&text);
                    } else if open.in_output {
                        open.output.push_str(&text);
                    }
                }
            }
            Event::End(element) => {
                open.pop();
                match element.name().as_ref() {
                    b"testsuite" => {
                        if let Some(suite) = stack.pop()
                            && !suite.cases.is_empty()
                        {
                            suites.push(suite);
                        }
                    }
                    b"testcase" => {
                        if let Some(open) = case.take()
                            && let Some(suite) = stack.last_mut()
                        {
                            suite.cases.push(finish_case(open));
                        }
                    }
                    b"failure" | b"error" | b"skipped" => {
                        if let Some(open) = &mut case {
                            open.in_result = false;
                        }
                    }
                    b"system-out" | b"system-err" => {
                        if let Some(open) = &mut case {
                            open.in_output = false;
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof if !open.is_empty() => {
                return Err(format!(
                    "the file ends inside <{}>: it was cut off (a test process killed while writing it?)",
                    open.last().map_or("", String::as_str)
                ));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err("no <testsuites> or <testsuite> element".to_owned());
    }
    Ok(suites)
}

fn attribute(element: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|attribute| attribute.key.as_ref() == name)
        .and_then(|attribute| {
            attribute
                .normalized_value(quick_xml::XmlVersion::default())
                .ok()
                .map(|value| value.into_owned())
        })
}

/// Longer than any test run (about 31 years): a time beyond it is garbage, not a duration.
const MAX_SECONDS: f64 = 1e9;

/// `time="1.5"`, `time="1,234.5"` (some producers group thousands); anything else is no time.
fn seconds(element: &BytesStart<'_>) -> Option<f64> {
    let text = attribute(element, b"time")?.replace(',', "");
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|value| value.is_finite() && (0.0..MAX_SECONDS).contains(value))
        // `-0` is zero, not negative zero in the JSON.
        .map(|value| value + 0.0)
}

fn open_suite(element: &BytesStart<'_>) -> TestSuiteResult {
    TestSuiteResult {
        name: attribute(element, b"name").unwrap_or_default(),
        source: None,
        duration_seconds: seconds(element),
        cases: Vec::new(),
    }
}

fn open_case(element: &BytesStart<'_>) -> OpenCase {
    let file = attribute(element, b"file");
    // pytest's `line` attribute (junit_family=xunit1) is 0-based; other producers' (PHPUnit,
    // jest-junit) count from 1.
    let zero_based = file.as_deref().is_some_and(|file| file.ends_with(".py"));
    let line = attribute(element, b"line")
        .and_then(|line| line.parse::<usize>().ok())
        .map(|line| if zero_based { line + 1 } else { line })
        .filter(|line| *line > 0);
    OpenCase {
        case: TestCaseResult {
            name: attribute(element, b"name").unwrap_or_default(),
            classname: attribute(element, b"classname").filter(|name| !name.is_empty()),
            duration_seconds: seconds(element).unwrap_or(0.0),
            outcome: TestOutcome::Passed,
            message: None,
            kind: None,
            file: file.clone(),
            line: file.and(line),
            details: Vec::new(),
        },
        text: String::new(),
        output: String::new(),
        in_result: false,
        in_output: false,
    }
}

/// A `<failure>`, `<error>` or `<skipped>` of the case. A failure wins over a skip (Ginkgo
/// writes both for a failed `BeforeAll`), a failure over an error only when first.
fn result(case: &mut TestCaseResult, element: &BytesStart<'_>) {
    let outcome = match element.name().as_ref() {
        b"failure" => TestOutcome::Failed,
        b"error" => TestOutcome::Error,
        _ => TestOutcome::Skipped,
    };
    if case.outcome.is_failure() && !outcome.is_failure() {
        return;
    }
    if case.outcome.is_failure() && outcome.is_failure() {
        return;
    }
    case.outcome = outcome;
    case.message = attribute(element, b"message").filter(|message| !message.is_empty());
    case.kind = attribute(element, b"type").filter(|kind| !kind.is_empty());
}

/// Rust's panic line names only where (`thread 'x' panicked at src/lib.rs:6:27:`); what
/// happened is the next line of the output (`assertion `left == right` failed`): join them.
fn with_panic_text(message: &str, details: &[String]) -> String {
    let message = message.trim();
    if !message.contains(" panicked at ") {
        return message.to_owned();
    }
    let head = message.trim_end_matches(':');
    let next = details
        .iter()
        .position(|line| line.contains(head))
        .and_then(|at| details[at + 1..].iter().find(|line| !line.trim().is_empty()))
        .map(|line| line.trim())
        .filter(|line| !line.starts_with("note:") && !message.contains(line));
    match next {
        Some(next) => format!("{head}: {next}"),
        None => message.to_owned(),
    }
}

fn finish_case(open: OpenCase) -> TestCaseResult {
    let mut case = open.case;
    if case.outcome.is_failure() {
        let text = open.text.trim_matches('\n');
        case.details = text.lines().take(DETAIL_LINES).map(str::to_owned).collect();
        let message = case.message.clone().unwrap_or_default();
        // The location the failure names, in its text, message or (go test: the test's output)
        // system-out; a `file`/`line` pair the producer wrote is the test's, not the failure's.
        let found = locate(text)
            .or_else(|| locate(&message))
            .or_else(|| locate(&open.output));
        if let Some((file, line)) = found.clone() {
            case.file = Some(file);
            case.line = Some(line);
        }
        // go test's JUnit says only `Failed`: its own words are the output line at the location.
        let generic = case
            .message
            .as_deref()
            .is_none_or(|message| message.trim().is_empty() || message.trim() == "Failed");
        if generic
            && let Some(panic) = case
                .details
                .iter()
                .find(|line| line.trim_start().starts_with("panic: "))
        {
            // A Go panic: its own line says what happened (the location is a stack frame).
            case.message = Some(panic.trim().to_owned());
        } else if generic {
            let at = found
                .as_ref()
                .and_then(|(file, line)| {
                    let needle = format!("{}:{line}", file.rsplit('/').next().unwrap_or(file));
                    case.details.iter().find(|detail| detail.contains(&needle))
                })
                .or_else(|| case.details.iter().find(|line| !line.trim().is_empty()));
            if let Some(line) = at {
                case.message = Some(line.trim().to_owned());
            }
        }
        if let Some(message) = &case.message {
            case.message = Some(with_panic_text(message, &case.details));
        }
    } else {
        case.file = None;
        case.line = None;
    }
    case
}

#[cfg(test)]
mod tests;
