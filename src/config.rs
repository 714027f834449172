//! Layered settings (DESIGN section 6): built-in login.gov defaults < user file < repository file
//! < `LOGIN_RELEASE_*` environment. Flags are applied by the commands that own them.
//!
//! Every key is declared once in [`KEYS`] with its default; a key that is not declared is an error
//! in a file (with a did-you-mean) and a warning in the environment (other tools share the prefix).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, Kind};

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

/// The type a key's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Str,
    List,
    Bool,
}

struct KeyDef {
    key: &'static str,
    ty: Ty,
    default: &'static [&'static str],
    /// Secrets are shown as `<set>` / `<unset>` by `config`, never their value.
    secret: bool,
    help: &'static str,
}

const fn s(key: &'static str, default: &'static [&'static str], help: &'static str) -> KeyDef {
    KeyDef {
        key,
        ty: Ty::Str,
        default,
        secret: false,
        help,
    }
}
const fn l(key: &'static str, default: &'static [&'static str], help: &'static str) -> KeyDef {
    KeyDef {
        key,
        ty: Ty::List,
        default,
        secret: false,
        help,
    }
}

/// Every setting, its login.gov default and what it is for.
const KEYS: &[KeyDef] = &[
    l("environments", &["prod", "staging", "int", "dev"], "environment names offered by completion"),
    l("production", &["prod"], "environments that ask to type their name before a change"),
    l("roles", &["idp", "worker", "migration", "pivcac", "analytics", "outboundproxy"], "roles offered by completion and accepted without a warning"),
    s("naming.asg", &["{env}-{role}"], "Auto Scaling Group name"),
    s("naming.migration_group", &["{env}-migration"], "the migration Auto Scaling Group"),
    s("naming.instance_name", &["asg-{env}-{role}"], "instance Name tag"),
    s("naming.vpc_name", &["login-vpc-{env}"], "VPC Name tag of an environment"),
    s("naming.ssm_document", &["{env}-ssm-cmd-{name}"], "SSM command document"),
    s("naming.cloud_init_log_group", &["{env}_/var/log/cloud-init-output.log"], "CloudWatch log group of cloud-init output (stream = instance id)"),
    s("naming.ssm_output_log_group", &["aws-ssm-sessions-{env}"], "CloudWatch log group SSM commands send their output to"),
    l("ssm.guarded_documents", &["passenger-restart"], "SSM documents (short names) refused in production without --allow-prod, however invoked"),
    l("naming.skip_tags", &["utility", "stateful"], "group tag keys that leave a group out of ALL"),
    l("recycle.migration_roles", &["idp", "worker", "migration", "analytics"], "roles whose recycle runs a migration instance first"),
    s("recycle.spinup_delay", &["5m"], "head start the migration instance gets before the scale-out"),
    s("recycle.spindown_delay", &["10m"], "time from the scale-out to the return to normal size"),
    s("git.remote", &["origin"], "remote to fetch from and push to"),
    s("git.main_branch", &["main"], "branch staging deploys from"),
    s("git.prod_branch", &["stages/prod"], "branch production deploys from"),
    s("git.rc_branch_prefix", &["stages/rc-"], "prefix of RC branch names (followed by YYYY-MM-DD)"),
    KeyDef { key: "git.fetch_with_cli", ty: Ty::Bool, default: &["false"], secret: false, help: "run fetch and push through the `git` program (uses your ssh config and credential helpers)" },
    s("release.pr_title", &["Deploy RC {rc} to Prod"], "promotion PR title"),
    s("release.pr_label", &["status - promotion"], "promotion PR label"),
    s("release.title", &["RC {rc}"], "GitHub release title"),
    s("release.tag_message", &["{tag} release"], "signed tag message"),
    s("staging.idp", &["https://idp.staging.login.gov/api/deploy.json"], "staging deploy.json of the idp app"),
    s("staging.pki", &["https://checking-deploy.pivcac.staging.login.gov/api/deploy.json"], "staging deploy.json of the pki app"),
    s("github.repository", &[""], "owner/name; empty: GITHUB_REPOSITORY, else origin's URL"),
    s("github.api_url", &["https://api.github.com"], "GitHub REST API base (GITHUB_API_URL overrides)"),
    s("github.web_url", &[""], "base of PR links in the changelog; empty: from origin's URL"),
    KeyDef { key: "slack.webhook", ty: Ty::Str, default: &[""], secret: true, help: "Slack incoming-webhook URL for deploy announcements (a secret)" },
    s("migration.success_marker", &["All done! provision.sh finished for identity-devops"], "whole line that marks a successful provision"),
    l("migration.failure_markers", &["ABANDON", "Fatal error in provisioning"], "text that marks a failed provision"),
    l("monitor.request_log_groups", &["idp={env}_/srv/idp/shared/log/production.log"], "ROLE=GROUP: the request log monitor-deploy reads per role (pki and dashboard log elsewhere)"),
    l("monitor.event_log_groups", &["idp={env}_/srv/idp/shared/log/events.log"], "ROLE=GROUP: the event log monitor-deploy reads per role"),
    s("monitor.allowed_5xx_points", &["0.1"], "allowed rise of the 5xx rate, in points (or the relative allowance, whichever is larger)"),
    s("monitor.allowed_5xx_relative_percent", &["50"], "allowed rise of the 5xx rate, in percent of the old sha's rate"),
    s("monitor.min_requests", &["1000"], "requests each sha needs before the 5xx rate can pass"),
    s("monitor.allowed_success_drop_points", &["2"], "allowed drop of a success rate (upload, verify, phone, MFA, proofing), in points"),
    s("monitor.min_attempts", &["50"], "attempts each sha needs before a success rate can pass"),
    s("monitor.alpha", &["0.05"], "false-alarm rate spent over all of a monitor's looks"),
    s("monitor.ingestion_lag", &["2m"], "how far behind now the compared window ends (logs arrive late)"),
    s("monitor.query_timeout", &["2m"], "a Logs Insights query not done by then is stopped and the run fails"),
    l("deploy.days", &["tue", "thu"], "weekdays of full production deploys (mon..thu; never Friday or the weekend)"),
    l("deploy.freeze", &["12-25..01-01"], "freeze windows, inclusive: MM-DD..MM-DD every year, or YYYY-MM-DD..YYYY-MM-DD once"),
    s("deploy.time_zone", &["America/New_York"], "IANA time zone whose calendar day the deploy calendar judges"),
    s("deploy.soak", &["1h"], "how long the release soaks with the monitor running before the manual checks"),
    s("deploy.record_ref", &["refs/login-release/deploys/{env}"], "ref on the remote that holds an environment's release record (and lock)"),
];

/// Environment variables with our prefix that are not settings.
const ENV_NOT_SETTINGS: &[&str] = &[
    "LOGIN_RELEASE_CONFIG",
    "LOGIN_RELEASE_LOG",
    "LOGIN_RELEASE_NOW",
    "LOGIN_RELEASE_MOTO_PYTHON",
];

/// The typed settings commands read.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Settings {
    pub environments: Vec<String>,
    pub production: Vec<String>,
    pub roles: Vec<String>,
    pub naming: Naming,
    pub ssm: Ssm,
    pub recycle: Recycle,
    pub git: Git,
    pub release: Release,
    pub staging: Staging,
    pub github: Github,
    pub slack: Slack,
    pub migration: Migration,
    pub monitor: Monitor,
    pub deploy: Deploy,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Naming {
    pub asg: String,
    pub migration_group: String,
    pub instance_name: String,
    pub vpc_name: String,
    pub ssm_document: String,
    pub cloud_init_log_group: String,
    pub ssm_output_log_group: String,
    pub skip_tags: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Ssm {
    /// Documents that drop live traffic (passenger-restart): production needs --allow-prod.
    pub guarded_documents: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Recycle {
    pub migration_roles: Vec<String>,
    pub spinup_delay: String,
    pub spindown_delay: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Git {
    pub remote: String,
    pub main_branch: String,
    pub prod_branch: String,
    pub rc_branch_prefix: String,
    pub fetch_with_cli: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Release {
    pub pr_title: String,
    pub pr_label: String,
    pub title: String,
    pub tag_message: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Staging {
    pub idp: String,
    pub pki: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Github {
    pub repository: String,
    pub api_url: String,
    pub web_url: String,
}

#[derive(Clone, Deserialize, Serialize)]
pub struct Slack {
    pub webhook: String,
}

impl fmt::Debug for Slack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The webhook URL is a secret: never in debug output or logs.
        f.debug_struct("Slack")
            .field("webhook", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Migration {
    pub success_marker: String,
    pub failure_markers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Monitor {
    pub request_log_groups: Vec<String>,
    pub event_log_groups: Vec<String>,
    pub allowed_5xx_points: String,
    pub allowed_5xx_relative_percent: String,
    pub min_requests: String,
    pub allowed_success_drop_points: String,
    pub min_attempts: String,
    pub alpha: String,
    pub ingestion_lag: String,
    pub query_timeout: String,
}

/// A `monitor.*` setting that does not parse: a preflight finding naming the key.
fn bad_setting(key: &str, value: &str, want: &str) -> anyhow::Error {
    AppError::new(
        Kind::Preflight,
        format!("setting monitor.{key} = {value:?} is not {want}"),
    )
    .with_hint("fix it in your config file or LOGIN_RELEASE_MONITOR_* (`login-release config` shows where it is set)")
    .into()
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

    fn number(key: &str, value: &str, lo: f64, hi: f64) -> Result<f64> {
        value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= lo && *v <= hi)
            .ok_or_else(|| bad_setting(key, value, &format!("a number from {lo} to {hi}")))
    }

    fn count(key: &str, value: &str) -> Result<u64> {
        value
            .trim()
            .parse::<u64>()
            .map_err(|_| bad_setting(key, value, "a whole number"))
    }

    fn duration(key: &str, value: &str) -> Result<std::time::Duration> {
        value
            .parse::<crate::types::HumanDuration>()
            .map(|d| d.0)
            .map_err(|_| bad_setting(key, value, "a duration (like 90s or 2m)"))
    }

    /// The thresholds, as fractions of rate.
    pub fn thresholds(&self) -> Result<crate::monitor::verdict::Thresholds> {
        Ok(crate::monitor::verdict::Thresholds {
            errors_absolute: Self::number(
                "allowed_5xx_points",
                &self.allowed_5xx_points,
                0.0,
                100.0,
            )? / 100.0,
            errors_relative: Self::number(
                "allowed_5xx_relative_percent",
                &self.allowed_5xx_relative_percent,
                0.0,
                10_000.0,
            )? / 100.0,
            errors_min_requests: Self::count("min_requests", &self.min_requests)?,
            success_drop: Self::number(
                "allowed_success_drop_points",
                &self.allowed_success_drop_points,
                0.0,
                100.0,
            )? / 100.0,
            success_min_attempts: Self::count("min_attempts", &self.min_attempts)?,
        })
    }

    pub fn alpha(&self) -> Result<f64> {
        let a = Self::number("alpha", &self.alpha, 0.0, 0.5)?;
        if a <= 0.0 {
            return Err(bad_setting("alpha", &self.alpha, "above 0"));
        }
        Ok(a)
    }

    pub fn ingestion_lag(&self) -> Result<std::time::Duration> {
        Self::duration("ingestion_lag", &self.ingestion_lag)
    }

    pub fn query_timeout(&self) -> Result<std::time::Duration> {
        let d = Self::duration("query_timeout", &self.query_timeout)?;
        if d.is_zero() {
            return Err(bad_setting(
                "query_timeout",
                &self.query_timeout,
                "longer than 0s",
            ));
        }
        Ok(d)
    }
}

/// The deploy calendar and the release record. Kept as text here; `deploy::calendar` parses and
/// checks the calendar keys (a bad value is a preflight error naming the key).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Deploy {
    pub days: Vec<String>,
    pub freeze: Vec<String>,
    pub time_zone: String,
    pub soak: String,
    pub record_ref: String,
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
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    values: BTreeMap<&'static str, (toml::Value, Source)>,
    /// Warnings found while loading (unknown environment variables), printed by the caller.
    pub warnings: Vec<String>,
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
        let mut values: BTreeMap<&'static str, (toml::Value, Source)> = BTreeMap::new();
        for def in KEYS {
            values.insert(def.key, (default_value(def), Source::Default));
        }
        let files = [
            (
                locations.user_file.as_ref(),
                Source::UserFile as fn(PathBuf) -> Source,
            ),
            (
                locations.repo_file.as_ref(),
                Source::RepoFile as fn(PathBuf) -> Source,
            ),
        ];
        for (path, source) in files {
            let Some(path) = path else { continue };
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
            };
            let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
                AppError::new(
                    Kind::Preflight,
                    format!("{} is not valid TOML: {}", path.display(), e.message()),
                )
                .with_hint("fix the file or move it aside")
            })?;
            let mut flat = Vec::new();
            flatten("", &toml::Value::Table(table), &mut flat);
            for (key, value) in flat {
                let def =
                    find_key(&key).ok_or_else(|| unknown_key(&key, &path.display().to_string()))?;
                check_type(def, &value, &path.display().to_string())?;
                values.insert(def.key, (value, source(path.clone())));
            }
        }
        let mut warnings = Vec::new();
        let mut env: Vec<(String, String)> = env.into_iter().collect();
        env.sort();
        for (var, raw) in env {
            let Some(rest) = var.strip_prefix("LOGIN_RELEASE_") else {
                continue;
            };
            if ENV_NOT_SETTINGS.contains(&var.as_str()) {
                continue;
            }
            let Some(def) = KEYS.iter().find(|d| env_name(d.key) == var) else {
                let names: Vec<String> = KEYS.iter().map(|d| env_name(d.key)).collect();
                let guess = crate::error::closest(&var, &names, 3);
                warnings.push(match guess {
                    Some(g) => format!("ignoring unknown setting {var} (did you mean {g}?)"),
                    None => format!(
                        "ignoring unknown setting {var} ({} is not a key)",
                        rest.to_lowercase()
                    ),
                });
                continue;
            };
            let value = parse_env_value(def, &raw).map_err(|why| {
                AppError::new(Kind::Preflight, format!("{var}={raw:?}: {why}"))
                    .with_hint("fix or unset the variable")
            })?;
            values.insert(def.key, (value, Source::Env(var)));
        }
        let settings = settings_from(&values)?;
        Ok(Config {
            settings,
            values,
            warnings,
        })
    }

    /// Every setting with its effective value and source, in key order.
    pub fn entries(&self) -> Vec<Entry> {
        KEYS.iter()
            .map(|def| {
                let (value, source) = &self.values[def.key];
                let set = value.as_str().is_some_and(|s| !s.is_empty());
                Entry {
                    key: def.key,
                    value: (!def.secret).then(|| value.clone()),
                    secret_set: def.secret.then_some(set),
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

fn env_name(key: &str) -> String {
    format!("LOGIN_RELEASE_{}", key.replace('.', "_").to_uppercase())
}

fn find_key(key: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|d| d.key == key)
}

fn unknown_key(key: &str, file: &str) -> anyhow::Error {
    let guess = crate::error::closest(key, KEYS.iter().map(|d| d.key), 3);
    let hint = match guess {
        Some(g) => format!("did you mean `{g}`? `login-release config` lists every key"),
        None => "`login-release config` lists every key".to_string(),
    };
    AppError::new(
        Kind::Preflight,
        format!("unknown setting `{key}` in {file}"),
    )
    .with_hint(hint)
    .into()
}

fn default_value(def: &KeyDef) -> toml::Value {
    match def.ty {
        Ty::Str => toml::Value::String(def.default[0].to_string()),
        Ty::Bool => toml::Value::Boolean(def.default[0] == "true"),
        Ty::List => toml::Value::Array(
            def.default
                .iter()
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
    }
}

fn check_type(def: &KeyDef, value: &toml::Value, file: &str) -> Result<()> {
    let ok = match def.ty {
        Ty::Str => value.is_str(),
        Ty::Bool => value.is_bool(),
        Ty::List => value
            .as_array()
            .is_some_and(|a| a.iter().all(toml::Value::is_str)),
    };
    if ok {
        Ok(())
    } else {
        let want = match def.ty {
            Ty::Str => "a string",
            Ty::Bool => "true or false",
            Ty::List => "a list of strings",
        };
        Err(AppError::new(
            Kind::Preflight,
            format!("`{}` in {file} must be {want}", def.key),
        )
        .with_hint(format!("default: {}", default_value(def)))
        .into())
    }
}

fn parse_env_value(def: &KeyDef, raw: &str) -> std::result::Result<toml::Value, String> {
    Ok(match def.ty {
        Ty::Str => toml::Value::String(raw.to_string()),
        Ty::Bool => match raw {
            "1" | "true" | "yes" => toml::Value::Boolean(true),
            "0" | "false" | "no" | "" => toml::Value::Boolean(false),
            _ => return Err("must be true or false".into()),
        },
        Ty::List => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
    })
}

/// `[naming] asg = "x"` becomes `("naming.asg", "x")`; arrays are leaves.
fn flatten(prefix: &str, value: &toml::Value, out: &mut Vec<(String, toml::Value)>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

fn settings_from(values: &BTreeMap<&'static str, (toml::Value, Source)>) -> Result<Settings> {
    let mut root = toml::Table::new();
    for (key, (value, _)) in values {
        let mut table = &mut root;
        let mut parts: Vec<&str> = key.split('.').collect();
        let leaf = parts.pop().expect("non-empty key");
        for part in parts {
            table = table
                .entry(part.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .expect("sections are tables");
        }
        table.insert(leaf.to_string(), value.clone());
    }
    toml::Value::Table(root)
        .try_into()
        .context("building settings")
}

#[cfg(test)]
mod tests {
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
            m.thresholds().unwrap(),
            crate::monitor::verdict::Thresholds::default()
        );
        assert_eq!(m.alpha().unwrap(), 0.05);
        assert_eq!(m.ingestion_lag().unwrap().as_secs(), 120);
    }

    #[test]
    fn bad_monitor_numbers_name_the_key() {
        let c = load(None, None, &[("LOGIN_RELEASE_MONITOR_ALPHA", "lots")]).unwrap();
        let e = c.settings.monitor.alpha().unwrap_err();
        assert!(e.to_string().contains("monitor.alpha"), "{e}");
        assert_eq!(crate::error::report(&e).code, 3);
        assert_eq!(c.settings.deploy.days, vec!["tue", "thu"]);
        assert_eq!(c.settings.deploy.freeze, vec!["12-25..01-01"]);
        assert_eq!(c.settings.deploy.time_zone, "America/New_York");
        assert_eq!(c.settings.deploy.soak, "1h");
        assert_eq!(
            c.settings.deploy_record_ref("prod"),
            "refs/login-release/deploys/prod"
        );
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
}
