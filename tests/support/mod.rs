//! Test fixtures shared by every module of the one integration test binary: the built binary
//! with a clean environment, real git repositories, a real GnuPG home, the AWS emulator, and a
//! local HTTP server. A fixture that cannot find its component fails with the fix in its message.

#![allow(dead_code)]

use std::path::Path;

pub mod fault;
pub mod git;
pub mod git_http;
pub mod github;
pub mod gpg;
pub mod http;
pub mod insights;
pub mod moto;
pub mod pty;

/// Whether a variable of the developer's environment is kept out of every test command.
fn leaks_settings(key: &str) -> bool {
    key.starts_with("LOGIN_RELEASE_")
        || key.starts_with("AWS_")
        || key.starts_with("GIT_")
        || key == "GITHUB_TOKEN"
        || key == "GH_TOKEN"
        || key.starts_with("GITHUB_")
}

/// The environment every test command runs with: a throw-away HOME and config location, no
/// colours, a fixed terminal width and a fixed git identity.
fn clean_env(home: &Path) -> Vec<(&'static str, std::ffi::OsString)> {
    vec![
        ("HOME", home.into()),
        ("XDG_CONFIG_HOME", home.join(".config").into()),
        ("NO_COLOR", "1".into()),
        ("COLUMNS", "200".into()),
        ("RUST_BACKTRACE", "0".into()),
        ("GIT_CONFIG_NOSYSTEM", "1".into()),
        ("GIT_CONFIG_GLOBAL", home.join(".gitconfig").into()),
        ("GIT_AUTHOR_NAME", "Release Tester".into()),
        ("GIT_AUTHOR_EMAIL", "tester@example.gov".into()),
        ("GIT_COMMITTER_NAME", "Release Tester".into()),
        ("GIT_COMMITTER_EMAIL", "tester@example.gov".into()),
    ]
}

/// `program` with the clean environment of [`cmd`], as a plain `std::process::Command` (for
/// tests that drive a running process, such as one on a pseudo-terminal).
pub fn std_cmd(home: &Path, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    let mut c = std::process::Command::new(program);
    for (k, _) in std::env::vars() {
        if leaks_settings(&k) {
            c.env_remove(&k);
        }
    }
    c.envs(clean_env(home));
    c
}

/// The built binary with an environment that cannot leak the developer's settings into a test:
/// a throw-away HOME and config location, no colours, and a fixed terminal width.
pub fn cmd(home: &Path) -> assert_cmd::Command {
    let bin = assert_cmd::cargo::cargo_bin("login-release");
    assert_cmd::Command::from_std(std_cmd(home, bin))
}

/// The variables that point a command at an AWS endpoint with dummy credentials, one attempt per
/// call, and no instance metadata look-ups (DESIGN section 7).
pub fn aws_vars(endpoint: &str) -> [(&'static str, String); 6] {
    [
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_REGION", moto::REGION.to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("AWS_MAX_ATTEMPTS", "1".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ]
}

/// Points a command at an AWS endpoint (see [`aws_vars`]).
pub fn aws_env<'a>(c: &'a mut assert_cmd::Command, endpoint: &str) -> &'a mut assert_cmd::Command {
    c.envs(aws_vars(endpoint))
}

/// The exit code of a finished command (a test that gets a signal-killed process fails here).
pub fn code(out: &std::process::Output) -> i32 {
    out.status
        .code()
        .expect("the command exited, not killed by a signal")
}

/// Asserts success, showing the exit code and both streams when it is not.
pub fn assert_success(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "exit {:?}\nstderr:\n{}\nstdout:\n{}",
        out.status.code(),
        stderr(out),
        stdout(out)
    );
}

/// stdout of a finished command as text.
pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr of a finished command as text.
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `git ARGS` in `dir` with no user or system configuration; its trimmed stdout (fails the test,
/// with git's stderr, when git fails).
pub fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
