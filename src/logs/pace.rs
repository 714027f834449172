//! How fast the watch loops talk to AWS, and how they recognise throttling.
//!
//! CloudWatch Logs allows FilterLogEvents 5 requests per second and GetLogEvents 25 per second,
//! per account and region, shared by everyone in the account (dashboards, other people's tails).
//! A follower here makes at most one request per `page_gap` while catching up on a backlog (2 per
//! second in production) and one per `min` (1 per second) once caught up, slowing to one per
//! `max_idle` while nothing arrives; throttling doubles the interval up to `max_backoff`. The SDK's
//! standard retry mode already retries a throttled call a few times; these intervals are the layer
//! above it, so a loop that keeps being throttled slows down instead of failing.

use std::time::Duration;

/// The intervals of every watch loop. `production()` for real use; `scaled(d)` shrinks all of
/// them proportionally for tests (the hidden `--poll-interval` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// Poll interval while events are arriving.
    pub min: Duration,
    /// Longest poll interval while idle.
    pub max_idle: Duration,
    /// Longest interval after repeated throttling.
    pub max_backoff: Duration,
    /// Gap between the pages of one catch-up.
    pub page_gap: Duration,
    /// Interval of the "is there an instance / a stream yet" checks.
    pub check: Duration,
    /// Interval of the "is the instance still running" check while following.
    pub state: Duration,
    /// How long to keep reading after the instance is gone (the agent's last flush).
    pub grace: Duration,
    /// Interval of SSM status polls (ListCommands).
    pub ssm: Duration,
}

impl Pacing {
    pub fn production() -> Self {
        Pacing {
            min: Duration::from_secs(1),
            max_idle: Duration::from_secs(5),
            max_backoff: Duration::from_secs(60),
            page_gap: Duration::from_millis(500),
            check: Duration::from_secs(5),
            state: Duration::from_secs(15),
            grace: Duration::from_secs(15),
            ssm: Duration::from_secs(5),
        }
    }

    /// Every interval scaled so that `min` becomes `min` (tests and rehearsals).
    pub fn scaled(min: Duration) -> Self {
        let p = Self::production();
        let factor = min.as_secs_f64() / p.min.as_secs_f64();
        let s = |d: Duration| d.mul_f64(factor);
        Pacing {
            min,
            max_idle: s(p.max_idle),
            max_backoff: s(p.max_backoff),
            page_gap: s(p.page_gap),
            check: s(p.check),
            state: s(p.state),
            grace: s(p.grace),
            ssm: s(p.ssm),
        }
    }

    /// `production()` unless a poll interval was given.
    pub fn from_flag(poll_interval: Option<Duration>) -> Self {
        match poll_interval {
            Some(d) if !d.is_zero() => Self::scaled(d),
            _ => Self::production(),
        }
    }
}

/// The adaptive poll interval: back to `min` when something arrived, doubling towards
/// `max_idle` while idle, doubling towards `max_backoff` when throttled.
#[derive(Debug, Clone)]
pub struct Interval {
    pacing: Pacing,
    current: Duration,
    throttled_in_a_row: u32,
}

impl Interval {
    pub fn new(pacing: Pacing) -> Self {
        Interval {
            pacing,
            current: pacing.min,
            throttled_in_a_row: 0,
        }
    }

    pub fn current(&self) -> Duration {
        self.current
    }

    pub fn throttled_in_a_row(&self) -> u32 {
        self.throttled_in_a_row
    }

    /// After a poll that completed; `arrived` is how many new events it brought.
    pub fn after_poll(&mut self, arrived: usize) -> Duration {
        let p = self.pacing;
        self.current = if self.throttled_in_a_row > 0 {
            // Recover gently: a loop that was just throttled must not jump back to full speed.
            (self.current / 2).max(p.min)
        } else if arrived > 0 {
            p.min
        } else {
            (self.current * 2).clamp(p.min, p.max_idle.max(p.min))
        };
        self.throttled_in_a_row = 0;
        self.current
    }

    /// After a throttled request.
    pub fn after_throttle(&mut self) -> Duration {
        let p = self.pacing;
        self.throttled_in_a_row += 1;
        self.current = (self.current * 2)
            .max(p.min * 2)
            .min(p.max_backoff.max(p.min));
        self.current
    }
}

/// Whether an SDK error is AWS asking us to slow down (after the SDK's own retries).
pub fn is_throttling<E, R>(err: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    match err {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or_default();
            let msg = se.err().message().unwrap_or_default().to_lowercase();
            matches!(
                code,
                "ThrottlingException"
                    | "Throttling"
                    | "ThrottledException"
                    | "RequestLimitExceeded"
                    | "TooManyRequestsException"
                    | "RequestThrottled"
                    | "RequestThrottledException"
            ) || msg.contains("rate exceeded")
        }
        _ => false,
    }
}

/// Whether an error already mapped by `aws::call_failed` was throttling (its message keeps the
/// service's error code), for adapters that do not hand out the raw SDK error.
pub fn is_throttled_error(err: &anyhow::Error) -> bool {
    let text = err.to_string();
    [
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "Rate exceeded",
    ]
    .iter()
    .any(|c| text.contains(c))
}

/// The error code of an SDK service error (`ResourceNotFoundException`, `InvalidDocument`...).
pub fn error_code<E, R>(
    err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> Option<&str>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    match err {
        aws_smithy_runtime_api::client::result::SdkError::ServiceError(se) => se.err().code(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_stays_far_under_cloudwatch_limits() {
        let p = Pacing::production();
        // FilterLogEvents: 5 per second per account and region, shared.
        assert!(1.0 / p.page_gap.as_secs_f64() <= 2.0);
        assert!(1.0 / p.min.as_secs_f64() <= 1.0);
        // Whatever the sequence of outcomes, no interval goes under `min`.
        let mut i = Interval::new(p);
        let script = [3, 0, 0, 0, 0, 0, 5, 0];
        for n in script {
            assert!(i.after_poll(n) >= p.min);
        }
        for _ in 0..20 {
            assert!(i.after_throttle() <= p.max_backoff);
        }
        assert_eq!(i.current(), p.max_backoff);
    }

    #[test]
    fn idle_polls_slow_down_and_events_speed_up() {
        let p = Pacing::production();
        let mut i = Interval::new(p);
        assert_eq!(i.after_poll(0), Duration::from_secs(2));
        assert_eq!(i.after_poll(0), Duration::from_secs(4));
        assert_eq!(i.after_poll(0), Duration::from_secs(5));
        assert_eq!(i.after_poll(0), Duration::from_secs(5));
        assert_eq!(i.after_poll(7), Duration::from_secs(1));
    }

    #[test]
    fn throttling_backs_off_then_recovers_gently() {
        let p = Pacing::production();
        let mut i = Interval::new(p);
        assert_eq!(i.after_throttle(), Duration::from_secs(2));
        assert_eq!(i.after_throttle(), Duration::from_secs(4));
        assert_eq!(i.after_throttle(), Duration::from_secs(8));
        assert_eq!(i.throttled_in_a_row(), 3);
        // Events arrived, but we were just throttled: halve, do not reset.
        assert_eq!(i.after_poll(10), Duration::from_secs(4));
        assert_eq!(i.throttled_in_a_row(), 0);
        assert_eq!(i.after_poll(10), Duration::from_secs(1));
    }

    #[test]
    fn scaled_pacing_keeps_the_proportions() {
        let p = Pacing::scaled(Duration::from_millis(100));
        assert_eq!(p.min, Duration::from_millis(100));
        assert_eq!(p.page_gap, Duration::from_millis(50));
        assert_eq!(p.state, Duration::from_millis(1500));
        assert_eq!(Pacing::from_flag(None), Pacing::production());
        assert_eq!(
            Pacing::from_flag(Some(Duration::ZERO)),
            Pacing::production()
        );
        // The hidden --poll-interval flag takes sub-second durations.
        let d: crate::types::HumanDuration = "50ms".parse().unwrap();
        assert_eq!(Pacing::from_flag(Some(d.0)).min, Duration::from_millis(50));
    }
}
