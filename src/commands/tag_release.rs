//! `tag-release`: create, sign, verify and push the release tag on origin's stages/prod.

use anyhow::Result;
use git2::{ObjectType, Oid};
use serde::Serialize;
use serde_json::json;

use crate::context::Context;
use crate::error::{failed, report, AppError, Findings, Kind};
use crate::git::push::{push, verify, RefUpdate};
use crate::git::remote::Remote;
use crate::git::repo::Repo;
use crate::git::sign::{self, SigningKey};
use crate::github::{self, flows, rules, Client, MergeKind, Release};
use crate::output::key_values;
use crate::plan::{Plan, Step};
use crate::release::{links, rc};
use crate::types::{short, RcNumber};

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

#[derive(Serialize)]
struct Doc {
    status: &'static str,
    tag: String,
    commit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag_object: Option<String>,
    signed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_key: Option<serde_json::Value>,
    release_title: Option<String>,
    release_url: Option<String>,
    /// The GitHub release (with --github-release).
    #[serde(skip_serializing_if = "Option::is_none")]
    github_release: Option<ReleaseDoc>,
    plan: Plan,
}

/// The GitHub release in the JSON document.
#[derive(Serialize, Clone)]
struct ReleaseDoc {
    /// `planned` (dry run), `created` or `already_published`.
    status: &'static str,
    title: String,
    rc: String,
    tag: String,
    url: Option<String>,
    pr: u64,
    pr_url: String,
    merge: MergeKind,
}

/// What --github-release found before anything changed.
struct GithubRelease {
    client: Client,
    found: flows::ReleasePr,
    title: String,
    /// A release of that title for the tag already at production's tip.
    existing: Option<Release>,
}

impl GithubRelease {
    fn doc(&self, status: &'static str, tag: &str, url: Option<String>) -> ReleaseDoc {
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
async fn github_preflight(
    ctx: &Context,
    args: &Args,
    prod: Option<Oid>,
    tagged: Option<&str>,
    prod_name: &str,
) -> Result<GithubRelease> {
    let s = ctx.settings();
    let client = github::connect(ctx)?;
    client.check_repo().await?;
    let found =
        flows::release_pr(&client, s, args.pr.as_deref(), ctx.assume_yes(), &ctx.out).await?;
    if let Some(n) = args.rc.filter(|n| *n != found.rc) {
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
                &sha[..sha.len().min(9)]
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
fn after_push(e: anyhow::Error, tag: &str, remote: &str, pr: u64) -> anyhow::Error {
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
async fn publish(ctx: &Context, g: &GithubRelease, tag: &str) -> Result<ReleaseDoc> {
    let body = g.found.pr.body.clone().unwrap_or_default();
    let rel = g.client.create_release(tag, &g.title, &body).await?;
    ctx.out.success(format!(
        "published the GitHub release {} for {tag} (notes from #{}, marked latest): {}",
        g.title, g.found.pr.number, rel.html_url
    ));
    Ok(g.doc("created", tag, Some(rel.html_url)))
}

/// The name the announcement gives the app: the repository's name.
fn app_name(gh: Option<&GithubRelease>, links: Option<&links::GithubRepo>) -> String {
    gh.map(|g| g.client.repo.name.clone())
        .or_else(|| links.map(|l| l.name.clone()))
        .unwrap_or_else(|| "release".to_string())
}

/// Turns an error from a check into a finding (message and hint), keeping everything else fatal.
fn add_finding(findings: &mut Findings, err: anyhow::Error) -> Result<()> {
    let is_preflight = err
        .chain()
        .find_map(|e| e.downcast_ref::<AppError>())
        .is_some_and(|a| a.kind == Kind::Preflight);
    if !is_preflight {
        return Err(err);
    }
    let r = report(&err);
    findings.add(r.message, r.hint.unwrap_or_default());
    Ok(())
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let s = ctx.settings();
    let repo = Repo::open(ctx.repo_dir())?;
    let remote = Remote::new(&repo, &s.git.remote, s.git.fetch_with_cli)?;
    remote.fetch_reporting(&ctx.out)?;

    let now = ctx.now();
    let tag = rc::tag_name(now);
    let refname = format!("refs/tags/{tag}");
    let prod_name = format!("{}/{}", remote.name, s.git.prod_branch);
    let mut findings = Findings::new();

    let prod = repo.remote_branch(&remote.name, &s.git.prod_branch);
    if prod.is_none() {
        findings.add(
            format!("{prod_name} does not exist: there is nothing to tag"),
            format!(
                "push the production branch to {}, or set git.prod_branch",
                remote.name
            ),
        );
    }
    if let (Some(p), Some(local)) = (prod, repo.local_branch(&s.git.prod_branch)) {
        if local != p {
            let (ahead, behind) = repo.ahead_behind(local, p)?;
            ctx.out.warn(format!(
                "your local {} is at {} ({ahead} ahead, {behind} behind {prod_name}); tagging {prod_name} at {}",
                s.git.prod_branch,
                short(local),
                short(p)
            ));
        }
    }

    if let Some(existing) = repo.ref_target(&refname) {
        findings.add(
            format!("tag {tag} already exists locally (at {})", short(existing)),
            format!("tag names are the UTC time: wait a second and run again, or delete the stale tag: git tag -d {tag}"),
        );
    }
    let remote_tags = remote.ls_remote("refs/tags/")?;
    if let Some((_, oid)) = remote_tags.iter().find(|(n, _)| *n == refname) {
        findings.add(
            format!(
                "tag {tag} already exists on {} (at {})",
                remote.name,
                short(*oid)
            ),
            "tag names are the UTC time: wait a second and run again",
        );
    }
    // A release tag that already points at production's tip means the work is done.
    let already = prod.and_then(|p| release_tag_at(&remote_tags, p));

    let key = if args.no_sign || already.is_some() {
        None
    } else {
        match sign::find_signing_key(repo.config_string("user.signingkey").as_deref()) {
            Ok(k) => Some(k),
            Err(e) => {
                add_finding(&mut findings, e)?;
                None
            }
        }
    };
    if let Err(e) = repo.identity(now) {
        add_finding(&mut findings, e)?;
    }
    let gh = if args.github_release {
        match github_preflight(ctx, &args, prod, already.as_deref(), &prod_name).await {
            Ok(g) => Some(g),
            Err(e) => {
                add_finding(&mut findings, e)?;
                None
            }
        }
    } else {
        None
    };
    if args.no_sign && !ctx.assume_yes() && already.is_none() {
        findings.add(
            "--no-sign creates an unsigned release tag, and release tags are production's",
            "sign it (drop --no-sign), or confirm the unsigned tag with --no-sign --yes",
        );
    }
    findings.into_result()?;
    let prod = prod.expect("checked above");

    let release_title = match &gh {
        Some(g) => Some(g.title.clone()),
        None => args.rc.map(|n| s.release_title(&n.to_string())),
    };
    let rc = gh.as_ref().map(|g| g.found.rc).or(args.rc);
    let github = links::github_repo(&s.github.repository, &remote.url);

    let production_env = s.production_env();
    let mut plan = Plan::new(format!("Tag {prod_name} as {tag}"))
        .target("repository", repo.location().display().to_string())
        .target("remote", remote.describe())
        .env(production_env.clone());
    let release_step = |plan: &mut Plan, g: &GithubRelease, tag: &str| {
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
    };

    if let Some(existing) = already {
        let release_to_publish = gh.as_ref().filter(|g| g.existing.is_none());
        let mut doc = Doc {
            status: "already_done",
            release_url: github.as_ref().map(|g| g.new_release_url(&existing)),
            tag: existing.clone(),
            commit: prod.to_string(),
            tag_object: None,
            signed: false,
            signing_key: None,
            release_title,
            github_release: None,
            plan: plan.clone(),
        };
        let Some(g) = release_to_publish else {
            ctx.out.success(format!(
                "{prod_name} ({}) is already tagged {existing} on {}: nothing to do",
                short(prod),
                remote.name
            ));
            if let Some(r) = gh.as_ref().and_then(|g| g.existing.as_ref()) {
                ctx.out.success(format!(
                    "{} is already published: {}",
                    r.name.as_deref().unwrap_or_default(),
                    r.html_url
                ));
                doc.release_url = Some(r.html_url.clone());
                doc.github_release = gh
                    .as_ref()
                    .map(|g| g.doc("already_published", &existing, Some(r.html_url.clone())));
            }
            return finish(ctx, &doc);
        };
        ctx.out.success(format!(
            "{prod_name} ({}) is already tagged {existing} on {}; its GitHub release is still to publish",
            short(prod),
            remote.name
        ));
        release_step(&mut plan, g, &existing);
        doc.plan = plan.clone();
        doc.github_release = Some(g.doc("planned", &existing, None));
        if let Some(status) = ctx.confirm(&plan)?.stopped() {
            doc.status = status;
            return finish(ctx, &doc);
        }
        let published = publish(ctx, g, &existing).await?;
        doc.release_url = published.url.clone();
        doc.github_release = Some(published);
        crate::slack::announce(
            ctx,
            crate::slack::Event::Released {
                app: app_name(Some(g), github.as_ref()),
                env: production_env,
                rc,
                tag: existing,
                url: doc.release_url.clone(),
            },
        )
        .await;
        return finish(ctx, &doc);
    }

    let message = s.tag_message(&tag);
    let subject = repo.subject(prod);
    plan.push(
        Step::new(
            "tag",
            refname.clone(),
            format!(
                "annotated, {}, on {} \"{subject}\", message \"{message}\"",
                match &key {
                    Some(k) => format!("signed by {}", k.describe()),
                    None => "UNSIGNED".to_string(),
                },
                short(prod)
            ),
        )
        .params(json!({"tag": tag, "object": prod.to_string(), "message": message})),
    );
    if let Some(k) = &key {
        plan.push(Step::new(
            "verify",
            refname.clone(),
            format!("signature by {}", k.fingerprint),
        ));
    }
    plan.push(Step::new(
        "push",
        format!("{} {refname}", remote.name),
        "new tag (deleted locally again if the push fails)",
    ));
    if let Some(g) = &gh {
        release_step(&mut plan, g, &tag);
    }
    if args.no_sign {
        ctx.out
            .warn("--no-sign: the release tag will not be signed");
        plan.note("the tag is not signed (--no-sign)");
    }

    let mut doc = Doc {
        status: "applied",
        tag: tag.clone(),
        commit: prod.to_string(),
        tag_object: None,
        signed: key.is_some(),
        signing_key: key
            .as_ref()
            .map(|k| json!({"fingerprint": k.fingerprint, "user_id": k.user_id})),
        release_title,
        release_url: github.as_ref().map(|g| g.new_release_url(&tag)),
        github_release: gh.as_ref().map(|g| g.doc("planned", &tag, None)),
        plan: plan.clone(),
    };
    if let Some(status) = ctx.confirm(&plan)?.stopped() {
        doc.status = status;
        return finish(ctx, &doc);
    }

    let tag_oid = create_tag(&repo, &tag, prod, &message, key.as_ref(), now)?;
    if key.is_some() {
        ctx.out
            .success(format!("signed {tag} and verified the signature"));
    }
    let undo_tag = |e: anyhow::Error| -> anyhow::Error {
        let r = report(&e);
        match repo.delete_ref(&refname) {
            Ok(()) => failed(
                r.message,
                format!(
                    "the local tag {tag} was deleted, so running again starts clean; {}",
                    r.hint.unwrap_or_default()
                ),
            ),
            Err(d) => AppError::new(
                Kind::Partial,
                format!(
                    "{}; and deleting the local tag {tag} failed too: {d:#}",
                    r.message
                ),
            )
            .with_hint(format!(
                "delete it by hand before running again: git tag -d {tag}"
            ))
            .into(),
        }
    };
    push(
        &remote,
        &[RefUpdate::new(tag_oid, refname.clone())],
        &s.git.rc_branch_prefix,
    )
    .map_err(undo_tag)?;
    verify(
        &remote,
        &[(refname.clone(), tag_oid)],
        &format!(
            "check with `git ls-remote {} {refname}`; push it again with `git push {} {refname}`",
            remote.name, remote.name
        ),
    )?;
    ctx.out
        .success(format!("pushed {tag} to {} (verified)", remote.name));
    doc.tag_object = Some(tag_oid.to_string());
    if let Some(g) = &gh {
        let published = publish(ctx, g, &tag)
            .await
            .map_err(|e| after_push(e, &tag, &remote.name, g.found.pr.number))?;
        doc.release_url = published.url.clone();
        doc.github_release = Some(published);
    }
    crate::slack::announce(
        ctx,
        crate::slack::Event::Released {
            app: app_name(gh.as_ref(), github.as_ref()),
            env: production_env,
            rc,
            tag: tag.clone(),
            url: doc.release_url.clone().filter(|_| gh.is_some()),
        },
    )
    .await;
    finish(ctx, &doc)
}

/// Builds the tag object (signed and verified when a key is given) and creates its ref.
fn create_tag(
    repo: &Repo,
    tag: &str,
    target: Oid,
    message: &str,
    key: Option<&SigningKey>,
    now: jiff::Timestamp,
) -> Result<Oid> {
    let tagger = repo.identity(now)?;
    let payload = sign::tag_payload(target, ObjectType::Commit, tag, &tagger, message);
    let signature = match key {
        Some(k) => {
            let sig = sign::sign(k, payload.as_bytes())?;
            let fpr = sign::verify(payload.as_bytes(), sig.as_bytes())?;
            if !k.fingerprints.iter().any(|f| f.eq_ignore_ascii_case(&fpr)) && !fpr.is_empty() {
                return Err(failed(
                    format!("the signature was made by {fpr}, not by {}", k.fingerprint),
                    "check gpg.conf for a default-key or local-user that overrides the choice",
                ));
            }
            Some(sig)
        }
        None => None,
    };
    let oid = sign::write_tag_object(repo, &payload, signature.as_deref())?;
    if key.is_some() {
        // Read the stored object back and verify it as `git tag -v` would.
        sign::verify_tag_object(repo, oid)?;
    }
    repo.git
        .reference(
            &format!("refs/tags/{tag}"),
            oid,
            false,
            "login-release: tag-release",
        )
        .map_err(|e| {
            failed(
                format!("creating tag {tag}: {}", e.message()),
                format!(
                    "if it exists, delete it (git tag -d {tag}) or wait a second and run again"
                ),
            )
        })?;
    Ok(oid)
}

/// A release-shaped tag on the remote whose commit is `commit` (annotated tags are listed with
/// their peeled `^{}` entry).
fn release_tag_at(tags: &[(String, Oid)], commit: Oid) -> Option<String> {
    let mut found: Vec<String> = Vec::new();
    for (name, oid) in tags {
        let Some(short_name) = name.strip_prefix("refs/tags/") else {
            continue;
        };
        let (base, peeled) = match short_name.strip_suffix("^{}") {
            Some(b) => (b, true),
            None => (short_name, false),
        };
        if !rc::is_tag_name(base) || *oid != commit {
            continue;
        }
        // A lightweight tag points at the commit itself; an annotated one through `^{}`.
        let has_peeled = tags
            .iter()
            .any(|(n, _)| *n == format!("refs/tags/{base}^{{}}"));
        if peeled || !has_peeled {
            found.push(base.to_string());
        }
    }
    found.sort();
    found.pop()
}

fn finish(ctx: &Context, doc: &Doc) -> Result<()> {
    if ctx.out.is_json() {
        return ctx.out.json("tag-release", doc);
    }
    if doc.status == "declined" {
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
    } else if doc.status != "already_done" {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_release_tag_of_a_commit() {
        let c = Oid::from_str("1111111111111111111111111111111111111111").unwrap();
        let t = Oid::from_str("2222222222222222222222222222222222222222").unwrap();
        let other = Oid::from_str("3333333333333333333333333333333333333333").unwrap();
        let tags = vec![
            ("refs/tags/2026-11-20T120000".to_string(), t),
            ("refs/tags/2026-11-20T120000^{}".to_string(), c),
            ("refs/tags/2026-11-19T120000".to_string(), other),
            ("refs/tags/v1".to_string(), c),
        ];
        assert_eq!(
            release_tag_at(&tags, c).as_deref(),
            Some("2026-11-20T120000")
        );
        assert_eq!(
            release_tag_at(&tags, t),
            None,
            "the tag object is not the commit"
        );
        let light = vec![("refs/tags/2026-11-21T000000".to_string(), c)];
        assert_eq!(
            release_tag_at(&light, c).as_deref(),
            Some("2026-11-21T000000")
        );
        assert_eq!(release_tag_at(&light, other), None);
    }
}
