//! `cut-rc`: cut the RC branch from what staging runs (or a patch branch from production, or
//! true up an RC branch with production) and push it, without touching the work tree. The step
//! itself is [`crate::release::cut`]; this module holds its arguments and its rendering.

use std::path::PathBuf;

use anyhow::Result;

use crate::context::Context;
use crate::error::usage;
use crate::outcome::Status;
use crate::output::key_values;
use crate::release::cut::{self, CutOutcome, CutRequest, Mode};
use crate::release::rc;
use crate::types::RcNumber;

pub use crate::release::cut::App;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Modes:
  cut-rc                         stages/rc-<date> at the commit staging runs (deploy.json git_sha)
  cut-rc --source REF            ... at REF instead (must be on origin/main)
  cut-rc --patch --cherry-pick A B
                                 stages/rc-<date>-patch<K> from origin/stages/prod with A, B picked
  cut-rc --true-up               \"ours\" merge of origin/stages/prod into origin/stages/rc-<date>

Nothing is checked out: branches are built in memory, pushed, verified on origin, and then
created locally tracking origin. The changelog body for the PR is written to a file.")]
pub struct Args {
    /// Which app's staging to read the deployed commit from.
    #[arg(value_enum, default_value_t = App::Idp)]
    pub app: App,

    /// Cut from this commit, branch or tag instead of what staging runs.
    #[arg(long, value_name = "REF", conflicts_with_all = ["staging_url", "patch", "true_up"])]
    pub source: Option<String>,

    /// Read deploy.json from this URL [default: the setting staging.idp or staging.pki].
    #[arg(long, value_name = "URL", conflicts_with_all = ["patch", "true_up"])]
    pub staging_url: Option<String>,

    /// The release date in the branch name [default: today in UTC].
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,

    /// The RC number for the promotion PR title (112, or 112.1 for a patch). Without it,
    /// --open-pr takes the next number after the highest published `RC N` release on GitHub
    /// (the next patch number with --patch).
    #[arg(long, value_name = "N")]
    pub rc: Option<RcNumber>,

    /// After pushing, open the promotion PR on GitHub: the RC branch into stages/prod, titled
    /// `Deploy RC N to Prod`, labelled `status - promotion`, the changelog as its body. An open
    /// PR for the branch is reported, not duplicated. Needs GITHUB_TOKEN (or GH_TOKEN).
    #[arg(long)]
    pub open_pr: bool,

    /// Patch release: a new stages/rc-<date>-patch<K> from origin/stages/prod with the
    /// --cherry-pick commits applied in order.
    #[arg(long, requires = "cherry_pick", conflicts_with = "true_up")]
    pub patch: bool,

    /// Commits to cherry-pick (with --patch), in order.
    #[arg(long, value_name = "SHA", num_args = 1.., requires = "patch")]
    pub cherry_pick: Vec<String>,

    /// Record an "ours" merge of origin/stages/prod into the RC branch of --date (its tree
    /// unchanged) and push it, so the promotion PR no longer conflicts after a patch release.
    #[arg(long)]
    pub true_up: bool,

    /// Where to write the changelog body for the PR [default: <git dir>/login-release/rc-changelog.md].
    #[arg(long, value_name = "PATH")]
    pub changelog_file: Option<PathBuf>,
}

impl Args {
    /// The step's request: the mode, and the date (today in UTC unless given).
    fn request(self, now: jiff::Timestamp) -> Result<CutRequest> {
        let mode = match (self.patch, self.true_up) {
            (true, _) => Mode::Patch,
            (_, true) => Mode::TrueUp,
            _ => Mode::Cut,
        };
        let date = match &self.date {
            Some(d) => rc::parse_date(d).map_err(|why| {
                usage(
                    format!("--date {why}"),
                    "give the release date as YYYY-MM-DD, e.g. --date 2026-11-20 (default: today in UTC)",
                )
            })?,
            None => rc::utc_date(now),
        };
        Ok(CutRequest {
            mode,
            app: self.app,
            source: self.source,
            staging_url: self.staging_url,
            date,
            rc: self.rc,
            open_pr: self.open_pr,
            cherry_pick: self.cherry_pick,
            changelog_file: self.changelog_file,
        })
    }
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let request = args.request(ctx.now())?;
    let outcome = cut::run(ctx, &request).await?;
    render(ctx, &outcome)
}

fn render(ctx: &Context, doc: &CutOutcome) -> Result<()> {
    if ctx.out.is_json() {
        return ctx.out.json("cut-rc", doc);
    }
    if doc.status == Status::Declined {
        return Ok(());
    }
    let pr_title = doc
        .pr_title
        .clone()
        .unwrap_or_else(|| "decided when the PR is opened (pass --rc N to set it now)".to_string());
    let mut rows = vec![
        ("branch", doc.branch.clone()),
        ("sha", doc.sha.clone()),
        ("pr base", doc.base.clone()),
        ("pr title", pr_title),
    ];
    if let Some(url) = &doc.pr_url {
        rows.push(("pr url", url.clone()));
    }
    if let Some(pr) = &doc.pr {
        let what = match (pr.status, pr.number) {
            ("created", Some(n)) => format!("#{n} opened, labelled `{}`", pr.label),
            ("already_open", Some(n)) => format!("#{n} was already open"),
            _ => format!("to open (RC {} {})", pr.rc, pr.rc_from),
        };
        rows.push(("pr", what));
    }
    let written = if doc.changelog_written {
        ""
    } else {
        " (not written: dry run)"
    };
    rows.push(("changelog", format!("{}{written}", doc.changelog_file)));
    ctx.out.data(key_values(&rows));
    Ok(())
}
