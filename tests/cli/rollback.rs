//! Tests of `rollback` (git half): the revert of the promotion merge on stages/prod, pushed as
//! revert-rc-<N> through both transports.

use std::process::Output;

use serde_json::Value;

use crate::cut_rc::{assert_fails, both_transports, origin_refs, release_cmd, work_refs};
use crate::support::git::Repos;
use crate::support::{stderr, stdout};

const MERGE_SUBJECT: &str = "Merge pull request #9876 from 18F/stages/rc-2026-11-20";

struct World {
    r: Repos,
    /// stages/prod before the promotion.
    before: String,
    /// The promotion merge at the tip of origin's stages/prod.
    merge: String,
}

impl World {
    /// prod at the first commit; an RC branch with two commits merged into prod with GitHub's
    /// merge subject (normal merge, not squash).
    fn new() -> Self {
        Self::with_subject(MERGE_SUBJECT)
    }

    fn with_subject(subject: &str) -> Self {
        let mut r = Repos::new();
        let before = r.git(&["rev-parse", "HEAD"]);
        r.git(&["push", "-q", "origin", "main:stages/prod"]);
        r.commit("Add the account page (#101)", "");
        r.commit("Fix a typo (#102)", "");
        r.git(&["push", "-q", "origin", "main", "main:stages/rc-2026-11-20"]);
        r.git(&["switch", "-q", "-c", "prod", "origin/stages/prod"]);
        let merge = r.merge("origin/stages/rc-2026-11-20", subject);
        r.git(&["push", "-q", "origin", "prod:stages/prod"]);
        r.git(&["switch", "-q", "main"]);
        World { r, before, merge }
    }

    fn rollback(&self, cli: bool, extra: &[&str]) -> Output {
        release_cmd(&self.r, cli)
            .env("LOGIN_RELEASE_GITHUB_REPOSITORY", "18F/identity-idp")
            .arg("rollback")
            .args(extra)
            .output()
            .unwrap()
    }
}

fn reverts_the_promotion_merge(cli: bool) {
    let w = World::new();
    let head_before = w.r.git(&["symbolic-ref", "HEAD"]);
    let out = w.rollback(cli, &["--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let branch = "revert-rc-2026-11-20";
    let tip =
        w.r.origin_ref(&format!("refs/heads/{branch}"))
            .expect("revert branch pushed");
    // One commit on top of the merge, whose tree is the merge's first parent's.
    assert_eq!(w.r.git(&["rev-parse", &format!("{tip}^")]), w.merge);
    assert_eq!(
        w.r.git(&["rev-parse", &format!("{tip}^{{tree}}")]),
        w.r.git(&["rev-parse", &format!("{}^{{tree}}", w.before)])
    );
    assert_eq!(
        w.r.git(&["log", "-1", "--format=%B", &tip]),
        format!(
            "Revert \"{MERGE_SUBJECT}\"\n\nThis reverts commit {}, reversing\nchanges made to {}.",
            w.merge, w.before
        )
    );
    // The local branch tracks it; nothing was checked out.
    assert_eq!(w.r.git(&["rev-parse", branch]), tip);
    assert_eq!(
        w.r.git(&[
            "rev-parse",
            "--abbrev-ref",
            &format!("{branch}@{{upstream}}")
        ]),
        format!("origin/{branch}")
    );
    assert_eq!(w.r.git(&["symbolic-ref", "HEAD"]), head_before);
    assert_eq!(w.r.git(&["status", "--porcelain"]), "");
    let text = stdout(&out);
    assert!(text.contains(&format!("branch    {branch}")), "{text}");
    assert!(text.contains(&format!("sha       {tip}")), "{text}");
    assert!(
        text.contains(&format!("reverts   {} \"{MERGE_SUBJECT}\"", w.merge)),
        "{text}"
    );
    assert!(text.contains("pr base   stages/prod"), "{text}");
    assert!(text.contains("pr title  Revert RC 2026-11-20"), "{text}");
    assert!(
        text.contains(
            "pr url    https://github.com/18F/identity-idp/compare/stages/prod...revert-rc-2026-11-20?expand=1"
        ),
        "{text}"
    );
}

fn rerun_changes_nothing(cli: bool) {
    let w = World::new();
    let out = w.rollback(cli, &["--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = origin_refs(&w.r);
    let again = release_cmd(&w.r, cli)
        .env("LOGIN_RELEASE_NOW", "2026-11-20T19:30:00Z")
        .args(["rollback", "--yes"])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("origin/revert-rc-2026-11-20 already holds the revert of"),
        "{}",
        stderr(&again)
    );
    assert_eq!(origin_refs(&w.r), before);
}

fn push_rejected_changes_nothing(cli: bool) {
    let w = World::new();
    let lock = w.r.origin.join("refs/heads/revert-rc-2026-11-20.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(&lock, "").unwrap();
    let before = (origin_refs(&w.r), work_refs(&w.r));
    let out = w.rollback(cli, &["--yes"]);
    assert_fails(
        &out,
        1,
        "origin rejected the push of refs/heads/revert-rc-2026-11-20",
        "push rights",
    );
    assert_eq!((origin_refs(&w.r), work_refs(&w.r)), before);
}

both_transports!(
    reverts_the_promotion_merge,
    rerun_changes_nothing,
    push_rejected_changes_nothing,
);

#[test]
fn rc_flag_names_the_branch() {
    let w = World::new();
    let out = w.rollback(false, &["--rc", "112", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(w.r.origin_ref("refs/heads/revert-rc-112").is_some());
    assert!(stdout(&out).contains("pr title  Revert RC 112"));
}

#[test]
fn tip_that_is_not_a_merge_is_refused() {
    let mut w = World::new();
    w.r.git(&["switch", "-q", "prod"]);
    let squash = w.r.commit("Deploy RC 231 to Prod (#9344)", "");
    w.r.git(&["push", "-q", "origin", "prod:stages/prod"]);
    let before = (origin_refs(&w.r), work_refs(&w.r));
    let out = w.rollback(false, &["--yes"]);
    assert_fails(
        &out,
        3,
        &format!(
            "the tip of origin/stages/prod ({} \"Deploy RC 231 to Prod (#9344)\") is not a merge (1 parent)",
            &squash[..9]
        ),
        "git revert [-m 1] SHA",
    );
    assert_eq!((origin_refs(&w.r), work_refs(&w.r)), before);
}

#[test]
fn odd_merge_subject_warns_and_needs_rc() {
    let w = World::with_subject("Merge branch 'hotfix' into stages/prod");
    let out = w.rollback(false, &["--yes"]);
    assert_fails(
        &out,
        3,
        "cannot name the revert branch: \"Merge branch 'hotfix' into stages/prod\" names no RC branch",
        "--rc N",
    );
    assert!(stderr(&out).contains("warning: the tip of origin/stages/prod is \"Merge branch 'hotfix' into stages/prod\", which does not look like a promotion merge"));
    assert!(w.r.origin_ref("refs/heads/revert-rc-112").is_none());
    let out = w.rollback(false, &["--rc", "112", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("reverting it anyway"));
    assert!(w.r.origin_ref("refs/heads/revert-rc-112").is_some());
}

#[test]
fn existing_branch_is_a_preflight_failure() {
    let w = World::new();
    w.r.git(&[
        "push",
        "-q",
        "origin",
        &format!("{}:refs/heads/revert-rc-2026-11-20", w.before),
    ]);
    let before = (origin_refs(&w.r), work_refs(&w.r));
    let out = w.rollback(false, &["--yes"]);
    assert_fails(
        &out,
        3,
        "revert-rc-2026-11-20 already exists on origin",
        "pass --rc N for another name",
    );
    assert_eq!((origin_refs(&w.r), work_refs(&w.r)), before);
}

#[test]
fn dry_run_changes_nothing() {
    let w = World::new();
    let before = (origin_refs(&w.r), work_refs(&w.r));
    let out = w.rollback(false, &["--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!(
            "Plan: Revert \"{MERGE_SUBJECT}\" on origin/stages/prod"
        )),
        "{text}"
    );
    assert!(
        text.contains("1. push origin refs/heads/revert-rc-2026-11-20: new branch at"),
        "{text}"
    );
    assert!(
        text.contains("note: then open a PR: base stages/prod <- head revert-rc-2026-11-20"),
        "{text}"
    );
    assert_eq!((origin_refs(&w.r), work_refs(&w.r)), before);
}

#[test]
fn needs_yes_without_a_terminal() {
    let w = World::new();
    let before = (origin_refs(&w.r), work_refs(&w.r));
    let out = w.rollback(false, &[]);
    assert_fails(
        &out,
        3,
        "confirmation needed, but there is no terminal to ask on",
        "--yes",
    );
    assert_eq!((origin_refs(&w.r), work_refs(&w.r)), before);
}

#[test]
fn json_output_shape() {
    let w = World::new();
    let out = w.rollback(false, &["--yes", "--output", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["command"], "rollback");
    assert_eq!(doc["status"], "applied");
    assert_eq!(doc["branch"], "revert-rc-2026-11-20");
    assert_eq!(doc["reverts"]["merge"], w.merge.as_str());
    assert_eq!(doc["reverts"]["mainline_parent"], w.before.as_str());
    assert_eq!(doc["reverts"]["pr"], 9876);
    assert_eq!(doc["pr_base"], "stages/prod");
    assert_eq!(doc["pr_title"], "Revert RC 2026-11-20");
    assert_eq!(doc["local_branch"]["local"], "created");
    assert_eq!(
        doc["sha"],
        w.r.origin_ref("refs/heads/revert-rc-2026-11-20")
            .unwrap()
            .as_str()
    );
}

/// `rollback --fleet prod` during a recycle: the runbook's quick rollback (cancel the recycle,
/// unprotect nothing new yet) on the emulator, then the revert branch, one JSON document.
#[test]
fn fleet_rollback_cancels_the_recycle_then_pushes_the_revert() {
    use crate::support::moto::Moto;
    use login_release::sandbox::seed::FleetSpec;

    let w = World::new();
    let moto = Moto::start();
    moto.seed(&FleetSpec::prod_shaped("prod", &"a".repeat(40)));
    // A recycle in progress, as asg-recycle leaves it.
    let mut recycle = crate::support::cmd(&w.r.home);
    moto.env(&mut recycle);
    let out = recycle
        .args(["asg-recycle", "prod", "idp", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        moto.block_on(moto.aws.scheduled_actions(None))
            .unwrap()
            .len(),
        5
    );

    let mut c = release_cmd(&w.r, false);
    moto.env(&mut c);
    let out = c
        .env("LOGIN_RELEASE_GITHUB_REPOSITORY", "18F/identity-idp")
        .args(["rollback", "--fleet", "prod", "--yes", "--output", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    assert_eq!(doc["command"], "rollback");
    assert_eq!(doc["branch"], "revert-rc-2026-11-20");
    assert_eq!(doc["fleet"]["env"], "prod");
    assert_eq!(doc["fleet"]["status"], "applied");
    // Fleet: every recycle action gone, sizes back to before the recycle.
    let actions = moto.block_on(moto.aws.scheduled_actions(None)).unwrap();
    assert!(actions.iter().all(|a| !a.is_recycle()), "{actions:?}");
    let groups = moto.block_on(moto.aws.groups_with_prefix("prod-")).unwrap();
    let desired = |n: &str| groups.iter().find(|g| g.name == n).unwrap().desired;
    assert_eq!(
        (
            desired("prod-idp"),
            desired("prod-worker"),
            desired("prod-migration")
        ),
        (4, 2, 0)
    );
    // Git: the revert branch is on origin.
    assert!(w.r.origin_ref("refs/heads/revert-rc-2026-11-20").is_some());
}

/// A fleet half that cannot run stops before the git half, with the fleet's exit code.
#[test]
fn fleet_rollback_failure_leaves_git_alone() {
    let w = World::new();
    let mut c = release_cmd(&w.r, false);
    let out = crate::support::aws_env(&mut c, "http://127.0.0.1:9")
        .args(["rollback", "--fleet", "prod", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: rollback --fleet prod stopped before the git half: "),
        "{err}"
    );
    assert!(err.contains("help: "), "{err}");
    assert!(w.r.origin_ref("refs/heads/revert-rc-2026-11-20").is_none());
}

/// The git checks run before the fleet is touched: a stages/prod tip that is not a merge leaves
/// the recycle in place and exits 3 (nothing changed).
#[test]
fn fleet_rollback_checks_git_before_touching_the_fleet() {
    use crate::support::moto::Moto;
    use login_release::sandbox::seed::FleetSpec;

    let r = Repos::new();
    r.git(&["push", "-q", "origin", "main:stages/prod"]);
    let moto = Moto::start();
    moto.seed(&FleetSpec::prod_shaped("prod", &"a".repeat(40)));
    let mut recycle = crate::support::cmd(&r.home);
    moto.env(&mut recycle);
    let out = recycle
        .args(["asg-recycle", "prod", "pivcac", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let before = moto.block_on(moto.aws.scheduled_actions(None)).unwrap();

    let mut c = release_cmd(&r, false);
    moto.env(&mut c);
    let out = c
        .args(["rollback", "--fleet", "prod", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not a merge"), "{}", stderr(&out));
    assert_eq!(
        moto.block_on(moto.aws.scheduled_actions(None)).unwrap(),
        before
    );
    let pivcac = &moto
        .block_on(moto.aws.describe_groups(&["prod-pivcac".to_string()]))
        .unwrap()[0];
    assert_eq!(pivcac.desired, 4, "the recycle was left alone");
}
