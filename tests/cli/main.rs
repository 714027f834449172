//! The one integration test binary (the AWS SDK is linked once). One module per subcommand.

#[path = "../support/mod.rs"]
mod support;

mod architecture;
mod asg_recycle;
mod asg_size;
mod changelog;
mod config;
mod config_recycle;
mod cut_rc;
mod demo;
mod deploy;
mod deploy_e2e;
mod deploy_record;
mod docs;
mod faults;
mod github;
mod guards;
mod ls_servers;
mod monitor_deploy;
mod plans;
mod prompt;
mod release_api;
mod rollback;
mod sandbox;
mod sandbox_github;
mod scale_remove;
mod ssm_command;
mod tag_release;
mod tail_logs;
mod watch_migration;
