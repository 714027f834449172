//! tail-logs against the emulator: dedupe across shared timestamps while following, --until,
//! --fail-on, --since, output formats, Ctrl-C, and the bad-input errors.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use crate::support::moto::{Moto, REGION};
use crate::support::{cmd, stderr, stdout};
use crate::watch_migration::{create_group, interrupt, now_ms, put, spawn};

const GROUP: &str = "prod_/srv/idp/shared/log/production.log";
const STREAM: &str = "i-0aaa";

fn setup(moto: &Moto) {
    create_group(moto, GROUP);
    moto.block_on(
        moto.aws
            .logs
            .create_log_stream()
            .log_group_name(GROUP)
            .log_stream_name(STREAM)
            .send(),
    )
    .unwrap();
}

fn tail(moto: &Moto, home: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut c = cmd(home);
    moto.env(&mut c);
    c.args(["tail-logs", "--group", GROUP, "--poll-interval", "50ms"])
        .args(extra)
        .timeout(Duration::from_secs(60));
    c.output().unwrap()
}

#[test]
fn events_sharing_a_timestamp_are_printed_once_while_following() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    setup(&moto);
    let ts = now_ms() - 1000;
    moto.block_on(put(&moto.aws, GROUP, STREAM, &["a", "b", "c"], ts));
    // While the command follows: more events with the SAME millisecond, then the --until line.
    let url = moto.url().to_string();
    let w = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let aws = login_release::aws::Aws::for_endpoint(&url, REGION)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(500)).await;
            put(&aws, GROUP, STREAM, &["d", "e"], ts).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            put(&aws, GROUP, STREAM, &["f", "DONE deploying"], ts).await;
        });
    });
    let out = tail(
        &moto,
        home.path(),
        &["--stream", STREAM, "--until", "^DONE", "--timeout", "30s"],
    );
    w.join().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(stdout(&out), "a\nb\nc\nd\ne\nf\nDONE deploying\n");
    assert!(
        err.starts_with(&format!("tail-logs: 7 events from {GROUP} / {STREAM} in "))
            && err.ends_with("; --until matched\n"),
        "{err}"
    );
}

#[test]
fn fail_on_exits_5_at_the_matching_line() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    setup(&moto);
    moto.block_on(put(
        &moto.aws,
        GROUP,
        STREAM,
        &["started", "ERROR: Passenger did not restart", "after"],
        now_ms() - 2000,
    ));
    let out = tail(
        &moto,
        home.path(),
        &["--instance", STREAM, "--fail-on", "ERROR"],
    );
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(stdout(&out), "started\nERROR: Passenger did not restart\n");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[lines.len() - 2],
        format!("error: a line matched --fail-on `ERROR` in stream {STREAM}: ERROR: Passenger did not restart")
    );
    assert!(
        lines[lines.len() - 1].starts_with(&format!(
            "help: read around it: login-release tail-logs --group '{GROUP}' --stream '{STREAM}' --since 20"
        )),
        "{err}"
    );
}

#[test]
fn since_takes_a_duration_or_a_time_and_without_follow_stops_when_caught_up() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    setup(&moto);
    let now = now_ms();
    moto.block_on(put(
        &moto.aws,
        GROUP,
        STREAM,
        &["two hours ago"],
        now - 2 * 3_600_000,
    ));
    moto.block_on(put(
        &moto.aws,
        GROUP,
        STREAM,
        &["half an hour ago"],
        now - 1_800_000,
    ));
    moto.block_on(put(
        &moto.aws,
        GROUP,
        STREAM,
        &["a minute ago"],
        now - 60_000,
    ));

    let out = tail(&moto, home.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "a minute ago\n",
        "the default is the last 10 minutes"
    );

    let hour_ago = jiff::Timestamp::from_millisecond(now - 3_600_000).unwrap();
    let out = tail(&moto, home.path(), &["--since", &hour_ago.to_string()]);
    assert_eq!(stdout(&out), "half an hour ago\na minute ago\n");

    let out = tail(&moto, home.path(), &["--since", "3h", "--output", "tsv"]);
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "timestamp\tstream\tmessage");
    assert_eq!(rows.len(), 4);
    assert!(
        rows[3].ends_with(&format!("Z\t{STREAM}\ta minute ago")),
        "{text}"
    );

    let out = tail(&moto, home.path(), &["--since", "3h", "--output", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["command"], "tail-logs");
    assert_eq!(doc["outcome"], "caught_up");
    assert_eq!(doc["events"].as_array().unwrap().len(), 3);
    assert_eq!(doc["events"][0]["message"], "two hours ago");
    assert_eq!(doc["events"][0]["stream"], STREAM);

    let out = tail(&moto, home.path(), &["--since", "1s"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).starts_with(&format!("no events in {GROUP} since ")));
}

#[test]
fn timeout_fails_only_while_waiting_for_until() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    setup(&moto);
    moto.block_on(put(&moto.aws, GROUP, STREAM, &["working"], now_ms() - 1000));
    let out = tail(&moto, home.path(), &["--follow", "--timeout", "1s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "working\n");

    let out = tail(
        &moto,
        home.path(),
        &["--until", "finished", "--timeout", "1s"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[lines.len() - 2],
        "error: no line matched --until `finished` within 1s"
    );
    assert!(
        lines[lines.len() - 1].starts_with(&format!(
            "help: what you wait for may still be coming: continue with login-release tail-logs --group '{GROUP}' --since "
        )),
        "{err}"
    );
}

#[test]
fn follow_exits_0_on_ctrl_c() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    setup(&moto);
    moto.block_on(put(&moto.aws, GROUP, STREAM, &["first"], now_ms() - 1000));
    let mut child = spawn(
        &moto,
        home.path(),
        &[
            "tail-logs",
            "--group",
            GROUP,
            "--follow",
            "--poll-interval",
            "50ms",
        ],
    );
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    // Line-buffered through a pipe: the first line arrives while the command keeps running.
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "first\n");
    // The command installs its own Ctrl-C handler right after printing; give a loaded
    // machine time to get there, or the generic handler answers instead.
    std::thread::sleep(std::time::Duration::from_millis(500));
    interrupt(&child);
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("tail-logs: 1 events from"), "{err}");
    assert!(err.ends_with("; stopped\n"), "{err}");
}

#[test]
fn bad_input_is_refused_with_a_hint() {
    let moto = Moto::start();
    let home = tempfile::tempdir().unwrap();
    setup(&moto);
    let out = tail(&moto, home.path(), &["--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: --since `yesterday` is neither a duration (like 10m or 1h30m) nor an RFC 3339 time\n\
         help: use a duration back from now (90s, 10m, 1h30m) or a time like 2026-11-26T18:00:00Z\n"
    );

    let out = tail(&moto, home.path(), &["--until", "db:migrate("]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: --until `db:migrate(` is not a valid regular expression: "),
        "{err}"
    );
    assert!(err.ends_with("help: quote the pattern for the shell and escape regex characters such as ( [ . * with a backslash\n"), "{err}");

    let mut c = cmd(home.path());
    moto.env(&mut c);
    let out = c
        .args([
            "tail-logs",
            "--group",
            "prod_/srv/idp/shared/log/productoin.log",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        format!("error: log group `prod_/srv/idp/shared/log/productoin.log` does not exist in us-west-2\nhelp: did you mean `{GROUP}`?\n")
    );

    let out = tail(&moto, home.path(), &["--instance", "i-0aab"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        format!("error: log stream `i-0aab` does not exist in {GROUP}\nhelp: did you mean `{STREAM}`?\n")
    );
}
