//! Reading commits of a range with git2 (no `git` process).
//!
//! `base..source` means what `git log base..source` means: the commits reachable from `source`
//! and not from `base`, newest first. The revision walk hides `base`, pushes `source` and reads
//! each commit's subject and body once; nothing else is loaded (no trees, no diffs).

use anyhow::{Context as _, Result};
use git2::{Oid, Repository};

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
    let repo = Repository::discover(dir).map_err(|_| {
        preflight(
            format!("{} is not in a git repository", dir.display()),
            "run this inside a clone of the application's repository, or pass -C PATH",
        )
    })?;
    crate::git::repo::refuse_shallow(&repo)?;
    Ok(repo)
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
    let _fast = ReadOnlyWalk::start();
    let odb = repo.odb().context("opening the object database")?;
    let range = crate::git::walk::range(&odb, base, source, |oid, raw| {
        let message = message::of_raw_commit(raw);
        Commit {
            sha: message::hex(oid),
            subject: String::from_utf8(message::summary(message))
                .unwrap_or_else(|e| lossy(e.as_bytes())),
            body: lossy(message::body(message)),
        }
    })
    .context("walking the commits of the range")?;
    Ok(range.into_iter().map(|(_, commit)| commit).collect())
}

/// A commit message from the raw commit object, cut as libgit2's `git_commit_summary` and
/// `git_commit_body` cut it (so `subject` and `body` mean what they meant when they came from
/// git2's `summary()` and `body()`; a test holds the two together).
mod message {
    use git2::Oid;

    /// libgit2's `git__isspace`: C's whitespace.
    fn is_space(b: u8) -> bool {
        matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
    }

    /// The message: after the header's blank line (header lines are never empty, even a
    /// signature's continuation lines start with a space), up to a NUL as C reads it, with its
    /// leading newlines dropped.
    pub fn of_raw_commit(data: &[u8]) -> &[u8] {
        let Some(end) = memchr::memmem::find(data, b"\n\n") else {
            return &[];
        };
        let msg = &data[end + 2..];
        let msg = memchr::memchr(0, msg).map_or(msg, |nul| &msg[..nul]);
        let start = msg.iter().position(|&b| b != b'\n').unwrap_or(msg.len());
        &msg[start..]
    }

    /// The first paragraph on one line: it ends at an empty or blank line; a run of whitespace
    /// with a newline in it becomes one space, other runs stay; trailing whitespace goes.
    pub fn summary(msg: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(msg.len().min(128));
        let mut space: Option<(usize, bool)> = None;
        for (i, &c) in msg.iter().enumerate() {
            if c == b'\n' {
                let next = &msg[i + 1..];
                let content = next.iter().position(|&b| !is_space(b) || b == b'\n');
                if content.is_none_or(|k| next[k] == b'\n') {
                    break;
                }
            }
            if is_space(c) {
                let (start, newline) = space.unwrap_or((i, false));
                space = Some((start, newline || c == b'\n'));
            } else {
                match space.take() {
                    Some((_, true)) => out.push(b' '),
                    Some((start, false)) => out.extend_from_slice(&msg[start..i]),
                    None => {}
                }
                out.push(c);
            }
        }
        out
    }

    /// Everything after the first paragraph (which ends at an empty line), trimmed.
    pub fn body(msg: &[u8]) -> &[u8] {
        let end = msg
            .iter()
            .enumerate()
            .position(|(i, &b)| b == b'\n' && msg.get(i + 1).is_none_or(|&n| n == b'\n'))
            .unwrap_or(msg.len());
        let rest = &msg[end..];
        let start = rest
            .iter()
            .position(|&b| !is_space(b))
            .unwrap_or(rest.len());
        let stop = rest
            .iter()
            .rposition(|&b| !is_space(b))
            .map_or(start, |k| k + 1);
        &rest[start..stop]
    }

    /// The 40-hex sha, without the formatter machinery of `Display` (13,000 of them a run).
    pub fn hex(oid: Oid) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(40);
        for b in oid.as_bytes() {
            s.push(DIGITS[usize::from(b >> 4)] as char);
            s.push(DIGITS[usize::from(b & 15)] as char);
        }
        s
    }
}

/// libgit2's settings for reading a long range once, for the life of the value.
///
/// By default libgit2 hashes every object it reads to check it against its name (SHA-1 with
/// collision detection): reading 13,000 commits, that was 14% of the instructions of the whole
/// command, and `git log` does not do it. Its object cache is no use to a walk that reads each
/// object once. The changelog only reads messages, so both are off during the walk and back on
/// after it.
struct ReadOnlyWalk;

impl ReadOnlyWalk {
    fn start() -> Self {
        git2::opts::strict_hash_verification(false);
        git2::opts::enable_caching(false);
        ReadOnlyWalk
    }
}

impl Drop for ReadOnlyWalk {
    fn drop(&mut self) {
        git2::opts::strict_hash_verification(true);
        git2::opts::enable_caching(true);
    }
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

    /// Subject and body are read from the raw object, not from git2's `summary()` and `body()`:
    /// the two must agree on every shape of message, the odd ones included.
    #[test]
    fn subject_and_body_are_what_libgit2_makes_of_them() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let messages = [
            "Plain\n",
            "No newline",
            "",
            "\n\n\nLeading newlines\n\nbody\n",
            "  Leading spaces  and  runs\t\tkept \n\n body \n",
            "Folded\nsubject\n  over three\nlines\n\nbody\n",
            "Ends at a blank line\n   \nnot the body start\n\nbody\n",
            "Ends at a tab line\n\t\nrest\n",
            "Trailing spaces   \n\n\n  body with\n\n\nparagraphs  \n\n",
            "CRLF subject\r\n\r\nCRLF body\r\n",
            "Only subject\n\n   \n\t\n",
            "Unicode é ünïcode\n\nchangelog: Internal, Ça, va\n",
            "Subject\n\n* changelog: Bug Fixes, A, b\n* changelog: Internal, C, d\n",
            "\x0bVertical\x0ctab and form feed\n\n\x0b\n",
        ];
        let mut parent = None;
        let mut oids = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let oid = commit(&repo, m, parent, 1_000 + i as i64);
            oids.push(oid);
            parent = Some(oid);
        }
        let base = commit(&repo, "Root\n", None, 500);
        let got = commits_between(&repo, base, *oids.last().unwrap()).unwrap();
        assert_eq!(got.len(), messages.len());
        for (c, oid) in got.iter().rev().zip(&oids) {
            let want = repo.find_commit(*oid).unwrap();
            assert_eq!(c.sha, oid.to_string());
            assert_eq!(
                c.subject.as_bytes(),
                want.summary_bytes().unwrap_or_default(),
                "{:?}",
                want.message()
            );
            assert_eq!(
                c.body.as_bytes(),
                want.body_bytes().unwrap_or_default(),
                "{:?}",
                want.message()
            );
        }
    }

    /// The walk is ours (src/git/walk.rs): over merges, it keeps what libgit2's revwalk keeps,
    /// in the same order while clocks go forward; with a commit dated before its parent it
    /// keeps the same commits in the order `git log` prints them.
    #[test]
    fn ranges_over_merges_match_libgit2s_walk() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let merge = |msg: &str, a: Oid, b: Oid, time: i64| -> Oid {
            let sig = Signature::new("T", "t@example.gov", &git2::Time::new(time, 0)).unwrap();
            let tree = repo.find_commit(a).unwrap().tree().unwrap();
            let (a, b) = (repo.find_commit(a).unwrap(), repo.find_commit(b).unwrap());
            repo.commit(None, &sig, &sig, msg, &tree, &[&a, &b])
                .unwrap()
        };
        let r = commit(&repo, "r\n", None, 100);
        let a = commit(&repo, "a\n", Some(r), 200);
        let b = commit(&repo, "b\n", Some(a), 300);
        let prod = commit(&repo, "prod\n", Some(b), 400);
        let c = commit(&repo, "c\n", Some(a), 250);
        let d = commit(&repo, "d\n", Some(c), 450);
        let main = merge("merge prod into main\n", d, prod, 600);
        let f = commit(&repo, "f\n", Some(main), 650);
        let libgit2 = |base: Oid, source: Oid| -> Vec<String> {
            let mut w = repo.revwalk().unwrap();
            w.set_sorting(git2::Sort::TIME).unwrap();
            w.push(source).unwrap();
            w.hide(base).unwrap();
            w.map(|o| o.unwrap().to_string()).collect()
        };
        let ours = |base: Oid, source: Oid| -> Vec<String> {
            commits_between(&repo, base, source)
                .unwrap()
                .into_iter()
                .map(|c| c.sha)
                .collect()
        };
        for (base, source) in [(prod, f), (b, f), (r, f), (c, prod), (f, prod), (d, main)] {
            assert_eq!(
                ours(base, source),
                libgit2(base, source),
                "{base}..{source}"
            );
        }
        assert_eq!(
            ours(prod, f),
            [f, main, d, c].map(|o| o.to_string()),
            "merges and their sides, newest first"
        );
        // `e` is dated before its parent `d` (a clock that went backwards).
        let e = commit(&repo, "e\n", Some(d), 150);
        let skewed = merge("merge b\n", e, b, 700);
        let mut got = ours(prod, skewed);
        assert_eq!(
            got,
            [skewed, e, d, c].map(|o| o.to_string()),
            "git log's order"
        );
        let mut want = libgit2(prod, skewed);
        got.sort();
        want.sort();
        assert_eq!(got, want, "the same commits");
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
