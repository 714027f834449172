//! `changelog`: Print the changelog of base..source in the promotion PR's Markdown.

use anyhow::Result;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> Result<()> {
    anyhow::bail!("`changelog` is not implemented yet")
}
