//! The statistics' parameters: the defaults of [`Params`], a parameters file (YAML or JSON:
//! `defaults:` and per-phase `phases:` overrides, `setup` being the total) and the command-line
//! flags, which win everywhere (flags over files, as for every other command).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::analysis::PhaseParams;
use super::stats::Params;

/// The parameters file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamsFile {
    #[serde(default)]
    defaults: Option<Value>,
    #[serde(default)]
    phases: BTreeMap<String, Value>,
}

/// Flags that override a parameter in every phase.
#[derive(Debug, Clone, Default)]
pub(crate) struct ParamFlags {
    pub(crate) window: Option<usize>,
    pub(crate) k: Option<f64>,
    pub(crate) min_ratio: Option<f64>,
    pub(crate) floor_seconds: Option<f64>,
    pub(crate) consecutive: Option<usize>,
    pub(crate) min_runs: Option<usize>,
    pub(crate) no_change_point: bool,
}

/// Merge `overlay` into `base`: objects key by key (recursively), anything else replaces.
fn merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => merge(existing, value),
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

fn apply_flags(params: &mut Params, flags: &ParamFlags) {
    if let Some(window) = flags.window {
        params.window = window;
    }
    if let Some(k) = flags.k {
        params.k = k;
    }
    if let Some(min_ratio) = flags.min_ratio {
        params.min_ratio = min_ratio;
    }
    if let Some(floor) = flags.floor_seconds {
        params.floor_seconds = floor;
    }
    if let Some(consecutive) = flags.consecutive {
        params.consecutive = consecutive;
    }
    if let Some(min_runs) = flags.min_runs {
        params.min_runs = min_runs;
    }
    if flags.no_change_point {
        params.change_point = None;
    }
}

fn params_from(value: Value, what: &str) -> Result<Params, String> {
    let params: Params = serde_json::from_value(value).map_err(|error| format!("{what}: {error}"))?;
    Ok(params)
}

/// The parameters of every phase from an optional file (YAML or JSON) and the flags.
pub(crate) fn load(file: Option<&Path>, flags: &ParamFlags) -> Result<PhaseParams, String> {
    let parsed = match file {
        None => ParamsFile::default(),
        Some(path) => {
            let text =
                crate::files::read_text_capped(path, crate::files::CONFIG_LIMIT).map_err(|error| error.to_string())?;
            serde_saphyr::from_str::<ParamsFile>(&text).map_err(|error| format!("{}: {error}", path.display()))?
        }
    };
    let origin = file.map_or_else(|| "the defaults".to_owned(), |path| path.display().to_string());
    let mut base = serde_json::to_value(Params::default()).map_err(|error| error.to_string())?;
    if let Some(defaults) = &parsed.defaults {
        merge(&mut base, defaults);
    }
    let mut defaults = params_from(base.clone(), &format!("{origin}: defaults"))?;
    apply_flags(&mut defaults, flags);
    defaults
        .validate()
        .map_err(|error| format!("{origin}: defaults: {error}"))?;
    let mut phases = BTreeMap::new();
    for (phase, overlay) in &parsed.phases {
        let mut value = base.clone();
        merge(&mut value, overlay);
        let mut params = params_from(value, &format!("{origin}: phases.{phase}"))?;
        apply_flags(&mut params, flags);
        params
            .validate()
            .map_err(|error| format!("{origin}: phases.{phase}: {error}"))?;
        if params != defaults {
            phases.insert(phase.clone(), params);
        }
    }
    Ok(PhaseParams { defaults, phases })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(&mut file, text.as_bytes()).expect("write");
        file
    }

    #[test]
    fn defaults_phases_and_flags_merge_in_that_order() {
        let params = file(
            "defaults:\n  window: 14\n  change_point:\n    alpha: 0.001\nphases:\n  build:\n    min_ratio: 0.2\n  setup:\n    change_point: null\n",
        );
        let loaded = load(
            Some(params.path()),
            &ParamFlags {
                k: Some(4.0),
                ..ParamFlags::default()
            },
        )
        .expect("valid");
        assert_eq!((loaded.defaults.window, loaded.defaults.k), (14, 4.0));
        assert_eq!(loaded.defaults.change_point.as_ref().map(|cp| cp.alpha), Some(0.001));
        let build = loaded.for_phase("build");
        assert_eq!((build.window, build.min_ratio, build.k), (14, 0.2, 4.0));
        assert_eq!(
            build.change_point.as_ref().map(|cp| (cp.alpha, cp.max_segment)),
            Some((0.001, 8))
        );
        assert!(loaded.for_phase("setup").change_point.is_none());
        assert_eq!(loaded.for_phase("deploy"), &loaded.defaults);
    }

    #[test]
    fn the_window_flag_restores_the_issues_fourteen() {
        let loaded = load(
            None,
            &ParamFlags {
                window: Some(14),
                ..ParamFlags::default()
            },
        )
        .expect("valid");
        assert_eq!(loaded.defaults.window, 14);
        assert_eq!(
            load(None, &ParamFlags::default()).expect("defaults").defaults,
            Params::default()
        );
    }

    #[test]
    fn typos_and_nonsense_are_errors_naming_the_place() {
        let typo = file("defaults:\n  windw: 14\n");
        let error = load(Some(typo.path()), &ParamFlags::default()).expect_err("typo");
        assert!(error.contains("defaults") && error.contains("windw"), "{error}");
        let bad = file("phases:\n  load:\n    consecutive: 0\n");
        let error = load(Some(bad.path()), &ParamFlags::default()).expect_err("zero");
        assert!(
            error.contains("phases.load") && error.contains("consecutive"),
            "{error}"
        );
        let unknown = file("default:\n  window: 3\n");
        assert!(load(Some(unknown.path()), &ParamFlags::default()).is_err());
    }
}
