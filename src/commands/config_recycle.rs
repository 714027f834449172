//! `config-recycle`: recycle for new configuration, then (optionally) remove the old instances.

use anyhow::Result;
use clap_complete::ArgValueCandidates;
use serde::Serialize;

use crate::commands::asg_recycle::RecycleFlags;
use crate::context::Context;
use crate::error::{report, AppError, Kind};
use crate::plan::when;
use crate::recycle::run::{self, RecycleOutcome, ScaleRemoveOutcome, ScaleRemoveRequest, Status};
use crate::recycle::scale_in::Direction;
use crate::recycle::{Clock, RealClock, Target};
use crate::types::Env;

/// Recycle a role so its instances read new configuration, then remove the old instances.
///
/// Instances read their configuration at boot, so new configuration needs new instances: this
/// is asg-recycle (same flags) plus the next step. In production it prints the exact time to run
/// `scale-remove-old-instances`; with --then-remove-old it waits (with a countdown) until the
/// recycle's scale-down time and removes the old instances itself, after the same health checks.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Environment: prod, staging, int, dev, or any with groups named by `naming.asg`.
    #[arg(add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Env,
    /// Role (idp, pivcac...) or ALL.
    #[arg(add = ArgValueCandidates::new(crate::complete::roles))]
    pub role: String,
    #[command(flatten)]
    pub flags: RecycleFlags,
    /// Wait until the scale-down time, then remove the old instances (one confirmation covers
    /// both steps).
    #[arg(long)]
    pub then_remove_old: bool,
}

#[derive(Debug, Serialize)]
struct Outcome {
    recycle: RecycleOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    remove_old: Option<ScaleRemoveOutcome>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let env = args.env.as_str();
    let mut req = args.flags.request(ctx, env, &args.role)?;
    req.announce_next = !ctx.settings().is_production(env);
    if args.then_remove_old {
        // The removal runs unattended at the end; refuse now rather than after the wait.
        run::require_confirmation_possible(ctx)?;
        req.removes_old_itself = true;
        req.notes.push(
            "then (--then-remove-old): wait until the scale-down and remove the old instances' scale-in protection, after checking the new ones are InService and Healthy".into(),
        );
    }
    let recycle = run::recycle(ctx, &req).await?;
    let mut outcome = Outcome {
        recycle,
        remove_old: None,
    };
    let applied = outcome.recycle.status == Status::Applied;
    let (Some(at), Some(next)) = (
        outcome.recycle.scale_down_at,
        outcome.recycle.next_step.clone(),
    ) else {
        return finish(ctx, &outcome);
    };
    if applied && !args.then_remove_old && ctx.settings().is_production(env) {
        ctx.out.warn(format!(
            "reminder: the new configuration is live on every instance only after the old ones go. At {} run:\n    {next}\n  (or next time use `config-recycle --then-remove-old`)",
            when(at, ctx.now())
        ));
    }
    if applied && args.then_remove_old {
        let clock = RealClock::starting_at(ctx.now());
        run::wait_for_scale_down(ctx, &clock, at, &format!("{next} --wait")).await?;
        let mut remove = ScaleRemoveRequest::new(env, Target::All, Direction::Old);
        remove.only = Some(outcome.recycle.recycle.role_groups());
        // No further waiting: the default spin-down is at least twice the grace period, so the
        // new instances' health is known by now; if it is not, say so (exit 4) and stop.
        remove.preapproved = true;
        remove.now = Some(clock.now());
        match run::scale_remove(ctx, &remove).await {
            Ok(o) => outcome.remove_old = Some(o),
            Err(e) => {
                let r = report(&e);
                let hint = r
                    .hint
                    .map(|h| format!(" once this is fixed: {h}"))
                    .unwrap_or_default();
                return Err(AppError::new(
                    Kind::Partial,
                    format!(
                        "the recycle was applied, but the old instances were not unprotected: {}",
                        r.message
                    ),
                )
                .with_hint(format!("run `{next}`{hint}"))
                .into());
            }
        }
    }
    finish(ctx, &outcome)
}

fn finish(ctx: &Context, outcome: &Outcome) -> Result<()> {
    if ctx.out.is_json() {
        ctx.out.json("config-recycle", outcome)?;
    }
    Ok(())
}
