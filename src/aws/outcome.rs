//! What became of a mutating call whose answer we did not get (issue 12, item 1).
//!
//! An error after the request left is not "nothing was changed": AWS may have applied the call
//! and the answer was lost (connection reset, timeout). Only two cases prove nothing happened: the
//! request was never built or the connection was never made, and AWS answered with an error.
//! The SDK retries, so one operation is several attempts: [`Tracker`] watches each attempt and
//! remembers whether any of them may have been applied without an answer we could read.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::result::{ConnectorError, SdkError};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;

/// The status of one planned call after the apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    /// AWS answered success (or the goal already held: a deleted action that is gone).
    Done,
    /// Never sent: an earlier call stopped the apply, Ctrl-C came first, or no connection.
    NotSent,
    /// Sent, and the answer was lost: it may or may not have been applied.
    Unknown,
    /// AWS answered with an error: not applied.
    Failed,
}

impl CallStatus {
    /// Done or maybe done: what an undo must cover.
    pub fn may_have_changed(self) -> bool {
        matches!(self, CallStatus::Done | CallStatus::Unknown)
    }

    pub fn label(self) -> &'static str {
        match self {
            CallStatus::Done => "done",
            CallStatus::NotSent => "not sent",
            CallStatus::Unknown => "outcome unknown",
            CallStatus::Failed => "failed",
        }
    }
}

/// A mutating call that did not succeed: its status (never `Done`) and the error to print.
#[derive(Debug)]
pub struct CallError {
    pub status: CallStatus,
    pub error: anyhow::Error,
}

/// Records, over every attempt of one operation, whether one may have reached AWS without an
/// answer we could read: no response at all after the connection was made, a 5xx (AWS says
/// "internal error" without saying whether it applied the change), or a success we could not read.
#[derive(Debug, Clone, Default)]
pub struct Tracker(Arc<AtomicBool>);

impl Tracker {
    pub fn answer_lost(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Intercept for Tracker {
    fn name(&self) -> &'static str {
        "login-release outcome tracker"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let failed = matches!(context.output_or_error(), Some(Err(_)));
        let lost = match (context.response(), context.output_or_error()) {
            (Some(r), _) => r.status().is_server_error() || (r.status().is_success() && failed),
            (None, Some(Err(e))) => !e.as_connector_error().is_some_and(never_connected),
            (None, _) => false,
        };
        if lost {
            self.0.store(true, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// The connection was never made (refused, unresolvable): the request cannot have arrived.
pub fn never_connected(e: &ConnectorError) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if err
            .downcast_ref::<hyper_util::client::legacy::Error>()
            .is_some_and(|h| h.is_connect())
        {
            return true;
        }
        next = err.source();
    }
    false
}

/// The status of a call that ended in `err`, given what its attempts showed.
pub fn classify<E, R>(err: &SdkError<E, R>, tracker: &Tracker) -> CallStatus {
    if tracker.answer_lost() {
        return CallStatus::Unknown;
    }
    match err {
        SdkError::ConstructionFailure(_) => CallStatus::NotSent,
        SdkError::ServiceError(_) => CallStatus::Failed,
        SdkError::DispatchFailure(d) if d.as_connector_error().is_some_and(never_connected) => {
            CallStatus::NotSent
        }
        // Timeouts (the attempt may have been cut after the request left), lost connections,
        // answers we could not read.
        _ => CallStatus::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_undone_statuses_need_no_undo() {
        assert!(CallStatus::Done.may_have_changed());
        assert!(CallStatus::Unknown.may_have_changed());
        assert!(!CallStatus::NotSent.may_have_changed());
        assert!(!CallStatus::Failed.may_have_changed());
    }

    #[test]
    fn a_lost_answer_wins_over_the_last_error() {
        let t = Tracker::default();
        let refused: SdkError<std::io::Error, ()> = SdkError::timeout_error("slow");
        assert_eq!(classify(&refused, &t), CallStatus::Unknown);
        let built: SdkError<std::io::Error, ()> = SdkError::construction_failure("bad input");
        assert_eq!(classify(&built, &t), CallStatus::NotSent);
        t.0.store(true, Ordering::SeqCst);
        assert_eq!(classify(&built, &t), CallStatus::Unknown);
    }

    #[test]
    fn an_io_error_after_connecting_is_unknown() {
        let t = Tracker::default();
        let reset = SdkError::<std::io::Error, ()>::dispatch_failure(ConnectorError::io(
            "connection reset".into(),
        ));
        assert_eq!(classify(&reset, &t), CallStatus::Unknown);
    }
}
