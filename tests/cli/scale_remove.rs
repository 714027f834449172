//! `scale-remove-old-instances` and `scale-remove-new-instances` against the emulator. The
//! emulator never runs scheduled actions and never terminates unprotected instances on its own:
//! tests make the changes the actions would make, and assert protection flags, not terminations.

use std::collections::BTreeSet;

use login_release::aws::fleet::RECYCLE_ONCE;

use crate::asg_recycle::{
    action_rows, actions, at_str, group, ids, next_second, prod, protected, row, run, set_desired,
    NOW,
};
use crate::support::moto::Moto;
use crate::support::{code, stderr, stdout};

/// Recycles prod idp at NOW, then does what its DelayedScaleOutOnce would do. Returns the old
/// instances of idp and worker.
fn recycled_and_scaled_out(
    moto: &Moto,
    home: &tempfile::TempDir,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let old_idp = ids(&group(moto, "prod-idp"));
    let old_worker = ids(&group(moto, "prod-worker"));
    let o = run(
        moto,
        home,
        Some(NOW),
        &["asg-recycle", "prod", "idp", "--yes"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    next_second();
    set_desired(moto, "prod-idp", 8);
    set_desired(moto, "prod-worker", 4);
    (old_idp, old_worker)
}

#[test]
fn old_after_the_scale_down_unprotects_the_old_instances_and_a_second_run_has_nothing_to_do() {
    let (moto, home) = prod();
    let (old_idp, old_worker) = recycled_and_scaled_out(&moto, &home);
    // What the RecycleOnce actions do at +10m and +15m; protected instances stay.
    set_desired(&moto, "prod-idp", 4);
    set_desired(&moto, "prod-worker", 2);
    set_desired(&moto, "prod-migration", 0);
    assert_eq!(group(&moto, "prod-idp").instances.len(), 8);
    let pivcac_before = protected(&group(&moto, "prod-pivcac"));

    let after = at_str(16 * 60);
    let o = run(
        &moto,
        &home,
        Some(&after),
        &["scale-remove-old-instances", "prod", "ALL", "--yes"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let idp = group(&moto, "prod-idp");
    assert_eq!(idp.desired, 4, "never changes desired");
    assert_eq!(ids(&idp).len(), 8, "never terminates");
    let new_idp: BTreeSet<String> = ids(&idp).difference(&old_idp).cloned().collect();
    assert_eq!(
        protected(&idp),
        new_idp,
        "the old ones lost their protection"
    );
    let worker = group(&moto, "prod-worker");
    let new_worker: BTreeSet<String> = ids(&worker).difference(&old_worker).cloned().collect();
    assert_eq!(protected(&worker), new_worker);
    assert_eq!(
        protected(&group(&moto, "prod-pivcac")),
        pivcac_before,
        "nothing to remove there"
    );
    let out = stdout(&o);
    assert!(
        out.contains("prod-idp: desired 4, 8 instances; keep the newest 4"),
        "{out}"
    );
    assert!(out.contains("  note: prod-idp: desired 4 with 8 instances: the group will now remove the 4 unprotected instances"), "{out}");
    let err = stderr(&o);
    assert!(
        err.contains("skipping prod-migration: it is the migration group"),
        "{err}"
    );
    assert!(err.contains("ok: applied 2 changes"), "{err}");

    let o = run(
        &moto,
        &home,
        Some(&after),
        &["scale-remove-old-instances", "prod", "ALL", "--yes"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("ok: nothing to do"), "{err}");
    assert!(err.contains("prod-idp: the 4 instances to remove are already unprotected; desired 4 with 8 instances: the group will now remove the 4 unprotected instances"), "{err}");
    assert_eq!(protected(&group(&moto, "prod-idp")), new_idp);
}

#[test]
fn old_before_the_scale_down_is_refused_unless_forced() {
    let (moto, home) = prod();
    let (old_idp, _) = recycled_and_scaled_out(&moto, &home);
    let early = at_str(5 * 60);
    let o = run(
        &moto,
        &home,
        Some(&early),
        &["scale-remove-old-instances", "prod", "idp", "--yes"],
    );
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).ends_with(
        "error: prod-idp: the recycle returns it to 4 instances at 2030-01-01T00:15:00Z (in 10m); the old instances can be removed after that\n\
         help: run again after 2030-01-01T00:15:00Z, add --wait to wait for it, or --force to unprotect them now (the group removes them when its desired drops)\n"
    ), "{}", stderr(&o));
    assert_eq!(
        protected(&group(&moto, "prod-idp")).len(),
        8,
        "nothing changed"
    );

    let o = run(
        &moto,
        &home,
        Some(&early),
        &[
            "scale-remove-old-instances",
            "prod",
            "idp",
            "--yes",
            "--force",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let idp = group(&moto, "prod-idp");
    assert_eq!(
        protected(&idp),
        ids(&idp).difference(&old_idp).cloned().collect()
    );
    assert!(stdout(&o).contains(
        "note: prod-idp: the group will remove the unprotected instances when its desired drops to 4 at 2030-01-01T00:15:00Z"
    ));
    // Never touches the recycle's actions.
    let rows = action_rows(&moto);
    assert_eq!(rows.len(), 5);
    assert!(rows.contains(&row("prod-idp", RECYCLE_ONCE, 900, 4)));
}

#[test]
fn old_wait_counts_down_to_the_scale_down_then_proceeds() {
    let (moto, home) = prod();
    let (old_idp, _) = recycled_and_scaled_out(&moto, &home);
    // Two seconds before the RecycleOnce time of +15m.
    let just_before = at_str(15 * 60 - 2);
    let started = std::time::Instant::now();
    let o = run(
        &moto,
        &home,
        Some(&just_before),
        &[
            "scale-remove-old-instances",
            "prod",
            "idp",
            "--yes",
            "--wait",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    let err = stderr(&o);
    assert!(
        err.contains("waiting until 2030-01-01T00:15:00Z (in 2s) for the recycle's scale-down"),
        "{err}"
    );
    assert!(
        err.contains("waiting for the scale-down at 2030-01-01T00:15:00Z: 2s left"),
        "{err}"
    );
    let idp = group(&moto, "prod-idp");
    assert_eq!(
        protected(&idp),
        ids(&idp).difference(&old_idp).cloned().collect()
    );
}

#[test]
fn old_wait_without_a_terminal_or_yes_refuses_before_waiting() {
    let (moto, home) = prod();
    recycled_and_scaled_out(&moto, &home);
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["scale-remove-old-instances", "prod", "idp", "--wait"],
    );
    assert_eq!(code(&o), 3);
    assert_eq!(
        stderr(&o),
        "error: confirmation needed, but there is no terminal to ask on\n\
         help: read the plan (run with --dry-run), then re-run with --yes\n"
    );
}

#[test]
fn new_during_the_recycle_window_cancels_it_everywhere_then_unprotects_the_newest() {
    let (moto, home) = prod();
    let (old_idp, old_worker) = recycled_and_scaled_out(&moto, &home);
    let during = at_str(7 * 60);
    let o = run(
        &moto,
        &home,
        Some(&during),
        &["scale-remove-new-instances", "prod", "idp", "--yes"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        actions(&moto).is_empty(),
        "both actions deleted on idp, worker, migration"
    );
    let idp = group(&moto, "prod-idp");
    assert_eq!(idp.desired, 4, "back to the pre-recycle size");
    assert_eq!(
        protected(&idp),
        old_idp,
        "the new ones lost their protection"
    );
    let worker = group(&moto, "prod-worker");
    assert_eq!(worker.desired, 2);
    assert_eq!(protected(&worker), old_worker);
    assert_eq!(group(&moto, "prod-migration").desired, 0);
    let out = stdout(&o);
    assert!(
        out.contains(
            "  1. UpdateAutoScalingGroup prod-idp: desired 8 -> 4 now\n  \
         2. UpdateAutoScalingGroup prod-worker: desired 4 -> 2 now\n  \
         3. UpdateAutoScalingGroup prod-migration: desired 1 -> 0 now\n  \
         4. DeleteScheduledAction prod-idp: DelayedScaleOutOnce.asg-recycle\n  \
         5. DeleteScheduledAction prod-idp: RecycleOnce.asg-recycle\n"
        ),
        "{out}"
    );
    assert!(stderr(&o).contains("ok: prod-idp: recycle cancelled (DelayedScaleOutOnce.asg-recycle, RecycleOnce.asg-recycle deleted), desired 4"));

    let o = run(
        &moto,
        &home,
        Some(&during),
        &["scale-remove-new-instances", "prod", "idp", "--yes"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("ok: nothing to do"));
}

#[test]
fn new_before_the_delayed_scale_out_only_cancels() {
    let (moto, home) = prod();
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["asg-recycle", "prod", "idp", "--yes"],
    );
    assert_eq!(code(&o), 0);
    let o = run(
        &moto,
        &home,
        Some(&at_str(60)),
        &["scale-remove-new-instances", "prod", "ALL", "--yes"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(actions(&moto).is_empty());
    assert_eq!(group(&moto, "prod-migration").desired, 0);
    assert_eq!(
        protected(&group(&moto, "prod-idp")).len(),
        4,
        "nothing new to unprotect"
    );
}

#[test]
fn new_outside_a_recycle_keeps_the_oldest() {
    let (moto, home) = prod();
    let old = ids(&group(&moto, "prod-pivcac"));
    next_second();
    set_desired(&moto, "prod-pivcac", 4);
    set_desired(&moto, "prod-pivcac", 2);
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["scale-remove-new-instances", "prod", "pivcac", "--yes"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pivcac = group(&moto, "prod-pivcac");
    assert_eq!(protected(&pivcac), old);
    assert_eq!(pivcac.desired, 2);
    assert!(stdout(&o).contains("note: prod-pivcac uses EC2 health checks, which only say the instance runs: check the service by hand"));
}

fn set_health(moto: &Moto, id: &str, health: &str) {
    moto.block_on(
        moto.aws
            .autoscaling
            .set_instance_health()
            .instance_id(id)
            .health_status(health)
            .send(),
    )
    .unwrap();
}

#[test]
fn all_collects_every_groups_findings_and_skip_unsafe_applies_the_others() {
    let (moto, home) = prod();
    let old_idp = ids(&group(&moto, "prod-idp"));
    let old_pivcac = ids(&group(&moto, "prod-pivcac"));
    next_second();
    for (g, up, down) in [("prod-idp", 8, 4), ("prod-pivcac", 4, 2)] {
        set_desired(&moto, g, up);
        set_desired(&moto, g, down);
    }
    // One of idp's newest (to keep) is unhealthy; pivcac is fine.
    let sick = ids(&group(&moto, "prod-idp"))
        .difference(&old_idp)
        .next()
        .unwrap()
        .clone();
    set_health(&moto, &sick, "Unhealthy");
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["scale-remove-old-instances", "prod", "ALL", "--yes"],
    );
    assert_eq!(code(&o), 3);
    assert_eq!(
        stderr(&o).lines().filter(|l| l.starts_with("error:")).collect::<Vec<_>>(),
        [format!(
            "error: prod-idp: 1 of the 4 newest instances to keep is not InService and Healthy: {sick} (InService, Unhealthy)"
        )]
    );
    assert_eq!(
        protected(&group(&moto, "prod-pivcac")).len(),
        4,
        "nothing changed"
    );

    let o = run(
        &moto,
        &home,
        Some(NOW),
        &[
            "scale-remove-old-instances",
            "prod",
            "ALL",
            "--yes",
            "--skip-unsafe",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("warning: leaving prod-idp alone: prod-idp: 1 of the 4 newest"));
    let pivcac = group(&moto, "prod-pivcac");
    assert_eq!(
        protected(&pivcac),
        ids(&pivcac).difference(&old_pivcac).cloned().collect()
    );
    assert_eq!(protected(&group(&moto, "prod-idp")).len(), 8);
}

#[test]
fn a_kept_instance_in_its_grace_period_is_refused() {
    let (moto, home) = prod();
    moto.block_on(
        moto.aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name("prod-pivcac")
            .health_check_grace_period(3600)
            .send(),
    )
    .unwrap();
    next_second();
    set_desired(&moto, "prod-pivcac", 4);
    set_desired(&moto, "prod-pivcac", 2);
    // The real clock: the new instances launched a second ago.
    let o = run(
        &moto,
        &home,
        None,
        &["scale-remove-old-instances", "prod", "pivcac", "--yes"],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("error: prod-pivcac: 2 instances to keep are still in the 3600s health-check grace period (until "), "{err}");
    assert!(
        err.contains("help: its health is not known yet: run again after "),
        "{err}"
    );
    assert_eq!(protected(&group(&moto, "prod-pivcac")).len(), 4);
}

#[test]
fn dry_run_and_no_terminal_change_nothing() {
    let (moto, home) = prod();
    next_second();
    set_desired(&moto, "prod-pivcac", 4);
    set_desired(&moto, "prod-pivcac", 2);
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["scale-remove-old-instances", "prod", "pivcac", "--dry-run"],
    );
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains(
        "1. SetInstanceProtection prod-pivcac: remove scale-in protection from 2 instances: "
    ));
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["scale-remove-new-instances", "prod", "pivcac"],
    );
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("error: confirmation needed, but there is no terminal to ask on"));
    assert_eq!(protected(&group(&moto, "prod-pivcac")).len(), 4);
}

#[test]
fn unknown_role_and_json() {
    let (moto, home) = prod();
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["scale-remove-old-instances", "prod", "pivcca", "--yes"],
    );
    assert_eq!(code(&o), 3);
    assert_eq!(
        stderr(&o),
        "error: prod-pivcca does not exist\n\
         help: did you mean `pivcac`? prod has: prod-idp, prod-migration, prod-pivcac, prod-worker\n"
    );
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &[
            "scale-remove-old-instances",
            "prod",
            "ALL",
            "--yes",
            "-o",
            "json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["command"], "scale-remove-old-instances");
    assert_eq!(doc["status"], "nothing_to_do");
    assert_eq!(doc["direction"], "old");
    assert_eq!(doc["groups"].as_array().unwrap().len(), 3);
    assert_eq!(doc["groups"][0]["keep"].as_array().unwrap().len(), 4);
    assert_eq!(doc["skipped"][0]["group"], "prod-migration");
}

/// Cancelling worker's part of an idp recycle leaves the migration running for idp, and the
/// migration alone cannot be cancelled from under idp's recycle.
#[test]
fn the_migration_stays_while_idp_still_recycles() {
    let (moto, home) = crate::asg_recycle::prod();
    let o = crate::asg_recycle::run(&moto, &home, None, &["asg-recycle", "prod", "idp", "--yes"]);
    assert!(o.status.success(), "{}", crate::support::stderr(&o));
    let o = crate::asg_recycle::run(
        &moto,
        &home,
        None,
        &["scale-remove-new-instances", "prod", "worker", "--yes"],
    );
    assert!(o.status.success(), "{}", crate::support::stderr(&o));
    let left: Vec<(String, String)> = crate::asg_recycle::actions(&moto)
        .into_iter()
        .map(|a| (a.group, a.name))
        .collect();
    assert!(left.iter().all(|(g, _)| g != "prod-worker"), "{left:?}");
    assert!(
        left.iter()
            .any(|(g, n)| g == "prod-migration" && n == RECYCLE_ONCE),
        "{left:?}"
    );
    assert_eq!(
        left.iter().filter(|(g, _)| g == "prod-idp").count(),
        2,
        "{left:?}"
    );
    assert_eq!(
        crate::asg_recycle::group(&moto, "prod-migration").desired,
        1
    );

    let o = crate::asg_recycle::run(
        &moto,
        &home,
        None,
        &["scale-remove-new-instances", "prod", "migration", "--yes"],
    );
    assert_eq!(o.status.code(), Some(3));
    let err = crate::support::stderr(&o);
    assert!(
        err.contains(
            "prod-migration runs the migration for the recycle of prod-idp, which goes on"
        ),
        "{err}"
    );
    assert!(
        err.contains("login-release scale-remove-new-instances prod idp"),
        "{err}"
    );
    assert_eq!(
        crate::asg_recycle::group(&moto, "prod-migration").desired,
        1
    );
}

/// Ctrl-C during --wait: exit 130, nothing changed, and the command that resumes the wait.
#[test]
fn interrupting_the_wait_names_the_command_that_resumes_it() {
    use std::io::BufRead;
    let (moto, home) = crate::asg_recycle::prod();
    let o = crate::asg_recycle::run(
        &moto,
        &home,
        None,
        &["asg-recycle", "prod", "pivcac", "--yes"],
    );
    assert!(o.status.success(), "{}", crate::support::stderr(&o));
    let before = protected(&crate::asg_recycle::group(&moto, "prod-pivcac"));
    let mut child = crate::watch_migration::spawn(
        &moto,
        home.path(),
        &[
            "scale-remove-old-instances",
            "prod",
            "pivcac",
            "--wait",
            "--yes",
        ],
    );
    // Interrupt only once the countdown is on screen (a loaded machine can take seconds to get
    // there), then collect the rest of stderr.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut err = String::new();
    loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the countdown starts");
        err.push_str(&line);
        err.push('\n');
        if line.contains("waiting for the scale-down at") {
            break;
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    crate::watch_migration::interrupt(&child);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    err.extend(rx.try_iter().map(|l| l + "\n"));
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("error: interrupted while waiting for the scale-down at "),
        "{err}"
    );
    assert!(
        err.contains("help: the recycle stays scheduled and the old instances are untouched; resume with: login-release scale-remove-old-instances prod pivcac --wait"),
        "{err}"
    );
    assert_eq!(
        protected(&crate::asg_recycle::group(&moto, "prod-pivcac")),
        before
    );
}
