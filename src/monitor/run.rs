//! The monitor's run: find the two shas and the log groups, then look tick by tick (each tick
//! queries only the new slice of time) until a verdict or the deadline, showing each look and
//! recording the verdict on the role's group. `monitor-deploy`, `asg-recycle --monitor` and
//! `deploy`'s monitor and soak steps call [`monitor`]; the statistics, the verdict and the
//! windows it uses are the pure modules beside it.

use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use super::insights::{self, Answer, Pace};
use super::queries::{self, Slice};
use super::stats::{self, Spending};
use super::verdict::{self, Assessment, Decision, Metric, Verdict, METRICS};
use super::window::{Accumulator, Span, Tick};
use super::{self as mon, record, Shas};
use crate::aws::Aws;
use crate::context::Context;
use crate::error::{self, AppError, Findings, Kind};
use crate::logs::cloudwatch;
use crate::plan::rfc3339;
use crate::recycle::{Clock, RealClock};
use crate::types::{format_duration, Env, GitSha, HumanDuration};

/// What to judge and for how long: `monitor-deploy`'s flags, or a caller's defaults
/// ([`MonitorRequest::for_role`], as `asg-recycle --monitor` and `deploy` run it).
#[derive(Debug, Clone)]
pub struct MonitorRequest {
    pub env: Env,
    /// Its log groups come from monitor.request_log_groups and monitor.event_log_groups.
    pub role: String,
    /// The sha before the deploy (default: the earlier-launched sha of the role's instances).
    pub old_sha: Option<GitSha>,
    /// The sha being deployed (default: the later-launched sha of the role's instances).
    pub new_sha: Option<GitSha>,
    /// Without a PASS or FAIL by then: INCONCLUSIVE (never PASS).
    pub max_duration: HumanDuration,
    /// Time between looks.
    pub interval: HumanDuration,
    /// One look over everything so far, with the whole alpha.
    pub once: bool,
    /// Poll interval of Logs Insights queries.
    pub poll_interval: HumanDuration,
}

impl MonitorRequest {
    /// How many looks the false-alarm rate is spent over: one with --once, else one per
    /// interval up to the maximum duration.
    fn planned_looks(&self) -> u32 {
        if self.once {
            return 1;
        }
        self.max_duration
            .0
            .as_secs()
            .div_ceil(self.interval.0.as_secs().max(1))
            .max(1) as u32
    }

    /// The defaults `asg-recycle --monitor` and `deploy` run with: up to 15 minutes, a look
    /// every 30 seconds.
    pub fn for_role(env: &Env, role: &str) -> MonitorRequest {
        MonitorRequest {
            env: env.clone(),
            role: role.to_string(),
            old_sha: None,
            new_sha: None,
            max_duration: HumanDuration::secs(15 * 60),
            interval: HumanDuration::secs(30),
            once: false,
            poll_interval: HumanDuration::secs(1),
        }
    }
}

/// One look, as the JSON document lists it.
#[derive(Debug, Clone, Serialize)]
pub struct TickReport {
    pub at: Timestamp,
    pub look: u32,
    /// The two-sided level this look spent.
    pub alpha: f64,
    /// What this tick queried (only the new slice).
    pub slice: Option<Tick>,
    /// The whole compared window so far.
    pub window: Option<Span>,
    pub assessments: Vec<Assessment>,
    /// The old sha now against itself before the deploy.
    pub baseline: Vec<Assessment>,
    pub instances_new: u64,
    pub instances_old: u64,
    pub queries: u32,
    pub bytes_scanned: f64,
    pub verdict: Verdict,
    pub reason: String,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub env: String,
    pub role: String,
    pub old_sha: String,
    pub new_sha: String,
    pub request_log_group: String,
    pub event_log_group: String,
    pub deploy_start: Option<Timestamp>,
    pub planned_looks: u32,
    pub ticks: Vec<TickReport>,
    pub verdict: Verdict,
    pub reason: String,
    /// On FAIL: the command that takes the new instances out.
    pub rollback: Option<String>,
    pub warnings: Vec<String>,
}

impl Outcome {
    /// The outcome before the first look.
    fn pending(req: &MonitorRequest, shas: &Shas, groups: &Groups, planned: u32) -> Outcome {
        Outcome {
            env: req.env.to_string(),
            role: req.role.clone(),
            old_sha: shas.old.to_string(),
            new_sha: shas.new.to_string(),
            request_log_group: groups.requests.clone(),
            event_log_group: groups.events.clone(),
            deploy_start: None,
            planned_looks: planned,
            ticks: Vec::new(),
            verdict: Verdict::Pending,
            reason: String::new(),
            rollback: None,
            warnings: Vec::new(),
        }
    }
}

struct Groups {
    requests: String,
    events: String,
}

fn log_groups(ctx: &Context, env: &str, role: &str) -> Result<Groups> {
    let m = &ctx.settings().monitor;
    let (requests, events) = (m.request_log_group(env, role), m.event_log_group(env, role));
    let mut f = Findings::new();
    if requests.is_none() {
        f.add(
            format!("no request log group is configured for role {role}"),
            format!("add \"{role}=<log group>\" to monitor.request_log_groups (pki and dashboard log under /srv/pki-rails/ and /srv/dashboard/)"),
        );
    }
    if events.is_none() {
        f.add(
            format!("no event log group is configured for role {role}"),
            format!("add \"{role}=<log group>\" to monitor.event_log_groups"),
        );
    }
    f.into_result()?;
    Ok(Groups {
        requests: requests.unwrap_or_default(),
        events: events.unwrap_or_default(),
    })
}

/// Every log group must exist before the first query: one finding per missing group.
async fn check_groups(aws: &Aws, groups: &Groups) -> Result<()> {
    let mut f = Findings::new();
    for g in [&groups.requests, &groups.events] {
        if !cloudwatch::group_exists_patiently(aws, g).await? {
            f.add(
                format!("log group {g} does not exist"),
                "check the environment and role, or the monitor.*_log_groups settings (`login-release config`)",
            );
        }
    }
    f.into_result()
}

fn check_request(req: &MonitorRequest) -> Result<()> {
    if req.interval.0.is_zero() {
        return Err(error::usage(
            "--interval must be longer than 0s",
            "try --interval 30s",
        ));
    }
    if req.max_duration.0 < req.interval.0 {
        return Err(error::usage(
            format!(
                "--max-duration {} is shorter than one --interval {}",
                req.max_duration, req.interval
            ),
            "give a --max-duration of at least one interval (default 15m with 30s)",
        ));
    }
    Ok(())
}

/// Reads which shas the role runs, unless both flags say.
async fn shas(ctx: &Context, aws: &Aws, req: &MonitorRequest) -> Result<(Shas, Option<Timestamp>)> {
    let running = if req.old_sha.is_some() && req.new_sha.is_some() {
        Vec::new()
    } else {
        let name = ctx.settings().instance_name(&req.env, &req.role);
        let filters = vec![
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:Name")
                .values(&name)
                .build(),
            aws_sdk_ec2::types::Filter::builder()
                .name("instance-state-name")
                .values("running")
                .build(),
        ];
        mon::running_shas(&aws.describe_instances_filtered(filters).await?, &req.role)
    };
    let shas = mon::pick_shas(&running, req.old_sha.as_ref(), req.new_sha.as_ref())?;
    let launched = running
        .iter()
        .find(|r| r.sha == shas.new.as_str())
        .map(|r| r.first_launch);
    Ok((shas, launched))
}

/// Queries and their cost, per tick.
#[derive(Default)]
struct Cost {
    queries: u32,
    bytes: f64,
}

impl Cost {
    fn add(&mut self, a: &Answer) {
        self.queries += 1;
        self.bytes += a.bytes_scanned;
    }
}

struct Runner<'a> {
    aws: &'a Aws,
    pace: Pace,
    groups: Groups,
}

impl Runner<'_> {
    async fn query(
        &self,
        group: &str,
        span: Span,
        text: String,
        cost: &mut Cost,
    ) -> Result<Answer> {
        let (start, end) = span.query_bounds();
        let req = insights::Request {
            log_groups: vec![group.to_string()],
            start,
            end,
            query: text,
        };
        let a = insights::run(&self.aws.logs, &self.pace, &req).await?;
        cost.add(&a);
        Ok(a)
    }

    /// Both logs over one span.
    async fn slice(&self, span: Span, cost: &mut Cost) -> Result<Slice> {
        let mut s = Slice::default();
        if span.is_empty() {
            return Ok(s);
        }
        let r = self
            .query(&self.groups.requests, span, queries::requests(), cost)
            .await?;
        queries::read_requests(&r.rows, &mut s)?;
        let e = self
            .query(&self.groups.events, span, queries::events(), cost)
            .await?;
        queries::read_events(&e.rows, &mut s)?;
        Ok(s)
    }
}

fn short(s: &str) -> &str {
    crate::types::prefix(s, 9)
}

/// `0.50% [0.47, 0.53]`, or `no data`.
fn rate_cell(c: stats::Count, alpha: f64) -> String {
    match (c.rate(), stats::proportion(c, alpha)) {
        (Some(r), Some(i)) => format!(
            "{} [{:.2}, {:.2}]",
            verdict::pct(r),
            i.lo * 100.0,
            i.hi * 100.0
        ),
        _ => "no data".to_string(),
    }
}

fn diff_cell(a: &Assessment) -> String {
    match a.difference {
        Some(d) => format!("[{:+.2}, {:+.2}] {}", d.lo * 100.0, d.hi * 100.0, a.status),
        None => a.status.to_string(),
    }
}

/// The table for people: old, new, and the difference with each metric's status.
fn table(outcome: &Outcome, t: &TickReport, acc: &Accumulator) -> String {
    let mut header = vec!["", "SHA", "REQUESTS", "5XX", "INSTANCES"];
    header.extend(METRICS.iter().map(|m| m.column()));
    header.push("VERDICT");
    let side = |name: &str, sha: &str, totals: &verdict::Totals, instances: u64| {
        let mut row = vec![
            name.to_string(),
            short(sha).to_string(),
            totals.requests().to_string(),
            totals.get(Metric::ServerErrors).events.to_string(),
            instances.to_string(),
        ];
        row.extend(METRICS.iter().map(|m| rate_cell(totals.get(*m), t.alpha)));
        row.push(String::new());
        row
    };
    let mut diff = vec![
        "new-old".to_string(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ];
    diff.extend(t.assessments.iter().map(diff_cell));
    diff.push(t.verdict.to_string());
    let rows = vec![
        side("old", &outcome.old_sha, &acc.old, t.instances_old),
        side("new", &outcome.new_sha, &acc.new, t.instances_new),
        diff,
    ];
    let title = format!(
        "monitor-deploy {} {}: look {}/{} at {}, window {} since {}, alpha {:.2e}",
        outcome.env,
        outcome.role,
        t.look,
        outcome.planned_looks,
        rfc3339(t.at),
        format_duration(acc.window()),
        outcome
            .deploy_start
            .map(rfc3339)
            .unwrap_or_else(|| "-".into()),
        t.alpha
    );
    format!(
        "{title}\n{}\n{}: {}",
        crate::output::table(&header, rows, true),
        t.verdict,
        t.reason
    )
}

/// The piped form: one timestamped line per tick.
fn line(t: &TickReport, acc: &Accumulator) -> String {
    let cells: Vec<String> = t
        .assessments
        .iter()
        .map(|a| {
            let r = |c: stats::Count| c.rate().map(verdict::pct).unwrap_or_else(|| "-".into());
            format!(
                "{} {}/{} {}",
                a.metric.column().trim_end_matches(" %"),
                r(a.new),
                r(a.old),
                a.status
            )
        })
        .collect();
    format!(
        "{} look {} window {} requests {}/{} | {} | {}",
        rfc3339(t.at),
        t.look,
        format_duration(acc.window()),
        acc.new.requests(),
        acc.old.requests(),
        cells.join(" | "),
        t.verdict
    )
}

enum Display {
    Redraw,
    Lines,
    Json,
}

impl Display {
    fn pick(ctx: &Context) -> Display {
        if ctx.out.is_json() {
            Display::Json
        } else if std::io::stdout().is_terminal() {
            Display::Redraw
        } else {
            Display::Lines
        }
    }

    fn show(&self, ctx: &Context, outcome: &Outcome, t: &TickReport, acc: &Accumulator) {
        match self {
            // Clear the screen and home the cursor: one table redrawn in place.
            Display::Redraw => ctx
                .out
                .data(format!("\x1b[H\x1b[2J{}", table(outcome, t, acc))),
            Display::Lines => ctx.out.data(line(t, acc)),
            Display::Json => ctx.out.status(line(t, acc)),
        }
    }
}

/// What a caller that runs the monitor after changing something (`asg-recycle --monitor`)
/// checks before the change: the flags and the role's log groups, configured and existing (the
/// `monitor.*` settings were checked when they loaded). Reads only; the same findings `monitor`
/// itself would report.
pub async fn preflight(ctx: &Context, req: &MonitorRequest) -> Result<()> {
    check_request(req)?;
    let groups = log_groups(ctx, &req.env, &req.role)?;
    check_groups(ctx.aws().await?, &groups).await
}

/// The plan's step for a monitor that runs after a change: what it reads, how long it may
/// take, and the one thing it writes (the verdict tag on the role's group).
pub fn plan_step(ctx: &Context, req: &MonitorRequest) -> crate::plan::Step {
    let m = &ctx.settings().monitor;
    let logs = [
        m.request_log_group(&req.env, &req.role),
        m.event_log_group(&req.env, &req.role),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" and ");
    crate::plan::Step::new(
        "monitor-deploy",
        ctx.settings().asg_name(&req.env, &req.role),
        format!(
            "once the new instances are InService: new sha against old in {logs}, every {} for up to {}; records the verdict as tag {}",
            req.interval,
            req.max_duration,
            record::TAG
        ),
    )
    .params(serde_json::json!({
        "role": req.role,
        "interval": req.interval.to_string(),
        "max_duration": req.max_duration.to_string(),
    }))
}

/// Runs the monitor and returns the outcome (a FAIL is an outcome, not an error).
pub async fn monitor(ctx: &Context, req: &MonitorRequest) -> Result<Outcome> {
    check_request(req)?;
    let settings = ctx.settings();
    let groups = log_groups(ctx, &req.env, &req.role)?;
    let thresholds = settings.monitor.thresholds();
    let alpha = settings.monitor.alpha;
    let lag = settings.monitor.ingestion_lag.0;
    let pace = Pace::new(req.poll_interval.0, settings.monitor.query_timeout.0);
    let aws = ctx.aws().await?;
    let (shas, launched) = shas(ctx, aws, req).await?;
    check_groups(aws, &groups).await?;
    let planned = req.planned_looks();
    let spending = Spending::new(alpha, planned);
    let clock = RealClock::starting_at(ctx.now());
    let started = clock.now();
    let deadline = started + req.max_duration.0;
    let display = Display::pick(ctx);
    let mut outcome = Outcome::pending(req, &shas, &groups, planned);
    ctx.out.status(format!(
        "comparing new {} with old {} in {} and {} (ingestion lag {}, {} looks planned)",
        shas.new,
        shas.old,
        groups.requests,
        groups.events,
        format_duration(lag),
        planned
    ));
    let runner = Runner { aws, pace, groups };
    let mut acc: Option<Accumulator> = None;
    let mut look = 0u32;
    loop {
        let now = clock.now();
        look += 1;
        let last = req.once || now + req.interval.0 >= deadline;
        let mut cost = Cost::default();
        if acc.is_none() {
            acc = discover(
                ctx,
                &runner,
                &shas,
                launched,
                now,
                lag,
                req,
                &mut cost,
                &mut outcome,
            )
            .await?;
            outcome.deploy_start = acc.as_ref().map(|a| a.deploy_start);
        }
        let at = Look {
            now,
            look,
            alpha: spending.alpha_at(look),
            last,
        };
        let report = match acc.as_mut() {
            Some(a) => look_at(&runner, a, &at, lag, &shas, &thresholds, &mut cost).await?,
            None => not_started(&at, &cost, &shas),
        };
        let empty = Accumulator::new(now);
        display.show(ctx, &outcome, &report, acc.as_ref().unwrap_or(&empty));
        outcome.verdict = report.verdict;
        outcome.reason = report.reason.clone();
        outcome.ticks.push(report);
        if outcome.verdict != Verdict::Pending {
            break;
        }
        tokio::select! {
            _ = clock.sleep(req.interval.0.min(Duration::try_from(deadline.duration_since(clock.now())).unwrap_or(Duration::ZERO))) => {}
            _ = ctx.interrupted() => {
                finish(ctx, &mut outcome, &shas, &display).await?;
                return Err(AppError::new(
                    Kind::Interrupted,
                    format!("stopped monitoring after {look} look{} without a verdict", if look == 1 { "" } else { "s" }),
                )
                .with_hint("nothing was changed; run monitor-deploy again to keep watching")
                .into());
            }
        }
    }
    finish(ctx, &mut outcome, &shas, &display).await?;
    Ok(outcome)
}

/// One look of the sequence: when, which, at what alpha, and whether it is the last.
struct Look {
    now: Timestamp,
    look: u32,
    alpha: f64,
    last: bool,
}

/// One look once the deploy's start is known: query the next slice (when one is due), add it,
/// and judge everything counted so far against the old code and the old code's own baseline.
async fn look_at(
    runner: &Runner<'_>,
    a: &mut Accumulator,
    at: &Look,
    lag: Duration,
    shas: &Shas,
    thresholds: &verdict::Thresholds,
    cost: &mut Cost,
) -> Result<TickReport> {
    let mut queried = None;
    let mut instances = (0, 0);
    if let Some(tick) = a.next(at.now, lag) {
        let current = runner.slice(tick.current, cost).await?;
        let baseline = runner.slice(tick.baseline, cost).await?;
        a.add(
            &tick,
            &current,
            &baseline,
            shas.new.as_str(),
            shas.old.as_str(),
        );
        instances = reporting(&current, shas);
        queried = Some(tick);
    }
    let current = verdict::assess(&a.new, &a.old, thresholds, at.alpha);
    let baseline = verdict::assess(&a.old, &a.baseline, thresholds, at.alpha);
    let Decision { verdict, reason } = verdict::decide(&current, &baseline, at.last);
    Ok(TickReport {
        at: at.now,
        look: at.look,
        alpha: at.alpha,
        slice: queried,
        window: Some(Span {
            start: a.deploy_start,
            end: a.counted_to,
        }),
        assessments: current,
        baseline,
        instances_new: instances.0,
        instances_old: instances.1,
        queries: cost.queries,
        bytes_scanned: cost.bytes,
        verdict,
        reason,
    })
}

/// A look before the new sha's first request: pending, or NO DATA at the last look.
fn not_started(at: &Look, cost: &Cost, shas: &Shas) -> TickReport {
    TickReport {
        at: at.now,
        look: at.look,
        alpha: at.alpha,
        slice: None,
        window: None,
        assessments: Vec::new(),
        baseline: Vec::new(),
        instances_new: 0,
        instances_old: 0,
        queries: cost.queries,
        bytes_scanned: cost.bytes,
        verdict: if at.last {
            Verdict::NoData
        } else {
            Verdict::Pending
        },
        reason: format!("no request from the new sha {} in the logs yet", shas.new),
    }
}

/// Instances reporting: the log streams of each sha that logged a request in this tick's slice.
fn reporting(current: &Slice, shas: &Shas) -> (u64, u64) {
    let n = current
        .instances
        .get(shas.new.as_str())
        .copied()
        .unwrap_or(0);
    let o = current
        .instances
        .get(shas.old.as_str())
        .copied()
        .unwrap_or(0);
    (n, o)
}

/// Finds the deploy's start: the new sha's first request. Warns once about shas in the logs
/// that no running instance reports (cross-check of the instances' tags).
#[allow(clippy::too_many_arguments)]
async fn discover(
    ctx: &Context,
    runner: &Runner<'_>,
    shas: &Shas,
    launched: Option<Timestamp>,
    now: Timestamp,
    lag: Duration,
    req: &MonitorRequest,
    cost: &mut Cost,
    outcome: &mut Outcome,
) -> Result<Option<Accumulator>> {
    let look_back = req.max_duration.0.max(Duration::from_secs(3600));
    let mut from = now - look_back;
    if let Some(l) = launched {
        from = from.max(l);
    }
    let end = now - lag;
    if end <= from {
        return Ok(None);
    }
    let span = Span { start: from, end };
    let a = runner
        .query(&runner.groups.requests, span, queries::discovery(), cost)
        .await?;
    let seen = queries::read_discovery(&a.rows)?;
    if outcome.warnings.is_empty() {
        for s in seen
            .iter()
            .filter(|s| s.sha != shas.new.as_str() && s.sha != shas.old.as_str())
        {
            let what = if s.sha.is_empty() {
                "no sha".to_string()
            } else {
                format!("sha {}", s.sha)
            };
            let w = format!(
                "the request log shows {} requests with {what} (first at {}), neither the old nor the new sha; they are left out",
                s.requests,
                rfc3339(s.first_seen)
            );
            ctx.out.warn(&w);
            outcome.warnings.push(w);
        }
    }
    Ok(seen
        .iter()
        .find(|s| s.sha == shas.new.as_str())
        .map(|s| Accumulator::new(s.first_seen)))
}

/// The last words: the verdict (and the rollback on FAIL), recorded on the group for the team.
async fn finish(
    ctx: &Context,
    outcome: &mut Outcome,
    shas: &Shas,
    display: &Display,
) -> Result<()> {
    if outcome.verdict == Verdict::Fail {
        outcome.rollback = Some(format!(
            "login-release scale-remove-new-instances {} {}",
            outcome.env, outcome.role
        ));
    }
    if !matches!(display, Display::Json) {
        ctx.out
            .data(format!("verdict: {}: {}", outcome.verdict, outcome.reason));
        if let Some(r) = &outcome.rollback {
            ctx.out.data(format!("roll back with: {r}"));
        }
    }
    if outcome.verdict != Verdict::Pending {
        let group = ctx.settings().asg_name(&outcome.env, &outcome.role);
        if ctx.dry_run() {
            ctx.out
                .status(format!("dry run: the verdict is not recorded on {group}"));
        } else {
            let value = record::value(outcome.verdict, shas, ctx.now());
            if let Err(e) = ctx.aws().await?.record_verdict(&group, &value).await {
                ctx.out.warn(format!(
                    "could not record the verdict on {group} ({}); scale-remove-old-instances will not see it",
                    error::report(&e).message
                ));
            }
        }
    }
    Ok(())
}

/// The verdict as an exit code: PASS 0, FAIL 5 (with the rollback), INCONCLUSIVE/NO DATA 6.
pub fn verdict_result(outcome: &Outcome) -> Result<()> {
    let sha = short(&outcome.new_sha);
    match outcome.verdict {
        Verdict::Pass | Verdict::Pending => Ok(()),
        Verdict::Fail => Err(AppError::new(Kind::Watched, format!("FAIL: {sha} is worse than the old sha: {}", outcome.reason))
            .with_hint(format!(
                "roll back: `{}`",
                outcome.rollback.as_deref().unwrap_or("login-release scale-remove-new-instances ENV ROLE")
            ))
            .into()),
        v @ (Verdict::Inconclusive | Verdict::NoData) => Err(AppError::new(
            Kind::Undecided,
            format!("{v}: no verdict on {sha} within the monitor's time"),
        )
        .with_hint("judge it yourself (the runbook: roll back if confirming takes more than 15 minutes), or watch longer with --max-duration")
        .into()),
    }
}
