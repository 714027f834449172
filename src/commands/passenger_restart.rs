//! `passenger-restart`: restart passenger on a role's instances (unsafe in production).

use anyhow::Result;
use clap_complete::ArgValueCandidates;

use crate::commands::ssm_command::{self, SendOptions};
use crate::context::Context;
use crate::types::Env;

const AFTER_HELP: &str = "\
Examples:
  login-release passenger-restart staging idp
  login-release passenger-restart prod idp --allow-prod     # emergencies only

Exit status: as ssm-command; 3 also when ENV is a production environment and --allow-prod is missing.";

/// `ssm-command ENV ROLE passenger-restart`: runs `ENV-ssm-cmd-passenger-restart` on the running
/// instances of `ENV-ROLE`. Production environments are refused unless --allow-prod is given.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The environment (prod, staging, int, dev, or a personal one).
    #[arg(value_name = "ENV")]
    #[arg(add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Env,

    /// The role whose instances restart passenger (idp, worker, ...).
    #[arg(value_name = "ROLE")]
    #[arg(add = ArgValueCandidates::new(crate::complete::roles))]
    pub role: String,

    #[command(flatten)]
    pub opts: SendOptions,
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    // The production guard and its warning are the document's (setting ssm.guarded_documents),
    // in ssm_command::execute, so `ssm-command prod idp passenger-restart` meets them too.
    let env = args.env.as_str();
    ssm_command::execute(
        ctx,
        "passenger-restart",
        env,
        &args.role,
        "passenger-restart",
        &args.opts,
        &[],
    )
    .await
}
