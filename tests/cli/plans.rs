//! The plan text of every mutating command under snapshot tests (snapbox): the `--dry-run`
//! output (stdout, stderr, exit code) and the `-o json` plan document, against the same real
//! components as the other tests (git repositories with a bare origin, GnuPG, the AWS emulator,
//! local HTTP servers as staging and GitHub).
//!
//! One transcript file per scenario in `tests/cli/plans/<command>/<scenario>.txt`. A change of
//! wording fails here with a diff; accept it on purpose and review it in `git diff`:
//!
//! ```sh
//! SNAPSHOTS=overwrite cargo test --test cli plans::            # every plan
//! SNAPSHOTS=overwrite cargo test --test cli plans::asg_recycle # one command
//! ```
//!
//! What differs from run to run is redacted with snapbox's `Redactions` before comparing (and
//! before writing, so the files hold the placeholders): temporary paths, loopback ports, the
//! emulator's instance ids, account and launch times, the GnuPG key. Everything else is pinned:
//! the clock (`LOGIN_RELEASE_NOW`), git dates and authors (so commit shas are stable), the fleet.

use std::path::{Path, PathBuf};
use std::process::Output;

use login_release::sandbox::seed::FleetSpec;
use regex::Regex;
use serde_json::json;
use snapbox::{Assert, Data, Redactions};

use crate::asg_recycle::{at_str, next_second, set_desired, NOW as FLEET_NOW};
use crate::cut_rc::{deploy_json, release_cmd, NOW as GIT_NOW};
use crate::support::git::Repos;
use crate::support::github::{release, FakeGitHub, Pr, TOKEN};
use crate::support::gpg::Gpg;
use crate::support::http::{HttpServer, Response};
use crate::support::moto::Moto;
use crate::support::{cmd, code, stderr, stdout};

/// The runs of one scenario, redacted, as one text to compare with its snapshot file.
struct Transcript {
    /// `<command>/<scenario>`: the snapshot is `tests/cli/plans/<name>.txt`.
    name: &'static str,
    redactions: Redactions,
    text: String,
}

impl Transcript {
    /// With the redactions every scenario needs: loopback ports and the emulator's fixed
    /// account (it is the same in every run, but it is the emulator's, not our wording).
    fn new(name: &'static str) -> Self {
        let mut redactions = Redactions::new();
        redactions
            .insert(
                "[PORT]",
                Regex::new(r"127\.0\.0\.1:(?<redacted>\d+)").unwrap(),
            )
            .unwrap();
        redactions.insert("[ACCOUNT]", "123456789012").unwrap();
        Transcript {
            name,
            redactions,
            text: String::new(),
        }
    }

    /// Redacts a temporary directory (its real path too, in case a component canonicalised it).
    fn path(mut self, placeholder: &'static str, path: &Path) -> Self {
        let real = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        for p in [path.to_path_buf(), real] {
            self.redactions
                .insert(placeholder, p.display().to_string())
                .unwrap();
        }
        self
    }

    /// Redacts a literal that differs between runs (a generated key's fingerprint).
    fn literal(mut self, placeholder: &'static str, value: &str) -> Self {
        self.redactions
            .insert(placeholder, value.to_string())
            .unwrap();
        self
    }

    /// Redacts what the emulator makes up: instance ids, and launch times, which are the real
    /// time of the run (the emulator cannot be given a clock), with their age against the
    /// pinned one. Only today's and yesterday's dates are launch times: the pinned clock is in
    /// 2030 and git dates in 2026-01-01, so those stay.
    fn fleet(mut self) -> Self {
        self.redactions
            .insert("[INSTANCE]", Regex::new(r"\bi-[0-9a-f]{17}\b").unwrap())
            .unwrap();
        let today = jiff::Timestamp::now();
        let days = [today, today - jiff::SignedDuration::from_hours(24)]
            .map(|t| regex::escape(&t.strftime("%Y-%m-%d").to_string()))
            .join("|");
        let launched = format!(r"(?:{days})T\d\d:\d\d:\d\d(?:\.\d+)?Z(?: \([^)]*\))?");
        self.redactions
            .insert("[LAUNCHED]", Regex::new(&launched).unwrap())
            .unwrap();
        self
    }

    /// Adds one run: the command line (environment that matters first), exit code, stdout and
    /// stderr.
    fn run(&mut self, env: &[(&str, &str)], args: &[&str], out: &Output) {
        let mut line = String::from("$");
        for (k, v) in env {
            line.push_str(&format!(" {k}={v}"));
        }
        line.push_str(" login-release");
        for a in args {
            line.push(' ');
            line.push_str(a);
        }
        let run = format!(
            "{}\nexit {}\n--- stdout\n{}--- stderr\n{}\n",
            line,
            code(out),
            stdout(out),
            stderr(out)
        );
        self.text.push_str(&tidy(&self.redactions.redact(&run)));
    }

    /// Compares with the snapshot file; `SNAPSHOTS=overwrite` writes it instead.
    fn check(self) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/cli/plans")
            .join(format!("{}.txt", self.name));
        Assert::new()
            .action_env("SNAPSHOTS")
            .eq(self.text, Data::read_from(&path, None).raw());
    }
}

/// Table columns after a redacted launch time are padded to the real text's width, which
/// changes with the age: one width for that column instead.
fn tidy(text: &str) -> String {
    let cell = Regex::new(r"\[LAUNCHED\] +").unwrap();
    let header = Regex::new(r"LAUNCHED +LIFECYCLE").unwrap();
    let text = cell.replace_all(text, "[LAUNCHED]  ");
    header
        .replace_all(&text, "LAUNCHED    LIFECYCLE")
        .into_owned()
}

// ---------------------------------------------------------------------------------------------
// git worlds: cut-rc, tag-release, rollback

const BRANCH: &str = "stages/rc-2026-11-20";
const MERGE_SUBJECT: &str = "Merge pull request #9500 from 18F/stages/rc-2026-11-20";

/// origin: stages/prod at the first commit, main three commits ahead (one without a changelog
/// line); staging (a local server) runs main; a fake GitHub knowing RC 112.
struct GitWorld {
    r: Repos,
    gh: FakeGitHub,
    staging: HttpServer,
    staging_sha: String,
}

impl GitWorld {
    fn new() -> Self {
        let mut r = Repos::new();
        r.git(&["push", "-q", "origin", "main:stages/prod"]);
        r.commit(
            "Add the account page (#101)",
            "changelog: User-Facing Improvements, Account, Add the account page",
        );
        r.commit("Tweak a test (#102)", "");
        let staging_sha = r.commit(
            "Fix a typo (#103)",
            "changelog: Bug Fixes, Copy, Fix a typo",
        );
        r.git(&["push", "-q", "origin", "main"]);
        let staging = HttpServer::start();
        staging.route(
            "GET",
            "/api/deploy.json",
            Response::json(200, deploy_json(&staging_sha)),
        );
        GitWorld {
            r,
            gh: FakeGitHub::start(),
            staging,
            staging_sha,
        }
    }

    /// stages/prod's tip becomes the promotion merge of #9500 (a normal merge of the RC branch
    /// cut from main). Returns the merge's sha.
    fn promote(&mut self) -> String {
        self.r
            .git(&["push", "-q", "origin", &format!("main:{BRANCH}")]);
        self.r
            .git(&["switch", "-q", "-c", "prod", "origin/stages/prod"]);
        let merge = self.r.merge(&format!("origin/{BRANCH}"), MERGE_SUBJECT);
        self.r.git(&["push", "-q", "origin", "prod:stages/prod"]);
        self.r.git(&["switch", "-q", "main"]);
        merge
    }

    /// The merged promotion PR #9500 as GitHub shows it.
    fn promotion_pr(&self, merge: &str) -> Pr {
        let mut pr = Pr::promotion(9500, "113", BRANCH).merged("2026-11-20T17:00:00Z", merge);
        pr.body = "## Bug Fixes\n- Copy: Fix a typo ([#103](https://github.com/18F/identity-idp/pull/103))\n".into();
        pr
    }

    fn transcript(&self, name: &'static str) -> Transcript {
        Transcript::new(name).path("[ROOT]", self.r.dir.path())
    }

    /// The binary in the clone at the pinned clock, every GitHub setting on the fake, Slack
    /// off (dry runs post nothing anyway; this keeps the webhook out of the picture).
    fn run(&self, t: &mut Transcript, extra_env: &[(&str, &str)], args: &[&str]) {
        let mut c = release_cmd(&self.r, false);
        c.env("GITHUB_API_URL", self.gh.url())
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_REPOSITORY", "18F/identity-idp")
            .env(
                "LOGIN_RELEASE_STAGING_IDP",
                format!("{}/api/deploy.json", self.staging.url),
            );
        for (k, v) in extra_env {
            c.env(k, v);
        }
        let out = c.args(args).output().unwrap();
        assert!(
            !stdout(&out).contains(TOKEN) && !stderr(&out).contains(TOKEN),
            "the token is printed"
        );
        let now = extra_env
            .iter()
            .find(|(k, _)| *k == "LOGIN_RELEASE_NOW")
            .map_or(GIT_NOW, |(_, v)| *v);
        t.run(&[("LOGIN_RELEASE_NOW", now)], args, &out);
    }

    /// Runs `args` with `--dry-run`, then with `--dry-run -o json`, and checks nothing changed
    /// on origin or in the clone, and GitHub saw only reads.
    fn plans(&self, t: &mut Transcript, extra_env: &[(&str, &str)], args: &[&str]) {
        let refs = |r: &Repos| {
            (
                r.origin_git(&["for-each-ref", "--format=%(refname) %(objectname)"]),
                r.git(&["for-each-ref", "--format=%(refname) %(objectname)"]),
            )
        };
        let before = refs(&self.r);
        let mut text = args.to_vec();
        text.push("--dry-run");
        self.run(t, extra_env, &text);
        text.extend(["-o", "json"]);
        self.run(t, extra_env, &text);
        assert_eq!(refs(&self.r), before, "a dry run changed a ref");
        assert!(
            self.gh.requests().iter().all(|r| r.method == "GET"),
            "a dry run wrote to GitHub"
        );
    }

    /// GitHub: RC 112 released, the promotion label missing, no open PR for the branch.
    fn github_for_promotion(&self) {
        self.gh
            .repository()
            .releases(&[vec![
                release(3, "RC 112", "2026-11-13T180000", false, false),
                release(2, "RC 111.1", "2026-11-10T180000", false, false),
            ]])
            .label(false)
            .open_prs_for(BRANCH, vec![]);
    }
}

mod cut_rc {
    use super::*;

    #[test]
    fn full() {
        let w = GitWorld::new();
        let mut t = w.transcript("cut_rc/full");
        w.plans(&mut t, &[], &["cut-rc", "--rc", "112"]);
        t.check();
    }

    #[test]
    fn open_pr() {
        let w = GitWorld::new();
        w.github_for_promotion();
        let mut t = w.transcript("cut_rc/open_pr");
        w.plans(&mut t, &[], &["cut-rc", "--open-pr"]);
        t.check();
    }

    #[test]
    fn patch() {
        let w = GitWorld::new();
        let fix = w.staging_sha.clone();
        let mut t = w.transcript("cut_rc/patch");
        w.plans(
            &mut t,
            &[],
            &["cut-rc", "--patch", "--cherry-pick", &fix, "--rc", "112.1"],
        );
        t.check();
    }

    #[test]
    fn true_up() {
        let mut w = GitWorld::new();
        // A patch release went to prod (prod has a commit main lacks), and the full RC was cut
        // from main.
        w.r.git(&["switch", "-q", "-c", "prod-work", "origin/stages/prod"]);
        w.r.commit_file("hotfix.txt", "hotfix\n", "Hotfix (#104)");
        w.r.git(&["push", "-q", "origin", "prod-work:stages/prod"]);
        w.r.git(&["switch", "-q", "main"]);
        w.r.git(&[
            "push",
            "-q",
            "origin",
            &format!("{}:refs/heads/{BRANCH}", w.staging_sha),
        ]);
        let mut t = w.transcript("cut_rc/true_up");
        w.plans(
            &mut t,
            &[],
            &["cut-rc", "--true-up", "--date", "2026-11-20"],
        );
        t.check();
    }
}

mod tag_release {
    use super::*;

    /// The promoted world with a signing key; GitHub knows #9500, its merge and RC 112.
    fn world() -> (GitWorld, Gpg, String) {
        let mut w = GitWorld::new();
        let merge = w.promote();
        let pr = w.promotion_pr(&merge);
        w.gh.repository()
            .closed_prs(
                "stages/prod",
                &[vec![
                    Pr::promotion(9400, "112", "stages/rc-2026-11-13")
                        .merged("2026-11-13T17:00:00Z", &"b".repeat(40))
                        .json(),
                    pr.json(),
                ]],
            )
            .pull(pr.json())
            .commit(&merge, 2)
            .releases(&[vec![release(
                3,
                "RC 112",
                "2026-11-13T180000",
                false,
                false,
            )]]);
        (w, Gpg::with_key(), merge)
    }

    fn transcript(name: &'static str, w: &GitWorld, gpg: &Gpg) -> Transcript {
        let fpr = &gpg.keys[0];
        w.transcript(name)
            .path("[GNUPGHOME]", gpg.path())
            .literal("[FINGERPRINT]", fpr)
            .literal("[KEYID]", &fpr[fpr.len() - 16..])
    }

    #[test]
    fn tag() {
        let (w, gpg, _) = world();
        let mut t = transcript("tag_release/tag", &w, &gpg);
        let home = gpg.path().display().to_string();
        w.plans(&mut t, &[("GNUPGHOME", &home)], &["tag-release"]);
        t.check();
    }

    #[test]
    fn github_release() {
        let (w, gpg, _) = world();
        let mut t = transcript("tag_release/github_release", &w, &gpg);
        let home = gpg.path().display().to_string();
        w.plans(
            &mut t,
            &[("GNUPGHOME", &home)],
            &["tag-release", "--github-release"],
        );
        t.check();
    }
}

mod rollback {
    use super::*;

    #[test]
    fn open_pr() {
        let mut w = GitWorld::new();
        let merge = w.promote();
        w.gh.repository()
            .pull(w.promotion_pr(&merge).json())
            .open_prs_for("revert-rc-113", vec![]);
        let mut t = w.transcript("rollback/open_pr");
        w.plans(
            &mut t,
            &[],
            &["rollback", "--open-pr", "--reason", "sign-in errors"],
        );
        t.check();
    }

    /// `--fleet prod` during a recycle: the fleet half's plan comes first.
    #[test]
    fn fleet() {
        let mut w = GitWorld::new();
        w.promote();
        let moto = Moto::start();
        moto.seed(&FleetSpec::prod_shaped("prod", &"a".repeat(40)));
        let home = w.r.home.clone();
        fleet_run(
            &moto,
            &home,
            FLEET_NOW,
            &["asg-recycle", "prod", "idp", "--yes"],
        );
        let mut t = w.transcript("rollback/fleet").fleet();
        let url = moto.url().to_string();
        // A minute into the recycle, before its delayed scale-out (the clock of the recycle).
        let now = at_str(60);
        let env = [
            ("LOGIN_RELEASE_NOW", now.as_str()),
            ("AWS_ENDPOINT_URL", url.as_str()),
            ("AWS_REGION", crate::support::moto::REGION),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_MAX_ATTEMPTS", "1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ];
        w.plans(&mut t, &env, &["rollback", "--fleet", "prod"]);
        t.check();
    }
}

// ---------------------------------------------------------------------------------------------
// fleet worlds: the emulator with the prod-shaped fleet

/// Runs the binary against the emulator at `now`; panics unless it succeeds (setup steps).
fn fleet_run(moto: &Moto, home: &Path, now: &str, args: &[&str]) {
    let mut c = cmd(home);
    moto.env(&mut c);
    let out = c.env("LOGIN_RELEASE_NOW", now).args(args).output().unwrap();
    assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
}

/// The emulator with the prod-shaped fleet (idp 4/16, worker 2/8, migration 0/2 utility,
/// pivcac 2/8) and a HOME.
struct Fleet {
    moto: Moto,
    home: tempfile::TempDir,
}

impl Fleet {
    fn prod() -> Self {
        let moto = Moto::start();
        moto.seed(&FleetSpec::prod_shaped("prod", &"a".repeat(40)));
        Fleet {
            moto,
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn transcript(&self, name: &'static str) -> Transcript {
        Transcript::new(name)
            .path("[HOME]", self.home.path())
            .fleet()
    }

    /// Recycles prod idp at the pinned clock, then does what its DelayedScaleOutOnce actions
    /// would do five minutes later (the emulator never runs them).
    fn recycled_and_scaled_out(&self) {
        fleet_run(
            &self.moto,
            self.home.path(),
            FLEET_NOW,
            &["asg-recycle", "prod", "idp", "--yes"],
        );
        next_second();
        set_desired(&self.moto, "prod-idp", 8);
        set_desired(&self.moto, "prod-worker", 4);
    }

    /// A snapshot of the fleet's state to compare before and after a dry run: each group's
    /// capacity and protected instances, and the scheduled actions.
    fn state(&self) -> String {
        let aws = &self.moto.aws;
        let groups = self
            .moto
            .block_on(aws.describe_groups(&[
                "prod-idp".into(),
                "prod-worker".into(),
                "prod-migration".into(),
                "prod-pivcac".into(),
            ]))
            .unwrap();
        let mut s = String::new();
        for g in groups {
            let mut protected: Vec<_> = g
                .instances
                .iter()
                .map(|i| format!("{}:{}", i.id, i.protected))
                .collect();
            protected.sort();
            s.push_str(&format!(
                "{} {} {} {} {:?}\n",
                g.name, g.desired, g.min, g.max, protected
            ));
        }
        let mut actions: Vec<_> = self
            .moto
            .block_on(aws.scheduled_actions(None))
            .unwrap()
            .into_iter()
            .map(|a| format!("{} {} {:?} {:?}", a.group, a.name, a.start, a.desired))
            .collect();
        actions.sort();
        s.push_str(&actions.join("\n"));
        s
    }

    fn run(&self, t: &mut Transcript, now: &str, args: &[&str]) {
        let mut c = cmd(self.home.path());
        self.moto.env(&mut c);
        let out = c.env("LOGIN_RELEASE_NOW", now).args(args).output().unwrap();
        t.run(&[("LOGIN_RELEASE_NOW", now)], args, &out);
    }

    /// Runs `args` with `--dry-run`, then with `--dry-run -o json`; the fleet must not change.
    fn plans(&self, t: &mut Transcript, now: &str, args: &[&str]) {
        let before = self.state();
        let mut text = args.to_vec();
        text.push("--dry-run");
        self.run(t, now, &text);
        text.extend(["-o", "json"]);
        self.run(t, now, &text);
        assert_eq!(self.state(), before, "a dry run changed the fleet");
    }
}

mod asg_size {
    use super::*;

    #[test]
    fn set() {
        let f = Fleet::prod();
        let mut t = f.transcript("asg_size/set");
        f.plans(&mut t, FLEET_NOW, &["asg-size", "prod", "idp", "6"]);
        t.check();
    }

    /// During a recycle the plan carries the warning that RecycleOnce will undo it.
    #[test]
    fn set_during_a_recycle() {
        let f = Fleet::prod();
        f.recycled_and_scaled_out();
        let mut t = f.transcript("asg_size/set_during_a_recycle");
        f.plans(&mut t, &at_str(7 * 60), &["asg-size", "prod", "idp", "10"]);
        t.check();
    }
}

mod asg_recycle {
    use super::*;

    #[test]
    fn role() {
        let f = Fleet::prod();
        let mut t = f.transcript("asg_recycle/role");
        f.plans(&mut t, FLEET_NOW, &["asg-recycle", "prod", "idp"]);
        t.check();
    }

    #[test]
    fn all() {
        let f = Fleet::prod();
        let mut t = f.transcript("asg_recycle/all");
        f.plans(&mut t, FLEET_NOW, &["asg-recycle", "prod", "ALL"]);
        t.check();
    }

    #[test]
    fn skip_migration() {
        let f = Fleet::prod();
        let mut t = f.transcript("asg_recycle/skip_migration");
        f.plans(
            &mut t,
            FLEET_NOW,
            &["asg-recycle", "prod", "idp", "--skip-migration"],
        );
        t.check();
    }
}

mod scale_remove {
    use super::*;

    /// After the scale-down time: the old instances lose their protection.
    #[test]
    fn old_instances() {
        let f = Fleet::prod();
        f.recycled_and_scaled_out();
        set_desired(&f.moto, "prod-idp", 4);
        set_desired(&f.moto, "prod-worker", 2);
        set_desired(&f.moto, "prod-migration", 0);
        let mut t = f.transcript("scale_remove/old_instances");
        f.plans(
            &mut t,
            &at_str(16 * 60),
            &["scale-remove-old-instances", "prod", "ALL"],
        );
        t.check();
    }

    /// Seven minutes into the recycle, after the scale-out: cancel it, unprotect the newest.
    #[test]
    fn new_instances() {
        let f = Fleet::prod();
        f.recycled_and_scaled_out();
        let mut t = f.transcript("scale_remove/new_instances");
        f.plans(
            &mut t,
            &at_str(7 * 60),
            &["scale-remove-new-instances", "prod", "idp"],
        );
        t.check();
    }
}

mod config_recycle {
    use super::*;

    #[test]
    fn then_remove_old() {
        let f = Fleet::prod();
        let mut t = f.transcript("config_recycle/then_remove_old");
        f.plans(
            &mut t,
            FLEET_NOW,
            &["config-recycle", "prod", "pivcac", "--then-remove-old"],
        );
        t.check();
    }

    #[test]
    fn reminder() {
        let f = Fleet::prod();
        let mut t = f.transcript("config_recycle/reminder");
        f.plans(&mut t, FLEET_NOW, &["config-recycle", "prod", "idp"]);
        t.check();
    }
}

mod ssm_command {
    use super::*;

    /// The prod fleet with the command documents the runbook uses.
    fn fleet() -> Fleet {
        let f = Fleet::prod();
        for name in [
            "prod-ssm-cmd-puma-restart",
            "prod-ssm-cmd-passenger-restart",
        ] {
            let content = json!({
                "schemaVersion": "2.2",
                "description": "Restart the app",
                "mainSteps": [{
                    "action": "aws:runShellScript",
                    "name": "restart",
                    "inputs": {"runCommand": ["true"]}
                }]
            });
            f.moto
                .block_on(
                    f.moto
                        .aws
                        .ssm
                        .create_document()
                        .name(name)
                        .content(content.to_string())
                        .document_type(aws_sdk_ssm::types::DocumentType::Command)
                        .document_format(aws_sdk_ssm::types::DocumentFormat::Json)
                        .send(),
                )
                .unwrap();
        }
        f
    }

    #[test]
    fn ssm_command() {
        let f = fleet();
        let mut t = f.transcript("ssm_command/ssm_command");
        f.plans(
            &mut t,
            FLEET_NOW,
            &[
                "ssm-command",
                "prod",
                "worker",
                "puma-restart",
                "--max-concurrency",
                "1",
            ],
        );
        t.check();
    }

    #[test]
    fn passenger_restart() {
        let f = fleet();
        let mut t = f.transcript("ssm_command/passenger_restart");
        f.plans(
            &mut t,
            FLEET_NOW,
            &["passenger-restart", "prod", "idp", "--allow-prod"],
        );
        t.check();
    }
}
