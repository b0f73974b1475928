//! The share of statements a Go coverage profile covers (what `go tool cover -func` prints as
//! `total:`), computed from `go tool covdata textfmt` output: one line per block,
//! `file:startLine.startCol,endLine.endCol numStatements count`, after a `mode:` line. A block
//! listed more than once (several processes, several pods) counts once, covered if any count is.

use std::collections::BTreeMap;

/// Statements in the profile, and how many of them ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) statements: u64,
    pub(crate) covered: u64,
}

impl Totals {
    /// Percent of statements covered (`None`: the profile has no statements).
    pub(crate) fn percent(self) -> Option<f64> {
        (self.statements > 0).then(|| self.covered as f64 * 100.0 / self.statements as f64)
    }
}

/// A profile's totals, overall and per Go package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Profile {
    pub(crate) total: Totals,
    /// Per package (the import path: a block's file without its last path segment), most
    /// statements first, then by name.
    pub(crate) packages: Vec<(String, Totals)>,
}

/// The import path of a block's file (`example.com/gw/store/put.go` → `example.com/gw/store`).
fn package_of(block: &str) -> &str {
    let file = block.rsplit_once(':').map_or(block, |(file, _)| file);
    file.rsplit_once('/').map_or(file, |(package, _)| package)
}

/// Read a textfmt profile into totals per package; an unreadable line is an error with its
/// line number.
pub(crate) fn read(text: &str) -> Result<Profile, String> {
    let blocks = blocks(text)?;
    let mut packages: BTreeMap<&str, Totals> = BTreeMap::new();
    let mut total = Totals::default();
    for (block, (statements, ran)) in &blocks {
        let covered = if *ran { *statements } else { 0 };
        let package = packages.entry(package_of(block)).or_default();
        package.statements += statements;
        package.covered += covered;
        total.statements += statements;
        total.covered += covered;
    }
    let mut packages: Vec<(String, Totals)> = packages
        .into_iter()
        .map(|(package, totals)| (package.to_owned(), totals))
        .collect();
    packages.sort_by(|a, b| b.1.statements.cmp(&a.1.statements).then_with(|| a.0.cmp(&b.0)));
    Ok(Profile { total, packages })
}

/// Read a textfmt profile's totals; an unreadable line is an error with its line number.
#[cfg(test)]
pub(crate) fn totals(text: &str) -> Result<Totals, String> {
    read(text).map(|profile| profile.total)
}

/// Each block once: its statements, and whether any process ran it.
fn blocks(text: &str) -> Result<BTreeMap<&str, (u64, bool)>, String> {
    let mut blocks: BTreeMap<&str, (u64, bool)> = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || (index == 0 && line.starts_with("mode:")) {
            continue;
        }
        let bad = || format!("line {}: not a coverage profile block: `{line}`", index + 1);
        let mut fields = line.rsplitn(3, ' ');
        let (Some(count), Some(statements), Some(block)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(bad());
        };
        let count: u64 = count.parse().map_err(|_| bad())?;
        let statements: u64 = statements.parse().map_err(|_| bad())?;
        if !block.contains(':') || !block.contains(',') {
            return Err(bad());
        }
        let entry = blocks.entry(block).or_insert((statements, false));
        entry.1 |= count > 0;
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_count_once_and_any_count_covers_them() {
        let text = "mode: set\n\
            example.com/gw/main.go:10.13,12.2 2 1\n\
            example.com/gw/main.go:14.2,16.3 3 0\n\
            example.com/gw/main.go:14.2,16.3 3 1\n\
            example.com/gw/store/put.go:5.1,9.2 5 0\n";
        let totals = totals(text).expect("profile");
        assert_eq!(
            totals,
            Totals {
                statements: 10,
                covered: 5
            }
        );
        assert_eq!(totals.percent(), Some(50.0));
    }

    #[test]
    fn packages_are_the_import_paths_of_the_files() {
        let text = "mode: set\n\
            example.com/gw/main.go:10.13,12.2 2 1\n\
            example.com/gw/store/put.go:5.1,9.2 5 0\n\
            example.com/gw/store/get.go:1.1,3.2 3 2\n\
            example.com/gw/store/get.go:1.1,3.2 3 0\n";
        let profile = read(text).expect("profile");
        assert_eq!(
            profile.packages,
            vec![
                (
                    "example.com/gw/store".to_owned(),
                    Totals {
                        statements: 8,
                        covered: 3
                    }
                ),
                (
                    "example.com/gw".to_owned(),
                    Totals {
                        statements: 2,
                        covered: 2
                    }
                ),
            ]
        );
        assert_eq!(
            profile.total,
            Totals {
                statements: 10,
                covered: 5
            }
        );
        assert_eq!(package_of("main.go:1.1,2.2"), "main.go");
    }

    #[test]
    fn an_empty_profile_has_no_percentage_and_garbage_is_refused_with_its_line() {
        assert_eq!(totals("mode: atomic\n").expect("empty").percent(), None);
        let error = totals("mode: set\nexample.com/a.go:1.1,2.2 1 1\nnot a block\n").expect_err("garbage");
        assert!(error.starts_with("line 3:"), "{error}");
        assert!(totals("mode: set\na.go:1.1,2.2 x 1\n").is_err());
    }
}
