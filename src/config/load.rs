//! Reading and validating `hybrid-e2e.yaml`: syntax and unknown keys (serde-saphyr, with
//! locations), then the checks serde cannot do (duplicates, missing files, unknown `depends_on`,
//! cycles), each pointing at file:line:column with a hint.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_saphyr::{Error as YamlError, MessageFormatter, UserMessageFormatter};
use sha2::{Digest, Sha256};

use super::model::{CommandLine, ConfigFile, Located};
use crate::files;
use crate::image_ref::ImageReference;

/// The file looked for in the current directory when `--config` is not given.
pub(crate) const DEFAULT_CONFIG_FILE: &str = "hybrid-e2e.yaml";
/// The only config version this build understands.
const SUPPORTED_VERSION: u32 = 1;

/// Why the config file could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("cannot use the config file: {0}")]
    Read(#[from] files::ReadError),
    #[error("{message}")]
    Invalid { message: String },
    #[error(
        "no {DEFAULT_CONFIG_FILE} in {directory}: pass --config FILE, or write one (`hybrid-e2e config-schema` prints its JSON Schema; examples/hybrid-e2e.yaml is a start)"
    )]
    Missing { directory: String },
    #[error("config file {path} has version {found}; this hybrid-e2e supports version {SUPPORTED_VERSION}")]
    UnsupportedVersion { path: PathBuf, found: u32 },
    #[error("{}", problems.join("\n"))]
    Problems { problems: Vec<String> },
}

/// A parsed, validated config and where it came from.
#[derive(Debug)]
pub(crate) struct LoadedConfig {
    /// The file, or `None` when the defaults are used.
    pub(crate) path: Option<PathBuf>,
    /// Relative paths in the file are relative to this directory.
    pub(crate) base_dir: PathBuf,
    pub(crate) file: ConfigFile,
    /// SHA-256 of the file's bytes (of the empty string for the defaults).
    pub(crate) hash: String,
}

impl LoadedConfig {
    /// Load `explicit` if given, else `hybrid-e2e.yaml` in the current directory if present,
    /// else the defaults.
    pub(crate) fn load(explicit: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
        let path = match explicit {
            Some(path) => path.to_owned(),
            None => {
                let default = PathBuf::from(DEFAULT_CONFIG_FILE);
                if !default.is_file() {
                    return Ok(LoadedConfig::defaults());
                }
                default
            }
        };
        let text = files::read_text_capped(&path, files::CONFIG_LIMIT)?;
        LoadedConfig::parse(&path, &text)
    }

    /// Like [`LoadedConfig::load`], for commands that set something up: without a config file
    /// there is nothing to do, and saying so beats running an empty setup.
    pub(crate) fn require(explicit: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
        let loaded = LoadedConfig::load(explicit)?;
        if loaded.path.is_none() {
            return Err(ConfigError::Missing {
                directory: std::env::current_dir().map_or_else(|_| ".".to_owned(), |dir| dir.display().to_string()),
            });
        }
        Ok(loaded)
    }

    fn defaults() -> LoadedConfig {
        let file =
            serde_saphyr::from_str::<ConfigFile>("version: 1").unwrap_or_else(|_| unreachable!("defaults parse"));
        LoadedConfig {
            path: None,
            base_dir: PathBuf::from("."),
            file,
            hash: hex_sha256(b""),
        }
    }

    /// Parse and validate config text read from `path`.
    pub(crate) fn parse(path: &Path, text: &str) -> Result<LoadedConfig, ConfigError> {
        let file: ConfigFile = serde_saphyr::from_str(text).map_err(|error| ConfigError::Invalid {
            message: render_yaml_error(&error, path),
        })?;
        if file.version != SUPPORTED_VERSION {
            return Err(ConfigError::UnsupportedVersion {
                path: path.to_owned(),
                found: file.version,
            });
        }
        let base_dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        let loaded = LoadedConfig {
            path: Some(path.to_owned()),
            base_dir,
            file,
            hash: hex_sha256(text.as_bytes()),
        };
        loaded.validate()?;
        Ok(loaded)
    }

    /// A path from the file, resolved against the file's directory.
    pub(crate) fn resolve(&self, relative: &str) -> PathBuf {
        let path = Path::new(relative);
        if path.is_absolute() || self.base_dir == Path::new(".") {
            path.to_owned()
        } else {
            self.base_dir.join(path)
        }
    }

    /// `file:line:column` of a located value.
    pub(super) fn at<T>(&self, located: &Located<T>) -> String {
        let file = self
            .path
            .as_deref()
            .map_or_else(|| DEFAULT_CONFIG_FILE.to_owned(), |path| path.display().to_string());
        format!("{file}:{}:{}", located.line, located.column)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let file = &self.file;
        if file.concurrency == 0 {
            problems.push(format!(
                "{}: `concurrency` must be at least 1",
                self.where_is("concurrency")
            ));
        }
        if let Some(name) = &file.cluster.name
            && let Err(why) = super::parse_cluster_name(&name.value)
        {
            problems.push(format!("{}: {why}", self.at(name)));
        }
        let mut names = BTreeMap::new();
        // Two images under one reference would build over each other; compare the references
        // as the run qualifies them (`team/api` and `localhost/team/api` are the same image).
        let mut references: BTreeMap<String, String> = BTreeMap::new();
        for image in &file.images {
            if let Ok(parsed) = ImageReference::parse(&image.image.value) {
                let qualified = parsed.fully_qualified("e2e-RUN").to_string();
                if let Some(first) = references.insert(qualified.clone(), self.at(&image.image)) {
                    problems.push(format!(
                        "{}: image `{}` is `{qualified}` for the run, like the image at {first}; two images cannot share a reference",
                        self.at(&image.image),
                        image.image.value
                    ));
                }
            }
        }
        for image in &file.images {
            let name = &image.name.value;
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                problems.push(format!(
                    "{}: image name `{name}` must be lowercase letters, digits and `-` (it names log files)",
                    self.at(&image.name)
                ));
            }
            if let Some(first) = names.insert(name.clone(), self.at(&image.name)) {
                problems.push(format!(
                    "{}: duplicate image name `{name}` (first at {first})",
                    self.at(&image.name)
                ));
            }
            if let Err(why) = ImageReference::parse(&image.image.value) {
                problems.push(format!(
                    "{}: invalid image reference `{}`: {why}",
                    self.at(&image.image),
                    image.image.value
                ));
            }
            let dockerfile = self.resolve(&image.dockerfile.value);
            if !dockerfile.is_file() {
                problems.push(format!(
                    "{}: Dockerfile `{}` not found (paths are relative to the config file's directory)",
                    self.at(&image.dockerfile),
                    dockerfile.display()
                ));
            }
            let context = self.resolve(&image.context.value);
            if !context.is_dir() {
                let location = if image.context.line == 0 {
                    self.at(&image.name)
                } else {
                    self.at(&image.context)
                };
                problems.push(format!(
                    "{location}: build context `{}` is not a directory",
                    context.display()
                ));
            }
        }
        if let Some(config) = &file.cluster.config
            && !self.resolve(&config.value).is_file()
        {
            problems.push(format!(
                "{}: Kind config `{}` not found",
                self.at(config),
                self.resolve(&config.value).display()
            ));
        }
        let groups: BTreeMap<&str, &Located<String>> = file
            .deploy
            .iter()
            .map(|group| (group.name.value.as_str(), &group.name))
            .collect();
        let mut seen_groups = BTreeSet::new();
        for group in &file.deploy {
            if !seen_groups.insert(group.name.value.as_str()) {
                problems.push(format!(
                    "{}: duplicate deploy group `{}`",
                    self.at(&group.name),
                    group.name.value
                ));
            }
            if group.manifests.is_empty() {
                problems.push(format!(
                    "{}: deploy group `{}` has no manifests",
                    self.at(&group.name),
                    group.name.value
                ));
            }
            for manifest in &group.manifests {
                if !self.resolve(&manifest.value).exists() && !manifest.value.contains(['*', '?', '[']) {
                    problems.push(format!(
                        "{}: manifest `{}` not found",
                        self.at(manifest),
                        manifest.value
                    ));
                }
            }
            for dependency in &group.depends_on {
                if !groups.contains_key(dependency.value.as_str()) {
                    let known: Vec<&str> = groups.keys().copied().collect();
                    problems.push(format!(
                        "{}: `depends_on` names unknown group `{}` (groups: {})",
                        self.at(dependency),
                        dependency.value,
                        known.join(", ")
                    ));
                }
            }
        }
        self.service_problems(&mut problems);
        if let Some(test) = &file.test {
            match test.command.value.argv() {
                None => problems.push(format!(
                    "{}: `test.command` has an unclosed quote or a trailing backslash (it is split into words as a shell would, never run through one)",
                    self.at(&test.command)
                )),
                Some(argv) if argv.first().is_none_or(|program| program.trim().is_empty()) => problems.push(format!(
                    "{}: `test.command` is empty; give the suite's program and its arguments",
                    self.at(&test.command)
                )),
                Some(argv) => {
                    let found = match &test.command.value {
                        CommandLine::Line(line) => super::shell_syntax(line),
                        CommandLine::Argv(argv) => argv.iter().find(|word| super::shell_operator(word)).cloned(),
                    };
                    if let Some(found) = found {
                        let line = match &test.command.value {
                            CommandLine::Line(line) => line.lines().map(str::trim).collect::<Vec<_>>().join(" && "),
                            CommandLine::Argv(argv) => {
                                shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "))
                            }
                        };
                        let what = if found == "\n" {
                            format!(
                                "its lines are one command: the second would become more arguments of `{}`",
                                argv[0]
                            )
                        } else {
                            format!("`{found}` would reach `{}` as a literal argument", argv[0])
                        };
                        problems.push(format!(
                            "{}: `test.command` runs without a shell, so {what}: put the shell's part in a script, or write `command: [sh, -c, {}]`",
                            self.at(&test.command),
                            serde_json::Value::String(line)
                        ));
                    }
                }
            }
            if test.timeout.as_ref().is_some_and(|timeout| timeout.0.is_zero()) {
                problems.push(format!(
                    "{}: `test.timeout` must be longer than 0s (the default is 1h)",
                    self.where_is("test")
                ));
            }
            for entry in &test.junit {
                if let Some(why) = files::glob_problem(entry) {
                    problems.push(format!("{}: `test.junit` entry `{entry}` {why}", self.where_is("test")));
                }
            }
            if let Some(directory) = &test.working_dir
                && !self.resolve(&directory.value).is_dir()
            {
                problems.push(format!(
                    "{}: `test.working_dir` `{}` is not a directory",
                    self.at(directory),
                    self.resolve(&directory.value).display()
                ));
            }
            for key in test.env.keys() {
                if key.is_empty() || key.contains(['=', '\0']) {
                    problems.push(format!(
                        "{}: `test.env` has an invalid variable name `{key}`",
                        self.where_is("test")
                    ));
                }
            }
        }
        if let Err(why) = super::check_coverage_dir(&file.coverage.dir.value) {
            let place = if file.coverage.dir.line > 0 {
                self.at(&file.coverage.dir)
            } else {
                self.where_is("coverage")
            };
            problems.push(format!("{place}: `coverage.dir` {why}"));
        }
        if let Some(target) = &file.coverage.target
            && !(target.value.is_finite() && (0.0..=100.0).contains(&target.value))
        {
            problems.push(format!(
                "{}: `coverage.target` is a percentage of statements, 0 to 100 (DD-TEST-007's E2E goal is 10–15), not {}",
                self.at(target),
                target.value
            ));
        }
        for (tier, files) in &file.tiers {
            if tier.trim().is_empty() {
                problems.push(format!("{}: a tier has an empty name", self.where_is("tiers")));
            }
            if files.is_empty() {
                problems.push(format!(
                    "{}: tier `{tier}` lists no JUnit files",
                    self.where_is("tiers")
                ));
            }
            for entry in files {
                if let Some(why) = files::glob_problem(entry) {
                    problems.push(format!(
                        "{}: tier `{tier}`'s entry `{entry}` {why}",
                        self.where_is("tiers")
                    ));
                }
            }
        }
        if let Some(cycle) = dependency_cycle(file) {
            problems.push(format!(
                "deploy groups depend on each other in a cycle: {}",
                cycle.join(" -> ")
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Problems { problems })
        }
    }

    /// Best-effort location of a top-level key, for values serde gave no span for.
    fn where_is(&self, key: &str) -> String {
        let file = self
            .path
            .as_deref()
            .map_or_else(|| DEFAULT_CONFIG_FILE.to_owned(), |path| path.display().to_string());
        let line = self
            .path
            .as_deref()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|text| text.lines().position(|line| line.starts_with(&format!("{key}:"))))
            .map_or(1, |index| index + 1);
        format!("{file}:{line}:1")
    }
}

/// A YAML error as users should read it: the real file name in the snippet header, words for
/// types, no library hints.
fn render_yaml_error(error: &YamlError, path: &Path) -> String {
    let name = path.display().to_string();
    let options = serde_saphyr::render_options! {
        formatter: &ConfigMessages,
        source_name: Some(name.as_str()),
    };
    let rendered = error.render_with_options(options);
    // The renderer's first line is `error: line L column C: message`; the command prints its
    // own `error:` prefix, so the line becomes `file:L:C: message`, the snippet follows.
    let (first, snippet) = rendered.split_once('\n').unwrap_or((rendered.as_str(), ""));
    let message = ConfigMessages.format_message(error);
    let head = match error.location() {
        Some(location) if location.line() > 0 => {
            format!("{name}:{}:{}: {message}", location.line(), location.column())
        }
        _ => format!("{name}: {}", first.trim_start_matches("error: ")),
    };
    if snippet.is_empty() {
        head
    } else {
        format!("{head}\n{snippet}")
    }
}

/// The wording of YAML errors in the config file.
struct ConfigMessages;

impl MessageFormatter for ConfigMessages {
    fn format_message<'a>(&self, error: &'a YamlError) -> std::borrow::Cow<'a, str> {
        match error.without_snippet() {
            YamlError::InvalidScalar { ty, .. } => std::borrow::Cow::Owned(expected(ty)),
            YamlError::DuplicateMappingKey { key: Some(key), .. } => {
                std::borrow::Cow::Owned(format!("`{key}` is given twice; keep one"))
            }
            YamlError::DuplicateMappingKey { key: None, .. } => {
                std::borrow::Cow::Borrowed("a key is given twice; keep one")
            }
            YamlError::Budget { .. } => std::borrow::Cow::Borrowed(
                "the file is too large or too deeply nested for a config file (aliases expand to too much, or nesting is too deep)",
            ),
            _ => UserMessageFormatter.format_message(error),
        }
    }
}

/// What a scalar of Rust type `ty` must look like, in words.
fn expected(ty: &str) -> String {
    match ty {
        "u8" => "expected a whole number from 0 to 255".to_owned(),
        "u16" => "expected a whole number from 0 to 65535".to_owned(),
        "u32" => "expected a whole number from 0 to 4294967295".to_owned(),
        "u64" | "usize" => "expected a whole number from 0 to 18446744073709551615".to_owned(),
        "i32" | "i64" | "isize" => "expected a whole number".to_owned(),
        "f32" | "f64" => "expected a number".to_owned(),
        "bool" => "expected true or false".to_owned(),
        "char" => "expected a single character".to_owned(),
        other => format!("expected a value of type {other}"),
    }
}

/// The first cycle among `depends_on`, as group names.
fn dependency_cycle(file: &ConfigFile) -> Option<Vec<String>> {
    let edges: BTreeMap<&str, Vec<&str>> = file
        .deploy
        .iter()
        .map(|group| {
            (
                group.name.value.as_str(),
                group
                    .depends_on
                    .iter()
                    .map(|dependency| dependency.value.as_str())
                    .collect(),
            )
        })
        .collect();
    first_cycle(&edges)
}

/// The first cycle of a dependency graph (node → the nodes it depends on), as names from the
/// first node back to itself; deploy groups and services both use it.
pub(crate) fn first_cycle<'a>(edges: &BTreeMap<&'a str, Vec<&'a str>>) -> Option<Vec<String>> {
    fn visit<'a>(
        node: &'a str,
        edges: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| *seen == node) {
            let mut cycle: Vec<String> = path[start..].iter().map(|name| (*name).to_owned()).collect();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        path.push(node);
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::RuleId;
    use crate::lint::{Level, Rule};

    fn parse(text: &str) -> Result<LoadedConfig, ConfigError> {
        LoadedConfig::parse(Path::new("hybrid-e2e.yaml"), text)
    }

    #[test]
    fn reads_the_lint_section() {
        let config = parse("version: 1\nlint:\n  rules:\n    no-dnf-update: warning\n  exclude: [\"vendor/**\"]\n")
            .expect("valid");
        assert_eq!(
            config.file.lint.rules.get(&RuleId(Rule::NoDnfUpdate)),
            Some(&Level::Warning)
        );
        assert_eq!(config.file.lint.exclude, vec!["vendor/**".to_owned()]);
    }

    #[test]
    fn unknown_keys_and_rules_point_at_the_line() {
        let message = parse("version: 1\nlint:\n  exclud: []\n")
            .expect_err("unknown key")
            .to_string();
        assert!(
            message.contains("exclud") && message.contains("hybrid-e2e.yaml:3:"),
            "{message}"
        );
        let message = parse("version: 1\nlint:\n  rules:\n    no-such: off\n")
            .expect_err("unknown rule")
            .to_string();
        assert!(
            message.contains("unknown rule `no-such`") && message.contains("hybrid-e2e.yaml:4:"),
            "{message}"
        );
    }

    #[test]
    fn version_must_be_supported() {
        assert!(matches!(
            parse("version: 2\n"),
            Err(ConfigError::UnsupportedVersion { found: 2, .. })
        ));
    }

    #[test]
    fn bad_durations_say_how_to_write_one() {
        let message = parse("version: 1\ntargets:\n  build: three minutes\n")
            .expect_err("bad duration")
            .to_string();
        assert!(
            message.contains("invalid duration `three minutes`") && message.contains("hybrid-e2e.yaml:3:"),
            "{message}"
        );
    }

    #[test]
    fn semantic_problems_are_all_reported_with_locations() {
        let text = "version: 1\nimages:\n  - name: API\n    image: \"bad ref\"\n    dockerfile: nope/Dockerfile\n  - name: API\n    image: localhost/x:1\n    dockerfile: nope/Dockerfile\ndeploy:\n  - name: a\n    manifests: [missing.yaml]\n    depends_on: [b]\n";
        let message = parse(text).expect_err("problems").to_string();
        for expected in [
            "hybrid-e2e.yaml:3:11: image name `API`",
            "hybrid-e2e.yaml:6:11: duplicate image name `API`",
            "hybrid-e2e.yaml:4:12: invalid image reference `bad ref`",
            "hybrid-e2e.yaml:5:17: Dockerfile `nope/Dockerfile` not found",
            "hybrid-e2e.yaml:11:17: manifest `missing.yaml` not found",
            "hybrid-e2e.yaml:12:18: `depends_on` names unknown group `b`",
        ] {
            assert!(message.contains(expected), "missing `{expected}` in:\n{message}");
        }
    }

    #[test]
    fn a_coverage_target_is_a_percentage_at_its_line() {
        let config = parse("version: 1\ncoverage:\n  target: 12.5\n").expect("valid");
        assert_eq!(config.file.coverage.target.map(|target| target.value), Some(12.5));
        for bad in ["150", "-1", ".nan"] {
            let message = parse(&format!("version: 1\ncoverage:\n  target: {bad}\n"))
                .expect_err("out of range")
                .to_string();
            assert!(
                message.contains("hybrid-e2e.yaml:3:11: `coverage.target` is a percentage"),
                "{bad}: {message}"
            );
        }
    }

    #[test]
    fn dependency_cycles_are_found() {
        let directory = tempfile::tempdir().expect("tempdir");
        std::fs::write(directory.path().join("m.yaml"), "kind: List\n").expect("write");
        let path = directory.path().join("hybrid-e2e.yaml");
        let text = "version: 1\ndeploy:\n  - {name: a, manifests: [m.yaml], depends_on: [b]}\n  - {name: b, manifests: [m.yaml], depends_on: [a]}\n";
        let message = LoadedConfig::parse(&path, text).expect_err("cycle").to_string();
        assert!(message.contains("cycle: a -> b -> a"), "{message}");
    }
}

#[cfg(test)]
mod test_section {
    use super::*;

    fn parse(text: &str) -> Result<LoadedConfig, ConfigError> {
        LoadedConfig::parse(Path::new("/nonexistent/hybrid-e2e.yaml"), text)
    }

    #[test]
    fn a_command_is_a_list_or_a_string_split_like_a_shell() {
        let config = parse("version: 1\ntest:\n  command: go test './test/e2e/...' -run \"Test A\"\n  junit: [report.xml]\n  timeout: 20m\n  target: 10m\n").expect("valid");
        let test = config.file.test.as_ref().expect("test");
        assert_eq!(
            test.command.value.argv(),
            Some(
                vec!["go", "test", "./test/e2e/...", "-run", "Test A"]
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            )
        );
        let config = parse("version: 1\ntest:\n  command: [ginkgo, -v, \"a b\"]\n").expect("valid");
        assert_eq!(
            config.file.test.as_ref().expect("test").command.value.argv(),
            Some(vec!["ginkgo".to_owned(), "-v".to_owned(), "a b".to_owned()])
        );
    }

    #[test]
    fn a_command_that_does_not_split_or_is_empty_is_an_error_at_its_line() {
        for (text, expected) in [
            ("version: 1\ntest:\n  command: go test \"unclosed\n", "unclosed quote"),
            ("version: 1\ntest:\n  command: []\n", "is empty"),
            ("version: 1\ntest:\n  command: \"  \"\n", "is empty"),
        ] {
            let Err(error) = parse(text) else {
                panic!("{text} is invalid")
            };
            let error = error.to_string();
            assert!(
                error.contains(expected) && error.contains("hybrid-e2e.yaml:3:"),
                "{text}: {error}"
            );
        }
        let Err(error) = parse("version: 1\ntest:\n  command: [a]\n  shell: bash\n") else {
            panic!("an unknown key is invalid")
        };
        let error = error.to_string();
        assert!(error.contains("shell"), "{error}");
    }

    #[test]
    fn shell_syntax_in_a_command_is_an_error_with_the_way_out() {
        for (text, found, program) in [
            ("version: 1\ntest:\n  command: cd test && go test ./...\n", "&&", "cd"),
            ("version: 1\ntest:\n  command: go test ./... | tee out.log\n", "|", "go"),
            ("version: 1\ntest:\n  command: go test $PKG\n", "$PKG", "go"),
            (
                "version: 1\ntest:\n  command: KUBECONFIG=x go test\n",
                "KUBECONFIG=",
                "KUBECONFIG=x",
            ),
            (
                "version: 1\ntest:\n  command: [make, e2e, \"&&\", make, clean]\n",
                "&&",
                "make",
            ),
        ] {
            let error = parse(text).expect_err(text).to_string();
            assert!(
                error.contains("hybrid-e2e.yaml:3:")
                    && error.contains(&format!("so `{found}` would reach `{program}` as a literal argument"))
                    && error.contains("command: [sh, -c, "),
                "{text}: {error}"
            );
        }
        assert!(parse("version: 1\ntest:\n  command: [sh, -c, \"cd test && go test ./...\"]\n").is_ok());
    }

    #[test]
    fn plain_mistakes_get_plain_words() {
        for (text, expected) in [
            (
                "version: 1\ntest:\n  command: 42\n",
                "expected the suite's command: a string",
            ),
            (
                "version: 1\ntest:\n  command: [a]\n  timeout: 0s\n",
                "`test.timeout` must be longer than 0s",
            ),
            (
                "version: 1\ntest:\n  command: [a]\n  junit: [\"reports/[.xml\"]\n",
                "is not a valid glob",
            ),
            (
                "version: 1\ntest:\n  command: [a]\n  junit: [\"\"]\n",
                "`test.junit` entry `` is empty",
            ),
            ("version: 1\ntiers:\n  \"\": [a.xml]\n", "a tier has an empty name"),
            ("version: 1\ntiers:\n  e2e: a.xml\n  e2e: b.xml\n", "e2e"),
        ] {
            let error = parse(text).expect_err(text).to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn junit_and_tiers_take_one_path_or_a_list_and_tiers_keep_their_order() {
        let config = parse(
            "version: 1\ntest:\n  command: [a]\n  junit: reports/*.xml\ntiers:\n  unit: reports/unit.xml\n  integration: [a.xml, b.xml]\n  e2e: [e2e.xml]\n",
        )
        .expect("valid");
        assert_eq!(config.file.test.as_ref().expect("test").junit, ["reports/*.xml"]);
        let names: Vec<&str> = config.file.tiers.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["unit", "integration", "e2e"]);
        assert_eq!(config.file.tiers[0].1, ["reports/unit.xml"]);
        assert_eq!(config.file.tiers[1].1, ["a.xml", "b.xml"]);
    }
}
