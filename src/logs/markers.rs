//! What a line of provisioning output means: the success marker, a failure marker, a migration
//! step worth highlighting, or plain output. Pure; the watch loop decides what to do about it.
//!
//! provision.sh runs identity-devops-private before identity-devops, so the log holds
//! `All done! provision.sh finished for identity-devops-private` minutes before the real marker:
//! the success marker therefore matches the WHOLE line (trailing whitespace and `\r` ignored),
//! never a prefix or substring. Failure markers are substrings (`ABANDON` appears inside longer
//! lines such as `Instance i-... for ASG prod-migration was ABANDONED.`).

use regex::Regex;

/// How one line is classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// The whole line is the success marker.
    Success,
    /// The line contains this failure marker.
    Failure(String),
    /// A `db:migrate` line: highlighted for people, no decision.
    Migrate,
    Plain,
}

/// The success marker and the failure markers of a provision.
#[derive(Debug, Clone)]
pub struct Markers {
    success: String,
    failures: Vec<String>,
}

impl Markers {
    /// Empty failure markers are dropped (an empty string would match every line).
    pub fn new(success: impl Into<String>, failures: Vec<String>) -> Self {
        Markers {
            success: success.into().trim().to_string(),
            failures: failures.into_iter().filter(|f| !f.is_empty()).collect(),
        }
    }

    pub fn success(&self) -> &str {
        &self.success
    }

    pub fn failures(&self) -> &[String] {
        &self.failures
    }

    /// A failure marker wins over the success marker on the same line (it cannot really happen,
    /// but a line that says both must not end the watch as a success).
    pub fn classify(&self, line: &str) -> LineKind {
        if let Some(f) = self.failures.iter().find(|f| line.contains(f.as_str())) {
            return LineKind::Failure(f.clone());
        }
        if !self.success.is_empty() && line.trim() == self.success {
            return LineKind::Success;
        }
        if line.contains("db:migrate") {
            return LineKind::Migrate;
        }
        LineKind::Plain
    }
}

/// What `tail-logs --until` / `--fail-on` found on a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    Until,
    FailOn,
}

/// The two optional patterns of `tail-logs`. `--fail-on` is checked first, so a line matching
/// both ends the run as a failure.
#[derive(Debug, Clone, Default)]
pub struct Patterns {
    pub until: Option<Regex>,
    pub fail_on: Option<Regex>,
}

impl Patterns {
    pub fn check(&self, line: &str) -> Option<Matched> {
        if self.fail_on.as_ref().is_some_and(|r| r.is_match(line)) {
            return Some(Matched::FailOn);
        }
        if self.until.as_ref().is_some_and(|r| r.is_match(line)) {
            return Some(Matched::Until);
        }
        None
    }

    pub fn is_empty(&self) -> bool {
        self.until.is_none() && self.fail_on.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Markers {
        let s = crate::config::Config::defaults().settings;
        Markers::new(s.migration.success_marker, s.migration.failure_markers)
    }

    #[test]
    fn success_marker_matches_the_whole_line_only() {
        let m = defaults();
        assert_eq!(
            m.classify("All done! provision.sh finished for identity-devops"),
            LineKind::Success
        );
        assert_eq!(
            m.classify("All done! provision.sh finished for identity-devops  \r"),
            LineKind::Success
        );
        // The private repository finishes first: not the end of the provision.
        assert_eq!(
            m.classify("All done! provision.sh finished for identity-devops-private"),
            LineKind::Plain
        );
        assert_eq!(
            m.classify("echo All done! provision.sh finished for identity-devops"),
            LineKind::Plain
        );
    }

    #[test]
    fn failure_markers_are_substrings() {
        let m = defaults();
        assert_eq!(
            m.classify("Instance i-0abc for ASG prod-migration was ABANDONED.  Fatal error in provisioning."),
            LineKind::Failure("ABANDON".into())
        );
        assert_eq!(
            m.classify(
                "+ aws autoscaling complete-lifecycle-action --lifecycle-action-result ABANDON"
            ),
            LineKind::Failure("ABANDON".into())
        );
        assert_eq!(
            m.classify("Fatal error in provisioning"),
            LineKind::Failure("Fatal error in provisioning".into())
        );
    }

    #[test]
    fn migrate_lines_are_flagged_and_empty_markers_ignored() {
        let m = Markers::new("done", vec![String::new()]);
        assert!(m.failures().is_empty());
        assert_eq!(
            m.classify("== 20261126 AddIndex: migrating (rake db:migrate)"),
            LineKind::Migrate
        );
        assert_eq!(m.classify("anything"), LineKind::Plain);
    }

    #[test]
    fn fail_on_wins_over_until() {
        let p = Patterns {
            until: Some(Regex::new("done").unwrap()),
            fail_on: Some(Regex::new("error").unwrap()),
        };
        assert_eq!(p.check("done with error"), Some(Matched::FailOn));
        assert_eq!(p.check("done"), Some(Matched::Until));
        assert_eq!(p.check("working"), None);
        assert!(Patterns::default().is_empty());
    }
}
