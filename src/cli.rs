//! The command line: global flags on every subcommand, one variant per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands;
use crate::output::{ColorChoice, Format};

const AFTER_HELP: &str = "\
Exit status: 0 success (or nothing to do, or declined), 1 operation failed, 2 usage error,
3 preflight check failed or confirmation impossible (nothing changed), 4 partially applied,
5 a watched process failed (or monitor-deploy FAIL), 6 monitor-deploy INCONCLUSIVE or NO DATA,
130 interrupted.

AWS steps use the default credential chain: run them under `aws-vault exec prod-power --`.";

/// login.gov's release runbook as safe, scriptable commands.
///
/// Every command that changes something prints a plan, asks before applying it (or takes
/// --yes), and verifies what it did. --dry-run prints the same plan and changes nothing.
#[derive(Debug, Parser)]
#[command(name = "login-release", version, propagate_version = true, after_help = AFTER_HELP)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
