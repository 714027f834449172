//! `deploy rollback`: the runbook's rollback from wherever the release stands. The quick fleet
//! rollback while the old instances are still there (cancel the recycle, unprotect the new
//! instances), the revert branch and PR once the promotion was merged, the record ended, and a
//! reminder of the retrospective. Each part is the step command's library function, with its own
//! plan and confirmation.

use anyhow::Result;
use serde_json::{json, Value};

use super::args::{Options, ReasonArgs};
use super::session;
use crate::context::Context;
use crate::deploy::record::{Actor, Step, StepState};
use crate::deploy::store::Store;
use crate::git::repo::Repo;
use crate::github::MergeKind;
use crate::outcome::Status;
use crate::recycle::run as recycle_run;
use crate::release::revert::{self, RevertRequest, Squashed};
use crate::types::GitSha;

fn done(state: &StepState) -> bool {
    matches!(state, StepState::Done { .. })
}

fn pending(state: &StepState) -> bool {
    matches!(state, StepState::Pending)
}

pub async fn run(ctx: &Context, a: &ReasonArgs) -> Result<()> {
    let env = a.env.env.to_string();
    let repo = Repo::open(ctx.repo_dir())?;
    let store = Store::new(&repo, ctx.settings())?;
    let actor = session::actor(ctx, &repo).await?;
    let mut loaded = session::load_active(&store, &env)?;
    if a.steal && !ctx.dry_run() {
        loaded = store.steal(&env, &actor, &a.reason, ctx.now())?;
    } else {
        session::ensure_holder(&loaded, &actor)?;
    }
    let r = &loaded.record;
    let reached_prod = !pending(&r.step(Step::Recycle).state);
    let old_gone = done(&r.step(Step::RemoveOld).state);
    let promotion = super::scope::promotion_pr(r);
    let merged = merged_promotion(ctx, done(&r.step(Step::Merge).state), promotion.number).await?;
    let mut doc = serde_json::Map::new();
    ctx.out.status(format!(
        "rolling back the release of {} to {env} from step `{}`",
        r.app,
        r.current_step().map_or("none", Step::title)
    ));

    // 1. The quick fleet rollback, while the old instances can take the traffic back.
    if reached_prod && !old_gone {
        let out = recycle_run::rollback_fleet(ctx, &env).await?;
        if matches!(out.status, Status::Declined | Status::DryRun) {
            return stop_here(ctx, out.status);
        }
        doc.insert("fleet".into(), serde_json::to_value(&out)?);
    } else if old_gone {
        ctx.out.warn(
            "the old instances are gone: the quick fleet rollback cannot act; production goes back with the revert PR and a recycle",
        );
    }

    // 2. The revert branch and PR, once production's branch holds the promotion.
    if let Merged::Yes { squashed } = merged {
        let out = revert::run(
            ctx,
            &RevertRequest {
                rc: promotion.rc,
                open_pr: true,
                reason: Some(a.reason.clone()),
                fleet: None,
                squashed,
            },
        )
        .await?;
        if matches!(out.status, Status::Declined | Status::DryRun) {
            return stop_here(ctx, out.status);
        }
        if old_gone {
            ctx.out.notice(format!(
                "once the revert PR is merged, recycle to run it: `login-release asg-recycle {env} {}`",
                super::scope::role_of(Options::from_record(r)?.app)
            ));
        }
        doc.insert("revert".into(), serde_json::to_value(&out)?);
    } else if let (Merged::No { closed }, Some(pr)) = (merged, promotion.url) {
        ctx.out.notice(match closed {
            true => format!(
                "the promotion PR was closed unmerged ({pr}): production's branch is unchanged"
            ),
            false => format!("the promotion PR was not merged: close it on GitHub ({pr})"),
        });
    }

    if ctx.dry_run() {
        ctx.out
            .status("dry run: the release record would be ended as rolled back");
        return Ok(());
    }
    end_record(ctx, &store, &env, a, &actor, doc)
}

/// 3. The record: ended, with the reason, and the lock freed; the retrospective reminder.
fn end_record(
    ctx: &Context,
    store: &Store<'_>,
    env: &str,
    a: &ReasonArgs,
    actor: &Actor,
    doc: serde_json::Map<String, Value>,
) -> Result<()> {
    let now = ctx.now();
    let reason = format!("rolled back: {}", a.reason);
    let ended = store.update(env, &reason, actor, now, |rec| {
        let at = rec.current_step().unwrap_or(Step::Tag);
        rec.decide(at, "roll back?", &a.reason, actor, now)?;
        rec.abort(actor, &reason, now)
    })?;
    ctx.out.success(format!(
        "release of {} to {env} rolled back; the record is ended and the lock is free",
        ended.record.app
    ));
    ctx.out
        .notice("schedule the retrospective (the runbook asks for one after every rollback)");
    if ctx.out.is_json() {
        ctx.out.json(
            "deploy rollback",
            &json!({"env": env, "parts": doc, "record": ended.record}),
        )?;
    }
    Ok(())
}

/// What became of the promotion PR.
enum Merged {
    No {
        closed: bool,
    },
    /// Production's branch holds it: by the merge commit, or by GitHub's squash of it.
    Yes {
        squashed: Option<Squashed>,
    },
}

/// Asks GitHub unless the record already says merged: the release may have stopped at a squash
/// merge (production's branch changed all the same), or crashed after a merge it did not record.
async fn merged_promotion(ctx: &Context, recorded: bool, number: Option<u64>) -> Result<Merged> {
    let Some(n) = number.filter(|_| !recorded) else {
        return Ok(match recorded {
            true => Merged::Yes { squashed: None },
            false => Merged::No { closed: false },
        });
    };
    let client = crate::github::connect(ctx)?;
    let pr = client.pull(n).await?;
    if pr.merged_at.is_none() {
        return Ok(Merged::No {
            closed: pr.state == "closed",
        });
    }
    let squashed = match client.merge_kind(&pr).await? {
        MergeKind::Merge => None,
        MergeKind::Squash => pr
            .merge_commit_sha
            .as_deref()
            .and_then(|sha| sha.parse::<GitSha>().ok())
            .map(|sha| Squashed {
                sha,
                pr: n,
                branch: pr.head.ref_name.clone(),
            }),
    };
    Ok(Merged::Yes { squashed })
}

/// A declined part stops the rollback; the record stays as it was.
fn stop_here(ctx: &Context, status: Status) -> Result<()> {
    if status == Status::Declined {
        ctx.out.notice(
            "rollback stopped at your answer; the release record is unchanged (run `deploy rollback` again to go on)",
        );
    }
    Ok(())
}
