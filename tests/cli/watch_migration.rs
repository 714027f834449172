//! watch-migration against the emulator: a writer thread appends cloud-init output to the
//! instance's stream (creating it late, as the CloudWatch agent does) while the command follows.

use std::time::Duration;

use login_release::sandbox::seed::{FleetSpec, GroupSpec};

use crate::support::moto::Moto;
use crate::support::{cmd, stderr, stdout};

pub const CLOUD_INIT: &str = "prod_/var/log/cloud-init-output.log";
const OK: &str = "All done! provision.sh finished for identity-devops";
const OK_PRIVATE: &str = "All done! provision.sh finished for identity-devops-private";

/// What the writer thread does, in order.
pub enum Act {
    Wait(u64),
    CreateStream,
    Lines(Vec<&'static str>),
    Terminate,
}

/// Runs `acts` on a thread with its own runtime and clients (the fixture's runtime is not driven
/// while the test waits for the command).
pub fn writer(
    moto: &Moto,
    group: &'static str,
    stream: String,
    acts: Vec<Act>,
) -> std::thread::JoinHandle<()> {
    let url = moto.url().to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let aws = login_release::aws::Aws::for_endpoint(&url, crate::support::moto::REGION)
                .await
                .unwrap();
            for act in acts {
                match act {
                    Act::Wait(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                    Act::CreateStream => {
                        aws.logs
                            .create_log_stream()
                            .log_group_name(group)
                            .log_stream_name(&stream)
                            .send()
                            .await
                            .unwrap();
                    }
                    Act::Lines(lines) => put(&aws, group, &stream, &lines, now_ms()).await,
                    Act::Terminate => {
                        aws.ec2
                            .terminate_instances()
                            .instance_ids(&stream)
                            .send()
                            .await
                            .unwrap();
                    }
                }
            }
        });
    })
}

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Appends lines that all share one timestamp (the agent batches them like this).
pub async fn put(
    aws: &login_release::aws::Aws,
    group: &str,
    stream: &str,
    lines: &[&str],
    ts: i64,
) {
    use aws_sdk_cloudwatchlogs::types::InputLogEvent;
    let mut req = aws
        .logs
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream);
    for l in lines {
        req = req.log_events(
            InputLogEvent::builder()
                .timestamp(ts)
                .message(*l)
                .build()
                .unwrap(),
        );
    }
    req.send().await.unwrap();
}

pub fn create_group(moto: &Moto, group: &str) {
    moto.block_on(
        moto.aws
            .logs
            .create_log_group()
            .log_group_name(group)
            .send(),
    )
    .unwrap();
}

fn seed(moto: &Moto, migration: i32) {
    moto.seed(&FleetSpec {
        env: "prod".into(),
        groups: vec![
            GroupSpec::new("migration", migration, 2)
                .tag("utility", "true")
                .unprotected(),
            GroupSpec::new("idp", 1, 4),
        ],
    });
}

fn instance_of(moto: &Moto, group: &str) -> String {
    let groups = moto
        .block_on(moto.aws.describe_groups(&[group.to_string()]))
        .unwrap();
    groups[0].instances[0].id.clone()
}

/// The binary as a child process (for signals), with the emulator's environment.
pub fn spawn(moto: &Moto, home: &std::path::Path, args: &[&str]) -> std::process::Child {
    use std::process::Stdio;
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("login-release"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        .env("AWS_ENDPOINT_URL", moto.url())
        .env("AWS_REGION", crate::support::moto::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.spawn().unwrap()
}

pub fn interrupt(child: &std::process::Child) {
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
}

fn watch(moto: &Moto, home: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut c = cmd(home);
    moto.env(&mut c);
    c.args(["watch-migration", "prod", "--poll-interval", "50ms"])
        .args(extra)
        .timeout(Duration::from_secs(60));
    c.output().unwrap()
}

#[test]
fn follows_the_stream_from_its_start_until_the_success_marker() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    seed(&moto, 1);
    create_group(&moto, CLOUD_INIT);
    let id = instance_of(&moto, "prod-migration");
    // The stream appears only after the watch has started, and lines arrive in two batches.
    let w = writer(
        &moto,
        CLOUD_INIT,
        id.clone(),
        vec![
            Act::Wait(400),
            Act::CreateStream,
            Act::Lines(vec![
                "Cloud-init v. 24.1 running",
                OK_PRIVATE,
                "rake db:migrate",
            ]),
            Act::Wait(400),
            Act::Lines(vec!["== AddIndexToUsers: migrated", OK]),
        ],
    );
    let out = watch(&moto, home.path(), &["--timeout", "30s"]);
    w.join().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(
        stdout(&out),
        format!(
            "Cloud-init v. 24.1 running\n{OK_PRIVATE}\nrake db:migrate\n== AddIndexToUsers: migrated\n{OK}\n"
        ),
        "every line once, in order, and the -private marker did not end the watch"
    );
    assert!(
        err.contains(&format!("following {id} of prod-migration, launched ")),
        "{err}"
    );
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("ok: watch-migration: succeeded after ")
            && last.ends_with(&format!(" (instance {id}, 5 lines)")),
        "{err}"
    );
}

#[test]
fn a_failure_marker_exits_5() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    seed(&moto, 1);
    create_group(&moto, CLOUD_INIT);
    let id = instance_of(&moto, "prod-migration");
    let abandoned: &'static str = Box::leak(
        format!(
            "Instance {id} for ASG prod-migration was ABANDONED.  Fatal error in provisioning."
        )
        .into_boxed_str(),
    );
    let w = writer(
        &moto,
        CLOUD_INIT,
        id.clone(),
        vec![
            Act::CreateStream,
            Act::Lines(vec!["chef: migration recipe failed"]),
            Act::Wait(300),
            Act::Lines(vec![abandoned, "never printed"]),
        ],
    );
    let out = watch(&moto, home.path(), &[]);
    w.join().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert_eq!(
        stdout(&out),
        format!("chef: migration recipe failed\n{abandoned}\n")
    );
    let lines: Vec<&str> = err.lines().collect();
    let n = lines.len();
    assert!(
        lines[n - 3].starts_with("watch-migration: failed after ")
            && lines[n - 3].ends_with(&format!(" (instance {id}, 2 lines)")),
        "{err}"
    );
    assert_eq!(
        lines[n - 2],
        format!("error: provisioning of {id} failed: {abandoned}")
    );
    assert!(lines[n - 1].starts_with("help: the group abandons and replaces the instance; read the whole log with `login-release tail-logs --group 'prod_/var/log/cloud-init-output.log' --instance "), "{err}");
}

#[test]
fn an_instance_terminated_before_success_exits_5() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    seed(&moto, 1);
    create_group(&moto, CLOUD_INIT);
    let id = instance_of(&moto, "prod-migration");
    let w = writer(
        &moto,
        CLOUD_INIT,
        id.clone(),
        vec![
            Act::CreateStream,
            Act::Lines(vec!["provisioning"]),
            Act::Wait(300),
            Act::Terminate,
        ],
    );
    let out = watch(&moto, home.path(), &[]);
    w.join().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert_eq!(stdout(&out), "provisioning\n");
    assert!(
        err.contains(&format!("warning: {id} is terminated")),
        "{err}"
    );
    assert!(
        err.contains(&format!("error: {id} went away (terminated) before the success marker\nhelp: provisioning was probably abandoned;")),
        "{err}"
    );
}

#[test]
fn no_migration_instance_within_the_timeout_exits_1() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    seed(&moto, 0);
    create_group(&moto, CLOUD_INIT);
    let out = watch(&moto, home.path(), &["--timeout", "1s"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(stdout(&out).is_empty());
    let lines: Vec<&str> = err.lines().collect();
    let n = lines.len();
    assert_eq!(
        lines[n - 3],
        "watch-migration: timed out after 1s (no instance of prod-migration, 0 lines)"
    );
    assert_eq!(
        lines[n - 2],
        "error: no running instance of prod-migration appeared within 1s"
    );
    assert_eq!(lines[n - 1], "help: a recycle starts the migration instance first (`login-release asg-recycle prod idp`); one that already ended is read with `--instance ID` (`login-release ls-servers -e prod --states all` lists it)");
}

#[test]
fn role_follows_the_newest_instance_and_json_reports_the_outcome() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    seed(&moto, 0);
    create_group(&moto, CLOUD_INIT);
    let id = instance_of(&moto, "prod-idp");
    moto.block_on(
        moto.aws
            .logs
            .create_log_stream()
            .log_group_name(CLOUD_INIT)
            .log_stream_name(&id)
            .send(),
    )
    .unwrap();
    moto.block_on(put(&moto.aws, CLOUD_INIT, &id, &["booting", OK], now_ms()));
    let out = watch(&moto, home.path(), &["--role", "idp", "--output", "json"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["command"], "watch-migration");
    assert_eq!(doc["instance"], id.as_str());
    assert_eq!(doc["outcome"], "succeeded");
    assert_eq!(doc["lines"], 2);
    assert_eq!(doc["detail"], OK);
    assert!(doc["duration_secs"].as_f64().unwrap() < 30.0);
    // The log lines went to stderr, for the person watching.
    assert!(err.contains("booting\n"), "{err}");
}

#[test]
fn a_missing_log_group_or_instance_is_a_preflight_failure() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    seed(&moto, 1);
    create_group(&moto, "prod_/var/log/cloud-init.log");
    let out = watch(&moto, home.path(), &[]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        "error: log group `prod_/var/log/cloud-init-output.log` does not exist in us-west-2\n\
         help: did you mean `prod_/var/log/cloud-init.log`? the group comes from the setting naming.cloud_init_log_group (`login-release config`)\n"
    );

    create_group(&moto, CLOUD_INIT);
    let out = watch(&moto, home.path(), &["--instance", "i-0123456789abcdef0"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        "error: instance i-0123456789abcdef0 does not exist in us-west-2\n\
         help: `login-release ls-servers -e prod` lists the environment's instances\n"
    );
}

#[test]
fn ctrl_c_says_where_things_stand_and_exits_130() {
    use std::io::{BufRead, BufReader, Read};
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    seed(&moto, 0);
    create_group(&moto, CLOUD_INIT);
    let mut child = spawn(
        &moto,
        home.path(),
        &["watch-migration", "prod", "--poll-interval", "50ms"],
    );
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    assert!(
        first.ends_with("] waiting for a running instance of prod-migration\n"),
        "{first}"
    );
    // The command installs its own Ctrl-C handler right after printing; give a loaded
    // machine time to get there, or the generic handler answers instead.
    std::thread::sleep(std::time::Duration::from_millis(500));
    interrupt(&child);
    let status = child.wait().unwrap();
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    let lines: Vec<&str> = rest.lines().collect();
    let n = lines.len();
    assert!(
        lines[n - 3].starts_with("watch-migration: interrupted after "),
        "{rest}"
    );
    assert_eq!(
        lines[n - 2],
        "error: stopped waiting for an instance of prod-migration"
    );
    assert_eq!(
        lines[n - 1],
        "help: nothing was changed and provisioning continues; watch again with `login-release watch-migration prod`"
    );
}
