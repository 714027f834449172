//! Markdown in the shape people paste into the promotion PR, and where the PR links point.
//!
//! ```text
//! ## Internal
//! - Logging: Update logging flow ([#9999](https://github.com/18F/identity-idp/pull/9999))
//! - Security: Upgrade Rails ([#6041](https://github.com/18F/identity-idp/pull/6041), [#6042](...))
//! ```
//! Sections in category order, empty ones left out, one blank line between sections, one
//! trailing newline. Without a link base the numbers are printed as `(#6041, #6042)`.

use std::fmt::Write as _;

use super::category::Category;
use super::{Changelog, Entry};

/// Title of the block `--include-invalid` appends.
pub const INVALID_HEADING: &str = "## Invalid Changelog Entries";

/// The changelog's Markdown: the sections only, never the invalid commits.
pub fn markdown(log: &Changelog) -> String {
    let mut out = String::new();
    for category in Category::ALL {
        let mut entries = log
            .entries
            .iter()
            .filter(|e| e.category == category)
            .peekable();
        if entries.peek().is_none() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "## {category}");
        for e in entries {
            line(&mut out, e, log.link_base.as_deref());
        }
    }
    out
}

/// The Markdown followed by a separate block listing the invalid commits (for a person to file
/// under a category before pasting).
pub fn markdown_with_invalid(log: &Changelog) -> String {
    let mut out = markdown(log);
    if log.invalid.is_empty() {
        return out;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "{INVALID_HEADING}");
    for i in &log.invalid {
        let _ = writeln!(out, "- {}", i.describe());
    }
    out
}

fn line(out: &mut String, e: &Entry, link_base: Option<&str>) {
    let _ = write!(out, "- {}: {}", e.subcategory, e.change);
    if !e.pull_requests.is_empty() {
        out.push_str(" (");
        for (i, n) in e.pull_requests.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            match link_base {
                Some(base) => {
                    let _ = write!(out, "[#{n}]({base}/pull/{n})");
                }
                None => {
                    let _ = write!(out, "#{n}");
                }
            }
        }
        out.push(')');
    }
    out.push('\n');
}

/// The web address of a GitHub repository from a remote URL, for PR links:
/// `git@github.com:18F/identity-idp.git`, `ssh://git@github.com/18F/identity-idp`,
/// `https://github.com/18F/identity-idp(.git)(/)` -> `https://github.com/18F/identity-idp`.
/// Any other host (or a local path) gives `None`.
pub fn github_web_url(remote_url: &str) -> Option<String> {
    crate::release::links::parse_remote_url(remote_url).map(|r| r.web_url())
}

/// The base of PR links: the `github.web_url` setting when set (`https://github.com/OWNER/NAME`;
/// a trailing `/` or `/pull` is dropped), else the remote's GitHub address, else none.
pub fn link_base(web_url_setting: &str, remote_url: Option<&str>) -> Option<String> {
    let set = web_url_setting.trim();
    if !set.is_empty() {
        let set = set.trim_end_matches('/');
        let set = set.strip_suffix("/pull").unwrap_or(set);
        return Some(set.to_string());
    }
    remote_url.and_then(github_web_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_addresses() {
        let want = Some("https://github.com/18F/identity-idp".to_string());
        for url in [
            "git@github.com:18F/identity-idp.git",
            "git@github.com:18F/identity-idp",
            "https://github.com/18F/identity-idp",
            "https://github.com/18F/identity-idp.git",
            "https://github.com/18F/identity-idp/",
            "https://user:token@github.com/18F/identity-idp.git",
            "ssh://git@github.com/18F/identity-idp.git",
            "ssh://git@github.com:22/18F/identity-idp.git",
            "git://github.com/18F/identity-idp.git",
        ] {
            assert_eq!(github_web_url(url), want, "{url}");
        }
        for url in [
            "/tmp/origin.git",
            "file:///tmp/origin.git",
            "https://gitlab.com/18F/identity-idp.git",
            "git@gitlab.com:18F/identity-idp.git",
            "https://github.com/18F",
            "https://github.com/18F/identity-idp/tree/main",
            "https://notgithub.com/18F/identity-idp",
        ] {
            assert_eq!(github_web_url(url), None, "{url}");
        }
    }

    #[test]
    fn the_setting_wins() {
        assert_eq!(
            link_base(
                "https://github.example.gov/login/idp/pull/",
                Some("git@github.com:18F/identity-idp.git")
            ),
            Some("https://github.example.gov/login/idp".to_string())
        );
        assert_eq!(
            link_base("", Some("git@github.com:18F/identity-idp.git")),
            Some("https://github.com/18F/identity-idp".to_string())
        );
        assert_eq!(link_base("", Some("/srv/origin.git")), None);
        assert_eq!(link_base("", None), None);
    }
}
