//! `deploy status`: where the release stands, read from origin (any clone sees the same).

use anyhow::Result;
use serde_json::json;

use crate::context::Context;
use crate::deploy::calendar;
use crate::deploy::record::{Lifecycle, Record, StepState};
use crate::deploy::store::Store;
use crate::git::repo::Repo;
use crate::output::{key_values, table};
use crate::plan::rfc3339;
use crate::types::Env;

fn when(t: jiff::Timestamp) -> String {
    rfc3339(t)
}

/// The record as people read it: the release, the lock, then one row per step.
pub fn render(r: &Record) -> String {
    let lifecycle = match &r.lifecycle {
        Lifecycle::Active { holder, since } => {
            format!("active, lock held by {holder} since {}", when(*since))
        }
        Lifecycle::Finished { at } => format!("finished at {}", when(*at)),
        Lifecycle::Aborted { at, by, reason } => {
            format!("aborted at {} by {by}: {reason}", when(*at))
        }
    };
    let mut head = vec![
        (
            "release",
            format!("{} to {} ({:?})", r.app, r.env, r.kind).to_lowercase(),
        ),
        ("state", lifecycle),
        (
            "started",
            format!("{} by {}", when(r.started_at), r.started_by),
        ),
    ];
    if let Some(reason) = &r.off_cycle_reason {
        head.push(("off-cycle", reason.clone()));
    }
    if let Some(step) = r.current_step().filter(|_| r.is_active()) {
        head.push(("next", step.title().to_string()));
    }
    let rows = r
        .steps()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (started, ended, by, note) = match &s.state {
                StepState::Pending => (String::new(), String::new(), String::new(), String::new()),
                StepState::Running { started, by } => {
                    (when(*started), String::new(), by.git.clone(), String::new())
                }
                StepState::Done { started, ended, by } => {
                    (when(*started), when(*ended), by.git.clone(), String::new())
                }
                StepState::Failed {
                    started,
                    ended,
                    by,
                    error,
                } => (when(*started), when(*ended), by.git.clone(), error.clone()),
            };
            vec![
                format!("{}", i + 1),
                s.step.title().to_string(),
                s.state.name().to_string(),
                started,
                ended,
                by,
                note,
            ]
        })
        .collect();
    let mut out = key_values(&head);
    out.push('\n');
    out.push_str(&table(
        &["#", "step", "status", "started", "ended", "by", "note"],
        rows,
        true,
    ));
    for a in &r.attestations {
        out.push_str(&format!(
            "\nchecked: {} by {} at {}",
            a.check,
            a.by.git,
            when(a.at)
        ));
    }
    for d in &r.decisions {
        out.push_str(&format!(
            "\ndecided at `{}`: {} -> {} ({}, {})",
            d.step,
            d.question,
            d.answer,
            d.by.git,
            when(d.at)
        ));
    }
    for st in &r.steals {
        out.push_str(&format!(
            "\nlock taken over from {} by {} at {}: {}",
            st.from.git,
            st.to.git,
            when(st.at),
            st.reason
        ));
    }
    out
}

pub async fn run(ctx: &Context, env: &Env) -> Result<()> {
    let repo = Repo::open(ctx.repo_dir())?;
    let store = Store::new(&repo, ctx.settings())?;
    let loaded = store.load(env)?;
    let next = calendar::plan_note(&ctx.settings().deploy, ctx.now())?;
    if ctx.out.is_json() {
        return ctx.out.json(
            "deploy status",
            &json!({
                "env": env.as_str(),
                "ref": store.refname(env),
                "record": loaded.as_ref().map(|l| &l.record),
                "head": loaded.as_ref().map(|l| l.head.to_string()),
                "calendar": next,
            }),
        );
    }
    match &loaded {
        Some(l) => ctx.out.data(render(&l.record)),
        None => ctx.out.data(format!(
            "no release has been started for {env} ({} does not exist on the remote)",
            store.refname(env)
        )),
    }
    ctx.out.data(next);
    Ok(())
}
