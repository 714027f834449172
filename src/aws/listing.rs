//! ls-servers' rules as pure functions over the fleet model: state and Name filters, the joined
//! row of an instance and its group membership, columns, sorting, uptime and sha formatting, and
//! the running-vs-desired summary.

use std::collections::{BTreeMap, BTreeSet};

use globset::{Glob, GlobSet, GlobSetBuilder};
use jiff::Timestamp;
use serde::Serialize;

use super::capacity::is_leaving;
use super::fleet::{Group, GroupInstance, Instance};

/// Every EC2 instance state name.
pub const STATES: &[&str] = &[
    "pending",
    "running",
    "shutting-down",
    "terminated",
    "stopping",
    "stopped",
];

/// The chef tags that carry the deployed commit, in the order the original looked at them.
pub const SHA_TAGS: &[&str] = &["gitsha:idp", "gitsha:app", "gitsha:pivcac", "gitsha:worker"];

/// `-s` values: a comma- or space-separated list of state names, or `all`. `None` is the default:
/// every state but terminated.
pub fn parse_states(args: &[String]) -> Result<Vec<String>, String> {
    let words: Vec<&str> = args
        .iter()
        .flat_map(|a| a.split(|c: char| c == ',' || c.is_whitespace()))
        .filter(|w| !w.is_empty())
        .collect();
    if words.is_empty() {
        return Ok(STATES
            .iter()
            .filter(|s| **s != "terminated")
            .map(|s| s.to_string())
            .collect());
    }
    let mut out: Vec<String> = Vec::new();
    for w in words {
        let w = w.to_ascii_lowercase();
        if w == "all" {
            return Ok(STATES.iter().map(|s| s.to_string()).collect());
        }
        if !STATES.contains(&w.as_str()) {
            return Err(w);
        }
        if !out.contains(&w) {
            out.push(w);
        }
    }
    Ok(out)
}

/// The `-n` globs: checked client side with globset; passed to EC2's `tag:Name` filter too when
/// every glob uses only the wildcards EC2 understands (`*` and `?`).
#[derive(Debug, Clone)]
pub struct NameFilter {
    globs: Vec<String>,
    set: GlobSet,
}

impl NameFilter {
    pub fn new(globs: &[String]) -> Result<Self, String> {
        let mut b = GlobSetBuilder::new();
        for g in globs {
            b.add(Glob::new(g).map_err(|e| format!("`{g}`: {}", e.kind()))?);
        }
        Ok(NameFilter {
            globs: globs.to_vec(),
            set: b.build().map_err(|e| e.to_string())?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.globs.is_empty()
    }

    /// Whether a Name tag passes (no globs: everything passes, including no Name at all).
    pub fn matches(&self, name: Option<&str>) -> bool {
        self.globs.is_empty() || name.is_some_and(|n| self.set.is_match(n))
    }

    /// Values for EC2's `tag:Name` filter, or `None` when a glob uses classes or alternatives
    /// EC2 cannot express (then everything is fetched and filtered here).
    pub fn server_values(&self) -> Option<Vec<String>> {
        if self.globs.is_empty()
            || self
                .globs
                .iter()
                .any(|g| g.contains(['[', ']', '{', '}', '\\']))
        {
            return None;
        }
        Some(self.globs.clone())
    }
}

/// One listed instance: EC2's facts joined with its group membership and target health.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub instance: Instance,
    /// The instance as its group sees it (lifecycle, health, protection).
    pub member: Option<GroupInstance>,
    /// Load-balancer target states (`-r`): empty when registered nowhere.
    pub target_health: Vec<String>,
}

/// Joins instances with the groups' member lists.
pub fn join(instances: Vec<Instance>, groups: &[Group]) -> Vec<Row> {
    let members: BTreeMap<&str, &GroupInstance> = groups
        .iter()
        .flat_map(|g| g.instances.iter().map(|m| (m.id.as_str(), m)))
        .collect();
    instances
        .into_iter()
        .map(|i| Row {
            member: members.get(i.id.as_str()).map(|m| (*m).clone()),
            instance: i,
            target_health: Vec::new(),
        })
        .collect()
}

/// Sorted by Name tag, then launch time (oldest first), then id.
pub fn sort(rows: &mut [Row]) {
    rows.sort_by(|a, b| {
        let (x, y) = (&a.instance, &b.instance);
        x.name
            .as_deref()
            .unwrap_or("")
            .cmp(y.name.as_deref().unwrap_or(""))
            .then(x.launch_time.cmp(&y.launch_time))
            .then(x.id.cmp(&y.id))
    });
}

/// `2d 0h02m`, `0h20m`: days only when there are some; minutes zero-padded, hours not.
pub fn format_uptime(secs: i64) -> String {
    let secs = secs.max(0);
    let (d, h, m) = (secs / 86_400, (secs % 86_400) / 3600, (secs % 3600) / 60);
    if d > 0 {
        format!("{d}d {h}h{m:02}m")
    } else {
        format!("{h}h{m:02}m")
    }
}

/// `2026-11-26 12:00:00 UTC`.
pub fn format_launch(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The deployed commit from the first chef tag present (full).
pub fn full_sha(tags: &BTreeMap<String, String>) -> Option<&str> {
    SHA_TAGS
        .iter()
        .find_map(|t| tags.get(*t).map(String::as_str))
        .filter(|s| !s.is_empty())
}

/// Its first 9 characters, as the original printed.
pub fn short_sha(tags: &BTreeMap<String, String>) -> Option<String> {
    full_sha(tags).map(|s| s.chars().take(9).collect())
}

/// `healthy`, `unregistered`, or `healthy/draining` when target groups disagree.
pub fn health_cell(states: &[String]) -> String {
    if states.is_empty() {
        return "unregistered".to_string();
    }
    let mut seen: Vec<&str> = Vec::new();
    for s in states {
        if !seen.contains(&s.as_str()) {
            seen.push(s);
        }
    }
    seen.join("/")
}

/// The column sets: the original's default, `--compact` and `--long`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    #[default]
    Default,
    Compact,
    Long,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Id,
    Image,
    Name,
    Type,
    Az,
    PrivateIp,
    PublicIp,
    State,
    Launched,
    Uptime,
    Group,
    Protected,
    Lifecycle,
    AsgHealth,
    Sha,
    Health,
}

impl Col {
    pub fn header(self) -> &'static str {
        match self {
            Col::Id => "instance-id",
            Col::Image => "image-id",
            Col::Name => "name",
            Col::Type => "instance-type",
            Col::Az => "AZ",
            Col::PrivateIp => "private-ip",
            Col::PublicIp => "public-ip",
            Col::State => "state",
            Col::Launched => "launch-time",
            Col::Uptime => "uptime",
            Col::Group => "group",
            Col::Protected => "protected",
            Col::Lifecycle => "lifecycle",
            Col::AsgHealth => "asg-health",
            Col::Sha => "sha",
            Col::Health => "health",
        }
    }
}

/// The columns to print. `sha` is dropped when no row has one; `health` comes with `-r`.
pub fn columns(layout: Layout, rows: &[Row], with_health: bool) -> Vec<Col> {
    use Col::*;
    let mut cols = match layout {
        Layout::Compact => vec![Id, Name, State, Uptime],
        Layout::Default => vec![
            Id, Image, Name, Type, Az, State, Launched, Uptime, Group, Protected, Lifecycle,
            AsgHealth,
        ],
        Layout::Long => vec![
            Id, Image, Name, Type, Az, PrivateIp, PublicIp, State, Launched, Uptime, Group,
            Protected, Lifecycle, AsgHealth,
        ],
    };
    if layout != Layout::Compact && rows.iter().any(|r| full_sha(&r.instance.tags).is_some()) {
        cols.push(Sha);
    }
    if with_health {
        cols.push(Health);
    }
    cols
}

pub fn cell(col: Col, row: &Row, now: Timestamp) -> String {
    let i = &row.instance;
    let dash = || "-".to_string();
    match col {
        Col::Id => i.id.clone(),
        Col::Image => i.image_id.clone(),
        Col::Name => i.name.clone().unwrap_or_else(dash),
        Col::Type => i.instance_type.clone(),
        Col::Az => i.az.clone(),
        Col::PrivateIp => i.private_ip.clone().unwrap_or_else(dash),
        Col::PublicIp => i.public_ip.clone().unwrap_or_else(dash),
        Col::State => i.state.clone(),
        Col::Launched => format_launch(i.launch_time),
        Col::Uptime => format_uptime(now.as_second() - i.launch_time.as_second()),
        Col::Group => i.group.clone().unwrap_or_else(dash),
        Col::Protected => match &row.member {
            Some(m) if m.protected => "protected".to_string(),
            _ => dash(),
        },
        Col::Lifecycle => row
            .member
            .as_ref()
            .map(|m| m.lifecycle.clone())
            .unwrap_or_else(dash),
        Col::AsgHealth => row
            .member
            .as_ref()
            .map(|m| m.health.clone())
            .unwrap_or_else(dash),
        Col::Sha => short_sha(&i.tags).unwrap_or_else(dash),
        Col::Health => health_cell(&row.target_health),
    }
}

/// Header and cells of every row, for the table and TSV renderers.
pub fn render_rows(
    cols: &[Col],
    rows: &[Row],
    now: Timestamp,
) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = cols.iter().map(|c| c.header()).collect();
    let cells = rows
        .iter()
        .map(|r| cols.iter().map(|c| cell(*c, r, now)).collect())
        .collect();
    (header, cells)
}

/// One row in `--output json`: every fact, untruncated.
#[derive(Debug, Clone, Serialize)]
pub struct JsonRow {
    pub instance_id: String,
    pub image_id: String,
    pub name: Option<String>,
    pub instance_type: String,
    pub availability_zone: String,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub state: String,
    pub launch_time: String,
    pub uptime: String,
    pub uptime_secs: i64,
    pub group: Option<String>,
    pub protected_from_scale_in: Option<bool>,
    pub lifecycle: Option<String>,
    pub asg_health: Option<String>,
    pub git_sha: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_health: Option<String>,
}

pub fn json_row(row: &Row, now: Timestamp, with_health: bool) -> JsonRow {
    let i = &row.instance;
    let up = (now.as_second() - i.launch_time.as_second()).max(0);
    JsonRow {
        instance_id: i.id.clone(),
        image_id: i.image_id.clone(),
        name: i.name.clone(),
        instance_type: i.instance_type.clone(),
        availability_zone: i.az.clone(),
        private_ip: i.private_ip.clone(),
        public_ip: i.public_ip.clone(),
        state: i.state.clone(),
        launch_time: crate::plan::rfc3339(i.launch_time),
        uptime: format_uptime(up),
        uptime_secs: up,
        group: i.group.clone(),
        protected_from_scale_in: row.member.as_ref().map(|m| m.protected),
        lifecycle: row.member.as_ref().map(|m| m.lifecycle.clone()),
        asg_health: row.member.as_ref().map(|m| m.health.clone()),
        git_sha: full_sha(&i.tags).map(str::to_string),
        target_health: with_health.then(|| health_cell(&row.target_health)),
    }
}

/// Running members against desired capacity, per group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSummary {
    pub group: String,
    pub running: usize,
    pub desired: i32,
}

/// The groups the listed instances belong to, by name.
pub fn summary(rows: &[Row], groups: &[Group]) -> Vec<GroupSummary> {
    let seen: BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| r.instance.group.as_deref())
        .collect();
    let mut out: Vec<GroupSummary> = groups
        .iter()
        .filter(|g| seen.contains(g.name.as_str()))
        .map(|g| GroupSummary {
            group: g.name.clone(),
            running: g
                .instances
                .iter()
                .filter(|m| !is_leaving(&m.lifecycle))
                .count(),
            desired: g.desired,
        })
        .collect();
    out.sort_by(|a, b| a.group.cmp(&b.group));
    out.dedup_by(|a, b| a.group == b.group);
    out
}

impl GroupSummary {
    /// Whether the runbook's "no extra servers" check fails for this group.
    pub fn has_extra(&self) -> bool {
        self.running as i64 > self.desired as i64
    }
}

/// `running/desired: prod-idp 4/4, prod-worker 3/2`.
pub fn summary_line(s: &[GroupSummary]) -> Option<String> {
    (!s.is_empty()).then(|| {
        format!(
            "running/desired: {}",
            s.iter()
                .map(|g| format!("{} {}/{}", g.group, g.running, g.desired))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(id: &str, name: Option<&str>, launch: &str, group: Option<&str>) -> Instance {
        let mut tags = BTreeMap::new();
        if let Some(n) = name {
            tags.insert("Name".to_string(), n.to_string());
        }
        if let Some(g) = group {
            tags.insert("aws:autoscaling:groupName".to_string(), g.to_string());
        }
        Instance {
            id: id.into(),
            image_id: "ami-1".into(),
            name: name.map(str::to_string),
            instance_type: "t3.small".into(),
            az: "us-west-2a".into(),
            state: "running".into(),
            launch_time: launch.parse().unwrap(),
            private_ip: Some("10.42.0.4".into()),
            public_ip: None,
            vpc_id: Some("vpc-1".into()),
            group: group.map(str::to_string),
            tags,
        }
    }

    #[test]
    fn uptime_has_days_only_when_needed() {
        assert_eq!(format_uptime(20 * 60), "0h20m");
        assert_eq!(format_uptime(2 * 86_400 + 2 * 60), "2d 0h02m");
        assert_eq!(format_uptime(86_400 + 13 * 3600 + 5 * 60 + 59), "1d 13h05m");
        assert_eq!(format_uptime(-5), "0h00m");
    }

    #[test]
    fn launch_time_is_utc_with_seconds() {
        assert_eq!(
            format_launch("2026-11-26T09:05:03Z".parse().unwrap()),
            "2026-11-26 09:05:03 UTC"
        );
    }

    #[test]
    fn sha_comes_from_the_first_chef_tag_present() {
        let mut tags = BTreeMap::new();
        assert_eq!(short_sha(&tags), None);
        tags.insert("gitsha:worker".into(), "b".repeat(40));
        assert_eq!(short_sha(&tags).as_deref(), Some("bbbbbbbbb"));
        tags.insert("gitsha:idp".into(), "0123456789abcdef".into());
        assert_eq!(short_sha(&tags).as_deref(), Some("012345678"));
    }

    #[test]
    fn states_default_to_all_but_terminated() {
        let d = parse_states(&[]).unwrap();
        assert!(!d.contains(&"terminated".to_string()));
        assert_eq!(d.len(), 5);
        assert_eq!(
            parse_states(&["running,pending".into(), "stopped".into()]).unwrap(),
            ["running", "pending", "stopped"]
        );
        assert_eq!(
            parse_states(&["running pending running".into()]).unwrap(),
            ["running", "pending"]
        );
        assert_eq!(parse_states(&["all".into()]).unwrap().len(), 6);
        assert_eq!(parse_states(&["runing".into()]).unwrap_err(), "runing");
    }

    #[test]
    fn name_globs_go_to_ec2_only_when_ec2_can_express_them() {
        let f = NameFilter::new(&["asg-prod-i*".into(), "asg-prod-work?r".into()]).unwrap();
        assert_eq!(
            f.server_values().unwrap(),
            ["asg-prod-i*", "asg-prod-work?r"]
        );
        assert!(f.matches(Some("asg-prod-idp")));
        assert!(f.matches(Some("asg-prod-worker")));
        assert!(!f.matches(Some("asg-prod-pivcac")));
        assert!(!f.matches(None));
        let g = NameFilter::new(&["asg-prod-{idp,worker}".into()]).unwrap();
        assert_eq!(g.server_values(), None);
        assert!(g.matches(Some("asg-prod-worker")));
        assert!(NameFilter::new(&["a[".into()]).is_err());
        assert!(NameFilter::new(&[]).unwrap().matches(None));
    }

    #[test]
    fn rows_sort_by_name_then_launch_time() {
        let instances = vec![
            inst("i-3", Some("asg-prod-worker"), "2026-11-20T00:00:00Z", None),
            inst("i-2", Some("asg-prod-idp"), "2026-11-25T00:00:00Z", None),
            inst("i-1", Some("asg-prod-idp"), "2026-11-21T00:00:00Z", None),
            inst("i-0", None, "2026-11-22T00:00:00Z", None),
        ];
        let mut rows = join(instances, &[]);
        sort(&mut rows);
        let ids: Vec<&str> = rows.iter().map(|r| r.instance.id.as_str()).collect();
        assert_eq!(ids, ["i-0", "i-1", "i-2", "i-3"]);
    }

    fn group(name: &str, desired: i32, members: &[(&str, &str, bool)]) -> Group {
        Group {
            name: name.into(),
            desired,
            min: 0,
            max: 8,
            health_check_type: "ELB".into(),
            grace_secs: 1,
            tags: Default::default(),
            instances: members
                .iter()
                .map(|(id, lc, p)| GroupInstance {
                    id: id.to_string(),
                    lifecycle: lc.to_string(),
                    health: "Healthy".into(),
                    protected: *p,
                })
                .collect(),
            target_group_arns: vec![],
            termination_policies: vec![],
            new_instances_protected: true,
        }
    }

    #[test]
    fn columns_and_cells() {
        let now: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
        let mut i = inst(
            "i-1",
            Some("asg-prod-idp"),
            "2026-11-24T11:58:00Z",
            Some("prod-idp"),
        );
        let groups = [group("prod-idp", 1, &[("i-1", "InService", true)])];
        let rows = join(vec![i.clone()], &groups);
        let cols = columns(Layout::Default, &rows, false);
        assert!(!cols.contains(&Col::Sha), "no sha tag, no sha column");
        let (header, cells) = render_rows(&cols, &rows, now);
        assert_eq!(
            header,
            [
                "instance-id",
                "image-id",
                "name",
                "instance-type",
                "AZ",
                "state",
                "launch-time",
                "uptime",
                "group",
                "protected",
                "lifecycle",
                "asg-health"
            ]
        );
        assert_eq!(
            cells[0],
            [
                "i-1",
                "ami-1",
                "asg-prod-idp",
                "t3.small",
                "us-west-2a",
                "running",
                "2026-11-24 11:58:00 UTC",
                "2d 0h02m",
                "prod-idp",
                "protected",
                "InService",
                "Healthy"
            ]
        );
        i.tags.insert("gitsha:idp".into(), "a".repeat(40));
        let rows = join(vec![i], &[]);
        let cols = columns(Layout::Long, &rows, true);
        let (header, cells) = render_rows(&cols, &rows, now);
        assert_eq!(header[5..7], ["private-ip", "public-ip"]);
        assert_eq!(header[header.len() - 2..], ["sha", "health"]);
        assert_eq!(cells[0][header.len() - 2..], ["aaaaaaaaa", "unregistered"]);
        assert_eq!(
            cells[0][10..],
            ["prod-idp", "-", "-", "-", "aaaaaaaaa", "unregistered"][..]
        );
        assert_eq!(
            columns(Layout::Compact, &rows, false),
            [Col::Id, Col::Name, Col::State, Col::Uptime]
        );
    }

    #[test]
    fn target_health_cells() {
        assert_eq!(health_cell(&[]), "unregistered");
        assert_eq!(
            health_cell(&["healthy".into(), "healthy".into()]),
            "healthy"
        );
        assert_eq!(
            health_cell(&["healthy".into(), "draining".into()]),
            "healthy/draining"
        );
    }

    #[test]
    fn summary_counts_running_members_of_listed_groups() {
        let rows = join(
            vec![
                inst("i-1", Some("a"), "2026-11-24T00:00:00Z", Some("prod-idp")),
                inst(
                    "i-9",
                    Some("b"),
                    "2026-11-24T00:00:00Z",
                    Some("prod-worker"),
                ),
            ],
            &[],
        );
        let groups = [
            group(
                "prod-worker",
                2,
                &[("i-9", "InService", true), ("i-8", "Terminating", false)],
            ),
            group(
                "prod-idp",
                1,
                &[("i-1", "InService", true), ("i-2", "InService", true)],
            ),
            group("prod-pivcac", 2, &[]),
        ];
        let s = summary(&rows, &groups);
        assert_eq!(
            s,
            [
                GroupSummary {
                    group: "prod-idp".into(),
                    running: 2,
                    desired: 1
                },
                GroupSummary {
                    group: "prod-worker".into(),
                    running: 1,
                    desired: 2
                }
            ]
        );
        assert!(s[0].has_extra() && !s[1].has_extra());
        assert_eq!(
            summary_line(&s).unwrap(),
            "running/desired: prod-idp 2/1, prod-worker 1/2"
        );
        assert_eq!(summary_line(&[]), None);
    }
}
