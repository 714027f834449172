//! Test fixtures shared by every module of the one integration test binary: the built binary
//! with a clean environment, real git repositories, a real GnuPG home, the AWS emulator, and a
//! local HTTP server. A fixture that cannot find its component fails with the fix in its message.

#![allow(dead_code)]

use std::path::Path;

pub mod git;
pub mod github;
pub mod gpg;
pub mod http;
pub mod insights;
pub mod moto;

/// The built binary with an environment that cannot leak the developer's settings into a test:
/// a throw-away HOME and config location, no colours, and a fixed terminal width.
pub fn cmd(home: &Path) -> assert_cmd::Command {
    assert_cmd::Command::from_std(std_cmd(home))
}

/// [`cmd`] as a `std::process::Command`, for a child the test runs in the background.
pub fn std_cmd(home: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("login-release"));
    for (k, _) in std::env::vars() {
        if k.starts_with("LOGIN_RELEASE_")
            || k.starts_with("AWS_")
            || k.starts_with("GIT_")
            || k == "GITHUB_TOKEN"
            || k == "GH_TOKEN"
            || k.starts_with("GITHUB_")
        {
            c.env_remove(&k);
        }
    }
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("NO_COLOR", "1")
        .env("COLUMNS", "200")
        .env("RUST_BACKTRACE", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", home.join(".gitconfig"))
        .env("GIT_AUTHOR_NAME", "Release Tester")
        .env("GIT_AUTHOR_EMAIL", "tester@example.gov")
        .env("GIT_COMMITTER_NAME", "Release Tester")
        .env("GIT_COMMITTER_EMAIL", "tester@example.gov");
    c
}

/// Points a command at an AWS endpoint with dummy credentials, one attempt per call, and no
/// instance metadata look-ups (DESIGN section 7).
pub fn aws_env<'a>(c: &'a mut assert_cmd::Command, endpoint: &str) -> &'a mut assert_cmd::Command {
    c.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", moto::REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
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
