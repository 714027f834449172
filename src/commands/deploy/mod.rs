//! `deploy`: the whole production release as one resumable, shared, locked runbook.
//!
//! The runbook's ten steps ([`Step`]) are the step commands' library functions, run one after
//! the other by [`drive`]. Between steps the release record ([`crate::deploy::record`]) is saved
//! on origin ([`crate::deploy::store`]), where a fast-forward push is the lock: `status` reads it
//! from any clone, `resume` goes on from the first step not done. Every step is idempotent
//! against the world (it re-reads git, GitHub and AWS and skips what is already true), so a record
//! that lags behind a crash heals itself on resume.

mod args;
mod preflight;
mod rollback;
mod scope;
mod session;
mod status;
mod steps;

use anyhow::Result;

use crate::context::Context;
use crate::deploy::calendar::DeployKind;
use crate::deploy::record::{Start, Step};
use crate::deploy::store::Store;
use crate::error::{self, AppError, Kind};
use crate::git::repo::Repo;

use session::Session;

pub use args::*;

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    match args.action {
        Action::Start(a) => start(ctx, a).await,
        Action::Status(a) => status::run(ctx, &a.env).await,
        Action::Resume(a) => resume(ctx, a).await,
        Action::Rollback(a) => rollback::run(ctx, &a).await,
        Action::Abort(a) => abort(ctx, &a).await,
    }
}

async fn start(ctx: &Context, a: StartArgs) -> Result<()> {
    let env = a.env.env.to_string();
    let opts = Options {
        app: a.app,
        kind: if a.patch {
            DeployKind::Patch
        } else {
            DeployKind::Full
        },
        rc: a.rc,
        cherry_pick: a.cherry_pick.clone(),
    };
    let off_cycle_reason = a.off_cycle.then(|| a.reason.clone().unwrap_or_default());
    let repo = Repo::open(ctx.repo_dir())?;
    let store = Store::new(&repo, ctx.settings())?;
    let doc = preflight::run(
        ctx,
        &preflight::Request {
            repo: &repo,
            env: &env,
            opts: &opts,
            off_cycle: off_cycle_reason.is_some(),
            steal: a.run.steal,
        },
        &store,
    )
    .await?;
    if ctx.dry_run() {
        ctx.out
            .plan(&preflight::runbook_plan(ctx, &env, &opts, &doc));
        ctx.out
            .status("dry run: nothing was changed (no lock was taken)");
        return Ok(());
    }
    // After the preflight, which reports a missing git identity among its findings.
    let actor = session::actor(ctx, &repo).await?;
    let start = Start {
        env: env.clone(),
        app: opts.app.name().to_string(),
        kind: opts.kind,
        off_cycle_reason: off_cycle_reason.clone(),
        options: opts.to_json(),
        actor: actor.clone(),
        now: ctx.now(),
    };
    let loaded = if a.run.steal {
        let reason = a.reason.clone().unwrap_or_default();
        session::take_over(&store, start, &actor, &reason, ctx.now())?
    } else {
        store.acquire(start)?
    };
    ctx.out.success(format!(
        "release of {} to {env} started; lock taken ({})",
        opts.app.name(),
        store.refname(&env)
    ));
    if let Some(reason) = &off_cycle_reason {
        ctx.out.warn(format!(
            "OFF-CYCLE deploy to {env}, outside the deploy calendar: {reason}"
        ));
        crate::slack::announce(
            ctx,
            crate::slack::Event::DeployNote {
                env: env.clone(),
                text: format!("OFF-CYCLE {} deploy: {reason}", opts.app.name()),
            },
        )
        .await;
    }
    let mut s = Session::new(ctx, &store, actor, loaded, opts, Pacing::from(&a.run));
    s.record_preflight(doc)?;
    drive(&mut s, &a.run).await
}

async fn resume(ctx: &Context, a: ResumeArgs) -> Result<()> {
    let env = a.env.env.to_string();
    let repo = Repo::open(ctx.repo_dir())?;
    let store = Store::new(&repo, ctx.settings())?;
    let actor = session::actor(ctx, &repo).await?;
    let mut loaded = session::load_active(&store, &env)?;
    let opts = Options::from_record(&loaded.record)?;
    let mut contradictions = error::Findings::new();
    if let Some(app) = a.app.filter(|&app| app != opts.app) {
        contradictions.add(
            format!(
                "--app {} contradicts the release record: it is a release of {}",
                app.name(),
                opts.app.name()
            ),
            "leave --app out, or abort this release and start another",
        );
    }
    if let Some(rc) = a.rc.filter(|rc| Some(*rc) != opts.rc) {
        contradictions.add(
            format!(
                "--rc {rc} contradicts the release record ({})",
                opts.rc
                    .map_or("RC from GitHub".to_string(), |r| format!("RC {r}"))
            ),
            "leave --rc out, or abort this release and start another",
        );
    }
    contradictions.into_result()?;
    if a.run.steal {
        let reason = a.reason.clone().unwrap_or_default();
        loaded = store.steal(&env, &actor, &reason, ctx.now())?;
        ctx.out
            .warn(format!("lock taken over by {actor}: {reason}"));
    } else {
        session::ensure_holder(&loaded, &actor)?;
    }
    if ctx.dry_run() {
        let next = loaded.record.current_step();
        ctx.out.status(format!(
            "dry run: the release would go on at step `{}`; nothing was changed",
            next.map_or("none (all done)", Step::title)
        ));
        return Ok(());
    }
    let mut s = Session::new(ctx, &store, actor, loaded, opts, Pacing::from(&a.run));
    drive(&mut s, &a.run).await
}

async fn abort(ctx: &Context, a: &ReasonArgs) -> Result<()> {
    let env = a.env.env.to_string();
    let repo = Repo::open(ctx.repo_dir())?;
    let store = Store::new(&repo, ctx.settings())?;
    let actor = session::actor(ctx, &repo).await?;
    let loaded = session::load_active(&store, &env)?;
    let at = loaded.record.current_step();
    if ctx.dry_run() {
        ctx.out.status(format!(
            "dry run: the release of {} to {env} would be aborted at step `{}`; nothing was changed",
            loaded.record.app,
            at.map_or("none", Step::title)
        ));
        return Ok(());
    }
    if a.steal {
        store.steal(&env, &actor, &a.reason, ctx.now())?;
    }
    let done = store.abort(&env, &actor, &a.reason, ctx.now())?;
    ctx.out.success(format!(
        "release of {} to {env} aborted at step `{}`; the lock is free. Production was not touched by this command.",
        done.record.app,
        at.map_or("none", Step::title)
    ));
    if at.is_some_and(|s| s >= Step::Recycle) {
        ctx.out.warn(format!(
            "the release had reached production; check it with `login-release ls-servers -e {env}` (or use `deploy rollback` next time)"
        ));
    }
    if ctx.out.is_json() {
        ctx.out.json("deploy abort", &done.record)?;
    }
    Ok(())
}

/// Runs the steps from the first not done to the end, saving the record around each.
async fn drive(s: &mut Session<'_>, flags: &RunFlags) -> Result<()> {
    while let Some(step) = s.record().current_step() {
        s.begin(step)?;
        s.ctx.out.status(s.ctx.out.bold(&format!(
            "== step {}/10: {}",
            step as usize + 1,
            step.title()
        )));
        match steps::run(s, step, flags).await {
            Ok(steps::End::Done(verified)) => s.done(step, verified)?,
            Ok(steps::End::Paused(why)) => {
                s.fail(step, &format!("paused: {why}"));
                s.ctx.out.notice(format!(
                    "the release is paused at step `{step}`: {why}. Go on with `login-release deploy resume --env {}`",
                    s.env()
                ));
                return Ok(());
            }
            Err(e) => {
                let report = error::report(&e);
                s.fail(step, &report.message);
                return Err(stopped(e, step, s.env()));
            }
        }
    }
    s.finish().await
}

/// A step's error, with where the release stands and what comes next.
fn stopped(e: anyhow::Error, step: Step, env: &str) -> anyhow::Error {
    let r = error::report(&e);
    let next = match (r.kind, step >= Step::Recycle) {
        (Kind::Interrupted, _) => format!(
            "the record is saved; go on with `login-release deploy resume --env {env}`"
        ),
        // The step's only way on is the rollback (a monitor FAIL, a squash): its hint says so.
        _ if e.downcast_ref::<steps::RollBack>().is_some() => r.hint.clone().unwrap_or_default(),
        (_, true) => format!(
            "{}; then `login-release deploy resume --env {env}`, or roll back with `login-release deploy rollback --env {env} --reason TEXT`",
            r.hint.as_deref().unwrap_or("fix what the message names")
        ),
        (_, false) => format!(
            "{}; then `login-release deploy resume --env {env}` (or `deploy abort --env {env} --reason TEXT`)",
            r.hint.as_deref().unwrap_or("fix what the message names")
        ),
    };
    AppError::new(
        r.kind,
        format!("deploy stopped at step `{step}`: {}", r.message),
    )
    .with_hint(next)
    .into()
}
