//! `cut-rc`: cut the RC branch from what staging runs (or a patch branch from production, or
//! true up an RC branch with production) and push it, without touching the work tree.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use git2::Oid;
use serde::Serialize;
use serde_json::json;

use crate::context::Context;
use crate::error::{preflight, usage, Findings};
use crate::git::push::{publish_branch, LocalBranch};
use crate::git::remote::Remote;
use crate::git::repo::Repo;
use crate::github::{self, flows, rules, Client, PrOutcome, PullRequest};
use crate::output::key_values;
use crate::plan::{Plan, Step};
use crate::release::{deploy_json, links, rc};
use crate::types::{GitSha, RcNumber};

/// Which application's staging deploy.json to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum App {
    Idp,
    Pki,
}

impl App {
    fn name(self) -> &'static str {
        match self {
            App::Idp => "idp",
            App::Pki => "pki",
        }
    }
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    Cut,
    Patch,
    TrueUp,
}

/// What the preflight found to do.
struct Prepared {
    title: String,
    branch: String,
    target: Oid,
    /// What origin has at the branch now.
    remote_old: Option<Oid>,
    already_done: bool,
    push_detail: String,
    notes: Vec<String>,
    source: serde_json::Value,
    picked: Vec<serde_json::Value>,
}

#[derive(Serialize)]
struct Doc {
    status: &'static str,
    mode: Mode,
    branch: String,
    sha: String,
    base: String,
    source: serde_json::Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    picked: Vec<serde_json::Value>,
    rc: Option<String>,
    pr_title: Option<String>,
    pr_url: Option<String>,
    changelog_file: String,
    changelog_written: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    local_branch: Option<LocalBranch>,
    /// The promotion PR (with --open-pr).
    #[serde(skip_serializing_if = "Option::is_none")]
    pr: Option<PrDoc>,
    plan: Plan,
}

/// The promotion PR in the JSON document.
#[derive(Serialize)]
struct PrDoc {
    /// `planned` (dry run), `created` or `already_open`.
    status: &'static str,
    rc: String,
    /// Where the number came from: `--rc` or the release it follows.
    rc_from: String,
    title: String,
    number: Option<u64>,
    url: Option<String>,
    base: String,
    head: String,
    label: String,
}

/// What --open-pr found before anything changed.
struct GithubPlan {
    client: Client,
    rc: flows::RcChoice,
    existing: Option<PullRequest>,
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

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let s = ctx.settings();
    let mode = if args.patch {
        Mode::Patch
    } else if args.true_up {
        Mode::TrueUp
    } else {
        Mode::Cut
    };
    let date = match &args.date {
        Some(d) => rc::parse_date(d).map_err(|why| {
            usage(
                format!("--date {why}"),
                "give the release date as YYYY-MM-DD, e.g. --date 2026-11-20 (default: today in UTC)",
            )
        })?,
        None => rc::utc_date(ctx.now()),
    };
    let repo = Repo::open(ctx.repo_dir())?;
    let remote = Remote::new(&repo, &s.git.remote, s.git.fetch_with_cli)?;

    // Staging first: if it cannot tell us what it runs there is nothing to fetch for.
    let staging = match (mode, &args.source) {
        (Mode::Cut, None) => {
            let url = args.staging_url.clone().unwrap_or_else(|| match args.app {
                App::Idp => s.staging.idp.clone(),
                App::Pki => s.staging.pki.clone(),
            });
            ctx.out
                .status(format!("reading what staging runs from {url}"));
            let info = deploy_json::fetch(&url, args.app.name()).await?;
            Some((url, info))
        }
        _ => None,
    };

    remote.fetch_reporting(&ctx.out)?;

    let mut findings = Findings::new();
    let prod_name = format!("{}/{}", remote.name, s.git.prod_branch);
    let prod = repo.remote_branch(&remote.name, &s.git.prod_branch);
    if prod.is_none() {
        findings.add(
            format!("{prod_name} does not exist"),
            format!(
                "push the production branch to {}, or set git.prod_branch",
                remote.name
            ),
        );
    }
    let prepared = match mode {
        Mode::Cut => prepare_cut(ctx, &repo, &remote, &args, date, staging, &mut findings)?,
        Mode::Patch => prepare_patch(ctx, &repo, &remote, &args, date, prod, &mut findings)?,
        Mode::TrueUp => prepare_true_up(ctx, &repo, &remote, date, prod, &mut findings)?,
    };
    findings.into_result()?;
    let p = prepared.expect("no findings means a prepared cut");
    let prod = prod.expect("checked above");

    if let Some(n) = args.rc {
        if mode == Mode::Patch && n.minor == 0 {
            ctx.out.warn(format!(
                "--rc {n} for a patch release: patch releases are usually numbered like {}",
                n.next_patch()
            ));
        }
    }
    let gh = if args.open_pr {
        Some(github_preflight(ctx, args.rc, mode == Mode::Patch, &p.branch).await?)
    } else {
        None
    };
    let rc_text = gh
        .as_ref()
        .map(|g| g.rc.rc)
        .or(args.rc)
        .map(|n| n.to_string());
    let pr_title = rc_text.as_deref().map(|n| s.pr_title(n));
    let github = links::github_repo(&s.github.repository, &remote.url);
    let pr_url = github
        .as_ref()
        .map(|g| g.compare_url(&s.git.prod_branch, &p.branch));
    let changelog_file = args
        .changelog_file
        .clone()
        .unwrap_or_else(|| repo.git_dir().join("login-release").join("rc-changelog.md"));
    let commits = crate::git::log::commits_between(&repo.git, prod, p.target)?.len();

    let mut plan =
        Plan::new(p.title.clone()).target("repository", repo.location().display().to_string());
    plan = plan.target("remote", remote.describe());
    let local_now = repo.local_branch(&p.branch);
    if !p.already_done {
        plan.push(
            Step::new(
                "push",
                format!("{} refs/heads/{}", remote.name, p.branch),
                p.push_detail.clone(),
            )
            .params(json!({
                "remote": remote.name,
                "ref": format!("refs/heads/{}", p.branch),
                "old": p.remote_old.map(|o| o.to_string()),
                "new": p.target.to_string(),
            })),
        );
        let local_detail = match local_now {
            None => format!(
                "create at {}, tracking {}/{}",
                short(p.target),
                remote.name,
                p.branch
            ),
            Some(l) if l == p.target => format!(
                "already at {}; set to track {}/{}",
                short(l),
                remote.name,
                p.branch
            ),
            Some(l) => format!(
                "move {} -> {} unless it is checked out, tracking {}/{}",
                short(l),
                short(p.target),
                remote.name,
                p.branch
            ),
        };
        plan.push(Step::new("branch", p.branch.clone(), local_detail));
    }
    plan.push(Step::new(
        "write",
        changelog_file.display().to_string(),
        format!(
            "PR body: changelog of {prod_name}..{} ({commits} commit{})",
            short(p.target),
            if commits == 1 { "" } else { "s" }
        ),
    ));
    if let (Some(g), Some(title)) = (&gh, &pr_title) {
        match &g.existing {
            Some(pr) => plan.note(format!(
                "the promotion PR for {} is already open: {} (reported, not duplicated)",
                p.branch, pr.html_url
            )),
            None => plan.push(
                Step::new(
                    "open PR",
                    format!("{} {} -> {}", g.client.repo, p.branch, s.git.prod_branch),
                    format!(
                        "\"{title}\" (RC {} {}), label `{}` (created if missing), body: the changelog",
                        g.rc.rc, g.rc.from, s.release.pr_label
                    ),
                )
                .params(json!({
                    "repository": g.client.repo.to_string(),
                    "title": title,
                    "head": p.branch,
                    "base": s.git.prod_branch,
                    "label": s.release.pr_label,
                    "rc": g.rc.rc,
                })),
            ),
        }
    }
    for n in &p.notes {
        plan.note(n.clone());
    }
    plan.note("the working tree and the checked-out branch are not touched");

    let mut doc = Doc {
        status: "applied",
        mode,
        branch: p.branch.clone(),
        sha: p.target.to_string(),
        base: s.git.prod_branch.clone(),
        source: p.source.clone(),
        picked: p.picked.clone(),
        rc: rc_text.clone(),
        pr_title: pr_title.clone(),
        pr_url: pr_url.clone(),
        changelog_file: changelog_file.display().to_string(),
        changelog_written: false,
        local_branch: None,
        pr: gh.as_ref().map(|g| match &g.existing {
            Some(pr) => pr_doc(s, g, &p.branch, Some(pr), "already_open"),
            None => pr_doc(s, g, &p.branch, None, "planned"),
        }),
        plan: plan.clone(),
    };
    if let Some(pr) = gh.as_ref().and_then(|g| g.existing.as_ref()) {
        doc.pr_url = Some(pr.html_url.clone());
    }
    let pr_to_open = gh.as_ref().is_some_and(|g| g.existing.is_none());

    if p.already_done && !pr_to_open {
        ctx.out.plan(&plan);
        ctx.out.success(match mode {
            Mode::TrueUp => format!(
                "{}/{} already contains {prod_name}: nothing to merge",
                remote.name, p.branch
            ),
            _ => format!(
                "{}/{} is already at {}: nothing to push",
                remote.name,
                p.branch,
                short(p.target)
            ),
        });
        doc.status = "already_done";
        if !ctx.dry_run() {
            write_changelog(ctx, &repo, prod, p.target, &changelog_file)?;
            doc.changelog_written = true;
        }
        if let Some(pr) = gh.as_ref().and_then(|g| g.existing.as_ref()) {
            ctx.out
                .success(format!("the promotion PR is already open: {}", pr.html_url));
        }
        return finish(ctx, &doc);
    }
    if p.already_done {
        ctx.out.success(format!(
            "{}/{} is already at {}: nothing to push; the promotion PR is still to open",
            remote.name,
            p.branch,
            short(p.target)
        ));
    }

    if let Some(status) = ctx.confirm(&plan)?.stopped() {
        doc.status = status;
        return finish(ctx, &doc);
    }

    if !p.already_done {
        let local = publish_branch(&remote, &p.branch, p.target, &s.git.rc_branch_prefix)?;
        ctx.out.success(format!(
            "pushed {} to {} at {} (verified on {})",
            p.branch, remote.name, p.target, remote.name
        ));
        if let LocalBranch::LeftBehind { reason } = &local {
            ctx.out.warn(format!(
                "local branch {} left as it was: {reason}",
                p.branch
            ));
        }
        doc.local_branch = Some(local);
    }
    let body = write_changelog(ctx, &repo, prod, p.target, &changelog_file).map_err(|e| {
        crate::error::partial(
            format!(
                "pushed {}, but writing the changelog file failed: {e:#}",
                p.branch
            ),
            format!(
                "write it with: login-release changelog --base {prod_name} --source {}",
                p.target
            ),
        )
    })?;
    doc.changelog_written = true;
    if let Some(g) = &gh {
        let rc = g.rc.rc;
        let (pr, outcome) = match flows::open_promotion_pr(&g.client, s, rc, &p.branch, &body).await
        {
            Ok(done) => done,
            Err(e) if p.already_done => return Err(e),
            Err(e) => {
                return Err(flows::pr_failed_after_push(
                    e,
                    "promotion",
                    &p.branch,
                    &remote.name,
                ))
            }
        };
        match outcome {
            PrOutcome::Created => ctx.out.success(format!(
                "opened the promotion PR \"{}\": {}",
                pr.title, pr.html_url
            )),
            PrOutcome::AlreadyOpen => ctx
                .out
                .success(format!("the promotion PR is already open: {}", pr.html_url)),
        }
        doc.pr_url = Some(pr.html_url.clone());
        doc.pr_title = Some(pr.title.clone());
        doc.pr = Some(pr_doc(
            s,
            g,
            &p.branch,
            Some(&pr),
            match outcome {
                PrOutcome::Created => "created",
                PrOutcome::AlreadyOpen => "already_open",
            },
        ));
        if outcome == PrOutcome::Created {
            crate::slack::announce(
                ctx,
                crate::slack::Event::PrOpened {
                    app: args.app.name().to_string(),
                    env: s.production_env(),
                    rc,
                    url: pr.html_url.clone(),
                },
            )
            .await;
        }
    }
    finish(ctx, &doc)
}

fn prepare_cut(
    ctx: &Context,
    repo: &Repo,
    remote: &Remote<'_>,
    args: &Args,
    date: jiff::civil::Date,
    staging: Option<(String, deploy_json::DeployInfo)>,
    findings: &mut Findings,
) -> Result<Option<Prepared>> {
    let s = ctx.settings();
    let (oid, source, note) = match (&args.source, staging) {
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
        title: format!("Cut {branch} at {} for {}", short(oid), args.app.name()),
        branch,
        target: oid,
        remote_old,
        already_done,
        push_detail: format!("new branch at {oid} \"{subject}\""),
        notes: vec![note],
        source,
        picked: Vec::new(),
    }))
}

fn prepare_patch(
    ctx: &Context,
    repo: &Repo,
    remote: &Remote<'_>,
    args: &Args,
    date: jiff::civil::Date,
    prod: Option<Oid>,
    findings: &mut Findings,
) -> Result<Option<Prepared>> {
    let s = ctx.settings();
    let mut picks = Vec::new();
    for spec in &args.cherry_pick {
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
    let Some(prod) = prod else { return Ok(None) };
    if !findings.is_empty() {
        return Ok(None);
    }
    let main = repo.remote_branch(&remote.name, &s.git.main_branch);
    for &p in &picks {
        if let Some(m) = main {
            if !repo.is_ancestor(p, m)? {
                ctx.out.warn(format!(
                    "{} is not on {}/{}: land the fix on main too, or the next full release drops it",
                    short(p),
                    remote.name,
                    s.git.main_branch
                ));
            }
        }
    }
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
    let mut notes = Vec::new();
    for p in &picked {
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
        push_detail: format!(
            "new branch at {tip}: {}/{} + {count} cherry-picked commit{}",
            remote.name,
            s.git.prod_branch,
            if count == 1 { "" } else { "s" }
        ),
        branch,
        target: tip,
        remote_old: None,
        already_done: false,
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
            branch,
            target: rc_tip,
            remote_old: Some(rc_tip),
            already_done: true,
            push_detail: String::new(),
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
        push_detail: format!(
            "{} -> {merge}: merge of {prod_name} ({}) with strategy ours (tree unchanged; a fast-forward, no force)",
            short(rc_tip),
            short(prod)
        ),
        branch,
        target: merge,
        remote_old: Some(rc_tip),
        already_done: false,
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

fn finish(ctx: &Context, doc: &Doc) -> Result<()> {
    if ctx.out.is_json() {
        return ctx.out.json("cut-rc", doc);
    }
    if doc.status == "declined" {
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

fn short(oid: Oid) -> String {
    GitSha::from(oid).short().to_string()
}
