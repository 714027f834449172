//! The command line, in one place: global flags, the command enum, and its dispatch. Nothing
//! below this module knows the CLI: commands get a [`Context`] built here from the flags.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::commands::{self, *};
use crate::context::{Confirmer, Context};
use crate::output::{ColorChoice, Format, Output};

fn after_help() -> String {
    format!(
        "{}\n\nAWS steps use the default credential chain: run them under `aws-vault exec prod-power --`.",
        textwrap_exit_summary()
    )
}

/// The generated exit-status summary, wrapped like the rest of the help.
fn textwrap_exit_summary() -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in crate::error::exit_status_summary().split(' ') {
        if !line.is_empty() && line.len() + 1 + word.len() > 95 {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out
}

/// login.gov's release runbook as safe, scriptable commands.
///
/// Every command that changes something prints a plan, asks before applying it (or takes
/// --yes), and verifies what it did. --dry-run prints the same plan and changes nothing.
#[derive(Debug, Parser)]
#[command(name = "login-release", version, propagate_version = true, after_help = after_help())]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Run as if started in PATH (the git repository to work on).
    #[arg(short = 'C', global = true, value_name = "PATH")]
    pub repo: Option<PathBuf>,

    /// Print the plan and change nothing.
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// Apply without asking for confirmation (also skips typing the production environment name).
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,

    /// Output format; json prints one document with a `schema_version`.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Format::Text, value_name = "FORMAT")]
    pub output: Format,

    /// More diagnostics on stderr (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors and warnings on stderr.
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,

    /// When to use colours (NO_COLOR is respected with auto).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Do not post Slack announcements for this run.
    #[arg(long, global = true)]
    pub no_notify: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole production release as one resumable, shared, locked runbook.
    Deploy(commands::deploy::Args),
    /// Print the changelog of base..source in the promotion PR's Markdown.
    Changelog(commands::changelog::Args),
    /// Cut the RC branch from what staging runs and push it.
    CutRc(commands::cut_rc::Args),
    /// Create, sign, verify and push the release tag on stages/prod.
    TagRelease(commands::tag_release::Args),
    /// Revert the last promotion on stages/prod (with --fleet, scale back the fleet too).
    Rollback(commands::rollback::Args),
    /// List an environment's instances with group, protection, health and git sha.
    LsServers(commands::ls_servers::Args),
    /// Show or set an Auto Scaling Group's capacity.
    AsgSize(commands::asg_size::Args),
    /// Double a role's groups (migration first) and schedule the return to normal size.
    AsgRecycle(commands::asg_recycle::Args),
    /// After a recycle: unprotect the old instances so the groups remove them.
    ScaleRemoveOldInstances(commands::scale_remove_old_instances::Args),
    /// Roll back a recycle: cancel it and unprotect the new instances.
    ScaleRemoveNewInstances(commands::scale_remove_new_instances::Args),
    /// Recycle for new configuration, then (optionally) remove the old instances.
    ConfigRecycle(commands::config_recycle::Args),
    /// Follow the newest migration instance's provisioning log until it succeeds or fails.
    WatchMigration(commands::watch_migration::Args),
    /// Print (and follow) CloudWatch Logs events.
    TailLogs(commands::tail_logs::Args),
    /// Compare the new sha with the old one in the logs and give a verdict (PASS, FAIL, INCONCLUSIVE).
    MonitorDeploy(commands::monitor_deploy::Args),
    /// Run an SSM command document on a role's running instances.
    SsmCommand(commands::ssm_command::Args),
    /// Restart passenger on a role's instances (unsafe in production).
    PassengerRestart(commands::passenger_restart::Args),
    /// Start, inspect or stop the local rehearsal sandbox, and play the AWS parts it cannot.
    Sandbox(commands::sandbox::Args),
    /// Print the effective settings and where each came from.
    Config(commands::config::Args),
    /// Write shell completions and man pages (used by `make completions man`).
    #[command(hide = true)]
    Generate(commands::generate::Args),
}

impl GlobalArgs {
    /// The context every command runs in, from the global flags: this is the only place that
    /// turns flags into the explicit inputs the library takes.
    pub fn context(&self) -> Result<Context> {
        let confirmer = if self.yes {
            Confirmer::Yes
        } else {
            Confirmer::Terminal
        };
        Context::builder()
            .repo_dir(self.repo.clone().unwrap_or_else(|| PathBuf::from(".")))
            .output(Output::new(self.output, self.color, self.quiet))
            .confirmer(confirmer)
            .dry_run(self.dry_run)
            .notify(!self.no_notify)
            .clock_from_env()?
            .build()
    }
}

/// Answers a shell's completion request (`COMPLETE=bash login-release ...`) and exits.
pub fn complete_if_requested() {
    crate::complete::complete_if_requested(Cli::command);
}

/// The row formats (`--output tsv|ids`) a command prints; every command prints text and json.
fn row_formats(command: &Command) -> &'static [Format] {
    match command {
        Command::LsServers(_) => &[Format::Tsv, Format::Ids],
        Command::TailLogs(_) | Command::SsmCommand(_) | Command::PassengerRestart(_) => {
            &[Format::Tsv]
        }
        _ => &[],
    }
}

/// `--output tsv` on a command without rows is a usage error, not text in disguise: a script
/// that parses tab-separated output must not silently get a table.
fn check_format(ctx: &Context, command: &Command) -> Result<()> {
    let format = ctx.out.format;
    if matches!(format, Format::Text | Format::Json) || row_formats(command).contains(&format) {
        return Ok(());
    }
    let name = clap::ValueEnum::to_possible_value(&format)
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    Err(crate::error::usage(
        format!("--output {name} is not available for this command"),
        "use --output text or --output json (tsv: ls-servers, tail-logs, ssm-command; ids: ls-servers)",
    ))
}

/// Runs one command.
pub async fn run(ctx: &Context, command: Command) -> Result<()> {
    check_format(ctx, &command)?;
    match command {
        Command::Deploy(args) => deploy::run(ctx, args).await,
        Command::Changelog(args) => changelog::run(ctx, args).await,
        Command::CutRc(args) => cut_rc::run(ctx, args).await,
        Command::TagRelease(args) => tag_release::run(ctx, args).await,
        Command::Rollback(args) => rollback::run(ctx, args).await,
        Command::LsServers(args) => ls_servers::run(ctx, args).await,
        Command::AsgSize(args) => asg_size::run(ctx, args).await,
        Command::AsgRecycle(args) => asg_recycle::run(ctx, args).await,
        Command::ScaleRemoveOldInstances(args) => scale_remove_old_instances::run(ctx, args).await,
        Command::ScaleRemoveNewInstances(args) => scale_remove_new_instances::run(ctx, args).await,
        Command::ConfigRecycle(args) => config_recycle::run(ctx, args).await,
        Command::WatchMigration(args) => watch_migration::run(ctx, args).await,
        Command::TailLogs(args) => tail_logs::run(ctx, args).await,
        Command::MonitorDeploy(args) => monitor_deploy::run(ctx, args).await,
        Command::SsmCommand(args) => ssm_command::run(ctx, args).await,
        Command::PassengerRestart(args) => passenger_restart::run(ctx, args).await,
        Command::Sandbox(args) => sandbox::run(ctx, args).await,
        Command::Config(args) => commands::config::run(ctx, args).await,
        Command::Generate(args) => generate::run(args, Cli::command()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
