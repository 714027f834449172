//! Tests of `cut-rc`: real repositories with a bare origin, a local HTTP server as staging.
//! The scenarios that push run twice: through libgit2 and through the `git` program
//! (`LOGIN_RELEASE_GIT_FETCH_WITH_CLI=true`).

use std::process::Output;

use serde_json::{json, Value};

use crate::support::git::Repos;
use crate::support::http::{HttpServer, Response};
use crate::support::{cmd, stderr, stdout};

/// The pinned clock of these tests: the branch date is 2026-11-20 (UTC).
pub(crate) const NOW: &str = "2026-11-20T18:48:08Z";

/// Runs a scenario once per transport: `<name>::libgit2` and `<name>::git_program`.
macro_rules! both_transports {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn libgit2() {
                super::$name(false)
            }
            #[test]
            fn git_program() {
                super::$name(true)
            }
        }
    )*};
}
pub(crate) use both_transports;

/// The binary, in the working clone, with the pinned clock and the chosen transport.
pub(crate) fn release_cmd(r: &Repos, cli: bool) -> assert_cmd::Command {
    let mut c = cmd(&r.home);
    c.arg("-C")
        .arg(&r.work)
        .env("LOGIN_RELEASE_NOW", NOW)
        // LOGIN_RELEASE_NOW is honoured only with a loopback endpoint (nothing listens there).
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env(
            "LOGIN_RELEASE_GIT_FETCH_WITH_CLI",
            if cli { "true" } else { "false" },
        );
    c
}

/// Every ref of the bare origin with its target, one per line (to compare before and after).
pub(crate) fn origin_refs(r: &Repos) -> String {
    r.origin_git(&["for-each-ref", "--format=%(refname) %(objectname)"])
}

/// Every ref of the working clone.
pub(crate) fn work_refs(r: &Repos) -> String {
    r.git(&["for-each-ref", "--format=%(refname) %(objectname)"])
}

/// Asserts a failure: the exit code, exactly one `error:` line starting with `error`, and a
/// `help:` line containing `help`.
pub(crate) fn assert_fails(out: &Output, code: i32, error: &str, help: &str) {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr:\n{err}\nstdout:\n{}",
        stdout(out)
    );
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line expected:\n{err}");
    assert!(
        errors[0].starts_with(&format!("error: {error}")),
        "error line {:?} should start with {error:?}",
        errors[0]
    );
    let helps: Vec<&str> = err.lines().filter(|l| l.starts_with("help:")).collect();
    assert_eq!(helps.len(), 1, "one help line expected:\n{err}");
    assert!(
        helps[0].contains(help),
        "help line {:?} should contain {help:?}",
        helps[0]
    );
}

/// A deploy.json as chef writes it on staging.
pub(crate) fn deploy_json(sha: &str) -> Value {
    json!({
        "env": "staging",
        "branch": "main",
        "user": "chef",
        "git_sha": sha,
        "git_date": "2026-11-19T17:02:11Z",
        "chef_run_timestamp": "20261119170533",
        "instance_id": "i-0a1b2c3d4e5f67890",
        "sha": sha,
        "timestamp": "20261119170533"
    })
}

struct World {
    r: Repos,
    http: HttpServer,
    prod: String,
    staging: String,
}

impl World {
    /// origin: `stages/prod` at the first commit, `main` three commits ahead; staging runs main.
    fn new() -> Self {
        let mut r = Repos::new();
        let prod = r.git(&["rev-parse", "HEAD"]);
        r.git(&["push", "-q", "origin", "main:stages/prod"]);
        r.commit(
            "Add the account page (#101)",
            "changelog: User-Facing Improvements, Account, Add the account page",
        );
        r.commit(
            "Fix a typo (#102)",
            "changelog: Bug Fixes, Copy, Fix a typo",
        );
        let staging = r.commit(
            "Bump gems (#103)",
            "changelog: Internal, Dependencies, Bump gems",
        );
        r.git(&["push", "-q", "origin", "main"]);
        let http = HttpServer::start();
        http.route(
            "GET",
            "/api/deploy.json",
            Response::json(200, deploy_json(&staging)),
        );
        World {
            r,
            http,
            prod,
            staging,
        }
    }

    fn url(&self) -> String {
        format!("{}/api/deploy.json", self.http.url)
    }

    /// A patch release went to prod (prod has a commit main lacks) after the full RC was cut
    /// from main: what `--true-up` is for. Returns prod's new tip.
    fn patch_released_after_the_rc(&mut self) -> String {
        self.r
            .git(&["switch", "-q", "-c", "prod-work", "origin/stages/prod"]);
        self.r
            .commit_file("hotfix.txt", "hotfix\n", "Hotfix (#104)");
        self.r
            .git(&["push", "-q", "origin", "prod-work:stages/prod"]);
        self.r.git(&["switch", "-q", "main"]);
        self.r.git(&[
            "push",
            "-q",
            "origin",
            &format!("{}:refs/heads/{BRANCH}", self.staging),
        ]);
        self.r.git(&["rev-parse", "prod-work"])
    }

    fn cut(&self, cli: bool, extra: &[&str]) -> Output {
        release_cmd(&self.r, cli)
            .env("LOGIN_RELEASE_STAGING_IDP", self.url())
            .arg("cut-rc")
            .args(extra)
            .output()
            .unwrap()
    }
}

const BRANCH: &str = "stages/rc-2026-11-20";

fn cuts_from_staging(cli: bool) {
    let w = World::new();
    let head_before = w.r.git(&["symbolic-ref", "HEAD"]);
    let out = w.cut(cli, &["--rc", "112", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let branch_ref = format!("refs/heads/{BRANCH}");
    // origin has the branch at staging's commit; so does the local branch, tracking it.
    assert_eq!(
        w.r.origin_ref(&branch_ref).as_deref(),
        Some(w.staging.as_str())
    );
    assert_eq!(w.r.git(&["rev-parse", &branch_ref]), w.staging);
    assert_eq!(
        w.r.git(&[
            "rev-parse",
            "--abbrev-ref",
            &format!("{BRANCH}@{{upstream}}")
        ]),
        format!("origin/{BRANCH}")
    );
    // Nothing checked out, nothing in the work tree changed.
    assert_eq!(w.r.git(&["symbolic-ref", "HEAD"]), head_before);
    assert_eq!(w.r.git(&["status", "--porcelain"]), "");
    // staging was asked once.
    assert_eq!(w.http.requests_to("GET", "/api/deploy.json").len(), 1);
    // The summary.
    assert!(text.contains(&format!("branch     {BRANCH}")), "{text}");
    assert!(
        text.contains(&format!("sha        {}", w.staging)),
        "{text}"
    );
    assert!(text.contains("pr title   Deploy RC 112 to Prod"), "{text}");
    assert!(text.contains("pr base    stages/prod"), "{text}");
    let file = w.r.work.join(".git/login-release/rc-changelog.md");
    assert!(
        text.contains(&format!("changelog  {}", file.display())),
        "{text}"
    );
    let body = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        body,
        "## User-Facing Improvements\n- Account: Add the account page (#101)\n\n\
         ## Bug Fixes\n- Copy: Fix a typo (#102)\n\n\
         ## Internal\n- Dependencies: Bump gems (#103)\n"
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("ok: pushed {BRANCH} to origin at {}", w.staging)),
        "{err}"
    );
    let via = if cli {
        "via the git program)"
    } else {
        "via libgit2)"
    };
    assert!(err.contains(via), "{err}");
}

fn rerunning_a_done_cut_changes_nothing(cli: bool) {
    let w = World::new();
    let first = w.cut(cli, &["--yes"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = origin_refs(&w.r);
    let again = w.cut(cli, &["--yes"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains(&format!("origin/{BRANCH} is already at")),
        "{}",
        stderr(&again)
    );
    assert_eq!(origin_refs(&w.r), before);
}

fn push_rejected_changes_nothing(cli: bool) {
    let w = World::new();
    // A stale lock on origin makes it refuse the new ref, whichever transport pushes.
    let lock = w.r.origin.join(format!("refs/heads/{BRANCH}.lock"));
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(&lock, "").unwrap();
    let before = work_refs(&w.r);
    let out = w.cut(cli, &["--yes"]);
    assert_fails(
        &out,
        1,
        &format!("origin rejected the push of refs/heads/{BRANCH}"),
        "push rights",
    );
    assert_eq!(w.r.origin_ref(&format!("refs/heads/{BRANCH}")), None);
    // No local branch either: it is created only after origin has the push.
    let after = work_refs(&w.r);
    assert!(!after.contains(BRANCH), "{after}");
    assert_eq!(before, after);
}

fn patch_cherry_picks_onto_prod(cli: bool) {
    let w = World::new();
    let fix = w.r.git(&["rev-parse", "main~1"]);
    let out = w.cut(
        cli,
        &["--patch", "--cherry-pick", &fix, "--rc", "112.1", "--yes"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let patch = format!("{BRANCH}-patch1");
    let tip =
        w.r.origin_ref(&format!("refs/heads/{patch}"))
            .expect("patch branch pushed");
    assert_eq!(w.r.git(&["rev-parse", &format!("{tip}^")]), w.prod);
    let msg = w.r.git(&["log", "-1", "--format=%B", &tip]);
    assert!(msg.starts_with("Fix a typo (#102)"), "{msg}");
    assert!(
        msg.contains(&format!("(cherry picked from commit {fix})")),
        "{msg}"
    );
    // The author is kept; the change is the fix's only.
    assert_eq!(
        w.r.git(&["log", "-1", "--format=%an", &tip]),
        "Fixture Author"
    );
    assert_eq!(
        w.r.git(&["diff", "--name-only", &w.prod, &tip]),
        w.r.git(&["diff", "--name-only", &format!("{fix}^"), &fix])
    );
    let text = stdout(&out);
    assert!(
        text.contains("pr title   Deploy RC 112.1 to Prod"),
        "{text}"
    );
    assert!(text.contains(&format!("branch     {patch}")), "{text}");
    // The next patch of the day is patch2.
    let out = w.cut(cli, &["--patch", "--cherry-pick", &fix, "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(w
        .r
        .origin_ref(&format!("refs/heads/{BRANCH}-patch2"))
        .is_some());
}

fn true_up_records_an_ours_merge(cli: bool) {
    let mut w = World::new();
    let prod = w.patch_released_after_the_rc();
    let out = w.cut(cli, &["--true-up", "--date", "2026-11-20", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tip = w.r.origin_ref(&format!("refs/heads/{BRANCH}")).unwrap();
    assert_eq!(
        w.r.git(&["rev-list", "--parents", "-n", "1", &tip]),
        format!("{tip} {} {prod}", w.staging)
    );
    assert_eq!(
        w.r.git(&["rev-parse", &format!("{tip}^{{tree}}")]),
        w.r.git(&["rev-parse", &format!("{}^{{tree}}", w.staging)])
    );
    assert_eq!(
        w.r.git(&["log", "-1", "--format=%s", &tip]),
        format!("Merge remote-tracking branch 'origin/stages/prod' into {BRANCH}")
    );
    // Again: nothing to merge.
    let before = origin_refs(&w.r);
    let again = w.cut(cli, &["--true-up", "--date", "2026-11-20", "--yes"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("nothing to merge"),
        "{}",
        stderr(&again)
    );
    assert_eq!(origin_refs(&w.r), before);
}

both_transports!(
    cuts_from_staging,
    rerunning_a_done_cut_changes_nothing,
    push_rejected_changes_nothing,
    patch_cherry_picks_onto_prod,
    true_up_records_an_ours_merge,
);

#[test]
fn pre_receive_hook_rejection_through_the_git_program() {
    let w = World::new();
    let hook = w.r.origin.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'rc branches are frozen' >&2\nexit 1\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(&hook).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&hook, perms).unwrap();
    let out = w.cut(true, &["--yes"]);
    assert_fails(
        &out,
        1,
        &format!("origin rejected the push of refs/heads/{BRANCH} (remote rejected: pre-receive hook declined; the remote said: rc branches are frozen)"),
        "push rights",
    );
    assert_eq!(w.r.origin_ref(&format!("refs/heads/{BRANCH}")), None);
    assert!(!work_refs(&w.r).contains(BRANCH));
}

#[test]
fn json_output_shape() {
    let w = World::new();
    let out = w.cut(false, &["--yes", "--output", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["command"], "cut-rc");
    assert_eq!(doc["status"], "applied");
    assert_eq!(doc["mode"], "cut");
    assert_eq!(doc["branch"], BRANCH);
    assert_eq!(doc["sha"], w.staging.as_str());
    assert_eq!(doc["base"], "stages/prod");
    assert_eq!(doc["rc"], Value::Null);
    assert_eq!(
        doc["pr_title"],
        Value::Null,
        "decided when the PR is opened"
    );
    assert_eq!(doc["source"]["kind"], "staging");
    assert_eq!(doc["source"]["deploy"]["key"], "git_sha");
    assert_eq!(doc["source"]["deploy"]["sha"], w.staging.as_str());
    assert_eq!(doc["changelog_written"], true);
    assert_eq!(doc["local_branch"]["local"], "created");
    assert!(doc["changelog_file"]
        .as_str()
        .unwrap()
        .ends_with(".git/login-release/rc-changelog.md"));
    let steps = doc["plan"]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["action"], "push");
    assert_eq!(steps[0]["params"]["new"], w.staging.as_str());
    assert_eq!(steps[0]["params"]["old"], Value::Null);
}

#[test]
fn text_without_rc_says_when_the_number_is_decided() {
    let w = World::new();
    let file = w.r.dir.path().join("pr-body.md");
    let out = w.cut(
        false,
        &["--yes", "--changelog-file", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("pr title   decided when the PR is opened (pass --rc N to set it now)"),
        "{text}"
    );
    assert!(
        text.contains(&format!("changelog  {}", file.display())),
        "{text}"
    );
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("- Dependencies: Bump gems (#103)\n"));
    assert!(!w.r.work.join(".git/login-release").exists());
}

#[test]
fn dry_run_changes_nothing() {
    let w = World::new();
    let before = (origin_refs(&w.r), work_refs(&w.r));
    let out = w.cut(false, &["--dry-run", "--rc", "112"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("Plan: Cut {BRANCH} at ")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "1. push origin refs/heads/{BRANCH}: new branch at {}",
            w.staging
        )),
        "{text}"
    );
    assert!(text.contains("(not written: dry run)"), "{text}");
    assert!(stderr(&out).contains("dry run: nothing was changed"));
    assert_eq!((origin_refs(&w.r), work_refs(&w.r)), before);
    assert!(!w.r.work.join(".git/login-release").exists());
}

#[test]
fn needs_yes_without_a_terminal() {
    let w = World::new();
    let before = origin_refs(&w.r);
    let out = w.cut(false, &[]);
    assert_fails(
        &out,
        3,
        "confirmation needed, but there is no terminal to ask on",
        "--yes",
    );
    assert_eq!(origin_refs(&w.r), before);
}

#[test]
fn source_flag_cuts_from_a_ref_without_asking_staging() {
    let w = World::new();
    let out = w.cut(false, &["--source", "origin/main~1", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = w.r.git(&["rev-parse", "main~1"]);
    assert_eq!(
        w.r.origin_ref(&format!("refs/heads/{BRANCH}")),
        Some(expected)
    );
    assert!(w.http.requests().is_empty(), "staging must not be asked");
}

#[test]
fn unknown_source() {
    let w = World::new();
    let before = origin_refs(&w.r);
    let out = w.cut(false, &["--source", "no-such-ref", "--yes"]);
    assert_fails(&out, 3, "unknown --source `no-such-ref`", "a full sha");
    assert_eq!(origin_refs(&w.r), before);
}

#[test]
fn existing_branch_is_a_preflight_failure() {
    let w = World::new();
    w.r.git(&[
        "push",
        "-q",
        "origin",
        &format!("{}:refs/heads/{BRANCH}", w.prod),
    ]);
    let before = origin_refs(&w.r);
    let out = w.cut(false, &["--yes"]);
    assert_fails(
        &out,
        3,
        &format!("{BRANCH} already exists on origin"),
        "pass --date for another release date, or --patch",
    );
    assert_eq!(origin_refs(&w.r), before);
}

#[test]
fn existing_local_branch_is_a_preflight_failure() {
    let w = World::new();
    w.r.git(&["branch", BRANCH, &w.prod]);
    let out = w.cut(false, &["--yes"]);
    assert_fails(
        &out,
        3,
        &format!("a local branch {BRANCH} already exists"),
        "git branch -D",
    );
    assert_eq!(w.r.origin_ref(&format!("refs/heads/{BRANCH}")), None);
}

#[test]
fn date_flag_names_the_branch_and_bad_dates_are_usage_errors() {
    let w = World::new();
    let out = w.cut(false, &["--date", "2026-11-24", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(w.r.origin_ref("refs/heads/stages/rc-2026-11-24").is_some());
    for (bad, why) in [
        ("2026-13-01", "--date `2026-13-01` is not a calendar date"),
        (
            "11/24/2026",
            "--date `11/24/2026` is not a date in the form YYYY-MM-DD",
        ),
    ] {
        let before = origin_refs(&w.r);
        let out = w.cut(false, &["--date", bad, "--yes"]);
        assert_fails(&out, 2, why, "YYYY-MM-DD");
        assert_eq!(origin_refs(&w.r), before);
    }
}

#[test]
fn staging_commit_must_be_on_main() {
    let mut w = World::new();
    w.r.git(&["switch", "-q", "-c", "feature"]);
    let side = w.r.commit("Experiment", "");
    w.r.git(&["push", "-q", "origin", "feature"]);
    w.http.route(
        "GET",
        "/api/side.json",
        Response::json(200, deploy_json(&side)),
    );
    let out = release_cmd(&w.r, false)
        .args([
            "cut-rc",
            "--staging-url",
            &format!("{}/api/side.json", w.http.url),
            "--yes",
        ])
        .output()
        .unwrap();
    assert_fails(
        &out,
        3,
        &format!("{} is not on origin/main", &side[..9]),
        "an RC is cut from origin/main",
    );
    assert_eq!(w.r.origin_ref(&format!("refs/heads/{BRANCH}")), None);
}

#[test]
fn staging_problems_are_reported_with_a_hint() {
    let w = World::new();
    let short = &w.staging[..7];
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    w.http.route(
        "GET",
        "/html",
        Response::text(200, "<html><body>Bad gateway</body></html>"),
    );
    w.http.route(
        "GET",
        "/nosha",
        Response::json(200, json!({"env": "staging", "branch": "main"})),
    );
    w.http.route(
        "GET",
        "/short",
        Response::json(200, json!({"git_sha": short})),
    );
    w.http
        .route("GET", "/unknown", Response::json(200, deploy_json(unknown)));
    w.http.route("GET", "/500", Response::text(500, "oops"));
    // A port nothing listens on: bind one, then free it.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cases: Vec<(String, i32, String, &str)> = vec![
        (
            format!("http://127.0.0.1:{closed}/api/deploy.json"),
            1,
            format!("staging's deploy.json at http://127.0.0.1:{closed}/api/deploy.json is unreachable"),
            "pass --source SHA",
        ),
        (
            format!("{}/500", w.http.url),
            1,
            format!("staging's deploy.json at {}/500 answered HTTP 500", w.http.url),
            "pass --source SHA",
        ),
        (
            format!("{}/html", w.http.url),
            3,
            format!("staging's deploy.json at {}/html is not JSON (it starts with `<html><body>Bad gate`)", w.http.url),
            "--staging-url",
        ),
        (
            format!("{}/nosha", w.http.url),
            3,
            format!("staging's deploy.json at {}/nosha has no `git_sha`", w.http.url),
            "--source SHA",
        ),
        (
            format!("{}/short", w.http.url),
            3,
            format!("staging's deploy.json at {}/short has `git_sha` = `{short}`, which is not a full git sha", w.http.url),
            "--source SHA",
        ),
        (
            format!("{}/unknown", w.http.url),
            3,
            format!("staging runs {unknown} (deploy.json git_sha), which is not in this repository"),
            "pass --source",
        ),
        (
            "http://staging.example.gov/api/deploy.json".to_string(),
            3,
            "refusing plain http for http://staging.example.gov/api/deploy.json".to_string(),
            "use an https URL",
        ),
    ];
    let before = (origin_refs(&w.r), work_refs(&w.r));
    for (url, code, error, help) in cases {
        let out = release_cmd(&w.r, false)
            .args(["cut-rc", "--staging-url", &url, "--yes"])
            .output()
            .unwrap();
        assert_fails(&out, code, &error, help);
        assert_eq!((origin_refs(&w.r), work_refs(&w.r)), before, "{url}");
    }
}

#[test]
fn pki_reads_its_own_staging_url() {
    let w = World::new();
    w.http.route(
        "GET",
        "/pki/deploy.json",
        Response::json(200, deploy_json(&w.prod)),
    );
    let out = release_cmd(&w.r, false)
        .env(
            "LOGIN_RELEASE_STAGING_PKI",
            format!("{}/pki/deploy.json", w.http.url),
        )
        .args(["cut-rc", "pki", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        w.r.origin_ref(&format!("refs/heads/{BRANCH}")),
        Some(w.prod.clone())
    );
    assert_eq!(w.http.requests_to("GET", "/pki/deploy.json").len(), 1);
}

#[test]
fn patch_conflict_aborts_with_nothing_pushed() {
    let mut w = World::new();
    w.r.commit_file("app.txt", "one\n", "Add app.txt (#105)");
    let change = w.r.commit_file("app.txt", "two\n", "Change app.txt (#106)");
    w.r.git(&["push", "-q", "origin", "main"]);
    let before = (origin_refs(&w.r), work_refs(&w.r));
    // prod has no app.txt: changing it there conflicts.
    let out = w.cut(false, &["--patch", "--cherry-pick", &change, "--yes"]);
    assert_fails(
        &out,
        3,
        &format!(
            "cherry-picking {} \"Change app.txt (#106)\" onto origin/stages/prod conflicts in app.txt; nothing was pushed",
            &change[..9]
        ),
        "pick the commits it depends on first",
    );
    assert_eq!((origin_refs(&w.r), work_refs(&w.r)), before);
}

#[test]
fn patch_with_unknown_commit() {
    let w = World::new();
    let out = w.cut(false, &["--patch", "--cherry-pick", "deadbeef", "--yes"]);
    assert_fails(
        &out,
        3,
        "unknown --cherry-pick `deadbeef`",
        "git log origin/main",
    );
}

#[test]
fn true_up_needs_the_rc_branch() {
    let w = World::new();
    let out = w.cut(false, &["--true-up", "--yes"]);
    assert_fails(
        &out,
        3,
        &format!("there is no {BRANCH} on origin to true up"),
        "pass --date of the RC branch",
    );
}

#[test]
fn not_a_repository() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = cmd(home.path())
        .arg("-C")
        .arg(dir.path())
        .args(["cut-rc", "--source", "main", "--yes"])
        .output()
        .unwrap();
    let shown = std::fs::canonicalize(dir.path()).unwrap();
    assert_fails(
        &out,
        3,
        &format!("{} is not in a git repository", shown.display()),
        "pass -C PATH",
    );
}

#[test]
fn no_origin() {
    let w = World::new();
    w.r.git(&["remote", "rename", "origin", "upstream"]);
    let out = w.cut(false, &["--source", "main", "--yes"]);
    assert_fails(
        &out,
        3,
        "the repository has no remote `origin`",
        "set git.remote to one of: upstream",
    );
}

#[test]
fn network_remotes_go_through_the_git_program() {
    let w = World::new();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("https://127.0.0.1:{closed}/18F/identity-idp.git");
    w.r.git(&["remote", "set-url", "origin", &url]);
    let out = w.cut(false, &["--source", "main", "--yes"]);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("fetching origin ({url}, via the git program)")),
        "{err}"
    );
    assert_fails(
        &out,
        1,
        &format!("fetching origin ({url}) failed"),
        "git fetch origin",
    );
}

#[test]
fn insteadof_rewrites_are_followed_and_links_use_the_configured_url() {
    let w = World::new();
    let github = "git@github.com:18F/identity-idp.git";
    let origin = w.r.origin.to_str().unwrap().to_string();
    w.r.git(&["config", &format!("url.{origin}.insteadOf"), github]);
    w.r.git(&["remote", "set-url", "origin", github]);
    let out = w.cut(false, &["--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "fetching origin ({github} -> {origin}, via libgit2)"
        )),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains(&format!(
        "pr url     https://github.com/18F/identity-idp/compare/stages/prod...{BRANCH}?expand=1"
    )));
    assert_eq!(
        w.r.origin_ref(&format!("refs/heads/{BRANCH}")),
        Some(w.staging.clone())
    );
}

/// A token in origin's URL (`https://x-access-token:TOKEN@...`) never reaches any output: the
/// "fetching origin" line, the plan's remote line, the JSON document, -vv diagnostics, the
/// rewritten URL, and git's own error messages.
#[test]
fn credentials_in_remote_urls_never_reach_any_output() {
    const TOKEN: &str = "ghs_SECRETTOKEN0123456789";
    let no_token = |out: &Output| {
        for text in [stdout(out), stderr(out)] {
            assert!(!text.contains(TOKEN), "the token leaked:\n{text}");
        }
    };
    // Rewritten by insteadOf to the local origin: a full run, in text at -vv and in JSON.
    let w = World::new();
    let with_token = format!("https://x-access-token:{TOKEN}@github.com/18F/identity-idp.git");
    let origin = w.r.origin.to_str().unwrap().to_string();
    w.r.git(&["config", &format!("url.{origin}.insteadOf"), &with_token]);
    w.r.git(&["remote", "set-url", "origin", &with_token]);
    let out = w.cut(false, &["--dry-run", "-vv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("fetching origin (https://***@github.com/18F/identity-idp.git -> "),
        "{}",
        stderr(&out)
    );
    no_token(&out);
    let out = w.cut(false, &["--dry-run", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    no_token(&out);
    let out = w.cut(true, &["--yes", "-vv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    no_token(&out);
    for args in [
        &["changelog", "-vv"][..],
        &["changelog", "-o", "json"],
        &["tag-release", "--dry-run", "-vv"],
        &["rollback", "--dry-run", "-vv"],
        &["rollback", "--dry-run", "-o", "json"],
    ] {
        let out = release_cmd(&w.r, false).args(args).output().unwrap();
        no_token(&out);
    }

    // A network URL git cannot reach: its error message quotes the URL.
    let w = World::new();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("https://x-access-token:{TOKEN}@127.0.0.1:{closed}/18F/identity-idp.git");
    w.r.git(&["remote", "set-url", "origin", &url]);
    let out = w.cut(false, &["--source", "main", "--yes", "-vv"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "fetching origin (https://***@127.0.0.1:{closed}/18F/identity-idp.git) failed"
        )),
        "{}",
        stderr(&out)
    );
    no_token(&out);
}

/// Issue 12 item 15: the changelog and the ancestry checks read history a shallow clone does
/// not have. Refused before anything, with the fix.
#[test]
fn a_shallow_clone_is_refused_with_the_fix() {
    let w = World::new();
    let shallow = w.r.dir.path().join("shallow");
    crate::support::git_out(
        w.r.dir.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &format!("file://{}", w.r.origin.display()),
            shallow.to_str().unwrap(),
        ],
    );
    for args in [
        &["cut-rc", "--dry-run"][..],
        &["changelog", "--base", "origin/main"][..],
    ] {
        let out = crate::support::cmd(&w.r.home)
            .env("LOGIN_RELEASE_STAGING_IDP", w.url())
            .arg("-C")
            .arg(&shallow)
            .args(args)
            .output()
            .unwrap();
        assert_fails(
            &out,
            3,
            &format!(
                "{} is a shallow clone: the changelog and the ancestry checks need the whole history",
                shallow.display()
            ),
            "git fetch --unshallow",
        );
    }
}

/// Issue 12 item 15: a true-up moves the local RC branch to what it pushed, but never one that
/// is checked out in another work tree (its files would change under whoever works there).
#[test]
fn a_branch_checked_out_in_another_work_tree_is_never_moved() {
    let mut w = World::new();
    w.patch_released_after_the_rc();
    w.r.git(&["fetch", "-q", "origin"]);
    let other = w.r.dir.path().join("other-tree");
    w.r.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        BRANCH,
        other.to_str().unwrap(),
        &format!("origin/{BRANCH}"),
    ]);
    let before = w.r.git(&["rev-parse", BRANCH]);
    let out = w.cut(false, &["--true-up", "--date", "2026-11-20", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tip = w.r.origin_ref(&format!("refs/heads/{BRANCH}")).unwrap();
    assert_ne!(tip, before, "the true-up pushed a merge");
    assert_eq!(
        w.r.git(&["rev-parse", BRANCH]),
        before,
        "the branch did not move"
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "local branch {BRANCH} left as it was: it is checked out in the work tree {}",
            other.display()
        )),
        "{err}"
    );
}
