//! `rollback`: push `revert-rc-<N>`, the revert of the promotion merge at the tip of origin's
//! stages/prod against its first parent, and say which PR to open. With `--fleet ENV`, first the
//! runbook's quick rollback: `scale-remove-new-instances ENV ALL` (cancel a recycle in progress,
//! take the new instances out of service).

use anyhow::Result;
use git2::Oid;
use serde::Serialize;
use serde_json::json;

use crate::context::Context;
use crate::error::{preflight, Findings};
use crate::git::push::{publish_branch, LocalBranch};
use crate::git::remote::Remote;
use crate::git::repo::Repo;
use crate::github::{self, flows, rules, Client, PrOutcome, PullRequest};
use crate::output::key_values;
use crate::plan::{Plan, Step};
use crate::recycle::run::{rollback_fleet, ScaleRemoveOutcome, Status};
use crate::release::{links, rc};
use crate::types::{short, RcNumber};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
The tip of origin's stages/prod must be the promotion merge (two parents, normally `Merge pull
request #N from 18F/stages/rc-YYYY-MM-DD`). The revert is built in memory on top of it (like
`git revert -m 1`), pushed as revert-rc-<N>, verified on origin, and created locally tracking it.
Nothing is checked out. Then open the PR it prints (base stages/prod), merge it, and recycle.")]
pub struct Args {
    /// The RC number being rolled back; names the branch revert-rc-<N> [default: the RC branch
    /// date from the merge message, e.g. revert-rc-2026-11-20].
    #[arg(long, value_name = "N")]
    pub rc: Option<RcNumber>,

    /// Open the revert PR on GitHub: revert-rc-<N> into stages/prod, titled `Revert RC N`, its
    /// body naming the reverted merge, the promotion PR and --reason. Without --rc, N is read
    /// from the promotion PR's title. Needs GITHUB_TOKEN (or GH_TOKEN).
    #[arg(long)]
    pub open_pr: bool,

    /// Why production is rolled back: written into the revert PR's body and the Slack
    /// announcement.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// Also take the new instances of ENV out of service, as `scale-remove-new-instances ENV
    /// ALL` does (cancelling a recycle in progress), with its own plan and confirmation. The git
    /// checks run first (a failing one changes nothing); the fleet goes before the push. Needs AWS
    /// credentials (aws-vault exec prod-power --).
    #[arg(long, value_name = "ENV", add = clap_complete::ArgValueCandidates::new(crate::complete::environments))]
    pub fleet: Option<crate::types::Env>,
}

#[derive(Serialize)]
struct Doc {
    status: &'static str,
    branch: String,
    sha: String,
    reverts: serde_json::Value,
    pr_base: String,
    pr_title: String,
    pr_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    local_branch: Option<LocalBranch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// The revert PR (with --open-pr).
    #[serde(skip_serializing_if = "Option::is_none")]
    pr: Option<PrDoc>,
    plan: Plan,
    /// The fleet half (with --fleet).
    #[serde(skip_serializing_if = "Option::is_none")]
    fleet: Option<ScaleRemoveOutcome>,
}

/// The revert PR in the JSON document.
#[derive(Serialize)]
struct PrDoc {
    /// `planned` (dry run), `created` or `already_open`.
    status: &'static str,
    title: String,
    number: Option<u64>,
    url: Option<String>,
}

fn pr_doc(title: &str, pr: Option<&PullRequest>, status: &'static str) -> PrDoc {
    PrDoc {
        status,
        title: pr.map_or_else(|| title.to_string(), |p| p.title.clone()),
        number: pr.map(|p| p.number),
        url: pr.map(|p| p.html_url.clone()),
    }
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

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let s = ctx.settings();
    let repo = Repo::open(ctx.repo_dir())?;
    let remote = Remote::new(&repo, &s.git.remote, s.git.fetch_with_cli)?;
    remote.fetch_reporting(&ctx.out)?;

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
    match &merge {
        Some(m) if m.rc_suffix.is_some() => {}
        _ => ctx.out.warn(format!(
            "the tip of {prod_name} is \"{subject}\", which does not look like a promotion merge (Merge pull request #N from OWNER/{}DATE); reverting it anyway",
            s.git.rc_branch_prefix
        )),
    }
    let client = if args.open_pr {
        let c = github::connect(ctx)?;
        c.check_repo().await?;
        Some(c)
    } else {
        None
    };
    let rc_from_pr = match (&client, &args.rc, merge.as_ref().map(|m| m.pr)) {
        (Some(c), None, Some(n)) => rc_of_promotion(ctx, c, n).await,
        _ => None,
    };
    let name = match (
        args.rc.or(rc_from_pr),
        merge.as_ref().and_then(|m| m.rc_suffix.clone()),
    ) {
        (Some(n), _) => n.to_string(),
        (None, Some(suffix)) => suffix,
        (None, None) => {
            return Err(preflight(
                format!("cannot name the revert branch: \"{subject}\" names no RC branch"),
                "pass the RC number: --rc N (the branch is revert-rc-N)",
            ))
        }
    };
    let branch = rc::revert_branch(&name);

    let mut findings = Findings::new();
    let first_parent_tree = repo.commit(first_parent)?.tree_id();
    let is_our_revert = |oid: Oid| -> bool {
        repo.commit(oid).is_ok_and(|c| {
            c.parent_count() == 1
                && c.parent_id(0).ok() == Some(tip)
                && c.tree_id() == first_parent_tree
        })
    };
    let remote_old = repo.remote_branch(&remote.name, &branch);
    let local = repo.local_branch(&branch);
    let mut already = None;
    match remote_old {
        Some(r) if is_our_revert(r) => already = Some(r),
        Some(r) => findings.add(
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
        ),
        None => {}
    }
    if let Some(l) = local {
        if Some(l) != already && !is_our_revert(l) {
            findings.add(
                format!("a local branch {branch} already exists (at {})", short(l)),
                format!("pass --rc N for another name, or delete it: git branch -D {branch}"),
            );
        }
    }
    let committer = match repo.identity(ctx.now()) {
        Ok(c) => Some(c),
        Err(e) => {
            let r = crate::error::report(&e);
            findings.add(r.message, r.hint.unwrap_or_default());
            None
        }
    };
    findings.into_result()?;

    // A local revert that never reached origin (an earlier push failed) is pushed as it is.
    let resume = local.filter(|l| remote_old.is_none() && is_our_revert(*l));
    let target = match already.or(resume) {
        Some(r) => r,
        None => {
            let committer = committer.expect("checked above");
            match repo.revert_merge(tip, 1, tip, &committer)? {
                Ok(oid) => oid,
                Err(c) => {
                    return Err(preflight(
                        format!("reverting {} conflicts in {}", short(tip), c.paths.join(", ")),
                        format!("revert it by hand: git switch -c {branch} {prod_name} && git revert -m 1 {tip}"),
                    ))
                }
            }
        }
    };

    let existing = match &client {
        Some(c) => c.open_pr_for_head(&branch).await?,
        None => None,
    };
    let github = links::github_repo(&s.github.repository, &remote.url);
    let pr_title = flows::revert_title(&name);
    let pr_url = github
        .as_ref()
        .map(|g| g.compare_url(&s.git.prod_branch, &branch));
    let mut plan = Plan::new(format!("Revert \"{subject}\" on {prod_name}"))
        .target("repository", repo.location().display().to_string())
        .target("remote", remote.describe());
    if already.is_none() {
        plan.push(
            Step::new(
                "push",
                format!("{} refs/heads/{branch}", remote.name),
                format!(
                    "new branch at {target}: revert of {} against its first parent {} (on top of {prod_name})",
                    short(tip),
                    short(first_parent)
                ),
            )
            .params(json!({"remote": remote.name, "ref": format!("refs/heads/{branch}"), "new": target.to_string()})),
        );
        plan.push(Step::new(
            "branch",
            branch.clone(),
            format!("create locally, tracking {}/{branch}", remote.name),
        ));
    }
    match (&client, &existing) {
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
                    short(tip),
                    merge
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
    if client.is_some() {
        plan.note(
            "then merge the revert PR (admins may bypass CI when urgent) and recycle production",
        );
    } else {
        plan.note(format!(
            "then open a PR: base {} <- head {branch}, \"{pr_title}\"; merge it (admins may bypass CI when urgent) and recycle production",
            s.git.prod_branch
        ));
    }
    match &args.fleet {
        Some(env) => plan.note(format!(
            "the fleet half (scale-remove-new-instances {env} ALL) has its own plan and confirmation, before the push"
        )),
        None => plan.note(format!(
            "the fleet is not touched: to take the new instances out of service now, add --fleet {env} (or run scale-remove-new-instances {env} ALL)",
            env = s.production_env()
        )),
    }
    plan.note("the working tree and the checked-out branch are not touched");

    // Every git check has passed: now the quick rollback, which relieves production in minutes
    // (the revert PR takes longer). It has its own plan and confirmation.
    let fleet = match &args.fleet {
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
    let after_fleet = |e: anyhow::Error| {
        if !fleet_applied {
            return e;
        }
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
    };
    let mut doc = Doc {
        status: "applied",
        branch: branch.clone(),
        sha: target.to_string(),
        reverts: json!({
            "merge": tip.to_string(),
            "subject": subject,
            "mainline_parent": first_parent.to_string(),
            "pr": merge.as_ref().map(|m| m.pr),
        }),
        pr_base: s.git.prod_branch.clone(),
        pr_title: pr_title.clone(),
        pr_url,
        local_branch: None,
        reason: args.reason.clone(),
        pr: client.as_ref().map(|_| match &existing {
            Some(pr) => pr_doc(&pr_title, Some(pr), "already_open"),
            None => pr_doc(&pr_title, None, "planned"),
        }),
        plan: plan.clone(),
        fleet,
    };
    if let Some(pr) = &existing {
        doc.pr_url = Some(pr.html_url.clone());
    }
    let pr_to_open = client.is_some() && existing.is_none();

    if already.is_some() && !pr_to_open {
        ctx.out.plan(&plan);
        ctx.out.success(format!(
            "{}/{branch} already holds the revert of {}: nothing to push",
            remote.name,
            short(tip)
        ));
        doc.status = "already_done";
        if let Some(pr) = &existing {
            ctx.out
                .success(format!("the revert PR is already open: {}", pr.html_url));
        }
        return finish(ctx, &doc);
    }
    if already.is_some() {
        ctx.out.success(format!(
            "{}/{branch} already holds the revert of {}: nothing to push; the revert PR is still to open",
            remote.name,
            short(tip)
        ));
    }
    if let Some(status) = ctx.confirm(&plan).map_err(after_fleet)?.stopped() {
        doc.status = status;
        return finish(ctx, &doc);
    }
    if already.is_none() {
        let local = publish_branch(&remote, &branch, target, &s.git.rc_branch_prefix)
            .map_err(after_fleet)?;
        ctx.out.success(format!(
            "pushed {branch} to {} at {target} (verified)",
            remote.name
        ));
        if let LocalBranch::LeftBehind { reason } = &local {
            ctx.out
                .warn(format!("local branch {branch} left as it was: {reason}"));
        }
        doc.local_branch = Some(local);
    }
    if let Some(c) = &client {
        let opened = flows::open_revert_pr(
            c,
            s,
            &name,
            &branch,
            &tip.to_string(),
            merge.as_ref().map(|m| m.pr),
            args.reason.as_deref(),
        )
        .await;
        let (pr, outcome) = match opened {
            Ok(done) => done,
            Err(e) if already.is_some() => return Err(e),
            Err(e) => {
                return Err(flows::pr_failed_after_push(
                    e,
                    "revert",
                    &branch,
                    &remote.name,
                ))
            }
        };
        let status = match outcome {
            PrOutcome::Created => {
                ctx.out.success(format!(
                    "opened the revert PR \"{}\": {}",
                    pr.title, pr.html_url
                ));
                "created"
            }
            PrOutcome::AlreadyOpen => {
                ctx.out
                    .success(format!("the revert PR is already open: {}", pr.html_url));
                "already_open"
            }
        };
        doc.pr_url = Some(pr.html_url.clone());
        doc.pr = Some(pr_doc(&pr_title, Some(&pr), status));
    }
    ctx.out
        .status(format!("reminder: {}", rules::RETROSPECTIVE_REMINDER));
    crate::slack::announce(
        ctx,
        crate::slack::Event::RollbackStarted {
            app: client
                .as_ref()
                .map(|c| c.repo.name.clone())
                .or_else(|| github.as_ref().map(|g| g.name.clone()))
                .unwrap_or_else(|| "release".to_string()),
            env: s.production_env(),
            rc: name.parse().ok(),
            reason: args.reason.clone(),
            url: doc.pr.as_ref().and_then(|p| p.url.clone()),
        },
    )
    .await;
    finish(ctx, &doc)
}

fn finish(ctx: &Context, doc: &Doc) -> Result<()> {
    if ctx.out.is_json() {
        return ctx.out.json("rollback", doc);
    }
    if doc.status == "declined" {
        return Ok(());
    }
    let mut rows = vec![
        ("branch", doc.branch.clone()),
        ("sha", doc.sha.clone()),
        (
            "reverts",
            format!(
                "{} \"{}\"",
                doc.reverts["merge"].as_str().unwrap_or_default(),
                doc.reverts["subject"].as_str().unwrap_or_default()
            ),
        ),
        ("pr base", doc.pr_base.clone()),
        ("pr title", doc.pr_title.clone()),
    ];
    if let Some(url) = &doc.pr_url {
        rows.push(("pr url", url.clone()));
    }
    if let Some(pr) = &doc.pr {
        let what = match (pr.status, pr.number) {
            ("created", Some(n)) => format!("#{n} opened"),
            ("already_open", Some(n)) => format!("#{n} was already open"),
            _ => "to open".to_string(),
        };
        rows.push(("pr", what));
    }
    ctx.out.data(key_values(&rows));
    Ok(())
}
