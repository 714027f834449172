//! The REST transport: authentication, error mapping, rate limits and pagination.
//!
//! The token lives in a [`SecretString`]; it is exposed only to build the `Authorization` header,
//! which is marked sensitive so reqwest never prints it. No URL we log or print carries a secret
//! (GitHub API URLs hold none; the token travels in the header only).

use std::fmt;
use std::ops::ControlFlow;
use std::time::Duration;

use anyhow::Result;
use jiff::Timestamp;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use crate::error::{AppError, Kind};
use crate::github::repo::RepoSlug;
use crate::plan::rfc3339;
use crate::types::format_duration;

/// Items per page: GitHub's maximum, so a listing is never cut at the default 30.
pub const PER_PAGE: u32 = 100;
/// A listing longer than this many pages is refused rather than silently cut.
pub const MAX_PAGES: usize = 200;
/// How long we are willing to wait for rate limits over one command, in total.
pub const RATE_LIMIT_BUDGET: Duration = Duration::from_secs(60);

/// What the token needs, for hints.
pub const TOKEN_NEEDS: &str =
    "a classic token with the `repo` scope, or a fine-grained token with \
     `contents: write` and `pull_requests: write` on the repository";

/// The hint for a missing or rejected token.
pub fn token_hint() -> String {
    format!(
        "export GITHUB_TOKEN (or GH_TOKEN) with {TOKEN_NEEDS}; with the gh CLI: \
         export GITHUB_TOKEN=\"$(gh auth token)\""
    )
}

/// A GitHub REST client bound to one repository.
pub struct Client {
    http: reqwest::Client,
    api: Url,
    token: SecretString,
    pub repo: RepoSlug,
    rate_limit_budget: Duration,
    waited: std::sync::Mutex<Duration>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api", &self.api.as_str())
            .field("repo", &self.repo.to_string())
            .field("token", &"<redacted>")
            .finish()
    }
}

/// A response whose status the caller decides about (401, 403 and 429 never get here).
#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    /// `GET /repos/o/r/pulls`, for messages.
    pub what: String,
}

impl ApiResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as `T` when the status is 2xx; otherwise the mapped error.
    pub fn json<T: DeserializeOwned>(self) -> Result<T> {
        if !self.is_success() {
            return Err(self.into_error());
        }
        serde_json::from_str(&self.body).map_err(|e| {
            AppError::new(
                Kind::Failed,
                format!(
                    "GitHub's answer to {} was not what we expect: {e}",
                    self.what
                ),
            )
            .with_hint("check GITHUB_API_URL / github.api_url points at a GitHub REST API")
            .into()
        })
    }

    /// The error for an unexpected status, with GitHub's own message.
    pub fn into_error(self) -> anyhow::Error {
        let message = github_message(&self.body);
        let detail = if message.is_empty() {
            String::new()
        } else {
            format!(": {message}")
        };
        let (kind, hint) = match self.status {
            404 => (
                Kind::Failed,
                "check the repository name and that the token can see it".to_string(),
            ),
            422 => (
                Kind::Failed,
                "GitHub refused the request as invalid; the message says why".to_string(),
            ),
            s if s >= 500 => (
                Kind::Failed,
                "GitHub had an error; try again in a minute (https://www.githubstatus.com)"
                    .to_string(),
            ),
            _ => (Kind::Failed, "see GitHub's message above".to_string()),
        };
        AppError::new(
            kind,
            format!(
                "GitHub answered {} to {}{detail}",
                status_text(self.status),
                self.what
            ),
        )
        .with_hint(hint)
        .into()
    }
}

/// `404 Not Found`.
fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(r) => format!("{status} {r}"),
        None => status.to_string(),
    }
}

/// GitHub's error text: `message` plus the `errors[].message` (or code/field) details.
pub fn github_message(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return body.trim().chars().take(200).collect();
    };
    let mut parts = Vec::new();
    if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
        parts.push(m.to_string());
    }
    if let Some(errors) = v.get("errors").and_then(|e| e.as_array()) {
        for e in errors {
            let text = e
                .get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
                .or_else(|| {
                    let code = e.get("code").and_then(|c| c.as_str())?;
                    let field = e.get("field").and_then(|c| c.as_str()).unwrap_or("");
                    Some(format!("{field} {code}").trim().to_string())
                });
            if let Some(t) = text {
                parts.push(t);
            }
        }
    }
    parts.join("; ")
}

/// What to do with a response, decided from its status and headers alone (pure, unit-tested).
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Give the response to the caller.
    Pass,
    /// Rate limited: wait this long (when known) and retry; `reset` is when the limit resets.
    RateLimited {
        wait: Option<Duration>,
        reset: Option<Timestamp>,
    },
    /// The token was rejected.
    Unauthorized,
    /// The token lacks a permission.
    Forbidden { hint: String },
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Classifies a response (GitHub's documented rules for primary and secondary rate limits).
pub fn verdict(status: u16, headers: &HeaderMap, body: &str, now: Timestamp) -> Verdict {
    let remaining_zero = header(headers, "x-ratelimit-remaining") == Some("0");
    let retry_after = header(headers, "retry-after").and_then(|v| v.parse::<u64>().ok());
    let reset = header(headers, "x-ratelimit-reset")
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|s| Timestamp::from_second(s).ok());
    let says_rate_limit = body.to_ascii_lowercase().contains("rate limit");
    let limited = status == 429
        || (status == 403 && (remaining_zero || retry_after.is_some() || says_rate_limit));
    if limited {
        let wait = match (retry_after, reset) {
            (Some(s), _) => Some(Duration::from_secs(s)),
            (None, Some(r)) if remaining_zero || status == 429 => {
                let secs = (r.as_second() - now.as_second()).max(0) as u64;
                // One second of slack: the reset time is rounded down to the second.
                Some(Duration::from_secs(secs + 1))
            }
            // A secondary limit without headers: GitHub asks for at least a minute.
            _ => Some(Duration::from_secs(60)),
        };
        return Verdict::RateLimited { wait, reset };
    }
    match status {
        401 => Verdict::Unauthorized,
        403 => Verdict::Forbidden {
            hint: scope_hint(headers),
        },
        _ => Verdict::Pass,
    }
}

/// Which scope or permission a 403 is about, from GitHub's headers when it sends them.
pub fn scope_hint(headers: &HeaderMap) -> String {
    if let Some(perms) = header(headers, "x-accepted-github-permissions") {
        return format!(
            "the token needs these permissions on the repository: {} (fine-grained token \
             settings, or use {TOKEN_NEEDS})",
            perms.replace(';', ",")
        );
    }
    if let Some(needed) = header(headers, "x-accepted-oauth-scopes") {
        let has = header(headers, "x-oauth-scopes").unwrap_or("none");
        return format!(
            "the token has the scopes `{has}`; this call needs `{needed}`: regenerate it with \
             the `repo` scope"
        );
    }
    format!("the token needs {TOKEN_NEEDS}")
}

/// The `rel="next"` URL of a `Link` header, if any.
pub fn link_next(link: &str) -> Option<String> {
    let mut rest = link;
    loop {
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let url = &rest[start + 1..end];
        let after = &rest[end + 1..];
        // Parameters run to the next `<` (URLs never hold one unescaped).
        let params_end = after.find('<').unwrap_or(after.len());
        let params = &after[..params_end];
        let is_next = params.split(';').any(|p| {
            let p = p.trim().trim_end_matches(',').trim();
            match p.split_once('=') {
                Some((k, v)) if k.trim().eq_ignore_ascii_case("rel") => v
                    .trim()
                    .trim_matches('"')
                    .split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next")),
                _ => false,
            }
        });
        if is_next {
            return Some(url.to_string());
        }
        rest = &after[params_end..];
    }
}

impl Client {
    /// A client for `repo` at the API base `api` (e.g. `https://api.github.com`, or GitHub
    /// Enterprise's `https://ghe.example.gov/api/v3`). Plain http is accepted only for loopback.
    pub fn new(api: &str, repo: RepoSlug, token: SecretString) -> Result<Self> {
        let api_url = parse_api_url(api)?;
        let http = reqwest::Client::builder()
            .user_agent("login-release")
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("building the HTTP client: {}", e.without_url()))?;
        Ok(Client {
            http,
            api: api_url,
            token,
            repo,
            rate_limit_budget: RATE_LIMIT_BUDGET,
            waited: std::sync::Mutex::new(Duration::ZERO),
        })
    }

    /// Changes how long rate limits may be waited for in total (tests use a short budget).
    pub fn with_rate_limit_budget(mut self, budget: Duration) -> Self {
        self.rate_limit_budget = budget;
        self
    }

    pub fn api_url(&self) -> &str {
        self.api.as_str()
    }

    /// The API URL of `segments` below the base, each segment percent-encoded.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut u = self.api.clone();
        u.path_segments_mut()
            .expect("http(s) URLs have paths")
            .pop_if_empty()
            .extend(segments);
        u
    }

    /// The API URL of `segments` below `/repos/{owner}/{name}`.
    pub fn repo_url(&self, segments: &[&str]) -> Url {
        let mut all = vec!["repos", self.repo.owner.as_str(), self.repo.name.as_str()];
        all.extend_from_slice(segments);
        self.url(&all)
    }

    fn what(method: &Method, url: &Url) -> String {
        match url.query() {
            Some(q) => format!("{method} {}?{q}", url.path()),
            None => format!("{method} {}", url.path()),
        }
    }

    fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        h.insert(
            "x-github-api-version",
            HeaderValue::from_static("2022-11-28"),
        );
        // A token with characters a header cannot carry is sent as nothing, and GitHub's 401
        // says it is invalid; its value is never put in a message.
        if let Ok(mut v) =
            HeaderValue::from_str(&format!("Bearer {}", self.token.expose_secret().trim()))
        {
            v.set_sensitive(true);
            h.insert(reqwest::header::AUTHORIZATION, v);
        }
        h
    }

    /// Sends one request, waiting out rate limits within the budget and retrying a GET once on
    /// a 5xx or a connection error. 401 and 403 become errors with hints here.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<ApiResponse> {
        let what = Self::what(&method, &url);
        let mut transient_retries = if method == Method::GET { 2 } else { 0 };
        loop {
            tracing::debug!(request = %what, "GitHub API");
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .headers(self.headers());
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    if transient_retries > 0 {
                        transient_retries -= 1;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    let e = e.without_url();
                    let why = if e.is_timeout() {
                        "timed out".to_string()
                    } else {
                        error_chain(&e)
                    };
                    // Sent, then the answer was lost: GitHub may have made it. Nothing tells
                    // from here; a re-run looks first (the PR for the head, the label, the
                    // release of the tag) and makes only what is missing.
                    if method != Method::GET && !e.is_connect() {
                        return Err(AppError::new(
                            Kind::Partial,
                            format!(
                                "outcome unknown: {what} was sent to GitHub at {}, but its answer was lost ({why}): it may have been applied",
                                self.api.origin().ascii_serialization()
                            ),
                        )
                        .with_hint("run the same command again: it finds what was made and makes only what is missing")
                        .into());
                    }
                    return Err(AppError::new(
                        Kind::Failed,
                        format!(
                            "could not reach GitHub at {} ({what}): {why}",
                            self.api.origin().ascii_serialization()
                        ),
                    )
                    .with_hint("check the network, and GITHUB_API_URL / github.api_url")
                    .into());
                }
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let text = resp.text().await.unwrap_or_default();
            tracing::debug!(request = %what, status, "GitHub API answered");
            match verdict(status, &headers, &text, Timestamp::now()) {
                Verdict::Pass => {
                    if status >= 500 && transient_retries > 0 {
                        transient_retries -= 1;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    return Ok(ApiResponse {
                        status,
                        headers,
                        body: text,
                        what,
                    });
                }
                Verdict::Unauthorized => {
                    return Err(AppError::new(
                        Kind::Preflight,
                        format!(
                            "the GitHub token is missing or invalid (GitHub answered 401 to \
                             {what}: {})",
                            github_message(&text)
                        ),
                    )
                    .with_hint(token_hint())
                    .into())
                }
                Verdict::Forbidden { hint } => {
                    return Err(AppError::new(
                        Kind::Preflight,
                        format!(
                            "the GitHub token is not allowed to {what} on {} (403: {})",
                            self.repo,
                            github_message(&text)
                        ),
                    )
                    .with_hint(hint)
                    .into())
                }
                Verdict::RateLimited { wait, reset } => {
                    // Take the wait from the budget, or learn there is not enough left.
                    let granted = {
                        let mut waited = self.waited.lock().expect("not poisoned");
                        let budget_left = self.rate_limit_budget.saturating_sub(*waited);
                        match wait {
                            Some(w) if w <= budget_left => {
                                *waited += w;
                                Some(w)
                            }
                            _ => None,
                        }
                    };
                    match granted {
                        Some(w) => {
                            tracing::warn!(
                                "GitHub rate limit reached; waiting {} before retrying {what}",
                                format_duration(w)
                            );
                            tokio::time::sleep(w).await;
                            continue;
                        }
                        None => return Err(rate_limit_error(&what, wait, reset, Timestamp::now())),
                    }
                }
            }
        }
    }

    /// `GET` one resource.
    pub async fn get(&self, url: Url) -> Result<ApiResponse> {
        self.send(Method::GET, url, None).await
    }

    /// `POST` a JSON body.
    pub async fn post(&self, url: Url, body: &serde_json::Value) -> Result<ApiResponse> {
        self.send(Method::POST, url, Some(body)).await
    }

    /// Walks every page of a listing (`per_page=100`, following `Link: rel="next"`), handing
    /// each page to `visit`, which may stop the walk early.
    pub async fn get_pages<T: DeserializeOwned>(
        &self,
        mut url: Url,
        mut visit: impl FnMut(Vec<T>) -> ControlFlow<()>,
    ) -> Result<()> {
        if !url.query_pairs().any(|(k, _)| k == "per_page") {
            url.query_pairs_mut()
                .append_pair("per_page", &PER_PAGE.to_string());
        }
        for _ in 0..MAX_PAGES {
            let resp = self.get(url.clone()).await?;
            let next = header(&resp.headers, "link").and_then(link_next);
            let items: Vec<T> = resp.json()?;
            if visit(items).is_break() {
                return Ok(());
            }
            match next {
                None => return Ok(()),
                Some(n) => {
                    let n = Url::parse(&n).map_err(|_| {
                        anyhow::anyhow!("GitHub sent a next-page link that is not a URL: {n}")
                    })?;
                    // The token goes only to the API's own origin.
                    if n.origin() != self.api.origin() {
                        anyhow::bail!(
                            "GitHub's next-page link points at another host ({}); refusing to \
                             send the token there",
                            n.origin().ascii_serialization()
                        );
                    }
                    url = n;
                }
            }
        }
        Err(AppError::new(
            Kind::Failed,
            format!(
                "{} has more than {} pages of results",
                Self::what(&Method::GET, &url),
                MAX_PAGES
            ),
        )
        .with_hint("this is more than a release process should need; report it")
        .into())
    }

    /// Every item of a listing, all pages.
    pub async fn get_all<T: DeserializeOwned>(&self, url: Url) -> Result<Vec<T>> {
        let mut all = Vec::new();
        self.get_pages(url, |page: Vec<T>| {
            all.extend(page);
            ControlFlow::Continue(())
        })
        .await?;
        Ok(all)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.join(": ")
}

/// The error when a rate limit outlasts our budget: it says when the limit resets.
pub fn rate_limit_error(
    what: &str,
    wait: Option<Duration>,
    reset: Option<Timestamp>,
    now: Timestamp,
) -> anyhow::Error {
    let when = match (reset, wait) {
        (Some(r), _) if r > now => format!(
            "; it resets at {} (in {})",
            rfc3339(r),
            format_duration(Duration::from_secs(
                (r.as_second() - now.as_second()) as u64
            ))
        ),
        (_, Some(w)) => format!("; GitHub asks to retry in {}", format_duration(w)),
        _ => String::new(),
    };
    AppError::new(
        Kind::Failed,
        format!("GitHub's API rate limit is exhausted ({what}){when}"),
    )
    .with_hint(
        "wait until then and run the command again (nothing more was sent); a different token \
         has its own limit",
    )
    .into()
}

/// Checks the API base URL: https, or http on loopback (tests and the sandbox).
pub fn parse_api_url(api: &str) -> Result<Url> {
    let bad = |why: &str| -> anyhow::Error {
        AppError::new(
            Kind::Preflight,
            format!("the GitHub API URL {api:?} {why}"),
        )
        .with_hint("set GITHUB_API_URL or github.api_url to https://api.github.com (or your GitHub Enterprise https://HOST/api/v3)")
        .into()
    };
    let u = Url::parse(api.trim()).map_err(|_| bad("is not a URL"))?;
    let loopback = crate::types::is_loopback_host(u.host_str().unwrap_or(""));
    match u.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(bad("uses plain http (allowed only for loopback)")),
        _ => return Err(bad("is not an http(s) URL")),
    }
    if u.query().is_some() || !u.username().is_empty() || u.password().is_some() {
        return Err(bad("must not carry a query or credentials"));
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn link_header_next() {
        let l = "<https://api.github.com/repositories/1/releases?per_page=100&page=2>; \
                 rel=\"next\", <https://api.github.com/repositories/1/releases?per_page=100&page=7>; rel=\"last\"";
        assert_eq!(
            link_next(l).as_deref(),
            Some("https://api.github.com/repositories/1/releases?per_page=100&page=2")
        );
        let last_page = "<https://x/r?page=1>; rel=\"prev\", <https://x/r?page=1>; rel=\"first\"";
        assert_eq!(link_next(last_page), None);
        // Order and spacing do not matter; rel may list several relations.
        assert_eq!(
            link_next("<https://x/a?page=1>; rel=\"first\",<https://x/a?page=3>;rel=\"last next\"")
                .as_deref(),
            Some("https://x/a?page=3")
        );
        assert_eq!(link_next(""), None);
        assert_eq!(link_next("garbage"), None);
    }

    #[test]
    fn rate_limits_are_recognised() {
        let now: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        let reset = now.as_second() + 120;
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset.to_string()),
        ]);
        assert_eq!(
            verdict(403, &h, "{\"message\":\"API rate limit exceeded\"}", now),
            Verdict::RateLimited {
                wait: Some(Duration::from_secs(121)),
                reset: Some(Timestamp::from_second(reset).unwrap())
            }
        );
        let h = headers(&[("retry-after", "7")]);
        assert_eq!(
            verdict(429, &h, "", now),
            Verdict::RateLimited {
                wait: Some(Duration::from_secs(7)),
                reset: None
            }
        );
        // A secondary limit named only in the message: wait a minute.
        assert_eq!(
            verdict(
                403,
                &HeaderMap::new(),
                "{\"message\":\"You have exceeded a secondary rate limit\"}",
                now
            ),
            Verdict::RateLimited {
                wait: Some(Duration::from_secs(60)),
                reset: None
            }
        );
        assert_eq!(
            verdict(401, &HeaderMap::new(), "", now),
            Verdict::Unauthorized
        );
        assert_eq!(verdict(404, &HeaderMap::new(), "", now), Verdict::Pass);
        assert_eq!(verdict(200, &h, "", now), Verdict::Pass);
    }

    #[test]
    fn forbidden_names_the_missing_permission() {
        let now = Timestamp::now();
        let h = headers(&[(
            "x-accepted-github-permissions",
            "pull_requests=write; contents=read",
        )]);
        let Verdict::Forbidden { hint } = verdict(
            403,
            &h,
            "{\"message\":\"Resource not accessible by personal access token\"}",
            now,
        ) else {
            panic!("not forbidden")
        };
        assert!(
            hint.contains("pull_requests=write, contents=read"),
            "{hint}"
        );
        let h = headers(&[
            ("x-accepted-oauth-scopes", "repo"),
            ("x-oauth-scopes", "read:org"),
        ]);
        let Verdict::Forbidden { hint } = verdict(403, &h, "", now) else {
            panic!("not forbidden")
        };
        assert_eq!(
            hint,
            "the token has the scopes `read:org`; this call needs `repo`: regenerate it with the \
             `repo` scope"
        );
        let Verdict::Forbidden { hint } = verdict(403, &HeaderMap::new(), "", now) else {
            panic!("not forbidden")
        };
        assert!(hint.contains("`repo` scope"), "{hint}");
    }

    #[test]
    fn rate_limit_error_says_when_it_resets() {
        let now: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        let reset: Timestamp = "2026-01-01T12:23:00Z".parse().unwrap();
        let r = crate::error::report(&rate_limit_error(
            "GET /repos/o/r/releases",
            Some(Duration::from_secs(1381)),
            Some(reset),
            now,
        ));
        assert_eq!(r.code, 1);
        assert_eq!(
            r.message,
            "GitHub's API rate limit is exhausted (GET /repos/o/r/releases); it resets at \
             2026-01-01T12:23:00Z (in 23m)"
        );
    }

    #[test]
    fn github_messages_with_details() {
        assert_eq!(
            github_message(
                r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for 18F:stages/rc-2026-01-01."}]}"#
            ),
            "Validation Failed; A pull request already exists for 18F:stages/rc-2026-01-01."
        );
        assert_eq!(
            github_message(
                r#"{"message":"Validation Failed","errors":[{"resource":"Label","code":"already_exists","field":"name"}]}"#
            ),
            "Validation Failed; name already_exists"
        );
        assert_eq!(github_message("<html>oops</html>"), "<html>oops</html>");
    }

    #[test]
    fn api_urls() {
        assert!(parse_api_url("https://api.github.com").is_ok());
        assert!(parse_api_url("http://127.0.0.1:8080").is_ok());
        assert!(parse_api_url("http://localhost:8080/api/v3").is_ok());
        assert!(parse_api_url("http://api.github.com").is_err());
        assert!(parse_api_url("https://user:pw@api.github.com").is_err());
        assert!(parse_api_url("api.github.com").is_err());
        let c = Client::new(
            "https://ghe.example.gov/api/v3/",
            RepoSlug::parse("o/r").unwrap(),
            SecretString::from("t"),
        )
        .unwrap();
        assert_eq!(
            c.repo_url(&["labels", "status - promotion"]).as_str(),
            "https://ghe.example.gov/api/v3/repos/o/r/labels/status%20-%20promotion"
        );
        let c = Client::new(
            "https://api.github.com",
            RepoSlug::parse("o/r").unwrap(),
            SecretString::from("t"),
        )
        .unwrap();
        assert_eq!(
            c.repo_url(&["pulls"]).as_str(),
            "https://api.github.com/repos/o/r/pulls"
        );
        assert!(!format!("{c:?}").contains("\"t\""));
    }
}
