//! One module per subcommand: `Args` (clap) and `async fn run(ctx, args)`. Commands orchestrate;
//! the logic lives in the library modules below them.

use anyhow::Result;

use crate::cli::Command;
use crate::context::Context;

pub mod asg_recycle;
pub mod asg_size;
pub mod changelog;
pub mod config;
pub mod config_recycle;
pub mod cut_rc;
pub mod generate;
pub mod ls_servers;
pub mod passenger_restart;
pub mod rollback;
pub mod sandbox;
pub mod scale_remove_new_instances;
pub mod scale_remove_old_instances;
pub mod ssm_command;
pub mod tag_release;
pub mod tail_logs;
pub mod watch_migration;

pub async fn run(ctx: &Context, command: Command) -> Result<()> {
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
        Command::SsmCommand(args) => ssm_command::run(ctx, args).await,
        Command::PassengerRestart(args) => passenger_restart::run(ctx, args).await,
        Command::Sandbox(args) => sandbox::run(ctx, args).await,
        Command::Config(args) => config::run(ctx, args).await,
        Command::Generate(args) => generate::run(ctx, args).await,
    }
}
