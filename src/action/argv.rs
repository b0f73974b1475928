//! The inputs as the CLI's own command line, parsed by the CLI's own parser (`Cli`): from there
//! the action behaves exactly like `hybrid-e2e` with the same flags, `HYBRID_E2E_*` variables
//! included. The token is never on it: it is set on the parsed options (see `action::main`).

use std::path::{Path, PathBuf};

use super::container::normalize;
use super::inputs::{ActionCommand, Inputs};
use crate::lint::Format;

/// `lint` runs from the workspace with its paths under the working directory, so the files its
/// annotations name are relative to the repository root, where GitHub looks for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LintFrom {
    /// The working directory relative to the workspace (`None`: lint runs in the working
    /// directory, which is outside the workspace).
    pub(crate) prefix: Option<PathBuf>,
    /// The config lint would find in the working directory, when no `config` is given.
    pub(crate) default_config: Option<PathBuf>,
}

fn under(prefix: Option<&Path>, path: &str) -> String {
    match prefix {
        Some(prefix) if !Path::new(path).is_absolute() => normalize(&prefix.join(path)).display().to_string(),
        _ => path.to_owned(),
    }
}

/// `hybrid-e2e [--config C] COMMAND FLAGS… ARGS…` for the inputs (docs/action.md has the table).
pub(crate) fn command_line(inputs: &Inputs, lint: &LintFrom) -> Vec<String> {
    let mut argv = vec!["hybrid-e2e".to_owned()];
    let lint_prefix = (inputs.command == ActionCommand::Lint)
        .then_some(lint.prefix.as_deref())
        .flatten();
    let config = match (&inputs.config, inputs.command) {
        (Some(config), _) => Some(under(lint_prefix, config)),
        (None, ActionCommand::Lint) => lint.default_config.as_ref().map(|config| config.display().to_string()),
        (None, _) => None,
    };
    if let Some(config) = config {
        argv.extend(["--config".to_owned(), config]);
    }
    argv.push(inputs.command.as_str().to_owned());
    let flag = |argv: &mut Vec<String>, name: &str, value: &Option<String>| {
        if let Some(value) = value {
            argv.extend([name.to_owned(), value.clone()]);
        }
    };
    // `doctor` takes no `--preserve`: it deletes nothing.
    let setup = |argv: &mut Vec<String>, preserve: bool| {
        if let Some(kept) = inputs.preserve_cluster.filter(|_| preserve) {
            argv.extend(["--preserve".to_owned(), kept.as_str().to_owned()]);
        }
        flag(argv, "--report-dir", &inputs.report_dir);
        flag(argv, "--tag-suffix", &inputs.tag_suffix);
    };
    let publish = |argv: &mut Vec<String>| {
        if inputs.fail_on_target {
            argv.push("--fail-on-target".to_owned());
        }
        flag(argv, "--check-run-id", &inputs.check_run_id.map(|id| id.to_string()));
        flag(argv, "--check-name", &inputs.check_name);
    };
    match inputs.command {
        ActionCommand::Run => {
            setup(&mut argv, true);
            publish(&mut argv);
        }
        ActionCommand::Report => {
            if let Some(dir) = &inputs.report_dir {
                argv.push(dir.clone());
            }
            publish(&mut argv);
        }
        ActionCommand::Lint => {
            argv.extend(inputs.lint_paths.iter().map(|path| under(lint_prefix, path)));
            argv.extend(["--format".to_owned(), format_name(inputs.lint_format)]);
        }
        ActionCommand::Plan => setup(&mut argv, true),
        ActionCommand::Doctor => setup(&mut argv, false),
        // Everything regress needs is in `args` (history, artifacts, issues); docs/regress.md.
        ActionCommand::Regress => {}
        // The run to read from: its report directory and tag suffix, as the main step had them.
        ActionCommand::Coverage => {
            flag(&mut argv, "--report-dir", &inputs.report_dir);
            flag(&mut argv, "--tag-suffix", &inputs.tag_suffix);
            if inputs.fail_on_target {
                argv.push("--fail-on-target".to_owned());
            }
        }
    }
    argv.extend(inputs.args.iter().cloned());
    argv
}

fn format_name(format: Format) -> String {
    use clap::ValueEnum as _;
    format
        .to_possible_value()
        .map_or_else(|| "github".to_owned(), |value| value.get_name().to_owned())
}

/// Whether the extra arguments set the token themselves (then the input does not override them).
pub(crate) fn args_set_token(args: &[String]) -> bool {
    args.iter()
        .any(|arg| arg == "--github-token" || arg.starts_with("--github-token="))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Commands};
    use crate::config::Preserve;

    fn inputs(pairs: &[(&str, &str)]) -> Inputs {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(name, value)| (super::super::inputs::variable(name), (*value).to_owned()))
            .collect();
        Inputs::from_lookup(|name| map.get(name).cloned()).expect("inputs")
    }

    fn line(pairs: &[(&str, &str)]) -> String {
        command_line(&inputs(pairs), &LintFrom::default()).join(" ")
    }

    #[test]
    fn the_defaults_of_action_yml_run_the_setup() {
        // What the runner passes when `with:` is empty (action.yml's defaults; the token and the
        // check run id come from expressions).
        assert_eq!(
            line(&[
                ("command", "run"),
                ("working_directory", "."),
                ("github_token", "ghs_x"),
                ("check_run_id", "42"),
                ("check_name", "hybrid-e2e"),
                ("fail_on_target", "false"),
                ("lint_paths", "."),
                ("lint_format", "github"),
            ]),
            "hybrid-e2e run --check-run-id 42 --check-name hybrid-e2e"
        );
    }

    #[test]
    fn run_maps_every_input_to_its_flag() {
        let argv = line(&[
            ("config", "e2e/hybrid-e2e.yaml"),
            ("preserve_cluster", "always"),
            ("report_dir", "out/report"),
            ("tag_suffix", "pr42"),
            ("fail_on_target", "yes"),
            ("check_run_id", "7"),
            ("args", "-v --concurrency 2"),
        ]);
        assert_eq!(
            argv,
            "hybrid-e2e --config e2e/hybrid-e2e.yaml run --preserve always --report-dir out/report --tag-suffix pr42 --fail-on-target --check-run-id 7 -v --concurrency 2"
        );
        let cli = Cli::try_parse_from(argv.split(' ')).expect("the CLI accepts it");
        let Commands::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.setup.preserve, Some(Preserve::Always));
        assert_eq!(run.setup.tag_suffix.as_deref(), Some("pr42"));
        assert_eq!(run.setup.concurrency, Some(2));
        assert!(run.fail_on_target);
        assert_eq!(run.publish.check_run_id, Some(7));
        assert_eq!(cli.global.verbose, 1);
        assert_eq!(cli.config.as_deref(), Some(Path::new("e2e/hybrid-e2e.yaml")));
    }

    #[test]
    fn report_takes_the_report_dir_as_its_directory() {
        let argv = line(&[
            ("command", "report"),
            ("report_dir", "reports/gateway"),
            (
                "args",
                "--merge reports/datastorage 'reports/signal processing' -o merged",
            ),
        ]);
        let words: Vec<&str> = vec![
            "hybrid-e2e",
            "report",
            "reports/gateway",
            "--merge",
            "reports/datastorage",
            "reports/signal processing",
            "-o",
            "merged",
        ];
        assert_eq!(argv, words.join(" "));
        let cli = Cli::try_parse_from(words).expect("parses");
        let Commands::Report(report) = cli.command else {
            panic!("not report")
        };
        assert_eq!(report.dir.as_deref(), Some(Path::new("reports/gateway")));
        assert_eq!(report.merge.len(), 2);
    }

    #[test]
    fn regress_takes_its_options_from_args_alone() {
        let words = command_line(
            &inputs(&[
                ("command", "regress"),
                ("report_dir", "ignored"),
                (
                    "args",
                    "--history-file history.jsonl --current tonight --github-artifacts 'nightly-*' --issues",
                ),
            ]),
            &LintFrom::default(),
        );
        assert_eq!(
            words.join(" "),
            "hybrid-e2e regress --history-file history.jsonl --current tonight --github-artifacts nightly-* --issues"
        );
        let cli = Cli::try_parse_from(&words).expect("parses");
        let Commands::Regress(regress) = cli.command else {
            panic!("not regress")
        };
        assert_eq!(regress.github_artifacts.as_deref(), Some("nightly-*"));
        assert!(regress.issues);
    }

    #[test]
    fn coverage_reads_the_run_of_the_same_report_dir_and_tags() {
        let words = command_line(
            &inputs(&[
                ("command", "coverage"),
                ("config", "e2e/hybrid-e2e.yaml"),
                ("report_dir", "reports/gateway"),
                ("tag_suffix", "pr7"),
                ("preserve_cluster", "always"),
                ("fail_on_target", "true"),
                ("args", "--leave-stopped"),
            ]),
            &LintFrom::default(),
        );
        // `preserve_cluster` is the main step's business; `fail_on_target` decides the junit.xml
        // rendered again.
        assert_eq!(
            words.join(" "),
            "hybrid-e2e --config e2e/hybrid-e2e.yaml coverage --report-dir reports/gateway --tag-suffix pr7 --fail-on-target --leave-stopped"
        );
        let cli = Cli::try_parse_from(&words).expect("parses");
        let Commands::Coverage(coverage) = cli.command else {
            panic!("not coverage")
        };
        assert_eq!(coverage.report_dir.as_deref(), Some(Path::new("reports/gateway")));
        assert_eq!(coverage.tag_suffix.as_deref(), Some("pr7"));
        assert!(coverage.leave_stopped);
        assert!(coverage.fail_on_target);
    }

    #[test]
    fn lint_paths_and_config_are_taken_from_the_working_directory() {
        let lint = LintFrom {
            prefix: Some(PathBuf::from("services/e2e")),
            default_config: Some(PathBuf::from("services/e2e/hybrid-e2e.yaml")),
        };
        let argv = command_line(
            &inputs(&[("command", "lint"), ("lint_paths", "docker/\n.\n/abs/Dockerfile")]),
            &lint,
        );
        assert_eq!(
            argv.join(" "),
            "hybrid-e2e --config services/e2e/hybrid-e2e.yaml lint services/e2e/docker services/e2e /abs/Dockerfile --format github"
        );
        let argv = command_line(
            &inputs(&[("command", "lint"), ("config", "ci.yaml"), ("lint_format", "sarif")]),
            &lint,
        );
        assert_eq!(
            argv.join(" "),
            "hybrid-e2e --config services/e2e/ci.yaml lint services/e2e --format sarif"
        );
        // The working directory is the workspace: nothing changes.
        let here = LintFrom {
            prefix: Some(PathBuf::from(".")),
            default_config: None,
        };
        let argv = command_line(&inputs(&[("command", "lint"), ("lint_paths", "a b")]), &here);
        assert_eq!(argv.join(" "), "hybrid-e2e lint a b --format github");
        assert!(Cli::try_parse_from(argv).is_ok());
    }

    #[test]
    fn doctor_and_plan_see_the_same_names_and_tags_as_run() {
        assert_eq!(
            line(&[("command", "plan"), ("tag_suffix", "gw"), ("args", "--format json")]),
            "hybrid-e2e plan --tag-suffix gw --format json"
        );
        assert_eq!(
            line(&[
                ("command", "doctor"),
                ("preserve_cluster", "never"),
                ("tag_suffix", "gw")
            ]),
            "hybrid-e2e doctor --tag-suffix gw"
        );
    }

    #[test]
    fn the_token_is_never_on_the_command_line() {
        let argv = line(&[("github_token", "ghs_secretvalue"), ("command", "report")]);
        assert!(!argv.contains("ghs_secretvalue"), "{argv}");
        assert!(args_set_token(&["--github-token=x".to_owned()]));
        assert!(!args_set_token(
            &["--check-name".to_owned(), "--github-token".to_owned()][..1]
        ));
    }
}
