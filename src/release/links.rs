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

/// `owner/name` as configured.
pub fn parse_slug(slug: &str) -> Option<GithubRepo> {
    let (owner, name) = slug.trim().split_once('/')?;
    let name = name.trim_end_matches(".git");
    (!owner.is_empty() && !name.is_empty() && !name.contains('/')).then(|| GithubRepo {
        host: "github.com".into(),
        owner: owner.into(),
        name: name.into(),
    })
}

/// A GitHub remote URL in any of git's forms: `git@github.com:o/r.git`,
/// `https://github.com/o/r(.git)`, `ssh://git@github.com/o/r.git`. Hosts that are not GitHub
/// give `None`: github.com, or a GitHub Enterprise host named `github.<domain>`.
pub fn parse_remote_url(url: &str) -> Option<GithubRepo> {
    let url = url.trim();
    let (host, path) = if let Some((_, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/')?;
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = host.split_once(':').map_or(host, |(h, _)| h);
        (host, path)
    } else {
        let (authority, path) = url.split_once(':')?;
        if authority.contains('/') {
            return None;
        }
        (
            authority.rsplit_once('@').map_or(authority, |(_, h)| h),
            path,
        )
    };
    let host = host.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    if host != "github.com" && !host.starts_with("github.") {
        return None;
    }
    let path = path.trim_matches('/').trim_end_matches(".git");
    let (owner, name) = path.split_once('/')?;
    (!owner.is_empty() && !name.is_empty() && !name.contains('/')).then(|| GithubRepo {
        host,
        owner: owner.into(),
        name: name.into(),
    })
}

/// The repository from configuration (`github.repository`), the environment
/// (`GITHUB_REPOSITORY`), or origin's URL, in that order.
pub fn github_repo(configured: &str, remote_url: &str) -> Option<GithubRepo> {
    if let Some(r) = parse_slug(configured) {
        return Some(r);
    }
    if let Some(r) = std::env::var("GITHUB_REPOSITORY")
        .ok()
        .as_deref()
        .and_then(parse_slug)
    {
        return Some(r);
    }
    parse_remote_url(remote_url)
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
