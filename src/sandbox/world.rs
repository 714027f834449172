//! The rehearsal world on disk: a bare `origin.git` with identity-idp-like history and its clone,
//! staging's `deploy.json` served on loopback, a throw-away GnuPG key, and `state.json` recording
//! the processes so `sandbox down` can stop exactly what `sandbox up` started.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{failed, preflight};

pub const STATE_FILE: &str = "state.json";
pub const STATE_VERSION: u32 = 1;
pub const REGION: &str = "us-west-2";
pub const KEY_UID: &str = "Sandbox Release <sandbox@example.gov>";
pub const GITHUB_WEB_URL: &str = "https://github.com/18F/identity-idp";

/// A process the sandbox started.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Proc {
    pub pid: u32,
    pub port: u16,
    pub url: String,
    /// Text its command line contains: a recycled pid is never killed by mistake.
    pub marker: String,
}

/// What `sandbox up` recorded in `DIR/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub version: u32,
    pub dir: PathBuf,
    pub env: String,
    pub region: String,
    pub emulator: Proc,
    pub http: Proc,
    /// The world simulator (`sandbox world-run`); port 0: it serves nothing.
    #[serde(default)]
    pub world: Option<Proc>,
    /// The sandbox's GitHub (`sandbox::github`): its API base is `url`.
    #[serde(default)]
    pub github: Option<Proc>,
    pub deploy_json_url: String,
    pub gnupghome: PathBuf,
    pub signing_key: String,
    pub repo: PathBuf,
    pub origin: PathBuf,
    pub git_sha: String,
    pub started_at: String,
}

impl State {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(STATE_FILE)
    }

    pub fn load(dir: &Path) -> Result<Option<State>> {
        let path = Self::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let state: State = serde_json::from_str(&text).map_err(|e| {
            preflight(
                format!("{} is not a sandbox state file: {e}", path.display()),
                format!("remove {} by hand if it is a sandbox", dir.display()),
            )
        })?;
        Ok(Some(state))
    }

    pub fn save(&self) -> Result<()> {
        let path = Self::path(&self.dir);
        std::fs::write(&path, serde_json::to_string_pretty(self)? + "\n")
            .with_context(|| format!("writing {}", path.display()))
    }

    /// The environment variables that point every tool at the sandbox.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![
            ("AWS_ENDPOINT_URL", self.emulator.url.clone()),
            ("AWS_REGION", self.region.clone()),
            // The aws CLI v1 and boto3 read this one, not AWS_REGION.
            ("AWS_DEFAULT_REGION", self.region.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            ("GNUPGHOME", self.gnupghome.display().to_string()),
            ("LOGIN_RELEASE_STAGING_IDP", self.deploy_json_url.clone()),
            // The sandbox's config layer: rehearsal timings (see sandbox::timings).
            (
                "LOGIN_RELEASE_CONFIG",
                crate::sandbox::timings::config_path(&self.dir)
                    .display()
                    .to_string(),
            ),
        ];
        if let Some(gh) = &self.github {
            // The GitHub client reads these as in GitHub Actions; the throw-away token keeps a
            // real one in the shell from ever being sent to the sandbox.
            vars.extend([
                ("GITHUB_API_URL", gh.url.clone()),
                (
                    "GITHUB_REPOSITORY",
                    crate::sandbox::github::REPOSITORY.to_string(),
                ),
                ("GITHUB_TOKEN", crate::sandbox::github::TOKEN.to_string()),
            ]);
        }
        vars
    }

    /// `export` lines for `eval "$(login-release sandbox env)"`, with real credentials unset so
    /// nothing reaches a real account, and a `cd` hint.
    pub fn shell_exports(&self) -> String {
        let mut out = vec![
            "# login-release sandbox: eval \"$(login-release sandbox env)\"".to_string(),
            "unset AWS_PROFILE AWS_VAULT AWS_SESSION_TOKEN AWS_SECURITY_TOKEN GH_TOKEN".to_string(),
        ];
        for (k, v) in self.env_vars() {
            out.push(format!("export {k}={}", shell_quote(&v)));
        }
        out.push(format!(
            "# the sandbox's identity-idp checkout: cd {}",
            shell_quote(&self.repo.display().to_string())
        ));
        out.join("\n")
    }
}

/// Writes a file whole or not at all (readers never see half of it): a temporary file beside
/// it, then a rename. Creates the parent directory.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Single-quotes a word for POSIX shells when it needs it.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-:=,@+%".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Whether an endpoint URL points at this machine (the only place sandbox-only commands act).
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    crate::types::is_loopback_host(host)
}

/// One commit of the sandbox history.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedCommit {
    pub message: &'static str,
    pub file: &'static str,
    pub line: &'static str,
}

/// identity-idp-like history, oldest first: changelog trailers in every category, a dependabot
/// bump, a `[skip changelog]` commit and one without a trailer (the changelog's invalid block).
pub const HISTORY: &[SeedCommit] = &[
    SeedCommit {
        message: "Add login-release settings for the sandbox\n\n[skip changelog]",
        file: ".login-release.toml",
        line: "",
    },
    SeedCommit {
        message: "Show hints when a selfie is blurry (#9101)\n\nchangelog: User-Facing Improvements, Document Capture, Show hints when a selfie is blurry",
        file: "app/components/selfie_hint.rb",
        line: "# Shows a hint when the selfie is blurry",
    },
    SeedCommit {
        message: "Stop the redirect loop after PIV/CAC sign-in (#9102)\n\nchangelog: Bug Fixes, PIV/CAC, Stop the redirect loop after signing in with a PIV/CAC",
        file: "app/controllers/piv_cac_controller.rb",
        line: "# redirect once",
    },
    SeedCommit {
        message: "Bump rack from 3.0.8 to 3.0.9 (#9103)\n\nSigned-off-by: dependabot[bot] <support@github.com>",
        file: "Gemfile.lock",
        line: "rack (3.0.9)",
    },
    SeedCommit {
        message: "Extract the phone confirmation form (#9104)\n\nchangelog: Internal, Phone, Extract the confirmation form object",
        file: "app/forms/phone_confirmation_form.rb",
        line: "class PhoneConfirmationForm; end",
    },
    SeedCommit {
        message: "Log rate-limited SMS attempts (#9105)\n\nchangelog: Internal, Logging, Add an event for rate-limited SMS attempts",
        file: "app/services/analytics_events.rb",
        line: "# sms_rate_limited",
    },
    SeedCommit {
        message: "Reword the README's setup steps (#9106)\n\n[skip changelog]",
        file: "README.md",
        line: "Run `make setup` first.",
    },
    SeedCommit {
        message: "Translate the selfie hints (#9107)\n\nchangelog: User-Facing Improvements, Translations, Translate the selfie hints into Spanish and French",
        file: "config/locales/es.yml",
        line: "selfie_hint: Su selfie está borrosa",
    },
    SeedCommit {
        message: "Add the one-account feature flag (#9108)\n\nchangelog: Upcoming Features, One Account, Add the feature flag for linking accounts",
        file: "config/application.yml.default",
        line: "one_account_enabled: false",
    },
    SeedCommit {
        message: "Fix a typo on the account page (#9109)",
        file: "app/views/accounts/show.html.erb",
        line: "<h1>Your account</h1>",
    },
];

/// How many commits `stages/prod` is behind `main` in the sandbox.
pub const PROD_BEHIND: usize = 5;

/// The repository's settings file: PR links as on GitHub, although origin is a local path.
pub fn repo_settings() -> String {
    format!(
        "# The rehearsal sandbox's checkout (login-release sandbox up).\n[github]\nweb_url = \"{GITHUB_WEB_URL}\"\nrepository = \"18F/identity-idp\"\n"
    )
}

/// The RC production runs when the sandbox starts, so the first `cut-rc` cuts the next one.
pub const LAST_RC: u32 = 111;

/// The release of [`LAST_RC`] on the sandbox's GitHub: its tag (a week before `now`, in the
/// tag-release form) and title.
pub fn last_release(now: Timestamp) -> (String, String) {
    let then = now
        .checked_sub(jiff::SignedDuration::from_hours(24 * 7))
        .unwrap_or(now);
    (
        then.strftime("%Y-%m-%dT%H%M%S").to_string(),
        format!("RC {LAST_RC}"),
    )
}

/// Facts about the built repository.
#[derive(Debug, Clone)]
pub struct RepoFacts {
    pub main_sha: String,
    pub main_date: String,
    pub prod_sha: String,
}

/// Runs the `git` program with no user or system configuration (no signing hooks, no aliases).
fn git(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Result<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            preflight(
                format!("cannot run git: {e}"),
                "install git (`apt-get install git`)",
            )
        })?;
    if !out.status.success() {
        return Err(failed(
            format!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            "run `login-release sandbox down`, then `sandbox up` again",
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Builds `origin.git` (bare) and its clone `repo/`: [`HISTORY`] on `main` (one commit a day,
/// ending an hour before `now`), `stages/prod` [`PROD_BEHIND`] commits behind, both pushed.
pub fn build_repo(dir: &Path, now: Timestamp) -> Result<RepoFacts> {
    let origin = dir.join("origin.git");
    let repo = dir.join("repo");
    git(
        dir,
        &["init", "-q", "--bare", "-b", "main", "origin.git"],
        &[],
    )?;
    git(
        dir,
        &["clone", "-q", &origin.display().to_string(), "repo"],
        &[],
    )?;
    // A new clone of an empty repository may not know its branch yet.
    git(&repo, &["checkout", "-q", "-B", "main"], &[])?;
    git(
        &repo,
        &["config", "user.name", "Sandbox Release Manager"],
        &[],
    )?;
    git(&repo, &["config", "user.email", "sandbox@example.gov"], &[])?;
    let authors = [
        ("Ada Developer", "ada@example.gov"),
        ("Grace Engineer", "grace@example.gov"),
        (
            "dependabot[bot]",
            "49699333+dependabot[bot]@users.noreply.github.com",
        ),
    ];
    let n = HISTORY.len() as i64;
    for (i, c) in HISTORY.iter().enumerate() {
        let path = repo.join(c.file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let body = if c.file == ".login-release.toml" {
            repo_settings()
        } else {
            format!("{}\n", c.line)
        };
        std::fs::write(&path, body)?;
        git(&repo, &["add", c.file], &[])?;
        let when = now
            .checked_sub(jiff::SignedDuration::from_hours(24 * (n - i as i64) - 23))
            .unwrap_or(now);
        let date = format!("{} +0000", when.as_second());
        let (name, email) = if c.message.contains("dependabot") {
            authors[2]
        } else {
            authors[i % 2]
        };
        git(
            &repo,
            &["commit", "-q", "-m", c.message],
            &[
                ("GIT_AUTHOR_NAME", name.to_string()),
                ("GIT_AUTHOR_EMAIL", email.to_string()),
                ("GIT_AUTHOR_DATE", date.clone()),
                ("GIT_COMMITTER_NAME", "GitHub".to_string()),
                ("GIT_COMMITTER_EMAIL", "noreply@github.com".to_string()),
                ("GIT_COMMITTER_DATE", date),
            ],
        )?;
    }
    let prod = format!("main~{PROD_BEHIND}");
    git(&repo, &["branch", "stages/prod", &prod], &[])?;
    git(&repo, &["push", "-q", "origin", "main", "stages/prod"], &[])?;
    git(
        &repo,
        &["branch", "-q", "--set-upstream-to=origin/main", "main"],
        &[],
    )?;
    git(&repo, &["fetch", "-q", "origin"], &[])?;
    Ok(RepoFacts {
        main_sha: git(&repo, &["rev-parse", "main"], &[])?,
        main_date: git(&repo, &["log", "-1", "--format=%cI", "main"], &[])?,
        prod_sha: git(&repo, &["rev-parse", "stages/prod"], &[])?,
    })
}

/// A developer's change lands on origin's `main` (made in a throw-away clone, so the release
/// manager's clone is left as it is): the next release's code. Returns the new facts.
pub fn land_change(dir: &Path, message: &str, now: Timestamp) -> Result<RepoFacts> {
    let dev = dir.join("dev-clone");
    let _ = std::fs::remove_dir_all(&dev);
    let origin = dir.join("origin.git").display().to_string();
    git(
        dir,
        &["clone", "-q", "-b", "main", &origin, "dev-clone"],
        &[],
    )?;
    let file = dev.join("app/services/landed_changes.rb");
    std::fs::create_dir_all(file.parent().expect("a file in a folder"))?;
    let mut text = std::fs::read_to_string(&file).unwrap_or_default();
    text.push_str(&format!(
        "# {}\n",
        message.lines().next().unwrap_or(message)
    ));
    std::fs::write(&file, text)?;
    git(&dev, &["add", "app/services/landed_changes.rb"], &[])?;
    let date = format!("{} +0000", now.as_second());
    let who = [
        ("GIT_AUTHOR_NAME", "Ada Developer".to_string()),
        ("GIT_AUTHOR_EMAIL", "ada@example.gov".to_string()),
        ("GIT_AUTHOR_DATE", date.clone()),
        ("GIT_COMMITTER_NAME", "GitHub".to_string()),
        ("GIT_COMMITTER_EMAIL", "noreply@github.com".to_string()),
        ("GIT_COMMITTER_DATE", date),
    ];
    git(&dev, &["commit", "-q", "-m", message], &who)?;
    git(&dev, &["push", "-q", "origin", "main"], &[])?;
    let facts = RepoFacts {
        main_sha: git(&dev, &["rev-parse", "main"], &[])?,
        main_date: git(&dev, &["log", "-1", "--format=%cI", "main"], &[])?,
        prod_sha: git(&dev, &["rev-parse", "origin/stages/prod"], &[])?,
    };
    std::fs::remove_dir_all(&dev)?;
    Ok(facts)
}

/// Sets a config value in the sandbox clone.
pub fn git_config(repo: &Path, key: &str, value: &str) -> Result<()> {
    git(repo, &["config", key, value], &[]).map(|_| ())
}

/// staging's deploy.json as chef writes it (keys in chef's order; `sha`/`timestamp` are the
/// deprecated aliases).
pub fn deploy_json(facts: &RepoFacts, now: Timestamp) -> String {
    let stamp = now.strftime("%Y%m%d%H%M%S").to_string();
    // serde_json sorts object keys; chef's order is kept by writing the pairs in sequence.
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let pairs = [
        ("env", q("staging")),
        ("branch", q("main")),
        ("user", q("chef")),
        ("git_sha", q(&facts.main_sha)),
        ("git_date", q(&facts.main_date)),
        ("chef_run_timestamp", q(&stamp)),
        ("instance_id", q("i-0a5a7d5a0b5e5f001")),
        ("sha", q(&facts.main_sha)),
        ("timestamp", q(&stamp)),
    ];
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("  \"{k}\": {v}"))
        .collect();
    format!("{{\n{}\n}}\n", body.join(",\n"))
}

/// A free loopback port (the caller binds it soon after; races are retried by the callers).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(l.local_addr()?.port())
}

/// A minimal HTTP GET on loopback: status and body.
pub fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, body.to_string()))
}

/// Serves `www` on a free loopback port with Python's http.server, detached, logging to `log`.
pub fn start_http(python: &Path, www: &Path, log: &Path) -> Result<Proc> {
    use std::os::unix::process::CommandExt as _;
    let mut last = None;
    for _ in 0..3 {
        let port = free_port()?;
        let logf = std::fs::File::create(log)?;
        let mut child = Command::new(python)
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .arg("--directory")
            .arg(www)
            .stdin(Stdio::null())
            .stdout(logf.try_clone()?)
            .stderr(logf)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {} -m http.server", python.display()))?;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Some(status) = child.try_wait()? {
                last = Some(anyhow::anyhow!(
                    "the deploy.json server exited ({status}): {}",
                    std::fs::read_to_string(log).unwrap_or_default().trim()
                ));
                break;
            }
            if http_get(port, "/api/deploy.json").is_ok_and(|(c, _)| c == 200) {
                return Ok(Proc {
                    pid: child.id(),
                    port,
                    url: format!("http://127.0.0.1:{port}/api/deploy.json"),
                    marker: "http.server".to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        last.get_or_insert_with(|| anyhow::anyhow!("the deploy.json server did not answer"));
    }
    Err(last.expect("tried"))
}

fn run_gpg(home: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("gpg")
        .env("GNUPGHOME", home)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            preflight(
                format!("cannot run gpg: {e}"),
                "install GnuPG (`apt-get install gnupg`)",
            )
        })?;
    if !out.status.success() {
        return Err(failed(
            format!(
                "gpg {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            "check that gpg works: gpg --version",
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A throw-away signing key without a passphrase in `home`; returns its fingerprint.
pub fn make_key(home: &Path) -> Result<String> {
    std::fs::create_dir_all(home)?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700))?;
    run_gpg(
        home,
        &[
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
            "--quick-gen-key",
            KEY_UID,
            "default",
            "default",
            "never",
        ],
    )?;
    let listing = run_gpg(home, &["--batch", "--with-colons", "--list-secret-keys"])?;
    fingerprint(&listing)
        .ok_or_else(|| failed("gpg made no key", "check that gpg works: gpg --version"))
}

/// The primary key's fingerprint from `gpg --with-colons` output.
pub fn fingerprint(colons: &str) -> Option<String> {
    let mut in_sec = false;
    for line in colons.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.first() {
            Some(&"sec") => in_sec = true,
            Some(&"fpr") if in_sec => return fields.get(9).map(|s| s.to_string()),
            Some(&"ssb") | Some(&"sub") => in_sec = false,
            _ => {}
        }
    }
    None
}

/// Stops the agent gpg started for `home` (it outlives every gpg call).
pub fn kill_agent(home: &Path) {
    let _ = Command::new("gpgconf")
        .env("GNUPGHOME", home)
        .args(["--kill", "gpg-agent"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether `pid` is alive and its command line contains `marker`.
pub fn is_ours(pid: u32, marker: &str) -> bool {
    let base = PathBuf::from(format!("/proc/{pid}"));
    let Ok(cmdline) = std::fs::read(base.join("cmdline")) else {
        return false;
    };
    let zombie = std::fs::read_to_string(base.join("stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false);
    !zombie && String::from_utf8_lossy(&cmdline).contains(marker)
}

/// Stops one recorded process: SIGTERM, then SIGKILL after 5 s. Returns whether it was running.
pub fn stop(p: &Proc) -> bool {
    if !is_ours(p.pid, &p.marker) {
        return false;
    }
    let signal = |sig: &str| {
        let _ = Command::new("kill")
            .args([sig, &p.pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    };
    signal("-TERM");
    let start = Instant::now();
    while is_ours(p.pid, &p.marker) {
        if start.elapsed() > Duration::from_secs(5) {
            signal("-KILL");
            std::thread::sleep(Duration::from_millis(200));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            version: STATE_VERSION,
            dir: "/tmp/sb x".into(),
            env: "prod".into(),
            region: REGION.into(),
            emulator: Proc {
                pid: 1,
                port: 5000,
                url: "http://127.0.0.1:5000".into(),
                marker: "moto".into(),
            },
            http: Proc {
                pid: 2,
                port: 5001,
                url: "http://127.0.0.1:5001/api/deploy.json".into(),
                marker: "http.server".into(),
            },
            world: None,
            github: Some(Proc {
                pid: 3,
                port: 5002,
                url: "http://127.0.0.1:5002".into(),
                marker: "github_server.py".into(),
            }),
            deploy_json_url: "http://127.0.0.1:5001/api/deploy.json".into(),
            gnupghome: "/tmp/sb x/gnupg".into(),
            signing_key: "ABC".into(),
            repo: "/tmp/sb x/repo".into(),
            origin: "/tmp/sb x/origin.git".into(),
            git_sha: "a".repeat(40),
            started_at: "2026-11-26T12:00:00Z".into(),
        }
    }

    #[test]
    fn exports_point_everything_at_the_sandbox() {
        let text = state().shell_exports();
        assert!(text.contains("\nexport AWS_ENDPOINT_URL=http://127.0.0.1:5000\n"));
        assert!(text.contains("\nexport AWS_REGION=us-west-2\n"));
        assert!(text.contains("\nexport AWS_DEFAULT_REGION=us-west-2\n"));
        assert!(text.contains("\nexport GNUPGHOME='/tmp/sb x/gnupg'\n"));
        assert!(text.contains(
            "\nexport LOGIN_RELEASE_STAGING_IDP=http://127.0.0.1:5001/api/deploy.json\n"
        ));
        assert!(text.contains("\nexport LOGIN_RELEASE_CONFIG='/tmp/sb x/config.toml'\n"));
        assert!(text.contains("unset AWS_PROFILE AWS_VAULT AWS_SESSION_TOKEN"));
        assert!(text.contains("\nexport GITHUB_API_URL=http://127.0.0.1:5002\n"));
        assert!(text.contains("\nexport GITHUB_REPOSITORY=18F/identity-idp\n"));
        assert!(text.contains("\nexport GITHUB_TOKEN=sandbox-token-not-a-secret\n"));
        assert!(text.ends_with("# the sandbox's identity-idp checkout: cd '/tmp/sb x/repo'"));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("/a/b-c.d"), "/a/b-c.d");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn loopback_urls() {
        assert!(is_loopback_url("http://127.0.0.1:5000"));
        assert!(is_loopback_url("http://127.8.9.1:5000/"));
        assert!(is_loopback_url("http://localhost:5000"));
        assert!(is_loopback_url("http://[::1]:5000"));
        assert!(!is_loopback_url("https://ec2.us-west-2.amazonaws.com"));
        assert!(!is_loopback_url("http://10.0.0.1:5000"));
        assert!(!is_loopback_url("http://127.0.0.1.evil.example:5000"));
        assert!(!is_loopback_url(""));
    }

    #[test]
    fn deploy_json_has_chefs_keys_in_order() {
        let facts = RepoFacts {
            main_sha: "b".repeat(40),
            main_date: "2026-11-25T11:00:00+00:00".into(),
            prod_sha: "c".repeat(40),
        };
        let text = deploy_json(&facts, "2026-11-26T12:00:00Z".parse().unwrap());
        let keys: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix('"'))
            .filter_map(|l| l.split('"').next())
            .collect();
        assert_eq!(
            keys,
            [
                "env",
                "branch",
                "user",
                "git_sha",
                "git_date",
                "chef_run_timestamp",
                "instance_id",
                "sha",
                "timestamp"
            ]
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["git_sha"], "b".repeat(40));
        assert_eq!(v["chef_run_timestamp"], "20261126120000");
    }

    #[test]
    fn fingerprint_of_the_primary_key() {
        let colons = "sec:u:255:22:AAAA:1::::::scESC:::+:::23::0:\nfpr:::::::::0123ABCD:\ngrp:::::::::X:\nuid:u::::1::Y::Sandbox::::::::::0:\nssb:u:255:18:BBBB:1::::::e:::+:::23:\nfpr:::::::::SUBKEY:\n";
        assert_eq!(fingerprint(colons).as_deref(), Some("0123ABCD"));
        assert_eq!(fingerprint(""), None);
    }

    #[test]
    fn history_has_every_kind_of_entry() {
        let all: Vec<&str> = HISTORY.iter().map(|c| c.message).collect();
        for needle in [
            "changelog: User-Facing Improvements",
            "changelog: Bug Fixes",
            "changelog: Internal",
            "changelog: Upcoming Features",
            "Signed-off-by: dependabot[bot] <support@github.com>",
            "[skip changelog]",
        ] {
            assert!(all.iter().any(|m| m.contains(needle)), "{needle}");
        }
        assert!(HISTORY.len() > PROD_BEHIND);
    }
}
