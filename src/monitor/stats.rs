//! Pure statistics: intervals for one proportion (Wilson; Clopper-Pearson when the count of
//! events is small), Newcombe's interval for a difference of proportions built from them, and
//! the error spending that keeps repeated looks honest.
//!
//! Why these: Wilson's interval behaves at rates near 0 (5xx rates are fractions of a percent),
//! where the textbook normal interval collapses to a width of zero. Below a handful of events
//! (or non-events) even Wilson is optimistic, so the exact interval is used there. Newcombe's
//! hybrid score method (his method 10) combines the two sides' intervals into one for
//! `new - old` without a pooled variance, so it is valid when the rates differ.

/// `x` events out of `n` trials (5xx out of requests, successes out of attempts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Count {
    pub events: u64,
    pub trials: u64,
}

impl Count {
    pub fn new(events: u64, trials: u64) -> Self {
        Count {
            // A query can count more successes than attempts when events straddle a slice
            // boundary; the rate is capped rather than exceeding 1.
            events: events.min(trials),
            trials,
        }
    }

    /// The rate, or `None` with no trials: no data is never a rate of zero.
    pub fn rate(self) -> Option<f64> {
        (self.trials > 0).then(|| self.events as f64 / self.trials as f64)
    }

    pub fn add(&mut self, other: Count) {
        self.trials += other.trials;
        self.events = (self.events + other.events).min(self.trials);
    }
}

/// A closed interval `[lo, hi]`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    pub lo: f64,
    pub hi: f64,
}

/// Fewer events (or non-events) than this and the exact interval is used.
pub const EXACT_BELOW: u64 = 10;

/// Standard normal CDF (erfc by Numerical Recipes' Chebyshev fit, |error| < 1.2e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let y = t
        * (-x * x - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    let erfc = if x >= 0.0 { y } else { 2.0 - y };
    1.0 - erfc / 2.0
}

/// The standard normal quantile (Acklam's rational approximation, refined by one Newton step).
pub fn normal_quantile(p: f64) -> f64 {
    assert!(p > 0.0 && p < 1.0, "quantile of {p}");
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // One Newton step against our CDF keeps the quantile consistent with `normal_cdf`.
    let e = normal_cdf(x) - p;
    let density = (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    if density > 0.0 {
        x - e / density
    } else {
        x
    }
}

/// Wilson's score interval at two-sided level `alpha`. `None` with no trials.
pub fn wilson(c: Count, alpha: f64) -> Option<Interval> {
    if c.trials == 0 {
        return None;
    }
    let z = normal_quantile(1.0 - alpha / 2.0);
    let n = c.trials as f64;
    let p = c.events as f64 / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Interval {
        lo: (centre - half).max(0.0),
        hi: (centre + half).min(1.0),
    })
}

/// `P(X <= x)` for `X ~ Binomial(n, p)`, summing the `x + 1` terms (only used for small `x`).
fn binomial_cdf_small(x: u64, n: u64, p: f64) -> f64 {
    if p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return if x >= n { 1.0 } else { 0.0 };
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mut ln_choose = 0.0;
    let mut total = 0.0;
    for k in 0..=x.min(n) {
        if k > 0 {
            ln_choose += ((n - k + 1) as f64).ln() - (k as f64).ln();
        }
        total += (ln_choose + k as f64 * lp + (n - k) as f64 * lq).exp();
    }
    total.min(1.0)
}

/// The `p` in `[0, 1]` where a decreasing function of `p` crosses `target` (bisection).
fn solve_decreasing(f: impl Fn(f64) -> f64, target: f64) -> f64 {
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    for _ in 0..80 {
        let mid = (lo + hi) / 2.0;
        if f(mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// Clopper-Pearson's exact interval, for counts with few events (`events < EXACT_BELOW`); the
/// few-non-events case is the same interval mirrored.
pub fn clopper_pearson(c: Count, alpha: f64) -> Option<Interval> {
    if c.trials == 0 {
        return None;
    }
    let (x, n) = (c.events, c.trials);
    if n - x < x {
        let mirrored = clopper_pearson(Count::new(n - x, n), alpha)?;
        return Some(Interval {
            lo: 1.0 - mirrored.hi,
            hi: 1.0 - mirrored.lo,
        });
    }
    let a = alpha / 2.0;
    // Upper limit: P(X <= x | p) = a; lower limit: P(X >= x | p) = a, i.e. P(X <= x-1) = 1 - a.
    let hi = if x == n {
        1.0
    } else {
        solve_decreasing(|p| binomial_cdf_small(x, n, p), a)
    };
    let lo = if x == 0 {
        0.0
    } else {
        solve_decreasing(|p| binomial_cdf_small(x - 1, n, p), 1.0 - a)
    };
    Some(Interval { lo, hi })
}

/// The interval for one proportion: exact for small counts of events or non-events, else Wilson.
pub fn proportion(c: Count, alpha: f64) -> Option<Interval> {
    if c.events.min(c.trials.saturating_sub(c.events)) < EXACT_BELOW {
        clopper_pearson(c, alpha)
    } else {
        wilson(c, alpha)
    }
}

/// Newcombe's hybrid interval for `rate(new) - rate(old)` at level `alpha`. `None` when either
/// side has no trials.
pub fn difference(new: Count, old: Count, alpha: f64) -> Option<Interval> {
    let (p1, p2) = (new.rate()?, old.rate()?);
    let (i1, i2) = (proportion(new, alpha)?, proportion(old, alpha)?);
    let d = p1 - p2;
    Some(Interval {
        lo: d - ((p1 - i1.lo).powi(2) + (i2.hi - p2).powi(2)).sqrt(),
        hi: d + ((i1.hi - p1).powi(2) + (p2 - i2.lo).powi(2)).sqrt(),
    })
}

/// How much of the error rate `alpha` a look may use: an O'Brien-Fleming-shaped spending
/// function over the planned looks, `spent(t) = 2 - 2 * Phi(z(alpha/2) / sqrt(t))` at
/// information fraction `t = look / planned`, and each look gets the increment. The increments
/// add up to `alpha`, so by the union bound the chance of any false alarm over all looks stays
/// under `alpha` however the looks are correlated. Early looks (little data) get very little,
/// which is where a naive repeated test raises false alarms.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Spending {
    pub alpha: f64,
    pub planned_looks: u32,
}

impl Spending {
    pub fn new(alpha: f64, planned_looks: u32) -> Self {
        Spending {
            alpha,
            planned_looks: planned_looks.max(1),
        }
    }

    fn spent(&self, look: u32) -> f64 {
        if look == 0 {
            return 0.0;
        }
        let t = (f64::from(look.min(self.planned_looks)) / f64::from(self.planned_looks)).min(1.0);
        let z = normal_quantile(1.0 - self.alpha / 2.0);
        (2.0 - 2.0 * normal_cdf(z / t.sqrt())).clamp(0.0, self.alpha)
    }

    /// The two-sided level of look `look` (1-based). A look past the plan finds the budget
    /// spent and gets a negligible level, so an overrun never spends more than `alpha`.
    pub fn alpha_at(&self, look: u32) -> f64 {
        if look > self.planned_looks {
            return 1e-12;
        }
        let look = look.max(1);
        (self.spent(look) - self.spent(look - 1)).max(1e-12)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn normal_functions_match_tables() {
        assert!(close(normal_cdf(0.0), 0.5, 1e-7));
        assert!(close(normal_cdf(1.96), 0.975, 1e-4));
        assert!(close(normal_quantile(0.975), 1.959_964, 1e-5));
        assert!(close(normal_quantile(0.000_05), -3.890_59, 1e-4));
        assert!(close(normal_quantile(0.5), 0.0, 1e-6));
    }

    #[test]
    fn wilson_matches_newcombes_worked_examples() {
        // Newcombe (1998), table I: 81/263 -> 0.2553 to 0.3662 at 95%.
        let i = wilson(Count::new(81, 263), 0.05).unwrap();
        assert!(
            close(i.lo, 0.2553, 5e-4) && close(i.hi, 0.3662, 5e-4),
            "{i:?}"
        );
        // 0/20 -> 0 to 0.1611: Wilson is not degenerate at zero events.
        let i = wilson(Count::new(0, 20), 0.05).unwrap();
        assert!(close(i.lo, 0.0, 1e-9) && close(i.hi, 0.1611, 5e-4), "{i:?}");
    }

    #[test]
    fn exact_interval_for_small_counts() {
        // Clopper-Pearson 0/20: upper 1 - 0.025^(1/20) = 0.1684.
        let i = clopper_pearson(Count::new(0, 20), 0.05).unwrap();
        assert!(close(i.hi, 1.0 - 0.025f64.powf(1.0 / 20.0), 1e-6), "{i:?}");
        // 1/10: 0.0025 to 0.4450 (standard tables).
        let i = clopper_pearson(Count::new(1, 10), 0.05).unwrap();
        assert!(
            close(i.lo, 0.0025, 2e-4) && close(i.hi, 0.4450, 2e-4),
            "{i:?}"
        );
        // Mirrored: 9/10 is 1 - (1/10)'s interval.
        let m = clopper_pearson(Count::new(9, 10), 0.05).unwrap();
        assert!(close(m.lo, 1.0 - i.hi, 1e-9) && close(m.hi, 1.0 - i.lo, 1e-9));
        // `proportion` picks exact below EXACT_BELOW events, Wilson above.
        assert_eq!(
            proportion(Count::new(3, 5000), 0.05),
            clopper_pearson(Count::new(3, 5000), 0.05)
        );
        assert_eq!(
            proportion(Count::new(300, 5000), 0.05),
            wilson(Count::new(300, 5000), 0.05)
        );
    }

    #[test]
    fn newcombe_difference_matches_his_example() {
        // Newcombe (1998), table II example (56/70 - 48/80): 0.0524 to 0.3339 (method 10).
        let d = difference(Count::new(56, 70), Count::new(48, 80), 0.05).unwrap();
        assert!(
            close(d.lo, 0.0524, 1e-3) && close(d.hi, 0.3339, 1e-3),
            "{d:?}"
        );
        assert!(difference(Count::new(1, 10), Count::default(), 0.05).is_none());
    }

    #[test]
    fn no_trials_is_no_rate() {
        assert_eq!(Count::default().rate(), None);
        assert_eq!(Count::new(0, 4).rate(), Some(0.0));
        assert_eq!(Count::new(9, 4).events, 4, "capped at the trials");
    }

    #[test]
    fn spending_adds_up_to_alpha_and_starts_small() {
        let s = Spending::new(0.05, 30);
        let total: f64 = (1..=30).map(|k| s.alpha_at(k)).sum();
        assert!(close(total, 0.05, 1e-6), "{total}");
        assert!(s.alpha_at(1) < 1e-6, "{}", s.alpha_at(1));
        assert!(s.alpha_at(30) > s.alpha_at(2));
        assert!(s.alpha_at(31) < 1e-9, "the budget is spent");
        assert!(close(Spending::new(0.05, 1).alpha_at(1), 0.05, 1e-9));
    }
}
