//! Why a step failed, whose fault it is, what to do, and where it points.

use serde::{Deserialize, Serialize};

use super::FailureClass;

/// One finding a check made (a Dockerfile lint finding): structured, so every reporter can
/// anchor it without parsing text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Finding {
    pub(crate) path: String,
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) rule: String,
    pub(crate) message: String,
}

/// Why a step failed, whose fault it is, and what to do.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) class: FailureClass,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
    /// The file the failure points at (a Dockerfile, a manifest, the kind config).
    pub(crate) file: Option<String>,
    /// The line in `file` (the failing Dockerfile step, the manifest document).
    pub(crate) line: Option<usize>,
    /// The column in `file`, when known.
    pub(crate) column: Option<usize>,
    /// The last lines of output (or a diagnosis digest).
    pub(crate) tail: Vec<String>,
    /// The one line annotations quote (default: the last line of `tail`): for a deploy failure,
    /// the failing object's own last output, not another object's.
    pub(crate) excerpt: Option<String>,
    /// Structured findings behind the failure (each its own annotation).
    pub(crate) findings: Vec<Finding>,
}

impl Failure {
    pub(crate) fn new(class: FailureClass, message: impl Into<String>) -> Failure {
        Failure {
            class,
            message: message.into(),
            hint: None,
            file: None,
            line: None,
            column: None,
            tail: Vec::new(),
            excerpt: None,
            findings: Vec::new(),
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn file(mut self, file: impl Into<String>) -> Failure {
        self.file = Some(file.into());
        self
    }

    /// Point at `file`, line `line`.
    pub(crate) fn at(mut self, file: impl Into<String>, line: Option<usize>) -> Failure {
        self.file = Some(file.into());
        self.line = line;
        self
    }

    pub(crate) fn tail(mut self, tail: Vec<String>) -> Failure {
        self.tail = tail;
        self
    }

    pub(crate) fn excerpt(mut self, excerpt: impl Into<String>) -> Failure {
        self.excerpt = Some(excerpt.into());
        self
    }

    pub(crate) fn findings(mut self, findings: Vec<Finding>) -> Failure {
        self.findings = findings;
        self
    }
}
