//! The release record: one per environment, the shared truth of where a release stands.
//!
//! Pure data and pure transitions; [`store`](super::store) keeps it on the remote. The types keep
//! wrong states out: the ten steps are always all there and in order, a step's times and actor
//! live inside its state (a pending step has none, a done step has both ends), and only an active
//! release has a lock holder. Transitions check the rest (order, the holder, reasons) and return a
//! [`TransitionError`] instead of changing anything.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::calendar::DeployKind;
use crate::error::{AppError, Kind};

/// Bumped when the JSON changes incompatibly; a newer record is refused, not misread.
pub const SCHEMA_VERSION: u32 = 1;

/// The ten steps of the runbook, in order (issue 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Preflight,
    Cut,
    Merge,
    Recycle,
    Migration,
    InService,
    Monitor,
    RemoveOld,
    Soak,
    Tag,
}

impl Step {
    pub const ALL: [Step; 10] = [
        Step::Preflight,
        Step::Cut,
        Step::Merge,
        Step::Recycle,
        Step::Migration,
        Step::InService,
        Step::Monitor,
        Step::RemoveOld,
        Step::Soak,
        Step::Tag,
    ];

    fn index(self) -> usize {
        self as usize
    }

    pub fn title(self) -> &'static str {
        match self {
            Step::Preflight => "preflight",
            Step::Cut => "cut the RC and open the promotion PR",
            Step::Merge => "merge the promotion PR",
            Step::Recycle => "recycle",
            Step::Migration => "migration",
            Step::InService => "new instances in service",
            Step::Monitor => "monitor",
            Step::RemoveOld => "remove the old instances",
            Step::Soak => "soak and manual checks",
            Step::Tag => "tag and publish",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// Who acts: the git identity and the AWS caller identity, as the caller read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `Name <email>`.
    pub git: String,
    /// The STS caller ARN.
    pub aws: String,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.git, self.aws)
    }
}

/// A step's state; the times and the actor exist only where they make sense.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum StepState {
    Pending,
    Running {
        started: Timestamp,
        by: Actor,
    },
    Done {
        started: Timestamp,
        ended: Timestamp,
        by: Actor,
    },
    Failed {
        started: Timestamp,
        ended: Timestamp,
        by: Actor,
        error: String,
    },
}

impl StepState {
    pub fn name(&self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Running { .. } => "running",
            StepState::Done { .. } => "done",
            StepState::Failed { .. } => "failed",
        }
    }
}

/// One step of the record: its state and what was planned and verified (the step command's own
/// JSON plan and result).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: Step,
    #[serde(flatten)]
    pub state: StepState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Value>,
}

/// Whether the release goes on, and who holds the lock while it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Lifecycle {
    Active {
        holder: Actor,
        since: Timestamp,
    },
    Finished {
        at: Timestamp,
    },
    Aborted {
        at: Timestamp,
        by: Actor,
        reason: String,
    },
}

/// An answer given at a prompt (off-cycle confirmation, "inconclusive monitor: go on?").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub step: Step,
    pub question: String,
    pub answer: String,
    pub by: Actor,
    pub at: Timestamp,
}

/// A manual check in production confirmed by a person (sign in, sign up, proofing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    pub check: String,
    pub by: Actor,
    pub at: Timestamp,
}

/// A lock taken over from another holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Steal {
    pub from: Actor,
    pub to: Actor,
    pub at: Timestamp,
    pub reason: String,
}

/// What a release was started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub env: String,
    /// `idp` or `pki`.
    pub app: String,
    pub kind: DeployKind,
    /// Set for a full deploy outside the calendar (`--off-cycle --reason`).
    pub off_cycle_reason: Option<String>,
    /// The start's options as given (RC number, cherry-picks...), for `resume` to compare.
    pub options: Value,
    pub actor: Actor,
    pub now: Timestamp,
}

/// The record of one release of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub schema_version: u32,
    pub env: String,
    pub app: String,
    pub kind: DeployKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off_cycle_reason: Option<String>,
    pub options: Value,
    pub started_at: Timestamp,
    pub started_by: Actor,
    pub lifecycle: Lifecycle,
    steps: Vec<StepRecord>,
    pub decisions: Vec<Decision>,
    pub attestations: Vec<Attestation>,
    pub steals: Vec<Steal>,
}

/// A transition the record refuses; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionError {
    /// The release is finished or aborted.
    NotActive { state: &'static str },
    /// An earlier step is not done yet.
    OutOfOrder { step: Step, waiting_for: Step },
    /// Finishing or failing a step that is not running.
    NotRunning { step: Step, state: &'static str },
    /// Someone other than the lock holder tried to act.
    NotHolder { holder: Actor, actor: Actor },
    /// Stealing the lock one already holds.
    AlreadyHolder,
    /// Finishing the release with steps not done.
    Unfinished { first: Step },
    /// Abort, steal and off-cycle need a reason.
    EmptyReason,
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransitionError::NotActive { state } => write!(f, "the release is {state}"),
            TransitionError::OutOfOrder { step, waiting_for } => write!(
                f,
                "step `{step}` cannot start before `{waiting_for}` is done"
            ),
            TransitionError::NotRunning { step, state } => {
                write!(f, "step `{step}` is {state}, not running")
            }
            TransitionError::NotHolder { holder, actor } => {
                write!(f, "{actor} does not hold the release lock; {holder} does")
            }
            TransitionError::AlreadyHolder => f.write_str("you already hold the release lock"),
            TransitionError::Unfinished { first } => {
                write!(f, "the release cannot end: step `{first}` is not done")
            }
            TransitionError::EmptyReason => f.write_str("a reason is required"),
        }
    }
}

impl std::error::Error for TransitionError {}

impl From<TransitionError> for AppError {
    fn from(e: TransitionError) -> AppError {
        let hint = match &e {
            TransitionError::NotHolder { .. } => {
                "take the lock over with `--steal --reason TEXT` if its holder is gone"
            }
            TransitionError::EmptyReason => "pass --reason TEXT",
            _ => "`login-release deploy status` shows where the release stands",
        };
        AppError::new(Kind::Preflight, e.to_string()).with_hint(hint)
    }
}

type Transition = Result<(), TransitionError>;

fn reason_text(reason: &str) -> Result<String, TransitionError> {
    let r = reason.trim();
    if r.is_empty() {
        Err(TransitionError::EmptyReason)
    } else {
        Ok(r.to_string())
    }
}

impl Record {
    /// A new, active release held by its starter, every step pending.
    pub fn begin(start: Start) -> Result<Record, TransitionError> {
        // A patch is off-cycle only on a weekend or a holiday (an emergency fix); the reason is
        // recorded the same way for both kinds.
        let off_cycle_reason = match &start.off_cycle_reason {
            None => None,
            Some(r) => Some(reason_text(r)?),
        };
        Ok(Record {
            schema_version: SCHEMA_VERSION,
            env: start.env,
            app: start.app,
            kind: start.kind,
            off_cycle_reason,
            options: start.options,
            started_at: start.now,
            started_by: start.actor.clone(),
            lifecycle: Lifecycle::Active {
                holder: start.actor,
                since: start.now,
            },
            steps: Step::ALL
                .iter()
                .map(|&step| StepRecord {
                    step,
                    state: StepState::Pending,
                    planned: None,
                    verified: None,
                })
                .collect(),
            decisions: Vec::new(),
            attestations: Vec::new(),
            steals: Vec::new(),
        })
    }

    /// Reads a record, refusing a newer schema or a damaged step list rather than misreading it.
    pub fn from_json(text: &str) -> anyhow::Result<Record> {
        let probe: Value = serde_json::from_str(text)?;
        let version = probe.get("schema_version").and_then(Value::as_u64);
        if version != Some(u64::from(SCHEMA_VERSION)) {
            return Err(AppError::new(
                Kind::Failed,
                format!(
                    "the release record has schema_version {}, this login-release reads {SCHEMA_VERSION}",
                    version.map_or("none".to_string(), |v| v.to_string())
                ),
            )
            .with_hint("use the login-release version that wrote it (or a newer one)")
            .into());
        }
        let record: Record = serde_json::from_value(probe)?;
        let order: Vec<Step> = record.steps.iter().map(|s| s.step).collect();
        if order != Step::ALL {
            anyhow::bail!("the release record's steps are not the ten steps in order: {order:?}");
        }
        Ok(record)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a record always serializes") + "\n"
    }

    pub fn steps(&self) -> &[StepRecord] {
        &self.steps
    }

    pub fn step(&self, step: Step) -> &StepRecord {
        &self.steps[step.index()]
    }

    pub fn is_active(&self) -> bool {
        matches!(self.lifecycle, Lifecycle::Active { .. })
    }

    /// The lock holder and since when, while the release is active.
    pub fn holder(&self) -> Option<(&Actor, Timestamp)> {
        match &self.lifecycle {
            Lifecycle::Active { holder, since } => Some((holder, *since)),
            _ => None,
        }
    }

    /// The first step not done: where `resume` goes on. `None` when all are done.
    pub fn current_step(&self) -> Option<Step> {
        self.steps
            .iter()
            .find(|s| !matches!(s.state, StepState::Done { .. }))
            .map(|s| s.step)
    }

    fn lifecycle_name(&self) -> &'static str {
        match self.lifecycle {
            Lifecycle::Active { .. } => "active",
            Lifecycle::Finished { .. } => "finished",
            Lifecycle::Aborted { .. } => "aborted",
        }
    }

    /// The holder, or an error when the release is over or `actor` is not the holder.
    fn check_holder(&self, actor: &Actor) -> Transition {
        match &self.lifecycle {
            Lifecycle::Active { holder, .. } if holder == actor => Ok(()),
            Lifecycle::Active { holder, .. } => Err(TransitionError::NotHolder {
                holder: holder.clone(),
                actor: actor.clone(),
            }),
            _ => Err(TransitionError::NotActive {
                state: self.lifecycle_name(),
            }),
        }
    }

    /// Starts (or restarts, after a failure or a crash mid-step) `step`; every earlier step must
    /// be done. Restarting is how `resume` works: steps are idempotent against the world.
    pub fn start_step(
        &mut self,
        step: Step,
        actor: &Actor,
        now: Timestamp,
        planned: Option<Value>,
    ) -> Transition {
        self.check_holder(actor)?;
        if let Some(waiting_for) = self.steps[..step.index()]
            .iter()
            .find(|s| !matches!(s.state, StepState::Done { .. }))
            .map(|s| s.step)
        {
            return Err(TransitionError::OutOfOrder { step, waiting_for });
        }
        let rec = &mut self.steps[step.index()];
        if let StepState::Done { .. } = rec.state {
            return Err(TransitionError::NotRunning {
                step,
                state: "already done",
            });
        }
        rec.state = StepState::Running {
            started: now,
            by: actor.clone(),
        };
        rec.planned = planned;
        rec.verified = None;
        Ok(())
    }

    /// Ends a running step as done, with what was verified.
    pub fn finish_step(
        &mut self,
        step: Step,
        actor: &Actor,
        now: Timestamp,
        verified: Option<Value>,
    ) -> Transition {
        self.check_holder(actor)?;
        let rec = &mut self.steps[step.index()];
        let (started, by) = running(step, &rec.state)?;
        rec.state = StepState::Done {
            started,
            ended: now,
            by,
        };
        rec.verified = verified;
        Ok(())
    }

    /// Ends a running step as failed; the release stays active (resume or roll back).
    pub fn fail_step(
        &mut self,
        step: Step,
        actor: &Actor,
        now: Timestamp,
        error: &str,
    ) -> Transition {
        self.check_holder(actor)?;
        let rec = &mut self.steps[step.index()];
        let (started, by) = running(step, &rec.state)?;
        rec.state = StepState::Failed {
            started,
            ended: now,
            by,
            error: error.to_string(),
        };
        Ok(())
    }

    /// Records an answer given at a prompt during `step`.
    pub fn decide(
        &mut self,
        step: Step,
        question: &str,
        answer: &str,
        actor: &Actor,
        now: Timestamp,
    ) -> Transition {
        self.check_holder(actor)?;
        self.decisions.push(Decision {
            step,
            question: question.to_string(),
            answer: answer.to_string(),
            by: actor.clone(),
            at: now,
        });
        Ok(())
    }

    /// Records a manual check confirmed by a person; only while the soak step runs.
    pub fn attest(&mut self, check: &str, actor: &Actor, now: Timestamp) -> Transition {
        self.check_holder(actor)?;
        let soak = self.step(Step::Soak);
        if !matches!(soak.state, StepState::Running { .. }) {
            return Err(TransitionError::NotRunning {
                step: Step::Soak,
                state: soak.state.name(),
            });
        }
        self.attestations.push(Attestation {
            check: check.to_string(),
            by: actor.clone(),
            at: now,
        });
        Ok(())
    }

    /// Takes the lock over from its holder, recording who, when and why.
    pub fn steal(&mut self, actor: &Actor, reason: &str, now: Timestamp) -> Transition {
        let reason = reason_text(reason)?;
        let Lifecycle::Active { holder, .. } = &self.lifecycle else {
            return Err(TransitionError::NotActive {
                state: self.lifecycle_name(),
            });
        };
        if holder == actor {
            return Err(TransitionError::AlreadyHolder);
        }
        self.steals.push(Steal {
            from: holder.clone(),
            to: actor.clone(),
            at: now,
            reason,
        });
        self.lifecycle = Lifecycle::Active {
            holder: actor.clone(),
            since: now,
        };
        Ok(())
    }

    /// Ends the release without touching production, freeing the lock. Only the holder aborts
    /// (anyone else steals first, which is recorded).
    pub fn abort(&mut self, actor: &Actor, reason: &str, now: Timestamp) -> Transition {
        let reason = reason_text(reason)?;
        self.check_holder(actor)?;
        self.lifecycle = Lifecycle::Aborted {
            at: now,
            by: actor.clone(),
            reason,
        };
        Ok(())
    }

    /// Ends a release whose ten steps are done, freeing the lock.
    pub fn finish(&mut self, actor: &Actor, now: Timestamp) -> Transition {
        self.check_holder(actor)?;
        if let Some(first) = self.current_step() {
            return Err(TransitionError::Unfinished { first });
        }
        self.lifecycle = Lifecycle::Finished { at: now };
        Ok(())
    }

    /// `held by X since T, at step S`: for refusals and conflicts.
    pub fn describe_holder(&self) -> String {
        match &self.lifecycle {
            Lifecycle::Active { holder, since } => format!(
                "held by {holder} since {}, at step `{}`",
                since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                self.current_step().map_or("none (all done)", Step::title)
            ),
            _ => format!("{} (no lock held)", self.lifecycle_name()),
        }
    }
}

/// When and by whom a running step started; any other state cannot end.
fn running(step: Step, state: &StepState) -> Result<(Timestamp, Actor), TransitionError> {
    match state {
        StepState::Running { started, by } => Ok((*started, by.clone())),
        other => Err(TransitionError::NotRunning {
            step,
            state: other.name(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn actor(n: &str) -> Actor {
        Actor {
            git: format!("{n} <{n}@example.gov>"),
            aws: format!("arn:aws:sts::123456789012:assumed-role/release/{n}"),
        }
    }

    fn t(min: i64) -> Timestamp {
        Timestamp::from_second(1_796_000_000 + min * 60).unwrap()
    }

    fn started() -> Record {
        Record::begin(Start {
            env: "prod".into(),
            app: "idp".into(),
            kind: DeployKind::Full,
            off_cycle_reason: None,
            options: json!({"rc": 112}),
            actor: actor("ann"),
            now: t(0),
        })
        .unwrap()
    }

    #[test]
    fn a_new_record_has_ten_pending_steps_and_a_holder() {
        let r = started();
        assert_eq!(r.steps().len(), 10);
        assert!(r.steps().iter().all(|s| s.state == StepState::Pending));
        assert_eq!(r.current_step(), Some(Step::Preflight));
        assert_eq!(r.holder(), Some((&actor("ann"), t(0))));
        assert!(r.describe_holder().contains("ann <ann@example.gov>"));
        assert!(r.describe_holder().contains("at step `preflight`"));
    }

    #[test]
    fn steps_run_in_order() {
        let mut r = started();
        let a = actor("ann");
        assert_eq!(
            r.start_step(Step::Cut, &a, t(1), None),
            Err(TransitionError::OutOfOrder {
                step: Step::Cut,
                waiting_for: Step::Preflight
            })
        );
        assert!(matches!(
            r.finish_step(Step::Preflight, &a, t(1), None),
            Err(TransitionError::NotRunning {
                state: "pending",
                ..
            })
        ));
        r.start_step(Step::Preflight, &a, t(1), Some(json!({"checks": 6})))
            .unwrap();
        r.finish_step(Step::Preflight, &a, t(2), Some(json!({"ok": true})))
            .unwrap();
        let p = r.step(Step::Preflight);
        assert_eq!(
            p.state,
            StepState::Done {
                started: t(1),
                ended: t(2),
                by: a.clone()
            }
        );
        assert_eq!(p.verified, Some(json!({"ok": true})));
        assert!(
            r.start_step(Step::Preflight, &a, t(3), None).is_err(),
            "done stays done"
        );
        assert_eq!(r.current_step(), Some(Step::Cut));
    }

    #[test]
    fn failed_and_crashed_steps_restart() {
        let mut r = started();
        let a = actor("ann");
        r.start_step(Step::Preflight, &a, t(1), None).unwrap();
        r.fail_step(Step::Preflight, &a, t(2), "no signing key")
            .unwrap();
        assert!(
            matches!(r.step(Step::Preflight).state, StepState::Failed { ref error, .. } if error == "no signing key")
        );
        assert!(r.is_active());
        r.start_step(Step::Preflight, &a, t(3), None).unwrap();
        // A crash leaves it running; resume starts it again.
        r.start_step(Step::Preflight, &a, t(4), None).unwrap();
        assert!(
            matches!(r.step(Step::Preflight).state, StepState::Running { started, .. } if started == t(4))
        );
    }

    #[test]
    fn only_the_holder_acts_and_a_steal_is_recorded() {
        let mut r = started();
        let (ann, bob) = (actor("ann"), actor("bob"));
        assert!(matches!(
            r.start_step(Step::Preflight, &bob, t(1), None),
            Err(TransitionError::NotHolder { .. })
        ));
        assert_eq!(r.steal(&bob, "  ", t(1)), Err(TransitionError::EmptyReason));
        assert_eq!(
            r.steal(&ann, "mine", t(1)),
            Err(TransitionError::AlreadyHolder)
        );
        r.steal(&bob, "ann's laptop died", t(5)).unwrap();
        assert_eq!(r.holder(), Some((&bob, t(5))));
        assert_eq!(r.steals.len(), 1);
        assert_eq!(r.steals[0].from, ann);
        assert_eq!(r.steals[0].reason, "ann's laptop died");
        assert!(r.start_step(Step::Preflight, &ann, t(6), None).is_err());
        r.start_step(Step::Preflight, &bob, t(6), None).unwrap();
    }

    #[test]
    fn abort_and_finish_end_the_release() {
        let mut r = started();
        let a = actor("ann");
        assert_eq!(
            r.finish(&a, t(1)),
            Err(TransitionError::Unfinished {
                first: Step::Preflight
            })
        );
        assert_eq!(r.abort(&a, "", t(1)), Err(TransitionError::EmptyReason));
        r.abort(&a, "RC pulled", t(2)).unwrap();
        assert!(!r.is_active() && r.holder().is_none());
        assert!(matches!(
            r.start_step(Step::Preflight, &a, t(3), None),
            Err(TransitionError::NotActive { state: "aborted" })
        ));
        assert!(r.steal(&actor("bob"), "x", t(3)).is_err());

        let mut r = started();
        for (i, s) in Step::ALL.iter().enumerate() {
            let i = i as i64;
            r.start_step(*s, &a, t(2 * i), None).unwrap();
            if *s == Step::Soak {
                r.attest("sign in", &a, t(2 * i)).unwrap();
            }
            r.finish_step(*s, &a, t(2 * i + 1), None).unwrap();
        }
        assert!(r.attest("late", &a, t(40)).is_err(), "only during the soak");
        r.finish(&a, t(40)).unwrap();
        assert_eq!(r.lifecycle, Lifecycle::Finished { at: t(40) });
        assert_eq!(r.attestations.len(), 1);
    }

    #[test]
    fn decisions_and_off_cycle() {
        let mut r = started();
        let a = actor("ann");
        r.decide(Step::Monitor, "inconclusive: go on?", "yes", &a, t(1))
            .unwrap();
        assert_eq!(r.decisions[0].answer, "yes");
        let base = || Start {
            env: "prod".into(),
            app: "pki".into(),
            kind: DeployKind::Patch,
            off_cycle_reason: Some("sev1".into()),
            options: json!({}),
            actor: actor("ann"),
            now: t(0),
        };
        let patch = Record::begin(base()).unwrap();
        assert_eq!(patch.off_cycle_reason.as_deref(), Some("sev1"));
        let full = Start {
            kind: DeployKind::Full,
            off_cycle_reason: Some(" ".into()),
            ..base()
        };
        assert_eq!(Record::begin(full), Err(TransitionError::EmptyReason));
    }

    #[test]
    fn json_round_trip_and_schema_checks() {
        let mut r = started();
        let a = actor("ann");
        r.start_step(Step::Preflight, &a, t(1), Some(json!({"x": 1})))
            .unwrap();
        let text = r.to_json();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["lifecycle"]["state"], "active");
        assert_eq!(v["steps"][0]["step"], "preflight");
        assert_eq!(v["steps"][0]["status"], "running");
        assert_eq!(v["steps"][9]["step"], "tag");
        assert_eq!(Record::from_json(&text).unwrap(), r);

        let newer = text.replace("\"schema_version\": 1", "\"schema_version\": 2");
        let e = Record::from_json(&newer).unwrap_err();
        assert!(crate::error::report(&e)
            .message
            .contains("schema_version 2"));
        let mut v2 = v.clone();
        v2["steps"].as_array_mut().unwrap().swap(0, 1);
        assert!(Record::from_json(&v2.to_string()).is_err());
    }
}
