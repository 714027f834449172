//! Steps 2 to 10, each the step command's library function. Each step first looks at the world
//! (git, GitHub, AWS) and skips what is already true, so `resume` after a crash, whose record
//! lags behind what was done, heals instead of repeating work.

use std::time::Duration;

use anyhow::Result;
use serde::Serialize;
use serde_json::{json, Value};

use super::args::RunFlags;
use super::scope::{self, groups_of, role_of};
use super::session::Session;
use crate::context::Go;
use crate::deploy::calendar::DeployKind;
use crate::deploy::merge::{classify, PrState};
use crate::deploy::record::{Step, StepState};
use crate::error::{failed, AppError, Kind};
use crate::github::types::{PullRequest, Review};
use crate::monitor::run::{self as mon_run, MonitorRequest};
use crate::monitor::verdict::Verdict;
use crate::outcome::Status;
use crate::plan::Plan;
use crate::recycle::plan::RecycleOptions;
use crate::recycle::progress::Progress;
use crate::recycle::run::{self as recycle_run, RecycleRequest, ScaleRemoveRequest};
use crate::recycle::scale_in::Direction;
use crate::recycle::watch::{self, WatchTarget};
use crate::recycle::{RealClock, Target};
use crate::release::cut::{self, CutRequest, Mode};
use crate::release::github_release::ReleaseRequest;
use crate::release::rc;
use crate::release::tag::{self, TagRequest};
use crate::types::{Env, GitSha, HumanDuration, RcNumber};

/// A step's stop whose only way on is the rollback (a monitor FAIL, a squash-merged
/// promotion): its hint already names `deploy rollback`, so it is the release's next step as it
/// stands, with no "resume" added.
#[derive(Debug)]
pub struct RollBack(pub AppError);

impl std::fmt::Display for RollBack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for RollBack {
    // The AppError under it decides the exit code and carries the hint (`error::report`).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn roll_back(e: AppError) -> anyhow::Error {
    RollBack(e).into()
}

/// How a step ended.
pub enum End {
    /// Done, with what it verified (the step command's own outcome document).
    Done(Option<Value>),
    /// A person said no at a prompt: the release waits for `resume`.
    Paused(String),
}

pub async fn run(s: &mut Session<'_>, step: Step, flags: &RunFlags) -> Result<End> {
    match step {
        // Recorded by `start` before the lock was announced; never pending after it.
        Step::Preflight => Ok(End::Done(None)),
        Step::Cut => cut(s).await,
        Step::Merge => merge(s).await,
        Step::Recycle => recycle(s).await,
        Step::Migration => migration(s).await,
        Step::InService => in_service(s).await,
        Step::Monitor => monitor(s).await,
        Step::RemoveOld => remove_old(s).await,
        Step::Soak => soak(s, flags).await,
        Step::Tag => tag(s).await,
    }
}

/// A step command's outcome as the step's end: applied or already done is done.
fn ended<T: Serialize>(status: Status, outcome: &T) -> Result<End> {
    match status {
        Status::Declined => Ok(End::Paused("the plan was declined".into())),
        Status::DryRun => Ok(End::Paused("dry run".into())),
        Status::Applied | Status::NothingToDo | Status::AlreadyDone => {
            Ok(End::Done(Some(serde_json::to_value(outcome)?)))
        }
    }
}

fn env_of(s: &Session<'_>) -> Result<Env> {
    s.env().parse::<Env>().map_err(|e| anyhow::anyhow!(e))
}

/// The promotion PR the cut step opened: its number and RC.
fn promotion_pr(s: &Session<'_>) -> Result<(u64, Option<RcNumber>)> {
    let pr = scope::promotion_pr(s.record());
    let number = pr.number.ok_or_else(|| {
        failed(
            "the release record has no promotion PR from the cut step",
            "abort this release (`deploy abort --reason TEXT`) and start again",
        )
    })?;
    Ok((number, pr.rc))
}

/// The sha production runs after the merge: the promotion PR's merge commit.
fn new_sha(s: &Session<'_>) -> Option<String> {
    s.verified(Step::Merge)
        .and_then(|v| v.get("merge_sha"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Sleeps `d`, or stops with an interrupted error naming what was being waited for.
async fn pause(s: &Session<'_>, d: Duration, what: &str) -> Result<()> {
    tokio::select! {
        _ = tokio::time::sleep(d) => Ok(()),
        _ = s.ctx.interrupted() => Err(AppError::new(
            Kind::Interrupted,
            format!("stopped {what}; nothing was changed by the wait"),
        )
        .into()),
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Cut

async fn cut(s: &mut Session<'_>) -> Result<End> {
    let o = &s.opts;
    let req = CutRequest {
        mode: match o.kind {
            DeployKind::Full => Mode::Cut,
            DeployKind::Patch => Mode::Patch,
        },
        app: o.app,
        source: None,
        staging_url: None,
        // The release's own date, so a resume on another day finds the same branch.
        date: rc::utc_date(s.record().started_at),
        rc: o.rc,
        open_pr: true,
        cherry_pick: o.cherry_pick.clone(),
        changelog_file: None,
    };
    let out = cut::run(s.ctx, &req).await?;
    ended(out.status, &out)
}

// ---------------------------------------------------------------------------------------------
// 3. Merge

async fn merge(s: &mut Session<'_>) -> Result<End> {
    let (n, _) = promotion_pr(s)?;
    let client = crate::github::connect(s.ctx)?;
    let prod = s.ctx.settings().git.prod_branch.clone();
    let mut wait = s.pacing.poll;
    let mut offered = false;
    let mut last: Option<PrState> = None;
    let mut progress = s
        .ctx
        .out
        .progress(format!("waiting for a review of PR #{n}"));
    loop {
        let pr = client.pull(n).await?;
        let reviews = client.reviews(n).await?;
        let kind = match pr.merged_at {
            Some(_) => Some(client.merge_kind(&pr).await?),
            None => None,
        };
        let state = classify(&pr, &reviews, kind);
        if last.as_ref() != Some(&state) {
            wait = s.pacing.poll;
        }
        match &state {
            PrState::Merged { sha } => {
                progress.finish();
                s.ctx.out.success(format!(
                    "PR #{n} is merged into {prod} ({})",
                    crate::types::prefix(sha, 9)
                ));
                return Ok(merged(&pr, &reviews, sha));
            }
            PrState::Squashed { sha } => {
                progress.finish();
                // Production's branch changed, but not as the runbook's merge: the tag, the
                // changelog and the release would name commits it does not hold.
                return Err(roll_back(
                    AppError::new(
                        Kind::Watched,
                        format!(
                            "PR #{n} was squash-merged ({}): {prod} does not hold the RC's commits, so the tag, the changelog and the release would be wrong",
                            crate::types::prefix(sha, 9)
                        ),
                    )
                    .with_hint(format!(
                        "roll back with `login-release deploy rollback --env {} --reason \"squash-merged\"` (its revert PR undoes the squash), then start the release again",
                        s.env()
                    )),
                ));
            }
            PrState::ClosedUnmerged => {
                progress.finish();
                return Err(AppError::new(
                    Kind::Watched,
                    format!("PR #{n} was closed without merging; {prod} is unchanged"),
                )
                .with_hint("reopen it on GitHub")
                .into());
            }
            PrState::Approved { by } if !offered && s.ctx.can_confirm() => {
                offered = true;
                progress.println(format!("PR #{n} is approved by {}", by.join(", ")));
                if offer_merge(s, &client, &pr).await? {
                    // An answer lost on the way back is found by the next look.
                    continue;
                }
                progress.println(format!("waiting for PR #{n} to be merged on GitHub"));
            }
            PrState::Approved { by } => progress.set(format!(
                "PR #{n} approved by {}; waiting for its merge",
                by.join(", ")
            )),
            PrState::AwaitingReview => {
                progress.set(format!("waiting for a review of PR #{n} ({})", pr.html_url))
            }
            PrState::ChangesRequested { by } => progress.set(format!(
                "PR #{n}: changes requested by {}; waiting",
                by.join(", ")
            )),
        }
        last = Some(state);
        pause(s, wait, &format!("waiting for PR #{n}")).await?;
        wait = (wait * 2).min(s.pacing.max_poll);
    }
}

/// The merge step's outcome: the PR, its merge commit and who approved it.
fn merged(pr: &PullRequest, reviews: &[Review], sha: &str) -> End {
    let approved: Vec<String> = reviews
        .iter()
        .filter(|r| r.state == "APPROVED")
        .filter_map(|r| r.user.as_ref().map(|u| u.login.clone()))
        .collect();
    End::Done(Some(json!({
        "pr": pr.number,
        "url": pr.html_url,
        "merge_sha": sha,
        "approved_by": approved,
    })))
}

/// Offers to merge an approved promotion PR (a merge commit, never squash); the answer is
/// recorded. True when the merge was asked of GitHub.
async fn offer_merge(
    s: &mut Session<'_>,
    client: &crate::github::Client,
    pr: &PullRequest,
) -> Result<bool> {
    let n = pr.number;
    let prod = s.ctx.settings().git.prod_branch.clone();
    let mut plan = Plan::new(format!("Merge PR #{n} into {prod}"))
        .target("pull request", pr.html_url.clone())
        .env(s.env().to_string())
        .now(s.ctx.now());
    plan.push(
        crate::plan::Step::new(
            "merge",
            format!("#{n}"),
            format!(
                "a merge commit of {} into {prod} (never squash)",
                pr.head.ref_name
            ),
        )
        .params(json!({"merge_method": "merge", "sha": pr.head.sha})),
    );
    let question = format!("merge PR #{n}?");
    match s.ctx.confirm(&plan)? {
        Go::Apply => {
            s.decide(Step::Merge, &question, "merged from deploy")?;
            client.merge_pull(n, &pr.head.sha).await?;
            Ok(true)
        }
        Go::Declined | Go::DryRun => {
            s.decide(Step::Merge, &question, "left to GitHub")?;
            Ok(false)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Recycle

/// Where the role's recycle stands in the world, which may be ahead of the record (a crash
/// between a change and the record's push) or unknown to it (a call whose answer was lost).
enum RecycleState {
    /// The role runs the new sha, or its recycle was applied: nothing to do again.
    Already(&'static str),
    /// An earlier run applied part of the recycle: these groups wait for their scale-out.
    PartDone(Vec<String>),
    NotStarted,
}

async fn recycle_state(s: &Session<'_>) -> Result<RecycleState> {
    let aws = s.ctx.aws().await?;
    let role = role_of(s.opts.app);
    let names =
        recycle_run::groups_of(s.ctx.settings(), s.env(), &Target::parse(role)).unwrap_or_default();
    let groups = aws.describe_groups(&names).await?;
    let actions = recycle_run::actions_of(aws, &groups).await?;
    match crate::recycle::progress::progress(&groups, &actions) {
        Progress::Applied => {
            return Ok(RecycleState::Already(
                "a recycle of the role is already in progress",
            ))
        }
        Progress::PartDone(waiting) => return Ok(RecycleState::PartDone(waiting)),
        Progress::NotStarted => {}
    }
    let Some(sha) = new_sha(s) else {
        return Ok(RecycleState::NotStarted);
    };
    let group = s.ctx.settings().asg_name(s.env(), role);
    let ids: Vec<String> = groups
        .into_iter()
        .filter(|g| g.name == group)
        .flat_map(|g| g.instances.into_iter().map(|i| i.id))
        .collect();
    if ids.is_empty() {
        return Ok(RecycleState::NotStarted);
    }
    let running = crate::monitor::running_shas(&aws.describe_instances(&ids).await?, role);
    Ok(if running.iter().any(|r| r.sha == sha) {
        RecycleState::Already("the role already runs the new sha")
    } else {
        RecycleState::NotStarted
    })
}

/// The options that finish a recycle an earlier run left part-done: the recycle again over the
/// one in progress (`--force` keeps the sizes it returns to), without a second migration
/// instance if this release already started one, whose head start then counts from its launch.
async fn finishing(s: &Session<'_>, opts: RecycleOptions) -> Result<RecycleOptions> {
    let aws = s.ctx.aws().await?;
    let migration = s.ctx.settings().migration_group(s.env());
    let launched = aws
        .newest_launched_since(&migration, s.record().started_at)
        .await?;
    Ok(match launched {
        None => RecycleOptions {
            force: true,
            ..opts
        },
        Some(i) => {
            let ran = s.ctx.now().duration_since(i.launch_time).unsigned_abs();
            RecycleOptions {
                force: true,
                skip_migration: true,
                spinup: opts.spinup.saturating_sub(ran),
                spinup_explicit: true,
                ..opts
            }
        }
    })
}

async fn recycle(s: &mut Session<'_>) -> Result<End> {
    let delays = &s.ctx.settings().recycle;
    let options = RecycleOptions {
        spinup: delays.spinup_delay.0,
        spindown: delays.spindown_delay.0,
        ..RecycleOptions::default()
    };
    let (options, notes) = match recycle_state(s).await? {
        RecycleState::Already(why) => {
            s.ctx
                .out
                .status(format!("recycle: {why}; not recycling again"));
            return Ok(End::Done(Some(json!({ "already": why }))));
        }
        RecycleState::PartDone(waiting) => {
            let why = format!(
                "an earlier run applied part of this recycle ({} wait{} for {} scale-out); recycling again over it",
                waiting.join(", "),
                if waiting.len() == 1 { "s" } else { "" },
                if waiting.len() == 1 { "its" } else { "their" },
            );
            s.ctx.out.status(format!("recycle: {why}"));
            (finishing(s, options).await?, vec![why])
        }
        RecycleState::NotStarted => (options, Vec::new()),
    };
    let req = RecycleRequest {
        env: s.env().to_string(),
        target: Target::parse(role_of(s.opts.app)),
        options,
        watch: false,
        notes,
        removes_old_itself: true,
        announce_next: false,
        then: Vec::new(),
    };
    let out = recycle_run::recycle(s.ctx, &req).await?;
    ended(out.status, &out)
}

// ---------------------------------------------------------------------------------------------
// 5. Migration

async fn migration(s: &mut Session<'_>) -> Result<End> {
    if s.opts.app != crate::release::cut::App::Idp {
        return Ok(End::Done(Some(
            json!({"skipped": "pki has no migration instance"}),
        )));
    }
    let spinup = s.ctx.settings().recycle.spinup_delay.0;
    let req = crate::logs::migration::MigrationRequest {
        env: env_of(s)?,
        instance: None,
        role: None,
        // The migration has the head start to itself, then the runbook's 15 minutes.
        timeout: spinup + Duration::from_secs(15 * 60),
        success_marker: None,
        failure_markers: Vec::new(),
        poll_interval: s.pacing.explicit,
        // Resumed after the migration group scaled back in: the instance this release launched
        // is gone, but its log says how the migration ended.
        ended_since: Some(s.record().started_at),
    };
    let watched = crate::logs::migration::watch(s.ctx, &req).await?;
    watched.verdict()?;
    Ok(End::Done(Some(json!({
        "succeeded": true,
        "instance": watched.instance,
        "lines": watched.lines,
        "duration_secs": watched.duration_secs.round(),
    }))))
}

// ---------------------------------------------------------------------------------------------
// 6. New instances in service

fn ts(v: &Value, key: &str) -> Option<jiff::Timestamp> {
    v.get(key)?.as_str()?.parse().ok()
}

/// What the recycle step planned: each launching group's old instances and scale-out size.
fn planned_targets(recycled: &Value) -> Vec<WatchTarget> {
    let Some(groups) = recycled.get("groups").and_then(Value::as_array) else {
        return Vec::new();
    };
    groups
        .iter()
        // The migration instance is followed by the migration step and goes at its return time.
        .filter(|g| g.get("mode").and_then(Value::as_str) != Some("migration"))
        .filter_map(|g| {
            let old: std::collections::BTreeSet<String> = g
                .get("old_instances")?
                .as_array()?
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect();
            let scale_out_to = g.get("scale_out_to")?.as_u64()? as usize;
            let want = scale_out_to.saturating_sub(old.len());
            if want == 0 {
                return None;
            }
            Some(WatchTarget {
                group: g.get("group")?.as_str()?.to_string(),
                old,
                want,
                scale_out_at: ts(g, "scale_out_at")?,
                deadline: ts(g, "return_at")?,
            })
        })
        .collect()
}

/// When the record does not have the plan (a recycle found already applied), the world does:
/// the instances not running the new sha are the old ones, the scale-out action gives the size.
async fn targets_from_world(s: &Session<'_>) -> Result<Vec<WatchTarget>> {
    let aws = s.ctx.aws().await?;
    let sha = new_sha(s).unwrap_or_default();
    let names: Vec<String> = groups_of(s.ctx, s.env(), s.opts.app)
        .into_iter()
        .filter(|g| *g != s.ctx.settings().migration_group(s.env()))
        .collect();
    let actions = aws.scheduled_actions(None).await?;
    let mut out = Vec::new();
    for g in aws.describe_groups(&names).await? {
        let ids: Vec<String> = g.instances.iter().map(|i| i.id.clone()).collect();
        let instances = if ids.is_empty() {
            Vec::new()
        } else {
            aws.describe_instances(&ids).await?
        };
        let old: std::collections::BTreeSet<String> = instances
            .iter()
            .filter(|i| !i.tags.values().any(|v| *v == sha))
            .map(|i| i.id.clone())
            .collect();
        let of = |name: &str| actions.iter().find(|a| a.group == g.name && a.name == name);
        let (Some(out_at), Some(back)) = (
            of(crate::aws::fleet::DELAYED_SCALE_OUT),
            of(crate::aws::fleet::RECYCLE_ONCE),
        ) else {
            continue;
        };
        let want = (out_at.desired.unwrap_or(g.desired) as usize).saturating_sub(old.len());
        if let (Some(at), Some(deadline), true) = (out_at.start, back.start, want > 0) {
            out.push(WatchTarget {
                group: g.name.clone(),
                old,
                want,
                scale_out_at: at,
                deadline,
            });
        }
    }
    Ok(out)
}

async fn in_service(s: &mut Session<'_>) -> Result<End> {
    let recycled = s.verified(Step::Recycle).cloned().unwrap_or(Value::Null);
    let mut targets = planned_targets(&recycled);
    if targets.is_empty() {
        targets = targets_from_world(s).await?;
    }
    if targets.is_empty() {
        s.ctx
            .out
            .status("no recycle is in progress: nothing to wait for");
        return Ok(End::Done(Some(json!({"groups": []}))));
    }
    let aws = s.ctx.aws().await?;
    let names: Vec<String> = targets.iter().map(|t| t.group.clone()).collect();
    let clock = RealClock::starting_at(s.ctx.now());
    let mut progress = s.ctx.out.progress("waiting for the new instances");
    let tick = s.pacing.explicit.unwrap_or(watch::TICK);
    let watched = tokio::select! {
        r = watch::watch_new_instances(
            &clock,
            &targets,
            tick,
            async || watch::observe(aws, &names).await,
            |line| progress.set(line.to_string()),
        ) => r?,
        _ = s.ctx.interrupted() => {
            return Err(AppError::new(Kind::Interrupted, "stopped waiting for the new instances; the recycle goes on").into());
        }
    };
    progress.finish();
    match watched {
        Ok(done) => {
            s.ctx.out.success(
                "the new instances are InService and Healthy, in their groups and target groups",
            );
            Ok(End::Done(Some(json!({ "groups": done }))))
        }
        Err(why) => Err(AppError::new(
            Kind::Watched,
            format!("the new instances did not become healthy: {why}"),
        )
        .with_hint(format!(
            "look at them with `login-release ls-servers -e {}`",
            s.env()
        ))
        .into()),
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Monitor

fn monitor_request(s: &Session<'_>, max: Duration) -> Result<MonitorRequest> {
    let mut req = MonitorRequest::for_role(&env_of(s)?, role_of(s.opts.app));
    req.max_duration = HumanDuration(max);
    if let Some(p) = s.pacing.explicit {
        // A look every ten polls: each look spends part of the false-alarm rate.
        req.interval = HumanDuration(p.max(Duration::from_secs(1)) * 10);
        req.poll_interval = HumanDuration(p);
    }
    Ok(req)
}

async fn monitor(s: &mut Session<'_>) -> Result<End> {
    let req = monitor_request(s, s.pacing.monitor_duration)?;
    let out = mon_run::monitor(s.ctx, &req).await?;
    match out.verdict {
        Verdict::Pass | Verdict::Pending => Ok(End::Done(Some(serde_json::to_value(&out)?))),
        Verdict::Fail => Err(monitor_failed(s.env(), &out.reason)),
        Verdict::Inconclusive | Verdict::NoData => {
            let question = format!(
                "The monitor is {}: {}. Go on with the release?",
                out.verdict, out.reason
            );
            if !crate::prompt::can_ask() {
                return Err(mon_run::verdict_result(&out).unwrap_err());
            }
            let yes = crate::prompt::ask(&question)?;
            s.decide(Step::Monitor, &question, if yes { "go on" } else { "stop" })?;
            if yes {
                Ok(End::Done(Some(serde_json::to_value(&out)?)))
            } else {
                Ok(End::Paused(format!(
                    "the monitor was {} and you chose to stop; roll back with `login-release deploy rollback --env {} --reason TEXT`",
                    out.verdict,
                    s.env()
                )))
            }
        }
    }
}

fn monitor_failed(env: &str, reason: &str) -> anyhow::Error {
    roll_back(
        AppError::new(
            Kind::Watched,
            format!("the monitor FAILED the new code: {reason}"),
        )
        .with_hint(format!(
            "roll back now: `login-release deploy rollback --env {env} --reason \"monitor FAIL\"`"
        )),
    )
}

// ---------------------------------------------------------------------------------------------
// 8. Remove the old instances

async fn remove_old(s: &mut Session<'_>) -> Result<End> {
    let migration = s.ctx.settings().migration_group(s.env());
    let mut req = ScaleRemoveRequest::new(s.env(), Target::All, Direction::Old);
    req.only = Some(
        groups_of(s.ctx, s.env(), s.opts.app)
            .into_iter()
            .filter(|g| *g != migration)
            .collect(),
    );
    req.wait = true;
    let out = recycle_run::scale_remove(s.ctx, &req).await?;
    ended(out.status, &out)
}

// ---------------------------------------------------------------------------------------------
// 9. Soak and the manual checks

async fn soak(s: &mut Session<'_>, flags: &RunFlags) -> Result<End> {
    let soak = s.ctx.settings().deploy.soak.0;
    // Counted from the removal of the old instances, so a resume does not start the hour again.
    let from = match &s.record().step(Step::RemoveOld).state {
        StepState::Done { ended, .. } => *ended,
        _ => s.ctx.now(),
    };
    let until = from + soak;
    let clock = RealClock::starting_at(s.ctx.now());
    let mut progress = s.ctx.out.progress("soaking");
    let tick = s.pacing.explicit.unwrap_or(watch::TICK);
    tokio::select! {
        _ = watch::wait_until(&clock, until, tick, |left| {
            progress.set(watch::countdown("the end of the soak", until, left))
        }) => {}
        _ = s.ctx.interrupted() => {
            return Err(AppError::new(Kind::Interrupted, "stopped the soak; production is unchanged").into());
        }
    }
    progress.finish();
    let last_look = last_look(s).await?;
    checks(s, flags)?;
    Ok(End::Done(Some(json!({
        "soak_secs": soak.as_secs(),
        "from": from,
        "monitor": last_look,
        "checks": s.record().attestations,
    }))))
}

/// One more look at the monitor over the whole release, with the shas the monitor step judged
/// (the old instances are gone now, so they can no longer be read off the fleet).
async fn last_look(s: &Session<'_>) -> Result<Value> {
    let judged = s.verified(Step::Monitor);
    let sha = |key: &str| -> Option<GitSha> { judged?.get(key)?.as_str()?.parse().ok() };
    let (Some(old), Some(new)) = (sha("old_sha"), sha("new_sha")) else {
        return Ok(Value::Null);
    };
    let mut req = monitor_request(s, Duration::from_secs(60))?;
    req.once = true;
    req.old_sha = Some(old);
    req.new_sha = Some(new);
    let out = mon_run::monitor(s.ctx, &req).await?;
    if out.verdict == Verdict::Fail {
        return Err(monitor_failed(s.env(), &out.reason));
    }
    Ok(json!({"verdict": out.verdict, "reason": out.reason}))
}

/// The manual checks: a person confirms each one (never `--yes`).
fn checks(s: &mut Session<'_>, flags: &RunFlags) -> Result<()> {
    let all = s.ctx.settings().deploy.checks.clone();
    for check in &all {
        if s.record().attestations.iter().any(|a| &a.check == check) {
            continue;
        }
        if flags.checks_done {
            s.attest(check)?;
            continue;
        }
        if !crate::prompt::can_ask() {
            return Err(AppError::new(
                Kind::Preflight,
                format!("the manual check `{check}` needs a person to confirm it"),
            )
            .with_hint(format!(
                "do the checks in production ({}), then `login-release deploy resume --env {} --checks-done`",
                all.join("; "),
                s.env()
            ))
            .into());
        }
        if crate::prompt::ask(&format!("Done in production: {check}?"))? {
            s.attest(check)?;
        } else {
            return Err(AppError::new(
                Kind::Watched,
                format!("the manual check `{check}` was not confirmed"),
            )
            .with_hint("do the check again in production")
            .into());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 10. Tag and publish

async fn tag(s: &mut Session<'_>) -> Result<End> {
    let (n, rc) = promotion_pr(s)?;
    let req = TagRequest {
        rc,
        no_sign: false,
        github_release: Some(ReleaseRequest {
            rc,
            pr: Some(n.to_string()),
        }),
    };
    let out = tag::run(s.ctx, &req).await?;
    ended(out.status, &out)
}
