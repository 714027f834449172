//! `tag-release`: create, sign, verify and push the release tag on origin's stages/prod, and
//! (with `--github-release`) publish its GitHub release. The step is [`crate::release::tag`].

use anyhow::Result;

use crate::context::Context;
use crate::outcome::Status;
use crate::output::key_values;
use crate::release::github_release::ReleaseRequest;
use crate::release::tag::{self, TagOutcome, TagRequest};
use crate::types::RcNumber;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
The tag is named by the UTC time (YYYY-MM-DDTHHMMSS), annotated with the message `<tag> release`
(setting release.tag_message), signed with git's user.signingkey or GnuPG's first usable secret
key, verified, and pushed. It tags origin's stages/prod after a fetch: nothing is checked out.
If the push fails the local tag is deleted, so running again starts clean.")]
pub struct Args {
    /// The RC number this release is, to print the release title (`RC N`).
    #[arg(long, value_name = "N")]
    pub rc: Option<RcNumber>,

    /// Create an unsigned annotated tag. Release tags are production's, so this also needs --yes.
    #[arg(long)]
    pub no_sign: bool,

    /// After pushing the tag, publish the GitHub release for it: titled `RC N` from the merged
    /// promotion PR's title, the PR's body as notes, marked latest. A squash-merged PR is
    /// refused unless --yes. Needs GITHUB_TOKEN (or GH_TOKEN).
    #[arg(long)]
    pub github_release: bool,

    /// The merged promotion PR to release, as a number or URL [default: the latest PR merged
    /// into stages/prod with the label `status - promotion`].
    #[arg(long, value_name = "N|URL", requires = "github_release")]
    pub pr: Option<String>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let request = TagRequest {
        rc: args.rc,
        no_sign: args.no_sign,
        github_release: args.github_release.then(|| ReleaseRequest {
            rc: args.rc,
            pr: args.pr.clone(),
        }),
    };
    let outcome = tag::run(ctx, &request).await?;
    render(ctx, &outcome)
}

fn render(ctx: &Context, doc: &TagOutcome) -> Result<()> {
    if ctx.out.is_json() {
        return ctx.out.json("tag-release", doc);
    }
    if doc.status == Status::Declined {
        return Ok(());
    }
    let mut rows = vec![("tag", doc.tag.clone()), ("commit", doc.commit.clone())];
    if let Some(k) = &doc.signing_key {
        rows.push((
            "signed by",
            format!(
                "{} ({})",
                k["user_id"].as_str().unwrap_or_default(),
                k["fingerprint"].as_str().unwrap_or_default()
            ),
        ));
    } else if doc.status != Status::AlreadyDone {
        rows.push(("signed by", "nobody (--no-sign)".to_string()));
    }
    if let Some(t) = &doc.release_title {
        rows.push(("release title", t.clone()));
    }
    if let Some(r) = &doc.github_release {
        let what = match r.status {
            "created" => "published",
            "already_published" => "was already published",
            _ => "to publish",
        };
        rows.push((
            "release",
            format!("{} {what} from #{} ({})", r.title, r.pr, r.pr_url),
        ));
    }
    rows.push((
        "release url",
        doc.release_url.clone().unwrap_or_else(|| {
            "unknown: origin is not a GitHub URL (set github.repository to owner/name)".to_string()
        }),
    ));
    ctx.out.data(key_values(&rows));
    Ok(())
}
