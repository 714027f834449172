//! `deploy` through the binary: the preflight, the record's commands (status, resume, abort)
//! against a real bare origin, the AWS emulator (for the caller identity) and real git.

use jiff::Timestamp;
use login_release::config::Config;
use login_release::deploy::calendar::DeployKind;
use login_release::deploy::record::{Actor, Lifecycle, Start};
use login_release::deploy::store::Store;
use login_release::git::repo::Repo;
use serde_json::{json, Value};

use crate::support::git::Repos;
use crate::support::moto::Moto;
use crate::support::{cmd, code, stderr, stdout};

const REF: &str = "refs/login-release/deploys/prod";
/// A Friday: no full deploy.
const FRIDAY: &str = "2026-11-20T15:00:00Z";
/// A Tuesday: a full-deploy day.
const TUESDAY: &str = "2026-11-24T15:00:00Z";

struct World {
    repos: Repos,
    moto: Moto,
}

impl World {
    fn new() -> Self {
        World {
            repos: Repos::new(),
            moto: Moto::start(),
        }
    }

    fn run(&self, now: &str, args: &[&str]) -> std::process::Output {
        let mut c = cmd(&self.repos.home);
        self.moto.env(&mut c);
        c.arg("-C")
            .arg(&self.repos.work)
            .env("LOGIN_RELEASE_NOW", now)
            // Nothing listens there: the tests never reach the real staging.
            .env(
                "LOGIN_RELEASE_STAGING_IDP",
                "http://127.0.0.1:9/api/deploy.json",
            )
            .args(args)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap()
    }

    /// The actor the binary is (the test's git identity, the emulator's caller), or another.
    fn actor(&self, who: Option<&str>) -> Actor {
        let arn = self
            .moto
            .block_on(self.moto.aws.sts.get_caller_identity().send())
            .unwrap()
            .arn()
            .unwrap()
            .to_string();
        match who {
            None => Actor {
                git: "Release Tester <tester@example.gov>".into(),
                aws: arn,
            },
            Some(n) => Actor {
                git: format!("{n} <{n}@example.gov>"),
                aws: format!("arn:aws:sts::123456789012:assumed-role/release/{n}"),
            },
        }
    }

    /// An active release on origin, started by `actor` (as another clone would have).
    fn started_by(&self, actor: Actor) {
        let repo = Repo::open(&self.repos.work).unwrap();
        let settings = Config::defaults().settings;
        let store = Store::new(&repo, &settings).unwrap();
        store
            .acquire(Start {
                env: "prod".into(),
                app: "idp".into(),
                kind: DeployKind::Full,
                off_cycle_reason: None,
                options: json!({"app": "idp", "rc": "412", "cherry_pick": []}),
                actor,
                now: TUESDAY.parse::<Timestamp>().unwrap(),
            })
            .unwrap();
    }

    fn status_json(&self) -> Value {
        let out = self.run(TUESDAY, &["deploy", "status", "-o", "json"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap()
    }
}

#[test]
fn start_outside_the_calendar_reports_every_finding_and_takes_no_lock() {
    let w = World::new();
    let out = w.run(FRIDAY, &["--yes", "deploy", "start", "idp"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    // The calendar, the missing fleet, the missing signing key and GitHub: all at once.
    assert!(err.contains("outside the deploy calendar"), "{err}");
    assert!(err.contains("Friday"), "{err}");
    assert!(err.contains("--off-cycle --reason"), "{err}");
    assert!(
        err.contains("the next full-deploy day is Tue 2026-11-24"),
        "{err}"
    );
    assert!(err.contains("the group prod-idp does not exist"), "{err}");
    assert!(
        err.contains("staging's deploy.json at http://127.0.0.1:9"),
        "{err}"
    );
    assert!(err.contains("no secret key to sign the tag with"), "{err}");
    assert!(err.contains("which GitHub repository"), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert_eq!(w.repos.origin_ref(REF), None, "no lock was taken");
}

#[test]
fn status_without_a_release_names_the_ref_and_the_next_deploy_day() {
    let w = World::new();
    let out = w.run(FRIDAY, &["deploy", "status"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("no release has been started for prod"),
        "{text}"
    );
    assert!(text.contains(REF), "{text}");
    assert!(text.contains("Tue 2026-11-24"), "{text}");
    let out = w.run(FRIDAY, &["deploy", "resume"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("no release has been started for prod"));
}

#[test]
fn resume_refuses_options_that_contradict_the_record_and_abort_frees_the_lock() {
    let w = World::new();
    w.started_by(w.actor(None));
    let out = w.run(TUESDAY, &["deploy", "resume", "--rc", "999"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--rc 999 contradicts the release record (RC 412)"),
        "{}",
        stderr(&out)
    );
    let before = w.repos.origin_ref(REF);

    let out = w.run(TUESDAY, &["deploy", "status"]);
    let text = stdout(&out);
    assert!(
        text.contains("active, lock held by Release Tester"),
        "{text}"
    );
    assert!(text.contains("preflight"), "{text}");

    // A reason is required.
    let out = w.run(TUESDAY, &["deploy", "abort"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert_eq!(w.repos.origin_ref(REF), before, "nothing was written");

    let out = w.run(TUESDAY, &["deploy", "abort", "--reason", "wrong RC"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the lock is free"),
        "{}",
        stderr(&out)
    );
    let doc = w.status_json();
    assert_eq!(doc["record"]["lifecycle"]["state"], "aborted", "{doc}");
    assert_eq!(doc["record"]["lifecycle"]["reason"], "wrong RC");

    let out = w.run(TUESDAY, &["deploy", "resume"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no release is active"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn another_holder_is_named_and_must_be_stolen_from_with_a_reason() {
    let w = World::new();
    w.started_by(w.actor(Some("bob")));
    let out = w.run(TUESDAY, &["deploy", "abort", "--reason", "mine now"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("bob <bob@example.gov>"), "{err}");
    assert!(err.contains("--steal --reason"), "{err}");

    let out = w.run(
        TUESDAY,
        &["deploy", "abort", "--steal", "--reason", "bob is on leave"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc = w.status_json();
    assert_eq!(
        doc["record"]["steals"][0]["reason"], "bob is on leave",
        "{doc}"
    );
    assert_eq!(
        doc["record"]["steals"][0]["from"]["git"],
        "bob <bob@example.gov>"
    );
    assert!(matches!(
        serde_json::from_value::<Lifecycle>(doc["record"]["lifecycle"].clone()).unwrap(),
        Lifecycle::Aborted { .. }
    ));
}

/// The manual checks are what a person must confirm before the tag: a repository's
/// `.login-release.toml` cannot drop them (setting deploy.checks is guarded, issue 12 item 10).
#[test]
fn a_repository_file_cannot_drop_the_manual_checks() {
    let w = World::new();
    let file = w.repos.work.join(".login-release.toml");
    std::fs::write(&file, "[deploy]\nchecks = []\n").unwrap();
    let out = w.run(TUESDAY, &["deploy", "status"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 3, "{err}");
    assert!(
        err.contains(&format!(
            "{} sets `deploy.checks`, a guarded setting",
            file.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("trust_repo_config = [\"deploy.checks\"]"),
        "{err}"
    );
}
