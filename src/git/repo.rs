//! The repository a command works on: opening it with a clear error, remotes, refs, ancestry, and
//! the commits our commands write without touching the work tree (cherry-picks, reverts, "ours"
//! merges are built in memory and written as objects; only refs move).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use git2::{Commit, ErrorCode, Oid, Repository, Signature, Time};
use jiff::Timestamp;

use crate::error::{failed, preflight};

/// An open repository.
pub struct Repo {
    pub git: Repository,
}

/// Why building a commit in memory stopped (a cherry-pick conflict, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The commit whose change did not apply.
    pub commit: Oid,
    pub subject: String,
    /// Paths with conflicts, sorted.
    pub paths: Vec<String>,
}

/// One commit of a cherry-pick series, after it was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picked {
    /// The commit that was picked.
    pub source: Oid,
    /// The new commit, or `None` when the change was already there (nothing to apply).
    pub new: Option<Oid>,
    pub subject: String,
}

/// A shallow clone lacks the history that the changelog (what is in a range) and the ancestry
/// checks (is the RC on main, is prod behind it) read: their answers would be wrong, not missing.
pub(crate) fn refuse_shallow(git: &Repository) -> Result<()> {
    if !git.is_shallow() {
        return Ok(());
    }
    let at = git.workdir().unwrap_or_else(|| git.path());
    Err(preflight(
        format!(
            "{} is a shallow clone: the changelog and the ancestry checks need the whole history",
            shown(at)
        ),
        "fetch the rest with `git fetch --unshallow`, or clone without --depth",
    ))
}

impl Repo {
    /// Finds the repository at or above `dir` (as git does). Not a repository is a preflight
    /// failure naming the directory.
    pub fn open(dir: &Path) -> Result<Repo> {
        match Repository::discover(dir) {
            Ok(git) => {
                refuse_shallow(&git)?;
                Ok(Repo { git })
            }
            Err(e) if e.code() == ErrorCode::NotFound => Err(preflight(
                format!("{} is not in a git repository", shown(dir)),
                "run this inside a clone of the application's repository, or pass -C PATH",
            )),
            Err(e) => Err(failed(
                format!(
                    "cannot open the git repository at {}: {}",
                    shown(dir),
                    e.message()
                ),
                "check the directory's permissions and that `git status` works there",
            )),
        }
    }

    /// The work tree, or the git directory of a bare repository: what people call "the repo".
    pub fn location(&self) -> PathBuf {
        // Components drop the trailing slash libgit2 keeps.
        self.git
            .workdir()
            .unwrap_or_else(|| self.git.path())
            .components()
            .collect()
    }

    /// The `.git` directory (per worktree).
    pub fn git_dir(&self) -> &Path {
        self.git.path()
    }

    /// The URL of a remote; a missing remote is a preflight failure.
    pub fn remote_url(&self, name: &str) -> Result<String> {
        match self.git.find_remote(name) {
            Ok(r) => Ok(r.url().unwrap_or_default().to_string()),
            Err(e) if matches!(e.code(), ErrorCode::NotFound | ErrorCode::InvalidSpec) => {
                let others: Vec<String> = self
                    .git
                    .remotes()
                    .map(|rs| rs.iter().flatten().flatten().map(str::to_string).collect())
                    .unwrap_or_default();
                let hint = if others.is_empty() {
                    format!("add it: git remote add {name} URL (or set git.remote)")
                } else {
                    format!(
                        "add it (git remote add {name} URL), or set git.remote to one of: {}",
                        others.join(", ")
                    )
                };
                Err(preflight(
                    format!("the repository has no remote `{name}`"),
                    hint,
                ))
            }
            Err(e) => Err(failed(
                format!("cannot read remote `{name}`: {}", e.message()),
                "check .git/config",
            )),
        }
    }

    /// A value of git config (repository, then global), if set.
    pub fn config_string(&self, key: &str) -> Option<String> {
        self.git
            .config()
            .ok()?
            .get_string(key)
            .ok()
            .filter(|s| !s.is_empty())
    }

    /// The object a full ref name points at (peeled to its target, not to a commit).
    pub fn ref_target(&self, refname: &str) -> Option<Oid> {
        self.git.refname_to_id(refname).ok()
    }

    /// `refs/remotes/<remote>/<branch>`.
    pub fn remote_branch(&self, remote: &str, branch: &str) -> Option<Oid> {
        self.ref_target(&format!("refs/remotes/{remote}/{branch}"))
    }

    /// `refs/heads/<branch>`.
    pub fn local_branch(&self, branch: &str) -> Option<Oid> {
        self.ref_target(&format!("refs/heads/{branch}"))
    }

    /// Where `branch` is checked out: this work tree or another of the repository's
    /// (`git worktree add`); `None` when no work tree has it. Moving it would change the files
    /// under someone's feet.
    pub fn checked_out_at(&self, branch: &str) -> Option<PathBuf> {
        if self.head_branch().as_deref() == Some(branch) {
            return Some(self.location());
        }
        let names = self.git.worktrees().ok()?;
        names.iter().flatten().flatten().find_map(|name| {
            let wt = self.git.find_worktree(name).ok()?;
            let repo = Repository::open_from_worktree(&wt).ok()?;
            let head = repo.head().ok()?;
            (head.is_branch() && head.shorthand().ok() == Some(branch))
                .then(|| wt.path().to_path_buf())
        })
    }

    /// The checked-out branch's short name, if HEAD is on a branch.
    pub fn head_branch(&self) -> Option<String> {
        let head = self.git.head().ok()?;
        if !head.is_branch() {
            return None;
        }
        head.shorthand().ok().map(str::to_string)
    }

    /// Resolves anything `git rev-parse` accepts to a commit; `None` when it names nothing (or
    /// something that is not a commit).
    pub fn resolve_commit(&self, spec: &str) -> Option<Oid> {
        let obj = self.git.revparse_single(spec).ok()?;
        obj.peel_to_commit().ok().map(|c| c.id())
    }

    pub fn commit_exists(&self, oid: Oid) -> bool {
        self.git.find_commit(oid).is_ok()
    }

    pub fn commit(&self, oid: Oid) -> Result<Commit<'_>> {
        self.git
            .find_commit(oid)
            .with_context(|| format!("reading commit {oid}"))
    }

    /// The first line of a commit's message.
    pub fn subject(&self, oid: Oid) -> String {
        self.git
            .find_commit(oid)
            .ok()
            .map(|c| summary_of(&c))
            .unwrap_or_default()
    }

    /// True when `ancestor` is `of` or one of its ancestors.
    pub fn is_ancestor(&self, ancestor: Oid, of: Oid) -> Result<bool> {
        if ancestor == of {
            return Ok(true);
        }
        self.git
            .graph_descendant_of(of, ancestor)
            .context("walking history")
    }

    /// Commits `local` has that `upstream` lacks, and the reverse.
    pub fn ahead_behind(&self, local: Oid, upstream: Oid) -> Result<(usize, usize)> {
        self.git
            .graph_ahead_behind(local, upstream)
            .context("comparing histories")
    }

    /// Short names of local and remote-tracking branches starting with `prefix` (the remote part
    /// stripped), de-duplicated and sorted.
    pub fn branches_with_prefix(&self, remote: &str, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        let patterns = [
            (format!("refs/heads/{prefix}*"), "refs/heads/".to_string()),
            (
                format!("refs/remotes/{remote}/{prefix}*"),
                format!("refs/remotes/{remote}/"),
            ),
        ];
        for (glob, strip) in patterns {
            if let Ok(refs) = self.git.references_glob(&glob) {
                for r in refs.flatten() {
                    if let Ok(name) = r.name() {
                        if let Some(short) = name.strip_prefix(&strip) {
                            out.push(short.to_string());
                        }
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Who commits: `GIT_COMMITTER_NAME`/`GIT_COMMITTER_EMAIL` (as git honours them), else
    /// `user.name`/`user.email`; the time is `at` in UTC. Missing identity: preflight failure.
    pub fn identity(&self, at: Timestamp) -> Result<Signature<'static>> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let name = env("GIT_COMMITTER_NAME").or_else(|| self.config_string("user.name"));
        let email = env("GIT_COMMITTER_EMAIL").or_else(|| self.config_string("user.email"));
        match (name, email) {
            (Some(n), Some(e)) => Signature::new(&n, &e, &Time::new(at.as_second(), 0))
                .context("building the committer identity"),
            _ => Err(preflight(
                "git does not know who you are (user.name and user.email are not set)",
                "git config --global user.name \"Your Name\" && git config --global user.email you@example.gov",
            )),
        }
    }

    /// Applies `picks` in order on top of `base`, each as a new commit keeping its author and
    /// message (plus git's `(cherry picked from commit ...)` line). Nothing but objects is
    /// written; the returned tip is referenced by no ref yet. Merge commits are refused (the
    /// caller checks that first); a conflict stops the series.
    pub fn cherry_pick_series(
        &self,
        base: Oid,
        picks: &[Oid],
        committer: &Signature<'_>,
    ) -> Result<std::result::Result<(Oid, Vec<Picked>), Conflict>> {
        let mut tip = base;
        let mut done = Vec::new();
        for &pick in picks {
            let source = self.commit(pick)?;
            let ours = self.commit(tip)?;
            let subject = summary_of(&source);
            let mut index = self
                .git
                .cherrypick_commit(&source, &ours, 0, None)
                .with_context(|| format!("cherry-picking {pick}"))?;
            if index.has_conflicts() {
                return Ok(Err(Conflict {
                    commit: pick,
                    subject,
                    paths: conflict_paths(&index),
                }));
            }
            let tree_id = index
                .write_tree_to(&self.git)
                .context("writing the cherry-picked tree")?;
            if tree_id == ours.tree_id() {
                done.push(Picked {
                    source: pick,
                    new: None,
                    subject,
                });
                continue;
            }
            let tree = self.git.find_tree(tree_id)?;
            let message = format!(
                "{}\n\n(cherry picked from commit {pick})\n",
                String::from_utf8_lossy(source.message_bytes()).trim_end()
            );
            let new = self
                .git
                .commit(None, &source.author(), committer, &message, &tree, &[&ours])
                .context("writing the cherry-picked commit")?;
            done.push(Picked {
                source: pick,
                new: Some(new),
                subject,
            });
            tip = new;
        }
        Ok(Ok((tip, done)))
    }

    /// The revert of merge `merge` against its parent number `mainline` (1-based), committed on
    /// top of `onto`, with git's message. Returns the new commit (referenced by no ref yet).
    /// `mainline` 0 reverts a commit that is not a merge (a squash-merged promotion), as
    /// `git revert` without `-m` does.
    pub fn revert_merge(
        &self,
        merge: Oid,
        mainline: u32,
        onto: Oid,
        committer: &Signature<'_>,
    ) -> Result<std::result::Result<Oid, Conflict>> {
        let merge_c = self.commit(merge)?;
        let ours = self.commit(onto)?;
        let parent = merge_c
            .parent_id(mainline.saturating_sub(1) as usize)
            .context("reading the merge's mainline parent")?;
        let mut index = self
            .git
            .revert_commit(&merge_c, &ours, mainline, None)
            .with_context(|| format!("reverting {merge}"))?;
        if index.has_conflicts() {
            return Ok(Err(Conflict {
                commit: merge,
                subject: summary_of(&merge_c),
                paths: conflict_paths(&index),
            }));
        }
        let tree_id = index
            .write_tree_to(&self.git)
            .context("writing the reverted tree")?;
        let tree = self.git.find_tree(tree_id)?;
        let message = revert_message(
            &summary_of(&merge_c),
            merge,
            (mainline > 0).then_some(parent),
        );
        let new = self
            .git
            .commit(None, committer, committer, &message, &tree, &[&ours])
            .context("writing the revert commit")?;
        Ok(Ok(new))
    }

    /// A merge with strategy "ours": `ours`' tree unchanged, parents `[ours, theirs]`.
    pub fn ours_merge(
        &self,
        ours: Oid,
        theirs: Oid,
        committer: &Signature<'_>,
        message: &str,
    ) -> Result<Oid> {
        let ours_c = self.commit(ours)?;
        let theirs_c = self.commit(theirs)?;
        let tree = ours_c.tree()?;
        self.git
            .commit(
                None,
                committer,
                committer,
                message,
                &tree,
                &[&ours_c, &theirs_c],
            )
            .context("writing the merge commit")
    }

    /// Creates or moves `refs/heads/<name>` (never the checked-out branch: callers check).
    pub fn set_branch(&self, name: &str, oid: Oid, log: &str) -> Result<()> {
        self.git
            .reference(&format!("refs/heads/{name}"), oid, true, log)
            .with_context(|| format!("creating branch {name}"))?;
        Ok(())
    }

    /// Records what the remote has (`refs/remotes/<remote>/<name>`), as a fetch would.
    pub fn set_remote_tracking(&self, remote: &str, name: &str, oid: Oid) -> Result<()> {
        self.git
            .reference(
                &format!("refs/remotes/{remote}/{name}"),
                oid,
                true,
                "login-release: pushed",
            )
            .with_context(|| format!("updating {remote}/{name}"))?;
        Ok(())
    }

    /// `branch.<name>.remote` and `.merge`, so the local branch tracks the remote one.
    pub fn set_upstream(&self, remote: &str, name: &str) -> Result<()> {
        let mut cfg = self.git.config().context("opening git config")?;
        cfg.set_str(&format!("branch.{name}.remote"), remote)?;
        cfg.set_str(
            &format!("branch.{name}.merge"),
            &format!("refs/heads/{name}"),
        )?;
        Ok(())
    }

    /// Deletes a ref if it exists (used to undo a local tag whose push failed).
    pub fn delete_ref(&self, refname: &str) -> Result<()> {
        match self.git.find_reference(refname) {
            Ok(mut r) => r.delete().with_context(|| format!("deleting {refname}")),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("reading {refname}")),
        }
    }
}

/// git's message for reverting a commit (with the mainline parent when it is a merge).
pub fn revert_message(subject: &str, reverted: Oid, mainline_parent: Option<Oid>) -> String {
    match mainline_parent {
        Some(p) => format!(
            "Revert \"{subject}\"\n\nThis reverts commit {reverted}, reversing\nchanges made to {p}.\n"
        ),
        None => format!("Revert \"{subject}\"\n\nThis reverts commit {reverted}.\n"),
    }
}

/// A commit's first line, lossily decoded.
pub fn summary_of(c: &Commit<'_>) -> String {
    c.summary_bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

fn conflict_paths(index: &git2::Index) -> Vec<String> {
    let mut paths: Vec<String> = index
        .conflicts()
        .map(|cs| {
            cs.flatten()
                .filter_map(|c| {
                    c.our
                        .or(c.their)
                        .or(c.ancestor)
                        .map(|e| String::from_utf8_lossy(&e.path).into_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths.dedup();
    paths
}

fn shown(dir: &Path) -> String {
    std::fs::canonicalize(dir)
        .unwrap_or_else(|_| dir.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_messages_match_git() {
        let a = Oid::from_str("1111111111111111111111111111111111111111").unwrap();
        let b = Oid::from_str("2222222222222222222222222222222222222222").unwrap();
        assert_eq!(
            revert_message(
                "Merge pull request #7 from 18F/stages/rc-2026-11-20",
                a,
                Some(b)
            ),
            "Revert \"Merge pull request #7 from 18F/stages/rc-2026-11-20\"\n\n\
             This reverts commit 1111111111111111111111111111111111111111, reversing\n\
             changes made to 2222222222222222222222222222222222222222.\n"
        );
        assert_eq!(
            revert_message("Fix", a, None),
            "Revert \"Fix\"\n\nThis reverts commit 1111111111111111111111111111111111111111.\n"
        );
    }
}
