//! The GitHub steps of the release commands, each a short sequence of operations with its
//! preflight rules, so the commands stay orchestration: the RC number, the promotion PR, the
//! merged promotion PR to release, the revert PR.

use anyhow::Result;
use serde::Serialize;

use crate::config::Settings;
use crate::error::{preflight, usage};
use crate::github::client::Client;
use crate::github::rules;
use crate::github::types::{MergeKind, NewPr, PrOutcome, PullRequest};
use crate::output::Output;
use crate::types::RcNumber;

/// Where the RC number came from.
#[derive(Debug, Clone, Serialize)]
pub struct RcChoice {
    pub rc: RcNumber,
    /// `--rc`, or the release it counts from (`RC 112`).
    pub from: String,
}

/// The RC to open a PR for: `explicit` (`--rc`), else the next full (or, with `patch`, patch)
/// number after the highest published `RC N(.M)` release.
pub async fn decide_rc(
    gh: &Client,
    settings: &Settings,
    explicit: Option<RcNumber>,
    patch: bool,
) -> Result<RcChoice> {
    if let Some(rc) = explicit {
        return Ok(RcChoice {
            rc,
            from: "--rc".to_string(),
        });
    }
    let last = gh.last_rc(&settings.release.title).await?;
    let Some((n, release)) = last else {
        return Err(preflight(
            format!(
                "no published release of {} is titled like `{}`, so the next RC number is unknown",
                gh.repo,
                settings.release_title("N")
            ),
            "pass the number with --rc N",
        ));
    };
    let rc = rules::next_rc(Some(n), patch).expect("a last RC");
    Ok(RcChoice {
        rc,
        from: format!(
            "after {} ({})",
            release.name.as_deref().unwrap_or_default(),
            release.html_url
        ),
    })
}

/// Opens the promotion PR `branch` -> production branch titled from the settings, after making
/// sure the label exists; an open PR for the branch is returned instead of a second one.
pub async fn open_promotion_pr(
    gh: &Client,
    settings: &Settings,
    rc: RcNumber,
    branch: &str,
    body: &str,
) -> Result<(PullRequest, PrOutcome)> {
    let label = settings.release.pr_label.as_str();
    gh.ensure_label(label).await?;
    let title = settings.pr_title(&rc.to_string());
    gh.open_pr(&NewPr {
        title: &title,
        head: branch,
        base: &settings.git.prod_branch,
        body,
        labels: &[label],
    })
    .await
}

/// Opening the `kind` PR ("promotion", "revert") failed after its branch was pushed: exit 4,
/// saying what is done and that running again only opens (or finds) the PR. An error that is
/// already a partial change passes through as it is.
pub fn pr_failed_after_push(
    e: anyhow::Error,
    kind: &str,
    branch: &str,
    remote: &str,
) -> anyhow::Error {
    let r = crate::error::report(&e);
    if r.code == crate::error::Kind::Partial.exit_code() {
        return e;
    }
    let hint = r.hint.map(|h| format!("{h}; then ")).unwrap_or_default();
    crate::error::partial(
        format!(
            "pushed {branch} to {remote}, but opening the {kind} PR failed: {}",
            r.message
        ),
        format!(
            "{hint}run the same command again: the branch is in place, so it only opens the PR \
             (or finds it)"
        ),
    )
}

/// The merged promotion PR to release, with its RC and how it was merged.
#[derive(Debug, Clone, Serialize)]
pub struct ReleasePr {
    pub pr: PullRequest,
    pub rc: RcNumber,
    pub merge: MergeKind,
}

/// Finds the merged promotion PR (`pr_arg`: a number, `#N` or URL; else the latest merged into
/// the production branch with the label), reads its RC from its title, and refuses a squash
/// merge unless `allow_squash` (`--yes`), warning instead.
pub async fn release_pr(
    gh: &Client,
    settings: &Settings,
    pr_arg: Option<&str>,
    allow_squash: bool,
    out: &Output,
) -> Result<ReleasePr> {
    let number = pr_arg
        .map(|a| {
            rules::parse_pr_ref(a, &gh.repo).map_err(|why| {
                usage(
                    format!("--pr: {why}"),
                    "give the promotion PR as a number (9500) or its URL",
                )
            })
        })
        .transpose()?;
    let label = settings.release.pr_label.as_str();
    let prod = settings.git.prod_branch.as_str();
    let pr = gh.merged_promotion_pr(number, prod, label).await?;
    if !rules::has_label(&pr, label) {
        out.warn(format!(
            "{} does not carry the label `{label}`; releasing it because it was named with --pr",
            pr.html_url
        ));
    }
    let Some(rc) = rules::rc_from_title(&settings.release.pr_title, &pr.title) else {
        return Err(preflight(
            format!(
                "the title of {}, `{}`, is not like `{}`, so its RC number is unknown",
                pr.html_url,
                pr.title,
                settings.pr_title("N")
            ),
            "fix the PR's title on GitHub (the release is titled from it), then run again",
        ));
    };
    let merge = gh.merge_kind(&pr).await?;
    if merge == MergeKind::Squash {
        let what = format!(
            "{} was squash-merged (its merge commit {} has one parent); the runbook requires a \
             normal merge",
            pr.html_url,
            pr.merge_commit_sha.as_deref().unwrap_or("?")
        );
        if !allow_squash {
            return Err(preflight(
                what,
                format!(
                    "check that {prod} holds the whole RC, then run again with --yes to release \
                     it anyway"
                ),
            ));
        }
        out.warn(format!("{what}; releasing it anyway (--yes)"));
    }
    Ok(ReleasePr { pr, rc, merge })
}

/// The revert PR: `revert-rc-N` -> production branch, titled `Revert RC N`, no promotion label
/// (so it can never be taken for a promotion).
pub async fn open_revert_pr(
    gh: &Client,
    settings: &Settings,
    rc: &str,
    branch: &str,
    merge_sha: &str,
    pr_number: Option<u64>,
    reason: Option<&str>,
) -> Result<(PullRequest, PrOutcome)> {
    let prod = settings.git.prod_branch.as_str();
    let body = rules::revert_body(rc, prod, merge_sha, pr_number, reason);
    gh.open_pr(&NewPr {
        title: &revert_title(rc),
        head: branch,
        base: prod,
        body: &body,
        labels: &[],
    })
    .await
}

/// `Revert RC 113` (or `Revert RC 2026-11-20` when only the RC branch's date is known).
pub fn revert_title(rc: &str) -> String {
    format!("Revert RC {rc}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_titles() {
        assert_eq!(revert_title("113.1"), "Revert RC 113.1");
    }
}
