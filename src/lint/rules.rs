//! The lint rules, their levels, and how a simple command is recognised as a package upgrade.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::shell::Word;

/// Every rule the linter knows. `id()` is the stable name used in config, suppressions and output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Rule {
    NoDnfUpdate,
    SuppressionWithoutReason,
    InvalidSuppression,
    UnusedSuppression,
    InvalidDockerfile,
}

impl Rule {
    pub(crate) const ALL: [Rule; 5] = [
        Rule::NoDnfUpdate,
        Rule::SuppressionWithoutReason,
        Rule::InvalidSuppression,
        Rule::UnusedSuppression,
        Rule::InvalidDockerfile,
    ];

    pub(crate) fn id(self) -> &'static str {
        match self {
            Rule::NoDnfUpdate => "no-dnf-update",
            Rule::SuppressionWithoutReason => "suppression-without-reason",
            Rule::InvalidSuppression => "invalid-suppression",
            Rule::UnusedSuppression => "unused-suppression",
            Rule::InvalidDockerfile => "invalid-dockerfile",
        }
    }

    pub(crate) fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.id() == id)
    }

    pub(crate) fn default_level(self) -> Level {
        match self {
            Rule::NoDnfUpdate | Rule::InvalidDockerfile => Level::Error,
            Rule::SuppressionWithoutReason | Rule::InvalidSuppression | Rule::UnusedSuppression => Level::Warning,
        }
    }

    /// One line: why the rule exists.
    pub(crate) fn why(self) -> &'static str {
        match self {
            Rule::NoDnfUpdate => {
                "DD-TEST-002: a full upgrade pulls ~58 extra packages and makes E2E image builds ~5x slower; install only what the image needs"
            }
            Rule::SuppressionWithoutReason => "a suppression must say why, so reviewers can judge it",
            Rule::InvalidSuppression => "a suppression that names no known rule suppresses nothing",
            Rule::UnusedSuppression => "a suppression with nothing to suppress hides the next real finding",
            Rule::InvalidDockerfile => "a file that cannot be parsed cannot be checked, and will not build",
        }
    }

    /// Whether inline directives may silence this rule.
    pub(crate) fn suppressible(self) -> bool {
        matches!(self, Rule::NoDnfUpdate)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.id())
    }
}

/// How much a rule matters: `off` disables it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Level {
    Off,
    Warning,
    Error,
}

impl Level {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// The level of every rule, defaults overridden by config then flags.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleLevels {
    overrides: BTreeMap<Rule, Level>,
}

impl RuleLevels {
    pub(crate) fn set(&mut self, rule: Rule, level: Level) {
        self.overrides.insert(rule, level);
    }

    pub(crate) fn level(&self, rule: Rule) -> Level {
        self.overrides
            .get(&rule)
            .copied()
            .unwrap_or_else(|| rule.default_level())
    }
}

/// A package-manager invocation that upgrades packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upgrade {
    /// `dnf`, `yum`, `microdnf` or `tdnf` (as the basename appeared).
    pub(crate) manager: String,
    pub(crate) subcommand: String,
    /// Named packages; empty for a whole-system upgrade.
    pub(crate) targets: Vec<String>,
}

/// What a simple command does, as far as the rules care.
#[derive(Debug)]
pub(crate) enum CommandKind<'w> {
    Upgrade(Upgrade),
    /// `sh -c SCRIPT` and friends: the script runs too.
    ShellScript(&'w Word),
    /// A shell reading its script from standard input (`bash <<EOF`, `bash -s`).
    ShellStdin,
    Other,
}

const PACKAGE_MANAGERS: &[&str] = &["dnf", "dnf5", "dnf-3", "yum", "microdnf", "tdnf"];
const UPGRADE_SUBCOMMANDS: &[&str] = &[
    "update",
    "upgrade",
    "up",
    "update-minimal",
    "upgrade-minimal",
    "update-to",
    "upgrade-to",
    "distro-sync",
    "distrosync",
    "distribution-synchronization",
    "dsync",
    "system-upgrade",
];
/// Options of dnf, yum, microdnf and tdnf that take the next word as their value.
const OPTIONS_WITH_VALUE: &[&str] = &[
    "-c",
    "--config",
    "-d",
    "--debuglevel",
    "-e",
    "--errorlevel",
    "-R",
    "--randomwait",
    "-x",
    "--exclude",
    "--excludepkgs",
    "--installroot",
    "--releasever",
    "--setopt",
    "--repo",
    "--repoid",
    "--enablerepo",
    "--disablerepo",
    "--enableplugin",
    "--disableplugin",
    "--forcearch",
    "--downloaddir",
    "--destdir",
    "--comment",
    "--color",
    "--rpmverbosity",
    "--advisory",
    "--advisories",
    "--bz",
    "--bzs",
    "--cve",
    "--cves",
    "--sec-severity",
    "--secseverity",
    "--repofrompath",
    "--metadata-expire",
    "--disableexcludes",
    "--disableexcludepkgs",
];
pub(crate) const SHELLS: &[&str] = &["sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "yash"];

fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// Skip leading options of a wrapper command; `with_value` lists the options that take a value.
/// Bundled short options (`sudo -iu root`) take a value when their last letter does.
fn skip_options(words: &[Word], mut index: usize, with_value: &[&str]) -> usize {
    while let Some(word) = words.get(index) {
        let text = word.text();
        if text == "--" {
            return index + 1;
        }
        if !text.starts_with('-') || text == "-" {
            break;
        }
        let bundled_with_value = !text.starts_with("--")
            && text.len() > 2
            && with_value
                .iter()
                .any(|option| option.len() == 2 && text.ends_with(&option[1..]));
        index += if with_value.contains(&text) || bundled_with_value {
            2
        } else {
            1
        };
    }
    index
}

/// Classify a simple command, looking through `sudo`, `env`, `command`, `exec`, `nice` and the
/// like, and into `sh -c`.
pub(crate) fn classify(words: &[Word]) -> CommandKind<'_> {
    let mut index = 0;
    while let Some(word) = words.get(index) {
        let name = basename(word.text());
        match name {
            "sudo" | "doas" => {
                index = skip_options(
                    words,
                    index + 1,
                    &["-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T"],
                );
                while words
                    .get(index)
                    .is_some_and(|word| word.text().contains('=') && !word.text().starts_with('='))
                {
                    index += 1;
                }
            }
            "env" => {
                index = skip_options(
                    words,
                    index + 1,
                    &["-u", "--unset", "-C", "--chdir", "-S", "--split-string"],
                );
                while words.get(index).is_some_and(|word| word.text().contains('=')) {
                    index += 1;
                }
            }
            "command" | "builtin" | "nohup" | "chronic" | "unbuffer" | "eatmydata" => {
                index = skip_options(words, index + 1, &[]);
            }
            "exec" => index = skip_options(words, index + 1, &["-a"]),
            "time" => index = skip_options(words, index + 1, &["-f", "--format", "-o", "--output"]),
            "nice" => index = skip_options(words, index + 1, &["-n", "--adjustment"]),
            "ionice" => index = skip_options(words, index + 1, &["-c", "-n", "-p", "--class", "--classdata"]),
            "stdbuf" => index = skip_options(words, index + 1, &["-i", "-o", "-e"]),
            "timeout" => {
                index = skip_options(words, index + 1, &["-k", "--kill-after", "-s", "--signal"]);
                index += 1; // The duration.
            }
            // `eval "dnf -y update"` and `su -c "..."` run their argument as shell.
            "eval" => {
                return words
                    .get(index + 1)
                    .map_or(CommandKind::Other, CommandKind::ShellScript);
            }
            "su" => {
                let arguments = &words[index + 1..];
                let script = arguments
                    .iter()
                    .position(|word| matches!(word.text(), "-c" | "--command"));
                return script
                    .and_then(|position| arguments.get(position + 1))
                    .map_or(CommandKind::Other, CommandKind::ShellScript);
            }
            _ if PACKAGE_MANAGERS.contains(&name) => return package_manager(name, &words[index + 1..]),
            _ if SHELLS.contains(&name) => return shell(&words[index + 1..]),
            _ => return CommandKind::Other,
        }
    }
    CommandKind::Other
}

fn package_manager<'w>(manager: &str, arguments: &'w [Word]) -> CommandKind<'w> {
    let mut subcommand: Option<&str> = None;
    let mut targets = Vec::new();
    let mut index = 0;
    let mut options_done = false;
    while let Some(word) = arguments.get(index) {
        let text = word.text();
        index += 1;
        if !options_done && text == "--" {
            options_done = true;
            continue;
        }
        if !options_done && text.starts_with('-') && text.len() > 1 {
            if OPTIONS_WITH_VALUE.contains(&text) {
                index += 1;
            }
            continue;
        }
        match subcommand {
            None => {
                if !UPGRADE_SUBCOMMANDS.contains(&text) {
                    return CommandKind::Other;
                }
                subcommand = Some(text);
            }
            // `dnf system-upgrade download|reboot`: actions, not packages.
            Some("system-upgrade") => {}
            Some(_) => {
                // `dnf update '*'` is the whole system spelled out.
                if text != "*" {
                    targets.push(text.to_owned());
                }
            }
        }
    }
    match subcommand {
        Some(subcommand) => CommandKind::Upgrade(Upgrade {
            manager: manager.to_owned(),
            subcommand: subcommand.to_owned(),
            targets,
        }),
        None => CommandKind::Other,
    }
}

fn shell(arguments: &[Word]) -> CommandKind<'_> {
    let mut index = 0;
    let mut command_string = false;
    let mut reads_stdin = false;
    while let Some(word) = arguments.get(index) {
        let text = word.text();
        if text == "--" || text == "-" {
            index += 1;
            break;
        }
        let is_option = (text.starts_with('-') || text.starts_with('+')) && text.len() > 1;
        if !is_option {
            break;
        }
        index += 1;
        if text.starts_with("--") {
            if matches!(text, "--rcfile" | "--init-file") {
                index += 1;
            }
            continue;
        }
        let letters = &text[1..];
        if letters.contains('c') {
            command_string = true;
        }
        if letters.contains('s') {
            reads_stdin = true;
        }
        // `-o pipefail`, `-euxo pipefail`: the option name is the next word.
        if letters.ends_with('o') || letters.ends_with('O') {
            index += 1;
        }
    }
    match arguments.get(index) {
        Some(script) if command_string => CommandKind::ShellScript(script),
        // `bash -s -- args`: the words are positional parameters; the script is stdin.
        _ if reads_stdin => CommandKind::ShellStdin,
        // `bash script.sh` runs a file we cannot see; plain `bash` or `bash -s` reads stdin.
        Some(_) => CommandKind::Other,
        None => CommandKind::ShellStdin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::dockerfile::Mapped;
    use crate::lint::shell;

    fn classify_text(text: &str) -> String {
        let script = Mapped::identity(text, 0..text.len());
        let parsed = shell::parse(&script);
        let command = &parsed.commands[0];
        match classify(&command.words) {
            CommandKind::Upgrade(upgrade) if upgrade.targets.is_empty() => {
                format!("system {} {}", upgrade.manager, upgrade.subcommand)
            }
            CommandKind::Upgrade(upgrade) => format!("targeted {}", upgrade.targets.join(",")),
            CommandKind::ShellScript(word) => format!("script {}", word.text()),
            CommandKind::ShellStdin => "stdin".to_owned(),
            CommandKind::Other => "other".to_owned(),
        }
    }

    #[test]
    fn whole_system_upgrades_in_every_spelling() {
        for text in [
            "dnf update",
            "dnf -y update",
            "dnf -y --setopt=tsflags=nodocs update",
            "dnf --setopt tsflags=nodocs -y upgrade",
            "/usr/bin/dnf upgrade -y --refresh",
            "sudo -E dnf update -y",
            "sudo -u root dnf distro-sync",
            "env LANG=C dnf upgrade-minimal --security",
            "yum -y update",
            "microdnf update",
            "tdnf -y upgrade",
            "dnf5 upgrade",
            "dnf update -y '*'",
            "dnf -c /etc/dnf.conf update",
            "dnf --disableexcludes all update",
            "sudo -iu root dnf update",
            "time -p dnf update",
            "dnf -y system-upgrade download --releasever=40",
        ] {
            assert!(
                classify_text(text).starts_with("system "),
                "{text}: {}",
                classify_text(text)
            );
        }
    }

    #[test]
    fn targeted_updates_name_their_packages() {
        assert_eq!(classify_text("dnf update -y openssl"), "targeted openssl");
        assert_eq!(
            classify_text("yum -y --exclude kernel update glibc nss"),
            "targeted glibc,nss"
        );
    }

    #[test]
    fn other_package_manager_commands_and_tools_are_not_upgrades() {
        for text in [
            "dnf check-update",
            "dnf install -y update",
            "dnf makecache",
            "apt-get update",
            "echo dnf update",
            "rpm -Uvh x.rpm",
            "dnfupdate",
            "dnf --exclude update install x",
        ] {
            assert_eq!(classify_text(text), "other", "{text}");
        }
    }

    #[test]
    fn shells_with_a_command_string_are_looked_into() {
        assert_eq!(classify_text("sh -c 'dnf update'"), "script dnf update");
        assert_eq!(
            classify_text("/bin/bash -euxo pipefail -c \"dnf -y upgrade\""),
            "script dnf -y upgrade"
        );
        assert_eq!(classify_text("bash -s"), "stdin");
        assert_eq!(classify_text("bash -s -- --flag"), "stdin");
        assert_eq!(classify_text("eval \"dnf -y update\""), "script dnf -y update");
        assert_eq!(classify_text("su -c 'yum update' root"), "script yum update");
        assert_eq!(classify_text("bash build.sh"), "other");
    }
}
