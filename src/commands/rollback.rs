//! `rollback`: push `revert-rc-<N>`, the revert of the promotion merge at the tip of origin's
//! stages/prod against its first parent, and say which PR to open. With `--fleet ENV`, first the
//! runbook's quick rollback: `scale-remove-new-instances ENV ALL` (cancel a recycle in progress,
//! take the new instances out of service). The step is [`crate::release::revert`].

use anyhow::Result;

use crate::context::Context;
use crate::outcome::Status;
use crate::output::key_values;
use crate::release::revert::{self, RevertOutcome, RevertRequest};
use crate::types::RcNumber;

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

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let request = RevertRequest {
        rc: args.rc,
        open_pr: args.open_pr,
        reason: args.reason,
        fleet: args.fleet,
        squashed: None,
    };
    let outcome = revert::run(ctx, &request).await?;
    render(ctx, &outcome)
}

fn render(ctx: &Context, doc: &RevertOutcome) -> Result<()> {
    if ctx.out.is_json() {
        return ctx.out.json("rollback", doc);
    }
    if doc.status == Status::Declined {
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
