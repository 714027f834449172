//! The body of the promotion PR that cut-rc writes to a file.
//!
//! One place to swap: the lead replaces this with the changelog module at merge.

use anyhow::Result;
use git2::Oid;

use crate::git::repo::Repo;

/// The PR body for the commits in `base..tip`.
// replaced by crate::changelog::generate when the changelog module lands
pub fn generate(repo: &Repo, base: Option<Oid>, tip: Oid) -> Result<String> {
    let subjects = repo.subjects_between(base, tip)?;
    if subjects.is_empty() {
        return Ok("No changes.\n".to_string());
    }
    let mut out = String::new();
    for (_, subject) in subjects {
        out.push_str(&format!("- {subject}\n"));
    }
    Ok(out)
}
