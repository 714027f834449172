//! `make demo` is the README's first command: the same script runs here, against the built
//! binary, so it cannot rot. It rehearses two releases in the living sandbox: one from cut to
//! tag, and one whose new code errors, which the monitor fails and `deploy rollback` undoes.

use std::path::Path;
use std::time::Duration;

use crate::support::{stderr, stdout};

#[test]
fn make_demo_rehearses_a_release_and_a_rollback() {
    let home = tempfile::tempdir().unwrap();
    let python =
        login_release::sandbox::emulator::find_python(Some(Path::new(env!("CARGO_MANIFEST_DIR"))))
            .unwrap_or_else(|e| panic!("{e:#}: run `make test-deps`"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo.sh");
    let bin = assert_cmd::cargo::cargo_bin("login-release");
    // The clean environment of every test command; the program is the script, given the binary.
    let mut c = assert_cmd::Command::from_std(crate::support::std_cmd(home.path(), &script));
    let out = c
        .arg(&bin)
        .env("LOGIN_RELEASE_MOTO_PYTHON", python)
        .env("TMPDIR", home.path())
        .timeout(Duration::from_secs(420))
        .output()
        .unwrap();
    let all = format!("{}\n{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "exit {:?}\n{all}", out.status.code());
    for expected in [
        "preflight passed",
        "== step 10/10",
        "deploy stopped at step `monitor`",
        "retrospective",
        "Production after the rollback",
    ] {
        assert!(all.contains(expected), "{expected:?} in:\n{all}");
    }
    // The script's own sandbox is gone with it (trap on exit).
    let left: Vec<_> = std::fs::read_dir(home.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("login-release-demo")
        })
        .collect();
    assert!(left.is_empty(), "the demo left {left:?}");
}
