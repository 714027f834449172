//! Slack announcements of the steps that change production, through an incoming webhook.
//!
//! Commands call [`announce`] after a step succeeded. With no webhook configured (setting
//! `slack.webhook`, environment `LOGIN_RELEASE_SLACK_WEBHOOK`), with `--no-notify` or with
//! `--dry-run` it does nothing. A failed post is a warning: it never blocks or undoes a step.
//! The webhook URL is a secret: it is held in a [`SecretString`] and appears in no output, error
//! or log line (reqwest's errors carry the URL, so they are stripped with `without_url`).

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::context::Context;
use crate::types::RcNumber;

/// A step worth announcing. Each names the app (or role), the environment, the RC when known;
/// the operator is added by [`announce`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `cut-rc --open-pr`: the promotion PR is open.
    PrOpened {
        app: String,
        env: String,
        rc: RcNumber,
        url: String,
    },
    /// `asg-recycle`: new instances are coming up.
    RecycleStarted {
        env: String,
        role: String,
        rc: Option<RcNumber>,
    },
    /// `scale-remove-old-instances`: the old instances are unprotected and going away.
    OldInstancesRemoved {
        env: String,
        role: String,
        rc: Option<RcNumber>,
    },
    /// `tag-release`: the signed tag is pushed (and the GitHub release published, when `url`).
    Released {
        app: String,
        env: String,
        rc: Option<RcNumber>,
        tag: String,
        url: Option<String>,
    },
    /// `deploy`: a step of the release that people should know of (its end, an off-cycle
    /// start, a stop).
    DeployNote { env: String, text: String },
    /// `rollback`: a rollback began (revert branch pushed, revert PR opened when `url`).
    RollbackStarted {
        app: String,
        env: String,
        rc: Option<RcNumber>,
        reason: Option<String>,
        url: Option<String>,
    },
}

fn rc_suffix(rc: &Option<RcNumber>) -> String {
    rc.map_or(String::new(), |r| format!(" (RC {r})"))
}

impl Event {
    /// The message, one short line (plus the link), Slack-escaped.
    pub fn text(&self, operator: &str) -> String {
        let raw = match self {
            Event::PrOpened { app, env, rc, url } => {
                format!("{app} RC {rc}: promotion PR to {env} opened by {operator}: {url}")
            }
            Event::RecycleStarted { env, role, rc } => {
                format!(
                    "{env} {role}: recycle started by {operator}{}",
                    rc_suffix(rc)
                )
            }
            Event::OldInstancesRemoved { env, role, rc } => format!(
                "{env} {role}: old instances being removed by {operator}{}",
                rc_suffix(rc)
            ),
            Event::Released {
                app,
                env,
                rc,
                tag,
                url,
            } => {
                let what = rc.map_or(format!("{app} release"), |r| format!("{app} RC {r}"));
                let link = url.as_ref().map_or(String::new(), |u| format!(": {u}"));
                format!("{what} released to {env} by {operator}, tag {tag}{link}")
            }
            Event::DeployNote { env, text } => format!("{env}: {text} ({operator})"),
            Event::RollbackStarted {
                app,
                env,
                rc,
                reason,
                url,
            } => {
                let what = rc.map_or(app.to_string(), |r| format!("{app} RC {r}"));
                let mut s = format!("{env}: rollback of {what} started by {operator}");
                if let Some(r) = reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
                    s.push_str(&format!(". Reason: {r}"));
                }
                if let Some(u) = url {
                    s.push_str(&format!(". Revert PR: {u}"));
                }
                s
            }
        };
        escape(&raw)
    }
}

/// Slack's three control characters in message text.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Who is running the command: git's `user.name`, else `$USER`, else `someone`.
pub fn operator(repo_dir: &std::path::Path) -> String {
    let from_git = git2::Repository::discover(repo_dir)
        .and_then(|r| r.config())
        .or_else(|_| git2::Config::open_default())
        .and_then(|c| c.get_string("user.name"))
        .ok();
    from_git
        .or_else(|| std::env::var("USER").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "someone".to_string())
}

/// Why a post failed, in words that never contain the webhook URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostError(pub String);

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Posts to one incoming webhook.
pub struct Notifier {
    webhook: SecretString,
    http: reqwest::Client,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("webhook", &"<redacted>")
            .finish()
    }
}

impl Notifier {
    /// `None` when no webhook is configured. The URL must be https (plain http only on loopback,
    /// for tests and the sandbox).
    pub fn new(webhook: SecretString) -> Result<Option<Self>, PostError> {
        let url = webhook.expose_secret().trim();
        if url.is_empty() {
            return Ok(None);
        }
        check_webhook_url(url)?;
        let http = reqwest::Client::builder()
            .user_agent("login-release")
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| PostError(format!("building the HTTP client: {}", e.without_url())))?;
        Ok(Some(Notifier { webhook, http }))
    }

    /// Sends `{"text": ...}`. Slack answers 200 `ok`; anything else is an error naming the status
    /// and Slack's short reason (`no_service`, `channel_is_archived`), never the URL.
    pub async fn post(&self, text: &str) -> Result<(), PostError> {
        let resp = self
            .http
            .post(self.webhook.expose_secret().trim())
            .json(&serde_json::json!({ "text": text }))
            .send()
            .await
            .map_err(|e| {
                let e = e.without_url();
                let why = if e.is_timeout() {
                    "timed out".to_string()
                } else {
                    let mut parts = vec![e.to_string()];
                    let mut src = std::error::Error::source(&e);
                    while let Some(s) = src {
                        parts.push(s.to_string());
                        src = s.source();
                    }
                    parts.join(": ")
                };
                PostError(why)
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let body = resp.text().await.unwrap_or_default();
        let reason: String = body
            .trim()
            .chars()
            .take(80)
            .filter(|c| !c.is_control())
            .collect();
        let reason = if reason.is_empty() || reason.contains("://") {
            String::new()
        } else {
            format!(" ({reason})")
        };
        Err(PostError(format!("Slack answered {status}{reason}")))
    }
}

fn check_webhook_url(url: &str) -> Result<(), PostError> {
    let bad = || {
        PostError(
            "the Slack webhook setting (slack.webhook / LOGIN_RELEASE_SLACK_WEBHOOK) is not an \
             https URL"
                .to_string(),
        )
    };
    let u = reqwest::Url::parse(url).map_err(|_| bad())?;
    let loopback = crate::types::is_loopback_host(u.host_str().unwrap_or(""));
    match u.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(bad()),
    }
}

/// Posts the announcement of `event` unless notifications are off, and turns any failure into a
/// warning. Call it after the step it announces has succeeded.
pub async fn announce(ctx: &Context, event: Event) {
    if !ctx.notifies() {
        tracing::debug!("Slack announcement skipped (--no-notify or --dry-run)");
        return;
    }
    let webhook = SecretString::from(ctx.settings().slack.webhook.clone());
    let notifier = match Notifier::new(webhook) {
        Ok(Some(n)) => n,
        Ok(None) => {
            tracing::debug!("no Slack webhook configured; not announcing");
            return;
        }
        Err(e) => {
            ctx.out.warn(format!("not posting to Slack: {e}"));
            return;
        }
    };
    let text = event.text(&operator(ctx.repo_dir()));
    match notifier.post(&text).await {
        Ok(()) => ctx.out.status("announced in Slack"),
        Err(e) => ctx.out.warn(format!(
            "could not post the announcement to Slack: {e} (the step itself is done)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(s: &str) -> RcNumber {
        s.parse().unwrap()
    }

    #[test]
    fn messages_name_app_env_rc_and_operator() {
        assert_eq!(
            Event::PrOpened {
                app: "idp".into(),
                env: "prod".into(),
                rc: rc("113"),
                url: "https://github.com/18F/identity-idp/pull/9500".into()
            }
            .text("Jane Doe"),
            "idp RC 113: promotion PR to prod opened by Jane Doe: \
             https://github.com/18F/identity-idp/pull/9500"
        );
        assert_eq!(
            Event::RecycleStarted {
                env: "prod".into(),
                role: "idp".into(),
                rc: Some(rc("113"))
            }
            .text("Jane"),
            "prod idp: recycle started by Jane (RC 113)"
        );
        assert_eq!(
            Event::OldInstancesRemoved {
                env: "prod".into(),
                role: "ALL".into(),
                rc: None
            }
            .text("Jane"),
            "prod ALL: old instances being removed by Jane"
        );
        assert_eq!(
            Event::Released {
                app: "idp".into(),
                env: "prod".into(),
                rc: Some(rc("113.1")),
                tag: "2026-01-01T120000".into(),
                url: Some("https://github.com/o/r/releases/tag/2026-01-01T120000".into())
            }
            .text("Jane"),
            "idp RC 113.1 released to prod by Jane, tag 2026-01-01T120000: \
             https://github.com/o/r/releases/tag/2026-01-01T120000"
        );
        assert_eq!(
            Event::RollbackStarted {
                app: "idp".into(),
                env: "prod".into(),
                rc: Some(rc("113")),
                reason: Some("errors <500> & timeouts".into()),
                url: None
            }
            .text("Jane"),
            "prod: rollback of idp RC 113 started by Jane. Reason: errors &lt;500&gt; &amp; timeouts"
        );
    }

    #[test]
    fn webhook_urls_are_checked_without_echoing_them() {
        assert!(Notifier::new(SecretString::from("")).unwrap().is_none());
        assert!(
            Notifier::new(SecretString::from("https://hooks.slack.com/services/T/B/X"))
                .unwrap()
                .is_some()
        );
        assert!(Notifier::new(SecretString::from("http://127.0.0.1:9/hook"))
            .unwrap()
            .is_some());
        let e =
            Notifier::new(SecretString::from("http://hooks.example/services/SECRET")).unwrap_err();
        assert!(!e.0.contains("SECRET"), "{e}");
        let e = Notifier::new(SecretString::from("not a url SECRET")).unwrap_err();
        assert!(!e.0.contains("SECRET"), "{e}");
        let n = Notifier::new(SecretString::from(
            "https://hooks.slack.com/services/T/B/SECRET",
        ))
        .unwrap()
        .unwrap();
        assert!(!format!("{n:?}").contains("SECRET"));
    }
}
