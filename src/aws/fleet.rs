//! The fleet model (groups, their instances, scheduled actions, EC2 instances) as plain data, and
//! the read adapter that fills it from the SDK with as few calls as the APIs allow.

use std::collections::BTreeMap;

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use super::{call_failed, Aws};

/// Scheduled action names of a manual recycle (original-tools.md section 2).
pub const DELAYED_SCALE_OUT: &str = "DelayedScaleOutOnce.asg-recycle";
pub const RECYCLE_ONCE: &str = "RecycleOnce.asg-recycle";

/// An Auto Scaling Group as the commands reason about it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Group {
    pub name: String,
    pub desired: i32,
    pub min: i32,
    pub max: i32,
    /// `ELB` or `EC2`.
    pub health_check_type: String,
    pub grace_secs: i32,
    pub tags: BTreeMap<String, String>,
    pub instances: Vec<GroupInstance>,
    pub target_group_arns: Vec<String>,
    pub termination_policies: Vec<String>,
    pub new_instances_protected: bool,
}

impl Group {
    /// Tested by key presence, as the original scripts do (`utility`, `stateful`).
    pub fn has_tag(&self, key: &str) -> bool {
        self.tags.contains_key(key)
    }
}

/// A member of a group, as the group sees it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupInstance {
    pub id: String,
    /// `Pending`, `InService`, `Terminating`, `Standby`, ...
    pub lifecycle: String,
    /// `Healthy` or `Unhealthy`.
    pub health: String,
    pub protected: bool,
}

impl GroupInstance {
    pub fn in_service_and_healthy(&self) -> bool {
        self.lifecycle == "InService" && self.health == "Healthy"
    }
}

/// An EC2 instance with the facts ls-servers and the recycle rules need.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Instance {
    pub id: String,
    pub image_id: String,
    pub name: Option<String>,
    pub instance_type: String,
    pub az: String,
    /// `pending`, `running`, `stopping`, `stopped`, `shutting-down`, `terminated`.
    pub state: String,
    pub launch_time: Timestamp,
    pub private_ip: Option<String>,
    pub public_ip: Option<String>,
    pub vpc_id: Option<String>,
    /// `aws:autoscaling:groupName`.
    pub group: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// A scheduled capacity change.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScheduledAction {
    pub group: String,
    pub name: String,
    pub start: Option<Timestamp>,
    pub recurrence: Option<String>,
    pub desired: Option<i32>,
    pub min: Option<i32>,
    pub max: Option<i32>,
}

impl ScheduledAction {
    /// One of the two one-time actions a manual recycle creates (never the Terraform-owned
    /// `auto-recycle.*` / `auto-zero.*` ones, which we must not touch).
    pub fn is_recycle(&self) -> bool {
        self.name == DELAYED_SCALE_OUT || self.name == RECYCLE_ONCE
    }
}

fn ts(t: Option<&aws_smithy_types::DateTime>) -> Option<Timestamp> {
    t.and_then(|d| Timestamp::new(d.secs(), d.subsec_nanos() as i32).ok())
}

impl Aws {
    /// Describes the named groups (all groups when `names` is empty), paginated. Missing names
    /// are simply absent from the result: callers decide whether that is an error.
    pub async fn describe_groups(&self, names: &[String]) -> Result<Vec<Group>> {
        let mut out = Vec::new();
        // The API takes up to 100 names per call, paginating within each.
        let chunks: Vec<&[String]> = if names.is_empty() {
            vec![&[]]
        } else {
            names.chunks(100).collect()
        };
        for chunk in chunks {
            let mut pages = self
                .autoscaling
                .describe_auto_scaling_groups()
                .set_auto_scaling_group_names((!chunk.is_empty()).then(|| chunk.to_vec()))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| call_failed("DescribeAutoScalingGroups", &e))?;
                out.extend(page.auto_scaling_groups().iter().map(group_from_sdk));
            }
        }
        Ok(out)
    }

    /// Every group whose name starts with `prefix` (the original's `<env>-` selection), by name.
    pub async fn groups_with_prefix(&self, prefix: &str) -> Result<Vec<Group>> {
        let mut groups: Vec<Group> = self
            .describe_groups(&[])
            .await?
            .into_iter()
            .filter(|g| g.name.starts_with(prefix))
            .collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(groups)
    }

    /// Scheduled actions of one group (or of all groups with `None`), paginated.
    pub async fn scheduled_actions(&self, group: Option<&str>) -> Result<Vec<ScheduledAction>> {
        let mut out = Vec::new();
        let mut pages = self
            .autoscaling
            .describe_scheduled_actions()
            .set_auto_scaling_group_name(group.map(str::to_string))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| call_failed("DescribeScheduledActions", &e))?;
            for a in page.scheduled_update_group_actions() {
                out.push(ScheduledAction {
                    group: a.auto_scaling_group_name().unwrap_or_default().to_string(),
                    name: a.scheduled_action_name().unwrap_or_default().to_string(),
                    start: ts(a.start_time()),
                    recurrence: a.recurrence().map(str::to_string),
                    desired: a.desired_capacity(),
                    min: a.min_size(),
                    max: a.max_size(),
                });
            }
        }
        Ok(out)
    }

    /// Describes instances by id, in batches, paginated; unknown ids are skipped.
    pub async fn describe_instances(&self, ids: &[String]) -> Result<Vec<Instance>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(200) {
            let filter = aws_sdk_ec2::types::Filter::builder()
                .name("instance-id")
                .set_values(Some(chunk.to_vec()))
                .build();
            out.extend(self.describe_instances_filtered(vec![filter]).await?);
        }
        Ok(out)
    }

    /// The newest instance a group launched at or after `since`, in any state (terminated ones
    /// stay visible for about an hour).
    pub async fn newest_launched_since(
        &self,
        group: &str,
        since: Timestamp,
    ) -> Result<Option<Instance>> {
        let by_group = aws_sdk_ec2::types::Filter::builder()
            .name("tag:aws:autoscaling:groupName")
            .values(group)
            .build();
        Ok(self
            .describe_instances_filtered(vec![by_group])
            .await?
            .into_iter()
            .filter(|i| i.launch_time >= since)
            .max_by(|a, b| {
                a.launch_time
                    .cmp(&b.launch_time)
                    .then_with(|| a.id.cmp(&b.id))
            }))
    }

    /// Describes instances matching EC2 filters (tag:Name, vpc-id, instance-state-name...),
    /// paginated with the largest page the API allows.
    pub async fn describe_instances_filtered(
        &self,
        filters: Vec<aws_sdk_ec2::types::Filter>,
    ) -> Result<Vec<Instance>> {
        let mut out = Vec::new();
        let mut pages = self
            .ec2
            .describe_instances()
            .set_filters(Some(filters))
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| call_failed("DescribeInstances", &e))?;
            for r in page.reservations() {
                out.extend(r.instances().iter().map(instance_from_sdk));
            }
        }
        Ok(out)
    }
}

/// Tags as a map; the Auto Scaling and EC2 SDKs each have their own tag type. A tag without a
/// key is dropped, one without a value maps to "".
fn tag_map<'a>(
    tags: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> BTreeMap<String, String> {
    tags.filter_map(|(k, v)| Some((k?.to_string(), v.unwrap_or_default().to_string())))
        .collect()
}

fn group_from_sdk(g: &aws_sdk_autoscaling::types::AutoScalingGroup) -> Group {
    Group {
        name: g.auto_scaling_group_name().unwrap_or_default().to_string(),
        desired: g.desired_capacity().unwrap_or(0),
        min: g.min_size().unwrap_or(0),
        max: g.max_size().unwrap_or(0),
        health_check_type: g.health_check_type().unwrap_or("EC2").to_string(),
        grace_secs: g.health_check_grace_period().unwrap_or(0),
        tags: tag_map(g.tags().iter().map(|t| (t.key(), t.value()))),
        instances: g
            .instances()
            .iter()
            .map(|i| GroupInstance {
                id: i.instance_id().unwrap_or_default().to_string(),
                lifecycle: i
                    .lifecycle_state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                health: i.health_status().unwrap_or_default().to_string(),
                protected: i.protected_from_scale_in().unwrap_or(false),
            })
            .collect(),
        target_group_arns: g.target_group_arns().to_vec(),
        termination_policies: g.termination_policies().to_vec(),
        new_instances_protected: g.new_instances_protected_from_scale_in().unwrap_or(false),
    }
}

fn instance_from_sdk(i: &aws_sdk_ec2::types::Instance) -> Instance {
    let tags = tag_map(i.tags().iter().map(|t| (t.key(), t.value())));
    Instance {
        id: i.instance_id().unwrap_or_default().to_string(),
        image_id: i.image_id().unwrap_or_default().to_string(),
        name: tags.get("Name").cloned(),
        instance_type: i
            .instance_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        az: i
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap_or_default()
            .to_string(),
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        launch_time: ts(i.launch_time()).unwrap_or(Timestamp::UNIX_EPOCH),
        private_ip: i.private_ip_address().map(str::to_string),
        public_ip: i.public_ip_address().map(str::to_string),
        vpc_id: i.vpc_id().map(str::to_string),
        group: tags.get("aws:autoscaling:groupName").cloned(),
        tags,
    }
}
