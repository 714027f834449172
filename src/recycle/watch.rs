//! Waiting, over a [`Clock`] so the loops are tested with a fake one (the emulator launches
//! instances at once, so a real run never shows the waiting part).
//!
//! - [`wait_until`]: count down to a time (the recycle's scale-down, for `--wait` and
//!   `config-recycle --then-remove-old`).
//! - [`watch_new_instances`]: poll until a recycle's new instances are InService, Healthy and
//!   healthy in their group's target groups, or fail when a group's scale-down time comes first
//!   (`asg-recycle --watch`, `deploy`'s step 6).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use super::plan::{is_leaving, GroupRecycle};
use super::Clock;
use crate::aws::fleet::Group;
use crate::aws::Aws;
use crate::plan::{relative, rfc3339};

/// How often the countdown is refreshed and the fleet polled.
pub const TICK: Duration = Duration::from_secs(5);

/// Sleeps until `at`, calling `progress` with the remaining time before every sleep. Returns at
/// once when `at` has passed.
pub async fn wait_until<C: Clock>(
    clock: &C,
    at: Timestamp,
    tick: Duration,
    mut progress: impl FnMut(Duration),
) {
    loop {
        let now = clock.now();
        if now >= at {
            return;
        }
        let left = Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO);
        progress(left);
        clock.sleep(left.min(tick)).await;
    }
}

/// The countdown line of a wait: `waiting for the scale-down at T: 4m30s left` (rounded up, so
/// it never says 0s before the time).
pub fn countdown(what: &str, at: Timestamp, left: Duration) -> String {
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    format!(
        "waiting for {what} at {}: {} left",
        rfc3339(at),
        crate::types::format_duration(Duration::from_secs(secs))
    )
}

/// What one group's watch waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatchTarget {
    pub group: String,
    /// Instances the group had before the recycle.
    pub old: BTreeSet<String>,
    /// New instances needed to reach the scale-out size.
    pub want: usize,
    pub scale_out_at: Timestamp,
    /// The scale-down: new instances not healthy by then mean the recycle failed.
    pub deadline: Timestamp,
}

impl WatchTarget {
    /// Targets for the groups of a recycle that launch instances.
    pub fn from_plan(groups: &[GroupRecycle]) -> Vec<WatchTarget> {
        groups
            .iter()
            .filter_map(|g| {
                let want = (g.scale_out_to as usize).saturating_sub(g.old_instances.len());
                (want > 0).then(|| WatchTarget {
                    group: g.group.clone(),
                    old: g.old_instances.iter().cloned().collect(),
                    want,
                    scale_out_at: g.scale_out_at,
                    deadline: g.return_at,
                })
            })
            .collect()
    }
}

/// One group's state at a poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupProgress {
    pub group: String,
    pub launched: usize,
    pub ready: usize,
    pub want: usize,
}

/// What one poll sees: the groups, and the target groups' view of their instances.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub groups: Vec<Group>,
    /// Instance id -> its state in each target group it is registered in.
    pub target_health: BTreeMap<String, Vec<String>>,
}

impl Observed {
    /// Groups with no target groups (the worker) are judged by the group alone.
    pub fn of_groups(groups: Vec<Group>) -> Observed {
        Observed {
            groups,
            target_health: BTreeMap::new(),
        }
    }

    /// The group's view, then the load balancer's: during the health-check grace period a
    /// group reports a new instance Healthy while its target groups have not passed it yet,
    /// and it serves no traffic until they do.
    fn is_ready(&self, group: &Group, i: &crate::aws::fleet::GroupInstance) -> bool {
        i.in_service_and_healthy()
            && (group.target_group_arns.is_empty()
                || self.target_health.get(&i.id).is_some_and(|states| {
                    !states.is_empty() && states.iter().all(|s| s == "healthy")
                }))
    }
}

/// Reads the groups `names` and the health of their target groups' targets.
pub async fn observe(aws: &Aws, names: &[String]) -> Result<Observed> {
    let groups = aws.describe_groups(names).await?;
    let arns: Vec<String> = groups
        .iter()
        .flat_map(|g| g.target_group_arns.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let target_health = match arns.is_empty() {
        true => BTreeMap::new(),
        false => aws.target_health(&arns).await?,
    };
    Ok(Observed {
        groups,
        target_health,
    })
}

/// The verdict of one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Done(Vec<GroupProgress>),
    Waiting(String),
    Failed(String),
}

/// Judges one poll: counts each group's new instances (not in `old`, not leaving) and the ready
/// ones (InService and Healthy, and healthy in the group's target groups).
pub fn assess(targets: &[WatchTarget], seen: &Observed, now: Timestamp) -> Status {
    let mut parts = Vec::new();
    let mut progress = Vec::new();
    let mut done = true;
    let mut late = Vec::new();
    for t in targets {
        let group = seen.groups.iter().find(|g| g.name == t.group);
        let new: Vec<_> = group
            .map(|g| g.instances.as_slice())
            .unwrap_or(&[])
            .iter()
            .filter(|i| !t.old.contains(&i.id) && !is_leaving(&i.lifecycle))
            .collect();
        let ready = new
            .iter()
            .filter(|i| group.is_some_and(|g| seen.is_ready(g, i)))
            .count();
        let with_targets = group.is_some_and(|g| !g.target_group_arns.is_empty());
        progress.push(GroupProgress {
            group: t.group.clone(),
            launched: new.len(),
            ready,
            want: t.want,
        });
        if ready >= t.want {
            parts.push(format!(
                "{} {}/{} ready",
                t.group,
                ready.min(t.want),
                t.want
            ));
            continue;
        }
        done = false;
        if now >= t.deadline {
            late.push(format!(
                "{}: {ready} of {} new instances InService and Healthy{} at its scale-down time {}",
                t.group,
                t.want,
                if with_targets {
                    " in the group and its target groups"
                } else {
                    ""
                },
                rfc3339(t.deadline)
            ));
        }
        if now < t.scale_out_at {
            parts.push(format!(
                "{} 0/{} (scale-out {})",
                t.group,
                t.want,
                relative(t.scale_out_at, now)
            ));
        } else {
            parts.push(format!(
                "{} {ready}/{} ready, {} launched (scale-down {})",
                t.group,
                t.want,
                new.len(),
                relative(t.deadline, now)
            ));
        }
    }
    if !late.is_empty() {
        return Status::Failed(late.join("; "));
    }
    if done {
        Status::Done(progress)
    } else {
        Status::Waiting(parts.join(", "))
    }
}

/// Polls until every target is ready (`Ok` with the final counts) or a deadline passes (an error
/// with the counts). `poll` describes the groups; it is not called before the first scale-out.
pub async fn watch_new_instances<C: Clock>(
    clock: &C,
    targets: &[WatchTarget],
    tick: Duration,
    mut poll: impl AsyncFnMut() -> Result<Observed>,
    mut progress: impl FnMut(&str),
) -> Result<std::result::Result<Vec<GroupProgress>, String>> {
    let first_scale_out = targets.iter().map(|t| t.scale_out_at).min();
    let mut last = Observed::default();
    loop {
        let now = clock.now();
        if first_scale_out.is_some_and(|t| now >= t) {
            last = poll().await?;
        }
        match assess(targets, &last, now) {
            Status::Done(p) => return Ok(Ok(p)),
            Status::Failed(why) => return Ok(Err(why)),
            Status::Waiting(line) => progress(&line),
        }
        clock.sleep(tick).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fleet::GroupInstance;
    use crate::recycle::testing::*;
    use crate::recycle::FakeClock;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn member(id: &str, lifecycle: &str, health: &str) -> GroupInstance {
        GroupInstance {
            id: id.into(),
            lifecycle: lifecycle.into(),
            health: health.into(),
            protected: true,
        }
    }

    fn idp_with(members: &[(&str, &str, &str)]) -> Vec<Group> {
        let mut g = group("prod-idp", 2, 8);
        g.instances = members.iter().map(|(a, b, c)| member(a, b, c)).collect();
        vec![g]
    }

    fn target() -> WatchTarget {
        WatchTarget {
            group: "prod-idp".into(),
            old: ["i-a".to_string(), "i-b".to_string()].into(),
            want: 2,
            scale_out_at: t("2026-11-26T12:05:00Z"),
            deadline: t("2026-11-26T12:15:00Z"),
        }
    }

    #[test]
    fn countdown_rounds_up() {
        let at = t("2026-11-26T12:15:00Z");
        assert_eq!(
            countdown("the scale-down", at, Duration::from_millis(1500)),
            "waiting for the scale-down at 2026-11-26T12:15:00Z: 2s left"
        );
        assert_eq!(
            countdown("the scale-down", at, Duration::from_secs(270)),
            "waiting for the scale-down at 2026-11-26T12:15:00Z: 4m30s left"
        );
    }

    #[test]
    fn wait_until_counts_down_and_stops_at_the_time() {
        let clock = FakeClock::new(t("2026-11-26T12:00:00Z"));
        let mut seen = Vec::new();
        block_on(wait_until(
            &clock,
            t("2026-11-26T12:00:12Z"),
            TICK,
            |left| seen.push(left.as_secs()),
        ));
        assert_eq!(seen, [12, 7, 2]);
        assert_eq!(clock.now(), t("2026-11-26T12:00:12Z"));
        // A time already passed: no wait at all.
        let clock = FakeClock::new(t("2026-11-26T12:01:00Z"));
        block_on(wait_until(&clock, t("2026-11-26T12:00:00Z"), TICK, |_| {
            panic!("no progress expected")
        }));
        assert_eq!(clock.slept(), Duration::ZERO);
    }

    #[test]
    fn watch_waits_for_the_scale_out_then_for_health() {
        let clock = FakeClock::new(t("2026-11-26T12:00:00Z"));
        let script = [
            idp_with(&[
                ("i-a", "InService", "Healthy"),
                ("i-b", "InService", "Healthy"),
            ]),
            idp_with(&[
                ("i-a", "InService", "Healthy"),
                ("i-b", "InService", "Healthy"),
                ("i-c", "Pending", "Healthy"),
                ("i-d", "Pending", "Healthy"),
            ]),
            idp_with(&[
                ("i-a", "InService", "Healthy"),
                ("i-b", "InService", "Healthy"),
                ("i-c", "InService", "Healthy"),
                ("i-d", "InService", "Unhealthy"),
            ]),
            idp_with(&[
                ("i-a", "InService", "Healthy"),
                ("i-b", "InService", "Healthy"),
                ("i-c", "InService", "Healthy"),
                ("i-d", "InService", "Healthy"),
            ]),
        ];
        let mut polls = 0;
        let mut lines: Vec<String> = Vec::new();
        let result = block_on(watch_new_instances(
            &clock,
            &[target()],
            Duration::from_secs(100),
            async || {
                let i = polls;
                polls += 1;
                Ok(Observed::of_groups(script[i.min(script.len() - 1)].clone()))
            },
            |l| lines.push(l.to_string()),
        ))
        .unwrap();
        let done = result.unwrap();
        assert_eq!(
            done,
            [GroupProgress {
                group: "prod-idp".into(),
                launched: 2,
                ready: 2,
                want: 2
            }]
        );
        // Three ticks before the scale-out (no poll), then a poll per tick.
        assert_eq!(polls, 4);
        assert_eq!(
            lines,
            [
                "prod-idp 0/2 (scale-out in 5m)",
                "prod-idp 0/2 (scale-out in 3m20s)",
                "prod-idp 0/2 (scale-out in 1m40s)",
                "prod-idp 0/2 ready, 0 launched (scale-down in 10m)",
                "prod-idp 0/2 ready, 2 launched (scale-down in 8m20s)",
                "prod-idp 1/2 ready, 2 launched (scale-down in 6m40s)",
            ]
        );
        assert_eq!(clock.now(), t("2026-11-26T12:10:00Z"));
    }

    #[test]
    fn watch_fails_when_the_scale_down_comes_first() {
        let clock = FakeClock::new(t("2026-11-26T12:06:00Z"));
        let stuck = idp_with(&[
            ("i-a", "InService", "Healthy"),
            ("i-b", "InService", "Healthy"),
            ("i-c", "InService", "Healthy"),
            ("i-d", "Pending", "Healthy"),
        ]);
        let result = block_on(watch_new_instances(
            &clock,
            &[target()],
            Duration::from_secs(60),
            async || Ok(Observed::of_groups(stuck.clone())),
            |_| {},
        ))
        .unwrap();
        assert_eq!(
            result.unwrap_err(),
            "prod-idp: 1 of 2 new instances InService and Healthy at its scale-down time 2026-11-26T12:15:00Z"
        );
        assert_eq!(clock.now(), t("2026-11-26T12:15:00Z"));
    }

    #[test]
    fn a_group_with_target_groups_waits_for_them_too() {
        let mut groups = idp_with(&[
            ("i-a", "InService", "Healthy"),
            ("i-b", "InService", "Healthy"),
            ("i-c", "InService", "Healthy"),
            ("i-d", "InService", "Healthy"),
        ]);
        groups[0].target_group_arns = vec!["arn:tg/idp".into()];
        let states = |c: &str, d: &str| Observed {
            groups: groups.clone(),
            target_health: [
                ("i-c".to_string(), vec![c.to_string()]),
                ("i-d".to_string(), vec![d.to_string()]),
            ]
            .into(),
        };
        let now = t("2026-11-26T12:06:00Z");
        // In the grace period the group says Healthy; the load balancer has not passed i-d.
        assert_eq!(
            assess(&[target()], &states("healthy", "initial"), now),
            Status::Waiting("prod-idp 1/2 ready, 2 launched (scale-down in 9m)".into())
        );
        // Not registered in the target group at all: not ready either.
        let mut unregistered = states("healthy", "healthy");
        unregistered.target_health.remove("i-d");
        assert!(matches!(
            assess(&[target()], &unregistered, now),
            Status::Waiting(_)
        ));
        assert!(matches!(
            assess(&[target()], &states("healthy", "healthy"), now),
            Status::Done(_)
        ));
        assert_eq!(
            assess(
                &[target()],
                &states("healthy", "unhealthy"),
                t("2026-11-26T12:15:00Z")
            ),
            Status::Failed("prod-idp: 1 of 2 new instances InService and Healthy in the group and its target groups at its scale-down time 2026-11-26T12:15:00Z".into())
        );
    }

    #[test]
    fn leaving_and_old_instances_are_not_new() {
        let groups = idp_with(&[
            ("i-a", "InService", "Healthy"),
            ("i-c", "Terminating", "Healthy"),
            ("i-d", "InService", "Healthy"),
        ]);
        let s = assess(
            &[target()],
            &Observed::of_groups(groups),
            t("2026-11-26T12:06:00Z"),
        );
        assert_eq!(
            s,
            Status::Waiting("prod-idp 1/2 ready, 1 launched (scale-down in 9m)".into())
        );
    }

    #[test]
    fn targets_come_from_the_plan() {
        let g = GroupRecycle {
            group: "prod-pivcac".into(),
            role: "pivcac".into(),
            mode: crate::recycle::plan::Mode::Immediate,
            desired: 2,
            max: 8,
            scale_out_to: 4,
            scale_out_at: t("2026-11-26T12:00:00Z"),
            return_to: 2,
            return_at: t("2026-11-26T12:10:00Z"),
            old_instances: vec!["i-a".into(), "i-b".into()],
        };
        let same = GroupRecycle {
            scale_out_to: 2,
            group: "prod-x".into(),
            ..g.clone()
        };
        let targets = WatchTarget::from_plan(&[g, same]);
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].want, 2);
    }
}
