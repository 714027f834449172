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
