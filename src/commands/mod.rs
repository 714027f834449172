//! One module per subcommand: `Args` (clap) and `async fn run(ctx, args)`. Commands orchestrate;
//! the logic lives in the library modules below them.

use anyhow::Result;

use crate::cli::Command;
use crate::context::Context;
use crate::output::Format;

pub mod asg_recycle;
pub mod asg_size;
pub mod changelog;
pub mod config;
pub mod config_recycle;
pub mod cut_rc;
pub mod generate;
pub mod ls_servers;
pub mod monitor_deploy;
pub mod passenger_restart;
pub mod rollback;
pub mod sandbox;
pub mod scale_remove_new_instances;
pub mod scale_remove_old_instances;
pub mod ssm_command;
pub mod tag_release;
pub mod tail_logs;
pub mod watch_migration;

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

pub async fn run(ctx: &Context, command: Command) -> Result<()> {
    check_format(ctx, &command)?;
    match command {
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
        Command::Config(args) => config::run(ctx, args).await,
        Command::Generate(args) => generate::run(ctx, args).await,
    }
}
