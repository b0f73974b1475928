//! The one integration-test binary: drives the real `hybrid-e2e` executable.

mod action;
mod action_image;
mod architecture;
mod bad_input;
mod coverage;
mod lint_cli;
mod pipelined;
mod real_engines;
mod regress_cli;
mod run_cli;
mod services;
mod support;
mod test_phase;
