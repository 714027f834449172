//! Rates the world plays (error and success rates), and the counter that turns a rate into
//! exactly that share of outcomes: no randomness, so a test can expect the configured figure.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A share between 0 and 1, written as a percentage (`5%`, `0.5%`, `100%`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Rate(f64);

impl Rate {
    pub const ZERO: Rate = Rate(0.0);

    pub fn fraction(self) -> f64 {
        self.0
    }

    pub fn from_percent(p: f64) -> Option<Rate> {
        (0.0..=100.0).contains(&p).then_some(Rate(p / 100.0))
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a rate: give a percentage from 0% to 100%, such as 5%");
        let n = s.trim().strip_suffix('%').ok_or_else(bad)?;
        let p: f64 = n.trim().parse().map_err(|_| bad())?;
        Rate::from_percent(p).ok_or_else(bad)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.0 * 100.0;
        if (p - p.round()).abs() < 1e-9 {
            write!(f, "{}%", p.round() as i64)
        } else {
            write!(f, "{p}%")
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Decides outcome after outcome so that after `n` draws exactly `floor(n * rate)` were hits:
/// the n-th draw is a hit when it raises that floor.
pub fn hit(rate: Rate, draws_before: u64) -> bool {
    let before = (draws_before as f64 * rate.0 + 1e-9).floor();
    let after = ((draws_before + 1) as f64 * rate.0 + 1e-9).floor();
    after > before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_percentages_only() {
        assert_eq!("5%".parse::<Rate>().unwrap().fraction(), 0.05);
        assert_eq!("0.5%".parse::<Rate>().unwrap().to_string(), "0.5%");
        assert_eq!("100%".parse::<Rate>().unwrap().to_string(), "100%");
        for bad in ["5", "0.05", "101%", "-1%", "x%", ""] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn hits_exactly_the_rate() {
        for (rate, n, want) in [
            ("5%", 200, 10),
            ("0%", 50, 0),
            ("100%", 7, 7),
            ("90%", 100, 90),
        ] {
            let r: Rate = rate.parse().unwrap();
            let hits = (0..n).filter(|i| hit(r, *i)).count();
            assert_eq!(hits, want, "{rate} of {n}");
        }
    }
}
