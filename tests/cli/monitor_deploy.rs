//! `monitor-deploy`: EC2 and Auto Scaling on the emulator (the shas come from the instances'
//! `gitsha:idp` tags), CloudWatch Logs Insights on the local server of `support::insights`,
//! because the emulator ignores `filter` and `stats` and so cannot count anything.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use login_release::aws::Aws;
use login_release::monitor::insights::{self, Pace, Request};
use login_release::sandbox::seed::FleetSpec;

use crate::asg_recycle::{group, next_second, set_desired, NOW};
use crate::support::insights::{Insights, Kind, Record};
use crate::support::moto::{Moto, REGION};
use crate::support::{cmd, code, stderr, stdout};

const REQUESTS: &str = "prod_/srv/idp/shared/log/production.log";
const EVENTS: &str = "prod_/srv/idp/shared/log/events.log";
const MFA: &str = "Multi-Factor Authentication";

fn old() -> String {
    "a".repeat(40)
}
fn new() -> String {
    "b".repeat(40)
}

fn at(mins: i64) -> Timestamp {
    NOW.parse::<Timestamp>().unwrap() + SignedDuration::from_mins(mins)
}

/// prod idp with 4 instances on the old sha, then 4 more launched on the new one (the group's
/// propagated `gitsha:idp` tag changed, as a deploy's chef run changes it).
fn deployed(shas: &[String]) -> (Moto, tempfile::TempDir) {
    let moto = Moto::start();
    moto.seed(&FleetSpec::uniform("prod", &["idp"], 4, &shas[0]));
    let mut desired = 4;
    for sha in &shas[1..] {
        next_second();
        let tag = aws_sdk_autoscaling::types::Tag::builder()
            .resource_id("prod-idp")
            .resource_type("auto-scaling-group")
            .key("gitsha:idp")
            .value(sha)
            .propagate_at_launch(true)
            .build();
        moto.block_on(
            moto.aws
                .autoscaling
                .create_or_update_tags()
                .tags(tag)
                .send(),
        )
        .unwrap();
        desired += 2;
        set_desired(&moto, "prod-idp", desired);
    }
    (moto, tempfile::tempdir().unwrap())
}

/// Per minute in `[from, to)` minutes around NOW: requests with 5xx, and MFA attempts with
/// successes, for one sha.
#[allow(clippy::too_many_arguments)]
fn traffic(
    ins: &Insights,
    sha: &str,
    from: i64,
    to: i64,
    requests: u64,
    errors: u64,
    mfa: u64,
    mfa_ok: u64,
) {
    for m in from..to {
        let ts_ms = at(m).as_millisecond() + 500;
        let stream = format!("idp-{}", &sha[..4]);
        let rec = |kind, count| Record {
            group: if matches!(kind, Kind::Request { .. }) {
                REQUESTS.into()
            } else {
                EVENTS.into()
            },
            ts_ms,
            sha: sha.to_string(),
            stream: stream.clone(),
            kind,
            count,
        };
        ins.add(rec(Kind::Request { status: 200 }, requests - errors));
        ins.add(rec(Kind::Request { status: 503 }, errors));
        ins.add(rec(
            Kind::Event {
                name: MFA.into(),
                success: true,
            },
            mfa_ok,
        ));
        ins.add(rec(
            Kind::Event {
                name: MFA.into(),
                success: false,
            },
            mfa - mfa_ok,
        ));
    }
}

fn logs() -> Insights {
    let ins = Insights::start();
    ins.group(REQUESTS).group(EVENTS);
    ins
}

fn monitor(
    moto: &Moto,
    ins: &Insights,
    home: &tempfile::TempDir,
    args: &[&str],
) -> std::process::Output {
    let mut c = cmd(home.path());
    moto.env(&mut c);
    c.env("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", &ins.url)
        .env("LOGIN_RELEASE_NOW", NOW)
        .env("LOGIN_RELEASE_MONITOR_INGESTION_LAG", "0s")
        .args(["monitor-deploy", "prod", "idp", "--poll-interval", "20ms"])
        .args(args);
    c.output().unwrap()
}

fn verdict_tag(moto: &Moto) -> Option<String> {
    group(moto, "prod-idp")
        .tags
        .get(login_release::monitor::record::TAG)
        .cloned()
}

#[test]
fn equal_rates_pass_with_one_json_document_and_record_the_verdict() {
    let (moto, home) = deployed(&[old(), new()]);
    let ins = logs();
    traffic(&ins, &old(), -20, 0, 20_000, 100, 1000, 930);
    traffic(&ins, &new(), -10, 0, 20_000, 100, 1000, 930);
    let o = monitor(
        &moto,
        &ins,
        &home,
        &["--interval", "1s", "--max-duration", "2s", "-o", "json"],
    );
    assert_eq!(code(&o), 0, "{}\n{}", stderr(&o), stdout(&o));
    let text = stdout(&o);
    assert!(
        text.trim_start().starts_with("{\n  \"schema_version\": 1"),
        "{text}"
    );
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["verdict"], "PASS");
    assert_eq!(doc["old_sha"], old());
    assert_eq!(doc["new_sha"], new());
    assert_eq!(doc["deploy_start"], at(-10).to_string());
    let tick = &doc["ticks"][0];
    assert_eq!(tick["assessments"][0]["metric"], "server_errors");
    assert_eq!(tick["assessments"][0]["new"]["trials"], 200_000);
    assert_eq!(
        tick["assessments"][0]["old"]["trials"], 200_000,
        "the same window for both shas"
    );
    assert_eq!(
        tick["baseline"][0]["old"]["trials"], 200_000,
        "the old sha before the deploy"
    );
    assert!(doc["rollback"].is_null());
    assert!(verdict_tag(&moto)
        .unwrap()
        .starts_with(&format!("PASS new={}", new())));
}

#[test]
fn a_doubled_5xx_rate_fails_with_exit_5_and_the_rollback_command() {
    let (moto, home) = deployed(&[old(), new()]);
    let ins = logs();
    traffic(&ins, &old(), -20, 0, 20_000, 100, 1000, 930);
    traffic(&ins, &new(), -10, 0, 20_000, 200, 1000, 930);
    let o = monitor(
        &moto,
        &ins,
        &home,
        &["--interval", "1s", "--max-duration", "2s"],
    );
    assert_eq!(code(&o), 5, "{}\n{}", stderr(&o), stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains("verdict: FAIL: 5xx rate: new 1.00% (2000/200000) vs old 0.50% (1000/200000)"),
        "{out}"
    );
    assert!(
        out.contains("roll back with: login-release scale-remove-new-instances prod idp"),
        "{out}"
    );
    let err = stderr(&o);
    assert!(err.contains("error: FAIL"), "{err}");
    assert!(
        err.contains("help: roll back: `login-release scale-remove-new-instances prod idp`"),
        "{err}"
    );
    assert!(verdict_tag(&moto).unwrap().starts_with("FAIL "));
    // The team sees it when removing the old instances.
    let mut c = cmd(home.path());
    moto.env(&mut c);
    let o = c
        .env("LOGIN_RELEASE_NOW", NOW)
        .args(["scale-remove-old-instances", "prod", "idp", "--dry-run"])
        .output()
        .unwrap();
    assert!(
        stderr(&o)
            .contains("warning: the last monitor-deploy verdict recorded on prod-idp is FAIL new="),
        "{}",
        stderr(&o)
    );
}

#[test]
fn undecided_at_the_deadline_is_inconclusive_exit_6_and_each_tick_queries_only_its_slice() {
    let (moto, home) = deployed(&[old(), new()]);
    let ins = logs();
    // 0.8% against 0.5% on 20,000 requests: the interval straddles the allowance.
    traffic(&ins, &old(), -20, 0, 2000, 10, 100, 93);
    traffic(&ins, &new(), -10, 0, 2000, 16, 100, 93);
    let o = monitor(
        &moto,
        &ins,
        &home,
        &["--interval", "1s", "--max-duration", "2s"],
    );
    assert_eq!(code(&o), 6, "{}\n{}", stderr(&o), stdout(&o));
    let out = stdout(&o);
    let ticks: Vec<&str> = out.lines().filter(|l| l.contains(" look ")).collect();
    assert_eq!(
        ticks.len(),
        2,
        "one timestamped line per tick when piped: {out}"
    );
    assert!(
        ticks[0].starts_with("2030-01-01T00:00:00Z look 1 "),
        "{}",
        ticks[0]
    );
    assert!(out.contains("verdict: INCONCLUSIVE"), "{out}");
    assert!(stderr(&o).contains("error: INCONCLUSIVE"), "{}", stderr(&o));
    // Cost: one discovery, then per tick two queries (requests, events) for the window's new
    // slice and two for the baseline's; the second tick starts where the first ended.
    let q = ins.queries();
    let requests: Vec<_> = q
        .iter()
        .filter(|q| q.groups == [REQUESTS] && q.text.contains("errors_5xx"))
        .collect();
    assert_eq!(q.len(), 1 + 4 * 2, "{q:#?}");
    assert_eq!(requests.len(), 4, "window and baseline, twice");
    let (w1, b1, w2, b2) = (requests[0], requests[1], requests[2], requests[3]);
    assert_eq!(w1.start, at(-10).as_second());
    assert_eq!(
        w1.end,
        at(0).as_second() - 1,
        "the first tick counts everything so far"
    );
    assert_eq!(w2.start, w1.end + 1, "no overlap, no gap");
    assert!(
        w2.end - w2.start < 5,
        "the second tick only asks for its own slice: {w2:?}"
    );
    assert_eq!(
        b1.end,
        w1.start - 1,
        "the baseline ends where the deploy starts"
    );
    assert_eq!(
        b1.end - b1.start,
        w1.end - w1.start,
        "as long as the window"
    );
    assert_eq!(b2.end, b1.start - 1, "and grows backwards");
}

#[test]
fn three_shas_are_a_preflight_finding_naming_them() {
    let c = "c".repeat(40);
    let (moto, home) = deployed(&[old(), new(), c.clone()]);
    let ins = logs();
    let o = monitor(&moto, &ins, &home, &[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("compares exactly two shas; found 3"), "{err}");
    for sha in [old(), new(), c] {
        assert!(err.contains(&sha), "{sha} named: {err}");
    }
    assert!(err.contains("help: ") && err.contains("--old-sha"), "{err}");
    assert!(ins.queries().is_empty(), "nothing queried");
}

#[test]
fn a_missing_log_group_is_a_preflight_finding() {
    let (moto, home) = deployed(&[old(), new()]);
    let ins = Insights::start();
    ins.group(REQUESTS);
    let o = monitor(&moto, &ins, &home, &[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("error: log group {EVENTS} does not exist")),
        "{}",
        stderr(&o)
    );
    assert!(ins.queries().is_empty());
}

#[test]
fn bad_input_is_a_usage_error_or_a_preflight_finding() {
    let (moto, home) = (Moto::start(), tempfile::tempdir().unwrap());
    let ins = logs();
    let o = monitor(
        &moto,
        &ins,
        &home,
        &["--max-duration", "10s", "--interval", "30s"],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("error: --max-duration 10s is shorter than one --interval 30s"),
        "{}",
        stderr(&o)
    );
    let mut c = cmd(home.path());
    moto.env(&mut c);
    let o = c
        .env("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", &ins.url)
        .args(["monitor-deploy", "prod", "pivcac"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no request log group is configured for role pivcac"),
        "{}",
        stderr(&o)
    );
}

// `asg-recycle --monitor`: the recycle on the emulator, its watch, then the monitor on the
// local Logs Insights server, in one run of the binary.

/// prod-shaped fleet on the old sha; the idp group's `gitsha:idp` tag already says the new
/// one, so the instances the recycle launches run it (as a deploy's new AMI would).
fn before_recycle() -> (Moto, tempfile::TempDir) {
    let moto = Moto::start();
    moto.seed(&FleetSpec::prod_shaped("prod", &old()));
    // Launch times have one-second resolution: the new instances must be later than the old.
    next_second();
    let tag = aws_sdk_autoscaling::types::Tag::builder()
        .resource_id("prod-idp")
        .resource_type("auto-scaling-group")
        .key("gitsha:idp")
        .value(new())
        .propagate_at_launch(true)
        .build();
    moto.block_on(
        moto.aws
            .autoscaling
            .create_or_update_tags()
            .tags(tag)
            .send(),
    )
    .unwrap();
    (moto, tempfile::tempdir().unwrap())
}

fn recycle(
    moto: &Moto,
    ins: &Insights,
    home: &tempfile::TempDir,
    args: &[&str],
) -> std::process::Output {
    let mut c = cmd(home.path());
    moto.env(&mut c);
    c.env("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", &ins.url)
        .env("LOGIN_RELEASE_NOW", NOW)
        .env("LOGIN_RELEASE_MONITOR_INGESTION_LAG", "0s")
        .timeout(Duration::from_secs(120))
        .args(["asg-recycle", "prod"])
        .args(args);
    c.output().unwrap()
}

const MONITORED: &[&str] = &[
    "idp",
    "--skip-migration",
    "--skip-worker",
    "--monitor",
    "--monitor-interval",
    "1s",
    "--monitor-max-duration",
    "2s",
    "--monitor-poll-interval",
    "20ms",
];

#[test]
fn asg_recycle_monitor_watches_then_passes_and_records_the_verdict() {
    let (moto, home) = before_recycle();
    let ins = logs();
    traffic(&ins, &old(), -20, 0, 20_000, 100, 1000, 930);
    traffic(&ins, &new(), -10, 0, 20_000, 100, 1000, 930);
    let o = recycle(&moto, &ins, &home, &[MONITORED, &["--yes"]].concat());
    assert_eq!(code(&o), 0, "{}\n{}", stderr(&o), stdout(&o));
    let (out, err) = (stdout(&o), stderr(&o));
    assert_eq!(
        group(&moto, "prod-idp").desired,
        8,
        "the recycle was applied"
    );
    // The watch came first (implied by --monitor), then the monitor.
    let ready = err
        .find("ok: prod-idp: 4 new instances InService and Healthy")
        .unwrap_or_else(|| panic!("the watch ran: {err}"));
    let monitoring = err
        .find("the new instances are in service: monitor-deploy prod idp")
        .unwrap_or_else(|| panic!("{err}"));
    assert!(ready < monitoring, "{err}");
    assert!(
        err.contains(&format!("comparing new {} with old {}", new(), old())),
        "the monitor found the recycle's new sha: {err}"
    );
    assert!(out.contains("verdict: PASS: "), "{out}");
    assert!(verdict_tag(&moto)
        .unwrap()
        .starts_with(&format!("PASS new={} old={}", new(), old())));
    assert!(
        ins.queries().iter().any(|q| q.text.contains("errors_5xx")),
        "the monitor queried the request log"
    );
}

#[test]
fn asg_recycle_monitor_fail_exits_5_with_the_rollback_and_one_json_document() {
    let (moto, home) = before_recycle();
    let ins = logs();
    traffic(&ins, &old(), -20, 0, 20_000, 100, 1000, 930);
    traffic(&ins, &new(), -10, 0, 20_000, 200, 1000, 930);
    let o = recycle(
        &moto,
        &ins,
        &home,
        &[MONITORED, &["--yes", "-o", "json"]].concat(),
    );
    assert_eq!(code(&o), 5, "{}\n{}", stderr(&o), stdout(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["status"], "applied");
    assert_eq!(doc["watched"][0]["group"], "prod-idp");
    assert_eq!(doc["monitor"]["verdict"], "FAIL");
    assert_eq!(doc["monitor"]["new_sha"], new());
    assert_eq!(
        doc["monitor"]["rollback"],
        "login-release scale-remove-new-instances prod idp"
    );
    let steps = doc["plan"]["steps"].as_array().unwrap();
    assert_eq!(steps.last().unwrap()["action"], "monitor-deploy");
    let err = stderr(&o);
    assert!(err.contains("error: FAIL: "), "{err}");
    assert!(
        err.contains("help: roll back: `login-release scale-remove-new-instances prod idp`"),
        "{err}"
    );
    assert!(verdict_tag(&moto).unwrap().starts_with("FAIL "));
}

#[test]
fn asg_recycle_monitor_without_new_traffic_is_no_data_exit_6() {
    let (moto, home) = before_recycle();
    let ins = logs();
    traffic(&ins, &old(), -20, 0, 20_000, 100, 1000, 930);
    let o = recycle(&moto, &ins, &home, &[MONITORED, &["--yes"]].concat());
    assert_eq!(code(&o), 6, "{}\n{}", stderr(&o), stdout(&o));
    assert!(stdout(&o).contains("verdict: NO DATA"), "{}", stdout(&o));
    assert!(stderr(&o).contains("error: NO DATA"), "{}", stderr(&o));
    assert!(verdict_tag(&moto).unwrap().starts_with("NO DATA "));
}

#[test]
fn asg_recycle_monitor_dry_run_shows_the_monitor_in_the_plan_and_runs_nothing() {
    let (moto, home) = before_recycle();
    let ins = logs();
    let o = recycle(&moto, &ins, &home, &["idp", "--monitor", "--dry-run"]);
    assert_eq!(code(&o), 0, "{}\n{}", stderr(&o), stdout(&o));
    let plan = stdout(&o);
    assert!(plan.contains(". monitor-deploy prod-idp: "), "{plan}");
    assert!(
        plan.contains(&format!(
            "once the new instances are InService: new sha against old in {REQUESTS} and {EVENTS}, every 30s for up to 15m; records the verdict as tag login-release:monitor-verdict"
        )),
        "{plan}"
    );
    assert!(stderr(&o).contains("dry run: nothing was changed"));
    assert_eq!(group(&moto, "prod-idp").desired, 4);
    assert!(verdict_tag(&moto).is_none());
    assert!(
        ins.queries().is_empty(),
        "nothing queried in a dry run: {:?}",
        ins.queries()
    );
}

#[test]
fn asg_recycle_monitor_refuses_all_and_roles_without_log_groups_before_any_change() {
    let (moto, home) = before_recycle();
    let ins = logs();
    let o = recycle(&moto, &ins, &home, &["ALL", "--monitor", "--yes"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("error: --monitor judges one role's deploy; it cannot be used with ALL"),
        "{}",
        stderr(&o)
    );
    let o = recycle(&moto, &ins, &home, &["pivcac", "--monitor", "--yes"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no request log group is configured for role pivcac"),
        "{}",
        stderr(&o)
    );
    let o = recycle(
        &moto,
        &ins,
        &home,
        &["idp", "--monitor-interval", "1s", "--yes"],
    );
    assert_eq!(
        code(&o),
        2,
        "the monitor's flags need --monitor: {}",
        stderr(&o)
    );
    // A missing log group is found before the fleet changes, too.
    let lone = Insights::start();
    lone.group(REQUESTS);
    let o = recycle(&moto, &lone, &home, &["idp", "--monitor", "--yes"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("error: log group {EVENTS} does not exist")),
        "{}",
        stderr(&o)
    );
    assert_eq!(group(&moto, "prod-idp").desired, 4);
    assert_eq!(group(&moto, "prod-pivcac").desired, 2);
    assert!(crate::asg_recycle::actions(&moto).is_empty());
}

// The adapter itself, over the SDK client, against the local server.

fn client(ins: &Insights) -> (tokio::runtime::Runtime, Aws) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let aws = rt.block_on(Aws::for_endpoint(&ins.url, REGION)).unwrap();
    (rt, aws)
}

fn request() -> Request {
    Request {
        log_groups: vec![REQUESTS.to_string()],
        start: at(-10).as_second(),
        end: at(0).as_second() - 1,
        query: login_release::monitor::queries::requests(),
    }
}

fn pace() -> Pace {
    Pace::new(Duration::from_millis(10), Duration::from_secs(5))
}

#[test]
fn the_adapter_waits_through_scheduled_and_running_and_reads_the_rows() {
    let ins = logs();
    traffic(&ins, &new(), -10, 0, 100, 1, 0, 0);
    ins.script(&["Scheduled", "Running", "Running", "Complete"]);
    let (rt, aws) = client(&ins);
    let a = rt
        .block_on(insights::run(&aws.logs, &pace(), &request()))
        .unwrap();
    assert_eq!(a.rows.len(), 1);
    assert_eq!(a.rows[0]["requests"], "1000");
    assert_eq!(a.rows[0]["errors_5xx"], "10");
    assert_eq!(a.bytes_scanned, 4096.0);
    let polls = ins
        .targets()
        .iter()
        .filter(|t| t.ends_with("GetQueryResults"))
        .count();
    assert_eq!(polls, 4, "one poll per status");
}

#[test]
fn the_adapter_reports_failed_cancelled_and_timed_out_queries() {
    for (status, words) in [
        ("Failed", "failed in CloudWatch Logs"),
        ("Cancelled", "was cancelled"),
        ("Timeout", "timed out in CloudWatch Logs"),
    ] {
        let ins = logs();
        ins.script(&["Running", status]);
        let (rt, aws) = client(&ins);
        let e = rt
            .block_on(insights::run(&aws.logs, &pace(), &request()))
            .unwrap_err();
        let r = login_release::error::report(&e);
        assert_eq!(r.code, 1, "{status}");
        assert!(r.message.contains(words), "{status}: {}", r.message);
        assert!(r.hint.is_some());
    }
}

#[test]
fn the_adapter_backs_off_when_refused_and_stops_a_query_past_its_timeout() {
    let ins = logs();
    // The SDK's standard retry mode (3 attempts) already retries LimitExceededException; five
    // refusals outlast it, so the adapter's own backoff has to take over once.
    ins.refuse(5);
    let (rt, aws) = client(&ins);
    let a = rt
        .block_on(insights::run(&aws.logs, &pace(), &request()))
        .unwrap();
    assert_eq!(
        a.backoffs, 1,
        "the SDK gave up once, the adapter waited and asked again"
    );
    assert_eq!(ins.queries().len(), 1);

    let ins = logs();
    ins.script(&["Running"]);
    let (rt, aws) = client(&ins);
    let short = Pace::new(Duration::from_millis(10), Duration::from_millis(300));
    let e = rt
        .block_on(insights::run(&aws.logs, &short, &request()))
        .unwrap_err();
    assert!(e.to_string().contains("did not finish within"), "{e}");
    assert_eq!(
        ins.stopped(),
        ["q-1"],
        "the query was stopped, not left running"
    );

    let ins = logs();
    ins.refuse(1000);
    let (rt, aws) = client(&ins);
    let e = rt
        .block_on(insights::run(&aws.logs, &short, &request()))
        .unwrap_err();
    assert!(e.to_string().contains("kept refusing"), "{e}");

    let ins = Insights::start();
    let (rt, aws) = client(&ins);
    let e = rt
        .block_on(insights::run(&aws.logs, &pace(), &request()))
        .unwrap_err();
    assert_eq!(
        login_release::error::report(&e).code,
        3,
        "a missing group: {e}"
    );
}
