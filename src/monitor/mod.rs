//! `monitor-deploy`: old sha against new sha, with a statistical verdict.
//!
//! - [`stats`]: pure. Wilson/Clopper-Pearson intervals, Newcombe's difference, error spending.
//! - [`verdict`]: pure. The metrics, each one's status, and the verdict rule.
//! - [`queries`]: pure. Logs Insights query texts and the reading of their answers.
//! - [`window`]: pure. The incremental tick accumulator (each tick queries only the new slice).
//! - [`insights`]: the Logs Insights adapter over the SDK (statuses, timeout, backoff).
//! - [`record`]: the last verdict, kept as a tag on the role's group for the team to see.
//! - [`run`]: the monitor's run over a context: shas, log groups, the looks, the verdict.
//!
//! Which code is which is decided here too ([`pick_shas`]): pure over the instances' tags.

pub mod insights;
pub mod queries;
pub mod record;
pub mod run;
pub mod stats;
pub mod verdict;
pub mod window;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::aws::fleet::Instance;
use crate::error::Findings;
use crate::types::GitSha;

/// The two shas compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shas {
    pub old: GitSha,
    pub new: GitSha,
}

/// One sha running on the role's instances: how many and the first launch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Running {
    pub sha: String,
    pub instances: usize,
    pub first_launch: Timestamp,
}

/// The shas on the role's running instances (tag `gitsha:<role>`, else the first chef sha tag),
/// in launch order: the earliest-launched sha first. Instances without a tag are left out.
pub fn running_shas(instances: &[Instance], role: &str) -> Vec<Running> {
    let key = format!("gitsha:{role}");
    let mut by_sha: BTreeMap<String, Running> = BTreeMap::new();
    for i in instances.iter().filter(|i| i.state == "running") {
        let sha = i
            .tags
            .get(&key)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .or_else(|| crate::aws::listing::full_sha(&i.tags));
        let Some(sha) = sha else { continue };
        let r = by_sha.entry(sha.to_string()).or_insert(Running {
            sha: sha.to_string(),
            instances: 0,
            first_launch: i.launch_time,
        });
        r.instances += 1;
        r.first_launch = r.first_launch.min(i.launch_time);
    }
    let mut out: Vec<Running> = by_sha.into_values().collect();
    out.sort_by(|a, b| a.first_launch.cmp(&b.first_launch).then(a.sha.cmp(&b.sha)));
    out
}

fn describe(running: &[Running]) -> String {
    running
        .iter()
        .map(|r| {
            format!(
                "{} ({} instance{}, first launched {})",
                r.sha,
                r.instances,
                if r.instances == 1 { "" } else { "s" },
                crate::plan::rfc3339(r.first_launch)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Old and new sha: the flags when both are given; else exactly two shas running, the one
/// launched first being old (a flag given alone picks its side and the other sha is the other).
/// Full shas only: a short tag is a finding, never matched by prefix.
pub fn pick_shas(
    running: &[Running],
    old: Option<&GitSha>,
    new: Option<&GitSha>,
) -> anyhow::Result<Shas> {
    if let (Some(o), Some(n)) = (old, new) {
        if o == n {
            return Err(crate::error::usage(
                "--old-sha and --new-sha are the same sha",
                "give the sha before the deploy and the one being deployed",
            ));
        }
        return Ok(Shas {
            old: o.clone(),
            new: n.clone(),
        });
    }
    let mut findings = Findings::new();
    let mut full: Vec<(GitSha, &Running)> = Vec::new();
    for r in running {
        match r.sha.parse::<GitSha>() {
            Ok(s) => full.push((s, r)),
            Err(why) => findings.add(
                format!("an instance's sha tag is not a full sha: {why}"),
                "pass --old-sha and --new-sha with the full shas",
            ),
        }
    }
    findings.into_result()?;
    let others = |taken: &GitSha| -> Vec<GitSha> {
        full.iter()
            .filter(|(s, _)| s != taken)
            .map(|(s, _)| s.clone())
            .collect()
    };
    let shas = match (old, new) {
        (Some(o), None) => match others(o).as_slice() {
            [n] => Some(Shas {
                old: o.clone(),
                new: n.clone(),
            }),
            _ => None,
        },
        (None, Some(n)) => match others(n).as_slice() {
            [o] => Some(Shas {
                old: o.clone(),
                new: n.clone(),
            }),
            _ => None,
        },
        _ => match full.as_slice() {
            [(o, _), (n, _)] => Some(Shas {
                old: o.clone(),
                new: n.clone(),
            }),
            _ => None,
        },
    };
    shas.ok_or_else(|| {
        let found = if running.is_empty() {
            "no running instance carries a sha tag".to_string()
        } else {
            format!("found {}: {}", running.len(), describe(running))
        };
        crate::error::preflight(
            format!("monitor-deploy compares exactly two shas; {found}"),
            "wait until the recycle's new instances run (or the old ones are gone), or pass --old-sha and --new-sha",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(id: &str, sha: &str, launched: &str) -> Instance {
        let mut tags = BTreeMap::new();
        tags.insert("gitsha:idp".to_string(), sha.to_string());
        Instance {
            id: id.into(),
            image_id: "ami-1".into(),
            name: Some("asg-prod-idp".into()),
            instance_type: "c5.xlarge".into(),
            az: "us-west-2a".into(),
            state: "running".into(),
            launch_time: launched.parse().unwrap(),
            private_ip: None,
            public_ip: None,
            vpc_id: None,
            group: Some("prod-idp".into()),
            tags,
        }
    }

    #[test]
    fn shas_come_in_launch_order() {
        let (a, b, c) = ("a".repeat(40), "b".repeat(40), "c".repeat(40));
        // `b` sorts after `a` but was launched first: it is the old sha.
        let two = [
            inst("i-1", &a, "2026-12-02T04:00:00Z"),
            inst("i-2", &b, "2026-12-01T04:00:00Z"),
            inst("i-3", &b, "2026-12-01T05:00:00Z"),
        ];
        let s = pick_shas(&running_shas(&two, "idp"), None, None).unwrap();
        assert_eq!((s.old.as_str(), s.new.as_str()), (b.as_str(), a.as_str()));
        let three = [
            two[0].clone(),
            two[1].clone(),
            inst("i-4", &c, "2026-12-02T05:00:00Z"),
        ];
        let e = pick_shas(&running_shas(&three, "idp"), None, None).unwrap_err();
        let r = crate::error::report(&e);
        assert_eq!(r.code, 3);
        assert!(
            r.message.contains(&a) && r.message.contains(&b) && r.message.contains(&c),
            "{}",
            r.message
        );
        // One flag picks its side among three? Still ambiguous; among two it decides.
        let gb: GitSha = b.parse().unwrap();
        assert!(pick_shas(&running_shas(&three, "idp"), Some(&gb), None).is_err());
        let ga: GitSha = a.parse().unwrap();
        let s = pick_shas(&running_shas(&two, "idp"), None, Some(&gb)).unwrap();
        assert_eq!(s.old, ga, "--new-sha b makes a the old one");
        // Short tags are findings, never prefixes.
        let short = [
            inst("i-5", "abc1234", "2026-12-02T04:00:00Z"),
            two[1].clone(),
        ];
        let e = pick_shas(&running_shas(&short, "idp"), None, None).unwrap_err();
        assert!(e.to_string().contains("not a full sha"), "{e}");
    }
}
