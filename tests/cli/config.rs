use crate::support::{cmd, stderr, stdout};

#[test]
fn config_lists_defaults_and_sources() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path()).args(["config"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("naming.asg"), "{text}");
    assert!(text.contains("{env}-{role}"), "{text}");
    assert!(text.contains("default"), "{text}");
}

#[test]
fn config_reports_each_layer() {
    let home = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".config/login-release")).unwrap();
    std::fs::write(
        home.path().join(".config/login-release/config.toml"),
        "[git]\nremote = \"upstream\"\n",
    )
    .unwrap();
    std::fs::write(
        repo.path().join(".login-release.toml"),
        "[git]\nmain_branch = \"trunk\"\n",
    )
    .unwrap();
    let out = cmd(home.path())
        .arg("-C")
        .arg(repo.path())
        .args(["config", "--output", "json"])
        .env(
            "LOGIN_RELEASE_SLACK_WEBHOOK",
            "https://hooks.slack.invalid/services/T000/B000/SECRETVALUE",
        )
        .env("LOGIN_RELEASE_PRODUCTION", "prod,staging")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("SECRETVALUE"), "secret printed: {text}");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["schema_version"], 1);
    let find = |k: &str| {
        doc["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == k)
            .unwrap()
            .clone()
    };
    assert_eq!(find("git.remote")["value"], "upstream");
    assert_eq!(find("git.remote")["source"]["kind"], "user_file");
    assert_eq!(find("git.main_branch")["value"], "trunk");
    assert_eq!(find("git.main_branch")["source"]["kind"], "repo_file");
    assert_eq!(
        find("production")["source"]["at"],
        "LOGIN_RELEASE_PRODUCTION"
    );
    assert_eq!(find("slack.webhook")["secret_set"], true);
}

#[test]
fn unknown_key_in_a_file_is_a_preflight_error() {
    let home = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(
        repo.path().join(".login-release.toml"),
        "[naming]\nasgg = \"x\"\n",
    )
    .unwrap();
    let out = cmd(home.path())
        .arg("-C")
        .arg(repo.path())
        .arg("config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: unknown setting `naming.asgg`"),
        "{err}"
    );
    assert!(err.contains("help: did you mean `naming.asg`?"), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
}

#[test]
fn usage_errors_exit_two() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path()).args(["no-such-command"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn row_formats_only_where_a_command_has_rows() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path())
        .args(["config", "--output", "tsv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    assert_eq!(
        stderr(&out),
        "error: --output tsv is not available for this command\n\
         help: use --output text or --output json (tsv: ls-servers, tail-logs, ssm-command; ids: ls-servers)\n"
    );
}

#[test]
fn no_region_is_one_error_line_without_sdk_noise() {
    let home = tempfile::tempdir().unwrap();
    let out = cmd(home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.path().join("none"))
        .args(["asg-size", "prod", "idp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stderr(&out),
        "error: no AWS region is configured\n\
         help: set AWS_REGION (login.gov uses us-west-2), or run under `aws-vault exec <profile> --`\n"
    );
}

/// `config`'s table, its JSON document and one key, under a snapshot
/// (`tests/cli/config/layers.txt`): every key in order, each value as its layer wrote it, and
/// the layer. Accept a reviewed change with `SNAPSHOTS=overwrite cargo test --test cli config::`.
#[test]
fn config_prints_every_setting_value_and_layer() {
    let home = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".config/login-release")).unwrap();
    std::fs::write(
        home.path().join(".config/login-release/config.toml"),
        "[git]\nremote = \"upstream\"\n[recycle]\nspinup_delay = \"90s\"\n",
    )
    .unwrap();
    std::fs::write(
        repo.path().join(".login-release.toml"),
        "[git]\nmain_branch = \"trunk\"\n[monitor]\nalpha = 0.01\nmin_requests = 500\n",
    )
    .unwrap();
    let env = [
        ("LOGIN_RELEASE_PRODUCTION", "prod,staging"),
        (
            "LOGIN_RELEASE_SLACK_WEBHOOK",
            "https://hooks.slack.invalid/services/T000/B000/SECRETVALUE",
        ),
        ("LOGIN_RELEASE_DEPLOY_SOAK", "2h"),
    ];
    let mut transcript = String::new();
    for args in [
        &["config"][..],
        &["config", "--output", "json"],
        &["config", "recycle.spinup_delay"],
    ] {
        let mut c = cmd(home.path());
        c.arg("-C").arg(repo.path()).args(args).envs(env);
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(!stdout(&out).contains("SECRETVALUE"), "secret printed");
        transcript.push_str(&format!(
            "$ login-release {}\n{}--- stderr\n{}\n",
            args.join(" "),
            stdout(&out),
            stderr(&out)
        ));
    }
    let mut redactions = snapbox::Redactions::new();
    for (placeholder, dir) in [("[HOME]", home.path()), ("[REPO]", repo.path())] {
        let real = dir.canonicalize().unwrap();
        for p in [dir.to_path_buf(), real] {
            redactions
                .insert(placeholder, p.display().to_string())
                .unwrap();
        }
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/config/layers.txt");
    snapbox::Assert::new().action_env("SNAPSHOTS").eq(
        redactions.redact(&transcript),
        snapbox::Data::read_from(&path, None).raw(),
    );
}

/// A value of the right form but the wrong type, or out of bounds, fails every command before
/// it acts: one line naming the key and where it was set.
#[test]
fn a_bad_typed_value_is_one_error_naming_the_key_and_its_layer() {
    let home = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    let file = repo.path().join(".login-release.toml");
    for (text, env, want) in [
        (
            "[deploy]\nsoak = \"soon\"\n",
            None,
            format!(
                "error: `deploy.soak` in {} must be a duration (like 90s, 15m or 1h30m)\nhelp: default: \"1h\"\n",
                file.display()
            ),
        ),
        (
            "",
            Some(("LOGIN_RELEASE_RECYCLE_SPINDOWN_DELAY", "later")),
            "error: LOGIN_RELEASE_RECYCLE_SPINDOWN_DELAY=\"later\": `later` is not a duration (like 90s, 15m or 1h30m)\nhelp: fix or unset the variable\n".to_string(),
        ),
        (
            "[monitor]\nalpha = 0.9\n",
            None,
            format!(
                "error: `monitor.alpha` in {} must be a number above 0 and at most 0.5\nhelp: default: 0.05\n",
                file.display()
            ),
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let mut c = cmd(home.path());
        c.arg("-C").arg(repo.path()).args(["asg-size", "prod", "idp"]);
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert_eq!(stderr(&out), want);
        assert!(stdout(&out).is_empty());
    }
}
