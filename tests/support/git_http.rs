//! A bare origin served over git's smart HTTP, as GitHub serves it, so that a push can go
//! through the fault proxy like any other call (issue 12: a push whose answer was lost).
//! Each request runs the real `git http-backend` as a CGI program; loopback only, one request
//! per connection (the proxy closes after each answer anyway).

use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::fault::read_request;

pub struct GitHttp {
    /// `http://127.0.0.1:PORT`: the repositories under the served root are `URL/NAME.git`.
    pub url: String,
}

impl GitHttp {
    /// Serves every repository under `root` (anyone may push: the CGI is told who the user is).
    pub fn start(root: &Path) -> GitHttp {
        let backend = backend();
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the git HTTP server");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let root = root.to_path_buf();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (root, backend) = (root.clone(), backend.clone());
                std::thread::spawn(move || serve(conn, &root, &backend));
            }
        });
        GitHttp { url }
    }
}

/// Where git keeps `git-http-backend` (`git --exec-path`).
fn backend() -> PathBuf {
    let out = Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("git is installed: run `make system-deps`");
    let path = Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("git-http-backend");
    assert!(
        path.exists(),
        "{} is missing: install git's HTTP backend (Debian: the `git` package; `make system-deps`)",
        path.display()
    );
    path
}

fn serve(conn: TcpStream, root: &Path, backend: &Path) {
    let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let mut writer = conn.try_clone().expect("cloning a socket");
    let mut reader = BufReader::new(conn);
    let Some(req) = read_request(&mut reader) else {
        return;
    };
    let head = String::from_utf8_lossy(&req.head).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default();
    let target = request_line.next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let header = |name: &str| -> String {
        head.split("\r\n")
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let mut child = Command::new(backend)
        .env_clear()
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        // A named user turns on receive-pack (pushes) without any configuration.
        .env("REMOTE_USER", "tester")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("running git http-backend");
    let mut stdin = child.stdin.take().unwrap();
    let body = req.body;
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut out = Vec::new();
    let _ = child.stdout.take().unwrap().read_to_end(&mut out);
    let _ = feeder.join();
    let _ = child.wait();
    // CGI: headers, a blank line, the body; `Status:` sets the HTTP status.
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let (cgi_head, cgi_body) = match split {
        Some((i, n)) => (
            String::from_utf8_lossy(&out[..i]).into_owned(),
            &out[i + n..],
        ),
        None => (String::new(), &out[..]),
    };
    let mut status = "200 OK".to_string();
    let mut headers = String::new();
    for line in cgi_head.lines() {
        match line.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
            Some(_) => headers.push_str(&format!("{}\r\n", line.trim_end())),
            None => {}
        }
    }
    let answer = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        cgi_body.len()
    );
    let _ = writer.write_all(answer.as_bytes());
    let _ = writer.write_all(cgi_body);
    let _ = writer.shutdown(Shutdown::Both);
}
