//! `asg-recycle`: Double a role's groups (migration first) and schedule the return to normal size.

use anyhow::Result;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> Result<()> {
    anyhow::bail!("`asg-recycle` is not implemented yet")
}
