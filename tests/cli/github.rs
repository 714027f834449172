//! The GitHub client and the Slack notifier of the library, against the recording fake GitHub
//! and a local webhook receiver: the exact requests they send and the errors users see.

use std::time::{Duration, Instant};

use login_release::error::report;
use login_release::github::{Client, MergeKind, NewPr, PrOutcome, RepoSlug};
use login_release::slack::Notifier;
use secrecy::SecretString;
use serde_json::json;

use crate::support::github::{
    created, not_found, ok, release, repo_path, FakeGitHub, Pr, NAME, OWNER, TOKEN,
};
use crate::support::http::{HttpServer, Response};

fn client(fake: &FakeGitHub) -> Client {
    Client::new(
        fake.url(),
        RepoSlug::parse(&format!("{OWNER}/{NAME}")).unwrap(),
        SecretString::from(TOKEN),
    )
    .unwrap()
}

fn rc_releases(from: u32, to: u32) -> Vec<serde_json::Value> {
    (from..=to)
        .rev()
        .map(|n| {
            release(
                n as u64,
                &format!("RC {n}"),
                &format!("2025-01-01T{n:06}"),
                false,
                false,
            )
        })
        .collect()
}

#[tokio::test]
async fn last_rc_walks_every_page_and_takes_the_highest_published() {
    let fake = FakeGitHub::start();
    // Page 1: 100 releases, newest first, topped by a draft, a pre-release and odd titles.
    let mut page1 = vec![
        release(1001, "RC 210", "2026-02-01T000000", true, false),
        release(1002, "RC 209", "2026-01-31T000000", false, true),
        release(1003, "RC 208 hotfix", "2026-01-30T000000", false, false),
        release(1004, "2026-01-29T000000", "2026-01-29T000000", false, false),
    ];
    page1.extend(rc_releases(105, 200));
    assert_eq!(page1.len(), 100);
    // Page 2: older ones, and one published out of order (a patch of the highest RC).
    let mut page2 = rc_releases(60, 104);
    page2.push(release(1005, "RC 200.1", "2026-01-02T000000", false, false));
    fake.releases(&[page1, page2]);

    let gh = client(&fake);
    let (rc, r) = gh.last_rc("RC {rc}").await.unwrap().unwrap();
    assert_eq!(rc.to_string(), "200.1");
    assert_eq!(r.tag_name, "2026-01-02T000000");
    assert_eq!(rc.next_full().to_string(), "201");
    assert_eq!(rc.next_patch().to_string(), "200.2");
    assert_eq!(
        fake.request_lines(),
        vec![
            "GET /repos/18F/identity-idp/releases?per_page=100".to_string(),
            "GET /repositories/33946212/releases?per_page=100&page=2".to_string(),
        ]
    );
    fake.assert_token_only_in_authorization();
}

#[tokio::test]
async fn no_rc_release_at_all_is_none() {
    let fake = FakeGitHub::start();
    fake.releases(&[vec![release(1, "RC 5", "t", true, false)]]);
    assert!(client(&fake).last_rc("RC {rc}").await.unwrap().is_none());
}

#[tokio::test]
async fn promotion_pr_is_opened_with_label_created_first() {
    let fake = FakeGitHub::start();
    let branch = "stages/rc-2026-01-01";
    fake.label(false)
        .open_prs_for(branch, vec![])
        .accepts_pr(Pr::promotion(9500, "201", branch).labels(&[]).json());
    let body = "## Bug Fixes\n- Login: fix the thing ([#9400](https://github.com/18F/identity-idp/pull/9400))\n";
    let gh = client(&fake);
    assert!(gh.ensure_label("status - promotion").await.unwrap());
    let (pr, outcome) = gh
        .open_pr(&NewPr {
            title: "Deploy RC 201 to Prod",
            head: branch,
            base: "stages/prod",
            body,
            labels: &["status - promotion"],
        })
        .await
        .unwrap();
    assert_eq!(outcome, PrOutcome::Created);
    assert_eq!(pr.number, 9500);
    assert_eq!(pr.html_url, "https://github.com/18F/identity-idp/pull/9500");
    assert_eq!(
        fake.request_lines(),
        vec![
            "GET /repos/18F/identity-idp/labels/status%20-%20promotion",
            "POST /repos/18F/identity-idp/labels",
            "GET /repos/18F/identity-idp/pulls?state=open&head=18F%3Astages%2Frc-2026-01-01&per_page=100",
            "POST /repos/18F/identity-idp/pulls",
            "POST /repos/18F/identity-idp/issues/9500/labels",
        ]
    );
    assert_eq!(
        fake.bodies("POST", &repo_path("/labels")),
        vec![json!({
            "name": "status - promotion",
            "color": "5319e7",
            "description": "Promotes a release candidate to production"
        })]
    );
    assert_eq!(
        fake.bodies("POST", &repo_path("/pulls")),
        vec![json!({
            "title": "Deploy RC 201 to Prod",
            "head": "stages/rc-2026-01-01",
            "base": "stages/prod",
            "body": body,
            "maintainer_can_modify": true
        })]
    );
    assert_eq!(
        fake.bodies("POST", &repo_path("/issues/9500/labels")),
        vec![json!({"labels": ["status - promotion"]})]
    );
    fake.assert_token_only_in_authorization();
}

#[tokio::test]
async fn an_open_pr_for_the_branch_is_reported_not_duplicated() {
    let fake = FakeGitHub::start();
    let branch = "stages/rc-2026-01-01";
    fake.label(true)
        .open_prs_for(branch, vec![Pr::promotion(9500, "201", branch).json()]);
    let gh = client(&fake);
    assert!(!gh.ensure_label("status - promotion").await.unwrap());
    let (pr, outcome) = gh
        .open_pr(&NewPr {
            title: "Deploy RC 201 to Prod",
            head: branch,
            base: "stages/prod",
            body: "x",
            labels: &["status - promotion"],
        })
        .await
        .unwrap();
    assert_eq!(outcome, PrOutcome::AlreadyOpen);
    assert_eq!(pr.number, 9500);
    assert!(fake.requests().iter().all(|r| r.method == "GET"));
}

#[tokio::test]
async fn an_open_pr_without_the_label_gets_it() {
    let fake = FakeGitHub::start();
    let branch = "stages/rc-2026-01-01";
    let pr = Pr::promotion(9500, "201", branch).labels(&["dependencies"]);
    fake.open_prs_for(branch, vec![pr.json()]).route(
        "POST",
        &repo_path("/issues/9500/labels"),
        ok(json!([])),
    );
    let (_, outcome) = client(&fake)
        .open_pr(&NewPr {
            title: "Deploy RC 201 to Prod",
            head: branch,
            base: "stages/prod",
            body: "x",
            labels: &["status - promotion"],
        })
        .await
        .unwrap();
    assert_eq!(outcome, PrOutcome::AlreadyOpen);
    assert_eq!(
        fake.bodies("POST", &repo_path("/issues/9500/labels")),
        vec![json!({"labels": ["status - promotion"]})]
    );
    assert!(fake.bodies("POST", &repo_path("/pulls")).is_empty());
}

#[tokio::test]
async fn a_pr_that_cannot_be_labelled_is_a_partial_failure() {
    let fake = FakeGitHub::start();
    let branch = "stages/rc-2026-01-01";
    fake.open_prs_for(branch, vec![])
        .route(
            "POST",
            &repo_path("/pulls"),
            created(Pr::promotion(9500, "201", branch).labels(&[]).json()),
        )
        .route(
            "POST",
            &repo_path("/issues/9500/labels"),
            Response::json(500, json!({"message": "Server Error"})),
        );
    let e = client(&fake)
        .open_pr(&NewPr {
            title: "Deploy RC 201 to Prod",
            head: branch,
            base: "stages/prod",
            body: "x",
            labels: &["status - promotion"],
        })
        .await
        .unwrap_err();
    let r = report(&e);
    assert_eq!(r.code, 4);
    assert_eq!(
        r.message,
        "opened https://github.com/18F/identity-idp/pull/9500 but could not label it: GitHub \
         answered 500 Internal Server Error to POST /repos/18F/identity-idp/issues/9500/labels: \
         Server Error"
    );
    assert!(r.hint.unwrap().contains("status - promotion"));
}

#[tokio::test]
async fn latest_merged_promotion_pr_is_found_past_the_first_page() {
    let fake = FakeGitHub::start();
    let label = "status - promotion";
    // Page 1 (most recently updated first): nothing that qualifies.
    let mut page1 = vec![
        Pr::promotion(9510, "202", "stages/rc-2026-01-08").updated("2026-01-09T00:00:00Z"),
        Pr::promotion(9509, "201.1", "stages/rc-2026-01-07")
            .merged("2026-01-08T00:00:00Z", &"9".repeat(40))
            .labels(&["status - promotion2"]),
    ];
    for n in 0..98 {
        page1.push(
            Pr::promotion(9000 + n, "1", "feature")
                .labels(&[])
                .merged("2026-01-07T12:00:00Z", &"8".repeat(40)),
        );
    }
    let page1: Vec<_> = page1.iter().map(Pr::json).collect();
    assert_eq!(page1.len(), 100);
    // Page 2: the promotion, then an older one (which must not win).
    let page2 = vec![
        Pr::promotion(9500, "201", "stages/rc-2026-01-01")
            .merged("2026-01-05T00:00:00Z", &"a".repeat(40))
            .json(),
        Pr::promotion(9400, "200", "stages/rc-2025-12-01")
            .merged("2025-12-02T00:00:00Z", &"b".repeat(40))
            .json(),
    ];
    fake.closed_prs("stages/prod", &[page1, page2]);
    let pr = client(&fake)
        .merged_promotion_pr(None, "stages/prod", label)
        .await
        .unwrap();
    assert_eq!(pr.number, 9500);
    assert_eq!(
        pr.merge_commit_sha.as_deref(),
        Some("a".repeat(40).as_str())
    );
    assert_eq!(
        fake.request_lines(),
        vec![
            "GET /repos/18F/identity-idp/pulls?state=closed&base=stages%2Fprod&sort=updated&direction=desc&per_page=100",
            "GET /repositories/33946212/pulls?state=closed&base=stages%2Fprod&sort=updated&direction=desc&per_page=100&page=2",
        ]
    );
}

#[tokio::test]
async fn promotion_pr_misses_are_preflight_failures() {
    let fake = FakeGitHub::start();
    fake.closed_prs("stages/prod", &[vec![]])
        .pull(Pr::promotion(9501, "201", "stages/rc-2026-01-01").json())
        .route("GET", &repo_path("/pulls/9999"), not_found());
    let mut into_main = Pr::promotion(9502, "201", "stages/rc-2026-01-01")
        .merged("2026-01-05T00:00:00Z", &"a".repeat(40));
    into_main.base = "main".into();
    fake.pull(into_main.json());
    let gh = client(&fake);

    let r = report(
        &gh.merged_promotion_pr(None, "stages/prod", "status - promotion")
            .await
            .unwrap_err(),
    );
    assert_eq!(r.code, 3);
    assert_eq!(
        r.message,
        "no merged pull request into `stages/prod` carries the label `status - promotion` in 18F/identity-idp"
    );
    assert_eq!(
        r.hint.as_deref(),
        Some("pass the promotion PR with --pr NUMBER (or its URL)")
    );

    let r = report(
        &gh.merged_promotion_pr(Some(9501), "stages/prod", "x")
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (r.code, r.message.as_str()),
        (3, "pull request #9501 is not merged (still open)")
    );
    assert!(r.hint.unwrap().contains("never squash"));

    let r = report(
        &gh.merged_promotion_pr(Some(9999), "stages/prod", "x")
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (r.code, r.message.as_str()),
        (3, "pull request #9999 not found in 18F/identity-idp")
    );

    let r = report(
        &gh.merged_promotion_pr(Some(9502), "stages/prod", "x")
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (r.code, r.message.as_str()),
        (
            3,
            "pull request #9502 was merged into `main`, not `stages/prod`"
        )
    );
}

#[tokio::test]
async fn squash_merges_are_told_apart_from_merge_commits() {
    let fake = FakeGitHub::start();
    let merge = "a".repeat(40);
    let squash = "c".repeat(40);
    fake.commit(&merge, 2).commit(&squash, 1);
    let gh = client(&fake);
    let pr = |sha: &str| {
        serde_json::from_value::<login_release::github::PullRequest>(
            Pr::promotion(9500, "201", "stages/rc-2026-01-01")
                .merged("2026-01-05T00:00:00Z", sha)
                .json(),
        )
        .unwrap()
    };
    assert_eq!(gh.merge_kind(&pr(&merge)).await.unwrap(), MergeKind::Merge);
    assert_eq!(
        gh.merge_kind(&pr(&squash)).await.unwrap(),
        MergeKind::Squash
    );
    assert_eq!(
        fake.request_lines(),
        vec![
            format!("GET /repos/18F/identity-idp/commits/{merge}"),
            format!("GET /repos/18F/identity-idp/commits/{squash}"),
        ]
    );
}

#[tokio::test]
async fn duplicate_release_titles_match_exactly() {
    let fake = FakeGitHub::start();
    fake.releases(&[vec![
        release(2, "RC 112", "2026-01-02T000000", false, false),
        release(3, "RC 113", "2026-01-03T000000", true, false),
    ]]);
    let gh = client(&fake);
    gh.ensure_no_release_titled("RC 11").await.unwrap();
    let r = report(&gh.ensure_no_release_titled("RC 112").await.unwrap_err());
    assert_eq!(r.code, 3);
    assert_eq!(
        r.message,
        "a release titled `RC 112` already exists: https://github.com/18F/identity-idp/releases/tag/2026-01-02T000000"
    );
    let r = report(&gh.ensure_no_release_titled("RC 113").await.unwrap_err());
    assert!(
        r.message.starts_with("a draft release titled `RC 113`"),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn release_is_created_for_the_tag_and_marked_latest() {
    let fake = FakeGitHub::start();
    fake.accepts_release(77, "RC 201", "2026-01-05T180000");
    let rel = client(&fake)
        .create_release("2026-01-05T180000", "RC 201", "## Bug Fixes\n- Login: x\n")
        .await
        .unwrap();
    assert_eq!(
        rel.html_url,
        "https://github.com/18F/identity-idp/releases/tag/2026-01-05T180000"
    );
    assert_eq!(
        fake.bodies("POST", &repo_path("/releases")),
        vec![json!({
            "tag_name": "2026-01-05T180000",
            "name": "RC 201",
            "body": "## Bug Fixes\n- Login: x\n",
            "draft": false,
            "prerelease": false,
            "make_latest": "true"
        })]
    );
    fake.assert_token_only_in_authorization();
}

#[tokio::test]
async fn revert_pr_has_no_promotion_label() {
    let fake = FakeGitHub::start();
    let mut pr = Pr::promotion(9600, "201", "revert-rc-201").labels(&[]);
    pr.title = "Revert RC 201".into();
    fake.open_prs_for("revert-rc-201", vec![])
        .accepts_pr(pr.json());
    let body = login_release::github::rules::revert_body(
        "201",
        "stages/prod",
        &"a".repeat(40),
        Some(9500),
        Some("sign-in errors"),
    );
    let (pr, outcome) = client(&fake)
        .open_pr(&NewPr {
            title: "Revert RC 201",
            head: "revert-rc-201",
            base: "stages/prod",
            body: &body,
            labels: &[],
        })
        .await
        .unwrap();
    assert_eq!((pr.number, outcome), (9600, PrOutcome::Created));
    let sent = fake.bodies("POST", &repo_path("/pulls"));
    assert_eq!(sent[0]["title"], "Revert RC 201");
    assert_eq!(sent[0]["head"], "revert-rc-201");
    assert_eq!(sent[0]["base"], "stages/prod");
    let text = sent[0]["body"].as_str().unwrap();
    assert!(
        text.contains(&"a".repeat(40)) && text.contains("#9500"),
        "{text}"
    );
    assert!(text.contains("**Reason:** sign-in errors"), "{text}");
    assert!(fake.request_lines().iter().all(|l| !l.contains("/labels")));
}

#[tokio::test]
async fn bad_token_is_one_clear_error() {
    let fake = FakeGitHub::start();
    fake.route(
        "GET",
        &repo_path("/releases?per_page=100"),
        Response::json(
            401,
            json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}),
        ),
    );
    let r = report(&client(&fake).releases().await.unwrap_err());
    assert_eq!(r.code, 3);
    assert_eq!(
        r.message,
        "the GitHub token is missing or invalid (GitHub answered 401 to GET \
         /repos/18F/identity-idp/releases?per_page=100: Bad credentials)"
    );
    let hint = r.hint.unwrap();
    assert!(
        hint.starts_with(
            "export GITHUB_TOKEN (or GH_TOKEN) with a classic token with the `repo` scope"
        ),
        "{hint}"
    );
    assert!(!r.message.contains(TOKEN) && !hint.contains(TOKEN));
}

#[tokio::test]
async fn missing_permission_is_named() {
    let fake = FakeGitHub::start();
    fake.route(
        "POST",
        &repo_path("/pulls"),
        Response::json(
            403,
            json!({"message": "Resource not accessible by personal access token"}),
        )
        .header("x-accepted-github-permissions", "pull_requests=write"),
    )
    .open_prs_for("b", vec![]);
    let e = client(&fake)
        .open_pr(&NewPr {
            title: "t",
            head: "b",
            base: "stages/prod",
            body: "",
            labels: &[],
        })
        .await
        .unwrap_err();
    let r = report(&e);
    assert_eq!(r.code, 3);
    assert_eq!(
        r.message,
        "the GitHub token is not allowed to POST /repos/18F/identity-idp/pulls on \
         18F/identity-idp (403: Resource not accessible by personal access token)"
    );
    assert!(r
        .hint
        .unwrap()
        .starts_with("the token needs these permissions on the repository: pull_requests=write"));
}

#[tokio::test]
async fn missing_repository_is_named() {
    let fake = FakeGitHub::start();
    fake.route("GET", &repo_path(""), not_found());
    let r = report(&client(&fake).check_repo().await.unwrap_err());
    assert_eq!(r.code, 3);
    assert_eq!(
        r.message,
        "repository 18F/identity-idp not found (or the token cannot see it)"
    );
    assert!(r.hint.unwrap().contains("GITHUB_REPOSITORY"));
    let fake = FakeGitHub::start();
    fake.repository();
    assert_eq!(
        client(&fake).check_repo().await.unwrap().full_name,
        "18F/identity-idp"
    );
}

#[tokio::test]
async fn rate_limit_far_from_reset_fails_at_once_saying_when() {
    let fake = FakeGitHub::start();
    let reset = jiff::Timestamp::now().as_second() + 3600;
    fake.route(
        "GET",
        &repo_path("/releases?per_page=100"),
        Response::json(
            403,
            json!({"message": "API rate limit exceeded for user ID 1.", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}),
        )
        .header("x-ratelimit-limit", "5000")
        .header("x-ratelimit-remaining", "0")
        .header("x-ratelimit-reset", &reset.to_string()),
    );
    let started = Instant::now();
    let r = report(&client(&fake).releases().await.unwrap_err());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.code, 1);
    let at = login_release::plan::rfc3339(jiff::Timestamp::from_second(reset).unwrap());
    assert!(
        r.message.starts_with(&format!(
            "GitHub's API rate limit is exhausted (GET /repos/18F/identity-idp/releases?per_page=100); it resets at {at} (in "
        )),
        "{}",
        r.message
    );
    assert!(r.hint.unwrap().starts_with("wait until then"));
    assert_eq!(fake.requests().len(), 1, "no retry beyond the budget");
}

#[tokio::test]
async fn short_rate_limits_are_waited_out() {
    let fake = FakeGitHub::start();
    let path = repo_path("/releases?per_page=100");
    fake.route(
        "GET",
        &path,
        Response::json(
            429,
            json!({"message": "You have exceeded a secondary rate limit."}),
        )
        .header("retry-after", "1"),
    );
    let reset = jiff::Timestamp::now().as_second() + 1;
    fake.route(
        "GET",
        &path,
        Response::json(403, json!({"message": "API rate limit exceeded"}))
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", &reset.to_string()),
    );
    fake.route(
        "GET",
        &path,
        ok(json!([release(1, "RC 7", "t", false, false)])),
    );
    let started = Instant::now();
    let all = client(&fake).releases().await.unwrap();
    assert_eq!(all.len(), 1);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(fake.requests().len(), 3);
    // The budget is for the whole command: a client with none left fails at once.
    let fake = FakeGitHub::start();
    fake.route(
        "GET",
        &path,
        Response::json(429, json!({"message": "slow down"})).header("retry-after", "2"),
    );
    let gh = client(&fake).with_rate_limit_budget(Duration::from_secs(1));
    let r = report(&gh.releases().await.unwrap_err());
    assert_eq!(
        r.message,
        "GitHub's API rate limit is exhausted (GET /repos/18F/identity-idp/releases?per_page=100); GitHub asks to retry in 2s"
    );
}

#[tokio::test]
async fn next_page_links_to_another_host_are_refused() {
    let fake = FakeGitHub::start();
    fake.route(
        "GET",
        &repo_path("/releases?per_page=100"),
        ok(json!([])).header("link", "<https://evil.example/steal?page=2>; rel=\"next\""),
    );
    let e = client(&fake).releases().await.unwrap_err();
    assert!(
        report(&e)
            .message
            .contains("refusing to send the token there"),
        "{}",
        report(&e).message
    );
}

const WEBHOOK_PATH: &str = "/services/T0000/B0000/WebhookSecretXYZ";

#[tokio::test]
async fn slack_posts_one_text_message() {
    let hook = HttpServer::start();
    hook.route("POST", WEBHOOK_PATH, Response::text(200, "ok"));
    let url = format!("{}{WEBHOOK_PATH}", hook.url);
    let n = Notifier::new(SecretString::from(url)).unwrap().unwrap();
    n.post("idp RC 201: promotion PR to prod opened by Jane")
        .await
        .unwrap();
    let reqs = hook.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, WEBHOOK_PATH);
    assert_eq!(reqs[0].header("content-type"), Some("application/json"));
    assert_eq!(
        reqs[0].json(),
        json!({"text": "idp RC 201: promotion PR to prod opened by Jane"})
    );
}

#[tokio::test]
async fn slack_failures_never_show_the_webhook() {
    let hook = HttpServer::start();
    hook.route("POST", WEBHOOK_PATH, Response::text(404, "no_service"));
    let url = format!("{}{WEBHOOK_PATH}", hook.url);
    let e = Notifier::new(SecretString::from(url.clone()))
        .unwrap()
        .unwrap()
        .post("x")
        .await
        .unwrap_err();
    assert_eq!(e.0, "Slack answered 404 Not Found (no_service)");
    // Nothing listening: the transport error must not carry the URL either.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}{WEBHOOK_PATH}", l.local_addr().unwrap())
    };
    let e = Notifier::new(SecretString::from(dead.clone()))
        .unwrap()
        .unwrap()
        .post("x")
        .await
        .unwrap_err();
    assert!(
        !e.0.contains("WebhookSecretXYZ") && !e.0.contains(&dead),
        "{e}"
    );
    assert!(e.0.contains("error sending request"), "{e}");
}

mod flows {
    use super::*;
    use login_release::config::Config;
    use login_release::github::flows;
    use login_release::output::{ColorChoice, Format, Output};

    fn out() -> Output {
        Output::new(Format::Text, ColorChoice::Never, true)
    }

    #[tokio::test]
    async fn rc_number_comes_from_the_releases_or_the_flag() {
        let s = Config::defaults().settings;
        let fake = FakeGitHub::start();
        fake.releases(&[vec![
            release(3, "RC 112.1", "t3", false, false),
            release(2, "RC 112", "t2", false, false),
        ]]);
        let gh = client(&fake);
        let full = flows::decide_rc(&gh, &s, None, false).await.unwrap();
        assert_eq!(full.rc.to_string(), "113");
        assert_eq!(
            full.from,
            "after RC 112.1 (https://github.com/18F/identity-idp/releases/tag/t3)"
        );
        let patch = flows::decide_rc(&gh, &s, None, true).await.unwrap();
        assert_eq!(patch.rc.to_string(), "112.2");
        let given = flows::decide_rc(&gh, &s, Some("7".parse().unwrap()), false)
            .await
            .unwrap();
        assert_eq!(
            (given.rc.to_string(), given.from.as_str()),
            ("7".into(), "--rc")
        );
        assert_eq!(fake.requests().len(), 2, "--rc asks GitHub nothing");

        let empty = FakeGitHub::start();
        empty.releases(&[vec![release(1, "v1.0", "v1.0", false, false)]]);
        let r = report(
            &flows::decide_rc(&client(&empty), &s, None, false)
                .await
                .unwrap_err(),
        );
        assert_eq!(r.code, 3);
        assert_eq!(
            r.message,
            "no published release of 18F/identity-idp is titled like `RC N`, so the next RC number is unknown"
        );
        assert_eq!(r.hint.as_deref(), Some("pass the number with --rc N"));
    }

    #[tokio::test]
    async fn release_pr_refuses_a_squash_unless_yes() {
        let s = Config::defaults().settings;
        let fake = FakeGitHub::start();
        let squash = "c".repeat(40);
        fake.pull(
            Pr::promotion(9500, "201", "stages/rc-2026-01-01")
                .merged("2026-01-05T00:00:00Z", &squash)
                .json(),
        )
        .commit(&squash, 1);
        let gh = client(&fake);
        let r = report(
            &flows::release_pr(&gh, &s, Some("#9500"), false, &out())
                .await
                .unwrap_err(),
        );
        assert_eq!(r.code, 3);
        assert_eq!(
            r.message,
            format!(
                "https://github.com/18F/identity-idp/pull/9500 was squash-merged (its merge commit {squash} has one parent); the runbook requires a normal merge"
            )
        );
        assert_eq!(
            r.hint.as_deref(),
            Some("check that stages/prod holds the whole RC, then run again with --yes to release it anyway")
        );
        let ok = flows::release_pr(&gh, &s, Some("9500"), true, &out())
            .await
            .unwrap();
        assert_eq!(
            (ok.pr.number, ok.rc.to_string(), ok.merge),
            (9500, "201".into(), MergeKind::Squash)
        );
    }

    #[tokio::test]
    async fn release_pr_needs_an_rc_title_and_a_good_reference() {
        let s = Config::defaults().settings;
        let fake = FakeGitHub::start();
        let mut pr = Pr::promotion(9500, "201", "stages/rc-2026-01-01")
            .merged("2026-01-05T00:00:00Z", &"a".repeat(40));
        pr.title = "Deploy RC 201 to Production".into();
        fake.pull(pr.json());
        let gh = client(&fake);
        let r = report(
            &flows::release_pr(&gh, &s, Some("9500"), false, &out())
                .await
                .unwrap_err(),
        );
        assert_eq!(r.code, 3);
        assert_eq!(
            r.message,
            "the title of https://github.com/18F/identity-idp/pull/9500, `Deploy RC 201 to Production`, is not like `Deploy RC N to Prod`, so its RC number is unknown"
        );
        let r = report(
            &flows::release_pr(
                &gh,
                &s,
                Some("https://github.com/18F/identity-pki/pull/1"),
                false,
                &out(),
            )
            .await
            .unwrap_err(),
        );
        assert_eq!(r.code, 2);
        assert_eq!(
            r.message,
            "--pr: https://github.com/18F/identity-pki/pull/1 is a pull request of 18F/identity-pki, not of 18F/identity-idp (the repository in use)"
        );
    }
}

/// The built binary against the fake GitHub and a local Slack receiver.
mod e2e {
    use std::process::Output;

    use serde_json::{json, Value};

    use crate::cut_rc::{assert_fails, deploy_json, release_cmd};
    use crate::support::git::Repos;
    use crate::support::github::{release, repo_path, FakeGitHub, Pr, TOKEN};
    use crate::support::http::{HttpServer, Response};
    use crate::support::{stderr, stdout};

    pub(crate) const HOOK_PATH: &str = "/services/T0000/B0000/WebhookSecretXYZ";
    pub(crate) const BRANCH: &str = "stages/rc-2026-11-20";
    pub(crate) const OPERATOR: &str = "Jane Operator";

    /// With `SHOW_OUTPUT` set, prints a run's output without the `-vv` diagnostics (how the
    /// README's examples were taken).
    pub(crate) fn show(out: &Output) {
        if std::env::var_os("SHOW_OUTPUT").is_some() {
            let plain = |t: String| {
                t.lines()
                    .filter(|l| !l.contains(" TRACE ") && !l.contains(" DEBUG "))
                    .map(|l| format!("{l}\n"))
                    .collect::<String>()
            };
            eprintln!(
                "--- exit {:?}\n{}{}",
                out.status.code(),
                plain(stderr(out)),
                plain(stdout(out))
            );
        }
    }

    /// A repository with a bare origin, the fake GitHub, staging, and a Slack receiver.
    pub(crate) struct World {
        pub r: Repos,
        pub gh: FakeGitHub,
        pub hook: HttpServer,
        pub staging: HttpServer,
        pub staging_sha: String,
    }

    impl World {
        /// origin: stages/prod at the first commit; main three commits ahead (one without a
        /// changelog line); staging runs main.
        pub fn new() -> Self {
            let mut r = Repos::new();
            r.git(&["config", "user.name", OPERATOR]);
            r.git(&["push", "-q", "origin", "main:stages/prod"]);
            r.commit(
                "Add the account page (#101)",
                "changelog: User-Facing Improvements, Account, Add the account page",
            );
            r.commit("Tweak a test (#102)", "");
            let staging_sha = r.commit(
                "Fix a typo (#103)",
                "changelog: Bug Fixes, Copy, Fix a typo",
            );
            r.git(&["push", "-q", "origin", "main"]);
            let staging = HttpServer::start();
            staging.route(
                "GET",
                "/api/deploy.json",
                Response::json(200, deploy_json(&staging_sha)),
            );
            let hook = HttpServer::start();
            hook.route("POST", HOOK_PATH, Response::text(200, "ok"));
            World {
                r,
                gh: FakeGitHub::start(),
                hook,
                staging,
                staging_sha,
            }
        }

        pub fn hook_url(&self) -> String {
            format!("{}{HOOK_PATH}", self.hook.url)
        }

        /// The binary at `-vv`, with every GitHub and Slack setting pointing at the fakes.
        pub fn cmd(&self) -> assert_cmd::Command {
            let mut c = release_cmd(&self.r, false);
            c.env("GITHUB_API_URL", self.gh.url())
                .env("GITHUB_TOKEN", TOKEN)
                .env("GITHUB_REPOSITORY", "18F/identity-idp")
                .env("LOGIN_RELEASE_SLACK_WEBHOOK", self.hook_url())
                .env(
                    "LOGIN_RELEASE_STAGING_IDP",
                    format!("{}/api/deploy.json", self.staging.url),
                )
                .arg("-vv");
            c
        }

        pub fn run(&self, args: &[&str]) -> Output {
            let out = self.cmd().args(args).output().unwrap();
            show(&out);
            self.assert_no_secrets(&out);
            out
        }

        /// Neither the token nor the webhook URL (nor its secret path) in any output.
        pub fn assert_no_secrets(&self, out: &Output) {
            for (name, text) in [("stdout", stdout(out)), ("stderr", stderr(out))] {
                assert!(!text.contains(TOKEN), "the token is in {name}:\n{text}");
                assert!(
                    !text.contains("WebhookSecretXYZ") && !text.contains(&self.hook_url()),
                    "the webhook URL is in {name}:\n{text}"
                );
            }
        }

        /// The texts posted to Slack.
        pub fn slack_texts(&self) -> Vec<String> {
            self.hook
                .requests()
                .iter()
                .map(|r| r.json()["text"].as_str().unwrap_or_default().to_string())
                .collect()
        }

        /// GitHub knows RC 112 as the last release, and accepts the promotion PR.
        pub fn github_accepts_the_promotion(&self, existing: Vec<Value>) {
            self.gh
                .repository()
                .releases(&[vec![
                    release(3, "RC 112", "2026-11-13T180000", false, false),
                    release(2, "RC 111.1", "2026-11-10T180000", false, false),
                ]])
                .label(false)
                .open_prs_for(BRANCH, existing)
                .accepts_pr(Pr::promotion(9500, "113", BRANCH).labels(&[]).json());
        }
    }

    #[test]
    fn cut_rc_opens_the_labelled_promotion_pr_and_announces_it() {
        let w = World::new();
        w.github_accepts_the_promotion(vec![]);
        let out = w.run(&["cut-rc", "--open-pr", "--yes"]);
        crate::support::assert_success(&out);
        assert_eq!(
            w.r.origin_ref(&format!("refs/heads/{BRANCH}")).as_deref(),
            Some(w.staging_sha.as_str())
        );
        assert_eq!(
            w.gh.request_lines(),
            vec![
                "GET /repos/18F/identity-idp",
                "GET /repos/18F/identity-idp/releases?per_page=100",
                "GET /repos/18F/identity-idp/pulls?state=open&head=18F%3Astages%2Frc-2026-11-20&per_page=100",
                "GET /repos/18F/identity-idp/labels/status%20-%20promotion",
                "POST /repos/18F/identity-idp/labels",
                "GET /repos/18F/identity-idp/pulls?state=open&head=18F%3Astages%2Frc-2026-11-20&per_page=100",
                "POST /repos/18F/identity-idp/pulls",
                "POST /repos/18F/identity-idp/issues/9500/labels",
            ]
        );
        let file =
            std::fs::read_to_string(w.r.work.join(".git/login-release/rc-changelog.md")).unwrap();
        let sent = &w.gh.bodies("POST", &repo_path("/pulls"))[0];
        assert_eq!(
            sent,
            &json!({
                "title": "Deploy RC 113 to Prod",
                "head": BRANCH,
                "base": "stages/prod",
                "body": file,
                "maintainer_can_modify": true
            })
        );
        let body = sent["body"].as_str().unwrap();
        assert!(body.contains("- Account: Add the account page"), "{body}");
        assert!(body.contains("- Copy: Fix a typo"), "{body}");
        assert!(
            !body.contains("Invalid") && !body.contains("Tweak a test"),
            "{body}"
        );
        assert_eq!(
            w.gh.bodies("POST", &repo_path("/issues/9500/labels")),
            vec![json!({"labels": ["status - promotion"]})]
        );
        w.gh.assert_token_only_in_authorization();
        let text = stdout(&out);
        assert!(
            text.contains("pr url     https://github.com/18F/identity-idp/pull/9500"),
            "{text}"
        );
        assert!(text.contains("pr title   Deploy RC 113 to Prod"), "{text}");
        assert!(
            text.contains("pr         #9500 opened, labelled `status - promotion`"),
            "{text}"
        );
        let err = stderr(&out);
        assert!(
            err.contains("ok: opened the promotion PR \"Deploy RC 113 to Prod\": https://github.com/18F/identity-idp/pull/9500"),
            "{err}"
        );
        assert!(err.contains("announced in Slack"), "{err}");
        assert_eq!(
            w.slack_texts(),
            vec![format!(
                "idp RC 113: promotion PR to prod opened by {OPERATOR}: https://github.com/18F/identity-idp/pull/9500"
            )]
        );
    }

    #[test]
    fn cut_rc_json_names_the_pr() {
        let w = World::new();
        w.github_accepts_the_promotion(vec![]);
        let out = w.run(&[
            "cut-rc",
            "--open-pr",
            "--yes",
            "--output",
            "json",
            "--no-notify",
        ]);
        crate::support::assert_success(&out);
        let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(doc["rc"], "113");
        assert_eq!(
            doc["pr_url"],
            "https://github.com/18F/identity-idp/pull/9500"
        );
        assert_eq!(
            doc["pr"],
            json!({
                "status": "created",
                "rc": "113",
                "rc_from": "after RC 112 (https://github.com/18F/identity-idp/releases/tag/2026-11-13T180000)",
                "title": "Deploy RC 113 to Prod",
                "number": 9500,
                "url": "https://github.com/18F/identity-idp/pull/9500",
                "base": "stages/prod",
                "head": BRANCH,
                "label": "status - promotion"
            })
        );
        assert!(w.hook.requests().is_empty(), "--no-notify posts nothing");
    }

    #[test]
    fn cut_rc_dry_run_shows_the_pr_step_and_changes_nothing() {
        let w = World::new();
        w.github_accepts_the_promotion(vec![]);
        let out = w.run(&["cut-rc", "--open-pr", "--dry-run"]);
        crate::support::assert_success(&out);
        let text = stdout(&out);
        assert!(
            text.contains(&format!(
                "4. open PR 18F/identity-idp {BRANCH} -> stages/prod: \"Deploy RC 113 to Prod\" (RC 113 after RC 112 (https://github.com/18F/identity-idp/releases/tag/2026-11-13T180000)), label `status - promotion` (created if missing), body: the changelog"
            )),
            "{text}"
        );
        assert!(w.gh.requests().iter().all(|r| r.method == "GET"));
        assert!(w.r.origin_ref(&format!("refs/heads/{BRANCH}")).is_none());
        assert!(w.hook.requests().is_empty());
    }

    /// Issue 12 item 10: `[github] api_url` in the repository's `.login-release.toml` would send
    /// the user's token to a host the repository names. Refused, naming the key, before any call;
    /// once the user's own config trusts the key, the same file does reach that host (so the
    /// refusal, not a broken setup, is what kept the token home).
    #[test]
    fn a_repository_file_cannot_send_the_token_to_its_own_host() {
        let w = World::new();
        w.github_accepts_the_promotion(vec![]);
        let elsewhere = FakeGitHub::start();
        std::fs::write(
            w.r.work.join(".login-release.toml"),
            format!("[github]\napi_url = \"{}\"\n", elsewhere.url()),
        )
        .unwrap();
        let run = || {
            let mut c = w.cmd();
            c.env_remove("GITHUB_API_URL");
            let out = c
                .args(["cut-rc", "--open-pr", "--dry-run"])
                .output()
                .unwrap();
            w.assert_no_secrets(&out);
            out
        };
        let out = run();
        // What matters first: nothing went to the repository's host, least of all the token.
        let calls = |reqs: &[crate::support::http::Request]| -> Vec<String> {
            // Method and path only: the headers hold the token.
            reqs.iter()
                .map(|r| format!("{} {}", r.method, r.path))
                .collect()
        };
        assert!(
            elsewhere.server.requests().is_empty(),
            "a call went to the host the repository named: {:?}",
            calls(&elsewhere.server.requests())
        );
        let file = w.r.work.join(".login-release.toml");
        assert_fails(
            &out,
            3,
            &format!("{} sets `github.api_url`", file.display()),
            "trust_repo_config = [\"github.api_url\"]",
        );
        assert!(stderr(&out).contains("help: put it in your user config"));
        assert!(w.gh.requests().is_empty(), "refused before any call");

        let user = w.r.home.join(".config/login-release/config.toml");
        std::fs::create_dir_all(user.parent().unwrap()).unwrap();
        std::fs::write(&user, "trust_repo_config = [\"github.api_url\"]\n").unwrap();
        run();
        let reached = elsewhere.server.requests();
        assert!(
            reached
                .iter()
                .any(|r| r.header("authorization").is_some_and(|a| a.contains(TOKEN))),
            "trusted, the repository's host is used: {:?}",
            calls(&reached)
        );
    }

    #[test]
    fn cut_rc_reports_an_open_pr_instead_of_a_second_one() {
        let w = World::new();
        w.github_accepts_the_promotion(vec![Pr::promotion(9499, "113", BRANCH).json()]);
        let out = w.run(&["cut-rc", "--open-pr", "--yes"]);
        crate::support::assert_success(&out);
        assert!(w.gh.bodies("POST", &repo_path("/pulls")).is_empty());
        let text = stdout(&out);
        assert!(
            text.contains("pr url     https://github.com/18F/identity-idp/pull/9499"),
            "{text}"
        );
        assert!(text.contains("pr         #9499 was already open"), "{text}");
        assert!(
            stderr(&out).contains("ok: the promotion PR is already open: https://github.com/18F/identity-idp/pull/9499"),
            "{}",
            stderr(&out)
        );
        assert!(w.slack_texts().is_empty(), "nothing new to announce");
    }

    #[test]
    fn cut_rc_without_a_token_changes_nothing() {
        let w = World::new();
        w.github_accepts_the_promotion(vec![]);
        let out = w
            .cmd()
            .env_remove("GITHUB_TOKEN")
            .args(["cut-rc", "--open-pr", "--yes"])
            .output()
            .unwrap();
        assert_fails(
            &out,
            3,
            "the GitHub token is missing: neither GITHUB_TOKEN nor GH_TOKEN is set",
            "export GITHUB_TOKEN (or GH_TOKEN) with a classic token with the `repo` scope",
        );
        assert!(w.r.origin_ref(&format!("refs/heads/{BRANCH}")).is_none());
        assert!(w.gh.requests().is_empty());
    }

    #[test]
    fn cut_rc_with_a_rejected_token_or_unknown_repo_changes_nothing() {
        let w = World::new();
        w.gh.route(
            "GET",
            &repo_path(""),
            Response::json(401, json!({"message": "Bad credentials"})),
        );
        let out = w.run(&["cut-rc", "--open-pr", "--yes"]);
        assert_fails(
            &out,
            3,
            "the GitHub token is missing or invalid (GitHub answered 401 to GET /repos/18F/identity-idp: Bad credentials)",
            "GITHUB_TOKEN",
        );
        assert!(w.r.origin_ref(&format!("refs/heads/{BRANCH}")).is_none());

        let w = World::new();
        let out = w.run(&["cut-rc", "--open-pr", "--yes"]);
        assert_fails(
            &out,
            3,
            "repository 18F/identity-idp not found (or the token cannot see it)",
            "GITHUB_REPOSITORY",
        );
        assert!(w.r.origin_ref(&format!("refs/heads/{BRANCH}")).is_none());
    }

    #[test]
    fn cut_rc_refuses_an_rc_number_already_released() {
        let w = World::new();
        w.github_accepts_the_promotion(vec![]);
        let out = w.run(&["cut-rc", "--open-pr", "--rc", "112", "--yes"]);
        assert_fails(
            &out,
            3,
            "RC 112 is already released: https://github.com/18F/identity-idp/releases/tag/2026-11-13T180000",
            "leave --rc out",
        );
        assert!(w.r.origin_ref(&format!("refs/heads/{BRANCH}")).is_none());
    }

    #[test]
    fn cut_rc_pr_failure_after_the_push_is_partial_and_a_rerun_finishes() {
        let w = World::new();
        w.gh.repository()
            .releases(&[vec![release(3, "RC 112", "t", false, false)]])
            .label(true)
            .open_prs_for(BRANCH, vec![])
            .route(
                "POST",
                &repo_path("/pulls"),
                Response::json(502, json!({"message": "Server Error"})),
            )
            .accepts_pr(Pr::promotion(9500, "113", BRANCH).labels(&[]).json());
        let out = w.run(&["cut-rc", "--open-pr", "--yes"]);
        assert_fails(
            &out,
            4,
            &format!("pushed {BRANCH} to origin, but opening the promotion PR failed: GitHub answered 502 Bad Gateway to POST /repos/18F/identity-idp/pulls: Server Error"),
            "run the same command again: the branch is in place, so it only opens the PR",
        );
        assert_eq!(
            w.r.origin_ref(&format!("refs/heads/{BRANCH}")).as_deref(),
            Some(w.staging_sha.as_str())
        );
        assert!(w.slack_texts().is_empty());
        // The same command again: nothing to push, the PR is opened.
        let out = w.run(&["cut-rc", "--open-pr", "--yes"]);
        crate::support::assert_success(&out);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("ok: origin/{BRANCH} is already at")),
            "{err}"
        );
        assert!(err.contains("ok: opened the promotion PR"), "{err}");
        assert_eq!(w.gh.bodies("POST", &repo_path("/pulls")).len(), 2);
        assert_eq!(w.slack_texts().len(), 1);
    }

    #[test]
    fn a_failed_slack_post_is_only_a_warning() {
        let w = World::new();
        w.github_accepts_the_promotion(vec![]);
        let hook = HttpServer::start();
        hook.route("POST", HOOK_PATH, Response::text(404, "no_service"));
        let out = w
            .cmd()
            .env(
                "LOGIN_RELEASE_SLACK_WEBHOOK",
                format!("{}{HOOK_PATH}", hook.url),
            )
            .args(["cut-rc", "--open-pr", "--yes"])
            .output()
            .unwrap();
        crate::support::assert_success(&out);
        let err = stderr(&out);
        assert!(
            err.contains("warning: could not post the announcement to Slack: Slack answered 404 Not Found (no_service) (the step itself is done)"),
            "{err}"
        );
        assert!(!err.contains("WebhookSecretXYZ") && !stdout(&out).contains("WebhookSecretXYZ"));
        assert_eq!(hook.requests().len(), 1);
    }
}

/// `tag-release --github-release` and `rollback --open-pr` against the fake GitHub.
mod e2e_promoted {
    use std::process::Output;

    use serde_json::{json, Value};

    use super::e2e::{World, OPERATOR};
    use crate::cut_rc::assert_fails;
    use crate::support::github::{release, repo_path, Pr};
    use crate::support::gpg::Gpg;
    use crate::support::http::Response;
    use crate::support::{stderr, stdout};

    /// The tag name `LOGIN_RELEASE_NOW` gives.
    const TAG: &str = "2026-11-20T184808";
    const MERGE_SUBJECT: &str = "Merge pull request #9500 from 18F/stages/rc-2026-11-20";
    const PR_BODY: &str =
        "## Bug Fixes\n- Copy: Fix a typo ([#103](https://github.com/18F/identity-idp/pull/103))\n";

    /// A world whose origin/stages/prod tip is the promotion merge of #9500 (a normal merge).
    struct Promoted {
        w: World,
        gpg: Gpg,
        merge: String,
        before: String,
    }

    impl Promoted {
        fn new() -> Self {
            let w = World::new();
            let before = w.r.git(&["rev-parse", "origin/stages/prod"]);
            w.r.git(&["push", "-q", "origin", "main:stages/rc-2026-11-20"]);
            w.r.git(&["switch", "-q", "-c", "prod", "origin/stages/prod"]);
            let mut r = w.r;
            let merge = r.merge("origin/stages/rc-2026-11-20", MERGE_SUBJECT);
            r.git(&["push", "-q", "origin", "prod:stages/prod"]);
            r.git(&["switch", "-q", "main"]);
            let w = World { r, ..w };
            Promoted {
                w,
                gpg: Gpg::with_key(),
                merge,
                before,
            }
        }

        fn promotion_pr(&self) -> Pr {
            let mut pr = Pr::promotion(9500, "113", "stages/rc-2026-11-20")
                .merged("2026-11-20T17:00:00Z", &self.merge);
            pr.body = PR_BODY.to_string();
            pr
        }

        /// GitHub: the merged promotion PR (found by listing), its merge commit with
        /// `parents` parents, RC 112 released, and a release accepted.
        fn github(&self, parents: usize) {
            self.w
                .gh
                .repository()
                .closed_prs(
                    "stages/prod",
                    &[vec![
                        Pr::promotion(9400, "112", "stages/rc-2026-11-13")
                            .merged("2026-11-13T17:00:00Z", &"b".repeat(40))
                            .json(),
                        self.promotion_pr().json(),
                    ]],
                )
                .pull(self.promotion_pr().json())
                .commit(&self.merge, parents)
                .releases(&[vec![release(
                    3,
                    "RC 112",
                    "2026-11-13T180000",
                    false,
                    false,
                )]])
                .accepts_release(7, "RC 113", TAG);
        }

        fn run(&self, args: &[&str]) -> Output {
            let out = self
                .w
                .cmd()
                .env("GNUPGHOME", self.gpg.path())
                .args(args)
                .output()
                .unwrap();
            super::e2e::show(&out);
            self.w.assert_no_secrets(&out);
            out
        }
    }

    #[test]
    fn tag_release_publishes_the_release_of_the_latest_promotion() {
        let p = Promoted::new();
        p.github(2);
        let out = p.run(&["tag-release", "--github-release", "--yes"]);
        crate::support::assert_success(&out);
        assert!(p.w.r.origin_ref(&format!("refs/tags/{TAG}")).is_some());
        assert_eq!(
            p.w.gh.request_lines(),
            vec![
                "GET /repos/18F/identity-idp".to_string(),
                "GET /repos/18F/identity-idp/pulls?state=closed&base=stages%2Fprod&sort=updated&direction=desc&per_page=100".to_string(),
                format!("GET /repos/18F/identity-idp/commits/{}", p.merge),
                "GET /repos/18F/identity-idp/releases?per_page=100".to_string(),
                "POST /repos/18F/identity-idp/releases".to_string(),
            ]
        );
        assert_eq!(
            p.w.gh.bodies("POST", &repo_path("/releases")),
            vec![json!({
                "tag_name": TAG,
                "name": "RC 113",
                "body": PR_BODY,
                "draft": false,
                "prerelease": false,
                "make_latest": "true"
            })]
        );
        p.w.gh.assert_token_only_in_authorization();
        let url = format!("https://github.com/18F/identity-idp/releases/tag/{TAG}");
        let text = stdout(&out);
        assert!(text.contains("release title  RC 113"), "{text}");
        assert!(
            text.contains("release        RC 113 published from #9500 (https://github.com/18F/identity-idp/pull/9500)"),
            "{text}"
        );
        assert!(text.contains(&format!("release url    {url}")), "{text}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("ok: published the GitHub release RC 113 for {TAG} (notes from #9500, marked latest): {url}")),
            "{err}"
        );
        assert_eq!(
            p.w.slack_texts(),
            vec![format!(
                "identity-idp RC 113 released to prod by {OPERATOR}, tag {TAG}: {url}"
            )]
        );
    }

    #[test]
    fn tag_release_json_and_dry_run() {
        let p = Promoted::new();
        p.github(2);
        let out = p.run(&[
            "tag-release",
            "--github-release",
            "--pr",
            "9500",
            "--dry-run",
        ]);
        crate::support::assert_success(&out);
        let text = stdout(&out);
        assert!(
            text.contains(&format!("release 18F/identity-idp RC 113: publish for {TAG}, notes = the body of https://github.com/18F/identity-idp/pull/9500 (2 lines), marked latest")),
            "{text}"
        );
        assert!(p.w.gh.requests().iter().all(|r| r.method == "GET"));
        assert!(p.w.r.origin_ref(&format!("refs/tags/{TAG}")).is_none());
        assert!(p.w.hook.requests().is_empty());

        let out = p.run(&[
            "tag-release",
            "--github-release",
            "--pr",
            "https://github.com/18F/identity-idp/pull/9500",
            "--yes",
            "--output",
            "json",
        ]);
        crate::support::assert_success(&out);
        let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(
            doc["github_release"],
            json!({
                "status": "created",
                "title": "RC 113",
                "rc": "113",
                "tag": TAG,
                "url": format!("https://github.com/18F/identity-idp/releases/tag/{TAG}"),
                "pr": 9500,
                "pr_url": "https://github.com/18F/identity-idp/pull/9500",
                "merge": "merge"
            })
        );
        assert_eq!(doc["release_title"], "RC 113");
    }

    #[test]
    fn tag_release_refuses_a_squash_merge_unless_yes() {
        let p = Promoted::new();
        p.github(1);
        let out = p.run(&["tag-release", "--github-release"]);
        assert_fails(
            &out,
            3,
            &format!("https://github.com/18F/identity-idp/pull/9500 was squash-merged (its merge commit {} has one parent); the runbook requires a normal merge", p.merge),
            "run again with --yes to release it anyway",
        );
        assert!(p.w.r.origin_ref(&format!("refs/tags/{TAG}")).is_none());
        assert!(p.w.gh.requests().iter().all(|r| r.method == "GET"));
        let out = p.run(&["tag-release", "--github-release", "--yes"]);
        crate::support::assert_success(&out);
        assert!(
            stderr(&out).contains("was squash-merged")
                && stderr(&out).contains("releasing it anyway (--yes)"),
            "{}",
            stderr(&out)
        );
        assert_eq!(p.w.gh.bodies("POST", &repo_path("/releases")).len(), 1);
    }

    #[test]
    fn tag_release_refuses_an_existing_release_title() {
        let p = Promoted::new();
        p.w.gh.releases(&[vec![
            release(4, "RC 113", "2026-11-19T120000", false, false),
            release(3, "RC 112", "2026-11-13T180000", false, false),
        ]]);
        p.github(2);
        let out = p.run(&["tag-release", "--github-release", "--yes"]);
        assert_fails(
            &out,
            3,
            "a release titled `RC 113` already exists: https://github.com/18F/identity-idp/releases/tag/2026-11-19T120000",
            "each RC is released once",
        );
        assert!(p.w.r.origin_ref(&format!("refs/tags/{TAG}")).is_none());
        assert!(p.w.gh.bodies("POST", &repo_path("/releases")).is_empty());
    }

    #[test]
    fn tag_release_pr_misses_are_preflight_failures() {
        let p = Promoted::new();
        p.github(2);
        p.w.gh
            .pull(Pr::promotion(9501, "114", "stages/rc-2026-11-27").json())
            .route(
                "GET",
                &repo_path("/pulls/9999"),
                crate::support::github::not_found(),
            );
        let out = p.run(&["tag-release", "--github-release", "--pr", "9501", "--yes"]);
        assert_fails(
            &out,
            3,
            "pull request #9501 is not merged (still open)",
            "never squash",
        );
        let out = p.run(&["tag-release", "--github-release", "--pr", "#9999", "--yes"]);
        assert_fails(
            &out,
            3,
            "pull request #9999 not found in 18F/identity-idp",
            "--pr",
        );
        let out = p.run(&["tag-release", "--github-release", "--pr", "nine", "--yes"]);
        assert_fails(
            &out,
            2,
            "--pr: `nine` is not a pull request number or URL",
            "9500",
        );
        let out = p.run(&["tag-release", "--github-release", "--rc", "112", "--yes"]);
        assert_fails(
            &out,
            3,
            "--rc 112 does not match the promotion PR https://github.com/18F/identity-idp/pull/9500 (\"Deploy RC 113 to Prod\")",
            "drop --rc",
        );
        assert!(p.w.r.origin_ref(&format!("refs/tags/{TAG}")).is_none());
    }

    #[test]
    fn tag_release_release_failure_is_partial_and_a_rerun_publishes() {
        let p = Promoted::new();
        p.w.gh.route(
            "POST",
            &repo_path("/releases"),
            Response::json(500, json!({"message": "Server Error"})),
        );
        p.github(2);
        let out = p.run(&["tag-release", "--github-release", "--yes"]);
        assert_fails(
            &out,
            4,
            &format!("pushed {TAG} to origin, but publishing the GitHub release failed: GitHub answered 500 Internal Server Error to POST /repos/18F/identity-idp/releases: Server Error"),
            "run `login-release tag-release --github-release --pr 9500` again: the tag is on origin, so it only publishes the release",
        );
        assert!(p.w.r.origin_ref(&format!("refs/tags/{TAG}")).is_some());
        assert!(p.w.slack_texts().is_empty());
        // A second later: the tag at production's tip is found, only the release is published.
        let out =
            p.w.cmd()
                .env("GNUPGHOME", p.gpg.path())
                .env("LOGIN_RELEASE_NOW", "2026-11-20T190000Z")
                .args(["tag-release", "--github-release", "--yes"])
                .output()
                .unwrap();
        p.w.assert_no_secrets(&out);
        crate::support::assert_success(&out);
        let posts = p.w.gh.bodies("POST", &repo_path("/releases"));
        assert_eq!(posts.len(), 2);
        assert_eq!(posts[1]["tag_name"], TAG);
        assert!(
            stderr(&out).contains(&format!(
                "is already tagged {TAG} on origin; its GitHub release is still to publish"
            )),
            "{}",
            stderr(&out)
        );
        assert_eq!(p.w.slack_texts().len(), 1);
        assert_eq!(p.w.r.origin_git(&["tag", "-l"]), TAG, "no second tag");
    }

    #[test]
    fn rollback_opens_the_revert_pr_named_after_the_rc() {
        let p = Promoted::new();
        p.w.gh
            .repository()
            .pull(p.promotion_pr().json())
            .open_prs_for("revert-rc-113", vec![]);
        let mut revert = Pr::promotion(9600, "113", "revert-rc-113").labels(&[]);
        revert.title = "Revert RC 113".into();
        p.w.gh.route(
            "POST",
            &repo_path("/pulls"),
            crate::support::github::created(revert.json()),
        );
        let out = p.run(&[
            "rollback",
            "--open-pr",
            "--reason",
            "sign-in errors",
            "--yes",
        ]);
        crate::support::assert_success(&out);
        let tip =
            p.w.r
                .origin_ref("refs/heads/revert-rc-113")
                .expect("revert branch pushed");
        assert_eq!(p.w.r.git(&["rev-parse", &format!("{tip}^")]), p.merge);
        assert_eq!(
            p.w.r.git(&["rev-parse", &format!("{tip}^{{tree}}")]),
            p.w.r.git(&["rev-parse", &format!("{}^{{tree}}", p.before)])
        );
        assert_eq!(
            p.w.gh.request_lines(),
            vec![
                "GET /repos/18F/identity-idp",
                "GET /repos/18F/identity-idp/pulls/9500",
                "GET /repos/18F/identity-idp/pulls?state=open&head=18F%3Arevert-rc-113&per_page=100",
                "GET /repos/18F/identity-idp/pulls?state=open&head=18F%3Arevert-rc-113&per_page=100",
                "POST /repos/18F/identity-idp/pulls",
            ]
        );
        let body = format!(
            "Reverts RC 113 on `stages/prod`: this undoes the promotion merge {} of #9500 (`git revert -m 1`, against its first parent).\n\n**Reason:** sign-in errors\n\nAfter this merges: recycle production again (the full production steps), then hold a retrospective.\n",
            p.merge
        );
        assert_eq!(
            p.w.gh.bodies("POST", &repo_path("/pulls")),
            vec![json!({
                "title": "Revert RC 113",
                "head": "revert-rc-113",
                "base": "stages/prod",
                "body": body,
                "maintainer_can_modify": true
            })]
        );
        p.w.gh.assert_token_only_in_authorization();
        let text = stdout(&out);
        assert!(
            text.contains("pr url    https://github.com/18F/identity-idp/pull/9600"),
            "{text}"
        );
        assert!(text.contains("pr        #9600 opened"), "{text}");
        let err = stderr(&out);
        assert!(
            err.contains("ok: opened the revert PR \"Revert RC 113\": https://github.com/18F/identity-idp/pull/9600"),
            "{err}"
        );
        assert!(
            err.contains("reminder: after the revert merges, recycle production again (the full production steps), and schedule a retrospective for this rollback"),
            "{err}"
        );
        assert_eq!(
            p.w.slack_texts(),
            vec![format!("prod: rollback of identity-idp RC 113 started by {OPERATOR}. Reason: sign-in errors. Revert PR: https://github.com/18F/identity-idp/pull/9600")]
        );
    }

    #[test]
    fn rollback_dry_run_and_existing_revert_pr() {
        let p = Promoted::new();
        let mut revert = Pr::promotion(9600, "113", "revert-rc-113").labels(&[]);
        revert.title = "Revert RC 113".into();
        p.w.gh
            .repository()
            .pull(p.promotion_pr().json())
            .open_prs_for("revert-rc-113", vec![]);
        let out = p.run(&["rollback", "--open-pr", "--dry-run"]);
        crate::support::assert_success(&out);
        let text = stdout(&out);
        assert!(
            text.contains(&format!("open PR 18F/identity-idp revert-rc-113 -> stages/prod: \"Revert RC 113\", body names the merge {} of #9500 and the reason", &p.merge[..9])),
            "{text}"
        );
        assert!(p.w.r.origin_ref("refs/heads/revert-rc-113").is_none());
        assert!(p.w.gh.requests().iter().all(|r| r.method == "GET"));

        // Already open: reported, not duplicated.
        let p = Promoted::new();
        p.w.gh
            .repository()
            .pull(p.promotion_pr().json())
            .open_prs_for("revert-rc-113", vec![revert.json()]);
        let out = p.run(&["rollback", "--open-pr", "--yes", "--no-notify"]);
        crate::support::assert_success(&out);
        assert!(p.w.gh.bodies("POST", &repo_path("/pulls")).is_empty());
        assert!(
            stderr(&out).contains(
                "ok: the revert PR is already open: https://github.com/18F/identity-idp/pull/9600"
            ),
            "{}",
            stderr(&out)
        );
        assert!(p.w.slack_texts().is_empty());
    }

    #[test]
    fn rollback_without_open_pr_only_announces() {
        let p = Promoted::new();
        let out = p.run(&["rollback", "--reason", "sign-in errors", "--yes"]);
        crate::support::assert_success(&out);
        assert!(p
            .w
            .r
            .origin_ref("refs/heads/revert-rc-2026-11-20")
            .is_some());
        assert!(p.w.gh.requests().is_empty(), "no GitHub without --open-pr");
        assert!(stderr(&out).contains("reminder: after the revert merges"));
        assert_eq!(
            p.w.slack_texts(),
            vec![format!(
                "prod: rollback of identity-idp started by {OPERATOR}. Reason: sign-in errors"
            )]
        );
    }

    #[test]
    fn rollback_pr_failure_after_the_push_is_partial() {
        let p = Promoted::new();
        p.w.gh
            .repository()
            .pull(p.promotion_pr().json())
            .open_prs_for("revert-rc-113", vec![])
            .route(
                "POST",
                &repo_path("/pulls"),
                Response::json(
                    403,
                    json!({"message": "Resource not accessible by integration"}),
                )
                .header("x-accepted-github-permissions", "pull_requests=write"),
            );
        let out = p.run(&["rollback", "--open-pr", "--yes"]);
        assert_fails(
            &out,
            4,
            "pushed revert-rc-113 to origin, but opening the revert PR failed: the GitHub token is not allowed to POST /repos/18F/identity-idp/pulls on 18F/identity-idp (403: Resource not accessible by integration)",
            "pull_requests=write",
        );
        assert!(p.w.r.origin_ref("refs/heads/revert-rc-113").is_some());
        assert!(p.w.slack_texts().is_empty());
    }
}
