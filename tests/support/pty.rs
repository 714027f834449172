//! The built binary on a real pseudo-terminal, through util-linux `script`: stdin, stdout and
//! stderr are a terminal, so prompts are shown and keys (Ctrl-C included) arrive as a person
//! types them. The output is read while the command runs, so a test waits for the prompt first.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Pty {
    child: Child,
    stdin: ChildStdin,
    output: Arc<Mutex<Vec<u8>>>,
}

/// `'...'` for `sh -c`, whatever the argument holds.
fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

impl Pty {
    /// Starts `login-release ARGS` on a pseudo-terminal with the clean test environment plus
    /// `envs`. Fails with the fix when `script` is missing.
    pub fn spawn(home: &Path, envs: &[(&str, String)], args: &[&str]) -> Self {
        let bin = assert_cmd::cargo::cargo_bin("login-release");
        let line: Vec<String> = std::iter::once(bin.to_string_lossy().into_owned())
            .chain(args.iter().map(|a| a.to_string()))
            .map(|a| shell_quote(&a))
            .collect();
        // -q no banner, -e the command's exit code, -f flush as it comes, output to /dev/null
        // (the typescript file); what the terminal shows arrives on script's stdout.
        let mut c = super::std_cmd(home, "script");
        c.args(["-q", "-e", "-f", "-c", &line.join(" "), "/dev/null"])
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .env("TERM", "xterm")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `script` (apt-get install bsdutils): {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            child,
            stdin,
            output,
        }
    }

    /// What the terminal showed so far.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits until the terminal shows `text` (the command is then blocked reading a key).
    pub fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                // The prompt is drawn just before the key is read: let it get there.
                std::thread::sleep(Duration::from_millis(300));
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the terminal never showed {text:?}; it showed:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `keys` (`"\x03"` is Ctrl-C).
    pub fn send(&mut self, keys: &str) {
        self.stdin.write_all(keys.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
    }

    /// Waits for the command to end: its exit code and everything the terminal showed.
    pub fn finish(&mut self) -> (i32, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the command did not end; the terminal showed:\n{}",
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // The reader thread drains the rest of the output after the exit.
        std::thread::sleep(Duration::from_millis(200));
        let code = status
            .code()
            .expect("script exited, not killed by a signal");
        (code, self.screen())
    }
}

/// A test that fails half-way must not leave the command running: it would hold the terminal,
/// and everything inherited from the test runner (the shared build lock's descriptor among them).
impl Drop for Pty {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
