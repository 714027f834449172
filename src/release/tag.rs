//! The release tag as a library step: every preflight finding at once (production's tip, the
//! tag name free locally and on origin, a signing key, a git identity, the GitHub release's
//! preflight), the plan, the signed annotated tag written as an object and verified, the push and
//! its read-back, then the GitHub release and the announcement.

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
use crate::outcome::Status;
use crate::plan::{Plan, Step};
use crate::release::github_release::{self as ghr, GithubRelease, ReleaseDoc, ReleaseRequest};
use crate::release::{links, rc};
use crate::types::{short, RcNumber};

/// What to tag, as explicit inputs.
#[derive(Debug, Clone, Default)]
pub struct TagRequest {
    /// The RC number, for the release title.
    pub rc: Option<RcNumber>,
    /// An unsigned tag (needs the caller's explicit consent: `assume_yes`).
    pub no_sign: bool,
    /// Also publish the GitHub release of this merged promotion PR (None: no release).
    pub github_release: Option<ReleaseRequest>,
}

/// How the tag step ended: `tag-release`'s JSON document.
#[derive(Debug, Clone, Serialize)]
pub struct TagOutcome {
    pub status: Status,
    pub tag: String,
    pub commit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_object: Option<String>,
    pub signed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<serde_json::Value>,
    pub release_title: Option<String>,
    pub release_url: Option<String>,
    /// The GitHub release (with --github-release).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_release: Option<ReleaseDoc>,
    pub plan: Plan,
}

/// What the preflight found, before anything changed.
struct Prepared {
    tag: String,
    prod: Oid,
    /// A release tag already at production's tip: the tag is done.
    already: Option<String>,
    key: Option<SigningKey>,
    gh: Option<GithubRelease>,
}

pub async fn run(ctx: &Context, req: &TagRequest) -> Result<TagOutcome> {
    let s = ctx.settings();
    let repo = Repo::open(ctx.repo_dir())?;
    let remote = Remote::new(&repo, &s.git.remote, s.git.fetch_with_cli)?;
    remote.fetch_reporting(&ctx.out)?;
    let p = prepare(ctx, &repo, &remote, req).await?;
    let prod_name = format!("{}/{}", remote.name, s.git.prod_branch);
    let plan = Plan::new(format!("Tag {prod_name} as {}", p.tag))
        .target("repository", repo.location().display().to_string())
        .target("remote", remote.describe())
        .env(s.production_env());
    match &p.already {
        Some(existing) => release_only(ctx, &remote, &p, req, existing, plan).await,
        None => tag_and_push(ctx, &repo, &remote, &p, req, plan).await,
    }
}

async fn prepare(
    ctx: &Context,
    repo: &Repo,
    remote: &Remote<'_>,
    req: &TagRequest,
) -> Result<Prepared> {
    let s = ctx.settings();
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
    let key = match req.no_sign || already.is_some() {
        true => None,
        false => findings.check(sign::find_signing_key(
            repo.config_string("user.signingkey").as_deref(),
        ))?,
    };
    findings.check(repo.identity(now))?;
    let gh = match &req.github_release {
        Some(r) => {
            let r = ReleaseRequest {
                rc: r.rc.or(req.rc),
                pr: r.pr.clone(),
            };
            findings.check(ghr::preflight(ctx, &r, prod, already.as_deref(), &prod_name).await)?
        }
        None => None,
    };
    if req.no_sign && !ctx.assume_yes() && already.is_none() {
        findings.add(
            "--no-sign creates an unsigned release tag, and release tags are production's",
            "sign it (drop --no-sign), or confirm the unsigned tag with --no-sign --yes",
        );
    }
    findings.into_result()?;
    Ok(Prepared {
        tag,
        prod: prod.expect("checked above"),
        already,
        key,
        gh,
    })
}

/// The outcome before anything is applied.
fn initial_outcome(
    ctx: &Context,
    remote: &Remote<'_>,
    p: &Prepared,
    req: &TagRequest,
    tag: &str,
    plan: Plan,
) -> TagOutcome {
    let s = ctx.settings();
    let github = links::github_repo(&s.github.repository, &remote.url);
    TagOutcome {
        status: Status::Applied,
        tag: tag.to_string(),
        commit: p.prod.to_string(),
        tag_object: None,
        signed: false,
        signing_key: None,
        release_title: match &p.gh {
            Some(g) => Some(g.title.clone()),
            None => req.rc.map(|n| s.release_title(&n.to_string())),
        },
        release_url: github.as_ref().map(|g| g.new_release_url(tag)),
        github_release: None,
        plan,
    }
}

/// Production's tip is tagged already: only the GitHub release may be left to publish.
async fn release_only(
    ctx: &Context,
    remote: &Remote<'_>,
    p: &Prepared,
    req: &TagRequest,
    existing: &str,
    mut plan: Plan,
) -> Result<TagOutcome> {
    let prod_name = format!("{}/{}", remote.name, ctx.settings().git.prod_branch);
    let mut doc = initial_outcome(ctx, remote, p, req, existing, plan.clone());
    doc.status = Status::AlreadyDone;
    let Some(g) = p.gh.as_ref().filter(|g| g.existing.is_none()) else {
        ctx.out.success(format!(
            "{prod_name} ({}) is already tagged {existing} on {}: nothing to do",
            short(p.prod),
            remote.name
        ));
        if let Some(r) = p.gh.as_ref().and_then(|g| g.existing.as_ref()) {
            ctx.out.success(format!(
                "{} is already published: {}",
                r.name.as_deref().unwrap_or_default(),
                r.html_url
            ));
            doc.release_url = Some(r.html_url.clone());
            doc.github_release =
                p.gh.as_ref()
                    .map(|g| g.doc("already_published", existing, Some(r.html_url.clone())));
        }
        return Ok(doc);
    };
    ctx.out.success(format!(
        "{prod_name} ({}) is already tagged {existing} on {}; its GitHub release is still to publish",
        short(p.prod),
        remote.name
    ));
    ghr::plan_step(&mut plan, g, existing);
    doc.plan = plan.clone();
    doc.github_release = Some(g.doc("planned", existing, None));
    if let Some(status) = Status::stopped(ctx.confirm(&plan)?) {
        doc.status = status;
        return Ok(doc);
    }
    let published = ghr::publish(ctx, g, existing).await?;
    doc.release_url = published.url.clone();
    doc.github_release = Some(published);
    announce(ctx, remote, p, req, existing, doc.release_url.clone()).await;
    Ok(doc)
}

/// The tag's plan steps: tag, verify, push.
fn plan_tag(plan: &mut Plan, repo: &Repo, remote: &Remote<'_>, p: &Prepared, message: &str) {
    let refname = format!("refs/tags/{}", p.tag);
    let subject = repo.subject(p.prod);
    plan.push(
        Step::new(
            "tag",
            refname.clone(),
            format!(
                "annotated, {}, on {} \"{subject}\", message \"{message}\"",
                match &p.key {
                    Some(k) => format!("signed by {}", k.describe()),
                    None => "UNSIGNED".to_string(),
                },
                short(p.prod)
            ),
        )
        .params(json!({"tag": p.tag, "object": p.prod.to_string(), "message": message})),
    );
    if let Some(k) = &p.key {
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
}

async fn tag_and_push(
    ctx: &Context,
    repo: &Repo,
    remote: &Remote<'_>,
    p: &Prepared,
    req: &TagRequest,
    mut plan: Plan,
) -> Result<TagOutcome> {
    let s = ctx.settings();
    let tag = &p.tag;
    let message = s.tag_message(tag);
    plan_tag(&mut plan, repo, remote, p, &message);
    if let Some(g) = &p.gh {
        ghr::plan_step(&mut plan, g, tag);
    }
    if req.no_sign {
        ctx.out
            .warn("--no-sign: the release tag will not be signed");
        plan.note("the tag is not signed (--no-sign)");
    }
    let mut doc = initial_outcome(ctx, remote, p, req, tag, plan.clone());
    doc.signed = p.key.is_some();
    doc.signing_key = p
        .key
        .as_ref()
        .map(|k| json!({"fingerprint": k.fingerprint, "user_id": k.user_id}));
    doc.github_release = p.gh.as_ref().map(|g| g.doc("planned", tag, None));
    if let Some(status) = Status::stopped(ctx.confirm(&plan)?) {
        doc.status = status;
        return Ok(doc);
    }
    let tag_oid = create_tag(repo, tag, p.prod, &message, p.key.as_ref(), ctx.now())?;
    if p.key.is_some() {
        ctx.out
            .success(format!("signed {tag} and verified the signature"));
    }
    push_tag(remote, tag, tag_oid, &s.git.rc_branch_prefix)?;
    ctx.out
        .success(format!("pushed {tag} to {} (verified)", remote.name));
    doc.tag_object = Some(tag_oid.to_string());
    if let Some(g) = &p.gh {
        let published = ghr::publish(ctx, g, tag)
            .await
            .map_err(|e| ghr::after_push(e, tag, &remote.name, g.found.pr.number))?;
        doc.release_url = published.url.clone();
        doc.github_release = Some(published);
    }
    let url = doc.release_url.clone().filter(|_| p.gh.is_some());
    announce(ctx, remote, p, req, tag, url).await;
    Ok(doc)
}

/// Pushes the tag and reads it back; a failed push deletes the local tag so a new run starts clean.
fn push_tag(remote: &Remote<'_>, tag: &str, tag_oid: Oid, rc_prefix: &str) -> Result<()> {
    let refname = format!("refs/tags/{tag}");
    let undo_tag = |e: anyhow::Error| -> anyhow::Error {
        let r = report(&e);
        match remote.repo.delete_ref(&refname) {
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
        remote,
        &[RefUpdate::new(tag_oid, refname.clone())],
        rc_prefix,
    )
    .map_err(undo_tag)?;
    verify(
        remote,
        &[(refname.clone(), tag_oid)],
        &format!(
            "check with `git ls-remote {} {refname}`; push it again with `git push {} {refname}`",
            remote.name, remote.name
        ),
    )
}

async fn announce(
    ctx: &Context,
    remote: &Remote<'_>,
    p: &Prepared,
    req: &TagRequest,
    tag: &str,
    url: Option<String>,
) {
    let s = ctx.settings();
    let github = links::github_repo(&s.github.repository, &remote.url);
    crate::slack::announce(
        ctx,
        crate::slack::Event::Released {
            app: ghr::app_name(p.gh.as_ref(), github.as_ref()),
            env: s.production_env(),
            rc: p.gh.as_ref().map(|g| g.found.rc).or(req.rc),
            tag: tag.to_string(),
            url,
        },
    )
    .await;
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
