//! Tests of `changelog`: real repositories with a bare origin, the built binary.

use crate::support::git::Repos;
use crate::support::{cmd, stderr, stdout};

const FIXTURE: &str = include_str!("../fixtures/changelog/identity-idp.json");
const FIXTURE_MD: &str = include_str!("../fixtures/changelog/identity-idp.md");
const GITHUB_ORIGIN: &str = "git@github.com:18F/identity-idp.git";

/// A clone whose `origin/stages/prod` is the initial commit, with `commits` on `main` above it.
fn repos_with(commits: &[(&str, &str)]) -> Repos {
    let mut r = Repos::new();
    r.git(&["push", "-q", "origin", "main:stages/prod"]);
    r.git(&["fetch", "-q", "origin"]);
    for (subject, body) in commits {
        r.commit(subject, body);
    }
    r
}

/// The identity-idp fixture's 12 commits, oldest first.
fn fixture_commits() -> Vec<(String, String)> {
    let doc: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
    doc["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["subject"].as_str().unwrap().to_string(),
                c["body"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn fixture_repos() -> Repos {
    let commits = fixture_commits();
    let pairs: Vec<(&str, &str)> = commits
        .iter()
        .map(|(s, b)| (s.as_str(), b.as_str()))
        .collect();
    repos_with(&pairs)
}

/// Runs `changelog` in the working clone.
fn run(r: &Repos, args: &[&str]) -> std::process::Output {
    cmd(&r.home)
        .arg("-C")
        .arg(&r.work)
        .arg("changelog")
        .args(args)
        .output()
        .unwrap()
}

fn sha_of(r: &Repos, subject: &str) -> String {
    r.git(&[
        "log",
        "--format=%h",
        "-n1",
        "--fixed-strings",
        "--grep",
        subject,
    ])
}

#[test]
fn fixture_gives_the_exact_markdown_with_links_from_origin() {
    let r = fixture_repos();
    // PR links come from origin's GitHub address; the remote-tracking refs stay as pushed.
    r.git(&["remote", "set-url", "origin", GITHUB_ORIGIN]);
    let out = run(&r, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), FIXTURE_MD);
    let short = sha_of(&r, "LG-5629 account buttons part 2");
    assert_eq!(
        stderr(&out),
        format!(
            "warning: {short} \"LG-5629 account buttons part 2 (#5945)\": no `changelog:` line\n"
        )
    );
}

#[test]
fn links_follow_the_setting_or_are_left_out() {
    let r = repos_with(&[
        (
            "Upgrade Rails (#6041)",
            "changelog: Internal, Security, Upgrade Rails",
        ),
        (
            "Upgrade Rails again (#6042)",
            "changelog: Internal, Security, Upgrade Rails",
        ),
    ]);
    // origin is a local path: no links.
    let out = run(&r, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "## Internal\n- Security: Upgrade Rails (#6041, #6042)\n"
    );
    // The setting wins, even over a GitHub origin.
    r.git(&["remote", "set-url", "origin", GITHUB_ORIGIN]);
    let out = cmd(&r.home)
        .arg("-C")
        .arg(&r.work)
        .arg("changelog")
        .env(
            "LOGIN_RELEASE_GITHUB_WEB_URL",
            "https://github.example.gov/login/idp/",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "## Internal\n- Security: Upgrade Rails \
         ([#6041](https://github.example.gov/login/idp/pull/6041), \
         [#6042](https://github.example.gov/login/idp/pull/6042))\n"
    );
    assert_eq!(stderr(&out), "");
}

#[test]
fn json_has_entries_invalid_skipped_and_the_markdown() {
    let r = fixture_repos();
    r.git(&["remote", "set-url", "origin", GITHUB_ORIGIN]);
    let out = run(&r, &["--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["command"], "changelog");
    assert_eq!(doc["base"], "origin/stages/prod");
    assert_eq!(doc["base_sha"], r.git(&["rev-parse", "origin/stages/prod"]));
    assert_eq!(doc["source"], "HEAD");
    assert_eq!(doc["source_sha"], r.git(&["rev-parse", "HEAD"]));
    assert_eq!(doc["commits"], 12);
    assert_eq!(doc["link_base"], "https://github.com/18F/identity-idp");
    assert_eq!(doc["markdown"], FIXTURE_MD);
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 8);
    let security = entries.last().unwrap();
    assert_eq!(security["category"], "Internal");
    assert_eq!(security["subcategory"], "Security");
    assert_eq!(security["change"], "Upgrade Rails to patch vulnerability");
    assert_eq!(security["pull_requests"], serde_json::json!([6041, 6042]));
    assert_eq!(security["commits"].as_array().unwrap().len(), 2);
    assert_eq!(doc["invalid"].as_array().unwrap().len(), 1);
    assert_eq!(
        doc["invalid"][0]["subject"],
        "LG-5629 account buttons part 2 (#5945)"
    );
    assert_eq!(doc["invalid"][0]["reason"], "no `changelog:` line");
    assert_eq!(
        doc["invalid"][0]["sha"],
        r.git(&["rev-parse", "HEAD~6"]),
        "the sixth commit of twelve"
    );
    assert_eq!(doc["skipped"].as_array().unwrap().len(), 1);
}

#[test]
fn include_invalid_appends_a_separate_block() {
    let r = fixture_repos();
    r.git(&["remote", "set-url", "origin", GITHUB_ORIGIN]);
    let out = run(&r, &["--include-invalid"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let short = sha_of(&r, "LG-5629 account buttons part 2");
    assert_eq!(
        stdout(&out),
        format!(
            "{FIXTURE_MD}\n## Invalid Changelog Entries\n- {short} \"LG-5629 account buttons part \
             2 (#5945)\": no `changelog:` line\n"
        )
    );
    assert_eq!(
        stderr(&out),
        "warning: 1 commit has no valid changelog line (listed under `## Invalid Changelog \
         Entries`)\n"
    );
}

#[test]
fn strict_fails_on_any_invalid_commit() {
    let r = fixture_repos();
    let out = run(&r, &["--strict"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(lines[0].starts_with("warning: "), "{err}");
    assert_eq!(
        lines[1],
        "error: 1 commit in origin/stages/prod..HEAD has an invalid or missing changelog line \
         (--strict)"
    );
    assert!(lines[2].starts_with("help: fix the lines"), "{err}");
}

#[test]
fn no_valid_line_exits_3_with_the_format() {
    let r = repos_with(&[
        ("LG-5629 account buttons part 2 (#5945)", ""),
        (
            "LG-1 Something (#5)",
            "changelog: Improvements, Webauthn, Better errors\n\n- changelog: Internal, CI, x",
        ),
    ]);
    let out = run(&r, &[]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert!(
        lines[0].ends_with(
            "\"LG-1 Something (#5)\": unknown category `Improvements` (did you mean \
             `User-Facing Improvements`?)"
        ),
        "{err}"
    );
    assert!(lines[1].ends_with(": no `changelog:` line"), "{err}");
    assert_eq!(
        lines[2],
        "error: a valid changelog line was not found in origin/stages/prod..HEAD (2 commits)"
    );
    assert!(
        lines[3].starts_with("help: add a line `changelog: CATEGORY, SUBCATEGORY, CHANGE`"),
        "{err}"
    );
    assert!(
        lines[3].contains(
            "categories: User-Facing Improvements, Bug Fixes, Internal, Upcoming Features"
        ),
        "{err}"
    );
    assert!(lines[3].contains("`[skip changelog]`"), "{err}");
}

#[test]
fn near_misses_are_explained() {
    let r = repos_with(&[
        ("Good (#1)", "changelog: Internal, CI, Faster builds"),
        ("Bulleted (#2)", "- changelog: Internal, CI, Cache gems"),
    ]);
    let out = run(&r, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "## Internal\n- CI: Faster builds (#1)\n");
    let err = stderr(&out);
    assert!(
        err.contains(
            "\"Bulleted (#2)\": malformed changelog line `- changelog: Internal, CI, Cache gems`: \
             it must start with `changelog:` or `* changelog:`"
        ),
        "{err}"
    );
}

#[test]
fn skipped_commits_alone_succeed_with_empty_output() {
    let r = repos_with(&[
        ("Tidy README (#3)", "[skip changelog]"),
        ("No line here (#4)", ""),
    ]);
    let out = run(&r, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    assert!(
        err.contains("\"No line here (#4)\": no `changelog:` line"),
        "{err}"
    );
    assert!(
        err.contains("no changelog entries: 1 of 2 commits skipped with `[skip changelog]`"),
        "{err}"
    );
}

#[test]
fn fixed_defects_end_to_end() {
    let r = repos_with(&[
        // Shouted category, surplus spaces.
        ("Shout (#10000)", "changelog:  INTERNAL ,  Deps ,  bump gems"),
        // Same change, lower PR number, arrives later: sorted numerically, de-duplicated.
        ("Bump (#9999)", "changelog: Internal, Deps, Bump gems"),
        ("Bump fixup (#10000)", "changelog: Internal, Deps, Bump gems"),
        // A squash commit with two lines; a revert; `Externals` is not Internal.
        (
            "LG-7 Squash (#7)",
            "* first\n\n* changelog: Bug Fixes, Login, Fix the loop\n\n* changelog: Upcoming Feature, \
             Passkeys, Prepare passkeys\n\n* changelog: Externals, Ops, Nope",
        ),
        (
            "Revert \"LG-7 Squash (#7)\" (#8)",
            "This reverts commit 0123456789abcdef0123456789abcdef01234567.",
        ),
        ("Bump rack (#6500)", "Signed-off-by: dependabot[bot] <support@github.com>   "),
    ]);
    let out = run(&r, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "## Bug Fixes\n\
         - Code Revert: Revert changes introduced in 0123456789abcdef0123456789abcdef01234567 (#8)\n\
         - Login: Fix the loop (#7)\n\
         \n\
         ## Internal\n\
         - Dependencies: Update dependencies to latest versions (#6500)\n\
         - Deps: Bump gems (#9999, #10000)\n\
         \n\
         ## Upcoming Features\n\
         - Passkeys: Prepare passkeys (#7)\n"
    );
    let err = stderr(&out);
    assert!(
        err.contains(
            "\"LG-7 Squash (#7)\": unknown category `Externals` (did you mean `Internal`?)"
        ),
        "{err}"
    );
}

#[test]
fn merge_commits_are_read_and_give_no_pr_number() {
    let mut r = repos_with(&[]);
    r.git(&["checkout", "-q", "-b", "feature"]);
    r.commit(
        "Feature work",
        "changelog: User-Facing Improvements, Sign in, Faster sign in",
    );
    r.git(&["checkout", "-q", "main"]);
    r.merge(
        "feature",
        "Merge pull request #9344 from 18F/feature\n\nchangelog: Internal, Release, Merge it",
    );
    let out = run(&r, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "## User-Facing Improvements\n- Sign in: Faster sign in\n\n## Internal\n- Release: Merge it\n"
    );
}

#[test]
fn base_and_source_flags_and_settings() {
    let mut r = repos_with(&[("One (#1)", "changelog: Internal, A, First")]);
    r.git(&["checkout", "-q", "-b", "rc"]);
    r.commit("Two (#2)", "changelog: Internal, B, Second");
    r.git(&["branch", "-q", "release", "HEAD~1"]);
    r.git(&["checkout", "-q", "main"]);
    // Explicit range.
    let out = run(&r, &["--base", "main", "--source", "rc"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "## Internal\n- B: Second (#2)\n");
    let out = run(&r, &["-b", "origin/stages/prod", "-s", "rc"]);
    assert_eq!(
        stdout(&out),
        "## Internal\n- A: First (#1)\n- B: Second (#2)\n"
    );
    // The default base follows git.remote / git.prod_branch: here `origin/main`, which lacks
    // commit One.
    let out = cmd(&r.home)
        .arg("-C")
        .arg(&r.work)
        .args(["changelog", "--source", "rc"])
        .env("LOGIN_RELEASE_GIT_PROD_BRANCH", "main")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "## Internal\n- A: First (#1)\n- B: Second (#2)\n"
    );
}

#[test]
fn unknown_revisions_exit_3_with_a_hint() {
    let r = repos_with(&[("One (#1)", "changelog: Internal, A, First")]);
    let out = run(&r, &["--base", "no-such-branch"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        "error: unknown revision `no-such-branch` (--base)\n\
         help: check the spelling (`git rev-parse no-such-branch`), or pass another --base REF\n"
    );
    let out = run(&r, &["--source", "origin/nope"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        "error: unknown revision `origin/nope` (--source)\n\
         help: run `git fetch origin` if the branch is new, or pass another --source REF\n"
    );
    // No stages/prod on origin yet: the default base is unknown.
    let r = Repos::new();
    let out = run(&r, &[]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        "error: unknown revision `origin/stages/prod` (--base)\n\
         help: run `git fetch origin` if the branch is new, or pass another --base REF\n"
    );
}

#[test]
fn empty_range_exits_3() {
    let r = repos_with(&[]);
    let out = run(&r, &[]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        "error: origin/stages/prod..HEAD has no commits\n\
         help: the source is already contained in the base: check --base and --source\n"
    );
}

#[test]
fn outside_a_repository_exits_3() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = cmd(home.path())
        .arg("-C")
        .arg(dir.path())
        .arg("changelog")
        .env("GIT_CEILING_DIRECTORIES", dir.path().parent().unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        format!(
            "error: {} is not in a git repository\n\
             help: run this inside a clone of the application's repository, or pass -C PATH\n",
            dir.path().display()
        )
    );
}
