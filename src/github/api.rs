//! The GitHub operations the release commands need. Each
//! operation is a request (or a short sequence) plus the mapping of its answer; the decisions
//! live in [`crate::github::rules`].

use std::ops::ControlFlow;

use anyhow::Result;

use serde_json::json;

use crate::error::{preflight, AppError, Kind};
use crate::github::client::Client;
use crate::github::rules;
use crate::github::types::*;
use crate::types::RcNumber;

impl Client {
    /// `GET /repos/o/r`: the repository exists and the token can see it.
    pub async fn check_repo(&self) -> Result<Repository> {
        let resp = self.get(self.repo_url(&[])).await?;
        if resp.status == 404 {
            return Err(preflight(
                format!(
                    "repository {} not found (or the token cannot see it)",
                    self.repo
                ),
                "check GITHUB_REPOSITORY / the github.repository setting, and that the token has \
                 access to it (fine-grained tokens list the repositories they may use)",
            ));
        }
        resp.json()
    }

    /// Every release, all pages (GitHub lists them newest first; drafts only for writers).
    pub async fn releases(&self) -> Result<Vec<Release>> {
        self.get_all(self.repo_url(&["releases"])).await
    }

    /// The last RC: the highest `RC N(.M)` among published releases (see [`rules::last_rc`]).
    pub async fn last_rc(&self, title_pattern: &str) -> Result<Option<(RcNumber, Release)>> {
        let releases = self.releases().await?;
        Ok(rules::last_rc(&releases, title_pattern).map(|(n, r)| (n, r.clone())))
    }

    /// Refuses when a release titled `title` exists (a preflight failure, exit 3).
    pub async fn ensure_no_release_titled(&self, title: &str) -> Result<()> {
        let releases = self.releases().await?;
        match rules::release_titled(&releases, title) {
            None => Ok(()),
            Some(r) => Err(preflight(
                format!(
                    "a {}release titled `{title}` already exists: {}",
                    if r.draft { "draft " } else { "" },
                    r.html_url
                ),
                "each RC is released once: check the promotion PR's title, or pass the right \
                 --pr; delete the old release first only if it is wrong",
            )),
        }
    }

    /// Creates the label when the repository lacks it. Returns true when it was created.
    pub async fn ensure_label(&self, name: &str) -> Result<bool> {
        let resp = self.get(self.repo_url(&["labels", name])).await?;
        if resp.is_success() {
            return Ok(false);
        }
        if resp.status != 404 {
            return Err(resp.into_error());
        }
        let resp = self
            .post(
                self.repo_url(&["labels"]),
                &json!({"name": name, "color": LABEL_COLOR, "description": LABEL_DESCRIPTION}),
            )
            .await?;
        // Someone created it in between: fine.
        if resp.status == 422 && resp.body.contains("already_exists") {
            return Ok(false);
        }
        resp.json::<Label>()?;
        Ok(true)
    }

    /// The open PR whose head is `branch` of this repository, if any.
    pub async fn open_pr_for_head(&self, branch: &str) -> Result<Option<PullRequest>> {
        let mut url = self.repo_url(&["pulls"]);
        url.query_pairs_mut()
            .append_pair("state", "open")
            .append_pair("head", &format!("{}:{branch}", self.repo.owner));
        let mut found = None;
        self.get_pages(url, |page: Vec<PullRequest>| {
            found = page.into_iter().find(|p| p.head.ref_name == branch);
            if found.is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .await?;
        Ok(found)
    }

    /// Adds labels to a PR (PRs are issues for labels).
    pub async fn add_labels(&self, number: u64, labels: &[&str]) -> Result<()> {
        self.post(
            self.repo_url(&["issues", &number.to_string(), "labels"]),
            &json!({ "labels": labels }),
        )
        .await?
        .json::<Vec<Label>>()?;
        Ok(())
    }

    /// Opens a PR and labels it, unless an open PR for the same head branch exists: then that one
    /// is returned (and given any missing label), never a duplicate.
    pub async fn open_pr(&self, new: &NewPr<'_>) -> Result<(PullRequest, PrOutcome)> {
        if let Some(pr) = self.open_pr_for_head(new.head).await? {
            return self.adopt_existing(pr, new).await;
        }
        let resp = self
            .post(
                self.repo_url(&["pulls"]),
                &json!({
                    "title": new.title,
                    "head": new.head,
                    "base": new.base,
                    "body": new.body,
                    "maintainer_can_modify": true,
                }),
            )
            .await?;
        if resp.status == 422 && resp.body.contains("already exists") {
            // Opened by someone else since we looked.
            if let Some(pr) = self.open_pr_for_head(new.head).await? {
                return self.adopt_existing(pr, new).await;
            }
        }
        let pr: PullRequest = resp.json()?;
        if !new.labels.is_empty() {
            if let Err(e) = self.add_labels(pr.number, new.labels).await {
                return Err(AppError::new(
                    Kind::Partial,
                    format!(
                        "opened {} but could not label it: {}",
                        pr.html_url,
                        crate::error::report(&e).message
                    ),
                )
                .with_hint(format!(
                    "run the same command again: it finds the open PR and labels it (or add the \
                     label `{}` by hand)",
                    new.labels.join("`, `")
                ))
                .into());
            }
        }
        Ok((pr, PrOutcome::Created))
    }

    async fn adopt_existing(
        &self,
        pr: PullRequest,
        new: &NewPr<'_>,
    ) -> Result<(PullRequest, PrOutcome)> {
        if pr.base.ref_name != new.base {
            return Err(preflight(
                format!(
                    "{} is already open for `{}`, but into `{}`, not `{}`",
                    pr.html_url, new.head, pr.base.ref_name, new.base
                ),
                format!("change its base to `{}` on GitHub, or close it", new.base),
            ));
        }
        let missing: Vec<&str> = new
            .labels
            .iter()
            .copied()
            .filter(|l| !rules::has_label(&pr, l))
            .collect();
        if !missing.is_empty() {
            self.add_labels(pr.number, &missing).await?;
        }
        Ok((pr, PrOutcome::AlreadyOpen))
    }

    /// One PR by number; a missing one is a preflight failure.
    pub async fn pull(&self, number: u64) -> Result<PullRequest> {
        let resp = self
            .get(self.repo_url(&["pulls", &number.to_string()]))
            .await?;
        if resp.status == 404 {
            return Err(preflight(
                format!("pull request #{number} not found in {}", self.repo),
                "check the number given with --pr (or leave --pr out to use the latest merged \
                 promotion PR)",
            ));
        }
        resp.json()
    }

    /// The most recently merged PR into `base` carrying `label` (exact), over every page needed.
    pub async fn latest_merged_pr(&self, base: &str, label: &str) -> Result<Option<PullRequest>> {
        let mut url = self.repo_url(&["pulls"]);
        url.query_pairs_mut()
            .append_pair("state", "closed")
            .append_pair("base", base)
            .append_pair("sort", "updated")
            .append_pair("direction", "desc");
        let mut finder = rules::LatestMerged::new(base, label);
        self.get_pages(url, |page| finder.visit(page)).await?;
        Ok(finder.best)
    }

    /// The merged promotion PR: `number` when given (it must be merged into `base`), else the
    /// latest merged into `base` with `label`. Every miss is a preflight failure with a hint.
    pub async fn merged_promotion_pr(
        &self,
        number: Option<u64>,
        base: &str,
        label: &str,
    ) -> Result<PullRequest> {
        let pr = match number {
            Some(n) => self.pull(n).await?,
            None => self.latest_merged_pr(base, label).await?.ok_or_else(|| {
                preflight(
                    format!(
                        "no merged pull request into `{base}` carries the label `{label}` in {}",
                        self.repo
                    ),
                    "pass the promotion PR with --pr NUMBER (or its URL)",
                )
            })?,
        };
        if pr.merged_at.is_none() {
            let state = if pr.state == "open" {
                "still open"
            } else {
                "closed without merging"
            };
            return Err(preflight(
                format!("pull request #{} is not merged ({state})", pr.number),
                "merge it on GitHub with a normal merge commit (never squash), then run again",
            ));
        }
        if pr.base.ref_name != base {
            return Err(preflight(
                format!(
                    "pull request #{} was merged into `{}`, not `{base}`",
                    pr.number, pr.base.ref_name
                ),
                "pass the promotion PR (the one into the production branch) with --pr",
            ));
        }
        Ok(pr)
    }

    /// A normal merge or a squash, from the number of parents of the PR's merge commit.
    pub async fn merge_kind(&self, pr: &PullRequest) -> Result<MergeKind> {
        let sha = pr.merge_commit_sha.as_deref().ok_or_else(|| {
            AppError::new(
                Kind::Failed,
                format!("GitHub names no merge commit for PR #{}", pr.number),
            )
            .with_hint("check the PR on GitHub")
        })?;
        let commit: Commit = self.get(self.repo_url(&["commits", sha])).await?.json()?;
        Ok(if commit.parents.len() >= 2 {
            MergeKind::Merge
        } else {
            MergeKind::Squash
        })
    }

    /// Publishes a release of an existing tag, marked latest.
    pub async fn create_release(&self, tag: &str, title: &str, body: &str) -> Result<Release> {
        self.post(
            self.repo_url(&["releases"]),
            &json!({
                "tag_name": tag,
                "name": title,
                "body": body,
                "draft": false,
                "prerelease": false,
                "make_latest": "true",
            }),
        )
        .await?
        .json()
    }

    /// Every review of a pull request, oldest first.
    pub async fn reviews(&self, number: u64) -> Result<Vec<Review>> {
        self.get_all(self.repo_url(&["pulls", &number.to_string(), "reviews"]))
            .await
    }

    /// Merges a pull request with a normal merge commit (never squash: the release tag and the
    /// changelog need the RC's commits on the production branch), only if its head is still
    /// `head_sha`. GitHub answers 405 when it cannot be merged and 409 when the head moved.
    pub async fn merge_pull(&self, number: u64, head_sha: &str) -> Result<String> {
        let resp = self
            .send(
                reqwest::Method::PUT,
                self.repo_url(&["pulls", &number.to_string(), "merge"]),
                Some(&json!({"merge_method": "merge", "sha": head_sha})),
            )
            .await?;
        match resp.status {
            200 => {
                #[derive(serde::Deserialize)]
                struct Merged {
                    sha: String,
                }
                Ok(resp.json::<Merged>()?.sha)
            }
            405 | 409 | 422 => Err(preflight(
                format!(
                    "GitHub refused to merge PR #{number}: {}",
                    super::client::github_message(&resp.body)
                ),
                "look at the PR on GitHub (checks, conflicts, a moved head), fix it, then `login-release deploy resume`",
            )),
            _ => Err(resp.into_error()),
        }
    }
}
