//! Histories for the tests of `regress`: services shaped like the reference user's (three images
//! built and loaded in parallel, one cluster, four deploy groups), every step base × N(1, 0.07)
//! (about ±20 %), one run a night. A tiny deterministic PRNG keeps every history fixed.

use super::history::{HISTORY_FORMAT_VERSION, HistoryPhase, HistoryRun, HistoryStep};
use crate::model::Status;

/// xorshift64* with Box–Muller normals.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub(crate) fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// The noise of the issue: N(1, 0.07).
pub(crate) const SIGMA: f64 = 0.07;
/// 2026-01-01T02:00:00Z.
const FIRST_NIGHT: i64 = 1_767_232_800;

/// Steps that run in parallel: (name, base seconds).
type Steps = &'static [(&'static str, f64)];

/// (phase, target, its steps).
pub(crate) const SHAPE: [(&str, f64, Steps); 4] = [
    (
        "build",
        180.0,
        &[("api", 140.0), ("datastorage", 120.0), ("mock-llm", 60.0)],
    ),
    ("cluster", 15.0, &[("create", 11.0)]),
    (
        "load",
        45.0,
        &[("api", 30.0), ("datastorage", 25.0), ("mock-llm", 10.0)],
    ),
    (
        "deploy",
        180.0,
        &[
            ("postgres", 40.0),
            ("redis", 20.0),
            ("datastorage", 60.0),
            ("api", 75.0),
        ],
    ),
];

/// A change to apply: from `night` on, `service`'s `phase`/`step` is multiplied by `factor`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change<'a> {
    pub(crate) service: usize,
    pub(crate) phase: &'a str,
    pub(crate) step: &'a str,
    pub(crate) night: usize,
    pub(crate) factor: f64,
}

pub(crate) fn service_name(index: usize) -> String {
    format!("services/svc{index:02}/hybrid-e2e.yaml")
}

pub(crate) fn started_at(night: usize) -> String {
    chrono::DateTime::from_timestamp(FIRST_NIGHT + night as i64 * 86_400, 0)
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// One run: a phase takes its longest step plus a second (steps run in parallel).
pub(crate) fn run(service: usize, night: usize, rng: &mut Rng, changes: &[Change<'_>]) -> HistoryRun {
    let mut phases = Vec::new();
    for (phase, target, steps) in SHAPE {
        let steps: Vec<HistoryStep> = steps
            .iter()
            .map(|(step, base)| {
                let factor: f64 = changes
                    .iter()
                    .filter(|change| {
                        change.service == service
                            && change.phase == phase
                            && change.step == *step
                            && night >= change.night
                    })
                    .map(|change| change.factor)
                    .product();
                HistoryStep {
                    name: (*step).to_owned(),
                    seconds: (base * factor * (1.0 + SIGMA * rng.normal())).max(0.1),
                    status: Status::Ok,
                }
            })
            .collect();
        let seconds = steps.iter().map(|step| step.seconds).fold(0.0, f64::max) + 1.0;
        phases.push(HistoryPhase {
            name: phase.to_owned(),
            seconds,
            target_seconds: Some(target),
            status: if seconds > target {
                Status::OverTarget
            } else {
                Status::Ok
            },
            steps,
        });
    }
    let setup: f64 = phases.iter().map(|phase| phase.seconds).sum();
    let started_at = started_at(night);
    HistoryRun {
        format_version: HISTORY_FORMAT_VERSION,
        run_id: format!("r{night:04}-s{service:02}"),
        service: service_name(service),
        branch: Some("main".to_owned()),
        engine: Some("docker".to_owned()),
        runner: Some("fv-az".to_owned()),
        config_hash: format!("hash-{service:02}"),
        commit: Some(format!("{night:040x}")),
        started_at,
        status: if setup > 360.0 { Status::OverTarget } else { Status::Ok },
        setup_seconds: setup,
        total_target_seconds: 360.0,
        findings: 0,
        source: None,
        phases,
        timestamp: (FIRST_NIGHT + night as i64 * 86_400) as f64,
    }
    .rounded()
}

/// `services` × `nights` runs.
pub(crate) fn fleet(services: usize, nights: usize, seed: u64, changes: &[Change<'_>]) -> Vec<HistoryRun> {
    let mut rng = Rng::new(seed);
    (0..nights)
        .flat_map(|night| (0..services).map(move |service| (night, service)))
        .map(|(night, service)| run(service, night, &mut rng, changes))
        .collect()
}

/// A zip of `(name, content)` entries (deflated), plus symlinks `(name, target)`.
pub(crate) fn zip_of(files: &[(&str, &[u8])], symlinks: &[(&str, &str)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in files {
        writer.start_file(*name, options).expect("start");
        std::io::Write::write_all(&mut writer, content).expect("write");
    }
    for (name, target) in symlinks {
        writer.add_symlink(*name, *target, options).expect("symlink");
    }
    writer.finish().expect("finish").into_inner()
}

/// The `timings.json` a run like `run` writes (host `fv-az<n>-<m>`, config file `service`).
pub(crate) fn timings_json(run: &HistoryRun) -> String {
    let phases: Vec<serde_json::Value> = run
        .phases
        .iter()
        .map(|phase| {
            let steps: Vec<serde_json::Value> = phase
                .steps
                .iter()
                .map(|step| {
                    serde_json::json!({
                        "name": step.name, "started_at": run.started_at, "finished_at": run.started_at,
                        "duration_seconds": step.seconds, "status": step.status, "failure_class": null,
                        "message": null, "hint": null, "file": null, "bytes": null, "bytes_per_second": null,
                        "attempts": 1, "log": format!("logs/{}/{}.log", phase.name, step.name)
                    })
                })
                .collect();
            serde_json::json!({
                "name": phase.name, "started_at": run.started_at, "finished_at": run.started_at,
                "duration_seconds": phase.seconds, "target_seconds": phase.target_seconds,
                "status": phase.status, "failure_class": null, "message": null, "steps": steps
            })
        })
        .collect();
    serde_json::json!({
        "format_version": 1, "run_id": run.run_id, "config_file": run.service, "config_hash": run.config_hash,
        "commit": run.commit, "host": "fv-az812-33", "engine": run.engine, "engine_version": "28.2.2",
        "kind_version": "kind v0.32.0", "cluster_name": "hybrid-e2e-x", "images": [],
        "started_at": run.started_at, "finished_at": run.started_at, "status": run.status,
        "failure_class": null, "failed_phase": null, "message": null, "setup_seconds": run.setup_seconds,
        "total_target_seconds": run.total_target_seconds, "within_target": true, "phases": phases, "warnings": []
    })
    .to_string()
}
