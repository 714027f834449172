//! The incremental tick accumulator: each tick queries only the slice of time since the last
//! one and adds it up, so the cost of a tick stays the same however old the deploy is (the
//! original re-scanned everything since the deploy started every 15 seconds).
//!
//! Both shas are compared over the same window, from the new sha's first request to now less
//! the ingestion lag. The baseline (the old sha before the deploy) grows backwards from the
//! deploy's start by the same length each tick, so it always covers as long as the window.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::queries::Slice;
use super::verdict::Totals;

/// Whole seconds `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Span {
    /// StartQuery's `startTime`/`endTime`: epoch seconds, both included, so `[start, end - 1]`
    /// leaves neither a gap nor an overlap with the next slice.
    pub fn query_bounds(&self) -> (i64, i64) {
        (self.start.as_second(), self.end.as_second() - 1)
    }

    pub fn len(&self) -> Duration {
        Duration::from_secs((self.end.as_second() - self.start.as_second()).max(0) as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.end.as_second() <= self.start.as_second()
    }
}

fn whole_second(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// The slices one tick queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tick {
    /// Both shas, after the deploy started.
    pub current: Span,
    /// The old sha before the deploy, as long as `current`.
    pub baseline: Span,
}

/// What has been counted so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accumulator {
    pub deploy_start: Timestamp,
    /// End of the counted window (exclusive).
    pub counted_to: Timestamp,
    /// Start of the counted baseline; the baseline ends at `deploy_start`.
    pub baseline_from: Timestamp,
    pub new: Totals,
    pub old: Totals,
    pub baseline: Totals,
}

impl Accumulator {
    pub fn new(deploy_start: Timestamp) -> Self {
        let start = whole_second(deploy_start);
        Accumulator {
            deploy_start: start,
            counted_to: start,
            baseline_from: start,
            new: Totals::default(),
            old: Totals::default(),
            baseline: Totals::default(),
        }
    }

    /// The next slices to query at `now`, or `None` when no new whole second has passed the
    /// ingestion lag yet.
    pub fn next(&self, now: Timestamp, lag: Duration) -> Option<Tick> {
        let lag = jiff::SignedDuration::try_from(lag).unwrap_or_default();
        let end = whole_second(now.checked_sub(lag).ok()?);
        let current = Span {
            start: self.counted_to,
            end,
        };
        if current.is_empty() {
            return None;
        }
        let len = jiff::SignedDuration::from_secs(current.len().as_secs() as i64);
        let baseline = Span {
            start: self.baseline_from.checked_sub(len).ok()?,
            end: self.baseline_from,
        };
        Some(Tick { current, baseline })
    }

    /// Adds a tick's answers.
    pub fn add(&mut self, tick: &Tick, current: &Slice, baseline: &Slice, new: &str, old: &str) {
        self.new.merge(&current.of(new));
        self.old.merge(&current.of(old));
        self.baseline.merge(&baseline.of(old));
        self.counted_to = tick.current.end;
        self.baseline_from = tick.baseline.start;
    }

    /// How long the compared window is.
    pub fn window(&self) -> Duration {
        Span {
            start: self.deploy_start,
            end: self.counted_to,
        }
        .len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::stats::Count;
    use super::super::verdict::Metric;
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn slices_follow_on_without_gaps_or_overlaps() {
        let start = t("2026-12-02T04:00:00.400Z");
        let mut acc = Accumulator::new(start);
        let lag = Duration::from_secs(60);
        assert_eq!(
            acc.next(t("2026-12-02T04:00:30Z"), lag),
            None,
            "inside the lag"
        );
        let tick = acc.next(t("2026-12-02T04:02:00.900Z"), lag).unwrap();
        assert_eq!(tick.current.start, t("2026-12-02T04:00:00Z"));
        assert_eq!(tick.current.end, t("2026-12-02T04:01:00Z"));
        assert_eq!(
            tick.current.query_bounds().1 - tick.current.query_bounds().0,
            59
        );
        assert_eq!(tick.baseline.start, t("2026-12-02T03:59:00Z"));
        assert_eq!(tick.baseline.end, t("2026-12-02T04:00:00Z"));
        let (new, old) = ("n", "o");
        let mut cur = Slice::default();
        cur.totals
            .entry(new.into())
            .or_default()
            .add(Metric::ServerErrors, Count::new(1, 10));
        acc.add(&tick, &cur, &Slice::default(), new, old);
        let tick2 = acc.next(t("2026-12-02T04:02:30Z"), lag).unwrap();
        assert_eq!(
            tick2.current.start, tick.current.end,
            "the next slice starts where one ended"
        );
        assert_eq!(tick2.current.len(), Duration::from_secs(30));
        assert_eq!(tick2.baseline.end, tick.baseline.start);
        acc.add(&tick2, &cur, &Slice::default(), new, old);
        assert_eq!(
            acc.new.get(Metric::ServerErrors),
            Count::new(2, 20),
            "added up"
        );
        assert_eq!(acc.window(), Duration::from_secs(90));
        assert_eq!(acc.old.get(Metric::ServerErrors), Count::default());
    }
}
