//! action.yml, docs/action.md and the binary agree: the inputs the binary reads are the ones
//! action.yml declares (and its defaults parse), the outputs it writes are the ones declared,
//! and the `status` output lists exactly the statuses a run can end with.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use super::inputs::{Inputs, NAMES, variable};
use crate::model::Status;
use crate::report::{fixtures, github};
use crate::test_support::repo_path;

fn action_yml() -> Value {
    let text = std::fs::read_to_string(repo_path("action.yml")).expect("action.yml");
    serde_saphyr::from_str(&text).expect("action.yml is YAML")
}

/// The keys of a mapping (sorted: serde_json's map is ordered; check_action.py checks the order).
fn names(section: &Value) -> BTreeSet<String> {
    section.as_object().expect("a mapping").keys().cloned().collect()
}

#[test]
fn the_inputs_read_are_the_inputs_declared_and_their_defaults_parse() {
    let action = action_yml();
    let read: BTreeSet<String> = NAMES.iter().map(|name| (*name).to_owned()).collect();
    assert_eq!(
        names(&action["inputs"]),
        read,
        "action.yml inputs vs action::inputs::NAMES"
    );
    // The runner passes each default when `with:` leaves the input out; expressions
    // (`${{ github.token }}`) become a token and a number.
    let defaults: Vec<(String, String)> = NAMES
        .iter()
        .map(|name| {
            let default = action["inputs"][*name]["default"].as_str().unwrap_or_default();
            let value = match default {
                "${{ github.token }}" => "ghs_example".to_owned(),
                "${{ job.check_run_id }}" => "1234567890".to_owned(),
                other => {
                    assert!(!other.contains("${{"), "input {name}: unexpected expression {other}");
                    other.to_owned()
                }
            };
            (variable(name), value)
        })
        .collect();
    let inputs = Inputs::from_lookup(|name| {
        defaults
            .iter()
            .find(|(variable, _)| variable == name)
            .map(|(_, value)| value.clone())
    })
    .expect("action.yml's defaults are valid inputs");
    let argv = super::argv::command_line(&inputs, &super::argv::LintFrom::default());
    <crate::cli::Cli as clap::Parser>::try_parse_from(&argv).expect("and a valid command line");
}

#[test]
fn the_outputs_written_are_the_outputs_declared() {
    let action = action_yml();
    let declared = names(&action["outputs"]);
    let mut written: BTreeSet<String> = github::outputs(&fixtures::green(), Path::new("r"))
        .into_iter()
        .map(|(name, _)| name.to_owned())
        .collect();
    // Added by the action (`action::finish_outputs`).
    written.extend(["kubeconfig".to_owned(), "cluster-name".to_owned()]);
    assert_eq!(declared, written);
}

/// The statuses a finished run can have (`RunRecord::new` never gives `skipped`).
const RUN_STATUSES: [Status; 4] = [Status::Ok, Status::OverTarget, Status::Failed, Status::Cancelled];

#[test]
fn the_status_output_lists_what_the_binary_writes() {
    for record in [
        fixtures::green(),
        fixtures::over_target(),
        fixtures::build_failure(),
        fixtures::cancelled(),
    ] {
        let outputs = github::outputs(&record, Path::new("r"));
        let status = &outputs.iter().find(|(name, _)| *name == "status").expect("status").1;
        assert!(RUN_STATUSES.iter().any(|known| known.as_str() == status), "{status}");
    }
    let listed = RUN_STATUSES.map(Status::as_str).join(" | ");
    let action = action_yml();
    let description = action["outputs"]["status"]["description"]
        .as_str()
        .expect("description");
    assert!(
        description.starts_with(&format!("{listed}.")) || description.starts_with(&format!("{listed}:")),
        "action.yml's status output must start with `{listed}`: {description}"
    );
    let docs = std::fs::read_to_string(repo_path("docs/action.md")).expect("docs/action.md");
    let row = docs
        .lines()
        .find(|line| line.starts_with("| `status` |"))
        .expect("docs/action.md has a status row");
    let documented = RUN_STATUSES.map(|status| format!("`{}`", status.as_str())).join(", ");
    assert!(
        row.contains(&documented),
        "docs/action.md status row must list {documented}: {row}"
    );
}
