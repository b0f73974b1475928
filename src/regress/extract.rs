//! Safe extraction of the `timings.json` files of an Actions artifact zip. The whole archive is
//! refused when any entry is unsafe: a `..` component, an absolute or drive path, a symbolic
//! link; and when it looks like a zip bomb: too many entries, too much declared data, a
//! compression ratio no report reaches, or an entry that inflates beyond its declared size
//! (reads are bounded, whatever the headers say). Only `timings.json` files are written.

use std::io::{Cursor, Read as _};
use std::path::{Component, Path, PathBuf};

/// Bounds of one archive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ZipLimits {
    pub(crate) max_entries: usize,
    /// Sum of the declared uncompressed sizes.
    pub(crate) max_total_bytes: u64,
    /// One `timings.json` (as the checked reader allows).
    pub(crate) max_entry_bytes: u64,
    /// Uncompressed ÷ compressed, for entries above 1 MiB.
    pub(crate) max_ratio: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits {
            max_entries: 100_000,
            max_total_bytes: 2 * 1024 * 1024 * 1024,
            max_entry_bytes: 64 * 1024 * 1024,
            max_ratio: 200,
        }
    }
}

/// Why an archive was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExtractError {
    #[error("not a readable zip archive: {0}")]
    Corrupt(String),
    #[error("entry `{0}` would be written outside the extraction directory")]
    UnsafePath(String),
    #[error("entry `{0}` is a symbolic link")]
    Symlink(String),
    #[error("{0}; refusing a possible zip bomb")]
    Bomb(String),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// The relative path an entry name stands for, if it is safe: no `..`, not absolute, no drive
/// or UNC prefix, no NUL; `\` counts as a separator.
pub(crate) fn safe_relative_path(name: &str) -> Option<PathBuf> {
    if name.is_empty() || name.contains('\0') || name.starts_with(['/', '\\']) {
        return None;
    }
    let normalized = name.replace('\\', "/");
    if normalized.split('/').next().is_some_and(|first| first.ends_with(':')) {
        return None;
    }
    let mut path = PathBuf::new();
    for component in Path::new(&normalized).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!path.as_os_str().is_empty()).then_some(path)
}

/// Check every entry of `bytes`, then write its `timings.json` files under `dest` (created
/// fresh). Returns the files written.
pub(crate) fn extract_timings(bytes: &[u8], dest: &Path, limits: ZipLimits) -> Result<Vec<PathBuf>, ExtractError> {
    let corrupt = |error: zip::result::ZipError| ExtractError::Corrupt(error.to_string());
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(corrupt)?;
    if archive.len() > limits.max_entries {
        return Err(ExtractError::Bomb(format!("{} entries", archive.len())));
    }
    let mut wanted = Vec::new();
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(corrupt)?;
        let name = entry.name().map_err(corrupt)?.into_owned();
        let path = safe_relative_path(&name).ok_or_else(|| ExtractError::UnsafePath(name.clone()))?;
        if entry.is_symlink() {
            return Err(ExtractError::Symlink(name));
        }
        total = total.saturating_add(entry.size());
        if total > limits.max_total_bytes {
            return Err(ExtractError::Bomb(format!(
                "more than {} bytes uncompressed",
                limits.max_total_bytes
            )));
        }
        if entry.size() > 1024 * 1024 && entry.size() / entry.compressed_size().max(1) > limits.max_ratio {
            return Err(ExtractError::Bomb(format!(
                "entry `{name}` inflates {} times",
                entry.size() / entry.compressed_size().max(1)
            )));
        }
        if entry.is_file() && path.file_name().is_some_and(|file| file == "timings.json") {
            if entry.size() > limits.max_entry_bytes {
                return Err(ExtractError::Bomb(format!("entry `{name}` is {} bytes", entry.size())));
            }
            wanted.push((index, path));
        }
    }
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| ExtractError::Write { path, source }
    };
    if dest.exists() {
        std::fs::remove_dir_all(dest).map_err(write_error(dest))?;
    }
    std::fs::create_dir_all(dest).map_err(write_error(dest))?;
    let mut written = Vec::new();
    for (index, path) in wanted {
        let entry = archive.by_index(index).map_err(corrupt)?;
        let mut content = Vec::new();
        entry
            .take(limits.max_entry_bytes + 1)
            .read_to_end(&mut content)
            .map_err(|error| ExtractError::Corrupt(format!("{}: {error}", path.display())))?;
        if content.len() as u64 > limits.max_entry_bytes {
            return Err(ExtractError::Bomb(format!(
                "entry `{}` inflates beyond {} bytes",
                path.display(),
                limits.max_entry_bytes
            )));
        }
        let target = dest.join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(write_error(parent))?;
        }
        std::fs::write(&target, content).map_err(write_error(&target))?;
        written.push(target);
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
