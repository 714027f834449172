//! A fake GitHub REST API on the recording [`HttpServer`]: the routes the release commands use,
//! with payloads shaped like GitHub's (trimmed to the fields a client could read), paginated with
//! `Link` headers the way GitHub does it (`/repositories/ID/...?page=N`).

use serde_json::{json, Value};

use super::http::{HttpServer, Response};

/// A token that must never appear anywhere but in the `Authorization` header.
pub const TOKEN: &str = "ghp_FakeTokenThatMustNeverBePrinted0123456";
pub const OWNER: &str = "18F";
pub const NAME: &str = "identity-idp";
/// GitHub's numeric id of the repository, used in its `Link` URLs.
pub const REPO_ID: u64 = 33_946_212;

pub struct FakeGitHub {
    pub server: HttpServer,
}

impl Default for FakeGitHub {
    fn default() -> Self {
        Self::start()
    }
}

/// `/repos/18F/identity-idp` + `rest`.
pub fn repo_path(rest: &str) -> String {
    format!("/repos/{OWNER}/{NAME}{rest}")
}

/// The web URL of a PR.
pub fn pr_url(number: u64) -> String {
    format!("https://github.com/{OWNER}/{NAME}/pull/{number}")
}

fn rate_headers(r: Response) -> Response {
    r.header("x-ratelimit-limit", "5000")
        .header("x-ratelimit-remaining", "4999")
        .header("x-ratelimit-used", "1")
        .header("x-ratelimit-resource", "core")
        .header("x-github-api-version-selected", "2022-11-28")
}

/// A 200 JSON response with GitHub's usual headers.
pub fn ok(body: Value) -> Response {
    rate_headers(Response::json(200, body))
}

/// A 201 JSON response.
pub fn created(body: Value) -> Response {
    rate_headers(Response::json(201, body))
}

/// GitHub's 404.
pub fn not_found() -> Response {
    Response::json(
        404,
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}),
    )
}

impl FakeGitHub {
    pub fn start() -> Self {
        FakeGitHub {
            server: HttpServer::start(),
        }
    }

    /// The API base to give the client (`GITHUB_API_URL`).
    pub fn url(&self) -> &str {
        &self.server.url
    }

    pub fn slug(&self) -> String {
        format!("{OWNER}/{NAME}")
    }

    pub fn route(&self, method: &str, path: &str, response: Response) -> &Self {
        self.server.route(method, path, response);
        self
    }

    /// `GET /repos/o/r`.
    pub fn repository(&self) -> &Self {
        self.route(
            "GET",
            &repo_path(""),
            ok(json!({
                "id": REPO_ID,
                "name": NAME,
                "full_name": format!("{OWNER}/{NAME}"),
                "private": false,
                "html_url": format!("https://github.com/{OWNER}/{NAME}"),
                "default_branch": "main",
                "permissions": {"admin": false, "maintain": false, "push": true, "triage": true, "pull": true}
            })),
        )
    }

    /// Serves `pages` of a listing: page 1 at `first` (the path and query the client builds),
    /// page N at `/repositories/ID/<tail>?per_page=100&page=N`, linked with `Link` headers.
    pub fn pages(&self, first: &str, tail: &str, pages: &[Vec<Value>]) -> &Self {
        let n = pages.len();
        let link_to = |page: usize| {
            format!(
                "{}/repositories/{REPO_ID}/{tail}{}page={page}",
                self.url(),
                if tail.contains('?') { "&" } else { "?" }
            )
        };
        for (i, items) in pages.iter().enumerate() {
            let page = i + 1;
            let path = if page == 1 {
                first.to_string()
            } else {
                link_to(page)[self.url().len()..].to_string()
            };
            let mut links = Vec::new();
            if page < n {
                links.push(format!("<{}>; rel=\"next\"", link_to(page + 1)));
                links.push(format!("<{}>; rel=\"last\"", link_to(n)));
            }
            if page > 1 {
                links.push(format!("<{}>; rel=\"prev\"", link_to(page - 1)));
                links.push(format!("<{}>; rel=\"first\"", link_to(1)));
            }
            let mut resp = ok(Value::Array(items.clone()));
            if !links.is_empty() {
                resp = resp.header("link", &links.join(", "));
            }
            self.route("GET", &path, resp);
        }
        self
    }

    /// `GET /repos/o/r/releases`, paginated.
    pub fn releases(&self, pages: &[Vec<Value>]) -> &Self {
        self.pages(
            &repo_path("/releases?per_page=100"),
            "releases?per_page=100",
            pages,
        )
    }

    /// The promotion label exists (200) or not (404, then `POST /labels` creates it).
    pub fn label(&self, exists: bool) -> &Self {
        let path = repo_path("/labels/status%20-%20promotion");
        if exists {
            self.route("GET", &path, ok(label_json("status - promotion")));
        } else {
            self.route("GET", &path, not_found());
            self.route(
                "POST",
                &repo_path("/labels"),
                created(label_json("status - promotion")),
            );
        }
        self
    }

    /// `GET /pulls?state=open&head=18F:<branch>`.
    pub fn open_prs_for(&self, branch: &str, prs: Vec<Value>) -> &Self {
        let head = format!("{OWNER}%3A{}", branch.replace('/', "%2F"));
        self.route(
            "GET",
            &repo_path(&format!("/pulls?state=open&head={head}&per_page=100")),
            ok(Value::Array(prs)),
        )
    }

    /// `POST /pulls` answers with `pr`; `POST /issues/N/labels` with the labels.
    pub fn accepts_pr(&self, pr: Value) -> &Self {
        let n = pr["number"].as_u64().expect("number");
        self.route("POST", &repo_path("/pulls"), created(pr));
        self.route(
            "POST",
            &repo_path(&format!("/issues/{n}/labels")),
            ok(json!([label_json("status - promotion")])),
        )
    }

    /// `GET /pulls?state=closed&base=<base>&sort=updated&direction=desc`, paginated.
    pub fn closed_prs(&self, base: &str, pages: &[Vec<Value>]) -> &Self {
        let base_q = base.replace('/', "%2F");
        self.pages(
            &repo_path(&format!(
                "/pulls?state=closed&base={base_q}&sort=updated&direction=desc&per_page=100"
            )),
            &format!("pulls?state=closed&base={base_q}&sort=updated&direction=desc&per_page=100"),
            pages,
        )
    }

    /// `GET /pulls/N`.
    pub fn pull(&self, pr: Value) -> &Self {
        let n = pr["number"].as_u64().expect("number");
        self.route("GET", &repo_path(&format!("/pulls/{n}")), ok(pr))
    }

    /// `GET /commits/SHA` with `parents` parents (2: a merge; 1: a squash).
    pub fn commit(&self, sha: &str, parents: usize) -> &Self {
        let parents: Vec<Value> = (0..parents)
            .map(|i| {
                let p = format!("{:040x}", i + 1);
                json!({"sha": p, "url": format!("{}/repos/{OWNER}/{NAME}/commits/{p}", self.url())})
            })
            .collect();
        self.route(
            "GET",
            &repo_path(&format!("/commits/{sha}")),
            ok(json!({
                "sha": sha,
                "commit": {"message": "Merge pull request #9500 from 18F/stages/rc-2026-01-01"},
                "parents": parents
            })),
        )
    }

    /// `POST /releases` answers 201 with a release of `tag` titled `title`.
    pub fn accepts_release(&self, id: u64, title: &str, tag: &str) -> &Self {
        self.route(
            "POST",
            &repo_path("/releases"),
            created(release(id, title, tag, false, false)),
        )
    }

    pub fn requests(&self) -> Vec<super::http::Request> {
        self.server.requests()
    }

    /// `METHOD path` of every request, in order.
    pub fn request_lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// The JSON bodies sent to `METHOD path` (exact path).
    pub fn bodies(&self, method: &str, path: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .map(|r| r.json())
            .collect()
    }

    /// Every request carried the token in `Authorization: Bearer` and nowhere else (no other
    /// header, path or body), with GitHub's recommended headers.
    pub fn assert_token_only_in_authorization(&self) {
        let reqs = self.requests();
        assert!(!reqs.is_empty(), "no request reached the fake GitHub");
        for r in reqs {
            assert_eq!(
                r.header("authorization"),
                Some(format!("Bearer {TOKEN}").as_str()),
                "{} {}",
                r.method,
                r.path
            );
            assert_eq!(r.header("accept"), Some("application/vnd.github+json"));
            assert_eq!(r.header("x-github-api-version"), Some("2022-11-28"));
            assert_eq!(r.header("user-agent"), Some("login-release"));
            assert!(!r.path.contains(TOKEN), "token in a path: {}", r.path);
            assert!(!r.body.contains(TOKEN), "token in a body: {}", r.body);
            for (k, v) in &r.headers {
                if !k.eq_ignore_ascii_case("authorization") {
                    assert!(!v.contains(TOKEN), "token in header {k}");
                }
            }
        }
    }
}

pub fn label_json(name: &str) -> Value {
    json!({
        "id": 208045946,
        "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=",
        "name": name,
        "description": "Promotes a release candidate to production",
        "color": "5319e7",
        "default": false
    })
}

/// A release as GitHub lists it.
pub fn release(id: u64, title: &str, tag: &str, draft: bool, prerelease: bool) -> Value {
    json!({
        "id": id,
        "tag_name": tag,
        "target_commitish": "stages/prod",
        "name": title,
        "draft": draft,
        "prerelease": prerelease,
        "html_url": format!("https://github.com/{OWNER}/{NAME}/releases/tag/{tag}"),
        "created_at": "2026-01-01T12:00:00Z",
        "published_at": if draft { Value::Null } else { json!("2026-01-01T12:00:00Z") },
        "author": {"login": "release-manager", "type": "User"},
        "body": format!("notes of {title}")
    })
}

/// A pull request as GitHub lists it.
pub struct Pr {
    pub number: u64,
    pub title: String,
    pub head: String,
    pub base: String,
    pub state: &'static str,
    pub merged_at: Option<String>,
    pub updated_at: String,
    pub labels: Vec<String>,
    pub body: String,
    pub merge_commit_sha: Option<String>,
}

impl Pr {
    /// An open promotion PR for RC `rc` from `head`, labelled.
    pub fn promotion(number: u64, rc: &str, head: &str) -> Self {
        Pr {
            number,
            title: format!("Deploy RC {rc} to Prod"),
            head: head.to_string(),
            base: "stages/prod".to_string(),
            state: "open",
            merged_at: None,
            updated_at: "2026-01-01T12:00:00Z".to_string(),
            labels: vec!["status - promotion".to_string()],
            body: format!("## Bug Fixes\n- Login: changes of RC {rc} ([#1](https://github.com/18F/identity-idp/pull/1))\n"),
            merge_commit_sha: None,
        }
    }

    /// Marked merged at `at` with merge commit `sha`.
    pub fn merged(mut self, at: &str, sha: &str) -> Self {
        self.state = "closed";
        self.merged_at = Some(at.to_string());
        self.updated_at = at.to_string();
        self.merge_commit_sha = Some(sha.to_string());
        self
    }

    pub fn updated(mut self, at: &str) -> Self {
        self.updated_at = at.to_string();
        self
    }

    pub fn labels(mut self, labels: &[&str]) -> Self {
        self.labels = labels.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn json(&self) -> Value {
        json!({
            "url": format!("https://api.github.com/repos/{OWNER}/{NAME}/pulls/{}", self.number),
            "id": 1_000_000 + self.number,
            "number": self.number,
            "state": self.state,
            "locked": false,
            "title": self.title,
            "user": {"login": "release-manager", "type": "User"},
            "body": self.body,
            "labels": self.labels.iter().map(|l| label_json(l)).collect::<Vec<_>>(),
            "created_at": "2026-01-01T10:00:00Z",
            "updated_at": self.updated_at,
            "closed_at": self.merged_at,
            "merged_at": self.merged_at,
            "merge_commit_sha": self.merge_commit_sha,
            "draft": false,
            "html_url": pr_url(self.number),
            "head": {"label": format!("{OWNER}:{}", self.head), "ref": self.head, "sha": "1".repeat(40)},
            "base": {"label": format!("{OWNER}:{}", self.base), "ref": self.base, "sha": "2".repeat(40)}
        })
    }
}
