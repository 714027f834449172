//! Tests of the emulator fixture and the sandbox's fleet seeding.

use login_release::aws::fleet::RECYCLE_ONCE;
use login_release::sandbox::seed::FleetSpec;

use crate::support::moto::Moto;
use crate::support::{git_out, stderr, stdout};

#[test]
fn seeded_prod_fleet_has_the_runbook_shape() {
    let moto = Moto::start();
    moto.seed(&FleetSpec::prod_shaped("prod", &"a".repeat(40)));
    let groups = moto.block_on(moto.aws.groups_with_prefix("prod-")).unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        names,
        ["prod-idp", "prod-migration", "prod-pivcac", "prod-worker"]
    );
    let idp = &groups[0];
    assert_eq!(idp.desired, 4);
    assert_eq!(idp.instances.len(), 4);
    assert!(idp
        .instances
        .iter()
        .all(|i| i.protected && i.in_service_and_healthy()));
    assert_eq!(idp.termination_policies, ["OldestInstance"]);
    assert!(groups[1].has_tag("utility"));
    let ids: Vec<String> = idp.instances.iter().map(|i| i.id.clone()).collect();
    let instances = moto.block_on(moto.aws.describe_instances(&ids)).unwrap();
    assert_eq!(instances.len(), 4);
    assert!(instances
        .iter()
        .all(|i| i.name.as_deref() == Some("asg-prod-idp")));
    assert!(instances
        .iter()
        .all(|i| i.group.as_deref() == Some("prod-idp")));
    assert!(instances
        .iter()
        .all(|i| i.tags.get("gitsha:idp").map(String::len) == Some(40)));
}

#[test]
fn scheduled_actions_are_kept_per_group() {
    // The launcher's shim: AWS keeps scheduled actions per group; moto 5.2 does not.
    let moto = Moto::start();
    moto.seed(&FleetSpec::prod_shaped("prod", &"a".repeat(40)));
    let put = |group: &str, desired: i32| {
        moto.block_on(
            moto.aws
                .autoscaling
                .put_scheduled_update_group_action()
                .auto_scaling_group_name(group)
                .scheduled_action_name(RECYCLE_ONCE)
                .start_time(aws_smithy_types::DateTime::from_secs(4_000_000_000))
                .desired_capacity(desired)
                .send(),
        )
        .unwrap();
    };
    put("prod-idp", 4);
    put("prod-worker", 2);
    let all = moto.block_on(moto.aws.scheduled_actions(None)).unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    moto.block_on(
        moto.aws
            .autoscaling
            .delete_scheduled_action()
            .auto_scaling_group_name("prod-worker")
            .scheduled_action_name(RECYCLE_ONCE)
            .send(),
    )
    .unwrap();
    let left = moto.block_on(moto.aws.scheduled_actions(None)).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].group, "prod-idp");
    assert_eq!(left[0].desired, Some(4));
}

/// The Python with moto, passed explicitly: `cmd()` clears every LOGIN_RELEASE_* variable.
fn moto_python() -> std::path::PathBuf {
    login_release::sandbox::emulator::find_python(Some(std::path::Path::new(env!(
        "CARGO_MANIFEST_DIR"
    ))))
    .unwrap_or_else(|e| panic!("{e:#}: run `make test-deps`"))
}

fn sandbox(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    crate::support::cmd(home)
        .env("LOGIN_RELEASE_MOTO_PYTHON", moto_python())
        .arg("sandbox")
        .args(args)
        .output()
        .unwrap()
}

struct DownOnDrop(std::path::PathBuf, std::path::PathBuf);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        if self.1.exists() {
            let _ = sandbox(&self.0, &["down", "--dir", self.1.to_str().unwrap()]);
        }
    }
}

#[test]
fn sandbox_up_env_status_down() {
    use login_release::sandbox::world::{http_get, is_ours, State};

    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let dir = tmp.path().join("sb");
    let d = dir.to_str().unwrap();

    let out = sandbox(&home, &["up", "--dir", d]);
    // A failed assertion below must not leave the detached servers running.
    let _down = DownOnDrop(home.clone(), dir.clone());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("prod-idp, prod-worker, prod-migration, prod-pivcac"));
    let state = State::load(&dir).unwrap().expect("state.json written");
    assert!(is_ours(state.emulator.pid, &state.emulator.marker));
    assert!(is_ours(state.http.pid, &state.http.marker));
    let gh = state.github.clone().expect("the GitHub was recorded");
    assert!(is_ours(gh.pid, &gh.marker));

    // Up twice: refused, and the first one keeps running.
    let again = sandbox(&home, &["up", "--dir", d]);
    assert_eq!(again.status.code(), Some(3));
    assert!(stderr(&again).contains(&format!(
        "error: the sandbox is already up in {d}\nhelp: use it (`eval \"$(login-release sandbox env --dir {d})\"`), or run `login-release sandbox down --dir {d}` first"
    )), "{}", stderr(&again));
    assert!(is_ours(state.emulator.pid, &state.emulator.marker));

    // env: export lines, usable by every command.
    let out = sandbox(&home, &["env", "--dir", d]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let exports: Vec<(String, String)> = stdout(&out)
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect();
    let var = |k: &str| {
        exports
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} exported"))
    };
    assert_eq!(var("AWS_ENDPOINT_URL"), state.emulator.url);
    assert_eq!(var("AWS_REGION"), "us-west-2");
    assert_eq!(var("AWS_ACCESS_KEY_ID"), "testing");
    assert_eq!(var("AWS_EC2_METADATA_DISABLED"), "true");
    assert_eq!(var("GNUPGHOME"), dir.join("gnupg").display().to_string());
    // The GitHub client is pointed at the sandbox's GitHub with a throw-away token.
    assert_eq!(var("GITHUB_API_URL"), gh.url);
    assert_eq!(var("GITHUB_REPOSITORY"), "18F/identity-idp");
    assert_eq!(var("GITHUB_TOKEN"), login_release::sandbox::github::TOKEN);
    assert!(stdout(&out)
        .contains("unset AWS_PROFILE AWS_VAULT AWS_SESSION_TOKEN AWS_SECURITY_TOKEN GH_TOKEN"));
    assert!(stdout(&out).contains(&format!("cd {}", dir.join("repo").display())));
    let run = |args: &[&str]| {
        let mut c = crate::support::cmd(&home);
        for (k, v) in &exports {
            c.env(k, v);
        }
        c.args(args).output().unwrap()
    };
    let ls = run(&["ls-servers", "-e", "prod", "-o", "ids"]);
    assert_eq!(ls.status.code(), Some(0), "{}", stderr(&ls));
    assert_eq!(stdout(&ls).trim().split(',').count(), 8);

    // Staging's deploy.json names main's tip; stages/prod is behind it; both are on origin.
    let repo = dir.join("repo");
    let main = git_out(&repo, &["rev-parse", "main"]);
    let port = state.http.port;
    let (code, body) = http_get(port, "/api/deploy.json").unwrap();
    assert_eq!(code, 200);
    let deploy: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(deploy["git_sha"], main.as_str());
    assert_eq!(var("LOGIN_RELEASE_STAGING_IDP"), state.deploy_json_url);
    let origin = dir.join("origin.git");
    assert_eq!(git_out(&origin, &["rev-parse", "main"]), main);
    assert_eq!(
        git_out(&origin, &["rev-parse", "stages/prod"]),
        git_out(&repo, &["rev-parse", "main~5"])
    );
    let log = git_out(&repo, &["log", "--format=%B", "origin/stages/prod..main"]);
    assert!(
        log.contains("changelog: User-Facing Improvements, Translations,"),
        "{log}"
    );
    assert!(log.contains("(#9109)"));
    let settings = std::fs::read_to_string(repo.join(".login-release.toml")).unwrap();
    assert!(settings.contains("web_url = \"https://github.com/18F/identity-idp\""));
    // The signing key exists in the sandbox's GnuPG home and git is told to use it.
    let key = git_out(&repo, &["config", "user.signingkey"]);
    assert_eq!(key, state.signing_key);
    let listed = std::process::Command::new("gpg")
        .env("GNUPGHOME", dir.join("gnupg"))
        .args(["--batch", "--list-secret-keys", &key])
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(stdout(&listed).contains("Sandbox Release <sandbox@example.gov>"));

    // status, then down: processes gone, directory gone; down again is a no-op.
    let st = sandbox(&home, &["status", "--dir", d]);
    assert_eq!(st.status.code(), Some(0), "{}", stderr(&st));
    assert!(
        stdout(&st).contains("world          running (pid "),
        "{}",
        stdout(&st)
    );
    assert!(stdout(&st).contains("faults         none"));
    let out = sandbox(&home, &["down", "--dir", d]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("ok: the sandbox in {d} is down")));
    assert!(!dir.exists());
    assert!(!is_ours(state.emulator.pid, &state.emulator.marker));
    assert!(!is_ours(state.http.pid, &state.http.marker));
    assert!(!is_ours(gh.pid, &gh.marker), "the GitHub outlived down");
    let w = state.world.as_ref().expect("the world was recorded");
    assert!(!is_ours(w.pid, &w.marker));
    let out = sandbox(&home, &["env", "--dir", d]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains(&format!("error: no sandbox is up in {d}\nhelp: start one with `login-release sandbox up --dir {d}`")), "{}", stderr(&out));
    let out = sandbox(&home, &["down", "--dir", d]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("nothing to do"));
    let st = sandbox(&home, &["status", "--dir", d]);
    assert_eq!(st.status.code(), Some(3));
    assert!(stderr(&st).contains(&format!("error: no sandbox is up in {d}")));
}

#[test]
fn sandbox_commands_refuse_real_endpoints() {
    let home = tempfile::tempdir().unwrap();
    for endpoint in [None, Some("https://autoscaling.us-west-2.amazonaws.com")] {
        let mut c = crate::support::cmd(home.path());
        if let Some(e) = endpoint {
            c.env("AWS_ENDPOINT_URL", e);
        }
        let out = c.args(["sandbox", "seed", "bench"]).output().unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert!(
            stderr(&out).contains("error: `sandbox seed` only acts on the sandbox's emulator"),
            "{}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(
            "help: point the shell at the sandbox first: eval \"$(login-release sandbox env)\""
        ));
    }
}

#[test]
fn sandbox_up_refuses_a_directory_that_is_not_a_sandbox() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("precious.txt"), "keep me").unwrap();
    let out = sandbox(tmp.path(), &["up", "--dir", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("exists and is not a sandbox"));
    assert!(tmp.path().join("precious.txt").exists());
}

/// A sandbox that is up, with the commands of a shell that ran `eval "$(sandbox env)"`, and SDK
/// clients on its emulator to watch the world. Brought down when dropped.
struct Up {
    _tmp: tempfile::TempDir,
    home: std::path::PathBuf,
    dir: std::path::PathBuf,
    state: login_release::sandbox::world::State,
    exports: Vec<(String, String)>,
    aws: login_release::aws::Aws,
    rt: tokio::runtime::Runtime,
}

impl Up {
    /// `sandbox up`, then the rehearsal's recycle delays shortened through the sandbox's own
    /// config layer (the file `LOGIN_RELEASE_CONFIG` points at), as a user would edit it.
    fn start() -> Up {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let dir = tmp.path().join("sb");
        let out = sandbox(&home, &["up", "--dir", dir.to_str().unwrap()]);
        crate::support::assert_success(&out);
        let state = login_release::sandbox::world::State::load(&dir)
            .unwrap()
            .unwrap();
        let env = sandbox(&home, &["env", "--dir", dir.to_str().unwrap()]);
        let exports = stdout(&env)
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
            .collect();
        let config = dir.join("config.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(text.contains("spindown_delay = \"20s\""), "{text}");
        std::fs::write(
            &config,
            text.replace("spindown_delay = \"20s\"", "spindown_delay = \"8s\""),
        )
        .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let aws = rt
            .block_on(login_release::aws::Aws::for_endpoint(
                &state.emulator.url,
                "us-west-2",
            ))
            .unwrap();
        Up {
            _tmp: tmp,
            home,
            dir,
            state,
            exports,
            aws,
            rt,
        }
    }

    fn d(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    /// A login-release command in the sandbox's shell.
    fn run(&self, args: &[&str]) -> std::process::Output {
        let mut c = crate::support::cmd(&self.home);
        for (k, v) in &self.exports {
            c.env(k, v);
        }
        c.env("LOGIN_RELEASE_MOTO_PYTHON", moto_python());
        c.args(args).output().unwrap()
    }

    fn sandbox(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["sandbox"];
        all.extend_from_slice(args);
        all.extend(["--dir", self.d()]);
        self.run(&all)
    }

    fn group(&self, name: &str) -> login_release::aws::fleet::Group {
        self.rt
            .block_on(self.aws.describe_groups(&[name.to_string()]))
            .unwrap()
            .remove(0)
    }

    /// The `gitsha:idp` tag of each instance of a group, by id.
    fn shas(&self, group: &str) -> std::collections::BTreeMap<String, String> {
        let ids: Vec<String> = self
            .group(group)
            .instances
            .into_iter()
            .map(|i| i.id)
            .collect();
        self.rt
            .block_on(self.aws.describe_instances(&ids))
            .unwrap()
            .into_iter()
            .map(|i| {
                let sha = i.tags.get("gitsha:idp").cloned().unwrap_or_default();
                (i.id, sha)
            })
            .collect()
    }

    fn world(&self) -> login_release::sandbox::sim::WorldStatus {
        login_release::sandbox::sim::WorldStatus::load(&self.dir)
            .unwrap()
            .expect("the world writes its status")
    }

    fn traffic(&self) -> login_release::sandbox::traffic::Traffic {
        login_release::sandbox::traffic::Traffic::load(&self.dir).unwrap()
    }

    /// A release merged into stages/prod on the sandbox's origin: its new sha.
    fn merge_release(&self) -> String {
        let repo = self.dir.join("repo");
        git_out(
            &repo,
            &["checkout", "-q", "-B", "stages/prod", "origin/stages/prod"],
        );
        git_out(
            &repo,
            &[
                "-c",
                "user.name=Reviewer",
                "-c",
                "user.email=r@example.gov",
                "merge",
                "-q",
                "--no-ff",
                "-m",
                "Merge the release",
                "main",
            ],
        );
        git_out(&repo, &["push", "-q", "origin", "stages/prod"]);
        git_out(&repo, &["rev-parse", "stages/prod"])
    }

    fn set_desired(&self, group: &str, n: i32) {
        self.rt
            .block_on(
                self.aws
                    .autoscaling
                    .set_desired_capacity()
                    .auto_scaling_group_name(group)
                    .desired_capacity(n)
                    .send(),
            )
            .unwrap();
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if self.dir.exists() {
            let _ = sandbox(&self.home, &["down", "--dir", self.d()]);
        }
    }
}

/// Polls `f` every 250 ms until it gives a value, failing after `secs` with `what`.
fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(secs),
            "waited {secs}s for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// The runbook's recycle with nobody playing the world: the scheduled actions run at their
/// time, the new instances carry the release's sha and turn healthy, the migration instance's
/// log ends in the success marker, and the unprotected old instances go.
#[test]
fn sandbox_world_plays_a_recycle_by_itself() {
    use login_release::aws::fleet::DELAYED_SCALE_OUT;
    use login_release::sandbox::sim::Phase;

    let up = Up::start();
    let old_sha = up.shas("prod-idp").into_values().next().unwrap();
    let new_sha = up.merge_release();
    assert_ne!(old_sha, new_sha);
    let old: Vec<String> = up.shas("prod-idp").into_keys().collect();
    assert_eq!(old.len(), 4);

    let out = up.run(&["asg-recycle", "prod", "idp", "--yes"]);
    crate::support::assert_success(&out);
    let scale_out_at = up
        .rt
        .block_on(up.aws.scheduled_actions(Some("prod-idp")))
        .unwrap()
        .into_iter()
        .find(|a| a.name == DELAYED_SCALE_OUT)
        .and_then(|a| a.start)
        .expect("the recycle scheduled its scale-out");

    // The migration instance provisions; watch-migration follows it to the success marker.
    let watched = up.run(&["watch-migration", "prod", "--timeout", "30s"]);
    assert_eq!(crate::support::code(&watched), 0, "{}", stderr(&watched));
    assert!(stdout(&watched).contains("db:migrate"));

    // The scale-out runs at its time, not before, and is deleted.
    wait_for(30, "the scale-out", || {
        (up.group("prod-idp").desired == 8).then_some(())
    });
    assert!(jiff::Timestamp::now() >= scale_out_at);
    let left = up
        .rt
        .block_on(up.aws.scheduled_actions(Some("prod-idp")))
        .unwrap();
    assert!(left.iter().all(|a| a.name != DELAYED_SCALE_OUT), "{left:?}");

    // The four new instances boot with the release's sha and turn healthy, in the group and in
    // the target group.
    let new: Vec<String> = wait_for(30, "four healthy new idp instances", || {
        let w = up.world();
        let new: Vec<String> = w
            .instances
            .iter()
            .filter(|(id, i)| i.group == "prod-idp" && !old.contains(id))
            .filter(|(_, i)| i.phase == Phase::Healthy)
            .map(|(id, _)| id.clone())
            .collect();
        (new.len() == 4).then_some(new)
    });
    let shas = up.shas("prod-idp");
    for id in &new {
        assert_eq!(shas[id], new_sha, "{id}");
    }
    for id in &old {
        assert_eq!(shas[id], old_sha, "{id}");
    }
    let g = up.group("prod-idp");
    assert!(g
        .instances
        .iter()
        .all(|i| i.lifecycle == "InService" && i.health == "Healthy"));
    let health = up
        .rt
        .block_on(up.aws.target_health(&g.target_group_arns))
        .unwrap();
    for id in &new {
        assert_eq!(health[id], ["healthy"], "{id}");
    }

    // After the scale-down the old instances are still protected: they stay until
    // scale-remove-old-instances removes their protection, then the world retires them.
    wait_for(30, "the scale-down", || {
        (up.group("prod-idp").desired == 4).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(up.group("prod-idp").instances.len(), 8);
    let out = up.run(&["scale-remove-old-instances", "prod", "ALL", "--yes"]);
    crate::support::assert_success(&out);
    let left = wait_for(20, "the old instances to go", || {
        let ids: Vec<String> = up
            .group("prod-idp")
            .instances
            .into_iter()
            .map(|i| i.id)
            .collect();
        (ids.len() == 4).then_some(ids)
    });
    let mut left = left;
    left.sort();
    let mut want = new.clone();
    want.sort();
    assert_eq!(left, want, "the old instances went, the new ones stayed");
    // The whole journal, not `status`'s last lines: the worker's retirements may follow at once.
    let journal = std::fs::read_to_string(up.dir.join("world.log")).unwrap();
    assert!(
        journal.contains("unprotected, above desired 4"),
        "{journal}"
    );

    // Traffic: the release's sha serves requests, logged in the idp's request log.
    let t = up.traffic();
    assert!(t.totals(&new_sha).0 > 0, "{:?}", t.by_sha.keys());
    let streams = up
        .rt
        .block_on(
            up.aws
                .logs
                .describe_log_streams()
                .log_group_name("prod_/srv/idp/shared/log/production.log")
                .send(),
        )
        .unwrap();
    assert!(streams.log_streams().len() >= 5, "{streams:?}");
}

/// Each fault shows where it should: an abandoned migration in watch-migration (exit 5), the
/// new sha's 5xx at exactly the rate asked, unhealthy new instances in the group and the
/// target group; `mend` clears them; a dead emulator stops the world and status says why; down
/// leaves no process behind.
#[test]
fn sandbox_faults_show_where_they_should() {
    use login_release::sandbox::sim::Phase;
    use login_release::sandbox::world::is_ours;

    let up = Up::start();
    let old_sha = up.shas("prod-idp").into_values().next().unwrap();
    for args in [
        &["break", "migration"][..],
        &["break", "errors", "--new-sha", "--rate", "20%"][..],
    ] {
        let out = up.sandbox(args);
        crate::support::assert_success(&out);
    }
    let st = up.sandbox(&["status"]);
    assert!(
        stdout(&st).contains("fault          migration: the next migration instance abandons"),
        "{}",
        stdout(&st)
    );
    assert!(
        stdout(&st).contains(&format!(
            "fault          errors: shas other than {} answer 20% of their requests with 5xx",
            &old_sha[..9]
        )),
        "{}",
        stdout(&st)
    );
    let bad = up.sandbox(&["break", "errors", "--rate", "120%"]);
    assert_eq!(crate::support::code(&bad), 2, "{}", stderr(&bad));

    let new_sha = up.merge_release();
    up.set_desired("prod-migration", 1);
    let watched = up.run(&["watch-migration", "prod", "--timeout", "30s"]);
    assert_eq!(crate::support::code(&watched), 5, "{}", stderr(&watched));
    assert!(
        stdout(&watched).contains("ABANDONED"),
        "{}",
        stdout(&watched)
    );

    // The new code errs at 20%, the old one not at all.
    up.set_desired("prod-idp", 5);
    wait_for(30, "the new sha's traffic", || {
        (up.traffic().totals(&new_sha).0 >= 50).then_some(())
    });
    let t = up.traffic();
    let (requests, errors) = t.totals(&new_sha);
    assert_eq!(errors, requests / 5, "{requests} requests");
    let (old_requests, old_errors) = t.totals(&old_sha);
    assert!(old_requests > 0);
    assert_eq!(old_errors, 0);

    // Health: the next new instance never turns healthy.
    let out = up.sandbox(&["break", "health"]);
    crate::support::assert_success(&out);
    up.set_desired("prod-idp", 6);
    let sick = wait_for(30, "an unhealthy instance", || {
        up.world()
            .instances
            .into_iter()
            .find(|(_, i)| i.phase == Phase::Unhealthy)
            .map(|(id, _)| id)
    });
    let g = up.group("prod-idp");
    let member = g.instances.iter().find(|i| i.id == sick).unwrap();
    assert_eq!(member.health, "Unhealthy");
    let health = up
        .rt
        .block_on(up.aws.target_health(&g.target_group_arns))
        .unwrap();
    assert_eq!(health[&sick], ["unhealthy"]);

    let out = up.sandbox(&["mend"]);
    crate::support::assert_success(&out);
    assert!(stdout(&out).contains("mended  health: new instances never turn healthy"));
    assert!(stdout(&up.sandbox(&["status"])).contains("faults         none"));

    // The emulator dies: the world stops and says why.
    let world = up.state.world.clone().unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &up.state.emulator.pid.to_string()])
        .status();
    wait_for(20, "the world to stop", || {
        (!is_ours(world.pid, &world.marker)).then_some(())
    });
    let st = up.sandbox(&["status"]);
    assert_eq!(crate::support::code(&st), 3);
    assert!(stderr(&st).contains("the AWS emulator and the world simulator are not running (the world stopped because the AWS emulator (pid"), "{}", stderr(&st));

    let out = up.sandbox(&["down"]);
    crate::support::assert_success(&out);
    let gh = up.state.github.as_ref().unwrap();
    for p in [&up.state.emulator, &up.state.http, &world, gh] {
        assert!(!is_ours(p.pid, &p.marker), "{} outlived down", p.marker);
    }
}

/// The promotion rehearsed against the sandbox's GitHub: `cut-rc --open-pr` opens the labelled
/// PR, `sandbox approve --merge` plays the reviewer and writes a real merge commit on origin,
/// `tag-release --github-release` finds it and publishes the release. Then the new code errs
/// and the monitor's Logs Insights queries answer with the world's rates: monitor-deploy FAILs.
#[test]
fn sandbox_rehearses_the_promotion_and_the_monitor_reads_the_world() {
    use login_release::monitor::insights::{self, Pace, Request};
    use login_release::monitor::queries;

    let up = Up::start();
    let repo = up.dir.join("repo");
    let r = repo.to_str().unwrap();
    let origin = up.dir.join("origin.git");
    let gh = login_release::sandbox::github::Remote::new(up.state.github.as_ref().unwrap().port);
    let old_sha = up.shas("prod-idp").into_values().next().unwrap();

    // Not merged yet: nothing to release.
    let out = up.run(&["-C", r, "cut-rc", "--open-pr", "--yes"]);
    crate::support::assert_success(&out);
    let state = gh.state().unwrap();
    let pulls = state["pulls"].as_object().unwrap();
    assert_eq!(pulls.len(), 1, "{state}");
    let (n, pr) = pulls.iter().next().unwrap();
    assert_eq!(
        pr["title"], "Deploy RC 112 to Prod",
        "the RC after the seeded RC 111"
    );
    assert_eq!(pr["base_ref"], "stages/prod");
    assert_eq!(pr["labels"][0], "status - promotion");
    let head = pr["head_ref"].as_str().unwrap().to_string();
    let out = up.run(&["-C", r, "tag-release", "--github-release", "--yes"]);
    assert_eq!(crate::support::code(&out), 3, "{}", stderr(&out));

    // A PR the sandbox's GitHub does not have; a PR that is not a number.
    let out = up.sandbox(&["approve", "99"]);
    assert_eq!(crate::support::code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error: the sandbox's GitHub answered 404 to POST /_sandbox/pulls/99/approve: Not Found"),
        "{}",
        stderr(&out)
    );
    assert_eq!(crate::support::code(&up.sandbox(&["approve", "next"])), 2);

    // The reviewer approves and merges: a two-parent merge commit on origin's stages/prod.
    let out = up.sandbox(&["approve", &format!("#{n}"), "--merge"]);
    crate::support::assert_success(&out);
    assert!(
        stdout(&out).contains(&format!("approved       #{n} as sandbox-reviewer")),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains(&format!(
        "merged         #{n} into stages/prod with a merge commit: "
    )));
    let parents = git_out(
        &origin,
        &["rev-list", "--parents", "-n", "1", "stages/prod"],
    );
    assert_eq!(parents.split_whitespace().count(), 3, "{parents}");
    assert_eq!(
        git_out(&origin, &["rev-parse", "stages/prod^2"]),
        git_out(&origin, &["rev-parse", &head])
    );
    let new_sha = git_out(&origin, &["rev-parse", "stages/prod"]);

    // tag-release tags the merge and publishes "RC 112" on the sandbox's GitHub.
    let out = up.run(&["-C", r, "tag-release", "--github-release", "--yes"]);
    crate::support::assert_success(&out);
    let state = gh.state().unwrap();
    let release = state["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "RC 112")
        .unwrap_or_else(|| panic!("RC 112 released: {state}"))
        .clone();
    let tag = release["tag_name"].as_str().unwrap();
    assert_eq!(
        git_out(&origin, &["rev-parse", &format!("{tag}^{{commit}}")]),
        new_sha
    );

    // The new code answers 20% of its requests with 5xx; one new idp instance runs it.
    let world = up.dir.join("world.toml");
    let text = std::fs::read_to_string(&world).unwrap();
    std::fs::write(
        &world,
        text.replace("requests_per_tick = 5", "requests_per_tick = 40"),
    )
    .unwrap();
    crate::support::assert_success(&up.sandbox(&["break", "errors", "--new-sha", "--rate", "20%"]));
    up.set_desired("prod-idp", 5);
    wait_for(60, "the new sha's traffic", || {
        (up.traffic().totals(&new_sha).0 >= 400).then_some(())
    });

    // The monitor's own queries, through its adapter, count what the world wrote.
    let now = jiff::Timestamp::now().as_second();
    let ask = |query: String, group: &str| {
        let req = Request {
            log_groups: vec![group.to_string()],
            start: now - 3600,
            end: now + 60,
            query,
        };
        let pace = Pace::new(
            std::time::Duration::from_millis(50),
            std::time::Duration::from_secs(30),
        );
        up.rt
            .block_on(insights::run(&up.aws.logs, &pace, &req))
            .unwrap()
            .rows
    };
    let rows = ask(
        queries::requests(),
        "prod_/srv/idp/shared/log/production.log",
    );
    let mut slice = queries::Slice::default();
    queries::read_requests(&rows, &mut slice).unwrap();
    use login_release::monitor::verdict::Metric;
    let new = slice.of(&new_sha).get(Metric::ServerErrors);
    let old = slice.of(&old_sha).get(Metric::ServerErrors);
    assert!(new.trials >= 400, "{rows:?}");
    assert!(
        new.events.abs_diff(new.trials / 5) <= 1,
        "20% of the new sha's requests err: {new:?}"
    );
    assert_eq!(old.events, 0, "{old:?}");
    assert!(old.trials > 0);
    assert_eq!(slice.instances[&new_sha], 1);
    assert_eq!(slice.instances[&old_sha], 4);
    let rows = ask(queries::events(), "prod_/srv/idp/shared/log/events.log");
    queries::read_events(&rows, &mut slice).unwrap();
    let mfa = slice.of(&old_sha).get(Metric::Mfa);
    assert!(mfa.trials > 0);
    assert!(
        mfa.events.abs_diff(mfa.trials * 9 / 10) <= 1,
        "90% of MFA attempts succeed: {mfa:?}"
    );

    // monitor-deploy, with the sandbox's settings, judges the new code and fails it.
    let out = up.run(&[
        "monitor-deploy",
        "prod",
        "idp",
        "--once",
        "--old-sha",
        &old_sha,
        "--new-sha",
        &new_sha,
    ]);
    assert_eq!(
        crate::support::code(&out),
        5,
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stderr(&out).contains("FAIL"), "{}", stderr(&out));
}
