//! `deploy` end to end in the living sandbox: the AWS emulator with the world simulator running
//! scheduled actions, launching, provisioning and retiring instances and writing traffic; the
//! sandbox's bare origin; its local GitHub; its GnuPG key. Nothing of the world is typed here
//! but the reviewer's approval, as in a real release.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{cmd, code, stderr, stdout};

fn moto_python() -> PathBuf {
    login_release::sandbox::emulator::find_python(Some(Path::new(env!("CARGO_MANIFEST_DIR"))))
        .unwrap_or_else(|e| panic!("{e:#}: run `make test-deps`"))
}

/// A sandbox up for one test, down when the test ends (whatever happened).
struct Sandbox {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    dir: PathBuf,
    exports: Vec<(String, String)>,
    github: login_release::sandbox::github::Remote,
    children: Vec<Child>,
}

impl Sandbox {
    fn up() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let dir = tmp.path().join("sb");
        let raw = |args: &[&str]| {
            cmd(&home)
                .env("LOGIN_RELEASE_MOTO_PYTHON", moto_python())
                .arg("sandbox")
                .args(args)
                .arg("--dir")
                .arg(&dir)
                .output()
                .unwrap()
        };
        crate::support::assert_success(&raw(&["up"]));
        let exports = stdout(&raw(&["env"]))
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
            .collect();
        let state = login_release::sandbox::world::State::load(&dir)
            .unwrap()
            .unwrap();
        let github =
            login_release::sandbox::github::Remote::new(state.github.as_ref().unwrap().port);
        Sandbox {
            _tmp: tmp,
            home,
            dir,
            exports,
            github,
            children: Vec::new(),
        }
    }

    fn repo(&self) -> PathBuf {
        self.dir.join("repo")
    }

    /// The binary in the sandbox's shell (`eval "$(sandbox env)"`), in its clone, with `args`.
    fn std_command(&self, args: &[&str]) -> Command {
        let mut c =
            crate::support::std_cmd(&self.home, assert_cmd::cargo::cargo_bin("login-release"));
        c.envs(self.exports.iter().map(|(k, v)| (k, v)))
            .env("LOGIN_RELEASE_MOTO_PYTHON", moto_python())
            .arg("-C")
            .arg(self.repo())
            .args(args);
        c
    }

    fn command(&self, args: &[&str]) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.std_command(args))
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.command(args)
            .timeout(Duration::from_secs(240))
            .output()
            .unwrap()
    }

    /// Starts a command in the background, its output to files in the sandbox directory.
    fn spawn(&mut self, name: &str, args: &[&str]) -> usize {
        let c = self.std_command(args);
        self.spawn_command(name, c)
    }

    fn spawn_command(&mut self, name: &str, mut c: Command) -> usize {
        let out = std::fs::File::create(self.dir.join(format!("{name}.out"))).unwrap();
        let err = std::fs::File::create(self.dir.join(format!("{name}.err"))).unwrap();
        let child = c
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        self.children.push(child);
        self.children.len() - 1
    }

    fn output_of(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(format!("{name}.err"))).unwrap_or_default()
            + &std::fs::read_to_string(self.dir.join(format!("{name}.out"))).unwrap_or_default()
    }

    /// Waits for a background command, killing it after `secs`.
    fn wait(&mut self, i: usize, name: &str, secs: u64) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.children[i].try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if start.elapsed() > Duration::from_secs(secs) {
                let _ = self.children[i].kill();
                panic!(
                    "{name} did not end within {secs}s:\n{}",
                    self.output_of(name)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn record(&self) -> Value {
        let out = self.run(&["deploy", "status", "-o", "json"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        serde_json::from_str::<Value>(&stdout(&out)).unwrap()["record"].clone()
    }

    /// The number of the one open promotion PR, once there is one.
    fn open_pr(&self) -> Option<u64> {
        self.github
            .open_pulls_into("stages/prod")
            .ok()?
            .first()
            .copied()
    }

    fn sandbox(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["sandbox"];
        all.extend_from_slice(args);
        let d = self.dir.to_str().unwrap().to_string();
        let mut c = self.command(&all);
        c.arg("--dir").arg(d);
        c.timeout(Duration::from_secs(60)).output().unwrap()
    }

    fn origin(&self, args: &[&str]) -> String {
        crate::support::git_out(&self.dir.join("origin.git"), args)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = cmd(&self.home)
            .env("LOGIN_RELEASE_MOTO_PYTHON", moto_python())
            .args(["sandbox", "down", "--dir"])
            .arg(&self.dir)
            .timeout(Duration::from_secs(60))
            .output();
    }
}

fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "waited {secs}s for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `deploy start` for today: the sandbox's calendar allows Monday to Thursday; any other day
/// (or a federal holiday) the rehearsal is an off-cycle deploy, as it would be in production.
fn start_args() -> Vec<&'static str> {
    let mut a = vec![
        "--yes",
        "deploy",
        "start",
        "idp",
        "--checks-done",
        "--poll-interval",
        "1s",
        "--monitor-duration",
        "2m",
    ];
    let settings = login_release::config::Config::defaults().settings;
    let mut deploy = settings.deploy.clone();
    deploy.days = ["mon", "tue", "wed", "thu"].map(String::from).to_vec();
    deploy.freeze = Vec::new();
    let cal = login_release::deploy::calendar::Calendar::from_settings(&deploy).unwrap();
    let today = cal.today(jiff::Timestamp::now());
    if !cal
        .check(today, login_release::deploy::calendar::DeployKind::Full)
        .is_allowed()
    {
        a.extend(["--off-cycle", "--reason", "sandbox rehearsal"]);
    }
    a
}

/// The release ended with every step done.
fn assert_finished(record: &Value) {
    assert_eq!(record["lifecycle"]["state"], "finished", "{record}");
    assert!(
        step_states(record).iter().all(|s| s.ends_with("=done")),
        "{:?}",
        step_states(record)
    );
}

/// `step=status` for each step; none before the first record is written.
fn step_states(record: &Value) -> Vec<String> {
    record["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            format!(
                "{}={}",
                s["step"].as_str().unwrap(),
                s["status"].as_str().unwrap()
            )
        })
        .collect()
}

/// Plays the reviewer: approves the promotion PR once it is open (deploy merges it itself).
fn approve_when_open(sb: &Sandbox) -> u64 {
    let n = wait_for(90, "the promotion PR", || sb.open_pr());
    let out = sb.sandbox(&["approve", &format!("#{n}")]);
    crate::support::assert_success(&out);
    n
}

#[test]
fn the_whole_release_runs_from_cut_to_tag_with_only_the_approval_typed() {
    let mut sb = Sandbox::up();
    // The team's own manual checks (setting deploy.checks, here from the environment).
    let checks = [
        "sign in to an existing account",
        "sign in with a PIV/CAC card",
    ];
    sb.exports
        .push(("LOGIN_RELEASE_DEPLOY_CHECKS".into(), checks.join(",")));
    let old_sha = sb.origin(&["rev-parse", "stages/prod"]);
    let i = sb.spawn("deploy", &start_args());
    let n = approve_when_open(&sb);
    let exit = sb.wait(i, "deploy", 300);
    let log = sb.output_of("deploy");
    assert_eq!(exit, 0, "{log}");

    // The record: every step done, the lock free, who merged and who checked.
    let record = sb.record();
    assert_finished(&record);
    let attested: Vec<&str> = record["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["check"].as_str().unwrap())
        .collect();
    assert_eq!(attested, checks, "{record}");
    assert!(record["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["answer"] == "merged from deploy"));

    // Production's branch holds the RC by a real merge commit, signed tag on it, RC released.
    let new_sha = sb.origin(&["rev-parse", "stages/prod"]);
    assert_ne!(new_sha, old_sha);
    let parents = sb.origin(&["rev-list", "--parents", "-n", "1", "stages/prod"]);
    assert_eq!(parents.split_whitespace().count(), 3, "{parents}");
    let tags = sb.origin(&["tag", "--points-at", "stages/prod"]);
    assert!(!tags.is_empty(), "a release tag on the merge: {log}");
    let state = sb.github.state().unwrap();
    assert!(
        state["pulls"][n.to_string()]["merged_at"].is_string(),
        "{state}"
    );
    assert_eq!(state["pulls"][n.to_string()]["merge_method"], "merge");
    assert!(
        state["releases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["tag_name"].as_str() == Some(tags.lines().next().unwrap())),
        "{state}"
    );
    // The fleet runs only the new sha, at its normal size.
    let ls = sb.run(&["ls-servers", "-e", "prod", "-r", "idp", "-o", "json"]);
    let text = stdout(&ls);
    assert!(text.contains(&new_sha), "{text}");
    assert!(
        !text.contains(&old_sha),
        "the old instances are gone: {text}"
    );
    for step in ["== step 2/10", "== step 10/10", "PR #", "preflight passed"] {
        assert!(log.contains(step), "{step} in:\n{log}");
    }
}

#[test]
fn a_monitor_fail_stops_the_release_and_deploy_rollback_brings_production_back() {
    let mut sb = Sandbox::up();
    let old_sha = sb.origin(&["rev-parse", "stages/prod"]);
    crate::support::assert_success(&sb.sandbox(&["break", "errors", "--new-sha", "--rate", "20%"]));
    let i = sb.spawn("deploy", &start_args());
    approve_when_open(&sb);
    let exit = sb.wait(i, "deploy", 300);
    let log = sb.output_of("deploy");
    assert_eq!(exit, 5, "{log}");
    assert!(log.contains("deploy stopped at step `monitor`"), "{log}");
    assert!(log.contains("deploy rollback --env prod"), "{log}");
    let record = sb.record();
    assert_eq!(record["lifecycle"]["state"], "active");
    assert!(step_states(&record).contains(&"monitor=failed".to_string()));
    // The instances the world launched for the release carry the merge on stages/prod.
    let new_sha = sb.origin(&["rev-parse", "stages/prod"]);
    assert_ne!(new_sha, old_sha);
    let ls = stdout(&sb.run(&["ls-servers", "-e", "prod", "-r", "idp", "-o", "json"]));
    assert!(
        ls.contains(&new_sha),
        "the new code serves before the rollback: {ls}"
    );

    let out = sb.run(&[
        "--yes",
        "deploy",
        "rollback",
        "--reason",
        "5xx on the new code",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("retrospective"), "{}", stderr(&out));
    let record = sb.record();
    assert_eq!(record["lifecycle"]["state"], "aborted", "{record}");
    // The new instances are unprotected and go; the old ones serve again.
    wait_for(90, "the new instances to go", || {
        let ls = sb.run(&["ls-servers", "-e", "prod", "-r", "idp", "-o", "json"]);
        let text = stdout(&ls);
        (text.contains(&old_sha) && !text.contains(&new_sha)).then_some(())
    });
    // The revert branch and PR exist.
    let state = sb.github.state().unwrap();
    assert!(
        state["pulls"]
            .as_object()
            .unwrap()
            .values()
            .any(|p| p["head_ref"]
                .as_str()
                .is_some_and(|h| h.starts_with("revert-rc-"))),
        "{state}"
    );
}

fn resume_args() -> Vec<&'static str> {
    vec![
        "--yes",
        "deploy",
        "resume",
        "--checks-done",
        "--poll-interval",
        "1s",
        "--monitor-duration",
        "2m",
    ]
}

/// SIGKILLs the background command `i` once the record shows `step` running: no chance to save
/// anything, as when a laptop dies.
fn kill_during(sb: &mut Sandbox, i: usize, name: &str, step: &str) {
    let running = format!("{step}=running");
    wait_for(180, &running, || {
        if let Some(status) = sb.children[i].try_wait().unwrap() {
            panic!(
                "{name} ended ({status}) before {running}:\n{}",
                sb.output_of(name)
            );
        }
        step_states(&sb.record()).contains(&running).then_some(())
    });
    sb.children[i].kill().unwrap();
    sb.children[i].wait().unwrap();
    assert_eq!(sb.record()["lifecycle"]["state"], "active");
}

/// idp runs the new sha only, and the recycle ran once: its scale-out was not scheduled again
/// by a resume.
fn assert_new_fleet_recycled_once(sb: &Sandbox, old_sha: &str, new_sha: &str) {
    let ls = stdout(&sb.run(&["ls-servers", "-e", "prod", "-r", "idp", "-o", "json"]));
    assert!(ls.contains(new_sha) && !ls.contains(old_sha), "{ls}");
    let world = std::fs::read_to_string(sb.dir.join("world.log")).unwrap_or_default();
    let scale_outs = world
        .lines()
        .filter(|l| {
            l.contains("ran scheduled action DelayedScaleOutOnce") && l.contains("prod-idp")
        })
        .count();
    assert_eq!(scale_outs, 1, "{world}");
}

#[test]
fn killed_during_each_waiting_step_resume_reaches_the_same_end() {
    let mut sb = Sandbox::up();
    let old_sha = sb.origin(&["rev-parse", "stages/prod"]);
    let i = sb.spawn("start", &start_args());
    kill_during(&mut sb, i, "start", "merge");

    // A second start is refused, naming the holder and the step.
    let out = sb.run(&start_args());
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("already active"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("at step `merge the promotion PR`"),
        "{}",
        stderr(&out)
    );

    let n = approve_when_open(&sb);
    // Killed in every step that waits on the world, resumed each time by a new process.
    let mut last = sb.spawn("resume-merge", &resume_args());
    for step in ["migration", "in_service", "monitor", "soak"] {
        kill_during(&mut sb, last, "resume", step);
        last = sb.spawn(&format!("resume-{step}"), &resume_args());
    }
    let exit = sb.wait(last, "resume-soak", 300);
    assert_eq!(exit, 0, "{}", sb.output_of("resume-soak"));

    // The same end as the uninterrupted run: finished, every step done, one PR merged with a
    // merge commit, a tag and a release on it, and the fleet on the new sha only.
    let record = sb.record();
    assert_finished(&record);
    let state = sb.github.state().unwrap();
    assert_eq!(state["pulls"].as_object().unwrap().len(), 1, "{state}");
    assert_eq!(state["pulls"][n.to_string()]["merge_method"], "merge");
    let new_sha = sb.origin(&["rev-parse", "stages/prod"]);
    let parents = sb.origin(&["rev-list", "--parents", "-n", "1", "stages/prod"]);
    assert_eq!(parents.split_whitespace().count(), 3, "{parents}");
    let tags = sb.origin(&["tag", "--points-at", "stages/prod"]);
    assert_eq!(tags.lines().count(), 1, "one tag: {tags}");
    assert_new_fleet_recycled_once(&sb, &old_sha, &new_sha);
}

/// The instance that left `group`, from the world's journal (`ID left GROUP`).
fn left_group(sb: &Sandbox, group: &str) -> Option<String> {
    let journal = std::fs::read_to_string(sb.dir.join("world.log")).unwrap_or_default();
    let suffix = format!(" left {group}");
    journal
        .lines()
        .filter_map(|l| l.split_once(&suffix).map(|(head, _)| head))
        .filter_map(|head| head.split_whitespace().last())
        .find(|id| id.starts_with("i-"))
        .map(str::to_string)
}

#[test]
fn resumed_after_the_migration_group_scaled_in_reads_the_ended_instances_log() {
    let mut sb = Sandbox::up();
    let i = sb.spawn("start", &start_args());
    approve_when_open(&sb);
    kill_during(&mut sb, i, "start", "migration");

    // Nobody resumes until the recycle's scheduled action has taken the migration group back to
    // zero: the instance that ran the migration is terminated, only its log is left.
    let group = login_release::config::Config::defaults()
        .settings
        .migration_group("prod");
    let id = wait_for(120, "the migration instance to leave its group", || {
        left_group(&sb, &group)
    });
    let last = sb.spawn("resume", &resume_args());
    let exit = sb.wait(last, "resume", 300);
    assert_eq!(exit, 0, "{}", sb.output_of("resume"));
    let out = sb.output_of("resume");
    assert!(
        out.contains(&format!("{id} of {group} launched")) && out.contains("reading what it wrote"),
        "{out}"
    );
    let record = sb.record();
    assert_finished(&record);
    let migration = record["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "migration")
        .unwrap()
        .clone();
    assert_eq!(
        migration["verified"]["instance"],
        id.as_str(),
        "{migration}"
    );
    assert_eq!(migration["verified"]["succeeded"], true, "{migration}");
    assert!(
        migration["verified"]["lines"].as_u64().unwrap() > 0,
        "{migration}"
    );
}

/// Network lost in the middle of the recycle step: the second mutating AWS call is applied and
/// its answer lost, and from then on AWS is unreachable (a fault proxy in front of the emulator,
/// for the deploy process only; the world keeps moving). The step cannot know what was done: exit
/// 4, the record keeps the release active at that step, and `resume` with the network back
/// finishes the release, the recycle applied once.
#[test]
fn network_lost_mid_recycle_resume_finishes_the_release() {
    use crate::support::fault::{Fault, FaultProxy};
    let mut sb = Sandbox::up();
    let old_sha = sb.origin(&["rev-parse", "stages/prod"]);
    let emulator = sb
        .exports
        .iter()
        .find(|(k, _)| k == "AWS_ENDPOINT_URL")
        .map(|(_, v)| v.clone())
        .expect("sandbox env exports AWS_ENDPOINT_URL");
    let proxy = FaultProxy::start(&emulator, Fault::DownAfter(2));
    let mut c = sb.std_command(&start_args());
    c.env("AWS_ENDPOINT_URL", &proxy.url);
    let i = sb.spawn_command("start", c);
    approve_when_open(&sb);
    let exit = sb.wait(i, "start", 300);
    let out = sb.output_of("start");
    assert_eq!(exit, 4, "{out}");
    assert!(out.contains("outcome unknown"), "{out}");
    assert!(out.contains("deploy resume"), "{out}");
    // One call applied and answered, one applied with its answer lost; the SDK's retries of that
    // one never reached AWS.
    let log = proxy.log();
    let applied = log
        .iter()
        .filter(|(op, what)| crate::support::fault::is_mutating(op) && *what != "dropped before")
        .count();
    assert_eq!(applied, 2, "{log:?}");
    assert_eq!(
        log.iter()
            .filter(|(_, what)| *what == "answer dropped")
            .count(),
        1,
        "{log:?}"
    );
    let record = sb.record();
    assert_eq!(record["lifecycle"]["state"], "active", "{record}");
    let states = step_states(&record);
    assert!(
        states.contains(&"merge=done".to_string()) && !states.contains(&"recycle=done".to_string()),
        "{states:?}"
    );

    let last = sb.spawn("resume", &resume_args());
    let exit = sb.wait(last, "resume", 300);
    let out = sb.output_of("resume");
    assert_eq!(exit, 0, "{out}");
    // The world said how far the recycle got; the resume finished it instead of trusting the
    // actions it found (which once made it wait for a migration instance never started).
    assert!(
        out.contains("an earlier run applied part of this recycle"),
        "{out}"
    );
    assert_finished(&sb.record());
    let new_sha = sb.origin(&["rev-parse", "stages/prod"]);
    assert_new_fleet_recycled_once(&sb, &old_sha, &new_sha);
}

#[test]
fn two_starts_at_once_exactly_one_takes_the_lock() {
    let mut sb = Sandbox::up();
    let a = sb.spawn("start-a", &start_args());
    let b = sb.spawn("start-b", &start_args());
    // The loser ends at once with exit 3; the winner goes on to cut and waits for the approval.
    let (loser, winner, code) = wait_for(120, "one of the two starts to be refused", || {
        for (me, other, name) in [(a, b, "start-a"), (b, a, "start-b")] {
            if let Some(status) = sb.children[me].try_wait().unwrap() {
                return Some((name, other, status.code().unwrap_or(-1)));
            }
        }
        None
    });
    let lost = sb.output_of(loser);
    assert_eq!(code, 3, "{lost}");
    assert!(
        lost.contains("already active") || lost.contains("moved under us"),
        "{lost}"
    );
    assert!(!lost.contains("lock taken"), "{lost}");
    let winner_name = if loser == "start-a" {
        "start-b"
    } else {
        "start-a"
    };
    wait_for(90, "the winner to open the promotion PR", || sb.open_pr());
    assert!(
        sb.children[winner].try_wait().unwrap().is_none(),
        "the winner waits for the approval: {}",
        sb.output_of(winner_name)
    );
    assert!(sb.output_of(winner_name).contains("lock taken"));
    // One record, one release: exactly one promotion PR was opened.
    let state = sb.github.state().unwrap();
    assert_eq!(state["pulls"].as_object().unwrap().len(), 1, "{state}");
    assert_eq!(sb.record()["lifecycle"]["state"], "active");
}

/// A failure stop after production changed: exit 5 at `step`, the record keeps the step failed
/// and the lock, and the hint offers both ways on.
fn assert_stopped_at(sb: &Sandbox, name: &str, exit: i32, (step, title): (&str, &str)) -> Value {
    let log = sb.output_of(name);
    assert_eq!(exit, 5, "{log}");
    assert!(
        log.contains(&format!("deploy stopped at step `{title}`")),
        "{log}"
    );
    let record = sb.record();
    assert_eq!(record["lifecycle"]["state"], "active", "{record}");
    assert!(
        step_states(&record).contains(&format!("{step}=failed")),
        "{:?}",
        step_states(&record)
    );
    record
}

/// `deploy rollback` from wherever the release stopped: the record ends, the lock is free.
fn roll_back(sb: &Sandbox, reason: &str) -> String {
    let out = sb.run(&["--yes", "deploy", "rollback", "--reason", reason]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(sb.record()["lifecycle"]["state"], "aborted");
    stderr(&out)
}

/// Production's idp fleet serves `old` only again (the new instances were taken out).
fn wait_for_old_fleet(sb: &Sandbox, old: &str, new: &str) {
    wait_for(120, "the new instances to go", || {
        let text = stdout(&sb.run(&["ls-servers", "-e", "prod", "-r", "idp", "-o", "json"]));
        (text.contains(old) && !text.contains(new)).then_some(())
    });
}

/// The revert PRs into production's branch, by head branch.
fn revert_prs(sb: &Sandbox) -> Vec<String> {
    let state = sb.github.state().unwrap();
    state["pulls"]
        .as_object()
        .unwrap()
        .values()
        .filter(|p| p["state"] == "open")
        .filter_map(|p| p["head_ref"].as_str())
        .filter(|h| h.starts_with("revert-rc-"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_failed_migration_stops_the_release_and_rollback_brings_the_old_fleet_back() {
    let mut sb = Sandbox::up();
    let old_sha = sb.origin(&["rev-parse", "stages/prod"]);
    crate::support::assert_success(&sb.sandbox(&["break", "migration"]));
    let i = sb.spawn("deploy", &start_args());
    approve_when_open(&sb);
    let exit = sb.wait(i, "deploy", 300);
    assert_stopped_at(&sb, "deploy", exit, ("migration", "migration"));
    let log = sb.output_of("deploy");
    assert!(log.contains("ABANDON"), "{log}");
    assert!(
        log.contains("deploy resume --env prod") && log.contains("deploy rollback --env prod"),
        "{log}"
    );
    // Nothing after the failure ran: the monitor never judged, the old instances stay.
    let record = sb.record();
    for later in ["in_service", "monitor", "remove_old", "soak", "tag"] {
        assert!(
            step_states(&record).contains(&format!("{later}=pending")),
            "{:?}",
            step_states(&record)
        );
    }
    let new_sha = sb.origin(&["rev-parse", "stages/prod"]);

    let err = roll_back(&sb, "migration abandoned");
    assert!(err.contains("retrospective"), "{err}");
    wait_for_old_fleet(&sb, &old_sha, &new_sha);
    assert_eq!(revert_prs(&sb).len(), 1, "{err}");
    assert!(sb.origin(&["tag", "--points-at", "stages/prod"]).is_empty());
}

#[test]
fn unhealthy_new_instances_stop_the_release_and_rollback_brings_the_old_fleet_back() {
    let mut sb = Sandbox::up();
    let old_sha = sb.origin(&["rev-parse", "stages/prod"]);
    crate::support::assert_success(&sb.sandbox(&["break", "health"]));
    let i = sb.spawn("deploy", &start_args());
    approve_when_open(&sb);
    let exit = sb.wait(i, "deploy", 300);
    assert_stopped_at(
        &sb,
        "deploy",
        exit,
        ("in_service", "new instances in service"),
    );
    let log = sb.output_of("deploy");
    assert!(
        log.contains("the new instances did not become healthy"),
        "{log}"
    );
    assert!(log.contains("ls-servers -e prod"), "{log}");
    let new_sha = sb.origin(&["rev-parse", "stages/prod"]);

    roll_back(&sb, "new instances unhealthy");
    wait_for_old_fleet(&sb, &old_sha, &new_sha);
    assert_eq!(revert_prs(&sb).len(), 1);
}

#[test]
fn a_closed_or_squash_merged_promotion_pr_stops_the_release_and_rollback_undoes_it() {
    use login_release::sandbox::github::MergeMethod;

    let mut sb = Sandbox::up();
    let old_sha = sb.origin(&["rev-parse", "stages/prod"]);

    // Closed without merging: production is untouched, the rollback only ends the record.
    let i = sb.spawn("closed", &start_args());
    let n = wait_for(90, "the promotion PR", || sb.open_pr());
    sb.github.close(n).unwrap();
    let exit = sb.wait(i, "closed", 120);
    let log = sb.output_of("closed");
    assert_eq!(exit, 5, "{log}");
    assert!(
        log.contains(&format!("PR #{n} was closed without merging")),
        "{log}"
    );
    assert!(log.contains("reopen it on GitHub"), "{log}");
    assert!(
        step_states(&sb.record()).contains(&"merge=failed".to_string()),
        "{log}"
    );
    let err = roll_back(&sb, "wrong RC");
    assert!(err.contains("closed unmerged"), "{err}");
    assert!(revert_prs(&sb).is_empty(), "{err}");
    assert_eq!(sb.origin(&["rev-parse", "stages/prod"]), old_sha);

    // Started again, and squash-merged by the reviewer: production's branch changed, but not
    // by the runbook's merge. The release stops and only the rollback is offered; the
    // rollback's revert PR undoes the squash commit.
    let i = sb.spawn("squashed", &start_args());
    let n2 = wait_for(90, "a new promotion PR", || {
        sb.open_pr().filter(|&m| m != n)
    });
    sb.github
        .approve_and_merge(n2, MergeMethod::Squash, "sandbox-reviewer")
        .unwrap();
    let exit = sb.wait(i, "squashed", 120);
    let log = sb.output_of("squashed");
    assert_eq!(exit, 5, "{log}");
    assert!(
        log.contains(&format!("PR #{n2} was squash-merged")),
        "{log}"
    );
    assert!(log.contains("deploy rollback --env prod"), "{log}");
    assert!(
        !log.contains("deploy resume"),
        "a squash cannot be resumed: {log}"
    );
    let squash = sb.origin(&["rev-parse", "stages/prod"]);
    let parents = sb.origin(&["rev-list", "--parents", "-n", "1", "stages/prod"]);
    assert_eq!(parents.split_whitespace().count(), 2, "{parents}");

    let err = roll_back(&sb, "squash-merged");
    assert!(err.contains("squash merge of PR"), "{err}");
    let reverts = revert_prs(&sb);
    assert_eq!(reverts.len(), 1, "{err}");
    // The revert sits on the squash and gives back production's tree from before it.
    let revert = &reverts[0];
    assert_eq!(sb.origin(&["rev-parse", &format!("{revert}^")]), squash);
    assert_eq!(
        sb.origin(&["rev-parse", &format!("{revert}^{{tree}}")]),
        sb.origin(&["rev-parse", &format!("{old_sha}^{{tree}}")])
    );
    // The fleet was never recycled: nothing to bring back.
    assert!(
        !stdout(&sb.run(&["ls-servers", "-e", "prod", "-r", "idp", "-o", "json"]))
            .contains(&squash)
    );
}
