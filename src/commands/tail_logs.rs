//! `tail-logs`: Print (and follow) CloudWatch Logs events.

use anyhow::Result;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> Result<()> {
    anyhow::bail!("`tail-logs` is not implemented yet")
}
