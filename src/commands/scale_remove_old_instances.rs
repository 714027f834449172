//! `scale-remove-old-instances`: After a recycle: unprotect the old instances so the groups remove them.

use anyhow::Result;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> Result<()> {
    anyhow::bail!("`scale-remove-old-instances` is not implemented yet")
}
