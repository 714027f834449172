//! A fault-injecting HTTP proxy between a command (its `AWS_ENDPOINT_URL`) and the emulator
//! (issue 12, item 2). Loopback only; it lives as long as the test's [`FaultProxy`] and serves
//! at most [`MAX_REQUESTS`] requests, each bounded by socket timeouts.
//!
//! It reads each request, names its operation (the query protocol's form field `Action=...`,
//! awsJson's `X-Amz-Target: AmazonSSM.SendCommand`, a REST API's `POST /repos/o/r/pulls`: in
//! front of the sandbox's GitHub it counts every method but GET), counts the mutating ones, and at the K-th
//! mutating call either closes the connection without forwarding (`DropBefore`) or forwards it
//! and closes the connection instead of answering (`DropAfter`: AWS applied it, the answer was
//! lost). `Throttle` answers every other request with the service's throttling error; `Delay`
//! holds the K-th mutating call's answer back (to press Ctrl-C while it is in flight).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The calls that change something, as the proxy counts them.
pub const MUTATING: &[&str] = &[
    "UpdateAutoScalingGroup",
    "SetDesiredCapacity",
    "PutScheduledUpdateGroupAction",
    "DeleteScheduledAction",
    "SetInstanceProtection",
    "SendCommand",
];

/// Whether `operation` changes something: one of [`MUTATING`], or a REST call other than GET
/// (but git's fetch, `POST .../git-upload-pack`, only reads).
pub fn is_mutating(operation: &str) -> bool {
    MUTATING.contains(&operation)
        || operation.split_once(' ').is_some_and(|(method, path)| {
            method != "GET" && method != "HEAD" && !path.ends_with("/git-upload-pack")
        })
}

/// A bound on the requests one proxy serves: a run away loop fails the test instead of hanging.
pub const MAX_REQUESTS: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything (and count).
    None,
    /// At the K-th mutating call (1-based), close the connection without forwarding.
    DropBefore(usize),
    /// At the K-th mutating call, forward it, then close the connection without the answer.
    DropAfter(usize),
    /// Every other request gets a throttling error instead of being forwarded.
    Throttle,
    /// Forward the K-th mutating call and hold its answer back this long.
    Delay(usize, Duration),
    /// As `DropAfter`, and from then on the service is unreachable: every later request's
    /// connection is closed unanswered (the network died for good, so nothing can be read back).
    DownAfter(usize),
}

/// Runs before a request is forwarded: (operation, its 1-based count among requests of that
/// operation). The race tests change the world from here.
pub type Hook = Box<dyn Fn(&str, usize) + Send + Sync>;

#[derive(Default)]
struct State {
    requests: usize,
    mutating: usize,
    /// Every request's operation, in order, with what the proxy did.
    log: Vec<(String, &'static str)>,
}

pub struct FaultProxy {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    pub fn start(upstream: &str, fault: Fault) -> Self {
        Self::with_hook(upstream, fault, None)
    }

    pub fn with_hook(upstream: &str, fault: Fault, hook: Option<Hook>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the fault proxy");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream
            .strip_prefix("http://")
            .expect("the emulator speaks plain http")
            .trim_end_matches('/')
            .to_string();
        assert!(
            upstream.starts_with("127.0.0.1:") || upstream.starts_with("localhost:"),
            "the fault proxy only talks to a loopback emulator, not {upstream}"
        );
        let state = Arc::new(Mutex::new(State::default()));
        let shared = (state.clone(), Arc::new(hook));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (state, hook) = (shared.0.clone(), shared.1.clone());
                let upstream = upstream.clone();
                std::thread::spawn(move || serve(conn, &upstream, fault, &state, &hook));
            }
        });
        FaultProxy { url, state }
    }

    /// How many mutating calls arrived (forwarded or not).
    pub fn mutating(&self) -> usize {
        self.state.lock().unwrap().mutating
    }

    /// How many requests were answered with a throttling error.
    pub fn throttled(&self) -> usize {
        let s = self.state.lock().unwrap();
        s.log
            .iter()
            .filter(|(_, what)| *what == "throttled")
            .count()
    }

    /// The operations seen, in order, with what was done to each.
    pub fn log(&self) -> Vec<(String, &'static str)> {
        self.state.lock().unwrap().log.clone()
    }
}

pub struct Request {
    /// The request line and headers, ending in `Connection: close` and the blank line.
    pub head: Vec<u8>,
    pub body: Vec<u8>,
    pub operation: String,
}

/// Reads one HTTP/1.1 request (the SDK always sends a Content-Length); `None` at end of stream.
pub fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut head = Vec::new();
    let mut length = 0usize;
    let mut target = None;
    let mut request_line = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if request_line.is_none() {
            request_line = Some(line.trim_end().to_string());
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
        if lower.starts_with("x-amz-target:") {
            target = line.split_once(':').map(|(_, v)| v.trim().to_string());
        }
        // The emulator must close after each answer: the proxy reads answers to the end.
        if !lower.starts_with("connection:") {
            head.extend_from_slice(line.as_bytes());
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).ok()?;
    let operation = match target {
        // `AmazonSSM.SendCommand` -> `SendCommand`
        Some(t) => t.rsplit('.').next().unwrap_or_default().to_string(),
        None => match String::from_utf8_lossy(&body)
            .split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
        {
            Some(action) => action.to_string(),
            // REST: `POST /repos/18F/identity-idp/pulls` (the query left out).
            None => request_line
                .as_deref()
                .and_then(|l| l.rsplit_once(' '))
                .map(|(m_path, _)| m_path.split('?').next().unwrap_or(m_path).to_string())
                .unwrap_or_else(|| "?".to_string()),
        },
    };
    // Put `Connection: close` back just before the blank line.
    head.truncate(head.len() - 2);
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    Some(Request {
        head,
        body,
        operation,
    })
}

fn forward(upstream: &str, req: &Request) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream)?;
    up.set_read_timeout(Some(Duration::from_secs(30)))?;
    up.write_all(&req.head)?;
    up.write_all(&req.body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    Ok(answer)
}

/// The service's own throttling answer, in its protocol.
fn throttling(req: &Request) -> Vec<u8> {
    let body_text = String::from_utf8_lossy(&req.body);
    let (kind, body) = if req.operation != "?" && !body_text.contains("Action=") {
        (
            "application/x-amz-json-1.1",
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_string(),
        )
    } else if body_text.contains("Version=2016-11-15") {
        // EC2's query protocol has its own error document.
        ("text/xml", "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>".to_string())
    } else {
        ("text/xml", "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>".to_string())
    };
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: {kind}\r\nx-amzn-RequestId: fault-proxy\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn serve(conn: TcpStream, upstream: &str, fault: Fault, state: &Mutex<State>, hook: &Option<Hook>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    let mut writer = conn.try_clone().expect("cloning a socket");
    let mut reader = BufReader::new(conn);
    while let Some(req) = read_request(&mut reader) {
        let (what, nth_of_op) = {
            let mut s = state.lock().unwrap();
            s.requests += 1;
            assert!(
                s.requests <= MAX_REQUESTS,
                "the fault proxy's bound was hit"
            );
            let is_mutating = is_mutating(&req.operation);
            if is_mutating {
                s.mutating += 1;
            }
            let k = s.mutating;
            let what = match fault {
                Fault::DropBefore(n) if is_mutating && k == n => "dropped before",
                Fault::DropAfter(n) | Fault::DownAfter(n) if is_mutating && k == n => {
                    "answer dropped"
                }
                Fault::DownAfter(n) if k >= n => "dropped before",
                Fault::Delay(n, _) if is_mutating && k == n => "delayed",
                Fault::Throttle if s.requests % 2 == 1 => "throttled",
                _ => "forwarded",
            };
            let nth = s.log.iter().filter(|(op, _)| *op == req.operation).count() + 1;
            s.log.push((req.operation.clone(), what));
            (what, nth)
        };
        if let Some(hook) = hook {
            hook(&req.operation, nth_of_op);
        }
        let answer = match what {
            "dropped before" => None,
            "throttled" => Some(throttling(&req)),
            _ => forward(upstream, &req).ok(),
        };
        if let (Fault::Delay(_, d), "delayed") = (fault, what) {
            std::thread::sleep(d);
        }
        match (what, answer) {
            ("answer dropped", _) | (_, None) => {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            (_, Some(a)) => {
                if writer.write_all(&a).is_err() {
                    return;
                }
            }
        }
    }
}
