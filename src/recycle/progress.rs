//! How far a recycle that an earlier run started got, from the groups and their scheduled
//! actions alone. A run whose network died part-way through applying a recycle cannot say which
//! calls AWS applied; the world can. The recycle's calls schedule every return to normal size
//! (`RecycleOnce`) before any scale-out (see [`plan`](super::plan)), so a group whose return is
//! scheduled but whose scale-out is neither scheduled (`DelayedScaleOutOnce`) nor applied (desired
//! above the size it returns to) is the mark of a recycle left part-done.

use crate::aws::fleet::{Group, ScheduledAction, DELAYED_SCALE_OUT, RECYCLE_ONCE};

/// A recycle in the world, as far as its groups show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// No recycle action is scheduled on any of the groups.
    NotStarted,
    /// Every group with a return scheduled has its scale-out scheduled or applied.
    Applied,
    /// These groups have their return scheduled and no scale-out: an earlier run stopped
    /// between the calls. Re-running the recycle over it (`--force`) finishes it.
    PartDone(Vec<String>),
}

/// Reads the recycle's progress over `groups` (the groups a recycle of the role changes).
/// A group with no recycle action at all tells nothing: its part either never started or has
/// already run to its end (the migration group returns to zero before the others do).
pub fn progress(groups: &[Group], actions: &[ScheduledAction]) -> Progress {
    let of = |g: &Group, name: &str| actions.iter().find(|a| a.group == g.name && a.name == name);
    let mut started = false;
    let mut part_done = Vec::new();
    for g in groups {
        let (ret, out) = (of(g, RECYCLE_ONCE), of(g, DELAYED_SCALE_OUT));
        started |= ret.is_some() || out.is_some();
        let Some(ret) = ret else { continue };
        let scaled_out = g.desired > ret.desired.unwrap_or(g.desired);
        if out.is_none() && !scaled_out {
            part_done.push(g.name.clone());
        }
    }
    match (started, part_done.is_empty()) {
        (false, _) => Progress::NotStarted,
        (true, true) => Progress::Applied,
        (true, false) => Progress::PartDone(part_done),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recycle::testing::{action, group};

    const AT: &str = "2026-12-03T10:00:00Z";

    fn groups(mig: i32, idp: i32, worker: i32) -> Vec<Group> {
        vec![
            group("prod-migration", mig, 1),
            group("prod-idp", idp, 48),
            group("prod-worker", worker, 16),
        ]
    }

    #[test]
    fn nothing_scheduled_is_not_started() {
        assert_eq!(progress(&groups(0, 12, 4), &[]), Progress::NotStarted);
        // Terraform's own schedules are not a recycle.
        let auto = action("prod-idp", "auto-recycle.business", AT, 12);
        assert_eq!(progress(&groups(0, 12, 4), &[auto]), Progress::NotStarted);
    }

    #[test]
    fn every_return_with_its_scale_out_is_applied() {
        let actions = [
            action("prod-migration", RECYCLE_ONCE, AT, 0),
            action("prod-idp", RECYCLE_ONCE, AT, 12),
            action("prod-worker", RECYCLE_ONCE, AT, 4),
            action("prod-idp", DELAYED_SCALE_OUT, AT, 24),
            action("prod-worker", DELAYED_SCALE_OUT, AT, 8),
        ];
        // The migration instance was started at once (desired 1 above its return to 0).
        assert_eq!(progress(&groups(1, 12, 4), &actions), Progress::Applied);
        // Later: the scale-outs ran (and are gone), the returns are still due.
        assert_eq!(
            progress(&groups(1, 24, 8), &actions[..3]),
            Progress::Applied
        );
        // Later still: the migration group is back at zero and its action gone.
        assert_eq!(
            progress(&groups(0, 24, 8), &actions[1..3]),
            Progress::Applied
        );
    }

    #[test]
    fn a_return_without_its_scale_out_is_part_done() {
        // Lost after the three returns: nothing scaled out yet.
        let returns = [
            action("prod-migration", RECYCLE_ONCE, AT, 0),
            action("prod-idp", RECYCLE_ONCE, AT, 12),
            action("prod-worker", RECYCLE_ONCE, AT, 4),
        ];
        assert_eq!(
            progress(&groups(0, 12, 4), &returns),
            Progress::PartDone(vec![
                "prod-migration".into(),
                "prod-idp".into(),
                "prod-worker".into()
            ])
        );
        // Lost at the last call: only the worker misses its scale-out.
        let mut most = returns.to_vec();
        most.push(action("prod-idp", DELAYED_SCALE_OUT, AT, 24));
        assert_eq!(
            progress(&groups(1, 12, 4), &most),
            Progress::PartDone(vec!["prod-worker".into()])
        );
        // Lost after the first return only.
        assert_eq!(
            progress(&groups(0, 12, 4), &returns[..1]),
            Progress::PartDone(vec!["prod-migration".into()])
        );
    }
}
