//! Real git repositories built by code, with pinned dates and authors, and a bare "origin".
//! Uses the `git` program so the fixtures are built independently of the code under test.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Repos {
    /// Holds everything; removed when the fixture drops.
    pub dir: tempfile::TempDir,
    /// The working clone the binary runs in (`-C`).
    pub work: PathBuf,
    /// The bare "origin".
    pub origin: PathBuf,
    /// HOME for git and the binary: an empty one, so no developer config leaks in.
    pub home: PathBuf,
    clock: u32,
}

impl Repos {
    /// A bare origin with `main` holding one commit, and a clone of it in `work`.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let origin = dir.path().join("origin.git");
        let work = dir.path().join("work");
        let mut r = Repos {
            dir,
            work: work.clone(),
            origin: origin.clone(),
            home,
            clock: 0,
        };
        r.run(
            r.dir.path(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                origin.to_str().unwrap(),
            ],
        );
        r.run(
            r.dir.path(),
            &["init", "-q", "-b", "main", work.to_str().unwrap()],
        );
        r.git(&["remote", "add", "origin", origin.to_str().unwrap()]);
        r.commit("Initial commit", "");
        r.git(&["push", "-q", "-u", "origin", "main"]);
        r
    }

    fn run(&self, cwd: &Path, args: &[&str]) -> String {
        let date = format!(
            "2026-01-01T{:02}:{:02}:00Z",
            8 + self.clock / 60,
            self.clock % 60
        );
        let out = Command::new("git")
            .args([
                "-c",
                "commit.gpgsign=false",
                "-c",
                "tag.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(cwd)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.home.join(".gitconfig"))
            .env("GIT_AUTHOR_NAME", "Fixture Author")
            .env("GIT_AUTHOR_EMAIL", "author@example.gov")
            .env("GIT_COMMITTER_NAME", "Fixture Author")
            .env("GIT_COMMITTER_EMAIL", "author@example.gov")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("the `git` program is needed by the tests: apt-get install git");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs git in the working clone and returns its trimmed stdout; panics on failure.
    pub fn git(&self, args: &[&str]) -> String {
        self.run(&self.work, args)
    }

    /// Runs git in the bare origin.
    pub fn origin_git(&self, args: &[&str]) -> String {
        self.run(&self.origin, args)
    }

    /// Commits a change to a file named after the commit count, one pinned minute after the last.
    /// Returns the full sha.
    pub fn commit(&mut self, subject: &str, body: &str) -> String {
        self.clock += 1;
        let file = self.work.join(format!("file-{}.txt", self.clock));
        std::fs::write(&file, format!("{subject}\n")).unwrap();
        self.git(&["add", "-A"]);
        let msg = if body.is_empty() {
            subject.to_string()
        } else {
            format!("{subject}\n\n{body}")
        };
        self.git(&["commit", "-q", "--allow-empty", "-m", &msg]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Commits a change to a given file with given contents.
    pub fn commit_file(&mut self, path: &str, contents: &str, subject: &str) -> String {
        self.clock += 1;
        let file = self.work.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&file, contents).unwrap();
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", subject]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// A merge of `branch` into the current branch with a given message (`--no-ff`).
    pub fn merge(&mut self, branch: &str, message: &str) -> String {
        self.clock += 1;
        self.git(&["merge", "-q", "--no-ff", "-m", message, branch]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// The sha a ref has on origin, or None.
    pub fn origin_ref(&self, refname: &str) -> Option<String> {
        let out = Command::new("git")
            .args(["rev-parse", "--verify", "-q", refname])
            .current_dir(&self.origin)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", &self.home)
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Repos {
    /// Another clone of origin, next to `work` (a second person's laptop). Its own identity.
    pub fn clone_origin(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        self.run(
            self.dir.path(),
            &[
                "clone",
                "-q",
                self.origin.to_str().unwrap(),
                path.to_str().unwrap(),
            ],
        );
        path
    }
}
