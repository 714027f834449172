//! The one publish step of the git half (cut-rc, rollback): the plan's push and branch steps,
//! the already-done check, the confirmation, the push, the read-back on origin and the local
//! tracking branch, with what was left behind reported.

use anyhow::Result;
use git2::Oid;
use serde_json::json;

use crate::context::Context;
use crate::git::push::{publish_branch, LocalBranch};
use crate::git::remote::Remote;
use crate::outcome::Status;
use crate::plan::{Plan, Step};
use crate::types::short;

/// A branch to publish on origin, as prepared before anything changed.
#[derive(Debug, Clone)]
pub struct Branch {
    pub name: String,
    /// The commit the branch is to point at.
    pub target: Oid,
    /// What origin has at the branch now.
    pub remote_old: Option<Oid>,
    /// Origin already has the branch at `target` (and the local branch agrees).
    pub on_origin: bool,
    /// The plan's words for the push (what the commit is).
    pub push_detail: String,
}

/// How the publish step ended.
#[derive(Debug, Clone)]
pub struct Published {
    pub status: Status,
    /// What happened to the local branch, when the branch was pushed.
    pub local: Option<LocalBranch>,
}

/// Adds the push and local-branch steps to `plan` (nothing when origin already has it).
pub fn plan_steps(plan: &mut Plan, remote: &Remote<'_>, b: &Branch) {
    if b.on_origin {
        return;
    }
    plan.push(
        Step::new(
            "push",
            format!("{} refs/heads/{}", remote.name, b.name),
            b.push_detail.clone(),
        )
        .params(json!({
            "remote": remote.name,
            "ref": format!("refs/heads/{}", b.name),
            "old": b.remote_old.map(|o| o.to_string()),
            "new": b.target.to_string(),
        })),
    );
    let local_now = remote.repo.local_branch(&b.name);
    plan.push(Step::new(
        "branch",
        b.name.clone(),
        local_detail(local_now, b.target, &remote.name, &b.name),
    ));
}

/// What the plan says will happen to the local branch.
fn local_detail(local_now: Option<Oid>, target: Oid, remote: &str, branch: &str) -> String {
    match local_now {
        None => format!("create at {}, tracking {remote}/{branch}", short(target)),
        Some(l) if l == target => {
            format!("already at {}; set to track {remote}/{branch}", short(l))
        }
        Some(l) => format!(
            "move {} -> {} unless it is checked out, tracking {remote}/{branch}",
            short(l),
            short(target)
        ),
    }
}

/// The gate and the push. `already` is the sentence that says origin already has the work
/// ("origin/stages/rc-... is already at abc1234: nothing to push"); `more_to_do` says whether a later part (a PR to
/// open) still needs the confirmation when the branch itself is done.
pub fn publish(
    ctx: &Context,
    remote: &Remote<'_>,
    plan: &Plan,
    b: &Branch,
    already: &str,
    more_to_do: bool,
) -> Result<Published> {
    if b.on_origin && !more_to_do {
        ctx.out.plan(plan);
        ctx.out.success(already);
        return Ok(Published {
            status: Status::AlreadyDone,
            local: None,
        });
    }
    if b.on_origin {
        ctx.out
            .success(format!("{already}; the PR is not finished yet"));
    }
    if let Some(status) = Status::stopped(ctx.confirm(plan)?) {
        return Ok(Published {
            status,
            local: None,
        });
    }
    if b.on_origin {
        return Ok(Published {
            status: Status::Applied,
            local: None,
        });
    }
    let local = publish_branch(
        remote,
        &b.name,
        b.target,
        &ctx.settings().git.rc_branch_prefix,
    )?;
    ctx.out.success(format!(
        "pushed {} to {} at {} (verified on {})",
        b.name, remote.name, b.target, remote.name
    ));
    if let LocalBranch::LeftBehind { reason } = &local {
        ctx.out
            .warn(format!("local branch {} left as it was: {reason}", b.name));
    }
    Ok(Published {
        status: Status::Applied,
        local: Some(local),
    })
}

/// Says how opening the `kind` PR ("promotion", "revert") went, and returns the status the
/// outcome records for it (`created` or `already_open`).
pub fn report_pr(
    ctx: &Context,
    kind: &str,
    pr: &crate::github::PullRequest,
    opened: &crate::github::PrOutcome,
) -> &'static str {
    match opened {
        crate::github::PrOutcome::Created => {
            ctx.out.success(format!(
                "opened the {kind} PR \"{}\": {}",
                pr.title, pr.html_url
            ));
            "created"
        }
        crate::github::PrOutcome::AlreadyOpen => {
            ctx.out
                .success(format!("the {kind} PR is already open: {}", pr.html_url));
            "already_open"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(c: char) -> Oid {
        Oid::from_str(&c.to_string().repeat(40)).unwrap()
    }

    #[test]
    fn the_local_branch_step_says_what_happens_to_it() {
        let (a, b) = (oid('a'), oid('b'));
        assert_eq!(
            local_detail(None, a, "origin", "stages/rc-x"),
            "create at aaaaaaaaa, tracking origin/stages/rc-x"
        );
        assert_eq!(
            local_detail(Some(a), a, "origin", "stages/rc-x"),
            "already at aaaaaaaaa; set to track origin/stages/rc-x"
        );
        assert_eq!(
            local_detail(Some(a), b, "origin", "r"),
            "move aaaaaaaaa -> bbbbbbbbb unless it is checked out, tracking origin/r"
        );
    }
}
