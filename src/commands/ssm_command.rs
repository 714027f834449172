//! `ssm-command`: run an SSM command document on a role's running instances.

use clap_complete::ArgValueCandidates;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;
use tokio::time::Instant;

use crate::aws::apply::CallStatus;
use crate::aws::outcome::CallError;
use crate::aws::Aws;
use crate::context::{Context, Go};
use crate::error::{self, AppError, Findings, Kind};
use crate::logs::pace::{Interval, Pacing};
use crate::logs::similar;
use crate::output::{table, tsv, Format};
use crate::plan::{Plan, Step};
use crate::ssm::client::{self, Answer, SendSpec};
use crate::ssm::tracker::{Invocation, Summary, Tracker};
use crate::ssm::{parse_max_concurrency, parse_max_errors};
use crate::types::{format_duration, Env, HumanDuration};

const AFTER_HELP: &str = "\
Examples:
  login-release ssm-command staging idp puma-restart
  login-release ssm-command prod worker work-restart --max-concurrency 1 --show-output

Exit status: 0 every invocation succeeded (or declined, or --dry-run); 1 AWS failed, or the
invocations did not all finish within --timeout (the command may still be running); 3 unknown
document, no running instances, or no terminal to confirm on; 5 an invocation failed.";

/// Sends `ENV-ssm-cmd-DOCUMENT` to the running instances of `ENV-ROLE` (targeted by their
/// `aws:autoscaling:groupName` tag), waits until every invocation has finished, and prints each
/// instance's status, duration and output.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The environment (prod, staging, int, dev, or a personal one).
    #[arg(value_name = "ENV")]
    #[arg(add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Env,

    /// The role whose group's running instances run the command (idp, worker, ...).
    #[arg(value_name = "ROLE")]
    #[arg(add = ArgValueCandidates::new(crate::complete::roles))]
    pub role: String,

    /// The document's short name: `passenger-restart` runs `ENV-ssm-cmd-passenger-restart`.
    #[arg(value_name = "DOCUMENT")]
    #[arg(add = ArgValueCandidates::new(crate::complete::ssm_documents))]
    pub document: String,

    #[command(flatten)]
    pub opts: SendOptions,
}

/// The options every SSM-command-based subcommand shares.
#[derive(Debug, Clone, clap::Args)]
pub struct SendOptions {
    /// How many instances run it at once: a count or a percentage.
    #[arg(long, value_name = "N|PCT", default_value = "25%", value_parser = parse_max_concurrency)]
    pub max_concurrency: String,

    /// How many failed instances stop the rollout: a count or a percentage.
    #[arg(long, value_name = "N|PCT", default_value = "0", value_parser = parse_max_errors)]
    pub max_errors: String,

    /// How long to wait for every invocation to finish (exit 1 after it).
    #[arg(long, value_name = "DURATION", default_value = "5m")]
    pub timeout: HumanDuration,

    /// Print every instance's whole output, not only its first lines.
    #[arg(long)]
    pub show_output: bool,

    /// Allow a guarded document (setting ssm.guarded_documents: passenger-restart) in a
    /// production environment: it drops live requests (emergencies only).
    #[arg(long)]
    pub allow_prod: bool,

    /// Status poll interval (tests and rehearsals).
    #[arg(long, value_name = "DURATION", hide = true)]
    pub poll_interval: Option<HumanDuration>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    execute(
        ctx,
        "ssm-command",
        args.env.as_str(),
        &args.role,
        &args.document,
        &args.opts,
        &[],
    )
    .await
}

/// The refusal of a guarded document in production, before any AWS call.
fn guarded(env: &str, role: &str, document: &str) -> anyhow::Error {
    let what = if document == "passenger-restart" {
        "restart passenger".to_string()
    } else {
        format!("run `{document}`")
    };
    error::preflight(
        format!("refusing to {what} in {env}: it drops live requests instead of rotating instances"),
        format!(
            "recycle instead (`login-release asg-recycle {env} {role}`); in an emergency, re-run with --allow-prod"
        ),
    )
}

/// The warning every production plan of a guarded document carries (after --allow-prod).
fn guard_warning(document: &str) -> String {
    if document == "passenger-restart" {
        format!("WARNING: {}", PASSENGER_RESTART_WARNING)
    } else {
        format!("WARNING: `{document}` is guarded in production (ssm.guarded_documents): it drops live requests; use it only in an emergency")
    }
}

/// The runbook's banner (2022-03-15), printed in every production plan that runs
/// passenger-restart, however invoked (here, since this module owns the guard).
pub const PASSENGER_RESTART_WARNING: &str = "passenger-restart is NOT safe for production: it restarts passenger on each instance in place and drops the requests in flight instead of rotating instances; use it only in an emergency";

#[derive(Serialize)]
struct Doc<'a> {
    plan: &'a Plan,
    dry_run: bool,
    declined: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    command_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a Summary>,
    invocations: Vec<&'a Invocation>,
}

/// The names one run works with, from the settings.
struct Names {
    /// The SSM document's full name (`prod-ssm-cmd-passenger-restart`).
    doc: String,
    /// The Auto Scaling group whose instances run it.
    group: String,
    /// Where SSM writes the output.
    output_group: String,
}

/// Preflight, plan, confirm, send, wait, report: shared with `passenger-restart`. `notes` are
/// printed in the plan (warnings a person must read before confirming).
pub async fn execute(
    ctx: &Context,
    command: &str,
    env: &str,
    role: &str,
    document: &str,
    opts: &SendOptions,
    notes: &[String],
) -> Result<()> {
    let settings = ctx.settings();
    let guarded_here = settings.is_guarded(env, document);
    if guarded_here && !opts.allow_prod {
        return Err(guarded(env, role, document));
    }
    let names = Names {
        doc: settings.ssm_document(env, document),
        group: settings.asg_name(env, role),
        output_group: settings.ssm_output_log_group(env),
    };
    let aws = ctx.aws().await?;
    let targets = preflight(ctx, aws, env, document, &names).await?;
    let spec = SendSpec {
        document: names.doc.clone(),
        tag_key: "aws:autoscaling:groupName".into(),
        tag_value: names.group.clone(),
        max_concurrency: opts.max_concurrency.clone(),
        max_errors: opts.max_errors.clone(),
        output_log_group: names.output_group.clone(),
        comment: format!("login-release {command} {env} {role}"),
    };
    let mut warnings = notes.to_vec();
    if guarded_here {
        warnings.insert(0, guard_warning(document));
    }
    let plan = send_plan(aws, env, &names, &spec, &targets, opts, &warnings).await?;

    let json = ctx.out.is_json();
    let go = ctx.confirm(&plan)?;
    if go != Go::Apply {
        if json {
            ctx.out.json(
                command,
                &Doc {
                    plan: &plan,
                    dry_run: go == Go::DryRun,
                    declined: go == Go::Declined,
                    command_id: None,
                    summary: None,
                    invocations: Vec::new(),
                },
            )?;
        }
        return Ok(());
    }

    let sent_at = ctx.now();
    let rerun = format!(
        "login-release {command} {env} {role}{}{}",
        if command == "ssm-command" {
            format!(" {document}")
        } else {
            String::new()
        },
        if guarded_here { " --allow-prod" } else { "" }
    );
    let command_id = match client::send(aws, &spec).await {
        Ok(id) => id,
        Err(e) => return Err(unsent(e, &spec, sent_at, &rerun)),
    };
    ctx.out.status(format!(
        "sent command {command_id} ({} to {})",
        names.doc, names.group
    ));

    let pacing = Pacing::from_flag(opts.poll_interval.map(|d| d.0));
    let mut tracker = Tracker::new(targets, pacing.ssm * 6);
    let timeout = opts.timeout.0;
    let waited = wait(
        ctx,
        aws,
        &command_id,
        &names.group,
        &mut tracker,
        pacing,
        timeout,
    )
    .await;
    let invocations = tracker.invocations();
    if json {
        ctx.out.json(
            command,
            &Doc {
                plan: &plan,
                dry_run: false,
                declined: false,
                command_id: Some(&command_id),
                summary: Some(&tracker.summary()),
                invocations: invocations.clone(),
            },
        )?;
    } else {
        print_results(ctx, &invocations, opts.show_output);
    }
    ending(ctx, &names, &command_id, waited, &tracker, timeout)
}

/// Every problem at once: the document (exists, is a Command document, is Active) and the
/// group's running instances, which are returned.
async fn preflight(
    ctx: &Context,
    aws: &Aws,
    env: &str,
    document: &str,
    names: &Names,
) -> Result<Vec<String>> {
    let doc_name = &names.doc;
    let mut findings = Findings::new();
    match client::describe_document(aws, doc_name).await? {
        None => {
            let (problem, hint) = unknown_document(aws, env, doc_name, document).await?;
            findings.add(problem, hint);
        }
        Some(d) if d.document_type != "Command" => findings.add(
            format!(
                "SSM document `{doc_name}` is a {} document, not a Command document",
                d.document_type
            ),
            format!(
                "command documents are named {}",
                ctx.settings().ssm_document(env, "NAME")
            ),
        ),
        Some(d) if !d.status.is_empty() && d.status != "Active" => findings.add(
            format!("SSM document `{doc_name}` is {}, not Active", d.status),
            "wait until it is Active, or fix it in Terraform",
        ),
        Some(_) => {}
    }
    let targets = running_instances(aws, &names.group).await?;
    if targets.is_empty() {
        let (problem, hint) = no_targets(aws, env, &names.group).await?;
        findings.add(problem, hint);
    }
    findings.into_result()?;
    Ok(targets)
}

/// The plan: one SendCommand, the instances it reaches, the warnings, the wait.
async fn send_plan(
    aws: &Aws,
    env: &str,
    names: &Names,
    spec: &SendSpec,
    targets: &[String],
    opts: &SendOptions,
    warnings: &[String],
) -> Result<Plan> {
    let (doc_name, group) = (&names.doc, &names.group);
    let mut plan = Plan::new(format!("Run {doc_name} on {group}"))
        .target("account", aws.account().await?)
        .target("region", aws.region.clone())
        .env(env);
    plan.push(
        Step::new(
            "SendCommand",
            doc_name,
            format!(
                "targets tag:aws:autoscaling:groupName={group} ({} running instance{}), max concurrency {}, max errors {}, output to CloudWatch Logs {}",
                targets.len(),
                if targets.len() == 1 { "" } else { "s" },
                opts.max_concurrency,
                opts.max_errors,
                names.output_group,
            ),
        )
        .params(serde_json::to_value(spec)?),
    );
    plan.note(format!("instances: {}", targets.join(", ")));
    for n in warnings {
        plan.note(n.clone());
    }
    plan.note(format!(
        "then wait up to {} for every invocation to finish",
        format_duration(opts.timeout.0)
    ));
    Ok(plan)
}

/// How the sent command ended: success, or the error for an interrupted wait, a time-out or
/// failed invocations (with a warning when the command reached other instances than counted).
fn ending(
    ctx: &Context,
    names: &Names,
    command_id: &str,
    waited: std::result::Result<(), Waited>,
    tracker: &Tracker,
    timeout: Duration,
) -> Result<()> {
    let summary = tracker.summary();
    let check = format!("aws ssm list-command-invocations --command-id {command_id} --details");
    let timed_out = match waited {
        Ok(()) => false,
        Err(Waited::TimedOut) => true,
        Err(Waited::Failed(e)) => {
            return Err(e.context(format!("waiting for command {command_id}")))
        }
        Err(Waited::Interrupted) => {
            return Err(AppError::new(
                Kind::Interrupted,
                format!("stopped waiting for command {command_id}"),
            )
            .with_hint(format!(
                "the command keeps running on the instances; check it with `{check}`"
            ))
            .into())
        }
    };
    if summary.count_mismatch() {
        ctx.out.warn(format!(
            "{} instance{} counted before sending, but the command has {} invocation{}{}",
            summary.expected,
            if summary.expected == 1 {
                " was"
            } else {
                "s were"
            },
            summary.target_count,
            if summary.target_count == 1 { "" } else { "s" },
            if summary.not_run.is_empty() {
                String::new()
            } else {
                format!("; not run on {}", summary.not_run.join(", "))
            }
        ));
    }
    if timed_out {
        return Err(error::failed(
            format!(
                "command {command_id} did not finish within {} ({})",
                format_duration(timeout),
                tracker.progress_line()
            ),
            format!("it may still be running: check with `{check}`, or wait longer with --timeout"),
        ));
    }
    let (doc_name, group) = (&names.doc, &names.group);
    if summary.is_failure() {
        let msg = if summary.failed.is_empty() {
            format!("command {command_id} ended {}", summary.command_status)
        } else {
            format!(
                "{doc_name} failed on {} of {} instances: {}",
                summary.failed.len(),
                tracker.invocations().len(),
                summary.failed.join(", ")
            )
        };
        return Err(AppError::new(Kind::Watched, msg)
            .with_hint(format!(
                "read the output above (--show-output prints all of it; CloudWatch Logs group {} has it too), fix the cause and run again",
                names.output_group
            ))
            .into());
    }
    ctx.out.success(format!(
        "{doc_name} succeeded on {} instance{} of {group}",
        summary.succeeded,
        if summary.succeeded == 1 { "" } else { "s" }
    ));
    Ok(())
}

enum Waited {
    TimedOut,
    Interrupted,
    Failed(anyhow::Error),
}

/// Polls until every invocation has finished, showing progress; throttling slows the polls.
async fn wait(
    ctx: &Context,
    aws: &Aws,
    command_id: &str,
    group: &str,
    tracker: &mut Tracker,
    pacing: Pacing,
    timeout: Duration,
) -> Result<(), Waited> {
    let deadline = Instant::now() + timeout;
    let started = Instant::now();
    let mut interval = Interval::new(Pacing {
        min: pacing.ssm,
        max_idle: pacing.ssm,
        ..pacing
    });
    let mut progress = ctx
        .out
        .progress(format!("waiting for command {command_id}"));
    let mut interrupt = crate::logs::Interrupt::new(ctx);
    let result = loop {
        let step = async {
            let mut throttled = false;
            match client::command_state(aws, command_id).await? {
                Answer::Got(state) => tracker.observe_command(state),
                Answer::Throttled => throttled = true,
            }
            if !throttled && tracker.wants_more_targets() {
                let ids = running_instances(aws, group).await?;
                tracker.add_targets(ids);
            }
            if !throttled {
                for id in tracker.to_fetch(started.elapsed()) {
                    match client::invocation(aws, command_id, &id).await? {
                        Answer::Got(Some(inv)) => tracker.observe_invocation(inv),
                        Answer::Got(None) => tracker.observe_missing(&id),
                        Answer::Throttled => {
                            throttled = true;
                            break;
                        }
                    }
                }
            }
            Ok::<bool, anyhow::Error>(throttled)
        };
        let throttled = tokio::select! {
            biased;
            _ = interrupt.recv() => break Err(Waited::Interrupted),
            r = step => match r {
                Ok(t) => t,
                Err(e) => break Err(Waited::Failed(e)),
            },
        };
        progress.set(format!("command {command_id}: {}", tracker.progress_line()));
        if tracker.done() {
            break Ok(());
        }
        let delay = if throttled {
            interval.after_throttle()
        } else {
            interval.after_poll(0)
        };
        let wake = Instant::now() + delay;
        if wake >= deadline {
            tokio::select! {
                biased;
                _ = interrupt.recv() => break Err(Waited::Interrupted),
                _ = tokio::time::sleep_until(deadline) => {}
            }
            break Err(Waited::TimedOut);
        }
        tokio::select! {
            biased;
            _ = interrupt.recv() => break Err(Waited::Interrupted),
            _ = tokio::time::sleep_until(wake) => {}
        }
    };
    progress.finish();
    result
}

fn print_results(ctx: &Context, invocations: &[&Invocation], show_output: bool) {
    let header = ["INSTANCE", "STATUS", "DURATION", "OUTPUT"];
    let duration = |i: &Invocation| {
        i.duration
            .map(|d| {
                if d < Duration::from_secs(1) {
                    format!("{}ms", d.as_millis())
                } else {
                    format_duration(d)
                }
            })
            .unwrap_or_else(|| "-".into())
    };
    let status = |i: &Invocation| match (&i.details, i.status.as_str()) {
        (Some(d), s) if d != s && s != "Success" => format!("{s} ({d})"),
        (_, s) => s.to_string(),
    };
    if ctx.out.format == Format::Tsv {
        let rows: Vec<Vec<String>> = invocations
            .iter()
            .map(|i| {
                vec![
                    i.instance.clone(),
                    status(i),
                    i.duration
                        .map(|d| format!("{:.3}", d.as_secs_f64()))
                        .unwrap_or_default(),
                    i.excerpt(usize::MAX)
                        .replace('\t', " ")
                        .replace('\n', "\\n"),
                ]
            })
            .collect();
        ctx.out.data(tsv(&header, &rows, true));
        return;
    }
    let rows: Vec<Vec<String>> = invocations
        .iter()
        .map(|i| {
            let out = i.excerpt(3);
            vec![
                i.instance.clone(),
                status(i),
                duration(i),
                if out.is_empty() { "-".into() } else { out },
            ]
        })
        .collect();
    ctx.out.data(table(&header, rows, true));
    if show_output {
        for i in invocations {
            ctx.out
                .data(format!("\n== {} ({}) ==", i.instance, i.status));
            if !i.stdout.trim().is_empty() {
                ctx.out.data(i.stdout.trim_end());
            }
            if !i.stderr.trim().is_empty() {
                ctx.out.data("-- stderr --");
                ctx.out.data(i.stderr.trim_end());
            }
        }
    }
}

/// Running instances of the group, by its tag, in id order.
/// The error of a SendCommand that did not succeed (issue 12, item 1). Refused or never sent:
/// exit 1, nothing ran. Answer lost: exit 4, the command may be running; running it again
/// blindly could run it twice, so the help says how to look for it first.
fn unsent(e: CallError, spec: &SendSpec, sent_at: jiff::Timestamp, rerun: &str) -> anyhow::Error {
    let r = crate::error::report(&e.error);
    let call = format!(
        "SendCommand {} (tag:{}={})",
        spec.document, spec.tag_key, spec.tag_value
    );
    match e.status {
        CallStatus::Unknown => {
            let after = sent_at - jiff::SignedDuration::from_mins(1);
            AppError::new(
                Kind::Partial,
                format!(
                    "{}: 0 of 1 change made, 1 outcome unknown, then {}",
                    spec.comment, r.message
                ),
            )
            .with_hint(format!(
                "outcome unknown: {call}: it may be running on the instances. Look for it before \
                 running it again: `aws ssm list-commands --filters key=DocumentName,value={} \
                 key=InvokedAfter,value={}`; if it is listed, follow it with `aws ssm \
                 list-command-invocations --command-id ID --details`; if not, nothing was sent: \
                 {rerun}",
                spec.document,
                crate::plan::rfc3339(after)
            ))
            .into()
        }
        _ => AppError::new(
            Kind::Failed,
            format!("{}: nothing was changed: {}", spec.comment, r.message),
        )
        .with_hint(format!(
            "{}: {call}. {}",
            e.status.label(),
            r.hint
                .unwrap_or_else(|| "run the command again when AWS answers".into())
        ))
        .into(),
    }
}

async fn running_instances(aws: &Aws, group: &str) -> Result<Vec<String>> {
    use aws_sdk_ec2::types::Filter;
    let f = |name: &str, value: &str| Filter::builder().name(name).values(value).build();
    let mut ids: Vec<String> = aws
        .describe_instances_filtered(vec![
            f("tag:aws:autoscaling:groupName", group),
            f("instance-state-name", "running"),
        ])
        .await?
        .into_iter()
        .filter(|i| i.state == "running")
        .map(|i| i.id)
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// The finding for a missing document: similar names, else the environment's command documents.
async fn unknown_document(
    aws: &Aws,
    env: &str,
    doc_name: &str,
    short: &str,
) -> Result<(String, String)> {
    let names = client::own_command_documents(aws).await.unwrap_or_default();
    let prefix = doc_name.strip_suffix(short).unwrap_or_default();
    let mut shorts: Vec<String> = names
        .iter()
        .filter_map(|n| n.strip_prefix(prefix).map(str::to_string))
        .filter(|n| !prefix.is_empty() && !n.is_empty())
        .collect();
    shorts.sort();
    let guess = similar(short, &shorts, 1);
    let hint = match (guess.first(), shorts.is_empty()) {
        (Some(g), _) => format!(
            "did you mean `{g}`? command documents for {env}: {}",
            shorts.join(", ")
        ),
        (None, false) => format!("command documents for {env}: {}", shorts.join(", ")),
        (None, true) => format!(
            "no command documents named {prefix}* exist in {}; check the environment and the region",
            aws.region
        ),
    };
    Ok((format!("SSM document `{doc_name}` does not exist"), hint))
}

/// The finding for no targets: a missing group (with a did-you-mean) or an empty one.
async fn no_targets(aws: &Aws, env: &str, group: &str) -> Result<(String, String)> {
    if aws.describe_groups(&[group.to_string()]).await?.is_empty() {
        let names: Vec<String> = aws
            .groups_with_prefix(&format!("{env}-"))
            .await?
            .into_iter()
            .map(|g| g.name)
            .collect();
        let guess = similar(group, &names, 1);
        let hint = match guess.first() {
            Some(g) => format!("did you mean `{g}`? groups in {env}: {}", names.join(", ")),
            None if names.is_empty() => {
                format!("there are no groups named {env}-* in {}", aws.region)
            }
            None => format!("groups in {env}: {}", names.join(", ")),
        };
        return Ok((format!("Auto Scaling group {group} does not exist"), hint));
    }
    Ok((
        format!("{group} has no running instances to run the command on"),
        format!("`login-release ls-servers -e {env}` shows what runs"),
    ))
}
