//! Talking to a remote: fetch and list its refs, through libgit2 or the `git` program.
//!
//! libgit2 is built here without its https and ssh transports, so it can only reach local
//! remotes (paths and `file://`). Every other URL goes through the `git` program automatically,
//! which also means the user's ssh config, agent and credential helpers just work. The setting
//! `git.fetch_with_cli` (`LOGIN_RELEASE_GIT_FETCH_WITH_CLI=true`) sends local remotes through the
//! `git` program as well (useful to run the remote's hooks, which libgit2's local transport
//! skips).

use std::path::Path;
use std::process::Command;

use anyhow::Result;
use git2::{Direction, FetchOptions, FetchPrune, Oid};

use crate::error::failed;
use crate::git::repo::Repo;
use crate::types::redact_credentials;

/// How a remote is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// libgit2 in process (local remotes only in this build).
    Lib,
    /// The `git` program as a child process.
    Cli,
}

impl Transport {
    /// The `git` program when configured, or when libgit2 cannot reach the URL.
    pub fn choose(url: &str, fetch_with_cli: bool) -> Transport {
        if fetch_with_cli || !is_local_url(url) {
            Transport::Cli
        } else {
            Transport::Lib
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Transport::Lib => "libgit2",
            Transport::Cli => "the git program",
        }
    }
}

/// True for what libgit2's local transport handles: `file://` URLs and plain paths. `host:path`
/// (scp-like) and any other `scheme://` are network remotes.
pub fn is_local_url(url: &str) -> bool {
    if url.starts_with("file://") {
        return true;
    }
    if url.contains("://") {
        return false;
    }
    // scp-like syntax: a colon before the first slash (git's own rule).
    match (url.find(':'), url.find('/')) {
        (Some(c), Some(s)) => c > s,
        (Some(_), None) => false,
        _ => true,
    }
}

/// A remote of a repository and the way to reach it.
pub struct Remote<'r> {
    pub repo: &'r Repo,
    pub name: String,
    /// The URL as configured (`remote.<name>.url`): what people recognise, and what GitHub
    /// links are derived from.
    pub url: String,
    /// The URL after `url.<base>.insteadOf` rewriting: what is actually reached.
    pub effective_url: String,
    pub transport: Transport,
}

impl<'r> Remote<'r> {
    /// Looks the remote up (a missing one is a preflight failure) and picks the transport.
    pub fn new(repo: &'r Repo, name: &str, fetch_with_cli: bool) -> Result<Remote<'r>> {
        let effective_url = repo.remote_url(name)?;
        let url = repo
            .config_string(&format!("remote.{name}.url"))
            .unwrap_or_else(|| effective_url.clone());
        let transport = Transport::choose(&effective_url, fetch_with_cli);
        tracing::debug!(
            remote = name,
            url = %redact_credentials(&url),
            effective_url = %redact_credentials(&effective_url),
            transport = transport.describe(),
            "remote"
        );
        Ok(Remote {
            repo,
            name: name.to_string(),
            url,
            effective_url,
            transport,
        })
    }

    /// `origin (git@github.com:o/r.git, via the git program)`, with the rewritten URL when
    /// `insteadOf` changed it: for plans and status lines.
    pub fn describe(&self) -> String {
        let url = if self.url == self.effective_url {
            self.url.clone()
        } else {
            format!("{} -> {}", self.url, self.effective_url)
        };
        redact_credentials(&format!(
            "{} ({url}, via {})",
            self.name,
            self.transport.describe()
        ))
    }

    /// The configured URL for messages, credentials redacted.
    pub fn shown_url(&self) -> String {
        redact_credentials(&self.url)
    }

    /// `refs/remotes/<name>/*`, the fetch refspec we always use (whatever the clone configured,
    /// so single-branch clones still see `stages/prod`).
    fn heads_refspec(&self) -> String {
        format!("+refs/heads/*:refs/remotes/{}/*", self.name)
    }

    /// Fetches every branch into `refs/remotes/<name>/`, pruning branches the remote deleted.
    /// Tags are not fetched (we ask the remote about the ones we care about).
    pub fn fetch(&self) -> Result<()> {
        self.fetch_refspec(&self.heads_refspec())
    }

    /// Fetches one refspec (e.g. `+refs/login-release/deploys/prod:refs/login-release/deploys/prod`).
    pub fn fetch_refspec(&self, refspec: &str) -> Result<()> {
        match self.transport {
            Transport::Lib => {
                let mut remote = self.repo.git.find_remote(&self.name)?;
                let mut opts = FetchOptions::new();
                opts.prune(FetchPrune::On)
                    .download_tags(git2::AutotagOption::None);
                remote
                    .fetch(&[refspec], Some(&mut opts), Some("login-release: fetch"))
                    .map_err(|e| self.fetch_failed(e.message()))
            }
            Transport::Cli => {
                let out = self.git(&["fetch", "--prune", "--no-tags", &self.name, refspec])?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(self.fetch_failed(&last_line(&out.stderr)))
                }
            }
        }
    }

    /// [`fetch`](Self::fetch) with a status line saying from where and how.
    pub fn fetch_reporting(&self, out: &crate::output::Output) -> Result<()> {
        out.status(format!("fetching {}", self.describe()));
        self.fetch()
    }

    fn fetch_failed(&self, why: &str) -> anyhow::Error {
        failed(
            format!("fetching {} ({}) failed: {why}", self.name, self.shown_url()),
            match self.transport {
                Transport::Lib => format!(
                    "check that `git fetch {}` works; LOGIN_RELEASE_GIT_FETCH_WITH_CLI=true uses the git program",
                    self.name
                ),
                Transport::Cli => format!(
                    "check that `git fetch {}` works from this repository (network, VPN, credentials)",
                    self.name
                ),
            },
        )
    }

    /// The refs the remote has under `prefix` (e.g. `refs/tags/`), with peeled entries
    /// (`refs/tags/x^{}`) as git lists them.
    pub fn ls_remote(&self, prefix: &str) -> Result<Vec<(String, Oid)>> {
        let mut refs = Vec::new();
        match self.transport {
            Transport::Lib => {
                let mut remote = self.repo.git.find_remote(&self.name)?;
                let conn = remote
                    .connect_auth(Direction::Fetch, None, None)
                    .map_err(|e| self.list_failed(e.message()))?;
                for head in conn.list().map_err(|e| self.list_failed(e.message()))? {
                    if head.name().starts_with(prefix) {
                        refs.push((head.name().to_string(), head.oid()));
                    }
                }
            }
            Transport::Cli => {
                let pattern = format!("{prefix}*");
                let out = self.git(&["ls-remote", &self.name, &pattern])?;
                if !out.status.success() {
                    return Err(self.list_failed(&last_line(&out.stderr)));
                }
                for line in String::from_utf8_lossy(&out.stdout).lines() {
                    if let Some((sha, name)) = line.split_once('\t') {
                        if let (Ok(oid), true) = (Oid::from_str(sha), name.starts_with(prefix)) {
                            refs.push((name.to_string(), oid));
                        }
                    }
                }
            }
        }
        Ok(refs)
    }

    /// What the remote has at one full ref name, right now.
    pub fn remote_ref(&self, refname: &str) -> Result<Option<Oid>> {
        Ok(self
            .ls_remote(refname)?
            .into_iter()
            .find(|(n, _)| n == refname)
            .map(|(_, o)| o))
    }

    fn list_failed(&self, why: &str) -> anyhow::Error {
        failed(
            format!(
                "listing the refs of {} ({}) failed: {why}",
                self.name,
                self.shown_url()
            ),
            format!("check that `git ls-remote {}` works", self.name),
        )
    }

    /// Runs the `git` program in this repository, capturing its output.
    pub(crate) fn git(&self, args: &[&str]) -> Result<std::process::Output> {
        run_git(&self.repo.location(), args)
    }
}

pub(crate) fn run_git(dir: &Path, args: &[&str]) -> Result<std::process::Output> {
    tracing::debug!(args = %redact_credentials(&args.join(" ")), "running git");
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                failed(
                    "the `git` program is needed to reach this remote, and it is not installed",
                    "install it (apt-get install git), or use a local path or file:// remote",
                )
            } else {
                failed(
                    format!("running git failed: {e}"),
                    "check that `git --version` works",
                )
            }
        })
}

/// The last non-empty line of a program's stderr (git puts the reason there), credentials
/// redacted: git quotes the URL it failed to reach.
pub(crate) fn last_line(bytes: &[u8]) -> String {
    redact_credentials(
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("no output"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_network_urls() {
        assert!(is_local_url("/srv/git/idp.git"));
        assert!(is_local_url("../origin.git"));
        assert!(is_local_url("origin.git"));
        assert!(is_local_url("file:///srv/git/idp.git"));
        assert!(!is_local_url("git@github.com:18F/identity-idp.git"));
        assert!(!is_local_url("https://github.com/18F/identity-idp.git"));
        assert!(!is_local_url("ssh://git@github.com/18F/identity-idp.git"));
        assert!(!is_local_url("github:18F/identity-idp"));
        // A colon after a slash is part of a path.
        assert!(is_local_url("./dir:with/colon"));
    }

    #[test]
    fn network_urls_use_the_git_program() {
        assert_eq!(
            Transport::choose("git@github.com:18F/identity-idp.git", false),
            Transport::Cli
        );
        assert_eq!(Transport::choose("/srv/origin.git", false), Transport::Lib);
        assert_eq!(Transport::choose("/srv/origin.git", true), Transport::Cli);
    }
}
