//! The changelog of a range of commits, from the identity-idp `changelog:` lines.
//!
//! Pure except for [`generate`], which reads the commits with git2 and calls [`build`]:
//!
//! ```no_run
//! # fn demo(repo: &git2::Repository, settings: &login_release::config::Settings) -> anyhow::Result<()> {
//! use login_release::changelog;
//! let log = changelog::generate(repo, "origin/stages/prod", "stages/rc-2026-01-02", settings)?;
//! log.check(false)?;                 // the command's exit-3 rules
//! std::fs::write("body.md", log.markdown())?;
//! # Ok(()) }
//! ```
//!
//! - `trailer`: the `changelog: CATEGORY, SUBCATEGORY, CHANGE` line grammar;
//! - `category`: the four categories and the fuzzy match with did-you-mean;
//! - `entry`: what one commit yields (skip marker, dependabot, revert, every valid line);
//! - `render`: Markdown and the PR link base.
//!
//! Entries are grouped when category, subcategory and change are identical (their PR numbers are
//! merged, de-duplicated and sorted numerically) and ordered by category (the fixed order), then
//! subcategory ignoring case, then change text: the output does not depend on commit order.

pub mod category;
pub mod entry;
pub mod render;
pub mod trailer;

use rustc_hash::FxHashMap;

use anyhow::Result;
use serde::Serialize;

pub use self::category::Category;
use crate::config::Settings;
use crate::error::preflight;
pub use crate::git::log::Commit;

/// One line of the changelog: identical changes of several commits grouped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub category: Category,
    pub subcategory: String,
    pub change: String,
    /// PR numbers, ascending, each once.
    pub pull_requests: Vec<u64>,
    /// The commits it came from, newest first.
    pub commits: Vec<String>,
}

/// A commit that is not skipped and has no valid changelog line, or has a bad one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invalid {
    pub sha: String,
    pub short_sha: String,
    pub subject: String,
    pub reason: String,
}

impl Invalid {
    /// `1a2b3c4 "Subject (#12)": reason`, for warnings and the `--include-invalid` block.
    pub fn describe(&self) -> String {
        format!("{} \"{}\": {}", self.short_sha, self.subject, self.reason)
    }
}

/// A commit left out with `[skip changelog]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub sha: String,
    pub subject: String,
}

/// The range a changelog was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Range {
    pub base: String,
    pub base_sha: String,
    pub source: String,
    pub source_sha: String,
}

/// A whole changelog: the entries to print and what was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changelog {
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub range: Option<Range>,
    /// How many commits the range holds.
    pub commits: usize,
    /// Base of PR links (`https://github.com/OWNER/NAME`); `None` prints bare `#N`.
    pub link_base: Option<String>,
    pub entries: Vec<Entry>,
    /// In git-log order (newest first).
    pub invalid: Vec<Invalid>,
    pub skipped: Vec<Skipped>,
}

/// How a reason is worded when a commit has no changelog line at all.
pub const NO_LINE: &str = "no `changelog:` line";

/// The changelog of some commits (newest first, as `git log` lists them).
pub fn build(commits: &[Commit], link_base: Option<String>) -> Changelog {
    // Identical (category, subcategory, change) lines share one entry. Hashed with FxHash:
    // SipHash's resistance to chosen keys buys nothing over commit messages and cost a tenth of
    // the build (`make bench`).
    let mut index: FxHashMap<(Category, String, String), usize> = FxHashMap::default();
    let mut entries: Vec<Entry> = Vec::new();
    let mut invalid = Vec::new();
    let mut skipped = Vec::new();
    for commit in commits {
        let (changes, problems) = match entry::read(commit) {
            entry::Outcome::Skipped => {
                skipped.push(Skipped {
                    sha: commit.sha.clone(),
                    subject: commit.subject.clone(),
                });
                continue;
            }
            entry::Outcome::Read { changes, problems } => (changes, problems),
        };
        if changes.is_empty() || !problems.is_empty() {
            invalid.push(Invalid {
                sha: commit.sha.clone(),
                short_sha: commit.short_sha().to_string(),
                subject: commit.subject.clone(),
                reason: if problems.is_empty() {
                    NO_LINE.to_string()
                } else {
                    problems.join("; ")
                },
            });
        }
        let pr = entry::pr_number(&commit.subject);
        for c in changes {
            let key = (c.category, c.subcategory, c.change);
            // The texts live in the index's key until the end (no copy per entry): an entry
            // gets them back once every commit is read.
            let i = match index.get(&key) {
                Some(i) => *i,
                None => {
                    entries.push(Entry {
                        category: key.0,
                        subcategory: String::new(),
                        change: String::new(),
                        pull_requests: Vec::new(),
                        commits: Vec::new(),
                    });
                    index.insert(key, entries.len() - 1);
                    entries.len() - 1
                }
            };
            let e = &mut entries[i];
            if let Some(n) = pr {
                e.pull_requests.push(n);
            }
            if e.commits.last() != Some(&commit.sha) {
                e.commits.push(commit.sha.clone());
            }
        }
    }
    for ((_, subcategory, change), i) in index {
        entries[i].subcategory = subcategory;
        entries[i].change = change;
    }
    for e in &mut entries {
        e.pull_requests.sort_unstable();
        e.pull_requests.dedup();
    }
    // Category, then each text case-insensitive, then exact: one key per entry, computed once,
    // so that a comparison is one byte comparison. The texts are joined with NUL, which sorts
    // before every other byte and never occurs in them (a commit message ends at a NUL), so
    // the joined keys order as the tuples would. No two entries are equal (identical lines were
    // merged above): an unstable sort orders them as a stable one would. It sorts positions,
    // not the entries, which are too big to move around.
    let mut order: Vec<(Vec<u8>, usize)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (sort_key(e), i))
        .collect();
    order.sort_unstable();
    let mut slots: Vec<Option<Entry>> = entries.into_iter().map(Some).collect();
    let entries = order
        .into_iter()
        .map(|(_, i)| slots[i].take().expect("each position once"))
        .collect();
    Changelog {
        range: None,
        commits: commits.len(),
        link_base,
        entries,
        invalid,
        skipped,
    }
}

/// An entry's place in the changelog as bytes: category, subcategory lower-cased then as
/// written, change lower-cased then as written.
fn sort_key(e: &Entry) -> Vec<u8> {
    let (sub, change) = (e.subcategory.as_str(), e.change.as_str());
    let mut key = Vec::with_capacity(1 + 2 * (sub.len() + change.len()) + 3);
    key.push(e.category as u8);
    for text in [
        sub.to_lowercase().as_str(),
        sub,
        &change.to_lowercase(),
        change,
    ] {
        key.extend_from_slice(text.as_bytes());
        key.push(0);
    }
    key
}

/// `<git.remote>/<git.prod_branch>`: `origin/stages/prod` by default.
pub fn default_base(settings: &Settings) -> String {
    format!("{}/{}", settings.git.remote, settings.git.prod_branch)
}

/// Reads `base..source` from the repository and builds its changelog. PR links point at the
/// `github.web_url` setting, else at the GitHub repository of the `git.remote` remote.
/// Unknown revisions are preflight errors (exit 3) with a hint.
pub fn generate(
    repo: &git2::Repository,
    base: &str,
    source: &str,
    settings: &Settings,
) -> Result<Changelog> {
    let base_id = crate::git::log::resolve_commit(repo, base, "--base")?;
    let source_id = crate::git::log::resolve_commit(repo, source, "--source")?;
    let mut log = generate_between(repo, base_id, source_id, settings)?;
    log.range = Some(Range {
        base: base.to_string(),
        base_sha: base_id.to_string(),
        source: source.to_string(),
        source_sha: source_id.to_string(),
    });
    Ok(log)
}

/// The changelog of `base_id..source_id` (already resolved commits), with PR links from the
/// settings or the remote's GitHub address. `range` is left for the caller to describe.
pub fn generate_between(
    repo: &git2::Repository,
    base_id: git2::Oid,
    source_id: git2::Oid,
    settings: &Settings,
) -> Result<Changelog> {
    use crate::git::log;
    let started = std::time::Instant::now();
    let commits = log::commits_between(repo, base_id, source_id)?;
    let read = started.elapsed();
    let remote = log::remote_url(repo, &settings.git.remote);
    let links = render::link_base(&settings.github.web_url, remote.as_deref());
    let log = build(&commits, links);
    tracing::debug!(
        commits = commits.len(),
        read_ms = read.as_secs_f64() * 1e3,
        built_ms = (started.elapsed() - read).as_secs_f64() * 1e3,
        "changelog of {base_id}..{source_id}"
    );
    Ok(log)
}

/// The `help:` line of "no valid changelog line": the format, an example and the categories.
pub fn format_help() -> String {
    format!(
        "add a line `changelog: CATEGORY, SUBCATEGORY, CHANGE` to a commit message, after a blank \
         line (example: `changelog: User-Facing Improvements, Authentication, Updating \
         Authentication (LG-9998)`); categories: {}; put `{}` in a commit message to bypass this \
         check",
        Category::list(),
        entry::SKIP_MARKER
    )
}

impl Changelog {
    /// The Markdown for the promotion PR (never the invalid commits).
    pub fn markdown(&self) -> String {
        render::markdown(self)
    }

    /// The Markdown followed by an `## Invalid Changelog Entries` block, when there are any.
    pub fn markdown_with_invalid(&self) -> String {
        render::markdown_with_invalid(self)
    }

    /// `origin/stages/prod..HEAD`, or `the range` for a changelog built from bare commits.
    pub fn range_text(&self) -> String {
        match &self.range {
            Some(r) => format!("{}..{}", r.base, r.source),
            None => "the range".to_string(),
        }
    }

    /// The checks that make `changelog` exit 3: an empty range; no valid entry and no skip
    /// marker; with `strict`, any invalid commit.
    pub fn check(&self, strict: bool) -> Result<()> {
        let range = self.range_text();
        if self.commits == 0 {
            return Err(preflight(
                format!("{range} has no commits"),
                "the source is already contained in the base: check --base and --source",
            ));
        }
        if self.entries.is_empty() && self.skipped.is_empty() {
            return Err(preflight(
                format!(
                    "a valid changelog line was not found in {range} ({} {})",
                    self.commits,
                    plural(self.commits, "commit", "commits")
                ),
                format_help(),
            ));
        }
        if strict && !self.invalid.is_empty() {
            let n = self.invalid.len();
            return Err(preflight(
                format!(
                    "{n} {} in {range} {} an invalid or missing changelog line (--strict)",
                    plural(n, "commit", "commits"),
                    plural(n, "has", "have")
                ),
                "fix the lines the warnings name (the PR's squash message is where they come \
                 from), or add `[skip changelog]`; without --strict they are only warnings",
            ));
        }
        Ok(())
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

#[cfg(test)]
mod tests;
