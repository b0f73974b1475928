//! What every benchmark shares: `--quick` (smaller sizes, the same ratios and correctness
//! asserts, a wider margin for noise; `.ci/test.sh` runs it) and goals that fail the process.
//!
//! `.ci/test.sh` runs the quick modes through `cargo test --bench NAME`, in the test profile
//! (unoptimized, like the `hybrid-e2e` binary it then runs): a release build of every dependency
//! would more than double CI's compile time. Goals that do not depend on the code's own speed
//! (scheduling ratios, parallel builds, memory, every correctness check) are the same there;
//! goals on CPU speed (lint vs grep, a readiness tick vs parsing, report vs Python) get the
//! unoptimized build's own limit ([`Goals::cpu`]), which still catches a complexity regression.
//!
//! A goal is checked where it is measured: the line says the goal, the figure and `met` or
//! `MISSED`; [`Goals::finish`] exits 1 when any goal was missed, repeating each `MISSED` line.

#![allow(dead_code)] // each benchmark uses part of it

use std::process::ExitCode;

pub struct Goals {
    /// `--quick` on the command line (`cargo bench --bench NAME -- --quick`).
    pub quick: bool,
    missed: Vec<String>,
}

impl Goals {
    pub fn from_args() -> Goals {
        let quick = std::env::args().skip(1).any(|arg| arg == "--quick");
        Goals {
            quick,
            missed: Vec::new(),
        }
    }

    /// `full` in a full run, `quick` with `--quick`.
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }

    /// Whether this benchmark (and the `hybrid-e2e` binary cargo built with it) is optimized.
    pub fn optimized(&self) -> bool {
        !cfg!(debug_assertions)
    }

    /// A goal on CPU speed: `full`, `quick`, or `unoptimized` in an unoptimized build.
    pub fn cpu(&self, full: f64, quick: f64, unoptimized: f64) -> f64 {
        if !self.optimized() {
            unoptimized
        } else {
            self.pick(full, quick)
        }
    }

    /// Record one goal: `goal` says what was promised, `figure` what was measured.
    pub fn check(&mut self, goal: &str, figure: &str, met: bool) {
        let verdict = if met { "met" } else { "MISSED" };
        println!("   goal {goal}: {figure} -> {verdict}");
        if !met {
            self.missed.push(format!("MISSED: {goal}: measured {figure}"));
        }
    }

    /// A correctness check (never a timing): a wrong result fails the benchmark like a missed goal.
    pub fn require(&mut self, what: &str, ok: bool, detail: &str) {
        if !ok {
            println!("   WRONG: {what}: {detail}");
            self.missed.push(format!("MISSED: {what}: {detail}"));
        }
    }

    pub fn finish(self) -> ExitCode {
        let mode = match (self.quick, self.optimized()) {
            (true, true) => "quick",
            (true, false) => "quick, unoptimized build",
            (false, true) => "full",
            (false, false) => "full, unoptimized build",
        };
        if self.missed.is_empty() {
            println!("all goals met ({mode} mode)");
            ExitCode::SUCCESS
        } else {
            for line in &self.missed {
                println!("{line}");
            }
            println!("{} goal(s) missed ({mode} mode)", self.missed.len());
            ExitCode::FAILURE
        }
    }
}
