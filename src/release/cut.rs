//! Cutting the RC branch (full, patch, true-up) as a library step: the request, the preflight
//! that collects every finding, the plan, the shared publish step, the changelog, the promotion PR
//! and the announcement. `cut-rc` only turns its arguments into a [`CutRequest`] and renders the
//! [`CutOutcome`]; `deploy` calls [`run`] directly.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use git2::Oid;
use serde::Serialize;
use serde_json::json;

use crate::context::Context;
use crate::error::{preflight, Findings};
use crate::git::push::LocalBranch;
use crate::git::remote::Remote;
use crate::git::repo::{Picked, Repo};
use crate::github::{self, flows, rules, Client, PrOutcome, PullRequest};
use crate::outcome::Status;
use crate::plan::{Plan, Step};
use crate::release::publish::{self, Branch};
use crate::release::{deploy_json, links, rc};
use crate::types::{short, RcNumber};

/// Which application's staging deploy.json to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum App {
    Idp,
    Pki,
}

impl App {
    pub fn name(self) -> &'static str {
        match self {
            App::Idp => "idp",
            App::Pki => "pki",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A new RC branch at what staging runs (or `source`).
    Cut,
    /// A patch branch from production with commits cherry-picked.
    Patch,
    /// An "ours" merge of production into the RC branch.
    TrueUp,
}

/// What to cut, as explicit inputs (no CLI flags).
#[derive(Debug, Clone)]
pub struct CutRequest {
    pub mode: Mode,
    pub app: App,
    /// Cut from this commit instead of what staging runs (full cut only).
    pub source: Option<String>,
    /// deploy.json URL [default: the app's staging setting].
    pub staging_url: Option<String>,
    /// The release date in the branch name.
    pub date: jiff::civil::Date,
    pub rc: Option<RcNumber>,
    pub open_pr: bool,
    /// Commits to pick (patch mode), in order.
    pub cherry_pick: Vec<String>,
    /// Where the changelog body goes [default: <git dir>/login-release/rc-changelog.md].
    pub changelog_file: Option<PathBuf>,
}

/// What the preflight found to do.
struct Prepared {
    title: String,
    branch: Branch,
    notes: Vec<String>,
    source: serde_json::Value,
    picked: Vec<serde_json::Value>,
}

/// How the cut ended: the JSON document of `cut-rc` and what `deploy` records.
#[derive(Debug, Clone, Serialize)]
pub struct CutOutcome {
    pub status: Status,
    pub mode: Mode,
    pub branch: String,
    pub sha: String,
    pub base: String,
    pub source: serde_json::Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub picked: Vec<serde_json::Value>,
    pub rc: Option<String>,
    pub pr_title: Option<String>,
    pub pr_url: Option<String>,
    pub changelog_file: String,
    pub changelog_written: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_branch: Option<LocalBranch>,
    /// The promotion PR (with `open_pr`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pr: Option<PrDoc>,
    pub plan: Plan,
}

/// The promotion PR in the outcome.
#[derive(Debug, Clone, Serialize)]
pub struct PrDoc {
    /// `planned` (dry run), `created` or `already_open`.
    pub status: &'static str,
    pub rc: String,
    /// Where the number came from: `--rc` or the release it follows.
    pub rc_from: String,
    pub title: String,
    pub number: Option<u64>,
    pub url: Option<String>,
    pub base: String,
    pub head: String,
    pub label: String,
}

/// What --open-pr found before anything changed.
struct GithubPlan {
    client: Client,
    rc: flows::RcChoice,
    existing: Option<PullRequest>,
}

impl GithubPlan {
    /// An open PR that lacks the promotion label: a run whose label call lost its answer left it
    /// so, and the label is what the deploy and the rollback find the PR by.
    fn unlabelled(&self, label: &str) -> Option<&PullRequest> {
        self.existing
            .as_ref()
            .filter(|pr| !rules::has_label(pr, label))
    }

    /// Whether the GitHub half still has work after the branch is on origin.
    fn work_left(&self, label: &str) -> bool {
        self.existing.is_none() || self.unlabelled(label).is_some()
    }
}

/// The GitHub preflight of --open-pr: the token, the repository, the RC number, an open PR.
async fn github_preflight(
    ctx: &Context,
    explicit: Option<RcNumber>,
    patch: bool,
    branch: &str,
) -> Result<GithubPlan> {
    let s = ctx.settings();
    let client = github::connect(ctx)?;
    client.check_repo().await?;
    let rc = flows::decide_rc(&client, s, explicit, patch).await?;
    if explicit.is_some() {
        let title = s.release_title(&rc.rc.to_string());
        if let Some(r) = rules::release_titled(&client.releases().await?, &title) {
            return Err(preflight(
                format!("RC {} is already released: {}", rc.rc, r.html_url),
                "pass the next number with --rc, or leave --rc out to take it from GitHub",
            ));
        }
    }
    let existing = client.open_pr_for_head(branch).await?;
    Ok(GithubPlan {
        client,
        rc,
        existing,
    })
}

fn pr_doc(
    s: &crate::config::Settings,
    g: &GithubPlan,
    branch: &str,
    pr: Option<&PullRequest>,
    status: &'static str,
) -> PrDoc {
    let rc = g.rc.rc.to_string();
    PrDoc {
        status,
        title: pr.map_or_else(|| s.pr_title(&rc), |p| p.title.clone()),
        rc,
        rc_from: g.rc.from.clone(),
        number: pr.map(|p| p.number),
        url: pr.map(|p| p.html_url.clone()),
        base: s.git.prod_branch.clone(),
        head: branch.to_string(),
        label: s.release.pr_label.clone(),
    }
}

/// Cuts, publishes and (optionally) opens the promotion PR; every finding is collected before
/// anything changes.
pub async fn run(ctx: &Context, req: &CutRequest) -> Result<CutOutcome> {
    let s = ctx.settings();
    let repo = Repo::open(ctx.repo_dir())?;
    let remote = Remote::new(&repo, &s.git.remote, s.git.fetch_with_cli)?;
    // Staging first: if it cannot tell us what it runs there is nothing to fetch for.
    let staging = read_staging(ctx, req).await?;
    remote.fetch_reporting(&ctx.out)?;
    let (p, prod) = preflight_all(ctx, &repo, &remote, req, staging)?;
    if let Some(n) = req.rc.filter(|n| req.mode == Mode::Patch && n.minor == 0) {
        ctx.out.warn(format!(
            "--rc {n} for a patch release: patch releases are usually numbered like {}",
            n.next_patch()
        ));
    }
    let gh = match req.open_pr {
        true => Some(github_preflight(ctx, req.rc, req.mode == Mode::Patch, &p.branch.name).await?),
        false => None,
    };
    let changelog_file = req
        .changelog_file
        .clone()
        .unwrap_or_else(|| repo.git_dir().join("login-release").join("rc-changelog.md"));
    let plan = build_plan(ctx, &repo, &remote, &p, prod, gh.as_ref(), &changelog_file)?;
    let mut outcome = initial_outcome(ctx, req, &remote, &p, gh.as_ref(), &changelog_file, plan);
    let pr_to_open = gh
        .as_ref()
        .is_some_and(|g| g.work_left(&s.release.pr_label));
    let already = already_sentence(req.mode, &remote, &p, &s.git.prod_branch);
    let published = publish::publish(ctx, &remote, &outcome.plan, &p.branch, &already, pr_to_open)?;
    outcome.status = published.status;
    outcome.local_branch = published.local;
    match published.status {
        Status::DryRun | Status::Declined => return Ok(outcome),
        Status::AlreadyDone if ctx.dry_run() => return Ok(outcome),
        _ => {}
    }
    let body =
        write_changelog(ctx, &repo, prod, p.branch.target, &changelog_file).map_err(|e| {
            if published.status == Status::AlreadyDone {
                return e;
            }
            crate::error::partial(
                format!(
                    "pushed {}, but writing the changelog file failed: {e:#}",
                    p.branch.name
                ),
                format!(
                    "write it with: login-release changelog --base {}/{} --source {}",
                    remote.name, s.git.prod_branch, p.branch.target
                ),
            )
        })?;
    outcome.changelog_written = true;
    if published.status == Status::AlreadyDone {
        if let Some(pr) = gh.as_ref().and_then(|g| g.existing.as_ref()) {
            ctx.out
                .success(format!("the promotion PR is already open: {}", pr.html_url));
        }
        return Ok(outcome);
    }
    if let Some(g) = &gh {
        open_pr(ctx, req, g, &p, &remote.name, &body, &mut outcome).await?;
    }
    Ok(outcome)
}

/// What staging runs (full cut from staging only).
async fn read_staging(
    ctx: &Context,
    req: &CutRequest,
) -> Result<Option<(String, deploy_json::DeployInfo)>> {
    if req.mode != Mode::Cut || req.source.is_some() {
        return Ok(None);
    }
    let s = ctx.settings();
    let url = req.staging_url.clone().unwrap_or_else(|| match req.app {
        App::Idp => s.staging.idp.clone(),
        App::Pki => s.staging.pki.clone(),
    });
    ctx.out
        .status(format!("reading what staging runs from {url}"));
    let info = deploy_json::fetch(&url, req.app.name()).await?;
    Ok(Some((url, info)))
}

/// Every git check of the mode, collected: production must exist, then the mode's own checks.
fn preflight_all(
    ctx: &Context,
    repo: &Repo,
    remote: &Remote<'_>,
    req: &CutRequest,
    staging: Option<(String, deploy_json::DeployInfo)>,
) -> Result<(Prepared, Oid)> {
    let s = ctx.settings();
    let mut findings = Findings::new();
    let prod = repo.remote_branch(&remote.name, &s.git.prod_branch);
    if prod.is_none() {
        findings.add(
            format!("{}/{} does not exist", remote.name, s.git.prod_branch),
            format!(
                "push the production branch to {}, or set git.prod_branch",
                remote.name
            ),
        );
    }
    let prepared = match req.mode {
        Mode::Cut => prepare_cut(ctx, repo, remote, req, req.date, staging, &mut findings)?,
        Mode::Patch => prepare_patch(ctx, repo, remote, req, req.date, prod, &mut findings)?,
        Mode::TrueUp => prepare_true_up(ctx, repo, remote, req.date, prod, &mut findings)?,
    };
    findings.into_result()?;
    Ok((
        prepared.expect("no findings means a prepared cut"),
        prod.expect("checked above"),
    ))
}

/// The plan: the publish steps, the changelog file, the PR.
fn build_plan(
    ctx: &Context,
    repo: &Repo,
    remote: &Remote<'_>,
    p: &Prepared,
    prod: Oid,
    gh: Option<&GithubPlan>,
    changelog_file: &std::path::Path,
) -> Result<Plan> {
    let s = ctx.settings();
    let commits = crate::git::log::commits_between(&repo.git, prod, p.branch.target)?.len();
    let mut plan = Plan::new(p.title.clone())
        .target("repository", repo.location().display().to_string())
        .target("remote", remote.describe());
    publish::plan_steps(&mut plan, remote, &p.branch);
    plan.push(Step::new(
        "write",
        changelog_file.display().to_string(),
        format!(
            "PR body: changelog of {}/{}..{} ({commits} commit{})",
            remote.name,
            s.git.prod_branch,
            short(p.branch.target),
            if commits == 1 { "" } else { "s" }
        ),
    ));
    if let Some(g) = gh {
        plan_pr(&mut plan, s, g, &p.branch.name);
    }
    for n in &p.notes {
        plan.note(n.clone());
    }
    plan.note("the working tree and the checked-out branch are not touched");
    // The release manager sees, before cutting, whether today allows the full deploy.
    plan.note(crate::deploy::calendar::plan_note(&s.deploy, ctx.now())?);
    Ok(plan)
}

fn plan_pr(plan: &mut Plan, s: &crate::config::Settings, g: &GithubPlan, branch: &str) {
    let title = s.pr_title(&g.rc.rc.to_string());
    match &g.existing {
        Some(pr) if g.unlabelled(&s.release.pr_label).is_some() => plan.push(
            Step::new(
                "label PR",
                format!("{} #{}", g.client.repo, pr.number),
                format!(
                    "the promotion PR for {branch} is open ({}) but lacks the label `{}`: add it \
                     (created if missing)",
                    pr.html_url, s.release.pr_label
                ),
            )
            .params(json!({
                "repository": g.client.repo.to_string(),
                "number": pr.number,
                "label": s.release.pr_label,
            })),
        ),
        Some(pr) => plan.note(format!(
            "the promotion PR for {branch} is already open: {} (reported, not duplicated)",
            pr.html_url
        )),
        None => plan.push(
            Step::new(
                "open PR",
                format!("{} {branch} -> {}", g.client.repo, s.git.prod_branch),
                format!(
                    "\"{title}\" (RC {} {}), label `{}` (created if missing), body: the changelog",
                    g.rc.rc, g.rc.from, s.release.pr_label
                ),
            )
            .params(json!({
                "repository": g.client.repo.to_string(),
                "title": title,
                "head": branch,
                "base": s.git.prod_branch,
                "label": s.release.pr_label,
                "rc": g.rc.rc,
            })),
        ),
    }
}

fn initial_outcome(
    ctx: &Context,
    req: &CutRequest,
    remote: &Remote<'_>,
    p: &Prepared,
    gh: Option<&GithubPlan>,
    changelog_file: &std::path::Path,
    plan: Plan,
) -> CutOutcome {
    let s = ctx.settings();
    let rc_text = gh.map(|g| g.rc.rc).or(req.rc).map(|n| n.to_string());
    let existing = gh.and_then(|g| g.existing.as_ref());
    let github = links::github_repo(&s.github.repository, &remote.url);
    let compare = github
        .as_ref()
        .map(|g| g.compare_url(&s.git.prod_branch, &p.branch.name));
    CutOutcome {
        status: Status::Applied,
        mode: req.mode,
        branch: p.branch.name.clone(),
        sha: p.branch.target.to_string(),
        base: s.git.prod_branch.clone(),
        source: p.source.clone(),
        picked: p.picked.clone(),
        pr_title: rc_text.as_deref().map(|n| s.pr_title(n)),
        rc: rc_text,
        pr_url: existing.map(|pr| pr.html_url.clone()).or(compare),
        changelog_file: changelog_file.display().to_string(),
        changelog_written: false,
        local_branch: None,
        pr: gh.map(|g| match &g.existing {
            Some(pr) => pr_doc(s, g, &p.branch.name, Some(pr), "already_open"),
            None => pr_doc(s, g, &p.branch.name, None, "planned"),
        }),
        plan,
    }
}

/// The sentence that says origin already has the work.
fn already_sentence(mode: Mode, remote: &Remote<'_>, p: &Prepared, prod_branch: &str) -> String {
    match mode {
        Mode::TrueUp => format!(
            "{r}/{} already contains {r}/{prod_branch}: nothing to merge",
            p.branch.name,
            r = remote.name
        ),
        _ => format!(
            "{}/{} is already at {}: nothing to push",
            remote.name,
            p.branch.name,
            short(p.branch.target)
        ),
    }
}

/// Opens (or finds) the promotion PR after the push and announces it.
async fn open_pr(
    ctx: &Context,
    req: &CutRequest,
    g: &GithubPlan,
    p: &Prepared,
    remote: &str,
    body: &str,
    outcome: &mut CutOutcome,
) -> Result<()> {
    let s = ctx.settings();
    let rc = g.rc.rc;
    let pushed = outcome.local_branch.is_some();
    let (pr, opened) = flows::open_promotion_pr(&g.client, s, rc, &p.branch.name, body)
        .await
        .map_err(|e| match pushed {
            true => flows::pr_failed_after_push(e, "promotion", &p.branch.name, remote),
            false => e,
        })?;
    let status = publish::report_pr(ctx, "promotion", &pr, &opened);
    outcome.pr_url = Some(pr.html_url.clone());
    outcome.pr_title = Some(pr.title.clone());
    outcome.pr = Some(pr_doc(s, g, &p.branch.name, Some(&pr), status));
    if opened == PrOutcome::Created {
        crate::slack::announce(
            ctx,
            crate::slack::Event::PrOpened {
                app: req.app.name().to_string(),
                env: s.production_env(),
                rc,
                url: pr.html_url.clone(),
            },
        )
        .await;
    }
    Ok(())
}

fn prepare_cut(
    ctx: &Context,
    repo: &Repo,
    remote: &Remote<'_>,
    req: &CutRequest,
    date: jiff::civil::Date,
    staging: Option<(String, deploy_json::DeployInfo)>,
    findings: &mut Findings,
) -> Result<Option<Prepared>> {
    let s = ctx.settings();
    let (oid, source, note) = match (&req.source, staging) {
        (Some(spec), _) => match repo.resolve_commit(spec) {
            Some(oid) => (
                oid,
                json!({"kind": "ref", "ref": spec}),
                format!("source: {spec} = {}", short(oid)),
            ),
            None => {
                return Err(preflight(
                    format!("unknown --source `{spec}`: no commit of that name in this repository (after fetching {})", remote.name),
                    format!("use a full sha, a branch such as {}/{} or a tag", remote.name, s.git.main_branch),
                ))
            }
        },
        (None, Some((url, info))) => {
            let oid = Oid::from_str(info.sha.as_str()).expect("40 hex");
            if !repo.commit_exists(oid) {
                return Err(preflight(
                    format!(
                        "staging runs {} (deploy.json {}), which is not in this repository even after fetching {}",
                        info.sha, info.key, remote.name
                    ),
                    "check the app (idp or pki) and the URL; staging may run a commit never pushed to origin; or pass --source",
                ));
            }
            if info.key != "git_sha" {
                ctx.out.warn(format!(
                    "staging's deploy.json has no `git_sha`; using the deprecated `sha` ({})",
                    info.sha.short()
                ));
            }
            let note = format!(
                "staging ({url}) runs {} (deploy.json {}{})",
                info.sha.short(),
                info.key,
                info.branch
                    .as_deref()
                    .map(|b| format!(", branch {b}"))
                    .unwrap_or_default()
            );
            (oid, json!({"kind": "staging", "url": url, "deploy": info}), note)
        }
        (None, None) => unreachable!("cut mode reads staging without --source"),
    };
    let main_name = format!("{}/{}", remote.name, s.git.main_branch);
    match repo.remote_branch(&remote.name, &s.git.main_branch) {
        None => findings.add(
            format!("{main_name} does not exist"),
            "set git.main_branch to the branch staging deploys from",
        ),
        Some(main) => {
            if !repo.is_ancestor(oid, main)? {
                findings.add(
                    format!("{} is not on {main_name}", short(oid)),
                    format!(
                        "an RC is cut from {main_name}: deploy main to staging (or pass --source with a commit on {main_name}); fixes on top of production go through --patch --cherry-pick"
                    ),
                );
            }
        }
    }
    let branch = rc::rc_branch(&s.git.rc_branch_prefix, date);
    let remote_old = repo.remote_branch(&remote.name, &branch);
    let local = repo.local_branch(&branch);
    let mut already_done = false;
    let exists_hint = format!(
        "pass --date for another release date, or --patch --cherry-pick SHA... to patch it; if it was a mistake: git push {} --delete {branch}; git branch -D {branch}",
        remote.name
    );
    match remote_old {
        Some(r) if r == oid && local.is_none_or(|l| l == oid) => already_done = true,
        Some(r) => findings.add(
            format!(
                "{branch} already exists on {} (at {}; the commit to cut is {})",
                remote.name,
                short(r),
                short(oid)
            ),
            exists_hint,
        ),
        None => {
            if let Some(l) = local.filter(|l| *l != oid) {
                findings.add(
                    format!(
                        "a local branch {branch} already exists (at {}; the commit to cut is {})",
                        short(l),
                        short(oid)
                    ),
                    exists_hint,
                );
            }
        }
    }
    let subject = repo.subject(oid);
    Ok(Some(Prepared {
        title: format!("Cut {branch} at {} for {}", short(oid), req.app.name()),
        branch: Branch {
            name: branch,
            target: oid,
            remote_old,
            on_origin: already_done,
            push_detail: format!("new branch at {oid} \"{subject}\""),
        },
        notes: vec![note],
        source,
        picked: Vec::new(),
    }))
}

fn prepare_patch(
    ctx: &Context,
    repo: &Repo,
    remote: &Remote<'_>,
    req: &CutRequest,
    date: jiff::civil::Date,
    prod: Option<Oid>,
    findings: &mut Findings,
) -> Result<Option<Prepared>> {
    let s = ctx.settings();
    let picks = resolve_picks(ctx, repo, remote, req, findings)?;
    let Some(prod) = prod else { return Ok(None) };
    if !findings.is_empty() {
        return Ok(None);
    }
    warn_picks_not_on_main(ctx, repo, remote, &picks)?;
    let committer = repo.identity(ctx.now())?;
    let (tip, picked) = match repo.cherry_pick_series(prod, &picks, &committer)? {
        Ok(done) => done,
        Err(conflict) => {
            return Err(preflight(
                format!(
                    "cherry-picking {} \"{}\" onto {}/{} conflicts in {}; nothing was pushed",
                    short(conflict.commit),
                    conflict.subject,
                    remote.name,
                    s.git.prod_branch,
                    conflict.paths.join(", ")
                ),
                "pick the commits it depends on first (in order), or build the patch branch by hand with git cherry-pick",
            ))
        }
    };
    let notes = pick_notes(ctx, remote, &picked);
    if tip == prod {
        return Err(preflight(
            format!(
                "nothing to patch: every --cherry-pick commit is already in {}/{}",
                remote.name, s.git.prod_branch
            ),
            "check the shas (git log origin/stages/prod)",
        ));
    }
    let existing = repo.branches_with_prefix(&remote.name, &s.git.rc_branch_prefix);
    let k = rc::next_patch_number(&s.git.rc_branch_prefix, date, &existing);
    let branch = rc::patch_branch(&s.git.rc_branch_prefix, date, k);
    let count = picked.iter().filter(|p| p.new.is_some()).count();
    Ok(Some(Prepared {
        title: format!(
            "Cut patch branch {branch} from {}/{}",
            remote.name, s.git.prod_branch
        ),
        branch: Branch {
            name: branch,
            target: tip,
            remote_old: None,
            on_origin: false,
            push_detail: format!(
                "new branch at {tip}: {}/{} + {count} cherry-picked commit{}",
                remote.name,
                s.git.prod_branch,
                if count == 1 { "" } else { "s" }
            ),
        },
        notes,
        source: json!({"kind": "patch", "base": prod.to_string()}),
        picked: picked
            .iter()
            .map(|p| {
                json!({
                    "source": p.source.to_string(),
                    "new": p.new.map(|n| n.to_string()),
                    "subject": p.subject,
                })
            })
            .collect(),
    }))
}

/// The --cherry-pick commits, each resolved after the fetch; an unknown one or a merge is a
/// finding.
fn resolve_picks(
    ctx: &Context,
    repo: &Repo,
    remote: &Remote<'_>,
    req: &CutRequest,
    findings: &mut Findings,
) -> Result<Vec<Oid>> {
    let s = ctx.settings();
    let mut picks = Vec::new();
    for spec in &req.cherry_pick {
        match repo.resolve_commit(spec) {
            None => findings.add(
                format!(
                    "unknown --cherry-pick `{spec}`: no commit of that name (after fetching {})",
                    remote.name
                ),
                format!(
                    "use the sha of a commit that exists on {} (git log {}/{})",
                    remote.name, remote.name, s.git.main_branch
                ),
            ),
            Some(oid) if repo.commit(oid)?.parent_count() > 1 => findings.add(
                format!("--cherry-pick {spec} is a merge commit"),
                "pick the commits it merged, oldest first (or the squashed commit on main)",
            ),
            Some(oid) => picks.push(oid),
        }
    }
    Ok(picks)
}

/// A fix picked onto production but not on main would be dropped by the next full release.
fn warn_picks_not_on_main(
    ctx: &Context,
    repo: &Repo,
    remote: &Remote<'_>,
    picks: &[Oid],
) -> Result<()> {
    let s = ctx.settings();
    let Some(main) = repo.remote_branch(&remote.name, &s.git.main_branch) else {
        return Ok(());
    };
    for &p in picks {
        if !repo.is_ancestor(p, main)? {
            ctx.out.warn(format!(
                "{} is not on {}/{}: land the fix on main too, or the next full release drops it",
                short(p),
                remote.name,
                s.git.main_branch
            ));
        }
    }
    Ok(())
}

/// The plan's line per picked commit; a commit already in production is skipped with a
/// warning.
fn pick_notes(ctx: &Context, remote: &Remote<'_>, picked: &[Picked]) -> Vec<String> {
    let s = ctx.settings();
    let mut notes = Vec::new();
    for p in picked {
        if p.new.is_none() {
            ctx.out.warn(format!(
                "{} \"{}\" is already in {}/{}: skipped",
                short(p.source),
                p.subject,
                remote.name,
                s.git.prod_branch
            ));
        }
        notes.push(match p.new {
            Some(n) => format!("pick {} -> {} \"{}\"", short(p.source), short(n), p.subject),
            None => format!(
                "skip {} \"{}\" (already in production)",
                short(p.source),
                p.subject
            ),
        });
    }
    notes
}
fn prepare_true_up(
    ctx: &Context,
    repo: &Repo,
    remote: &Remote<'_>,
    date: jiff::civil::Date,
    prod: Option<Oid>,
    findings: &mut Findings,
) -> Result<Option<Prepared>> {
    let s = ctx.settings();
    let branch = rc::rc_branch(&s.git.rc_branch_prefix, date);
    let Some(rc_tip) = repo.remote_branch(&remote.name, &branch) else {
        findings.add(
            format!("there is no {branch} on {} to true up", remote.name),
            format!(
                "pass --date of the RC branch (git branch -r --list '{}/{}*'), or cut it first",
                remote.name, s.git.rc_branch_prefix
            ),
        );
        return Ok(None);
    };
    let Some(prod) = prod else { return Ok(None) };
    let prod_name = format!("{}/{}", remote.name, s.git.prod_branch);
    let source = json!({"kind": "true_up", "rc_tip": rc_tip.to_string(), "prod": prod.to_string()});
    if repo.is_ancestor(prod, rc_tip)? {
        return Ok(Some(Prepared {
            title: format!("True up {branch} with {prod_name}"),
            branch: Branch {
                name: branch,
                target: rc_tip,
                remote_old: Some(rc_tip),
                on_origin: true,
                push_detail: String::new(),
            },
            notes: Vec::new(),
            source,
            picked: Vec::new(),
        }));
    }
    let committer = repo.identity(ctx.now())?;
    let message = format!("Merge remote-tracking branch '{prod_name}' into {branch}\n");
    let merge = repo.ours_merge(rc_tip, prod, &committer, &message)?;
    Ok(Some(Prepared {
        title: format!("True up {branch} with {prod_name}"),
        branch: Branch {
            name: branch,
            target: merge,
            remote_old: Some(rc_tip),
            on_origin: false,
            push_detail: format!(
                "{} -> {merge}: merge of {prod_name} ({}) with strategy ours (tree unchanged; a fast-forward, no force)",
                short(rc_tip),
                short(prod)
            ),
        },
        notes: vec![format!(
            "{prod_name} becomes an ancestor of the RC branch, so the promotion PR replaces production's content with the RC's"
        )],
        source,
        picked: Vec::new(),
    }))
}

/// Writes the promotion PR's body: the changelog of `base..tip` (never the invalid entries,
/// which are warned about on stderr so they can be fixed or filed by hand).
fn write_changelog(
    ctx: &Context,
    repo: &Repo,
    base: Oid,
    tip: Oid,
    path: &std::path::Path,
) -> Result<String> {
    let log = crate::changelog::generate_between(&repo.git, base, tip, ctx.settings())?;
    for bad in &log.invalid {
        ctx.out.warn(format!("changelog: {}", bad.describe()));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let body = log.markdown();
    std::fs::write(path, &body).with_context(|| format!("writing {}", path.display()))?;
    Ok(body)
}
