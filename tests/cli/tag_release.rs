//! Tests of `tag-release`: a real GnuPG key in a temporary GNUPGHOME, tags verified with
//! `git tag -v`, pushes to a bare origin through both transports.

use std::process::{Command, Output};

use serde_json::Value;

use crate::cut_rc::{assert_fails, both_transports, origin_refs, release_cmd, work_refs};
use crate::support::git::Repos;
use crate::support::gpg::Gpg;
use crate::support::{stderr, stdout};

/// `LOGIN_RELEASE_NOW` of these tests, and the tag name it gives.
const TAG: &str = "2026-11-20T184808";

struct World {
    r: Repos,
    gpg: Gpg,
    prod: String,
}

impl World {
    /// origin: main and stages/prod, prod one merge ahead of where main started.
    fn new(gpg: Gpg) -> Self {
        let mut r = Repos::new();
        r.commit("Add the account page (#101)", "");
        r.git(&["push", "-q", "origin", "main", "main:stages/prod"]);
        let prod = r.git(&["rev-parse", "HEAD"]);
        World { r, gpg, prod }
    }

    fn tag(&self, cli: bool, extra: &[&str]) -> Output {
        release_cmd(&self.r, cli)
            .env("GNUPGHOME", self.gpg.path())
            .env("LOGIN_RELEASE_GITHUB_REPOSITORY", "18F/identity-idp")
            .arg("tag-release")
            .args(extra)
            .output()
            .unwrap()
    }

    /// `git tag -v` (or any git command) in the clone, with the test's GnuPG home.
    fn git_with_gpg(&self, args: &[&str]) -> Output {
        Command::new("git")
            .args(args)
            .current_dir(&self.r.work)
            .env("GNUPGHOME", self.gpg.path())
            .env("HOME", &self.r.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.r.home.join(".gitconfig"))
            .output()
            .unwrap()
    }
}

fn signs_verifies_and_pushes(cli: bool) {
    let w = World::new(Gpg::with_key());
    let out = w.tag(cli, &["--rc", "112", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tag_ref = format!("refs/tags/{TAG}");
    // The tag is on origin, annotated, on origin's stages/prod, with the runbook's message.
    let tag_obj = w.r.git(&["rev-parse", &tag_ref]);
    assert_eq!(w.r.origin_ref(&tag_ref), Some(tag_obj.clone()));
    assert_eq!(w.r.git(&["cat-file", "-t", TAG]), "tag");
    assert_eq!(
        w.r.git(&["rev-parse", &format!("{TAG}^{{commit}}")]),
        w.prod
    );
    assert_eq!(
        w.r.git(&["tag", "-l", "--format=%(contents:subject)", TAG]),
        format!("{TAG} release")
    );
    assert_eq!(
        w.r.git(&["tag", "-l", "--format=%(taggername) %(taggeremail)", TAG]),
        "Release Tester <tester@example.gov>"
    );
    // git itself verifies the signature with the test's key.
    let v = w.git_with_gpg(&["tag", "-v", TAG]);
    assert!(
        v.status.success(),
        "git tag -v failed: {}",
        String::from_utf8_lossy(&v.stderr)
    );
    assert!(
        String::from_utf8_lossy(&v.stderr).contains("Good signature"),
        "{}",
        String::from_utf8_lossy(&v.stderr)
    );
    let text = stdout(&out);
    assert!(text.contains(&format!("tag            {TAG}")), "{text}");
    assert!(
        text.contains(&format!("commit         {}", w.prod)),
        "{text}"
    );
    assert!(text.contains("release title  RC 112"), "{text}");
    assert!(
        text.contains(&format!(
            "release url    https://github.com/18F/identity-idp/releases/new?tag={TAG}"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "signed by      Release Tester <tester@example.gov> ({})",
            w.gpg.keys[0]
        )),
        "{text}"
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("ok: signed {TAG} and verified the signature")),
        "{err}"
    );
    assert!(
        err.contains(&format!("ok: pushed {TAG} to origin (verified)")),
        "{err}"
    );
}

fn push_rejected_removes_the_local_tag(cli: bool) {
    let w = World::new(Gpg::with_key());
    let lock = w.r.origin.join(format!("refs/tags/{TAG}.lock"));
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(&lock, "").unwrap();
    let before = work_refs(&w.r);
    let out = w.tag(cli, &["--yes"]);
    assert_fails(
        &out,
        1,
        &format!("origin rejected the push of refs/tags/{TAG}"),
        &format!("the local tag {TAG} was deleted, so running again starts clean"),
    );
    assert_eq!(w.r.git(&["tag", "-l", TAG]), "");
    assert_eq!(work_refs(&w.r), before);
    assert_eq!(w.r.origin_ref(&format!("refs/tags/{TAG}")), None);
    // Once origin accepts again, a re-run succeeds.
    std::fs::remove_file(&lock).unwrap();
    let out = w.tag(cli, &["--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

fn rerun_after_success_changes_nothing(cli: bool) {
    let w = World::new(Gpg::with_key());
    let out = w.tag(cli, &["--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = origin_refs(&w.r);
    // A minute later: stages/prod already carries a release tag.
    let again = release_cmd(&w.r, cli)
        .env("GNUPGHOME", w.gpg.path())
        .env("LOGIN_RELEASE_NOW", "2026-11-20T18:49:08Z")
        .args(["tag-release", "--yes"])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains(&format!(
            "origin/stages/prod ({}) is already tagged {TAG} on origin: nothing to do",
            &w.prod[..9]
        )),
        "{}",
        stderr(&again)
    );
    assert_eq!(origin_refs(&w.r), before);
}

both_transports!(
    signs_verifies_and_pushes,
    push_rejected_removes_the_local_tag,
    rerun_after_success_changes_nothing,
);

#[test]
fn pre_receive_hook_rejection_through_the_git_program() {
    let w = World::new(Gpg::with_key());
    let hook = w.r.origin.join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\nexit 1\n").unwrap();
    let mut perms = std::fs::metadata(&hook).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&hook, perms).unwrap();
    let out = w.tag(true, &["--yes"]);
    assert_fails(
        &out,
        1,
        &format!("origin rejected the push of refs/tags/{TAG} (remote rejected: pre-receive hook declined)"),
        "was deleted",
    );
    assert_eq!(w.r.git(&["tag", "-l", TAG]), "");
}

#[test]
fn user_signingkey_chooses_the_key() {
    let mut gpg = Gpg::with_key();
    let second = gpg.add_key("Second Signer <second@example.gov>");
    let w = World::new(gpg);
    w.r.git(&["config", "user.signingkey", &second]);
    let out = w.tag(false, &["--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = w.git_with_gpg(&["verify-tag", "--raw", TAG]);
    assert!(v.status.success());
    let raw = String::from_utf8_lossy(&v.stderr);
    assert!(raw.contains(&format!("VALIDSIG {second}")), "{raw}");
}

#[test]
fn unknown_user_signingkey_is_a_preflight_failure() {
    let w = World::new(Gpg::with_key());
    w.r.git(&["config", "user.signingkey", "nobody@example.gov"]);
    let before = (origin_refs(&w.r), work_refs(&w.r));
    let out = w.tag(false, &["--yes"]);
    assert_fails(
        &out,
        3,
        "no secret key for user.signingkey `nobody@example.gov` in GnuPG",
        "fix user.signingkey",
    );
    assert_eq!((origin_refs(&w.r), work_refs(&w.r)), before);
}

#[test]
fn no_secret_key_is_a_preflight_failure() {
    let w = World::new(Gpg::empty());
    let before = (origin_refs(&w.r), work_refs(&w.r));
    let out = w.tag(false, &["--yes"]);
    assert_fails(
        &out,
        3,
        "no secret key to sign the tag with: GnuPG",
        "gpg --quick-gen-key",
    );
    assert_eq!((origin_refs(&w.r), work_refs(&w.r)), before);
}

#[test]
fn every_preflight_problem_is_reported_at_once() {
    let w = World::new(Gpg::empty());
    w.r.git(&["tag", TAG, "HEAD"]);
    let out = w.tag(false, &["--yes"]);
    assert_fails(&out, 3, "2 preflight checks failed", "fix each of these");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("  - tag {TAG} already exists locally")),
        "{err}"
    );
    assert!(
        err.contains("  - no secret key to sign the tag with"),
        "{err}"
    );
}

#[test]
fn tag_on_origin_is_a_preflight_failure() {
    let mut w = World::new(Gpg::with_key());
    // An older commit carries a tag of the same name on origin.
    let old = w.r.git(&["rev-parse", "HEAD~1"]);
    w.r.git(&["tag", TAG, &old]);
    w.r.git(&["push", "-q", "origin", TAG]);
    w.r.git(&["tag", "-d", TAG]);
    let _ = w.r.commit("unused", "");
    let before = origin_refs(&w.r);
    let out = w.tag(false, &["--yes"]);
    assert_fails(
        &out,
        3,
        &format!("tag {TAG} already exists on origin"),
        "wait a second and run again",
    );
    assert_eq!(origin_refs(&w.r), before);
    assert_eq!(w.r.git(&["tag", "-l", TAG]), "");
}

#[test]
fn local_tag_is_a_preflight_failure() {
    let w = World::new(Gpg::with_key());
    w.r.git(&["tag", TAG, "HEAD~1"]);
    let before = origin_refs(&w.r);
    let out = w.tag(false, &["--yes"]);
    assert_fails(
        &out,
        3,
        &format!("tag {TAG} already exists locally"),
        &format!("git tag -d {TAG}"),
    );
    assert_eq!(origin_refs(&w.r), before);
}

#[test]
fn no_sign_needs_yes_and_warns() {
    let w = World::new(Gpg::empty());
    let out = w.tag(false, &["--no-sign"]);
    assert_fails(
        &out,
        3,
        "--no-sign creates an unsigned release tag, and release tags are production's",
        "--no-sign --yes",
    );
    assert_eq!(w.r.git(&["tag", "-l", TAG]), "");
    let out = w.tag(false, &["--no-sign", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: --no-sign: the release tag will not be signed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.r.git(&["cat-file", "-t", TAG]), "tag");
    assert!(!w
        .r
        .git(&["cat-file", "tag", TAG])
        .contains("BEGIN PGP SIGNATURE"));
    assert!(w.r.origin_ref(&format!("refs/tags/{TAG}")).is_some());
    assert!(stdout(&out).contains("signed by    nobody (--no-sign)"));
}

#[test]
fn dry_run_changes_nothing() {
    let w = World::new(Gpg::with_key());
    let before = (origin_refs(&w.r), work_refs(&w.r));
    let out = w.tag(false, &["--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("Plan: Tag origin/stages/prod as {TAG}")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "1. tag refs/tags/{TAG}: annotated, signed by Release Tester <tester@example.gov>"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("3. push origin refs/tags/{TAG}")),
        "{text}"
    );
    assert_eq!((origin_refs(&w.r), work_refs(&w.r)), before);
}

#[test]
fn needs_yes_without_a_terminal() {
    let w = World::new(Gpg::with_key());
    let before = (origin_refs(&w.r), work_refs(&w.r));
    let out = w.tag(false, &[]);
    assert_fails(
        &out,
        3,
        "confirmation needed, but there is no terminal to ask on",
        "--yes",
    );
    assert_eq!((origin_refs(&w.r), work_refs(&w.r)), before);
}

#[test]
fn json_output_shape() {
    let w = World::new(Gpg::with_key());
    let out = w.tag(false, &["--yes", "--output", "json", "--rc", "112.1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["command"], "tag-release");
    assert_eq!(doc["status"], "applied");
    assert_eq!(doc["tag"], TAG);
    assert_eq!(doc["commit"], w.prod.as_str());
    assert_eq!(doc["tag_object"], w.r.git(&["rev-parse", TAG]).as_str());
    assert_eq!(doc["signed"], true);
    assert_eq!(doc["signing_key"]["fingerprint"], w.gpg.keys[0].as_str());
    assert_eq!(doc["release_title"], "RC 112.1");
    assert_eq!(
        doc["release_url"],
        format!("https://github.com/18F/identity-idp/releases/new?tag={TAG}")
    );
    assert_eq!(doc["plan"]["env"], "prod");
    assert_eq!(doc["plan"]["steps"].as_array().unwrap().len(), 3);
}

#[test]
fn warns_when_local_prod_differs_and_tags_origins() {
    let mut w = World::new(Gpg::with_key());
    w.r.git(&["branch", "stages/prod", "HEAD~1"]);
    let _ = w.r.commit("local only", "");
    let out = w.tag(false, &["--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning: your local stages/prod is at")
            && err.contains("0 ahead, 1 behind origin/stages/prod"),
        "{err}"
    );
    assert_eq!(
        w.r.git(&["rev-parse", &format!("{TAG}^{{commit}}")]),
        w.prod
    );
}

#[test]
fn release_url_needs_a_github_repository() {
    let w = World::new(Gpg::with_key());
    let out = release_cmd(&w.r, false)
        .env("GNUPGHOME", w.gpg.path())
        .args(["tag-release", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("release url  unknown: origin is not a GitHub URL (set github.repository to owner/name)"),
        "{}",
        stdout(&out)
    );
}
