//! The release record on the remote: one ref per environment (`deploy.record_ref`, default
//! `refs/login-release/deploys/{env}`) pointing at a chain of commits, each holding one file,
//! `record.json`, with a message saying what changed. Nothing rides on one laptop: any clone
//! reads it by fetching that ref.
//!
//! Every write is a fast-forward push of a new commit whose parent is the head we read. Two
//! writers that read the same head cannot both win: the remote takes the first and refuses the
//! second, which is told "the record moved under us". That push is the lock.
//!
//! Objects are written with git2 and never touch the work tree, the index or HEAD.

use anyhow::{Context as _, Result};
use git2::{Oid, Signature, Time};
use jiff::Timestamp;

use super::record::{Actor, Record, Start, TransitionError};
use crate::config::Settings;
use crate::error::{failed, AppError, Kind};
use crate::git::push::{push, RefUpdate};
use crate::git::remote::{Remote, Transport};
use crate::git::repo::Repo;

/// The one file in each record commit's tree.
pub const RECORD_FILE: &str = "record.json";

/// A record as read, and the commit it was read from (the `expected` head of the next save).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub record: Record,
    pub head: Oid,
}

/// Why a save did not land because someone else wrote first.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub refname: String,
    pub expected: Option<Oid>,
    /// What the remote has now.
    pub found: Option<Oid>,
    /// The record there now, when it could be read: who holds it, since when, at which step.
    pub current: Option<Record>,
}

impl Conflict {
    fn holder_text(&self) -> String {
        self.current.as_ref().map_or_else(
            || "its holder is unknown".to_string(),
            Record::describe_holder,
        )
    }

    /// The user-facing error (exit 1): nothing of ours was written.
    pub fn into_error(self) -> anyhow::Error {
        AppError::new(
            Kind::Failed,
            format!(
                "the record moved under us (another writer): {} is now at {} ({}), we expected {}",
                self.refname,
                self.found.map_or("nothing".to_string(), short),
                self.holder_text(),
                self.expected.map_or("nothing".to_string(), short),
            ),
        )
        .with_hint("`login-release deploy status` shows the release as it stands now; resume only if you hold it")
        .into()
    }
}

/// A save's failure: a conflict (someone else wrote first) or anything else (network, rights).
#[derive(Debug)]
pub enum SaveError {
    Conflict(Box<Conflict>),
    Other(anyhow::Error),
}

impl SaveError {
    pub fn into_error(self) -> anyhow::Error {
        match self {
            SaveError::Conflict(c) => c.into_error(),
            SaveError::Other(e) => e,
        }
    }
}

fn short(oid: Oid) -> String {
    oid.to_string()[..10].to_string()
}

fn transition(e: TransitionError) -> anyhow::Error {
    AppError::from(e).into()
}

/// The records of one repository's remote.
pub struct Store<'r> {
    remote: Remote<'r>,
    pattern: String,
}

impl<'r> Store<'r> {
    /// The store on the configured remote (`git.remote`).
    ///
    /// Always through the `git` program, whatever `git.fetch_with_cli` says: libgit2's local
    /// transport updates an existing remote ref without checking its old value (a blind
    /// overwrite), so two writers could both "win". git's receive-pack updates the ref only if it
    /// still has the value the pusher saw, under the ref's lock: the compare-and-swap the lock
    /// rests on. Network remotes go through the `git` program anyway.
    pub fn new(repo: &'r Repo, settings: &Settings) -> Result<Store<'r>> {
        let remote = Remote::new(repo, &settings.git.remote, true)?;
        debug_assert_eq!(remote.transport, Transport::Cli);
        Ok(Store {
            remote,
            pattern: settings.deploy.record_ref.clone(),
        })
    }

    /// `refs/login-release/deploys/prod`.
    pub fn refname(&self, env: &str) -> String {
        Settings::expand(&self.pattern, &[("env", env)])
    }

    /// The environment's record as the remote has it now, or `None` when it never had one.
    pub fn load(&self, env: &str) -> Result<Option<Loaded>> {
        let refname = self.refname(env);
        let Some(remote_head) = self.remote.remote_ref(&refname)? else {
            return Ok(None);
        };
        if self.remote.repo.ref_target(&refname) == Some(remote_head) {
            return self.read(&refname, remote_head).map(Some);
        }
        // Forced: the remote is the truth, and a local copy may lag any number of commits.
        self.remote
            .fetch_refspec(&format!("+{refname}:{refname}"))?;
        // The remote may have moved again between the listing and the fetch: what was fetched
        // is the newest we know.
        let head = self
            .remote
            .repo
            .ref_target(&refname)
            .with_context(|| format!("{refname} is missing after fetching it"))?;
        self.read(&refname, head).map(Some)
    }

    fn read(&self, refname: &str, head: Oid) -> Result<Loaded> {
        let repo = &self.remote.repo.git;
        let blob = (|| -> std::result::Result<git2::Blob<'_>, git2::Error> {
            let tree = repo.find_commit(head)?.tree()?;
            let entry = tree
                .get_name(RECORD_FILE)
                .ok_or_else(|| git2::Error::from_str("no record.json in the commit"))?;
            repo.find_blob(entry.id())
        })()
        .map_err(|e| {
            failed(
                format!(
                    "{refname} at {} is not a release record: {}",
                    short(head),
                    e.message()
                ),
                format!("inspect it with `git log -p {refname}`"),
            )
        })?;
        let text = std::str::from_utf8(blob.content())
            .with_context(|| format!("{refname}: record.json is not UTF-8"))?;
        let record = Record::from_json(text)
            .with_context(|| format!("reading the release record at {refname}"))?;
        Ok(Loaded { record, head })
    }

    /// Writes `record` as a new commit on top of `expected` (`None`: the first record of the
    /// environment) and pushes it as a fast-forward. Returns the new head; a [`Conflict`] when the
    /// remote's ref is no longer at `expected`.
    pub fn save(
        &self,
        record: &Record,
        expected: Option<Oid>,
        message: &str,
        by: &Actor,
        now: Timestamp,
    ) -> std::result::Result<Oid, SaveError> {
        let refname = self.refname(&record.env);
        let oid = self
            .write_commit(record, expected, message, by, now)
            .map_err(SaveError::Other)?;
        if let Err(push_error) = push(&self.remote, &[RefUpdate::new(oid, refname.clone())], "") {
            // Rejected: because someone wrote first, or for another reason (rights, network)?
            // The remote's ref tells.
            let found = self.remote.remote_ref(&refname).map_err(SaveError::Other)?;
            if found == expected {
                return Err(SaveError::Other(push_error));
            }
            let current = self.load(&record.env).ok().flatten().map(|l| l.record);
            return Err(SaveError::Conflict(Box::new(Conflict {
                refname,
                expected,
                found,
                current,
            })));
        }
        self.remote
            .repo
            .git
            .reference(&refname, oid, true, "login-release: release record")
            .map_err(|e| SaveError::Other(e.into()))?;
        Ok(oid)
    }

    fn write_commit(
        &self,
        record: &Record,
        parent: Option<Oid>,
        message: &str,
        by: &Actor,
        now: Timestamp,
    ) -> Result<Oid> {
        let repo = &self.remote.repo.git;
        let blob = repo.blob(record.to_json().as_bytes())?;
        let mut tree = repo.treebuilder(None)?;
        tree.insert(RECORD_FILE, blob, 0o100644)?;
        let tree = repo.find_tree(tree.write()?)?;
        let sig = signature(by, now)?;
        let parents = match parent {
            Some(p) => vec![repo
                .find_commit(p)
                .with_context(|| format!("the record's head {p} is not in this repository"))?],
            None => Vec::new(),
        };
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        let message = format!("deploy {}: {message}\n", record.env);
        Ok(repo.commit(None, &sig, &sig, &message, &tree, &parents)?)
    }

    /// Starts a release: refuses while one is active for the environment, naming who holds it,
    /// since when and at which step. Of two concurrent starts exactly one wins; the other is
    /// refused the same way.
    pub fn acquire(&self, start: Start) -> Result<Loaded> {
        let env = start.env.clone();
        let loaded = self.load(&env)?;
        if let Some(l) = &loaded {
            if l.record.is_active() {
                return Err(active_error(&self.refname(&env), &l.record));
            }
        }
        let (by, now) = (start.actor.clone(), start.now);
        let record = Record::begin(start).map_err(transition)?;
        let expected = loaded.map(|l| l.head);
        let message = format!(
            "start {} {} release (lock taken by {})",
            record.app,
            match record.kind {
                super::calendar::DeployKind::Full => "full",
                super::calendar::DeployKind::Patch => "patch",
            },
            by
        );
        match self.save(&record, expected, &message, &by, now) {
            Ok(head) => Ok(Loaded { record, head }),
            Err(SaveError::Conflict(c)) => match c.current.as_ref() {
                Some(current) if current.is_active() => {
                    Err(active_error(&self.refname(&env), current))
                }
                _ => Err(c.into_error()),
            },
            Err(SaveError::Other(e)) => Err(e),
        }
    }

    /// Applies a transition to the environment's current record and saves it.
    pub fn update(
        &self,
        env: &str,
        message: &str,
        by: &Actor,
        now: Timestamp,
        change: impl FnOnce(&mut Record) -> std::result::Result<(), TransitionError>,
    ) -> Result<Loaded> {
        let loaded = self.load(env)?.ok_or_else(|| {
            AppError::new(
                Kind::Preflight,
                format!("no release has been started for {env}"),
            )
            .with_hint(format!(
                "start one with `login-release deploy start --env {env}`"
            ))
        })?;
        let mut record = loaded.record;
        change(&mut record).map_err(transition)?;
        let head = self
            .save(&record, Some(loaded.head), message, by, now)
            .map_err(SaveError::into_error)?;
        Ok(Loaded { record, head })
    }

    /// Takes the lock over (`--steal --reason`), recorded in the record.
    pub fn steal(&self, env: &str, by: &Actor, reason: &str, now: Timestamp) -> Result<Loaded> {
        self.update(
            env,
            &format!("lock stolen by {by}: {reason}"),
            by,
            now,
            |r| r.steal(by, reason, now),
        )
    }

    /// Ends the release without touching production, freeing the lock.
    pub fn abort(&self, env: &str, by: &Actor, reason: &str, now: Timestamp) -> Result<Loaded> {
        self.update(env, &format!("aborted by {by}: {reason}"), by, now, |r| {
            r.abort(by, reason, now)
        })
    }

    /// Ends a release whose steps are all done, freeing the lock.
    pub fn release_lock(&self, env: &str, by: &Actor, now: Timestamp) -> Result<Loaded> {
        self.update(env, "finished; lock released", by, now, |r| {
            r.finish(by, now)
        })
    }
}

/// The refusal of a second start (exit 3).
fn active_error(refname: &str, record: &Record) -> anyhow::Error {
    AppError::new(
        Kind::Preflight,
        format!(
            "a release of {} is already active for {}: {}",
            record.app,
            record.env,
            record.describe_holder()
        ),
    )
    .with_hint(format!(
        "wait for it to end, or take it over with `--steal --reason TEXT` (the record is {refname})"
    ))
    .into()
}

/// The commit's author and committer: the acting person's git identity (`Name <email>`), at the
/// caller's clock.
fn signature(by: &Actor, now: Timestamp) -> Result<Signature<'static>> {
    let (name, email) = match by.git.rsplit_once('<') {
        Some((n, e)) if e.ends_with('>') => (n.trim(), e.trim_end_matches('>').trim()),
        _ => (by.git.trim(), "login-release@localhost"),
    };
    let name = if name.is_empty() {
        "login-release"
    } else {
        name
    };
    Signature::new(name, email, &Time::new(now.as_second(), 0))
        .context("building the record commit's identity")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_from_git_identities() {
        let now = Timestamp::from_second(1_796_000_000).unwrap();
        let a = Actor {
            git: "Ann Lee <ann@example.gov>".into(),
            aws: "arn".into(),
        };
        let s = signature(&a, now).unwrap();
        assert_eq!(
            (s.name().ok(), s.email().ok()),
            (Some("Ann Lee"), Some("ann@example.gov"))
        );
        assert_eq!(s.when().seconds(), 1_796_000_000);
        let b = Actor {
            git: "ann".into(),
            aws: "arn".into(),
        };
        assert_eq!(
            signature(&b, now).unwrap().email().ok(),
            Some("login-release@localhost")
        );
    }
}
