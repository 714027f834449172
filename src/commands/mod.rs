//! One module per subcommand: `Args` (clap) and `async fn run(ctx, args)`. Commands orchestrate;
//! the logic lives in the library modules below them. The command enum and its dispatch are in
//! [`crate::cli`]; nothing here depends on it.

pub mod asg_recycle;
pub mod asg_size;
pub mod changelog;
pub mod config;
pub mod config_recycle;
pub mod cut_rc;
pub mod deploy;
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
