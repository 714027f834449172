//! A plan: the ordered list of changes a mutating command will make. One renderer serves
//! `--dry-run`, the confirmation prompt and the real run, so what people approve is what runs.

use jiff::Timestamp;
use serde::Serialize;

use crate::types::format_duration;

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// What the plan does, e.g. `Recycle prod idp`.
    pub title: String,
    /// Where it acts: `account`, `region`, `repository`, `remote`...
    pub target: Vec<(String, String)>,
    pub steps: Vec<Step>,
    /// Warnings and reminders printed under the steps.
    pub notes: Vec<String>,
    /// The environment this plan changes, when it is one (drives the production guard).
    pub env: Option<String>,
    /// The moment the plan was made (`ctx.now()`, which `LOGIN_RELEASE_NOW` pins): relative
    /// times ("in 5m") are counted from it. `None`: the wall clock at rendering.
    #[serde(skip)]
    pub now: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The API call or git operation, e.g. `PutScheduledUpdateGroupAction`, `push`.
    pub action: String,
    /// The thing it acts on: a group name, a ref.
    pub subject: String,
    /// What changes, for people: `desired 12 -> 24`.
    pub detail: String,
    /// When it takes effect, for scheduled changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
    /// The parameters sent, for JSON consumers.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub params: serde_json::Value,
}

impl Step {
    pub fn new(
        action: impl Into<String>,
        subject: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Step {
            action: action.into(),
            subject: subject.into(),
            detail: detail.into(),
            at: None,
            params: serde_json::Value::Null,
        }
    }

    pub fn at(mut self, when: Timestamp) -> Self {
        self.at = Some(when);
        self
    }

    pub fn params(mut self, params: serde_json::Value) -> Self {
        self.params = params;
        self
    }
}

impl Plan {
    pub fn new(title: impl Into<String>) -> Self {
        Plan {
            title: title.into(),
            target: Vec::new(),
            steps: Vec::new(),
            notes: Vec::new(),
            env: None,
            now: None,
        }
    }

    /// Counts relative times from `now` (the command's clock) instead of the wall clock.
    pub fn now(mut self, now: Timestamp) -> Self {
        self.now = Some(now);
        self
    }

    pub fn target(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.target.push((key.into(), value.into()));
        self
    }

    pub fn env(mut self, env: impl Into<String>) -> Self {
        self.env = Some(env.into());
        self
    }

    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The text people read. Times are relative to the moment the plan was made.
    pub fn render(&self, color: bool) -> String {
        self.render_at(self.now.unwrap_or_else(Timestamp::now), color)
    }

    pub fn render_at(&self, now: Timestamp, color: bool) -> String {
        let bold = |s: &str| {
            if color {
                console::style(s).bold().to_string()
            } else {
                s.to_string()
            }
        };
        let mut out = format!("{}\n", bold(&format!("Plan: {}", self.title)));
        if !self.target.is_empty() {
            let t: Vec<String> = self
                .target
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            out.push_str(&format!("  {}\n", t.join(", ")));
        }
        if self.steps.is_empty() {
            out.push_str("  nothing to do\n");
        }
        for (i, step) in self.steps.iter().enumerate() {
            out.push_str(&format!("  {}. {} {}", i + 1, step.action, step.subject));
            if !step.detail.is_empty() {
                out.push_str(&format!(": {}", step.detail));
            }
            if let Some(at) = step.at {
                out.push_str(&format!(" at {}", when(at, now)));
            }
            out.push('\n');
        }
        for note in &self.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        out
    }
}

/// `2026-11-26T12:00:00Z (in 15m)`: RFC 3339 UTC with the relative form beside it.
pub fn when(at: Timestamp, now: Timestamp) -> String {
    format!("{} ({})", rfc3339(at), relative(at, now))
}

/// RFC 3339 in UTC, to the second.
pub fn rfc3339(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `in 15m`, `3m ago`, `now`.
pub fn relative(at: Timestamp, now: Timestamp) -> String {
    let secs = at.as_second() - now.as_second();
    let d = std::time::Duration::from_secs(secs.unsigned_abs());
    match secs {
        0 => "now".to_string(),
        s if s > 0 => format!("in {}", format_duration(d)),
        _ => format!("{} ago", format_duration(d)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_steps_with_times() {
        let now: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
        let mut p = Plan::new("Recycle prod idp")
            .target("account", "123")
            .target("region", "us-west-2");
        p.push(Step::new(
            "UpdateAutoScalingGroup",
            "prod-migration",
            "desired 0 -> 1",
        ));
        p.push(
            Step::new(
                "PutScheduledUpdateGroupAction",
                "prod-idp",
                "RecycleOnce.asg-recycle desired 12",
            )
            .at("2026-11-26T12:15:00Z".parse().unwrap()),
        );
        p.note("watch #login-events");
        let text = p.render_at(now, false);
        assert_eq!(
            text,
            "Plan: Recycle prod idp\n  account 123, region us-west-2\n  \
             1. UpdateAutoScalingGroup prod-migration: desired 0 -> 1\n  \
             2. PutScheduledUpdateGroupAction prod-idp: RecycleOnce.asg-recycle desired 12 at 2026-11-26T12:15:00Z (in 15m)\n  \
             note: watch #login-events\n"
        );
    }

    #[test]
    fn relative_times() {
        let now: Timestamp = "2026-11-26T12:00:00Z".parse().unwrap();
        assert_eq!(relative(now, now), "now");
        assert_eq!(
            relative("2026-11-26T11:57:00Z".parse().unwrap(), now),
            "3m ago"
        );
        assert_eq!(
            relative("2026-11-26T13:30:00Z".parse().unwrap(), now),
            "in 1h30m"
        );
    }
}
