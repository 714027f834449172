//! `monitor-deploy`: compare the new sha against the old one in the role's logs, tick by tick,
//! until a verdict (PASS, FAIL) or `--max-duration` (INCONCLUSIVE or NO DATA). The flags and the
//! exit status; the run is [`crate::monitor::run`].

use anyhow::Result;
use clap_complete::ArgValueCandidates;

use crate::context::Context;
use crate::monitor::run::{monitor, verdict_result, MonitorRequest};
use crate::types::{Env, GitSha, HumanDuration};

const AFTER_HELP: &str = "\
Examples:
  login-release monitor-deploy prod                 # idp: the two shas its instances run
  login-release monitor-deploy prod idp --max-duration 30m --interval 1m
  login-release monitor-deploy staging --old-sha 0123... --new-sha 4567... --once -o json

Per metric (5xx rate; document upload, verify, phone and MFA success; proofings per attempt) the
interval of new - old: FAIL beyond the allowed degradation, PASS within it with the minimum count
on each side, NO DATA below the minimum count, else INCONCLUSIVE. Critical metrics: 5xx and MFA.
Thresholds, minimum counts, alpha, lag and log groups are `monitor.*` settings.

Exit status: 0 PASS; 5 FAIL (prints the rollback command); 6 INCONCLUSIVE or NO DATA; 3 not
exactly two shas, a log group missing or none configured; 1 AWS or query failure; 2 usage;
130 interrupted (after the last table).";

/// Old sha against new sha in the role's request and event logs (CloudWatch Logs Insights),
/// with a statistical verdict.
///
/// Both shas are compared over the same window: from the new sha's first request to now less
/// the ingestion lag; the old sha is also compared with itself over as long a window before the
/// deploy (a change that breaks the old code too). Each tick queries only the new slice of time.
/// The false-alarm rate (setting monitor.alpha) is spent over the planned looks
/// (max-duration / interval), so looking every tick does not inflate it.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The environment (prod, staging, int, dev, or a personal one).
    #[arg(add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Env,
    /// The role whose deploy to judge; its log groups come from monitor.request_log_groups and
    /// monitor.event_log_groups.
    #[arg(default_value = "idp", add = ArgValueCandidates::new(crate::complete::roles))]
    pub role: String,
    /// The sha before the deploy [default: the earlier-launched sha of the role's instances].
    #[arg(long, value_name = "SHA")]
    pub old_sha: Option<GitSha>,
    /// The sha being deployed [default: the later-launched sha of the role's instances].
    #[arg(long, value_name = "SHA")]
    pub new_sha: Option<GitSha>,
    /// Stop after this long without a PASS or FAIL: INCONCLUSIVE (never PASS).
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub max_duration: HumanDuration,
    /// Time between looks.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub interval: HumanDuration,
    /// One look over everything so far, with the whole alpha, then the verdict (a script's check).
    #[arg(long)]
    pub once: bool,
    /// Poll interval of Logs Insights queries (tests and rehearsals).
    #[arg(long, value_name = "DURATION", hide = true, default_value = "1s")]
    pub poll_interval: HumanDuration,
}

impl Args {
    pub fn request(&self) -> MonitorRequest {
        MonitorRequest {
            env: self.env.clone(),
            role: self.role.clone(),
            old_sha: self.old_sha.clone(),
            new_sha: self.new_sha.clone(),
            max_duration: self.max_duration,
            interval: self.interval,
            once: self.once,
            poll_interval: self.poll_interval,
        }
    }
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let outcome = monitor(ctx, &args.request()).await?;
    if ctx.out.is_json() {
        ctx.out.json("monitor-deploy", &outcome)?;
    }
    verdict_result(&outcome)
}
