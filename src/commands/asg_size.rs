//! `asg-size`: Show or set an Auto Scaling Group's capacity.
//!
//! Show: one DescribeAutoScalingGroups and one DescribeScheduledActions, concurrently. Set: the
//! same facts, then `min <= desired <= max` checked after the change, a plan, the confirmation,
//! one UpdateAutoScalingGroup, and the group read back.

use anyhow::Result;
use clap_complete::ArgValueCandidates;
use serde::Serialize;

use crate::aws::apply::CallStatus;
use crate::aws::capacity::{self, Capacity, Change, Counts, Field};
use crate::aws::fleet::{Group, ScheduledAction, RECYCLE_ONCE};
use crate::aws::outcome::CallError;
use crate::context::Context;
use crate::error::{failed, preflight, AppError, Kind};
use crate::plan::{self, Plan, Step};
use crate::types::Env;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  login-release asg-size prod idp              # capacity, instances, scheduled actions
  login-release asg-size prod idp 6            # set desired to 6 (after a plan and a confirmation)
  login-release asg-size prod idp 20 --max     # raise the maximum

The change is refused unless min <= desired <= max afterwards; the message names the value to
change first.")]
pub struct Args {
    /// Environment, e.g. prod.
    #[arg(add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Env,

    /// Role, e.g. idp; the group is `{env}-{role}` (setting naming.asg).
    #[arg(add = ArgValueCandidates::new(crate::complete::roles))]
    pub role: String,

    /// New value for desired capacity (or for --min / --max).
    #[arg(value_parser = parse_count, allow_negative_numbers = true)]
    pub count: Option<i32>,

    /// COUNT sets the minimum size.
    #[arg(long, requires = "count", conflicts_with_all = ["max", "desired"])]
    pub min: bool,

    /// COUNT sets the maximum size.
    #[arg(long, requires = "count", conflicts_with = "desired")]
    pub max: bool,

    /// COUNT sets the desired capacity (the default).
    #[arg(long, requires = "count")]
    pub desired: bool,
}

fn parse_count(s: &str) -> std::result::Result<i32, String> {
    s.parse::<u32>()
        .ok()
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| format!("`{s}` is not a count (a whole number, 0 or more)"))
}

impl Args {
    fn field(&self) -> Field {
        if self.min {
            Field::Min
        } else if self.max {
            Field::Max
        } else {
            Field::Desired
        }
    }
}

/// The facts shown, and the JSON document's body.
#[derive(Serialize)]
struct Report {
    group: String,
    env: String,
    role: String,
    capacity: Capacity,
    health_check: HealthCheck,
    instances: Counts,
    scheduled_actions: Vec<ActionView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recycle_in_progress_until: Option<String>,
}

#[derive(Serialize)]
struct HealthCheck {
    r#type: String,
    grace_secs: i32,
}

#[derive(Serialize)]
struct ActionView {
    name: String,
    start: Option<String>,
    relative: Option<String>,
    recurrence: Option<String>,
    desired: Option<i32>,
    min: Option<i32>,
    max: Option<i32>,
}

#[derive(Serialize)]
struct SetDoc<'a> {
    #[serde(flatten)]
    report: &'a Report,
    change: ChangeDoc<'a>,
}

impl<'a> SetDoc<'a> {
    fn new(
        report: &'a Report,
        field: Field,
        value: i32,
        outcome: &'a str,
        plan: Option<&'a Plan>,
        after: Option<Capacity>,
    ) -> Self {
        SetDoc {
            report,
            change: ChangeDoc {
                field,
                value,
                outcome,
                plan,
                after,
            },
        }
    }
}

#[derive(Serialize)]
struct ChangeDoc<'a> {
    field: Field,
    value: i32,
    /// `applied`, `dry_run`, `declined` or `nothing_to_do`.
    outcome: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<&'a Plan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<Capacity>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let settings = ctx.settings();
    let env = args.env.as_str();
    let name = settings.asg_name(env, &args.role);
    let aws = ctx.aws().await?;
    let now = ctx.now();

    let want = [name.clone()];
    let (groups, actions) = tokio::try_join!(
        aws.describe_groups(&want),
        aws.scheduled_actions(Some(&name))
    )?;
    let Some(group) = groups.into_iter().find(|g| g.name == name) else {
        return Err(missing_group(ctx, aws, env, &args.role).await);
    };
    let report = describe(&group, env, &args.role, &actions, now);
    let Some(count) = args.count else {
        if ctx.out.is_json() {
            ctx.out.json("asg-size", &report)?;
        } else {
            ctx.out.data(render(&report, &group, &actions, now));
        }
        extra_warning(ctx, &report, env, &args.role);
        return Ok(());
    };
    let facts = Facts {
        aws,
        group: &group,
        actions: &actions,
        report: &report,
    };
    set(ctx, &args, &facts, count).await
}

/// What `set` acts on, as `run` read it.
struct Facts<'a> {
    aws: &'a crate::aws::Aws,
    group: &'a Group,
    actions: &'a [ScheduledAction],
    report: &'a Report,
}

/// Sets one field: plan, confirmation, the one call, the read-back.
async fn set(ctx: &Context, args: &Args, facts: &Facts<'_>, count: i32) -> Result<()> {
    let (env, name, report) = (args.env.as_str(), facts.group.name.as_str(), facts.report);
    let field = args.field();
    let cmd = format!("login-release asg-size {env} {}", args.role);
    let change = capacity::plan_change(name, report.capacity, field, count, &cmd)
        .map_err(|p| preflight(p.message, p.hint))?;
    ctx.out
        .status(format!("Current capacity of {name}: {}", report.capacity));
    let (before, after) = match change {
        Change::Nothing => {
            ctx.out.status(format!(
                "{name} {} is already {count}: nothing to do",
                field.name()
            ));
            if ctx.out.is_json() {
                ctx.out.json(
                    "asg-size",
                    &SetDoc::new(report, field, count, "nothing_to_do", None, None),
                )?;
            }
            return Ok(());
        }
        Change::Set { before, after } => (before, after),
    };

    let cap = Planned {
        name,
        field,
        count,
        before,
        after,
    };
    let now = ctx.now();
    let plan = set_plan(ctx, facts.aws, env, facts.group, facts.actions, &cap, now).await?;
    let outcome = ctx.confirm(&plan)?;
    let planned = |outcome: &'static str, after: Option<Capacity>| {
        SetDoc::new(report, field, count, outcome, Some(&plan), after)
    };
    if let Some(stopped) = outcome.stopped() {
        if ctx.out.is_json() {
            ctx.out.json("asg-size", &planned(stopped, None))?;
        }
        return Ok(());
    }
    if let Err(e) = facts.aws.update_group_capacity(name, field, count).await {
        let from = before.get(field);
        return Err(unapplied(e, name, field, from, count, &cmd));
    }

    let read_back = read_back(facts.aws, env, &args.role, name, field, count).await?;
    if ctx.out.is_json() {
        ctx.out
            .json("asg-size", &planned("applied", Some(read_back)))?;
    } else {
        ctx.out
            .data(format!("After change, capacity of {name}: {read_back}"));
    }
    ctx.out
        .success(format!("{name} {} is now {count}", field.name()));
    Ok(())
}

/// The group is not there: exit 3 naming the groups the environment has.
async fn missing_group(
    ctx: &Context,
    aws: &crate::aws::Aws,
    env: &str,
    role: &str,
) -> anyhow::Error {
    let settings = ctx.settings();
    let mut prefix_groups: Vec<String> = match aws.describe_groups(&[]).await {
        Ok(all) => all
            .into_iter()
            .map(|g| g.name)
            .filter(|g| capacity::role_of(settings, env, g).is_some())
            .collect(),
        Err(e) => return e,
    };
    prefix_groups.sort();
    let p = capacity::missing_group(
        settings,
        env,
        role,
        &prefix_groups,
        &format!("region {}", aws.region),
    );
    preflight(p.message, p.hint)
}

/// The one field to set, from what to what.
struct Planned<'a> {
    name: &'a str,
    field: Field,
    count: i32,
    before: Capacity,
    after: Capacity,
}

/// The plan of the one UpdateAutoScalingGroup, with what a recycle in progress and scale-in
/// protection mean for it.
async fn set_plan(
    ctx: &Context,
    aws: &crate::aws::Aws,
    env: &str,
    group: &Group,
    actions: &[ScheduledAction],
    c: &Planned<'_>,
    now: jiff::Timestamp,
) -> Result<Plan> {
    let (name, field, count) = (c.name, c.field, c.count);
    let mut plan = Plan::new(format!("Set {name} {} to {count}", field.name()))
        .target("account", aws.account().await?)
        .target("region", &aws.region)
        .env(env);
    plan.push(
        Step::new(
            "UpdateAutoScalingGroup",
            name,
            format!("{} {} -> {}", field.name(), c.before.get(field), count),
        )
        .params(serde_json::json!({
            "AutoScalingGroupName": name,
            match field {
                Field::Desired => "DesiredCapacity",
                Field::Min => "MinSize",
                Field::Max => "MaxSize",
            }: count,
        })),
    );
    if let Some(until) = capacity::recycle_until(actions, name, now) {
        let back_to = actions
            .iter()
            .find(|a| a.name == RECYCLE_ONCE && a.start == Some(until))
            .and_then(|a| a.desired);
        let msg = format!(
            "a recycle is in progress until {}{}",
            plan::when(until, now),
            back_to
                .map(|d| format!(": its {RECYCLE_ONCE} will set desired to {d} then"))
                .unwrap_or_default()
        );
        ctx.out.warn(&msg);
        plan.note(msg);
    }
    if field == Field::Desired
        && c.after.desired < c.before.desired
        && group.new_instances_protected
    {
        plan.note(format!(
            "{name}'s instances are protected from scale-in: lowering desired terminates nothing \
             until some are unprotected (scale-remove-old-instances)"
        ));
    }
    Ok(plan)
}

/// Verify: the group read back has the value set.
async fn read_back(
    aws: &crate::aws::Aws,
    env: &str,
    role: &str,
    name: &str,
    field: Field,
    count: i32,
) -> Result<Capacity> {
    let now_groups = aws.describe_groups(&[name.to_string()]).await?;
    let Some(read) = now_groups.first() else {
        return Err(failed(
            format!("{name} was updated but can no longer be described"),
            format!("check it with `login-release asg-size {env} {role}`"),
        ));
    };
    let read_back = Capacity::of(read);
    if read_back.get(field) != count {
        return Err(AppError::new(
            Kind::Failed,
            format!("UpdateAutoScalingGroup was accepted, but {name} reads back {read_back}"),
        )
        .with_hint(format!(
            "run `login-release asg-size {env} {role}` to see where it stands"
        ))
        .into());
    }
    Ok(read_back)
}

/// The error of an UpdateAutoScalingGroup that did not succeed (issue 12, item 1). Refused or
/// never sent: exit 1, nothing was changed. Answer lost: exit 4, outcome unknown, and the same
/// command again is right either way (it finds the value set and does nothing, or sets it).
fn unapplied(
    e: CallError,
    name: &str,
    field: Field,
    from: i32,
    to: i32,
    cmd: &str,
) -> anyhow::Error {
    let r = crate::error::report(&e.error);
    let call = format!(
        "UpdateAutoScalingGroup {name} ({} {from} -> {to})",
        field.name()
    );
    let flag = match field {
        Field::Desired => "",
        Field::Min => " --min",
        Field::Max => " --max",
    };
    match e.status {
        CallStatus::Unknown => AppError::new(
            Kind::Partial,
            format!("asg-size: 0 of 1 change made, 1 outcome unknown, then {}", r.message),
        )
        .with_hint(format!(
            "outcome unknown: {call}. Finish with: {cmd} {to}{flag} (right whether or not the              unknown change was applied); undo with: {cmd} {from}{flag}"
        ))
        .into(),
        _ => AppError::new(
            Kind::Failed,
            format!("asg-size: nothing was changed: {}", r.message),
        )
        .with_hint(format!(
            "{}: {call}. {}",
            e.status.label(),
            r.hint.unwrap_or_else(|| "run the command again when AWS answers".into())
        ))
        .into(),
    }
}

fn describe(
    group: &Group,
    env: &str,
    role: &str,
    actions: &[ScheduledAction],
    now: jiff::Timestamp,
) -> Report {
    Report {
        group: group.name.clone(),
        env: env.to_string(),
        role: role.to_string(),
        capacity: Capacity::of(group),
        health_check: HealthCheck {
            r#type: group.health_check_type.clone(),
            grace_secs: group.grace_secs,
        },
        instances: capacity::counts(group),
        scheduled_actions: capacity::actions_of(actions, &group.name)
            .into_iter()
            .map(|a| ActionView {
                start: a.start.map(plan::rfc3339),
                relative: a.start.map(|t| plan::relative(t, now)),
                name: a.name,
                recurrence: a.recurrence,
                desired: a.desired,
                min: a.min,
                max: a.max,
            })
            .collect(),
        recycle_in_progress_until: capacity::recycle_until(actions, &group.name, now)
            .map(plan::rfc3339),
    }
}

fn render(r: &Report, group: &Group, actions: &[ScheduledAction], now: jiff::Timestamp) -> String {
    let mut out = vec![
        format!("Capacity of {}:", r.group),
        format!("  desired: {}", r.capacity.desired),
        format!("  min:     {}", r.capacity.min),
        format!("  max:     {}", r.capacity.max),
        format!(
            "Health check: {}, {}s grace period",
            r.health_check.r#type, r.health_check.grace_secs
        ),
        format!("Instances: {}", capacity::describe_counts(&r.instances)),
    ];
    let mine = capacity::actions_of(actions, &group.name);
    if mine.is_empty() {
        out.push("Scheduled actions: none".to_string());
    } else {
        out.push("Scheduled actions:".to_string());
        let width = mine.iter().map(|a| a.name.len()).max().unwrap_or(0);
        for a in &mine {
            let mut line = format!(
                "  {:width$}  {}",
                a.name,
                capacity::action_sets(a),
                width = width
            );
            if let Some(rec) = &a.recurrence {
                line.push_str(&format!(", recurring `{rec}`"));
            }
            if let Some(t) = a.start {
                line.push_str(&format!(
                    ", {} {}",
                    if a.recurrence.is_some() { "next" } else { "at" },
                    plan::when(t, now)
                ));
            }
            out.push(line);
        }
    }
    if let Some(until) = capacity::recycle_until(actions, &group.name, now) {
        out.push(format!(
            "Recycle in progress until {}",
            plan::when(until, now)
        ));
    }
    out.join("\n")
}

/// The runbook's check before a deploy: no more instances running than desired.
fn extra_warning(ctx: &Context, r: &Report, env: &str, role: &str) {
    if r.instances.running as i64 > r.capacity.desired as i64 {
        ctx.out.warn(format!(
            "{} runs {} instances but desires {}: remove the old ones before deploying \
             (`login-release scale-remove-old-instances {env} {role}`)",
            r.group, r.instances.running, r.capacity.desired
        ));
    }
}
