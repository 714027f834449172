//! Following CloudWatch Logs: the pure follower (dedupe, next start), pacing, marker matching,
//! the migration watch state machine, and the adapter over the SDK.

pub mod cloudwatch;
pub mod follow;
pub mod markers;
pub mod migration;
pub mod pace;
pub mod watch;

use std::io::Write as _;

use jiff::Timestamp;

use crate::types::HumanDuration;

/// `--since`: a duration back from `now` (`10m`, `1h30m`, `90s`) or an RFC 3339 time.
pub fn parse_since(s: &str, now: Timestamp) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    match s.parse::<HumanDuration>() {
        Ok(d) => {
            let span = jiff::SignedDuration::try_from(d.0).map_err(|e| e.to_string())?;
            now.checked_sub(span).map_err(|e| e.to_string())
        }
        Err(_) => Err(format!(
            "`{s}` is neither a duration (like 10m or 1h30m) nor an RFC 3339 time"
        )),
    }
}

/// Lines to stdout, flushed one by one (so a pipe sees each line as it arrives), noticing when
/// the reader has gone (`| head`): then the caller stops instead of following forever.
#[derive(Debug, Default)]
pub struct LinePrinter {
    closed: bool,
}

impl LinePrinter {
    /// Writes one line; `false` once stdout is closed.
    pub fn line(&mut self, text: &str) -> bool {
        if self.closed {
            return false;
        }
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
            self.closed = true;
        }
        !self.closed
    }
}

/// Ctrl-C for the loops that handle it themselves: the context's sticky flag, which `main` sets
/// when the signal arrives, so one pressed during an AWS call is seen at the next wait.
pub struct Interrupt<'a> {
    ctx: &'a crate::context::Context,
}

impl<'a> Interrupt<'a> {
    pub fn new(ctx: &'a crate::context::Context) -> Self {
        Interrupt { ctx }
    }

    /// Resolves once Ctrl-C was pressed (at once if it already was).
    pub async fn recv(&mut self) {
        self.ctx.interrupted().await
    }
}

/// Up to `max` names that look like `wanted`: the closest by edit distance, or names that contain
/// it (or are contained in it). Ordered best first.
pub fn similar(wanted: &str, candidates: &[String], max: usize) -> Vec<String> {
    let w = wanted.to_lowercase();
    let mut scored: Vec<(f64, &String)> = candidates
        .iter()
        .filter(|c| c.as_str() != wanted)
        .filter_map(|c| {
            let l = c.to_lowercase();
            let score = strsim::normalized_damerau_levenshtein(&w, &l);
            let contains = !w.is_empty() && (l.contains(&w) || w.contains(&l));
            (score >= 0.6 || contains).then_some((score, c))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(max)
        .map(|(_, c)| c.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_durations_and_times() {
        let now: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_since("10m", now).unwrap(),
            "2026-11-26T11:50:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            parse_since("1h30m", now).unwrap(),
            "2026-11-26T10:30:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            parse_since("2026-11-25T08:00:00Z", now).unwrap(),
            "2026-11-25T08:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert_eq!(
            parse_since("2026-11-25T08:00:00-05:00", now).unwrap(),
            "2026-11-25T13:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert!(parse_since("yesterday", now).is_err());
        assert!(parse_since("-5m", now).is_err());
    }

    #[test]
    fn similar_names_best_first() {
        let c: Vec<String> = [
            "prod_/var/log/cloud-init-output.log",
            "prod_/srv/idp/shared/log/production.log",
            "staging_/var/log/cloud-init-output.log",
            "aws-ssm-sessions-prod",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let s = similar("prod_/var/log/cloud-init-ouput.log", &c, 3);
        assert_eq!(s[0], "prod_/var/log/cloud-init-output.log");
        assert!(!s.contains(&"aws-ssm-sessions-prod".to_string()));
        assert!(similar("zzzz", &c, 3).is_empty());
        assert_eq!(similar("aws-ssm", &c, 3), ["aws-ssm-sessions-prod"]);
    }
}
