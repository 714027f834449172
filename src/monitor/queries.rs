//! The Logs Insights queries (text builders) and the reading of their answers into counts.
//!
//! Every query only counts; divisions are ours (`Count::rate`), so a metric without data is
//! "no data", never a zero or a division by zero inside the query. Fields and event names are
//! reference section 15's: a request line has both `status` and `action`; events carry `name`,
//! `properties.event_properties.success` and `properties.git_sha`.

use std::collections::BTreeMap;

use anyhow::Result;
use jiff::Timestamp;

use super::stats::Count;
use super::verdict::{
    Metric, Totals, EVENT_DOC_UPLOAD, EVENT_FINAL_RESOLUTION, EVENT_MFA, EVENT_PHONE, EVENT_VERIFY,
};
use crate::error::failed;

/// One result row: field name to value, as GetQueryResults returns it.
pub type Row = BTreeMap<String, String>;

/// Which shas have logged requests and when each was first seen: finds the deploy's start.
pub fn discovery() -> String {
    "fields @timestamp, git_sha\n\
     | filter ispresent(status) and ispresent(action)\n\
     | stats min(@timestamp) as first_seen, count(*) as requests by git_sha"
        .to_string()
}

/// Per sha: requests, 5xx responses, and the instances (log streams) that logged a request.
///
/// Logs Insights documents comparisons (`>=`) for `filter` only, and arithmetic and numeric
/// functions for `fields`; so the 5xx flag is arithmetic: `floor(status / 500)` is 1 for the
/// statuses 500 to 599 and 0 below 500 (HTTP statuses are 100 to 599), and `sum` counts them.
/// `count_distinct` is exact for small counts like instances (approximate only at very high
/// cardinality, as documented).
pub fn requests() -> String {
    "fields @timestamp, git_sha, floor(status / 500) as is_5xx\n\
     | filter ispresent(status) and ispresent(action)\n\
     | stats count(*) as requests, sum(is_5xx) as errors_5xx, count_distinct(@logStream) as instances by git_sha"
        .to_string()
}

/// The event names a metric reads, and whether its numerator is the event's success flag
/// (`true`) or the count of another event (proofings per verify attempt).
fn event_names() -> [&'static str; 5] {
    [
        EVENT_DOC_UPLOAD,
        EVENT_VERIFY,
        EVENT_PHONE,
        EVENT_MFA,
        EVENT_FINAL_RESOLUTION,
    ]
}

/// Per sha and event name: attempts and successes of the critical flows.
///
/// The success flag is a JSON boolean, which Logs Insights reads as 1 or 0: `sum` of it counts
/// the successes (a comparison like `= 1` is not documented inside `fields`).
pub fn events() -> String {
    let names: Vec<String> = event_names()
        .iter()
        .map(|n| format!("\"{}\"", n.replace('"', "\\\"")))
        .collect();
    format!(
        "fields @timestamp, name, properties.git_sha as git_sha, properties.event_properties.success as ok\n\
         | filter name in [{}]\n\
         | stats count(*) as attempts, sum(ok) as successes by name, git_sha",
        names.join(", ")
    )
}

fn number(row: &Row, field: &str) -> Result<u64> {
    let raw = row.get(field).ok_or_else(|| {
        failed(
            format!("a Logs Insights answer lacks the field `{field}`"),
            "the query or the log format changed; run again with -v",
        )
    })?;
    // Sums come back as `12` or `12.0`.
    raw.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v.round() as u64)
        .ok_or_else(|| {
            failed(
                format!("a Logs Insights answer has `{field}` = {raw:?}, not a count"),
                "run again with -v",
            )
        })
}

/// The sha of a row; rows without one (old log lines, other apps) are counted apart.
fn sha_of(row: &Row) -> String {
    row.get("git_sha").cloned().unwrap_or_default()
}

/// A discovery answer: first request per sha and how many requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub sha: String,
    pub first_seen: Timestamp,
    pub requests: u64,
}

/// `2026-12-02 03:58:44.000` (Logs Insights' timestamp form, UTC) or RFC 3339.
pub fn parse_insights_time(s: &str) -> Option<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    let civil: jiff::civil::DateTime = s.trim().replace(' ', "T").parse().ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

pub fn read_discovery(rows: &[Row]) -> Result<Vec<Seen>> {
    let mut out = Vec::new();
    for row in rows {
        let raw = row.get("first_seen").cloned().unwrap_or_default();
        let first_seen = parse_insights_time(&raw).ok_or_else(|| {
            failed(
                format!("a Logs Insights answer has first_seen = {raw:?}, not a time"),
                "run again with -v",
            )
        })?;
        out.push(Seen {
            sha: sha_of(row),
            first_seen,
            requests: number(row, "requests")?,
        });
    }
    out.sort_by_key(|s| s.first_seen);
    Ok(out)
}

/// One slice's counts per sha, and the instances seen per sha in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Slice {
    pub totals: BTreeMap<String, Totals>,
    pub instances: BTreeMap<String, u64>,
}

impl Slice {
    pub fn of(&self, sha: &str) -> Totals {
        self.totals.get(sha).cloned().unwrap_or_default()
    }
}

/// Reads the requests query's rows into a slice.
pub fn read_requests(rows: &[Row], into: &mut Slice) -> Result<()> {
    for row in rows {
        let sha = sha_of(row);
        let requests = number(row, "requests")?;
        let errors = number(row, "errors_5xx")?;
        into.totals
            .entry(sha.clone())
            .or_default()
            .add(Metric::ServerErrors, Count::new(errors, requests));
        *into.instances.entry(sha).or_default() += number(row, "instances")?;
    }
    Ok(())
}

/// Reads the events query's rows into a slice. Proofings per attempt: final resolutions over
/// verify attempts, so both rows of a sha must be read before that rate is formed.
pub fn read_events(rows: &[Row], into: &mut Slice) -> Result<()> {
    let mut proofed: BTreeMap<String, u64> = BTreeMap::new();
    let mut verify_attempts: BTreeMap<String, u64> = BTreeMap::new();
    for row in rows {
        let sha = sha_of(row);
        let name = row.get("name").map(String::as_str).unwrap_or_default();
        let attempts = number(row, "attempts")?;
        let metric = match name {
            EVENT_DOC_UPLOAD => Metric::DocUpload,
            EVENT_VERIFY => {
                *verify_attempts.entry(sha.clone()).or_default() += attempts;
                Metric::Verify
            }
            EVENT_PHONE => Metric::Phone,
            EVENT_MFA => Metric::Mfa,
            EVENT_FINAL_RESOLUTION => {
                *proofed.entry(sha).or_default() += attempts;
                continue;
            }
            _ => continue,
        };
        let successes = number(row, "successes")?;
        into.totals
            .entry(sha)
            .or_default()
            .add(metric, Count::new(successes, attempts));
    }
    for (sha, attempts) in verify_attempts {
        let done = proofed.get(&sha).copied().unwrap_or(0);
        into.totals
            .entry(sha)
            .or_default()
            .add(Metric::Proofing, Count::new(done, attempts));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> Row {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn queries_count_and_never_divide() {
        for q in [discovery(), requests(), events()] {
            // Rates are divided by us; the only division in a query is the 5xx flag's, by a
            // constant (never by a count, so never by zero).
            for (i, _) in q.match_indices(" / ") {
                assert!(
                    q[i + 3..].starts_with(|c: char| c.is_ascii_digit()),
                    "divisions are ours: {q}"
                );
            }
            assert!(q.contains("stats "), "{q}");
        }
        assert!(requests().contains("by git_sha"));
        assert!(events().contains("\"Multi-Factor Authentication\""));
        assert!(events().contains("\"IdV: doc auth image upload vendor submitted\""));
    }

    /// The exact text sent to Logs Insights, so a change of the query is a reviewed diff. Every
    /// command, function and operator here is in AWS's documented query syntax: `fields` with
    /// aliases, arithmetic and `floor`; `filter` with `ispresent`, `and` and `in [...]`; `stats`
    /// with `count(*)`, `sum`, `min`, `count_distinct` and `by`. No comparison outside `filter`.
    #[test]
    fn the_query_text_is_pinned() {
        assert_eq!(
            discovery(),
            "fields @timestamp, git_sha\n\
             | filter ispresent(status) and ispresent(action)\n\
             | stats min(@timestamp) as first_seen, count(*) as requests by git_sha"
        );
        assert_eq!(
            requests(),
            "fields @timestamp, git_sha, floor(status / 500) as is_5xx\n\
             | filter ispresent(status) and ispresent(action)\n\
             | stats count(*) as requests, sum(is_5xx) as errors_5xx, count_distinct(@logStream) as instances by git_sha"
        );
        assert_eq!(
            events(),
            "fields @timestamp, name, properties.git_sha as git_sha, properties.event_properties.success as ok\n\
             | filter name in [\"IdV: doc auth image upload vendor submitted\", \"IdV: doc auth verify proofing results\", \"IdV: phone confirmation vendor\", \"Multi-Factor Authentication\", \"IdV: final resolution\"]\n\
             | stats count(*) as attempts, sum(ok) as successes by name, git_sha"
        );
        for q in [discovery(), requests(), events()] {
            let fields = q.lines().next().unwrap();
            for op in [">=", "<=", "!=", " = ", " > ", " < "] {
                assert!(!fields.contains(op), "no comparison in `fields`: {fields}");
            }
        }
    }

    #[test]
    fn answers_become_counts() {
        let a = "a".repeat(40);
        let mut s = Slice::default();
        read_requests(
            &[row(&[
                ("git_sha", &a),
                ("requests", "100"),
                ("errors_5xx", "2.0"),
                ("instances", "3"),
            ])],
            &mut s,
        )
        .unwrap();
        read_events(
            &[
                row(&[
                    ("git_sha", &a),
                    ("name", EVENT_MFA),
                    ("attempts", "10"),
                    ("successes", "9"),
                ]),
                row(&[
                    ("git_sha", &a),
                    ("name", EVENT_VERIFY),
                    ("attempts", "8"),
                    ("successes", "6"),
                ]),
                row(&[
                    ("git_sha", &a),
                    ("name", EVENT_FINAL_RESOLUTION),
                    ("attempts", "4"),
                    ("successes", "4"),
                ]),
            ],
            &mut s,
        )
        .unwrap();
        let t = s.of(&a);
        assert_eq!(t.get(Metric::ServerErrors), Count::new(2, 100));
        assert_eq!(t.get(Metric::Mfa), Count::new(9, 10));
        assert_eq!(t.get(Metric::Proofing), Count::new(4, 8));
        assert_eq!(t.get(Metric::Phone), Count::default(), "no data, not zero");
        assert_eq!(s.instances[&a], 3);
        let e = read_requests(&[row(&[("git_sha", &a), ("requests", "1")])], &mut s).unwrap_err();
        assert!(e.to_string().contains("errors_5xx"), "{e}");
    }

    #[test]
    fn insights_times_parse() {
        let t = parse_insights_time("2026-12-02 03:58:44.000").unwrap();
        assert_eq!(t.to_string(), "2026-12-02T03:58:44Z");
        let seen = read_discovery(&[row(&[
            ("git_sha", "x"),
            ("first_seen", "2026-12-02 03:58:44.000"),
            ("requests", "5"),
        ])])
        .unwrap();
        assert_eq!(seen[0].requests, 5);
    }
}
