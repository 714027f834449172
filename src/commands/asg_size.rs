//! `asg-size`: Show or set an Auto Scaling Group's capacity.

use anyhow::Result;

use crate::context::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(_ctx: &Context, _args: Args) -> Result<()> {
    anyhow::bail!("`asg-size` is not implemented yet")
}
