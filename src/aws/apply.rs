//! The write adapter: the few Auto Scaling calls a recycle or a scale-in makes, as plain data
//! ([`Call`]) that the pure planners produce, the plan renders and this module sends.

use std::sync::atomic::{AtomicUsize, Ordering};

use jiff::Timestamp;
use serde::Serialize;

pub use super::outcome::CallStatus;
use super::outcome::{classify, CallError, Tracker};
use super::{call_failed, Aws};
use crate::error::{AppError, Kind};
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

    /// The call with its time taken out: two plans made at different clocks of the same world
    /// compare equal this way.
    pub fn timeless(&self) -> Call {
        match self {
            Call::PutScheduled {
                group,
                name,
                desired,
                ..
            } => Call::PutScheduled {
                group: group.clone(),
                name: name.clone(),
                at: Timestamp::UNIX_EPOCH,
                desired: *desired,
            },
            other => other.clone(),
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
    pub async fn set_desired(&self, group: &str, desired: i32) -> Result<(), CallError> {
        let t = Tracker::default();
        self.autoscaling
            .update_auto_scaling_group()
            .auto_scaling_group_name(group)
            .desired_capacity(desired)
            .customize()
            .interceptor(t.clone())
            .send()
            .await
            .map_err(|e| call_error("UpdateAutoScalingGroup", &e, &t))?;
        Ok(())
    }

    /// A one-time scheduled action; the same name on the same group replaces the old one.
    pub async fn put_one_time_action(
        &self,
        group: &str,
        name: &str,
        at: Timestamp,
        desired: i32,
    ) -> Result<(), CallError> {
        let t = Tracker::default();
        self.autoscaling
            .put_scheduled_update_group_action()
            .auto_scaling_group_name(group)
            .scheduled_action_name(name)
            .start_time(aws_smithy_types::DateTime::from_secs(at.as_second()))
            .desired_capacity(desired)
            .customize()
            .interceptor(t.clone())
            .send()
            .await
            .map_err(|e| call_error("PutScheduledUpdateGroupAction", &e, &t))?;
        Ok(())
    }

    /// Deletes a scheduled action. One that is not there counts as deleted: a one-time action
    /// whose time came has run and is gone, and a retry after a lost answer finds it gone too.
    pub async fn delete_scheduled_action(&self, group: &str, name: &str) -> Result<(), CallError> {
        let t = Tracker::default();
        let sent = self
            .autoscaling
            .delete_scheduled_action()
            .auto_scaling_group_name(group)
            .scheduled_action_name(name)
            .customize()
            .interceptor(t.clone())
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => {
                tracing::debug!("{group}: {name} was already gone");
                Ok(())
            }
            Err(e) => Err(call_error("DeleteScheduledAction", &e, &t)),
        }
    }

    /// Sets scale-in protection on a group's instances, 50 ids per call (the API's limit). When a
    /// later batch fails after an earlier one was applied, the call as a whole is `Unknown`: part
    /// of it was made.
    pub async fn set_protection(
        &self,
        group: &str,
        ids: &[String],
        protected: bool,
    ) -> Result<(), CallError> {
        for (i, batch) in ids.chunks(PROTECTION_BATCH).enumerate() {
            let t = Tracker::default();
            self.autoscaling
                .set_instance_protection()
                .auto_scaling_group_name(group)
                .set_instance_ids(Some(batch.to_vec()))
                .protected_from_scale_in(protected)
                .customize()
                .interceptor(t.clone())
                .send()
                .await
                .map_err(|e| {
                    let mut err = call_error("SetInstanceProtection", &e, &t);
                    if i > 0 {
                        err.status = CallStatus::Unknown;
                    }
                    err
                })?;
        }
        Ok(())
    }

    /// Sends one planned call.
    pub async fn apply(&self, call: &Call) -> Result<(), CallError> {
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

    /// Sends the calls in order and stops at the first that does not succeed, or when `stop`
    /// says so (Ctrl-C) between two calls: a call in flight is always finished, never dropped.
    /// The report says what became of every call.
    pub async fn apply_all(&self, calls: &[Call], stop: impl AsyncFn() -> bool) -> ApplyReport {
        let _busy = Applying::start();
        let mut report = ApplyReport::default();
        for call in calls {
            let stopped = report.error.is_some() || report.interrupted;
            if !stopped && stop().await {
                report.interrupted = true;
            }
            if report.error.is_some() || report.interrupted {
                report.push(call, CallStatus::NotSent);
                continue;
            }
            match self.apply(call).await {
                Ok(()) => report.push(call, CallStatus::Done),
                Err(CallError { status, error }) => {
                    report.push(call, status);
                    report.error = Some(crate::error::report(&error).message);
                }
            }
        }
        report
    }
}

/// `DeleteScheduledAction`'s answer for an action that is not there.
fn is_not_found<R>(
    e: &aws_smithy_runtime_api::client::result::SdkError<
        aws_sdk_autoscaling::operation::delete_scheduled_action::DeleteScheduledActionError,
        R,
    >,
) -> bool {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    e.as_service_error().is_some_and(|se| {
        se.code() == Some("ValidationError")
            && se
                .message()
                .is_some_and(|m| m.to_lowercase().contains("not found"))
    })
}

/// A failed call's error line and its status (what the attempts showed).
pub fn call_error<E, R>(
    operation: &str,
    err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
    tracker: &Tracker,
) -> CallError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    CallError {
        status: classify(err, tracker),
        error: call_failed(operation, err),
    }
}

static APPLYING: AtomicUsize = AtomicUsize::new(0);

/// True while an apply loop runs: `main` then waits for it after Ctrl-C instead of dropping it
/// after the grace period, so the call in flight finishes and the report says where things stand.
pub fn applying() -> bool {
    APPLYING.load(Ordering::SeqCst) > 0
}

struct Applying;

impl Applying {
    fn start() -> Self {
        APPLYING.fetch_add(1, Ordering::SeqCst);
        Applying
    }
}

impl Drop for Applying {
    fn drop(&mut self) {
        APPLYING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One planned call and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub call: Call,
    pub status: CallStatus,
}

/// What an apply did, call by call: the data the exit code, the message and the undo or resume
/// commands are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    pub calls: Vec<Applied>,
    /// The first error, as printed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Ctrl-C stopped it between two calls.
    pub interrupted: bool,
}

impl ApplyReport {
    fn push(&mut self, call: &Call, status: CallStatus) {
        self.calls.push(Applied {
            call: call.clone(),
            status,
        });
    }

    /// Every call was made.
    pub fn complete(&self) -> bool {
        self.calls.iter().all(|a| a.status == CallStatus::Done)
    }

    pub fn count(&self, status: CallStatus) -> usize {
        self.calls.iter().filter(|a| a.status == status).count()
    }

    /// Nothing can have changed: no call is done or of unknown outcome.
    pub fn nothing_changed(&self) -> bool {
        !self.calls.iter().any(|a| a.status.may_have_changed())
    }

    /// The groups a call was (or may have been) applied to, in call order, once each.
    pub fn touched_groups(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for a in self.calls.iter().filter(|a| a.status.may_have_changed()) {
            if !out.contains(&a.call.group()) {
                out.push(a.call.group());
            }
        }
        out
    }

    /// The status of every call on `group`.
    pub fn statuses<'a>(&'a self, group: &'a str) -> impl Iterator<Item = CallStatus> + 'a {
        self.calls
            .iter()
            .filter(move |a| a.call.group() == group)
            .map(|a| a.status)
    }

    /// The exit code's kind: interrupted (130), partly or maybe applied (4), or failed with
    /// nothing changed (1). `None` when complete.
    pub fn kind(&self) -> Option<Kind> {
        if self.complete() {
            None
        } else if self.interrupted {
            Some(Kind::Interrupted)
        } else if self.nothing_changed() {
            Some(Kind::Failed)
        } else {
            Some(Kind::Partial)
        }
    }

    /// One line per status that occurred, with the calls in it, for the `help:` text.
    pub fn summary(&self) -> Vec<String> {
        [
            CallStatus::Done,
            CallStatus::Unknown,
            CallStatus::Failed,
            CallStatus::NotSent,
        ]
        .into_iter()
        .filter_map(|status| {
            let calls: Vec<String> = self
                .calls
                .iter()
                .filter(|a| a.status == status)
                .map(|a| {
                    format!(
                        "{} {} ({})",
                        a.call.operation(),
                        a.call.group(),
                        a.call.detail()
                    )
                })
                .collect();
            (!calls.is_empty()).then(|| format!("{}: {}", status.label(), calls.join("; ")))
        })
        .collect()
    }

    /// The error that ends a run that did not complete: what stopped it, what became of each
    /// call, and `commands` (the undo or the resume, right whether or not an unknown call was
    /// applied). `None` when complete.
    pub fn error(&self, what: &str, commands: &[String], verb: &str) -> Option<anyhow::Error> {
        let kind = self.kind()?;
        let why = if self.interrupted {
            "interrupted".to_string()
        } else {
            self.error.clone().unwrap_or_else(|| "stopped".into())
        };
        let n = self.calls.len();
        let message = match kind {
            Kind::Failed => format!("{what}: nothing was changed: {why}"),
            _ => {
                let unknown = self.count(CallStatus::Unknown);
                let mut m = format!(
                    "{what}: {} of {n} change{} made",
                    self.count(CallStatus::Done),
                    if n == 1 { "" } else { "s" }
                );
                if unknown > 0 {
                    m.push_str(&format!(", {unknown} outcome unknown"));
                }
                format!("{m}, then {why}")
            }
        };
        let mut hint = self.summary().join(". ");
        if kind != Kind::Failed && !commands.is_empty() {
            hint.push_str(&format!(". {verb}: {}", commands.join(" && ")));
            if self.count(CallStatus::Unknown) > 0 {
                hint.push_str(" (right whether or not the unknown change was applied)");
            }
        }
        if kind == Kind::Failed {
            hint = format!("{hint}. Nothing to undo: run the command again when AWS answers");
        }
        Some(AppError::new(kind, message).with_hint(hint).into())
    }
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
