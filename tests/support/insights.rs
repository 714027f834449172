//! A local CloudWatch Logs for the Logs Insights tests, speaking the service's JSON protocol
//! (awsJson1_1: `POST /` with `X-Amz-Target: Logs_20140328.<Operation>`), so the real SDK client
//! talks to it through `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS` while EC2 and Auto Scaling stay on the
//! emulator.
//!
//! Why not the emulator: moto implements StartQuery and GetQueryResults but ignores `filter`,
//! `stats` and `by` (toolchain notes). Its launcher now answers queries with `stats` from the
//! events it holds (`moto_launcher.py`, for the sandbox), but it cannot play statuses, failures,
//! refusals or record what was asked, which these tests need. This
//! server does not parse the query language either: it recognises which of the monitor's three
//! queries it got (discovery, requests, events) by its shape and computes that aggregate over
//! the records whose time falls in `[startTime, endTime]` (whole seconds, both included, as
//! StartQuery documents). It also plays what the emulator cannot: the Scheduled and Running
//! statuses, Failed/Cancelled/Timeout endings, LimitExceededException, and a record of every
//! query so a test can prove each tick asks only for the new slice.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Value};

/// What a record is.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A request line with this HTTP status.
    Request { status: u16 },
    /// An event with this name and success flag.
    Event { name: String, success: bool },
}

/// `count` identical log lines at one time (so tests can hold 200,000 requests cheaply).
#[derive(Debug, Clone)]
pub struct Record {
    pub group: String,
    pub ts_ms: i64,
    pub sha: String,
    pub stream: String,
    pub kind: Kind,
    pub count: u64,
}

/// One StartQuery the server received.
#[derive(Debug, Clone)]
pub struct Query {
    pub groups: Vec<String>,
    pub start: i64,
    pub end: i64,
    pub text: String,
}

struct Pending {
    statuses: VecDeque<String>,
    results: Value,
}

#[derive(Default)]
struct State {
    groups: BTreeSet<String>,
    records: Vec<Record>,
    /// Statuses every new query goes through before its last one (default: Complete at once).
    script: Vec<String>,
    /// StartQuery calls still to refuse with LimitExceededException.
    refuse: u32,
    queries: Vec<Query>,
    pending: BTreeMap<String, Pending>,
    stopped: Vec<String>,
    targets: Vec<String>,
}

pub struct Insights {
    pub url: String,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Insights {
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            script: vec!["Complete".into()],
            ..State::default()
        }));
        let st = state.clone();
        let app = axum::Router::new().fallback(move |h: HeaderMap, b: Bytes| {
            let st = st.clone();
            async move { handle(&st, &h, &b) }
        });
        let (url, tx, _thread) = super::http::serve(app);
        Insights {
            url,
            state,
            shutdown: Some(tx),
        }
    }

    pub fn group(&self, name: &str) -> &Self {
        self.state.lock().unwrap().groups.insert(name.to_string());
        self
    }

    pub fn add(&self, r: Record) -> &Self {
        self.state.lock().unwrap().records.push(r);
        self
    }

    /// The statuses each query reports, in order; the last one is final.
    pub fn script(&self, statuses: &[&str]) -> &Self {
        self.state.lock().unwrap().script = statuses.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Refuse the next `n` StartQuery calls with LimitExceededException.
    pub fn refuse(&self, n: u32) -> &Self {
        self.state.lock().unwrap().refuse = n;
        self
    }

    pub fn queries(&self) -> Vec<Query> {
        self.state.lock().unwrap().queries.clone()
    }

    pub fn stopped(&self) -> Vec<String> {
        self.state.lock().unwrap().stopped.clone()
    }

    /// Every X-Amz-Target received, in order.
    pub fn targets(&self) -> Vec<String> {
        self.state.lock().unwrap().targets.clone()
    }
}

impl Drop for Insights {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn error(code: &str, message: &str) -> axum::response::Response {
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.1")],
        json!({"__type": code, "message": message}).to_string(),
    )
        .into_response()
}

fn ok(v: Value) -> axum::response::Response {
    (
        StatusCode::OK,
        [("content-type", "application/x-amz-json-1.1")],
        v.to_string(),
    )
        .into_response()
}

fn handle(st: &Mutex<State>, h: &HeaderMap, body: &[u8]) -> axum::response::Response {
    let target = h
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut st = st.lock().unwrap();
    st.targets.push(target.clone());
    match target.strip_prefix("Logs_20140328.").unwrap_or_default() {
        "DescribeLogGroups" => {
            let prefix = req["logGroupNamePrefix"].as_str().unwrap_or_default();
            let groups: Vec<Value> = st
                .groups
                .iter()
                .filter(|g| g.starts_with(prefix))
                .map(|g| json!({"logGroupName": g, "arn": format!("arn:aws:logs:us-west-2:123456789012:log-group:{g}:*")}))
                .collect();
            ok(json!({ "logGroups": groups }))
        }
        "StartQuery" => {
            if st.refuse > 0 {
                st.refuse -= 1;
                return error(
                    "LimitExceededException",
                    "Account maximum query concurrency limit of [30] reached.",
                );
            }
            let groups: Vec<String> = req["logGroupNames"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(missing) = groups.iter().find(|g| !st.groups.contains(*g)) {
                return error(
                    "ResourceNotFoundException",
                    &format!("Log group '{missing}' does not exist for account ID '123456789012'"),
                );
            }
            let q = Query {
                groups,
                start: req["startTime"].as_i64().unwrap_or(0),
                end: req["endTime"].as_i64().unwrap_or(0),
                text: req["queryString"].as_str().unwrap_or_default().to_string(),
            };
            let results = answer(&st.records, &q);
            let id = format!("q-{}", st.queries.len() + 1);
            let statuses = st.script.iter().cloned().collect();
            st.queries.push(q);
            st.pending.insert(id.clone(), Pending { statuses, results });
            ok(json!({ "queryId": id }))
        }
        "GetQueryResults" => {
            let id = req["queryId"].as_str().unwrap_or_default().to_string();
            let Some(p) = st.pending.get_mut(&id) else {
                return error("ResourceNotFoundException", "unknown query");
            };
            let status = if p.statuses.len() > 1 {
                p.statuses.pop_front().unwrap()
            } else {
                p.statuses
                    .front()
                    .cloned()
                    .unwrap_or_else(|| "Complete".into())
            };
            let results = if status == "Complete" {
                p.results.clone()
            } else {
                json!([])
            };
            ok(json!({
                "status": status,
                "results": results,
                "statistics": {"recordsMatched": 1.0, "recordsScanned": 100.0, "bytesScanned": 4096.0}
            }))
        }
        "StopQuery" => {
            let id = req["queryId"].as_str().unwrap_or_default().to_string();
            st.stopped.push(id);
            ok(json!({"success": true}))
        }
        other => error(
            "UnknownOperationException",
            &format!("not implemented: {other}"),
        ),
    }
}

fn field(name: &str, value: impl ToString) -> Value {
    json!({"field": name, "value": value.to_string()})
}

fn insights_time(ms: i64) -> String {
    let t = jiff::Timestamp::from_millisecond(ms).unwrap();
    t.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// The aggregate the monitor's query asks for, over `[start, end]` whole seconds.
fn answer(records: &[Record], q: &Query) -> Value {
    let inside = |r: &&Record| {
        q.groups.contains(&r.group) && r.ts_ms >= q.start * 1000 && r.ts_ms < (q.end + 1) * 1000
    };
    let rows: Vec<&Record> = records.iter().filter(inside).collect();
    let mut out = Vec::new();
    if q.text.contains("min(@timestamp)") {
        // Discovery: first request and count per sha.
        let mut by: BTreeMap<&str, (i64, u64)> = BTreeMap::new();
        for r in rows
            .iter()
            .filter(|r| matches!(r.kind, Kind::Request { .. }))
        {
            let e = by.entry(&r.sha).or_insert((r.ts_ms, 0));
            e.0 = e.0.min(r.ts_ms);
            e.1 += r.count;
        }
        for (sha, (first, n)) in by {
            out.push(json!([
                field("git_sha", sha),
                field("first_seen", insights_time(first)),
                field("requests", n)
            ]));
        }
    } else if q.text.contains("errors_5xx") {
        let mut by: BTreeMap<&str, (u64, u64, BTreeSet<&str>)> = BTreeMap::new();
        for r in &rows {
            if let Kind::Request { status } = r.kind {
                let e = by.entry(&r.sha).or_default();
                e.0 += r.count;
                if status >= 500 {
                    e.1 += r.count;
                }
                e.2.insert(&r.stream);
            }
        }
        for (sha, (n, errors, streams)) in by {
            out.push(json!([
                field("git_sha", sha),
                field("requests", n),
                field("errors_5xx", errors),
                field("instances", streams.len())
            ]));
        }
    } else if q.text.contains("successes") {
        let mut by: BTreeMap<(&str, &str), (u64, u64)> = BTreeMap::new();
        for r in &rows {
            if let Kind::Event { name, success } = &r.kind {
                if !q.text.contains(&format!("\"{name}\"")) {
                    continue;
                }
                let e = by.entry((name, &r.sha)).or_default();
                e.0 += r.count;
                if *success {
                    e.1 += r.count;
                }
            }
        }
        for ((name, sha), (n, ok)) in by {
            out.push(json!([
                field("name", name),
                field("git_sha", sha),
                field("attempts", n),
                field("successes", ok)
            ]));
        }
    }
    Value::Array(out)
}
