//! Tests of the emulator fixture and the sandbox's fleet seeding.

use login_release::aws::fleet::RECYCLE_ONCE;
use login_release::sandbox::seed::FleetSpec;

use crate::support::moto::Moto;
use crate::support::{stderr, stdout};

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

fn git_out(dir: &std::path::Path, args: &[&str]) -> String {
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

struct DownOnDrop(std::path::PathBuf, std::path::PathBuf);

impl Drop for DownOnDrop {
    fn drop(&mut self) {
        if self.1.exists() {
            let _ = sandbox(&self.0, &["down", "--dir", self.1.to_str().unwrap()]);
        }
    }
}

#[test]
fn sandbox_up_env_scale_out_down() {
    use login_release::aws::fleet::DELAYED_SCALE_OUT;
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

    // scale-out: carries out the pending action, deletes it, and the group grows.
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
    let none = run(&["sandbox", "scale-out", "prod", "idp", "--yes"]);
    assert_eq!(none.status.code(), Some(3), "{}", stderr(&none));
    assert!(stderr(&none).contains(
        "error: prod-idp has no pending DelayedScaleOutOnce.asg-recycle action to carry out"
    ));
    rt.block_on(
        aws.autoscaling
            .put_scheduled_update_group_action()
            .auto_scaling_group_name("prod-idp")
            .scheduled_action_name(DELAYED_SCALE_OUT)
            .start_time(aws_smithy_types::DateTime::from_secs(4_000_000_000))
            .desired_capacity(8)
            .send(),
    )
    .unwrap();
    let grown = run(&["sandbox", "scale-out", "prod", "idp", "--yes"]);
    assert_eq!(grown.status.code(), Some(0), "{}", stderr(&grown));
    assert!(stdout(&grown).contains("1. UpdateAutoScalingGroup prod-idp: desired 4 -> 8 (what DelayedScaleOutOnce.asg-recycle would do at"));
    assert!(stdout(&grown).contains("prod-idp: desired 8, 8 instances"));
    let g = rt
        .block_on(aws.describe_groups(&["prod-idp".to_string()]))
        .unwrap();
    assert_eq!(g[0].desired, 8);
    assert_eq!(g[0].instances.len(), 8);
    let left = rt
        .block_on(aws.scheduled_actions(Some("prod-idp")))
        .unwrap();
    assert!(left.is_empty(), "{left:?}");

    // status, then down: processes gone, directory gone; down again is a no-op.
    let st = sandbox(&home, &["status", "--dir", d]);
    assert_eq!(st.status.code(), Some(0), "{}", stderr(&st));
    let out = sandbox(&home, &["down", "--dir", d]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("ok: the sandbox in {d} is down")));
    assert!(!dir.exists());
    assert!(!is_ours(state.emulator.pid, &state.emulator.marker));
    assert!(!is_ours(state.http.pid, &state.http.marker));
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
        let out = c
            .args(["sandbox", "scale-out", "prod", "idp", "8", "--yes"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert!(
            stderr(&out).contains("error: `sandbox scale-out` only acts on the sandbox's emulator"),
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

/// `sandbox retire` does what AWS does after scale-remove-old-instances: the unprotected
/// instances above desired go, the protected ones and the desired capacity stay.
#[test]
fn sandbox_retire_terminates_only_unprotected_surplus() {
    let moto = Moto::start();
    moto.seed(&FleetSpec::prod_shaped("prod", &"a".repeat(40)));
    let home = tempfile::tempdir().unwrap();
    let groups = moto
        .block_on(moto.aws.describe_groups(&["prod-idp".to_string()]))
        .unwrap();
    let old: Vec<String> = groups[0].instances.iter().map(|i| i.id.clone()).collect();
    // The recycle's result: 8 instances for desired 4, the old 4 unprotected.
    moto.block_on(
        moto.aws
            .autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name("prod-idp")
            .desired_capacity(8)
            .send(),
    )
    .unwrap();
    moto.block_on(
        moto.aws
            .autoscaling
            .set_instance_protection()
            .auto_scaling_group_name("prod-idp")
            .set_instance_ids(Some(old.clone()))
            .protected_from_scale_in(false)
            .send(),
    )
    .unwrap();
    moto.block_on(
        moto.aws
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name("prod-idp")
            .desired_capacity(4)
            .send(),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut c = crate::support::cmd(home.path());
        moto.env(&mut c);
        c.args(args).output().unwrap()
    };
    let out = run(&["sandbox", "retire", "prod", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let g = &moto
        .block_on(moto.aws.describe_groups(&["prod-idp".to_string()]))
        .unwrap()[0];
    assert_eq!(g.desired, 4);
    let left: Vec<&str> = g.instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(left.len(), 4, "{left:?}");
    assert!(
        left.iter().all(|id| !old.iter().any(|o| o == id)),
        "an old instance stayed: {left:?}"
    );
    assert!(g.instances.iter().all(|i| i.protected));
    let again = run(&["sandbox", "retire", "prod", "--yes"]);
    assert!(again.status.success());
    assert!(
        stderr(&again).contains("nothing to retire in prod"),
        "{}",
        stderr(&again)
    );
}

/// `sandbox provision` writes what a provisioning migration instance would, so watch-migration
/// can be rehearsed: the success marker ends it with 0, an abandoned provision with 5.
#[test]
fn sandbox_provision_feeds_watch_migration() {
    let moto = Moto::start();
    moto.seed(&FleetSpec::prod_shaped("prod", &"a".repeat(40)));
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut c = crate::support::cmd(home.path());
        moto.env(&mut c);
        c.args(args).output().unwrap()
    };
    let none = run(&["sandbox", "provision", "prod", "--yes"]);
    assert_eq!(none.status.code(), Some(3));
    assert!(
        stderr(&none).contains("error: prod-migration has no running instance to provision"),
        "{}",
        stderr(&none)
    );
    moto.block_on(
        moto.aws
            .autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name("prod-migration")
            .desired_capacity(1)
            .send(),
    )
    .unwrap();
    let out = run(&["sandbox", "provision", "prod", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let watched = run(&["watch-migration", "prod", "--timeout", "30s"]);
    assert_eq!(watched.status.code(), Some(0), "{}", stderr(&watched));
    assert!(stdout(&watched).contains("db:migrate"));
    // A second instance that fails: the newest one is followed.
    next_second();
    moto.block_on(
        moto.aws
            .autoscaling
            .set_desired_capacity()
            .auto_scaling_group_name("prod-migration")
            .desired_capacity(2)
            .send(),
    )
    .unwrap();
    let out = run(&["sandbox", "provision", "prod", "--fail", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let watched = run(&["watch-migration", "prod", "--timeout", "30s"]);
    assert_eq!(watched.status.code(), Some(5), "{}", stderr(&watched));
}

fn next_second() {
    // Instances launched in the same second share a launch time; "newest" needs a later one.
    std::thread::sleep(std::time::Duration::from_millis(1100));
}

/// `sandbox scale-out --gitsha` tags what the scale-out launches, so old and new instances show
/// different shas in ls-servers, as in production.
#[test]
fn sandbox_scale_out_tags_the_new_instances_with_the_release_sha() {
    let moto = Moto::start();
    let old_sha = "a".repeat(40);
    let new_sha = "b".repeat(40);
    moto.seed(&FleetSpec::prod_shaped("prod", &old_sha));
    let home = tempfile::tempdir().unwrap();
    let mut c = crate::support::cmd(home.path());
    moto.env(&mut c);
    let out = c
        .args([
            "sandbox",
            "scale-out",
            "prod",
            "idp",
            "6",
            "--gitsha",
            &new_sha,
            "--yes",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let g = &moto
        .block_on(moto.aws.describe_groups(&["prod-idp".to_string()]))
        .unwrap()[0];
    let ids: Vec<String> = g.instances.iter().map(|i| i.id.clone()).collect();
    let instances = moto.block_on(moto.aws.describe_instances(&ids)).unwrap();
    let count = |sha: &str| {
        instances
            .iter()
            .filter(|i| i.tags.get("gitsha:idp").map(String::as_str) == Some(sha))
            .count()
    };
    assert_eq!((count(&old_sha), count(&new_sha)), (4, 2));
}
