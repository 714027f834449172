//! login-release: login.gov's production release runbook as safe, scriptable commands.
//!
//! Commands (`commands/`) orchestrate; the library modules below them hold the logic (pure where
//! possible) and the adapters to AWS, git, GnuPG and HTTP.

// Every byte the user sees goes through `output` (which allows itself): a stray println! in a
// library function would bypass --quiet, --output json and the secret redaction.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod aws;
pub mod changelog;
pub mod cli;
pub mod commands;
pub mod complete;
pub mod config;
pub mod context;
pub mod deploy;
pub mod error;
pub mod git;
pub mod github;
pub mod logs;
pub mod manpage;
pub mod monitor;
pub mod outcome;
pub mod output;
pub mod plan;
pub mod prompt;
pub mod recycle;
pub mod release;
pub mod sandbox;
pub mod slack;
pub mod ssm;
pub mod types;
