//! The metrics (reference section 15), their per-metric status, and the verdict rule. Pure.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::stats::{difference, Count, Interval};

/// What the monitor compares between the two shas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// 5xx responses out of requests (request log).
    ServerErrors,
    /// `IdV: doc auth image upload vendor submitted` successes out of attempts.
    DocUpload,
    /// `IdV: doc auth verify proofing results` successes out of attempts.
    Verify,
    /// `IdV: phone confirmation vendor` successes out of attempts.
    Phone,
    /// `Multi-Factor Authentication` successes out of attempts (the canary check's metric).
    Mfa,
    /// `IdV: final resolution` events (a successful proofing) per verify attempt: a rate, so it
    /// stays comparable when traffic splits unevenly between the shas (the original's count
    /// was not).
    Proofing,
}

/// Every metric, in table order.
pub const METRICS: [Metric; 6] = [
    Metric::ServerErrors,
    Metric::DocUpload,
    Metric::Verify,
    Metric::Phone,
    Metric::Mfa,
    Metric::Proofing,
];

/// The event names of the event log (reference section 15; they drift, so they live here once).
pub const EVENT_DOC_UPLOAD: &str = "IdV: doc auth image upload vendor submitted";
pub const EVENT_VERIFY: &str = "IdV: doc auth verify proofing results";
pub const EVENT_PHONE: &str = "IdV: phone confirmation vendor";
pub const EVENT_FINAL_RESOLUTION: &str = "IdV: final resolution";
pub const EVENT_MFA: &str = "Multi-Factor Authentication";

impl Metric {
    /// A failing critical metric fails the deploy; PASS needs every critical one to pass.
    pub fn is_critical(self) -> bool {
        matches!(self, Metric::ServerErrors | Metric::Mfa)
    }

    /// True when a higher rate is worse (errors); false for success rates.
    pub fn higher_is_worse(self) -> bool {
        self == Metric::ServerErrors
    }

    pub fn label(self) -> &'static str {
        match self {
            Metric::ServerErrors => "5xx rate",
            Metric::DocUpload => "doc upload success",
            Metric::Verify => "verify success",
            Metric::Phone => "phone success",
            Metric::Mfa => "MFA success",
            Metric::Proofing => "proofings per attempt",
        }
    }

    /// The column heading of the table.
    pub fn column(self) -> &'static str {
        match self {
            Metric::ServerErrors => "5XX %",
            Metric::DocUpload => "DOC %",
            Metric::Verify => "VERIFY %",
            Metric::Phone => "PHONE %",
            Metric::Mfa => "MFA %",
            Metric::Proofing => "PROOFED %",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Allowed degradations and minimum counts (settings `monitor.*`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// 5xx: allowed increase in points of rate (0.001 = 0.1 points)...
    pub errors_absolute: f64,
    /// ...or relative to the old rate (0.5 = 50%), whichever is larger.
    pub errors_relative: f64,
    pub errors_min_requests: u64,
    /// Success rates: allowed drop (0.02 = 2 points).
    pub success_drop: f64,
    pub success_min_attempts: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            errors_absolute: 0.001,
            errors_relative: 0.5,
            errors_min_requests: 1000,
            success_drop: 0.02,
            success_min_attempts: 50,
        }
    }
}

impl Thresholds {
    fn min_count(&self, m: Metric) -> u64 {
        if m == Metric::ServerErrors {
            self.errors_min_requests
        } else {
            self.success_min_attempts
        }
    }

    /// The allowed degradation, as a positive amount of rate in the "worse" direction. The
    /// relative 5xx allowance is taken from the old side's observed rate.
    fn margin(&self, m: Metric, old: Count) -> f64 {
        if m == Metric::ServerErrors {
            let relative = old.rate().unwrap_or(0.0) * self.errors_relative;
            self.errors_absolute.max(relative)
        } else {
            self.success_drop
        }
    }
}

/// One metric's status at a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Pass,
    Fail,
    Inconclusive,
    NoData,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Inconclusive => "INCONCLUSIVE",
            Status::NoData => "NO DATA",
        })
    }
}

/// One metric judged: both sides' counts, the interval of `new - old`, the margin, the status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub metric: Metric,
    pub new: Count,
    pub old: Count,
    /// `rate(new) - rate(old)` at this look's level; `None` when a side has no data.
    pub difference: Option<Interval>,
    /// The allowed degradation (positive), in the metric's worse direction.
    pub allowed: f64,
    /// The two-sided level this look spent.
    pub alpha: f64,
    pub status: Status,
}

/// Judges one metric: FAIL when the interval lies wholly beyond the allowed degradation; PASS
/// when it lies wholly within it and each side has the minimum count; NO DATA when a side is
/// below the minimum count; else INCONCLUSIVE.
pub fn judge(metric: Metric, new: Count, old: Count, t: &Thresholds, alpha: f64) -> Assessment {
    let allowed = t.margin(metric, old);
    let difference = difference(new, old, alpha);
    // Degradation interval: how much worse the new side is, whichever way "worse" points.
    let worse = difference.map(|d| {
        if metric.higher_is_worse() {
            d
        } else {
            Interval {
                lo: -d.hi,
                hi: -d.lo,
            }
        }
    });
    let enough = new.trials >= t.min_count(metric) && old.trials >= t.min_count(metric);
    let status = match worse {
        Some(w) if w.lo > allowed => Status::Fail,
        Some(w) if w.hi <= allowed && enough => Status::Pass,
        _ if !enough => Status::NoData,
        _ => Status::Inconclusive,
    };
    Assessment {
        metric,
        new,
        old,
        difference,
        allowed,
        alpha,
        status,
    }
}

/// The counts of one sha over a window, by metric (absent: nothing seen).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub counts: BTreeMap<Metric, Count>,
}

impl Totals {
    pub fn get(&self, m: Metric) -> Count {
        self.counts.get(&m).copied().unwrap_or_default()
    }

    pub fn add(&mut self, m: Metric, c: Count) {
        self.counts.entry(m).or_default().add(c);
    }

    pub fn merge(&mut self, other: &Totals) {
        for (m, c) in &other.counts {
            self.add(*m, *c);
        }
    }

    pub fn requests(&self) -> u64 {
        self.get(Metric::ServerErrors).trials
    }
}

/// Every metric of `new` against `old`.
pub fn assess(new: &Totals, old: &Totals, t: &Thresholds, alpha: f64) -> Vec<Assessment> {
    METRICS
        .iter()
        .map(|m| judge(*m, new.get(*m), old.get(*m), t, alpha))
        .collect()
}

/// The monitor's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Pass,
    Fail,
    Inconclusive,
    NoData,
    /// Not decided yet: keep looking.
    Pending,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Inconclusive => "INCONCLUSIVE",
            Verdict::NoData => "NO DATA",
            Verdict::Pending => "pending",
        })
    }
}

/// A verdict and why, naming the metric and the figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub reason: String,
}

/// `0.52%`.
pub fn pct(rate: f64) -> String {
    format!("{:.2}%", rate * 100.0)
}

/// `+0.52` (points).
fn points(x: f64) -> String {
    format!("{:+.2}", x * 100.0)
}

/// `5xx rate: new 1.00% (2000/200000) vs old 0.50% (1000/200000), difference +0.50 points
/// [+0.43, +0.57], allowed 0.25 worse`.
pub fn figures(a: &Assessment, new_name: &str, old_name: &str) -> String {
    let side = |c: Count| match c.rate() {
        Some(r) => format!("{} ({}/{})", pct(r), c.events, c.trials),
        None => "no data".to_string(),
    };
    let diff = match a.difference {
        Some(d) => {
            let mid = a.new.rate().unwrap_or(0.0) - a.old.rate().unwrap_or(0.0);
            format!(
                ", difference {} points [{}, {}]",
                points(mid),
                points(d.lo),
                points(d.hi)
            )
        }
        None => String::new(),
    };
    format!(
        "{}: {new_name} {} vs {old_name} {}{diff}, allowed {:.2} points worse",
        a.metric,
        side(a.new),
        side(a.old),
        a.allowed * 100.0
    )
}

/// The verdict rule. FAIL when a critical metric fails, or when the old sha's critical metrics
/// fail against its own baseline before the deploy (both versions degraded: a change that
/// breaks the old code too, such as a backwards-incompatible migration). PASS only when every
/// critical metric passes. Otherwise pending, and at the last look INCONCLUSIVE (NO DATA when a
/// critical metric never reached its minimum count): running out of time is never a PASS.
pub fn decide(current: &[Assessment], baseline: &[Assessment], last_look: bool) -> Decision {
    let critical = || current.iter().filter(|a| a.metric.is_critical());
    if let Some(a) = critical().find(|a| a.status == Status::Fail) {
        return Decision {
            verdict: Verdict::Fail,
            reason: figures(a, "new", "old"),
        };
    }
    if let Some(a) = baseline
        .iter()
        .find(|a| a.metric.is_critical() && a.status == Status::Fail)
    {
        return Decision {
            verdict: Verdict::Fail,
            reason: format!(
                "both versions degraded: {}",
                figures(a, "old now", "old before the deploy")
            ),
        };
    }
    let others: Vec<String> = current
        .iter()
        .filter(|a| !a.metric.is_critical() && a.status == Status::Fail)
        .map(|a| figures(a, "new", "old"))
        .collect();
    let note = if others.is_empty() {
        String::new()
    } else {
        format!("; not critical, but look at: {}", others.join("; "))
    };
    if critical().all(|a| a.status == Status::Pass) {
        let summary: Vec<String> = critical().map(|a| figures(a, "new", "old")).collect();
        return Decision {
            verdict: Verdict::Pass,
            reason: format!("{}{note}", summary.join("; ")),
        };
    }
    let waiting: Vec<&Assessment> = critical().filter(|a| a.status != Status::Pass).collect();
    let no_data = waiting.iter().any(|a| a.status == Status::NoData);
    let verdict = match (last_look, no_data) {
        (false, _) => Verdict::Pending,
        (true, true) => Verdict::NoData,
        (true, false) => Verdict::Inconclusive,
    };
    let why: Vec<String> = waiting
        .iter()
        .map(|a| format!("{} ({})", figures(a, "new", "old"), a.status))
        .collect();
    Decision {
        verdict,
        reason: format!("not yet decided: {}{note}", why.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::stats::Spending;
    use super::*;

    const ALPHA: f64 = 0.05;

    fn totals(requests: u64, errors: u64, mfa: (u64, u64)) -> Totals {
        let mut t = Totals::default();
        t.add(Metric::ServerErrors, Count::new(errors, requests));
        t.add(Metric::Mfa, Count::new(mfa.0, mfa.1));
        t
    }

    fn status(new: Count, old: Count, m: Metric) -> Status {
        judge(m, new, old, &Thresholds::default(), ALPHA).status
    }

    #[test]
    fn the_statistics_table() {
        use Metric::*;
        use Status::*;
        let c = Count::new;
        let cases: &[(&str, Metric, Count, Count, Status)] = &[
            (
                "equal 5xx rates, plenty of data",
                ServerErrors,
                c(1000, 200_000),
                c(1000, 200_000),
                Pass,
            ),
            (
                "doubled 5xx rate",
                ServerErrors,
                c(2000, 200_000),
                c(1000, 200_000),
                Fail,
            ),
            (
                "zero errors on both sides, plenty of data",
                ServerErrors,
                c(0, 50_000),
                c(0, 50_000),
                Pass,
            ),
            (
                "zero errors on both sides, just the minimum",
                ServerErrors,
                c(0, 1000),
                c(0, 1000),
                Inconclusive,
            ),
            (
                "zero-inflated old side, new side erroring",
                ServerErrors,
                c(40, 5000),
                c(0, 5000),
                Fail,
            ),
            (
                "zero-inflated old side, one new error",
                ServerErrors,
                c(1, 50_000),
                c(0, 50_000),
                Pass,
            ),
            (
                "no data on the old side",
                ServerErrors,
                c(3, 5000),
                c(0, 0),
                NoData,
            ),
            (
                "below the minimum requests",
                ServerErrors,
                c(0, 900),
                c(0, 900),
                NoData,
            ),
            (
                "small counts, every request fails",
                ServerErrors,
                c(20, 20),
                c(0, 20),
                Fail,
            ),
            (
                "small counts, nothing to tell",
                Mfa,
                c(9, 10),
                c(10, 10),
                NoData,
            ),
            (
                "equal success rates",
                Mfa,
                c(9000, 10_000),
                c(9000, 10_000),
                Pass,
            ),
            (
                "success rate down 10 points",
                Mfa,
                c(800, 1000),
                c(900, 1000),
                Fail,
            ),
            (
                "success rate up is never a failure",
                Mfa,
                c(990, 1000),
                c(900, 1000),
                Pass,
            ),
            (
                "success rate down 1 point, little data",
                Mfa,
                c(89, 100),
                c(90, 100),
                Inconclusive,
            ),
        ];
        for (name, m, new, old, want) in cases {
            assert_eq!(status(*new, *old, *m), *want, "{name}");
        }
    }

    #[test]
    fn the_verdict_table() {
        let t = Thresholds::default();
        let good = totals(200_000, 1000, (9000, 10_000));
        let bad_5xx = totals(200_000, 2000, (9000, 10_000));
        let bad_mfa = totals(200_000, 1000, (8000, 10_000));
        let thin = totals(100, 0, (5, 5));
        let run = |new: &Totals, old: &Totals, last| {
            decide(&assess(new, old, &t, ALPHA), &[], last).verdict
        };
        assert_eq!(run(&good, &good, false), Verdict::Pass);
        assert_eq!(run(&bad_5xx, &good, false), Verdict::Fail);
        assert_eq!(run(&bad_mfa, &good, false), Verdict::Fail);
        assert_eq!(run(&thin, &good, false), Verdict::Pending);
        assert_eq!(run(&thin, &good, true), Verdict::NoData);
        let close = totals(200_000, 1000, (8850, 10_000));
        assert_eq!(
            run(&close, &good, true),
            Verdict::Inconclusive,
            "never PASS at the deadline"
        );
        // The reason names the metric and the figures.
        let d = decide(&assess(&bad_5xx, &good, &t, ALPHA), &[], false);
        assert!(
            d.reason
                .starts_with("5xx rate: new 1.00% (2000/200000) vs old 0.50%"),
            "{}",
            d.reason
        );
        // Both versions degraded: the old sha now against itself before the deploy.
        let base = assess(&bad_5xx, &good, &t, ALPHA);
        let d = decide(&assess(&bad_5xx, &bad_5xx, &t, ALPHA), &base, false);
        assert_eq!(d.verdict, Verdict::Fail);
        assert!(
            d.reason.starts_with("both versions degraded: 5xx rate"),
            "{}",
            d.reason
        );
        // A failing non-critical metric is named but does not decide.
        let mut doc = good.clone();
        doc.add(Metric::DocUpload, Count::new(50, 100));
        let mut doc_old = good.clone();
        doc_old.add(Metric::DocUpload, Count::new(95, 100));
        let d = decide(&assess(&doc, &doc_old, &t, ALPHA), &[], false);
        assert_eq!(d.verdict, Verdict::Pass);
        assert!(
            d.reason.contains("look at: doc upload success"),
            "{}",
            d.reason
        );
    }

    /// SplitMix64: a fixed-seed generator, so the simulation gives the same answer every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
        /// Binomial(n, p) by inversion of a normal approximation, exact enough for n*p >= 10;
        /// below that by summing Bernoulli trials.
        fn binomial(&mut self, n: u64, p: f64) -> u64 {
            if (n as f64) * p < 10.0 {
                return (0..n).filter(|_| self.next() < p).count() as u64;
            }
            let u = self.next().clamp(1e-12, 1.0 - 1e-12);
            let z = super::super::stats::normal_quantile(u);
            let x = (n as f64) * p + z * ((n as f64) * p * (1.0 - p)).sqrt();
            x.round().clamp(0.0, n as f64) as u64
        }
    }

    /// 1,000 deploys of identical code watched tick by tick for 30 looks: the verdict may FAIL
    /// at most at the configured rate, although every deploy is looked at 30 times. The hardest
    /// case is checked too: no allowed degradation at all, where any noise beyond the interval
    /// is a FAIL. There, without the error spending (the full alpha at every look) the same
    /// simulation fails far more often than alpha, which shows this test can fail.
    #[test]
    fn repeated_looks_do_not_inflate_false_alarms() {
        let looks = 30;
        let simulate = |spend: bool, t: Thresholds| {
            let mut rng = Rng(20_261_202);
            let mut fails = 0;
            for _ in 0..1000 {
                let (mut new, mut old) = (Totals::default(), Totals::default());
                let spending = Spending::new(ALPHA, looks);
                for look in 1..=looks {
                    // Identical code: the same rates on both sides; traffic splits unevenly.
                    for (side, n) in [(&mut new, 700u64), (&mut old, 1300u64)] {
                        let e = rng.binomial(n, 0.004);
                        side.add(Metric::ServerErrors, Count::new(e, n));
                        let m = 40;
                        side.add(Metric::Mfa, Count::new(rng.binomial(m, 0.93), m));
                    }
                    let alpha = if spend {
                        spending.alpha_at(look)
                    } else {
                        ALPHA
                    };
                    let d = decide(&assess(&new, &old, &t, alpha), &[], look == looks);
                    if d.verdict == Verdict::Fail {
                        fails += 1;
                        break;
                    }
                    if d.verdict != Verdict::Pending {
                        break;
                    }
                }
            }
            fails
        };
        let allowed = (1000.0 * ALPHA) as usize;
        let strict = Thresholds {
            errors_absolute: 0.0,
            errors_relative: 0.0,
            success_drop: 0.0,
            ..Thresholds::default()
        };
        for (name, t) in [
            ("default thresholds", Thresholds::default()),
            ("no allowance", strict),
        ] {
            let fails = simulate(true, t);
            assert!(
                fails <= allowed,
                "{name}: {fails} false FAILs in 1000 identical deploys"
            );
        }
        let naive = simulate(false, strict);
        assert!(
            naive > allowed,
            "a naive repeated test should inflate false alarms: {naive}"
        );
    }
}
