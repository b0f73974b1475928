//! Reading the files users hand us: regular files only (a FIFO or a device would block or never
//! end), never more than a cap; and writing reports so a failure never leaves a half-written or
//! temporary file behind.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The largest config file we read.
pub(crate) const CONFIG_LIMIT: u64 = 1024 * 1024;
/// The largest manifest file we read (a CRD bundle can be a few MiB).
pub(crate) const MANIFEST_LIMIT: u64 = 32 * 1024 * 1024;
/// The largest Go coverage profile we read (one line per block: large services reach tens of MiB).
pub(crate) const PROFILE_LIMIT: u64 = 512 * 1024 * 1024;
/// The largest Dockerfile we lint.
pub(crate) const DOCKERFILE_LIMIT: u64 = 8 * 1024 * 1024;
/// GitHub's webhook payloads are capped at 25 MB; an event file larger than this is not one.
pub(crate) const EVENT_LIMIT: u64 = 32 * 1024 * 1024;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is {what}, not a regular file")]
    NotAFile { path: PathBuf, what: &'static str },
    #[error("{path} is larger than {} MiB", limit / 1024 / 1024)]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{path} is not UTF-8 text")]
    NotText { path: PathBuf },
}

impl ReadError {
    /// The file it is about.
    pub(crate) fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. }
            | ReadError::NotAFile { path, .. }
            | ReadError::TooLarge { path, .. }
            | ReadError::NotText { path } => path,
        }
    }
}

/// What a non-regular file is, for messages.
fn kind_of(metadata: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = metadata.file_type();
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a named pipe"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// The bytes of `path` (symlinks followed), if it is a regular file of at most `limit` bytes.
pub(crate) fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(io)?;
    if !metadata.is_file() {
        return Err(ReadError::NotAFile {
            path: path.to_owned(),
            what: kind_of(&metadata),
        });
    }
    if metadata.len() > limit {
        return Err(ReadError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(limit + 1).read_to_end(&mut bytes))
        .map_err(io)?;
    // It may have grown since the metadata was read.
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

/// [`read_capped`] as UTF-8 text.
pub(crate) fn read_text_capped(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read_capped(path, limit)?).map_err(|_| ReadError::NotText { path: path.to_owned() })
}

/// Write `bytes` to `path` through a temporary file renamed into place, so readers never see a
/// half-written file; on any error the temporary file is removed.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let written = std::fs::File::create(&temporary)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Why `text` is not a usable path or glob (`None`: it is one).
pub(crate) fn glob_problem(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        return Some("is empty".to_owned());
    }
    if !is_glob(text) {
        return None;
    }
    globset::GlobBuilder::new(text)
        .literal_separator(true)
        .build()
        .err()
        .map(|error| format!("is not a valid glob: {}", error.kind()))
}

/// A path, or the files a glob (`*`, `?`, `[...]`, `{a,b}`, `**`) matches, sorted; a path
/// that does not exist matches nothing. `*` stays within a directory.
pub(crate) fn expand_glob(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_owned()];
    }
    let text = path.to_string_lossy();
    if !is_glob(&text) {
        return Vec::new();
    }
    let Ok(glob) = globset::GlobBuilder::new(&text).literal_separator(true).build() else {
        return Vec::new();
    };
    let matcher = glob.compile_matcher();
    // Walk from the glob's literal directory, matching the paths as the walk spells them.
    let root: PathBuf = path
        .components()
        .take_while(|component| !is_glob(&component.as_os_str().to_string_lossy()))
        .collect();
    let root = if root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        root
    };
    let mut files: Vec<PathBuf> = ignore::WalkBuilder::new(&root)
        .hidden(false)
        .git_ignore(false)
        .build()
        .filter_map(Result::ok)
        .map(ignore::DirEntry::into_path)
        .filter(|candidate| candidate.is_file() && matcher.is_match(candidate.strip_prefix("./").unwrap_or(candidate)))
        .collect();
    files.sort();
    files
}

/// Whether `text` has glob syntax.
pub(crate) fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '[', '{'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_cap_are_read() {
        let directory = tempfile::tempdir().expect("tempdir");
        let file = directory.path().join("f");
        std::fs::write(&file, "12345").expect("write");
        assert_eq!(read_capped(&file, 5).expect("read"), b"12345");
        assert!(matches!(read_capped(&file, 4), Err(ReadError::TooLarge { .. })));
        assert!(matches!(
            read_capped(directory.path(), 5),
            Err(ReadError::NotAFile {
                what: "a directory",
                ..
            })
        ));
        assert!(matches!(
            read_capped(Path::new("/dev/zero"), 5),
            Err(ReadError::NotAFile { what: "a device", .. })
        ));
        let fifo = directory.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        assert!(matches!(
            read_capped(&fifo, 5),
            Err(ReadError::NotAFile {
                what: "a named pipe",
                ..
            })
        ));
        let link = directory.path().join("Dockerfile");
        std::os::unix::fs::symlink("/dev/zero", &link).expect("symlink");
        assert!(matches!(read_capped(&link, 5), Err(ReadError::NotAFile { .. })));
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("out.json");
        write_atomically(&path, b"{}").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"{}");
        // The rename fails (a non-empty directory is in the way) after the temporary file was
        // written: it must be gone.
        let target = directory.path().join("blocked.json");
        std::fs::create_dir_all(target.join("inside")).expect("block the target");
        assert!(write_atomically(&target, b"{}").is_err());
        assert!(
            !directory.path().join("blocked.json.tmp").exists(),
            "temporary file left behind"
        );
    }
}
