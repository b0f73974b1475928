//! Image references, and the one fully-qualified form the build tag, the load and the manifests
//! all use (the Podman `localhost/` trap: `app:e2e` is `localhost/app:e2e` to Podman but
//! `docker.io/library/app:e2e` to containerd).

use std::fmt;

/// A parsed `[domain/]path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageReference {
    pub(crate) domain: Option<String>,
    pub(crate) path: String,
    pub(crate) tag: Option<String>,
    pub(crate) digest: Option<String>,
}

impl ImageReference {
    pub(crate) fn parse(text: &str) -> Result<ImageReference, String> {
        if text.is_empty() {
            return Err("empty reference".to_owned());
        }
        if text.chars().any(char::is_whitespace) {
            return Err("references cannot contain whitespace".to_owned());
        }
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => {
                let (algorithm, hex) = digest.split_once(':').ok_or("a digest looks like `sha256:<hex>`")?;
                if algorithm.is_empty() || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(format!("invalid digest `{digest}`"));
                }
                (name, Some(digest.to_owned()))
            }
            None => (text, None),
        };
        let last_slash = name.rfind('/').map_or(0, |index| index + 1);
        let (repository, tag) = match name[last_slash..].rfind(':') {
            Some(colon) => (
                &name[..last_slash + colon],
                Some(name[last_slash + colon + 1..].to_owned()),
            ),
            None => (name, None),
        };
        if let Some(tag) = &tag {
            let valid = !tag.is_empty()
                && tag.len() <= 128
                && tag
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if !valid {
                return Err(format!("invalid tag `{tag}`"));
            }
        }
        let mut components: Vec<&str> = repository.split('/').collect();
        let domain = if components.len() > 1
            && (components[0].contains(['.', ':'])
                || components[0] == "localhost"
                || components[0].chars().any(|c| c.is_ascii_uppercase()))
        {
            Some(components.remove(0).to_owned())
        } else {
            None
        };
        for component in &components {
            let valid = !component.is_empty()
                && component
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
                && component.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
                && component.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
            if !valid {
                return Err(format!(
                    "invalid path component `{component}` (lowercase letters, digits, `.`, `_`, `-`)"
                ));
            }
        }
        Ok(ImageReference {
            domain,
            path: components.join("/"),
            tag,
            digest,
        })
    }

    /// The form used everywhere in a run: a registry domain (`localhost` when none was given)
    /// and a tag (`run_tag` when none was given). Returns it and whether anything was added.
    pub(crate) fn fully_qualified(&self, run_tag: &str) -> ImageReference {
        ImageReference {
            domain: Some(self.domain.clone().unwrap_or_else(|| "localhost".to_owned())),
            path: self.path.clone(),
            tag: match (&self.tag, &self.digest) {
                (Some(tag), _) => Some(tag.clone()),
                (None, Some(_)) => None,
                (None, None) => Some(run_tag.to_owned()),
            },
            digest: self.digest.clone(),
        }
    }

    /// Append `-suffix` to the tag (per-run uniqueness from `--tag-suffix`).
    pub(crate) fn with_tag_suffix(mut self, suffix: &str) -> ImageReference {
        if let Some(tag) = &mut self.tag
            && !suffix.is_empty()
        {
            tag.push('-');
            tag.push_str(suffix);
        }
        self
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(domain) = &self.domain {
            write!(formatter, "{domain}/")?;
        }
        formatter.write_str(&self.path)?;
        if let Some(tag) = &self.tag {
            write!(formatter, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(formatter, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qualified(text: &str) -> String {
        ImageReference::parse(text)
            .expect("valid")
            .fully_qualified("e2e-run1")
            .to_string()
    }

    #[test]
    fn references_without_a_registry_get_localhost_and_a_run_tag() {
        assert_eq!(qualified("app"), "localhost/app:e2e-run1");
        assert_eq!(qualified("team/app:1.2"), "localhost/team/app:1.2");
        assert_eq!(qualified("localhost/team/app:e2e"), "localhost/team/app:e2e");
        assert_eq!(qualified("registry.local:5000/app"), "registry.local:5000/app:e2e-run1");
        assert_eq!(qualified("quay.io/org/app:v1"), "quay.io/org/app:v1");
    }

    #[test]
    fn tag_suffix_is_appended() {
        let reference = ImageReference::parse("quay.io/org/app:v1")
            .expect("valid")
            .with_tag_suffix("pr42");
        assert_eq!(reference.to_string(), "quay.io/org/app:v1-pr42");
    }

    #[test]
    fn invalid_references_say_why() {
        assert!(
            ImageReference::parse("App:1")
                .expect_err("uppercase")
                .contains("path component")
        );
        assert!(
            ImageReference::parse("app:")
                .expect_err("empty tag")
                .contains("invalid tag")
        );
        assert!(ImageReference::parse("a b").expect_err("space").contains("whitespace"));
        assert!(
            ImageReference::parse("app@sha256:xyz")
                .expect_err("digest")
                .contains("digest")
        );
    }
}
