//! `watch-migration`: Follow the newest migration instance's provisioning log until it succeeds or fails.

use anyhow::Result;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> Result<()> {
    anyhow::bail!("`watch-migration` is not implemented yet")
}
