//! The fake `docker` (see `fake_tools::engine`).

fn main() -> std::process::ExitCode {
    fake_tools::engine::main(fake_tools::engine::Flavor::Docker, std::env::args().skip(1).collect())
}
