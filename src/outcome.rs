//! How a step ended, the same for the git and the fleet steps: one status enum for the JSON
//! documents, the step functions' typed outcomes, and `deploy`'s record.

use serde::Serialize;

use crate::context::Go;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The changes were made and verified.
    Applied,
    /// `--dry-run`: the plan was shown, nothing changed.
    DryRun,
    /// The person at the prompt said no: nothing changed.
    Declined,
    /// A fleet step found its work done (nothing to recycle, nothing to unprotect).
    NothingToDo,
    /// A git step found what it would make already on origin.
    AlreadyDone,
}

impl Status {
    /// The stopped statuses of the confirmation gate; `None` when the plan is to be applied.
    pub fn stopped(go: Go) -> Option<Status> {
        match go {
            Go::Apply => None,
            Go::DryRun => Some(Status::DryRun),
            Go::Declined => Some(Status::Declined),
        }
    }

    /// Whether anything was changed by the step.
    pub fn changed(self) -> bool {
        self == Status::Applied
    }
}

impl From<Go> for Status {
    fn from(go: Go) -> Self {
        Status::stopped(go).unwrap_or(Status::Applied)
    }
}
