//! `config-recycle` against the emulator: the recycle, the production reminder, and
//! `--then-remove-old` waiting for the scale-down and unprotecting the old instances itself.

use std::collections::BTreeSet;

use login_release::aws::fleet::RECYCLE_ONCE;
use login_release::sandbox::seed::FleetSpec;

use crate::asg_recycle::{
    action_rows, actions, group, ids, next_second, prod, protected, row, run, NOW,
};
use crate::support::moto::Moto;
use crate::support::{code, stderr};

#[test]
fn production_prints_the_next_step_with_its_exact_time() {
    let (moto, home) = prod();
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["config-recycle", "prod", "pivcac", "--yes"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        action_rows(&moto),
        [row("prod-pivcac", RECYCLE_ONCE, 600, 2)]
    );
    assert_eq!(group(&moto, "prod-pivcac").desired, 4);
    let err = stderr(&o);
    assert!(!err.contains("next:"), "the reminder says it: {err}");
    assert!(err.contains(
        "warning: reminder: the new configuration is live on every instance only after the old ones go. At 2030-01-01T00:10:00Z (in 10m) run:\n    login-release scale-remove-old-instances prod pivcac\n"
    ), "{err}");
}

#[test]
fn other_environments_get_no_reminder() {
    let moto = Moto::start();
    moto.seed(&FleetSpec::prod_shaped("staging", &"a".repeat(40)));
    let home = tempfile::tempdir().unwrap();
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["config-recycle", "staging", "idp", "--yes"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(!stderr(&o).contains("reminder"));
    assert!(stderr(&o).contains(
        "next: after the scale-down at 2030-01-01T00:15:00Z (in 15m), run `login-release scale-remove-old-instances staging ALL`"
    ));
    assert_eq!(
        action_rows(&moto).len(),
        5,
        "the same recycle as asg-recycle"
    );
}

#[test]
fn then_remove_old_waits_for_the_scale_down_and_unprotects_the_old_instances() {
    let (moto, home) = prod();
    let old = ids(&group(&moto, "prod-pivcac"));
    next_second();
    // Real clock, a short spin-down: the scale-down comes 3 s after the scale-out.
    let started = std::time::Instant::now();
    let o = run(
        &moto,
        &home,
        None,
        &[
            "config-recycle",
            "prod",
            "pivcac",
            "--spindown-delay",
            "3s",
            "--then-remove-old",
            "--yes",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    let pivcac = group(&moto, "prod-pivcac");
    let new: BTreeSet<String> = ids(&pivcac).difference(&old).cloned().collect();
    assert_eq!(new.len(), 2);
    assert_eq!(
        protected(&pivcac),
        new,
        "old ones unprotected, new ones kept"
    );
    let err = stderr(&o);
    assert!(err.contains("waiting for the scale-down at "), "{err}");
    assert!(
        err.contains("ok: prod-pivcac: scale-in protection removed from "),
        "{err}"
    );
    assert!(!err.contains("reminder"), "{err}");
}

#[test]
fn then_remove_old_without_a_terminal_or_yes_changes_nothing() {
    let (moto, home) = prod();
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &["config-recycle", "prod", "idp", "--then-remove-old"],
    );
    assert_eq!(code(&o), 3);
    assert_eq!(
        stderr(&o),
        "error: confirmation needed, but there is no terminal to ask on\n\
         help: read the plan (run with --dry-run), then re-run with --yes\n"
    );
    assert!(actions(&moto).is_empty());
    let o = run(
        &moto,
        &home,
        Some(NOW),
        &[
            "config-recycle",
            "prod",
            "idp",
            "--then-remove-old",
            "--dry-run",
        ],
    );
    assert_eq!(code(&o), 0);
    assert!(crate::support::stdout(&o)
        .contains("note: then (--then-remove-old): wait until the scale-down"));
    assert!(actions(&moto).is_empty());
}

#[test]
fn then_remove_old_refused_after_the_recycle_exits_4_with_the_next_command() {
    let (moto, home) = prod();
    // A grace period longer than the wait: the new instances' health is not known yet.
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
    let o = run(
        &moto,
        &home,
        None,
        &[
            "config-recycle",
            "prod",
            "pivcac",
            "--spindown-delay",
            "1s",
            "--then-remove-old",
            "--yes",
        ],
    );
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(
        "error: the recycle was applied, but the old instances were not unprotected: prod-pivcac: 2 instances to keep are still in the 3600s health-check grace period (until "
    ), "{err}");
    assert!(err.contains(
        "help: run `login-release scale-remove-old-instances prod pivcac` once this is fixed: its health is not known yet: run again after "
    ), "{err}");
    let pivcac = group(&moto, "prod-pivcac");
    assert_eq!(pivcac.desired, 4, "the recycle stays applied");
    assert_eq!(protected(&pivcac).len(), 4, "nothing unprotected");
}
