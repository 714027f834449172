//! The fault matrix (issue 12, item 2): every mutating command, run through the fault proxy
//! (tests/support/fault.rs), loses its K-th mutating call before or after the emulator applied
//! it, for every K. Each run either exits 1 with the world exactly as before, or exits 4 with
//! commands that, run against the healthy endpoint, undo or finish the work, after which the
//! original command succeeds again. With every other request throttled, every command ends where
//! it ends without faults (the SDK's retries).

use std::process::Output;

use crate::asg_recycle::{at_str, next_second, prod, set_desired, NOW};
use crate::support::fault::{Fault, FaultProxy};
use crate::support::moto::Moto;
use crate::support::{aws_env, cmd, code, stderr};

/// A command and the world it starts from.
struct Case {
    args: &'static [&'static str],
    /// The clock of the command and of the commands it prints.
    now: String,
    /// Brings a freshly seeded prod fleet to where the command starts.
    setup: fn(&Moto, &tempfile::TempDir),
}

fn nothing(_: &Moto, _: &tempfile::TempDir) {}

/// Recycled at NOW and scaled out, as `scale-remove-new-instances` finds it in the window.
fn recycled(moto: &Moto, home: &tempfile::TempDir) {
    let o = through(
        moto.url(),
        home,
        NOW,
        &["asg-recycle", "prod", "idp", "--yes"],
        1,
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    next_second();
    set_desired(moto, "prod-idp", 8);
    set_desired(moto, "prod-worker", 4);
}

/// After the recycle's scale-down, as `scale-remove-old-instances` finds it.
fn scaled_down(moto: &Moto, home: &tempfile::TempDir) {
    recycled(moto, home);
    set_desired(moto, "prod-idp", 4);
    set_desired(moto, "prod-worker", 2);
    set_desired(moto, "prod-migration", 0);
}

fn run_case(endpoint: &str, home: &tempfile::TempDir, case: &Case, attempts: u32) -> Output {
    through(endpoint, home, &case.now, case.args, attempts)
}

fn through(
    endpoint: &str,
    home: &tempfile::TempDir,
    now: &str,
    args: &[&str],
    attempts: u32,
) -> Output {
    let mut c = cmd(home.path());
    aws_env(&mut c, endpoint)
        .env("AWS_MAX_ATTEMPTS", attempts.to_string())
        .env("LOGIN_RELEASE_NOW", now);
    c.args(args).output().unwrap()
}

/// What the commands change, in a form two seeded worlds can be compared in (instance ids
/// differ between them): per group its desired capacity, instance and protected counts, and
/// every scheduled action.
fn summary(moto: &Moto) -> Vec<String> {
    let mut out: Vec<String> = moto
        .block_on(moto.aws.describe_groups(&[]))
        .unwrap()
        .into_iter()
        .map(|g| {
            format!(
                "{} desired {} instances {} protected {}",
                g.name,
                g.desired,
                g.instances.len(),
                g.instances.iter().filter(|i| i.protected).count()
            )
        })
        .collect();
    out.sort();
    let mut actions: Vec<String> = moto
        .block_on(moto.aws.scheduled_actions(None))
        .unwrap()
        .into_iter()
        .map(|a| format!("{} {} {:?} {:?}", a.group, a.name, a.start, a.desired))
        .collect();
    actions.sort();
    out.extend(actions);
    out
}

/// The exact world, instance ids and protection included.
fn world(moto: &Moto) -> Vec<String> {
    let mut out = summary(moto);
    for g in moto.block_on(moto.aws.describe_groups(&[])).unwrap() {
        for i in g.instances {
            out.push(format!("{} {} {}", g.name, i.id, i.protected));
        }
    }
    out.sort();
    out
}

/// What AWS does and the emulator does not: a group above its desired capacity removes its
/// unprotected instances. Setting the same desired capacity makes the emulator do it.
fn settle(moto: &Moto) {
    for g in moto.block_on(moto.aws.describe_groups(&[])).unwrap() {
        set_desired(moto, &g.name, g.desired);
    }
}

/// The commands of the `help:` line after "Undo it with: " or "Finish with: ".
fn printed_commands(err: &str) -> Vec<Vec<String>> {
    let help = err
        .lines()
        .find(|l| l.starts_with("help:"))
        .unwrap_or_else(|| panic!("no help line:\n{err}"));
    let (_, cmds) = help
        .split_once("Undo it with: ")
        .or_else(|| help.split_once("Finish with: "))
        .unwrap_or_else(|| panic!("no command in the help line:\n{err}"));
    let cmds = cmds.split(" (right whether").next().unwrap();
    cmds.split(" && ")
        .map(|c| {
            let c = c
                .trim()
                .strip_prefix("login-release ")
                .expect("our command");
            c.split_whitespace().map(str::to_string).collect()
        })
        .collect()
}

/// A fresh prod world brought to the case's start.
fn fresh(case: &Case) -> (Moto, tempfile::TempDir) {
    let (moto, home) = prod();
    (case.setup)(&moto, &home);
    (moto, home)
}

/// Counts the case's mutating calls, then runs the matrix. Returns (faults injected, runs that
/// ended in exit 1 with nothing changed, runs that ended in exit 4 and were restored).
fn matrix(case: &Case) -> (usize, usize, usize) {
    let (calls, healthy_end) = {
        let (moto, home) = fresh(case);
        let proxy = FaultProxy::start(moto.url(), Fault::None);
        let o = run_case(&proxy.url, &home, case, 1);
        assert_eq!(code(&o), 0, "healthy run: {}", stderr(&o));
        (proxy.mutating(), summary(&moto))
    };
    assert!(calls > 0, "{:?} makes no mutating call", case.args);
    let (mut injected, mut failed, mut restored) = (0, 0, 0);
    for k in 1..=calls {
        for fault in [Fault::DropBefore(k), Fault::DropAfter(k)] {
            let (moto, home) = fresh(case);
            let before = world(&moto);
            let proxy = FaultProxy::start(moto.url(), fault);
            let o = run_case(&proxy.url, &home, case, 1);
            injected += 1;
            let err = stderr(&o);
            match code(&o) {
                1 => {
                    assert_eq!(
                        world(&moto),
                        before,
                        "{fault:?}: exit 1 but the world changed\n{err}"
                    );
                    failed += 1;
                }
                4 => {
                    assert!(err.contains("outcome unknown"), "{fault:?}: {err}");
                    for c in printed_commands(&err) {
                        let mut args: Vec<&str> = c.iter().map(String::as_str).collect();
                        args.push("--yes");
                        let o = through(moto.url(), &home, &case.now, &args, 1);
                        assert_eq!(
                            code(&o),
                            0,
                            "{fault:?}: `{}` after\n{err}\n---\n{}",
                            c.join(" "),
                            stderr(&o)
                        );
                        settle(&moto);
                    }
                    let again = run_case(moto.url(), &home, case, 1);
                    assert_eq!(
                        code(&again),
                        0,
                        "{fault:?}: the re-run after\n{err}\n---\n{}",
                        stderr(&again)
                    );
                    restored += 1;
                }
                other => panic!("{fault:?}: exit {other}\n{err}"),
            }
        }
    }
    // Every other request throttled: the retries get every call through.
    let (moto, home) = fresh(case);
    let proxy = FaultProxy::start(moto.url(), Fault::Throttle);
    let o = run_case(&proxy.url, &home, case, 4);
    assert_eq!(code(&o), 0, "throttled: {}", stderr(&o));
    assert!(proxy.throttled() > calls, "{:?}", proxy.log());
    assert_eq!(summary(&moto), healthy_end, "throttled run ends elsewhere");
    injected += proxy.throttled();
    eprintln!(
        "{:?}: {calls} mutating calls, {injected} faults injected ({} throttled), {failed} exit 1 unchanged, {restored} exit 4 restored",
        case.args,
        proxy.throttled()
    );
    (injected, failed, restored)
}

#[test]
fn asg_recycle_survives_every_lost_call() {
    let (_, failed, restored) = matrix(&Case {
        args: &["asg-recycle", "prod", "idp", "--yes"],
        now: NOW.into(),
        setup: nothing,
    });
    // The proxy accepts the connection before it drops the call, so from the command's side
    // "dropped before" looks the same as "answer lost": exit 4 for both, and that is right.
    assert!(restored > 0, "{failed} runs ended in exit 1");
}

#[test]
fn config_recycle_survives_every_lost_call() {
    let (_, _, restored) = matrix(&Case {
        args: &["config-recycle", "prod", "worker", "--yes"],
        now: NOW.into(),
        setup: nothing,
    });
    assert!(restored > 0);
}

#[test]
fn scale_remove_new_all_survives_every_lost_call() {
    let (_, _, restored) = matrix(&Case {
        args: &["scale-remove-new-instances", "prod", "ALL", "--yes"],
        now: at_str(60),
        setup: recycled,
    });
    assert!(restored > 0);
}

#[test]
fn scale_remove_old_survives_every_lost_call() {
    let (_, _, restored) = matrix(&Case {
        args: &["scale-remove-old-instances", "prod", "ALL", "--yes"],
        now: at_str(16 * 60),
        setup: scaled_down,
    });
    assert!(restored > 0);
}

#[test]
fn asg_size_survives_a_lost_call() {
    let (injected, failed, restored) = matrix(&Case {
        args: &["asg-size", "prod", "idp", "6", "--yes"],
        now: NOW.into(),
        setup: nothing,
    });
    // One call: dropped before or after, the command cannot tell; both are exit 4 with the same
    // command again, which finds 6 set (or sets it).
    assert!(
        restored > 0 && injected > restored,
        "{failed} runs ended in exit 1"
    );
}

/// SendCommand cannot be undone and running a document twice is not safe in general: a lost
/// answer is exit 4 naming the listing that tells whether it was sent, and the re-run for when
/// it was not.
#[test]
fn ssm_command_with_a_lost_answer_says_how_to_find_out_whether_it_ran() {
    let mut injected = 0;
    for (fault, sent) in [(Fault::DropBefore(1), 0), (Fault::DropAfter(1), 1)] {
        let (moto, home) = prod();
        crate::ssm_command::document(&moto, "prod-ssm-cmd-puma-restart");
        let proxy = FaultProxy::start(moto.url(), fault);
        let args = [
            "ssm-command",
            "prod",
            "idp",
            "puma-restart",
            "--yes",
            "--poll-interval",
            "50ms",
        ];
        let o = through(&proxy.url, &home, NOW, &args, 1);
        injected += 1;
        let err = stderr(&o);
        assert_eq!(code(&o), 4, "{fault:?}: {err}");
        assert!(
            err.contains("outcome unknown: SendCommand prod-ssm-cmd-puma-restart"),
            "{err}"
        );
        assert!(
            err.contains(
                "aws ssm list-commands --filters key=DocumentName,value=prod-ssm-cmd-puma-restart"
            ),
            "{err}"
        );
        assert!(
            err.contains(
                "if not, nothing was sent: login-release ssm-command prod idp puma-restart"
            ),
            "{err}"
        );
        // What the listing would show: the emulator has the command exactly when it got it.
        assert_eq!(crate::ssm_command::commands(&moto).len(), sent, "{fault:?}");
        if sent == 0 {
            let o = through(moto.url(), &home, NOW, &args, 1);
            assert_eq!(code(&o), 0, "the re-run: {}", stderr(&o));
            assert_eq!(crate::ssm_command::commands(&moto).len(), 1);
        }
    }
    // Throttled: the retries get it through, once.
    let (moto, home) = prod();
    crate::ssm_command::document(&moto, "prod-ssm-cmd-puma-restart");
    let proxy = FaultProxy::start(moto.url(), Fault::Throttle);
    let o = through(
        &proxy.url,
        &home,
        NOW,
        &[
            "ssm-command",
            "prod",
            "idp",
            "puma-restart",
            "--yes",
            "--poll-interval",
            "50ms",
        ],
        4,
    );
    assert_eq!(code(&o), 0, "throttled: {}", stderr(&o));
    assert_eq!(crate::ssm_command::commands(&moto).len(), 1);
    injected += proxy.throttled();
    eprintln!("[\"ssm-command\", \"prod\", \"idp\", \"puma-restart\"]: 1 mutating call, {injected} faults injected ({} throttled), 2 exit 4 with the listing to check", proxy.throttled());
}

/// A repository whose `main` is two commits ahead of `stages/prod` on origin, with the
/// sandbox's GitHub serving it: what `cut-rc --open-pr` needs (the sha passed as --source).
struct GitHubWorld {
    repos: crate::support::git::Repos,
    github: login_release::sandbox::github::Handle,
    source: String,
}

impl GitHubWorld {
    fn new() -> GitHubWorld {
        let mut repos = crate::support::git::Repos::new();
        repos.git(&["push", "-q", "origin", "main:stages/prod"]);
        repos.commit(
            "Fix the sign-in page (#1)",
            "changelog: Bug Fixes, Sign in, fix it",
        );
        let source = repos.commit("Add a proofing step (#2)", "");
        repos.git(&["push", "-q", "origin", "main"]);
        let python = login_release::sandbox::emulator::find_python(Some(std::path::Path::new(
            env!("CARGO_MANIFEST_DIR"),
        )))
        .unwrap_or_else(|e| panic!("{e:#}: run `make test-deps`"));
        let github = login_release::sandbox::github::start(
            &python,
            &repos.dir.path().join("github"),
            &repos.origin,
        )
        .unwrap();
        GitHubWorld {
            repos,
            github,
            source,
        }
    }

    fn cut_rc(&self, api: &str) -> Output {
        cmd(&self.repos.home)
            .env("GITHUB_API_URL", api)
            .env(
                "GITHUB_REPOSITORY",
                login_release::sandbox::github::REPOSITORY,
            )
            .env("GITHUB_TOKEN", login_release::sandbox::github::TOKEN)
            .arg("-C")
            .arg(&self.repos.work)
            .args(["--yes", "cut-rc", "--source", &self.source])
            .args(["--rc", "7", "--date", "2026-01-05", "--open-pr"])
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap()
    }

    /// `head (labels)` of each open PR.
    fn open_prs(&self) -> Vec<String> {
        let state = self.github.state().unwrap();
        state["pulls"]
            .as_object()
            .unwrap()
            .values()
            .filter(|p| p["state"] == "open")
            .map(|p| format!("{} {}", p["head_ref"].as_str().unwrap(), p["labels"]))
            .collect()
    }
}

/// GitHub's answers lost (issue 12 item 1, the GitHub steps): in front of the sandbox's GitHub,
/// the K-th call that changes something (the label, the PR, its label) is dropped before or
/// after GitHub made it, for every K of `cut-rc --open-pr`. The run says "outcome unknown"
/// (exit 4), and running the same command again ends with exactly one PR, labelled, as a run
/// without faults does: it finds what the lost call made instead of making it twice.
#[test]
fn cut_rc_open_pr_survives_every_lost_github_call() {
    let healthy = GitHubWorld::new();
    let proxy = FaultProxy::start(&healthy.github.api_url(), Fault::None);
    let o = healthy.cut_rc(&proxy.url);
    assert_eq!(code(&o), 0, "healthy run: {}", stderr(&o));
    let calls = proxy.mutating();
    let expected = healthy.open_prs();
    assert_eq!(expected.len(), 1, "{expected:?}");
    assert!(calls >= 2, "{:?}", proxy.log());
    let mut injected = 0;
    for k in 1..=calls {
        for fault in [Fault::DropBefore(k), Fault::DropAfter(k)] {
            let w = GitHubWorld::new();
            let proxy = FaultProxy::start(&w.github.api_url(), fault);
            let o = w.cut_rc(&proxy.url);
            injected += 1;
            let err = stderr(&o);
            assert_eq!(code(&o), 4, "{fault:?}: {err}");
            assert!(
                err.contains("outcome unknown: POST /repos/"),
                "{fault:?}: {err}"
            );
            assert!(
                err.contains("run the same command again"),
                "{fault:?}: {err}"
            );
            let again = w.cut_rc(&w.github.api_url());
            assert_eq!(code(&again), 0, "{fault:?}: the re-run: {}", stderr(&again));
            assert_eq!(w.open_prs(), expected, "{fault:?}: {}", stderr(&again));
        }
    }
    eprintln!(
        "[\"cut-rc\", \"--open-pr\"]: {calls} mutating GitHub calls, {injected} faults injected, {injected} exit 4 finished by a re-run"
    );
}

/// A clone whose origin is the bare repository served over git's smart HTTP, as GitHub serves
/// it, so its push (`POST /origin.git/git-receive-pack`, the one mutating call of `cut-rc`) can
/// go through the fault proxy.
struct HttpOriginWorld {
    repos: crate::support::git::Repos,
    http: crate::support::git_http::GitHttp,
    source: String,
}

const RC_BRANCH: &str = "refs/heads/stages/rc-2026-01-05";

impl HttpOriginWorld {
    fn new() -> HttpOriginWorld {
        let mut repos = crate::support::git::Repos::new();
        repos.git(&["push", "-q", "origin", "main:stages/prod"]);
        let source = repos.commit("Fix the sign-in page (#1)", "");
        repos.git(&["push", "-q", "origin", "main"]);
        let http = crate::support::git_http::GitHttp::start(repos.dir.path());
        HttpOriginWorld {
            repos,
            http,
            source,
        }
    }

    /// `cut-rc` with origin at `base` (the proxy's URL or the server's own).
    fn cut_rc(&self, base: &str) -> Output {
        self.repos
            .git(&["remote", "set-url", "origin", &format!("{base}/origin.git")]);
        cmd(&self.repos.home)
            .arg("-C")
            .arg(&self.repos.work)
            .args(["--yes", "cut-rc", "--source", &self.source])
            .args(["--rc", "7", "--date", "2026-01-05"])
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap()
    }
}

/// A push whose answer was lost (issue 12 item 1, "git pushes (verify on origin)"): dropped
/// before origin got it, the run exits 1 and origin has nothing; dropped after origin made it,
/// reading origin back shows the push landed and the run succeeds; with origin gone for good
/// after it, the outcome is unknown (exit 4) and the same command, run when origin answers
/// again, finds the branch instead of failing on it.
#[test]
fn cut_rc_push_survives_a_lost_answer() {
    let healthy = HttpOriginWorld::new();
    let proxy = FaultProxy::start(&healthy.http.url, Fault::None);
    let o = healthy.cut_rc(&proxy.url);
    assert_eq!(code(&o), 0, "healthy run: {}", stderr(&o));
    assert_eq!(proxy.mutating(), 1, "{:?}", proxy.log());
    assert_eq!(
        healthy.repos.origin_ref(RC_BRANCH).as_deref(),
        Some(healthy.source.as_str())
    );
    let mut outcomes = Vec::new();
    for fault in [
        Fault::DropBefore(1),
        Fault::DropAfter(1),
        Fault::DownAfter(1),
    ] {
        let w = HttpOriginWorld::new();
        let proxy = FaultProxy::start(&w.http.url, fault);
        let o = w.cut_rc(&proxy.url);
        let err = stderr(&o);
        let on_origin = w.repos.origin_ref(RC_BRANCH);
        match fault {
            Fault::DropBefore(_) => {
                assert_eq!(code(&o), 1, "{fault:?}: {err}");
                assert!(err.contains("origin does not have it"), "{fault:?}: {err}");
                assert_eq!(on_origin, None, "{fault:?}: nothing was pushed");
            }
            Fault::DropAfter(_) => {
                assert_eq!(code(&o), 0, "{fault:?}: {err}");
                assert!(err.contains("(verified on origin)"), "{fault:?}: {err}");
                assert_eq!(on_origin.as_deref(), Some(w.source.as_str()), "{fault:?}");
            }
            _ => {
                assert_eq!(code(&o), 4, "{fault:?}: {err}");
                assert!(
                    err.contains(&format!(
                        "outcome unknown: the push of {RC_BRANCH} was sent to origin"
                    )),
                    "{fault:?}: {err}"
                );
                assert!(
                    err.contains("run the same command again"),
                    "{fault:?}: {err}"
                );
                assert_eq!(on_origin.as_deref(), Some(w.source.as_str()), "{fault:?}");
            }
        }
        let again = w.cut_rc(&w.http.url);
        assert_eq!(code(&again), 0, "{fault:?}: the re-run: {}", stderr(&again));
        assert_eq!(
            w.repos.origin_ref(RC_BRANCH).as_deref(),
            Some(w.source.as_str()),
            "{fault:?}"
        );
        outcomes.push(format!("{fault:?} exit {}", code(&o)));
    }
    eprintln!("[\"cut-rc\"] over HTTP: 1 push, 3 faults injected: {outcomes:?}, each finished by a re-run");
}
