//! Completions and man pages, generated from the clap definition so they never drift.
//!
//! Completions are clap_complete's dynamic kind: the small registration script (committed in
//! `completions/`) calls `login-release` back at TAB time, so values such as environments and
//! roles come from the effective configuration of the repository you are in, not from a list
//! frozen at build time.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use clap::CommandFactory;
use clap_complete::env::Shells;
use clap_complete::CompletionCandidate;
use roff::{bold, italic, roman, Roff};

use crate::cli::Cli;
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

/// Answers a completion request when `COMPLETE` is set, and exits; otherwise returns.
pub fn complete_if_requested() {
    clap_complete::CompleteEnv::with_factory(Cli::command)
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

pub fn write_man_pages(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    // The main page: clap's sections plus the ones release managers look for.
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    page.write_all(main_page_sections().as_bytes())?;
    man.render_version_section(&mut page)?;
    std::fs::write(dir.join("login-release.1"), page).context("writing login-release.1")?;
    // One page per visible subcommand (and their own subcommands).
    fn each(cmd: &clap::Command, dir: &Path) -> Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let man = clap_mangen::Man::new(sub.clone());
            man.generate_to(dir)
                .with_context(|| format!("writing the page of {}", sub.get_name()))?;
            each(sub, dir)?;
        }
        Ok(())
    }
    each(&cmd, dir)
}

fn main_page_sections() -> String {
    let mut r = Roff::new();
    r.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        ("0", "Success, or nothing to do, or the user declined."),
        ("1", "The operation failed (AWS, git, network); nothing was changed or the message says what was."),
        ("2", "Usage error."),
        ("3", "A preflight check failed, or confirmation was needed and not possible; nothing was changed."),
        ("4", "Partially applied: the message lists what was done and the command that resumes or undoes it."),
        ("5", "A watched process failed (migration abandoned, SSM command failed), or monitor-deploy's verdict is FAIL."),
        ("6", "monitor-deploy ended INCONCLUSIVE or NO DATA: neither shown right nor found wrong."),
        ("130", "Interrupted; the message says where things stand."),
    ] {
        r.control("TP", []).text([bold(code)]).text([roman(meaning)]);
    }
    r.control("SH", ["ENVIRONMENT"]);
    for (var, meaning) in [
        ("AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL", "AWS credentials and endpoint through the default chain; under aws-vault the AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN it exports are used."),
        ("GITHUB_TOKEN, GH_TOKEN", "Token for GitHub's REST API (promotion PR, release, revert PR). Never printed."),
        ("GITHUB_API_URL, GITHUB_REPOSITORY", "API base and owner/name, as in GitHub Actions."),
        ("GNUPGHOME", "GnuPG home holding the key that signs release tags."),
        ("LOGIN_RELEASE_<KEY>", "Any setting; dots become underscores (LOGIN_RELEASE_GIT_REMOTE=upstream). Lists are comma-separated."),
        ("LOGIN_RELEASE_SLACK_WEBHOOK", "Slack incoming-webhook URL for deploy announcements. A secret: never printed."),
        ("LOGIN_RELEASE_CONFIG", "Path of the user configuration file."),
        ("NO_COLOR", "Disables colours when set and --color is auto."),
        ("RUST_LOG", "Diagnostics filter; overrides -v and -q."),
    ] {
        r.control("TP", []).text([bold(var)]).text([roman(meaning)]);
    }
    r.control("SH", ["FILES"]);
    for (file, meaning) in [
        (
            "~/.config/login-release/config.toml",
            "User settings (XDG_CONFIG_HOME is honoured).",
        ),
        (
            ".login-release.toml",
            "Repository settings, at the top of the work tree.",
        ),
    ] {
        r.control("TP", [])
            .text([italic(file)])
            .text([roman(meaning)]);
    }
    r.text([
        roman(
            "Later layers win: built-in defaults, user file, repository file, environment, flags. ",
        ),
        bold("login-release config"),
        roman(" prints the effective settings and where each came from."),
    ]);
    r.control("SH", ["EXAMPLES"]);
    for (what, cmd) in [
        ("Cut the RC branch from what staging runs:", "login-release cut-rc"),
        ("The changelog of what the RC adds to production:", "login-release changelog --base origin/stages/prod --source origin/stages/rc-2026-11-26"),
        ("Look at production before recycling (no extra servers?):", "aws-vault exec prod-power -- login-release ls-servers -e prod"),
        ("Recycle idp (migration first, worker too), after reading the plan:", "aws-vault exec prod-power -- login-release asg-recycle prod idp"),
        ("Follow the migration:", "aws-vault exec prod-power -- login-release watch-migration prod"),
        ("After the recycle time, remove the old instances everywhere:", "aws-vault exec prod-power -- login-release scale-remove-old-instances prod ALL --wait"),
        ("Sign and push the release tag:", "login-release tag-release"),
        ("Practise all of it locally:", "make demo"),
    ] {
        r.control("TP", []).text([roman(what)]).text([bold(cmd)]);
    }
    r.control("SH", ["SEE ALSO"]);
    r.text([roman(
        "login-release-<subcommand>(1) for each subcommand, and the README.",
    )]);
    r.to_roff()
}
