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
