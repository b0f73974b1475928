//! Arbitrary bytes into every reader of files users (or artifacts of earlier runs) hand us: the
//! config loader, the `timings.json` reader and the manifest reader. None may panic, and each
//! answers within a bound, whatever the input.

use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::config::LoadedConfig;
use crate::k8s::yaml;
use crate::model::parse_run_record;

/// Text that looks enough like YAML/JSON to reach deep into the parsers, plus raw noise.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("version: 1\n".to_owned()),
        Just("images:\n  - ".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("&a ".to_owned()),
        Just("*a ".to_owned()),
        Just("<<: ".to_owned()),
        Just("---\n".to_owned()),
        Just("? ".to_owned()),
        Just("\"\\u0000\"".to_owned()),
        Just("0x".to_owned()),
        Just("1e400".to_owned()),
        Just("18000000000000000000s".to_owned()),
        Just("\"format_version\": 1, ".to_owned()),
        Just("\"duration_seconds\": -1e308".to_owned()),
        "[ -~]{0,12}",
        "\\PC{0,4}",
    ];
    proptest::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

/// Each call must end within this (a generous bound for a slow, shared CI machine).
const BOUND: Duration = Duration::from_secs(2);

fn bounded(what: &str, call: impl FnOnce()) {
    let started = Instant::now();
    call();
    assert!(started.elapsed() < BOUND, "{what} took {:?}", started.elapsed());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn the_config_loader_never_panics(text in yamlish()) {
        bounded("config", || {
            let _ = LoadedConfig::parse(Path::new("hybrid-e2e.yaml"), &text);
        });
    }

    #[test]
    fn the_timings_reader_never_panics(text in yamlish(), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        bounded("timings.json", || {
            let _ = parse_run_record(text.as_bytes(), Path::new("timings.json"));
            let _ = parse_run_record(&bytes, Path::new("timings.json"));
        });
    }

    #[test]
    fn the_manifest_reader_never_panics(text in yamlish()) {
        bounded("manifest", || {
            let _ = yaml::read_manifest(&text);
        });
    }
}

/// Inputs built to be expensive: deep nesting and alias bombs end with an error, quickly.
#[test]
fn adversarial_nesting_and_aliases_are_refused_quickly() {
    let deep = format!("{}x{}", "[".repeat(100_000), "]".repeat(100_000));
    let laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n";
    for text in [deep.as_str(), laughs] {
        bounded("config", || {
            assert!(LoadedConfig::parse(Path::new("hybrid-e2e.yaml"), text).is_err());
        });
        bounded("manifest", || {
            let _ = yaml::read_manifest(text);
        });
        bounded("timings.json", || {
            assert!(parse_run_record(text.as_bytes(), Path::new("timings.json")).is_err());
        });
    }
}
