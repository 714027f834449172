//! `cut-rc`: Cut the RC branch from what staging runs and push it.

use anyhow::Result;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> Result<()> {
    anyhow::bail!("`cut-rc` is not implemented yet")
}
