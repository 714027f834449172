//! Pure rules over GitHub data: the last RC, titles, PR references, the latest merged promotion
//! PR, the revert PR's body. No I/O; unit-tested here.

use std::ops::ControlFlow;

use crate::github::repo::RepoSlug;
use crate::github::types::{PullRequest, Release};
use crate::types::RcNumber;

/// The RC number a title carries, by a pattern with one `{rc}` (`RC {rc}`,
/// `Deploy RC {rc} to Prod`). Exact: `RC 93 hotfix` or `Deploy RC 93 to Production` is `None`.
/// With the default release pattern this is [`RcNumber::from_release_title`].
pub fn rc_from_title(pattern: &str, title: &str) -> Option<RcNumber> {
    let (prefix, suffix) = pattern.split_once("{rc}")?;
    let middle = title.strip_prefix(prefix)?.strip_suffix(suffix)?;
    middle.parse().ok()
}

/// The last RC: the highest RC number among published releases (not draft, not pre-release)
/// whose title matches the release pattern exactly.
///
/// Why the highest and not the newest: the original read only the newest release row, so a
/// release published out of order (say `RC 111.1` after `RC 112`) or one odd title made the next
/// number repeat an existing RC or restart at 1. The highest number is what "the last RC" means
/// in the runbook and can never repeat one.
pub fn last_rc<'a>(releases: &'a [Release], pattern: &str) -> Option<(RcNumber, &'a Release)> {
    releases
        .iter()
        .filter(|r| !r.draft && !r.prerelease)
        .filter_map(|r| Some((rc_from_title(pattern, r.name.as_deref()?)?, r)))
        .max_by_key(|(n, _)| *n)
}

/// The RC to cut: the next full number (`113` after `112.3`) or, with `patch`, the next patch
/// (`112.4`). `None` when there is no RC to count from.
pub fn next_rc(last: Option<RcNumber>, patch: bool) -> Option<RcNumber> {
    let last = last?;
    Some(if patch {
        last.next_patch()
    } else {
        last.next_full()
    })
}

/// A release already titled exactly `title` (drafts count: a second release of the same RC is
/// a mistake either way). `RC 11` is not `RC 112`.
pub fn release_titled<'a>(releases: &'a [Release], title: &str) -> Option<&'a Release> {
    releases.iter().find(|r| r.name.as_deref() == Some(title))
}

/// `123`, `#123` or a PR URL of this repository (`https://github.com/o/r/pull/123`, with or
/// without `/files` and the like) to a PR number.
pub fn parse_pr_ref(arg: &str, repo: &RepoSlug) -> Result<u64, String> {
    let arg = arg.trim();
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
            .filter(|n| *n > 0)
    };
    if let Some(n) = number(arg.trim_start_matches('#')) {
        return Ok(n);
    }
    let bad = || format!("`{arg}` is not a pull request number or URL");
    let rest = arg.split_once("://").ok_or_else(bad)?.1;
    let mut parts = rest.split('/').skip(1);
    let (owner, name, pull, n) = (parts.next(), parts.next(), parts.next(), parts.next());
    match (owner, name, pull, n.and_then(number)) {
        (Some(o), Some(r), Some("pull"), Some(n)) => {
            let slug = RepoSlug {
                owner: o.to_string(),
                name: r.to_string(),
            };
            if slug.same_as(repo) {
                Ok(n)
            } else {
                Err(format!(
                    "{arg} is a pull request of {slug}, not of {repo} (the repository in use)"
                ))
            }
        }
        _ => Err(bad()),
    }
}

/// True when the PR carries `label` exactly.
pub fn has_label(pr: &PullRequest, label: &str) -> bool {
    pr.labels.iter().any(|l| l.name == label)
}

/// Finds the most recently merged PR with a label while walking pages of
/// `GET /pulls?state=closed&base=B&sort=updated&direction=desc`.
///
/// Merging updates a PR, so `updated_at >= merged_at` for every merged PR. Once a page reaches
/// PRs last updated before the best `merged_at` found, none further down can beat it and the walk
/// stops: exact, with no page limit and no 30-item blind spot.
#[derive(Debug, Default)]
pub struct LatestMerged {
    label: String,
    base: String,
    pub best: Option<PullRequest>,
}

impl LatestMerged {
    pub fn new(base: &str, label: &str) -> Self {
        LatestMerged {
            label: label.to_string(),
            base: base.to_string(),
            best: None,
        }
    }

    pub fn visit(&mut self, page: Vec<PullRequest>) -> ControlFlow<()> {
        for pr in page {
            if let (Some(best), Some(updated)) = (&self.best, pr.updated_at) {
                if best.merged_at.is_some_and(|m| updated < m) {
                    return ControlFlow::Break(());
                }
            }
            let fits = pr.merged_at.is_some()
                && pr.base.ref_name == self.base
                && has_label(&pr, &self.label);
            let better = match &self.best {
                None => true,
                Some(b) => pr.merged_at > b.merged_at,
            };
            if fits && better {
                self.best = Some(pr);
            }
        }
        ControlFlow::Continue(())
    }
}

/// The body of the revert PR: what it reverts, why, and what comes after.
pub fn revert_body(
    rc: &str,
    prod_branch: &str,
    merge_sha: &str,
    pr_number: Option<u64>,
    reason: Option<&str>,
) -> String {
    let of_pr = pr_number.map_or(String::new(), |n| format!(" of #{n}"));
    let reason = reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or("(no reason given; add one here)");
    format!(
        "Reverts RC {rc} on `{prod_branch}`: this undoes the promotion merge {merge_sha}{of_pr} \
         (`git revert -m 1`, against its first parent).\n\
         \n\
         **Reason:** {reason}\n\
         \n\
         After this merges: recycle production again (the full production steps), then hold a \
         retrospective.\n"
    )
}

/// The reminder printed after a revert PR is opened.
pub const RETROSPECTIVE_REMINDER: &str = "after the revert merges, recycle production again \
     (the full production steps), and schedule a retrospective for this rollback";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::types::{Label, PrRef};

    fn release(name: &str, draft: bool, prerelease: bool) -> Release {
        Release {
            id: 1,
            name: Some(name.to_string()),
            tag_name: "t".into(),
            draft,
            prerelease,
            html_url: String::new(),
            body: None,
        }
    }

    fn pr(n: u64, merged: Option<&str>, updated: &str, labels: &[&str]) -> PullRequest {
        PullRequest {
            number: n,
            title: format!("Deploy RC {n} to Prod"),
            html_url: format!("https://github.com/o/r/pull/{n}"),
            state: "closed".into(),
            body: None,
            merged_at: merged.map(|m| m.parse().unwrap()),
            updated_at: Some(updated.parse().unwrap()),
            merge_commit_sha: None,
            labels: labels
                .iter()
                .map(|l| Label {
                    name: l.to_string(),
                })
                .collect(),
            head: PrRef {
                ref_name: format!("stages/rc-{n}"),
                sha: String::new(),
            },
            base: PrRef {
                ref_name: "stages/prod".into(),
                sha: String::new(),
            },
        }
    }

    #[test]
    fn titles_match_exactly() {
        let rc = |s: &str| s.parse::<RcNumber>().unwrap();
        assert_eq!(rc_from_title("RC {rc}", "RC 112"), Some(rc("112")));
        assert_eq!(rc_from_title("RC {rc}", "RC 93.1"), Some(rc("93.1")));
        for bad in [
            "RC 93 hotfix",
            "rc 93",
            "RC93",
            "RC ",
            "Release 93",
            " RC 93",
        ] {
            assert_eq!(rc_from_title("RC {rc}", bad), None, "{bad}");
            assert_eq!(
                rc_from_title("RC {rc}", bad),
                RcNumber::from_release_title(bad),
                "{bad}"
            );
        }
        assert_eq!(
            rc_from_title("Deploy RC {rc} to Prod", "Deploy RC 231 to Prod"),
            Some(rc("231"))
        );
        assert_eq!(
            rc_from_title("Deploy RC {rc} to Prod", "Deploy RC 231 to Production"),
            None
        );
    }

    #[test]
    fn last_rc_is_the_highest_published() {
        let releases = vec![
            release("RC 113", true, false),
            release("RC 114", false, true),
            release("RC 111.1", false, false),
            release("RC 112", false, false),
            release("RC 112 hotfix", false, false),
            release("RC 1000 (test)", false, false),
            release("2023-11-21T184808", false, false),
        ];
        let (n, r) = last_rc(&releases, "RC {rc}").unwrap();
        assert_eq!(n.to_string(), "112");
        assert_eq!(r.name.as_deref(), Some("RC 112"));
        assert_eq!(next_rc(Some(n), false).unwrap().to_string(), "113");
        assert_eq!(next_rc(Some(n), true).unwrap().to_string(), "112.1");
        let patched = vec![
            release("RC 112.3", false, false),
            release("RC 112", false, false),
        ];
        let (n, _) = last_rc(&patched, "RC {rc}").unwrap();
        assert_eq!(next_rc(Some(n), false).unwrap().to_string(), "113");
        assert_eq!(next_rc(Some(n), true).unwrap().to_string(), "112.4");
        assert!(last_rc(&[release("RC 9", true, false)], "RC {rc}").is_none());
        assert_eq!(next_rc(None, false), None);
    }

    #[test]
    fn duplicate_titles_are_exact() {
        let releases = vec![
            release("RC 112", false, false),
            release("RC 11.1", true, false),
        ];
        assert!(release_titled(&releases, "RC 11").is_none());
        assert!(release_titled(&releases, "RC 112").is_some());
        assert!(release_titled(&releases, "RC 11.1").is_some());
    }

    #[test]
    fn pr_references() {
        let repo = RepoSlug::parse("18F/identity-idp").unwrap();
        assert_eq!(parse_pr_ref("9500", &repo), Ok(9500));
        assert_eq!(parse_pr_ref("#9500", &repo), Ok(9500));
        assert_eq!(
            parse_pr_ref("https://github.com/18F/identity-idp/pull/9500", &repo),
            Ok(9500)
        );
        assert_eq!(
            parse_pr_ref("https://github.com/18f/identity-idp/pull/9500/files", &repo),
            Ok(9500)
        );
        assert!(
            parse_pr_ref("https://github.com/18F/identity-pki/pull/9500", &repo)
                .unwrap_err()
                .contains("not of 18F/identity-idp")
        );
        for bad in [
            "",
            "0",
            "abc",
            "https://github.com/18F/identity-idp/issues/1",
        ] {
            assert!(parse_pr_ref(bad, &repo).is_err(), "{bad}");
        }
    }

    #[test]
    fn latest_merged_promotion_pr() {
        let label = "status - promotion";
        let mut l = LatestMerged::new("stages/prod", label);
        // Sorted by updated desc: an old promotion commented on recently comes first.
        let page1 = vec![
            pr(
                1,
                Some("2026-01-01T10:00:00Z"),
                "2026-01-20T00:00:00Z",
                &[label],
            ),
            pr(2, None, "2026-01-19T00:00:00Z", &[label]),
            pr(
                3,
                Some("2026-01-18T00:00:00Z"),
                "2026-01-18T00:00:00Z",
                &["other"],
            ),
        ];
        assert!(l.visit(page1).is_continue());
        let page2 = vec![
            pr(
                4,
                Some("2026-01-15T00:00:00Z"),
                "2026-01-15T00:00:01Z",
                &[label],
            ),
            pr(5, Some("2026-01-15T00:00:00Z"), "2026-01-15T00:00:00Z", &[]),
        ];
        assert!(l.visit(page2).is_continue());
        assert_eq!(l.best.as_ref().unwrap().number, 4);
        // Anything last updated before the best merge cannot have merged later: stop.
        let page3 = vec![
            pr(
                6,
                Some("2026-01-14T00:00:00Z"),
                "2026-01-14T00:00:00Z",
                &[label],
            ),
            pr(
                7,
                Some("2026-01-16T00:00:00Z"),
                "2026-01-13T00:00:00Z",
                &[label],
            ),
        ];
        assert!(l.visit(page3).is_break());
        assert_eq!(l.best.unwrap().number, 4);
        // Label matching is exact.
        let mut l = LatestMerged::new("stages/prod", label);
        let _ = l.visit(vec![pr(
            8,
            Some("2026-01-10T00:00:00Z"),
            "2026-01-10T00:00:00Z",
            &["status - promotion2"],
        )]);
        assert!(l.best.is_none());
    }

    #[test]
    fn revert_body_names_merge_pr_and_reason() {
        let rc = "113";
        let body = revert_body(
            rc,
            "stages/prod",
            "abc123",
            Some(9500),
            Some("login errors"),
        );
        assert_eq!(
            body,
            "Reverts RC 113 on `stages/prod`: this undoes the promotion merge abc123 of #9500 \
             (`git revert -m 1`, against its first parent).\n\n**Reason:** login errors\n\n\
             After this merges: recycle production again (the full production steps), then hold \
             a retrospective.\n"
        );
        assert!(revert_body(rc, "stages/prod", "abc", None, None).contains("no reason given"));
    }
}
