//! The settings themselves: the typed structs, their login.gov defaults and the helpers that read
//! them. `config` layers and loads them; `layers` checks a file against [`keys`].

use std::fmt;
use std::sync::OnceLock;

use super::keys::{self, settings, KeyDoc};
use crate::types::HumanDuration;

settings! {
    /// The typed settings commands read.
    #[derive(Debug)]
    pub struct Settings {
        /// environment names offered by completion
        pub environments: Vec<String> = ["prod", "staging", "int", "dev"],
        /// environments that ask to type their name before a change
        pub production: Vec<String> = ["prod"] => guarded,
        /// roles offered by completion and accepted without a warning
        pub roles: Vec<String> = ["idp", "worker", "migration", "pivcac", "analytics", "outboundproxy"],
        /// `[naming]`
        pub naming: Naming = Naming::default(),
        /// `[ssm]`
        pub ssm: Ssm = Ssm::default(),
        /// `[recycle]`
        pub recycle: Recycle = Recycle::default(),
        /// `[git]`
        pub git: Git = Git::default(),
        /// `[release]`
        pub release: Release = Release::default(),
        /// `[staging]`
        pub staging: Staging = Staging::default(),
        /// `[github]`
        pub github: Github = Github::default(),
        /// `[slack]`
        pub slack: Slack = Slack::default(),
        /// `[migration]`
        pub migration: Migration = Migration::default(),
        /// `[monitor]`
        pub monitor: Monitor = Monitor::default(),
        /// `[deploy]`
        pub deploy: Deploy = Deploy::default(),
        /// guarded keys (production, github.api_url, slack.webhook, deploy.checks) a repository's .login-release.toml may set; read only from your own config or environment
        pub trust_repo_config: Vec<String> = [] => guarded,
    }
}

settings! {
    #[derive(Debug)]
    pub struct Naming {
        /// Auto Scaling Group name
        pub asg: String = "{env}-{role}",
        /// the migration Auto Scaling Group
        pub migration_group: String = "{env}-migration",
        /// instance Name tag
        pub instance_name: String = "asg-{env}-{role}",
        /// VPC Name tag of an environment
        pub vpc_name: String = "login-vpc-{env}",
        /// SSM command document
        pub ssm_document: String = "{env}-ssm-cmd-{name}",
        /// CloudWatch log group of cloud-init output (stream = instance id)
        pub cloud_init_log_group: String = "{env}_/var/log/cloud-init-output.log",
        /// CloudWatch log group SSM commands send their output to
        pub ssm_output_log_group: String = "aws-ssm-sessions-{env}",
        /// group tag keys that leave a group out of ALL
        pub skip_tags: Vec<String> = ["utility", "stateful"],
    }
}

settings! {
    #[derive(Debug)]
    pub struct Ssm {
        /// SSM documents (short names) refused in production without --allow-prod, however invoked
        pub guarded_documents: Vec<String> = ["passenger-restart"],
    }
}

settings! {
    #[derive(Debug)]
    pub struct Recycle {
        /// roles whose recycle runs a migration instance first
        pub migration_roles: Vec<String> = ["idp", "worker", "migration", "analytics"],
        /// head start the migration instance gets before the scale-out
        pub spinup_delay: HumanDuration = "5m",
        /// time from the scale-out to the return to normal size
        pub spindown_delay: HumanDuration = "10m",
    }
}

settings! {
    #[derive(Debug)]
    pub struct Git {
        /// remote to fetch from and push to
        pub remote: String = "origin",
        /// branch staging deploys from
        pub main_branch: String = "main",
        /// branch production deploys from
        pub prod_branch: String = "stages/prod",
        /// prefix of RC branch names (followed by YYYY-MM-DD)
        pub rc_branch_prefix: String = "stages/rc-",
        /// run fetch and push through the `git` program (uses your ssh config and credential helpers)
        pub fetch_with_cli: bool = false,
    }
}

settings! {
    #[derive(Debug)]
    pub struct Release {
        /// promotion PR title
        pub pr_title: String = "Deploy RC {rc} to Prod",
        /// promotion PR label
        pub pr_label: String = "status - promotion",
        /// GitHub release title
        pub title: String = "RC {rc}",
        /// signed tag message
        pub tag_message: String = "{tag} release",
    }
}

settings! {
    #[derive(Debug)]
    pub struct Staging {
        /// staging deploy.json of the idp app
        pub idp: String = "https://idp.staging.login.gov/api/deploy.json",
        /// staging deploy.json of the pki app
        pub pki: String = "https://checking-deploy.pivcac.staging.login.gov/api/deploy.json",
    }
}

settings! {
    #[derive(Debug)]
    pub struct Github {
        /// owner/name; empty: GITHUB_REPOSITORY, else origin's URL
        pub repository: String = "",
        /// GitHub REST API base (GITHUB_API_URL overrides)
        pub api_url: String = "https://api.github.com" => guarded,
        /// base of PR links in the changelog; empty: from origin's URL
        pub web_url: String = "",
    }
}

settings! {
    pub struct Slack {
        /// Slack incoming-webhook URL for deploy announcements (a secret)
        pub webhook: String = "" => secret guarded,
    }
}

impl fmt::Debug for Slack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The webhook URL is a secret: never in debug output or logs.
        f.debug_struct("Slack")
            .field("webhook", &"<redacted>")
            .finish()
    }
}

settings! {
    #[derive(Debug)]
    pub struct Migration {
        /// whole line that marks a successful provision
        pub success_marker: String = "All done! provision.sh finished for identity-devops",
        /// text that marks a failed provision
        pub failure_markers: Vec<String> = ["ABANDON", "Fatal error in provisioning"],
    }
}

settings! {
    #[derive(Debug)]
    pub struct Monitor {
        /// ROLE=GROUP: the request log monitor-deploy reads per role (pki and dashboard log elsewhere)
        pub request_log_groups: Vec<String> = ["idp={env}_/srv/idp/shared/log/production.log"],
        /// ROLE=GROUP: the event log monitor-deploy reads per role
        pub event_log_groups: Vec<String> = ["idp={env}_/srv/idp/shared/log/events.log"],
        /// allowed rise of the 5xx rate, in points (or the relative allowance, whichever is larger)
        pub allowed_5xx_points: f64 = 0.1,
        /// allowed rise of the 5xx rate, in percent of the old sha's rate
        pub allowed_5xx_relative_percent: f64 = 50.0,
        /// requests each sha needs before the 5xx rate can pass
        pub min_requests: u64 = 1000_u64,
        /// allowed drop of a success rate (upload, verify, phone, MFA, proofing), in points
        pub allowed_success_drop_points: f64 = 2.0,
        /// attempts each sha needs before a success rate can pass
        pub min_attempts: u64 = 50_u64,
        /// false-alarm rate spent over all of a monitor's looks
        pub alpha: f64 = 0.05,
        /// how far behind now the compared window ends (logs arrive late)
        pub ingestion_lag: HumanDuration = "2m",
        /// a Logs Insights query not done by then is stopped and the run fails
        pub query_timeout: HumanDuration = "2m",
    }
}

impl Monitor {
    /// The `GROUP` of the `ROLE=GROUP` entry for `role`, `{env}` expanded; `None` when the role
    /// has no entry.
    fn group_for(entries: &[String], env: &str, role: &str) -> Option<String> {
        entries.iter().find_map(|e| {
            let (r, g) = e.split_once('=')?;
            (r.trim() == role).then(|| Settings::expand(g.trim(), &[("env", env), ("role", role)]))
        })
    }

    pub fn request_log_group(&self, env: &str, role: &str) -> Option<String> {
        Self::group_for(&self.request_log_groups, env, role)
    }

    pub fn event_log_group(&self, env: &str, role: &str) -> Option<String> {
        Self::group_for(&self.event_log_groups, env, role)
    }

    /// The thresholds, as fractions of rate.
    pub fn thresholds(&self) -> crate::monitor::verdict::Thresholds {
        crate::monitor::verdict::Thresholds {
            errors_absolute: self.allowed_5xx_points / 100.0,
            errors_relative: self.allowed_5xx_relative_percent / 100.0,
            errors_min_requests: self.min_requests,
            success_drop: self.allowed_success_drop_points / 100.0,
            success_min_attempts: self.min_attempts,
        }
    }

    /// The bounds the types do not say (checked at load, see [`Settings::check`]).
    fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        let within = |key, v: f64, lo: f64, hi: f64| {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err((key, format!("must be a number from {lo} to {hi}")))
            }
        };
        within(
            "monitor.allowed_5xx_points",
            self.allowed_5xx_points,
            0.0,
            100.0,
        )?;
        within(
            "monitor.allowed_5xx_relative_percent",
            self.allowed_5xx_relative_percent,
            0.0,
            10_000.0,
        )?;
        within(
            "monitor.allowed_success_drop_points",
            self.allowed_success_drop_points,
            0.0,
            100.0,
        )?;
        if !(self.alpha > 0.0 && self.alpha <= 0.5) {
            return Err((
                "monitor.alpha",
                "must be a number above 0 and at most 0.5".into(),
            ));
        }
        if self.query_timeout.0.is_zero() {
            return Err(("monitor.query_timeout", "must be longer than 0s".into()));
        }
        Ok(())
    }
}

settings! {
    /// The deploy calendar and the release record. `deploy::calendar` parses the calendar keys
    /// (a bad value is a preflight error naming the key).
    #[derive(Debug)]
    pub struct Deploy {
        /// weekdays of full production deploys (mon..thu; never Friday or the weekend)
        pub days: Vec<String> = ["tue", "thu"],
        /// freeze windows, inclusive: MM-DD..MM-DD every year, or YYYY-MM-DD..YYYY-MM-DD once
        pub freeze: Vec<String> = ["12-25..01-01"],
        /// IANA time zone whose calendar day the deploy calendar judges
        pub time_zone: String = "America/New_York",
        /// how long the release soaks with the monitor running before the manual checks
        pub soak: HumanDuration = "1h",
        /// the manual checks in production after the soak, each confirmed by a person
        pub checks: Vec<String> = ["sign in to an existing account", "sign up for a new account", "identity proofing on the new account"] => guarded,
        /// ref on the remote that holds an environment's release record (and lock)
        pub record_ref: String = "refs/login-release/deploys/{env}",
    }
}

impl Settings {
    /// `{env}`, `{role}`, `{name}`, `{rc}`, `{tag}` substituted in a naming pattern.
    pub fn expand(pattern: &str, vars: &[(&str, &str)]) -> String {
        let mut out = pattern.to_string();
        for (k, v) in vars {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out
    }

    pub fn asg_name(&self, env: &str, role: &str) -> String {
        Self::expand(&self.naming.asg, &[("env", env), ("role", role)])
    }

    pub fn migration_group(&self, env: &str) -> String {
        Self::expand(&self.naming.migration_group, &[("env", env)])
    }

    pub fn instance_name(&self, env: &str, role: &str) -> String {
        Self::expand(&self.naming.instance_name, &[("env", env), ("role", role)])
    }

    pub fn vpc_name(&self, env: &str) -> String {
        Self::expand(&self.naming.vpc_name, &[("env", env)])
    }

    pub fn ssm_document(&self, env: &str, name: &str) -> String {
        Self::expand(&self.naming.ssm_document, &[("env", env), ("name", name)])
    }

    pub fn cloud_init_log_group(&self, env: &str) -> String {
        Self::expand(&self.naming.cloud_init_log_group, &[("env", env)])
    }

    pub fn ssm_output_log_group(&self, env: &str) -> String {
        Self::expand(&self.naming.ssm_output_log_group, &[("env", env)])
    }

    /// Whether running `document` (short name) in `env` needs --allow-prod.
    pub fn is_guarded(&self, env: &str, document: &str) -> bool {
        self.is_production(env) && self.ssm.guarded_documents.iter().any(|d| d == document)
    }

    pub fn is_production(&self, env: &str) -> bool {
        self.production.iter().any(|p| p == env)
    }

    /// The environment a release goes to, for announcements: the first production one.
    pub fn production_env(&self) -> String {
        self.production
            .first()
            .cloned()
            .unwrap_or_else(|| "prod".to_string())
    }

    pub fn pr_title(&self, rc: &str) -> String {
        Self::expand(&self.release.pr_title, &[("rc", rc)])
    }

    pub fn release_title(&self, rc: &str) -> String {
        Self::expand(&self.release.title, &[("rc", rc)])
    }

    pub fn tag_message(&self, tag: &str) -> String {
        Self::expand(&self.release.tag_message, &[("tag", tag)])
    }

    /// The ref on the remote holding the environment's release record.
    pub fn deploy_record_ref(&self, env: &str) -> String {
        Self::expand(&self.deploy.record_ref, &[("env", env)])
    }

    /// Bounds beyond the field types, as `(key, what it must be)`. Checked at load, so a bad
    /// value is one error naming the key and the layer that set it.
    pub(super) fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        self.monitor.check()
    }
}

/// The keys of [`Settings`], derived once.
pub fn keys() -> &'static [KeyDoc] {
    static KEYS: OnceLock<Vec<KeyDoc>> = OnceLock::new();
    KEYS.get_or_init(keys::describe::<Settings>)
}

/// The key `key` names, if it is one.
pub fn find(key: &str) -> Option<&'static KeyDoc> {
    keys().iter().find(|d| d.key == key)
}

/// The built-in default of `key`.
pub fn default_value(key: &str) -> Option<toml::Value> {
    let defaults = toml::Value::try_from(Settings::default()).ok()?;
    lookup(&defaults, key).cloned()
}

fn lookup<'a>(root: &'a toml::Value, key: &str) -> Option<&'a toml::Value> {
    key.split('.').try_fold(root, |v, part| v.get(part))
}
