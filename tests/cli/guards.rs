//! Guards every command shares: a closed pipe ends quietly, and -v/-vv raise only our own
//! diagnostics.

use std::os::unix::net::UnixStream;
use std::process::Stdio;

use crate::asg_recycle::{prod, run};
use crate::support::aws_vars;
use crate::support::{code, std_cmd, stderr};

/// Runs the binary with stdout and stderr on a socket whose reader is already gone, as after
/// `| head -2` has read its lines: every write fails with EPIPE.
fn with_closed_output(moto: &crate::support::moto::Moto, args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    let (ours, reader) = UnixStream::pair().unwrap();
    drop(reader);
    let out_end = ours.try_clone().unwrap();
    let mut c = std_cmd(home.path(), assert_cmd::cargo::cargo_bin("login-release"));
    c.envs(aws_vars(moto.url()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::os::fd::OwnedFd::from(out_end)))
        .stderr(Stdio::from(std::os::fd::OwnedFd::from(ours)));
    c.output().unwrap()
}

#[test]
fn a_closed_pipe_ends_a_dry_run_and_a_listing_quietly_with_141() {
    let (moto, _home) = prod();
    let out = with_closed_output(
        &moto,
        &["scale-remove-old-instances", "prod", "ALL", "--dry-run"],
    );
    assert_eq!(
        code(&out),
        141,
        "a dry run whose reader left: 141, never a panic (101)"
    );
    let out = with_closed_output(&moto, &["ls-servers", "-e", "prod"]);
    assert_eq!(code(&out), 141);
}

#[test]
fn a_closed_pipe_stops_a_change_before_its_prompt_quietly() {
    let (moto, _home) = prod();
    // The issue's `scale-remove-old-instances prod ALL 2>&1 | head -2`: the reader left, so the
    // run stops as Ctrl-C would stop it (here before anything could change), quietly.
    let out = with_closed_output(&moto, &["scale-remove-old-instances", "prod", "ALL"]);
    assert_eq!(code(&out), 141);
}

/// Lines of the diagnostics subscriber (`<time> LEVEL target: message`), not the command's own.
fn log_lines(err: &str) -> Vec<&str> {
    err.lines()
        .filter(|l| {
            [" TRACE ", " DEBUG ", " INFO ", " WARN "]
                .iter()
                .any(|lvl| l.contains(lvl))
        })
        .collect()
}

#[test]
fn very_verbose_traces_only_our_own_crate() {
    let (moto, home) = prod();
    let out = run(&moto, &home, None, &["asg-size", "prod", "idp", "-vv"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    for line in log_lines(&err) {
        assert!(
            line.contains(" login_release"),
            "a dependency's line at -vv: {line}"
        );
    }
    for dependency in ["aws_smithy", "aws_config", "hyper", "rustls", "reqwest"] {
        assert!(
            !err.contains(dependency),
            "{dependency} logged at -vv:\n{err}"
        );
    }
    // RUST_LOG still reaches the dependencies when asked: the check above can see them.
    let mut c = crate::support::cmd(home.path());
    moto.env(&mut c);
    let out = c
        .env("RUST_LOG", "aws_smithy_runtime=trace")
        .args(["asg-size", "prod", "idp", "-vv"])
        .output()
        .unwrap();
    assert!(
        log_lines(&stderr(&out))
            .iter()
            .any(|l| !l.contains(" login_release")),
        "RUST_LOG=aws_smithy_runtime=trace shows the SDK's lines"
    );
}

#[test]
fn a_fixed_clock_is_refused_unless_the_endpoint_is_this_machine() {
    let home = tempfile::tempdir().unwrap();
    let refused = |endpoint: Option<&str>, args: &[&str]| {
        let mut c = crate::support::cmd(home.path());
        c.env("LOGIN_RELEASE_NOW", "2026-11-26T12:00:00Z");
        if let Some(e) = endpoint {
            c.env("AWS_ENDPOINT_URL", e);
        }
        let out = c.args(args).output().unwrap();
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with("error: LOGIN_RELEASE_NOW is set, but AWS_ENDPOINT_URL"),
            "{err}"
        );
        assert!(err.contains("help: unset LOGIN_RELEASE_NOW"), "{err}");
        assert!(crate::support::stdout(&out).is_empty());
    };
    // Real AWS (no endpoint, or a remote one): refused before any call, AWS or git.
    refused(None, &["asg-recycle", "prod", "idp", "--dry-run"]);
    refused(
        Some("https://autoscaling.us-west-2.amazonaws.com"),
        &["scale-remove-old-instances", "prod", "ALL", "--dry-run"],
    );
    refused(Some("http://127.0.0.1.example.com:5000"), &["ls-servers"]);
    // The tag name and the RC branch's date use the clock: git commands too.
    refused(None, &["tag-release", "--dry-run"]);

    // The emulator on this machine: honoured.
    let (moto, home) = prod();
    let out = run(
        &moto,
        &home,
        Some("2026-11-26T12:00:00Z"),
        &["asg-size", "prod", "idp"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}
