//! `rollback`: Revert the last promotion on stages/prod (with --fleet, scale back the fleet too).

use anyhow::Result;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> Result<()> {
    anyhow::bail!("`rollback` is not implemented yet")
}
