//! `scale-remove-old-instances`: after a recycle, unprotect the old instances so the groups
//! remove them.

use anyhow::Result;
use clap_complete::ArgValueCandidates;

use crate::context::Context;
use crate::recycle::run::{self, ScaleRemoveRequest};
use crate::recycle::scale_in::Direction;
use crate::recycle::Target;
use crate::types::Env;

/// After a recycle: keep the newest instances, remove scale-in protection from the others.
///
/// Keeps the newest `desired` instances of each group (or the size a pending recycle returns
/// to) and removes scale-in protection from the others that still have it, so the group
/// removes them. Never terminates an instance or changes a desired capacity. Refuses while an
/// instance to keep is not InService and Healthy or still in its grace period, and before the
/// recycle's scale-down time (unless --force; --wait waits for it). Running it twice is safe.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Environment: prod, staging, int, dev, or any with groups named by `naming.asg`.
    #[arg(add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Env,
    /// Role, or ALL: every group of the environment except `naming.skip_tags` ones, empty ones
    /// and the migration group, with one confirmation for all.
    #[arg(add = ArgValueCandidates::new(crate::complete::roles_or_all))]
    pub role: String,
    /// Do not wait for the recycle's scale-down: unprotect now (the group removes them when
    /// its desired capacity drops).
    #[arg(long, conflicts_with = "wait")]
    pub force: bool,
    /// Wait (with a countdown) until the recycle's scale-down time, then proceed.
    #[arg(long)]
    pub wait: bool,
    /// With ALL: apply the groups that pass their checks and leave the others alone (listed),
    /// instead of changing nothing.
    #[arg(long)]
    pub skip_unsafe: bool,
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let mut req = ScaleRemoveRequest::new(&args.env, Target::parse(&args.role), Direction::Old);
    req.force = args.force;
    req.wait = args.wait;
    req.skip_unsafe = args.skip_unsafe;
    let outcome = run::scale_remove(ctx, &req).await?;
    if ctx.out.is_json() {
        ctx.out.json("scale-remove-old-instances", &outcome)?;
    }
    Ok(())
}
