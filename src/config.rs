//! `hybrid-e2e.yaml`: the versioned config file. Today it carries the `lint:` section; the setup
//! phases add their sections here. Unknown keys are errors that point at file:line:column.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::lint::{Level, Rule};

/// The file looked for in the current directory when `--config` is not given.
pub(crate) const DEFAULT_CONFIG_FILE: &str = "hybrid-e2e.yaml";
/// The only config version this build understands.
const SUPPORTED_VERSION: u32 = 1;

/// Why the config file could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("failed to read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("config file {path} has version {found}; this hybrid-e2e supports version {SUPPORTED_VERSION}")]
    UnsupportedVersion { path: PathBuf, found: u32 },
}

/// The whole config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// Format version; must be 1.
    pub(crate) version: u32,
    #[serde(default)]
    pub(crate) lint: LintConfig,
}

/// The `lint:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LintConfig {
    /// Level per rule id: `error`, `warning` or `off`.
    #[serde(default)]
    pub(crate) rules: BTreeMap<RuleId, Level>,
    /// Extra globs (relative to each scanned directory) of files to lint besides the default names.
    #[serde(default)]
    pub(crate) include: Vec<String>,
    /// Globs of files and directories to skip.
    #[serde(default)]
    pub(crate) exclude: Vec<String>,
}

/// A rule id that must name a known rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RuleId(pub(crate) Rule);

impl<'de> Deserialize<'de> for RuleId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = RuleId;
            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a rule id")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<RuleId, E> {
                Rule::from_id(value).map(RuleId).ok_or_else(|| {
                    let known: Vec<&str> = Rule::ALL.iter().map(|rule| rule.id()).collect();
                    E::custom(format!("unknown rule `{value}` (known rules: {})", known.join(", ")))
                })
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl Config {
    /// Parse config text; `path` is only used in messages.
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let config: Config = serde_saphyr::from_str(text).map_err(|error| ConfigError::Invalid {
            path: path.to_owned(),
            message: error.to_string(),
        })?;
        if config.version != SUPPORTED_VERSION {
            return Err(ConfigError::UnsupportedVersion {
                path: path.to_owned(),
                found: config.version,
            });
        }
        Ok(config)
    }

    /// Load `explicit` if given, else `hybrid-e2e.yaml` in the current directory if present,
    /// else the defaults.
    pub(crate) fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match explicit {
            Some(path) => path.to_owned(),
            None => {
                let default = PathBuf::from(DEFAULT_CONFIG_FILE);
                if !default.is_file() {
                    return Ok(Config {
                        version: SUPPORTED_VERSION,
                        ..Config::default()
                    });
                }
                default
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Config::parse(&path, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_lint_section() {
        let config = Config::parse(
            Path::new("hybrid-e2e.yaml"),
            "version: 1\nlint:\n  rules:\n    no-dnf-update: warning\n  exclude: [\"vendor/**\"]\n",
        )
        .expect("valid");
        assert_eq!(config.lint.rules.get(&RuleId(Rule::NoDnfUpdate)), Some(&Level::Warning));
        assert_eq!(config.lint.exclude, vec!["vendor/**".to_owned()]);
    }

    #[test]
    fn unknown_keys_and_rules_point_at_the_line() {
        let error = Config::parse(Path::new("c.yaml"), "version: 1\nlint:\n  exclud: []\n").expect_err("unknown key");
        let message = error.to_string();
        assert!(message.contains("exclud") && message.contains("line 3"), "{message}");
        let error = Config::parse(Path::new("c.yaml"), "version: 1\nlint:\n  rules:\n    no-such: off\n")
            .expect_err("unknown rule");
        let message = error.to_string();
        assert!(
            message.contains("unknown rule `no-such`") && message.contains("line 4"),
            "{message}"
        );
    }

    #[test]
    fn version_must_be_supported() {
        let error = Config::parse(Path::new("c.yaml"), "version: 2\n").expect_err("version");
        assert!(matches!(error, ConfigError::UnsupportedVersion { found: 2, .. }));
    }
}
