//! Error kinds and the exit codes they map to (DESIGN section 4).
//!
//! Commands return `anyhow::Result`. Anything that is not an [`AppError`] is an operation failure
//! (exit 1). An `AppError` anywhere in the chain decides the exit code and carries the hint.

use std::fmt;

/// What went wrong, in the terms the exit code documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The operation failed (AWS, git, network); nothing was changed or the message says what was.
    Failed,
    /// Usage error beyond what clap catches (bad value combinations).
    Usage,
    /// A preflight check failed, or confirmation was needed and not possible; nothing changed.
    Preflight,
    /// Partially applied: the message lists what was done and how to resume or undo it.
    Partial,
    /// A watched process failed (migration abandoned, SSM command failed).
    Watched,
    /// A watch ended without a decision: monitor-deploy's INCONCLUSIVE or NO DATA. Not a
    /// failure (nothing was found wrong) and not a success (nothing was shown right): scripts
    /// and the deploy gate must be able to tell it from both.
    Undecided,
    /// Interrupted by the user (Ctrl-C); says where things stand.
    Interrupted,
}

impl Kind {
    /// Every kind, in exit-code order: the exit-status text of `--help`, the man page and the
    /// README table are generated from this one list.
    pub const ALL: [Kind; 7] = [
        Kind::Failed,
        Kind::Usage,
        Kind::Preflight,
        Kind::Partial,
        Kind::Watched,
        Kind::Undecided,
        Kind::Interrupted,
    ];

    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Failed => 1,
            Kind::Usage => 2,
            Kind::Preflight => 3,
            Kind::Partial => 4,
            Kind::Watched => 5,
            Kind::Undecided => 6,
            Kind::Interrupted => 130,
        }
    }

    /// What the exit code means, as a sentence (man page, README).
    pub fn meaning(self) -> &'static str {
        match self {
            Kind::Failed => "The operation failed (AWS, git, network); nothing was changed or the message says what was.",
            Kind::Usage => "Usage error.",
            Kind::Preflight => "A preflight check failed, or confirmation was needed and not possible; nothing was changed.",
            Kind::Partial => "Partially applied: the message lists what was done and the command that resumes or undoes it.",
            Kind::Watched => "A watched process failed (migration abandoned, SSM command failed), or monitor-deploy's verdict is FAIL.",
            Kind::Undecided => "monitor-deploy ended INCONCLUSIVE or NO DATA: neither shown right nor found wrong.",
            Kind::Interrupted => "Interrupted; the message says where things stand.",
        }
    }

    /// The same, in a few words (`--help`).
    pub fn brief(self) -> &'static str {
        match self {
            Kind::Failed => "operation failed",
            Kind::Usage => "usage error",
            Kind::Preflight => {
                "preflight check failed or confirmation impossible (nothing changed)"
            }
            Kind::Partial => "partially applied",
            Kind::Watched => "a watched process failed (or monitor-deploy FAIL)",
            Kind::Undecided => "monitor-deploy INCONCLUSIVE or NO DATA",
            Kind::Interrupted => "interrupted",
        }
    }
}

/// Exit code 0, which no error kind has.
pub const SUCCESS_MEANING: (&str, &str) = (
    "success (or nothing to do, or declined)",
    "Success, or nothing to do, or the user declined.",
);

/// Exit code 141 (128 + SIGPIPE), which no error kind has either: the reader of stdout or stderr
/// went away (`| head`) and the run stopped quietly, as a shell reports it for `cat` or `git`.
pub const PIPE_CLOSED: (u8, &str, &str) = (
    141,
    "output closed",
    "The reader of stdout or stderr went away (| head): the run stopped as Ctrl-C would stop it, quietly.",
);

/// Every exit status with its sentence, 0 first: the man page's EXIT STATUS section.
pub fn exit_statuses() -> Vec<(u8, &'static str)> {
    std::iter::once((0, SUCCESS_MEANING.1))
        .chain(Kind::ALL.iter().map(|k| (k.exit_code(), k.meaning())))
        .chain(std::iter::once((PIPE_CLOSED.0, PIPE_CLOSED.2)))
        .collect()
}

/// The one-paragraph exit-status summary of `login-release --help`.
pub fn exit_status_summary() -> String {
    let parts: Vec<String> = std::iter::once(format!("0 {}", SUCCESS_MEANING.0))
        .chain(
            Kind::ALL
                .iter()
                .map(|k| format!("{} {}", k.exit_code(), k.brief())),
        )
        .chain(std::iter::once(format!(
            "{} {}",
            PIPE_CLOSED.0, PIPE_CLOSED.1
        )))
        .collect();
    format!("Exit status: {}.", parts.join(", "))
}

/// An error with a documented exit code and an optional `help:` line.
#[derive(Debug, Clone)]
pub struct AppError {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
}

impl AppError {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        AppError {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

/// `Err(preflight("tag exists", "pick another"))` reads well at call sites.
pub fn preflight(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    AppError::new(Kind::Preflight, message)
        .with_hint(hint)
        .into()
}

pub fn failed(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    AppError::new(Kind::Failed, message).with_hint(hint).into()
}

pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    AppError::new(Kind::Usage, message).with_hint(hint).into()
}

pub fn partial(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    AppError::new(Kind::Partial, message).with_hint(hint).into()
}

pub fn watched(message: impl Into<String>) -> anyhow::Error {
    AppError::new(Kind::Watched, message).into()
}

/// The candidate closest to what was typed, for a "did you mean" hint: within `max_edits`
/// (Levenshtein) and not the typed text itself. Ties go to the first candidate. For short names
/// (environments, roles, setting keys); long ones (log groups, documents) use `logs::similar`.
pub fn closest<'a, S: AsRef<str> + ?Sized + 'a>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'a S>,
    max_edits: usize,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(AsRef::as_ref)
        .filter(|c| *c != typed)
        .map(|c| (strsim::levenshtein(c, typed), c))
        .filter(|(d, _)| *d <= max_edits)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The exit code, the one-line message and the hint for any error a command returned.
pub struct Report {
    pub code: u8,
    /// The first `AppError`'s kind (`Failed` when there is none).
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
}

/// Turns an error chain into what `main` prints: the outermost message, with the causes joined on
/// one line (never a backtrace: this image sets `RUST_BACKTRACE=1`), and the code and hint of the
/// first `AppError` in the chain.
pub fn report(err: &anyhow::Error) -> Report {
    let app = err.chain().find_map(|e| e.downcast_ref::<AppError>());
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        // Context layers often repeat their source's text; print each piece once.
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    Report {
        code: app.map_or(1, |a| a.kind.exit_code()),
        kind: app.map_or(Kind::Failed, |a| a.kind),
        message: parts.join(": "),
        hint: app.and_then(|a| a.hint.clone()),
    }
}

/// Preflight findings are collected, not returned one by one: the user fixes them all at once.
#[derive(Debug, Default)]
pub struct Findings {
    items: Vec<(String, Option<String>)>,
}

impl Findings {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, problem: impl Into<String>, hint: impl Into<String>) {
        self.items.push((problem.into(), Some(hint.into())));
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// A check that returned a preflight error becomes a finding (its message with the context
    /// around it, and its hint), so the other checks still run; any other error stops the
    /// preflight. `Ok(None)` when the check failed as a finding.
    pub fn check<T>(&mut self, result: anyhow::Result<T>) -> anyhow::Result<Option<T>> {
        match result {
            Ok(v) => Ok(Some(v)),
            Err(e) => match e.chain().find_map(|c| c.downcast_ref::<AppError>()) {
                Some(a) if a.kind == Kind::Preflight => {
                    let r = report(&e);
                    self.items.push((r.message, r.hint));
                    Ok(None)
                }
                _ => Err(e),
            },
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// `Ok(())` when nothing was found; otherwise one preflight error whose message is the first
    /// finding (or a count) and whose hint lists the rest, so the output stays one `error:` line.
    pub fn into_result(self) -> anyhow::Result<()> {
        match self.items.len() {
            0 => Ok(()),
            1 => {
                let (p, h) = self.items.into_iter().next().expect("one item");
                let e = AppError::new(Kind::Preflight, p);
                Err(match h {
                    Some(h) => e.with_hint(h),
                    None => e,
                }
                .into())
            }
            n => {
                let lines: Vec<String> = self
                    .items
                    .iter()
                    .map(|(p, h)| match h {
                        Some(h) => format!("  - {p} ({h})"),
                        None => format!("  - {p}"),
                    })
                    .collect();
                Err(
                    AppError::new(Kind::Preflight, format!("{n} preflight checks failed"))
                        .with_hint(format!(
                            "fix each of these, then run again:\n{}",
                            lines.join("\n")
                        ))
                        .into(),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_match_design() {
        assert_eq!(Kind::Failed.exit_code(), 1);
        assert_eq!(Kind::Usage.exit_code(), 2);
        assert_eq!(Kind::Preflight.exit_code(), 3);
        assert_eq!(Kind::Partial.exit_code(), 4);
        assert_eq!(Kind::Watched.exit_code(), 5);
        assert_eq!(Kind::Undecided.exit_code(), 6);
        assert_eq!(Kind::Interrupted.exit_code(), 130);
    }

    #[test]
    fn report_finds_app_error_under_context() {
        let e = preflight("tag exists", "delete it").context("tag-release");
        let r = report(&e);
        assert_eq!(r.code, 3);
        assert_eq!(r.message, "tag-release: tag exists");
        assert_eq!(r.hint.as_deref(), Some("delete it"));
    }

    #[test]
    fn plain_errors_exit_one() {
        let r = report(&anyhow::anyhow!("boom"));
        assert_eq!(r.code, 1);
        assert!(r.hint.is_none());
    }

    #[test]
    fn closest_names_within_a_few_edits() {
        let roles = ["idp", "worker", "pivcac"];
        assert_eq!(closest("ipd", &roles, 2), Some("idp"));
        assert_eq!(closest("pivcca", &roles, 2), Some("pivcac"));
        assert_eq!(closest("analytics", &roles, 3), None);
        assert_eq!(
            closest("idp", &roles, 3),
            None,
            "the typed name itself is no suggestion"
        );
        let owned = vec!["prod".to_string(), "int".to_string()];
        assert_eq!(closest("prd", &owned, 2), Some("prod"));
    }

    #[test]
    fn findings_collect_everything() {
        let mut f = Findings::new();
        assert!(f.is_empty());
        f.add("a", "fix a");
        f.add("b", "fix b");
        let r = report(&f.into_result().unwrap_err());
        assert_eq!(r.code, 3);
        assert!(r.hint.unwrap().contains("fix b"));
    }
}
