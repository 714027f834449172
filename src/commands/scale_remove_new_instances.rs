//! `scale-remove-new-instances`: roll back a recycle: cancel it and unprotect the new instances.

use anyhow::Result;
use clap_complete::ArgValueCandidates;

use crate::context::Context;
use crate::recycle::run::{self, ScaleRemoveRequest};
use crate::recycle::scale_in::Direction;
use crate::recycle::Target;
use crate::types::Env;

/// Roll back a recycle: keep the oldest instances, remove scale-in protection from the newest.
///
/// During a recycle window it first cancels the recycle on every group involved (the role's
/// group, worker for idp, the migration group): deletes both pending recycle actions and sets
/// desired back to the pre-recycle size. Then it keeps the oldest `desired` instances and
/// removes scale-in protection from the newer ones, so the group removes them. Refuses while an
/// instance to keep is not InService and Healthy or still in its grace period. Running it twice
/// is safe. `rollback --fleet ENV` runs `scale-remove-new-instances ENV ALL`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Environment: prod, staging, int, dev, or any with groups named by `naming.asg`.
    #[arg(add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Env,
    /// Role, or ALL: every group of the environment except `naming.skip_tags` ones, empty ones
    /// and the migration group (which is still cancelled when a recycle is), with one
    /// confirmation for all.
    #[arg(add = ArgValueCandidates::new(crate::complete::roles_or_all))]
    pub role: String,
    /// With ALL: apply the groups that pass their checks and leave the others alone (listed),
    /// instead of changing nothing.
    #[arg(long)]
    pub skip_unsafe: bool,
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let mut req = ScaleRemoveRequest::new(&args.env, Target::parse(&args.role), Direction::New);
    req.skip_unsafe = args.skip_unsafe;
    let outcome = run::scale_remove(ctx, &req).await?;
    if ctx.out.is_json() {
        ctx.out.json("scale-remove-new-instances", &outcome)?;
    }
    Ok(())
}
