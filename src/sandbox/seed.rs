//! Seeds the emulator with a fleet shaped like login.gov's, through the same SDK the tool uses:
//! the environment's VPC and subnets, a launch template and a group per role (tags, scale-in
//! protection, OldestInstance termination, health checks), and target groups where prod has them.

use anyhow::{Context as _, Result};
use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag};

use crate::aws::Aws;
use crate::config::Settings;

/// One group of the seeded fleet.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub role: String,
    pub desired: i32,
    pub min: i32,
    pub max: i32,
    /// Instances launch protected from scale-in (prod's groups are).
    pub protected: bool,
    /// Extra group tags, e.g. `("utility", "true")` on the migration group.
    pub tags: Vec<(String, String)>,
    /// Registers the group with an ELBv2 target group tagged `prefix=<env>`, `health_role=<role>`.
    pub target_group: bool,
    /// Tag `gitsha:<role>` set on the instances, as chef does.
    pub gitsha: Option<String>,
    /// Health-check grace period, seconds.
    pub grace_secs: i32,
}

impl GroupSpec {
    pub fn new(role: &str, desired: i32, max: i32) -> Self {
        GroupSpec {
            role: role.to_string(),
            desired,
            min: 0,
            max,
            protected: true,
            tags: Vec::new(),
            target_group: false,
            gitsha: None,
            grace_secs: 1,
        }
    }

    pub fn tag(mut self, k: &str, v: &str) -> Self {
        self.tags.push((k.to_string(), v.to_string()));
        self
    }

    pub fn target_group(mut self) -> Self {
        self.target_group = true;
        self
    }

    pub fn unprotected(mut self) -> Self {
        self.protected = false;
        self
    }

    pub fn gitsha(mut self, sha: &str) -> Self {
        self.gitsha = Some(sha.to_string());
        self
    }
}

/// A whole environment to seed.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    pub env: String,
    pub groups: Vec<GroupSpec>,
}

impl FleetSpec {
    /// The rehearsal fleet: prod-idp, prod-worker, prod-migration (utility, unprotected, empty),
    /// prod-pivcac, all protected from scale-in with OldestInstance termination.
    pub fn prod_shaped(env: &str, gitsha: &str) -> Self {
        FleetSpec {
            env: env.to_string(),
            groups: vec![
                GroupSpec::new("idp", 4, 16).target_group().gitsha(gitsha),
                GroupSpec::new("worker", 2, 8).target_group().gitsha(gitsha),
                GroupSpec::new("migration", 0, 2)
                    .tag("utility", "true")
                    .unprotected(),
                GroupSpec::new("pivcac", 2, 8).gitsha(gitsha),
            ],
        }
    }
}

impl FleetSpec {
    /// Every group with this health-check grace period (the sandbox's world plays it).
    pub fn grace(mut self, secs: i32) -> Self {
        for g in &mut self.groups {
            g.grace_secs = secs;
        }
        self
    }

    /// Same-sized protected groups, one per role (the ls-servers benchmark: 5 roles x 100).
    pub fn uniform(env: &str, roles: &[&str], size: i32, gitsha: &str) -> Self {
        FleetSpec {
            env: env.to_string(),
            groups: roles
                .iter()
                .map(|r| GroupSpec::new(r, size, size.max(1) * 2).gitsha(gitsha))
                .collect(),
        }
    }
}

/// What was created, for tests and the sandbox's summary.
#[derive(Debug, Clone, Default)]
pub struct Seeded {
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub groups: Vec<String>,
    pub target_group_arns: Vec<(String, String)>,
}

pub async fn seed(aws: &Aws, settings: &Settings, spec: &FleetSpec) -> Result<Seeded> {
    let env = spec.env.as_str();
    let mut seeded = Seeded::default();

    let vpc = aws
        .ec2
        .create_vpc()
        .cidr_block("10.42.0.0/16")
        .send()
        .await
        .context("seeding: CreateVpc")?;
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .context("seeding: VPC without id")?
        .to_string();
    aws.ec2
        .create_tags()
        .resources(&vpc_id)
        .tags(ec2_tag("Name", &settings.vpc_name(env)))
        .send()
        .await
        .context("seeding: tag VPC")?;
    for (i, az) in ["a", "b"].iter().enumerate() {
        let subnet = aws
            .ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            // /20: room for the benchmark's hundreds of instances per subnet.
            .cidr_block(format!("10.42.{}.0/20", i * 16))
            .availability_zone(format!("{}{az}", aws.region))
            .send()
            .await
            .context("seeding: CreateSubnet")?;
        seeded.subnet_ids.push(
            subnet
                .subnet()
                .and_then(|s| s.subnet_id())
                .unwrap_or_default()
                .to_string(),
        );
    }
    seeded.vpc_id = vpc_id.clone();

    // Any image the emulator knows will do; launch templates need a real-looking one.
    let images = aws
        .ec2
        .describe_images()
        .owners("amazon")
        .send()
        .await
        .context("seeding: DescribeImages")?;
    let image_id = images
        .images()
        .iter()
        .find_map(|i| i.image_id())
        .unwrap_or("ami-12c6146b")
        .to_string();

    for g in &spec.groups {
        let name = settings.asg_name(env, &g.role);
        aws.ec2
            .create_launch_template()
            .launch_template_name(&name)
            .launch_template_data(
                aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                    .image_id(&image_id)
                    .instance_type(aws_sdk_ec2::types::InstanceType::T3Small)
                    .build(),
            )
            .send()
            .await
            .with_context(|| format!("seeding: CreateLaunchTemplate {name}"))?;

        let mut tg_arns = Vec::new();
        if g.target_group {
            let tg = aws
                .elb
                .create_target_group()
                .name(format!("{env}-{}-tg", g.role))
                .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
                .port(443)
                .vpc_id(&vpc_id)
                .tags(elb_tag("prefix", env))
                .tags(elb_tag("health_role", &g.role))
                .send()
                .await
                .with_context(|| format!("seeding: CreateTargetGroup for {name}"))?;
            if let Some(arn) = tg
                .target_groups()
                .first()
                .and_then(|t| t.target_group_arn())
            {
                tg_arns.push(arn.to_string());
                seeded
                    .target_group_arns
                    .push((g.role.clone(), arn.to_string()));
            }
        }

        let mut tags = vec![
            asg_tag(&name, "Name", &settings.instance_name(env, &g.role), true),
            asg_tag(&name, "prefix", &g.role, true),
            asg_tag(&name, "domain", &format!("{env}.login.gov"), true),
        ];
        for (k, v) in &g.tags {
            tags.push(asg_tag(&name, k, v, false));
        }
        if let Some(sha) = &g.gitsha {
            tags.push(asg_tag(&name, &format!("gitsha:{}", g.role), sha, true));
        }
        aws.autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(&name)
            .launch_template(
                LaunchTemplateSpecification::builder()
                    .launch_template_name(&name)
                    .version("$Latest")
                    .build(),
            )
            .min_size(g.min)
            .max_size(g.max)
            .desired_capacity(g.desired)
            .vpc_zone_identifier(seeded.subnet_ids.join(","))
            .health_check_type(if g.target_group { "ELB" } else { "EC2" })
            .health_check_grace_period(g.grace_secs)
            .new_instances_protected_from_scale_in(g.protected)
            .termination_policies("OldestInstance")
            .set_target_group_arns((!tg_arns.is_empty()).then_some(tg_arns))
            .set_tags(Some(tags))
            .send()
            .await
            .with_context(|| format!("seeding: CreateAutoScalingGroup {name}"))?;
        seeded.groups.push(name);
    }
    Ok(seeded)
}

fn asg_tag(group: &str, k: &str, v: &str, propagate: bool) -> Tag {
    Tag::builder()
        .resource_id(group)
        .resource_type("auto-scaling-group")
        .key(k)
        .value(v)
        .propagate_at_launch(propagate)
        .build()
}

fn ec2_tag(k: &str, v: &str) -> aws_sdk_ec2::types::Tag {
    aws_sdk_ec2::types::Tag::builder().key(k).value(v).build()
}

fn elb_tag(k: &str, v: &str) -> aws_sdk_elasticloadbalancingv2::types::Tag {
    aws_sdk_elasticloadbalancingv2::types::Tag::builder()
        .key(k)
        .value(v)
        .build()
}
