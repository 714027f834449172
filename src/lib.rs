//! login-release: login.gov's production release runbook as safe, scriptable commands.
//!
//! Commands (`commands/`) orchestrate; the library modules below them hold the logic (pure where
//! possible) and the adapters to AWS, git, GnuPG and HTTP.

pub mod aws;
pub mod changelog;
pub mod cli;
pub mod commands;
pub mod config;
pub mod context;
pub mod deploy;
pub mod docs;
pub mod error;
pub mod git;
pub mod github;
pub mod logs;
pub mod output;
pub mod plan;
pub mod recycle;
pub mod release;
pub mod sandbox;
pub mod slack;
pub mod ssm;
pub mod types;
