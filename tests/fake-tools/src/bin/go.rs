//! A fake `go` for hybrid-e2e's coverage tests, at the process boundary: only `go tool covdata
//! textfmt -i DIR -o FILE`. Real counter files are binary and need a real Go toolchain to
//! write; the tests plant text instead — each `covcounters.*` file holds textfmt block lines —
//! and this concatenates them under a `mode: set` header, as `covdata` merges pods' counters.
//! Like the real tool it fails when `DIR` has no `covmeta.*` file. Every call is appended to
//! `$FAKE_GO_CALLS` when set.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Ok(path) = std::env::var("FAKE_GO_CALLS")
        && let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path)
    {
        let _ = writeln!(file, "{}", args.join(" "));
    }
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let ["tool", "covdata", "textfmt", "-i", input, "-o", output] = words.as_slice() else {
        eprintln!("fake go: unsupported {args:?}");
        return ExitCode::from(2);
    };
    let mut names: Vec<String> = std::fs::read_dir(input)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok().map(|entry| entry.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    if !names.iter().any(|name| name.starts_with("covmeta.")) {
        eprintln!("warning: no applicable files found in input directories");
        return ExitCode::from(1);
    }
    let mut profile = String::from("mode: set\n");
    for name in names.iter().filter(|name| name.starts_with("covcounters.")) {
        match std::fs::read_to_string(Path::new(input).join(name)) {
            Ok(text) => profile.push_str(&text),
            Err(error) => {
                eprintln!("fake go: {name}: {error}");
                return ExitCode::from(1);
            }
        }
    }
    match std::fs::write(output, profile) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fake go: {output}: {error}");
            ExitCode::from(1)
        }
    }
}
