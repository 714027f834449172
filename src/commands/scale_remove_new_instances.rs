//! `scale-remove-new-instances`: Roll back a recycle: cancel it and unprotect the new instances.

use anyhow::Result;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> Result<()> {
    anyhow::bail!("`scale-remove-new-instances` is not implemented yet")
}
