//! `asg-recycle` against the emulator: the runbook's calls, preflight of every group, bad input.
//! Also the fleet fixtures the scale-remove and config-recycle tests share.

use std::collections::BTreeSet;
use std::process::Output;

use jiff::{SignedDuration, Timestamp};
use login_release::aws::fleet::{Group, ScheduledAction, DELAYED_SCALE_OUT, RECYCLE_ONCE};
use login_release::sandbox::seed::FleetSpec;

use crate::support::moto::Moto;
use crate::support::{cmd, code, stderr, stdout};

/// The pinned clock of these tests: in the future, so scheduled start times are in the future
/// as AWS requires (the emulator's instances launch at the real time, long before it).
pub const NOW: &str = "2030-01-01T00:00:00Z";

pub fn at(offset_secs: i64) -> Timestamp {
    NOW.parse::<Timestamp>().unwrap() + SignedDuration::from_secs(offset_secs)
}

pub fn at_str(offset_secs: i64) -> String {
    at(offset_secs).to_string()
}

/// An emulator with the prod-shaped fleet (idp 4/16, worker 2/8, migration 0/2 utility,
/// pivcac 2/8; all protected but migration) and a throw-away HOME.
pub fn prod() -> (Moto, tempfile::TempDir) {
    let moto = Moto::start();
    moto.seed(&FleetSpec::prod_shaped("prod", &"a".repeat(40)));
    (moto, tempfile::tempdir().unwrap())
}

/// Runs the binary against the emulator, with the clock pinned to `now` when given.
pub fn run(moto: &Moto, home: &tempfile::TempDir, now: Option<&str>, args: &[&str]) -> Output {
    let mut c = cmd(home.path());
    moto.env(&mut c);
    if let Some(now) = now {
        c.env("LOGIN_RELEASE_NOW", now);
    }
    c.args(args).output().unwrap()
}

pub fn group(moto: &Moto, name: &str) -> Group {
    moto.block_on(moto.aws.describe_groups(&[name.to_string()]))
        .unwrap()
        .pop()
        .unwrap_or_else(|| panic!("{name} exists"))
}

pub fn actions(moto: &Moto) -> Vec<ScheduledAction> {
    let mut a = moto.block_on(moto.aws.scheduled_actions(None)).unwrap();
    a.sort_by(|x, y| (&x.group, &x.name).cmp(&(&y.group, &y.name)));
    a
}

/// `(group, name, start, desired)` of every scheduled action, sorted.
pub fn action_rows(moto: &Moto) -> Vec<(String, String, Timestamp, i32)> {
    actions(moto)
        .into_iter()
        .map(|a| (a.group, a.name, a.start.unwrap(), a.desired.unwrap()))
        .collect()
}

pub fn row(group: &str, name: &str, offset: i64, desired: i32) -> (String, String, Timestamp, i32) {
    (group.into(), name.into(), at(offset), desired)
}

/// Does what a scheduled action would do (the emulator never runs them).
pub fn set_desired(moto: &Moto, group: &str, desired: i32) {
    moto.block_on(
        moto.aws
            .autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name(group)
            .desired_capacity(desired)
            .send(),
    )
    .unwrap();
}

pub fn ids(g: &Group) -> BTreeSet<String> {
    g.instances.iter().map(|i| i.id.clone()).collect()
}

pub fn protected(g: &Group) -> BTreeSet<String> {
    g.instances
        .iter()
        .filter(|i| i.protected)
        .map(|i| i.id.clone())
        .collect()
}

/// Instances launched in a later second than the seeded ones (launch times have one-second
/// resolution in the emulator).
pub fn next_second() {
    std::thread::sleep(std::time::Duration::from_millis(1100));
}

#[test]
fn prod_idp_schedules_the_runbooks_calls_and_reads_them_back() {
    let (moto, home) = prod();
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["asg-recycle", "prod", "idp", "--yes"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        action_rows(&moto),
        [
            row("prod-idp", DELAYED_SCALE_OUT, 300, 8),
            row("prod-idp", RECYCLE_ONCE, 900, 4),
            row("prod-migration", RECYCLE_ONCE, 600, 0),
            row("prod-worker", DELAYED_SCALE_OUT, 300, 4),
            row("prod-worker", RECYCLE_ONCE, 900, 2),
        ]
    );
    let migration = group(&moto, "prod-migration");
    assert_eq!(migration.desired, 1);
    assert_eq!(migration.instances.len(), 1);
    assert_eq!(
        group(&moto, "prod-idp").desired,
        4,
        "idp doubles later, by its action"
    );
    assert_eq!(group(&moto, "prod-pivcac").desired, 2, "untouched");
    let out = stdout(&o);
    assert!(out.starts_with(
        "Plan: Recycle prod idp\n  account 123456789012, region us-west-2\n  \
         1. PutScheduledUpdateGroupAction prod-migration: RecycleOnce.asg-recycle desired 0 at 2030-01-01T00:10:00Z (in 10m)\n  \
         2. PutScheduledUpdateGroupAction prod-idp: RecycleOnce.asg-recycle desired 4 at 2030-01-01T00:15:00Z (in 15m)\n  \
         3. PutScheduledUpdateGroupAction prod-worker: RecycleOnce.asg-recycle desired 2 at 2030-01-01T00:15:00Z (in 15m)\n  \
         4. UpdateAutoScalingGroup prod-migration: desired 0 -> 1 now\n  \
         5. PutScheduledUpdateGroupAction prod-idp: DelayedScaleOutOnce.asg-recycle desired 8 at 2030-01-01T00:05:00Z (in 5m)\n  \
         6. PutScheduledUpdateGroupAction prod-worker: DelayedScaleOutOnce.asg-recycle desired 4 at 2030-01-01T00:05:00Z (in 5m)\n  \
         note: after the scale-down at 2030-01-01T00:15:00Z (in 15m), remove the old instances: login-release scale-remove-old-instances prod ALL\n"
    ), "{out}");
    let err = stderr(&o);
    assert!(err.contains("ok: applied 6 changes"), "{err}");
    assert!(
        err.contains("next: after the scale-down at 2030-01-01T00:15:00Z (in 15m), run `login-release scale-remove-old-instances prod ALL`"),
        "{err}"
    );
}

#[test]
fn dry_run_and_no_terminal_change_nothing() {
    let (moto, home) = prod();
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["asg-recycle", "prod", "idp", "--dry-run"],
    );
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains(
        "5. PutScheduledUpdateGroupAction prod-idp: DelayedScaleOutOnce.asg-recycle desired 8"
    ));
    assert!(stderr(&o).contains("dry run: nothing was changed"));
    let o = run(&moto, &home, Some(NOW), &["asg-recycle", "prod", "idp"]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains(
        "error: confirmation needed, but there is no terminal to ask on\nhelp: read the plan above (or run with --dry-run), then re-run with --yes"
    ));
    assert!(actions(&moto).is_empty());
    assert_eq!(group(&moto, "prod-migration").desired, 0);
}

#[test]
fn pivcac_doubles_at_once_and_watch_waits_for_the_new_instances() {
    let (moto, home) = prod();
    let before = ids(&group(&moto, "prod-pivcac"));
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["asg-recycle", "prod", "pivcac", "--yes", "--watch"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        action_rows(&moto),
        [row("prod-pivcac", RECYCLE_ONCE, 600, 2)],
        "no migration for pivcac"
    );
    let pivcac = group(&moto, "prod-pivcac");
    assert_eq!(pivcac.desired, 4);
    assert_eq!(ids(&pivcac).difference(&before).count(), 2);
    assert_eq!(group(&moto, "prod-migration").desired, 0);
    let err = stderr(&o);
    assert!(
        err.contains("ok: prod-pivcac: 2 new instances InService and Healthy"),
        "{err}"
    );
    assert!(
        err.contains("scale-remove-old-instances prod pivcac"),
        "{err}"
    );
}

#[test]
fn delays_and_sizes_follow_the_flags() {
    let (moto, home) = prod();
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &[
            "asg-recycle",
            "prod",
            "idp",
            "--yes",
            "--skip-worker",
            "--spinup-delay",
            "2m",
            "--spindown-delay",
            "20m",
            "--immediate",
            "6",
            "--return-to",
            "3",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        action_rows(&moto),
        [
            row("prod-idp", DELAYED_SCALE_OUT, 120, 6),
            row("prod-idp", RECYCLE_ONCE, 1320, 3),
            row("prod-migration", RECYCLE_ONCE, 1200, 0),
        ]
    );
}

#[test]
fn all_skips_tagged_groups_and_honours_skip_worker_with_one_confirmation() {
    let (moto, home) = prod();
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["asg-recycle", "prod", "ALL", "--skip-worker", "--yes"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("skipping prod-worker: --skip-worker"));
    assert_eq!(
        action_rows(&moto),
        [
            row("prod-idp", DELAYED_SCALE_OUT, 300, 8),
            row("prod-idp", RECYCLE_ONCE, 900, 4),
            row("prod-migration", RECYCLE_ONCE, 600, 0),
            row("prod-pivcac", RECYCLE_ONCE, 600, 2),
        ]
    );
    assert_eq!(group(&moto, "prod-pivcac").desired, 4);
    assert_eq!(group(&moto, "prod-migration").desired, 1);
    assert_eq!(group(&moto, "prod-worker").desired, 2);
}

#[test]
fn a_doubled_size_above_max_is_refused_before_any_group_changes() {
    let (moto, home) = prod();
    moto.block_on(
        moto.aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name("prod-idp")
            .max_size(6)
            .send(),
    )
    .unwrap();
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["asg-recycle", "prod", "idp", "--yes"],
    );
    assert_eq!(code(&o), 3);
    assert_eq!(
        stderr(&o),
        "error: prod-idp: cannot scale out to 8 instances: max is 6 (the maximum is never raised by a recycle)\n\
         help: raise the maximum first (login-release asg-size prod idp 8 --max), or pass --immediate N with N <= 6\n"
    );
    // The original scaled the migration group before this check; nothing moved here.
    assert!(actions(&moto).is_empty());
    assert_eq!(group(&moto, "prod-migration").desired, 0);
}

#[test]
fn a_recycle_in_progress_is_refused_unless_forced() {
    let (moto, home) = prod();
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["asg-recycle", "prod", "pivcac", "--yes"],
    );
    assert_eq!(code(&o), 0);
    let later = at_str(60);
    let o = run(
        &moto,
        &home,
        Some(&later),
        &["asg-recycle", "prod", "pivcac", "--yes"],
    );
    assert_eq!(code(&o), 3);
    assert_eq!(
        stderr(&o),
        "error: prod-pivcac: a recycle is already in progress (RecycleOnce.asg-recycle at 2030-01-01T00:10:00Z (in 9m))\n\
         help: let it finish, cancel it with `login-release scale-remove-new-instances prod pivcac`, or replace it with --force\n"
    );
    assert_eq!(
        action_rows(&moto),
        [row("prod-pivcac", RECYCLE_ONCE, 600, 2)]
    );
    // Forced: the return moves, sized from the pre-recycle 2 (not the doubled 4).
    let o = run(
        &moto,
        &home,
        Some(&later),
        &["asg-recycle", "prod", "pivcac", "--yes", "--force"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        action_rows(&moto),
        [row("prod-pivcac", RECYCLE_ONCE, 660, 2)]
    );
    assert_eq!(group(&moto, "prod-pivcac").desired, 4);
    assert!(stdout(&o).contains("note: prod-pivcac: desired capacity is already 4; no scale-out"));
}

#[test]
fn leftover_migration_and_surplus_instances_are_findings_together() {
    let (moto, home) = prod();
    set_desired(&moto, "prod-migration", 1);
    // idp scaled out and back: the protected extras stay (as in AWS).
    next_second();
    set_desired(&moto, "prod-idp", 6);
    set_desired(&moto, "prod-idp", 4);
    assert_eq!(group(&moto, "prod-idp").instances.len(), 6);
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["asg-recycle", "prod", "idp", "--yes"],
    );
    assert_eq!(code(&o), 3);
    let err = stderr(&o);
    assert!(
        err.starts_with(
            "error: 2 preflight checks failed\nhelp: fix each of these, then run again:\n"
        ),
        "{err}"
    );
    assert!(err.contains("  - prod-migration already has desired 1 (a leftover migration instance): the recycle would not start a fresh migration (set it to 0 first (login-release asg-size prod migration 0), or recycle without a migration with --skip-migration)"), "{err}");
    assert!(err.contains("  - prod-idp has 6 instances but desired is 4: instances of an earlier recycle are still there (remove the old instances first: login-release scale-remove-old-instances prod idp)"), "{err}");
    assert!(actions(&moto).is_empty());
}

#[test]
fn unknown_role_lists_the_groups_and_guesses() {
    let (moto, home) = prod();
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["asg-recycle", "prod", "ipd", "--yes"],
    );
    assert_eq!(code(&o), 3);
    assert_eq!(
        stderr(&o),
        "error: prod-ipd does not exist\n\
         help: did you mean `idp`? prod has: prod-idp, prod-migration, prod-pivcac, prod-worker\n"
    );
    assert!(actions(&moto).is_empty());
}

#[test]
fn unknown_environment_guesses_and_points_at_the_account() {
    let (moto, home) = prod();
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["asg-recycle", "prd", "idp", "--yes"],
    );
    assert_eq!(code(&o), 3);
    assert_eq!(
        stderr(&o),
        "error: no Auto Scaling Groups found for environment `prd` (prd-idp does not exist)\n\
         help: did you mean `prod`? Otherwise check that your credentials are for prd's account and region\n"
    );
}

#[test]
fn bad_counts_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    for bad in [
        ["--immediate", "abc"],
        ["--immediate", "-1"],
        ["--immediate", "0"],
        ["--return-to", "-2"],
        ["--spinup-delay", "soon"],
    ] {
        let o = cmd(home.path())
            .args(["asg-recycle", "prod", "idp"])
            .args(bad)
            .output()
            .unwrap();
        assert_eq!(code(&o), 2, "{bad:?}: {}", stderr(&o));
        assert!(stderr(&o).starts_with("error:"), "{bad:?}: {}", stderr(&o));
    }
    let o = cmd(home.path())
        .args(["asg-recycle", "prod", "ALL", "--immediate", "4"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert_eq!(
        stderr(&o),
        "error: --immediate and --return-to size one role's group; they cannot be used with ALL\n\
         help: recycle ALL with the default sizes, or name the role\n"
    );
}

#[test]
fn no_credentials_is_one_line_with_the_fix() {
    let (moto, home) = prod();
    let mut c = cmd(home.path());
    moto.env(&mut c);
    let o = c
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["asg-recycle", "prod", "idp", "--yes"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "error: DescribeAutoScalingGroups failed: no AWS credentials found (tried the environment, profiles, SSO and instance metadata)\n\
         help: check your AWS credentials: run under `aws-vault exec <profile> --`, or set AWS_PROFILE\n"
    );
}

#[test]
fn an_unreachable_endpoint_is_one_line_with_the_fix() {
    let home = tempfile::tempdir().unwrap();
    // A port nobody listens on: bind one, note it, let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = cmd(home.path());
    let o = crate::support::aws_env(&mut c, &format!("http://127.0.0.1:{port}"))
        .args(["asg-recycle", "prod", "idp", "--yes"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "error: DescribeAutoScalingGroups failed: the AWS endpoint is unreachable\n\
         help: check the network, AWS_REGION and AWS_ENDPOINT_URL\n"
    );
}

#[test]
fn json_output_is_one_document_with_the_plan_and_the_read_back() {
    let (moto, home) = prod();
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["asg-recycle", "prod", "pivcac", "--yes", "--output", "json"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["command"], "asg-recycle");
    assert_eq!(doc["status"], "applied");
    assert_eq!(doc["calls"].as_array().unwrap().len(), 2);
    assert_eq!(doc["calls"][0]["call"], "put_scheduled");
    assert_eq!(doc["calls"][0]["at"], "2030-01-01T00:10:00Z");
    assert_eq!(doc["plan"]["steps"][1]["action"], "UpdateAutoScalingGroup");
    assert_eq!(doc["verified"][0]["desired"], 4);
    assert_eq!(doc["scale_down_at"], "2030-01-01T00:10:00Z");
    assert_eq!(
        doc["next_step"],
        "login-release scale-remove-old-instances prod pivcac"
    );
}

/// Production-changing fleet steps announce themselves to Slack; the webhook URL never shows,
/// and --no-notify or --dry-run post nothing.
#[test]
fn a_recycle_is_announced_to_slack_without_showing_the_webhook() {
    let (moto, home) = prod();
    let slack = crate::support::http::HttpServer::start();
    slack.route(
        "POST",
        "/services/T000/B000/XyZsecret",
        crate::support::http::Response::text(200, "ok"),
    );
    let webhook = format!("{}/services/T000/B000/XyZsecret", slack.url);
    let with_hook = |args: &[&str]| {
        let mut c = crate::support::cmd(home.path());
        moto.env(&mut c);
        let out = c
            .env("LOGIN_RELEASE_SLACK_WEBHOOK", &webhook)
            .args(args)
            .output()
            .unwrap();
        for text in [stdout(&out), stderr(&out)] {
            assert!(!text.contains("XyZsecret"), "webhook printed: {text}");
        }
        out
    };
    let out = with_hook(&["asg-recycle", "prod", "pivcac", "--dry-run", "-vv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = with_hook(&["asg-recycle", "prod", "pivcac", "--yes", "--no-notify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        slack.requests().is_empty(),
        "posted despite --dry-run/--no-notify"
    );
    let out = with_hook(&["asg-recycle", "prod", "idp", "--yes", "-vv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let posts = slack.requests_to("POST", "/services/");
    assert_eq!(posts.len(), 1, "{posts:?}");
    let text = posts[0].json()["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.contains("prod idp: recycle started by"), "{text}");
}
