//! Links people open after a git step: the new-release page for a tag, the compare page that
//! opens a PR. The repository comes from `github.repository`, else `GITHUB_REPOSITORY`, else
//! origin's URL.

/// A GitHub repository and the host serving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubRepo {
    pub host: String,
    pub owner: String,
    pub name: String,
}

impl GithubRepo {
    pub fn web_url(&self) -> String {
        format!("https://{}/{}/{}", self.host, self.owner, self.name)
    }

    /// `https://github.com/<owner>/<repo>/releases/new?tag=<tag>`.
    pub fn new_release_url(&self, tag: &str) -> String {
        format!("{}/releases/new?tag={}", self.web_url(), encode(tag))
    }

    /// The page that opens a PR from `head` into `base`.
    pub fn compare_url(&self, base: &str, head: &str) -> String {
        format!(
            "{}/compare/{}...{}?expand=1",
            self.web_url(),
            encode(base),
            encode(head)
        )
    }
}

/// `owner/name` as configured (on github.com).
pub fn parse_slug(slug: &str) -> Option<GithubRepo> {
    let slug = crate::github::repo::RepoSlug::parse(slug.trim().trim_end_matches(".git"))?;
    Some(GithubRepo {
        host: "github.com".into(),
        owner: slug.owner,
        name: slug.name,
    })
}

/// A GitHub remote URL in any of git's forms (parsed by [`crate::github::repo::parse_remote_url`]).
/// Hosts that are not GitHub give `None`: github.com, or a GitHub Enterprise host named
/// `github.<domain>`.
pub fn parse_remote_url(url: &str) -> Option<GithubRepo> {
    let remote = crate::github::repo::parse_remote_url(url)?;
    let host = remote
        .host
        .strip_prefix("www.")
        .unwrap_or(&remote.host)
        .to_string();
    (host == "github.com" || host.starts_with("github.")).then_some(GithubRepo {
        host,
        owner: remote.slug.owner,
        name: remote.slug.name,
    })
}

/// The repository from the environment (`GITHUB_REPOSITORY`, as in GitHub Actions), the
/// `github.repository` setting, or origin's URL, in that order (the order the GitHub client uses).
pub fn github_repo(configured: &str, remote_url: &str) -> Option<GithubRepo> {
    std::env::var("GITHUB_REPOSITORY")
        .ok()
        .as_deref()
        .and_then(parse_slug)
        .or_else(|| parse_slug(configured))
        .or_else(|| parse_remote_url(remote_url))
}

/// Percent-encodes what cannot stand in a URL path or query value as is.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_urls() {
        for url in [
            "git@github.com:18F/identity-idp.git",
            "https://github.com/18F/identity-idp.git",
            "https://github.com/18F/identity-idp",
            "ssh://git@github.com/18F/identity-idp.git",
            "https://token@github.com/18F/identity-idp/",
        ] {
            let r = parse_remote_url(url).unwrap_or_else(|| panic!("{url}"));
            assert_eq!(r.web_url(), "https://github.com/18F/identity-idp", "{url}");
        }
        assert!(parse_remote_url("/tmp/origin.git").is_none());
        assert!(parse_remote_url("file:///tmp/origin.git").is_none());
        assert!(parse_remote_url("git@gitlab.com:a/b.git").is_none());
    }

    #[test]
    fn links() {
        let r = parse_slug("18F/identity-idp").unwrap();
        assert_eq!(
            r.new_release_url("2026-11-26T184808"),
            "https://github.com/18F/identity-idp/releases/new?tag=2026-11-26T184808"
        );
        assert_eq!(
            r.compare_url("stages/prod", "revert-rc-112"),
            "https://github.com/18F/identity-idp/compare/stages/prod...revert-rc-112?expand=1"
        );
        assert!(parse_slug("").is_none());
        assert!(parse_slug("a/b/c").is_none());
        assert_eq!(
            github_repo("o/r", "git@github.com:18F/identity-idp.git")
                .unwrap()
                .owner,
            "o"
        );
    }
}
