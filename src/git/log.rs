//! Reading commits of a range with git2 (no `git` process).
//!
//! `base..source` means what `git log base..source` means: the commits reachable from `source`
//! and not from `base`, newest first. The revision walk hides `base`, pushes `source` and reads
//! each commit's subject and body once; nothing else is loaded (no trees, no diffs).

use anyhow::{Context as _, Result};
use git2::{Oid, Repository, Sort};

use crate::error::preflight;

/// One commit as the changelog sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The full 40-hex sha.
    pub sha: String,
    /// The subject as `git log --format=%s` prints it (the first paragraph on one line).
    pub subject: String,
    /// The rest of the message, as `%b` prints it.
    pub body: String,
}

impl Commit {
    /// The sha abbreviated to 7 characters, as people quote it.
    pub fn short_sha(&self) -> &str {
        crate::types::prefix(&self.sha, 7)
    }
}

/// Opens the repository that contains `dir` (like `git -C dir`). Not a repository is a preflight
/// failure with a hint.
pub fn open(dir: &std::path::Path) -> Result<Repository> {
    Repository::discover(dir).map_err(|_| {
        preflight(
            format!("{} is not in a git repository", dir.display()),
            "run this inside a clone of the application's repository, or pass -C PATH",
        )
    })
}

/// Resolves a revision (branch, remote branch, tag, sha, `HEAD~3`...) to a commit. `what` names
/// the flag it came from (`--base`), for the hint. An unknown revision is a preflight failure.
pub fn resolve_commit(repo: &Repository, spec: &str, what: &str) -> Result<Oid> {
    let obj = repo.revparse_single(spec).map_err(|_| {
        let hint = match spec.split_once('/') {
            Some((remote, _)) if repo.find_remote(remote).is_ok() => {
                format!("run `git fetch {remote}` if the branch is new, or pass another {what} REF")
            }
            _ => format!("check the spelling (`git rev-parse {spec}`), or pass another {what} REF"),
        };
        preflight(format!("unknown revision `{spec}` ({what})"), hint)
    })?;
    let commit = obj.peel_to_commit().map_err(|_| {
        preflight(
            format!("`{spec}` ({what}) does not name a commit"),
            format!("pass a branch, tag or commit sha as {what}"),
        )
    })?;
    Ok(commit.id())
}

/// The commits of `base..source`, newest first (commit time order, like `git log`).
pub fn commits_between(repo: &Repository, base: Oid, source: Oid) -> Result<Vec<Commit>> {
    let mut walk = repo.revwalk().context("starting a revision walk")?;
    walk.set_sorting(Sort::TIME)
        .context("sorting the revision walk")?;
    walk.push(source)
        .with_context(|| format!("walking from {source}"))?;
    walk.hide(base).with_context(|| format!("hiding {base}"))?;
    let mut out = Vec::new();
    for oid in walk {
        let oid = oid.context("walking the commits of the range")?;
        let commit = repo
            .find_commit(oid)
            .with_context(|| format!("reading commit {oid}"))?;
        out.push(Commit {
            sha: oid.to_string(),
            subject: lossy(commit.summary_bytes().unwrap_or_default()),
            body: lossy(commit.body_bytes().unwrap_or_default()),
        });
    }
    Ok(out)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The URL of a remote, if it exists and has one.
pub fn remote_url(repo: &Repository, remote: &str) -> Option<String> {
    repo.find_remote(remote)
        .ok()
        .and_then(|r| r.url().ok().map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use git2::Signature;

    fn commit(repo: &Repository, msg: &str, parent: Option<Oid>, time: i64) -> Oid {
        let sig = Signature::new("T", "t@example.gov", &git2::Time::new(time, 0)).unwrap();
        let tree = {
            let mut idx = repo.index().unwrap();
            let id = idx.write_tree().unwrap();
            repo.find_tree(id).unwrap()
        };
        let parents: Vec<git2::Commit> = parent
            .iter()
            .map(|p| repo.find_commit(*p).unwrap())
            .collect();
        let refs: Vec<&git2::Commit> = parents.iter().collect();
        repo.commit(None, &sig, &sig, msg, &tree, &refs).unwrap()
    }

    #[test]
    fn reads_the_range_newest_first_with_subject_and_body() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let a = commit(&repo, "Base\n", None, 1_000);
        let b = commit(
            &repo,
            "Second (#2)\n\nchangelog: Internal, X, y\n",
            Some(a),
            2_000,
        );
        let c = commit(
            &repo,
            "Third\nfolded\n\nbody line\n\n* more\n",
            Some(b),
            3_000,
        );
        let got = commits_between(&repo, a, c).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].sha, c.to_string());
        assert_eq!(got[0].subject, "Third folded");
        assert_eq!(got[0].body, "body line\n\n* more");
        assert_eq!(got[1].subject, "Second (#2)");
        assert_eq!(got[1].body, "changelog: Internal, X, y");
        assert_eq!(got[1].short_sha().len(), 7);
        assert!(commits_between(&repo, c, c).unwrap().is_empty());
    }

    #[test]
    fn unknown_revisions_are_preflight_failures() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        commit(&repo, "Base\n", None, 1_000);
        let err = resolve_commit(&repo, "nope/branch", "--base").unwrap_err();
        let r = crate::error::report(&err);
        assert_eq!(r.code, 3);
        assert_eq!(r.message, "unknown revision `nope/branch` (--base)");
    }
}
