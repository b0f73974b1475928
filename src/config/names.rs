//! Names users choose that other tools must accept: checked where they enter (the config file,
//! flags, variables) with the other tool's rule in the message, not when that tool refuses them.

/// kind's own rule for cluster names (`^[a-z0-9.-]+$`), starting with a letter or digit (the node
/// container is `NAME-control-plane`), at most 50 characters (its hostname stays under 64).
pub(crate) fn parse_cluster_name(value: &str) -> Result<String, String> {
    let valid = !value.is_empty()
        && value.len() <= 50
        && value.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    if valid {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "`{value}` is not a valid Kind cluster name: lowercase letters, digits, `.` and `-` (kind's `^[a-z0-9.-]+$`), starting with a letter or digit, at most 50 characters"
        ))
    }
}

/// What Docker allows in a tag (`[A-Za-z0-9_.-]`), short enough that the run tag plus the suffix
/// stays under Docker's 128 characters.
pub(crate) fn parse_tag_suffix(value: &str) -> Result<String, String> {
    let valid = value.len() <= 100
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "`{value}` cannot be part of an image tag: letters, digits, `_`, `.` and `-` only (Docker's tag rule), at most 100 characters"
        ))
    }
}

/// `coverage.dir`: one absolute, plain path, the same in the container, the node and the Kind
/// config (no `..`, no `:` that would split a volume spec, not the root itself).
pub(crate) fn check_coverage_dir(value: &str) -> Result<(), String> {
    let plain = value.strip_prefix('/').is_some_and(|rest| {
        rest.split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
    });
    if !plain || value.contains([':', '\0', '\n']) {
        return Err(format!(
            "`{value}` must be an absolute directory path such as `/coverdata` (no `..`, `.`, `:` or trailing `/`; not `/`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_coverage_dir;

    #[test]
    fn coverage_dirs_are_plain_absolute_paths() {
        for good in ["/coverdata", "/tmp/cover-data", "/var/lib/e2e/cov"] {
            assert_eq!(check_coverage_dir(good), Ok(()), "{good}");
        }
        for bad in ["coverdata", "/", "/a/../b", "/a/./b", "/a:b", "/cov/", ""] {
            assert!(check_coverage_dir(bad).is_err(), "{bad}");
        }
    }
}
