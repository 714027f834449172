//! The local AWS emulator: moto's server, pinned in `tests/requirements.txt`, started from Python
//! with a small shim (see `moto_launcher.py`). Used by the sandbox and by the tests.

use std::io::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use crate::error::{AppError, Kind};

/// The launcher script, embedded so the binary needs no file beside it.
pub const LAUNCHER: &str = include_str!("moto_launcher.py");

/// The Python that has `moto[server]` installed: `LOGIN_RELEASE_MOTO_PYTHON`, else the project's
/// `.venv` (what `make test-deps` creates) under `project_dir`.
pub fn find_python(project_dir: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("LOGIN_RELEASE_MOTO_PYTHON").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if let Some(dir) = project_dir {
        let venv = dir.join(".venv/bin/python");
        if venv.exists() {
            return Ok(venv);
        }
    }
    Err(AppError::new(Kind::Preflight, "the AWS emulator (moto's server) is not installed")
        .with_hint("run `make test-deps` in the login-release checkout, or set LOGIN_RELEASE_MOTO_PYTHON to a Python with moto[server]==5.2.5")
        .into())
}

/// A running emulator; killed when dropped (unless detached).
pub struct Emulator {
    pub url: String,
    pub port: u16,
    /// The server's process id (the sandbox records it to stop the server later).
    pub pid: u32,
    child: Option<Child>,
    /// The request log this process chose (removed with the server); `None` when the caller
    /// named one or the server was detached.
    temp_log: Option<PathBuf>,
}

impl Emulator {
    /// Starts the emulator on a free loopback port and waits until it answers.
    pub fn start(python: &Path) -> Result<Self> {
        Self::spawn(python, false)
    }

    /// Starts an emulator that outlives this process (for `sandbox up`).
    pub fn start_detached(python: &Path) -> Result<Self> {
        Self::start_detached_logging(python, None)
    }

    /// Like [`Emulator::start_detached`], in its own process group (a Ctrl-C in the shell that
    /// started it does not stop it), with the server's request log written to `log`.
    pub fn start_detached_logging(python: &Path, log: Option<&Path>) -> Result<Self> {
        let mut e = Self::spawn_with(python, true, log)?;
        e.child = None;
        Ok(e)
    }

    fn spawn(python: &Path, detach: bool) -> Result<Self> {
        Self::spawn_with(python, detach, None)
    }

    fn spawn_with(python: &Path, detach: bool, log: Option<&Path>) -> Result<Self> {
        let mut last_err = None;
        // A freed port can be taken before moto binds it; try a few.
        for _ in 0..3 {
            let port = free_port()?;
            let script = std::env::temp_dir().join(format!(
                "login-release-moto-launcher-{}.py",
                std::process::id()
            ));
            std::fs::write(&script, LAUNCHER).context("writing the emulator launcher")?;
            let mut cmd = Command::new(python);
            cmd.arg(&script).arg(port.to_string());
            if detach {
                use std::os::unix::process::CommandExt as _;
                cmd.arg("--detach").stdin(Stdio::null()).process_group(0);
            } else {
                cmd.stdin(Stdio::piped());
            }
            cmd.stdout(Stdio::null());
            // The server logs every request on stderr. Never a pipe: once nobody reads it, its
            // buffer fills and every request thread blocks on the logging lock (the emulator then
            // stops answering mid-test). A file is read back only if the server fails to start.
            let log_path = log.map(Path::to_path_buf).unwrap_or_else(|| {
                std::env::temp_dir().join(format!(
                    "login-release-moto-{}-{port}.log",
                    std::process::id()
                ))
            });
            let log_file = std::fs::File::create(&log_path)
                .with_context(|| format!("creating {}", log_path.display()))?;
            cmd.stderr(log_file);
            let mut child = cmd.spawn().map_err(|e| {
                AppError::new(Kind::Preflight, format!("cannot run {}: {e}", python.display()))
                    .with_hint("run `make test-deps`, or set LOGIN_RELEASE_MOTO_PYTHON to a Python with moto[server]==5.2.5")
            })?;
            match wait_ready(port, &mut child, Duration::from_secs(30), &log_path) {
                Ok(()) => {
                    return Ok(Emulator {
                        url: format!("http://127.0.0.1:{port}"),
                        port,
                        pid: child.id(),
                        child: Some(child),
                        // A log we chose goes with the server; one the caller named stays.
                        temp_log: log.is_none().then_some(log_path),
                    });
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    if log.is_none() {
                        let _ = std::fs::remove_file(&log_path);
                    }
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.expect("tried at least once"))
    }

    /// Wipes every resource (`POST /moto-api/reset`).
    pub fn reset(&self) -> Result<()> {
        http_post(self.port, "/moto-api/reset")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            if let Some(log) = &self.temp_log {
                let _ = std::fs::remove_file(log);
            }
        }
    }
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(l.local_addr()?.port())
}

fn wait_ready(port: u16, child: &mut Child, limit: Duration, log: &Path) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait()? {
            let err = std::fs::read_to_string(log).unwrap_or_default();
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .to_string();
            return Err(AppError::new(
                Kind::Preflight,
                format!("the AWS emulator exited ({status}): {last}"),
            )
            .with_hint("run `make test-deps` to install moto[server]==5.2.5 into .venv")
            .into());
        }
        if http_get_ok(port, "/moto-api/data.json") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(AppError::new(
        Kind::Failed,
        format!(
            "the AWS emulator did not answer on port {port} within {}s",
            limit.as_secs()
        ),
    )
    .with_hint("check that moto[server] starts: .venv/bin/moto_server --help")
    .into())
}

fn http_get_ok(port: u16, path: &str) -> bool {
    request(port, "GET", path).is_ok_and(|status| status == 200)
}

fn http_post(port: u16, path: &str) -> Result<()> {
    let status = request(port, "POST", path)?;
    anyhow::ensure!(status == 200, "emulator answered {status} to POST {path}");
    Ok(())
}

/// A minimal HTTP/1.0 request: the emulator's control API needs nothing more, and this keeps the
/// start-up check free of an async runtime.
fn request(port: u16, method: &str, path: &str) -> Result<u16> {
    use std::io::Read as _;
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut head = [0u8; 16];
    let n = s.read(&mut head)?;
    let text = String::from_utf8_lossy(&head[..n]);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    Ok(code)
}
