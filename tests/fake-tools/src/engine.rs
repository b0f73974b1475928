//! A fake container engine (`docker` or `podman`, by `FAKE_ENGINE_FLAVOR` or the program name):
//! builds, inspects, saves and removes images as the real CLIs do, printing their real output
//! shapes, so orchestration (fail-fast, retries, cancellation, preserve, cleanup) is tested
//! without a daemon. Builds are scripted by the Dockerfile itself:
//!
//! - `# fake-build-ms: N` sleeps N ms before the first step (benchmarks);
//! - `RUN sleep N` sleeps N seconds at that step;
//! - `RUN echo WORDS && exit N` (N ≠ 0) prints WORDS and fails at that step like the real engine;
//! - every other instruction succeeds.
//!
//! State lives in `FAKE_ENGINE_STATE` (or `FAKE_DOCKER_STATE`): one JSON file per image, and
//! `engine-calls.jsonl` with every call. `FAKE_ENGINE_DOWN=1` makes every call fail as a daemon
//! that does not answer; `FAKE_ENGINE_VERSION_DELAY_MS` makes `version` slow.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Which CLI this fake plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Docker,
    Podman,
}

impl Flavor {
    fn name(self) -> &'static str {
        match self {
            Flavor::Docker => "docker",
            Flavor::Podman => "podman",
        }
    }
}

fn state() -> PathBuf {
    std::env::var("FAKE_ENGINE_STATE")
        .or_else(|_| std::env::var("FAKE_DOCKER_STATE"))
        .map(PathBuf::from)
        .expect("FAKE_ENGINE_STATE must be set for the fake engine")
}

fn image_file(reference: &str) -> PathBuf {
    state().join("images").join(reference.replace(['/', ':', '@'], "_"))
}

fn flag(args: &[String], names: &[&str]) -> Option<String> {
    args.iter()
        .position(|arg| names.contains(&arg.as_str()))
        .and_then(|index| args.get(index + 1).cloned())
}

fn fail(message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::from(1)
}

fn record(flavor: Flavor, args: &[String]) {
    let entry = serde_json::json!({ "program": flavor.name(), "args": args });
    let line = format!("{entry}\n");
    let _ = fs::create_dir_all(state());
    if let Ok(mut file) = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state().join("engine-calls.jsonl"))
    {
        let _ = file.write_all(line.as_bytes());
    }
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

/// The instructions of a Dockerfile: continuation lines joined, comments and blanks dropped.
fn instructions(text: &str) -> Vec<String> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(stripped) = trimmed.strip_suffix('\\') {
            current.push_str(stripped);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        instructions.push(std::mem::take(&mut current));
    }
    if !current.is_empty() {
        instructions.push(current);
    }
    instructions
}

/// What a `RUN` does in the fake: sleep, fail with output, or succeed.
fn run_instruction(flavor: Flavor, step: usize, total: usize, script: &str) -> Result<(), ExitCode> {
    let words: Vec<&str> = script.split_whitespace().collect();
    if let ["sleep", seconds] = words.as_slice()
        && let Ok(seconds) = seconds.parse::<f64>()
    {
        std::thread::sleep(Duration::from_secs_f64(seconds));
        return Ok(());
    }
    let exit = script
        .split("&&")
        .map(str::trim)
        .find_map(|part| {
            part.strip_prefix("exit ")
                .and_then(|code| code.trim().parse::<u8>().ok())
        })
        .filter(|code| *code != 0);
    let Some(code) = exit else { return Ok(()) };
    for part in script.split("&&").map(str::trim) {
        if let Some(text) = part.strip_prefix("echo ") {
            println!("{}", text.trim_matches('"'));
        }
    }
    match flavor {
        Flavor::Docker => eprintln!("The command '/bin/sh -c {script}' returned a non-zero code: {code}"),
        Flavor::Podman => {
            eprintln!("subprocess exited with status {code}");
            eprintln!("Error: building at STEP \"RUN {script}\": exit status {code}");
        }
    }
    let _ = (step, total);
    Err(ExitCode::from(code))
}

fn build(flavor: Flavor, args: &[String]) -> ExitCode {
    let (Some(reference), Some(dockerfile)) = (flag(args, &["-t", "--tag"]), flag(args, &["-f", "--file"])) else {
        return fail(&format!("fake {}: build needs -t and -f", flavor.name()));
    };
    let Ok(text) = fs::read_to_string(&dockerfile) else {
        return fail(&format!(
            "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {dockerfile}: no such file or directory"
        ));
    };
    let build_args: Vec<String> = args
        .windows(2)
        .filter(|pair| pair[0] == "--build-arg")
        .map(|pair| pair[1].clone())
        .collect();
    if let Some(millis) = text
        .lines()
        .find_map(|line| line.strip_prefix("# fake-build-ms:"))
        .and_then(|value| value.trim().parse::<u64>().ok())
    {
        std::thread::sleep(Duration::from_millis(millis));
    }
    let steps = instructions(&text);
    let total = steps.len();
    for (index, instruction) in steps.iter().enumerate() {
        let step = index + 1;
        match flavor {
            Flavor::Docker => println!("Step {step}/{total} : {instruction}"),
            Flavor::Podman => println!("STEP {step}/{total}: {instruction}"),
        }
        let _ = std::io::stdout().flush();
        if let Some(script) = instruction.strip_prefix("RUN ")
            && let Err(code) = run_instruction(flavor, step, total, script.trim())
        {
            return code;
        }
    }
    let _ = fs::create_dir_all(state().join("images"));
    let image = serde_json::json!({ "reference": reference, "build_args": build_args, "dockerfile": dockerfile });
    let _ = fs::write(image_file(&reference), image.to_string());
    match flavor {
        Flavor::Docker => println!("Successfully tagged {reference}"),
        Flavor::Podman => println!("COMMIT {reference}\nSuccessfully tagged {reference}"),
    }
    ExitCode::SUCCESS
}

fn no_such_image(flavor: Flavor, reference: &str) -> ExitCode {
    match flavor {
        Flavor::Docker => fail(&format!("Error: No such image: {reference}")),
        Flavor::Podman => fail(&format!("Error: {reference}: image not known")),
    }
}

/// Run the fake as `flavor` with `args` (without the program name).
pub fn main(flavor: Flavor, args: Vec<String>) -> ExitCode {
    let flavor = match std::env::var("FAKE_ENGINE_FLAVOR").as_deref() {
        Ok("podman") => Flavor::Podman,
        Ok("docker") => Flavor::Docker,
        _ => flavor,
    };
    record(flavor, &args);
    if std::env::var("FAKE_ENGINE_DOWN").is_ok_and(|value| value == "1") {
        return match flavor {
            Flavor::Docker => fail(
                "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
            ),
            Flavor::Podman => fail("Error: unable to connect to Podman socket: connection refused"),
        };
    }
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["version", ..] => {
            // A daemon slow to answer (to interrupt preflight in tests).
            if let Some(millis) = std::env::var("FAKE_ENGINE_VERSION_DELAY_MS")
                .ok()
                .and_then(|value| value.parse::<u64>().ok())
            {
                std::thread::sleep(Duration::from_millis(millis));
            }
            println!(
                "{}",
                match flavor {
                    Flavor::Docker => "28.0.0-fake",
                    Flavor::Podman => "5.4.0-fake",
                }
            );
            ExitCode::SUCCESS
        }
        ["build", ..] => build(flavor, &args),
        ["image", "inspect", .., reference] => {
            if !image_file(reference).exists() {
                return no_such_image(flavor, reference);
            }
            let format = flag(&args, &["--format", "-f"]).unwrap_or_default();
            println!(
                "{}",
                if format.contains("Size") {
                    "1048576"
                } else {
                    "sha256:fake"
                }
            );
            ExitCode::SUCCESS
        }
        ["image", "exists", reference] => {
            if image_file(reference).exists() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        ["save", "-o", path, reference] => {
            if !image_file(reference).exists() {
                return no_such_image(flavor, reference);
            }
            match fs::File::create(path).and_then(|mut file| file.write_all(&archive(reference))) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&format!("Error: open {path}: {error}")),
            }
        }
        ["image", "rm", .., reference] => {
            let existed = fs::remove_file(image_file(reference)).is_ok();
            // `--force` ignores missing images, as both CLIs do.
            if existed || words.contains(&"--force") {
                if existed {
                    println!("Untagged: {reference}");
                }
                ExitCode::SUCCESS
            } else {
                no_such_image(flavor, reference)
            }
        }
        // The fake engine builds and stores images but runs no containers and makes no networks:
        // listing them (`cleanup` looks for what `services up` left) finds nothing, as on an
        // engine with none.
        ["ps", ..] | ["network", "ls", ..] => ExitCode::SUCCESS,
        // Nor node containers: `exec` and `cp` into a Kind node find none, in each CLI's words.
        ["exec", .., container, _] | ["exec", container, ..] | ["cp", container, _] => {
            let container = container.split(':').next().unwrap_or_default();
            match flavor {
                Flavor::Docker => fail(&format!("Error response from daemon: No such container: {container}")),
                Flavor::Podman => fail(&format!(
                    "Error: no container with name or ID \"{container}\" found: no such container"
                )),
            }
        }
        _ => fail(&format!("fake {}: unsupported {args:?}", flavor.name())),
    }
}
