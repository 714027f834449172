//! The sandbox's GitHub: a small stateful GitHub REST API (`github_server.py`, Python standard
//! library only, embedded here and run with the sandbox's Python) over the sandbox's bare git
//! origin, so `cut-rc --open-pr`, the reviewer's approval and merge, and `tag-release
//! --github-release` are rehearsed against something that keeps state and writes real commits.
//!
//! Why Python and not a Rust server in this binary: every other process of the sandbox already
//! runs on the sandbox's Python (the emulator, the deploy.json server), `sandbox down` stops them
//! all the same way, and the server must outlive `sandbox up`. A Rust server would need a second
//! detached mode of this binary and an async HTTP stack in the library; the Python one is one
//! file with no dependency and the same launcher serves the sandbox and the tests.
//!
//! [`start`] runs one tied to the calling process (killed on drop; it also exits when our end of
//! its stdin closes), for the integration tests; [`Launch::detached`] runs one that outlives us,
//! for `sandbox up`. [`Remote`] speaks its control API (`/_sandbox/`): approve as a reviewer,
//! merge or close as that reviewer, seed a release, dump the state.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde_json::{json, Value};

use crate::error::{failed, preflight};

/// The server, embedded so the binary needs no file beside it.
pub const SERVER: &str = include_str!("github_server.py");
/// The file name it is written under (also what `sandbox down` recognises it by).
pub const MARKER: &str = "github_server.py";
/// The repository it serves.
pub const REPOSITORY: &str = "18F/identity-idp";
/// Who the token belongs to (the release manager: the PRs' author).
pub const USER: &str = "release-manager";
/// Who `sandbox approve` plays.
pub const REVIEWER: &str = "sandbox-reviewer";
/// The throw-away token `sandbox env` exports. The server accepts any non-empty token; this one
/// exists so a real GITHUB_TOKEN in the shell is never sent to the sandbox.
pub const TOKEN: &str = "sandbox-token-not-a-secret";
/// The branches that take a merge only after an approving review (as identity-idp protects them).
pub const PROTECTED: &[&str] = &["stages/prod"];

/// How a PR is merged, as GitHub's `merge_method` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMethod {
    /// A merge commit with two parents (the runbook's way).
    Merge,
    /// One single-parent commit with the PR's changes.
    Squash,
    /// The PR's commits replayed on the base, one by one.
    Rebase,
}

impl MergeMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            MergeMethod::Merge => "merge",
            MergeMethod::Squash => "squash",
            MergeMethod::Rebase => "rebase",
        }
    }
}

impl std::str::FromStr for MergeMethod {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "merge" => Ok(MergeMethod::Merge),
            "squash" => Ok(MergeMethod::Squash),
            "rebase" => Ok(MergeMethod::Rebase),
            _ => Err(format!("{s:?} is not merge, squash or rebase")),
        }
    }
}

/// What to start: the server's files go in `dir` (`github_server.py`, `github.json` with its
/// state, `github.log` with its request lines), its git is the bare repository `origin`.
#[derive(Debug, Clone)]
pub struct Launch {
    python: PathBuf,
    dir: PathBuf,
    origin: PathBuf,
    protect: Vec<String>,
    detach: bool,
}

/// Starts a GitHub tied to this process (killed when the handle drops), protecting
/// [`PROTECTED`]. The integration tests' entry point.
pub fn start(python: &Path, dir: &Path, origin: &Path) -> Result<Handle> {
    Launch::new(python, dir, origin).start()
}

impl Launch {
    pub fn new(python: &Path, dir: &Path, origin: &Path) -> Self {
        Launch {
            python: python.to_path_buf(),
            dir: dir.to_path_buf(),
            origin: origin.to_path_buf(),
            protect: PROTECTED.iter().map(|s| s.to_string()).collect(),
            detach: false,
        }
    }

    /// The branches that need an approving review before a merge (default [`PROTECTED`]).
    pub fn protect(mut self, branches: &[&str]) -> Self {
        self.protect = branches.iter().map(|s| s.to_string()).collect();
        self
    }

    /// The server outlives this process, in its own process group (for `sandbox up`).
    pub fn detached(mut self) -> Self {
        self.detach = true;
        self
    }

    pub fn start(self) -> Result<Handle> {
        use std::os::unix::process::CommandExt as _;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let script = self.dir.join(MARKER);
        std::fs::write(&script, SERVER).with_context(|| format!("writing {}", script.display()))?;
        let ready = self.dir.join("github.ready");
        let _ = std::fs::remove_file(&ready);
        let log_path = self.dir.join("github.log");
        // A file, never a pipe: nobody reads the server's request log while it runs.
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut cmd = Command::new(&self.python);
        cmd.arg(&script)
            .arg("--origin")
            .arg(&self.origin)
            .arg("--state")
            .arg(self.dir.join("github.json"))
            .arg("--ready")
            .arg(&ready)
            .args(["--repo", REPOSITORY, "--user", USER]);
        for b in &self.protect {
            cmd.args(["--protect", b]);
        }
        cmd.stdout(Stdio::null()).stderr(log);
        if self.detach {
            cmd.arg("--detach").stdin(Stdio::null()).process_group(0);
        } else {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().map_err(|e| {
            preflight(
                format!("cannot run {}: {e}", self.python.display()),
                "run `make test-deps`, or set LOGIN_RELEASE_MOTO_PYTHON to the sandbox's Python",
            )
        })?;
        let port = match wait_ready(&mut child, &ready, &log_path, Duration::from_secs(15)) {
            Ok(port) => port,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        let pid = child.id();
        Ok(Handle {
            remote: Remote::new(port),
            pid,
            dir: self.dir,
            child: if self.detach { None } else { Some(child) },
        })
    }
}

fn wait_ready(child: &mut Child, ready: &Path, log: &Path, limit: Duration) -> Result<u16> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait()? {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let last = text.lines().rev().find(|l| !l.trim().is_empty());
            return Err(failed(
                format!(
                    "the sandbox's GitHub exited ({status}): {}",
                    last.unwrap_or("")
                ),
                format!("see {}", log.display()),
            ));
        }
        if let Ok(text) = std::fs::read_to_string(ready) {
            let v: Value =
                serde_json::from_str(&text).context("reading the GitHub's ready file")?;
            let port = v["port"].as_u64().unwrap_or(0) as u16;
            let remote = Remote::new(port);
            if remote.get("/_sandbox/health").is_ok() {
                return Ok(port);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(failed(
        format!(
            "the sandbox's GitHub did not answer within {}s",
            limit.as_secs()
        ),
        format!("see {}", log.display()),
    ))
}

/// A running sandbox GitHub. Dropping it kills the server unless it was started detached.
pub struct Handle {
    remote: Remote,
    pid: u32,
    dir: PathBuf,
    child: Option<Child>,
}

impl Handle {
    /// The API base to give the client (`GITHUB_API_URL`).
    pub fn api_url(&self) -> String {
        self.remote.url()
    }

    pub fn port(&self) -> u16 {
        self.remote.port
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Where its files are (`github.json`, `github.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn remote(&self) -> &Remote {
        &self.remote
    }

    /// Adds an APPROVED review by `reviewer` to PR `pr`.
    pub fn approve(&self, pr: u64, reviewer: &str) -> Result<Value> {
        self.remote.approve(pr, reviewer)
    }

    /// Merges PR `pr` with `method` as [`REVIEWER`]; the answer holds `sha` and the PR as `pull`.
    pub fn merge(&self, pr: u64, method: MergeMethod) -> Result<Value> {
        self.remote.merge(pr, method, REVIEWER)
    }

    /// Closes PR `pr` without merging it.
    pub fn close(&self, pr: u64) -> Result<Value> {
        self.remote.close(pr)
    }

    /// Everything it holds: labels, pulls, reviews, releases.
    pub fn state(&self) -> Result<Value> {
        self.remote.state()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The control API of a running sandbox GitHub (loopback, no token).
#[derive(Debug, Clone)]
pub struct Remote {
    port: u16,
}

impl Remote {
    pub fn new(port: u16) -> Self {
        Remote { port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn approve(&self, pr: u64, reviewer: &str) -> Result<Value> {
        self.post(
            &format!("/_sandbox/pulls/{pr}/approve"),
            &json!({ "reviewer": reviewer }),
        )
    }

    pub fn merge(&self, pr: u64, method: MergeMethod, reviewer: &str) -> Result<Value> {
        self.post(
            &format!("/_sandbox/pulls/{pr}/merge"),
            &json!({ "reviewer": reviewer, "method": method.as_str() }),
        )
    }

    /// Approves and merges `pr` in one request, as a reviewer who approves and merges at once:
    /// nobody polling GitHub sees it approved but still open. The answer also holds `review`.
    pub fn approve_and_merge(&self, pr: u64, method: MergeMethod, reviewer: &str) -> Result<Value> {
        self.post(
            &format!("/_sandbox/pulls/{pr}/merge"),
            &json!({ "reviewer": reviewer, "method": method.as_str(), "approve": true }),
        )
    }

    pub fn close(&self, pr: u64) -> Result<Value> {
        self.post(&format!("/_sandbox/pulls/{pr}/close"), &json!({}))
    }

    /// Publishes a release of `tag` (created at `target` when missing, as GitHub does).
    pub fn seed_release(&self, tag: &str, title: &str, target: &str, body: &str) -> Result<Value> {
        self.post(
            "/_sandbox/releases",
            &json!({ "tag_name": tag, "name": title, "target_commitish": target, "body": body }),
        )
    }

    pub fn state(&self) -> Result<Value> {
        self.get("/_sandbox/state")
    }

    /// The numbers of the open PRs into `base`, lowest first.
    pub fn open_pulls_into(&self, base: &str) -> Result<Vec<u64>> {
        let state = self.state()?;
        let mut open: Vec<u64> = state["pulls"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, pr)| pr["state"] == "open" && pr["base_ref"] == base)
            .filter_map(|(n, _)| n.parse().ok())
            .collect();
        open.sort_unstable();
        Ok(open)
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        self.request("GET", path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.request("POST", path, Some(body))
    }

    /// One HTTP/1.0 exchange (the server closes the connection after it): no async runtime, so
    /// tests of either kind and the CLI can call it.
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let what = format!("{method} {path}");
        let unreachable = |e: std::io::Error| {
            failed(
                format!("the sandbox's GitHub did not answer {what}: {e}"),
                "check it runs: `login-release sandbox status`",
            )
        };
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).map_err(unreachable)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(unreachable)?;
        let data = body.map(Value::to_string).unwrap_or_default();
        write!(
            s,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{data}",
            self.port,
            data.len()
        )
        .map_err(unreachable)?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).map_err(unreachable)?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let message = crate::github::client::github_message(body);
            return Err(failed(
                format!("the sandbox's GitHub answered {status} to {what}: {message}"),
                "`login-release sandbox status` shows the sandbox; its GitHub logs to github.log",
            ));
        }
        Ok(value)
    }
}

/// A PR number from `N`, `#N` or a PR URL (`.../pull/N`).
pub fn parse_pr(s: &str) -> Option<u64> {
    let s = s.trim().trim_end_matches('/');
    let last = s.rsplit('/').next().unwrap_or(s);
    last.trim_start_matches('#').parse().ok().filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pr_numbers() {
        assert_eq!(parse_pr("12"), Some(12));
        assert_eq!(parse_pr("#12"), Some(12));
        assert_eq!(
            parse_pr("http://127.0.0.1:5/18F/identity-idp/pull/7/"),
            Some(7)
        );
        assert_eq!(parse_pr("0"), None);
        assert_eq!(parse_pr("x"), None);
    }

    #[test]
    fn merge_methods() {
        for m in [MergeMethod::Merge, MergeMethod::Squash, MergeMethod::Rebase] {
            assert_eq!(m.as_str().parse::<MergeMethod>(), Ok(m));
        }
        assert!("fast-forward".parse::<MergeMethod>().is_err());
    }
}
