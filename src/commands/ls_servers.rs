//! `ls-servers`: List an environment's instances with group, protection, health and git sha.
//!
//! Calls, in three concurrent rounds: (DescribeVpcs || DescribeTargetGroups + DescribeTags) ->
//! (DescribeInstances, paginated || DescribeTargetHealth per target group) ->
//! DescribeAutoScalingGroups for every group seen, in one call per 100 groups.

use anyhow::Result;
use clap_complete::ArgValueCandidates;
use serde::Serialize;

use crate::aws::fleet::Instance;
use crate::aws::listing::{self, GroupSummary, Layout, NameFilter, Row};
use crate::aws::Aws;
use crate::context::Context;
use crate::error::{preflight, usage};
use crate::output::{table, tsv, Format};
use crate::types::Env;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
At least one of -e and -n is needed. Examples:
  login-release ls-servers -e prod
  login-release ls-servers -e prod -r idp           # with load-balancer target health
  login-release ls-servers -n 'asg-prod-*' --output ids
  login-release ls-servers -e int -s running,pending --compact

A summary of running vs desired instances per group goes to stderr.")]
pub struct Args {
    /// Environment: every instance in its VPC (`login-vpc-ENV`).
    #[arg(short = 'e', long = "env", value_name = "ENV")]
    #[arg(add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Option<Env>,

    /// Name tag glob (repeatable; any match lists the instance), e.g. `asg-prod-idp*`.
    #[arg(short = 'n', long = "name", value_name = "GLOB")]
    pub names: Vec<String>,

    /// Instance states, comma- or space-separated, or `all` [default: all but terminated].
    #[arg(short = 's', long = "states", value_name = "STATES")]
    pub states: Vec<String>,

    /// Add load-balancer target health for ROLE's target groups (needs -e); lists ROLE's
    /// instances, registered or not.
    #[arg(short = 'r', long = "role", value_name = "ROLE", requires = "env")]
    #[arg(add = ArgValueCandidates::new(crate::complete::roles))]
    pub role: Option<String>,

    /// Only id, name, state and uptime.
    #[arg(short = 'c', long, conflicts_with = "long")]
    pub compact: bool,

    /// Add private and public IP addresses.
    #[arg(short = 'l', long)]
    pub long: bool,

    /// Leave out the header line (text and tsv).
    #[arg(short = 'H', long)]
    pub no_header: bool,
}

#[derive(Serialize)]
struct Doc<'a> {
    filters: Filters<'a>,
    instances: Vec<listing::JsonRow>,
    groups: &'a [GroupSummary],
    notes: &'a [String],
}

#[derive(Serialize)]
struct Filters<'a> {
    env: Option<&'a str>,
    vpc: Option<&'a str>,
    names: &'a [String],
    states: &'a [String],
    role: Option<&'a str>,
    target_groups: &'a [String],
}

/// The role's target groups, or why there are none.
struct Health {
    arns: Vec<String>,
    by_instance: std::collections::BTreeMap<String, Vec<String>>,
}

/// What AWS said, in three rounds of concurrent calls.
struct Gathered {
    vpcs: Vec<String>,
    instances: Vec<Instance>,
    groups: Vec<crate::aws::fleet::Group>,
    health: Health,
    /// The role's group (with -e and -r).
    role_group: Option<String>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let (states, names) = filters(&args)?;
    let settings = ctx.settings();
    let env = args.env.as_ref().map(Env::as_str);
    let aws = ctx.aws().await?;
    let mut g = gather(ctx, aws, &args, &states, &names).await?;
    let notes = role_health(ctx, aws, &args, &mut g).await?;

    let mut rows = listing::join(std::mem::take(&mut g.instances), &g.groups);
    if let (Some(env), Some(role)) = (env, args.role.as_deref()) {
        rows.retain(|r| {
            in_role(&r.instance, settings, env, role)
                || g.health.by_instance.contains_key(&r.instance.id)
        });
        for r in &mut rows {
            r.target_health = g
                .health
                .by_instance
                .get(&r.instance.id)
                .cloned()
                .unwrap_or_default();
        }
    }
    listing::sort(&mut rows);
    let summary = listing::summary(&rows, &g.groups);
    let with_health = args.role.is_some() && !g.health.arns.is_empty();

    emit(ctx, &args, &rows, with_health)?;
    if ctx.out.is_json() {
        let json_rows = rows
            .iter()
            .map(|r| listing::json_row(r, ctx.now(), with_health))
            .collect();
        ctx.out.json(
            "ls-servers",
            &Doc {
                filters: Filters {
                    env,
                    vpc: g.vpcs.first().map(String::as_str),
                    names: &args.names,
                    states: &states,
                    role: args.role.as_deref(),
                    target_groups: &g.health.arns,
                },
                instances: json_rows,
                groups: &summary,
                notes: &notes,
            },
        )?;
    }
    for n in &notes {
        ctx.out.warn(n);
    }
    if rows.is_empty() {
        ctx.out.status("No servers found");
        return Ok(());
    }
    report(ctx, env, &summary);
    Ok(())
}

/// The filters from the flags (at least one of -e and -n), or a usage error.
fn filters(args: &Args) -> Result<(Vec<String>, NameFilter)> {
    if args.env.is_none() && args.names.is_empty() {
        return Err(usage(
            "must pass at least one filter (-e ENV or -n GLOB)",
            "e.g. `login-release ls-servers -e prod`, or `-n 'asg-prod-idp*'`",
        ));
    }
    let states = listing::parse_states(&args.states).map_err(|bad| {
        usage(
            format!("`{bad}` is not an instance state"),
            format!(
                "use a comma-separated list of: {}, or all",
                listing::STATES.join(", ")
            ),
        )
    })?;
    let names = NameFilter::new(&args.names).map_err(|e| {
        usage(
            format!("bad -n glob {e}"),
            "globs use `*`, `?`, `[abc]` and `{a,b}`",
        )
    })?;
    Ok((states, names))
}

/// Round 1: the VPC and (with -r) the role's target groups; round 2: the instances and the
/// target health; round 3: every group seen, in as few calls as the API allows.
async fn gather(
    ctx: &Context,
    aws: &Aws,
    args: &Args,
    states: &[String],
    names: &NameFilter,
) -> Result<Gathered> {
    let settings = ctx.settings();
    let env = args.env.as_ref().map(Env::as_str);
    let vpc_name = env.map(|e| settings.vpc_name(e));
    let tg_tags: Option<[(&str, &str); 2]> = match (env, args.role.as_deref()) {
        (Some(e), Some(r)) => Some([("prefix", e), ("health_role", r)]),
        _ => None,
    };
    let (vpcs, tg_arns) = tokio::try_join!(
        async {
            match &vpc_name {
                Some(n) => aws.vpc_ids_named(n).await,
                None => Ok(Vec::new()),
            }
        },
        async {
            match &tg_tags {
                Some(t) => aws.target_groups_tagged(t).await,
                None => Ok(Vec::new()),
            }
        }
    )?;
    if let (Some(env), Some(vpc_name)) = (env, &vpc_name) {
        if vpcs.is_empty() {
            return Err(unknown_env(aws, settings, env, vpc_name).await);
        }
    }

    let filter = |name: &str, values: Vec<String>| {
        aws_sdk_ec2::types::Filter::builder()
            .name(name)
            .set_values(Some(values))
            .build()
    };
    let mut filters = vec![filter("instance-state-name", states.to_vec())];
    if !vpcs.is_empty() {
        filters.push(filter("vpc-id", vpcs.clone()));
    }
    if let Some(values) = names.server_values() {
        filters.push(filter("tag:Name", values));
    }
    let (instances, by_instance) =
        tokio::try_join!(aws.describe_instances_filtered(filters), async {
            if tg_arns.is_empty() {
                Ok(Default::default())
            } else {
                aws.target_health(&tg_arns).await
            }
        })?;
    let instances: Vec<Instance> = instances
        .into_iter()
        .filter(|i| states.contains(&i.state) && names.matches(i.name.as_deref()))
        .collect();

    let mut group_names: Vec<String> = instances.iter().filter_map(|i| i.group.clone()).collect();
    let role_group = match (env, args.role.as_deref()) {
        (Some(e), Some(r)) => Some(settings.asg_name(e, r)),
        _ => None,
    };
    group_names.extend(role_group.clone());
    group_names.sort();
    group_names.dedup();
    let groups = if group_names.is_empty() {
        Vec::new()
    } else {
        aws.describe_groups(&group_names).await?
    };
    Ok(Gathered {
        vpcs,
        instances,
        groups,
        health: Health {
            arns: tg_arns,
            by_instance,
        },
        role_group,
    })
}

/// With -e and -r: the role's load-balancer health, from its tagged target groups or else the
/// group's own attachments; an unknown role is an error, a role without any is a note.
async fn role_health(
    ctx: &Context,
    aws: &Aws,
    args: &Args,
    g: &mut Gathered,
) -> Result<Vec<String>> {
    let settings = ctx.settings();
    let mut notes = Vec::new();
    let env = args.env.as_ref().map(Env::as_str);
    let (Some(env), Some(role), Some(rg)) = (env, args.role.as_deref(), &g.role_group) else {
        return Ok(notes);
    };
    let group = g.groups.iter().find(|x| &x.name == rg);
    if g.health.arns.is_empty() {
        // Teams that do not tag target groups: fall back to the group's own attachments.
        if let Some(x) = group.filter(|x| !x.target_group_arns.is_empty()) {
            g.health.arns = x.target_group_arns.clone();
            g.health.by_instance = aws.target_health(&g.health.arns).await?;
        }
    }
    if g.health.arns.is_empty() {
        if group.is_none() && !g.instances.iter().any(|i| in_role(i, settings, env, role)) {
            return Err(unknown_role(
                env,
                role,
                rg,
                &groups_of(&g.instances, settings, env),
            ));
        }
        notes.push(format!(
            "{rg} has no ELBv2 target group (none tagged prefix={env}, health_role={role}, none attached): \
             listed without load-balancer health (a classic ELB, like pivcac's, is not read); \
             asg-health is the group's own view"
        ));
    }
    Ok(notes)
}

/// The summary line, and a warning for every group running more than it desires.
fn report(ctx: &Context, env: Option<&str>, summary: &[GroupSummary]) {
    if let Some(line) = listing::summary_line(summary) {
        ctx.out.status(line);
    }
    for g in summary.iter().filter(|g| g.has_extra()) {
        let role = crate::aws::capacity::role_of(ctx.settings(), env.unwrap_or(""), &g.group);
        let fix = match (env, role) {
            (Some(e), Some(r)) => format!("`login-release scale-remove-old-instances {e} {r}`"),
            _ => "scale-remove-old-instances".to_string(),
        };
        ctx.out.warn(format!(
            "{} runs {} instances but desires {}: remove the old ones before deploying ({fix})",
            g.group, g.running, g.desired
        ));
    }
}

fn emit(ctx: &Context, args: &Args, rows: &[Row], with_health: bool) -> Result<()> {
    if rows.is_empty() || ctx.out.is_json() {
        return Ok(());
    }
    let layout = if args.compact {
        Layout::Compact
    } else if args.long {
        Layout::Long
    } else {
        Layout::Default
    };
    let cols = listing::columns(layout, rows, with_health);
    let (header, cells) = listing::render_rows(&cols, rows, ctx.now());
    match ctx.out.format {
        Format::Ids => ctx.out.data(
            rows.iter()
                .map(|r| r.instance.id.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
        Format::Tsv => ctx.out.data(tsv(&header, &cells, !args.no_header)),
        Format::Text => ctx.out.data(table(&header, cells, !args.no_header)),
        Format::Json => unreachable!("handled by the caller"),
    }
    Ok(())
}

/// An instance of `role` by its group or Name tag.
fn in_role(i: &Instance, settings: &crate::config::Settings, env: &str, role: &str) -> bool {
    i.group.as_deref() == Some(settings.asg_name(env, role).as_str())
        || i.name.as_deref() == Some(settings.instance_name(env, role).as_str())
}

/// The roles of the environment's instances, by their groups.
fn groups_of(instances: &[Instance], settings: &crate::config::Settings, env: &str) -> Vec<String> {
    let mut roles: Vec<String> = instances
        .iter()
        .filter_map(|i| i.group.as_deref())
        .filter_map(|g| crate::aws::capacity::role_of(settings, env, g))
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

fn unknown_role(env: &str, role: &str, group: &str, roles: &[String]) -> anyhow::Error {
    let guess = crate::error::closest(role, roles, 3);
    let list = if roles.is_empty() {
        "none".to_string()
    } else {
        roles.join(", ")
    };
    preflight(
        format!("unknown role `{role}` in {env}: no group {group} and no target group tagged health_role={role}"),
        match guess {
            Some(g) => format!("did you mean `{g}`? roles in {env}: {list}"),
            None => format!("roles in {env}: {list}"),
        },
    )
}

/// The environment's VPC does not exist: name what was looked for and what exists.
async fn unknown_env(
    aws: &Aws,
    settings: &crate::config::Settings,
    env: &str,
    vpc_name: &str,
) -> anyhow::Error {
    const MARK: &str = "\u{1}";
    let pattern = settings.vpc_name(MARK);
    let envs: Vec<String> = match pattern.split_once(MARK) {
        Some((pre, post)) => aws
            .vpcs_by_name_filter(&format!("{pre}*{post}"))
            .await
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(_, n)| {
                n.strip_prefix(pre)
                    .and_then(|r| r.strip_suffix(post))
                    .map(str::to_string)
            })
            .collect(),
        None => Vec::new(),
    };
    let mut envs = envs;
    envs.sort();
    envs.dedup();
    let hint = if envs.is_empty() {
        format!(
            "no VPC here is named like `{}`: check AWS_REGION ({}) and the account (`aws-vault exec <profile> --`)",
            settings.vpc_name("ENV"),
            aws.region
        )
    } else {
        let guess = crate::error::closest(env, &envs, 3);
        match guess {
            Some(g) => format!("did you mean `{g}`? environments here: {}", envs.join(", ")),
            None => format!("environments here: {}", envs.join(", ")),
        }
    };
    preflight(
        format!(
            "unknown environment `{env}`: no VPC named {vpc_name} in {}",
            aws.region
        ),
        hint,
    )
}
