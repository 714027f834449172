//! `tag-release`: Create, sign, verify and push the release tag on stages/prod.

use anyhow::Result;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> Result<()> {
    anyhow::bail!("`tag-release` is not implemented yet")
}
