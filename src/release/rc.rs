//! RC names and numbers: branch, patch-branch, tag and revert-branch names, and the next RC
//! number. Pure functions over plain data.

use jiff::civil::Date;
use jiff::Timestamp;

/// Parses `--date`: exactly `YYYY-MM-DD`, a real calendar date.
pub fn parse_date(s: &str) -> Result<Date, String> {
    let shape = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape {
        return Err(format!("`{s}` is not a date in the form YYYY-MM-DD"));
    }
    s.parse::<Date>()
        .map_err(|_| format!("`{s}` is not a calendar date"))
}

/// Today in UTC (RC branch dates and tags are UTC, unlike the original script's local time).
pub fn utc_date(now: Timestamp) -> Date {
    now.to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// `stages/rc-2026-11-20`.
pub fn rc_branch(prefix: &str, date: Date) -> String {
    format!("{prefix}{}", date.strftime("%Y-%m-%d"))
}

/// `stages/rc-2026-11-20-patch2`.
pub fn patch_branch(prefix: &str, date: Date, k: u32) -> String {
    format!("{}-patch{k}", rc_branch(prefix, date))
}

/// The next free patch number for `date`: one more than the highest `-patchK` among `existing`
/// branch names (local or remote), starting at 1.
pub fn next_patch_number(prefix: &str, date: Date, existing: &[String]) -> u32 {
    let stem = format!("{}-patch", rc_branch(prefix, date));
    existing
        .iter()
        .filter_map(|b| b.strip_prefix(&stem))
        .filter_map(|k| k.parse::<u32>().ok())
        .max()
        .map_or(1, |k| k + 1)
}

/// The release tag name: UTC `YYYY-MM-DDTHHMMSS` (no colons, no `Z`).
pub fn tag_name(now: Timestamp) -> String {
    now.strftime("%Y-%m-%dT%H%M%S").to_string()
}

/// True for names shaped like release tags.
pub fn is_tag_name(s: &str) -> bool {
    s.len() == 17
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            _ => b.is_ascii_digit(),
        })
}

/// `revert-rc-<N>`: N is the RC number, or the RC branch's date.
pub fn revert_branch(n: &str) -> String {
    format!("revert-rc-{n}")
}

/// What a promotion merge's subject says: `Merge pull request #<pr> from <owner>/<branch>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionMerge {
    pub pr: u64,
    /// The head branch, e.g. `stages/rc-2026-11-20`.
    pub branch: String,
    /// What follows the RC prefix, e.g. `2026-11-20` or `2026-11-20-patch1`, when the branch is
    /// an RC branch.
    pub rc_suffix: Option<String>,
}

/// Reads a GitHub merge subject; `None` when it is not one.
pub fn parse_promotion_merge(subject: &str, rc_prefix: &str) -> Option<PromotionMerge> {
    let rest = subject.trim().strip_prefix("Merge pull request #")?;
    let (num, rest) = rest.split_once(' ')?;
    let pr = num.parse().ok()?;
    let head = rest.strip_prefix("from ")?.trim();
    if head.is_empty() || head.contains(' ') {
        return None;
    }
    // `owner/branch`: the owner is the first path segment.
    let branch = head.split_once('/').map_or(head, |(_, b)| b).to_string();
    let rc_suffix = branch
        .strip_prefix(rc_prefix)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Some(PromotionMerge {
        pr,
        branch,
        rc_suffix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn dates_are_strict() {
        assert_eq!(parse_date("2026-11-20").unwrap(), d("2026-11-20"));
        for bad in [
            "2026-13-01",
            "2026-02-30",
            "26-11-20",
            "2026/11/20",
            "2026-11-20x",
            "today",
            "",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        assert!(parse_date("2026-02-30").unwrap_err().contains("calendar"));
    }

    #[test]
    fn utc_date_not_local() {
        let late: Timestamp = "2026-11-20T23:30:00-08:00".parse().unwrap();
        assert_eq!(utc_date(late), d("2026-11-21"));
    }

    #[test]
    fn branch_names() {
        assert_eq!(
            rc_branch("stages/rc-", d("2026-11-20")),
            "stages/rc-2026-11-20"
        );
        assert_eq!(
            patch_branch("stages/rc-", d("2026-11-20"), 2),
            "stages/rc-2026-11-20-patch2"
        );
        assert_eq!(revert_branch("112"), "revert-rc-112");
    }

    #[test]
    fn patch_numbers_continue_after_the_highest() {
        let date = d("2026-11-20");
        assert_eq!(next_patch_number("stages/rc-", date, &[]), 1);
        let existing: Vec<String> = [
            "stages/rc-2026-11-20",
            "stages/rc-2026-11-20-patch1",
            "stages/rc-2026-11-20-patch3",
            "stages/rc-2026-11-20-patchx",
            "stages/rc-2026-11-19-patch9",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(next_patch_number("stages/rc-", date, &existing), 4);
    }

    #[test]
    fn tag_names_are_utc_without_colons() {
        let t: Timestamp = "2026-11-26T10:48:08-08:00".parse().unwrap();
        assert_eq!(tag_name(t), "2026-11-26T184808");
        assert!(is_tag_name("2023-11-21T184808"));
        assert!(!is_tag_name("2023-11-21T18:48:08"));
        assert!(!is_tag_name("v1.2.3"));
    }

    #[test]
    fn promotion_merge_subjects() {
        let m = parse_promotion_merge(
            "Merge pull request #9876 from 18F/stages/rc-2026-11-20",
            "stages/rc-",
        )
        .unwrap();
        assert_eq!(m.pr, 9876);
        assert_eq!(m.branch, "stages/rc-2026-11-20");
        assert_eq!(m.rc_suffix.as_deref(), Some("2026-11-20"));
        let p = parse_promotion_merge(
            "Merge pull request #1 from 18F/stages/rc-2026-11-20-patch1",
            "stages/rc-",
        )
        .unwrap();
        assert_eq!(p.rc_suffix.as_deref(), Some("2026-11-20-patch1"));
        let other =
            parse_promotion_merge("Merge pull request #2 from someone/feature-x", "stages/rc-")
                .unwrap();
        assert_eq!(other.rc_suffix, None);
        assert!(parse_promotion_merge("Deploy RC 231 to Prod (#9344)", "stages/rc-").is_none());
        assert!(parse_promotion_merge("Merge branch 'main'", "stages/rc-").is_none());
    }
}
