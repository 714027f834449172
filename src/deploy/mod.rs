//! The production release as one runbook (issue 10). What is here does not depend on the step
//! library; the `deploy` command itself comes with it.
//!
//! - [`calendar`]: pure. Which days allow a full or a patch deploy, US federal holidays, freezes.
//! - [`merge`]: pure. Where the promotion PR stands (review, merge kind).
//! - [`record`]: pure. The release record: the ten steps, their states and the legal transitions.
//! - [`store`]: the record on the remote under its own ref, where a fast-forward push is the lock.

pub mod calendar;
pub mod merge;
pub mod record;
pub mod store;
