//! `sandbox`: Start, inspect or stop the local rehearsal sandbox.

use anyhow::Result;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> Result<()> {
    anyhow::bail!("`sandbox` is not implemented yet")
}
