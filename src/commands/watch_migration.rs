//! `watch-migration`: follow the newest migration instance's provisioning log until it succeeds
//! or fails.

use anyhow::Result;
use clap_complete::ArgValueCandidates;

use crate::context::Context;
use crate::logs::migration::{self, MigrationRequest};
use crate::types::{Env, HumanDuration};

const AFTER_HELP: &str = "\
Examples:
  login-release watch-migration prod
  login-release watch-migration prod --role idp     # then the newest idp instance
  login-release watch-migration staging --instance i-0abc --timeout 30m

Exit status: 0 the success marker appeared; 1 timed out (the migration may still be running) or AWS
failed; 3 the log group or --instance does not exist; 5 a failure marker appeared, or the instance
went away before the success marker; 130 interrupted (the migration keeps running).";

/// Finds the newest running instance of `{env}-migration` (waiting for one if a recycle has just
/// started), then prints its cloud-init output from CloudWatch Logs (group `naming.cloud_init_log_group`,
/// stream = instance id) from the start, as it arrives, until the success marker (the whole line
/// `All done! provision.sh finished for identity-devops`) or a failure marker.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The environment (prod, staging, int, dev, or a personal one).
    #[arg(value_name = "ENV")]
    #[arg(add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Env,

    /// Follow this instance instead of the newest one.
    #[arg(long, value_name = "ID", conflicts_with = "role")]
    pub instance: Option<String>,

    /// Follow the newest instance named `asg-ENV-ROLE` instead of the migration group's.
    #[arg(long, value_name = "ROLE")]
    #[arg(add = ArgValueCandidates::new(crate::complete::roles))]
    pub role: Option<String>,

    /// Give up after this long (exit 1); waiting for the instance counts.
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub timeout: HumanDuration,

    /// The whole line that marks success [default: setting migration.success_marker].
    #[arg(long, value_name = "LINE")]
    pub success_marker: Option<String>,

    /// Text that marks failure anywhere in a line; repeat for several. Replaces the defaults
    /// (setting migration.failure_markers: an abandoned lifecycle action, a fatal provisioning error).
    #[arg(long = "failure-marker", value_name = "TEXT")]
    pub failure_markers: Vec<String>,

    /// Poll interval while lines arrive (tests and rehearsals; other intervals scale with it).
    #[arg(long, value_name = "DURATION", hide = true)]
    pub poll_interval: Option<HumanDuration>,
}

impl Args {
    pub fn request(&self) -> MigrationRequest {
        MigrationRequest {
            env: self.env.clone(),
            instance: self.instance.clone(),
            role: self.role.clone(),
            timeout: self.timeout.0,
            success_marker: self.success_marker.clone(),
            failure_markers: self.failure_markers.clone(),
            poll_interval: self.poll_interval.map(|d| d.0),
            // A person names the instance (--instance) when the group has already scaled in.
            ended_since: None,
        }
    }
}

pub async fn run(ctx: &Context, args: Args) -> Result<()> {
    let outcome = migration::watch(ctx, &args.request()).await?;
    if ctx.out.is_json() {
        ctx.out.json("watch-migration", &outcome)?;
    }
    outcome.verdict()
}
