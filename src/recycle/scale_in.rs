//! Which instances to keep and which to unprotect (original-tools.md sections 9 and 13), as pure
//! functions over the fleet model.
//!
//! Production groups are protected from scale-in, so when a recycle returns a group from 2N to N
//! nothing leaves until the surplus is unprotected. `Old` keeps the newest instances (after a
//! recycle), `New` keeps the oldest (a rollback). Neither terminates anything or changes the
//! desired capacity, except `New` during a recycle window: it cancels the recycle (deletes both
//! pending actions, sets desired back to the pre-recycle size) before unprotecting the newest.
//!
//! Fixed defects of the original: every instance that counts toward capacity is considered
//! (pending ones too, not only EC2-`running`); ALL collects every group's findings instead of
//! stopping at the first unsafe group; the recycle's scale-down time is enforced.

use jiff::Timestamp;
use serde::Serialize;

use super::plan::{is_leaving, Skipped, IDP_ROLE, WORKER_ROLE};
use super::{env_groups, missing_group, role_of, skip_tag, Finding, Target};
use crate::aws::apply::Call;
use crate::aws::fleet::{Group, Instance, ScheduledAction, DELAYED_SCALE_OUT, RECYCLE_ONCE};
use crate::config::Settings;
use crate::plan::{relative, rfc3339};

/// Which end of the group to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Keep the newest `desired` instances (`scale-remove-old-instances`).
    Old,
    /// Keep the oldest `desired` instances (`scale-remove-new-instances`, rollback).
    New,
}

impl Direction {
    pub fn command(self) -> &'static str {
        match self {
            Direction::Old => "scale-remove-old-instances",
            Direction::New => "scale-remove-new-instances",
        }
    }

    fn kept(self) -> &'static str {
        match self {
            Direction::Old => "newest",
            Direction::New => "oldest",
        }
    }
}

/// A member of a group with what the rules look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub id: String,
    pub image_id: String,
    /// `None` when EC2 did not return the instance (sorted as the oldest).
    pub launch_time: Option<Timestamp>,
    pub lifecycle: String,
    pub health: String,
    pub protected: bool,
}

impl Member {
    pub fn in_service_and_healthy(&self) -> bool {
        self.lifecycle == "InService" && self.health == "Healthy"
    }
}

/// Cancelling a recycle in progress (`New` only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cancel {
    /// Recycle actions to delete.
    pub delete: Vec<String>,
    /// Desired capacity now and the pre-recycle size it goes back to.
    pub desired_from: i32,
    pub desired_to: i32,
}

/// One group's scale-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupScaleIn {
    pub group: String,
    pub role: String,
    pub desired: i32,
    /// How many instances stay: the desired capacity, or the size a pending recycle returns to.
    pub keep_count: i32,
    pub keep: Vec<Member>,
    pub remove: Vec<Member>,
    /// Instances on their way out or in standby: not counted.
    pub ignored: Vec<Member>,
    /// `remove` members still protected: what SetInstanceProtection changes.
    pub unprotect: Vec<String>,
    pub cancel: Option<Cancel>,
    /// The pending `RecycleOnce` time, if any.
    pub scale_down_at: Option<Timestamp>,
    pub health_check_type: String,
    pub grace_secs: i32,
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

impl GroupScaleIn {
    /// Nothing to change in this group.
    pub fn is_noop(&self) -> bool {
        self.unprotect.is_empty() && self.cancel.is_none()
    }

    /// When the group removes the unprotected instances: now if its desired capacity is already
    /// the kept count, else when the pending scale-down runs.
    pub fn removal_note(&self) -> String {
        let desired_after = self.cancel.as_ref().map_or(self.desired, |c| c.desired_to);
        let n = self.remove.len();
        if desired_after <= self.keep_count {
            format!(
                "{}: desired {desired_after} with {} instances: the group will now remove the {n} unprotected instance{}",
                self.group,
                self.keep.len() + n,
                if n == 1 { "" } else { "s" }
            )
        } else {
            match self.scale_down_at {
                Some(t) => format!(
                    "{}: the group will remove the unprotected instances when its desired drops to {} at {}",
                    self.group,
                    self.keep_count,
                    rfc3339(t)
                ),
                None => format!(
                    "{}: the group will remove the unprotected instances when its desired drops to {}",
                    self.group, self.keep_count
                ),
            }
        }
    }
}

/// The options of a scale-in run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub direction: Direction,
    /// Old mode: do not wait for the recycle's scale-down time.
    pub force: bool,
    pub now: Timestamp,
}

/// The whole run: selected groups, skipped ones, and every finding.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScaleInPlan {
    pub groups: Vec<GroupScaleIn>,
    pub skipped: Vec<Skipped>,
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

impl ScaleInPlan {
    /// Every finding: selection problems first, then each group's.
    pub fn all_findings(&self) -> Vec<Finding> {
        let mut out = self.findings.clone();
        for g in &self.groups {
            out.extend(g.findings.iter().cloned());
        }
        out
    }

    /// Groups without findings (what `--skip-unsafe` applies).
    pub fn safe_groups(&self) -> impl Iterator<Item = &GroupScaleIn> {
        self.groups.iter().filter(|g| g.findings.is_empty())
    }

    /// The calls for `groups`, in an order a re-run can always finish: desired capacities back to
    /// the pre-recycle size first, then the recycle actions deleted, then protection removed.
    /// A failure after step 1 leaves the actions in place, so a re-run still sees the recycle.
    pub fn calls<'a>(groups: impl IntoIterator<Item = &'a GroupScaleIn> + Clone) -> Vec<Call> {
        let mut calls = Vec::new();
        for g in groups.clone() {
            if let Some(c) = &g.cancel {
                if c.desired_from != c.desired_to {
                    calls.push(Call::SetDesired {
                        group: g.group.clone(),
                        from: c.desired_from,
                        to: c.desired_to,
                    });
                }
            }
        }
        for g in groups.clone() {
            if let Some(c) = &g.cancel {
                for name in &c.delete {
                    calls.push(Call::DeleteScheduled {
                        group: g.group.clone(),
                        name: name.clone(),
                    });
                }
            }
        }
        for g in groups {
            if !g.unprotect.is_empty() {
                calls.push(Call::Unprotect {
                    group: g.group.clone(),
                    ids: g.unprotect.clone(),
                });
            }
        }
        calls
    }

    /// The latest time any selected group may be scaled in (old mode, for `--wait`): the
    /// scale-down time of a pending recycle, or the end of a kept instance's grace period.
    pub fn ready_at(&self, direction: Direction) -> Option<Timestamp> {
        self.groups
            .iter()
            .flat_map(|g| {
                let down = match direction {
                    Direction::Old => g.scale_down_at,
                    Direction::New => None,
                };
                let grace = g
                    .keep
                    .iter()
                    .filter_map(|m| m.launch_time)
                    .map(|t| t + jiff::SignedDuration::from_secs(g.grace_secs.max(0) as i64))
                    .max()
                    .filter(|_| !g.unprotect.is_empty());
                down.into_iter().chain(grace)
            })
            .max()
    }
}

/// Which groups a scale-in covers (`ALL`: every group of the environment except skip-tagged,
/// empty and migration groups). In `New` mode a role whose recycle is in progress brings along
/// the other groups of that recycle (worker for idp, the migration group) that have one too.
pub fn select<'a>(
    settings: &Settings,
    env: &str,
    target: &Target,
    direction: Direction,
    groups: &'a [Group],
    actions: &[ScheduledAction],
) -> (Vec<&'a Group>, Vec<Skipped>, Vec<Finding>) {
    let migration_group = settings.migration_group(env);
    let recycling = |g: &Group| actions.iter().any(|a| a.group == g.name && a.is_recycle());
    let find = |name: &str| groups.iter().find(|g| g.name == name);
    let mut selected: Vec<&Group> = Vec::new();
    let mut skipped = Vec::new();
    let mut findings = Vec::new();
    let mut migration_roles = false;
    match target {
        Target::Role(role) => {
            let name = settings.asg_name(env, role);
            match find(&name) {
                None => findings.push(missing_group(settings, env, role, groups, "")),
                Some(g) => {
                    selected.push(g);
                    if direction == Direction::New && recycling(g) {
                        migration_roles =
                            settings.recycle.migration_roles.iter().any(|r| r == role);
                        if role == IDP_ROLE {
                            if let Some(w) = find(&settings.asg_name(env, WORKER_ROLE)) {
                                if recycling(w) {
                                    selected.push(w);
                                }
                            }
                        }
                    }
                }
            }
        }
        Target::All => {
            let mine = env_groups(settings, env, groups);
            if mine.is_empty() {
                findings.push(missing_group(settings, env, "ALL", groups, ""));
            }
            for g in mine {
                let reason = if g.name == migration_group {
                    Some("it is the migration group".to_string())
                } else if let Some(tag) = skip_tag(settings, g) {
                    Some(format!("it is tagged `{tag}`"))
                } else if g.desired == 0 && !(direction == Direction::New && recycling(g)) {
                    Some("its desired capacity is 0".to_string())
                } else {
                    None
                };
                match reason {
                    Some(reason) => skipped.push(Skipped {
                        group: g.name.clone(),
                        reason,
                    }),
                    None => {
                        if direction == Direction::New && recycling(g) {
                            migration_roles = true;
                        }
                        selected.push(g);
                    }
                }
            }
        }
    }
    // The migration instance serves the recycle of every migration role: it is cancelled only
    // with the last of them, never from under a recycle that goes on.
    let still_migrating: Vec<&str> = groups
        .iter()
        .filter(|g| g.name != migration_group && recycling(g))
        .filter(|g| !selected.iter().any(|s| s.name == g.name))
        .filter(|g| {
            role_of(settings, env, &g.name)
                .is_some_and(|r| settings.recycle.migration_roles.contains(&r))
        })
        .map(|g| g.name.as_str())
        .collect();
    if direction == Direction::New && migration_roles {
        if let Some(m) = find(&migration_group) {
            let explicit = selected.iter().any(|g| g.name == m.name);
            if explicit && recycling(m) && !still_migrating.is_empty() {
                findings.push(Finding::new(
                    &m.name,
                    format!(
                        "{} runs the migration for the recycle of {}, which goes on",
                        m.name,
                        still_migrating.join(", ")
                    ),
                    format!(
                        "cancel the whole recycle instead: login-release scale-remove-new-instances {env} {}",
                        role_of(settings, env, still_migrating[0]).unwrap_or_else(|| "ALL".into())
                    ),
                ));
            } else if recycling(m) && !explicit && still_migrating.is_empty() {
                skipped.retain(|s| s.group != m.name);
                selected.push(m);
            }
        }
    }
    (selected, skipped, findings)
}

/// Plans one group: which instances stay, which lose their protection, and what stops it.
pub fn plan_group(
    settings: &Settings,
    env: &str,
    group: &Group,
    actions: &[ScheduledAction],
    instances: &[Instance],
    opts: &Options,
) -> GroupScaleIn {
    let role = role_of(settings, env, &group.name).unwrap_or_else(|| group.name.clone());
    let mine: Vec<&ScheduledAction> = actions
        .iter()
        .filter(|a| a.group == group.name && a.is_recycle())
        .collect();
    let recycle_once = mine.iter().find(|a| a.name == RECYCLE_ONCE);
    let scale_down_at = recycle_once.and_then(|a| a.start);
    let pre_recycle = recycle_once.and_then(|a| a.desired);

    let (mut members, ignored) = members_of(group, instances, opts.direction);
    let (keep_count, cancel) = keep_count(group, &mine, pre_recycle, opts.direction);
    let keep_n = (keep_count.max(0) as usize).min(members.len());
    let remove = members.split_off(keep_n);
    let keep = members;
    let unprotect: Vec<String> = remove
        .iter()
        .filter(|m| m.protected)
        .map(|m| m.id.clone())
        .collect();

    let mut findings = launch_findings(env, &role, &group.name, &keep, &remove);
    let now = opts.now;
    let name = &group.name;
    if opts.direction == Direction::Old && !opts.force {
        if let Some(t) = scale_down_at.filter(|t| *t > now) {
            findings.push(Finding::new(
                name,
                format!(
                    "{name}: the recycle returns it to {keep_count} instances at {} ({}); the old instances can be removed after that",
                    rfc3339(t),
                    relative(t, now)
                ),
                format!(
                    "run again after {}, add --wait to wait for it, or --force to unprotect them now (the group removes them when its desired drops)",
                    rfc3339(t)
                ),
            ));
        }
    }
    if !unprotect.is_empty() {
        findings.extend(kept_findings(env, &role, group, &keep, opts));
    }
    GroupScaleIn {
        group: group.name.clone(),
        role,
        desired: group.desired,
        keep_count,
        keep,
        remove,
        ignored,
        unprotect,
        cancel,
        scale_down_at,
        health_check_type: group.health_check_type.clone(),
        grace_secs: group.grace_secs,
        findings,
    }
}

/// The group's members that count, oldest first for `new` (newest first for `old`: the ones
/// to keep come first), and the ones on their way out.
fn members_of(
    group: &Group,
    instances: &[Instance],
    direction: Direction,
) -> (Vec<Member>, Vec<Member>) {
    let mut members: Vec<Member> = Vec::new();
    let mut ignored = Vec::new();
    for gi in &group.instances {
        let ec2 = instances.iter().find(|i| i.id == gi.id);
        let m = Member {
            id: gi.id.clone(),
            image_id: ec2.map(|i| i.image_id.clone()).unwrap_or_default(),
            launch_time: ec2.map(|i| i.launch_time),
            lifecycle: gi.lifecycle.clone(),
            health: gi.health.clone(),
            protected: gi.protected,
        };
        if is_leaving(&m.lifecycle) {
            ignored.push(m);
        } else {
            members.push(m);
        }
    }
    // Oldest first (ties by id, so both directions split a fleet the same way).
    members.sort_by(|a, b| {
        (a.launch_time.unwrap_or(Timestamp::MIN), &a.id)
            .cmp(&(b.launch_time.unwrap_or(Timestamp::MIN), &b.id))
    });
    if direction == Direction::Old {
        members.reverse();
    }

    (members, ignored)
}

/// How many instances stay, and for `new` with a recycle in progress, its cancellation.
fn keep_count(
    group: &Group,
    mine: &[&ScheduledAction],
    pre_recycle: Option<i32>,
    direction: Direction,
) -> (i32, Option<Cancel>) {
    match direction {
        Direction::Old => (pre_recycle.unwrap_or(group.desired), None),
        Direction::New if !mine.is_empty() => {
            let to = pre_recycle.unwrap_or(group.desired);
            (
                to,
                Some(Cancel {
                    // The pending scale-out goes first: it is the one that would add instances.
                    delete: {
                        let mut names: Vec<String> = mine.iter().map(|a| a.name.clone()).collect();
                        names.sort_by_key(|n| n.as_str() != DELAYED_SCALE_OUT);
                        names
                    },
                    desired_from: group.desired,
                    desired_to: to,
                }),
            )
        }
        Direction::New => (group.desired, None),
    }
}

/// What EC2 must say before old and new can be told apart and unprotected: every instance's
/// launch time, and InService (or Standby) for each one to unprotect.
fn launch_findings(
    env: &str,
    role: &str,
    name: &str,
    keep: &[Member],
    remove: &[Member],
) -> Vec<Finding> {
    let mut findings = Vec::new();
    // Old versus new is decided by EC2's launch time: an instance EC2 did not return would sort
    // as the oldest and lose its protection without a word (issue 12, item 8).
    let unknown: Vec<&str> = keep
        .iter()
        .chain(remove)
        .filter(|m| m.launch_time.is_none())
        .map(|m| m.id.as_str())
        .collect();
    if !unknown.is_empty() {
        findings.push(Finding::new(
            name,
            format!(
                "{name}: EC2 did not return {} (no launch time), so old and new cannot be told apart",
                unknown.join(", ")
            ),
            "run again in a minute (EC2 may lag behind Auto Scaling); if it persists, check the instance in the console",
        ));
    }
    // AWS refuses SetInstanceProtection for instances that are not InService or Standby
    // (Pending, Pending:Wait while lifecycle hooks provision them): check before any call, so
    // the refusal cannot come after the group's recycle actions were deleted (issue 12, item 7).
    let refused: Vec<String> = remove
        .iter()
        .filter(|m| m.protected && !matches!(m.lifecycle.as_str(), "InService" | "Standby"))
        .map(|m| format!("{} ({})", m.id, m.lifecycle))
        .collect();
    if !refused.is_empty() {
        findings.push(Finding::new(
            name,
            format!(
                "{name}: {} {} not InService yet (still launching): AWS refuses to unprotect {}",
                refused.join(", "),
                if refused.len() == 1 { "is" } else { "are" },
                if refused.len() == 1 { "it" } else { "them" }
            ),
            format!(
                "wait until {} InService (login-release ls-servers -e {env} -r {role}), then run again",
                if refused.len() == 1 { "it is" } else { "they are" }
            ),
        ));
    }
    findings
}

/// The instances to keep must be able to take the traffic: InService and Healthy, protected,
/// and past their health-check grace period.
fn kept_findings(
    env: &str,
    role: &str,
    group: &Group,
    keep: &[Member],
    opts: &Options,
) -> Vec<Finding> {
    let (name, now) = (&group.name, opts.now);
    let mut findings = Vec::new();
    let unhealthy: Vec<String> = keep
        .iter()
        .filter(|m| !m.in_service_and_healthy())
        .map(|m| format!("{} ({}, {})", m.id, m.lifecycle, m.health))
        .collect();
    if !unhealthy.is_empty() {
        findings.push(Finding::new(
            name,
            format!(
                "{name}: {} of the {} {} instances to keep {} not InService and Healthy: {}",
                unhealthy.len(),
                keep.len(),
                opts.direction.kept(),
                if unhealthy.len() == 1 { "is" } else { "are" },
                unhealthy.join(", ")
            ),
            format!(
                "wait until they are (login-release ls-servers -e {env} -r {role}), then run again"
            ),
        ));
    }
    // A kept instance without protection is leaving too (an earlier scale-remove of the
    // other kind unprotected it): unprotecting the rest would let the group pick either.
    let leaving: Vec<&str> = keep
        .iter()
        .filter(|m| !m.protected)
        .map(|m| m.id.as_str())
        .collect();
    if !leaving.is_empty() {
        findings.push(Finding::new(
            name,
            format!(
                "{name}: {} of the {} {} instances to keep {} not protected from scale-in, so the group may remove {} instead: {}",
                leaving.len(),
                keep.len(),
                opts.direction.kept(),
                if leaving.len() == 1 { "is" } else { "are" },
                if leaving.len() == 1 { "it" } else { "them" },
                leaving.join(", ")
            ),
            format!(
                "an earlier scale-remove unprotected them; protect them again first (aws autoscaling set-instance-protection --auto-scaling-group-name {name} --protected-from-scale-in --instance-ids {}) or let the group finish removing them",
                leaving.join(" ")
            ),
        ));
    }
    let grace = jiff::SignedDuration::from_secs(group.grace_secs.max(0) as i64);
    let in_grace: Vec<(&Member, Timestamp)> = keep
        .iter()
        .filter_map(|m| m.launch_time.map(|t| (m, t + grace)))
        .filter(|(_, until)| *until > now)
        .collect();
    if let Some(until) = in_grace.iter().map(|(_, u)| *u).max() {
        let ids: Vec<&str> = in_grace.iter().map(|(m, _)| m.id.as_str()).collect();
        findings.push(Finding::new(
            name,
            format!(
                "{name}: {} still in the {}s health-check grace period (until {}): {}",
                if ids.len() == 1 {
                    "1 instance to keep is".to_string()
                } else {
                    format!("{} instances to keep are", ids.len())
                },
                group.grace_secs,
                rfc3339(until),
                ids.join(", ")
            ),
            format!(
                "its health is not known yet: run again after {}",
                rfc3339(until)
            ),
        ));
    }
    findings
}

/// Selects and plans every group.
pub fn plan(
    settings: &Settings,
    env: &str,
    target: &Target,
    groups: &[Group],
    actions: &[ScheduledAction],
    instances: &[Instance],
    opts: &Options,
) -> ScaleInPlan {
    let (selected, skipped, findings) =
        select(settings, env, target, opts.direction, groups, actions);
    ScaleInPlan {
        groups: selected
            .into_iter()
            .map(|g| plan_group(settings, env, g, actions, instances, opts))
            .collect(),
        skipped,
        findings,
    }
}

/// What a read-back shows is not as planned (empty when everything is).
pub fn verify(
    planned: &[&GroupScaleIn],
    after: &[Group],
    actions: &[ScheduledAction],
) -> Vec<String> {
    let mut problems = Vec::new();
    for p in planned {
        let Some(g) = after.iter().find(|g| g.name == p.group) else {
            problems.push(format!("{} is gone", p.group));
            continue;
        };
        for id in &p.unprotect {
            if let Some(i) = g.instances.iter().find(|i| &i.id == id) {
                if i.protected {
                    problems.push(format!("{}: {id} is still protected", p.group));
                }
            }
        }
        if let Some(c) = &p.cancel {
            if g.desired != c.desired_to {
                problems.push(format!(
                    "{}: desired is {}, expected {}",
                    p.group, g.desired, c.desired_to
                ));
            }
            for name in &c.delete {
                if actions
                    .iter()
                    .any(|a| a.group == p.group && &a.name == name)
                {
                    problems.push(format!("{}: {name} is still scheduled", p.group));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fleet::GroupInstance;
    use crate::config::Config;
    use crate::recycle::testing::*;

    const NOW: &str = "2026-11-26T12:20:00Z";
    const OLD: &str = "2026-11-20T09:00:00Z";
    const NEW: &str = "2026-11-26T12:05:10Z";

    /// prod-idp with 2 old and 2 new instances, desired as given.
    fn recycled(desired: i32) -> (Group, Vec<Instance>) {
        let mut g = group("prod-idp", desired, 16);
        g.grace_secs = 300;
        g.instances = ["i-old1", "i-old2", "i-new1", "i-new2"]
            .iter()
            .map(|id| GroupInstance {
                id: id.to_string(),
                lifecycle: "InService".into(),
                health: "Healthy".into(),
                protected: true,
            })
            .collect();
        let ec2 = vec![
            ec2("i-old1", "prod-idp", OLD),
            ec2("i-old2", "prod-idp", "2026-11-20T09:00:01Z"),
            ec2("i-new1", "prod-idp", NEW),
            ec2("i-new2", "prod-idp", NEW),
        ];
        (g, ec2)
    }

    fn opts(direction: Direction) -> Options {
        Options {
            direction,
            force: false,
            now: t(NOW),
        }
    }

    fn ids(ms: &[Member]) -> Vec<&str> {
        ms.iter().map(|m| m.id.as_str()).collect()
    }

    fn one(g: &Group, actions: &[ScheduledAction], ec2: &[Instance], o: &Options) -> GroupScaleIn {
        plan_group(&Config::defaults().settings, "prod", g, actions, ec2, o)
    }

    #[test]
    fn kept_instances_that_are_leaving_stop_the_removal() {
        // After a rollback unprotected the new instances, removing the "old" ones would leave
        // every instance unprotected and the group free to keep the rolled-back code.
        let (mut g, ec2) = recycled(2);
        for i in g.instances.iter_mut().filter(|i| i.id.starts_with("i-new")) {
            i.protected = false;
        }
        let p = one(&g, &[], &ec2, &opts(Direction::Old));
        assert_eq!(p.unprotect, ["i-old2", "i-old1"]);
        assert_eq!(p.findings.len(), 1, "{:?}", p.findings);
        assert!(p.findings[0].problem.starts_with(
            "prod-idp: 2 of the 2 newest instances to keep are not protected from scale-in"
        ));
        assert!(p.findings[0].hint.contains("--instance-ids i-new2 i-new1"));
    }

    #[test]
    fn old_keeps_the_newest_and_unprotects_the_rest() {
        let (g, ec2) = recycled(2);
        let p = one(&g, &[], &ec2, &opts(Direction::Old));
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        assert_eq!(ids(&p.keep), ["i-new2", "i-new1"]);
        assert_eq!(ids(&p.remove), ["i-old2", "i-old1"]);
        assert_eq!(p.unprotect, ["i-old2", "i-old1"]);
        assert!(p.cancel.is_none());
        assert!(p
            .removal_note()
            .contains("the group will now remove the 2 unprotected instances"));
        let calls = ScaleInPlan::calls([&p]);
        assert_eq!(
            calls,
            vec![Call::Unprotect {
                group: "prod-idp".into(),
                ids: vec!["i-old2".into(), "i-old1".into()]
            }]
        );
    }

    #[test]
    fn new_keeps_the_oldest() {
        let (g, ec2) = recycled(2);
        let p = one(&g, &[], &ec2, &opts(Direction::New));
        assert_eq!(ids(&p.keep), ["i-old1", "i-old2"]);
        assert_eq!(p.unprotect, ["i-new1", "i-new2"]);
    }

    #[test]
    fn only_protected_instances_are_unprotected_and_a_second_run_has_nothing_to_do() {
        let (mut g, ec2) = recycled(2);
        g.instances[0].protected = false;
        let p = one(&g, &[], &ec2, &opts(Direction::Old));
        assert_eq!(p.unprotect, ["i-old2"]);
        g.instances[1].protected = false;
        let p = one(&g, &[], &ec2, &opts(Direction::Old));
        assert!(p.is_noop());
        assert!(p.findings.is_empty());
    }

    #[test]
    fn pending_instances_count_and_block_when_kept() {
        let (mut g, ec2) = recycled(2);
        g.instances[3].lifecycle = "Pending".into();
        let p = one(&g, &[], &ec2, &opts(Direction::Old));
        assert_eq!(
            ids(&p.keep),
            ["i-new2", "i-new1"],
            "pending ones are kept, not ignored"
        );
        assert_eq!(p.findings.len(), 1);
        assert_eq!(
            p.findings[0].problem,
            "prod-idp: 1 of the 2 newest instances to keep is not InService and Healthy: i-new2 (Pending, Healthy)"
        );
        assert_eq!(
            p.findings[0].hint,
            "wait until they are (login-release ls-servers -e prod -r idp), then run again"
        );
        // Terminating ones are ignored.
        g.instances[3].lifecycle = "Terminating".into();
        let p = one(&g, &[], &ec2, &opts(Direction::Old));
        assert_eq!(ids(&p.ignored), ["i-new2"]);
        assert_eq!(ids(&p.keep), ["i-new1", "i-old2"]);
    }

    #[test]
    fn kept_instances_in_their_grace_period_block() {
        let (g, ec2) = recycled(2);
        let o = Options {
            now: t("2026-11-26T12:08:00Z"),
            ..opts(Direction::Old)
        };
        let p = one(&g, &[], &ec2, &o);
        assert_eq!(
            p.findings[0].problem,
            "prod-idp: 2 instances to keep are still in the 300s health-check grace period (until 2026-11-26T12:10:10Z): i-new2, i-new1"
        );
        assert_eq!(
            p.findings[0].hint,
            "its health is not known yet: run again after 2026-11-26T12:10:10Z"
        );
    }

    #[test]
    fn old_waits_for_the_scale_down_unless_forced() {
        let (g, ec2) = recycled(4);
        let actions = [action("prod-idp", RECYCLE_ONCE, "2026-11-26T12:30:00Z", 2)];
        let p = one(&g, &actions, &ec2, &opts(Direction::Old));
        assert_eq!(p.keep_count, 2, "the size the recycle returns to");
        assert_eq!(
            p.findings[0].problem,
            "prod-idp: the recycle returns it to 2 instances at 2026-11-26T12:30:00Z (in 10m); the old instances can be removed after that"
        );
        let forced = Options {
            force: true,
            ..opts(Direction::Old)
        };
        let p = one(&g, &actions, &ec2, &forced);
        assert!(p.findings.is_empty());
        assert_eq!(p.unprotect, ["i-old2", "i-old1"]);
        assert!(p
            .removal_note()
            .contains("when its desired drops to 2 at 2026-11-26T12:30:00Z"));
        // Past the time (the action has not run yet, or the emulator never runs it): go ahead.
        let later = Options {
            now: t("2026-11-26T12:31:00Z"),
            ..opts(Direction::Old)
        };
        let p = one(&g, &actions, &ec2, &later);
        assert!(p.findings.is_empty());
        assert_eq!(p.unprotect.len(), 2);
    }

    #[test]
    fn new_cancels_a_recycle_in_progress() {
        let (g, ec2) = recycled(4);
        let actions = [
            action("prod-idp", DELAYED_SCALE_OUT, "2026-11-26T12:05:00Z", 4),
            action("prod-idp", RECYCLE_ONCE, "2026-11-26T12:30:00Z", 2),
        ];
        let p = one(&g, &actions, &ec2, &opts(Direction::New));
        assert!(
            p.findings.is_empty(),
            "no waiting in new mode: {:?}",
            p.findings
        );
        assert_eq!(
            p.cancel,
            Some(Cancel {
                delete: vec![DELAYED_SCALE_OUT.into(), RECYCLE_ONCE.into()],
                desired_from: 4,
                desired_to: 2
            })
        );
        assert_eq!(p.unprotect, ["i-new1", "i-new2"]);
        assert_eq!(
            ScaleInPlan::calls([&p]),
            vec![
                Call::SetDesired {
                    group: "prod-idp".into(),
                    from: 4,
                    to: 2
                },
                Call::DeleteScheduled {
                    group: "prod-idp".into(),
                    name: DELAYED_SCALE_OUT.into()
                },
                Call::DeleteScheduled {
                    group: "prod-idp".into(),
                    name: RECYCLE_ONCE.into()
                },
                Call::Unprotect {
                    group: "prod-idp".into(),
                    ids: vec!["i-new1".into(), "i-new2".into()]
                },
            ]
        );
    }

    #[test]
    fn new_mode_brings_the_rest_of_the_recycle_along() {
        let s = Config::defaults().settings;
        let groups = vec![
            group("prod-idp", 8, 16),
            group("prod-worker", 4, 8),
            tagged(group("prod-migration", 1, 2), "utility"),
            group("prod-pivcac", 2, 8),
        ];
        let actions = vec![
            action("prod-idp", RECYCLE_ONCE, "2026-11-26T12:30:00Z", 4),
            action("prod-worker", RECYCLE_ONCE, "2026-11-26T12:30:00Z", 2),
            action("prod-migration", RECYCLE_ONCE, "2026-11-26T12:25:00Z", 0),
        ];
        let names = |t: &Target, d: Direction| {
            let (sel, _, f) = select(&s, "prod", t, d, &groups, &actions);
            assert!(f.is_empty());
            sel.iter().map(|g| g.name.clone()).collect::<Vec<_>>()
        };
        let idp = Target::Role("idp".into());
        assert_eq!(
            names(&idp, Direction::New),
            ["prod-idp", "prod-worker", "prod-migration"]
        );
        assert_eq!(names(&idp, Direction::Old), ["prod-idp"]);
        assert_eq!(
            names(&Target::Role("pivcac".into()), Direction::New),
            ["prod-pivcac"]
        );
        assert_eq!(
            names(&Target::All, Direction::New),
            ["prod-idp", "prod-pivcac", "prod-worker", "prod-migration"]
        );
        assert_eq!(
            names(&Target::All, Direction::Old),
            ["prod-idp", "prod-pivcac", "prod-worker"]
        );
        // The migration group's cancel: back to 0, its instance unprotected if it was protected.
        let p = plan(
            &s,
            "prod",
            &idp,
            &groups,
            &actions,
            &[],
            &opts(Direction::New),
        );
        let m = &p.groups[2];
        assert_eq!(m.keep_count, 0);
        assert_eq!(m.cancel.as_ref().unwrap().desired_to, 0);
        assert_eq!(m.unprotect, ["i-prod-migration-0"]);
    }

    #[test]
    fn the_migration_is_cancelled_only_with_the_last_recycle_that_needs_it() {
        let s = Config::defaults().settings;
        let groups = vec![
            group("prod-idp", 8, 16),
            group("prod-worker", 4, 8),
            tagged(group("prod-migration", 1, 2), "utility"),
        ];
        let actions = vec![
            action("prod-idp", RECYCLE_ONCE, "2026-11-26T12:30:00Z", 4),
            action("prod-worker", RECYCLE_ONCE, "2026-11-26T12:30:00Z", 2),
            action("prod-migration", RECYCLE_ONCE, "2026-11-26T12:25:00Z", 0),
        ];
        // Cancelling worker alone leaves idp's recycle, and so its migration, running.
        let worker = Target::Role("worker".into());
        let (sel, _, f) = select(&s, "prod", &worker, Direction::New, &groups, &actions);
        assert!(f.is_empty(), "{f:?}");
        let names: Vec<&str> = sel.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["prod-worker"]);
        // Cancelling the migration alone under idp's recycle is refused with the command to use.
        let migration = Target::Role("migration".into());
        let (_, _, f) = select(&s, "prod", &migration, Direction::New, &groups, &actions);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            f[0].problem,
            "prod-migration runs the migration for the recycle of prod-idp, prod-worker, which goes on"
        );
        assert_eq!(
            f[0].hint,
            "cancel the whole recycle instead: login-release scale-remove-new-instances prod idp"
        );
        // With idp's recycle gone (cancelled earlier), worker's cancel takes the migration along.
        let rest: Vec<ScheduledAction> = actions
            .iter()
            .filter(|a| a.group != "prod-idp")
            .cloned()
            .collect();
        let (sel, _, _) = select(&s, "prod", &worker, Direction::New, &groups, &rest);
        let names: Vec<&str> = sel.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["prod-worker", "prod-migration"]);
    }

    #[test]
    fn all_collects_every_groups_findings_and_skips_with_reasons() {
        let s = Config::defaults().settings;
        let mut idp = group("prod-idp", 2, 16);
        idp.instances.push(GroupInstance {
            id: "i-extra".into(),
            lifecycle: "InService".into(),
            health: "Healthy".into(),
            protected: true,
        });
        idp.instances[0].health = "Unhealthy".into();
        // pivcac's extra instance is the one to unprotect: InService, since AWS refuses to
        // unprotect one still Pending (that is a finding of its own, tested below).
        let mut pivcac = group("prod-pivcac", 1, 8);
        pivcac.instances.push(GroupInstance {
            id: "i-z-extra".into(),
            lifecycle: "InService".into(),
            health: "Healthy".into(),
            protected: true,
        });
        let groups = vec![
            idp,
            pivcac,
            tagged(group("prod-migration", 0, 2), "utility"),
            group("prod-outboundproxy", 0, 2),
        ];
        // Every instance launched at the same second: the kept ones are the first by id.
        let ec2: Vec<Instance> = groups
            .iter()
            .flat_map(|g| g.instances.iter().map(|i| ec2(&i.id, &g.name, OLD)))
            .collect();
        let p = plan(
            &s,
            "prod",
            &Target::All,
            &groups,
            &[],
            &ec2,
            &opts(Direction::New),
        );
        assert_eq!(
            p.skipped,
            vec![
                Skipped {
                    group: "prod-migration".into(),
                    reason: "it is the migration group".into()
                },
                Skipped {
                    group: "prod-outboundproxy".into(),
                    reason: "its desired capacity is 0".into()
                }
            ]
        );
        let f = p.all_findings();
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0]
            .problem
            .starts_with("prod-idp: 1 of the 2 oldest instances to keep is not InService"));
        let safe: Vec<&str> = p.safe_groups().map(|g| g.group.as_str()).collect();
        assert_eq!(safe, ["prod-pivcac"]);
    }

    #[test]
    fn ready_at_is_the_scale_down_or_the_end_of_the_grace_period() {
        let s = Config::defaults().settings;
        let (g, ec2) = recycled(4);
        let actions = [action("prod-idp", RECYCLE_ONCE, "2026-11-26T12:30:00Z", 2)];
        let p = plan(
            &s,
            "prod",
            &Target::Role("idp".into()),
            &[g],
            &actions,
            &ec2,
            &opts(Direction::Old),
        );
        assert_eq!(p.ready_at(Direction::Old), Some(t("2026-11-26T12:30:00Z")));
    }

    #[test]
    fn verify_reads_back_protection_desired_and_actions() {
        let (g, ec2) = recycled(2);
        let p = one(&g, &[], &ec2, &opts(Direction::Old));
        let problems = verify(&[&p], std::slice::from_ref(&g), &[]);
        assert_eq!(
            problems,
            [
                "prod-idp: i-old2 is still protected",
                "prod-idp: i-old1 is still protected"
            ]
        );
        let mut after = g.clone();
        for i in &mut after.instances {
            if i.id.starts_with("i-old") {
                i.protected = false;
            }
        }
        assert!(verify(&[&p], &[after], &[]).is_empty());
    }

    #[test]
    fn an_instance_ec2_did_not_return_or_still_launching_is_a_finding() {
        let s = crate::config::Config::defaults().settings;
        let mut g = group("prod-idp", 2, 8);
        g.instances.push(crate::aws::fleet::GroupInstance {
            id: "i-prod-idp-2".into(),
            lifecycle: "Pending:Wait".into(),
            health: "Healthy".into(),
            protected: true,
        });
        let all = [
            ec2("i-prod-idp-0", "prod-idp", "2026-11-26T10:00:00Z"),
            ec2("i-prod-idp-1", "prod-idp", "2026-11-26T10:00:01Z"),
            ec2("i-prod-idp-2", "prod-idp", "2026-11-26T12:00:00Z"),
        ];
        let opts = Options {
            direction: Direction::New,
            force: false,
            now: t("2026-11-26T12:01:00Z"),
        };
        // The newest is still launching: AWS would refuse to unprotect it.
        let p = plan_group(&s, "prod", &g, &[], &all, &opts);
        assert_eq!(p.unprotect, ["i-prod-idp-2"]);
        assert_eq!(p.findings.len(), 1, "{:?}", p.findings);
        assert!(
            p.findings[0]
                .problem
                .contains("i-prod-idp-2 (Pending:Wait) is not InService yet"),
            "{:?}",
            p.findings
        );
        // EC2 did not return i-1: it would sort as the oldest; say so instead.
        g.instances[2].lifecycle = "InService".into();
        let p = plan_group(
            &s,
            "prod",
            &g,
            &[],
            &[all[0].clone(), all[2].clone()],
            &opts,
        );
        assert_eq!(p.findings.len(), 1, "{:?}", p.findings);
        assert!(
            p.findings[0]
                .problem
                .contains("EC2 did not return i-prod-idp-1"),
            "{:?}",
            p.findings
        );
    }
}
