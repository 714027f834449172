//! Which GitHub repository to talk to: `GITHUB_REPOSITORY` (as in GitHub Actions), else the
//! `github.repository` setting, else parsed from the origin remote's URL.

use std::fmt;

/// `owner/name` of a GitHub repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoSlug {
    pub owner: String,
    pub name: String,
}

impl RepoSlug {
    /// Parses exactly `owner/name` (no URL, no `.git`, no extra slashes).
    pub fn parse(s: &str) -> Option<Self> {
        let (owner, name) = s.trim().split_once('/')?;
        let ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        };
        (ok(owner) && ok(name) && name != "." && name != "..").then(|| RepoSlug {
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }

    /// Same repository, compared as GitHub does (case-insensitively).
    pub fn same_as(&self, other: &RepoSlug) -> bool {
        self.owner.eq_ignore_ascii_case(&other.owner) && self.name.eq_ignore_ascii_case(&other.name)
    }
}

impl fmt::Display for RepoSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A remote URL split into the host and the repository it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRepo {
    pub host: String,
    pub slug: RepoSlug,
}

/// Parses the remote URL forms git accepts for a hosted repository:
/// `git@github.com:18F/identity-idp.git`, `https://github.com/18F/identity-idp(.git)`,
/// `ssh://git@github.com(:22)/18F/identity-idp.git`, `git://github.com/...`. Credentials in the
/// URL (`https://user:token@host/...`) are accepted and dropped. Local paths give `None`.
pub fn parse_remote_url(url: &str) -> Option<RemoteRepo> {
    let url = url.trim();
    let (host_part, path) = if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(
            scheme,
            "https" | "http" | "ssh" | "git" | "git+ssh" | "ssh+git"
        ) {
            return None;
        }
        let (authority, path) = rest.split_once('/')?;
        (authority, path)
    } else {
        // scp-like syntax: [user@]host:path (a `/` before the `:` makes it a local path).
        let (authority, path) = url.split_once(':')?;
        if authority.contains('/') || authority.is_empty() {
            return None;
        }
        (authority, path)
    };
    let host_port = host_part.rsplit_once('@').map_or(host_part, |(_, h)| h);
    let host = host_port
        .split_once(':')
        .map_or(host_port, |(h, _)| h)
        .to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    let path = path.trim_start_matches('/').trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let slug = RepoSlug::parse(path)?;
    Some(RemoteRepo { host, slug })
}

/// A remote URL fit to print: user names and tokens in it are replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://***@{host}/{path}"),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

/// The web host that goes with an API base: `https://api.github.com` is `github.com`;
/// GitHub Enterprise's `https://ghe.example.com/api/v3` is `ghe.example.com`.
pub fn web_host_of_api(api_url: &str) -> Option<String> {
    let rest = api_url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let host = authority
        .split_once(':')
        .map_or(authority, |(h, _)| h)
        .to_ascii_lowercase();
    if host == "api.github.com" {
        Some("github.com".to_string())
    } else {
        Some(host)
    }
}

/// Where the repository came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoSource {
    Env,
    Setting,
    Remote(String),
}

/// Picks the repository: `GITHUB_REPOSITORY`, else the setting, else the remote's URL when it is
/// on github.com or on the API's host. Every failure says what was tried.
pub fn resolve(
    env_value: Option<&str>,
    setting: &str,
    remote: Option<(&str, &str)>,
    api_url: &str,
) -> Result<(RepoSlug, RepoSource), (String, String)> {
    if let Some(v) = env_value.map(str::trim).filter(|v| !v.is_empty()) {
        return RepoSlug::parse(v)
            .map(|s| (s, RepoSource::Env))
            .ok_or_else(|| {
                (
                    format!("GITHUB_REPOSITORY={v:?} is not owner/name"),
                    "set it like GITHUB_REPOSITORY=18F/identity-idp, or unset it".to_string(),
                )
            });
    }
    let setting = setting.trim();
    if !setting.is_empty() {
        return RepoSlug::parse(setting)
            .map(|s| (s, RepoSource::Setting))
            .ok_or_else(|| {
                (
                    format!("the setting github.repository = {setting:?} is not owner/name"),
                    "set it like `repository = \"18F/identity-idp\"` under [github]".to_string(),
                )
            });
    }
    let hint = "set GITHUB_REPOSITORY=owner/name, or `repository = \"owner/name\"` under [github] \
                in .login-release.toml";
    match remote {
        None => Err((
            "cannot tell which GitHub repository to use: no GITHUB_REPOSITORY, no \
             github.repository setting, and no origin remote"
                .to_string(),
            hint.to_string(),
        )),
        Some((remote_name, url)) => {
            let web_host = web_host_of_api(api_url).unwrap_or_else(|| "github.com".into());
            match parse_remote_url(url) {
                Some(r) if r.host == "github.com" || r.host == web_host => {
                    Ok((r.slug, RepoSource::Remote(remote_name.to_string())))
                }
                _ => Err((
                    format!(
                        "cannot tell which GitHub repository to use: remote `{remote_name}` ({}) \
                         is not a GitHub URL",
                        redact_url(url)
                    ),
                    hint.to_string(),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(s: &str) -> RepoSlug {
        RepoSlug::parse(s).unwrap()
    }

    #[test]
    fn remote_urls_of_every_form() {
        let want = RemoteRepo {
            host: "github.com".into(),
            slug: slug("18F/identity-idp"),
        };
        for url in [
            "git@github.com:18F/identity-idp.git",
            "git@github.com:18F/identity-idp",
            "https://github.com/18F/identity-idp",
            "https://github.com/18F/identity-idp.git",
            "https://github.com/18F/identity-idp/",
            "https://x-access-token:ghs_abc@github.com/18F/identity-idp.git",
            "ssh://git@github.com/18F/identity-idp.git",
            "ssh://git@github.com:22/18F/identity-idp.git",
            "git://github.com/18F/identity-idp.git",
            "  https://GitHub.com/18F/identity-idp.git\n",
        ] {
            assert_eq!(parse_remote_url(url), Some(want.clone()), "{url}");
        }
    }

    #[test]
    fn local_and_odd_remotes_are_not_github() {
        for url in [
            "/tmp/origin.git",
            "./origin.git",
            "file:///tmp/origin.git",
            "../x:y/origin",
            "https://github.com/18F",
            "https://github.com/18F/identity-idp/tree/main",
            "",
        ] {
            assert_eq!(parse_remote_url(url), None, "{url}");
        }
    }

    #[test]
    fn slugs_are_strict() {
        assert_eq!(slug("18F/identity-idp").to_string(), "18F/identity-idp");
        for bad in ["18F", "18F/", "/x", "a/b/c", "a b/c", "a/..", ""] {
            assert!(RepoSlug::parse(bad).is_none(), "{bad}");
        }
        assert!(slug("18f/Identity-IDP").same_as(&slug("18F/identity-idp")));
    }

    #[test]
    fn credentials_never_print() {
        assert_eq!(
            redact_url("https://x-access-token:ghs_secret@github.com/18F/identity-idp.git"),
            "https://***@github.com/18F/identity-idp.git"
        );
        assert_eq!(
            redact_url("git@github.com:18F/x.git"),
            "git@github.com:18F/x.git"
        );
    }

    #[test]
    fn resolution_order() {
        let api = "https://api.github.com";
        let origin = Some(("origin", "git@github.com:18F/identity-idp.git"));
        assert_eq!(
            resolve(Some("o/from-env"), "o/from-setting", origin, api).unwrap(),
            (slug("o/from-env"), RepoSource::Env)
        );
        assert_eq!(
            resolve(Some(""), "o/from-setting", origin, api).unwrap(),
            (slug("o/from-setting"), RepoSource::Setting)
        );
        assert_eq!(
            resolve(None, "", origin, api).unwrap(),
            (
                slug("18F/identity-idp"),
                RepoSource::Remote("origin".into())
            )
        );
        let (msg, hint) = resolve(Some("nope"), "", origin, api).unwrap_err();
        assert!(msg.contains("GITHUB_REPOSITORY=\"nope\""), "{msg}");
        assert!(hint.contains("18F/identity-idp"));
        let (msg, _) = resolve(None, "", Some(("origin", "/tmp/origin.git")), api).unwrap_err();
        assert_eq!(
            msg,
            "cannot tell which GitHub repository to use: remote `origin` (/tmp/origin.git) is not \
             a GitHub URL"
        );
        let (msg, _) = resolve(
            None,
            "",
            Some(("origin", "https://u:tok@gitlab.com/a/b.git")),
            api,
        )
        .unwrap_err();
        assert!(!msg.contains("tok"), "{msg}");
        assert!(resolve(None, "", None, api).is_err());
    }

    #[test]
    fn enterprise_hosts_follow_the_api_url() {
        let api = "https://ghe.example.gov/api/v3";
        assert_eq!(web_host_of_api(api).as_deref(), Some("ghe.example.gov"));
        assert_eq!(
            resolve(
                None,
                "",
                Some(("origin", "git@ghe.example.gov:team/app.git")),
                api
            )
            .unwrap()
            .0,
            slug("team/app")
        );
        assert!(resolve(
            None,
            "",
            Some(("origin", "git@other.example.gov:team/app.git")),
            api
        )
        .is_err());
    }
}
