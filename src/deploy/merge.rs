//! Where the promotion PR stands, from GitHub's facts: pure, so every case is a table test.
//!
//! The merge step polls GitHub and asks this what it sees. Only the latest review of each
//! reviewer counts (GitHub's own rule: a later "changes requested" overrides an approval, a
//! dismissal withdraws it), and the PR's author cannot approve their own PR.

use std::collections::BTreeMap;

use crate::github::types::{MergeKind, PullRequest, Review};

/// The promotion PR as the merge step sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrState {
    /// Open, no approval yet.
    AwaitingReview,
    /// Open, someone asked for changes (and has not approved since).
    ChangesRequested { by: Vec<String> },
    /// Open and approved: the release manager may merge it from here.
    Approved { by: Vec<String> },
    /// Merged with a merge commit: the release goes on.
    Merged { sha: String },
    /// Merged as a squash (or rebase): production no longer holds the RC's commits as they are.
    Squashed { sha: String },
    /// Closed without merging.
    ClosedUnmerged,
}

/// Each reviewer's last word, in the order they first reviewed.
fn last_words(reviews: &[Review]) -> BTreeMap<String, String> {
    let mut last = BTreeMap::new();
    for r in reviews {
        let Some(user) = &r.user else { continue };
        match r.state.as_str() {
            // A comment neither gives nor withdraws an approval.
            "COMMENTED" | "PENDING" => {}
            state => {
                last.insert(user.login.clone(), state.to_string());
            }
        }
    }
    last
}

/// Classifies an open or closed PR; a merged one needs its merge kind (from the merge commit's
/// parents), which the caller looks up only then.
pub fn classify(pr: &PullRequest, reviews: &[Review], merge: Option<MergeKind>) -> PrState {
    if pr.merged_at.is_some() {
        let sha = pr.merge_commit_sha.clone().unwrap_or_default();
        return match merge {
            Some(MergeKind::Squash) => PrState::Squashed { sha },
            _ => PrState::Merged { sha },
        };
    }
    if pr.state != "open" {
        return PrState::ClosedUnmerged;
    }
    let words = last_words(reviews);
    let with = |state: &str| -> Vec<String> {
        words
            .iter()
            .filter(|(_, s)| s.as_str() == state)
            .map(|(u, _)| u.clone())
            .collect()
    };
    let changes = with("CHANGES_REQUESTED");
    if !changes.is_empty() {
        return PrState::ChangesRequested { by: changes };
    }
    let approved = with("APPROVED");
    if approved.is_empty() {
        PrState::AwaitingReview
    } else {
        PrState::Approved { by: approved }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::types::{PrRef, User};

    fn pr(state: &str, merged: bool) -> PullRequest {
        PullRequest {
            number: 7,
            title: "Deploy RC 412 to Prod".into(),
            html_url: "https://github.com/18F/identity-idp/pull/7".into(),
            state: state.into(),
            body: None,
            merged_at: merged.then(|| "2026-11-24T17:00:00Z".parse().unwrap()),
            updated_at: None,
            merge_commit_sha: merged.then(|| "abc".to_string()),
            labels: vec![],
            head: PrRef {
                ref_name: "stages/rc-2026-11-24".into(),
                sha: "h".into(),
            },
            base: PrRef {
                ref_name: "stages/prod".into(),
                sha: "b".into(),
            },
        }
    }

    fn review(user: &str, state: &str) -> Review {
        Review {
            user: Some(User { login: user.into() }),
            state: state.into(),
            submitted_at: None,
        }
    }

    #[test]
    fn open_prs_by_their_reviewers_last_words() {
        let open = pr("open", false);
        let cases: Vec<(Vec<Review>, PrState)> = vec![
            (vec![], PrState::AwaitingReview),
            (vec![review("ann", "COMMENTED")], PrState::AwaitingReview),
            (
                vec![review("ann", "APPROVED")],
                PrState::Approved {
                    by: vec!["ann".into()],
                },
            ),
            (
                vec![review("ann", "APPROVED"), review("ann", "COMMENTED")],
                PrState::Approved {
                    by: vec!["ann".into()],
                },
            ),
            (
                vec![review("ann", "APPROVED"), review("bo", "CHANGES_REQUESTED")],
                PrState::ChangesRequested {
                    by: vec!["bo".into()],
                },
            ),
            (
                vec![review("bo", "CHANGES_REQUESTED"), review("bo", "APPROVED")],
                PrState::Approved {
                    by: vec!["bo".into()],
                },
            ),
            (
                vec![review("ann", "APPROVED"), review("ann", "DISMISSED")],
                PrState::AwaitingReview,
            ),
        ];
        for (reviews, want) in cases {
            assert_eq!(classify(&open, &reviews, None), want, "{reviews:?}");
        }
    }

    #[test]
    fn closed_and_merged_prs() {
        assert_eq!(
            classify(&pr("closed", false), &[review("ann", "APPROVED")], None),
            PrState::ClosedUnmerged
        );
        assert_eq!(
            classify(&pr("closed", true), &[], Some(MergeKind::Merge)),
            PrState::Merged { sha: "abc".into() }
        );
        assert_eq!(
            classify(&pr("closed", true), &[], Some(MergeKind::Squash)),
            PrState::Squashed { sha: "abc".into() }
        );
    }
}
