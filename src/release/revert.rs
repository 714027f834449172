//! The revert of the last promotion as a library step (`rollback`, and later `deploy
//! rollback`): find the promotion merge at production's tip, build its revert in memory, run the
//! quick fleet rollback first when asked, publish the branch through the shared publish step, open
//! the revert PR, remind of the retrospective and announce.

use anyhow::Result;
use git2::Oid;
use serde::Serialize;
use serde_json::json;

use crate::context::Context;
use crate::error::{preflight, Findings};
use crate::git::push::LocalBranch;
use crate::git::remote::Remote;
use crate::git::repo::Repo;
use crate::github::{self, flows, rules, Client, PullRequest};
use crate::outcome::Status;
use crate::plan::{Plan, Step};
use crate::recycle::run::{rollback_fleet, ScaleRemoveOutcome};
use crate::release::publish::{self, Branch};
use crate::release::{links, rc};
use crate::types::{short, Env, GitSha, RcNumber};

/// What to roll back, as explicit inputs.
#[derive(Debug, Clone, Default)]
pub struct RevertRequest {
    /// The RC number that names `revert-rc-<N>` [default: from the PR or the merge message].
    pub rc: Option<RcNumber>,
    pub open_pr: bool,
    pub reason: Option<String>,
    /// Also the quick fleet rollback of this environment, before the push.
    pub fleet: Option<Env>,
    /// The promotion PR was squash-merged as this commit (`deploy` knows it from GitHub): it is
    /// reverted though it is not a merge. Without it a tip that is not a merge is refused, since
    /// nothing says which commits make the promotion.
    pub squashed: Option<Squashed>,
}

/// A promotion PR that GitHub squash-merged.
#[derive(Debug, Clone)]
pub struct Squashed {
    pub sha: GitSha,
    pub pr: u64,
    /// The PR's head branch, e.g. `stages/rc-2026-11-20`.
    pub branch: String,
}

/// How the rollback ended: `rollback`'s JSON document.
#[derive(Debug, Clone, Serialize)]
pub struct RevertOutcome {
    pub status: Status,
    pub branch: String,
    pub sha: String,
    pub reverts: serde_json::Value,
    pub pr_base: String,
    pub pr_title: String,
    pub pr_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_branch: Option<LocalBranch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The revert PR (with `open_pr`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pr: Option<PrDoc>,
    pub plan: Plan,
    /// The fleet half (with `fleet`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fleet: Option<ScaleRemoveOutcome>,
}

/// The revert PR in the outcome.
#[derive(Debug, Clone, Serialize)]
pub struct PrDoc {
    /// `planned` (dry run), `created` or `already_open`.
    pub status: &'static str,
    pub title: String,
    pub number: Option<u64>,
    pub url: Option<String>,
}

fn pr_doc(title: &str, pr: Option<&PullRequest>, status: &'static str) -> PrDoc {
    PrDoc {
        status,
        title: pr.map_or_else(|| title.to_string(), |p| p.title.clone()),
        number: pr.map(|p| p.number),
        url: pr.map(|p| p.html_url.clone()),
    }
}

/// The promotion merge at the tip of production.
struct Promotion {
    tip: Oid,
    subject: String,
    first_parent: Oid,
    /// git's `-m`: 1 for a merge commit, 0 for a squash.
    mainline: u32,
    merge: Option<rc::PromotionMerge>,
}

/// Everything decided before the fleet or origin changes.
struct Prepared {
    promotion: Promotion,
    /// The RC name in `revert-rc-<name>` and the PR title.
    name: String,
    branch: Branch,
    client: Option<Client>,
    existing: Option<PullRequest>,
}

/// The RC number the promotion PR's title names (`Deploy RC 113 to Prod`), for the branch and
/// title of the revert; a PR that cannot be read or named is a warning, not a failure.
async fn rc_of_promotion(ctx: &Context, client: &Client, pr: u64) -> Option<RcNumber> {
    let s = ctx.settings();
    match client.pull(pr).await {
        Ok(p) => {
            let rc = rules::rc_from_title(&s.release.pr_title, &p.title);
            if rc.is_none() {
                ctx.out.warn(format!(
                    "the title of {}, `{}`, names no RC; naming the revert after the RC branch (or pass --rc N)",
                    p.html_url, p.title
                ));
            }
            rc
        }
        Err(e) => {
            ctx.out.warn(format!(
                "could not read the promotion PR #{pr}: {}; naming the revert after the RC branch (or pass --rc N)",
                crate::error::report(&e).message
            ));
            None
        }
    }
}

pub async fn run(ctx: &Context, req: &RevertRequest) -> Result<RevertOutcome> {
    let s = ctx.settings();
    let repo = Repo::open(ctx.repo_dir())?;
    let remote = Remote::new(&repo, &s.git.remote, s.git.fetch_with_cli)?;
    remote.fetch_reporting(&ctx.out)?;
    let p = prepare(ctx, &repo, &remote, req).await?;
    let plan = build_plan(ctx, &repo, &remote, &p, req);
    // Every git check has passed: now the quick rollback, which relieves production in minutes
    // (the revert PR takes longer). It has its own plan and confirmation.
    let fleet = match &req.fleet {
        Some(env) => Some(rollback_fleet(ctx, env).await.map_err(|e| {
            // Keeps the fleet error's exit code and hint; says the git half did not run.
            e.context(format!(
                "rollback --fleet {env} stopped before the git half"
            ))
        })?),
        None => None,
    };
    // Once the fleet changed, a failure of the git half is a partial rollback (exit 4).
    let fleet_applied = fleet.as_ref().is_some_and(|f| f.status == Status::Applied);
    let after_fleet = |e: anyhow::Error| match fleet_applied {
        true => git_half_failed(e),
        false => e,
    };
    let mut outcome = initial_outcome(ctx, &remote, &p, req, plan, fleet);
    let already = format!(
        "{}/{} already holds the revert of {}: nothing to push",
        remote.name,
        p.branch.name,
        short(p.promotion.tip)
    );
    let pr_to_open = p.client.is_some() && p.existing.is_none();
    let published = publish::publish(ctx, &remote, &outcome.plan, &p.branch, &already, pr_to_open)
        .map_err(after_fleet)?;
    outcome.status = published.status;
    outcome.local_branch = published.local;
    match published.status {
        Status::DryRun | Status::Declined => return Ok(outcome),
        Status::AlreadyDone => {
            if let Some(pr) = &p.existing {
                ctx.out
                    .success(format!("the revert PR is already open: {}", pr.html_url));
            }
            return Ok(outcome);
        }
        _ => {}
    }
    if let Some(c) = &p.client {
        open_pr(ctx, c, &p, req, &remote.name, &mut outcome).await?;
    }
    ctx.out
        .status(format!("reminder: {}", rules::RETROSPECTIVE_REMINDER));
    announce(ctx, &p, &remote, req, &outcome).await;
    Ok(outcome)
}

/// The git half failed after the fleet half changed production: exit 4, naming what is left.
fn git_half_failed(e: anyhow::Error) -> anyhow::Error {
    let r = crate::error::report(&e);
    crate::error::partial(
        format!(
            "the fleet half of the rollback was applied, but the git half failed: {}",
            r.message
        ),
        format!(
            "{}then push the revert with `login-release rollback` (without --fleet)",
            r.hint.map(|h| format!("{h}; ")).unwrap_or_default()
        ),
    )
}

/// The promotion merge at production's tip, or a preflight error saying why there is none.
fn find_promotion(
    ctx: &Context,
    repo: &Repo,
    remote: &Remote<'_>,
    squashed: Option<&Squashed>,
) -> Result<Promotion> {
    let s = ctx.settings();
    let prod_name = format!("{}/{}", remote.name, s.git.prod_branch);
    let Some(tip) = repo.remote_branch(&remote.name, &s.git.prod_branch) else {
        return Err(preflight(
            format!("{prod_name} does not exist: there is no promotion to revert"),
            format!(
                "push the production branch to {}, or set git.prod_branch",
                remote.name
            ),
        ));
    };
    let tip_commit = repo.commit(tip)?;
    let subject = crate::git::repo::summary_of(&tip_commit);
    let parents = tip_commit.parent_count();
    // GitHub's squash subject ends in `(#N)`; a rebase merge (also one parent) keeps the RC's
    // own subjects and is several commits, which one revert would not undo: refused below.
    let is_the_squash = |sq: &&Squashed| {
        parents == 1
            && sq.sha.as_str() == tip.to_string()
            && subject.trim_end().ends_with(&format!("(#{})", sq.pr))
    };
    if let Some(sq) = squashed.filter(is_the_squash) {
        ctx.out.warn(format!(
            "the tip of {prod_name} is the squash merge of PR #{} ({} \"{subject}\"); reverting that one commit",
            sq.pr,
            short(tip)
        ));
        return Ok(Promotion {
            tip,
            subject,
            first_parent: tip_commit.parent_id(0)?,
            mainline: 0,
            merge: Some(rc::PromotionMerge {
                pr: sq.pr,
                rc_suffix: sq
                    .branch
                    .strip_prefix(&s.git.rc_branch_prefix)
                    .filter(|x| !x.is_empty())
                    .map(str::to_string),
                branch: sq.branch.clone(),
            }),
        });
    }
    if parents != 2 {
        return Err(preflight(
            format!(
                "the tip of {prod_name} ({} \"{subject}\") is not a merge ({parents} parent{}): there is no promotion merge to revert",
                short(tip),
                if parents == 1 { "" } else { "s" }
            ),
            format!(
                "find the promotion to undo (git log --first-parent {prod_name}) and revert it by hand on a branch: git switch -c revert-rc-N {prod_name} && git revert [-m 1] SHA"
            ),
        ));
    }
    let first_parent = tip_commit.parent_id(0)?;
    let merge = rc::parse_promotion_merge(&subject, &s.git.rc_branch_prefix);
    if merge.as_ref().is_none_or(|m| m.rc_suffix.is_none()) {
        ctx.out.warn(format!(
            "the tip of {prod_name} is \"{subject}\", which does not look like a promotion merge (Merge pull request #N from OWNER/{}DATE); reverting it anyway",
            s.git.rc_branch_prefix
        ));
    }
    Ok(Promotion {
        tip,
        subject,
        first_parent,
        mainline: 1,
        merge,
    })
}

/// The name in `revert-rc-<name>`: --rc, else the promotion PR's RC, else the RC branch's date.
async fn revert_name(
    ctx: &Context,
    client: Option<&Client>,
    req: &RevertRequest,
    promotion: &Promotion,
) -> Result<String> {
    let pr = promotion.merge.as_ref().map(|m| m.pr);
    let from_pr = match (client, req.rc, pr) {
        (Some(c), None, Some(n)) => rc_of_promotion(ctx, c, n).await,
        _ => None,
    };
    let suffix = promotion.merge.as_ref().and_then(|m| m.rc_suffix.clone());
    match (req.rc.or(from_pr), suffix) {
        (Some(n), _) => Ok(n.to_string()),
        (None, Some(suffix)) => Ok(suffix),
        (None, None) => Err(preflight(
            format!(
                "cannot name the revert branch: \"{}\" names no RC branch",
                promotion.subject
            ),
            "pass the RC number: --rc N (the branch is revert-rc-N)",
        )),
    }
}

async fn prepare(
    ctx: &Context,
    repo: &Repo,
    remote: &Remote<'_>,
    req: &RevertRequest,
) -> Result<Prepared> {
    let promotion = find_promotion(ctx, repo, remote, req.squashed.as_ref())?;
    let client = match req.open_pr {
        true => {
            let c = github::connect(ctx)?;
            c.check_repo().await?;
            Some(c)
        }
        false => None,
    };
    let name = revert_name(ctx, client.as_ref(), req, &promotion).await?;
    let branch = prepare_branch(ctx, repo, remote, &promotion, &rc::revert_branch(&name))?;
    let existing = match &client {
        Some(c) => c.open_pr_for_head(&branch.name).await?,
        None => None,
    };
    Ok(Prepared {
        promotion,
        name,
        branch,
        client,
        existing,
    })
}

/// The revert branch: every check collected, then the revert built in memory (or found on origin,
/// or found locally after an earlier push failed).
fn prepare_branch(
    ctx: &Context,
    repo: &Repo,
    remote: &Remote<'_>,
    promotion: &Promotion,
    branch: &str,
) -> Result<Branch> {
    let s = ctx.settings();
    let prod_name = format!("{}/{}", remote.name, s.git.prod_branch);
    let tip = promotion.tip;
    let mut findings = Findings::new();
    let first_parent_tree = repo.commit(promotion.first_parent)?.tree_id();
    let is_our_revert = |oid: Oid| -> bool {
        repo.commit(oid).is_ok_and(|c| {
            c.parent_count() == 1
                && c.parent_id(0).ok() == Some(tip)
                && c.tree_id() == first_parent_tree
        })
    };
    let remote_old = repo.remote_branch(&remote.name, branch);
    let local = repo.local_branch(branch);
    let already = remote_old.filter(|r| is_our_revert(*r));
    if let Some(r) = remote_old.filter(|_| already.is_none()) {
        findings.add(
            format!(
                "{branch} already exists on {} (at {}), and it is not the revert of {}",
                remote.name,
                short(r),
                short(tip)
            ),
            format!(
                "pass --rc N for another name, or delete it: git push {} --delete {branch}",
                remote.name
            ),
        );
    }
    if let Some(l) = local.filter(|l| Some(*l) != already && !is_our_revert(*l)) {
        findings.add(
            format!("a local branch {branch} already exists (at {})", short(l)),
            format!("pass --rc N for another name, or delete it: git branch -D {branch}"),
        );
    }
    let committer = findings.check(repo.identity(ctx.now()))?;
    findings.into_result()?;
    // A local revert that never reached origin (an earlier push failed) is pushed as it is.
    let resume = local.filter(|l| remote_old.is_none() && is_our_revert(*l));
    let target = match already.or(resume) {
        Some(r) => r,
        None => {
            let committer = committer.expect("no findings means an identity");
            let m = promotion.mainline;
            repo.revert_merge(tip, m, tip, &committer)?.map_err(|c| {
                preflight(
                    format!("reverting {} conflicts in {}", short(tip), c.paths.join(", ")),
                    format!(
                        "revert it by hand: git switch -c {branch} {prod_name} && git revert {}{tip}",
                        if m > 0 { format!("-m {m} ") } else { String::new() }
                    ),
                )
            })?
        }
    };
    Ok(Branch {
        name: branch.to_string(),
        target,
        remote_old,
        on_origin: already.is_some(),
        push_detail: format!(
            "new branch at {target}: revert of {} against its first parent {} (on top of {prod_name})",
            short(tip),
            short(promotion.first_parent)
        ),
    })
}

fn build_plan(
    ctx: &Context,
    repo: &Repo,
    remote: &Remote<'_>,
    p: &Prepared,
    req: &RevertRequest,
) -> Plan {
    let s = ctx.settings();
    let prod_name = format!("{}/{}", remote.name, s.git.prod_branch);
    let mut plan = Plan::new(format!("Revert \"{}\" on {prod_name}", p.promotion.subject))
        .target("repository", repo.location().display().to_string())
        .target("remote", remote.describe());
    publish::plan_steps(&mut plan, remote, &p.branch);
    let branch = &p.branch.name;
    let pr_title = flows::revert_title(&p.name);
    match (&p.client, &p.existing) {
        (Some(_), Some(pr)) => plan.note(format!(
            "the revert PR is already open: {} (reported, not duplicated)",
            pr.html_url
        )),
        (Some(c), None) => plan.push(
            Step::new(
                "open PR",
                format!("{} {branch} -> {}", c.repo, s.git.prod_branch),
                format!(
                    "\"{pr_title}\", body names the merge {}{} and the reason",
                    short(p.promotion.tip),
                    p.promotion
                        .merge
                        .as_ref()
                        .map(|m| format!(" of #{}", m.pr))
                        .unwrap_or_default()
                ),
            )
            .params(json!({
                "repository": c.repo.to_string(),
                "title": pr_title,
                "head": branch,
                "base": s.git.prod_branch,
            })),
        ),
        (None, _) => {}
    }
    if p.client.is_some() {
        plan.note(
            "then merge the revert PR (admins may bypass CI when urgent) and recycle production",
        );
    } else {
        plan.note(format!(
            "then open a PR: base {} <- head {branch}, \"{pr_title}\"; merge it (admins may bypass CI when urgent) and recycle production",
            s.git.prod_branch
        ));
    }
    match &req.fleet {
        Some(env) => plan.note(format!(
            "the fleet half (scale-remove-new-instances {env} ALL) has its own plan and confirmation, before the push"
        )),
        None => plan.note(format!(
            "the fleet is not touched: to take the new instances out of service now, add --fleet {env} (or run scale-remove-new-instances {env} ALL)",
            env = s.production_env()
        )),
    }
    plan.note("the working tree and the checked-out branch are not touched");
    plan
}

fn initial_outcome(
    ctx: &Context,
    remote: &Remote<'_>,
    p: &Prepared,
    req: &RevertRequest,
    plan: Plan,
    fleet: Option<ScaleRemoveOutcome>,
) -> RevertOutcome {
    let s = ctx.settings();
    let pr_title = flows::revert_title(&p.name);
    let compare = links::github_repo(&s.github.repository, &remote.url)
        .map(|g| g.compare_url(&s.git.prod_branch, &p.branch.name));
    RevertOutcome {
        status: Status::Applied,
        branch: p.branch.name.clone(),
        sha: p.branch.target.to_string(),
        reverts: json!({
            "merge": p.promotion.tip.to_string(),
            "subject": p.promotion.subject,
            "mainline_parent": p.promotion.first_parent.to_string(),
            "pr": p.promotion.merge.as_ref().map(|m| m.pr),
        }),
        pr_base: s.git.prod_branch.clone(),
        pr_url: p
            .existing
            .as_ref()
            .map(|pr| pr.html_url.clone())
            .or(compare),
        local_branch: None,
        reason: req.reason.clone(),
        pr: p.client.as_ref().map(|_| match &p.existing {
            Some(pr) => pr_doc(&pr_title, Some(pr), "already_open"),
            None => pr_doc(&pr_title, None, "planned"),
        }),
        pr_title,
        plan,
        fleet,
    }
}

async fn open_pr(
    ctx: &Context,
    c: &Client,
    p: &Prepared,
    req: &RevertRequest,
    remote: &str,
    outcome: &mut RevertOutcome,
) -> Result<()> {
    let pushed = outcome.local_branch.is_some();
    let (pr, opened) = flows::open_revert_pr(
        c,
        ctx.settings(),
        &p.name,
        &p.branch.name,
        &p.promotion.tip.to_string(),
        p.promotion.merge.as_ref().map(|m| m.pr),
        req.reason.as_deref(),
    )
    .await
    .map_err(|e| match pushed {
        true => flows::pr_failed_after_push(e, "revert", &p.branch.name, remote),
        false => e,
    })?;
    let status = publish::report_pr(ctx, "revert", &pr, &opened);
    outcome.pr_url = Some(pr.html_url.clone());
    outcome.pr = Some(pr_doc(&outcome.pr_title, Some(&pr), status));
    Ok(())
}

async fn announce(
    ctx: &Context,
    p: &Prepared,
    remote: &Remote<'_>,
    req: &RevertRequest,
    outcome: &RevertOutcome,
) {
    let s = ctx.settings();
    let app = p
        .client
        .as_ref()
        .map(|c| c.repo.name.clone())
        .or_else(|| links::github_repo(&s.github.repository, &remote.url).map(|g| g.name.clone()))
        .unwrap_or_else(|| "release".to_string());
    crate::slack::announce(
        ctx,
        crate::slack::Event::RollbackStarted {
            app,
            env: s.production_env(),
            rc: p.name.parse().ok(),
            reason: req.reason.clone(),
            url: outcome.pr.as_ref().and_then(|pr| pr.url.clone()),
        },
    )
    .await;
}
