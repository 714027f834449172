//! asg-size's rules as pure functions: which capacity field changes, whether the result keeps
//! `min <= desired <= max` (and which flag to change first when it does not), instance counts by
//! lifecycle, health and protection, and whether a recycle is in progress.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::fleet::{Group, ScheduledAction, RECYCLE_ONCE};
use crate::config::Settings;

/// The capacity field a COUNT sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Desired,
    Min,
    Max,
}

impl Field {
    pub fn name(self) -> &'static str {
        match self {
            Field::Desired => "desired",
            Field::Min => "min",
            Field::Max => "max",
        }
    }

    /// The asg-size flag that selects this field.
    pub fn flag(self) -> &'static str {
        match self {
            Field::Desired => "--desired",
            Field::Min => "--min",
            Field::Max => "--max",
        }
    }
}

/// Desired, min and max of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capacity {
    pub desired: i32,
    pub min: i32,
    pub max: i32,
}

impl Capacity {
    pub fn of(group: &Group) -> Self {
        Capacity {
            desired: group.desired,
            min: group.min,
            max: group.max,
        }
    }

    pub fn get(self, field: Field) -> i32 {
        match field {
            Field::Desired => self.desired,
            Field::Min => self.min,
            Field::Max => self.max,
        }
    }

    pub fn with(mut self, field: Field, value: i32) -> Self {
        match field {
            Field::Desired => self.desired = value,
            Field::Min => self.min = value,
            Field::Max => self.max = value,
        }
        self
    }
}

impl std::fmt::Display for Capacity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "desired {}, min {}, max {}",
            self.desired, self.min, self.max
        )
    }
}

/// What setting one field would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The field already has that value.
    Nothing,
    /// A valid change from `before` to `after`.
    Set { before: Capacity, after: Capacity },
}

/// A rejected change: one error line and the command to run first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub hint: String,
}

/// Checks that setting `field` to `value` keeps `min <= desired <= max`. When it does not, the
/// hint names the other field to change first, as a command (`cmd` is `login-release asg-size
/// prod idp`).
pub fn plan_change(
    group: &str,
    current: Capacity,
    field: Field,
    value: i32,
    cmd: &str,
) -> Result<Change, Problem> {
    if current.get(field) == value {
        return Ok(Change::Nothing);
    }
    let after = current.with(field, value);
    let problem = |message: String, fix_field: Field, fix_value: i32, verb: &str| Problem {
        message,
        hint: format!(
            "{verb} {} first: `{cmd} {fix_value}{}`, then run this again",
            fix_field.name(),
            match fix_field {
                Field::Desired => String::new(),
                f => format!(" {}", f.flag()),
            }
        ),
    };
    match field {
        Field::Desired if value > current.max => Err(problem(
            format!(
                "desired {value} would exceed {group}'s max of {}",
                current.max
            ),
            Field::Max,
            value,
            "raise the",
        )),
        Field::Desired if value < current.min => Err(problem(
            format!(
                "desired {value} would be below {group}'s min of {}",
                current.min
            ),
            Field::Min,
            value,
            "lower the",
        )),
        Field::Min if value > current.desired => Err(problem(
            format!(
                "min {value} would exceed {group}'s desired capacity of {}",
                current.desired
            ),
            Field::Desired,
            value,
            "raise the",
        )),
        Field::Max if value < current.desired => Err(problem(
            format!(
                "max {value} would be below {group}'s desired capacity of {}",
                current.desired
            ),
            Field::Desired,
            value,
            "lower the",
        )),
        _ => Ok(Change::Set {
            before: current,
            after,
        }),
    }
}

/// Instance counts of a group, as the group sees its members.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub total: usize,
    /// Members that count toward capacity (not terminating, terminated or detached).
    pub running: usize,
    pub by_lifecycle: BTreeMap<String, usize>,
    pub by_health: BTreeMap<String, usize>,
    pub protected: usize,
    pub unprotected: usize,
}

/// Lifecycle states that no longer count as a running member.
pub fn is_leaving(lifecycle: &str) -> bool {
    lifecycle.starts_with("Terminat") || lifecycle.starts_with("Detach")
}

pub fn counts(group: &Group) -> Counts {
    let mut c = Counts {
        total: group.instances.len(),
        ..Counts::default()
    };
    for i in &group.instances {
        *c.by_lifecycle.entry(i.lifecycle.clone()).or_default() += 1;
        *c.by_health.entry(i.health.clone()).or_default() += 1;
        if i.protected {
            c.protected += 1;
        } else {
            c.unprotected += 1;
        }
        if !is_leaving(&i.lifecycle) {
            c.running += 1;
        }
    }
    c
}

/// `4 (InService 4; Healthy 4; protected 4)`: one line for people.
pub fn describe_counts(c: &Counts) -> String {
    if c.total == 0 {
        return "0".to_string();
    }
    let join = |m: &BTreeMap<String, usize>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{} ({}; {}; protected from scale-in {}, unprotected {})",
        c.total,
        join(&c.by_lifecycle),
        join(&c.by_health),
        c.protected,
        c.unprotected
    )
}

/// The end of a manual recycle in progress: the group's `RecycleOnce.asg-recycle` start time when
/// it is still in the future.
pub fn recycle_until(
    actions: &[ScheduledAction],
    group: &str,
    now: Timestamp,
) -> Option<Timestamp> {
    actions
        .iter()
        .filter(|a| a.group == group && a.name == RECYCLE_ONCE)
        .filter_map(|a| a.start)
        .filter(|t| *t > now)
        .max()
}

/// The scheduled actions of a group in start order (recurring ones by their next start).
pub fn actions_of(actions: &[ScheduledAction], group: &str) -> Vec<ScheduledAction> {
    let mut out: Vec<ScheduledAction> = actions
        .iter()
        .filter(|a| a.group == group)
        .cloned()
        .collect();
    out.sort_by(|a, b| a.start.cmp(&b.start).then(a.name.cmp(&b.name)));
    out
}

/// `desired 8` / `desired 0, min 0, max 4`: what an action sets.
pub fn action_sets(a: &ScheduledAction) -> String {
    let mut parts = Vec::new();
    if let Some(d) = a.desired {
        parts.push(format!("desired {d}"));
    }
    if let Some(m) = a.min {
        parts.push(format!("min {m}"));
    }
    if let Some(m) = a.max {
        parts.push(format!("max {m}"));
    }
    if parts.is_empty() {
        "no capacity change".to_string()
    } else {
        parts.join(", ")
    }
}

/// The role part of a group name under the naming pattern (`prod-idp` -> `idp` for
/// `{env}-{role}`), or `None` when the name does not fit the pattern for `env`.
pub fn role_of(settings: &Settings, env: &str, group: &str) -> Option<String> {
    const MARK: &str = "\u{1}";
    let pattern = settings.asg_name(env, MARK);
    let (prefix, suffix) = pattern.split_once(MARK)?;
    let role = group.strip_prefix(prefix)?.strip_suffix(suffix)?;
    (!role.is_empty()).then(|| role.to_string())
}

/// The error for a group that does not exist: a did-you-mean over the environment's groups and,
/// when the role is unknown too, the list of the environment's roles.
pub fn missing_group(
    settings: &Settings,
    env: &str,
    role: &str,
    env_groups: &[String],
    where_: &str,
) -> Problem {
    let wanted = settings.asg_name(env, role);
    let roles: Vec<String> = env_groups
        .iter()
        .filter_map(|g| role_of(settings, env, g))
        .collect();
    if env_groups.is_empty() {
        return Problem {
            message: format!("no Auto Scaling Group {wanted}: {where_} has no groups for environment {env}"),
            hint: "check the environment name, AWS_REGION and the credentials (`aws-vault exec <env>-power --`)".to_string(),
        };
    }
    let known_role = settings.roles.iter().any(|r| r == role) || roles.iter().any(|r| r == role);
    if known_role {
        let guess = crate::error::closest(&wanted, env_groups, 3);
        Problem {
            message: format!("no Auto Scaling Group {wanted} in {where_}"),
            hint: match guess {
                Some(g) => format!(
                    "did you mean {g}? groups in {env}: {}",
                    env_groups.join(", ")
                ),
                None => format!("groups in {env}: {}", env_groups.join(", ")),
            },
        }
    } else {
        let guess = crate::error::closest(role, &roles, 3);
        Problem {
            message: format!("unknown role `{role}` in {env}: there is no group {wanted}"),
            hint: match guess {
                Some(r) => format!("did you mean `{r}`? roles in {env}: {}", roles.join(", ")),
                None => format!("roles in {env}: {}", roles.join(", ")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::fleet::GroupInstance;
    use crate::config::Config;

    const CMD: &str = "login-release asg-size prod idp";

    fn cap(desired: i32, min: i32, max: i32) -> Capacity {
        Capacity { desired, min, max }
    }

    #[test]
    fn valid_changes_are_planned() {
        let c = cap(4, 1, 16);
        assert_eq!(
            plan_change("prod-idp", c, Field::Desired, 6, CMD),
            Ok(Change::Set {
                before: c,
                after: cap(6, 1, 16)
            })
        );
        assert_eq!(
            plan_change("prod-idp", c, Field::Max, 4, CMD),
            Ok(Change::Set {
                before: c,
                after: cap(4, 1, 4)
            })
        );
        assert_eq!(
            plan_change("prod-idp", c, Field::Min, 4, CMD),
            Ok(Change::Set {
                before: c,
                after: cap(4, 4, 16)
            })
        );
        assert_eq!(
            plan_change("prod-idp", c, Field::Desired, 4, CMD),
            Ok(Change::Nothing)
        );
    }

    #[test]
    fn desired_above_max_names_the_max_flag() {
        let p = plan_change("prod-idp", cap(4, 0, 16), Field::Desired, 20, CMD).unwrap_err();
        assert_eq!(p.message, "desired 20 would exceed prod-idp's max of 16");
        assert_eq!(
            p.hint,
            "raise the max first: `login-release asg-size prod idp 20 --max`, then run this again"
        );
    }

    #[test]
    fn desired_below_min_names_the_min_flag() {
        let p = plan_change("prod-idp", cap(4, 2, 16), Field::Desired, 1, CMD).unwrap_err();
        assert_eq!(p.message, "desired 1 would be below prod-idp's min of 2");
        assert!(p.hint.contains("`login-release asg-size prod idp 1 --min`"));
    }

    #[test]
    fn min_above_desired_and_max_below_desired_name_desired() {
        let p = plan_change("prod-idp", cap(4, 0, 16), Field::Min, 5, CMD).unwrap_err();
        assert_eq!(
            p.message,
            "min 5 would exceed prod-idp's desired capacity of 4"
        );
        assert_eq!(
            p.hint,
            "raise the desired first: `login-release asg-size prod idp 5`, then run this again"
        );
        let p = plan_change("prod-idp", cap(4, 0, 16), Field::Max, 2, CMD).unwrap_err();
        assert_eq!(
            p.message,
            "max 2 would be below prod-idp's desired capacity of 4"
        );
        assert!(p.hint.starts_with("lower the desired first"));
    }

    fn member(id: &str, lifecycle: &str, health: &str, protected: bool) -> GroupInstance {
        GroupInstance {
            id: id.into(),
            lifecycle: lifecycle.into(),
            health: health.into(),
            protected,
        }
    }

    fn group(instances: Vec<GroupInstance>) -> Group {
        Group {
            name: "prod-idp".into(),
            desired: 2,
            min: 0,
            max: 8,
            health_check_type: "ELB".into(),
            grace_secs: 1,
            tags: Default::default(),
            instances,
            target_group_arns: vec![],
            termination_policies: vec![],
            new_instances_protected: true,
        }
    }

    #[test]
    fn counts_by_lifecycle_health_and_protection() {
        let g = group(vec![
            member("i-1", "InService", "Healthy", true),
            member("i-2", "InService", "Healthy", false),
            member("i-3", "Pending", "Healthy", true),
            member("i-4", "Terminating", "Unhealthy", false),
        ]);
        let c = counts(&g);
        assert_eq!(c.total, 4);
        assert_eq!(c.running, 3);
        assert_eq!(c.by_lifecycle["InService"], 2);
        assert_eq!(c.by_health["Unhealthy"], 1);
        assert_eq!((c.protected, c.unprotected), (2, 2));
        assert_eq!(
            describe_counts(&c),
            "4 (InService 2, Pending 1, Terminating 1; Healthy 3, Unhealthy 1; protected from scale-in 2, unprotected 2)"
        );
        assert_eq!(describe_counts(&counts(&group(vec![]))), "0");
    }

    fn action(group: &str, name: &str, start: &str, desired: i32) -> ScheduledAction {
        ScheduledAction {
            group: group.into(),
            name: name.into(),
            start: Some(start.parse().unwrap()),
            recurrence: None,
            desired: Some(desired),
            min: None,
            max: None,
        }
    }

    #[test]
    fn recycle_in_progress_only_while_recycle_once_is_ahead() {
        let now: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
        let actions = vec![
            action("prod-idp", RECYCLE_ONCE, "2026-11-26T12:15:00Z", 4),
            action("prod-worker", RECYCLE_ONCE, "2026-11-26T12:30:00Z", 2),
            action("prod-pivcac", RECYCLE_ONCE, "2026-11-26T11:00:00Z", 2),
            action(
                "prod-idp",
                "auto-recycle.spindown.0",
                "2026-11-26T13:00:00Z",
                4,
            ),
        ];
        assert_eq!(
            recycle_until(&actions, "prod-idp", now),
            Some("2026-11-26T12:15:00Z".parse().unwrap())
        );
        assert_eq!(recycle_until(&actions, "prod-pivcac", now), None);
        assert_eq!(recycle_until(&actions, "prod-migration", now), None);
        let mine = actions_of(&actions, "prod-idp");
        assert_eq!(mine.len(), 2);
        assert_eq!(mine[0].name, RECYCLE_ONCE);
        assert_eq!(action_sets(&mine[0]), "desired 4");
    }

    #[test]
    fn roles_come_from_the_naming_pattern() {
        let s = Config::defaults().settings;
        assert_eq!(role_of(&s, "prod", "prod-idp").as_deref(), Some("idp"));
        assert_eq!(role_of(&s, "prod", "staging-idp"), None);
        assert_eq!(role_of(&s, "prod", "prod-"), None);
    }

    #[test]
    fn missing_groups_suggest_groups_or_roles() {
        let s = Config::defaults().settings;
        let groups: Vec<String> = ["prod-idp", "prod-migration", "prod-pivcac", "prod-worker"]
            .map(String::from)
            .to_vec();
        let p = missing_group(&s, "prod", "idpp", &groups, "us-west-2");
        assert_eq!(
            p.message,
            "unknown role `idpp` in prod: there is no group prod-idpp"
        );
        assert_eq!(
            p.hint,
            "did you mean `idp`? roles in prod: idp, migration, pivcac, worker"
        );
        let p = missing_group(&s, "prod", "analytics", &groups, "us-west-2");
        assert_eq!(
            p.message,
            "no Auto Scaling Group prod-analytics in us-west-2"
        );
        assert!(p.hint.starts_with("groups in prod: prod-idp"));
        let p = missing_group(&s, "prod", "idp", &[], "us-west-2");
        assert!(p.message.contains("has no groups for environment prod"));
    }
}
