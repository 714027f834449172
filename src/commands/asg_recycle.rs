//! `asg-recycle`: Double a role's groups (migration first) and schedule the return to normal size.

use anyhow::Result;
use clap_complete::ArgValueCandidates;
use serde::Serialize;

use crate::monitor::run::{self as mon_run, MonitorRequest};

use crate::context::Context;
use crate::error::usage;
use crate::recycle::plan::RecycleOptions;
use crate::recycle::run::{self, RecycleRequest, Status};
use crate::recycle::Target;
use crate::types::Env;
use crate::types::HumanDuration;

/// Recycle a role's Auto Scaling Groups: new instances come up, the group returns to its size.
///
/// For idp, worker, migration and analytics the migration group gets one instance now and
/// returns to 0 after the spin-down; the role's group doubles after the spin-up delay
/// (`DelayedScaleOutOnce.asg-recycle`) and returns to its size after the spin-down
/// (`RecycleOnce.asg-recycle`). idp recycles worker too (unless --skip-worker). Other roles
/// (pivcac, outboundproxy) double at once. Every group is checked before any is changed; after
/// the confirmation the groups are read again and the times counted from then (a change by
/// someone else meanwhile refuses, exit 3).
/// With --monitor, once the new instances are in service, monitor-deploy judges the new sha
/// and its verdict is the exit status. Afterwards, remove the old instances with
/// `scale-remove-old-instances`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Environment: prod, staging, int, dev, or any with groups named by `naming.asg`.
    #[arg(add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Env,
    /// Role (idp, worker, migration, pivcac, analytics, outboundproxy...) or ALL: every group
    /// of the environment except `naming.skip_tags` ones and empty ones.
    #[arg(add = ArgValueCandidates::new(crate::complete::roles_or_all))]
    pub role: String,
    #[command(flatten)]
    pub flags: RecycleFlags,
    /// Once the new instances are InService and Healthy (implies --watch), run monitor-deploy
    /// for the role and exit with its verdict: 0 PASS, 5 FAIL (with the rollback command), 6
    /// INCONCLUSIVE or NO DATA. One role only (not ALL); the role needs its log groups in
    /// monitor.request_log_groups and monitor.event_log_groups (idp has defaults).
    #[arg(short = 'm', long)]
    pub monitor: bool,
    /// With --monitor: how long the monitor may look without a PASS or FAIL (then INCONCLUSIVE).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "15m",
        requires = "monitor"
    )]
    pub monitor_max_duration: HumanDuration,
    /// With --monitor: time between the monitor's looks.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "30s",
        requires = "monitor"
    )]
    pub monitor_interval: HumanDuration,
    /// Poll interval of the monitor's Logs Insights queries (tests and rehearsals).
    #[arg(long, value_name = "DURATION", hide = true, default_value = "1s")]
    pub monitor_poll_interval: HumanDuration,
}

impl Args {
    /// The monitor `--monitor` runs after the recycle: the recycled role's, with the flags'
    /// durations. ALL is a usage error (the original ignored the flag there).
    fn monitor_request(&self) -> Result<Option<MonitorRequest>> {
        if !self.monitor {
            return Ok(None);
        }
        if Target::parse(&self.role) == Target::All {
            return Err(usage(
                "--monitor judges one role's deploy; it cannot be used with ALL",
                "recycle ALL without --monitor, then run `login-release monitor-deploy ENV ROLE` per role",
            ));
        }
        let mut m = MonitorRequest::for_role(&self.env, &self.role);
        m.max_duration = self.monitor_max_duration;
        m.interval = self.monitor_interval;
        m.poll_interval = self.monitor_poll_interval;
        Ok(Some(m))
    }
}

/// The flags asg-recycle and config-recycle share.
#[derive(Debug, Clone, clap::Args)]
pub struct RecycleFlags {
    /// Do not start a migration instance first; the role's group doubles at once.
    #[arg(short = 's', long)]
    pub skip_migration: bool,
    /// With idp: do not recycle the worker group too (honoured by ALL).
    #[arg(short = 'W', long)]
    pub skip_worker: bool,
    /// Head start of the migration instance before the scale-out [default: setting
    /// recycle.spinup_delay, 5m].
    #[arg(long, value_name = "DURATION")]
    pub spinup_delay: Option<HumanDuration>,
    /// From the scale-out to the return to normal size [default: setting
    /// recycle.spindown_delay, 10m, or twice the group's health-check grace period if longer].
    #[arg(long, value_name = "DURATION")]
    pub spindown_delay: Option<HumanDuration>,
    /// Scale-out size of the role's group [default: twice the return-to size].
    #[arg(short = 'i', long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    pub immediate: Option<i32>,
    /// Size the role's group returns to [default: its desired capacity now].
    #[arg(short = 't', long, value_name = "N", value_parser = clap::value_parser!(i32).range(0..))]
    pub return_to: Option<i32>,
    /// Replace a recycle already in progress (its scheduled actions are overwritten).
    #[arg(long)]
    pub force: bool,
    /// After applying, follow the new instances until they are InService and Healthy (and
    /// healthy in their group's target groups).
    #[arg(long)]
    pub watch: bool,
}

impl RecycleFlags {
    /// The request, with defaults from settings; `--immediate`/`--return-to` size one group only.
    pub fn request(&self, ctx: &Context, env: &str, role: &str) -> Result<RecycleRequest> {
        let target = Target::parse(role);
        if target == Target::All && (self.immediate.is_some() || self.return_to.is_some()) {
            return Err(usage(
                "--immediate and --return-to size one role's group; they cannot be used with ALL",
                "recycle ALL with the default sizes, or name the role",
            ));
        }
        let defaults = &ctx.settings().recycle;
        Ok(RecycleRequest {
            env: env.to_string(),
            target,
            options: RecycleOptions {
                skip_migration: self.skip_migration,
                skip_worker: self.skip_worker,
                spinup: self.spinup_delay.unwrap_or(defaults.spinup_delay).0,
                spinup_explicit: self.spinup_delay.is_some(),
                spindown: self.spindown_delay.unwrap_or(defaults.spindown_delay).0,
                spindown_explicit: self.spindown_delay.is_some(),
                immediate: self.immediate,
                return_to: self.return_to,
                force: self.force,
            },
            watch: self.watch,
            notes: Vec::new(),
            removes_old_itself: false,
            announce_next: true,
            then: Vec::new(),
        })
    }
}

/// The JSON document: the recycle, and the monitor's run when `--monitor` ran it.
#[derive(Serialize)]
struct Doc<'a> {
    #[serde(flatten)]
    recycle: &'a run::RecycleOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    monitor: Option<&'a mon_run::Outcome>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let monitor = args.monitor_request()?;
    let mut req = args.flags.request(ctx, &args.env, &args.role)?;
    if let Some(m) = &monitor {
        // Everything the monitor needs is checked before the fleet changes: a role without log
        // groups must not be found out after its instances were doubled.
        mon_run::preflight(ctx, m).await?;
        req.watch = true;
        req.then.push(mon_run::plan_step(ctx, m));
    }
    let outcome = run::recycle(ctx, &req).await?;
    let judged = match &monitor {
        // `recycle` returns only once the watch saw every new instance InService and Healthy.
        Some(m) if outcome.status == Status::Applied && outcome.watched.is_some() => {
            ctx.out.status(format!(
                "the new instances are in service: monitor-deploy {} {}",
                m.env, m.role
            ));
            Some(mon_run::monitor(ctx, m).await?)
        }
        _ => None,
    };
    if ctx.out.is_json() {
        ctx.out.json(
            "asg-recycle",
            &Doc {
                recycle: &outcome,
                monitor: judged.as_ref(),
            },
        )?;
    }
    match &judged {
        Some(j) => mon_run::verdict_result(j),
        None => Ok(()),
    }
}
