//! `hybrid-e2e.yaml`: the versioned config file, its JSON Schema, and validation with
//! file:line:column locations.

mod load;
mod model;
mod names;
mod services;

pub(crate) use load::{ConfigError, LoadedConfig};
pub(crate) use model::{DependsOnCondition, EngineChoice, HumanDuration, Located, Preserve, ScheduleMode};
pub(crate) use names::{check_coverage_dir, parse_cluster_name, parse_tag_suffix, shell_operator, shell_syntax};
pub(crate) use services::{PortMapping, parse_port, parse_volume};

/// The JSON Schema of the config file, generated from the Rust types.
pub(crate) fn json_schema() -> String {
    let schema = schemars::schema_for!(model::ConfigFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    /// The committed schema (for editors) is the one the code generates.
    #[test]
    fn committed_schema_is_up_to_date() {
        let committed =
            std::fs::read_to_string(crate::test_support::repo_path("docs/hybrid-e2e.schema.json")).unwrap_or_default();
        let generated = super::json_schema();
        assert!(
            committed == generated,
            "docs/hybrid-e2e.schema.json is stale: run `cargo run -- config-schema > docs/hybrid-e2e.schema.json`"
        );
    }
}
