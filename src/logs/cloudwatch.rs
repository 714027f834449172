//! The CloudWatch Logs adapter: FilterLogEvents polls that feed a [`Follower`], existence checks
//! for groups and streams, and the names a did-you-mean can offer.

use std::ops::ControlFlow;
use std::time::Duration;

use anyhow::Result;

use super::follow::{Event, Follower};
use super::pace::{error_code, is_throttling};
use crate::aws::{call_failed, Aws};

/// What to read: a group, optionally one stream, optionally a CloudWatch filter pattern.
#[derive(Debug, Clone)]
pub struct Query {
    pub group: String,
    pub stream: Option<String>,
    pub pattern: Option<String>,
}

/// How a poll went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Polled {
    /// New events handed to the callback.
    pub fresh: usize,
    /// A request was throttled: the poll ended early and resumes next time.
    pub throttled: bool,
    /// The callback asked to stop.
    pub stopped: bool,
    /// Requests made.
    pub requests: u32,
}

/// One poll: every page from the follower's start time, `page_gap` apart, each page's new events
/// handed to `on_events` (which may stop the poll). Throttling ends the poll early without error.
pub async fn poll(
    aws: &Aws,
    q: &Query,
    follower: &mut Follower,
    page_gap: Duration,
    mut on_events: impl FnMut(Vec<Event>) -> ControlFlow<()>,
) -> Result<Polled> {
    let start = follower.start_poll();
    let mut token: Option<String> = None;
    let mut polled = Polled::default();
    loop {
        if polled.requests > 0 {
            tokio::time::sleep(page_gap).await;
        }
        polled.requests += 1;
        let resp = aws
            .logs
            .filter_log_events()
            .log_group_name(&q.group)
            .set_log_stream_names(q.stream.clone().map(|s| vec![s]))
            .start_time(start)
            .set_filter_pattern(q.pattern.clone())
            .set_next_token(token.take())
            .send()
            .await;
        let page = match resp {
            Ok(p) => p,
            Err(e) if is_throttling(&e) => {
                tracing::debug!("FilterLogEvents throttled");
                polled.throttled = true;
                break;
            }
            Err(e) => {
                follower.finish_poll();
                return Err(call_failed("FilterLogEvents", &e));
            }
        };
        let events: Vec<Event> = page
            .events()
            .iter()
            .map(|e| Event {
                id: e.event_id().unwrap_or_default().to_string(),
                timestamp: e.timestamp().unwrap_or_default(),
                stream: e
                    .log_stream_name()
                    .or(q.stream.as_deref())
                    .unwrap_or_default()
                    .to_string(),
                message: e.message().unwrap_or_default().to_string(),
            })
            .collect();
        let fresh = follower.accept(events);
        polled.fresh += fresh.len();
        if !fresh.is_empty() && on_events(fresh).is_break() {
            polled.stopped = true;
            break;
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    follower.finish_poll();
    Ok(polled)
}

/// An existence check's answer. `Throttled` means "ask again later".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exists {
    Yes,
    No,
    Throttled,
}

/// Whether the log group exists (exact name).
pub async fn group_exists(aws: &Aws, group: &str) -> Result<Exists> {
    let mut pages = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(group)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) if is_throttling(&e) => return Ok(Exists::Throttled),
            Err(e) => return Err(call_failed("DescribeLogGroups", &e)),
        };
        if page
            .log_groups()
            .iter()
            .any(|g| g.log_group_name() == Some(group))
        {
            return Ok(Exists::Yes);
        }
    }
    Ok(Exists::No)
}

/// Whether the log group exists, asking again (2s, 4s, ... 32s apart) while CloudWatch Logs
/// throttles; still throttled after that is a failure (exit 1).
pub async fn group_exists_patiently(aws: &Aws, group: &str) -> Result<bool> {
    let mut tries = 0;
    loop {
        match group_exists(aws, group).await? {
            Exists::Yes => return Ok(true),
            Exists::No => return Ok(false),
            Exists::Throttled if tries < 5 => {
                tries += 1;
                tokio::time::sleep(Duration::from_secs(1 << tries)).await;
            }
            Exists::Throttled => {
                return Err(crate::error::failed(
                    "CloudWatch Logs kept throttling DescribeLogGroups",
                    "wait a minute and run again",
                ))
            }
        }
    }
}

/// Whether the stream exists in the group (exact name). A missing group is `No`.
pub async fn stream_exists(aws: &Aws, group: &str, stream: &str) -> Result<Exists> {
    let mut pages = aws
        .logs
        .describe_log_streams()
        .log_group_name(group)
        .log_stream_name_prefix(stream)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) if is_throttling(&e) => return Ok(Exists::Throttled),
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => return Ok(Exists::No),
            Err(e) => return Err(call_failed("DescribeLogStreams", &e)),
        };
        if page
            .log_streams()
            .iter()
            .any(|s| s.log_stream_name() == Some(stream))
        {
            return Ok(Exists::Yes);
        }
    }
    Ok(Exists::No)
}

/// Log group names for a did-you-mean: at most `pages` pages of 50 (only on an error path).
pub async fn group_names(aws: &Aws, pages: usize) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stream = aws
        .logs
        .describe_log_groups()
        .limit(50)
        .into_paginator()
        .send();
    let mut n = 0;
    while let Some(page) = stream.next().await {
        let page = page.map_err(|e| call_failed("DescribeLogGroups", &e))?;
        out.extend(
            page.log_groups()
                .iter()
                .filter_map(|g| g.log_group_name().map(str::to_string)),
        );
        n += 1;
        if n >= pages {
            break;
        }
    }
    Ok(out)
}

/// The most recently written stream names of a group (one page), for a did-you-mean.
pub async fn recent_stream_names(aws: &Aws, group: &str) -> Result<Vec<String>> {
    let page = aws
        .logs
        .describe_log_streams()
        .log_group_name(group)
        .order_by(aws_sdk_cloudwatchlogs::types::OrderBy::LastEventTime)
        .descending(true)
        .limit(50)
        .send()
        .await
        .map_err(|e| call_failed("DescribeLogStreams", &e))?;
    Ok(page
        .log_streams()
        .iter()
        .filter_map(|s| s.log_stream_name().map(str::to_string))
        .collect())
}
