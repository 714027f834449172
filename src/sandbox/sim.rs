//! The world simulator (`login-release sandbox world-run`, started detached by `sandbox up`):
//! every tick it does what AWS and the instances would do, which the emulator does not.
//!
//! - runs one-time scheduled actions once their time came, then deletes them as AWS does
//!   (never the Terraform-owned `auto-recycle.*` / `auto-zero.*` ones, never recurring ones);
//! - tags each new instance `gitsha:<role>` with the sha `stages/prod` holds in the sandbox's
//!   origin at launch (chef deploys that branch), and takes it Pending -> Pending:Wait (it
//!   provisions) -> InService -> healthy in its target groups once the grace period is over;
//! - writes each new migration instance's cloud-init log, ending in the success marker;
//! - terminates unprotected instances above a group's desired capacity, oldest first;
//! - writes the idp's request and event logs, per sha, at the configured rates.
//!
//! Its state goes to `DIR/world/status.json` (for `sandbox status`), its log to `DIR/world.log`.
//! It stops when the sandbox's directory goes or the emulator dies, saying why in the status.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::control::{Control, Lifecycle, TargetHealth};
use super::faults::Faults;
use super::provision::{self, Outcome};
use super::timings::WorldConfig;
use super::traffic::{log_groups, Traffic};
use super::world::{self, State};
use crate::aws::fleet::{Group, ScheduledAction};
use crate::aws::{call_failed, sdk_message, Aws};
use crate::config::Settings;

/// Where an instance is in its life, as the world plays it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Launched, not provisioning yet (`Pending`).
    Pending,
    /// provision.sh runs (`Pending:Wait`).
    Provisioning,
    /// InService, in the health-check grace period (target `initial`).
    Grace,
    /// InService and healthy: serves traffic.
    Healthy,
    /// InService, failing its health checks (`sandbox break health`).
    Unhealthy,
}

/// One instance as `sandbox status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceView {
    pub group: String,
    pub phase: Phase,
    pub sha: Option<String>,
}

/// `DIR/world/status.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorldStatus {
    pub pid: u32,
    pub started_at: String,
    pub last_tick_at: String,
    pub ticks: u64,
    pub running: bool,
    pub stopped_reason: Option<String>,
    pub instances: BTreeMap<String, InstanceView>,
    /// The last things the world did, oldest first.
    pub recent: Vec<String>,
}

impl WorldStatus {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("world").join("status.json")
    }

    pub fn load(dir: &Path) -> Result<Option<WorldStatus>> {
        let path = Self::path(dir);
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(Some(
                serde_json::from_str(&t).with_context(|| format!("reading {}", path.display()))?,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
}

/// The marker in the simulator's command line (`sandbox down` stops only that process).
pub const MARKER: &str = "world-run";

const RECENT: usize = 12;
/// Consecutive failed ticks before the world gives up.
const MAX_FAILED_TICKS: u32 = 5;

#[derive(Debug, Clone)]
struct Tracked {
    group: String,
    role: String,
    phase: Phase,
    since: Timestamp,
    sha: Option<String>,
    migration: bool,
    in_target_groups: bool,
    /// Provision lines written so far (migration instances).
    written: usize,
    outcome: Outcome,
}

pub struct World {
    dir: PathBuf,
    state: State,
    settings: Settings,
    aws: Aws,
    control: Control,
    tracked: BTreeMap<String, Tracked>,
    traffic: Traffic,
    log_groups_made: BTreeSet<String>,
    streams_made: BTreeSet<(String, String)>,
    status: WorldStatus,
    recent: VecDeque<String>,
    first_tick: bool,
}

impl World {
    pub async fn new(dir: &Path, settings: Settings) -> Result<Self> {
        let state = State::load(dir)?.context("no sandbox state in the directory")?;
        let aws = Aws::for_endpoint(&state.emulator.url, &state.region).await?;
        let control = Control::new(&state.emulator.url, &state.region)?;
        let now = Timestamp::now();
        Ok(World {
            dir: dir.to_path_buf(),
            settings,
            aws,
            control,
            tracked: BTreeMap::new(),
            traffic: Traffic::load(dir)?,
            log_groups_made: BTreeSet::new(),
            streams_made: BTreeSet::new(),
            status: WorldStatus {
                pid: std::process::id(),
                started_at: now.to_string(),
                last_tick_at: now.to_string(),
                ticks: 0,
                running: true,
                stopped_reason: None,
                instances: BTreeMap::new(),
                recent: Vec::new(),
            },
            recent: VecDeque::new(),
            first_tick: true,
            state,
        })
    }

    /// Records what the world did: in `sandbox status`'s recent lines, and on stdout, which
    /// `sandbox up` points at `DIR/world.log` (the world's journal, not the user's terminal).
    #[allow(clippy::print_stdout)]
    fn say(&mut self, what: String) {
        let line = format!("{} {what}", Timestamp::now().strftime("%H:%M:%S"));
        println!("{line}");
        self.recent.push_back(line);
        while self.recent.len() > RECENT {
            self.recent.pop_front();
        }
    }

    fn save_status(&mut self) -> Result<()> {
        self.status.recent = self.recent.iter().cloned().collect();
        self.status.instances = self
            .tracked
            .iter()
            .map(|(id, t)| {
                (
                    id.clone(),
                    InstanceView {
                        group: t.group.clone(),
                        phase: t.phase,
                        sha: t.sha.clone(),
                    },
                )
            })
            .collect();
        world::write_atomic(
            &WorldStatus::path(&self.dir),
            &(serde_json::to_string_pretty(&self.status)? + "\n"),
        )
    }

    /// Ticks until the sandbox goes or the emulator dies.
    pub async fn run(mut self) -> Result<()> {
        let mut failed = 0;
        loop {
            if !State::path(&self.dir).exists() {
                // `sandbox down` removed the directory: nothing left to play.
                return Ok(());
            }
            let cfg = WorldConfig::load(&self.dir)?;
            if !world::is_ours(self.state.emulator.pid, &self.state.emulator.marker) {
                return self.stop(format!(
                    "the AWS emulator (pid {}) is not running any more",
                    self.state.emulator.pid
                ));
            }
            match self.tick(&cfg).await {
                Ok(()) => failed = 0,
                Err(e) => {
                    failed += 1;
                    self.say(format!("tick failed: {e:#}"));
                    if failed >= MAX_FAILED_TICKS {
                        return self.stop(format!(
                            "{MAX_FAILED_TICKS} ticks in a row failed, the last with: {e:#}"
                        ));
                    }
                }
            }
            self.status.ticks += 1;
            self.status.last_tick_at = Timestamp::now().to_string();
            self.save_status()?;
            tokio::time::sleep(Duration::from_millis(cfg.tick_ms.max(100))).await;
        }
    }

    fn stop(&mut self, reason: String) -> Result<()> {
        self.say(format!("stopping: {reason}"));
        self.status.running = false;
        self.status.stopped_reason = Some(reason);
        if self.dir.exists() {
            self.save_status()?;
        }
        Ok(())
    }

    async fn tick(&mut self, cfg: &WorldConfig) -> Result<()> {
        let now = Timestamp::now();
        let mut faults = Faults::load(&self.dir)?;
        let faults_before = faults.clone();
        self.run_due_actions(now).await?;
        let env = self.state.env.clone();
        let groups = self.aws.groups_with_prefix(&format!("{env}-")).await?;
        self.track(&groups, now, &mut faults).await?;
        self.advance(now, cfg, &faults).await?;
        self.retire(&groups).await?;
        self.serve(now, cfg, &faults).await?;
        if faults != faults_before {
            faults.save(&self.dir)?;
        }
        self.first_tick = false;
        Ok(())
    }

    /// One-time actions whose time came: apply them, then delete them.
    async fn run_due_actions(&mut self, now: Timestamp) -> Result<()> {
        let actions = self.aws.scheduled_actions(None).await?;
        for a in actions.iter().filter(|a| is_due(a, now)) {
            let mut req = self
                .aws
                .autoscaling
                .update_auto_scaling_group()
                .auto_scaling_group_name(&a.group)
                .set_min_size(a.min)
                .set_max_size(a.max);
            if let Some(d) = a.desired {
                req = req.desired_capacity(d);
            }
            req.send()
                .await
                .map_err(|e| call_failed("UpdateAutoScalingGroup", &e))?;
            self.aws
                .autoscaling
                .delete_scheduled_action()
                .auto_scaling_group_name(&a.group)
                .scheduled_action_name(&a.name)
                .send()
                .await
                .map_err(|e| call_failed("DeleteScheduledAction", &e))?;
            let mut sizes = Vec::new();
            for (k, v) in [("min", a.min), ("max", a.max), ("desired", a.desired)] {
                if let Some(v) = v {
                    sizes.push(format!("{k} {v}"));
                }
            }
            self.say(format!(
                "ran scheduled action {} on {}: {}",
                a.name,
                a.group,
                sizes.join(", ")
            ));
        }
        Ok(())
    }

    fn prod_sha(&self) -> Option<String> {
        let repo = git2::Repository::open_bare(&self.state.origin).ok()?;
        let id = repo
            .refname_to_id(&format!("refs/heads/{}", self.settings.git.prod_branch))
            .ok()?;
        Some(id.to_string())
    }

    /// New instances get tagged and held Pending; gone ones are forgotten.
    async fn track(&mut self, groups: &[Group], now: Timestamp, faults: &mut Faults) -> Result<()> {
        let migration_group = self.settings.migration_group(&self.state.env);
        let mut present = BTreeSet::new();
        let mut seeded_ids = Vec::new();
        for g in groups {
            let role = g
                .tags
                .get("prefix")
                .cloned()
                .unwrap_or_else(|| g.name.clone());
            for i in &g.instances {
                if i.lifecycle.starts_with("Terminat") || i.lifecycle.starts_with("Detach") {
                    continue;
                }
                present.insert(i.id.clone());
                if self.tracked.contains_key(&i.id) {
                    continue;
                }
                let migration = g.name == migration_group;
                let mut t = Tracked {
                    group: g.name.clone(),
                    role: role.clone(),
                    phase: Phase::Healthy,
                    since: now,
                    sha: None,
                    migration,
                    in_target_groups: !g.target_group_arns.is_empty(),
                    written: 0,
                    outcome: Outcome::Success,
                };
                if self.first_tick {
                    // The seeded fleet has been running for days.
                    seeded_ids.push(i.id.clone());
                } else {
                    t.phase = Phase::Pending;
                    t.sha = self.prod_sha();
                    if migration && std::mem::take(&mut faults.migration) {
                        t.outcome = Outcome::Abandoned;
                    }
                    if let Some(sha) = &t.sha {
                        self.aws
                            .ec2
                            .create_tags()
                            .resources(&i.id)
                            .tags(
                                aws_sdk_ec2::types::Tag::builder()
                                    .key(format!("gitsha:{role}"))
                                    .value(sha)
                                    .build(),
                            )
                            .send()
                            .await
                            .map_err(|e| call_failed("CreateTags", &e))?;
                    }
                    if t.in_target_groups {
                        self.control
                            .set_target_health(&i.id, TargetHealth::Initial)
                            .await?;
                    }
                    self.say(format!(
                        "{} launched in {} (sha {}){}",
                        i.id,
                        g.name,
                        t.sha.as_deref().map_or("unknown", |s| &s[..9.min(s.len())]),
                        if t.outcome == Outcome::Abandoned {
                            ": its provision will abandon (sandbox break migration)"
                        } else {
                            ""
                        }
                    ));
                }
                self.tracked.insert(i.id.clone(), t);
            }
        }
        if !seeded_ids.is_empty() {
            for inst in self.aws.describe_instances(&seeded_ids).await? {
                if let Some(t) = self.tracked.get_mut(&inst.id) {
                    t.sha = inst.tags.get(&format!("gitsha:{}", t.role)).cloned();
                }
            }
        }
        let gone: Vec<String> = self
            .tracked
            .keys()
            .filter(|id| !present.contains(*id))
            .cloned()
            .collect();
        for id in gone {
            if let Some(t) = self.tracked.remove(&id) {
                self.say(format!("{id} left {}", t.group));
            }
        }
        Ok(())
    }

    /// Moves each new instance one step when its time came.
    async fn advance(&mut self, now: Timestamp, cfg: &WorldConfig, faults: &Faults) -> Result<()> {
        let ids: Vec<String> = self.tracked.keys().cloned().collect();
        for id in ids {
            let t = self.tracked[&id].clone();
            let age = now.duration_since(t.since).as_secs_f64();
            match t.phase {
                Phase::Pending if age >= cfg.pending_secs as f64 => {
                    self.control
                        .set_instance(&id, Lifecycle::PendingWait, None)
                        .await?;
                    self.set_phase(&id, Phase::Provisioning, now);
                }
                Phase::Provisioning => {
                    let done = age >= cfg.provision_secs as f64;
                    if t.migration {
                        self.write_provision(&id, &t, age / cfg.provision_secs.max(1) as f64)
                            .await?;
                    }
                    if done && t.outcome == Outcome::Abandoned {
                        self.abandon(&id, &t.group).await?;
                    } else if done {
                        self.control
                            .set_instance(&id, Lifecycle::InService, Some(true))
                            .await?;
                        self.set_phase(&id, Phase::Grace, now);
                        self.say(format!("{id} is InService in {}", t.group));
                    }
                }
                Phase::Grace if age >= f64::from(cfg.grace_secs.max(0)) => {
                    if faults.health {
                        self.control
                            .set_instance(&id, Lifecycle::InService, Some(false))
                            .await?;
                        if t.in_target_groups {
                            self.control
                                .set_target_health(&id, TargetHealth::Unhealthy)
                                .await?;
                        }
                        self.set_phase(&id, Phase::Unhealthy, now);
                        self.say(format!(
                            "{id} fails its health checks (sandbox break health)"
                        ));
                    } else {
                        if t.in_target_groups {
                            self.control
                                .set_target_health(&id, TargetHealth::Healthy)
                                .await?;
                        }
                        self.set_phase(&id, Phase::Healthy, now);
                        self.say(format!("{id} is healthy in {}", t.group));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn set_phase(&mut self, id: &str, phase: Phase, now: Timestamp) {
        if let Some(t) = self.tracked.get_mut(id) {
            t.phase = phase;
            t.since = now;
        }
    }

    async fn ensure_stream(&mut self, group: &str, stream: &str) -> Result<()> {
        let exists = |m: &str| m.contains("ResourceAlreadyExists");
        if !self.log_groups_made.contains(group) {
            if let Err(e) = self
                .aws
                .logs
                .create_log_group()
                .log_group_name(group)
                .send()
                .await
            {
                if !exists(&sdk_message(&e)) {
                    return Err(call_failed("CreateLogGroup", &e));
                }
            }
            self.log_groups_made.insert(group.to_string());
        }
        let key = (group.to_string(), stream.to_string());
        if !self.streams_made.contains(&key) {
            if let Err(e) = self
                .aws
                .logs
                .create_log_stream()
                .log_group_name(group)
                .log_stream_name(stream)
                .send()
                .await
            {
                if !exists(&sdk_message(&e)) {
                    return Err(call_failed("CreateLogStream", &e));
                }
            }
            self.streams_made.insert(key);
        }
        Ok(())
    }

    async fn put_lines(&mut self, group: &str, stream: &str, lines: &[String]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        self.ensure_stream(group, stream).await?;
        let start = Timestamp::now().as_millisecond();
        let mut req = self
            .aws
            .logs
            .put_log_events()
            .log_group_name(group)
            .log_stream_name(stream);
        for (i, line) in lines.iter().enumerate() {
            req = req.log_events(
                aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                    .timestamp(start + i as i64)
                    .message(line)
                    .build()
                    .context("building a log event")?,
            );
        }
        req.send()
            .await
            .map_err(|e| call_failed("PutLogEvents", &e))?;
        Ok(())
    }

    /// Writes the share `progress` (0..) of a migration instance's provision log; the outcome
    /// line only once the provision is over.
    async fn write_provision(&mut self, id: &str, t: &Tracked, progress: f64) -> Result<()> {
        let lines = provision::lines(
            &self.settings.migration.success_marker,
            id,
            &t.group,
            t.outcome,
        );
        let want = if progress >= 1.0 {
            lines.len()
        } else {
            ((lines.len() as f64 * progress).ceil() as usize).min(lines.len() - 1)
        };
        if want <= t.written {
            return Ok(());
        }
        let group = self.settings.cloud_init_log_group(&self.state.env);
        self.put_lines(&group, id, &lines[t.written..want]).await?;
        if let Some(t) = self.tracked.get_mut(id) {
            t.written = want;
        }
        Ok(())
    }

    /// An abandoned lifecycle action: AWS terminates the instance and the group replaces it.
    async fn abandon(&mut self, id: &str, group: &str) -> Result<()> {
        self.aws
            .autoscaling
            .detach_instances()
            .auto_scaling_group_name(group)
            .instance_ids(id)
            .should_decrement_desired_capacity(false)
            .send()
            .await
            .map_err(|e| call_failed("DetachInstances", &e))?;
        self.aws
            .ec2
            .terminate_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| call_failed("TerminateInstances", &e))?;
        self.tracked.remove(id);
        self.say(format!(
            "{id} ABANDONED its provision and was terminated (sandbox break migration)"
        ));
        Ok(())
    }

    /// Unprotected instances above desired go, oldest first (the groups' OldestInstance policy).
    async fn retire(&mut self, groups: &[Group]) -> Result<()> {
        for g in groups {
            let members: Vec<_> = g
                .instances
                .iter()
                .filter(|i| self.tracked.contains_key(&i.id))
                .collect();
            let surplus = members.len().saturating_sub(g.desired.max(0) as usize);
            let unprotected: Vec<String> = members
                .iter()
                .filter(|i| !i.protected)
                .map(|i| i.id.clone())
                .collect();
            if surplus == 0 || unprotected.is_empty() {
                continue;
            }
            let mut by_age = self.aws.describe_instances(&unprotected).await?;
            by_age.sort_by(|a, b| a.launch_time.cmp(&b.launch_time).then(a.id.cmp(&b.id)));
            let going: Vec<String> = by_age.into_iter().take(surplus).map(|i| i.id).collect();
            self.aws
                .autoscaling
                .detach_instances()
                .auto_scaling_group_name(&g.name)
                .set_instance_ids(Some(going.clone()))
                .should_decrement_desired_capacity(false)
                .send()
                .await
                .map_err(|e| call_failed("DetachInstances", &e))?;
            self.aws
                .ec2
                .terminate_instances()
                .set_instance_ids(Some(going.clone()))
                .send()
                .await
                .map_err(|e| call_failed("TerminateInstances", &e))?;
            for id in &going {
                self.tracked.remove(id);
            }
            self.say(format!(
                "{}: terminated {} (unprotected, above desired {})",
                g.name,
                going.join(", "),
                g.desired
            ));
        }
        Ok(())
    }

    /// Every healthy idp instance serves its share of requests and events.
    async fn serve(&mut self, now: Timestamp, cfg: &WorldConfig, faults: &Faults) -> Result<()> {
        let env = self.state.env.clone();
        let serving: Vec<(String, Tracked)> = self
            .tracked
            .iter()
            .filter(|(_, t)| t.role == "idp" && t.phase == Phase::Healthy)
            .map(|(id, t)| (id.clone(), t.clone()))
            .collect();
        if serving.is_empty() {
            return Ok(());
        }
        let (requests_group, events_group) = log_groups(&env, "idp");
        for (id, t) in serving {
            let sha = t.sha.clone().unwrap_or_else(|| "unknown".to_string());
            let error_rate = match &faults.errors {
                Some(f) if f.applies_to(&sha) => f.rate,
                _ => cfg.error_rate,
            };
            let hostname = format!("idp-{id}.{env}.login.gov");
            let lines = self.traffic.serve(
                &sha,
                &hostname,
                cfg.requests_per_tick,
                error_rate,
                cfg.success_rate,
                now,
            );
            self.put_lines(&requests_group, &hostname, &lines.requests)
                .await?;
            self.put_lines(&events_group, &hostname, &lines.events)
                .await?;
        }
        self.traffic.save(&self.dir)
    }
}

/// A one-time action whose time came; never the Terraform-owned ones or recurring ones.
pub fn is_due(a: &ScheduledAction, now: Timestamp) -> bool {
    let terraform = a.name.starts_with("auto-recycle.") || a.name.starts_with("auto-zero.");
    !terraform && a.recurrence.is_none() && a.start.is_some_and(|t| t <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(name: &str, start: &str, recurrence: Option<&str>) -> ScheduledAction {
        ScheduledAction {
            group: "prod-idp".into(),
            name: name.into(),
            start: Some(start.parse().unwrap()),
            recurrence: recurrence.map(str::to_string),
            desired: Some(8),
            min: None,
            max: None,
        }
    }

    #[test]
    fn only_due_one_time_actions_run() {
        let now: Timestamp = "2026-12-02T04:00:00Z".parse().unwrap();
        assert!(is_due(
            &action(
                "DelayedScaleOutOnce.asg-recycle",
                "2026-12-02T03:59:59Z",
                None
            ),
            now
        ));
        assert!(is_due(
            &action("RecycleOnce.asg-recycle", "2026-12-02T04:00:00Z", None),
            now
        ));
        assert!(!is_due(
            &action("RecycleOnce.asg-recycle", "2026-12-02T04:00:01Z", None),
            now
        ));
        assert!(!is_due(
            &action("auto-recycle.business.start", "2026-12-02T03:00:00Z", None),
            now
        ));
        assert!(!is_due(
            &action("auto-zero.nightly", "2026-12-02T03:00:00Z", None),
            now
        ));
        assert!(!is_due(
            &action("Nightly", "2026-12-02T03:00:00Z", Some("0 5 * * *")),
            now
        ));
    }
}
