//! The migration watch as a pure state machine over a fake-able clock: find the newest running
//! instance, wait for its log stream, follow it until a marker, and notice when the instance goes
//! away. The command feeds it observations (what AWS said, and when) and does what it asks next;
//! every timing decision lives here, so scripted sequences test what the emulator cannot show
//! (pending instances, a stream that appears late, an instance that dies mid-provision, throttling).

use std::time::Duration;

use serde::Serialize;

use super::markers::{LineKind, Markers};
use super::pace::Pacing;

/// Where the watch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// No running instance yet.
    Finding,
    /// The instance runs, its log stream does not exist yet.
    WaitingForStream,
    /// Reading the stream.
    Following,
}

/// How a watch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    InstanceGone,
    TimedOut,
    Interrupted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::InstanceGone => "instance gone",
            Outcome::TimedOut => "timed out",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// The end of a watch, with what the message needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish {
    pub outcome: Outcome,
    /// The phase the watch was in when it ended (what a timeout was waiting for).
    pub phase: Phase,
    /// The marker line, or the instance's last state.
    pub detail: Option<String>,
}

/// What the command should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Look for the newest running instance.
    FindInstance,
    /// Does the instance's log stream exist yet?
    CheckStream,
    /// Is the instance still running?
    CheckInstance,
    /// Read new events.
    FetchEvents,
    /// Nothing is due: sleep this long.
    Sleep(Duration),
    Finish(Finish),
}

/// A line after classification, for the printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub kind: LineKind,
}

/// EC2 states in which a provision can still finish.
pub fn is_alive(state: &str) -> bool {
    matches!(state, "pending" | "running")
}

#[derive(Debug, Clone)]
pub struct Watch {
    markers: Markers,
    pacing: Pacing,
    deadline: Duration,
    phase: Phase,
    instance: Option<String>,
    find_due: Duration,
    stream_due: Duration,
    state_due: Duration,
    fetch_due: Duration,
    /// The instance's state when it was seen gone, and until when to keep reading.
    gone: Option<(String, Duration)>,
    finish: Option<Finish>,
    lines: u64,
}

impl Watch {
    /// A watch starting at time zero of its clock. With `instance`, the finding phase is skipped.
    pub fn new(
        markers: Markers,
        pacing: Pacing,
        timeout: Duration,
        instance: Option<String>,
    ) -> Self {
        let phase = if instance.is_some() {
            Phase::WaitingForStream
        } else {
            Phase::Finding
        };
        Watch {
            markers,
            pacing,
            deadline: timeout,
            phase,
            instance,
            find_due: Duration::ZERO,
            stream_due: Duration::ZERO,
            state_due: pacing.state,
            fetch_due: Duration::ZERO,
            gone: None,
            finish: None,
            lines: 0,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    pub fn lines(&self) -> u64 {
        self.lines
    }

    pub fn finished(&self) -> Option<&Finish> {
        self.finish.as_ref()
    }

    fn end(&mut self, outcome: Outcome, detail: Option<String>) {
        if self.finish.is_none() {
            self.finish = Some(Finish {
                outcome,
                phase: self.phase,
                detail,
            });
        }
    }

    /// What to do at `now` (time since the watch started).
    pub fn next(&mut self, now: Duration) -> Step {
        if let Some(f) = &self.finish {
            return Step::Finish(f.clone());
        }
        if now >= self.deadline {
            self.end(Outcome::TimedOut, None);
            return self.next(now);
        }
        let due = match self.phase {
            Phase::Finding => {
                if now >= self.find_due {
                    return Step::FindInstance;
                }
                self.find_due
            }
            Phase::WaitingForStream => {
                if self.gone.is_none() && now >= self.state_due {
                    return Step::CheckInstance;
                }
                if now >= self.stream_due {
                    return Step::CheckStream;
                }
                if self.gone.is_some() {
                    self.stream_due
                } else {
                    self.stream_due.min(self.state_due)
                }
            }
            Phase::Following => {
                if let Some((_, until)) = &self.gone {
                    // Keep reading through the grace period, then read once more and stop.
                    if now >= *until || now >= self.fetch_due {
                        return Step::FetchEvents;
                    }
                    self.fetch_due.min(*until)
                } else {
                    if now >= self.state_due {
                        return Step::CheckInstance;
                    }
                    if now >= self.fetch_due {
                        return Step::FetchEvents;
                    }
                    self.fetch_due.min(self.state_due)
                }
            }
        };
        Step::Sleep(due.min(self.deadline).saturating_sub(now))
    }

    /// The result of FindInstance: the newest running instance, if any.
    pub fn found(&mut self, now: Duration, instance: Option<String>) {
        match instance {
            Some(id) => {
                self.instance = Some(id);
                self.phase = Phase::WaitingForStream;
                self.stream_due = now;
                self.state_due = now + self.pacing.state;
            }
            None => self.find_due = now + self.pacing.check,
        }
    }

    /// The result of CheckStream.
    pub fn stream(&mut self, now: Duration, exists: bool) {
        if exists {
            self.phase = Phase::Following;
            self.fetch_due = now;
            if let Some((_, until)) = &mut self.gone {
                // The stream appeared after the instance went: read what it wrote, briefly.
                *until = (*until).max(now);
            }
        } else if let Some((state, _)) = &self.gone {
            let state = state.clone();
            self.end(Outcome::InstanceGone, Some(state));
        } else {
            self.stream_due = now + self.pacing.check;
        }
    }

    /// The result of CheckInstance: its EC2 state, `None` when it no longer exists.
    pub fn instance_state(&mut self, now: Duration, state: Option<&str>) {
        match state {
            Some(s) if is_alive(s) => self.state_due = now + self.pacing.state,
            other => {
                let state = other.unwrap_or("gone").to_string();
                if self.gone.is_none() {
                    self.gone = Some((state, now + self.pacing.grace));
                }
                // Waiting for the stream: one last look for it.
                self.stream_due = now;
            }
        }
    }

    /// A request was throttled: try the same step again later.
    pub fn throttled(&mut self, now: Duration, step: &Step, delay: Duration) {
        let at = now + delay;
        match step {
            Step::FindInstance => self.find_due = at,
            Step::CheckStream => self.stream_due = at,
            Step::CheckInstance => self.state_due = at,
            Step::FetchEvents => self.fetch_due = at,
            _ => {}
        }
    }

    /// The result of FetchEvents: the new lines in order, and when the follower wants to poll
    /// next. Returns the lines to print: up to and including the first marker.
    pub fn fetched(&mut self, now: Duration, lines: Vec<String>, next_poll: Duration) -> Vec<Line> {
        let mut out = Vec::with_capacity(lines.len());
        for text in lines {
            let kind = self.markers.classify(&text);
            self.lines += 1;
            let decisive = match &kind {
                LineKind::Success => Some(Outcome::Succeeded),
                LineKind::Failure(_) => Some(Outcome::Failed),
                _ => None,
            };
            out.push(Line {
                text: text.clone(),
                kind,
            });
            if let Some(o) = decisive {
                self.end(o, Some(text));
                return out;
            }
        }
        self.fetch_due = now + next_poll;
        if let Some((state, until)) = &self.gone {
            if now >= *until {
                let state = state.clone();
                self.end(Outcome::InstanceGone, Some(state));
            }
        }
        out
    }

    /// Ctrl-C.
    pub fn interrupt(&mut self) {
        self.end(Outcome::Interrupted, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn markers() -> Markers {
        let s = crate::config::Config::defaults().settings;
        Markers::new(s.migration.success_marker, s.migration.failure_markers)
    }

    /// Pacing in round numbers: check every 10, state every 30, grace 20, poll 10.
    fn pacing() -> Pacing {
        Pacing {
            min: ms(10),
            max_idle: ms(50),
            max_backoff: ms(600),
            page_gap: ms(5),
            check: ms(10),
            state: ms(30),
            grace: ms(20),
            ssm: ms(50),
        }
    }

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const OK: &str = "All done! provision.sh finished for identity-devops";

    #[test]
    fn waits_for_an_instance_then_its_stream_then_succeeds() {
        let mut w = Watch::new(markers(), pacing(), ms(1000), None);
        assert_eq!(w.next(ms(0)), Step::FindInstance);
        w.found(ms(0), None);
        assert_eq!(w.next(ms(3)), Step::Sleep(ms(7)));
        assert_eq!(w.next(ms(10)), Step::FindInstance);
        w.found(ms(10), Some("i-1".into()));
        assert_eq!(w.phase(), Phase::WaitingForStream);
        assert_eq!(w.next(ms(10)), Step::CheckStream);
        w.stream(ms(10), false);
        assert_eq!(w.next(ms(12)), Step::Sleep(ms(8)));
        assert_eq!(w.next(ms(20)), Step::CheckStream);
        w.stream(ms(20), true);
        assert_eq!(w.next(ms(20)), Step::FetchEvents);
        let printed = w.fetched(
            ms(20),
            lines(&[
                "All done! provision.sh finished for identity-devops-private",
                "rake db:migrate",
            ]),
            ms(10),
        );
        assert_eq!(printed[1].kind, LineKind::Migrate);
        assert!(w.finished().is_none(), "the -private marker is not the end");
        assert_eq!(w.next(ms(25)), Step::Sleep(ms(5)));
        assert_eq!(w.next(ms(30)), Step::FetchEvents);
        let printed = w.fetched(ms(30), lines(&[OK, "after"]), ms(10));
        assert_eq!(printed.len(), 1, "nothing after the marker");
        let f = w.finished().unwrap();
        assert_eq!(f.outcome, Outcome::Succeeded);
        assert_eq!(f.detail.as_deref(), Some(OK));
        assert_eq!(w.lines(), 3);
    }

    #[test]
    fn a_failure_marker_fails() {
        let mut w = Watch::new(markers(), pacing(), ms(1000), Some("i-1".into()));
        assert_eq!(w.next(ms(0)), Step::CheckStream);
        w.stream(ms(0), true);
        w.fetched(
            ms(0),
            lines(&[
                "chef run failed",
                "Instance i-1 for ASG prod-migration was ABANDONED.  Fatal error in provisioning.",
            ]),
            ms(10),
        );
        let f = w.finished().unwrap();
        assert_eq!(f.outcome, Outcome::Failed);
        assert!(f.detail.as_deref().unwrap().contains("ABANDONED"));
    }

    #[test]
    fn an_instance_that_dies_is_read_through_the_grace_period_then_reported() {
        let mut w = Watch::new(markers(), pacing(), ms(1000), Some("i-1".into()));
        w.next(ms(0));
        w.stream(ms(0), true);
        w.fetched(ms(0), lines(&["starting"]), ms(10));
        // State checks come every 30.
        assert_eq!(w.next(ms(10)), Step::FetchEvents);
        w.fetched(ms(10), vec![], ms(20));
        assert_eq!(w.next(ms(30)), Step::CheckInstance);
        w.instance_state(ms(30), Some("running"));
        assert_eq!(w.next(ms(30)), Step::FetchEvents);
        w.fetched(ms(30), vec![], ms(20));
        assert_eq!(w.next(ms(50)), Step::FetchEvents);
        w.fetched(ms(50), vec![], ms(20));
        assert_eq!(w.next(ms(60)), Step::CheckInstance);
        w.instance_state(ms(60), Some("shutting-down"));
        // No more state checks; reads continue until 60 + grace 20.
        assert_eq!(w.next(ms(60)), Step::Sleep(ms(10)));
        assert_eq!(w.next(ms(70)), Step::FetchEvents);
        w.fetched(ms(70), lines(&["flushing"]), ms(10));
        assert!(w.finished().is_none());
        assert_eq!(w.next(ms(75)), Step::Sleep(ms(5)));
        assert_eq!(w.next(ms(80)), Step::FetchEvents);
        w.fetched(ms(80), vec![], ms(10));
        let f = w.finished().unwrap();
        assert_eq!(f.outcome, Outcome::InstanceGone);
        assert_eq!(f.detail.as_deref(), Some("shutting-down"));
    }

    #[test]
    fn the_last_flush_of_a_dead_instance_can_still_succeed() {
        let mut w = Watch::new(markers(), pacing(), ms(1000), Some("i-1".into()));
        w.next(ms(0));
        w.stream(ms(0), true);
        w.fetched(ms(0), vec![], ms(10));
        w.instance_state(ms(5), None);
        assert_eq!(w.next(ms(10)), Step::FetchEvents);
        w.fetched(ms(10), lines(&[OK]), ms(10));
        assert_eq!(w.finished().unwrap().outcome, Outcome::Succeeded);
    }

    #[test]
    fn an_instance_gone_before_its_stream_appeared() {
        let mut w = Watch::new(markers(), pacing(), ms(1000), Some("i-1".into()));
        assert_eq!(w.next(ms(0)), Step::CheckStream);
        w.stream(ms(0), false);
        assert_eq!(w.next(ms(10)), Step::CheckStream);
        w.stream(ms(10), false);
        assert_eq!(w.next(ms(30)), Step::CheckInstance);
        w.instance_state(ms(30), Some("terminated"));
        // One last look for the stream.
        assert_eq!(w.next(ms(30)), Step::CheckStream);
        w.stream(ms(30), false);
        let f = w.finished().unwrap();
        assert_eq!(f.outcome, Outcome::InstanceGone);
        assert_eq!(f.phase, Phase::WaitingForStream);
    }

    #[test]
    fn timeouts_say_what_was_awaited() {
        let mut w = Watch::new(markers(), pacing(), ms(25), None);
        assert_eq!(w.next(ms(0)), Step::FindInstance);
        w.found(ms(0), None);
        assert_eq!(w.next(ms(20)), Step::FindInstance);
        w.found(ms(20), None);
        // The sleep is cut at the deadline.
        assert_eq!(w.next(ms(22)), Step::Sleep(ms(3)));
        match w.next(ms(25)) {
            Step::Finish(f) => {
                assert_eq!(f.outcome, Outcome::TimedOut);
                assert_eq!(f.phase, Phase::Finding);
            }
            other => panic!("{other:?}"),
        }

        let mut w = Watch::new(markers(), pacing(), ms(25), Some("i-1".into()));
        w.next(ms(0));
        w.stream(ms(0), true);
        w.fetched(ms(0), lines(&["still migrating"]), ms(10));
        match w.next(ms(30)) {
            Step::Finish(f) => {
                assert_eq!(f.outcome, Outcome::TimedOut);
                assert_eq!(f.phase, Phase::Following);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn throttled_steps_are_retried_later() {
        let mut w = Watch::new(markers(), pacing(), ms(1000), None);
        let step = w.next(ms(0));
        assert_eq!(step, Step::FindInstance);
        w.throttled(ms(0), &step, ms(40));
        assert_eq!(w.next(ms(10)), Step::Sleep(ms(30)));
        assert_eq!(w.next(ms(40)), Step::FindInstance);
        w.found(ms(40), Some("i-1".into()));
        w.next(ms(40));
        w.stream(ms(40), true);
        let step = w.next(ms(40));
        assert_eq!(step, Step::FetchEvents);
        w.throttled(ms(40), &step, ms(100));
        // The state check (due at 70) still happens while fetching waits.
        assert_eq!(w.next(ms(41)), Step::Sleep(ms(29)));
        assert_eq!(w.next(ms(70)), Step::CheckInstance);
        w.instance_state(ms(70), Some("running"));
        assert_eq!(w.next(ms(71)), Step::Sleep(ms(29)));
    }

    #[test]
    fn interrupt_ends_the_watch() {
        let mut w = Watch::new(markers(), pacing(), ms(1000), None);
        w.interrupt();
        assert!(matches!(
            w.next(ms(1)),
            Step::Finish(Finish {
                outcome: Outcome::Interrupted,
                ..
            })
        ));
    }
}
