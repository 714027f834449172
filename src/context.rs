//! What every step gets: settings, output, the clock, the confirmation gate, lazy AWS clients.

use std::path::{Path, PathBuf};

use anyhow::Result;
use jiff::Timestamp;
use tokio::sync::OnceCell;

use crate::aws::Aws;
use crate::config::{Config, Settings};
use crate::error::{AppError, Kind};
use crate::output::{ColorChoice, Format, Output};
use crate::plan::Plan;

/// The answer of the confirmation gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Go {
    /// Make the changes.
    Apply,
    /// `--dry-run`: the plan was shown; change nothing.
    DryRun,
    /// The user said no: exit 0, nothing changed.
    Declined,
}

impl Go {
    /// Why nothing is applied, as the `status` the JSON documents report (`dry_run`, `declined`);
    /// `None` for `Apply`.
    pub fn stopped(self) -> Option<&'static str> {
        match self {
            Go::Apply => None,
            Go::DryRun => Some("dry_run"),
            Go::Declined => Some("declined"),
        }
    }
}

/// Who answers "apply this plan?": a person at the terminal, `--yes`, or nobody (a caller that
/// must never change anything without its own earlier confirmation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmer {
    /// Ask on the terminal; refuse (exit 3) when there is none.
    Terminal,
    /// Every plan is accepted (`--yes`).
    Yes,
    /// Every plan is refused with exit 3.
    Refuse,
}

/// What every step gets, built from explicit inputs: the settings, the output sink, the
/// confirmer, whether this is a dry run, whether to notify, the clock, and lazily built AWS
/// clients. The CLI builds one from its flags (`cli::GlobalArgs::context`); code and tests build
/// their own with [`Context::builder`].
pub struct Context {
    pub config: Config,
    pub out: Output,
    confirmer: Confirmer,
    dry_run: bool,
    notify: bool,
    repo_dir: PathBuf,
    fixed_now: Option<Timestamp>,
    aws: OnceCell<Aws>,
    /// Set once by `main` on Ctrl-C; sticky, so a command that starts listening late still sees it.
    interrupt: tokio::sync::watch::Sender<bool>,
}

/// `LOGIN_RELEASE_NOW` is a rehearsal switch (tests, the sandbox): set by mistake against real
/// AWS it would skip the scale-down wait and the grace-period check, and it names RC branches and
/// tags with its date on a real origin. It is honoured only when AWS_ENDPOINT_URL is this machine
/// (what `sandbox env` and the tests set), for git commands too; otherwise nothing runs.
fn require_loopback_endpoint() -> Result<()> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let local = reqwest::Url::parse(&endpoint)
        .ok()
        .and_then(|u| u.host_str().map(crate::types::is_loopback_host))
        .unwrap_or(false);
    if local {
        return Ok(());
    }
    let found = if endpoint.is_empty() {
        "AWS_ENDPOINT_URL is not set".to_string()
    } else {
        format!("AWS_ENDPOINT_URL={endpoint:?} is not this machine")
    };
    Err(AppError::new(
        Kind::Usage,
        format!("LOGIN_RELEASE_NOW is set, but {found}: a fixed clock is for the sandbox and tests only"),
    )
    .with_hint("unset LOGIN_RELEASE_NOW (or run `eval \"$(login-release sandbox env)\"` to rehearse)")
    .into())
}

/// Builds a [`Context`]; every input has a safe default (text output, terminal confirmer, no
/// dry run, notifications on, the real clock, the current directory).
pub struct ContextBuilder {
    config: Option<Config>,
    out: Option<Output>,
    confirmer: Confirmer,
    dry_run: bool,
    notify: bool,
    repo_dir: PathBuf,
    fixed_now: Option<Timestamp>,
    aws: Option<Aws>,
}

impl ContextBuilder {
    pub fn repo_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.repo_dir = dir.into();
        self
    }

    /// Settings given as they are (default: loaded from the repository directory's layers).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    pub fn output(mut self, out: Output) -> Self {
        self.out = Some(out);
        self
    }

    pub fn confirmer(mut self, confirmer: Confirmer) -> Self {
        self.confirmer = confirmer;
        self
    }

    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Whether steps post their Slack announcements.
    pub fn notify(mut self, notify: bool) -> Self {
        self.notify = notify;
        self
    }

    /// A clock pinned at `now` (tests, rehearsals).
    pub fn now(mut self, now: Timestamp) -> Self {
        self.fixed_now = Some(now);
        self
    }

    /// `LOGIN_RELEASE_NOW` pins the clock for reproducible tests and rehearsals.
    pub fn clock_from_env(mut self) -> Result<Self> {
        if let Ok(v) = std::env::var("LOGIN_RELEASE_NOW") {
            if !v.is_empty() {
                self.fixed_now = Some(v.parse::<Timestamp>().map_err(|e| {
                    AppError::new(
                        Kind::Usage,
                        format!("LOGIN_RELEASE_NOW={v:?} is not an RFC 3339 time: {e}"),
                    )
                    .with_hint("unset it, or use a form like 2026-11-26T18:48:08Z")
                })?);
                require_loopback_endpoint()?;
            }
        }
        Ok(self)
    }

    /// AWS clients given by the caller (default: the default chain, on first use).
    pub fn aws(mut self, aws: Aws) -> Self {
        self.aws = Some(aws);
        self
    }

    pub fn build(self) -> Result<Context> {
        let out = self
            .out
            .unwrap_or_else(|| Output::new(Format::Text, ColorChoice::Auto, false));
        let config = match self.config {
            Some(c) => c,
            None => Config::load(&self.repo_dir)?,
        };
        for w in &config.warnings {
            out.warn(w);
        }
        Ok(Context {
            config,
            out,
            confirmer: self.confirmer,
            dry_run: self.dry_run,
            notify: self.notify,
            repo_dir: self.repo_dir,
            fixed_now: self.fixed_now,
            aws: match self.aws {
                Some(a) => OnceCell::new_with(Some(a)),
                None => OnceCell::new(),
            },
            interrupt: tokio::sync::watch::Sender::new(false),
        })
    }
}

impl Context {
    pub fn builder() -> ContextBuilder {
        ContextBuilder {
            config: None,
            out: None,
            confirmer: Confirmer::Terminal,
            dry_run: false,
            notify: true,
            repo_dir: PathBuf::from("."),
            fixed_now: None,
            aws: None,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.config.settings
    }

    /// The repository directory (`-C`; default: the current directory).
    pub fn repo_dir(&self) -> &Path {
        &self.repo_dir
    }

    pub fn now(&self) -> Timestamp {
        self.fixed_now.unwrap_or_else(Timestamp::now)
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Whether steps post announcements (off with `--no-notify`, and always in a dry run).
    pub fn notifies(&self) -> bool {
        self.notify && !self.dry_run
    }

    /// Every plan is accepted without asking (`--yes`): also the consent that some refusals
    /// (an unsigned tag, a squash-merged PR) ask for.
    pub fn assume_yes(&self) -> bool {
        self.confirmer == Confirmer::Yes
    }

    /// Whether [`confirm`](Self::confirm) could get an answer: a dry run needs none.
    pub fn can_confirm(&self) -> bool {
        self.dry_run
            || match self.confirmer {
                Confirmer::Yes => true,
                Confirmer::Terminal => crate::prompt::can_ask(),
                Confirmer::Refuse => false,
            }
    }

    /// Records a Ctrl-C (called by `main`); every `interrupted()` wakes, now or later.
    pub fn interrupt(&self) {
        self.interrupt.send_replace(true);
    }

    /// Resolves once Ctrl-C was pressed, even if that happened before this was called: commands
    /// that wait select on it to stop saying where things stand. Unlike a fresh
    /// `tokio::signal::ctrl_c()`, it cannot miss a signal that came during an AWS call.
    pub async fn interrupted(&self) {
        let mut rx = self.interrupt.subscribe();
        let _ = rx.wait_for(|pressed| *pressed).await;
    }

    /// AWS clients, built on first use so git-only commands never load AWS configuration.
    pub async fn aws(&self) -> Result<&Aws> {
        self.aws.get_or_try_init(Aws::load).await
    }

    /// Shows the plan and asks (DESIGN section 2). `--dry-run` wins over `--yes`.
    pub fn confirm(&self, plan: &Plan) -> Result<Go> {
        let asks =
            !self.dry_run && self.confirmer == Confirmer::Terminal && crate::prompt::can_ask();
        if asks {
            // A prompt follows: the plan goes beside it, even with -q -o json.
            self.out.plan_before_prompt(plan);
        } else {
            self.out.plan(plan);
        }
        if self.dry_run {
            self.out.status("dry run: nothing was changed");
            return Ok(Go::DryRun);
        }
        if !self.can_confirm() {
            let why = match self.confirmer {
                Confirmer::Refuse => "confirmation needed, but this caller accepts no plan",
                _ => "confirmation needed, but there is no terminal to ask on",
            };
            return Err(AppError::new(Kind::Preflight, why)
                .with_hint("read the plan above (or run with --dry-run), then re-run with --yes")
                .into());
        }
        if self.confirmer == Confirmer::Yes {
            return Ok(Go::Apply);
        }
        let production = plan
            .env
            .as_deref()
            .filter(|e| self.settings().is_production(e));
        if !crate::prompt::confirm(production)? {
            self.out.status("declined: nothing was changed");
            return Ok(Go::Declined);
        }
        Ok(Go::Apply)
    }
}
