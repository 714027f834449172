//! `rollback` (git half): push `revert-rc-<N>`, the revert of the promotion merge at the tip of
//! origin's stages/prod against its first parent, and say which PR to open.
//
// fleet half: issue 3 (`--fleet ENV`: cancel the recycle and remove the new instances).

use anyhow::Result;
use git2::Oid;
use serde::Serialize;
use serde_json::json;

use crate::context::{Context, Go};
use crate::error::{preflight, Findings};
use crate::git::push::{publish_branch, LocalBranch};
use crate::git::remote::Remote;
use crate::git::repo::Repo;
use crate::output::key_values;
use crate::plan::{Plan, Step};
use crate::release::{links, rc};
use crate::types::{GitSha, RcNumber};

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
    plan: Plan,
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
    let name = match (&args.rc, merge.as_ref().and_then(|m| m.rc_suffix.clone())) {
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

    let github = links::github_repo(&s.github.repository, &remote.url);
    let pr_title = format!("Revert RC {name}");
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
    plan.note(format!(
        "then open a PR: base {} <- head {branch}, \"{pr_title}\"; merge it (admins may bypass CI when urgent) and recycle production",
        s.git.prod_branch
    ));
    plan.note(
        "the fleet is not touched: to take the new instances out of service now, run scale-remove-new-instances prod ALL",
    );
    plan.note("the working tree and the checked-out branch are not touched");

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
        pr_title,
        pr_url,
        local_branch: None,
        plan: plan.clone(),
    };

    if already.is_some() {
        ctx.out.plan(&plan);
        ctx.out.success(format!(
            "{}/{branch} already holds the revert of {}: nothing to push",
            remote.name,
            short(tip)
        ));
        doc.status = "already_done";
        return finish(ctx, &doc);
    }
    match ctx.confirm(&plan)? {
        Go::DryRun => {
            doc.status = "dry_run";
            return finish(ctx, &doc);
        }
        Go::Declined => {
            doc.status = "declined";
            return finish(ctx, &doc);
        }
        Go::Apply => {}
    }
    let local = publish_branch(&remote, &branch, target, &s.git.rc_branch_prefix)?;
    ctx.out.success(format!(
        "pushed {branch} to {} at {target} (verified)",
        remote.name
    ));
    if let LocalBranch::LeftBehind { reason } = &local {
        ctx.out
            .warn(format!("local branch {branch} left as it was: {reason}"));
    }
    doc.local_branch = Some(local);
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
    ctx.out.data(key_values(&rows));
    Ok(())
}

fn short(oid: Oid) -> String {
    GitSha::from(oid).short().to_string()
}
