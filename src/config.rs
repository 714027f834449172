//! Layered settings (DESIGN section 6): built-in login.gov defaults < user file < repository file
//! < `LOGIN_RELEASE_*` environment. Flags are applied by the commands that own them.
//!
//! The structs below are the one description of the settings: each field's doc comment is its help
//! text, the value after `=` its login.gov default (see [`keys::settings!`]). To add a setting, add a
//! field; the key list, the environment variable, the type check, `config`'s row and its source come
//! from it. figment merges the layers and remembers which layer set each value. A key that is not
//! declared is an error in a file (with a did-you-mean) and a warning in the environment (other
//! tools share the prefix).

mod guard;
mod keys;
mod layers;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use figment::Figment;
use serde::Serialize;

use crate::error::{AppError, Kind};
use crate::types::HumanDuration;
use keys::settings;
use layers::{Layer, LayerKind};

/// Where a setting's value came from, for `login-release config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "at")]
pub enum Source {
    Default,
    UserFile(PathBuf),
    RepoFile(PathBuf),
    Env(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::UserFile(p) | Source::RepoFile(p) => write!(f, "{}", p.display()),
            Source::Env(v) => write!(f, "env {v}"),
        }
    }
}

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
        /// guarded keys (production, github.api_url, slack.webhook) a repository's .login-release.toml may set; read only from your own config or environment
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
    fn check(&self) -> std::result::Result<(), (&'static str, String)> {
        self.monitor.check()
    }
}

/// One effective setting and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub key: &'static str,
    /// `None` for secrets: `config` shows only whether they are set.
    pub value: Option<toml::Value>,
    pub secret_set: Option<bool>,
    pub source: Source,
    pub help: &'static str,
}

/// The merged settings plus their provenance.
#[derive(Clone)]
pub struct Config {
    pub settings: Settings,
    /// Each key's merged value as its layer wrote it (`90s` stays `90s`), and that layer.
    values: BTreeMap<&'static str, (toml::Value, Source)>,
    /// Warnings found while loading (unknown environment variables), printed by the caller.
    pub warnings: Vec<String>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Through `Settings`' Debug, which redacts secrets; never the raw layers.
        f.debug_struct("Config")
            .field("settings", &self.settings)
            .field(
                "sources",
                &self.values.values().map(|(_, s)| s).collect::<Vec<_>>(),
            )
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Where the files are looked for.
#[derive(Debug, Clone, Default)]
pub struct Locations {
    pub user_file: Option<PathBuf>,
    pub repo_file: Option<PathBuf>,
}

impl Locations {
    /// `LOGIN_RELEASE_CONFIG` names the user file; else `$XDG_CONFIG_HOME/login-release/config.toml`
    /// (`~/.config/...`). The repository file is `.login-release.toml` at the top of the work tree.
    pub fn discover(repo_dir: &Path) -> Self {
        let user_file = std::env::var_os("LOGIN_RELEASE_CONFIG")
            .map(PathBuf::from)
            .or_else(|| {
                directories::BaseDirs::new()
                    .map(|d| d.config_dir().join("login-release").join("config.toml"))
            });
        let top = git2::Repository::discover(repo_dir)
            .ok()
            .and_then(|r| r.workdir().map(Path::to_path_buf))
            .unwrap_or_else(|| repo_dir.to_path_buf());
        Locations {
            user_file,
            repo_file: Some(top.join(".login-release.toml")),
        }
    }
}

impl Config {
    /// Built-in defaults only: what tests of pure logic use.
    pub fn defaults() -> Self {
        Self::load_from(&Locations::default(), std::iter::empty()).expect("defaults are valid")
    }

    /// Loads every layer for the repository at `repo_dir`, reading the process environment.
    pub fn load(repo_dir: &Path) -> Result<Self> {
        Self::load_from(&Locations::discover(repo_dir), std::env::vars())
    }

    pub fn load_from(
        locations: &Locations,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        let defaults = Layer::defaults(&Settings::default())?;
        let file = |kind, path: &Option<PathBuf>| match path {
            Some(p) => Layer::file(kind, p),
            None => Ok(Layer::empty(kind)),
        };
        let user = file(LayerKind::UserFile, &locations.user_file)?;
        let repo = file(LayerKind::RepoFile, &locations.repo_file)?;
        let (env, warnings) = Layer::env(env)?;
        // The user's own layers decide what the repository file may set.
        let own = Figment::from(&defaults).merge(&user).merge(&env);
        let trusted = guard::trusted_keys(&own)?;
        if let Some(path) = &locations.repo_file {
            guard::refuse_guarded(&repo, path, &trusted, locations.user_file.as_deref())?;
        }
        let figment = Figment::from(defaults).merge(user).merge(repo).merge(env);
        let settings: Settings = figment.extract().context("building settings")?;
        let mut values = BTreeMap::new();
        for def in keys::all() {
            let value = figment
                .find_value(&def.key)
                .ok()
                .and_then(|v| toml::Value::try_from(v).ok())
                .with_context(|| format!("reading the value of {}", def.key))?;
            values.insert(
                def.key.as_str(),
                (value, layers::source(&figment, &def.key)),
            );
        }
        let config = Config {
            settings,
            values,
            warnings,
        };
        config
            .settings
            .check()
            .map_err(|(key, why)| config.bad_value(key, &why))?;
        Ok(config)
    }

    /// A value of the right type outside its bounds: names the key and the layer that set it.
    fn bad_value(&self, key: &str, why: &str) -> anyhow::Error {
        let at = match self.source_of(key) {
            Some(Source::Env(var)) => var.clone(),
            Some(source) => source.to_string(),
            None => "the defaults".to_string(),
        };
        let default = default_value(key)
            .map(|v| v.to_string())
            .unwrap_or_default();
        AppError::new(Kind::Preflight, format!("`{key}` in {at} {why}"))
            .with_hint(format!("default: {default}"))
            .into()
    }

    /// Every setting with its effective value and source, in key order.
    pub fn entries(&self) -> Vec<Entry> {
        keys::all()
            .iter()
            .map(|def| {
                let (value, source) = &self.values[def.key.as_str()];
                let set = value.as_str().is_some_and(|s| !s.is_empty());
                let secret = def.flags.secret;
                Entry {
                    key: def.key.as_str(),
                    value: (!secret).then(|| value.clone()),
                    secret_set: secret.then_some(set),
                    source: source.clone(),
                    help: def.help,
                }
            })
            .collect()
    }

    /// The source of one setting (for messages such as "prod is production (from default)").
    pub fn source_of(&self, key: &str) -> Option<&Source> {
        self.values.get(key).map(|(_, s)| s)
    }
}

/// A key's built-in default, for hints.
fn default_value(key: &str) -> Option<toml::Value> {
    let defaults = toml::Value::try_from(Settings::default()).ok()?;
    lookup(&defaults, key).cloned()
}

fn lookup<'a>(root: &'a toml::Value, key: &str) -> Option<&'a toml::Value> {
    key.split('.').try_fold(root, |v, part| v.get(part))
}

#[cfg(test)]
mod tests;
