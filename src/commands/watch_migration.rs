//! `watch-migration`: follow the newest migration instance's provisioning log until it succeeds
//! or fails.

use clap_complete::ArgValueCandidates;
use std::ops::ControlFlow;
use std::time::Duration;

use anyhow::Result;
use console::Style;
use serde::Serialize;
use tokio::time::Instant;

use crate::aws::fleet::Instance;
use crate::aws::Aws;
use crate::context::Context;
use crate::error::{self, AppError, Kind};
use crate::logs::cloudwatch::{self, Exists, Query};
use crate::logs::follow::Follower;
use crate::logs::markers::{LineKind, Markers};
use crate::logs::pace::{is_throttled_error, Interval, Pacing};
use crate::logs::watch::{Finish, Outcome, Phase, Step, Watch};
use crate::logs::{similar, LinePrinter};
use crate::output::Progress;
use crate::plan::{relative, rfc3339};
use crate::types::{format_duration, Env, HumanDuration};

const AFTER_HELP: &str = "\
Examples:
  login-release watch-migration prod
  login-release watch-migration prod --role idp     # then the newest idp instance
  login-release watch-migration staging --instance i-0abc --timeout 30m

Exit status: 0 the success marker appeared; 1 timed out (the migration may still be running) or AWS
failed; 3 the log group or --instance does not exist; 5 a failure marker appeared, or the instance
went away before the success marker; 130 interrupted (the migration keeps running).";

/// Finds the newest running instance of `{env}-migration` (waiting for one if a recycle has just
/// started), then prints its cloud-init output from CloudWatch Logs (group `naming.cloud_init_log_group`,
/// stream = instance id) from the start, as it arrives, until the success marker (the whole line
/// `All done! provision.sh finished for identity-devops`) or a failure marker.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The environment (prod, staging, int, dev, or a personal one).
    #[arg(value_name = "ENV")]
    #[arg(add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Env,

    /// Follow this instance instead of the newest one.
    #[arg(long, value_name = "ID", conflicts_with = "role")]
    pub instance: Option<String>,

    /// Follow the newest instance named `asg-ENV-ROLE` instead of the migration group's.
    #[arg(long, value_name = "ROLE")]
    #[arg(add = ArgValueCandidates::new(crate::complete::roles))]
    pub role: Option<String>,

    /// Give up after this long (exit 1); waiting for the instance counts.
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub timeout: HumanDuration,

    /// The whole line that marks success [default: setting migration.success_marker].
    #[arg(long, value_name = "LINE")]
    pub success_marker: Option<String>,

    /// Text that marks failure anywhere in a line; repeat for several. Replaces the defaults
    /// (setting migration.failure_markers: an abandoned lifecycle action, a fatal provisioning error).
    #[arg(long = "failure-marker", value_name = "TEXT")]
    pub failure_markers: Vec<String>,

    /// Poll interval while lines arrive (tests and rehearsals; other intervals scale with it).
    #[arg(long, value_name = "DURATION", hide = true)]
    pub poll_interval: Option<HumanDuration>,
}

#[derive(Serialize)]
struct Doc<'a> {
    env: &'a str,
    instance: Option<&'a str>,
    log_group: &'a str,
    outcome: Outcome,
    phase: Phase,
    detail: Option<&'a str>,
    duration_secs: f64,
    lines: u64,
}

/// What to follow: the migration group, or instances named like a role's.
enum Source {
    Group(String),
    Name(String),
    Instance(String),
}

impl Source {
    fn describe(&self) -> String {
        match self {
            Source::Group(g) => g.clone(),
            Source::Name(n) => n.clone(),
            Source::Instance(i) => i.clone(),
        }
    }
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let settings = ctx.settings();
    let env = args.env.as_str();
    let log_group = settings.cloud_init_log_group(env);
    let markers = Markers::new(
        args.success_marker
            .clone()
            .unwrap_or_else(|| settings.migration.success_marker.clone()),
        if args.failure_markers.is_empty() {
            settings.migration.failure_markers.clone()
        } else {
            args.failure_markers.clone()
        },
    );
    if markers.success().is_empty() {
        return Err(error::usage(
            "the success marker is empty",
            "give the whole line that ends a good provision with --success-marker",
        ));
    }
    let source = match (&args.instance, &args.role) {
        (Some(i), _) => Source::Instance(i.clone()),
        (None, Some(role)) => Source::Name(settings.instance_name(env, role)),
        (None, None) => Source::Group(settings.migration_group(env)),
    };
    let aws = ctx.aws().await?;

    // Preflight: the log group must exist (Terraform creates it with the environment), and a
    // named instance must exist.
    check_log_group(aws, &log_group).await?;
    if let Source::Instance(id) = &source {
        match aws
            .describe_instances(std::slice::from_ref(id))
            .await?
            .first()
        {
            Some(i) => announce(ctx, &mut None, i, &log_group, ctx.now()),
            None => {
                return Err(error::preflight(
                    format!("instance {id} does not exist in {}", aws.region),
                    format!("`login-release ls-servers {env}` lists the environment's instances"),
                ))
            }
        }
    }

    let pacing = Pacing::from_flag(args.poll_interval.map(|d| d.0));
    let mut watch = Watch::new(
        markers,
        pacing,
        args.timeout.0,
        match &source {
            Source::Instance(i) => Some(i.clone()),
            _ => None,
        },
    );
    let mut follower = Follower::new(0, Duration::ZERO);
    let mut interval = Interval::new(pacing);
    let mut printer = LinePrinter::default();
    let mut progress: Option<Progress> = None;
    let started = Instant::now();
    let color = ctx.out.color();
    let json = ctx.out.is_json();
    let mut interrupt = crate::logs::Interrupt::new(ctx);

    let finish: Finish = loop {
        let now = started.elapsed();
        let step = watch.next(now);
        let result: Result<()> = match &step {
            Step::Finish(f) => break f.clone(),
            Step::Sleep(d) => {
                tokio::select! {
                    biased;
                    _ = interrupt.recv() => watch.interrupt(),
                    _ = tokio::time::sleep(*d) => {}
                }
                Ok(())
            }
            Step::FindInstance => match newest_running(aws, &source).await {
                Ok(found) => {
                    match &found {
                        Some(i) => announce(ctx, &mut progress, i, &log_group, ctx.now()),
                        None if progress.is_none() => {
                            progress = Some(ctx.out.progress(format!(
                                "waiting for a running instance of {}",
                                source.describe()
                            )));
                        }
                        None => {}
                    }
                    watch.found(started.elapsed(), found.map(|i| i.id));
                    Ok(())
                }
                Err(e) => Err(e),
            },
            Step::CheckStream => {
                let id = watch.instance().unwrap_or_default().to_string();
                match cloudwatch::stream_exists(aws, &log_group, &id).await {
                    Ok(Exists::Throttled) => {
                        watch.throttled(started.elapsed(), &step, interval.after_throttle());
                        Ok(())
                    }
                    Ok(e) => {
                        let exists = e == Exists::Yes;
                        if exists {
                            if let Some(p) = progress.take() {
                                p.finish();
                            }
                        } else if progress.is_none() {
                            progress = Some(
                                ctx.out
                                    .progress(format!("waiting for {id} to write to {log_group}")),
                            );
                        }
                        watch.stream(started.elapsed(), exists);
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            Step::CheckInstance => {
                let id = watch.instance().unwrap_or_default().to_string();
                match aws.describe_instances(std::slice::from_ref(&id)).await {
                    Ok(found) => {
                        let state = found.first().map(|i| i.state.clone());
                        if let Some(s) = state
                            .as_deref()
                            .filter(|s| !crate::logs::watch::is_alive(s))
                        {
                            ctx.out.warn(format!("{id} is {s}"));
                        } else if state.is_none() {
                            ctx.out.warn(format!("{id} no longer exists"));
                        }
                        watch.instance_state(started.elapsed(), state.as_deref());
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            Step::FetchEvents => {
                let id = watch.instance().unwrap_or_default().to_string();
                let query = Query {
                    group: log_group.clone(),
                    stream: Some(id),
                    pattern: None,
                };
                let mut batch: Vec<String> = Vec::new();
                let polled = tokio::select! {
                    biased;
                    _ = interrupt.recv() => { watch.interrupt(); None }
                    r = cloudwatch::poll(aws, &query, &mut follower, pacing.page_gap, |events| {
                        batch.extend(events.iter().map(|e| e.line().to_string()));
                        ControlFlow::Continue(())
                    }) => Some(r),
                };
                match polled {
                    None => Ok(()),
                    Some(Err(e)) => Err(e),
                    Some(Ok(p)) => {
                        let next = if p.throttled {
                            interval.after_throttle()
                        } else {
                            interval.after_poll(p.fresh)
                        };
                        for line in watch.fetched(started.elapsed(), batch, next) {
                            let text = paint(&line.text, &line.kind, color);
                            if json {
                                ctx.out.status(text);
                            } else if !printer.line(&text) {
                                // Nobody reads our output any more: stop like `tail` does.
                                watch.interrupt();
                                break;
                            }
                        }
                        Ok(())
                    }
                }
            }
        };
        if let Err(e) = result {
            if is_throttled_error(&e) {
                watch.throttled(started.elapsed(), &step, interval.after_throttle());
            } else {
                if let Some(p) = progress.take() {
                    p.finish();
                }
                return Err(e);
            }
        }
    };
    if let Some(p) = progress.take() {
        p.finish();
    }

    let elapsed = started.elapsed();
    let instance = watch.instance().map(str::to_string);
    let who = match &instance {
        Some(i) => format!("instance {i}"),
        None => format!("no instance of {}", source.describe()),
    };
    if json {
        ctx.out.json(
            "watch-migration",
            &Doc {
                env,
                instance: instance.as_deref(),
                log_group: &log_group,
                outcome: finish.outcome,
                phase: finish.phase,
                detail: finish.detail.as_deref(),
                duration_secs: elapsed.as_secs_f64(),
                lines: watch.lines(),
            },
        )?;
    }
    // The one summary line: instance, duration, outcome.
    let summary = format!(
        "watch-migration: {} after {} ({who}, {} lines)",
        finish.outcome.as_str(),
        format_duration(elapsed),
        watch.lines()
    );
    if finish.outcome == Outcome::Succeeded {
        ctx.out.success(summary);
    } else {
        ctx.out.notice(summary);
    }

    let id = instance.as_deref().unwrap_or("ID");
    let again = match &instance {
        Some(i) => format!("login-release watch-migration {env} --instance {i}"),
        None => format!(
            "login-release watch-migration {env}{}",
            args.role
                .as_deref()
                .map(|r| format!(" --role {r}"))
                .unwrap_or_default()
        ),
    };
    let read = format!("login-release tail-logs --group '{log_group}' --instance {id} --since 2h");
    match finish.outcome {
        Outcome::Succeeded => Ok(()),
        Outcome::Failed => Err(AppError::new(
            Kind::Watched,
            format!(
                "provisioning of {id} failed: {}",
                finish.detail.as_deref().unwrap_or("a failure marker appeared")
            ),
        )
        .with_hint(format!(
            "the group abandons and replaces the instance; read the whole log with `{read}`, and do not continue the release until a migration succeeds"
        ))
        .into()),
        Outcome::InstanceGone => Err(AppError::new(
            Kind::Watched,
            format!(
                "{id} went away ({}) before the success marker",
                finish.detail.as_deref().unwrap_or("gone")
            ),
        )
        .with_hint(format!(
            "provisioning was probably abandoned; read what it wrote with `{read}`, then watch the replacement with `login-release watch-migration {env}`"
        ))
        .into()),
        Outcome::TimedOut => Err(match finish.phase {
            Phase::Finding => error::failed(
                format!(
                    "no running instance of {} appeared within {}",
                    source.describe(),
                    format_duration(elapsed)
                ),
                match &args.role {
                    Some(role) => format!(
                        "a recycle starts new instances (`login-release asg-recycle {env} {role}`); `login-release ls-servers {env}` shows what runs"
                    ),
                    None => format!(
                        "a recycle starts the migration instance first (`login-release asg-recycle {env} idp`); `login-release ls-servers {env}` shows what runs"
                    ),
                },
            ),
            Phase::WaitingForStream => error::failed(
                format!(
                    "{id} wrote nothing to {log_group} within {}",
                    format_duration(elapsed)
                ),
                format!(
                    "cloud-init or its CloudWatch agent may still be starting: watch again with `{again}`"
                ),
            ),
            Phase::Following => error::failed(
                format!(
                    "no success marker from {id} within {}; the migration may still be running",
                    format_duration(elapsed)
                ),
                format!("keep watching with `{again}`, or read the log with `{read}`"),
            ),
        }),
        Outcome::Interrupted => Err(AppError::new(
            Kind::Interrupted,
            match &instance {
                Some(i) => format!("stopped watching {i}"),
                None => format!("stopped waiting for an instance of {}", source.describe()),
            },
        )
        .with_hint(format!(
            "nothing was changed and provisioning continues; watch again with `{again}`"
        ))
        .into()),
    }
}

/// The log group must exist: exit 3 with the setting to fix and a did-you-mean.
async fn check_log_group(aws: &Aws, group: &str) -> Result<()> {
    if cloudwatch::group_exists_patiently(aws, group).await? {
        return Ok(());
    }
    let names = cloudwatch::group_names(aws, 5).await.unwrap_or_default();
    let guess = similar(group, &names, 1);
    let mut hint = String::from(
        "the group comes from the setting naming.cloud_init_log_group (`login-release config`)",
    );
    if let Some(g) = guess.first() {
        hint = format!("did you mean `{g}`? {hint}");
    }
    Err(error::preflight(
        format!("log group `{group}` does not exist in {}", aws.region),
        hint,
    ))
}

/// The newest running instance of the source (by launch time, then id).
async fn newest_running(aws: &Aws, source: &Source) -> Result<Option<Instance>> {
    use aws_sdk_ec2::types::Filter;
    let f = |name: &str, value: &str| Filter::builder().name(name).values(value).build();
    let filters = match source {
        Source::Group(g) => vec![
            f("tag:aws:autoscaling:groupName", g),
            f("instance-state-name", "running"),
        ],
        Source::Name(n) => vec![f("tag:Name", n), f("instance-state-name", "running")],
        Source::Instance(i) => vec![f("instance-id", i)],
    };
    let instances = aws.describe_instances_filtered(filters).await?;
    Ok(instances
        .into_iter()
        .filter(|i| i.state == "running")
        .max_by(|a, b| {
            a.launch_time
                .cmp(&b.launch_time)
                .then_with(|| a.id.cmp(&b.id))
        }))
}

fn announce(
    ctx: &Context,
    progress: &mut Option<Progress>,
    i: &Instance,
    log_group: &str,
    now: jiff::Timestamp,
) {
    if let Some(p) = progress.take() {
        p.finish();
    }
    ctx.out.status(format!(
        "following {} of {}, launched {} ({}), in {log_group}",
        i.id,
        i.group
            .as_deref()
            .or(i.name.as_deref())
            .unwrap_or("no group"),
        rfc3339(i.launch_time),
        relative(i.launch_time, now),
    ));
}

/// Colours for people: migrations stand out, markers say how it ended.
fn paint(text: &str, kind: &LineKind, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let style = match kind {
        LineKind::Migrate => Style::new().cyan().bold(),
        LineKind::Success => Style::new().green().bold(),
        LineKind::Failure(_) => Style::new().red().bold(),
        LineKind::Plain => return text.to_string(),
    };
    style.apply_to(text).to_string()
}
