//! One release being driven: the record as we last saved it, who acts, and the saves.
//!
//! Every save is a fast-forward of the record's ref from the head we read: if someone else
//! wrote in between (a steal, an abort, a second driver), the save fails and we stop rather
//! than overwrite them. That is the lock.

use anyhow::Result;
use jiff::Timestamp;
use serde_json::Value;

use super::args::{Options, Pacing};
use crate::context::Context;
use crate::deploy::record::{Actor, Record, Start, Step, TransitionError};
use crate::deploy::store::{Loaded, SaveError, Store};
use crate::error::{AppError, Kind};
use crate::git::repo::Repo;

pub struct Session<'a> {
    pub ctx: &'a Context,
    store: &'a Store<'a>,
    pub actor: Actor,
    loaded: Loaded,
    pub opts: Options,
    pub pacing: Pacing,
}

/// Who acts: the git identity of the clone and the AWS caller identity.
pub async fn actor(ctx: &Context, repo: &Repo) -> Result<Actor> {
    let sig = repo.identity(ctx.now())?;
    let git = format!(
        "{} <{}>",
        sig.name().unwrap_or("unknown"),
        sig.email().unwrap_or("unknown")
    );
    Ok(Actor {
        git,
        aws: ctx.aws().await?.caller_arn().await?.to_string(),
    })
}

/// The active release of `env`, or a preflight error saying there is none.
pub fn load_active(store: &Store<'_>, env: &str) -> Result<Loaded> {
    match store.load(env)? {
        Some(l) if l.record.is_active() => Ok(l),
        Some(l) => Err(AppError::new(
            Kind::Preflight,
            format!(
                "no release is active for {env}: the last one is {}",
                l.record.describe_holder()
            ),
        )
        .with_hint(format!(
            "start one with `login-release deploy start --env {env}`"
        ))
        .into()),
        None => Err(AppError::new(
            Kind::Preflight,
            format!("no release has been started for {env}"),
        )
        .with_hint(format!(
            "start one with `login-release deploy start --env {env}`"
        ))
        .into()),
    }
}

/// Refuses when someone else holds the lock: they must be stolen from (`--steal --reason`).
pub fn ensure_holder(loaded: &Loaded, actor: &Actor) -> Result<()> {
    match loaded.record.holder() {
        Some((holder, _)) if holder != actor => Err(AppError::from(TransitionError::NotHolder {
            holder: holder.clone(),
            actor: actor.clone(),
        })
        .into()),
        _ => Ok(()),
    }
}

/// `deploy start --steal`: the active release is taken over and then ended, and a new one
/// begins. Both are recorded.
pub fn take_over(
    store: &Store<'_>,
    start: Start,
    actor: &Actor,
    reason: &str,
    now: Timestamp,
) -> Result<Loaded> {
    let env = start.env.clone();
    if store.load(&env)?.is_some_and(|l| l.record.is_active()) {
        store.steal(&env, actor, reason, now)?;
        store.abort(
            &env,
            actor,
            &format!("replaced by a new release: {reason}"),
            now,
        )?;
    }
    store.acquire(start)
}

impl<'a> Session<'a> {
    pub fn new(
        ctx: &'a Context,
        store: &'a Store<'a>,
        actor: Actor,
        loaded: Loaded,
        opts: Options,
        pacing: Pacing,
    ) -> Self {
        Session {
            ctx,
            store,
            actor,
            loaded,
            opts,
            pacing,
        }
    }

    pub fn record(&self) -> &Record {
        &self.loaded.record
    }

    pub fn env(&self) -> &str {
        &self.loaded.record.env
    }

    /// What a done step verified (its outcome document), for the steps after it.
    pub fn verified(&self, step: Step) -> Option<&Value> {
        self.record().step(step).verified.as_ref()
    }

    /// Applies `change` to our copy and saves it as a fast-forward of the head we read.
    pub fn save(
        &mut self,
        message: &str,
        change: impl FnOnce(&mut Record, &Actor, Timestamp) -> Result<(), TransitionError>,
    ) -> Result<()> {
        let now = self.ctx.now();
        let mut record = self.loaded.record.clone();
        change(&mut record, &self.actor, now).map_err(AppError::from)?;
        let head = self
            .store
            .save(&record, Some(self.loaded.head), message, &self.actor, now)
            .map_err(SaveError::into_error)?;
        self.loaded = Loaded { record, head };
        Ok(())
    }

    pub fn record_preflight(&mut self, doc: Value) -> Result<()> {
        self.save("preflight passed", |r, a, now| {
            r.start_step(Step::Preflight, a, now, None)?;
            r.finish_step(Step::Preflight, a, now, Some(doc))
        })
    }

    pub fn begin(&mut self, step: Step) -> Result<()> {
        self.save(&format!("step `{step}` started"), |r, a, now| {
            r.start_step(step, a, now, None)
        })
    }

    pub fn done(&mut self, step: Step, verified: Option<Value>) -> Result<()> {
        self.save(&format!("step `{step}` done"), |r, a, now| {
            r.finish_step(step, a, now, verified)
        })
    }

    /// Records a failed (or paused) step. A failure to save is a warning: the step's own error
    /// is what the user must see, and `resume` re-reads the world anyway.
    pub fn fail(&mut self, step: Step, error: &str) {
        let error = error.to_string();
        if let Err(e) = self.save(&format!("step `{step}` stopped"), |r, a, now| {
            r.fail_step(step, a, now, &error)
        }) {
            self.ctx.out.warn(format!(
                "could not save the stop in the release record: {}",
                crate::error::report(&e).message
            ));
        }
    }

    /// An answer given at a prompt.
    pub fn decide(&mut self, step: Step, question: &str, answer: &str) -> Result<()> {
        self.save(&format!("decision at `{step}`: {answer}"), |r, a, now| {
            r.decide(step, question, answer, a, now)
        })
    }

    /// A manual check confirmed by a person.
    pub fn attest(&mut self, check: &str) -> Result<()> {
        self.save(&format!("manual check confirmed: {check}"), |r, a, now| {
            r.attest(check, a, now)
        })
    }

    /// Ends the release (every step done) and frees the lock.
    pub async fn finish(&mut self) -> Result<()> {
        self.save("finished; lock released", |r, a, now| r.finish(a, now))?;
        let app = self.record().app.clone();
        let env = self.env().to_string();
        self.ctx.out.success(format!(
            "release of {app} to {env} finished; the lock is free"
        ));
        crate::slack::announce(
            self.ctx,
            crate::slack::Event::DeployNote {
                env,
                text: format!("{app} release finished"),
            },
        )
        .await;
        if self.ctx.out.is_json() {
            self.ctx.out.json("deploy", self.record())?;
        }
        Ok(())
    }
}
