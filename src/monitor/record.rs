//! The last verdict of a role's deploy, kept as a tag on its Auto Scaling Group.
//!
//! Why a tag and not a file under the user's cache dir: the person who removes the old instances
//! is often not the one who watched the deploy, and a tag is what the whole team (and the
//! console) sees. `scale-remove-old-instances` already reads the group's tags, so the warning
//! costs no extra call. The tag does not propagate to instances.

use anyhow::Result;
use jiff::Timestamp;

use super::verdict::Verdict;
use super::Shas;
use crate::aws::{call_failed, Aws};

pub const TAG: &str = "login-release:monitor-verdict";

/// `FAIL new=<sha> old=<sha> at=<time>`.
pub fn value(verdict: Verdict, shas: &Shas, at: Timestamp) -> String {
    format!(
        "{verdict} new={} old={} at={}",
        shas.new,
        shas.old,
        crate::plan::rfc3339(at)
    )
}

/// The recorded verdict, when the tag says FAIL: the whole value, for the warning.
pub fn failed(tags: &std::collections::BTreeMap<String, String>) -> Option<&str> {
    tags.get(TAG)
        .map(String::as_str)
        .filter(|v| v.starts_with("FAIL "))
}

impl Aws {
    /// Writes the verdict tag on `group` (CreateOrUpdateTags, not propagated).
    pub async fn record_verdict(&self, group: &str, value: &str) -> Result<()> {
        let tag = aws_sdk_autoscaling::types::Tag::builder()
            .resource_id(group)
            .resource_type("auto-scaling-group")
            .key(TAG)
            .value(value)
            .propagate_at_launch(false)
            .build();
        self.autoscaling
            .create_or_update_tags()
            .tags(tag)
            .send()
            .await
            .map_err(|e| call_failed("CreateOrUpdateTags", &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_fail_warns() {
        let shas = Shas {
            old: "a".repeat(40).parse().unwrap(),
            new: "b".repeat(40).parse().unwrap(),
        };
        let at: Timestamp = "2026-12-02T04:00:00Z".parse().unwrap();
        let mut tags = std::collections::BTreeMap::new();
        tags.insert(TAG.to_string(), value(Verdict::Pass, &shas, at));
        assert_eq!(failed(&tags), None);
        tags.insert(TAG.to_string(), value(Verdict::Fail, &shas, at));
        let v = failed(&tags).unwrap();
        assert!(
            v.starts_with("FAIL new=bbbb") && v.ends_with("at=2026-12-02T04:00:00Z"),
            "{v}"
        );
    }
}
