//! asg-size against the emulator: the report, the set path verified through the SDK, and every
//! refusal leaving the group unchanged.

use std::process::Output;

use login_release::aws::fleet::{DELAYED_SCALE_OUT, RECYCLE_ONCE};
use login_release::sandbox::seed::FleetSpec;

use crate::support::moto::Moto;
use crate::support::{cmd, stderr, stdout};

const NOW: &str = "2026-11-26T12:00:00Z";

struct Fixture {
    moto: Moto,
    home: tempfile::TempDir,
}

impl Fixture {
    fn prod() -> Self {
        let moto = Moto::start();
        moto.seed(&FleetSpec::prod_shaped("prod", &"a".repeat(40)));
        Fixture {
            moto,
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut c = cmd(self.home.path());
        self.moto.env(&mut c);
        c.env("LOGIN_RELEASE_NOW", NOW).arg("asg-size").args(args);
        c.output().unwrap()
    }

    /// (desired, min, max) as AWS reports them.
    fn capacity(&self, group: &str) -> (i32, i32, i32) {
        let g = self
            .moto
            .block_on(self.moto.aws.describe_groups(&[group.to_string()]))
            .unwrap();
        (g[0].desired, g[0].min, g[0].max)
    }

    fn schedule(&self, group: &str, name: &str, at: &str, desired: i32) {
        let t: jiff::Timestamp = at.parse().unwrap();
        self.moto
            .block_on(
                self.moto
                    .aws
                    .autoscaling
                    .put_scheduled_update_group_action()
                    .auto_scaling_group_name(group)
                    .scheduled_action_name(name)
                    .start_time(aws_smithy_types::DateTime::from_secs(t.as_second()))
                    .desired_capacity(desired)
                    .send(),
            )
            .unwrap();
    }
}

fn assert_error(out: &Output, code: i32, error: &str, help: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    let err = stderr(out);
    assert!(err.contains(&format!("error: {error}\n")), "{err}");
    assert!(err.contains(&format!("help: {help}")), "{err}");
}

#[test]
fn shows_capacity_instances_and_no_actions() {
    let f = Fixture::prod();
    let out = f.run(&["prod", "idp"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "Capacity of prod-idp:\n  desired: 4\n  min:     0\n  max:     16\n\
         Health check: ELB, 1s grace period\n\
         Instances: 4 (InService 4; Healthy 4; protected from scale-in 4, unprotected 0)\n\
         Scheduled actions: none\n"
    );
    assert_eq!(stderr(&out), "");
}

#[test]
fn shows_scheduled_actions_and_the_recycle_in_progress() {
    let f = Fixture::prod();
    f.schedule("prod-idp", DELAYED_SCALE_OUT, "2026-11-26T12:05:00Z", 8);
    f.schedule("prod-idp", RECYCLE_ONCE, "2026-11-26T12:15:00Z", 4);
    // Another group's recycle is not this one's.
    f.schedule("prod-worker", RECYCLE_ONCE, "2026-11-26T12:30:00Z", 2);
    let out = f.run(&["prod", "idp"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.ends_with(
            "Scheduled actions:\n  \
             DelayedScaleOutOnce.asg-recycle  desired 8, at 2026-11-26T12:05:00Z (in 5m)\n  \
             RecycleOnce.asg-recycle          desired 4, at 2026-11-26T12:15:00Z (in 15m)\n\
             Recycle in progress until 2026-11-26T12:15:00Z (in 15m)\n"
        ),
        "{text}"
    );

    let out = f.run(&["prod", "idp", "--output", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["command"], "asg-size");
    assert_eq!(doc["group"], "prod-idp");
    assert_eq!(
        doc["capacity"],
        serde_json::json!({"desired": 4, "min": 0, "max": 16})
    );
    assert_eq!(doc["health_check"]["type"], "ELB");
    assert_eq!(doc["instances"]["by_lifecycle"]["InService"], 4);
    assert_eq!(doc["instances"]["protected"], 4);
    assert_eq!(doc["recycle_in_progress_until"], "2026-11-26T12:15:00Z");
    let actions = doc["scheduled_actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2);
    assert_eq!(actions[0]["name"], DELAYED_SCALE_OUT);
    assert_eq!(actions[0]["relative"], "in 5m");
    assert_eq!(actions[0]["desired"], 8);

    // A recycle that has passed is not in progress.
    let out = f.run(&["prod", "worker"]);
    assert!(stdout(&out).contains("Recycle in progress until 2026-11-26T12:30:00Z (in 30m)"));
    f.schedule("prod-pivcac", RECYCLE_ONCE, "2026-11-26T11:00:00Z", 2);
    let out = f.run(&["prod", "pivcac"]);
    assert!(
        !stdout(&out).contains("Recycle in progress"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("(1h ago)"));
}

#[test]
fn sets_desired_and_verifies_it() {
    let f = Fixture::prod();
    let out = f.run(&["prod", "idp", "6", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "Plan: Set prod-idp desired to 6\n  account 123456789012, region us-west-2\n  \
             1. UpdateAutoScalingGroup prod-idp: desired 4 -> 6\n"
        ),
        "{text}"
    );
    assert!(text.ends_with("After change, capacity of prod-idp: desired 6, min 0, max 16\n"));
    assert!(stderr(&out).contains("ok: prod-idp desired is now 6"));
    assert_eq!(f.capacity("prod-idp"), (6, 0, 16));
    let g = f
        .moto
        .block_on(f.moto.aws.describe_groups(&["prod-idp".to_string()]))
        .unwrap();
    assert_eq!(
        g[0].instances.len(),
        6,
        "the group launched the new instances"
    );

    // --max and --min set that field only.
    let out = f.run(&["prod", "idp", "20", "--max", "--yes", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["change"]["outcome"], "applied");
    assert_eq!(doc["change"]["field"], "max");
    assert_eq!(
        doc["change"]["after"],
        serde_json::json!({"desired": 6, "min": 0, "max": 20})
    );
    assert_eq!(
        doc["change"]["plan"]["steps"][0]["params"],
        serde_json::json!({"AutoScalingGroupName": "prod-idp", "MaxSize": 20})
    );
    let out = f.run(&["prod", "idp", "2", "--min", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(f.capacity("prod-idp"), (6, 2, 20));

    // Again: nothing to do.
    let out = f.run(&["prod", "idp", "6", "--yes"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("prod-idp desired is already 6: nothing to do"));
    assert_eq!(stdout(&out), "");
}

#[test]
fn warns_when_a_recycle_is_in_progress() {
    let f = Fixture::prod();
    f.schedule("prod-idp", RECYCLE_ONCE, "2026-11-26T12:15:00Z", 4);
    let out = f.run(&["prod", "idp", "5", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let msg = "a recycle is in progress until 2026-11-26T12:15:00Z (in 15m): its RecycleOnce.asg-recycle will set desired to 4 then";
    assert!(
        stderr(&out).contains(&format!("warning: {msg}")),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains(&format!("note: {msg}")));
    assert_eq!(f.capacity("prod-idp").0, 5);
}

#[test]
fn refusals_change_nothing() {
    let f = Fixture::prod();
    let unchanged = |f: &Fixture| assert_eq!(f.capacity("prod-idp"), (4, 0, 16));
    assert_error(
        &f.run(&["prod", "idp", "17", "--yes"]),
        3,
        "desired 17 would exceed prod-idp's max of 16",
        "raise the max first: `login-release asg-size prod idp 17 --max`, then run this again",
    );
    unchanged(&f);
    assert_error(
        &f.run(&["prod", "idp", "5", "--min", "--yes"]),
        3,
        "min 5 would exceed prod-idp's desired capacity of 4",
        "raise the desired first: `login-release asg-size prod idp 5`, then run this again",
    );
    unchanged(&f);
    assert_error(
        &f.run(&["prod", "idp", "3", "--max", "--yes"]),
        3,
        "max 3 would be below prod-idp's desired capacity of 4",
        "lower the desired first: `login-release asg-size prod idp 3`, then run this again",
    );
    unchanged(&f);

    // --dry-run prints the plan and changes nothing.
    let out = f.run(&["prod", "idp", "8", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("1. UpdateAutoScalingGroup prod-idp: desired 4 -> 8"));
    assert!(stderr(&out).contains("dry run: nothing was changed"));
    unchanged(&f);

    // No terminal to confirm on and no --yes.
    assert_error(
        &f.run(&["prod", "idp", "8"]),
        3,
        "confirmation needed, but there is no terminal to ask on",
        "read the plan above (or run with --dry-run), then re-run with --yes",
    );
    unchanged(&f);
}

#[test]
fn unknown_groups_and_roles_get_suggestions() {
    let f = Fixture::prod();
    assert_error(
        &f.run(&["prod", "ipd"]),
        3,
        "unknown role `ipd` in prod: there is no group prod-ipd",
        "did you mean `idp`? roles in prod: idp, migration, pivcac, worker",
    );
    assert_error(
        &f.run(&["prod", "analytics"]),
        3,
        "no Auto Scaling Group prod-analytics in region us-west-2",
        "groups in prod: prod-idp, prod-migration, prod-pivcac, prod-worker",
    );
    assert_error(
        &f.run(&["staging", "idp"]),
        3,
        "no Auto Scaling Group staging-idp: region us-west-2 has no groups for environment staging",
        "check the environment name, AWS_REGION and the credentials",
    );
}

#[test]
fn counts_must_be_whole_numbers() {
    let f = Fixture::prod();
    for bad in ["-1", "six", "2.5"] {
        let out = f.run(&["prod", "idp", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            stderr(&out).contains(&format!(
                "`{bad}` is not a count (a whole number, 0 or more)"
            )),
            "{}",
            stderr(&out)
        );
    }
    // A field flag needs a count.
    assert_eq!(f.run(&["prod", "idp", "--max"]).status.code(), Some(2));
    assert_eq!(f.capacity("prod-idp"), (4, 0, 16));
}

/// Throttling: the SDK retries with backoff (standard mode), then one error line says what to
/// do. A local server stands in for an AWS endpoint that throttles every call.
#[test]
fn throttling_is_retried_then_reported_with_the_fix() {
    use crate::support::http::{HttpServer, Response};
    let aws = HttpServer::start();
    let throttled = Response::text(
        400,
        "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><Error>\
         <Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>\
         <RequestId>3f1c0a52-0000-4000-8000-000000000000</RequestId></ErrorResponse>",
    )
    .header("content-type", "text/xml");
    aws.route("POST", "/", throttled);
    let home = tempfile::tempdir().unwrap();
    let mut c = crate::support::cmd(home.path());
    let out = crate::support::aws_env(&mut c, &aws.url)
        .env("AWS_MAX_ATTEMPTS", "3")
        .args(["asg-size", "prod", "idp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    // asg-size reads the group and its scheduled actions concurrently; either may fail first.
    assert!(err.starts_with("error: Describe"), "{err}");
    assert!(
        err.contains(" failed: Throttling: Rate exceeded\n"),
        "{err}"
    );
    assert!(err.ends_with("help: AWS is throttling requests and retries did not help; wait a minute and run again\n"), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
    // Each of the two calls was tried 3 times (AWS_MAX_ATTEMPTS) before giving up.
    assert!(aws.requests_to("POST", "/").len() >= 3, "the SDK retried");
}
