//! Step 1: everything that could stop the release later, checked at once before the lock is
//! taken, every finding reported together (cargo-release's preflight).

use anyhow::Result;
use serde_json::{json, Value};

use super::args::Options;
use super::scope::{groups_of, role_of};
use crate::context::Context;
use crate::deploy::calendar::{show_date, Calendar, DeployKind, Verdict};
use crate::deploy::record::Step;
use crate::deploy::store::Store;
use crate::error::{report, Findings};
use crate::git::repo::Repo;
use crate::git::sign;
use crate::plan::Plan;
use crate::release::cut::App;
use crate::release::deploy_json;

pub struct Request<'a> {
    pub repo: &'a Repo,
    pub env: &'a str,
    pub opts: &'a Options,
    pub off_cycle: bool,
    pub steal: bool,
}

/// Any failed check becomes a finding (a network error too: the user sees every problem at once).
fn check<T>(f: &mut Findings, r: Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            let r = report(&e);
            f.add(
                r.message,
                r.hint.unwrap_or_else(|| "fix it, then run again".into()),
            );
            None
        }
    }
}

/// Runs every check; `Ok(doc)` with what was found when nothing stops the release.
pub async fn run(ctx: &Context, req: &Request<'_>, store: &Store<'_>) -> Result<Value> {
    let s = ctx.settings();
    let mut f = Findings::new();
    let mut doc = serde_json::Map::new();
    ctx.out.status(
        "preflight: checking the calendar, the lock, staging, the fleet, signing and GitHub",
    );

    check_calendar(ctx, req, &mut f, &mut doc);
    check_lock(req, store, &mut f);

    // What staging runs (a full deploy cuts from it).
    if req.opts.kind == DeployKind::Full {
        let url = match req.opts.app {
            App::Idp => s.staging.idp.clone(),
            App::Pki => s.staging.pki.clone(),
        };
        if let Some(info) = check(&mut f, deploy_json::fetch(&url, req.opts.app.name()).await) {
            doc.insert("staging".into(), json!({"sha": info.sha.to_string()}));
        }
    }

    // The fleet: no recycle in progress, no extra servers.
    check_fleet(ctx, req, &mut f, &mut doc).await;

    // A signing key tag-release will accept, and who we are.
    if let Some(key) = check(
        &mut f,
        sign::find_signing_key(req.repo.config_string("user.signingkey").as_deref()),
    ) {
        doc.insert("signing_key".into(), json!(key.describe()));
    }
    check(&mut f, req.repo.identity(ctx.now()));

    // GitHub: the token can see the repository (PRs and releases are made there).
    if let Some(client) = check(&mut f, crate::github::connect(ctx)) {
        if let Some(r) = check(&mut f, client.check_repo().await) {
            doc.insert("github".into(), json!(r.full_name));
        }
    }

    f.into_result()?;
    ctx.out.success("preflight passed");
    Ok(Value::Object(doc))
}

/// The deploy calendar: a full deploy outside it needs --off-cycle; a patch on a Friday warns.
fn check_calendar(
    ctx: &Context,
    req: &Request<'_>,
    f: &mut Findings,
    doc: &mut serde_json::Map<String, Value>,
) {
    let s = ctx.settings();
    if let Some(cal) = check(f, Calendar::from_settings(&s.deploy)) {
        let today = cal.today(ctx.now());
        let verdict = cal.check(today, req.opts.kind);
        match &verdict {
            Verdict::OffCycle { reasons } if !req.off_cycle => {
                let why: Vec<String> = reasons.iter().map(ToString::to_string).collect();
                f.add(
                    format!(
                        "{} is outside the deploy calendar: {}",
                        show_date(today),
                        why.join("; ")
                    ),
                    format!(
                        "{}; or deploy off-cycle with --off-cycle --reason TEXT",
                        cal.next_allowed(today).map_or_else(
                            || "no full-deploy day in the next two years".to_string(),
                            |d| format!(
                                "the next full-deploy day is {} ({} in {})",
                                show_date(d),
                                cal.days_text(),
                                cal.time_zone()
                            )
                        )
                    ),
                );
            }
            Verdict::OffCycle { .. } => {}
            Verdict::Warn { warnings } => {
                for w in warnings {
                    ctx.out.warn(format!("{}: {w}", show_date(today)));
                }
            }
            Verdict::Allowed => {}
        }
        doc.insert(
            "calendar".into(),
            json!({"date": show_date(today), "verdict": verdict}),
        );
    }
}

/// The lock: no other release active for the environment, unless it is being stolen.
fn check_lock(req: &Request<'_>, store: &Store<'_>, f: &mut Findings) {
    if let Some(Some(l)) = check(f, store.load(req.env)) {
        if l.record.is_active() && !req.steal {
            f.add(
                format!(
                    "a release of {} is already active for {}: {}",
                    l.record.app,
                    req.env,
                    l.record.describe_holder()
                ),
                format!(
                    "wait for it to end (`login-release deploy status --env {}`), or take it over with `--steal --reason TEXT`",
                    req.env
                ),
            );
        }
    }
}

async fn check_fleet(
    ctx: &Context,
    req: &Request<'_>,
    f: &mut Findings,
    doc: &mut serde_json::Map<String, Value>,
) {
    let Some(aws) = check(f, ctx.aws().await) else {
        return;
    };
    if let Some(account) = check(f, aws.account().await) {
        doc.insert("account".into(), json!(account));
        doc.insert("region".into(), json!(aws.region));
    }
    let names = groups_of(ctx, req.env, req.opts.app);
    let Some(groups) = check(f, aws.describe_groups(&names).await) else {
        return;
    };
    for name in &names {
        if !groups.iter().any(|g| &g.name == name) {
            f.add(
                format!("the group {name} does not exist"),
                format!(
                    "`login-release ls-servers -e {}` lists the environment's groups",
                    req.env
                ),
            );
        }
    }
    let Some(actions) = check(f, aws.scheduled_actions(None).await) else {
        return;
    };
    for g in &groups {
        if let Some(a) = actions.iter().find(|a| a.group == g.name && a.is_recycle()) {
            f.add(
                format!("{}: a recycle is in progress ({})", g.name, a.name),
                format!(
                    "let it finish (`login-release scale-remove-old-instances {} ...`) or cancel it (`scale-remove-new-instances`)",
                    req.env
                ),
            );
        }
        let running = g
            .instances
            .iter()
            .filter(|i| !crate::aws::capacity::is_leaving(&i.lifecycle))
            .count() as i32;
        if running != g.desired {
            f.add(
                format!(
                    "{}: {running} instances running, desired capacity {}{}",
                    g.name,
                    g.desired,
                    if running > g.desired {
                        " (extra servers)"
                    } else {
                        ""
                    }
                ),
                "wait until the group is steady (`login-release ls-servers -e ENV`), or remove the extras",
            );
        }
    }
}

/// `deploy start --dry-run`: the runbook as it would run.
pub fn runbook_plan(ctx: &Context, env: &str, opts: &Options, doc: &Value) -> Plan {
    let s = ctx.settings();
    let mut plan = Plan::new(format!(
        "Release {} to {env} ({})",
        opts.app.name(),
        match opts.kind {
            DeployKind::Full => "full deploy",
            DeployKind::Patch => "patch deploy",
        }
    ))
    .env(env)
    .now(ctx.now());
    if let Some(a) = doc.get("account").and_then(Value::as_str) {
        plan = plan.target("account", a);
    }
    if let Some(r) = doc.get("region").and_then(Value::as_str) {
        plan = plan.target("region", r);
    }
    let role = role_of(opts.app);
    let what = |step: Step| -> String {
        match step {
            Step::Preflight => "passed (above)".to_string(),
            Step::Cut => match opts.kind {
                DeployKind::Full => format!(
                    "cut-rc {} --open-pr{}: the RC branch at staging's {}",
                    opts.app.name(),
                    opts.rc.map_or(String::new(), |r| format!(" --rc {r}")),
                    doc.pointer("/staging/sha")
                        .and_then(Value::as_str)
                        .map_or("sha", |s| &s[..s.len().min(10)])
                ),
                DeployKind::Patch => format!(
                    "cut-rc --patch --cherry-pick {} --open-pr",
                    opts.cherry_pick.join(" ")
                ),
            },
            Step::Merge => format!(
                "wait for an approval and a normal merge into {}",
                s.git.prod_branch
            ),
            Step::Recycle => format!("asg-recycle {env} {role}"),
            Step::Migration => match opts.app {
                App::Idp => format!("watch-migration {env}"),
                App::Pki => "none (pki has no migration instance)".to_string(),
            },
            Step::InService => "the new instances InService and Healthy".to_string(),
            Step::Monitor => format!("monitor-deploy {env} {role}"),
            Step::RemoveOld => {
                format!("scale-remove-old-instances {env} {role} after the scale-down")
            }
            Step::Soak => format!(
                "{} with the monitor, then the manual checks ({})",
                s.deploy.soak,
                s.deploy.checks.join(", ")
            ),
            Step::Tag => "tag-release --github-release".to_string(),
        }
    };
    for step in Step::ALL {
        plan.note(format!(
            "{:>2}. {}: {}",
            step as usize + 1,
            step.title(),
            what(step)
        ));
    }
    plan
}
