//! `changelog`: Print the changelog of base..source in the promotion PR's Markdown.

use anyhow::Result;
use serde::Serialize;

use crate::changelog::{self, Changelog};
use crate::context::Context;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Each commit of BASE..SOURCE contributes its lines of the form

    changelog: CATEGORY, SUBCATEGORY, CHANGE

(optionally prefixed by `* `, as in squash bodies), separated from the subject by a blank line.
Categories: User-Facing Improvements, Bug Fixes, Internal, Upcoming Features (case and small
typos forgiven). `[skip changelog]` anywhere in a message leaves the commit out. Dependabot
commits and `Revert ` commits get their lines automatically.

Commits without a valid line are warned about on stderr and left out of the Markdown.
Exit 3 when no commit has a valid line and none is skipped, with --strict when any commit is
invalid, and for an unknown revision or a directory outside a repository.")]
pub struct Args {
    /// Start of the range (excluded) [default: <git.remote>/<git.prod_branch>, origin/stages/prod].
    #[arg(long, short = 'b', value_name = "REF")]
    pub base: Option<String>,

    /// End of the range (included).
    #[arg(long, short = 's', value_name = "REF", default_value = "HEAD")]
    pub source: String,

    /// Append the invalid commits to the Markdown, under `## Invalid Changelog Entries`.
    #[arg(long)]
    pub include_invalid: bool,

    /// Fail (exit 3) when any commit has an invalid or missing changelog line, instead of warning.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Serialize)]
struct Doc<'a> {
    #[serde(flatten)]
    changelog: &'a Changelog,
    markdown: String,
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let settings = ctx.settings();
    let base = args
        .base
        .clone()
        .unwrap_or_else(|| changelog::default_base(settings));
    let repo = crate::git::log::open(ctx.repo_dir())?;
    let log = changelog::generate(&repo, &base, &args.source, settings)?;

    if args.include_invalid && !log.invalid.is_empty() && !ctx.out.is_json() {
        ctx.out.warn(format!(
            "{} {} no valid changelog line (listed under `{}`)",
            log.invalid.len(),
            if log.invalid.len() == 1 {
                "commit has"
            } else {
                "commits have"
            },
            changelog::render::INVALID_HEADING
        ));
    } else {
        for invalid in &log.invalid {
            ctx.out.warn(invalid.describe());
        }
    }
    log.check(args.strict)?;

    let markdown = if args.include_invalid {
        log.markdown_with_invalid()
    } else {
        log.markdown()
    };
    if ctx.out.is_json() {
        return ctx.out.json(
            "changelog",
            &Doc {
                changelog: &log,
                markdown,
            },
        );
    }
    if markdown.is_empty() {
        ctx.out.status(format!(
            "no changelog entries: {} of {} {} skipped with `[skip changelog]`",
            log.skipped.len(),
            log.commits,
            if log.commits == 1 {
                "commit"
            } else {
                "commits"
            }
        ));
    } else {
        ctx.out.data(markdown.trim_end_matches('\n'));
    }
    Ok(())
}
