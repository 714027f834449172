//! The shared release record (`src/deploy/store.rs`) against a real bare origin and real clones:
//! the lock is a fast-forward push, so these tests race real `git push`es, not a mock.
//! (No `deploy` subcommand yet: these drive the library directly.)

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use jiff::Timestamp;
use login_release::config::Config;
use login_release::deploy::calendar::DeployKind;
use login_release::deploy::record::{Actor, Lifecycle, Start, Step};
use login_release::deploy::store::{Loaded, SaveError, Store};
use login_release::error::report;
use login_release::git::repo::Repo;
use serde_json::json;

use crate::support::git::Repos;

const REF: &str = "refs/login-release/deploys/prod";

fn actor(n: &str) -> Actor {
    Actor {
        git: format!("{n} <{n}@example.gov>"),
        aws: format!("arn:aws:sts::123456789012:assumed-role/release/{n}"),
    }
}

fn t(min: i64) -> Timestamp {
    Timestamp::from_second(1_796_000_000 + min * 60).unwrap()
}

fn start(env: &str, who: &str, min: i64) -> Start {
    Start {
        env: env.into(),
        app: "idp".into(),
        kind: DeployKind::Full,
        off_cycle_reason: None,
        options: json!({"rc": 112}),
        actor: actor(who),
        now: t(min),
    }
}

/// Runs `f` with a store over the clone at `dir` (each caller opens its own repository, as
/// separate processes would).
fn with_store<T>(dir: &Path, f: impl FnOnce(&Store<'_>) -> T) -> T {
    let repo = Repo::open(dir).unwrap();
    let settings = Config::defaults().settings;
    let store = Store::new(&repo, &settings).unwrap();
    f(&store)
}

fn two_clones() -> (Repos, PathBuf) {
    let r = Repos::new();
    let other = r.clone_origin("bob");
    (r, other)
}

#[test]
fn a_lagging_clone_sees_the_record_and_every_update() {
    let (r, bob) = two_clones();
    let head_before = r.git(&["rev-parse", "HEAD"]);
    assert!(with_store(&bob, |s| s.load("prod").unwrap()).is_none());

    let first = with_store(&r.work, |s| s.acquire(start("prod", "ann", 0)).unwrap());
    assert_eq!(r.origin_ref(REF), Some(first.head.to_string()));
    // Written off the work tree: HEAD, the index and the files are as they were.
    assert_eq!(r.git(&["rev-parse", "HEAD"]), head_before);
    assert_eq!(r.git(&["status", "--porcelain"]), "");
    assert_eq!(
        r.origin_git(&["ls-tree", "--name-only", REF]),
        "record.json"
    );
    assert!(r
        .origin_git(&["log", "-1", "--format=%s", REF])
        .contains("start idp full release"));

    let seen = with_store(&bob, |s| s.load("prod").unwrap().unwrap());
    assert_eq!(seen.head, first.head);
    assert_eq!(seen.record, first.record);
    assert_eq!(seen.record.holder().unwrap().0, &actor("ann"));

    let ann = actor("ann");
    let second = with_store(&r.work, |s| {
        s.update("prod", "start preflight", &ann, t(1), |rec| {
            rec.start_step(Step::Preflight, &ann, t(1), Some(json!({"checks": 6})))
        })
        .unwrap()
    });
    let seen = with_store(&bob, |s| s.load("prod").unwrap().unwrap());
    assert_eq!(seen.head, second.head);
    assert_eq!(seen.record.step(Step::Preflight).state.name(), "running");
    // A chain of commits, one per change.
    assert_eq!(r.origin_git(&["rev-list", "--count", REF]), "2");
}

#[test]
fn a_second_start_is_refused_naming_the_holder() {
    let (r, bob) = two_clones();
    with_store(&r.work, |s| s.acquire(start("prod", "ann", 0)).unwrap());
    let head = r.origin_ref(REF);
    let e = with_store(&bob, |s| s.acquire(start("prod", "bob", 5)).unwrap_err());
    let rep = report(&e);
    assert_eq!(rep.code, 3, "{}", rep.message);
    assert!(
        rep.message.contains("already active for prod"),
        "{}",
        rep.message
    );
    assert!(
        rep.message.contains("ann <ann@example.gov>"),
        "{}",
        rep.message
    );
    assert!(rep.message.contains("since 2026-"), "{}", rep.message);
    assert!(
        rep.message.contains("at step `preflight`"),
        "{}",
        rep.message
    );
    assert!(rep.hint.unwrap().contains("--steal --reason"));
    assert_eq!(r.origin_ref(REF), head, "nothing was written");
}

#[test]
fn of_two_concurrent_starts_exactly_one_wins() {
    let (r, bob) = two_clones();
    // Several rounds, one environment each, so the race is run more than once.
    for round in 0..4 {
        let env = format!("prod{round}");
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = [(r.work.clone(), "ann"), (bob.clone(), "bob")]
            .into_iter()
            .map(|(dir, who)| {
                let barrier = barrier.clone();
                let env = env.clone();
                std::thread::spawn(move || {
                    let repo = Repo::open(&dir).unwrap();
                    let settings = Config::defaults().settings;
                    let store = Store::new(&repo, &settings).unwrap();
                    barrier.wait();
                    let got = store.acquire(start(&env, who, 0));
                    (
                        who,
                        got.map(|l: Loaded| l.head).map_err(|e| report(&e).message),
                    )
                })
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|h| h.join().unwrap()).collect();
        let winners: Vec<_> = results.iter().filter(|(_, g)| g.is_ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let (winner, head) = winners[0];
        let (_, lost) = results.iter().find(|(w, _)| w != winner).unwrap();
        let lost = lost.as_ref().unwrap_err();
        assert!(
            lost.contains(&format!("{winner} <{winner}@example.gov>")),
            "the loser is told who holds it: {lost}"
        );
        let refname = format!("refs/login-release/deploys/{env}");
        assert_eq!(
            r.origin_ref(&refname),
            Some(head.as_ref().unwrap().to_string())
        );
        let on_origin = with_store(&r.work, |s| s.load(&env).unwrap().unwrap());
        assert_eq!(on_origin.record.holder().unwrap().0, &actor(winner));
    }
}

#[test]
fn a_write_over_a_moved_record_is_reported_as_another_writer() {
    let (r, bob) = two_clones();
    let ann = actor("ann");
    let stale = with_store(&r.work, |s| s.acquire(start("prod", "ann", 0)).unwrap());
    // Ann's other terminal (the clone `bob` here, same person) moves the record on.
    let moved = with_store(&bob, |s| {
        s.update("prod", "start preflight", &ann, t(1), |rec| {
            rec.start_step(Step::Preflight, &ann, t(1), None)
        })
        .unwrap()
    });
    let mut rec = stale.record.clone();
    rec.start_step(Step::Preflight, &ann, t(2), None).unwrap();

    // First without the new commit locally, then after fetching it (a plain non-fast-forward).
    for fetch_first in [false, true] {
        let err = with_store(&r.work, |s| {
            if fetch_first {
                s.load("prod").unwrap();
            }
            s.save(&rec, Some(stale.head), "start preflight", &ann, t(2))
                .unwrap_err()
        });
        let SaveError::Conflict(c) = err else {
            panic!("expected a conflict, got {err:?}")
        };
        assert_eq!(c.found, Some(moved.head));
        let rep = report(&c.into_error());
        assert_eq!(rep.code, 1);
        assert!(
            rep.message
                .contains("the record moved under us (another writer)"),
            "{}",
            rep.message
        );
        assert!(rep.message.contains("held by ann"), "{}", rep.message);
        assert_eq!(r.origin_ref(REF), Some(moved.head.to_string()));
    }
}

#[test]
fn steal_and_abort_free_the_lock_and_the_chain_goes_on() {
    let (r, bob_dir) = two_clones();
    let (ann, bob) = (actor("ann"), actor("bob"));
    with_store(&r.work, |s| s.acquire(start("prod", "ann", 0)).unwrap());
    let e = with_store(&bob_dir, |s| s.steal("prod", &bob, " ", t(1)).unwrap_err());
    assert_eq!(report(&e).code, 3);
    let stolen = with_store(&bob_dir, |s| {
        s.steal("prod", &bob, "ann is out sick", t(2)).unwrap()
    });
    assert_eq!(stolen.record.holder(), Some((&bob, t(2))));
    assert_eq!(stolen.record.steals[0].from, ann);

    // Ann's next step is refused: she no longer holds it.
    let e = with_store(&r.work, |s| {
        s.update("prod", "start preflight", &ann, t(3), |rec| {
            rec.start_step(Step::Preflight, &ann, t(3), None)
        })
        .unwrap_err()
    });
    let rep = report(&e);
    assert_eq!(rep.code, 3);
    assert!(
        rep.message.contains("does not hold the release lock"),
        "{}",
        rep.message
    );

    let aborted = with_store(&bob_dir, |s| {
        s.abort("prod", &bob, "RC pulled", t(4)).unwrap()
    });
    assert!(
        matches!(aborted.record.lifecycle, Lifecycle::Aborted { ref reason, .. } if reason == "RC pulled")
    );
    let again = with_store(&r.work, |s| s.acquire(start("prod", "ann", 10)).unwrap());
    assert!(again.record.is_active());
    assert_eq!(r.origin_git(&["rev-list", "--count", REF]), "4");
    assert!(r
        .origin_git(&["log", "-1", "--skip=1", "--format=%s", REF])
        .contains("aborted by bob"));

    let e = with_store(&r.work, |s| {
        s.abort("staging", &ann, "x", t(11)).unwrap_err()
    });
    assert!(report(&e)
        .message
        .contains("no release has been started for staging"));
}
