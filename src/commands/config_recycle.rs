//! `config-recycle`: Recycle for new configuration, then (optionally) remove the old instances.

use anyhow::Result;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> Result<()> {
    anyhow::bail!("`config-recycle` is not implemented yet")
}
