//! GitHub's resources as we read them (releases, pull requests, labels, repositories) and the
//! outcomes of our operations: plain data, shared by the API calls and the rules.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A release, as `GET /repos/o/r/releases` lists it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Release {
    pub id: u64,
    /// The title people see; GitHub allows none.
    pub name: Option<String>,
    pub tag_name: String,
    pub draft: bool,
    pub prerelease: bool,
    pub html_url: String,
    #[serde(default)]
    pub body: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Label {
    pub name: String,
}

/// A PR's head or base.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PrRef {
    #[serde(rename = "ref")]
    pub ref_name: String,
    #[serde(default)]
    pub sha: String,
}

/// A pull request, as `GET /repos/o/r/pulls` lists it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PullRequest {
    pub number: u64,
    pub title: String,
    pub html_url: String,
    pub state: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub merged_at: Option<Timestamp>,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    #[serde(default)]
    pub labels: Vec<Label>,
    pub head: PrRef,
    pub base: PrRef,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CommitParent {
    #[allow(dead_code)]
    sha: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Commit {
    pub(crate) parents: Vec<CommitParent>,
}

/// The repository, as `GET /repos/o/r` shows it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Repository {
    pub full_name: String,
    pub html_url: String,
    #[serde(default)]
    pub default_branch: Option<String>,
}

/// A PR to open.
#[derive(Debug, Clone)]
pub struct NewPr<'a> {
    pub title: &'a str,
    /// A branch of this repository.
    pub head: &'a str,
    pub base: &'a str,
    pub body: &'a str,
    /// Labels to add once it is open.
    pub labels: &'a [&'a str],
}

/// What [`Client::open_pr`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrOutcome {
    Created,
    /// An open PR for the same head branch was there already; it was not duplicated.
    AlreadyOpen,
}

/// How a PR was merged, from its merge commit's parents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeKind {
    /// A merge commit with two parents: the normal merge the runbook asks for.
    Merge,
    /// One parent: a squash (or rebase) merge.
    Squash,
}

/// The label of promotion PRs, created when missing.
pub const LABEL_COLOR: &str = "5319e7";
pub const LABEL_DESCRIPTION: &str = "Promotes a release candidate to production";

/// A review of a pull request, as `GET /repos/o/r/pulls/N/reviews` lists it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Review {
    pub user: Option<User>,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`.
    pub state: String,
    #[serde(default)]
    pub submitted_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct User {
    pub login: String,
}
