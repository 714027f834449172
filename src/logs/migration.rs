//! Following a migration instance's provisioning log until its success or failure marker: the
//! thin run around the pure [`Watch`] rules, as `watch-migration` and `deploy`'s migration step
//! call it. It finds the instance (waiting for one while a recycle starts it), waits for its log
//! stream, prints the lines as they arrive, and returns a [`MigrationOutcome`] whose
//! [`verdict`](MigrationOutcome::verdict) is the error, hint and exit code of each ending.

use std::ops::ControlFlow;
use std::time::Duration;

use anyhow::Result;
use console::Style;
use jiff::Timestamp;
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
use crate::logs::{similar, Interrupt, LinePrinter};
use crate::output::Progress;
use crate::plan::{relative, rfc3339};
use crate::types::{format_duration, Env};

/// What to follow, and until when.
#[derive(Debug, Clone)]
pub struct MigrationRequest {
    pub env: Env,
    /// This instance instead of the newest one.
    pub instance: Option<String>,
    /// The newest instance named like this role's (`asg-ENV-ROLE`) instead of the migration
    /// group's.
    pub role: Option<String>,
    /// Give up after this long; waiting for the instance counts.
    pub timeout: Duration,
    /// The whole line that marks success (default: setting migration.success_marker).
    pub success_marker: Option<String>,
    /// Text that marks failure anywhere in a line (empty: setting migration.failure_markers).
    pub failure_markers: Vec<String>,
    /// The poll interval while lines arrive (tests and rehearsals).
    pub poll_interval: Option<Duration>,
    /// Following the migration group: an instance of it launched at or after this time that has
    /// already ended is read by id instead of waiting for a running one. A release resumed after
    /// its migration group scaled back to zero finds its migration's log this way.
    pub ended_since: Option<Timestamp>,
}

/// How the watch ended: the `watch-migration` JSON document.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationOutcome {
    pub env: String,
    pub instance: Option<String>,
    pub log_group: String,
    pub outcome: Outcome,
    pub phase: Phase,
    pub detail: Option<String>,
    pub duration_secs: f64,
    pub lines: u64,
    /// What was followed (the group, the instance name or the instance), for the messages.
    #[serde(skip)]
    source: String,
    #[serde(skip)]
    role: Option<String>,
    #[serde(skip)]
    elapsed: Duration,
}

/// What to follow: the migration group, or instances named like a role's.
enum Source {
    Group(String),
    Name(String),
    Instance(String),
}

impl Source {
    fn describe(&self) -> &str {
        match self {
            Source::Group(s) | Source::Name(s) | Source::Instance(s) => s,
        }
    }
}

/// Preflight (the log group, a named instance), then follow until an ending; prints the
/// instance, the lines and a one-line summary. Errors are AWS's (or a preflight's); how the
/// watch ended is in the outcome.
pub async fn watch(ctx: &Context, req: &MigrationRequest) -> Result<MigrationOutcome> {
    let settings = ctx.settings();
    let env = req.env.as_str();
    let log_group = settings.cloud_init_log_group(env);
    let markers = Markers::new(
        req.success_marker
            .clone()
            .unwrap_or_else(|| settings.migration.success_marker.clone()),
        if req.failure_markers.is_empty() {
            settings.migration.failure_markers.clone()
        } else {
            req.failure_markers.clone()
        },
    );
    if markers.success().is_empty() {
        return Err(error::usage(
            "the success marker is empty",
            "give the whole line that ends a good provision with --success-marker",
        ));
    }
    let mut source = match (&req.instance, &req.role) {
        (Some(i), _) => Source::Instance(i.clone()),
        (None, Some(role)) => Source::Name(settings.instance_name(env, role)),
        (None, None) => Source::Group(settings.migration_group(env)),
    };
    let aws = ctx.aws().await?;
    // Terraform creates the log group with the environment; a named instance must exist.
    check_log_group(aws, &log_group).await?;
    if let (Source::Group(group), Some(since)) = (&source, req.ended_since) {
        if let Some(i) = newest_ended_since(aws, group, since).await? {
            ctx.out.status(format!(
                "{} of {group} launched {} and is {} already: reading what it wrote",
                i.id,
                rfc3339(i.launch_time),
                i.state
            ));
            source = Source::Instance(i.id);
        }
    }
    if let Source::Instance(id) = &source {
        let found = aws.describe_instances(std::slice::from_ref(id)).await?;
        let Some(i) = found.first() else {
            return Err(error::preflight(
                format!("instance {id} does not exist in {}", aws.region),
                format!("`login-release ls-servers -e {env}` lists the environment's instances"),
            ));
        };
        announce(ctx, &mut None, i, &log_group);
    }
    let pacing = Pacing::from_flag(req.poll_interval);
    let named = match &source {
        Source::Instance(i) => Some(i.clone()),
        _ => None,
    };
    let mut run = Follow {
        ctx,
        aws,
        log_group: &log_group,
        source: &source,
        pacing,
        watch: Watch::new(markers, pacing, req.timeout, named),
        follower: Follower::new(0, Duration::ZERO),
        interval: Interval::new(pacing),
        printer: LinePrinter::default(),
        progress: None,
        started: Instant::now(),
        interrupt: Interrupt::new(ctx),
    };
    let finish = run.run_until_done().await;
    if let Some(p) = run.progress.take() {
        p.finish();
    }
    let finish = finish?;
    let elapsed = run.started.elapsed();
    let outcome = MigrationOutcome {
        env: env.to_string(),
        instance: run.watch.instance().map(str::to_string),
        log_group: log_group.clone(),
        outcome: finish.outcome,
        phase: finish.phase,
        detail: finish.detail,
        duration_secs: elapsed.as_secs_f64(),
        lines: run.watch.lines(),
        source: source.describe().to_string(),
        role: req.role.clone(),
        elapsed,
    };
    if outcome.outcome == Outcome::Succeeded {
        ctx.out.success(outcome.summary());
    } else {
        ctx.out.notice(outcome.summary());
    }
    Ok(outcome)
}

/// The loop's state: the pure watch and what its steps need.
struct Follow<'a> {
    ctx: &'a Context,
    aws: &'a Aws,
    log_group: &'a str,
    source: &'a Source,
    pacing: Pacing,
    watch: Watch,
    follower: Follower,
    interval: Interval,
    printer: LinePrinter,
    progress: Option<Progress>,
    started: Instant,
    interrupt: Interrupt<'a>,
}

impl Follow<'_> {
    /// Runs the watch's steps until it finishes; a throttled call only slows it down.
    async fn run_until_done(&mut self) -> Result<Finish> {
        loop {
            let step = self.watch.next(self.started.elapsed());
            let result = match &step {
                Step::Finish(f) => return Ok(f.clone()),
                Step::Sleep(d) => {
                    tokio::select! {
                        biased;
                        _ = self.interrupt.recv() => self.watch.interrupt(),
                        _ = tokio::time::sleep(*d) => {}
                    }
                    Ok(())
                }
                Step::FindInstance => self.find_instance().await,
                Step::CheckStream => self.check_stream(&step).await,
                Step::CheckInstance => self.check_instance().await,
                Step::FetchEvents => self.fetch_events().await,
            };
            match result {
                Err(e) if is_throttled_error(&e) => {
                    let next = self.interval.after_throttle();
                    self.watch.throttled(self.started.elapsed(), &step, next);
                }
                other => other?,
            }
        }
    }

    fn waiting(&mut self, what: String) {
        if self.progress.is_none() {
            self.progress = Some(self.ctx.out.progress(what));
        }
    }

    async fn find_instance(&mut self) -> Result<()> {
        let found = newest_running(self.aws, self.source).await?;
        match &found {
            Some(i) => announce(self.ctx, &mut self.progress, i, self.log_group),
            None => self.waiting(format!(
                "waiting for a running instance of {}",
                self.source.describe()
            )),
        }
        self.watch
            .found(self.started.elapsed(), found.map(|i| i.id));
        Ok(())
    }

    async fn check_stream(&mut self, step: &Step) -> Result<()> {
        let id = self.watch.instance().unwrap_or_default().to_string();
        match cloudwatch::stream_exists(self.aws, self.log_group, &id).await? {
            Exists::Throttled => {
                let next = self.interval.after_throttle();
                self.watch.throttled(self.started.elapsed(), step, next);
            }
            e => {
                let exists = e == Exists::Yes;
                if exists {
                    if let Some(p) = self.progress.take() {
                        p.finish();
                    }
                } else {
                    self.waiting(format!("waiting for {id} to write to {}", self.log_group));
                }
                self.watch.stream(self.started.elapsed(), exists);
            }
        }
        Ok(())
    }

    async fn check_instance(&mut self) -> Result<()> {
        let id = self.watch.instance().unwrap_or_default().to_string();
        let found = self
            .aws
            .describe_instances(std::slice::from_ref(&id))
            .await?;
        let state = found.first().map(|i| i.state.clone());
        match state.as_deref() {
            None => self.ctx.out.warn(format!("{id} no longer exists")),
            Some(s) if !crate::logs::watch::is_alive(s) => {
                self.ctx.out.warn(format!("{id} is {s}"))
            }
            Some(_) => {}
        }
        self.watch
            .instance_state(self.started.elapsed(), state.as_deref());
        Ok(())
    }

    async fn fetch_events(&mut self) -> Result<()> {
        let query = Query {
            group: self.log_group.to_string(),
            stream: Some(self.watch.instance().unwrap_or_default().to_string()),
            pattern: None,
        };
        let mut batch: Vec<String> = Vec::new();
        let polled = tokio::select! {
            biased;
            _ = self.interrupt.recv() => None,
            r = cloudwatch::poll(self.aws, &query, &mut self.follower, self.pacing.page_gap, |events| {
                batch.extend(events.iter().map(|e| e.line().to_string()));
                ControlFlow::Continue(())
            }) => Some(r),
        };
        let Some(p) = polled.transpose()? else {
            self.watch.interrupt();
            return Ok(());
        };
        let next = if p.throttled {
            self.interval.after_throttle()
        } else {
            self.interval.after_poll(p.fresh)
        };
        let (color, json) = (self.ctx.out.color(), self.ctx.out.is_json());
        for line in self.watch.fetched(self.started.elapsed(), batch, next) {
            let text = paint(&line.text, &line.kind, color);
            if json {
                self.ctx.out.status(text);
            } else if !self.printer.line(&text) {
                // Nobody reads our output any more: stop like `tail` does.
                self.watch.interrupt();
                break;
            }
        }
        Ok(())
    }
}

impl MigrationOutcome {
    /// The one summary line: outcome, duration, instance, lines.
    pub fn summary(&self) -> String {
        let who = match &self.instance {
            Some(i) => format!("instance {i}"),
            None => format!("no instance of {}", self.source),
        };
        format!(
            "watch-migration: {} after {} ({who}, {} lines)",
            self.outcome.as_str(),
            format_duration(self.elapsed),
            self.lines
        )
    }

    /// Ok for a success; otherwise the ending as an error with its hint and exit code (5 a
    /// failure marker or the instance gone, 1 timed out, 130 interrupted).
    pub fn verdict(&self) -> Result<()> {
        let env = &self.env;
        let id = self.instance.as_deref().unwrap_or("ID");
        let read = format!(
            "login-release tail-logs --group '{}' --instance {id} --since 2h",
            self.log_group
        );
        let detail = self.detail.as_deref();
        match self.outcome {
            Outcome::Succeeded => Ok(()),
            Outcome::Failed => Err(AppError::new(
                Kind::Watched,
                format!(
                    "provisioning of {id} failed: {}",
                    detail.unwrap_or("a failure marker appeared")
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
                    detail.unwrap_or("gone")
                ),
            )
            .with_hint(format!(
                "provisioning was probably abandoned; read what it wrote with `{read}`, then watch the replacement with `login-release watch-migration {env}`"
            ))
            .into()),
            Outcome::TimedOut => Err(self.timed_out(id, &read)),
            Outcome::Interrupted => Err(AppError::new(
                Kind::Interrupted,
                match &self.instance {
                    Some(i) => format!("stopped watching {i}"),
                    None => format!("stopped waiting for an instance of {}", self.source),
                },
            )
            .with_hint(format!(
                "nothing was changed and provisioning continues; watch again with `{}`",
                self.again()
            ))
            .into()),
        }
    }

    /// The command that watches again where this one stopped.
    fn again(&self) -> String {
        match (&self.instance, &self.role) {
            (Some(i), _) => format!("login-release watch-migration {} --instance {i}", self.env),
            (None, Some(r)) => format!("login-release watch-migration {} --role {r}", self.env),
            (None, None) => format!("login-release watch-migration {}", self.env),
        }
    }

    fn timed_out(&self, id: &str, read: &str) -> anyhow::Error {
        let (env, took) = (&self.env, format_duration(self.elapsed));
        match self.phase {
            Phase::Finding => error::failed(
                format!("no running instance of {} appeared within {took}", self.source),
                match &self.role {
                    Some(role) => format!(
                        "a recycle starts new instances (`login-release asg-recycle {env} {role}`); `login-release ls-servers -e {env}` shows what runs"
                    ),
                    None => format!(
                        "a recycle starts the migration instance first (`login-release asg-recycle {env} idp`); one that already ended is read with `--instance ID` (`login-release ls-servers -e {env} --states all` lists it)"
                    ),
                },
            ),
            Phase::WaitingForStream => error::failed(
                format!("{id} wrote nothing to {} within {took}", self.log_group),
                format!(
                    "cloud-init or its CloudWatch agent may still be starting: watch again with `{}`",
                    self.again()
                ),
            ),
            Phase::Following => error::failed(
                format!(
                    "no success marker from {id} within {took}; the migration may still be running"
                ),
                format!("keep watching with `{}`, or read the log with `{read}`", self.again()),
            ),
        }
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

/// The newest instance of `group` launched at or after `since`, when it is no longer alive
/// (the group scaled back in after its provision). `None` while the newest one still runs or
/// none was launched since: then the watch waits for a running one as usual.
async fn newest_ended_since(aws: &Aws, group: &str, since: Timestamp) -> Result<Option<Instance>> {
    let newest = aws.newest_launched_since(group, since).await?;
    Ok(newest.filter(|i| !crate::logs::watch::is_alive(&i.state)))
}

fn announce(ctx: &Context, progress: &mut Option<Progress>, i: &Instance, log_group: &str) {
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
        relative(i.launch_time, ctx.now()),
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
