//! `ls-servers`: List an environment's instances with group, protection, health and git sha.

use anyhow::Result;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> Result<()> {
    anyhow::bail!("`ls-servers` is not implemented yet")
}
