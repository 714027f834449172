use super::*;

fn load(user: Option<&str>, repo: Option<&str>, env: &[(&str, &str)]) -> Result<Config> {
    let dir = tempfile::tempdir().unwrap();
    let mut loc = Locations::default();
    if let Some(u) = user {
        let p = dir.path().join("user.toml");
        std::fs::write(&p, u).unwrap();
        loc.user_file = Some(p);
    }
    if let Some(r) = repo {
        let p = dir.path().join("repo.toml");
        std::fs::write(&p, r).unwrap();
        loc.repo_file = Some(p);
    }
    Config::load_from(
        &loc,
        env.iter().map(|(a, b)| (a.to_string(), b.to_string())),
    )
}

#[test]
fn defaults_are_login_gov() {
    let c = Config::defaults();
    assert_eq!(c.settings.asg_name("prod", "idp"), "prod-idp");
    assert_eq!(c.settings.migration_group("prod"), "prod-migration");
    assert_eq!(c.settings.instance_name("prod", "idp"), "asg-prod-idp");
    assert_eq!(c.settings.vpc_name("int"), "login-vpc-int");
    assert_eq!(
        c.settings.ssm_document("prod", "passenger-restart"),
        "prod-ssm-cmd-passenger-restart"
    );
    assert_eq!(
        c.settings.cloud_init_log_group("prod"),
        "prod_/var/log/cloud-init-output.log"
    );
    assert_eq!(c.settings.pr_title("112.1"), "Deploy RC 112.1 to Prod");
    assert_eq!(c.settings.release_title("112"), "RC 112");
    assert_eq!(
        c.settings.tag_message("2023-11-21T184808"),
        "2023-11-21T184808 release"
    );
    assert!(c.settings.is_production("prod"));
    assert!(!c.settings.is_production("staging"));
    let m = &c.settings.monitor;
    assert_eq!(
        m.request_log_group("prod", "idp").as_deref(),
        Some("prod_/srv/idp/shared/log/production.log")
    );
    assert_eq!(
        m.event_log_group("prod", "idp").as_deref(),
        Some("prod_/srv/idp/shared/log/events.log")
    );
    assert_eq!(m.request_log_group("prod", "pivcac"), None);
    assert_eq!(
        m.thresholds(),
        crate::monitor::verdict::Thresholds::default()
    );
    assert_eq!(m.alpha, 0.05);
    assert_eq!(m.ingestion_lag.as_secs(), 120);
    assert_eq!(m.query_timeout.as_secs(), 120);
    let d = &c.settings.deploy;
    assert_eq!(d.days, vec!["tue", "thu"]);
    assert_eq!(d.freeze, vec!["12-25..01-01"]);
    assert_eq!(d.time_zone, "America/New_York");
    assert_eq!(d.soak.as_secs(), 3600);
    assert_eq!(
        c.settings.deploy_record_ref("prod"),
        "refs/login-release/deploys/prod"
    );
    assert_eq!(c.settings.recycle.spinup_delay.as_secs(), 300);
    assert_eq!(c.settings.recycle.spindown_delay.as_secs(), 600);
}

#[test]
fn typed_values_parse_at_load_and_a_bad_one_names_its_key_and_layer() {
    // Durations and numbers are read from files and the environment by their type.
    let c = load(
        Some("[recycle]\nspinup_delay = \"90s\"\n[monitor]\nmin_requests = 10\nalpha = 0.01\n"),
        None,
        &[
            ("LOGIN_RELEASE_DEPLOY_SOAK", "1h30m"),
            ("LOGIN_RELEASE_MONITOR_ALLOWED_5XX_POINTS", "0.5"),
        ],
    )
    .unwrap();
    assert_eq!(c.settings.recycle.spinup_delay.as_secs(), 90);
    assert_eq!(c.settings.monitor.min_requests, 10);
    assert_eq!(c.settings.monitor.alpha, 0.01);
    assert_eq!(c.settings.deploy.soak.as_secs(), 5400);
    assert_eq!(c.settings.monitor.allowed_5xx_points, 0.5);
    // (user file, environment, expected error)
    type Case<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (
            Some("[deploy]\nsoak = \"soon\"\n"),
            &[],
            "`deploy.soak` in USER must be a duration",
        ),
        (
            None,
            &[("LOGIN_RELEASE_DEPLOY_SOAK", "soon")],
            "LOGIN_RELEASE_DEPLOY_SOAK=\"soon\": `soon` is not a duration",
        ),
        (
            None,
            &[("LOGIN_RELEASE_MONITOR_ALPHA", "lots")],
            "LOGIN_RELEASE_MONITOR_ALPHA=\"lots\": must be a number",
        ),
        (
            Some("[monitor]\nmin_requests = 1.5\n"),
            &[],
            "`monitor.min_requests` in USER must be a whole number",
        ),
        (
            Some("[monitor]\nalpha = 0.9\n"),
            &[],
            "`monitor.alpha` in USER must be a number above 0 and at most 0.5",
        ),
        (
            None,
            &[("LOGIN_RELEASE_MONITOR_QUERY_TIMEOUT", "0s")],
            "`monitor.query_timeout` in LOGIN_RELEASE_MONITOR_QUERY_TIMEOUT must be longer than 0s",
        ),
        (
            None,
            &[("LOGIN_RELEASE_MONITOR_ALLOWED_5XX_POINTS", "200")],
            "`monitor.allowed_5xx_points` in LOGIN_RELEASE_MONITOR_ALLOWED_5XX_POINTS must be a number from 0 to 100",
        ),
    ];
    for (user, env, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("user.toml");
        let mut loc = Locations::default();
        if let Some(text) = user {
            std::fs::write(&file, text).unwrap();
            loc.user_file = Some(file.clone());
        }
        let env = env.iter().map(|(a, b)| (a.to_string(), b.to_string()));
        let e = Config::load_from(&loc, env).unwrap_err();
        let r = crate::error::report(&e);
        assert_eq!(r.code, 3, "{want}");
        let want = want.replace("USER", &file.display().to_string());
        assert!(r.message.starts_with(&want), "{} <> {want}", r.message);
        assert!(!r.message.contains('\n'), "one line: {}", r.message);
    }
}

#[test]
fn layers_override_in_order() {
    let c = load(
        Some("[git]\nremote = \"upstream\"\nmain_branch = \"trunk\"\n"),
        Some("[git]\nremote = \"repo\"\n"),
        &[
            ("LOGIN_RELEASE_GIT_MAIN_BRANCH", "dev"),
            ("LOGIN_RELEASE_PRODUCTION", "prod, staging"),
        ],
    )
    .unwrap();
    assert_eq!(c.settings.git.remote, "repo");
    assert_eq!(c.settings.git.main_branch, "dev");
    assert_eq!(c.settings.production, vec!["prod", "staging"]);
    assert!(matches!(
        c.source_of("git.remote"),
        Some(Source::RepoFile(_))
    ));
    assert!(matches!(
        c.source_of("git.main_branch"),
        Some(Source::Env(_))
    ));
    assert_eq!(c.source_of("naming.asg"), Some(&Source::Default));
}

#[test]
fn unknown_keys_are_errors_with_a_guess() {
    let e = load(None, Some("[git]\nremot = \"x\"\n"), &[]).unwrap_err();
    let r = crate::error::report(&e);
    assert_eq!(r.code, 3);
    assert!(r.message.contains("git.remot"), "{}", r.message);
    assert!(r.hint.unwrap().contains("git.remote"));
}

#[test]
fn wrong_types_are_errors() {
    assert!(load(None, Some("roles = \"idp\"\n"), &[]).is_err());
    assert!(load(None, None, &[("LOGIN_RELEASE_GIT_FETCH_WITH_CLI", "maybe")]).is_err());
}

#[test]
fn unknown_env_is_a_warning() {
    let c = load(None, None, &[("LOGIN_RELEASE_GIT_REMOTES", "x")]).unwrap();
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("LOGIN_RELEASE_GIT_REMOTE"));
}

#[test]
fn secrets_are_not_listed() {
    let c = load(
        None,
        None,
        &[(
            "LOGIN_RELEASE_SLACK_WEBHOOK",
            "https://hooks.example/T/secret",
        )],
    )
    .unwrap();
    let e = c
        .entries()
        .into_iter()
        .find(|e| e.key == "slack.webhook")
        .unwrap();
    assert!(e.value.is_none());
    assert_eq!(e.secret_set, Some(true));
    assert!(!format!("{:?}", c.settings).contains("secret"));
}

#[test]
fn the_repository_file_may_not_set_guarded_keys() {
    for (text, key) in [
        ("production = []\n", "production"),
        (
            "[slack]\nwebhook = \"https://hooks.example/x\"\n",
            "slack.webhook",
        ),
        (
            "[github]\napi_url = \"http://127.0.0.1:1\"\n",
            "github.api_url",
        ),
        (
            "trust_repo_config = [\"production\"]\n",
            "trust_repo_config",
        ),
    ] {
        let e = load(None, Some(text), &[]).unwrap_err();
        let r = crate::error::report(&e);
        assert_eq!(r.code, 3, "{key}");
        assert!(
            r.message.contains(&format!("sets `{key}`")),
            "{}",
            r.message
        );
        assert!(r.hint.unwrap().contains("config.toml"), "{key}");
    }
    // The same keys are the user's to set, in their file or environment.
    let c = load(
        Some("production = [\"prod\", \"int\"]\n"),
        None,
        &[("LOGIN_RELEASE_GITHUB_API_URL", "http://127.0.0.1:1")],
    )
    .unwrap();
    assert!(c.settings.is_production("int"));
    assert_eq!(c.settings.github.api_url, "http://127.0.0.1:1");
}

#[test]
fn the_user_can_trust_the_repository_with_a_guarded_key() {
    let repo = "[github]\napi_url = \"http://127.0.0.1:1\"\n";
    let c = load(
        Some("trust_repo_config = [\"github.api_url\"]\n"),
        Some(repo),
        &[],
    )
    .unwrap();
    assert_eq!(c.settings.github.api_url, "http://127.0.0.1:1");
    assert!(matches!(
        c.source_of("github.api_url"),
        Some(Source::RepoFile(_))
    ));
    // Trusting one key trusts only that one.
    let both = format!("{repo}[slack]\nwebhook = \"https://hooks.example/x\"\n");
    let e = load(
        Some("trust_repo_config = [\"github.api_url\"]\n"),
        Some(&both),
        &[],
    )
    .unwrap_err();
    assert!(crate::error::report(&e).message.contains("`slack.webhook`"));
    // The environment may trust too (it is the user's), and a misspelt key is refused.
    let c = load(
        None,
        Some(repo),
        &[("LOGIN_RELEASE_TRUST_REPO_CONFIG", "github.api_url")],
    )
    .unwrap();
    assert_eq!(c.settings.github.api_url, "http://127.0.0.1:1");
    let e = load(Some("trust_repo_config = [\"github.api_ur\"]\n"), None, &[]).unwrap_err();
    let r = crate::error::report(&e);
    assert_eq!(r.code, 3);
    assert!(r.hint.unwrap().contains("did you mean `github.api_url`"));
}

#[test]
fn every_key_is_described_once_from_the_structs() {
    let keys: Vec<&str> = super::settings::keys()
        .iter()
        .map(|d| d.key.as_str())
        .collect();
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), keys.len());
    assert_eq!(keys[0], "environments");
    assert!(keys.contains(&"git.fetch_with_cli"));
    assert!(keys.contains(&"monitor.query_timeout"));
    assert!(keys.contains(&"deploy.record_ref"));
    assert!(
        super::settings::keys().iter().all(|d| !d.help.is_empty()),
        "a key without help"
    );
    let flagged = |f: fn(&keys::Flags) -> bool| -> Vec<&str> {
        super::settings::keys()
            .iter()
            .filter(|d| f(&d.flags))
            .map(|d| d.key.as_str())
            .collect()
    };
    assert_eq!(flagged(|f| f.secret), ["slack.webhook"]);
    assert_eq!(
        flagged(|f| f.guarded),
        [
            "production",
            "github.api_url",
            "slack.webhook",
            "deploy.checks",
            "trust_repo_config"
        ]
    );
}
