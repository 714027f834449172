//! Shell completions: the candidates for argument values and the registration scripts.
//!
//! Completions are clap_complete's dynamic kind: the small registration script (committed in
//! `completions/`) calls `login-release` back at TAB time, so values such as environments and
//! roles come from the effective configuration of the repository you are in, not from a list
//! frozen at build time.

use std::path::Path;

use anyhow::{Context as _, Result};
use clap_complete::env::Shells;
use clap_complete::CompletionCandidate;

use crate::config::Config;

const BIN: &str = "login-release";
/// The variable that switches the binary into completion mode (`COMPLETE=bash login-release`).
pub const COMPLETE_VAR: &str = "COMPLETE";

/// File name of each shell's registration script, where each shell's loader looks for it.
pub const COMPLETION_FILES: &[(&str, &str)] = &[
    ("bash", "login-release.bash"),
    ("zsh", "_login-release"),
    ("fish", "login-release.fish"),
    ("elvish", "login-release.elv"),
    ("powershell", "_login-release.ps1"),
];

/// Answers a completion request when `COMPLETE` is set, and exits; otherwise returns. The
/// command tree comes from the caller (`cli`), so this module knows no subcommand.
pub fn complete_if_requested(app: fn() -> clap::Command) {
    clap_complete::CompleteEnv::with_factory(app)
        .var(COMPLETE_VAR)
        .complete();
}

pub fn write_completions(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let shells = Shells::builtins();
    for (shell, file) in COMPLETION_FILES {
        let completer = shells
            .completer(shell)
            .with_context(|| format!("no completer for {shell}"))?;
        let mut buf = Vec::new();
        completer.write_registration(COMPLETE_VAR, BIN, BIN, BIN, &mut buf)?;
        std::fs::write(dir.join(file), buf).with_context(|| format!("writing {file}"))?;
    }
    Ok(())
}

/// Settings for completion: the current directory's effective configuration, or the defaults
/// when it cannot be read (a completion must never print an error).
fn settings() -> crate::config::Settings {
    Config::load(Path::new("."))
        .unwrap_or_else(|_| Config::defaults())
        .settings
}

/// Candidates for an environment argument.
pub fn environments() -> Vec<CompletionCandidate> {
    let s = settings();
    s.environments
        .iter()
        .map(|e| {
            let help = if s.is_production(e) {
                "production"
            } else {
                "environment"
            };
            CompletionCandidate::new(e).help(Some(help.into()))
        })
        .collect()
}

/// Candidates for a role argument.
pub fn roles() -> Vec<CompletionCandidate> {
    settings()
        .roles
        .iter()
        .map(CompletionCandidate::new)
        .collect()
}

/// Candidates for a role argument that also takes `ALL`.
pub fn roles_or_all() -> Vec<CompletionCandidate> {
    let mut c = roles();
    c.push(CompletionCandidate::new("ALL").help(Some("every group of the environment".into())));
    c
}

/// SSM command documents people run (the part after `{env}-ssm-cmd-`).
pub fn ssm_documents() -> Vec<CompletionCandidate> {
    ["passenger-restart", "puma-restart", "work-restart"]
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}
