//! The `changelog:` line grammar of identity-idp's `scripts/changelog_check.rb`, matched by hand
//! (no regex: one pass over the line, no allocation).
//!
//! ```text
//! [* ]changelog: CATEGORY, SUBCATEGORY, CHANGE
//! ```
//! - an optional prefix of exactly `* ` (the bullets GitHub writes into squash bodies); `- `,
//!   indentation, `*changelog` and `*  changelog` are not accepted;
//! - the keyword `changelog` in any case, `:`, at most one space;
//! - CATEGORY: at least 2 of ASCII letters, digits, `_`, space and `-`, then `,`;
//! - SUBCATEGORY: at least 2 characters other than `,`, then `,`;
//! - CHANGE: the rest of the line, at least 1 character; commas are allowed.
//!
//! The original regex lets the optional space after `:` or `,` count towards a field's two
//! characters (`changelog: Internal, X, y` gives the subcategory ` X`); the length rules here
//! are the same. Unlike the original, callers trim the fields (see `entry`).

/// The three raw fields of a matching line, untrimmed, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer<'a> {
    pub category: &'a str,
    pub subcategory: &'a str,
    pub change: &'a str,
}

const KEYWORD: &str = "changelog";

/// Parses one line of a commit message; `None` when it is not a changelog line.
pub fn parse(line: &str) -> Option<Trailer<'_>> {
    let rest = line.strip_prefix("* ").unwrap_or(line);
    let rest = strip_keyword(rest)?;
    // `: ?` then CATEGORY. The optional space is part of the category's character class, so
    // taking it or not never changes whether the line matches; trimming removes it later.
    let (category, rest) = rest.split_once(',')?;
    if category.len() < 2 || !category.bytes().all(is_category_byte) {
        return None;
    }
    let (subcategory, change) = rest.split_once(',')?;
    if subcategory.chars().count() < 2 {
        return None;
    }
    // `, ?` then `.+`: one optional space, but the change needs at least one character, so a
    // lone space is the change itself.
    let change = match change.strip_prefix(' ') {
        Some(c) if !c.is_empty() => c,
        _ => change,
    };
    if change.is_empty() {
        return None;
    }
    let subcategory = match subcategory.strip_prefix(' ') {
        Some(s) if s.chars().count() >= 2 => s,
        _ => subcategory,
    };
    let category = match category.strip_prefix(' ') {
        Some(c) if c.len() >= 2 => c,
        _ => category,
    };
    Some(Trailer {
        category,
        subcategory,
        change,
    })
}

/// `changelog` (any case) followed by `:`; returns what follows the colon.
fn strip_keyword(s: &str) -> Option<&str> {
    let head = s.get(..KEYWORD.len())?;
    if !head.eq_ignore_ascii_case(KEYWORD) {
        return None;
    }
    s[KEYWORD.len()..].strip_prefix(':')
}

fn is_category_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b' ' || b == b'-'
}

/// For a line that looks like an attempt at a changelog line but does not match the grammar,
/// says what is wrong with it; `None` for lines that are not attempts (prose, co-authors...).
///
/// An attempt is a line that, after leading whitespace and a bullet (`*`, `-`, `+`), starts with
/// the keyword and a colon (spaces allowed before the colon).
pub fn diagnose(line: &str) -> Option<String> {
    if parse(line).is_some() {
        return None;
    }
    let trimmed = line.trim_start();
    let unbulleted = trimmed
        .strip_prefix(['*', '-', '+'])
        .map(str::trim_start)
        .unwrap_or(trimmed);
    let head = unbulleted.get(..KEYWORD.len())?;
    if !head.eq_ignore_ascii_case(KEYWORD) {
        return None;
    }
    let after = unbulleted[KEYWORD.len()..].trim_start();
    let fields = after.strip_prefix(':')?;
    let canonical = format!("changelog:{fields}");
    let why = if parse(&canonical).is_some() {
        "it must start with `changelog:` or `* changelog:` (no indentation, no other bullet)"
            .to_string()
    } else {
        let parts: Vec<&str> = fields.splitn(3, ',').collect();
        if parts.len() < 3 || parts[2].trim().is_empty() {
            "it needs three comma-separated fields: CATEGORY, SUBCATEGORY, CHANGE".to_string()
        } else if !parts[0].bytes().all(is_category_byte) {
            "the category may hold only letters, digits, spaces, `-` and `_`".to_string()
        } else {
            "the category and subcategory need at least 2 characters each".to_string()
        }
    };
    Some(format!("malformed changelog line `{}`: {why}", line.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &str) -> Option<(&str, &str, &str)> {
        parse(line).map(|t| (t.category, t.subcategory, t.change))
    }

    #[test]
    fn plain_line() {
        assert_eq!(
            fields("changelog: Internal, Security, Upgrade Rails to patch vulnerability"),
            Some((
                "Internal",
                "Security",
                "Upgrade Rails to patch vulnerability"
            ))
        );
    }

    #[test]
    fn keyword_in_any_case() {
        assert!(parse("Changelog: Internal, Changelog, Improve tooling").is_some());
        assert!(parse("CHANGELOG: Internal, Changelog, Improve tooling").is_some());
    }

    #[test]
    fn no_spaces_after_separators() {
        assert_eq!(
            fields("changelog:Internal,Changelog,Improve changelog tool flexibility"),
            Some((
                "Internal",
                "Changelog",
                "Improve changelog tool flexibility"
            ))
        );
    }

    #[test]
    fn squash_bullet_prefix_only() {
        assert!(parse("* changelog: Bug Fixes, Webauthn, Fix the flow").is_some());
        for bad in [
            "- changelog: Bug Fixes, Webauthn, Fix the flow",
            "  changelog: Bug Fixes, Webauthn, Fix the flow",
            "*changelog: Bug Fixes, Webauthn, Fix the flow",
            "*  changelog: Bug Fixes, Webauthn, Fix the flow",
            "see changelog: Bug Fixes, Webauthn, Fix the flow",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn commas_stay_in_the_change() {
        assert_eq!(
            fields("changelog: Internal, Dependencies, Update a, b, and c"),
            Some(("Internal", "Dependencies", "Update a, b, and c"))
        );
    }

    #[test]
    fn symbols_in_the_subcategory_and_change() {
        assert_eq!(
            fields(
                "changelog: User-Facing Improvements, Sign-in (SP/IdP), Show 50% more & faster!"
            ),
            Some((
                "User-Facing Improvements",
                "Sign-in (SP/IdP)",
                "Show 50% more & faster!"
            ))
        );
    }

    #[test]
    fn category_characters_are_restricted() {
        assert_eq!(parse("changelog: Bug/Fixes, X1, y"), None);
        assert_eq!(parse("changelog: Bug.Fixes, X1, y"), None);
        assert!(parse("changelog: Bug_Fixes 2-x, X1, y").is_some());
    }

    #[test]
    fn field_lengths() {
        // one-character category: the space after the colon makes it two, as in the original.
        assert_eq!(fields("changelog: I, Xy, z"), Some((" I", "Xy", "z")));
        assert_eq!(parse("changelog:I, Xy, z"), None);
        // the space after the comma is pulled into a one-character subcategory.
        assert_eq!(
            fields("changelog: Internal, X, y"),
            Some(("Internal", " X", "y"))
        );
        assert_eq!(parse("changelog: Internal,X, y"), None);
        // surplus spaces join the next field (trimmed later).
        assert_eq!(
            fields("changelog:  Internal,  Sub,  Change"),
            Some((" Internal", " Sub", " Change"))
        );
        // a lone space is a change; nothing at all is not.
        assert_eq!(
            fields("changelog: Internal, Sub, "),
            Some(("Internal", "Sub", " "))
        );
        assert_eq!(parse("changelog: Internal, Sub,"), None);
        assert_eq!(parse("changelog: Internal, Security"), None);
        assert_eq!(parse("changelog"), None);
        assert_eq!(parse("changelog Internal, a, b"), None);
    }

    #[test]
    fn multibyte_text_is_safe() {
        assert_eq!(parse("chängelog: Internal, ab, c"), None);
        assert_eq!(parse("ch"), None);
        assert_eq!(
            fields("changelog: Internal, Ünïcode, ça marche"),
            Some(("Internal", "Ünïcode", "ça marche"))
        );
        assert_eq!(
            fields("changelog: Internal, é, x"),
            Some(("Internal", " é", "x"))
        );
    }

    #[test]
    fn diagnoses_near_misses_only() {
        assert_eq!(diagnose("Co-authored-by: A <a@example.gov>"), None);
        assert_eq!(diagnose("Improve the changelog tool"), None);
        assert_eq!(diagnose("changelog: Internal, A, b"), None);
        let d = diagnose("- changelog: Internal, Logging, Less noise").unwrap();
        assert!(d.contains("must start with `changelog:`"), "{d}");
        let d = diagnose("changelog: Internal, Logging").unwrap();
        assert!(d.contains("three comma-separated fields"), "{d}");
        let d = diagnose("changelog : Bug/Fixes, Logging, x").unwrap();
        assert!(d.contains("only letters"), "{d}");
        let d = diagnose("changelog: I,X,y").unwrap();
        assert!(d.contains("at least 2 characters"), "{d}");
    }
}
