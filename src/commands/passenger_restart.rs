//! `passenger-restart`: Restart passenger on a role's instances (unsafe in production).

use anyhow::Result;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> Result<()> {
    anyhow::bail!("`passenger-restart` is not implemented yet")
}
