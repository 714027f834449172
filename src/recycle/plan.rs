//! The recycle rules (original-tools.md section 8), as a pure function: facts in (groups,
//! scheduled actions, the time, the options), the calls to make and every preflight finding out.
//!
//! For `prod idp` (idp 12/max 48, worker 4, migration 0) it makes the original's calls:
//!
//! | group | call | details |
//! |---|---|---|
//! | prod-migration | UpdateAutoScalingGroup | desired 1 (now) |
//! | prod-migration | PutScheduledUpdateGroupAction | `RecycleOnce.asg-recycle`, +600 s, desired 0 |
//! | prod-idp | PutScheduledUpdateGroupAction | `DelayedScaleOutOnce.asg-recycle`, +300 s, desired 24 |
//! | prod-idp | PutScheduledUpdateGroupAction | `RecycleOnce.asg-recycle`, +900 s, desired 12 |
//! | prod-worker | PutScheduledUpdateGroupAction | `DelayedScaleOutOnce.asg-recycle`, +300 s, desired 8 |
//! | prod-worker | PutScheduledUpdateGroupAction | `RecycleOnce.asg-recycle`, +900 s, desired 4 |
//!
//! but in a different order: every return to normal size (`RecycleOnce`) is scheduled before any
//! scale-out, so a failure part-way never leaves a group doubled without its way back. And every
//! group is checked before any is changed (the original scaled the migration group before
//! checking idp's maximum).

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::{env_groups, missing_group, role_of, skip_tag, Finding, Target};
use crate::aws::apply::Call;
use crate::aws::fleet::{Group, ScheduledAction, DELAYED_SCALE_OUT, RECYCLE_ONCE};
use crate::config::Settings;
use crate::plan::{relative, rfc3339};

/// The role whose recycle also recycles the worker group (unless `--skip-worker`).
pub const IDP_ROLE: &str = "idp";
pub const WORKER_ROLE: &str = "worker";

/// The knobs of a recycle; the defaults come from settings (`recycle.spinup_delay`,
/// `recycle.spindown_delay`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecycleOptions {
    pub skip_migration: bool,
    pub skip_worker: bool,
    /// Head start of the migration instance before the scale-out.
    pub spinup: Duration,
    /// Given on the command line: applies even without a migration.
    pub spinup_explicit: bool,
    /// From the scale-out to the return to normal size.
    pub spindown: Duration,
    /// Given on the command line: used as is (otherwise at least twice the grace period).
    pub spindown_explicit: bool,
    /// Scale-out size of the role's group (default twice the return-to size).
    pub immediate: Option<i32>,
    /// Size to return to (default the current desired capacity).
    pub return_to: Option<i32>,
    /// Replace a recycle in progress.
    pub force: bool,
}

impl Default for RecycleOptions {
    fn default() -> Self {
        RecycleOptions {
            skip_migration: false,
            skip_worker: false,
            spinup: Duration::from_secs(300),
            spinup_explicit: false,
            spindown: Duration::from_secs(600),
            spindown_explicit: false,
            immediate: None,
            return_to: None,
            force: false,
        }
    }
}

/// How a group is recycled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The migration group: one instance now, back to zero after the spin-down.
    Migration,
    /// Doubled after the migration's head start (idp, worker, analytics).
    Delayed,
    /// Doubled at once (pivcac, outboundproxy, or any role with `--skip-migration`).
    Immediate,
}

/// One group's recycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupRecycle {
    pub group: String,
    pub role: String,
    pub mode: Mode,
    /// Desired capacity before the recycle.
    pub desired: i32,
    pub max: i32,
    pub scale_out_to: i32,
    pub scale_out_at: Timestamp,
    pub return_to: i32,
    pub return_at: Timestamp,
    /// The instances the group had before (the "old" ones), for `--watch`.
    pub old_instances: Vec<String>,
}

/// A group left out, and why (printed, so nobody wonders).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub group: String,
    pub reason: String,
}

/// The outcome of planning: what to call, or what to fix first.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RecyclePlan {
    pub groups: Vec<GroupRecycle>,
    pub skipped: Vec<Skipped>,
    pub calls: Vec<Call>,
    pub notes: Vec<String>,
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

impl RecyclePlan {
    /// When the last group returns to normal size: the time `scale-remove-old-instances` may run.
    pub fn scale_down_at(&self) -> Option<Timestamp> {
        self.groups
            .iter()
            .filter(|g| g.mode != Mode::Migration)
            .map(|g| g.return_at)
            .max()
    }

    /// The non-migration groups, for the next step (removing their old instances).
    pub fn role_groups(&self) -> Vec<String> {
        self.groups
            .iter()
            .filter(|g| g.mode != Mode::Migration)
            .map(|g| g.group.clone())
            .collect()
    }
}

/// The facts a recycle is planned from.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub env: &'a str,
    pub target: &'a Target,
    /// At least every group involved (for ALL: every group of the environment).
    pub groups: &'a [Group],
    /// Scheduled actions of those groups.
    pub actions: &'a [ScheduledAction],
    pub now: Timestamp,
}

struct Entry {
    group: String,
    role: String,
    mode: Mode,
    /// Worker next to idp: desired 0 is a skip, not a finding; the size flags do not apply.
    follower: bool,
}

/// Plans a recycle. Never fails: problems are `findings`, and a plan with findings must not be
/// applied.
pub fn plan(settings: &Settings, facts: &Facts, opts: &RecycleOptions) -> RecyclePlan {
    let mut out = RecyclePlan::default();
    let env = facts.env;
    // An environment without groups: one finding (wrong name or account), not one per group.
    if env_groups(settings, env, facts.groups).is_empty() {
        let role = match facts.target {
            Target::Role(r) => r.as_str(),
            Target::All => "ALL",
        };
        out.findings
            .push(missing_group(settings, env, role, facts.groups, ""));
        return out;
    }
    let rules = Rules {
        settings,
        facts,
        opts,
        migration_group: settings.migration_group(env),
    };
    // 1. Which groups, and how. 2. Check each group and size it. 3. The calls.
    let entries = match facts.target {
        Target::Role(role) => rules.role_entries(role, &mut out),
        Target::All => rules.all_entries(&mut out),
    };
    for e in &entries {
        rules.size(e, &mut out);
    }
    rules.calls(&mut out);
    rules.force_notes(&mut out);
    out
}

/// What every part of a plan reads.
struct Rules<'a> {
    settings: &'a Settings,
    facts: &'a Facts<'a>,
    opts: &'a RecycleOptions,
    migration_group: String,
}

impl<'a> Rules<'a> {
    fn find(&self, name: &str) -> Option<&'a Group> {
        self.facts.groups.iter().find(|g| g.name == name)
    }

    fn wants_migration(&self, role: &str) -> bool {
        !self.opts.skip_migration
            && self
                .settings
                .recycle
                .migration_roles
                .iter()
                .any(|r| r == role)
    }

    /// One role's groups: the migration group first when the role migrates, the role's, and
    /// worker beside idp.
    fn role_entries(&self, role: &String, out: &mut RecyclePlan) -> Vec<Entry> {
        let (settings, facts, opts, env) = (self.settings, self.facts, self.opts, self.facts.env);
        let migration_group: &str = &self.migration_group;
        let find = |name: &str| self.find(name);
        let wants_migration = |role: &str| self.wants_migration(role);
        let mut entries: Vec<Entry> = Vec::new();
        let name = settings.asg_name(env, role);
        if find(&name).is_none() {
            out.findings
                .push(missing_group(settings, env, role, facts.groups, ""));
        } else if name == migration_group && opts.skip_migration {
            out.findings.push(Finding::new(
                &name,
                "nothing to recycle: the role is the migration group and --skip-migration was given",
                "drop --skip-migration",
            ));
        }
        let migration_ok = name != migration_group || find(&name).is_some();
        if (name == migration_group || wants_migration(role))
            && migration_ok
            && !opts.skip_migration
        {
            entries.push(Entry {
                group: migration_group.to_string(),
                role: "migration".into(),
                mode: Mode::Migration,
                follower: false,
            });
        }
        if name != migration_group && find(&name).is_some() {
            entries.push(Entry {
                group: name,
                role: role.clone(),
                mode: if wants_migration(role) {
                    Mode::Delayed
                } else {
                    Mode::Immediate
                },
                follower: false,
            });
        }
        if role == IDP_ROLE && !opts.skip_worker {
            entries.push(Entry {
                group: settings.asg_name(env, WORKER_ROLE),
                role: WORKER_ROLE.into(),
                mode: if wants_migration(IDP_ROLE) {
                    Mode::Delayed
                } else {
                    Mode::Immediate
                },
                follower: true,
            });
        }
        entries
    }

    /// Every group of the environment but the skipped ones (tagged, empty, --skip-worker), and
    /// the migration group first when any of them migrates.
    fn all_entries(&self, out: &mut RecyclePlan) -> Vec<Entry> {
        let (settings, facts, opts, env) = (self.settings, self.facts, self.opts, self.facts.env);
        let migration_group: &str = &self.migration_group;
        let wants_migration = |role: &str| self.wants_migration(role);
        let mut entries: Vec<Entry> = Vec::new();
        let mine = env_groups(settings, env, facts.groups);
        let mut any_migration = false;
        let mut has_migration_group = false;
        let mut roles = Vec::new();
        for g in mine {
            let role = role_of(settings, env, &g.name).unwrap_or_default();
            let skip = if g.name == migration_group {
                Some(String::new())
            } else if let Some(tag) = skip_tag(settings, g) {
                Some(format!("it is tagged `{tag}`"))
            } else if g.desired == 0 {
                Some("its desired capacity is 0".into())
            } else if opts.skip_worker && role == WORKER_ROLE {
                Some("--skip-worker".into())
            } else {
                None
            };
            if let Some(reason) = skip {
                if g.name == migration_group {
                    has_migration_group = true;
                } else {
                    out.skipped.push(Skipped {
                        group: g.name.clone(),
                        reason,
                    });
                }
                continue;
            }
            let mode = if wants_migration(&role) {
                any_migration = true;
                Mode::Delayed
            } else {
                Mode::Immediate
            };
            roles.push(Entry {
                group: g.name.clone(),
                role,
                mode,
                follower: false,
            });
        }
        if roles.is_empty() && out.findings.is_empty() {
            out.findings.push(Finding::new(
                env,
                format!("nothing to recycle in {env}: every group is skipped"),
                "the skipped groups and why are listed above; recycle one by name to override",
            ));
        }
        if has_migration_group && !any_migration {
            out.skipped.push(Skipped {
                group: migration_group.to_string(),
                reason: if opts.skip_migration {
                    "--skip-migration".into()
                } else {
                    "it is the migration group and no role here needs a migration".into()
                },
            });
        }
        if any_migration {
            entries.push(Entry {
                group: migration_group.to_string(),
                role: "migration".into(),
                mode: Mode::Migration,
                follower: false,
            });
        }
        entries.extend(roles);
        entries
    }

    /// Checks one group and sizes its recycle (`out.groups`), or says why it cannot be.
    fn size(&self, e: &'a Entry, out: &mut RecyclePlan) {
        let Some(g) = self.find(&e.group) else {
            missing_companion(e, out);
            return;
        };
        let s = self.sizing(e, g, out);
        if e.mode == Mode::Migration {
            self.size_migration(s, out);
        } else {
            self.size_group(s, out);
        }
    }

    /// What every group's sizing reads: its recycle in progress (a finding unless --force),
    /// its spin-down (at least twice its grace period) and its instances now.
    fn sizing(&self, e: &'a Entry, g: &'a Group, out: &mut RecyclePlan) -> Sizing<'a> {
        let (facts, opts, env, now) = (self.facts, self.opts, self.facts.env, self.facts.now);
        let pending: Vec<&ScheduledAction> = facts
            .actions
            .iter()
            .filter(|a| a.group == g.name && a.is_recycle())
            .collect();
        if !pending.is_empty() && !opts.force {
            out.findings
                .push(in_progress(env, facts.target, g, &pending, now));
        }
        let spindown = if opts.spindown_explicit {
            opts.spindown
        } else {
            opts.spindown
                .max(Duration::from_secs(2 * g.grace_secs.max(0) as u64))
        };
        if spindown > opts.spindown {
            out.notes.push(format!(
                "{}: spin-down lengthened to {} (twice its {}s health-check grace period)",
                g.name,
                crate::types::format_duration(spindown),
                g.grace_secs
            ));
        }
        let old_instances: Vec<String> = g
            .instances
            .iter()
            .filter(|i| !is_leaving(&i.lifecycle))
            .map(|i| i.id.clone())
            .collect();

        Sizing {
            e,
            g,
            pending,
            spindown,
            old_instances,
        }
    }

    /// The migration group: one instance now, back to zero after the spin-down.
    fn size_migration(&self, s: Sizing<'a>, out: &mut RecyclePlan) {
        let now = self.facts.now;
        let env = self.facts.env;
        let Sizing {
            e,
            g,
            pending,
            spindown,
            old_instances,
        } = s;
        if g.desired > 0 && pending.is_empty() {
            out.findings.push(Finding::new(
                &g.name,
                format!(
                    "{} already has desired {} (a leftover migration instance): the recycle would not start a fresh migration",
                    g.name, g.desired
                ),
                format!(
                    "set it to 0 first (login-release asg-size {env} {} 0), or recycle without a migration with --skip-migration",
                    e.role
                ),
            ));
        }
        if 1 > g.max {
            out.findings.push(Finding::new(
                &g.name,
                format!(
                    "{}: cannot start a migration instance: max is {}",
                    g.name, g.max
                ),
                format!(
                    "raise the maximum first: login-release asg-size {env} {} 1 --max",
                    e.role
                ),
            ));
        }
        let return_to = 0;
        out.groups.push(GroupRecycle {
            group: g.name.clone(),
            role: e.role.clone(),
            mode: Mode::Migration,
            desired: g.desired,
            max: g.max,
            scale_out_to: 1,
            scale_out_at: now,
            return_to,
            return_at: now + spindown,
            old_instances,
        });
    }

    /// A role's group: doubled (or the flags' sizes), at once or after the migration's head
    /// start, and back to its size after the spin-down.
    fn size_group(&self, s: Sizing<'a>, out: &mut RecyclePlan) {
        let now = self.facts.now;
        let (opts, env) = (self.opts, self.facts.env);
        let Sizing {
            e,
            g,
            pending,
            spindown,
            old_instances,
        } = s;
        let pending_return = pending.iter().find(|a| a.name == RECYCLE_ONCE);
        // The size before the recycle: a forced re-run of a recycle in progress starts from the
        // size the running one returns to, not from the doubled size.
        let base = if opts.force {
            pending_return.and_then(|a| a.desired).unwrap_or(g.desired)
        } else {
            g.desired
        };
        let (immediate, return_to) = if e.follower {
            (None, None)
        } else {
            (opts.immediate, opts.return_to)
        };
        let return_to = return_to.unwrap_or(base);
        let scale_out_to = immediate.unwrap_or(2 * return_to);
        if g.desired == 0 && scale_out_to == 0 {
            if e.follower {
                out.skipped.push(Skipped {
                    group: g.name.clone(),
                    reason: "its desired capacity is 0".into(),
                });
            } else {
                out.findings.push(Finding::new(
                    &g.name,
                    format!("{} has desired capacity 0: nothing to recycle", g.name),
                    format!(
                        "give it a size first (login-release asg-size {env} {} N), or pass --immediate N",
                        e.role
                    ),
                ));
            }
            return;
        }
        let sizes = Sizes {
            base,
            scale_out_to,
            return_to,
        };
        self.size_findings(e, g, &sizes, out);
        if pending.is_empty() {
            surplus_finding(env, e, g, &old_instances, out);
        }
        let spinup = match e.mode {
            Mode::Delayed => opts.spinup,
            _ if opts.spinup_explicit => opts.spinup,
            _ => Duration::ZERO,
        };
        let scale_out_at = now + spinup;
        out.groups.push(GroupRecycle {
            group: g.name.clone(),
            role: e.role.clone(),
            mode: e.mode,
            desired: g.desired,
            max: g.max,
            scale_out_to,
            scale_out_at,
            return_to,
            return_at: scale_out_at + spindown,
            old_instances,
        });
    }

    /// Sizes a recycle must not use: over the maximum, under the minimum, emptying the group,
    /// or shrinking it; and a note for sizes given by flags.
    fn size_findings(&self, e: &Entry, g: &Group, sizes: &Sizes, out: &mut RecyclePlan) {
        let (opts, env) = (self.opts, self.facts.env);
        let Sizes {
            base,
            scale_out_to,
            return_to,
        } = *sizes;
        if scale_out_to > g.max {
            let alt = if e.follower {
                "or leave the worker out with --skip-worker".to_string()
            } else {
                format!("or pass --immediate N with N <= {}", g.max)
            };
            out.findings.push(Finding::new(
                &g.name,
                format!(
                    "{}: cannot scale out to {scale_out_to} instances: max is {} (the maximum is never raised by a recycle)",
                    g.name, g.max
                ),
                format!(
                    "raise the maximum first (login-release asg-size {env} {} {scale_out_to} --max), {alt}",
                    e.role
                ),
            ));
        }
        if return_to > g.max {
            out.findings.push(Finding::new(
                &g.name,
                format!(
                    "{}: cannot return to {return_to} instances: max is {}",
                    g.name, g.max
                ),
                format!("pass --return-to N with N <= {}", g.max),
            ));
        }
        // Sizes that are not a recycle: the group emptied, or shrunk before it grows.
        if return_to == 0 && base > 0 {
            out.findings.push(Finding::new(
                &g.name,
                format!(
                    "{}: returning to 0 instances would take it out of service (it runs {base})",
                    g.name
                ),
                format!(
                    "pass --return-to N with N >= 1; to empty a group on purpose: login-release asg-size {env} {} 0",
                    e.role
                ),
            ));
        }
        if scale_out_to < g.desired {
            out.findings.push(Finding::new(
                &g.name,
                format!(
                    "{}: scaling out to {scale_out_to} is below its desired {}: a recycle never scales in",
                    g.name, g.desired
                ),
                format!(
                    "pass --immediate N with N >= {}, or change its size with login-release asg-size {env} {}",
                    g.desired, e.role
                ),
            ));
        }
        if !e.follower && (opts.immediate.is_some() || opts.return_to.is_some()) {
            out.notes.push(format!(
                "{}: non-default sizes: scale out to {scale_out_to} (default {}), return to {return_to} (default {base})",
                g.name,
                2 * base
            ));
        }
        for (what, n) in [("scale out to", scale_out_to), ("return to", return_to)] {
            if n < g.min {
                out.findings.push(Finding::new(
                    &g.name,
                    format!("{}: cannot {what} {n} instances: min is {}", g.name, g.min),
                    format!(
                        "lower the minimum first: login-release asg-size {env} {} {n} --min",
                        e.role
                    ),
                ));
            }
        }
    }

    /// The calls: every return first, then the scale-outs (migration first).
    fn calls(&self, out: &mut RecyclePlan) {
        let (facts, now) = (self.facts, self.facts.now);
        for g in out.groups.iter() {
            out.calls.push(Call::PutScheduled {
                group: g.group.clone(),
                name: RECYCLE_ONCE.into(),
                at: g.return_at,
                desired: g.return_to,
            });
        }
        for g in out.groups.iter() {
            let delayed = g.scale_out_at > now;
            let stale_delayed = facts
                .actions
                .iter()
                .any(|a| a.group == g.group && a.name == DELAYED_SCALE_OUT);
            if g.scale_out_to == g.desired {
                out.notes.push(format!(
                    "{}: desired capacity is already {}; no scale-out",
                    g.group, g.desired
                ));
                if stale_delayed {
                    out.calls.push(Call::DeleteScheduled {
                        group: g.group.clone(),
                        name: DELAYED_SCALE_OUT.into(),
                    });
                }
            } else if delayed {
                out.calls.push(Call::PutScheduled {
                    group: g.group.clone(),
                    name: DELAYED_SCALE_OUT.into(),
                    at: g.scale_out_at,
                    desired: g.scale_out_to,
                });
            } else {
                if stale_delayed {
                    // --force over a recycle whose delayed scale-out has not run: it must not fire later.
                    out.calls.push(Call::DeleteScheduled {
                        group: g.group.clone(),
                        name: DELAYED_SCALE_OUT.into(),
                    });
                }
                out.calls.push(Call::SetDesired {
                    group: g.group.clone(),
                    from: g.desired,
                    to: g.scale_out_to,
                });
            }
        }
    }

    /// What --force replaces.
    fn force_notes(&self, out: &mut RecyclePlan) {
        let (facts, opts) = (self.facts, self.opts);
        if opts.force {
            for g in &out.groups {
                let replaced: Vec<&str> = facts
                    .actions
                    .iter()
                    .filter(|a| a.group == g.group && a.is_recycle())
                    .map(|a| a.name.as_str())
                    .collect();
                if !replaced.is_empty() {
                    out.notes.push(format!(
                        "{}: --force replaces the recycle in progress ({})",
                        g.group,
                        replaced.join(", ")
                    ));
                }
            }
        }
    }
}

/// One group's facts for its sizing.
struct Sizing<'a> {
    e: &'a Entry,
    g: &'a Group,
    pending: Vec<&'a ScheduledAction>,
    spindown: Duration,
    old_instances: Vec<String>,
}

/// A role group's recycle sizes: before, scaled out, and returned to.
#[derive(Clone, Copy)]
struct Sizes {
    base: i32,
    scale_out_to: i32,
    return_to: i32,
}

/// A group the recycle needs beside the role's is missing: the migration group, or worker
/// beside idp (the role's own group was found missing with the entries).
fn missing_companion(e: &Entry, out: &mut RecyclePlan) {
    if e.mode == Mode::Migration {
        out.findings.push(Finding::new(
            &e.group,
            format!(
                "{} does not exist (the recycle runs a migration instance first)",
                e.group
            ),
            "recycle without a migration instance with --skip-migration",
        ));
    } else if e.follower {
        out.findings.push(Finding::new(
            &e.group,
            format!(
                "{} does not exist (an idp recycle recycles worker too)",
                e.group
            ),
            "leave the worker out with --skip-worker",
        ));
    }
}

/// More instances than desired and no recycle in progress: an earlier recycle's old instances
/// are still there (or are being removed, when they are unprotected).
fn surplus_finding(
    env: &str,
    e: &Entry,
    g: &Group,
    old_instances: &[String],
    out: &mut RecyclePlan,
) {
    let surplus = old_instances.len() as i32 - g.desired;
    if surplus > 0 {
        let unprotected = g
            .instances
            .iter()
            .filter(|i| !is_leaving(&i.lifecycle) && !i.protected)
            .count() as i32;
        let hint = if unprotected >= surplus {
            format!(
                "{unprotected} of them are unprotected and the group is removing them: wait a few minutes and run again"
            )
        } else {
            format!(
                "remove the old instances first: login-release scale-remove-old-instances {env} {}",
                e.role
            )
        };
        out.findings.push(Finding::new(
            &g.name,
            format!(
                "{} has {} instances but desired is {}: instances of an earlier recycle are still there",
                g.name,
                old_instances.len(),
                g.desired
            ),
            hint,
        ));
    }
}

/// The finding for a group with recycle actions already scheduled.
fn in_progress(
    env: &str,
    target: &Target,
    g: &Group,
    pending: &[&ScheduledAction],
    now: Timestamp,
) -> Finding {
    let mut pending = pending.to_vec();
    pending.sort_by_key(|a| a.start);
    let list: Vec<String> = pending
        .iter()
        .map(|a| match a.start {
            Some(t) => format!("{} at {} ({})", a.name, rfc3339(t), relative(t, now)),
            None => a.name.clone(),
        })
        .collect();
    Finding::new(
        &g.name,
        format!(
            "{}: a recycle is already in progress ({})",
            g.name,
            list.join(", ")
        ),
        format!(
            "let it finish, cancel it with `login-release scale-remove-new-instances {env} {target}`, or replace it with --force"
        ),
    )
}

/// Lifecycle states that do not count toward a group's capacity: instances on their way out
/// (`Terminating*`, `Detaching`), in standby or in a warm pool. Pending ones do count.
pub fn is_leaving(lifecycle: &str) -> bool {
    ["Terminat", "Detach", "Standby", "EnteringStandby", "Warmed"]
        .iter()
        .any(|p| lifecycle.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::recycle::testing::*;

    const NOW: &str = "2026-11-26T12:00:00Z";

    fn prod() -> Vec<Group> {
        vec![
            group("prod-idp", 12, 48),
            group("prod-worker", 4, 16),
            tagged(group("prod-migration", 0, 2), "utility"),
            group("prod-pivcac", 2, 8),
        ]
    }

    fn run(
        groups: &[Group],
        actions: &[ScheduledAction],
        target: &str,
        opts: &RecycleOptions,
    ) -> RecyclePlan {
        let s = Config::defaults().settings;
        let target = Target::parse(target);
        plan(
            &s,
            &Facts {
                env: "prod",
                target: &target,
                groups,
                actions,
                now: t(NOW),
            },
            opts,
        )
    }

    fn put(group: &str, name: &str, secs: i64, desired: i32) -> Call {
        Call::PutScheduled {
            group: group.into(),
            name: name.into(),
            at: t(NOW) + jiff::SignedDuration::from_secs(secs),
            desired,
        }
    }

    fn set(group: &str, from: i32, to: i32) -> Call {
        Call::SetDesired {
            group: group.into(),
            from,
            to,
        }
    }

    #[test]
    fn prod_idp_makes_the_originals_calls_returns_first() {
        let p = run(&prod(), &[], "idp", &RecycleOptions::default());
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        // The table of original-tools.md section 8, as a set...
        let table = [
            set("prod-migration", 0, 1),
            put("prod-migration", RECYCLE_ONCE, 600, 0),
            put("prod-idp", DELAYED_SCALE_OUT, 300, 24),
            put("prod-idp", RECYCLE_ONCE, 900, 12),
            put("prod-worker", DELAYED_SCALE_OUT, 300, 8),
            put("prod-worker", RECYCLE_ONCE, 900, 4),
        ];
        assert_eq!(p.calls.len(), table.len());
        for c in &table {
            assert!(p.calls.contains(c), "missing {c:?} in {:?}", p.calls);
        }
        // ...in an order where every return is scheduled before any scale-out.
        assert_eq!(
            p.calls,
            vec![
                put("prod-migration", RECYCLE_ONCE, 600, 0),
                put("prod-idp", RECYCLE_ONCE, 900, 12),
                put("prod-worker", RECYCLE_ONCE, 900, 4),
                set("prod-migration", 0, 1),
                put("prod-idp", DELAYED_SCALE_OUT, 300, 24),
                put("prod-worker", DELAYED_SCALE_OUT, 300, 8),
            ]
        );
        assert_eq!(
            p.scale_down_at(),
            Some(t(NOW) + jiff::SignedDuration::from_secs(900))
        );
        assert_eq!(p.role_groups(), ["prod-idp", "prod-worker"]);
    }

    #[test]
    fn pivcac_doubles_at_once_and_returns_after_the_spindown() {
        let p = run(&prod(), &[], "pivcac", &RecycleOptions::default());
        assert!(p.findings.is_empty());
        assert_eq!(
            p.calls,
            vec![
                put("prod-pivcac", RECYCLE_ONCE, 600, 2),
                set("prod-pivcac", 2, 4)
            ]
        );
        assert_eq!(p.groups[0].mode, Mode::Immediate);
    }

    #[test]
    fn skip_migration_makes_idp_immediate() {
        let opts = RecycleOptions {
            skip_migration: true,
            skip_worker: true,
            ..Default::default()
        };
        let p = run(&prod(), &[], "idp", &opts);
        assert_eq!(
            p.calls,
            vec![
                put("prod-idp", RECYCLE_ONCE, 600, 12),
                set("prod-idp", 12, 24)
            ]
        );
    }

    #[test]
    fn sizes_that_are_not_a_recycle_are_findings() {
        // -t 0 would empty production idp; -i below the current size would scale in first.
        for (immediate, return_to, problem) in [
            (
                None,
                Some(0),
                "prod-idp: returning to 0 instances would take it out of service (it runs 12)",
            ),
            (
                Some(6),
                None,
                "prod-idp: scaling out to 6 is below its desired 12: a recycle never scales in",
            ),
        ] {
            let opts = RecycleOptions {
                immediate,
                return_to,
                ..Default::default()
            };
            let p = run(&prod(), &[], "idp", &opts);
            assert!(
                p.findings.iter().any(|f| f.problem == problem),
                "{problem}: {:?}",
                p.findings
            );
        }
        let opts = RecycleOptions {
            immediate: Some(30),
            ..Default::default()
        };
        let p = run(&prod(), &[], "idp", &opts);
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        assert!(
            p.notes.iter().any(|n| n == "prod-idp: non-default sizes: scale out to 30 (default 24), return to 12 (default 12)"),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn delays_and_sizes_follow_the_flags_but_not_for_the_worker() {
        let opts = RecycleOptions {
            spinup: Duration::from_secs(60),
            spinup_explicit: true,
            spindown: Duration::from_secs(120),
            spindown_explicit: true,
            immediate: Some(30),
            return_to: Some(10),
            ..Default::default()
        };
        let p = run(&prod(), &[], "idp", &opts);
        assert!(p.findings.is_empty());
        assert!(p
            .calls
            .contains(&put("prod-idp", DELAYED_SCALE_OUT, 60, 30)));
        assert!(p.calls.contains(&put("prod-idp", RECYCLE_ONCE, 180, 10)));
        assert!(p
            .calls
            .contains(&put("prod-worker", DELAYED_SCALE_OUT, 60, 8)));
        assert!(p.calls.contains(&put("prod-worker", RECYCLE_ONCE, 180, 4)));
        assert!(p
            .calls
            .contains(&put("prod-migration", RECYCLE_ONCE, 120, 0)));
    }

    #[test]
    fn spinup_zero_scales_out_now() {
        let opts = RecycleOptions {
            spinup: Duration::ZERO,
            spinup_explicit: true,
            skip_worker: true,
            ..Default::default()
        };
        let p = run(&prod(), &[], "idp", &opts);
        assert!(p.calls.contains(&set("prod-idp", 12, 24)));
        assert!(p.calls.contains(&put("prod-idp", RECYCLE_ONCE, 600, 12)));
    }

    #[test]
    fn long_grace_periods_stretch_the_default_spindown_only() {
        let mut groups = prod();
        groups[3].grace_secs = 900;
        let p = run(&groups, &[], "pivcac", &RecycleOptions::default());
        assert!(p.calls.contains(&put("prod-pivcac", RECYCLE_ONCE, 1800, 2)));
        assert!(p.notes[0].contains("lengthened to 30m"), "{:?}", p.notes);
        let explicit = RecycleOptions {
            spindown_explicit: true,
            ..Default::default()
        };
        let p = run(&groups, &[], "pivcac", &explicit);
        assert!(p.calls.contains(&put("prod-pivcac", RECYCLE_ONCE, 600, 2)));
    }

    #[test]
    fn worker_with_desired_zero_is_skipped_not_refused() {
        let mut groups = prod();
        groups[1] = group("prod-worker", 0, 16);
        let p = run(&groups, &[], "idp", &RecycleOptions::default());
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        assert_eq!(
            p.skipped,
            vec![Skipped {
                group: "prod-worker".into(),
                reason: "its desired capacity is 0".into()
            }]
        );
        assert!(p.calls.iter().all(|c| c.group() != "prod-worker"));
        // The role's own group with desired 0 is a finding.
        let mut groups = prod();
        groups[3] = group("prod-pivcac", 0, 8);
        let p = run(&groups, &[], "pivcac", &RecycleOptions::default());
        assert_eq!(
            p.findings[0].problem,
            "prod-pivcac has desired capacity 0: nothing to recycle"
        );
    }

    #[test]
    fn every_group_is_checked_before_any_change() {
        let mut groups = prod();
        groups[0].max = 20; // idp cannot double
        groups[1].max = 6; // neither can worker
        let p = run(&groups, &[], "idp", &RecycleOptions::default());
        let problems: Vec<&str> = p.findings.iter().map(|f| f.problem.as_str()).collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("prod-idp: cannot scale out to 24 instances: max is 20"));
        assert_eq!(
            p.findings[0].hint,
            "raise the maximum first (login-release asg-size prod idp 24 --max), or pass --immediate N with N <= 20"
        );
        assert!(problems[1].starts_with("prod-worker: cannot scale out to 8 instances: max is 6"));
        assert!(p.findings[1].hint.contains("--skip-worker"));
    }

    #[test]
    fn a_recycle_in_progress_is_refused_unless_forced() {
        let actions = [
            action("prod-idp", DELAYED_SCALE_OUT, "2026-11-26T11:58:00Z", 24),
            action("prod-idp", RECYCLE_ONCE, "2026-11-26T12:08:00Z", 12),
        ];
        let mut groups = prod();
        groups[0] = group("prod-idp", 24, 48); // already doubled
        let p = run(&groups, &actions, "pivcac", &RecycleOptions::default());
        assert!(p.findings.is_empty(), "other groups are not affected");
        let p = run(&groups, &actions, "idp", &RecycleOptions::default());
        assert_eq!(p.findings.len(), 1, "{:?}", p.findings);
        assert_eq!(
            p.findings[0].problem,
            "prod-idp: a recycle is already in progress (DelayedScaleOutOnce.asg-recycle at 2026-11-26T11:58:00Z (2m ago), RecycleOnce.asg-recycle at 2026-11-26T12:08:00Z (in 8m))"
        );
        assert_eq!(
            p.findings[0].hint,
            "let it finish, cancel it with `login-release scale-remove-new-instances prod idp`, or replace it with --force"
        );
        // Forced: sized from the pre-recycle size (12), not the doubled one (24).
        let forced = RecycleOptions {
            force: true,
            ..Default::default()
        };
        let p = run(&groups, &actions, "idp", &forced);
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        assert!(p.calls.contains(&put("prod-idp", RECYCLE_ONCE, 900, 12)));
        // Already at 24: no new scale-out, and the stale delayed one is deleted.
        assert!(p.calls.contains(&Call::DeleteScheduled {
            group: "prod-idp".into(),
            name: DELAYED_SCALE_OUT.into()
        }));
        assert!(p.notes.iter().any(|n| n.contains("--force replaces")));
    }

    #[test]
    fn surplus_instances_are_a_finding_with_the_command_that_fixes_them() {
        let mut groups = prod();
        let extra = groups[3].instances[0].clone();
        groups[3].instances.push(crate::aws::fleet::GroupInstance {
            id: "i-extra".into(),
            ..extra
        });
        let p = run(&groups, &[], "pivcac", &RecycleOptions::default());
        assert_eq!(
            p.findings[0].problem,
            "prod-pivcac has 3 instances but desired is 2: instances of an earlier recycle are still there"
        );
        assert_eq!(
            p.findings[0].hint,
            "remove the old instances first: login-release scale-remove-old-instances prod pivcac"
        );
        // Already unprotected: the group is removing them.
        groups[3].instances[2].protected = false;
        let p = run(&groups, &[], "pivcac", &RecycleOptions::default());
        assert!(p.findings[0].hint.contains("the group is removing them"));
        // Terminating instances do not count.
        groups[3].instances[2].lifecycle = "Terminating".into();
        let p = run(&groups, &[], "pivcac", &RecycleOptions::default());
        assert!(p.findings.is_empty());
    }

    #[test]
    fn a_leftover_migration_instance_is_a_finding() {
        let mut groups = prod();
        groups[2] = tagged(group("prod-migration", 1, 2), "utility");
        let p = run(&groups, &[], "idp", &RecycleOptions::default());
        assert_eq!(p.findings.len(), 1);
        assert!(p.findings[0]
            .problem
            .contains("leftover migration instance"));
        assert!(p.findings[0].hint.contains("asg-size prod migration 0"));
    }

    #[test]
    fn unknown_roles_and_missing_companions_are_findings() {
        let p = run(&prod(), &[], "ipd", &RecycleOptions::default());
        assert_eq!(p.findings[0].problem, "prod-ipd does not exist");
        assert!(p.findings[0].hint.starts_with("did you mean `idp`?"));
        let groups: Vec<Group> = prod()
            .into_iter()
            .filter(|g| g.name != "prod-worker")
            .collect();
        let p = run(&groups, &[], "idp", &RecycleOptions::default());
        assert_eq!(
            p.findings[0].hint,
            "leave the worker out with --skip-worker"
        );
        let groups: Vec<Group> = prod()
            .into_iter()
            .filter(|g| g.name != "prod-migration")
            .collect();
        let p = run(&groups, &[], "idp", &RecycleOptions::default());
        assert!(p.findings[0].hint.contains("--skip-migration"));
    }

    #[test]
    fn the_migration_role_recycles_only_the_migration_group() {
        let p = run(&prod(), &[], "migration", &RecycleOptions::default());
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        assert_eq!(
            p.calls,
            vec![
                put("prod-migration", RECYCLE_ONCE, 600, 0),
                set("prod-migration", 0, 1)
            ]
        );
    }

    #[test]
    fn all_skips_tagged_empty_and_migration_groups_and_honours_skip_worker() {
        let mut groups = prod();
        groups.push(group("prod-outboundproxy", 0, 4));
        groups.push(tagged(group("prod-db", 1, 1), "stateful"));
        groups.push(group("staging-idp", 2, 8));
        let opts = RecycleOptions {
            skip_worker: true,
            ..Default::default()
        };
        let p = run(&groups, &[], "ALL", &opts);
        assert!(p.findings.is_empty(), "{:?}", p.findings);
        let skipped: Vec<(&str, &str)> = p
            .skipped
            .iter()
            .map(|s| (s.group.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            skipped,
            [
                ("prod-db", "it is tagged `stateful`"),
                ("prod-outboundproxy", "its desired capacity is 0"),
                ("prod-worker", "--skip-worker"),
            ]
        );
        assert_eq!(
            p.calls,
            vec![
                put("prod-migration", RECYCLE_ONCE, 600, 0),
                put("prod-idp", RECYCLE_ONCE, 900, 12),
                put("prod-pivcac", RECYCLE_ONCE, 600, 2),
                set("prod-migration", 0, 1),
                put("prod-idp", DELAYED_SCALE_OUT, 300, 24),
                set("prod-pivcac", 2, 4),
            ]
        );
    }

    #[test]
    fn all_with_skip_migration_says_why_the_migration_group_is_left_out() {
        let opts = RecycleOptions {
            skip_migration: true,
            ..Default::default()
        };
        let p = run(&prod(), &[], "ALL", &opts);
        assert!(p.skipped.contains(&Skipped {
            group: "prod-migration".into(),
            reason: "--skip-migration".into()
        }));
        assert!(p.calls.iter().all(|c| c.group() != "prod-migration"));
        assert!(p.calls.contains(&set("prod-idp", 12, 24)));
    }

    #[test]
    fn all_without_groups_is_a_wrong_environment() {
        let p = run(&prod(), &[], "ALL", &RecycleOptions::default());
        assert!(p.findings.is_empty());
        let s = Config::defaults().settings;
        let target = Target::All;
        let p = plan(
            &s,
            &Facts {
                env: "prd",
                target: &target,
                groups: &prod(),
                actions: &[],
                now: t(NOW),
            },
            &RecycleOptions::default(),
        );
        assert_eq!(p.findings.len(), 1);
        assert!(p.findings[0].hint.starts_with("did you mean `prod`?"));
        let idp = Target::Role("idp".into());
        let p = plan(
            &s,
            &Facts {
                env: "prd",
                target: &idp,
                groups: &prod(),
                actions: &[],
                now: t(NOW),
            },
            &RecycleOptions::default(),
        );
        assert_eq!(
            p.findings.len(),
            1,
            "not one per missing companion: {:?}",
            p.findings
        );
    }
}
