//! `ssm-command`: Run an SSM command document on a role's running instances.

use anyhow::Result;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> Result<()> {
    anyhow::bail!("`ssm-command` is not implemented yet")
}
