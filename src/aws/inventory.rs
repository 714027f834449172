//! Read adapters beside `fleet.rs` for ls-servers and asg-size: an environment's VPC, target
//! groups found by tags, target health, and the one capacity write asg-size makes. Independent
//! calls run concurrently; list calls paginate; tag look-ups are batched as the API allows.

use std::collections::BTreeMap;

use anyhow::Result;
use tokio::task::JoinSet;

use super::apply::call_error;
use super::capacity::Field;
use super::outcome::{CallError, Tracker};
use super::{call_failed, Aws};

/// DescribeTags takes at most 20 resource ARNs per call.
const TAGS_PER_CALL: usize = 20;

impl Aws {
    /// Ids of the VPCs whose Name tag is `name` (one, normally).
    pub async fn vpc_ids_named(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .vpcs_by_name_filter(name)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    /// `(id, Name)` of the VPCs whose Name tag matches an EC2 filter value (`*` and `?` allowed).
    pub async fn vpcs_by_name_filter(&self, value: &str) -> Result<Vec<(String, String)>> {
        let filter = aws_sdk_ec2::types::Filter::builder()
            .name("tag:Name")
            .values(value)
            .build();
        let mut out = Vec::new();
        let mut pages = self
            .ec2
            .describe_vpcs()
            .filters(filter)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| call_failed("DescribeVpcs", &e))?;
            for v in page.vpcs() {
                let name = v
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some("Name"))
                    .and_then(|t| t.value())
                    .unwrap_or_default();
                out.push((v.vpc_id().unwrap_or_default().to_string(), name.to_string()));
            }
        }
        Ok(out)
    }

    /// ARNs of the ELBv2 target groups carrying every one of `tags` (the original's
    /// `prefix=<env>`, `health_role=<role>`): one paginated DescribeTargetGroups, then
    /// DescribeTags in batches of 20, concurrently.
    pub async fn target_groups_tagged(&self, tags: &[(&str, &str)]) -> Result<Vec<String>> {
        let mut arns = Vec::new();
        let mut pages = self
            .elb
            .describe_target_groups()
            .page_size(400)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| call_failed("DescribeTargetGroups", &e))?;
            arns.extend(
                page.target_groups()
                    .iter()
                    .filter_map(|t| t.target_group_arn().map(str::to_string)),
            );
        }
        let mut calls = JoinSet::new();
        for chunk in arns.chunks(TAGS_PER_CALL) {
            let req = self
                .elb
                .describe_tags()
                .set_resource_arns(Some(chunk.to_vec()));
            calls.spawn(async move { req.send().await });
        }
        let want: Vec<(String, String)> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut found = Vec::new();
        while let Some(res) = calls.join_next().await {
            let out = res?.map_err(|e| call_failed("DescribeTags", &e))?;
            for d in out.tag_descriptions() {
                let have: BTreeMap<&str, &str> = d
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
                    .collect();
                if want
                    .iter()
                    .all(|(k, v)| have.get(k.as_str()) == Some(&v.as_str()))
                {
                    if let Some(arn) = d.resource_arn() {
                        found.push(arn.to_string());
                    }
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// Target states by instance id over the given target groups (one DescribeTargetHealth per
    /// group, concurrently). An instance registered in two groups gets two states.
    pub async fn target_health(&self, arns: &[String]) -> Result<BTreeMap<String, Vec<String>>> {
        let mut calls = JoinSet::new();
        for (i, arn) in arns.iter().enumerate() {
            let req = self.elb.describe_target_health().target_group_arn(arn);
            calls.spawn(async move { (i, req.send().await) });
        }
        let mut results = Vec::new();
        while let Some(res) = calls.join_next().await {
            let (i, out) = res?;
            results.push((i, out.map_err(|e| call_failed("DescribeTargetHealth", &e))?));
        }
        // Keep the target groups' order, so cells read the same on every run.
        results.sort_by_key(|(i, _)| *i);
        let mut health: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (_, out) in results {
            for d in out.target_health_descriptions() {
                let Some(id) = d.target().and_then(|t| t.id()) else {
                    continue;
                };
                let state = d
                    .target_health()
                    .and_then(|h| h.state())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "unknown".to_string());
                health.entry(id.to_string()).or_default().push(state);
            }
        }
        Ok(health)
    }

    /// Sets one capacity field of a group (UpdateAutoScalingGroup with that field only). The
    /// error says whether the call may have been applied (a lost answer) or surely was not.
    pub async fn update_group_capacity(
        &self,
        group: &str,
        field: Field,
        value: i32,
    ) -> Result<(), CallError> {
        let t = Tracker::default();
        let req = self
            .autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(group);
        let req = match field {
            Field::Desired => req.desired_capacity(value),
            Field::Min => req.min_size(value),
            Field::Max => req.max_size(value),
        };
        req.customize()
            .interceptor(t.clone())
            .send()
            .await
            .map_err(|e| call_error("UpdateAutoScalingGroup", &e, &t))?;
        Ok(())
    }
}
