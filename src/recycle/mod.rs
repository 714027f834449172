//! The fleet half of a release: recycling groups (`asg-recycle`, `config-recycle`) and removing
//! scale-in protection from old or new instances (`scale-remove-*-instances`, `rollback --fleet`).
//!
//! - [`plan`]: pure. Which calls a recycle makes, and every preflight finding.
//! - [`progress`]: pure. How far a recycle an earlier run started got (applied, or part-done).
//! - [`scale_in`]: pure. Which instances to keep and which to unprotect; cancelling a recycle.
//! - [`watch`]: the waiting logic (until a time, until new instances are healthy) over a [`Clock`].
//! - [`run`]: the orchestration over a [`Context`](crate::context::Context): facts, plan,
//!   confirmation, apply, verify. Commands (and `rollback --fleet`) call these.

pub mod plan;
pub mod progress;
pub mod run;
pub mod scale_in;
pub mod watch;

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::aws::fleet::Group;
use crate::config::Settings;
use crate::error::Findings;

/// What a fleet command acts on: one role's group, or every group of the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Role(String),
    All,
}

impl Target {
    pub fn parse(s: &str) -> Target {
        if s.eq_ignore_ascii_case("all") {
            Target::All
        } else {
            Target::Role(s.to_string())
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Role(r) => f.write_str(r),
            Target::All => f.write_str("ALL"),
        }
    }
}

/// One preflight problem, with the fix. Collected, never returned one at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The group it is about (for `--skip-unsafe` and the report).
    pub group: String,
    pub problem: String,
    pub hint: String,
}

impl Finding {
    pub fn new(group: &str, problem: impl Into<String>, hint: impl Into<String>) -> Self {
        Finding {
            group: group.to_string(),
            problem: problem.into(),
            hint: hint.into(),
        }
    }
}

/// All findings as one preflight error (exit 3), or `Ok` when there are none.
pub fn findings_result(findings: &[Finding]) -> anyhow::Result<()> {
    let mut f = Findings::new();
    for x in findings {
        f.add(&x.problem, &x.hint);
    }
    f.into_result()
}

/// The role of a group of `env`, by the naming pattern (`{env}-{role}` gives `idp` for
/// `prod-idp`), or `None` when the name does not fit the pattern.
pub fn role_of(settings: &Settings, env: &str, group: &str) -> Option<String> {
    let pattern = Settings::expand(&settings.naming.asg, &[("env", env)]);
    let (prefix, suffix) = pattern.split_once("{role}")?;
    let role = group.strip_prefix(prefix)?.strip_suffix(suffix)?;
    (!role.is_empty()).then(|| role.to_string())
}

/// The groups that belong to `env` by the naming pattern, sorted by name.
pub fn env_groups<'a>(settings: &Settings, env: &str, groups: &'a [Group]) -> Vec<&'a Group> {
    let mut out: Vec<&Group> = groups
        .iter()
        .filter(|g| role_of(settings, env, &g.name).is_some())
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The skip tag a group carries (`utility`, `stateful`), if any: such groups are left out of ALL.
pub fn skip_tag<'a>(settings: &'a Settings, group: &Group) -> Option<&'a str> {
    settings
        .naming
        .skip_tags
        .iter()
        .find(|t| group.has_tag(t))
        .map(String::as_str)
}

/// The finding for a group that does not exist: lists the environment's groups and guesses the
/// role (or the environment) that was meant.
pub fn missing_group(
    settings: &Settings,
    env: &str,
    role: &str,
    all_groups: &[Group],
    why: &str,
) -> Finding {
    let name = settings.asg_name(env, role);
    let mine = env_groups(settings, env, all_groups);
    if mine.is_empty() {
        let guess = crate::error::closest(env, &settings.environments, 2);
        let hint = match guess {
            Some(g) => format!("did you mean `{g}`? Otherwise check that your credentials are for {env}'s account and region"),
            None => format!("check the environment name, and that your credentials are for {env}'s account and region"),
        };
        return Finding::new(
            &name,
            format!(
                "no Auto Scaling Groups found for environment `{env}` ({name} does not exist{why})"
            ),
            hint,
        );
    }
    let roles: Vec<String> = mine
        .iter()
        .filter_map(|g| role_of(settings, env, &g.name))
        .collect();
    let guess = crate::error::closest(role, &roles, 2);
    let names: Vec<&str> = mine.iter().map(|g| g.name.as_str()).collect();
    let hint = match guess {
        Some(g) => format!("did you mean `{g}`? {env} has: {}", names.join(", ")),
        None => format!("{env} has: {}", names.join(", ")),
    };
    Finding::new(&name, format!("{name} does not exist{why}"), hint)
}

/// Time for the waiting loops: the real clock in commands, a fake one in tests.
pub trait Clock {
    fn now(&self) -> Timestamp;
    fn sleep(&self, d: Duration) -> impl Future<Output = ()>;
}

/// The command's clock: starts at `ctx.now()` (which `LOGIN_RELEASE_NOW` may pin) and advances
/// with real time, so a pinned rehearsal still counts down.
#[derive(Debug, Clone)]
pub struct RealClock {
    base: Timestamp,
    started: Instant,
}

impl RealClock {
    pub fn starting_at(base: Timestamp) -> Self {
        RealClock {
            base,
            started: Instant::now(),
        }
    }
}

impl Clock for RealClock {
    fn now(&self) -> Timestamp {
        self.base + self.started.elapsed()
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await
    }
}

/// A clock that only moves when slept on, for unit tests of the waiting logic.
#[derive(Debug)]
pub struct FakeClock {
    now: std::cell::Cell<Timestamp>,
    slept: std::cell::Cell<Duration>,
}

impl FakeClock {
    pub fn new(now: Timestamp) -> Self {
        FakeClock {
            now: std::cell::Cell::new(now),
            slept: std::cell::Cell::new(Duration::ZERO),
        }
    }

    /// How long the code under test slept in total.
    pub fn slept(&self) -> Duration {
        self.slept.get()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        self.now.get()
    }

    async fn sleep(&self, d: Duration) {
        self.now.set(self.now.get() + d);
        self.slept.set(self.slept.get() + d);
    }
}

/// Now, to the second: scheduled actions and plans are in whole seconds.
pub fn whole_second(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builders for fleets as plain data.
    use std::collections::BTreeMap;

    use jiff::Timestamp;

    use crate::aws::fleet::{Group, GroupInstance, Instance, ScheduledAction};

    pub fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    pub fn group(name: &str, desired: i32, max: i32) -> Group {
        let instances = (0..desired)
            .map(|i| GroupInstance {
                id: format!("i-{name}-{i}"),
                lifecycle: "InService".into(),
                health: "Healthy".into(),
                protected: true,
            })
            .collect();
        Group {
            name: name.to_string(),
            desired,
            min: 0,
            max,
            health_check_type: "ELB".into(),
            grace_secs: 1,
            tags: BTreeMap::new(),
            instances,
            target_group_arns: vec![],
            termination_policies: vec!["OldestInstance".into()],
            new_instances_protected: true,
        }
    }

    pub fn tagged(mut g: Group, key: &str) -> Group {
        g.tags.insert(key.to_string(), "true".to_string());
        g
    }

    pub fn action(group: &str, name: &str, start: &str, desired: i32) -> ScheduledAction {
        ScheduledAction {
            group: group.to_string(),
            name: name.to_string(),
            start: Some(t(start)),
            recurrence: None,
            desired: Some(desired),
            min: None,
            max: None,
        }
    }

    pub fn ec2(id: &str, group: &str, launched: &str) -> Instance {
        Instance {
            id: id.to_string(),
            image_id: "ami-1".into(),
            name: None,
            instance_type: "t3.small".into(),
            az: "us-west-2a".into(),
            state: "running".into(),
            launch_time: t(launched),
            private_ip: None,
            public_ip: None,
            vpc_id: None,
            group: Some(group.to_string()),
            tags: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::config::Config;

    #[test]
    fn roles_follow_the_naming_pattern() {
        let s = Config::defaults().settings;
        assert_eq!(role_of(&s, "prod", "prod-idp").as_deref(), Some("idp"));
        assert_eq!(role_of(&s, "prod", "staging-idp"), None);
        assert_eq!(role_of(&s, "prod", "prod-"), None);
        let mut custom = s.clone();
        custom.naming.asg = "{role}.{env}".into();
        assert_eq!(role_of(&custom, "prod", "idp.prod").as_deref(), Some("idp"));
    }

    #[test]
    fn missing_groups_guess_the_role_or_the_environment() {
        let s = Config::defaults().settings;
        let groups = vec![group("prod-idp", 4, 16), group("prod-worker", 2, 8)];
        let f = missing_group(&s, "prod", "ipd", &groups, "");
        assert_eq!(f.problem, "prod-ipd does not exist");
        assert_eq!(
            f.hint,
            "did you mean `idp`? prod has: prod-idp, prod-worker"
        );
        let f = missing_group(&s, "prd", "idp", &groups, "");
        assert!(f
            .problem
            .starts_with("no Auto Scaling Groups found for environment `prd`"));
        assert!(f.hint.starts_with("did you mean `prod`?"), "{}", f.hint);
    }

    #[test]
    fn target_parses_all() {
        assert_eq!(Target::parse("ALL"), Target::All);
        assert_eq!(Target::parse("idp"), Target::Role("idp".into()));
        assert_eq!(Target::All.to_string(), "ALL");
    }
}
