//! The Logs Insights adapter: StartQuery, then GetQueryResults until the query ends, with every
//! status handled, a per-query timeout (the query is stopped, not abandoned running), and backoff
//! when CloudWatch Logs refuses for concurrency (LimitExceededException: 30 concurrent queries
//! per account) or throttles.

use std::time::Duration;

use anyhow::Result;
use aws_sdk_cloudwatchlogs::types::QueryStatus;
use serde::Serialize;

use super::queries::Row;
use crate::aws::call_failed;
use crate::error::{failed, preflight};
use crate::logs::pace::{error_code, is_throttling};

/// How a query is waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Between GetQueryResults polls (and the first backoff step).
    pub poll: Duration,
    /// Longest wait after repeated refusals.
    pub max_backoff: Duration,
    /// A query not complete after this is stopped and the tick fails.
    pub timeout: Duration,
}

impl Pace {
    pub fn new(poll: Duration, timeout: Duration) -> Self {
        Pace {
            poll,
            max_backoff: (poll * 32).min(Duration::from_secs(30)).max(poll),
            timeout,
        }
    }
}

/// What one query asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    pub log_groups: Vec<String>,
    /// Epoch seconds, both ends included (StartQuery's convention).
    pub start: i64,
    pub end: i64,
    pub query: String,
}

/// Its answer, with the cost CloudWatch Logs reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Answer {
    #[serde(skip)]
    pub rows: Vec<Row>,
    pub bytes_scanned: f64,
    pub records_scanned: f64,
    /// How many times it was refused or throttled before it ran.
    pub backoffs: u32,
}

/// Whether CloudWatch Logs asks us to wait: too many concurrent queries, or throttling.
fn is_refusal<E, R>(err: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    is_throttling(err) || error_code(err) == Some("LimitExceededException")
}

/// The next backoff wait: doubling from `poll` to `max_backoff`.
fn backoff(pace: &Pace, n: u32) -> Duration {
    (pace.poll * 2u32.saturating_pow(n.min(10))).min(pace.max_backoff)
}

/// Runs one query to its end.
pub async fn run(
    client: &aws_sdk_cloudwatchlogs::Client,
    pace: &Pace,
    req: &Request,
) -> Result<Answer> {
    let deadline = tokio::time::Instant::now() + pace.timeout;
    let mut backoffs = 0u32;
    let what = || format!("the Logs Insights query over {}", req.log_groups.join(", "));
    let timed_out = |id: Option<&str>| {
        failed(
            format!(
                "{} did not finish within {}{}",
                what(),
                crate::types::format_duration(pace.timeout),
                id.map(|i| format!(" (query {i}, stopped)"))
                    .unwrap_or_default()
            ),
            "CloudWatch Logs is slow or busy: raise monitor.query_timeout, or run again",
        )
    };
    let id = loop {
        let sent = client
            .start_query()
            .set_log_group_names(Some(req.log_groups.clone()))
            .start_time(req.start)
            .end_time(req.end)
            .query_string(&req.query)
            .limit(10_000)
            .send()
            .await;
        match sent {
            Ok(out) => break out.query_id().unwrap_or_default().to_string(),
            Err(e) if is_refusal(&e) => {
                tracing::debug!(
                    "StartQuery refused ({}); backing off",
                    crate::aws::sdk_message(&e)
                );
                let wait = backoff(pace, backoffs);
                backoffs += 1;
                if tokio::time::Instant::now() + wait > deadline {
                    return Err(failed(
                        format!(
                            "CloudWatch Logs kept refusing {} (concurrency limit or throttling) for {}",
                            what(),
                            crate::types::format_duration(pace.timeout)
                        ),
                        "other Logs Insights queries are using the account's limit; wait a minute and run again",
                    ));
                }
                tokio::time::sleep(wait).await;
            }
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => {
                return Err(preflight(
                    format!(
                        "a log group of {} does not exist: {}",
                        req.log_groups.join(", "),
                        crate::aws::sdk_message(&e)
                    ),
                    "check the monitor.*_log_groups settings for this role (`login-release config`)",
                ));
            }
            Err(e) => return Err(call_failed("StartQuery", &e)),
        }
    };
    let mut wait = pace.poll;
    loop {
        if tokio::time::Instant::now() + wait > deadline {
            // Best effort: a query left running keeps using the account's concurrency.
            let _ = client.stop_query().query_id(&id).send().await;
            return Err(timed_out(Some(&id)));
        }
        tokio::time::sleep(wait).await;
        let out = match client.get_query_results().query_id(&id).send().await {
            Ok(out) => out,
            Err(e) if is_refusal(&e) => {
                wait = backoff(pace, backoffs);
                backoffs += 1;
                continue;
            }
            Err(e) => return Err(call_failed("GetQueryResults", &e)),
        };
        wait = pace.poll;
        match out.status() {
            Some(QueryStatus::Complete) => {
                let stats = out.statistics();
                return Ok(Answer {
                    rows: out
                        .results()
                        .iter()
                        .map(|fields| {
                            fields
                                .iter()
                                .filter_map(|f| {
                                    Some((f.field()?.to_string(), f.value()?.to_string()))
                                })
                                .collect()
                        })
                        .collect(),
                    bytes_scanned: stats.map_or(0.0, |s| s.bytes_scanned()),
                    records_scanned: stats.map_or(0.0, |s| s.records_scanned()),
                    backoffs,
                });
            }
            Some(QueryStatus::Scheduled) | Some(QueryStatus::Running) | None => continue,
            Some(QueryStatus::Timeout) => {
                return Err(failed(
                    format!("{} timed out in CloudWatch Logs (query {id})", what()),
                    "the window is too large for one query; run again with a shorter --interval",
                ))
            }
            Some(QueryStatus::Cancelled) => {
                return Err(failed(
                    format!("{} was cancelled (query {id})", what()),
                    "someone or something stopped the query; run again",
                ))
            }
            Some(QueryStatus::Failed) => {
                return Err(failed(
                    format!("{} failed in CloudWatch Logs (query {id})", what()),
                    "run again; if it keeps failing, run the query in the console to see why",
                ))
            }
            Some(other) => {
                return Err(failed(
                    format!(
                        "{} ended with the unknown status {:?} (query {id})",
                        what(),
                        other.as_str()
                    ),
                    "run again with -v",
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = Pace::new(Duration::from_secs(1), Duration::from_secs(120));
        assert_eq!(backoff(&p, 0), Duration::from_secs(1));
        assert_eq!(backoff(&p, 3), Duration::from_secs(8));
        assert_eq!(backoff(&p, 9), Duration::from_secs(30));
    }
}
