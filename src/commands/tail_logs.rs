//! `tail-logs`: print (and follow) CloudWatch Logs events.

use std::ops::ControlFlow;
use std::time::Duration;

use anyhow::Result;
use regex::Regex;
use serde::Serialize;
use tokio::time::Instant;

use crate::aws::Aws;
use crate::context::Context;
use crate::error::{self, AppError, Kind};
use crate::logs::cloudwatch::{self, Exists, Query};
use crate::logs::follow::{Event, Follower};
use crate::logs::markers::{Matched, Patterns};
use crate::logs::pace::{Interval, Pacing};
use crate::logs::{parse_since, similar, LinePrinter};
use crate::output::Format;
use crate::plan::rfc3339;
use crate::types::{format_duration, HumanDuration};

const AFTER_HELP: &str = "\
Examples:
  login-release tail-logs --group prod_/var/log/cloud-init-output.log --instance i-0abc --since 1h
  login-release tail-logs --group prod_/srv/idp/shared/log/production.log --follow --filter ERROR
  login-release tail-logs --group G --instance i-0abc --until 'finished' --fail-on 'ABANDON' --timeout 20m

Exit status: 0 caught up, --until matched, stopped with Ctrl-C, or --timeout reached while only
following; 1 no --until match within --timeout, or AWS failed; 2 bad --since or regex;
3 unknown log group or stream; 5 a line matched --fail-on.";

/// Events are read with FilterLogEvents and never printed twice, even when several share a
/// timestamp; polling slows down while nothing arrives and backs off when AWS throttles.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The log group to read.
    #[arg(long, value_name = "GROUP")]
    pub group: String,

    /// Read only this stream of the group.
    #[arg(long, value_name = "STREAM", conflicts_with = "instance")]
    pub stream: Option<String>,

    /// Read only this instance's stream (streams such as cloud-init output are named by instance id).
    #[arg(long, value_name = "ID")]
    pub instance: Option<String>,

    /// Start this far back (`10m`, `1h30m`) or at an RFC 3339 time.
    #[arg(long, value_name = "WHEN", default_value = "10m")]
    pub since: String,

    /// Keep printing new events until Ctrl-C (exit 0), --until, --fail-on or --timeout.
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// A CloudWatch Logs filter pattern applied by AWS (`ERROR`, `"db:migrate"`).
    #[arg(long, value_name = "PATTERN")]
    pub filter: Option<String>,

    /// Stop with exit 0 after the first line matching this regular expression (implies --follow).
    #[arg(long, value_name = "REGEX")]
    pub until: Option<String>,

    /// Stop with exit 5 after the first line matching this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub fail_on: Option<String>,

    /// Stop following after this long: exit 1 if --until has not matched, else 0.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<HumanDuration>,

    /// Poll interval while events arrive (tests and rehearsals; other intervals scale with it).
    #[arg(long, value_name = "DURATION", hide = true)]
    pub poll_interval: Option<HumanDuration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    CaughtUp,
    UntilMatched,
    FailOnMatched,
    TimedOut,
    Interrupted,
    OutputClosed,
}

#[derive(Serialize)]
struct Doc<'a> {
    group: &'a str,
    stream: Option<&'a str>,
    since: String,
    filter: Option<&'a str>,
    outcome: Outcome,
    matched: Option<&'a str>,
    duration_secs: f64,
    events: &'a [Event],
}

fn compile(flag: &str, pattern: &Option<String>) -> Result<Option<Regex>> {
    pattern
        .as_deref()
        .map(|p| {
            Regex::new(p).map_err(|e| {
                let why = e.to_string();
                let last = why.lines().last().unwrap_or("invalid").trim();
                let last = last.strip_prefix("error: ").unwrap_or(last).to_string();
                error::usage(
                    format!("{flag} `{p}` is not a valid regular expression: {last}"),
                    "quote the pattern for the shell and escape regex characters such as ( [ . * with a backslash",
                )
            })
        })
        .transpose()
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let now = ctx.now();
    let since = parse_since(&args.since, now).map_err(|why| {
        error::usage(
            format!("--since {why}"),
            "use a duration back from now (90s, 10m, 1h30m) or a time like 2026-11-26T18:00:00Z",
        )
    })?;
    let patterns = Patterns {
        until: compile("--until", &args.until)?,
        fail_on: compile("--fail-on", &args.fail_on)?,
    };
    let stream = args.stream.clone().or_else(|| args.instance.clone());
    let aws = ctx.aws().await?;
    preflight(ctx, &args.group, stream.as_deref()).await?;

    let pacing = Pacing::from_flag(args.poll_interval.map(|d| d.0));
    let started = Instant::now();
    let mut tail = Tail {
        ctx,
        query: Query {
            group: args.group.clone(),
            stream: stream.clone(),
            pattern: args.filter.clone(),
        },
        // Ten seconds of lookback covers the CloudWatch agent's flush delay across streams.
        follower: Follower::new(since.as_millisecond(), Duration::from_secs(10)),
        interval: Interval::new(pacing),
        pacing,
        follow: args.follow || patterns.until.is_some(),
        deadline: args.timeout.map(|t| started + t.0),
        printer: LinePrinter::default(),
        patterns,
        collected: Vec::new(),
        matched: None,
        warned_throttle: false,
    };
    let outcome = tail.run_until_done(aws).await?;
    let elapsed = started.elapsed();
    let matched_line = tail.matched.as_ref().map(|(_, e)| e.line().to_string());
    if ctx.out.is_json() {
        ctx.out.json(
            "tail-logs",
            &Doc {
                group: &args.group,
                stream: stream.as_deref(),
                since: rfc3339(since),
                filter: args.filter.as_deref(),
                outcome,
                matched: matched_line.as_deref(),
                duration_secs: elapsed.as_secs_f64(),
                events: &tail.collected,
            },
        )?;
    }
    let ended = Ended {
        args: &args,
        since,
        stream: stream.as_deref(),
        outcome,
        elapsed,
        count: tail.follower.total(),
        newest: tail.follower.newest(),
    };
    ended.summary(ctx);
    ended.result(tail.matched, tail.patterns.until.is_some())
}

/// The follow loop's state.
struct Tail<'a> {
    ctx: &'a Context,
    query: Query,
    follower: Follower,
    interval: Interval,
    pacing: Pacing,
    /// Keep polling after catching up (`--follow`, `--until`).
    follow: bool,
    deadline: Option<Instant>,
    printer: LinePrinter,
    patterns: Patterns,
    /// The events, for `--output json` (printed at the end as one document).
    collected: Vec<Event>,
    matched: Option<(Matched, Event)>,
    warned_throttle: bool,
}

impl Tail<'_> {
    /// Polls, prints and waits until caught up (without `--follow`), a pattern matched, the
    /// reader went away, the deadline passed or Ctrl-C.
    async fn run_until_done(&mut self, aws: &Aws) -> Result<Outcome> {
        let tsv = self.ctx.out.format == Format::Tsv;
        if tsv {
            self.printer.line("timestamp\tstream\tmessage");
        }
        let mut interrupt = crate::logs::Interrupt::new(self.ctx);
        loop {
            let json = self.ctx.out.is_json();
            let (printer, collected, matched, patterns) = (
                &mut self.printer,
                &mut self.collected,
                &mut self.matched,
                &self.patterns,
            );
            let on_events = |events: Vec<Event>| {
                for e in events {
                    let line = e.line().to_string();
                    if json {
                        collected.push(e.clone());
                    } else if !printer.line(&shown(&e, &line, tsv)) {
                        return ControlFlow::Break(());
                    }
                    if let Some(m) = patterns.check(&line) {
                        *matched = Some((m, e));
                        return ControlFlow::Break(());
                    }
                }
                ControlFlow::Continue(())
            };
            let polled = tokio::select! {
                biased;
                _ = interrupt.recv() => return Ok(Outcome::Interrupted),
                r = cloudwatch::poll(aws, &self.query, &mut self.follower, self.pacing.page_gap, on_events) => r?,
            };
            if polled.stopped {
                return Ok(match &self.matched {
                    Some((Matched::Until, _)) => Outcome::UntilMatched,
                    Some((Matched::FailOn, _)) => Outcome::FailOnMatched,
                    None => Outcome::OutputClosed,
                });
            }
            let delay = if polled.throttled {
                self.throttled()?
            } else if !self.follow {
                return Ok(Outcome::CaughtUp);
            } else {
                self.interval.after_poll(polled.fresh)
            };
            let wake = Instant::now() + delay;
            let (wake, last) = match self.deadline {
                Some(d) if d <= wake => (d, true),
                _ => (wake, false),
            };
            tokio::select! {
                biased;
                _ = interrupt.recv() => return Ok(Outcome::Interrupted),
                _ = tokio::time::sleep_until(wake) => {}
            }
            if last {
                return Ok(Outcome::TimedOut);
            }
        }
    }

    /// Slows down (warning once); a one-shot read gives up after eight throttled polls in a row.
    fn throttled(&mut self) -> Result<Duration> {
        if !self.warned_throttle {
            self.ctx
                .out
                .warn("CloudWatch Logs is throttling requests; slowing down");
            self.warned_throttle = true;
        }
        let d = self.interval.after_throttle();
        if !self.follow && self.interval.throttled_in_a_row() > 8 {
            return Err(error::failed(
                "CloudWatch Logs kept throttling FilterLogEvents",
                "other tools share the account's limit of 5 requests per second; wait a minute and run again",
            ));
        }
        Ok(d)
    }
}

/// One event as printed: its message, or a TSV row.
fn shown(e: &Event, line: &str, tsv: bool) -> String {
    if tsv {
        format!(
            "{}\t{}\t{}",
            rfc3339_ms(e.timestamp),
            e.stream,
            line.replace('\t', " ").replace('\n', "\\n")
        )
    } else {
        line.to_string()
    }
}

/// How the tail ended, for the summary line and the exit status.
struct Ended<'a> {
    args: &'a Args,
    since: jiff::Timestamp,
    stream: Option<&'a str>,
    outcome: Outcome,
    elapsed: Duration,
    count: u64,
    newest: Option<i64>,
}

impl Ended<'_> {
    fn summary(&self, ctx: &Context) {
        let what = match self.stream {
            Some(s) => format!("{} / {s}", self.args.group),
            None => self.args.group.clone(),
        };
        match self.outcome {
            Outcome::CaughtUp if self.count == 0 => ctx
                .out
                .status(format!("no events in {what} since {}", rfc3339(self.since))),
            Outcome::CaughtUp | Outcome::OutputClosed => {}
            _ => ctx.out.status(format!(
                "tail-logs: {} events from {what} in {}; {}",
                self.count,
                format_duration(self.elapsed),
                match self.outcome {
                    Outcome::UntilMatched => "--until matched",
                    Outcome::FailOnMatched => "--fail-on matched",
                    Outcome::TimedOut => "--timeout reached",
                    _ => "stopped",
                }
            )),
        }
    }

    /// The command that reads on from a stream and a time (default: where this one began).
    fn tail_cmd(&self, stream: Option<&str>, from_ms: Option<i64>) -> String {
        format!(
            "login-release tail-logs --group '{}'{} --since {}",
            self.args.group,
            stream
                .map(|s| format!(" --stream '{s}'"))
                .unwrap_or_default(),
            from_ms
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .map_or_else(|| rfc3339(self.since), rfc3339),
        )
    }

    /// Exit 5 for a `--fail-on` match, 1 for `--until` not matched in time, else 0.
    fn result(&self, matched: Option<(Matched, Event)>, waited_for_until: bool) -> Result<()> {
        match (self.outcome, matched) {
            (Outcome::FailOnMatched, Some((_, e))) => {
                // The minute before the match, in the stream it came from.
                let resume = self.tail_cmd(Some(&e.stream), Some(e.timestamp - 60_000));
                Err(AppError::new(
                    Kind::Watched,
                    format!(
                        "a line matched --fail-on `{}` in stream {}: {}",
                        self.args.fail_on.as_deref().unwrap_or_default(),
                        e.stream,
                        e.line()
                    ),
                )
                .with_hint(format!("read around it: {resume}"))
                .into())
            }
            (Outcome::TimedOut, _) if waited_for_until => Err(error::failed(
                format!(
                    "no line matched --until `{}` within {}",
                    self.args.until.as_deref().unwrap_or_default(),
                    format_duration(self.elapsed)
                ),
                format!(
                    "what you wait for may still be coming: continue with {} --until ...",
                    self.tail_cmd(self.stream, self.newest)
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// The group must exist, and the stream when one is named: exit 3 with a did-you-mean.
async fn preflight(ctx: &Context, group: &str, stream: Option<&str>) -> Result<()> {
    let aws = ctx.aws().await?;
    if !cloudwatch::group_exists_patiently(aws, group).await? {
        let names = cloudwatch::group_names(aws, 5).await.unwrap_or_default();
        let guess = similar(group, &names, 3);
        let hint = if guess.is_empty() {
            format!(
                "check the name and the region ({}); `aws logs describe-log-groups` lists them",
                aws.region
            )
        } else {
            format!("did you mean {}?", quoted(&guess))
        };
        return Err(error::preflight(
            format!("log group `{group}` does not exist in {}", aws.region),
            hint,
        ));
    }
    let Some(stream) = stream else {
        return Ok(());
    };
    if cloudwatch::stream_exists(aws, group, stream).await? == Exists::No {
        let names = cloudwatch::recent_stream_names(aws, group)
            .await
            .unwrap_or_default();
        let guess = similar(stream, &names, 3);
        let hint = if !guess.is_empty() {
            format!("did you mean {}?", quoted(&guess))
        } else if names.is_empty() {
            "the group has no streams yet; an instance's stream appears once its CloudWatch agent runs (watch-migration waits for it)".to_string()
        } else {
            format!(
                "the most recently written streams: {}",
                quoted(&names.iter().take(5).cloned().collect::<Vec<_>>())
            )
        };
        return Err(error::preflight(
            format!("log stream `{stream}` does not exist in {group}"),
            hint,
        ));
    }
    Ok(())
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn rfc3339_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|_| ms.to_string())
}
