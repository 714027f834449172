//! The release core called from code, with no CLI: cut the RC branch, then tag production,
//! through `release::cut::run` and `release::tag::run` with a context built from explicit inputs
//! (settings, confirmer, clock, no notifications). This is how `deploy` drives the steps.

use login_release::config::Config;
use login_release::context::{Confirmer, Context};
use login_release::outcome::Status;
use login_release::output::{ColorChoice, Format, Output};
use login_release::release::cut::{self, App, CutRequest, Mode};
use login_release::release::tag::{self, TagRequest};

use crate::support::git::Repos;

fn context(repos: &Repos, confirmer: Confirmer) -> Context {
    Context::builder()
        .repo_dir(&repos.work)
        .config(Config::defaults())
        .output(Output::new(Format::Json, ColorChoice::Never, true))
        .confirmer(confirmer)
        .notify(false)
        .now("2026-11-20T18:49:08Z".parse().unwrap())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn cut_then_tag_through_the_library() {
    let mut repos = Repos::new();
    repos.git(&["config", "user.name", "Release Manager"]);
    repos.git(&["config", "user.email", "rm@example.gov"]);
    repos.git(&["push", "-q", "origin", "main:stages/prod"]);
    let fix = repos.commit(
        "Fix the sign-in page (LG-1)",
        "changelog: User-Facing Improvements, Sign in, Fix the page",
    );
    repos.git(&["push", "-q", "origin", "main"]);
    let request = CutRequest {
        mode: Mode::Cut,
        app: App::Idp,
        source: Some(fix.clone()),
        staging_url: None,
        date: "2026-11-20".parse().unwrap(),
        rc: None,
        open_pr: false,
        cherry_pick: Vec::new(),
        changelog_file: Some(repos.dir.path().join("changelog.md")),
    };

    // A caller that refuses changes nothing: the gate is the confirmer, not a terminal.
    let refused = cut::run(&context(&repos, Confirmer::Refuse), &request).await;
    assert!(refused.is_err(), "a refusing confirmer must stop the cut");
    assert_eq!(repos.origin_ref("refs/heads/stages/rc-2026-11-20"), None);

    let ctx = context(&repos, Confirmer::Yes);
    let cut = cut::run(&ctx, &request).await.expect("cut");
    assert_eq!(cut.status, Status::Applied);
    assert_eq!(cut.branch, "stages/rc-2026-11-20");
    assert_eq!(cut.sha, fix);
    assert!(cut.changelog_written);
    assert_eq!(
        repos
            .origin_ref("refs/heads/stages/rc-2026-11-20")
            .as_deref(),
        Some(fix.as_str())
    );
    let again = cut::run(&ctx, &request).await.expect("cut again");
    assert_eq!(
        again.status,
        Status::AlreadyDone,
        "a second cut finds its work done"
    );

    // The promotion merge a reviewer would make, then the tag. Unsigned, because a library
    // test shares its process environment (GNUPGHOME) with the others; tag-release's CLI tests
    // sign with a real key. `--yes` is the consent an unsigned tag needs.
    repos.git(&["fetch", "-q", "origin"]);
    repos.git(&["checkout", "-q", "-b", "prod", "origin/stages/prod"]);
    repos.merge(
        "origin/stages/rc-2026-11-20",
        "Merge pull request #1 from 18F/stages/rc-2026-11-20",
    );
    repos.git(&["push", "-q", "origin", "prod:stages/prod"]);
    let prod = repos.origin_ref("refs/heads/stages/prod").unwrap();
    let tagged = tag::run(
        &ctx,
        &TagRequest {
            no_sign: true,
            ..TagRequest::default()
        },
    )
    .await
    .expect("tag");
    assert_eq!(tagged.status, Status::Applied);
    assert_eq!(tagged.tag, "2026-11-20T184908");
    assert_eq!(tagged.commit, prod);
    assert!(repos.origin_ref("refs/tags/2026-11-20T184908").is_some());
}
