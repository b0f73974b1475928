//! The one integration-test binary: drives the real `hybrid-e2e` executable.

mod architecture;
mod lint_cli;
mod pipelined;
mod real_engines;
mod run_cli;
mod support;
