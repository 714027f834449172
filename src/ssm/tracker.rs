//! Tracks an SSM command until every invocation has finished. Pure: the command feeds it what
//! ListCommands and GetCommandInvocation said, and when; it says which instances to ask about, when
//! the command is done, and what the outcome is. The emulator finishes every invocation with
//! `Success` at once, so the pending, in-progress, failed, missing and mismatched cases are tested
//! here with scripted sequences.
//!
//! Calls are kept few: ListCommands (one call) every poll; GetCommandInvocation only for
//! instances not finished yet, and only when the command's completed count moved, the command
//! finished, or `refresh` has passed (ListInvocations is not used: the emulator lacks it, and
//! per-instance calls are fine at our fleet sizes).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// Invocation statuses (GetCommandInvocation `Status`) after which nothing changes.
pub fn is_terminal(status: &str) -> bool {
    matches!(
        status,
        "Success" | "Failed" | "TimedOut" | "Cancelled" | NOT_RUN
    )
}

/// Our status for a target that has no invocation once the command has finished.
pub const NOT_RUN: &str = "NotRun";

/// Command statuses (ListCommands `Status`) after which no invocation starts.
pub fn command_is_terminal(status: &str) -> bool {
    matches!(status, "Success" | "Failed" | "TimedOut" | "Cancelled")
}

/// What ListCommands said about the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandState {
    pub status: String,
    pub target_count: i32,
    pub completed: i32,
    pub errors: i32,
    pub delivery_timed_out: i32,
}

/// What GetCommandInvocation said about one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invocation {
    pub instance: String,
    pub status: String,
    /// `StatusDetails`: `Undeliverable`, `ExecutionTimedOut`, `DeliveryTimedOut`...
    pub details: Option<String>,
    pub response_code: Option<i32>,
    #[serde(serialize_with = "secs", rename = "duration_secs")]
    pub duration: Option<Duration>,
    pub stdout: String,
    pub stderr: String,
}

fn secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

impl Invocation {
    pub fn pending(instance: &str) -> Self {
        Invocation {
            instance: instance.to_string(),
            status: "Pending".into(),
            details: None,
            response_code: None,
            duration: None,
            stdout: String::new(),
            stderr: String::new(),
        }
    }

    pub fn failed(&self) -> bool {
        is_terminal(&self.status) && self.status != "Success" && self.status != NOT_RUN
    }

    /// The first `max` lines of the output people need: stderr first when it failed.
    pub fn excerpt(&self, max: usize) -> String {
        let (first, second) = if self.failed() {
            (&self.stderr, &self.stdout)
        } else {
            (&self.stdout, &self.stderr)
        };
        let text = if first.trim().is_empty() {
            second
        } else {
            first
        };
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut out = lines
            .iter()
            .take(max)
            .copied()
            .collect::<Vec<_>>()
            .join("\n");
        if lines.len() > max {
            out.push_str(&format!("\n... ({} more lines)", lines.len() - max));
        }
        out
    }
}

/// The end state, for the table, the JSON document and the exit code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub command_status: String,
    pub target_count: i32,
    pub expected: usize,
    pub succeeded: usize,
    pub failed: Vec<String>,
    pub not_run: Vec<String>,
}

impl Summary {
    /// The number of invocations differs from what we counted before sending.
    pub fn count_mismatch(&self) -> bool {
        usize::try_from(self.target_count).ok() != Some(self.expected) || !self.not_run.is_empty()
    }

    /// Any invocation failed, or the command itself did not succeed.
    pub fn is_failure(&self) -> bool {
        !self.failed.is_empty()
            || matches!(
                self.command_status.as_str(),
                "Failed" | "TimedOut" | "Cancelled"
            )
    }
}

#[derive(Debug, Clone)]
pub struct Tracker {
    expected: usize,
    targets: Vec<String>,
    invocations: BTreeMap<String, Invocation>,
    command: Option<CommandState>,
    refresh: Duration,
    last_fetch: Option<Duration>,
    fetched_at_completed: i32,
    extra_targets_looked_up: bool,
}

impl Tracker {
    /// `targets`: the running instances counted before sending; `refresh`: the longest time
    /// between invocation checks even when the command's counts do not move.
    pub fn new(targets: Vec<String>, refresh: Duration) -> Self {
        let invocations = targets
            .iter()
            .map(|t| (t.clone(), Invocation::pending(t)))
            .collect();
        Tracker {
            expected: targets.len(),
            targets,
            invocations,
            command: None,
            refresh,
            last_fetch: None,
            fetched_at_completed: -1,
            extra_targets_looked_up: false,
        }
    }

    pub fn observe_command(&mut self, state: CommandState) {
        self.command = Some(state);
    }

    pub fn command(&self) -> Option<&CommandState> {
        self.command.as_ref()
    }

    fn command_done(&self) -> bool {
        self.command
            .as_ref()
            .is_some_and(|c| command_is_terminal(&c.status))
    }

    /// The instances to ask GetCommandInvocation about at `now`.
    pub fn to_fetch(&mut self, now: Duration) -> Vec<String> {
        let open: Vec<String> = self
            .targets
            .iter()
            .filter(|t| !is_terminal(&self.invocations[*t].status))
            .cloned()
            .collect();
        if open.is_empty() {
            return open;
        }
        let completed = self.command.as_ref().map_or(0, |c| c.completed);
        let moved = completed > self.fetched_at_completed;
        let stale = self
            .last_fetch
            .is_none_or(|t| now.saturating_sub(t) >= self.refresh);
        if moved || stale || self.command_done() {
            self.last_fetch = Some(now);
            self.fetched_at_completed = completed;
            open
        } else {
            Vec::new()
        }
    }

    pub fn observe_invocation(&mut self, inv: Invocation) {
        if !self.invocations.contains_key(&inv.instance) {
            self.targets.push(inv.instance.clone());
        }
        self.invocations.insert(inv.instance.clone(), inv);
    }

    /// GetCommandInvocation said there is no invocation for `instance`. Right after sending that
    /// is normal (not delivered yet); once the command has finished, the instance was not run.
    pub fn observe_missing(&mut self, instance: &str) {
        if self.command_done() {
            let mut inv = Invocation::pending(instance);
            inv.status = NOT_RUN.into();
            inv.details = Some("no invocation: the command did not target this instance".into());
            self.invocations.insert(instance.to_string(), inv);
        }
    }

    /// The command targets more instances than we counted (one launched in between): the caller
    /// should list the running instances again and add them, once.
    pub fn wants_more_targets(&mut self) -> bool {
        let more = self
            .command
            .as_ref()
            .is_some_and(|c| usize::try_from(c.target_count).unwrap_or(0) > self.targets.len());
        if more && !self.extra_targets_looked_up {
            self.extra_targets_looked_up = true;
            return true;
        }
        false
    }

    /// Instances the command may have run on that we did not count before sending.
    pub fn add_targets(&mut self, ids: impl IntoIterator<Item = String>) {
        for id in ids {
            if !self.invocations.contains_key(&id) {
                self.invocations
                    .insert(id.clone(), Invocation::pending(&id));
                self.targets.push(id);
            }
        }
    }

    /// Finished: the command is in a final state and so is every invocation we know of.
    pub fn done(&self) -> bool {
        self.command_done()
            && self
                .targets
                .iter()
                .all(|t| is_terminal(&self.invocations[t].status))
    }

    pub fn finished_count(&self) -> usize {
        self.targets
            .iter()
            .filter(|t| is_terminal(&self.invocations[*t].status))
            .count()
    }

    /// `2/4 finished, 1 failed (command InProgress)`.
    pub fn progress_line(&self) -> String {
        let failed = self
            .targets
            .iter()
            .filter(|t| self.invocations[*t].failed())
            .count();
        let mut s = format!("{}/{} finished", self.finished_count(), self.targets.len());
        if failed > 0 {
            s.push_str(&format!(", {failed} failed"));
        }
        if let Some(c) = &self.command {
            s.push_str(&format!(" (command {})", c.status));
        }
        s
    }

    /// Invocations in target order.
    pub fn invocations(&self) -> Vec<&Invocation> {
        self.targets.iter().map(|t| &self.invocations[t]).collect()
    }

    pub fn summary(&self) -> Summary {
        let invs = self.invocations();
        Summary {
            command_status: self
                .command
                .as_ref()
                .map_or_else(|| "Unknown".to_string(), |c| c.status.clone()),
            target_count: self.command.as_ref().map_or(0, |c| c.target_count),
            expected: self.expected,
            succeeded: invs.iter().filter(|i| i.status == "Success").count(),
            failed: invs
                .iter()
                .filter(|i| i.failed())
                .map(|i| i.instance.clone())
                .collect(),
            not_run: invs
                .iter()
                .filter(|i| i.status == NOT_RUN)
                .map(|i| i.instance.clone())
                .collect(),
        }
    }
}

/// SSM's `ExecutionElapsedTime` (ISO 8601, `PT0.512S`, `PT5M`).
pub fn parse_elapsed(s: &str) -> Option<Duration> {
    let span: jiff::Span = s.parse().ok()?;
    let d = jiff::SignedDuration::try_from(span).ok()?;
    Duration::try_from(d).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn cmd(status: &str, targets: i32, completed: i32, errors: i32) -> CommandState {
        CommandState {
            status: status.into(),
            target_count: targets,
            completed,
            errors,
            delivery_timed_out: 0,
        }
    }

    fn inv(instance: &str, status: &str, out: &str) -> Invocation {
        Invocation {
            instance: instance.into(),
            status: status.into(),
            details: None,
            response_code: Some(if status == "Failed" { 1 } else { 0 }),
            duration: Some(ms(1500)),
            stdout: out.into(),
            stderr: if status == "Failed" {
                "Passenger did not restart".into()
            } else {
                String::new()
            },
        }
    }

    fn ids(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("i-{i}")).collect()
    }

    #[test]
    fn pending_then_in_progress_then_success() {
        let mut t = Tracker::new(ids(2), ms(1000));
        t.observe_command(cmd("Pending", 2, 0, 0));
        // First poll: nothing known, ask about everyone once.
        assert_eq!(t.to_fetch(ms(0)), ids(2));
        t.observe_missing("i-1"); // not delivered yet: still pending
        t.observe_invocation(inv("i-2", "InProgress", ""));
        assert!(!t.done());
        // Counts did not move and the refresh interval has not passed: no calls.
        t.observe_command(cmd("InProgress", 2, 0, 0));
        assert!(t.to_fetch(ms(100)).is_empty());
        // One finished: ask about the open ones.
        t.observe_command(cmd("InProgress", 2, 1, 0));
        assert_eq!(t.to_fetch(ms(200)), ids(2));
        t.observe_invocation(inv("i-1", "Success", "restarted"));
        t.observe_invocation(inv("i-2", "InProgress", ""));
        assert_eq!(t.progress_line(), "1/2 finished (command InProgress)");
        t.observe_command(cmd("Success", 2, 2, 0));
        assert_eq!(t.to_fetch(ms(300)), ["i-2"]);
        t.observe_invocation(inv("i-2", "Success", "restarted"));
        assert!(t.done());
        let s = t.summary();
        assert_eq!(s.succeeded, 2);
        assert!(!s.is_failure());
        assert!(!s.count_mismatch());
        assert!(t.to_fetch(ms(400)).is_empty());
    }

    #[test]
    fn stale_invocations_are_refreshed_even_when_counts_stand_still() {
        let mut t = Tracker::new(ids(1), ms(1000));
        t.observe_command(cmd("InProgress", 1, 0, 0));
        assert_eq!(t.to_fetch(ms(0)).len(), 1);
        assert!(t.to_fetch(ms(999)).is_empty());
        assert_eq!(t.to_fetch(ms(1000)).len(), 1);
    }

    #[test]
    fn a_failed_invocation_fails_the_command() {
        let mut t = Tracker::new(ids(3), ms(1000));
        t.observe_command(cmd("Failed", 3, 3, 1));
        for i in t.to_fetch(ms(0)) {
            let status = if i == "i-2" { "Failed" } else { "Success" };
            t.observe_invocation(inv(&i, status, "trying passenger-config restart-app"));
        }
        assert!(t.done());
        let s = t.summary();
        assert_eq!(s.failed, ["i-2"]);
        assert!(s.is_failure());
        let failed = &t.invocations()[1];
        assert_eq!(failed.excerpt(3), "Passenger did not restart");
    }

    #[test]
    fn max_errors_reached_leaves_instances_not_run() {
        let mut t = Tracker::new(ids(3), ms(1000));
        t.observe_command(cmd("Failed", 3, 1, 1));
        t.to_fetch(ms(0));
        t.observe_invocation(inv("i-1", "Failed", ""));
        t.observe_missing("i-2");
        t.observe_invocation(inv("i-3", "Cancelled", ""));
        assert!(t.done());
        let s = t.summary();
        assert_eq!(s.failed, ["i-1", "i-3"]);
        assert_eq!(s.not_run, ["i-2"]);
        assert!(s.count_mismatch());
    }

    #[test]
    fn more_targets_than_counted_are_looked_up_once() {
        let mut t = Tracker::new(ids(2), ms(1000));
        t.observe_command(cmd("Success", 3, 3, 0));
        assert!(t.wants_more_targets());
        assert!(!t.wants_more_targets(), "only once");
        t.add_targets(vec!["i-2".to_string(), "i-9".to_string()]);
        assert_eq!(t.to_fetch(ms(0)), ["i-1", "i-2", "i-9"]);
        for i in ["i-1", "i-2", "i-9"] {
            t.observe_invocation(inv(i, "Success", "ok"));
        }
        assert!(t.done());
        let s = t.summary();
        assert_eq!(s.expected, 2);
        assert!(s.count_mismatch(), "3 invocations for 2 counted targets");
        assert!(!s.is_failure());
    }

    #[test]
    fn a_command_that_timed_out_without_invocations_is_a_failure() {
        let mut t = Tracker::new(ids(1), ms(1000));
        t.observe_command(cmd("TimedOut", 1, 1, 0));
        t.to_fetch(ms(0));
        t.observe_missing("i-1");
        assert!(t.done());
        assert!(t.summary().is_failure());
    }

    #[test]
    fn excerpts_and_elapsed_times() {
        let i = inv("i-1", "Success", "a\n\nb\nc\nd\n");
        assert_eq!(i.excerpt(2), "a\nb\n... (2 more lines)");
        assert_eq!(i.excerpt(10), "a\nb\nc\nd");
        assert_eq!(parse_elapsed("PT5M"), Some(Duration::from_secs(300)));
        assert_eq!(parse_elapsed("PT0.512S"), Some(ms(512)));
        assert_eq!(parse_elapsed("soon"), None);
    }
}
