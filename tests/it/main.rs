//! The one integration-test binary: drives the real `hybrid-e2e` executable.

mod lint_cli;
mod run_cli;
mod support;
