//! GitHub's REST API: the promotion PR, the release, the revert PR.
//!
//! - [`client`]: the transport (token, headers, errors with hints, rate limits, pagination).
//! - [`api`]: the resources and operations the release commands use.
//! - [`rules`]: pure decisions (the last RC, exact titles, the latest merged promotion PR).
//! - [`repo`]: which repository (`GITHUB_REPOSITORY`, the setting, or origin's URL).
//!
//! Configuration, as in GitHub Actions: the token from `GITHUB_TOKEN` or `GH_TOKEN`, the API base
//! from `GITHUB_API_URL` (else the `github.api_url` setting), the repository from
//! `GITHUB_REPOSITORY` (else `github.repository`, else origin's URL).

pub mod api;
pub mod client;
pub mod flows;
pub mod repo;
pub mod rules;
pub mod types;

use anyhow::Result;
use secrecy::SecretString;

pub use client::Client;
pub use repo::{RepoSlug, RepoSource};
pub use types::{MergeKind, NewPr, PrOutcome, PullRequest, Release};

use crate::config::Settings;
use crate::context::Context;
use crate::error::preflight;

/// The token from `GITHUB_TOKEN`, else `GH_TOKEN` (empty values count as unset).
pub fn token_from(get: impl Fn(&str) -> Option<String>) -> Option<SecretString> {
    ["GITHUB_TOKEN", "GH_TOKEN"]
        .iter()
        .filter_map(|k| get(k))
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
        .map(SecretString::from)
}

/// The API base: `GITHUB_API_URL`, else the `github.api_url` setting.
pub fn api_url_from(get: impl Fn(&str) -> Option<String>, settings: &Settings) -> String {
    get("GITHUB_API_URL")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| settings.github.api_url.clone())
}

/// The URL of a remote of the repository at `dir`, read with git2.
pub fn remote_url(dir: &std::path::Path, remote: &str) -> Option<String> {
    let repo = git2::Repository::discover(dir).ok()?;
    let r = repo.find_remote(remote).ok()?;
    r.url().ok().map(str::to_string)
}

/// Which repository and API base a command would use, without needing a token (for plans).
pub fn target(ctx: &Context) -> Result<(String, RepoSlug, RepoSource)> {
    let env = |k: &str| std::env::var(k).ok();
    let settings = ctx.settings();
    let api = api_url_from(env, settings);
    client::parse_api_url(&api)?;
    let remote_name = settings.git.remote.as_str();
    let url = remote_url(ctx.repo_dir(), remote_name);
    let (slug, source) = repo::resolve(
        env("GITHUB_REPOSITORY").as_deref(),
        &settings.github.repository,
        url.as_deref().map(|u| (remote_name, u)),
        &api,
    )
    .map_err(|(msg, hint)| preflight(msg, hint))?;
    Ok((api, slug, source))
}

/// The client for a command: the repository and API base as [`target`] finds them, and the
/// token, whose absence is a preflight failure with the fix.
pub fn connect(ctx: &Context) -> Result<Client> {
    let (api, slug, source) = target(ctx)?;
    let token = token_from(|k| std::env::var(k).ok()).ok_or_else(|| {
        preflight(
            "the GitHub token is missing: neither GITHUB_TOKEN nor GH_TOKEN is set",
            client::token_hint(),
        )
    })?;
    tracing::debug!(repo = %slug, ?source, api = %api, "GitHub target");
    Client::new(&api, slug, token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn token_order_and_empties() {
        let t = token_from(|k| match k {
            "GITHUB_TOKEN" => Some(" ".into()),
            "GH_TOKEN" => Some("gho_x\n".into()),
            _ => None,
        });
        assert_eq!(t.unwrap().expose_secret(), "gho_x");
        let t = token_from(|k| (k == "GITHUB_TOKEN").then(|| "ghp_a".to_string()));
        assert_eq!(t.unwrap().expose_secret(), "ghp_a");
        assert!(token_from(|_| None).is_none());
    }

    #[test]
    fn api_url_env_wins() {
        let s = crate::config::Config::defaults().settings;
        assert_eq!(api_url_from(|_| None, &s), "https://api.github.com");
        assert_eq!(
            api_url_from(|_| Some("http://127.0.0.1:9".into()), &s),
            "http://127.0.0.1:9"
        );
    }
}
