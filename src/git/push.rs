//! Pushing refs, with every ref's result checked (libgit2 reports rejections per ref through the
//! `push_update_reference` callback, not as an error), and reading back what the remote has.

use std::cell::RefCell;

use anyhow::Result;
use git2::{Oid, PushOptions, RemoteCallbacks};

use crate::error::{failed, partial};
use crate::git::remote::{last_line, Remote, Transport};

/// One ref to create or move on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// What the ref should point at.
    pub target: Oid,
    /// Full ref name on the remote, e.g. `refs/heads/stages/rc-2026-11-20`.
    pub dst: String,
    /// Allow a non-fast-forward update (only RC branches may be forced: see [`check_force`]).
    pub force: bool,
}

impl RefUpdate {
    pub fn new(target: Oid, dst: impl Into<String>) -> Self {
        RefUpdate {
            target,
            dst: dst.into(),
            force: false,
        }
    }

    fn refspec(&self) -> String {
        format!(
            "{}{}:{}",
            if self.force { "+" } else { "" },
            self.target,
            self.dst
        )
    }
}

/// Force-pushing is allowed only for RC branches (`refs/heads/<rc_prefix>...`); `main`,
/// `stages/prod`, tags and everything else never.
pub fn check_force(update: &RefUpdate, rc_prefix: &str) -> Result<()> {
    if !update.force {
        return Ok(());
    }
    let allowed = update
        .dst
        .strip_prefix("refs/heads/")
        .is_some_and(|b| !rc_prefix.is_empty() && b.starts_with(rc_prefix));
    if allowed {
        Ok(())
    } else {
        Err(failed(
            format!("refusing to force-push {}", update.dst),
            format!("only RC branches ({rc_prefix}*) may be force-pushed"),
        ))
    }
}

/// The remote's answer for one ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefResult {
    pub dst: String,
    pub answer: Answer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    /// The remote refused it, for this reason.
    Rejected(String),
    /// The remote said nothing about it (the connection died, or the program stopped): the
    /// update may have been made. [`push`] reads the remote back to find out.
    Unanswered(String),
}

impl RefResult {
    /// The reason the ref was not updated, if it was not.
    pub fn rejected(&self) -> Option<&str> {
        match &self.answer {
            Answer::Accepted => None,
            Answer::Rejected(why) | Answer::Unanswered(why) => Some(why),
        }
    }
}

/// Pushes the updates in one go and returns an error naming every rejected ref. Nothing is
/// retried; the caller decides how to undo local changes. A ref whose answer was lost is read
/// back from the remote: at its target it was pushed; elsewhere it was not; unreadable, the
/// outcome is unknown (exit 4), since the remote may have made it.
pub fn push(remote: &Remote<'_>, updates: &[RefUpdate], rc_prefix: &str) -> Result<()> {
    for u in updates {
        check_force(u, rc_prefix)?;
    }
    let mut results = match remote.transport {
        Transport::Lib => push_lib(remote, updates)?,
        Transport::Cli => push_cli(remote, updates)?,
    };
    for r in results.iter_mut() {
        if let Answer::Unanswered(why) = &r.answer {
            let target = updates.iter().find(|u| u.dst == r.dst).map(|u| u.target);
            r.answer = read_back(remote, &r.dst, target, why)?;
        }
    }
    let rejected: Vec<String> = results
        .iter()
        .filter_map(|r| r.rejected().map(|why| format!("{} ({why})", r.dst)))
        .collect();
    if !rejected.is_empty() {
        return Err(rejected_error(remote, &rejected.join(", ")));
    }
    Ok(())
}

/// What became of a ref the remote did not answer for, from what the remote has now.
fn read_back(remote: &Remote<'_>, dst: &str, target: Option<Oid>, why: &str) -> Result<Answer> {
    match remote.remote_ref(dst) {
        Ok(now) if now.is_some() && now == target => Ok(Answer::Accepted),
        Ok(_) => Ok(Answer::Rejected(format!(
            "{why}; {} does not have it",
            remote.name
        ))),
        Err(e) => Err(partial(
            format!(
                "outcome unknown: the push of {dst} was sent to {r}, but its answer was lost \
                 ({why}) and reading {r} back failed too ({}): it may have been applied",
                crate::error::report(&e).message,
                r = remote.name
            ),
            format!(
                "when {r} answers again, run the same command again: it finds what {r} has \
                 (`git ls-remote {r} {dst}` shows it{})",
                target.map_or(String::new(), |t| format!("; pushed, it is at {t}")),
                r = remote.name
            ),
        )),
    }
}

fn rejected_error(remote: &Remote<'_>, what: &str) -> anyhow::Error {
    failed(
        format!("{} rejected the push of {what}", remote.name),
        "check your push rights and the remote's branch and tag protection, then run again",
    )
}

fn push_lib(remote: &Remote<'_>, updates: &[RefUpdate]) -> Result<Vec<RefResult>> {
    let mut r = remote.repo.git.find_remote(&remote.name)?;
    let results: RefCell<Vec<RefResult>> = RefCell::new(Vec::new());
    let specs: Vec<String> = updates.iter().map(RefUpdate::refspec).collect();
    let failure = {
        let mut cbs = RemoteCallbacks::new();
        cbs.push_update_reference(|refname, status| {
            results.borrow_mut().push(RefResult {
                dst: refname.to_string(),
                answer: status.map_or(Answer::Accepted, |s| Answer::Rejected(s.to_string())),
            });
            Ok(())
        });
        let mut opts = PushOptions::new();
        opts.remote_callbacks(cbs);
        let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
        // A non-fast-forward or an unreachable remote arrives as an error, with no answer
        // per ref: the read-back tells which it was.
        r.push(&specs, Some(&mut opts))
            .err()
            .map(|e| e.message().to_string())
    };
    let mut results = results.into_inner();
    for u in updates {
        if !results.iter().any(|r| r.dst == u.dst) {
            results.push(RefResult {
                dst: u.dst.clone(),
                answer: Answer::Unanswered(
                    failure
                        .clone()
                        .unwrap_or_else(|| "no status reported".into()),
                ),
            });
        }
    }
    Ok(results)
}

fn push_cli(remote: &Remote<'_>, updates: &[RefUpdate]) -> Result<Vec<RefResult>> {
    let specs: Vec<String> = updates.iter().map(RefUpdate::refspec).collect();
    let mut args = vec!["push", "--porcelain", remote.name.as_str()];
    args.extend(specs.iter().map(String::as_str));
    let out = remote.git(&args)?;
    let mut results = parse_porcelain(&String::from_utf8_lossy(&out.stdout));
    // What the remote's hooks printed explains a rejection best.
    let said: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("remote: "))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(crate::types::redact_credentials)
        .collect();
    if !said.is_empty() {
        for r in results.iter_mut() {
            if let Answer::Rejected(why) = &mut r.answer {
                why.push_str(&format!("; the remote said: {}", said.join(" / ")));
            }
        }
    }
    // git prints nothing for a ref when the connection died before the remote's report; and
    // a failed run that claims every ref is not believed either way.
    if !out.status.success() && results.iter().all(|r| r.answer == Answer::Accepted) {
        results.clear();
    }
    for u in updates {
        if !results.iter().any(|r| r.dst == u.dst) {
            results.push(RefResult {
                dst: u.dst.clone(),
                answer: Answer::Unanswered(last_line(&out.stderr)),
            });
        }
    }
    Ok(results)
}

/// `git push --porcelain` lines: `<flag>\t<from>:<to>\t<summary>`; `!` is a rejection.
pub fn parse_porcelain(stdout: &str) -> Vec<RefResult> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let flag = parts.next()?;
            let spec = parts.next()?;
            let summary = parts.next().unwrap_or("").trim();
            if flag.chars().count() != 1 {
                return None;
            }
            let dst = spec.rsplit_once(':').map_or(spec, |(_, d)| d).to_string();
            let answer = match flag {
                "!" => Answer::Rejected(
                    summary
                        .trim_start_matches('[')
                        .replace("] (", ": ")
                        .trim_end_matches([']', ')'])
                        .to_string(),
                ),
                _ => Answer::Accepted,
            };
            Some(RefResult { dst, answer })
        })
        .collect()
}

/// Reads back each ref from the remote and fails (as a partial change) when one is not where
/// the push should have put it.
pub fn verify(remote: &Remote<'_>, expected: &[(String, Oid)], undo: &str) -> Result<()> {
    for (refname, oid) in expected {
        let now = remote.remote_ref(refname)?;
        if now != Some(*oid) {
            return Err(partial(
                format!(
                    "the push reported success, but {} has {refname} at {} instead of {oid}",
                    remote.name,
                    now.map_or("nothing".to_string(), |o| o.to_string()),
                ),
                undo.to_string(),
            ));
        }
    }
    Ok(())
}

/// What happened to the local branch after its remote twin was pushed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "local")]
pub enum LocalBranch {
    /// Created at the pushed commit, tracking the remote branch.
    Created,
    /// Fast-forwarded to the pushed commit.
    Moved,
    /// Already at the pushed commit.
    Unchanged,
    /// Left where it was (checked out, or it has commits the remote lacks): the reason says.
    LeftBehind { reason: String },
}

/// Pushes `oid` to `refs/heads/<branch>` on the remote, checks the remote has it, then records
/// it locally (remote-tracking ref, local branch tracking it) without touching the work tree or
/// the checked-out branch. A failure after the push is a partial change (exit 4) saying how to
/// finish by hand.
pub fn publish_branch(
    remote: &Remote<'_>,
    branch: &str,
    oid: Oid,
    rc_prefix: &str,
) -> Result<LocalBranch> {
    let dst = format!("refs/heads/{branch}");
    push(remote, &[RefUpdate::new(oid, dst.clone())], rc_prefix)?;
    let undo = format!(
        "the push may not have landed: compare `git ls-remote {} {dst}` with {oid}, then run again",
        remote.name
    );
    verify(remote, &[(dst, oid)], &undo)?;
    record_local(remote, branch, oid).map_err(|e| {
        partial(
            format!(
                "pushed {branch} to {} at {oid}, but recording it locally failed: {e:#}",
                remote.name
            ),
            format!(
                "finish by hand: git fetch {r} && git branch --track {branch} {r}/{branch}",
                r = remote.name
            ),
        )
    })
}

fn record_local(remote: &Remote<'_>, branch: &str, oid: Oid) -> Result<LocalBranch> {
    let repo = remote.repo;
    repo.set_remote_tracking(&remote.name, branch, oid)?;
    // Checked out here or in another work tree: moving it would change files under someone.
    let checked_out = repo.checked_out_at(branch);
    let here = checked_out.as_deref() == Some(repo.location().as_path());
    let elsewhere = checked_out
        .filter(|_| !here)
        .map(|p| p.display().to_string());
    let state = match repo.local_branch(branch) {
        None => {
            repo.set_branch(branch, oid, "login-release: branch from the pushed commit")?;
            LocalBranch::Created
        }
        Some(l) if l == oid => LocalBranch::Unchanged,
        Some(_) if here => LocalBranch::LeftBehind {
            reason: format!(
                "it is checked out; run `git pull` to bring it to {}/{branch}",
                remote.name
            ),
        },
        Some(_) if elsewhere.is_some() => LocalBranch::LeftBehind {
            reason: format!(
                "it is checked out in the work tree {}; run `git pull` there to bring it to {}/{branch}",
                elsewhere.clone().unwrap_or_default(),
                remote.name
            ),
        },
        Some(l) if repo.is_ancestor(l, oid)? => {
            repo.set_branch(
                branch,
                oid,
                "login-release: fast-forward to the pushed commit",
            )?;
            LocalBranch::Moved
        }
        Some(_) => LocalBranch::LeftBehind {
            reason: format!("it has commits {}/{branch} lacks", remote.name),
        },
    };
    repo.set_upstream(&remote.name, branch)?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid() -> Oid {
        Oid::from_str("1111111111111111111111111111111111111111").unwrap()
    }

    #[test]
    fn force_only_for_rc_branches() {
        let mut u = RefUpdate::new(oid(), "refs/heads/stages/rc-2026-11-20");
        u.force = true;
        assert!(check_force(&u, "stages/rc-").is_ok());
        for dst in [
            "refs/heads/main",
            "refs/heads/stages/prod",
            "refs/tags/stages/rc-x",
            "refs/heads/revert-rc-1",
        ] {
            let mut u = RefUpdate::new(oid(), dst);
            u.force = true;
            assert!(check_force(&u, "stages/rc-").is_err(), "{dst}");
            u.force = false;
            assert!(check_force(&u, "stages/rc-").is_ok(), "{dst}");
        }
        assert!(
            check_force(&u, "").is_err(),
            "an empty prefix allows no force"
        );
        assert_eq!(
            RefUpdate {
                force: true,
                ..RefUpdate::new(oid(), "refs/heads/x")
            }
            .refspec(),
            format!("+{}:refs/heads/x", oid())
        );
    }

    #[test]
    fn porcelain_results() {
        let out = "To /tmp/origin.git\n\
                   *\t1111111111111111111111111111111111111111:refs/heads/stages/rc-2026-11-20\t[new branch]\n\
                   !\t2222222222222222222222222222222222222222:refs/tags/2026-11-20T184808\t[remote rejected] (pre-receive hook declined)\n\
                   Done\n";
        let r = parse_porcelain(out);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].dst, "refs/heads/stages/rc-2026-11-20");
        assert_eq!(r[0].answer, Answer::Accepted);
        assert_eq!(r[1].dst, "refs/tags/2026-11-20T184808");
        assert_eq!(
            r[1].rejected(),
            Some("remote rejected: pre-receive hook declined")
        );
        let r = parse_porcelain("!\trefs/heads/a:refs/heads/a\t[rejected] (non-fast-forward)\n");
        assert_eq!(r[0].rejected(), Some("rejected: non-fast-forward"));
    }
}
