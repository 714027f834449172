//! The four changelog categories, in output order, and the forgiving-but-not-too-forgiving match
//! of what people type against them.
//!
//! Matching compares a *key*: the name lower-cased with everything but letters and digits removed
//! (`User-Facing Improvements` -> `userfacingimprovements`, ` bug_fixes ` -> `bugfixes`). A typed
//! category is accepted when its key is within `floor(n / 4)` edits (Levenshtein) of a category's
//! key of `n` characters:
//!
//! | category | key length | edits allowed |
//! |---|---|---|
//! | User-Facing Improvements | 22 | 5 |
//! | Bug Fixes | 8 | 2 |
//! | Internal | 8 | 2 |
//! | Upcoming Features | 16 | 4 |
//!
//! So `INTERNAL`, ` Internal `, `Internals`, `Bugfix`, `Bug Fix`, `Upcoming Feature` and
//! `User facing improvement` match, while `Externals` (3 edits from `internal`) and the retired
//! `Improvements` do not. The original allowed 3 edits on the raw, case-sensitive text, which let
//! `Externals` become Internal and lost `INTERNAL`. A quarter of the length keeps a typo or two
//! in every name and never lets one name reach another (the closest keys are 7 edits apart).
//!
//! A rejected category gets a did-you-mean: the closest category when it is within half its key
//! length, or a category whose key contains the typed one (`Improvements`, `Fixes`).

use std::fmt;

use serde::{Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    UserFacingImprovements,
    BugFixes,
    Internal,
    UpcomingFeatures,
}

impl Category {
    /// Every category, in the order of the Markdown sections.
    pub const ALL: [Category; 4] = [
        Category::UserFacingImprovements,
        Category::BugFixes,
        Category::Internal,
        Category::UpcomingFeatures,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::UserFacingImprovements => "User-Facing Improvements",
            Category::BugFixes => "Bug Fixes",
            Category::Internal => "Internal",
            Category::UpcomingFeatures => "Upcoming Features",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Category::UserFacingImprovements => "userfacingimprovements",
            Category::BugFixes => "bugfixes",
            Category::Internal => "internal",
            Category::UpcomingFeatures => "upcomingfeatures",
        }
    }

    /// `User-Facing Improvements, Bug Fixes, Internal, Upcoming Features`.
    pub fn list() -> String {
        Category::ALL.map(Category::name).join(", ")
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Category {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A category that matched nothing, with the suggestion to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    pub typed: String,
    pub suggestion: Option<Category>,
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.suggestion {
            Some(c) => write!(f, "unknown category `{}` (did you mean `{c}`?)", self.typed),
            None => write!(
                f,
                "unknown category `{}` (categories: {})",
                self.typed,
                Category::list()
            ),
        }
    }
}

fn key_of(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Matches what was typed (already trimmed or not) against the categories.
pub fn parse(typed: &str) -> Result<Category, Unknown> {
    let typed = typed.trim();
    // Nearly every line spells a category exactly: no allocation, no edit distance.
    if let Some(c) = Category::ALL
        .into_iter()
        .find(|c| c.name().eq_ignore_ascii_case(typed))
    {
        return Ok(c);
    }
    let key = key_of(typed);
    let (best, distance) = Category::ALL
        .iter()
        .map(|c| (*c, strsim::levenshtein(&key, c.key())))
        .min_by_key(|(_, d)| *d)
        .expect("four categories");
    if distance <= best.key().len() / 4 {
        return Ok(best);
    }
    let suggestion = if distance <= best.key().len() / 2 {
        Some(best)
    } else if key.len() >= 4 {
        Category::ALL.into_iter().find(|c| c.key().contains(&key))
    } else {
        None
    };
    Err(Unknown {
        typed: typed.to_string(),
        suggestion,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Category::*;

    #[test]
    fn canonical_names_and_order() {
        assert_eq!(
            Category::list(),
            "User-Facing Improvements, Bug Fixes, Internal, Upcoming Features"
        );
        let mut sorted = Category::ALL;
        sorted.sort();
        assert_eq!(sorted, Category::ALL);
        for c in Category::ALL {
            assert_eq!(parse(c.name()), Ok(c));
        }
    }

    #[test]
    fn accepts_case_spacing_and_small_typos() {
        for (typed, want) in [
            ("INTERNAL", Internal),
            (" Internal ", Internal),
            ("internal", Internal),
            ("Internal2", Internal),
            ("Internals", Internal),
            ("Internl", Internal),
            ("bug fixes", BugFixes),
            ("BUG FIXES", BugFixes),
            ("Bugfixes", BugFixes),
            ("Bugfix", BugFixes),
            ("Bug Fix", BugFixes),
            ("bug_fixes", BugFixes),
            ("Upcoming Feature", UpcomingFeatures),
            ("upcoming-features", UpcomingFeatures),
            ("User facing improvement", UserFacingImprovements),
            ("User-Facing Improvments", UserFacingImprovements),
            ("user facing improvements", UserFacingImprovements),
        ] {
            assert_eq!(parse(typed), Ok(want), "{typed}");
        }
    }

    #[test]
    fn rejects_other_words_with_a_suggestion() {
        for (typed, suggestion) in [
            ("Externals", Some(Internal)),
            ("Improvements", Some(UserFacingImprovements)),
            ("Fixes", Some(BugFixes)),
            ("Features", Some(UpcomingFeatures)),
            ("Accessibility", None),
            ("Security", None),
            ("ab", None),
        ] {
            let err = parse(typed).unwrap_err();
            assert_eq!(err.suggestion, suggestion, "{typed}");
            assert_eq!(err.typed, typed);
        }
    }

    #[test]
    fn messages() {
        assert_eq!(
            parse(" Improvements ").unwrap_err().to_string(),
            "unknown category `Improvements` (did you mean `User-Facing Improvements`?)"
        );
        assert_eq!(
            parse("Security").unwrap_err().to_string(),
            "unknown category `Security` (categories: User-Facing Improvements, Bug Fixes, \
             Internal, Upcoming Features)"
        );
    }

    #[test]
    fn serializes_as_its_name() {
        assert_eq!(serde_json::to_string(&BugFixes).unwrap(), "\"Bug Fixes\"");
    }
}
