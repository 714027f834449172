//! The arguments of `deploy` and its subcommands, and the options a release keeps.

use std::time::Duration;

use anyhow::Result;
use clap::Subcommand;
use clap_complete::ArgValueCandidates;
use serde_json::json;

use crate::deploy::calendar::DeployKind;
use crate::release::cut::App;
use crate::types::{Env, HumanDuration, RcNumber};

/// The steps, for `deploy --help` and its man page.
pub const AFTER_HELP: &str = "\
The steps, each the step command's own preflight, plan, confirmation and verification:
   1 preflight    the deploy calendar, no other release active, staging's deploy.json, no recycle
                  in progress and no extra servers, a signing key, GitHub access
   2 cut          cut-rc --open-pr (or --patch --cherry-pick): the RC branch and promotion PR
   3 merge        wait for an approval and the merge (a normal merge; never squash); once
                  approved, deploy offers to merge it. Closed unmerged stops (exit 5);
                  squash-merged stops and offers only the rollback, which reverts the squash
   4 recycle      asg-recycle (idp: migration first, idp and worker; pki: pivcac)
   5 migration    watch-migration to the success marker (idp); ABANDON stops (exit 5)
   6 in service   the new instances InService and Healthy in their groups and healthy in
                  their target groups, before the scale-down (else exit 5)
   7 monitor      monitor-deploy: FAIL stops and offers the rollback
   8 remove old   scale-remove-old-instances after the scale-down (with a countdown)
   9 soak         deploy.soak with a last monitor look, then the manual checks in production,
                  each confirmed by a person (or `deploy resume --checks-done`)
  10 tag          tag-release --github-release: the signed tag and the GitHub release

The release record lives on origin under deploy.record_ref (refs/login-release/deploys/ENV):
every update is a fast-forward push, so two writers cannot both win and a second `deploy start`
is refused while one is active. Ctrl-C saves the record; `deploy resume` goes on. Each step
re-reads the world before acting, so a resume after a crash or a lost call (exit 4) finishes
what was done in part (a recycle half applied is recycled again over itself).";

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    /// Start a release: preflight, take the lock, run the steps.
    Start(StartArgs),
    /// Where the release stands, from any clone.
    Status(EnvArgs),
    /// Go on from the first step not done.
    Resume(ResumeArgs),
    /// The runbook's rollback from wherever the release is.
    Rollback(ReasonArgs),
    /// End the release record (and free the lock) without touching production.
    Abort(ReasonArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct EnvArgs {
    /// The environment released.
    #[arg(long, value_name = "ENV", default_value = "prod")]
    #[arg(add = ArgValueCandidates::new(crate::complete::environments))]
    pub env: Env,
}

/// How the steps run: shared by `start` and `resume`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunFlags {
    /// The manual checks in production are done (sign in, sign up, proofing on a new account):
    /// record them as confirmed by you. Scripts use this; `--yes` never confirms them.
    #[arg(long)]
    pub checks_done: bool,
    /// Take the lock over from its holder (recorded with --reason).
    #[arg(long, requires = "reason")]
    pub steal: bool,
    /// How long the monitor step looks before it is INCONCLUSIVE.
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub monitor_duration: HumanDuration,
    /// Polling interval of the waits (GitHub, instances, the monitor's looks): tests and
    /// rehearsals.
    #[arg(long, value_name = "DURATION", hide = true)]
    pub poll_interval: Option<HumanDuration>,
}

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Which app to release.
    #[arg(value_enum, default_value_t = App::Idp)]
    pub app: App,
    #[command(flatten)]
    pub env: EnvArgs,
    /// The RC number [default: the next after the last release on GitHub].
    #[arg(long, value_name = "N")]
    pub rc: Option<RcNumber>,
    /// A patch deploy: a patch branch from production with --cherry-pick commits.
    #[arg(long, requires = "cherry_pick")]
    pub patch: bool,
    /// Commits to pick onto the patch branch, in order.
    #[arg(long = "cherry-pick", value_name = "SHA", num_args = 1.., requires = "patch")]
    pub cherry_pick: Vec<String>,
    /// A deploy outside the deploy calendar (recorded and announced): a full deploy off its
    /// days, or an emergency patch on a weekend or a holiday.
    #[arg(long, requires = "reason")]
    pub off_cycle: bool,
    /// Why: for --off-cycle and --steal.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub run: RunFlags,
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    pub env: EnvArgs,
    /// The app the release is of: refused if it contradicts the record.
    #[arg(long, value_enum)]
    pub app: Option<App>,
    /// The RC number: refused if it contradicts the record.
    #[arg(long, value_name = "N")]
    pub rc: Option<RcNumber>,
    /// Why: for --steal.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub run: RunFlags,
}

#[derive(Debug, clap::Args)]
pub struct ReasonArgs {
    #[command(flatten)]
    pub env: EnvArgs,
    /// Why (recorded in the release record and announced).
    #[arg(long, value_name = "TEXT", required = true)]
    pub reason: String,
    /// Take the lock over from its holder first (recorded with the reason).
    #[arg(long)]
    pub steal: bool,
}

/// The start's options as the record keeps them, for `resume` to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub app: App,
    pub kind: DeployKind,
    pub rc: Option<RcNumber>,
    pub cherry_pick: Vec<String>,
}

impl Options {
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "app": self.app.name(),
            "rc": self.rc.map(|r| r.to_string()),
            "cherry_pick": self.cherry_pick,
        })
    }

    pub fn from_record(r: &crate::deploy::record::Record) -> Result<Options> {
        let app = match r.app.as_str() {
            "idp" => App::Idp,
            "pki" => App::Pki,
            other => anyhow::bail!("the release record names an unknown app `{other}`"),
        };
        let rc = r
            .options
            .get("rc")
            .and_then(|v| v.as_str())
            .map(|s| s.parse::<RcNumber>())
            .transpose()
            .map_err(|e| anyhow::anyhow!("the release record's RC: {e}"))?;
        let cherry_pick = r
            .options
            .get("cherry_pick")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Options {
            app,
            kind: r.kind,
            rc,
            cherry_pick,
        })
    }
}

/// The pacing of the waits, from the hidden `--poll-interval` (tests, rehearsals).
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    /// The first wait between two looks at GitHub or the fleet.
    pub poll: Duration,
    /// The longest wait (backoff doubles up to it).
    pub max_poll: Duration,
    pub monitor_duration: Duration,
    /// `--poll-interval` as given: the step commands' own pacing otherwise.
    pub explicit: Option<Duration>,
}

impl Pacing {
    pub fn from(flags: &RunFlags) -> Pacing {
        let poll = flags.poll_interval.map_or(Duration::from_secs(5), |d| {
            d.0.max(Duration::from_millis(50))
        });
        Pacing {
            poll,
            max_poll: (poll * 12).min(Duration::from_secs(60)).max(poll),
            monitor_duration: flags.monitor_duration.0,
            explicit: flags.poll_interval.map(|d| d.0),
        }
    }
}
