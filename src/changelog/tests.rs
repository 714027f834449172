//! Whole-changelog tests: the identity-idp fixture and spec cases, and the fixed defects.

use super::*;

const IDP: &str = "https://github.com/18F/identity-idp";

/// The fixture's commits in git-log order (newest first).
fn fixture() -> Vec<Commit> {
    let doc: serde_json::Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/changelog/identity-idp.json"
    ))
    .unwrap();
    let mut commits: Vec<Commit> = doc["commits"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, c)| Commit {
            sha: format!("{:07x}{}", i + 1, "0".repeat(33)),
            subject: c["subject"].as_str().unwrap().to_string(),
            body: c["body"].as_str().unwrap().to_string(),
        })
        .collect();
    commits.reverse();
    commits
}

fn named(name: &str) -> Commit {
    let doc: serde_json::Value = serde_json::from_str(include_str!(
        "../../tests/fixtures/changelog/identity-idp.json"
    ))
    .unwrap();
    let c = doc["commits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap();
    Commit {
        sha: format!("{:07x}{}", name.len(), "0".repeat(33)),
        subject: c["subject"].as_str().unwrap().to_string(),
        body: c["body"].as_str().unwrap().to_string(),
    }
}

fn commit(n: u32, subject: &str, body: &str) -> Commit {
    Commit {
        sha: format!("{n:07x}{}", "0".repeat(33)),
        subject: subject.into(),
        body: body.into(),
    }
}

#[test]
fn fixture_yields_ten_lines_one_skip_one_invalid() {
    let commits = fixture();
    assert_eq!(commits.len(), 12);
    let lines: usize = commits
        .iter()
        .map(|c| match entry::read(c) {
            entry::Outcome::Read { changes, .. } => changes.len(),
            entry::Outcome::Skipped => 0,
        })
        .sum();
    assert_eq!(lines, 10);
    let log = build(&commits, Some(IDP.into()));
    assert_eq!(log.commits, 12);
    assert_eq!(log.skipped.len(), 1);
    assert_eq!(
        log.skipped[0].subject,
        "Add LOGIN_TASK_LOG_LEVEL env var (#6037)"
    );
    assert_eq!(log.invalid.len(), 1);
    assert_eq!(
        log.invalid[0].subject,
        "LG-5629 account buttons part 2 (#5945)"
    );
    assert_eq!(log.invalid[0].reason, NO_LINE);
    assert_eq!(log.entries.len(), 8, "identical lines grouped");
    assert_eq!(
        log.markdown(),
        include_str!("../../tests/fixtures/changelog/identity-idp.md")
    );
    assert!(log.check(false).is_ok());
    let err = crate::error::report(&log.check(true).unwrap_err());
    assert_eq!(err.code, 3);
}

#[test]
fn spec_format_changelog() {
    let commits: Vec<Commit> = [
        "squashed_commit_invalid",
        "squashed_commit_with_one_commit",
        "squashed_commit_with_skip",
        "squashed_commit_with_duplicate_pr",
        "squashed_commit_with_multiple_commits",
        "squashed_commit_2",
    ]
    .into_iter()
    .map(named)
    .collect();
    let log = build(&commits, Some(IDP.into()));
    assert_eq!(
        log.markdown(),
        "## User-Facing Improvements\n\
         - Webauthn: Provide better error flow for users who may not be able to leverage webauthn \
         (LG-5515) ([#5976](https://github.com/18F/identity-idp/pull/5976))\n\
         \n\
         ## Internal\n\
         - Logging: Update logging flow ([#9999](https://github.com/18F/identity-idp/pull/9999))\n\
         - Security: Upgrade Rails to patch vulnerability \
         ([#6041](https://github.com/18F/identity-idp/pull/6041), \
         [#6042](https://github.com/18F/identity-idp/pull/6042))\n"
    );
}

#[test]
fn spec_skip_and_invalid() {
    let log = build(
        &[
            named("squashed_commit_invalid"),
            named("squashed_commit_with_one_commit"),
            named("squashed_commit_with_skip"),
        ],
        None,
    );
    assert_eq!(log.entries.len(), 1);
    assert_eq!(log.entries[0].category, Category::Internal);
    assert_eq!(log.entries[0].subcategory, "Security");
    assert_eq!(
        log.entries[0].change,
        "Upgrade Rails to patch vulnerability"
    );
    assert_eq!(log.entries[0].pull_requests, vec![6041]);
    assert_eq!(
        log.invalid
            .iter()
            .map(|i| i.subject.as_str())
            .collect::<Vec<_>>(),
        vec!["LG-5629 account buttons part 2 (#5945)"]
    );
}

#[test]
fn spec_sorts_by_subcategory() {
    let log = build(
        &[
            named("squashed_commit_with_one_commit"),
            named("squashed_commit_2"),
        ],
        Some(IDP.into()),
    );
    assert_eq!(
        log.markdown(),
        "## Internal\n\
         - Logging: Update logging flow ([#9999](https://github.com/18F/identity-idp/pull/9999))\n\
         - Security: Upgrade Rails to patch vulnerability \
         ([#6041](https://github.com/18F/identity-idp/pull/6041))\n"
    );
}

#[test]
fn subcategories_sort_ignoring_case_then_change() {
    let log = build(
        &[
            commit(1, "a (#1)", "changelog: Internal, banana, Second"),
            commit(2, "b (#2)", "changelog: Internal, Banana, First"),
            commit(3, "c (#3)", "changelog: Internal, apple, Zed"),
            commit(4, "d (#4)", "changelog: Internal, Apple, Alpha"),
        ],
        None,
    );
    assert_eq!(
        log.markdown(),
        "## Internal\n\
         - Apple: Alpha (#4)\n\
         - apple: Zed (#3)\n\
         - Banana: First (#2)\n\
         - banana: Second (#1)\n"
    );
}

#[test]
fn pr_links_are_deduplicated_and_sorted_numerically() {
    let line = "changelog: Internal, Deps, Bump gems";
    let log = build(
        &[
            commit(1, "Bump gems (#10000)", line),
            commit(2, "Bump gems again (#9999)", line),
            commit(3, "Bump gems, fixup (#10000)", line),
            commit(4, "Bump gems directly", line),
        ],
        Some(IDP.into()),
    );
    assert_eq!(log.entries.len(), 1);
    assert_eq!(log.entries[0].pull_requests, vec![9999, 10000]);
    assert_eq!(log.entries[0].commits.len(), 4);
    assert_eq!(
        log.markdown(),
        "## Internal\n- Deps: Bump gems ([#9999](https://github.com/18F/identity-idp/pull/9999), \
         [#10000](https://github.com/18F/identity-idp/pull/10000))\n"
    );
}

#[test]
fn different_subcategories_are_not_merged() {
    let log = build(
        &[
            commit(1, "x (#1)", "changelog: Internal, Deps, Bump gems"),
            commit(2, "y (#2)", "changelog: Internal, Gems, Bump gems"),
        ],
        None,
    );
    assert_eq!(
        log.markdown(),
        "## Internal\n- Deps: Bump gems (#1)\n- Gems: Bump gems (#2)\n"
    );
}

#[test]
fn output_does_not_depend_on_commit_order() {
    let mut commits = fixture();
    let want = build(&commits, Some(IDP.into())).markdown();
    commits.rotate_left(5);
    commits.swap(0, 3);
    assert_eq!(build(&commits, Some(IDP.into())).markdown(), want);
}

#[test]
fn without_a_link_base_numbers_are_plain() {
    let log = build(&fixture(), None);
    let md = log.markdown();
    assert!(!md.contains("https://"), "{md}");
    assert!(
        md.contains("- Security: Upgrade Rails to patch vulnerability (#6041, #6042)\n"),
        "{md}"
    );
}

#[test]
fn entries_without_a_pr_number_have_no_parentheses() {
    let log = build(
        &[commit(
            1,
            "Merge pull request #9344 from 18F/stages/rc-2024-01-02",
            "changelog: Internal, Release, Merge the RC",
        )],
        Some(IDP.into()),
    );
    assert_eq!(log.markdown(), "## Internal\n- Release: Merge the RC\n");
}

#[test]
fn unknown_category_is_invalid_with_did_you_mean_not_dropped() {
    let log = build(
        &[commit(
            1,
            "LG-1 Something (#5)",
            "changelog: Improvements, Webauthn, Better errors",
        )],
        None,
    );
    assert!(log.entries.is_empty());
    assert_eq!(log.invalid.len(), 1);
    assert_eq!(
        log.invalid[0].describe(),
        "0000001 \"LG-1 Something (#5)\": unknown category `Improvements` (did you mean \
         `User-Facing Improvements`?)"
    );
    let r = crate::error::report(&log.check(false).unwrap_err());
    assert_eq!(r.code, 3);
    assert_eq!(
        r.message,
        "a valid changelog line was not found in the range (1 commit)"
    );
    let hint = r.hint.unwrap();
    assert!(
        hint.contains("changelog: CATEGORY, SUBCATEGORY, CHANGE"),
        "{hint}"
    );
    assert!(hint.contains(&Category::list()), "{hint}");
    assert!(hint.contains("[skip changelog]"), "{hint}");
}

#[test]
fn case_insensitive_categories_and_externals() {
    let log = build(
        &[
            commit(1, "a (#1)", "changelog: INTERNAL, Ops, Shout"),
            commit(2, "b (#2)", "changelog: Externals, Ops, Whisper"),
        ],
        None,
    );
    assert_eq!(log.markdown(), "## Internal\n- Ops: Shout (#1)\n");
    assert_eq!(log.invalid.len(), 1);
    assert!(log.invalid[0].reason.contains("did you mean `Internal`?"));
}

#[test]
fn a_commit_with_a_valid_and_a_bad_line_counts_and_is_listed() {
    let log = build(
        &[commit(
            1,
            "Squash (#8)",
            "* changelog: Internal, Ops, Good\n* changelog: Accessibility, Forms, Labels",
        )],
        None,
    );
    assert_eq!(log.markdown(), "## Internal\n- Ops: Good (#8)\n");
    assert_eq!(log.invalid.len(), 1);
    assert!(log.check(false).is_ok());
    assert!(log.check(true).is_err());
}

#[test]
fn include_invalid_block_is_separate_and_last() {
    let log = build(&fixture(), None);
    let md = log.markdown_with_invalid();
    let (changes, block) = md.split_once("\n## Invalid Changelog Entries\n").unwrap();
    assert_eq!(changes, log.markdown());
    assert_eq!(
        block,
        "- 0000006 \"LG-5629 account buttons part 2 (#5945)\": no `changelog:` line\n"
    );
    // Nothing invalid: nothing appended.
    let clean = build(&fixture()[..2], None);
    assert_eq!(clean.markdown_with_invalid(), clean.markdown());
    // Only invalid commits: the block alone.
    let only = build(&[named("squashed_commit_invalid")], None);
    assert!(only
        .markdown_with_invalid()
        .starts_with("## Invalid Changelog Entries\n- "));
}

#[test]
fn skip_marker_alone_is_enough() {
    let log = build(
        &[
            named("squashed_commit_with_skip"),
            named("squashed_commit_invalid"),
        ],
        None,
    );
    assert!(log.entries.is_empty());
    assert_eq!(log.markdown(), "");
    assert!(log.check(false).is_ok());
}

#[test]
fn empty_range_is_a_preflight_failure() {
    let log = build(&[], None);
    let r = crate::error::report(&log.check(false).unwrap_err());
    assert_eq!(r.code, 3);
    assert_eq!(r.message, "the range has no commits");
}

#[test]
fn json_shape() {
    let mut log = build(&fixture(), Some(IDP.into()));
    log.range = Some(Range {
        base: "origin/stages/prod".into(),
        base_sha: "a".repeat(40),
        source: "HEAD".into(),
        source_sha: "b".repeat(40),
    });
    let v = serde_json::to_value(&log).unwrap();
    assert_eq!(v["base"], "origin/stages/prod");
    assert_eq!(v["commits"], 12);
    assert_eq!(v["link_base"], IDP);
    assert_eq!(v["entries"][0]["category"], "User-Facing Improvements");
    assert_eq!(v["entries"][0]["subcategory"], "Sign in");
    assert_eq!(v["entries"][0]["pull_requests"][0], 6060);
    assert_eq!(v["invalid"][0]["short_sha"], "0000006");
    assert_eq!(
        v["skipped"][0]["subject"],
        "Add LOGIN_TASK_LOG_LEVEL env var (#6037)"
    );
}

#[test]
fn default_base_comes_from_settings() {
    let settings = crate::config::Config::defaults().settings;
    assert_eq!(default_base(&settings), "origin/stages/prod");
}
