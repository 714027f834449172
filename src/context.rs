//! What every command gets: settings, output, the clock, the confirmation gate, lazy AWS clients.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Result;
use jiff::Timestamp;
use tokio::sync::OnceCell;

use crate::aws::Aws;
use crate::cli::GlobalArgs;
use crate::config::{Config, Settings};
use crate::error::{AppError, Kind};
use crate::output::Output;
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

pub struct Context {
    pub global: GlobalArgs,
    pub config: Config,
    pub out: Output,
    repo_dir: PathBuf,
    fixed_now: Option<Timestamp>,
    aws: OnceCell<Aws>,
    /// Set once by `main` on Ctrl-C; sticky, so a command that starts listening late still sees it.
    interrupt: tokio::sync::watch::Sender<bool>,
}

impl Context {
    pub fn new(global: GlobalArgs) -> Result<Self> {
        let out = Output::new(global.output, global.color, global.quiet);
        let repo_dir = global.repo.clone().unwrap_or_else(|| PathBuf::from("."));
        let config = Config::load(&repo_dir)?;
        for w in &config.warnings {
            out.warn(w);
        }
        // A fixed clock for reproducible tests and rehearsals; never set in normal use.
        let fixed_now = match std::env::var("LOGIN_RELEASE_NOW") {
            Ok(v) if !v.is_empty() => Some(v.parse::<Timestamp>().map_err(|e| {
                AppError::new(
                    Kind::Usage,
                    format!("LOGIN_RELEASE_NOW={v:?} is not an RFC 3339 time: {e}"),
                )
                .with_hint("unset it, or use a form like 2026-11-26T18:48:08Z")
            })?),
            _ => None,
        };
        Ok(Context {
            global,
            config,
            out,
            repo_dir,
            fixed_now,
            aws: OnceCell::new(),
            interrupt: tokio::sync::watch::Sender::new(false),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.config.settings
    }

    /// The directory given with `-C` (default: the current directory).
    pub fn repo_dir(&self) -> &Path {
        &self.repo_dir
    }

    pub fn now(&self) -> Timestamp {
        self.fixed_now.unwrap_or_else(Timestamp::now)
    }

    pub fn dry_run(&self) -> bool {
        self.global.dry_run
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
        self.out.plan(plan);
        if self.global.dry_run {
            self.out.status("dry run: nothing was changed");
            return Ok(Go::DryRun);
        }
        if self.global.yes {
            return Ok(Go::Apply);
        }
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Err(AppError::new(
                Kind::Preflight,
                "confirmation needed, but there is no terminal to ask on",
            )
            .with_hint("read the plan above (or run with --dry-run), then re-run with --yes")
            .into());
        }
        let theme = dialoguer::theme::SimpleTheme;
        let production = plan
            .env
            .as_deref()
            .filter(|e| self.settings().is_production(e));
        let yes = match production {
            Some(env) => {
                let typed: String = dialoguer::Input::with_theme(&theme)
                    .with_prompt(format!("This changes production. Type `{env}` to continue"))
                    .allow_empty(true)
                    .interact_text()?;
                typed.trim() == env
            }
            None => dialoguer::Confirm::with_theme(&theme)
                .with_prompt("Apply this plan?")
                .default(false)
                .interact()?,
        };
        if !yes {
            self.out.status("declined: nothing was changed");
            return Ok(Go::Declined);
        }
        Ok(Go::Apply)
    }
}
