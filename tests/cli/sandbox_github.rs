//! The sandbox's GitHub (`login_release::sandbox::github`) through our real GitHub client: the
//! Rust launcher starts it over a bare git origin; PRs, labels, reviews, the three merge methods
//! (with real commits on the origin), releases, authentication, and kill-on-drop.

use std::path::{Path, PathBuf};

use login_release::config::Config;
use login_release::github::{flows, Client, MergeKind, NewPr, PrOutcome, RepoSlug};
use login_release::sandbox::github::{self, MergeMethod};
use login_release::sandbox::world::is_ours;
use secrecy::SecretString;
use serde_json::Value;

/// A token that must never reach the server's log or state file.
const TOKEN: &str = "ghp_SandboxTestTokenNeverLogged0123456789";

fn python() -> PathBuf {
    login_release::sandbox::emulator::find_python(Some(Path::new(env!("CARGO_MANIFEST_DIR"))))
        .unwrap_or_else(|e| panic!("{e:#}: run `make test-deps`"))
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=Dev", "-c", "user.email=dev@example.gov"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A bare origin with `main` three commits ahead of `stages/prod`, and a clone to push from.
struct World {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    origin: PathBuf,
    work: PathBuf,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        git(&root, &["init", "-q", "--bare", "-b", "main", "origin.git"]);
        git(&root, &["clone", "-q", "origin.git", "work"]);
        let work = root.join("work");
        git(&work, &["checkout", "-q", "-B", "main"]);
        let w = World {
            origin: root.join("origin.git"),
            work,
            root,
            _tmp: tmp,
        };
        w.commit("README.md", "base", "Initial commit");
        git(&w.work, &["branch", "stages/prod"]);
        for i in 1..=3 {
            w.commit(&format!("f{i}.rb"), "x", &format!("Change {i} (#{i})"));
        }
        git(&w.work, &["push", "-q", "origin", "main", "stages/prod"]);
        w
    }

    fn commit(&self, file: &str, text: &str, message: &str) -> String {
        std::fs::write(self.work.join(file), text).unwrap();
        git(&self.work, &["add", file]);
        git(&self.work, &["commit", "-q", "-m", message]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Pushes `main`'s tip as branch `name`.
    fn push_branch(&self, name: &str) {
        git(
            &self.work,
            &["push", "-q", "origin", &format!("main:{name}")],
        );
    }

    fn origin_git(&self, args: &[&str]) -> String {
        git(&self.origin, args)
    }

    /// The parents of `stages/prod`'s tip on origin.
    fn prod_parents(&self) -> usize {
        self.origin_git(&["rev-list", "--parents", "-n", "1", "stages/prod"])
            .split_whitespace()
            .count()
            - 1
    }
}

fn client(gh: &github::Handle) -> Client {
    Client::new(
        &gh.api_url(),
        RepoSlug::parse(github::REPOSITORY).unwrap(),
        SecretString::from(TOKEN),
    )
    .unwrap()
}

/// A raw request with an `Authorization` header as given (None: without one).
async fn raw(gh: &github::Handle, path: &str, auth: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(format!("{}{path}", gh.api_url()));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn promotion<'a>(head: &'a str, title: &'a str, labels: &'a [&'a str]) -> NewPr<'a> {
    NewPr {
        title,
        head,
        base: "stages/prod",
        body: "## Bug Fixes\n- a change\n",
        labels,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_opens_reviews_merges_and_releases_for_real() {
    let w = World::new();
    let gh = github::start(&python(), &w.root.join("gh"), &w.origin).unwrap();
    let c = client(&gh);
    let settings = Config::defaults().settings;
    let label = settings.release.pr_label.as_str();

    let repo = c.check_repo().await.unwrap();
    assert_eq!(repo.full_name, "18F/identity-idp");
    assert_eq!(repo.default_branch.as_deref(), Some("main"));

    // No release yet: the RC number must be given.
    assert!(c.last_rc(&settings.release.title).await.unwrap().is_none());

    // The promotion PR: label created first, PR opened and labelled; a second open finds it.
    w.push_branch("stages/rc-2026-12-01");
    let rc = "112".parse().unwrap();
    let (pr, outcome) =
        flows::open_promotion_pr(&c, &settings, rc, "stages/rc-2026-12-01", "notes")
            .await
            .unwrap();
    assert_eq!(outcome, PrOutcome::Created);
    assert_eq!(pr.title, "Deploy RC 112 to Prod");
    assert_eq!(pr.base.ref_name, "stages/prod");
    assert_eq!(pr.head.sha, w.origin_git(&["rev-parse", "main"]));
    let (again, outcome) =
        flows::open_promotion_pr(&c, &settings, rc, "stages/rc-2026-12-01", "notes")
            .await
            .unwrap();
    assert_eq!(outcome, PrOutcome::AlreadyOpen);
    assert_eq!(again.number, pr.number);
    let fetched = c.pull(pr.number).await.unwrap();
    assert!(fetched.labels.iter().any(|l| l.name == label));
    assert!(
        !c.ensure_label(label).await.unwrap(),
        "the label exists now"
    );
    // GitHub refuses a PR with nothing to merge.
    let e = c
        .open_pr(&promotion("stages/prod", "nothing", &[]))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("No commits between"), "{e}");

    // stages/prod is protected: no merge before an approval; the author cannot approve.
    let e = gh.merge(pr.number, MergeMethod::Merge).unwrap_err();
    assert!(
        e.to_string().contains("approving review is required"),
        "{e}"
    );
    let e = gh.approve(pr.number, github::USER).unwrap_err();
    assert!(
        e.to_string()
            .contains("Can not approve your own pull request"),
        "{e}"
    );
    let review = gh.approve(pr.number, "grace").unwrap();
    assert_eq!(review["state"], "APPROVED");
    let (status, reviews) = raw(
        &gh,
        &format!("/repos/18F/identity-idp/pulls/{}/reviews", pr.number),
        Some(&format!("Bearer {TOKEN}")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(reviews[0]["user"]["login"], "grace");
    assert_eq!(reviews[0]["state"], "APPROVED");
    assert_eq!(reviews[0]["commit_id"], pr.head.sha.as_str());

    // A merge merge: a real two-parent merge commit on origin's stages/prod.
    let prod_before = w.origin_git(&["rev-parse", "stages/prod"]);
    let merged = gh.merge(pr.number, MergeMethod::Merge).unwrap();
    let sha = merged["sha"].as_str().unwrap().to_string();
    assert_eq!(w.origin_git(&["rev-parse", "stages/prod"]), sha);
    assert_eq!(w.prod_parents(), 2);
    assert_eq!(
        w.origin_git(&["rev-parse", "stages/prod^1", "stages/prod^2"]),
        format!("{prod_before}\n{}", pr.head.sha)
    );
    assert!(w
        .origin_git(&["log", "-1", "--format=%s%n%b", "stages/prod"])
        .starts_with(&format!(
            "Merge pull request #{} from 18F/stages/rc-2026-12-01\n",
            pr.number
        )));
    let found = c
        .merged_promotion_pr(None, "stages/prod", label)
        .await
        .unwrap();
    assert_eq!(found.number, pr.number);
    assert_eq!(found.merge_commit_sha.as_deref(), Some(sha.as_str()));
    assert_eq!(c.merge_kind(&found).await.unwrap(), MergeKind::Merge);
    let e = gh.merge(pr.number, MergeMethod::Merge).unwrap_err();
    assert!(e.to_string().contains("405"), "merged twice: {e}");
    // The PR's link opens a page saying what happened, with no token.
    let page = reqwest::get(&found.html_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.starts_with(&format!("#{} Deploy RC 112 to Prod (merged)\n", pr.number)),
        "{page}"
    );
    assert!(page.contains("review: APPROVED by grace"), "{page}");

    // A squash: one single-parent commit with the head's tree, which tag-release tells apart.
    w.commit("f4.rb", "x", "Change 4 (#4)");
    w.commit("f5.rb", "x", "Change 5 (#5)");
    w.push_branch("stages/rc-2026-12-02");
    let (pr2, _) = c
        .open_pr(&promotion(
            "stages/rc-2026-12-02",
            "Deploy RC 113 to Prod",
            &[label],
        ))
        .await
        .unwrap();
    gh.approve(pr2.number, "grace").unwrap();
    let squash = gh.merge(pr2.number, MergeMethod::Squash).unwrap();
    assert_eq!(w.prod_parents(), 1);
    assert_eq!(
        w.origin_git(&["rev-parse", "stages/prod^{tree}"]),
        w.origin_git(&["rev-parse", "stages/rc-2026-12-02^{tree}"])
    );
    assert_eq!(
        w.origin_git(&["log", "-1", "--format=%s", "stages/prod"]),
        format!("Deploy RC 113 to Prod (#{})", pr2.number)
    );
    let found = c.pull(pr2.number).await.unwrap();
    assert_eq!(found.merge_commit_sha.as_deref(), squash["sha"].as_str());
    assert_eq!(c.merge_kind(&found).await.unwrap(), MergeKind::Squash);
    assert_eq!(
        c.merged_promotion_pr(None, "stages/prod", label)
            .await
            .unwrap()
            .number,
        pr2.number,
        "the latest merged promotion PR"
    );

    // A rebase: the head's commits replayed one by one, with their authors and messages.
    let prod_before = w.origin_git(&["rev-parse", "stages/prod"]);
    w.commit("f6.rb", "x", "Change 6 (#6)");
    w.commit("f7.rb", "x", "Change 7 (#7)");
    w.push_branch("stages/rc-2026-12-03");
    let (pr3, _) = c
        .open_pr(&promotion(
            "stages/rc-2026-12-03",
            "Deploy RC 114 to Prod",
            &[],
        ))
        .await
        .unwrap();
    gh.approve(pr3.number, "grace").unwrap();
    gh.merge(pr3.number, MergeMethod::Rebase).unwrap();
    assert_eq!(
        w.origin_git(&[
            "log",
            "--format=%s|%an|%P",
            &format!("{prod_before}..stages/prod")
        ])
        .lines()
        .map(|l| l.split('|').take(2).collect::<Vec<_>>().join("|"))
        .collect::<Vec<_>>(),
        ["Change 7 (#7)|Dev", "Change 6 (#6)|Dev"]
    );
    assert_eq!(w.prod_parents(), 1);

    // Close: a closed, unmerged PR is not a promotion.
    w.commit("f8.rb", "x", "Change 8 (#8)");
    w.push_branch("stages/rc-2026-12-04");
    let (pr4, _) = c
        .open_pr(&promotion(
            "stages/rc-2026-12-04",
            "Deploy RC 115 to Prod",
            &[label],
        ))
        .await
        .unwrap();
    gh.close(pr4.number).unwrap();
    let e = c
        .merged_promotion_pr(Some(pr4.number), "stages/prod", label)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("closed without merging"), "{e}");

    // A release of a tag that is not on origin yet: GitHub makes the tag at the target.
    let release = c
        .create_release("2026-12-01T120000", "RC 112", "notes of RC 112")
        .await
        .unwrap();
    assert_eq!(release.name.as_deref(), Some("RC 112"));
    assert_eq!(
        w.origin_git(&["rev-parse", "2026-12-01T120000"]),
        w.origin_git(&["rev-parse", "main"]),
        "made at the default branch"
    );
    let (last, r) = c
        .last_rc(&settings.release.title)
        .await
        .unwrap()
        .expect("RC 112 is released");
    assert_eq!(last.to_string(), "112");
    assert_eq!(r.tag_name, "2026-12-01T120000");
    let e = c.ensure_no_release_titled("RC 112").await.unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    let e = c
        .create_release("2026-12-01T120000", "RC 112 again", "")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("422"), "{e}");
    let (status, by_tag) = raw(
        &gh,
        "/repos/18F/identity-idp/releases/tags/2026-12-01T120000",
        Some("token x"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(by_tag["name"], "RC 112");

    // The state dump holds what happened, and neither it nor the log holds the token.
    let state = gh.state().unwrap();
    assert_eq!(state["pulls"].as_object().unwrap().len(), 4);
    assert_eq!(
        state["pulls"][pr.number.to_string()]["merge_method"],
        "merge"
    );
    let log = std::fs::read_to_string(gh.dir().join("github.log")).unwrap();
    let saved = std::fs::read_to_string(gh.dir().join("github.json")).unwrap();
    assert!(
        log.contains("PUT") || log.contains("POST /repos/18F/identity-idp/pulls"),
        "{log}"
    );
    assert!(!log.contains(TOKEN) && !saved.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_api_request_needs_a_token_and_the_server_goes_with_its_handle() {
    let w = World::new();
    let gh = github::start(&python(), &w.root.join("gh"), &w.origin).unwrap();
    let path = "/repos/18F/identity-idp";
    let (status, body) = raw(&gh, path, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Requires authentication");
    for bad in ["Bearer ", "Basic abc", "ghp_x"] {
        assert_eq!(raw(&gh, path, Some(bad)).await.0, 401, "{bad}");
    }
    for good in ["Bearer anything", "token anything"] {
        assert_eq!(raw(&gh, path, Some(good)).await.0, 200, "{good}");
    }
    // Another repository is not there.
    assert_eq!(
        raw(&gh, "/repos/18F/identity-pki", Some("token x")).await.0,
        404
    );
    // Through the client, a 401 is the usual token error.
    let e = Client::new(
        &gh.api_url(),
        RepoSlug::parse(github::REPOSITORY).unwrap(),
        SecretString::from(" "),
    )
    .unwrap()
    .check_repo()
    .await
    .unwrap_err();
    assert!(e.to_string().contains("token"), "{e}");

    let pid = gh.pid();
    assert!(is_ours(pid, github::MARKER));
    drop(gh);
    let start = std::time::Instant::now();
    while is_ours(pid, github::MARKER) {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "the server outlived its handle"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
