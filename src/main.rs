//! hybrid-e2e: fast, trustworthy hybrid-parallel E2E setup for Kubernetes projects in CI.

fn main() -> std::process::ExitCode {
    hybrid_e2e::main_entry()
}
