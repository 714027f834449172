//! The write adapter: the few Auto Scaling calls a recycle or a scale-in makes, as plain data
//! ([`Call`]) that the pure planners produce, the plan renders and this module sends.

use anyhow::Result;
use jiff::Timestamp;
use serde::Serialize;

use super::{call_failed, Aws};
use crate::plan::Step;

/// SetInstanceProtection takes at most 50 instance ids per call.
pub const PROTECTION_BATCH: usize = 50;

/// One change to the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "call", rename_all = "snake_case")]
pub enum Call {
    /// `UpdateAutoScalingGroup` with only the desired capacity.
    SetDesired { group: String, from: i32, to: i32 },
    /// `PutScheduledUpdateGroupAction`: a one-time action (start time and desired only, as the
    /// original scripts set them).
    PutScheduled {
        group: String,
        name: String,
        at: Timestamp,
        desired: i32,
    },
    /// `DeleteScheduledAction`.
    DeleteScheduled { group: String, name: String },
    /// `SetInstanceProtection` with `ProtectedFromScaleIn=false`, in batches of 50.
    Unprotect { group: String, ids: Vec<String> },
}

impl Call {
    pub fn group(&self) -> &str {
        match self {
            Call::SetDesired { group, .. }
            | Call::PutScheduled { group, .. }
            | Call::DeleteScheduled { group, .. }
            | Call::Unprotect { group, .. } => group,
        }
    }

    /// The API operation's name, as AWS documents it.
    pub fn operation(&self) -> &'static str {
        match self {
            Call::SetDesired { .. } => "UpdateAutoScalingGroup",
            Call::PutScheduled { .. } => "PutScheduledUpdateGroupAction",
            Call::DeleteScheduled { .. } => "DeleteScheduledAction",
            Call::Unprotect { .. } => "SetInstanceProtection",
        }
    }

    /// What changes, for people (times are added by the plan renderer).
    pub fn detail(&self) -> String {
        match self {
            Call::SetDesired { from, to, .. } => format!("desired {from} -> {to} now"),
            Call::PutScheduled { name, desired, .. } => format!("{name} desired {desired}"),
            Call::DeleteScheduled { name, .. } => name.clone(),
            Call::Unprotect { ids, .. } => format!(
                "remove scale-in protection from {} instance{}: {}",
                ids.len(),
                if ids.len() == 1 { "" } else { "s" },
                ids.join(", ")
            ),
        }
    }

    /// The plan step people approve: the same words in `--dry-run`, the prompt and the run.
    pub fn step(&self) -> Step {
        let params = serde_json::to_value(self).unwrap_or_default();
        let step = Step::new(self.operation(), self.group(), self.detail()).params(params);
        match self {
            Call::PutScheduled { at, .. } => step.at(*at),
            _ => step,
        }
    }
}

impl Aws {
    /// `UpdateAutoScalingGroup` setting only the desired capacity.
    pub async fn set_desired(&self, group: &str, desired: i32) -> Result<()> {
        self.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .desired_capacity(desired)
            .send()
            .await
            .map_err(|e| call_failed("UpdateAutoScalingGroup", &e))?;
        Ok(())
    }

    /// A one-time scheduled action; the same name on the same group replaces the old one.
    pub async fn put_one_time_action(
        &self,
        group: &str,
        name: &str,
        at: Timestamp,
        desired: i32,
    ) -> Result<()> {
        self.autoscaling
            .put_scheduled_update_group_action()
            .auto_scaling_group_name(group)
            .scheduled_action_name(name)
            .start_time(aws_smithy_types::DateTime::from_secs(at.as_second()))
            .desired_capacity(desired)
            .send()
            .await
            .map_err(|e| call_failed("PutScheduledUpdateGroupAction", &e))?;
        Ok(())
    }

    pub async fn delete_scheduled_action(&self, group: &str, name: &str) -> Result<()> {
        self.autoscaling
            .delete_scheduled_action()
            .auto_scaling_group_name(group)
            .scheduled_action_name(name)
            .send()
            .await
            .map_err(|e| call_failed("DeleteScheduledAction", &e))?;
        Ok(())
    }

    /// Sets scale-in protection on a group's instances, 50 ids per call (the API's limit).
    pub async fn set_protection(&self, group: &str, ids: &[String], protected: bool) -> Result<()> {
        for batch in ids.chunks(PROTECTION_BATCH) {
            self.autoscaling
                .set_instance_protection()
                .auto_scaling_group_name(group)
                .set_instance_ids(Some(batch.to_vec()))
                .protected_from_scale_in(protected)
                .send()
                .await
                .map_err(|e| call_failed("SetInstanceProtection", &e))?;
        }
        Ok(())
    }

    /// Sends one planned call.
    pub async fn apply(&self, call: &Call) -> Result<()> {
        match call {
            Call::SetDesired { group, to, .. } => self.set_desired(group, *to).await,
            Call::PutScheduled {
                group,
                name,
                at,
                desired,
            } => self.put_one_time_action(group, name, *at, *desired).await,
            Call::DeleteScheduled { group, name } => {
                self.delete_scheduled_action(group, name).await
            }
            Call::Unprotect { group, ids } => self.set_protection(group, ids, false).await,
        }
    }

    /// Sends the calls in order and stops at the first failure, saying how many were done so the
    /// caller can report exactly what was applied.
    pub async fn apply_all(&self, calls: &[Call]) -> std::result::Result<(), Interrupted> {
        for (i, call) in calls.iter().enumerate() {
            if let Err(error) = self.apply(call).await {
                return Err(Interrupted { done: i, error });
            }
        }
        Ok(())
    }
}

/// A sequence of calls that stopped part-way: `done` calls were applied, the next one failed.
#[derive(Debug)]
pub struct Interrupted {
    pub done: usize,
    pub error: anyhow::Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_say_what_changes() {
        let at: Timestamp = "2026-11-26T12:15:00Z".parse().unwrap();
        let put = Call::PutScheduled {
            group: "prod-idp".into(),
            name: "RecycleOnce.asg-recycle".into(),
            at,
            desired: 12,
        };
        let s = put.step();
        assert_eq!(s.action, "PutScheduledUpdateGroupAction");
        assert_eq!(s.subject, "prod-idp");
        assert_eq!(s.detail, "RecycleOnce.asg-recycle desired 12");
        assert_eq!(s.at, Some(at));
        assert_eq!(s.params["desired"], 12);
        assert_eq!(s.params["call"], "put_scheduled");
        let u = Call::Unprotect {
            group: "prod-idp".into(),
            ids: vec!["i-1".into()],
        };
        assert_eq!(
            u.step().detail,
            "remove scale-in protection from 1 instance: i-1"
        );
        let d = Call::SetDesired {
            group: "prod-migration".into(),
            from: 0,
            to: 1,
        };
        assert_eq!(d.step().detail, "desired 0 -> 1 now");
        assert_eq!(d.operation(), "UpdateAutoScalingGroup");
    }
}
