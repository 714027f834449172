//! Staging's `deploy.json`: which commit staging runs.
//!
//! The file is static, written by chef: `env`, `branch` (may be null), `user`, `git_sha` (40 hex,
//! the one to use), `git_date`, `chef_run_timestamp`, `instance_id`, and the deprecated aliases
//! `sha`/`timestamp`. Container builds write only `branch` and `git_sha`. We take `git_sha`, and
//! fall back to `sha` only when `git_sha` is absent (an invalid `git_sha` is an error, not a
//! reason to trust the alias).

use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::error::{failed, preflight};
use crate::types::GitSha;

/// What staging says it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployInfo {
    pub sha: GitSha,
    /// `git_sha`, or `sha` when only the deprecated alias was there.
    pub key: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_date: Option<String>,
}

/// Why a body is not a usable deploy.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    NotJson(String),
    NotAnObject,
    NoSha,
    BadSha { key: &'static str, value: String },
}

impl ParseError {
    pub fn describe(&self) -> String {
        match self {
            ParseError::NotJson(start) => format!("is not JSON (it starts with `{start}`)"),
            ParseError::NotAnObject => "is JSON but not an object".into(),
            ParseError::NoSha => "has no `git_sha` (nor the older `sha`)".into(),
            ParseError::BadSha { key, value } => {
                format!("has `{key}` = `{value}`, which is not a full git sha (40 hex characters)")
            }
        }
    }
}

/// Reads a deploy.json body (pure).
pub fn parse(body: &str) -> Result<DeployInfo, ParseError> {
    let value: serde_json::Value = serde_json::from_str(body).map_err(|_| {
        let start: String = body.trim_start().chars().take(20).collect();
        ParseError::NotJson(start.replace(['\n', '\r'], " "))
    })?;
    let obj = value.as_object().ok_or(ParseError::NotAnObject)?;
    let text = |k: &str| obj.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let present = |k: &str| obj.get(k).is_some_and(|v| !v.is_null());
    let key = if present("git_sha") {
        "git_sha"
    } else if present("sha") {
        "sha"
    } else {
        return Err(ParseError::NoSha);
    };
    let raw = match obj.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => unreachable!("checked present"),
    };
    let sha: GitSha = raw.parse().map_err(|_| ParseError::BadSha {
        key,
        value: raw.clone(),
    })?;
    Ok(DeployInfo {
        sha,
        key,
        env: text("env"),
        branch: text("branch"),
        git_date: text("git_date"),
    })
}

/// https, or plain http to a loopback address (tests and the sandbox).
pub fn check_url(url: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&parsed) => Ok(parsed),
        "http" => Err(format!(
            "refusing plain http for {url}: staging's deploy.json is read over https"
        )),
        other => Err(format!("`{url}` is not an https URL (scheme `{other}`)")),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Fetches and reads staging's deploy.json. Network failures exit 1; a body we cannot use is a
/// preflight failure (exit 3). Both hint at `--source`.
pub async fn fetch(url: &str, app: &str) -> Result<DeployInfo> {
    let parsed = check_url(url).map_err(|why| {
        preflight(
            why,
            format!("use an https URL (--staging-url, or the setting staging.{app})"),
        )
    })?;
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("login-release/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= 5 {
                attempt.error("too many redirects")
            } else if check_url(attempt.url().as_str()).is_err() {
                attempt.error("redirected away from https")
            } else {
                attempt.follow()
            }
        }))
        .build()
        .map_err(|e| failed(format!("building the HTTP client: {e}"), "this is a bug"))?;
    let unreachable_hint =
        "check the URL and your network (VPN?), or pass --source SHA to cut from a known commit"
            .to_string();
    let resp = client.get(parsed).send().await.map_err(|e| {
        failed(
            format!(
                "staging's deploy.json at {url} is unreachable: {}",
                cause(&e)
            ),
            unreachable_hint.clone(),
        )
    })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(failed(
            format!("staging's deploy.json at {url} answered HTTP {status}"),
            unreachable_hint,
        ));
    }
    let body = read_bounded(resp, url, app, &unreachable_hint).await?;
    parse(&body).map_err(|e| {
        preflight(
            format!("staging's deploy.json at {url} {}", e.describe()),
            format!(
                "check the URL (--staging-url, or the setting staging.{app}) or pass --source SHA"
            ),
        )
    })
}

/// The most of a deploy.json body we read: real ones are a few hundred bytes, and a server that
/// streams without end (or a wrong URL serving a large page) must not fill memory.
pub const MAX_BODY: usize = 64 * 1024;

/// The body, read chunk by chunk and refused (exit 3) past [`MAX_BODY`], before it is all in
/// memory (a Content-Length can lie or be absent).
async fn read_bounded(
    mut resp: reqwest::Response,
    url: &str,
    app: &str,
    unreachable_hint: &str,
) -> Result<String> {
    let mut body: Vec<u8> = Vec::new();
    loop {
        let chunk = resp.chunk().await.map_err(|e| {
            failed(
                format!("reading staging's deploy.json at {url}: {}", cause(&e)),
                unreachable_hint.to_string(),
            )
        })?;
        let Some(chunk) = chunk else { break };
        if body.len() + chunk.len() > MAX_BODY {
            return Err(preflight(
                format!(
                    "staging's deploy.json at {url} is larger than {} KiB; it is not a deploy.json",
                    MAX_BODY / 1024
                ),
                format!(
                    "check the URL (--staging-url, or the setting staging.{app}) or pass --source SHA"
                ),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The innermost cause of a reqwest error, which is the part people can act on.
fn cause(e: &reqwest::Error) -> String {
    let mut last = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        last = s.to_string();
        src = s.source();
    }
    if e.is_timeout() {
        format!("timed out ({last})")
    } else {
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn reads_git_sha_first() {
        let body = format!(
            r#"{{"env":"staging","branch":"main","user":"chef","git_sha":"{SHA}","git_date":"2026-11-19T17:02:11Z","chef_run_timestamp":"20261119170533","instance_id":"i-0abc","sha":"{}","timestamp":"20261119170533"}}"#,
            "f".repeat(40)
        );
        let info = parse(&body).unwrap();
        assert_eq!(info.sha.as_str(), SHA);
        assert_eq!(info.key, "git_sha");
        assert_eq!(info.env.as_deref(), Some("staging"));
        assert_eq!(info.branch.as_deref(), Some("main"));
    }

    #[test]
    fn falls_back_to_sha_only_when_git_sha_is_absent() {
        let info = parse(&format!(r#"{{"branch":null,"sha":"{SHA}"}}"#)).unwrap();
        assert_eq!(info.key, "sha");
        assert_eq!(info.branch, None);
        let info = parse(&format!(r#"{{"git_sha":null,"sha":"{SHA}"}}"#)).unwrap();
        assert_eq!(info.key, "sha");
        // An invalid git_sha is not papered over by the alias.
        assert_eq!(
            parse(&format!(r#"{{"git_sha":"abc1234","sha":"{SHA}"}}"#)),
            Err(ParseError::BadSha {
                key: "git_sha",
                value: "abc1234".into()
            })
        );
    }

    #[test]
    fn bad_bodies() {
        assert!(matches!(
            parse("<html>Bad gateway</html>"),
            Err(ParseError::NotJson(s)) if s.starts_with("<html>")
        ));
        assert_eq!(parse("[1]"), Err(ParseError::NotAnObject));
        assert_eq!(parse(r#"{"env":"staging"}"#), Err(ParseError::NoSha));
        assert!(matches!(
            parse(r#"{"git_sha":12}"#),
            Err(ParseError::BadSha { .. })
        ));
    }

    #[test]
    fn urls_must_be_https_except_loopback() {
        assert!(check_url("https://idp.staging.login.gov/api/deploy.json").is_ok());
        assert!(check_url("http://127.0.0.1:8080/api/deploy.json").is_ok());
        assert!(check_url("http://localhost/api/deploy.json").is_ok());
        assert!(check_url("http://[::1]:9/x").is_ok());
        assert!(check_url("http://idp.staging.login.gov/api/deploy.json").is_err());
        assert!(check_url("ftp://x/y").is_err());
        assert!(check_url("not a url").is_err());
    }
}
