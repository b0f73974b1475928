//! Finding the Dockerfiles to lint: default names, recursively, honouring `.gitignore`.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use ignore::WalkBuilder;

/// Why discovery failed before any file was linted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DiscoverError {
    #[error("path `{path}` does not exist")]
    Missing { path: String },
    #[error("invalid glob `{glob}`: {source}")]
    Glob { glob: String, source: globset::Error },
}

/// A file to lint and the name it is reported under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) path: PathBuf,
    pub(crate) display: String,
    /// Why it cannot be linted, found while walking (an unreadable directory): reported as a
    /// per-file diagnostic, never skipped silently.
    pub(crate) problem: Option<String>,
}

/// Which files count as Dockerfiles, beyond the default names.
#[derive(Debug)]
pub(crate) struct Selection {
    include: GlobSet,
    exclude: GlobSet,
    use_ignore_files: bool,
}

impl Selection {
    pub(crate) fn new(include: &[String], exclude: &[String], use_ignore_files: bool) -> Result<Self, DiscoverError> {
        Ok(Self {
            include: glob_set(include)?,
            exclude: glob_set(exclude)?,
            use_ignore_files,
        })
    }
}

fn glob_set(globs: &[String]) -> Result<GlobSet, DiscoverError> {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        let parsed = Glob::new(glob).map_err(|source| DiscoverError::Glob {
            glob: glob.clone(),
            source,
        })?;
        builder.add(parsed);
    }
    builder.build().map_err(|source| DiscoverError::Glob {
        glob: globs.join(", "),
        source,
    })
}

/// `Dockerfile`, `Containerfile`, `*.Dockerfile`, `*.Containerfile`, `Dockerfile.*`,
/// `Containerfile.*` (any case), but not the `Dockerfile.dockerignore` that sits beside them.
pub(crate) fn is_dockerfile_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".dockerignore") || lower.ends_with(".md") {
        return false;
    }
    ["dockerfile", "containerfile"].iter().any(|base| {
        lower == *base
            || lower
                .strip_suffix(base)
                .is_some_and(|stem| stem.len() > 1 && stem.ends_with('.'))
            || lower
                .strip_prefix(base)
                .is_some_and(|suffix| suffix.len() > 1 && suffix.starts_with('.'))
    })
}

fn fs_key(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

fn slash_path(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    text.strip_prefix("./").map(str::to_owned).unwrap_or(text)
}

/// Expand the command-line paths into files. Explicit files are linted whatever their name.
/// The path an `ignore` walk error is about, if it says.
fn error_path(error: &ignore::Error) -> Option<PathBuf> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => error_path(err),
        _ => None,
    }
}

/// An `ignore` walk error without its path (the target names it).
fn error_text(error: &ignore::Error) -> String {
    match error {
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => error_text(err),
        ignore::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

pub(crate) fn discover(paths: &[PathBuf], selection: &Selection) -> Result<Vec<Target>, DiscoverError> {
    let mut targets = Vec::new();
    for root in paths {
        // Anything named on the command line that is not a directory is linted, whatever it
        // is: a FIFO or a link to a device gets a diagnostic, never "0 files checked".
        let named_file = !root.is_dir() && (root.exists() || root.is_symlink());
        if named_file {
            targets.push(Target {
                path: root.clone(),
                display: slash_path(root),
                problem: None,
            });
            continue;
        }
        if !root.exists() {
            return Err(DiscoverError::Missing {
                path: root.display().to_string(),
            });
        }
        let exclude = selection.exclude.clone();
        let walk_root = root.clone();
        let walker = WalkBuilder::new(root)
            .hidden(false)
            .git_ignore(selection.use_ignore_files)
            .git_exclude(selection.use_ignore_files)
            .git_global(false)
            .ignore(selection.use_ignore_files)
            .parents(selection.use_ignore_files)
            .require_git(false)
            .sort_by_file_name(|a, b| a.cmp(b))
            .filter_entry(move |entry| {
                if entry.file_name() == ".git" {
                    return false;
                }
                let relative = entry.path().strip_prefix(&walk_root).unwrap_or(entry.path());
                relative.as_os_str().is_empty() || !exclude.is_match(relative)
            })
            .build();
        let mut found = Vec::new();
        for entry in walker {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    // An unreadable directory may hold Dockerfiles: say so for it.
                    let path = error_path(&error).unwrap_or_else(|| root.clone());
                    found.push(Target {
                        display: slash_path(&path),
                        path,
                        problem: Some(format!("cannot read the directory: {}", error_text(&error))),
                    });
                    continue;
                }
            };
            // Files, and whatever else is named like a Dockerfile (a link to a device, a FIFO):
            // the linter says what it cannot read.
            if entry.file_type().is_none_or(|kind| kind.is_dir()) {
                continue;
            }
            let path = entry.path();
            let relative = path.strip_prefix(root).unwrap_or(path);
            let name = path.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
            if is_dockerfile_name(&name) || selection.include.is_match(relative) {
                let display = if root == Path::new(".") {
                    slash_path(relative)
                } else {
                    slash_path(path)
                };
                found.push(Target {
                    path: path.to_path_buf(),
                    display,
                    problem: None,
                });
            }
        }
        targets.extend(found);
    }
    // A file named twice (`lint dir dir/Dockerfile`) is linted once, under its first name.
    let mut seen = std::collections::HashSet::new();
    targets.retain(|target| seen.insert(fs_key(&target.path)));
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn default_names() {
        for name in [
            "Dockerfile",
            "Containerfile",
            "api.Dockerfile",
            "x.containerfile",
            "Dockerfile.e2e",
            "dockerfile",
        ] {
            assert!(is_dockerfile_name(name), "{name}");
        }
        for name in [
            "Dockerfile.dockerignore",
            "Dockerfile.md",
            "Dockerfiles",
            "myDockerfile",
            "Dockerfile.",
            "README",
        ] {
            assert!(!is_dockerfile_name(name), "{name}");
        }
    }

    #[test]
    fn walks_recursively_honouring_gitignore_and_globs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for file in [
            "Dockerfile",
            "a/api.Dockerfile",
            "a/notes.txt",
            "build/Dockerfile",
            "vendor/Containerfile",
            "ci/image.df",
        ] {
            let path = root.join(file);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(path, "FROM a\n").expect("write");
        }
        fs::write(root.join(".gitignore"), "build/\n").expect("write");
        let selection = Selection::new(&["ci/*.df".to_owned()], &["vendor/**".to_owned()], true).expect("globs");
        let found = discover(&[root.to_path_buf()], &selection).expect("discover");
        let names: Vec<String> = found
            .iter()
            .map(|target| slash_path(target.path.strip_prefix(root).expect("under root")))
            .collect();
        assert_eq!(names, vec!["Dockerfile", "a/api.Dockerfile", "ci/image.df"]);
        let everything = Selection::new(&[], &[], false).expect("globs");
        assert_eq!(discover(&[root.to_path_buf()], &everything).expect("discover").len(), 4);
    }

    #[test]
    fn missing_path_is_an_error() {
        let selection = Selection::new(&[], &[], true).expect("globs");
        assert!(matches!(
            discover(&[PathBuf::from("/no/such/dir")], &selection),
            Err(DiscoverError::Missing { .. })
        ));
    }
}
