//! One place decides how output looks (uv's `Printer`): quiet, normal or verbose; colour or not;
//! live spinners on a terminal, `::group::` blocks in GitHub Actions, or plain lines. Detected
//! once from the command line and the environment, then handed to whatever prints.

use std::io::{IsTerminal, Write};

/// How much to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verbosity {
    /// Failures and findings only.
    Quiet,
    Normal,
    /// Every line every child process prints.
    Verbose,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    /// A live spinner per running step (an interactive terminal).
    Live,
    /// A `::group::` per phase (GitHub Actions folds them).
    GithubGroups,
    /// One line per event (logs, pipes, files).
    Plain,
}

/// The output decisions for one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Printer {
    pub(crate) verbosity: Verbosity,
    /// ANSI colour on standard error.
    pub(crate) color: bool,
    pub(crate) progress: Progress,
    /// Running inside GitHub Actions: annotations, the job summary and step outputs apply.
    pub(crate) github: bool,
}

impl Printer {
    /// From `-q`/`-v` counts, the colour choice (already resolved by `--color`, `NO_COLOR`,
    /// `CLICOLOR_FORCE`) and the environment.
    pub(crate) fn detect(quiet: u8, verbose: u8, color: anstream::ColorChoice) -> Printer {
        let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|value| value == "true");
        let terminal = std::io::stderr().is_terminal();
        Printer::new(quiet, verbose, color, github, terminal)
    }

    fn new(quiet: u8, verbose: u8, color: anstream::ColorChoice, github: bool, terminal: bool) -> Printer {
        let verbosity = match (quiet, verbose) {
            (1.., _) => Verbosity::Quiet,
            (0, 0) => Verbosity::Normal,
            _ => Verbosity::Verbose,
        };
        let color = match color {
            anstream::ColorChoice::Always | anstream::ColorChoice::AlwaysAnsi => true,
            anstream::ColorChoice::Never => false,
            anstream::ColorChoice::Auto => {
                anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
            }
        };
        let progress = if github {
            Progress::GithubGroups
        } else if terminal && verbosity == Verbosity::Normal {
            Progress::Live
        } else {
            Progress::Plain
        };
        Printer {
            verbosity,
            color,
            progress,
            github,
        }
    }

    /// A printer for tests and benchmarks: plain, no colour.
    #[cfg(test)]
    pub(crate) fn plain(verbosity: Verbosity) -> Printer {
        Printer {
            verbosity,
            color: false,
            progress: Progress::Plain,
            github: false,
        }
    }

    pub(crate) fn quiet(&self) -> bool {
        self.verbosity == Verbosity::Quiet
    }

    /// Standard error with this printer's colour decision.
    pub(crate) fn stderr(&self) -> Box<dyn Write + Send> {
        let choice = if self.color {
            anstream::ColorChoice::AlwaysAnsi
        } else {
            anstream::ColorChoice::Never
        };
        Box::new(anstream::AutoStream::new(std::io::stderr(), choice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anstream::ColorChoice;

    #[test]
    fn the_decision_is_made_from_one_place() {
        let actions = Printer::new(0, 0, ColorChoice::Never, true, true);
        assert_eq!(actions.progress, Progress::GithubGroups);
        assert!(!actions.color);
        let terminal = Printer::new(0, 0, ColorChoice::Always, false, true);
        assert_eq!(terminal.progress, Progress::Live);
        assert!(terminal.color);
        let verbose = Printer::new(0, 2, ColorChoice::Never, false, true);
        assert_eq!(
            (verbose.verbosity, verbose.progress),
            (Verbosity::Verbose, Progress::Plain)
        );
        let quiet = Printer::new(1, 0, ColorChoice::Never, false, false);
        assert_eq!((quiet.verbosity, quiet.progress), (Verbosity::Quiet, Progress::Plain));
    }
}
