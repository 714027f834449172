//! Publishing the GitHub release of a release tag as a library step's parts: the preflight
//! (the merged promotion PR, its RC, no release of that title yet), the plan step, the publish
//! and the exit-4 answer when it fails after the tag was pushed.

use anyhow::Result;
use git2::Oid;
use serde::Serialize;
use serde_json::json;

use crate::context::Context;
use crate::error::report;
use crate::github::{self, flows, rules, Client, MergeKind, Release};
use crate::plan::{Plan, Step};
use crate::release::links;
use crate::types::{short, RcNumber};

/// Which release to publish, as explicit inputs.
#[derive(Debug, Clone, Default)]
pub struct ReleaseRequest {
    /// The RC the caller expects (must match the PR's title).
    pub rc: Option<RcNumber>,
    /// The merged promotion PR, as a number or URL [default: the latest merged promotion].
    pub pr: Option<String>,
}

/// The GitHub release in the JSON document.
#[derive(Debug, Serialize, Clone)]
pub struct ReleaseDoc {
    /// `planned` (dry run), `created` or `already_published`.
    pub status: &'static str,
    pub title: String,
    pub rc: String,
    pub tag: String,
    pub url: Option<String>,
    pub pr: u64,
    pub pr_url: String,
    pub merge: MergeKind,
}

/// What --github-release found before anything changed.
pub struct GithubRelease {
    pub client: Client,
    pub found: flows::ReleasePr,
    pub title: String,
    /// A release of that title for the tag already at production's tip.
    pub existing: Option<Release>,
}

impl GithubRelease {
    pub fn doc(&self, status: &'static str, tag: &str, url: Option<String>) -> ReleaseDoc {
        ReleaseDoc {
            status,
            title: self.title.clone(),
            rc: self.found.rc.to_string(),
            tag: tag.to_string(),
            url,
            pr: self.found.pr.number,
            pr_url: self.found.pr.html_url.clone(),
            merge: self.found.merge,
        }
    }
}

/// The GitHub preflight of --github-release: the merged promotion PR (not squashed unless
/// --yes), its RC, and no release of that title yet (unless it is this tag's).
pub async fn preflight(
    ctx: &Context,
    req: &ReleaseRequest,
    prod: Option<Oid>,
    tagged: Option<&str>,
    prod_name: &str,
) -> Result<GithubRelease> {
    let s = ctx.settings();
    let client = github::connect(ctx)?;
    client.check_repo().await?;
    let found =
        flows::release_pr(&client, s, req.pr.as_deref(), ctx.assume_yes(), &ctx.out).await?;
    if let Some(n) = req.rc.filter(|n| *n != found.rc) {
        return Err(crate::error::preflight(
            format!(
                "--rc {n} does not match the promotion PR {} (\"{}\")",
                found.pr.html_url, found.pr.title
            ),
            "drop --rc (the PR's title names the RC), or pass the right PR with --pr",
        ));
    }
    let title = s.release_title(&found.rc.to_string());
    let releases = client.releases().await?;
    let existing =
        match rules::release_titled(&releases, &title) {
            Some(r) if Some(r.tag_name.as_str()) == tagged => Some(r.clone()),
            Some(r) => return Err(crate::error::preflight(
                format!(
                    "a {}release titled `{title}` already exists: {}",
                    if r.draft { "draft " } else { "" },
                    r.html_url
                ),
                "each RC is released once: check the promotion PR (--pr) and its title; delete \
                 the old release first only if it is wrong",
            )),
            None => None,
        };
    if let (Some(p), Some(sha)) = (prod, found.pr.merge_commit_sha.as_deref()) {
        if p.to_string() != sha {
            ctx.out.warn(format!(
                "{prod_name} is at {}, not at the merge commit of {} ({}); the tag goes on \
                 {prod_name}",
                short(p),
                found.pr.html_url,
                crate::types::prefix(sha, 9)
            ));
        }
    }
    Ok(GithubRelease {
        client,
        found,
        title,
        existing,
    })
}

/// A GitHub failure after the tag was pushed: exit 4, saying what is done and how to resume.
pub fn after_push(e: anyhow::Error, tag: &str, remote: &str, pr: u64) -> anyhow::Error {
    let r = report(&e);
    let hint = r.hint.map(|h| format!("{h}; then ")).unwrap_or_default();
    crate::error::partial(
        format!(
            "pushed {tag} to {remote}, but publishing the GitHub release failed: {}",
            r.message
        ),
        format!(
            "{hint}run `login-release tag-release --github-release --pr {pr}` again: the tag is \
             on {remote}, so it only publishes the release"
        ),
    )
}

/// Publishes the release and reports it; returns its document.
pub async fn publish(ctx: &Context, g: &GithubRelease, tag: &str) -> Result<ReleaseDoc> {
    let body = g.found.pr.body.clone().unwrap_or_default();
    let rel = g.client.create_release(tag, &g.title, &body).await?;
    ctx.out.success(format!(
        "published the GitHub release {} for {tag} (notes from #{}, marked latest): {}",
        g.title, g.found.pr.number, rel.html_url
    ));
    Ok(g.doc("created", tag, Some(rel.html_url)))
}

/// The plan step that publishes the release for `tag`.
pub fn plan_step(plan: &mut Plan, g: &GithubRelease, tag: &str) {
    let lines = g
        .found
        .pr
        .body
        .as_deref()
        .unwrap_or_default()
        .lines()
        .count();
    plan.push(
        Step::new(
            "release",
            format!("{} {}", g.client.repo, g.title),
            format!(
                "publish for {tag}, notes = the body of {} ({lines} line{}), marked latest",
                g.found.pr.html_url,
                if lines == 1 { "" } else { "s" }
            ),
        )
        .params(json!({
            "repository": g.client.repo.to_string(),
            "tag_name": tag,
            "name": g.title,
            "pr": g.found.pr.number,
            "make_latest": "true",
        })),
    );
}

/// The name the announcement gives the app: the repository's name.
pub fn app_name(gh: Option<&GithubRelease>, links: Option<&links::GithubRepo>) -> String {
    gh.map(|g| g.client.repo.name.clone())
        .or_else(|| links.map(|l| l.name.clone()))
        .unwrap_or_else(|| "release".to_string())
}
