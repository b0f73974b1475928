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

/// Read a textfmt profile; an unreadable line is an error with its line number.
pub(crate) fn totals(text: &str) -> Result<Totals, String> {
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
    Ok(blocks
        .values()
        .fold(Totals::default(), |totals, (statements, ran)| Totals {
            statements: totals.statements + statements,
            covered: totals.covered + if *ran { *statements } else { 0 },
        }))
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
    fn an_empty_profile_has_no_percentage_and_garbage_is_refused_with_its_line() {
        assert_eq!(totals("mode: atomic\n").expect("empty").percent(), None);
        let error = totals("mode: set\nexample.com/a.go:1.1,2.2 1 1\nnot a block\n").expect_err("garbage");
        assert!(error.starts_with("line 3:"), "{error}");
        assert!(totals("mode: set\na.go:1.1,2.2 x 1\n").is_err());
    }
}
