//! The life of a fleet change (DESIGN section 2) over a [`Context`]: gather the facts, plan with
//! the pure rules, confirm once, apply in a safe order, read back. `asg-recycle`,
//! `config-recycle`, `scale-remove-*-instances` and `rollback --fleet` all call these.

use std::time::Duration;

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use super::plan::{self as recycle_plan, Facts, RecycleOptions, RecyclePlan, Skipped};
use super::scale_in::{self, Direction, GroupScaleIn, ScaleInPlan};
use super::watch::{self, GroupProgress, WatchTarget};
use super::{findings_result, whole_second, Clock, Finding, RealClock, Target};
use crate::aws::apply::{ApplyReport, Call, CallStatus};
use crate::aws::fleet::{Group, Instance, ScheduledAction};
use crate::aws::Aws;
use crate::context::{Context, Go};
use crate::error::{AppError, Kind};
use crate::output::table;
use crate::plan::{relative, rfc3339, when, Plan};

pub use crate::outcome::Status;

/// A group as read back after the change.
#[derive(Debug, Clone, Serialize)]
pub struct GroupState {
    pub group: String,
    pub desired: i32,
    pub instances: usize,
    pub protected: usize,
    pub recycle_actions: Vec<ScheduledAction>,
}

/// Refuses early (before waiting) when the confirmation at the end could not be asked.
pub fn require_confirmation_possible(ctx: &Context) -> Result<()> {
    if ctx.can_confirm() {
        return Ok(());
    }
    Err(AppError::new(
        Kind::Preflight,
        "confirmation needed, but there is no terminal to ask on",
    )
    .with_hint("read the plan (run with --dry-run), then re-run with --yes")
    .into())
}

/// The facts both kinds of change are planned from.
struct Fleet {
    groups: Vec<Group>,
    actions: Vec<ScheduledAction>,
}

/// Describes the named groups (or every group for ALL, or when a named one is missing, so the
/// error can list the environment's groups) and their scheduled actions.
async fn gather(aws: &Aws, names: Option<Vec<String>>) -> Result<Fleet> {
    let groups = match names {
        Some(names) => {
            let found = aws.describe_groups(&names).await?;
            if found.len() < names.len() {
                aws.describe_groups(&[]).await?
            } else {
                found
            }
        }
        None => aws.describe_groups(&[]).await?,
    };
    let actions = actions_of(aws, &groups).await?;
    Ok(Fleet { groups, actions })
}

/// The scheduled actions of `groups`, in one listing.
pub async fn actions_of(aws: &Aws, groups: &[Group]) -> Result<Vec<ScheduledAction>> {
    Ok(aws
        .scheduled_actions(None)
        .await?
        .into_iter()
        .filter(|a| groups.iter().any(|g| g.name == a.group))
        .collect())
}

fn plan_header(aws: &Aws, account: &str, title: String, env: &str, now: Timestamp) -> Plan {
    Plan::new(title)
        .target("account", account)
        .target("region", &aws.region)
        .env(env)
        .now(now)
}

fn print_skipped(ctx: &Context, skipped: &[Skipped]) {
    for s in skipped {
        ctx.out
            .status(format!("skipping {}: {}", s.group, s.reason));
    }
}

/// Applies `calls`, checking for Ctrl-C between two calls (never inside one).
async fn apply_calls(ctx: &Context, aws: &Aws, calls: &[Call]) -> ApplyReport {
    aws.apply_all(calls, async || {
        tokio::select! {
            biased;
            _ = ctx.interrupted() => true,
            _ = std::future::ready(()) => false,
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Recycle

/// A recycle to run: `asg-recycle` and `config-recycle`.
#[derive(Debug, Clone)]
pub struct RecycleRequest {
    pub env: String,
    pub target: Target,
    pub options: RecycleOptions,
    pub watch: bool,
    /// Extra lines for the plan (config-recycle's next step).
    pub notes: Vec<String>,
    /// The caller removes the old instances itself (config-recycle --then-remove-old): do not
    /// tell the user to.
    pub removes_old_itself: bool,
    /// Print the `next:` line after applying (config-recycle prints its own reminder).
    pub announce_next: bool,
    /// What the caller runs after the recycle (asg-recycle --monitor), shown in the plan after
    /// the recycle's calls so the confirmation and `--dry-run` show it. Not applied here.
    pub then: Vec<crate::plan::Step>,
}

/// What a recycle did.
#[derive(Debug, Clone, Serialize)]
pub struct RecycleOutcome {
    pub env: String,
    pub target: String,
    pub status: Status,
    pub plan: Plan,
    #[serde(flatten)]
    pub recycle: RecyclePlan,
    /// When the groups return to normal size (old instances can be removed after it).
    pub scale_down_at: Option<Timestamp>,
    /// The command that removes the old instances afterwards.
    pub next_step: Option<String>,
    pub verified: Vec<GroupState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watched: Option<Vec<GroupProgress>>,
}

fn plan_recycle(
    settings: &crate::config::Settings,
    req: &RecycleRequest,
    fleet: &Fleet,
    now: Timestamp,
) -> RecyclePlan {
    recycle_plan::plan(
        settings,
        &Facts {
            env: &req.env,
            target: &req.target,
            groups: &fleet.groups,
            actions: &fleet.actions,
            now,
        },
        &req.options,
    )
}

/// The plan made again after the confirmation, from a fresh read and a fresh clock (issue 12
/// items 5 and 6): a person may sit at the prompt for minutes, which would shorten the
/// migration's head start or schedule the scale-out in the past, and another operator may have
/// changed the groups meanwhile. Only the times may differ from what was approved; anything
/// else refuses (exit 3) with nothing changed.
async fn replan_after_confirmation(
    ctx: &Context,
    aws: &Aws,
    req: &RecycleRequest,
    names: Option<Vec<String>>,
    approved: RecyclePlan,
) -> Result<RecyclePlan> {
    let fleet = gather(aws, names).await?;
    let fresh = plan_recycle(ctx.settings(), req, &fleet, whole_second(ctx.now()));
    refuse_if_changed(
        &approved.calls,
        &fresh.calls,
        why_now(&fresh.findings),
        format!(
            "see what is there now with `login-release asg-size {} {}`, then run the recycle again for a new plan",
            req.env, req.target
        ),
    )?;
    if let (Some(then), Some(now)) = (approved.scale_down_at(), fresh.scale_down_at()) {
        let late = now.duration_since(then);
        if late.as_secs() >= 1 {
            ctx.out.status(format!(
                "the times are counted from the confirmation: {} later than shown",
                crate::types::format_duration(late.unsigned_abs())
            ));
        }
    }
    Ok(fresh)
}

/// The findings of a plan made again after the confirmation, as reasons to refuse it.
fn why_now(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| format!("{}: {}", f.group, f.problem))
        .collect()
}

/// Refuses (exit 3, nothing changed) when the plan made again after the confirmation is not
/// the one approved, times aside: `why` says what is wrong now (findings, a recycle rescheduled);
/// without it, differing calls are the reason.
fn refuse_if_changed(
    approved: &[Call],
    fresh: &[Call],
    mut why: Vec<String>,
    hint: String,
) -> Result<()> {
    let timeless = |calls: &[Call]| calls.iter().map(Call::timeless).collect::<Vec<_>>();
    if why.is_empty() && timeless(fresh) == timeless(approved) {
        return Ok(());
    }
    if why.is_empty() {
        why.push(match fresh.len() {
            0 => "there is nothing left to do (done meanwhile)".to_string(),
            n => format!(
                "the plan would now make {n} call{} that differ from the approved ones",
                if n == 1 { "" } else { "s" }
            ),
        });
    }
    Err(AppError::new(
        Kind::Preflight,
        format!(
            "the groups changed while the plan waited for confirmation (another operator?): {}; nothing was changed",
            why.join("; ")
        ),
    )
    .with_hint(hint)
    .into())
}

/// Preflight, plan, confirm, apply, verify (and watch) a recycle.
/// The groups a recycle of `target` may change (`None`: every group of the environment).
pub fn groups_of(
    settings: &crate::config::Settings,
    env: &str,
    target: &Target,
) -> Option<Vec<String>> {
    match target {
        Target::Role(role) => {
            let mut n = vec![
                settings.asg_name(env, role),
                settings.migration_group(env),
                settings.asg_name(env, recycle_plan::WORKER_ROLE),
            ];
            n.dedup();
            Some(n)
        }
        Target::All => None,
    }
}

pub async fn recycle(ctx: &Context, req: &RecycleRequest) -> Result<RecycleOutcome> {
    let aws = ctx.aws().await?;
    let settings = ctx.settings();
    let env = req.env.as_str();
    let names = groups_of(settings, env, &req.target);
    // One after the other, so a credentials or network problem is reported by the first call.
    let fleet = gather(aws, names.clone()).await?;
    let account = aws.account().await?;
    let now = whole_second(ctx.now());
    let planned = plan_recycle(settings, req, &fleet, now);
    print_skipped(ctx, &planned.skipped);
    findings_result(&planned.findings)?;

    let scale_down_at = planned.scale_down_at();
    let next_step = scale_down_at.map(|_| {
        let which = if planned.role_groups().len() == 1 {
            planned
                .groups
                .iter()
                .find(|g| g.mode != recycle_plan::Mode::Migration)
                .map(|g| g.role.clone())
                .unwrap_or_default()
        } else {
            "ALL".to_string()
        };
        format!("login-release scale-remove-old-instances {env} {which}")
    });
    let mut plan = plan_header(
        aws,
        account,
        format!("Recycle {env} {}", req.target),
        env,
        now,
    );
    for c in &planned.calls {
        plan.push(c.step());
    }
    for s in &req.then {
        plan.push(s.clone());
    }
    for n in &planned.notes {
        plan.note(n);
    }
    if let (Some(at), Some(cmd), false) = (scale_down_at, &next_step, req.removes_old_itself) {
        plan.note(format!(
            "after the scale-down at {}, remove the old instances: {cmd}",
            when(at, now)
        ));
    }
    for n in &req.notes {
        plan.note(n);
    }
    let mut outcome = RecycleOutcome {
        env: env.to_string(),
        target: req.target.to_string(),
        status: Status::DryRun,
        plan: plan.clone(),
        recycle: planned.clone(),
        scale_down_at,
        next_step,
        verified: Vec::new(),
        watched: None,
    };
    let go = ctx.confirm(&plan)?;
    outcome.status = go.into();
    if go != Go::Apply {
        return Ok(outcome);
    }
    let planned = replan_after_confirmation(ctx, aws, req, names, planned).await?;
    outcome.recycle = planned.clone();
    outcome.scale_down_at = planned.scale_down_at();

    let report = apply_calls(ctx, aws, &planned.calls).await;
    let undo = undo_commands(ctx.settings(), env, &req.target, &report);
    if let Some(e) = report.error("recycle", &undo, "Undo it with") {
        return Err(e);
    }
    ctx.out.success(format!(
        "applied {} change{}",
        planned.calls.len(),
        if planned.calls.len() == 1 { "" } else { "s" }
    ));
    crate::slack::announce(
        ctx,
        crate::slack::Event::RecycleStarted {
            env: env.to_string(),
            role: req.target.to_string(),
            rc: None,
        },
    )
    .await;

    let names = verify_recycle(ctx, aws, req, &planned, &mut outcome).await?;
    if !ctx.out.is_json() {
        ctx.out.data(states_table(&outcome.verified, now));
    }
    if let (Some(at), Some(cmd), true) = (
        scale_down_at,
        &outcome.next_step,
        req.announce_next && !req.removes_old_itself,
    ) {
        ctx.out.status(format!(
            "next: after the scale-down at {}, run `{cmd}`",
            when(at, now)
        ));
    }

    if req.watch {
        outcome.watched = Some(watch_recycle(ctx, aws, req, &planned, &names).await?);
    }
    Ok(outcome)
}

/// Reads back desired capacities and scheduled actions: every call as planned, or exit 1 with
/// the commands to check and cancel. Returns the groups read.
async fn verify_recycle(
    ctx: &Context,
    aws: &Aws,
    req: &RecycleRequest,
    planned: &RecyclePlan,
    outcome: &mut RecycleOutcome,
) -> Result<Vec<String>> {
    let env = req.env.as_str();
    let names: Vec<String> = planned.groups.iter().map(|g| g.group.clone()).collect();
    let after = gather(aws, Some(names.clone())).await?;
    let read_at = RealClock::starting_at(ctx.now()).now();
    let problems = verify_calls(&planned.calls, &after.groups, &after.actions, read_at);
    outcome.verified = states(&names, &after);
    if !problems.is_empty() {
        return Err(AppError::new(
            Kind::Failed,
            format!("the recycle was applied, but reading it back shows: {}", problems.join("; ")),
        )
        .with_hint(format!("check with `login-release asg-size {env} ROLE`; cancel with `login-release scale-remove-new-instances {env} {}`", req.target))
        .into());
    }
    Ok(names)
}

/// Waits until the new instances are InService and Healthy (`--watch`), or exit 5 with the
/// rollback.
async fn watch_recycle(
    ctx: &Context,
    aws: &Aws,
    req: &RecycleRequest,
    planned: &RecyclePlan,
    names: &[String],
) -> Result<Vec<GroupProgress>> {
    let env = req.env.as_str();
    let targets = WatchTarget::from_plan(&planned.groups);
    let clock = RealClock::starting_at(ctx.now());
    let mut progress = ctx.out.progress("waiting for the new instances");
    let watched = watch::watch_new_instances(
        &clock,
        &targets,
        watch::TICK,
        async || watch::observe(aws, names).await,
        |line| progress.set(line.to_string()),
    )
    .await?;
    progress.finish();
    match watched {
        Ok(done) => {
            for g in &done {
                ctx.out.success(format!(
                    "{}: {} new instance{} InService and Healthy",
                    g.group,
                    g.ready,
                    if g.ready == 1 { "" } else { "s" }
                ));
            }
            Ok(done)
        }
        Err(why) => {
            Err(AppError::new(Kind::Watched, format!("the new instances did not become healthy in time: {why}"))
                .with_hint(format!(
                    "look for abandoned or failed launches (#login-events, login-release ls-servers -e {env}); roll back with `login-release scale-remove-new-instances {env} {}`",
                    req.target
                ))
                .into())
        }
    }
}

/// The commands that cancel a recycle stopped part-way, right whether or not the calls of unknown
/// outcome were applied. `scale-remove-new-instances ENV ROLE` cancels the role's recycle and
/// brings along the worker and migration groups, but only while the role's group itself still
/// has its recycle; a group that may have been changed without it gets its own command, run
/// after (it finds nothing to do when the first one already cancelled it).
pub fn undo_commands(
    settings: &crate::config::Settings,
    env: &str,
    target: &Target,
    report: &ApplyReport,
) -> Vec<String> {
    let cancel = |role: &str| format!("login-release scale-remove-new-instances {env} {role}");
    let touched = report.touched_groups();
    let migration = settings.migration_group(env);
    let done = |g: &str| report.statuses(g).all(|s| s == CallStatus::Done);
    let mut cmds = Vec::new();
    // The groups the first command surely covers: they and the groups it brings along.
    let covered: Vec<&str> = match target {
        Target::Role(role) => {
            let main = settings.asg_name(env, role);
            if !touched.contains(&main.as_str()) {
                Vec::new()
            } else {
                cmds.push(cancel(role));
                if done(&main) {
                    touched.clone()
                } else {
                    touched.iter().copied().filter(|g| *g == main).collect()
                }
            }
        }
        Target::All => {
            let roles: Vec<&str> = touched
                .iter()
                .copied()
                .filter(|g| *g != migration)
                .collect();
            if roles.is_empty() {
                Vec::new()
            } else {
                cmds.push(cancel("ALL"));
                let brings_migration = roles.iter().any(|g| {
                    done(g)
                        && super::role_of(settings, env, g)
                            .is_some_and(|r| settings.recycle.migration_roles.contains(&r))
                });
                if brings_migration {
                    touched.clone()
                } else {
                    roles
                }
            }
        }
    };
    for g in touched.iter().filter(|g| !covered.contains(g)) {
        let role = super::role_of(settings, env, g).unwrap_or_else(|| g.to_string());
        let c = cancel(&role);
        if !cmds.contains(&c) {
            cmds.push(c);
        }
    }
    cmds
}

/// The commands that finish a scale-in stopped part-way: the same command again (it plans from
/// what it finds), then, for a cancel, each group brought along whose calls were not all made:
/// once the target's own recycle actions are deleted a re-run no longer brings it along.
pub fn resume_commands(
    settings: &crate::config::Settings,
    env: &str,
    target: &Target,
    direction: Direction,
    report: &ApplyReport,
) -> Vec<String> {
    let command = |t: &str| format!("login-release {} {env} {t}", direction.command());
    let mut cmds = vec![command(&target.to_string())];
    if direction == Direction::Old {
        return cmds;
    }
    let own = |g: &str| match target {
        Target::Role(role) => g == settings.asg_name(env, role),
        Target::All => g != settings.migration_group(env),
    };
    let mut groups: Vec<&str> = Vec::new();
    for a in &report.calls {
        let g = a.call.group();
        if a.status != CallStatus::Done && !own(g) && !groups.contains(&g) {
            groups.push(g);
        }
    }
    for g in groups {
        let role = super::role_of(settings, env, g).unwrap_or_else(|| g.to_string());
        let c = command(&role);
        if !cmds.contains(&c) {
            cmds.push(c);
        }
    }
    cmds
}

/// What a read-back of a recycle shows is not as planned.
/// A one-time action whose time has come may already have run (and gone) by the read-back.
pub fn verify_calls(
    calls: &[Call],
    groups: &[Group],
    actions: &[ScheduledAction],
    now: Timestamp,
) -> Vec<String> {
    let mut problems = Vec::new();
    for c in calls {
        match c {
            Call::SetDesired { group, to, .. } => match groups.iter().find(|g| &g.name == group) {
                Some(g) if g.desired == *to => {}
                Some(g) => {
                    problems.push(format!("{group}: desired is {}, expected {to}", g.desired))
                }
                None => problems.push(format!("{group} is gone")),
            },
            Call::PutScheduled {
                group,
                name,
                at,
                desired,
            } => {
                let found = actions
                    .iter()
                    .find(|a| &a.group == group && &a.name == name);
                match found {
                    Some(a)
                        if a.desired == Some(*desired)
                            && a.start.map(|s| s.as_second()) == Some(at.as_second()) => {}
                    Some(a) => problems.push(format!(
                        "{group}: {name} is desired {:?} at {:?}, expected {desired} at {}",
                        a.desired,
                        a.start.map(rfc3339),
                        rfc3339(*at)
                    )),
                    None if *at <= now => {}
                    None => problems.push(format!("{group}: {name} is not scheduled")),
                }
            }
            Call::DeleteScheduled { group, name } => {
                if actions.iter().any(|a| &a.group == group && &a.name == name) {
                    problems.push(format!("{group}: {name} is still scheduled"));
                }
            }
            Call::Unprotect { group, ids } => {
                if let Some(g) = groups.iter().find(|g| &g.name == group) {
                    for i in g
                        .instances
                        .iter()
                        .filter(|i| ids.contains(&i.id) && i.protected)
                    {
                        problems.push(format!("{group}: {} is still protected", i.id));
                    }
                }
            }
        }
    }
    problems
}

fn states(names: &[String], fleet: &Fleet) -> Vec<GroupState> {
    names
        .iter()
        .filter_map(|n| fleet.groups.iter().find(|g| &g.name == n))
        .map(|g| GroupState {
            group: g.name.clone(),
            desired: g.desired,
            instances: g.instances.len(),
            protected: g.instances.iter().filter(|i| i.protected).count(),
            recycle_actions: fleet
                .actions
                .iter()
                .filter(|a| a.group == g.name && a.is_recycle())
                .cloned()
                .collect(),
        })
        .collect()
}

fn states_table(states: &[GroupState], now: Timestamp) -> String {
    let rows = states
        .iter()
        .map(|s| {
            let mut actions: Vec<&ScheduledAction> = s.recycle_actions.iter().collect();
            actions.sort_by_key(|a| a.start);
            let scheduled: Vec<String> = actions
                .iter()
                .map(|a| {
                    format!(
                        "{} desired {} at {}",
                        a.name,
                        a.desired.map_or("-".to_string(), |d| d.to_string()),
                        a.start.map_or("-".to_string(), |t| when(t, now))
                    )
                })
                .collect();
            vec![
                s.group.clone(),
                s.desired.to_string(),
                s.instances.to_string(),
                if scheduled.is_empty() {
                    "-".into()
                } else {
                    scheduled.join("; ")
                },
            ]
        })
        .collect();
    table(&["GROUP", "DESIRED", "INSTANCES", "SCHEDULED"], rows, true)
}

// ---------------------------------------------------------------------------------------------
// Scale-in

/// A scale-in to run: `scale-remove-old-instances`, `scale-remove-new-instances`,
/// `config-recycle --then-remove-old` and `rollback --fleet`.
#[derive(Debug, Clone)]
pub struct ScaleRemoveRequest {
    pub env: String,
    pub target: Target,
    pub direction: Direction,
    pub force: bool,
    /// Old mode: wait for the recycle's scale-down (and the kept instances' grace period).
    pub wait: bool,
    /// Apply the safe groups and report the unsafe ones instead of refusing all.
    pub skip_unsafe: bool,
    /// Only these groups (config-recycle: the groups it recycled).
    pub only: Option<Vec<String>>,
    /// The user already approved this step (config-recycle --then-remove-old): show the plan,
    /// do not ask again.
    pub preapproved: bool,
    /// The time to plan from, when the caller has been waiting (default `ctx.now()`).
    pub now: Option<Timestamp>,
}

impl ScaleRemoveRequest {
    pub fn new(env: &str, target: Target, direction: Direction) -> Self {
        ScaleRemoveRequest {
            env: env.to_string(),
            target,
            direction,
            force: false,
            wait: false,
            skip_unsafe: false,
            only: None,
            preapproved: false,
            now: None,
        }
    }
}

/// What a scale-in did.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleRemoveOutcome {
    pub env: String,
    pub target: String,
    pub direction: Direction,
    pub status: Status,
    pub plan: Plan,
    pub groups: Vec<GroupScaleIn>,
    pub skipped: Vec<Skipped>,
    /// Groups left alone by `--skip-unsafe`, with why.
    pub unsafe_groups: Vec<UnsafeGroup>,
    pub verified: Vec<GroupState>,
    /// When each group removes what was unprotected.
    pub removal: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnsafeGroup {
    pub group: String,
    pub problems: Vec<String>,
}

async fn scale_in_facts(
    ctx: &Context,
    aws: &Aws,
    req: &ScaleRemoveRequest,
) -> Result<(Fleet, Vec<Instance>)> {
    let settings = ctx.settings();
    let env = req.env.as_str();
    let names = match (&req.target, &req.only) {
        (_, Some(only)) => Some(only.clone()),
        (Target::Role(role), None) => {
            // Every migration role's group too: whether the migration group may be cancelled
            // depends on whether any of them is still recycling.
            let mut n = vec![
                settings.asg_name(env, role),
                settings.asg_name(env, recycle_plan::WORKER_ROLE),
                settings.migration_group(env),
            ];
            n.extend(
                settings
                    .recycle
                    .migration_roles
                    .iter()
                    .map(|r| settings.asg_name(env, r)),
            );
            n.sort();
            n.dedup();
            Some(n)
        }
        (Target::All, None) => None,
    };
    let fleet = gather(aws, names).await?;
    let (selected, _, _) = scale_in::select(
        settings,
        env,
        &req.target,
        req.direction,
        &fleet.groups,
        &fleet.actions,
    );
    let ids: Vec<String> = selected
        .iter()
        .flat_map(|g| g.instances.iter().map(|i| i.id.clone()))
        .collect();
    let instances = aws.describe_instances(&ids).await?;
    Ok((fleet, instances))
}

fn plan_scale_in(
    ctx: &Context,
    req: &ScaleRemoveRequest,
    fleet: &Fleet,
    instances: &[Instance],
    now: Timestamp,
) -> ScaleInPlan {
    let mut p = scale_in::plan(
        ctx.settings(),
        &req.env,
        &req.target,
        &fleet.groups,
        &fleet.actions,
        instances,
        &scale_in::Options {
            direction: req.direction,
            force: req.force,
            now,
        },
    );
    if let Some(only) = &req.only {
        p.groups.retain(|g| only.contains(&g.group));
        p.skipped.retain(|s| only.contains(&s.group));
    }
    p
}

/// Counts down to the recycle's scale-down time `at` on a progress line (a spinner on a
/// terminal), for `--wait` and `config-recycle --then-remove-old`.
/// Counts down to the scale-down. Ctrl-C stops the wait with exit 130 and names `resume`, the
/// command that picks up where the wait stopped (nothing is changed by waiting).
pub async fn wait_for_scale_down(
    ctx: &Context,
    clock: &RealClock,
    at: Timestamp,
    resume: &str,
) -> Result<()> {
    let left = Duration::try_from(at.duration_since(clock.now())).unwrap_or_default();
    let mut progress = ctx
        .out
        .progress(watch::countdown("the scale-down", at, left));
    let waited = tokio::select! {
        _ = watch::wait_until(clock, at, watch::TICK, |left| {
            progress.set(watch::countdown("the scale-down", at, left))
        }) => Ok(()),
        _ = ctx.interrupted() => Err(AppError::new(
            Kind::Interrupted,
            format!("interrupted while waiting for the scale-down at {}", rfc3339(at)),
        )
        .with_hint(format!("the recycle stays scheduled and the old instances are untouched; resume with: {resume}"))
        .into()),
    };
    progress.finish();
    waited
}

/// The scale-in planned again after the confirmation (issue 12 item 6, as for the recycle):
/// another operator may have cancelled the recycle, or cancelled it and started another, while
/// the plan waited. The approved calls must be the calls now, and each group's recycle the same
/// one (its scale-down time), or nothing is changed (exit 3).
async fn rescale_after_confirmation(
    ctx: &Context,
    aws: &Aws,
    req: &ScaleRemoveRequest,
    approved: &[&GroupScaleIn],
    calls: &[Call],
    now: Timestamp,
) -> Result<()> {
    let (fleet, instances) = scale_in_facts(ctx, aws, req).await?;
    let fresh = plan_scale_in(ctx, req, &fleet, &instances, now);
    let mut why = why_now(&fresh.findings);
    let safe: Vec<&GroupScaleIn> = fresh.safe_groups().collect();
    for g in approved {
        let now = safe.iter().find(|f| f.group == g.group);
        match now {
            None => why.push(format!("{}: no longer safe to change", g.group)),
            Some(f) if f.scale_down_at != g.scale_down_at => why.push(format!(
                "{}: its recycle now scales down at {} (the plan showed {})",
                g.group,
                f.scale_down_at.map_or("never".to_string(), rfc3339),
                g.scale_down_at.map_or("never".to_string(), rfc3339)
            )),
            Some(_) => {}
        }
    }
    refuse_if_changed(
        calls,
        &ScaleInPlan::calls(safe.iter().copied()),
        why,
        format!(
            "see what is there now with `login-release ls-servers -e {}`, then run `login-release {} {} {}` again for a new plan",
            req.env,
            req.direction.command(),
            req.env,
            req.target
        ),
    )
}

/// Preflight, plan, confirm, apply and verify a scale-in.
/// Removing the old instances after a FAIL leaves only the failing code: say so loudly. The
/// verdict is the group tag `monitor-deploy` records (read with the group, no extra call).
fn warn_failed_verdicts(ctx: &Context, fleet: &Fleet) {
    for g in &fleet.groups {
        if let Some(v) = crate::monitor::record::failed(&g.tags) {
            ctx.out.warn(format!(
                "the last monitor-deploy verdict recorded on {} is {v}: removing the old instances leaves only the new code (roll back with `scale-remove-new-instances` instead?)",
                g.name
            ));
        }
    }
}

pub async fn scale_remove(ctx: &Context, req: &ScaleRemoveRequest) -> Result<ScaleRemoveOutcome> {
    if req.wait && !req.preapproved {
        require_confirmation_possible(ctx)?;
    }
    let aws = ctx.aws().await?;
    let env = req.env.as_str();
    let (mut fleet, mut instances) = scale_in_facts(ctx, aws, req).await?;
    if req.direction == Direction::Old {
        warn_failed_verdicts(ctx, &fleet);
    }
    let account = aws.account().await?;
    let clock = RealClock::starting_at(req.now.unwrap_or_else(|| ctx.now()));
    let mut now = whole_second(clock.now());
    let mut planned = plan_scale_in(ctx, req, &fleet, &instances, now);

    if req.wait && !ctx.dry_run() && planned.findings.is_empty() {
        if let Some(at) = planned.ready_at(req.direction).filter(|t| *t > now) {
            ctx.out.status(format!(
                "waiting until {} for the recycle's scale-down",
                when(at, now)
            ));
            let resume = format!(
                "login-release {} {env} {} --wait",
                req.direction.command(),
                req.target
            );
            wait_for_scale_down(ctx, &clock, at, &resume).await?;
            (fleet, instances) = scale_in_facts(ctx, aws, req).await?;
            now = whole_second(clock.now());
            planned = plan_scale_in(ctx, req, &fleet, &instances, now);
        }
    }

    print_skipped(ctx, &planned.skipped);
    if !ctx.out.is_json() {
        for g in &planned.groups {
            ctx.out.data(group_table(g, req.direction, now));
        }
    }
    let unsafe_groups = leave_unsafe_alone(ctx, req, &planned)?;
    let safe: Vec<&GroupScaleIn> = planned.safe_groups().collect();
    let calls = ScaleInPlan::calls(safe.iter().copied());
    let plan = scale_remove_plan(aws, account, req, now, &safe, &calls);
    let mut outcome = ScaleRemoveOutcome {
        env: env.to_string(),
        target: req.target.to_string(),
        direction: req.direction,
        status: Status::NothingToDo,
        plan: plan.clone(),
        groups: planned.groups.clone(),
        skipped: planned.skipped.clone(),
        unsafe_groups,
        verified: Vec::new(),
        removal: Vec::new(),
    };
    if calls.is_empty() {
        for g in &safe {
            ctx.out.status(nothing_to_do_line(g));
        }
        ctx.out.success("nothing to do");
        return Ok(outcome);
    }
    let go = confirm_or_preapproved(ctx, req, &plan)?;
    outcome.status = go.into();
    if go != Go::Apply {
        return Ok(outcome);
    }
    if !req.preapproved {
        // The command's own clock: it has moved on by the wait (and `--now` starts it).
        let now = whole_second(clock.now());
        rescale_after_confirmation(ctx, aws, req, &safe, &calls, now).await?;
    }
    let report = apply_calls(ctx, aws, &calls).await;
    let resume = resume_commands(ctx.settings(), env, &req.target, req.direction, &report);
    if let Some(e) = report.error(req.direction.command(), &resume, "Finish with") {
        return Err(e);
    }
    ctx.out.success(format!(
        "applied {} change{}",
        calls.len(),
        if calls.len() == 1 { "" } else { "s" }
    ));
    if req.direction == Direction::Old {
        crate::slack::announce(
            ctx,
            crate::slack::Event::OldInstancesRemoved {
                env: env.to_string(),
                role: req.target.to_string(),
                rc: None,
            },
        )
        .await;
    }
    verify_scale_remove(ctx, aws, req, &safe, &mut outcome).await?;
    Ok(outcome)
}

/// With unsafe groups: refuses (every finding at once), or with --skip-unsafe warns and leaves
/// them alone. Findings that are not a group's own always refuse.
fn leave_unsafe_alone(
    ctx: &Context,
    req: &ScaleRemoveRequest,
    planned: &ScaleInPlan,
) -> Result<Vec<UnsafeGroup>> {
    let findings = planned.all_findings();
    findings_result(&planned.findings)?;
    let mut unsafe_groups = Vec::new();
    if !findings.is_empty() {
        if !req.skip_unsafe {
            findings_result(&findings)?;
        }
        for g in planned.groups.iter().filter(|g| !g.findings.is_empty()) {
            for f in &g.findings {
                ctx.out.warn(format!(
                    "leaving {} alone: {} ({})",
                    g.group, f.problem, f.hint
                ));
            }
            unsafe_groups.push(UnsafeGroup {
                group: g.group.clone(),
                problems: g
                    .findings
                    .iter()
                    .map(|f: &Finding| f.problem.clone())
                    .collect(),
            });
        }
    }
    Ok(unsafe_groups)
}

/// The plan of a scale-remove: its calls, and a note per cancelled recycle and per removal.
fn scale_remove_plan(
    aws: &Aws,
    account: &str,
    req: &ScaleRemoveRequest,
    now: Timestamp,
    safe: &[&GroupScaleIn],
    calls: &[Call],
) -> Plan {
    let env = req.env.as_str();
    let verb = match req.direction {
        Direction::Old => "Remove old instances",
        Direction::New => "Remove new instances",
    };
    let what = match &req.only {
        Some(only) => only.join(", "),
        None => format!("{env} {}", req.target),
    };
    let mut plan = plan_header(aws, account, format!("{verb} of {what}"), env, now);
    for c in calls {
        plan.push(c.step());
    }
    for g in safe {
        if let Some(c) = &g.cancel {
            plan.note(if c.desired_from == c.desired_to {
                format!(
                    "{}: recycle cancelled: its scheduled actions are deleted; desired stays {}",
                    g.group, c.desired_to
                )
            } else {
                format!(
                    "{}: recycle cancelled: its scheduled actions are deleted; desired back to the pre-recycle {}",
                    g.group, c.desired_to
                )
            });
        }
        if !g.unprotect.is_empty() {
            plan.note(g.removal_note());
            if g.health_check_type != "ELB" {
                plan.note(format!(
                    "{} uses {} health checks, which only say the instance runs: check the service by hand",
                    g.group, g.health_check_type
                ));
            }
        }
    }
    plan
}

/// The confirmation, or for a caller that confirmed already (`deploy`), the plan shown.
fn confirm_or_preapproved(ctx: &Context, req: &ScaleRemoveRequest, plan: &Plan) -> Result<Go> {
    Ok(if req.preapproved {
        ctx.out.plan(plan);
        if ctx.dry_run() {
            Go::DryRun
        } else {
            Go::Apply
        }
    } else {
        ctx.confirm(plan)?
    })
}

/// Reads the groups back: every cancellation and removal as planned, or exit 1 with the
/// command that tries again; then what happens next, group by group.
async fn verify_scale_remove(
    ctx: &Context,
    aws: &Aws,
    req: &ScaleRemoveRequest,
    safe: &[&GroupScaleIn],
    outcome: &mut ScaleRemoveOutcome,
) -> Result<()> {
    let env = req.env.as_str();
    let names: Vec<String> = safe.iter().map(|g| g.group.clone()).collect();
    let after = gather(aws, Some(names.clone())).await?;
    let problems = scale_in::verify(safe, &after.groups, &after.actions);
    outcome.verified = states(&names, &after);
    if !problems.is_empty() {
        return Err(AppError::new(
            Kind::Failed,
            format!(
                "the changes were sent, but reading them back shows: {}",
                problems.join("; ")
            ),
        )
        .with_hint(format!(
            "run `login-release {} {env} {}` again",
            req.direction.command(),
            req.target
        ))
        .into());
    }
    for g in safe {
        if let Some(c) = &g.cancel {
            ctx.out.success(format!(
                "{}: recycle cancelled ({} deleted), desired {}",
                g.group,
                c.delete.join(", "),
                c.desired_to
            ));
        }
        if !g.unprotect.is_empty() {
            let line = g.removal_note();
            ctx.out.success(format!(
                "{}: scale-in protection removed from {}",
                g.group,
                g.unprotect.join(", ")
            ));
            ctx.out.status(&line);
            outcome.removal.push(line);
        }
    }
    Ok(())
}

fn nothing_to_do_line(g: &GroupScaleIn) -> String {
    let leaving = g.remove.len();
    if leaving == 0 {
        format!(
            "{}: {} instance{}, keeps {}: nothing to remove",
            g.group,
            g.keep.len(),
            if g.keep.len() == 1 { "" } else { "s" },
            g.keep_count
        )
    } else {
        format!(
            "{}: the {leaving} instance{} to remove {} already unprotected; {}",
            g.group,
            if leaving == 1 { "" } else { "s" },
            if leaving == 1 { "is" } else { "are" },
            g.removal_note()
                .split_once(": ")
                .map_or(String::new(), |(_, r)| r.to_string())
        )
    }
}

fn group_table(g: &GroupScaleIn, direction: Direction, now: Timestamp) -> String {
    let mut rows = Vec::new();
    let row = |what: &str, m: &scale_in::Member| {
        vec![
            what.to_string(),
            m.id.clone(),
            m.image_id.clone(),
            m.launch_time.map_or("-".into(), |t| {
                format!("{} ({})", rfc3339(t), relative(t, now))
            }),
            m.lifecycle.clone(),
            m.health.clone(),
            if m.protected {
                "protected".into()
            } else {
                "-".into()
            },
        ]
    };
    for m in &g.keep {
        rows.push(row("keep", m));
    }
    for m in &g.remove {
        rows.push(row(if m.protected { "unprotect" } else { "leaving" }, m));
    }
    for m in &g.ignored {
        rows.push(row("ignored", m));
    }
    let which = match direction {
        Direction::Old => "newest",
        Direction::New => "oldest",
    };
    let mut head = format!(
        "{}: desired {}, {} instance{}; keep the {which} {}",
        g.group,
        g.desired,
        g.keep.len() + g.remove.len(),
        if g.keep.len() + g.remove.len() == 1 {
            ""
        } else {
            "s"
        },
        g.keep_count
    );
    if let Some(c) = &g.cancel {
        head.push_str(&format!(
            " (cancels the recycle: desired {} -> {})",
            c.desired_from, c.desired_to
        ));
    } else if let Some(t) = g.scale_down_at {
        let verb = if t > now { "is due" } else { "was due" };
        head.push_str(&format!(
            " (the recycle's return to {} {verb} at {})",
            g.keep_count,
            when(t, now)
        ));
    }
    if rows.is_empty() {
        return head;
    }
    let body = table(
        &[
            "ACTION",
            "INSTANCE",
            "IMAGE",
            "LAUNCHED",
            "LIFECYCLE",
            "HEALTH",
            "PROTECTION",
        ],
        rows,
        true,
    );
    let indented: Vec<String> = body.lines().map(|l| format!("  {l}")).collect();
    format!("{head}\n{}", indented.join("\n"))
}

/// The fleet half of `rollback --fleet ENV`: `scale-remove-new-instances ENV ALL`. Cancels any
/// recycle in progress (deletes both recycle actions on every affected group, including the
/// migration group, and sets desired back to the pre-recycle size), then removes scale-in
/// protection from the newest instances so the groups remove them. Prints the plan, asks once
/// (honouring `--dry-run` and `--yes`) and reads back the result; the caller renders the
/// returned outcome (it is `Serialize`, for a JSON document).
pub async fn rollback_fleet(ctx: &Context, env: &str) -> Result<ScaleRemoveOutcome> {
    scale_remove(
        ctx,
        &ScaleRemoveRequest::new(env, Target::All, Direction::New),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fleet::{DELAYED_SCALE_OUT, RECYCLE_ONCE};
    use crate::recycle::testing::*;

    fn recycle_calls() -> Vec<Call> {
        let put = |group: &str, at: &str, desired| Call::PutScheduled {
            group: group.into(),
            name: RECYCLE_ONCE.into(),
            at: t(at),
            desired,
        };
        vec![
            put("prod-migration", "2026-11-26T12:10:00Z", 0),
            put("prod-idp", "2026-11-26T12:15:00Z", 12),
            put("prod-worker", "2026-11-26T12:15:00Z", 2),
            Call::SetDesired {
                group: "prod-migration".into(),
                from: 0,
                to: 1,
            },
        ]
    }

    /// The report of an apply whose `k`-th call (0-based) ended with `status`.
    fn stopped_at(calls: &[Call], k: usize, status: CallStatus) -> ApplyReport {
        ApplyReport {
            calls: calls
                .iter()
                .enumerate()
                .map(|(i, c)| crate::aws::apply::Applied {
                    call: c.clone(),
                    status: match i.cmp(&k) {
                        std::cmp::Ordering::Less => CallStatus::Done,
                        std::cmp::Ordering::Equal => status,
                        std::cmp::Ordering::Greater => CallStatus::NotSent,
                    },
                })
                .collect(),
            error: Some(
                "PutScheduledUpdateGroupAction failed: the AWS endpoint is unreachable".into(),
            ),
            interrupted: false,
        }
    }

    #[test]
    fn the_undo_is_right_whether_or_not_the_unknown_call_was_applied() {
        let s = crate::config::Config::defaults().settings;
        let calls = recycle_calls();
        let idp = Target::Role("idp".into());
        let undo = |k, st| undo_commands(&s, "prod", &idp, &stopped_at(&calls, k, st));
        let cancel = |r: &str| format!("login-release scale-remove-new-instances prod {r}");
        // The first call's answer lost: only the migration group may have changed.
        assert_eq!(undo(0, CallStatus::Unknown), [cancel("migration")]);
        assert!(undo(0, CallStatus::Failed).is_empty());
        assert!(undo(0, CallStatus::NotSent).is_empty());
        // idp's return unknown: cancel idp, then the migration group in case idp's was not made
        // (then the idp command does not bring it along).
        assert_eq!(
            undo(1, CallStatus::Unknown),
            [cancel("idp"), cancel("migration")]
        );
        // idp's return refused: only the migration group changed.
        assert_eq!(undo(1, CallStatus::Failed), [cancel("migration")]);
        // idp's return made: its command brings the others along.
        assert_eq!(undo(2, CallStatus::Unknown), [cancel("idp")]);
        assert_eq!(undo(3, CallStatus::Unknown), [cancel("idp")]);
        let all = |k, st| undo_commands(&s, "prod", &Target::All, &stopped_at(&calls, k, st));
        assert_eq!(all(0, CallStatus::Unknown), [cancel("migration")]);
        assert_eq!(
            all(1, CallStatus::Unknown),
            [cancel("ALL"), cancel("migration")]
        );
        assert_eq!(all(2, CallStatus::Failed), [cancel("ALL")]);
    }

    #[test]
    fn a_resume_names_the_groups_a_rerun_no_longer_brings_along() {
        let s = crate::config::Config::defaults().settings;
        let del = |group: &str, name: &str| Call::DeleteScheduled {
            group: group.into(),
            name: name.into(),
        };
        let calls = vec![
            del("prod-idp", RECYCLE_ONCE),
            del("prod-migration", RECYCLE_ONCE),
            Call::Unprotect {
                group: "prod-idp".into(),
                ids: vec!["i-1".into()],
            },
        ];
        let idp = Target::Role("idp".into());
        let resume = |k, st, d| resume_commands(&s, "prod", &idp, d, &stopped_at(&calls, k, st));
        assert_eq!(
            resume(1, CallStatus::Unknown, Direction::New),
            [
                "login-release scale-remove-new-instances prod idp",
                "login-release scale-remove-new-instances prod migration"
            ]
        );
        assert_eq!(
            resume(2, CallStatus::Unknown, Direction::New),
            ["login-release scale-remove-new-instances prod idp"]
        );
        assert_eq!(
            resume(0, CallStatus::Unknown, Direction::Old),
            ["login-release scale-remove-old-instances prod idp"]
        );
    }

    #[test]
    fn the_report_says_what_became_of_each_call_and_picks_the_exit_code() {
        let calls = recycle_calls();
        let cmd = ["login-release scale-remove-new-instances prod idp".to_string()];
        let r = stopped_at(&calls, 1, CallStatus::Unknown);
        let e = crate::error::report(&r.error("recycle", &cmd, "Undo it with").unwrap());
        assert_eq!(e.code, 4);
        assert_eq!(
            e.message,
            "recycle: 1 of 4 changes made, 1 outcome unknown, then PutScheduledUpdateGroupAction failed: the AWS endpoint is unreachable"
        );
        assert_eq!(
            e.hint.unwrap(),
            "done: PutScheduledUpdateGroupAction prod-migration (RecycleOnce.asg-recycle desired 0). \
             outcome unknown: PutScheduledUpdateGroupAction prod-idp (RecycleOnce.asg-recycle desired 12). \
             not sent: PutScheduledUpdateGroupAction prod-worker (RecycleOnce.asg-recycle desired 2); \
             UpdateAutoScalingGroup prod-migration (desired 0 -> 1 now). \
             Undo it with: login-release scale-remove-new-instances prod idp \
             (right whether or not the unknown change was applied)"
        );
        // Refused at the first call: nothing changed, exit 1, nothing to undo.
        let r = stopped_at(&calls, 0, CallStatus::Failed);
        let e = crate::error::report(&r.error("recycle", &[], "Undo it with").unwrap());
        assert_eq!(e.code, 1);
        assert!(
            e.message.starts_with("recycle: nothing was changed: "),
            "{}",
            e.message
        );
        // Unknown at the first call is not "nothing was changed".
        let r = stopped_at(&calls, 0, CallStatus::Unknown);
        assert_eq!(r.kind(), Some(Kind::Partial));
        // Ctrl-C between two calls.
        let mut r = stopped_at(&calls, 2, CallStatus::NotSent);
        r.interrupted = true;
        r.error = None;
        let e = crate::error::report(&r.error("recycle", &cmd, "Undo it with").unwrap());
        assert_eq!(e.code, 130);
        assert_eq!(e.message, "recycle: 2 of 4 changes made, then interrupted");
        let done = stopped_at(&calls, 9, CallStatus::Failed);
        assert!(done.complete() && done.error("recycle", &cmd, "x").is_none());
    }

    #[test]
    fn verify_calls_compares_the_read_back() {
        let at = t("2026-11-26T12:15:00Z");
        let calls = vec![
            Call::PutScheduled {
                group: "prod-idp".into(),
                name: RECYCLE_ONCE.into(),
                at,
                desired: 12,
            },
            Call::SetDesired {
                group: "prod-idp".into(),
                from: 12,
                to: 24,
            },
            Call::DeleteScheduled {
                group: "prod-idp".into(),
                name: DELAYED_SCALE_OUT.into(),
            },
        ];
        let g = group("prod-idp", 24, 48);
        let ok = [action("prod-idp", RECYCLE_ONCE, "2026-11-26T12:15:00Z", 12)];
        let now = t("2026-11-26T12:00:00Z");
        assert!(verify_calls(&calls, std::slice::from_ref(&g), &ok, now).is_empty());
        // Gone because its time came: it ran.
        assert!(verify_calls(&calls[..1], &[], &[], at).is_empty());
        assert_eq!(
            verify_calls(&calls[..1], &[], &[], now),
            ["prod-idp: RecycleOnce.asg-recycle is not scheduled"]
        );
        let wrong = [
            action("prod-idp", RECYCLE_ONCE, "2026-11-26T12:16:00Z", 12),
            action("prod-idp", DELAYED_SCALE_OUT, "2026-11-26T12:05:00Z", 24),
        ];
        let mut small = g.clone();
        small.desired = 12;
        let problems = verify_calls(&calls, &[small], &wrong, now);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[1].contains("desired is 12, expected 24"));
    }
}
