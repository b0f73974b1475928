//! A fake `docker` for the engine benchmarks: builds take the time a Dockerfile asks for
//! (`# fake-build-ms: N`), so scheduler overhead can be measured against a known critical path
//! without a daemon. The tests use the real Docker engine; this is only for `benches/`.
//!
//! State lives in `FAKE_DOCKER_STATE` (required): one file per built image.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

fn state() -> PathBuf {
    PathBuf::from(std::env::var("FAKE_DOCKER_STATE").expect("FAKE_DOCKER_STATE must be set for the fake docker"))
}

fn image_file(reference: &str) -> PathBuf {
    state().join("images").join(reference.replace(['/', ':'], "_"))
}

fn flag(args: &[String], names: &[&str]) -> Option<String> {
    args.iter()
        .position(|arg| names.contains(&arg.as_str()))
        .and_then(|index| args.get(index + 1).cloned())
}

/// A docker-archive tar holding only `manifest.json`, enough for the fake kind to read the tags.
fn archive(reference: &str) -> Vec<u8> {
    let body = format!("[{{\"Config\":\"config.json\",\"RepoTags\":[\"{reference}\"],\"Layers\":[]}}]");
    let mut header = [0u8; 512];
    header[..13].copy_from_slice(b"manifest.json");
    header[100..108].copy_from_slice(b"0000644\0");
    let size = format!("{:011o}\0", body.len());
    header[124..136].copy_from_slice(size.as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[156] = b'0';
    header[148..156].copy_from_slice(b"        ");
    let checksum: u32 = header.iter().map(|&byte| u32::from(byte)).sum();
    header[148..156].copy_from_slice(format!("{checksum:06o}\0 ").as_bytes());
    let mut tar = header.to_vec();
    tar.extend_from_slice(body.as_bytes());
    tar.resize(512 + body.len().div_ceil(512) * 512 + 1024, 0);
    tar
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["version", ..] => {
            println!("28.0.0-fake");
            ExitCode::SUCCESS
        }
        ["build", ..] => {
            let (Some(reference), Some(dockerfile)) = (flag(&args, &["-t"]), flag(&args, &["-f"])) else {
                eprintln!("fake docker: build needs -t and -f");
                return ExitCode::from(1);
            };
            let text = fs::read_to_string(&dockerfile).unwrap_or_default();
            let millis = text
                .lines()
                .find_map(|line| line.strip_prefix("# fake-build-ms:"))
                .and_then(|value| value.trim().parse::<u64>().ok())
                .unwrap_or(0);
            println!("Step 1/1 : FROM scratch");
            std::thread::sleep(Duration::from_millis(millis));
            let _ = fs::create_dir_all(state().join("images"));
            let _ = fs::write(image_file(&reference), "");
            println!("Successfully tagged {reference}");
            ExitCode::SUCCESS
        }
        ["image", "inspect", .., reference] => {
            if image_file(reference).exists() {
                println!(
                    "{}",
                    if args.iter().any(|arg| arg.contains("Size")) {
                        "1048576"
                    } else {
                        "sha256:fake"
                    }
                );
                ExitCode::SUCCESS
            } else {
                eprintln!("Error: No such image: {reference}");
                ExitCode::from(1)
            }
        }
        ["save", "-o", path, reference] => {
            let written = fs::File::create(path).and_then(|mut file| file.write_all(&archive(reference)));
            if written.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        ["image", "rm", .., reference] => {
            let _ = fs::remove_file(image_file(reference));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("fake docker: unsupported {args:?}");
            ExitCode::from(1)
        }
    }
}
