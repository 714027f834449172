//! What one commit contributes to the changelog: the per-commit rules of the original script,
//! with its defects fixed.
//!
//! - A commit whose subject or body contains `[skip changelog]` is skipped: no entry, not invalid.
//! - Every line of the body (split on CR/LF, empty lines dropped) is a candidate, in order; the
//!   subject is a candidate only when no body line gave an entry. **Every** valid line counts (a
//!   squash commit carries one line per squashed commit); the original kept only the first.
//! - Per line, the first rule that applies:
//!   1. Dependabot: the line, trailing whitespace trimmed, is
//!      `Signed-off-by: dependabot[bot] <support@github.com>` -> Internal / Dependencies /
//!      Update dependencies to latest versions.
//!   2. Revert: the subject starts with `Revert ` and the line contains
//!      `This reverts commit <hash>` -> Bug Fixes / Code Revert / Revert changes introduced in
//!      <hash> (the hash is the whole run of letters and digits).
//!   3. The `changelog:` grammar (`trailer`). Fields are trimmed; the change's first character is
//!      upper-cased. An unknown category is a problem (with a did-you-mean), not a silent drop,
//!      and it does not hide the commit's other lines.
//! - The PR number is the `(#N)` that ends the subject (GitHub's squash suffix), else the first
//!   `(#N)` in it (`Merge pull request #N ...` has none); see [`pr_number`].

use super::category::{self, Category};
use super::trailer;
use crate::git::log::Commit;

pub const SKIP_MARKER: &str = "[skip changelog]";
const DEPENDABOT_SIGN_OFF: &str = "Signed-off-by: dependabot[bot] <support@github.com>";
const REVERT_MARKER: &str = "This reverts commit ";

/// One change line, before grouping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub category: Category,
    pub subcategory: String,
    pub change: String,
}

/// What a commit yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `[skip changelog]` somewhere in the message.
    Skipped,
    /// The changes found and the problems with other lines. No changes and no problems means the
    /// commit has no changelog line at all; the caller reports that.
    Read {
        changes: Vec<Change>,
        problems: Vec<String>,
    },
}

/// Applies the rules to one commit.
pub fn read(commit: &Commit) -> Outcome {
    if has_skip_marker(&commit.subject) || has_skip_marker(&commit.body) {
        return Outcome::Skipped;
    }
    let is_revert = commit.subject.starts_with("Revert ");
    let mut changes = Vec::new();
    let mut problems = Vec::new();
    for line in lines(&commit.body) {
        read_line(line, is_revert, &mut changes, &mut problems);
    }
    if changes.is_empty() {
        read_line(&commit.subject, is_revert, &mut changes, &mut problems);
    }
    if changes.is_empty() && problems.is_empty() {
        // Say why a line that looks like a changelog line did not count.
        problems.extend(
            lines(&commit.body)
                .chain(std::iter::once(commit.subject.as_str()))
                .filter_map(trailer::diagnose),
        );
    }
    Outcome::Read { changes, problems }
}

/// `[skip changelog]` anywhere in `text` (one searcher for every commit, not one per call).
fn has_skip_marker(text: &str) -> bool {
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(SKIP_MARKER));
    FINDER.find(text.as_bytes()).is_some()
}

/// Body lines as the original split them: on CR or LF, empty lines dropped, indentation kept.
/// (Split at ASCII bytes, so every piece is still UTF-8.)
fn lines(body: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let ends =
        memchr::memchr2_iter(b'\r', b'\n', body.as_bytes()).chain(std::iter::once(body.len()));
    ends.map(move |end| {
        let line = &body[start..end];
        start = end + 1;
        line
    })
    .filter(|l| !l.is_empty())
}

fn read_line(line: &str, is_revert: bool, changes: &mut Vec<Change>, problems: &mut Vec<String>) {
    if line.trim_end() == DEPENDABOT_SIGN_OFF {
        changes.push(Change {
            category: Category::Internal,
            subcategory: "Dependencies".into(),
            change: "Update dependencies to latest versions".into(),
        });
        return;
    }
    if is_revert {
        if let Some(hash) = reverted_hash(line) {
            changes.push(Change {
                category: Category::BugFixes,
                subcategory: "Code Revert".into(),
                change: format!("Revert changes introduced in {hash}"),
            });
            return;
        }
    }
    let Some(t) = trailer::parse(line) else {
        return;
    };
    let subcategory = t.subcategory.trim();
    let change = t.change.trim();
    if subcategory.is_empty() || change.is_empty() {
        let field = if subcategory.is_empty() {
            "subcategory"
        } else {
            "change"
        };
        problems.push(format!(
            "changelog line `{}` has a blank {field}",
            line.trim()
        ));
        return;
    }
    match category::parse(t.category) {
        Ok(category) => changes.push(Change {
            category,
            subcategory: subcategory.to_string(),
            change: upper_first(change),
        }),
        Err(unknown) => problems.push(unknown.to_string()),
    }
}

/// `This reverts commit <hash>`: the run of ASCII letters and digits after the marker.
fn reverted_hash(line: &str) -> Option<&str> {
    let start = line.find(REVERT_MARKER)? + REVERT_MARKER.len();
    let rest = &line[start..];
    let end = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// The first character upper-cased (Unicode-aware: `élan` -> `Élan`).
fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) if !first.is_uppercase() => first.to_uppercase().chain(chars).collect(),
        _ => s.to_string(),
    }
}

/// The PR number of a subject: the `(#N)` GitHub appends to squash-merge titles when the subject
/// ends with one, else the first `(#N)` anywhere (the original's rule). The suffix comes first
/// because a revert's subject quotes the reverted title, number included:
/// `Revert "Add a thing (#7001)" (#7002)` is PR 7002.
pub fn pr_number(subject: &str) -> Option<u64> {
    let trimmed = subject.trim_end();
    if let Some(n) = trimmed
        .strip_suffix(')')
        .and_then(|s| s.rsplit_once("(#"))
        .and_then(|(_, digits)| number(digits))
    {
        return Some(n);
    }
    let mut rest = subject;
    while let Some(i) = rest.find("(#") {
        rest = &rest[i + 2..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if rest.as_bytes().get(digits) == Some(&b')') {
            if let Some(n) = number(&rest[..digits]) {
                return Some(n);
            }
        }
    }
    None
}

fn number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(subject: &str, body: &str) -> Commit {
        Commit {
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            subject: subject.into(),
            body: body.into(),
        }
    }

    fn changes(subject: &str, body: &str) -> Vec<(Category, String, String)> {
        match read(&commit(subject, body)) {
            Outcome::Read { changes, .. } => changes
                .into_iter()
                .map(|c| (c.category, c.subcategory, c.change))
                .collect(),
            Outcome::Skipped => panic!("skipped"),
        }
    }

    fn problems(subject: &str, body: &str) -> Vec<String> {
        match read(&commit(subject, body)) {
            Outcome::Read { problems, .. } => problems,
            Outcome::Skipped => panic!("skipped"),
        }
    }

    fn one(cat: Category, sub: &str, change: &str) -> Vec<(Category, String, String)> {
        vec![(cat, sub.to_string(), change.to_string())]
    }

    #[test]
    fn skip_marker_anywhere() {
        let body = "- Lets us set log level to minimize STDOUT output\n  from Identity::Hostdata \
                    (downloading files from S3, etc)\n\n[skip changelog]";
        assert_eq!(
            read(&commit("Add LOGIN_TASK_LOG_LEVEL env var (#6037)", body)),
            Outcome::Skipped
        );
        assert_eq!(
            read(&commit("Tidy up [skip changelog]", "")),
            Outcome::Skipped
        );
        // The marker wins over a valid line.
        assert_eq!(
            read(&commit(
                "X",
                "changelog: Internal, A, b\nnot for the notes: [skip changelog] really"
            )),
            Outcome::Skipped
        );
    }

    #[test]
    fn capitalizes_the_change_and_keeps_the_subcategory() {
        let body = "- Lets us set log level\n\n* changelog: User-Facing Improvements, \
                    authentication API, provide better authentication (LG-4515)";
        assert_eq!(
            changes("Add LOGIN_TASK_LOG_LEVEL env var (#6037)", body),
            one(
                Category::UserFacingImprovements,
                "authentication API",
                "Provide better authentication (LG-4515)"
            )
        );
        assert_eq!(upper_first("élan"), "Élan");
        assert_eq!(upper_first("ßig"), "SSig");
        assert_eq!(upper_first("Already"), "Already");
        assert_eq!(upper_first("1st"), "1st");
    }

    #[test]
    fn keyword_case_and_spacing() {
        assert_eq!(
            changes(
                "Improve changelog tool flexibility for commit messages (#7000)",
                "Changelog: Internal, Changelog, Improve changelog tool flexibility for commit messages"
            ),
            one(
                Category::Internal,
                "Changelog",
                "Improve changelog tool flexibility for commit messages"
            )
        );
        assert_eq!(
            changes(
                "X (#7000)",
                "changelog:Internal,Changelog,Improve changelog tool flexibility for commit messages"
            ),
            one(
                Category::Internal,
                "Changelog",
                "Improve changelog tool flexibility for commit messages"
            )
        );
    }

    #[test]
    fn fields_are_trimmed() {
        assert_eq!(
            changes("X", "changelog:  Internal ,  Security ,   upgrade  "),
            one(Category::Internal, "Security", "Upgrade")
        );
        assert_eq!(
            problems("X", "changelog: Internal,   , y"),
            vec!["changelog line `changelog: Internal,   , y` has a blank subcategory"]
        );
    }

    #[test]
    fn commas_and_symbols() {
        assert_eq!(
            changes(
                "X",
                "changelog: Bug Fixes, SAML/OIDC (SP), Fix redirects, logouts, & 500s"
            ),
            one(
                Category::BugFixes,
                "SAML/OIDC (SP)",
                "Fix redirects, logouts, & 500s"
            )
        );
    }

    #[test]
    fn dependabot_sign_off_even_with_trailing_whitespace() {
        let want = one(
            Category::Internal,
            "Dependencies",
            "Update dependencies to latest versions",
        );
        let body = "Bumps [rack](https://github.com/rack/rack) from 2.2.3 to 2.2.4.\n\n---\n\
                    updated-dependencies:\n- dependency-name: rack\n...\n\n";
        for line in [
            "Signed-off-by: dependabot[bot] <support@github.com>",
            "Signed-off-by: dependabot[bot] <support@github.com>  \t",
        ] {
            assert_eq!(
                changes(
                    "Bump rack from 2.2.3 to 2.2.4 (#6500)",
                    &format!("{body}{line}")
                ),
                want
            );
        }
        // Not the sign-off line itself.
        assert!(changes("X", "  Signed-off-by: dependabot[bot] <support@github.com>").is_empty());
    }

    #[test]
    fn reverts() {
        let sha = "5b2fb1ac1a0b2e0b2a4b2a6c1d3f2b9ae0a1b2c3";
        let want = one(
            Category::BugFixes,
            "Code Revert",
            &format!("Revert changes introduced in {sha}"),
        );
        assert_eq!(
            changes(
                "Revert \"LG-1: Add a thing (#7001)\" (#7002)",
                &format!("This reverts commit {sha}.")
            ),
            want
        );
        assert_eq!(
            changes("Revert \"x\"", &format!("* This reverts commit {sha}")),
            want
        );
        // Only for `Revert ` subjects.
        assert!(changes("Undo x", &format!("This reverts commit {sha}.")).is_empty());
        assert!(changes("Revert", "This reverts commit .").is_empty());
    }

    #[test]
    fn every_valid_line_of_a_squash_commit_counts() {
        let body = "* add check\n\n* changelog: Internal, Logging, Quieter logs\n\n\
                    * changelog: Bug Fixes, Webauthn, Fix the error flow\n\n* fix linting";
        assert_eq!(
            changes("LG-5515: update platform auth (#5976)", body),
            vec![
                (Category::Internal, "Logging".into(), "Quieter logs".into()),
                (
                    Category::BugFixes,
                    "Webauthn".into(),
                    "Fix the error flow".into()
                ),
            ]
        );
    }

    #[test]
    fn unknown_category_is_a_problem_and_hides_nothing() {
        let body = "* changelog: Improvements, Webauthn, Better errors\n\
                    * changelog: Internal, Logging, Quieter logs";
        let outcome = read(&commit("X (#1)", body));
        assert_eq!(
            outcome,
            Outcome::Read {
                changes: vec![Change {
                    category: Category::Internal,
                    subcategory: "Logging".into(),
                    change: "Quieter logs".into()
                }],
                problems: vec![
                    "unknown category `Improvements` (did you mean `User-Facing Improvements`?)"
                        .into()
                ],
            }
        );
    }

    #[test]
    fn subject_is_the_last_resort_and_keeps_its_pr_number() {
        assert_eq!(
            changes("changelog: Internal, CI, Faster builds (#42)", "some prose"),
            one(Category::Internal, "CI", "Faster builds (#42)")
        );
        assert_eq!(
            changes(
                "changelog: Internal, CI, From the subject",
                "changelog: Internal, CI, From the body"
            ),
            one(Category::Internal, "CI", "From the body")
        );
    }

    #[test]
    fn no_line_and_near_misses() {
        assert_eq!(
            read(&commit("LG-5629 account buttons part 2 (#5945)", "")),
            Outcome::Read {
                changes: vec![],
                problems: vec![]
            }
        );
        let p = problems("X", "- changelog: Internal, Logging, Quieter logs");
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("malformed changelog line"), "{p:?}");
    }

    #[test]
    fn pr_numbers() {
        assert_eq!(pr_number("Upgrade Rails to 6.1.4.7 (#6041)"), Some(6041));
        assert_eq!(pr_number("Fix (#12) and more"), Some(12));
        assert_eq!(pr_number("Fix (#12) and (#13)"), Some(13));
        assert_eq!(
            pr_number("Revert \"Add a thing (#7001)\" (#7002)"),
            Some(7002)
        );
        assert_eq!(pr_number("Revert \"Add a thing (#7001)\""), Some(7001));
        assert_eq!(pr_number("Fix (#) then (#x) then (#77)"), Some(77));
        assert_eq!(
            pr_number("Merge pull request #9344 from 18F/stages/rc-2024-01-02"),
            None
        );
        assert_eq!(pr_number("No number #5"), None);
        assert_eq!(pr_number("Huge (#99999999999999999999999)"), None);
    }
}
